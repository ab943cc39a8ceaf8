/*  import_store: every statement of the CSV import, and the ContactCreated events of the
    contacts it creates (in the statement that creates them). The methods' statements
    take their call (tenant, errors); the job's take the step's connection. Nothing here
    decides anything: import.c holds the rules, the stages call these in order.
*/
#include "import.h"
#include "rows.h"
#include "json_pb.h"
#include "log.h"
#include "outbox.h"

#include <ctype.h>
#include <string.h>

#define S_TEXT(x) #x
#define S_NUMBER(x) S_TEXT(x)  //  a number macro as SQL text

// --- statements ----------------------------------------------------------------------------

#define IMPORT_JSON(i)                                                                        \
    "json_build_object('id', " i ".id, 'status', " i ".status,"                               \
    " 'dryRun', (" i ".options->>'dryRun')::boolean,"                                         \
    " 'policy', coalesce(" i ".options->>'policy', 'skip'), 'mapping', " i ".mapping,"        \
    " 'parts', " i ".parts, 'bytes', " i ".bytes::text, 'jobId', " i ".job_id,"               \
    " 'rows', " i ".data_rows, 'created', " i ".created, 'updated', " i ".updated,"           \
    " 'skipped', " i ".skipped, 'failed', " i ".failed, 'error', " i ".error,"                \
    " 'encoding', " i ".encoding,"                                                            \
    " 'createdAt', " CONTACTS_TS(i ".created_at") ","                                         \
    " 'finishedAt', " CONTACTS_TS(i ".finished_at") ","                                       \
    " 'outcomes', coalesce((SELECT json_agg(json_build_object('row', o.row_no,"               \
    "   'action', o.action, 'contactId', o.contact_id, 'matchedOn', o.matched_on,"            \
    "   'field', o.field, 'message', o.message) ORDER BY o.seq)"                              \
    "   FROM import_outcomes o WHERE o.import_id = " i ".id"                                  \
    "     AND o.row_no <= " S_NUMBER(IMPORT_OUTCOMES_MAX) " + 1), '[]'))::text"

static const crm_stmt_t s_import_insert = {
    .name = "import_insert",
    .sql = "INSERT INTO imports (tenant_id, id, actor_id, options, created_at)"
           " VALUES ($1, $2::uuid, $3, $4::jsonb, $5::timestamptz)",
    .nparams = 5,
    .writes = true};

static const crm_stmt_t s_import_get = {
    .name = "import_get",
    .sql = "SELECT " IMPORT_JSON("i") " FROM imports i WHERE i.tenant_id = $1 AND i.id = $2::uuid",
    .nparams = 2};

static const crm_stmt_t s_import_lock = {
    .name = "import_lock",
    .sql = "SELECT status, parts, bytes, options::text FROM imports"
           " WHERE tenant_id = $1 AND id = $2::uuid FOR UPDATE",
    .nparams = 2};

//  A part, added once: $3 its number, $4 its bytes (hex), $5 its size.
static const crm_stmt_t s_part_add = {
    .name = "import_part_add",
    .sql = "WITH p AS ("
           "  INSERT INTO import_parts (import_id, part, data) VALUES ($2::uuid, $3::int, $4::bytea)"
           "  ON CONFLICT DO NOTHING RETURNING part)"
           " UPDATE imports SET parts = parts + 1, bytes = bytes + $5::bigint"
           " WHERE tenant_id = $1 AND id = $2::uuid AND EXISTS (SELECT 1 FROM p)",
    .nparams = 5,
    .writes = true};

static const crm_stmt_t s_import_queue = {
    .name = "import_queue",
    .sql = "WITH j AS ("
           "  INSERT INTO jobs (tenant_id, id, kind, status, actor_id, request, created_at)"
           "  VALUES ($1, $3::uuid, 'import', 'queued', $4, $5::jsonb, $6::timestamptz))"
           " UPDATE imports SET status = 'queued', job_id = $3::uuid"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 6,
    .writes = true};

static const crm_stmt_t s_mapping_put = {
    .name = "import_mapping_put",
    .sql = "INSERT INTO import_mappings (tenant_id, name, columns, updated_at)"
           " VALUES ($1, $2, $3::jsonb, now())"
           " ON CONFLICT (tenant_id, name) DO UPDATE SET columns = $3::jsonb, updated_at = now()"
           " RETURNING json_build_object('name', name, 'columns', columns,"
           "   'updatedAt', " CONTACTS_TS("updated_at") ")::text",
    .nparams = 3,
    .writes = true};

