/*  apikey: key format and hashing. See apikey.h. */
#include "apikey.h"
#include "ids.h"

#include <sodium.h>
#include <string.h>

void crm_apikey_generate(char *out) {
    unsigned char raw[32];
    crm_random_bytes(raw, sizeof raw);
    memcpy(out, "crm_", 4);
    sodium_bin2base64(out + 4, CRM_APIKEY_LEN - 4 + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void crm_apikey_hash(const char *key, const unsigned char *secret, char *out) {
    unsigned char hash[32];
    crypto_generichash(hash, sizeof hash, (const unsigned char *)key, strlen(key), secret,
                       secret ? CRM_APIKEY_SECRET_LEN : 0);
    sodium_bin2hex(out, CRM_APIKEY_HASH_LEN + 1, hash, sizeof hash);
}

int crm_apikey_secret_parse(const char *text, unsigned char *secret) {
    if (!text || !*text)
        return 1;
    size_t length = 0;
    if (strlen(text) != 2 * CRM_APIKEY_SECRET_LEN ||
        sodium_hex2bin(secret, CRM_APIKEY_SECRET_LEN, text, strlen(text), NULL, &length, NULL) ||
        length != CRM_APIKEY_SECRET_LEN)
        return -1;
    return 0;
}

bool crm_apikey_well_formed(const char *key) {
    if (strlen(key) != CRM_APIKEY_LEN || strncmp(key, "crm_", 4) != 0)
        return false;
    for (const char *p = key + 4; *p; p++)
        if (!(('A' <= *p && *p <= 'Z') || ('a' <= *p && *p <= 'z') || ('0' <= *p && *p <= '9') ||
              *p == '-' || *p == '_'))
            return false;
    return true;
}

bool crm_role_valid(const char *role) {
    static const char *roles[] = {"admin", "manager", "sales", "analyst", "integration", NULL};
    for (const char **r = roles; *r; r++)
        if (strcmp(*r, role) == 0)
            return true;
    return false;
}
