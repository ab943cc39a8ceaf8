/*  contacts: the daemon's internal interface between handlers and store. */
#ifndef CONTACTS_H
#define CONTACTS_H

#include "bus_client.h"
#include "contacts.pb-c.h"
#include "dedupe.pb-c.h"
#include "events.pb-c.h"
#include "outbox.h"
#include "follower.h"
#include "json_pb.h"
#include <jansson.h>
#include "mentions.h"
#include "runner.h"
#include "service.h"

//  SQL shared by the daemon's statements (store.c and the resources' _store.c files).
//  A timestamp column as the API writes it: RFC 3339, UTC, microseconds.
#define CONTACTS_TS(col) CRM_SQL_TS(col)

//  A contact row as one JSON object in the API's shape, built by PostgreSQL: the columns
//  and the profile (which holds the rest in that shape already). It goes through the
//  generic transcoder into the protobuf message, so the column-to-field mapping is
//  written once, here.
#define CONTACT_JSON(t)                                                                       \
    "(jsonb_build_object('id', " t ".id, 'kind', " t ".kind, 'type', " t ".type,"             \
    " 'firstName', " t ".first_name, 'lastName', " t ".last_name, 'name', " t ".name,"        \
    " 'source', nullif(" t ".source, ''), 'tags', " t ".tags, 'emails', " t ".emails,"        \
    " 'phones', " t ".phones, 'supplier', " t ".supplier, 'assignee', " t ".assignee,"        \
    " 'leadCount', " t ".lead_count,"                                                         \
    " 'lastActivityAt', " CONTACTS_TS(t ".last_activity_at") ","                              \
    " 'createdAt', " CONTACTS_TS(t ".created_at") ","                                         \
    " 'updatedAt', " CONTACTS_TS(t ".updated_at") ") || " t ".profile)::text"

//  A job row as the API shows it (a Job).
#define CONTACTS_JOB_JSON(t)                                                                  \
    "json_build_object('id', " t ".id, 'kind', " t ".kind, 'status', " t ".status,"           \
    " 'action', " t ".request->>'action', 'total', " t ".total,"                              \
    " 'processed', " t ".processed, 'changed', " t ".changed, 'failed', " t ".failed,"        \
    " 'errors', " t ".errors, 'actorId', " t ".actor_id,"                                     \
    " 'createdAt', " CONTACTS_TS(t ".created_at") ","                                         \
    " 'startedAt', " CONTACTS_TS(t ".started_at") ","                                         \
    " 'finishedAt', " CONTACTS_TS(t ".finished_at") ")::text"

//  A creation's audit entry, in the statement that creates (the rows of `row`, RETURNING
//  every column): the contact's image as created. Updates are audited by a trigger.
#define CONTACTS_AUDIT_CREATED_SQL(row) CONTACTS_AUDIT_CREATED_WITH_SQL(row, "")

//  The same with more members in the image (note: SQL text " || <jsonb>"): how it was
//  created ("allowDuplicate": true).
#define CONTACTS_AUDIT_CREATED_WITH_SQL(row, note)                                            \
    " audit AS ("                                                                             \
    "  INSERT INTO contact_audit (tenant_id, contact_id, at, actor_id, action, changes)"      \
    "  SELECT i.tenant_id, i.id, i.updated_at, i.updated_by, 'created',"                      \
    "         contact_audit_image(ROW(i.*)::contacts)" note                                   \
    "  FROM " row " i),"

//  The event of a write, in the same statement (so the same transaction): one outbox
//  row of type per row of `row`, for tenant $1 and aggregate $2; at, id and payload name
//  the parameters holding the time of the change, the event id and the payload.
#define CONTACTS_OUTBOX_SQL(type, row, at, id, payload)                                       \
    CONTACTS_OUTBOX_AGG_SQL(type, row, "$2::uuid::text", at, id, payload)

//  The same with the aggregate id given (an SQL expression of text).
#define CONTACTS_OUTBOX_AGG_SQL(type, row, aggregate, at, id, payload)                        \
    CRM_OUTBOX_SQL("ev", type, row, aggregate, at, id, payload)

//  The service's state, shared by its methods.
typedef struct {
    const crm_config_t *cfg;
    crm_bus_client_t *notify; // bulk send_email: the notify service's CreateCampaignFromBulk
    //  The duplicate check before creates (duplicate_methods.c): a client per tenant of
    //  a batch (one request each, at once), and until when dedupe is not asked after it
    //  did not answer (monotonic ms).
    crm_bus_client_t **dedupe;
    size_t n_dedupe;
    int64_t dedupe_skip_until;
} contacts_t;

//  The contact's methods (handlers.c).
crm_method_fn contacts_contact_create, contacts_contact_get, contacts_contact_match,
    contacts_contact_update, contacts_contact_delete, contacts_contact_add_tag,
    contacts_contact_remove_tag;

extern const crm_method_t contacts_methods[];
extern const crm_migration_t contacts_migrations[];

//  A contact ready to be written: validated, normalised, rendered for the store.
typedef struct {
    const char *id;
    const char *kind;       // 'person' | 'organization'
    const char *type;       // 'prospect' | 'customer' | 'service'
    const char *first_name;
    const char *last_name;
    const char *name;
    const char *source;     // '' when unknown
    char *tags_array;       // text[] literal
    char *emails_json;      // JSON array of Email objects
    char *phones_json;      // JSON array of Phone objects
    char *email_keys_array; // text[] literal of normalised addresses
    const char *supplier;   // 'true' | 'false'
    const char *assignee;
    const char *organization_id;  // NULL when not linked
    char *profile_json;     // the rest of the profile: JSON object in the API's shape
} contacts_row_t;

void contacts_row_reset(contacts_row_t *row);

//  A contact from CONTACT_JSON's text; NULL (logged) if it does not parse.
Crm__Contacts__Contact *contacts_from_json(const char *text);

//  Where a contact is read and written, and by whom: a request's tenant and actor, or a
//  job's (the import). The contact's store takes this rather than a request's call.
typedef struct {
    crm_db_t *db;
    const char *tenant_id;
    const char *actor_id;
} contacts_scope_t;

//  --- contact.c: the rules of a contact (no database) -----------------------------------

//  Store-ready enum names, in buffers owned by the caller.
typedef struct {
    char kind[32], type[32], source[32];
} contacts_row_names_t;

//  Questions of one kind that a contact's rules ask the store: names (borrowed from the
//  contact), where each is in the contact (an index of its list), and the store's
//  answers (NULL: none; owned).
typedef struct {
    const char **names;
    size_t *at;
    char **answers;
    size_t n;
} contacts_ask_t;

