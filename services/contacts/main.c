/*  crm-contacts: the contacts daemon. Wiring only: the service core (common/service.c)
    runs the loop and the methods (methods.c's table, the index of the service: per
    resource its rules, store and methods files); the follows table applies the leads'
    events (lifecycle_follow.c) and the notify service's opt-outs (optout_follow.c); the
    runner runs the job runner, the retention sweep and the export runner. */
#include "contacts.h"
#include "daemon.h"

#include <stdlib.h>

static contacts_t s_contacts;

static int s_setup(const crm_config_t *cfg, crm_db_t *db, void **arg) {
    (void)db;
    s_contacts.cfg = cfg;
    s_contacts.notify = crm_bus_client_new(crm_config_broker(cfg));
    *arg = &s_contacts;
    return s_contacts.notify ? 0 : -1;
}

static void s_teardown(void **arg) {
    contacts_t *self = *arg;
    if (!self)
        return;
    crm_bus_client_destroy(&self->notify);
    for (size_t i = 0; i < self->n_dedupe; i++)
        crm_bus_client_destroy(&self->dedupe[i]);
    free(self->dedupe);
    self->dedupe = NULL;
    self->n_dedupe = 0;
}

static int s_workers(const crm_config_t *cfg) {
    return cfg->contacts_workers;
}

//  The other services' events it follows: the leads' (lifecycle_follow.c) and the
//  notify service's opt-outs, SMS keywords and unsubscribes (optout_follow.c).
static const crm_follow_t s_follows[] = {
    {.source = "leads", .fn = contacts_lifecycle_follow},
    {.source = "notify", .fn = contacts_optout_follow},
    {.source = NULL}};

//  The background jobs (common/runner.c): each on a thread with a connection of its own.
static const crm_job_t s_jobs[] = {
    //  Bulk changes and imports, a chunk a step (job_methods.c).
    {.name = "job runner", .step = contacts_jobs_step, .state_new = contacts_jobs_new,
     .state_destroy = contacts_jobs_destroy, .period_ms = contacts_jobs_idle_ms},
    //  Contacts past their retention erased (erase_methods.c, erase_store.c).
    {.name = "retention sweep", .step = contacts_retention_sweep_step,
     .period_ms = contacts_retention_sweep_ms},
    //  Exports written in parts, expired ones deleted (export.c).
    {.name = "export runner", .step = contacts_export_runner_step,
     .state_new = contacts_export_runner_new, .state_destroy = contacts_export_runner_destroy,
     .period_ms = contacts_export_idle_ms},
    {.name = NULL}};

//  The methods that look ahead for their batch: a create asks dedupe for duplicates
//  (duplicate_methods.c).
static const crm_ahead_row_t s_aheads[] = {{"Create", contacts_contact_create_ahead},
                                           {NULL, NULL}};

static int s_max_batch(const crm_config_t *cfg) {
    return cfg->contacts_max_batch;
}

int main(int argc, char **argv) {
    static const crm_daemon_t daemon = {
        .name = "contacts",
        .usage = "usage: crm-contacts [--config PATH]\n"
                 "Serves the contacts service over the Majordomo broker.\n",
        .migrations = contacts_migrations,
        .methods = contacts_methods,
        .aheads = s_aheads,
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
