/*  field_methods: the tenant's definitions for its contacts: custom fields
    (CreateCustomField, GetCustomField, ListCustomFields, UpdateCustomField,
    DeleteCustomField) and phone types (CreatePhoneType, ListPhoneTypes,
    DeletePhoneType), each read top to bottom: decode, check (field.c), store
    (field_store.c), answer.
*/
#include "contacts.h"
#include "json_pb.h"

// --- custom fields ------------------------------------------------------------------------

int contacts_field_create(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    const Crm__Contacts__CreateCustomFieldRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    if (!req->field) {
        crm_errors_add(&errors, "field", "is required");
        return crm_call_fail(call, &errors);
    }
    Crm__Contacts__CustomField *f = (Crm__Contacts__CustomField *)crm_pb_copy(&req->field->base);
    int code = contacts_field_create_check(f, &errors) ? crm_call_fail(call, &errors)
                                                       : contacts_field_store_insert(call, f);
    if (code == 201)
        *response = &f->base;
    else
        crm__contacts__custom_field__free_unpacked(f, NULL);
    return code;
}

int contacts_field_get(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    const Crm__Contacts__GetCustomFieldRequest *req = (const void *)request;
    return contacts_field_store_get(call, req->key, false, (Crm__Contacts__CustomField **)response);
}

int contacts_field_list(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    (void)request;
    return contacts_field_store_list(call, (Crm__Contacts__ListCustomFieldsResponse **)response);
}

int contacts_field_update(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    const Crm__Contacts__UpdateCustomFieldRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    if (contacts_field_mask_check(req->update_mask, req->n_update_mask, &errors))
        return crm_call_fail(call, &errors);
    Crm__Contacts__CustomField *f = NULL;
    int code = contacts_field_store_get(call, req->key, true, &f);
    if (code != 200)
        return code;
    //  The options that go: refused while a contact holds one.
    json_t *gone = contacts_field_apply(f, req);
    code = contacts_field_check(f, &errors) ? crm_call_fail(call, &errors)
                                            : contacts_field_store_update(call, f, gone);
    json_decref(gone);
    if (code == 200)
        *response = &f->base;
    else
        crm__contacts__custom_field__free_unpacked(f, NULL);
    return code;
}

int contacts_field_delete(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    (void)response;
    const Crm__Contacts__DeleteCustomFieldRequest *req = (const void *)request;
    return contacts_field_store_delete(call, req->key);
}

// --- phone types --------------------------------------------------------------------------

int contacts_phone_type_create(crm_call_t *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response) {
    const Crm__Contacts__CreatePhoneTypeRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    if (!req->phone_type) {
        crm_errors_add(&errors, "phoneType", "is required");
        return crm_call_fail(call, &errors);
    }
    Crm__Contacts__PhoneTypeDef *t =
        (Crm__Contacts__PhoneTypeDef *)crm_pb_copy(&req->phone_type->base);
    int code = contacts_phone_type_check(t, &errors) ? crm_call_fail(call, &errors)
                                                     : contacts_phone_type_store_insert(call, t);
    if (code == 201)
        *response = &t->base;
    else
        crm__contacts__phone_type_def__free_unpacked(t, NULL);
    return code;
}

int contacts_phone_type_list(crm_call_t *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response) {
    (void)request;
    return contacts_phone_type_store_list(call, (Crm__Contacts__ListPhoneTypesResponse **)response);
}

int contacts_phone_type_delete(crm_call_t *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response) {
    (void)response;
    const Crm__Contacts__DeletePhoneTypeRequest *req = (const void *)request;
    return contacts_phone_type_store_delete(call, req->name);
}
