/*  scrub: personal data out of a protobuf message (see scrub.h). */
#include "scrub.h"
#include "outbox.h"

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

// --- the outbox ------------------------------------------------------------------------

static const crm_stmt_t s_events = {
    .name = "scrub_events",
    .sql = "SELECT xid::text, id, type, payload FROM outbox"
           " WHERE tenant_id = $1 AND aggregate_id = ANY($2::text[])",
    .nparams = 2};

static const crm_stmt_t s_rewrite = {
    .name = "scrub_rewrite",
    .sql = "UPDATE outbox o SET payload = v.p::bytea"
           " FROM unnest($1::text[], $2::bigint[], $3::text[]) AS v(x, i, p)"
           " WHERE o.xid = v.x::xid8 AND o.id = v.i",
    .nparams = 3,
    .writes = true};

int crm_outbox_scrub(crm_db_t *db, const char *tenant_id, const char *const *aggregate_ids,
                     size_t n_ids) {
    if (n_ids == 0)
        return 0;
    char *wanted = crm_db_text_array(aggregate_ids, n_ids);
    const char *params[] = {tenant_id, wanted};
    PGresult *res = crm_db_query(db, &s_events, params);
    free(wanted);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    const char **xids = calloc(rows + 1, sizeof *xids), **ids = calloc(rows + 1, sizeof *ids);
    char **payloads = calloc(rows + 1, sizeof *payloads);
    size_t n = 0;
    for (int i = 0; i < rows; i++) {
        const ProtobufCMessageDescriptor *desc = crm_event_descriptor(PQgetvalue(res, i, 2));
        size_t size = 0;
        unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 3), &size);
        ProtobufCMessage *msg = desc && bytes ? protobuf_c_message_unpack(desc, NULL, size, bytes)
                                              : NULL;
        PQfreemem(bytes);
        if (!msg)
            continue;
        crm_pb_scrub(msg);
        size = protobuf_c_message_get_packed_size(msg);
        uint8_t *packed = malloc(size ? size : 1);
        protobuf_c_message_pack(msg, packed);
        protobuf_c_message_free_unpacked(msg, NULL);
        xids[n] = PQgetvalue(res, i, 0);
        ids[n] = PQgetvalue(res, i, 1);
        payloads[n++] = crm_db_bytea_literal(packed, size);
        free(packed);
    }
    int rc = 0;
    if (n) {
        char *a = crm_db_text_array(xids, n), *b = crm_db_text_array(ids, n),
             *c = crm_db_text_array((const char *const *)payloads, n);
        const char *p[] = {a, b, c};
        PGresult *done = crm_db_query(db, &s_rewrite, p);
        rc = done ? 0 : -1;
        PQclear(done);
        free(a);
        free(b);
        free(c);
    }
    for (size_t i = 0; i < n; i++)
        free(payloads[i]);
    free(payloads);
    free(xids);
    free(ids);
    PQclear(res);
    return rc;
}
