/*  bus_client: a Majordomo client (a DEALER socket to the broker).

    Synchronous, one request at a time, with a deadline:

        crm_bus_client_t *c = crm_bus_client_new("tcp://127.0.0.1:5555");
        zmsg_t *body = zmsg_new(); ... frames ...
        zmsg_t *reply = crm_bus_client_request(c, "contacts", &body, 5000);
        if (!reply) ... timed out (the socket is recreated so a late reply cannot be
                        mistaken for the answer to the next request)

    A client object is used by one thread at a time (it may move between threads).
*/
#ifndef CRM_BUS_CLIENT_H
#define CRM_BUS_CLIENT_H

#include <czmq.h>

typedef struct _crm_bus_client_t crm_bus_client_t;

crm_bus_client_t *crm_bus_client_new(const char *endpoint);
void crm_bus_client_destroy(crm_bus_client_t **self_p);

//  Send body (taken) to service and wait up to timeout_ms for the reply. Returns the
//  reply body frames (caller owns) or NULL on timeout or send failure.
zmsg_t *crm_bus_client_request(crm_bus_client_t *self, const char *service, zmsg_t **body_p,
                               int timeout_ms);

#endif