static const crm_stmt_t s_mapping_get = {
    .name = "import_mapping_get",
    .sql = "SELECT json_build_object('name', name, 'columns', columns,"
           "   'updatedAt', " CONTACTS_TS("updated_at") ")::text"
           " FROM import_mappings WHERE tenant_id = $1 AND name = $2",
    .nparams = 2};

static const crm_stmt_t s_mapping_list = {
    .name = "import_mapping_list",
    .sql = "SELECT json_build_object('name', name, 'columns', columns,"
           "   'updatedAt', " CONTACTS_TS("updated_at") ")::text"
           " FROM import_mappings WHERE tenant_id = $1 ORDER BY name LIMIT 500",
    .nparams = 1};

static const crm_stmt_t s_custom_keys = {
    .name = "import_custom_keys",
    .sql = "SELECT key FROM contact_fields WHERE tenant_id = $1 ORDER BY key",
    .nparams = 1};

//  Every row the import refused, in row order, from the cursor (the last row of the
//  previous page).
static const crm_stmt_t s_errors_page = {
    .name = "import_errors_page",
    .sql = "SELECT o.row_no, o.field, o.message FROM import_outcomes o"
           " JOIN imports i ON i.id = o.import_id"
           " WHERE i.tenant_id = $1 AND o.import_id = $2::uuid AND o.action = 'error'"
           "   AND o.row_no > $3::int ORDER BY o.row_no LIMIT $4::int",
    .nparams = 4};

// --- the job's statements ---

static const crm_stmt_t s_import_load = {
    .name = "import_load",
    .sql = "SELECT id::text, status, options::text, parts, data_rows, done_rows FROM imports"
           " WHERE tenant_id = $1 AND job_id = $2::uuid",
    .nparams = 2};

static const crm_stmt_t s_part_get = {
    .name = "import_part_get",
    .sql = "SELECT data FROM import_parts WHERE import_id = $1::uuid AND part = $2::int",
    .nparams = 2};

//  The scan is done: $3 the rows, $4 the mapping, $5 the encoding.
static const crm_stmt_t s_scanned = {
    .name = "import_scanned",
    .sql = "WITH i AS ("
           "  UPDATE imports SET data_rows = $3::int, mapping = $4::jsonb, encoding = $5,"
           "    status = 'running' WHERE tenant_id = $1 AND job_id = $2::uuid)"
           " UPDATE jobs SET total = $3::int, status = 'running', started_at = now()"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 5,
    .writes = true};

//  A file-level error: nothing imported. $3 the sentence, $4 the job's error (JSON).
static const crm_stmt_t s_failed = {
    .name = "import_failed",
    .sql = "WITH i AS ("
           "  UPDATE imports SET status = 'failed', error = $3, finished_at = now()"
           "  WHERE tenant_id = $1 AND job_id = $2::uuid RETURNING id),"
           " p AS (DELETE FROM import_parts WHERE import_id IN (SELECT id FROM i))"
           " UPDATE jobs SET status = 'failed', finished_at = now(),"
           "   started_at = coalesce(started_at, now()), errors = $4::jsonb"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 4,
    .writes = true};

//  The contacts of a chunk matching its rows' email ($3) or phone ($4): one row per
//  matching row (ord, contact id or '', how). A dry run's own earlier rows count too.
static const crm_stmt_t s_lookup = {
    .name = "import_lookup",
    .sql = "SELECT k.ord::int, m.id, m.how"
           " FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS k(email, phone, ord)"
           " CROSS JOIN LATERAL ("
           "  SELECT e.contact_id::text AS id, 'email' AS how, 1 AS pref FROM contact_emails e"
           "  WHERE k.email <> '' AND e.tenant_id = $1 AND e.address_norm = k.email"
           "  UNION ALL"
           "  SELECT '', 'email, row ' || x.row_no, 2 FROM import_keys x"
           "  WHERE k.email <> '' AND x.import_id = $2::uuid AND x.key = 'e:' || k.email"
           "  UNION ALL"
           "  (SELECT c.id::text, 'phone', 3 FROM contacts c"
           "   WHERE k.phone <> '' AND c.deleted_at IS NULL"
           "     AND jsonb_path_query_array(c.phones, '$[*].number') @> jsonb_build_array(k.phone)"
           "     AND (c.tenant_id = $1) IS TRUE ORDER BY c.created_at LIMIT 1)"
           "  UNION ALL"
           "  SELECT '', 'phone, row ' || x.row_no, 4 FROM import_keys x"
           "  WHERE k.phone <> '' AND x.import_id = $2::uuid AND x.key = 'p:' || k.phone"
           "  ORDER BY pref LIMIT 1) m",
    .nparams = 4,
    //  Planned at every run: a plan made while the table was small (a tenant's first
    //  import) would scan the tenant's contacts for each phone for ever after. The
    //  tenant test is written so that no tenant index can serve it, for the same reason.
    .custom_plan = true};

