/*  System tests of merging duplicate contacts and undoing a merge, the whole suite driven
    over HTTP (tests/system/harness.h):

    - the preview of a merge equals the merge's result (same survivor, same sources); a
      GET of the merged id answers the survivor with mergedFrom;
    - a merge of a contact with a lead (leads service) and a message (notify service)
      re-points both to the survivor; the undo points them back, the merged contact is
      itself again (its own email), the survivor has lost what it brought; the merges are
      listed with who and when;
    - bad input: a contact with itself, another tenant's contact (404), an already merged
      id, more than 10, a salesperson (403), an undo done twice, after its window, or
      after a later merge of its survivor: 4xx naming the field, nothing changed;
    - SIGKILL of crm-contacts in the middle of a merge (held inside its transaction by a
      trigger): no merge at all; the same merge once the daemon is back: the whole merge.
*/
#include "harness.h"
#include "ids.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <czmq.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

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

//  A contact of the tenant of key; its id into id.
static void s_contact(const char *key, const char *json, char id[64]) {
    harness_response_t r = harness_http("POST", "/v1/contacts", key, json, NULL);
    if (r.status != 201)
        fprintf(stderr, "contact: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  A person with one email and one phone.
static void s_person(const char *first, const char *last, const char *email, const char *phone,
                     char id[64]) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"kind\":\"person\",\"firstName\":\"%s\",\"lastName\":\"%s\","
             "\"emails\":[{\"address\":\"%s\",\"consent\":true}],"
             "\"phones\":[{\"number\":\"%s\",\"type\":\"mobile\",\"sms\":true}]}",
             first, last, email, phone);
    s_contact(h->key_a, body, id);
}

static harness_response_t s_merge(const char *path, const char *key, const char *primary,
                                  const char *merged, const char *extra) {
    char body[1024];
    snprintf(body, sizeof body, "{\"primaryId\":\"%s\",\"mergeIds\":[%s]%s}", primary, merged,
             extra ? extra : "");
    return harness_http("POST", path, key, body, NULL);
}

//  A merge of merged ("\"id\",...") into primary that succeeds: its id into merge_id.
static void s_merge_ok(const char *primary, const char *merged, char merge_id[64]) {
    harness_response_t r = s_merge("/v1/contacts/merge", h->key_a, primary, merged, NULL);
    if (r.status != 200)
        fprintf(stderr, "merge: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    snprintf(merge_id, 64, "%s",
             json_string_value(json_object_get(json_object_get(r.json, "merge"), "id")));
    harness_response_free(&r);
}

static void s_get_contact(const char *id, harness_response_t *r) {
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", id);
    *r = harness_http("GET", path, h->key_a, NULL, NULL);
}

//  The status of a request and the field its first error names.
static void s_expect(harness_response_t r, long status, const char *field) {
    if (r.status != status || strcmp(harness_error_field(&r), field) != 0)
        fprintf(stderr, "expected %ld %s: %ld %s\n", status, field, r.status, r.body);
    assert_int_equal(r.status, status);
    assert_string_equal(harness_error_field(&r), field);
    harness_response_free(&r);
}

//  Wait until GET path's member is value (up to timeout_ms).
static void s_wait_member(const char *path, const char *member, const char *value,
                          int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    for (;;) {
        harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
        bool ok = r.status == 200 && strcmp(harness_json_str(&r, member), value) == 0;
        if (ok || zclock_mono() > until) {
            if (!ok)
                fprintf(stderr, "%s: %s is not %s: %ld %s\n", path, member, value, r.status,
                        r.body);
            harness_response_free(&r);
            assert_true(ok);
            return;
        }
        harness_response_free(&r);
        zclock_sleep(50);
    }
}

