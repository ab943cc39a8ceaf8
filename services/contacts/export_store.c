/*  export_store: every statement of exports: the SQL of each field of the catalogue, the
    marketing rule's condition, the export's rows, and the runner's claims, batches,
    parts and progress (moved here from export.c, not rewritten).
*/
#include "export.h"
#include "json_pb.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

//  CanContact(email, marketing) for the contact row c.
#define MARKETING_SQL                                                                         \
    "EXISTS (SELECT 1 FROM consents s WHERE s.tenant_id = c.tenant_id"                        \
    "        AND s.contact_id = c.id AND s.channel = 'email' AND s.purpose = 'marketing'"      \
    "        AND s.granted)"                                                                  \
    " AND NOT EXISTS (SELECT 1 FROM communication_rules r WHERE r.tenant_id = c.tenant_id"    \
    "                 AND r.contact_id = c.id AND r.do_not_email)"

//  The first item of a JSON array column (the primary one, else the first), one member.
#define PRIMARY_OF(array, member)                                                             \
    "(SELECT x->>'" member "' FROM jsonb_array_elements(coalesce(" array ", '[]'))"           \
    " WITH ORDINALITY AS t(x, o)"                                                             \
    " ORDER BY coalesce((x->>'primary')::boolean, false) DESC, o LIMIT 1)"
#define ALL_OF(array, member)                                                                 \
    "(SELECT string_agg(x->>'" member "', '; ' ORDER BY o)"                                   \
    " FROM jsonb_array_elements(coalesce(" array ", '[]')) WITH ORDINALITY AS t(x, o))"
#define ADDRESS(member) PRIMARY_OF("c.profile->'addresses'", member)

//  Each field of the catalogue (export.c) as text from the contact row c.
static const struct {
    const char *name;
    const char *sql;
} s_field_sql[] = {
    {"id", "c.id::text"},
    {"kind", "c.kind"},
    {"type", "c.type"},
    {"firstName", "c.first_name"},
    {"lastName", "c.last_name"},
    {"name", "c.name"},
    {"source", "c.source"},
    {"email", PRIMARY_OF("c.emails", "address")},
    {"emails", ALL_OF("c.emails", "address")},
    {"phone", PRIMARY_OF("c.phones", "number")},
    {"phones", ALL_OF("c.phones", "number")},
    {"tags", "array_to_string(c.tags, '; ')"},
    {"assignee", "c.assignee"},
    {"supplier", "c.supplier::text"},
    {"companyBuyer", "coalesce(c.profile->>'companyBuyer', 'false')"},
    {"companyName", "c.profile->>'companyName'"},
    {"organizationId", "c.organization_id::text"},
    {"foundUs", "c.profile->>'foundUs'"},
    {"preferredChannel", "c.profile->>'preferredChannel'"},
    {"bestTime", "c.profile->>'bestTime'"},
    {"dateOfBirth", "c.profile->>'dateOfBirth'"},
    {"discountPercent", "c.profile->>'discountPercent'"},
    {"leadCount", "c.lead_count::text"},
    {"lastActivityAt", CONTACTS_TS("c.last_activity_at")},
    {"createdAt", CONTACTS_TS("c.created_at")},
    {"updatedAt", CONTACTS_TS("c.updated_at")},
    {"address.type", ADDRESS("type")},
    {"address.line1", ADDRESS("line1")},
    {"address.line2", ADDRESS("line2")},
    {"address.city", ADDRESS("city")},
    {"address.region", ADDRESS("region")},
    {"address.postcode", ADDRESS("postcode")},
    {"address.country", ADDRESS("country")},
};

static const char *s_sql_of(const char *name) {
    for (size_t i = 0; i < sizeof s_field_sql / sizeof *s_field_sql; i++)
        if (strcmp(s_field_sql[i].name, name) == 0)
            return s_field_sql[i].sql;
    return "''";
}

//  An export as the API shows it (an Export), from jobs j and exports x.
#define EXPORT_JSON                                                                           \
    "json_build_object('id', j.id,"                                                          \
    " 'status', CASE WHEN x.expired THEN 'expired' ELSE j.status END,"                        \
    " 'format', x.format, 'fields', j.request->'fields', 'filter', j.request->'filter',"      \
    " 'marketing', coalesce(j.request->'marketing', 'false'), 'total', j.total,"              \
    " 'processed', j.processed, 'rows', x.rows_written, 'parts', x.parts,"                    \
    " 'bytes', x.bytes, 'fileName', x.file_name,"                                             \
    " 'contentType', CASE x.format WHEN 'csv' THEN '" EXPORT_CONTENT_TYPE_CSV "'"             \
    "                ELSE '" EXPORT_CONTENT_TYPE_XLSX "' END,"                                \
    " 'error', x.error, 'actorId', j.actor_id,"                                               \
    " 'createdAt', " CONTACTS_TS("j.created_at") ","                                          \
    " 'startedAt', " CONTACTS_TS("j.started_at") ","                                          \
    " 'finishedAt', " CONTACTS_TS("j.finished_at") ","                                        \
    " 'expiresAt', " CONTACTS_TS("x.expires_at") ")::text"

