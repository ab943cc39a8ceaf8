/*  recipient_store: the SQL of notify's copy of the contacts (recipient.c makes a row
    from a Contact; follow.c calls these for the contacts events, inside the follower's
    transaction). A contact the projection has not seen yet is inserted by its first
    event; an erased one stays erased whatever comes later.
*/
#include "notify.h"
#include "ids.h"
#include "scrub.h"

#include <stdlib.h>
#include <string.h>

static const crm_stmt_t s_put = {
    .name = "recipients_put",
    .sql = "INSERT INTO recipients AS r (tenant_id, contact_id, first_name, last_name,"
           "  display_name, emails, phones, region, country, preferred)"
           " VALUES ($1, $2::uuid, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10)"
           " ON CONFLICT (tenant_id, contact_id) DO UPDATE SET first_name = $3,"
           "  last_name = $4, display_name = $5, emails = $6::jsonb, phones = $7::jsonb,"
           "  region = $8, country = $9, preferred = $10, updated_at = now()"
           " WHERE NOT r.erased",
    .nparams = 10,
    .writes = true};

static const crm_stmt_t s_deleted = {.name = "recipients_deleted",
                                     .sql =
                                         "UPDATE recipients SET deleted = true, updated_at = now()"
                                         " WHERE tenant_id = $1 AND contact_id = $2::uuid",
                                     .nparams = 2,
                                     .writes = true};

//  Erasure, in one statement: the copy emptied (the row stays, erased, so that no later
//  message goes), the numbers' opt-outs and the addresses' unsubscribes dropped (the
//  contact is gone: nothing more will be sent to it), every message's text, address and
//  context emptied, the history's callback parameters and the inbound texts too. The ids
//  of the events to scrub are returned: the messages', the inbound texts' (their
//  InboundReceived carries number and text) and the contact's own (its OptedOut carries
//  the number).
static const crm_stmt_t s_erase = {
    .name = "recipients_erase",
    .sql = "WITH old AS (SELECT emails, phones FROM recipients"
           "   WHERE tenant_id = $1 AND contact_id = $2::uuid),"
           " opt AS (DELETE FROM sms_opt_outs o USING old"
           "   WHERE o.tenant_id = $1 AND o.number IN"
           "     (SELECT p->>'number' FROM jsonb_array_elements(old.phones) p)),"
           " uns AS (DELETE FROM email_unsubscribes u USING old"
           "   WHERE u.tenant_id = $1 AND u.address IN"
           "     (SELECT lower(e->>'address') FROM jsonb_array_elements(old.emails) e)),"
           " rec AS (INSERT INTO recipients AS r (tenant_id, contact_id, erased)"
           "   VALUES ($1, $2::uuid, true) ON CONFLICT (tenant_id, contact_id) DO UPDATE SET"
           "   first_name = '', last_name = '', display_name = '', emails = '[]',"
           "   phones = '[]', region = '', country = '', preferred = '', consents = '{}',"
           "   erased = true, updated_at = now()),"
           " inb AS (UPDATE inbound_messages SET body = '', from_number = ''"
           "   WHERE tenant_id = $1 AND contact_id = $2::uuid RETURNING id),"
           " msg AS (UPDATE messages SET to_address = '', subject = '', body_text = '',"
           "   body_html = '', context = '{}', links = '[]', detail = '',"
           "   status = CASE WHEN status = 'queued' THEN 'suppressed' ELSE status END,"
           "   reason = CASE WHEN status = 'queued' THEN 'erased' ELSE reason END,"
           "   updated_at = now()"
           "   WHERE tenant_id = $1 AND contact_id = $2::uuid RETURNING id),"
           " hist AS (UPDATE message_events e SET data = NULL, detail = ''"
           "   FROM msg WHERE e.tenant_id = $1 AND e.message_id = msg.id)"
           " SELECT id::text FROM msg UNION ALL SELECT id::text FROM inb"
           " UNION ALL SELECT $2::uuid::text",
    .nparams = 2,
    .writes = true};

