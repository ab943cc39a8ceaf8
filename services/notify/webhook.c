/*  webhook: forms, Twilio signatures, SMS keywords, link tokens and machine opens. See
    webhook.h. HMAC-SHA1 (Twilio's) comes from OpenSSL's libcrypto, since libsodium has no
    SHA-1; everything else from libsodium. */
#include "webhook.h"
#include "validate.h"

#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// --- forms ----------------------------------------------------------------------------

//  name as it can be quoted in a message: printable ASCII but quotes and backslashes,
//  the rest as '?', at most 40 bytes.
static void s_quote(const char *name, size_t len, char *out, size_t size) {
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < size; i++) {
        if (i == 40) {
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
        unsigned char c = (unsigned char)name[i];
        out[n++] = c >= 32 && c < 127 && c != '"' && c != '\\' ? (char)c : '?';
    }
    out[n] = 0;
}

static int s_hex(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

//  Decode len bytes of a form's name or value into a new string (*out, caller frees):
//  '+' is a space, %XX a byte. NULL, with why set, when it breaks a rule.
static char *s_decode(const char *in, size_t len, size_t max, char *why, size_t why_size) {
    char *out = malloc(len + 1);
    if (!out) {
        snprintf(why, why_size, "is too large to decode");
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '+')
            c = ' ';
        else if (c == '%') {
            int hi = i + 1 < len ? s_hex(in[i + 1]) : -1;
            int lo = i + 2 < len ? s_hex(in[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                char escape[8];
                s_quote(in + i, len - i < 3 ? len - i : 3, escape, sizeof escape);
                snprintf(why, why_size, "%%-escape \"%s\" is not two hex digits", escape);
                free(out);
                return NULL;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == 0) {
            snprintf(why, why_size, "contains a NUL");
            free(out);
            return NULL;
        }
        if (n == max) {
            snprintf(why, why_size, "is longer than %zu bytes", max);
            free(out);
            return NULL;
        }
        out[n++] = c;
    }
    out[n] = 0;
    if (!crm_utf8_valid(out, n)) {
        snprintf(why, why_size, "is not UTF-8");
        free(out);
        return NULL;
    }
    return out;
}

int notify_form_parse(const char *body, size_t len, notify_form_t *form,
                      char error[NOTIFY_FORM_ERROR_SIZE]) {
    memset(form, 0, sizeof *form);
    error[0] = 0;
    size_t pos = 0;
    while (body && pos < len) {
        const char *field = body + pos;
        const char *amp = memchr(field, '&', len - pos);
        size_t field_len = amp ? (size_t)(amp - field) : len - pos;
        pos += field_len + 1;
        if (field_len == 0)
            continue; // "a=1&&b=2", a trailing '&'
        const char *eq = memchr(field, '=', field_len);
        size_t name_len = eq ? (size_t)(eq - field) : field_len;
        char quoted[48], why[64];
        s_quote(field, name_len, quoted, sizeof quoted);
        if (form->count == NOTIFY_FORM_PAIRS_MAX) {
            snprintf(error, NOTIFY_FORM_ERROR_SIZE, "more than %d parameters (at \"%s\")",
                     NOTIFY_FORM_PAIRS_MAX, quoted);
            goto failed;
        }
        char *name = s_decode(field, name_len, NOTIFY_FORM_NAME_MAX, why, sizeof why);
        if (!name) {
            snprintf(error, NOTIFY_FORM_ERROR_SIZE, "parameter \"%s\": its name %s", quoted, why);
            goto failed;
        }
        if (!*name) {
            free(name);
            snprintf(error, NOTIFY_FORM_ERROR_SIZE, "parameter %zu has no name", form->count + 1);
            goto failed;
        }
        s_quote(name, strlen(name), quoted, sizeof quoted);
        const char *raw_value = eq ? eq + 1 : field + field_len;
        size_t value_len = eq ? field_len - name_len - 1 : 0;
        char *value = s_decode(raw_value, value_len, NOTIFY_FORM_VALUE_MAX, why, sizeof why);
        if (!value) {
            free(name);
            snprintf(error, NOTIFY_FORM_ERROR_SIZE, "parameter \"%s\": its value %s", quoted, why);
            goto failed;
        }
        if (form->count % 16 == 0) {
            notify_form_pair_t *pairs =
                realloc(form->pairs, (form->count + 16) * sizeof *form->pairs);
            if (!pairs) {
                free(name);
                free(value);
                snprintf(error, NOTIFY_FORM_ERROR_SIZE, "out of memory");
                goto failed;
            }
            form->pairs = pairs;
        }
        form->pairs[form->count].name = name;
        form->pairs[form->count].value = value;
        form->count++;
    }
    return 0;
failed:
    notify_form_reset(form);
    return -1;
}

void notify_form_reset(notify_form_t *form) {
    for (size_t i = 0; i < form->count; i++) {
        free(form->pairs[i].name);
        free(form->pairs[i].value);
    }
    free(form->pairs);
    memset(form, 0, sizeof *form);
}

const char *notify_form_get(const notify_form_t *form, const char *name) {
    for (size_t i = 0; i < form->count; i++)
        if (strcmp(form->pairs[i].name, name) == 0)
            return form->pairs[i].value;
    return NULL;
}

// --- Twilio's request signature -------------------------------------------------------

static int s_pair_order(const void *a, const void *b) {
    const notify_form_pair_t *x = *(const notify_form_pair_t *const *)a;
    const notify_form_pair_t *y = *(const notify_form_pair_t *const *)b;
    int by_name = strcmp(x->name, y->name);
    return by_name ? by_name : strcmp(x->value, y->value);
}

int notify_twilio_signature(const char *auth_token, const char *url, const notify_form_t *form,
                            char out[NOTIFY_TWILIO_SIGNATURE_SIZE]) {
    out[0] = 0;
    size_t n = form ? form->count : 0;
    const notify_form_pair_t **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted)
        return -1;
    for (size_t i = 0; i < n; i++)
        sorted[i] = &form->pairs[i];
    qsort(sorted, n, sizeof *sorted, s_pair_order);

    int rc = -1;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA1", 0),
                           OSSL_PARAM_construct_end()};
    unsigned char digest[20];
    size_t digest_len = 0;
    if (ctx &&
        EVP_MAC_init(ctx, (const unsigned char *)auth_token, strlen(auth_token), params) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)url, strlen(url)) == 1) {
        bool failed = false;
        for (size_t i = 0; i < n && !failed; i++) {
            if (i > 0 && s_pair_order(&sorted[i - 1], &sorted[i]) == 0)
                continue; // the same name and value again: counted once
            failed = EVP_MAC_update(ctx, (const unsigned char *)sorted[i]->name,
                                    strlen(sorted[i]->name)) != 1 ||
                     EVP_MAC_update(ctx, (const unsigned char *)sorted[i]->value,
                                    strlen(sorted[i]->value)) != 1;
        }
        if (!failed && EVP_MAC_final(ctx, digest, &digest_len, sizeof digest) == 1 &&
            digest_len == sizeof digest) {
            sodium_bin2base64(out, NOTIFY_TWILIO_SIGNATURE_SIZE, digest, sizeof digest,
                              sodium_base64_VARIANT_ORIGINAL);
            rc = 0;
        }
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    free(sorted);
    return rc;
}

