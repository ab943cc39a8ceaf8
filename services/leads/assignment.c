/*  assignment: the rules of assignment (no database, no call): what an assignment rule
    may hold, which members a rule selects for a lead (the pure half of automatic
    assignment: assignment_store.c loads the candidates and counts the round robin's
    turns), and what a manual assignment's request needs. Unit-tested in
    tests/unit/test_leads_assign.c and tests/unit/test_leads_assignment.c. */
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "validate.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool s_has_condition(const Crm__Leads__TeamMember *member,
                            Crm__Leads__VehicleCondition condition) {
    for (size_t i = 0; i < member->n_conditions; i++)
        if (member->conditions[i] == condition)
            return true;
    return false;
}

static bool s_has_text(char **items, size_t n, const char *value) {
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(items[i], value) == 0)
            return true;
    return false;
}

bool leads_member_fits_specialization(const Crm__Leads__TeamMember *member,
                                      const Crm__Leads__Lead *lead) {
    bool banded = member->price_min_cents > 0 || member->price_max_cents > 0;
    if (member->n_conditions == 0 && member->n_makes == 0 && !banded)
        return false; // not a specialist
    const Crm__Leads__VehicleInterest *v = lead->vehicle;
    if (member->n_conditions > 0 &&
        (!v || v->condition == CRM__LEADS__VEHICLE_CONDITION__VEHICLE_CONDITION_UNSPECIFIED ||
         !s_has_condition(member, v->condition)))
        return false;
    if (member->n_makes > 0 &&
        (!v || !v->make[0] || !s_has_text(member->makes, member->n_makes, v->make)))
        return false;
    if (banded) {
        //  The lead's budget [min, max] (max 0: just min) must meet the member's band.
        int64_t low = lead->budget_min_cents;
        int64_t high = lead->budget_max_cents ? lead->budget_max_cents : lead->budget_min_cents;
        if (high <= 0)
            return false; // no budget given
        if (high < member->price_min_cents)
            return false;
        if (member->price_max_cents > 0 && low > member->price_max_cents)
            return false;
    }
    return true;
}

bool leads_member_covers_territory(const Crm__Leads__TeamMember *member,
                                   const Crm__Leads__Lead *lead) {
    if (lead->postcode[0])
        for (size_t i = 0; i < member->n_postcode_prefixes; i++) {
            const char *prefix = member->postcode_prefixes[i];
            if (prefix[0] && strncmp(lead->postcode, prefix, strlen(prefix)) == 0)
                return true;
        }
    return lead->region[0] && s_has_text(member->regions, member->n_regions, lead->region);
}

static bool s_available(const Crm__Leads__TeamMember *member) {
    return member->available_set_case != CRM__LEADS__TEAM_MEMBER__AVAILABLE_SET_AVAILABLE ||
           member->available;
}

bool leads_rule_selects(const Crm__Leads__AssignmentRule *rule,
                        const Crm__Leads__TeamMember *member, bool in_hours,
                        const Crm__Leads__Lead *lead) {
    if (!member->active)
        return false;
    if (rule->n_member_ids > 0 && !s_has_text(rule->member_ids, rule->n_member_ids, member->id))
        return false;
    if (rule->online_only && !s_available(member))
        return false;
    if (rule->within_working_hours && !in_hours)
        return false;
    switch (rule->kind) {
    case CRM__LEADS__ASSIGNMENT_RULE_KIND__ASSIGNMENT_RULE_KIND_ROUND_ROBIN:
        return true;
    case CRM__LEADS__ASSIGNMENT_RULE_KIND__ASSIGNMENT_RULE_KIND_SPECIALIZATION:
        return leads_member_fits_specialization(member, lead);
    case CRM__LEADS__ASSIGNMENT_RULE_KIND__ASSIGNMENT_RULE_KIND_TERRITORY:
        return leads_member_covers_territory(member, lead);
    case CRM__LEADS__ASSIGNMENT_RULE_KIND__ASSIGNMENT_RULE_KIND_AVAILABILITY:
        return s_available(member);
    default:
        return false;
    }
}

// --- an assignment rule's fields ---------------------------------------------------------

#define RULE_NAME_MAX_LEN 100
#define RULE_MEMBERS_MAX 200
#define NOTE_MAX_LEN 1000

