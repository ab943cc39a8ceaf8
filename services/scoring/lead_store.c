/*  lead_store: the scoring projection's SQL: each lead's facts and score, the score
    history, the contacts' reachability, and the LeadScored events (through the one
    outbox writer, in the caller's transaction). Called by follow.c (inside the
    follower's transaction), rescore.c (the job's) and the methods (the call's).
*/
#include "scoring.h"
#include "json_pb.h"
#include "outbox.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const crm_stmt_t s_get = {
    .name = "scoring_lead_get",
    .sql = "SELECT l.facts, coalesce(c.reachable, false), l.score, l.band,"
           "  l.explanation IS NOT NULL, coalesce(extract(epoch FROM l.computed_at)::bigint, 0)"
           " FROM leads l LEFT JOIN contacts c"
           "  ON c.tenant_id = l.tenant_id AND c.contact_id = l.contact_id"
           " WHERE l.tenant_id = $1 AND l.lead_id = $2::uuid FOR UPDATE OF l",
    .nparams = 2};

static const crm_stmt_t s_put = {
    .name = "scoring_lead_put",
    .sql = "INSERT INTO leads AS l (tenant_id, lead_id, contact_id, facts, closed, score, band,"
           "  explanation, model_version, computed_at)"
           " VALUES ($1, $2::uuid, $3, $4::bytea, $5::boolean, $6::int, $7, $8::bytea, $9,"
           "  $10::timestamptz)"
           " ON CONFLICT (tenant_id, lead_id) DO UPDATE SET contact_id = EXCLUDED.contact_id,"
           "  facts = EXCLUDED.facts, closed = EXCLUDED.closed, score = EXCLUDED.score,"
           "  band = EXCLUDED.band, explanation = EXCLUDED.explanation,"
           "  model_version = EXCLUDED.model_version, computed_at = EXCLUDED.computed_at",
    .nparams = 10,
    .writes = true};

static const crm_stmt_t s_history = {
    .name = "scoring_history_add",
    .sql = "INSERT INTO score_history (tenant_id, lead_id, explanation, computed_at)"
           " VALUES ($1, $2::uuid, $3::bytea, $4::timestamptz)",
    .nparams = 4,
    .writes = true};

static const crm_stmt_t s_delete = {
    .name = "scoring_lead_delete",
    .sql = "WITH h AS (DELETE FROM score_history WHERE tenant_id = $1 AND lead_id = $2::uuid)"
           " DELETE FROM leads WHERE tenant_id = $1 AND lead_id = $2::uuid",
    .nparams = 2,
    .writes = true};

static const crm_stmt_t s_of_contact = {
    .name = "scoring_leads_of_contact",
    .sql = "SELECT lead_id::text FROM leads WHERE tenant_id = $1 AND contact_id = $2"
           " ORDER BY lead_id",
    .nparams = 2};

static const crm_stmt_t s_reachable = {
    .name = "scoring_contact_reachable",
    .sql = "SELECT reachable FROM contacts WHERE tenant_id = $1 AND contact_id = $2",
    .nparams = 2};

//  $3..$8: has_phone, has_email, dnc_call, dnc_sms, dnc_email (NULL: unchanged).
static const crm_stmt_t s_contact_put = {
    .name = "scoring_contact_put",
    .sql = "WITH old AS (SELECT reachable FROM contacts WHERE tenant_id = $1 AND contact_id = $2),"
           " up AS (INSERT INTO contacts AS c (tenant_id, contact_id, has_phone, has_email,"
           "   dnc_call, dnc_sms, dnc_email)"
           "  VALUES ($1, $2, coalesce($3::boolean, false), coalesce($4::boolean, false),"
           "   coalesce($5::boolean, false), coalesce($6::boolean, false),"
           "   coalesce($7::boolean, false))"
           "  ON CONFLICT (tenant_id, contact_id) DO UPDATE SET"
           "   has_phone = coalesce($3::boolean, c.has_phone),"
           "   has_email = coalesce($4::boolean, c.has_email),"
           "   dnc_call = coalesce($5::boolean, c.dnc_call),"
           "   dnc_sms = coalesce($6::boolean, c.dnc_sms),"
           "   dnc_email = coalesce($7::boolean, c.dnc_email)"
           "  RETURNING reachable)"
           " SELECT (SELECT reachable FROM up) IS DISTINCT FROM (SELECT reachable FROM old)",
    .nparams = 7,
    .writes = true};

