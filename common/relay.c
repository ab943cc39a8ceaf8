/*  relay: claims, numbers and publishes outbox rows. See relay.h.

    Numbering at publish time, without rewriting rows. The outbox's id (bigserial) is
    handed out when a row is inserted, but transactions commit in another order, and a
    rolled-back one leaves a hole; a consumer that trusted those ids could apply 11
    before 10 commits, or wait for ever on a hole. So the relay numbers rows when it
    claims them, and a claim is recorded, not written into each row.

    Each row carries the id of the transaction that wrote it (xid, pg_current_xact_id()).
    A claim takes a snapshot (pg_current_snapshot()): the rows whose transaction that
    snapshot sees as committed, and the previous claim's snapshot did not, are the
    claim's group. Such a group is fixed for ever once taken (those transactions are
    over), so it is enough to record the two snapshots: the group's rows, in (xid, id)
    order, get last_seq + 1, + 2, ... A group larger than events.relay_batch is claimed
    in pieces, each recording the (xid, id) range it covers. One outbox_claims row per
    claim therefore says exactly which rows have which seq, replay reads them back by
    it, and the rows themselves are written once. The order is commit order where it
    matters: a transaction that read another's effects started after it committed, so
    it got a later xid and a later or the same group.

    The claim locks the source's row in outbox_state (SKIP LOCKED: a second relay of
    the same service finds it taken and leaves), so seq is dense and each row numbered
    once. The relay publishes the rows after the claim has committed; if it dies in
    between, the events are numbered but not sent, and consumers fetch them with
    Events.Replay when the next event or the next head announcement shows them the gap.
*/
#include "relay.h"
#include "curve.h"
#include "db.h"
#include "dbloop.h"
#include "log.h"
#include "outbox.h"

#include <string.h>

struct _crm_relay_t {
    char *source;
    crm_db_t *db;          // the relay's own connection, in pipeline mode
    crm_dbloop_t dbl;      // ... on the loop
    zsock_t *pub;          // to the gateway's XSUB
    zloop_t *loop;
    int batch;
    int delay_ms;
    int interval_ms;
    int head_interval_ms;
    int retention_days;
    int retention_interval_ms;
    bool claiming;         // a claim is in flight
    bool again;            // claim again as soon as this one is done
    int kick_timer;        // -1 or the zero-delay timer of a pending kick
    zlist_t *ready;        // messages of the claim in flight, sent once it commits
    uint64_t published;
    uint64_t head_seq;
    crm_stmt_t lock, claim, head, purge;
};

static void s_relay_claim(crm_relay_t *self);


//  A column of the claim's state (the st CTE), as a value the planner can use in an
//  index condition.
#define S_ST(column) "(SELECT " column " FROM st)"

