/*  rescore: the rescore jobs (POST /v1/scoring/rescore: every open lead of the tenant
    under its model in force, as of now) and the daily decay pass (the same over every
    tenant, so that scores whose decay crossed a point move and quiet leads cool down),
    worked by one runner job (main.c) a page of leads per step, each page in a
    transaction of its own with the job's progress; a LeadScored for each lead whose
    score or band changed. Its SQL, and the preview of a model, are rescore_store.c's.
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

//  A page's writes, column by column as scoring_rescore_store_write takes them: one
//  element per lead whose explanation changed; the strings are the page result's or
//  owned here.
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
    Crm__Scoring__LeadFacts *facts = scoring_rescore_store_facts(res, r, 2);
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
    PGresult *res = scoring_rescore_store_page(db, tenant, after_tenant, after_lead, RESCORE_PAGE);
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
    scoring_page_write_t w = {.computed_at = computed_at,
                              .occurred_at = occurred_at,
                              .job_id = id,
                              .done = rows,
                              .changed = page->moved,
                              .finished = rows < RESCORE_PAGE,
                              .first_tenant = "",
                              .first_lead = "00000000-0000-0000-0000-000000000000",
                              .last_tenant = "",
                              .last_lead = ""};
    if (rows > 0) {
        w.first_tenant = PQgetvalue(res, 0, 0);
        w.first_lead = PQgetvalue(res, 0, 1);
        w.last_tenant = PQgetvalue(res, rows - 1, 0);
        w.last_lead = PQgetvalue(res, rows - 1, 1);
    }
    for (int k = 0; k < W_COLUMNS; k++)
        w.arrays[k] = crm_db_text_array(page->cols[k], page->n);
    if (rc == 0)
        rc = scoring_rescore_store_write(db, &w);
    for (int k = 0; k < W_COLUMNS; k++)
        free(w.arrays[k]);
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
    PGresult *job = scoring_rescore_store_claim(db);
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
    if (scoring_rescore_store_schedule_decay(db, step->cfg->scoring_decay_interval_ms) ||
        crm_db_commit(db)) {
        crm_db_rollback(db);
        return CRM_STEP_FAILED;
    }
    return CRM_STEP_IDLE;
}

int scoring_rescore_period_ms(const crm_config_t *cfg) {
    return cfg->scoring_rescore_poll_ms;
}
