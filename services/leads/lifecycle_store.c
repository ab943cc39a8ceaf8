/*  lifecycle_store: the SQL of following the contacts service (lifecycle.c): which ids
    are live contacts (contact_ids), a merge re-pointing leads with their LeadUpdated
    events (through the outbox writer), an erasure scrubbing a contact's leads. */
#include "leads.h"
#include "follower.h"
#include "events.pb-c.h"
#include "ids.h"
#include "log.h"
#include "bus_client.h"
#include "contacts.pb-c.h"
#include "scrub.h"

#include <stdlib.h>
#include <string.h>

//  $1 tenant, $2 survivor, $3 the merged ids, $4 the time, $5 the actor, $6 the merge
//  ("": an event from before merges had ids). Each lead re-pointed is remembered with its
//  contact before (merge_repoints), for the undo. The live leads re-pointed, as LEAD_JSON.
static const crm_stmt_t s_merge = {
    .name = "lifecycle_merge",
    .sql = "WITH old AS (SELECT id, contact_id FROM leads"
           "  WHERE tenant_id = $1 AND contact_id = ANY($3::uuid[]) AND contact_id <> $2::uuid"
           "  FOR UPDATE),"
           " moved AS ("
           "  UPDATE leads l SET contact_id = $2::uuid,"
           "    updated_at = CASE WHEN l.deleted_at IS NULL THEN $4::timestamptz"
           "                      ELSE l.updated_at END,"
           "    updated_by = CASE WHEN l.deleted_at IS NULL THEN $5 ELSE l.updated_by END"
           "  FROM old o WHERE l.tenant_id = $1 AND l.id = o.id"
           "  RETURNING l.*),"
           " remembered AS (INSERT INTO merge_repoints (tenant_id, merge_id, lead_id, contact_id)"
           "  SELECT $1, nullif($6, '')::uuid, o.id, o.contact_id FROM old o"
           "  WHERE nullif($6, '') IS NOT NULL ON CONFLICT DO NOTHING)"
           " SELECT l.id::text, " LEAD_JSON("l") " FROM moved l WHERE l.deleted_at IS NULL",
    .nparams = 6,
    .writes = true};

//  $1 tenant, $2 the merge, $3 its survivor, $4 the time, $5 the actor: the leads the
//  merge re-pointed and still the survivor's, back to their contacts. The live ones, as
//  LEAD_JSON.
static const crm_stmt_t s_unmerge = {
    .name = "lifecycle_unmerge",
    .sql = "WITH back AS ("
           "  UPDATE leads l SET contact_id = r.contact_id,"
           "    updated_at = CASE WHEN l.deleted_at IS NULL THEN $4::timestamptz"
           "                      ELSE l.updated_at END,"
           "    updated_by = CASE WHEN l.deleted_at IS NULL THEN $5 ELSE l.updated_by END"
           "  FROM merge_repoints r"
           "  WHERE r.tenant_id = $1 AND r.merge_id = $2::uuid AND l.tenant_id = $1"
           "    AND l.id = r.lead_id AND l.contact_id = $3::uuid"
           "  RETURNING l.*)"
           " SELECT l.id::text, " LEAD_JSON("l") " FROM back l WHERE l.deleted_at IS NULL",
    .nparams = 5,
    .writes = true};

//  $1 tenant, $2 the restored contacts: live contacts again.
static const crm_stmt_t s_restored = {
    .name = "lifecycle_restored",
    .sql = "INSERT INTO contact_ids (tenant_id, contact_id, deleted)"
           " SELECT $1, c, false FROM unnest($2::uuid[]) c"
           " ON CONFLICT (tenant_id, contact_id) DO UPDATE SET deleted = false",
    .nparams = 2,
    .writes = true};

