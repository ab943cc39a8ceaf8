/*  crm-leads: the leads daemon. Wiring only: the service core (common/service.c) runs
    the loop and the methods (methods.c's table, the index of the service: per method
    its rules file and its _store.c); the follows table applies the contacts' events
    (lifecycle.c), the notify service's (notify_follow.c) and the scoring service's
    (score_follow.c); the runner runs the follow-up scheduler (scheduler.c). */
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

//  The other services' events it follows: the contacts' (lifecycle.c), the notify
//  service's, whose messages and replies are logged on their leads (notify_follow.c),
//  and the scoring service's, whose scores and bands are kept on the leads
//  (score_follow.c).
static const crm_follow_t s_follows[] = {
    {.source = "contacts", .fn = leads_lifecycle_follow},
    {.source = "notify", .fn = leads_notify_follow},
    {.source = "scoring", .fn = leads_score_follow},
    {.source = NULL}};

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
        .follows = s_follows,
        .publishes = true,
    };
    return crm_daemon_main(&daemon, argc, argv);
}
