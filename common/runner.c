/*  runner: a daemon's background jobs, each on a thread of its own. See runner.h.

    Each job is a zactor. Its thread owns the job's connection and state; the runner's
    side owns the actor and, once attached, a reader on the actor's pipe through which
    the thread reports the outbox events its steps committed ("EVENTS n").
*/
#include "runner.h"
#include "relay.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

//  One job: what its thread needs (the thread alone touches db, state and backoff_ms).
typedef struct {
    const crm_job_t *job;
    const crm_config_t *cfg;
    const char *schema;
    zactor_t *actor;
    crm_db_t *db;
    void *state;
    bool started;   // state made (state_new called, or no state_new)
    int backoff_ms; // the wait after the next failure
} s_worker_t;

struct _crm_runner_t {
    const crm_config_t *cfg;
    char *schema;
    size_t n_workers;
    s_worker_t *workers;
    zloop_t *loop;      // once attached
    crm_relay_t *relay; // kicked for the events steps report
    uint64_t events;
};

// --- the job's thread ------------------------------------------------------------------

//  The longest wait after failures: the database's own reconnect backoff bound.
static int s_backoff_max(const s_worker_t *self) {
    int max = self->cfg->database_retry_max_ms;
    return max > CRM_RUNNER_BACKOFF_MS ? max : CRM_RUNNER_BACKOFF_MS;
}

//  Make the job's state if it has none (before a step).
static void s_state_start(s_worker_t *self) {
    if (self->started)
        return;
    if (self->job->state_new)
        self->state = self->job->state_new(self->cfg, self->db);
    self->started = true;
}

//  Destroy the job's state (after a failure, a lost connection, or at the end).
static void s_state_end(s_worker_t *self) {
    if (self->started && self->job->state_destroy)
        self->job->state_destroy(&self->state);
    self->state = NULL;
    self->started = false;
}

//  The wait before the next step after a failure; the next one will be twice as long.
static int s_backoff(s_worker_t *self) {
    int wait = self->backoff_ms;
    self->backoff_ms = wait * 2 < s_backoff_max(self) ? wait * 2 : s_backoff_max(self);
    return wait;
}

//  The job failed (why): its state goes, to be made anew. Returns the wait before the
//  next step.
static int s_restart(s_worker_t *self, const char *why) {
    s_state_end(self);
    int wait = s_backoff(self);
    char wait_text[16];
    snprintf(wait_text, sizeof wait_text, "%d", wait);
    crm_log_kv(CRM_LOG_WARN, "background job restarts after a backoff", "job", self->job->name,
               "reason", why, "backoff_ms", wait_text, NULL);
    return wait;
}

//  True when the job may step: it needs no connection, or has one (connecting once).
static bool s_connected(s_worker_t *self) {
    return !self->db || crm_db_ok(self->db) || crm_db_connect(self->db, 0) == 0;
}

//  Report events the step committed to the runner's side (dropped if the pipe is full:
//  the relay's own timer publishes them then).
static void s_report_events(zsock_t *pipe, int events) {
    char text[32];
    snprintf(text, sizeof text, "EVENTS %d", events);
    zframe_t *frame = zframe_new(text, strlen(text));
    if (zframe_send(&frame, pipe, ZFRAME_DONTWAIT) != 0)
        zframe_destroy(&frame);
}

//  Run one step (connecting and making the state first). Returns the wait before the
//  next one.
static int s_step(s_worker_t *self, zsock_t *pipe) {
    //  Without a connection (crm_db_connect logged why): a job that had started restarts.
    if (!s_connected(self))
        return self->started ? s_restart(self, "database connection lost") : s_backoff(self);
    s_state_start(self);
    crm_step_t step = {.cfg = self->cfg, .db = self->db, .state = self->state, .wait_ms = -1};
    crm_step_result_t result = self->job->step(&step);
    self->state = step.state;
    if (step.events > 0)
        s_report_events(pipe, step.events);
    if (result == CRM_STEP_FAILED)
        return s_restart(self, "step failed");
    if (self->db && !crm_db_ok(self->db))
        return s_restart(self, "database connection lost");
    self->backoff_ms = CRM_RUNNER_BACKOFF_MS;
    if (result == CRM_STEP_WORKED)
        return 0;
    return step.wait_ms >= 0 ? step.wait_ms : self->job->period_ms(self->cfg);
}

