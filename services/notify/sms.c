/*  sms: a client of a Twilio-compatible Messages API. notify_sms_send POSTs one message
    to {base}/2010-04-01/Accounts/{AccountSid}/Messages.json and reads the reply into a
    notify_send_result_t; notify_sms_find lists the day's messages to one number to learn
    whether an AMBIGUOUS send was taken after all. One libcurl easy handle per client keeps
    the provider's connection alive between calls (TLS set up once, not per message).

    The replies' parsers (notify_sms_reply_parse, notify_sms_list_parse) and the form
    (notify_sms_form) are separate functions so the tests and tests/fuzz/fuzz_sms_reply.c
    can feed them directly. Segment counting (notify_sms_segments) is here too: it is what
    the provider bills, and what a preview shows before anything is sent.

    The provider's error "message" is never copied into a result: it quotes the number
    ("The 'To' number +1... is not a valid phone number"). The words come from our tables.
*/
#include "channel.h"
#include "validate.h"

#include <curl/curl.h>
#include <jansson.h>

#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_REPLY_MAX (4 * 1024 * 1024) // bytes of a reply kept; a list page is ~100 KiB
#define S_FIND_PAGE_SIZE 100          // messages per page of a find
#define S_FIND_PAGES_MAX 10           // pages a find reads before it gives up (still unknown)
#define S_FIND_SKEW_S 120             // our clock against the provider's, either way
#define S_RETRY_AFTER_MAX_S 86400     // a longer Retry-After is taken as a day

struct _notify_sms_client_t {
    CURL *curl;                 // one handle: its connection is kept between calls
    struct curl_slist *headers; // Accept, and no "Expect: 100-continue"
    char *base_url;             // without a trailing '/': a list's next page hangs off it
    char *messages_url;         // {base}/2010-04-01/Accounts/{sid}/Messages.json
    char *reply;                // the last reply's body, NUL-terminated
    size_t reply_len;
    int attempts; // requests libcurl began in the current call
    bool once;    // the current call may not be sent twice (a POST)
};

// --- segments ---------------------------------------------------------------------------

//  The characters of the GSM 03.38 basic set outside ASCII (the ASCII ones are all but
//  those in s_gsm_not_basic). Each is one septet.
static const unsigned s_gsm_basic_latin_greek[] = {
    0x00A3, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, 0x00F2, 0x00C7, 0x00D8, 0x00F8,
    0x00C5, 0x00E5, 0x0394, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8, 0x03A3,
    0x0398, 0x039E, 0x00C6, 0x00E6, 0x00DF, 0x00C9, 0x00A4, 0x00A1, 0x00C4, 0x00D6,
    0x00D1, 0x00DC, 0x00A7, 0x00BF, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
};
//  Printable ASCII that is not in the basic set: the extension table's (two septets:
//  escape and the character) and the backtick (not GSM at all).
static const char s_gsm_extension_ascii[] = "^{}\\[~]|";

//  Septets code point c takes in GSM-7: 1, 2 (the extension table), or 0 when it has no
//  GSM-7 form.
static unsigned s_gsm_septets(unsigned c) {
    if (c == '\n' || c == '\r')
        return 1;
    if (c >= 0x20 && c < 0x7F) {
        if (c == '`')
            return 0;
        return strchr(s_gsm_extension_ascii, (int)c) ? 2 : 1;
    }
    if (c == 0x20AC) // the euro sign
        return 2;
    for (size_t i = 0; i < sizeof s_gsm_basic_latin_greek / sizeof *s_gsm_basic_latin_greek; i++)
        if (s_gsm_basic_latin_greek[i] == c)
            return 1;
    return 0;
}

//  The code point of the valid UTF-8 character of width bytes at s.
static unsigned s_code_point(const unsigned char *s, size_t width) {
    static const unsigned char lead_mask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    unsigned c = s[0] & lead_mask[width];
    for (size_t i = 1; i < width; i++)
        c = (c << 6) | (s[i] & 0x3F);
    return c;
}