//  What a contact's rules need from the tenant's data, asked by contacts_contact_check,
//  answered by contacts_contact_store_lookup, used by contacts_contact_check_known.
typedef struct {
    contacts_ask_t tags;          // the catalogue's spelling of each tag
    contacts_ask_t phone_types;   // the tenant's spelling of each custom phone type
    contacts_ask_t fields;        // each custom field's definition: "type options-json"
    const char *organization_id;  // the linked organization (NULL: none)
    char organization_kind[16];   // its kind ("": not a live contact of the tenant)
} contacts_lookup_t;

void contacts_lookup_reset(contacts_lookup_t *lookup);

//  Check and normalise c in place by the rules that need nothing but the request: names,
//  emails, phones (E.164 in region), tags' form, the SMS order, the organization link,
//  addresses, vehicles, social profiles, personal details, custom field values' form;
//  adds field errors (each named from prefix: "" or "contacts[3].") and the questions
//  for the store to lookup. 0, or -1 with errors.
int contacts_contact_check(Crm__Contacts__Contact *c, const char *region, const char *prefix,
                           crm_errors_t *errors, contacts_lookup_t *lookup);

//  The rules that need the store's answers: tags in the catalogue (spelled as it spells
//  them, each once), phone types of the tenant, the organization a live organization,
//  custom field values against their definitions. 0, or -1 with errors.
int contacts_contact_check_known(Crm__Contacts__Contact *c, const char *prefix,
                                 const contacts_lookup_t *lookup, crm_errors_t *errors);

//  Render a checked contact for the store: row points into c and names (both must live
//  as long as row); the person's name derived from first and last.
void contacts_contact_render(Crm__Contacts__Contact *c, contacts_row_t *row,
                             contacts_row_names_t *names);

//  Copy the field named (its JSON or proto name) from patch into c, as a PATCH does
//  (the patch is a private copy: storage is swapped). -1 for a name that cannot change.
int contacts_contact_apply_field(Crm__Contacts__Contact *c, const Crm__Contacts__Contact *patch,
                                 const char *name);

//  A Match request checked: the email as its key (lower case) and the phone in E.164,
//  one of them at least. 0, or -1 with errors.
int contacts_match_check(const Crm__Contacts__MatchContactRequest *req, const char *region,
                         char *email, size_t email_size, char *phone, size_t phone_size,
                         crm_errors_t *errors);

//  An Update request's mask names contact fields (and comes with a contact). 0, or -1
//  with errors.
int contacts_update_check(const Crm__Contacts__UpdateContactRequest *req, crm_errors_t *errors);

//  An assignee as the profile takes it: a team member's id of up to 100 letters, digits
//  and . _ @ + - ("" unassigns).
bool contacts_assignee_valid(const char *assignee);
//  A field error on field when value has more than max characters.
void contacts_check_length(crm_errors_t *errors, const char *field, const char *value, size_t max);

//  --- duplicate.c: the rules of the duplicate check before a create ----------------------

//  What the check said of one create: dedupe answered and nothing blocks (checked), no
//  answer in time (skipped), not asked (allowDuplicate), a likely duplicate (blocked).
typedef enum {
    CONTACTS_DUPLICATE_CHECKED,
    CONTACTS_DUPLICATE_SKIPPED,
    CONTACTS_DUPLICATE_ALLOWED,
    CONTACTS_DUPLICATE_BLOCKED,
} contacts_duplicate_check_t;

//  As X-Duplicate-Check says it: "checked", "skipped", "allowed", "blocked".
const char *contacts_duplicate_check_name(contacts_duplicate_check_t check);

//  Decide a create from dedupe's matches for its draft (NULL: no answer in time):
//  blocked when a match scores at least block_threshold (percent). listed (size bytes)
//  gets the ids of the matches below it, joined by commas ("" when none).
contacts_duplicate_check_t contacts_duplicate_decide(const Crm__Dedupe__DraftMatches *found,
                                                     bool allow_duplicate, int block_threshold,
                                                     char *listed, size_t size);

//  The draft dedupe is sent for contact c: what it matches on (names, emails, phones,
//  addresses), pointing into c.
void contacts_duplicate_draft(const Crm__Contacts__Contact *c, Crm__Contacts__Contact *draft);

//  --- duplicate_methods.c: the check, for a batch of creates ------------------------------

//  The Create method's ahead: the batch's drafts to dedupe (CheckDuplicatesBatch), one
//  request per tenant, at once, each bounded by contacts.dedupe_deadline_ms.
crm_ahead_fn contacts_contact_create_ahead;

//  The check's verdict on a create (from call->note): 0 to go ahead (with
//  X-Duplicate-Check and, when some were found below the block threshold,
//  X-Possible-Duplicates on the answer), or 409 possible_duplicate with the candidates
//  in the error's details.
int contacts_duplicate_answer(crm_call_t *call, bool allow_duplicate);

//  --- contact_methods.c -------------------------------------------------------------------

//  The whole check of a contact outside a request (the import's rows) and inside one:
//  the rules, the store's answers to their questions, the rules that need them, and
//  the row for the store. 0, 422 with errors, or -1 when the database failed.
int contacts_contact_prepare_in(crm_db_t *db, const char *tenant_id, const char *region,
                                Crm__Contacts__Contact *c, const char *prefix,
                                crm_errors_t *errors, contacts_row_t *row,
                                contacts_row_names_t *names);

//  A stored contact changed: read (locked), the fields of mask copied from patch (which
//  they are taken from), checked as a whole, written with its ContactUpdated. 200 with
//  *out (may be NULL: not wanted), 404, 409 (conflict_id: the holder of an address),
//  422 with errors, 500 (the stored contact unreadable), or -1 when the database failed.
int contacts_contact_update_in(const contacts_scope_t *scope, const char *region, const char *id,
                               Crm__Contacts__Contact *patch, char *const *mask, size_t n_mask,
                               crm_errors_t *errors, char conflict_id[64],
                               Crm__Contacts__Contact **out);

//  --- contact_store.c ------------------------------------------------------------------

//  A contact's update and read for scope, the update with its event in the same
//  statement: 200, 404 (none, or deleted), 409 with errors (and conflict_id, the holder
//  of one of its addresses, when known), 500 (a stored contact unreadable), or -1 when
//  the database failed. Written, c carries the stored times. (A create is the Create
//  method's only, through the request's batch: contacts_store_insert.)
int contacts_contact_store_update(const contacts_scope_t *scope, const contacts_row_t *row,
                                  Crm__Contacts__Contact *c, const char *const *changed,
                                  size_t n_changed, crm_errors_t *errors, char conflict_id[64]);
