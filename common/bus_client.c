/*  bus_client: a synchronous Majordomo client (a DEALER socket to the broker).

    One request at a time. A reply that does not belong to the current request (another
    service's name) is dropped. After a timeout the socket is thrown away and a new one
    made on the next request, so a late reply to the abandoned request can never be taken
    for the answer to the next one.
*/
#include "bus_client.h"
#include "curve.h"
#include "log.h"
#include "mdp.h"
#include "zwatch.h"

#include <string.h>

struct _crm_bus_client_t {
    char *endpoint;
    zsock_t *socket; // NULL after a timeout until the next request
    //  The asynchronous request waiting, if any.
    zloop_t *loop;
    crm_zwatch_t watch;      // the socket, while a request waits
    int timer;               // its deadline
    char service[CRM_MDP_SERVICE_MAX + 1];
    crm_bus_reply_fn *fn;    // NULL: none waits
    void *arg;
};

//  Make the DEALER socket if there is none. Returns 0 or -1.
static int s_ensure_socket(crm_bus_client_t *self) {
    if (self->socket)
        return 0;
    self->socket = zsock_new(ZMQ_DEALER);
    if (!self->socket)
        return -1;
    zsock_set_linger(self->socket, 0);
    zsock_set_rcvtimeo(self->socket, 0);
    zsock_set_sndtimeo(self->socket, 0);
    crm_curve_client(self->socket);
    if (zsock_connect(self->socket, "%s", self->endpoint)) {
        crm_log_kv(CRM_LOG_ERROR, "could not connect client to broker", "endpoint", self->endpoint,
                   "detail", zmq_strerror(zmq_errno()), NULL);
        zsock_destroy(&self->socket);
        return -1;
    }
    return 0;
}

crm_bus_client_t *crm_bus_client_new(const char *endpoint) {
    assert(endpoint);
    crm_bus_client_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->timer = -1;
    self->endpoint = strdup(endpoint);
    if (!self->endpoint || s_ensure_socket(self)) {
        crm_bus_client_destroy(&self);
        return NULL;
    }
    return self;
}

static void s_async_end(crm_bus_client_t *self);