//  Parts needed for the characters of s (units or septets as ucs2 says), per_part at most
//  a character never split between two parts.
static unsigned s_parts(const char *s, size_t len, bool ucs2, unsigned per_part) {
    unsigned parts = 1, used = 0;
    for (size_t at = 0; at < len;) {
        size_t width = crm_utf8_char_len(s + at, len - at);
        unsigned c = s_code_point((const unsigned char *)s + at, width);
        unsigned units = ucs2 ? (c > 0xFFFF ? 2 : 1) : s_gsm_septets(c);
        if (used + units > per_part) {
            parts++;
            used = 0;
        }
        used += units;
        at += width;
    }
    return parts;
}

unsigned notify_sms_segments(const char *utf8, bool *ucs2) {
    size_t len = utf8 ? strlen(utf8) : 0;
    bool wide = false;
    if (len > 0 && !crm_utf8_valid(utf8, len)) {
        //  Bytes we cannot read: each is sent as one UCS-2 unit at best.
        if (ucs2)
            *ucs2 = true;
        return len <= 70 ? 1 : (unsigned)((len + 66) / 67);
    }
    size_t septets = 0, units = 0;
    for (size_t at = 0; at < len;) {
        size_t width = crm_utf8_char_len(utf8 + at, len - at);
        unsigned c = s_code_point((const unsigned char *)utf8 + at, width);
        unsigned gsm = s_gsm_septets(c);
        wide = wide || gsm == 0;
        septets += gsm;
        units += c > 0xFFFF ? 2 : 1;
        at += width;
    }
    if (ucs2)
        *ucs2 = wide;
    if (len == 0)
        return 0;
    if (wide)
        return units <= 70 ? 1 : s_parts(utf8, len, true, 67);
    return septets <= 160 ? 1 : s_parts(utf8, len, false, 153);
}

// --- the form ------------------------------------------------------------------------------

char *notify_sms_form(const char *from, const char *to, const char *body,
                      const char *status_callback) {
    if (!from || !to || !body)
        return NULL;
    //  A Messaging Service picks the sending number itself (and its opt-out handling). Its
    //  sid is "MG" and 32 hex digits; an alphanumeric sender ID such as "MGMOTORS" is a From.
    bool service = strncmp(from, "MG", 2) == 0 && strlen(from) == 34 &&
                   strspn(from + 2, "0123456789abcdefABCDEF") == 32;
    const struct {
        const char *name, *value;
    } fields[] = {
        {"To", to},
        {service ? "MessagingServiceSid" : "From", from},
        {"Body", body},
        {"StatusCallback", status_callback && *status_callback ? status_callback : NULL},
    };
    char *form = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&form, &size);
    if (!out)
        return NULL;
    bool first = true, failed = false;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if (!fields[i].value)
            continue;
        char *escaped = curl_easy_escape(NULL, fields[i].value, 0);
        if (!escaped) {
            failed = true;
            break;
        }
        fprintf(out, "%s%s=%s", first ? "" : "&", fields[i].name, escaped);
        curl_free(escaped);
        first = false;
    }
    if (fclose(out) != 0 || failed) {
        free(form);
        return NULL;
    }
    return form;
}

// --- the replies ----------------------------------------------------------------------------