static const crm_stmt_t s_contact_delete = {
    .name = "scoring_contact_delete",
    .sql = "DELETE FROM contacts WHERE tenant_id = $1 AND contact_id = $2",
    .nparams = 2,
    .writes = true};

static const crm_stmt_t s_score = {
    .name = "scoring_score_get",
    .sql = "SELECT explanation FROM leads"
           " WHERE tenant_id = $1 AND lead_id = $2::uuid AND explanation IS NOT NULL",
    .nparams = 2};

static const crm_stmt_t s_history_list = {
    .name = "scoring_history_list",
    .sql = "SELECT explanation FROM score_history WHERE tenant_id = $1 AND lead_id = $2::uuid"
           " ORDER BY id DESC LIMIT $3::int",
    .nparams = 3};

//  A bytea column's value (text format) unpacked as descriptor's message; NULL when
//  damaged.
static ProtobufCMessage *s_unpack(PGresult *res, int row, int col,
                                  const ProtobufCMessageDescriptor *descriptor) {
    size_t size = 0;
    unsigned char *data = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &size);
    if (!data)
        return NULL;
    ProtobufCMessage *m = protobuf_c_message_unpack(descriptor, NULL, size, data);
    PQfreemem(data);
    return m;
}

static char *s_pack(const ProtobufCMessage *m) {
    size_t size = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(size + 1);
    assert(buf);
    protobuf_c_message_pack(m, buf);
    char *literal = crm_db_bytea_literal(buf, size);
    free(buf);
    return literal;
}

Crm__Scoring__LeadFacts *scoring_lead_store_get(crm_db_t *db, const char *tenant_id,
                                                const char *lead_id, bool *failed) {
    *failed = false;
    const char *params[] = {tenant_id, lead_id};
    PGresult *res = crm_db_query(db, &s_get, params);
    if (!res) {
        *failed = true;
        return NULL;
    }
    Crm__Scoring__LeadFacts *facts = NULL;
    if (PQntuples(res) == 1) {
        facts = (Crm__Scoring__LeadFacts *)s_unpack(res, 0, 0,
                                                    &crm__scoring__lead_facts__descriptor);
        if (facts)
            facts->contact_reachable = PQgetvalue(res, 0, 1)[0] == 't';
    }
    PQclear(res);
    return facts;
}

//  The stored score and band of a lead and the time it was scored as of (-1 when it has
//  none yet).
static int s_previous(crm_db_t *db, const char *tenant_id, const char *lead_id, int *score,
                      char band[16], int64_t *as_of) {
    const char *params[] = {tenant_id, lead_id};
    PGresult *res = crm_db_query(db, &s_get, params);
    if (!res)
        return -2;
    int rc = -1;
    if (PQntuples(res) == 1 && PQgetvalue(res, 0, 4)[0] == 't') {
        *score = atoi(PQgetvalue(res, 0, 2));
        snprintf(band, 16, "%s", PQgetvalue(res, 0, 3));
        *as_of = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
        rc = 0;
    }
    PQclear(res);
    return rc;
}

