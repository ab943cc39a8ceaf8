/*  export: contacts to CSV or XLSX — chosen fields, by the contact list's filter, and
    for a marketing export only the contacts that may be sent marketing email.

    A file of a large tenant is hundreds of MB, but a reply is one message and the
    broker drops frames over 2 MiB. So an export is a job (kind 'export') whose file is
    stored in the database in parts of about contacts.export_part_bytes (export_parts),
    and read back one part per request (GetExportPart): the file is its parts joined in
    order.

    The request (CreateExport) checks format, fields and filter, records the job and
    answers 201 with the export queued. An export runner — a job of the daemon's runner
    (common/runner.c, main.c's table): a thread with its own connection, beside the bulk
    job runner so a long export never holds up bulk changes — claims the oldest export waiting and holds it with a session advisory lock
    (several contacts processes never write one export at once; a process that dies
    lets go of it with its connection). It first fixes the contacts as the job's items
    (job_items, as a bulk change does, with the marketing rule applied) and its total,
    in one transaction: a tenant of millions of contacts takes seconds to select, which
    must not hold up a request past its deadline. Then it writes the file:

    - CSV: one transaction per part. It reads items newest first in batches, writes
      their rows through the CSV writer (formula guard on) until the part reaches
      export_part_bytes, stores the part, deletes the items written and records the
      progress. A restart resumes after the last part stored.
    - XLSX: libxlsxwriter builds the workbook in a temporary file (constant memory
      mode), and the rows are read in batches, one transaction each with its progress;
      at the end the file is stored in parts, the items deleted and the job finished in
      one transaction. A restart starts the file again.

    The marketing rule is CanContact's for channel email and purpose marketing: a
    current consent (consents) for email and marketing that is granted, and
    doNotContact.email not set (communication_rules). It is applied when the contacts
    are selected and again when each row is written, so a contact who opts out while
    the export runs is left out.

    Parts are deleted contacts.export_retention_hours after the export finished, by the
    runner's sweep; the export then reads "expired" and its parts answer 410.
*/
#include "contacts.h"
#include "csv.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "validate.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#define EXPORT_MAX_FIELDS 200
#define EXPORT_BATCH 500          // contacts read per statement
#define EXPORT_XLSX_CHUNK 5000    // contacts per transaction while building a workbook
#define EXPORT_XLSX_MAX_ROWS 1048575  // a sheet's rows, less the header
#define EXPORT_XLSX_MAX_CELL 32767    // characters in a cell
#define EXPORT_IDLE_MS 250
#define EXPORT_MAX_PARAMS (4 + EXPORT_MAX_FIELDS)
#define CONTENT_TYPE_CSV "text/csv; charset=utf-8"
#define CONTENT_TYPE_XLSX "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#define UUID_MAX "ffffffff-ffff-ffff-ffff-ffffffffffff"

//  CanContact(email, marketing) for the contact row c.
#define MARKETING_SQL                                                                         \
    "EXISTS (SELECT 1 FROM consents s WHERE s.tenant_id = c.tenant_id"                        \
    "        AND s.contact_id = c.id AND s.channel = 'email' AND s.purpose = 'marketing'"      \
    "        AND s.granted)"                                                                  \
    " AND NOT EXISTS (SELECT 1 FROM communication_rules r WHERE r.tenant_id = c.tenant_id"    \
    "                 AND r.contact_id = c.id AND r.do_not_email)"

// --- the fields ---------------------------------------------------------------------------

//  How a value is written to XLSX (CSV writes every value as its text).
typedef enum { S_TEXT, S_NUMBER, S_DATETIME, S_DATE, S_BOOL } s_kind_t;

typedef struct {
    const char *name;  // the API's name, also the header
    const char *sql;   // its text from the contact row c
    s_kind_t kind;
} s_field_t;

//  The first item of a JSON array column (the primary one, else the first), one member.
#define PRIMARY_OF(array, member)                                                             \
    "(SELECT x->>'" member "' FROM jsonb_array_elements(coalesce(" array ", '[]'))"           \
    " WITH ORDINALITY AS t(x, o)"                                                             \
    " ORDER BY coalesce((x->>'primary')::boolean, false) DESC, o LIMIT 1)"
#define ALL_OF(array, member)                                                                 \
    "(SELECT string_agg(x->>'" member "', '; ' ORDER BY o)"                                   \
    " FROM jsonb_array_elements(coalesce(" array ", '[]')) WITH ORDINALITY AS t(x, o))"
#define ADDRESS(member) PRIMARY_OF("c.profile->'addresses'", member)

static const s_field_t s_fields[] = {
    {"id", "c.id::text", S_TEXT},
    {"kind", "c.kind", S_TEXT},
    {"type", "c.type", S_TEXT},
    {"firstName", "c.first_name", S_TEXT},
    {"lastName", "c.last_name", S_TEXT},
    {"name", "c.name", S_TEXT},
    {"source", "c.source", S_TEXT},
    {"email", PRIMARY_OF("c.emails", "address"), S_TEXT},
    {"emails", ALL_OF("c.emails", "address"), S_TEXT},
    {"phone", PRIMARY_OF("c.phones", "number"), S_TEXT},
    {"phones", ALL_OF("c.phones", "number"), S_TEXT},
    {"tags", "array_to_string(c.tags, '; ')", S_TEXT},
    {"assignee", "c.assignee", S_TEXT},
    {"supplier", "c.supplier::text", S_BOOL},
    {"companyBuyer", "coalesce(c.profile->>'companyBuyer', 'false')", S_BOOL},
    {"companyName", "c.profile->>'companyName'", S_TEXT},
    {"organizationId", "c.organization_id::text", S_TEXT},
    {"foundUs", "c.profile->>'foundUs'", S_TEXT},
    {"preferredChannel", "c.profile->>'preferredChannel'", S_TEXT},
    {"bestTime", "c.profile->>'bestTime'", S_TEXT},
    {"dateOfBirth", "c.profile->>'dateOfBirth'", S_DATE},
    {"discountPercent", "c.profile->>'discountPercent'", S_NUMBER},
    {"leadCount", "c.lead_count::text", S_NUMBER},
    {"lastActivityAt", CONTACTS_TS("c.last_activity_at"), S_DATETIME},
    {"createdAt", CONTACTS_TS("c.created_at"), S_DATETIME},
    {"updatedAt", CONTACTS_TS("c.updated_at"), S_DATETIME},
    {"address.type", ADDRESS("type"), S_TEXT},
    {"address.line1", ADDRESS("line1"), S_TEXT},
    {"address.line2", ADDRESS("line2"), S_TEXT},
    {"address.city", ADDRESS("city"), S_TEXT},
    {"address.region", ADDRESS("region"), S_TEXT},
    {"address.postcode", ADDRESS("postcode"), S_TEXT},
    {"address.country", ADDRESS("country"), S_TEXT},
};
#define S_FIELDS (sizeof s_fields / sizeof s_fields[0])

