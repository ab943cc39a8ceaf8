/*  keys: API key verification with a cache. See keys.h. */
#include "keys.h"
#include "apikey.h"
#include "log.h"

#include <czmq.h>
#include <pthread.h>

struct _keys_t {
    pthread_mutex_t lock;
    crm_db_t *db;
    zhashx_t *cache;  // key hash -> s_entry_t
    int cache_ms;
    bool keyed;       // secret is set
    unsigned char secret[CRM_APIKEY_SECRET_LEN];
};

typedef struct {
    key_identity_t who;
    bool valid;
    int64_t expires;
} s_entry_t;

static void s_entry_free(void **item) {
    free(*item);
    *item = NULL;
}

keys_t *keys_new(crm_db_t **db_p, int cache_ms, const unsigned char *secret) {
    keys_t *self = calloc(1, sizeof *self);
    assert(self);
    self->keyed = secret != NULL;
    if (secret)
        memcpy(self->secret, secret, sizeof self->secret);
    pthread_mutex_init(&self->lock, NULL);
    self->db = *db_p;
    *db_p = NULL;
    self->cache = zhashx_new();
    zhashx_set_destructor(self->cache, s_entry_free);
    self->cache_ms = cache_ms;
    return self;
}

void keys_destroy(keys_t **self_p) {
    assert(self_p);
    keys_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->cache);
    crm_db_destroy(&self->db);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

//  Ask the database (keys_store.c), reconnecting once if the connection was lost;
//  *live_ms: how long the key stays valid (-1: no expiry). An unkeyed hash found is
//  replaced by the keyed one.
static int s_lookup_db(keys_t *self, const char *hash, const char *unkeyed, s_entry_t *entry,
                       int64_t *live_ms) {
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!crm_db_ok(self->db) && crm_db_connect(self->db, 0))
            return -2;
        bool unkeyed_scheme;
        int found =
            keys_store_lookup(self->db, hash, unkeyed, &entry->who, &unkeyed_scheme, live_ms);
        if (found < 0)
            continue;
        entry->valid = found == 1;
        if (entry->valid && self->keyed && unkeyed_scheme &&
            keys_store_rehash(self->db, entry->who.key_id, hash) == 0)
            crm_log_kv(CRM_LOG_INFO, "API key re-hashed with gateway.key_secret", "key",
                       entry->who.key_id, NULL);
        return 0;
    }
    return -2;
}

int keys_verify(keys_t *self, const char *key, key_identity_t *who) {
    if (!crm_apikey_well_formed(key))
        return -1;
    char hash[CRM_APIKEY_HASH_LEN + 1], unkeyed[CRM_APIKEY_HASH_LEN + 1];
    crm_apikey_hash(key, self->keyed ? self->secret : NULL, hash);
    crm_apikey_hash(key, NULL, unkeyed);
    int64_t now = zclock_mono();
    pthread_mutex_lock(&self->lock);
    s_entry_t *entry = zhashx_lookup(self->cache, hash);
    int rc = 0;
    if (!entry || entry->expires < now) {
        s_entry_t fresh = {0};
        int64_t live_ms = -1;
        rc = s_lookup_db(self, hash, unkeyed, &fresh, &live_ms);
        if (rc == 0) {
            //  Cached for key_cache_ms, never past the key's own expiry.
            fresh.expires = now + (live_ms >= 0 && live_ms < self->cache_ms ? live_ms
                                                                             : self->cache_ms);
            if (!entry) {
                //  Unknown keys are cached too; bound the cache against key guessing.
                if (zhashx_size(self->cache) >= 100000)
                    zhashx_purge(self->cache);
                entry = malloc(sizeof *entry);
                zhashx_insert(self->cache, hash, entry);
            }
            *entry = fresh;
        }
    }
    if (rc == 0) {
        if (entry->valid)
            *who = entry->who;
        else
            rc = -1;
    }
    pthread_mutex_unlock(&self->lock);
    return rc;
}

bool keys_db_ready(keys_t *self) {
    pthread_mutex_lock(&self->lock);
    if (!crm_db_ok(self->db))
        crm_db_connect(self->db, 0);
    bool ok = crm_db_ok(self->db) && keys_store_ping(self->db);
    pthread_mutex_unlock(&self->lock);
    return ok;
}
