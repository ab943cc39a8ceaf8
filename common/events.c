/*  events: outbox, relay, replay and subscriber. See events.h.

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
#include "events.h"
#include "bus_client.h"
#include "dbloop.h"
#include "ids.h"
#include "log.h"
#include "zwatch.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

//  --- The catalogue ---------------------------------------------------------------------

static const ProtobufCMessageDescriptor *const s_catalogue[] = {
    &crm__events__contact_created__descriptor,
    &crm__events__contact_updated__descriptor,
    &crm__events__contact_deleted__descriptor,
    &crm__events__contact_merged__descriptor,
    &crm__events__contact_erased__descriptor,
    &crm__events__contact_note_added__descriptor,
    &crm__events__contact_note_edited__descriptor,
    &crm__events__contact_note_deleted__descriptor,
    &crm__events__tag_created__descriptor,
    &crm__events__tag_updated__descriptor,
    &crm__events__tag_deleted__descriptor,
    &crm__events__tags_merged__descriptor,
    &crm__events__custom_field_defined__descriptor,
    &crm__events__custom_field_deleted__descriptor,
    &crm__events__contact_consent_changed__descriptor,
    &crm__events__contact_communication_rules_changed__descriptor,
    &crm__events__lead_created__descriptor,
    &crm__events__lead_updated__descriptor,
    &crm__events__lead_status_changed__descriptor,
    &crm__events__lead_deleted__descriptor,
    &crm__events__pipeline_changed__descriptor,
    &crm__events__lead_assigned__descriptor,
    &crm__events__lead_activity_logged__descriptor,
    &crm__events__follow_up_due__descriptor,
    &crm__events__lead_won__descriptor,
    &crm__events__lead_lost__descriptor,
    &crm__events__lead_scored__descriptor,
    &crm__events__duplicate_found__descriptor,
    &crm__events__notification_sent__descriptor,
    &crm__events__notification_failed__descriptor,
    &crm__events__notification_opted_out__descriptor,
    &crm__events__contacts_daily__descriptor,
    &crm__events__leads_daily__descriptor,
    &crm__events__head__descriptor,
};
#define S_CATALOGUE_SIZE (sizeof s_catalogue / sizeof s_catalogue[0])

const ProtobufCMessageDescriptor *crm_event_descriptor(const char *type) {
    if (!type)
        return NULL;
    for (size_t i = 0; i < S_CATALOGUE_SIZE; i++)
        if (strcmp(s_catalogue[i]->short_name, type) == 0)
            return s_catalogue[i];
    return NULL;
}

const char *crm_event_type(const ProtobufCMessageDescriptor *descriptor) {
    return descriptor ? descriptor->short_name : NULL;
}

//  --- Helpers ---------------------------------------------------------------------------

static int s_hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

//  A bytea column in text form ("\x..."): the bytes, in a buffer the caller frees.
static uint8_t *s_unhex(const char *text, size_t *size) {
    *size = 0;
    if (strncmp(text, "\\x", 2) != 0)
        return NULL;
    text += 2;
    size_t len = strlen(text);
    if (len % 2)
        return NULL;
    size_t n = len / 2;
    uint8_t *data = malloc(n ? n : 1);
    assert(data);
    for (size_t i = 0; i < n; i++) {
        int hi = s_hex_digit(text[2 * i]), lo = s_hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(data);
            return NULL;
        }
        data[i] = (uint8_t)(hi << 4 | lo);
    }
    *size = n;
    return data;
}

//  The columns every reader of the outbox selects, in this order.
#define S_EVENT_COLUMNS                                                                       \
    "seq, event_id::text, type, tenant_id, aggregate_id, payload,"                           \
    " to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

//  The outbox rows of one claim (the columns of an outbox_claims row given as
//  expressions), in no order: written by a transaction the claim's snapshot (upto) sees
//  as committed and the one before it (after) did not (one in progress at after, or
//  begun since), with (xid, id) in (from, to]. Each branch is one tight index range, so
//  that neither a transaction that wrote a million rows nor a long-running one anywhere
//  in the cluster turns a claim into a scan: the rows of from's transaction after from,
//  those of to's up to to, and the transactions strictly between, in progress at after
//  or begun since. tail ends each branch (an ORDER BY and LIMIT, or nothing).
#define S_CLAIM_IN(after, upto)                                                               \
    " AND NOT pg_visible_in_snapshot(o.xid, " after ")"                                       \
    " AND pg_visible_in_snapshot(o.xid, " upto ")"
#define S_CLAIM_ROWS(after, upto, fx, fi, tx, ti, tail)                                      \
    "((SELECT o.* FROM %1$s.outbox o WHERE o.xid = " fx " AND o.id > " fi                     \
    "  AND o.id <= CASE WHEN " fx " = " tx " THEN " ti " ELSE 9223372036854775807 END"        \
    S_CLAIM_IN(after, upto) tail ")"                                                          \
    " UNION ALL (SELECT o.* FROM %1$s.outbox o WHERE o.xid = " tx " AND " tx " > " fx         \
    "  AND o.id <= " ti S_CLAIM_IN(after, upto) tail ")"                                      \
    " UNION ALL (SELECT o.* FROM %1$s.outbox o"                                               \
    "  WHERE o.xid = ANY (array(SELECT x FROM pg_snapshot_xip(" after ") x"                   \
    "   WHERE x > " fx " AND x < " tx "))" S_CLAIM_IN(after, upto) tail ")"                   \
    " UNION ALL (SELECT o.* FROM %1$s.outbox o WHERE o.xid >= pg_snapshot_xmax(" after ")"    \
    "  AND o.xid > " fx " AND o.xid < " tx S_CLAIM_IN(after, upto) tail "))"

//  The rows of the outbox_claims row c.
#define S_CLAIM_ROWS_OF(c)                                                                    \
    S_CLAIM_ROWS(c ".after_snap", c ".upto_snap", c ".from_xid", c ".from_id", c ".to_xid",   \
                 c ".to_id", "")

//  The rows of the claims in claims (a table or subquery) with their seq.
#define S_NUMBERED_SQL(claims)                                                                \
    "SELECT c.first_seq - 1 + row_number() OVER (PARTITION BY c.first_seq"                    \
    "  ORDER BY o.xid, o.id) AS seq, o.*, c.claimed_at AS published_at"                       \
    " FROM " claims " c CROSS JOIN LATERAL " S_CLAIM_ROWS_OF("c") " o"

//  One row of S_EVENT_COLUMNS as an envelope (caller frees with
//  crm__event__free_unpacked), NULL if the row is damaged.
static Crm__Event *s_event_from_row(PGresult *res, int row, const char *source) {
    size_t size = 0;
    uint8_t *payload = s_unhex(PQgetvalue(res, row, 5), &size);
    if (!payload)
        return NULL;
    Crm__Event *event = malloc(sizeof *event);
    assert(event);
    crm__event__init(event);
    event->seq = strtoull(PQgetvalue(res, row, 0), NULL, 10);
    event->event_id = strdup(PQgetvalue(res, row, 1));
    event->type = strdup(PQgetvalue(res, row, 2));
    event->tenant_id = strdup(PQgetvalue(res, row, 3));
    event->aggregate_id = strdup(PQgetvalue(res, row, 4));
    event->occurred_at = strdup(PQgetvalue(res, row, 6));
    event->source = strdup(source);
    event->payload.data = payload;
    event->payload.len = size;
    return event;
}

//  --- Tables ----------------------------------------------------------------------------

//  An outbox of the earlier layout (a seq column written into each row) is set aside
//  before the tables are made; S_RENUMBER_SQL then moves its rows in.
#define S_CONVERT_SQL                                                                         \
    "DO $convert$ BEGIN"                                                                      \
    " IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = '%1$s'"        \
    "   AND table_name = 'outbox' AND column_name = 'seq') THEN"                              \
    "  ALTER TABLE %1$s.outbox RENAME TO outbox_v1;"                                          \
    "  ALTER INDEX %1$s.outbox_pkey RENAME TO outbox_v1_pkey;"                                \
    "  DROP INDEX IF EXISTS %1$s.outbox_seq; DROP INDEX IF EXISTS %1$s.outbox_unnumbered;"    \
    "  ALTER SEQUENCE %1$s.outbox_id_seq RENAME TO outbox_v1_id_seq;"                         \
    " END IF; END $convert$;"

//  Renumbering, once the tables and views are in place, of an outbox that needs it:
//  one of the earlier layout (set aside as outbox_v1 by S_CONVERT_SQL), or one whose
//  transaction ids are ahead of the cluster's (restored from a logical dump into another
//  cluster, whose counter starts low again), which would hide every new row behind its
//  snapshots. "Ahead" is measured against this statement's snapshot, which every
//  committed row and claim it can see precede (a transaction of a running process that
//  began after this one is not ahead). Either way the published rows go under xid 1
//  with their seq as id, in one claim, and the waiting ones under xid 2, in their order.
#define S_RENUMBER_SQL                                                                        \
    "DO $renumber$ DECLARE head bigint; BEGIN"                                                \
    " IF to_regclass('%1$s.outbox_v1') IS NOT NULL THEN"                                      \
    "  SELECT coalesce(max(seq), 0) INTO head FROM %1$s.outbox_v1;"                           \
    "  CREATE TEMP TABLE crm_outbox_renumber ON COMMIT DROP AS"                               \
    "   SELECT '1'::xid8 AS xid, seq AS id, event_id, type, tenant_id, aggregate_id, payload,"\
    "   occurred_at, NULL::timestamptz AS published_at FROM %1$s.outbox_v1"                   \
    "   WHERE seq IS NOT NULL;"                                                               \
    "  INSERT INTO crm_outbox_renumber SELECT '2', head + row_number() OVER (ORDER BY id),"   \
    "   event_id, type, tenant_id, aggregate_id, payload, occurred_at, NULL"                  \
    "   FROM %1$s.outbox_v1 WHERE seq IS NULL;"                                               \
    "  DROP TABLE %1$s.outbox_v1;"                                                            \
    " ELSIF pg_snapshot_xmax((SELECT done_snap FROM %1$s.outbox_state WHERE id = 1))"         \
    "    > pg_snapshot_xmax(pg_current_snapshot())"                                           \
    "    OR (SELECT max(xid) FROM %1$s.outbox) >= pg_snapshot_xmax(pg_current_snapshot()) THEN" \
    "  SELECT last_seq INTO head FROM %1$s.outbox_state WHERE id = 1;"                        \
    "  CREATE TEMP TABLE crm_outbox_renumber ON COMMIT DROP AS"                               \
    "   SELECT '1'::xid8 AS xid, seq AS id, event_id, type, tenant_id, aggregate_id, payload,"\
    "   occurred_at, published_at FROM %1$s.outbox_published;"                               \
    "  INSERT INTO crm_outbox_renumber SELECT '2', head + row_number() OVER (ORDER BY xid, id),"\
    "   event_id, type, tenant_id, aggregate_id, payload, occurred_at, NULL"                  \
    "   FROM %1$s.outbox_pending;"                                                            \
    "  RAISE WARNING 'outbox of %1$s renumbered: its transaction ids were ahead of the"       \
    " cluster''s (restored from a dump?)';"                                                   \
    " ELSE RETURN; END IF;"                                                                   \
    " DELETE FROM %1$s.outbox; DELETE FROM %1$s.outbox_claims;"                               \
    " INSERT INTO %1$s.outbox (xid, id, event_id, type, tenant_id, aggregate_id, payload,"    \
    "  occurred_at) SELECT xid, id, event_id, type, tenant_id, aggregate_id, payload,"        \
    "  occurred_at FROM crm_outbox_renumber;"                                                 \
    " INSERT INTO %1$s.outbox_claims (first_seq, last_seq, after_snap, upto_snap,"            \
    "  from_xid, from_id, to_xid, to_id, claimed_at)"                                         \
    "  SELECT min(id), max(id), '1:1:', '2:2:', '0', 0, '1', max(id),"                        \
    "  coalesce(max(published_at), now()) FROM crm_outbox_renumber WHERE xid = '1'"           \
    "  HAVING count(*) > 0;"                                                                  \
    " UPDATE %1$s.outbox_state SET done_snap = '2:2:', cur_snap = NULL, cut_xid = NULL,"      \
    "  cut_id = NULL WHERE id = 1;"                                                           \
    " PERFORM setval('%1$s.outbox_id_seq', greatest((SELECT max(id) FROM %1$s.outbox), 1));"  \
    " END $renumber$;"

int crm_events_prepare_schema(crm_db_t *db, const char *schema) {
    //  One transaction under a lock, so processes starting together do not race.
    char *sql = zsys_sprintf(
        "BEGIN;"
        "SELECT pg_advisory_xact_lock(hashtext('crm_events_schema'));"
        S_CONVERT_SQL
        //  id orders the rows of one transaction; the key leads with the transaction,
        //  which is how claims find and order rows.
        "CREATE TABLE IF NOT EXISTS %1$s.outbox ("
        " id bigserial,"
        " xid xid8 NOT NULL DEFAULT pg_current_xact_id(),"
        " event_id uuid NOT NULL,"
        " type text NOT NULL,"
        " tenant_id text NOT NULL,"
        " aggregate_id text NOT NULL DEFAULT '',"
        " payload bytea NOT NULL,"
        " occurred_at timestamptz NOT NULL,"
        " PRIMARY KEY (xid, id));"
        //  An aggregate's events, for erasure (its personal data out of past payloads).
        "CREATE INDEX IF NOT EXISTS outbox_aggregate ON %1$s.outbox (tenant_id, aggregate_id);"
        //  One row per claim: seqs first_seq..last_seq are the rows written by
        //  transactions upto_snap sees as committed and after_snap did not, with
        //  (xid, id) in (from, to], in (xid, id) order.
        "CREATE TABLE IF NOT EXISTS %1$s.outbox_claims ("
        " first_seq bigint PRIMARY KEY,"
        " last_seq bigint NOT NULL,"
        " after_snap pg_snapshot NOT NULL,"
        " upto_snap pg_snapshot NOT NULL,"
        " from_xid xid8 NOT NULL, from_id bigint NOT NULL,"
        " to_xid xid8 NOT NULL, to_id bigint NOT NULL,"
        " claimed_at timestamptz NOT NULL DEFAULT now());"
        //  last_seq: the head. done_snap: the snapshot whose rows are all claimed.
        //  cur_snap, cut_xid, cut_id: a group being claimed in pieces, and how far.
        "CREATE TABLE IF NOT EXISTS %1$s.outbox_state ("
        " id int PRIMARY KEY CHECK (id = 1),"
        " last_seq bigint NOT NULL DEFAULT 0,"
        " purged_through bigint NOT NULL DEFAULT 0);"
        "ALTER TABLE %1$s.outbox_state"
        " ADD COLUMN IF NOT EXISTS done_snap pg_snapshot NOT NULL DEFAULT '1:1:',"
        " ADD COLUMN IF NOT EXISTS cur_snap pg_snapshot,"
        " ADD COLUMN IF NOT EXISTS cut_xid xid8,"
        " ADD COLUMN IF NOT EXISTS cut_id bigint;"
        "INSERT INTO %1$s.outbox_state (id) VALUES (1) ON CONFLICT DO NOTHING;"
        //  For people and tests: the published events with their seq, and the rows the
        //  next claim will take.
        "CREATE OR REPLACE VIEW %1$s.outbox_published AS " S_NUMBERED_SQL("%1$s.outbox_claims") ";"
        "CREATE OR REPLACE VIEW %1$s.outbox_pending AS SELECT o.* FROM %1$s.outbox o,"
        " %1$s.outbox_state s WHERE s.id = 1"
        " AND (o.xid >= pg_snapshot_xmax(s.done_snap)"
        "      OR o.xid = ANY (array(SELECT pg_snapshot_xip(s.done_snap))))"
        " AND NOT pg_visible_in_snapshot(o.xid, s.done_snap)"
        " AND NOT coalesce(pg_visible_in_snapshot(o.xid, s.cur_snap)"
        "                  AND (o.xid, o.id) <= (s.cut_xid, s.cut_id), false);"
        S_RENUMBER_SQL
        "CREATE TABLE IF NOT EXISTS %1$s.inbox ("
        " source text PRIMARY KEY,"
        " last_seq bigint NOT NULL,"
        " updated_at timestamptz NOT NULL DEFAULT now());"
        "COMMIT;",
        schema);
    int rc = crm_db_exec(db, sql);
    zstr_free(&sql);
    if (rc)
        crm_db_exec(db, "ROLLBACK");
    return rc;
}

//  --- Writing ---------------------------------------------------------------------------

int crm_outbox_event_init(crm_outbox_event_t *ev, const ProtobufCMessage *payload,
                          const char *occurred_at) {
    memset(ev, 0, sizeof *ev);
    if (!payload || !crm_event_descriptor(payload->descriptor->short_name))
        return -1;
    ev->type = payload->descriptor->short_name;
    crm_uuid_v7(ev->event_id);
    if (occurred_at)
        snprintf(ev->occurred_at, sizeof ev->occurred_at, "%s", occurred_at);
    else
        crm_time_now(ev->occurred_at, sizeof ev->occurred_at);
    size_t size = protobuf_c_message_get_packed_size(payload);
    uint8_t *bytes = malloc(size ? size : 1);
    assert(bytes);
    protobuf_c_message_pack(payload, bytes);
    ev->payload_hex = crm_db_bytea_literal(bytes, size);
    free(bytes);
    return 0;
}

void crm_outbox_event_reset(crm_outbox_event_t *ev) {
    free(ev->payload_hex);
    memset(ev, 0, sizeof *ev);
}

crm_stmt_t *crm_outbox_stmt_new(const char *schema) {
    crm_stmt_t *stmt = malloc(sizeof *stmt);
    assert(stmt);
    crm_stmt_init(stmt, schema, "outbox_write", 6, true,
                  "INSERT INTO %s.outbox (event_id, type, tenant_id, aggregate_id, payload,"
                  " occurred_at) VALUES ($1::uuid, $2, $3, $4, $5::bytea, $6::timestamptz)");
    return stmt;
}

void crm_outbox_stmt_free(crm_stmt_t **stmt_p) {
    crm_stmt_t *stmt = *stmt_p;
    if (!stmt)
        return;
    crm_stmt_clear(stmt);
    free(stmt);
    *stmt_p = NULL;
}

int crm_outbox_write(crm_db_t *db, const crm_stmt_t *stmt, const char *tenant_id,
                     const char *aggregate_id, const ProtobufCMessage *payload) {
    crm_outbox_event_t ev;
    if (crm_outbox_event_init(&ev, payload, NULL))
        return -1;
    const char *params[] = {ev.event_id,   ev.type,        tenant_id,
                            aggregate_id, ev.payload_hex, ev.occurred_at};
    PGresult *res = crm_db_query(db, stmt, params);
    crm_outbox_event_reset(&ev);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

//  --- Relay -----------------------------------------------------------------------------

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
               S_CLAIM_ROWS(S_ST("after_snap"), S_ST("upto_snap"), S_ST("from_xid"),
                            S_ST("from_id"), "pg_snapshot_xmax(" S_ST("upto_snap") ")", "0",
                            " ORDER BY o.xid, o.id LIMIT $1::int")
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
               " SELECT " S_EVENT_COLUMNS " FROM numbered ORDER BY seq");
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
               S_CLAIM_ROWS_OF("c") " o),"
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
        Crm__Event *event = s_event_from_row(res, i, self->source);
        if (!event) {
            crm_log_kv(CRM_LOG_ERROR, "unreadable outbox row", "source", self->source, "seq",
                       PQgetvalue(res, i, 0), NULL);
            continue;
        }
        char topic[160];
        snprintf(topic, sizeof topic, "%s.%s", self->source, event->type);
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

//  --- Replay ----------------------------------------------------------------------------

static int s_replay(crm_call_t *call, const ProtobufCMessage *request,
                    ProtobufCMessage **response) {
    const Crm__Events__ReplayRequest *req = (const Crm__Events__ReplayRequest *)request;
    //  Every tenant's events: only the suite's own services and administrators.
    if (strcmp(call->header->role, "system") != 0 && strcmp(call->header->role, "admin") != 0) {
        crm_call_error(call, "forbidden", "replaying every tenant's events needs the system role");
        return 403;
    }
    crm_service_t *service = call->service;
    const char *schema = crm_service_name(service);
    const crm_config_t *cfg = crm_service_config(service);
    uint32_t max = cfg ? (uint32_t)cfg->events_replay_limit : 1000;
    uint32_t limit = req->limit && req->limit < max ? req->limit : max;
    uint64_t from = req->from_seq ? req->from_seq : 1;

    //  The statement is made per service (schema) and kept with it.
    //  The claims that hold seqs from .. from + limit - 1, their rows numbered. The
    //  statement is made per service (schema) and kept with it.
    crm_stmt_t *stmt = crm_service_stmt(
        service, "events_replay", 2, false,
        "SELECT " S_EVENT_COLUMNS ","
        " (SELECT last_seq FROM %1$s.outbox_state WHERE id = 1),"
        " (SELECT purged_through FROM %1$s.outbox_state WHERE id = 1)"
        " FROM (SELECT 1) one LEFT JOIN LATERAL"
        " (SELECT * FROM (" S_NUMBERED_SQL(
            "(SELECT * FROM %1$s.outbox_claims WHERE first_seq >= coalesce((SELECT"
            " max(first_seq) FROM %1$s.outbox_claims WHERE first_seq <= $1::bigint), 1)"
            " AND first_seq < $1::bigint + $2::int)") ") n"
        "  WHERE seq >= $1::bigint ORDER BY seq LIMIT $2::int) o ON true");
    char from_text[24], limit_text[16];
    snprintf(from_text, sizeof from_text, "%" PRIu64, from);
    snprintf(limit_text, sizeof limit_text, "%u", limit);
    const char *params[] = {from_text, limit_text};
    PGresult *res = crm_db_query(call->db, stmt, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    uint64_t head = rows ? strtoull(PQgetvalue(res, 0, 7), NULL, 10) : 0;
    uint64_t purged = rows ? strtoull(PQgetvalue(res, 0, 8), NULL, 10) : 0;
    if (from <= purged) {
        PQclear(res);
        crm_call_error(call, "events_expired",
                       "events of %s up to seq %" PRIu64 " are past the retention; the oldest"
                       " kept is %" PRIu64,
                       schema, purged, purged + 1);
        return 410;
    }
    Crm__Events__ReplayResponse *out = malloc(sizeof *out);
    assert(out);
    crm__events__replay_response__init(out);
    out->head_seq = head;
    out->oldest_seq = purged + 1;
    out->events = rows ? calloc(rows, sizeof *out->events) : NULL;
    for (int i = 0; i < rows; i++) {
        if (PQgetisnull(res, i, 0)) // the LEFT JOIN's empty row
            continue;
        Crm__Event *event = s_event_from_row(res, i, schema);
        if (!event) {
            PQclear(res);
            crm__events__replay_response__free_unpacked(out, NULL);
            crm_call_error(call, "internal", "an outbox row is unreadable");
            return 500;
        }
        out->events[out->n_events++] = event;
    }
    PQclear(res);
    *response = &out->base;
    return 200;
}

const crm_method_t crm_events_replay_method = {
    "Events.Replay", s_replay, &crm__events__replay_request__descriptor, false};

//  --- Sequencing ------------------------------------------------------------------------

crm_seq_action_t crm_seq_check(uint64_t last_applied, uint64_t seq) {
    if (seq <= last_applied)
        return CRM_SEQ_DUPLICATE;
    if (seq == last_applied + 1)
        return CRM_SEQ_APPLY;
    return CRM_SEQ_GAP;
}

crm_replay_page_t crm_replay_page_check(uint64_t last_applied, const uint64_t *seqs, size_t n,
                                        uint64_t head_seq) {
    crm_replay_page_t page = {0, false};
    while (page.usable < n && seqs[page.usable] == last_applied + 1 + page.usable)
        page.usable++;
    page.more = n > 0 && page.usable == n && last_applied + n < head_seq;
    return page;
}

//  --- Subscriber ------------------------------------------------------------------------

#define S_SOURCES_MAX 16
#define S_BURST_MAX 10000       // messages read per wake-up before applying and yielding
#define S_RETRY_MS 1000         // after a failed apply or replay, wait this long ...
#define S_RETRY_MAX_MS 30000    // ... doubling with each failure in a row, up to this
#define S_PROBE_MS 250          // after a failure, first ask the broker if the source is up
#define S_FLUSH_DELAY_MS 5     // gather events this long before applying them

typedef struct {
    char name[64];
    char prefix[66];            // "<name>." : the topics followed
    uint64_t last_seq;          // applied and committed
    uint64_t head_seq;          // the highest seq the source announced or sent
    uint64_t wire_seq;          // the last seq received on the SUB socket
    Crm__Event **pending;       // received in order, not applied yet
    size_t n_pending, cap;
    int64_t retry_at;           // no replay before this (after a failure)
    int failures;               // replays or applies failed in a row
    bool stale;                 // behind: catch up by replay when allowed
} s_source_t;

struct _crm_subscriber_t {
    char *consumer;
    crm_db_t *db;
    char *endpoint;
    char *broker;
    zsock_t *sub;
    crm_bus_client_t *client;
    zloop_t *loop;
    crm_zwatch_t watch; // the SUB socket, through its ZMQ_FD
    int tick_timer;
    s_source_t *calling; // the source a replay (or probe) call is out for
    int flush_timer;    // pending events are applied when it fires
    s_source_t sources[S_SOURCES_MAX];
    int n_sources;
    crm_apply_fn *apply;
    void *apply_arg;
    crm_applied_fn *applied_fn;
    void *applied_arg;
    int apply_batch;
    int replay_limit;
    int replay_timeout_ms;
    int rcvhwm;
    uint64_t applied;
    uint64_t replays;
    uint64_t gaps;
    crm_stmt_t advance;
    crm_stmt_t load;
    crm_stmt_t lock;
};

crm_subscriber_t *crm_subscriber_new(const crm_config_t *cfg, const char *consumer,
                                     crm_db_t *db) {
    crm_subscriber_t *self = calloc(1, sizeof *self);
    assert(self);
    self->consumer = strdup(consumer);
    self->db = db;
    self->endpoint = strdup(cfg->events_subscribe_endpoint);
    self->broker = strdup(crm_config_broker(cfg));
    self->apply_batch = cfg->events_apply_batch;
    self->replay_limit = cfg->events_replay_limit;
    self->replay_timeout_ms = cfg->events_replay_timeout_ms;
    self->rcvhwm = cfg->events_xpub_hwm;
    self->tick_timer = -1;
    self->flush_timer = -1;
    crm_stmt_init(&self->advance, consumer, "inbox_advance", 2, true,
               "INSERT INTO %1$s.inbox (source, last_seq) VALUES ($1, $2::bigint)"
               " ON CONFLICT (source) DO UPDATE SET last_seq = excluded.last_seq,"
               " updated_at = now()");
    //  The row is made on first sight, so that inbox_lock always has a row to lock.
    crm_stmt_init(&self->load, consumer, "inbox_load", 1, true,
               "WITH ins AS (INSERT INTO %1$s.inbox (source, last_seq) VALUES ($1, 0)"
               "  ON CONFLICT (source) DO NOTHING RETURNING last_seq)"
               " SELECT last_seq FROM ins UNION ALL"
               " SELECT last_seq FROM %1$s.inbox WHERE source = $1");
    crm_stmt_init(&self->lock, consumer, "inbox_lock", 1, false,
               "SELECT last_seq FROM %1$s.inbox WHERE source = $1 FOR UPDATE");
    return self;
}

static void s_pending_clear(s_source_t *source) {
    for (size_t i = 0; i < source->n_pending; i++)
        crm__event__free_unpacked(source->pending[i], NULL);
    source->n_pending = 0;
}

void crm_subscriber_destroy(crm_subscriber_t **self_p) {
    assert(self_p);
    crm_subscriber_t *self = *self_p;
    if (!self)
        return;
    crm_zwatch_stop(&self->watch);
    if (self->loop && self->tick_timer != -1)
        zloop_timer_end(self->loop, self->tick_timer);
    if (self->loop && self->flush_timer != -1)
        zloop_timer_end(self->loop, self->flush_timer);
    for (int i = 0; i < self->n_sources; i++) {
        s_pending_clear(&self->sources[i]);
        free(self->sources[i].pending);
    }
    zsock_destroy(&self->sub);
    crm_bus_client_destroy(&self->client);
    crm_stmt_clear(&self->advance);
    crm_stmt_clear(&self->load);
    crm_stmt_clear(&self->lock);
    free(self->consumer);
    free(self->endpoint);
    free(self->broker);
    free(self);
    *self_p = NULL;
}

int crm_subscriber_follow(crm_subscriber_t *self, const char *source) {
    if (self->n_sources == S_SOURCES_MAX || strlen(source) >= sizeof self->sources[0].name)
        return -1;
    s_source_t *s = &self->sources[self->n_sources++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", source);
    snprintf(s->prefix, sizeof s->prefix, "%s.", source);
    return 0;
}

void crm_subscriber_on_apply(crm_subscriber_t *self, crm_apply_fn *fn, void *arg) {
    self->apply = fn;
    self->apply_arg = arg;
}

void crm_subscriber_on_applied(crm_subscriber_t *self, crm_applied_fn *fn, void *arg) {
    self->applied_fn = fn;
    self->applied_arg = arg;
}

static s_source_t *s_source_find(crm_subscriber_t *self, const char *name, size_t len) {
    for (int i = 0; i < self->n_sources; i++)
        if (strlen(self->sources[i].name) == len && memcmp(self->sources[i].name, name, len) == 0)
            return &self->sources[i];
    return NULL;
}

//  Read a source's last applied seq from the inbox. -1 when the database failed.
static int s_source_load(crm_subscriber_t *self, s_source_t *source) {
    const char *params[] = {source->name};
    PGresult *res = crm_db_query(self->db, &self->load, params);
    if (!res)
        return -1;
    source->last_seq = PQntuples(res) ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return 0;
}

//  Apply events[0..n) (consecutive, the first last_seq + 1) and advance the inbox in
//  one transaction. Returns 0, or -1 (rolled back: the inbox is read again, as
//  another process of the consumer may have applied them).
static int s_apply(crm_subscriber_t *self, s_source_t *source, Crm__Event **events, size_t n) {
    if (n == 0)
        return 0;
    if (!crm_db_ok(self->db) && crm_db_connect(self->db, 0) != 0)
        return -1;
    if (crm_db_begin(self->db) != 0)
        return -1;
    //  Lock our inbox row first: two processes of one consumer take turns, and the
    //  second sees what the first applied.
    uint64_t last = 0;
    {
        const char *params[] = {source->name};
        PGresult *res = crm_db_query(self->db, &self->lock, params);
        if (!res) {
            crm_db_rollback(self->db);
            return -1;
        }
        last = PQntuples(res) ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
        PQclear(res);
    }
    //  Skip what is applied already; a hole means our view is stale: start over.
    size_t skip = 0;
    while (skip < n && events[skip]->seq <= last)
        skip++;
    if (skip == n || events[skip]->seq != last + 1) {
        crm_db_rollback(self->db);
        source->last_seq = last;
        return skip == n ? 0 : -1;
    }
    if (self->apply &&
        self->apply(self->db, source->name, events + skip, n - skip, self->apply_arg) != 0) {
        crm_db_rollback(self->db);
        return -1;
    }
    char seq_text[24];
    snprintf(seq_text, sizeof seq_text, "%" PRIu64, events[n - 1]->seq);
    const char *params[] = {source->name, seq_text};
    PGresult *res = crm_db_query(self->db, &self->advance, params);
    if (!res || crm_db_commit(self->db) != 0) {
        PQclear(res);
        crm_db_rollback(self->db);
        return -1;
    }
    PQclear(res);
    source->last_seq = events[n - 1]->seq;
    self->applied += n - skip;
    if (self->applied_fn)
        self->applied_fn(self->applied_arg);
    return 0;
}

//  A replay or an apply failed: stay stale and try again later, backing off while the
//  failures go on.
static void s_retry_later(s_source_t *source) {
    source->stale = true;
    int64_t delay = S_RETRY_MS;
    for (int i = 0; i < source->failures && delay < S_RETRY_MAX_MS; i++)
        delay *= 2;
    if (delay > S_RETRY_MAX_MS)
        delay = S_RETRY_MAX_MS;
    source->failures++;
    source->retry_at = zclock_mono() + delay;
}

//  Apply what is pending for source, in batches. On failure the pending events are
//  dropped and the source is marked stale: a replay fetches them again later.
static void s_flush(crm_subscriber_t *self, s_source_t *source) {
    size_t done = 0;
    while (done < source->n_pending) {
        size_t n = source->n_pending - done;
        if (n > (size_t)self->apply_batch)
            n = self->apply_batch;
        if (s_apply(self, source, source->pending + done, n) != 0) {
            crm_log_kv(CRM_LOG_WARN, "could not apply events; will replay them", "consumer",
                       self->consumer, "source", source->name, NULL);
            s_retry_later(source);
            break;
        }
        done += n;
    }
    s_pending_clear(source);
}

//  --- Catching up ---------------------------------------------------------------------
//
//  A source left behind is caught up through Events.Replay calls, one page per call,
//  made asynchronously: the loop serves the daemon's requests and heartbeats while a
//  call waits, however long the source takes to answer (up to events.replay_timeout_ms).
//  The subscriber makes one call at a time; when it ends, the next source behind goes.

static void s_catch_up(crm_subscriber_t *self, s_source_t *source);
static void s_catch_up_stale(crm_subscriber_t *self);

//  The request body of a replay from from_seq.
static zmsg_t *s_replay_request(crm_subscriber_t *self, uint64_t from_seq) {
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = "Events.Replay";
    header.tenant_id = "*";
    header.actor_id = self->consumer;
    header.role = "system";
    Crm__Events__ReplayRequest req = CRM__EVENTS__REPLAY_REQUEST__INIT;
    req.from_seq = from_seq;
    req.limit = self->replay_limit;
    return crm_bus_request_new(&header, &req.base);
}

//  A replay's answer (taken) as a page of events (caller frees), or NULL (logged).
static Crm__Events__ReplayResponse *s_replay_page(crm_subscriber_t *self, s_source_t *source,
                                                  zmsg_t *reply) {
    if (!reply) {
        crm_log_kv(CRM_LOG_WARN, "replay call got no answer", "consumer", self->consumer,
                   "source", source->name, NULL);
        return NULL;
    }
    ProtobufCMessage *page = NULL;
    Crm__ReplyHeader *rh =
        crm_bus_reply_parse(&reply, &crm__events__replay_response__descriptor, &page);
    if (!page)
        crm_log_kv(CRM_LOG_ERROR, "replay refused", "consumer", self->consumer, "source",
                   source->name, "error", rh ? rh->error : "malformed reply", "detail",
                   rh ? rh->message : "", NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return (Crm__Events__ReplayResponse *)page;
}

//  The call went wrong: this source waits (backing off), the others may go.
static void s_call_failed(crm_subscriber_t *self, s_source_t *source) {
    s_retry_later(source);
    s_catch_up_stale(self);
}

static void s_replay_send(crm_subscriber_t *self, s_source_t *source, uint64_t from_seq);

//  A page came back: apply it in order (stopping at anything out of line, none
//  expected), then go on, or stop when nothing older than the head is missing. When the
//  page is not the last, the next is asked for first, so that the source reads it while
//  this one is applied.
static void s_on_replayed(zmsg_t *reply, void *arg) {
    crm_subscriber_t *self = arg;
    s_source_t *source = self->calling;
    self->calling = NULL;
    Crm__Events__ReplayResponse *page = s_replay_page(self, source, reply);
    if (!page) {
        s_call_failed(self, source);
        return;
    }
    if (zclock_mono() < source->retry_at) {
        //  Asked for ahead of a page whose apply then failed: not wanted now.
        crm__events__replay_response__free_unpacked(page, NULL);
        s_catch_up_stale(self);
        return;
    }
    if (page->head_seq > source->head_seq)
        source->head_seq = page->head_seq;
    uint64_t *seqs = malloc((page->n_events ? page->n_events : 1) * sizeof *seqs);
    assert(seqs);
    for (size_t i = 0; i < page->n_events; i++)
        seqs[i] = page->events[i]->seq;
    crm_replay_page_t check =
        crm_replay_page_check(source->last_seq, seqs, page->n_events, page->head_seq);
    free(seqs);
    if (check.more)
        s_replay_send(self, source, page->events[check.usable - 1]->seq + 1);
    uint64_t before = source->last_seq;
    int rc = 0;
    for (size_t done = 0; done < check.usable && rc == 0;) {
        size_t chunk = check.usable - done;
        if (chunk > (size_t)self->apply_batch)
            chunk = self->apply_batch;
        rc = s_apply(self, source, page->events + done, chunk);
        done += chunk;
    }
    crm__events__replay_response__free_unpacked(page, NULL);
    if (rc != 0) {
        s_retry_later(source);
        if (!self->calling) // else its answer, when it comes, goes on to the others
            s_catch_up_stale(self);
        return;
    }
    source->failures = 0;
    if (self->calling) // the next page is on its way
        return;
    //  Events that went by live while the call waited were dropped (the source was
    //  stale): if the head moved past the page, ask again at once, as long as pages
    //  bring something; a source that announces a head but gives nothing is asked
    //  again later.
    source->stale = source->last_seq < source->head_seq;
    if (source->stale && source->last_seq > before) {
        s_catch_up(self, source);
        return;
    }
    if (source->stale)
        source->retry_at = zclock_mono() + S_RETRY_MS;
    s_catch_up_stale(self);
}

static void s_replay_send(crm_subscriber_t *self, s_source_t *source, uint64_t from_seq) {
    zmsg_t *body = s_replay_request(self, from_seq);
    self->replays++;
    self->calling = source;
    if (crm_bus_client_send(self->client, self->loop, source->name, &body,
                            self->replay_timeout_ms, s_on_replayed, self) != 0) {
        self->calling = NULL;
        s_retry_later(source);
    }
}

//  The broker's answer to "has source a live worker?" (mmi.service).
static void s_on_probed(zmsg_t *reply, void *arg) {
    crm_subscriber_t *self = arg;
    s_source_t *source = self->calling;
    self->calling = NULL;
    char *answer = reply ? zmsg_popstr(reply) : NULL;
    bool up = answer && strcmp(answer, "200") == 0;
    zstr_free(&answer);
    zmsg_destroy(&reply);
    if (up)
        s_replay_send(self, source, source->last_seq + 1);
    else
        s_call_failed(self, source);
}

//  Catch up with source (stale): apply what is pending, then replay from the inbox.
//  After a failure, a quick question to the broker first: no replay call (which may
//  wait its whole timeout) while the source has no live worker.
static void s_catch_up(crm_subscriber_t *self, s_source_t *source) {
    if (self->calling || zclock_mono() < source->retry_at)
        return; // the call waiting goes on to the others when it ends
    s_flush(self, source);
    if (!self->client)
        self->client = crm_bus_client_new(self->broker);
    if (!self->client) {
        s_retry_later(source);
        return;
    }
    if (source->failures == 0) {
        s_replay_send(self, source, source->last_seq + 1);
        return;
    }
    zmsg_t *body = zmsg_new();
    zmsg_addstr(body, source->name);
    self->calling = source;
    if (crm_bus_client_send(self->client, self->loop, "mmi.service", &body, S_PROBE_MS,
                            s_on_probed, self) != 0) {
        self->calling = NULL;
        s_retry_later(source);
    }
}

//  One message from the SUB socket: topic, then an envelope (or a Head).
static void s_receive(crm_subscriber_t *self, zmsg_t *msg) {
    zframe_t *topic = zmsg_first(msg);
    zframe_t *body = zmsg_next(msg);
    if (!topic || !body || zmsg_size(msg) != 2)
        return;
    const char *t = (const char *)zframe_data(topic);
    size_t tlen = zframe_size(topic);
    const char *dot = memchr(t, '.', tlen);
    if (!dot)
        return;
    s_source_t *source = s_source_find(self, t, (size_t)(dot - t));
    if (!source)
        return;
    size_t rest = tlen - (size_t)(dot - t) - 1;
    if (rest == 5 && memcmp(dot + 1, "_head", 5) == 0) {
        Crm__Events__Head *head =
            crm__events__head__unpack(NULL, zframe_size(body), zframe_data(body));
        if (head) {
            if (head->head_seq > source->head_seq)
                source->head_seq = head->head_seq;
            if (head->head_seq > source->last_seq + source->n_pending)
                source->stale = true;
            crm__events__head__free_unpacked(head, NULL);
        }
        return;
    }
    Crm__Event *event = crm__event__unpack(NULL, zframe_size(body), zframe_data(body));
    if (!event) {
        crm_log_kv(CRM_LOG_WARN, "malformed event dropped", "consumer", self->consumer, "source",
                   source->name, NULL);
        return;
    }
    if (event->seq > source->head_seq)
        source->head_seq = event->seq;
    if (source->wire_seq && event->seq > source->wire_seq + 1)
        self->gaps++; // some were lost on the way
    source->wire_seq = event->seq;
    if (source->stale) { // a replay will bring it, in order
        crm__event__free_unpacked(event, NULL);
        return;
    }
    switch (crm_seq_check(source->last_seq + source->n_pending, event->seq)) {
    case CRM_SEQ_DUPLICATE:
        crm__event__free_unpacked(event, NULL);
        break;
    case CRM_SEQ_GAP:
        crm__event__free_unpacked(event, NULL);
        source->stale = true;
        break;
    case CRM_SEQ_APPLY:
        if (source->n_pending == source->cap) {
            source->cap = source->cap ? source->cap * 2 : 256;
            source->pending = realloc(source->pending, source->cap * sizeof *source->pending);
            assert(source->pending);
        }
        source->pending[source->n_pending++] = event;
        if (source->n_pending >= (size_t)self->apply_batch)
            s_flush(self, source);
        break;
    }
}

//  Apply what is pending and catch up the sources left behind.
static void s_settle(crm_subscriber_t *self) {
    for (int i = 0; i < self->n_sources; i++) {
        s_source_t *source = &self->sources[i];
        s_flush(self, source);
        if (source->stale)
            s_catch_up(self, source);
    }
}

static int s_sub_on_flush(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    crm_subscriber_t *self = arg;
    self->flush_timer = -1;
    s_settle(self);
    return 0;
}

//  Read what has arrived. Events trickle in one by one as a relay publishes a claim:
//  rather than a transaction for each, wait S_FLUSH_DELAY_MS for the rest of them
//  (a full batch is applied at once, in s_receive).
static void s_pump(void *arg) {
    crm_subscriber_t *self = arg;
    for (int read = 0; read < S_BURST_MAX; read++) {
        zmsg_t *msg = zmsg_recv_nowait(self->sub);
        if (!msg)
            break;
        s_receive(self, msg);
        zmsg_destroy(&msg);
    }
    bool stale = false, pending = false;
    for (int i = 0; i < self->n_sources; i++) {
        stale = stale || self->sources[i].stale;
        pending = pending || self->sources[i].n_pending > 0;
    }
    if (stale)
        s_settle(self);
    else if (pending && self->flush_timer == -1)
        self->flush_timer = zloop_timer(self->loop, S_FLUSH_DELAY_MS, 1, s_sub_on_flush, self);
    crm_zwatch_recheck(&self->watch); // a burst cut short leaves messages waiting
}

//  Catch up the sources left behind: when a call ends, and every second (a failed
//  replay, a head announced ahead).
static void s_catch_up_stale(crm_subscriber_t *self) {
    for (int i = 0; i < self->n_sources && !self->calling; i++)
        if (self->sources[i].stale)
            s_catch_up(self, &self->sources[i]);
}

static int s_sub_on_tick(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    s_catch_up_stale(arg);
    return 0;
}

int crm_subscriber_attach(crm_subscriber_t *self, zloop_t *loop) {
    assert(self);
    self->loop = loop;
    self->sub = zsock_new(ZMQ_SUB);
    assert(self->sub);
    zsock_set_linger(self->sub, 0);
    zsock_set_rcvhwm(self->sub, self->rcvhwm); // past it, drop: replay fills the gap
    for (int i = 0; i < self->n_sources; i++)
        zsock_set_subscribe(self->sub, self->sources[i].prefix);
    if (zsock_connect(self->sub, "%s", self->endpoint)) {
        crm_log_kv(CRM_LOG_ERROR, "could not connect the subscriber", "endpoint", self->endpoint,
                   NULL);
        return -1;
    }
    if (crm_zwatch_start(&self->watch, loop, self->sub, s_pump, self) != 0)
        return -1;
    self->tick_timer = zloop_timer(loop, 1000, 0, s_sub_on_tick, self);
    if (self->tick_timer == -1)
        return -1;
    //  Start from the inbox, then replay whatever was published while we were away.
    for (int i = 0; i < self->n_sources; i++) {
        s_source_t *source = &self->sources[i];
        if (s_source_load(self, source) != 0)
            source->retry_at = 0;
        source->stale = true;
        s_catch_up(self, source);
    }
    return 0;
}

uint64_t crm_subscriber_last_seq(crm_subscriber_t *self, const char *source) {
    s_source_t *s = s_source_find(self, source, strlen(source));
    return s ? s->last_seq : 0;
}

uint64_t crm_subscriber_applied(crm_subscriber_t *self) {
    return self->applied;
}

uint64_t crm_subscriber_replays(crm_subscriber_t *self) {
    return self->replays;
}

uint64_t crm_subscriber_gaps(crm_subscriber_t *self) {
    return self->gaps;
}
