/*  Unit tests: a daemon's health endpoint (health.h): where it listens from the
    setting, and what /healthz, /readyz and /metrics answer over real HTTP on loopback
    as the loop publishes (and stops publishing).

    Reading order: the setting, then the server. */
#include "health.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <czmq.h>
#include <string.h>

// --- the setting ------------------------------------------------------------------------

static void test_address_plain_applies_to_every_daemon(void **state) {
    (void)state;
    char host[64];
    int port = -1;
    assert_int_equal(crm_health_address("0.0.0.0:9100", "notify", host, sizeof host, &port), 0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(port, 9100);
    assert_int_equal(crm_health_address("[::]:9101", "leads", host, sizeof host, &port), 0);
    assert_string_equal(host, "::");
    assert_int_equal(port, 9101);
}

static void test_address_named_picks_this_daemon(void **state) {
    (void)state;
    char host[64];
    int port = -1;
    const char *setting = "contacts=127.0.0.1:9101 notify=127.0.0.1:9104, leads=127.0.0.1:9102";
    assert_int_equal(crm_health_address(setting, "notify", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9104);
    assert_int_equal(crm_health_address(setting, "leads", host, sizeof host, &port), 0);
    assert_int_equal(port, 9102);
    //  A daemon the setting does not name serves none; "notif" is not "notify".
    assert_int_equal(crm_health_address(setting, "reporting", host, sizeof host, &port), 1);
    assert_int_equal(crm_health_address(setting, "notif", host, sizeof host, &port), 1);
}

static void test_address_off_and_malformed(void **state) {
    (void)state;
    char host[64];
    int port = -1;
    assert_int_equal(crm_health_address("", "notify", host, sizeof host, &port), 1);
    assert_int_equal(crm_health_address("  ", "notify", host, sizeof host, &port), 1);
    assert_int_equal(crm_health_address(NULL, "notify", host, sizeof host, &port), 1);
    const char *bad[] = {"9100",          "0.0.0.0:",        ":9100",
                         "0.0.0.0:70000", "0.0.0.0:91x",     "a:1 b:2",
                         "notify=",       "notify=0.0.0.0",  "=0.0.0.0:1",
                         "leads=1.2.3.4:1 notify:2", "leads=bad:port notify=127.0.0.1:1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (crm_health_address(bad[i], "notify", host, sizeof host, &port) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

// --- the server -------------------------------------------------------------------------

typedef struct {
    long status;
    char body[2048];
    size_t size;
} s_reply_t;

static size_t s_on_body(char *data, size_t size, size_t n, void *arg) {
    s_reply_t *r = arg;
    size_t len = size * n, room = sizeof r->body - 1 - r->size;
    memcpy(r->body + r->size, data, len < room ? len : room);
    r->size += len < room ? len : room;
    r->body[r->size] = '\0';
    return len;
}

static s_reply_t s_request(int port, const char *method, const char *path) {
    s_reply_t r = {0};
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    return r;
}

static void test_endpoint_follows_what_the_loop_publishes(void **state) {
    (void)state;
    crm_health_t *health = crm_health_new("notify", "127.0.0.1", 0, 300);
    assert_non_null(health);
    int port = crm_health_port(health);
    assert_true(port > 0);

    //  Nothing published yet: not alive, not ready.
    s_reply_t r = s_request(port, "GET", "/healthz");
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "{\"status\":\"stalled\"}");

    //  The loop turns, the database works, no worker hears the broker: alive, not ready.
    crm_health_publish(health, true, false, 7, 3);
    r = s_request(port, "GET", "/healthz");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    r = s_request(port, "GET", "/readyz");
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "{\"ready\":false,\"database\":true,\"broker\":false}");

    //  Registered too: ready; the metrics carry the counters and states.
    crm_health_publish(health, true, true, 12, 5);
    r = s_request(port, "GET", "/readyz");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"ready\":true,\"database\":true,\"broker\":true}");
    r = s_request(port, "GET", "/metrics");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "crm_daemon_up{service=\"notify\"} 1\n"));
    assert_non_null(strstr(r.body, "crm_daemon_requests_total{service=\"notify\"} 12\n"));
    assert_non_null(strstr(r.body, "crm_daemon_transactions_total{service=\"notify\"} 5\n"));
    assert_non_null(strstr(r.body, "crm_daemon_broker_connected{service=\"notify\"} 1\n"));
    assert_non_null(strstr(r.body, "process_resident_memory_bytes{service=\"notify\"} "));

    //  The database goes: not ready, still alive.
    crm_health_publish(health, false, true, 12, 5);
    r = s_request(port, "GET", "/readyz");
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "{\"ready\":false,\"database\":false,\"broker\":true}");

    //  The loop stops publishing for longer than stall_ms: neither alive nor ready.
    zclock_sleep(450);
    r = s_request(port, "GET", "/healthz");
    assert_int_equal(r.status, 503);
    r = s_request(port, "GET", "/metrics");
    assert_non_null(strstr(r.body, "crm_daemon_up{service=\"notify\"} 0\n"));

    //  Anything else: 404; other methods: 405.
    r = s_request(port, "GET", "/v1/contacts");
    assert_int_equal(r.status, 404);
    r = s_request(port, "POST", "/healthz");
    assert_int_equal(r.status, 405);
    crm_health_destroy(&health);
    assert_null(health);
}

static void test_a_port_in_use_is_refused(void **state) {
    (void)state;
    crm_health_t *first = crm_health_new("leads", "127.0.0.1", 0, 1000);
    assert_non_null(first);
    crm_health_t *second = crm_health_new("leads", "127.0.0.1", crm_health_port(first), 1000);
    assert_null(second);
    assert_null(crm_health_new("leads", "not-an-address", 0, 1000));
    crm_health_destroy(&first);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_plain_applies_to_every_daemon),
        cmocka_unit_test(test_address_named_picks_this_daemon),
        cmocka_unit_test(test_address_off_and_malformed),
        cmocka_unit_test(test_endpoint_follows_what_the_loop_publishes),
        cmocka_unit_test(test_a_port_in_use_is_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
