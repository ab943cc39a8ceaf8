/*  team_rules: the pure rules of the sales team and of assignment — which members a rule
    selects for a lead, and the forms of working hours and postcodes. No database:
    unit-tested in tests/unit/test_leads_assign.c. */
#include "leads.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int leads_hhmm_parse(const char *text, int *minutes) {
    if (!text || strlen(text) != 5 || text[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && !isdigit((unsigned char)text[i]))
            return -1;
    int h = (text[0] - '0') * 10 + (text[1] - '0');
    int m = (text[3] - '0') * 10 + (text[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return -1;
    *minutes = h * 60 + m;
    return 0;
}

int leads_postcode_normalize(const char *text, char *out, size_t size) {
    size_t n = 0;
    if (size == 0)
        return -1;
    out[0] = 0;
    for (const char *p = text; *p; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        if (!isalnum((unsigned char)*p) || n + 1 >= size)
            return -1;
        out[n++] = (char)toupper((unsigned char)*p);
    }
    out[n] = 0;
    return n ? 0 : -1;
}

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
    if (member->n_makes > 0 && (!v || !v->make[0] || !s_has_text(member->makes, member->n_makes,
                                                                   v->make)))
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
