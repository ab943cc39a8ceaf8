/*  lifecycle: what the leads service's events do to contacts.

    - LeadWon: the contact becomes a customer (a prospect or service customer who bought),
      with its ContactUpdated event and audit entry, in the name of who closed the lead.
    - LeadCreated, LeadDeleted: the contact's lead count, shown in list rows.
    - LeadCreated, LeadStatusChanged: the contact's last activity moves forward.
    - LeadActivityLogged (a log, not a change): so does it, to the activity's time or,
      for an appointment booked ahead, to when it was booked.

    A follower (common/follower.h) applies the leads source's events with the contacts
    schema's inbox: each once, in order, across restarts and several processes.
*/
#include "contacts.h"
#include "follower.h"
#include "events.pb-c.h"
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

static int s_count(crm_db_t *db, const char *tenant, const char *contact, int delta,
                   const char *at) {
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

static int s_won_lead(crm_db_t *db, crm_outbox_t *outbox, const char *tenant,
                      const Crm__Events__LeadWon *won, const char *at) {
    if (!crm_uuid_valid(won->contact_id))
        return 0;
    const char *actor = won->actor_id[0] ? won->actor_id : "system:lifecycle";
    const char *params[] = {tenant, won->contact_id, at, actor};
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
            rc = crm_outbox_add(outbox, tenant, won->contact_id, &event.base, NULL);
            crm__contacts__contact__free_unpacked(c, NULL);
        }
    }
    PQclear(res);
    if (rc == 0 && changed)
        crm_log_kv(CRM_LOG_INFO, "a won lead made its contact a customer", "contact",
                   won->contact_id, "lead", won->lead_id, NULL);
    return rc;
}

//  One event (crm_follow_fn): 0 applied (or nothing to do), 1 unreadable, -1 failed.
static int s_follow(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                    void *arg) {
    (void)arg;
    const uint8_t *data = event->payload.data;
    size_t size = event->payload.len;
    const char *tenant = event->tenant_id;
    int rc = 0;
    bool readable = true;
    if (strcmp(event->type, "LeadWon") == 0) {
        Crm__Events__LeadWon *m = crm__events__lead_won__unpack(NULL, size, data);
        readable = m != NULL;
        if (m) {
            rc = s_won_lead(db, outbox, tenant, m, m->closed_at[0] ? m->closed_at : event->occurred_at);
            crm__events__lead_won__free_unpacked(m, NULL);
        }
    } else if (strcmp(event->type, "LeadCreated") == 0) {
        Crm__Events__LeadCreated *m = crm__events__lead_created__unpack(NULL, size, data);
        readable = m && m->lead;
        if (readable)
            rc = s_count(db, tenant, m->lead->contact_id, 1, event->occurred_at);
        if (m)
            crm__events__lead_created__free_unpacked(m, NULL);
    } else if (strcmp(event->type, "LeadDeleted") == 0) {
        Crm__Events__LeadDeleted *m = crm__events__lead_deleted__unpack(NULL, size, data);
        readable = m != NULL;
        if (m) {
            rc = s_count(db, tenant, m->contact_id, -1, NULL);
            crm__events__lead_deleted__free_unpacked(m, NULL);
        }
    } else if (strcmp(event->type, "LeadStatusChanged") == 0) {
        Crm__Events__LeadStatusChanged *m =
            crm__events__lead_status_changed__unpack(NULL, size, data);
        readable = m != NULL;
        if (m) {
            rc = s_count(db, tenant, m->contact_id, 0,
                         m->changed_at[0] ? m->changed_at : event->occurred_at);
            crm__events__lead_status_changed__free_unpacked(m, NULL);
        }
    } else if (strcmp(event->type, "LeadActivityLogged") == 0) {
        Crm__Events__LeadActivityLogged *m =
            crm__events__lead_activity_logged__unpack(NULL, size, data);
        readable = m != NULL;
        if (m && m->n_changed == 0) {
            //  Both are UTC RFC 3339 of one form: the earlier sorts first.
            const char *at = m->occurred_at[0] && strcmp(m->occurred_at, event->occurred_at) < 0
                                 ? m->occurred_at
                                 : event->occurred_at;
            rc = s_count(db, tenant, m->contact_id, 0, at);
        }
        if (m)
            crm__events__lead_activity_logged__free_unpacked(m, NULL);
    }
    return readable ? rc : 1;
}

crm_follower_t *contacts_lifecycle_start(const crm_config_t *cfg, crm_service_t *service,
                                         zloop_t *loop) {
    return crm_follower_start(cfg, service, loop, "contacts", "leads", s_follow, NULL);
}
