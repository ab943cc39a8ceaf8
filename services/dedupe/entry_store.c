/*  entry_store: the match index's SQL (entry.c makes an entry from a Contact; follow.c
    calls these for the contacts' events, inside the follower's transaction). The
    phonetic codes are made here, by the database's fuzzystrmatch, and the blocking keys
    by the schema's entry_keys (migrations/0002). The tenant's name counts and size
    (name_counts, migrations/0004: score.c's frequencies and prior) change with them.
    Entries are read back as DEDUPE_ENTRY_COLUMNS (dedupe_entry_from_row), with the
    counts of their names.
*/
#include "dedupe.h"
#include "ids.h"

#include <stdlib.h>
#include <string.h>

static const crm_stmt_t s_keys_clear = {
    .name = "dedupe_keys_clear",
    .sql = "DELETE FROM match_keys WHERE tenant_id = $1 AND contact_id = $2::uuid",
    .nparams = 2,
    .writes = true};

//  The entry (unless erased) and its keys (the schema's entry_keys): $6 emails, $8 phones,
//  $9 postcodes, $10 the company domains (those that make keys). Answers the
//  fingerprint the entry had ("" when new; no row when erased).
static const crm_stmt_t s_put = {
    .name = "dedupe_entry_put",
    .sql =
        "WITH old AS (SELECT fingerprint, first_name, last_name FROM entries"
        "  WHERE tenant_id = $1 AND contact_id = $2::uuid),"
        " e AS (INSERT INTO entries AS x (tenant_id, contact_id, first_name, last_name,"
        "   first_groups, first_phonetic, last_phonetic, emails, domains, phones, postcodes,"
        "   birth_date, streets, cities, fingerprint)"
        "  SELECT $1, $2::uuid, $3, $4, $5::text[], public.dmetaphone($3),"
        "   public.dmetaphone($4), $6::text[], $7::text[], $8::text[], $9::text[], $11,"
        "   $12::text[], $13::text[], $14"
        "  WHERE NOT EXISTS (SELECT 1 FROM erased WHERE tenant_id = $1 AND contact_id = $2::uuid)"
        "  ON CONFLICT (tenant_id, contact_id) DO UPDATE SET first_name = EXCLUDED.first_name,"
        "   last_name = EXCLUDED.last_name, first_groups = EXCLUDED.first_groups,"
        "   first_phonetic = EXCLUDED.first_phonetic, last_phonetic = EXCLUDED.last_phonetic,"
        "   emails = EXCLUDED.emails, domains = EXCLUDED.domains, phones = EXCLUDED.phones,"
        "   postcodes = EXCLUDED.postcodes, birth_date = EXCLUDED.birth_date,"
        "   streets = EXCLUDED.streets, cities = EXCLUDED.cities,"
        "   fingerprint = EXCLUDED.fingerprint, updated_at = now()"
        "  RETURNING first_phonetic, last_phonetic),"
        " k AS (INSERT INTO match_keys (tenant_id, key, contact_id)"
        "  SELECT DISTINCT $1, k.key, $2::uuid FROM e, LATERAL entry_keys(e.first_phonetic,"
        "   e.last_phonetic, $6::text[], $8::text[], $9::text[], $10::text[], $11, $12::text[])"
        "   AS k(key)"
        "  ON CONFLICT DO NOTHING)"
        " SELECT coalesce((SELECT fingerprint FROM old), ''), (SELECT first_name FROM old),"
        "  (SELECT last_name FROM old) FROM e",
    .nparams = 14,
    .writes = true};

//  Both answer the names of the entry taken out (no row when there was none).
static const crm_stmt_t s_remove = {
    .name = "dedupe_entry_remove",
    .sql = "WITH k AS (DELETE FROM match_keys WHERE tenant_id = $1 AND contact_id = $2::uuid)"
           " DELETE FROM entries WHERE tenant_id = $1 AND contact_id = $2::uuid"
           " RETURNING first_name, last_name",
    .nparams = 2,
    .writes = true};

static const crm_stmt_t s_erase = {
    .name = "dedupe_entry_erase",
    .sql = "WITH k AS (DELETE FROM match_keys WHERE tenant_id = $1 AND contact_id = $2::uuid),"
           " e AS (DELETE FROM entries WHERE tenant_id = $1 AND contact_id = $2::uuid"
           "  RETURNING first_name, last_name),"
           " x AS (INSERT INTO erased (tenant_id, contact_id) VALUES ($1, $2::uuid)"
           "  ON CONFLICT DO NOTHING)"
           " SELECT first_name, last_name FROM e",
    .nparams = 2,
    .writes = true};

