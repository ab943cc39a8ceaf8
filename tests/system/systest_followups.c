/*  System tests of follow-ups, their scheduler and the tenant's sales settings: the whole
    suite with two leads processes (so two schedulers share the due follow-ups), driven
    over HTTP; FollowUpDue read from leads' outbox and from the gateway's event stream. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "events.pb-c.h"
#include "systest_fixtures.h"
#include "systest_sql.h"

static harness_t *h;
static char s_key_sales[64];   // sales key of tenant-a
static char s_key_manager[64]; // manager key of tenant-a

static int s_setup(void **state) {
    (void)state;
    //  Two leads processes, and a scheduler that looks every 200 ms (static: the harness
    //  keeps the list for restarts).
    static const char *env[] = {
        "CRM_SUPERVISOR_SERVICES=gateway contacts leads leads dedupe notify reporting scoring",
        "CRM_LEADS_SCHEDULER_MS=200", NULL};
    h = harness_start(env);
    harness_create_key("tenant-a", "sales", s_key_sales, sizeof s_key_sales);
    harness_create_key("tenant-a", "manager", s_key_manager, sizeof s_key_manager);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

// --- helpers ---------------------------------------------------------------------------------

//  RFC 3339 (UTC, milliseconds) of now + offset_ms.
static void s_time_in(long long offset_ms, char out[40]) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    long long ms = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000 + offset_ms;
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%s.%03dZ", date, (int)(ms % 1000));
}

//  Seconds since 1970 of "YYYY-MM-DDTHH:MM:SS[.frac]Z".
static time_t s_epoch(const char *text) {
    struct tm tm = {0};
    assert_non_null(strptime(text, "%Y-%m-%dT%H:%M:%S", &tm));
    return timegm(&tm);
}

static harness_response_t s_post_follow_up(const char *key, const char *lead, const char *body) {
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/follow-ups", lead);
    return harness_http("POST", path, key, body, NULL);
}

static harness_response_t s_patch_follow_up(const char *key, const char *lead, const char *id,
                                            const char *body) {
    char path[192];
    snprintf(path, sizeof path, "/v1/leads/%s/follow-ups/%s", lead, id);
    return harness_http("PATCH", path, key, body, NULL);
}

//  POST a follow-up that must succeed; its id into id.
static void s_follow_up(const char *lead, const char *body, char id[64]) {
    harness_response_t r = s_post_follow_up(h->key_a, lead, body);
    if (r.status != 201)
        fprintf(stderr, "create follow-up: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  The response's status and first field error, asserted.
static void s_expect(harness_response_t r, long status, const char *field) {
    if (r.status != status || (field && strcmp(harness_error_field(&r), field) != 0))
        fprintf(stderr, "expected %ld %s, got %ld %s\n", status, field ? field : "", r.status,
                r.body);
    assert_int_equal(r.status, status);
    if (field)
        assert_string_equal(harness_error_field(&r), field);
    harness_response_free(&r);
}

//  GET path; its followUpAt into out ("" when none); returns the response (caller frees).
static harness_response_t s_get_lead(const char *id) {
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    return r;
}

static bool s_flag(const harness_response_t *r, const char *name) {
    return json_is_true(json_object_get(r->json, name));
}

static long long s_count(const char *fmt, const char *arg) {
    char sql[768];
    snprintf(sql, sizeof sql, fmt, arg);
    return sql_scalar(sql);
}

//  FollowUpDue events of a lead in leads' outbox.
static long long s_fired(const char *lead) {
    return s_count("SELECT count(*) FROM leads.outbox WHERE type = 'FollowUpDue'"
                   " AND aggregate_id = '%s'",
                   lead);
}

//  Wait up to timeout_ms until lead has at least n FollowUpDue events; how many it has.
static long long s_wait_fired(const char *lead, long long n, int timeout_ms) {
    int64_t deadline = zclock_mono() + timeout_ms;
    long long fired = s_fired(lead);
    while (fired < n && zclock_mono() < deadline) {
        zclock_sleep(50);
        fired = s_fired(lead);
    }
    return fired;
}

//  Rows a refused request must not change.
//  (The scoring service's LeadUpdated, written in the background as it scores the leads
//  of the tests before, is left out, as systest_lead_contacts does.)
static long long s_written(void) {
    sql_scores_settled(); // the score on a lead is written after each change of it
    return sql_scalar("SELECT (SELECT count(*) FROM leads.follow_ups)"
                      " + " SQL_LEADS_OUTBOX_OWN
                      " + (SELECT count(*) FROM leads.tenant_settings)"
                      " + (SELECT count(*) FROM leads.follow_ups WHERE status <> 'pending')");
}

// --- settings -------------------------------------------------------------------------------

static void test_settings(void **state) {
    (void)state;
    harness_response_t r = harness_http("GET", "/v1/pipeline/settings", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "timeZone"), "UTC");
    assert_int_equal(json_integer_value(json_object_get(r.json, "responseTargetHours")), 24);
    harness_response_free(&r);

    //  Refused, naming the field, nothing written.
    long long before = s_written();
    s_expect(harness_http("PATCH", "/v1/pipeline/settings", h->key_a,
                          "{\"timeZone\":\"Mars/Olympus_Mons\"}", NULL),
             422, "timeZone");
    s_expect(harness_http("PATCH", "/v1/pipeline/settings", h->key_a,
                          "{\"timeZone\":\"America/Chicago\",\"responseTargetHours\":0}", NULL),
             422, "responseTargetHours");
    s_expect(harness_http("PATCH", "/v1/pipeline/settings", h->key_a,
                          "{\"responseTargetHours\":721}", NULL),
             422, "responseTargetHours");
    s_expect(harness_http("PATCH", "/v1/pipeline/settings", h->key_a, "{\"timeZone\":\"\"}", NULL),
             422, "timeZone");
    s_expect(harness_http("PATCH", "/v1/pipeline/settings", h->key_a, "{\"updatedBy\":\"me\"}",
                          NULL),
             422, "updatedBy");
    s_expect(harness_http("PATCH", "/v1/pipeline/settings", h->key_a,
                          "{\"responseTargetHours\":\"many\"}", NULL),
             400, NULL);
    //  Managers and admins write; sales and analysts read.
    s_expect(harness_http("PATCH", "/v1/pipeline/settings", s_key_sales,
                          "{\"timeZone\":\"America/Chicago\"}", NULL),
             403, NULL);
    s_expect(harness_http("PATCH", "/v1/pipeline/settings", h->key_analyst,
                          "{\"timeZone\":\"America/Chicago\"}", NULL),
             403, NULL);
    assert_int_equal(s_written(), before);

    r = harness_http("PATCH", "/v1/pipeline/settings", s_key_manager,
                     "{\"timeZone\":\"america/chicago\",\"responseTargetHours\":12}", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "timeZone"), "America/Chicago"); // its own name
    assert_int_equal(json_integer_value(json_object_get(r.json, "responseTargetHours")), 12);
    assert_true(strlen(harness_json_str(&r, "updatedAt")) > 0);
    harness_response_free(&r);
    //  One member at a time: the other stays.
    r = harness_http("PATCH", "/v1/pipeline/settings", h->key_a, "{\"responseTargetHours\":24}",
                     NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/pipeline/settings", s_key_sales, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "timeZone"), "America/Chicago");
    assert_int_equal(json_integer_value(json_object_get(r.json, "responseTargetHours")), 24);
    harness_response_free(&r);
    //  Another tenant keeps its own.
    r = harness_http("GET", "/v1/pipeline/settings", h->key_b, NULL, NULL);
    assert_string_equal(harness_json_str(&r, "timeZone"), "UTC");
    harness_response_free(&r);
}

// --- scheduling, listing, changing -------------------------------------------------------------

//  A member named name acting as key (the actor of a lead key creates, deleted again):
//  the salesperson of key sees the leads assigned to it. Its id into id.
static void s_member_of_key(const char *key, const char *name, char id[64]) {
    char lead[64], path[128], body[512];
    fixture_lead(key, "", lead);
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"actorId\":\"%s\"}", name,
             harness_json_str(&r, "createdBy"));
    harness_response_free(&r);
    s_expect(harness_http("DELETE", path, h->key_a, NULL, NULL), 204, NULL);
    r = harness_http("POST", "/v1/team/members", h->key_a, body, NULL);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

static void test_schedule_and_change(void **state) {
    (void)state;
    char lead[64], first[64], second[64], later[40], sooner[40], sam[64], kim[64], extra[128];
    s_member_of_key(s_key_sales, "Sam Lee", sam); // the sales key works Sam's leads
    fixture_member(h->key_a, "Kim Park", kim);
    snprintf(extra, sizeof extra, ",\"assigneeId\":\"%s\"", sam);
    fixture_lead(h->key_a, extra, lead);
    s_time_in(3 * 86400000LL, later);
    s_time_in(2 * 86400000LL, sooner);

    char body[512];
    snprintf(body, sizeof body,
             "{\"dueAt\":\"%s\",\"method\":\"email\",\"note\":\"Send the RAV4 brochure\"}", later);
    harness_response_t r = s_post_follow_up(h->key_a, lead, body);
    assert_int_equal(r.status, 201);
    snprintf(first, sizeof first, "%s", harness_json_str(&r, "id"));
    assert_non_null(strstr(r.location, first));
    assert_string_equal(harness_json_str(&r, "leadId"), lead);
    assert_string_equal(harness_json_str(&r, "method"), "email");
    assert_string_equal(harness_json_str(&r, "note"), "Send the RAV4 brochure");
    assert_string_equal(harness_json_str(&r, "status"), "pending");
    assert_string_equal(harness_json_str(&r, "assigneeId"), sam); // the lead's
    assert_int_equal(strlen(harness_json_str(&r, "contactId")), 36);
    assert_int_equal(s_epoch(harness_json_str(&r, "dueAt")), s_epoch(later));
    assert_false(s_flag(&r, "overdue"));
    assert_string_equal(harness_json_str(&r, "firedAt"), "");
    harness_response_free(&r);

    //  Read back where the Location says; not by another tenant.
    char path[256];
    snprintf(path, sizeof path, "/v1/leads/%s/follow-ups/%s", lead, first);
    r = harness_http("GET", path, s_key_sales, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "note"), "Send the RAV4 brochure");
    harness_response_free(&r);
    s_expect(harness_http("GET", path, h->key_b, NULL, NULL), 404, NULL);

    //  The lead's followUpAt is its earliest pending follow-up.
    r = s_get_lead(lead);
    assert_int_equal(s_epoch(harness_json_str(&r, "followUpAt")), s_epoch(later));
    assert_false(s_flag(&r, "overdue"));
    harness_response_free(&r);
    snprintf(body, sizeof body, "{\"dueAt\":\"%s\",\"method\":\"whatsapp\",\"assigneeId\":\"%s\"}",
             sooner, kim);
    s_follow_up(lead, body, second);
    r = s_get_lead(lead);
    assert_int_equal(s_epoch(harness_json_str(&r, "followUpAt")), s_epoch(sooner));
    harness_response_free(&r);

    //  The lead's list: soonest first, in pages.
    snprintf(path, sizeof path, "/v1/leads/%s/follow-ups?limit=1", lead);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), second);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(items, 0), "assigneeId")), kim);
    snprintf(path, sizeof path, "/v1/leads/%s/follow-ups?limit=1&cursor=%s", lead,
             harness_json_str(&r, "nextCursor"));
    harness_response_free(&r);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), first);
    assert_string_equal(harness_json_str(&r, "nextCursor"), "");
    harness_response_free(&r);

    //  A salesperson's list: theirs (own assignee, or the lead's), across leads.
    snprintf(path, sizeof path, "/v1/follow-ups?assigneeId=%s&status=pending", kim);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), second);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/follow-ups?assigneeId=%s", sam);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), first);
    harness_response_free(&r);
    char when[40];
    s_time_in(2 * 86400000LL + 3600000, when);
    snprintf(path, sizeof path, "/v1/follow-ups?dueBefore=%s", when);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    items = json_object_get(r.json, "items");
    bool seen_second = false, seen_first = false;
    for (size_t i = 0; i < json_array_size(items); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(items, i), "id"));
        seen_second |= strcmp(id, second) == 0;
        seen_first |= strcmp(id, first) == 0;
    }
    assert_true(seen_second && !seen_first);
    harness_response_free(&r);
    //  Another tenant sees none of it.
    r = harness_http("GET", "/v1/follow-ups", h->key_b, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/leads/%s/follow-ups", lead);
    s_expect(harness_http("GET", path, h->key_b, NULL, NULL), 404, NULL);

    //  Completing the sooner one: the lead's followUpAt is the later one again.
    r = s_patch_follow_up(s_key_sales, lead, second,
                          "{\"status\":\"completed\",\"note\":\"Left a message\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "status"), "completed");
    assert_string_equal(harness_json_str(&r, "note"), "Left a message");
    assert_true(strlen(harness_json_str(&r, "completedAt")) > 0);
    harness_response_free(&r);
    r = s_get_lead(lead);
    assert_int_equal(s_epoch(harness_json_str(&r, "followUpAt")), s_epoch(later));
    harness_response_free(&r);
    //  A completed one does not change again.
    s_expect(s_patch_follow_up(h->key_a, lead, second, "{\"status\":\"cancelled\"}"), 409, NULL);

    //  Rescheduling the other, then cancelling it: no follow-up left.
    r = s_patch_follow_up(h->key_a, lead, first, "{\"pick\":\"in_1_week\",\"method\":\"sms\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "method"), "sms");
    time_t week = s_epoch(harness_json_str(&r, "dueAt"));
    assert_true(week > time(NULL) + 6 * 86400 && week < time(NULL) + 8 * 86400);
    harness_response_free(&r);
    r = s_get_lead(lead);
    assert_int_equal(s_epoch(harness_json_str(&r, "followUpAt")), week);
    harness_response_free(&r);
    r = s_patch_follow_up(h->key_a, lead, first, "{\"status\":\"cancelled\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "status"), "cancelled");
    harness_response_free(&r);
    r = s_get_lead(lead);
    assert_string_equal(harness_json_str(&r, "followUpAt"), "");
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/leads/%s/follow-ups?status=cancelled", lead);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    harness_response_free(&r);
}

//  A lead's own followUpAt keeps working: it schedules and moves the lead's next follow-up.
static void test_lead_follow_up_at(void **state) {
    (void)state;
    char lead[64], at[40], extra[128], path[128], body[128];
    s_time_in(5 * 86400000LL, at);
    snprintf(extra, sizeof extra, ",\"followUpAt\":\"%s\"", at);
    fixture_lead(h->key_a, extra, lead);
    assert_int_equal(s_count("SELECT count(*) FROM leads.follow_ups WHERE lead_id = '%s'"
                             " AND status = 'pending' AND method = 'call'",
                             lead),
                     1);
    snprintf(path, sizeof path, "/v1/leads/%s/follow-ups", lead);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_int_equal(s_epoch(json_string_value(json_object_get(json_array_get(items, 0), "dueAt"))),
                     s_epoch(at));
    harness_response_free(&r);

    //  PATCH followUpAt moves that follow-up (none is added).
    s_time_in(6 * 86400000LL, at);
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    snprintf(body, sizeof body, "{\"followUpAt\":\"%s\"}", at);
    r = harness_http("PATCH", path, h->key_a, body, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "followUpAt"), at);
    harness_response_free(&r);
    assert_int_equal(s_count("SELECT count(*) FROM leads.follow_ups WHERE lead_id = '%s'", lead), 1);
    assert_int_equal(s_count("SELECT floor(extract(epoch FROM due_at))::bigint FROM leads.follow_ups"
                             " WHERE lead_id = '%s'",
                             lead),
                     s_epoch(at));
    //  ... and with a sooner follow-up scheduled, PATCH moves the sooner one.
    char sooner_at[40], sooner[64];
    s_time_in(86400000LL, sooner_at);
    snprintf(body, sizeof body, "{\"dueAt\":\"%s\"}", sooner_at);
    s_follow_up(lead, body, sooner);
    s_time_in(2 * 86400000LL, at);
    snprintf(body, sizeof body, "{\"followUpAt\":\"%s\"}", at);
    r = harness_http("PATCH", path, h->key_a, body, NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    assert_int_equal(s_count("SELECT floor(extract(epoch FROM due_at))::bigint FROM leads.follow_ups"
                             " WHERE id = '%s'",
                             sooner),
                     s_epoch(at));
    r = s_get_lead(lead);
    assert_int_equal(s_epoch(harness_json_str(&r, "followUpAt")), s_epoch(at));
    harness_response_free(&r);

    //  Clearing it cancels the lead's pending follow-ups.
    r = harness_http("PATCH", path, h->key_a, "{\"followUpAt\":null}", NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    assert_int_equal(s_count("SELECT count(*) FROM leads.follow_ups WHERE lead_id = '%s'"
                             " AND status = 'pending'",
                             lead),
                     0);
    r = s_get_lead(lead);
    assert_string_equal(harness_json_str(&r, "followUpAt"), "");
    harness_response_free(&r);
    //  A PATCH that does not name it leaves the follow-ups alone.
    snprintf(body, sizeof body, "{\"dueAt\":\"%s\"}", sooner_at);
    char kept[64];
    s_follow_up(lead, body, kept);
    r = harness_http("PATCH", path, h->key_a, "{\"priority\":\"hot\"}", NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    assert_int_equal(s_count("SELECT count(*) FROM leads.follow_ups WHERE lead_id = '%s'"
                             " AND status = 'pending'",
                             lead),
                     1);
}

// --- quick picks in the tenant's time zone -----------------------------------------------------

//  now + days at hour:00 (hour < 0: at the current wall-clock time) on zone's clock.
static time_t s_local(const char *zone, time_t now, int days, int hour) {
    char *saved = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    setenv("TZ", zone, 1);
    tzset();
    struct tm tm;
    localtime_r(&now, &tm);
    tm.tm_mday += days;
    if (hour >= 0) {
        tm.tm_hour = hour;
        tm.tm_min = 0;
        tm.tm_sec = 0;
    }
    tm.tm_isdst = -1;
    time_t at = mktime(&tm);
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else
        unsetenv("TZ");
    tzset();
    return at;
}

static time_t s_pick(const char *key, const char *lead, const char *pick) {
    char body[128];
    snprintf(body, sizeof body, "{\"pick\":\"%s\",\"method\":\"in_person\"}", pick);
    harness_response_t r = s_post_follow_up(key, lead, body);
    if (r.status != 201)
        fprintf(stderr, "pick %s: %ld %s\n", pick, r.status, r.body);
    assert_int_equal(r.status, 201);
    time_t at = s_epoch(harness_json_str(&r, "dueAt"));
    harness_response_free(&r);
    return at;
}

static void test_picks(void **state) {
    (void)state;
    //  tenant-a keeps time in Chicago (test_settings), tenant-b in UTC.
    harness_response_t r = harness_http("PATCH", "/v1/pipeline/settings", h->key_a,
                                        "{\"timeZone\":\"America/Chicago\"}", NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    char lead[64], lead_b[64];
    fixture_lead(h->key_a, "", lead);
    fixture_lead(h->key_b, "", lead_b);

    time_t before = time(NULL);
    time_t hour = s_pick(h->key_a, lead, "in_1_hour");
    time_t tomorrow = s_pick(h->key_a, lead, "tomorrow_9am");
    time_t three = s_pick(h->key_a, lead, "in_3_days");
    time_t week = s_pick(h->key_a, lead, "in_1_week");
    time_t tomorrow_b = s_pick(h->key_b, lead_b, "tomorrow_9am");
    time_t after = time(NULL);

    assert_true(hour >= before + 3600 && hour <= after + 3600);
    //  9:00 tomorrow on Chicago's wall clock (the test's own reckoning, through libc's
    //  tz database), whichever second of the run the service read the clock at.
    time_t want_before = s_local("America/Chicago", before, 1, 9);
    time_t want_after = s_local("America/Chicago", after, 1, 9);
    assert_true(tomorrow == want_before || tomorrow == want_after);
    struct tm utc;
    gmtime_r(&tomorrow, &utc);
    assert_true(utc.tm_hour == 14 || utc.tm_hour == 15); // 9:00 CDT or CST
    assert_true(tomorrow_b == s_local("UTC", before, 1, 9) ||
                tomorrow_b == s_local("UTC", after, 1, 9));
    //  The same wall-clock time days on (across a daylight-saving change too).
    assert_true(three >= s_local("America/Chicago", before, 3, -1) &&
                three <= s_local("America/Chicago", after, 3, -1));
    assert_true(week >= s_local("America/Chicago", before, 7, -1) &&
                week <= s_local("America/Chicago", after, 7, -1));
}

// --- bad input ------------------------------------------------------------------------------

static void test_refused(void **state) {
    (void)state;
    char lead[64], lead_b[64], fu[64], future[40], past[40], body[1400], path[192];
    fixture_lead(h->key_a, "", lead);
    fixture_lead(h->key_b, "", lead_b);
    s_time_in(86400000LL, future);
    s_time_in(-60000LL, past);
    snprintf(body, sizeof body, "{\"dueAt\":\"%s\"}", future);
    s_follow_up(lead, body, fu);

    long long before = s_written();
    snprintf(body, sizeof body, "{\"dueAt\":\"%s\",\"method\":\"call\"}", past);
    s_expect(s_post_follow_up(h->key_a, lead, body), 422, "dueAt");
    s_expect(s_post_follow_up(h->key_a, lead, "{\"dueAt\":\"next tuesday\"}"), 422, "dueAt");
    s_expect(s_post_follow_up(h->key_a, lead, "{\"dueAt\":\"2099-01-01\"}"), 422, "dueAt");
    s_expect(s_post_follow_up(h->key_a, lead, "{\"pick\":\"someday\"}"), 422, "pick");
    snprintf(body, sizeof body, "{\"dueAt\":\"%s\",\"method\":\"carrier_pigeon\"}", future);
    s_expect(s_post_follow_up(h->key_a, lead, body), 422, "method");
    snprintf(body, sizeof body, "{\"dueAt\":\"%s\",\"pick\":\"in_1_hour\"}", future);
    s_expect(s_post_follow_up(h->key_a, lead, body), 422, "pick");
    s_expect(s_post_follow_up(h->key_a, lead, "{\"method\":\"call\"}"), 422, "dueAt");
    char note[1100];
    memset(note, 'x', 1001);
    note[1001] = 0;
    snprintf(body, sizeof body, "{\"pick\":\"in_1_hour\",\"note\":\"%s\"}", note);
    s_expect(s_post_follow_up(h->key_a, lead, body), 422, "note");
    s_expect(s_post_follow_up(h->key_a, lead, "{\"pick\":\"in_1_hour\",\"status\":\"completed\"}"),
             422, "status");
    s_expect(s_post_follow_up(h->key_a, lead, "{\"pick\":1.5}"), 422, "pick");
    //  Another tenant's lead, a lead that is not, an id that is not one.
    s_expect(s_post_follow_up(h->key_a, lead_b, "{\"pick\":\"in_1_hour\"}"), 404, NULL);
    s_expect(s_post_follow_up(h->key_b, lead, "{\"pick\":\"in_1_hour\"}"), 404, NULL);
    s_expect(s_post_follow_up(h->key_a, "01a20269-a695-71c1-83c6-31a5bd5fa028",
                              "{\"pick\":\"in_1_hour\"}"),
             404, NULL);
    s_expect(s_post_follow_up(h->key_a, "nope", "{\"pick\":\"in_1_hour\"}"), 404, NULL);
    s_expect(s_post_follow_up(h->key_analyst, lead, "{\"pick\":\"in_1_hour\"}"), 403, NULL);
    //  Changes refused.
    s_expect(s_patch_follow_up(h->key_a, lead, fu, "{\"status\":\"pending\"}"), 422, "status");
    s_expect(s_patch_follow_up(h->key_a, lead, fu, "{\"status\":\"completed\",\"pick\":\"in_1_hour\"}"),
             422, "status");
    s_expect(s_patch_follow_up(h->key_a, lead, fu, "{\"firedAt\":\"2030-01-01T00:00:00Z\"}"), 422,
             "firedAt");
    snprintf(body, sizeof body, "{\"dueAt\":\"%s\"}", past);
    s_expect(s_patch_follow_up(h->key_a, lead, fu, body), 422, "dueAt");
    s_expect(s_patch_follow_up(h->key_a, lead, fu, "{\"method\":\"telegram\"}"), 422, "method");
    snprintf(body, sizeof body, "{\"note\":\"%s\"}", note);
    s_expect(s_patch_follow_up(h->key_a, lead, fu, body), 422, "note");
    s_expect(s_patch_follow_up(h->key_b, lead, fu, "{\"status\":\"completed\"}"), 404, NULL);
    s_expect(s_patch_follow_up(h->key_a, lead_b, fu, "{\"status\":\"completed\"}"), 404, NULL);
    s_expect(s_patch_follow_up(h->key_a, lead, "01a20269-a695-71c1-83c6-31a5bd5fa028",
                               "{\"status\":\"completed\"}"),
             404, NULL);
    s_expect(harness_http("GET", "/v1/follow-ups?dueBefore=soon", h->key_a, NULL, NULL), 422,
             "dueBefore");
    s_expect(harness_http("GET", "/v1/follow-ups?cursor=zzz", h->key_a, NULL, NULL), 422,
             "cursor");
    s_expect(harness_http("GET", "/v1/follow-ups?status=maybe", h->key_a, NULL, NULL), 422,
             "status");
    assert_int_equal(s_written(), before);

    //  A closed lead takes no new follow-up; closing cancelled its pending ones.
    snprintf(path, sizeof path, "/v1/leads/%s/status", lead);
    harness_response_t r = harness_http(
        "POST", path, h->key_a, "{\"status\":\"closed_lost\",\"lost\":{\"reason\":\"bad_credit\"}}",
        NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "followUpAt"), "");
    harness_response_free(&r);
    assert_int_equal(s_count("SELECT count(*) FROM leads.follow_ups WHERE lead_id = '%s'"
                             " AND status = 'cancelled' AND cancel_reason = 'lead_closed'",
                             lead),
                     1);
    s_expect(s_post_follow_up(h->key_a, lead, "{\"pick\":\"in_1_hour\"}"), 409, NULL);
    s_expect(s_patch_follow_up(h->key_a, lead, fu, "{\"status\":\"completed\"}"), 409, NULL);
}

// --- the scheduler -----------------------------------------------------------------------------

//  A SUB socket on the gateway's event stream for prefix, ready once a head arrives.
static zsock_t *s_subscriber(const char *prefix) {
    zsock_t *sub = harness_subscriber(prefix);
    assert_non_null(sub);
    zsock_set_rcvtimeo(sub, 10000);
    zsock_t *probe = harness_subscriber("leads._head");
    zsock_set_rcvtimeo(probe, 5000);
    zmsg_t *msg = zmsg_recv(probe);
    assert_non_null(msg);
    zmsg_destroy(&msg);
    zsock_destroy(&probe);
    return sub;
}

//  The next FollowUpDue on sub for lead (caller frees), NULL after the receive timeout.
static Crm__Events__FollowUpDue *s_next_due(zsock_t *sub, const char *lead) {
    int64_t deadline = zclock_mono() + zsock_rcvtimeo(sub);
    while (zclock_mono() < deadline) {
        zmsg_t *msg = zmsg_recv(sub);
        if (!msg)
            return NULL;
        char *topic = zmsg_popstr(msg);
        zframe_t *body = zmsg_pop(msg);
        Crm__Events__FollowUpDue *due = NULL;
        if (strcmp(topic, "leads.tenant-a.FollowUpDue") == 0) {
            Crm__Event *event = crm__event__unpack(NULL, zframe_size(body), zframe_data(body));
            assert_non_null(event);
            if (strcmp(event->aggregate_id, lead) == 0)
                due = crm__events__follow_up_due__unpack(NULL, event->payload.len,
                                                         event->payload.data);
            crm__event__free_unpacked(event, NULL);
        }
        zstr_free(&topic);
        zframe_destroy(&body);
        zmsg_destroy(&msg);
        if (due)
            return due;
    }
    return NULL;
}

static void test_fires_once(void **state) {
    (void)state;
    char lead[64], fu[64], at[40], body[256], contact[64], dana[64], extra[128];
    fixture_member(h->key_a, "Dana Cruz", dana);
    snprintf(extra, sizeof extra, ",\"assigneeId\":\"%s\"", dana);
    fixture_lead(h->key_a, extra, lead);
    harness_response_t r = s_get_lead(lead);
    snprintf(contact, sizeof contact, "%s", harness_json_str(&r, "contactId"));
    harness_response_free(&r);
    zsock_t *sub = s_subscriber("leads.tenant-a.FollowUpDue");

    s_time_in(1500, at);
    snprintf(body, sizeof body,
             "{\"dueAt\":\"%s\",\"method\":\"sms\",\"note\":\"Ask about the trade-in\"}", at);
    s_follow_up(lead, body, fu);
    assert_int_equal(s_fired(lead), 0);

    Crm__Events__FollowUpDue *due = s_next_due(sub, lead);
    assert_non_null(due);
    assert_string_equal(due->follow_up_id, fu);
    assert_string_equal(due->lead_id, lead);
    assert_string_equal(due->contact_id, contact);
    assert_string_equal(due->method, "sms");
    assert_string_equal(due->note, "Ask about the trade-in");
    assert_string_equal(due->assignee_id, dana);
    assert_int_equal(s_epoch(due->due_at), s_epoch(at));
    crm__events__follow_up_due__free_unpacked(due, NULL);
    //  Not before its time, and once (two leads processes, two schedulers).
    assert_true(s_count("SELECT count(*) FROM leads.follow_ups WHERE id = '%s'"
                        " AND fired_at >= due_at",
                        fu) == 1);
    zclock_sleep(1000);
    assert_int_equal(s_fired(lead), 1);
    zsock_destroy(&sub);

    //  Still to do: pending, and the lead is overdue (and in the overdue list).
    char path[192];
    snprintf(path, sizeof path, "/v1/leads/%s/follow-ups", lead);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    json_t *item = json_array_get(json_object_get(r.json, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(item, "status")), "pending");
    assert_true(json_is_true(json_object_get(item, "overdue")));
    assert_true(strlen(json_string_value(json_object_get(item, "firedAt"))) > 0);
    harness_response_free(&r);
    r = s_get_lead(lead);
    assert_true(s_flag(&r, "overdue"));
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/leads?overdue=true&assigneeId=%s", dana);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    assert_true(json_is_true(
        json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "overdue")));
    harness_response_free(&r);

    //  Rescheduled, it fires again at its new time; completed, the lead is not overdue.
    s_time_in(1000, at);
    snprintf(body, sizeof body, "{\"dueAt\":\"%s\"}", at);
    r = s_patch_follow_up(h->key_a, lead, fu, body);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "firedAt"), "");
    harness_response_free(&r);
    assert_int_equal(s_wait_fired(lead, 2, 10000), 2);
    r = s_patch_follow_up(h->key_a, lead, fu, "{\"status\":\"completed\"}");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = s_get_lead(lead);
    assert_false(s_flag(&r, "overdue"));
    harness_response_free(&r);
}

//  Completed, cancelled, and a closed or deleted lead's follow-ups do not fire.
static void test_settled_do_not_fire(void **state) {
    (void)state;
    char fires[64], completed[64], cancelled[64], closed[64], deleted[64], fu[64], at[40],
        body[128], path[192];
    fixture_lead(h->key_a, "", fires);
    fixture_lead(h->key_a, "", completed);
    fixture_lead(h->key_a, "", cancelled);
    fixture_lead(h->key_a, "", closed);
    fixture_lead(h->key_a, "", deleted);
    s_time_in(2500, at);
    snprintf(body, sizeof body, "{\"dueAt\":\"%s\"}", at);
    s_follow_up(fires, body, fu);
    s_follow_up(completed, body, fu);
    harness_response_t r = s_patch_follow_up(h->key_a, completed, fu, "{\"status\":\"completed\"}");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    s_follow_up(cancelled, body, fu);
    r = s_patch_follow_up(h->key_a, cancelled, fu, "{\"status\":\"cancelled\"}");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    s_follow_up(closed, body, fu);
    snprintf(path, sizeof path, "/v1/leads/%s/status", closed);
    r = harness_http("POST", path, h->key_a,
                     "{\"status\":\"closed_lost\",\"lost\":{\"reason\":\"other\"}}", NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    s_follow_up(deleted, body, fu);
    snprintf(path, sizeof path, "/v1/leads/%s", deleted);
    r = harness_http("DELETE", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    assert_int_equal(s_count("SELECT count(*) FROM leads.follow_ups WHERE lead_id = '%s'"
                             " AND status = 'cancelled' AND cancel_reason = 'lead_deleted'",
                             deleted),
                     1);

    assert_int_equal(s_wait_fired(fires, 1, 10000), 1);
    zclock_sleep(1000);
    assert_int_equal(s_fired(fires), 1);
    assert_int_equal(s_fired(completed), 0);
    assert_int_equal(s_fired(cancelled), 0);
    assert_int_equal(s_fired(closed), 0);
    assert_int_equal(s_fired(deleted), 0);
}

//  Many due at once, shared by two schedulers: each fires exactly once.
static void test_many_fire_once_each(void **state) {
    (void)state;
    char lead[64];
    fixture_lead(h->key_a, "", lead);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO leads.follow_ups (tenant_id, id, lead_id, due_at, method, created_at,"
             " updated_at) SELECT 'tenant-a', gen_random_uuid(), '%s', now() + interval '1 second'"
             " + (i %% 7) * interval '1 millisecond', 'call', now(), now()"
             " FROM generate_series(1, 3000) i",
             lead);
    sql_exec(sql);
    assert_int_equal(s_wait_fired(lead, 3000, 30000), 3000);
    zclock_sleep(1000);
    assert_int_equal(s_fired(lead), 3000);
    assert_int_equal(s_count("SELECT count(*) FROM leads.follow_ups WHERE lead_id = '%s'"
                             " AND fired_at IS NOT NULL",
                             lead),
                     3000);
}

//  A follow-up due while the suite is down fires once when it is back.
static void test_fires_after_restart(void **state) {
    (void)state;
    char lead[64], fu[64], at[40], body[128];
    fixture_lead(h->key_a, "", lead);
    s_time_in(1500, at);
    snprintf(body, sizeof body, "{\"dueAt\":\"%s\"}", at);
    s_follow_up(lead, body, fu);
    harness_restart_suite();
    assert_int_equal(s_wait_fired(lead, 1, 15000), 1);
    zclock_sleep(1000);
    assert_int_equal(s_fired(lead), 1);
    //  And what fired before the restart does not fire again.
    assert_int_equal(sql_scalar("SELECT count(*) - count(DISTINCT aggregate_id || ':' ||"
                                " encode(payload, 'hex')) FROM leads.outbox"
                                " WHERE type = 'FollowUpDue'"),
                     0);
}

// --- the response-target flag ------------------------------------------------------------------

static void test_missed_response_target(void **state) {
    (void)state;
    char stale[64], young[64], touched[64], path[192], rtt[64], extra[128];
    fixture_member(h->key_a, "Robin Tate", rtt);
    snprintf(extra, sizeof extra, ",\"assigneeId\":\"%s\"", rtt);
    fixture_lead(h->key_a, extra, stale);
    fixture_lead(h->key_a, extra, young);
    fixture_lead(h->key_a, extra, touched);
    harness_response_t r = s_get_lead(stale);
    assert_false(s_flag(&r, "missedResponseTarget"));
    harness_response_free(&r);
    //  Made 30 h ago (stale, touched), 10 h ago (young): past the 24 h target or not.
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE leads.leads SET created_at = now() - interval '30 hours',"
             " last_activity_at = now() - interval '30 hours' WHERE id IN ('%s', '%s')",
             stale, touched);
    sql_exec(sql);
    snprintf(sql, sizeof sql,
             "UPDATE leads.leads SET created_at = now() - interval '10 hours',"
             " last_activity_at = now() - interval '10 hours' WHERE id = '%s'",
             young);
    sql_exec(sql);
    snprintf(path, sizeof path, "/v1/leads/%s/status", touched);
    r = harness_http("POST", path, h->key_a, "{\"status\":\"contacted\"}", NULL);
    assert_int_equal(r.status, 200);
    assert_false(s_flag(&r, "missedResponseTarget"));
    harness_response_free(&r);

    r = s_get_lead(stale);
    assert_true(s_flag(&r, "missedResponseTarget"));
    harness_response_free(&r);
    r = s_get_lead(young);
    assert_false(s_flag(&r, "missedResponseTarget"));
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/leads?assigneeId=%s&missedResponseTarget=true", rtt);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), stale);
    harness_response_free(&r);

    //  A tighter target catches the younger one too.
    r = harness_http("PATCH", "/v1/pipeline/settings", h->key_a, "{\"responseTargetHours\":8}",
                     NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/leads?assigneeId=%s&missedResponseTarget=true", rtt);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2);
    harness_response_free(&r);
    r = harness_http("PATCH", "/v1/pipeline/settings", h->key_a, "{\"responseTargetHours\":24}",
                     NULL);
    harness_response_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_schedule_and_change),
        cmocka_unit_test(test_lead_follow_up_at),
        cmocka_unit_test(test_picks),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_fires_once),
        cmocka_unit_test(test_settled_do_not_fire),
        cmocka_unit_test(test_many_fire_once_each),
        cmocka_unit_test(test_missed_response_target),
        cmocka_unit_test(test_fires_after_restart),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
