/*  webhook: the pure parts of notify's keyless endpoints (the gateway's raw routes: SMS
    provider webhooks, one-click unsubscribe, open and click tracking). No database, no
    bus: form bodies in, verdicts out.

    - notify_form_parse: an application/x-www-form-urlencoded body into its fields;
    - notify_twilio_signature / notify_twilio_verify: X-Twilio-Signature;
    - notify_sms_keyword: STOP, START, HELP and their synonyms in an inbound SMS;
    - notify_token_make / notify_token_read: the signed token of an unsubscribe, open or
      click link (it names the tenant and the message: a keyless request finds its
      tenant there);
    - notify_machine_open: an open made by a mail proxy or a link scanner, not a person.

    tests/unit/test_notify_webhook.c shows each in use.
*/
#ifndef NOTIFY_WEBHOOK_H
#define NOTIFY_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// --- forms ----------------------------------------------------------------------------

#define NOTIFY_FORM_PAIRS_MAX 200   // fields in one body
#define NOTIFY_FORM_NAME_MAX 256    // bytes of a field's name, decoded
#define NOTIFY_FORM_VALUE_MAX 16384 // bytes of a field's value, decoded

typedef struct {
    char *name;  // decoded, UTF-8, NUL-free
    char *value; // decoded, UTF-8, NUL-free ("" for "name" or "name=")
} notify_form_pair_t;

//  A form's fields in the order sent, duplicates kept (owned; notify_form_reset frees).
typedef struct {
    notify_form_pair_t *pairs;
    size_t count;
} notify_form_t;

#define NOTIFY_FORM_ERROR_SIZE 192

//  Parse an application/x-www-form-urlencoded body (len bytes, not NUL-terminated): fields
//  split at '&' (empty ones skipped), name and value at the first '=', '+' read as a
//  space and %XX decoded. 0 with *form filled, or -1 with *form empty and error set to a
//  message naming the field: an invalid percent-escape, a NUL, text that is not UTF-8, a
//  field without a name, or a limit above broken ("parameter \"Body\": %-escape \"%G1\" is
//  not two hex digits").
int notify_form_parse(const char *body, size_t len, notify_form_t *form,
                      char error[NOTIFY_FORM_ERROR_SIZE]);

void notify_form_reset(notify_form_t *form);

//  The value of the first field called name, or NULL.
const char *notify_form_get(const notify_form_t *form, const char *name);

// --- Twilio's request signature -------------------------------------------------------

#define NOTIFY_TWILIO_SIGNATURE_SIZE 29 // Base64 of 20 bytes, and its NUL

//  X-Twilio-Signature of a request: Base64 (standard, padded) of HMAC-SHA1 keyed with the
//  account's auth token over the URL Twilio called (scheme, host, path and query, as
//  configured there) followed by each form field's name and value, sorted by name and
//  then by value (byte order), a name and value sent twice counted once -- as Twilio's
//  libraries do (twilio-python RequestValidator.compute_signature). 0, or -1 when the
//  MAC cannot be computed.
int notify_twilio_signature(const char *auth_token, const char *url, const notify_form_t *form,
                            char out[NOTIFY_TWILIO_SIGNATURE_SIZE]);

//  Whether header_value is the request's signature, compared in constant time. Like
//  Twilio's libraries it also accepts the signature over url with its default port added
//  (https://host:443/...) or removed, since Twilio signs the URL as configured there.
//  NULL or empty header_value, or an empty auth_token: false.
bool notify_twilio_verify(const char *auth_token, const char *url, const notify_form_t *form,
                          const char *header_value);

// --- inbound SMS keywords -------------------------------------------------------------

typedef enum {
    NOTIFY_KEYWORD_NONE,
    NOTIFY_KEYWORD_OPT_OUT, // STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT
    NOTIFY_KEYWORD_OPT_IN,  // START, YES, UNSTOP
    NOTIFY_KEYWORD_HELP,    // HELP, INFO
} notify_keyword_t;

//  The keyword an inbound SMS is: the whole message, without the spaces around it, in any
//  case. Only ASCII letters are folded (no locale: a Turkish 'I' stays 'I'), so text with
//  any other character ("ſtop", "ＳＴＯＰ") is no keyword, and neither is "stop please".
notify_keyword_t notify_sms_keyword(const char *body);

// --- signed link tokens ---------------------------------------------------------------

#define NOTIFY_TOKEN_KEY_BYTES 32
#define NOTIFY_TOKEN_TENANT_MAX 64 // bytes of a tenant id
#define NOTIFY_TOKEN_TAG_BYTES 16  // the HMAC-SHA512-256 tag, truncated to 128 bits
#define NOTIFY_UUID_SIZE 37        // "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" and its NUL

//  The kinds of link.
#define NOTIFY_TOKEN_UNSUBSCRIBE 'u'
#define NOTIFY_TOKEN_OPEN 'o'
#define NOTIFY_TOKEN_CLICK 'c'

//  A link's token: base64url without padding of a compact payload (version, kind, tenant,
//  the message id as 16 bytes, the link's index as a varint) and its crypto_auth tag
//  (HMAC-SHA512-256 under key) truncated to 16 bytes. 62 characters for a 10-byte tenant
//  and a link index below 128, 139 at most. The kind is signed: a reader checks it is
//  the kind its endpoint takes (an open's token must not unsubscribe). NULL when an argument is
//  invalid (kind, a tenant empty or longer than NOTIFY_TOKEN_TENANT_MAX, message_id not a UUID).
//  Caller frees.
char *notify_token_make(const unsigned char key[NOTIFY_TOKEN_KEY_BYTES], char kind,
                        const char *tenant, const char *message_id, uint32_t link_index);

//  Read a token made under key: 0 with *kind, tenant, message_id (lower-case UUID) and
//  *link_index, or -1 (outputs untouched) for anything not made by notify_token_make
//  under this key: a bad length or character, a wrong tag (compared in constant time), a
//  malformed payload.
int notify_token_read(const unsigned char key[NOTIFY_TOKEN_KEY_BYTES], const char *token,
                      char *kind, char tenant[NOTIFY_TOKEN_TENANT_MAX + 1],
                      char message_id[NOTIFY_UUID_SIZE], uint32_t *link_index);

// --- machine opens --------------------------------------------------------------------

#define NOTIFY_MACHINE_OPEN_SECONDS 2 // an open this soon after delivery is no person's

//  Whether an open (or click) was a machine's: a mail provider's image proxy prefetching,
//  a security gateway scanning links (the User-Agent table in webhook.c), no User-Agent at
//  all, or within NOTIFY_MACHINE_OPEN_SECONDS of delivery. seconds_since_delivery < 0:
//  the delivery time is unknown (only the User-Agent counts).
bool notify_machine_open(const char *user_agent, int64_t seconds_since_delivery);

#endif
