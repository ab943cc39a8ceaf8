/*  audit_methods: a contact's audit trail (ListAudit), read top to bottom: decode, check
    (audit.c), store (audit_store.c), answer.
*/
#include "contacts.h"
#include "ids.h"
#include "page.h"

int contacts_audit_list(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Contacts__ListContactAuditRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such contact");
        return 404;
    }
    int limit =
        crm_page_limit(call, "limit", req->limit, CRM_PAGE_DEFAULT_LIMIT, CRM_PAGE_MAX_LIMIT);
    crm_errors_t errors = {0};
    contacts_audit_cursor_check(req->cursor, &errors);
    crm_call_fail(call, &errors);
    if (call->errors.n)
        return 422;
    return contacts_audit_store_list(call, req->id, req->cursor, limit,
                                     (Crm__Contacts__ListContactAuditResponse **)response);
}
