/*  leads: the daemon's internal interface between handlers, stages, store and rules.

    Reading order: main.c (wiring), handlers.c (the lead's methods and their checks),
    stages.c (the tenant's pipeline), store.c (the lead's SQL), rules.c (the pure rules:
    stage keys, moves between stages, times, list cursors), migrations/.
*/
#ifndef LEADS_H
#define LEADS_H

#include "bus_client.h"
#include "events.h"
#include "leads.pb-c.h"
#include "service.h"

#include <stdbool.h>
#include <stdint.h>

//  The service's state, shared by its methods (one loop).
typedef struct {
    const crm_config_t *cfg;
    crm_bus_client_t *contacts;  // calls to the contacts service (is a contact live?)
    struct _leads_scheduler_t *scheduler;  // fires due follow-ups (scheduler.c)
} leads_t;

extern const crm_method_t leads_methods[];
extern const crm_migration_t leads_migrations[];

//  A lead row as one JSON object in the API's shape, built by PostgreSQL (it goes through
//  the generic transcoder into a Lead, so the column-to-field mapping is written once).
#define LEAD_JSON_FIELDS(t)                                                                   \
    "'id', " t ".id, 'contactId', " t ".contact_id, 'vehicle', " t ".vehicle,"                \
    " 'budgetMinCents', " t ".budget_min_cents, 'budgetMaxCents', " t ".budget_max_cents,"    \
    " 'timeline', nullif(" t ".timeline, ''), 'source', " t ".source,"                        \
    " 'status', " t ".status, 'priority', " t ".priority, 'score', " t ".score,"              \
    " 'assigneeId', " t ".assignee_id, 'followUpAt', " CRM_SQL_TS(t ".follow_up_at") ","      \
    " 'customFields', " t ".custom_fields, 'createdBy', " t ".created_by,"                     \
    " 'createdAt', " CRM_SQL_TS(t ".created_at") ","                                          \
    " 'updatedAt', " CRM_SQL_TS(t ".updated_at") ","                                          \
    " 'lastActivityAt', " CRM_SQL_TS(t ".last_activity_at") ","                               \
    " 'closedAt', " CRM_SQL_TS(t ".closed_at") ", 'won', " t ".won, 'lost', " t ".lost,"      \
    LEAD_FLAGS_JSON_FIELDS(t)

//  The lead's flags, computed when it is read (functions of migration 0004): overdue (open,
//  its follow-up time passed) and missedResponseTarget (still in the first open stage,
//  untouched since creation for the tenant's response target).
#define LEAD_FLAGS_JSON_FIELDS(t)                                                             \
    " 'overdue', lead_overdue(" t ".follow_up_at, " t ".closed_at),"                          \
    " 'missedResponseTarget', lead_missed_response_target(" t ".tenant_id, " t ".status,"     \
    " " t ".created_at, " t ".last_activity_at, " t ".closed_at)"

#define LEAD_JSON(t) "jsonb_build_object(" LEAD_JSON_FIELDS(t) ")::text"

//  --- rules.c: pure rules, no database -------------------------------------------------

#define LEADS_STAGE_KEY_MAX 40

//  A stage key: [a-z][a-z0-9_]*, at most LEADS_STAGE_KEY_MAX characters.
bool leads_stage_key_valid(const char *key);

//  The key made from a stage's name: ASCII letters and digits lower-cased, every other
//  run of characters one '_', none at either end, cut at LEADS_STAGE_KEY_MAX; "s_" in
//  front when it would start with a digit. Returns 0, or -1 when the name has no
//  letter or digit to make a key from (out is then "").
int leads_stage_key_from_name(const char *name, char *out, size_t size);

//  What a move of a lead from one stage to another is, by the stages' outcomes
//  ("open", "won", "lost").
typedef enum {
    LEADS_MOVE_OK,        // allowed
    LEADS_MOVE_SAME,      // already in that stage: refused
    LEADS_MOVE_CLOSED,    // from a won or lost stage to another closed one: refused
    LEADS_MOVE_REOPEN,    // from a won or lost stage back to an open one: managers only
} leads_move_t;

leads_move_t leads_move_check(const char *from_key, const char *from_outcome,
                              const char *to_key, const char *to_outcome);

//  Whether role may reopen a closed lead (manager, admin).
bool leads_role_may_reopen(const char *role);

//  Microseconds since 1970 of a date ("2026-11-22", midnight UTC) or an RFC 3339
//  date-time with Z or an offset. Returns 0, or -1 when text is neither.
int leads_time_parse(const char *text, int64_t *micros);

//  The list's cursor: the sort it belongs to ('c' created, 'a' last activity, 'f'
//  follow-up), the sort value of the last item (microseconds as text; "" for none:
//  created order needs none, a lead without follow-up has none) and its id.
typedef struct {
    char sort;
    char value[24];
    char id[40];
} leads_cursor_t;

//  "<sort>.<value>.<id>" (caller frees).
char *leads_cursor_encode(char sort, const char *value, const char *id);

//  Parse text as a cursor of sort. Returns 0, or -1 when it is not one.
int leads_cursor_decode(const char *text, char sort, leads_cursor_t *out);

//  --- stages.c: the tenant's pipeline ---------------------------------------------------

//  Give the tenant its copy of the default pipeline if it has none yet. 0 or a failure
//  code.
int leads_pipeline_ensure(crm_call_t *call);

