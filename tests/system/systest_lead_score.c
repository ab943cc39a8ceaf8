/*  System tests of the score on the lead: the leads service follows the scoring
    service's LeadScored, so a lead shows its score, band and priority (GET /v1/leads/{id})
    within a second of its creation, and they move with its activities; a priority set
    by hand stays through new activity and a rescore (the score and band still move)
    until {"priority": null} gives it back to the band; the two services do not bounce
    events between them; the list filters by band and minScore and sorts by score with
    cursor paging; the hot sheet's hot leads are those whose priority (the band) is hot,
    highest score first; and `crmctl scoring rebuild` scores every lead again from the
    event stream with the same scores. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

static harness_t *h;
static char s_sales[64], s_manager[64], s_sales_list[64], s_sales_replay[64];

static void s_create(const char *key, const char *path, const char *body, char id[64]) {
    harness_response_t r = harness_http("POST", path, key, body, NULL);
    if (r.status != 201)
        fail_msg("create %s %s: %ld %s", path, body, r.status, r.body);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  A lead of a new contact with a phone; fields: the lead's members after contactId
//  (",\"source\":\"walk_in\",...").
static void s_lead(const char *key, const char *fields, char lead[64]) {
    char contact[64], body[768];
    s_create(key, "/v1/contacts",
             "{\"firstName\":\"Ann\",\"lastName\":\"Lee\",\"type\":\"prospect\","
             "\"phones\":[{\"number\":\"+12025550142\",\"type\":\"mobile\"}]}",
             contact);
    snprintf(body, sizeof body, "{\"contactId\":\"%s\"%s}", contact, fields);
    s_create(key, "/v1/leads", body, lead);
}

//  Walk-in 10, buying within 30 days 15, budget 5, specific vehicle 5, reachable 5: 40.
#define S_MEDIUM_LEAD                                                                              \
    ",\"source\":\"walk_in\",\"timeline\":\"within_month\",\"budgetMaxCents\":3800000,"           \
    "\"vehicle\":{\"year\":2024,\"make\":\"Toyota\",\"model\":\"RAV4\"}"

//  GET /v1/leads/{id} (caller frees).
static harness_response_t s_get(const char *key, const char *lead) {
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    harness_response_t r = harness_http("GET", path, key, NULL, NULL);
    assert_int_equal(r.status, 200);
    return r;
}

static long s_int(const harness_response_t *r, const char *member) {
    return (long)json_integer_value(json_object_get(r->json, member));
}

static const char *s_str(const harness_response_t *r, const char *member) {
    const char *v = json_string_value(json_object_get(r->json, member));
    return v ? v : "";
}

//  Wait (up to timeout_ms) until the lead shows score; its GET into *out when out.
static void s_expect_lead_score(const char *key, const char *lead, long score, int timeout_ms,
                                harness_response_t *out) {
    int64_t until = zclock_mono() + timeout_ms;
    for (;;) {
        harness_response_t r = s_get(key, lead);
        if (s_int(&r, "score") == score && json_object_get(r.json, "band")) {
            if (out)
                *out = r;
            else
                harness_response_free(&r);
            return;
        }
        if (zclock_mono() > until)
            fail_msg("lead %s shows score %ld, expected %ld: %s", lead, s_int(&r, "score"), score,
                     r.body);
        harness_response_free(&r);
        zclock_sleep(20);
    }
}

static void s_activity(const char *key, const char *lead, const char *body) {
    char path[128], id[64];
    snprintf(path, sizeof path, "/v1/leads/%s/activities", lead);
    s_create(key, path, body, id);
}

static harness_response_t s_patch(const char *key, const char *lead, const char *body) {
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    harness_response_t r = harness_http("PATCH", path, key, body, NULL);
    if (r.status != 200)
        fail_msg("PATCH %s: %ld %s", body, r.status, r.body);
    return r;
}

//  Events of type in schema's outbox about lead.
static long long s_events(const char *schema, const char *type, const char *lead) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s.outbox WHERE type = '%s' AND aggregate_id = '%s'", schema,
             type, lead);
    return harness_sql_scalar(sql);
}

//  Wait until each follower has applied every event of the other side: scoring's inbox
//  at leads' and contacts' heads, leads' inbox at scoring's head.
static void s_settle(int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
#define S_BEHIND(source, consumer)                                                                 \
    "SELECT (SELECT count(*) FROM " source ".outbox_pending) + abs("                              \
    " coalesce((SELECT max(last_seq) FROM " source ".outbox_state), 0) -"                         \
    " coalesce((SELECT last_seq FROM " consumer ".inbox WHERE source = '" source "'), 0))"
    static const char *const checks[] = {
        S_BEHIND("leads", "scoring"),
        S_BEHIND("contacts", "scoring"),
        S_BEHIND("scoring", "leads"),
    };

    for (int stable = 0; stable < 3;) {
        bool behind = false;
        for (size_t i = 0; i < sizeof checks / sizeof *checks; i++)
            behind |= harness_sql_scalar(checks[i]) != 0;
        stable = behind ? 0 : stable + 1;
        if (zclock_mono() > until)
            fail_msg("the followers did not catch up");
        zclock_sleep(100);
    }
}

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    harness_create_key("tenant-a", "sales", s_sales, sizeof s_sales);
    harness_create_key("tenant-a", "manager", s_manager, sizeof s_manager);
    harness_create_key("tenant-list", "sales", s_sales_list, sizeof s_sales_list);
    harness_create_key("tenant-replay", "sales", s_sales_replay, sizeof s_sales_replay);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  Created: score and band on the lead within a second; its priority follows the band;
//  a test drive raises it to hot (and the priority with it).
static void test_score_on_lead(void **state) {
    (void)state;
    char lead[64];
    int64_t start = zclock_mono();
    s_lead(s_sales, S_MEDIUM_LEAD, lead);
    for (;;) {
        harness_response_t r = s_get(s_sales, lead);
        bool scored = json_object_get(r.json, "band") != NULL && s_int(&r, "score") > 0;
        harness_response_free(&r);
        if (scored)
            break;
        if (zclock_mono() - start > 1000)
            fail_msg("lead %s: no score on the lead within a second", lead);
        zclock_sleep(10);
    }
    harness_response_t r;
    s_expect_lead_score(s_sales, lead, 40, 2000, &r);
    assert_string_equal(s_str(&r, "band"), "medium");
    assert_string_equal(s_str(&r, "priority"), "medium");
    assert_true(!json_is_true(json_object_get(r.json, "priorityManual")));
    harness_response_free(&r);

    s_activity(s_sales, lead, "{\"kind\":\"test_drive\",\"scheduledAt\":\"2030-01-01T10:00:00Z\"}");
    s_expect_lead_score(s_sales, lead, 65, 3000, &r);
    assert_string_equal(s_str(&r, "band"), "hot");
    assert_string_equal(s_str(&r, "priority"), "hot");
    harness_response_free(&r);

    //  The score and band are the scoring service's: a PATCH cannot set them.
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    r = harness_http("PATCH", path, s_sales, "{\"band\":\"cold\"}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "band");
    harness_response_free(&r);
    r = harness_http("PATCH", path, s_sales, "{\"score\":99}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "score");
    harness_response_free(&r);
}

//  A priority set by hand stays through new activity and a rescore under a new model (the
//  score and band move), until cleared; a priority given at creation is the
//  salesperson's too; the services do not bounce events.
static void test_manual_priority(void **state) {
    (void)state;
    char lead[64];
    s_lead(s_sales, S_MEDIUM_LEAD, lead);
    s_expect_lead_score(s_sales, lead, 40, 3000, NULL);
    harness_response_t r = s_patch(s_sales, lead, "{\"priority\":\"cold\"}");
    assert_string_equal(s_str(&r, "priority"), "cold");
    assert_true(json_is_true(json_object_get(r.json, "priorityManual")));
    assert_string_equal(s_str(&r, "band"), "medium");
    assert_int_equal(s_int(&r, "score"), 40);
    harness_response_free(&r);

    //  New activity: hot by the score, cold by hand.
    s_activity(s_sales, lead, "{\"kind\":\"test_drive\",\"scheduledAt\":\"2030-01-01T10:00:00Z\"}");
    s_expect_lead_score(s_sales, lead, 65, 3000, &r);
    assert_string_equal(s_str(&r, "band"), "hot");
    assert_string_equal(s_str(&r, "priority"), "cold");
    assert_true(json_is_true(json_object_get(r.json, "priorityManual")));
    harness_response_free(&r);

    //  A new model (test drives count 35) and a rescore: the score moves (10 + 15 + 35),
    //  the priority stays.
    r = harness_http("PUT", "/v1/scoring/model", s_manager,
                     "{\"hot\":60,\"medium\":30,\"rules\":["
                     "{\"name\":\"walk_in\",\"fact\":\"source_walk_in\",\"points\":10,"
                     "\"reason\":\"walked in\"},"
                     "{\"name\":\"soon\",\"fact\":\"timeline_30_days\",\"points\":15,"
                     "\"reason\":\"buying within 30 days\"},"
                     "{\"name\":\"td\",\"fact\":\"test_drive_booked\",\"points\":35,\"cap\":35,"
                     "\"reason\":\"test drive booked\"}]}",
                     NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = harness_http("POST", "/v1/scoring/rescore", s_manager, NULL, NULL);
    assert_int_equal(r.status, 202);
    harness_response_free(&r);
    s_expect_lead_score(s_sales, lead, 60, 10000, &r);
    assert_string_equal(s_str(&r, "band"), "hot");
    assert_string_equal(s_str(&r, "priority"), "cold");
    harness_response_free(&r);

    //  Cleared: the band's again.
    r = s_patch(s_sales, lead, "{\"priority\":null}");
    assert_string_equal(s_str(&r, "priority"), "hot");
    assert_true(!json_is_true(json_object_get(r.json, "priorityManual")));
    harness_response_free(&r);
    //  ... and it follows the next score: under a model where a walk-in alone is hot.
    r = harness_http("PUT", "/v1/scoring/model", s_manager,
                     "{\"hot\":60,\"medium\":30,\"rules\":["
                     "{\"name\":\"walk_in\",\"fact\":\"source_walk_in\",\"points\":70,"
                     "\"reason\":\"walked in\"}]}",
                     NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = harness_http("POST", "/v1/scoring/rescore", s_manager, NULL, NULL);
    assert_int_equal(r.status, 202);
    harness_response_free(&r);
    s_expect_lead_score(s_sales, lead, 70, 10000, &r);
    assert_string_equal(s_str(&r, "priority"), "hot");
    assert_string_equal(s_str(&r, "band"), "hot");
    harness_response_free(&r);

    //  Given at creation: the salesperson's.
    char given[64];
    s_lead(s_sales, ",\"source\":\"phone\",\"priority\":\"hot\"", given);
    s_settle(5000);
    r = s_get(s_sales, given);
    assert_string_equal(s_str(&r, "priority"), "hot");
    assert_true(json_is_true(json_object_get(r.json, "priorityManual")));
    assert_string_equal(s_str(&r, "band"), "cold");
    harness_response_free(&r);

    //  No bouncing: once settled, no more LeadScored or LeadUpdated come about the lead.
    s_settle(5000);
    long long scored = s_events("scoring", "LeadScored", lead);
    long long updated = s_events("leads", "LeadUpdated", lead);
    zclock_sleep(1000);
    assert_int_equal(s_events("scoring", "LeadScored", lead), scored);
    assert_int_equal(s_events("leads", "LeadUpdated", lead), updated);
    //  Each score change made one LeadUpdated, besides the two PATCHes.
    assert_int_equal(updated, scored + 2);
}

//  The leads of tenant-list: the list by band and minScore, sorted by score, paged; the
//  hot sheet's hot section.
static void test_list_and_hot_sheet(void **state) {
    (void)state;
    //  Scores: 40 (medium), 65 (hot, a test drive), 71 (hot, and a call), 13 (cold:
    //  phoned in, reachable), 40 (medium).
    char ids[5][64];
    s_lead(s_sales_list, S_MEDIUM_LEAD, ids[0]);
    s_lead(s_sales_list, S_MEDIUM_LEAD, ids[1]);
    s_lead(s_sales_list, S_MEDIUM_LEAD, ids[2]);
    s_lead(s_sales_list, ",\"source\":\"phone\"", ids[3]);
    s_lead(s_sales_list, S_MEDIUM_LEAD, ids[4]);
    const char *td = "{\"kind\":\"test_drive\",\"scheduledAt\":\"2030-01-01T10:00:00Z\"}";
    s_activity(s_sales_list, ids[1], td);
    s_activity(s_sales_list, ids[2], td);
    s_activity(s_sales_list, ids[2], "{\"kind\":\"call\",\"outcome\":\"connected\"}");
    const long scores[5] = {40, 65, 71, 13, 40};
    for (int i = 0; i < 5; i++)
        s_expect_lead_score(s_sales_list, ids[i], scores[i], 5000, NULL);

    //  Sorted by score, two a page: 71, 65, 40, 40, 13, each once.
    char path[512], cursor[256] = "";
    long seen = 0, last = 101;
    int pages = 0;
    do {
        snprintf(path, sizeof path, "/v1/leads?sort=score&limit=2%s%s", cursor[0] ? "&cursor=" : "",
                 cursor);
        harness_response_t r = harness_http("GET", path, s_sales_list, NULL, NULL);
        assert_int_equal(r.status, 200);
        json_t *items = json_object_get(r.json, "items");
        for (size_t i = 0; i < json_array_size(items); i++) {
            long score = (long)json_integer_value(json_object_get(json_array_get(items, i), "score"));
            assert_true(score <= last);
            last = score;
            seen++;
        }
        const char *next = harness_json_str(&r, "nextCursor");
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        harness_response_free(&r);
        pages++;
    } while (cursor[0] && pages < 10);
    assert_int_equal(seen, 5);
    assert_int_equal(pages, 3);

    //  By band, and by minScore.
    harness_response_t r =
        harness_http("GET", "/v1/leads?band=hot&sort=score", s_sales_list, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), ids[2]);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "id")), ids[1]);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/leads?band=cold", s_sales_list, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/leads?minScore=40", s_sales_list, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 4);
    harness_response_free(&r);
    //  Bad input names the field.
    r = harness_http("GET", "/v1/leads?minScore=101", s_sales_list, NULL, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "minScore");
    harness_response_free(&r);
    r = harness_http("GET", "/v1/leads?band=warm", s_sales_list, NULL, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "band");
    harness_response_free(&r);
    r = harness_http("GET", "/v1/leads?sort=score&cursor=c..x", s_sales_list, NULL, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "cursor");
    harness_response_free(&r);

    //  The hot sheet: the two hot leads, highest score first, with their scores.
    r = harness_http("GET", "/v1/leads/hot-sheet", s_sales_list, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *hot = json_object_get(r.json, "hot");
    assert_int_equal(json_array_size(hot), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(hot, 0), "leadId")),
                        ids[2]);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(hot, 0), "score")), 71);
    assert_string_equal(json_string_value(json_object_get(json_array_get(hot, 0), "band")), "hot");
    assert_string_equal(json_string_value(json_object_get(json_array_get(hot, 1), "leadId")),
                        ids[1]);
    harness_response_free(&r);
    //  A hot lead set cold by hand leaves the hot sheet; a cold one set hot joins it.
    r = s_patch(s_sales_list, ids[1], "{\"priority\":\"cold\"}");
    harness_response_free(&r);
    r = s_patch(s_sales_list, ids[3], "{\"priority\":\"hot\"}");
    harness_response_free(&r);
    r = harness_http("GET", "/v1/leads/hot-sheet", s_sales_list, NULL, NULL);
    hot = json_object_get(r.json, "hot");
    assert_int_equal(json_array_size(hot), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(hot, 0), "leadId")),
                        ids[2]);
    assert_string_equal(json_string_value(json_object_get(json_array_get(hot, 1), "leadId")),
                        ids[3]);
    harness_response_free(&r);
}

//  Every lead's score and band in tenant, hashed into one number.
static long long s_snapshot(const char *tenant) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT ('x' || substr(md5(string_agg(lead_id::text || ':' || score || ':' || band,"
             " ',' ORDER BY lead_id)), 1, 15))::bit(60)::bigint"
             " FROM scoring.leads WHERE tenant_id = '%s'",
             tenant);
    return harness_sql_scalar(sql);
}

//  Score a stream (leads with activities of every kind, contacts changed), rebuild
//  scoring from empty, and compare every lead: the same score and band, also on the leads.
static void test_replay_determinism(void **state) {
    (void)state;
    enum { N = 24 };
    char ids[N][64];
    static const char *const fields[] = {
        S_MEDIUM_LEAD,
        ",\"source\":\"phone\",\"timeline\":\"within_3_months\"",
        ",\"source\":\"referral\",\"customFields\":{\"trade_in\":\"2015 Civic\"}",
        ",\"source\":\"chat\",\"budgetMinCents\":1000000,\"customFields\":{\"financing\":\"finance\"}",
    };
    static const char *const activities[] = {
        "{\"kind\":\"test_drive\",\"scheduledAt\":\"2030-01-01T10:00:00Z\"}",
        "{\"kind\":\"call\",\"outcome\":\"connected\"}",
        "{\"kind\":\"sms\",\"direction\":\"inbound\",\"body\":\"yes please\"}",
        "{\"kind\":\"appointment\",\"scheduledAt\":\"2030-01-02T10:00:00Z\"}",
        "{\"kind\":\"call\",\"outcome\":\"no_answer\"}",
    };
    for (int i = 0; i < N; i++) {
        s_lead(s_sales_replay, fields[i % 4], ids[i]);
        for (int a = 0; a < i % 6; a++)
            s_activity(s_sales_replay, ids[i], activities[(i + a) % 5]);
    }
    s_settle(20000);
    long long before = s_snapshot("tenant-replay");
    assert_true(before != HARNESS_SQL_FAILED && before != 0);
    long long leads = harness_sql_scalar(
        "SELECT count(*) FROM scoring.leads WHERE tenant_id = 'tenant-replay'");
    assert_int_equal(leads, N);

    //  Rebuild from empty: crmctl asks the scoring daemon.
    char cmd[1024];
    const char *bin = getenv("CRM_BIN_DIR") ? getenv("CRM_BIN_DIR") : "build/bin";
    snprintf(cmd, sizeof cmd,
             "env -u CRM_CONFIG CRM_DATABASE_DSN='%s' CRM_BROKER_ENDPOINT='%s'"
             " CRM_EVENTS_SUBSCRIBE_ENDPOINT='%s' CRM_EVENTS_PUBLISH_ENDPOINT='%s'"
             " %s/crmctl scoring rebuild >/dev/null",
             h->dsn, h->broker, h->events_sub, h->events_pub, bin);
    assert_int_equal(system(cmd), 0);
    //  Until every lead is scored again and the followers are at the heads.
    int64_t until = zclock_mono() + 30000;
    while (harness_sql_scalar("SELECT count(*) FROM scoring.leads WHERE tenant_id ="
                              " 'tenant-replay'") < N) {
        if (zclock_mono() > until)
            fail_msg("the rebuild did not score every lead again");
        zclock_sleep(50);
    }
    s_settle(30000);
    assert_true(s_snapshot("tenant-replay") == before);
    //  The leads service shows the same.
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM leads.leads l JOIN scoring.leads s"
                                        " ON s.lead_id = l.id AND s.tenant_id = l.tenant_id"
                                        " WHERE l.tenant_id = 'tenant-replay'"
                                        " AND l.score = s.score AND l.band = s.band"),
                     N);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score_on_lead),
        cmocka_unit_test(test_manual_priority),
        cmocka_unit_test(test_list_and_hot_sheet),
        cmocka_unit_test(test_replay_determinism),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
