/*  duplicate_methods: the duplicate check before a create, for a whole batch at once.

    A create is batched (group commit, common/service.c): the core hands the batch's
    Create requests to contacts_contact_create_ahead before they run. It sends their
    drafts to the dedupe service in one CheckDuplicatesBatch request per tenant (a
    batch is nearly always one tenant's), all at once, without waiting: the loop keeps
    serving (the batch before commits meanwhile). Each answer becomes the note of its
    request; the Create method then reads its verdict (contacts_duplicate_answer, rules in
    duplicate.c). Dedupe that does not answer within contacts.dedupe_deadline_ms (down,
    slow, or unknown to the broker) leaves the notes empty: the creates go ahead and say
    the check was skipped, and dedupe is not asked again for a second
    (S_SKIP_MS), so that a dedupe outage costs one deadline a second, not one a batch.
*/
#include "contacts.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

//  After dedupe failed to answer, how long creates go ahead without asking it.
#define S_SKIP_MS 1000

//  One batch's check: its requests to dedupe not answered yet.
typedef struct {
    crm_ahead_t *ahead;
    contacts_t *self;
    size_t out;
} s_check_t;

//  One tenant's drafts of the batch: where they are in the ahead.
typedef struct {
    s_check_t *check;
    size_t *at;
    size_t n;
} s_group_t;

//  The k-th client to dedupe (made on first use, kept).
static crm_bus_client_t *s_client(contacts_t *self, size_t k) {
    while (self->n_dedupe <= k) {
        self->dedupe = realloc(self->dedupe, (self->n_dedupe + 1) * sizeof *self->dedupe);
        assert(self->dedupe);
        self->dedupe[self->n_dedupe++] = crm_bus_client_new(crm_config_broker(self->cfg));
    }
    return self->dedupe[k];
}

//  One request to dedupe is over; the last one ends the ahead.
static void s_check_end(s_check_t *check) {
    if (--check->out > 0)
        return;
    crm_ahead_done(check->ahead);
    free(check);
}

static void s_on_answer(zmsg_t *reply, void *arg) {
    s_group_t *group = arg;
    s_check_t *check = group->check;
    ProtobufCMessage *out = NULL;
    Crm__ReplyHeader *rh = reply ? crm_bus_reply_parse(
                                       &reply, &crm__dedupe__check_duplicates_batch_response__descriptor,
                                       &out)
                                 : NULL;
    Crm__Dedupe__CheckDuplicatesBatchResponse *resp = (void *)out;
    if (rh && rh->code == 200 && resp && resp->n_drafts == group->n) {
        for (size_t k = 0; k < group->n; k++) {
            check->ahead->notes[group->at[k]] = &resp->drafts[k]->base;
            resp->drafts[k] = NULL; // the note's now
        }
    } else {
        check->self->dedupe_skip_until = zclock_mono() + S_SKIP_MS;
        char code[16];
        snprintf(code, sizeof code, "%u", rh ? rh->code : 0);
        crm_log_kv(CRM_LOG_WARN, "duplicate check skipped: dedupe did not answer in time", "code",
                   rh ? code : "no answer", NULL);
    }
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    free(group->at);
    free(group);
    s_check_end(check);
}

//  Send one tenant's drafts (the requests of the ahead from first on with its tenant,
//  not yet taken) to dedupe. 0, or -1 when it could not be sent.
static int s_send(s_check_t *check, size_t first, bool *taken, size_t k) {
    crm_ahead_t *ahead = check->ahead;
    const Crm__RequestHeader *header = ahead->headers[first];
    s_group_t *group = calloc(1, sizeof *group);
    group->check = check;
    group->at = calloc(ahead->n, sizeof *group->at);
    Crm__Contacts__Contact *drafts = calloc(ahead->n, sizeof *drafts);
    Crm__Contacts__Contact **list = calloc(ahead->n, sizeof *list);
    assert(group && group->at && drafts && list);
    for (size_t i = first; i < ahead->n; i++) {
        if (taken[i] || strcmp(ahead->headers[i]->tenant_id, header->tenant_id) != 0)
            continue;
        const Crm__Contacts__CreateContactRequest *req = (const void *)ahead->requests[i];
        taken[i] = true;
        contacts_duplicate_draft(req->contact, &drafts[group->n]);
        list[group->n] = &drafts[group->n];
        group->at[group->n++] = i;
    }
    Crm__Dedupe__CheckDuplicatesBatchRequest request =
        CRM__DEDUPE__CHECK_DUPLICATES_BATCH_REQUEST__INIT;
    request.contacts = list;
    request.n_contacts = group->n;
    int deadline = check->self->cfg->contacts_dedupe_deadline_ms;
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    h.method = "CheckDuplicatesBatch";
    h.tenant_id = header->tenant_id;
    h.actor_id = header->actor_id;
    h.role = header->role;
    h.request_id = header->request_id;
    h.deadline_ms = (uint32_t)deadline;
    zmsg_t *body = crm_bus_request_new(&h, &request.base);
    free(list);
    free(drafts);
    check->out++;
    if (crm_bus_client_send(s_client(check->self, k), ahead->loop, "dedupe", &body, deadline,
                            s_on_answer, group) == 0)
        return 0;
    check->out--;
    free(group->at);
    free(group);
    return -1;
}

void contacts_contact_create_ahead(crm_ahead_t *ahead) {
    contacts_t *self = ahead->arg;
    if (!self->cfg->contacts_duplicate_check || zclock_mono() < self->dedupe_skip_until) {
        crm_ahead_done(ahead); // off, or dedupe failed a moment ago: skipped
        return;
    }
    bool *taken = calloc(ahead->n + 1, sizeof *taken);
    assert(taken);
    //  Only the creates that want the check.
    for (size_t i = 0; i < ahead->n; i++) {
        const Crm__Contacts__CreateContactRequest *req = (const void *)ahead->requests[i];
        taken[i] = req->allow_duplicate || !req->contact;
    }
    s_check_t *check = calloc(1, sizeof *check);
    assert(check);
    check->ahead = ahead;
    check->self = self;
    check->out = 1; // held until every request is sent
    size_t k = 0;
    for (size_t i = 0; i < ahead->n; i++)
        if (!taken[i] && s_send(check, i, taken, k++))
            self->dedupe_skip_until = zclock_mono() + S_SKIP_MS;
    free(taken);
    s_check_end(check);
}

int contacts_duplicate_answer(crm_call_t *call, bool allow_duplicate) {
    const contacts_t *self = call->arg;
    const Crm__Dedupe__DraftMatches *found = (const void *)call->note;
    char listed[512];
    contacts_duplicate_check_t check = contacts_duplicate_decide(
        found, allow_duplicate, self->cfg->dedupe_block_threshold, listed, sizeof listed);
    if (check != CONTACTS_DUPLICATE_BLOCKED) {
        crm_call_header(call, "X-Duplicate-Check", contacts_duplicate_check_name(check));
        if (listed[0])
            crm_call_header(call, "X-Possible-Duplicates", listed);
        return 0;
    }
    const Crm__Dedupe__DuplicateMatch *best = found->matches[0];
    Crm__Dedupe__PossibleDuplicate details = CRM__DEDUPE__POSSIBLE_DUPLICATE__INIT;
    details.candidates = found->matches;
    details.n_candidates = found->n_matches;
    crm_call_error(call, "possible_duplicate",
                   "this looks like contact %s (%s); send \"allowDuplicate\": true to create it "
                   "anyway",
                   best->contact_id, best->summary);
    crm_call_details(call, &details.base);
    return 409;
}