//  $1 tenant, $2 survivor, $3 merged ids, $4 the merge ("": an event from before merges
//  had ids): the merged contacts' copies gone, their messages and inbound texts the
//  survivor's, each remembered with the contact it had (merge_repoints) for the undo.
static const crm_stmt_t s_merged = {
    .name = "recipients_merged",
    .sql = "WITH gone AS (UPDATE recipients SET deleted = true, updated_at = now()"
           "   WHERE tenant_id = $1 AND contact_id = ANY ($3::uuid[])),"
           " msg AS (SELECT id, contact_id FROM messages"
           "   WHERE tenant_id = $1 AND contact_id = ANY ($3::uuid[]) FOR UPDATE),"
           " inb AS (SELECT id, contact_id FROM inbound_messages"
           "   WHERE tenant_id = $1 AND contact_id = ANY ($3::uuid[]) FOR UPDATE),"
           " msg_moved AS (UPDATE messages m SET contact_id = $2::uuid, updated_at = now()"
           "   FROM msg WHERE m.tenant_id = $1 AND m.id = msg.id),"
           " inb_moved AS (UPDATE inbound_messages i SET contact_id = $2::uuid"
           "   FROM inb WHERE i.tenant_id = $1 AND i.id = inb.id)"
           " INSERT INTO merge_repoints (tenant_id, merge_id, kind, item_id, contact_id)"
           " SELECT $1, nullif($4, '')::uuid, 'message', id, contact_id FROM msg"
           "   WHERE nullif($4, '') IS NOT NULL"
           " UNION ALL"
           " SELECT $1, nullif($4, '')::uuid, 'inbound', id, contact_id FROM inb"
           "   WHERE nullif($4, '') IS NOT NULL"
           " ON CONFLICT DO NOTHING",
    .nparams = 4,
    .writes = true};

//  $1 tenant, $2 the merge, $3 its survivor, $4 the restored contacts: their copies back
//  (their events bring them up to date), the messages and inbound texts the merge
//  re-pointed and still the survivor's back to the contacts they had.
static const crm_stmt_t s_unmerged = {
    .name = "recipients_unmerged",
    .sql = "WITH back AS (UPDATE recipients SET deleted = false, updated_at = now()"
           "   WHERE tenant_id = $1 AND contact_id = ANY ($4::uuid[]) AND NOT erased),"
           " msg AS (UPDATE messages m SET contact_id = r.contact_id, updated_at = now()"
           "   FROM merge_repoints r WHERE r.tenant_id = $1 AND r.merge_id = $2::uuid"
           "   AND r.kind = 'message' AND m.tenant_id = $1 AND m.id = r.item_id"
           "   AND m.contact_id = $3::uuid)"
           " UPDATE inbound_messages i SET contact_id = r.contact_id"
           " FROM merge_repoints r WHERE r.tenant_id = $1 AND r.merge_id = $2::uuid"
           " AND r.kind = 'inbound' AND i.tenant_id = $1 AND i.id = r.item_id"
           " AND i.contact_id = $3::uuid",
    .nparams = 4,
    .writes = true};

static const crm_stmt_t s_consent = {
    .name = "recipients_consent",
    .sql = "UPDATE recipients SET consents = consents || jsonb_build_object($3::text, $4::text),"
           " updated_at = now() WHERE tenant_id = $1 AND contact_id = $2::uuid AND NOT erased",
    .nparams = 4,
    .writes = true};

static const crm_stmt_t s_rules = {
    .name = "recipients_rules",
    .sql = "UPDATE recipients SET dnc_call = $3, dnc_email = $4, dnc_sms = $5, dnc_mail = $6,"
           " stop_follow_ups = $7, updated_at = now()"
           " WHERE tenant_id = $1 AND contact_id = $2::uuid AND NOT erased",
    .nparams = 7,
    .writes = true};

int notify_recipient_store_put(crm_db_t *db, const char *tenant_id,
                               const notify_recipient_row_t *row) {
    if (!crm_uuid_valid(row->contact_id))
        return 0;
    const char *params[] = {tenant_id,         row->contact_id,  row->first_name,  row->last_name,
                            row->display_name, row->emails_json, row->phones_json, row->region,
                            row->country,      row->preferred};
    return crm_db_run(db, &s_put, params);
}

