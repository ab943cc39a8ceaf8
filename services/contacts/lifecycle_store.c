/*  lifecycle_store: the SQL of what the leads service's events do to contacts (lifecycle.c
    reads an event into the change it makes, lifecycle_follow.c applies the events):
    a won lead makes its contact a customer, with its ContactUpdated event and audit
    entry; a lead created or deleted counts; activity moves last_activity_at forward.
*/
#include "contacts.h"
#include "ids.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

//  $1 tenant, $2 contact, $3 the time, $4 the actor. The contact after the change, when
//  it was not a customer already.
static const crm_stmt_t s_won = {
    .name = "lifecycle_won",
    .sql = "UPDATE contacts c SET type = 'customer', updated_at = $3::timestamptz,"
           "  updated_by = $4"
           " WHERE c.tenant_id = $1 AND c.id = $2::uuid AND c.deleted_at IS NULL"
           "   AND c.type <> 'customer'"
           " RETURNING " CONTACT_JSON("c"),
    .nparams = 4,
    .writes = true};

//  $3 leads added (or, negative, removed), $4 the time of activity (NULL: none).
static const crm_stmt_t s_leads = {
    .name = "lifecycle_leads",
    .sql = "UPDATE contacts SET lead_count = greatest(lead_count + $3::int, 0),"
           "  last_activity_at = CASE WHEN $4::timestamptz IS NULL THEN last_activity_at"
           "    ELSE greatest(coalesce(last_activity_at, $4::timestamptz), $4::timestamptz) END"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 4,
    .writes = true};

int contacts_lifecycle_store_count(crm_db_t *db, const char *tenant, const char *contact,
                                   int delta, const char *at) {
    if (!crm_uuid_valid(contact))
        return 0;  // not ours to judge: the leads service checked it
    char text[8];
    snprintf(text, sizeof text, "%d", delta);
    const char *params[] = {tenant, contact, text, at && at[0] ? at : NULL};
    PGresult *res = crm_db_query(db, &s_leads, params);
    int rc = res ? 0 : -1;
    PQclear(res);
    return rc;
}

int contacts_lifecycle_store_won(crm_db_t *db, crm_outbox_t *outbox, const char *tenant,
                                 const char *contact_id, const char *lead_id, const char *actor,
                                 const char *at) {
    if (!crm_uuid_valid(contact_id))
        return 0;
    const char *params[] = {tenant, contact_id, at, actor};
    PGresult *res = crm_db_query(db, &s_won, params);
    if (!res)
        return -1;
    int rc = 0;
    bool changed = PQntuples(res) == 1;
    if (changed) {
        Crm__Contacts__Contact *c = contacts_from_json(PQgetvalue(res, 0, 0));
        if (!c)
            rc = -1;
        else {
            Crm__Events__ContactUpdated event = CRM__EVENTS__CONTACT_UPDATED__INIT;
            event.contact = c;
            char *changed[] = {"type"};
            event.changed = changed;
            event.n_changed = 1;
            event.actor_id = (char *)actor;
            rc = crm_outbox_add(outbox, tenant, contact_id, &event.base, NULL);
            crm__contacts__contact__free_unpacked(c, NULL);
        }
    }
    PQclear(res);
    if (rc == 0 && changed)
        crm_log_kv(CRM_LOG_INFO, "a won lead made its contact a customer", "contact",
                   contact_id, "lead", lead_id, NULL);
    return rc;
}
