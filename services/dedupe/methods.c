/*  methods: everything the dedupe service answers on the bus, one row each, and the
    methods themselves. Each reads top to bottom: decode, check (the resource's rules
    file), store (its _store.c), answer. The core (common/service.c) batches, commits
    and replies; a method never sees that.

    method            rules                   SQL               HTTP
    CheckDuplicates   check.c, score.c        check_store.c     POST /v1/contacts/duplicates/check
    StartScan         scan.c                  scan_store.c      POST /v1/duplicates/scans
    GetScan           scan.c                  scan_store.c      GET /v1/duplicates/scans/{id}
    ListDuplicates    scan.c                  scan_store.c      GET /v1/duplicates
    GetDuplicate      scan.c                  scan_store.c      GET /v1/duplicates/{id}
    DismissDuplicate  scan.c                  scan_store.c      POST /v1/duplicates/{id}/dismiss
    Events.Replay     common/replay           the outbox        (bus: subscribers catching up)
    CheckDuplicatesBatch  the same, per draft; one statement    bus only (contacts' creates)

    The index the check reads is kept by follow.c (entry.c, entry_store.c) from the
    contacts' events, which also match each new or changed contact (match.c) so the
    review list stays current; the scan job (scan.c) matches the whole tenant.
    DuplicateFound events go out through the outbox.
*/
#include "dedupe.h"
#include "replay.h"

#include <stdlib.h>
#include <string.h>

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

//  The matches of a checked draft among its candidates, best first, at most
//  dedupe.check_limit (out->matches is set).
static void s_score(crm_call_t *call, const dedupe_entry_t *draft,
                    const dedupe_candidate_t *candidates, size_t n,
                    Crm__Dedupe__DraftMatches *out) {
    const dedupe_t *self = call->arg;
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
}

//  The matches of a checked draft (its candidates looked up). 0 or a failure code.
static int s_matches(crm_call_t *call, dedupe_entry_t *draft, Crm__Dedupe__DraftMatches *out) {
    dedupe_candidate_t *candidates = NULL;
    size_t n = 0;
    int code = dedupe_check_store_candidates(call, draft, CHECK_CANDIDATES_MAX, &candidates, &n);
    if (code)
        return code;
    s_score(call, draft, candidates, n, out);
    free(candidates);
    return 0;
}

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
    Crm__Dedupe__DraftMatches found = CRM__DEDUPE__DRAFT_MATCHES__INIT;
    int code = s_matches(call, draft, &found);
    free(draft);
    if (code)
        return code;
    Crm__Dedupe__CheckDuplicatesResponse *out = malloc(sizeof *out);
    assert(out);
    crm__dedupe__check_duplicates_response__init(out);
    out->matches = found.matches;
    out->n_matches = found.n_matches;
    *response = &out->base;
    return 200;
}

//  The most drafts one batch check takes (a batch of creates, an import chunk).
#define CHECK_BATCH_MAX 1000

//  CheckDuplicatesBatch: CheckDuplicates for each of several drafts (bus only: the
//  contacts service before a batch of creates or an import chunk), the candidates of all
//  of them looked up in one statement. A draft that breaks the check's rules answers no
//  matches and the first rule it broke.
static int s_check_batch(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__Dedupe__CheckDuplicatesBatchRequest *req = (const void *)request;
    const dedupe_t *self = call->arg;
    if (req->n_contacts > CHECK_BATCH_MAX) {
        crm_call_field_error(call, "contacts", "must have at most %d drafts", CHECK_BATCH_MAX);
        return 422;
    }
    size_t n = req->n_contacts;
    Crm__Dedupe__CheckDuplicatesBatchResponse *out = malloc(sizeof *out);
    assert(out);
    crm__dedupe__check_duplicates_batch_response__init(out);
    out->drafts = calloc(n + 1, sizeof *out->drafts);
    dedupe_entry_t *entries = calloc(n + 1, sizeof *entries);
    dedupe_entry_t **checked = calloc(n + 1, sizeof *checked);
    Crm__Dedupe__DraftMatches **answers = calloc(n + 1, sizeof *answers);
    assert(out->drafts && entries && checked && answers);
    size_t n_checked = 0;
    for (size_t i = 0; i < n; i++) {
        Crm__Dedupe__DraftMatches *d = malloc(sizeof *d);
        assert(d);
        crm__dedupe__draft_matches__init(d);
        out->drafts[out->n_drafts++] = d;
        crm_errors_t errors = {0};
        if (dedupe_check_draft(req->contacts[i], self->cfg->contacts_default_region,
                               self->nicknames, &entries[i], &errors)) {
            char text[256];
            snprintf(text, sizeof text, "%s %s", errors.items[0]->field,
                     errors.items[0]->message);
            d->unchecked = strdup(text);
            crm_errors_reset(&errors);
        } else {
            checked[n_checked] = &entries[i];
            answers[n_checked++] = d;
        }
    }
    dedupe_candidates_t *found = calloc(n_checked + 1, sizeof *found);
    assert(found);
    int code = n_checked ? dedupe_check_store_candidates_batch(call, checked, n_checked,
                                                                CHECK_CANDIDATES_MAX, found)
                         : 0;
    for (size_t i = 0; code == 0 && i < n_checked; i++)
        s_score(call, checked[i], found[i].items, found[i].n, answers[i]);
    for (size_t i = 0; code == 0 && i < n_checked; i++)
        free(found[i].items);
    free(found);
    free(answers);
    free(checked);
    free(entries);
    if (code) {
        crm__dedupe__check_duplicates_batch_response__free_unpacked(out, NULL);
        return code;
    }
    *response = &out->base;
    return 200;
}

const crm_method_t dedupe_methods[] = {
    {"CheckDuplicates", s_check, &crm__dedupe__check_duplicates_request__descriptor, false},
    {"StartScan", dedupe_scan_start, &crm__dedupe__start_scan_request__descriptor, true},
    {"GetScan", dedupe_scan_get, &crm__dedupe__get_scan_request__descriptor, false},
    {"ListDuplicates", dedupe_duplicates_list, &crm__dedupe__list_duplicates_request__descriptor,
     false},
    {"GetDuplicate", dedupe_duplicate_get, &crm__dedupe__get_duplicate_request__descriptor, false},
    {"DismissDuplicate", dedupe_duplicate_dismiss,
     &crm__dedupe__dismiss_duplicate_request__descriptor, true},
    CRM_EVENTS_REPLAY_METHOD,
    {"CheckDuplicatesBatch", s_check_batch, &crm__dedupe__check_duplicates_batch_request__descriptor,
     false},
    {NULL, NULL, NULL, false},
};
