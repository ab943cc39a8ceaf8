/*  webhook_store: the SQL of what comes back from outside: the SMS provider's status
    callbacks and inbound texts, one-click unsubscribes, opens and clicks
    (webhook_methods.c). Each names its tenant explicitly: these requests carry no API key,
    the tenant comes from what was verified (a signed token, the provider's signature).
*/
#include "notify.h"

#include <stdlib.h>
#include <string.h>

#define MESSAGE_FACTS                                                                              \
    "m.status, coalesce(m.contact_id::text, ''), coalesce(m.lead_id::text, ''), m.member_id,"      \
    " m.channel, m.purpose, m.trigger, coalesce(m.template_id::text, ''), m.to_address,"           \
    " m.provider_id, coalesce(extract(epoch from now() - coalesce(m.delivered_at, m.sent_at))"     \
    "   ::bigint, -1), m.links::text, m.id::text, m.tenant_id, m.subject, m.body_text,"            \
    " m.attempts, m.opened_at IS NOT NULL, m.clicked_at IS NOT NULL"

static const crm_stmt_t s_by_id = {
    .name = "webhook_by_id",
    .sql = "SELECT " MESSAGE_FACTS " FROM messages m WHERE m.tenant_id = $1 AND m.id = $2::uuid",
    .nparams = 2};

static const crm_stmt_t s_by_provider = {
    .name = "webhook_by_provider",
    .sql = "SELECT " MESSAGE_FACTS " FROM messages m WHERE m.provider_id = $1 AND m.channel = 'sms'"
           " LIMIT 1",
    .nparams = 1};

//  A status reported: the row moves to $3 ('' : stays) with its times, the history
//  entry ($4) keeps the parameters as received ($6).
static const crm_stmt_t s_report = {
    .name = "webhook_report",
    .sql = "WITH m AS (UPDATE messages SET status = CASE WHEN $3 = '' THEN status ELSE $3 END,"
           "   provider_id = CASE WHEN provider_id = '' THEN $7 ELSE provider_id END,"
           "   sent_at = CASE WHEN $3 IN ('sent', 'delivered') THEN coalesce(sent_at, now())"
           "                  ELSE sent_at END,"
           "   delivered_at = CASE WHEN $3 = 'delivered' THEN now() ELSE delivered_at END,"
           "   opened_at = CASE WHEN $4 = 'opened' AND NOT $8::boolean"
           "                    THEN coalesce(opened_at, now()) ELSE opened_at END,"
           "   clicked_at = CASE WHEN $4 = 'clicked' AND NOT $8::boolean"
           "                     THEN coalesce(clicked_at, now()) ELSE clicked_at END,"
           "   reason = CASE WHEN $3 = 'failed' THEN 'undelivered'"
           "                 WHEN $3 IN ('sent', 'delivered') THEN '' ELSE reason END,"
           "   detail = CASE WHEN $3 = 'failed' THEN $5 ELSE detail END,"
           "   owner = CASE WHEN $3 = '' THEN owner ELSE NULL END, updated_at = now()"
           "   WHERE tenant_id = $1 AND id = $2::uuid RETURNING id)"
           " INSERT INTO message_events (tenant_id, message_id, status, detail, machine, data)"
           " SELECT $1, id, $4, $5, $8::boolean, nullif($6, '')::jsonb FROM m",
    .nparams = 8,
    .writes = true};

//  The tenants and contacts whose lines hold the number $1.
static const crm_stmt_t s_holders = {
    .name = "webhook_holders",
    .sql = "SELECT r.tenant_id, r.contact_id::text FROM recipients r"
           " WHERE r.phones @> jsonb_build_array(jsonb_build_object('number', $1::text))"
           " AND NOT r.deleted AND NOT r.erased ORDER BY r.tenant_id, r.contact_id",
    .nparams = 1};

static const crm_stmt_t s_opt = {
    .name = "webhook_opt",
    .sql = "INSERT INTO sms_opt_outs (tenant_id, number, opted_out, keyword, at)"
           " VALUES ($1, $2, $3::boolean, $4, now()) ON CONFLICT (tenant_id, number) DO UPDATE"
           " SET opted_out = $3::boolean, keyword = $4, at = now()",
    .nparams = 4,
    .writes = true};

//  An inbound text kept once per provider id; its contact's open lead (the latest).
static const crm_stmt_t s_inbound = {
    .name = "webhook_inbound",
    .sql = "WITH lead AS (SELECT lead_id FROM leads WHERE tenant_id = $1"
           "   AND contact_id = $3::uuid AND open ORDER BY lead_id DESC LIMIT 1)"
           " INSERT INTO inbound_messages (tenant_id, id, provider_id, contact_id, lead_id,"
           "   from_number, to_number, body)"
           " SELECT $1, $2::uuid, $4, $3::uuid, (SELECT lead_id FROM lead), $5, $6, $7"
           " ON CONFLICT (tenant_id, provider_id) DO NOTHING"
           " RETURNING coalesce(lead_id::text, ''), " CRM_SQL_TS("received_at"),
    .nparams = 7,
    .writes = true};

//  The customer replied: the automated follow-ups still waiting are withdrawn.
static const crm_stmt_t s_cancel = {
    .name = "webhook_cancel",
    .sql = "WITH m AS (UPDATE messages SET status = 'cancelled', reason = 'customer_replied',"
           "   detail = 'the customer replied', updated_at = now()"
           "   WHERE tenant_id = $1 AND contact_id = $2::uuid AND status = 'queued'"
           "   AND owner IS NULL AND automated AND purpose = 'follow_up' RETURNING id)"
           " INSERT INTO message_events (tenant_id, message_id, status, reason, detail)"
           " SELECT $1, id, 'cancelled', 'customer_replied', 'the customer replied' FROM m",
    .nparams = 2,
    .writes = true};