//  $1 tenant, $2 the contact, $3 the time. The contact's leads (ids), each scrubbed.
static const crm_stmt_t s_erase = {
    .name = "lifecycle_erase",
    .sql = "WITH l AS ("
           "  UPDATE leads SET custom_fields = '{}', vehicle = vehicle - 'vin', postcode = '',"
           "    won = CASE WHEN won IS NULL THEN NULL"
           "               ELSE won #- '{vehicleSold,vin}' #- '{tradeIn,vin}' END,"
           "    lost = CASE WHEN lost IS NULL THEN NULL ELSE lost - 'reasonText' END,"
           "    contact_erased_at = $3::timestamptz"
           "  WHERE tenant_id = $1 AND contact_id = $2::uuid RETURNING id),"
           " acts AS ("
           "  UPDATE activities a SET details = jsonb_strip_nulls(jsonb_build_object("
           "    'direction', a.details->'direction', 'fromStage', a.details->'fromStage',"
           "    'toStage', a.details->'toStage', 'vehicle', (a.details->'vehicle') - 'vin'))"
           "  FROM l WHERE a.tenant_id = $1 AND a.lead_id = l.id),"
           " assigned AS ("
           "  UPDATE assignment_history a SET note = '' FROM l"
           "  WHERE a.tenant_id = $1 AND a.lead_id = l.id AND a.note <> ''),"
           " reminders AS ("
           "  UPDATE follow_ups f SET note = '' FROM l"
           "  WHERE f.tenant_id = $1 AND f.lead_id = l.id AND f.note <> ''),"
           " notes AS ("
           "  UPDATE stage_history h SET note = '' FROM l"
           "  WHERE h.tenant_id = $1 AND h.lead_id = l.id AND h.note <> ''),"
           " replies AS ("
           "  DELETE FROM idempotency WHERE tenant_id = $1"
           "    AND position(convert_to($2::uuid::text, 'UTF8') IN response) > 0)"
           " SELECT id::text FROM l",
    .nparams = 3,
    .writes = true};

//  $1 tenant, $2 the contacts' ids, $3 deleted: a created contact is live (unless its
//  deletion came first, which an event order cannot do but an answer of the contacts
//  service can race); a deleted, erased or merged-away one is gone for good.
static const crm_stmt_t s_contact_ids = {
    .name = "lifecycle_contact_ids",
    .sql = "INSERT INTO contact_ids (tenant_id, contact_id, deleted)"
           " SELECT $1, c, $3::boolean FROM unnest($2::uuid[]) c"
           " ON CONFLICT (tenant_id, contact_id) DO UPDATE SET deleted = true"
           " WHERE excluded.deleted",
    .nparams = 3,
    .writes = true};

int leads_contact_ids_note(crm_db_t *db, const char *tenant_id, const char *const *ids, size_t n,
                           bool deleted) {
    const char **valid = calloc(n + 1, sizeof *valid);
    size_t n_valid = 0;
    for (size_t i = 0; i < n; i++)
        if (crm_uuid_valid(ids[i]))
            valid[n_valid++] = ids[i];
    int rc = 0;
    if (n_valid) {
        char *array = crm_db_text_array(valid, n_valid);
        const char *params[] = {tenant_id, array, deleted ? "true" : "false"};
        PGresult *res = crm_db_query(db, &s_contact_ids, params);
        rc = res ? 0 : -1;
        PQclear(res);
        free(array);
    }
    free(valid);
    return rc;
}

//  The LeadUpdated (changed: contactId) of each lead res answers (id, LEAD_JSON): how
//  many, or -1.
static int s_leads_updated(PGresult *res, crm_outbox_t *outbox, const char *tenant_id,
                           const char *actor) {
    int rc = 0, rows = PQntuples(res);
    for (int i = 0; i < rows && rc == 0; i++) {
        Crm__Leads__Lead *lead = leads_from_json(PQgetvalue(res, i, 1));
        if (!lead)
            return -1;
        Crm__Events__LeadUpdated event = CRM__EVENTS__LEAD_UPDATED__INIT;
        char *changed[] = {"contactId"};
        event.lead = lead;
        event.changed = changed;
        event.n_changed = 1;
        event.actor_id = (char *)actor;
        rc = crm_outbox_add(outbox, tenant_id, lead->id, &event.base, NULL);
        crm__leads__lead__free_unpacked(lead, NULL);
    }
    return rc ? -1 : rows;
}