//  Add $4 to the counts of the names $2 (kinds) $3 (values) of tenant $1 (a name no
//  contact has any more is then deleted by s_prune: it is no one's data to keep, and
//  after an erasure it would be the erased person's).
static const crm_stmt_t s_count = {
    .name = "dedupe_name_count",
    .sql = "INSERT INTO name_counts AS c (tenant_id, kind, value, n)"
           " SELECT $1, kind, value, sum(delta)::bigint"
           " FROM unnest($2::text[], $3::text[], $4::bigint[]) AS d(kind, value, delta)"
           " GROUP BY kind, value HAVING sum(delta) <> 0 ORDER BY kind, value"
           " ON CONFLICT (tenant_id, kind, value) DO UPDATE SET n = c.n + EXCLUDED.n",
    .nparams = 4,
    .writes = true};

static const crm_stmt_t s_prune = {
    .name = "dedupe_name_prune",
    .sql = "DELETE FROM name_counts WHERE tenant_id = $1 AND kind <> 't'"
           " AND value = ANY ($2::text[]) AND n <= 0",
    .nparams = 2,
    .writes = true};

//  The counts as a contact's names change: the old ones (had: it was in the index) less
//  one, the new ones (has) one more; the tenant's size with them.
static int s_count_names(crm_db_t *db, const char *tenant_id, bool had, const char *old_first,
                         const char *old_last, bool has, const char *first, const char *last) {
    const char *kinds[6], *values[6], *deltas[6];
    size_t n = 0;
#define S_DELTA(k, v, d)                                                                           \
    do {                                                                                           \
        kinds[n] = k;                                                                              \
        values[n] = v;                                                                             \
        deltas[n++] = d;                                                                           \
    } while (0)
    if (had) {
        S_DELTA("t", "", "-1");
        if (old_first[0])
            S_DELTA("f", old_first, "-1");
        if (old_last[0])
            S_DELTA("l", old_last, "-1");
    }
    if (has) {
        S_DELTA("t", "", "1");
        if (first[0])
            S_DELTA("f", first, "1");
        if (last[0])
            S_DELTA("l", last, "1");
    }
#undef S_DELTA
    if (n == 0)
        return 0;
    char *k = crm_db_text_array(kinds, n), *v = crm_db_text_array(values, n),
         *d = crm_db_text_array(deltas, n);
    const char *params[] = {tenant_id, k, v, d};
    int rc = crm_db_run(db, &s_count, params);
    const char *prune[] = {tenant_id, v};
    if (rc == 0 && had)
        rc = crm_db_run(db, &s_prune, prune);
    free(k);
    free(v);
    free(d);
    return rc;
}

//  Run a removal (s_remove or s_erase) and count the names it took out.
static int s_take_out(crm_db_t *db, const crm_stmt_t *stmt, const char *tenant_id,
                      const char *contact_id) {
    const char *params[] = {tenant_id, contact_id};
    PGresult *res = crm_db_query(db, stmt, params);
    if (!res)
        return -1;
    int rc = PQntuples(res) == 1 ? s_count_names(db, tenant_id, true, PQgetvalue(res, 0, 0),
                                                 PQgetvalue(res, 0, 1), false, "", "")
                                 : 0;
    PQclear(res);
    return rc;
}

char *dedupe_store_array(const char *values, size_t size, size_t n, bool companies_only) {
    const char *items[DEDUPE_VALUES_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n && k < DEDUPE_VALUES_MAX; i++)
        if (!companies_only || !dedupe_free_mail_domain(values + i * size))
            items[k++] = values + i * size;
    return crm_db_text_array(items, k);
}

