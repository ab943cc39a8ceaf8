/*  rescore_store: the SQL of the rescore jobs and the decay pass (rescore.c works them):
    a job made and read (the API), the oldest job claimed, a page of open leads read and
    locked, a page's writes in one statement (scores, history, LeadScored, progress), the
    decay pass scheduled; and the preview's read of a tenant's leads, evaluated here in
    the caller's transaction.
*/
#include "scoring.h"
#include "ids.h"
#include "json_pb.h"
#include "outbox.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

//  A page of open leads with what the evaluation reads (facts, reachability) and what
//  they have now (score, band, explanation: NULL when never scored), locked.
static const crm_stmt_t s_page = {
    .name = "scoring_rescore_page",
    .sql = "SELECT tenant_id, lead_id::text, facts, coalesce(c.reachable, false), l.score,"
           "  l.band, l.explanation"
           " FROM leads l LEFT JOIN contacts c USING (tenant_id, contact_id)"
           " WHERE ($1 = '' OR l.tenant_id = $1) AND NOT l.closed"
           "  AND (l.tenant_id, l.lead_id) > ($2, coalesce($3::uuid,"
           "   '00000000-0000-0000-0000-000000000000'::uuid))"
           " ORDER BY l.tenant_id, l.lead_id LIMIT $4::int FOR UPDATE OF l",
    .nparams = 4};

//  A page's writes in one statement: the new scores of the leads whose explanation
//  changed ($1-$8, one array element per lead), a history row and a LeadScored (in the
//  outbox) for each whose score or band moved (event id not ''), scored as of $9, the
//  events stamped $10; and the job's progress ($11-$16); the page runs from ($17, $18)
//  to ($14, $15).
static const crm_stmt_t s_write = {
    .name = "scoring_rescore_write",
    .sql = "WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
           "   $5::text[], $6::text[], $7::text[], $8::text[])"
           "  AS v(tenant_id, lead_id, score, band, explanation, model_version, event_id,"
           "   payload)),"
           " up AS (UPDATE leads l SET score = v.score::int, band = v.band,"
           "   explanation = v.explanation::bytea, model_version = v.model_version,"
           "   computed_at = $9::timestamptz"
           "  FROM v WHERE l.tenant_id = v.tenant_id AND l.lead_id = v.lead_id::uuid"
           //  The page's range, so that the plan is the page's index range and not a
           //  scan of every lead (which made a rescore slower with each page).
           "  AND (l.tenant_id, l.lead_id) >= ($17, $18::uuid)"
           "  AND (l.tenant_id, l.lead_id) <= ($14, nullif($15, '')::uuid)),"
           " h AS (INSERT INTO score_history (tenant_id, lead_id, explanation, computed_at)"
           "  SELECT v.tenant_id, v.lead_id::uuid, v.explanation::bytea, $9::timestamptz"
           "  FROM v WHERE v.event_id <> ''),"
           " o AS (" CRM_OUTBOX_INSERT_SQL("v.event_id", "'LeadScored'", "v.tenant_id",
                                           "v.lead_id", "v.payload", "$10",
                                           "v WHERE v.event_id <> ''") ")"
           " UPDATE rescore_jobs SET status = CASE WHEN $16::boolean THEN 'done' ELSE 'running' END,"
           " done = done + $12::int, changed = changed + $13::int, after_tenant = $14,"
           " after_lead = nullif($15, '')::uuid,"
           " finished_at = CASE WHEN $16::boolean THEN now() END WHERE id = $11::uuid",
    .nparams = 18,
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

Crm__Scoring__LeadFacts *scoring_rescore_store_facts(PGresult *res, int row, int col) {
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
        Crm__Scoring__LeadFacts *facts = scoring_rescore_store_facts(res, r, 1);
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

PGresult *scoring_rescore_store_claim(crm_db_t *db) {
    return crm_db_query(db, &s_claim, NULL);
}

PGresult *scoring_rescore_store_page(crm_db_t *db, const char *tenant, const char *after_tenant,
                                     const char *after_lead, int limit) {
    //  Planned for this page's values: a plan made once for any values (the generic
    //  plan, chosen after a few pages, often while the projection's statistics still
    //  say it is small) sorted every remaining lead for each page.
    if (crm_db_exec(db, "SET LOCAL plan_cache_mode = force_custom_plan"))
        return NULL;
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *params[] = {tenant, after_tenant, *after_lead ? after_lead : NULL, limit_text};
    return crm_db_query(db, &s_page, params);
}

int scoring_rescore_store_write(crm_db_t *db, const scoring_page_write_t *w) {
    char done[16], changed[16];
    snprintf(done, sizeof done, "%d", w->done);
    snprintf(changed, sizeof changed, "%d", w->changed);
    const char *params[] = {w->arrays[0],  w->arrays[1], w->arrays[2], w->arrays[3],
                            w->arrays[4],  w->arrays[5], w->arrays[6], w->arrays[7],
                            w->computed_at, w->occurred_at, w->job_id, done, changed,
                            w->last_tenant, w->last_lead, w->finished ? "true" : "false",
                            w->first_tenant, w->first_lead};
    return crm_db_run(db, &s_write, params);
}

int scoring_rescore_store_schedule_decay(crm_db_t *db, int interval_ms) {
    char id[CRM_UUID_LEN + 1], interval[16];
    crm_uuid_v7(id);
    snprintf(interval, sizeof interval, "%d", interval_ms);
    const char *params[] = {id, interval};
    return crm_db_run(db, &s_decay, params);
}
