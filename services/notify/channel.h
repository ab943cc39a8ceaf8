/*  channel: the two ways a notification leaves the building, SMS through a
    Twilio-compatible Messages API (sms.c) and email over SMTP (email.c), each a client
    that sends one message and says what became of it in one result type.

    The clients are pure transport: no database, no bus, no logging, no config. The
    sender that calls them owns the queue, the retries and the logs; it reads the
    outcome below and, for AMBIGUOUS SMS, asks notify_sms_find before sending again.

    Personal data (numbers, addresses, bodies) never goes into a result's error text, so
    the caller may log it as it is. tests/unit/test_notify_sms.c and test_notify_email.c
    are the usage examples.

    A client is not thread-safe: one per sending thread (each keeps its own connection).
*/
#ifndef NOTIFY_CHANNEL_H
#define NOTIFY_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

// --- the result of one send ------------------------------------------------------------

typedef enum {
    NOTIFY_SEND_ACCEPTED, // the provider took it: provider_id set
    NOTIFY_SEND_RETRY,    // not taken, safe to try again later (couldn't connect, 429, 5xx,
                          // 4xx before the message was sent)
    NOTIFY_SEND_REJECTED, // refused for good (invalid number, 4xx validation, SMTP 5xx for the
                          // recipient, the provider refusing our credentials)
    NOTIFY_SEND_AMBIGUOUS // the request may have been taken (timeout or connection lost after
                          // the request was written): SMS asks notify_sms_find before resending
} notify_send_outcome_t;

typedef struct {
    notify_send_outcome_t outcome;
    char provider_id[80]; // SMS: the sid; email: the Message-ID
    char status[32];      // SMS: the provider's status ("queued")
    unsigned segments;    // SMS: as the provider counted (else ours)
    int retry_after_ms;   // 429/503 Retry-After (0: none)
    long http_status;     // or the SMTP reply code (0: no reply)
    int provider_code;    // Twilio error code, 0 when none
    char error[256];      // words for a person, no personal data (no phone, address, body)
} notify_send_result_t;

// --- sms.c: a Twilio-compatible Messages API -------------------------------------------

typedef struct _notify_sms_client_t notify_sms_client_t;

//  A client of {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json, with HTTP
//  Basic auth account_sid:auth_token; each call gives up after timeout_ms. NULL when an
//  argument is missing or libcurl cannot start.
notify_sms_client_t *notify_sms_client_new(const char *base_url, const char *account_sid,
                                           const char *auth_token, int timeout_ms);
void notify_sms_client_destroy(notify_sms_client_t **self_p);

//  Send body to `to` (E.164) from `from` (E.164, an alphanumeric sender ID, or a
//  MessagingServiceSid: "MG" and 32 hex digits), the provider to POST delivery updates
//  to status_callback (NULL or "": none). 0 when ACCEPTED, else -1; *out says what
//  became of it either way.
int notify_sms_send(notify_sms_client_t *self, const char *from, const char *to, const char *body,
                    const char *status_callback, notify_send_result_t *out);

//  Resolve an AMBIGUOUS send: look for an outbound message to `to` with exactly body,
//  created since `since` (the time the ambiguous send started; two minutes of clock skew
//  allowed). 0 when the search ran to its end: ACCEPTED with the message's sid, status
//  and segments when found, RETRY when not ("not there, safe to send"). -1 when it did
//  not (the provider unreachable, 5xx, 429...): the outcome is then AMBIGUOUS (we still
//  don't know; ask again later, after retry_after_ms when set) or REJECTED (our
//  credentials refused), never RETRY, so a caller that reads only the outcome does not
//  send twice.
int notify_sms_find(notify_sms_client_t *self, const char *to, const char *body, time_t since,
                    notify_send_result_t *out);

//  Segments body takes: GSM-7 (the extension table's ^{}\[~]|€ count two septets) at 160
//  septets for a single message and 153 per part, else UCS-2 at 70 units and 67 per part
//  (a character outside the BMP is two units); a character is never split between
//  parts. Invalid UTF-8 counts as UCS-2 of its bytes. 0 for "". *ucs2 (may be NULL) says
//  which encoding.
unsigned notify_sms_segments(const char *utf8, bool *ucs2);