//  The custom fields' types of tenant (key -> type), for columns of custom keys.
static const crm_stmt_t s_custom_types = {
    .name = "export_custom_types",
    .sql = "SELECT key, type FROM contact_fields WHERE tenant_id = $1 AND key = ANY ($2::text[])",
    .nparams = 2};

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
    //  Not into an export an erasure has taken back (contacts_erase): it stays empty.
    .sql = "INSERT INTO export_parts (tenant_id, export_id, n, byte_offset, data)"
           " SELECT $1, $2::uuid, $3::int, $4::bigint, $5::bytea"
           " WHERE NOT EXISTS (SELECT 1 FROM exports WHERE tenant_id = $1 AND id = $2::uuid"
           "                   AND expired)",
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
           " WHERE tenant_id = $1 AND id = $2::uuid AND status <> 'failed'",
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

//  Run a statement whose result is not read: 0, or -1 when the database failed.
static int s_exec(crm_db_t *db, const crm_stmt_t *stmt, const char *const *params) {
    PGresult *res = crm_db_query(db, stmt, params);
    PQclear(res);
    return res ? 0 : -1;
}

// --- shared ------------------------------------------------------------------------------

int contacts_export_store_custom_types(crm_db_t *db, const char *tenant,
                                       contacts_export_column_t *columns, size_t n,
                                       crm_errors_t *errors) {
    const char **keys = calloc(n + 1, sizeof *keys);
    size_t n_keys = 0;
    for (size_t i = 0; i < n; i++)
        if (columns[i].key)
            keys[n_keys++] = columns[i].key;
    int rc = 0;
    if (n_keys) {
        char *array = crm_db_text_array(keys, n_keys);
        const char *params[] = {tenant, array};
        PGresult *res = crm_db_query(db, &s_custom_types, params);
        free(array);
        rc = res ? 0 : -1;
        for (size_t i = 0; res && i < n; i++) {
            if (!columns[i].key)
                continue;
            int found = -1;
            for (int r = 0; r < PQntuples(res) && found < 0; r++)
                if (strcmp(PQgetvalue(res, r, 0), columns[i].key) == 0)
                    found = r;
            char field[32];
            snprintf(field, sizeof field, "fields[%zu]", i);
            if (found < 0 && errors)
                crm_errors_add(errors, field, "no custom field \"%s\" (see GET /v1/contact-fields)",
                               columns[i].key);
            else if (found >= 0)
                contacts_export_column_type(&columns[i], PQgetvalue(res, found, 1));
        }
        PQclear(res);
    }
    free(keys);
    return rc;
}

// --- the methods' statements ---------------------------------------------------------------

int contacts_export_store_insert(crm_call_t *call, const char *id, const char *request,
                                 const char *now, const char *format, const char *file_name) {
    const char *params[] = {call->header->tenant_id, id, call->header->actor_id, request, now,
                            format, file_name};
    return s_exec(call->db, &s_export_insert, params) ? crm_call_db_failure(call) : 0;
}

int contacts_export_store_read(crm_call_t *call, const char *id, Crm__Contacts__Export **out) {
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

int contacts_export_store_part(crm_call_t *call, const char *id, unsigned n,
                               contacts_export_part_t *out) {
    char n_text[16];
    snprintf(n_text, sizeof n_text, "%u", n);
    const char *params[] = {call->header->tenant_id, id, n_text};
    PGresult *res = crm_db_query(call->db, &s_part_get, params);
    if (!res)
        return crm_call_db_failure(call);
    memset(out, 0, sizeof *out);
    out->found = PQntuples(res) > 0;
    if (out->found) {
        out->parts = atoi(PQgetvalue(res, 0, 0));
        out->expired = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
        snprintf(out->status, sizeof out->status, "%s", PQgetvalue(res, 0, 2));
        out->csv = strcmp(PQgetvalue(res, 0, 3), "csv") == 0;
        out->file_name = strdup(PQgetvalue(res, 0, 4));
        snprintf(out->expires_at, sizeof out->expires_at, "%s", PQgetvalue(res, 0, 7));
        out->stored = !PQgetisnull(res, 0, 6);
    }
    if (out->stored) {
        out->offset = strtoull(PQgetvalue(res, 0, 5), NULL, 10);
        out->data = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 6), &out->size);
    }
    PQclear(res);
    return 0;
}

// --- the runner's statements ---------------------------------------------------------------

int contacts_export_store_candidates(crm_db_t *db, char ***tenants, char ***ids, size_t *n) {
    PGresult *res = crm_db_query(db, &s_candidates, NULL);
    *n = 0;
    *tenants = *ids = NULL;
    if (!res)
        return -1;
    int rows = PQntuples(res);
    *tenants = calloc((size_t)rows + 1, sizeof **tenants);
    *ids = calloc((size_t)rows + 1, sizeof **ids);
    for (int i = 0; i < rows; i++) {
        (*tenants)[i] = strdup(PQgetvalue(res, i, 0));
        (*ids)[i] = strdup(PQgetvalue(res, i, 1));
    }
    *n = (size_t)rows;
    PQclear(res);
    return 0;
}

