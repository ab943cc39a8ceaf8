/*  check_store: the candidates of a duplicate check. The draft's blocking keys (as
    entry_store.c makes a contact's) are looked up in the tenant's match_keys, at most
    limit contacts, and their entries read; the draft's phonetic codes come back on every
    row (a row with no contact when nothing was found), so the check compares like with
    like. The draft's keys are the schema's entry_keys, as a contact's are.
*/
#include "dedupe.h"

#include <stdlib.h>
#include <string.h>

static const crm_stmt_t s_candidates = {
    .name = "dedupe_check_candidates",
    .sql = "WITH q AS (SELECT public.dmetaphone($2) AS last_ph, public.dmetaphone($3) AS first_ph),"
           " keys AS (SELECT k.key FROM q, LATERAL entry_keys(q.first_ph, q.last_ph, $4::text[],"
           "  $5::text[], $6::text[], $7::text[], $9, $10::text[]) AS k(key)),"
           " found AS (SELECT DISTINCT k.contact_id FROM match_keys k JOIN keys USING (key)"
           "  WHERE k.tenant_id = $1 LIMIT $8::int)"
           " SELECT q.last_ph, q.first_ph, e.contact_id::text, " DEDUPE_ENTRY_COLUMNS
           " FROM q LEFT JOIN (SELECT e.* FROM entries e JOIN found f USING (contact_id)"
           "  WHERE e.tenant_id = $1) e ON true"
           " ORDER BY e.contact_id",
    .nparams = 10};

int dedupe_check_store_candidates(crm_call_t *call, dedupe_entry_t *draft, size_t limit,
                                  dedupe_candidate_t **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    char *emails = DEDUPE_ARRAY(draft, emails, false);
    char *phones = DEDUPE_ARRAY(draft, phones, false);
    char *postcodes = DEDUPE_ARRAY(draft, postcodes, false);
    char *companies = DEDUPE_ARRAY(draft, domains, true);
    char *streets = DEDUPE_ARRAY(draft, streets, false);
    char limit_text[24];
    snprintf(limit_text, sizeof limit_text, "%zu", limit);
    const char *params[] = {call->header->tenant_id,
                            draft->last,
                            draft->first,
                            emails,
                            phones,
                            postcodes,
                            companies,
                            limit_text,
                            draft->birth_date,
                            streets};
    PGresult *res = crm_db_query(call->db, &s_candidates, params);
    free(emails);
    free(phones);
    free(postcodes);
    free(companies);
    free(streets);
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
        snprintf(c->contact_id, sizeof c->contact_id, "%s", PQgetvalue(res, r, 2));
        dedupe_entry_from_row(res, r, 3, &c->entry, NULL);
    }
    PQclear(res);
    *out = candidates;
    *n_out = n;
    return 0;
}
