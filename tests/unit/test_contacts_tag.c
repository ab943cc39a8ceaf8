/*  Unit tests for the tag catalogue's rules (services/contacts/tag.c): what a tag may
    hold, which fields a change may name, what a merge needs, and the field each refusal
    names. Each table row is an example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/contacts/contacts.h"

//  The fields errors names, joined with commas ("" for none).
static const char *s_fields(const crm_errors_t *errors) {
    static char joined[256];
    joined[0] = 0;
    for (size_t e = 0; e < errors->n; e++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", e ? "," : "",
                 errors->items[e]->field);
    return joined;
}

static const struct {
    const char *name, *colour, *description;
    const char *fields;    // the fields refused ("": accepted)
    const char *kept_name; // the name as kept, when accepted
    const char *kept_colour;
} s_tag_cases[] = {
    {"VIP", "", "", "", "VIP", ""},
    {"  VIP  ", "#A0B1C2", "", "", "VIP", "#a0b1c2"}, // trimmed; colour lower-cased
    {"", "", "", "name", NULL, NULL},                 // a name is required
    {"   ", "", "", "name", NULL, NULL},              // blank is none
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", "", "", NULL,
     NULL}, // 64 characters
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", "", "name", NULL,
     NULL},                                   // 65
    {"VIP", "red", "", "colour", NULL, NULL}, // #RRGGBB only
    {"VIP", "#12345", "", "colour", NULL, NULL},
    {"VIP", "#12345G", "", "colour", NULL, NULL},
    {"", "#zzzzzz", "", "name,colour", NULL, NULL},
};

static void test_tag_check(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_tag_cases / sizeof s_tag_cases[0]; i++) {
        Crm__Contacts__Tag t = CRM__CONTACTS__TAG__INIT;
        t.name = strdup(s_tag_cases[i].name);
        t.colour = strdup(s_tag_cases[i].colour);
        t.description = strdup(s_tag_cases[i].description);
        crm_errors_t errors = {0};
        int rc = contacts_tag_check(&t, &errors);
        if (strcmp(s_fields(&errors), s_tag_cases[i].fields) != 0)
            fail_msg("case %zu ('%s'): refused [%s], expected [%s]", i, s_tag_cases[i].name,
                     s_fields(&errors), s_tag_cases[i].fields);
        assert_int_equal(rc, s_tag_cases[i].fields[0] ? -1 : 0);
        if (s_tag_cases[i].kept_name)
            assert_string_equal(t.name, s_tag_cases[i].kept_name);
        if (s_tag_cases[i].kept_colour)
            assert_string_equal(t.colour, s_tag_cases[i].kept_colour);
        crm_errors_reset(&errors);
        free(t.name);
        free(t.colour);
        free(t.description);
    }
}

static void test_tag_description_length(void **state) {
    (void)state;
    char description[502];
    memset(description, 'd', 501);
    description[501] = 0;
    Crm__Contacts__Tag t = CRM__CONTACTS__TAG__INIT;
    t.name = strdup("VIP");
    t.colour = "";
    t.description = description;
    crm_errors_t errors = {0};
    assert_int_equal(contacts_tag_check(&t, &errors), -1); // 501 characters
    assert_string_equal(s_fields(&errors), "description");
    crm_errors_reset(&errors);
    description[500] = 0;
    assert_int_equal(contacts_tag_check(&t, &errors), 0); // 500
    free(t.name);
}

//  A change names only name, colour and description; each other field is refused by name.
static void test_tag_mask(void **state) {
    (void)state;
    char *ok[] = {"name", "colour", "description"};
    char *bad[] = {"name", "id", "createdAt"};
    crm_errors_t errors = {0};
    assert_int_equal(contacts_tag_mask_check(ok, 3, &errors), 0);
    assert_int_equal(contacts_tag_mask_check(bad, 3, &errors), -1);
    assert_string_equal(s_fields(&errors), "id,createdAt");
    assert_string_equal(errors.items[0]->message, "cannot be changed");
    crm_errors_reset(&errors);
}

//  The mask's fields are taken from the request's tag; the others stay.
static void test_tag_apply(void **state) {
    (void)state;
    Crm__Contacts__Tag given = CRM__CONTACTS__TAG__INIT;
    given.name = "New";
    given.colour = "#000000";
    char *mask[] = {"name"};
    Crm__Contacts__UpdateTagRequest req = CRM__CONTACTS__UPDATE_TAG_REQUEST__INIT;
    req.tag = &given;
    req.update_mask = mask;
    req.n_update_mask = 1;
    Crm__Contacts__Tag t = CRM__CONTACTS__TAG__INIT;
    t.name = strdup("Old");
    t.colour = strdup("#ffffff");
    contacts_tag_apply(&t, &req);
    assert_string_equal(t.name, "New");
    assert_string_equal(t.colour, "#ffffff");
    free(t.name);
    free(t.colour);
}

static const struct {
    const char *id, *into, *message; // message: NULL when accepted
} s_merge_cases[] = {
    {"0190a5a0-0000-7000-8000-000000000001", "0190a5a0-0000-7000-8000-000000000002", NULL},
    {"0190a5a0-0000-7000-8000-000000000001", "", "is required"},
    {"0190a5a0-0000-7000-8000-000000000001", "0190a5a0-0000-7000-8000-000000000001",
     "must be another tag than the one merged"},
};

static void test_tag_merge(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_merge_cases / sizeof s_merge_cases[0]; i++) {
        Crm__Contacts__MergeTagRequest req = CRM__CONTACTS__MERGE_TAG_REQUEST__INIT;
        req.id = (char *)s_merge_cases[i].id;
        req.into = (char *)s_merge_cases[i].into;
        crm_errors_t errors = {0};
        int rc = contacts_tag_merge_check(&req, &errors);
        if (!s_merge_cases[i].message)
            assert_int_equal(rc, 0);
        else {
            assert_int_equal(rc, -1);
            assert_string_equal(s_fields(&errors), "into");
            assert_string_equal(errors.items[0]->message, s_merge_cases[i].message);
        }
        crm_errors_reset(&errors);
    }
}

//  A tag given to a contact is trimmed; a blank one names the field given.
static void test_tag_name(void **state) {
    (void)state;
    char name[] = "  VIP ", blank[] = "  ";
    crm_errors_t errors = {0};
    assert_int_equal(contacts_tag_name_check(name, "tag", &errors), 0);
    assert_string_equal(name, "VIP");
    assert_int_equal(contacts_tag_name_check(blank, "tag", &errors), -1);
    assert_string_equal(s_fields(&errors), "tag");
    crm_errors_reset(&errors);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tag_check), cmocka_unit_test(test_tag_description_length),
        cmocka_unit_test(test_tag_mask),  cmocka_unit_test(test_tag_apply),
        cmocka_unit_test(test_tag_merge), cmocka_unit_test(test_tag_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
