/*  campaign_methods: campaigns, rows of methods.c's table: CreateCampaign (POST
    /v1/campaigns), CreateCampaignFromBulk (bus only: the contacts service's bulk
    send_email), GetCampaign, ListCampaigns and CancelCampaign, each read top to bottom:
    decode, check (campaign.c), store (campaign_store.c), answer. Nothing is sent here:
    the campaign's job (campaign_job.c) queues its recipients, the senders send.

    A filter is checked by the contacts service, whose rules it follows: CreateCampaign
    asks its List for one contact with the filter, in the caller's name, and answers its
    refusals as 422 naming filter.<field>. CreateCampaignFromBulk does not: the contacts
    service checked the filter before calling, and is waiting for the answer (a call back
    into it would wait for itself).
*/
#include "notify.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "page.h"

#include <stdlib.h>
#include <string.h>

//  The filter as the contacts service's List takes it: 0, 422 naming filter.<field>, or
//  503 when the contacts service does not answer.
static int s_check_filter(crm_call_t *call, const Crm__Contacts__ListContactsRequest *filter) {
    notify_t *self = call->arg;
    //  A shallow copy: one contact is enough to know that the list takes the filter.
    Crm__Contacts__ListContactsRequest probe = *filter;
    probe.limit = 1;
    Crm__ReplyHeader *rh = NULL;
    int code = crm_call_service(call, self->client, "contacts", "List", &probe.base,
                                &crm__contacts__list_contacts_response__descriptor,
                                self->cfg->notify_call_timeout_ms, NULL, &rh);
    if (code == 200)
        code = 0;
    else if (code / 100 == 4) {
        for (size_t i = 0; rh && i < rh->n_fields; i++) {
            char field[128];
            snprintf(field, sizeof field, "filter.%s", rh->fields[i]->field);
            crm_call_field_error(call, field, "%s", rh->fields[i]->message);
        }
        if (!call->errors.n)
            crm_call_field_error(call, "filter", "is refused by the contacts list: %s",
                                 rh ? rh->message : "");
        code = 422;
    } else {
        char text[16];
        snprintf(text, sizeof text, "%d", code);
        crm_log_kv(CRM_LOG_WARN, "the contacts service did not answer a campaign's filter check",
                   "code", code ? text : "no answer", "request_id", call->header->request_id, NULL);
        crm_call_error(call, "unavailable",
                       "the contacts service is unavailable, so the filter cannot be checked; "
                       "retry later");
        code = 503;
    }
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return code;
}

//  A new campaign from req: 201 with it, 403, 422, 503, or a failure code.
static int s_create(crm_call_t *call, const Crm__Notify__CreateCampaignRequest *req,
                    bool check_filter, ProtobufCMessage **response) {
    if (!notify_campaign_may_manage(call->header->role)) {
        crm_call_error(call, "forbidden", "campaigns are started by managers and admins");
        return 403;
    }
    crm_errors_t errors = {0};
    if (!req->campaign) {
        crm_errors_add(&errors, "campaign", "is required");
        return crm_call_fail(call, &errors);
    }
    Crm__Notify__Campaign *c = (Crm__Notify__Campaign *)crm_pb_copy(&req->campaign->base);
    int code = notify_campaign_check(c, &errors) ? crm_call_fail(call, &errors) : 0;
    if (code == 0) {
        Crm__Notify__Template *t = NULL;
        if (notify_template_store_read(call->db, call->header->tenant_id, c->template_id, &t))
            code = crm_call_db_failure(call);
        else if (notify_campaign_check_template(t, &errors))
            code = crm_call_fail(call, &errors);
        else if (!c->name[0])
            crm_pb_string_set(&c->name, t->name);
        if (t)
            crm__notify__template__free_unpacked(t, NULL);
    }
    if (code == 0 && c->filter && check_filter)
        code = s_check_filter(call, c->filter);
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    crm_pb_string_set(&c->id, id);
    if (code == 0)
        code = notify_campaign_store_insert(call, c);
    crm__notify__campaign__free_unpacked(c, NULL);
    if (code)
        return code;
    code = notify_campaign_store_get(call, id, true, (Crm__Notify__Campaign **)response);
    return code == 200 ? 201 : code;
}

int notify_campaign_create(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    return s_create(call, (const Crm__Notify__CreateCampaignRequest *)request, true, response);
}

int notify_campaign_create_from_bulk(crm_call_t *call, const ProtobufCMessage *request,
                                     ProtobufCMessage **response) {
    return s_create(call, (const Crm__Notify__CreateCampaignRequest *)request, false, response);
}

int notify_campaign_get(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Notify__GetCampaignRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such campaign");
        return 404;
    }
    return notify_campaign_store_get(call, req->id, true, (Crm__Notify__Campaign **)response);
}

int notify_campaign_list(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__Notify__ListCampaignsRequest *req = (const void *)request;
    int limit =
        crm_page_limit(call, "limit", req->limit, CRM_PAGE_DEFAULT_LIMIT, CRM_PAGE_MAX_LIMIT);
    if (req->cursor[0] && !crm_uuid_valid(req->cursor))
        crm_call_field_error(call, "cursor", "is not a cursor of this list");
    if (call->errors.n)
        return 422;
    return notify_campaign_store_list(call, req->cursor, limit,
                                      (Crm__Notify__ListCampaignsResponse **)response);
}

int notify_campaign_cancel(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    const Crm__Notify__CancelCampaignRequest *req = (const void *)request;
    if (!notify_campaign_may_manage(call->header->role)) {
        crm_call_error(call, "forbidden", "campaigns are cancelled by managers and admins");
        return 403;
    }
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such campaign");
        return 404;
    }
    int code = notify_campaign_store_cancel(call, req->id);
    if (code != 0 && code != 1)
        return code;
    return notify_campaign_store_get(call, req->id, false, (Crm__Notify__Campaign **)response);
}
