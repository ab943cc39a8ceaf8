/*  keys: verifies API keys against the gateway schema, with a short-lived cache.
    Thread-safe: called from every HTTP connection thread.

    A key is looked up by its hash keyed with the deployment's secret (apikey.h), or by
    its unkeyed hash for a key stored before there was a secret, which is then re-hashed
    (keyed) on this first use. A revoked or expired key is refused within
    gateway.key_cache_ms (a cached answer lives that long, never past the key's expiry). */
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

//  Takes ownership of db (connected, migrated). secret: CRM_APIKEY_SECRET_LEN bytes
//  (copied), or NULL: keys are hashed unkeyed.
keys_t *keys_new(crm_db_t **db_p, int cache_ms, const unsigned char *secret);
void keys_destroy(keys_t **self_p);

//  0 and *who filled for a valid, unrevoked, unexpired key; -1 for an unknown key; -2
//  when the database could not be asked (answer 503).
int keys_verify(keys_t *self, const char *key, key_identity_t *who);

//  True when the database answers (for /readyz).
bool keys_db_ready(keys_t *self);

//  --- keys_store.c: the SQL (gateway.api_keys) ----------------------------------------

//  The active, unexpired key with hash (keyed) or unkeyed: 1 with *who, *unkeyed_scheme
//  (stored under the unkeyed hash) and *live_ms (-1: no expiry); 0 none; -1 failure.
int keys_store_lookup(crm_db_t *db, const char *hash, const char *unkeyed, key_identity_t *who,
                      bool *unkeyed_scheme, int64_t *live_ms);
//  Store key_id's keyed hash in place of its unkeyed one: 0, or -1.
int keys_store_rehash(crm_db_t *db, const char *key_id, const char *hash);
//  True when the database answers a query.
bool keys_store_ping(crm_db_t *db);

#endif
