/*  sender_store: the SQL of the senders (sender.c): claiming due messages, recording an
    attempt before the provider is called and its outcome after, recovering what a dead
    sender held, and the daily cap. Every outcome writes the message's row, its history
    entry and (for the outcomes the catalogue names) its event in one transaction.

    Ownership: a sender is a number (owner) for which it holds a session-level advisory
    lock on its own connection for as long as it lives. A message it claimed carries the
    number. When the lock can be taken by another sender, its holder is gone (its
    connection closed: a crash, a kill), and what it held is recovered: claimed messages
    not yet attempted go back to the queue; a message in the middle of its attempt
    (sending) may or may not have reached the provider, so it becomes unknown (SMS: then
    resolved by asking the provider, sender.c).
*/
#include "notify.h"
#include "log.h"
#include "outbox.h"

#include <stdlib.h>
#include <string.h>

static const crm_stmt_t s_lock = {
    .name = "sender_lock", .sql = "SELECT pg_advisory_lock($1::bigint)", .nparams = 1};
static const crm_stmt_t s_try_lock = {
    .name = "sender_try_lock", .sql = "SELECT pg_try_advisory_lock($1::bigint)", .nparams = 1};
static const crm_stmt_t s_unlock = {
    .name = "sender_unlock", .sql = "SELECT pg_advisory_unlock($1::bigint)", .nparams = 1};

static const crm_stmt_t s_key_init = {
    .name = "sender_key_init",
    .sql = "INSERT INTO link_keys (id, key) VALUES (1, decode($1, 'hex')) ON CONFLICT DO NOTHING",
    .nparams = 1,
    .writes = true};
static const crm_stmt_t s_key = {.name = "sender_key",
                                 .sql = "SELECT encode(key, 'hex') FROM link_keys WHERE id = 1"};

#define CLAIM_COLUMNS                                                                              \
    "m.tenant_id, m.id::text, coalesce(m.contact_id::text, ''), coalesce(m.lead_id::text, ''),"    \
    " m.member_id, m.channel, m.purpose, m.trigger, coalesce(m.template_id::text, ''),"            \
    " m.context::text, m.automated, m.rendered, m.to_address, m.line, m.subject, m.body_text,"     \
    " m.body_html, m.attempts, extract(epoch from now() - m.created_at)::bigint,"                  \
    " m.links::text, coalesce(" CRM_SQL_TS("m.attempted_at") ", '')"

//  Up to $3 due messages of channel $2, soonest first, now owned by $1; a campaign's
//  after every other (index messages_due_first), so it never holds up a speed to lead.
static const crm_stmt_t s_claim = {
    .name = "sender_claim",
    .sql = "UPDATE messages m SET owner = $1::bigint WHERE m.ctid = ANY (ARRAY("
           "  SELECT q.ctid FROM messages q WHERE q.status = 'queued' AND q.channel = $2"
           "  AND q.due_at <= now() AND q.owner IS NULL"
           "  ORDER BY (q.trigger = 'campaign'), q.due_at LIMIT $3::int"
           "  FOR UPDATE SKIP LOCKED))"
           " RETURNING " CLAIM_COLUMNS,
    .nparams = 3,
    .writes = true};

//  The other senders that hold messages of channel $2.
static const crm_stmt_t s_owners = {
    .name = "sender_owners",
    .sql = "SELECT DISTINCT owner FROM messages WHERE owner IS NOT NULL AND owner <> $1::bigint"
           " AND status IN ('queued', 'sending') AND channel = $2",
    .nparams = 2};

//  What a gone sender $1 held: claimed ones back to the queue, attempted ones unknown.
static const crm_stmt_t s_recover = {
    .name = "sender_recover",
    .sql = "WITH back AS (UPDATE messages SET owner = NULL WHERE owner = $1::bigint"
           "   AND status = 'queued'),"
           " lost AS (UPDATE messages SET status = 'unknown', owner = NULL,"
           "   reason = 'interrupted', updated_at = now(),"
           "   detail = 'the sender stopped during the attempt: it may or may not have gone'"
           "   WHERE owner = $1::bigint AND status = 'sending' RETURNING tenant_id, id, detail)"
           " INSERT INTO message_events (tenant_id, message_id, status, reason, detail)"
           " SELECT tenant_id, id, 'unknown', 'interrupted', detail FROM lost",
    .nparams = 1,
    .writes = true};

