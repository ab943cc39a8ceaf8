/*  import: the CSV import's inside, shared by its files (contacts.h has what the rest of
    the service sees: the methods and the job runner's step). Reading order:

    import.c           the rules: CSV headers to contact fields (the default mapping, an
                       explicit one), a CSV row to a Contact, the request checks, the
                       duplicate policy, how an update merges a row. No database, no
                       crm_call_t: field errors into a crm_errors_t or onto the row.
                       tests/unit/test_contacts_import.c states them.
    import_methods.c   the methods (CreateImport, AddImportPart, StartImport, GetImport,
                       ListImportErrors, GetImportTemplate, the mapping methods).
    import_store.c     every statement of the import, and its ContactCreated events.
    The job's stages, each step one transaction (contacts_import_step, import_parts.c):
    import_parts.c     the importer: the file read from its stored parts, opened, found
                       again after a restart; the step choosing scan or chunk.
    import_scan.c      the first step: the whole file once, file-level errors, row count.
    import_chunk.c     each later step: rows read, checked by the contact rules, matched,
                       decided by the policy, written.
    import_outcomes.c  a chunk's outcomes, errors and progress recorded; a file refused.
*/
#ifndef CONTACTS_IMPORT_H
#define CONTACTS_IMPORT_H

#include "contacts.h"
#include "csv.h"
#include "errors.h"
#include "ids.h"

#include <jansson.h>
#include <stdlib.h>

#define IMPORT_CHUNK 1000            //  rows per step (one transaction)
#define IMPORT_PART_MAX (1 << 20)    //  bytes in one part
#define IMPORT_FILE_MAX (2LL << 30)  //  bytes in one file
#define IMPORT_OUTCOMES_MAX 1000     //  the first rows' outcomes kept
#define IMPORT_ERRORS_MAX 1000       //  errors kept on the job
#define IMPORT_ROW_ERRORS_MAX 10     //  errors reported of one row
#define IMPORT_COLUMNS_MAX 1000      //  columns in the file
#define IMPORT_MAPPING_NAME_MAX 64

//  --- The rules (import.c) -------------------------------------------------------------

//  One column of a file: the field it maps to (an index of the rules' field table, -1
//  ignored), a custom field's key, its header (trimmed).
typedef struct {
    int field;
    char *key;
    char *header;
} contacts_import_column_t;

//  The mapping of a file's columns.
typedef struct {
    contacts_import_column_t *columns;
    size_t count;
} contacts_import_mapping_t;

void contacts_import_mapping_reset(contacts_import_mapping_t *m);

//  Map the header record's columns: explicit (header -> field, a JSON object; may be
//  empty) first, then the default mapping. 0, or -1 with error set (a sentence naming
//  the column).
int contacts_import_mapping_resolve(contacts_import_mapping_t *m, json_t *explicit,
                                    const crm_csv_record_t *header, char *error, size_t size);

//  The mapping as shown on the import: header -> field ("-" ignored).
json_t *contacts_import_mapping_json(const contacts_import_mapping_t *m);

//  One entry of a mapping a request gives (header -> field): a field error named
//  prefix.header when the header is empty or long, or the field unknown.
void contacts_import_mapping_entry_check(crm_errors_t *errors, const char *prefix,
                                         const char *header, const char *name);

//  CreateImport's own fields (mapping, encoding, delimiter); whether a saved mapping
//  named exists is the store's. AddImportPart's part and data. A mapping's name.
void contacts_import_create_check(const Crm__Contacts__CreateImportRequest *req,
                                  crm_errors_t *errors);
void contacts_import_part_check(const Crm__Contacts__AddImportPartRequest *req,
                                crm_errors_t *errors);
void contacts_import_mapping_put_check(const Crm__Contacts__PutImportMappingRequest *req,
                                       crm_errors_t *errors);

//  The CSV reader's options of an import's options (delimiter, encoding, max columns).
void contacts_import_csv_options(json_t *options, crm_csv_options_t *out);

//  The template (GET /v1/imports/template): the template's columns with an example row,
//  then the tenant's custom fields (keys) by key.
Crm__Contacts__ImportTemplate *contacts_import_template_new(const char *const *custom_keys,
                                                            size_t n);

//  --- A row ---------------------------------------------------------------------------

//  An error of a row: the column (header, or the contact's field) and the rule.
typedef struct {
    char *field;
    char *message;
} contacts_import_error_t;

//  Which column a contact path came from ("phones[1]" -> the column that gave it).
typedef struct {
    char path[64];
    size_t column;
} contacts_import_origin_t;

