/*  check_store: the candidates of a duplicate check. The draft's blocking keys (as
    entry_store.c makes a contact's) are looked up in the tenant's match_keys (a key held
    by more than DEDUPE_BLOCK_MAX contacts left out, as a scan does), at most limit
    contacts, those sharing the most keys with the draft first, and their entries read;
    the draft's phonetic codes come back on every row (a row with no contact when nothing
    was found), so the check compares like with like. The draft's keys are the schema's entry_keys, as a contact's are. A batch's
    drafts (CheckDuplicatesBatch) are looked up in one statement.
*/
#include "dedupe.h"

#include <stdlib.h>
#include <string.h>

#define S_STRING(x) #x
#define S_NUMBER(x) S_STRING(x)
//  The contacts (b.id, once per key shared) of the block of key, when it holds at most
//  DEDUPE_BLOCK_MAX: a larger one (a shared office number, a placeholder address) says
//  too little, as in a scan (match_store.c). The candidates are then those sharing the
//  most keys first.
#define S_BLOCK(key)                                                                               \
    " CROSS JOIN LATERAL (SELECT array_agg(x.contact_id) AS ids FROM (SELECT k.contact_id"        \
    "  FROM match_keys k WHERE k.tenant_id = $1 AND k.key = " key " LIMIT "                       \
    S_NUMBER(DEDUPE_BLOCK_MAX) " + 1) x) blk CROSS JOIN LATERAL unnest(blk.ids) AS b(id)"          \
    " WHERE cardinality(blk.ids) <= " S_NUMBER(DEDUPE_BLOCK_MAX)

static const crm_stmt_t s_candidates = {
    .name = "dedupe_check_candidates",
    .sql = "WITH q AS (SELECT public.dmetaphone($2) AS last_ph, public.dmetaphone($3) AS first_ph),"
           " keys AS (SELECT k.key FROM q, LATERAL entry_keys(q.first_ph, q.last_ph, $4::text[],"
           "  $5::text[], $6::text[], $7::text[], $9, $10::text[]) AS k(key)),"
           " found AS (SELECT b.id AS contact_id FROM keys" S_BLOCK("keys.key")
           "  GROUP BY b.id ORDER BY count(*) DESC, b.id LIMIT $8::int)"
           " SELECT q.last_ph, q.first_ph, e.contact_id::text, " DEDUPE_ENTRY_COLUMNS
           " FROM q LEFT JOIN (SELECT e.* FROM entries e JOIN found f USING (contact_id)"
           "  WHERE e.tenant_id = $1) e ON true" DEDUPE_ENTRY_JOINS
           " ORDER BY e.contact_id",
    .nparams = 10};

//  The same for many drafts in one statement (a batch of creates, an import chunk): each
//  draft's values as parallel arrays ($2 last names, $3 first names, $8 dates of birth;
//  $4 emails, $5 phones, $6 postcodes, $7 company domains, $9 street lines each joined by
//  the unit separator, which no value holds), at most $10 contacts per draft; a row per
//  draft and candidate (one without a candidate when it has none), by draft.
static const crm_stmt_t s_candidates_batch = {
    .name = "dedupe_check_candidates_batch",
    .sql = "WITH d AS (SELECT i::int AS i, public.dmetaphone(last) AS last_ph,"
           "  public.dmetaphone(first) AS first_ph, string_to_array(emails, chr(31)) AS emails,"
           "  string_to_array(phones, chr(31)) AS phones,"
           "  string_to_array(postcodes, chr(31)) AS postcodes,"
           "  string_to_array(companies, chr(31)) AS companies, birth,"
           "  string_to_array(streets, chr(31)) AS streets"
           "  FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],"
           "   $8::text[], $9::text[]) WITH ORDINALITY"
           "   AS d(last, first, emails, phones, postcodes, companies, birth, streets, i)),"
           " found AS (SELECT d.i, f.contact_id FROM d CROSS JOIN LATERAL (SELECT b.id AS contact_id"
           "  FROM entry_keys(d.first_ph, d.last_ph, d.emails, d.phones, d.postcodes,"
           "   d.companies, d.birth, d.streets) AS q(key)" S_BLOCK("q.key")
           "  GROUP BY b.id ORDER BY count(*) DESC, b.id LIMIT $10::int) f)"
           " SELECT d.i, d.last_ph, d.first_ph, e.contact_id::text, " DEDUPE_ENTRY_COLUMNS
           " FROM d LEFT JOIN found f ON f.i = d.i"
           " LEFT JOIN entries e ON e.tenant_id = $1 AND e.contact_id = f.contact_id"
           DEDUPE_ENTRY_JOINS
           " ORDER BY d.i, e.contact_id",
    .nparams = 10};

