/*  System tests of the notify service's opt-outs applied by contacts: an SMS STOP sets
    doNotContact.sms, START lifts it, a one-click unsubscribe withdraws the email
    marketing consent; each shows in the contact's communication rules and history in
    the name of "notify" and is published as the API's own change would be; an event
    seen again adds nothing; an unknown or erased contact is skipped.

    The events come from crm-notify's own outbox: the test writes a NotificationOptedOut
    row into notify.outbox (as notify's code will, in its transaction) and notify's relay
    publishes it; contacts follows the notify source through its inbox. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "contacts.pb-c.h"
#include "db.h"
#include "events.pb-c.h"
#include "ids.h"
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

//  A new person of tenant A with a mobile and an email; its id into id.
static void s_contact_new(const char *first, char id[64]) {
    static int n;
    char body[512];
    snprintf(body, sizeof body,
             "{\"kind\":\"person\",\"firstName\":\"%s\",\"lastName\":\"Optout\","
             "\"emails\":[{\"address\":\"optout%d.%lld@example.com\"}],"
             "\"phones\":[{\"number\":\"(202) 555-0143\",\"type\":\"mobile\",\"sms\":true}]}",
             first, ++n, (long long)zclock_time());
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  One request with a path made from fmt; asserts the status.
static harness_response_t s_call(const char *method, const char *body, long status, const char *fmt,
                                 ...) {
    char path[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(path, sizeof path, fmt, args);
    va_end(args);
    harness_response_t r = harness_http(method, path, h->key_a, body, NULL);
    if (r.status != status)
        fprintf(stderr, "%s %s -> %ld %s\n", method, path, r.status, r.body);
    assert_int_equal(r.status, status);
    return r;
}

static long long s_count(const char *fmt, const char *id) {
    char sql[1024];
    snprintf(sql, sizeof sql, fmt, id);
    return sql_scalar(sql);
}

static const char *s_member(json_t *object, const char *name) {
    const char *value = json_string_value(json_object_get(object, name));
    return value ? value : "";
}

static bool s_flag(json_t *object, const char *name) {
    json_t *value = json_object_get(object, name);
    assert_true(json_is_boolean(value));
    return json_is_true(value);
}

//  Wait until contacts has applied every event notify has published: notify's relay
//  has numbered all its outbox rows, and contacts' inbox for notify is at that head.
static void s_wait_applied(void) {
    for (int i = 0; i < 200; i++) {
        long long rows = sql_scalar("SELECT count(*) FROM notify.outbox");
        long long head = sql_scalar("SELECT last_seq FROM notify.outbox_state");
        long long applied = sql_scalar("SELECT coalesce((SELECT last_seq FROM contacts.inbox"
                                       " WHERE source = 'notify'), 0)");
        if (head == rows && applied >= head)
            return;
        zclock_sleep(50);
    }
    fail_msg("contacts did not apply notify's events within 10 s");
}

//  notify publishes a NotificationOptedOut about contact_id of tenant (written to its
//  outbox as its own code would; its relay publishes it), then contacts applies it.
static void s_opted_out(const char *tenant, const char *contact_id, const char *channel,
                        const char *address, const char *purpose, const char *keyword,
                        bool opted_in, const char *at) {
    Crm__Events__NotificationOptedOut m = CRM__EVENTS__NOTIFICATION_OPTED_OUT__INIT;
    m.contact_id = (char *)contact_id;
    m.channel = (char *)channel;
    m.address = (char *)address;
    m.purpose = (char *)purpose;
    m.keyword = (char *)keyword;
    m.opted_in = opted_in;
    m.at = (char *)at;
    uint8_t data[512];
    size_t size = crm__events__notification_opted_out__pack(&m, data);
    char *payload = crm_db_bytea_literal(data, size);
    char event_id[CRM_UUID_LEN + 1], sql[2048];
    crm_uuid_v7(event_id);
    snprintf(sql, sizeof sql,
             "INSERT INTO notify.outbox (event_id, type, tenant_id, aggregate_id, payload,"
             " occurred_at) VALUES ('%s', 'NotificationOptedOut', '%s', '%s', '%s'::bytea,"
             " now())",
             event_id, tenant, contact_id, payload);
    free(payload);
    sql_exec(sql);
    s_wait_applied();
}

//  An RFC 3339 time minutes ago, as the service writes times (whole seconds).
static void s_minutes_ago(int minutes, char out[40]) {
    time_t t = time(NULL) - minutes * 60;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
}

//  The contact's history (newest first), asserting how many entries it has.
static harness_response_t s_history(const char *id, size_t n) {
    harness_response_t r = s_call("GET", NULL, 200, "/v1/contacts/%s/communication/history", id);
    json_t *items = json_object_get(r.json, "items");
    if (json_array_size(items) != n)
        fprintf(stderr, "history of %s: %s\n", id, r.body);
    assert_int_equal(json_array_size(items), n);
    return r;
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

//  The newest history entry is a doNotContact.sms change to enabled by notify, at at.
static void s_sms_entry(const char *id, size_t n, bool enabled, const char *note, const char *at) {
    harness_response_t r = s_history(id, n);
    json_t *e = json_array_get(json_object_get(r.json, "items"), 0);
    assert_string_equal(s_member(e, "kind"), "do_not_contact");
    assert_string_equal(s_member(e, "field"), "doNotContact.sms");
    assert_true(s_flag(e, "enabled") == enabled);
    assert_string_equal(s_member(e, "method"), "sms_stop");
    assert_string_equal(s_member(e, "note"), note);
    assert_string_equal(s_member(e, "recordedBy"), "notify");
    assert_string_equal(s_member(e, "effectiveAt"), at);
    harness_response_free(&r);
}

static bool s_dnc_sms(const char *id) {
    harness_response_t r = s_call("GET", NULL, 200, "/v1/contacts/%s/communication", id);
    json_t *dnc = json_object_get(r.json, "doNotContact");
    bool sms = s_flag(dnc, "sms");
    assert_false(s_flag(dnc, "call") || s_flag(dnc, "email") || s_flag(dnc, "mail"));
    harness_response_free(&r);
    return sms;
}

//  STOP sets doNotContact.sms (once, however often the event comes), START lifts it;
//  each in the history and published as a PATCH's change is.
static void test_sms_stop_start(void **state) {
    (void)state;
    char id[64], stop_at[40], start_at[40];
    s_contact_new("Sam", id);
    s_minutes_ago(30, stop_at);
    s_minutes_ago(10, start_at);

    s_opted_out("tenant-a", id, "sms", "+12025550143", "", "STOP", false, stop_at);
    assert_true(s_dnc_sms(id));
    s_sms_entry(id, 1, true, "texted STOP", stop_at);
    //  The same event again: nothing more.
    s_opted_out("tenant-a", id, "sms", "+12025550143", "", "STOP", false, stop_at);
    assert_true(s_dnc_sms(id));
    s_sms_entry(id, 1, true, "texted STOP", stop_at);
    harness_response_t r =
        s_call("GET", NULL, 200, "/v1/contacts/%s/communication/check?channel=sms&purpose=%s", id,
               "follow_up");
    assert_false(s_flag(r.json, "allowed"));
    assert_string_equal(s_member(r.json, "reason"), "do_not_contact");
    harness_response_free(&r);

    s_opted_out("tenant-a", id, "sms", "+12025550143", "", "START", true, start_at);
    assert_false(s_dnc_sms(id));
    s_sms_entry(id, 2, false, "texted START", start_at);
    s_opted_out("tenant-a", id, "sms", "+12025550143", "", "START", true, start_at);
    s_sms_entry(id, 2, false, "texted START", start_at);
    r = s_call("GET", NULL, 200, "/v1/contacts/%s/communication", id);
    assert_string_equal(s_member(r.json, "updatedBy"), "notify");
    harness_response_free(&r);

    //  Two events, as a PATCH publishes them, in notify's name.
    ProtobufCMessage *events[4];
    size_t n = s_events(id, "ContactCommunicationRulesChanged",
                        &crm__events__contact_communication_rules_changed__descriptor, events, 4);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        const Crm__Events__ContactCommunicationRulesChanged *e = (const void *)events[i];
        assert_string_equal(e->contact_id, id);
        assert_int_equal(e->n_changed, 1);
        assert_string_equal(e->changed[0], "doNotContact.sms");
        assert_true(e->do_not_contact->sms == (i == 0));
        assert_false(e->do_not_contact->email || e->stop_follow_ups);
        assert_int_equal(e->method, CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_SMS_STOP);
        assert_string_equal(e->actor_id, "notify");
    }
    s_events_free(events, n);
}

//  A one-click unsubscribe withdraws the email marketing consent (once), method
//  unsubscribe, published as RecordConsent publishes a decision.
static void test_email_unsubscribe(void **state) {
    (void)state;
    char id[64], granted_at[40], at[40], body[256];
    s_contact_new("Una", id);
    s_minutes_ago(60, granted_at);
    s_minutes_ago(5, at);
    snprintf(body, sizeof body,
             "{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,"
             "\"method\":\"web_form\",\"effectiveAt\":\"%s\"}",
             granted_at);
    harness_response_t r = s_call("POST", body, 201, "/v1/contacts/%s/consents", id);
    harness_response_free(&r);

    for (int round = 0; round < 2; round++) { // the second: the same event again
        s_opted_out("tenant-a", id, "email", "una@example.com", "marketing", "", false, at);
        r = s_call("GET", NULL, 200, "/v1/contacts/%s/communication", id);
        json_t *consents = json_object_get(r.json, "consents");
        bool found = false;
        for (size_t i = 0; i < json_array_size(consents); i++) {
            json_t *c = json_array_get(consents, i);
            if (strcmp(s_member(c, "channel"), "email") ||
                strcmp(s_member(c, "purpose"), "marketing"))
                continue;
            found = true;
            assert_string_equal(s_member(c, "status"), "withdrawn");
            assert_false(s_flag(c, "allowed"));
            assert_string_equal(s_member(c, "method"), "unsubscribe");
            assert_string_equal(s_member(c, "recordedBy"), "notify");
            assert_string_equal(s_member(c, "effectiveAt"), at);
        }
        assert_true(found);
        assert_false(s_flag(json_object_get(r.json, "doNotContact"), "email"));
        harness_response_free(&r);
        r = s_history(id, 2);
        json_t *e = json_array_get(json_object_get(r.json, "items"), 0);
        assert_string_equal(s_member(e, "kind"), "consent");
        assert_string_equal(s_member(e, "channel"), "email");
        assert_string_equal(s_member(e, "purpose"), "marketing");
        assert_false(s_flag(e, "granted"));
        assert_string_equal(s_member(e, "method"), "unsubscribe");
        assert_string_equal(s_member(e, "note"), "one-click unsubscribe");
        assert_string_equal(s_member(e, "recordedBy"), "notify");
        assert_string_equal(s_member(e, "effectiveAt"), at);
        harness_response_free(&r);
    }
    r = s_call("GET", NULL, 200,
               "/v1/contacts/%s/communication/check?channel=email&purpose=marketing", id);
    assert_string_equal(s_member(r.json, "reason"), "withdrawn");
    harness_response_free(&r);

    ProtobufCMessage *events[4];
    size_t n = s_events(id, "ContactConsentChanged",
                        &crm__events__contact_consent_changed__descriptor, events, 4);
    assert_int_equal(n, 2); // the grant, the unsubscribe
    const Crm__Events__ContactConsentChanged *e = (const void *)events[1];
    assert_string_equal(e->contact_id, id);
    assert_int_equal(e->channel, CRM__CONTACTS__CHANNEL__CHANNEL_EMAIL);
    assert_int_equal(e->purpose, CRM__CONTACTS__PURPOSE__PURPOSE_MARKETING);
    assert_true(!e->granted && e->current);
    assert_int_equal(e->method, CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_UNSUBSCRIBE);
    assert_string_equal(e->actor_id, "notify");
    assert_string_equal(e->effective_at, at);
    s_events_free(events, n);
    //  The API accepts the method too, for a withdrawal by email only.
    r = s_call("POST",
               "{\"channel\":\"email\",\"purpose\":\"analytics\",\"granted\":false,"
               "\"method\":\"unsubscribe\"}",
               201, "/v1/contacts/%s/consents", id);
    harness_response_free(&r);
    r = s_call("POST",
               "{\"channel\":\"sms\",\"purpose\":\"marketing\",\"granted\":false,"
               "\"method\":\"unsubscribe\"}",
               422, "/v1/contacts/%s/consents", id);
    assert_string_equal(harness_error_field(&r), "method");
    harness_response_free(&r);
}

//  An unknown contact, another tenant's, an erased one, a contact id that is not one,
//  and notify's other events are skipped without holding up the ones after them.
static void test_skipped(void **state) {
    (void)state;
    char id[64], erased[64], unknown[CRM_UUID_LEN + 1], at[40];
    s_contact_new("Eve", erased);
    harness_response_t r = s_call("POST", NULL, 204, "/v1/contacts/%s/erase", erased);
    harness_response_free(&r);
    s_contact_new("Kim", id);
    crm_uuid_v7(unknown);
    s_minutes_ago(1, at);

    s_opted_out("tenant-a", unknown, "sms", "+12025550199", "", "STOP", false, at);
    s_opted_out("tenant-a", erased, "sms", "+12025550143", "", "STOP", false, at);
    s_opted_out("tenant-a", "not-a-contact", "email", "x@example.com", "marketing", "", false, at);
    s_opted_out("tenant-b", id, "sms", "+12025550143", "", "STOP", false, at);
    s_opted_out("tenant-a", id, "whatsapp", "+12025550143", "", "STOP", false, at);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.communication_history"
                             " WHERE contact_id = '%s'",
                             erased),
                     0);
    assert_false(s_dnc_sms(id));
    r = s_history(id, 0);
    harness_response_free(&r);
    //  And the next one is applied.
    s_opted_out("tenant-a", id, "sms", "+12025550143", "", "stop", false, at);
    assert_true(s_dnc_sms(id));
    s_sms_entry(id, 1, true, "texted STOP", at);
    assert_int_equal(sql_scalar("SELECT count(*) FROM contacts.communication_history"
                                " WHERE recorded_by = 'notify' AND tenant_id <> 'tenant-a'"),
                     0);
}

//  The same event applied again (its seq, its id: contacts' inbox set back by one, so
//  the next event finds a hole and contacts replays from notify's Events.Replay) adds
//  nothing: the flag it sets is set already.
static void test_replayed(void **state) {
    (void)state;
    char id[64], next[64], at[40];
    s_contact_new("Rae", id);
    s_contact_new("Ray", next);
    s_minutes_ago(2, at);
    s_opted_out("tenant-a", id, "sms", "+12025550143", "", "STOP", false, at);
    s_sms_entry(id, 1, true, "texted STOP", at);
    sql_exec("UPDATE contacts.inbox SET last_seq = last_seq - 1 WHERE source = 'notify'");
    s_opted_out("tenant-a", next, "sms", "+12025550143", "", "STOP", false, at);
    s_sms_entry(next, 1, true, "texted STOP", at);
    s_sms_entry(id, 1, true, "texted STOP", at);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.outbox WHERE aggregate_id = '%s'"
                             " AND type = 'ContactCommunicationRulesChanged'",
                             id),
                     1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sms_stop_start),
        cmocka_unit_test(test_email_unsubscribe),
        cmocka_unit_test(test_skipped),
        cmocka_unit_test(test_replayed),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
