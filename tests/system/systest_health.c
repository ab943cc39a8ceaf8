/*  System test of the daemons' own health endpoints (daemon.health_listen, health.h),
    as Kubernetes probes and a Prometheus scraper use them: each daemon of the suite on
    its own loopback port, named in one setting.

    - every daemon answers /healthz 200 and, once registered with the broker and
      connected to the database, /readyz 200;
    - a request served shows in that daemon's /metrics;
    - PostgreSQL stopped: the contacts daemon is not ready (database false) but alive;
      PostgreSQL back: ready again without a restart, and requests are served.
*/
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <czmq.h>
#include <string.h>

static const char *const s_daemons[] = {"contacts", "leads", "dedupe", "notify", "reporting",
                                        "scoring"};
#define DAEMONS (sizeof s_daemons / sizeof *s_daemons)

static int s_ports[DAEMONS];
static harness_t *h;
static char s_setting[512];
static char s_env[600];

typedef struct {
    long status;
    char body[4096];
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

//  GET path on daemon i's health port.
static s_reply_t s_get(size_t i, const char *path) {
    s_reply_t r = {0};
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s_ports[i], path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    return r;
}

//  Wait until daemon i's path answers status (and body, when not NULL); the last reply.
static s_reply_t s_wait_for(size_t i, const char *path, long status, const char *body,
                            int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    s_reply_t r;
    do {
        r = s_get(i, path);
        if (r.status == status && (!body || strcmp(r.body, body) == 0))
            break;
        zclock_sleep(100);
    } while (zclock_mono() < until);
    return r;
}

//  The value of a metric line "name{service=\"daemon\"} value" in body, or -1.
static long long s_metric(const char *body, const char *name, const char *daemon) {
    char prefix[128];
    snprintf(prefix, sizeof prefix, "\n%s{service=\"%s\"} ", name, daemon);
    const char *at = strstr(body, prefix);
    return at ? atoll(at + strlen(prefix)) : -1;
}

static int s_setup(void **state) {
    (void)state;
    size_t used = 0;
    for (size_t i = 0; i < DAEMONS; i++) {
        s_ports[i] = harness_free_port();
        used += (size_t)snprintf(s_setting + used, sizeof s_setting - used, "%s%s=127.0.0.1:%d",
                                 i ? " " : "", s_daemons[i], s_ports[i]);
    }
    snprintf(s_env, sizeof s_env, "CRM_DAEMON_HEALTH_LISTEN=%s", s_setting);
    const char *env[] = {s_env, NULL};
    h = harness_start(env);
    return h ? 0 : -1;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

static void test_every_daemon_is_alive_and_ready(void **state) {
    (void)state;
    for (size_t i = 0; i < DAEMONS; i++) {
        //  (the suite is ready once the workers registered; a daemon's probes answer
        //  from its loop's start, and it hears the broker within a heartbeat)
        s_reply_t r = s_wait_for(i, "/healthz", 200, NULL, 10000);
        if (r.status != 200)
            fail_msg("%s /healthz answered %ld: %s", s_daemons[i], r.status, r.body);
        assert_string_equal(r.body, "{\"status\":\"ok\"}");
        r = s_wait_for(i, "/readyz", 200, NULL, 10000);
        if (r.status != 200)
            fail_msg("%s /readyz answered %ld: %s", s_daemons[i], r.status, r.body);
        assert_string_equal(r.body, "{\"ready\":true,\"database\":true,\"broker\":true}");
        r = s_get(i, "/nothing");
        assert_int_equal(r.status, 404);
    }
}

static void test_metrics_count_requests(void **state) {
    (void)state;
    s_reply_t before = s_get(0, "/metrics");
    assert_int_equal(before.status, 200);
    long long served = s_metric(before.body, "crm_daemon_requests_total", "contacts");
    assert_true(served >= 0);
    assert_int_equal(s_metric(before.body, "crm_daemon_up", "contacts"), 1);
    assert_int_equal(s_metric(before.body, "crm_daemon_database_up", "contacts"), 1);
    assert_true(s_metric(before.body, "process_resident_memory_bytes", "contacts") > 1000000);
    harness_response_t created =
        harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"firstName\":\"Dana\",\"lastName\":\"Probe\",\"emails\":[{\"address\":"
                     "\"dana.probe@example.com\"}]}",
                     NULL);
    assert_int_equal(created.status, 201);
    harness_response_free(&created);
    //  The loop publishes its counters once a second.
    int64_t until = zclock_mono() + 5000;
    long long now = served;
    while (now <= served && zclock_mono() < until) {
        zclock_sleep(200);
        s_reply_t after = s_get(0, "/metrics");
        now = s_metric(after.body, "crm_daemon_requests_total", "contacts");
    }
    assert_true(now > served);
}

static void test_database_down_is_not_ready_then_recovers(void **state) {
    (void)state;
    assert_int_equal(harness_pg("stop"), 0);
    //  A request finds the connection gone; the daemon stays alive but not ready.
    harness_response_t r = harness_http("GET", "/v1/contacts?limit=1", h->key_a, NULL, NULL);
    assert_true(r.status >= 500);
    harness_response_free(&r);
    s_reply_t ready = s_wait_for(0, "/readyz", 503,
                                 "{\"ready\":false,\"database\":false,\"broker\":true}", 10000);
    assert_int_equal(ready.status, 503);
    assert_string_equal(ready.body, "{\"ready\":false,\"database\":false,\"broker\":true}");
    assert_int_equal(s_get(0, "/healthz").status, 200);

    //  Back: ready again on its own (the loop reconnects), and serving.
    assert_int_equal(harness_pg("start"), 0);
    ready = s_wait_for(0, "/readyz", 200, NULL, 15000);
    if (ready.status != 200)
        fail_msg("contacts /readyz answered %ld: %s", ready.status, ready.body);
    r = harness_http("GET", "/v1/contacts?limit=1", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_daemon_is_alive_and_ready),
        cmocka_unit_test(test_metrics_count_requests),
        cmocka_unit_test(test_database_down_is_not_ready_then_recovers),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
