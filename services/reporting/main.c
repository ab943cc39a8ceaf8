/*  crm-reporting: the reporting daemon. Wiring only: the service core (common/service.c)
    runs the loop and the methods (handlers.c); the attach hook starts following
    contacts' events (projection.c), the ContactsDaily publisher and any unfinished
    rebuild (rebuild.c); the SQL is in store.c. */
#include "reporting.h"
#include "daemon.h"
#include "log.h"

#include <stdlib.h>

static reporting_t s_reporting;

static int s_setup(const crm_config_t *cfg, crm_db_t *db, void **arg) {
    (void)db;
    s_reporting.cfg = cfg;
    s_reporting.publish_timer = -1;
    s_reporting.rebuild_timer = -1;
    s_reporting.wake[0] = s_reporting.wake[1] = -1;
    reporting_rebuild_reset(&s_reporting.rebuild);
    *arg = &s_reporting;
    return 0;
}

//  The projection gets a connection of its own: the service's is in pipeline mode.
static int s_attach(const crm_config_t *cfg, crm_service_t *service, zloop_t *loop, void *arg) {
    reporting_t *self = arg;
    self->service = service;
    self->loop = loop;
    self->db = crm_db_new(cfg->database_dsn, cfg->database_retry_max_ms);
    crm_db_set_connect_timeout(self->db, cfg->database_connect_timeout_ms);
    crm_db_set_schema(self->db, "reporting");
    while (crm_db_connect(self->db, cfg->database_retry_max_ms) != 0)
        if (zsys_interrupted)
            return -1;
    self->outbox = crm_outbox_new();
    reporting_rebuild_resume(self);
    if (reporting_follow(self) != 0 || reporting_publisher_attach(self) != 0)
        return -1;
    return 0;
}

static void s_detach(void *arg) {
    reporting_t *self = arg;
    reporting_unfollow(self);
    if (self->publish_timer != -1)
        zloop_timer_end(self->loop, self->publish_timer);
    if (self->rebuild_timer != -1)
        zloop_timer_end(self->loop, self->rebuild_timer);
    self->publish_timer = self->rebuild_timer = -1;
    crm_bus_client_destroy(&self->client);
    crm_outbox_destroy(&self->outbox);
    crm_db_destroy(&self->db);
    reporting_rebuild_reset(&self->rebuild);
}

int main(int argc, char **argv) {
    static const crm_daemon_t daemon = {
        .name = "reporting",
        .usage = "usage: crm-reporting [--config PATH]\n"
                 "Keeps the reporting projection from contacts' events, serves the reports\n"
                 "over the Majordomo broker and publishes reporting.ContactsDaily events.\n",
        .migrations = reporting_migrations,
        .methods = reporting_methods,
        .setup = s_setup,
        .attach = s_attach,
        .detach = s_detach,
        .publishes = true,
    };
    return crm_daemon_main(&daemon, argc, argv);
}