//  The contacts a chunk creates, their audit entries, email keys and ContactCreated events.
static const crm_stmt_t s_create = {
    .name = "import_create",
    .sql = "WITH ins AS ("
           "  INSERT INTO contacts (tenant_id, id, kind, type, first_name, last_name, name,"
           "    source, tags, emails, phones, created_at, updated_at, supplier, assignee,"
           "    organization_id, profile, updated_by)"
           "  SELECT $1, id, kind, type, first_name, last_name, name, source, tags::text[],"
           "    emails::jsonb, phones::jsonb, $2::timestamptz, $2::timestamptz, supplier::boolean,"
           "    assignee, nullif(org, '')::uuid, profile::jsonb, $3"
           "  FROM unnest($4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],"
           "    $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],"
           "    $16::text[], $17::text[])"
           "    AS r(id, kind, type, first_name, last_name, name, source, tags, emails, phones,"
           "         supplier, assignee, org, profile)"
           "  RETURNING *),"
           CONTACTS_AUDIT_CREATED_SQL("ins")
           " keys AS ("
           "  INSERT INTO contact_emails (tenant_id, address_norm, contact_id)"
           "  SELECT $1, a, c FROM unnest($18::text[], $19::uuid[]) AS k(a, c)),"
           CRM_OUTBOX_SQL("ev", "ContactCreated",
                          "unnest($20::text[], $4::uuid[], $21::text[]) AS x(e, a, p)",
                          "x.a::text", "$2", "x.e", "x.p")
           " SELECT count(*) FROM ins",
    .nparams = 21,
    .writes = true};

static const crm_stmt_t s_keys_add = {
    .name = "import_keys_add",
    .sql = "INSERT INTO import_keys (import_id, key, row_no)"
           " SELECT $1::uuid, k, r FROM unnest($2::text[], $3::int[]) AS x(k, r)"
           " ON CONFLICT DO NOTHING",
    .nparams = 3,
    .writes = true};

static const crm_stmt_t s_outcomes_add = {
    .name = "import_outcomes_add",
    .sql = "INSERT INTO import_outcomes (import_id, row_no, action, contact_id, matched_on,"
           "  field, message)"
           " SELECT $1::uuid, r, a, c, m, f, t"
           " FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])"
           "   AS x(r, a, c, m, f, t)",
    .nparams = 7,
    .writes = true};

//  A chunk's progress: $3 rows, $4 created, $5 updated, $6 skipped, $7 failed, $8 the
//  errors (JSON array), $9 finished.
static const crm_stmt_t s_progress = {
    .name = "import_progress",
    .sql = "WITH i AS ("
           "  UPDATE imports SET done_rows = done_rows + $3::int, created = created + $4::int,"
           "    updated = updated + $5::int, skipped = skipped + $6::int,"
           "    failed = failed + $7::int,"
           "    status = CASE WHEN $9::boolean THEN 'succeeded' ELSE 'running' END,"
           "    finished_at = CASE WHEN $9::boolean THEN now() END"
           "  WHERE tenant_id = $1 AND job_id = $2::uuid RETURNING id),"
           " p AS (DELETE FROM import_parts WHERE $9::boolean AND import_id IN (SELECT id FROM i)),"
           " k AS (DELETE FROM import_keys WHERE $9::boolean AND import_id IN (SELECT id FROM i))"
           " UPDATE jobs SET processed = processed + $3::int,"
           "   changed = changed + $4::int + $5::int, failed = failed + $7::int,"
           "   errors = CASE WHEN jsonb_array_length(errors) >= " S_NUMBER(IMPORT_ERRORS_MAX)
           "     THEN errors ELSE (SELECT coalesce(jsonb_agg(e), '[]') FROM (SELECT e FROM"
           "       jsonb_array_elements(errors || $8::jsonb) e"
           "       LIMIT " S_NUMBER(IMPORT_ERRORS_MAX) ") s) END,"
           "   status = CASE WHEN $9::boolean THEN 'succeeded' ELSE 'running' END,"
           "   finished_at = CASE WHEN $9::boolean THEN now() END"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 9,
    .writes = true};

