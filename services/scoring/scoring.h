/*  scoring: the daemon's internal interface.

    Reading order: main.c (wiring: the follows table, the jobs, SIGHUP), methods.c (the
    method table: the index of what the service answers, each row naming its rules and
    its SQL), then:
    - rules.c: a lead's score under a model as of a time, pure (no database, no clock:
      the time is given) — the facts, the caps, the decay, the bands;
    - model.c: a model from YAML (config/scoring.yaml, with line and column) or from the
      API, checked field by field, and compiled for rules.c, pure;
    - facts.c: what one event does to a lead's facts (its projection), pure;
    - lead_store.c: the projection's SQL, the scores, their history and LeadScored;
      follow.c: the leads', contacts' and notify events that keep it;
    - model_store.c: the tenants' models (versioned); rescore.c: the rescore jobs and the
      daily decay pass (a runner job), their SQL in rescore_store.c;
    migrations/ (the schema).
*/
#ifndef SCORING_H
#define SCORING_H

#include "errors.h"
#include "events.pb-c.h"
#include "follower.h"
#include "runner.h"
#include "scoring.pb-c.h"
#include "service.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// --- rules.c: the evaluation ------------------------------------------------------------------

typedef enum { SCORING_GROUP_FIT, SCORING_GROUP_ENGAGEMENT, SCORING_GROUP_COUNT } scoring_group_t;

//  What a rule can count. Fit facts hold or not (a rule counts them once); engagement
//  facts are signals with a time (a rule counts each, decayed by its age); quiet holds
//  when the lead has had no activity for the rule's after_days.
typedef enum {
    SCORING_FACT_BUDGET_GIVEN,
    SCORING_FACT_BUDGET_QUALIFIED,
    SCORING_FACT_TIMELINE_30_DAYS,
    SCORING_FACT_TIMELINE_90_DAYS,
    SCORING_FACT_VEHICLE_SPECIFIC,
    SCORING_FACT_VIN_GIVEN,
    SCORING_FACT_TRADE_IN,
    SCORING_FACT_FINANCING,
    SCORING_FACT_CREDIT_APPLICATION,
    SCORING_FACT_SOURCE_CHAT,
    SCORING_FACT_SOURCE_PHONE,
    SCORING_FACT_SOURCE_WALK_IN,
    SCORING_FACT_SOURCE_REFERRAL,
    SCORING_FACT_SOURCE_THIRD_PARTY,
    SCORING_FACT_SOURCE_WEB_FORM,
    SCORING_FACT_CONTACT_REACHABLE,
    SCORING_FACT_INBOUND_REPLY, // first engagement fact
    SCORING_FACT_CHAT,
    SCORING_FACT_CALL_CONNECTED,
    SCORING_FACT_MEETING,
    SCORING_FACT_APPOINTMENT_BOOKED,
    SCORING_FACT_APPOINTMENT_SHOWN,
    SCORING_FACT_TEST_DRIVE_BOOKED,
    SCORING_FACT_TEST_DRIVE_SHOWN,
    SCORING_FACT_NO_SHOW,
    SCORING_FACT_EMAIL_CLICK,
    SCORING_FACT_QUIET,
    SCORING_FACT_COUNT
} scoring_fact_t;

typedef struct {
    const char *name; // as the model names it
    scoring_group_t group;
    bool signal; // counted per occurrence, with a time
} scoring_fact_info_t;

extern const scoring_fact_info_t scoring_facts[SCORING_FACT_COUNT];
extern const char *const scoring_group_names[SCORING_GROUP_COUNT];

//  The fact named name, or -1.
int scoring_fact_by_name(const char *name);

#define SCORING_RULES_MAX 64
#define SCORING_NAME_MAX 40
#define SCORING_REASON_MAX 120

typedef struct {
    char name[SCORING_NAME_MAX + 1];
    scoring_fact_t fact;
    scoring_group_t group;
    int points;
    int cap; // > 0
    char reason[SCORING_REASON_MAX + 1];
    int after_days; // quiet
} scoring_rule_t;

typedef struct {
    char version[64];
    int hot, medium;
    double half_life_days; // 0: no decay
    int group_cap[SCORING_GROUP_COUNT];
    scoring_rule_t rules[SCORING_RULES_MAX];
    size_t n_rules;
} scoring_model_t;

#define SCORING_SIGNALS_MAX 256 // the most a lead keeps (the oldest go first)

typedef struct {
    scoring_fact_t fact;
    int64_t at; // unix seconds
} scoring_signal_t;

