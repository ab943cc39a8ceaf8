/*  daemon: the standard life of a service daemon, declared in one table.

        int main(int argc, char **argv) {
            static const crm_daemon_t daemon = {
                .name = "leads", .usage = "usage: crm-leads [--config PATH]\n...",
                .migrations = leads_migrations, .methods = leads_methods,
                .jobs = leads_jobs, .publishes = true,
            };
            return crm_daemon_main(&daemon, argc, argv);
        }

    crm_daemon_main parses the arguments and loads the configuration, starts the log,
    connects to the database (retrying as long as it takes: a daemon never exits on a
    transient fault), applies the migrations, runs the setup hook, prepares the
    framework's tables, makes the service (service.c) and puts it on a zloop with its
    relay (relay.h), its background jobs (runner.h) and its followers of other services'
    events (follower.h), runs the attach hook, and serves until SIGINT/SIGTERM. It then
    stops in the reverse order: the jobs (each after its step in progress), the detach
    hook, the followers, the service, the relay, teardown.
*/
#ifndef CRM_DAEMON_H
#define CRM_DAEMON_H

#include <czmq.h>
#include <stdbool.h>

#include "config.h"
#include "db.h"
#include "follower.h"
#include "runner.h"
#include "service.h"

//  Another service's events a daemon follows: each is applied once, in order, by fn
//  (its arg: the setup hook's state), with the daemon's schema's inbox (follower.h).
typedef struct {
    const char *source; // the service whose events (NULL ends a table)
    crm_follow_fn *fn;  // what one event does
} crm_follow_t;

typedef struct {
    const char *name;  // service and schema name
    const char *usage; // --help text
    const crm_migration_t *migrations;
    const crm_method_t *methods;
    //  Optional: the methods that look ahead for their batch (service.h), ended by { NULL }.
    const crm_ahead_row_t *aheads;
    //  Optional: called once connected and migrated; may set *arg for the methods.
    int (*setup)(const crm_config_t *cfg, crm_db_t *db, void **arg);
    void (*teardown)(void **arg);
    int (*workers)(const crm_config_t *cfg);   // worker sockets (default 1)
    int (*max_batch)(const crm_config_t *cfg); // default 1
    bool publishes;                            // has events in its outbox: run a relay
    //  Optional: the background jobs (runner.h), each on a thread with a connection of
    //  its own; the events their steps commit kick the relay.
    const crm_job_t *jobs;
    //  Optional: the other services' events it follows, a table ended by { NULL }.
    const crm_follow_t *follows;
    //  Optional: called once the service is on the loop (timers, other subscribers).
    int (*attach)(const crm_config_t *cfg, crm_service_t *service, zloop_t *loop, void *arg);
    void (*detach)(void *arg); // before the loop and service go
} crm_daemon_t;

//  Run the daemon's standard life (above). Returns the process exit code.
int crm_daemon_main(const crm_daemon_t *daemon, int argc, char **argv);

//  Follow the other services' events again from the daemon's inbox rows, made anew on a
//  later turn of the loop (after the transaction of the method that asks has committed):
//  what a rebuild that emptied its projection and set its inbox back to 0 asks, since
//  a follower keeps the last applied seq in memory. From the loop's thread (a method, a
//  hook) only.
void crm_daemon_refollow(void);

#endif
