/*  proxy: the event fan-out point (DESIGN §6). Relays publish to the XSUB socket
    (events.publish_endpoint); subscribers connect to the XPUB socket
    (events.subscribe_endpoint), and keys marked pii: false (analysts) to a second XPUB
    (events.pii_free_endpoint) whose events have their payloads scrubbed
    (common/scrub.h). Events go from XSUB to the XPUBs, subscriptions the other way, on
    the gateway's loop. A subscriber slower than events.xpub_hwm queued
    events misses the newest ones: consumers detect the gap by seq and replay. */
#ifndef GATEWAY_PROXY_H
#define GATEWAY_PROXY_H

#include "config.h"
#include <czmq.h>

typedef struct _proxy_t proxy_t;

proxy_t *proxy_new(const crm_config_t *cfg);
void proxy_destroy(proxy_t **self_p);
int proxy_attach(proxy_t *self, zloop_t *loop);

//  Append the proxy's counters in Prometheus text format to out.
void proxy_render_metrics(proxy_t *self, zchunk_t *out);

#endif
