/*  crm-dedupe: the duplicate detection daemon. Wiring only: the service core
    (common/service.c) runs the loop and the methods (methods.c's table, the index of the
    service: per method its rules file and its _store.c); the follows table keeps the
    match index from the contacts' events (follow.c). The nickname list is read once,
    here (nicknames.c, data/nicknames.tsv).
*/
#include "dedupe.h"
#include "daemon.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>

static dedupe_t s_dedupe;

static int s_setup(const crm_config_t *cfg, crm_db_t *db, void **arg) {
    (void)db;
    s_dedupe.cfg = cfg;
    char path[1024], *error = NULL;
    snprintf(path, sizeof path, "%s/nicknames.tsv", cfg->dedupe_data_dir);
    s_dedupe.nicknames = dedupe_nicknames_new(path, &error);
    if (!s_dedupe.nicknames) {
        crm_log_kv(CRM_LOG_ERROR, "could not read the nickname list", "detail", error ? error : "",
                   "hint", "see dedupe.data_dir", NULL);
        free(error);
        return -1;
    }
    *arg = &s_dedupe;
    return 0;
}

static void s_teardown(void **arg) {
    dedupe_t *self = *arg;
    if (self)
        dedupe_nicknames_destroy(&self->nicknames);
}

static int s_workers(const crm_config_t *cfg) {
    return cfg->dedupe_workers;
}

static int s_max_batch(const crm_config_t *cfg) {
    return cfg->dedupe_max_batch;
}

//  Background work (common/runner.c), each job on a thread with a connection of its own:
//  live matching of the contacts the events queued (queue.c) and the scan (scan.c).
static const crm_job_t s_jobs[] = {{.name = "live matching",
                                    .step = dedupe_queue_step,
                                    .period_ms = dedupe_queue_period_ms},
                                   {.name = "duplicate scan",
                                    .step = dedupe_scan_step,
                                    .period_ms = dedupe_scan_period_ms},
                                   {.name = NULL}};

//  The other services' events it follows (follow.c).
static const crm_follow_t s_follows[] = {{.source = "contacts", .fn = dedupe_follow_contacts},
                                         {.source = NULL}};

int main(int argc, char **argv) {
    static const crm_daemon_t daemon = {
        .name = "dedupe",
        .usage = "usage: crm-dedupe [--config PATH]\n"
                 "Keeps a match index of the contacts from the contacts service's events, answers\n"
                 "duplicate checks (POST /v1/contacts/duplicates/check) over the Majordomo broker,\n"
                 "scans a tenant for duplicates and keeps its review list (GET /v1/duplicates),\n"
                 "and publishes DuplicateFound events.\n",
        .migrations = dedupe_migrations,
        .methods = dedupe_methods,
        .setup = s_setup,
        .teardown = s_teardown,
        .workers = s_workers,
        .max_batch = s_max_batch,
        .follows = s_follows,
        .jobs = s_jobs,
        .publishes = true,
    };
    return crm_daemon_main(&daemon, argc, argv);
}