//  Run a statement whose result is not read: 0, or -1 when the database failed.
static int s_exec(crm_db_t *db, const crm_stmt_t *stmt, const char *const *params) {
    PGresult *res = crm_db_query(db, stmt, params);
    PQclear(res);
    return res ? 0 : -1;
}

// --- the methods' statements ---------------------------------------------------------------

int contacts_import_store_read(crm_call_t *call, const char *id, Crm__Contacts__Import **out) {
    const char *params[] = {call->header->tenant_id, id};
    return crm_row_read_one(call, &s_import_get, params, &crm__contacts__import__descriptor,
                            "import", (ProtobufCMessage **)out);
}

int contacts_import_store_insert(crm_call_t *call, const char *id, const char *options,
                                 const char *now) {
    const char *params[] = {call->header->tenant_id, id, call->header->actor_id, options, now};
    return s_exec(call->db, &s_import_insert, params) ? crm_call_db_failure(call) : 0;
}

int contacts_import_store_lock(crm_call_t *call, const char *id, contacts_import_state_t *out) {
    const char *params[] = {call->header->tenant_id, id};
    PGresult *res = crm_db_query(call->db, &s_import_lock, params);
    if (!res)
        return crm_call_db_failure(call);
    if (PQntuples(res) == 0) {
        PQclear(res);
        crm_call_error(call, "not_found", "no such import");
        return 404;
    }
    out->receiving = strcmp(PQgetvalue(res, 0, 0), "receiving") == 0;
    out->parts = atol(PQgetvalue(res, 0, 1));
    out->bytes = atoll(PQgetvalue(res, 0, 2));
    json_t *options = json_loads(PQgetvalue(res, 0, 3), 0, NULL);
    out->dry_run = json_is_true(json_object_get(options, "dryRun"));
    json_decref(options);
    PQclear(res);
    return 200;
}

int contacts_import_store_part_add(crm_call_t *call, const char *id, unsigned part,
                                   const uint8_t *data, size_t size) {
    size_t hex_len = 2 + 2 * size;
    char *hex = malloc(hex_len + 1);
    static const char digits[] = "0123456789abcdef";
    hex[0] = '\\';
    hex[1] = 'x';
    for (size_t i = 0; i < size; i++) {
        hex[2 + 2 * i] = digits[data[i] >> 4];
        hex[3 + 2 * i] = digits[data[i] & 15];
    }
    hex[hex_len] = 0;
    char part_text[16], size_text[24];
    snprintf(part_text, sizeof part_text, "%u", part);
    snprintf(size_text, sizeof size_text, "%zu", size);
    const char *params[] = {call->header->tenant_id, id, part_text, hex, size_text};
    int rc = s_exec(call->db, &s_part_add, params);
    free(hex);
    return rc ? crm_call_db_failure(call) : 0;
}

int contacts_import_store_queue(crm_call_t *call, const char *id, const char *job_id,
                                const char *what, const char *now) {
    const char *params[] = {call->header->tenant_id, id, job_id, call->header->actor_id, what,
                            now};
    return s_exec(call->db, &s_import_queue, params) ? crm_call_db_failure(call) : 0;
}

static int s_mapping_from(crm_call_t *call, PGresult *res, ProtobufCMessage **response) {
    const char *json = PQgetvalue(res, 0, 0);
    crm_json_error_t err;
    *response = crm_json_to_pb(&crm__contacts__import_mapping__descriptor, json, strlen(json), &err);
    if (!*response) {
        crm_call_error(call, "internal", "stored mapping is unreadable");
        return 500;
    }
    return 200;
}

