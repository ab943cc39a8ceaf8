/*  import_chunk: each step of an import after the scan, one transaction: a chunk of at
    most IMPORT_CHUNK rows.

    1. read: each row turned into a Contact by the mapping (import.c) and checked by the
       contact rules (the Create method's, called directly: s_row_contact_check). A bad
       row keeps its errors (row, column, rule) and is skipped; a row is written whole or
       not at all.
    2. cut: two rows of one file that match are never in one chunk: the chunk ends
       before the second, which is carried to the next chunk and then finds the first's
       contact.
    3. match and decide: the contacts matching the rows' email (contact_emails), then
       phone (E.164); the rows neither matches go to the duplicate check (the dedupe
       service's CheckDuplicatesBatch, one request for the chunk, as a create's check:
       a candidate at or above dedupe.block_threshold makes the row a likely duplicate
       of it; no answer within contacts.dedupe_import_deadline_ms and the rows go on
       unchecked); then the import's policy: skip, update (one by one, a savepoint
       each, through s_row_contact_update; never a likely duplicate, skipped), or create
       anyway.
    4. write: the new contacts in three statements (contacts, contact_emails and their
       ContactCreated events), or row by row when one conflicts; a dry run writes no
       contact but keeps the keys of the rows it would create (import_keys) so that
       later rows match them.
    5. record: outcomes and progress (import_outcomes.c).
*/
#include "import.h"
#include "json_pb.h"
#include "log.h"

#include <string.h>

//  A chunk on its way.
typedef struct {
    contacts_importer_t *importer;
    crm_db_t *db;
    const char *tenant, *job_id, *actor;
    const contacts_import_job_t *imp;
    const char *policy;  //  skip | update | create
    bool dry_run;
    contacts_import_row_t **rows;
    size_t n;
    bool end;            //  the file's last row is read
    contacts_import_row_t **creates;
    size_t n_creates;
    char now[40];
    char error[1024];    //  a file-level error found reading (the file changed)
} s_chunk_t;

// --- the contact rules -------------------------------------------------------------------

//  Check and normalise a row's contact by the contact rules of a create, with the
//  tenant's data they ask about (contact.c, contact_store.c): 0 with row and names
//  ready for the store, 422 with the field errors in errors, or -1 when the database
//  failed. The same checks as the Create method's, with no request around them.
static int s_row_contact_check(s_chunk_t *chunk, Crm__Contacts__Contact *c, contacts_row_t *row,
                               contacts_row_names_t *names, crm_errors_t *errors) {
    return contacts_contact_prepare_in(chunk->db, chunk->tenant,
                                       chunk->importer->cfg->contacts_default_region, c, "",
                                       errors, row, names);
}

//  Update the contact a row matched (row->contact_id) with the row's values
//  (contacts_import_update_request), as the Update method would, in the import's actor's
//  name: its code (200; 404 when the contact is gone; 409 or 422 with field errors in
//  errors; 500 with the reason in message), or -1 when the database failed.
static int s_row_contact_update(s_chunk_t *chunk, const contacts_import_row_t *row,
                                crm_errors_t *errors, char *message, size_t size) {
    contacts_scope_t scope = {chunk->db, chunk->tenant, chunk->actor};
    Crm__Contacts__Contact *existing = NULL;
    int code = contacts_contact_store_get(&scope, row->contact_id, true, &existing);
    if (code != 200) {
        snprintf(message, size, "%s", code == 404 ? "no such contact" : "");
        return code == 404 ? 404 : -1;
    }
    json_t *req_json = contacts_import_update_request(row, crm_pb_to_json_value(&existing->base));
    crm__contacts__contact__free_unpacked(existing, NULL);
    crm_json_error_t err;
    Crm__Contacts__UpdateContactRequest *req =
        (Crm__Contacts__UpdateContactRequest *)crm_json_value_to_pb(
            &crm__contacts__update_contact_request__descriptor, req_json, "", &err);
    json_decref(req_json);
    if (!req)
        return -1;
    char conflict_id[64] = "";
    if (contacts_update_check(req, errors))
        code = 422;
    else
        code = contacts_contact_update_in(&scope, chunk->importer->cfg->contacts_default_region,
                                          row->contact_id, req->contact, req->update_mask,
                                          req->n_update_mask, errors, conflict_id, NULL);
    crm__contacts__update_contact_request__free_unpacked(req, NULL);
    if (code == 404)
        snprintf(message, size, "no such contact");
    else if (code == 500)
        snprintf(message, size, "stored contact is unreadable");
    return code;
}