crm_relay_t *crm_relay_new(const crm_config_t *cfg, const char *source) {
    crm_relay_t *self = calloc(1, sizeof *self);
    assert(self);
    self->source = strdup(source);
    self->batch = cfg->events_relay_batch;
    //  A kick waits this long, so that the writes of a busy moment are numbered and
    //  published by one claim (one commit) rather than one claim per batch of writes.
    self->delay_ms = cfg->events_relay_delay_ms;
    self->interval_ms = cfg->events_relay_interval_ms;
    self->head_interval_ms = cfg->events_head_interval_ms;
    self->retention_days = cfg->events_retention_days;
    self->retention_interval_ms = cfg->events_retention_interval_ms;
    self->kick_timer = -1;
    self->ready = zlist_new();
    self->db = crm_db_new(cfg->database_dsn, cfg->database_retry_max_ms);
    crm_db_set_connect_timeout(self->db, cfg->database_connect_timeout_ms);
    self->pub = zsock_new(ZMQ_PUB);
    assert(self->pub);
    zsock_set_linger(self->pub, 1000);
    //  Queue rather than drop on our side: a hundred claims' worth. (Past it events
    //  are still not lost: consumers replay them.)
    zsock_set_sndhwm(self->pub, cfg->events_relay_batch * 100);
    crm_curve_client(self->pub);
    if (zsock_connect(self->pub, "%s", cfg->events_publish_endpoint)) {
        crm_log_kv(CRM_LOG_ERROR, "could not connect the relay", "endpoint",
                   cfg->events_publish_endpoint, NULL);
        crm_relay_destroy(&self);
        return NULL;
    }
    //  Claim, in two statements of one transaction. The first locks the sequence row
    //  or, when another relay holds it, notes that it does not (SKIP LOCKED). The
    //  second, whose snapshot is taken only now that the lock is ours, takes the next
    //  piece of the group (a new snapshot's, unless a group is being claimed in pieces),
    //  numbers it, records the claim, moves the state on and returns the rows. (In one
    //  statement the snapshot would predate the lock, and a claim the previous holder
    //  committed just before would not be seen.)
    crm_stmt_init(&self->lock, source, "relay_lock", 0, false,
               "SELECT set_config('crm.relay_holds', CASE WHEN EXISTS (SELECT 1 FROM"
               " (SELECT id FROM %1$s.outbox_state WHERE id = 1 FOR UPDATE SKIP LOCKED) s)"
               " THEN 'yes' ELSE 'no' END, true)");
    crm_stmt_init(&self->claim, source, "relay_claim", 1, true,
               "WITH st AS (SELECT last_seq, done_snap AS after_snap,"
               "             coalesce(cur_snap, pg_current_snapshot()) AS upto_snap,"
               "             coalesce(cut_xid, '0') AS from_xid, coalesce(cut_id, 0) AS from_id"
               "             FROM %1$s.outbox_state WHERE id = 1"
               "             AND current_setting('crm.relay_holds', true) = 'yes'),"
               " pick AS (SELECT * FROM "
               CRM_OUTBOX_CLAIM_ROWS(S_ST("after_snap"), S_ST("upto_snap"), S_ST("from_xid"),
                                     S_ST("from_id"), "pg_snapshot_xmax(" S_ST("upto_snap") ")",
                                     "0", " ORDER BY o.xid, o.id LIMIT $1::int")
               " p ORDER BY xid, id LIMIT $1::int),"
               " numbered AS (SELECT pick.*, st.last_seq + row_number() OVER"
               "              (ORDER BY pick.xid, pick.id) AS seq FROM pick, st),"
               " tally AS (SELECT count(*) AS n FROM numbered),"
               " tail AS (SELECT xid, id, seq FROM numbered ORDER BY seq DESC LIMIT 1),"
               " rec AS (INSERT INTO %1$s.outbox_claims (first_seq, last_seq, after_snap,"
               "         upto_snap, from_xid, from_id, to_xid, to_id)"
               "         SELECT st.last_seq + 1, tail.seq, st.after_snap, st.upto_snap,"
               "         st.from_xid, st.from_id, tail.xid, tail.id FROM st, tail),"
               " adv AS (UPDATE %1$s.outbox_state s SET last_seq = s.last_seq + tally.n,"
               "         done_snap = CASE WHEN tally.n < $1::int THEN st.upto_snap"
               "                     ELSE s.done_snap END,"
               "         cur_snap = CASE WHEN tally.n < $1::int THEN NULL ELSE st.upto_snap END,"
               "         cut_xid = CASE WHEN tally.n < $1::int THEN NULL"
               "                   ELSE (SELECT xid FROM tail) END,"
               "         cut_id = CASE WHEN tally.n < $1::int THEN NULL"
               "                  ELSE (SELECT id FROM tail) END"
               "         FROM st, tally WHERE s.id = 1)"
               " SELECT " CRM_OUTBOX_EVENT_COLUMNS " FROM numbered ORDER BY seq");
    //  Planned at each run: the best way in depends on how many rows wait.
    self->claim.custom_plan = true;
    crm_stmt_init(&self->head, source, "relay_head", 0, false,
               "SELECT last_seq FROM %1$s.outbox_state WHERE id = 1");
    //  Retention: the rows of claims older than $1 days go, a claim at a time from the
    //  oldest; purged_through remembers the highest seq gone, so a replay from before
    //  it is refused.
    crm_stmt_init(&self->purge, source, "relay_purge", 1, true,
               "WITH old AS (SELECT * FROM %1$s.outbox_claims"
               "  WHERE claimed_at < now() - make_interval(days => $1::int)"
               "  ORDER BY first_seq LIMIT 1000),"
               " rows AS (SELECT o.xid, o.id FROM old c CROSS JOIN LATERAL "
               CRM_OUTBOX_CLAIM_ROWS_OF("c") " o),"
               " gone AS (DELETE FROM %1$s.outbox o USING rows r"
               "  WHERE o.xid = r.xid AND o.id = r.id RETURNING 1),"
               " claims AS (DELETE FROM %1$s.outbox_claims c USING old"
               "  WHERE c.first_seq = old.first_seq RETURNING c.last_seq)"
               " UPDATE %1$s.outbox_state SET purged_through = greatest(purged_through,"
               "  coalesce((SELECT max(last_seq) FROM claims), 0)) WHERE id = 1"
               " RETURNING (SELECT count(*) FROM gone)");
    return self;
}

