/*  patch: what a PATCH (an update mask and a partial message) means, the same for a
    lead, a team member and an activity. The mask names fields in either spelling; each
    must be a field of the message and not a read-only one. The stored value, as JSON,
    takes the named fields from the request's message; a named field the request leaves
    out (or sets to its default) goes back to its default. */
#include "leads.h"
#include "json_pb.h"

#include <stdlib.h>
#include <string.h>

char **leads_patch_names(const ProtobufCMessageDescriptor *desc, bool has_body,
                         char *const *mask, size_t n, const char *what,
                         const leads_read_only_t *read_only, size_t n_read_only,
                         crm_errors_t *errors) {
    char **names = calloc(n + 1, sizeof *names);
    for (size_t i = 0; i < n; i++) {
        const ProtobufCFieldDescriptor *f = crm_pb_field_by_name(desc, mask[i]);
        if (!f || !has_body) {
            crm_errors_add(errors, mask[i], "is not a field of %s", what);
            continue;
        }
        for (size_t j = 0; j < n_read_only; j++)
            if (strcmp(f->name, read_only[j].name) == 0)
                crm_errors_add(errors, mask[i], "%s", read_only[j].why);
        char json_name[64];
        crm_pb_field_json_name(f, json_name, sizeof json_name);
        names[i] = strdup(json_name);
    }
    return names;
}

bool leads_patch_names_has(char *const *names, size_t n, const char *json_name) {
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], json_name) == 0)
            return true;
    return false;
}

void leads_patch_names_free(char **names, size_t n) {
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

void leads_patch_apply(json_t *stored, const ProtobufCMessage *patch, char *const *names,
                       size_t n) {
    json_t *given = patch ? crm_pb_to_json_value(patch) : json_object();
    for (size_t i = 0; i < n; i++) {
        if (!names[i])
            continue;
        json_t *value = json_object_get(given, names[i]);
        if (value)
            json_object_set(stored, names[i], value);
        else
            json_object_del(stored, names[i]);
    }
    json_decref(given);
}
