/*  bulk_methods: one change to many contacts (Bulk: POST /v1/contacts/bulk), read top
    to bottom: decode, check (bulk.c, then the tags against the catalogue), store
    (bulk_store.c: the job and its items), answer (the finished job, 200, or the queued
    one, 202; the job runner, job_methods.c, does the rest).
*/
#include "contacts.h"
#include "ids.h"
#include "json_pb.h"

int contacts_bulk(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    Crm__Contacts__BulkContactsRequest *req =
        (Crm__Contacts__BulkContactsRequest *)crm_pb_copy(request);
    crm_errors_t errors = {0};
    int code = contacts_bulk_check(req, call->header->role, &errors) ? crm_call_fail(call, &errors)
               : contacts_bulk_is_tag_action(req)
                   ? contacts_tags_resolve(call, "", req->tags, req->n_tags)
                   : 0;
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    long total = 0;
    if (code == 0)
        code = contacts_bulk_store_create(call, req, id, &total);
    //  A small job is done now, in this transaction; a large one is queued.
    bool inline_run = contacts_bulk_runs_inline(total);
    bool finished = false;
    while (code == 0 && inline_run && !finished)
        if (contacts_bulk_step(call->db, call->header->tenant_id, id, call->header->actor_id, req,
                               CONTACTS_BULK_CHUNK, &finished))
            code = crm_call_db_failure(call);
    crm__contacts__bulk_contacts_request__free_unpacked(req, NULL);
    if (code)
        return code;
    code = contacts_job_read(call, call->db, call->header->tenant_id, id,
                             (Crm__Contacts__Job **)response);
    if (code == 200 && !inline_run)
        code = 202;
    return code;
}