void crm_bus_client_destroy(crm_bus_client_t **self_p) {
    assert(self_p);
    crm_bus_client_t *self = *self_p;
    if (!self)
        return;
    s_async_end(self); // a waiting request is abandoned: its callback is not called
    zsock_destroy(&self->socket);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

//  Send body (taken) to service as an MDP client request. Returns 0, or -1 (nothing
//  sent; the socket is dropped when sending failed).
static int s_send_request(crm_bus_client_t *self, const char *service, zmsg_t **body_p) {
    zmsg_t *msg = *body_p;
    *body_p = NULL;
    size_t service_size = strlen(service);
    if (!msg || zmsg_size(msg) == 0 || service_size == 0 || service_size > CRM_MDP_SERVICE_MAX ||
        s_ensure_socket(self)) {
        zmsg_destroy(&msg);
        return -1;
    }
    zmsg_pushstr(msg, service);
    zmsg_pushstr(msg, CRM_MDPC);
    zmsg_pushmem(msg, "", 0);
    if (crm_mdp_send(self->socket, &msg)) {
        crm_log_kv(CRM_LOG_WARN, "could not send request to broker", "service", service, "detail",
                   zmq_strerror(zmq_errno()), NULL);
        zsock_destroy(&self->socket);
        return -1;
    }
    return 0;
}

//  One message from the socket: the reply body if it answers service, else NULL (a
//  malformed reply, or one for another service, is logged and dropped).
static zmsg_t *s_take_reply(zmsg_t *reply, const char *service) {
    crm_mdp_msg_t parsed;
    const char *reason = NULL;
    if (crm_mdp_parse_client_reply(&reply, &parsed, &reason)) {
        crm_log_kv(CRM_LOG_WARN, "malformed reply from broker", "detail", reason, NULL);
        return NULL;
    }
    if (strcmp(parsed.service, service) != 0) {
        crm_log_kv(CRM_LOG_WARN, "dropping reply for another service", "service", parsed.service,
                   NULL);
        crm_mdp_msg_reset(&parsed);
        return NULL;
    }
    zmsg_t *body = parsed.body;
    parsed.body = NULL;
    crm_mdp_msg_reset(&parsed);
    return body;
}

zmsg_t *crm_bus_client_request(crm_bus_client_t *self, const char *service, zmsg_t **body_p,
                               int timeout_ms) {
    assert(self);
    assert(service);
    assert(body_p);
    assert(!self->fn); // not while an asynchronous request waits
    int64_t deadline = zclock_mono() + (timeout_ms > 0 ? timeout_ms : 0);
    if (s_send_request(self, service, body_p))
        return NULL;
    while (true) {
        int64_t left = deadline - zclock_mono();
        if (left < 0)
            left = 0;
        zmq_pollitem_t item = {zsock_resolve(self->socket), 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, (long)left);
        if (rc == -1 && zmq_errno() == EINTR && !zsys_interrupted)
            continue;
        if (rc <= 0)
            break; // timed out, interrupted or the context is gone
        zmsg_t *reply = zmsg_recv(self->socket);
        zmsg_t *body = reply ? s_take_reply(reply, service) : NULL;
        if (body)
            return body;
    }
    //  No answer in time: forget this socket so a late reply dies with it.
    zsock_destroy(&self->socket);
    return NULL;
}

//  --- Request and reply bodies ------------------------------------------------------------

//  A frame holding msg packed.
static zframe_t *s_packed(const ProtobufCMessage *msg) {
    zframe_t *frame = zframe_new(NULL, protobuf_c_message_get_packed_size(msg));
    assert(frame);
    protobuf_c_message_pack(msg, zframe_data(frame));
    return frame;
}

zmsg_t *crm_bus_request_new(const Crm__RequestHeader *header, const ProtobufCMessage *request) {
    zmsg_t *body = zmsg_new();
    zframe_t *frame = s_packed(&header->base);
    zmsg_append(body, &frame);
    if (request) {
        frame = s_packed(request);
        zmsg_append(body, &frame);
    }
    return body;
}

Crm__ReplyHeader *crm_bus_reply_parse(zmsg_t **reply_p,
                                      const ProtobufCMessageDescriptor *response_type,
                                      ProtobufCMessage **response) {
    zmsg_t *reply = *reply_p;
    *reply_p = NULL;
    if (response)
        *response = NULL;
    zframe_t *first = reply ? zmsg_first(reply) : NULL;
    zframe_t *second = reply ? zmsg_next(reply) : NULL;
    Crm__ReplyHeader *header =
        first ? crm__reply_header__unpack(NULL, zframe_size(first), zframe_data(first)) : NULL;
    if (header && header->code >= 200 && header->code < 300 && second && response_type &&
        response)
        *response = protobuf_c_message_unpack(response_type, NULL, zframe_size(second),
                                              zframe_data(second));
    zmsg_destroy(&reply);
    return header;
}

//  --- Asynchronous requests --------------------------------------------------------------

//  Stop waiting: the socket leaves the loop, the deadline is cancelled.
static void s_async_end(crm_bus_client_t *self) {
    crm_zwatch_stop(&self->watch);
    if (self->loop && self->timer != -1)
        zloop_timer_end(self->loop, self->timer);
    self->timer = -1;
    self->fn = NULL;
}

//  The request is over: hand the answer (or NULL) to its callback, which may send the
//  next request.
static void s_async_finish(crm_bus_client_t *self, zmsg_t *body) {
    crm_bus_reply_fn *fn = self->fn;
    void *arg = self->arg;
    s_async_end(self);
    fn(body, arg);
}

//  The socket is readable: the answer, or something to drop.
static void s_async_drain(void *arg) {
    crm_bus_client_t *self = arg;
    while (self->fn && self->socket) {
        zmsg_t *reply = zmsg_recv_nowait(self->socket);
        if (!reply)
            break;
        zmsg_t *body = s_take_reply(reply, self->service);
        if (body) {
            s_async_finish(self, body);
            return;
        }
    }
}

static int s_async_on_deadline(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    crm_bus_client_t *self = arg;
    self->timer = -1;
    crm_zwatch_stop(&self->watch);
    zsock_destroy(&self->socket); // a late reply dies with it
    s_async_finish(self, NULL);
    return 0;
}

int crm_bus_client_send(crm_bus_client_t *self, zloop_t *loop, const char *service,
                        zmsg_t **body_p, int timeout_ms, crm_bus_reply_fn *fn, void *arg) {
    assert(self && loop && service && body_p && fn);
    if (self->fn) {
        zmsg_destroy(body_p);
        return -1;
    }
    self->loop = loop;
    self->timer = -1;
    self->fn = fn;
    self->arg = arg;
    snprintf(self->service, sizeof self->service, "%s", service);
    if (s_send_request(self, service, body_p) != 0 ||
        crm_zwatch_start(&self->watch, loop, self->socket, s_async_drain, self) != 0) {
        //  Told from the loop, as an answer would be: never from inside the caller.
        zsock_destroy(&self->socket);
        self->timer = zloop_timer(loop, 0, 1, s_async_on_deadline, self);
        if (self->timer == -1) {
            self->fn = NULL;
            return -1;
        }
        return 0;
    }
    self->timer = zloop_timer(loop, timeout_ms > 0 ? timeout_ms : 1, 1, s_async_on_deadline, self);
    return 0;
}

bool crm_bus_client_busy(crm_bus_client_t *self) {
    return self && self->fn;
}
