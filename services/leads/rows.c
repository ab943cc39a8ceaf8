/*  rows: a stored record, read back. Each statement answers its record as one JSON
    object in the API's shape (built by PostgreSQL), which the generic transcoder turns
    into the record's message, so the column-to-field mapping is written once. */
#include "leads.h"
#include "json_pb.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

ProtobufCMessage *leads_stored(crm_call_t *call, const ProtobufCMessageDescriptor *desc,
                               const char *text, const char *what) {
    crm_json_error_t err;
    ProtobufCMessage *msg = crm_json_to_pb(desc, text, strlen(text), &err);
    if (!msg) {
        char line[96];
        snprintf(line, sizeof line, "stored %s does not parse", what);
        crm_log_kv(CRM_LOG_ERROR, line, "field", err.field, "detail", err.message, NULL);
        if (call)
            crm_call_error(call, "internal", "stored %s is unreadable", what);
    }
    return msg;
}

int leads_answer_one(crm_call_t *call, PGresult *res, int ok_code,
                     const ProtobufCMessageDescriptor *desc, const char *what,
                     const char *missing, ProtobufCMessage **out) {
    if (!res)
        return crm_call_db_failure(call);
    int code = ok_code;
    if (PQntuples(res) == 0) {
        crm_call_error(call, "not_found", "%s", missing);
        code = 404;
    } else {
        *out = leads_stored(call, desc, PQgetvalue(res, 0, 0), what);
        code = *out ? ok_code : 500;
    }
    PQclear(res);
    return code;
}

int leads_read_one(crm_call_t *call, const crm_stmt_t *stmt, const char *const *params,
                   const ProtobufCMessageDescriptor *desc, const char *what,
                   ProtobufCMessage **out) {
    char missing[96];
    snprintf(missing, sizeof missing, "no such %s", what);
    return leads_answer_one(call, crm_db_query(call->db, stmt, params), 200, desc, what,
                            missing, out);
}
