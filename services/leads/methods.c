/*  methods: everything the leads service answers on the bus, one row each, and the
    lead's own methods. Each reads top to bottom: decode, check (the resource's rules
    file), store (its _store.c), answer. The core (common/service.c) batches, commits and
    replies; a method never sees that. The methods of the other resources are in their
    <resource>_methods.c, beside their rules (<resource>.c) and their SQL
    (<resource>_store.c).

    method                rules          SQL                 HTTP (L: /v1/leads/{id})
    Create                lead.c         lead_store.c        POST /v1/leads
    Get                   lead.c         lead_store.c        GET L
    Update                lead.c         lead_store.c        PATCH L
    Delete                lead.c         lead_store.c        DELETE L
    List                  lead.c         lead_store.c        GET /v1/leads
    CreateFromChat        chat.c         chat_store.c        POST /v1/leads/from-chat
    ChangeStatus          lead.c         lead_store.c        POST L/status
    ListStages            stage.c        stage_store.c       GET /v1/pipeline/stages
    CreateStage           stage.c        stage_store.c       POST /v1/pipeline/stages
    UpdateStage           stage.c        stage_store.c       PATCH /v1/pipeline/stages/{key}
    DeleteStage           stage.c        stage_store.c       DELETE /v1/pipeline/stages/{key}
    CreateActivity        activity.c     activity_store.c    POST L/activities
    UpdateActivity        activity.c     activity_store.c    PATCH L/activities/{activityId}
    ListActivities        activity.c     activity_store.c    GET L/activities
    GetTimeline           views.c        views_store.c       GET L/timeline
    HotSheet              views.c        views_store.c       GET /v1/leads/hot-sheet
    ListTeamMembers       member.c       member_store.c      GET /v1/team/members
    GetTeamMember         member.c       member_store.c      GET /v1/team/members/{id}
    CreateTeamMember      member.c       member_store.c      POST /v1/team/members
    UpdateTeamMember      member.c       member_store.c      PATCH /v1/team/members/{id}
    DeleteTeamMember      member.c       member_store.c      DELETE /v1/team/members/{id}
    ListAssignmentRules   assignment.c   assignment_store.c  GET /v1/assignment-rules
    GetAssignmentRule     assignment.c   assignment_store.c  GET /v1/assignment-rules/{id}
    CreateAssignmentRule  assignment.c   assignment_store.c  POST /v1/assignment-rules
    UpdateAssignmentRule  assignment.c   assignment_store.c  PATCH /v1/assignment-rules/{id}
    DeleteAssignmentRule  assignment.c   assignment_store.c  DELETE /v1/assignment-rules/{id}
    Assign (manual)       assignment.c   assignment_store.c  POST L/assign
    ListAssignments       assignment.c   assignment_store.c  GET L/assignments
    CreateFollowUp        followup.c     followup_store.c    POST L/follow-ups
    UpdateFollowUp        followup.c     followup_store.c    PATCH L/follow-ups/{followUpId}
    ListFollowUps         followup.c     followup_store.c    GET L/follow-ups, GET /v1/follow-ups
    GetFollowUp           followup.c     followup_store.c    GET L/follow-ups/{followUpId}
    GetSettings           settings.c     settings_store.c    GET /v1/pipeline/settings
    UpdateSettings        settings.c     settings_store.c    PATCH /v1/pipeline/settings
    Events.Replay         common/replay  the outbox          (bus: subscribers catching up)

    Automatic assignment (the tenant's round robin rules) is no method: a create without
    an assignee runs it (assignment.c chooses, assignment_store.c counts the turns).
    Firing due follow-ups is no method either: scheduler.c, a job of main.c's runner
    table (its timing rule in followup.c, its SQL in followup_store.c).
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "replay.h"

#include <stdlib.h>
#include <string.h>

//  A lead id that is no UUID names no lead: 404 before anything is read.
static bool s_lead_id_ok(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return true;
    crm_call_error(call, "not_found", "no such lead (not a valid lead id)");
    return false;
}

// --- a lead: create, read, change, delete, list, move -------------------------------------

//  The lead's stage at creation: the one it names (an open stage of the pipeline), or the
//  pipeline's first open stage. 0, 422 naming status, or a failure code.
static int s_initial_stage(crm_call_t *call, Crm__Leads__Lead *lead) {
    if (!lead->status[0]) {
        char key[64];
        int code = leads_stage_first_open(call, key);
        if (code == 200)
            crm_pb_string_set(&lead->status, key);
        return code == 200 ? 0 : code;
    }
    char outcome[8];
    int code = leads_stage_lookup(call, lead->status, outcome, NULL);
    if (code == 404)
        crm_call_field_error(call, "status", "is not a stage of the pipeline");
    else if (code == 200 && strcmp(outcome, "open") != 0)
        crm_call_field_error(call, "status",
                             "a lead starts in an open stage (it is closed by moving it)");
    return call->errors.n ? 422 : code == 200 ? 0 : code;
}

int leads_lead_create(crm_call_t *call, Crm__Leads__Lead *lead, bool contact_checked) {
    //  Read-only fields are the service's to set; an id is kept only from the service's
    //  own callers (the API's create clears it).
    if (!lead->id[0]) {
        char id[CRM_UUID_LEN + 1];
        crm_uuid_v7(id);
        crm_pb_string_set(&lead->id, id);
    }
    leads_lead_clear_read_only(lead);
    //  A priority given is the salesperson's (it stays); else it follows the band.
    leads_lead_priority_set(lead, lead->priority != CRM__LEADS__PRIORITY__PRIORITY_UNSPECIFIED);
    crm_errors_t errors = {0};
    leads_lead_check_new(lead, &errors); // check: lead.c
    int code = crm_call_fail(call, &errors);
    if (code == 0 && !contact_checked) // the contact is live
        code = leads_contact_check(call, lead->contact_id);
    if (code == 0)
        code = leads_pipeline_ensure(call);
    if (code == 0)
        code = s_initial_stage(call, lead);
    //  A given assignee must be an active member; else the rules may choose one.
    char rule_id[40] = "manual";
    if (code == 0 && lead->assignee_id[0])
        code = leads_member_check_assignee(call, lead->assignee_id, "assigneeId");
    else if (code == 0)
        code = leads_assign_auto(call, lead, rule_id);
    if (code == 0) { // store: lead_store.c
        leads_row_t row;
        leads_row_render(lead, &row);
        code = leads_store_insert(call, &row, lead);
        leads_row_reset(&row);
    }
    if (code == 201 && lead->assignee_id[0]) {
        int recorded =
            leads_assignment_store_record(call, lead->id, "", lead->assignee_id, rule_id, "");
        code = recorded ? recorded : 201;
    }
    if (code == 201 && lead->follow_up_at[0]) {
        int failed = leads_followups_on_create(call, lead);
        code = failed ? failed : code;
    }
    return code;
}

//  Create: a lead of a contact of the caller's tenant.
static int s_create(crm_call_t *call, const ProtobufCMessage *request,
                    ProtobufCMessage **response) {
    const Crm__Leads__CreateLeadRequest *req = (const void *)request;
    if (!req->lead) {
        crm_call_field_error(call, "lead", "is required");
        return 422;
    }
    //  Work on a copy: checks normalise fields in place.
    Crm__Leads__Lead *lead = (Crm__Leads__Lead *)crm_pb_copy(&req->lead->base);
    crm_pb_string_set(&lead->id, "");
    int code = leads_lead_create(call, lead, false);
    if (code == 201)
        *response = &lead->base;
    else
        crm__leads__lead__free_unpacked(lead, NULL);
    return code;
}

//  Get: one lead with its stage history.
static int s_get(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    const Crm__Leads__GetLeadRequest *req = (const void *)request;
    if (!s_lead_id_ok(call, req->id))
        return 404;
    return leads_store_get(call, req->id, false, true, (Crm__Leads__Lead **)response);
}

//  The stored lead with the masked fields taken from the request (a field the request
//  leaves out goes back to its default), read back as a Lead; NULL with errors filled.
static Crm__Leads__Lead *s_lead_patched(const Crm__Leads__Lead *stored,
                                        const Crm__Leads__UpdateLeadRequest *req, char **changed,
                                        crm_errors_t *errors) {
    json_t *merged = crm_pb_to_json_value(&stored->base);
    leads_patch_apply(merged, req->lead ? &req->lead->base : NULL, changed, req->n_update_mask);
    crm_json_error_t err;
    Crm__Leads__Lead *lead =
        (Crm__Leads__Lead *)crm_json_value_to_pb(&crm__leads__lead__descriptor, merged, "", &err);
    json_decref(merged);
    if (!lead)
        crm_errors_add(errors, err.field, "%s", err.message);
    return lead;
}

//  Update (PATCH): the fields the mask names; a new assignee is an assignment, a new
//  followUpAt moves the lead's follow-ups.
static int s_update(crm_call_t *call, const ProtobufCMessage *request,
                    ProtobufCMessage **response) {
    const Crm__Leads__UpdateLeadRequest *req = (const void *)request;
    if (!s_lead_id_ok(call, req->id))
        return 404;
    crm_errors_t errors = {0};
    char **changed = leads_patch_names(&crm__leads__lead__descriptor, req->lead != NULL,
                                       req->update_mask, req->n_update_mask, "a lead",
                                       leads_lead_read_only, leads_lead_n_read_only, &errors);
    bool setting_follow_up = leads_patch_names_has(changed, req->n_update_mask, "followUpAt");
    Crm__Leads__Lead *stored = NULL, *lead = NULL;
    int code = crm_call_fail(call, &errors);
    if (code == 0)
        code = leads_store_get(call, req->id, true, false, &stored);
    if (code == 200) {
        lead = s_lead_patched(stored, req, changed, &errors);
        if (lead) { // check: lead.c
            leads_lead_priority_set(lead,
                                    leads_patch_names_has(changed, req->n_update_mask, "priority"));
            leads_lead_check(lead, setting_follow_up, &errors);
        }
        code = crm_call_fail(call, &errors);
    }
    bool reassigned = code == 0 && strcmp(lead->assignee_id, stored->assignee_id) != 0;
    if (reassigned && lead->assignee_id[0])
        code = leads_member_check_assignee(call, lead->assignee_id, "assigneeId");
    if (code == 0 && setting_follow_up)
        code = leads_followups_on_update(call, lead);
    if (code == 0) { // store: lead_store.c
        //  The event names the fields the mask named, and priorityManual when it moved.
        const char **named = calloc(req->n_update_mask + 2, sizeof *named);
        size_t n_named = 0;
        for (size_t i = 0; i < req->n_update_mask; i++)
            named[n_named++] = changed[i];
        if (lead->priority_manual != stored->priority_manual)
            named[n_named++] = "priorityManual";
        leads_row_t row;
        leads_row_render(lead, &row);
        code = leads_store_update(call, &row, lead, named, n_named);
        leads_row_reset(&row);
        free(named);
    }
    if (code == 200 && reassigned) {
        int recorded = leads_assignment_store_record(call, lead->id, stored->assignee_id,
                                                     lead->assignee_id, "manual", "");
        code = recorded ? recorded : 200;
    }
    leads_patch_names_free(changed, req->n_update_mask);
    if (stored)
        crm__leads__lead__free_unpacked(stored, NULL);
    if (code == 200)
        *response = &lead->base;
    else if (lead)
        crm__leads__lead__free_unpacked(lead, NULL);
    return code;
}

//  Delete: the lead is soft-deleted; its pending follow-ups are cancelled.
static int s_delete(crm_call_t *call, const ProtobufCMessage *request,
                    ProtobufCMessage **response) {
    (void)response;
    const Crm__Leads__DeleteLeadRequest *req = (const void *)request;
    if (!s_lead_id_ok(call, req->id))
        return 404;
    Crm__Leads__Lead *lead = NULL;
    int code = leads_store_get(call, req->id, true, false, &lead);
    if (code == 200)
        code = leads_store_delete(call, lead);
    if (code == 204) {
        int failed = leads_followups_cancel_pending(call, req->id, "lead_deleted");
        code = failed ? failed : code;
    }
    if (lead)
        crm__leads__lead__free_unpacked(lead, NULL);
    return code;
}

//  Whether the caller may make the move of lead from from_outcome into to_stage
//  (to_outcome): 0, 422 naming status, or 403 (reopening needs a manager).
static int s_move_allowed(crm_call_t *call, const Crm__Leads__Lead *lead, const char *from_outcome,
                          const char *to_stage, const char *to_outcome, bool *reopened) {
    switch (leads_move_check(lead->status, from_outcome, to_stage, to_outcome)) {
    case LEADS_MOVE_SAME:
        crm_call_field_error(call, "status", "the lead is already in stage %s", to_stage);
        crm_call_error(call, "illegal_transition", "the lead is already in stage %s", to_stage);
        return 422;
    case LEADS_MOVE_CLOSED:
        crm_call_field_error(call, "status",
                             "a closed lead (stage %s) moves only back into an open stage",
                             lead->status);
        crm_call_error(call, "illegal_transition",
                       "a %s lead cannot move to another closed stage; reopen it first",
                       from_outcome);
        return 422;
    case LEADS_MOVE_REOPEN:
        *reopened = true;
        if (!leads_role_may_reopen(call->header->role)) {
            crm_call_error(call, "forbidden",
                           "reopening a closed lead needs the manager or admin role");
            return 403;
        }
        return 0;
    case LEADS_MOVE_OK:
        break;
    }
    return 0;
}

//  After a move that closed the lead: its pending follow-ups cancelled, a lost lead's
//  long-term follow-up scheduled, and LeadUpdated when its followUpAt changed.
static int s_after_close(crm_call_t *call, const Crm__Leads__ChangeLeadStatusRequest *req,
                         const char *to_outcome, const char *follow_up_before) {
    int code = leads_followups_cancel_pending(call, req->id, "lead_closed");
    if (code == 0 && strcmp(to_outcome, "lost") == 0 && req->lost->follow_up_at[0]) {
        char note[160], reason[48];
        crm_enum_api_name(&crm__leads__lost_reason__descriptor, req->lost->reason, reason,
                          sizeof reason);
        snprintf(note, sizeof note, "Long-term follow-up of a lead lost (%s)", reason);
        code = leads_followups_long_term(call, req->id, req->lost->follow_up_at, note);
    }
    if (code == 0) // its follow-ups went or came
        code = leads_store_announce(call, req->id, "followUpAt", follow_up_before);
    return code;
}

//  ChangeStatus: a move into another stage of the pipeline (closing it as won or lost
//  with their details, or reopening it).
static int s_change_status(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    const Crm__Leads__ChangeLeadStatusRequest *req = (const void *)request;
    if (!s_lead_id_ok(call, req->id))
        return 404;
    crm_errors_t errors = {0};
    if (leads_move_request_check(req, &errors)) // check: lead.c
        return crm_call_fail(call, &errors);
    //  The details are checked on a copy (a VIN is upper-cased).
    Crm__Leads__WonDetails *won =
        req->won ? (Crm__Leads__WonDetails *)crm_pb_copy(&req->won->base) : NULL;
    Crm__Leads__Lead *lead = NULL;
    int code = leads_pipeline_ensure(call);
    if (code == 0)
        code = leads_store_get(call, req->id, true, false, &lead);
    char from_outcome[8] = "open", to_outcome[8] = "", to_name[128] = "";
    if (code == 200) {
        code = leads_stage_lookup(call, lead->status, from_outcome, NULL);
        if (code == 404) // the lead's stage is locked by the lead: cannot happen
            code = 200;
    }
    if (code == 200) {
        code = leads_stage_lookup(call, req->status, to_outcome, to_name);
        if (code == 404) {
            crm_call_field_error(call, "status", "is not a stage of the pipeline");
            code = 422;
        }
    }
    bool reopened = false;
    if (code == 200)
        code = s_move_allowed(call, lead, from_outcome, req->status, to_outcome, &reopened);
    if (code == 0 || code == 200) {
        leads_close_check(to_outcome, won, req->lost, &errors); // check: lead.c
        code = crm_call_fail(call, &errors);
    }
    if (code == 0) { // store: lead_store.c
        leads_move_args_t move = {
            .lead = lead,
            .to_stage = req->status,
            .to_outcome = to_outcome,
            .reopened = reopened,
            .note = req->note,
            .won = strcmp(to_outcome, "won") == 0 ? won : NULL,
            .lost = strcmp(to_outcome, "lost") == 0 ? req->lost : NULL,
        };
        code = leads_store_move(call, &move);
    }
    if (code == 200 && strcmp(to_outcome, "open") != 0) {
        int failed = s_after_close(call, req, to_outcome, lead->follow_up_at);
        code = failed ? failed : code;
    }
    if (code == 200) // answer
        code = leads_store_get(call, req->id, false, true, (Crm__Leads__Lead **)response);
    if (lead)
        crm__leads__lead__free_unpacked(lead, NULL);
    if (won)
        crm__leads__won_details__free_unpacked(won, NULL);
    return code;
}

//  List: the tenant's leads by filters, one order, a keyset cursor; assigneeId=me is the
//  caller's own member ("my leads").
static int s_list(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    const Crm__Leads__ListLeadsRequest *in = (const void *)request;
    Crm__Leads__ListLeadsRequest req = *in;
    leads_list_t list;
    crm_errors_t errors = {0};
    if (leads_list_check(&req, &list, &errors)) // check: lead.c
        return crm_call_fail(call, &errors);
    req.created_from = list.created_from;
    req.created_to = list.created_to;
    char me[40];
    if (strcmp(req.assignee_id, "me") == 0) {
        int code = leads_member_of_actor(call, me);
        if (code)
            return code;
        if (!me[0]) { // not a member: none of the leads is the caller's
            Crm__Leads__ListLeadsResponse *empty = malloc(sizeof *empty);
            crm__leads__list_leads_response__init(empty);
            *response = &empty->base;
            return 200;
        }
        req.assignee_id = me;
    }
    return leads_store_list(call, &req, list.sort, &list.cursor, list.limit, // store
                            (Crm__Leads__ListLeadsResponse **)response);
}

const crm_method_t leads_methods[] = {
    {"Create", s_create, &crm__leads__create_lead_request__descriptor, true},
    {"Get", s_get, &crm__leads__get_lead_request__descriptor, false},
    {"Update", s_update, &crm__leads__update_lead_request__descriptor, true},
    {"Delete", s_delete, &crm__leads__delete_lead_request__descriptor, true},
    {"List", s_list, &crm__leads__list_leads_request__descriptor, false},
    {"CreateFromChat", leads_from_chat, &crm__leads__create_lead_from_chat_request__descriptor,
     true},
    {"ChangeStatus", s_change_status, &crm__leads__change_lead_status_request__descriptor, true},
    {"ListStages", leads_stage_list, &crm__leads__list_stages_request__descriptor, false},
    {"CreateStage", leads_stage_create, &crm__leads__create_stage_request__descriptor, true},
    {"UpdateStage", leads_stage_update, &crm__leads__update_stage_request__descriptor, true},
    {"DeleteStage", leads_stage_delete, &crm__leads__delete_stage_request__descriptor, true},
    {"CreateActivity", leads_activity_create, &crm__leads__create_activity_request__descriptor,
     true},
    {"UpdateActivity", leads_activity_update, &crm__leads__update_activity_request__descriptor,
     true},
    {"ListActivities", leads_activity_list, &crm__leads__list_activities_request__descriptor,
     false},
    {"GetTimeline", leads_timeline, &crm__leads__get_timeline_request__descriptor, false},
    {"HotSheet", leads_hot_sheet, &crm__leads__hot_sheet_request__descriptor, false},
    {"ListTeamMembers", leads_member_list, &crm__leads__list_team_members_request__descriptor,
     false},
    {"GetTeamMember", leads_member_get, &crm__leads__get_team_member_request__descriptor, false},
    {"CreateTeamMember", leads_member_create, &crm__leads__create_team_member_request__descriptor,
     true},
    {"UpdateTeamMember", leads_member_update, &crm__leads__update_team_member_request__descriptor,
     true},
    {"DeleteTeamMember", leads_member_delete, &crm__leads__delete_team_member_request__descriptor,
     true},
    {"ListAssignmentRules", leads_rule_list, &crm__leads__list_assignment_rules_request__descriptor,
     false},
    {"GetAssignmentRule", leads_rule_get, &crm__leads__get_assignment_rule_request__descriptor,
     false},
    {"CreateAssignmentRule", leads_rule_create,
     &crm__leads__create_assignment_rule_request__descriptor, true},
    {"UpdateAssignmentRule", leads_rule_update,
     &crm__leads__update_assignment_rule_request__descriptor, true},
    {"DeleteAssignmentRule", leads_rule_delete,
     &crm__leads__delete_assignment_rule_request__descriptor, true},
    {"Assign", leads_assign_manual, &crm__leads__assign_lead_request__descriptor, true},
    {"ListAssignments", leads_assignments_list, &crm__leads__list_assignments_request__descriptor,
     false},
    {"CreateFollowUp", leads_followup_create, &crm__leads__create_follow_up_request__descriptor,
     true},
    {"UpdateFollowUp", leads_followup_update, &crm__leads__update_follow_up_request__descriptor,
     true},
    {"ListFollowUps", leads_followup_list, &crm__leads__list_follow_ups_request__descriptor, false},
    {"GetFollowUp", leads_followup_get, &crm__leads__get_follow_up_request__descriptor, false},
    {"GetSettings", leads_settings_get, &crm__leads__get_pipeline_settings_request__descriptor,
     false},
    {"UpdateSettings", leads_settings_update,
     &crm__leads__update_pipeline_settings_request__descriptor, true},
    //  The leads' events for whoever missed some (common/replay.c).
    CRM_EVENTS_REPLAY_METHOD,
    {NULL, NULL, NULL, false},
};
