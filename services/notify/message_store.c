/*  message_store: the SQL of messages as the API and the triggers see them: queueing one
    (with its key, its first history entry and its NotificationQueued event, in the
    caller's transaction), reading one with its history, listing, a manager's retry, and
    the member a mention alert's handle names once the sender has found it.
    The senders' statements (claim, send, result, recovery) are in sender_store.c and the
    webhooks' in webhook_store.c.
*/
#include "notify.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "rows.h"

#include <stdlib.h>
#include <string.h>

#define TS_OR_EMPTY(col) "coalesce(" CRM_SQL_TS(col) ", '')"

//  A message in the API's shape (Message), history left out.
#define MESSAGE_JSON                                                                                                                            \
    "jsonb_build_object('id', m.id, 'contactId', coalesce(m.contact_id::text, ''),"                                                             \
    " 'leadId', coalesce(m.lead_id::text, ''), 'memberId', m.member_id, 'channel', m.channel,"                                                  \
    " 'purpose', m.purpose, 'trigger', m.trigger,"                                                                                              \
    " 'templateId', coalesce(m.template_id::text, ''), 'subject', m.subject,"                                                                   \
    " 'bodyText', m.body_text, 'bodyHtml', m.body_html, 'status', m.status,"                                                                    \
    " 'reason', m.reason, 'to', m.to_address, 'attempts', m.attempts,"                                                                          \
    " 'dueAt', " CRM_SQL_TS("m.due_at") ", 'sentAt', " TS_OR_EMPTY(                                                                             \
        "m.sent_at") ","                                                                                                                        \
                     " 'deliveredAt', " TS_OR_EMPTY("m.delivered_at") ","                                                                       \
                                                                      " 'openedAt', " TS_OR_EMPTY("m.opened_at") ", 'clickedAt', " TS_OR_EMPTY( \
                                                                          "m.clicked_at") ","                                                   \
                                                                                          " '"                                                  \
                                                                                          "segmen"                                              \
                                                                                          "ts', "                                               \
                                                                                          "m."                                                  \
                                                                                          "segmen"                                              \
                                                                                          "ts, "                                                \
                                                                                          "'provi"                                              \
                                                                                          "derId'"                                              \
                                                                                          ", "                                                  \
                                                                                          "m."                                                  \
                                                                                          "provid"                                              \
                                                                                          "er_id,"                                              \
                                                                                          " '"                                                  \
                                                                                          "create"                                              \
                                                                                          "dAt',"                                               \
                                                                                          " " CRM_SQL_TS(                                       \
                                                                                              "m."                                              \
                                                                                              "cr"                                              \
                                                                                              "ea"                                              \
                                                                                              "te"                                              \
                                                                                              "d_"                                              \
                                                                                              "a"                                               \
                                                                                              "t") ", 'createdBy', m.created_by)"

//  Its history, oldest first.
#define HISTORY_JSON                                                                               \
    "(SELECT coalesce(jsonb_agg(jsonb_build_object('status', e.status,"                            \
    " 'at', " CRM_SQL_TS(                                                                          \
        "e.at") ", 'reason', e.reason, 'detail', e.detail,"                                        \
                " 'machine', e.machine) ORDER BY e.seq), '[]') FROM message_events e"              \
                " WHERE e.tenant_id = m.tenant_id AND e.message_id = m.id)"

