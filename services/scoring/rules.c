/*  rules: a lead's score under a model, as of a given time. Pure: no database, no clock
    (now is an argument), so a score as of T is a function of the model and the facts
    the events up to T gave, and tests/unit/test_scoring_rules.c states every rule, cap,
    boundary and the decay by example.

    Each rule gives raw points: a fit rule its points when its fact holds; an engagement
    rule its points for each signal of its fact up to now, each weighed 0.5^(age /
    half-life); quiet its points when the lead's last signal (or its creation) is at
    least after_days old. The raw points are held to the rule's cap (either way) and
    rounded to whole points; a group whose rules add more than its cap shows the cut as
    "<group>_cap"; a total outside 0-100 shows the cut as "clamp". The contributions'
    points therefore add up exactly to the score.
*/
#include "scoring.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const scoring_group_names[SCORING_GROUP_COUNT] = {"fit", "engagement"};

#define FIT SCORING_GROUP_FIT
#define ENG SCORING_GROUP_ENGAGEMENT
const scoring_fact_info_t scoring_facts[SCORING_FACT_COUNT] = {
    [SCORING_FACT_BUDGET_GIVEN] = {"budget_given", FIT, false},
    [SCORING_FACT_BUDGET_QUALIFIED] = {"budget_qualified", FIT, false},
    [SCORING_FACT_TIMELINE_30_DAYS] = {"timeline_30_days", FIT, false},
    [SCORING_FACT_TIMELINE_90_DAYS] = {"timeline_90_days", FIT, false},
    [SCORING_FACT_VEHICLE_SPECIFIC] = {"vehicle_specific", FIT, false},
    [SCORING_FACT_VIN_GIVEN] = {"vin_given", FIT, false},
    [SCORING_FACT_TRADE_IN] = {"trade_in", FIT, false},
    [SCORING_FACT_FINANCING] = {"financing", FIT, false},
    [SCORING_FACT_CREDIT_APPLICATION] = {"credit_application", FIT, false},
    [SCORING_FACT_SOURCE_CHAT] = {"source_chat", FIT, false},
    [SCORING_FACT_SOURCE_PHONE] = {"source_phone", FIT, false},
    [SCORING_FACT_SOURCE_WALK_IN] = {"source_walk_in", FIT, false},
    [SCORING_FACT_SOURCE_REFERRAL] = {"source_referral", FIT, false},
    [SCORING_FACT_SOURCE_THIRD_PARTY] = {"source_third_party", FIT, false},
    [SCORING_FACT_SOURCE_WEB_FORM] = {"source_web_form", FIT, false},
    [SCORING_FACT_CONTACT_REACHABLE] = {"contact_reachable", FIT, false},
    [SCORING_FACT_INBOUND_REPLY] = {"inbound_reply", ENG, true},
    [SCORING_FACT_CHAT] = {"chat", ENG, true},
    [SCORING_FACT_CALL_CONNECTED] = {"call_connected", ENG, true},
    [SCORING_FACT_MEETING] = {"meeting", ENG, true},
    [SCORING_FACT_APPOINTMENT_BOOKED] = {"appointment_booked", ENG, true},
    [SCORING_FACT_APPOINTMENT_SHOWN] = {"appointment_shown", ENG, true},
    [SCORING_FACT_TEST_DRIVE_BOOKED] = {"test_drive_booked", ENG, true},
    [SCORING_FACT_TEST_DRIVE_SHOWN] = {"test_drive_shown", ENG, true},
    [SCORING_FACT_NO_SHOW] = {"no_show", ENG, true},
    [SCORING_FACT_EMAIL_CLICK] = {"email_click", ENG, true},
    [SCORING_FACT_QUIET] = {"quiet", ENG, false},
};
#undef FIT
#undef ENG

int scoring_fact_by_name(const char *name) {
    for (int i = 0; i < SCORING_FACT_COUNT; i++)
        if (name && strcmp(scoring_facts[i].name, name) == 0)
            return i;
    return -1;
}

Crm__Scoring__Band scoring_band(const scoring_model_t *model, int score) {
    if (score >= model->hot)
        return CRM__SCORING__BAND__BAND_HOT;
    if (score >= model->medium)
        return CRM__SCORING__BAND__BAND_MEDIUM;
    return CRM__SCORING__BAND__BAND_COLD;
}

static scoring_contribution_t *s_add(scoring_result_t *out, const char *rule,
                                     scoring_group_t group, int points) {
    assert(out->n_contributions <
           sizeof out->contributions / sizeof out->contributions[0]);
    scoring_contribution_t *c = &out->contributions[out->n_contributions++];
    snprintf(c->rule, sizeof c->rule, "%s", rule);
    c->group = group;
    c->points = points;
    return c;
}