#define CUSTOM_PREFIX "customFields."

//  The columns of an export when none are named: the contact list's.
static const char *const s_default_fields[] = {
    "id",    "name",     "firstName", "lastName",       "type",      "source",   "email",
    "phone", "tags",     "assignee",  "leadCount",      "lastActivityAt", "createdAt"};

static const s_field_t *s_field_find(const char *name) {
    for (size_t i = 0; i < S_FIELDS; i++)
        if (strcmp(s_fields[i].name, name) == 0)
            return &s_fields[i];
    return NULL;
}

//  One column of an export: a catalogue field, or a custom field's key.
typedef struct {
    const char *name;
    const s_field_t *field;  // NULL: custom
    const char *key;         // custom: the key (points into name)
    s_kind_t kind;
} s_column_t;

//  The custom fields' types of tenant (key -> s_kind_t), for columns of custom keys.
static const crm_stmt_t s_custom_types = {
    .name = "export_custom_types",
    .sql = "SELECT key, type FROM contact_fields WHERE tenant_id = $1 AND key = ANY ($2::text[])",
    .nparams = 2};

//  Resolve names into columns, with the custom fields' types from db. Names not found
//  are reported as field errors when call is given (prefix "fields[i]"); a custom key
//  without a definition is then an error too, else (the runner) a text column.
//  0, 422, or -1 when the database failed.
static int s_columns(crm_call_t *call, crm_db_t *db, const char *tenant, char **names,
                     size_t n, s_column_t *columns) {
    const char **keys = calloc(n + 1, sizeof *keys);
    size_t n_keys = 0;
    int code = 0;
    for (size_t i = 0; i < n; i++) {
        char field[32];
        snprintf(field, sizeof field, "fields[%zu]", i);
        columns[i] = (s_column_t){.name = names[i], .kind = S_TEXT};
        for (size_t k = 0; k < i && call; k++)
            if (strcmp(names[k], names[i]) == 0) {
                crm_call_field_error(call, field, "\"%s\" is already fields[%zu]", names[i], k);
                break;
            }
        if ((columns[i].field = s_field_find(names[i])))
            columns[i].kind = columns[i].field->kind;
        else if (strncmp(names[i], CUSTOM_PREFIX, strlen(CUSTOM_PREFIX)) == 0 &&
                 names[i][strlen(CUSTOM_PREFIX)])
            keys[n_keys++] = columns[i].key = names[i] + strlen(CUSTOM_PREFIX);
        else if (call)
            crm_call_field_error(call, field,
                                 "unknown field \"%s\": one of id, kind, type, firstName, "
                                 "lastName, name, source, email, emails, phone, phones, tags, "
                                 "assignee, supplier, companyBuyer, companyName, organizationId, "
                                 "foundUs, preferredChannel, bestTime, dateOfBirth, "
                                 "discountPercent, leadCount, lastActivityAt, createdAt, "
                                 "updatedAt, address.(type|line1|line2|city|region|postcode|"
                                 "country), or customFields.<key>",
                                 names[i]);
    }
    if (n_keys) {
        char *array = crm_db_text_array(keys, n_keys);
        const char *params[] = {tenant, array};
        PGresult *res = crm_db_query(db, &s_custom_types, params);
        free(array);
        if (!res)
            code = -1;
        for (size_t i = 0; res && i < n; i++) {
            if (!columns[i].key)
                continue;
            int found = -1;
            for (int r = 0; r < PQntuples(res) && found < 0; r++)
                if (strcmp(PQgetvalue(res, r, 0), columns[i].key) == 0)
                    found = r;
            if (found < 0 && call) {
                char field[32];
                snprintf(field, sizeof field, "fields[%zu]", i);
                crm_call_field_error(call, field,
                                     "no custom field \"%s\" (see GET /v1/contact-fields)",
                                     columns[i].key);
            } else if (found >= 0) {
                const char *type = PQgetvalue(res, found, 1);
                columns[i].kind = strcmp(type, "number") == 0 ? S_NUMBER
                                  : strcmp(type, "date") == 0 ? S_DATE
                                                              : S_TEXT;
            }
        }
        PQclear(res);
    }
    free(keys);
    if (code == 0 && call && call->errors.n)
        code = 422;
    return code;
}

// --- the request ---------------------------------------------------------------------------

//  An export as the API shows it (an Export), from jobs j and exports x.
#define EXPORT_JSON                                                                           \
    "json_build_object('id', j.id,"                                                          \
    " 'status', CASE WHEN x.expired THEN 'expired' ELSE j.status END,"                        \
    " 'format', x.format, 'fields', j.request->'fields', 'filter', j.request->'filter',"      \
    " 'marketing', coalesce(j.request->'marketing', 'false'), 'total', j.total,"              \
    " 'processed', j.processed, 'rows', x.rows_written, 'parts', x.parts,"                    \
    " 'bytes', x.bytes, 'fileName', x.file_name,"                                             \
    " 'contentType', CASE x.format WHEN 'csv' THEN '" CONTENT_TYPE_CSV "'"                    \
    "                ELSE '" CONTENT_TYPE_XLSX "' END,"                                       \
    " 'error', x.error, 'actorId', j.actor_id,"                                               \
    " 'createdAt', " CONTACTS_TS("j.created_at") ","                                          \
    " 'startedAt', " CONTACTS_TS("j.started_at") ","                                          \
    " 'finishedAt', " CONTACTS_TS("j.finished_at") ","                                        \
    " 'expiresAt', " CONTACTS_TS("x.expires_at") ")::text"

