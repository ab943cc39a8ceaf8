/*  System tests of the duplicate scan and review list (crm-dedupe): contacts created
    through the contacts API, a scan started by a manager (a job whose progress GET
    /v1/duplicates/scans/{id} shows; sales may not start one, a second while one runs is
    409), the review list of groups with each member's score and reasons (a misspelt
    name with the same phone, date of birth with day and month swapped and the same
    street written short; names swapped first for last with the same email), a dismissal
    that holds through a rescan and lapses when a contact changes in a field the model
    compares, a new contact that duplicates one on file listed without a rescan, a merge
    of a group's contacts making it merged and its undo reopening it, bad
    input answered 4xx naming the field, and never another tenant's groups. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

static harness_t *h;
static char s_manager[64], s_sales[64];
static char s_john[64], s_jon[64], s_ann[64], s_lee[64], s_mary[64];

//  Until dedupe has applied every contacts event and its matching job has matched every
//  contact they queued.
static void s_wait_index(void) {
    int64_t until = zclock_mono() + 20000;
    long long head = harness_contacts_head(10000), applied = -1;
    while ((applied = harness_sql_scalar(
                "SELECT coalesce((SELECT last_seq FROM dedupe.inbox WHERE source = 'contacts'),"
                " 0)")) < head ||
           harness_sql_scalar("SELECT count(*) FROM dedupe.match_queue") > 0) {
        if (zclock_mono() > until)
            fail_msg("dedupe applied %lld of %lld contacts events", applied, head);
        zclock_sleep(50);
        head = harness_contacts_head(10000);
    }
}

static void s_create(const char *key, const char *body, char id[64]) {
    harness_response_t r = harness_http("POST", "/v1/contacts", key, body, NULL);
    if (r.status != 201)
        fail_msg("create %s: %ld %s", body, r.status, r.body);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    harness_create_key("tenant-a", "manager", s_manager, sizeof s_manager);
    harness_create_key("tenant-a", "sales", s_sales, sizeof s_sales);
    s_create(s_sales,
             "{\"firstName\":\"John\",\"lastName\":\"Smith\",\"dateOfBirth\":\"1980-03-04\","
             "\"phones\":[{\"number\":\"+12025550111\"}],"
             "\"addresses\":[{\"line1\":\"12 Main Street\",\"city\":\"Springfield\","
             "\"postcode\":\"62701\",\"country\":\"US\"}]}",
             s_john);
    s_create(s_sales,
             "{\"firstName\":\"Jon\",\"lastName\":\"Smyth\",\"dateOfBirth\":\"1980-04-03\","
             "\"phones\":[{\"number\":\"(202) 555-0111\"}],"
             "\"addresses\":[{\"line1\":\"12 main st.\",\"postcode\":\"62701\",\"country\":\"US\"}]}",
             s_jon);
    s_create(s_sales,
             "{\"firstName\":\"Ann\",\"lastName\":\"Lee\","
             "\"emails\":[{\"address\":\"ann.lee@gmail.com\"}]}",
             s_ann);
    s_create(s_sales,
             "{\"firstName\":\"Lee\",\"lastName\":\"Ann\","
             "\"emails\":[{\"address\":\"annlee+cars@gmail.com\"}]}",
             s_lee);
    s_create(s_sales,
             "{\"firstName\":\"Mary\",\"lastName\":\"Jones\","
             "\"emails\":[{\"address\":\"mary.jones@gmail.com\"}]}",
             s_mary);
    //  Not duplicates: the same name, another person elsewhere; a household member.
    char other[64];
    s_create(s_sales,
             "{\"firstName\":\"John\",\"lastName\":\"Smith\",\"dateOfBirth\":\"1955-11-30\","
             "\"addresses\":[{\"line1\":\"400 Oak Avenue\",\"postcode\":\"10001\"}]}",
             other);
    s_create(s_sales,
             "{\"firstName\":\"Sarah\",\"lastName\":\"Smith\",\"phones\":[{\"number\":\"+12025550111\"}],"
             "\"addresses\":[{\"line1\":\"12 Main Street\",\"postcode\":\"62701\"}]}",
             other);
    //  Tenant b's John Smith on the same number.
    s_create(h->key_b,
             "{\"firstName\":\"John\",\"lastName\":\"Smith\",\"phones\":[{\"number\":\"+12025550111\"}]}",
             other);
    s_wait_index();
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  Start a scan as the manager and wait for it to succeed; the scan's JSON (caller
//  decrefs).
static json_t *s_scan(void) {
    harness_response_t r = harness_http("POST", "/v1/duplicates/scans", s_manager, "{}", NULL);
    if (r.status != 202)
        fail_msg("scan: %ld %s", r.status, r.body);
    char path[128];
    snprintf(path, sizeof path, "/v1/duplicates/scans/%s", harness_json_str(&r, "id"));
    assert_string_equal(harness_json_str(&r, "status"), "queued");
    harness_response_free(&r);
    int64_t until = zclock_mono() + 20000;
    for (;;) {
        r = harness_http("GET", path, s_sales, NULL, NULL);
        assert_int_equal(r.status, 200);
        if (strcmp(harness_json_str(&r, "status"), "succeeded") == 0) {
            json_t *scan = json_incref(r.json);
            harness_response_free(&r);
            return scan;
        }
        harness_response_free(&r);
        if (zclock_mono() > until)
            fail_msg("the scan did not finish");
        zclock_sleep(100);
    }
}

//  The group of the list holding both contacts (a new reference), or NULL.
static json_t *s_group_with(const char *key, const char *status, const char *a, const char *b) {
    char path[128];
    snprintf(path, sizeof path, "/v1/duplicates?status=%s&limit=200", status);
    harness_response_t r = harness_http("GET", path, key, NULL, NULL);
    if (r.status != 200)
        fail_msg("list: %ld %s", r.status, r.body);
    json_t *found = NULL, *items = json_object_get(r.json, "items");
    for (size_t i = 0; i < json_array_size(items) && !found; i++) {
        json_t *g = json_array_get(items, i), *members = json_object_get(g, "members");
        bool has_a = false, has_b = false;
        for (size_t j = 0; j < json_array_size(members); j++) {
            const char *id = json_string_value(json_object_get(json_array_get(members, j),
                                                               "contactId"));
            has_a |= id && strcmp(id, a) == 0;
            has_b |= id && strcmp(id, b) == 0;
        }
        if (has_a && has_b)
            found = json_incref(g);
    }
    harness_response_free(&r);
    return found;
}

static bool s_has_reason(json_t *group, const char *field, const char *level) {
    json_t *members = json_object_get(group, "members");
    for (size_t j = 0; j < json_array_size(members); j++) {
        json_t *reasons = json_object_get(json_array_get(members, j), "reasons");
        for (size_t k = 0; k < json_array_size(reasons); k++) {
            json_t *reason = json_array_get(reasons, k);
            if (strcmp(json_string_value(json_object_get(reason, "field")), field) == 0 &&
                strcmp(json_string_value(json_object_get(reason, "level")), level) == 0)
                return true;
        }
    }
    return false;
}

static void test_scan_finds_groups(void **state) {
    (void)state;
    //  Sales may read the list but not start a scan.
    harness_response_t r = harness_http("POST", "/v1/duplicates/scans", s_sales, "{}", NULL);
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
    json_t *scan = s_scan();
    assert_int_equal(json_integer_value(json_object_get(scan, "total")), 7);
    assert_int_equal(json_integer_value(json_object_get(scan, "processed")), 7);
    assert_true(json_integer_value(json_object_get(scan, "groups")) >= 2);
    json_decref(scan);
    json_t *g = s_group_with(s_sales, "open", s_john, s_jon);
    if (!g)
        fail_msg("John Smith and Jon Smyth are not grouped");
    assert_int_equal(json_array_size(json_object_get(g, "members")), 2);
    double score = json_number_value(json_object_get(g, "score"));
    assert_true(score >= 0.5 && score <= 1);
    assert_true(s_has_reason(g, "phone", "exact"));
    assert_true(s_has_reason(g, "dateOfBirth", "close"));
    assert_true(s_has_reason(g, "address", "exact"));
    json_decref(g);
    g = s_group_with(s_sales, "open", s_ann, s_lee);
    if (!g)
        fail_msg("Ann Lee and Lee Ann are not grouped");
    assert_true(s_has_reason(g, "nameOrder", "swapped"));
    assert_true(s_has_reason(g, "email", "exact"));
    json_decref(g);
    //  Each group once; the household member and the namesake in none.
    r = harness_http("GET", "/v1/duplicates", s_sales, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 2);
    harness_response_free(&r);
    //  Tenant b sees none of them.
    r = harness_http("GET", "/v1/duplicates", h->key_b, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    harness_response_free(&r);
}

static void test_paging(void **state) {
    (void)state;
    harness_response_t r = harness_http("GET", "/v1/duplicates?limit=1", s_sales, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    char first[64], path[256];
    snprintf(first, sizeof first, "%s",
             json_string_value(json_object_get(
                 json_array_get(json_object_get(r.json, "items"), 0), "id")));
    const char *cursor = harness_json_str(&r, "nextCursor");
    assert_true(cursor[0]);
    snprintf(path, sizeof path, "/v1/duplicates?limit=1&cursor=%s", cursor);
    harness_response_free(&r);
    r = harness_http("GET", path, s_sales, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_not_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")),
                            first);
    assert_string_equal(harness_json_str(&r, "nextCursor"), "");
    harness_response_free(&r);
}

static void test_dismiss_stays_dismissed(void **state) {
    (void)state;
    json_t *g = s_group_with(s_sales, "open", s_john, s_jon);
    assert_non_null(g);
    char path[160], id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(g, "id")));
    json_decref(g);
    snprintf(path, sizeof path, "/v1/duplicates/%s/dismiss", id);
    harness_response_t r = harness_http("POST", path, s_sales, NULL, NULL);
    if (r.status != 200)
        fail_msg("dismiss: %ld %s", r.status, r.body);
    assert_string_equal(harness_json_str(&r, "status"), "dismissed");
    assert_string_equal(harness_json_str(&r, "id"), id);
    assert_true(harness_json_str(&r, "dismissedAt")[0]);
    harness_response_free(&r);
    //  Another tenant's key does not find it.
    r = harness_http("POST", path, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    assert_null(s_group_with(s_sales, "open", s_john, s_jon));
    //  A rescan proposes it no more.
    json_decref(s_scan());
    assert_null(s_group_with(s_sales, "open", s_john, s_jon));
    g = s_group_with(s_sales, "dismissed", s_john, s_jon);
    assert_non_null(g);
    json_decref(g);
    //  A change in a field the model does not compare keeps it dismissed ...
    snprintf(path, sizeof path, "/v1/contacts/%s", s_jon);
    r = harness_http("PATCH", path, s_sales, "{\"tags\":[]}", NULL);
    harness_response_free(&r);
    r = harness_http("PATCH", path, s_sales, "{\"foundUs\":\"radio ad\"}", NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    s_wait_index();
    assert_null(s_group_with(s_sales, "open", s_john, s_jon));
    //  ... one it compares proposes the pair again.
    r = harness_http("PATCH", path, s_sales, "{\"dateOfBirth\":\"1980-03-04\"}", NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    s_wait_index();
    g = s_group_with(s_sales, "open", s_john, s_jon);
    if (!g)
        fail_msg("a changed contact's dismissed pair was not proposed again");
    assert_true(s_has_reason(g, "dateOfBirth", "exact"));
    json_decref(g);
}

static void test_new_contact_listed_without_scan(void **state) {
    (void)state;
    char copy[64];
    s_create(s_sales,
             "{\"firstName\":\"Mary\",\"lastName\":\"Jones\","
             "\"emails\":[{\"address\":\"maryjones+dealer@gmail.com\"}]}",
             copy);
    s_wait_index();
    json_t *g = s_group_with(s_sales, "open", s_mary, copy);
    if (!g)
        fail_msg("a new duplicate is not on the review list");
    assert_true(s_has_reason(g, "email", "exact"));
    json_decref(g);
    //  Listed by contact too.
    char path[160];
    snprintf(path, sizeof path, "/v1/duplicates?contactId=%s", copy);
    harness_response_t r = harness_http("GET", path, s_sales, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    harness_response_free(&r);
    //  Deleting it takes the group off the list.
    snprintf(path, sizeof path, "/v1/contacts/%s", copy);
    r = harness_http("DELETE", path, s_sales, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    s_wait_index();
    assert_null(s_group_with(s_sales, "open", s_mary, copy));
}

static void test_bad_input(void **state) {
    (void)state;
    harness_response_t r = harness_http("GET", "/v1/duplicates?status=closed", s_sales, NULL, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "status");
    harness_response_free(&r);
    r = harness_http("GET", "/v1/duplicates?cursor=nope", s_sales, NULL, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "cursor");
    harness_response_free(&r);
    r = harness_http("GET", "/v1/duplicates?limit=500", s_sales, NULL, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "limit");
    harness_response_free(&r);
    r = harness_http("GET", "/v1/duplicates?contactId=42", s_sales, NULL, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "contactId");
    harness_response_free(&r);
    r = harness_http("POST", "/v1/duplicates/not-an-id/dismiss", s_sales, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/duplicates/scans/00000000-0000-0000-0000-000000000000", s_sales,
                     NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    //  One scan at a time: a second while the first is in progress is refused.
    r = harness_http("POST", "/v1/duplicates/scans", s_manager, "{}", NULL);
    assert_int_equal(r.status, 202);
    char first[64];
    snprintf(first, sizeof first, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    r = harness_http("POST", "/v1/duplicates/scans", s_manager, "{}", NULL);
    assert_int_equal(r.status, 409);
    assert_non_null(strstr(r.body, first));
    harness_response_free(&r);
}

//  A merge of a group's contacts makes the group merged (off the open list, listed as
//  merged, no longer dismissable); its undo reopens it.
static void test_merge_marks_group_merged(void **state) {
    (void)state;
    char ann2[64];
    s_create(s_sales,
             "{\"firstName\":\"Ann\",\"lastName\":\"Lee\","
             "\"emails\":[{\"address\":\"a.n.n.l.e.e@gmail.com\"}]}",
             ann2);
    s_wait_index();
    json_t *g = s_group_with(s_sales, "open", s_ann, ann2);
    if (!g)
        fail_msg("Ann Lee's second record is not on the review list");
    char group_id[64];
    snprintf(group_id, sizeof group_id, "%s", json_string_value(json_object_get(g, "id")));
    json_decref(g);
    char body[256];
    snprintf(body, sizeof body, "{\"primaryId\":\"%s\",\"mergeIds\":[\"%s\"]}", s_ann, ann2);
    harness_response_t r = harness_http("POST", "/v1/contacts/merge", s_manager, body, NULL);
    if (r.status != 200)
        fail_msg("merge: %ld %s", r.status, r.body);
    char merge_id[64];
    snprintf(merge_id, sizeof merge_id, "%s",
             json_string_value(json_object_get(json_object_get(r.json, "merge"), "id")));
    harness_response_free(&r);
    s_wait_index();
    assert_null(s_group_with(s_sales, "open", s_ann, ann2));
    g = s_group_with(s_sales, "merged", s_ann, ann2);
    if (!g)
        fail_msg("the merged group is not listed as merged");
    assert_string_equal(json_string_value(json_object_get(g, "id")), group_id);
    assert_string_equal(json_string_value(json_object_get(g, "status")), "merged");
    json_decref(g);
    char path[160];
    snprintf(path, sizeof path, "/v1/duplicates/%s/dismiss", group_id);
    r = harness_http("POST", path, s_sales, NULL, NULL);
    assert_int_equal(r.status, 409);
    harness_response_free(&r);
    //  The group's member the merge left out (Lee Ann, the same address) is still
    //  proposed with the survivor.
    g = s_group_with(s_sales, "open", s_ann, s_lee);
    if (!g)
        fail_msg("the member left out of the merge is no longer proposed");
    json_decref(g);
    //  The undo: both are contacts again and the group is open again.
    snprintf(path, sizeof path, "/v1/merges/%s/undo", merge_id);
    r = harness_http("POST", path, s_manager, NULL, NULL);
    if (r.status != 200)
        fail_msg("undo: %ld %s", r.status, r.body);
    harness_response_free(&r);
    s_wait_index();
    g = s_group_with(s_sales, "open", s_ann, ann2);
    if (!g)
        fail_msg("the undone merge's group is not open again");
    assert_string_equal(json_string_value(json_object_get(g, "id")), group_id);
    json_decref(g);
    assert_null(s_group_with(s_sales, "merged", s_ann, ann2));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_finds_groups),
        cmocka_unit_test(test_paging),
        cmocka_unit_test(test_dismiss_stays_dismissed),
        cmocka_unit_test(test_new_contact_listed_without_scan),
        cmocka_unit_test(test_merge_marks_group_merged),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