int contacts_export_store_lock(crm_db_t *db, const char *id) {
    const char *params[] = {id};
    PGresult *res = crm_db_query(db, &s_lock, params);
    if (!res)
        return -1;
    int held = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return held;
}

void contacts_export_store_unlock(crm_db_t *db, const char *id) {
    const char *params[] = {id};
    s_exec(db, &s_unlock, params);
}

int contacts_export_store_state(crm_db_t *db, const char *tenant, const char *id,
                                char *status, size_t size, char **request, int *parts,
                                long long *bytes) {
    const char *params[] = {tenant, id};
    PGresult *res = crm_db_query(db, &s_state, params);
    *request = NULL;
    snprintf(status, size, "%s", res && PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    if (res && PQntuples(res)) {
        *request = strdup(PQgetvalue(res, 0, 1));
        *parts = atoi(PQgetvalue(res, 0, 2));
        *bytes = atoll(PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    return res ? 0 : -1;
}

const char *contacts_export_store_marketing_condition(void) {
    return MARKETING_SQL;
}

int contacts_export_store_total(crm_db_t *db, const char *tenant, const char *id, long total) {
    char total_text[24];
    snprintf(total_text, sizeof total_text, "%ld", total);
    const char *params[] = {tenant, id, total_text};
    return s_exec(db, &s_export_total, params);
}

int contacts_export_store_start(crm_db_t *db, const char *tenant, const char *id, bool xlsx) {
    const char *params[] = {tenant, id, xlsx ? "true" : "false"};
    return s_exec(db, &s_start, params);
}

int contacts_export_store_part_insert(crm_db_t *db, const char *tenant, const char *id, int n,
                                      long long offset, const char *data, size_t size) {
    char n_text[16], offset_text[24];
    snprintf(n_text, sizeof n_text, "%d", n);
    snprintf(offset_text, sizeof offset_text, "%lld", offset);
    const char *values[] = {tenant, id, n_text, offset_text, data};
    int lengths[] = {0, 0, 0, 0, (int)size};
    int formats[] = {0, 0, 0, 0, 1};
    PGresult *res = crm_db_query_params(db, &s_part_insert, values, lengths, formats);
    PQclear(res);
    return res ? 0 : -1;
}

int contacts_export_store_items_done(crm_db_t *db, const char *tenant, const char *id,
                                     const char *from) {
    const char *params[] = {tenant, id, from};
    return s_exec(db, &s_items_done, params);
}

int contacts_export_store_progress(crm_db_t *db, const char *tenant, const char *id,
                                   long processed, long rows, int parts, long long bytes,
                                   bool finished, int retention_hours) {
    char p[24], r[24], n[24], b[24], hours[24];
    snprintf(p, sizeof p, "%ld", processed);
    snprintf(r, sizeof r, "%ld", rows);
    snprintf(n, sizeof n, "%d", parts);
    snprintf(b, sizeof b, "%lld", bytes);
    snprintf(hours, sizeof hours, "%d", retention_hours);
    const char *params[] = {tenant, id, p, r, n, b, finished ? "true" : "false", hours};
    return s_exec(db, &s_progress, params);
}

void contacts_export_store_fail(crm_db_t *db, const char *tenant, const char *id,
                                const char *why) {
    const char *params[] = {tenant, id, why};
    s_exec(db, &s_fail, params);
}

int contacts_export_store_sweep(crm_db_t *db) {
    PGresult *res = crm_db_query(db, &s_sweep, NULL);
    int parts = res ? atoi(PQcmdTuples(res)) : -1;
    PQclear(res);
    return parts;
}

void contacts_export_store_batch_build(crm_stmt_t *stmt, const char **params,
                                       const contacts_export_column_t *columns, size_t n,
                                       bool marketing) {
    size_t size = 1024 + strlen(MARKETING_SQL);
    for (size_t i = 0; i < n; i++)
        size += 64 + (columns[i].catalogue ? strlen(s_sql_of(columns[i].name)) : 0);
    char *sql = malloc(size);
    int k = 4, len = snprintf(sql, size, "SELECT i.contact_id::text, c.id IS NOT NULL");
    for (size_t i = 0; i < n; i++) {
        if (columns[i].catalogue)
            len += snprintf(sql + len, size - len, ", coalesce((%s), '')",
                            s_sql_of(columns[i].name));
        else {
            params[k] = columns[i].key;
            len += snprintf(sql + len, size - len,
                            ", coalesce(c.profile->'customFields'->>$%d, '')", ++k);
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
             marketing ? " AND " : "", marketing ? MARKETING_SQL : "");
    *stmt = (crm_stmt_t){.name = "export_batch", .sql = sql, .nparams = k, .custom_plan = true};
}