//  On a clean stop: the claimed ones not attempted go back to the queue.
static const crm_stmt_t s_release = {
    .name = "sender_release",
    .sql = "UPDATE messages SET owner = NULL WHERE owner = $1::bigint AND status = 'queued'",
    .nparams = 1,
    .writes = true};

//  The attempt, recorded before the provider is called: prepared text and recipient,
//  counted against the tenant's cap for today ($10; 0: none) in the same statement, so
//  one commit: one row, how many were counted (0: the cap is reached, nothing recorded)
//  and the attempts (NULL: the message is no longer this sender's).
static const crm_stmt_t s_attempt = {
    .name = "sender_attempt",
    .sql = "WITH c AS (INSERT INTO daily_counts AS d (tenant_id, day, sent)"
           "   SELECT $1, (now() AT TIME ZONE 'UTC')::date, 1 WHERE $11::boolean"
           "   ON CONFLICT (tenant_id, day) DO UPDATE SET sent = d.sent + 1"
           "   WHERE $10::int = 0 OR d.sent < $10::int RETURNING sent),"
           " ok AS (SELECT NOT $11::boolean OR EXISTS (SELECT FROM c) AS counted),"
           " m AS (UPDATE messages SET rendered = true, to_address = $3, line = $4::int,"
           "   subject = $5, body_text = $6, body_html = $7, links = $8::jsonb,"
           "   status = 'sending', attempts = attempts + 1, attempted_at = now(),"
           "   updated_at = now()"
           "   WHERE tenant_id = $1 AND id = $2::uuid AND owner = $9::bigint"
           "   AND status = 'queued' AND (SELECT counted FROM ok) RETURNING attempts)"
           " SELECT (SELECT counted FROM ok), (SELECT attempts FROM m)",
    .nparams = 11,
    .writes = true};

//  Hand the message to the other channel's sender (speed to lead's fallback, a staff
//  alert to a member without an email address), text to be rendered there.
static const crm_stmt_t s_switch = {
    .name = "sender_switch",
    .sql = "WITH m AS (UPDATE messages SET channel = $3, context = $4::jsonb, owner = NULL,"
           "   rendered = false, updated_at = now()"
           "   WHERE tenant_id = $1 AND id = $2::uuid AND owner = $6::bigint RETURNING id)"
           " INSERT INTO message_events (tenant_id, message_id, status, detail)"
           " SELECT $1, id, 'queued', $5 FROM m",
    .nparams = 6,
    .writes = true};

//  Not yet: back to the queue until $3 (quiet hours, a contact not yet known).
static const crm_stmt_t s_defer = {
    .name = "sender_defer",
    .sql = "WITH m AS (UPDATE messages SET due_at = $3::timestamptz, owner = NULL,"
           "   updated_at = now()"
           "   WHERE tenant_id = $1 AND id = $2::uuid AND owner = $5::bigint RETURNING id)"
           " INSERT INTO message_events (tenant_id, message_id, status, detail)"
           " SELECT $1, id, 'queued', $4 FROM m WHERE $4 <> ''",
    .nparams = 5,
    .writes = true};

