/*  rescore: the rescore jobs (POST /v1/scoring/rescore: every open lead of the tenant
    under its model in force, as of now) and the daily decay pass (the same over every
    tenant, so that scores whose decay crossed a point move and quiet leads cool down),
    worked by one runner job (main.c) a page of leads per step, each page in a
    transaction of its own with the job's progress; a LeadScored for each lead whose
    score or band changed. Also the preview of a model (how many leads would change
    band), read in the caller's transaction.
*/
#include "scoring.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESCORE_PAGE 500

#define S_JOB_COLUMNS                                                                              \
    "id::text, status, total, done, changed, model_version, " CRM_SQL_TS("created_at") ","          \
    " coalesce(" CRM_SQL_TS("finished_at") ", ''), kind"

static const crm_stmt_t s_create = {
    .name = "scoring_rescore_create",
    .sql = "INSERT INTO rescore_jobs (id, tenant_id, kind, total, created_by)"
           " SELECT $2::uuid, $1, $3, count(*), $4 FROM leads WHERE tenant_id = $1 AND NOT closed"
           " RETURNING " S_JOB_COLUMNS,
    .nparams = 4,
    .writes = true};

static const crm_stmt_t s_get = {
    .name = "scoring_rescore_get",
    .sql = "SELECT " S_JOB_COLUMNS " FROM rescore_jobs WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 2};

static const crm_stmt_t s_claim = {
    .name = "scoring_rescore_claim",
    .sql = "SELECT id::text, tenant_id, after_tenant, coalesce(after_lead::text, '') FROM rescore_jobs"
           " WHERE status <> 'done' ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED",
    .nparams = 0};

static const crm_stmt_t s_page = {
    .name = "scoring_rescore_page",
    .sql = "SELECT tenant_id, lead_id::text, facts, coalesce(c.reachable, false) FROM leads l"
           " LEFT JOIN contacts c USING (tenant_id, contact_id)"
           " WHERE ($1 = '' OR l.tenant_id = $1) AND NOT l.closed"
           "  AND (l.tenant_id, l.lead_id) > ($2, coalesce($3::uuid,"
           "   '00000000-0000-0000-0000-000000000000'::uuid))"
           " ORDER BY l.tenant_id, l.lead_id LIMIT $4::int FOR UPDATE OF l",
    .nparams = 4};

static const crm_stmt_t s_progress = {
    .name = "scoring_rescore_progress",
    .sql = "UPDATE rescore_jobs SET status = CASE WHEN $6::boolean THEN 'done' ELSE 'running' END,"
           " done = done + $2::int, changed = changed + $3::int, after_tenant = $4,"
           " after_lead = nullif($5, '')::uuid,"
           " finished_at = CASE WHEN $6::boolean THEN now() END WHERE id = $1::uuid",
    .nparams = 6,
    .writes = true};

//  The daily decay pass: a job over every tenant when none was made in the last period.
static const crm_stmt_t s_decay = {
    .name = "scoring_decay_schedule",
    .sql = "INSERT INTO rescore_jobs (id, tenant_id, kind, total)"
           " SELECT $1::uuid, '', 'decay', (SELECT count(*) FROM leads WHERE NOT closed)"
           " WHERE NOT EXISTS (SELECT 1 FROM rescore_jobs WHERE kind = 'decay'"
           "  AND created_at > now() - make_interval(secs => $2::int / 1000.0))",
    .nparams = 2,
    .writes = true};

static const crm_stmt_t s_preview = {
    .name = "scoring_preview_leads",
    .sql = "SELECT l.lead_id::text, l.facts, coalesce(c.reachable, false), l.score, l.band"
           " FROM leads l LEFT JOIN contacts c USING (tenant_id, contact_id)"
           " WHERE l.tenant_id = $1 AND NOT l.closed ORDER BY l.lead_id",
    .nparams = 1};

static Crm__Scoring__RescoreJob *s_job(PGresult *res) {
    Crm__Scoring__RescoreJob *job = malloc(sizeof *job);
    assert(job);
    crm__scoring__rescore_job__init(job);
    job->id = strdup(PQgetvalue(res, 0, 0));
    job->status = strdup(PQgetvalue(res, 0, 1));
    job->total = (uint32_t)atoi(PQgetvalue(res, 0, 2));
    job->done = (uint32_t)atoi(PQgetvalue(res, 0, 3));
    job->changed = (uint32_t)atoi(PQgetvalue(res, 0, 4));
    job->model_version = strdup(PQgetvalue(res, 0, 5));
    job->created_at = strdup(PQgetvalue(res, 0, 6));
    job->finished_at = strdup(PQgetvalue(res, 0, 7));
    job->kind = strdup(PQgetvalue(res, 0, 8));
    return job;
}

int scoring_rescore_store_create(crm_call_t *call, const char *kind,
                                 Crm__Scoring__RescoreJob **out) {
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    const char *params[] = {call->header->tenant_id, id, kind, call->header->actor_id};
    PGresult *res = crm_db_query(call->db, &s_create, params);
    if (!res)
        return crm_call_db_failure(call);
    *out = s_job(res);
    PQclear(res);
    return 202;
}

int scoring_rescore_store_get(crm_call_t *call, const char *id, Crm__Scoring__RescoreJob **out) {
    const char *params[] = {call->header->tenant_id, id};
    PGresult *res = crm_db_query(call->db, &s_get, params);
    if (!res)
        return crm_call_db_failure(call);
    if (PQntuples(res) != 1) {
        PQclear(res);
        crm_call_error(call, "not_found", "no rescore job %s", id);
        return 404;
    }
    *out = s_job(res);
    PQclear(res);
    return 200;
}

//  The facts of a page row (columns facts, reachable), NULL when damaged.
static Crm__Scoring__LeadFacts *s_facts(PGresult *res, int row, int col) {
    size_t size = 0;
    unsigned char *data = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &size);
    if (!data)
        return NULL;
    Crm__Scoring__LeadFacts *facts = crm__scoring__lead_facts__unpack(NULL, size, data);
    PQfreemem(data);
    if (facts)
        facts->contact_reachable = PQgetvalue(res, row, col + 1)[0] == 't';
    return facts;
}