static const crm_stmt_t s_export_get = {
    .name = "export_get",
    .sql = "SELECT " EXPORT_JSON " FROM jobs j JOIN exports x"
           " ON x.tenant_id = j.tenant_id AND x.id = j.id"
           " WHERE j.tenant_id = $1 AND j.id = $2::uuid",
    .nparams = 2};

//  $1 tenant, $2 id, $3 actor, $4 the request (JSON), $5 now, $6 format, $7 file name.
static const crm_stmt_t s_export_insert = {
    .name = "export_insert",
    .sql = "WITH job AS ("
           "  INSERT INTO jobs (tenant_id, id, kind, status, actor_id, request, created_at)"
           "  VALUES ($1, $2::uuid, 'export', 'queued', $3, $4::jsonb, $5::timestamptz)"
           "  RETURNING tenant_id, id)"
           " INSERT INTO exports (tenant_id, id, format, file_name)"
           " SELECT tenant_id, id, $6, $7 FROM job",
    .nparams = 7,
    .writes = true};


//  Read export id of the tenant: 200 with *out, 404, or a failure code.
static int s_export_read(crm_call_t *call, const char *id, Crm__Contacts__Export **out) {
    const char *params[] = {call->header->tenant_id, id};
    PGresult *res = crm_db_query(call->db, &s_export_get, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 404;
    if (PQntuples(res) == 0)
        crm_call_error(call, "not_found", "no such export");
    else {
        const char *json = PQgetvalue(res, 0, 0);
        crm_json_error_t err;
        *out = (Crm__Contacts__Export *)crm_json_to_pb(&crm__contacts__export__descriptor, json,
                                                       strlen(json), &err);
        code = *out ? 200 : 500;
        if (!*out) {
            crm_log_kv(CRM_LOG_ERROR, "stored export does not parse", "field", err.field,
                       "detail", err.message, NULL);
            crm_call_error(call, "internal", "stored export is unreadable");
        }
    }
    PQclear(res);
    return code;
}

int contacts_export_create(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    Crm__Contacts__CreateExportRequest *req =
        (Crm__Contacts__CreateExportRequest *)crm_pb_copy(request);
    const char *tenant = call->header->tenant_id;
    if (req->format == CRM__CONTACTS__EXPORT_FORMAT__EXPORT_FORMAT_UNSPECIFIED)
        crm_call_field_error(call, "format", "is required: csv or xlsx");
    if (req->n_fields == 0) {
        //  The default columns, kept in the job as if they had been named.
        size_t n = sizeof s_default_fields / sizeof *s_default_fields;
        req->fields = malloc(n * sizeof *req->fields);
        for (size_t i = 0; i < n; i++)
            req->fields[i] = strdup(s_default_fields[i]);
        req->n_fields = n;
    }
    if (req->n_fields > EXPORT_MAX_FIELDS)
        crm_call_field_error(call, "fields", "may name at most %d fields", EXPORT_MAX_FIELDS);
    int code = 0;
    if (req->n_fields <= EXPORT_MAX_FIELDS) {
        s_column_t *columns = calloc(req->n_fields, sizeof *columns);
        code = s_columns(call, call->db, tenant, req->fields, req->n_fields, columns);
        free(columns);
        if (code < 0)
            code = crm_call_db_failure(call);
    }
    if (!req->filter) {
        req->filter = malloc(sizeof *req->filter);
        crm__contacts__list_contacts_request__init(req->filter);
    }
    long offset;
    if (code == 0 || code == 422)
        contacts_list_check(call, req->filter, "filter.", &offset);
    if (code == 0 && call->errors.n)
        code = 422;
    bool xlsx = req->format == CRM__CONTACTS__EXPORT_FORMAT__EXPORT_FORMAT_XLSX;
    char id[CRM_UUID_LEN + 1], now[40];
    crm_uuid_v7(id);
    crm_time_now(now, sizeof now);
    if (code == 0) {
        //  contacts-[marketing-]YYYYMMDD-HHMMSS.csv, in UTC.
        char file_name[96];
        snprintf(file_name, sizeof file_name, "contacts-%s%.4s%.2s%.2s-%.2s%.2s%.2s.%s",
                 req->marketing ? "marketing-" : "", now, now + 5, now + 8, now + 11, now + 14,
                 now + 17, xlsx ? "xlsx" : "csv");
        json_t *what = crm_pb_to_json_value(&req->base);
        char *what_text = json_dumps(what, JSON_COMPACT);
        json_decref(what);
        const char *params[] = {tenant, id, call->header->actor_id, what_text, now,
                                xlsx ? "xlsx" : "csv", file_name};
        PGresult *res = crm_db_query(call->db, &s_export_insert, params);
        free(what_text);
        code = res ? 0 : crm_call_db_failure(call);
        PQclear(res);
    }
    crm__contacts__create_export_request__free_unpacked(req, NULL);
    if (code)
        return code;
    code = s_export_read(call, id, (Crm__Contacts__Export **)response);
    return code == 200 ? 201 : code;
}

int contacts_export_get(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Contacts__GetExportRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such export");
        return 404;
    }
    return s_export_read(call, req->id, (Crm__Contacts__Export **)response);
}

//  $1 tenant, $2 id, $3 n: the export's state, and part n when stored.
static const crm_stmt_t s_part_get = {
    .name = "export_part_get",
    .sql = "SELECT x.parts, x.expired, j.status, x.format, x.file_name, p.byte_offset,"
           "  p.data, coalesce(" CONTACTS_TS("x.expires_at") ", '')"
           " FROM exports x JOIN jobs j ON j.tenant_id = x.tenant_id AND j.id = x.id"
           " LEFT JOIN export_parts p ON p.tenant_id = x.tenant_id AND p.export_id = x.id"
           "   AND p.n = $3::int"
           " WHERE x.tenant_id = $1 AND x.id = $2::uuid",
    .nparams = 3};

