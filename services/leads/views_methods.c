/*  views_methods: GetTimeline (GET /v1/leads/{id}/timeline) and HotSheet (GET
    /v1/leads/hot-sheet), rows of methods.c's table, each read top to bottom: decode,
    check (views.c), store (views_store.c), answer. */
#include "leads.h"
#include "ids.h"

//  GetTimeline: a live lead's records newest first in one list.
int leads_timeline(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    const Crm__Leads__GetTimelineRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such lead (not a valid lead id)");
        return 404;
    }
    leads_timeline_page_t page;
    crm_errors_t errors = {0};
    if (leads_timeline_check(req, &page, &errors)) // check: views.c
        return crm_call_fail(call, &errors);
    Crm__Leads__Lead *lead = NULL;
    int code = leads_store_get(call, req->id, false, false, &lead);
    if (lead)
        crm__leads__lead__free_unpacked(lead, NULL);
    if (code != 200)
        return code;
    return leads_views_store_timeline(call, req->id, &page, response); // store
}

//  HotSheet: the day's sheet of a salesperson or of the store, its sections cut to
//  their length.
int leads_hot_sheet(crm_call_t *call, const ProtobufCMessage *request,
                    ProtobufCMessage **response) {
    const Crm__Leads__HotSheetRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    if (leads_hot_sheet_check(req, &errors)) // check: views.c
        return crm_call_fail(call, &errors);
    Crm__Leads__HotSheetResponse *sheet = NULL;
    int code = leads_views_store_hot_sheet(call, req->assignee_id, req->date, &sheet);
    if (code != 200)
        return code;
    leads_hot_sheet_trim(sheet); // answer
    *response = &sheet->base;
    return 200;
}
