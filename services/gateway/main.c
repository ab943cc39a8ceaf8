/*  crm-gateway: the suite's front door. Wiring only: the Majordomo broker (broker.c),
    the event proxy (proxy.c) and the HTTP server (http.c, libmicrohttpd driven from the
    loop's epoll descriptor) all run in this thread's zloop; API keys are checked by
    keys.c; CurveZMQ keys by the ZAP handler (zap.c, its own thread), started before
    the broker and the proxy bind. */
#include "apikey.h"
#include "broker.h"
#include "curve.h"
#include "http.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "process.h"
#include "proxy.h"
#include "routes.h"
#include "zap.h"

#include <sodium.h>

extern const crm_migration_t gateway_migrations[];

int main(int argc, char **argv) {
    int exit_code = 0;
    crm_config_t *cfg = crm_config_from_args(
        argc, argv,
        "usage: crm-gateway [--config PATH]\n"
        "Serves the HTTP API, the Majordomo broker and the event proxy.\n",
        &exit_code);
    if (!cfg)
        return exit_code;
    crm_process_init(cfg, "gateway");

    exit_code = 1;
    zap_t *zap = NULL;
    broker_t *broker = NULL;
    keys_t *keys = NULL;
    metrics_t *metrics = NULL;
    http_t *http = NULL;
    proxy_t *proxy = NULL;
    zloop_t *loop = NULL;
    crm_db_t *db = NULL;
    if (crm_curve_init(cfg, "gateway") != 0)
        goto done;
    if (crm_curve_enabled() && !(zap = zap_new(cfg)))
        goto done;
    db = crm_db_new(cfg->database_dsn, cfg->database_retry_max_ms);
    crm_db_set_connect_timeout(db, cfg->database_connect_timeout_ms);
    while (crm_db_connect(db, cfg->database_retry_max_ms) != 0)
        if (zsys_interrupted)
            goto done;
    if (cfg->database_migrate && crm_db_migrate(db, "gateway", gateway_migrations))
        goto done;
    unsigned char secret[CRM_APIKEY_SECRET_LEN];
    int secret_state = crm_apikey_secret_parse(cfg->gateway_key_secret, secret);
    if (secret_state < 0) {
        crm_log_kv(CRM_LOG_ERROR, "invalid gateway.key_secret", "detail",
                   "must be 64 hex digits (32 bytes)", "hint",
                   "make one with: head -c 32 /dev/urandom | xxd -p -c 64", NULL);
        goto done;
    }
    if (secret_state > 0)
        crm_log_kv(CRM_LOG_WARN, "API keys are hashed without a secret", "hint",
                   "set CRM_GATEWAY_KEY_SECRET (the same for crmctl) so that a stolen key "
                   "table cannot be checked offline",
                   NULL);
    keys = keys_new(&db, cfg->gateway_key_cache_ms, secret_state == 0 ? secret : NULL);
    sodium_memzero(secret, sizeof secret);
    broker = broker_new(cfg);
    if (!broker)
        goto done;
    proxy = proxy_new(cfg);
    if (!proxy)
        goto done;
    loop = zloop_new();
    broker_attach(broker, loop);
    if (proxy_attach(proxy, loop))
        goto done;
    metrics = metrics_new(route_count());
    metrics_set_proxy(metrics, proxy);
    http = http_new(cfg, broker, keys, metrics);
    if (!http || http_attach(http, loop))
        goto done;
    char url[128];
    snprintf(url, sizeof url, "http://%s:%d", cfg->gateway_http_bind, http_port(http));
    crm_log_kv(CRM_LOG_INFO, "serving", "http", url, "broker", cfg->broker_endpoint, "events",
               cfg->events_subscribe_endpoint, NULL);
    zloop_start(loop);
    crm_info("stopping");
    exit_code = 0;
done:
    http_shutdown(http);
    http_destroy(&http);
    zloop_destroy(&loop);
    broker_destroy(&broker);
    proxy_destroy(&proxy);
    metrics_destroy(&metrics);
    keys_destroy(&keys);
    zap_destroy(&zap);
    crm_db_destroy(&db);
    crm_config_destroy(&cfg);
    return exit_code;
}