//  A draft's row of values joined by the unit separator (for s_candidates_batch). Caller
//  frees.
static char *s_joined(const char *values, size_t size, size_t n, bool companies_only) {
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(values + i * size) + 1;
    char *out = malloc(len), *w = out;
    assert(out);
    *w = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = values + i * size;
        if (companies_only && dedupe_free_mail_domain(v))
            continue;
        w += sprintf(w, "%s%s", w == out ? "" : "\x1f", v);
    }
    return out;
}

#define S_JOINED(entry, field, companies_only)                                                     \
    s_joined((const char *)(entry)->field, sizeof(entry)->field[0], (entry)->n_##field,           \
             companies_only)

int dedupe_check_store_candidates_batch(crm_call_t *call, dedupe_entry_t **drafts, size_t n,
                                        size_t limit, dedupe_candidates_t *out) {
    enum { LAST, FIRST, EMAILS, PHONES, POSTCODES, COMPANIES, BIRTH, STREETS, COLUMNS };
    char **columns[COLUMNS];
    for (int c = 0; c < COLUMNS; c++) {
        columns[c] = calloc(n + 1, sizeof **columns);
        assert(columns[c]);
    }
    for (size_t i = 0; i < n; i++) {
        const dedupe_entry_t *d = drafts[i];
        columns[LAST][i] = strdup(d->last);
        columns[FIRST][i] = strdup(d->first);
        columns[EMAILS][i] = S_JOINED(d, emails, false);
        columns[PHONES][i] = S_JOINED(d, phones, false);
        columns[POSTCODES][i] = S_JOINED(d, postcodes, false);
        columns[COMPANIES][i] = S_JOINED(d, domains, true);
        columns[BIRTH][i] = strdup(d->birth_date);
        columns[STREETS][i] = S_JOINED(d, streets, false);
    }
    char *arrays[COLUMNS];
    for (int c = 0; c < COLUMNS; c++)
        arrays[c] = crm_db_text_array((const char *const *)columns[c], n);
    char limit_text[24];
    snprintf(limit_text, sizeof limit_text, "%zu", limit);
    const char *params[] = {call->header->tenant_id, arrays[LAST],   arrays[FIRST],
                            arrays[EMAILS],          arrays[PHONES], arrays[POSTCODES],
                            arrays[COMPANIES],       arrays[BIRTH],  arrays[STREETS],
                            limit_text};
    PGresult *res = crm_db_query(call->db, &s_candidates_batch, params);
    for (int c = 0; c < COLUMNS; c++) {
        for (size_t i = 0; i < n; i++)
            free(columns[c][i]);
        free(columns[c]);
        free(arrays[c]);
    }
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    size_t *count = calloc(n + 1, sizeof *count);
    assert(count);
    for (int r = 0; r < rows; r++) {
        long i = atol(PQgetvalue(res, r, 0)) - 1;
        if (i >= 0 && (size_t)i < n && !PQgetisnull(res, r, 3))
            count[i]++;
    }
    for (size_t i = 0; i < n; i++) {
        out[i].items = calloc(count[i] + 1, sizeof *out[i].items);
        assert(out[i].items);
        out[i].n = 0;
    }
    free(count);
    for (int r = 0; r < rows; r++) {
        long i = atol(PQgetvalue(res, r, 0)) - 1;
        if (i < 0 || (size_t)i >= n)
            continue;
        dedupe_entry_t *d = drafts[i];
        snprintf(d->last_phonetic, sizeof d->last_phonetic, "%s", PQgetvalue(res, r, 1));
        snprintf(d->first_phonetic, sizeof d->first_phonetic, "%s", PQgetvalue(res, r, 2));
        if (PQgetisnull(res, r, 3))
            continue;
        dedupe_candidate_t *c = &out[i].items[out[i].n++];
        snprintf(c->contact_id, sizeof c->contact_id, "%s", PQgetvalue(res, r, 3));
        dedupe_entry_from_row(res, r, 4, &c->entry, NULL);
    }
    PQclear(res);
    return 0;
}

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
