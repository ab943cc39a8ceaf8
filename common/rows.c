/*  rows: a stored record (JSON in the API's shape) read back into its message. */
#include "rows.h"
#include "json_pb.h"
#include "log.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The transcoder's detail without any of the record's text: jansson quotes the token a
//  parse stopped at ("... near 'Ann'"), which may be personal data.
static void s_detail(const char *message, char *out, size_t size) {
    snprintf(out, size, "%s", message);
    char *quote = strstr(out, " near '");
    if (quote)
        *quote = 0;
}

ProtobufCMessage *crm_row_decode(crm_call_t *call, const ProtobufCMessageDescriptor *desc,
                                 const char *text, const char *what) {
    crm_json_error_t err;
    ProtobufCMessage *msg = crm_json_to_pb(desc, text, strlen(text), &err);
    if (!msg) {
        char line[96], detail[sizeof err.message];
        snprintf(line, sizeof line, "stored %s does not parse", what);
        s_detail(err.message, detail, sizeof detail);
        crm_log_kv(CRM_LOG_ERROR, line, "field", err.field, "detail", detail, NULL);
        if (call)
            crm_call_error(call, "internal", "stored %s is unreadable", what);
    }
    return msg;
}

int crm_row_answer_one(crm_call_t *call, PGresult *res, int ok_code,
                       const ProtobufCMessageDescriptor *desc, const char *what,
                       const char *missing, ProtobufCMessage **out) {
    if (!res)
        return crm_call_db_failure(call);
    int code = ok_code;
    if (PQntuples(res) == 0) {
        crm_call_error(call, "not_found", "%s", missing);
        code = 404;
    } else {
        *out = crm_row_decode(call, desc, PQgetvalue(res, 0, 0), what);
        code = *out ? ok_code : 500;
    }
    PQclear(res);
    return code;
}

int crm_row_read_one(crm_call_t *call, const crm_stmt_t *stmt, const char *const *params,
                     const ProtobufCMessageDescriptor *desc, const char *what,
                     ProtobufCMessage **out) {
    char missing[96];
    snprintf(missing, sizeof missing, "no such %s", what);
    return crm_row_answer_one(call, crm_db_query(call->db, stmt, params), 200, desc, what, missing,
                              out);
}

int crm_rows_into(crm_call_t *call, PGresult *res, int limit, ProtobufCMessage *list,
                  const char *field, const char *what) {
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(list->descriptor, field);
    assert(f && f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE);
    int rows = PQntuples(res);
    int n = limit >= 0 && rows > limit ? limit : rows;
    size_t *count = (size_t *)((char *)list + f->quantifier_offset);
    ProtobufCMessage ***items = (ProtobufCMessage ***)((char *)list + f->offset);
    *count = 0;
    *items = n ? calloc((size_t)n, sizeof **items) : NULL;
    assert(!n || *items);
    for (int i = 0; i < n; i++) {
        ProtobufCMessage *item = crm_row_decode(call, f->descriptor, PQgetvalue(res, i, 0), what);
        if (!item)
            return 500;
        (*items)[(*count)++] = item;
    }
    return 0;
}
