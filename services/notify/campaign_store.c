/*  campaign_store: the SQL of campaigns (campaign.c holds the rules, campaign_methods.c the
    methods, campaign_job.c the job): storing one, reading it with its progress, listing,
    cancelling, and the job's statements (claim the oldest campaign still resolving, a
    page of its contact ids, queue one recipient's message, move its cursor on).

    A campaign's progress is counted from its messages (messages.campaign_id, index
    messages_campaign), so it always agrees with them: the sender's outcomes need no
    campaign bookkeeping. Its status is its state while resolving, cancelled or failed;
    once resolved, sending while any message is queued or sending, else completed.
*/
#include "notify.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "rows.h"

#include <stdlib.h>
#include <string.h>

//  The statements are laid out to read as SQL.
// clang-format off
#define TS_OR_EMPTY(col) "coalesce(" CRM_SQL_TS(col) ", '')"

//  A campaign in the API's shape (Campaign) from campaigns c, its progress p and its
//  suppressions by reason r (CAMPAIGN_FROM); ids: its contactIds or '[]'.
#define CAMPAIGN_JSON(ids)                                                                         \
    "json_build_object('id', c.id, 'name', c.name, 'templateId', c.template_id,"                   \
    " 'contactIds', " ids ", 'filter', c.filter,"                                                  \
    " 'status', CASE WHEN c.state <> 'resolved' THEN c.state"                                      \
    "                WHEN p.queued > 0 THEN 'sending' ELSE 'completed' END,"                       \
    " 'progress', json_build_object('recipients', p.recipients, 'queued', p.queued,"               \
    "   'sent', p.sent, 'suppressed', p.suppressed,"                                               \
    "   'suppressedByReason', coalesce(r.by_reason, '[]'), 'failed', p.failed,"                    \
    "   'unknown', p.unknown, 'cancelled', p.cancelled),"                                          \
    " 'error', c.error, 'createdBy', c.created_by,"                                                \
    " 'createdAt', " CRM_SQL_TS("c.created_at") ","                                                \
    " 'resolvedAt', " TS_OR_EMPTY("c.resolved_at") ","                                             \
    " 'cancelledAt', " TS_OR_EMPTY("c.cancelled_at") ")::text"

#define CAMPAIGN_FROM                                                                              \
    " FROM campaigns c CROSS JOIN LATERAL ("                                                       \
    "  SELECT count(*) AS recipients,"                                                             \
    "   count(*) FILTER (WHERE m.status IN ('queued', 'sending')) AS queued,"                      \
    "   count(*) FILTER (WHERE m.status IN ('sent', 'delivered')) AS sent,"                        \
    "   count(*) FILTER (WHERE m.status = 'suppressed') AS suppressed,"                            \
    "   count(*) FILTER (WHERE m.status IN ('failed', 'dead')) AS failed,"                         \
    "   count(*) FILTER (WHERE m.status = 'unknown') AS unknown,"                                  \
    "   count(*) FILTER (WHERE m.status = 'cancelled') AS cancelled"                               \
    "  FROM messages m WHERE m.tenant_id = c.tenant_id AND m.campaign_id = c.id) p"                \
    " CROSS JOIN LATERAL ("                                                                        \
    "  SELECT json_agg(json_build_object('reason', x.reason, 'count', x.n)"                        \
    "                  ORDER BY x.n DESC, x.reason) AS by_reason"                                  \
    "  FROM (SELECT m.reason, count(*) AS n FROM messages m WHERE m.tenant_id = c.tenant_id"       \
    "        AND m.campaign_id = c.id AND m.status = 'suppressed' GROUP BY m.reason) x) r"

static const crm_stmt_t s_insert = {
    .name = "campaigns_insert",
    .sql = "INSERT INTO campaigns (tenant_id, id, name, template_id, contact_ids, filter, state,"
           "   created_by, created_role)"
           " VALUES ($1, $2::uuid, $3, $4::uuid,"
           "   CASE WHEN $5 = '' THEN NULL ELSE $5::uuid[] END, nullif($6, '')::jsonb,"
           "   'resolving', $7, $8)",
    .nparams = 8,
    .writes = true};

static const crm_stmt_t s_get = {
    .name = "campaigns_get",
    .sql = "SELECT " CAMPAIGN_JSON("to_json(coalesce(c.contact_ids, '{}'))") CAMPAIGN_FROM
           " WHERE c.tenant_id = $1 AND c.id = $2::uuid",
    .nparams = 2};

static const crm_stmt_t s_get_without_ids = {
    .name = "campaigns_get_without_ids",
    .sql = "SELECT " CAMPAIGN_JSON("'[]'::json") CAMPAIGN_FROM
           " WHERE c.tenant_id = $1 AND c.id = $2::uuid",
    .nparams = 2};

//  Newest first, after the cursor's id ($2, '' for the first page).
static const crm_stmt_t s_list = {
    .name = "campaigns_list",
    .sql = "SELECT " CAMPAIGN_JSON("'[]'::json") ", c.id::text" CAMPAIGN_FROM
           " WHERE c.tenant_id = $1 AND ($2 = '' OR c.id < nullif($2, '')::uuid)"
           " ORDER BY c.id DESC LIMIT $3::int",
    .nparams = 3};

