/*  libFuzzer target for notify's keyless input (services/notify/webhook.c): arbitrary
    bytes as a webhook's form body and as a link token.

    The form parser either returns fields or refuses with a message, never both: every
    field has a name, both are UTF-8 without NULs within the limits, at most
    NOTIFY_FORM_PAIRS_MAX of them; encoded again (every byte %XX) and parsed, the same
    fields come back in the same order. Their Twilio signature is 28 characters of Base64
    that notify_twilio_verify accepts, and a signature one character off it refuses.

    The token reader refuses what notify_token_make did not make under the key; what it
    accepts is exactly what notify_token_make gives for the fields it read (one text per
    token: no second spelling of a valid token). Tokens made from fields the input picks
    read back as made. Keyword and machine-open checks run on the input too (no crash,
    no reads out of bounds).
*/
#include "../../services/notify/webhook.h"
#include "validate.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char s_key[NOTIFY_TOKEN_KEY_BYTES] = "fuzz-key-fuzz-key-fuzz-key-fuzz-";

static void s_check(int condition, const char *what) {
    if (!condition) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static void s_form(const uint8_t *data, size_t size) {
    notify_form_t form;
    char error[NOTIFY_FORM_ERROR_SIZE];
    int rc = notify_form_parse((const char *)data, size, &form, error);
    if (rc != 0) {
        s_check(rc == -1, "parse returned neither 0 nor -1");
        s_check(form.count == 0 && !form.pairs, "a refused form has fields");
        s_check(error[0] != 0 && strlen(error) < NOTIFY_FORM_ERROR_SIZE, "a refusal says nothing");
        return;
    }
    s_check(form.count <= NOTIFY_FORM_PAIRS_MAX, "more fields than the limit");
    size_t encoded_size = 1;
    for (size_t i = 0; i < form.count; i++) {
        size_t n = strlen(form.pairs[i].name), v = strlen(form.pairs[i].value);
        s_check(n > 0 && n <= NOTIFY_FORM_NAME_MAX, "a name outside its limits");
        s_check(v <= NOTIFY_FORM_VALUE_MAX, "a value over its limit");
        s_check(crm_utf8_valid(form.pairs[i].name, n) && crm_utf8_valid(form.pairs[i].value, v),
                "a field is not UTF-8");
        encoded_size += (n + v) * 3 + 2;
    }
    //  Encode every byte as %XX and parse again: the same fields.
    char *encoded = malloc(encoded_size);
    size_t len = 0;
    for (size_t i = 0; i < form.count; i++) {
        if (i)
            encoded[len++] = '&';
        for (const char *p = form.pairs[i].name; *p; p++)
            len += (size_t)sprintf(encoded + len, "%%%02X", (unsigned char)*p);
        encoded[len++] = '=';
        for (const char *p = form.pairs[i].value; *p; p++)
            len += (size_t)sprintf(encoded + len, "%%%02x", (unsigned char)*p);
    }
    notify_form_t again;
    s_check(notify_form_parse(encoded, len, &again, error) == 0, "the encoded form is refused");
    s_check(again.count == form.count, "the encoded form has other fields");
    for (size_t i = 0; i < form.count; i++)
        s_check(strcmp(again.pairs[i].name, form.pairs[i].name) == 0 &&
                    strcmp(again.pairs[i].value, form.pairs[i].value) == 0,
                "a field changed on the way back");
    notify_form_reset(&again);
    free(encoded);

    char signature[NOTIFY_TWILIO_SIGNATURE_SIZE];
    const char *url = "https://crm.example/v1/webhooks/sms/inbound?x=1";
    s_check(notify_twilio_signature("token", url, &form, signature) == 0, "no signature");
    s_check(strlen(signature) == NOTIFY_TWILIO_SIGNATURE_SIZE - 1, "a signature of another size");
    s_check(notify_twilio_verify("token", url, &form, signature), "its own signature refused");
    signature[5] = signature[5] == 'A' ? 'B' : 'A';
    s_check(!notify_twilio_verify("token", url, &form, signature), "a wrong signature accepted");
    notify_form_reset(&form);
}

static void s_token(const char *text, const uint8_t *data, size_t size) {
    char kind, tenant[NOTIFY_TOKEN_TENANT_MAX + 1], message[NOTIFY_UUID_SIZE];
    uint32_t index;
    if (notify_token_read(s_key, text, &kind, tenant, message, &index) == 0) {
        char *made = notify_token_make(s_key, kind, tenant, message, index);
        s_check(made && strcmp(made, text) == 0, "an accepted token is not the one made");
        free(made);
    }
    //  Fields from the input: kind, index, a tenant of printable bytes, a message id.
    if (size < 8)
        return;
    const char kinds[] = {NOTIFY_TOKEN_UNSUBSCRIBE, NOTIFY_TOKEN_OPEN, NOTIFY_TOKEN_CLICK};
    char want_kind = kinds[data[0] % 3];
    uint32_t want_index = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
                          (uint32_t)data[4] << 24;
    size_t tenant_len = 1 + data[5] % NOTIFY_TOKEN_TENANT_MAX;
    char want_tenant[NOTIFY_TOKEN_TENANT_MAX + 1];
    for (size_t i = 0; i < tenant_len; i++)
        want_tenant[i] = (char)(33 + data[(6 + i) % size] % 94);
    want_tenant[tenant_len] = 0;
    char want_message[NOTIFY_UUID_SIZE];
    snprintf(want_message, sizeof want_message, "%02x%02x%02x%02x-0000-7000-8000-%012x", data[6],
             data[7], data[size - 1], data[size / 2], (unsigned)size);
    char *made = notify_token_make(s_key, want_kind, want_tenant, want_message, want_index);
    s_check(made != NULL, "a token of valid fields not made");
    s_check(strlen(made) <= 139, "a token longer than 139");
    s_check(notify_token_read(s_key, made, &kind, tenant, message, &index) == 0,
            "a made token refused");
    s_check(kind == want_kind && index == want_index && strcmp(tenant, want_tenant) == 0 &&
                strcmp(message, want_message) == 0,
            "a token read back other fields");
    free(made);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    s_form(data, size);
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    s_token(text, data, size);
    notify_keyword_t keyword = notify_sms_keyword(text);
    s_check(keyword >= NOTIFY_KEYWORD_NONE && keyword <= NOTIFY_KEYWORD_HELP, "a keyword unknown");
    notify_machine_open(text, (int64_t)size - 3);
    free(text);
    return 0;
}
