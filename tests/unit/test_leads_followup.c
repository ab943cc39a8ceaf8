/*  Unit tests for a lead's follow-up rules (services/leads/followup.c): a due time or a
    quick pick, what a PATCH may change and into what status, the list's filters and
    page. Each row of a table is an example of the rules, with the fields each refusal
    names. (The scheduler's timing rule: test_leads_followups.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/leads/leads.h"

#define PICK(p) CRM__LEADS__FOLLOW_UP_PICK__FOLLOW_UP_PICK_##p
#define STATUS(s) CRM__LEADS__FOLLOW_UP_STATUS__FOLLOW_UP_STATUS_##s

static void s_fields(const crm_errors_t *errors, char *out, size_t size) {
    out[0] = 0;
    for (size_t e = 0; e < errors->n; e++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", e ? "," : "",
                 errors->items[e]->field);
}

static const char s_long_note[] =
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

static const struct {
    const char *rule;
    const char *due_at;
    int pick, status;
    const char *assignee;
    const char *fields; // refused ("": accepted)
} s_new[] = {
    {"a due time in the future", "2099-01-02T09:00:00Z", 0, 0, "", ""},
    {"or a quick pick", "", PICK(TOMORROW_9AM), 0, "", ""},
    {"one of them is required", "", 0, 0, "", "dueAt"},
    {"not both", "2099-01-02T09:00:00Z", PICK(IN_1_HOUR), 0, "", "pick"},
    {"a due time is a date-time, not a date", "2099-01-02", 0, 0, "", "dueAt"},
    {"a due time is not in the past", "2001-01-02T09:00:00Z", 0, 0, "", "dueAt"},
    {"a follow-up starts pending", "", PICK(IN_3_DAYS), STATUS(PENDING), "", ""},
    {"not completed", "", PICK(IN_3_DAYS), STATUS(COMPLETED), "", "status"},
    {"an assignee id is not endless", "", PICK(IN_1_WEEK), 0, s_long_note, "assigneeId"},
};

static void test_followup_new(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_new / sizeof *s_new; i++) {
        Crm__Leads__FollowUp f = CRM__LEADS__FOLLOW_UP__INIT;
        f.due_at = (char *)s_new[i].due_at;
        f.pick = s_new[i].pick;
        f.status = s_new[i].status;
        f.assignee_id = (char *)s_new[i].assignee;
        crm_errors_t errors = {0};
        int rc = leads_followup_check_new(&f, &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_new[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_new[i].rule, fields,
                     s_new[i].fields);
        assert_int_equal(rc, s_new[i].fields[0] ? -1 : 0);
        crm_errors_reset(&errors);
    }
}

static const struct {
    const char *rule;
    const char *mask; // comma-separated
    int pick, status, method;
    const char *closes_into; // set->status
    const char *fields;      // refused ("": accepted)
} s_change[] = {
    {"complete it", "status", 0, STATUS(COMPLETED), 0, "completed", ""},
    {"cancel it", "status", 0, STATUS(CANCELLED), 0, "cancelled", ""},
    {"a PATCH cannot make it pending", "status", 0, STATUS(PENDING), 0, "", "status"},
    {"reschedule by a pick", "pick", PICK(IN_1_HOUR), 0, 0, "", ""},
    {"reschedule or close, not both", "pick,status", PICK(IN_1_HOUR), STATUS(COMPLETED), 0,
     "completed", "status"},
    {"a method set is given", "method", 0, 0, 0, "", "method"},
    {"a method", "method", 0, 0, CRM__LEADS__FOLLOW_UP_METHOD__FOLLOW_UP_METHOD_SMS, "", ""},
    {"firedAt is read-only", "firedAt", 0, 0, 0, "", "firedAt"},
    {"an unknown name is no field", "colour", 0, 0, 0, "", "colour"},
    {"an empty mask is the method's to answer", "", 0, 0, 0, "", ""},
};

static void test_followup_change(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_change / sizeof *s_change; i++) {
        Crm__Leads__UpdateFollowUpRequest req = CRM__LEADS__UPDATE_FOLLOW_UP_REQUEST__INIT;
        Crm__Leads__FollowUp f = CRM__LEADS__FOLLOW_UP__INIT;
        f.pick = s_change[i].pick;
        f.status = s_change[i].status;
        f.method = s_change[i].method;
        req.follow_up = &f;
        char mask_text[64], *mask[4];
        snprintf(mask_text, sizeof mask_text, "%s", s_change[i].mask);
        size_t n = 0;
        for (char *save = NULL, *name = strtok_r(mask_text, ",", &save); name && n < 4;
             name = strtok_r(NULL, ",", &save))
            mask[n++] = name;
        req.update_mask = mask;
        req.n_update_mask = n;
        leads_followup_change_t set;
        crm_errors_t errors = {0};
        int rc = leads_followup_update_check(&req, &set, &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_change[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_change[i].rule, fields,
                     s_change[i].fields);
        assert_int_equal(rc, s_change[i].fields[0] ? -1 : 0);
        assert_string_equal(set.status, s_change[i].closes_into);
        crm_errors_reset(&errors);
    }
}

static void test_followup_list(void **state) {
    (void)state;
    Crm__Leads__ListFollowUpsRequest req = CRM__LEADS__LIST_FOLLOW_UPS_REQUEST__INIT;
    leads_followup_list_t page;
    crm_errors_t errors = {0};
    assert_int_equal(leads_followup_list_check(&req, &page, &errors), 0);
    assert_int_equal(page.limit, CRM_PAGE_DEFAULT_LIMIT);
    assert_string_equal(page.status, "");
    assert_string_equal(page.due_before, "");
    req.status = STATUS(PENDING);
    req.due_before = "2026-11-22T10:00:00+01:00";
    req.cursor = "d.1700000000000000.0193e0a0-0000-7000-8000-000000000001";
    assert_int_equal(leads_followup_list_check(&req, &page, &errors), 0);
    assert_string_equal(page.status, "pending");
    assert_string_equal(page.due_before, "2026-11-22T09:00:00.000000Z");
    assert_string_equal(page.cursor.id, "0193e0a0-0000-7000-8000-000000000001");
    req.due_before = "2026-11-22"; // a date: its midnight UTC
    assert_int_equal(leads_followup_list_check(&req, &page, &errors), 0);
    assert_string_equal(page.due_before, "2026-11-22T00:00:00.000000Z");
    req.due_before = "soon";
    req.cursor = "v.1700000000000000.0193e0a0-0000-7000-8000-000000000001"; // another list's
    req.limit = CRM_PAGE_MAX_LIMIT + 1;
    assert_int_equal(leads_followup_list_check(&req, &page, &errors), -1);
    char fields[64];
    s_fields(&errors, fields, sizeof fields);
    assert_string_equal(fields, "dueBefore,limit,cursor");
    crm_errors_reset(&errors);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_followup_new),
        cmocka_unit_test(test_followup_change),
        cmocka_unit_test(test_followup_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
