/*  Unit tests for the rules of assignment (services/leads/assignment.c): what an
    assignment rule may hold, what an update may change, and what a manual assignment
    needs. Which members a rule selects is tests/unit/test_leads_assign.c. Each row of a
    table is an example of the rules, with the fields each refusal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/leads/leads.h"

#define M1 "0193e0a0-0000-7000-8000-000000000001"
#define M2 "0193e0a0-0000-7000-8000-000000000002"

static void s_fields(const crm_errors_t *errors, char *out, size_t size) {
    out[0] = 0;
    for (size_t e = 0; e < errors->n; e++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", e ? "," : "",
                 errors->items[e]->field);
}

static const struct {
    const char *rule;
    const char *name;
    Crm__Leads__AssignmentRuleKind kind;
    const char *members[3];
    size_t kept;        // member ids left (repeats dropped)
    const char *fields; // refused ("": accepted)
} s_rule_cases[] = {
    {"a rule has a name and a kind", "Round robin", 1, {M1, M2}, 2, ""},
    {"the name is required", "  ", 1, {M1}, 1, "name"},
    {"the kind is required", "Web leads", 0, {M1}, 1, "kind"},
    {"members are ids", "Web leads", 1, {M1, "bob"}, 2, "memberIds[1]"},
    {"a member named twice is kept once", "Web leads", 1, {M1, M2, M1}, 2, ""},
    {"an id's case does not make another member",
     "Web leads",
     1,
     {M1, "0193E0A0-0000-7000-8000-000000000001"},
     1,
     ""},
};

static void test_rule_rules(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_rule_cases / sizeof *s_rule_cases; i++) {
        Crm__Leads__AssignmentRule rule = CRM__LEADS__ASSIGNMENT_RULE__INIT;
        rule.name = strdup(s_rule_cases[i].name);
        rule.kind = s_rule_cases[i].kind;
        rule.member_ids = calloc(4, sizeof *rule.member_ids);
        for (size_t m = 0; m < 3 && s_rule_cases[i].members[m]; m++)
            rule.member_ids[rule.n_member_ids++] = strdup(s_rule_cases[i].members[m]);
        crm_errors_t errors = {0};
        int rc = leads_assignment_rule_check(&rule, &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_rule_cases[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_rule_cases[i].rule, fields,
                     s_rule_cases[i].fields);
        assert_int_equal(rc, s_rule_cases[i].fields[0] ? -1 : 0);
        assert_int_equal(rule.n_member_ids, s_rule_cases[i].kept);
        for (size_t m = 0; m < rule.n_member_ids; m++)
            free(rule.member_ids[m]);
        free(rule.member_ids);
        free(rule.name);
        crm_errors_reset(&errors);
    }
}

static const struct {
    const char *rule;
    const char *mask[2];
    uint32_t position;
    bool has_rule;
    const char *fields;
} s_mask_cases[] = {
    {"the name may change", {"name"}, 0, true, ""},
    {"the position may change", {"position"}, 2, true, ""},
    {"a position starts at 1", {"position"}, 0, true, "position"},
    {"the id may not change", {"id"}, 0, true, "id"},
    {"only a rule's fields", {"colour"}, 0, true, "colour"},
    {"a mask needs a rule", {"name"}, 0, false, "name"},
    {"proto names too", {"member_ids", "onlineOnly"}, 0, true, ""},
};

static void test_rule_mask(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_mask_cases / sizeof *s_mask_cases; i++) {
        Crm__Leads__UpdateAssignmentRuleRequest req =
            CRM__LEADS__UPDATE_ASSIGNMENT_RULE_REQUEST__INIT;
        Crm__Leads__AssignmentRule in = CRM__LEADS__ASSIGNMENT_RULE__INIT;
        in.position = s_mask_cases[i].position;
        req.rule = s_mask_cases[i].has_rule ? &in : NULL;
        char *mask[2];
        for (size_t m = 0; m < 2 && s_mask_cases[i].mask[m]; m++)
            mask[req.n_update_mask++] = (char *)s_mask_cases[i].mask[m];
        req.update_mask = mask;
        leads_rule_fields_t set;
        crm_errors_t errors = {0};
        int rc = leads_assignment_rule_mask_check(&req, &set, &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_mask_cases[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_mask_cases[i].rule, fields,
                     s_mask_cases[i].fields);
        assert_int_equal(rc, s_mask_cases[i].fields[0] ? -1 : 0);
        crm_errors_reset(&errors);
    }
}

static void test_manual_assignment(void **state) {
    (void)state;
    Crm__Leads__AssignLeadRequest req = CRM__LEADS__ASSIGN_LEAD_REQUEST__INIT;
    crm_errors_t errors = {0};
    req.assignee_id = "";
    req.note = "";
    assert_int_equal(leads_assign_request_check(&req, &errors), -1); // an assignee is named
    assert_true(crm_errors_has(&errors, "assigneeId"));
    crm_errors_reset(&errors);
    req.assignee_id = M1;
    char note[1002];
    memset(note, 'n', sizeof note - 1);
    note[sizeof note - 1] = 0;
    req.note = note;
    assert_int_equal(leads_assign_request_check(&req, &errors), -1); // a note of 1,001
    assert_true(crm_errors_has(&errors, "note"));
    crm_errors_reset(&errors);
    note[1000] = 0;
    assert_int_equal(leads_assign_request_check(&req, &errors), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_rules),
        cmocka_unit_test(test_rule_mask),
        cmocka_unit_test(test_manual_assignment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
