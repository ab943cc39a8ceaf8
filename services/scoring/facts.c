/*  facts: what scoring keeps of a lead (crm.scoring.LeadFacts), made from the events.
    Pure: follow.c reads and stores them (lead_store.c), these functions change them.

    Fit facts come from the lead as LeadCreated and LeadUpdated carry it: budget_given (a
    minimum or maximum), timeline_30_days (immediate, within a month), timeline_90_days
    (within three months), vehicle_specific (make and model), vin_given, the source, and
    three facts the lead holds in its custom fields until it has fields of its own:
    trade_in (any value), financing ("finance" or "lease") and credit_application (any
    value). budget_qualified is a budget on a lead that has been in the qualified stage
    (or test_drive, negotiation). contact_reachable comes from the contacts' events.

    Engagement signals come from the activities: an inbound email or text
    (inbound_reply), a chat, a connected call, a meeting, an appointment or test drive
    booked (scheduled or completed), shown (completed) or missed (no_show, which takes
    the booking's place; cancelled leaves nothing); and from the notify events: a click
    in an email (email_click; opens, by people or machines, are not engagement). A
    signal's time is when it was logged, or the activity's own time when that is earlier.
*/
#include "scoring.h"
#include "json_pb.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_fit_add(Crm__Scoring__LeadFacts *facts, scoring_fact_t fact) {
    facts->fit = realloc(facts->fit, (facts->n_fit + 1) * sizeof *facts->fit);
    assert(facts->fit);
    facts->fit[facts->n_fit++] = strdup(scoring_facts[fact].name);
}

static const char *s_custom(const Crm__Leads__Lead *lead, const char *key) {
    for (size_t i = 0; i < lead->n_custom_fields; i++)
        if (strcmp(lead->custom_fields[i]->key, key) == 0)
            return lead->custom_fields[i]->value;
    return NULL;
}

void scoring_facts_from_lead(Crm__Scoring__LeadFacts *facts, const Crm__Leads__Lead *lead) {
    for (size_t i = 0; i < facts->n_fit; i++)
        free(facts->fit[i]);
    free(facts->fit);
    facts->fit = NULL;
    facts->n_fit = 0;
    crm_pb_string_set(&facts->lead_id, lead->id);
    crm_pb_string_set(&facts->contact_id, lead->contact_id);
    if (lead->created_at && *lead->created_at)
        crm_pb_string_set(&facts->created_at, lead->created_at);
    bool budget = lead->budget_min_cents > 0 || lead->budget_max_cents > 0;
    if (budget)
        s_fit_add(facts, SCORING_FACT_BUDGET_GIVEN);
    if (budget && facts->qualified)
        s_fit_add(facts, SCORING_FACT_BUDGET_QUALIFIED);
    if (lead->timeline == CRM__LEADS__TIMELINE__TIMELINE_IMMEDIATE ||
        lead->timeline == CRM__LEADS__TIMELINE__TIMELINE_WITHIN_MONTH)
        s_fit_add(facts, SCORING_FACT_TIMELINE_30_DAYS);
    if (lead->timeline == CRM__LEADS__TIMELINE__TIMELINE_WITHIN_3_MONTHS)
        s_fit_add(facts, SCORING_FACT_TIMELINE_90_DAYS);
    const Crm__Leads__VehicleInterest *v = lead->vehicle;
    if (v && v->make && *v->make && v->model && *v->model)
        s_fit_add(facts, SCORING_FACT_VEHICLE_SPECIFIC);
    if (v && v->vin && *v->vin)
        s_fit_add(facts, SCORING_FACT_VIN_GIVEN);
    const char *trade = s_custom(lead, "trade_in");
    if (trade && *trade)
        s_fit_add(facts, SCORING_FACT_TRADE_IN);
    const char *financing = s_custom(lead, "financing");
    if (financing && (strcmp(financing, "finance") == 0 || strcmp(financing, "lease") == 0))
        s_fit_add(facts, SCORING_FACT_FINANCING);
    const char *credit = s_custom(lead, "credit_application");
    if (credit && *credit)
        s_fit_add(facts, SCORING_FACT_CREDIT_APPLICATION);
    static const struct {
        Crm__Leads__LeadSource source;
        scoring_fact_t fact;
    } sources[] = {
        {CRM__LEADS__LEAD_SOURCE__LEAD_SOURCE_CHAT, SCORING_FACT_SOURCE_CHAT},
        {CRM__LEADS__LEAD_SOURCE__LEAD_SOURCE_PHONE, SCORING_FACT_SOURCE_PHONE},
        {CRM__LEADS__LEAD_SOURCE__LEAD_SOURCE_WALK_IN, SCORING_FACT_SOURCE_WALK_IN},
        {CRM__LEADS__LEAD_SOURCE__LEAD_SOURCE_REFERRAL, SCORING_FACT_SOURCE_REFERRAL},
        {CRM__LEADS__LEAD_SOURCE__LEAD_SOURCE_THIRD_PARTY, SCORING_FACT_SOURCE_THIRD_PARTY},
        {CRM__LEADS__LEAD_SOURCE__LEAD_SOURCE_WEB_FORM, SCORING_FACT_SOURCE_WEB_FORM},
    };
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++)
        if (lead->source == sources[i].source)
            s_fit_add(facts, sources[i].fact);
}

