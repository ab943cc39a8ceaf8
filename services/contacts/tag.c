/*  tag: the rules of the tenant's tag catalogue: what a tag may hold (a name of up to
    64 characters, unique without regard to case; a colour as #RRGGBB; a description),
    which fields a change may name, and what a merge needs. No database here: tag_store.c
    holds the SQL and tag_methods.c the methods; tests/unit/test_contacts_tag.c states
    the rules.
*/
#include "contacts.h"
#include "json_pb.h"
#include "validate.h"

#include <ctype.h>
#include <string.h>

#define TAG_NAME_MAX_LEN 64
#define TAG_DESCRIPTION_MAX_LEN 500

//  A colour as the catalogue keeps it: "" or '#' and six hex digits.
static bool s_colour_valid(const char *c) {
    if (c[0] == 0)
        return true;
    if (c[0] != '#' || strlen(c) != 7)
        return false;
    for (int i = 1; i < 7; i++)
        if (!isxdigit((unsigned char)c[i]))
            return false;
    return true;
}

int contacts_tag_check(Crm__Contacts__Tag *t, crm_errors_t *errors) {
    size_t before = errors->n;
    crm_text_trim(t->name);
    if (crm_text_blank(t->name))
        crm_errors_add(errors, "name", "is required");
    else if (crm_utf8_chars(t->name) > TAG_NAME_MAX_LEN)
        crm_errors_add(errors, "name", "must be at most %d characters", TAG_NAME_MAX_LEN);
    if (!s_colour_valid(t->colour))
        crm_errors_add(errors, "colour", "must be a colour as #RRGGBB");
    else
        for (char *p = t->colour; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    if (crm_utf8_chars(t->description) > TAG_DESCRIPTION_MAX_LEN)
        crm_errors_add(errors, "description", "must be at most %d characters",
                       TAG_DESCRIPTION_MAX_LEN);
    return errors->n > before ? -1 : 0;
}

int contacts_tag_mask_check(char *const *mask, size_t n, crm_errors_t *errors) {
    size_t before = errors->n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(mask[i], "name") && strcmp(mask[i], "colour") && strcmp(mask[i], "description"))
            crm_errors_add(errors, mask[i], "cannot be changed");
    return errors->n > before ? -1 : 0;
}

void contacts_tag_apply(Crm__Contacts__Tag *t, const Crm__Contacts__UpdateTagRequest *req) {
    for (size_t i = 0; i < req->n_update_mask && req->tag; i++) {
        const char *f = req->update_mask[i];
        if (strcmp(f, "name") == 0)
            crm_pb_string_set(&t->name, req->tag->name);
        else if (strcmp(f, "colour") == 0)
            crm_pb_string_set(&t->colour, req->tag->colour);
        else
            crm_pb_string_set(&t->description, req->tag->description);
    }
}

int contacts_tag_merge_check(const Crm__Contacts__MergeTagRequest *req, crm_errors_t *errors) {
    if (!req->into[0])
        crm_errors_add(errors, "into", "is required");
    else if (strcmp(req->id, req->into) == 0)
        crm_errors_add(errors, "into", "must be another tag than the one merged");
    return errors->n ? -1 : 0;
}

int contacts_tag_name_check(char *name, const char *field, crm_errors_t *errors) {
    crm_text_trim(name);
    if (crm_text_blank(name)) {
        crm_errors_add(errors, field, "is required");
        return -1;
    }
    return 0;
}
