/*  crm-notify: the notifications daemon. Wiring only: the service core (common/service.c)
    runs the loop and the methods (methods.c's table, the index of the service: per
    method its rules file and its _store.c). This first part keeps message templates and
    renders them (Preview asks the contacts and leads services over the bus); nothing is
    sent yet, so there are no events, followers or jobs. */
#include "notify.h"
#include "daemon.h"

#include <stdlib.h>

static notify_t s_notify;

static int s_setup(const crm_config_t *cfg, crm_db_t *db, void **arg) {
    (void)db;
    s_notify.cfg = cfg;
    s_notify.client = crm_bus_client_new(crm_config_broker(cfg));
    *arg = &s_notify;
    return s_notify.client ? 0 : -1;
}

static void s_teardown(void **arg) {
    notify_t *self = *arg;
    if (self)
        crm_bus_client_destroy(&self->client);
}

static int s_workers(const crm_config_t *cfg) {
    return cfg->notify_workers;
}

static int s_max_batch(const crm_config_t *cfg) {
    return cfg->notify_max_batch;
}

int main(int argc, char **argv) {
    static const crm_daemon_t daemon = {
        .name = "notify",
        .usage = "usage: crm-notify [--config PATH]\n"
                 "Serves the notify service (message templates and their preview) over the\n"
                 "Majordomo broker.\n",
        .migrations = notify_migrations,
        .methods = notify_methods,
        .setup = s_setup,
        .teardown = s_teardown,
        .workers = s_workers,
        .max_batch = s_max_batch,
        .publishes = true,
    };
    return crm_daemon_main(&daemon, argc, argv);
}
