/*  consent_methods: a contact's communication rules, consents and their history
    (GetCommunicationRules, UpdateCommunicationRules, RecordConsent, GetConsent,
    ListCommunicationHistory, CanContact), each read top to bottom: decode, check
    (consent.c), store (consent_store.c), answer. A write reads the contact's state with
    its row locked, works out what changes (consent.c), then writes it (consent_store.c).
    A change of the rules takes that path whoever asks (contacts_communication_change_in):
    a PATCH, or the notify service's SMS keywords (optout_follow.c).
*/
#include "contacts.h"
#include "ids.h"
#include "json_pb.h"
#include "page.h"

#include <stdlib.h>
#include <string.h>

//  0 when id can name a contact; else 404 (a malformed id names none, whatever else the
//  request gets wrong).
static int s_check_contact_id(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return 0;
    crm_call_field_error(call, "id", "is not a valid contact id");
    crm_call_error(call, "not_found", "no such contact");
    return 404;
}

//  The rules and consents of live contact id (for_update: and lock it): 200 with st
//  filled, 404, or a failure code.
static int s_state_read(crm_call_t *call, const char *id, bool for_update,
                        contacts_consent_state_t *st) {
    memset(st, 0, sizeof *st);
    if (s_check_contact_id(call, id))
        return 404;
    return contacts_consent_store_state(call, id, for_update, st);
}

int contacts_communication_get(crm_call_t *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response) {
    const Crm__Contacts__GetCommunicationRulesRequest *req = (const void *)request;
    contacts_consent_state_t st;
    int code = s_state_read(call, req->id, false, &st);
    if (code != 200)
        return code;
    *response = &contacts_consent_rules_new(&st, req->id)->base;
    contacts_consent_state_reset(&st);
    return 200;
}

int contacts_consent_record(crm_call_t *call, const ProtobufCMessage *request,
                            ProtobufCMessage **response) {
    const Crm__Contacts__RecordConsentRequest *req = (const void *)request;
    if (s_check_contact_id(call, req->id))
        return 404;
    crm_errors_t errors = {0};
    int64_t now_us = contacts_consent_now_us(), effective_us;
    if (contacts_consent_record_check(req, now_us, &effective_us, &errors))
        return crm_call_fail(call, &errors);

    contacts_consent_state_t st;
    int code = s_state_read(call, req->id, true, &st);
    if (code != 200)
        return code;
    char now[40], effective_at[40], change_id[CRM_UUID_LEN + 1];
    contacts_consent_time_format(now_us, now, sizeof now);
    contacts_consent_time_format(effective_us, effective_at, sizeof effective_at);
    crm_uuid_v7(change_id);
    bool current = contacts_consent_is_current(&st, req, effective_at);
    contacts_consent_state_reset(&st);
    code = contacts_consent_store_record(call, req, effective_at, now, change_id, current);
    if (code)
        return code;

    Crm__Contacts__CommunicationChange *change = malloc(sizeof *change);
    crm__contacts__communication_change__init(change);
    crm_pb_string_set(&change->id, change_id);
    crm_pb_string_set(&change->contact_id, req->id);
    change->kind = CRM__CONTACTS__COMMUNICATION_CHANGE_KIND__COMMUNICATION_CHANGE_KIND_CONSENT;
    change->channel = req->channel;
    change->purpose = req->purpose;
    change->granted = req->granted;
    change->granted_set_case = CRM__CONTACTS__COMMUNICATION_CHANGE__GRANTED_SET_GRANTED;
    change->method = req->method;
    crm_pb_string_set(&change->note, req->note);
    crm_pb_string_set(&change->effective_at, effective_at);
    crm_pb_string_set(&change->recorded_at, now);
    crm_pb_string_set(&change->recorded_by, call->header->actor_id);
    *response = &change->base;
    return 201;
}