// --- 1. read -----------------------------------------------------------------------------

//  Turn one record into a row: its contact checked by the contact rules, or its errors.
//  -1 when the database failed (the step is tried again).
static int s_row_read(s_chunk_t *chunk, const crm_csv_record_t *rec,
                      contacts_import_row_t **out) {
    const contacts_import_mapping_t *m = &chunk->importer->mapping;
    contacts_import_row_t *row = contacts_import_row_new(rec->row);
    *out = row;
    json_t *given = NULL;
    Crm__Contacts__Contact *c = contacts_import_row_contact(row, m, rec, &given);
    if (!c)
        return 0;
    crm_errors_t errors = {0};
    int code = s_row_contact_check(chunk, c, &row->store, &row->names, &errors);
    for (size_t i = 0; code == 422 && i < errors.n; i++)
        contacts_import_row_error(row, m, errors.items[i]->field, errors.items[i]->message);
    crm_errors_reset(&errors);
    if (code) {
        crm__contacts__contact__free_unpacked(c, NULL);
        if (code == 422)
            contacts_row_reset(&row->store);
        json_decref(given);
        return code == 422 ? 0 : -1;
    }
    contacts_import_row_take(row, c, given);
    return 0;
}

//  Read the next rows (those carried over first), up to IMPORT_CHUNK. 0, 1 with the
//  chunk's error set (a file-level error the scan did not see: the file changed), -1
//  when the database failed.
static int s_read(s_chunk_t *chunk) {
    contacts_importer_t *self = chunk->importer;
    for (size_t i = 0; i < self->n_carry; i++)
        chunk->rows[chunk->n++] = self->carry[i];
    self->n_carry = 0;
    free(self->carry);
    self->carry = NULL;
    while (chunk->n < IMPORT_CHUNK) {
        crm_csv_record_t rec;
        int rc = crm_csv_next(self->csv, &rec);
        if (rc == 0) {
            chunk->end = true;
            break;
        }
        if (rc < 0) {
            if (self->parts.failed)
                return -1;
            snprintf(chunk->error, sizeof chunk->error, "%s", crm_csv_error(self->csv));
            return 1;
        }
        contacts_import_row_t *row = NULL;
        rc = s_row_read(chunk, &rec, &row);
        chunk->rows[chunk->n++] = row;
        if (rc)
            return -1;
    }
    return 0;
}

// --- 2. cut ------------------------------------------------------------------------------

//  Where the chunk ends: before the first row matching an earlier row of the chunk (it
//  must see that row's contact).
static size_t s_cut_at(contacts_import_row_t **rows, size_t n) {
    zhashx_t *seen = zhashx_new();
    size_t cut = n;
    for (size_t i = 0; i < n && cut == n; i++) {
        if (!rows[i]->c)
            continue;
        char key[340];
        for (int k = 0; k < 2 && cut == n; k++) {
            const char *v = k ? rows[i]->phone : rows[i]->email;
            if (!v[0])
                continue;
            snprintf(key, sizeof key, "%c:%s", k ? 'p' : 'e', v);
            if (zhashx_lookup(seen, key))
                cut = i;
        }
        for (int k = 0; k < 2 && cut == n; k++) {
            const char *v = k ? rows[i]->phone : rows[i]->email;
            if (v[0]) {
                snprintf(key, sizeof key, "%c:%s", k ? 'p' : 'e', v);
                zhashx_insert(seen, key, (void *)1);
            }
        }
    }
    zhashx_destroy(&seen);
    return cut;
}

//  Carry the rows from the cut on to the next chunk.
static void s_cut(s_chunk_t *chunk) {
    size_t cut = s_cut_at(chunk->rows, chunk->n);
    if (cut == chunk->n)
        return;
    contacts_importer_t *self = chunk->importer;
    self->carry = calloc(chunk->n - cut, sizeof *self->carry);
    for (size_t i = cut; i < chunk->n; i++)
        self->carry[self->n_carry++] = chunk->rows[i];
    chunk->n = cut;
    chunk->end = false;
}

