/*  scheduler: fires due follow-ups, each exactly once.

    A job of the leads daemon's runner (common/runner.c, main.c's table): a thread with
    a connection of its own (requests never wait for it), one pass a step. Every pass claims up to leads.scheduler_batch pending follow-ups that are due
    and have not fired, soonest first, with FOR UPDATE SKIP LOCKED, so several leads
    processes share the work and never take the same row; in the same transaction it
    marks them fired and writes one FollowUpDue event each to the outbox. The commit
    makes both true at once: a crash before it leaves the rows to fire at the next pass
    (of this process or another), a crash after it has their events safe in the outbox.
    It then tells the runner how many, which has the daemon's relay publish them.

    A follow-up whose lead was closed or deleted meanwhile does not fire: the pass
    cancels it instead (the move cancels them when a lead closes; this covers the rest).

    After a full batch it goes on at once; otherwise it sleeps until the next due time,
    at most leads.scheduler_ms, and at least SCHEDULER_MIN_WAIT_MS (rows due but locked by
    another process are that process's to fire).
*/
#include "leads.h"
#include "log.h"
#include "relay.h"

#include <stdlib.h>
#include <string.h>

//  The scheduler's state: its configuration, read once when it starts.
typedef struct {
    int batch;    // follow-ups claimed in one pass at most
    int poll_ms;  // the longest sleep between passes
} s_scheduler_t;

//  The due follow-ups claimed and settled: fired (their lead open) or cancelled, one row
//  each, with their lead's contact and assignee. The claimed rows are updated by ctid
//  (a TID scan), and the lead read by key for each: the work follows the rows claimed,
//  whatever the size of the tables (a join here was planned as a hash of the whole
//  table, 30 ms a pass at 100,000 rows).
static const crm_stmt_t s_claim = {
    .name = "scheduler_claim",
    .sql = "WITH settled AS ("
           "  UPDATE follow_ups f SET (fired_at, status, cancel_reason, cancelled_at) = ("
           "    SELECT CASE WHEN o.open THEN now() END,"
           "      CASE WHEN o.open THEN f.status ELSE 'cancelled' END,"
           "      CASE WHEN o.open THEN f.cancel_reason ELSE o.reason END,"
           "      CASE WHEN o.open THEN f.cancelled_at ELSE now() END"
           "    FROM (SELECT coalesce(bool_or(l.deleted_at IS NULL"
           "                                  AND (l.closed_at IS NULL OR f.long_term)),"
           "                          false) AS open,"
           "            CASE WHEN bool_or(l.deleted_at IS NULL) THEN 'lead_closed'"
           "                 ELSE 'lead_deleted' END AS reason"
           "          FROM leads l WHERE l.tenant_id = f.tenant_id AND l.id = f.lead_id) o)"
           "  WHERE f.ctid = ANY (ARRAY(SELECT q.ctid FROM follow_ups q"
           "    WHERE q.status = 'pending' AND q.fired_at IS NULL AND q.due_at <= now()"
           "    ORDER BY q.due_at LIMIT $1::int FOR UPDATE SKIP LOCKED))"
           "  RETURNING f.tenant_id, f.id, f.lead_id, f.due_at, f.method, f.note,"
           "    f.assignee_id, f.fired_at IS NOT NULL AS fired)"
           " SELECT s.tenant_id, s.id::text, s.lead_id::text, coalesce(l.contact_id::text, ''),"
           "  " CRM_SQL_TS("s.due_at") ", s.method, s.note,"
           "  coalesce(nullif(s.assignee_id, ''), l.assignee_id, ''), s.fired"
           //  (LIMIT 1 keeps the lead's lookup per row: joined, it became a scan of leads.)
           " FROM settled s LEFT JOIN LATERAL (SELECT contact_id, assignee_id FROM leads"
           "  WHERE tenant_id = s.tenant_id AND id = s.lead_id LIMIT 1) l ON true",
    .nparams = 1,
    .writes = true};

//  Milliseconds until the next follow-up to fire is due (NULL: none).
static const crm_stmt_t s_next = {
    .name = "scheduler_next",
    .sql = "SELECT greatest(ceil(extract(epoch FROM min(due_at) - now()) * 1000), 0)::bigint"
           " FROM follow_ups WHERE status = 'pending' AND fired_at IS NULL",
    .nparams = 0};

//  The FollowUpDue event of claimed row i (one that fired). 0 or -1.
static int s_due_add(crm_outbox_t *outbox, PGresult *res, int i) {
    Crm__Events__FollowUpDue due = CRM__EVENTS__FOLLOW_UP_DUE__INIT;
    due.follow_up_id = PQgetvalue(res, i, 1);
    due.lead_id = PQgetvalue(res, i, 2);
    due.contact_id = PQgetvalue(res, i, 3);
    due.due_at = PQgetvalue(res, i, 4);
    due.method = PQgetvalue(res, i, 5);
    due.note = PQgetvalue(res, i, 6);
    due.assignee_id = PQgetvalue(res, i, 7);
    return crm_outbox_add(outbox, PQgetvalue(res, i, 0), due.lead_id, &due.base, NULL);
}

//  One pass in one transaction. Returns the follow-ups claimed (fired or cancelled), with
//  *fired those that fired, or -1 when it failed (rolled back: tried again later).
static int s_pass(crm_db_t *db, int batch, int *fired) {
    *fired = 0;
    if (crm_db_begin(db))
        return -1;
    char limit[16];
    snprintf(limit, sizeof limit, "%d", batch);
    const char *claim_params[] = {limit};
    PGresult *res = crm_db_query(db, &s_claim, claim_params);
    if (!res) {
        crm_db_rollback(db);
        return -1;
    }
    int rows = PQntuples(res);
    crm_outbox_t *outbox = crm_outbox_new();
    int rc = 0;
    for (int i = 0; i < rows && rc == 0; i++)
        if (strcmp(PQgetvalue(res, i, 8), "t") == 0)
            rc = s_due_add(outbox, res, i);
    int n = (int)crm_outbox_size(outbox);
    if (rc == 0)
        rc = crm_outbox_write(outbox, db);
    crm_outbox_destroy(&outbox);
    PQclear(res);
    if (rc == 0 && crm_db_commit(db) == 0) {
        *fired = n;
        return rows;
    }
    crm_log_kv(CRM_LOG_WARN, "could not fire due follow-ups; they will be tried again",
               "detail", crm_db_sqlstate(db), NULL);
    crm_db_rollback(db);
    return -1;
}

//  Milliseconds until the next follow-up is due, -1 when none waits (or on failure).
static long long s_next_due_ms(crm_db_t *db) {
    PGresult *res = crm_db_query(db, &s_next, NULL);
    long long ms = -1;
    if (res && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        ms = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return ms;
}

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
    int claimed = s_pass(step->db, self->batch, &fired);
    if (claimed < 0)
        return CRM_STEP_FAILED;
    step->events = fired;
    if (claimed >= self->batch)
        return CRM_STEP_WORKED;
    step->wait_ms =
        leads_scheduler_wait_ms(claimed, self->batch, s_next_due_ms(step->db), self->poll_ms);
    return CRM_STEP_IDLE;
}

int leads_scheduler_ms(const crm_config_t *cfg) {
    return cfg->leads_scheduler_ms;
}
