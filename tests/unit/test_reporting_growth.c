/*  Unit tests for the contact growth report's rules (services/reporting/growth.c):
    which ranges and groupings a request may ask for, and the field each refusal names.
    Each row of the table is an example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../services/reporting/reporting.h"

static const struct {
    const char *from, *to, *group_by;
    const char *fields;  // the fields refused, in order, joined by commas ("": accepted)
} s_cases[] = {
    {"2026-11-01", "2026-11-30", "", ""},
    {"2026-11-01", "2026-11-01", "source", ""},
    {"2026-01-01", "2026-12-31", "type", ""},        // 365 days
    {"2024-01-01", "2024-12-31", "", ""},            // 366 days, a leap year
    {"2024-01-01", "2025-01-01", "", "to"},          // 367 days
    {"2026-11-30", "2026-11-01", "", "to"},          // backwards
    {"", "2026-11-01", "", "from"},
    {"2026-11-01", "", "", "to"},
    {"", "", "", "from,to"},
    {"2026-02-29", "2026-03-01", "", "from"},        // not a leap year
    {"2026-13-01", "2026-12-01", "", "from"},
    {"2026-1-01", "2026-12-01", "", "from"},
    {"2026-11-01", "2026-11-31", "", "to"},
    {"2026-11-01", "2026-11-30", "salesperson", "groupBy"},
    {"x", "y", "z", "from,to,groupBy"},
};

static void test_growth_rules(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        Crm__Reporting__ContactsGrowthRequest req = CRM__REPORTING__CONTACTS_GROWTH_REQUEST__INIT;
        req.from = (char *)s_cases[i].from;
        req.to = (char *)s_cases[i].to;
        req.group_by = (char *)s_cases[i].group_by;
        crm_errors_t errors = {0};
        int rc = reporting_growth_check(&req, &errors);
        char fields[128] = "";
        for (size_t e = 0; e < errors.n; e++)
            snprintf(fields + strlen(fields), sizeof fields - strlen(fields), "%s%s",
                     e ? "," : "", errors.items[e]->field);
        if (strcmp(fields, s_cases[i].fields) != 0)
            fail_msg("case %zu (%s..%s by '%s'): refused [%s], expected [%s]", i,
                     s_cases[i].from, s_cases[i].to, s_cases[i].group_by, fields,
                     s_cases[i].fields);
        assert_int_equal(rc, s_cases[i].fields[0] ? -1 : 0);
        crm_errors_reset(&errors);
    }
}

static void test_day_parse(void **state) {
    (void)state;
    int64_t days = -1;
    assert_true(reporting_day_parse("1970-01-01", &days));
    assert_int_equal(days, 0);
    assert_true(reporting_day_parse("2000-03-01", &days));
    assert_int_equal(days, 11017);
    assert_true(reporting_day_parse("1969-12-31", &days));
    assert_int_equal(days, -1);
    assert_true(reporting_day_parse("2000-02-29", NULL));   // divisible by 400
    assert_false(reporting_day_parse("1900-02-29", NULL));  // by 100 only
    assert_false(reporting_day_parse("2026-11-01T00:00", NULL));
    assert_false(reporting_day_parse(NULL, NULL));
    assert_false(reporting_day_parse("0000-01-01", NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growth_rules),
        cmocka_unit_test(test_day_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
