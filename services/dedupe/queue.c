/*  queue: live matching, off the event loop. The contacts' events (follow.c) only queue
    the contacts whose matching is due (a row of match_queue, in the transaction that
    updates the index), so a bulk load of thousands of contacts keeps the daemon's loop
    as free as the index updates alone do: checks before a create keep being answered.
    This job (main.c's job table: a runner thread with a connection of its own) takes
    the queue a batch at a time, oldest first (FOR UPDATE SKIP LOCKED: several dedupe
    processes share the queue, never a row), matches each contact of the batch once
    (match.c: its pairs made again, the groups around it made again, DuplicateFound for
    each new pair) and deletes the batch's rows, in one transaction. A contact queued
    again meanwhile has a row of its own, so it is matched again by a later batch.
*/
#include "match_store.h"
#include "log.h"


#define QUEUE_IDLE_MS 100 // how long an empty queue waits before it is looked at again
#define QUEUE_BATCH 200   // queued rows taken in one step (one transaction)

int dedupe_queue_period_ms(const crm_config_t *cfg) {
    (void)cfg;
    return QUEUE_IDLE_MS;
}

int dedupe_queue_add(crm_db_t *db, const char *tenant_id, const char *contact_id) {
    return dedupe_match_store_enqueue(db, tenant_id, contact_id);
}

crm_step_result_t dedupe_queue_step(crm_step_t *step) {
    crm_db_t *db = step->db;
    if (crm_db_begin(db))
        return CRM_STEP_FAILED;
    PGresult *batch = dedupe_match_store_queue_take(db, QUEUE_BATCH);
    if (!batch || PQntuples(batch) == 0) {
        if (batch)
            PQclear(batch);
        crm_db_rollback(db);
        return batch ? CRM_STEP_IDLE : CRM_STEP_FAILED;
    }
    crm_outbox_t *outbox = crm_outbox_new();
    double threshold = step->cfg->dedupe_check_threshold / 100.0;
    int rows = PQntuples(batch), rc = 0;
    //  Each contact of the batch once, in the order first queued.
    for (int r = 0; r < rows && rc == 0; r++)
        rc = dedupe_match_contact(db, outbox, PQgetvalue(batch, r, 0), PQgetvalue(batch, r, 1),
                                  threshold);
    if (rc == 0)
        rc = dedupe_match_store_queue_done(db, PQgetvalue(batch, 0, 2));
    PQclear(batch);
    size_t events = crm_outbox_size(outbox);
    if (rc == 0)
        rc = crm_outbox_write(outbox, db);
    crm_outbox_destroy(&outbox);
    if (rc == 0 && crm_db_commit(db) == 0) {
        step->events += (int)events;
        return CRM_STEP_WORKED;
    }
    crm_log_kv(CRM_LOG_WARN, "a batch of live matching failed; it will be tried again", NULL);
    crm_db_rollback(db);
    return CRM_STEP_FAILED;
}