//  One data row of the file on its way through a chunk.
typedef struct {
    size_t row;                  //  the CSV record
    Crm__Contacts__Contact *c;   //  checked (normalised), NULL when the row is bad
    json_t *given;               //  the members the row gave (for an update)
    contacts_row_t store;        //  c rendered for the store
    contacts_row_names_t names;
    contacts_import_error_t *errors;
    size_t n_errors;
    contacts_import_origin_t origins[24];
    size_t n_origins;
    char email[320];             //  the match keys: lower-case email, E.164 phone
    char phone[32];
    //  The outcome.
    const char *action;          //  create | update | skip | error
    char contact_id[CRM_UUID_LEN + 1];
    char matched_on[48];
    char note[160];              //  the outcome's message when it is no error
} contacts_import_row_t;

//  matched_on of a row the duplicate check found likely on file (no exact email or
//  phone match): contact_id is the best candidate, note says why.
#define IMPORT_LIKELY_DUPLICATE "likely duplicate"

contacts_import_row_t *contacts_import_row_new(size_t row);
void contacts_import_row_destroy(contacts_import_row_t **self_p);

//  Record an error of the row on a contact path, named by the column it came from.
void contacts_import_row_error(contacts_import_row_t *self, const contacts_import_mapping_t *m,
                               const char *path, const char *message);

//  The row's contact as the Create method takes it, from the record's cells (not yet
//  checked by the contact rules): a new id, source "import" unless given; *given the
//  members the row gave (the caller's). NULL with the row's errors recorded (a cell
//  that does not parse, a count of fields other than the header's).
Crm__Contacts__Contact *contacts_import_row_contact(contacts_import_row_t *self,
                                                    const contacts_import_mapping_t *m,
                                                    const crm_csv_record_t *rec, json_t **given);

//  Take the checked contact c (and given): the row's match keys come from it.
void contacts_import_row_take(contacts_import_row_t *self, Crm__Contacts__Contact *c,
                              json_t *given);

//  Decide the row by the policy (skip, update, create) once matched: sets its action
//  (and for a create its contact id). A row matched on its email under policy create is
//  an error: the address is taken. A likely duplicate (IMPORT_LIKELY_DUPLICATE) is
//  skipped under policy update as under skip: an update needs an exact email or phone
//  match, not a guess, to write over a contact.
void contacts_import_row_decide(contacts_import_row_t *self, const contacts_import_mapping_t *m,
                                const char *policy);

//  The UpdateContact request (JSON) that merges the row into the contact it matched, as
//  the contact is now (have, the API's JSON; taken): what the row gave replaces the
//  contact's own; an email, phone, tag or vehicle is added to those it has.
json_t *contacts_import_update_request(const contacts_import_row_t *self, json_t *have);

//  --- The store (import_store.c) --------------------------------------------------------

//  The import's settings as the job reads them.
typedef struct {
    char id[CRM_UUID_LEN + 1];
    char status[16];
    json_t *options;
    long parts, rows, done;
} contacts_import_job_t;

//  An import's state for a method that changes it (its row locked).
typedef struct {
    bool receiving;
    long parts;
    long long bytes;
    bool dry_run;
} contacts_import_state_t;

//  Methods' statements: 0 (reads: 200, or 404 with the error set) or a failure code.
int contacts_import_store_read(crm_call_t *call, const char *id, Crm__Contacts__Import **out);
int contacts_import_store_insert(crm_call_t *call, const char *id, const char *options,
                                 const char *now);
int contacts_import_store_lock(crm_call_t *call, const char *id, contacts_import_state_t *out);
int contacts_import_store_part_add(crm_call_t *call, const char *id, unsigned part,
                                   const uint8_t *data, size_t size);
int contacts_import_store_queue(crm_call_t *call, const char *id, const char *job_id,
                                const char *what, const char *now);
int contacts_import_store_mapping_put(crm_call_t *call, const char *name, const char *columns,
                                      ProtobufCMessage **response);
int contacts_import_store_mapping_get(crm_call_t *call, const char *name,
                                      ProtobufCMessage **response);
int contacts_import_store_mapping_list(crm_call_t *call, ProtobufCMessage **response);
int contacts_import_store_errors_page(crm_call_t *call, const char *id, long long after,
                                      int limit,
                                      Crm__Contacts__ListImportErrorsResponse **out);

//  Shared by methods and the job: the columns of a saved mapping (*out a new reference,
//  NULL when none); the tenant's custom field keys (*keys and each key the caller's).
//  0 or -1 (the database failed).
int contacts_import_store_saved_mapping(crm_db_t *db, const char *tenant, const char *name,
                                        json_t **out);
int contacts_import_store_custom_keys(crm_db_t *db, const char *tenant, char ***keys,
                                      size_t *n);