int contacts_contact_store_get(const contacts_scope_t *scope, const char *id, bool for_update,
                               Crm__Contacts__Contact **out);

//  One of those codes as a request's reply: the call's error (not_found,
//  duplicate_email, conflict, internal, or the database's failure) and field errors.
int contacts_answer_write(crm_call_t *call, int code, crm_errors_t *errors,
                          const char *conflict_id);

//  Answer the questions of lookup for tenant_id (one query per kind asked). 0 or -1.
int contacts_contact_store_lookup(crm_db_t *db, const char *tenant_id, contacts_lookup_t *lookup);

//  The contact holding an email key or an E.164 number (email first): 200 with *out,
//  404, or a failure code.
int contacts_store_match(crm_call_t *call, const char *email, const char *phone,
                         Crm__Contacts__MatchContactResponse **out);

//  Insert row (rendered from c): 201 with c's timestamps set, 409 (the existing contact's
//  id in call->conflict_id, the address's field named) when a contact holds one of its
//  addresses, or a database failure code. allow_duplicate: created although the
//  duplicate check refused it (its audit entry says "allowDuplicate": true).
int contacts_store_insert(crm_call_t *call, const contacts_row_t *row, Crm__Contacts__Contact *c,
                          bool allow_duplicate);

//  Read one live contact; for_update locks it. 200 with *out, 404, or failure code.
int contacts_store_get(crm_call_t *call, const char *id, bool for_update,
                       Crm__Contacts__Contact **out);

//  Replace the stored fields of row->id (rendered from c). 200 with c's timestamps
//  set, 404, 409, or failure code. changed: the JSON names of the fields the request
//  set, carried by the ContactUpdated event. Every write also writes its event
//  (ContactCreated, ContactUpdated, ContactDeleted) to the outbox in its statement.
int contacts_store_update(crm_call_t *call, const contacts_row_t *row, Crm__Contacts__Contact *c,
                          const char *const *changed, size_t n_changed);

//  Soft-delete; frees the contact's email addresses. 204, 404 or failure code.
int contacts_store_delete(crm_call_t *call, const char *id);

//  --- The list: filters and search: search.c (rules), search_store.c (SQL: the statement
//  built per request), search_methods.c --------------------------------------------------
//  contacts_list is the "List" method; contacts_list_run runs a request (saved filters
//  run theirs).
crm_method_fn contacts_list;
int contacts_list_run(crm_call_t *call, const Crm__Contacts__ListContactsRequest *req,
                      Crm__Contacts__ListContactsResponse **out);
//  Check a list request (field errors named prefix + field): 0 or 422. *offset: where a
//  search's cursor continues.
int contacts_list_check(crm_call_t *call, const Crm__Contacts__ListContactsRequest *req,
                        const char *prefix, long *offset);

#define CONTACTS_SEARCH_Q_MAX_LEN 200    // characters of a search text
#define CONTACTS_SEARCH_MAX_OFFSET 10000 // how deep a search pages

//  The rules (search.c). A list request but its limit (crm_page_limit's): 0 with
//  *offset (a search's cursor), or -1 with field errors named prefix + field (cursor, q,
//  createdFrom, createdTo, activityFrom, activityTo, organizationId, assignee, tag,
//  consentChannel, consentPurpose, consentStatus).
int contacts_search_check(const Crm__Contacts__ListContactsRequest *req, const char *prefix,
                          long *offset, crm_errors_t *errors);
//  The search text of req, trimmed, into text ("": no search).
void contacts_search_text(const Crm__Contacts__ListContactsRequest *req, char *text, size_t size);
//  What the text looks like: a phone number as people type them (digits, at least 3,
//  and + ( ) - . space), its digits into digits.
bool contacts_search_phone_like(const char *q, char *digits, size_t size);
//  The values the statement looks for (caller frees): a LIKE pattern of the first len
//  bytes of text, lower-cased, anywhere (%, _ and \ literal); the same of all of text;
//  text lower-cased; a prefix tsquery of its words ("ann le" -> "'ann':* & 'le':*";
//  NULL: no word); the words as a PostgreSQL array of "n:word" with every spelling one
//  slip away (*words: how many words, at most 4).
char *contacts_search_like_pattern(const char *text, size_t len);
char *contacts_search_contains_pattern(const char *text);
char *contacts_search_lower_dup(const char *text);
char *contacts_search_prefix_tsquery(const char *text);
char *contacts_search_word_edits(const char *text, int *words);
//  The cursor after a page of n (caller frees; NULL: none): a search's next offset
//  ("s:<n>", while under CONTACTS_SEARCH_MAX_OFFSET), else the last id.
char *contacts_search_next_cursor(bool search, long offset, int n, const char *last_id);

//  The store (search_store.c). One page of the list for req (checked), text its search:
//  200 with *out, or a failure code.
int contacts_search_store_list(crm_call_t *call, const Crm__Contacts__ListContactsRequest *req,
                               const char *text, int limit, long offset,
                               Crm__Contacts__ListContactsResponse **out);
//  Fix the contacts filter finds (a checked list request) as job job_id's items
//  (job_items), keeping only the contacts c for which condition holds (SQL over the row
//  c and the tenant $1; NULL: none; the caller's constant text, never input); region
//  reads a phone number searched for. 0 with *count, or -1 when the database failed.
int contacts_search_store_select_for_job(crm_db_t *db, const char *tenant_id, const char *region,
                                         const Crm__Contacts__ListContactsRequest *filter,
                                         const char *job_id, const char *condition,
                                         long *count);
//  The same for a request's call (search_methods.c), its filter checked first: 0 with
//  *count, 422 (field errors under "filter."), or a failure code.
int contacts_select_for_job(crm_call_t *call, const Crm__Contacts__ListContactsRequest *filter,
                            const char *job_id, long *count);