int contacts_export_part(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__Contacts__GetExportPartRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such export");
        return 404;
    }
    char n[16];
    snprintf(n, sizeof n, "%u", req->n > INT32_MAX ? 0 : req->n);
    const char *params[] = {call->header->tenant_id, req->id, n};
    PGresult *res = crm_db_query(call->db, &s_part_get, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 200;
    if (PQntuples(res) == 0) {
        crm_call_error(call, "not_found", "no such export");
        code = 404;
    } else if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
        crm_call_error(call, "expired",
                       "the export expired at %s and its file is deleted: export again",
                       PQgetvalue(res, 0, 7));
        code = 410;
    } else if (PQgetisnull(res, 0, 6)) {
        const char *status = PQgetvalue(res, 0, 2);
        int parts = atoi(PQgetvalue(res, 0, 0));
        if (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0)
            crm_call_error(call, "not_found", "no part %u: the export has %d part%s, 1 to %d",
                           req->n, parts, parts == 1 ? "" : "s", parts);
        else
            crm_call_error(call, "not_found",
                           "no part %u yet: the export is %s, with %d part%s stored so far",
                           req->n, status, parts, parts == 1 ? "" : "s");
        code = 404;
    } else {
        Crm__Contacts__ExportPart *part = malloc(sizeof *part);
        crm__contacts__export_part__init(part);
        size_t size = 0;
        unsigned char *data =
            PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 6), &size);
        part->data.data = malloc(size ? size : 1);
        memcpy(part->data.data, data, size);
        part->data.len = size;
        PQfreemem(data);
        part->id = strdup(req->id);
        part->n = req->n;
        part->parts = (uint32_t)atoi(PQgetvalue(res, 0, 0));
        part->offset = strtoull(PQgetvalue(res, 0, 5), NULL, 10);
        bool whole = part->parts == 1 && strcmp(PQgetvalue(res, 0, 2), "succeeded") == 0;
        bool csv = strcmp(PQgetvalue(res, 0, 3), "csv") == 0;
        part->content_type = strdup(!whole ? "application/octet-stream"
                                    : csv  ? CONTENT_TYPE_CSV
                                           : CONTENT_TYPE_XLSX);
        part->file_name = strdup(PQgetvalue(res, 0, 4));
        *response = &part->base;
    }
    PQclear(res);
    return code;
}

// --- writing an export ----------------------------------------------------------------

//  The export being written by this runner.
typedef struct {
    char tenant[128];
    char id[CRM_UUID_LEN + 1];
    Crm__Contacts__CreateExportRequest *req;
    bool xlsx;
    s_column_t *columns;
    size_t n_columns;
    crm_stmt_t batch;  // the rows of a batch of items (built for its columns)
    const char *params[EXPORT_MAX_PARAMS];
    char cursor[CRM_UUID_LEN + 1];  // items below this one are still to write
    int parts;                      // parts stored
    long long bytes;                // their size
    //  XLSX: the workbook under construction, and what it holds so far.
    char path[512];
    lxw_workbook *workbook;
    lxw_worksheet *sheet;
    lxw_format *bold, *date, *datetime;
    long processed, rows;
} s_job_t;

typedef struct {
    const crm_config_t *cfg;
    crm_db_t *db;
    s_job_t *job;          // the export held, or NULL
    int64_t next_sweep;    // zclock_mono of the next retention sweep
} s_runner_t;

static const crm_stmt_t s_candidates = {
    .name = "export_candidates",
    .sql = "SELECT tenant_id, id::text FROM jobs WHERE kind = 'export'"
           " AND status IN ('queued', 'running') ORDER BY created_at LIMIT 16",
    .nparams = 0};

//  An export is held by a session advisory lock on its id.
static const crm_stmt_t s_lock = {
    .name = "export_lock",
    .sql = "SELECT pg_try_advisory_lock(hashtext('contacts.export'), hashtext($1))",
    .nparams = 1};

static const crm_stmt_t s_unlock = {
    .name = "export_unlock",
    .sql = "SELECT pg_advisory_unlock(hashtext('contacts.export'), hashtext($1))",
    .nparams = 1};

//  The held export's state, once locked (it may have finished meanwhile).
static const crm_stmt_t s_state = {
    .name = "export_state",
    .sql = "SELECT j.status, j.request::text, x.parts, x.bytes FROM jobs j JOIN exports x"
           " ON x.tenant_id = j.tenant_id AND x.id = j.id"
           " WHERE j.tenant_id = $1 AND j.id = $2::uuid",
    .nparams = 2};

//  The contacts selected ($3 how many): the export runs.
static const crm_stmt_t s_export_total = {
    .name = "export_total",
    .sql = "UPDATE jobs SET total = $3::int, status = 'running', started_at = now()"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 3,
    .writes = true};

//  Started (again): an XLSX export starts its file over.
static const crm_stmt_t s_start = {
    .name = "export_start",
    .sql = "WITH x AS ("
           "  UPDATE exports SET rows_written = CASE WHEN $3 THEN 0 ELSE rows_written END"
           "  WHERE tenant_id = $1 AND id = $2::uuid)"
           " UPDATE jobs SET status = 'running', started_at = coalesce(started_at, now()),"
           "  processed = CASE WHEN $3 THEN 0 ELSE processed END,"
           "  changed = CASE WHEN $3 THEN 0 ELSE changed END"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 3,
    .writes = true};

//  $1 tenant, $2 id, $3 n, $4 offset, $5 the bytes.
static const crm_stmt_t s_part_insert = {
    .name = "export_part_insert",
    .sql = "INSERT INTO export_parts (tenant_id, export_id, n, byte_offset, data)"
           " VALUES ($1, $2::uuid, $3::int, $4::bigint, $5::bytea)",
    .nparams = 5,
    .writes = true};

//  The items written: those from $3 up (they go newest first).
static const crm_stmt_t s_items_done = {
    .name = "export_items_done",
    .sql = "DELETE FROM job_items WHERE job_id = $2::uuid AND tenant_id = $1"
           " AND contact_id >= $3::uuid",
    .nparams = 3,
    .writes = true};

//  Progress: $3 contacts gone through, $4 rows written, $5 parts stored, $6 bytes, $7
//  finished, $8 the retention in hours.
static const crm_stmt_t s_progress = {
    .name = "export_progress",
    .sql = "WITH x AS ("
           "  UPDATE exports SET rows_written = rows_written + $4::int,"
           "    parts = parts + $5::int, bytes = bytes + $6::bigint,"
           "    expires_at = CASE WHEN $7 THEN now() + make_interval(hours => $8::int) END"
           "  WHERE tenant_id = $1 AND id = $2::uuid)"
           " UPDATE jobs SET processed = processed + $3::int, changed = changed + $4::int,"
           "  status = CASE WHEN $7 THEN 'succeeded' ELSE 'running' END,"
           "  finished_at = CASE WHEN $7 THEN now() END"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 8,
    .writes = true};

