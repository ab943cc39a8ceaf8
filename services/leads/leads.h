/*  leads: the daemon's internal interface, one section per file.

    Reading order: main.c (wiring), methods.c (THE method table, the index of everything
    the service does, and the lead's methods), then per resource its rules (<resource>.c:
    a request in, field errors or a normalised message out, no database), its SQL
    (<resource>_store.c) and its methods (<resource>_methods.c):
    - lead.c + lead_store.c (methods in methods.c): create, update, delete, list, moves
      between stages and the won/lost details;
    - stage.c + stage_store.c + stage_methods.c: the tenant's pipeline;
    - member.c + member_store.c + member_methods.c: the sales team;
    - assignment.c + assignment_store.c + assignment_methods.c: assignment rules,
      automatic assignment (round robin), manual assignment, the history;
    - lifecycle.c + lifecycle_store.c: following the contacts' events, a lead's contact;
    - notify_follow.c (its SQL in activity_store.c): following the notify service's
      events, the messages sent about a lead and the replies as its activities;
    - score_follow.c + score_store.c: following the scoring service's LeadScored, the
      lead's score, band and (unless set by hand) priority;
    - chat.c + chat_store.c + chat_methods.c: a lead from a website chat (the method
      calls the contacts service's Match and Create);
    - activity.c + activity_store.c + activity_methods.c: a lead's activities;
    - views.c + views_store.c + views_methods.c: the timeline, the hot sheet;
    - followup.c + followup_store.c + followup_methods.c: a lead's follow-ups and its
      followUpAt; scheduler.c, the runner job that fires them (its SQL in
      followup_store.c, its timing rule in followup.c);
    - settings.c + settings_store.c + settings_methods.c: the tenant's sales settings;
    - patch.c: what a PATCH means (lead, member, activity); migrations/.
*/
#ifndef LEADS_H
#define LEADS_H

#include "bus_client.h"
#include "outbox.h"
#include "follower.h"
#include "page.h"
#include "rows.h"
#include "events.pb-c.h"
#include "leads.pb-c.h"
#include "runner.h"
#include "service.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

//  The service's state, shared by its methods (one loop).
typedef struct {
    const crm_config_t *cfg;
    crm_bus_client_t *contacts; // calls to the contacts service (is a contact live?)
} leads_t;

extern const crm_method_t leads_methods[];
extern const crm_migration_t leads_migrations[];

//  A lead row as one JSON object in the API's shape, built by PostgreSQL (it goes through
//  the generic transcoder into a Lead, so the column-to-field mapping is written once).
#define LEAD_JSON_FIELDS(t)                                                                                                                     \
    "'id', " t ".id, 'contactId', " t ".contact_id, 'vehicle', " t ".vehicle,"                                                                  \
    " 'budgetMinCents', " t ".budget_min_cents, 'budgetMaxCents', " t ".budget_max_cents,"                                                      \
    " 'timeline', nullif(" t ".timeline, ''), 'source', " t ".source,"                                                                          \
    " 'status', " t ".status, 'priority', " t ".priority, 'score', " t ".score,"                                                                \
    " 'band', nullif(" t ".band, ''), 'priorityManual', " t ".priority_manual,"                                                                 \
    " 'assigneeId', " t ".assignee_id, 'followUpAt', " CRM_SQL_TS(                                                                              \
        t                                                                                                                                       \
        ".follow_up_at") ","                                                                                                                    \
                         " 'customFields', " t ".custom_fields, 'createdBy', " t ".created_by,"                                                 \
                         " 'createdAt', " CRM_SQL_TS(                                                                                           \
                             t                                                                                                                  \
                             ".created_at") ","                                                                                                 \
                                            " 'updatedAt', " CRM_SQL_TS(                                                                        \
                                                t                                                                                               \
                                                ".updated_at") ","                                                                              \
                                                               " 'lastActivityAt', " CRM_SQL_TS(                                                \
                                                                   t                                                                            \
                                                                   ".last_activity_at") ","                                                     \
                                                                                        " '"                                                    \
                                                                                        "closedAt"                                              \
                                                                                        "',"                                                    \
                                                                                        " " CRM_SQL_TS(                                         \
                                                                                            t                                                   \
                                                                                            ".clo"                                              \
                                                                                            "sed_"                                              \
                                                                                            "at") ", 'won', " t                                 \
                                                                                                  ".won, 'lost', " t                            \
                                                                                                  ".lost," /* --- team: the lead's territory */ \
                                                                                                  " 'postcode', " t                             \
                                                                                                  ".postcode, 'region', " t                     \
                                                                                                  ".region," LEAD_FLAGS_JSON_FIELDS(            \
                                                                                                      t)

//  The lead's flags, computed when it is read (functions of migration 0004): overdue (open,
//  its follow-up time passed) and missedResponseTarget (still in the first open stage,
//  untouched since creation for the tenant's response target).
#define LEAD_FLAGS_JSON_FIELDS(t)                                                                  \
    " 'overdue', lead_overdue(" t ".follow_up_at, " t ".closed_at),"                               \
    " 'missedResponseTarget', lead_missed_response_target(" t ".tenant_id, " t ".status,"          \
    " " t ".created_at, " t ".last_activity_at, " t ".closed_at)"

#define LEAD_JSON(t) "jsonb_build_object(" LEAD_JSON_FIELDS(t) ")::text"

//  Whether the caller sees lead t: scope is lead_scope()'s answer (migration 0015; a
//  list's parameter from leads_scope, or the call lead_scope(tenant, role, actor) for one
//  lead): NULL sees all, else the leads assigned to that member and the unassigned ones.
//  A NULL parameter folds away in the list's custom plan; otherwise the assignee
//  indexes (leads_by_assignee, leads_hot) serve it.
#define LEADS_SEES(t, scope)                                                                  \
    "(" scope "::text IS NULL OR " t ".assignee_id = '' OR " t ".assignee_id = " scope "::text)"

//  For one lead's statements: $3 the caller's role, $4 their actor (the tenant is $1).
#define LEADS_SEES_CALLER(t) LEADS_SEES(t, "lead_scope($1, $3, $4)")

//  --- stage.c: the rules of a pipeline stage (no database) --------------------------------

#define LEADS_STAGE_KEY_MAX 40

//  A stage key: [a-z][a-z0-9_]*, at most LEADS_STAGE_KEY_MAX characters.
bool leads_stage_key_valid(const char *key);

//  The key made from a stage's name: ASCII letters and digits lower-cased, every other
//  run of characters one '_', none at either end, cut at LEADS_STAGE_KEY_MAX; "s_" in
//  front when it would start with a digit. Returns 0, or -1 when the name has no
//  letter or digit to make a key from (out is then "").
int leads_stage_key_from_name(const char *name, char *out, size_t size);