void contacts_import_keys_free(char ***keys, size_t n);

//  The job's statements: 0, or -1 when the database failed.
int contacts_import_store_load(crm_db_t *db, const char *tenant, const char *job_id,
                               contacts_import_job_t *out);
int contacts_import_store_part_get(crm_db_t *db, const char *import_id, long part,
                                   unsigned char **data, size_t *size);
int contacts_import_store_scanned(crm_db_t *db, const char *tenant, const char *job_id,
                                  long rows, const char *mapping, const char *encoding);
int contacts_import_store_failed(crm_db_t *db, const char *tenant, const char *job_id,
                                 const char *error, const char *errors);
//  The contacts matching the rows' email or phone (a dry run's earlier rows too): sets
//  each matched row's contact_id and matched_on.
int contacts_import_store_match(crm_db_t *db, const char *tenant, const char *import_id,
                                contacts_import_row_t **rows, size_t n);
//  The new contacts in three statements with their ContactCreated events; -2 on a unique
//  violation (an email taken meanwhile: nothing written, the caller goes row by row).
int contacts_import_store_create(crm_db_t *db, const char *tenant, const char *actor,
                                 contacts_import_row_t **rows, size_t n, const char *now);
//  A dry run's created rows' keys, for later rows to match.
int contacts_import_store_keys_add(crm_db_t *db, const char *import_id,
                                   contacts_import_row_t **rows, size_t n);
//  Outcomes: six text[] literals (row, action, contact id, matched on, field, message).
int contacts_import_store_outcomes_add(crm_db_t *db, const char *import_id,
                                       char *const literals[6]);
//  Progress: counts (rows, created, updated, skipped, failed), errors (a JSON array).
int contacts_import_store_progress(crm_db_t *db, const char *tenant, const char *job_id,
                                   const long counts[5], const char *errors, bool finished);

//  A growing list of borrowed strings, sent as a text[] literal.
typedef struct {
    const char **items;
    size_t n;
} contacts_import_array_t;

static inline void contacts_import_array_push(contacts_import_array_t *a, const char *text) {
    a->items = realloc(a->items, (a->n + 1) * sizeof *a->items);
    a->items[a->n++] = text;
}

//  --- The job's stages ------------------------------------------------------------------

//  Reading the stored parts one at a time (the CSV reader's read callback).
typedef struct {
    crm_db_t *db;
    char import_id[CRM_UUID_LEN + 1];
    long parts;  //  how many
    long next;   //  the next part to fetch
    unsigned char *data;
    size_t size, offset;
    bool failed;
} contacts_import_parts_t;

//  The importer: the state kept between steps.
struct _contacts_importer_t {
    const crm_config_t *cfg;
    char job_id[CRM_UUID_LEN + 1];  //  the job whose file is open ("" none)
    long position;                  //  data rows done when the file was last left
    contacts_import_parts_t parts;
    crm_csv_t *csv;
    contacts_import_mapping_t mapping;
    contacts_import_row_t **carry;  //  rows read but left for the next chunk
    size_t n_carry;
    crm_bus_client_t *dedupe;       //  the duplicate check of a chunk's new rows
};

//  Open the import's file and read its header into the mapping (import_parts.c). 0, 1
//  with error set (a file-level error, *error_row its row), -1 when the database failed.
int contacts_import_open(contacts_importer_t *self, crm_db_t *db, const char *tenant,
                         const contacts_import_job_t *imp, char *error, size_t size,
                         size_t *error_row);

//  The scan (import_scan.c): 0, or -1 when the database failed.
int contacts_import_scan(contacts_importer_t *self, crm_db_t *db, const char *tenant,
                         const char *job_id, const contacts_import_job_t *imp);

//  One chunk (import_chunk.c): 0 (*finished once the file is done), or -1.
int contacts_import_chunk(contacts_importer_t *self, crm_db_t *db, const char *tenant,
                          const char *job_id, const char *actor,
                          const contacts_import_job_t *imp, bool *finished);

//  A chunk's outcomes (the first rows', every error row's) and its progress with the
//  job's error report (import_outcomes.c). 0 or -1.
int contacts_import_outcomes_add(crm_db_t *db, const char *import_id,
                                 contacts_import_row_t **rows, size_t n);
int contacts_import_progress(crm_db_t *db, const char *tenant, const char *job_id,
                             contacts_import_row_t **rows, size_t n, bool finished);
//  Refuse the file (a file-level error, row 0 when none): nothing of it is written.
int contacts_import_fail(crm_db_t *db, const char *tenant, const char *job_id,
                         const char *error, size_t row);

#endif
