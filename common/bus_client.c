/*  bus_client: a synchronous Majordomo client (a DEALER socket to the broker).

    One request at a time. A reply that does not belong to the current request (another
    service's name) is dropped. After a timeout the socket is thrown away and a new one
    made on the next request, so a late reply to the abandoned request can never be taken
    for the answer to the next one.
*/
#include "bus_client.h"
#include "log.h"
#include "mdp.h"

#include <string.h>

struct _crm_bus_client_t {
    char *endpoint;
    zsock_t *socket; // NULL after a timeout until the next request
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
    self->endpoint = strdup(endpoint);
    if (!self->endpoint || s_ensure_socket(self)) {
        crm_bus_client_destroy(&self);
        return NULL;
    }
    return self;
}

void crm_bus_client_destroy(crm_bus_client_t **self_p) {
    assert(self_p);
    crm_bus_client_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy(&self->socket);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

zmsg_t *crm_bus_client_request(crm_bus_client_t *self, const char *service, zmsg_t **body_p,
                               int timeout_ms) {
    assert(self);
    assert(service);
    assert(body_p);
    zmsg_t *msg = *body_p;
    *body_p = NULL;
    size_t service_size = strlen(service);
    if (!msg || zmsg_size(msg) == 0 || service_size == 0 || service_size > CRM_MDP_SERVICE_MAX ||
        s_ensure_socket(self)) {
        zmsg_destroy(&msg);
        return NULL;
    }
    int64_t deadline = zclock_mono() + (timeout_ms > 0 ? timeout_ms : 0);
    zmsg_pushstr(msg, service);
    zmsg_pushstr(msg, CRM_MDPC);
    zmsg_pushmem(msg, "", 0);
    if (crm_mdp_send(self->socket, &msg)) {
        crm_log_kv(CRM_LOG_WARN, "could not send request to broker", "service", service, "detail",
                   zmq_strerror(zmq_errno()), NULL);
        zsock_destroy(&self->socket);
        return NULL;
    }
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
        if (!reply)
            continue;
        crm_mdp_msg_t parsed;
        const char *reason = NULL;
        if (crm_mdp_parse_client_reply(&reply, &parsed, &reason)) {
            crm_log_kv(CRM_LOG_WARN, "malformed reply from broker", "detail", reason, NULL);
            continue;
        }
        if (strcmp(parsed.service, service) != 0) {
            crm_log_kv(CRM_LOG_WARN, "dropping reply for another service", "service",
                       parsed.service, NULL);
            crm_mdp_msg_reset(&parsed);
            continue;
        }
        zmsg_t *body = parsed.body;
        parsed.body = NULL;
        crm_mdp_msg_reset(&parsed);
        return body;
    }
    //  No answer in time: forget this socket so a late reply dies with it.
    zsock_destroy(&self->socket);
    return NULL;
}