void crm_relay_destroy(crm_relay_t **self_p) {
    assert(self_p);
    crm_relay_t *self = *self_p;
    if (!self)
        return;
    crm_dbloop_end(&self->dbl);
    if (self->loop && self->kick_timer != -1)
        zloop_timer_end(self->loop, self->kick_timer);
    if (self->db && crm_db_ok(self->db) && crm_db_pipelined(self->db))
        crm_db_pipeline_close(self->db); // a claim in flight commits or not; its rows stay
    while (zlist_size(self->ready)) {
        zmsg_t *msg = zlist_pop(self->ready);
        zmsg_destroy(&msg);
    }
    zlist_destroy(&self->ready);
    crm_db_destroy(&self->db);
    zsock_destroy(&self->pub);
    crm_stmt_clear(&self->lock);
    crm_stmt_clear(&self->claim);
    crm_stmt_clear(&self->head);
    crm_stmt_clear(&self->purge);
    free(self->source);
    free(self);
    *self_p = NULL;
}

//  Connected, in pipeline mode and watched by the loop; false while the database is
//  away (retried at most once a second).
static bool s_relay_ready(crm_relay_t *self) {
    return crm_dbloop_ready(&self->dbl);
}

//  Whether the claim got the sequence row. When another process's relay holds it, the
//  rows this process wrote may be left behind by that claim: claim again shortly,
//  rather than at the next interval.
static void s_relay_on_locked(crm_db_t *db, PGresult *res, void *arg) {
    (void)db;
    crm_relay_t *self = arg;
    if (res && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "no") == 0)
        self->again = true;
}

//  The claimed rows, as messages ready to go once the claim commits.
static void s_relay_on_claimed(crm_db_t *db, PGresult *res, void *arg) {
    (void)db;
    crm_relay_t *self = arg;
    if (!res)
        return;
    int rows = PQntuples(res);
    for (int i = 0; i < rows; i++) {
        Crm__Event *event = crm_outbox_event_from_row(res, i, self->source);
        if (!event) {
            crm_log_kv(CRM_LOG_ERROR, "unreadable outbox row", "source", self->source, "seq",
                       PQgetvalue(res, i, 0), NULL);
            continue;
        }
        //  The tenant in the topic lets the gateway give a subscriber its tenant's
        //  events only, without reading them (an event of no tenant: "*").
        char topic[256];
        snprintf(topic, sizeof topic, "%s.%s.%s", self->source,
                 event->tenant_id && event->tenant_id[0] ? event->tenant_id : "*", event->type);
        size_t size = crm__event__get_packed_size(event);
        zframe_t *frame = zframe_new(NULL, size);
        crm__event__pack(event, zframe_data(frame));
        zmsg_t *msg = zmsg_new();
        zmsg_addstr(msg, topic);
        zmsg_append(msg, &frame);
        zlist_append(self->ready, msg);
        if (event->seq > self->head_seq)
            self->head_seq = event->seq;
        crm__event__free_unpacked(event, NULL);
    }
}

static int s_relay_on_kick(zloop_t *loop, int timer_id, void *arg);

//  The claim's sync point: committed (publish what it numbered) or not (drop it: the
//  rows stay unnumbered for the next claim).
static void s_relay_on_claim_done(crm_db_t *db, bool ok, void *arg) {
    (void)db;
    crm_relay_t *self = arg;
    size_t n = zlist_size(self->ready);
    while (zlist_size(self->ready)) {
        zmsg_t *msg = zlist_pop(self->ready);
        if (ok) {
            zmsg_send(&msg, self->pub);
            self->published++;
        }
        zmsg_destroy(&msg);
    }
    self->claiming = false;
    if (!ok)
        crm_log_kv(CRM_LOG_WARN, "outbox claim failed", "source", self->source, "detail",
                   crm_db_sqlstate(self->db), NULL);
    //  A full batch means more may wait: go on at once, as after a kick during the claim.
    if (ok && (self->again || n == (size_t)self->batch) && self->kick_timer == -1) {
        self->again = false;
        self->kick_timer = zloop_timer(self->loop, n == (size_t)self->batch ? 0 : self->delay_ms,
                                       1, s_relay_on_kick, self);
    }
}

