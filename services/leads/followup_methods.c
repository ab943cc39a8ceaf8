/*  followup_methods: a lead's follow-ups (POST, PATCH, GET /v1/leads/{id}/follow-ups
    [/{followUpId}], GET /v1/follow-ups), rows of methods.c's table, each read top to
    bottom: decode, check (followup.c), store (followup_store.c), answer.

    A follow-up is checked completely before anything is written: a clear 422 naming the
    field, 404 for a lead (or follow-up) that is not the tenant's, 409 for one that can no
    longer change (completed, cancelled, or its lead closed).
*/
#include "leads.h"
#include "ids.h"

#include <string.h>

static bool s_lead_id_ok(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return true;
    crm_call_error(call, "not_found", "no such lead (not a valid lead id)");
    return false;
}

static bool s_follow_up_id_ok(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return true;
    crm_call_error(call, "not_found", "no such follow-up (not a valid follow-up id)");
    return false;
}

static int s_closed_lead(crm_call_t *call) {
    crm_call_error(call, "lead_closed",
                   "the lead is closed (won or lost): reopen it to schedule a follow-up");
    return 409;
}

//  The lead's followUpAt may have moved with its follow-ups (before: its value then):
//  say so. code when that went well, else the failure's.
static int s_announce(crm_call_t *call, const char *lead_id, const char *before, int code) {
    int failed = leads_store_announce(call, lead_id, "followUpAt", before);
    return failed ? failed : code;
}

//  CreateFollowUp: a pending follow-up of an open lead.
int leads_followup_create(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    const Crm__Leads__CreateFollowUpRequest *req = (const void *)request;
    if (!s_lead_id_ok(call, req->id))
        return 404;
    const Crm__Leads__FollowUp *f = req->follow_up;
    if (!f) {
        crm_call_field_error(call, "dueAt", "is required (or pick)");
        return 422;
    }
    crm_errors_t errors = {0};
    if (leads_followup_check_new(f, &errors)) // check: followup.c
        return crm_call_fail(call, &errors);
    bool closed = false;
    char before[40];
    int code = leads_followup_store_lead(call, req->id, true, &closed, before); // store
    if (code != 200)
        return code;
    if (closed)
        return s_closed_lead(call);
    if (f->assignee_id[0] &&
        (code = leads_member_check_assignee(call, f->assignee_id, "assigneeId")) != 0)
        return code;
    code = leads_followup_store_insert(call, req->id, f, response);
    return code == 201 ? s_announce(call, req->id, before, code) : code;
}

//  UpdateFollowUp (PATCH): reschedule, change the method, note or assignee, or close
//  (completed, cancelled) a pending follow-up.
int leads_followup_update(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    const Crm__Leads__UpdateFollowUpRequest *req = (const void *)request;
    if (!s_lead_id_ok(call, req->id) || !s_follow_up_id_ok(call, req->follow_up_id))
        return 404;
    leads_followup_change_t set;
    crm_errors_t errors = {0};
    int failed = leads_followup_update_check(req, &set, &errors); // check: followup.c
    if (!req->n_update_mask) {
        crm_call_error(call, "validation_failed",
                       "nothing to change: give status, dueAt or pick, method, note or "
                       "assigneeId");
        return 422;
    }
    if (failed)
        return crm_call_fail(call, &errors);

    bool closed = false;
    char before[40];
    int code = leads_followup_store_lead(call, req->id, true, &closed, before); // store
    if (code != 200)
        return code;
    const Crm__Leads__FollowUp *f = set.follow_up;
    if (set.assignee && f->assignee_id[0] &&
        (code = leads_member_check_assignee(call, f->assignee_id, "assigneeId")) != 0)
        return code;
    char current[16];
    code = leads_followup_store_status(call, req->id, req->follow_up_id, current);
    if (code)
        return code;
    if (!current[0]) {
        crm_call_error(call, "not_found", "no such follow-up of this lead");
        return 404;
    }
    if (strcmp(current, "pending") != 0) {
        crm_call_error(call, "follow_up_closed",
                       "the follow-up is %s: it can no longer change (schedule a new one)",
                       current);
        return 409;
    }
    if (closed && set.when)
        return s_closed_lead(call);
    code = leads_followup_store_update(call, req->id, req->follow_up_id, &set, response);
    return code == 200 ? s_announce(call, req->id, before, code) : code;
}

//  GetFollowUp: one follow-up of a live lead.
int leads_followup_get(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    const Crm__Leads__GetFollowUpRequest *req = (const void *)request;
    if (!s_lead_id_ok(call, req->id) || !s_follow_up_id_ok(call, req->follow_up_id))
        return 404;
    return leads_followup_store_get(call, req->id, req->follow_up_id, response);
}

//  ListFollowUps: a lead's (the path names it: 404 for a lead that is not the tenant's)
//  or the tenant's, by assignee, status and due time, in due order.
int leads_followup_list(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Leads__ListFollowUpsRequest *req = (const void *)request;
    if (req->id[0] && !s_lead_id_ok(call, req->id))
        return 404;
    leads_followup_list_t page;
    crm_errors_t errors = {0};
    if (leads_followup_list_check(req, &page, &errors)) // check: followup.c
        return crm_call_fail(call, &errors);
    if (req->id[0]) {
        int code = leads_followup_store_lead(call, req->id, false, NULL, NULL);
        if (code != 200)
            return code;
    }
    return leads_followup_store_list(call, req->id, req->assignee_id, &page, response);
}
