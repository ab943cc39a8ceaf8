/*  contact_methods: a contact's methods (the rows of methods.c under "A contact"). Each
    reads top to bottom: decode, check (contact.c, with the tenant's data its rules ask
    for from contact_store.c), store (contact_store.c), answer.
*/
#include "contacts.h"
#include "merge.h"
#include "ids.h"
#include "json_pb.h"
#include "validate.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int contacts_contact_prepare_in(crm_db_t *db, const char *tenant_id, const char *region,
                                Crm__Contacts__Contact *c, const char *prefix,
                                crm_errors_t *errors, contacts_row_t *row,
                                contacts_row_names_t *names) {
    contacts_lookup_t lookup = {0};
    contacts_contact_check(c, region, prefix, errors, &lookup);
    int rc = contacts_contact_store_lookup(db, tenant_id, &lookup);
    if (rc == 0)
        contacts_contact_check_known(c, prefix, &lookup, errors);
    contacts_lookup_reset(&lookup);
    if (rc)
        return -1;
    if (errors->n)
        return 422;
    contacts_contact_render(c, row, names);
    return 0;
}

//  The check of a contact inside a request: 0, 422 with the call's field errors, or
//  the database's failure code.
static int s_prepare(crm_call_t *call, Crm__Contacts__Contact *c, contacts_row_t *row,
                     contacts_row_names_t *names) {
    const contacts_t *self = call->arg;
    crm_errors_t errors = {0};
    int rc = contacts_contact_prepare_in(call->db, call->header->tenant_id,
                                         self->cfg->contacts_default_region, c, "", &errors,
                                         row, names);
    if (rc == -1) {
        crm_errors_reset(&errors);
        return crm_call_db_failure(call);
    }
    return rc ? crm_call_fail(call, &errors) : 0;
}

static bool s_check_id(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return true;
    crm_call_field_error(call, "id", "is not a valid contact id");
    return false;
}

int contacts_contact_create(crm_call_t *call, const ProtobufCMessage *request,
                            ProtobufCMessage **response) {
    const Crm__Contacts__CreateContactRequest *req = (const void *)request;
    if (!req->contact) {
        crm_call_field_error(call, "contact", "is required");
        return 422;
    }
    //  Work on a copy: the checks normalise fields in place.
    Crm__Contacts__Contact *c = (Crm__Contacts__Contact *)crm_pb_copy(&req->contact->base);
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    crm_pb_string_set(&c->id, id);
    c->lead_count = 0;  // read-only: kept by the service
    crm_pb_string_set(&c->last_activity_at, "");
    contacts_row_t row = {0};
    contacts_row_names_t names;
    int code = s_prepare(call, c, &row, &names);
    if (code == 0) // the duplicate check, made for the batch before it ran (duplicate_methods.c)
        code = contacts_duplicate_answer(call, req->allow_duplicate);
    if (code == 0)
        code = contacts_store_insert(call, &row, c, req->allow_duplicate);
    contacts_row_reset(&row);
    if (code == 201)
        *response = &c->base;
    else
        crm__contacts__contact__free_unpacked(c, NULL);
    return code;
}

int contacts_contact_get(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__Contacts__GetContactRequest *req = (const void *)request;
    if (!s_check_id(call, req->id))
        return 404;
    int code = contacts_store_get(call, req->id, false, (Crm__Contacts__Contact **)response);
    if (code != 404)
        return code;
    //  A contact merged away answers its survivor, mergedFrom naming the id asked for.
    call->error[0] = call->message[0] = 0;
    return contacts_merge_get_resolved(call, req->id, (Crm__Contacts__Contact **)response);
}

int contacts_contact_match(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    const Crm__Contacts__MatchContactRequest *req = (const void *)request;
    const contacts_t *self = call->arg;
    char email[320] = "", phone[32] = "";
    crm_errors_t errors = {0};
    if (contacts_match_check(req, self->cfg->contacts_default_region, email, sizeof email,
                             phone, sizeof phone, &errors))
        return crm_call_fail(call, &errors);
    return contacts_store_match(call, email, phone,
                                (Crm__Contacts__MatchContactResponse **)response);
}

