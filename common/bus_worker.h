/*  bus_worker: one Majordomo worker connection (a DEALER socket to the broker).

    Non-blocking so that one zloop can carry several workers (several requests in
    flight per process, DESIGN §3):

        crm_bus_worker_t *w = crm_bus_worker_new("tcp://127.0.0.1:5555", "contacts", 2500, 3);
        zloop_reader(loop, crm_bus_worker_socket(w), on_readable, w);
        zloop_timer(loop, 500, 0, on_tick, w);     // heartbeats and reconnects
        ...
        // in on_readable:
        zframe_t *reply_to;
        zmsg_t *request = crm_bus_worker_recv(w, &reply_to);   // NULL: nothing for us
        ... crm_bus_worker_send(w, &reply_to, &reply);

    The class answers broker heartbeats, sends its own, notices a silent broker after
    liveness missed heartbeats, and reconnects with exponential backoff (up to 32 x the
    heartbeat). After a reconnect, the socket returned by crm_bus_worker_socket changes:
    the class keeps the zloop registration up to date when created with
    crm_bus_worker_attach().
*/
#ifndef CRM_BUS_WORKER_H
#define CRM_BUS_WORKER_H

#include <czmq.h>
#include <stdbool.h>

typedef struct _crm_bus_worker_t crm_bus_worker_t;

//  Handler called by the loop integration for every request. It must eventually call
//  crm_bus_worker_send with the reply_to it was given (now or later, from the same loop).
typedef void(crm_bus_worker_fn)(crm_bus_worker_t *self, zframe_t *reply_to, zmsg_t *request,
                                void *arg);

crm_bus_worker_t *crm_bus_worker_new(const char *endpoint, const char *service, int heartbeat_ms,
                                     int liveness);
//  Sends DISCONNECT to the broker. An attached worker unregisters from its loop, so
//  destroy it before zloop_destroy (from a handler, or after zloop_start returned).
void crm_bus_worker_destroy(crm_bus_worker_t **self_p);

//  Register with loop: a reader on the socket and a heartbeat timer. Each request is
//  handed to handler (which takes ownership of reply_to and request).
int crm_bus_worker_attach(crm_bus_worker_t *self, zloop_t *loop, crm_bus_worker_fn *handler,
                          void *arg);

//  The current DEALER socket (changes on reconnect).
zsock_t *crm_bus_worker_socket(crm_bus_worker_t *self);

//  Read one message when the socket is readable. Returns a request body (caller owns,
//  with *reply_to set, caller owns) or NULL when the message was a heartbeat, a
//  disconnect or malformed (logged).
zmsg_t *crm_bus_worker_recv(crm_bus_worker_t *self, zframe_t **reply_to);

//  Send a reply to the client named by *reply_to. Takes both; returns 0 or -1.
int crm_bus_worker_send(crm_bus_worker_t *self, zframe_t **reply_to, zmsg_t **reply);

//  Heartbeat and liveness work; call at least every heartbeat_ms / 2 (the attach timer
//  does). Returns 0.
int crm_bus_worker_tick(crm_bus_worker_t *self);

//  True while the broker is believed alive (a message from it within liveness heartbeats).
bool crm_bus_worker_connected(crm_bus_worker_t *self);

#endif
