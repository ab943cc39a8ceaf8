/*  stage_store: the SQL of the tenant's pipeline (stage.c holds the rules,
    stage_methods.c the methods) — its stages in order, each open, won or lost.

    A tenant gets its own copy of the default pipeline (default_stages, migration 0001)
    the first time anything of the leads service needs its stages; from then on the
    tenant adds, renames, reorders, re-marks and deletes its own. Leads carry their
    stage by key, which never changes. Positions stay 1..n without gaps.

    Locks: a lead entering a stage locks the stage's row FOR SHARE (leads_stage_lookup),
    and a change of a stage's outcome or its deletion locks it FOR UPDATE before it
    counts the leads in it, so neither can slip past the other.
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "validate.h"

#include <stdlib.h>
#include <string.h>

#define STAGE_JSON(s)                                                                         \
    "jsonb_build_object('key', " s ".key, 'name', " s ".name, 'position', " s ".position,"   \
    " 'outcome', " s ".outcome,"                                                              \
    " 'createdAt', " CRM_SQL_TS(s ".created_at") ","                                          \
    " 'updatedAt', " CRM_SQL_TS(s ".updated_at") ","                                          \
    " 'leadCount', (SELECT count(*) FROM leads l WHERE l.tenant_id = " s ".tenant_id"         \
    "   AND l.status = " s ".key AND l.deleted_at IS NULL))::text"

static const crm_stmt_t s_pipeline_exists = {
    .name = "leads_pipeline_exists",
    .sql = "SELECT 1 FROM pipelines WHERE tenant_id = $1",
    .nparams = 1};

//  The copy of the defaults, made once per tenant: of two processes copying at once,
//  the second waits on pipelines' key and then copies nothing.
static const crm_stmt_t s_pipeline_copy = {
    .name = "leads_pipeline_copy",
    .sql = "WITH mark AS (INSERT INTO pipelines (tenant_id) VALUES ($1)"
           "              ON CONFLICT DO NOTHING RETURNING 1)"
           " INSERT INTO stages (tenant_id, key, name, name_norm, position, outcome)"
           " SELECT $1, key, name, lower(name), position, outcome FROM default_stages"
           " WHERE EXISTS (SELECT 1 FROM mark)",
    .nparams = 1,
    .writes = true};

static const crm_stmt_t s_stage_lookup = {
    .name = "leads_stage_lookup",
    .sql = "SELECT outcome, name FROM stages WHERE tenant_id = $1 AND key = $2 FOR SHARE",
    .nparams = 2};

static const crm_stmt_t s_stage_first_open = {
    .name = "leads_stage_first_open",
    .sql = "SELECT key FROM stages WHERE tenant_id = $1 AND outcome = 'open'"
           " ORDER BY position, key LIMIT 1 FOR SHARE",
    .nparams = 1};

static const crm_stmt_t s_stage_list = {
    .name = "leads_stage_list",
    .sql = "SELECT " STAGE_JSON("s") " FROM stages s WHERE s.tenant_id = $1"
           " ORDER BY s.position, s.key",
    .nparams = 1};

static const crm_stmt_t s_stage_get = {
    .name = "leads_stage_get",
    .sql = "SELECT " STAGE_JSON("s") " FROM stages s WHERE s.tenant_id = $1 AND s.key = $2",
    .nparams = 2};

static const crm_stmt_t s_stage_lock = {
    .name = "leads_stage_lock",
    .sql = "SELECT outcome FROM stages WHERE tenant_id = $1 AND key = $2 FOR UPDATE",
    .nparams = 2};

//  A stage other than $4 holding the key $2 or the name $3 (any case); which of them
//  ($5: the key first).
static const crm_stmt_t s_stage_conflict = {
    .name = "leads_stage_conflict",
    .sql = "SELECT key, key = $2, name_norm = lower($3) FROM stages WHERE tenant_id = $1"
           " AND (key = $2 OR name_norm = lower($3)) AND key <> $4"
           " ORDER BY CASE WHEN $5::boolean THEN key = $2 ELSE name_norm = lower($3) END DESC"
           " LIMIT 1",
    .nparams = 5};

//  Open stages, and all of them.
static const crm_stmt_t s_stage_counts = {
    .name = "leads_stage_counts",
    .sql = "SELECT count(*) FILTER (WHERE outcome = 'open'), count(*) FROM stages"
           " WHERE tenant_id = $1",
    .nparams = 1};

static const crm_stmt_t s_stage_leads = {
    .name = "leads_stage_leads",
    .sql = "SELECT count(*) FROM leads WHERE tenant_id = $1 AND status = $2"
           " AND deleted_at IS NULL",
    .nparams = 2};

//  A new stage at position $5 (0 or beyond the end: at the end); those from there on
//  move down one.
static const crm_stmt_t s_stage_insert = {
    .name = "leads_stage_insert",
    .sql = "WITH n AS (SELECT count(*)::int AS c FROM stages WHERE tenant_id = $1),"
           " pos AS (SELECT CASE WHEN $5::int BETWEEN 1 AND c THEN $5::int ELSE c + 1 END AS p"
           "         FROM n),"
           " shift AS (UPDATE stages SET position = position + 1"
           "           WHERE tenant_id = $1 AND position >= (SELECT p FROM pos))"
           " INSERT INTO stages (tenant_id, key, name, name_norm, position, outcome,"
           "                     created_at, updated_at)"
           " SELECT $1, $2, $3, lower($3), p, $4, $6::timestamptz, $6::timestamptz FROM pos",
    .nparams = 6,
    .writes = true};

static const crm_stmt_t s_stage_update = {
    .name = "leads_stage_update",
    .sql = "UPDATE stages SET name = $3, name_norm = lower($3), outcome = $4,"
           " updated_at = $5::timestamptz WHERE tenant_id = $1 AND key = $2",
    .nparams = 5,
    .writes = true};

//  Stage $2 to position $3 (1..n), the others keeping their order around it.
static const crm_stmt_t s_stage_move = {
    .name = "leads_stage_move",
    .sql = "WITH others AS ("
           "  SELECT key, row_number() OVER (ORDER BY position, key) AS rn FROM stages"
           "  WHERE tenant_id = $1 AND key <> $2),"
           " ordered AS ("
           "  SELECT key, CASE WHEN rn < $3::int THEN rn ELSE rn + 1 END AS pos FROM others"
           "  UNION ALL SELECT $2, $3::int)"
           " UPDATE stages s SET position = o.pos,"
           "   updated_at = CASE WHEN s.key = $2 THEN $4::timestamptz ELSE s.updated_at END"
           " FROM ordered o WHERE s.tenant_id = $1 AND s.key = o.key AND s.position <> o.pos",
    .nparams = 4,
    .writes = true};

static const crm_stmt_t s_stage_delete = {
    .name = "leads_stage_delete",
    .sql = "WITH del AS (DELETE FROM stages WHERE tenant_id = $1 AND key = $2"
           "             RETURNING position)"
           " UPDATE stages SET position = position - 1"
           " WHERE tenant_id = $1 AND position > (SELECT position FROM del)",
    .nparams = 2,
    .writes = true};

// --- the pipeline -----------------------------------------------------------------------

int leads_pipeline_ensure(crm_call_t *call) {
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_pipeline_exists, params);
    if (!res)
        return crm_call_db_failure(call);
    bool exists = PQntuples(res) > 0;
    PQclear(res);
    if (exists)
        return 0;
    res = crm_db_query(call->db, &s_pipeline_copy, params);
    if (!res)
        return crm_call_db_failure(call);
    bool copied = atol(PQcmdTuples(res)) > 0;
    PQclear(res);
    return copied ? leads_stage_store_changed(call, "created", "") : 0;
}

int leads_stage_lookup(crm_call_t *call, const char *key, char outcome[8], char name[128]) {
    const char *params[] = {call->header->tenant_id, key};
    PGresult *res = crm_db_query(call->db, &s_stage_lookup, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 404;
    if (PQntuples(res) > 0) {
        snprintf(outcome, 8, "%s", PQgetvalue(res, 0, 0));
        if (name)
            snprintf(name, 128, "%s", PQgetvalue(res, 0, 1));
        code = 200;
    }
    PQclear(res);
    return code;
}

int leads_stage_first_open(crm_call_t *call, char key[64]) {
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_stage_first_open, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 200;
    if (PQntuples(res) == 0) {  // the stage rules keep one; a tenant's hand-made SQL may not
        crm_call_error(call, "internal", "the pipeline has no open stage");
        code = 500;
    } else
        snprintf(key, 64, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return code;
}

// --- reading ----------------------------------------------------------------------------

//  One stage as the API shows it: 200 with *out, 404, or a failure code.
int leads_stage_store_read(crm_call_t *call, const char *key, Crm__Leads__Stage **out) {
    const char *params[] = {call->header->tenant_id, key};
    return crm_row_read_one(call, &s_stage_get, params, &crm__leads__stage__descriptor, "stage",
                            (ProtobufCMessage **)out);
}

//  The tenant's stages in order: 200 with *out, or a failure code.
int leads_stage_store_list(crm_call_t *call, Crm__Leads__ListStagesResponse **out) {
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_stage_list, params);
    if (!res)
        return crm_call_db_failure(call);
    int n = PQntuples(res);
    Crm__Leads__ListStagesResponse *list = malloc(sizeof *list);
    crm__leads__list_stages_response__init(list);
    list->items = n ? calloc(n, sizeof *list->items) : NULL;
    int code = 200;
    for (int i = 0; i < n && code == 200; i++) {
        Crm__Leads__Stage *stage = (Crm__Leads__Stage *)crm_row_decode(
            call, &crm__leads__stage__descriptor, PQgetvalue(res, i, 0), "stage");
        if (stage)
            list->items[list->n_items++] = stage;
        else
            code = 500;
    }
    PQclear(res);
    if (code == 200)
        *out = list;
    else
        crm__leads__list_stages_response__free_unpacked(list, NULL);
    return code;
}

//  Write PipelineChanged: the whole pipeline as it is now (the change's statement ran
//  just before, in the same transaction). 0 or a failure code.
int leads_stage_store_changed(crm_call_t *call, const char *change, const char *key) {
    Crm__Leads__ListStagesResponse *list = NULL;
    int code = leads_stage_store_list(call, &list);
    if (code != 200)
        return code;
    for (size_t i = 0; i < list->n_items; i++)
        list->items[i]->lead_count = 0;
    Crm__Events__PipelineChanged event = CRM__EVENTS__PIPELINE_CHANGED__INIT;
    event.stages = list->items;
    event.n_stages = list->n_items;
    event.change = (char *)change;
    event.stage_key = (char *)key;
    event.actor_id = call->header->actor_id;
    crm_outbox_t *outbox = crm_outbox_new();
    int rc = crm_outbox_add(outbox, call->header->tenant_id, "pipeline", &event.base, NULL);
    if (rc == 0)
        rc = crm_outbox_write(outbox, call->db);
    crm_outbox_destroy(&outbox);
    crm__leads__list_stages_response__free_unpacked(list, NULL);
    return rc == 0 ? 0 : crm_call_db_failure(call);
}

// --- writing ----------------------------------------------------------------------------

//  409 when another stage than except holds key or name (named as the field in conflict,
//  the key first when it was given): 0, 409 or a failure code.
int leads_stage_store_unique(crm_call_t *call, const char *key, const char *name, const char *except,
                          bool key_given) {
    const char *params[] = {call->header->tenant_id, key, name, except,
                            key_given ? "true" : "false"};
    PGresult *res = crm_db_query(call->db, &s_stage_conflict, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 0;
    if (PQntuples(res) > 0) {
        bool same_key = strcmp(PQgetvalue(res, 0, 1), "t") == 0 &&
                        (key_given || strcmp(PQgetvalue(res, 0, 2), "t") != 0);
        snprintf(call->conflict_id, sizeof call->conflict_id, "%s", PQgetvalue(res, 0, 0));
        crm_call_field_error(call, same_key ? "key" : "name", "is already used by stage %s",
                             call->conflict_id);
        crm_call_error(call, "conflict", "the pipeline already has a stage with this %s",
                       same_key ? "key" : "name");
        code = 409;
    }
    PQclear(res);
    return code;
}

//  The pipeline's open stages and all its stages: 0 or a failure code.
int leads_stage_store_counts(crm_call_t *call, long *open, long *all) {
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_stage_counts, params);
    if (!res)
        return crm_call_db_failure(call);
    *open = atol(PQgetvalue(res, 0, 0));
    *all = atol(PQgetvalue(res, 0, 1));
    PQclear(res);
    return 0;
}

//  Lock stage key against leads entering it, then count the live leads in it: 0 with
//  *outcome and *leads, 404, or a failure code.
int leads_stage_store_lock_and_count(crm_call_t *call, const char *key, char outcome[8], long *leads) {
    const char *params[] = {call->header->tenant_id, key};
    PGresult *res = crm_db_query(call->db, &s_stage_lock, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 0;
    if (PQntuples(res) == 0) {
        crm_call_error(call, "not_found", "no such stage");
        code = 404;
    } else
        snprintf(outcome, 8, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (code)
        return code;
    res = crm_db_query(call->db, &s_stage_leads, params);
    if (!res)
        return crm_call_db_failure(call);
    *leads = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int leads_stage_store_insert(crm_call_t *call, const char *key, const char *name,
                             const char *outcome, uint32_t position) {
    char now[40], text[16];
    crm_time_now(now, sizeof now);
    snprintf(text, sizeof text, "%u", position);
    const char *params[] = {call->header->tenant_id, key, name, outcome, text, now};
    PGresult *res = crm_db_query(call->db, &s_stage_insert, params);
    int code = res ? 0 : crm_call_db_failure(call);
    PQclear(res);
    return code;
}

int leads_stage_store_update(crm_call_t *call, const char *key, const char *name,
                             const char *outcome, const char *now) {
    const char *params[] = {call->header->tenant_id, key, name, outcome, now};
    PGresult *res = crm_db_query(call->db, &s_stage_update, params);
    int code = res ? 0 : crm_call_db_failure(call);
    PQclear(res);
    return code;
}

int leads_stage_store_move(crm_call_t *call, const char *key, uint32_t position,
                           const char *now) {
    long open = 0, all = 0;
    int code = leads_stage_store_counts(call, &open, &all);
    char text[24];
    snprintf(text, sizeof text, "%ld", (long)position > all ? all : (long)position);
    const char *params[] = {call->header->tenant_id, key, text, now};
    PGresult *res = code ? NULL : crm_db_query(call->db, &s_stage_move, params);
    if (code == 0 && !res)
        code = crm_call_db_failure(call);
    PQclear(res);
    return code;
}

int leads_stage_store_delete(crm_call_t *call, const char *key) {
    const char *params[] = {call->header->tenant_id, key};
    PGresult *res = crm_db_query(call->db, &s_stage_delete, params);
    int code = res ? 0 : crm_call_db_failure(call);
    PQclear(res);
    return code;
}
