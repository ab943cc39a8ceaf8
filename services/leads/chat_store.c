/*  chat_store: the SQL of the chats that became leads (chats: a chat id of the tenant,
    the lead and the activity it made, its contact and how it was found). A chat id is
    claimed in the transaction that creates its lead, so a chat delivered twice makes one
    lead. chat.c holds the rules, chat_methods.c the method.
*/
#include "leads.h"

#include <stdio.h>

//  $1 tenant, $2 chat id: what a chat made.
static const crm_stmt_t s_seen = {
    .name = "chat_seen",
    .sql = "SELECT lead_id::text, coalesce(activity_id::text, '') FROM chats"
           " WHERE tenant_id = $1 AND chat_id = $2",
    .nparams = 2};

//  Claim the chat id for the lead about to be made: one row when it is ours (a claim
//  made at the same moment by another request waits for it and then finds none).
static const crm_stmt_t s_claim = {
    .name = "chat_claim",
    .sql = "INSERT INTO chats (tenant_id, chat_id, lead_id, contact_id, contact_created,"
           "  matched_on)"
           " VALUES ($1, $2, $3::uuid, $4::uuid, $5::boolean, $6)"
           " ON CONFLICT (tenant_id, chat_id) DO NOTHING RETURNING 1",
    .nparams = 6,
    .writes = true};

static const crm_stmt_t s_activity = {
    .name = "chat_activity",
    .sql = "UPDATE chats SET activity_id = $3::uuid WHERE tenant_id = $1 AND chat_id = $2",
    .nparams = 3,
    .writes = true};

int leads_chat_store_seen(crm_call_t *call, const char *chat_id, char lead_id[40],
                          char activity_id[40]) {
    lead_id[0] = activity_id[0] = 0;
    const char *params[] = {call->header->tenant_id, chat_id};
    PGresult *res = crm_db_query(call->db, &s_seen, params);
    if (!res)
        return crm_call_db_failure(call);
    if (PQntuples(res) == 1) {
        snprintf(lead_id, 40, "%s", PQgetvalue(res, 0, 0));
        snprintf(activity_id, 40, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return 0;
}

int leads_chat_store_claim(crm_call_t *call, const char *chat_id, const char *lead_id,
                           const char *contact_id, bool contact_created, const char *matched_on,
                           bool *claimed) {
    const char *params[] = {call->header->tenant_id, chat_id, lead_id, contact_id,
                            contact_created ? "true" : "false", matched_on};
    PGresult *res = crm_db_query(call->db, &s_claim, params);
    if (!res)
        return crm_call_db_failure(call);
    *claimed = PQntuples(res) > 0;
    PQclear(res);
    return 0;
}

int leads_chat_store_activity(crm_call_t *call, const char *chat_id, const char *activity_id) {
    const char *params[] = {call->header->tenant_id, chat_id, activity_id};
    PGresult *res = crm_db_query(call->db, &s_activity, params);
    if (!res)
        return crm_call_db_failure(call);
    PQclear(res);
    return 0;
}
