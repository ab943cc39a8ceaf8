/*  replay: Events.Replay and the sequencing rules. See replay.h. */
#include "replay.h"
#include "outbox.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --- Replay ----------------------------------------------------------------------------

//  The events of seqs from .. from + limit - 1 (the claims that hold them, their rows
//  numbered), each row also carrying the head and the highest seq purged (one row of
//  NULL events when there are none). Made per service (schema) and kept with it.
static crm_stmt_t *s_replay_stmt(crm_service_t *service) {
    return crm_service_stmt(
        service, "events_replay", 2, false,
        "SELECT " CRM_OUTBOX_EVENT_COLUMNS ","
        " (SELECT last_seq FROM %1$s.outbox_state WHERE id = 1),"
        " (SELECT purged_through FROM %1$s.outbox_state WHERE id = 1)"
        " FROM (SELECT 1) one LEFT JOIN LATERAL"
        " (SELECT * FROM (" CRM_OUTBOX_NUMBERED_SQL(
            "(SELECT * FROM %1$s.outbox_claims WHERE first_seq >= coalesce((SELECT"
            " max(first_seq) FROM %1$s.outbox_claims WHERE first_seq <= $1::bigint), 1)"
            " AND first_seq < $1::bigint + $2::int)") ") n"
        "  WHERE seq >= $1::bigint ORDER BY seq LIMIT $2::int) o ON true");
}

//  The statement's rows as a page of source's events (caller frees), NULL when a row is
//  unreadable. With tenant other than "*", only that tenant's events are kept.
static Crm__Events__ReplayResponse *s_page_new(PGresult *res, const char *source,
                                               uint64_t head, uint64_t purged, uint64_t from,
                                               const char *tenant) {
    int rows = PQntuples(res);
    Crm__Events__ReplayResponse *out = malloc(sizeof *out);
    assert(out);
    crm__events__replay_response__init(out);
    out->head_seq = head;
    out->oldest_seq = purged + 1;
    out->next_seq = from;
    bool all = strcmp(tenant, "*") == 0;
    out->events = rows ? calloc(rows, sizeof *out->events) : NULL;
    for (int i = 0; i < rows; i++) {
        if (PQgetisnull(res, i, 0)) // the LEFT JOIN's empty row
            continue;
        Crm__Event *event = crm_outbox_event_from_row(res, i, source);
        if (!event) {
            crm__events__replay_response__free_unpacked(out, NULL);
            return NULL;
        }
        out->next_seq = event->seq + 1;
        if (!all && strcmp(event->tenant_id, tenant) != 0) {
            crm__event__free_unpacked(event, NULL);
            continue;
        }
        out->events[out->n_events++] = event;
    }
    return out;
}

int crm_events_replay(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response) {
    const Crm__Events__ReplayRequest *req = (const Crm__Events__ReplayRequest *)request;
    //  Only the suite's own services and administrators; a tenant's administrator (or
    //  a subscriber key of that tenant, which the broker lets call with its tenant
    //  only) gets that tenant's events, every tenant's needs tenant "*".
    if (strcmp(call->header->role, "system") != 0 && strcmp(call->header->role, "admin") != 0) {
        crm_call_error(call, "forbidden", "replaying events needs the system or admin role");
        return 403;
    }
    crm_service_t *service = call->service;
    const char *schema = crm_service_name(service);
    const crm_config_t *cfg = crm_service_config(service);
    uint32_t max = cfg ? (uint32_t)cfg->events_replay_limit : 1000;
    uint32_t limit = req->limit && req->limit < max ? req->limit : max;
    uint64_t from = req->from_seq ? req->from_seq : 1;
    char from_text[24], limit_text[16];
    snprintf(from_text, sizeof from_text, "%" PRIu64, from);
    snprintf(limit_text, sizeof limit_text, "%u", limit);
    const char *params[] = {from_text, limit_text};
    PGresult *res = crm_db_query(call->db, s_replay_stmt(service), params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    uint64_t head = rows ? strtoull(PQgetvalue(res, 0, 7), NULL, 10) : 0;
    uint64_t purged = rows ? strtoull(PQgetvalue(res, 0, 8), NULL, 10) : 0;
    if (from <= purged) {
        PQclear(res);
        crm_call_error(call, "events_expired",
                       "events of %s up to seq %" PRIu64 " are past the retention; the oldest"
                       " kept is %" PRIu64,
                       schema, purged, purged + 1);
        return 410;
    }
    Crm__Events__ReplayResponse *out =
        s_page_new(res, schema, head, purged, from, call->header->tenant_id);
    PQclear(res);
    if (!out) {
        crm_call_error(call, "internal", "an outbox row is unreadable");
        return 500;
    }
    *response = &out->base;
    return 200;
}

//  --- Sequencing ------------------------------------------------------------------------

crm_seq_action_t crm_seq_check(uint64_t last_applied, uint64_t seq) {
    if (seq <= last_applied)
        return CRM_SEQ_DUPLICATE;
    if (seq == last_applied + 1)
        return CRM_SEQ_APPLY;
    return CRM_SEQ_GAP;
}

crm_replay_page_t crm_replay_page_check(uint64_t last_applied, const uint64_t *seqs, size_t n,
                                        uint64_t head_seq) {
    crm_replay_page_t page = {0, false};
    while (page.usable < n && seqs[page.usable] == last_applied + 1 + page.usable)
        page.usable++;
    page.more = n > 0 && page.usable == n && last_applied + n < head_seq;
    return page;
}

