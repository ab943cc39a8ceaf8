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

// --- events ----------------------------------------------------------------------------

uint8_t *crm_event_payload_scrub(const char *type, const uint8_t *payload, size_t size,
                                 size_t *out_size) {
    *out_size = 0;
    const ProtobufCMessageDescriptor *desc = type ? crm_event_descriptor(type) : NULL;
    ProtobufCMessage *msg =
        desc && size ? protobuf_c_message_unpack(desc, NULL, size, payload) : NULL;
    if (!msg)
        return NULL;
    crm_pb_scrub(msg);
    size_t packed_size = protobuf_c_message_get_packed_size(msg);
    uint8_t *packed = malloc(packed_size ? packed_size : 1);
    if (packed) {
        protobuf_c_message_pack(msg, packed);
        *out_size = packed_size;
    }
    protobuf_c_message_free_unpacked(msg, NULL);
    return packed;
}

uint8_t *crm_event_scrub_packed(const uint8_t *envelope, size_t size, size_t *out_size) {
    *out_size = 0;
    Crm__Event *event = crm__event__unpack(NULL, size, envelope);
    if (!event)
        return NULL;
    size_t payload_size = 0;
    uint8_t *payload =
        crm_event_payload_scrub(event->type, event->payload.data, event->payload.len,
                                &payload_size);
    //  The envelope's own fields (ids, source, seq, type, tenant, time) stay.
    free(event->payload.data);
    event->payload.data = payload;
    event->payload.len = payload_size;
    size_t packed_size = crm__event__get_packed_size(event);
    uint8_t *packed = malloc(packed_size ? packed_size : 1);
    if (packed) {
        crm__event__pack(event, packed);
        *out_size = packed_size;
    }
    crm__event__free_unpacked(event, NULL);
    return packed;
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
        const char *type = PQgetvalue(res, i, 2);
        size_t size = 0;
        unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 3), &size);
        //  An unknown type is left to age out; an empty payload has nothing to scrub.
        uint8_t *packed = bytes ? crm_event_payload_scrub(type, bytes, size, &size) : NULL;
        PQfreemem(bytes);
        if (!packed)
            continue;
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
