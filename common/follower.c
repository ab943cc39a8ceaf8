/*  follower: a daemon's follower of another service's events (see follower.h). */
#include "follower.h"
#include "log.h"
#include "relay.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct _crm_follower_t {
    crm_db_t *db;
    crm_subscriber_t *subscriber;
    crm_relay_t *relay;
    crm_outbox_t *outbox;  // the events an applied event writes
    crm_follow_fn *fn;
    void *arg;
};

static int s_on_apply(crm_db_t *db, const char *source, Crm__Event **events, size_t n,
                      void *arg) {
    crm_follower_t *self = arg;
    for (size_t i = 0; i < n; i++) {
        int rc = self->fn(db, self->outbox, events[i], self->arg);
        if (rc >= 0 && crm_outbox_write(self->outbox, db) != 0)
            rc = -1;
        crm_outbox_clear(self->outbox); // what a failed event added goes with it
        if (rc < 0) {
            crm_log_kv(CRM_LOG_WARN, "could not apply events; they will be tried again",
                       "source", source, "type", events[i]->type, "detail",
                       crm_db_sqlstate(db), NULL);
            return -1;
        }
        if (rc > 0) {
            char seq[24];
            snprintf(seq, sizeof seq, "%" PRIu64, events[i]->seq);
            crm_log_kv(CRM_LOG_ERROR, "unreadable event skipped", "source", source, "seq", seq,
                       "type", events[i]->type, NULL);
        }
    }
    return 0;
}

static void s_on_applied(void *arg) {
    crm_follower_t *self = arg;
    if (self->relay)
        crm_relay_kick(self->relay);
}

crm_follower_t *crm_follower_start(const crm_config_t *cfg, crm_service_t *service,
                                   zloop_t *loop, const char *schema, const char *source,
                                   crm_follow_fn *fn, void *arg) {
    crm_follower_t *self = calloc(1, sizeof *self);
    self->fn = fn;
    self->arg = arg;
    self->db = crm_db_new(cfg->database_dsn, cfg->database_retry_max_ms);
    crm_db_set_connect_timeout(self->db, cfg->database_connect_timeout_ms);
    crm_db_set_schema(self->db, schema);
    if (crm_db_connect(self->db, cfg->database_retry_max_ms) != 0) {
        crm_follower_stop(&self);
        return NULL;
    }
    self->outbox = crm_outbox_new();
    self->relay = crm_service_relay(service);
    self->subscriber = crm_subscriber_new(cfg, schema, self->db);
    if (!self->subscriber || crm_subscriber_follow(self->subscriber, source)) {
        crm_follower_stop(&self);
        return NULL;
    }
    crm_subscriber_on_apply(self->subscriber, s_on_apply, self);
    crm_subscriber_on_applied(self->subscriber, s_on_applied, self);
    if (crm_subscriber_attach(self->subscriber, loop)) {
        crm_follower_stop(&self);
        return NULL;
    }
    return self;
}

void crm_follower_stop(crm_follower_t **self_p) {
    crm_follower_t *self = *self_p;
    if (!self)
        return;
    crm_subscriber_destroy(&self->subscriber);
    crm_outbox_destroy(&self->outbox);
    crm_db_destroy(&self->db);
    free(self);
    *self_p = NULL;
}
