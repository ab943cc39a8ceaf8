/*  erase: the right to be forgotten, asked for (POST /v1/contacts/{id}/erase) or due
    (the retention sweep: a contact whose retention period has passed with no activity).

    One transaction takes the person's data out of the contacts schema: the contact row
    keeps its id, kind, type, source, tags and times (what reports count) and loses the
    rest; its email keys, notes and their revisions, consents and communication history
    go; its audit trail keeps who changed which field when, not the values; stored
    replies that could be replayed (idempotency) go; and the payloads of its past events
    in the outbox are scrubbed (crm_pb_scrub) and written back, so a replay carries ids
    and types only. Then ContactErased tells every other service to forget its copies.
*/
#include "contacts.h"
#include "events.h"
#include "ids.h"
#include "log.h"
#include "scrub.h"

#include <stdlib.h>
#include <string.h>

#define RETENTION_BATCH 100

//  $1 tenant, $2 contact, $3 the time, $4 the actor. Answers the contact's kind when it
//  was erased now; no row when it is unknown or erased already.
static const crm_stmt_t s_erase = {
    .name = "erase_contact",
    .sql =
    "WITH c AS ("
    "  UPDATE contacts SET first_name = '', last_name = '', name = '', emails = '[]',"
    "    phones = '[]', profile = '{}', organization_id = NULL, assignee = '',"
    "    erased_at = $3::timestamptz, deleted_at = coalesce(deleted_at, $3::timestamptz),"
    "    updated_at = $3::timestamptz, updated_by = $4"
    "  WHERE tenant_id = $1 AND id = $2::uuid AND erased_at IS NULL RETURNING id, kind),"
    " keys AS (DELETE FROM contact_emails WHERE tenant_id = $1 AND contact_id = $2::uuid"
    "          AND EXISTS (SELECT 1 FROM c)),"
    " revisions AS (DELETE FROM note_revisions r USING notes n"
    "   WHERE n.tenant_id = $1 AND n.contact_id = $2::uuid AND r.tenant_id = n.tenant_id"
    "     AND r.note_id = n.id AND EXISTS (SELECT 1 FROM c)),"
    " gone_notes AS (DELETE FROM notes WHERE tenant_id = $1 AND contact_id = $2::uuid"
    "                AND EXISTS (SELECT 1 FROM c)),"
    " history AS (DELETE FROM communication_history WHERE tenant_id = $1"
    "             AND contact_id = $2::uuid AND EXISTS (SELECT 1 FROM c)),"
    " consent AS (DELETE FROM consents WHERE tenant_id = $1 AND contact_id = $2::uuid"
    "             AND EXISTS (SELECT 1 FROM c)),"
    " rules AS (DELETE FROM communication_rules WHERE tenant_id = $1 AND contact_id = $2::uuid"
    "           AND EXISTS (SELECT 1 FROM c)),"
    " trail AS ("
    "  UPDATE contact_audit SET changes = (SELECT coalesce(jsonb_object_agg(k,"
    "      CASE WHEN action = 'created'"
    "           THEN CASE WHEN v IN ('\"\"', '[]', '{}', 'false', 'null') THEN v"
    "                     ELSE '\"[erased]\"' END"
    "           ELSE jsonb_build_object("
    "             'old', CASE WHEN v->'old' IS NULL OR v->'old' = 'null'"
    "                         THEN v->'old' ELSE '\"[erased]\"' END,"
    "             'new', CASE WHEN v->'new' IS NULL OR v->'new' = 'null'"
    "                         THEN v->'new' ELSE '\"[erased]\"' END) END), '{}')"
    "    FROM jsonb_each(changes) AS e(k, v))"
    "  WHERE tenant_id = $1 AND contact_id = $2::uuid AND EXISTS (SELECT 1 FROM c)),"
    " replies AS (DELETE FROM idempotency WHERE tenant_id = $1"
    "             AND position(convert_to($2::uuid::text, 'UTF8') IN response) > 0"
    "             AND EXISTS (SELECT 1 FROM c)),"
    " unlinked AS ("
    "  UPDATE contacts p SET organization_id = NULL, profile = p.profile - 'organization',"
    "    updated_by = $4, updated_at = $3::timestamptz"
    "  FROM c WHERE c.kind = 'organization' AND p.tenant_id = $1 AND p.organization_id = c.id)"
    " SELECT kind FROM c",
    .nparams = 4,
    .writes = true};

//  The contact's past events: to scrub.
static const crm_stmt_t s_events = {
    .name = "erase_events",
    .sql = "SELECT xid::text, id, type, payload FROM outbox"
           " WHERE tenant_id = $1 AND aggregate_id = $2",
    .nparams = 2};

static const crm_stmt_t s_rewrite = {
    .name = "erase_rewrite",
    .sql = "UPDATE outbox o SET payload = v.p::bytea"
           " FROM unnest($1::text[], $2::bigint[], $3::text[]) AS v(x, i, p)"
           " WHERE o.xid = v.x::xid8 AND o.id = v.i",
    .nparams = 3,
    .writes = true};

