/*  System test of the API's per-key rate limits and of strict HTTP parsing (issue 21,
    item 9), driven as a client would:

    - a sales key (gateway.rate_sales_*: 2 a second, 3 at once) gets its three requests,
      each answer carrying RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset; the
      fourth is 429 "rate_limited" with Retry-After, counted in /metrics by role; a
      second later the key is served again; another key of the same role is not slowed
      by the first; an error answer (404) carries the headers too;
    - role-not-allowed is 403 whatever the body says (an analyst's create);
    - requests the HTTP parser would let through, sent over a raw socket: two different
      Content-Length headers, Content-Length beside Transfer-Encoding, a NUL in a header
      value, a bare LF ending a header or the request line, a bare CR in a value, a space
      before the colon: each is 400 and the connection closed, and nothing reaches a
      service (no contact is made); a well-formed request on the same path is served.
*/
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static harness_t *h;

static int s_setup(void **state) {
    (void)state;
    static const char *const env[] = {
        "CRM_GATEWAY_RATE_SALES_PER_SECOND=2",
        "CRM_GATEWAY_RATE_SALES_BURST=3",
        "CRM_GATEWAY_RATE_ADMIN_PER_SECOND=1000",
        "CRM_GATEWAY_RATE_ADMIN_BURST=1000",
        NULL,
    };
    h = harness_start(env);
    return h ? 0 : -1;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

static long s_header_number(const harness_response_t *r, const char *name) {
    char value[32];
    harness_header(r, name, value, sizeof value);
    return value[0] ? atol(value) : -1;
}

static void test_rate_limit(void **state) {
    (void)state;
    char sales[64], other[64];
    harness_create_key("tenant-a", "sales", sales, sizeof sales);
    harness_create_key("tenant-a", "sales", other, sizeof other);
    const char *limited = "crm_http_rate_limited_total{role=\"sales\"}";
    long long before = harness_metric(limited);
    assert_true(before >= 0);
    //  The burst: three requests, the remaining count going down.
    for (long i = 0; i < 3; i++) {
        harness_response_t r = harness_http("GET", "/v1/contacts?limit=1", sales, NULL, NULL);
        assert_int_equal(r.status, 200);
        assert_int_equal(s_header_number(&r, "RateLimit-Limit"), 3);
        assert_int_equal(s_header_number(&r, "RateLimit-Remaining"), 2 - i);
        long reset = s_header_number(&r, "RateLimit-Reset");
        assert_true(reset >= 1 && reset <= 2);
        assert_int_equal(s_header_number(&r, "Retry-After"), -1);
        harness_response_free(&r);
    }
    //  The fourth: 429 with Retry-After, and the headers say nothing is left.
    harness_response_t r = harness_http("GET", "/v1/contacts?limit=1", sales, NULL, NULL);
    assert_int_equal(r.status, 429);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
        "rate_limited");
    assert_int_equal(s_header_number(&r, "RateLimit-Remaining"), 0);
    assert_int_equal(s_header_number(&r, "RateLimit-Limit"), 3);
    long retry = s_header_number(&r, "Retry-After");
    assert_true(retry >= 1 && retry <= 1);
    harness_response_free(&r);
    assert_int_equal(harness_metric(limited), before + 1);
    //  Another key of the same role has its own bucket.
    r = harness_http("GET", "/v1/contacts?limit=1", other, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(s_header_number(&r, "RateLimit-Remaining"), 2);
    harness_response_free(&r);
    //  Recovery: after Retry-After the key is served again.
    usleep((useconds_t)retry * 1000000 + 100000);
    r = harness_http("GET", "/v1/contacts?limit=1", sales, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(s_header_number(&r, "RateLimit-Remaining"), 1);
    harness_response_free(&r);
    //  An error answer carries the headers too (the admin's own bucket).
    r = harness_http("GET", "/v1/contacts/0190a5b2-0000-7000-8000-000000000001", h->key_a, NULL,
                     NULL);
    assert_int_equal(r.status, 404);
    assert_int_equal(s_header_number(&r, "RateLimit-Limit"), 1000);
    assert_true(s_header_number(&r, "RateLimit-Remaining") >= 990);
    harness_response_free(&r);
    //  No key, no bucket: a 401 has no RateLimit headers.
    r = harness_http("GET", "/v1/contacts", NULL, NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_int_equal(s_header_number(&r, "RateLimit-Limit"), -1);
    harness_response_free(&r);
}

//  A role the route does not allow is 403 before anything else is looked at.
static void test_role_not_allowed_is_403(void **state) {
    (void)state;
    harness_response_t r =
        harness_http("POST", "/v1/contacts", h->key_analyst, "{\"firstName\":\"\"}", NULL);
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
}

//  Send request (size bytes) on a new connection to the gateway; the status of the
//  answer (0: none) and whether the gateway then closed the connection.
static int s_raw_request(const char *request, size_t size, bool *closed) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    const char *port = strrchr(h->http_url, ':') + 1;
    addr.sin_port = htons((uint16_t)atoi(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    struct timeval timeout = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal(send(fd, request, size, MSG_NOSIGNAL), (ssize_t)size);
    char answer[4096];
    size_t have = 0;
    ssize_t n;
    int status = 0;
    *closed = false;
    while (have < sizeof answer - 1 && (n = recv(fd, answer + have, sizeof answer - 1 - have, 0)) > 0) {
        have += (size_t)n;
        answer[have] = 0;
        if (!status && strstr(answer, "\r\n"))
            status = atoi(answer + 9);
    }
    *closed = n == 0;
    close(fd);
    return status;
}

static void test_malformed_requests_are_400(void **state) {
    (void)state;
    long long contacts = harness_sql_scalar("SELECT count(*) FROM contacts.contacts");
    char head[256];
    snprintf(head, sizeof head,
             "POST /v1/contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\n",
             h->key_a);
    const char *body = "{\"firstName\":\"Raw\",\"lastName\":\"Sockets\"}"; // 40 bytes
    static const struct {
        const char *what;
        const char *headers; // after the head, before the blank line ("\0" written as @)
        bool line_broken;    // the request line ends with a bare LF
    } cases[] = {
        {"two different Content-Length", "Content-Length: 40\r\nContent-Length: 41\r\n", false},
        {"Content-Length and Transfer-Encoding",
         "Content-Length: 40\r\nTransfer-Encoding: chunked\r\n", false},
        {"NUL in a header value", "X-Note: a@b\r\nContent-Length: 40\r\n", false},
        {"bare LF after a header", "X-Note: a\nContent-Length: 40\r\n", false},
        {"bare CR in a header value", "X-Note: a\rb\r\nContent-Length: 40\r\n", false},
        {"space before the colon", "X-Note : a\r\nContent-Length: 40\r\n", false},
        {"bare LF after the request line", "Content-Length: 40\r\n", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char request[1024];
        int len = snprintf(request, sizeof request, "%s%s\r\n%s", head, cases[i].headers, body);
        for (int k = 0; k < len; k++)
            if (request[k] == '@')
                request[k] = 0;
        if (cases[i].line_broken) {
            char *crlf = strstr(request, "\r\n");
            memmove(crlf, crlf + 1, (size_t)len - (size_t)(crlf - request));
            len--;
        }
        bool closed = false;
        int status = s_raw_request(request, (size_t)len, &closed);
        if (status != 400)
            fprintf(stderr, "%s: %d\n", cases[i].what, status);
        assert_int_equal(status, 400);
        assert_true(closed);
    }
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.contacts"), contacts);
    //  The same request, well-formed, is served.
    char request[1024];
    int len = snprintf(request, sizeof request, "%sContent-Length: 40\r\nConnection: close\r\n\r\n%s",
                       head, body);
    bool closed = false;
    assert_int_equal(s_raw_request(request, (size_t)len, &closed), 201);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.contacts"), contacts + 1);
    //  The same Content-Length twice is one length (RFC 9112 allows it).
    len = snprintf(request, sizeof request,
                   "%sContent-Length: 40\r\nContent-Length: 40\r\nConnection: close\r\n\r\n%s", head,
                   body);
    assert_int_equal(s_raw_request(request, (size_t)len, &closed), 201);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_role_not_allowed_is_403),
        cmocka_unit_test(test_malformed_requests_are_400),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
