/*  routes: the HTTP API table and its matcher. See routes.h. */
#include "routes.h"
#include "common.pb-c.h"
#include "contacts.pb-c.h"
#include "reporting.pb-c.h"

#include <string.h>

const route_t routes[] = {
    {"POST", "/v1/contacts", "contacts", "Create",
     &crm__contacts__create_contact_request__descriptor, &crm__contacts__contact__descriptor,
     "contact", NULL, ROLES_WRITE, "Create a contact"},
    {"GET", "/v1/contacts", "contacts", "List", &crm__contacts__list_contacts_request__descriptor,
     &crm__contacts__list_contacts_response__descriptor, NULL, NULL, ROLES_ANY,
     "List contacts, newest first (type, limit, cursor)"},
    {"GET", "/v1/contacts/{id}", "contacts", "Get", &crm__contacts__get_contact_request__descriptor,
     &crm__contacts__contact__descriptor, NULL, NULL, ROLES_ANY, "Read one contact"},
    {"PATCH", "/v1/contacts/{id}", "contacts", "Update",
     &crm__contacts__update_contact_request__descriptor, &crm__contacts__contact__descriptor,
     "contact", "update_mask", ROLES_WRITE, "Change the given fields of a contact"},
    {"DELETE", "/v1/contacts/{id}", "contacts", "Delete",
     &crm__contacts__delete_contact_request__descriptor, &crm__empty__descriptor, NULL, NULL,
     ROLES_WRITE, "Delete a contact (soft delete)"},
    {"POST", "/v1/tags", "contacts", "CreateTag", &crm__contacts__create_tag_request__descriptor,
     &crm__contacts__tag__descriptor, "tag", NULL, ROLES_WRITE,
     "Add a tag to the catalogue (name unique without regard to case, colour #RRGGBB)"},
    {"GET", "/v1/tags", "contacts", "ListTags", &crm__contacts__list_tags_request__descriptor,
     &crm__contacts__list_tags_response__descriptor, NULL, NULL, ROLES_ANY,
     "The tag catalogue, by name"},
    {"GET", "/v1/tags/{id}", "contacts", "GetTag", &crm__contacts__get_tag_request__descriptor,
     &crm__contacts__tag__descriptor, NULL, NULL, ROLES_ANY, "Read one tag"},
    {"PATCH", "/v1/tags/{id}", "contacts", "UpdateTag",
     &crm__contacts__update_tag_request__descriptor, &crm__contacts__tag__descriptor, "tag",
     "update_mask", ROLES_MANAGE,
     "Rename a tag (every contact that has it follows) or change its colour or description"},
    {"DELETE", "/v1/tags/{id}", "contacts", "DeleteTag",
     &crm__contacts__delete_tag_request__descriptor, &crm__empty__descriptor, NULL, NULL,
     ROLES_MANAGE, "Delete a tag from the catalogue and from every contact"},
    {"POST", "/v1/tags/{id}/merge", "contacts", "MergeTag",
     &crm__contacts__merge_tag_request__descriptor, &crm__contacts__tag__descriptor, "*", NULL,
     ROLES_MANAGE,
     "Merge a tag into another ({\"into\": id}): its contacts get that tag, and it goes"},
    {"POST", "/v1/contacts/{id}/notes", "contacts", "CreateNote",
     &crm__contacts__create_note_request__descriptor, &crm__contacts__note__descriptor, "*", NULL,
     ROLES_WRITE, "Add a note to a contact ({\"body\"}; @handles in it are its mentions)"},
    {"GET", "/v1/contacts/{id}/notes", "contacts", "ListNotes",
     &crm__contacts__list_notes_request__descriptor,
     &crm__contacts__list_notes_response__descriptor, NULL, NULL, ROLES_ANY,
     "A contact's notes, newest first, deleted ones as tombstones (limit, cursor)"},
    {"GET", "/v1/contacts/{id}/notes/{noteId}", "contacts", "GetNote",
     &crm__contacts__get_note_request__descriptor, &crm__contacts__note__descriptor, NULL, NULL,
     ROLES_ANY, "Read one note of a contact"},
    {"GET", "/v1/contacts/{id}/notes/{noteId}/revisions", "contacts", "ListNoteRevisions",
     &crm__contacts__list_note_revisions_request__descriptor,
     &crm__contacts__list_note_revisions_response__descriptor, NULL, NULL, ROLES_ANY,
     "Every body a note had, oldest first, with who wrote it and when (limit, cursor); a "
     "deleted note's: managers and admins only"},
    {"PATCH", "/v1/contacts/{id}/notes/{noteId}", "contacts", "UpdateNote",
     &crm__contacts__update_note_request__descriptor, &crm__contacts__note__descriptor, "*", NULL,
     ROLES_WRITE,
     "Edit a note's body: a new revision, the old body kept in its history (author, manager, "
     "admin)"},
    {"DELETE", "/v1/contacts/{id}/notes/{noteId}", "contacts", "DeleteNote",
     &crm__contacts__delete_note_request__descriptor, &crm__empty__descriptor, NULL, NULL,
     ROLES_WRITE,
     "Delete a note: it stays listed as deleted, without body (author, manager, admin)"},
    {"GET", "/v1/reports/contacts/growth", "reporting", "ContactsGrowth",
     &crm__reporting__contacts_growth_request__descriptor,
     &crm__reporting__contacts_growth_response__descriptor, NULL, NULL, ROLES_ANY,
     "Contacts created per day that still exist (from, to, groupBy=source|type)"},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

int route_count(void) {
    int n = 0;
    while (routes[n].pattern)
        n++;
    return n;
}

unsigned route_role_bit(const char *role) {
    static const struct {
        const char *name;
        unsigned bit;
    } roles[] = {{"admin", ROLE_ADMIN},
                 {"manager", ROLE_MANAGER},
                 {"sales", ROLE_SALES},
                 {"analyst", ROLE_ANALYST},
                 {"integration", ROLE_INTEGRATION}};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].name, role) == 0)
            return roles[i].bit;
    return 0;
}

//  Match path against pattern segment by segment, capturing {name} segments.
static bool s_match(const char *pattern, const char *path, route_param_t *params, int *n) {
    *n = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++;
        path++;
        size_t plen = strcspn(pattern, "/");
        size_t slen = strcspn(path, "/");
        if (*pattern == '{') {
            if (slen == 0 || slen >= sizeof params[0].value || *n == ROUTE_MAX_PARAMS)
                return false;
            static __thread char names[ROUTE_MAX_PARAMS][32];
            size_t nlen = plen - 2 < sizeof names[0] - 1 ? plen - 2 : sizeof names[0] - 1;
            memcpy(names[*n], pattern + 1, nlen);
            names[*n][nlen] = 0;
            params[*n].name = names[*n];
            memcpy(params[*n].value, path, slen);
            params[*n].value[slen] = 0;
            (*n)++;
        } else if (plen != slen || memcmp(pattern, path, plen) != 0)
            return false;
        pattern += plen;
        path += slen;
    }
    return *pattern == 0 && (*path == 0 || strcmp(path, "/") == 0);
}

const route_t *route_match(const char *method, const char *path, route_param_t *params,
                           int *n_params, bool *path_known) {
    *path_known = false;
    for (const route_t *r = routes; r->pattern; r++) {
        if (!s_match(r->pattern, path, params, n_params))
            continue;
        if (strcmp(r->http_method, method) == 0)
            return r;
        *path_known = true;
    }
    *n_params = 0;
    return NULL;
}