//  A lead's facts as the evaluation reads them.
typedef struct {
    uint64_t fit;       // bit (1 << fact) for each fit fact that holds
    int64_t created_at; // unix seconds: where quiet counts from without signals
    scoring_signal_t signals[SCORING_SIGNALS_MAX];
    size_t n_signals;
} scoring_input_t;

typedef struct {
    char rule[SCORING_NAME_MAX + 8];
    scoring_group_t group; // SCORING_GROUP_COUNT: the total's clamp
    int points;
    char reason[SCORING_REASON_MAX + 40];
} scoring_contribution_t;

typedef struct {
    int score; // 0 to 100; the contributions' points add up to it
    Crm__Scoring__Band band;
    scoring_contribution_t contributions[SCORING_RULES_MAX + SCORING_GROUP_COUNT + 1];
    size_t n_contributions;
} scoring_result_t;

//  The score of a lead with facts in under model, as of now (unix seconds): signals after
//  now are left out, the others weigh 0.5^(age / half-life); each rule is held to its
//  cap and rounded to whole points, each group's positive sum to the group's cap, the
//  total to 0-100, each cut shown as a contribution of its own.
void scoring_evaluate(const scoring_model_t *model, const scoring_input_t *in, int64_t now,
                      scoring_result_t *out);

//  The band of a score under model.
Crm__Scoring__Band scoring_band(const scoring_model_t *model, int score);

//  The result as the API answers it (caller frees).
Crm__Scoring__Score *scoring_score_new(const char *lead_id, const scoring_result_t *result,
                                       const char *model_version, const char *computed_at);

// --- model.c: models ---------------------------------------------------------------------------

//  Check a model (API or file), naming each field wrong ("rules[2].fact"). 0 or -1.
int scoring_model_check(const Crm__Scoring__Model *model, crm_errors_t *errors);

//  Compile a checked model for scoring_evaluate, under version.
void scoring_model_compile(const Crm__Scoring__Model *model, const char *version,
                           scoring_model_t *out);

//  Read a model from YAML text (config/scoring.yaml's form). NULL when it cannot be read
//  or breaks a rule: *error (caller frees) says what, at which line and column.
Crm__Scoring__Model *scoring_model_parse_yaml(const char *text, size_t size, char **error);

//  The same from a file; the version is "default-" and a hash of the text.
Crm__Scoring__Model *scoring_model_load_file(const char *path, char **error);

//  A stable hash of a model's content, in hex (16 characters).
void scoring_model_hash(const Crm__Scoring__Model *model, char out[17]);

// --- facts.c: a lead's projection ----------------------------------------------------------------

//  The fit facts a lead's fields give (budget, timeline, vehicle, VIN, the custom fields
//  trade_in, financing and credit_application, the source): facts->fit replaced.
void scoring_facts_from_lead(Crm__Scoring__LeadFacts *facts, const Crm__Leads__Lead *lead);

//  Put (replace) the signals of an activity: id prefix activity_id, per its kind and
//  outcome, at when (RFC 3339). Returns true when they changed.
bool scoring_facts_activity(Crm__Scoring__LeadFacts *facts,
                            const Crm__Events__LeadActivityLogged *activity, const char *at);

//  Add one signal (replacing one with the same id). Returns true when it changed.
bool scoring_facts_signal(Crm__Scoring__LeadFacts *facts, const char *id, const char *fact,
                          const char *at);

//  The input of rules.c from facts.
void scoring_facts_input(const Crm__Scoring__LeadFacts *facts, scoring_input_t *in);

//  RFC 3339 to unix seconds (0 when unreadable), and back.
int64_t scoring_time_parse(const char *text);
void scoring_time_format(int64_t t, char *out, size_t size);

// --- the daemon's state ---------------------------------------------------------------------------

typedef struct {
    const crm_config_t *cfg;
    pthread_mutex_t lock;                // the default model (reloaded on SIGHUP)
    Crm__Scoring__Model *default_model;  // the file's
    scoring_model_t default_compiled;
} scoring_t;

extern scoring_t scoring_state;
extern const crm_method_t scoring_methods[];
extern const crm_migration_t scoring_migrations[];

//  Read the default model again from scoring.model_file; on failure the one in force
//  stays (logged with line and column). 0 or -1.
int scoring_reload(scoring_t *self);

// --- model_store.c: the tenants' models ---------------------------------------------------------------

//  The model in force for tenant (its own, or the default): compiled into out, and as
//  a message when model_out is not NULL (caller frees). 0 or -1.
int scoring_model_store_current(crm_db_t *db, scoring_t *self, const char *tenant_id,
                                scoring_model_t *out, Crm__Scoring__Model **model_out);