//  url with its port changed as Twilio's libraries try it: the scheme's default port
//  added when it names none (add), any port removed (!add). NULL when url has no
//  http(s) authority or would not change. Caller frees.
static char *s_url_port(const char *url, bool add) {
    const char *scheme_end = strstr(url, "://");
    if (!scheme_end)
        return NULL;
    size_t scheme_len = (size_t)(scheme_end - url);
    const char *port = NULL;
    if (scheme_len == 5 && strncmp(url, "https", 5) == 0)
        port = "443";
    else if (scheme_len == 4 && strncmp(url, "http", 4) == 0)
        port = "80";
    else
        return NULL;
    const char *host = scheme_end + 3;
    size_t authority_len = strcspn(host, "/?#");
    const char *at = memchr(host, '@', authority_len);
    if (at) {
        authority_len -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    //  The port's colon: the last one, after an IPv6 literal's closing bracket.
    const char *colon = NULL;
    const char *bracket = memchr(host, ']', authority_len);
    for (const char *p = bracket ? bracket : host; p < host + authority_len; p++)
        if (*p == ':')
            colon = p;
    const char *rest = host + authority_len;
    char *out = NULL;
    if (add && !colon) {
        size_t head = (size_t)(rest - url);
        out = malloc(strlen(url) + strlen(port) + 2);
        if (out)
            sprintf(out, "%.*s:%s%s", (int)head, url, port, rest);
    } else if (!add && colon) {
        size_t head = (size_t)(colon - url);
        out = malloc(strlen(url) + 1);
        if (out)
            sprintf(out, "%.*s%s", (int)head, url, rest);
    }
    return out;
}

//  1 when header_value is the signature for url, else 0, without branching on secrets.
static int s_signature_matches(const char *auth_token, const char *url, const notify_form_t *form,
                               const char *header_value) {
    char expected[NOTIFY_TWILIO_SIGNATURE_SIZE];
    if (!url || notify_twilio_signature(auth_token, url, form, expected) != 0)
        return 0;
    return sodium_memcmp(expected, header_value, NOTIFY_TWILIO_SIGNATURE_SIZE - 1) == 0;
}

bool notify_twilio_verify(const char *auth_token, const char *url, const notify_form_t *form,
                          const char *header_value) {
    if (!auth_token || !*auth_token || !url || !header_value ||
        strlen(header_value) != NOTIFY_TWILIO_SIGNATURE_SIZE - 1)
        return false;
    char *with_port = s_url_port(url, true);
    char *without_port = s_url_port(url, false);
    int ok = s_signature_matches(auth_token, url, form, header_value) |
             s_signature_matches(auth_token, with_port, form, header_value) |
             s_signature_matches(auth_token, without_port, form, header_value);
    free(with_port);
    free(without_port);
    return ok == 1;
}

// --- inbound SMS keywords -------------------------------------------------------------

//  The keywords, in upper case: what carriers and Twilio's Advanced Opt-Out honour.
static const struct {
    const char *word;
    notify_keyword_t keyword;
} s_keywords[] = {
    {"STOP", NOTIFY_KEYWORD_OPT_OUT},        {"STOPALL", NOTIFY_KEYWORD_OPT_OUT},
    {"UNSUBSCRIBE", NOTIFY_KEYWORD_OPT_OUT}, {"CANCEL", NOTIFY_KEYWORD_OPT_OUT},
    {"END", NOTIFY_KEYWORD_OPT_OUT},         {"QUIT", NOTIFY_KEYWORD_OPT_OUT},
    {"REVOKE", NOTIFY_KEYWORD_OPT_OUT},      {"OPTOUT", NOTIFY_KEYWORD_OPT_OUT},
    {"START", NOTIFY_KEYWORD_OPT_IN},        {"YES", NOTIFY_KEYWORD_OPT_IN},
    {"UNSTOP", NOTIFY_KEYWORD_OPT_IN},       {"HELP", NOTIFY_KEYWORD_HELP},
    {"INFO", NOTIFY_KEYWORD_HELP},
};

#define S_KEYWORD_MAX 16 // longer than any keyword

static bool s_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

notify_keyword_t notify_sms_keyword(const char *body) {
    if (!body)
        return NOTIFY_KEYWORD_NONE;
    const char *start = body;
    while (s_space(*start))
        start++;
    size_t len = strlen(start);
    while (len > 0 && s_space(start[len - 1]))
        len--;
    if (len == 0 || len >= S_KEYWORD_MAX)
        return NOTIFY_KEYWORD_NONE;
    char upper[S_KEYWORD_MAX];
    for (size_t i = 0; i < len; i++) {
        char c = start[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (c < 'A' || c > 'Z')
            return NOTIFY_KEYWORD_NONE; // a digit, a space inside, any non-ASCII byte
        upper[i] = c;
    }
    upper[len] = 0;
    for (size_t i = 0; i < sizeof s_keywords / sizeof s_keywords[0]; i++)
        if (strcmp(upper, s_keywords[i].word) == 0)
            return s_keywords[i].keyword;
    return NOTIFY_KEYWORD_NONE;
}

// --- signed link tokens ---------------------------------------------------------------

//  The payload: version, kind, tenant length, tenant, message id (16 bytes), link index
//  (LEB128 varint, 1 to 5 bytes). Then the tag.
#define S_TOKEN_VERSION 1
#define S_PAYLOAD_MIN (3 + 1 + 16 + 1)
#define S_PAYLOAD_MAX (3 + NOTIFY_TOKEN_TENANT_MAX + 16 + 5)
#define S_TOKEN_BYTES_MAX (S_PAYLOAD_MAX + NOTIFY_TOKEN_TAG_BYTES)
#define S_TOKEN_TEXT_MAX (S_TOKEN_BYTES_MAX * 4 / 3 + 2)

static bool s_kind_ok(char kind) {
    return kind == NOTIFY_TOKEN_UNSUBSCRIBE || kind == NOTIFY_TOKEN_OPEN ||
           kind == NOTIFY_TOKEN_CLICK;
}

//  "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" (either case) into 16 bytes.
static int s_uuid_parse(const char *text, unsigned char out[16]) {
    if (!text || strlen(text) != 36)
        return -1;
    int n = 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return -1;
            continue;
        }
        int hi = s_hex(text[i]), lo = i + 1 < 36 ? s_hex(text[i + 1]) : -1;
        if (hi < 0 || lo < 0)
            return -1;
        out[n++] = (unsigned char)(hi * 16 + lo);
        i++;
    }
    return n == 16 ? 0 : -1;
}