//  One stage of the caller's tenant, locked against deletion and change (FOR SHARE) until
//  the transaction ends: 200 with outcome ("open", "won", "lost") and name filled, 404
//  when there is no such stage, or a failure code.
int leads_stage_lookup(crm_call_t *call, const char *key, char outcome[8], char name[128]);

//  The first open stage of the pipeline, locked as above: 200 with key filled, or a
//  failure code.
int leads_stage_first_open(crm_call_t *call, char key[64]);

int leads_stage_list(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response);
int leads_stage_create(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);
int leads_stage_update(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);
int leads_stage_delete(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);

//  --- store.c: the lead's SQL -----------------------------------------------------------

//  A lead ready to be written: checked, with its columns rendered as text.
typedef struct {
    const char *id;
    const char *contact_id;
    char *vehicle_json;       // the VehicleInterest in the API's shape ("{}" when none)
    char budget_min[24];
    char budget_max[24];
    char timeline[32];        // "" when not given
    char source[32];
    const char *status;
    char priority[16];
    const char *assignee_id;
    const char *follow_up_at; // NULL when none
    char *custom_fields_json;
} leads_row_t;

//  Render lead's columns into row (which points into lead: keep it alive).
void leads_row_render(const Crm__Leads__Lead *lead, leads_row_t *row);
void leads_row_reset(leads_row_t *row);

//  Insert lead (its id, status and times set) with its first stage history row and its
//  LeadCreated event. 201, or a failure code.
int leads_store_insert(crm_call_t *call, const leads_row_t *row, Crm__Leads__Lead *lead);

//  Read one live lead of the tenant; for_update locks it; with_history adds its stage
//  history. 200 with *out, 404, or a failure code.
int leads_store_get(crm_call_t *call, const char *id, bool for_update, bool with_history,
                    Crm__Leads__Lead **out);

//  Write the changeable columns of row->id with the LeadUpdated event (lead after the
//  change, its updated_at set here; changed: the JSON names set). 200 or failure code.
int leads_store_update(crm_call_t *call, const leads_row_t *row, Crm__Leads__Lead *lead,
                       const char *const *changed, size_t n_changed);

//  Soft-delete lead with its LeadDeleted event. 204 or a failure code.
int leads_store_delete(crm_call_t *call, const Crm__Leads__Lead *lead);

//  A move between stages: the lead's new stage, its closing details (won or lost, NULL
//  when neither), a stage history row and the events (LeadStatusChanged, with LeadWon or
//  LeadLost when it closes). 200 or a failure code.
typedef struct {
    const Crm__Leads__Lead *lead;   // as it was
    const char *to_stage;
    const char *to_outcome;         // "open", "won", "lost"
    bool reopened;
    const char *note;
    const Crm__Leads__WonDetails *won;
    const Crm__Leads__LostDetails *lost;
} leads_move_args_t;

int leads_store_move(crm_call_t *call, const leads_move_args_t *move);

//  The list: filters checked by the caller, cursor decoded. 200 with *out or a failure
//  code.
int leads_store_list(crm_call_t *call, const Crm__Leads__ListLeadsRequest *req, char sort,
                     const leads_cursor_t *cursor, int limit, Crm__Leads__ListLeadsResponse **out);

//  --- followups.c: a lead's follow-ups -----------------------------------------------------

int leads_followup_create(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response);
int leads_followup_update(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response);
int leads_followup_list(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int leads_followup_get(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);

//  A lead created with followUpAt (lead as inserted): its first follow-up, a call at that
//  time without a note. 0 or a failure code.
int leads_followups_on_create(crm_call_t *call, const Crm__Leads__Lead *lead);

//  A PATCH of lead (locked, before it is written) that names followUpAt: set, it moves the
//  lead's next pending follow-up to that time (or schedules a call then, when none is
//  pending); cleared, it cancels every pending one. lead->follow_up_at becomes the
//  lead's earliest pending due time after it (the value given when that is it). 0 or a
//  failure code.
int leads_followups_on_update(crm_call_t *call, Crm__Leads__Lead *lead);

//  The lead was closed (won or lost) or deleted: its pending follow-ups are cancelled
//  with reason ("lead_closed", "lead_deleted") and its followUpAt cleared. 0 or a failure
//  code.
int leads_followups_cancel_pending(crm_call_t *call, const char *lead_id, const char *reason);

//  --- settings.c: the tenant's sales settings ----------------------------------------------

int leads_settings_get(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);
int leads_settings_update(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response);

//  --- scheduler.c: fires due follow-ups -----------------------------------------------------

typedef struct _leads_scheduler_t leads_scheduler_t;

//  Start the scheduler thread (its own connection), which kicks the service's relay on
//  loop after each batch it fires. NULL on failure.
leads_scheduler_t *leads_scheduler_start(const crm_config_t *cfg, crm_service_t *service,
                                         zloop_t *loop);
void leads_scheduler_stop(leads_scheduler_t **self_p);

//  How long the scheduler sleeps before it looks again (pure; followup_rules.c): at once
//  after a full batch, else until the next due time (next_due_ms from now; negative:
//  none known), at most poll_ms.
int leads_scheduler_wait_ms(int claimed, int batch, long long next_due_ms, int poll_ms);

#endif