//  The provider's error codes we put into words, and the outcome each means when it comes
//  with a 4xx (an unknown code keeps its status's outcome). Codes: the provider's error
//  dictionary.
static const struct {
    int code;
    notify_send_outcome_t outcome;
    const char *words;
} s_provider_codes[] = {
    {20003, NOTIFY_SEND_REJECTED,
     "the provider refused our credentials (check notify.sms_account_sid and sms_auth_token)"},
    {20429, NOTIFY_SEND_RETRY, "the provider asks us to slow down"},
    {21211, NOTIFY_SEND_REJECTED, "the recipient's number is not a valid phone number"},
    {21408, NOTIFY_SEND_REJECTED, "the account may not send to the recipient's region"},
    {21602, NOTIFY_SEND_REJECTED, "the message body is empty"},
    {21606, NOTIFY_SEND_REJECTED, "the sending number cannot send SMS (check notify.sms_from)"},
    {21610, NOTIFY_SEND_REJECTED, "the recipient has opted out (replied STOP)"},
    {21611, NOTIFY_SEND_RETRY, "the sending number's queue is full"},
    {21612, NOTIFY_SEND_REJECTED, "the provider cannot reach the recipient's number by SMS"},
    {21614, NOTIFY_SEND_REJECTED, "the recipient's number is not a mobile number"},
    {21617, NOTIFY_SEND_REJECTED, "the message body is longer than 1600 characters"},
};

//  What an HTTP status means for a send, first match wins. 502 and 504 come from a proxy
//  in front of the provider that may have passed our request on before failing: the
//  provider may have the message. A 500 or 503 is the provider's own answer that it did
//  not take it.
static const struct {
    long low, high;
    notify_send_outcome_t outcome;
    const char *words;
} s_statuses[] = {
    {401, 401, NOTIFY_SEND_REJECTED,
     "the provider refused our credentials (check notify.sms_account_sid and sms_auth_token)"},
    {403, 403, NOTIFY_SEND_REJECTED,
     "the provider refused our account access (check notify.sms_account_sid and sms_auth_token)"},
    {408, 408, NOTIFY_SEND_RETRY, "the provider gave up waiting for our request"},
    {429, 429, NOTIFY_SEND_RETRY, "the provider asks us to slow down"},
    {400, 499, NOTIFY_SEND_REJECTED, "the provider refused the message"},
    {502, 502, NOTIFY_SEND_AMBIGUOUS,
     "a gateway in front of the provider failed; the provider may have taken the message"},
    {504, 504, NOTIFY_SEND_AMBIGUOUS,
     "a gateway in front of the provider timed out; the provider may have taken the message"},
    {500, 599, NOTIFY_SEND_RETRY, "the provider failed"},
    {300, 399, NOTIFY_SEND_REJECTED, "the provider redirected us (check notify.sms_base_url)"},
    {0, LONG_MAX, NOTIFY_SEND_RETRY, "the provider answered with an unexpected status"},
};

