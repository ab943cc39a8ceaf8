/*  scan_store: the SQL of scans and of the review list (scan.c). */
#include "scan_store.h"

#include <stdlib.h>
#include <string.h>

#define S_SCAN_COLUMNS                                                                             \
    "id::text, status, total, processed, pairs, groups, created_by, " CRM_SQL_TS("created_at")    \
    ", coalesce(" CRM_SQL_TS("started_at") ", ''), coalesce(" CRM_SQL_TS("finished_at") ", ''),"   \
    " error"

static const crm_stmt_t s_scan_insert = {
    .name = "dedupe_scan_insert",
    .sql = "INSERT INTO scans (tenant_id, id, created_by) VALUES ($1, $2::uuid, $3)"
           " ON CONFLICT (tenant_id) WHERE status IN ('queued', 'running') DO NOTHING"
           " RETURNING " S_SCAN_COLUMNS,
    .nparams = 3,
    .writes = true};

static const crm_stmt_t s_scan_running = {
    .name = "dedupe_scan_running",
    .sql = "SELECT id::text FROM scans WHERE tenant_id = $1 AND status IN ('queued', 'running')",
    .nparams = 1};

static const crm_stmt_t s_scan_get = {
    .name = "dedupe_scan_get",
    .sql = "SELECT " S_SCAN_COLUMNS " FROM scans WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 2};

static const crm_stmt_t s_scan_claim = {
    .name = "dedupe_scan_claim",
    .sql = "SELECT tenant_id, id::text, status, coalesce(cursor::text, '') FROM scans"
           " WHERE status IN ('queued', 'running') ORDER BY created_at"
           " LIMIT 1 FOR UPDATE SKIP LOCKED",
    .nparams = 0,
    .writes = true};

static const crm_stmt_t s_scan_start = {
    .name = "dedupe_scan_start",
    .sql = "UPDATE scans SET status = 'running', started_at = now(),"
           " total = (SELECT count(*) FROM entries WHERE tenant_id = $1)"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 2,
    .writes = true};

static const crm_stmt_t s_scan_advance = {
    .name = "dedupe_scan_advance",
    .sql = "UPDATE scans SET cursor = $3::uuid, processed = processed + $4::int,"
           " pairs = pairs + $5::int WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 5,
    .writes = true};

static const crm_stmt_t s_scan_finish = {
    .name = "dedupe_scan_finish",
    .sql = "UPDATE scans SET status = 'succeeded', finished_at = now(), groups = $3::int"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 3,
    .writes = true};

#define S_GROUP_COLUMNS                                                                            \
    "id::text, status, encode(body, 'hex'), " CRM_SQL_TS("created_at") ", " CRM_SQL_TS(          \
        "updated_at") ", coalesce(dismissed_by, ''), coalesce(" CRM_SQL_TS("dismissed_at")         \
                      ", ''), round(score * 1000000)::bigint"

//  $2 status, $3 contact (NULL: any), $4 the cursor's score in millionths (NULL: from the
//  start) and $5 its id, $6 the page size + 1.
static const crm_stmt_t s_groups_list = {
    .name = "dedupe_groups_list",
    .sql = "SELECT " S_GROUP_COLUMNS " FROM groups WHERE tenant_id = $1 AND status = $2"
           " AND ($3::uuid IS NULL OR member_ids @> ARRAY[$3::uuid])"
           " AND ($4::bigint IS NULL OR round(score * 1000000)::bigint < $4::bigint"
           "  OR (round(score * 1000000)::bigint = $4::bigint AND id > $5::uuid))"
           " ORDER BY round(score * 1000000)::bigint DESC, id LIMIT $6::int",
    .nparams = 6};

static const crm_stmt_t s_group_get = {
    .name = "dedupe_group_get",
    .sql = "SELECT " S_GROUP_COLUMNS " FROM groups WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 2};

//  Dismiss an open group and its pairs (those among its members); answers the group as
//  it is after (a dismissed or merged one as it was).
static const crm_stmt_t s_group_dismiss = {
    .name = "dedupe_group_dismiss",
    .sql = "WITH g AS (UPDATE groups SET status = 'dismissed', dismissed_by = $3,"
           "  dismissed_at = now(), updated_at = now()"
           "  WHERE tenant_id = $1 AND id = $2::uuid AND status = 'open' RETURNING member_ids),"
           " p AS (UPDATE pairs SET status = 'dismissed' FROM g WHERE pairs.tenant_id = $1"
           "  AND pairs.a = ANY(g.member_ids) AND pairs.b = ANY(g.member_ids))"
           " SELECT count(*) FROM g",
    .nparams = 3,
    .writes = true};

static void s_scan_from_row(PGresult *res, int r, Crm__Dedupe__DuplicateScan *scan) {
    crm__dedupe__duplicate_scan__init(scan);
    scan->id = strdup(PQgetvalue(res, r, 0));
    scan->status = strdup(PQgetvalue(res, r, 1));
    scan->total = (uint32_t)atol(PQgetvalue(res, r, 2));
    scan->processed = (uint32_t)atol(PQgetvalue(res, r, 3));
    scan->pairs = (uint32_t)atol(PQgetvalue(res, r, 4));
    scan->groups = (uint32_t)atol(PQgetvalue(res, r, 5));
    scan->created_by = strdup(PQgetvalue(res, r, 6));
    scan->created_at = strdup(PQgetvalue(res, r, 7));
    scan->started_at = strdup(PQgetvalue(res, r, 8));
    scan->finished_at = strdup(PQgetvalue(res, r, 9));
    scan->error = strdup(PQgetvalue(res, r, 10));
}

int dedupe_scan_store_insert(crm_db_t *db, const char *tenant_id, const char *id,
                             const char *actor_id, Crm__Dedupe__DuplicateScan **out,
                             char running_id[40]) {
    *out = NULL;
    running_id[0] = 0;
    const char *params[] = {tenant_id, id, actor_id};
    PGresult *res = crm_db_query(db, &s_scan_insert, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 1) {
        *out = malloc(sizeof **out);
        assert(*out);
        s_scan_from_row(res, 0, *out);
        PQclear(res);
        return 0;
    }
    PQclear(res);
    res = crm_db_query(db, &s_scan_running, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 1)
        snprintf(running_id, 40, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int dedupe_scan_store_get(crm_db_t *db, const char *tenant_id, const char *id,
                          Crm__Dedupe__DuplicateScan **out) {
    *out = NULL;
    const char *params[] = {tenant_id, id};
    PGresult *res = crm_db_query(db, &s_scan_get, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 1) {
        *out = malloc(sizeof **out);
        assert(*out);
        s_scan_from_row(res, 0, *out);
    }
    PQclear(res);
    return 0;
}

int dedupe_scan_store_claim(crm_db_t *db, dedupe_claimed_scan_t *scan) {
    PGresult *res = crm_db_query(db, &s_scan_claim, NULL);
    if (!res)
        return -1;
    int n = PQntuples(res);
    if (n == 1) {
        snprintf(scan->tenant_id, sizeof scan->tenant_id, "%s", PQgetvalue(res, 0, 0));
        snprintf(scan->id, sizeof scan->id, "%s", PQgetvalue(res, 0, 1));
        scan->queued = strcmp(PQgetvalue(res, 0, 2), "queued") == 0;
        snprintf(scan->cursor, sizeof scan->cursor, "%s", PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    return n;
}

int dedupe_scan_store_start(crm_db_t *db, const dedupe_claimed_scan_t *scan) {
    const char *params[] = {scan->tenant_id, scan->id};
    return crm_db_run(db, &s_scan_start, params);
}

int dedupe_scan_store_advance(crm_db_t *db, const dedupe_claimed_scan_t *scan,
                              const char *cursor, int processed, int pairs) {
    char p[16], q[16];
    snprintf(p, sizeof p, "%d", processed);
    snprintf(q, sizeof q, "%d", pairs);
    const char *params[] = {scan->tenant_id, scan->id, cursor, p, q};
    return crm_db_run(db, &s_scan_advance, params);
}

int dedupe_scan_store_finish(crm_db_t *db, const dedupe_claimed_scan_t *scan, int groups) {
    char g[16];
    snprintf(g, sizeof g, "%d", groups);
    const char *params[] = {scan->tenant_id, scan->id, g};
    return crm_db_run(db, &s_scan_finish, params);
}

//  A group from a row of S_GROUP_COLUMNS (NULL when its body does not unpack).
static Crm__Dedupe__DuplicateGroup *s_group_from_row(PGresult *res, int r) {
    const char *hex = PQgetvalue(res, r, 2);
    size_t len = strlen(hex), size = len / 2;
    uint8_t *packed = malloc(size + 1);
    assert(packed);
    for (size_t i = 0; i < size; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        packed[i] = (uint8_t)v;
    }
    Crm__Dedupe__DuplicateGroup *g = crm__dedupe__duplicate_group__unpack(NULL, size, packed);
    free(packed);
    if (!g)
        return NULL;
    //  The columns over the body's (it keeps members and score only).
#define S_SET(field, col)                                                                          \
    do {                                                                                           \
        if (g->field != protobuf_c_empty_string)                                                   \
            free(g->field);                                                                        \
        g->field = strdup(PQgetvalue(res, r, col));                                                \
    } while (0)
    S_SET(id, 0);
    S_SET(status, 1);
    S_SET(created_at, 3);
    S_SET(updated_at, 4);
    S_SET(dismissed_by, 5);
    S_SET(dismissed_at, 6);
#undef S_SET
    return g;
}

int dedupe_group_store_list(crm_db_t *db, const char *tenant_id, const char *status,
                            const char *contact_id, const crm_cursor_t *cursor, int limit,
                            Crm__Dedupe__ListDuplicatesResponse *out) {
    char n[16];
    snprintf(n, sizeof n, "%d", limit + 1);
    const char *params[] = {tenant_id,
                            status,
                            contact_id && contact_id[0] ? contact_id : NULL,
                            cursor && cursor->id[0] ? cursor->value : NULL,
                            cursor && cursor->id[0] ? cursor->id : NULL,
                            n};
    PGresult *res = crm_db_query(db, &s_groups_list, params);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    out->items = calloc((size_t)rows + 1, sizeof *out->items);
    assert(out->items);
    for (int r = 0; r < rows && r < limit; r++) {
        Crm__Dedupe__DuplicateGroup *g = s_group_from_row(res, r);
        if (g)
            out->items[out->n_items++] = g;
    }
    if (rows > limit)
        out->next_cursor =
            crm_cursor_encode('g', PQgetvalue(res, limit - 1, 7), PQgetvalue(res, limit - 1, 0));
    PQclear(res);
    return 0;
}

int dedupe_group_store_get(crm_db_t *db, const char *tenant_id, const char *id,
                           Crm__Dedupe__DuplicateGroup **out) {
    *out = NULL;
    const char *params[] = {tenant_id, id};
    PGresult *res = crm_db_query(db, &s_group_get, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 1)
        *out = s_group_from_row(res, 0);
    PQclear(res);
    return 0;
}

int dedupe_group_store_dismiss(crm_db_t *db, const char *tenant_id, const char *id,
                               const char *actor_id) {
    const char *params[] = {tenant_id, id, actor_id};
    return crm_db_run(db, &s_group_dismiss, params);
}