//  An outcome: the row ($3 its status; $8 when it is due again; $9 the line), and the
//  history entry ($10 its status: 'failed' for an attempt that will be retried).
static const crm_stmt_t s_outcome = {
    .name = "sender_outcome",
    .sql = "WITH m AS (UPDATE messages SET status = $3, reason = $4, detail = $5,"
           "   provider_id = CASE WHEN $6 = '' THEN provider_id ELSE $6 END,"
           "   segments = CASE WHEN $7::int > 0 THEN $7::int ELSE segments END,"
           "   sent_at = CASE WHEN $3 = 'sent' THEN now() ELSE sent_at END,"
           "   due_at = coalesce(nullif($8, '')::timestamptz, due_at), line = $9::int,"
           "   owner = NULL, updated_at = now()"
           "   WHERE tenant_id = $1 AND id = $2::uuid RETURNING id, sent_at),"
           " h AS (INSERT INTO message_events (tenant_id, message_id, status, reason, detail)"
           "   SELECT $1, id, $10, $4, $5 FROM m),"
           //  Its event, when it has one ($12 its type, '' for none), in the same statement.
           " ev AS (" CRM_OUTBOX_INSERT_SQL("$11", "$12", "$1", "$2", "$13", "$14",
                                            "m WHERE $12 <> ''") ")"
                                                                 " SELECT coalesce(" CRM_SQL_TS(
                                                                     "sent_at") ", '') FROM m",
    .nparams = 14,
    .writes = true};

//  SMS whose outcome is unknown, for a while (their callbacks had time to come).
static const crm_stmt_t s_unknown = {
    .name = "sender_unknown",
    .sql = "SELECT " CLAIM_COLUMNS " FROM messages m WHERE m.status = 'unknown'"
           " AND m.channel = 'sms' AND m.reason IN ('interrupted', 'ambiguous')"
           " AND m.updated_at < now() - make_interval(secs => $1::int / 1000.0)"
           " AND m.to_address <> '' ORDER BY m.updated_at LIMIT 20",
    .nparams = 1};

//  A resolved unknown SMS: $3 'sent' (the provider has it) or 'queued' (it does not: safe
//  to send again), still unknown when this runs.
static const crm_stmt_t s_resolve = {
    .name = "sender_resolve",
    .sql = "WITH m AS (UPDATE messages SET status = $3, owner = NULL, reason = '', detail = '',"
           "   provider_id = CASE WHEN $4 = '' THEN provider_id ELSE $4 END,"
           "   sent_at = CASE WHEN $3 = 'sent' THEN coalesce(attempted_at, now()) END,"
           "   due_at = now(), updated_at = now()"
           "   WHERE tenant_id = $1 AND id = $2::uuid AND status = 'unknown' RETURNING id),"
           " h AS (INSERT INTO message_events (tenant_id, message_id, status, detail)"
           "   SELECT $1, id, $3, $5 FROM m)"
           " SELECT count(*) FROM m",
    .nparams = 5,
    .writes = true};

static char *s_int_text(char *out, size_t size, long long value) {
    snprintf(out, size, "%lld", value);
    return out;
}

int notify_sender_store_lock(crm_db_t *db, int64_t owner) {
    char text[24];
    const char *params[] = {s_int_text(text, sizeof text, owner)};
    PGresult *res = crm_db_query(db, &s_lock, params);
    PQclear(res);
    return res ? 0 : -1;
}