int notify_recipient_store_deleted(crm_db_t *db, const char *tenant_id, const char *contact_id) {
    if (!crm_uuid_valid(contact_id))
        return 0;
    const char *params[] = {tenant_id, contact_id};
    return crm_db_run(db, &s_deleted, params);
}

int notify_recipient_store_erase(crm_db_t *db, const char *tenant_id, const char *contact_id) {
    if (!crm_uuid_valid(contact_id))
        return 0;
    const char *params[] = {tenant_id, contact_id};
    PGresult *res = crm_db_query(db, &s_erase, params);
    if (!res)
        return -1;
    int n = PQntuples(res);
    const char **ids = calloc((size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++)
        ids[i] = PQgetvalue(res, i, 0);
    int rc = n ? crm_outbox_scrub(db, tenant_id, ids, (size_t)n) : 0;
    free(ids);
    PQclear(res);
    return rc;
}

//  The valid ids of ids[0..n) as a text array (caller frees), or NULL when none is.
static char *s_valid_ids(const char *const *ids, size_t n) {
    const char **valid = calloc(n + 1, sizeof *valid);
    size_t n_valid = 0;
    for (size_t i = 0; i < n; i++)
        if (crm_uuid_valid(ids[i]))
            valid[n_valid++] = ids[i];
    char *array = n_valid ? crm_db_text_array(valid, n_valid) : NULL;
    free(valid);
    return array;
}

int notify_recipient_store_unmerged(crm_db_t *db, const char *tenant_id, const char *merge_id,
                                    const char *survivor, const char *const *restored_ids,
                                    size_t n) {
    if (!crm_uuid_valid(merge_id) || !crm_uuid_valid(survivor))
        return 0;
    char *array = s_valid_ids(restored_ids, n);
    const char *params[] = {tenant_id, merge_id, survivor, array ? array : "{}"};
    int rc = crm_db_run(db, &s_unmerged, params);
    free(array);
    return rc;
}

int notify_recipient_store_merged(crm_db_t *db, const char *tenant_id, const char *survivor,
                                  const char *const *merged_ids, size_t n,
                                  const char *merge_id) {
    if (!crm_uuid_valid(survivor))
        return 0;
    const char **ids = calloc(n + 1, sizeof *ids);
    size_t n_ids = 0;
    for (size_t i = 0; i < n; i++)
        if (crm_uuid_valid(merged_ids[i]))
            ids[n_ids++] = merged_ids[i];
    int rc = 0;
    if (n_ids) {
        char *array = crm_db_text_array(ids, n_ids);
        const char *merge = merge_id && crm_uuid_valid(merge_id) ? merge_id : "";
        const char *params[] = {tenant_id, survivor, array, merge};
        rc = crm_db_run(db, &s_merged, params);
        free(array);
    }
    free(ids);
    return rc;
}

int notify_recipient_store_consent(crm_db_t *db, const char *tenant_id, const char *contact_id,
                                   const char *channel, const char *purpose, const char *status) {
    if (!crm_uuid_valid(contact_id))
        return 0;
    char key[64];
    snprintf(key, sizeof key, "%s:%s", channel, purpose);
    const char *params[] = {tenant_id, contact_id, key, status};
    return crm_db_run(db, &s_consent, params);
}

int notify_recipient_store_rules(crm_db_t *db, const char *tenant_id, const char *contact_id,
                                 bool dnc_call, bool dnc_email, bool dnc_sms, bool dnc_mail,
                                 bool stop_follow_ups) {
    if (!crm_uuid_valid(contact_id))
        return 0;
    const char *params[] = {tenant_id,
                            contact_id,
                            dnc_call ? "true" : "false",
                            dnc_email ? "true" : "false",
                            dnc_sms ? "true" : "false",
                            dnc_mail ? "true" : "false",
                            stop_follow_ups ? "true" : "false"};
    return crm_db_run(db, &s_rules, params);
}
