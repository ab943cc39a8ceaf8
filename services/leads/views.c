/*  views: the rules of the read-only views (no database, no call): the timeline's page
    (its size, its cursor) and the hot sheet's request (an assignee, a date) and how
    long its sections may be. views_store.c holds the SQL, views_methods.c the methods;
    unit-tested in tests/unit/test_leads_views.c.

    - The timeline: one lead's activities, its moves between stages and its creation,
      its assignments and its follow-ups, newest first in one list, each entry with its
      kind, keyset-paged.
    - The daily hot sheet: for one salesperson or the whole store, the open hot leads,
      the open leads whose follow-up time has passed, and the day's appointments and test
      drives (the day read in the tenant's time zone, tenant_time_zone()).
*/
#include "leads.h"
#include "validate.h"

#include <string.h>

int leads_timeline_check(const Crm__Leads__GetTimelineRequest *req, leads_timeline_page_t *out,
                         crm_errors_t *errors) {
    size_t before = errors->n;
    memset(out, 0, sizeof *out);
    out->limit = (int)req->limit;
    if (req->limit == 0)
        out->limit = CRM_PAGE_DEFAULT_LIMIT;
    else if (req->limit > CRM_PAGE_MAX_LIMIT) {
        crm_errors_add(errors, "limit", "must be at most %d", CRM_PAGE_MAX_LIMIT);
        out->limit = CRM_PAGE_MAX_LIMIT;
    }
    if (req->cursor[0] &&
        (leads_cursor_decode(req->cursor, 't', &out->cursor) || !out->cursor.value[0]))
        crm_errors_add(errors, "cursor", "is not a cursor of this timeline");
    return errors->n > before ? -1 : 0;
}

int leads_hot_sheet_check(const Crm__Leads__HotSheetRequest *req, crm_errors_t *errors) {
    size_t before = errors->n;
    if (crm_utf8_chars(req->assignee_id) > 64)
        crm_errors_add(errors, "assigneeId", "must be at most 64 characters");
    if (req->date[0] && (strlen(req->date) != 10 || !crm_date_parse(req->date, NULL, NULL, NULL)))
        crm_errors_add(errors, "date", "must be a date YYYY-MM-DD");
    return errors->n > before ? -1 : 0;
}

//  Keep the first LEADS_HOT_SHEET_SECTION_MAX leads of a section; true when there were
//  more.
static bool s_section_trim(Crm__Leads__HotSheetLead **items, size_t *n) {
    if (*n <= LEADS_HOT_SHEET_SECTION_MAX)
        return false;
    for (size_t i = LEADS_HOT_SHEET_SECTION_MAX; i < *n; i++)
        crm__leads__hot_sheet_lead__free_unpacked(items[i], NULL);
    *n = LEADS_HOT_SHEET_SECTION_MAX;
    return true;
}

void leads_hot_sheet_trim(Crm__Leads__HotSheetResponse *sheet) {
    bool hot = s_section_trim(sheet->hot, &sheet->n_hot);
    bool overdue = s_section_trim(sheet->overdue, &sheet->n_overdue);
    bool appointments = s_section_trim(sheet->appointments, &sheet->n_appointments);
    sheet->truncated = hot || overdue || appointments;
}
