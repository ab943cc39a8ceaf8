/*  erase_store: the SQL of the right to be forgotten (erase.c holds the rules,
    erase_methods.c the method and the retention sweep's step), asked for
    (POST /v1/contacts/{id}/erase) or due (the retention sweep: a contact whose
    retention period has passed with no activity).

    One transaction takes the person's data out of the contacts schema: the contact row
    keeps its id, kind, type, source, tags and times (what reports count) and loses the
    rest; its email keys, notes and their revisions, consents and communication history
    go; its audit trail keeps who changed which field when, not the values; stored
    replies that could be replayed (idempotency) go; and the payloads of its past events
    in the outbox are scrubbed (crm_pb_scrub) and written back, so a replay carries ids
    and types only; exports that may hold the person (every export of the tenant asked
    for since the contact was created and not yet expired: an export's file is CSV or
    zipped XLSX, and which contacts it wrote is not kept) lose their parts and read
    "expired", a running one fails ("export again"). Then ContactErased tells every
    other service to forget its copies.
*/
#include "contacts.h"
#include "outbox.h"
#include "ids.h"
#include "log.h"
#include "scrub.h"

#include <stdlib.h>
#include <string.h>

#define RETENTION_BATCH 100 // contacts erased per transaction of the sweep

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

//  $1 tenant, $2 contact: the exports that may hold it lose their files (see above).
static const crm_stmt_t s_erase_exports = {
    .name = "erase_exports",
    .sql =
    "WITH hit AS ("
    "  SELECT x.tenant_id, x.id FROM exports x"
    "  JOIN jobs j ON j.tenant_id = x.tenant_id AND j.id = x.id"
    "  WHERE x.tenant_id = $1 AND NOT x.expired"
    "    AND j.created_at >= (SELECT created_at FROM contacts"
    "                         WHERE tenant_id = $1 AND id = $2::uuid)"
    "  FOR UPDATE OF x),"
    " parts AS (DELETE FROM export_parts p USING hit"
    "           WHERE p.tenant_id = hit.tenant_id AND p.export_id = hit.id),"
    " items AS (DELETE FROM job_items i USING hit"
    "           WHERE i.tenant_id = hit.tenant_id AND i.job_id = hit.id),"
    " stopped AS ("
    "  UPDATE jobs j SET status = 'failed', finished_at = now(),"
    "    errors = errors || jsonb_build_array(jsonb_build_object('message',"
    "      'a contact in it was erased: export again'))"
    "  FROM hit WHERE j.tenant_id = hit.tenant_id AND j.id = hit.id"
    "    AND j.status IN ('queued', 'running'))"
    " UPDATE exports x SET expired = true, expires_at = coalesce(x.expires_at, now())"
    " FROM hit WHERE x.tenant_id = hit.tenant_id AND x.id = hit.id",
    .nparams = 2,
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
    const char *aggregates[] = {id};
    if (crm_outbox_scrub(db, tenant_id, aggregates, 1))
        return -1;
    const char *export_params[] = {tenant_id, id};
    res = crm_db_query(db, &s_erase_exports, export_params);
    if (!res)
        return -1;
    PQclear(res);
    //  Last, so its own payload is not scrubbed (it holds no personal data).
    Crm__Events__ContactErased event = CRM__EVENTS__CONTACT_ERASED__INIT;
    event.contact_id = (char *)id;
    event.erased_at = now;
    event.actor_id = (char *)actor_id;
    crm_outbox_t *outbox = crm_outbox_new();
    int rc = crm_outbox_add(outbox, tenant_id, id, &event.base, NULL);
    if (rc == 0)
        rc = crm_outbox_write(outbox, db);
    crm_outbox_destroy(&outbox);
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
                                 CONTACTS_RETENTION_ACTOR);
        if (one < 0)
            rc = -1;
        else
            *erased += one;
    }
    PQclear(res);
    return rc;
}