// --- 3. match and decide -----------------------------------------------------------------

//  Update the contact a row matched, under a savepoint of its own: an update that fails
//  fails its row only. 0, or -1 when the database failed.
static int s_update(s_chunk_t *chunk, contacts_import_row_t *row) {
    const contacts_import_mapping_t *m = &chunk->importer->mapping;
    if (crm_db_savepoint(chunk->db, "import_row"))
        return -1;
    crm_errors_t errors = {0};
    char message[256] = "";
    int code = s_row_contact_update(chunk, row, &errors, message, sizeof message);
    int rc = 0;
    if (code == 200)
        crm_db_release(chunk->db, "import_row");
    else if (code > 0) {
        crm_db_rollback_to(chunk->db, "import_row");
        for (size_t f = 0; f < errors.n; f++)
            contacts_import_row_error(row, m, errors.items[f]->field, errors.items[f]->message);
        if (!errors.n)
            contacts_import_row_error(row, m, "", message);
        row->action = "error";
        if (code >= 500)
            rc = -1;
    } else
        rc = -1;
    crm_errors_reset(&errors);
    return rc;
}

//  The duplicate check of the rows no email or phone matched: those whose best candidate
//  scores at least dedupe.block_threshold become likely duplicates of it. dedupe not
//  answering in time leaves them as they are (logged).
static void s_duplicates(s_chunk_t *chunk) {
    contacts_importer_t *self = chunk->importer;
    size_t *at = calloc(chunk->n + 1, sizeof *at), n = 0;
    Crm__Contacts__Contact *drafts = calloc(chunk->n + 1, sizeof *drafts);
    Crm__Contacts__Contact **list = calloc(chunk->n + 1, sizeof *list);
    assert(at && drafts && list);
    for (size_t i = 0; i < chunk->n; i++)
        if (chunk->rows[i]->c && !chunk->rows[i]->matched_on[0]) {
            contacts_duplicate_draft(chunk->rows[i]->c, &drafts[n]);
            list[n] = &drafts[n];
            at[n++] = i;
        }
    zmsg_t *reply = NULL;
    if (!self->cfg->contacts_duplicate_check)
        n = 0;
    if (n) {
        if (!self->dedupe)
            self->dedupe = crm_bus_client_new(crm_config_broker(self->cfg));
        Crm__Dedupe__CheckDuplicatesBatchRequest request =
            CRM__DEDUPE__CHECK_DUPLICATES_BATCH_REQUEST__INIT;
        request.contacts = list;
        request.n_contacts = n;
        Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
        h.method = "CheckDuplicatesBatch";
        h.tenant_id = (char *)chunk->tenant;
        h.actor_id = (char *)chunk->actor;
        h.role = "admin";
        h.request_id = (char *)chunk->job_id;
        h.deadline_ms = (uint32_t)self->cfg->contacts_dedupe_import_deadline_ms;
        zmsg_t *body = crm_bus_request_new(&h, &request.base);
        reply = crm_bus_client_request(self->dedupe, "dedupe", &body, (int)h.deadline_ms);
    }
    free(list);
    free(drafts);
    ProtobufCMessage *out = NULL;
    Crm__ReplyHeader *rh =
        reply ? crm_bus_reply_parse(&reply, &crm__dedupe__check_duplicates_batch_response__descriptor,
                                    &out)
              : NULL;
    Crm__Dedupe__CheckDuplicatesBatchResponse *resp = (void *)out;
    if (n && !(rh && rh->code == 200 && resp && resp->n_drafts == n))
        crm_log_kv(CRM_LOG_WARN, "import rows not checked for duplicates: dedupe did not answer",
                   "job", chunk->job_id, NULL);
    for (size_t k = 0; resp && resp->n_drafts == n && k < n; k++) {
        contacts_import_row_t *row = chunk->rows[at[k]];
        char listed[8];
        if (contacts_duplicate_decide(resp->drafts[k], false,
                                      self->cfg->dedupe_block_threshold, listed,
                                      sizeof listed) != CONTACTS_DUPLICATE_BLOCKED)
            continue;
        const Crm__Dedupe__DuplicateMatch *best = resp->drafts[k]->matches[0];
        snprintf(row->matched_on, sizeof row->matched_on, "%s", IMPORT_LIKELY_DUPLICATE);
        snprintf(row->contact_id, sizeof row->contact_id, "%s", best->contact_id);
        snprintf(row->note, sizeof row->note, "likely duplicate of contact %s (%s, score %.2f)",
                 best->contact_id, best->summary, best->score);
    }
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    free(at);
}

