/*  Unit tests for a pipeline stage's rules (services/leads/stage.c): a new stage's name
    and key, and what an update may change. Stage keys themselves are in
    tests/unit/test_leads_rules.c. Each row of a table is an example of the rules. */
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
    const char *name, *key;
    const char *want_key;
    const char *fields; // refused ("": accepted)
} s_new_cases[] = {
    {"the key is made from the name", " Test Drive ", "", "test_drive", ""},
    {"a given key is kept", "Test drive", "td", "td", ""},
    {"a name is required", "  ", "", "", "name"},
    {"a name is at most 60 characters",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", "", "name"},
    {"a given key is a key", "Test drive", "Test-Drive", "", "key"},
    {"a name without letters or digits gives no key", "!!!", "", "", "key"},
};

static void test_new_stage(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_new_cases / sizeof *s_new_cases; i++) {
        Crm__Leads__Stage stage = CRM__LEADS__STAGE__INIT;
        stage.name = strdup(s_new_cases[i].name);
        stage.key = (char *)s_new_cases[i].key;
        char key[LEADS_STAGE_KEY_MAX + 1];
        crm_errors_t errors = {0};
        int rc = leads_stage_check_new(&stage, key, &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_new_cases[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_new_cases[i].rule, fields,
                     s_new_cases[i].fields);
        assert_int_equal(rc, s_new_cases[i].fields[0] ? -1 : 0);
        if (rc == 0)
            assert_string_equal(key, s_new_cases[i].want_key);
        free(stage.name);
        crm_errors_reset(&errors);
    }
}

static const struct {
    const char *rule;
    const char *mask[2];
    uint32_t position;
    Crm__Leads__StageOutcome outcome;
    const char *name;
    const char *fields;
} s_update_cases[] = {
    {"the name may change", {"name"}, 0, 0, "Visit", ""},
    {"a new name is checked", {"name"}, 0, 0, " ", "name"},
    {"a position starts at 1", {"position"}, 0, 0, "", "position"},
    {"an outcome is open, won or lost", {"outcome"}, 0, 0, "", "outcome"},
    {"the key never changes", {"key"}, 0, 0, "", "key"},
    {"only a stage's fields", {"colour"}, 0, 0, "", "colour"},
    {"position and outcome together", {"position", "outcome"}, 2, 2, "", ""},
};

static void test_stage_update(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_update_cases / sizeof *s_update_cases; i++) {
        Crm__Leads__UpdateStageRequest req = CRM__LEADS__UPDATE_STAGE_REQUEST__INIT;
        Crm__Leads__Stage in = CRM__LEADS__STAGE__INIT;
        in.position = s_update_cases[i].position;
        in.outcome = s_update_cases[i].outcome;
        in.name = (char *)s_update_cases[i].name;
        req.stage = &in;
        req.key = "qualified";
        char *mask[2];
        for (size_t m = 0; m < 2 && s_update_cases[i].mask[m]; m++)
            mask[req.n_update_mask++] = (char *)s_update_cases[i].mask[m];
        req.update_mask = mask;
        leads_stage_fields_t set;
        char *name = NULL;
        crm_errors_t errors = {0};
        int rc = leads_stage_update_check(&req, &set, &name, &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_update_cases[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_update_cases[i].rule,
                     fields, s_update_cases[i].fields);
        assert_int_equal(rc, s_update_cases[i].fields[0] ? -1 : 0);
        free(name);
        crm_errors_reset(&errors);
    }
}

static void test_outcome_names(void **state) {
    (void)state;
    assert_string_equal(leads_stage_outcome_name(CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_WON),
                        "won");
    assert_string_equal(leads_stage_outcome_name(CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_LOST),
                        "lost");
    assert_string_equal(
        leads_stage_outcome_name(CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_UNSPECIFIED), "open");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_stage),
        cmocka_unit_test(test_stage_update),
        cmocka_unit_test(test_outcome_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
