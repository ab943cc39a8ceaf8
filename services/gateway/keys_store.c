/*  keys_store: the API keys' SQL (gateway.api_keys) for keys.c: a key looked up by its
    hashes, an unkeyed hash replaced by the keyed one, the database pinged. See keys.h. */
#include "keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const crm_stmt_t s_ping = {"keys_ping", "SELECT 1", .nparams = 0, .writes = false};

int keys_store_lookup(crm_db_t *db, const char *hash, const char *unkeyed, key_identity_t *who,
                      bool *unkeyed_scheme, int64_t *live_ms) {
    const char *params[] = {hash, unkeyed};
    PGresult *res = crm_db_query(db, &s_lookup, params);
    if (!res)
        return -1;
    int found = PQntuples(res) == 1;
    *live_ms = -1;
    *unkeyed_scheme = false;
    if (found) {
        snprintf(who->key_id, sizeof who->key_id, "%s", PQgetvalue(res, 0, 0));
        snprintf(who->tenant_id, sizeof who->tenant_id, "%s", PQgetvalue(res, 0, 1));
        snprintf(who->role, sizeof who->role, "%s", PQgetvalue(res, 0, 2));
        snprintf(who->user_id, sizeof who->user_id, "%s", PQgetvalue(res, 0, 3));
        *unkeyed_scheme = strcmp(PQgetvalue(res, 0, 4), "blake2b") == 0;
        *live_ms = atoll(PQgetvalue(res, 0, 5));
    }
    PQclear(res);
    return found;
}

int keys_store_rehash(crm_db_t *db, const char *key_id, const char *hash) {
    const char *params[] = {key_id, hash};
    return crm_db_run(db, &s_rehash, params);
}

bool keys_store_ping(crm_db_t *db) {
    PGresult *res = crm_db_query(db, &s_ping, NULL);
    PQclear(res);
    return res != NULL;
}