static void s_uuid_format(const unsigned char in[16], char out[NOTIFY_UUID_SIZE]) {
    snprintf(out, NOTIFY_UUID_SIZE,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", in[0], in[1],
             in[2], in[3], in[4], in[5], in[6], in[7], in[8], in[9], in[10], in[11], in[12], in[13],
             in[14], in[15]);
}

char *notify_token_make(const unsigned char key[NOTIFY_TOKEN_KEY_BYTES], char kind,
                        const char *tenant, const char *message_id, uint32_t link_index) {
    size_t tenant_len = tenant ? strlen(tenant) : 0;
    unsigned char bytes[S_TOKEN_BYTES_MAX];
    if (!key || !s_kind_ok(kind) || tenant_len == 0 || tenant_len > NOTIFY_TOKEN_TENANT_MAX ||
        s_uuid_parse(message_id, bytes + 3 + tenant_len) != 0)
        return NULL;
    bytes[0] = S_TOKEN_VERSION;
    bytes[1] = (unsigned char)kind;
    bytes[2] = (unsigned char)tenant_len;
    memcpy(bytes + 3, tenant, tenant_len);
    size_t n = 3 + tenant_len + 16;
    do {
        bytes[n++] = (unsigned char)((link_index & 0x7f) | (link_index > 0x7f ? 0x80 : 0));
        link_index >>= 7;
    } while (link_index);
    unsigned char tag[crypto_auth_BYTES];
    crypto_auth(tag, bytes, n, key);
    memcpy(bytes + n, tag, NOTIFY_TOKEN_TAG_BYTES);
    n += NOTIFY_TOKEN_TAG_BYTES;
    size_t text_size = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *text = malloc(text_size);
    if (text)
        sodium_bin2base64(text, text_size, bytes, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return text;
}

int notify_token_read(const unsigned char key[NOTIFY_TOKEN_KEY_BYTES], const char *token,
                      char *kind, char tenant[NOTIFY_TOKEN_TENANT_MAX + 1],
                      char message_id[NOTIFY_UUID_SIZE], uint32_t *link_index) {
    if (!key || !token)
        return -1;
    size_t len = strlen(token);
    //  The alphabet checked here: libsodium 1.0.18 decodes some bytes above 0x7f as '_',
    //  which would give a token a second spelling.
    if (len > S_TOKEN_TEXT_MAX ||
        strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != len)
        return -1;
    unsigned char bytes[S_TOKEN_BYTES_MAX];
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(bytes, sizeof bytes, token, len, NULL, &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != token + len || n < S_PAYLOAD_MIN + NOTIFY_TOKEN_TAG_BYTES)
        return -1;
    //  The tag first: nothing unauthenticated is read.
    size_t payload_len = n - NOTIFY_TOKEN_TAG_BYTES;
    unsigned char tag[crypto_auth_BYTES];
    crypto_auth(tag, bytes, payload_len, key);
    if (sodium_memcmp(tag, bytes + payload_len, NOTIFY_TOKEN_TAG_BYTES) != 0)
        return -1;
    size_t tenant_len = bytes[2];
    if (bytes[0] != S_TOKEN_VERSION || !s_kind_ok((char)bytes[1]) || tenant_len == 0 ||
        tenant_len > NOTIFY_TOKEN_TENANT_MAX || 3 + tenant_len + 16 + 1 > payload_len ||
        memchr(bytes + 3, 0, tenant_len))
        return -1;
    size_t pos = 3 + tenant_len + 16;
    uint64_t index = 0;
    int shift = 0;
    for (;;) {
        if (pos == payload_len || shift > 28)
            return -1;
        unsigned char b = bytes[pos++];
        index |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            //  The shortest form only (no trailing zero groups), and the whole payload.
            if ((b == 0 && shift > 7) || pos != payload_len || index > UINT32_MAX)
                return -1;
            break;
        }
    }
    *kind = (char)bytes[1];
    memcpy(tenant, bytes + 3, tenant_len);
    tenant[tenant_len] = 0;
    s_uuid_format(bytes + 3 + tenant_len, message_id);
    *link_index = (uint32_t)index;
    return 0;
}