char **scoring_lead_scored_init(Crm__Events__LeadScored *event, const Crm__Scoring__Score *score,
                                const char *contact_id, const char *band, int previous_score,
                                const char *previous_band) {
    crm__events__lead_scored__init(event);
    event->lead_id = score->lead_id;
    event->contact_id = (char *)contact_id;
    event->score = score->score;
    event->previous_score = previous_score;
    event->priority = (char *)band;
    event->band = score->band;
    int previous = 0;
    if (previous_band &&
        crm_enum_parse(&crm__scoring__band__descriptor, previous_band, &previous) == 0)
        event->previous_band = (Crm__Scoring__Band)previous;
    event->contributions = score->contributions;
    event->n_contributions = score->n_contributions;
    char **reasons = calloc(score->n_contributions + 1, sizeof *reasons);
    assert(reasons);
    for (size_t i = 0; i < score->n_contributions; i++)
        reasons[i] = score->contributions[i]->reason;
    event->reasons = reasons;
    event->n_reasons = score->n_contributions;
    event->model_version = score->model_version;
    event->computed_at = score->computed_at;
    return reasons;
}

int scoring_lead_store_put(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                           Crm__Scoring__LeadFacts *facts, const scoring_model_t *model,
                           int64_t now, bool *changed) {
    if (changed)
        *changed = false;
    int previous_score = 0;
    char previous_band[16] = "";
    int64_t as_of = 0;
    int had = s_previous(db, tenant_id, facts->lead_id, &previous_score, previous_band, &as_of);
    if (had == -2)
        return -1;
    //  Never as of a time before the score it has: the leads', contacts' and notify
    //  events are followed each at its own pace (after a restart, in a rebuild), so a
    //  contact's event may come after its lead's later ones; scored as of the contact's
    //  time, the lead would lose every signal since. As of the latest time of the events
    //  applied to it, the score is the same whichever stream came first.
    if (as_of > now)
        now = as_of;
    scoring_input_t *in = malloc(sizeof *in);
    scoring_result_t *result = malloc(sizeof *result);
    assert(in && result);
    scoring_facts_input(facts, in);
    scoring_evaluate(model, in, now, result);
    char computed_at[40], band[16];
    scoring_time_format(now, computed_at, sizeof computed_at);
    crm_enum_api_name(&crm__scoring__band__descriptor, result->band, band, sizeof band);
    Crm__Scoring__Score *score =
        scoring_score_new(facts->lead_id, result, model->version, computed_at);
    char *facts_hex = s_pack(&facts->base);
    char *score_hex = s_pack(&score->base);
    char score_text[16];
    snprintf(score_text, sizeof score_text, "%d", result->score);
    const char *params[] = {tenant_id,  facts->lead_id, facts->contact_id,
                            facts_hex,  facts->closed ? "true" : "false",
                            score_text, band,           score_hex,
                            model->version, computed_at};
    int rc = crm_db_run(db, &s_put, params);
    bool moved = had != 0 || previous_score != result->score || strcmp(previous_band, band) != 0;
    if (rc == 0 && moved) {
        const char *history[] = {tenant_id, facts->lead_id, score_hex, computed_at};
        rc = crm_db_run(db, &s_history, history);
    }
    if (rc == 0 && moved) {
        Crm__Events__LeadScored event;
        char **reasons = scoring_lead_scored_init(&event, score, facts->contact_id, band,
                                                  previous_score, had == 0 ? previous_band : NULL);
        crm_outbox_t *own = outbox ? NULL : crm_outbox_new();
        rc = crm_outbox_add(outbox ? outbox : own, tenant_id, facts->lead_id, &event.base, NULL);
        if (own) {
            if (rc == 0)
                rc = crm_outbox_write(own, db);
            crm_outbox_destroy(&own);
        }
        free(reasons);
        if (changed)
            *changed = rc == 0;
    }
    free(facts_hex);
    free(score_hex);
    crm__scoring__score__free_unpacked(score, NULL);
    free(in);
    free(result);
    return rc;
}

static const crm_stmt_t s_empty = {
    .name = "scoring_empty",
    .sql = "WITH h AS (DELETE FROM score_history), l AS (DELETE FROM leads),"
           " c AS (DELETE FROM contacts)"
           " UPDATE inbox SET last_seq = 0",
    .nparams = 0,
    .writes = true};

int scoring_lead_store_empty(crm_db_t *db) {
    return crm_db_run(db, &s_empty, NULL);
}

