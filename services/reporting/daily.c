/*  daily: publishing reporting.ContactsDaily when a day's figure changes.

    A timer (reporting.publish_interval_ms, 1 s) takes the dirty days (daily_store.c),
    writes one ContactsDaily event per tenant with its changed days to reporting's
    outbox in one transaction and kicks the relay: however many changes a day sees, its
    tenant hears about it at most once per interval.
*/
#include "reporting.h"
#include "log.h"

#define S_PUBLISH_MAX_DAYS 1000 // changed days taken per publisher turn (the rest: next turn)

//  Take the dirty days, write their events and forget them, in one transaction.
static int s_publish(reporting_t *self) {
    crm_db_t *db = self->db;
    if (!crm_db_ok(db) && crm_db_connect(db, 0) != 0)
        return -1;
    if (crm_db_begin(db) != 0)
        return -1;
    //  One event per tenant, with every day of it that changed since the last tick.
    Crm__Events__ContactsDaily **dailies = NULL;
    char **tenants = NULL;
    size_t n = 0;
    int rc = reporting_store_take_dirty(db, S_PUBLISH_MAX_DAYS, &dailies, &tenants, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = crm_outbox_add(self->outbox, tenants[i], tenants[i], &dailies[i]->base, NULL);
    if (rc == 0)
        rc = crm_outbox_write(self->outbox, db);
    crm_outbox_clear(self->outbox);
    reporting_store_days_free(dailies, tenants, n);
    if (rc == 0 && n == 0) {
        crm_db_rollback(db); // nothing was dirty
        return 0;
    }
    if (rc != 0 || crm_db_commit(db) != 0) {
        crm_db_rollback(db);
        crm_log_kv(CRM_LOG_WARN, "could not publish daily figures; will retry", "detail",
                   crm_db_sqlstate(db), NULL);
        return -1;
    }
    self->published += n;
    crm_relay_kick(crm_service_relay(self->service));
    return 0;
}

static int s_on_publish(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    s_publish(arg);
    return 0;
}

int reporting_publisher_attach(reporting_t *self) {
    self->publish_timer =
        zloop_timer(self->loop, self->cfg->reporting_publish_interval_ms, 0, s_on_publish, self);
    return self->publish_timer == -1 ? -1 : 0;
}
