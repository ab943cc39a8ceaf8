/*  Unit tests for the rules of reading the audit trail (services/contacts/audit.c): a
    cursor is the seq of the last entry given. Each table row is an example. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../services/contacts/contacts.h"

static const struct {
    const char *cursor;
    bool ok;
} s_cases[] = {
    {"", true}, // the first page
    {"1", true},
    {"1048576", true},
    {"0", false}, // seqs start at 1
    {"-5", false},
    {"12a", false},
    {"9223372036854775808", false}, // beyond a bigint
    {"0190a5a0-0000-7000-8000-000000000001", false},
};

static void test_audit_cursor(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        crm_errors_t errors = {0};
        int rc = contacts_audit_cursor_check(s_cases[i].cursor, &errors);
        if ((rc == 0) != s_cases[i].ok)
            fail_msg("case %zu ('%s'): %s", i, s_cases[i].cursor, rc ? "refused" : "accepted");
        if (rc) {
            assert_string_equal(errors.items[0]->field, "cursor");
            assert_string_equal(errors.items[0]->message, "is not a cursor returned by this list");
        }
        crm_errors_reset(&errors);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_audit_cursor)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
