/*  outbox: the event catalogue, the event tables, and the one outbox writer (DESIGN §6).

    A service that changes state writes the event describing the change into its own
    <schema>.outbox in the same transaction. Every event of every service is written
    here, one way or the other, from one definition of the insert (CRM_OUTBOX_INSERT_SQL):

    - the writer: rows buffered, then written by one statement (an INSERT ... SELECT
      FROM unnest of arrays) in the caller's transaction, however many they are:

          crm_outbox_t *outbox = crm_outbox_new();
          crm_outbox_add(outbox, tenant_id, lead_id, &event.base, NULL);  // per event
          rc = crm_outbox_write(outbox, db);                              // one statement
          crm_outbox_destroy(&outbox);

    - the in-statement form, for a statement that writes a change and its event
      together (one statement, one round trip): CRM_OUTBOX_SQL names a CTE inserting
      the event rows, and crm_outbox_event_init gives its parameters (event id, time,
      payload).

    Both write to the table `outbox` as the connection's search path finds it: the
    schema of the service (crm_db_set_schema), like every statement of a service.

    The relay (relay.h) numbers and publishes committed rows; Events.Replay (replay.h)
    reads them back; subscribers (subscriber.h) apply them.
*/
#ifndef CRM_OUTBOX_H
#define CRM_OUTBOX_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "common.pb-c.h"
#include "db.h"
#include "events.pb-c.h"

//  --- The catalogue ---------------------------------------------------------------------

//  The payload type of an event type name ("ContactCreated"), NULL if unknown.
const ProtobufCMessageDescriptor *crm_event_descriptor(const char *type);

//  The event type name of a payload message ("ContactCreated" for
//  crm.events.ContactCreated): the descriptor's short name.
const char *crm_event_type(const ProtobufCMessageDescriptor *descriptor);

//  --- Tables ----------------------------------------------------------------------------

//  Create the framework's event tables in schema (idempotent): outbox, outbox_claims,
//  outbox_state, inbox and the views outbox_published and outbox_pending (an outbox of
//  the earlier layout, with a seq column, is converted). crm_service_prepare_schema calls
//  it for every service.
int crm_events_prepare_schema(crm_db_t *db, const char *schema);

//  --- The one insert ---------------------------------------------------------------------

//  The one definition of an event's insert: one outbox row for each row of `from` (SQL
//  FROM-list text), each column an SQL expression: the event id (text of a uuid), the
//  type (text), the tenant, the aggregate id (text), the payload (a bytea literal's
//  text) and the time of the change (text of a timestamptz). The writer's statement and
//  CRM_OUTBOX_SQL are made from it.
#define CRM_OUTBOX_INSERT_SQL(event_id, type, tenant, aggregate, payload, at, from)          \
    "INSERT INTO outbox (event_id, type, tenant_id, aggregate_id, payload, occurred_at)"     \
    " SELECT " event_id "::uuid, " type ", " tenant ", " aggregate ", " payload "::bytea,"   \
    " " at "::timestamptz FROM " from

//  --- The writer ------------------------------------------------------------------------

typedef struct _crm_outbox_t crm_outbox_t;

//  A writer with an empty buffer.
crm_outbox_t *crm_outbox_new(void);
void crm_outbox_destroy(crm_outbox_t **self_p);

//  Buffer one event: payload (a message of the catalogue, whose type names the event)
//  about aggregate_id of tenant_id, stamped now (or at occurred_at when not NULL).
//  Returns 0, or -1 when payload's type is not in the catalogue (nothing buffered).
int crm_outbox_add(crm_outbox_t *self, const char *tenant_id, const char *aggregate_id,
                   const ProtobufCMessage *payload, const char *occurred_at);

//  Events buffered and not yet written.
size_t crm_outbox_size(crm_outbox_t *self);

//  Write every buffered event with one statement in db's current transaction (or, with
//  none open, in a transaction of its own), and empty the buffer, written or not.
//  Returns 0 (nothing buffered: no statement), or -1 when the statement failed.
int crm_outbox_write(crm_outbox_t *self, crm_db_t *db);

//  Drop the buffered events unwritten.
void crm_outbox_clear(crm_outbox_t *self);

//  --- The in-statement form --------------------------------------------------------------

//  Inside a service's own statement (so the change and its event are one statement): a
//  CTE named cte inserting one outbox row of type for each row of `row` (a FROM list),
//  for tenant $1; aggregate (SQL text), at, id and payload name the SQL expressions or
//  parameters holding the aggregate id, the time of the change, the event id and the
//  payload (from a crm_outbox_event_t).
#define CRM_OUTBOX_SQL(cte, type, row, aggregate, at, id, payload)                            \
    " " cte " AS (" CRM_OUTBOX_INSERT_SQL(id, "'" type "'", "$1", aggregate, payload, at, row) ")"

