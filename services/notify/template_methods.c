/*  template_methods: message templates, rows of methods.c's table: CreateTemplate,
    GetTemplate, ListTemplates, UpdateTemplate, DeleteTemplate and PreviewTemplate, each
    read top to bottom: decode, check (template.c), store (template_store.c), answer.
    Another tenant's template is 404.

    PreviewTemplate renders a template against a live contact (the contacts service's
    Get) and, when given, one of the contact's leads (the leads service's Get) and the
    lead's assignee (GetTeamMember), each asked over the bus in the caller's name, so the
    caller sees only what the caller may see. A contact or lead that is not there is 422
    naming contactId or leadId; a service that does not answer is 503.
*/
#include "notify.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "page.h"

#include <stdlib.h>
#include <string.h>

//  One of the tenant's templates: 200 with *out, 404, or a failure code.
static int s_read(crm_call_t *call, const char *id, Crm__Notify__Template **out) {
    if (!crm_uuid_valid(id)) {
        crm_call_error(call, "not_found", "no such template");
        return 404;
    }
    return notify_template_store_get(call, id, out);
}

//  The rules, then the name against the tenant's others: 0, 422, 409, or a failure code.
static int s_check(crm_call_t *call, Crm__Notify__Template *t, const char *except_id) {
    crm_errors_t errors = {0};
    if (notify_template_check(t, &errors))
        return crm_call_fail(call, &errors);
    return notify_template_store_name_free(call, t->name, except_id);
}

int notify_template_create(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    const Crm__Notify__CreateTemplateRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    if (!req->template_) {
        crm_errors_add(&errors, "template", "is required");
        return crm_call_fail(call, &errors);
    }
    Crm__Notify__Template *t = (Crm__Notify__Template *)crm_pb_copy(&req->template_->base);
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    crm_pb_string_set(&t->id, id);
    int code = s_check(call, t, "");
    if (code == 0)
        code = notify_template_store_insert(call, t);
    if (code == 201)
        *response = &t->base;
    else
        crm__notify__template__free_unpacked(t, NULL);
    return code;
}

int notify_template_get(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Notify__GetTemplateRequest *req = (const void *)request;
    return s_read(call, req->id, (Crm__Notify__Template **)response);
}

int notify_template_list(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__Notify__ListTemplatesRequest *req = (const void *)request;
    int limit =
        crm_page_limit(call, "limit", req->limit, CRM_PAGE_DEFAULT_LIMIT, CRM_PAGE_MAX_LIMIT);
    if (req->cursor[0] && !crm_uuid_valid(req->cursor))
        crm_call_field_error(call, "cursor", "is not a cursor of this list");
    if (call->errors.n)
        return 422;
    char channel[16];
    crm_enum_api_name(&crm__notify__channel__descriptor, (int)req->channel, channel,
                      sizeof channel);
    return notify_template_store_list(call, req->cursor, channel, limit,
                                      (Crm__Notify__ListTemplatesResponse **)response);
}

int notify_template_update(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    const Crm__Notify__UpdateTemplateRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    if (notify_template_mask_check(req->update_mask, req->n_update_mask, &errors))
        return crm_call_fail(call, &errors);
    Crm__Notify__Template *t = NULL;
    int code = s_read(call, req->id, &t);
    if (code != 200)
        return code;
    notify_template_apply(t, req);
    //  An SMS template made from an email one leaves its email parts behind.
    if (t->channel == CRM__NOTIFY__CHANNEL__CHANNEL_SMS) {
        bool asked_subject = false, asked_html = false;
        for (size_t i = 0; i < req->n_update_mask; i++) {
            asked_subject |= strcmp(req->update_mask[i], "subject") == 0;
            asked_html |= strcmp(req->update_mask[i], "bodyHtml") == 0 ||
                          strcmp(req->update_mask[i], "body_html") == 0;
        }
        if (!asked_subject)
            crm_pb_string_set(&t->subject, "");
        if (!asked_html)
            crm_pb_string_set(&t->body_html, "");
    }
    code = s_check(call, t, t->id);
    if (code == 0)
        code = notify_template_store_update(call, t);
    if (code == 200)
        *response = &t->base;
    else
        crm__notify__template__free_unpacked(t, NULL);
    return code;
}

int notify_template_delete(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    (void)response;
    const Crm__Notify__DeleteTemplateRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such template");
        return 404;
    }
    return notify_template_store_delete(call, req->id);
}

// --- Preview: the contacts and leads services ----------------------------------------

//  A request to service in the caller's name (crm_call_service): the reply's code (0: no
//  answer), *out the response of a 2xx (caller frees; NULL otherwise).
static int s_bus_call(crm_call_t *call, const char *service, const char *method,
                      const ProtobufCMessage *request,
                      const ProtobufCMessageDescriptor *response_type, ProtobufCMessage **out) {
    notify_t *self = call->arg;
    return crm_call_service(call, self->client, service, method, request, response_type,
                            self->cfg->notify_call_timeout_ms, out, NULL);
}

