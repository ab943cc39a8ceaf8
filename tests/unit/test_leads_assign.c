/*  leads assignment rules: which members a rule selects for a lead, working hours and
    postcodes (services/leads/assignment.c, services/leads/member.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/leads/leads.h"

static void test_hhmm(void **state) {
    (void)state;
    int m = -1;
    assert_int_equal(leads_hhmm_parse("09:30", &m), 0);
    assert_int_equal(m, 9 * 60 + 30);
    assert_int_equal(leads_hhmm_parse("00:00", &m), 0);
    assert_int_equal(m, 0);
    assert_int_equal(leads_hhmm_parse("24:00", &m), 0);
    assert_int_equal(m, 24 * 60);
    const char *bad[] = {"", "9:30", "09:60", "24:01", "25:00", "09-30", "0930", "ab:cd",
                         "09:30:00", "9am"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(leads_hhmm_parse(bad[i], &m), -1);
}

static void test_postcode(void **state) {
    (void)state;
    char out[16];
    assert_int_equal(leads_postcode_normalize("sw1a 1aa", out, sizeof out), 0);
    assert_string_equal(out, "SW1A1AA");
    assert_int_equal(leads_postcode_normalize("90210-1234", out, sizeof out), 0);
    assert_string_equal(out, "902101234");
    assert_int_equal(leads_postcode_normalize("  ", out, sizeof out), -1);
    assert_int_equal(leads_postcode_normalize("90*", out, sizeof out), -1);
    assert_int_equal(leads_postcode_normalize("1234567890123456", out, sizeof out), -1);
}

//  A member with the given specialisation and territory, active and available.
typedef struct {
    Crm__Leads__TeamMember m;
    Crm__Leads__VehicleCondition conditions[3];
    char *makes[2], *prefixes[2], *regions[2];
} s_member_t;

static void s_member_init(s_member_t *s, const char *id) {
    memset(s, 0, sizeof *s);
    crm__leads__team_member__init(&s->m);
    s->m.id = (char *)id;
    s->m.active = true;
    s->m.conditions = s->conditions;
    s->m.makes = s->makes;
    s->m.postcode_prefixes = s->prefixes;
    s->m.regions = s->regions;
}

static Crm__Leads__Lead s_lead(Crm__Leads__VehicleInterest *v, int64_t min, int64_t max,
                               const char *postcode, const char *region) {
    Crm__Leads__Lead lead = CRM__LEADS__LEAD__INIT;
    lead.vehicle = v;
    lead.budget_min_cents = min;
    lead.budget_max_cents = max;
    lead.postcode = (char *)postcode;
    lead.region = (char *)region;
    return lead;
}

static void test_specialization(void **state) {
    (void)state;
    s_member_t s;
    s_member_init(&s, "m1");
    Crm__Leads__VehicleInterest v = CRM__LEADS__VEHICLE_INTEREST__INIT;
    v.make = "TOYOTA";
    v.condition = CRM__LEADS__VEHICLE_CONDITION__VEHICLE_CONDITION_NEW;
    Crm__Leads__Lead lead = s_lead(&v, 3000000, 3800000, "", "");
    //  No specialisation: not a specialist.
    assert_false(leads_member_fits_specialization(&s.m, &lead));
    s.conditions[0] = CRM__LEADS__VEHICLE_CONDITION__VEHICLE_CONDITION_NEW;
    s.m.n_conditions = 1;
    assert_true(leads_member_fits_specialization(&s.m, &lead));
    s.makes[0] = "toyota";
    s.m.n_makes = 1;
    assert_true(leads_member_fits_specialization(&s.m, &lead)); // any case
    v.make = "Honda";
    assert_false(leads_member_fits_specialization(&s.m, &lead));
    v.make = "Toyota";
    v.condition = CRM__LEADS__VEHICLE_CONDITION__VEHICLE_CONDITION_USED;
    assert_false(leads_member_fits_specialization(&s.m, &lead));
    v.condition = CRM__LEADS__VEHICLE_CONDITION__VEHICLE_CONDITION_NEW;
    //  The price band meets the budget's range.
    s.m.price_min_cents = 3500000;
    s.m.price_max_cents = 6000000;
    assert_true(leads_member_fits_specialization(&s.m, &lead)); // 3.0-3.8 meets 3.5-6.0
    s.m.price_min_cents = 4000000;
    assert_false(leads_member_fits_specialization(&s.m, &lead));
    s.m.price_min_cents = 0;
    s.m.price_max_cents = 2000000;
    assert_false(leads_member_fits_specialization(&s.m, &lead));
    s.m.price_max_cents = 0;
    s.m.price_min_cents = 1;
    lead.budget_min_cents = lead.budget_max_cents = 0; // no budget: no fit for a band
    assert_false(leads_member_fits_specialization(&s.m, &lead));
    lead.budget_min_cents = 2500000; // a minimum alone is the budget
    assert_true(leads_member_fits_specialization(&s.m, &lead));
    //  No vehicle: no fit for conditions or makes.
    lead.vehicle = NULL;
    assert_false(leads_member_fits_specialization(&s.m, &lead));
}

static void test_territory(void **state) {
    (void)state;
    s_member_t s;
    s_member_init(&s, "m1");
    Crm__Leads__Lead lead = s_lead(NULL, 0, 0, "SW1A1AA", "");
    assert_false(leads_member_covers_territory(&s.m, &lead));
    s.prefixes[0] = "SW1";
    s.m.n_postcode_prefixes = 1;
    assert_true(leads_member_covers_territory(&s.m, &lead));
    lead.postcode = "SE1";
    assert_false(leads_member_covers_territory(&s.m, &lead));
    s.regions[0] = "South East";
    s.m.n_regions = 1;
    lead.region = "south east";
    assert_true(leads_member_covers_territory(&s.m, &lead));
    lead.postcode = "";
    lead.region = "";
    assert_false(leads_member_covers_territory(&s.m, &lead));
}

static void test_rule_selects(void **state) {
    (void)state;
    s_member_t s;
    s_member_init(&s, "0190a0a0-0000-7000-8000-00000000000a");
    Crm__Leads__Lead lead = s_lead(NULL, 0, 0, "", "");
    Crm__Leads__AssignmentRule rule = CRM__LEADS__ASSIGNMENT_RULE__INIT;
    rule.kind = CRM__LEADS__ASSIGNMENT_RULE_KIND__ASSIGNMENT_RULE_KIND_ROUND_ROBIN;
    assert_true(leads_rule_selects(&rule, &s.m, false, &lead));
    //  Its member list.
    char *ids[] = {"0190A0A0-0000-7000-8000-00000000000A"};
    rule.member_ids = ids;
    rule.n_member_ids = 1;
    assert_true(leads_rule_selects(&rule, &s.m, false, &lead));
    ids[0] = "0190a0a0-0000-7000-8000-00000000000b";
    assert_false(leads_rule_selects(&rule, &s.m, false, &lead));
    rule.n_member_ids = 0;
    //  Deactivated members never; offline ones not when online only; outside hours not
    //  when within working hours.
    s.m.active = false;
    assert_false(leads_rule_selects(&rule, &s.m, true, &lead));
    s.m.active = true;
    s.m.available_set_case = CRM__LEADS__TEAM_MEMBER__AVAILABLE_SET_AVAILABLE;
    s.m.available = false;
    assert_true(leads_rule_selects(&rule, &s.m, true, &lead));
    rule.online_only = true;
    assert_false(leads_rule_selects(&rule, &s.m, true, &lead));
    rule.online_only = false;
    rule.kind = CRM__LEADS__ASSIGNMENT_RULE_KIND__ASSIGNMENT_RULE_KIND_AVAILABILITY;
    assert_false(leads_rule_selects(&rule, &s.m, true, &lead));
    s.m.available = true;
    assert_true(leads_rule_selects(&rule, &s.m, true, &lead));
    rule.within_working_hours = true;
    assert_false(leads_rule_selects(&rule, &s.m, false, &lead));
    assert_true(leads_rule_selects(&rule, &s.m, true, &lead));
    //  By kind.
    rule.within_working_hours = false;
    rule.kind = CRM__LEADS__ASSIGNMENT_RULE_KIND__ASSIGNMENT_RULE_KIND_TERRITORY;
    assert_false(leads_rule_selects(&rule, &s.m, true, &lead));
    s.regions[0] = "north";
    s.m.n_regions = 1;
    lead.region = "North";
    assert_true(leads_rule_selects(&rule, &s.m, true, &lead));
    rule.kind = CRM__LEADS__ASSIGNMENT_RULE_KIND__ASSIGNMENT_RULE_KIND_SPECIALIZATION;
    assert_false(leads_rule_selects(&rule, &s.m, true, &lead));
    rule.kind = CRM__LEADS__ASSIGNMENT_RULE_KIND__ASSIGNMENT_RULE_KIND_UNSPECIFIED;
    assert_false(leads_rule_selects(&rule, &s.m, true, &lead));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hhmm),          cmocka_unit_test(test_postcode),
        cmocka_unit_test(test_specialization), cmocka_unit_test(test_territory),
        cmocka_unit_test(test_rule_selects),
    };
    return cmocka_run_group_tests_name("leads assignment", tests, NULL, NULL);
}