//  The stored name of an outcome ("open" for the unspecified value).
const char *leads_stage_outcome_name(Crm__Leads__StageOutcome outcome);

//  A new stage: its name (trimmed), its key (given, or made from the name) into key.
//  0, or -1 with errors added.
int leads_stage_check_new(Crm__Leads__Stage *stage, char key[LEADS_STAGE_KEY_MAX + 1],
                          crm_errors_t *errors);

//  The fields of a stage a PATCH names.
typedef struct {
    bool name, position, outcome;
} leads_stage_fields_t;

//  A stage's update: its mask (name, position, outcome only), a position from 1, an
//  outcome given; *name: the new name trimmed (set->name; the caller frees). 0 or -1.
int leads_stage_update_check(const Crm__Leads__UpdateStageRequest *req, leads_stage_fields_t *set,
                             char **name, crm_errors_t *errors);

//  --- lead.c: the rules of a lead (no database) ------------------------------------------

//  What a move of a lead from one stage to another is, by the stages' outcomes
//  ("open", "won", "lost").
typedef enum {
    LEADS_MOVE_OK,     // allowed
    LEADS_MOVE_SAME,   // already in that stage: refused
    LEADS_MOVE_CLOSED, // from a won or lost stage to another closed one: refused
    LEADS_MOVE_REOPEN, // from a won or lost stage back to an open one: managers only
} leads_move_t;

leads_move_t leads_move_check(const char *from_key, const char *from_outcome, const char *to_key,
                              const char *to_outcome);

//  Whether role may reopen a closed lead (manager, admin).
bool leads_role_may_reopen(const char *role);

//  Microseconds since 1970 of a date ("2026-11-22", midnight UTC) or an RFC 3339
//  date-time with Z or an offset. Returns 0, or -1 when text is neither.
int leads_time_parse(const char *text, int64_t *micros);

//  The list's cursor (common/page.h's keyset cursor): the sort it belongs to ('c'
//  created, 'a' last activity, 'f' follow-up, 's' score; 'v' a lead's activities, 't' its
//  timeline), the sort value of the last item (microseconds as text; "" for none:
//  created order needs none, a lead without follow-up has none) and its id.
typedef crm_cursor_t leads_cursor_t;

//  "<sort>.<value>.<id>" (caller frees).
char *leads_cursor_encode(char sort, const char *value, const char *id);

//  Parse text as a cursor of sort: crm_cursor_decode, and a created-order cursor has no
//  value, a last-activity one has one. Returns 0, or -1 when it is not one.
int leads_cursor_decode(const char *text, char sort, leads_cursor_t *out);

//  A vehicle (of interest, sold, traded in, of an appointment) by the shared vehicle
//  rules (common/vehicle.h), its VIN upper-cased in place; field errors under prefix.
void leads_vehicle_check(Crm__Leads__VehicleInterest *v, const char *prefix, crm_errors_t *errors);

//  A lead's own fields (not its contact, not its stage's existence): defaults filled
//  (priority cold), the VIN upper-cased, the postcode normalised. setting_follow_up: a
//  followUpAt given now must not be in the past. 0, or -1 with errors added.
int leads_lead_check(Crm__Leads__Lead *lead, bool setting_follow_up, crm_errors_t *errors);

//  A new lead's checks: its fields, and its stage key when it names one. 0 or -1.
int leads_lead_check_new(Crm__Leads__Lead *lead, crm_errors_t *errors);

//  Clear the fields only the service sets (score, closing, history) of a lead to create.
void leads_lead_clear_read_only(Crm__Leads__Lead *lead);

//  The lead's fields a PATCH cannot set, and why (patch.c's leads_read_only_t).
typedef struct {
    const char *name;
    const char *why;
} leads_read_only_t;
extern const leads_read_only_t leads_lead_read_only[];
extern const size_t leads_lead_n_read_only;

//  A move's own request: a stage key, a note's length. 0, or -1 with errors added.
int leads_move_request_check(const Crm__Leads__ChangeLeadStatusRequest *req, crm_errors_t *errors);

//  What a move into a stage of to_outcome needs: into won, the won details (the vehicle
//  sold, a final price, the financing); into lost, a reason (and a long-term follow-up
//  time in the future); neither given for another outcome. 0, or -1 with errors added.
int leads_close_check(const char *to_outcome, Crm__Leads__WonDetails *won,
                      const Crm__Leads__LostDetails *lost, crm_errors_t *errors);

//  The list's request as the statement takes it: times as UTC text ("" when not given),
//  the page's size, the sort ('c', 'a', 'f', 's') and the cursor decoded.
typedef struct {
    char created_from[64];
    char created_to[64];
    int limit;
    char sort;
    leads_cursor_t cursor;
} leads_list_t;

//  A PATCH that names priority (names_priority): a priority given is the salesperson's
//  (priorityManual set, it stays whatever the score does); none (null, or unspecified)
//  clears it: priorityManual unset and the priority follows the band again (cold when the
//  lead has none yet). A create's priority given is the salesperson's too.
void leads_lead_priority_set(Crm__Leads__Lead *lead, bool names_priority);

//  The list's filters, page and cursor, into out. 0, or -1 with errors added.
int leads_list_check(const Crm__Leads__ListLeadsRequest *req, leads_list_t *out,
                     crm_errors_t *errors);

//  --- stage_store.c: the SQL of the tenant's pipeline ---------------------------------------

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

//  One stage as the API shows it: 200 with *out, 404, or a failure code.
int leads_stage_store_read(crm_call_t *call, const char *key, Crm__Leads__Stage **out);

//  The tenant's stages in order: 200 with *out, or a failure code.
int leads_stage_store_list(crm_call_t *call, Crm__Leads__ListStagesResponse **out);

//  Write PipelineChanged (change: "created", "stage_added", ...; key: the stage) with
//  the whole pipeline as it is now, through the outbox writer. 0 or a failure code.
int leads_stage_store_changed(crm_call_t *call, const char *change, const char *key);

//  409 when another stage than except holds key or name (named as the field in
//  conflict, the key first when it was given): 0, 409 or a failure code.
int leads_stage_store_unique(crm_call_t *call, const char *key, const char *name,
                             const char *except, bool key_given);

//  The pipeline's open stages and all its stages: 0 or a failure code.
int leads_stage_store_counts(crm_call_t *call, long *open, long *all);

//  Lock stage key against leads entering it, then count the live leads in it: 0 with
//  *outcome and *leads, 404, or a failure code.
int leads_stage_store_lock_and_count(crm_call_t *call, const char *key, char outcome[8],
                                     long *leads);