static void s_error(notify_send_result_t *out, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static void s_error(notify_send_result_t *out, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(out->error, sizeof out->error, format, args);
    va_end(args);
}

//  Copy an identifier the provider gave (a sid, a status) into dst: printable ASCII and
//  no spaces, else dst stays empty. False when it is not one.
static bool s_copy_token(char *dst, size_t size, const char *src) {
    dst[0] = 0;
    if (!src || !*src || strlen(src) >= size)
        return false;
    for (const char *p = src; *p; p++)
        if (*p <= 0x20 || *p >= 0x7F)
            return false;
    strcpy(dst, src);
    return true;
}

//  num_segments, a string ("2") in the provider's replies, a number in some clones.
static unsigned s_segments_of(json_t *value) {
    if (json_is_integer(value))
        return json_integer_value(value) > 0 && json_integer_value(value) < 100000
                   ? (unsigned)json_integer_value(value)
                   : 0;
    const char *text = json_string_value(value);
    if (!text || !*text)
        return 0;
    char *end;
    unsigned long n = strtoul(text, &end, 10);
    return *end == 0 && text[0] != '-' && n < 100000 ? (unsigned)n : 0;
}

//  A Retry-After header in milliseconds: delay-seconds or an HTTP date (RFC 9110), 0 when
//  absent or unreadable, at most a day.
static int s_retry_after_ms(const char *value, time_t now) {
    if (!value)
        return 0;
    while (*value == ' ' || *value == '\t')
        value++;
    if (!*value)
        return 0;
    long long seconds;
    if (*value >= '0' && *value <= '9') {
        char *end;
        seconds = strtoll(value, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end)
            return 0;
    } else {
        time_t when = curl_getdate(value, NULL);
        if (when == -1)
            return 0;
        seconds = (long long)when - (long long)now;
    }
    if (seconds <= 0)
        return 0;
    if (seconds > S_RETRY_AFTER_MAX_S)
        seconds = S_RETRY_AFTER_MAX_S;
    return (int)(seconds * 1000);
}

int notify_sms_reply_parse(long http_status, const char *body, const char *retry_after, time_t now,
                           notify_send_result_t *out) {
    assert(out);
    out->http_status = http_status;
    out->provider_code = 0;
    out->retry_after_ms = 0;
    out->provider_id[0] = out->status[0] = out->error[0] = 0;
    json_t *reply = body ? json_loads(body, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *object = json_is_object(reply) ? reply : NULL;

    if (http_status >= 200 && http_status < 300) {
        if (object && s_copy_token(out->provider_id, sizeof out->provider_id,
                                   json_string_value(json_object_get(object, "sid")))) {
            s_copy_token(out->status, sizeof out->status,
                         json_string_value(json_object_get(object, "status")));
            unsigned segments = s_segments_of(json_object_get(object, "num_segments"));
            if (segments)
                out->segments = segments;
            out->outcome = NOTIFY_SEND_ACCEPTED;
        } else {
            //  A success without the sid: the provider has it, but we cannot tell which.
            out->outcome = NOTIFY_SEND_AMBIGUOUS;
            s_error(out,
                    "the provider answered HTTP %ld without a message sid; it may have "
                    "taken the message",
                    http_status);
        }
        json_decref(reply);
        return out->outcome == NOTIFY_SEND_ACCEPTED ? 0 : -1;
    }

    json_t *code = object ? json_object_get(object, "code") : NULL;
    if (json_is_integer(code) && json_integer_value(code) > 0 && json_integer_value(code) < INT_MAX)
        out->provider_code = (int)json_integer_value(code);
    json_decref(reply);

    size_t s = 0;
    while (http_status < s_statuses[s].low || http_status > s_statuses[s].high)
        s++;
    out->outcome = s_statuses[s].outcome;
    const char *words = s_statuses[s].words;
    for (size_t i = 0; i < sizeof s_provider_codes / sizeof *s_provider_codes; i++)
        if (out->provider_code && s_provider_codes[i].code == out->provider_code) {
            words = s_provider_codes[i].words;
            //  A known code decides a plain 4xx; credentials and rate stay as their status.
            if (s_statuses[s].low == 400 && s_statuses[s].high == 499)
                out->outcome = s_provider_codes[i].outcome;
        }
    if (http_status == 429 || http_status == 503)
        out->retry_after_ms = s_retry_after_ms(retry_after, now);
    if (out->provider_code)
        s_error(out, "%s (HTTP %ld, code %d)", words, http_status, out->provider_code);
    else
        s_error(out, "%s (HTTP %ld)", words, http_status);
    return -1;
}

int notify_sms_list_parse(const char *page, const char *to, const char *body, time_t since,
                          notify_send_result_t *out, char **next_page_uri) {
    assert(out && next_page_uri);
    *next_page_uri = NULL;
    json_t *list = page ? json_loads(page, 0, NULL) : NULL;
    json_t *messages = json_object_get(list, "messages");
    json_t *next = json_object_get(list, "next_page_uri");
    const char *next_text = json_string_value(next);
    if (!json_is_array(messages) || (next && !json_is_null(next) && !next_text) ||
        (next_text && *next_text && next_text[0] != '/')) {
        json_decref(list);
        return -1;
    }
    size_t i;
    json_t *message;
    json_array_foreach(messages, i, message) {
        const char *m_to = json_string_value(json_object_get(message, "to"));
        const char *m_body = json_string_value(json_object_get(message, "body"));
        const char *direction = json_string_value(json_object_get(message, "direction"));
        const char *created = json_string_value(json_object_get(message, "date_created"));
        if (!m_to || !m_body || !to || !body || strcmp(m_to, to) != 0 ||
            strcmp(m_body, body) != 0 || (direction && strncmp(direction, "outbound", 8) != 0))
            continue;
        //  An unreadable date counts as recent: the list is of the day already, and
        //  sending twice is the worse mistake.
        time_t when = created ? curl_getdate(created, NULL) : -1;
        if (when != -1 && when < since)
            continue;
        if (!s_copy_token(out->provider_id, sizeof out->provider_id,
                          json_string_value(json_object_get(message, "sid"))))
            continue;
        s_copy_token(out->status, sizeof out->status,
                     json_string_value(json_object_get(message, "status")));
        unsigned segments = s_segments_of(json_object_get(message, "num_segments"));
        if (segments)
            out->segments = segments;
        out->outcome = NOTIFY_SEND_ACCEPTED;
        out->error[0] = 0;
        json_decref(list);
        return 1;
    }
    if (next_text && *next_text)
        *next_page_uri = strdup(next_text);
    json_decref(list);
    return 0;
}

// --- the client -----------------------------------------------------------------------------

static size_t s_collect(char *data, size_t size, size_t count, void *arg) {
    notify_sms_client_t *self = arg;
    size_t n = size * count;
    //  Past the limit the rest is dropped, not refused: refusing would fail the transfer
    //  after the request was sent, and the parse of a cut reply fails safe anyway.
    size_t keep = self->reply_len + n > S_REPLY_MAX ? S_REPLY_MAX - self->reply_len : n;
    if (keep > 0) {
        char *grown = realloc(self->reply, self->reply_len + keep + 1);
        if (!grown)
            return 0;
        self->reply = grown;
        memcpy(self->reply + self->reply_len, data, keep);
        self->reply_len += keep;
        self->reply[self->reply_len] = 0;
    }
    return n;
}

//  Called by libcurl just before it writes a request. When a kept-alive connection dies
//  with not a byte of answer, libcurl writes the request again on a new one; but the
//  provider may have read the first and died before answering, so a message is never
//  sent twice this way: the call ends AMBIGUOUS instead. (A GET may go twice.)
static int s_before_request(void *arg, char *primary_ip, char *local_ip, int primary_port,
                            int local_port) {
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    notify_sms_client_t *self = arg;
    return self->attempts++ > 0 && self->once ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

notify_sms_client_t *notify_sms_client_new(const char *base_url, const char *account_sid,
                                           const char *auth_token, int timeout_ms) {
    if (!base_url || !*base_url || !account_sid || !*account_sid || !auth_token || !*auth_token ||
        timeout_ms <= 0)
        return NULL;
    //  Reference-counted and thread-safe in the libcurl we build against (7.84 and later).
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    notify_sms_client_t *self = calloc(1, sizeof *self);
    char *sid = curl_easy_escape(NULL, account_sid, 0);
    size_t base_len = strlen(base_url);
    while (base_len > 0 && base_url[base_len - 1] == '/')
        base_len--;
    if (self && sid && base_len > 0) {
        self->base_url = strndup(base_url, base_len);
        if (asprintf(&self->messages_url, "%.*s/2010-04-01/Accounts/%s/Messages.json",
                     (int)base_len, base_url, sid) < 0)
            self->messages_url = NULL;
    }
    curl_free(sid);
    if (self) {
        self->curl = curl_easy_init();
        self->headers = curl_slist_append(NULL, "Accept: application/json");
        //  No "Expect: 100-continue" for longer bodies: a second round trip, or a second's
        //  wait with a server that never says 100.
        if (self->headers)
            self->headers = curl_slist_append(self->headers, "Expect:");
    }
    if (!self || !self->base_url || !self->messages_url || !self->curl || !self->headers) {
        notify_sms_client_destroy(&self);
        return NULL;
    }
    CURL *c = self->curl;
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, account_sid);
    curl_easy_setopt(c, CURLOPT_PASSWORD, auth_token);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, self->headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "crm-notify");
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, self);
    curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, s_before_request);
    curl_easy_setopt(c, CURLOPT_PREREQDATA, self);
    return self;
}