static const crm_stmt_t s_fail = {
    .name = "export_fail",
    .sql = "WITH x AS ("
           "  UPDATE exports SET error = $3 WHERE tenant_id = $1 AND id = $2::uuid),"
           " parts AS (DELETE FROM export_parts WHERE tenant_id = $1 AND export_id = $2::uuid),"
           " items AS (DELETE FROM job_items WHERE tenant_id = $1 AND job_id = $2::uuid)"
           " UPDATE jobs SET status = 'failed', finished_at = now(),"
           "  errors = errors || jsonb_build_array(jsonb_build_object('message', $3::text))"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 3,
    .writes = true};

//  Exports past their retention lose their parts.
static const crm_stmt_t s_sweep = {
    .name = "export_sweep",
    .sql = "WITH gone AS ("
           "  UPDATE exports SET expired = true"
           "  WHERE NOT expired AND expires_at <= now() RETURNING tenant_id, id)"
           " DELETE FROM export_parts p USING gone"
           " WHERE p.tenant_id = gone.tenant_id AND p.export_id = gone.id",
    .nparams = 0,
    .writes = true};

static void s_query_exec(crm_db_t *db, const crm_stmt_t *stmt, const char *const *params,
                         bool *ok) {
    if (!*ok)
        return;
    PGresult *res = crm_db_query(db, stmt, params);
    *ok = res != NULL;
    PQclear(res);
}

//  Let go of the export held (its workbook and temporary file too).
static void s_job_release(s_runner_t *self) {
    s_job_t *job = self->job;
    if (!job)
        return;
    if (crm_db_ok(self->db)) {
        const char *params[] = {job->id};
        PGresult *res = crm_db_query(self->db, &s_unlock, params);
        PQclear(res);
    }
    if (job->workbook) {
        //  Closing writes the file, which then goes.
        workbook_close(job->workbook);
        unlink(job->path);
    }
    if (job->req)
        crm__contacts__create_export_request__free_unpacked(job->req, NULL);
    free(job->columns);
    free((char *)job->batch.sql);
    free(job);
    self->job = NULL;
}

//  The export failed for good: say why, and let it go.
static void s_job_fail(s_runner_t *self, const char *why) {
    s_job_t *job = self->job;
    crm_log_kv(CRM_LOG_ERROR, "export failed", "export", job->id, "tenant", job->tenant,
               "detail", why, NULL);
    const char *params[] = {job->tenant, job->id, why};
    PGresult *res = crm_db_query(self->db, &s_fail, params);
    PQclear(res);
    s_job_release(self);
}

//  Build the statement reading a batch of the held export's items: $1 tenant, $2 job,
//  $3 cursor, $4 batch size, then the custom keys. Each row: the contact id, whether to
//  write it (a live contact, and for a marketing export one that may be emailed), then
//  one text per column.
static void s_batch_build(s_job_t *job) {
    size_t size = 1024 + strlen(MARKETING_SQL);
    for (size_t i = 0; i < job->n_columns; i++)
        size += 64 + (job->columns[i].field ? strlen(job->columns[i].field->sql) : 0);
    char *sql = malloc(size);
    int n = 4, len = snprintf(sql, size, "SELECT i.contact_id::text, c.id IS NOT NULL");
    for (size_t i = 0; i < job->n_columns; i++) {
        if (job->columns[i].field)
            len += snprintf(sql + len, size - len, ", coalesce((%s), '')",
                            job->columns[i].field->sql);
        else {
            job->params[n] = job->columns[i].key;
            len += snprintf(sql + len, size - len,
                            ", coalesce(c.profile->'customFields'->>$%d, '')", ++n);
        }
    }
    //  The batch's items first (an index range), so that only they are joined and
    //  rendered whatever the plan (job_items has no statistics when it is new).
    snprintf(sql + len, size - len,
             " FROM (SELECT contact_id FROM job_items WHERE job_id = $2::uuid"
             "       AND contact_id < $3::uuid ORDER BY contact_id DESC LIMIT $4::int) i"
             " LEFT JOIN contacts c ON c.tenant_id = $1"
             " AND c.id = i.contact_id AND c.deleted_at IS NULL%s%s"
             " ORDER BY i.contact_id DESC",
             job->req->marketing ? " AND " : "", job->req->marketing ? MARKETING_SQL : "");
    job->batch = (crm_stmt_t){
        .name = "export_batch", .sql = sql, .nparams = n, .custom_plan = true};
    job->params[0] = job->tenant;
    job->params[1] = job->id;
    job->params[2] = job->cursor;
}

//  The next batch of items after the cursor (NULL: the database failed).
static PGresult *s_batch(crm_db_t *db, s_job_t *job, int size) {
    char limit[16];
    snprintf(limit, sizeof limit, "%d", size);
    job->params[3] = limit;
    return crm_db_query(db, &job->batch, job->params);
}

//  Open the workbook of the held XLSX export: 0, or -1 (the reason in why).
static int s_workbook_open(const crm_config_t *cfg, s_job_t *job, char *why, size_t size) {
    const char *dir = cfg->contacts_export_tmp_dir[0] ? cfg->contacts_export_tmp_dir
                      : getenv("TMPDIR")              ? getenv("TMPDIR")
                                                      : "/tmp";
    snprintf(job->path, sizeof job->path, "%s/crm-export-%s.xlsx", dir, job->id);
    lxw_workbook_options options = {.constant_memory = LXW_TRUE, .tmpdir = (char *)dir,
                                    .use_zip64 = LXW_TRUE};
    job->workbook = workbook_new_opt(job->path, &options);
    if (!job->workbook) {
        snprintf(why, size, "could not create the workbook in %.150s (contacts.export_tmp_dir)",
                 dir);
        return -1;
    }
    job->sheet = workbook_add_worksheet(job->workbook, "Contacts");
    job->bold = workbook_add_format(job->workbook);
    format_set_bold(job->bold);
    job->date = workbook_add_format(job->workbook);
    format_set_num_format(job->date, "yyyy-mm-dd");
    job->datetime = workbook_add_format(job->workbook);
    format_set_num_format(job->datetime, "yyyy-mm-dd hh:mm:ss");
    for (size_t i = 0; i < job->n_columns; i++) {
        double width = job->columns[i].kind == S_DATETIME ? 20 : job->columns[i].kind == S_DATE
                                                                   ? 12
                                                                   : 16;
        worksheet_set_column(job->sheet, (lxw_col_t)i, (lxw_col_t)i, width, NULL);
    }
    worksheet_freeze_panes(job->sheet, 1, 0);
    for (size_t i = 0; i < job->n_columns; i++)
        worksheet_write_string(job->sheet, 0, (lxw_col_t)i, job->columns[i].name, job->bold);
    job->processed = job->rows = 0;
    return 0;
}

