/*  bus_client: a Majordomo client (a DEALER socket to the broker).

    Synchronous, one request at a time, with a deadline:

        crm_bus_client_t *c = crm_bus_client_new("tcp://127.0.0.1:5555");
        zmsg_t *body = zmsg_new(); ... frames ...
        zmsg_t *reply = crm_bus_client_request(c, "contacts", &body, 5000);
        if (!reply) ... timed out (the socket is recreated so a late reply cannot be
                        mistaken for the answer to the next request)

    Or asynchronous, from a zloop, still one request at a time: the reply (or NULL when
    none came within the timeout) is handed to a callback from the loop, so the loop
    serves everything else meanwhile:

        crm_bus_client_send(c, loop, "contacts", &body, 5000, on_reply, arg);
        ... on_reply(reply, arg) runs later; it owns reply (NULL: no answer in time).

    A client object is used by one thread at a time (it may move between threads).
*/
#ifndef CRM_BUS_CLIENT_H
#define CRM_BUS_CLIENT_H

#include <czmq.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "common.pb-c.h"

typedef struct _crm_bus_client_t crm_bus_client_t;

crm_bus_client_t *crm_bus_client_new(const char *endpoint);
void crm_bus_client_destroy(crm_bus_client_t **self_p);

//  The body of a request to a service: the crm.RequestHeader (method, tenant, actor,
//  role, request id, deadline, ...) and the packed request message (NULL: none).
zmsg_t *crm_bus_request_new(const Crm__RequestHeader *header, const ProtobufCMessage *request);

//  A service's reply body (taken): its crm.ReplyHeader (the caller frees it with
//  crm__reply_header__free_unpacked), NULL when there is none that parses. For a 2xx
//  code and a response_type, *response is the second frame unpacked (NULL when it is
//  missing or does not parse); otherwise NULL.
Crm__ReplyHeader *crm_bus_reply_parse(zmsg_t **reply_p,
                                      const ProtobufCMessageDescriptor *response_type,
                                      ProtobufCMessage **response);

//  Send body (taken) to service and wait up to timeout_ms for the reply. Returns the
//  reply body frames (caller owns) or NULL on timeout or send failure.
zmsg_t *crm_bus_client_request(crm_bus_client_t *self, const char *service, zmsg_t **body_p,
                               int timeout_ms);

//  The answer to an asynchronous request: the reply body (the callee owns it), or NULL
//  when none came in time or it could not be sent.
typedef void(crm_bus_reply_fn)(zmsg_t *reply, void *arg);

//  Send body (taken) to service and return at once; fn runs from loop with the answer.
//  Returns 0, or -1 when a request is already waiting (fn is then not called; body is
//  destroyed).
int crm_bus_client_send(crm_bus_client_t *self, zloop_t *loop, const char *service,
                        zmsg_t **body_p, int timeout_ms, crm_bus_reply_fn *fn, void *arg);

//  Whether an asynchronous request is waiting for its answer.
bool crm_bus_client_busy(crm_bus_client_t *self);

#endif