//  Queue one message: the row, its history's first entry; the key makes a second
//  queueing of the same message a no-op (no row returned).
static const crm_stmt_t s_enqueue = {
    .name = "messages_enqueue",
    .sql = "WITH m AS (INSERT INTO messages (tenant_id, id, key, contact_id, lead_id, member_id,"
           "   channel, purpose, trigger, template_id, context, automated, rendered, subject,"
           "   body_text, body_html, status, due_at, created_by, campaign_id)"
           " VALUES ($1, $2::uuid, $3, nullif($4, '')::uuid, nullif($5, '')::uuid, $6, $7, $8,"
           "   $9, nullif($10, '')::uuid, $11::jsonb, $12::boolean, $13::boolean, $14, $15, $16,"
           "   'queued', coalesce(nullif($17, '')::timestamptz, now()), $18,"
           "   nullif($19, '')::uuid)"
           " ON CONFLICT (tenant_id, key) DO NOTHING RETURNING id, due_at),"
           " h AS (INSERT INTO message_events (tenant_id, message_id, status)"
           "   SELECT $1, id, 'queued' FROM m)"
           " SELECT " CRM_SQL_TS("due_at") " FROM m",
    .nparams = 19,
    .writes = true};

static const crm_stmt_t s_get = {
    .name = "messages_get",
    .sql = "SELECT (" MESSAGE_JSON " || jsonb_build_object('history', " HISTORY_JSON "))::text"
           " FROM messages m WHERE m.tenant_id = $1 AND m.id = $2::uuid",
    .nparams = 2};

//  Newest first, after the cursor's id ($2, '' for the first page); filters '' for any.
static const crm_stmt_t s_list = {
    .name = "messages_list",
    .sql = "SELECT " MESSAGE_JSON "::text, m.id::text FROM messages m WHERE m.tenant_id = $1"
           " AND ($2 = '' OR m.id < nullif($2, '')::uuid)"
           " AND ($3 = '' OR m.contact_id = nullif($3, '')::uuid)"
           " AND ($4 = '' OR m.lead_id = nullif($4, '')::uuid)"
           " AND ($5 = '' OR m.status = $5) AND ($6 = '' OR m.channel = $6)"
           " ORDER BY m.id DESC LIMIT $7::int",
    .nparams = 7};

//  A manager's retry: a dead, failed or unknown message queued again now, its
//  attempts counted from zero.
static const crm_stmt_t s_retry = {
    .name = "messages_retry",
    .sql = "WITH m AS (UPDATE messages SET status = 'queued', attempts = 0, due_at = now(),"
           "   owner = NULL, reason = '', detail = '', updated_at = now()"
           " WHERE tenant_id = $1 AND id = $2::uuid AND status IN ('dead', 'failed', 'unknown')"
           " RETURNING id),"
           " h AS (INSERT INTO message_events (tenant_id, message_id, status, detail)"
           "   SELECT $1, id, 'retried', 'by ' || $3 FROM m)"
           " SELECT count(*) FROM m",
    .nparams = 3,
    .writes = true};