static const crm_stmt_t s_unsubscribe = {
    .name = "webhook_unsubscribe",
    .sql = "INSERT INTO email_unsubscribes (tenant_id, address, message_id)"
           " VALUES ($1, lower($2), $3::uuid) ON CONFLICT DO NOTHING RETURNING 1",
    .nparams = 3,
    .writes = true};

static char *s_text(PGresult *res, int col) {
    return strdup(PQgetvalue(res, 0, col));
}

static int s_fact(PGresult *res, notify_message_facts_t *out) {
    if (!PQntuples(res))
        return 1;
    memset(out, 0, sizeof *out);
    snprintf(out->status, sizeof out->status, "%s", PQgetvalue(res, 0, 0));
    snprintf(out->contact_id, sizeof out->contact_id, "%s", PQgetvalue(res, 0, 1));
    snprintf(out->lead_id, sizeof out->lead_id, "%s", PQgetvalue(res, 0, 2));
    out->member_id = s_text(res, 3);
    snprintf(out->channel, sizeof out->channel, "%s", PQgetvalue(res, 0, 4));
    snprintf(out->purpose, sizeof out->purpose, "%s", PQgetvalue(res, 0, 5));
    snprintf(out->trigger, sizeof out->trigger, "%s", PQgetvalue(res, 0, 6));
    snprintf(out->template_id, sizeof out->template_id, "%s", PQgetvalue(res, 0, 7));
    out->to = s_text(res, 8);
    out->provider_id = s_text(res, 9);
    out->seconds_since_delivery = atoll(PQgetvalue(res, 0, 10));
    out->links = s_text(res, 11);
    snprintf(out->id, sizeof out->id, "%s", PQgetvalue(res, 0, 12));
    out->tenant_id = s_text(res, 13);
    out->subject = s_text(res, 14);
    out->body_text = s_text(res, 15);
    out->attempts = atoi(PQgetvalue(res, 0, 16));
    out->opened = PQgetvalue(res, 0, 17)[0] == 't';
    out->clicked = PQgetvalue(res, 0, 18)[0] == 't';
    return 0;
}

void notify_message_facts_reset(notify_message_facts_t *f) {
    free(f->member_id);
    free(f->to);
    free(f->provider_id);
    free(f->links);
    free(f->tenant_id);
    free(f->subject);
    free(f->body_text);
    memset(f, 0, sizeof *f);
}

int notify_webhook_store_message(crm_db_t *db, const char *tenant_id, const char *id,
                                 const char *provider_id, notify_message_facts_t *out) {
    PGresult *res;
    if (tenant_id && tenant_id[0] && crm_uuid_valid(id)) {
        const char *params[] = {tenant_id, id};
        res = crm_db_query(db, &s_by_id, params);
    } else if (provider_id && provider_id[0]) {
        const char *params[] = {provider_id};
        res = crm_db_query(db, &s_by_provider, params);
    } else
        return 1;
    if (!res)
        return -1;
    int rc = s_fact(res, out);
    PQclear(res);
    return rc;
}

int notify_webhook_store_report(crm_db_t *db, const notify_message_facts_t *m, const char *status,
                                const char *history_status, const char *detail,
                                const char *data_json, const char *provider_id, bool machine) {
    const char *params[] = {m->tenant_id,
                            m->id,
                            status,
                            history_status,
                            detail,
                            data_json ? data_json : "",
                            provider_id ? provider_id : "",
                            machine ? "true" : "false"};
    return crm_db_run(db, &s_report, params);
}

int notify_webhook_store_holders(crm_db_t *db, const char *number, PGresult **out) {
    const char *params[] = {number};
    *out = crm_db_query(db, &s_holders, params);
    return *out ? 0 : -1;
}

int notify_webhook_store_opt(crm_db_t *db, const char *tenant_id, const char *number,
                             bool opted_out, const char *keyword) {
    const char *params[] = {tenant_id, number, opted_out ? "true" : "false", keyword};
    return crm_db_run(db, &s_opt, params);
}

int notify_webhook_store_inbound(crm_db_t *db, const char *tenant_id, const char *id,
                                 const char *contact_id, const char *provider_id, const char *from,
                                 const char *to, const char *body, char *lead_id, size_t lead_size,
                                 char *at, size_t at_size) {
    const char *params[] = {tenant_id, id, contact_id, provider_id, from, to, body};
    PGresult *res = crm_db_query(db, &s_inbound, params);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    if (rows) {
        snprintf(lead_id, lead_size, "%s", PQgetvalue(res, 0, 0));
        snprintf(at, at_size, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return rows ? 0 : 1;
}

int notify_webhook_store_cancel_follow_ups(crm_db_t *db, const char *tenant_id,
                                           const char *contact_id) {
    const char *params[] = {tenant_id, contact_id};
    return crm_db_run(db, &s_cancel, params);
}

int notify_webhook_store_unsubscribe(crm_db_t *db, const char *tenant_id, const char *address,
                                     const char *message_id) {
    const char *params[] = {tenant_id, address, message_id};
    PGresult *res = crm_db_query(db, &s_unsubscribe, params);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    PQclear(res);
    return rows ? 0 : 1;
}