int notify_sender_store_link_key(crm_db_t *db, const char *fresh_hex, char *hex, size_t size) {
    const char *params[] = {fresh_hex};
    if (crm_db_run(db, &s_key_init, params))
        return -1;
    PGresult *res = crm_db_query(db, &s_key, NULL);
    if (!res || PQntuples(res) != 1) {
        PQclear(res);
        return -1;
    }
    snprintf(hex, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

static void s_row(PGresult *res, int i, notify_claimed_t *m) {
    memset(m, 0, sizeof *m);
    m->tenant_id = strdup(PQgetvalue(res, i, 0));
    snprintf(m->id, sizeof m->id, "%s", PQgetvalue(res, i, 1));
    snprintf(m->contact_id, sizeof m->contact_id, "%s", PQgetvalue(res, i, 2));
    snprintf(m->lead_id, sizeof m->lead_id, "%s", PQgetvalue(res, i, 3));
    m->member_id = strdup(PQgetvalue(res, i, 4));
    snprintf(m->channel, sizeof m->channel, "%s", PQgetvalue(res, i, 5));
    snprintf(m->purpose, sizeof m->purpose, "%s", PQgetvalue(res, i, 6));
    snprintf(m->trigger, sizeof m->trigger, "%s", PQgetvalue(res, i, 7));
    snprintf(m->template_id, sizeof m->template_id, "%s", PQgetvalue(res, i, 8));
    m->context = strdup(PQgetvalue(res, i, 9));
    m->automated = PQgetvalue(res, i, 10)[0] == 't';
    m->rendered = PQgetvalue(res, i, 11)[0] == 't';
    m->to = strdup(PQgetvalue(res, i, 12));
    m->line = atoi(PQgetvalue(res, i, 13));
    m->subject = strdup(PQgetvalue(res, i, 14));
    m->body_text = strdup(PQgetvalue(res, i, 15));
    m->body_html = strdup(PQgetvalue(res, i, 16));
    m->attempts = atoi(PQgetvalue(res, i, 17));
    m->age_seconds = atoll(PQgetvalue(res, i, 18));
    m->links = strdup(PQgetvalue(res, i, 19));
    snprintf(m->attempted_at, sizeof m->attempted_at, "%s", PQgetvalue(res, i, 20));
}

void notify_claimed_reset(notify_claimed_t *m) {
    free(m->tenant_id);
    free(m->member_id);
    free(m->context);
    free(m->to);
    free(m->subject);
    free(m->body_text);
    free(m->body_html);
    free(m->links);
    memset(m, 0, sizeof *m);
}

static int s_rows(PGresult *res, notify_claimed_t **out) {
    int n = PQntuples(res);
    *out = calloc((size_t)n + 1, sizeof **out);
    for (int i = 0; i < n; i++)
        s_row(res, i, &(*out)[i]);
    return n;
}

int notify_sender_store_claim(crm_db_t *db, int64_t owner, const char *channel, int batch,
                              notify_claimed_t **out) {
    char owner_text[24], batch_text[16];
    const char *params[] = {s_int_text(owner_text, sizeof owner_text, owner), channel,
                            s_int_text(batch_text, sizeof batch_text, batch)};
    PGresult *res = crm_db_query(db, &s_claim, params);
    if (!res)
        return -1;
    int n = s_rows(res, out);
    PQclear(res);
    return n;
}

int notify_sender_store_unknown(crm_db_t *db, int grace_ms, notify_claimed_t **out) {
    char grace[16];
    const char *params[] = {s_int_text(grace, sizeof grace, grace_ms)};
    PGresult *res = crm_db_query(db, &s_unknown, params);
    if (!res)
        return -1;
    int n = s_rows(res, out);
    PQclear(res);
    return n;
}

int notify_sender_store_recover(crm_db_t *db, int64_t owner, const char *channel) {
    char owner_text[24];
    const char *params[] = {s_int_text(owner_text, sizeof owner_text, owner), channel};
    PGresult *res = crm_db_query(db, &s_owners, params);
    if (!res)
        return -1;
    int recovered = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *other[] = {PQgetvalue(res, i, 0)};
        PGresult *lock = crm_db_query(db, &s_try_lock, other);
        bool gone = lock && PQntuples(lock) == 1 && PQgetvalue(lock, 0, 0)[0] == 't';
        PQclear(lock);
        if (!gone)
            continue; // alive: its messages are its own
        if (crm_db_run(db, &s_recover, other) == 0)
            recovered++;
        PGresult *unlock = crm_db_query(db, &s_unlock, other);
        PQclear(unlock);
    }
    PQclear(res);
    return recovered;
}

int notify_sender_store_release(crm_db_t *db, int64_t owner) {
    char owner_text[24];
    const char *params[] = {s_int_text(owner_text, sizeof owner_text, owner)};
    return crm_db_run(db, &s_release, params);
}

int notify_sender_store_attempt(crm_db_t *db, int64_t owner, int cap, notify_claimed_t *m) {
    char owner_text[24], line[16], cap_text[16];
    const char *params[] = {m->tenant_id,
                            m->id,
                            m->to,
                            s_int_text(line, sizeof line, m->line),
                            m->subject,
                            m->body_text,
                            m->body_html,
                            m->links,
                            s_int_text(owner_text, sizeof owner_text, owner),
                            s_int_text(cap_text, sizeof cap_text, cap),
                            m->attempts == 0 ? "true" : "false"}; // a retry counts no more
    PGresult *res = crm_db_query(db, &s_attempt, params);
    if (!res || PQntuples(res) != 1) {
        PQclear(res);
        return -1;
    }
    int rc = PQgetvalue(res, 0, 0)[0] != 't' ? 2 : PQgetisnull(res, 0, 1) ? 1 : 0;
    if (rc == 0)
        m->attempts = atoi(PQgetvalue(res, 0, 1));
    PQclear(res);
    return rc;
}

int notify_sender_store_switch(crm_db_t *db, int64_t owner, const notify_claimed_t *m,
                               const char *channel, const char *context, const char *detail) {
    char owner_text[24];
    const char *params[] = {m->tenant_id, m->id,  channel,
                            context,      detail, s_int_text(owner_text, sizeof owner_text, owner)};
    return crm_db_run(db, &s_switch, params);
}

int notify_sender_store_defer(crm_db_t *db, int64_t owner, const notify_claimed_t *m,
                              const char *due_at, const char *detail) {
    char owner_text[24];
    const char *params[] = {m->tenant_id, m->id, due_at, detail ? detail : "",
                            s_int_text(owner_text, sizeof owner_text, owner)};
    return crm_db_run(db, &s_defer, params);
}

int notify_sender_store_outcome(crm_db_t *db, const notify_claimed_t *m, const notify_outcome_t *o,
                                const ProtobufCMessage *event) {
    char segments[16], line[16];
    const char *params[] = {m->tenant_id,
                            m->id,
                            o->status,
                            o->reason ? o->reason : "",
                            o->detail ? o->detail : "",
                            o->provider_id ? o->provider_id : "",
                            s_int_text(segments, sizeof segments, o->segments),
                            o->due_at ? o->due_at : "",
                            s_int_text(line, sizeof line, m->line),
                            o->history_status ? o->history_status : o->status};
    //  One statement, committed on its own: the outcome and its event together.
    crm_outbox_event_t ev;
    memset(&ev, 0, sizeof ev);
    if (event && crm_outbox_event_init(&ev, event, NULL))
        return -1;
    const char *with_event[] = {params[0],
                                params[1],
                                params[2],
                                params[3],
                                params[4],
                                params[5],
                                params[6],
                                params[7],
                                params[8],
                                params[9],
                                event ? ev.event_id : "00000000-0000-0000-0000-000000000000",
                                event ? ev.type : "",
                                event ? ev.payload_hex : "\\x",
                                event ? ev.occurred_at : "1970-01-01T00:00:00Z"};
    int rc = crm_db_run(db, &s_outcome, with_event);
    crm_outbox_event_reset(&ev);
    return rc;
}

int notify_sender_store_resolve(crm_db_t *db, const notify_claimed_t *m, const char *status,
                                const char *provider_id, const char *detail,
                                const ProtobufCMessage *event) {
    const char *params[] = {m->tenant_id, m->id, status, provider_id ? provider_id : "", detail};
    if (crm_db_begin(db))
        return -1;
    PGresult *res = crm_db_query(db, &s_resolve, params);
    int rc = res ? 0 : -1;
    bool changed = res && atoi(PQgetvalue(res, 0, 0)) > 0;
    PQclear(res);
    if (rc == 0 && changed && event) {
        crm_outbox_t *outbox = crm_outbox_new();
        crm_outbox_add(outbox, m->tenant_id, m->id, event, NULL);
        rc = crm_outbox_write(outbox, db);
        crm_outbox_destroy(&outbox);
    }
    if (rc == 0 && crm_db_commit(db) == 0)
        return changed ? 1 : 0;
    crm_db_rollback(db);
    return -1;
}
