/*  curve: the process's key pair and the gateway's public key. See curve.h.

    Process-wide on purpose: a process has one identity, and every class that opens a
    socket to the gateway (bus_client, bus_worker, relay, subscriber) takes it from here
    rather than through each constructor. Loaded once from main before any socket, read
    afterwards only, so no lock.
*/
#include "curve.h"
#include "log.h"
#include "peer.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static zcert_t *s_cert;       // this process's pair
static char s_server_key[41]; // the gateway's public key, Z85

void crm_curve_reset(void) {
    zcert_destroy(&s_cert);
    s_server_key[0] = '\0';
}

bool crm_curve_enabled(void) {
    return s_cert != NULL;
}

const char *crm_curve_public_key(void) {
    return s_cert ? zcert_public_txt(s_cert) : "";
}

//  A cert file, or NULL (logged, with a hint).
static zcert_t *s_load(const char *path, const char *what) {
    zcert_t *cert = zsys_file_exists(path) ? zcert_load(path) : NULL;
    if (!cert)
        crm_log_kv(CRM_LOG_ERROR, "could not read a CURVE key", "key", what, "path", path, "hint",
                   "create it with crmctl certs create NAME --role ROLE (docs/OPERATIONS.md,"
                   " \"Keys\"), or set security.insecure: true for plain text",
                   NULL);
    return cert;
}

int crm_curve_use(const char *cert_path, const char *server_cert_path) {
    crm_curve_reset();
    if (!cert_path || !server_cert_path)
        return 0;
    zcert_t *server = s_load(server_cert_path, "the gateway's public key");
    zcert_t *cert = server ? s_load(cert_path, "this process's key pair") : NULL;
    if (cert) {
        //  A public-only file loads with a zero secret: that is no key pair.
        static const byte zero[32];
        if (memcmp(zcert_secret_key(cert), zero, sizeof zero) == 0) {
            crm_log_kv(CRM_LOG_ERROR, "a CURVE key file holds no secret key", "path", cert_path,
                       "hint", "name the NAME.key_secret file, not NAME.key", NULL);
            zcert_destroy(&cert);
        }
    }
    if (!cert) {
        zcert_destroy(&server);
        return -1;
    }
    snprintf(s_server_key, sizeof s_server_key, "%s", zcert_public_txt(server));
    zcert_destroy(&server);
    s_cert = cert;
    return 0;
}

int crm_curve_init(const crm_config_t *cfg, const char *name) {
    if (cfg->security_insecure) {
        crm_curve_reset();
        crm_log_kv(CRM_LOG_WARN, "plain-text ZeroMQ: security.insecure is true", "detail",
                   "anyone reaching the broker or the event endpoints can read and forge"
                   " traffic",
                   "hint", "for development only; see docs/OPERATIONS.md, \"Keys\"", NULL);
        return 0;
    }
    char cert[1024], server[1024];
    if (cfg->security_cert && cfg->security_cert[0])
        snprintf(cert, sizeof cert, "%s", cfg->security_cert);
    else
        snprintf(cert, sizeof cert, "%s/%s.key_secret", cfg->security_certs_dir, name);
    if (cfg->security_server_cert && cfg->security_server_cert[0])
        snprintf(server, sizeof server, "%s", cfg->security_server_cert);
    else
        snprintf(server, sizeof server, "%s/gateway.key", cfg->security_certs_dir);
    return crm_curve_use(cert, server);
}

void crm_curve_client(zsock_t *socket) {
    if (!s_cert || !socket)
        return;
    zcert_apply(s_cert, socket);
    zsock_set_curve_serverkey(socket, s_server_key);
}

void crm_curve_server(zsock_t *socket) {
    if (!s_cert || !socket)
        return;
    zcert_apply(s_cert, socket);
    zsock_set_curve_server(socket, 1);
    zsock_set_zap_domain(socket, "crm");
}

int crm_curve_cert_create(const char *dir, const char *name, const char *roles, bool pii,
                          bool replace, char *problem, size_t size) {
    crm_peer_t peer;
    char why[256];
    if (!crm_service_name_valid(name) && !crm_tenant_valid(name)) {
        snprintf(problem, size, "the name must be 1 to 64 of a-z 0-9 - _");
        return -1;
    }
    if (crm_peer_parse(roles, &peer, why, sizeof why)) {
        snprintf(problem, size, "--role: %s", why);
        return -1;
    }
    if (zsys_dir_create("%s", dir) != 0) {
        snprintf(problem, size, "could not create %s: %s", dir, strerror(errno));
        return -1;
    }
    char path[1024], secret[1100];
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    snprintf(secret, sizeof secret, "%s_secret", path);
    if (!replace && (zsys_file_exists(path) || zsys_file_exists(secret))) {
        snprintf(problem, size, "%s exists (--replace makes a new pair)", path);
        return -1;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        snprintf(problem, size, "could not make a key pair");
        return -1;
    }
    zcert_set_meta(cert, "name", "%s", name);
    zcert_set_meta(cert, "roles", "%s", roles);
    zcert_set_meta(cert, "pii", "%s", pii ? "true" : "false");
    //  The secret first, private from the start (umask 077 while it is written).
    zsys_file_mode_private();
    int rc = zcert_save_secret(cert, secret);
    zsys_file_mode_default();
    if (rc == 0)
        rc = chmod(secret, 0600);
    if (rc == 0)
        rc = zcert_save_public(cert, path);
    zcert_destroy(&cert);
    if (rc != 0) {
        snprintf(problem, size, "could not write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
