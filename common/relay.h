/*  relay: publishes a service's committed outbox rows, in order, to the gateway (DESIGN §6).

    The relay of each process of a service claims committed rows in order, numbers them
    (seq: 1, 2, 3, ... per source, no gaps) in the same transaction that claims them,
    and publishes them to the gateway's XSUB endpoint as two frames: the topic
    "<source>.<tenant>.<Type>" ("*" for an event of no tenant) and a crm.Event envelope. Several processes of one service may
    relay at once: the claim locks the source's sequence row (SKIP LOCKED), so a row is
    numbered and published by one of them only. Each relay also publishes the source's
    head seq on "<source>._head" every events.head_interval_ms, so a subscriber notices
    a lost last event, and deletes rows past events.retention_days.

    A relay kicked by a commit waits events.relay_delay_ms (40 ms) so that a busy moment
    costs one claim.

        crm_relay_t *relay = crm_relay_new(cfg, "contacts");
        crm_relay_attach(relay, loop);
        ... after a transaction that wrote events commits:
        crm_relay_kick(relay);
*/
#ifndef CRM_RELAY_H
#define CRM_RELAY_H

#include <czmq.h>
#include <stdint.h>

#include "config.h"

typedef struct _crm_relay_t crm_relay_t;

//  A relay for source (the service and schema name), with its own database connection
//  and a PUB socket to events.publish_endpoint.
crm_relay_t *crm_relay_new(const crm_config_t *cfg, const char *source);
void crm_relay_destroy(crm_relay_t **self_p);

//  Register the relay's timers and database socket with loop.
int crm_relay_attach(crm_relay_t *self, zloop_t *loop);

//  Something was committed to the outbox: publish it on the next turn of the loop.
void crm_relay_kick(crm_relay_t *self);

//  Events this relay published since start.
uint64_t crm_relay_published(crm_relay_t *self);

#endif