//  --- One change to many contacts: bulk.c (rules), bulk_store.c (SQL, events),
//  bulk_methods.c ---------------------------------------------------------------------
crm_method_fn contacts_bulk;
#define CONTACTS_BULK_CHUNK 500
//  The rules (bulk.c). Whether a caller of role may take req's action at all (delete
//  and send_email: managers and admins); false is answered 403, before any check.
bool contacts_bulk_role_may(const Crm__Contacts__BulkContactsRequest *req, const char *role);
//  Check req (the assignee trimmed in place): 0, or -1 with field errors (ids, ids[i],
//  filter, action, type, assignee, tags, templateId, campaignName).
int contacts_bulk_check(Crm__Contacts__BulkContactsRequest *req, crm_errors_t *errors);
//  The action is send_email: a campaign of the notify service, not a change here.
bool contacts_bulk_is_send_email(const Crm__Contacts__BulkContactsRequest *req);
//  The action adds or removes tags (they must be in the catalogue).
bool contacts_bulk_is_tag_action(const Crm__Contacts__BulkContactsRequest *req);
//  A change of total contacts is done in the request (else it is queued).
bool contacts_bulk_runs_inline(long total);
//  The store (bulk_store.c). Make job id for req, with its items (the ids, or what its
//  filter finds): 0 with *total, 422 (the filter's field errors), or a failure code.
int contacts_bulk_store_create(crm_call_t *call, Crm__Contacts__BulkContactsRequest *req,
                               const char *id, long *total);
//  Do the next chunk (at most chunk items) of bulk job job_id in db's transaction: the
//  changes, their events and the job's progress. 0 (*finished when no item is left) or
//  -1 (the database failed; nothing of the chunk stays once rolled back).
int contacts_bulk_step(crm_db_t *db, const char *tenant_id, const char *job_id,
                       const char *actor_id, const Crm__Contacts__BulkContactsRequest *req,
                       int chunk, bool *finished);

//  --- Jobs (bulk changes and imports) and their progress: job.c (rules), job_store.c
//  (SQL), job_methods.c (the job runner's step, GetJob, ListJobs) -------------------------
crm_method_fn contacts_job_get, contacts_job_list;
#define CONTACTS_JOBS_LIST_DEFAULT 20
#define CONTACTS_JOBS_LIST_MAX 100

//  The rules (job.c). A queued job of this kind is an import (else a bulk change).
bool contacts_job_is_import(const char *kind);
//  A bulk job's stored request (its JSON) as a message (caller frees), NULL with *err
//  when it does not parse.
Crm__Contacts__BulkContactsRequest *contacts_job_bulk_request(const char *text,
                                                              crm_json_error_t *err);
//  An id that can name a job (a UUID).
bool contacts_job_id_valid(const char *id);

//  A job claimed by the job runner (its request as stored: JSON).
typedef struct {
    char *tenant_id, *id, *actor_id, *request, *kind;
} contacts_claimed_job_t;

//  The store (job_store.c). Claim the oldest job waiting into *job, locked for db's
//  transaction: 1, 0 when none waits, -1 when the database failed.
//  contacts_claimed_job_reset frees it.
int contacts_job_store_claim(crm_db_t *db, contacts_claimed_job_t *job);
void contacts_claimed_job_reset(contacts_claimed_job_t *job);
//  Mark a job failed with message: 0 or -1.
int contacts_job_store_fail(crm_db_t *db, const char *tenant_id, const char *id,
                            const char *message);
//  Read one job of the tenant through db: 200 with *out, 404, or a failure code.
int contacts_job_read(crm_call_t *call, crm_db_t *db, const char *tenant_id, const char *id,
                      Crm__Contacts__Job **out);
//  The tenant's latest jobs, at most limit: 200 with *out, or a failure code.
int contacts_job_store_list(crm_call_t *call, int limit, Crm__Contacts__ListJobsResponse **out);

//  Jobs of the daemon's runner (main.c's table). The job runner works through queued
//  jobs, a chunk a step (its state: the importer keeping an import's file open), looking
//  again every JOBS_IDLE_MS when none waits (job_methods.c); the retention sweep erases
//  a batch of contacts past their retention a step, every contacts.retention_sweep_ms
//  (erase_methods.c).
void *contacts_jobs_new(const crm_config_t *cfg, crm_db_t *db);
void contacts_jobs_destroy(void **state_p);
crm_step_result_t contacts_jobs_step(crm_step_t *step);
int contacts_jobs_idle_ms(const crm_config_t *cfg);
crm_step_result_t contacts_retention_sweep_step(crm_step_t *step);
int contacts_retention_sweep_ms(const crm_config_t *cfg);

//  --- Erasure, asked for and due (the retention sweep): erase.c (rules), erase_store.c
//  (SQL, events), erase_methods.c -------------------------------------------------------
crm_method_fn contacts_erase_method;
//  The actor of the retention sweep's erasures.
#define CONTACTS_RETENTION_ACTOR "system:retention"
//  The rules (erase.c): a request names a contact when its id is a UUID.
bool contacts_erase_names_contact(const Crm__Contacts__EraseContactRequest *req);
//  The sweep's step after erasing erased contacts: worked (look again at once) or idle.
crm_step_result_t contacts_retention_outcome(int erased);
//  The store (erase_store.c). contacts_erase: in db's transaction, 1 erased (with
//  ContactErased, the contact's past events scrubbed), 0 unknown or erased already, -1
//  failed. contacts_erase_due: the retention sweep, one batch; 0 or -1.
int contacts_erase(crm_db_t *db, const char *tenant_id, const char *id, const char *actor_id);
int contacts_erase_due(crm_db_t *db, int *erased);

//  --- The audit trail (written by a trigger, migration 0010): audit.c (rules),
//  audit_store.c (SQL), audit_methods.c ------------------------------------------------
crm_method_fn contacts_audit_list;
//  The rules (audit.c): a cursor is "" or a positive seq: 0, or -1 (cursor).
int contacts_audit_cursor_check(const char *cursor, crm_errors_t *errors);
//  The store (audit_store.c): a page of a contact's entries, newest first, before
//  cursor: 200 with *out, 404 (no entry and no cursor: no such contact), or failure.
int contacts_audit_store_list(crm_call_t *call, const char *contact_id, const char *cursor,
                              int limit, Crm__Contacts__ListContactAuditResponse **out);

//  --- Lifecycle, following the leads service's events (a won lead makes its contact a
//  customer; leads counted; activity): lifecycle.c (rules), lifecycle_store.c (SQL,
//  events), lifecycle_follow.c (the follower) ---------------------------------------------
//  What one event of the leads source does to a contact.
typedef struct {
    enum { CONTACTS_LIFECYCLE_NONE, CONTACTS_LIFECYCLE_WON, CONTACTS_LIFECYCLE_COUNT } kind;
    const char *contact_id;
    const char *lead_id;       // WON: the lead won
    const char *actor;         // WON: who closed it
    const char *at;            // the time of the change (COUNT: NULL for none)
    int delta;                 // COUNT: leads added (negative: removed)
    ProtobufCMessage *message; // the payload the strings point into
} contacts_lifecycle_change_t;

