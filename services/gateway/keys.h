/*  keys: verifies API keys against the gateway schema, with a short-lived cache.
    Thread-safe: called from every HTTP connection thread. */
#ifndef GATEWAY_KEYS_H
#define GATEWAY_KEYS_H

#include "db.h"

typedef struct _keys_t keys_t;

typedef struct {
    char key_id[40];
    char tenant_id[80];
    char role[16];
    char user_id[80];
} key_identity_t;

//  Takes ownership of db (connected, migrated).
keys_t *keys_new(crm_db_t **db_p, int cache_ms);
void keys_destroy(keys_t **self_p);

//  0 and *who filled for a valid, unrevoked key; -1 for an unknown key; -2 when the
//  database could not be asked (answer 503).
int keys_verify(keys_t *self, const char *key, key_identity_t *who);

//  True when the database answers (for /readyz).
bool keys_db_ready(keys_t *self);

#endif