int leads_contacts_unmerged(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                            const char *merge_id, const char *survivor,
                            const char *const *restored_ids, size_t n, const char *actor_id) {
    if (!crm_uuid_valid(merge_id) || !crm_uuid_valid(survivor))
        return 0;
    char now[40];
    crm_time_now(now, sizeof now);
    const char *actor = actor_id && actor_id[0] ? actor_id : "system:merge";
    const char *params[] = {tenant_id, merge_id, survivor, now, actor};
    PGresult *res = crm_db_query(db, &s_unmerge, params);
    if (!res)
        return -1;
    int moved = s_leads_updated(res, outbox, tenant_id, actor);
    PQclear(res);
    const char **ids = calloc(n + 1, sizeof *ids);
    size_t n_ids = 0;
    for (size_t i = 0; i < n; i++)
        if (crm_uuid_valid(restored_ids[i]))
            ids[n_ids++] = restored_ids[i];
    if (moved >= 0 && n_ids) {
        char *array = crm_db_text_array(ids, n_ids);
        const char *restored[] = {tenant_id, array};
        if (crm_db_run(db, &s_restored, restored))
            moved = -1;
        free(array);
    }
    free(ids);
    return moved;
}

int leads_contacts_merged(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                          const char *survivor, const char *const *merged_ids, size_t n,
                          const char *actor_id, const char *merge_id) {
    //  Only well-formed ids go into the statement: the event comes from the contacts
    //  service, but a bad id must not stop the inbox.
    if (!crm_uuid_valid(survivor))
        return 0;
    const char **ids = calloc(n + 1, sizeof *ids);
    size_t n_ids = 0;
    for (size_t i = 0; i < n; i++)
        if (crm_uuid_valid(merged_ids[i]))
            ids[n_ids++] = merged_ids[i];
    if (n_ids == 0) {
        free(ids);
        return 0;
    }
    char now[40];
    crm_time_now(now, sizeof now);
    char *array = crm_db_text_array(ids, n_ids);
    free(ids);
    const char *actor = actor_id && actor_id[0] ? actor_id : "system:merge";
    const char *merge = merge_id && crm_uuid_valid(merge_id) ? merge_id : "";
    const char *params[] = {tenant_id, survivor, array, now, actor, merge};
    PGresult *res = crm_db_query(db, &s_merge, params);
    free(array);
    if (!res)
        return -1;
    int rows = s_leads_updated(res, outbox, tenant_id, actor);
    PQclear(res);
    return rows;
}

int leads_contact_erased(crm_db_t *db, const char *tenant_id, const char *contact_id,
                         const char *erased_at) {
    if (!crm_uuid_valid(contact_id))
        return 0;
    const char *params[] = {tenant_id, contact_id, erased_at};
    PGresult *res = crm_db_query(db, &s_erase, params);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    const char **ids = calloc(rows + 1, sizeof *ids);
    for (int i = 0; i < rows; i++)
        ids[i] = PQgetvalue(res, i, 0);
    int rc = crm_outbox_scrub(db, tenant_id, ids, (size_t)rows);
    free(ids);
    PQclear(res);
    return rc ? -1 : rows;
}

static const crm_stmt_t s_contact_known = {
    .name = "leads_contact_known",
    .sql = "SELECT deleted FROM contact_ids WHERE tenant_id = $1 AND contact_id = $2::uuid",
    .nparams = 2};

int leads_contact_known(crm_call_t *call, const char *contact_id, bool *known, bool *deleted) {
    const char *key[] = {call->header->tenant_id, contact_id};
    PGresult *res = crm_db_query(call->db, &s_contact_known, key);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    *known = rows == 1;
    *deleted = rows == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return 0;
}
