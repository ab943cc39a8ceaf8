/*  contacts: the daemon's internal interface between handlers and store. */
#ifndef CONTACTS_H
#define CONTACTS_H

#include "contacts.pb-c.h"
#include "outbox.h"
#include "follower.h"
#include "runner.h"
#include "service.h"

//  SQL shared by the daemon's statements (store.c, tags.c, notes.c, snapshot.c).
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
#define CONTACTS_AUDIT_CREATED_SQL(row)                                                       \
    " audit AS ("                                                                             \
    "  INSERT INTO contact_audit (tenant_id, contact_id, at, actor_id, action, changes)"      \
    "  SELECT i.tenant_id, i.id, i.updated_at, i.updated_by, 'created',"                      \
    "         contact_audit_image(ROW(i.*)::contacts)"                                        \
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
    crm_follower_t *lifecycle;        // follows the leads service's events (lifecycle.c)
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

//  A contact's writes and reads for scope, each write with its event in the same
//  statement: 201/200, 404 (none, or deleted), 409 with errors (and conflict_id, the
//  holder of one of its addresses, when known), 500 (a stored contact unreadable), or
//  -1 when the database failed. Written, c carries the stored times.
int contacts_contact_store_insert(const contacts_scope_t *scope, const contacts_row_t *row,
                                  Crm__Contacts__Contact *c, crm_errors_t *errors,
                                  char conflict_id[64]);
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
//  addresses, or a database failure code.
int contacts_store_insert(crm_call_t *call, const contacts_row_t *row, Crm__Contacts__Contact *c);

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

//  The list (search.c): filters and search, one page. contacts_list is the "List"
//  method; contacts_list_run runs a request (saved filters run theirs).
int contacts_list(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response);
int contacts_list_run(crm_call_t *call, const Crm__Contacts__ListContactsRequest *req,
                      Crm__Contacts__ListContactsResponse **out);
//  Fix the contacts filter finds as job job_id's items (job_items): 0 with *count, 422
//  (field errors under "filter."), or a failure code.
int contacts_select_for_job(crm_call_t *call, const Crm__Contacts__ListContactsRequest *filter,
                            const char *job_id, long *count);
//  The same, keeping only the contacts c for which condition (SQL over the row c and
//  the tenant $1; NULL: none) holds. condition is the caller's constant text, never input.
int contacts_select_for_job_where(crm_call_t *call,
                                  const Crm__Contacts__ListContactsRequest *filter,
                                  const char *job_id, const char *condition, long *count);
//  Check a list request (field errors named prefix + field): 0 or 422. *offset: where a
//  search's cursor continues.
int contacts_list_check(crm_call_t *call, const Crm__Contacts__ListContactsRequest *req,
                        const char *prefix, long *offset);

//  Bulk changes (bulk.c) and the jobs that run the large ones (jobs.c).
#define CONTACTS_BULK_CHUNK 500
int contacts_bulk(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response);
//  Do the next chunk (at most chunk items) of bulk job job_id in db's transaction: the
//  changes, their events and the job's progress. 0 (*finished when no item is left) or
//  -1 (the database failed; nothing of the chunk stays once rolled back).
int contacts_bulk_step(crm_db_t *db, const char *tenant_id, const char *job_id,
                       const char *actor_id, const Crm__Contacts__BulkContactsRequest *req,
                       int chunk, bool *finished);
//  Read one job of the tenant through db: 200 with *out, 404, or a failure code.
int contacts_job_read(crm_call_t *call, crm_db_t *db, const char *tenant_id, const char *id,
                      Crm__Contacts__Job **out);
int contacts_job_get(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response);
int contacts_job_list(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response);
//  Jobs of the daemon's runner (main.c's table). The job runner works through queued
//  jobs, a chunk a step (its state: the importer keeping an import's file open), looking
//  again every JOBS_IDLE_MS when none waits; the retention sweep erases a batch of
//  contacts past their retention a step, every contacts.retention_sweep_ms.
void *contacts_jobs_new(const crm_config_t *cfg, crm_db_t *db);
void contacts_jobs_destroy(void **state_p);
crm_step_result_t contacts_jobs_step(crm_step_t *step);
int contacts_jobs_idle_ms(const crm_config_t *cfg);
crm_step_result_t contacts_retention_sweep_step(crm_step_t *step);
int contacts_retention_sweep_ms(const crm_config_t *cfg);