//  Store model as the tenant's next version (its version set). 0 or -1.
int scoring_model_store_put(crm_db_t *db, const char *tenant_id, const char *actor_id,
                            Crm__Scoring__Model *model);

// --- lead_store.c: the projection and the scores ----------------------------------------------------------

//  A lead's facts (caller frees), or NULL when it has none (*failed set on a database
//  failure).
Crm__Scoring__LeadFacts *scoring_lead_store_get(crm_db_t *db, const char *tenant_id,
                                                const char *lead_id, bool *failed);

//  Score facts under model as of now (or as of its stored score's time when later: a
//  lead is never scored as of an earlier time than it was), store facts and score, and
//  when the score or band changed, add its history row and LeadScored to outbox (may be
//  NULL: written here). *changed (may be NULL) says whether it did. 0 or -1.
int scoring_lead_store_put(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                           Crm__Scoring__LeadFacts *facts, const scoring_model_t *model,
                           int64_t now, bool *changed);

//  Fill event, the LeadScored of score (band: its name) for a lead that had
//  previous_score and previous_band (NULL: none before); it points into score and band.
//  Returns the array of reasons it points to, which the caller frees (not its strings).
char **scoring_lead_scored_init(Crm__Events__LeadScored *event, const Crm__Scoring__Score *score,
                                const char *contact_id, const char *band, int previous_score,
                                const char *previous_band);

int scoring_lead_store_delete(crm_db_t *db, const char *tenant_id, const char *lead_id);

//  Empty the projection (every tenant's leads, score history and contacts) and set the
//  inbox back to 0, for a rebuild from the event stream. 0 or -1.
int scoring_lead_store_empty(crm_db_t *db);

//  The contact's reachability (false when unknown), and set it; the ids of its leads.
int scoring_contact_store_put(crm_db_t *db, const char *tenant_id, const char *contact_id,
                              int reachable, bool *changed);
bool scoring_contact_store_reachable(crm_db_t *db, const char *tenant_id,
                                     const char *contact_id);
int scoring_lead_store_of_contact(crm_db_t *db, const char *tenant_id, const char *contact_id,
                                  char ***ids, size_t *n);

//  The stored score of a lead (404 when none) and its history, for the methods.
int scoring_lead_store_score(crm_call_t *call, const char *lead_id, Crm__Scoring__Score **out);
int scoring_lead_store_history(crm_call_t *call, const char *lead_id, uint32_t limit,
                               Crm__Scoring__ScoreHistoryResponse **out);

// --- follow.c ------------------------------------------------------------------------------------------

crm_follow_fn scoring_follow_leads;
crm_follow_fn scoring_follow_contacts;
crm_follow_fn scoring_follow_notify;

// --- rescore.c: rescore jobs and the decay pass; their SQL in rescore_store.c -----------------------

int scoring_rescore_store_create(crm_call_t *call, const char *kind, Crm__Scoring__RescoreJob **out);
int scoring_rescore_store_get(crm_call_t *call, const char *id, Crm__Scoring__RescoreJob **out);
int scoring_rescore_store_preview(crm_call_t *call, const scoring_model_t *model,
                                  Crm__Scoring__PreviewModelResponse *out);

//  The oldest job not done, locked (no row: none), or NULL on a failure.
PGresult *scoring_rescore_store_claim(crm_db_t *db);
//  The next page of open leads after (after_tenant, after_lead ("": from the start)) of
//  tenant ("": every tenant), locked: tenant, lead, facts, reachable, score, band,
//  explanation (NULL when never scored). NULL on a failure.
PGresult *scoring_rescore_store_page(crm_db_t *db, const char *tenant, const char *after_tenant,
                                     const char *after_lead, int limit);
//  A page row's facts (columns col: facts, col + 1: reachable), NULL when damaged.
Crm__Scoring__LeadFacts *scoring_rescore_store_facts(PGresult *res, int row, int col);

//  A page's writes: per changed lead, its column in each array (tenant, lead, score,
//  band, explanation, model version, event id ("": no LeadScored), payload); the job's
//  progress; the page's range.
typedef struct {
    char *arrays[8];
    const char *computed_at, *occurred_at, *job_id;
    int done, changed;
    bool finished;
    const char *first_tenant, *first_lead, *last_tenant, *last_lead;
} scoring_page_write_t;
int scoring_rescore_store_write(crm_db_t *db, const scoring_page_write_t *w);

//  Make the decay pass's job unless one was made within interval_ms. 0, or -1.
int scoring_rescore_store_schedule_decay(crm_db_t *db, int interval_ms);

crm_step_fn scoring_rescore_step;
int scoring_rescore_period_ms(const crm_config_t *cfg);

#endif