//  Cancel a campaign still resolving, or resolved with messages left to send. It waits
//  for the job's lock on the row (one page), so no page is queued after it.
static const crm_stmt_t s_cancel = {
    .name = "campaigns_cancel",
    .sql = "UPDATE campaigns c SET state = 'cancelled', cancelled_at = now(), updated_at = now()"
           " WHERE c.tenant_id = $1 AND c.id = $2::uuid AND (c.state = 'resolving'"
           "   OR (c.state = 'resolved' AND EXISTS (SELECT 1 FROM messages m"
           "       WHERE m.tenant_id = c.tenant_id AND m.campaign_id = c.id"
           "       AND m.status IN ('queued', 'sending'))))"
           " RETURNING 1",
    .nparams = 2,
    .writes = true};

//  Its queued messages cancelled (a separate statement, so that it sees what the job
//  committed while the one above waited). One claimed by a sender is taken back too: its
//  attempt, which needs the status queued, then does nothing.
static const crm_stmt_t s_cancel_messages = {
    .name = "campaigns_cancel_messages",
    .sql = "WITH m AS (UPDATE messages SET status = 'cancelled', owner = NULL,"
           "   reason = 'campaign_cancelled', detail = 'the campaign was cancelled by ' || $3,"
           "   updated_at = now()"
           " WHERE tenant_id = $1 AND campaign_id = $2::uuid AND status = 'queued'"
           " RETURNING id, detail)"
           " INSERT INTO message_events (tenant_id, message_id, status, reason, detail)"
           " SELECT $1, id, 'cancelled', 'campaign_cancelled', detail FROM m",
    .nparams = 3,
    .writes = true};