//  The rules (lifecycle.c): read event into *change (kind NONE: nothing to do): 0, or 1
//  when its payload is unreadable. contacts_lifecycle_change_reset frees it.
int contacts_lifecycle_read(const Crm__Event *event, contacts_lifecycle_change_t *change);
void contacts_lifecycle_change_reset(contacts_lifecycle_change_t *change);
//  The store (lifecycle_store.c), in the follower's transaction. A won lead's contact
//  made a customer (ContactUpdated into outbox when it changed); the lead count moved by
//  delta and the last activity to at (NULL: unchanged). Contact ids that are not UUIDs
//  are skipped (the leads service checked them). 0 or -1.
int contacts_lifecycle_store_won(crm_db_t *db, crm_outbox_t *outbox, const char *tenant,
                                 const char *contact_id, const char *lead_id, const char *actor,
                                 const char *at);
int contacts_lifecycle_store_count(crm_db_t *db, const char *tenant, const char *contact,
                                   int delta, const char *at);
//  The follower (lifecycle_follow.c) of the leads source on loop (crm_follower_stop stops it).

//  One leads event applied (the follows table's crm_follow_fn): 0 applied (or nothing
//  to do), 1 unreadable, -1 failed (lifecycle_follow.c).
int contacts_lifecycle_follow(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                              void *arg);

//  --- Saved filters, each a team member's own: saved_filter.c (rules),
//  saved_filter_store.c (SQL), saved_filter_methods.c ------------------------------------
crm_method_fn contacts_saved_filter_create, contacts_saved_filter_get,
    contacts_saved_filter_list, contacts_saved_filter_update, contacts_saved_filter_delete,
    contacts_saved_filter_run;

//  The rules (saved_filter.c). The name (trimmed in place), up to 100 characters, and
//  the filter kept without limit and cursor (made empty when absent): 0, or -1 (name).
int contacts_saved_filter_check(Crm__Contacts__SavedFilter *f, crm_errors_t *errors);
//  A change names only name and filter: 0, or -1 naming each other field.
int contacts_saved_filter_mask_check(char *const *mask, size_t n, crm_errors_t *errors);
//  Set the fields the update mask names from req->saved_filter.
void contacts_saved_filter_apply(Crm__Contacts__SavedFilter *f,
                                 const Crm__Contacts__UpdateSavedFilterRequest *req);
//  The filter to run: f's, for the page asked (limit, cursor).
void contacts_saved_filter_page(Crm__Contacts__SavedFilter *f, uint32_t limit,
                                const char *cursor);

//  The store (saved_filter_store.c), always the caller's own filters. One by id: 200,
//  404, or a failure code.
int contacts_saved_filter_store_get(crm_call_t *call, const char *id,
                                    Crm__Contacts__SavedFilter **out);
int contacts_saved_filter_store_list(crm_call_t *call,
                                     Crm__Contacts__ListSavedFiltersResponse **out);
//  0 when no filter of the caller but except_id ("" none) has name (any case), 409
//  naming "name", or a failure code.
int contacts_saved_filter_store_name_free(crm_call_t *call, const char *name,
                                          const char *except_id);
//  Insert f (its times set): 201, 409 (the name, or the most an owner keeps), failure.
int contacts_saved_filter_store_insert(crm_call_t *call, Crm__Contacts__SavedFilter *f);
//  Write f: 200, 404, or a failure code.
int contacts_saved_filter_store_update(crm_call_t *call, Crm__Contacts__SavedFilter *f);
//  204, 404, or a failure code.
int contacts_saved_filter_store_delete(crm_call_t *call, const char *id);

//  --- Every tenant's contacts in pages, with the event seq they stand at, for services
//  rebuilding a projection: snapshot.c (rules), snapshot_store.c (SQL),
//  snapshot_methods.c (the "Snapshot" method) -------------------------------------------
crm_method_fn contacts_snapshot;
//  The rules (snapshot.c). Only the system and admin roles read every tenant.
bool contacts_snapshot_allowed(const char *role);
//  A page's request: 0 with *limit (default 1,000), or -1 (limit, afterId).
int contacts_snapshot_check(const Crm__Contacts__SnapshotRequest *req, int *limit,
                            crm_errors_t *errors);
//  Where the page starts: the request's afterId, or before every id.
const char *contacts_snapshot_after_id(const Crm__Contacts__SnapshotRequest *req);
//  The store (snapshot_store.c): the contacts after (after_tenant_id, after_id), at most
//  limit, with the watermark: 200 with *page, or a failure code.
int contacts_snapshot_store_page(crm_call_t *call, const char *after_tenant_id,
                                 const char *after_id, int limit,
                                 Crm__Contacts__SnapshotResponse **page);

//  --- The tag catalogue: tag.c (rules), tag_store.c (SQL, events), tag_methods.c ------
crm_method_fn contacts_tag_create, contacts_tag_get, contacts_tag_list, contacts_tag_update,
    contacts_tag_delete, contacts_tag_merge;

//  The rules (tag.c). Check t, trimming its name and lower-casing its colour in place
//  (its storage is the caller's): 0, or -1 with field errors (name, colour, description).
int contacts_tag_check(Crm__Contacts__Tag *t, crm_errors_t *errors);
//  The update mask names only fields a change may set: 0, or -1 ("<field> cannot be
//  changed").
int contacts_tag_mask_check(char *const *mask, size_t n, crm_errors_t *errors);
//  Set the fields the update mask names from req->tag.
void contacts_tag_apply(Crm__Contacts__Tag *t, const Crm__Contacts__UpdateTagRequest *req);
//  A merge names the tag to merge into, another one: 0, or -1 (into).
int contacts_tag_merge_check(const Crm__Contacts__MergeTagRequest *req, crm_errors_t *errors);
//  A tag name given to a contact, trimmed in place: 0, or -1 when blank (field).
int contacts_tag_name_check(char *name, const char *field, crm_errors_t *errors);

//  The store (tag_store.c). Each write also writes its event (TagCreated, TagUpdated,
//  TagDeleted, TagsMerged) and its change to the contacts carrying the tag.
//  One tag by id (a UUID); for_update locks it: 200 with *out, 404, or a failure code.
int contacts_tag_store_get(crm_call_t *call, const char *id, bool for_update,
                           Crm__Contacts__Tag **out);
