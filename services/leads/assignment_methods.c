/*  assignment_methods: who works a lead (rows of methods.c's table), each read top to
    bottom: decode, check (assignment.c), store (assignment_store.c), answer.

    - The tenant's assignment rules: list, get, create, update, delete. Rule changes take
      the tenant's assignment lock, so a rule is never half-changed under an assignment.
    - Assign: MANUAL assignment (POST /v1/leads/{id}/assign), a person naming the member.
    - ListAssignments: a lead's assignment history.
    - Automatic assignment (round robin by the rules) is no method: leads_assign_auto
      runs when a lead is created without an assignee (methods.c's leads_lead_create).
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

static bool s_rule_id_ok(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return true;
    crm_call_error(call, "not_found", "no such assignment rule (not a valid id)");
    return false;
}

//  GetAssignmentRule.
int leads_rule_get(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    const Crm__Leads__GetAssignmentRuleRequest *req = (const void *)request;
    if (!s_rule_id_ok(call, req->id))
        return 404;
    return leads_assignment_store_rule_read(call, req->id, (Crm__Leads__AssignmentRule **)response);
}

//  ListAssignmentRules: by position.
int leads_rule_list(crm_call_t *call, const ProtobufCMessage *request,
                    ProtobufCMessage **response) {
    (void)request;
    return leads_assignment_store_rule_list(call,
                                            (Crm__Leads__ListAssignmentRulesResponse **)response);
}

//  CreateAssignmentRule: at its position (0 or beyond the end: last).
int leads_rule_create(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response) {
    const Crm__Leads__CreateAssignmentRuleRequest *req = (const void *)request;
    if (!req->rule) {
        crm_call_field_error(call, "rule", "is required");
        return 422;
    }
    Crm__Leads__AssignmentRule *rule = (Crm__Leads__AssignmentRule *)crm_pb_copy(&req->rule->base);
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    char *members = NULL;
    crm_errors_t errors = {0};
    leads_assignment_rule_check(rule, &errors); // check: assignment.c
    int code = crm_call_fail(call, &errors);
    if (code == 0) // its members are active members (a store query)
        code = leads_assignment_store_rule_members(call, rule, &members);
    if (code == 0)
        code = leads_assignment_store_lock(call);
    if (code == 0)
        code = leads_assignment_store_rule_insert(call, id, rule, members);
    free(members);
    crm__leads__assignment_rule__free_unpacked(rule, NULL);
    if (code == 0) {
        code = leads_assignment_store_rule_read(call, id, (Crm__Leads__AssignmentRule **)response);
        if (code == 200)
            code = 201;
    }
    return code;
}

//  UpdateAssignmentRule (PATCH): the named fields; a new position moves the others.
int leads_rule_update(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response) {
    const Crm__Leads__UpdateAssignmentRuleRequest *req = (const void *)request;
    if (!s_rule_id_ok(call, req->id))
        return 404;
    leads_rule_fields_t set;
    crm_errors_t errors = {0};
    if (leads_assignment_rule_mask_check(req, &set, &errors)) // check: assignment.c
        return crm_call_fail(call, &errors);
    int code = leads_assignment_store_lock(call);
    Crm__Leads__AssignmentRule *rule = NULL;
    if (code == 0)
        code = leads_assignment_store_rule_read(call, req->id, &rule);
    char *members = NULL;
    if (code == 200) {
        leads_assignment_rule_patch(rule, req->rule, &set);
        leads_assignment_rule_check(rule, &errors);
        code = crm_call_fail(call, &errors);
    }
    //  Members already in the rule that have been deactivated since may stay; new ones
    //  must be active.
    if (code == 0 && set.member_ids)
        code = leads_assignment_store_rule_members(call, rule, &members);
    else if (code == 0)
        members = crm_db_text_array((const char *const *)rule->member_ids, rule->n_member_ids);
    if (code == 0)
        code = leads_assignment_store_rule_update(call, req->id, rule, members);
    if (code == 0 && set.position)
        code = leads_assignment_store_rule_move(call, req->id, req->rule->position);
    free(members);
    if (rule)
        crm__leads__assignment_rule__free_unpacked(rule, NULL);
    if (code == 0)
        code = leads_assignment_store_rule_read(call, req->id,
                                                (Crm__Leads__AssignmentRule **)response);
    return code;
}

//  DeleteAssignmentRule: the others close up.
int leads_rule_delete(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response) {
    (void)response;
    const Crm__Leads__DeleteAssignmentRuleRequest *req = (const void *)request;
    if (!s_rule_id_ok(call, req->id))
        return 404;
    int code = leads_assignment_store_lock(call);
    return code ? code : leads_assignment_store_rule_delete(call, req->id);
}

//  Automatic assignment of a new lead without an assignee: the tenant's rules in order
//  (assignment_store.c loads them under the tenant's lock), the first that selects an
//  eligible member (assignment.c) gives the lead to the one whose turn it is
//  (assignment_store.c's round robin). rule_id: the rule's id ("" when none chose).
int leads_assign_auto(crm_call_t *call, Crm__Leads__Lead *lead, char rule_id[40]) {
    rule_id[0] = 0;
    json_t *rules = NULL, *members = NULL;
    int code = leads_assignment_store_load(call, &rules, &members);
    if (code || !rules) {
        json_decref(members);
        return code; // failed, or no rules
    }
    size_t n_members = json_array_size(members);
    Crm__Leads__TeamMember **m = calloc(n_members + 1, sizeof *m);
    bool *in_hours = calloc(n_members + 1, sizeof *in_hours);
    char **candidates = calloc(n_members + 1, sizeof *candidates);
    for (size_t i = 0; i < n_members; i++) {
        json_t *item = json_array_get(members, i);
        crm_json_error_t err;
        m[i] = (Crm__Leads__TeamMember *)crm_json_value_to_pb(
            &crm__leads__team_member__descriptor, json_object_get(item, "member"), "", &err);
        in_hours[i] = json_is_true(json_object_get(item, "inHours"));
        if (!m[i]) {
            crm_log_kv(CRM_LOG_ERROR, "stored team member does not parse", "field", err.field,
                       "detail", err.message, NULL);
            crm_call_error(call, "internal", "stored team member is unreadable");
            code = 500;
        }
    }
    char chosen[40] = "";
    for (size_t r = 0; code == 0 && !chosen[0] && r < json_array_size(rules); r++) {
        crm_json_error_t err;
        Crm__Leads__AssignmentRule *rule = (Crm__Leads__AssignmentRule *)crm_json_value_to_pb(
            &crm__leads__assignment_rule__descriptor, json_array_get(rules, r), "", &err);
        if (!rule) {
            crm_call_error(call, "internal", "stored assignment rule is unreadable");
            code = 500;
            break;
        }
        size_t n = 0;
        for (size_t i = 0; i < n_members; i++)
            if (leads_rule_selects(rule, m[i], in_hours[i], lead))
                candidates[n++] = m[i]->id;
        if (n > 0) {
            code = leads_assignment_store_pick(call, rule->id, candidates, n, chosen);
            if (code == 0 && chosen[0])
                snprintf(rule_id, 40, "%s", rule->id);
        }
        crm__leads__assignment_rule__free_unpacked(rule, NULL);
    }
    if (code == 0 && chosen[0])
        crm_pb_string_set(&lead->assignee_id, chosen);
    for (size_t i = 0; i < n_members; i++)
        if (m[i])
            crm__leads__team_member__free_unpacked(m[i], NULL);
    free(m);
    free(in_hours);
    free(candidates);
    json_decref(rules);
    json_decref(members);
    return code;
}

//  Assign: MANUAL assignment of a lead to an active member, with its history row and
//  LeadAssigned (rule "manual"); the same member again changes nothing.
int leads_assign_manual(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Leads__AssignLeadRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such lead (not a valid lead id)");
        return 404;
    }
    crm_errors_t errors = {0};
    if (leads_assign_request_check(req, &errors)) // check: assignment.c
        return crm_call_fail(call, &errors);
    Crm__Leads__Lead *lead = NULL;
    int code = leads_store_get(call, req->id, true, false, &lead);
    if (code == 200) // an active member (a store query)
        code = leads_member_check_assignee(call, req->assignee_id, "assigneeId");
    if (code == 0 && strcmp(lead->assignee_id, req->assignee_id) != 0)
        code = leads_assignment_store_manual(call, lead, req->assignee_id, req->note);
    if (lead)
        crm__leads__lead__free_unpacked(lead, NULL);
    if (code == 0) // a salesperson may have given their lead away: answer it still
        code = leads_store_get_any(call, req->id, true, (Crm__Leads__Lead **)response);
    return code;
}

//  ListAssignments: a lead's assignment history, oldest first.
int leads_assignments_list(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    const Crm__Leads__ListAssignmentsRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such lead (not a valid lead id)");
        return 404;
    }
    return leads_assignment_store_history(call, req->id, response);
}
