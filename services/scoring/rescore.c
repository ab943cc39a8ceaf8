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
#include "outbox.h"

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

//  A page's writes, column by column as s_write takes them: one element per lead whose
//  explanation changed; the strings are the page result's or owned here.
enum { W_TENANT, W_LEAD, W_SCORE, W_BAND, W_EXPLANATION, W_VERSION, W_EVENT, W_PAYLOAD, W_COLUMNS };

typedef struct {
    const char *cols[W_COLUMNS][RESCORE_PAGE];
    char *owned[6 * RESCORE_PAGE]; // five a lead, and a model version a tenant
    size_t n, n_owned;
    int moved; // leads whose score or band moved (a LeadScored each)
} s_page_t;

static const char *s_own(s_page_t *page, char *text) {
    assert(text && page->n_owned < sizeof page->owned / sizeof page->owned[0]);
    page->owned[page->n_owned++] = text;
    return text;
}

//  A packed message's bytes from a bytea column (caller PQfreemem()s), NULL when NULL or
//  damaged.
static unsigned char *s_bytes(PGresult *res, int row, int col, size_t *size) {
    *size = 0;
    if (PQgetisnull(res, row, col))
        return NULL;
    return PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), size);
}

//  Lead r of the page rescored under model (version: its version, owned by page) as of now (computed_at in text): added to
//  page when its explanation changes (rule, points, reason, version), with a LeadScored
//  stamped occurred_at when its score or band moves. A lead whose explanation stays
//  keeps it as it was (and its computedAt). in and result are scratch space.
static void s_rescore_lead(s_page_t *page, PGresult *res, int r, const scoring_model_t *model,
                           const char *version, int64_t now, const char *computed_at, const char *occurred_at,
                           scoring_input_t *in, scoring_result_t *result) {
    Crm__Scoring__LeadFacts *facts = s_facts(res, r, 2);
    if (!facts)
        return; // damaged: left as it is
    const char *lead_id = PQgetvalue(res, r, 1);
    scoring_facts_input(facts, in);
    scoring_evaluate(model, in, now, result);
    char band[16];
    crm_enum_api_name(&crm__scoring__band__descriptor, result->band, band, sizeof band);
    size_t old_size = 0;
    unsigned char *old_bytes = s_bytes(res, r, 6, &old_size);
    bool had = !PQgetisnull(res, r, 6);
    int previous_score = had ? atoi(PQgetvalue(res, r, 4)) : 0;
    const char *previous_band = had ? PQgetvalue(res, r, 5) : NULL;
    bool moved = !had || previous_score != result->score || strcmp(previous_band, band) != 0;
    Crm__Scoring__Score *old =
        old_bytes && !moved ? crm__scoring__score__unpack(NULL, old_size, old_bytes) : NULL;
    //  Packed with the old explanation's time, the same bytes say nothing changed.
    Crm__Scoring__Score *score = scoring_score_new(lead_id, result, model->version,
                                                   old ? old->computed_at : computed_at);
    size_t size = protobuf_c_message_get_packed_size(&score->base);
    uint8_t *buf = malloc(size + 1);
    assert(buf);
    protobuf_c_message_pack(&score->base, buf);
    bool same = old && size == old_size && memcmp(buf, old_bytes, size) == 0;
    if (old)
        crm__scoring__score__free_unpacked(old, NULL);
    if (old_bytes)
        PQfreemem(old_bytes);
    if (!same) {
        if (strcmp(score->computed_at, computed_at) != 0) {
            crm_pb_string_set(&score->computed_at, computed_at);
            size = protobuf_c_message_get_packed_size(&score->base);
            buf = realloc(buf, size + 1);
            assert(buf);
            protobuf_c_message_pack(&score->base, buf);
        }
        size_t i = page->n++;
        char score_text[16];
        snprintf(score_text, sizeof score_text, "%d", result->score);
        page->cols[W_TENANT][i] = PQgetvalue(res, r, 0);
        page->cols[W_LEAD][i] = lead_id;
        page->cols[W_SCORE][i] = s_own(page, strdup(score_text));
        page->cols[W_BAND][i] = s_own(page, strdup(band));
        page->cols[W_EXPLANATION][i] = s_own(page, crm_db_bytea_literal(buf, size));
        page->cols[W_VERSION][i] = version;
        page->cols[W_EVENT][i] = "";
        page->cols[W_PAYLOAD][i] = "";
        if (moved) {
            Crm__Events__LeadScored event;
            char **reasons = scoring_lead_scored_init(&event, score, facts->contact_id, band,
                                                      previous_score, previous_band);
            crm_outbox_event_t ev;
            int rc = crm_outbox_event_init(&ev, &event.base, occurred_at);
            assert(rc == 0); // LeadScored is in the catalogue
            (void)rc;
            page->cols[W_EVENT][i] = s_own(page, strdup(ev.event_id));
            page->cols[W_PAYLOAD][i] = s_own(page, ev.payload_hex);
            free(reasons);
            page->moved++;
        }
    }
    free(buf);
    crm__scoring__score__free_unpacked(score, NULL);
    crm__scoring__lead_facts__free_unpacked(facts, NULL);
}