int contacts_import_store_mapping_put(crm_call_t *call, const char *name, const char *columns,
                                      ProtobufCMessage **response) {
    const char *params[] = {call->header->tenant_id, name, columns};
    PGresult *res = crm_db_query(call->db, &s_mapping_put, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = s_mapping_from(call, res, response);
    PQclear(res);
    return code;
}

int contacts_import_store_mapping_get(crm_call_t *call, const char *name,
                                      ProtobufCMessage **response) {
    const char *params[] = {call->header->tenant_id, name};
    PGresult *res = crm_db_query(call->db, &s_mapping_get, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 404;
    if (PQntuples(res))
        code = s_mapping_from(call, res, response);
    else
        crm_call_error(call, "not_found", "no such mapping");
    PQclear(res);
    return code;
}

int contacts_import_store_mapping_list(crm_call_t *call, ProtobufCMessage **response) {
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_mapping_list, params);
    if (!res)
        return crm_call_db_failure(call);
    Crm__Contacts__ListImportMappingsResponse *list = malloc(sizeof *list);
    crm__contacts__list_import_mappings_response__init(list);
    int rows = PQntuples(res);
    list->items = rows ? calloc(rows, sizeof *list->items) : NULL;
    for (int i = 0; i < rows; i++) {
        const char *json = PQgetvalue(res, i, 0);
        crm_json_error_t err;
        ProtobufCMessage *m =
            crm_json_to_pb(&crm__contacts__import_mapping__descriptor, json, strlen(json), &err);
        if (m)
            list->items[list->n_items++] = (Crm__Contacts__ImportMapping *)m;
    }
    PQclear(res);
    *response = &list->base;
    return 200;
}

int contacts_import_store_errors_page(crm_call_t *call, const char *id, long long after,
                                      int limit,
                                      Crm__Contacts__ListImportErrorsResponse **out) {
    char after_text[24], limit_text[16];
    snprintf(after_text, sizeof after_text, "%lld", after);
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *params[] = {call->header->tenant_id, id, after_text, limit_text};
    PGresult *res = crm_db_query(call->db, &s_errors_page, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res), n = rows > limit ? limit : rows;
    Crm__Contacts__ListImportErrorsResponse *list = malloc(sizeof *list);
    crm__contacts__list_import_errors_response__init(list);
    list->items = n > 0 ? calloc((size_t)n, sizeof *list->items) : NULL;
    for (int i = 0; i < n; i++) {
        Crm__Contacts__ImportRowOutcome *o = malloc(sizeof *o);
        crm__contacts__import_row_outcome__init(o);
        o->row = (uint32_t)atol(PQgetvalue(res, i, 0));
        o->action = strdup("error");
        o->field = strdup(PQgetvalue(res, i, 1));
        o->message = strdup(PQgetvalue(res, i, 2));
        list->items[list->n_items++] = o;
    }
    if (rows > limit && n > 0)
        list->next_cursor = zsys_sprintf("%u", list->items[n - 1]->row);
    PQclear(res);
    *out = list;
    return 200;
}

// --- shared by the methods and the job -----------------------------------------------------

int contacts_import_store_saved_mapping(crm_db_t *db, const char *tenant, const char *name,
                                        json_t **out) {
    const char *params[] = {tenant, name};
    PGresult *res = crm_db_query(db, &s_mapping_get, params);
    if (!res)
        return -1;
    *out = NULL;
    if (PQntuples(res)) {
        json_t *m = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
        *out = json_incref(json_object_get(m, "columns"));
        json_decref(m);
    }
    PQclear(res);
    return 0;
}

int contacts_import_store_custom_keys(crm_db_t *db, const char *tenant, char ***keys,
                                      size_t *n) {
    const char *params[] = {tenant};
    PGresult *res = crm_db_query(db, &s_custom_keys, params);
    *keys = NULL;
    *n = 0;
    if (!res)
        return -1;
    int rows = PQntuples(res);
    *keys = calloc((size_t)rows + 1, sizeof **keys);
    for (int r = 0; r < rows; r++)
        (*keys)[(*n)++] = strdup(PQgetvalue(res, r, 0));
    PQclear(res);
    return 0;
}

void contacts_import_keys_free(char ***keys, size_t n) {
    for (size_t i = 0; *keys && i < n; i++)
        free((*keys)[i]);
    free(*keys);
    *keys = NULL;
}

// --- the job's statements ------------------------------------------------------------------

int contacts_import_store_load(crm_db_t *db, const char *tenant, const char *job_id,
                               contacts_import_job_t *out) {
    const char *params[] = {tenant, job_id};
    PGresult *res = crm_db_query(db, &s_import_load, params);
    if (!res || PQntuples(res) == 0) {
        PQclear(res);
        return -1;
    }
    snprintf(out->id, sizeof out->id, "%s", PQgetvalue(res, 0, 0));
    snprintf(out->status, sizeof out->status, "%s", PQgetvalue(res, 0, 1));
    out->options = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
    out->parts = atol(PQgetvalue(res, 0, 3));
    out->rows = atol(PQgetvalue(res, 0, 4));
    out->done = atol(PQgetvalue(res, 0, 5));
    PQclear(res);
    return out->options ? 0 : -1;
}

int contacts_import_store_part_get(crm_db_t *db, const char *import_id, long part,
                                   unsigned char **data, size_t *size) {
    char part_text[16];
    snprintf(part_text, sizeof part_text, "%ld", part);
    const char *params[] = {import_id, part_text};
    PGresult *res = crm_db_query(db, &s_part_get, params);
    if (!res || PQntuples(res) == 0) {
        PQclear(res);
        return -1;
    }
    *data = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0), size);
    PQclear(res);
    return *data ? 0 : -1;
}

