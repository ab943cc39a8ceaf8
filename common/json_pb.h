/*  json_pb: generic JSON <-> protobuf transcoding driven by protobuf-c descriptors.

    The proto3 JSON mapping, with the suite's naming (DESIGN §5):
    - member names are the field's json_name (lowerCamelCase); the proto name
      (snake_case) is accepted on input too;
    - enums are written as the value name without the enum type's prefix, lower case
      (CONTACT_TYPE_PROSPECT -> "prospect"); on input the short name, the full name
      (either case) and the integer number are accepted;
    - 64-bit integers are written as JSON strings; on input a number or a string;
    - bytes are base64 (standard alphabet, padded) ; on input standard or url-safe;
    - default values (0, false, "", empty repeated, first enum value) are omitted on output;
      messages that are unset are omitted;
    - float/double accept "NaN", "Infinity", "-Infinity" strings.

    Errors are of two kinds, as the HTTP API reports them:
    - CRM_JSON_MALFORMED (HTTP 400): the text is not JSON, not UTF-8, or a value has the
      wrong JSON type for its field (string for an int, object for a string, ...);
    - CRM_JSON_INVALID (HTTP 422): well-formed but breaks a rule: unknown field, unknown
      enum value, integer out of range, fractional value for an integer field.
    In both cases err->field holds the JSON path ("emails[1].address", "" for the root)
    and err->message the rule.
*/
#ifndef CRM_JSON_PB_H
#define CRM_JSON_PB_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef enum {
    CRM_JSON_OK = 0,
    CRM_JSON_MALFORMED = 400,
    CRM_JSON_INVALID = 422,
} crm_json_status_t;

typedef struct {
    crm_json_status_t status;
    char field[256];    // JSON path of the offending value
    char message[256];  // what is wrong with it
} crm_json_error_t;

//  Parse text into a new message of type desc. Returns NULL on error (err filled).
//  The result is freed with protobuf_c_message_free_unpacked(msg, NULL).
ProtobufCMessage *crm_json_to_pb(const ProtobufCMessageDescriptor *desc, const char *text,
                                 size_t len, crm_json_error_t *err);

//  Same from an already parsed JSON object (not taken). path_prefix ("" or e.g. "contact")
//  is prepended to field paths in errors.
ProtobufCMessage *crm_json_value_to_pb(const ProtobufCMessageDescriptor *desc,
                                       const json_t *value, const char *path_prefix,
                                       crm_json_error_t *err);

//  Set one field of an existing message from a JSON value, by json or proto name
//  (used for path and query parameters). For a string-typed value coming from a URL
//  (from_text = 1), numbers, bools and enums are parsed from the text. Returns 0 or -1.
int crm_json_set_field(ProtobufCMessage *msg, const char *name, const json_t *value, int from_text,
                       crm_json_error_t *err);

//  Render a message as a new JSON object (caller decrefs). Never fails on a valid message.
json_t *crm_pb_to_json_value(const ProtobufCMessage *msg);

//  Render as compact JSON text (caller frees).
char *crm_pb_to_json(const ProtobufCMessage *msg);

//  Find a field by json name or proto name; NULL if none.
const ProtobufCFieldDescriptor *crm_pb_field_by_name(const ProtobufCMessageDescriptor *desc,
                                                     const char *name);

//  Short lower-case JSON name of an enum value (CONTACT_TYPE_PROSPECT -> "prospect") into
//  out; returns -1 when the value is not in the enum.
int crm_enum_json_name(const ProtobufCEnumDescriptor *desc, int value, char *out, size_t out_size);

//  Resolve an enum name as accepted on input; returns 0 and sets *value, or -1.
int crm_enum_parse(const ProtobufCEnumDescriptor *desc, const char *name, int *value);

#endif