int contacts_contact_update_in(const contacts_scope_t *scope, const char *region, const char *id,
                               Crm__Contacts__Contact *patch, char *const *mask, size_t n_mask,
                               crm_errors_t *errors, char conflict_id[64],
                               Crm__Contacts__Contact **out) {
    Crm__Contacts__Contact *c = NULL;
    int code = contacts_contact_store_get(scope, id, true, &c);
    contacts_row_t row = {0};
    contacts_row_names_t names;
    if (code == 200) {
        for (size_t i = 0; i < n_mask; i++)
            if (contacts_contact_apply_field(c, patch, mask[i]))
                crm_errors_add(errors, mask[i], "cannot be changed");
        code = errors->n ? 422
                         : contacts_contact_prepare_in(scope->db, scope->tenant_id, region, c, "",
                                                       errors, &row, &names);
    }
    if (code == 0)
        code = contacts_contact_store_update(scope, &row, c, (const char *const *)mask, n_mask,
                                             errors, conflict_id);
    contacts_row_reset(&row);
    if (code == 200 && out)
        *out = c;
    else if (c)
        crm__contacts__contact__free_unpacked(c, NULL);
    return code;
}

int contacts_contact_update(crm_call_t *call, const ProtobufCMessage *request,
                            ProtobufCMessage **response) {
    const Crm__Contacts__UpdateContactRequest *req = (const void *)request;
    if (!s_check_id(call, req->id))
        return 404;
    crm_errors_t errors = {0};
    if (contacts_update_check(req, &errors))
        return crm_call_fail(call, &errors);
    const contacts_t *self = call->arg;
    contacts_scope_t scope = {call->db, call->header->tenant_id, call->header->actor_id};
    Crm__Contacts__Contact *patch =
        req->contact ? (Crm__Contacts__Contact *)crm_pb_copy(&req->contact->base) : NULL;
    char conflict_id[64] = "";
    int code = contacts_contact_update_in(&scope, self->cfg->contacts_default_region, req->id,
                                          patch, req->update_mask, req->n_update_mask, &errors,
                                          conflict_id, (Crm__Contacts__Contact **)response);
    if (patch)
        crm__contacts__contact__free_unpacked(patch, NULL);
    return contacts_answer_write(call, code, &errors, conflict_id);
}

int contacts_contact_delete(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    (void)response;
    const Crm__Contacts__DeleteContactRequest *req = (const void *)request;
    if (!s_check_id(call, req->id))
        return 404;
    return contacts_store_delete(call, req->id);
}

//  Apply or remove one tag (by its catalogue name, any case): the contact's tags with
//  it added at the end or taken out, written as a PATCH of tags would be.
static int s_change_tag(crm_call_t *call, const char *id, const char *tag, bool add,
                        ProtobufCMessage **response) {
    if (!s_check_id(call, id))
        return 404;
    char *name = strdup(tag);
    int code = contacts_tag_canonical(call, "tag", &name);
    Crm__Contacts__Contact *c = NULL;
    if (code == 0)
        code = contacts_store_get(call, id, true, &c);
    if (code == 200) {
        size_t n = 0;
        char **tags = calloc(c->n_tags + 2, sizeof *tags);
        bool present = false;
        for (size_t i = 0; i < c->n_tags; i++) {
            bool same = strcasecmp(c->tags[i], name) == 0;
            present |= same;
            if (add || !same)
                tags[n++] = c->tags[i];
        }
        if (add && !present)
            tags[n++] = name;
        Crm__Contacts__Contact patch = CRM__CONTACTS__CONTACT__INIT;
        patch.tags = tags;
        patch.n_tags = n;
        char *mask[] = {"tags"};
        Crm__Contacts__UpdateContactRequest req = CRM__CONTACTS__UPDATE_CONTACT_REQUEST__INIT;
        req.id = (char *)id;
        req.contact = &patch;
        req.update_mask = mask;
        req.n_update_mask = 1;
        code = contacts_contact_update(call, &req.base, response);
        free(tags);
    }
    if (c)
        crm__contacts__contact__free_unpacked(c, NULL);
    free(name);
    return code;
}

int contacts_contact_add_tag(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response) {
    const Crm__Contacts__AddContactTagRequest *req = (const void *)request;
    return s_change_tag(call, req->id, req->tag, true, response);
}

int contacts_contact_remove_tag(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Contacts__RemoveContactTagRequest *req = (const void *)request;
    return s_change_tag(call, req->id, req->tag, false, response);
}
