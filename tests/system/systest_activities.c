/*  System tests of a lead's activities, its timeline and the daily hot sheet: the whole
    suite driven over HTTP; events and last activity read from leads' tables. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <time.h>

#include "events.pb-c.h"
#include "systest_fixtures.h"
#include "systest_sql.h"

static harness_t *h;
static char s_key_hot[64];  // admin key of tenant-hot (the hot sheet's own tenant)

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    harness_create_key("tenant-hot", "admin", s_key_hot, sizeof s_key_hot);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  POST /v1/leads/{lead}/activities with body.
static harness_response_t s_log(const char *key, const char *lead, const char *body) {
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/activities", lead);
    return harness_http("POST", path, key, body, NULL);
}

//  Log an activity that must be accepted; its id into id (may be NULL).
static void s_log_ok(const char *lead, const char *body, char *id) {
    harness_response_t r = s_log(h->key_a, lead, body);
    if (r.status != 201)
        fprintf(stderr, "log activity: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    if (id)
        snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

static harness_response_t s_get(const char *key, const char *fmt, const char *a, const char *b) {
    char path[512];
    snprintf(path, sizeof path, fmt, a, b);
    return harness_http("GET", path, key, NULL, NULL);
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

static long long s_count(const char *fmt, const char *arg) {
    char sql[1024];
    snprintf(sql, sizeof sql, fmt, arg);
    return sql_scalar(sql);
}

//  The lead's LeadActivityLogged events, oldest first, decoded (n at most); how many.
static size_t s_events(const char *lead, Crm__Events__LeadActivityLogged **out, size_t n) {
    PGconn *db = PQconnectdb(h->dsn);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    const char *params[] = {lead};
    PGresult *res = PQexecParams(db,
                                 "SELECT payload FROM leads.outbox WHERE aggregate_id = $1"
                                 " AND type = 'LeadActivityLogged' ORDER BY occurred_at, event_id",
                                 1, NULL, params, NULL, NULL, 1);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    size_t rows = (size_t)PQntuples(res);
    for (size_t i = 0; i < rows && i < n; i++) {
        out[i] = crm__events__lead_activity_logged__unpack(
            NULL, (size_t)PQgetlength(res, (int)i, 0), (const uint8_t *)PQgetvalue(res, (int)i, 0));
        assert_non_null(out[i]);
    }
    PQclear(res);
    PQfinish(db);
    return rows;
}

static void s_events_free(Crm__Events__LeadActivityLogged **events, size_t n) {
    for (size_t i = 0; i < n; i++)
        crm__events__lead_activity_logged__free_unpacked(events[i], NULL);
}

//  An RFC 3339 time seconds from now (negative: in the past).
static void s_time_from_now(long seconds, char out[40]) {
    time_t t = time(NULL) + seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

//  The kinds of a list's items, in order, joined by ',' into out.
static void s_kinds(const harness_response_t *r, char *out, size_t size) {
    json_t *items = json_object_get(r->json, "items");
    out[0] = 0;
    for (size_t i = 0; i < json_array_size(items); i++) {
        const char *kind = json_string_value(json_object_get(json_array_get(items, i), "kind"));
        snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "", kind ? kind : "?");
    }
}

// --- logging ---------------------------------------------------------------------------

static void test_log_call(void **state) {
    (void)state;
    char lead[64], id[64];
    fixture_lead(h->key_a, "", lead);
    //  The lead was last touched a day ago.
    s_count("UPDATE leads.leads SET last_activity_at = now() - interval '1 day'"
            " WHERE id = '%s' RETURNING 1", lead);
    harness_response_t r =
        s_log(h->key_a, lead,
              "{\"kind\":\"call\",\"durationSeconds\":185,\"outcome\":\"connected\","
              "\"nextSteps\":\"Send the RAV4 brochure\",\"notes\":\"Wants a hybrid\"}");
    if (r.status != 201)
        fprintf(stderr, "%s\n", r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, sizeof id, "%s", harness_json_str(&r, "id"));
    assert_int_equal(strlen(id), 36);
    assert_string_equal(harness_json_str(&r, "kind"), "call");
    assert_string_equal(harness_json_str(&r, "outcome"), "connected");
    assert_string_equal(harness_json_str(&r, "leadId"), lead);
    assert_string_equal(harness_json_str(&r, "nextSteps"), "Send the RAV4 brochure");
    assert_string_equal(harness_json_str(&r, "notes"), "Wants a hybrid");
    assert_int_equal(json_integer_value(json_object_get(r.json, "durationSeconds")), 185);
    assert_true(harness_json_str(&r, "occurredAt")[0]);
    assert_true(harness_json_str(&r, "actorId")[0]);
    harness_response_free(&r);

    //  Last activity moved to now.
    assert_int_equal(s_count("SELECT count(*) FROM leads.leads WHERE id = '%s'"
                             " AND last_activity_at > now() - interval '1 minute'", lead),
                     1);
    //  Its event, in the same transaction.
    Crm__Events__LeadActivityLogged *ev[2];
    assert_int_equal(s_events(lead, ev, 2), 1);
    assert_string_equal(ev[0]->activity_id, id);
    assert_string_equal(ev[0]->lead_id, lead);
    assert_string_equal(ev[0]->kind, "call");
    assert_string_equal(ev[0]->outcome, "connected");
    assert_int_equal(ev[0]->duration_s, 185);
    assert_int_equal(strlen(ev[0]->contact_id), 36);
    assert_int_equal(ev[0]->n_changed, 0);
    s_events_free(ev, 1);

    //  A call logged late, for yesterday, does not move last activity back.
    char yesterday[40];
    s_time_from_now(-86400, yesterday);
    char body[256];
    snprintf(body, sizeof body,
             "{\"kind\":\"call\",\"outcome\":\"voicemail\",\"occurredAt\":\"%s\"}", yesterday);
    s_log_ok(lead, body, NULL);
    assert_int_equal(s_count("SELECT count(*) FROM leads.leads WHERE id = '%s'"
                             " AND last_activity_at > now() - interval '1 minute'", lead),
                     1);

    //  Newest first.
    r = s_get(h->key_a, "/v1/leads/%s/activities", lead, "");
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 2);
    //  A log retried with its Idempotency-Key is logged once.
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/activities", lead);
    const char *idem[] = {"Idempotency-Key: activity-retried", NULL};
    harness_response_t first = harness_http("POST", path, h->key_a,
                                            "{\"kind\":\"note\",\"notes\":\"once\"}", idem);
    harness_response_t again = harness_http("POST", path, h->key_a,
                                            "{\"kind\":\"note\",\"notes\":\"once\"}", idem);
    assert_int_equal(first.status, 201);
    assert_int_equal(again.status, 201);
    assert_string_equal(harness_json_str(&again, "id"), harness_json_str(&first, "id"));
    assert_non_null(strstr(first.location, harness_json_str(&first, "id")));
    harness_response_free(&first);
    harness_response_free(&again);
    assert_int_equal(s_events(lead, NULL, 0), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), id);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(items, 1), "outcome")), "voicemail");
    harness_response_free(&r);
}

static void test_every_kind(void **state) {
    (void)state;
    char lead[64], soon[40], before[40], body[1024];
    fixture_lead(h->key_a, "", lead);
    s_time_from_now(3 * 86400, soon);
    s_time_from_now(-600, before);
    s_log_ok(lead, "{\"kind\":\"meeting\",\"notes\":\"Walked the lot\",\"nextSteps\":\"Quote\"}",
             NULL);
    s_log_ok(lead,
             "{\"kind\":\"email\",\"direction\":\"outbound\",\"subject\":\"Your quote\","
             "\"body\":\"Here it is\"}",
             NULL);
    s_log_ok(lead,
             "{\"kind\":\"chat\",\"transcript\":[{\"from\":\"visitor\",\"text\":\"Is the RAV4 "
             "in stock?\",\"at\":\"2026-11-20T10:00:00Z\"},{\"from\":\"agent\",\"text\":\"Yes, "
             "two.\"}]}",
             NULL);
    s_log_ok(lead, "{\"kind\":\"note\",\"notes\":\"Prefers texts\"}", NULL);
    char appointment[64];
    snprintf(body, sizeof body,
             "{\"kind\":\"appointment\",\"scheduledAt\":\"%s\",\"notes\":\"Showroom\"}", soon);
    harness_response_t r = s_log(h->key_a, lead, body);
    assert_int_equal(r.status, 201);
    snprintf(appointment, sizeof appointment, "%s", harness_json_str(&r, "id"));
    assert_string_equal(harness_json_str(&r, "status"), "scheduled");
    assert_string_equal(harness_json_str(&r, "scheduledAt"), harness_json_str(&r, "occurredAt"));
    harness_response_free(&r);
    snprintf(body, sizeof body,
             "{\"kind\":\"test_drive\",\"scheduledAt\":\"%s\",\"status\":\"completed\","
             "\"vehicle\":{\"make\":\"Toyota\",\"model\":\"RAV4\",\"vin\":\"1m8gdm9axkp042788\"}}",
             before);
    r = s_log(h->key_a, lead, body);
    assert_int_equal(r.status, 201);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "vehicle"), "vin")),
        "1M8GDM9AXKP042788");
    assert_string_equal(harness_json_str(&r, "status"), "completed");
    harness_response_free(&r);
    //  A future appointment does not put last activity in the future.
    assert_int_equal(
        s_count("SELECT count(*) FROM leads.leads WHERE id = '%s' AND last_activity_at <= now()",
                lead),
        1);
    assert_int_equal(s_events(lead, NULL, 0), 6);

    //  Newest first: the appointment (in three days), then the rest.
    char kinds[256];
    r = s_get(h->key_a, "/v1/leads/%s/activities", lead, "");
    s_kinds(&r, kinds, sizeof kinds);
    assert_string_equal(kinds, "appointment,note,chat,email,meeting,test_drive");
    json_t *chat = json_array_get(json_object_get(r.json, "items"), 2);
    json_t *lines = json_object_get(chat, "transcript");
    assert_int_equal(json_array_size(lines), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 0), "from")),
                        "visitor");
    harness_response_free(&r);
    r = s_get(h->key_a, "/v1/leads/%s/activities?kind=email", lead, "");
    s_kinds(&r, kinds, sizeof kinds);
    assert_string_equal(kinds, "email");
    harness_response_free(&r);

    //  Paged two at a time: every activity once, in the same order.
    char all[512] = "", cursor[256] = "";
    for (int page = 0; page < 5; page++) {
        char path[512];
        snprintf(path, sizeof path, "/v1/leads/%s/activities?limit=2%s%s", lead,
                 cursor[0] ? "&cursor=" : "", cursor);
        r = harness_http("GET", path, h->key_a, NULL, NULL);
        assert_int_equal(r.status, 200);
        s_kinds(&r, kinds, sizeof kinds);
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", all[0] ? "," : "", kinds);
        snprintf(cursor, sizeof cursor, "%s", harness_json_str(&r, "nextCursor"));
        harness_response_free(&r);
        if (!cursor[0])
            break;
    }
    assert_string_equal(all, "appointment,note,chat,email,meeting,test_drive");
}

//  Rows a refused request must not change: activities, leads' outbox, and last activity.
static long long s_written(void) {
    sql_scores_settled(); // the score on a lead is written after each change of it
    return sql_scalar("SELECT (SELECT count(*) FROM leads.activities)"
                      " + " SQL_LEADS_OUTBOX_OWN
                      " + (SELECT coalesce(sum(extract(epoch FROM last_activity_at)), 0)::bigint"
                      "    FROM leads.leads)");
}

static void test_log_refused(void **state) {
    (void)state;
    char lead[64], other[64], soon[40], body[512];
    fixture_lead(h->key_a, "", lead);
    fixture_lead(h->key_b, "", other);
    s_time_from_now(3600, soon);
    long long before = s_written();

    s_expect(s_log(h->key_a, lead, "{\"kind\":\"carrier_pigeon\"}"), 422, "kind");
    s_expect(s_log(h->key_a, lead, "{\"notes\":\"no kind\"}"), 422, "kind");
    s_expect(s_log(h->key_a, lead, "{\"kind\":\"status_change\",\"toStage\":\"won\"}"), 422,
             "kind");
    s_expect(s_log(h->key_a, lead, "{\"kind\":\"call\",\"outcome\":\"exploded\"}"), 422,
             "outcome");
    s_expect(s_log(h->key_a, lead, "{\"kind\":\"call\",\"durationSeconds\":60}"), 422, "outcome");
    s_expect(s_log(h->key_a, lead,
                   "{\"kind\":\"call\",\"outcome\":\"connected\",\"durationSeconds\":-5}"),
             422, "durationSeconds");
    s_expect(s_log(h->key_a, lead, "{\"kind\":\"email\",\"direction\":\"outbound\","
                                   "\"durationSeconds\":5}"),
             422, "durationSeconds");
    s_expect(s_log(h->key_a, lead, "{\"kind\":\"email\",\"subject\":\"Hi\"}"), 422, "direction");
    s_expect(s_log(h->key_a, lead, "{\"kind\":\"appointment\",\"notes\":\"when?\"}"), 422,
             "scheduledAt");
    s_expect(s_log(h->key_a, lead, "{\"kind\":\"test_drive\",\"scheduledAt\":\"tomorrow\"}"), 422,
             "scheduledAt");
    snprintf(body, sizeof body,
             "{\"kind\":\"appointment\",\"scheduledAt\":\"%s\",\"status\":\"no_show\"}", soon);
    s_expect(s_log(h->key_a, lead, body), 422, "status");
    snprintf(body, sizeof body,
             "{\"kind\":\"call\",\"outcome\":\"connected\",\"occurredAt\":\"%s\"}", soon);
    s_expect(s_log(h->key_a, lead, body), 422, "occurredAt");
    snprintf(body, sizeof body, "{\"kind\":\"note\",\"notes\":\"x\",\"occurredAt\":\"%s\"}", soon);
    s_expect(s_log(h->key_a, lead, body), 422, "occurredAt");
    s_expect(s_log(h->key_a, lead, "{\"kind\":\"note\"}"), 422, "notes");
    s_expect(s_log(h->key_a, lead, "{\"kind\":\"chat\"}"), 422, "transcript");
    s_expect(s_log(h->key_a, lead, "{\"kind\":\"chat\",\"transcript\":[{\"text\":\"hi\"}]}"), 422,
             "transcript[0].from");
    s_expect(s_log(h->key_a, lead,
                   "{\"kind\":\"chat\",\"transcript\":[{\"from\":\"robot\",\"text\":\"hi\"}]}"),
             422, "transcript[0].from");
    //  A transcript too long: 501 lines.
    size_t size = 600 * 40;
    char *chat = malloc(size);
    size_t len = (size_t)snprintf(chat, size, "{\"kind\":\"chat\",\"transcript\":[");
    for (int i = 0; i < 501; i++)
        len += (size_t)snprintf(chat + len, size - len, "%s{\"from\":\"visitor\",\"text\":\"hi\"}",
                                i ? "," : "");
    snprintf(chat + len, size - len, "]}");
    s_expect(s_log(h->key_a, lead, chat), 422, "transcript");
    free(chat);
    //  Another tenant's lead, a lead that is not there, an id that is not one.
    s_expect(s_log(h->key_a, other, "{\"kind\":\"note\",\"notes\":\"mine?\"}"), 404, NULL);
    s_expect(s_log(h->key_a, "01a20269-a695-71c1-83c6-31a5bd5fa028",
                   "{\"kind\":\"note\",\"notes\":\"x\"}"),
             404, NULL);
    s_expect(s_log(h->key_a, "nope", "{\"kind\":\"note\",\"notes\":\"x\"}"), 404, NULL);
    s_expect(s_get(h->key_a, "/v1/leads/%s/activities", other, ""), 404, NULL);
    s_expect(s_get(h->key_a, "/v1/leads/%s/timeline", other, ""), 404, NULL);
    //  Malformed input, and the analyst's read-only key.
    s_expect(s_log(h->key_a, lead, "{\"kind\":\"call\",\"durationSeconds\":\"long\"}"), 400, NULL);
    s_expect(s_log(h->key_analyst, lead, "{\"kind\":\"note\",\"notes\":\"x\"}"), 403, NULL);
    s_expect(s_get(h->key_a, "/v1/leads/%s/activities?cursor=zzz", lead, ""), 422, "cursor");
    assert_int_equal(s_written(), before);
}

//  Poll sql (a count) until it is 1, up to 10 s; whether it got there.
static bool s_wait_for(const char *sql) {
    for (int i = 0; i < 200; i++) {
        if (sql_scalar(sql) == 1)
            return true;
        zclock_sleep(50);
    }
    return false;
}

static void test_contact_last_activity(void **state) {
    (void)state;
    char lead[64], contact[64], sql[512], soon[40], earlier[40], body[256];
    fixture_lead(h->key_a, "", lead);
    harness_response_t r = s_get(h->key_a, "/v1/leads/%s", lead, "");
    snprintf(contact, sizeof contact, "%s", harness_json_str(&r, "contactId"));
    harness_response_free(&r);
    //  Once the contacts service has the lead, its contact was last active a day ago.
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts.contacts WHERE id = '%s' AND lead_count = 1", contact);
    assert_true(s_wait_for(sql));
    snprintf(sql, sizeof sql,
             "UPDATE contacts.contacts SET last_activity_at = now() - interval '1 day'"
             " WHERE id = '%s' RETURNING 1", contact);
    sql_scalar(sql);
    //  An appointment booked three days ahead, then a note of two hours ago: the contact
    //  was active now (the booking), not in three days.
    s_time_from_now(3 * 86400, soon);
    s_time_from_now(-7200, earlier);
    snprintf(body, sizeof body, "{\"kind\":\"appointment\",\"scheduledAt\":\"%s\"}", soon);
    s_log_ok(lead, body, NULL);
    snprintf(body, sizeof body, "{\"kind\":\"note\",\"notes\":\"x\",\"occurredAt\":\"%s\"}",
             earlier);
    s_log_ok(lead, body, NULL);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts.contacts WHERE id = '%s'"
             " AND last_activity_at > now() - interval '1 hour'", contact);
    assert_true(s_wait_for(sql));
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts.contacts WHERE id = '%s' AND last_activity_at <= now()",
             contact);
    assert_int_equal(sql_scalar(sql), 1);
}

// --- changing ----------------------------------------------------------------------------

static harness_response_t s_patch(const char *key, const char *lead, const char *id,
                                  const char *body) {
    char path[256];
    snprintf(path, sizeof path, "/v1/leads/%s/activities/%s", lead, id);
    return harness_http("PATCH", path, key, body, NULL);
}

static void test_update(void **state) {
    (void)state;
    char lead[64], call[64], future[64], past[64], soon[40], before[40], body[512];
    fixture_lead(h->key_a, "", lead);
    s_time_from_now(2 * 86400, soon);
    s_time_from_now(-3600, before);
    s_log_ok(lead, "{\"kind\":\"call\",\"outcome\":\"no_answer\",\"notes\":\"Rang twice\"}", call);
    snprintf(body, sizeof body, "{\"kind\":\"appointment\",\"scheduledAt\":\"%s\"}", soon);
    s_log_ok(lead, body, future);
    snprintf(body, sizeof body, "{\"kind\":\"test_drive\",\"scheduledAt\":\"%s\"}", before);
    s_log_ok(lead, body, past);

    //  A test drive whose time has come is completed.
    harness_response_t r = s_patch(h->key_a, lead, past, "{\"status\":\"completed\"}");
    if (r.status != 200)
        fprintf(stderr, "%s\n", r.body);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "status"), "completed");
    assert_string_equal(harness_json_str(&r, "kind"), "test_drive");
    assert_true(harness_json_str(&r, "updatedAt")[0]);
    harness_response_free(&r);
    Crm__Events__LeadActivityLogged *ev[8];
    size_t n = s_events(lead, ev, 8);
    assert_int_equal(n, 4);
    assert_string_equal(ev[3]->activity_id, past);
    assert_string_equal(ev[3]->outcome, "completed");
    assert_int_equal(ev[3]->n_changed, 1);
    assert_string_equal(ev[3]->changed[0], "status");
    s_events_free(ev, n);

    //  A call's notes and outcome; what is not named stays.
    r = s_patch(h->key_a, lead, call, "{\"outcome\":\"connected\",\"durationSeconds\":90}");
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "outcome"), "connected");
    assert_string_equal(harness_json_str(&r, "notes"), "Rang twice");
    harness_response_free(&r);

    //  The appointment moves; its time follows.
    char later[40];
    s_time_from_now(4 * 86400, later);
    snprintf(body, sizeof body, "{\"scheduledAt\":\"%s\"}", later);
    r = s_patch(h->key_a, lead, future, body);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "scheduledAt"), harness_json_str(&r, "occurredAt"));
    assert_int_equal(s_count("SELECT count(*) FROM leads.activities WHERE id = '%s'"
                             " AND occurred_at > now() + interval '3 days'", future),
                     1);
    harness_response_free(&r);

    long long written = s_written();
    //  Not before its time, not another kind, not the fields of another kind.
    s_expect(s_patch(h->key_a, lead, future, "{\"status\":\"no_show\"}"), 422, "status");
    s_expect(s_patch(h->key_a, lead, future, "{\"status\":\"postponed\"}"), 422, "status");
    s_expect(s_patch(h->key_a, lead, call, "{\"kind\":\"email\"}"), 422, "kind");
    s_expect(s_patch(h->key_a, lead, call, "{\"subject\":\"Hi\"}"), 422, "subject");
    s_expect(s_patch(h->key_a, lead, call, "{\"durationSeconds\":-1}"), 422, "durationSeconds");
    s_expect(s_patch(h->key_a, lead, call, "{\"outcome\":null}"), 422, "outcome");
    s_expect(s_patch(h->key_a, lead, call, "{\"color\":\"red\"}"), 422, "color");
    assert_int_equal(s_written(), written);
    //  Called off before its time: cancelled is a status at any time.
    r = s_patch(h->key_a, lead, future, "{\"status\":\"cancelled\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "status"), "cancelled");
    harness_response_free(&r);
    //  Another tenant's, another lead's, none at all.
    char other_lead[64];
    fixture_lead(h->key_a, "", other_lead);
    written = s_written();
    s_expect(s_patch(h->key_b, lead, call, "{\"notes\":\"x\"}"), 404, NULL);
    s_expect(s_patch(h->key_a, other_lead, call, "{\"notes\":\"x\"}"), 404, NULL);
    s_expect(s_patch(h->key_a, lead, "01a20269-a695-71c1-83c6-31a5bd5fa028", "{\"notes\":\"x\"}"),
             404, NULL);
    assert_int_equal(s_written(), written);
}

// --- status changes and the timeline -----------------------------------------------------

//  A salesperson changes only the activities they logged (403 for another's, the activity
//  untouched); a manager or an admin changes any.
static void test_update_own_only(void **state) {
    (void)state;
    char ann[64], bob[64], manager[64], lead[64], anns[64], admins[64];
    harness_create_key("tenant-a", "sales", ann, sizeof ann);
    harness_create_key("tenant-a", "sales", bob, sizeof bob);
    harness_create_key("tenant-a", "manager", manager, sizeof manager);
    fixture_lead(h->key_a, "", lead);
    harness_response_t r =
        s_log(ann, lead, "{\"kind\":\"call\",\"outcome\":\"no_answer\",\"notes\":\"Ann rang\"}");
    assert_int_equal(r.status, 201);
    snprintf(anns, sizeof anns, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    s_log_ok(lead, "{\"kind\":\"call\",\"outcome\":\"no_answer\",\"notes\":\"Admin rang\"}",
             admins);
    //  Bob may not change Ann's call, nor the admin's; nothing changes.
    r = s_patch(bob, lead, anns, "{\"notes\":\"Bob was here\"}");
    assert_int_equal(r.status, 403);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
        "forbidden");
    harness_response_free(&r);
    r = s_patch(ann, lead, admins, "{\"notes\":\"Ann was here\"}");
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.activities WHERE details::text LIKE '%%was here%%'"
             " AND lead_id = '%s'",
             lead);
    assert_int_equal(harness_sql_scalar(sql), 0);
    //  Ann changes her own; the manager changes anyone's.
    r = s_patch(ann, lead, anns, "{\"notes\":\"Ann rang twice\"}");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = s_patch(manager, lead, anns, "{\"notes\":\"Ann rang three times\"}");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = s_patch(h->key_a, lead, anns, "{\"notes\":\"Ann rang four times\"}");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
}

static void test_timeline(void **state) {
    (void)state;
    char lead[64], call[64];
    fixture_lead(h->key_a, "", lead);
    s_log_ok(lead, "{\"kind\":\"call\",\"outcome\":\"connected\"}", call);
    char path[256];
    snprintf(path, sizeof path, "/v1/leads/%s/status", lead);
    harness_response_t r = harness_http("POST", path, h->key_a,
                                        "{\"status\":\"contacted\",\"note\":\"Called back\"}", NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    s_log_ok(lead, "{\"kind\":\"note\",\"notes\":\"Coming Saturday\"}", NULL);

    //  The move is among the lead's activities, under its history row's id, without a
    //  LeadActivityLogged of its own (LeadStatusChanged is its event).
    r = s_get(h->key_a, "/v1/leads/%s/activities", lead, "");
    char kinds[256];
    s_kinds(&r, kinds, sizeof kinds);
    assert_string_equal(kinds, "note,status_change,call");
    json_t *move = json_array_get(json_object_get(r.json, "items"), 1);
    assert_string_equal(json_string_value(json_object_get(move, "fromStage")), "new");
    assert_string_equal(json_string_value(json_object_get(move, "toStage")), "contacted");
    assert_string_equal(json_string_value(json_object_get(move, "notes")), "Called back");
    char move_id[64];
    snprintf(move_id, sizeof move_id, "%s", json_string_value(json_object_get(move, "id")));
    harness_response_free(&r);
    assert_int_equal(s_count("SELECT count(*) FROM leads.stage_history WHERE id = '%s'", move_id),
                     1);
    assert_int_equal(s_events(lead, NULL, 0), 2);
    //  It is the stage history's: it cannot be changed.
    s_expect(s_patch(h->key_a, lead, move_id, "{\"notes\":\"rewritten\"}"), 422, "kind");

    //  The timeline: one list, newest first, creation last; each move once.
    r = s_get(h->key_a, "/v1/leads/%s/timeline", lead, "");
    assert_int_equal(r.status, 200);
    s_kinds(&r, kinds, sizeof kinds);
    assert_string_equal(kinds, "note,status_change,call,created");
    json_t *items = json_object_get(r.json, "items");
    json_t *change = json_object_get(json_array_get(items, 1), "stageChange");
    assert_string_equal(json_string_value(json_object_get(change, "toStage")), "contacted");
    assert_string_equal(json_string_value(json_object_get(change, "note")), "Called back");
    json_t *logged = json_object_get(json_array_get(items, 2), "activity");
    assert_string_equal(json_string_value(json_object_get(logged, "id")), call);
    json_t *created = json_object_get(json_array_get(items, 3), "stageChange");
    assert_string_equal(json_string_value(json_object_get(created, "toStage")), "new");
    assert_true(json_string_value(json_object_get(json_array_get(items, 3), "at"))[0]);
    harness_response_free(&r);

    //  Paged one at a time: the same list.
    char all[512] = "", cursor[256] = "";
    for (int page = 0; page < 6; page++) {
        char p[512];
        snprintf(p, sizeof p, "/v1/leads/%s/timeline?limit=1%s%s", lead,
                 cursor[0] ? "&cursor=" : "", cursor);
        r = harness_http("GET", p, h->key_a, NULL, NULL);
        assert_int_equal(r.status, 200);
        s_kinds(&r, kinds, sizeof kinds);
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", all[0] ? "," : "", kinds);
        snprintf(cursor, sizeof cursor, "%s", harness_json_str(&r, "nextCursor"));
        harness_response_free(&r);
        if (!cursor[0])
            break;
    }
    assert_string_equal(all, "note,status_change,call,created");

    //  Assignments and follow-ups are on it too: a follow-up when it was scheduled and
    //  when it was completed.
    char sam[64], body[256], follow_up[64];
    fixture_member(h->key_a, "Sam Timeline", sam);
    snprintf(path, sizeof path, "/v1/leads/%s/assign", lead);
    snprintf(body, sizeof body, "{\"assigneeId\":\"%s\",\"note\":\"Knows RAV4s\"}", sam);
    r = harness_http("POST", path, h->key_a, body, NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/leads/%s/follow-ups", lead);
    r = harness_http("POST", path, h->key_a, "{\"pick\":\"in_1_week\",\"note\":\"Brochure\"}",
                     NULL);
    assert_int_equal(r.status, 201);
    snprintf(follow_up, sizeof follow_up, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/leads/%s/follow-ups/%s", lead, follow_up);
    r = harness_http("PATCH", path, h->key_a, "{\"status\":\"completed\"}", NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = s_get(h->key_a, "/v1/leads/%s/timeline", lead, "");
    assert_int_equal(r.status, 200);
    s_kinds(&r, kinds, sizeof kinds);
    assert_string_equal(kinds, "follow_up_completed,follow_up_scheduled,assigned,note,"
                               "status_change,call,created");
    items = json_object_get(r.json, "items");
    json_t *done = json_object_get(json_array_get(items, 0), "followUp");
    assert_string_equal(json_string_value(json_object_get(done, "status")), "completed");
    assert_string_equal(json_string_value(json_object_get(done, "note")), "Brochure");
    json_t *assigned = json_object_get(json_array_get(items, 2), "assignment");
    assert_string_equal(json_string_value(json_object_get(assigned, "toAssigneeId")), sam);
    assert_string_equal(json_string_value(json_object_get(assigned, "rule")), "manual");
    assert_string_equal(json_string_value(json_object_get(assigned, "note")), "Knows RAV4s");
    harness_response_free(&r);

    s_expect(s_get(h->key_a, "/v1/leads/%s/timeline?cursor=v.1.x", lead, ""), 422, "cursor");
    s_expect(s_get(h->key_a, "/v1/leads/%s/timeline?limit=500", lead, ""), 422, "limit");
}

// --- the hot sheet -----------------------------------------------------------------------

//  The leadIds of a hot sheet's section, joined by ',' (each as its position among ids:
//  "0,2").
static void s_section(const harness_response_t *r, const char *section, char ids[][64],
                      size_t n_ids, char *out, size_t size) {
    json_t *items = json_object_get(r->json, section);
    out[0] = 0;
    for (size_t i = 0; i < json_array_size(items); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(items, i), "leadId"));
        int at = -1;
        for (size_t j = 0; j < n_ids; j++)
            if (id && strcmp(ids[j], id) == 0)
                at = (int)j;
        snprintf(out + strlen(out), size - strlen(out), "%s%d", i ? "," : "", at);
    }
}

static void test_hot_sheet(void **state) {
    (void)state;
    //  0: hot, sam's; 1: hot, kim's; 2: cold, sam's, follow-up passed; 3: hot but lost;
    //  4: cold, kim's, with the appointments.
    char ids[5][64], body[512], sam[64], kim[64], extra[256];
    fixture_member(s_key_hot, "Sam Lee", sam);
    fixture_member(s_key_hot, "Kim Park", kim);
    snprintf(extra, sizeof extra,
             ",\"priority\":\"hot\",\"assigneeId\":\"%s\","
             "\"vehicle\":{\"make\":\"Toyota\",\"model\":\"RAV4\"}",
             sam);
    fixture_lead(s_key_hot, extra, ids[0]);
    snprintf(extra, sizeof extra, ",\"priority\":\"hot\",\"assigneeId\":\"%s\"", kim);
    fixture_lead(s_key_hot, extra, ids[1]);
    snprintf(extra, sizeof extra, ",\"assigneeId\":\"%s\"", sam);
    fixture_lead(s_key_hot, extra, ids[2]);
    s_count("UPDATE leads.leads SET follow_up_at = now() - interval '2 hours' WHERE id = '%s'"
            " RETURNING 1", ids[2]);
    snprintf(extra, sizeof extra, ",\"priority\":\"hot\",\"assigneeId\":\"%s\"", sam);
    fixture_lead(s_key_hot, extra, ids[3]);
    char path[256];
    snprintf(path, sizeof path, "/v1/leads/%s/status", ids[3]);
    harness_response_t r = harness_http("POST", path, s_key_hot,
                                        "{\"status\":\"closed_lost\",\"lost\":{\"reason\":"
                                        "\"price_too_high\"}}",
                                        NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    snprintf(extra, sizeof extra, ",\"assigneeId\":\"%s\"", kim);
    fixture_lead(s_key_hot, extra, ids[4]);
    //  In New York (UTC-5 in January): 2030-01-14 22:30 and 2030-01-15 10:00.
    const char *times[] = {"2030-01-15T03:30:00Z", "2030-01-15T15:00:00Z"};
    const char *kinds[] = {"appointment", "test_drive"};
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body, "{\"kind\":\"%s\",\"scheduledAt\":\"%s\"}", kinds[i], times[i]);
        snprintf(path, sizeof path, "/v1/leads/%s/activities", ids[4]);
        r = harness_http("POST", path, s_key_hot, body, NULL);
        assert_int_equal(r.status, 201);
        harness_response_free(&r);
    }
    sql_exec("INSERT INTO leads.tenant_settings (tenant_id, time_zone)"
             " VALUES ('tenant-hot', 'America/New_York')");

    //  The store's: the route is not taken for a lead's id.
    char got[64];
    r = harness_http("GET", "/v1/leads/hot-sheet?date=2030-01-15", s_key_hot, NULL, NULL);
    if (r.status != 200)
        fprintf(stderr, "%s\n", r.body);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "date"), "2030-01-15");
    assert_string_equal(harness_json_str(&r, "timeZone"), "America/New_York");
    s_section(&r, "hot", ids, 5, got, sizeof got);
    assert_true(strcmp(got, "0,1") == 0 || strcmp(got, "1,0") == 0);
    s_section(&r, "overdue", ids, 5, got, sizeof got);
    assert_string_equal(got, "2");
    s_section(&r, "appointments", ids, 5, got, sizeof got);
    assert_string_equal(got, "4");
    json_t *appointment = json_array_get(json_object_get(r.json, "appointments"), 0);
    assert_string_equal(json_string_value(json_object_get(appointment, "activityKind")),
                        "test_drive");
    assert_string_equal(json_string_value(json_object_get(appointment, "scheduledAt")),
                        "2030-01-15T15:00:00.000000Z");
    assert_string_equal(json_string_value(json_object_get(appointment, "appointmentStatus")),
                        "scheduled");
    assert_string_equal(json_string_value(json_object_get(appointment, "assigneeId")), kim);
    assert_int_equal(strlen(json_string_value(json_object_get(appointment, "contactId"))), 36);
    json_t *hot = json_object_get(r.json, "hot");
    for (size_t i = 0; i < json_array_size(hot); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(hot, i), "leadId")),
                   ids[0]) == 0) {
            json_t *lead = json_array_get(hot, i);
            assert_string_equal(json_string_value(json_object_get(lead, "priority")), "hot");
            assert_string_equal(json_string_value(json_object_get(lead, "status")), "new");
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(lead, "vehicle"), "model")),
                "RAV4");
        }
    json_t *overdue = json_array_get(json_object_get(r.json, "overdue"), 0);
    assert_true(json_string_value(json_object_get(overdue, "followUpAt"))[0]);
    harness_response_free(&r);

    //  The evening before, in New York, has the other one.
    r = harness_http("GET", "/v1/leads/hot-sheet?date=2030-01-14", s_key_hot, NULL, NULL);
    s_section(&r, "appointments", ids, 5, got, sizeof got);
    assert_string_equal(got, "4");
    appointment = json_array_get(json_object_get(r.json, "appointments"), 0);
    assert_string_equal(json_string_value(json_object_get(appointment, "activityKind")),
                        "appointment");
    harness_response_free(&r);

    //  One salesperson's.
    snprintf(path, sizeof path, "/v1/leads/hot-sheet?date=2030-01-15&assigneeId=%s", sam);
    r = harness_http("GET", path, s_key_hot, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "assigneeId"), sam);
    s_section(&r, "hot", ids, 5, got, sizeof got);
    assert_string_equal(got, "0");
    s_section(&r, "overdue", ids, 5, got, sizeof got);
    assert_string_equal(got, "2");
    s_section(&r, "appointments", ids, 5, got, sizeof got);
    assert_string_equal(got, "");
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/leads/hot-sheet?date=2030-01-15&assigneeId=%s", kim);
    r = harness_http("GET", path, s_key_hot, NULL, NULL);
    s_section(&r, "hot", ids, 5, got, sizeof got);
    assert_string_equal(got, "1");
    s_section(&r, "overdue", ids, 5, got, sizeof got);
    assert_string_equal(got, "");
    s_section(&r, "appointments", ids, 5, got, sizeof got);
    assert_string_equal(got, "4");
    harness_response_free(&r);

    //  In UTC, the 15th has both.
    sql_exec("UPDATE leads.tenant_settings SET time_zone = 'UTC' WHERE tenant_id = 'tenant-hot'");
    r = harness_http("GET", "/v1/leads/hot-sheet?date=2030-01-15", s_key_hot, NULL, NULL);
    s_section(&r, "appointments", ids, 5, got, sizeof got);
    assert_string_equal(got, "4,4");
    harness_response_free(&r);

    //  Today by default, in the tenant's time zone.
    sql_exec("UPDATE leads.tenant_settings SET time_zone = 'Pacific/Kiritimati'"
             " WHERE tenant_id = 'tenant-hot'");
    r = harness_http("GET", "/v1/leads/hot-sheet", s_key_hot, NULL, NULL);
    assert_int_equal(r.status, 200);
    char today[16];
    snprintf(today, sizeof today, "%lld",
             sql_scalar("SELECT to_char((now() AT TIME ZONE 'Pacific/Kiritimati')::date,"
                        " 'YYYYMMDD')::bigint"));
    const char *date = harness_json_str(&r, "date");
    assert_int_equal(strlen(date), 10);
    char compact[16] = {date[0], date[1], date[2], date[3], date[5], date[6], date[8], date[9], 0};
    assert_string_equal(compact, today);
    harness_response_free(&r);

    //  Another tenant's sheet has none of it.
    r = harness_http("GET", "/v1/leads/hot-sheet?date=2030-01-15", h->key_b, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "appointments")), 0);
    harness_response_free(&r);

    //  A section shows 200 leads at most, and says when there were more.
    char key_many[64];
    harness_create_key("tenant-many", "sales", key_many, sizeof key_many);
    sql_exec("INSERT INTO leads.leads (tenant_id, id, contact_id, source, status, priority,"
             "  created_at, updated_at, last_activity_at)"
             " SELECT 'tenant-many', gen_random_uuid(), gen_random_uuid(), 'phone', 'new', 'hot',"
             "  now(), now(), now() FROM generate_series(1, 201)");
    r = harness_http("GET", "/v1/leads/hot-sheet", key_many, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "hot")), 200);
    assert_true(json_is_true(json_object_get(r.json, "truncated")));
    harness_response_free(&r);
    sql_exec("DELETE FROM leads.leads WHERE tenant_id = 'tenant-many' AND id IN"
             " (SELECT id FROM leads.leads WHERE tenant_id = 'tenant-many' LIMIT 1)");
    r = harness_http("GET", "/v1/leads/hot-sheet", key_many, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "hot")), 200);
    assert_null(json_object_get(r.json, "truncated"));
    harness_response_free(&r);

    //  Bad dates.
    s_expect(harness_http("GET", "/v1/leads/hot-sheet?date=2030-02-30", s_key_hot, NULL, NULL),
             422, "date");
    s_expect(harness_http("GET", "/v1/leads/hot-sheet?date=tomorrow", s_key_hot, NULL, NULL), 422,
             "date");
    s_expect(harness_http("GET", "/v1/leads/hot-sheet?date=2030-01-15T00:00:00Z", s_key_hot, NULL,
                          NULL),
             422, "date");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_call),    cmocka_unit_test(test_every_kind),
        cmocka_unit_test(test_log_refused), cmocka_unit_test(test_contact_last_activity),
        cmocka_unit_test(test_update),      cmocka_unit_test(test_update_own_only),
        cmocka_unit_test(test_timeline),    cmocka_unit_test(test_hot_sheet),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
