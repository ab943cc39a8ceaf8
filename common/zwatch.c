/*  zwatch: a ZeroMQ socket watched through ZMQ_FD. See zwatch.h. */
#include "zwatch.h"

static int s_on_readable(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
    (void)loop;
    (void)item;
    crm_zwatch_t *self = arg;
    self->drain(self->arg);
    return 0;
}

static int s_on_recheck(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    crm_zwatch_t *self = arg;
    self->recheck_timer = -1;
    self->drain(self->arg);
    return 0;
}

int crm_zwatch_start(crm_zwatch_t *self, zloop_t *loop, zsock_t *socket, crm_zwatch_fn *drain,
                     void *arg) {
    *self = (crm_zwatch_t){.loop = loop, .socket = socket, .recheck_timer = -1, .drain = drain,
                           .arg = arg};
    self->item = (zmq_pollitem_t){.fd = zsock_fd(socket), .events = ZMQ_POLLIN};
    self->polled = zloop_poller(loop, &self->item, s_on_readable, self) == 0;
    if (!self->polled)
        return -1;
    crm_zwatch_recheck(self); // what arrived before now did not wake the descriptor
    return 0;
}

void crm_zwatch_recheck(crm_zwatch_t *self) {
    if (!self->polled || self->recheck_timer != -1)
        return;
    if (zsock_events(self->socket) & ZMQ_POLLIN)
        self->recheck_timer = zloop_timer(self->loop, 0, 1, s_on_recheck, self);
}

void crm_zwatch_stop(crm_zwatch_t *self) {
    if (!self->loop) // never started (a zeroed struct)
        return;
    if (self->polled)
        zloop_poller_end(self->loop, &self->item);
    if (self->recheck_timer != -1)
        zloop_timer_end(self->loop, self->recheck_timer);
    self->polled = false;
    self->recheck_timer = -1;
}