static const crm_stmt_t s_status_of = {
    .name = "messages_status_of",
    .sql = "SELECT status FROM messages WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 2};

//  A mention alert's member, found by its handle when the alert is sent (sender.c).
static const crm_stmt_t s_member = {
    .name = "messages_member",
    .sql = "UPDATE messages SET member_id = $3, updated_at = now()"
           " WHERE tenant_id = $1 AND id = $2::uuid AND member_id LIKE '@%'",
    .nparams = 3,
    .writes = true};

void notify_ref_set(Crm__Events__NotificationRef *ref, const char *id, const char *contact_id,
                    const char *lead_id, const char *member_id, const char *channel,
                    const char *purpose, const char *trigger, const char *template_id) {
    crm__events__notification_ref__init(ref);
    ref->message_id = (char *)id;
    ref->contact_id = (char *)(contact_id ? contact_id : "");
    ref->lead_id = (char *)(lead_id ? lead_id : "");
    ref->member_id = (char *)(member_id ? member_id : "");
    ref->channel = (char *)channel;
    ref->purpose = (char *)purpose;
    ref->trigger = (char *)trigger;
    ref->template_id = (char *)(template_id ? template_id : "");
}

int notify_message_store_enqueue(crm_db_t *db, crm_outbox_t *outbox, const notify_enqueue_t *e,
                                 char id[CRM_UUID_LEN + 1]) {
    crm_uuid_v7(id);
    const char *params[] = {e->tenant_id,
                            id,
                            e->key,
                            e->contact_id ? e->contact_id : "",
                            e->lead_id ? e->lead_id : "",
                            e->member_id ? e->member_id : "",
                            e->channel,
                            e->purpose,
                            e->trigger,
                            e->template_id ? e->template_id : "",
                            e->context_json ? e->context_json : "{}",
                            e->automated ? "true" : "false",
                            e->rendered ? "true" : "false",
                            e->subject ? e->subject : "",
                            e->body_text ? e->body_text : "",
                            e->body_html ? e->body_html : "",
                            e->due_at ? e->due_at : "",
                            e->created_by,
                            e->campaign_id ? e->campaign_id : ""};
    PGresult *res = crm_db_query(db, &s_enqueue, params);
    if (!res)
        return -1;
    int queued = PQntuples(res);
    if (queued) {
        Crm__Events__NotificationQueued event = CRM__EVENTS__NOTIFICATION_QUEUED__INIT;
        Crm__Events__NotificationRef ref;
        notify_ref_set(&ref, id, e->contact_id, e->lead_id, e->member_id, e->channel, e->purpose,
                       e->trigger, e->template_id);
        event.ref = &ref;
        event.due_at = PQgetvalue(res, 0, 0);
        crm_outbox_add(outbox, e->tenant_id, id, &event.base, NULL);
    }
    PQclear(res);
    return queued;
}

int notify_message_store_get(crm_call_t *call, const char *id, Crm__Notify__Message **out) {
    const char *params[] = {call->header->tenant_id, id};
    return crm_row_read_one(call, &s_get, params, &crm__notify__message__descriptor, "message",
                            (ProtobufCMessage **)out);
}

int notify_message_store_list(crm_call_t *call, const notify_message_filter_t *filter, int limit,
                              Crm__Notify__ListMessagesResponse **out) {
    char rows_text[16];
    snprintf(rows_text, sizeof rows_text, "%d", limit + 1); // one more: is there a next page?
    const char *params[] = {
        call->header->tenant_id, filter->after_id, filter->contact_id, filter->lead_id,
        filter->status,          filter->channel,  rows_text};
    PGresult *res = crm_db_query(call->db, &s_list, params);
    if (!res)
        return crm_call_db_failure(call);
    Crm__Notify__ListMessagesResponse *list = malloc(sizeof *list);
    crm__notify__list_messages_response__init(list);
    int code = crm_rows_into(call, res, limit, &list->base, "items", "message");
    if (code == 0 && PQntuples(res) > limit && list->n_items > 0)
        crm_pb_string_set(&list->next_cursor, PQgetvalue(res, (int)list->n_items - 1, 1));
    PQclear(res);
    if (code) {
        crm__notify__list_messages_response__free_unpacked(list, NULL);
        return code;
    }
    *out = list;
    return 200;
}

int notify_message_store_retry(crm_call_t *call, const char *id) {
    const char *params[] = {call->header->tenant_id, id, call->header->actor_id};
    PGresult *res = crm_db_query(call->db, &s_retry, params);
    if (!res)
        return crm_call_db_failure(call);
    bool retried = atoi(PQgetvalue(res, 0, 0)) > 0;
    PQclear(res);
    if (retried)
        return 0;
    const char *of[] = {call->header->tenant_id, id};
    res = crm_db_query(call->db, &s_status_of, of);
    if (!res)
        return crm_call_db_failure(call);
    int code = 404;
    if (PQntuples(res)) {
        crm_call_error(call, "not_retryable",
                       "only a dead, failed or unknown message can be retried; this one is %s",
                       PQgetvalue(res, 0, 0));
        code = 409;
    } else
        crm_call_error(call, "not_found", "no such message");
    PQclear(res);
    return code;
}

int notify_message_store_member(crm_db_t *db, const char *tenant_id, const char *id,
                                const char *member_id) {
    const char *params[] = {tenant_id, id, member_id};
    return crm_db_run(db, &s_member, params);
}
