/*  health: a daemon's own HTTP endpoint for probes and scrapers (the gateway has its
    own: /healthz, /readyz, /metrics on its API port).

        GET /healthz   200 {"status":"ok"} while the daemon's loop turns; 503
                       {"status":"stalled"} when it has not for stall_ms (liveness:
                       restart me)
        GET /readyz    200 {"ready":true,"database":true,"broker":true} when the loop
                       turns, the database answers and a worker is registered with the
                       broker; else 503 with the same fields (readiness: no traffic)
        GET /metrics   Prometheus text: up, requests and transactions served, database
                       and broker state, resident memory

    The server (libmicrohttpd) runs on a thread of its own and only reads what the
    loop's timer last published (crm_health_publish): a loop that is stuck stops
    publishing, and /healthz says so. Anything else is 404; only GET and HEAD.

    Where it listens is daemon.health_listen (see crm_health_address): "" (off),
    "HOST:PORT" for every daemon (one per container or pod), or "NAME=HOST:PORT ..."
    per daemon (several on one host).
*/
#ifndef CRM_HEALTH_H
#define CRM_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _crm_health_t crm_health_t;

//  The address daemon name listens on from the setting: 0 with host and port filled,
//  1 when it names none for name (off), -1 when it is malformed.
int crm_health_address(const char *setting, const char *name, char *host, size_t size, int *port);

//  Serve name's endpoints on host:port (port 0: any free one). NULL when it cannot
//  listen (logged with the reason).
crm_health_t *crm_health_new(const char *name, const char *host, int port, int stall_ms);
void crm_health_destroy(crm_health_t **self_p);

//  The port it listens on (useful with port 0).
int crm_health_port(crm_health_t *self);

//  What the loop sees now (called from its timer; marks the loop as turning).
void crm_health_publish(crm_health_t *self, bool database, bool broker, uint64_t requests,
                        uint64_t batches);

#endif