//  The catalogue by name: 200 with *out, or a failure code.
int contacts_tag_store_list(crm_call_t *call, Crm__Contacts__ListTagsResponse **out);
//  0 when no tag but except_id ("" none) holds name (any case); 409 naming "name" and
//  the holder (call->conflict_id); or a failure code.
int contacts_tag_store_name_free(crm_call_t *call, const char *name, const char *except_id);
//  Insert t (its id and times set here): 201, 409, or a failure code.
int contacts_tag_store_insert(crm_call_t *call, Crm__Contacts__Tag *t);
//  Write t, renamed from previous in every contact: 200, 409, or a failure code.
int contacts_tag_store_update(crm_call_t *call, Crm__Contacts__Tag *t, const char *previous,
                              char **changed, size_t n_changed);
//  Delete t, taking it out of every contact: 204, or a failure code.
int contacts_tag_store_delete(crm_call_t *call, const Crm__Contacts__Tag *t);
//  Merge from into into (every contact carrying from carries into once): 200, or a
//  failure code.
int contacts_tag_store_merge(crm_call_t *call, const Crm__Contacts__Tag *from,
                             Crm__Contacts__Tag *into);
//  The contact's checks: replace each of names with the catalogue's spelling; 0, 422
//  with a field error (prefix + "tags[i]") for each name not in the catalogue, or a
//  failure code.
int contacts_tags_resolve(crm_call_t *call, const char *prefix, char **names, size_t n);
//  One tag name (trimmed, replaced by the catalogue's spelling): 0, or 422 naming field.
int contacts_tag_canonical(crm_call_t *call, const char *field, char **name);

//  --- The tenant's definitions, custom fields of contacts and phone types: field.c
//  (rules), field_store.c (SQL, events), field_methods.c ---------------------------------
crm_method_fn contacts_field_create, contacts_field_get, contacts_field_list,
    contacts_field_update, contacts_field_delete, contacts_phone_type_create,
    contacts_phone_type_list, contacts_phone_type_delete;

//  The rules (field.c). A definition's label and options (trimmed in place): 0, or -1
//  with field errors (label, options, options[i]).
int contacts_field_check(Crm__Contacts__CustomField *f, crm_errors_t *errors);
//  A new definition: its key and type too (key, type).
int contacts_field_create_check(Crm__Contacts__CustomField *f, crm_errors_t *errors);
//  A change names only label and options: 0, or -1 naming each other field.
int contacts_field_mask_check(char *const *mask, size_t n, crm_errors_t *errors);
//  Set the fields the update mask names from req->field: the options it removes, as a
//  JSON array of strings (caller decrefs).
json_t *contacts_field_apply(Crm__Contacts__CustomField *f,
                             const Crm__Contacts__UpdateCustomFieldRequest *req);
//  A phone type's name (trimmed in place), not a built-in one: 0, or -1 (name).
int contacts_phone_type_check(Crm__Contacts__PhoneTypeDef *t, crm_errors_t *errors);

//  The store (field_store.c): writes carry their events (CustomFieldDefined,
//  CustomFieldDeleted). One definition by key (for_update locks it): 200, 404, failure.
int contacts_field_store_get(crm_call_t *call, const char *key, bool for_update,
                             Crm__Contacts__CustomField **out);
int contacts_field_store_list(crm_call_t *call, Crm__Contacts__ListCustomFieldsResponse **out);
//  Define f (its times set): 201, 409 (the tenant has the most, or the key exists),
//  or a failure code.
int contacts_field_store_insert(crm_call_t *call, Crm__Contacts__CustomField *f);
//  Write f, unless a live contact holds one of the options gone: 200, 409 (options),
//  or a failure code.
int contacts_field_store_update(crm_call_t *call, Crm__Contacts__CustomField *f, json_t *gone);
//  Delete the definition and every contact's value: 204, 404, or a failure code.
int contacts_field_store_delete(crm_call_t *call, const char *key);
//  Add a phone type (its time set): 201, 409 (the name exists, or the tenant has the
//  most), or a failure code.
int contacts_phone_type_store_insert(crm_call_t *call, Crm__Contacts__PhoneTypeDef *t);
int contacts_phone_type_store_list(crm_call_t *call, Crm__Contacts__ListPhoneTypesResponse **out);
//  Remove a phone type no live contact's phone has: 204, 409 (the count), 404, failure.
int contacts_phone_type_store_delete(crm_call_t *call, const char *name);

//  --- Communication rules: consent.c (rules), consent_store.c (SQL, events),
//  consent_methods.c ---------------------------------------------------------------------
//  Do-not-contact, stop-follow-ups, retention and consent per channel and purpose, with
//  their history; CanContact answers whether a contact may be contacted by a channel for
//  a purpose now (do-not-contact wins).
crm_method_fn contacts_communication_get, contacts_communication_update,
    contacts_communication_history, contacts_consent_record, contacts_consent_get,
    contacts_can_contact;

#define CONTACTS_CONSENT_CHANNELS 5 // email, sms, phone, whatsapp, mail
#define CONTACTS_CONSENT_PURPOSES 2 // marketing, analytics (a follow-up needs none)
//  The do-not-contact flags.
enum { CONTACTS_FLAG_CALL, CONTACTS_FLAG_EMAIL, CONTACTS_FLAG_MAIL, CONTACTS_FLAG_SMS,
       CONTACTS_CONSENT_FLAGS };

//  One contact's rules and consents as they stand.
typedef struct {
    bool flags[CONTACTS_CONSENT_FLAGS]; // do-not-contact, by CONTACTS_FLAG_*
    bool stop_follow_ups;
    int retention_days; // 0: none
    char retain_until[40];
    char updated_at[40];
    char updated_by[128];
    //  The current decisions; NULL: unknown.
    Crm__Contacts__Consent *consents[CONTACTS_CONSENT_CHANNELS][CONTACTS_CONSENT_PURPOSES];
} contacts_consent_state_t;

//  What a PATCH of the rules asks for: each flag, stop_follow_ups and retention_days
//  -1 (unchanged) or the value; the method and reason recorded with it.
typedef struct {
    int flags[CONTACTS_CONSENT_FLAGS];
    int stop_follow_ups;
    int retention_days;
    int method;
    const char *reason;
} contacts_rules_change_t;