//  Contacts of any tenant whose retention has passed with no activity since it began.
static const crm_stmt_t s_due = {
    .name = "erase_due",
    .sql = "SELECT r.tenant_id, r.contact_id::text FROM communication_rules r"
           " JOIN contacts c ON c.tenant_id = r.tenant_id AND c.id = r.contact_id"
           " WHERE r.retain_until < now() AND c.erased_at IS NULL"
           "   AND coalesce(c.last_activity_at, c.created_at)"
           "       < r.retain_until - make_interval(days => r.retention_days)"
           " ORDER BY r.retain_until LIMIT $1::int",
    .nparams = 1};

//  Hex of bytes as a bytea literal.
static char *s_bytea(const uint8_t *data, size_t size) {
    static const char digits[] = "0123456789abcdef";
    char *text = malloc(2 * size + 3);
    text[0] = '\\';
    text[1] = 'x';
    for (size_t i = 0; i < size; i++) {
        text[2 + 2 * i] = digits[data[i] >> 4];
        text[3 + 2 * i] = digits[data[i] & 15];
    }
    text[2 + 2 * size] = 0;
    return text;
}

//  Scrub the payloads of the contact's past events. 0 or -1.
static int s_scrub_events(crm_db_t *db, const char *tenant_id, const char *id) {
    const char *params[] = {tenant_id, id};
    PGresult *res = crm_db_query(db, &s_events, params);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    const char **xids = calloc(rows + 1, sizeof *xids), **ids = calloc(rows + 1, sizeof *ids);
    char **payloads = calloc(rows + 1, sizeof *payloads);
    size_t n = 0;
    for (int i = 0; i < rows; i++) {
        const ProtobufCMessageDescriptor *desc = crm_event_descriptor(PQgetvalue(res, i, 2));
        size_t size = 0;
        unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 3), &size);
        ProtobufCMessage *msg = desc && bytes ? protobuf_c_message_unpack(desc, NULL, size, bytes)
                                              : NULL;
        PQfreemem(bytes);
        if (!msg)
            continue;  // an event of a type this build does not know keeps no personal data
                       // we could recognise; it ages out with the outbox's retention
        crm_pb_scrub(msg);
        size = protobuf_c_message_get_packed_size(msg);
        uint8_t *packed = malloc(size ? size : 1);
        protobuf_c_message_pack(msg, packed);
        protobuf_c_message_free_unpacked(msg, NULL);
        xids[n] = PQgetvalue(res, i, 0);
        ids[n] = PQgetvalue(res, i, 1);
        payloads[n++] = s_bytea(packed, size);
        free(packed);
    }
    int rc = 0;
    if (n) {
        char *a = crm_db_text_array(xids, n), *b = crm_db_text_array(ids, n),
             *c = crm_db_text_array((const char *const *)payloads, n);
        const char *p[] = {a, b, c};
        PGresult *done = crm_db_query(db, &s_rewrite, p);
        rc = done ? 0 : -1;
        PQclear(done);
        free(a);
        free(b);
        free(c);
    }
    for (size_t i = 0; i < n; i++)
        free(payloads[i]);
    free(payloads);
    free(xids);
    free(ids);
    PQclear(res);
    return rc;
}

int contacts_erase(crm_db_t *db, const char *tenant_id, const char *id, const char *actor_id) {
    char now[40];
    crm_time_now(now, sizeof now);
    const char *params[] = {tenant_id, id, now, actor_id};
    PGresult *res = crm_db_query(db, &s_erase, params);
    if (!res)
        return -1;
    int erased = PQntuples(res);
    PQclear(res);
    if (!erased)
        return 0;
    if (s_scrub_events(db, tenant_id, id))
        return -1;
    //  Last, so its own payload is not scrubbed (it holds no personal data).
    Crm__Events__ContactErased event = CRM__EVENTS__CONTACT_ERASED__INIT;
    event.contact_id = (char *)id;
    event.erased_at = now;
    event.actor_id = (char *)actor_id;
    crm_stmt_t *stmt = crm_outbox_stmt_new("contacts");
    int rc = crm_outbox_write(db, stmt, tenant_id, id, &event.base);
    crm_outbox_stmt_free(&stmt);
    return rc ? -1 : 1;
}

int contacts_erase_due(crm_db_t *db, int *erased) {
    char limit[16];
    snprintf(limit, sizeof limit, "%d", RETENTION_BATCH);
    const char *params[] = {limit};
    PGresult *res = crm_db_query(db, &s_due, params);
    if (!res)
        return -1;
    int rc = 0;
    *erased = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        int one = contacts_erase(db, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                                 "system:retention");
        if (one < 0)
            rc = -1;
        else
            *erased += one;
    }
    PQclear(res);
    return rc;
}

int contacts_erase_method(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    (void)response;
    const Crm__Contacts__EraseContactRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such contact");
        return 404;
    }
    int rc = contacts_erase(call->db, call->header->tenant_id, req->id, call->header->actor_id);
    if (rc < 0)
        return crm_call_db_failure(call);
    if (rc == 0) {
        crm_call_error(call, "not_found", "no such contact, or erased already");
        return 404;
    }
    return 204;
}