int leads_stage_store_insert(crm_call_t *call, const char *key, const char *name,
                             const char *outcome, uint32_t position);
int leads_stage_store_update(crm_call_t *call, const char *key, const char *name,
                             const char *outcome, const char *now);
//  To position (at most the number of stages), the others keeping their order.
int leads_stage_store_move(crm_call_t *call, const char *key, uint32_t position, const char *now);
int leads_stage_store_delete(crm_call_t *call, const char *key);

//  --- stage_methods.c: the pipeline's methods ------------------------------------------------

int leads_stage_list(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response);
int leads_stage_create(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);
int leads_stage_update(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);
int leads_stage_delete(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);

//  --- lead_store.c: the lead's SQL -----------------------------------------------------------

//  A lead ready to be written: checked, with its columns rendered as text.
typedef struct {
    const char *id;
    const char *contact_id;
    char *vehicle_json; // the VehicleInterest in the API's shape ("{}" when none)
    char budget_min[24];
    char budget_max[24];
    char timeline[32]; // "" when not given
    char source[32];
    const char *status;
    char priority[16];
    const char *assignee_id;
    const char *follow_up_at; // NULL when none
    char *custom_fields_json;
    const char *postcode; // team: the lead's territory
    const char *region;
    const char *priority_manual; // "true" or "false"
} leads_row_t;

//  Render lead's columns into row (which points into lead: keep it alive).
void leads_row_render(const Crm__Leads__Lead *lead, leads_row_t *row);
void leads_row_reset(leads_row_t *row);

//  Insert lead (its id, status and times set) with its first stage history row and its
//  LeadCreated event. 201, or a failure code.
int leads_store_insert(crm_call_t *call, const leads_row_t *row, Crm__Leads__Lead *lead);

//  Read one live lead of the tenant that the caller sees (LEADS_SEES: a salesperson sees
//  their own and the unassigned ones unless salesSeeAllLeads); for_update locks it;
//  with_history adds its stage history. 200 with *out, 404 (also for a lead the caller
//  does not see: its existence does not leak), or a failure code.
int leads_store_get(crm_call_t *call, const char *id, bool for_update, bool with_history,
                    Crm__Leads__Lead **out);

//  The same, whoever the caller is: the answer after a write the caller was allowed to
//  make (a salesperson who assigned their lead to another), the service's own reads.
int leads_store_get_any(crm_call_t *call, const char *id, bool with_history,
                        Crm__Leads__Lead **out);

//  Which leads the caller sees, for a list statement's parameter: *scope is NULL when
//  they see every lead of the tenant (any role but sales, or salesSeeAllLeads), else
//  member, their team member's id ("" when they are none: the unassigned leads only).
//  lead_scope() (migration 0015) decides; a caller of another role costs no query. 0
//  or a failure code.
int leads_scope(crm_call_t *call, char member[40], const char **scope);

//  Write the changeable columns of row->id with the LeadUpdated event (lead after the
//  change, its updated_at set here; changed: the JSON names set). 200 or failure code.
int leads_store_update(crm_call_t *call, const leads_row_t *row, Crm__Leads__Lead *lead,
                       const char *const *changed, size_t n_changed);

//  Soft-delete lead with its LeadDeleted event. 204 or a failure code.
int leads_store_delete(crm_call_t *call, const Crm__Leads__Lead *lead);