//  The rules (consent.c).
void contacts_consent_state_reset(contacts_consent_state_t *st);
//  The index of a channel, a purpose in the state's consents (-1: not one).
int contacts_consent_channel_index(int channel);
int contacts_consent_purpose_index(int purpose);
void contacts_consent_dnc_set(Crm__Contacts__DoNotContact *d, int flag, bool value);
//  Microseconds since 1970 now, and as the service writes times (RFC 3339, UTC, us).
int64_t contacts_consent_now_us(void);
void contacts_consent_time_format(int64_t us, char *out, size_t size);
//  An RFC 3339 date-time ("2026-11-20T09:05:00.5-05:00") as microseconds since 1970:
//  false when text (may be NULL) is not one.
bool contacts_consent_time_parse(const char *text, int64_t *us);
//  Whether contact st may be contacted by channel for purpose now, and why not.
bool contacts_consent_verdict(const contacts_consent_state_t *st, int channel, int purpose,
                              Crm__Contacts__CanContactReason *reason, char *detail,
                              size_t size);
//  The rules as the API shows them, made from st (whose consents it takes).
Crm__Contacts__CommunicationRules *contacts_consent_rules_new(contacts_consent_state_t *st,
                                                              const char *contact_id);
//  A consent decision at now_us: 0 with *effective_us (its effective time, at most now),
//  or -1 with field errors (channel, purpose, granted, method, note, effectiveAt).
int contacts_consent_record_check(const Crm__Contacts__RecordConsentRequest *req, int64_t now_us,
                                  int64_t *effective_us, crm_errors_t *errors);
//  Whether the decision becomes the current one: none is held, or it is not older.
bool contacts_consent_is_current(const contacts_consent_state_t *st,
                                 const Crm__Contacts__RecordConsentRequest *req,
                                 const char *effective_at);
//  A CanContact request: 0, or -1 (channel, purpose).
int contacts_can_contact_check(const Crm__Contacts__CanContactRequest *req, crm_errors_t *errors);
//  A history cursor ("" or an entry's id): 0, or -1 (cursor).
int contacts_history_cursor_check(const char *cursor, crm_errors_t *errors);
//  A PATCH of the rules: 0 with *want, or -1 with field errors (each mask path not a
//  rule, doNotContact, retentionDays, method, reason).
int contacts_communication_update_check(const Crm__Contacts__UpdateCommunicationRulesRequest *req,
                                        contacts_rules_change_t *want, crm_errors_t *errors);
//  Apply want to st at now_us: each change that is one is appended to changes (history
//  entries: {id, kind, field, enabled, retention_days}) and to event->changed (which
//  has room for CONTACTS_CONSENT_FLAGS + 2).
void contacts_communication_apply(contacts_consent_state_t *st, const contacts_rules_change_t *want,
                                  int64_t now_us, json_t *changes,
                                  Crm__Events__ContactCommunicationRulesChanged *event);

//  A change of the rules as want says, in scope's name (a PATCH's, or the notify
//  follower's: one path for both): live contact id's state read locked, the changes
//  worked out (contacts_communication_apply), and, when there are any, written with
//  their history entries, effective at effective_at (NULL: now), and their event. 200
//  with *st as it now stands (caller resets it), 404, 500 (stored rules unreadable,
//  logged), or -1 when the database failed (consent_methods.c).
int contacts_communication_change_in(const contacts_scope_t *scope, const char *id,
                                     const contacts_rules_change_t *want, const char *effective_at,
                                     contacts_consent_state_t *st);

//  The store (consent_store.c), in scope's name (its tenant, its actor as the history's
//  recorded_by and the events' actor_id) or a request's. The state of live contact id
//  (for_update locks the contact): 200 with st filled, 404, 500 (unreadable, logged),
//  or -1 when the database failed; for a call, those as its reply.
int contacts_consent_store_state_in(const contacts_scope_t *scope, const char *id, bool for_update,
                                    contacts_consent_state_t *st);
int contacts_consent_store_state(crm_call_t *call, const char *id, bool for_update,
                                 contacts_consent_state_t *st);
//  A code of the _in functions as a call's reply (its error filled): 404 not_found, 500
//  internal, -1 the database's failure (500 or 503); others unchanged.
int contacts_consent_store_answer(crm_call_t *call, int code);
//  Record a decision with its history entry and event (ContactConsentChanged); current:
//  it becomes the current one. 0, or -1 (database) / a failure code (call).
int contacts_consent_store_record_in(const contacts_scope_t *scope,
                                     const Crm__Contacts__RecordConsentRequest *req,
                                     const char *effective_at, const char *now,
                                     const char *change_id, bool current);
int contacts_consent_store_record(crm_call_t *call, const Crm__Contacts__RecordConsentRequest *req,
                                  const char *effective_at, const char *now, const char *change_id,
                                  bool current);
//  Write st with its history entries (changes, effective at effective_at, recorded now)
//  and event (ContactCommunicationRulesChanged, event filled here). 0 or -1.
int contacts_consent_store_rules_write_in(const contacts_scope_t *scope, const char *contact_id,
                                          const contacts_consent_state_t *st, json_t *changes,
                                          Crm__Events__ContactCommunicationRulesChanged *event,
                                          const contacts_rules_change_t *want,
                                          const char *effective_at, const char *now);
//  A page of a live contact's history, newest first: 200 with *out, 404, or failure.
int contacts_consent_store_history(crm_call_t *call, const char *id, const char *cursor, int limit,
                                   Crm__Contacts__ListCommunicationHistoryResponse **out);
//  One consent decision of a live contact: 200 with *response, 404, or failure.
int contacts_consent_store_change_get(crm_call_t *call, const char *id, const char *change_id,
                                      ProtobufCMessage **response);

//  --- Opt-outs, following the notify service's NotificationOptedOut (a customer texted
//  STOP or START, or clicked a one-click unsubscribe): optout.c (rules), consent_store.c
//  (the SQL and events of a PATCH of the rules and of RecordConsent, in the name of
//  "notify"), optout_follow.c (the follower) -------------------------------------------
#define CONTACTS_OPTOUT_ACTOR "notify"

//  What one event of the notify source does to a contact's communication rules.
typedef struct {
    enum { CONTACTS_OPTOUT_NONE, CONTACTS_OPTOUT_SMS, CONTACTS_OPTOUT_EMAIL } kind;
    const char *contact_id;
    bool opted_in;             // SMS: back in (START, YES, UNSTOP): doNotContact.sms lifted
    char note[64];             // the history entry's note: "texted STOP", "one-click unsubscribe"
    char effective_at[40];     // when the customer acted (RFC 3339, UTC, us), at most now
    ProtobufCMessage *message; // the payload contact_id points into
} contacts_optout_t;