//  One page of the oldest open job, in a transaction of three statements (the page
//  read, the tenant's model when it is not the one in hand, the writes with the
//  progress): each lead evaluated in memory as of now.
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
    //  Planned for this page's values: a plan made once for any values (the generic
    //  plan, chosen after a few pages, often while the projection's statistics still
    //  say it is small) sorted every remaining lead for each page.
    if (crm_db_exec(db, "SET LOCAL plan_cache_mode = force_custom_plan")) {
        crm_db_rollback(db);
        return CRM_STEP_FAILED;
    }
    PGresult *res = crm_db_query(db, &s_page, params);
    if (!res) {
        crm_db_rollback(db);
        return CRM_STEP_FAILED;
    }
    int rows = PQntuples(res), rc = 0;
    int64_t now = (int64_t)time(NULL);
    char computed_at[40], occurred_at[40];
    scoring_time_format(now, computed_at, sizeof computed_at);
    crm_time_now(occurred_at, sizeof occurred_at);
    scoring_model_t *model = malloc(sizeof *model);
    scoring_input_t *in = malloc(sizeof *in);
    scoring_result_t *result = malloc(sizeof *result);
    s_page_t *page = calloc(1, sizeof *page);
    assert(model && in && result && page);
    char model_tenant[128] = "";
    const char *version = NULL;
    bool have_model = false;
    for (int r = 0; r < rows && rc == 0; r++) {
        const char *lead_tenant = PQgetvalue(res, r, 0);
        if (!have_model || strcmp(model_tenant, lead_tenant) != 0) {
            rc = scoring_model_store_current(db, &scoring_state, lead_tenant, model, NULL);
            snprintf(model_tenant, sizeof model_tenant, "%s", lead_tenant);
            have_model = rc == 0;
            version = NULL;
        }
        //  The page's rows name the version of the model they were scored under,
        //  which the next tenant's model replaces: a copy of it each.
        if (rc == 0 && !version)
            version = s_own(page, strdup(model->version));
        if (rc == 0)
            s_rescore_lead(page, res, r, model, version, now, computed_at, occurred_at, in,
                           result);
    }
    char done_text[16], changed_text[16], last_tenant[128] = "", last_lead[40] = "";
    char first_tenant[128] = "", first_lead[40] = "00000000-0000-0000-0000-000000000000";
    if (rows > 0) {
        snprintf(first_tenant, sizeof first_tenant, "%s", PQgetvalue(res, 0, 0));
        snprintf(first_lead, sizeof first_lead, "%s", PQgetvalue(res, 0, 1));
        snprintf(last_tenant, sizeof last_tenant, "%s", PQgetvalue(res, rows - 1, 0));
        snprintf(last_lead, sizeof last_lead, "%s", PQgetvalue(res, rows - 1, 1));
    }
    snprintf(done_text, sizeof done_text, "%d", rows);
    snprintf(changed_text, sizeof changed_text, "%d", page->moved);
    char *arrays[W_COLUMNS];
    for (int k = 0; k < W_COLUMNS; k++)
        arrays[k] = crm_db_text_array(page->cols[k], page->n);
    const char *write[] = {arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], arrays[5],
                           arrays[6], arrays[7], computed_at, occurred_at, id, done_text,
                           changed_text, last_tenant, last_lead,
                           rows < RESCORE_PAGE ? "true" : "false", first_tenant, first_lead};
    if (rc == 0)
        rc = crm_db_run(db, &s_write, write);
    for (int k = 0; k < W_COLUMNS; k++)
        free(arrays[k]);
    int moved = page->moved;
    for (size_t i = 0; i < page->n_owned; i++)
        free(page->owned[i]);
    free(page);
    free(model);
    free(in);
    free(result);
    PQclear(res);
    if (rc || crm_db_commit(db)) {
        crm_db_rollback(db);
        return CRM_STEP_FAILED;
    }
    step->events += moved;
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