static void test_preview_equals_merge(void **state) {
    (void)state;
    char a[64], b[64];
    s_person("Ann", "Lee", "ann.lee@example.com", "+12025550111", a);
    s_contact(h->key_a,
              "{\"kind\":\"person\",\"firstName\":\"Annie\",\"lastName\":\"Lee\","
              "\"dateOfBirth\":\"1980-04-02\",\"foundUs\":\"radio\","
              "\"emails\":[{\"address\":\"annie@example.com\"}],"
              "\"phones\":[{\"number\":\"+12025550111\",\"type\":\"mobile\",\"sms\":false},"
              "{\"number\":\"+12025550112\",\"type\":\"home\"}]}",
              b);
    char merged[80], choose[160];
    snprintf(merged, sizeof merged, "\"%s\"", b);
    snprintf(choose, sizeof choose, ",\"choose\":{\"firstName\":\"%s\"}", b);
    harness_response_t preview =
        s_merge("/v1/contacts/merge/preview", h->key_a, a, merged, choose);
    assert_int_equal(preview.status, 200);
    harness_response_t merge = s_merge("/v1/contacts/merge", h->key_a, a, merged, choose);
    if (merge.status != 200)
        fprintf(stderr, "merge: %ld %s\n", merge.status, merge.body);
    assert_int_equal(merge.status, 200);
    //  The same survivor (but the time of its write) and the same sources.
    json_t *p = json_object_get(preview.json, "survivor");
    json_t *m = json_object_get(merge.json, "survivor");
    json_object_del(p, "updatedAt");
    json_object_del(m, "updatedAt");
    if (!json_equal(p, m)) {
        char *x = json_dumps(p, JSON_COMPACT), *y = json_dumps(m, JSON_COMPACT);
        fprintf(stderr, "preview %s\nmerge   %s\n", x, y);
        free(x);
        free(y);
    }
    assert_true(json_equal(p, m));
    assert_true(json_equal(json_object_get(preview.json, "sources"),
                           json_object_get(merge.json, "sources")));
    //  The survivorship: the chosen first name, the primary's last name, the empty fields
    //  filled, the union of emails and phones, the shared number's stricter opt-in.
    assert_string_equal(json_string_value(json_object_get(m, "id")), a);
    assert_string_equal(json_string_value(json_object_get(m, "firstName")), "Annie");
    assert_string_equal(json_string_value(json_object_get(m, "dateOfBirth")), "1980-04-02");
    assert_int_equal(json_array_size(json_object_get(m, "emails")), 2);
    json_t *phones = json_object_get(m, "phones");
    assert_int_equal(json_array_size(phones), 2);
    assert_false(json_is_true(json_object_get(json_array_get(phones, 0), "sms")));
    json_t *merge_rec = json_object_get(merge.json, "merge");
    assert_string_equal(json_string_value(json_object_get(merge_rec, "status")), "merged");
    assert_true(json_string_length(json_object_get(merge_rec, "actorId")) > 0);
    harness_response_free(&preview);
    harness_response_free(&merge);
    //  The merged id resolves to the survivor.
    harness_response_t r;
    s_get_contact(b, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "id"), a);
    assert_string_equal(harness_json_str(&r, "mergedFrom"), b);
    harness_response_free(&r);
    //  And is out of the list.
    r = harness_http("GET", "/v1/contacts?q=annie%40example.com", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    for (size_t i = 0; i < json_array_size(items); i++)
        assert_string_not_equal(json_string_value(json_object_get(json_array_get(items, i), "id")),
                                b);
    harness_response_free(&r);
}

static void test_merge_repoints_and_undo(void **state) {
    (void)state;
    char a[64], b[64], lead[64], message[64], merge_id[64], path[160], body[512];
    s_person("Carl", "Ortiz", "carl@example.com", "+12025550121", a);
    s_person("Carlos", "Ortiz", "carlos.o@example.com", "+12025550122", b);
    //  A lead of b in the leads service.
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"source\":\"phone\"}", b);
    harness_response_t r = {0};
    for (int i = 0; i < 100; i++) {
        r = harness_http("POST", "/v1/leads", h->key_a, body, NULL);
        if (r.status == 201)
            break;
        harness_response_free(&r);
        zclock_sleep(50);
    }
    assert_int_equal(r.status, 201);
    snprintf(lead, sizeof lead, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    //  A message to b in notify (retried while notify's copy of b catches up).
    snprintf(body, sizeof body,
             "{\"contactId\":\"%s\",\"channel\":\"sms\",\"bodyText\":\"Your car is ready\"}", b);
    for (int i = 0; i < 100; i++) {
        r = harness_http("POST", "/v1/messages", h->key_a, body, NULL);
        if (r.status == 201)
            break;
        harness_response_free(&r);
        zclock_sleep(50);
    }
    if (r.status != 201)
        fprintf(stderr, "message: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(message, sizeof message, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);

    char merged[80];
    snprintf(merged, sizeof merged, "\"%s\"", b);
    s_merge_ok(a, merged, merge_id);
    char lead_path[128], message_path[128];
    snprintf(lead_path, sizeof lead_path, "/v1/leads/%s", lead);
    snprintf(message_path, sizeof message_path, "/v1/messages/%s", message);
    s_wait_member(lead_path, "contactId", a, 10000);
    s_wait_member(message_path, "contactId", a, 10000);

    //  The merges, who and when.
    snprintf(path, sizeof path, "/v1/merges?contactId=%s", b);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")),
                        merge_id);
    assert_true(json_string_length(json_object_get(json_array_get(items, 0), "mergedAt")) > 0);
    harness_response_free(&r);

    snprintf(path, sizeof path, "/v1/merges/%s/undo", merge_id);
    r = harness_http("POST", path, h->key_a, NULL, NULL);
    if (r.status != 200)
        fprintf(stderr, "undo: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "status"), "undone");
    harness_response_free(&r);
    s_wait_member(lead_path, "contactId", b, 10000);
    s_wait_member(message_path, "contactId", b, 10000);

    //  b is itself again, with its own email; a has given it back.
    s_get_contact(b, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "id"), b);
    assert_string_equal(harness_json_str(&r, "firstName"), "Carlos");
    assert_string_equal(harness_json_str(&r, "mergedFrom"), "");
    json_t *emails = json_object_get(r.json, "emails");
    assert_int_equal(json_array_size(emails), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(emails, 0), "address")),
                        "carlos.o@example.com");
    harness_response_free(&r);
    s_get_contact(a, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "emails")), 1);
    assert_int_equal(json_array_size(json_object_get(r.json, "phones")), 1);
    assert_string_equal(harness_json_str(&r, "firstName"), "Carl");
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/merges/%s", merge_id);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "status"), "undone");
    assert_true(strlen(harness_json_str(&r, "undoneAt")) > 0);
    harness_response_free(&r);
}

