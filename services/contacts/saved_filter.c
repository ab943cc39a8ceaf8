/*  saved_filter: the rules of a team member's named contact filters: a name of up to
    100 characters, and a filter kept without limit and cursor (the filter itself is
    checked as a list request: search.c). No database here: saved_filter_store.c holds
    the SQL and saved_filter_methods.c the methods; tests/unit/test_contacts_saved_filter.c
    states the rules.
*/
#include "contacts.h"
#include "json_pb.h"
#include "validate.h"

#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 100

int contacts_saved_filter_check(Crm__Contacts__SavedFilter *f, crm_errors_t *errors) {
    crm_text_trim(f->name);
    if (!f->name[0])
        crm_errors_add(errors, "name", "is required");
    else if (crm_utf8_chars(f->name) > NAME_MAX_LEN)
        crm_errors_add(errors, "name", "must be at most %d characters", NAME_MAX_LEN);
    if (!f->filter) {
        f->filter = malloc(sizeof *f->filter);
        crm__contacts__list_contacts_request__init(f->filter);
    }
    f->filter->limit = 0;
    crm_pb_string_set(&f->filter->cursor, "");
    return errors->n ? -1 : 0;
}

int contacts_saved_filter_mask_check(char *const *mask, size_t n, crm_errors_t *errors) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(mask[i], "name") && strcmp(mask[i], "filter"))
            crm_errors_add(errors, mask[i], "cannot be changed (name, filter)");
    return errors->n ? -1 : 0;
}

void contacts_saved_filter_apply(Crm__Contacts__SavedFilter *f,
                                 const Crm__Contacts__UpdateSavedFilterRequest *req) {
    for (size_t i = 0; i < req->n_update_mask && req->saved_filter; i++) {
        if (strcmp(req->update_mask[i], "name") == 0)
            crm_pb_string_set(&f->name, req->saved_filter->name);
        else {
            if (f->filter)
                crm__contacts__list_contacts_request__free_unpacked(f->filter, NULL);
            f->filter = req->saved_filter->filter
                            ? (Crm__Contacts__ListContactsRequest *)crm_pb_copy(
                                  &req->saved_filter->filter->base)
                            : NULL;
        }
    }
}

void contacts_saved_filter_page(Crm__Contacts__SavedFilter *f, uint32_t limit, const char *cursor) {
    if (!f->filter) {
        f->filter = malloc(sizeof *f->filter);
        crm__contacts__list_contacts_request__init(f->filter);
    }
    f->filter->limit = limit;
    crm_pb_string_set(&f->filter->cursor, cursor);
}
