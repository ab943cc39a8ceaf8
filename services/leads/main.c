/*  crm-leads: the leads daemon. Wiring only: the service core (common/service.c) runs
    the loop and the methods (methods.c's table, the index of the service: per method
    its rules file and its _store.c); the attach hook follows the contacts' events
    (lifecycle.c); the runner runs the follow-up scheduler (scheduler.c). */
#include "leads.h"
#include "daemon.h"

#include <stdlib.h>

static leads_t s_leads;

static int s_setup(const crm_config_t *cfg, crm_db_t *db, void **arg) {
    (void)db;
    s_leads.cfg = cfg;
    s_leads.contacts = crm_bus_client_new(crm_config_broker(cfg));
    *arg = &s_leads;
    return s_leads.contacts ? 0 : -1;
}

static void s_teardown(void **arg) {
    leads_t *self = *arg;
    if (self)
        crm_bus_client_destroy(&self->contacts);
}

//  Once the service is up: the follower of the contacts service's events (lifecycle.c),
//  stopped before the service goes.
static int s_attach(const crm_config_t *cfg, crm_service_t *service, zloop_t *loop, void *arg) {
    leads_t *self = arg;
    self->lifecycle = leads_lifecycle_start(cfg, service, loop);
    return self->lifecycle ? 0 : -1;
}

static void s_detach(void *arg) {
    leads_t *self = arg;
    crm_follower_stop(&self->lifecycle);
}

//  The background jobs (common/runner.c): each on a thread with a connection of its own.
static const crm_job_t s_jobs[] = {
    //  Fires due follow-ups (scheduler.c).
    {.name = "follow-up scheduler", .step = leads_scheduler_step,
     .state_new = leads_scheduler_new, .state_destroy = leads_scheduler_destroy,
     .period_ms = leads_scheduler_ms},
    {.name = NULL}};

static int s_workers(const crm_config_t *cfg) {
    return cfg->leads_workers;
}

static int s_max_batch(const crm_config_t *cfg) {
    return cfg->leads_max_batch;
}

int main(int argc, char **argv) {
    static const crm_daemon_t daemon = {
        .name = "leads",
        .usage = "usage: crm-leads [--config PATH]\n"
                 "Serves the leads service (leads, pipeline stages) over the Majordomo "
                 "broker, and fires due follow-ups.\n",
        .migrations = leads_migrations,
        .methods = leads_methods,
        .setup = s_setup,
        .teardown = s_teardown,
        .workers = s_workers,
        .max_batch = s_max_batch,
        .jobs = s_jobs,
        .attach = s_attach,
        .detach = s_detach,
        .publishes = true,
    };
    return crm_daemon_main(&daemon, argc, argv);
}
