/*  events: the transactional outbox, its relay, replay, and subscribers (DESIGN §6).

    A service that changes state writes the event describing the change into its own
    <schema>.outbox in the same transaction (crm_outbox_event_init gives the columns;
    the service's SQL inserts them). The relay of each process of that service claims
    committed rows in order, numbers them (seq: 1, 2, 3, ... per source, no gaps) in the
    same transaction that claims them, and publishes them to the gateway's XSUB endpoint
    as two frames: the topic "<source>.<Type>" and a crm.Event envelope. Several
    processes of one service may relay at once: the claim locks the source's sequence
    row (SKIP LOCKED), so a row is numbered and published by one of them only.

    A subscriber follows sources through the gateway's XPUB endpoint. It keeps the last
    applied seq of each source in <schema>.inbox and applies events in batches, one
    transaction per batch that also advances the inbox, so an event is applied once. A
    seq beyond the next expected one (a PUB drop, a restart, a relay that died between
    numbering and publishing) makes it call the source's "Events.Replay" method over
    the bus and apply the missing events first; each relay also publishes the source's
    head seq on "<source>._head" every second, so a lost last event is noticed too.

    Timing: a relay kicked by a commit waits events.relay_delay_ms (40 ms) so a busy
    moment costs one claim; a
    subscriber waits 5 ms so one claim's events make one transaction; replay calls are
    made asynchronously, one page each, so the daemon's heartbeats and requests go on
    while a call waits (even for a source that does not answer, up to
    events.replay_timeout_ms), and the next page is asked for before the current one is
    applied; a failed replay is retried with backoff (1 s doubling to 30 s), asking the
    broker first whether the source has a live worker.

        crm_subscriber_t *sub = crm_subscriber_new(cfg, "reporting", db);
        crm_subscriber_follow(sub, "contacts");
        crm_subscriber_on_apply(sub, apply_batch, state);
        crm_subscriber_attach(sub, loop);      // catches up, then follows live

    Outbox rows are deleted after the retention (events.retention_days); a replay from
    before the oldest kept seq is refused with 410 and error "events_expired".
*/
#ifndef CRM_EVENTS_H
#define CRM_EVENTS_H

#include <czmq.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "common.pb-c.h"
#include "config.h"
#include "db.h"
#include "events.pb-c.h"
#include "service.h"

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

//  --- Writing an event (inside the caller's transaction) ------------------------------

//  The columns of one outbox row as text parameters. The service's statement inserts
//      INSERT INTO <schema>.outbox (event_id, type, tenant_id, aggregate_id, payload,
//                                   occurred_at)
//      VALUES ($e::uuid, $t, $tenant, $aggregate, $p::bytea, $at::timestamptz)
//  with event_id, type, payload_hex and occurred_at from here.
typedef struct {
    char event_id[37];
    const char *type;       // the payload's type name
    char occurred_at[40];   // RFC 3339, UTC, microseconds
    char *payload_hex;      // the packed payload as a bytea literal ("\x0a12...")
} crm_outbox_event_t;

//  Or, inside a service's own statement (so the change and its event are one statement):
//  a CTE named cte inserting one outbox row of type for each row of `row`, for tenant $1;
//  aggregate (SQL text), at, id and payload name the SQL expressions or parameters
//  holding the aggregate id, the time of the change, the event id and the payload.
#define CRM_OUTBOX_SQL(cte, type, row, aggregate, at, id, payload)                            \
    " " cte " AS ("                                                                           \
    "  INSERT INTO outbox (event_id, type, tenant_id, aggregate_id, payload, occurred_at)"    \
    "  SELECT " id "::uuid, '" type "', $1, " aggregate ", " payload "::bytea,"               \
    "         " at "::timestamptz"                                                            \
    "  FROM " row ")"

//  Fill ev for payload, stamped now (or at occurred_at when not NULL). Returns 0, or -1
//  when payload's type is not in the catalogue.
int crm_outbox_event_init(crm_outbox_event_t *ev, const ProtobufCMessage *payload,
                          const char *occurred_at);
void crm_outbox_event_reset(crm_outbox_event_t *ev);