//  Parse "YYYY-MM-DD" with an optional "THH:MM:SS[.ffffff]Z"; false if it is neither.
static bool s_datetime(const char *text, lxw_datetime *out) {
    int year, month, day, hour = 0, minute = 0, consumed = 0;
    double second = 0;
    if (sscanf(text, "%4d-%2d-%2d%n", &year, &month, &day, &consumed) != 3 || consumed != 10)
        return false;
    if (text[10] && sscanf(text + 10, "T%2d:%2d:%lf", &hour, &minute, &second) != 3)
        return false;
    *out = (lxw_datetime){year, month, day, hour, minute, second};
    return true;
}

//  One cell of the workbook, by its kind; an empty value is a blank cell.
static lxw_error s_cell(s_job_t *job, lxw_row_t row, lxw_col_t col, s_kind_t kind,
                        const char *value, int len) {
    if (!len)
        return LXW_NO_ERROR;
    lxw_datetime when;
    char *end = NULL;
    switch (kind) {
    case S_NUMBER: {
        double number = strtod(value, &end);
        if (end && !*end)
            return worksheet_write_number(job->sheet, row, col, number, NULL);
        break;
    }
    case S_DATETIME:
    case S_DATE:
        if (s_datetime(value, &when))
            return worksheet_write_datetime(job->sheet, row, col, &when,
                                            kind == S_DATE ? job->date : job->datetime);
        break;
    case S_BOOL:
        return worksheet_write_boolean(job->sheet, row, col, strcmp(value, "true") == 0, NULL);
    case S_TEXT:
        break;
    }
    if (crm_utf8_chars(value) > EXPORT_XLSX_MAX_CELL) {
        //  A cell holds at most 32,767 characters: the rest is cut, at a character.
        size_t bytes = 0, chars = 0;
        while (value[bytes] && chars < EXPORT_XLSX_MAX_CELL) {
            bytes++;
            while (((unsigned char)value[bytes] & 0xC0) == 0x80)
                bytes++;
            chars++;
        }
        char *cut = strndup(value, bytes);
        lxw_error rc = worksheet_write_string(job->sheet, row, col, cut, NULL);
        free(cut);
        return rc;
    }
    return worksheet_write_string(job->sheet, row, col, value, NULL);
}

//  Fix the contacts of a queued export as its items, in one transaction with its total
//  (a restart before the commit selects again). The selection is the list's filter (and
//  the marketing rule), run here rather than in the request so that a tenant of millions
//  of contacts does not hold up the request past its deadline. 0, -1 when the database
//  failed, -2 when the export cannot be (why says why).
static int s_select(s_runner_t *self, char *why, size_t size) {
    s_job_t *job = self->job;
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.tenant_id = job->tenant;
    contacts_t contacts = {.cfg = self->cfg};
    crm_call_t call = {.header = &header, .db = self->db, .arg = &contacts};
    Crm__Contacts__ListContactsRequest empty = CRM__CONTACTS__LIST_CONTACTS_REQUEST__INIT;
    long total = 0;
    int rc = crm_db_begin(self->db) ? -1 : 0;
    if (rc == 0) {
        const Crm__Contacts__ListContactsRequest *filter =
            job->req->filter ? job->req->filter : &empty;
        int code = contacts_select_for_job_where(
            &call, filter, job->id, job->req->marketing ? MARKETING_SQL : NULL, &total);
        if (code == 422) {
            snprintf(why, size, "the filter is not valid: %s %s",
                     call.errors.n ? call.errors.items[0]->field : "",
                     call.errors.n ? call.errors.items[0]->message : "");
            rc = -2;
        } else if (code)
            rc = -1;
    }
    crm_errors_reset(&call.errors);
    if (rc == 0 && job->xlsx && total > EXPORT_XLSX_MAX_ROWS) {
        snprintf(why, size,
                 "an XLSX sheet holds at most %d rows and the filter finds %ld contacts: "
                 "export to csv, or narrow the filter",
                 EXPORT_XLSX_MAX_ROWS, total);
        rc = -2;
    }
    if (rc == 0) {
        char total_text[24];
        snprintf(total_text, sizeof total_text, "%ld", total);
        const char *params[] = {job->tenant, job->id, total_text};
        bool ok = true;
        s_query_exec(self->db, &s_export_total, params, &ok);
        rc = ok && crm_db_commit(self->db) == 0 ? 0 : -1;
    }
    if (rc)
        crm_db_rollback(self->db);
    return rc;
}

