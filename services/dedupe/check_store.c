/*  check_store: the candidates of a duplicate check. The draft's blocking keys (as
    entry_store.c makes a contact's) are looked up in the tenant's match_keys, at most
    limit contacts, and their entries read; the draft's phonetic codes come back on every
    row (a row with no contact when nothing was found), so the check compares like with
    like. Lists come back joined by the unit separator (U+001F), which no value holds.
*/
#include "dedupe.h"

#include <stdlib.h>
#include <string.h>

static const crm_stmt_t s_candidates = {
    .name = "dedupe_check_candidates",
    .sql = "WITH q AS (SELECT public.dmetaphone($2) AS last_ph, public.dmetaphone($3) AS first_ph),"
           " keys AS (SELECT 'e:' || v AS key FROM unnest($4::text[]) v"
           "  UNION SELECT 'p:' || v FROM unnest($5::text[]) v"
           "  UNION SELECT 'lp:' || q.last_ph || ':' || v FROM q, unnest($6::text[]) v"
           "   WHERE q.last_ph <> ''"
           "  UNION SELECT 'ld:' || q.last_ph || ':' || v FROM q, unnest($7::text[]) v"
           "   WHERE q.last_ph <> ''),"
           " found AS (SELECT DISTINCT k.contact_id FROM match_keys k JOIN keys USING (key)"
           "  WHERE k.tenant_id = $1 LIMIT $8::int)"
           " SELECT q.last_ph, q.first_ph, c.contact_id::text, c.first_name, c.last_name,"
           "  array_to_string(c.first_groups, chr(31)), c.first_phonetic, c.last_phonetic,"
           "  array_to_string(c.emails, chr(31)), array_to_string(c.domains, chr(31)),"
           "  array_to_string(c.phones, chr(31)), array_to_string(c.postcodes, chr(31))"
           " FROM q LEFT JOIN (SELECT e.* FROM entries e JOIN found f USING (contact_id)"
           "  WHERE e.tenant_id = $1) c ON true"
           " ORDER BY c.contact_id",
    .nparams = 8};

//  Split a joined list into a row of fixed-size strings; returns how many.
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

#define S_SPLIT(entry, field, text)                                                                \
    ((entry)->n_##field =                                                                          \
         s_split(text, (char *)(entry)->field, sizeof(entry)->field[0], DEDUPE_VALUES_MAX))

int dedupe_check_store_candidates(crm_call_t *call, dedupe_entry_t *draft, size_t limit,
                                  dedupe_candidate_t **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    char *emails = DEDUPE_ARRAY(draft, emails, false);
    char *phones = DEDUPE_ARRAY(draft, phones, false);
    char *postcodes = DEDUPE_ARRAY(draft, postcodes, false);
    char *companies = DEDUPE_ARRAY(draft, domains, true);
    char limit_text[24];
    snprintf(limit_text, sizeof limit_text, "%zu", limit);
    const char *params[] = {call->header->tenant_id,
                            draft->last,
                            draft->first,
                            emails,
                            phones,
                            postcodes,
                            companies,
                            limit_text};
    PGresult *res = crm_db_query(call->db, &s_candidates, params);
    free(emails);
    free(phones);
    free(postcodes);
    free(companies);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    if (rows > 0) {
        snprintf(draft->last_phonetic, sizeof draft->last_phonetic, "%s", PQgetvalue(res, 0, 0));
        snprintf(draft->first_phonetic, sizeof draft->first_phonetic, "%s", PQgetvalue(res, 0, 1));
    }
    dedupe_candidate_t *candidates = calloc((size_t)rows + 1, sizeof *candidates);
    assert(candidates);
    size_t n = 0;
    for (int r = 0; r < rows; r++) {
        if (PQgetisnull(res, r, 2))
            continue;
        dedupe_candidate_t *c = &candidates[n++];
        dedupe_entry_t *e = &c->entry;
        snprintf(c->contact_id, sizeof c->contact_id, "%s", PQgetvalue(res, r, 2));
        snprintf(e->first, sizeof e->first, "%s", PQgetvalue(res, r, 3));
        snprintf(e->last, sizeof e->last, "%s", PQgetvalue(res, r, 4));
        e->n_first_groups = s_split(PQgetvalue(res, r, 5), (char *)e->first_groups,
                                    sizeof e->first_groups[0], DEDUPE_NAME_GROUPS_MAX);
        snprintf(e->first_phonetic, sizeof e->first_phonetic, "%s", PQgetvalue(res, r, 6));
        snprintf(e->last_phonetic, sizeof e->last_phonetic, "%s", PQgetvalue(res, r, 7));
        S_SPLIT(e, emails, PQgetvalue(res, r, 8));
        S_SPLIT(e, domains, PQgetvalue(res, r, 9));
        S_SPLIT(e, phones, PQgetvalue(res, r, 10));
        S_SPLIT(e, postcodes, PQgetvalue(res, r, 11));
    }
    PQclear(res);
    *out = candidates;
    *n_out = n;
    return 0;
}