//  A ready statement inserting one outbox row: parameters event_id, type, tenant_id,
//  aggregate_id, payload (bytea literal), occurred_at. The caller frees it with
//  crm_outbox_stmt_free.
crm_stmt_t *crm_outbox_stmt_new(const char *schema);
void crm_outbox_stmt_free(crm_stmt_t **stmt_p);

//  Write one event for payload in the current transaction of db (not pipelined).
int crm_outbox_write(crm_db_t *db, const crm_stmt_t *stmt, const char *tenant_id,
                     const char *aggregate_id, const ProtobufCMessage *payload);

//  --- Relay -----------------------------------------------------------------------------

typedef struct _crm_relay_t crm_relay_t;

//  A relay for source (the service and schema name), with its own database connection
//  and a PUB socket to events.publish_endpoint.
crm_relay_t *crm_relay_new(const crm_config_t *cfg, const char *source);
void crm_relay_destroy(crm_relay_t **self_p);

//  Register the relay's timers and database socket with loop.
int crm_relay_attach(crm_relay_t *self, zloop_t *loop);

//  Something was committed to the outbox: publish it on the next turn of the loop.
void crm_relay_kick(crm_relay_t *self);

//  Events this relay published since start.
uint64_t crm_relay_published(crm_relay_t *self);

//  --- Replay (the source's side) ------------------------------------------------------

//  The "Events.Replay" method, which the service core adds to every service's table:
//  a crm.events.ReplayRequest answered with a crm.events.ReplayResponse.
extern const crm_method_t crm_events_replay_method;

//  --- Sequencing (the subscriber's gap detector) ---------------------------------------

typedef enum {
    CRM_SEQ_APPLY,     // the next one: apply it
    CRM_SEQ_DUPLICATE, // applied already: drop it
    CRM_SEQ_GAP        // events between last_applied and seq are missing: replay first
} crm_seq_action_t;

crm_seq_action_t crm_seq_check(uint64_t last_applied, uint64_t seq);

//  A page of a replay (the seqs of its events, in order) answered after last_applied:
//  how many of its first events continue the sequence without a hole (usable), and
//  whether to ask for the next page (the page was whole and the head is further on).
typedef struct {
    size_t usable;
    bool more;
} crm_replay_page_t;

crm_replay_page_t crm_replay_page_check(uint64_t last_applied, const uint64_t *seqs, size_t n,
                                        uint64_t head_seq);

//  --- Subscriber -----------------------------------------------------------------------

//  Apply events (all from one source, in seq order, each seq the previous + 1) inside
//  the transaction open on db. Return 0 to commit them with the inbox's advance, -1
//  to roll back (the subscriber retries the batch later).
typedef int(crm_apply_fn)(crm_db_t *db, const char *source, Crm__Event **events, size_t n,
                          void *arg);

//  Called after a batch committed (e.g. to kick the consumer's own relay).
typedef void(crm_applied_fn)(void *arg);

typedef struct _crm_subscriber_t crm_subscriber_t;

//  A subscriber for consumer (its schema holds the inbox) applying through db, a
//  connection of its own that is not in pipeline mode.
crm_subscriber_t *crm_subscriber_new(const crm_config_t *cfg, const char *consumer,
                                     crm_db_t *db);
//  Destroy from outside the loop, or from a poller handler: zloop may still call the
//  subscriber's own poller later in the turn of a timer handler.
void crm_subscriber_destroy(crm_subscriber_t **self_p);

//  Follow every event of source.
int crm_subscriber_follow(crm_subscriber_t *self, const char *source);

void crm_subscriber_on_apply(crm_subscriber_t *self, crm_apply_fn *fn, void *arg);
void crm_subscriber_on_applied(crm_subscriber_t *self, crm_applied_fn *fn, void *arg);

//  Connect, catch up with each source through replay, then follow live.
int crm_subscriber_attach(crm_subscriber_t *self, zloop_t *loop);

//  The last seq applied from source (0: none).
uint64_t crm_subscriber_last_seq(crm_subscriber_t *self, const char *source);

//  Events applied since start, and replay calls made.
uint64_t crm_subscriber_applied(crm_subscriber_t *self);
uint64_t crm_subscriber_replays(crm_subscriber_t *self);

//  Gaps seen in the live stream: events lost on the wire (replay brings them).
uint64_t crm_subscriber_gaps(crm_subscriber_t *self);

#endif
