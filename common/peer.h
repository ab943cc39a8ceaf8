/*  peer: what a ZeroMQ peer's key allows (DESIGN §4), and what a request header may say.

    Every key the gateway knows carries a roles text (its certificate's "roles" metadata,
    written by `crmctl certs create NAME --role ROLE[,ROLE...]`), a comma-separated list:

        worker:SERVICE            serve SERVICE (register with the broker as it), publish
                                  SERVICE's events, and act as a platform daemon: call any
                                  service for any tenant, follow every tenant's events
        client                    call services for any tenant, in any role (crmctl, a
                                  platform tool); the same as client:*
        client:TENANT             call services for TENANT only, in any role but system
        client:TENANT:ROLE/ROLE   ... in those roles only (admin/manager/sales/...)
        subscriber:TENANT         receive TENANT's events (live and by Events.Replay);
                                  subscriber:* receives every tenant's (the operator)
        gateway                   the gateway's own pair: no rights as a peer

    and a pii flag (metadata "pii", default true): a key with pii false is meant for
    analysts, whose events carry no personal fields: the gateway's proxy lets it
    subscribe on the pii-free endpoint only, and its broker scrubs its Events.Replay
    answers (services/gateway/proxy.c, broker.c).

    The gateway's ZAP handler hands these to libzmq as connection metadata; the broker
    and the event proxy read them off every message (zmq_msg_gets "roles") and decide
    with the functions below. Parsing is strict: an unknown role, service or tenant
    name is an error naming it, so a typo never grants less or more than meant.

        crm_peer_t peer;
        char problem[128];
        if (crm_peer_parse("client:tenant-a:sales", &peer, problem, sizeof problem))
            ... problem says why
        const char *why = crm_peer_may_call(&peer, "contacts", "Get", "tenant-b", "sales");
        // why: "the key may call for tenant tenant-a only"
*/
#ifndef CRM_PEER_H
#define CRM_PEER_H

#include <stdbool.h>
#include <stddef.h>

#define CRM_PEER_TENANT_MAX 64  // a tenant id: 1 to 64 of a-z 0-9 - _
#define CRM_PEER_SERVICE_MAX 32 // a service name: 1 to 32 of a-z 0-9 _

typedef struct {
    char worker[CRM_PEER_SERVICE_MAX + 1];           // the service it may serve ("": none)
    bool client;                                     // may call services...
    char client_tenant[CRM_PEER_TENANT_MAX + 1];     // ... for this tenant ("*": any)
    unsigned client_roles;                           // ... in these roles (bits of crm_role_bit)
    bool subscriber;                                 // may receive events...
    char subscriber_tenant[CRM_PEER_TENANT_MAX + 1]; // ... of this tenant ("*": all)
    bool pii;                                        // events with personal fields
} crm_peer_t;

//  Read a roles text into peer. Returns 0, or -1 with problem filled (it names the
//  part that is wrong).
int crm_peer_parse(const char *roles, crm_peer_t *peer, char *problem, size_t size);

//  A role of a RequestHeader: admin, manager, sales, analyst, integration (API keys'
//  roles) or system (the suite's own daemons).
bool crm_role_known(const char *role);

//  The bit of a known role, 0 for any other.
unsigned crm_role_bit(const char *role);

//  A well-formed tenant id: 1 to 64 of a-z 0-9 - _ (the same rule as crmctl keys).
bool crm_tenant_valid(const char *tenant);

//  A well-formed service name: 1 to 32 of a-z 0-9 _.
bool crm_service_name_valid(const char *service);

//  May the key register as a worker of service?
bool crm_peer_may_serve(const crm_peer_t *peer, const char *service);

//  May the key send this request (header's tenant and role) to service? NULL when it
//  may, else why not (a constant string).
const char *crm_peer_may_call(const crm_peer_t *peer, const char *service, const char *method,
                              const char *tenant, const char *role);

//  The tenant whose events the key receives: "*" for all, a tenant id, or NULL when it
//  receives none.
const char *crm_peer_event_tenant(const crm_peer_t *peer);

//  May the key subscribe to topic prefix (size bytes, not NUL-terminated)? Event topics
//  are "<source>.<tenant>.<Type>" and "<source>._head" (the head announcements): a key
//  bound to one tenant may subscribe only to prefixes naming its tenant whole
//  ("contacts.tenant-a." or longer).
bool crm_peer_may_subscribe(const crm_peer_t *peer, const void *prefix, size_t size);

//  May the key publish a message on topic (size bytes)? Only a worker key, and only its
//  own service's topics ("<service>." ...).
bool crm_peer_may_publish(const crm_peer_t *peer, const void *topic, size_t size);

#endif
