/*  scheduler: fires due follow-ups, each exactly once.

    A job of the leads daemon's runner (common/runner.c, main.c's table): a thread with
    a connection of its own (requests never wait for it), one pass a step
    (leads_followup_store_fire, followup_store.c, holds the pass's SQL). Every pass
    claims up to leads.scheduler_batch pending follow-ups that are due and have not
    fired, soonest first, with FOR UPDATE SKIP LOCKED, so several leads processes share
    the work and never take the same row; in the same transaction it
    marks them fired and writes one FollowUpDue event each to the outbox. The commit
    makes both true at once: a crash before it leaves the rows to fire at the next pass
    (of this process or another), a crash after it has their events safe in the outbox.
    It then tells the runner how many, which has the daemon's relay publish them.

    A follow-up whose lead was closed or deleted meanwhile does not fire: the pass
    cancels it instead (the move cancels them when a lead closes; this covers the rest).

    After a full batch it goes on at once; otherwise it sleeps until the next due time,
    at most leads.scheduler_ms, and at least SCHEDULER_MIN_WAIT_MS (rows due but locked by
    another process are that process's to fire): leads_scheduler_wait_ms, followup.c.
*/
#include "leads.h"
#include "log.h"
#include "relay.h"

#include <stdlib.h>
#include <string.h>

//  The scheduler's state: its configuration, read once when it starts.
typedef struct {
    int batch;   // follow-ups claimed in one pass at most
    int poll_ms; // the longest sleep between passes
} s_scheduler_t;

void *leads_scheduler_new(const crm_config_t *cfg, crm_db_t *db) {
    (void)db;
    s_scheduler_t *self = calloc(1, sizeof *self);
    assert(self);
    self->batch = cfg->leads_scheduler_batch;
    self->poll_ms = cfg->leads_scheduler_ms;
    char poll_text[16], batch_text[16];
    snprintf(poll_text, sizeof poll_text, "%d", self->poll_ms);
    snprintf(batch_text, sizeof batch_text, "%d", self->batch);
    crm_log_kv(CRM_LOG_INFO, "follow-up scheduler started", "poll_ms", poll_text, "batch",
               batch_text, NULL);
    return self;
}

void leads_scheduler_destroy(void **state_p) {
    free(*state_p);
    *state_p = NULL;
}

//  One pass. After a full batch it goes on at once; otherwise it sleeps until the next
//  due time (leads_scheduler_wait_ms).
crm_step_result_t leads_scheduler_step(crm_step_t *step) {
    const s_scheduler_t *self = step->state;
    int fired = 0;
    int claimed = leads_followup_store_fire(step->db, self->batch, &fired);
    if (claimed < 0)
        return CRM_STEP_FAILED;
    step->events = fired;
    if (claimed >= self->batch)
        return CRM_STEP_WORKED;
    long long next_due_ms = leads_followup_store_next_due_ms(step->db);
    step->wait_ms = leads_scheduler_wait_ms(claimed, self->batch, next_due_ms, self->poll_ms);
    return CRM_STEP_IDLE;
}

int leads_scheduler_ms(const crm_config_t *cfg) {
    return cfg->leads_scheduler_ms;
}
