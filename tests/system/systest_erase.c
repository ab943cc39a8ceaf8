/*  System tests of erasure (the right to be forgotten) and the retention sweep: the
    person's data leaves the contacts schema — the row, email keys, notes, consents, the
    audit trail's values, stored replies, past event payloads — and ContactErased goes
    out; a contact past its retention with no activity is erased by the sweep. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

static harness_t *h;

static int s_setup(void **state) {
    (void)state;
    static const char *const env[] = {"CRM_CONTACTS_RETENTION_SWEEP_MS=200", NULL};
    h = harness_start(env);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  A count from the contacts schema, for one contact (%s in sql is its id).
static long long s_count(const char *sql_fmt, const char *id) {
    char sql[1024];
    snprintf(sql, sizeof sql, sql_fmt, id);
    return harness_sql_scalar(sql);
}

//  A contact with personal data everywhere: profile, a note, a consent, an update, a
//  create retried with an idempotency key. Its id into id.
static void s_rich_contact(const char *email, char id[64]) {
    char body[1024];
    snprintf(body, sizeof body,
             "{\"firstName\":\"Erin\",\"lastName\":\"Forgotten\",\"source\":\"web\","
             "\"emails\":[{\"address\":\"%s\"}],\"phones\":[{\"number\":\"2025550199\"}],"
             "\"dateOfBirth\":\"1985-05-05\","
             "\"addresses\":[{\"line1\":\"9 Hidden Lane\",\"city\":\"Springfield\"}]}",
             email);
    const char *headers[] = {"Idempotency-Key: erase-me-1", NULL};
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, headers);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    char path[160];
    snprintf(path, sizeof path, "/v1/contacts/%s", id);
    r = harness_http("PATCH", path, h->key_a, "{\"lastName\":\"Forgotten-Smith\"}", NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/contacts/%s/notes", id);
    r = harness_http("POST", path, h->key_a, "{\"body\":\"Erin's wife prefers the blue one\"}",
                     NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/contacts/%s/consents", id);
    r = harness_http("POST", path, h->key_a,
                     "{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,"
                     "\"method\":\"web_form\",\"note\":\"ticked the box at erin's visit\"}",
                     NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
}

static void test_erase(void **state) {
    (void)state;
    char id[64];
    s_rich_contact("erin.forgotten@example.com", id);
    //  Before: the personal data is in the outbox payloads.
    assert_true(s_count("SELECT count(*) FROM contacts.outbox WHERE aggregate_id = '%s'"
                        " AND position(convert_to('Forgotten', 'UTF8') IN payload) > 0",
                        id) > 0);
    char path[160];
    snprintf(path, sizeof path, "/v1/contacts/%s/erase", id);
    //  Only managers and admins; another tenant does not find it.
    harness_response_t r = harness_http("POST", path, h->key_analyst, NULL, NULL);
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
    r = harness_http("POST", path, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);

    r = harness_http("POST", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);

    //  Gone from the API.
    snprintf(path, sizeof path, "/v1/contacts/%s", id);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    //  The row keeps what reports count, nothing of the person.
    assert_int_equal(s_count("SELECT count(*) FROM contacts.contacts WHERE id = '%s'"
                             " AND erased_at IS NOT NULL AND name = '' AND first_name = ''"
                             " AND emails = '[]' AND phones = '[]' AND profile = '{}'"
                             " AND source = 'web'",
                             id),
                     1);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.contact_emails WHERE contact_id = '%s'",
                             id),
                     0);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.notes WHERE contact_id = '%s'", id), 0);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.note_revisions"
                                        " WHERE body LIKE '%blue one%'"),
                     0);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.consents WHERE contact_id = '%s'", id),
                     0);
    assert_int_equal(
        s_count("SELECT count(*) FROM contacts.communication_history WHERE contact_id = '%s'", id),
        0);
    //  The audit trail keeps the fields and who, not the values.
    assert_true(s_count("SELECT count(*) FROM contacts.contact_audit WHERE contact_id = '%s'", id) >=
                3);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.contact_audit WHERE contact_id = '%s'"
                             " AND changes::text LIKE '%%Forgotten%%'",
                             id),
                     0);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.contact_audit WHERE contact_id = '%s'"
                             " AND action = 'erased'",
                             id),
                     1);
    //  No stored reply holds it; no past event payload holds it; ContactErased is out.
    assert_int_equal(s_count("SELECT count(*) FROM contacts.idempotency"
                             " WHERE position(convert_to('%s', 'UTF8') IN response) > 0",
                             id),
                     0);
    assert_int_equal(
        s_count("SELECT count(*) FROM contacts.outbox WHERE aggregate_id = '%s' AND ("
                " position(convert_to('Forgotten', 'UTF8') IN payload) > 0"
                " OR position(convert_to('erin.forgotten', 'UTF8') IN payload) > 0"
                " OR position(convert_to('blue one', 'UTF8') IN payload) > 0"
                " OR position(convert_to('2025550199', 'UTF8') IN payload) > 0)",
                id),
        0);
    assert_true(s_count("SELECT count(*) FROM contacts.outbox WHERE aggregate_id = '%s'"
                        " AND type = 'ContactCreated'",
                        id) == 1);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.outbox WHERE aggregate_id = '%s'"
                             " AND type = 'ContactErased'",
                             id),
                     1);
    //  The address is free for someone else; erasing again finds nothing.
    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"firstName\":\"New\",\"lastName\":\"Owner\","
                     "\"emails\":[{\"address\":\"erin.forgotten@example.com\"}]}",
                     NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/contacts/%s/erase", id);
    r = harness_http("POST", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    r = harness_http("POST", "/v1/contacts/nope/erase", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
}

//  Retention: past its period with no activity since, the sweep erases the contact; one
//  with activity in the period stays.
static void test_retention_sweep(void **state) {
    (void)state;
    char idle[64], busy[64];
    s_rich_contact("idle.retention@example.com", idle);
    char body[512];
    snprintf(body, sizeof body,
             "{\"firstName\":\"Busy\",\"lastName\":\"Buyer\",\"emails\":[{\"address\":"
             "\"busy.retention@example.com\"}]}");
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    assert_int_equal(r.status, 201);
    snprintf(busy, sizeof busy, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    const char *ids[] = {idle, busy};
    for (int i = 0; i < 2; i++) {
        char path[160];
        snprintf(path, sizeof path, "/v1/contacts/%s/communication", ids[i]);
        r = harness_http("PATCH", path, h->key_a, "{\"retentionDays\":30}", NULL);
        assert_int_equal(r.status, 200);
        harness_response_free(&r);
    }
    //  Forty days pass: the period began ten days ago... for both; the busy one had a
    //  note five days ago.
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE contacts.communication_rules SET retain_until = now() - interval '10 days'"
             " WHERE contact_id IN ('%s', '%s')",
             idle, busy);
    assert_int_equal(harness_sql_exec(sql), 0);
    snprintf(sql, sizeof sql,
             "UPDATE contacts.contacts SET created_at = now() - interval '60 days',"
             " last_activity_at = CASE WHEN id = '%s' THEN now() - interval '5 days'"
             "                         ELSE now() - interval '50 days' END"
             " WHERE id IN ('%s', '%s')",
             busy, idle, busy);
    assert_int_equal(harness_sql_exec(sql), 0);
    bool erased = false;
    for (int i = 0; i < 100 && !erased; i++) {
        erased = s_count("SELECT count(*) FROM contacts.contacts WHERE id = '%s'"
                         " AND erased_at IS NOT NULL",
                         idle) == 1;
        if (!erased)
            zclock_sleep(100);
    }
    assert_true(erased);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.contacts WHERE id = '%s'"
                             " AND erased_at IS NULL AND name = 'Busy Buyer'",
                             busy),
                     1);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.outbox WHERE aggregate_id = '%s'"
                             " AND type = 'ContactErased'"
                             " AND position(convert_to('system:retention', 'UTF8') IN payload) > 0",
                             idle),
                     1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_erase),
        cmocka_unit_test(test_retention_sweep),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