static void test_bad_input(void **state) {
    (void)state;
    char a[64], b[64], c[64], other[64], ids[1024], merge_id[64], path[160];
    s_person("Dana", "Fox", "dana@example.com", "+12025550131", a);
    s_person("Dan", "Fox", "dan.fox@example.com", "+12025550132", b);
    s_person("D", "Fox", "d.fox@example.com", "+12025550133", c);
    s_contact(h->key_b, "{\"kind\":\"person\",\"firstName\":\"Other\",\"lastName\":\"Tenant\"}",
              other);
    char q[80];
    snprintf(q, sizeof q, "\"%s\"", a);
    s_expect(s_merge("/v1/contacts/merge", h->key_a, a, q, NULL), 422, "mergeIds[0]");
    snprintf(q, sizeof q, "\"%s\"", other);
    s_expect(s_merge("/v1/contacts/merge", h->key_a, a, q, NULL), 404, "mergeIds[0]");
    s_expect(s_merge("/v1/contacts/merge", h->key_a, other, q, NULL), 422, "mergeIds[0]");
    ids[0] = 0;
    for (int i = 0; i < 11; i++) {
        char id[40];
        crm_uuid_v7(id);
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s\"%s\"", i ? "," : "", id);
    }
    s_expect(s_merge("/v1/contacts/merge", h->key_a, a, ids, NULL), 422, "mergeIds");
    snprintf(q, sizeof q, "\"%s\"", b);
    s_expect(s_merge("/v1/contacts/merge", h->key_a, a, q, ",\"choose\":{\"emails\":\"x\"}"),
             422, "choose.emails");
    char sales[64];
    harness_create_key("tenant-a", "sales", sales, sizeof sales);
    harness_response_t r = s_merge("/v1/contacts/merge", sales, a, q, NULL);
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
    //  Nothing changed: b is still itself.
    s_get_contact(b, &r);
    assert_string_equal(harness_json_str(&r, "id"), b);
    harness_response_free(&r);

    s_merge_ok(a, q, merge_id);
    s_expect(s_merge("/v1/contacts/merge", h->key_a, c, q, NULL), 409, "mergeIds[0]");
    //  A later merge of the survivor: the first cannot be undone before it is.
    char later[64];
    snprintf(q, sizeof q, "\"%s\"", a);
    s_merge_ok(c, q, later);
    snprintf(path, sizeof path, "/v1/merges/%s/undo", merge_id);
    s_expect(harness_http("POST", path, h->key_a, NULL, NULL), 409, "id");
    s_get_contact(b, &r);
    assert_string_equal(harness_json_str(&r, "id"), c); // b -> a -> c
    harness_response_free(&r);
    //  Undone once; twice is refused.
    snprintf(path, sizeof path, "/v1/merges/%s/undo", later);
    r = harness_http("POST", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    s_expect(harness_http("POST", path, h->key_a, NULL, NULL), 409, "id");
    //  Past its window.
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE contacts.merges SET undo_until = now() - interval '1 day' WHERE id = '%s'",
             merge_id);
    assert_int_equal(harness_sql_exec(sql), 0);
    snprintf(path, sizeof path, "/v1/merges/%s/undo", merge_id);
    s_expect(harness_http("POST", path, h->key_a, NULL, NULL), 409, "id");
    s_get_contact(b, &r);
    assert_string_equal(harness_json_str(&r, "id"), a);
    harness_response_free(&r);
    //  Another tenant's merge is none of the caller's.
    r = harness_http("POST", path, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
}

