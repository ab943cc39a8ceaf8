/*  http: the gateway's HTTP/JSON front door (libmicrohttpd, driven by the broker's loop).

    For each request: match the route table, check the API key and role, turn path,
    query and JSON body into the route's request message, call the service through the
    broker (an in-process client: no thread hop), and turn the reply into JSON with the
    reply's status code. Connections wait suspended while their service call is out, so
    one thread serves any number of them. Also serves /healthz, /readyz, /metrics and
    /v1/openapi.json.

    Raw routes (routes.h ROUTE_RAW: webhooks, unsubscribe, tracking) skip the key and the
    JSON: raw.c builds their crm.HttpRequest, reads their crm.HttpResponse and limits them.
*/
#ifndef GATEWAY_HTTP_H
#define GATEWAY_HTTP_H

#include "broker.h"
#include "config.h"
#include "keys.h"
#include "metrics.h"

typedef struct _http_t http_t;

//  Start listening on cfg->gateway_http_bind:cfg->gateway_http_port. NULL on failure
//  (logged). The actual port (when configured as 0) is http_port().
http_t *http_new(const crm_config_t *cfg, broker_t *broker, keys_t *keys, metrics_t *metrics);
void http_destroy(http_t **self_p);

int http_port(http_t *self);

//  Serve from loop (the broker's): MHD's epoll descriptor and its timeouts.
int http_attach(http_t *self, zloop_t *loop);

//  Before destroying: stop accepting, answer requests still out with 503.
void http_shutdown(http_t *self);

#endif
