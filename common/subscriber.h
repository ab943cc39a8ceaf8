/*  subscriber: follows other services' events, applying each once, in order (DESIGN §6).

    A subscriber follows sources through the gateway's XPUB endpoint. It keeps the last
    applied seq of each source in <schema>.inbox and applies events in batches, one
    transaction per batch that also advances the inbox, so an event is applied once. A
    seq beyond the next expected one (a PUB drop, a restart, a relay that died between
    numbering and publishing) makes it call the source's "Events.Replay" method
    (replay.h) over the bus and apply the missing events first; the relays' head
    announcements ("<source>._head", every second) show a lost last event too.

    Timing: a subscriber waits 5 ms so one claim's events make one transaction; replay
    calls are made asynchronously, one page each, so the daemon's heartbeats and
    requests go on while a call waits (even for a source that does not answer, up to
    events.replay_timeout_ms), and the next page is asked for before the current one is
    applied; a failed replay is retried with backoff (1 s doubling to 30 s), asking the
    broker first whether the source has a live worker.

        crm_subscriber_t *sub = crm_subscriber_new(cfg, "reporting", db);
        crm_subscriber_follow(sub, "contacts");
        crm_subscriber_on_apply(sub, apply_batch, state);
        crm_subscriber_attach(sub, loop);      // catches up, then follows live
*/
#ifndef CRM_SUBSCRIBER_H
#define CRM_SUBSCRIBER_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "common.pb-c.h"
#include "config.h"
#include "db.h"

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
