/*  scrub: personal data out of a protobuf message (see scrub.h). */
#include "scrub.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

//  Text fields kept: they describe the record, not the person.
static bool s_kept_text(const char *name) {
    static const char *const kept[] = {"id",         "kind",       "type",       "source",
                                       "status",     "action",     "created_at", "updated_at",
                                       "deleted_at", "erased_at",  "occurred_at", "changed_at",
                                       "recorded_at", "effective_at"};
    size_t len = strlen(name);
    if (len > 3 && strcmp(name + len - 3, "_id") == 0)
        return true;
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        if (strcmp(name, kept[i]) == 0)
            return true;
    return false;
}

//  Lists of texts kept: the names of changed fields, tags.
static bool s_kept_texts(const char *name) {
    return strcmp(name, "changed") == 0 || strcmp(name, "tags") == 0;
}

//  Is this repeated message field a map (protoc's synthetic <Name>Entry type)?
static bool s_is_map(const ProtobufCFieldDescriptor *f) {
    const ProtobufCMessageDescriptor *d = f->descriptor;
    size_t len = strlen(d->name);
    return d->n_fields == 2 && len > 5 && strcmp(d->name + len - 5, "Entry") == 0;
}

void crm_pb_scrub(ProtobufCMessage *msg) {
    if (!msg)
        return;
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        void *member = (char *)msg + f->offset;
        bool repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
        size_t *count = repeated ? (size_t *)((char *)msg + f->quantifier_offset) : NULL;
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            if (repeated && !s_kept_texts(f->name)) {
                char **items = *(char ***)member;
                for (size_t k = 0; k < *count; k++)
                    free(items[k]);
                free(items);
                *(char ***)member = NULL;
                *count = 0;
            } else if (!repeated && !s_kept_text(f->name)) {
                char **text = member;
                if (*text && *text != (char *)protobuf_c_empty_string &&
                    *text != f->default_value) {
                    free(*text);
                }
                *text = (char *)protobuf_c_empty_string;
            }
        } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
            if (!repeated) {
                ProtobufCBinaryData *data = member;
                free(data->data);
                data->data = NULL;
                data->len = 0;
            }
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (repeated) {
                ProtobufCMessage **items = *(ProtobufCMessage ***)member;
                if (s_is_map(f)) {
                    for (size_t k = 0; k < *count; k++)
                        protobuf_c_message_free_unpacked(items[k], NULL);
                    free(items);
                    *(ProtobufCMessage ***)member = NULL;
                    *count = 0;
                } else
                    for (size_t k = 0; k < *count; k++)
                        crm_pb_scrub(items[k]);
            } else
                crm_pb_scrub(*(ProtobufCMessage **)member);
        }
    }
}
