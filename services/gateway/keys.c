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

//  $1 the keyed hash, $2 the unkeyed one (the same when there is no secret). Answers the
//  key's hash scheme and its milliseconds to live (-1: no expiry).
static const crm_stmt_t s_lookup = {
    "keys_lookup",
    "SELECT id::text, tenant_id, role, user_id, hash_scheme,"
    " coalesce(floor(extract(epoch FROM expires_at - now()) * 1000), -1)::bigint"
    " FROM gateway.api_keys WHERE key_hash IN ($1, $2) AND revoked_at IS NULL"
    " AND (expires_at IS NULL OR expires_at > now())",
    .nparams = 2,
};

//  A key found by its unkeyed hash gets its keyed one: $1 id, $2 the keyed hash.
static const crm_stmt_t s_rehash = {
    "keys_rehash",
    "UPDATE gateway.api_keys SET key_hash = $2, hash_scheme = 'blake2b-keyed'"
    " WHERE id = $1::uuid AND hash_scheme = 'blake2b'",
    .nparams = 2,
    .writes = true,
};

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

//  Ask the database, reconnecting once if the connection was lost; *live_ms: how long
//  the key stays valid (-1: no expiry). An unkeyed hash found is replaced by the keyed one.
static int s_lookup_db(keys_t *self, const char *hash, const char *unkeyed, s_entry_t *entry,
                       int64_t *live_ms) {
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!crm_db_ok(self->db) && crm_db_connect(self->db, 0))
            return -2;
        const char *params[] = {hash, unkeyed};
        PGresult *res = crm_db_query(self->db, &s_lookup, params);
        if (!res)
            continue;
        entry->valid = PQntuples(res) == 1;
        *live_ms = -1;
        if (entry->valid) {
            snprintf(entry->who.key_id, sizeof entry->who.key_id, "%s", PQgetvalue(res, 0, 0));
            snprintf(entry->who.tenant_id, sizeof entry->who.tenant_id, "%s",
                     PQgetvalue(res, 0, 1));
            snprintf(entry->who.role, sizeof entry->who.role, "%s", PQgetvalue(res, 0, 2));
            snprintf(entry->who.user_id, sizeof entry->who.user_id, "%s", PQgetvalue(res, 0, 3));
            *live_ms = atoll(PQgetvalue(res, 0, 5));
            if (self->keyed && strcmp(PQgetvalue(res, 0, 4), "blake2b") == 0) {
                const char *rehash[] = {entry->who.key_id, hash};
                PGresult *done = crm_db_query(self->db, &s_rehash, rehash);
                if (done)
                    crm_log_kv(CRM_LOG_INFO, "API key re-hashed with gateway.key_secret", "key",
                               entry->who.key_id, NULL);
                PQclear(done);
            }
        }
        PQclear(res);
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
    static const crm_stmt_t ping = {"keys_ping", "SELECT 1", .nparams = 0, .writes = false};
    pthread_mutex_lock(&self->lock);
    if (!crm_db_ok(self->db))
        crm_db_connect(self->db, 0);
    PGresult *res = crm_db_ok(self->db) ? crm_db_query(self->db, &ping, NULL) : NULL;
    bool ok = res != NULL;
    PQclear(res);
    pthread_mutex_unlock(&self->lock);
    return ok;
}
