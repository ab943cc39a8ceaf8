/*  System tests of lead scoring (crm-scoring): a lead created through the leads API is
    scored within a second (GET /v1/leads/{id}/score: its rules, points adding up to the
    score); a booked test drive raises it, a no-show lowers it; the history keeps each
    change; a manager's own model (PUT /v1/scoring/model) is previewed and applied by a
    rescore job with progress; a bad model is refused naming the field; another tenant's
    leads are never scored by this tenant's model. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

static harness_t *h;
static char s_sales_a[64], s_manager_a[64], s_sales_b[64], s_manager_b[64];

static void s_create(const char *key, const char *path, const char *body, char id[64]) {
    harness_response_t r = harness_http("POST", path, key, body, NULL);
    if (r.status != 201)
        fail_msg("create %s %s: %ld %s", path, body, r.status, r.body);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  A lead of a new contact (walk-in, a make and model, a budget, buying this month).
static void s_lead(const char *key, char lead[64]) {
    char contact[64], body[512];
    s_create(key, "/v1/contacts",
             "{\"firstName\":\"Ann\",\"lastName\":\"Lee\",\"type\":\"prospect\","
             "\"phones\":[{\"number\":\"+12025550142\",\"type\":\"mobile\"}]}",
             contact);
    snprintf(body, sizeof body,
             "{\"contactId\":\"%s\",\"source\":\"walk_in\",\"timeline\":\"within_month\","
             "\"budgetMaxCents\":3800000,"
             "\"vehicle\":{\"year\":2024,\"make\":\"Toyota\",\"model\":\"RAV4\"}}",
             contact);
    s_create(key, "/v1/leads", body, lead);
}

//  The lead's score once it is not previous (wait up to timeout_ms); -1 when none came.
static long s_score_other_than(const char *key, const char *lead, long previous, int timeout_ms,
                               harness_response_t *out) {
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/score", lead);
    int64_t until = zclock_mono() + timeout_ms;
    for (;;) {
        harness_response_t r = harness_http("GET", path, key, NULL, NULL);
        long score = -1;
        if (r.status == 200 && r.json)
            score = (long)json_integer_value(json_object_get(r.json, "score"));
        if ((r.status == 200 && score != previous) || zclock_mono() > until) {
            long status = r.status;
            if (out)
                *out = r;
            else
                harness_response_free(&r);
            return status == 200 ? score : -1;
        }
        harness_response_free(&r);
        zclock_sleep(20);
    }
}

//  The contributions' points add up to the score, each with a rule, group and reason.
static void s_assert_adds_up(const harness_response_t *r) {
    json_t *items = json_object_get(r->json, "contributions");
    assert_true(json_is_array(items));
    long sum = 0;
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *c = json_array_get(items, i);
        sum += (long)json_integer_value(json_object_get(c, "points"));
        assert_non_null(json_string_value(json_object_get(c, "rule")));
        assert_non_null(json_string_value(json_object_get(c, "group")));
        assert_non_null(json_string_value(json_object_get(c, "reason")));
    }
    assert_int_equal(sum, json_integer_value(json_object_get(r->json, "score")));
}

//  The lead's score once it is expected (waits up to timeout_ms): scoring follows the
//  contacts' and the leads' events apart, so a first score may come before the contact's
//  reachability has counted.
static void s_expect_score(const char *key, const char *lead, long expected, int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    long score = -1;
    while ((score = s_score_other_than(key, lead, -1, 200, NULL)) != expected) {
        if (zclock_mono() > until)
            fail_msg("lead %s: score %ld, expected %ld (scoring leads: %lld, inbox leads: %lld)",
                     lead, score, expected,
                     harness_sql_scalar("SELECT count(*) FROM scoring.leads"),
                     harness_sql_scalar("SELECT last_seq FROM scoring.inbox WHERE source = 'leads'"));
        zclock_sleep(20);
    }
}

static bool s_has_reason(const harness_response_t *r, const char *reason) {
    json_t *items = json_object_get(r->json, "contributions");
    for (size_t i = 0; i < json_array_size(items); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(items, i), "reason")),
                   reason) == 0)
            return true;
    return false;
}

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    harness_create_key("tenant-a", "sales", s_sales_a, sizeof s_sales_a);
    harness_create_key("tenant-a", "manager", s_manager_a, sizeof s_manager_a);
    harness_create_key("tenant-b", "sales", s_sales_b, sizeof s_sales_b);
    harness_create_key("tenant-b", "manager", s_manager_b, sizeof s_manager_b);
    //  The first daily decay pass is made at the rescorer's first idle turn, over every
    //  tenant as of its own time: let it end before the tests count history rows and
    //  rescore jobs' changes, which it would otherwise share with them.
    int64_t until = zclock_mono() + 15000;
    while (harness_sql_scalar("SELECT count(*) FROM scoring.rescore_jobs WHERE kind = 'decay'"
                              " AND status = 'done'") < 1 && zclock_mono() < until)
        zclock_sleep(50);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  Created, scored within a second under the default model, explained; a test drive
//  raises it; a no-show of it lowers it; the history has each change.
static void test_lead_scored_and_explained(void **state) {
    (void)state;
    char lead[64], body[512], path[160];
    s_lead(s_sales_a, lead);
    harness_response_t r;
    int64_t start = zclock_mono();
    long score = s_score_other_than(s_sales_a, lead, -1, 1000, &r);
    if (score < 0)
        fail_msg("no score within a second: %ld %s", r.status, r.body);
    assert_true(zclock_mono() - start <= 1000);
    harness_response_free(&r);
    //  Walk-in 10, buying within 30 days 15, budget 5, specific vehicle 5, reachable 5.
    s_expect_score(s_sales_a, lead, 40, 2000);
    score = s_score_other_than(s_sales_a, lead, -1, 1000, &r);
    assert_string_equal(harness_json_str(&r, "band"), "medium");
    assert_string_equal(harness_json_str(&r, "leadId"), lead);
    assert_true(strncmp(harness_json_str(&r, "modelVersion"), "default-", 8) == 0);
    assert_true(s_has_reason(&r, "walked in: +10"));
    assert_true(s_has_reason(&r, "buying within 30 days: +15"));
    s_assert_adds_up(&r);
    harness_response_free(&r);

    //  A test drive booked: +25, hot.
    snprintf(path, sizeof path, "/v1/leads/%s/activities", lead);
    snprintf(body, sizeof body,
             "{\"kind\":\"test_drive\",\"scheduledAt\":\"2030-01-01T10:00:00Z\"}");
    char activity[64];
    s_create(s_sales_a, path, body, activity);
    score = s_score_other_than(s_sales_a, lead, 40, 3000, &r);
    assert_int_equal(score, 65);
    assert_string_equal(harness_json_str(&r, "band"), "hot");
    assert_true(s_has_reason(&r, "test drive booked: +25"));
    s_assert_adds_up(&r);
    harness_response_free(&r);

    //  A connected call logged: +6.
    snprintf(body, sizeof body, "{\"kind\":\"call\",\"outcome\":\"connected\"}");
    s_create(s_sales_a, path, body, activity);
    score = s_score_other_than(s_sales_a, lead, 65, 3000, &r);
    assert_int_equal(score, 71);
    harness_response_free(&r);

    //  The history: newest first, each change. (Before 40 there may be a score from
    //  before the contact's own events reached scoring: its reachability counts.)
    snprintf(path, sizeof path, "/v1/leads/%s/score/history", lead);
    r = harness_http("GET", path, s_sales_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_true(json_array_size(items) >= 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 0), "score")), 71);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 1), "score")), 65);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 2), "score")), 40);
    harness_response_free(&r);

    //  Another tenant does not see it.
    snprintf(path, sizeof path, "/v1/leads/%s/score", lead);
    r = harness_http("GET", path, s_sales_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
}

//  A manager's model: refused when bad (the field named), previewed, put (sales may not),
//  applied by a rescore job; tenant-b's leads keep the default.
//  Run a rescore of tenant-a to its end; the job's count of leads whose score changed.
static long s_rescore_job(void) {
    harness_response_t r = harness_http("POST", "/v1/scoring/rescore", s_manager_a, NULL, NULL);
    assert_int_equal(r.status, 202);
    char path[160];
    snprintf(path, sizeof path, "/v1/scoring/rescore/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    int64_t until = zclock_mono() + 10000;
    for (;;) {
        r = harness_http("GET", path, s_sales_a, NULL, NULL);
        assert_int_equal(r.status, 200);
        if (strcmp(harness_json_str(&r, "status"), "done") == 0) {
            assert_int_equal(json_integer_value(json_object_get(r.json, "done")),
                             json_integer_value(json_object_get(r.json, "total")));
            long changed = (long)json_integer_value(json_object_get(r.json, "changed"));
            harness_response_free(&r);
            return changed;
        }
        harness_response_free(&r);
        if (zclock_mono() > until)
            fail_msg("the rescore job did not finish");
        zclock_sleep(50);
    }
}

static void test_model_change_and_rescore(void **state) {
    (void)state;
    char lead_a[64], lead_b[64];
    s_lead(s_sales_a, lead_a);
    s_lead(s_sales_b, lead_b);
    s_expect_score(s_sales_a, lead_a, 40, 3000);
    s_expect_score(s_sales_b, lead_b, 40, 3000);

    //  Walk-ins alone make a lead hot under this model.
    const char *model = "{\"hot\":60,\"medium\":30,\"rules\":["
                        "{\"name\":\"walk_in\",\"fact\":\"source_walk_in\",\"points\":70,"
                        "\"reason\":\"walked in\"}]}";
    harness_response_t r =
        harness_http("PUT", "/v1/scoring/model", s_manager_a,
                     "{\"hot\":30,\"medium\":60,\"rules\":[{\"name\":\"x\",\"fact\":\"moon\","
                     "\"points\":5}]}",
                     NULL);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(r.body, "rules[0].fact"));
    assert_non_null(strstr(r.body, "\"medium\""));
    harness_response_free(&r);
    r = harness_http("PUT", "/v1/scoring/model", s_sales_a, model, NULL);
    assert_int_equal(r.status, 403);
    harness_response_free(&r);

    r = harness_http("POST", "/v1/scoring/model/preview", s_manager_a, model, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_integer_value(json_object_get(r.json, "changed")) >= 1);
    assert_true(json_integer_value(json_object_get(r.json, "toHot")) >= 1);
    harness_response_free(&r);

    r = harness_http("PUT", "/v1/scoring/model", s_manager_a, model, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "version"), "tenant-a-1");
    harness_response_free(&r);
    r = harness_http("GET", "/v1/scoring/model", s_sales_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "tenantModel")));
    harness_response_free(&r);

    long long history = harness_sql_scalar("SELECT count(*) FROM scoring.score_history"
                                           " WHERE tenant_id = 'tenant-a'");
    long long events = harness_sql_scalar("SELECT count(*) FROM scoring.outbox"
                                          " WHERE type = 'LeadScored' AND tenant_id = 'tenant-a'");
    long changed = s_rescore_job();
    //  The job counts the leads whose score moved: each has a history row and a LeadScored.
    assert_true(changed >= 1);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM scoring.score_history"
                                        " WHERE tenant_id = 'tenant-a'") - history, changed);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM scoring.outbox WHERE type ="
                                        " 'LeadScored' AND tenant_id = 'tenant-a'") - events,
                     changed);
    //  Again under the same model: nothing moves, nothing is written.
    history = harness_sql_scalar("SELECT count(*) FROM scoring.score_history");
    assert_int_equal(s_rescore_job(), 0);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM scoring.score_history"), history);
    r = harness_http("GET", "/v1/leads/x/score", s_sales_a, NULL, NULL);
    assert_int_equal(r.status, 422);
    harness_response_free(&r);
    assert_int_equal(s_score_other_than(s_sales_a, lead_a, 40, 3000, &r), 70);
    assert_string_equal(harness_json_str(&r, "band"), "hot");
    assert_string_equal(harness_json_str(&r, "modelVersion"), "tenant-a-1");
    harness_response_free(&r);
    //  tenant-b: the default model still.
    assert_int_equal(s_score_other_than(s_sales_b, lead_b, -1, 1000, &r), 40);
    assert_true(strncmp(harness_json_str(&r, "modelVersion"), "default-", 8) == 0);
    harness_response_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lead_scored_and_explained),
        cmocka_unit_test(test_model_change_and_rescore),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