int contacts_communication_change_in(const contacts_scope_t *scope, const char *id,
                                     const contacts_rules_change_t *want, const char *effective_at,
                                     contacts_consent_state_t *st) {
    int code = contacts_consent_store_state_in(scope, id, true, st);
    if (code != 200)
        return code;
    int64_t now_us = contacts_consent_now_us();
    char now[40];
    contacts_consent_time_format(now_us, now, sizeof now);
    Crm__Events__ContactCommunicationRulesChanged event =
        CRM__EVENTS__CONTACT_COMMUNICATION_RULES_CHANGED__INIT;
    char *changed[CONTACTS_CONSENT_FLAGS + 2];
    event.changed = changed;
    json_t *changes = json_array();
    contacts_communication_apply(st, want, now_us, changes, &event);
    //  Nothing changes (every value was already so): nothing to record.
    if (event.n_changed) {
        if (contacts_consent_store_rules_write_in(scope, id, st, changes, &event, want,
                                                  effective_at ? effective_at : now, now))
            code = -1;
        snprintf(st->updated_at, sizeof st->updated_at, "%s", now);
        snprintf(st->updated_by, sizeof st->updated_by, "%s", scope->actor_id);
    }
    json_decref(changes);
    if (code != 200)
        contacts_consent_state_reset(st);
    return code;
}

int contacts_communication_update(crm_call_t *call, const ProtobufCMessage *request,
                                  ProtobufCMessage **response) {
    const Crm__Contacts__UpdateCommunicationRulesRequest *req = (const void *)request;
    if (s_check_contact_id(call, req->id))
        return 404;
    crm_errors_t errors = {0};
    contacts_rules_change_t want;
    if (contacts_communication_update_check(req, &want, &errors))
        return crm_call_fail(call, &errors);

    contacts_scope_t scope = {call->db, call->header->tenant_id, call->header->actor_id};
    contacts_consent_state_t st;
    int code = contacts_communication_change_in(&scope, req->id, &want, NULL, &st);
    if (code != 200)
        return contacts_consent_store_answer(call, code);
    *response = &contacts_consent_rules_new(&st, req->id)->base;
    contacts_consent_state_reset(&st);
    return 200;
}

int contacts_communication_history(crm_call_t *call, const ProtobufCMessage *request,
                                   ProtobufCMessage **response) {
    const Crm__Contacts__ListCommunicationHistoryRequest *req = (const void *)request;
    if (s_check_contact_id(call, req->id))
        return 404;
    int limit =
        crm_page_limit(call, "limit", req->limit, CRM_PAGE_DEFAULT_LIMIT, CRM_PAGE_MAX_LIMIT);
    crm_errors_t errors = {0};
    contacts_history_cursor_check(req->cursor, &errors);
    crm_call_fail(call, &errors);
    if (call->errors.n)
        return 422;
    return contacts_consent_store_history(
        call, req->id, req->cursor, limit,
        (Crm__Contacts__ListCommunicationHistoryResponse **)response);
}

int contacts_consent_get(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__Contacts__GetConsentRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id) || !crm_uuid_valid(req->change_id)) {
        crm_call_error(call, "not_found", "no such consent decision");
        return 404;
    }
    return contacts_consent_store_change_get(call, req->id, req->change_id, response);
}

int contacts_can_contact(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__Contacts__CanContactRequest *req = (const void *)request;
    if (s_check_contact_id(call, req->id))
        return 404;
    crm_errors_t errors = {0};
    if (contacts_can_contact_check(req, &errors))
        return crm_call_fail(call, &errors);
    contacts_consent_state_t st;
    int code = s_state_read(call, req->id, false, &st);
    if (code != 200)
        return code;
    Crm__Contacts__CanContactResponse *out = malloc(sizeof *out);
    crm__contacts__can_contact_response__init(out);
    char detail[256];
    out->allowed = contacts_consent_verdict(&st, req->channel, req->purpose, &out->reason, detail,
                                            sizeof detail);
    out->allowed_set_case = CRM__CONTACTS__CAN_CONTACT_RESPONSE__ALLOWED_SET_ALLOWED;
    crm_pb_string_set(&out->detail, detail);
    contacts_consent_state_reset(&st);
    *response = &out->base;
    return 200;
}