void notify_sms_client_destroy(notify_sms_client_t **self_p) {
    assert(self_p);
    notify_sms_client_t *self = *self_p;
    if (!self)
        return;
    if (self->curl)
        curl_easy_cleanup(self->curl);
    curl_slist_free_all(self->headers);
    free(self->base_url);
    free(self->messages_url);
    free(self->reply);
    free(self);
    curl_global_cleanup();
    *self_p = NULL;
}

//  One request with the handle as set up: the reply's body in self->reply, its status in
//  *status (0: none came), its Retry-After into retry_after ("" when none).
static CURLcode s_perform(notify_sms_client_t *self, long *status, char *retry_after,
                          size_t retry_after_size) {
    self->reply_len = 0;
    self->attempts = 0;
    if (self->reply)
        self->reply[0] = 0;
    CURLcode code = curl_easy_perform(self->curl);
    *status = 0;
    curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, status);
    retry_after[0] = 0;
    struct curl_header *header;
    if (*status &&
        curl_easy_header(self->curl, "Retry-After", 0, CURLH_HEADER, -1, &header) == CURLHE_OK)
        snprintf(retry_after, retry_after_size, "%s", header->value);
    return code;
}

int notify_sms_send(notify_sms_client_t *self, const char *from, const char *to, const char *body,
                    const char *status_callback, notify_send_result_t *out) {
    assert(self && out);
    *out = (notify_send_result_t){.outcome = NOTIFY_SEND_REJECTED};
    out->segments = notify_sms_segments(body, NULL);
    if (!from || !*from || !to || !*to || !body || !*body) {
        s_error(out, "a message needs a sender, a recipient and a body");
        return -1;
    }
    char *form = notify_sms_form(from, to, body, status_callback);
    if (!form) {
        out->outcome = NOTIFY_SEND_RETRY;
        s_error(out, "out of memory");
        return -1;
    }
    size_t form_len = strlen(form);
    curl_easy_setopt(self->curl, CURLOPT_URL, self->messages_url);
    curl_easy_setopt(self->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form_len);
    curl_easy_setopt(self->curl, CURLOPT_POSTFIELDS, form);
    self->once = true;
    long status;
    char retry_after[64];
    CURLcode code = s_perform(self, &status, retry_after, sizeof retry_after);
    curl_off_t uploaded = 0;
    curl_easy_getinfo(self->curl, CURLINFO_SIZE_UPLOAD_T, &uploaded);
    curl_easy_setopt(self->curl, CURLOPT_POSTFIELDS, NULL);
    self->once = false;
    free(form);

    if (status != 0)
        //  The provider answered (if only in part): its status says what it did.
        return notify_sms_reply_parse(status, self->reply, retry_after[0] ? retry_after : NULL,
                                      time(NULL), out);
    //  No answer. Whether the provider may have the message turns on one fact: did the
    //  whole request leave us? libcurl counts the body's bytes as it writes them. Short of
    //  the whole body (could not resolve or connect, TLS failed, the connection dropped
    //  while we wrote) no server can have acted on it: RETRY. With all of it written, a
    //  timeout, an empty answer (CURLE_GOT_NOTHING) or a reset (CURLE_RECV_ERROR) cannot
    //  tell "never read" from "taken, then the answer was lost": AMBIGUOUS, for
    //  notify_sms_find to settle. So is a second writing refused by s_before_request
    //  (CURLE_ABORTED_BY_CALLBACK): the first one went unanswered.
    out->http_status = 0;
    bool resend_refused = code == CURLE_ABORTED_BY_CALLBACK && self->attempts > 1;
    const char *why =
        resend_refused ? "the connection closed without an answer" : curl_easy_strerror(code);
    if (uploaded >= (curl_off_t)form_len || resend_refused) {
        out->outcome = NOTIFY_SEND_AMBIGUOUS;
        s_error(out,
                "no answer from the SMS provider after the request was sent (%s); it may "
                "have taken the message",
                why);
    } else {
        out->outcome = NOTIFY_SEND_RETRY;
        s_error(out, "could not send the request to the SMS provider (%s)", why);
    }
    return -1;
}

