/*  Unit tests for the SMS client (services/notify/sms.c): segment counting, the form a
    send POSTs, the reading of the provider's replies and message lists, and live sends
    and finds against a small scripted HTTP server on a thread of this test, which checks
    the method, path, Basic auth and form fields, and closes the connection before or
    after reading a request to show RETRY against AMBIGUOUS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../services/notify/channel.h"

// --- segments -------------------------------------------------------------------------------

//  text made of n copies of unit.
static char *s_repeat(const char *unit, size_t n) {
    size_t len = strlen(unit);
    char *text = malloc(len * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(text + i * len, unit, len);
    text[len * n] = 0;
    return text;
}

static const struct {
    const char *unit; // repeated...
    size_t count;     // ...this many times
    unsigned segments;
    bool ucs2;
} s_segment_cases[] = {
    {"a", 0, 0, false},
    {"a", 1, 1, false},
    {"a", 160, 1, false}, // a single GSM-7 message
    {"a", 161, 2, false}, // two parts of 153
    {"a", 306, 2, false},
    {"a", 307, 3, false},
    {"@$_!?", 32, 1, false}, // the basic set's punctuation: 160 septets
    {"£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", 4, 1, false}, // the basic set beyond ASCII
    {"\r\n", 80, 1, false},
    {"€", 80, 1, false}, // the extension table: two septets each, 160 in all
    {"€", 81, 2, false},
    {"^", 80, 1, false},
    {"{}", 40, 1, false},
    {"\\[~]|", 16, 1, false},
    {"{}", 41, 2, false},
    {"`", 1, 1, true},  // not GSM-7 at all
    {"ж", 70, 1, true}, // UCS-2
    {"ж", 71, 2, true},
    {"ж", 134, 2, true}, // two parts of 67
    {"ж", 135, 3, true},
    {"a", 69, 1, false},
    {"😀", 35, 1, true}, // outside the BMP: two units each, 70 in all
    {"😀", 36, 2, true},
    {"\xff", 70, 1, true}, // invalid UTF-8: UCS-2 of its bytes
    {"\xff", 71, 2, true},
    {"\xc3", 1, 1, true},
};

static void test_segments(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_segment_cases / sizeof *s_segment_cases; i++) {
        char *text = s_repeat(s_segment_cases[i].unit, s_segment_cases[i].count);
        bool ucs2 = !s_segment_cases[i].ucs2;
        unsigned segments = notify_sms_segments(text, &ucs2);
        if (segments != s_segment_cases[i].segments || ucs2 != s_segment_cases[i].ucs2)
            fail_msg("%zu x \"%s\": %u segments (%s), expected %u (%s)", s_segment_cases[i].count,
                     s_segment_cases[i].unit, segments, ucs2 ? "UCS-2" : "GSM-7",
                     s_segment_cases[i].segments, s_segment_cases[i].ucs2 ? "UCS-2" : "GSM-7");
        free(text);
    }
    assert_int_equal(notify_sms_segments(NULL, NULL), 0);
    assert_int_equal(notify_sms_segments("a ж", NULL), 1); // one wide character: all UCS-2
}

//  A character is never split between two parts: a part that cannot hold the whole of
//  the next one ends short.
static void test_segments_boundaries(void **state) {
    (void)state;
    // 152 + 2 + 152 = 306 septets, two parts by arithmetic; but the euro cannot straddle
    // the first part's end (152 + 2 > 153), so the second part gets 154 septets: three.
    char *a152 = s_repeat("a", 152);
    char text[1024];
    snprintf(text, sizeof text, "%s€%s", a152, a152);
    assert_int_equal(notify_sms_segments(text, NULL), 3);
    snprintf(text, sizeof text, "%s€%.151s", a152, a152); // 305: 152 | 2 + 151
    assert_int_equal(notify_sms_segments(text, NULL), 2);
    free(a152);
    // 66 + 2 + 66 = 134 units; the emoji cannot straddle the first part's end.
    char *zh66 = s_repeat("ж", 66);
    snprintf(text, sizeof text, "%s😀%s", zh66, zh66);
    bool ucs2 = false;
    assert_int_equal(notify_sms_segments(text, &ucs2), 3);
    assert_true(ucs2);
    snprintf(text, sizeof text, "%.130s😀ж%s", zh66, zh66); // 65 + 2 | 67: two parts
    assert_int_equal(notify_sms_segments(text, NULL), 2);
    free(zh66);
}

// --- the form ----------------------------------------------------------------------------------

static void test_form(void **state) {
    (void)state;
    char *form = notify_sms_form("+15005550006", "+15551234567", "a+b&c=d é 100%",
                                 "https://crm.example/v1/sms/status?m=42&t=x y");
    assert_non_null(form);
    assert_string_equal(form, "To=%2B15551234567&From=%2B15005550006&Body=a%2Bb%26c%3Dd%20%C3%A9"
                              "%20100%25&StatusCallback=https%3A%2F%2Fcrm.example%2Fv1%2Fsms%2F"
                              "status%3Fm%3D42%26t%3Dx%20y");
    free(form);
    //  A Messaging Service instead of a number; no callback.
    form = notify_sms_form("MG0123456789abcdef0123456789abcdef", "+15551234567", "Hi\nthere", "");
    assert_string_equal(form, "To=%2B15551234567&MessagingServiceSid="
                              "MG0123456789abcdef0123456789abcdef&Body=Hi%0Athere");
    free(form);
    form = notify_sms_form("MGMOTORS", "+15551234567", "x", NULL); // an alphanumeric sender
    assert_string_equal(form, "To=%2B15551234567&From=MGMOTORS&Body=x");
    free(form);
    form = notify_sms_form("+15005550006", "+15551234567", "x", NULL);
    assert_string_equal(form, "To=%2B15551234567&From=%2B15005550006&Body=x");
    free(form);
    assert_null(notify_sms_form(NULL, "+15551234567", "x", NULL));
}

// --- replies -----------------------------------------------------------------------------------

static const struct {
    long status;
    const char *body;
    const char *retry_after;
    notify_send_outcome_t outcome;
    const char *sid, *provider_status;
    unsigned segments; // 0: ours (7) kept
    int code, retry_after_ms;
    const char *error; // what the error says ("": none)
} s_replies[] = {
    {201,
     "{\"sid\":\"SM0123456789abcdef0123456789abcdef\",\"status\":\"queued\",\"num_segments\":\"2\","
     "\"to\":\"+15551234567\",\"body\":\"Hello\"}",
     NULL, NOTIFY_SEND_ACCEPTED, "SM0123456789abcdef0123456789abcdef", "queued", 2, 0, 0, ""},
    {201, "{\"sid\":\"SMabc\",\"status\":\"accepted\",\"num_segments\":3}", NULL,
     NOTIFY_SEND_ACCEPTED, "SMabc", "accepted", 3, 0, 0, ""},
    {201, "{\"sid\":\"SMabc\"}", NULL, NOTIFY_SEND_ACCEPTED, "SMabc", "", 0, 0, 0, ""},
    {201, "{\"status\":\"queued\"}", NULL, NOTIFY_SEND_AMBIGUOUS, "", "", 0, 0, 0,
     "the provider answered HTTP 201 without a message sid; it may have taken the message"},
    {201, "<html>", NULL, NOTIFY_SEND_AMBIGUOUS, "", "", 0, 0, 0,
     "the provider answered HTTP 201 without a message sid; it may have taken the message"},
    {201, "{\"sid\":\"SM with spaces\"}", NULL, NOTIFY_SEND_AMBIGUOUS, "", "", 0, 0, 0,
     "the provider answered HTTP 201 without a message sid; it may have taken the message"},
    {400,
     "{\"code\":21211,\"message\":\"The 'To' number +15551234567 is not a valid phone number.\","
     "\"more_info\":\"https://example/docs/errors/21211\",\"status\":400}",
     NULL, NOTIFY_SEND_REJECTED, "", "", 0, 21211, 0,
     "the recipient's number is not a valid phone number (HTTP 400, code 21211)"},
    {400, "{\"code\":21610,\"message\":\"Attempt to send to unsubscribed recipient\"}", NULL,
     NOTIFY_SEND_REJECTED, "", "", 0, 21610, 0,
     "the recipient has opted out (replied STOP) (HTTP 400, code 21610)"},
    {400, "{\"code\":21611,\"message\":\"queue full\"}", NULL, NOTIFY_SEND_RETRY, "", "", 0, 21611,
     0, "the sending number's queue is full (HTTP 400, code 21611)"},
    {400, "{\"code\":99999,\"message\":\"+15551234567 something\"}", NULL, NOTIFY_SEND_REJECTED, "",
     "", 0, 99999, 0, "the provider refused the message (HTTP 400, code 99999)"},
    {400, "", NULL, NOTIFY_SEND_REJECTED, "", "", 0, 0, 0,
     "the provider refused the message (HTTP 400)"},
    {401, "{\"code\":20003,\"message\":\"Authenticate\",\"status\":401}", NULL,
     NOTIFY_SEND_REJECTED, "", "", 0, 20003, 0,
     "the provider refused our credentials (check notify.sms_account_sid and sms_auth_token) "
     "(HTTP 401, code 20003)"},
    {403, NULL, NULL, NOTIFY_SEND_REJECTED, "", "", 0, 0, 0,
     "the provider refused our account access (check notify.sms_account_sid and "
     "sms_auth_token) (HTTP 403)"},
    {429, "{\"code\":20429,\"message\":\"Too Many Requests\"}", "7", NOTIFY_SEND_RETRY, "", "", 0,
     20429, 7000, "the provider asks us to slow down (HTTP 429, code 20429)"},
    {429, "{}", "Thu, 01 Jan 2026 00:01:30 GMT", NOTIFY_SEND_RETRY, "", "", 0, 0, 90000,
     "the provider asks us to slow down (HTTP 429)"},
    {429, "{}", "soon", NOTIFY_SEND_RETRY, "", "", 0, 0, 0,
     "the provider asks us to slow down (HTTP 429)"},
    {429, "{}", "999999999", NOTIFY_SEND_RETRY, "", "", 0, 0, 86400000,
     "the provider asks us to slow down (HTTP 429)"},
    {503, "Service Unavailable", "30", NOTIFY_SEND_RETRY, "", "", 0, 0, 30000,
     "the provider failed (HTTP 503)"},
    {500, "{\"code\":20500,\"message\":\"Internal Server Error\"}", "30", NOTIFY_SEND_RETRY, "", "",
     0, 20500, 0, "the provider failed (HTTP 500, code 20500)"},
    {504, "", NULL, NOTIFY_SEND_AMBIGUOUS, "", "", 0, 0, 0,
     "a gateway in front of the provider timed out; the provider may have taken the message "
     "(HTTP 504)"},
    {301, "", NULL, NOTIFY_SEND_REJECTED, "", "", 0, 0, 0,
     "the provider redirected us (check notify.sms_base_url) (HTTP 301)"},
};

static void test_reply_parse(void **state) {
    (void)state;
    const time_t now = 1767225600; // 2026-01-01 00:00:00 UTC
    for (size_t i = 0; i < sizeof s_replies / sizeof *s_replies; i++) {
        notify_send_result_t out = {.segments = 7};
        int rc = notify_sms_reply_parse(s_replies[i].status, s_replies[i].body,
                                        s_replies[i].retry_after, now, &out);
        if (out.outcome != s_replies[i].outcome || strcmp(out.error, s_replies[i].error) != 0)
            fail_msg("reply %zu (HTTP %ld): outcome %d [%s], expected %d [%s]", i,
                     s_replies[i].status, out.outcome, out.error, s_replies[i].outcome,
                     s_replies[i].error);
        assert_int_equal(rc, s_replies[i].outcome == NOTIFY_SEND_ACCEPTED ? 0 : -1);
        assert_string_equal(out.provider_id, s_replies[i].sid);
        assert_string_equal(out.status, s_replies[i].provider_status);
        assert_int_equal(out.segments, s_replies[i].segments ? s_replies[i].segments : 7);
        assert_int_equal(out.provider_code, s_replies[i].code);
        assert_int_equal(out.retry_after_ms, s_replies[i].retry_after_ms);
        assert_int_equal(out.http_status, s_replies[i].status);
        assert_null(strstr(out.error, "555")); // the provider's message quotes the number
    }
}

static void test_list_parse(void **state) {
    (void)state;
    const time_t since = 1767268800; // 2026-01-01 12:00:00 UTC
    const char *page =
        "{\"messages\":["
        "{\"sid\":\"SMold\",\"to\":\"+15551234567\",\"body\":\"Your car is ready\","
        "\"direction\":\"outbound-api\",\"date_created\":\"Thu, 01 Jan 2026 09:00:00 +0000\"},"
        "{\"sid\":\"SMin\",\"to\":\"+15551234567\",\"body\":\"Your car is ready\","
        "\"direction\":\"inbound\",\"date_created\":\"Thu, 01 Jan 2026 12:00:05 +0000\"},"
        "{\"sid\":\"SMother\",\"to\":\"+15551234567\",\"body\":\"Your car is ready!\","
        "\"direction\":\"outbound-api\",\"date_created\":\"Thu, 01 Jan 2026 12:00:05 +0000\"},"
        "{\"sid\":\"SMmine\",\"to\":\"+15551234567\",\"body\":\"Your car is ready\","
        "\"direction\":\"outbound-api\",\"status\":\"sent\",\"num_segments\":\"1\","
        "\"date_created\":\"Thu, 01 Jan 2026 12:00:01 +0000\"}],"
        "\"next_page_uri\":null}";
    notify_send_result_t out = {0};
    char *next = (char *)"untouched";
    assert_int_equal(
        notify_sms_list_parse(page, "+15551234567", "Your car is ready", since, &out, &next), 1);
    assert_int_equal(out.outcome, NOTIFY_SEND_ACCEPTED);
    assert_string_equal(out.provider_id, "SMmine");
    assert_string_equal(out.status, "sent");
    assert_int_equal(out.segments, 1);
    assert_null(next);
    //  Not there: the old one is before since, the others differ.
    out = (notify_send_result_t){0};
    assert_int_equal(
        notify_sms_list_parse(page, "+15551234567", "Your car is ready", since + 10, &out, &next),
        0);
    assert_null(next);
    assert_string_equal(out.provider_id, "");
    //  Another page follows.
    assert_int_equal(notify_sms_list_parse("{\"messages\":[],\"next_page_uri\":\"/2010-04-01/"
                                           "Accounts/AC1/Messages.json?Page=1&PageToken=PAx\"}",
                                           "+1", "x", since, &out, &next),
                     0);
    assert_string_equal(next, "/2010-04-01/Accounts/AC1/Messages.json?Page=1&PageToken=PAx");
    free(next);
    //  Not a list, or a next page elsewhere.
    assert_int_equal(notify_sms_list_parse("{\"code\":20404}", "+1", "x", since, &out, &next), -1);
    assert_int_equal(notify_sms_list_parse("[", "+1", "x", since, &out, &next), -1);
    assert_int_equal(notify_sms_list_parse(NULL, "+1", "x", since, &out, &next), -1);
    assert_int_equal(notify_sms_list_parse("{\"messages\":[],\"next_page_uri\":\"https://evil/\"}",
                                           "+1", "x", since, &out, &next),
                     -1);
    assert_null(next);
}

// --- a scripted HTTP server ------------------------------------------------------------------

typedef enum {
    S_ANSWER,            // read the request, answer it, keep the connection
    S_CLOSE_BEFORE_READ, // as soon as the request starts to arrive, reset the connection
    S_CLOSE_AFTER_READ,  // read the whole request, then close without a word
    S_SILENT_AFTER_READ, // read the whole request, never answer (the client times out)
} s_action_kind_t;

typedef struct {
    s_action_kind_t kind;
    int status;
    const char *headers; // extra header lines, each ending in CRLF
    const char *body;
} s_action_t;

typedef struct {
    char method[16];
    char target[2048];
    char authorization[512];
    char *body;
} s_request_t;

#define S_REQUESTS_MAX 8

typedef struct {
    int listener;
    int port;
    pthread_t thread;
    const s_action_t *script;
    size_t script_len;
    s_request_t requests[S_REQUESTS_MAX];
    size_t request_count; // requests read (whole)
    int connections;      // connections accepted
} s_server_t;

//  Wait up to ms for fd to be readable: false on timeout.
static bool s_ready(int fd, int ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

//  Up to 5 s: longer is a test gone wrong.
static bool s_readable(int fd) {
    return s_ready(fd, 5000);
}

//  Read one request from conn into *request: false when the client closed first.
static bool s_read_request(int conn, s_request_t *request) {
    *request = (s_request_t){0};
    size_t size = 65536, len = 0;
    char *data = malloc(size);
    char *end = NULL;
    while (!end) {
        if (!s_readable(conn))
            goto fail;
        ssize_t n = recv(conn, data + len, size - len - 1, 0);
        if (n <= 0)
            goto fail;
        len += (size_t)n;
        data[len] = 0;
        end = strstr(data, "\r\n\r\n");
        if (!end && len + 1 >= size)
            goto fail;
    }
    size_t head = (size_t)(end - data) + 4;
    size_t body_len = 0;
    sscanf(data, "%15s %2047s", request->method, request->target);
    for (char *line = strstr(data, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            body_len = strtoul(line + 15, NULL, 10);
        else if (strncasecmp(line, "Authorization: ", 15) == 0)
            snprintf(request->authorization, sizeof request->authorization, "%.*s",
                     (int)(strstr(line, "\r\n") - line - 15), line + 15);
    }
    request->body = malloc(body_len + 1);
    size_t have = len - head < body_len ? len - head : body_len;
    memcpy(request->body, data + head, have);
    while (have < body_len) {
        if (!s_readable(conn))
            goto fail;
        ssize_t n = recv(conn, request->body + have, body_len - have, 0);
        if (n <= 0)
            goto fail;
        have += (size_t)n;
    }
    request->body[body_len] = 0;
    free(data);
    return true;
fail:
    free(request->body);
    request->body = NULL;
    free(data);
    return false;
}

static void s_reset(int conn) {
    struct linger linger = {.l_onoff = 1, .l_linger = 0};
    setsockopt(conn, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    close(conn);
}

static void *s_serve(void *arg) {
    s_server_t *self = arg;
    int conn = -1;
    size_t next = 0;
    while (next < self->script_len) {
        if (conn < 0) {
            //  A client connects at once; the wait ends a script the client stopped
            //  following (as when a second writing of a request is refused).
            if (!s_ready(self->listener, 1000))
                break;
            conn = accept(self->listener, NULL, NULL);
            if (conn < 0)
                break;
            self->connections++;
        }
        const s_action_t *action = &self->script[next];
        if (action->kind == S_CLOSE_BEFORE_READ) {
            //  Closing with the request unread makes the kernel answer with a reset.
            if (!s_readable(conn))
                break;
            s_reset(conn);
            conn = -1;
            next++;
            continue;
        }
        s_request_t request;
        if (!s_read_request(conn, &request)) {
            //  The client closed an idle connection: wait for its next one.
            close(conn);
            conn = -1;
            continue;
        }
        if (self->request_count < S_REQUESTS_MAX)
            self->requests[self->request_count++] = request;
        else
            free(request.body);
        next++;
        if (action->kind == S_ANSWER) {
            char response[8192];
            const char *body = action->body ? action->body : "";
            int n = snprintf(response, sizeof response,
                             "HTTP/1.1 %d Whatever\r\nContent-Type: application/json\r\n"
                             "Content-Length: %zu\r\n%s\r\n%s",
                             action->status, strlen(body), action->headers ? action->headers : "",
                             body);
            if (send(conn, response, (size_t)n, MSG_NOSIGNAL) != n)
                break;
        } else if (action->kind == S_CLOSE_AFTER_READ) {
            close(conn);
            conn = -1;
        } else if (action->kind == S_SILENT_AFTER_READ) {
            char byte;
            if (s_readable(conn))
                (void)!recv(conn, &byte, 1, 0); // until the client gives up
            close(conn);
            conn = -1;
        }
    }
    if (conn >= 0)
        close(conn);
    return NULL;
}

//  A server on a free port of 127.0.0.1 that plays script, one action per request.
static s_server_t *s_server_start(const s_action_t *script, size_t script_len) {
    s_server_t *self = calloc(1, sizeof *self);
    self->script = script;
    self->script_len = script_len;
    self->listener = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(self->listener >= 0);
    //  A small receive window, so a large request cannot all be written before the
    //  server has read it (the close-before-read test).
    int window = 4096;
    setsockopt(self->listener, SOL_SOCKET, SO_RCVBUF, &window, sizeof window);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(self->listener, (struct sockaddr *)&address, sizeof address), 0);
    assert_int_equal(listen(self->listener, 8), 0);
    socklen_t len = sizeof address;
    getsockname(self->listener, (struct sockaddr *)&address, &len);
    self->port = ntohs(address.sin_port);
    assert_int_equal(pthread_create(&self->thread, NULL, s_serve, self), 0);
    return self;
}

//  Wait for the server to play its script to the end (or give up), so what it read can
//  be looked at.
static void s_server_wait(s_server_t *self) {
    if (self->thread) {
        pthread_join(self->thread, NULL);
        self->thread = 0;
    }
}

static void s_server_stop(s_server_t **self_p) {
    s_server_t *self = *self_p;
    s_server_wait(self);
    close(self->listener);
    for (size_t i = 0; i < self->request_count; i++)
        free(self->requests[i].body);
    free(self);
    *self_p = NULL;
}

static char *s_base_url(const s_server_t *server) {
    char *url;
    assert_true(asprintf(&url, "http://127.0.0.1:%d/", server->port) > 0);
    return url;
}

//  The value of field name in a URL-encoded form or query (caller frees), or NULL.
static char *s_form_field(const char *form, const char *name) {
    char *copy = strdup(form), *save = NULL, *value = NULL;
    for (char *pair = strtok_r(copy, "&", &save); pair && !value;
         pair = strtok_r(NULL, "&", &save)) {
        char *equals = strchr(pair, '=');
        if (!equals)
            continue;
        *equals = 0;
        for (char *p = equals + 1; *p; p++)
            if (*p == '+')
                *p = ' ';
        char *key = curl_easy_unescape(NULL, pair, 0, NULL);
        if (strcmp(key, name) == 0) {
            char *decoded = curl_easy_unescape(NULL, equals + 1, 0, NULL);
            value = strdup(decoded);
            curl_free(decoded);
        }
        curl_free(key);
    }
    free(copy);
    return value;
}

static void s_assert_field(const char *form, const char *name, const char *expected) {
    char *value = s_form_field(form, name);
    if (!expected) {
        if (value)
            fail_msg("field %s: [%s], expected none", name, value);
        return;
    }
    if (!value || strcmp(value, expected) != 0)
        fail_msg("field %s: [%s], expected [%s]", name, value ? value : "(none)", expected);
    free(value);
}

#define S_SID "AC0123456789abcdef0123456789abcdef"
#define S_TOKEN "secret-token"
#define S_PATH "/2010-04-01/Accounts/" S_SID "/Messages.json"
#define S_CREATED                                                                                  \
    "{\"sid\":\"SM11111111111111111111111111111111\",\"status\":\"queued\",\"num_segments\":"      \
    "\"1\"}"

static void s_assert_basic_auth(const char *authorization) {
    char expected[256] = "Basic ";
    const char credentials[] = S_SID ":" S_TOKEN;
    sodium_bin2base64(expected + 6, sizeof expected - 6, (const unsigned char *)credentials,
                      strlen(credentials), sodium_base64_VARIANT_ORIGINAL);
    assert_string_equal(authorization, expected);
}

//  201, then 429 with Retry-After, then 500, on one kept-alive connection; each request
//  a POST to the account's Messages.json with Basic auth and the fields as sent.
static void test_send_live(void **state) {
    (void)state;
    static const s_action_t script[] = {
        {S_ANSWER, 201, NULL, S_CREATED},
        {S_ANSWER, 429, "Retry-After: 3\r\n", "{\"code\":20429,\"message\":\"Too Many Requests\"}"},
        {S_ANSWER, 500, NULL, "{\"code\":20500,\"message\":\"Internal Server Error\"}"},
        {S_ANSWER, 400, NULL,
         "{\"code\":21211,\"message\":\"The 'To' number +15551234567 is not valid\"}"},
    };
    s_server_t *server = s_server_start(script, 4);
    char *base = s_base_url(server);
    notify_sms_client_t *client = notify_sms_client_new(base, S_SID, S_TOKEN, 5000);
    assert_non_null(client);
    const char *body = "Hi Zoë, your car is ready: 50% off & free wash = deal +1";
    notify_send_result_t out;
    assert_int_equal(notify_sms_send(client, "+15005550006", "+15551234567", body,
                                     "https://crm.example/v1/sms/status?id=1&t=2", &out),
                     0);
    assert_int_equal(out.outcome, NOTIFY_SEND_ACCEPTED);
    assert_string_equal(out.provider_id, "SM11111111111111111111111111111111");
    assert_string_equal(out.status, "queued");
    assert_int_equal(out.segments, 1);
    assert_int_equal(out.http_status, 201);
    assert_string_equal(out.error, "");

    assert_int_equal(notify_sms_send(client, "MG0123456789abcdef0123456789abcdef", "+15551234567",
                                     "again", NULL, &out),
                     -1);
    assert_int_equal(out.outcome, NOTIFY_SEND_RETRY);
    assert_int_equal(out.http_status, 429);
    assert_int_equal(out.retry_after_ms, 3000);
    assert_int_equal(out.provider_code, 20429);

    assert_int_equal(notify_sms_send(client, "+15005550006", "+15551234567", "x", NULL, &out), -1);
    assert_int_equal(out.outcome, NOTIFY_SEND_RETRY);
    assert_int_equal(out.http_status, 500);
    assert_int_equal(out.retry_after_ms, 0);

    assert_int_equal(notify_sms_send(client, "+15005550006", "+15551234567", "x", NULL, &out), -1);
    assert_int_equal(out.outcome, NOTIFY_SEND_REJECTED);
    assert_int_equal(out.provider_code, 21211);
    assert_null(strstr(out.error, "555"));
    notify_sms_client_destroy(&client);
    assert_null(client);
    notify_sms_client_destroy(&client); // idempotent
    s_server_stop(&server);
    free(base);
}

//  The same, looking at what the server was sent.
static void test_send_live_request(void **state) {
    (void)state;
    static const s_action_t script[] = {
        {S_ANSWER, 201, NULL, S_CREATED},
        {S_ANSWER, 201, NULL, S_CREATED},
    };
    s_server_t *server = s_server_start(script, 2);
    char *base = s_base_url(server);
    notify_sms_client_t *client = notify_sms_client_new(base, S_SID, S_TOKEN, 5000);
    const char *body = "Hi Zoë, your car is ready: 50% off & free wash = deal +1 😀";
    notify_send_result_t out;
    assert_int_equal(notify_sms_send(client, "+15005550006", "+15551234567", body,
                                     "https://crm.example/v1/sms/status?id=1&t=2", &out),
                     0);
    assert_int_equal(notify_sms_send(client, "MG0123456789abcdef0123456789abcdef", "+15557654321",
                                     "two", "", &out),
                     0);
    notify_sms_client_destroy(&client);
    s_server_wait(server);
    assert_int_equal(server->request_count, 2);
    assert_int_equal(server->connections, 1); // the connection was kept alive
    const s_request_t *first = &server->requests[0];
    assert_string_equal(first->method, "POST");
    assert_string_equal(first->target, S_PATH);
    s_assert_basic_auth(first->authorization);
    s_assert_field(first->body, "To", "+15551234567");
    s_assert_field(first->body, "From", "+15005550006");
    s_assert_field(first->body, "MessagingServiceSid", NULL);
    s_assert_field(first->body, "Body", body);
    s_assert_field(first->body, "StatusCallback", "https://crm.example/v1/sms/status?id=1&t=2");
    const s_request_t *second = &server->requests[1];
    s_assert_field(second->body, "To", "+15557654321");
    s_assert_field(second->body, "From", NULL);
    s_assert_field(second->body, "MessagingServiceSid", "MG0123456789abcdef0123456789abcdef");
    s_assert_field(second->body, "Body", "two");
    s_assert_field(second->body, "StatusCallback", NULL);
    s_server_stop(&server);
    free(base);
}

//  A port of 127.0.0.1 that nothing listens on.
static int s_closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&address, sizeof address);
    socklen_t len = sizeof address;
    getsockname(fd, (struct sockaddr *)&address, &len);
    close(fd);
    return ntohs(address.sin_port);
}

//  No answer: RETRY when the request cannot have been read whole, AMBIGUOUS when it can.
static void test_send_unanswered(void **state) {
    (void)state;
    static const s_action_t close_before[] = {{S_CLOSE_BEFORE_READ, 0, NULL, NULL}};
    static const s_action_t close_after[] = {{S_CLOSE_AFTER_READ, 0, NULL, NULL}};
    static const s_action_t silent[] = {{S_SILENT_AFTER_READ, 0, NULL, NULL}};
    static const s_action_t reused_close_after[] = {
        {S_ANSWER, 201, NULL, S_CREATED},
        {S_CLOSE_AFTER_READ, 0, NULL, NULL},
        {S_ANSWER, 201, NULL, S_CREATED}, // what a second writing of the request would get
    };
    char *big = s_repeat("x", 8 * 1024 * 1024);
    const struct {
        const char *name;
        const s_action_t *script; // NULL: no server at all
        size_t script_len;
        const char *body;
        int timeout_ms;
        notify_send_outcome_t outcome; // of the last send
        size_t requests;               // the server read whole
    } cases[] = {
        {"nothing listens", NULL, 0, "x", 2000, NOTIFY_SEND_RETRY, 0},
        //  The server resets the connection at once: the 8 MiB request cannot all have
        //  been written through its 4 KiB window.
        {"closed before reading, request not all written", close_before, 1, big, 5000,
         NOTIFY_SEND_RETRY, 0},
        //  A short request was written whole before the reset: we cannot know the server
        //  did not read it.
        {"closed before reading, request written", close_before, 1, "x", 5000,
         NOTIFY_SEND_AMBIGUOUS, 0},
        {"closed after reading", close_after, 1, "x", 5000, NOTIFY_SEND_AMBIGUOUS, 1},
        {"no answer within the timeout", silent, 1, "x", 300, NOTIFY_SEND_AMBIGUOUS, 1},
        //  The second send goes on the kept connection, which closes after reading it:
        //  libcurl would write it again on a new connection; we refuse.
        {"kept connection closed after reading", reused_close_after, 3, "x", 5000,
         NOTIFY_SEND_AMBIGUOUS, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        s_server_t *server =
            cases[i].script ? s_server_start(cases[i].script, cases[i].script_len) : NULL;
        char base[64];
        snprintf(base, sizeof base, "http://127.0.0.1:%d", server ? server->port : s_closed_port());
        notify_sms_client_t *client =
            notify_sms_client_new(base, S_SID, S_TOKEN, cases[i].timeout_ms);
        notify_send_result_t out;
        int sends = cases[i].script == reused_close_after ? 2 : 1;
        for (int k = 0; k < sends; k++)
            notify_sms_send(client, "+15005550006", "+15551234567", cases[i].body, NULL, &out);
        notify_sms_client_destroy(&client);
        if (out.outcome != cases[i].outcome)
            fail_msg("%s: outcome %d [%s], expected %d", cases[i].name, out.outcome, out.error,
                     cases[i].outcome);
        assert_int_equal(out.http_status, 0);
        assert_string_equal(out.provider_id, "");
        assert_non_null(strstr(out.error, cases[i].outcome == NOTIFY_SEND_RETRY
                                              ? "could not send the request"
                                              : "it may have taken the message"));
        if (server) {
            s_server_wait(server);
            if (server->request_count != cases[i].requests)
                fail_msg("%s: the server read %zu requests, expected %zu", cases[i].name,
                         server->request_count, cases[i].requests);
            s_server_stop(&server);
        }
    }
    free(big);
}

//  Resolving an ambiguous send: the GET's query, following next_page_uri, found, not
//  found, and a search that cannot finish (never RETRY then).
static void test_find_live(void **state) {
    (void)state;
    static const s_action_t script[] = {
        {S_ANSWER, 504, NULL, ""}, // the send: a gateway timed out
        {S_ANSWER, 200, NULL,
         "{\"messages\":[{\"sid\":\"SMx\",\"to\":\"+15551234567\",\"body\":\"other\","
         "\"direction\":\"outbound-api\",\"date_created\":\"Thu, 01 Jan 2026 12:00:01 +0000\"}],"
         "\"next_page_uri\":\"" S_PATH "?To=%2B15551234567&PageSize=100&Page=1&PageToken=PA1\"}"},
        {S_ANSWER, 200, NULL,
         "{\"messages\":[{\"sid\":\"SMfound\",\"to\":\"+15551234567\",\"body\":\"Hi & bye\","
         "\"direction\":\"outbound-api\",\"status\":\"queued\",\"num_segments\":\"1\","
         "\"date_created\":\"Thu, 01 Jan 2026 12:00:01 +0000\"}],\"next_page_uri\":null}"},
        {S_ANSWER, 200, NULL, "{\"messages\":[],\"next_page_uri\":null}"},
        {S_ANSWER, 503, "Retry-After: 5\r\n", "{\"code\":20503}"},
        {S_ANSWER, 401, NULL, "{\"code\":20003}"},
        {S_ANSWER, 200, NULL, "not json"},
    };
    s_server_t *server = s_server_start(script, 7);
    char *base = s_base_url(server);
    notify_sms_client_t *client = notify_sms_client_new(base, S_SID, S_TOKEN, 5000);
    const time_t since = 1767268800; // 2026-01-01 12:00:00 UTC
    notify_send_result_t out;
    assert_int_equal(
        notify_sms_send(client, "+15005550006", "+15551234567", "Hi & bye", NULL, &out), -1);
    assert_int_equal(out.outcome, NOTIFY_SEND_AMBIGUOUS);
    assert_int_equal(notify_sms_find(client, "+15551234567", "Hi & bye", since, &out), 0);
    assert_int_equal(out.outcome, NOTIFY_SEND_ACCEPTED);
    assert_string_equal(out.provider_id, "SMfound");
    assert_string_equal(out.status, "queued");

    assert_int_equal(notify_sms_find(client, "+15551234567", "Hi & bye", since, &out), 0);
    assert_int_equal(out.outcome, NOTIFY_SEND_RETRY); // not there: safe to send
    assert_string_equal(out.provider_id, "");

    assert_int_equal(notify_sms_find(client, "+15551234567", "Hi & bye", since, &out), -1);
    assert_int_equal(out.outcome, NOTIFY_SEND_AMBIGUOUS); // still unknown
    assert_int_equal(out.http_status, 503);
    assert_int_equal(out.retry_after_ms, 5000);

    assert_int_equal(notify_sms_find(client, "+15551234567", "Hi & bye", since, &out), -1);
    assert_int_equal(out.outcome, NOTIFY_SEND_REJECTED);
    assert_non_null(strstr(out.error, "could not search the provider's messages: the provider "
                                      "refused our credentials"));

    assert_int_equal(notify_sms_find(client, "+15551234567", "Hi & bye", since, &out), -1);
    assert_int_equal(out.outcome, NOTIFY_SEND_AMBIGUOUS);
    notify_sms_client_destroy(&client);

    s_server_wait(server);
    assert_int_equal(server->request_count, 7);
    assert_string_equal(server->requests[0].method, "POST");
    const s_request_t *first = &server->requests[1]; // the same handle, now a GET
    assert_string_equal(first->method, "GET");
    assert_string_equal(first->body, "");
    s_assert_basic_auth(first->authorization);
    char *query = strchr(first->target, '?');
    assert_non_null(query);
    assert_int_equal(query - first->target, strlen(S_PATH));
    assert_memory_equal(first->target, S_PATH, strlen(S_PATH));
    s_assert_field(query + 1, "To", "+15551234567");
    s_assert_field(query + 1, "DateSent>", "2026-01-01");
    s_assert_field(query + 1, "PageSize", "100");
    assert_string_equal(server->requests[2].target,
                        S_PATH "?To=%2B15551234567&PageSize=100&Page=1&PageToken=PA1");
    assert_string_equal(server->requests[2].method, "GET");
    s_server_stop(&server);
    free(base);

    //  Nothing listens: still unknown.
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s_closed_port());
    client = notify_sms_client_new(url, S_SID, S_TOKEN, 2000);
    assert_int_equal(notify_sms_find(client, "+15551234567", "x", since, &out), -1);
    assert_int_equal(out.outcome, NOTIFY_SEND_AMBIGUOUS);
    notify_sms_client_destroy(&client);
}

//  Arguments refused before anything is sent, and a client that cannot be made.
static void test_arguments(void **state) {
    (void)state;
    assert_null(notify_sms_client_new(NULL, S_SID, S_TOKEN, 1000));
    assert_null(notify_sms_client_new("http://127.0.0.1:1", "", S_TOKEN, 1000));
    assert_null(notify_sms_client_new("http://127.0.0.1:1", S_SID, NULL, 1000));
    assert_null(notify_sms_client_new("http://127.0.0.1:1", S_SID, S_TOKEN, 0));
    notify_sms_client_t *client = notify_sms_client_new("http://127.0.0.1:1", S_SID, S_TOKEN, 1000);
    notify_send_result_t out;
    assert_int_equal(notify_sms_send(client, "+15005550006", "", "x", NULL, &out), -1);
    assert_int_equal(out.outcome, NOTIFY_SEND_REJECTED);
    assert_int_equal(notify_sms_send(client, "+15005550006", "+15551234567", NULL, NULL, &out), -1);
    assert_int_equal(out.outcome, NOTIFY_SEND_REJECTED);
    assert_int_equal(notify_sms_find(client, NULL, "x", 0, &out), -1);
    assert_int_equal(out.outcome, NOTIFY_SEND_REJECTED);
    notify_sms_client_destroy(&client);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_segments_boundaries),
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_reply_parse),
        cmocka_unit_test(test_list_parse),
        cmocka_unit_test(test_send_live),
        cmocka_unit_test(test_send_live_request),
        cmocka_unit_test(test_send_unanswered),
        cmocka_unit_test(test_find_live),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
