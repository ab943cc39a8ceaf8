/*  bulk_methods: one change to many contacts (Bulk: POST /v1/contacts/bulk), read top
    to bottom: decode, check (bulk.c, then the tags against the catalogue), store
    (bulk_store.c: the job and its items), answer (the finished job, 200, or the queued
    one, 202; the job runner, job_methods.c, does the rest).

    send_email changes no contact: it asks the notify service for a campaign with the
    request's selection (CreateCampaignFromBulk, in the caller's name) and answers 202
    with a job that is the campaign (kind campaign, campaignId: its progress is
    GET /v1/campaigns/{id}). The filter is checked here first, by the list's own rules,
    as the notify service cannot ask this service while it waits for the answer. The
    call carries an idempotency key made of the request's id, so a batch that runs
    again (common/service.c) does not make a second campaign.
*/
#include "contacts.h"
#include "ids.h"
#include "json_pb.h"
#include "notify.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEND_EMAIL_TIMEOUT_MS 5000

//  A field of a campaign as the bulk request names it (contactIds[3] is ids[3]).
static void s_bulk_field(const char *field, char *out, size_t size) {
    if (strncmp(field, "contactIds", 10) == 0)
        snprintf(out, size, "ids%s", field + 10);
    else if (strcmp(field, "name") == 0)
        snprintf(out, size, "campaignName");
    else
        snprintf(out, size, "%s", field); // templateId, filter.*
}

//  The job a campaign is, as the bulk API answers it.
static Crm__Contacts__Job *s_campaign_job(crm_call_t *call, const Crm__Notify__Campaign *c) {
    Crm__Contacts__Job *job = malloc(sizeof *job);
    crm__contacts__job__init(job);
    crm_pb_string_set(&job->id, c->id);
    crm_pb_string_set(&job->kind, "campaign");
    crm_pb_string_set(&job->status, "queued");
    crm_pb_string_set(&job->action, "send_email");
    crm_pb_string_set(&job->actor_id, call->header->actor_id);
    crm_pb_string_set(&job->created_at, c->created_at);
    crm_pb_string_set(&job->campaign_id, c->id);
    return job;
}

//  send_email: 202 with the campaign's job, 422 (the filter's, or the notify service's
//  field errors in the bulk request's names), 403, or 503.
static int s_send_email(crm_call_t *call, const Crm__Contacts__BulkContactsRequest *req,
                        ProtobufCMessage **response) {
    long offset;
    if (req->filter && contacts_list_check(call, req->filter, "filter.", &offset))
        return 422;
    const contacts_t *self = call->arg;
    Crm__Notify__Campaign campaign = CRM__NOTIFY__CAMPAIGN__INIT;
    campaign.name = req->campaign_name;
    campaign.template_id = req->template_id;
    campaign.contact_ids = req->ids;
    campaign.n_contact_ids = req->n_ids;
    campaign.filter = req->filter;
    Crm__Notify__CreateCampaignRequest create = CRM__NOTIFY__CREATE_CAMPAIGN_REQUEST__INIT;
    create.campaign = &campaign;
    char key[128];
    snprintf(key, sizeof key, "contacts-bulk:%s", call->header->request_id);
    ProtobufCMessage *out = NULL;
    Crm__ReplyHeader *rh = NULL;
    int code = crm_call_service_keyed(call, self->notify, "notify", "CreateCampaignFromBulk",
                                      call->header->request_id[0] ? key : NULL, &create.base,
                                      &crm__notify__campaign__descriptor, SEND_EMAIL_TIMEOUT_MS,
                                      &out, &rh);
    if (code / 100 == 2) {
        *response = &s_campaign_job(call, (const Crm__Notify__Campaign *)out)->base;
        protobuf_c_message_free_unpacked(out, NULL);
        code = 202;
    } else if (code == 422 && rh && rh->n_fields) {
        for (size_t i = 0; i < rh->n_fields; i++) {
            char field[128];
            s_bulk_field(rh->fields[i]->field, field, sizeof field);
            crm_call_field_error(call, field, "%s", rh->fields[i]->message);
        }
    } else if (code / 100 == 4) {
        crm_call_error(call, rh->error, "%s", rh->message);
    } else {
        crm_call_error(call, "unavailable",
                       "the notify service is unavailable, so the email cannot be sent; "
                       "retry later");
        code = 503;
    }
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return code;
}

int contacts_bulk(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    Crm__Contacts__BulkContactsRequest *req =
        (Crm__Contacts__BulkContactsRequest *)crm_pb_copy(request);
    if (!contacts_bulk_role_may(req, call->header->role)) {
        crm_call_error(call, "forbidden", "%s needs the manager or admin role",
                       contacts_bulk_is_send_email(req) ? "send_email" : "delete");
        crm__contacts__bulk_contacts_request__free_unpacked(req, NULL);
        return 403;
    }
    crm_errors_t errors = {0};
    int code = contacts_bulk_check(req, &errors) ? crm_call_fail(call, &errors)
               : contacts_bulk_is_tag_action(req)
                   ? contacts_tags_resolve(call, "", req->tags, req->n_tags)
                   : 0;
    if (code == 0 && contacts_bulk_is_send_email(req)) {
        code = s_send_email(call, req, response);
        crm__contacts__bulk_contacts_request__free_unpacked(req, NULL);
        return code;
    }
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