//  Wait ms for a command on the pipe. True when the job is to stop ($TERM, or the
//  process interrupted).
static bool s_wait(zsock_t *pipe, zpoller_t *poller, int ms) {
    void *which = zpoller_wait(poller, ms);
    if (which == pipe) {
        char *command = zstr_recv(pipe);
        bool stop = !command || streq(command, "$TERM");
        zstr_free(&command);
        return stop;
    }
    return zpoller_terminated(poller);
}

//  Log the job's start with its period.
static void s_log_start(s_worker_t *self) {
    char period[16];
    snprintf(period, sizeof period, "%d", self->job->period_ms(self->cfg));
    crm_log_kv(CRM_LOG_INFO, "background job started", "job", self->job->name, "period_ms", period,
               NULL);
}

//  The job's thread: step, wait, until told to stop. A command is read only between
//  steps, so a stop waits for the step in progress.
static void s_worker_actor(zsock_t *pipe, void *arg) {
    s_worker_t *self = arg;
    if (!self->job->no_database) {
        self->db = crm_db_new(self->cfg->database_dsn, self->cfg->database_retry_max_ms);
        crm_db_set_connect_timeout(self->db, self->cfg->database_connect_timeout_ms);
        if (self->schema)
            crm_db_set_schema(self->db, self->schema);
    }
    self->backoff_ms = CRM_RUNNER_BACKOFF_MS;
    zpoller_t *poller = zpoller_new(pipe, NULL);
    zsock_signal(pipe, 0);
    s_log_start(self);
    while (!s_wait(pipe, poller, s_step(self, pipe)))
        ;
    s_state_end(self);
    zpoller_destroy(&poller);
    crm_db_destroy(&self->db);
}

// --- the runner's side -----------------------------------------------------------------

crm_runner_t *crm_runner_new(const crm_config_t *cfg, const char *schema, const crm_job_t *jobs) {
    assert(cfg);
    assert(jobs);
    crm_runner_t *self = calloc(1, sizeof *self);
    assert(self);
    self->cfg = cfg;
    self->schema = schema ? strdup(schema) : NULL;
    //  A job runs as many times as its instances say (each a thread and a connection).
    size_t total = 0;
    for (size_t i = 0; jobs[i].name; i++)
        total += jobs[i].instances ? (size_t)jobs[i].instances(cfg) : 1;
    self->workers = calloc(total + 1, sizeof *self->workers);
    assert(self->workers);
    for (size_t i = 0; jobs[i].name; i++) {
        assert(jobs[i].step && jobs[i].period_ms);
        int instances = jobs[i].instances ? jobs[i].instances(cfg) : 1;
        for (int k = 0; k < instances; k++) {
            s_worker_t *worker = &self->workers[self->n_workers++];
            worker->job = &jobs[i];
            worker->cfg = cfg;
            worker->schema = self->schema;
            worker->actor = zactor_new(s_worker_actor, worker);
            assert(worker->actor);
        }
    }
    return self;
}

void crm_runner_destroy(crm_runner_t **self_p) {
    assert(self_p);
    crm_runner_t *self = *self_p;
    if (!self)
        return;
    //  Off the loop first, then tell every job at once, then wait for each.
    for (size_t i = 0; i < self->n_workers; i++) {
        if (self->loop)
            zloop_reader_end(self->loop, zactor_sock(self->workers[i].actor));
        zstr_send(self->workers[i].actor, "$TERM");
    }
    for (size_t i = 0; i < self->n_workers; i++)
        zactor_destroy(&self->workers[i].actor);
    free(self->workers);
    free(self->schema);
    free(self);
    *self_p = NULL;
}

//  A job reported events it committed: have the relay publish them now.
static int s_on_events(zloop_t *loop, zsock_t *reader, void *arg) {
    (void)loop;
    crm_runner_t *self = arg;
    char *message = zstr_recv(reader);
    if (message && strncmp(message, "EVENTS ", 7) == 0) {
        self->events += strtoull(message + 7, NULL, 10);
        crm_relay_kick(self->relay);
    }
    zstr_free(&message);
    return 0;
}

int crm_runner_attach(crm_runner_t *self, zloop_t *loop, crm_relay_t *relay) {
    assert(self);
    assert(loop);
    self->loop = loop;
    self->relay = relay;
    for (size_t i = 0; i < self->n_workers; i++)
        if (zloop_reader(loop, zactor_sock(self->workers[i].actor), s_on_events, self))
            return -1;
    return 0;
}

uint64_t crm_runner_events(crm_runner_t *self) {
    assert(self);
    return self->events;
}