int dedupe_entry_store_put(crm_db_t *db, const char *tenant_id, const char *contact_id,
                           const dedupe_entry_t *entry) {
    if (!crm_uuid_valid(contact_id))
        return 0;
    const char *params[] = {tenant_id, contact_id};
    if (crm_db_run(db, &s_keys_clear, params))
        return -1;
    char *groups = DEDUPE_ARRAY(entry, first_groups, false);
    char *emails = DEDUPE_ARRAY(entry, emails, false);
    char *domains = DEDUPE_ARRAY(entry, domains, false);
    char *phones = DEDUPE_ARRAY(entry, phones, false);
    char *postcodes = DEDUPE_ARRAY(entry, postcodes, false);
    char *companies = DEDUPE_ARRAY(entry, domains, true);
    char *streets = DEDUPE_ARRAY(entry, streets, false);
    char *cities = DEDUPE_ARRAY(entry, cities, false);
    char fingerprint[DEDUPE_FINGERPRINT_MAX];
    dedupe_entry_fingerprint(entry, fingerprint);
    const char *put[] = {tenant_id, contact_id,        entry->first, entry->last, groups,
                         emails,    domains,           phones,       postcodes,   companies,
                         entry->birth_date, streets,   cities,       fingerprint};
    PGresult *res = crm_db_query(db, &s_put, put);
    int rc = !res                   ? -1
             : PQntuples(res) == 0 ? 0 // erased
                                   : strcmp(PQgetvalue(res, 0, 0), fingerprint) != 0;
    if (rc == 1) {
        bool had = !PQgetisnull(res, 0, 1);
        const char *old_first = had ? PQgetvalue(res, 0, 1) : "";
        const char *old_last = had ? PQgetvalue(res, 0, 2) : "";
        if ((!had || strcmp(old_first, entry->first) || strcmp(old_last, entry->last)) &&
            s_count_names(db, tenant_id, had, old_first, old_last, true, entry->first,
                          entry->last))
            rc = -1;
    }
    if (res)
        PQclear(res);
    free(streets);
    free(cities);
    free(groups);
    free(emails);
    free(domains);
    free(phones);
    free(postcodes);
    free(companies);
    return rc;
}

int dedupe_entry_store_remove(crm_db_t *db, const char *tenant_id, const char *contact_id) {
    if (!crm_uuid_valid(contact_id))
        return 0;
    return s_take_out(db, &s_remove, tenant_id, contact_id);
}

int dedupe_entry_store_erase(crm_db_t *db, const char *tenant_id, const char *contact_id) {
    if (!crm_uuid_valid(contact_id))
        return 0;
    return s_take_out(db, &s_erase, tenant_id, contact_id);
}

//  Split a joined list (the unit separator, U+001F, between values, which no value
//  holds) into a row of fixed-size strings; returns how many.
static size_t s_split(const char *joined, char *values, size_t size, size_t max) {
    size_t n = 0;
    const char *p = joined;
    while (*p && n < max) {
        size_t len = strcspn(p, "\x1f");
        if (len < size) {
            memcpy(values + n * size, p, len);
            values[n * size + len] = 0;
            n++;
        }
        p += len;
        if (*p)
            p++;
    }
    return n;
}

#define S_SPLIT(entry, field, text, max)                                                           \
    ((entry)->n_##field = s_split(text, (char *)(entry)->field, sizeof(entry)->field[0], max))

void dedupe_entry_from_row(const PGresult *res, int row, int first, dedupe_entry_t *e,
                           char *fingerprint) {
    memset(e, 0, sizeof *e);
#define S_COL(i) PQgetvalue(res, row, first + (i))
    snprintf(e->first, sizeof e->first, "%s", S_COL(0));
    snprintf(e->last, sizeof e->last, "%s", S_COL(1));
    S_SPLIT(e, first_groups, S_COL(2), DEDUPE_NAME_GROUPS_MAX);
    snprintf(e->first_phonetic, sizeof e->first_phonetic, "%s", S_COL(3));
    snprintf(e->last_phonetic, sizeof e->last_phonetic, "%s", S_COL(4));
    S_SPLIT(e, emails, S_COL(5), DEDUPE_VALUES_MAX);
    S_SPLIT(e, domains, S_COL(6), DEDUPE_VALUES_MAX);
    S_SPLIT(e, phones, S_COL(7), DEDUPE_VALUES_MAX);
    S_SPLIT(e, postcodes, S_COL(8), DEDUPE_VALUES_MAX);
    snprintf(e->birth_date, sizeof e->birth_date, "%s", S_COL(9));
    S_SPLIT(e, streets, S_COL(10), DEDUPE_ADDRESSES_MAX);
    S_SPLIT(e, cities, S_COL(11), DEDUPE_ADDRESSES_MAX);
    if (fingerprint)
        snprintf(fingerprint, DEDUPE_FINGERPRINT_MAX, "%s", S_COL(12));
    e->first_count = atol(S_COL(13));
    e->last_count = atol(S_COL(14));
    e->tenant_size = atol(S_COL(15));
#undef S_COL
}
