/*  search_methods: the contact list (List: GET /v1/contacts), read top to bottom: decode,
    check (search.c), store (search_store.c: the statement built for the request),
    answer; and the list check other resources use for the filters they keep (saved
    filters, bulk changes, exports).
*/
#include "contacts.h"
#include "page.h"

int contacts_list_check(crm_call_t *call, const Crm__Contacts__ListContactsRequest *req,
                        const char *prefix, long *offset) {
    char field[64];
    snprintf(field, sizeof field, "%slimit", prefix);
    crm_page_limit(call, field, req->limit, CRM_PAGE_DEFAULT_LIMIT, CRM_PAGE_MAX_LIMIT);
    crm_errors_t errors = {0};
    contacts_search_check(req, prefix, offset, &errors);
    crm_call_fail(call, &errors);
    return call->errors.n ? 422 : 0;
}

int contacts_list_run(crm_call_t *call, const Crm__Contacts__ListContactsRequest *req,
                      Crm__Contacts__ListContactsResponse **out) {
    long offset;
    if (contacts_list_check(call, req, "", &offset))
        return 422;
    int limit = crm_page_limit(call, "limit", req->limit, CRM_PAGE_DEFAULT_LIMIT,
                               CRM_PAGE_MAX_LIMIT); // checked above: adds no error
    char text[CONTACTS_SEARCH_Q_MAX_LEN * 4 + 1];
    contacts_search_text(req, text, sizeof text);
    return contacts_search_store_list(call, req, text, limit, offset, out);
}

int contacts_list(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    return contacts_list_run(call, (const Crm__Contacts__ListContactsRequest *)request,
                             (Crm__Contacts__ListContactsResponse **)response);
}

int contacts_select_for_job(crm_call_t *call, const Crm__Contacts__ListContactsRequest *filter,
                            const char *job_id, long *count) {
    long offset;
    if (contacts_list_check(call, filter, "filter.", &offset))
        return 422;
    const contacts_t *self = call->arg;
    if (contacts_search_store_select_for_job(call->db, call->header->tenant_id,
                                             self->cfg->contacts_default_region, filter, job_id,
                                             NULL, count))
        return crm_call_db_failure(call);
    return 0;
}
