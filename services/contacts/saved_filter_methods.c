/*  saved_filter_methods: a team member's named contact filters, a search and its
    filters kept to run again ("my hot prospects", "service customers without email
    consent"): CreateSavedFilter, GetSavedFilter, ListSavedFilters, UpdateSavedFilter,
    DeleteSavedFilter, RunSavedFilter, each read top to bottom: decode, check
    (saved_filter.c, and the filter as a list request: search.c), store
    (saved_filter_store.c), answer. Another team member's filter is 404.
*/
#include "contacts.h"
#include "ids.h"
#include "json_pb.h"

//  One of the caller's filters: 200 with *out, 404, or a failure code.
static int s_read(crm_call_t *call, const char *id, Crm__Contacts__SavedFilter **out) {
    if (!crm_uuid_valid(id)) {
        crm_call_error(call, "not_found", "no such saved filter");
        return 404;
    }
    return contacts_saved_filter_store_get(call, id, out);
}

//  Check name and filter (trimmed, limit and cursor dropped); 0, 422, 409 for a name the
//  owner already uses, or a failure code.
static int s_check(crm_call_t *call, Crm__Contacts__SavedFilter *f, const char *except_id) {
    crm_errors_t errors = {0};
    contacts_saved_filter_check(f, &errors);
    crm_call_fail(call, &errors);
    long offset;
    contacts_list_check(call, f->filter, "filter.", &offset);
    if (call->errors.n)
        return 422;
    return contacts_saved_filter_store_name_free(call, f->name, except_id);
}

int contacts_saved_filter_create(crm_call_t *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **response) {
    const Crm__Contacts__CreateSavedFilterRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    if (!req->saved_filter) {
        crm_errors_add(&errors, "savedFilter", "is required");
        return crm_call_fail(call, &errors);
    }
    Crm__Contacts__SavedFilter *f =
        (Crm__Contacts__SavedFilter *)crm_pb_copy(&req->saved_filter->base);
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    crm_pb_string_set(&f->id, id);
    int code = s_check(call, f, "");
    if (code == 0)
        code = contacts_saved_filter_store_insert(call, f);
    if (code == 201)
        *response = &f->base;
    else
        crm__contacts__saved_filter__free_unpacked(f, NULL);
    return code;
}

int contacts_saved_filter_get(crm_call_t *call, const ProtobufCMessage *request,
                              ProtobufCMessage **response) {
    const Crm__Contacts__GetSavedFilterRequest *req = (const void *)request;
    return s_read(call, req->id, (Crm__Contacts__SavedFilter **)response);
}

int contacts_saved_filter_list(crm_call_t *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response) {
    (void)request;
    return contacts_saved_filter_store_list(call,
                                            (Crm__Contacts__ListSavedFiltersResponse **)response);
}

int contacts_saved_filter_update(crm_call_t *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **response) {
    const Crm__Contacts__UpdateSavedFilterRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    if (contacts_saved_filter_mask_check(req->update_mask, req->n_update_mask, &errors))
        return crm_call_fail(call, &errors);
    Crm__Contacts__SavedFilter *f = NULL;
    int code = s_read(call, req->id, &f);
    if (code != 200)
        return code;
    contacts_saved_filter_apply(f, req);
    code = s_check(call, f, f->id);
    if (code == 0)
        code = contacts_saved_filter_store_update(call, f);
    if (code == 200)
        *response = &f->base;
    else
        crm__contacts__saved_filter__free_unpacked(f, NULL);
    return code;
}

int contacts_saved_filter_delete(crm_call_t *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **response) {
    (void)response;
    const Crm__Contacts__DeleteSavedFilterRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such saved filter");
        return 404;
    }
    return contacts_saved_filter_store_delete(call, req->id);
}

int contacts_saved_filter_run(crm_call_t *call, const ProtobufCMessage *request,
                              ProtobufCMessage **response) {
    const Crm__Contacts__RunSavedFilterRequest *req = (const void *)request;
    Crm__Contacts__SavedFilter *f = NULL;
    int code = s_read(call, req->id, &f);
    if (code != 200)
        return code;
    contacts_saved_filter_page(f, req->limit, req->cursor);
    code = contacts_list_run(call, f->filter, (Crm__Contacts__ListContactsResponse **)response);
    crm__contacts__saved_filter__free_unpacked(f, NULL);
    return code;
}
