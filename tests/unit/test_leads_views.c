/*  Unit tests for the read-only views' rules (services/leads/views.c): the timeline's
    page, the hot sheet's request and how long its sections are. */
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
    uint32_t limit;
    const char *cursor;
    int expect_limit;
    const char *fields; // refused ("": accepted)
} s_timeline[] = {
    {"the default page", 0, "", CRM_PAGE_DEFAULT_LIMIT, ""},
    {"a page asked for", 10, "", 10, ""},
    {"at most the longest page", CRM_PAGE_MAX_LIMIT + 1, "", CRM_PAGE_MAX_LIMIT, "limit"},
    {"a timeline cursor", 0, "t.1700000000000000.0193e0a0-0000-7000-8000-000000000001",
     CRM_PAGE_DEFAULT_LIMIT, ""},
    {"another list's cursor is refused", 0,
     "v.1700000000000000.0193e0a0-0000-7000-8000-000000000001", CRM_PAGE_DEFAULT_LIMIT, "cursor"},
    {"a timeline cursor has a time", 0, "t..0193e0a0-0000-7000-8000-000000000001",
     CRM_PAGE_DEFAULT_LIMIT, "cursor"},
    {"both wrong", 500, "garbage", CRM_PAGE_MAX_LIMIT, "limit,cursor"},
};

static void test_timeline_page(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_timeline / sizeof *s_timeline; i++) {
        Crm__Leads__GetTimelineRequest req = CRM__LEADS__GET_TIMELINE_REQUEST__INIT;
        req.limit = s_timeline[i].limit;
        req.cursor = (char *)s_timeline[i].cursor;
        leads_timeline_page_t page;
        crm_errors_t errors = {0};
        int rc = leads_timeline_check(&req, &page, &errors);
        char fields[128];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_timeline[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_timeline[i].rule, fields,
                     s_timeline[i].fields);
        assert_int_equal(rc, s_timeline[i].fields[0] ? -1 : 0);
        assert_int_equal(page.limit, s_timeline[i].expect_limit);
        crm_errors_reset(&errors);
    }
}

static const struct {
    const char *rule;
    const char *assignee, *date;
    const char *fields;
} s_hot_sheet[] = {
    {"the store's sheet today", "", "", ""},
    {"a salesperson's on a day", "0193e0a0-0000-7000-8000-000000000001", "2026-11-22", ""},
    {"a date is YYYY-MM-DD", "", "22/11/2026", "date"},
    {"a date is a real day", "", "2026-02-30", "date"},
    {"a date has no time", "", "2026-11-22T09:00:00Z", "date"},
};

static void test_hot_sheet_request(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_hot_sheet / sizeof *s_hot_sheet; i++) {
        Crm__Leads__HotSheetRequest req = CRM__LEADS__HOT_SHEET_REQUEST__INIT;
        req.assignee_id = (char *)s_hot_sheet[i].assignee;
        req.date = (char *)s_hot_sheet[i].date;
        crm_errors_t errors = {0};
        int rc = leads_hot_sheet_check(&req, &errors);
        char fields[128];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_hot_sheet[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_hot_sheet[i].rule, fields,
                     s_hot_sheet[i].fields);
        assert_int_equal(rc, s_hot_sheet[i].fields[0] ? -1 : 0);
        crm_errors_reset(&errors);
    }
    char long_id[80];
    memset(long_id, 'a', 65);
    long_id[65] = 0;
    Crm__Leads__HotSheetRequest req = CRM__LEADS__HOT_SHEET_REQUEST__INIT;
    req.assignee_id = long_id;
    crm_errors_t errors = {0};
    assert_int_equal(leads_hot_sheet_check(&req, &errors), -1);
    assert_true(crm_errors_has(&errors, "assigneeId"));
    crm_errors_reset(&errors);
}

//  A section of the statement's one more than the most is cut, and says so.
static Crm__Leads__HotSheetLead **s_section(size_t n) {
    Crm__Leads__HotSheetLead **items = calloc(n, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        items[i] = malloc(sizeof *items[i]);
        crm__leads__hot_sheet_lead__init(items[i]);
    }
    return items;
}

static void test_hot_sheet_trim(void **state) {
    (void)state;
    Crm__Leads__HotSheetResponse *sheet = malloc(sizeof *sheet);
    crm__leads__hot_sheet_response__init(sheet);
    sheet->hot = s_section(LEADS_HOT_SHEET_SECTION_MAX);
    sheet->n_hot = LEADS_HOT_SHEET_SECTION_MAX;
    leads_hot_sheet_trim(sheet);
    assert_false(sheet->truncated);
    assert_int_equal(sheet->n_hot, LEADS_HOT_SHEET_SECTION_MAX);
    sheet->overdue = s_section(LEADS_HOT_SHEET_SECTION_MAX + 1);
    sheet->n_overdue = LEADS_HOT_SHEET_SECTION_MAX + 1;
    leads_hot_sheet_trim(sheet);
    assert_true(sheet->truncated);
    assert_int_equal(sheet->n_overdue, LEADS_HOT_SHEET_SECTION_MAX);
    crm__leads__hot_sheet_response__free_unpacked(sheet, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeline_page),
        cmocka_unit_test(test_hot_sheet_request),
        cmocka_unit_test(test_hot_sheet_trim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
