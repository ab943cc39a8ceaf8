/*  message_methods: messages, rows of methods.c's table: SendMessage (a salesperson's
    one-off message to a contact), GetMessage (with its status history), ListMessages
    (by contact, lead, status, channel; status dead is the dead letters) and RetryMessage
    (a manager sends a dead, failed or unknown message again). Each reads top to bottom:
    decode, check (message.c), store (message_store.c), answer. The message goes out from
    a sender (sender.c), which renders it and decides its permission again when it goes.
*/
#include "notify.h"
#include "json_pb.h"
#include "outbox.h"
#include "page.h"

#include <stdlib.h>
#include <string.h>

//  A message's text and recipient as the request gives them, checked against what
//  notify knows: the contact (its projection) may be sent this message on this channel
//  for this purpose now, and a template named is the tenant's, of the same channel.
static int s_check_known(crm_call_t *call, const Crm__Notify__Message *m) {
    if (m->template_id[0]) {
        Crm__Notify__Template *t = NULL;
        int code = notify_template_store_get(call, m->template_id, &t);
        if (code == 404) {
            crm_errors_t errors = {0};
            crm_errors_add(&errors, "templateId", "is not a template of this dealership");
            return crm_call_fail(call, &errors);
        }
        if (code != 200)
            return code;
        bool same = t->channel == m->channel;
        crm__notify__template__free_unpacked(t, NULL);
        if (!same) {
            crm_errors_t errors = {0};
            crm_errors_add(&errors, "templateId", "is a template of the other channel");
            return crm_call_fail(call, &errors);
        }
    }
    return notify_permission_store_check(call, m->contact_id, m->channel, m->purpose);
}

int notify_message_send(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Notify__SendMessageRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    if (!req->message) {
        crm_errors_add(&errors, "message", "is required");
        return crm_call_fail(call, &errors);
    }
    Crm__Notify__Message *m = (Crm__Notify__Message *)crm_pb_copy(&req->message->base);
    int code = 0;
    if (notify_message_check_send(m, &errors))
        code = crm_call_fail(call, &errors);
    char channel[16], purpose[24];
    crm_enum_api_name(&crm__notify__channel__descriptor, (int)m->channel, channel, sizeof channel);
    crm_enum_api_name(&crm__notify__purpose__descriptor, (int)m->purpose, purpose, sizeof purpose);
    if (code == 0)
        code = s_check_known(call, m);
    char id[CRM_UUID_LEN + 1] = "";
    if (code == 0) {
        //  One request, one message: the key is the request's (a retry with the same
        //  Idempotency-Key is answered by the core before this runs).
        char key[200], source[CRM_UUID_LEN + 1];
        crm_uuid_v7(source);
        notify_message_key(key, sizeof key, "manual", source, channel, m->contact_id);
        notify_enqueue_t e = {.tenant_id = call->header->tenant_id,
                              .key = key,
                              .contact_id = m->contact_id,
                              .lead_id = m->lead_id,
                              .channel = channel,
                              .purpose = purpose,
                              .trigger = "manual",
                              .template_id = m->template_id,
                              .automated = false,
                              .subject = m->subject,
                              .body_text = m->body_text,
                              .body_html = m->body_html,
                              .created_by =
                                  call->header->actor_id[0] ? call->header->actor_id : "api"};
        crm_outbox_t *outbox = crm_outbox_new();
        int queued = notify_message_store_enqueue(call->db, outbox, &e, id);
        if (queued != 1 || crm_outbox_write(outbox, call->db))
            code = crm_call_db_failure(call);
        crm_outbox_destroy(&outbox);
    }
    crm__notify__message__free_unpacked(m, NULL);
    if (code)
        return code;
    Crm__Notify__Message *stored = NULL;
    code = notify_message_store_get(call, id, &stored);
    if (code != 200)
        return code;
    *response = &stored->base;
    return 201;
}

int notify_message_get(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    const Crm__Notify__GetMessageRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such message");
        return 404;
    }
    return notify_message_store_get(call, req->id, (Crm__Notify__Message **)response);
}

int notify_message_list(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Notify__ListMessagesRequest *req = (const void *)request;
    int limit =
        crm_page_limit(call, "limit", req->limit, CRM_PAGE_DEFAULT_LIMIT, CRM_PAGE_MAX_LIMIT);
    if (req->cursor[0] && !crm_uuid_valid(req->cursor))
        crm_call_field_error(call, "cursor", "is not a cursor of this list");
    if (req->contact_id[0] && !crm_uuid_valid(req->contact_id))
        crm_call_field_error(call, "contactId", "is not a contact id");
    if (req->lead_id[0] && !crm_uuid_valid(req->lead_id))
        crm_call_field_error(call, "leadId", "is not a lead id");
    if (call->errors.n)
        return 422;
    char status[24] = "", channel[16] = "";
    if (req->status)
        crm_enum_api_name(&crm__notify__message_status__descriptor, (int)req->status, status,
                          sizeof status);
    if (req->channel)
        crm_enum_api_name(&crm__notify__channel__descriptor, (int)req->channel, channel,
                          sizeof channel);
    notify_message_filter_t filter = {.after_id = req->cursor,
                                      .contact_id = req->contact_id,
                                      .lead_id = req->lead_id,
                                      .status = status,
                                      .channel = channel};
    return notify_message_store_list(call, &filter, limit,
                                     (Crm__Notify__ListMessagesResponse **)response);
}

int notify_message_retry(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__Notify__RetryMessageRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such message");
        return 404;
    }
    int code = notify_message_store_retry(call, req->id);
    if (code)
        return code;
    return notify_message_store_get(call, req->id, (Crm__Notify__Message **)response);
}
