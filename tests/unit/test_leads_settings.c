/*  Unit tests for the tenant's sales settings' rules (services/leads/settings.c): what a
    PATCH may name and the values it takes. Each row of the table is an example of the
    rules, with the fields each refusal names. */
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
    const char *mask; // comma-separated JSON or proto names
    const char *time_zone;
    uint32_t hours;
    bool zone_set, target_set, see_all_set;
    const char *fields; // refused ("": accepted)
} s_cases[] = {
    {"a time zone is set by name", "timeZone", "America/Chicago", 0, true, false, false, ""},
    {"the proto name is a field name too", "time_zone", "Europe/Paris", 0, true, false, false, ""},
    {"a response target is set in hours", "responseTargetHours", "", 48, false, true, false, ""},
    {"both at once", "timeZone,responseTargetHours", "UTC", 1, true, true, false, ""},
    {"a time zone is not empty", "timeZone", "", 0, true, false, false, "timeZone"},
    {"a time zone name is not endless", "timeZone",
     "Europe/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0, true, false,
     false, "timeZone"},
    {"a zone unknown is left to PostgreSQL", "timeZone", "Mars/Olympus", 0, true, false, false, ""},
    {"the target is at least an hour", "responseTargetHours", "", 0, false, true, false,
     "responseTargetHours"},
    {"the target is at most 30 days", "responseTargetHours", "", 721, false, true, false,
     "responseTargetHours"},
    {"720 hours is the most", "responseTargetHours", "", 720, false, true, false, ""},
    {"updatedAt is no setting to change", "updatedAt", "", 0, false, false, false, "updatedAt"},
    {"an unknown name is no setting", "colour", "", 0, false, false, false, "colour"},
    {"an empty mask names nothing to change", "", "", 0, false, false, false, "timeZone"},
    {"salesSeeAllLeads is a setting", "salesSeeAllLeads", "", 0, false, false, true, ""},
    {"by its proto name too", "sales_see_all_leads", "", 0, false, false, true, ""},
    {"with the others", "timeZone,salesSeeAllLeads", "UTC", 0, true, false, true, ""},
};

static void test_settings_update_rules(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof *s_cases; i++) {
        Crm__Leads__UpdatePipelineSettingsRequest req =
            CRM__LEADS__UPDATE_PIPELINE_SETTINGS_REQUEST__INIT;
        Crm__Leads__PipelineSettings in = CRM__LEADS__PIPELINE_SETTINGS__INIT;
        in.time_zone = (char *)s_cases[i].time_zone;
        in.response_target_hours = s_cases[i].hours;
        req.settings = &in;
        char mask_text[128], *mask[4];
        snprintf(mask_text, sizeof mask_text, "%s", s_cases[i].mask);
        size_t n = 0;
        for (char *save = NULL, *name = strtok_r(mask_text, ",", &save); name && n < 4;
             name = strtok_r(NULL, ",", &save))
            mask[n++] = name;
        req.update_mask = mask;
        req.n_update_mask = n;
        leads_settings_fields_t set;
        crm_errors_t errors = {0};
        int rc = leads_settings_update_check(&req, &set, &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_cases[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_cases[i].rule, fields,
                     s_cases[i].fields);
        assert_int_equal(rc, s_cases[i].fields[0] ? -1 : 0);
        assert_int_equal(set.time_zone, s_cases[i].zone_set);
        assert_int_equal(set.response_target, s_cases[i].target_set);
        assert_int_equal(set.sales_see_all, s_cases[i].see_all_set);
        crm_errors_reset(&errors);
    }
}

//  A PATCH without a body names the settings it would set: each is refused as empty.
static void test_settings_update_without_body(void **state) {
    (void)state;
    Crm__Leads__UpdatePipelineSettingsRequest req =
        CRM__LEADS__UPDATE_PIPELINE_SETTINGS_REQUEST__INIT;
    char *mask[] = {"timeZone", "responseTargetHours"};
    req.update_mask = mask;
    req.n_update_mask = 2;
    leads_settings_fields_t set;
    crm_errors_t errors = {0};
    assert_int_equal(leads_settings_update_check(&req, &set, &errors), -1);
    assert_true(crm_errors_has(&errors, "timeZone"));
    assert_true(crm_errors_has(&errors, "responseTargetHours"));
    assert_string_equal(errors.items[1]->message, "must be from 1 to 720");
    crm_errors_reset(&errors);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_update_rules),
        cmocka_unit_test(test_settings_update_without_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
