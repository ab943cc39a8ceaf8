/*  System tests of the duplicate check (crm-dedupe): contacts created through the
    contacts API reach dedupe's match index by their events, and POST /v1/contacts/duplicates/check
    finds them for a would-be contact typed another way (a phone in another format, a
    misspelt name at the same postcode, an accent left out, a nickname with the same
    company email domain or phone), best first with the reasons in words; never another
    tenant's; bad drafts answer 422 naming the field; an erased contact is matched no
    more. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

static harness_t *h;
static char s_sales_a[64], s_sales_b[64];
//  The contacts of tenant-a the checks should find, and tenant-b's look-alike.
static char s_ann[64], s_john[64], s_maria[64], s_william[64], s_ann_b[64];

//  Wait until dedupe has applied every contacts event (its inbox at the head).
static void s_wait_index(void) {
    int64_t until = zclock_mono() + 20000;
    long long head = harness_contacts_head(10000), applied = -1;
    while ((applied = harness_sql_scalar(
                "SELECT coalesce((SELECT last_seq FROM dedupe.inbox WHERE source = 'contacts'),"
                " 0)")) < head) {
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
    harness_create_key("tenant-a", "sales", s_sales_a, sizeof s_sales_a);
    harness_create_key("tenant-b", "sales", s_sales_b, sizeof s_sales_b);
    s_create(s_sales_a,
             "{\"firstName\":\"Ann\",\"lastName\":\"Lee\",\"type\":\"prospect\","
             "\"phones\":[{\"number\":\"+12025550142\",\"type\":\"mobile\"}]}",
             s_ann);
    s_create(s_sales_a,
             "{\"firstName\":\"John\",\"lastName\":\"Smith\",\"type\":\"prospect\","
             "\"phones\":[{\"number\":\"(202) 555-0111\"}],"
             "\"addresses\":[{\"line1\":\"1600 Pennsylvania Ave NW\",\"postcode\":\"20500\","
             "\"country\":\"US\"}]}",
             s_john);
    s_create(s_sales_a,
             "{\"firstName\":\"María\",\"lastName\":\"García\",\"type\":\"prospect\","
             "\"addresses\":[{\"city\":\"San Francisco\",\"postcode\":\"94105\"}]}",
             s_maria);
    s_create(s_sales_a,
             "{\"firstName\":\"William\",\"lastName\":\"Turner\",\"type\":\"customer\","
             "\"emails\":[{\"address\":\"w.turner@acme-motors.com\"}],"
             "\"phones\":[{\"number\":\"202-555-0177\"}]}",
             s_william);
    //  Look-alikes that are other people: a household member, a relative at one postcode.
    char other[64];
    s_create(
        s_sales_a,
        "{\"firstName\":\"Bob\",\"lastName\":\"Lee\",\"phones\":[{\"number\":\"+12025550142\"}]}",
        other);
    s_create(s_sales_a,
             "{\"firstName\":\"Mary\",\"lastName\":\"Smith\","
             "\"addresses\":[{\"postcode\":\"20500\"}]}",
             other);
    //  Tenant b's Ann Lee on the same number.
    s_create(
        s_sales_b,
        "{\"firstName\":\"Ann\",\"lastName\":\"Lee\",\"phones\":[{\"number\":\"+12025550142\"}]}",
        s_ann_b);
    s_wait_index();
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  POST /v1/contacts/duplicates/check; the answer (200 expected).
static harness_response_t s_check(const char *key, const char *draft) {
    harness_response_t r = harness_http("POST", "/v1/contacts/duplicates/check", key, draft, NULL);
    if (r.status != 200)
        fail_msg("check %s: %ld %s", draft, r.status, r.body);
    return r;
}

//  The matches (NULL when the list is left out, as proto3 JSON leaves an empty one: the
//  jansson array functions read NULL as empty).
static json_t *s_matches(const harness_response_t *r) {
    return json_object_get(r->json, "matches");
}

static const char *s_member(json_t *match, const char *name) {
    const char *s = json_string_value(json_object_get(match, name));
    return s ? s : "";
}

//  Expect the best match to be id with that summary and a reason field:level.
static void s_expect_best(const harness_response_t *r, const char *id, const char *summary,
                          const char *field, const char *level) {
    json_t *matches = s_matches(r);
    if (json_array_size(matches) < 1)
        fail_msg("no match; expected %s (%s): %s", id, summary, r->body);
    json_t *best = json_array_get(matches, 0);
    if (strcmp(s_member(best, "contactId"), id) != 0 || strcmp(s_member(best, "summary"), summary))
        fail_msg("best is %s (%s); expected %s (%s): %s", s_member(best, "contactId"),
                 s_member(best, "summary"), id, summary, r->body);
    double score = json_number_value(json_object_get(best, "score"));
    assert_true(score >= 0.5 && score <= 1.0);
    bool found = false;
    json_t *reasons = json_object_get(best, "reasons");
    for (size_t i = 0; i < json_array_size(reasons); i++) {
        json_t *reason = json_array_get(reasons, i);
        found |= strcmp(s_member(reason, "field"), field) == 0 &&
                 strcmp(s_member(reason, "level"), level) == 0 && s_member(reason, "text")[0];
    }
    if (!found)
        fail_msg("no reason %s:%s: %s", field, level, r->body);
    //  Best first.
    for (size_t i = 1; i < json_array_size(matches); i++)
        assert_true(json_number_value(json_object_get(json_array_get(matches, i), "score")) <=
                    score);
}

static bool s_lists(const harness_response_t *r, const char *id) {
    json_t *matches = s_matches(r);
    for (size_t i = 0; i < json_array_size(matches); i++)
        if (strcmp(s_member(json_array_get(matches, i), "contactId"), id) == 0)
            return true;
    return false;
}

static void test_same_phone_other_format(void **state) {
    (void)state;
    harness_response_t r = s_check(s_sales_a, "{\"firstName\":\"Ann\",\"lastName\":\"Lee\","
                                              "\"phones\":[{\"number\":\"(202) 555-0142\"}]}");
    s_expect_best(&r, s_ann, "same phone and same name", "phone", "exact");
    //  Bob Lee shares the line: a household, not Ann.
    assert_int_equal(json_array_size(s_matches(&r)), 1);
    assert_false(s_lists(&r, s_ann_b)); // another tenant's never
    harness_response_free(&r);
}

static void test_misspelt_name_same_postcode(void **state) {
    (void)state;
    harness_response_t r = s_check(s_sales_a, "{\"firstName\":\"Jon\",\"lastName\":\"Smyth\","
                                              "\"addresses\":[{\"postcode\":\"20500-0003\"}]}");
    s_expect_best(&r, s_john, "similar name and same postcode", "lastName", "close");
    assert_int_equal(json_array_size(s_matches(&r)), 1); // not Mary Smith
    harness_response_free(&r);
}

static void test_accent_left_out(void **state) {
    (void)state;
    harness_response_t r = s_check(s_sales_a, "{\"firstName\":\"Maria\",\"lastName\":\"Garcia\","
                                              "\"addresses\":[{\"postcode\":\"94105\"}]}");
    s_expect_best(&r, s_maria, "same name and same postcode", "lastName", "exact");
    harness_response_free(&r);
}

static void test_nickname(void **state) {
    (void)state;
    harness_response_t r =
        s_check(s_sales_a, "{\"firstName\":\"Bill\",\"lastName\":\"Turner\","
                           "\"emails\":[{\"address\":\"bill@acme-motors.com\"}]}");
    s_expect_best(&r, s_william, "similar name and same email domain", "firstName", "close");
    harness_response_free(&r);
    r = s_check(s_sales_a, "{\"firstName\":\"Bill\",\"lastName\":\"Turner\","
                           "\"phones\":[{\"number\":\"2025550177\"}]}");
    s_expect_best(&r, s_william, "same phone and similar name", "phone", "exact");
    harness_response_free(&r);
}

static void test_no_match_and_tenants(void **state) {
    (void)state;
    harness_response_t r = s_check(s_sales_a, "{\"firstName\":\"Zed\",\"lastName\":\"Quux\","
                                              "\"emails\":[{\"address\":\"zed@example.org\"}],"
                                              "\"addresses\":[{\"postcode\":\"20500\"}]}");
    assert_int_equal(json_array_size(s_matches(&r)), 0);
    harness_response_free(&r);
    //  Tenant b sees its own Ann only.
    r = s_check(s_sales_b, "{\"firstName\":\"Ann\",\"lastName\":\"Lee\","
                           "\"phones\":[{\"number\":\"202 555 0142\"}]}");
    s_expect_best(&r, s_ann_b, "same phone and same name", "phone", "exact");
    assert_int_equal(json_array_size(s_matches(&r)), 1);
    harness_response_free(&r);
    //  Nothing was written: the check is a read.
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM dedupe.entries"), 7);
}

static void test_bad_drafts(void **state) {
    (void)state;
    static const struct {
        const char *body, *field;
        long status;
    } cases[] = {
        {"{\"lastName\":\"Lee\",\"phones\":[{\"number\":\"12\"}]}", "phones[0].number", 422},
        {"{\"lastName\":\"Lee\",\"emails\":[{\"address\":\"no-at-sign\"}]}", "emails[0].address",
         422},
        {"{}", "lastName", 422},
        {"{\"addresses\":[{\"postcode\":\"20500\"}]}", "lastName", 422},
        {"{\"lastName\":42}", NULL, 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        harness_response_t r =
            harness_http("POST", "/v1/contacts/duplicates/check", s_sales_a, cases[i].body, NULL);
        if (r.status != cases[i].status ||
            (cases[i].field && strcmp(harness_error_field(&r), cases[i].field) != 0))
            fail_msg("%s: %ld %s; expected %ld naming %s", cases[i].body, r.status, r.body,
                     cases[i].status, cases[i].field ? cases[i].field : "-");
        harness_response_free(&r);
    }
    //  Every role that creates contacts may check; an analyst may not; no key, no check.
    harness_response_t r = harness_http("POST", "/v1/contacts/duplicates/check", h->key_analyst,
                                        "{\"lastName\":\"Lee\"}", NULL);
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
    r = harness_http("POST", "/v1/contacts/duplicates/check", NULL, "{\"lastName\":\"Lee\"}", NULL);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
}

static void test_erased_leaves_the_index(void **state) {
    (void)state;
    char path[160];
    snprintf(path, sizeof path, "/v1/contacts/%s/erase", s_maria);
    harness_response_t r = harness_http("POST", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    s_wait_index();
    r = s_check(s_sales_a, "{\"firstName\":\"Maria\",\"lastName\":\"Garcia\","
                           "\"addresses\":[{\"postcode\":\"94105\"}]}");
    assert_false(s_lists(&r, s_maria));
    harness_response_free(&r);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM dedupe.entries WHERE contact_id = '%s')"
             " + (SELECT count(*) FROM dedupe.match_keys WHERE contact_id = '%s')",
             s_maria, s_maria);
    assert_int_equal(harness_sql_scalar(sql), 0);
    //  A deleted contact is matched no more either.
    snprintf(path, sizeof path, "/v1/contacts/%s", s_john);
    r = harness_http("DELETE", path, s_sales_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    s_wait_index();
    r = s_check(s_sales_a, "{\"firstName\":\"John\",\"lastName\":\"Smith\","
                           "\"addresses\":[{\"postcode\":\"20500\"}]}");
    assert_false(s_lists(&r, s_john));
    harness_response_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_phone_other_format),
        cmocka_unit_test(test_misspelt_name_same_postcode),
        cmocka_unit_test(test_accent_left_out),
        cmocka_unit_test(test_nickname),
        cmocka_unit_test(test_no_match_and_tenants),
        cmocka_unit_test(test_bad_drafts),
        cmocka_unit_test(test_erased_leaves_the_index),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
