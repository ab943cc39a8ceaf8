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

#include <czmq.h>
#include <string.h>

static const char *const s_daemons[] = {"contacts", "leads", "dedupe", "notify", "reporting",
                                        "scoring"};
#define DAEMONS (sizeof s_daemons / sizeof *s_daemons)

static int s_ports[DAEMONS];
static harness_t *h;
static char s_setting[512];
static char s_env[600];

//  GET path on daemon i's health port (status 0: no answer).
static harness_response_t s_get(size_t i, const char *path) {
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", s_ports[i]);
    return harness_http_at(base, "GET", path);
}

//  Wait until daemon i's path answers status (and body, when not NULL); the last reply.
static harness_response_t s_wait_for(size_t i, const char *path, long status, const char *body,
                                     int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    harness_response_t r = s_get(i, path);
    while ((r.status != status || (body && strcmp(r.body, body) != 0)) &&
           zclock_mono() < until) {
        harness_response_free(&r);
        zclock_sleep(100);
        r = s_get(i, path);
    }
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
        harness_response_t r = s_wait_for(i, "/healthz", 200, NULL, 10000);
        if (r.status != 200)
            fail_msg("%s /healthz answered %ld: %s", s_daemons[i], r.status, r.body);
        assert_string_equal(r.body, "{\"status\":\"ok\"}");
        harness_response_free(&r);
        r = s_wait_for(i, "/readyz", 200, NULL, 10000);
        if (r.status != 200)
            fail_msg("%s /readyz answered %ld: %s", s_daemons[i], r.status, r.body);
        assert_string_equal(r.body, "{\"ready\":true,\"database\":true,\"broker\":true}");
        harness_response_free(&r);
        r = s_get(i, "/nothing");
        assert_int_equal(r.status, 404);
        harness_response_free(&r);
    }
}

//  contacts' crm_daemon_requests_total now.
static long long s_requests_served(void) {
    harness_response_t r = s_get(0, "/metrics");
    long long served = r.status == 200 ? s_metric(r.body, "crm_daemon_requests_total", "contacts") : -1;
    harness_response_free(&r);
    return served;
}

static void test_metrics_count_requests(void **state) {
    (void)state;
    harness_response_t before = s_get(0, "/metrics");
    assert_int_equal(before.status, 200);
    assert_int_equal(s_metric(before.body, "crm_daemon_up", "contacts"), 1);
    assert_int_equal(s_metric(before.body, "crm_daemon_database_up", "contacts"), 1);
    assert_true(s_metric(before.body, "process_resident_memory_bytes", "contacts") > 1000000);
    harness_response_free(&before);
    long long served = s_requests_served();
    assert_true(served >= 0);
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
        now = s_requests_served();
    }
    assert_true(now > served);
}

static void test_database_down_is_not_ready_then_recovers(void **state) {
    (void)state;
    static const char *const not_ready = "{\"ready\":false,\"database\":false,\"broker\":true}";
    assert_int_equal(harness_pg("stop"), 0);
    //  A request finds the connection gone; the daemon stays alive but not ready.
    harness_response_t r = harness_http("GET", "/v1/contacts?limit=1", h->key_a, NULL, NULL);
    assert_true(r.status >= 500);
    harness_response_free(&r);
    r = s_wait_for(0, "/readyz", 503, not_ready, 10000);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, not_ready);
    harness_response_free(&r);
    r = s_get(0, "/healthz");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);

    //  Back: ready again on its own (the loop reconnects), and serving.
    assert_int_equal(harness_pg("start"), 0);
    r = s_wait_for(0, "/readyz", 200, NULL, 15000);
    if (r.status != 200)
        fail_msg("contacts /readyz answered %ld: %s", r.status, r.body);
    harness_response_free(&r);
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