int scoring_lead_store_delete(crm_db_t *db, const char *tenant_id, const char *lead_id) {
    const char *params[] = {tenant_id, lead_id};
    return crm_db_run(db, &s_delete, params);
}

int scoring_contact_store_put(crm_db_t *db, const char *tenant_id, const char *contact_id,
                              int reachable_bits, bool *changed) {
    //  reachable_bits: -1 deletes; else bit 0..4 has_phone, has_email, dnc_call, dnc_sms,
    //  dnc_email, and bit 8 says the has_ bits are given, bit 9 the dnc_ bits.
    *changed = false;
    const char *key[] = {tenant_id, contact_id};
    if (reachable_bits < 0) {
        bool was = scoring_contact_store_reachable(db, tenant_id, contact_id);
        *changed = was;
        return crm_db_run(db, &s_contact_delete, key);
    }
    const char *v[5];
    for (int i = 0; i < 5; i++) {
        bool given = (i < 2 && (reachable_bits & 0x100)) || (i >= 2 && (reachable_bits & 0x200));
        v[i] = !given ? NULL : (reachable_bits & (1 << i)) ? "true" : "false";
    }
    const char *params[] = {tenant_id, contact_id, v[0], v[1], v[2], v[3], v[4]};
    PGresult *res = crm_db_query(db, &s_contact_put, params);
    if (!res)
        return -1;
    *changed = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return 0;
}

bool scoring_contact_store_reachable(crm_db_t *db, const char *tenant_id,
                                     const char *contact_id) {
    const char *params[] = {tenant_id, contact_id};
    PGresult *res = crm_db_query(db, &s_reachable, params);
    bool reachable = res && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    if (res)
        PQclear(res);
    return reachable;
}

int scoring_lead_store_of_contact(crm_db_t *db, const char *tenant_id, const char *contact_id,
                                  char ***ids, size_t *n) {
    *ids = NULL;
    *n = 0;
    const char *params[] = {tenant_id, contact_id};
    PGresult *res = crm_db_query(db, &s_of_contact, params);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    *ids = calloc((size_t)rows + 1, sizeof **ids);
    assert(*ids);
    for (int r = 0; r < rows; r++)
        (*ids)[(*n)++] = strdup(PQgetvalue(res, r, 0));
    PQclear(res);
    return 0;
}

int scoring_lead_store_score(crm_call_t *call, const char *lead_id, Crm__Scoring__Score **out) {
    const char *params[] = {call->header->tenant_id, lead_id};
    PGresult *res = crm_db_query(call->db, &s_score, params);
    if (!res)
        return crm_call_db_failure(call);
    *out = NULL;
    if (PQntuples(res) == 1)
        *out = (Crm__Scoring__Score *)s_unpack(res, 0, 0, &crm__scoring__score__descriptor);
    PQclear(res);
    if (!*out) {
        crm_call_error(call, "not_found", "lead %s has no score (no such lead, or not yet scored)",
                       lead_id);
        return 404;
    }
    return 200;
}

int scoring_lead_store_history(crm_call_t *call, const char *lead_id, uint32_t limit,
                               Crm__Scoring__ScoreHistoryResponse **out) {
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%u", limit);
    const char *params[] = {call->header->tenant_id, lead_id, limit_text};
    PGresult *res = crm_db_query(call->db, &s_history_list, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    Crm__Scoring__ScoreHistoryResponse *r = malloc(sizeof *r);
    assert(r);
    crm__scoring__score_history_response__init(r);
    r->items = calloc((size_t)rows + 1, sizeof *r->items);
    assert(r->items);
    for (int i = 0; i < rows; i++) {
        Crm__Scoring__Score *s =
            (Crm__Scoring__Score *)s_unpack(res, i, 0, &crm__scoring__score__descriptor);
        if (s)
            r->items[r->n_items++] = s;
    }
    PQclear(res);
    *out = r;
    return 200;
}