//  A find that could not finish: the send stays unknown (AMBIGUOUS) unless the provider
//  refused our credentials, which no later try mends (REJECTED).
static int s_find_failed(notify_send_result_t *out, CURLcode code, long status,
                         const char *retry_after) {
    if (status != 0) {
        notify_sms_reply_parse(status, NULL, retry_after, time(NULL), out);
        char words[sizeof out->error];
        snprintf(words, sizeof words, "%s", out->error);
        s_error(out, "could not search the provider's messages: %s", words);
        if (status != 401 && status != 403)
            out->outcome = NOTIFY_SEND_AMBIGUOUS;
    } else {
        out->outcome = NOTIFY_SEND_AMBIGUOUS;
        s_error(out, "could not search the provider's messages (%s)", curl_easy_strerror(code));
    }
    return -1;
}

int notify_sms_find(notify_sms_client_t *self, const char *to, const char *body, time_t since,
                    notify_send_result_t *out) {
    assert(self && out);
    *out = (notify_send_result_t){.outcome = NOTIFY_SEND_REJECTED};
    out->segments = notify_sms_segments(body, NULL);
    if (!to || !*to || !body || !*body) {
        s_error(out, "a search needs a recipient and a body");
        return -1;
    }
    //  The list is filtered by day (UTC); the skew is taken off so a message the
    //  provider's clock dated a little before ours still counts.
    time_t from = since - S_FIND_SKEW_S;
    struct tm day;
    char date[16];
    gmtime_r(&from, &day);
    strftime(date, sizeof date, "%Y-%m-%d", &day);
    char *to_escaped = curl_easy_escape(NULL, to, 0);
    char *url = NULL;
    if (!to_escaped || asprintf(&url, "%s?To=%s&DateSent%%3E=%s&PageSize=%d", self->messages_url,
                                to_escaped, date, S_FIND_PAGE_SIZE) < 0)
        url = NULL;
    curl_free(to_escaped);
    curl_easy_setopt(self->curl, CURLOPT_HTTPGET, 1L);

    int rc = -1;
    for (int page = 0; url && page < S_FIND_PAGES_MAX; page++) {
        curl_easy_setopt(self->curl, CURLOPT_URL, url);
        long status;
        char retry_after[64];
        CURLcode code = s_perform(self, &status, retry_after, sizeof retry_after);
        if (code != CURLE_OK || status != 200) {
            rc = s_find_failed(out, code, status, retry_after[0] ? retry_after : NULL);
            break;
        }
        out->http_status = status;
        char *next = NULL;
        int found = notify_sms_list_parse(self->reply, to, body, from, out, &next);
        if (found != 0 || !next) {
            if (found < 0) {
                out->outcome = NOTIFY_SEND_AMBIGUOUS;
                s_error(out, "could not search the provider's messages: its answer is not a "
                             "message list");
            } else if (found == 0) {
                out->outcome = NOTIFY_SEND_RETRY;
                s_error(out, "the provider has no such message; it is safe to send");
            }
            rc = found < 0 ? -1 : 0;
            free(next);
            break;
        }
        free(url);
        if (asprintf(&url, "%s%s", self->base_url, next) < 0)
            url = NULL;
        free(next);
        if (page + 1 == S_FIND_PAGES_MAX) {
            out->outcome = NOTIFY_SEND_AMBIGUOUS;
            s_error(out, "could not search the provider's messages: more than %d pages",
                    S_FIND_PAGES_MAX);
        }
    }
    if (!url) {
        out->outcome = NOTIFY_SEND_AMBIGUOUS;
        s_error(out, "out of memory");
    }
    free(url);
    return rc;
}