//  A move between stages: the lead's new stage, its closing details (won or lost, NULL
//  when neither), a stage history row, its status_change activity (same id) and the
//  events (LeadStatusChanged, with LeadWon or LeadLost when it closes). 200 or a failure
//  code.
typedef struct {
    const Crm__Leads__Lead *lead; // as it was
    const char *to_stage;
    const char *to_outcome; // "open", "won", "lost"
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

//  A lead's field (JSON name, a text field) changed by something other than a PATCH or a
//  move (its follow-ups moved followUpAt): when its value now differs from before, a
//  LeadUpdated with the lead as it is now and changed naming the field, so that
//  consumers keeping a copy of the lead stay right. 0 or a failure code.
int leads_store_announce(crm_call_t *call, const char *lead_id, const char *field,
                         const char *before);

//  A lead from LEAD_JSON's text; NULL (logged) when it does not parse.
Crm__Leads__Lead *leads_from_json(const char *text);

//  --- patch.c: what a PATCH means (a lead, a team member, an activity) ------------------

//  The JSON names of mask's n fields of desc, in order (NULL for one that is no field),
//  with a field error added for each that is no field of desc (what: "a lead";
//  every one when !has_body) or is read-only. Free with leads_patch_names_free.
char **leads_patch_names(const ProtobufCMessageDescriptor *desc, bool has_body, char *const *mask,
                         size_t n, const char *what, const leads_read_only_t *read_only,
                         size_t n_read_only, crm_errors_t *errors);
bool leads_patch_names_has(char *const *names, size_t n, const char *json_name);
void leads_patch_names_free(char **names, size_t n);

//  stored (the stored value's JSON) with the named fields taken from patch (NULL: none
//  given): one patch leaves out goes back to its default.
void leads_patch_apply(json_t *stored, const ProtobufCMessage *patch, char *const *names, size_t n);

//  --- methods.c: the method table; a lead's creation, for the other ways in (chat) --------

//  Create lead (the caller's; its id kept when set, else made): every check (the contact
//  over the bus unless contact_checked), its stage, its assignee (given or by the
//  assignment rules), the row with its history and events. 201 with lead filled in, or
//  a failure code with the errors recorded.
int leads_lead_create(crm_call_t *call, Crm__Leads__Lead *lead, bool contact_checked);

//  --- chat.c: the rules of a lead from a website chat (no database) ------------------------

//  What a chat's request makes, checked: the lead (its contact a placeholder until the
//  contacts service names it), the chat activity of its transcript, the chat id trimmed
//  ("" none). Free with leads_chat_reset.
typedef struct {
    Crm__Leads__Lead *lead;
    Crm__Leads__Activity *activity;
    char *chat_id;
} leads_chat_t;

//  The request into out (always filled), everything it carries checked: the lead's
//  fields (leads_lead_check_new), the transcript (leads_activity_check), the visitor (an
//  email or a phone), the chat id's length. 0, or -1 with errors added.
int leads_chat_check(const Crm__Leads__CreateLeadFromChatRequest *req, leads_chat_t *out,
                     crm_errors_t *errors);
void leads_chat_reset(leads_chat_t *chat);

//  A field the contacts service named (of a Contact: "emails[0].address", "firstName"),
//  as the visitor's field of the chat's request ("visitor.email", "visitor.firstName").
void leads_chat_visitor_field(const char *field, char *out, size_t size);

//  --- chat_store.c: the chats' SQL ---------------------------------------------------------

//  What chat_id made: its lead's id and its activity's into lead_id and activity_id
//  ("" when the chat is new). 0 or a failure code.
int leads_chat_store_seen(crm_call_t *call, const char *chat_id, char lead_id[40],
                          char activity_id[40]);

//  Claim chat_id for lead_id (*claimed false: another request claimed it first). 0 or a
//  failure code.
int leads_chat_store_claim(crm_call_t *call, const char *chat_id, const char *lead_id,
                           const char *contact_id, bool contact_created, const char *matched_on,
                           bool *claimed);

//  Note the activity the chat's transcript became. 0 or a failure code.
int leads_chat_store_activity(crm_call_t *call, const char *chat_id, const char *activity_id);

//  --- chat_methods.c: CreateFromChat, with the contacts service's Match and Create ---------

int leads_from_chat(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response);

//  --- lifecycle.c: what the contacts service's events do to leads -----------------------

//  Follow the contacts service's events (ContactMerged, ContactErased) with the leads
//  schema's inbox. NULL when it cannot start; crm_follower_stop stops it.

//  One contacts event applied (the follows table's crm_follow_fn): 0 applied (or nothing
//  to do), 1 unreadable, -1 failed.
int leads_lifecycle_follow(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event, void *arg);

//  Is contact_id a live contact of the caller's tenant? Known from the contacts
//  service's events (contact_ids) when they have been applied; else the contacts service
//  is asked (its Get, with the caller's header) and its yes noted. 0; 422 naming
//  contactId; 503 when the contacts service does not answer.
int leads_contact_check(crm_call_t *call, const char *contact_id);

//  --- notify_follow.c: what the notify service's events do to leads -----------------------

//  What one notify event logs on a lead.
typedef enum {
    LEADS_NOTIFY_LOG,       // an activity (out)
    LEADS_NOTIFY_NOTHING,   // nothing: another type, a staff alert, no lead, no customer
    LEADS_NOTIFY_REFUSED,   // an activity the activity rules refuse (errors say why)
    LEADS_NOTIFY_UNREADABLE // the payload is not its type's
} leads_notify_outcome_t;

//  The activity an event logs: on which lead, once per what (notify_ref), and the
//  activity checked by activity.c's rules (the caller's; leads_notify_log_reset).
typedef struct {
    char lead_id[40];
    char notify_ref[96]; // "sent:<message id>", "inbound:<inbound id>"
    //  It moves the lead's last activity: a person's message or the customer's reply,
    //  not an automated one (speed to lead is no salesperson's first response).
    bool touches;
    Crm__Leads__Activity *activity;
} leads_notify_log_t;

//  The rules: what event (of the notify source) logs, into out (always filled; NULL
//  activity unless LEADS_NOTIFY_LOG), errors when LEADS_NOTIFY_REFUSED.
leads_notify_outcome_t leads_notify_activity(const Crm__Event *event, leads_notify_log_t *out,
                                             crm_errors_t *errors);
void leads_notify_log_reset(leads_notify_log_t *log);

//  One notify event applied (the follows table's crm_follow_fn): 0 applied (or nothing
//  to do), 1 unreadable, -1 failed.
int leads_notify_follow(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event, void *arg);

//  --- lifecycle_store.c: the SQL of following the contacts ----------------------------------

//  Is contact_id a contact of the caller's tenant the leads service knows of (*known),
//  and one gone for good (*deleted)? 0 or a failure code.
int leads_contact_known(crm_call_t *call, const char *contact_id, bool *known, bool *deleted);

//  Note the tenant's contacts ids (n) as live contacts, or (deleted) as gone for good, in
//  contact_ids; ids that are not UUIDs are left out. 0 or -1.
int leads_contact_ids_note(crm_db_t *db, const char *tenant_id, const char *const *ids, size_t n,
                           bool deleted);

//  Re-point the tenant's leads of merged_ids (n) to survivor, in db's open transaction,
//  adding to outbox the LeadUpdated event (changed: contactId) of each live one. Leads
//  re-pointed, or -1. Each is remembered under merge_id (NULL or "": not) for the undo.
int leads_contacts_merged(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                          const char *survivor, const char *const *merged_ids, size_t n,
                          const char *actor_id, const char *merge_id);

//  A merge undone: the leads merge_id re-pointed and still survivor's back to the
//  contacts they had, with their LeadUpdated events; restored_ids (n) live contacts again.
//  Leads pointed back, or -1.
int leads_contacts_unmerged(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                            const char *merge_id, const char *survivor,
                            const char *const *restored_ids, size_t n, const char *actor_id);

//  Take the person's data out of the tenant's leads of contact_id, in db's open
//  transaction, with the payloads of those leads' past events. Leads touched, or -1.
int leads_contact_erased(crm_db_t *db, const char *tenant_id, const char *contact_id,
                         const char *erased_at);

//  --- activity.c: the rules of a lead's activity (no database) ------------------------------
//  (calls, meetings, emails, texts, chats, appointments, test drives, notes; the moves'
//  status_change rows are written by lead_store.c)

//  The longest texts, in characters: an email's subject and body, a text's body (what
//  SMS providers take as one message, sent as up to ten segments).
#define LEADS_ACTIVITY_SUBJECT_MAX_LEN 300
#define LEADS_ACTIVITY_BODY_MAX_LEN 20000
#define LEADS_ACTIVITY_SMS_BODY_MAX_LEN 1600

//  An activity as it is to be stored: its kind's rules (which fields it takes, what it
//  requires), defaults filled (now, an appointment's status), times made UTC, the VIN
//  upper-cased. occurred_given: the caller set occurredAt (for an appointment it must
//  then be its scheduledAt). 0, or -1 when errors holds any (the kind's checks stop
//  early when errors already holds some: a chat's lead errors come first).
int leads_activity_check(Crm__Leads__Activity *a, bool occurred_given, crm_errors_t *errors);

//  Whether kind is an appointment or a test drive (its time is its scheduledAt).
bool leads_activity_is_appointment(Crm__Leads__ActivityKind kind);

//  Whether a caller (role, actor_id) may change an activity logged by author (its
//  actorId): a salesperson only their own; managers, admins and integrations any. A
//  refusal is 403.
bool leads_activity_may_change(const char *role, const char *actor_id, const char *author);

//  A kind's API name ("test_drive") into out.
const char *leads_activity_kind_name(Crm__Leads__ActivityKind kind, char out[32]);

//  micros (since 1970) as RFC 3339 in UTC with microseconds, the form the service stores.
void leads_utc_text(int64_t micros, char out[40]);

//  The activity's fields a PATCH cannot set (proto names), and why.
extern const leads_read_only_t leads_activity_read_only[];
extern const size_t leads_activity_n_read_only;

//  The list's page: its size, the cursor ('v') decoded, the kind's API name ("" any).
typedef struct {
    int limit;
    leads_cursor_t cursor;
    char kind[32];
} leads_activity_list_t;

int leads_activity_list_check(const Crm__Leads__ListActivitiesRequest *req,
                              leads_activity_list_t *out, crm_errors_t *errors);

//  --- activity_store.c: the SQL of a lead's activities -------------------------------------

//  An activity row as one JSON object in the API's shape (an Activity), built by
//  PostgreSQL: details holds the kind's own fields, the columns the rest. An
//  appointment's or test drive's scheduledAt is its occurred_at; outcome is a call's
//  outcome or an appointment's status.
#define LEADS_ACTIVITY_JSONB(t)                                                                    \
    "jsonb_strip_nulls(" t ".details || jsonb_build_object("                                       \
    "'id', " t ".id, 'leadId', " t ".lead_id, 'kind', " t ".kind, 'actorId', " t ".actor_id,"      \
    " 'occurredAt', " CRM_SQL_TS(                                                                  \
        t ".occurred_at") ","                                                                      \
                          " 'durationSeconds', nullif(" t ".duration_seconds, 0),"                 \
                          " 'outcome', CASE WHEN " t ".kind = 'call' THEN nullif(" t               \
                          ".outcome, '') END,"                                                     \
                          " 'status', CASE WHEN " t ".kind IN ('appointment', 'test_drive')"       \
                          "   THEN nullif(" t ".outcome, '') END,"                                 \
                          " 'scheduledAt', CASE WHEN " t ".kind IN ('appointment', 'test_drive')"  \
                          "   THEN " CRM_SQL_TS(                                                   \
                              t                                                                    \
                              ".occurred_at") " END,"                                              \
                                              " 'createdAt', " CRM_SQL_TS(                         \
                                                  t                                                \
                                                  ".created_at") ","                               \
                                                                 " 'updatedAt', " CRM_SQL_TS(      \
                                                                     t                             \
                                                                     ".updated_at") ","            \
                                                                                    " 'updatedBy'" \
                                                                                    ", nullif(" t  \
                                                                                    ".updated_by," \
                                                                                    " '')))"

#define LEADS_ACTIVITY_JSON(t) LEADS_ACTIVITY_JSONB(t) "::text"

//  A time column as microseconds since 1970 (a keyset cursor's value), and a cursor's
//  value parameter back as a time.
#define LEADS_SQL_MICROS(col) "(extract(epoch FROM " col ") * 1000000)::bigint"
#define LEADS_SQL_CURSOR_TIME(param)                                                               \
    "('epoch'::timestamptz + nullif(" param ", '')::bigint * interval '1 microsecond')"

//  Log a checked activity of lead_id (a live lead of the caller's tenant, of contact_id)
//  with its LeadActivityLogged (its id and lead set here): 201 with the stored activity
//  in *response, 404 when the lead is gone, or a failure code.
int leads_activity_store_insert(crm_call_t *call, const char *lead_id, const char *contact_id,
                                Crm__Leads__Activity *a, ProtobufCMessage **response);

//  One activity of the lead, locked, as the API's JSON (*json, caller frees): 200, 404,
//  or a failure code.
int leads_activity_store_read_for_update(crm_call_t *call, const char *lead_id,
                                         const char *activity_id, char **json);

//  Write a checked change of the activity with its LeadActivityLogged (changed: the JSON
//  names set): 200 with the stored activity in *response, or a failure code.
int leads_activity_store_update(crm_call_t *call, const char *lead_id, const char *activity_id,
                                const char *contact_id, const Crm__Leads__Activity *a,
                                char **changed, size_t n_changed, ProtobufCMessage **response);

//  The lead's activities newest first: 200 with *response, or a failure code.
int leads_activity_store_list(crm_call_t *call, const char *lead_id,
                              const leads_activity_list_t *page, ProtobufCMessage **response);

//  Log checked activity a of the notify service's (notify_follow.c) on lead_id of
//  tenant_id by actor_id, once per notify_ref, as a log is written (the lead's last
//  activity moves forward), in db's transaction; its LeadActivityLogged into outbox (its
//  id and lead set here). 1 logged, 0 nothing (logged already, or no such live lead of
//  the tenant), -1 failed.
int leads_activity_store_log_once(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                                  const char *lead_id, const char *actor_id, const char *notify_ref,
                                  bool touches, Crm__Leads__Activity *a);

//  --- activity_methods.c: the activities' methods ------------------------------------------

int leads_activity_create(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response);
int leads_activity_update(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response);
int leads_activity_list(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);

//  --- score_follow.c: the scoring service's LeadScored on the lead --------------------------

//  The priority a lead has after its band becomes band ("hot", "medium", "cold"): the
//  band's, unless manual (then current stays).
const char *leads_score_priority(bool manual, const char *current, const char *band);

//  What a LeadScored asks of its lead: its score (0-100) and band name. 0, or -1 when the
//  event cannot be read so (an unknown band, a score out of range, no lead id).
int leads_score_read(const Crm__Events__LeadScored *m, int *score, char band[8]);

//  The JSON names of what moved between before and after (score, band, priority), into
//  changed (at most 3). Returns how many.
size_t leads_score_changed(int score_before, const char *band_before, const char *priority_before,
                           int score_after, const char *band_after, const char *priority_after,
                           const char *changed[3]);

//  The follows table's "scoring" row (main.c): LeadScored kept on the lead.
crm_follow_fn leads_score_follow;

//  --- score_store.c: the score on the lead --------------------------------------------------

//  Put score and band on the live lead of tenant (its priority with them unless set by
//  hand) and, when any of score, band or priority moved, add LeadUpdated (changed: those
//  of the three that moved) to outbox. 0 (also when the lead is gone) or -1.
int leads_score_store_put(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                          const char *lead_id, int score, const char *band);

//  --- views.c: the rules of the read-only views (no database): timeline, hot sheet -----------

//  The timeline's page: its size and its cursor ('t') decoded.
typedef struct {
    int limit;
    leads_cursor_t cursor;
} leads_timeline_page_t;

int leads_timeline_check(const Crm__Leads__GetTimelineRequest *req, leads_timeline_page_t *out,
                         crm_errors_t *errors);

//  The hot sheet's request: an assignee id's length, a date (YYYY-MM-DD) when given. 0,
//  or -1 with errors added.
int leads_hot_sheet_check(const Crm__Leads__HotSheetRequest *req, crm_errors_t *errors);

//  A hot sheet section lists at most this many leads; the statement reads one more to
//  know it was truncated.
#define LEADS_HOT_SHEET_SECTION_MAX 200

//  Cut each of sheet's sections to LEADS_HOT_SHEET_SECTION_MAX, truncated set when one
//  was longer.
void leads_hot_sheet_trim(Crm__Leads__HotSheetResponse *sheet);

//  --- views_store.c: the views' SQL ---------------------------------------------------------

//  A lead's timeline: its activities, its moves and its creation, its assignments and
//  its follow-ups, newest first: 200 with *response, or a failure code.
int leads_views_store_timeline(crm_call_t *call, const char *lead_id,
                               const leads_timeline_page_t *page, ProtobufCMessage **response);

//  The day's hot sheet (assignee_id "" the store's; date "" today on the tenant's clock),
//  each section at most LEADS_HOT_SHEET_SECTION_MAX + 1 long: 200 with *out, or a
//  failure code.
int leads_views_store_hot_sheet(crm_call_t *call, const char *assignee_id, const char *date,
                                Crm__Leads__HotSheetResponse **out);

//  --- views_methods.c: the views' methods ---------------------------------------------------

//  A lead's timeline: its activities, its moves and its creation, newest first.
int leads_timeline(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response);

//  The daily hot sheet of a salesperson or of the store.
int leads_hot_sheet(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response);

//  --- member.c: the rules of a team member (no database) ----------------------------------

//  Minutes since midnight of "HH:MM" (00:00 to 24:00). Returns 0, or -1 when it is not one.
int leads_hhmm_parse(const char *text, int *minutes);

//  A postcode or postcode prefix as stored: upper case, spaces and hyphens removed, into
//  out. Returns 0, or -1 when it is empty or has other than letters and digits.
int leads_postcode_normalize(const char *text, char *out, size_t size);

//  A member's fields, put in their stored form (trimmed, email domain lower-cased, phone
//  E.164 in default_region, postcodes upper-cased, handle lower-cased and one an
//  @mention can name, role defaulted). Whether PostgreSQL knows the time zone is
//  member_store.c's question. 0, or -1 with errors added.
int leads_member_check(Crm__Leads__TeamMember *m, const char *default_region, crm_errors_t *errors);

//  The team list's page: its size, the cursor ("<uuid>.<name in hex>") decoded, and the
//  handle asked for (lower case; "" for any).
typedef struct {
    int limit;
    char cursor_id[40]; // "" for the first page
    char cursor_name[401];
    char handle[72];
} leads_member_list_t;

int leads_member_list_check(const Crm__Leads__ListTeamMembersRequest *req, leads_member_list_t *out,
                            crm_errors_t *errors);

//  The member's fields a PATCH cannot set, and why.
extern const leads_read_only_t leads_member_read_only[];
extern const size_t leads_member_n_read_only;

//  --- member_store.c: the team's SQL --------------------------------------------------------

//  One member: 200 with *out, 404, or a failure code.
int leads_member_store_read(crm_call_t *call, const char *id, Crm__Leads__TeamMember **out);

//  The list, by name: 200 with *out, or a failure code.
int leads_member_store_list(crm_call_t *call, Crm__Leads__TeamRole role, bool active_only,
                            bool available_only, const leads_member_list_t *page,
                            Crm__Leads__ListTeamMembersResponse **out);

//  Does PostgreSQL know time_zone (pg_timezone_names)? 0 with *known, or a failure code.
int leads_member_store_time_zone_known(crm_call_t *call, const char *time_zone, bool *known);

//  409 when another member than except has m's email, or (m active) its actor or its
//  handle: 0, 409 naming the field and the member, or a failure code.
int leads_member_store_unique(crm_call_t *call, const Crm__Leads__TeamMember *m,
                              const char *except);

//  Insert (insert true) or update member m: 0, 409, or a failure code.
int leads_member_store_write(crm_call_t *call, const Crm__Leads__TeamMember *m, bool insert);

//  Delete the member, or deactivate one who has had leads: 204, 404, or a failure code.
int leads_member_store_delete(crm_call_t *call, const char *id);

//  Is member_id an active member of the caller's tenant? 0, 422 naming field, or a
//  failure code.
int leads_member_check_assignee(crm_call_t *call, const char *member_id, const char *field);

//  The id of the caller's own member (the active member whose actorId is the caller's
//  actor) into id ("" when none): 0 or a failure code.
int leads_member_of_actor(crm_call_t *call, char id[40]);

//  --- member_methods.c: the team's methods ---------------------------------------------------

int leads_member_create(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int leads_member_get(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response);
int leads_member_update(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int leads_member_delete(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int leads_member_list(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response);

//  --- assignment.c: the rules of assignment (no database) ---------------------------------

//  Whether rule selects member for lead (member active, and inside its working hours now:
//  in_hours, worked out by the caller in the member's time zone): by the rule's kind, its
//  member list and its options. See AssignmentRuleKind in proto/leads.proto.
bool leads_rule_selects(const Crm__Leads__AssignmentRule *rule,
                        const Crm__Leads__TeamMember *member, bool in_hours,
                        const Crm__Leads__Lead *lead);

//  Whether member's specialisation (conditions, makes, price band) fits lead: it has at
//  least one of them and the lead meets each it has.
bool leads_member_fits_specialization(const Crm__Leads__TeamMember *member,
                                      const Crm__Leads__Lead *lead);

//  Whether member's territory (postcode prefixes, regions) covers lead's postcode or region.
bool leads_member_covers_territory(const Crm__Leads__TeamMember *member,
                                   const Crm__Leads__Lead *lead);

//  The fields of an assignment rule a PATCH names.
typedef struct {
    bool name, kind, position, member_ids, online_only, within_working_hours;
} leads_rule_fields_t;

//  A rule's own fields (the name trimmed, the member ids without repeats; whether they
//  are active members is assignment_store.c's question). 0, or -1 with errors added.
int leads_assignment_rule_check(Crm__Leads__AssignmentRule *rule, crm_errors_t *errors);

//  An update's mask: the fields it may change, into set. 0, or -1 with errors added.
int leads_assignment_rule_mask_check(const Crm__Leads__UpdateAssignmentRuleRequest *req,
                                     leads_rule_fields_t *set, crm_errors_t *errors);

//  rule with the fields set names taken from in.
void leads_assignment_rule_patch(Crm__Leads__AssignmentRule *rule,
                                 const Crm__Leads__AssignmentRule *in,
                                 const leads_rule_fields_t *set);

//  A manual assignment's request: an assignee, a note's length. 0, or -1.
int leads_assign_request_check(const Crm__Leads__AssignLeadRequest *req, crm_errors_t *errors);

//  --- assignment_store.c: the SQL of assignment ---------------------------------------------

int leads_assignment_store_rule_read(crm_call_t *call, const char *id,
                                     Crm__Leads__AssignmentRule **out);
int leads_assignment_store_rule_list(crm_call_t *call,
                                     Crm__Leads__ListAssignmentRulesResponse **out);

//  The rule's members must be active members of the tenant (*array: their ids as a text
//  array, the caller's to free): 0, 422 naming each that is not, or a failure code.
int leads_assignment_store_rule_members(crm_call_t *call, const Crm__Leads__AssignmentRule *rule,
                                        char **array);

//  Take the tenant's assignment lock (assignment_state), until the transaction ends.
int leads_assignment_store_lock(crm_call_t *call);
int leads_assignment_store_rule_insert(crm_call_t *call, const char *id,
                                       const Crm__Leads__AssignmentRule *rule, const char *members);
int leads_assignment_store_rule_update(crm_call_t *call, const char *id,
                                       const Crm__Leads__AssignmentRule *rule, const char *members);
int leads_assignment_store_rule_move(crm_call_t *call, const char *id, uint32_t position);
//  204, 404, or a failure code.
int leads_assignment_store_rule_delete(crm_call_t *call, const char *id);

//  Automatic assignment: under the tenant's lock, its rules by position and its active
//  members with whether each is in its working hours now (JSON; *rules NULL: no rules).
int leads_assignment_store_load(crm_call_t *call, json_t **rules, json_t **members);

//  Rule gives the lead to one of candidates (n), the round robin's turn: *chosen. 0 or a
//  failure code.
int leads_assignment_store_pick(crm_call_t *call, const char *rule_id, char **candidates, size_t n,
                                char chosen[40]);

//  Record an assignment of lead_id already written to the lead: its history row and
//  LeadAssigned (rule: a rule's id, or "manual"). 0 or a failure code.
int leads_assignment_store_record(crm_call_t *call, const char *lead_id, const char *from,
                                  const char *to, const char *rule, const char *note);

//  A manual assignment of lead to assignee_id: the lead, its history row, LeadAssigned.
int leads_assignment_store_manual(crm_call_t *call, const Crm__Leads__Lead *lead,
                                  const char *assignee_id, const char *note);

//  A live lead's assignment history: 200 with *response, 404, or a failure code.
int leads_assignment_store_history(crm_call_t *call, const char *lead_id,
                                   ProtobufCMessage **response);

//  --- assignment_methods.c: the rules' methods, manual and automatic assignment -----------

int leads_rule_create(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response);
int leads_rule_get(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response);
int leads_rule_update(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response);
int leads_rule_delete(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response);
int leads_rule_list(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response);
int leads_assign_manual(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int leads_assignments_list(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response);

//  Run the tenant's rules for lead (new, without an assignee): sets lead->assignee_id and
//  rule_id (its id; "" when no rule chose anyone). 0 or a failure code.
int leads_assign_auto(crm_call_t *call, Crm__Leads__Lead *lead, char rule_id[40]);

//  --- followup.c: the rules of a lead's follow-ups (no database) ---------------------------

//  A new follow-up: dueAt (an RFC 3339 date-time not in the past) or pick, one of them;
//  the note's and the assignee's lengths; pending when a status is given. 0, or -1 with
//  errors added.
int leads_followup_check_new(const Crm__Leads__FollowUp *f, crm_errors_t *errors);

//  What a PATCH of a follow-up changes: follow_up the request's (an empty one when it
//  has none), the fields named, and the status it closes it into ("completed",
//  "cancelled", or "" to keep it pending).
typedef struct {
    const Crm__Leads__FollowUp *follow_up;
    bool when, method, note, assignee, closing;
    const char *status;
} leads_followup_change_t;

//  A PATCH's mask (dueAt or pick, method, note, status, assigneeId) and the values it
//  names, into set. An empty mask is no error here: the method answers it. 0, or -1
//  with errors added.
int leads_followup_update_check(const Crm__Leads__UpdateFollowUpRequest *req,
                                leads_followup_change_t *set, crm_errors_t *errors);

//  The list's filters as the statement takes them: the status's API name ("" any),
//  dueBefore as UTC text ("" none), the page's size and its cursor ('d') decoded.
typedef struct {
    char status[16];
    char due_before[40];
    int limit;
    leads_cursor_t cursor;
} leads_followup_list_t;

int leads_followup_list_check(const Crm__Leads__ListFollowUpsRequest *req,
                              leads_followup_list_t *out, crm_errors_t *errors);

//  How long the scheduler sleeps before it looks again: at once after a full batch, else
//  until the next due time (next_due_ms from now; negative: none known), at most poll_ms.
int leads_scheduler_wait_ms(int claimed, int batch, long long next_due_ms, int poll_ms);

//  --- followup_store.c: the follow-ups' SQL, and the lead's followUpAt ----------------------

//  The lead, live and the tenant's, locked when lock (a write): 200 with *closed (won or
//  lost) and its followUpAt as text (either may be NULL), 404, or a failure code.
int leads_followup_store_lead(crm_call_t *call, const char *lead_id, bool lock, bool *closed,
                              char follow_up_at[40]);

//  Insert checked follow-up f of the (locked) lead, the lead's follow_up_at moved earlier
//  if it is now the first: 201 with *response, or a failure code.
int leads_followup_store_insert(crm_call_t *call, const char *lead_id,
                                const Crm__Leads__FollowUp *f, ProtobufCMessage **response);

//  The follow-up's status, locked ("" when the lead has no such follow-up). 0 or a
//  failure code.
int leads_followup_store_status(crm_call_t *call, const char *lead_id, const char *follow_up_id,
                                char status[16]);

//  A checked change of a pending follow-up, the lead's follow_up_at its earliest pending
//  due time after it: 200 with *response, or a failure code.
int leads_followup_store_update(crm_call_t *call, const char *lead_id, const char *follow_up_id,
                                const leads_followup_change_t *set, ProtobufCMessage **response);

//  One follow-up of a live lead: 200 with *response, 404, or a failure code.
int leads_followup_store_get(crm_call_t *call, const char *lead_id, const char *follow_up_id,
                             ProtobufCMessage **response);

//  The list (lead_id, assignee_id: "" any) in due order: 200 with *response, or a
//  failure code.
int leads_followup_store_list(crm_call_t *call, const char *lead_id, const char *assignee_id,
                              const leads_followup_list_t *page, ProtobufCMessage **response);

//  A lead created with followUpAt (lead as inserted): its first follow-up, a call at that
//  time without a note. 0 or a failure code.
int leads_followups_on_create(crm_call_t *call, const Crm__Leads__Lead *lead);

//  A PATCH of lead (locked, before it is written) that names followUpAt: set, it moves the
//  lead's next pending follow-up to that time (or schedules a call then, when none is
//  pending); cleared, it cancels every pending one. lead->follow_up_at becomes the
//  lead's earliest pending due time after it (the value given when that is it). 0 or a
//  failure code.
int leads_followups_on_update(crm_call_t *call, Crm__Leads__Lead *lead);

//  Schedule a lost lead's long-term follow-up at at (RFC 3339, or a date: 9:00 on the
//  tenant's clock), a call with note, firing although the lead is closed; the lead's
//  followUpAt becomes its time. 0, 422 naming lost.followUpAt when it is not in the
//  future, or a failure code.
int leads_followups_long_term(crm_call_t *call, const char *lead_id, const char *at,
                              const char *note);

//  The lead was closed (won or lost) or deleted: its pending follow-ups are cancelled
//  with reason ("lead_closed", "lead_deleted") and its followUpAt cleared. 0 or a failure
//  code.
int leads_followups_cancel_pending(crm_call_t *call, const char *lead_id, const char *reason);

//  The scheduler's pass, in one transaction of db: claim up to batch due follow-ups that
//  have not fired (FOR UPDATE SKIP LOCKED), fire them (cancel those whose lead was closed
//  or deleted) with one FollowUpDue each through the outbox writer, commit. The number
//  claimed, with *fired those that fired, or -1 (rolled back: tried again later).
int leads_followup_store_fire(crm_db_t *db, int batch, int *fired);

//  Milliseconds until the next follow-up is due, -1 when none waits (or on failure).
long long leads_followup_store_next_due_ms(crm_db_t *db);

//  --- followup_methods.c: the follow-ups' methods ------------------------------------------

int leads_followup_create(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response);
int leads_followup_update(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response);
int leads_followup_list(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int leads_followup_get(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);

//  A follow-up in the API's shape; contact and assignee: the SQL giving its lead's
//  contact and assignee (the follow-up's own assignee wins when it has one).
#define LEADS_FOLLOW_UP_JSONB(f, contact, assignee)                                                                   \
    "jsonb_build_object('id', " f ".id, 'leadId', " f ".lead_id, 'contactId', " contact ","                           \
    " 'dueAt', " CRM_SQL_TS(                                                                                          \
        f ".due_at") ", 'method', " f ".method, 'note', " f ".note,"                                                  \
                     " 'status', " f ".status, 'assigneeId', coalesce(nullif(" f                                      \
                     ".assignee_id, ''), " assignee "), 'firedAt', " CRM_SQL_TS(                                      \
                         f                                                                                            \
                         ".fired_at") ","                                                                             \
                                      " 'cancelReason', " f ".cancel_reason,"                                         \
                                      " 'overdue', " f ".status = 'pending' AND " f                                   \
                                      ".due_at < now(),"                                                              \
                                      " 'createdBy', " f ".created_by, 'createdAt', " CRM_SQL_TS(                     \
                                          f ".created_at") ","                                                        \
                                                           " 'updatedAt', " CRM_SQL_TS(                               \
                                                               f ".updated_at") ","                                   \
                                                                                " 'completedAt',"                     \
                                                                                " " CRM_SQL_TS(                       \
                                                                                    f                                 \
                                                                                    ".completed_"                     \
                                                                                    "at") ","                         \
                                                                                          " '"                        \
                                                                                          "cancel"                    \
                                                                                          "ledAt'"                    \
                                                                                          ","                         \
                                                                                          " " CRM_SQL_TS(             \
                                                                                              f                       \
                                                                                              ".c"                    \
                                                                                              "an"                    \
                                                                                              "ce"                    \
                                                                                              "ll"                    \
                                                                                              "ed"                    \
                                                                                              "_a"                    \
                                                                                              "t") ", 'longTerm', " f \
                                                                                                   ".long_term)"

//  An assignment history row in the API's shape (an Assignment).
#define LEADS_ASSIGNMENT_JSONB(h)                                                                  \
    "jsonb_build_object('fromAssigneeId', " h ".from_member,"                                      \
    " 'toAssigneeId', " h ".to_member, 'ruleId', coalesce(" h ".rule_id::text, ''),"               \
    " 'rule', " h ".rule, 'note', " h ".note, 'actorId', " h ".actor_id,"                          \
    " 'assignedAt', " CRM_SQL_TS(h ".assigned_at") ")"

//  --- settings.c: the rules of the tenant's sales settings (no database) -----------------

#define LEADS_TIME_ZONE_MAX_LEN 64

//  The settings a PATCH names.
typedef struct {
    bool time_zone, response_target, sales_see_all;
} leads_settings_fields_t;

//  A PATCH of the settings: its mask (timeZone, responseTargetHours, salesSeeAllLeads),
//  a time zone name
//  given (whether PostgreSQL knows it is settings_store.c's question), a response target
//  from 1 to 720 hours. 0, or -1 with errors added.
int leads_settings_update_check(const Crm__Leads__UpdatePipelineSettingsRequest *req,
                                leads_settings_fields_t *set, crm_errors_t *errors);

//  --- settings_store.c: the settings' SQL ---------------------------------------------------

//  The tenant's settings (the defaults when it has no row): 200 with *response, or a
//  failure code.
int leads_settings_store_read(crm_call_t *call, ProtobufCMessage **response);

//  The name PostgreSQL knows for time_zone (matched without regard to case) into zone,
//  "" when it knows none: 0 or a failure code.
int leads_settings_store_time_zone(crm_call_t *call, const char *time_zone,
                                   char zone[LEADS_TIME_ZONE_MAX_LEN + 1]);

//  Write the settings (zone, target, see_all ("true", "false") as text; "" keeps the
//  stored value, or the default for a new row): 200 with *response, or a failure code.
int leads_settings_store_write(crm_call_t *call, const char *zone, const char *target,
                               const char *see_all, ProtobufCMessage **response);

//  --- settings_methods.c: the settings' methods -----------------------------------------

int leads_settings_get(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);
int leads_settings_update(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response);

//  --- scheduler.c: fires due follow-ups -----------------------------------------------------

//  The follow-up scheduler, a job of the daemon's runner (main.c's table): its state
//  (the batch and poll of the configuration), one pass a step (the FollowUpDue events
//  it commits kick the relay), and its period, leads.scheduler_ms.
void *leads_scheduler_new(const crm_config_t *cfg, crm_db_t *db);
void leads_scheduler_destroy(void **state_p);
crm_step_result_t leads_scheduler_step(crm_step_t *step);
int leads_scheduler_ms(const crm_config_t *cfg);

#endif
