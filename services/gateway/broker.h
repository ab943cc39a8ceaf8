/*  broker: the Majordomo Protocol 0.1 broker (ZeroMQ RFC 7) inside the gateway.

    Binds one ROUTER socket to the configured tcp endpoint (and broker.local_endpoint,
    an ipc path, when set). Clients and workers may be anywhere; the gateway's own HTTP
    layer, on the broker's thread, submits in process (broker_submit), not over a socket.

    Beyond plain MDP (DESIGN §4):
    - every request's first body frame is a crm.RequestHeader; the broker reads its
      deadline_ms (default: broker_default_deadline_ms) and guarantees the client an
      answer by then: a crm.ReplyHeader with code
        404 "unknown_service"  no worker of that service was ever seen and none appeared
                               before the deadline,
        503 "unavailable"      the service is known but has no live worker (answered at
                               once, not at the deadline), or the worker handling the
                               request died (its connection dropped or heartbeats stopped),
                               or it waited queued behind busy workers until the deadline,
        504 "timeout"          a worker took the request but did not reply in time;
      a late reply from a worker after that is dropped;
    - mmi.service answers "200" or "404" as in RFC 8 (MMI);
    - malformed messages are dropped (logged once a minute per peer) and counted; the
      broker keeps serving;
    - limits: deadlines are cut to broker.max_deadline_ms; a remote client's requests out
      (broker.max_client_queue) and the queued bodies of all (broker.max_queued_bytes)
      are capped, beyond which a request is answered 503 "overloaded" at once.
*/
#ifndef GATEWAY_BROKER_H
#define GATEWAY_BROKER_H

#include <czmq.h>
#include "config.h"

typedef struct _broker_t broker_t;

//  Bind to cfg->broker_endpoint (and the local endpoint). NULL on bind failure (logged).
broker_t *broker_new(const crm_config_t *cfg);
void broker_destroy(broker_t **self_p);

//  Register the ROUTER reader and the heartbeat/deadline timer with loop.
//  Destroy the broker after zloop_start has returned (it does not touch the loop).
int broker_attach(broker_t *self, zloop_t *loop);

//  An in-process client (the gateway's HTTP layer, on the broker's own thread): submit
//  a request body (RequestHeader frame + request frame; taken) for service. fn is
//  called exactly once with the reply frames (ReplyHeader + response; fn takes them):
//  the worker's reply or the broker's own 404/503/504 -- possibly before broker_submit
//  returns. Must be called from the thread running the broker's loop.
typedef void(broker_reply_fn)(zmsg_t *reply, void *arg);
int broker_submit(broker_t *self, const char *service, zmsg_t **body_p, broker_reply_fn *fn,
                  void *arg);

//  Answer every in-process request still waiting with code (at shutdown).
void broker_fail_local(broker_t *self, unsigned code, const char *message);

//  Live workers per service, for /metrics and /readyz: a snapshot under a lock, which the
//  gateway reads from the broker's own thread and the broker's unit test from another
//  (it changes when a worker registers or dies, never per request).
//  Calls fn(service, live_workers, arg) for each service ever seen.
void broker_each_service(broker_t *self, void (*fn)(const char *service, int workers, void *arg),
                         void *arg);

//  Thread-safe: live workers of one service (0 when unknown).
int broker_service_workers(broker_t *self, const char *service);

//  The limits' counters (deadlines cut, requests refused per limit, malformed messages
//  dropped) as Prometheus text appended to out; read from any thread.
void broker_render_metrics(broker_t *self, zchunk_t *out);

//  The tcp endpoint actually bound, with a wildcard port resolved
//  (e.g. "tcp://127.0.0.1:41235" for "tcp://127.0.0.1:*"). Owned by the broker.
const char *broker_endpoint(broker_t *self);

#endif