//  Remove the signals whose id starts with prefix and then ':' (or is prefix).
static bool s_remove_prefix(Crm__Scoring__LeadFacts *facts, const char *prefix) {
    size_t len = strlen(prefix), kept = 0;
    bool removed = false;
    for (size_t i = 0; i < facts->n_signals; i++) {
        Crm__Scoring__Signal *s = facts->signals[i];
        if (strncmp(s->id, prefix, len) == 0 && (s->id[len] == ':' || s->id[len] == 0)) {
            crm__scoring__signal__free_unpacked(s, NULL);
            removed = true;
        } else
            facts->signals[kept++] = s;
    }
    facts->n_signals = kept;
    return removed;
}

static bool s_has(const Crm__Scoring__LeadFacts *facts, const char *id, const char *fact,
                  const char *at) {
    for (size_t i = 0; i < facts->n_signals; i++) {
        const Crm__Scoring__Signal *s = facts->signals[i];
        if (strcmp(s->id, id) == 0)
            return strcmp(s->fact, fact) == 0 && strcmp(s->at, at) == 0;
    }
    return false;
}

bool scoring_facts_signal(Crm__Scoring__LeadFacts *facts, const char *id, const char *fact,
                          const char *at) {
    if (s_has(facts, id, fact, at))
        return false;
    s_remove_prefix(facts, id);
    if (facts->n_signals >= SCORING_SIGNALS_MAX) { // the oldest goes
        size_t oldest = 0;
        for (size_t i = 1; i < facts->n_signals; i++)
            if (strcmp(facts->signals[i]->at, facts->signals[oldest]->at) < 0)
                oldest = i;
        crm__scoring__signal__free_unpacked(facts->signals[oldest], NULL);
        facts->signals[oldest] = facts->signals[--facts->n_signals];
    }
    Crm__Scoring__Signal *s = malloc(sizeof *s);
    assert(s);
    crm__scoring__signal__init(s);
    s->id = strdup(id);
    s->fact = strdup(fact);
    s->at = strdup(at);
    facts->signals = realloc(facts->signals, (facts->n_signals + 1) * sizeof *facts->signals);
    assert(facts->signals);
    facts->signals[facts->n_signals++] = s;
    return true;
}

