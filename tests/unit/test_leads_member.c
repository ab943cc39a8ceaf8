/*  Unit tests for a team member's rules (services/leads/member.c): the fields, their
    stored forms, working hours and the list's cursor. Each row of a table is an example
    of the rules, with the fields each refusal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/leads/leads.h"

static void s_fields(const crm_errors_t *errors, char *out, size_t size) {
    out[0] = 0;
    for (size_t e = 0; e < errors->n; e++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", e ? "," : "",
                 errors->items[e]->field);
}

static const struct {
    const char *rule;
    const char *name, *email, *make, *postcode, *start, *end, *time_zone;
    int64_t price_min, price_max;
    const char *fields; // refused ("": accepted)
} s_cases[] = {
    {"a member needs a name", "Ann Lee", "", "", "", "", "", "", 0, 0, ""},
    {"the name is required", "  ", "", "", "", "", "", "", 0, 0, "name"},
    {"an email is an address", "Ann", "ann@", "", "", "", "", "", 0, 0, "email"},
    {"a make is not blank", "Ann", "", " ", "", "", "", "", 0, 0, "makes[0]"},
    {"a postcode prefix is letters and digits", "Ann", "", "", "SW1", "", "", "", 0, 0, ""},
    {"a postcode prefix of signs is refused", "Ann", "", "", "S*", "", "", "", 0, 0,
     "postcodePrefixes[0]"},
    {"prices are not negative", "Ann", "", "", "", "", "", "", -1, -1,
     "priceMinCents,priceMaxCents"},
    {"the price band's max is not below its min", "Ann", "", "", "", "", "", "", 500, 100,
     "priceMaxCents"},
    {"working hours are HH:MM, end after start", "Ann", "", "", "", "09:00", "17:30", "", 0, 0, ""},
    {"a start is a time", "Ann", "", "", "", "9am", "17:00", "", 0, 0, "workingHours[0].start"},
    {"an end comes after the start", "Ann", "", "", "", "17:00", "09:00", "", 0, 0,
     "workingHours[0].end"},
    {"an end may be midnight", "Ann", "", "", "", "18:00", "24:00", "", 0, 0, ""},
    {"a time zone name is not endless", "Ann", "", "", "", "", "",
     "Europe/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0, 0, "timeZone"},
    {"a time zone is left to PostgreSQL to know", "Ann", "", "", "", "", "", "Mars/Olympus", 0, 0,
     ""},
};

static void test_member_rules(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof *s_cases; i++) {
        Crm__Leads__TeamMember m = CRM__LEADS__TEAM_MEMBER__INIT;
        Crm__Leads__WorkingHours hours = CRM__LEADS__WORKING_HOURS__INIT;
        Crm__Leads__WorkingHours *hours_p[] = {&hours};
        m.name = strdup(s_cases[i].name);
        m.email = strdup(s_cases[i].email);
        m.phone = strdup("");
        m.actor_id = "";
        m.time_zone = strdup(s_cases[i].time_zone);
        char *make = strdup(s_cases[i].make), *postcode = strdup(s_cases[i].postcode);
        if (make[0]) {
            m.makes = &make;
            m.n_makes = 1;
        }
        if (postcode[0]) {
            m.postcode_prefixes = &postcode;
            m.n_postcode_prefixes = 1;
        }
        if (s_cases[i].start[0]) {
            hours.day = CRM__LEADS__WEEKDAY__WEEKDAY_MON;
            hours.start = (char *)s_cases[i].start;
            hours.end = (char *)s_cases[i].end;
            m.working_hours = hours_p;
            m.n_working_hours = 1;
        }
        m.price_min_cents = s_cases[i].price_min;
        m.price_max_cents = s_cases[i].price_max;
        crm_errors_t errors = {0};
        int rc = leads_member_check(&m, "US", &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_cases[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_cases[i].rule, fields,
                     s_cases[i].fields);
        assert_int_equal(rc, s_cases[i].fields[0] ? -1 : 0);
        if (rc == 0)
            assert_int_equal(m.role, CRM__LEADS__TEAM_ROLE__TEAM_ROLE_SALESPERSON);
        free(m.name);
        free(m.email);
        free(m.phone);
        free(m.time_zone);
        free(make);
        free(postcode);
        crm_errors_reset(&errors);
    }
}

//  A handle is optional, stored lower case, and one an @mention can name as written.
static const struct {
    const char *given, *stored; // stored NULL: refused, naming handle
} s_handles[] = {
    {"", ""},
    {"sam", "sam"},
    {"  Jo-Ann ", "jo-ann"},
    {"j.lee_2", "j.lee_2"},
    {"@sam", NULL},
    {"sam lee", NULL},
    {"sam.", NULL},
    {"jos\xc3\xa9", NULL},
    {"a-very-long-handle-of-more-than-sixty-four-characters-is-no-handle", NULL},
};

static void test_member_handle(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_handles / sizeof *s_handles; i++) {
        Crm__Leads__TeamMember m = CRM__LEADS__TEAM_MEMBER__INIT;
        char name[] = "Sam";
        m.name = name;
        m.handle = strdup(s_handles[i].given);
        crm_errors_t errors = {0};
        int rc = leads_member_check(&m, "US", &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_handles[i].stored ? "" : "handle") != 0)
            fail_msg("handle \"%s\": refused [%s]", s_handles[i].given, fields);
        if (s_handles[i].stored) {
            assert_int_equal(rc, 0);
            assert_string_equal(m.handle, s_handles[i].stored);
        }
        free(m.handle);
        crm_errors_reset(&errors);
    }
    //  The list's filter takes a handle in any case.
    Crm__Leads__ListTeamMembersRequest req = CRM__LEADS__LIST_TEAM_MEMBERS_REQUEST__INIT;
    leads_member_list_t page;
    crm_errors_t errors = {0};
    req.handle = "Jo-Ann";
    assert_int_equal(leads_member_list_check(&req, &page, &errors), 0);
    assert_string_equal(page.handle, "jo-ann");
}

static void test_member_list_cursor(void **state) {
    (void)state;
    Crm__Leads__ListTeamMembersRequest req = CRM__LEADS__LIST_TEAM_MEMBERS_REQUEST__INIT;
    leads_member_list_t page;
    memset(&page, 'x', sizeof page); // whatever was there before
    crm_errors_t errors = {0};
    assert_int_equal(leads_member_list_check(&req, &page, &errors), 0);
    assert_int_equal(page.limit, 100); // the team's default page
    //  "<id>.<name in hex>": "Ann" is 416e6e.
    req.cursor = "0193e0a0-0000-7000-8000-000000000001.416e6e";
    assert_int_equal(leads_member_list_check(&req, &page, &errors), 0);
    assert_string_equal(page.cursor_name, "Ann");
    assert_string_equal(page.cursor_id, "0193e0a0-0000-7000-8000-000000000001");
    req.cursor = "0193e0a0-0000-7000-8000-000000000001.41x";
    assert_int_equal(leads_member_list_check(&req, &page, &errors), -1);
    assert_true(crm_errors_has(&errors, "cursor"));
    crm_errors_reset(&errors);
    req.cursor = "";
    req.limit = 501;
    assert_int_equal(leads_member_list_check(&req, &page, &errors), -1);
    assert_true(crm_errors_has(&errors, "limit"));
    crm_errors_reset(&errors);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_member_rules),
        cmocka_unit_test(test_member_list_cursor),
        cmocka_unit_test(test_member_handle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
