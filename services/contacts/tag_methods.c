/*  tag_methods: the tag catalogue's methods (CreateTag, GetTag, ListTags, UpdateTag,
    DeleteTag, MergeTag), each read top to bottom: decode, check (tag.c), store
    (tag_store.c), answer.
*/
#include "contacts.h"
#include "ids.h"
#include "json_pb.h"

#include <stdlib.h>
#include <string.h>

//  One tag by id, its id named by field: 200 with *out, 404 (with a field error on
//  field), or a failure code.
static int s_tag_read(crm_call_t *call, const char *id, bool for_update, Crm__Contacts__Tag **out,
                      const char *field) {
    if (!crm_uuid_valid(id)) {
        crm_call_field_error(call, field, "is not a valid tag id");
        crm_call_error(call, "not_found", "no such tag");
        return 404;
    }
    int code = contacts_tag_store_get(call, id, for_update, out);
    if (code == 404)
        crm_call_field_error(call, field, "is not a tag of this tenant");
    return code;
}

int contacts_tag_create(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Contacts__CreateTagRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    if (!req->tag) {
        crm_errors_add(&errors, "tag", "is required");
        return crm_call_fail(call, &errors);
    }
    Crm__Contacts__Tag *t = (Crm__Contacts__Tag *)crm_pb_copy(&req->tag->base);
    int code = contacts_tag_check(t, &errors) ? crm_call_fail(call, &errors)
                                              : contacts_tag_store_name_free(call, t->name, "");
    if (code == 0)
        code = contacts_tag_store_insert(call, t);
    if (code == 201)
        *response = &t->base;
    else
        crm__contacts__tag__free_unpacked(t, NULL);
    return code;
}

int contacts_tag_get(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response) {
    const Crm__Contacts__GetTagRequest *req = (const void *)request;
    return s_tag_read(call, req->id, false, (Crm__Contacts__Tag **)response, "id");
}

int contacts_tag_list(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response) {
    (void)request;
    return contacts_tag_store_list(call, (Crm__Contacts__ListTagsResponse **)response);
}

int contacts_tag_update(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Contacts__UpdateTagRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    if (contacts_tag_mask_check(req->update_mask, req->n_update_mask, &errors))
        return crm_call_fail(call, &errors);
    Crm__Contacts__Tag *t = NULL;
    int code = s_tag_read(call, req->id, true, &t, "id");
    if (code != 200)
        return code;
    char *previous = strdup(t->name);
    contacts_tag_apply(t, req);
    code = contacts_tag_check(t, &errors) ? crm_call_fail(call, &errors)
                                          : contacts_tag_store_name_free(call, t->name, t->id);
    if (code == 0)
        code = contacts_tag_store_update(call, t, previous, req->update_mask, req->n_update_mask);
    free(previous);
    if (code == 200)
        *response = &t->base;
    else
        crm__contacts__tag__free_unpacked(t, NULL);
    return code;
}

int contacts_tag_delete(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    (void)response;
    const Crm__Contacts__DeleteTagRequest *req = (const void *)request;
    Crm__Contacts__Tag *t = NULL;
    int code = s_tag_read(call, req->id, true, &t, "id");
    if (code != 200)
        return code;
    code = contacts_tag_store_delete(call, t);
    crm__contacts__tag__free_unpacked(t, NULL);
    return code;
}

int contacts_tag_merge(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    const Crm__Contacts__MergeTagRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    if (contacts_tag_merge_check(req, &errors))
        return crm_call_fail(call, &errors);
    Crm__Contacts__Tag *from = NULL, *into = NULL;
    int code = s_tag_read(call, req->id, true, &from, "id");
    if (code == 200) {
        code = s_tag_read(call, req->into, true, &into, "into");
        if (code == 404)
            code = 422; // the request names a tag that does not exist
    }
    if (code == 200)
        code = contacts_tag_store_merge(call, from, into);
    if (from)
        crm__contacts__tag__free_unpacked(from, NULL);
    if (code == 200)
        *response = &into->base;
    else if (into)
        crm__contacts__tag__free_unpacked(into, NULL);
    return code;
}
