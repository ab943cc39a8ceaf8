/*  metrics: request counters by route and code, a latency histogram per route, and
    the broker's live workers per service and the event proxy's counters, rendered in the Prometheus text format.
    Updates are lock-free (atomics) so the hot path stays cheap. */
#ifndef GATEWAY_METRICS_H
#define GATEWAY_METRICS_H

#include "broker.h"
#include "proxy.h"

typedef struct _metrics_t metrics_t;

//  routes: number of table routes; one more slot counts requests matching no route.
metrics_t *metrics_new(int routes);
void metrics_destroy(metrics_t **self_p);

//  Count one request: route index (-1 for none), HTTP status, latency in microseconds.
void metrics_observe(metrics_t *self, int route, int status, int64_t micros);

//  Count one request refused 429 by its key's rate limit (role: its role bit, ROLE_*).
void metrics_rate_limited(metrics_t *self, unsigned role);

//  The event proxy whose counters are rendered too (NULL: none).
void metrics_set_proxy(metrics_t *self, proxy_t *proxy);

//  Render everything as Prometheus text (caller frees).
char *metrics_render(metrics_t *self, broker_t *broker);

#endif