bool scoring_facts_activity(Crm__Scoring__LeadFacts *facts,
                            const Crm__Events__LeadActivityLogged *a, const char *at) {
    //  The facts this activity gives now, with their id suffixes.
    const char *wanted[2][2] = {{NULL, NULL}, {NULL, NULL}};
    const char *kind = a->kind ? a->kind : "", *outcome = a->outcome ? a->outcome : "";
    bool appointment = strcmp(kind, "appointment") == 0, drive = strcmp(kind, "test_drive") == 0;
    if (strcmp(kind, "chat") == 0)
        wanted[0][0] = "chat";
    else if (strcmp(kind, "meeting") == 0)
        wanted[0][0] = "meeting";
    else if (strcmp(kind, "call") == 0 && strcmp(outcome, "connected") == 0)
        wanted[0][0] = "call_connected";
    else if ((strcmp(kind, "email") == 0 || strcmp(kind, "sms") == 0) &&
             a->direction && strcmp(a->direction, "inbound") == 0)
        wanted[0][0] = "inbound_reply";
    else if (appointment || drive) {
        if (strcmp(outcome, "no_show") == 0)
            wanted[0][0] = "no_show";
        else if (strcmp(outcome, "cancelled") != 0) {
            wanted[0][0] = appointment ? "appointment_booked" : "test_drive_booked";
            if (strcmp(outcome, "completed") == 0)
                wanted[1][0] = appointment ? "appointment_shown" : "test_drive_shown";
        }
    }
    //  The activity's own time when earlier than the log's (a call logged afterwards);
    //  a booking counts from when it was made, never from the appointment's time.
    char when[40];
    snprintf(when, sizeof when, "%s", at);
    if (a->occurred_at && *a->occurred_at &&
        scoring_time_parse(a->occurred_at) < scoring_time_parse(at))
        snprintf(when, sizeof when, "%s", a->occurred_at);
    bool changed = false;
    char ids[2][96];
    size_t n = 0;
    for (int i = 0; i < 2; i++)
        if (wanted[i][0]) {
            snprintf(ids[i], sizeof ids[i], "%s:%d", a->activity_id, i);
            n++;
        }
    //  Unchanged when each wanted signal is there as it is and nothing else is.
    size_t present = 0;
    size_t len = strlen(a->activity_id);
    for (size_t i = 0; i < facts->n_signals; i++)
        if (strncmp(facts->signals[i]->id, a->activity_id, len) == 0 &&
            facts->signals[i]->id[len] == ':')
            present++;
    bool same = present == n;
    for (int i = 0; i < 2 && same; i++)
        if (wanted[i][0]) {
            //  A signal that stays keeps its time (a test drive shown later stays booked
            //  when it was).
            bool found = false;
            for (size_t j = 0; j < facts->n_signals; j++)
                if (strcmp(facts->signals[j]->id, ids[i]) == 0)
                    found = strcmp(facts->signals[j]->fact, wanted[i][0]) == 0;
            same = found;
        }
    if (same)
        return false;
    //  Keep the times of the signals that stay the same fact.
    char kept_at[2][40] = {"", ""};
    for (int i = 0; i < 2; i++)
        if (wanted[i][0])
            for (size_t j = 0; j < facts->n_signals; j++)
                if (strcmp(facts->signals[j]->id, ids[i]) == 0 &&
                    strcmp(facts->signals[j]->fact, wanted[i][0]) == 0)
                    snprintf(kept_at[i], sizeof kept_at[i], "%s", facts->signals[j]->at);
    changed = s_remove_prefix(facts, a->activity_id);
    for (int i = 0; i < 2; i++)
        if (wanted[i][0])
            changed |= scoring_facts_signal(facts, ids[i], wanted[i][0],
                                            *kept_at[i] ? kept_at[i] : when);
    return changed;
}

void scoring_facts_input(const Crm__Scoring__LeadFacts *facts, scoring_input_t *in) {
    in->fit = 0;
    for (size_t i = 0; i < facts->n_fit; i++) {
        int fact = scoring_fact_by_name(facts->fit[i]);
        if (fact >= 0 && !scoring_facts[fact].signal)
            in->fit |= 1ull << fact;
    }
    if (facts->contact_reachable)
        in->fit |= 1ull << SCORING_FACT_CONTACT_REACHABLE;
    in->created_at = scoring_time_parse(facts->created_at);
    in->n_signals = 0;
    for (size_t i = 0; i < facts->n_signals && in->n_signals < SCORING_SIGNALS_MAX; i++) {
        int fact = scoring_fact_by_name(facts->signals[i]->fact);
        if (fact < 0 || !scoring_facts[fact].signal)
            continue;
        in->signals[in->n_signals].fact = (scoring_fact_t)fact;
        in->signals[in->n_signals++].at = scoring_time_parse(facts->signals[i]->at);
    }
}