//  Erasure (erase.c). contacts_erase: in db's transaction, 1 erased, 0 unknown or erased
//  already, -1 failed. contacts_erase_due: the retention sweep, one batch; 0 or -1.
int contacts_erase(crm_db_t *db, const char *tenant_id, const char *id, const char *actor_id);
int contacts_erase_due(crm_db_t *db, int *erased);
int contacts_erase_method(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response);

//  The audit trail (audit.c; written by a trigger, migration 0010).
int contacts_audit_list(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);

//  Lifecycle (lifecycle.c): a won lead makes its contact a customer; leads counted. A
//  follower of the leads source on loop (crm_follower_stop stops it).
crm_follower_t *contacts_lifecycle_start(const crm_config_t *cfg, crm_service_t *service,
                                         zloop_t *loop);

//  Saved filters (savedfilters.c), each a team member's own.
int contacts_saved_filter_create(crm_call_t *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **response);
int contacts_saved_filter_get(crm_call_t *call, const ProtobufCMessage *request,
                              ProtobufCMessage **response);
int contacts_saved_filter_list(crm_call_t *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response);
int contacts_saved_filter_update(crm_call_t *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **response);
int contacts_saved_filter_delete(crm_call_t *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **response);
int contacts_saved_filter_run(crm_call_t *call, const ProtobufCMessage *request,
                              ProtobufCMessage **response);

//  The "Snapshot" method (snapshot.c): every tenant's contacts in pages, with the event
//  seq they stand at, for services rebuilding a projection.
int contacts_snapshot(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response);

//  The tag catalogue (tags.c): its methods, and the check of a contact's tags. The
//  resolve replaces each of names with the catalogue's spelling; 0, 422 with a field
//  error (prefix + "tags[i]") for each name not in the catalogue, or a failure code.
int contacts_tag_create(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int contacts_tag_get(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response);
int contacts_tag_list(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response);
int contacts_tag_update(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int contacts_tag_delete(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int contacts_tag_merge(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);
int contacts_tags_resolve(crm_call_t *call, const char *prefix, char **names, size_t n);
//  One tag name (trimmed, replaced by the catalogue's spelling): 0, or 422 naming field.
int contacts_tag_canonical(crm_call_t *call, const char *field, char **name);

//  The tenant's definitions (fields.c): custom fields of contacts and phone types.
int contacts_field_create(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response);
int contacts_field_get(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);
int contacts_field_list(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int contacts_field_update(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response);
int contacts_field_delete(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response);
int contacts_phone_type_create(crm_call_t *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response);
int contacts_phone_type_list(crm_call_t *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response);
int contacts_phone_type_delete(crm_call_t *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response);

//  Communication rules (consent.c): do-not-contact, stop-follow-ups, retention and
//  consent per channel and purpose, with their history; CanContact answers whether a
//  contact may be contacted by a channel for a purpose now (do-not-contact wins).
int contacts_communication_get(crm_call_t *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response);
int contacts_communication_update(crm_call_t *call, const ProtobufCMessage *request,
                                  ProtobufCMessage **response);
int contacts_communication_history(crm_call_t *call, const ProtobufCMessage *request,
                                   ProtobufCMessage **response);
int contacts_consent_record(crm_call_t *call, const ProtobufCMessage *request,
                            ProtobufCMessage **response);
int contacts_consent_get(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response);
int contacts_can_contact(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response);

//  Notes on a contact (notes.c): append-only, audited, @mentions parsed from the body.
int contacts_note_create(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response);
int contacts_note_get(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response);
int contacts_note_list(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);
int contacts_note_revisions(crm_call_t *call, const ProtobufCMessage *request,
                            ProtobufCMessage **response);
int contacts_note_update(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response);
int contacts_note_delete(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response);

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
