/*  curve: this process's CurveZMQ identity, put on every socket it opens (DESIGN §4).

    Every ZeroMQ endpoint of the suite is the gateway's (broker ROUTER, event XSUB and
    XPUB); every other process connects to it. So a process needs its own key pair and
    the gateway's public key, loaded once at start (crm_curve_init, from security.*),
    and each socket it connects is made a CURVE client with them (crm_curve_client).
    The gateway makes its bound sockets CURVE servers (crm_curve_server); its ZAP
    handler (services/gateway/zap.c) admits only the keys in security.keys_dir.

    Key files are CZMQ certificates (zcert): NAME.key, the public key with metadata
    (roles, pii), and NAME.key_secret, the pair (mode 0600). With security.insecure the
    sockets stay plain text, and the log says so at start.

        if (crm_curve_init(cfg, "contacts"))   // certs_dir/contacts.key_secret
            return 1;
        zsock_t *dealer = zsock_new(ZMQ_DEALER);
        crm_curve_client(dealer);
        zsock_connect(dealer, "%s", endpoint);
*/
#ifndef CRM_CURVE_H
#define CRM_CURVE_H

#include <czmq.h>
#include <stdbool.h>

#include "config.h"

//  Load the process's key pair (security.cert, or <security.certs_dir>/<name>.key_secret)
//  and the gateway's public key (security.server_cert, or <certs_dir>/gateway.key).
//  Returns 0, or -1 when a file is missing or unreadable (logged, with a hint). With
//  security.insecure: logs a warning and returns 0; sockets stay plain.
int crm_curve_init(const crm_config_t *cfg, const char *name);

//  The same from two paths (a test or a tool that knows them). NULL paths: plain text.
int crm_curve_use(const char *cert_path, const char *server_cert_path);

//  Forget the identity: sockets made from now on are plain (tests).
void crm_curve_reset(void);

//  Whether sockets are made CURVE clients.
bool crm_curve_enabled(void);

//  Make socket (not yet connected) a CURVE client of the gateway. No-op when plain.
void crm_curve_client(zsock_t *socket);

//  Make socket (not yet bound) a CURVE server with this process's key, authenticated by
//  the ZAP handler (domain "crm"). No-op when plain. Only the gateway calls it.
void crm_curve_server(zsock_t *socket);

//  The process's public key (Z85, 40 characters), "" when plain.
const char *crm_curve_public_key(void);

//  Make a key pair for name with roles (peer.h) and pii into dir: dir/name.key and
//  dir/name.key_secret (0600). An existing pair is kept unless replace. Returns 0, or
//  -1 with problem filled.
int crm_curve_cert_create(const char *dir, const char *name, const char *roles, bool pii,
                          bool replace, char *problem, size_t size);

#endif
