/*  export: the exports' inside, shared by their files (contacts.h has what the rest of
    the service sees: the methods and the export runner's job). Reading order:

    export.c          the rules: the fields an export may name (and each one's kind,
                      how XLSX writes it), the default columns, the formats, the file's
                      name, CreateExport's checks. No database, no crm_call_t: field
                      errors into a crm_errors_t. tests/unit/test_contacts_export.c.
    export_methods.c  the methods: CreateExport, GetExport, GetExportPart.
    export_store.c    every statement: the fields' SQL, the marketing rule's condition,
                      the runner's claims, batches, parts and progress.
    export_writer.c   the export runner (main.c's job table): claims an export, selects
                      its contacts, writes CSV parts or an XLSX workbook chunk by chunk.
*/
#ifndef CONTACTS_EXPORT_H
#define CONTACTS_EXPORT_H

#include "contacts.h"
#include "errors.h"
#include "ids.h"

#define EXPORT_MAX_FIELDS 200
#define EXPORT_MAX_PARAMS (4 + EXPORT_MAX_FIELDS)
#define EXPORT_XLSX_MAX_ROWS 1048575  // a sheet's rows, less the header
#define EXPORT_CONTENT_TYPE_CSV "text/csv; charset=utf-8"
#define EXPORT_CONTENT_TYPE_XLSX \
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

//  --- The rules (export.c) ---------------------------------------------------------------

//  How a value is written to XLSX (CSV writes every value as its text).
typedef enum {
    CONTACTS_EXPORT_TEXT,
    CONTACTS_EXPORT_NUMBER,
    CONTACTS_EXPORT_DATETIME,
    CONTACTS_EXPORT_DATE,
    CONTACTS_EXPORT_BOOL
} contacts_export_kind_t;

//  One column of an export: a field of the catalogue, or a custom field's key.
typedef struct {
    const char *name;             // the field's name, also the header
    bool catalogue;               // a field of the catalogue (else a custom field)
    const char *key;              // custom: the key (points into name)
    contacts_export_kind_t kind;
} contacts_export_column_t;

//  Resolve names into columns (columns: n of them). Custom fields' columns are text
//  until contacts_export_column_type says otherwise. A name twice, or unknown, is a
//  field error "fields[i]" when errors is given (the runner resolves without).
void contacts_export_columns(char **names, size_t n, contacts_export_column_t *columns,
                             crm_errors_t *errors);

//  The kind of a custom field's column, by the field's type (number, date, text...).
void contacts_export_column_type(contacts_export_column_t *column, const char *type);

//  CreateExport's own checks on req (a copy, changed): format required, the default
//  columns when none are named, at most EXPORT_MAX_FIELDS. Field errors into errors;
//  -1 when there are too many names to resolve them, else 0.
int contacts_export_create_check(Crm__Contacts__CreateExportRequest *req, crm_errors_t *errors);

//  contacts-[marketing-]YYYYMMDD-HHMMSS.csv|xlsx, from now (RFC 3339, UTC).
void contacts_export_file_name(const Crm__Contacts__CreateExportRequest *req, const char *now,
                               char *out, size_t size);

//  "csv" or "xlsx".
const char *contacts_export_format_name(const Crm__Contacts__CreateExportRequest *req);

//  --- The store (export_store.c) ----------------------------------------------------------

//  The kinds of the custom fields' columns, from the tenant's definitions; a key without
//  one is a field error "fields[i]" when errors is given. 0, or -1 (the database failed).
int contacts_export_store_custom_types(crm_db_t *db, const char *tenant,
                                       contacts_export_column_t *columns, size_t n,
                                       crm_errors_t *errors);

//  Methods' statements: 0 (reads: 200, or 404 with the error set) or a failure code.
int contacts_export_store_insert(crm_call_t *call, const char *id, const char *request,
                                 const char *now, const char *format, const char *file_name);
int contacts_export_store_read(crm_call_t *call, const char *id, Crm__Contacts__Export **out);

//  Part n of an export as stored, with the export's state.
typedef struct {
    bool found;               // the export is the tenant's
    bool expired;
    int parts;                // stored so far
    char status[16];          // the job's
    bool csv;
    char *file_name;          // the caller's
    char expires_at[40];
    bool stored;              // part n is stored: data, size, offset
    unsigned char *data;      // the caller's (PQfreemem)
    size_t size;
    unsigned long long offset;
} contacts_export_part_t;

int contacts_export_store_part(crm_call_t *call, const char *id, unsigned n,
                               contacts_export_part_t *out);

//  The runner's statements (the runner's connection). Each 0, or -1 when the database
//  failed, unless said otherwise.
//  The oldest exports waiting or running (up to 16): *tenants and *ids (the caller's).
int contacts_export_store_candidates(crm_db_t *db, char ***tenants, char ***ids, size_t *n);
//  Hold an export by a session advisory lock: 1 held, 0 someone holds it, -1.
int contacts_export_store_lock(crm_db_t *db, const char *id);
void contacts_export_store_unlock(crm_db_t *db, const char *id);
//  The held export's state: *status "" when gone, *request (the caller's) its request.
int contacts_export_store_state(crm_db_t *db, const char *tenant, const char *id,
                                char *status, size_t size, char **request, int *parts,
                                long long *bytes);
//  Fix the contacts as the job's items: through the list's filter (search.c) and, for a
//  marketing export, the marketing rule. (export_writer.c calls it through its one
//  function that still forges a request; see TODO(list filter) there.)
const char *contacts_export_store_marketing_condition(void);
int contacts_export_store_total(crm_db_t *db, const char *tenant, const char *id, long total);
int contacts_export_store_start(crm_db_t *db, const char *tenant, const char *id, bool xlsx);
int contacts_export_store_part_insert(crm_db_t *db, const char *tenant, const char *id, int n,
                                      long long offset, const char *data, size_t size);
//  The items written: those from contact id from up (items go newest first).
int contacts_export_store_items_done(crm_db_t *db, const char *tenant, const char *id,
                                     const char *from);
int contacts_export_store_progress(crm_db_t *db, const char *tenant, const char *id,
                                   long processed, long rows, int parts, long long bytes,
                                   bool finished, int retention_hours);
void contacts_export_store_fail(crm_db_t *db, const char *tenant, const char *id,
                                const char *why);
//  Exports past their retention lose their parts: how many parts went, or -1.
int contacts_export_store_sweep(crm_db_t *db);

//  The statement reading a batch of an export's items: $1 tenant, $2 job, $3 cursor, $4
//  batch size, then the custom keys (set in params from params[4]). Each row: the
//  contact id, whether to write it (a live contact, and for a marketing export one that
//  may be emailed), then one text per column. stmt->sql is the caller's.
void contacts_export_store_batch_build(crm_stmt_t *stmt, const char **params,
                                       const contacts_export_column_t *columns, size_t n,
                                       bool marketing);

#endif