//  Claim the oldest export waiting that no one holds. true when one is held.
static bool s_claim(s_runner_t *self) {
    PGresult *candidates = crm_db_query(self->db, &s_candidates, NULL);
    if (!candidates)
        return false;
    for (int i = 0; i < PQntuples(candidates) && !self->job; i++) {
        const char *tenant = PQgetvalue(candidates, i, 0), *id = PQgetvalue(candidates, i, 1);
        const char *lock_params[] = {id};
        PGresult *locked = crm_db_query(self->db, &s_lock, lock_params);
        bool held = locked && strcmp(PQgetvalue(locked, 0, 0), "t") == 0;
        PQclear(locked);
        if (!held)
            continue;
        s_job_t *job = calloc(1, sizeof *job);
        snprintf(job->tenant, sizeof job->tenant, "%s", tenant);
        snprintf(job->id, sizeof job->id, "%s", id);
        snprintf(job->cursor, sizeof job->cursor, UUID_MAX);
        self->job = job;
        const char *params[] = {tenant, id};
        PGresult *state = crm_db_query(self->db, &s_state, params);
        const char *status = state && PQntuples(state) ? PQgetvalue(state, 0, 0) : "";
        bool queued = strcmp(status, "queued") == 0;
        if (!queued && strcmp(status, "running")) {
            //  Finished by its last holder meanwhile.
            PQclear(state);
            s_job_release(self);
            continue;
        }
        const char *request = PQgetvalue(state, 0, 1);
        crm_json_error_t err;
        job->req = (Crm__Contacts__CreateExportRequest *)crm_json_to_pb(
            &crm__contacts__create_export_request__descriptor, request, strlen(request), &err);
        job->parts = atoi(PQgetvalue(state, 0, 2));
        job->bytes = atoll(PQgetvalue(state, 0, 3));
        PQclear(state);
        if (!job->req) {
            s_job_fail(self, "the export's request is unreadable");
            continue;
        }
        job->xlsx = job->req->format == CRM__CONTACTS__EXPORT_FORMAT__EXPORT_FORMAT_XLSX;
        job->n_columns = job->req->n_fields;
        job->columns = calloc(job->n_columns + 1, sizeof *job->columns);
        if (s_columns(NULL, self->db, tenant, job->req->fields, job->n_columns, job->columns)) {
            s_job_release(self);
            break;
        }
        s_batch_build(job);
        char why[256];
        int selected = queued ? s_select(self, why, sizeof why) : 0;
        if (selected == -1) {
            s_job_release(self);
            break;
        }
        if (selected == -2 || (job->xlsx && s_workbook_open(self->cfg, job, why, sizeof why))) {
            s_job_fail(self, why);
            continue;
        }
        const char *start_params[] = {tenant, id, job->xlsx ? "true" : "false"};
        PGresult *started = crm_db_query(self->db, &s_start, start_params);
        if (!started)
            s_job_release(self);
        PQclear(started);
        if (self->job)
            crm_log_kv(CRM_LOG_INFO, "export started", "export", id, "tenant", tenant, NULL);
    }
    PQclear(candidates);
    return self->job != NULL;
}

//  Record a chunk's progress; finished: the export is done.
static void s_progress_record(s_runner_t *self, long processed, long rows, int parts,
                              long long bytes, bool finished, bool *ok) {
    s_job_t *job = self->job;
    char p[24], r[24], n[24], b[24], hours[24];
    snprintf(p, sizeof p, "%ld", processed);
    snprintf(r, sizeof r, "%ld", rows);
    snprintf(n, sizeof n, "%d", parts);
    snprintf(b, sizeof b, "%lld", bytes);
    snprintf(hours, sizeof hours, "%d", self->cfg->contacts_export_retention_hours);
    const char *params[] = {job->tenant, job->id, p, r, n, b, finished ? "true" : "false", hours};
    s_query_exec(self->db, &s_progress, params, ok);
}

//  Store one part of the held export.
static void s_part_store(s_runner_t *self, const char *data, size_t size, bool *ok) {
    s_job_t *job = self->job;
    char n[16], offset[24];
    snprintf(n, sizeof n, "%d", job->parts + 1);
    snprintf(offset, sizeof offset, "%lld", job->bytes);
    const char *values[] = {job->tenant, job->id, n, offset, data};
    int lengths[] = {0, 0, 0, 0, (int)size};
    int formats[] = {0, 0, 0, 0, 1};
    if (!*ok)
        return;
    PGresult *res = crm_db_query_params(self->db, &s_part_insert, values, lengths, formats);
    *ok = res != NULL;
    PQclear(res);
    if (*ok) {
        job->parts++;
        job->bytes += (long long)size;
    }
}

//  One part of a CSV export, in the runner's transaction: rows until the part is full
//  or no item is left. 0, or -1 when the database failed.
static int s_csv_chunk(s_runner_t *self) {
    s_job_t *job = self->job;
    crm_csv_writer_t *writer = crm_csv_writer_new(&(crm_csv_writer_options_t){
        .formula_guard = true});
    bool first = job->parts == 0, ok = true, finished = false, full = false;
    if (first) {
        //  A byte order mark (Excel then reads UTF-8), and the header.
        for (size_t i = 0; i < job->n_columns; i++)
            crm_csv_writer_field(writer, job->columns[i].name, strlen(job->columns[i].name));
        crm_csv_writer_end_record(writer);
    }
    long processed = 0, rows = 0;
    size_t target = (size_t)self->cfg->contacts_export_part_bytes;
    snprintf(job->cursor, sizeof job->cursor, UUID_MAX);
    while (ok && !finished && !full) {
        PGresult *res = s_batch(self->db, job, EXPORT_BATCH);
        if (!res) {
            ok = false;
            break;
        }
        int n = PQntuples(res);
        for (int i = 0; i < n && !full; i++) {
            snprintf(job->cursor, sizeof job->cursor, "%s", PQgetvalue(res, i, 0));
            processed++;
            if (strcmp(PQgetvalue(res, i, 1), "t") != 0)
                continue;
            for (size_t c = 0; c < job->n_columns; c++)
                crm_csv_writer_field(writer, PQgetvalue(res, i, (int)c + 2),
                                     (size_t)PQgetlength(res, i, (int)c + 2));
            crm_csv_writer_end_record(writer);
            rows++;
            size_t size;
            crm_csv_writer_data(writer, &size);
            full = size >= target;
        }
        //  The last item written may have been the last there is: the next chunk then
        //  finds none and finishes without a part.
        finished = n < EXPORT_BATCH && !full;
        PQclear(res);
    }
    size_t size;
    const char *data = crm_csv_writer_data(writer, &size);
    if (ok && size) {
        char *part = malloc(size + 3);
        size_t at = 0;
        if (first) {
            memcpy(part, "\xEF\xBB\xBF", 3);
            at = 3;
        }
        memcpy(part + at, data, size);
        s_part_store(self, part, size + at, &ok);
        free(part);
    }
    crm_csv_writer_destroy(&writer);
    if (ok && processed) {
        const char *params[] = {job->tenant, job->id, job->cursor};
        s_query_exec(self->db, &s_items_done, params, &ok);
    }
    if (ok) {
        //  s_part_store counted the part and its bytes already; the database adds them.
        bool stored = size > 0;
        s_progress_record(self, processed, rows, stored ? 1 : 0,
                          stored ? (long long)size + (first ? 3 : 0) : 0, finished, &ok);
    }
    return ok ? (finished ? 1 : 0) : -1;
}