//  The answer when service did not answer (code 0) or failed: 503.
static int s_unavailable(crm_call_t *call, const char *service, const char *method, int code) {
    char text[16];
    snprintf(text, sizeof text, "%d", code);
    crm_log_kv(CRM_LOG_WARN, "a service did not answer a template preview", "service", service,
               "method", method, "code", code ? text : "no answer", "request_id",
               call->header->request_id, NULL);
    crm_call_error(call, "unavailable",
                   "the %s service is unavailable, so the preview cannot be rendered; retry later",
                   service);
    return 503;
}

//  Fill values from the contact, the lead and its assignee: 0, 422 naming contactId or
//  leadId, or 503.
static int s_preview_values(crm_call_t *call, const Crm__Notify__PreviewTemplateRequest *req,
                            notify_values_t *values) {
    ProtobufCMessage *out = NULL;
    Crm__Contacts__GetContactRequest get_contact = CRM__CONTACTS__GET_CONTACT_REQUEST__INIT;
    get_contact.id = req->contact_id;
    int code = s_bus_call(call, "contacts", "Get", &get_contact.base,
                          &crm__contacts__contact__descriptor, &out);
    if (code == 404) {
        crm_call_field_error(call, "contactId", "no such contact");
        return 422;
    }
    if (code != 200)
        return s_unavailable(call, "contacts", "Get", code);
    notify_values_from_contact(values, (Crm__Contacts__Contact *)out);
    protobuf_c_message_free_unpacked(out, NULL);
    if (!req->lead_id[0])
        return 0;

    Crm__Leads__GetLeadRequest get_lead = CRM__LEADS__GET_LEAD_REQUEST__INIT;
    get_lead.id = req->lead_id;
    code = s_bus_call(call, "leads", "Get", &get_lead.base, &crm__leads__lead__descriptor, &out);
    if (code == 404) {
        crm_call_field_error(call, "leadId", "no such lead");
        return 422;
    }
    if (code != 200)
        return s_unavailable(call, "leads", "Get", code);
    Crm__Leads__Lead *lead = (Crm__Leads__Lead *)out;
    if (strcasecmp(lead->contact_id, req->contact_id) != 0) {
        crm_call_field_error(call, "leadId", "is not a lead of contact %s", req->contact_id);
        protobuf_c_message_free_unpacked(out, NULL);
        return 422;
    }
    notify_values_from_lead(values, lead);
    char assignee[64];
    snprintf(assignee, sizeof assignee, "%s", lead->assignee_id);
    protobuf_c_message_free_unpacked(out, NULL);
    if (!assignee[0])
        return 0;

    //  The assignee; one no longer on the team leaves {{salesperson.*}} empty.
    Crm__Leads__GetTeamMemberRequest get_member = CRM__LEADS__GET_TEAM_MEMBER_REQUEST__INIT;
    get_member.id = assignee;
    code = s_bus_call(call, "leads", "GetTeamMember", &get_member.base,
                      &crm__leads__team_member__descriptor, &out);
    if (code == 200)
        notify_values_from_member(values, (Crm__Leads__TeamMember *)out);
    else if (code != 404)
        return s_unavailable(call, "leads", "GetTeamMember", code);
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return 0;
}

int notify_template_preview(crm_call_t *call, const ProtobufCMessage *request,
                            ProtobufCMessage **response) {
    const Crm__Notify__PreviewTemplateRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    if (!req->contact_id[0])
        crm_errors_add(&errors, "contactId", "is required");
    else if (!crm_uuid_valid(req->contact_id))
        crm_errors_add(&errors, "contactId", "no such contact");
    if (req->lead_id[0] && !crm_uuid_valid(req->lead_id))
        crm_errors_add(&errors, "leadId", "no such lead");
    if (crm_call_fail(call, &errors))
        return 422;
    Crm__Notify__Template *t = NULL;
    int code = s_read(call, req->id, &t);
    if (code != 200)
        return code;
    notify_values_t values;
    notify_values_init(&values);
    notify_t *self = call->arg;
    notify_values_set(&values, NOTIFY_DEALERSHIP_NAME, self->cfg->notify_dealership_name);
    code = s_preview_values(call, req, &values);
    if (code == 0) {
        Crm__Notify__PreviewTemplateResponse *p = malloc(sizeof *p);
        crm__notify__preview_template_response__init(p);
        p->template_id = strdup(t->id);
        p->channel = t->channel;
        p->subject = notify_template_render(t->subject, &values, false);
        p->body_text = notify_template_render(t->body_text, &values, false);
        p->body_html = notify_template_render(t->body_html, &values, true);
        *response = &p->base;
        code = 200;
    }
    notify_values_reset(&values);
    crm__notify__template__free_unpacked(t, NULL);
    return code;
}
