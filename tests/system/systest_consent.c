/*  System tests of communication rules: consent per channel and purpose, do-not-contact,
    stop-follow-ups and retention, their history, their events, and CanContact, driven
    over HTTP (and the bus for CanContact) against the whole suite. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <pthread.h>

#include "bus_client.h"
#include "common.pb-c.h"
#include "contacts.pb-c.h"
#include "events.pb-c.h"
#include "systest_sql.h"

static harness_t *h;

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  A new person of tenant A; its id into id.
static void s_contact_new(const char *first, char id[64]) {
    static int n;
    char body[512];
    snprintf(body, sizeof body,
             "{\"kind\":\"person\",\"firstName\":\"%s\",\"lastName\":\"Rules\","
             "\"emails\":[{\"address\":\"consent%d.%lld@example.com\"}],"
             "\"phones\":[{\"number\":\"(202) 555-0142\",\"type\":\"mobile\",\"sms\":true}]}",
             first, ++n, (long long)zclock_time());
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  One request with a path made from fmt; asserts the status.
static harness_response_t s_call(const char *method, const char *key, const char *body, long status,
                                 const char *fmt, ...) {
    char path[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(path, sizeof path, fmt, args);
    va_end(args);
    harness_response_t r = harness_http(method, path, key, body, NULL);
    if (r.status != status)
        fprintf(stderr, "%s %s -> %ld %s\n", method, path, r.status, r.body);
    assert_int_equal(r.status, status);
    return r;
}

//  A request expected to fail with status, naming field first.
static void s_refused(const char *method, const char *key, const char *body, long status,
                      const char *field, const char *fmt, ...) {
    char path[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(path, sizeof path, fmt, args);
    va_end(args);
    harness_response_t r = harness_http(method, path, key, body, NULL);
    if (r.status != status || (field && strcmp(harness_error_field(&r), field) != 0))
        fprintf(stderr, "%s %s %s -> %ld %s\n", method, path, body ? body : "", r.status, r.body);
    assert_int_equal(r.status, status);
    if (field)
        assert_string_equal(harness_error_field(&r), field);
    harness_response_free(&r);
}

static long long s_count(const char *fmt, const char *id) {
    char sql[1024];
    snprintf(sql, sizeof sql, fmt, id);
    return sql_scalar(sql);
}

//  The consent entry for channel and purpose in a GET .../communication response.
static json_t *s_consent(const harness_response_t *r, const char *channel, const char *purpose) {
    json_t *consents = json_object_get(r->json, "consents");
    for (size_t i = 0; i < json_array_size(consents); i++) {
        json_t *c = json_array_get(consents, i);
        if (strcmp(json_string_value(json_object_get(c, "channel")), channel) == 0 &&
            strcmp(json_string_value(json_object_get(c, "purpose")), purpose) == 0)
            return c;
    }
    fail_msg("no consent entry for %s/%s", channel, purpose);
    return NULL;
}

static const char *s_member(json_t *object, const char *name) {
    const char *value = json_string_value(json_object_get(object, name));
    return value ? value : "";
}

static bool s_flag(json_t *object, const char *name) {
    json_t *value = json_object_get(object, name);
    assert_true(json_is_boolean(value)); // written even when false
    return json_is_true(value);
}

//  The check's answer: "allowed", or the reason it is not.
static void s_check(const char *id, const char *channel, const char *purpose, const char *want) {
    harness_response_t r =
        s_call("GET", h->key_a, NULL, 200,
               "/v1/contacts/%s/communication/check?channel=%s&purpose=%s", id, channel, purpose);
    const char *got = s_flag(r.json, "allowed") ? "allowed" : s_member(r.json, "reason");
    if (strcmp(got, want) != 0)
        fprintf(stderr, "check %s/%s: %s\n", channel, purpose, r.body);
    assert_string_equal(got, want);
    assert_true(strlen(s_member(r.json, "detail")) > 0);
    harness_response_free(&r);
}

//  The contact's events of type, oldest first, decoded (n of them at most); returns how
//  many there are.
static size_t s_events(const char *id, const char *type, const ProtobufCMessageDescriptor *desc,
                       ProtobufCMessage **out, size_t n) {
    PGconn *db = PQconnectdb(h->dsn);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    const char *params[] = {id, type};
    PGresult *res = PQexecParams(db,
                                 "SELECT payload FROM contacts.outbox WHERE aggregate_id = $1"
                                 " AND type = $2 ORDER BY xid, id",
                                 2, NULL, params, NULL, NULL, 1);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    size_t rows = (size_t)PQntuples(res);
    for (size_t i = 0; i < rows && i < n; i++) {
        out[i] = protobuf_c_message_unpack(desc, NULL, PQgetlength(res, (int)i, 0),
                                           (const uint8_t *)PQgetvalue(res, (int)i, 0));
        assert_non_null(out[i]);
    }
    PQclear(res);
    PQfinish(db);
    return rows;
}

static void s_events_free(ProtobufCMessage **events, size_t n) {
    for (size_t i = 0; i < n; i++)
        protobuf_c_message_free_unpacked(events[i], NULL);
}

//  A new contact has no rule and every consent unknown; a decision is recorded, shown,
//  answered by the check, and published; a back-dated one is kept but does not replace a
//  newer one.
static void test_consent_decisions(void **state) {
    (void)state;
    char id[64];
    s_contact_new("Cara", id);
    harness_response_t r = s_call("GET", h->key_a, NULL, 200, "/v1/contacts/%s/communication", id);
    assert_string_equal(s_member(r.json, "contactId"), id);
    json_t *dnc = json_object_get(r.json, "doNotContact");
    assert_false(s_flag(dnc, "call") || s_flag(dnc, "email") || s_flag(dnc, "mail") ||
                 s_flag(dnc, "sms"));
    assert_false(s_flag(r.json, "stopFollowUps"));
    assert_null(json_object_get(r.json, "retentionDays"));
    json_t *consents = json_object_get(r.json, "consents");
    assert_int_equal(json_array_size(consents), 10); // 5 channels x marketing, analytics
    for (size_t i = 0; i < json_array_size(consents); i++) {
        assert_string_equal(s_member(json_array_get(consents, i), "status"), "unknown");
        assert_false(s_flag(json_array_get(consents, i), "allowed"));
    }
    harness_response_free(&r);
    s_check(id, "email", "marketing", "no_consent");
    s_check(id, "sms", "follow_up", "allowed"); // a follow-up needs no consent

    //  Granted by web form, now.
    r = s_call("POST", h->key_a,
               "{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,"
               "\"method\":\"web_form\",\"note\":\"newsletter box on the test-drive form\"}",
               201, "/v1/contacts/%s/consents", id);
    char change[64], location[256];
    snprintf(change, sizeof change, "%s", s_member(r.json, "id"));
    assert_string_equal(s_member(r.json, "kind"), "consent");
    assert_string_equal(s_member(r.json, "channel"), "email");
    assert_true(s_flag(r.json, "granted"));
    assert_string_equal(s_member(r.json, "method"), "web_form");
    assert_true(strlen(s_member(r.json, "recordedBy")) > 0);
    assert_string_equal(s_member(r.json, "effectiveAt"), s_member(r.json, "recordedAt"));
    snprintf(location, sizeof location, "/v1/contacts/%s/consents/%s", id, change);
    assert_string_equal(r.location, location);
    char recorded_by[128];
    snprintf(recorded_by, sizeof recorded_by, "%s", s_member(r.json, "recordedBy"));
    harness_response_free(&r);
    r = s_call("GET", h->key_a, NULL, 200, "%s", location);
    assert_string_equal(s_member(r.json, "note"), "newsletter box on the test-drive form");
    harness_response_free(&r);
    s_check(id, "email", "marketing", "allowed");
    s_check(id, "email", "analytics", "no_consent");
    s_check(id, "sms", "marketing", "no_consent");

    //  Withdrawn by SMS STOP, effective an hour ago (any offset is read as such).
    time_t hour_ago = time(NULL) - 3600;
    struct tm tm;
    char when[64], body[512];
    gmtime_r(&hour_ago, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S.25Z", &tm);
    snprintf(body, sizeof body,
             "{\"channel\":\"sms\",\"purpose\":\"marketing\",\"granted\":false,"
             "\"method\":\"sms_stop\",\"effectiveAt\":\"%s\"}",
             when);
    r = s_call("POST", h->key_a, body, 201, "/v1/contacts/%s/consents", id);
    assert_false(s_flag(r.json, "granted"));
    char want[64];
    snprintf(want, sizeof want, "%.19s.250000Z", when);
    assert_string_equal(s_member(r.json, "effectiveAt"), want);
    harness_response_free(&r);
    s_check(id, "sms", "marketing", "withdrawn");

    //  A paper form from 2020 withdrawing email marketing: kept in the history, but the
    //  grant made since stands.
    r = s_call("POST", h->key_a,
               "{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":false,"
               "\"method\":\"written\",\"effectiveAt\":\"2020-03-01T09:00:00+02:00\"}",
               201, "/v1/contacts/%s/consents", id);
    assert_string_equal(s_member(r.json, "effectiveAt"), "2020-03-01T07:00:00.000000Z");
    harness_response_free(&r);
    s_check(id, "email", "marketing", "allowed");

    r = s_call("GET", h->key_a, NULL, 200, "/v1/contacts/%s/communication", id);
    json_t *c = s_consent(&r, "email", "marketing");
    assert_string_equal(s_member(c, "status"), "granted");
    assert_true(s_flag(c, "allowed"));
    assert_string_equal(s_member(c, "method"), "web_form");
    assert_string_equal(s_member(c, "changeId"), change);
    assert_string_equal(s_member(c, "recordedBy"), recorded_by);
    c = s_consent(&r, "sms", "marketing");
    assert_string_equal(s_member(c, "status"), "withdrawn");
    assert_string_equal(s_member(c, "method"), "sms_stop");
    assert_string_equal(s_member(s_consent(&r, "whatsapp", "analytics"), "status"), "unknown");
    assert_true(strlen(s_member(r.json, "updatedAt")) > 0);
    harness_response_free(&r);

    //  Three rows of history, two current consents, three events saying which are current.
    assert_int_equal(s_count("SELECT count(*) FROM contacts.communication_history"
                             " WHERE contact_id = '%s'",
                             id),
                     3);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.consents WHERE contact_id = '%s'", id),
                     2);
    ProtobufCMessage *events[4];
    size_t n = s_events(id, "ContactConsentChanged",
                        &crm__events__contact_consent_changed__descriptor, events, 4);
    assert_int_equal(n, 3);
    const Crm__Events__ContactConsentChanged *e0 = (const void *)events[0];
    const Crm__Events__ContactConsentChanged *e1 = (const void *)events[1];
    const Crm__Events__ContactConsentChanged *e2 = (const void *)events[2];
    assert_string_equal(e0->contact_id, id);
    assert_int_equal(e0->channel, CRM__CONTACTS__CHANNEL__CHANNEL_EMAIL);
    assert_int_equal(e0->purpose, CRM__CONTACTS__PURPOSE__PURPOSE_MARKETING);
    assert_true(e0->granted && e0->current);
    assert_int_equal(e0->method, CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_WEB_FORM);
    assert_string_equal(e0->actor_id, recorded_by);
    assert_string_equal(e0->change_id, change);
    assert_int_equal(e1->channel, CRM__CONTACTS__CHANNEL__CHANNEL_SMS);
    assert_true(!e1->granted && e1->current);
    assert_string_equal(e1->effective_at, want);
    assert_true(!e2->granted && !e2->current); // back-dated: the grant stands
    assert_string_equal(e2->effective_at, "2020-03-01T07:00:00.000000Z");
    s_events_free(events, n);
    //  The history refuses to be rewritten.
    PGconn *db = PQconnectdb(h->dsn);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    const char *params[] = {id};
    PGresult *res = PQexecParams(db,
                                 "UPDATE contacts.communication_history SET granted = true"
                                 " WHERE contact_id = $1::uuid",
                                 1, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    assert_non_null(strstr(PQresultErrorMessage(res), "append-only"));
    PQclear(res);
    PQfinish(db);
}

//  Do-not-contact wins over a granted consent; stop-follow-ups stops follow-ups only;
//  retention; every change in the history and the event, none when nothing changes.
static void test_rules(void **state) {
    (void)state;
    char id[64];
    s_contact_new("Dov", id);
    harness_response_t r = s_call(
        "POST", h->key_a,
        "{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,\"method\":\"verbal\"}",
        201, "/v1/contacts/%s/consents", id);
    harness_response_free(&r);
    r = s_call("POST", h->key_a,
               "{\"channel\":\"whatsapp\",\"purpose\":\"marketing\",\"granted\":true,"
               "\"method\":\"api\"}",
               201, "/v1/contacts/%s/consents", id);
    harness_response_free(&r);
    s_check(id, "email", "marketing", "allowed");

    r = s_call("PATCH", h->key_a,
               "{\"doNotContact\":{\"email\":true},\"method\":\"verbal\","
               "\"reason\":\"asked on the phone not to be emailed\"}",
               200, "/v1/contacts/%s/communication", id);
    json_t *dnc = json_object_get(r.json, "doNotContact");
    assert_true(s_flag(dnc, "email"));
    assert_false(s_flag(dnc, "call") || s_flag(dnc, "mail") || s_flag(dnc, "sms"));
    json_t *c = s_consent(&r, "email", "marketing");
    assert_string_equal(s_member(c, "status"), "granted"); // kept, but overruled
    assert_false(s_flag(c, "allowed"));
    harness_response_free(&r);
    s_check(id, "email", "marketing", "do_not_contact");
    s_check(id, "email", "follow_up", "do_not_contact");
    s_check(id, "whatsapp", "marketing", "allowed");

    //  Do-not-SMS stops WhatsApp too; only the flag named changes.
    r = s_call("PATCH", h->key_a, "{\"doNotContact\":{\"sms\":true}}", 200,
               "/v1/contacts/%s/communication", id);
    dnc = json_object_get(r.json, "doNotContact");
    assert_true(s_flag(dnc, "email") && s_flag(dnc, "sms"));
    harness_response_free(&r);
    s_check(id, "whatsapp", "marketing", "do_not_contact");
    s_check(id, "sms", "follow_up", "do_not_contact");

    //  Stop follow-ups: follow-ups by phone stop, nothing else does.
    s_check(id, "phone", "follow_up", "allowed");
    r = s_call("PATCH", h->key_a, "{\"stopFollowUps\":true,\"retentionDays\":365}", 200,
               "/v1/contacts/%s/communication", id);
    assert_true(s_flag(r.json, "stopFollowUps"));
    assert_int_equal(json_integer_value(json_object_get(r.json, "retentionDays")), 365);
    char until[64];
    snprintf(until, sizeof until, "%s", s_member(r.json, "retainUntil"));
    harness_response_free(&r);
    s_check(id, "phone", "follow_up", "stop_follow_ups");
    s_check(id, "mail", "marketing", "no_consent");
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT (abs(extract(epoch FROM '%s'::timestamptz - (now() + interval '365 days')))"
             " < 300)::int",
             until);
    assert_int_equal(sql_scalar(sql), 1);

    //  Setting what is already so records nothing and publishes nothing.
    long long history = s_count("SELECT count(*) FROM contacts.communication_history"
                                " WHERE contact_id = '%s'",
                                id);
    assert_int_equal(history, 2 + 2 + 2);
    r = s_call("PATCH", h->key_a, "{\"doNotContact\":{\"sms\":true},\"stopFollowUps\":true}", 200,
               "/v1/contacts/%s/communication", id);
    harness_response_free(&r);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.communication_history"
                             " WHERE contact_id = '%s'",
                             id),
                     history);

    //  Lifting the email flag and the retention: the consent applies again.
    r = s_call("PATCH", h->key_a, "{\"doNotContact\":{\"email\":false},\"retentionDays\":0}", 200,
               "/v1/contacts/%s/communication", id);
    assert_false(s_flag(json_object_get(r.json, "doNotContact"), "email"));
    assert_null(json_object_get(r.json, "retentionDays"));
    assert_null(json_object_get(r.json, "retainUntil"));
    harness_response_free(&r);
    s_check(id, "email", "marketing", "allowed");
    assert_int_equal(s_count("SELECT count(*) FROM contacts.communication_rules"
                             " WHERE contact_id = '%s' AND retain_until IS NULL"
                             " AND NOT do_not_email AND do_not_sms AND stop_follow_ups",
                             id),
                     1);

    //  The events: the whole state each time, and what changed.
    ProtobufCMessage *events[8];
    size_t n = s_events(id, "ContactCommunicationRulesChanged",
                        &crm__events__contact_communication_rules_changed__descriptor, events, 8);
    assert_int_equal(n, 4);
    const Crm__Events__ContactCommunicationRulesChanged *e0 = (const void *)events[0];
    const Crm__Events__ContactCommunicationRulesChanged *e2 = (const void *)events[2];
    const Crm__Events__ContactCommunicationRulesChanged *e3 = (const void *)events[3];
    assert_string_equal(e0->contact_id, id);
    assert_int_equal(e0->n_changed, 1);
    assert_string_equal(e0->changed[0], "doNotContact.email");
    assert_true(e0->do_not_contact->email && !e0->do_not_contact->sms);
    assert_int_equal(e0->method, CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_VERBAL);
    assert_true(strlen(e0->actor_id) > 0);
    assert_int_equal(e2->n_changed, 2);
    assert_string_equal(e2->changed[0], "stopFollowUps");
    assert_string_equal(e2->changed[1], "retentionDays");
    assert_true(e2->stop_follow_ups && e2->do_not_contact->email && e2->do_not_contact->sms);
    assert_int_equal(e2->retention_days, 365);
    assert_string_equal(e2->retain_until, until);
    assert_int_equal(e3->n_changed, 2);
    assert_true(!e3->do_not_contact->email && e3->do_not_contact->sms && e3->stop_follow_ups);
    assert_int_equal(e3->retention_days, 0);
    assert_string_equal(e3->retain_until, "");
    s_events_free(events, n);
}

//  The history: every change, newest first, in pages, with who, when, how and why.
static void test_history(void **state) {
    (void)state;
    char id[64];
    s_contact_new("Eli", id);
    harness_response_t r = s_call(
        "POST", h->key_a,
        "{\"channel\":\"phone\",\"purpose\":\"analytics\",\"granted\":true,\"method\":\"written\","
        "\"note\":\"signed at delivery\"}",
        201, "/v1/contacts/%s/consents", id);
    harness_response_free(&r);
    r = s_call("PATCH", h->key_a,
               "{\"doNotContact\":{\"call\":true,\"mail\":true},\"reason\":\"moved abroad\"}", 200,
               "/v1/contacts/%s/communication", id);
    harness_response_free(&r);
    r = s_call("PATCH", h->key_a, "{\"retentionDays\":30}", 200, "/v1/contacts/%s/communication",
               id);
    harness_response_free(&r);

    //  Newest first: retention, then the two flags (in one PATCH), then the consent.
    const char *expected[] = {"retention", "do_not_contact", "do_not_contact", "consent"};
    char cursor[64] = "", last_id[64] = "";
    size_t seen = 0;
    for (int page = 0; page < 3; page++) {
        r = s_call("GET", h->key_a, NULL, 200, "/v1/contacts/%s/communication/history?limit=3%s%s",
                   id, cursor[0] ? "&cursor=" : "", cursor);
        json_t *items = json_object_get(r.json, "items");
        for (size_t i = 0; i < json_array_size(items); i++, seen++) {
            json_t *e = json_array_get(items, i);
            assert_true(seen < 4);
            assert_string_equal(s_member(e, "kind"), expected[seen]);
            assert_string_equal(s_member(e, "contactId"), id);
            assert_true(strlen(s_member(e, "recordedBy")) > 0);
            assert_true(strlen(s_member(e, "recordedAt")) > 0);
            if (last_id[0])
                assert_true(strcmp(s_member(e, "id"), last_id) < 0);
            snprintf(last_id, sizeof last_id, "%s", s_member(e, "id"));
            if (seen == 0) {
                assert_string_equal(s_member(e, "field"), "retentionDays");
                assert_int_equal(json_integer_value(json_object_get(e, "retentionDays")), 30);
            } else if (seen <= 2) {
                assert_true(s_flag(e, "enabled"));
                assert_string_equal(s_member(e, "note"), "moved abroad");
                assert_string_equal(s_member(e, "field"),
                                    seen == 1 ? "doNotContact.mail" : "doNotContact.call");
            } else {
                assert_string_equal(s_member(e, "channel"), "phone");
                assert_string_equal(s_member(e, "purpose"), "analytics");
                assert_true(s_flag(e, "granted"));
                assert_string_equal(s_member(e, "method"), "written");
                assert_string_equal(s_member(e, "note"), "signed at delivery");
            }
        }
        snprintf(cursor, sizeof cursor, "%s", s_member(r.json, "nextCursor"));
        harness_response_free(&r);
        if (!cursor[0])
            break;
    }
    assert_int_equal(seen, 4);
    assert_string_equal(cursor, "");

    //  A contact with no history: an empty page.
    char other[64];
    s_contact_new("Fay", other);
    r = s_call("GET", h->key_a, NULL, 200, "/v1/contacts/%s/communication/history", other);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    harness_response_free(&r);
}

//  Every refusal names its field and writes nothing; another tenant's, a deleted, an
//  unknown and a malformed contact are all 404; an analyst reads but does not write.
static void test_bad_input_writes_nothing(void **state) {
    (void)state;
    char id[64], deleted[64];
    s_contact_new("Gil", id);
    s_contact_new("Hal", deleted);
    harness_response_t r = s_call("DELETE", h->key_a, NULL, 204, "/v1/contacts/%s", deleted);
    harness_response_free(&r);
    long long before = sql_scalar("SELECT (SELECT count(*) FROM contacts.communication_history)"
                                  " + (SELECT count(*) FROM contacts.consents)"
                                  " + (SELECT count(*) FROM contacts.communication_rules)"
                                  " + (SELECT count(*) FROM contacts.outbox)");

    const char *path = "/v1/contacts/%s/consents";
    struct {
        const char *body, *field;
    } consents[] = {
        {"{\"channel\":\"fax\",\"purpose\":\"marketing\",\"granted\":true,\"method\":\"api\"}",
         "channel"},
        {"{\"purpose\":\"marketing\",\"granted\":true,\"method\":\"api\"}", "channel"},
        {"{\"channel\":\"email\",\"purpose\":\"sales\",\"granted\":true,\"method\":\"api\"}",
         "purpose"},
        {"{\"channel\":\"email\",\"purpose\":\"follow_up\",\"granted\":true,\"method\":\"api\"}",
         "purpose"},
        {"{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,\"method\":\"pigeon\"}",
         "method"},
        {"{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true}", "method"},
        {"{\"channel\":\"email\",\"purpose\":\"marketing\",\"method\":\"api\"}", "granted"},
        {"{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":false,"
         "\"method\":\"sms_stop\"}",
         "method"},
        {"{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,\"method\":\"api\","
         "\"effectiveAt\":\"2999-01-01T00:00:00Z\"}",
         "effectiveAt"},
        {"{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,\"method\":\"api\","
         "\"effectiveAt\":\"yesterday\"}",
         "effectiveAt"},
        {"{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,\"method\":\"api\","
         "\"effectiveAt\":\"2025-02-29T10:00:00Z\"}",
         "effectiveAt"},
        {"{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,\"method\":\"api\","
         "\"effectiveAt\":\"2025-01-10 10:00\"}",
         "effectiveAt"},
        {"{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,\"method\":\"api\","
         "\"recordedBy\":\"someone else\"}",
         "recordedBy"},
    };
    for (size_t i = 0; i < sizeof consents / sizeof consents[0]; i++)
        s_refused("POST", h->key_a, consents[i].body, 422, consents[i].field, path, id);
    char note[1200];
    memset(note, 'x', 1001);
    note[1001] = 0;
    char body[1400];
    snprintf(body, sizeof body,
             "{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,"
             "\"method\":\"api\",\"note\":\"%s\"}",
             note);
    s_refused("POST", h->key_a, body, 422, "note", path, id);
    s_refused("POST", h->key_a, "{\"channel\":", 400, NULL, path, id);

    const char *rules = "/v1/contacts/%s/communication";
    struct {
        const char *body, *field;
    } patches[] = {
        {"{\"retentionDays\":3651}", "retentionDays"},
        {"{\"retentionDays\":-1}", "retentionDays"},
        {"{\"consents\":[]}", "consents"},
        {"{\"retainUntil\":\"2030-01-01T00:00:00Z\"}", "retainUntil"},
        {"{\"doNotContact\":{}}", "doNotContact"},
        {"{\"doNotContact\":{\"fax\":true}}", "doNotContact.fax"},
        {"{\"method\":\"carrier_pigeon\",\"stopFollowUps\":true}", "method"},
        //  One valid change beside an invalid one: neither is made.
        {"{\"doNotContact\":{\"email\":true},\"retentionDays\":99999}", "retentionDays"},
        {"{\"doNotContact\":{\"email\":true},\"method\":\"sms_stop\"}", "method"},
    };
    for (size_t i = 0; i < sizeof patches / sizeof patches[0]; i++)
        s_refused("PATCH", h->key_a, patches[i].body, 422, patches[i].field, rules, id);
    s_refused("GET", h->key_a, NULL, 422, "channel",
              "/v1/contacts/%s/communication/check?channel=fax&purpose=marketing", id);
    s_refused("GET", h->key_a, NULL, 422, "purpose",
              "/v1/contacts/%s/communication/check?channel=sms", id);
    s_refused("GET", h->key_a, NULL, 422, "cursor",
              "/v1/contacts/%s/communication/history?cursor=abc", id);
    s_refused("GET", h->key_a, NULL, 422, "limit",
              "/v1/contacts/%s/communication/history?limit=500", id);

    //  Not a live contact of the caller's tenant: 404 on every route.
    const char *valid_consent =
        "{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,\"method\":\"api\"}";
    const char *ids[] = {id, deleted, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "not-a-uuid"};
    for (size_t i = 0; i < 4; i++) {
        const char *key = i == 0 ? h->key_b : h->key_a; // tenant B asks for A's contact
        s_refused("GET", key, NULL, 404, NULL, rules, ids[i]);
        s_refused("PATCH", key, "{\"stopFollowUps\":true}", 404, NULL, rules, ids[i]);
        s_refused("POST", key, valid_consent, 404, NULL, path, ids[i]);
        s_refused("GET", key, NULL, 404, NULL, "/v1/contacts/%s/communication/history", ids[i]);
        s_refused("GET", key, NULL, 404, NULL,
                  "/v1/contacts/%s/communication/check?channel=sms&purpose=marketing", ids[i]);
    }

    //  An analyst reads, and may not write.
    r = s_call("GET", h->key_analyst, NULL, 200, rules, id);
    harness_response_free(&r);
    s_refused("PATCH", h->key_analyst, "{\"stopFollowUps\":true}", 403, NULL, rules, id);
    s_refused("POST", h->key_analyst, valid_consent, 403, NULL, path, id);

    long long after = sql_scalar("SELECT (SELECT count(*) FROM contacts.communication_history)"
                                 " + (SELECT count(*) FROM contacts.consents)"
                                 " + (SELECT count(*) FROM contacts.communication_rules)"
                                 " + (SELECT count(*) FROM contacts.outbox)");
    assert_int_equal(after, before);
    r = s_call("GET", h->key_a, NULL, 200, rules, id);
    assert_false(s_flag(json_object_get(r.json, "doNotContact"), "email"));
    assert_null(json_object_get(r.json, "updatedAt"));
    harness_response_free(&r);
}

//  One of several requests sent at once.
typedef struct {
    const char *method, *path;
    char body[256];
    long status;
} s_concurrent_t;

static void *s_concurrent_thread(void *arg) {
    s_concurrent_t *c = arg;
    harness_response_t r = harness_http(c->method, c->path, h->key_a, c->body, NULL);
    c->status = r.status;
    harness_response_free(&r);
    return NULL;
}

//  Writes to one contact sent together (so likely in one batch) take turns: each flag
//  set by its own PATCH survives the others, and every consent is recorded once.
static void test_concurrent_writes(void **state) {
    (void)state;
    char id[64], rules[128], consents[128];
    s_contact_new("Jo", id);
    snprintf(rules, sizeof rules, "/v1/contacts/%s/communication", id);
    snprintf(consents, sizeof consents, "/v1/contacts/%s/consents", id);
    const char *flags[] = {"call", "email", "mail", "sms"};
    const char *channels[] = {"email", "sms", "phone", "whatsapp"};
    s_concurrent_t calls[12];
    for (int i = 0; i < 4; i++) {
        calls[i] = (s_concurrent_t){.method = "PATCH", .path = rules};
        snprintf(calls[i].body, sizeof calls[i].body, "{\"doNotContact\":{\"%s\":true}}", flags[i]);
    }
    for (int i = 0; i < 8; i++) {
        calls[4 + i] = (s_concurrent_t){.method = "POST", .path = consents};
        snprintf(calls[4 + i].body, sizeof calls[4 + i].body,
                 "{\"channel\":\"%s\",\"purpose\":\"%s\",\"granted\":true,"
                 "\"method\":\"import\"}",
                 channels[i % 4], i < 4 ? "marketing" : "analytics");
    }
    pthread_t threads[12];
    for (int i = 0; i < 12; i++)
        pthread_create(&threads[i], NULL, s_concurrent_thread, &calls[i]);
    for (int i = 0; i < 12; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(calls[i].status, i < 4 ? 200 : 201);
    }
    harness_response_t r = s_call("GET", h->key_a, NULL, 200, "%s", rules);
    json_t *dnc = json_object_get(r.json, "doNotContact");
    for (int i = 0; i < 4; i++)
        assert_true(s_flag(dnc, flags[i]));
    for (int i = 0; i < 4; i++) {
        assert_string_equal(s_member(s_consent(&r, channels[i], "marketing"), "status"), "granted");
        assert_string_equal(s_member(s_consent(&r, channels[i], "analytics"), "status"), "granted");
    }
    harness_response_free(&r);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.communication_history"
                             " WHERE contact_id = '%s'",
                             id),
                     12);
    //  The last rules event holds every flag: a consumer's copy ends right.
    ProtobufCMessage *events[4];
    size_t n = s_events(id, "ContactCommunicationRulesChanged",
                        &crm__events__contact_communication_rules_changed__descriptor, events, 4);
    assert_int_equal(n, 4);
    const Crm__Events__ContactCommunicationRulesChanged *last = (const void *)events[3];
    assert_true(last->do_not_contact->call && last->do_not_contact->email &&
                last->do_not_contact->mail && last->do_not_contact->sms);
    s_events_free(events, n);
}

//  Send one request straight to the broker; the reply header (and body into *body).
static Crm__ReplyHeader *s_bus(crm_bus_client_t *client, const char *method,
                               const ProtobufCMessage *request, zframe_t **body) {
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = (char *)method;
    header.tenant_id = "tenant-a";
    header.actor_id = "notify-worker";
    header.role = "integration";
    header.request_id = "systest-consent";
    header.deadline_ms = 3000;
    zmsg_t *msg = crm_bus_request_new(&header, request);
    zmsg_t *reply = crm_bus_client_request(client, "contacts", &msg, 5000);
    assert_non_null(reply);
    zframe_t *hf = zmsg_first(reply);
    Crm__ReplyHeader *rh = crm__reply_header__unpack(NULL, zframe_size(hf), zframe_data(hf));
    assert_non_null(rh);
    zframe_t *bf = zmsg_next(reply);
    if (body)
        *body = bf ? zframe_dup(bf) : NULL;
    zmsg_destroy(&reply);
    return rh;
}

//  CanContact as a notification worker calls it over the bus, and the masks only bus
//  callers can send.
static void test_bus(void **state) {
    (void)state;
    char id[64];
    s_contact_new("Ida", id);
    crm_bus_client_t *client = crm_bus_client_new(h->broker);

    Crm__Contacts__CanContactRequest ask = CRM__CONTACTS__CAN_CONTACT_REQUEST__INIT;
    ask.id = id;
    ask.channel = CRM__CONTACTS__CHANNEL__CHANNEL_SMS;
    ask.purpose = CRM__CONTACTS__PURPOSE__PURPOSE_FOLLOW_UP;
    zframe_t *body = NULL;
    Crm__ReplyHeader *rh = s_bus(client, "CanContact", &ask.base, &body);
    assert_int_equal(rh->code, 200);
    Crm__Contacts__CanContactResponse *answer =
        crm__contacts__can_contact_response__unpack(NULL, zframe_size(body), zframe_data(body));
    assert_true(answer->allowed);
    crm__contacts__can_contact_response__free_unpacked(answer, NULL);
    crm__reply_header__free_unpacked(rh, NULL);
    zframe_destroy(&body);

    //  The contact texts STOP: the worker records it as do-not-SMS, over the bus, with
    //  a mask naming the one flag.
    Crm__Contacts__DoNotContact dnc = CRM__CONTACTS__DO_NOT_CONTACT__INIT;
    dnc.sms = 1;
    dnc.sms_set_case = CRM__CONTACTS__DO_NOT_CONTACT__SMS_SET_SMS;
    Crm__Contacts__CommunicationRulesUpdate update =
        CRM__CONTACTS__COMMUNICATION_RULES_UPDATE__INIT;
    update.do_not_contact = &dnc;
    update.method = CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_SMS_STOP;
    char *mask[] = {"doNotContact.sms", "method"};
    Crm__Contacts__UpdateCommunicationRulesRequest patch =
        CRM__CONTACTS__UPDATE_COMMUNICATION_RULES_REQUEST__INIT;
    patch.id = id;
    patch.rules = &update;
    patch.update_mask = mask;
    patch.n_update_mask = 2;
    rh = s_bus(client, "UpdateCommunicationRules", &patch.base, NULL);
    assert_int_equal(rh->code, 200);
    crm__reply_header__free_unpacked(rh, NULL);
    rh = s_bus(client, "CanContact", &ask.base, &body);
    assert_int_equal(rh->code, 200);
    answer =
        crm__contacts__can_contact_response__unpack(NULL, zframe_size(body), zframe_data(body));
    assert_false(answer->allowed);
    assert_int_equal(answer->reason,
                     CRM__CONTACTS__CAN_CONTACT_REASON__CAN_CONTACT_REASON_DO_NOT_CONTACT);
    crm__contacts__can_contact_response__free_unpacked(answer, NULL);
    crm__reply_header__free_unpacked(rh, NULL);
    zframe_destroy(&body);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.communication_history"
                             " WHERE contact_id = '%s' AND recorded_by = 'notify-worker'"
                             " AND method = 'sms_stop' AND field = 'doNotContact.sms'",
                             id),
                     1);

    //  Values no JSON client can send: an enum number out of range, a mask naming a
    //  read-only field.
    ask.channel = 99;
    rh = s_bus(client, "CanContact", &ask.base, NULL);
    assert_int_equal(rh->code, 422);
    assert_true(rh->n_fields > 0);
    assert_string_equal(rh->fields[0]->field, "channel");
    crm__reply_header__free_unpacked(rh, NULL);
    char *bad_mask[] = {"retainUntil"};
    patch.update_mask = bad_mask;
    patch.n_update_mask = 1;
    rh = s_bus(client, "UpdateCommunicationRules", &patch.base, NULL);
    assert_int_equal(rh->code, 422);
    assert_string_equal(rh->fields[0]->field, "retainUntil");
    crm__reply_header__free_unpacked(rh, NULL);
    crm_bus_client_destroy(&client);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consent_decisions), cmocka_unit_test(test_rules),
        cmocka_unit_test(test_history),           cmocka_unit_test(test_bad_input_writes_nothing),
        cmocka_unit_test(test_concurrent_writes), cmocka_unit_test(test_bus),
    };
    return cmocka_run_group_tests_name("system: consent", tests, s_setup, s_teardown);
}