//  A rule's raw points (before its cap) and how many occurrences made them.
static double s_raw(const scoring_model_t *model, const scoring_rule_t *rule,
                    const scoring_input_t *in, int64_t now, int *count) {
    *count = 0;
    if (!scoring_facts[rule->fact].signal && rule->fact != SCORING_FACT_QUIET) {
        if (in->fit & (1ull << rule->fact)) {
            *count = 1;
            return rule->points;
        }
        return 0;
    }
    if (rule->fact == SCORING_FACT_QUIET) {
        int64_t last = in->created_at;
        for (size_t i = 0; i < in->n_signals; i++)
            if (in->signals[i].at <= now && in->signals[i].at > last)
                last = in->signals[i].at;
        if (now - last >= (int64_t)rule->after_days * 86400) {
            *count = 1;
            return rule->points;
        }
        return 0;
    }
    double sum = 0;
    for (size_t i = 0; i < in->n_signals; i++) {
        const scoring_signal_t *s = &in->signals[i];
        if (s->fact != rule->fact || s->at > now)
            continue;
        double weight = 1;
        if (model->half_life_days > 0)
            weight = pow(0.5, (double)(now - s->at) / 86400.0 / model->half_life_days);
        sum += rule->points * weight;
        (*count)++;
    }
    return sum;
}

void scoring_evaluate(const scoring_model_t *model, const scoring_input_t *in, int64_t now,
                      scoring_result_t *out) {
    out->n_contributions = 0;
    int group_sum[SCORING_GROUP_COUNT] = {0};
    for (size_t r = 0; r < model->n_rules; r++) {
        const scoring_rule_t *rule = &model->rules[r];
        int count;
        double raw = s_raw(model, rule, in, now, &count);
        if (raw > rule->cap)
            raw = rule->cap;
        if (raw < -rule->cap)
            raw = -rule->cap;
        int points = (int)lround(raw);
        if (points == 0)
            continue;
        scoring_contribution_t *c = s_add(out, rule->name, rule->group, points);
        if (count > 1)
            snprintf(c->reason, sizeof c->reason, "%s (x%d): %+d", rule->reason, count, points);
        else
            snprintf(c->reason, sizeof c->reason, "%s: %+d", rule->reason, points);
        group_sum[rule->group] += points;
    }
    int total = 0;
    for (int g = 0; g < SCORING_GROUP_COUNT; g++) {
        if (group_sum[g] > model->group_cap[g]) {
            int cut = model->group_cap[g] - group_sum[g];
            char name[32];
            snprintf(name, sizeof name, "%s_cap", scoring_group_names[g]);
            scoring_contribution_t *c = s_add(out, name, (scoring_group_t)g, cut);
            snprintf(c->reason, sizeof c->reason, "%s capped at %d: %+d", scoring_group_names[g],
                     model->group_cap[g], cut);
            group_sum[g] += cut;
        }
        total += group_sum[g];
    }
    int clamped = total < 0 ? 0 : total > 100 ? 100 : total;
    if (clamped != total) {
        scoring_contribution_t *c = s_add(out, "clamp", SCORING_GROUP_COUNT, clamped - total);
        snprintf(c->reason, sizeof c->reason, "score held to %d: %+d", clamped, clamped - total);
    }
    out->score = clamped;
    out->band = scoring_band(model, clamped);
}

Crm__Scoring__Score *scoring_score_new(const char *lead_id, const scoring_result_t *result,
                                       const char *model_version, const char *computed_at) {
    Crm__Scoring__Score *score = malloc(sizeof *score);
    assert(score);
    crm__scoring__score__init(score);
    score->lead_id = strdup(lead_id);
    score->score = result->score;
    score->band = result->band;
    score->model_version = strdup(model_version);
    score->computed_at = strdup(computed_at);
    score->contributions = calloc(result->n_contributions + 1, sizeof *score->contributions);
    assert(score->contributions);
    for (size_t i = 0; i < result->n_contributions; i++) {
        const scoring_contribution_t *from = &result->contributions[i];
        Crm__Scoring__Contribution *c = malloc(sizeof *c);
        assert(c);
        crm__scoring__contribution__init(c);
        c->rule = strdup(from->rule);
        c->group = strdup(from->group < SCORING_GROUP_COUNT ? scoring_group_names[from->group]
                                                            : "total");
        c->points = from->points;
        c->reason = strdup(from->reason);
        score->contributions[score->n_contributions++] = c;
    }
    return score;
}

int64_t scoring_time_parse(const char *text) {
    if (!text || !*text)
        return 0;
    struct tm tm = {0};
    const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return 0;
    int64_t t = (int64_t)timegm(&tm);
    if (*rest == '.')
        while (*++rest >= '0' && *rest <= '9')
            ;
    if (*rest == '+' || *rest == '-') {
        int hours = 0, minutes = 0;
        if (sscanf(rest + 1, "%2d:%2d", &hours, &minutes) == 2) {
            int64_t offset = hours * 3600 + minutes * 60;
            t += *rest == '+' ? -offset : offset;
        }
    }
    return t;
}

void scoring_time_format(int64_t t, char *out, size_t size) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