// --- machine opens --------------------------------------------------------------------

typedef enum {
    S_EXACT,    // the whole User-Agent
    S_CONTAINS, // anywhere in it (ASCII letters in any case)
    S_ENDS,     // at its end
} s_match_t;

//  Who fetches pixels and follows links that is no person, and where we learnt it.
static const struct {
    const char *pattern;
    s_match_t match;
    const char *source;
} s_machine_agents[] = {
    //  Apple Mail Privacy Protection prefetches every image on delivery through Apple's
    //  proxies with a bare "Mozilla/5.0" (Mailgun, "Privacy, automatic engagements, and
    //  Mailgun's bot detection"; Validity Everest "Apple Privacy Proxy").
    {"Mozilla/5.0", S_EXACT, "Apple Mail Privacy Protection"},
    //  Gmail's image proxy: "... (via ggpht.com GoogleImageProxy)" (Validity, Mailgun).
    {"GoogleImageProxy", S_CONTAINS, "Gmail image proxy"},
    //  Gmail's prefetch for a signed-in recipient: an old Edge UA with " Mozilla/5.0"
    //  appended (SparkPost/Bird, "Gmail is prefetching images").
    {"Edge/12.246 Mozilla/5.0", S_ENDS, "Gmail prefetch"},
    //  Yahoo Mail and AOL cache images through "YahooMailProxy; https://help.yahoo.com/kb/
    //  yahoo-mail-proxy-SLN28749.html" (Validity Everest "Yahoo Proxy").
    {"YahooMailProxy", S_CONTAINS, "Yahoo/AOL mail proxy"},
    //  Microsoft Office apps and Safe Links check that a link exists before opening it
    //  (HEAD or GET with these agents). A bare "Microsoft Office/16.0 (... Microsoft
    //  Outlook ...)" is Outlook desktop showing the message to its reader: a person, not
    //  listed.
    {"Microsoft Office Existence Discovery", S_CONTAINS, "Office link check"},
    {"Microsoft Office Protocol Discovery", S_CONTAINS, "Office link check"},
    //  Outlook.com and Microsoft's link previews fetch with BingPreview.
    {"BingPreview", S_CONTAINS, "Outlook.com / Bing link preview"},
    //  Secure email gateways that rewrite and scan every link (the vendors' URL
    //  protection: Barracuda Link Protection, Mimecast URL Protect, Proofpoint URL Defense).
    {"Barracuda", S_CONTAINS, "Barracuda Link Protection"},
    {"Mimecast", S_CONTAINS, "Mimecast URL Protect"},
    {"Proofpoint", S_CONTAINS, "Proofpoint URL Defense"},
};

static char s_lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool s_same_at(const char *text, const char *pattern, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s_lower(text[i]) != s_lower(pattern[i]))
            return false;
    return true;
}

static bool s_agent_matches(const char *agent, const char *pattern, s_match_t match) {
    size_t len = strlen(agent), plen = strlen(pattern);
    if (plen > len)
        return false;
    switch (match) {
    case S_EXACT:
        return strcmp(agent, pattern) == 0;
    case S_ENDS:
        return s_same_at(agent + len - plen, pattern, plen);
    case S_CONTAINS:
        for (size_t i = 0; i + plen <= len; i++)
            if (s_same_at(agent + i, pattern, plen))
                return true;
        return false;
    }
    return false;
}

bool notify_machine_open(const char *user_agent, int64_t seconds_since_delivery) {
    if (seconds_since_delivery >= 0 && seconds_since_delivery <= NOTIFY_MACHINE_OPEN_SECONDS)
        return true;
    if (!user_agent || !*user_agent)
        return true; // every mail client and browser names itself
    for (size_t i = 0; i < sizeof s_machine_agents / sizeof s_machine_agents[0]; i++)
        if (s_agent_matches(user_agent, s_machine_agents[i].pattern, s_machine_agents[i].match))
            return true;
    return false;
}