//  The finished workbook into parts, in the runner's transaction.
static int s_xlsx_store(s_runner_t *self, char *why, size_t why_size) {
    s_job_t *job = self->job;
    lxw_error rc = workbook_close(job->workbook);
    job->workbook = NULL;
    if (rc != LXW_NO_ERROR) {
        snprintf(why, why_size, "could not write the workbook: %s", lxw_strerror(rc));
        unlink(job->path);
        return -2;
    }
    FILE *file = fopen(job->path, "rb");
    if (!file) {
        snprintf(why, why_size, "could not read the workbook back from %.200s", job->path);
        return -2;
    }
    size_t target = (size_t)self->cfg->contacts_export_part_bytes;
    char *buffer = malloc(target);
    bool ok = true;
    long long before = job->bytes;
    int parts_before = job->parts;
    size_t got;
    while (ok && (got = fread(buffer, 1, target, file)) > 0)
        s_part_store(self, buffer, got, &ok);
    fclose(file);
    free(buffer);
    unlink(job->path);
    //  Every item: those from the nil uuid up.
    const char *params[] = {job->tenant, job->id, "00000000-0000-0000-0000-000000000000"};
    s_query_exec(self->db, &s_items_done, params, &ok);
    s_progress_record(self, 0, 0, job->parts - parts_before, job->bytes - before, true, &ok);
    return ok ? 1 : -1;
}

//  One chunk of an XLSX export in the runner's transaction: rows into the workbook, and
//  the progress; at the end, the file stored. 0, 1 when finished, -1 when the database
//  failed, -2 when the workbook failed (why says how).
static int s_xlsx_chunk(s_runner_t *self, char *why, size_t why_size) {
    s_job_t *job = self->job;
    long processed = 0, rows = 0;
    bool ok = true, finished = false;
    while (ok && !finished && processed < EXPORT_XLSX_CHUNK) {
        PGresult *res = s_batch(self->db, job, EXPORT_BATCH);
        if (!res)
            return -1;
        int n = PQntuples(res);
        for (int i = 0; i < n; i++) {
            snprintf(job->cursor, sizeof job->cursor, "%s", PQgetvalue(res, i, 0));
            processed++;
            if (strcmp(PQgetvalue(res, i, 1), "t") != 0)
                continue;
            lxw_row_t row = (lxw_row_t)(job->rows + rows + 1);
            for (size_t c = 0; c < job->n_columns; c++) {
                lxw_error rc = s_cell(job, row, (lxw_col_t)c, job->columns[c].kind,
                                      PQgetvalue(res, i, (int)c + 2),
                                      PQgetlength(res, i, (int)c + 2));
                if (rc != LXW_NO_ERROR) {
                    snprintf(why, why_size, "could not write row %u of the workbook: %s",
                             (unsigned)row, lxw_strerror(rc));
                    PQclear(res);
                    return -2;
                }
            }
            rows++;
        }
        finished = n < EXPORT_BATCH;
        PQclear(res);
    }
    job->processed += processed;
    job->rows += rows;
    s_progress_record(self, processed, rows, 0, 0, false, &ok);
    if (!ok)
        return -1;
    return finished ? s_xlsx_store(self, why, why_size) : 0;
}

//  Do the next chunk of the held export (claiming one if none is held): worked when
//  there was work (look again at once), idle when none, failed when the database failed
//  (the export is let go: whoever claims it next goes on; an XLSX export starts again).
static crm_step_result_t s_run_one(s_runner_t *self) {
    if (!self->job && !s_claim(self))
        return CRM_STEP_IDLE;
    s_job_t *job = self->job;
    if (crm_db_begin(self->db)) {
        s_job_release(self);
        return CRM_STEP_FAILED;
    }
    char why[256] = "";
    int rc = job->xlsx ? s_xlsx_chunk(self, why, sizeof why) : s_csv_chunk(self);
    if (rc >= 0 && crm_db_commit(self->db) == 0) {
        if (rc == 1) {
            crm_log_kv(CRM_LOG_INFO, "export finished", "export", job->id, "tenant",
                       job->tenant, NULL);
            s_job_release(self);
        }
        return CRM_STEP_WORKED;
    }
    crm_db_rollback(self->db);
    if (rc == -2) {
        s_job_fail(self, why);
        return CRM_STEP_IDLE;
    }
    crm_log_kv(CRM_LOG_WARN, "export chunk failed; it will be tried again", "export", job->id,
               NULL);
    s_job_release(self);
    return CRM_STEP_FAILED;
}

//  Delete the parts of exports past their retention, every
//  contacts.export_sweep_interval_ms (between chunks).
static void s_sweep_run(s_runner_t *self) {
    int64_t now = zclock_mono();
    if (now < self->next_sweep)
        return;
    self->next_sweep = now + self->cfg->contacts_export_sweep_interval_ms;
    PGresult *res = crm_db_query(self->db, &s_sweep, NULL);
    if (res && atoi(PQcmdTuples(res)) > 0)
        crm_log_kv(CRM_LOG_INFO, "expired exports deleted", "parts", PQcmdTuples(res), NULL);
    PQclear(res);
}

// --- the export runner (main.c's table) ------------------------------------------------

void *contacts_export_runner_new(const crm_config_t *cfg, crm_db_t *db) {
    s_runner_t *self = calloc(1, sizeof *self);
    assert(self);
    self->cfg = cfg;
    self->db = db;
    return self;
}

//  Let go of the export held (its lock goes with the connection if that was lost).
void contacts_export_runner_destroy(void **state_p) {
    s_runner_t *self = *state_p;
    if (!self)
        return;
    s_job_release(self);
    free(self);
    *state_p = NULL;
}

crm_step_result_t contacts_export_runner_step(crm_step_t *step) {
    s_runner_t *self = step->state;
    s_sweep_run(self);
    return s_run_one(self);
}

int contacts_export_idle_ms(const crm_config_t *cfg) {
    (void)cfg;
    return EXPORT_IDLE_MS;
}
