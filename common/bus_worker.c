/*  bus_worker: one Majordomo worker connection (a DEALER socket to the broker).

    State: a socket (NULL while waiting to reconnect), when to send the next HEARTBEAT,
    when the broker is presumed dead (liveness heartbeats without a word from it), and
    the reconnect delay, which doubles after each failed connection up to 32 heartbeats
    and drops back to one heartbeat as soon as the broker speaks.

    Every (re)connect makes a new DEALER socket, so the broker sees a new peer and any
    message queued for the old one is gone; READY is the first thing sent on it.
*/
#include "bus_worker.h"
#include "curve.h"
#include "log.h"
#include "mdp.h"
#include "zwatch.h"

#include <string.h>

#define S_BACKOFF_MAX_HEARTBEATS 32

struct _crm_bus_worker_t {
    char *endpoint;
    char *service;
    int heartbeat_ms;
    int liveness;
    zsock_t *socket;       // NULL while waiting to reconnect
    int64_t heartbeat_at;  // next HEARTBEAT to the broker
    int64_t broker_expiry; // broker presumed dead after this
    int64_t reconnect_at;  // next connect attempt (while socket is NULL)
    int backoff_ms;        // delay before the next reconnect
    bool connected;        // heard from the broker within liveness heartbeats
    //  Loop integration (crm_bus_worker_attach)
    zloop_t *loop;
    int timer_id;
    crm_zwatch_t watch;    // the socket, watched through its ZMQ_FD (zwatch.h)
    crm_bus_worker_fn *handler;
    void *handler_arg;
};

static void s_drain(void *arg);

//  The loop watches the socket through its ZMQ_FD (zwatch.h): after every send on it,
//  s_recheck looks whether messages wait that the descriptor will not announce.
static void s_watch(crm_bus_worker_t *self) {
    if (self->loop && self->socket && !self->watch.polled)
        crm_zwatch_start(&self->watch, self->loop, self->socket, s_drain, self);
}

static void s_unwatch(crm_bus_worker_t *self) {
    crm_zwatch_stop(&self->watch);
}

static void s_recheck(crm_bus_worker_t *self) {
    crm_zwatch_recheck(&self->watch);
}

//  Send a bare worker command (READY carries the service name) on the current socket.
static int s_send_command(crm_bus_worker_t *self, int command) {
    if (!self->socket)
        return -1;
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, CRM_MDPW);
    byte code = (byte)command;
    zmsg_addmem(msg, &code, 1);
    if (command == CRM_MDPW_READY)
        zmsg_addstr(msg, self->service);
    self->heartbeat_at = zclock_mono() + self->heartbeat_ms;
    int rc = crm_mdp_send(self->socket, &msg);
    s_recheck(self);
    return rc;
}

//  Open a fresh socket to the broker, register it with the loop and say READY.
static void s_connect(crm_bus_worker_t *self) {
    int64_t now = zclock_mono();
    self->socket = zsock_new(ZMQ_DEALER);
    if (!self->socket) {
        crm_error("could not create worker socket");
        self->reconnect_at = now + self->backoff_ms;
        return;
    }
    zsock_set_linger(self->socket, 0);
    zsock_set_rcvtimeo(self->socket, 0);
    zsock_set_sndtimeo(self->socket, 0);
    crm_curve_client(self->socket);
    if (zsock_connect(self->socket, "%s", self->endpoint)) {
        crm_log_kv(CRM_LOG_ERROR, "could not connect worker to broker", "endpoint", self->endpoint,
                   "detail", zmq_strerror(zmq_errno()), NULL);
        zsock_destroy(&self->socket);
        self->reconnect_at = now + self->backoff_ms;
        return;
    }
    s_watch(self);
    self->broker_expiry = now + (int64_t)self->heartbeat_ms * self->liveness;
    s_send_command(self, CRM_MDPW_READY);
    crm_debug("worker registering service %s at %s", self->service, self->endpoint);
}

//  Drop the current socket and schedule the next connect attempt after the backoff,
//  which then doubles (reset when the broker is heard from).
static void s_disconnect(crm_bus_worker_t *self, int delay_ms) {
    if (self->socket) {
        s_unwatch(self);
        zsock_destroy(&self->socket);
    }
    self->connected = false;
    self->reconnect_at = zclock_mono() + delay_ms;
}

static void s_backoff_grow(crm_bus_worker_t *self) {
    int64_t next = (int64_t)self->backoff_ms * 2;
    int64_t max = (int64_t)self->heartbeat_ms * S_BACKOFF_MAX_HEARTBEATS;
    self->backoff_ms = (int)(next < max ? next : max);
}

crm_bus_worker_t *crm_bus_worker_new(const char *endpoint, const char *service, int heartbeat_ms,
                                     int liveness) {
    assert(endpoint);
    assert(service);
    if (strlen(service) == 0 || strlen(service) > CRM_MDP_SERVICE_MAX) {
        crm_log_kv(CRM_LOG_ERROR, "invalid service name", "service", service, NULL);
        return NULL;
    }
    crm_bus_worker_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->endpoint = strdup(endpoint);
    self->service = strdup(service);
    self->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : 2500;
    self->liveness = liveness > 0 ? liveness : 3;
    self->backoff_ms = self->heartbeat_ms;
    self->timer_id = -1;
    if (!self->endpoint || !self->service) {
        crm_bus_worker_destroy(&self);
        return NULL;
    }
    s_connect(self);
    return self;
}

