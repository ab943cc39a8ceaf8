/*  Unit tests for the rules of saved filters (services/contacts/saved_filter.c): the
    name, the filter kept without limit and cursor, the fields a change may name, and the
    page a run asks for. Each table row is an example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../services/contacts/contacts.h"
#include "json_pb.h"

static const struct {
    const char *name;
    const char *message; // the rule the name breaks (NULL: accepted)
} s_name_cases[] = {
    {"My hot prospects", NULL},
    {"  trimmed  ", NULL},
    {"", "is required"},
    {"   ", "is required"},
    {NULL, "must be at most 100 characters"}, // NULL: 101 characters
};

static void test_saved_filter_name(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_name_cases / sizeof s_name_cases[0]; i++) {
        Crm__Contacts__SavedFilter f = CRM__CONTACTS__SAVED_FILTER__INIT;
        char long_name[102];
        memset(long_name, 'x', 101);
        long_name[101] = 0;
        f.name = strdup(s_name_cases[i].name ? s_name_cases[i].name : long_name);
        crm_errors_t errors = {0};
        int rc = contacts_saved_filter_check(&f, &errors);
        if (!s_name_cases[i].message)
            assert_int_equal(rc, 0);
        else {
            assert_int_equal(rc, -1);
            assert_string_equal(errors.items[0]->field, "name");
            assert_string_equal(errors.items[0]->message, s_name_cases[i].message);
        }
        assert_non_null(f.filter); // an empty filter when none was given
        crm_errors_reset(&errors);
        free(f.name);
        crm__contacts__list_contacts_request__free_unpacked(f.filter, NULL);
    }
}

//  A filter is kept without the page it was saved with.
static void test_saved_filter_drops_page(void **state) {
    (void)state;
    Crm__Contacts__ListContactsRequest given = CRM__CONTACTS__LIST_CONTACTS_REQUEST__INIT;
    given.q = "smith";
    given.limit = 25;
    given.cursor = "s:50";
    Crm__Contacts__SavedFilter f = CRM__CONTACTS__SAVED_FILTER__INIT;
    f.name = strdup("Smiths");
    f.filter = (Crm__Contacts__ListContactsRequest *)crm_pb_copy(&given.base);
    crm_errors_t errors = {0};
    assert_int_equal(contacts_saved_filter_check(&f, &errors), 0);
    assert_int_equal(f.filter->limit, 0);
    assert_string_equal(f.filter->cursor, "");
    assert_string_equal(f.filter->q, "smith");
    //  A run asks for its own page.
    contacts_saved_filter_page(&f, 10, "s:10");
    assert_int_equal(f.filter->limit, 10);
    assert_string_equal(f.filter->cursor, "s:10");
    free(f.name);
    crm__contacts__list_contacts_request__free_unpacked(f.filter, NULL);
}

static void test_saved_filter_mask(void **state) {
    (void)state;
    char *mask[] = {"name", "filter", "owner"};
    crm_errors_t errors = {0};
    assert_int_equal(contacts_saved_filter_mask_check(mask, 2, &errors), 0);
    assert_int_equal(contacts_saved_filter_mask_check(mask, 3, &errors), -1);
    assert_string_equal(errors.items[0]->field, "owner");
    assert_string_equal(errors.items[0]->message, "cannot be changed (name, filter)");
    crm_errors_reset(&errors);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_saved_filter_name),
        cmocka_unit_test(test_saved_filter_drops_page),
        cmocka_unit_test(test_saved_filter_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