int contacts_import_store_scanned(crm_db_t *db, const char *tenant, const char *job_id,
                                  long rows, const char *mapping, const char *encoding) {
    char rows_text[24];
    snprintf(rows_text, sizeof rows_text, "%ld", rows);
    const char *params[] = {tenant, job_id, rows_text, mapping, encoding};
    return s_exec(db, &s_scanned, params);
}

int contacts_import_store_failed(crm_db_t *db, const char *tenant, const char *job_id,
                                 const char *error, const char *errors) {
    const char *params[] = {tenant, job_id, error, errors};
    return s_exec(db, &s_failed, params);
}

int contacts_import_store_match(crm_db_t *db, const char *tenant, const char *import_id,
                                contacts_import_row_t **rows, size_t n) {
    contacts_import_array_t emails = {0}, phones = {0};
    for (size_t i = 0; i < n; i++) {
        contacts_import_array_push(&emails, rows[i]->c ? rows[i]->email : "");
        contacts_import_array_push(&phones, rows[i]->c ? rows[i]->phone : "");
    }
    char *a = crm_db_text_array(emails.items, emails.n);
    char *b = crm_db_text_array(phones.items, phones.n);
    const char *params[] = {tenant, import_id, a, b};
    PGresult *res = crm_db_query(db, &s_lookup, params);
    free(a);
    free(b);
    free(emails.items);
    free(phones.items);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        size_t ord = (size_t)atol(PQgetvalue(res, r, 0));
        if (ord < 1 || ord > n)
            continue;
        contacts_import_row_t *row = rows[ord - 1];
        snprintf(row->contact_id, sizeof row->contact_id, "%s", PQgetvalue(res, r, 1));
        snprintf(row->matched_on, sizeof row->matched_on, "%s", PQgetvalue(res, r, 2));
    }
    PQclear(res);
    return 0;
}

//  The arrays of a create: the contacts' columns, their email keys, their events.
typedef struct {
    contacts_import_array_t cols[14], key_addr, key_id, ev_ids, payloads;
    crm_outbox_event_t *events;
    size_t n_events;
} s_create_t;

