/*  zap: the gateway's ZAP handler (ZeroMQ RFC 27), which admits CurveZMQ clients by
    public key (DESIGN §4).

    The admitted keys are the certificates in security.keys_dir (NAME.key, written by
    crmctl certs create), each with its roles and pii flag as metadata; the directory is
    read again when a connection is being authenticated and a key was added or deleted
    there since (or a second has passed), so a change counts for the next connection. A known key's
    connection gets its metadata from the ZAP reply: User-Id is the key's name, "roles"
    and "pii" its rights (common/peer.h), which the broker and the event proxy read off
    every message with zmq_msg_gets. An unknown key is refused during the handshake: the
    peer never gets to send a message.

    Runs in its own thread (a zactor), so handshakes never wait for the gateway's loop.
    Create it before binding any CURVE socket: libzmq admits every client of a CURVE
    server when no ZAP handler is bound.
*/
#ifndef GATEWAY_ZAP_H
#define GATEWAY_ZAP_H

#include "config.h"
#include <czmq.h>

typedef struct _zap_t zap_t;

//  Start the handler for the keys in cfg->security_keys_dir. NULL on failure (logged).
zap_t *zap_new(const crm_config_t *cfg);
void zap_destroy(zap_t **self_p);

#endif