int scoring_rescore_store_preview(crm_call_t *call, const scoring_model_t *model,
                                  Crm__Scoring__PreviewModelResponse *out) {
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_preview, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    int64_t now = (int64_t)time(NULL);
    scoring_input_t *in = malloc(sizeof *in);
    scoring_result_t *result = malloc(sizeof *result);
    assert(in && result);
    out->sample = calloc(21, sizeof *out->sample);
    assert(out->sample);
    for (int r = 0; r < rows; r++) {
        Crm__Scoring__LeadFacts *facts = s_facts(res, r, 1);
        if (!facts)
            continue;
        scoring_facts_input(facts, in);
        crm__scoring__lead_facts__free_unpacked(facts, NULL);
        scoring_evaluate(model, in, now, result);
        out->leads++;
        int band = 0;
        crm_enum_parse(&crm__scoring__band__descriptor, PQgetvalue(res, r, 4), &band);
        if (band == (int)result->band)
            continue;
        out->changed++;
        out->to_hot += result->band == CRM__SCORING__BAND__BAND_HOT;
        out->to_medium += result->band == CRM__SCORING__BAND__BAND_MEDIUM;
        out->to_cold += result->band == CRM__SCORING__BAND__BAND_COLD;
        if (out->n_sample < 20) {
            Crm__Scoring__BandChange *c = malloc(sizeof *c);
            assert(c);
            crm__scoring__band_change__init(c);
            c->lead_id = strdup(PQgetvalue(res, r, 0));
            c->score = atoi(PQgetvalue(res, r, 3));
            c->band = (Crm__Scoring__Band)band;
            c->new_score = result->score;
            c->new_band = result->band;
            out->sample[out->n_sample++] = c;
        }
    }
    free(in);
    free(result);
    PQclear(res);
    return 200;
}