static void s_relay_claim(crm_relay_t *self) {
    if (self->claiming) {
        self->again = true;
        return;
    }
    if (!s_relay_ready(self))
        return;
    char limit[16];
    snprintf(limit, sizeof limit, "%d", self->batch);
    const char *params[] = {limit};
    self->claiming = true;
    if (crm_db_query_async(self->db, &self->lock, NULL, s_relay_on_locked, self) != 0 ||
        crm_db_query_async(self->db, &self->claim, params, s_relay_on_claimed, self) != 0 ||
        crm_db_pipeline_sync(self->db, s_relay_on_claim_done, self) != 0) {
        //  Not sent (the connection broke): the callbacks were told, or will not come.
        if (self->claiming) {
            self->claiming = false;
            while (zlist_size(self->ready)) {
                zmsg_t *msg = zlist_pop(self->ready);
                zmsg_destroy(&msg);
            }
        }
    }
}

static int s_relay_on_kick(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    crm_relay_t *self = arg;
    self->kick_timer = -1;
    s_relay_claim(self);
    return 0;
}

void crm_relay_kick(crm_relay_t *self) {
    if (!self || !self->loop)
        return;
    if (self->claiming) {
        self->again = true;
        return;
    }
    if (self->kick_timer == -1)
        self->kick_timer = zloop_timer(self->loop, self->delay_ms, 1, s_relay_on_kick, self);
}

static int s_relay_on_interval(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    s_relay_claim(arg);
    return 0;
}

//  Announce the source's head seq (read from the database: another process of the
//  service may be the one numbering).
static void s_relay_on_head_row(crm_db_t *db, PGresult *res, void *arg) {
    (void)db;
    crm_relay_t *self = arg;
    if (!res || PQntuples(res) != 1)
        return;
    uint64_t head = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    if (head > self->head_seq)
        self->head_seq = head;
    Crm__Events__Head msg = CRM__EVENTS__HEAD__INIT;
    msg.source = self->source;
    msg.head_seq = head;
    size_t size = crm__events__head__get_packed_size(&msg);
    zframe_t *frame = zframe_new(NULL, size);
    crm__events__head__pack(&msg, zframe_data(frame));
    zmsg_t *out = zmsg_new();
    zmsg_addstrf(out, "%s._head", self->source);
    zmsg_append(out, &frame);
    zmsg_send(&out, self->pub);
}

static void s_relay_on_sync_ignored(crm_db_t *db, bool ok, void *arg) {
    (void)db;
    (void)ok;
    (void)arg;
}

static int s_relay_on_head(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    crm_relay_t *self = arg;
    if (!s_relay_ready(self))
        return 0;
    if (crm_db_query_async(self->db, &self->head, NULL, s_relay_on_head_row, self) == 0)
        crm_db_pipeline_sync(self->db, s_relay_on_sync_ignored, self);
    return 0;
}

static void s_relay_on_purged(crm_db_t *db, PGresult *res, void *arg) {
    (void)db;
    crm_relay_t *self = arg;
    if (res && PQntuples(res) == 1 && atol(PQgetvalue(res, 0, 0)) > 0)
        crm_log_kv(CRM_LOG_INFO, "expired events deleted", "source", self->source, "count",
                   PQgetvalue(res, 0, 0), NULL);
}

static int s_relay_on_retention(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    crm_relay_t *self = arg;
    if (!s_relay_ready(self))
        return 0;
    char days[16];
    snprintf(days, sizeof days, "%d", self->retention_days);
    const char *params[] = {days};
    if (crm_db_query_async(self->db, &self->purge, params, s_relay_on_purged, self) == 0)
        crm_db_pipeline_sync(self->db, s_relay_on_sync_ignored, self);
    return 0;
}

int crm_relay_attach(crm_relay_t *self, zloop_t *loop) {
    assert(self);
    self->loop = loop;
    crm_dbloop_init(&self->dbl, self->db, loop, NULL, NULL);
    if (zloop_timer(loop, self->interval_ms, 0, s_relay_on_interval, self) == -1 ||
        zloop_timer(loop, self->head_interval_ms, 0, s_relay_on_head, self) == -1 ||
        zloop_timer(loop, self->retention_interval_ms, 0, s_relay_on_retention, self) == -1)
        return -1;
    crm_relay_kick(self); // whatever a previous life left
    return 0;
}

uint64_t crm_relay_published(crm_relay_t *self) {
    return self ? self->published : 0;
}