//  Add row to the create's arrays, its ContactCreated event (at now, by actor) too.
static int s_create_push(s_create_t *self, contacts_import_row_t *row, const char *actor,
                         const char *now) {
    contacts_row_t *r = &row->store;
    const char *values[14] = {r->id,          r->kind,          r->type,        r->first_name,
                              r->last_name,   r->name,          r->source,      r->tags_array,
                              r->emails_json, r->phones_json,   r->supplier,    r->assignee,
                              r->organization_id ? r->organization_id : "",    r->profile_json};
    for (int k = 0; k < 14; k++)
        contacts_import_array_push(&self->cols[k], values[k]);
    for (size_t e = 0; e < row->c->n_emails; e++) {
        char *key = strdup(row->c->emails[e]->address);
        for (char *p = key; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        contacts_import_array_push(&self->key_addr, key);
        contacts_import_array_push(&self->key_id, r->id);
    }
    crm_pb_string_set(&row->c->created_at, now);
    crm_pb_string_set(&row->c->updated_at, now);
    Crm__Events__ContactCreated event = CRM__EVENTS__CONTACT_CREATED__INIT;
    event.contact = row->c;
    event.actor_id = (char *)actor;
    crm_outbox_event_t *ev = &self->events[self->n_events];
    if (crm_outbox_event_init(ev, &event.base, now))
        return -1;
    contacts_import_array_push(&self->ev_ids, ev->event_id);
    contacts_import_array_push(&self->payloads, ev->payload_hex);
    self->n_events++;
    return 0;
}

static void s_create_reset(s_create_t *self) {
    for (size_t i = 0; i < self->key_addr.n; i++)
        free((char *)self->key_addr.items[i]);
    for (int k = 0; k < 14; k++)
        free(self->cols[k].items);
    free(self->key_addr.items);
    free(self->key_id.items);
    free(self->ev_ids.items);
    free(self->payloads.items);
    for (size_t i = 0; i < self->n_events; i++)
        crm_outbox_event_reset(&self->events[i]);
    free(self->events);
}

//  The create's statement, under a savepoint: 0, -1, or -2 on a unique violation.
static int s_create_run(crm_db_t *db, s_create_t *self, const char *tenant, const char *actor,
                        const char *now) {
    char *literals[21] = {0};
    for (int k = 0; k < 14; k++)
        literals[3 + k] = crm_db_text_array(self->cols[k].items, self->cols[k].n);
    literals[17] = crm_db_text_array(self->key_addr.items, self->key_addr.n);
    literals[18] = crm_db_text_array(self->key_id.items, self->key_id.n);
    literals[19] = crm_db_text_array(self->ev_ids.items, self->ev_ids.n);
    literals[20] = crm_db_text_array(self->payloads.items, self->payloads.n);
    const char *params[21] = {tenant, now, actor};
    for (int k = 3; k < 21; k++)
        params[k] = literals[k];
    int rc = 0;
    if (crm_db_savepoint(db, "import_create"))
        rc = -1;
    else {
        PGresult *res = crm_db_query(db, &s_create, params);
        if (res)
            crm_db_release(db, "import_create");
        else {
            rc = strcmp(crm_db_sqlstate(db), "23505") == 0 ? -2 : -1;
            crm_db_rollback_to(db, "import_create");
        }
        PQclear(res);
    }
    for (int k = 3; k < 21; k++)
        free(literals[k]);
    return rc;
}

int contacts_import_store_create(crm_db_t *db, const char *tenant, const char *actor,
                                 contacts_import_row_t **rows, size_t n, const char *now) {
    s_create_t create = {.events = calloc(n + 1, sizeof *create.events)};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = s_create_push(&create, rows[i], actor, now);
    if (rc == 0)
        rc = s_create_run(db, &create, tenant, actor, now);
    s_create_reset(&create);
    return rc;
}

int contacts_import_store_keys_add(crm_db_t *db, const char *import_id,
                                   contacts_import_row_t **rows, size_t n) {
    contacts_import_array_t keys = {0}, numbers = {0};
    char (*row_texts)[24] = calloc(2 * n + 1, sizeof *row_texts);
    char (*key_texts)[340] = calloc(2 * n + 1, sizeof *key_texts);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (int which = 0; which < 2; which++) {
            const char *v = which ? rows[i]->phone : rows[i]->email;
            if (!v[0])
                continue;
            snprintf(key_texts[k], sizeof key_texts[k], "%c:%s", which ? 'p' : 'e', v);
            snprintf(row_texts[k], sizeof row_texts[k], "%zu", rows[i]->row);
            contacts_import_array_push(&keys, key_texts[k]);
            contacts_import_array_push(&numbers, row_texts[k]);
            k++;
        }
    char *a = crm_db_text_array(keys.items, keys.n);
    char *b = crm_db_text_array(numbers.items, numbers.n);
    const char *params[] = {import_id, a, b};
    int rc = s_exec(db, &s_keys_add, params);
    free(a);
    free(b);
    free(keys.items);
    free(numbers.items);
    free(row_texts);
    free(key_texts);
    return rc;
}

int contacts_import_store_outcomes_add(crm_db_t *db, const char *import_id,
                                       char *const literals[6]) {
    const char *params[] = {import_id,   literals[0], literals[1], literals[2],
                            literals[3], literals[4], literals[5]};
    return s_exec(db, &s_outcomes_add, params);
}

int contacts_import_store_progress(crm_db_t *db, const char *tenant, const char *job_id,
                                   const long counts[5], const char *errors, bool finished) {
    char texts[5][24];
    for (int i = 0; i < 5; i++)
        snprintf(texts[i], sizeof texts[i], "%ld", counts[i]);
    const char *params[] = {tenant,   job_id,   texts[0], texts[1],
                            texts[2], texts[3], texts[4], errors,
                            finished ? "true" : "false"};
    return s_exec(db, &s_progress, params);
}
