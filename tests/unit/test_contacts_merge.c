/*  Unit tests for the merge's rules (services/contacts/merge.c): the request's form, the
    survivorship (whose value the survivor takes, the unions, the strictest opt-in, the
    read-only facts) and the survivor an undo leaves. Each case is an example of a rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../services/contacts/merge.h"

#define A "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a51"
#define B "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a52"
#define C "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a53"

static json_t *s_json(const char *text) {
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    return v;
}

static const char *s_str(const json_t *o, const char *member) {
    const char *v = json_string_value(json_object_get(o, member));
    return v ? v : "";
}

//  The first field error's field ("" when none).
static const char *s_field(const crm_errors_t *errors) {
    return errors->n ? errors->items[0]->field : "";
}

static void test_check(void **state) {
    (void)state;
    static const struct {
        const char *primary;
        const char *merged[12];
        size_t n;
        const char *choose_field, *choose_id;
        const char *field; // "" when valid
    } cases[] = {
        {A, {B}, 1, NULL, NULL, ""},
        {A, {B, C}, 2, "firstName", C, ""},
        {A, {B}, 1, "customFields.trim", A, ""},
        {"", {B}, 1, NULL, NULL, "primaryId"},
        {"nope", {B}, 1, NULL, NULL, "primaryId"},
        {A, {0}, 0, NULL, NULL, "mergeIds"},
        {A, {A}, 1, NULL, NULL, "mergeIds[0]"},            // with itself
        {A, {B, B}, 2, NULL, NULL, "mergeIds[1]"},         // twice
        {A, {"x"}, 1, NULL, NULL, "mergeIds[0]"},
        {A, {B}, 1, "emails", B, "choose.emails"},         // a list is a union
        {A, {B}, 1, "id", B, "choose.id"},
        {A, {B}, 1, "firstName", C, "choose.firstName"},   // not of the merge
        {A, {B, B, B, B, B, B, B, B, B, B, B}, 11, NULL, NULL, "mergeIds"}, // more than 10
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Crm__Contacts__MergeContactsRequest req = CRM__CONTACTS__MERGE_CONTACTS_REQUEST__INIT;
        req.primary_id = (char *)cases[i].primary;
        req.merge_ids = (char **)cases[i].merged;
        req.n_merge_ids = cases[i].n;
        Crm__Contacts__MergeContactsRequest__ChooseEntry entry =
            CRM__CONTACTS__MERGE_CONTACTS_REQUEST__CHOOSE_ENTRY__INIT;
        Crm__Contacts__MergeContactsRequest__ChooseEntry *entries[] = {&entry};
        if (cases[i].choose_field) {
            entry.key = (char *)cases[i].choose_field;
            entry.value = (char *)cases[i].choose_id;
            req.choose = entries;
            req.n_choose = 1;
        }
        crm_errors_t errors = {0};
        int rc = contacts_merge_check(&req, &errors);
        if (strcmp(s_field(&errors), cases[i].field) != 0)
            fail_msg("case %zu: field %s, expected %s", i, s_field(&errors), cases[i].field);
        assert_int_equal(rc, cases[i].field[0] ? -1 : 0);
        crm_errors_reset(&errors);
    }
}

//  The survivor of the records (texts), with choose (text or NULL): 0 or -1.
static int s_survivor(const char *const *texts, size_t n, const char *choose, json_t **out,
                      json_t **sources, crm_errors_t *errors) {
    json_t *records[11];
    for (size_t i = 0; i < n; i++)
        records[i] = s_json(texts[i]);
    json_t *c = choose ? s_json(choose) : NULL;
    int rc = contacts_merge_survivor(records, n, c, out, sources, errors);
    for (size_t i = 0; i < n; i++)
        json_decref(records[i]);
    json_decref(c);
    return rc;
}

//  The contact a source names for field ("" when none).
static const char *s_source(const json_t *sources, const char *field) {
    size_t i;
    json_t *s;
    json_array_foreach(sources, i, s) {
        if (strcmp(s_str(s, "field"), field) == 0)
            return s_str(s, "contactId");
    }
    return "";
}

static void test_survivorship(void **state) {
    (void)state;
    const char *records[] = {
        "{\"id\":\"" A "\",\"kind\":\"person\",\"type\":\"prospect\",\"firstName\":\"Jon\","
        "\"lastName\":\"Smith\",\"createdAt\":\"2026-03-01T00:00:00.000000Z\",\"leadCount\":1,"
        "\"emails\":[{\"address\":\"jon@example.com\",\"primary\":true}],"
        "\"phones\":[{\"number\":\"+12025550101\",\"sms\":true,\"smsRank\":1,\"primary\":true}],"
        "\"tags\":[\"VIP\"],\"customFields\":{\"trim\":\"LX\"}}",
        "{\"id\":\"" B "\",\"kind\":\"person\",\"type\":\"customer\",\"firstName\":\"John\","
        "\"lastName\":\"Smith\",\"dateOfBirth\":\"1970-01-02\","
        "\"createdAt\":\"2025-01-01T00:00:00.000000Z\",\"leadCount\":2,"
        "\"lastActivityAt\":\"2026-04-01T00:00:00.000000Z\","
        "\"emails\":[{\"address\":\"john.smith@example.com\",\"primary\":true}],"
        "\"phones\":[{\"number\":\"+12025550101\",\"sms\":false},"
        "{\"number\":\"+12025550102\",\"sms\":true,\"smsRank\":1}],"
        "\"tags\":[\"vip\",\"service\"],\"customFields\":{\"trim\":\"EX\",\"colour\":\"red\"}}",
    };
    json_t *out = NULL, *sources = NULL;
    crm_errors_t errors = {0};
    assert_int_equal(s_survivor(records, 2, "{\"firstName\":\"" B "\"}", &out, &sources, &errors),
                     0);
    //  The primary's id, the chosen value, the primary's otherwise, the empty filled.
    assert_string_equal(s_str(out, "id"), A);
    assert_string_equal(s_str(out, "firstName"), "John");
    assert_string_equal(s_source(sources, "firstName"), B);
    assert_string_equal(s_str(out, "type"), "prospect");
    assert_string_equal(s_str(out, "dateOfBirth"), "1970-01-02");
    assert_string_equal(s_source(sources, "dateOfBirth"), B);
    assert_string_equal(s_str(json_object_get(out, "customFields"), "trim"), "LX");
    assert_string_equal(s_str(json_object_get(out, "customFields"), "colour"), "red");
    assert_string_equal(s_source(sources, "customFields.colour"), B);
    //  Unions: emails (one primary), tags once without regard to case.
    json_t *emails = json_object_get(out, "emails");
    assert_int_equal(json_array_size(emails), 2);
    assert_true(json_is_true(json_object_get(json_array_get(emails, 0), "primary")));
    assert_null(json_object_get(json_array_get(emails, 1), "primary"));
    assert_string_equal(s_source(sources, "emails[1]"), B);
    assert_int_equal(json_array_size(json_object_get(out, "tags")), 2);
    //  A number both hold: SMS only if both allow it; the SMS order renumbered.
    json_t *phones = json_object_get(out, "phones");
    assert_int_equal(json_array_size(phones), 2);
    assert_null(json_object_get(json_array_get(phones, 0), "sms"));
    assert_null(json_object_get(json_array_get(phones, 0), "smsRank"));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(phones, 1), "smsRank")),
                     1);
    //  The earliest creation, the latest activity, the leads of both.
    assert_string_equal(s_str(out, "createdAt"), "2025-01-01T00:00:00.000000Z");
    assert_string_equal(s_str(out, "lastActivityAt"), "2026-04-01T00:00:00.000000Z");
    assert_int_equal(json_integer_value(json_object_get(out, "leadCount")), 3);

    //  The undo: what the merge brought goes, what changed since stays.
    json_t *before = s_json(records[0]);
    json_t *now = json_deep_copy(out);
    json_object_set_new(now, "lastName", json_string("Smith-Jones")); // changed since
    json_array_append_new(json_object_get(now, "emails"),
                          json_pack("{s:s}", "address", "new@example.com"));
    json_t *undone = contacts_merge_undo_survivor(now, before, out);
    assert_string_equal(s_str(undone, "firstName"), "Jon");
    assert_string_equal(s_str(undone, "lastName"), "Smith-Jones");
    assert_null(json_object_get(undone, "dateOfBirth"));
    assert_string_equal(s_str(undone, "createdAt"), "2026-03-01T00:00:00.000000Z");
    emails = json_object_get(undone, "emails");
    assert_int_equal(json_array_size(emails), 2);
    assert_string_equal(s_str(json_array_get(emails, 1), "address"), "new@example.com");
    phones = json_object_get(undone, "phones");
    assert_int_equal(json_array_size(phones), 1);
    assert_true(json_is_true(json_object_get(json_array_get(phones, 0), "sms"))); // back
    assert_null(json_object_get(json_object_get(undone, "customFields"), "colour"));
    const char *changed[32];
    size_t n = contacts_merge_changed(before, undone, changed, 32);
    assert_int_equal(n, 2); // lastName, emails
    json_decref(before);
    json_decref(now);
    json_decref(undone);
    json_decref(out);
    json_decref(sources);
}

static void test_kinds_differ(void **state) {
    (void)state;
    const char *records[] = {
        "{\"id\":\"" A "\",\"kind\":\"person\"}",
        "{\"id\":\"" B "\",\"kind\":\"person\"}",
        "{\"id\":\"" C "\",\"kind\":\"organization\",\"name\":\"Fleet Co\"}",
    };
    json_t *out = NULL, *sources = NULL;
    crm_errors_t errors = {0};
    assert_int_equal(s_survivor(records, 3, NULL, &out, &sources, &errors), -1);
    assert_string_equal(s_field(&errors), "mergeIds[1]");
    assert_null(out);
    crm_errors_reset(&errors);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_survivorship),
        cmocka_unit_test(test_kinds_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