//  Decide each row by the policy; the updates are done at once. 0 or -1.
static int s_decide(s_chunk_t *chunk) {
    for (size_t i = 0; i < chunk->n; i++) {
        contacts_import_row_t *row = chunk->rows[i];
        contacts_import_row_decide(row, &chunk->importer->mapping, chunk->policy);
        if (strcmp(row->action, "create") == 0)
            chunk->creates[chunk->n_creates++] = row;
        else if (strcmp(row->action, "update") == 0 && !chunk->dry_run && row->contact_id[0] &&
                 s_update(chunk, row))
            return -1;
    }
    return 0;
}

// --- 4. write ----------------------------------------------------------------------------

//  The new contacts: all at once, or row by row when one of them conflicts. 0 or -1.
static int s_write(s_chunk_t *chunk) {
    if (!chunk->n_creates)
        return 0;
    if (chunk->dry_run)
        return contacts_import_store_keys_add(chunk->db, chunk->imp->id, chunk->creates,
                                              chunk->n_creates);
    int rc = contacts_import_store_create(chunk->db, chunk->tenant, chunk->actor, chunk->creates,
                                          chunk->n_creates, chunk->now);
    if (rc != -2)
        return rc;
    for (size_t i = 0; i < chunk->n_creates; i++) {
        contacts_import_row_t *row = chunk->creates[i];
        int one = contacts_import_store_create(chunk->db, chunk->tenant, chunk->actor, &row, 1,
                                               chunk->now);
        if (one == -2) {
            contacts_import_row_error(row, &chunk->importer->mapping, "emails[0].address",
                                      "is already used by another contact");
            row->action = "error";
        } else if (one)
            return -1;
    }
    return 0;
}

// --- the chunk ---------------------------------------------------------------------------

//  Read, cut, match, decide and write: 0, 1 (the chunk's error set: the file changed),
//  or -1.
static int s_run(s_chunk_t *chunk) {
    int rc = s_read(chunk);
    if (rc == 0)
        s_cut(chunk);
    chunk->creates = calloc(chunk->n + 1, sizeof *chunk->creates);
    if (rc == 0)
        rc = contacts_import_store_match(chunk->db, chunk->tenant, chunk->imp->id, chunk->rows,
                                         chunk->n);
    if (rc == 0)
        s_duplicates(chunk);
    crm_time_now(chunk->now, sizeof chunk->now);
    if (rc == 0)
        rc = s_decide(chunk);
    if (rc == 0)
        rc = s_write(chunk);
    return rc;
}

int contacts_import_chunk(contacts_importer_t *self, crm_db_t *db, const char *tenant,
                          const char *job_id, const char *actor,
                          const contacts_import_job_t *imp, bool *finished) {
    const char *policy = json_string_value(json_object_get(imp->options, "policy"));
    s_chunk_t chunk = {
        .importer = self, .db = db, .tenant = tenant, .job_id = job_id, .actor = actor,
        .imp = imp, .policy = policy ? policy : "skip",
        .dry_run = json_is_true(json_object_get(imp->options, "dryRun")),
        .rows = calloc(IMPORT_CHUNK + self->n_carry + 1, sizeof *chunk.rows)};
    int rc = s_run(&chunk);
    if (rc == 0)
        rc = contacts_import_outcomes_add(db, imp->id, chunk.rows, chunk.n);
    if (rc == 0) {
        *finished = chunk.end && self->n_carry == 0;
        rc = contacts_import_progress(db, tenant, job_id, chunk.rows, chunk.n, *finished);
        self->position += (long)chunk.n;
    }
    for (size_t i = 0; i < chunk.n; i++)
        contacts_import_row_destroy(&chunk.rows[i]);
    free(chunk.rows);
    free(chunk.creates);
    //  The file changed since the scan: nothing of the chunk is recorded.
    if (rc == 1)
        return contacts_import_fail(db, tenant, job_id, chunk.error, 0);
    return rc;
}