//  The rules (optout.c): read event into *optout at now_us (kind NONE: nothing to do): 0,
//  or 1 when its payload is unreadable. contacts_optout_reset frees it.
int contacts_optout_read(const Crm__Event *event, int64_t now_us, contacts_optout_t *optout);
void contacts_optout_reset(contacts_optout_t *optout);
//  SMS: the change of the rules it makes (doNotContact.sms only, method sms_stop, the
//  note as reason; strings borrowed from optout).
void contacts_optout_rules_change(const contacts_optout_t *optout, contacts_rules_change_t *want);
//  EMAIL: the consent decision it records (email marketing withdrawn, method unsubscribe;
//  strings borrowed from optout).
void contacts_optout_consent(const contacts_optout_t *optout,
                             Crm__Contacts__RecordConsentRequest *req);
//  EMAIL: whether the decision changes st's email marketing consent: false when it is
//  withdrawn already, or a later decision stands (then nothing is recorded).
bool contacts_optout_consent_changes(const contacts_consent_state_t *st,
                                     const contacts_optout_t *optout);
//  One notify event applied (the follows table's crm_follow_fn): 0 applied (or nothing
//  to do: another event type, an unknown or erased contact), 1 unreadable, -1 failed
//  (optout_follow.c).
int contacts_optout_follow(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event, void *arg);

//  --- Notes on a contact: note.c (rules), note_store.c (SQL, events), note_methods.c ---
//  Append-only and audited; @mentions parsed from the body.
crm_method_fn contacts_note_create, contacts_note_get, contacts_note_list,
    contacts_note_revisions, contacts_note_update, contacts_note_delete;

//  The rules (note.c). A body: valid UTF-8, not blank (Unicode's spaces count as
//  blank), at most 20,000 characters: 0, or -1 naming body.
int contacts_note_body_check(const char *body, crm_errors_t *errors);
//  A list's cursor: "" or a note id (revisions: a revision number): 0, or -1 (cursor).
int contacts_note_cursor_check(const char *cursor, bool revisions, crm_errors_t *errors);
//  Managers and admins (they may change anyone's note, read a deleted note's history).
bool contacts_role_manages(const char *role);
//  The note's author, a manager or an admin may change it.
bool contacts_note_may_change(const char *role, const char *actor_id,
                              const Crm__Contacts__Note *note);
//  The mentions (n of them) the note before did not have, into added: how many.
size_t contacts_note_added_mentions(const Crm__Contacts__Note *before,
                                    const crm_mention_t *mentions, size_t n,
                                    crm_mention_t *added);

//  The store (note_store.c). Writes answer 404 naming "id" when the contact is gone.
//  0 when id is a live contact of the tenant (lock: it stays so until commit), 404, or
//  a failure code.
int contacts_note_store_contact_live(crm_call_t *call, const char *id, bool lock);
//  One note of the contact (for_update locks it): 200 with *out, 404 (noteId), failure.
int contacts_note_store_get(crm_call_t *call, const char *contact_id, const char *note_id,
                            bool for_update, Crm__Contacts__Note **out);
//  A page of the contact's notes, newest first, after cursor: 200 with *out, or failure.
int contacts_note_store_list(crm_call_t *call, const char *contact_id, const char *cursor,
                             int limit, Crm__Contacts__ListNotesResponse **out);
//  A page of a note's revisions, oldest first, after cursor: 200 with *out, or failure.
int contacts_note_store_revisions(crm_call_t *call, const char *note_id, const char *cursor,
                                  int limit, Crm__Contacts__ListNoteRevisionsResponse **out);
//  Add a note of body (ContactNoteAdded): 201 with *response, 404, or failure.
int contacts_note_store_insert(crm_call_t *call, const char *contact_id, const char *body,
                              ProtobufCMessage **response);
//  A new revision of note (taken) with body (ContactNoteEdited): 200 with *response,
//  404, or failure.
int contacts_note_store_update(crm_call_t *call, Crm__Contacts__Note *note, const char *body,
                              ProtobufCMessage **response);
//  The note's tombstone (ContactNoteDeleted): 204, 404, or failure.
int contacts_note_store_delete(crm_call_t *call, const Crm__Contacts__Note *note);

//  Exports: contacts to CSV or XLSX by a filter, chosen fields, optionally only those
//  that may be sent marketing email; written by a runner of their own into parts of
//  about contacts.export_part_bytes. The methods are export_methods.c's, the runner
//  export_writer.c's; export.h has the rest (rules export.c, SQL export_store.c).
int contacts_export_create(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response);
int contacts_export_get(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int contacts_export_part(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response);
//  The export runner (export_writer.c), a job of the daemon's runner (main.c's table):
//  its state holds the export in progress; a step writes a chunk of it (and deletes
//  expired exports' parts every contacts.export_sweep_interval_ms), looking again every
//  EXPORT_IDLE_MS when none waits.
void *contacts_export_runner_new(const crm_config_t *cfg, crm_db_t *db);
void contacts_export_runner_destroy(void **state_p);
crm_step_result_t contacts_export_runner_step(crm_step_t *step);
int contacts_export_idle_ms(const crm_config_t *cfg);
//  CSV import: a file sent in parts, imported by a job of kind 'import'. The methods are
//  import_methods.c's, the job's step import_parts.c's; import.h has the rest (rules
//  import.c, SQL import_store.c, the stages import_scan.c, import_chunk.c,
//  import_outcomes.c).

int contacts_import_create(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response);
int contacts_import_add_part(crm_call_t *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response);
int contacts_import_start(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response);
int contacts_import_get(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int contacts_import_errors(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response);
int contacts_import_template(crm_call_t *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response);
int contacts_import_mapping_put(crm_call_t *call, const ProtobufCMessage *request,
                                ProtobufCMessage **response);
int contacts_import_mapping_get(crm_call_t *call, const ProtobufCMessage *request,
                                ProtobufCMessage **response);
int contacts_import_mapping_list(crm_call_t *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **response);

//  The import runner's state between chunks (the open file), one per job runner
//  (import_parts.c).
typedef struct _contacts_importer_t contacts_importer_t;
contacts_importer_t *contacts_importer_new(const crm_config_t *cfg);
void contacts_importer_destroy(contacts_importer_t **self_p);
//  Do the next step of import job job_id in db's transaction: the first reads the whole
//  file once (file-level errors, the row count) and writes nothing else; each later one
//  imports a chunk of rows with their events and progress. 0 (*finished once done) or
//  -1 (the database failed: roll back; the step is tried again).
int contacts_import_step(contacts_importer_t *self, crm_db_t *db, const char *tenant_id,
                         const char *job_id, const char *actor_id, bool *finished);
//  Forget the open file (after a rolled-back step).
void contacts_importer_reset(contacts_importer_t *self);

#endif
