/*  entry_store: the match index's SQL (entry.c makes an entry from a Contact; follow.c
    calls these for the contacts' events, inside the follower's transaction). The
    phonetic codes and the blocking keys are made here, by the database's fuzzystrmatch.
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

//  The entry (unless erased) and its keys: $6 emails, $8 phones, $9 postcodes, $10 the
//  company domains (those that make keys).
static const crm_stmt_t s_put = {
    .name = "dedupe_entry_put",
    .sql =
        "WITH e AS (INSERT INTO entries AS x (tenant_id, contact_id, first_name, last_name,"
        "   first_groups, first_phonetic, last_phonetic, emails, domains, phones, postcodes)"
        "  SELECT $1, $2::uuid, $3, $4, $5::text[], public.dmetaphone($3),"
        "   public.dmetaphone($4), $6::text[], $7::text[], $8::text[], $9::text[]"
        "  WHERE NOT EXISTS (SELECT 1 FROM erased WHERE tenant_id = $1 AND contact_id = $2::uuid)"
        "  ON CONFLICT (tenant_id, contact_id) DO UPDATE SET first_name = EXCLUDED.first_name,"
        "   last_name = EXCLUDED.last_name, first_groups = EXCLUDED.first_groups,"
        "   first_phonetic = EXCLUDED.first_phonetic, last_phonetic = EXCLUDED.last_phonetic,"
        "   emails = EXCLUDED.emails, domains = EXCLUDED.domains, phones = EXCLUDED.phones,"
        "   postcodes = EXCLUDED.postcodes, updated_at = now()"
        "  RETURNING last_phonetic)"
        " INSERT INTO match_keys (tenant_id, key, contact_id)"
        " SELECT DISTINCT $1, k.key, $2::uuid FROM e, LATERAL ("
        "   SELECT 'e:' || v FROM unnest($6::text[]) v"
        "   UNION ALL SELECT 'p:' || v FROM unnest($8::text[]) v"
        "   UNION ALL SELECT 'lp:' || e.last_phonetic || ':' || v FROM unnest($9::text[]) v"
        "    WHERE e.last_phonetic <> ''"
        "   UNION ALL SELECT 'ld:' || e.last_phonetic || ':' || v FROM unnest($10::text[]) v"
        "    WHERE e.last_phonetic <> '') AS k(key)"
        " ON CONFLICT DO NOTHING",
    .nparams = 10,
    .writes = true};

static const crm_stmt_t s_remove = {
    .name = "dedupe_entry_remove",
    .sql = "WITH k AS (DELETE FROM match_keys WHERE tenant_id = $1 AND contact_id = $2::uuid)"
           " DELETE FROM entries WHERE tenant_id = $1 AND contact_id = $2::uuid",
    .nparams = 2,
    .writes = true};

static const crm_stmt_t s_erase = {
    .name = "dedupe_entry_erase",
    .sql = "WITH k AS (DELETE FROM match_keys WHERE tenant_id = $1 AND contact_id = $2::uuid),"
           " e AS (DELETE FROM entries WHERE tenant_id = $1 AND contact_id = $2::uuid)"
           " INSERT INTO erased (tenant_id, contact_id) VALUES ($1, $2::uuid)"
           " ON CONFLICT DO NOTHING",
    .nparams = 2,
    .writes = true};

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
    const char *put[] = {tenant_id, contact_id, entry->first, entry->last, groups,
                         emails,    domains,    phones,       postcodes,   companies};
    int rc = crm_db_run(db, &s_put, put);
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
    const char *params[] = {tenant_id, contact_id};
    return crm_db_run(db, &s_remove, params);
}

int dedupe_entry_store_erase(crm_db_t *db, const char *tenant_id, const char *contact_id) {
    if (!crm_uuid_valid(contact_id))
        return 0;
    const char *params[] = {tenant_id, contact_id};
    return crm_db_run(db, &s_erase, params);
}