typedef struct {
    char primary[64], merged[80];
    long status;
} s_merge_job_t;

static void *s_merge_run(void *arg) {
    s_merge_job_t *job = arg;
    harness_response_t r = s_merge("/v1/contacts/merge", h->key_a, job->primary, job->merged, NULL);
    job->status = r.status;
    harness_response_free(&r);
    return NULL;
}

static void test_kill_during_merge(void **state) {
    (void)state;
    char a[64], b[64], sql[512];
    s_person("Eve", "Stone", "eve@example.com", "+12025550141", a);
    s_person("Evie", "Stone", "evie@example.com", "+12025550142", b);
    //  The merge waits inside its transaction, after its first writes, until killed.
    assert_int_equal(
        harness_sql_exec("CREATE FUNCTION public.merge_hold() RETURNS trigger LANGUAGE plpgsql"
                         " AS $$ BEGIN PERFORM pg_sleep(5); RETURN NEW; END $$"),
        0);
    assert_int_equal(harness_sql_exec("CREATE TRIGGER merge_hold BEFORE INSERT ON contacts.merges"
                                      " FOR EACH ROW EXECUTE FUNCTION public.merge_hold()"),
                     0);
    s_merge_job_t job = {0};
    snprintf(job.primary, sizeof job.primary, "%s", a);
    snprintf(job.merged, sizeof job.merged, "\"%s\"", b);
    pthread_t thread;
    pthread_create(&thread, NULL, s_merge_run, &job);
    //  Kill once the merge is in the database (holding the merged contact's lock).
    int64_t until = zclock_mono() + 10000;
    while (harness_sql_scalar("SELECT count(*) FROM pg_stat_activity"
                              " WHERE wait_event = 'PgSleep'") < 1 &&
           zclock_mono() < until)
        zclock_sleep(20);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM pg_stat_activity"
                                        " WHERE wait_event = 'PgSleep'"),
                     1);
    pid_t pid = harness_daemon_pid("contacts");
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    pthread_join(thread, NULL);
    assert_true(job.status != 200);
    assert_int_equal(harness_sql_exec("DROP TRIGGER merge_hold ON contacts.merges"), 0);
    //  No merge at all: no record, b live with its address, no event.
    until = zclock_mono() + 10000;
    while (harness_sql_scalar("SELECT count(*) FROM pg_stat_activity"
                              " WHERE wait_event = 'PgSleep'") > 0 &&
           zclock_mono() < until)
        zclock_sleep(50);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts.contacts WHERE id = '%s' AND deleted_at IS NULL"
             " AND merged_into IS NULL",
             b);
    assert_int_equal(harness_sql_scalar(sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM contacts.merges WHERE survivor_id = '%s'", a);
    assert_int_equal(harness_sql_scalar(sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts.contact_emails WHERE address_norm = 'evie@example.com'"
             " AND contact_id = '%s'",
             b);
    assert_int_equal(harness_sql_scalar(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts.outbox WHERE type = 'ContactMerged'"
             " AND aggregate_id = '%s'",
             a);
    assert_int_equal(harness_sql_scalar(sql), 0);
    //  The daemon back (the supervisor restarts it), the same merge is whole.
    assert_true(harness_wait_ready(20000));
    char merge_id[64];
    harness_response_t r = {0};
    until = zclock_mono() + 20000;
    for (;;) {
        r = s_merge("/v1/contacts/merge", h->key_a, a, job.merged, NULL);
        if (r.status == 200 || zclock_mono() > until)
            break;
        harness_response_free(&r);
        zclock_sleep(100);
    }
    assert_int_equal(r.status, 200);
    snprintf(merge_id, sizeof merge_id, "%s",
             json_string_value(json_object_get(json_object_get(r.json, "merge"), "id")));
    harness_response_free(&r);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts.contacts WHERE id = '%s' AND merge_id = '%s'"
             " AND deleted_at IS NOT NULL",
             b, merge_id);
    assert_int_equal(harness_sql_scalar(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts.contact_emails WHERE address_norm = 'evie@example.com'"
             " AND contact_id = '%s'",
             a);
    assert_int_equal(harness_sql_scalar(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts.outbox WHERE type = 'ContactMerged'"
             " AND aggregate_id = '%s'",
             a);
    assert_int_equal(harness_sql_scalar(sql), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preview_equals_merge),
        cmocka_unit_test(test_merge_repoints_and_undo),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_kill_during_merge),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
