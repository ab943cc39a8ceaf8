/*  bulk: the rules of one change to many contacts: a selection (ids, or a filter, not
    both), an action with what it needs (tags, a type, an assignee, an email template;
    delete and send_email for managers and admins: contacts_bulk_role_may, answered 403
    before the request is checked), and how many are changed at once
    rather than queued. No database here:
    bulk_store.c holds the SQL and events, bulk_methods.c the method;
    tests/unit/test_contacts_bulk.c states the rules.
*/
#include "contacts.h"
#include "ids.h"
#include "validate.h"

#include <stdio.h>
#include <string.h>

#define BULK_INLINE_MAX 1000
#define BULK_MAX_IDS 10000
#define BULK_MAX_TAGS 50

bool contacts_bulk_role_may(const Crm__Contacts__BulkContactsRequest *req, const char *role) {
    bool manages = strcmp(role, "admin") == 0 || strcmp(role, "manager") == 0;
    return manages || (req->action != CRM__CONTACTS__BULK_ACTION__BULK_ACTION_DELETE &&
                       req->action != CRM__CONTACTS__BULK_ACTION__BULK_ACTION_SEND_EMAIL);
}

int contacts_bulk_check(Crm__Contacts__BulkContactsRequest *req, crm_errors_t *errors) {
    if (req->n_ids && req->filter)
        crm_errors_add(errors, "filter", "cannot be given with ids: choose one");
    if (!req->n_ids && !req->filter)
        crm_errors_add(errors, "ids", "or a filter is required");
    if (req->n_ids > BULK_MAX_IDS)
        crm_errors_add(errors, "ids", "may hold at most %d ids (use a filter)", BULK_MAX_IDS);
    for (size_t i = 0; i < req->n_ids && i < BULK_MAX_IDS; i++)
        if (!crm_uuid_valid(req->ids[i])) {
            char field[32];
            snprintf(field, sizeof field, "ids[%zu]", i);
            crm_errors_add(errors, field, "is not a valid contact id");
        }
    bool tag_action = req->action == CRM__CONTACTS__BULK_ACTION__BULK_ACTION_ADD_TAGS ||
                      req->action == CRM__CONTACTS__BULK_ACTION__BULK_ACTION_REMOVE_TAGS;
    switch (req->action) {
    case CRM__CONTACTS__BULK_ACTION__BULK_ACTION_UNSPECIFIED:
        crm_errors_add(errors, "action",
                       "is required (add_tags, remove_tags, set_type, assign, delete, "
                       "send_email)");
        break;
    case CRM__CONTACTS__BULK_ACTION__BULK_ACTION_SET_TYPE:
        if (req->type == CRM__CONTACTS__CONTACT_TYPE__CONTACT_TYPE_UNSPECIFIED)
            crm_errors_add(errors, "type", "is required to set the type");
        break;
    case CRM__CONTACTS__BULK_ACTION__BULK_ACTION_ASSIGN: {
        crm_text_trim(req->assignee);
        if (!contacts_assignee_valid(req->assignee))
            crm_errors_add(errors, "assignee", "must be a team member's id");
        break;
    }
    case CRM__CONTACTS__BULK_ACTION__BULK_ACTION_SEND_EMAIL:
        //  The rest (the template's channel and purpose, the name) is the notify
        //  service's to check.
        if (!req->template_id[0])
            crm_errors_add(errors, "templateId",
                           "is required to send email: an email template of purpose marketing");
        else if (!crm_uuid_valid(req->template_id))
            crm_errors_add(errors, "templateId", "is not a template id");
        break;
    default:
        break;
    }
    if (tag_action && (req->n_tags == 0 || req->n_tags > BULK_MAX_TAGS))
        crm_errors_add(errors, "tags", "must hold 1 to %d tags", BULK_MAX_TAGS);
    return errors->n ? -1 : 0;
}

bool contacts_bulk_is_send_email(const Crm__Contacts__BulkContactsRequest *req) {
    return req->action == CRM__CONTACTS__BULK_ACTION__BULK_ACTION_SEND_EMAIL;
}

bool contacts_bulk_is_tag_action(const Crm__Contacts__BulkContactsRequest *req) {
    return req->action == CRM__CONTACTS__BULK_ACTION__BULK_ACTION_ADD_TAGS ||
           req->action == CRM__CONTACTS__BULK_ACTION__BULK_ACTION_REMOVE_TAGS;
}

bool contacts_bulk_runs_inline(long total) {
    return total <= BULK_INLINE_MAX;
}
