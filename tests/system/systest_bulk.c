/*  System tests of bulk changes over HTTP: on a selection and on a filter, at once (up to
    1,000 contacts) and as a job with progress (more), each change with its events, and
    each bad request refused with its field and nothing written. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

static harness_t *h;

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    const char *tags[] = {"{\"name\":\"Hot\"}", "{\"name\":\"Cold\"}"};
    for (int i = 0; i < 2; i++) {
        harness_response_t r = harness_http("POST", "/v1/tags", h->key_a, tags[i], NULL);
        assert_int_equal(r.status, 201);
        harness_response_free(&r);
    }
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  Create a person of source source; its id into id.
static void s_person(const char *first, const char *source, char id[64]) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"firstName\":\"%s\",\"lastName\":\"Bulk\",\"source\":\"%s\","
             "\"emails\":[{\"address\":\"%s.%lld@bulk.example\"}]}",
             first, source, first, (long long)zclock_usecs());
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

static long long s_events(const char *type) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts.outbox WHERE type = '%s' AND tenant_id = 'tenant-a'",
             type);
    return harness_sql_scalar(sql);
}

static long long s_int(const harness_response_t *r, const char *member) {
    return json_integer_value(json_object_get(r->json, member));
}

static harness_response_t s_bulk(const char *key, const char *body) {
    return harness_http("POST", "/v1/contacts/bulk", key, body, NULL);
}

//  A selection: changed at once, an unknown id reported, a second run changes nothing.
static void test_bulk_selection(void **state) {
    (void)state;
    char ids[3][64];
    for (int i = 0; i < 3; i++)
        s_person("Sel", "web", ids[i]);
    long long updated = s_events("ContactUpdated");
    const char *unknown = "0190a5b2-0000-7000-8000-00000000beef";
    char body[1024];
    snprintf(body, sizeof body,
             "{\"action\":\"add_tags\",\"tags\":[\"hot\"],\"ids\":[\"%s\",\"%s\",\"%s\",\"%s\","
             "\"%s\"]}",
             ids[0], ids[1], ids[2], unknown, ids[0]);
    harness_response_t r = s_bulk(h->key_a, body);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "status"), "succeeded");
    assert_string_equal(harness_json_str(&r, "action"), "add_tags");
    assert_int_equal(s_int(&r, "total"), 4);
    assert_int_equal(s_int(&r, "processed"), 4);
    assert_int_equal(s_int(&r, "changed"), 3);
    assert_int_equal(s_int(&r, "failed"), 1);
    json_t *error = json_array_get(json_object_get(r.json, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(error, "item")), unknown);
    harness_response_free(&r);
    assert_int_equal(s_events("ContactUpdated"), updated + 3);

    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", ids[1]);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r.json, "tags"), 0)),
                        "Hot");
    harness_response_free(&r);

    //  Again: every contact already has the tag; nothing changes, no event.
    r = s_bulk(h->key_a, body);
    assert_int_equal(r.status, 200);
    assert_int_equal(s_int(&r, "changed"), 0);
    harness_response_free(&r);
    assert_int_equal(s_events("ContactUpdated"), updated + 3);

    //  Remove it again from two of them.
    snprintf(body, sizeof body,
             "{\"action\":\"remove_tags\",\"tags\":[\"HOT\"],\"ids\":[\"%s\",\"%s\"]}", ids[0],
             ids[1]);
    r = s_bulk(h->key_a, body);
    assert_int_equal(r.status, 200);
    assert_int_equal(s_int(&r, "changed"), 2);
    harness_response_free(&r);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_null(json_object_get(r.json, "tags"));
    harness_response_free(&r);
}

//  A filter: every contact it finds, and only those.
static void test_bulk_filter(void **state) {
    (void)state;
    char ids[4][64], other[64];
    for (int i = 0; i < 4; i++)
        s_person("Phoned", "phone", ids[i]);
    s_person("Walked", "walk_in", other);
    harness_response_t r = s_bulk(
        h->key_a, "{\"action\":\"set_type\",\"type\":\"customer\",\"filter\":{\"source\":\"phone\"}}");
    assert_int_equal(r.status, 200);
    assert_int_equal(s_int(&r, "total"), 4);
    assert_int_equal(s_int(&r, "changed"), 4);
    harness_response_free(&r);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.contacts"
                                        " WHERE source = 'phone' AND type = 'customer'"),
                     4);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.contacts"
                                        " WHERE source = 'walk_in' AND type = 'customer'"),
                     0);
    //  A search as the filter.
    r = s_bulk(h->key_a, "{\"action\":\"assign\",\"assignee\":\"pat.k\",\"filter\":{\"q\":\"walked\"}}");
    assert_int_equal(r.status, 200);
    assert_int_equal(s_int(&r, "changed"), 1);
    harness_response_free(&r);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.contacts"
                                        " WHERE assignee = 'pat.k'"),
                     1);
}

//  More than 1,000: a job, with progress, finished by the runner.
static void test_bulk_job(void **state) {
    (void)state;
    assert_int_equal(
        harness_sql_exec("INSERT INTO contacts.contacts (tenant_id, id, kind, type, first_name,"
                         " last_name, name, source)"
                         " SELECT 'tenant-a', gen_random_uuid(), 'person', 'prospect', 'Many',"
                         " 'N' || g, 'Many N' || g, 'import' FROM generate_series(1, 2600) g"),
        0);
    long long updated = s_events("ContactUpdated");
    harness_response_t r = s_bulk(
        h->key_a, "{\"action\":\"add_tags\",\"tags\":[\"Cold\"],\"filter\":{\"source\":\"import\"}}");
    assert_int_equal(r.status, 202);
    assert_int_equal(s_int(&r, "total"), 2600);
    assert_string_equal(harness_json_str(&r, "status"), "queued");
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);

    //  Its progress, until done.
    long long last = -1;
    bool done = false;
    for (int i = 0; i < 600 && !done; i++) {
        r = harness_http("GET", path, h->key_a, NULL, NULL);
        assert_int_equal(r.status, 200);
        long long processed = s_int(&r, "processed");
        assert_true(processed >= last);
        last = processed;
        done = strcmp(harness_json_str(&r, "status"), "succeeded") == 0;
        if (done) {
            assert_int_equal(processed, 2600);
            assert_int_equal(s_int(&r, "changed"), 2600);
            assert_true(strlen(harness_json_str(&r, "finishedAt")) > 0);
        }
        harness_response_free(&r);
        if (!done)
            zclock_sleep(50);
    }
    assert_true(done);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.contacts"
                                        " WHERE source = 'import' AND tags = '{Cold}'"),
                     2600);
    assert_int_equal(s_events("ContactUpdated"), updated + 2600);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.job_items"), 0);

    //  Listed, newest first; another tenant does not see it.
    r = harness_http("GET", "/v1/jobs?limit=1", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    harness_response_free(&r);
    r = harness_http("GET", path, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
}

//  Delete: the contacts go, their addresses are free again, one event each.
static void test_bulk_delete(void **state) {
    (void)state;
    char ids[2][64];
    for (int i = 0; i < 2; i++)
        s_person("Gone", "referral", ids[i]);
    long long deleted = s_events("ContactDeleted");
    //  A salesperson may not delete in bulk: 403 (the role), not a field error, and nothing
    //  is queued.
    char sales[64];
    harness_create_key("tenant-a", "sales", sales, sizeof sales);
    long long jobs = harness_sql_scalar("SELECT count(*) FROM contacts.jobs");
    harness_response_t r =
        s_bulk(sales, "{\"action\":\"delete\",\"filter\":{\"source\":\"referral\"}}");
    assert_int_equal(r.status, 403);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
                        "forbidden");
    harness_response_free(&r);
    r = s_bulk(sales, "{\"action\":\"send_email\",\"filter\":{}}"); // 403 before the template
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.jobs"), jobs);
    r = s_bulk(h->key_a, "{\"action\":\"delete\",\"filter\":{\"source\":\"referral\"}}");
    assert_int_equal(r.status, 200);
    assert_int_equal(s_int(&r, "changed"), 2);
    harness_response_free(&r);
    assert_int_equal(s_events("ContactDeleted"), deleted + 2);
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", ids[0]);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.contact_emails"
                                        " WHERE address_norm LIKE 'gone.%'"),
                     0);
}

static void test_bulk_bad_input(void **state) {
    (void)state;
    long long jobs = harness_sql_scalar("SELECT count(*) FROM contacts.jobs");
    const char *cases[][2] = {
        {"{\"action\":\"set_type\",\"type\":\"customer\"}", "ids"},
        {"{\"action\":\"set_type\",\"type\":\"customer\",\"ids\":[\"nope\"]}", "ids[0]"},
        {"{\"action\":\"set_type\",\"type\":\"customer\",\"ids\":"
         "[\"0190a5b2-0000-7000-8000-000000000001\"],\"filter\":{}}",
         "filter"},
        {"{\"filter\":{\"source\":\"web\"}}", "action"},
        {"{\"action\":\"add_tags\",\"filter\":{\"source\":\"web\"}}", "tags"},
        {"{\"action\":\"add_tags\",\"tags\":[\"Warm\"],\"filter\":{\"source\":\"web\"}}",
         "tags[0]"},
        {"{\"action\":\"set_type\",\"filter\":{\"source\":\"web\"}}", "type"},
        {"{\"action\":\"assign\",\"assignee\":\"two words\",\"filter\":{}}", "assignee"},
        {"{\"action\":\"set_type\",\"type\":\"customer\",\"filter\":{\"createdFrom\":\"soon\"}}",
         "filter.createdFrom"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        harness_response_t r = s_bulk(h->key_a, cases[i][0]);
        if (r.status != 422)
            fprintf(stderr, "%s: %ld %s\n", cases[i][0], r.status, r.body);
        assert_int_equal(r.status, 422);
        assert_string_equal(harness_error_field(&r), cases[i][1]);
        harness_response_free(&r);
    }
    //  Too many ids.
    size_t size = 10001 * 40 + 100;
    char *body = malloc(size), *p = body;
    p += sprintf(p, "{\"action\":\"assign\",\"assignee\":\"x\",\"ids\":[");
    for (int i = 0; i < 10001; i++)
        p += sprintf(p, "%s\"0190a5b2-0000-7000-8000-%012d\"", i ? "," : "", i);
    sprintf(p, "]}");
    harness_response_t r = s_bulk(h->key_a, body);
    free(body);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "ids");
    harness_response_free(&r);
    //  An analyst reads, never changes.
    r = s_bulk(h->key_analyst, "{\"action\":\"assign\",\"assignee\":\"x\",\"filter\":{}}");
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.jobs"), jobs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_selection), cmocka_unit_test(test_bulk_filter),
        cmocka_unit_test(test_bulk_job),       cmocka_unit_test(test_bulk_delete),
        cmocka_unit_test(test_bulk_bad_input),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