static const crm_stmt_t s_state = {
    .name = "campaigns_state",
    .sql = "SELECT state FROM campaigns WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 2};

// --- the job's statements ---------------------------------------------------------------

static const crm_stmt_t s_claim = {
    .name = "campaigns_claim",
    .sql = "SELECT tenant_id, id::text, template_id::text, created_by, created_role, cursor,"
           " filter::text, coalesce(cardinality(contact_ids), 0) FROM campaigns"
           " WHERE state = 'resolving' ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED"};

static const crm_stmt_t s_ids = {
    .name = "campaigns_ids",
    .sql = "SELECT x::text FROM campaigns c,"
           " unnest(c.contact_ids[$3::int + 1 : $3::int + $4::int]) WITH ORDINALITY AS t(x, o)"
           " WHERE c.tenant_id = $1 AND c.id = $2::uuid ORDER BY o",
    .nparams = 4};

static const crm_stmt_t s_advance = {
    .name = "campaigns_advance",
    .sql = "UPDATE campaigns SET cursor = $3, updated_at = now(),"
           " state = CASE WHEN $4::boolean THEN 'resolved' ELSE state END,"
           " resolved_at = CASE WHEN $4::boolean THEN now() ELSE resolved_at END"
           " WHERE tenant_id = $1 AND id = $2::uuid AND state = 'resolving'",
    .nparams = 4,
    .writes = true};

static const crm_stmt_t s_fail = {
    .name = "campaigns_fail",
    .sql = "UPDATE campaigns SET state = 'failed', error = $3, updated_at = now()"
           " WHERE tenant_id = $1 AND id = $2::uuid AND state = 'resolving'",
    .nparams = 3,
    .writes = true};

// clang-format on

int notify_campaign_store_insert(crm_call_t *call, const Crm__Notify__Campaign *c) {
    char *ids = c->n_contact_ids
                    ? crm_db_text_array((const char *const *)c->contact_ids, c->n_contact_ids)
                    : strdup("");
    char *filter = c->filter ? crm_pb_to_json(&c->filter->base) : strdup("");
    const char *params[] = {call->header->tenant_id,
                            c->id,
                            c->name,
                            c->template_id,
                            ids,
                            filter,
                            call->header->actor_id[0] ? call->header->actor_id : "api",
                            call->header->role};
    PGresult *res = crm_db_query(call->db, &s_insert, params);
    free(ids);
    free(filter);
    int code = res ? 0 : crm_call_db_failure(call);
    PQclear(res);
    return code;
}

int notify_campaign_store_get(crm_call_t *call, const char *id, bool with_ids,
                              Crm__Notify__Campaign **out) {
    const char *params[] = {call->header->tenant_id, id};
    return crm_row_read_one(call, with_ids ? &s_get : &s_get_without_ids, params,
                            &crm__notify__campaign__descriptor, "campaign",
                            (ProtobufCMessage **)out);
}

int notify_campaign_store_list(crm_call_t *call, const char *after_id, int limit,
                               Crm__Notify__ListCampaignsResponse **out) {
    char rows_text[16];
    snprintf(rows_text, sizeof rows_text, "%d", limit + 1); // one more: is there a next page?
    const char *params[] = {call->header->tenant_id, after_id, rows_text};
    PGresult *res = crm_db_query(call->db, &s_list, params);
    if (!res)
        return crm_call_db_failure(call);
    Crm__Notify__ListCampaignsResponse *list = malloc(sizeof *list);
    crm__notify__list_campaigns_response__init(list);
    int code = crm_rows_into(call, res, limit, &list->base, "items", "campaign");
    if (code == 0 && PQntuples(res) > limit && list->n_items > 0)
        crm_pb_string_set(&list->next_cursor, PQgetvalue(res, (int)list->n_items - 1, 1));
    PQclear(res);
    if (code) {
        crm__notify__list_campaigns_response__free_unpacked(list, NULL);
        return code;
    }
    *out = list;
    return 200;
}

int notify_campaign_store_cancel(crm_call_t *call, const char *id) {
    const char *params[] = {call->header->tenant_id, id};
    PGresult *res = crm_db_query(call->db, &s_cancel, params);
    if (!res)
        return crm_call_db_failure(call);
    bool cancelled = PQntuples(res) > 0;
    PQclear(res);
    if (cancelled) {
        const char *by = call->header->actor_id[0] ? call->header->actor_id : "api";
        const char *m[] = {call->header->tenant_id, id, by};
        return crm_db_run(call->db, &s_cancel_messages, m) ? crm_call_db_failure(call) : 0;
    }
    res = crm_db_query(call->db, &s_state, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 404;
    if (!PQntuples(res))
        crm_call_error(call, "not_found", "no such campaign");
    else if (strcmp(PQgetvalue(res, 0, 0), "cancelled") == 0)
        code = 1;
    else {
        crm_call_error(call, "not_cancellable",
                       "only a campaign still resolving or sending can be cancelled; this one "
                       "is %s",
                       strcmp(PQgetvalue(res, 0, 0), "failed") == 0 ? "failed" : "completed");
        code = 409;
    }
    PQclear(res);
    return code;
}

// --- the job ------------------------------------------------------------------------------

void notify_claimed_campaign_reset(notify_claimed_campaign_t *c) {
    free(c->tenant_id);
    free(c->id);
    free(c->template_id);
    free(c->created_by);
    free(c->created_role);
    free(c->cursor);
    free(c->filter);
    memset(c, 0, sizeof *c);
}

int notify_campaign_store_claim(crm_db_t *db, notify_claimed_campaign_t *out) {
    memset(out, 0, sizeof *out);
    PGresult *res = crm_db_query(db, &s_claim, NULL);
    if (!res)
        return -1;
    int claimed = PQntuples(res) > 0;
    if (claimed) {
        out->tenant_id = strdup(PQgetvalue(res, 0, 0));
        out->id = strdup(PQgetvalue(res, 0, 1));
        out->template_id = strdup(PQgetvalue(res, 0, 2));
        out->created_by = strdup(PQgetvalue(res, 0, 3));
        out->created_role = strdup(PQgetvalue(res, 0, 4));
        out->cursor = strdup(PQgetvalue(res, 0, 5));
        out->filter = PQgetisnull(res, 0, 6) ? NULL : strdup(PQgetvalue(res, 0, 6));
        out->ids = atoi(PQgetvalue(res, 0, 7));
    }
    PQclear(res);
    return claimed;
}

int notify_campaign_store_ids(crm_db_t *db, const notify_claimed_campaign_t *c, int offset, int n,
                              PGresult **out) {
    char offset_text[16], n_text[16];
    snprintf(offset_text, sizeof offset_text, "%d", offset);
    snprintf(n_text, sizeof n_text, "%d", n);
    const char *params[] = {c->tenant_id, c->id, offset_text, n_text};
    *out = crm_db_query(db, &s_ids, params);
    return *out ? 0 : -1;
}

int notify_campaign_store_enqueue(crm_db_t *db, crm_outbox_t *outbox,
                                  const notify_claimed_campaign_t *c, const char *contact_id) {
    char key[200], id[CRM_UUID_LEN + 1];
    notify_campaign_message_key(key, sizeof key, c->id, contact_id);
    notify_enqueue_t e = {.tenant_id = c->tenant_id,
                          .key = key,
                          .contact_id = contact_id,
                          .channel = "email",
                          .purpose = "marketing",
                          .trigger = "campaign",
                          .template_id = c->template_id,
                          .automated = true,
                          .created_by = c->created_by,
                          .campaign_id = c->id};
    return notify_message_store_enqueue(db, outbox, &e, id);
}

int notify_campaign_store_advance(crm_db_t *db, const notify_claimed_campaign_t *c,
                                  const char *cursor, bool done) {
    const char *params[] = {c->tenant_id, c->id, cursor, done ? "true" : "false"};
    return crm_db_run(db, &s_advance, params);
}

int notify_campaign_store_fail(crm_db_t *db, const notify_claimed_campaign_t *c,
                               const char *error) {
    const char *params[] = {c->tenant_id, c->id, error};
    return crm_db_run(db, &s_fail, params);
}