void crm_bus_worker_destroy(crm_bus_worker_t **self_p) {
    assert(self_p);
    crm_bus_worker_t *self = *self_p;
    if (!self)
        return;
    if (self->loop && self->timer_id != -1)
        zloop_timer_end(self->loop, self->timer_id);
    if (self->socket) {
        //  Tell the broker, so it stops routing to us at once; a short linger gives
        //  the message a chance to leave.
        s_send_command(self, CRM_MDPW_DISCONNECT);
        zsock_set_linger(self->socket, 50);
        s_unwatch(self);
        zsock_destroy(&self->socket);
    }
    free(self->endpoint);
    free(self->service);
    free(self);
    *self_p = NULL;
}

//  Loop glue: read everything waiting on the socket and hand requests to the handler.
//  The socket may be replaced while we read (DISCONNECT from the broker): re-check it.
static void s_drain(void *arg) {
    crm_bus_worker_t *self = arg;
    while (self->socket && (zsock_events(self->socket) & ZMQ_POLLIN)) {
        zframe_t *reply_to = NULL;
        zmsg_t *request = crm_bus_worker_recv(self, &reply_to);
        if (request)
            self->handler(self, reply_to, request, self->handler_arg);
    }
}

static int s_on_timer(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    return crm_bus_worker_tick(arg);
}

int crm_bus_worker_attach(crm_bus_worker_t *self, zloop_t *loop, crm_bus_worker_fn *handler,
                          void *arg) {
    assert(self);
    assert(loop);
    assert(handler);
    if (self->loop)
        return -1;
    self->loop = loop;
    self->handler = handler;
    self->handler_arg = arg;
    int interval = self->heartbeat_ms / 2 > 0 ? self->heartbeat_ms / 2 : 1;
    self->timer_id = zloop_timer(loop, (size_t)interval, 0, s_on_timer, self);
    if (self->timer_id == -1)
        return -1;
    s_watch(self);
    if (self->socket && !self->watch.polled)
        return -1;
    return 0;
}

zsock_t *crm_bus_worker_socket(crm_bus_worker_t *self) {
    assert(self);
    return self->socket;
}

zmsg_t *crm_bus_worker_recv(crm_bus_worker_t *self, zframe_t **reply_to) {
    assert(self);
    assert(reply_to);
    *reply_to = NULL;
    if (!self->socket)
        return NULL;
    zmsg_t *msg = zmsg_recv(self->socket); // RCVTIMEO 0: never blocks
    if (!msg)
        return NULL;

    crm_mdp_msg_t parsed;
    const char *reason = NULL;
    if (crm_mdp_parse_worker(&msg, &parsed, &reason)) {
        crm_log_kv(CRM_LOG_WARN, "malformed message from broker", "detail", reason, "service",
                   self->service, NULL);
        return NULL;
    }
    int64_t now = zclock_mono();
    if (parsed.command == CRM_MDPW_DISCONNECT) {
        //  The broker does not know us (it restarted, or purged us): register again at
        //  once, unless this connection never got further than that, then back off.
        crm_log_kv(CRM_LOG_INFO, "broker disconnected worker, registering again", "service",
                   self->service, NULL);
        int delay = self->connected ? 0 : self->backoff_ms;
        if (!self->connected)
            s_backoff_grow(self);
        s_disconnect(self, delay);
        if (delay == 0)
            s_connect(self);
        crm_mdp_msg_reset(&parsed);
        return NULL;
    }
    if (!self->connected)
        crm_debug("worker for %s connected to broker", self->service);
    self->connected = true;
    self->backoff_ms = self->heartbeat_ms;
    self->broker_expiry = now + (int64_t)self->heartbeat_ms * self->liveness;
    if (parsed.command != CRM_MDPW_REQUEST) { // HEARTBEAT
        crm_mdp_msg_reset(&parsed);
        return NULL;
    }
    *reply_to = parsed.client;
    zmsg_t *body = parsed.body;
    parsed.client = NULL;
    parsed.body = NULL;
    crm_mdp_msg_reset(&parsed);
    return body;
}

int crm_bus_worker_send(crm_bus_worker_t *self, zframe_t **reply_to, zmsg_t **reply) {
    assert(self);
    assert(reply_to);
    assert(reply);
    zframe_t *client = *reply_to;
    zmsg_t *body = *reply;
    *reply_to = NULL;
    *reply = NULL;
    if (!client || !body || !self->socket || zmsg_size(body) == 0) {
        zframe_destroy(&client);
        zmsg_destroy(&body);
        return -1;
    }
    byte code = CRM_MDPW_REPLY;
    zmsg_pushmem(body, "", 0);
    zmsg_prepend(body, &client);
    zmsg_pushmem(body, &code, 1);
    zmsg_pushstr(body, CRM_MDPW);
    zmsg_pushmem(body, "", 0);
    self->heartbeat_at = zclock_mono() + self->heartbeat_ms;
    int rc = crm_mdp_send(self->socket, &body);
    s_recheck(self);
    if (rc)
        crm_log_kv(CRM_LOG_WARN, "could not send reply to broker", "service", self->service,
                   "detail", zmq_strerror(zmq_errno()), NULL);
    return rc;
}

int crm_bus_worker_tick(crm_bus_worker_t *self) {
    assert(self);
    int64_t now = zclock_mono();
    if (!self->socket) {
        if (now >= self->reconnect_at)
            s_connect(self);
        return 0;
    }
    if (now >= self->broker_expiry) {
        crm_log_kv(CRM_LOG_WARN, "broker silent, reconnecting", "service", self->service,
                   "endpoint", self->endpoint, NULL);
        int delay = self->backoff_ms;
        s_backoff_grow(self);
        s_disconnect(self, delay);
        return 0;
    }
    if (now >= self->heartbeat_at)
        s_send_command(self, CRM_MDPW_HEARTBEAT);
    return 0;
}

bool crm_bus_worker_connected(crm_bus_worker_t *self) {
    assert(self);
    return self->connected;
}
