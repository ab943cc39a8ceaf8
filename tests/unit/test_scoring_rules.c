/*  The scoring rules by example (services/scoring/rules.c, model.c, facts.c): each rule,
    each cap, the band boundaries, the decay over an injected clock, and the models a file
    or the API may not give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/scoring/scoring.h"

#define DAY 86400
static const int64_t T0 = 1800000000; // the injected clock's "now"

//  A model of the given rules (YAML lines after "rules:"), bands 60/30, no decay unless
//  given, caps 100.
static scoring_model_t s_model(const char *yaml) {
    char *error = NULL;
    Crm__Scoring__Model *m = scoring_model_parse_yaml(yaml, strlen(yaml), &error);
    if (!m)
        fail_msg("model refused: %s", error);
    scoring_model_t out;
    scoring_model_compile(m, "test", &out);
    crm__scoring__model__free_unpacked(m, NULL);
    return out;
}

static int s_sum(const scoring_result_t *r) {
    int sum = 0;
    for (size_t i = 0; i < r->n_contributions; i++)
        sum += r->contributions[i].points;
    return sum;
}

static scoring_result_t s_eval(const scoring_model_t *m, const scoring_input_t *in, int64_t now) {
    scoring_result_t r;
    scoring_evaluate(m, in, now, &r);
    assert_int_equal(s_sum(&r), r.score); // the points add up, always
    return r;
}

//  Every fit fact: its rule counts its points once when the fact holds, nothing otherwise.
static void test_each_fit_rule(void **state) {
    (void)state;
    for (int f = 0; f < SCORING_FACT_COUNT; f++) {
        if (scoring_facts[f].signal || f == SCORING_FACT_QUIET)
            continue;
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 "bands: {hot: 20, medium: 10}\nrules:\n"
                 "  - {name: r, fact: %s, points: 20, reason: \"why\"}\n",
                 scoring_facts[f].name);
        scoring_model_t m = s_model(yaml);
        scoring_input_t in = {.created_at = T0};
        scoring_result_t r = s_eval(&m, &in, T0);
        assert_int_equal(r.score, 0);
        assert_int_equal(r.n_contributions, 0);
        in.fit = 1ull << f;
        r = s_eval(&m, &in, T0);
        assert_int_equal(r.score, 20);
        assert_int_equal(r.band, CRM__SCORING__BAND__BAND_HOT);
        assert_string_equal(r.contributions[0].rule, "r");
        assert_string_equal(r.contributions[0].reason, "why: +20");
        assert_int_equal(r.contributions[0].group, SCORING_GROUP_FIT);
    }
}

//  Every engagement fact: each signal counts, up to the rule's cap.
static void test_each_engagement_rule_and_its_cap(void **state) {
    (void)state;
    for (int f = 0; f < SCORING_FACT_COUNT; f++) {
        if (!scoring_facts[f].signal)
            continue;
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 "bands: {hot: 20, medium: 10}\nrules:\n"
                 "  - {name: r, fact: %s, points: 8, cap: 20, reason: \"did it\"}\n",
                 scoring_facts[f].name);
        scoring_model_t m = s_model(yaml);
        scoring_input_t in = {.created_at = T0 - DAY};
        in.signals[in.n_signals++] = (scoring_signal_t){(scoring_fact_t)f, T0 - 10};
        scoring_result_t r = s_eval(&m, &in, T0);
        assert_int_equal(r.score, 8);
        assert_string_equal(r.contributions[0].reason, "did it: +8");
        in.signals[in.n_signals++] = (scoring_signal_t){(scoring_fact_t)f, T0 - 20};
        r = s_eval(&m, &in, T0);
        assert_int_equal(r.score, 16);
        assert_string_equal(r.contributions[0].reason, "did it (x2): +16");
        in.signals[in.n_signals++] = (scoring_signal_t){(scoring_fact_t)f, T0 - 30};
        r = s_eval(&m, &in, T0);
        assert_int_equal(r.score, 20); // the rule's cap
        //  Another fact's signal, and one after now, count nothing.
        in.signals[0].fact = f == SCORING_FACT_CHAT ? SCORING_FACT_MEETING : SCORING_FACT_CHAT;
        in.signals[1].at = T0 + 1;
        r = s_eval(&m, &in, T0);
        assert_int_equal(r.score, 8);
    }
}

static void test_negative_rule_and_clamp(void **state) {
    (void)state;
    scoring_model_t m = s_model("bands: {hot: 20, medium: 10}\nrules:\n"
                                "  - {name: walk, fact: source_walk_in, points: 20}\n"
                                "  - {name: missed, fact: no_show, points: -15, cap: 30,"
                                " reason: no-show}\n");
    scoring_input_t in = {.fit = 1ull << SCORING_FACT_SOURCE_WALK_IN, .created_at = T0};
    in.signals[in.n_signals++] = (scoring_signal_t){SCORING_FACT_NO_SHOW, T0};
    scoring_result_t r = s_eval(&m, &in, T0);
    assert_int_equal(r.score, 5);
    assert_string_equal(r.contributions[1].reason, "no-show: -15");
    for (int i = 0; i < 3; i++)
        in.signals[in.n_signals++] = (scoring_signal_t){SCORING_FACT_NO_SHOW, T0};
    r = s_eval(&m, &in, T0);
    //  -60 held to the cap of 30: 20 - 30 = -10, clamped to 0 (shown).
    assert_int_equal(r.score, 0);
    assert_int_equal(r.contributions[1].points, -30);
    assert_string_equal(r.contributions[2].rule, "clamp");
    assert_int_equal(r.contributions[2].points, 10);
}

static void test_group_cap(void **state) {
    (void)state;
    scoring_model_t m = s_model("bands: {hot: 20, medium: 10}\ngroups: {fit: 25}\nrules:\n"
                                "  - {name: a, fact: source_walk_in, points: 20}\n"
                                "  - {name: b, fact: budget_given, points: 15}\n"
                                "  - {name: c, fact: chat, points: 10}\n");
    scoring_input_t in = {.fit = (1ull << SCORING_FACT_SOURCE_WALK_IN) |
                                 (1ull << SCORING_FACT_BUDGET_GIVEN),
                          .created_at = T0};
    in.signals[in.n_signals++] = (scoring_signal_t){SCORING_FACT_CHAT, T0};
    scoring_result_t r = s_eval(&m, &in, T0);
    assert_int_equal(r.score, 35); // fit 35 held to 25, engagement 10
    bool seen = false;
    for (size_t i = 0; i < r.n_contributions; i++)
        if (strcmp(r.contributions[i].rule, "fit_cap") == 0) {
            assert_int_equal(r.contributions[i].points, -10);
            assert_string_equal(r.contributions[i].reason, "fit capped at 25: -10");
            seen = true;
        }
    assert_true(seen);
}

static void test_total_held_to_100(void **state) {
    (void)state;
    scoring_model_t m = s_model("rules:\n"
                                "  - {name: a, fact: source_walk_in, points: 100}\n"
                                "  - {name: b, fact: chat, points: 100}\n");
    scoring_input_t in = {.fit = 1ull << SCORING_FACT_SOURCE_WALK_IN, .created_at = T0};
    in.signals[in.n_signals++] = (scoring_signal_t){SCORING_FACT_CHAT, T0};
    scoring_result_t r = s_eval(&m, &in, T0);
    assert_int_equal(r.score, 100);
}

//  29 cold, 30 medium, 59 medium, 60 hot.
static void test_band_boundaries(void **state) {
    (void)state;
    const struct {
        int points;
        Crm__Scoring__Band band;
    } cases[] = {{29, CRM__SCORING__BAND__BAND_COLD},
                 {30, CRM__SCORING__BAND__BAND_MEDIUM},
                 {59, CRM__SCORING__BAND__BAND_MEDIUM},
                 {60, CRM__SCORING__BAND__BAND_HOT},
                 {0, CRM__SCORING__BAND__BAND_COLD}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml,
                 "rules:\n  - {name: a, fact: source_walk_in, points: %d}\n"
                 "  - {name: b, fact: chat, points: 60}\n",
                 cases[i].points ? cases[i].points : 1);
        scoring_model_t m = s_model(yaml);
        scoring_input_t in = {.fit = cases[i].points ? 1ull << SCORING_FACT_SOURCE_WALK_IN : 0,
                              .created_at = T0};
        scoring_result_t r = s_eval(&m, &in, T0);
        assert_int_equal(r.score, cases[i].points);
        assert_int_equal(r.band, cases[i].band);
    }
}

//  A signal halves every half-life on the injected clock; the same input as of the same
//  time gives the same score (deterministic).
static void test_decay_over_injected_clock(void **state) {
    (void)state;
    scoring_model_t m = s_model("decay: {half_life_days: 14}\nrules:\n"
                                "  - {name: td, fact: test_drive_booked, points: 40, cap: 40}\n"
                                "  - {name: w, fact: source_walk_in, points: 30}\n");
    scoring_input_t in = {.created_at = T0};
    in.signals[in.n_signals++] = (scoring_signal_t){SCORING_FACT_TEST_DRIVE_BOOKED, T0};
    assert_int_equal(s_eval(&m, &in, T0).score, 40);
    assert_int_equal(s_eval(&m, &in, T0 + 14 * DAY).score, 20);
    assert_int_equal(s_eval(&m, &in, T0 + 28 * DAY).score, 10);
    assert_int_equal(s_eval(&m, &in, T0 + 7 * DAY).score, 28); // 40 / sqrt(2) = 28.3
    assert_int_equal(s_eval(&m, &in, T0 + 7 * DAY).score, 28);
    //  Fit facts do not decay.
    in.fit = 1ull << SCORING_FACT_SOURCE_WALK_IN;
    assert_int_equal(s_eval(&m, &in, T0 + 70 * DAY).score, 31);
}

static void test_quiet(void **state) {
    (void)state;
    scoring_model_t m = s_model("bands: {hot: 20, medium: 10}\nrules:\n"
                                "  - {name: w, fact: source_walk_in, points: 30}\n"
                                "  - {name: q, fact: quiet, points: -10, after_days: 21,"
                                " reason: \"no activity for 21 days\"}\n");
    scoring_input_t in = {.fit = 1ull << SCORING_FACT_SOURCE_WALK_IN, .created_at = T0};
    assert_int_equal(s_eval(&m, &in, T0 + 21 * DAY - 1).score, 30);
    scoring_result_t r = s_eval(&m, &in, T0 + 21 * DAY);
    assert_int_equal(r.score, 20);
    assert_string_equal(r.contributions[1].reason, "no activity for 21 days: -10");
    //  A signal resets the count.
    in.signals[in.n_signals++] = (scoring_signal_t){SCORING_FACT_CHAT, T0 + 10 * DAY};
    assert_int_equal(s_eval(&m, &in, T0 + 21 * DAY).score, 30);
    assert_int_equal(s_eval(&m, &in, T0 + 31 * DAY).score, 20);
}

static void test_default_file(void **state) {
    (void)state;
    char *error = NULL;
    const char *top = getenv("CRM_TOP_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/config/scoring.yaml", top ? top : ".");
    Crm__Scoring__Model *m = scoring_model_load_file(path, &error);
    if (!m)
        fail_msg("%s", error);
    assert_int_equal(m->hot, 60);
    assert_int_equal(m->medium, 30);
    assert_true(strncmp(m->version, "default-", 8) == 0);
    scoring_model_t c;
    scoring_model_compile(m, m->version, &c);
    //  Every fact has a rule in the default model.
    for (int f = 0; f < SCORING_FACT_COUNT; f++) {
        bool found = false;
        for (size_t i = 0; i < c.n_rules; i++)
            found |= c.rules[i].fact == (scoring_fact_t)f;
        assert_true(found);
    }
    crm__scoring__model__free_unpacked(m, NULL);
}

static void s_refused(const char *yaml, const char *expected) {
    char *error = NULL;
    Crm__Scoring__Model *m = scoring_model_parse_yaml(yaml, strlen(yaml), &error);
    assert_null(m);
    assert_non_null(error);
    if (!strstr(error, expected))
        fail_msg("expected \"%s\" in \"%s\"", expected, error);
    free(error);
}

static void test_bad_files(void **state) {
    (void)state;
    s_refused("rules: [\n", "line 2, column 1");
    s_refused("rules:\n  - {name: a, fact: budget_given, points: 70}\n"
              "  - {name: b, fact: moon_phase, points: 5}\n",
              "line 3, column 21: rules[1].fact is not a fact");
    s_refused("rules:\n  - {name: a, fact: chat, points: 70, cap: -5}\n",
              "line 2, column 44: cap must be 0 to 100");
    s_refused("bands:\n  hot: 30\n  medium: 60\nrules:\n  - {name: a, fact: chat, points: 70}\n",
              "line 3, column 11: medium must be under hot");
    s_refused("rules:\n  - {name: a, fact: chat, points: 10, cap: 20}\n",
              "hot cannot be reached: the rules and caps add up to 20 at most");
    s_refused("groups: {fit: 0}\nrules:\n  - {name: a, fact: chat, points: 70}\n",
              "line 1, column 15: a group's cap must be 1 to 100");
    s_refused("rules:\n  - {name: a, fact: chat, points: 70}\n  - {name: a, fact: chat, points: 1}\n",
              "rules[1].name is the name of rules[0] too");
    s_refused("colour: red\n", "line 1, column 1: unknown key colour");
}

static void test_api_model_check(void **state) {
    (void)state;
    Crm__Scoring__Rule rule = CRM__SCORING__RULE__INIT;
    rule.name = (char *)"a";
    rule.fact = (char *)"budget_given";
    rule.group = (char *)"engagement";
    rule.points = 0;
    Crm__Scoring__Rule *rules[] = {&rule};
    Crm__Scoring__Model model = CRM__SCORING__MODEL__INIT;
    model.hot = 60;
    model.medium = 30;
    model.n_rules = 1;
    model.rules = rules;
    crm_errors_t errors = {0};
    assert_int_equal(scoring_model_check(&model, &errors), -1);
    assert_true(crm_errors_has(&errors, "rules[0].group"));
    assert_true(crm_errors_has(&errors, "rules[0].points"));
    crm_errors_reset(&errors);
}

//  facts.c: a test drive booked, then taken, then a no-show; the inbound reply.
static void test_facts_from_activities(void **state) {
    (void)state;
    Crm__Scoring__LeadFacts facts = CRM__SCORING__LEAD_FACTS__INIT;
    Crm__Events__LeadActivityLogged a = CRM__EVENTS__LEAD_ACTIVITY_LOGGED__INIT;
    a.activity_id = (char *)"act1";
    a.kind = (char *)"test_drive";
    a.outcome = (char *)"scheduled";
    a.occurred_at = (char *)"2027-01-10T10:00:00Z";
    assert_true(scoring_facts_activity(&facts, &a, "2027-01-01T10:00:00Z"));
    assert_int_equal(facts.n_signals, 1);
    assert_string_equal(facts.signals[0]->fact, "test_drive_booked");
    assert_string_equal(facts.signals[0]->at, "2027-01-01T10:00:00Z");
    assert_false(scoring_facts_activity(&facts, &a, "2027-01-02T10:00:00Z")); // replayed
    a.outcome = (char *)"completed";
    assert_true(scoring_facts_activity(&facts, &a, "2027-01-10T11:00:00Z"));
    assert_int_equal(facts.n_signals, 2);
    assert_string_equal(facts.signals[0]->at, "2027-01-01T10:00:00Z"); // booked when it was
    a.outcome = (char *)"no_show";
    assert_true(scoring_facts_activity(&facts, &a, "2027-01-10T11:00:00Z"));
    assert_int_equal(facts.n_signals, 1);
    assert_string_equal(facts.signals[0]->fact, "no_show");
    Crm__Events__LeadActivityLogged sms = CRM__EVENTS__LEAD_ACTIVITY_LOGGED__INIT;
    sms.activity_id = (char *)"act2";
    sms.kind = (char *)"sms";
    sms.direction = (char *)"outbound";
    assert_false(scoring_facts_activity(&facts, &sms, "2027-01-11T11:00:00Z"));
    sms.direction = (char *)"inbound";
    assert_true(scoring_facts_activity(&facts, &sms, "2027-01-11T11:00:00Z"));
    scoring_input_t in;
    scoring_facts_input(&facts, &in);
    assert_int_equal(in.n_signals, 2);
    assert_int_equal(in.signals[1].fact, SCORING_FACT_INBOUND_REPLY);
    assert_int_equal(in.signals[1].at, scoring_time_parse("2027-01-11T11:00:00Z"));
    for (size_t i = 0; i < facts.n_signals; i++)
        crm__scoring__signal__free_unpacked(facts.signals[i], NULL);
    free(facts.signals);
}

static void test_facts_from_lead(void **state) {
    (void)state;
    Crm__Leads__VehicleInterest v = CRM__LEADS__VEHICLE_INTEREST__INIT;
    v.make = (char *)"Toyota";
    v.model = (char *)"RAV4";
    Crm__Leads__Lead__CustomFieldsEntry trade = CRM__LEADS__LEAD__CUSTOM_FIELDS_ENTRY__INIT;
    trade.key = (char *)"trade_in";
    trade.value = (char *)"2015 Civic";
    Crm__Leads__Lead__CustomFieldsEntry *fields[] = {&trade};
    Crm__Leads__Lead lead = CRM__LEADS__LEAD__INIT;
    lead.id = (char *)"l1";
    lead.contact_id = (char *)"c1";
    lead.vehicle = &v;
    lead.budget_max_cents = 3000000;
    lead.timeline = CRM__LEADS__TIMELINE__TIMELINE_WITHIN_MONTH;
    lead.source = CRM__LEADS__LEAD_SOURCE__LEAD_SOURCE_WALK_IN;
    lead.n_custom_fields = 1;
    lead.custom_fields = fields;
    Crm__Scoring__LeadFacts *facts = malloc(sizeof *facts);
    crm__scoring__lead_facts__init(facts);
    scoring_facts_from_lead(facts, &lead);
    scoring_input_t in;
    scoring_facts_input(facts, &in);
    uint64_t want = (1ull << SCORING_FACT_BUDGET_GIVEN) | (1ull << SCORING_FACT_TIMELINE_30_DAYS) |
                    (1ull << SCORING_FACT_VEHICLE_SPECIFIC) | (1ull << SCORING_FACT_TRADE_IN) |
                    (1ull << SCORING_FACT_SOURCE_WALK_IN);
    assert_int_equal(in.fit, want);
    facts->qualified = true;
    scoring_facts_from_lead(facts, &lead);
    scoring_facts_input(facts, &in);
    assert_int_equal(in.fit, want | (1ull << SCORING_FACT_BUDGET_QUALIFIED));
    crm__scoring__lead_facts__free_unpacked(facts, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_fit_rule),
        cmocka_unit_test(test_each_engagement_rule_and_its_cap),
        cmocka_unit_test(test_negative_rule_and_clamp),
        cmocka_unit_test(test_group_cap),
        cmocka_unit_test(test_total_held_to_100),
        cmocka_unit_test(test_band_boundaries),
        cmocka_unit_test(test_decay_over_injected_clock),
        cmocka_unit_test(test_quiet),
        cmocka_unit_test(test_default_file),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_api_model_check),
        cmocka_unit_test(test_facts_from_activities),
        cmocka_unit_test(test_facts_from_lead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
