/*  runner: the one home of a daemon's background work (DESIGN §14).

    A daemon declares its periodic and queued jobs in a table; the runner gives each job
    a thread (a zactor) and, unless the job says it needs none, a database connection of
    its own (schema set, reconnected with backoff), and calls the job's step again and
    again:

        static const crm_job_t jobs[] = {
            { .name = "follow-up scheduler", .step = leads_scheduler_step,
              .state_new = leads_scheduler_new, .state_destroy = leads_scheduler_destroy,
              .period_ms = leads_scheduler_ms },    // leads.scheduler_ms
            { .name = NULL }
        };
        crm_runner_t *runner = crm_runner_new(cfg, "leads", jobs);
        crm_runner_attach(runner, loop, relay);     // events a step wrote: relay kicked
        ...
        crm_runner_destroy(&runner);                // waits for the steps in progress

    A step does a bounded piece of work in its own transaction and says what it did:
    worked (stepped again at once), idle (stepped again after the job's period, or
    after step->wait_ms when the step set it: a scheduler's next due time), or failed.
    A job whose step failed, or whose connection was lost, has its state destroyed and
    made anew, and steps again after a backoff (CRM_RUNNER_BACKOFF_MS, doubling up to
    database.retry_max_ms, back to the start after a step that did not fail). A step
    that committed outbox events adds how many to step->events: the runner then kicks
    the service's relay on the daemon's loop, so they are published at once.

    Stopping waits for each step in progress to end; waits between steps end at once.
*/
#ifndef CRM_RUNNER_H
#define CRM_RUNNER_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "db.h"

typedef struct _crm_runner_t crm_runner_t;
typedef struct _crm_relay_t crm_relay_t;

//  The first wait before a job that failed runs again.
#define CRM_RUNNER_BACKOFF_MS 250

//  What a step did.
typedef enum {
    CRM_STEP_WORKED, // did some work (maybe not all): step again at once
    CRM_STEP_IDLE,   // nothing (more) to do: wait the period, or step->wait_ms
    CRM_STEP_FAILED  // failed, rolled back: the job is restarted after a backoff
} crm_step_result_t;

//  One step of a job, as its step function sees it.
typedef struct {
    const crm_config_t *cfg;
    crm_db_t *db; // the job's connection, connected, schema set (NULL: a job without)
    void *state;  // the job's state (its state_new's), or NULL
    int wait_ms;  // idle: wait this long rather than the period (-1 before each step)
    int events;   // outbox events this step committed (0 before each step)
} crm_step_t;

typedef crm_step_result_t(crm_step_fn)(crm_step_t *step);

//  A job: a row of a daemon's table, which ends with a row whose name is NULL.
typedef struct {
    const char *name;                                          // for logs
    crm_step_fn *step;                                         // runs on the job's thread
    void *(*state_new)(const crm_config_t *cfg, crm_db_t *db); // optional; db as the step's
    void (*state_destroy)(void **state_p);                     // optional
    int (*period_ms)(const crm_config_t *cfg);                 // idle wait between steps
    bool no_database;                                          // the step needs no connection
    int (*instances)(const crm_config_t *cfg); // optional: how many run at once (default 1),
                                               // each with its own state and connection
} crm_job_t;

//  Start a thread for each job of jobs (for each of its instances); connections use
//  schema (NULL: none set).
crm_runner_t *crm_runner_new(const crm_config_t *cfg, const char *schema, const crm_job_t *jobs);

//  Stop every job, each once its step in progress has ended. Idempotent.
void crm_runner_destroy(crm_runner_t **self_p);

//  Listen on loop for the events steps report, kicking relay (may be NULL) for them.
int crm_runner_attach(crm_runner_t *self, zloop_t *loop, crm_relay_t *relay);

//  Outbox events reported by steps and read on the loop since start.
uint64_t crm_runner_events(crm_runner_t *self);

#endif