//  The form a send POSTs: To, From (MessagingServiceSid when from is one, "MG" + 32 hex),
//  Body and StatusCallback (when set), URL-encoded. NULL when an argument is missing.
//  Caller frees.
char *notify_sms_form(const char *from, const char *to, const char *body,
                      const char *status_callback);

//  Read the provider's reply to a send: http_status, the body (may be NULL) and the
//  Retry-After header (NULL: none), now for a Retry-After given as an HTTP date. Fills
//  *out (provider_id, status, segments when the reply has them; outcome, provider_code,
//  retry_after_ms, error). 0 when ACCEPTED, else -1.
int notify_sms_reply_parse(long http_status, const char *body, const char *retry_after, time_t now,
                           notify_send_result_t *out);

//  Read one page of a message list (the 200 reply to notify_sms_find's GET): 1 and *out
//  ACCEPTED when it holds an outbound message to `to` with exactly body created at or
//  after since, else 0 with *next_page_uri (caller frees; NULL on the last page), or -1
//  when the page is not a message list.
int notify_sms_list_parse(const char *page, const char *to, const char *body, time_t since,
                          notify_send_result_t *out, char **next_page_uri);

// --- email.c: RFC 5322 messages and SMTP ------------------------------------------------

//  One email. Addresses may be "Name <addr>" or a bare addr; every string is UTF-8.
typedef struct {
    const char *from;
    const char *to;
    const char *reply_to; // NULL or "": none
    const char *subject;
    const char *text;               // the text/plain part (required)
    const char *html;               // the text/html part; NULL or "": text only
    const char *message_id;         // "<id@domain>"; NULL or "": one is made
    const char *unsubscribe_url;    // https URL for List-Unsubscribe (+ one-click); NULL: none
    const char *unsubscribe_mailto; // address or "mailto:..." for List-Unsubscribe; NULL: none
} notify_email_t;

//  Why mail cannot be formatted ("subject: a header may not hold a line break"; it names
//  the field, never its value), or NULL when it can.
const char *notify_email_check(const notify_email_t *mail);

//  The whole message, CRLF line ends, ready for SMTP DATA: Date (now), From, To,
//  Reply-To, Subject (RFC 2047 encoded-words when not plain ASCII), Message-ID,
//  List-Unsubscribe (+ List-Unsubscribe-Post for an https URL), MIME-Version, and the
//  text (and HTML) as quoted-printable UTF-8, multipart/alternative with a random
//  boundary when there is HTML. A header value with CR or LF is refused, not stripped:
//  NULL, and notify_email_check(mail) says why. Caller frees.
char *notify_email_format(const notify_email_t *mail, time_t now);

//  A new Message-ID "<32 random hex digits@the domain of from>", or NULL when from holds
//  no valid address. Caller frees.
char *notify_email_message_id(const char *from);

//  The bare address of mailbox ("Name <addr>" or "addr") into out: printable ASCII, no
//  spaces, no CR/LF, exactly one '@' with text either side. 0, or -1 when there is none.
int notify_email_address(const char *mailbox, char *out, size_t size);

typedef struct _notify_smtp_client_t notify_smtp_client_t;

//  A client of the SMTP server at url: smtp://host:port (STARTTLS when the server offers
//  it; required when user is set, so a password never crosses in clear) or
//  smtps://host:port (TLS from the start). AUTH when user is set ("" or NULL: none).
//  verify_tls checks the server's certificate and name against ca_file (NULL or "": the
//  system's CAs). Each send gives up after timeout_ms. NULL when url is missing or
//  libcurl cannot start.
notify_smtp_client_t *notify_smtp_client_new(const char *url, const char *user,
                                             const char *password, bool verify_tls,
                                             const char *ca_file, int timeout_ms);
void notify_smtp_client_destroy(notify_smtp_client_t **self_p);

//  Send message (as notify_email_format made it) from from_address to to_address (each
//  "Name <addr>" or addr; the envelope takes the bare address). 0 when ACCEPTED (its
//  provider_id the message's Message-ID), else -1; *out says what became of it.
int notify_smtp_send(notify_smtp_client_t *self, const char *from_address, const char *to_address,
                     const char *message, notify_send_result_t *out);

#endif
