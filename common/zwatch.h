/*  zwatch: a ZeroMQ socket watched by a zloop through its ZMQ_FD descriptor.

    zmq_poll asks every ZeroMQ socket in its set for ZMQ_EVENTS on each pass, two
    system calls apiece, which with a dozen sockets in one loop costs more than the
    request being served. Watched as a plain descriptor, a socket costs nothing until
    its ZMQ_FD signals. But ZMQ_FD only signals when the socket's command mailbox
    fills, and a send (or any operation) may empty it with messages still waiting; so
    after a send, or a read cut short, call crm_zwatch_recheck: if the socket has
    something to read, drain runs again on the next turn of the loop (never from
    inside the caller, which may be a handler).

        crm_zwatch_start(&self->watch, loop, socket, drain, self);  // drains once too
        ... zmsg_send(&msg, socket); crm_zwatch_recheck(&self->watch);
        crm_zwatch_stop(&self->watch);

    drain must read until the socket has nothing more, or call crm_zwatch_recheck
    when it stops early.
*/
#ifndef CRM_ZWATCH_H
#define CRM_ZWATCH_H

#include <czmq.h>
#include <stdbool.h>

typedef void(crm_zwatch_fn)(void *arg);

typedef struct {
    zloop_t *loop;
    zsock_t *socket;
    zmq_pollitem_t item;   // the socket's ZMQ_FD
    bool polled;
    int recheck_timer;     // -1, or the zero-delay timer of a pending recheck
    crm_zwatch_fn *drain;
    void *arg;
} crm_zwatch_t;

//  Watch socket from loop. Returns 0, or -1 when the loop refused it.
int crm_zwatch_start(crm_zwatch_t *self, zloop_t *loop, zsock_t *socket, crm_zwatch_fn *drain,
                     void *arg);

//  If the socket has something to read, drain it on the next turn of the loop.
void crm_zwatch_recheck(crm_zwatch_t *self);

//  Stop watching (a no-op when never started, as a zeroed struct); the socket stays
//  the caller's.
void crm_zwatch_stop(crm_zwatch_t *self);

#endif