int leads_assignment_rule_check(Crm__Leads__AssignmentRule *rule, crm_errors_t *errors) {
    size_t before = errors->n;
    crm_text_trim(rule->name);
    if (crm_text_blank(rule->name))
        crm_errors_add(errors, "name", "is required");
    else if (crm_utf8_chars(rule->name) > RULE_NAME_MAX_LEN)
        crm_errors_add(errors, "name", "must be at most %d characters", RULE_NAME_MAX_LEN);
    if (rule->kind == CRM__LEADS__ASSIGNMENT_RULE_KIND__ASSIGNMENT_RULE_KIND_UNSPECIFIED)
        crm_errors_add(errors, "kind",
                       "is required: round_robin, specialization, territory or availability");
    if (rule->n_member_ids > RULE_MEMBERS_MAX)
        crm_errors_add(errors, "memberIds", "may hold at most %d members", RULE_MEMBERS_MAX);
    for (size_t i = 0; i < rule->n_member_ids && i < RULE_MEMBERS_MAX; i++)
        if (!crm_uuid_valid(rule->member_ids[i])) {
            char path[48];
            snprintf(path, sizeof path, "memberIds[%zu]", i);
            crm_errors_add(errors, path, "is not a team member of this dealership");
        }
    if (errors->n > before)
        return -1;
    //  Without repeats, in the order given.
    size_t n = 0;
    for (size_t i = 0; i < rule->n_member_ids; i++) {
        bool seen = false;
        for (size_t j = 0; j < n && !seen; j++)
            seen = strcasecmp(rule->member_ids[j], rule->member_ids[i]) == 0;
        if (seen)
            free(rule->member_ids[i]);
        else
            rule->member_ids[n++] = rule->member_ids[i];
    }
    rule->n_member_ids = n;
    return 0;
}

int leads_assignment_rule_mask_check(const Crm__Leads__UpdateAssignmentRuleRequest *req,
                                     leads_rule_fields_t *set, crm_errors_t *errors) {
    size_t before = errors->n;
    static const char *const changeable[] = {"name",       "kind",        "position",
                                             "member_ids", "online_only", "within_working_hours"};
    bool *flags[] = {&set->name,       &set->kind,        &set->position,
                     &set->member_ids, &set->online_only, &set->within_working_hours};
    memset(set, 0, sizeof *set);
    for (size_t i = 0; i < req->n_update_mask; i++) {
        const ProtobufCFieldDescriptor *f =
            crm_pb_field_by_name(&crm__leads__assignment_rule__descriptor, req->update_mask[i]);
        bool known = false;
        for (size_t j = 0; f && req->rule && j < 6; j++)
            if (strcmp(f->name, changeable[j]) == 0)
                *flags[j] = known = true;
        if (!f || !req->rule)
            crm_errors_add(errors, req->update_mask[i], "is not a field of an assignment rule");
        else if (!known)
            crm_errors_add(errors, req->update_mask[i], "cannot be changed");
    }
    if (set->position && req->rule->position == 0)
        crm_errors_add(errors, "position", "must be 1 or more");
    return errors->n > before ? -1 : 0;
}

void leads_assignment_rule_patch(Crm__Leads__AssignmentRule *rule,
                                 const Crm__Leads__AssignmentRule *in,
                                 const leads_rule_fields_t *set) {
    if (set->name)
        crm_pb_string_set(&rule->name, in->name);
    if (set->kind)
        rule->kind = in->kind;
    if (set->member_ids) {
        for (size_t i = 0; i < rule->n_member_ids; i++)
            free(rule->member_ids[i]);
        free(rule->member_ids);
        rule->n_member_ids = in->n_member_ids;
        rule->member_ids = calloc(in->n_member_ids + 1, sizeof *rule->member_ids);
        for (size_t i = 0; i < in->n_member_ids; i++)
            rule->member_ids[i] = strdup(in->member_ids[i]);
    }
    if (set->online_only)
        rule->online_only = in->online_only;
    if (set->within_working_hours)
        rule->within_working_hours = in->within_working_hours;
}

// --- a manual assignment ------------------------------------------------------------------

int leads_assign_request_check(const Crm__Leads__AssignLeadRequest *req, crm_errors_t *errors) {
    size_t before = errors->n;
    if (!req->assignee_id[0])
        crm_errors_add(errors, "assigneeId", "is required: the id of a team member");
    if (crm_utf8_chars(req->note) > NOTE_MAX_LEN)
        crm_errors_add(errors, "note", "must be at most %d characters", NOTE_MAX_LEN);
    return errors->n > before ? -1 : 0;
}