//  One page of the oldest open job, in a transaction: each lead rescored as of now.
static crm_step_result_t s_page_step(crm_step_t *step, PGresult *job) {
    crm_db_t *db = step->db;
    char id[40], tenant[128], after_tenant[128], after_lead[40];
    snprintf(id, sizeof id, "%s", PQgetvalue(job, 0, 0));
    snprintf(tenant, sizeof tenant, "%s", PQgetvalue(job, 0, 1));
    snprintf(after_tenant, sizeof after_tenant, "%s", PQgetvalue(job, 0, 2));
    snprintf(after_lead, sizeof after_lead, "%s", PQgetvalue(job, 0, 3));
    char limit[16];
    snprintf(limit, sizeof limit, "%d", RESCORE_PAGE);
    const char *params[] = {tenant, after_tenant, *after_lead ? after_lead : NULL, limit};
    PGresult *res = crm_db_query(db, &s_page, params);
    if (!res)
        return CRM_STEP_FAILED;
    int rows = PQntuples(res), changed_count = 0, rc = 0;
    int64_t now = (int64_t)time(NULL);
    scoring_model_t *model = malloc(sizeof *model);
    assert(model);
    char model_tenant[128] = "";
    bool have_model = false;
    for (int r = 0; r < rows && rc == 0; r++) {
        const char *lead_tenant = PQgetvalue(res, r, 0);
        if (!have_model || strcmp(model_tenant, lead_tenant) != 0) {
            rc = scoring_model_store_current(db, &scoring_state, lead_tenant, model, NULL);
            snprintf(model_tenant, sizeof model_tenant, "%s", lead_tenant);
            have_model = rc == 0;
        }
        Crm__Scoring__LeadFacts *facts = s_facts(res, r, 2);
        if (!facts || rc)
            continue;
        bool changed = false;
        rc = scoring_lead_store_put(db, NULL, lead_tenant, facts, model, now, &changed);
        changed_count += changed;
        crm__scoring__lead_facts__free_unpacked(facts, NULL);
    }
    free(model);
    char done_text[16], changed_text[16], last_tenant[128] = "", last_lead[40] = "";
    if (rows > 0) {
        snprintf(last_tenant, sizeof last_tenant, "%s", PQgetvalue(res, rows - 1, 0));
        snprintf(last_lead, sizeof last_lead, "%s", PQgetvalue(res, rows - 1, 1));
    }
    PQclear(res);
    snprintf(done_text, sizeof done_text, "%d", rows);
    snprintf(changed_text, sizeof changed_text, "%d", changed_count);
    const char *progress[] = {id, done_text, changed_text, last_tenant, last_lead,
                              rows < RESCORE_PAGE ? "true" : "false"};
    if (rc || crm_db_run(db, &s_progress, progress) || crm_db_commit(db)) {
        crm_db_rollback(db);
        return CRM_STEP_FAILED;
    }
    step->events += changed_count;
    return CRM_STEP_WORKED;
}

crm_step_result_t scoring_rescore_step(crm_step_t *step) {
    crm_db_t *db = step->db;
    if (crm_db_begin(db))
        return CRM_STEP_FAILED;
    PGresult *job = crm_db_query(db, &s_claim, NULL);
    if (!job) {
        crm_db_rollback(db);
        return CRM_STEP_FAILED;
    }
    if (PQntuples(job) == 1) {
        crm_step_result_t result = s_page_step(step, job);
        PQclear(job);
        return result;
    }
    PQclear(job);
    char id[CRM_UUID_LEN + 1], interval[16];
    crm_uuid_v7(id);
    snprintf(interval, sizeof interval, "%d", step->cfg->scoring_decay_interval_ms);
    const char *params[] = {id, interval};
    if (crm_db_run(db, &s_decay, params) || crm_db_commit(db)) {
        crm_db_rollback(db);
        return CRM_STEP_FAILED;
    }
    return CRM_STEP_IDLE;
}

int scoring_rescore_period_ms(const crm_config_t *cfg) {
    return cfg->scoring_rescore_poll_ms;
}