//  The parameters of one event row of the in-statement form, as text.
typedef struct {
    char event_id[37];
    const char *type;       // the payload's type name
    char occurred_at[40];   // RFC 3339, UTC, microseconds
    char *payload_hex;      // the packed payload as a bytea literal ("\x0a12...")
} crm_outbox_event_t;

//  Fill ev for payload, stamped now (or at occurred_at when not NULL). Returns 0, or -1
//  when payload's type is not in the catalogue.
int crm_outbox_event_init(crm_outbox_event_t *ev, const ProtobufCMessage *payload,
                          const char *occurred_at);
void crm_outbox_event_reset(crm_outbox_event_t *ev);

//  --- Reading the outbox (for the relay and replay) --------------------------------------

//  The columns every reader of the outbox selects, in this order (a row of them becomes
//  an envelope through crm_outbox_event_from_row).
#define CRM_OUTBOX_EVENT_COLUMNS                                                              \
    "seq, event_id::text, type, tenant_id, aggregate_id, payload,"                           \
    " to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

//  The outbox rows of one claim (the columns of an outbox_claims row given as
//  expressions), in no order: written by a transaction the claim's snapshot (upto) sees
//  as committed and the one before it (after) did not (one in progress at after, or
//  begun since), with (xid, id) in (from, to]. Each branch is one tight index range, so
//  that neither a transaction that wrote a million rows nor a long-running one anywhere
//  in the cluster turns a claim into a scan: the rows of from's transaction after from,
//  those of to's up to to, and the transactions strictly between, in progress at after
//  or begun since. tail ends each branch (an ORDER BY and LIMIT, or nothing). %1$s is
//  the schema.
#define CRM_OUTBOX_CLAIM_IN(after, upto)                                                      \
    " AND NOT pg_visible_in_snapshot(o.xid, " after ")"                                       \
    " AND pg_visible_in_snapshot(o.xid, " upto ")"
#define CRM_OUTBOX_CLAIM_ROWS(after, upto, fx, fi, tx, ti, tail)                             \
    "((SELECT o.* FROM %1$s.outbox o WHERE o.xid = " fx " AND o.id > " fi                     \
    "  AND o.id <= CASE WHEN " fx " = " tx " THEN " ti " ELSE 9223372036854775807 END"        \
    CRM_OUTBOX_CLAIM_IN(after, upto) tail ")"                                                 \
    " UNION ALL (SELECT o.* FROM %1$s.outbox o WHERE o.xid = " tx " AND " tx " > " fx         \
    "  AND o.id <= " ti CRM_OUTBOX_CLAIM_IN(after, upto) tail ")"                             \
    " UNION ALL (SELECT o.* FROM %1$s.outbox o"                                               \
    "  WHERE o.xid = ANY (array(SELECT x FROM pg_snapshot_xip(" after ") x"                   \
    "   WHERE x > " fx " AND x < " tx "))" CRM_OUTBOX_CLAIM_IN(after, upto) tail ")"          \
    " UNION ALL (SELECT o.* FROM %1$s.outbox o WHERE o.xid >= pg_snapshot_xmax(" after ")"    \
    "  AND o.xid > " fx " AND o.xid < " tx CRM_OUTBOX_CLAIM_IN(after, upto) tail "))"

//  The rows of the outbox_claims row c.
#define CRM_OUTBOX_CLAIM_ROWS_OF(c)                                                           \
    CRM_OUTBOX_CLAIM_ROWS(c ".after_snap", c ".upto_snap", c ".from_xid", c ".from_id",       \
                          c ".to_xid", c ".to_id", "")

//  The rows of the claims in claims (a table or subquery) with their seq.
#define CRM_OUTBOX_NUMBERED_SQL(claims)                                                       \
    "SELECT c.first_seq - 1 + row_number() OVER (PARTITION BY c.first_seq"                    \
    "  ORDER BY o.xid, o.id) AS seq, o.*, c.claimed_at AS published_at"                       \
    " FROM " claims " c CROSS JOIN LATERAL " CRM_OUTBOX_CLAIM_ROWS_OF("c") " o"

//  One row of CRM_OUTBOX_EVENT_COLUMNS as an envelope from source (caller frees with
//  crm__event__free_unpacked), NULL if the row is damaged.
Crm__Event *crm_outbox_event_from_row(PGresult *res, int row, const char *source);

#endif
