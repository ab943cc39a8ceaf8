/*  outbox: the catalogue, the event tables and the one writer. See outbox.h.

    The tables number events at publish time, without rewriting rows (relay.c tells
    how): each row carries the id of the transaction that wrote it (xid), and the relay
    records claims of snapshots in outbox_claims rather than writing a seq into rows.
*/
#include "outbox.h"
#include "ids.h"

#include <assert.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --- The catalogue ---------------------------------------------------------------------

static const ProtobufCMessageDescriptor *const s_catalogue[] = {
    &crm__events__contact_created__descriptor,
    &crm__events__contact_updated__descriptor,
    &crm__events__contact_deleted__descriptor,
    &crm__events__contact_merged__descriptor,
    &crm__events__contact_unmerged__descriptor,
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
    &crm__events__notification_queued__descriptor,
    &crm__events__notification_suppressed__descriptor,
    &crm__events__notification_sent__descriptor,
    &crm__events__notification_delivered__descriptor,
    &crm__events__notification_failed__descriptor,
    &crm__events__notification_opened__descriptor,
    &crm__events__notification_clicked__descriptor,
    &crm__events__notification_inbound_received__descriptor,
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

//  A row of CRM_OUTBOX_EVENT_COLUMNS as an envelope.
Crm__Event *crm_outbox_event_from_row(PGresult *res, int row, const char *source) {
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
        "CREATE OR REPLACE VIEW %1$s.outbox_published AS " CRM_OUTBOX_NUMBERED_SQL("%1$s.outbox_claims") ";"
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

//  --- The in-statement form's parameters ------------------------------------------------

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


//  --- The writer ------------------------------------------------------------------------

//  One buffered event: its id, type, time and payload, and whose it is.
typedef struct {
    crm_outbox_event_t ev;
    char *tenant_id;
    char *aggregate_id;
} s_row_t;

struct _crm_outbox_t {
    s_row_t *rows;
    size_t n, cap;
};

//  Every buffered row in one statement: the columns as six text arrays, unnested.
static const crm_stmt_t s_write = {
    .name = "crm_outbox_write",
    .sql = CRM_OUTBOX_INSERT_SQL("r.e", "r.t", "r.n", "r.a", "r.p", "r.o",
                                 "unnest($1::text[], $2::text[], $3::text[], $4::text[],"
                                 " $5::text[], $6::text[]) AS r(e, t, n, a, p, o)"),
    .nparams = 6,
    .writes = true};

crm_outbox_t *crm_outbox_new(void) {
    crm_outbox_t *self = calloc(1, sizeof *self);
    assert(self);
    return self;
}

void crm_outbox_destroy(crm_outbox_t **self_p) {
    assert(self_p);
    crm_outbox_t *self = *self_p;
    if (!self)
        return;
    crm_outbox_clear(self);
    free(self->rows);
    free(self);
    *self_p = NULL;
}

int crm_outbox_add(crm_outbox_t *self, const char *tenant_id, const char *aggregate_id,
                   const ProtobufCMessage *payload, const char *occurred_at) {
    assert(self);
    if (self->n == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 16;
        self->rows = realloc(self->rows, self->cap * sizeof *self->rows);
        assert(self->rows);
    }
    s_row_t *row = &self->rows[self->n];
    if (crm_outbox_event_init(&row->ev, payload, occurred_at) != 0)
        return -1;
    row->tenant_id = strdup(tenant_id ? tenant_id : "");
    row->aggregate_id = strdup(aggregate_id ? aggregate_id : "");
    self->n++;
    return 0;
}

size_t crm_outbox_size(crm_outbox_t *self) {
    return self ? self->n : 0;
}

void crm_outbox_clear(crm_outbox_t *self) {
    for (size_t i = 0; i < self->n; i++) {
        crm_outbox_event_reset(&self->rows[i].ev);
        free(self->rows[i].tenant_id);
        free(self->rows[i].aggregate_id);
    }
    self->n = 0;
}

//  Column k of every buffered row, as an array literal (caller frees).
static char *s_column(crm_outbox_t *self, int k) {
    const char **items = calloc(self->n, sizeof *items);
    assert(items);
    for (size_t i = 0; i < self->n; i++) {
        s_row_t *row = &self->rows[i];
        const char *columns[] = {row->ev.event_id,   row->ev.type,        row->tenant_id,
                                 row->aggregate_id, row->ev.payload_hex, row->ev.occurred_at};
        items[i] = columns[k];
    }
    char *array = crm_db_text_array(items, self->n);
    free(items);
    return array;
}

int crm_outbox_write(crm_outbox_t *self, crm_db_t *db) {
    assert(self);
    if (self->n == 0)
        return 0;
    char *arrays[6];
    for (int k = 0; k < 6; k++)
        arrays[k] = s_column(self, k);
    const char *params[] = {arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], arrays[5]};
    PGresult *res = crm_db_query(db, &s_write, params);
    for (int k = 0; k < 6; k++)
        free(arrays[k]);
    crm_outbox_clear(self);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}
