/*  methods: everything the dedupe service answers on the bus, one row each, and the
    methods themselves. Each reads top to bottom: decode, check (the resource's rules
    file), store (its _store.c), answer. The core (common/service.c) batches, commits
    and replies; a method never sees that.

    method            rules                   SQL               HTTP
    CheckDuplicates   check.c, score.c        check_store.c     POST /v1/contacts/duplicates/check

    The index the check reads is kept by follow.c (entry.c, entry_store.c) from the
    contacts' events. Dedupe publishes no events yet, so it has no Events.Replay.
*/
#include "dedupe.h"

#include <stdlib.h>

//  Best first; the same score by contact id, so an answer is the same every time.
static int s_match_compare(const void *a, const void *b) {
    const Crm__Dedupe__DuplicateMatch *x = *(Crm__Dedupe__DuplicateMatch *const *)a;
    const Crm__Dedupe__DuplicateMatch *y = *(Crm__Dedupe__DuplicateMatch *const *)b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(x->contact_id, y->contact_id);
}

//  The most candidates a check compares (the blocks of one draft are small: a few
//  contacts share an email, a phone, or a name's sound and a postcode).
#define CHECK_CANDIDATES_MAX 100

//  CheckDuplicates: the tenant's contacts likely to be the draft's person, best first.
static int s_check(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    const Crm__Dedupe__CheckDuplicatesRequest *req = (const void *)request;
    const dedupe_t *self = call->arg;
    crm_errors_t errors = {0};
    dedupe_entry_t *draft = calloc(1, sizeof *draft);
    assert(draft);
    if (dedupe_check_draft(req->contact, self->cfg->contacts_default_region, self->nicknames, draft,
                           &errors)) {
        free(draft);
        return crm_call_fail(call, &errors);
    }
    dedupe_candidate_t *candidates = NULL;
    size_t n = 0;
    int code = dedupe_check_store_candidates(call, draft, CHECK_CANDIDATES_MAX, &candidates, &n);
    if (code) {
        free(draft);
        return code;
    }
    Crm__Dedupe__CheckDuplicatesResponse *out = malloc(sizeof *out);
    assert(out);
    crm__dedupe__check_duplicates_response__init(out);
    out->matches = calloc(n + 1, sizeof *out->matches);
    assert(out->matches);
    double threshold = self->cfg->dedupe_check_threshold / 100.0;
    for (size_t i = 0; i < n; i++) {
        dedupe_comparison_t comparison;
        dedupe_compare(draft, &candidates[i].entry, &comparison);
        if (comparison.score >= threshold)
            out->matches[out->n_matches++] =
                dedupe_match_new(candidates[i].contact_id, &comparison);
    }
    qsort(out->matches, out->n_matches, sizeof *out->matches, s_match_compare);
    size_t limit = (size_t)self->cfg->dedupe_check_limit;
    for (size_t i = limit; i < out->n_matches; i++)
        crm__dedupe__duplicate_match__free_unpacked(out->matches[i], NULL);
    if (out->n_matches > limit)
        out->n_matches = limit;
    free(candidates);
    free(draft);
    *response = &out->base;
    return 200;
}

const crm_method_t dedupe_methods[] = {
    {"CheckDuplicates", s_check, &crm__dedupe__check_duplicates_request__descriptor, false},
    {NULL, NULL, NULL, false},
};
