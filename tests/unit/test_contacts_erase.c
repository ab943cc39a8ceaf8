/*  Unit tests for the rules of erasure (services/contacts/erase.c): which requests name
    a contact, and when the retention sweep goes on at once. Each table row is an
    example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../services/contacts/contacts.h"

static const struct {
    const char *id;
    bool names;
} s_cases[] = {
    {"0190a5a0-0000-7000-8000-000000000001", true},
    {"", false},
    {"42", false},
    {"0190a5a0-0000-7000-8000-00000000000g", false},
    {"0190a5a0-0000-7000-8000-000000000001x", false},
};

static void test_erase_names_contact(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        Crm__Contacts__EraseContactRequest req = CRM__CONTACTS__ERASE_CONTACT_REQUEST__INIT;
        req.id = (char *)s_cases[i].id;
        if (contacts_erase_names_contact(&req) != s_cases[i].names)
            fail_msg("case %zu ('%s')", i, s_cases[i].id);
    }
}

//  The sweep looks again at once while it finds contacts due; else it waits its period.
static void test_retention_outcome(void **state) {
    (void)state;
    assert_int_equal(contacts_retention_outcome(0), CRM_STEP_IDLE);
    assert_int_equal(contacts_retention_outcome(1), CRM_STEP_WORKED);
    assert_int_equal(contacts_retention_outcome(100), CRM_STEP_WORKED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_erase_names_contact),
        cmocka_unit_test(test_retention_outcome),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
