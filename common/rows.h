/*  rows: a stored record, read back. A service's statements answer each record as one
    JSON object in the API's shape (built by PostgreSQL), which the generic transcoder
    (json_pb) turns into the record's message, so the column-to-field mapping is written
    once, in SQL, and every service reads its records the same way:

        //  One tag by id: 200 with *out, 404 ("no such tag"), or a failure code.
        return crm_row_read_one(call, &s_tag_get, params, &crm__contacts__tag__descriptor,
                                "tag", (ProtobufCMessage **)out);

    A record that does not parse is the service's own fault (a statement and a message
    that disagree): it is logged with the field and the transcoder's detail, never the
    record itself (it holds personal data), and answered 500.
*/
#ifndef CRM_ROWS_H
#define CRM_ROWS_H

#include <libpq-fe.h>
#include <protobuf-c/protobuf-c.h>

#include "db.h"
#include "service.h"

//  text (a record's JSON in the API's shape) as a new message of desc; NULL when it does
//  not parse, logged ("stored <what> does not parse") and, with call, the 500 error
//  "stored <what> is unreadable" set on it.
ProtobufCMessage *crm_row_decode(crm_call_t *call, const ProtobufCMessageDescriptor *desc,
                                 const char *text, const char *what);

//  The record a statement answered (res, taken: its first column of its one row):
//  ok_code with *out, 404 with missing as the message when it answered none, or a
//  failure code (res NULL: the statement failed; 500: the record does not parse).
int crm_row_answer_one(crm_call_t *call, PGresult *res, int ok_code,
                       const ProtobufCMessageDescriptor *desc, const char *what,
                       const char *missing, ProtobufCMessage **out);

//  The record stmt answers: 200 with *out, 404 ("no such <what>"), or a failure code.
int crm_row_read_one(crm_call_t *call, const crm_stmt_t *stmt, const char *const *params,
                     const ProtobufCMessageDescriptor *desc, const char *what,
                     ProtobufCMessage **out);

//  The records a list statement answered (column 0 of each row), the first limit of
//  them (limit < 0: all), decoded into list's repeated message field `field` ("items").
//  0, or 500 (the call's error set) when a record does not parse; list keeps what was
//  decoded and stays the caller's to free. More rows than limit: a next page follows.
int crm_rows_into(crm_call_t *call, PGresult *res, int limit, ProtobufCMessage *list,
                  const char *field, const char *what);

#endif
