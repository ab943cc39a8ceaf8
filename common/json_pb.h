/*  json_pb: generic JSON <-> protobuf transcoding driven by protobuf-c descriptors.

    The proto3 JSON mapping, with the suite's naming (DESIGN §5):
    - member names are the field's json_name (lowerCamelCase); the proto name
      (snake_case) is accepted on input too;
    - enums are written as the value name without the enum type's prefix, lower case
      (CONTACT_TYPE_PROSPECT -> "prospect"); on input the short name, the full name
      (either case) and the integer number are accepted;
    - 64-bit integers are written as JSON strings; on input a number or a string;
    - bytes are base64 (standard alphabet, padded); on input standard or url-safe,
      padding optional;
    - default values (0, -0.0, false, "", empty repeated, first enum value) are omitted on
      output; messages that are unset are omitted; but a set oneof member, a required field
      and a field with explicit presence (proto2 / proto3 `optional`, has_ flag set) are
      written even when they hold the default (as protobuf-c's packer decides);
    - float/double accept "NaN", "Infinity", "-Infinity" strings (and are written so);
    - map<K,V> fields are JSON objects (keys are strings: "42", "true", ...);
    - null for a member leaves the field at its default.

    On input also:
    - integers given as JSON reals must be whole ("2.0" is 2, "1.5" is 422); 32-bit
      integers must be numbers (a string is 400); 64-bit ones may be strings;
    - a uint64 above INT64_MAX must be written as a string, and so must any integer
      beyond +-2^53 in a document that also holds such a number (422 otherwise: jansson
      cannot hold it exactly);
    - enum numbers must name a defined value (422 otherwise); on output a value the
      enum does not define is written as its number;
    - bytes that are not base64 are 400 (the value cannot be read);
    - a field given twice (json and proto name) is 400, like a duplicate key; two members
      of one oneof are 422; messages nested deeper than CRM_JSON_MAX_DEPTH are 400;
    - strings must be valid UTF-8 without NUL characters (400).

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
    CRM_JSON_NO_MEMORY = 500, // allocation failed (field "")
} crm_json_status_t;

//  Deepest nesting of messages accepted on input (the top-level message is level 1).
#define CRM_JSON_MAX_DEPTH 64

typedef struct {
    crm_json_status_t status;
    char field[256];   // JSON path of the offending value
    char message[256]; // what is wrong with it
} crm_json_error_t;

//  Parse text into a new message of type desc. Returns NULL on error (err filled).
//  The result is freed with protobuf_c_message_free_unpacked(msg, NULL).
ProtobufCMessage *crm_json_to_pb(const ProtobufCMessageDescriptor *desc, const char *text,
                                 size_t len, crm_json_error_t *err);

//  Same from an already parsed JSON object (not taken). path_prefix ("" or e.g. "contact")
//  is prepended to field paths in errors.
ProtobufCMessage *crm_json_value_to_pb(const ProtobufCMessageDescriptor *desc, const json_t *value,
                                       const char *path_prefix, crm_json_error_t *err);

//  Set one field of an existing message from a JSON value, by json or proto name
//  (used for path and query parameters). For a string-typed value coming from a URL
//  (from_text = 1), numbers, bools and enums are parsed from the text. Returns 0 or -1.
//  A repeated field gets the value (or each element of an array) appended; a oneof member
//  replaces whichever member was set; null leaves the field as it is. On error the
//  message is left unchanged and err->field is name (or name.sub.path).
int crm_json_set_field(ProtobufCMessage *msg, const char *name, const json_t *value, int from_text,
                       crm_json_error_t *err);

//  Render a message as a new JSON object (caller decrefs). Never fails on a valid message
//  (NULL only when out of memory). Strings that are not UTF-8 (protobuf-c does not check
//  them on unpack) are written with U+FFFD in place of the bad bytes.
json_t *crm_pb_to_json_value(const ProtobufCMessage *msg);

//  Render as compact JSON text (caller frees).
char *crm_pb_to_json(const ProtobufCMessage *msg);

//  Find a field by json name or proto name; NULL if none.
const ProtobufCFieldDescriptor *crm_pb_field_by_name(const ProtobufCMessageDescriptor *desc,
                                                     const char *name);

//  A deep copy of msg (packed and unpacked), freed with protobuf_c_message_free_unpacked:
//  a private copy a handler may change in place.
ProtobufCMessage *crm_pb_copy(const ProtobufCMessage *msg);

//  Replace a string field of a message with a copy of value, freeing the old value
//  unless it is protobuf-c's shared default.
void crm_pb_string_set(char **field, const char *value);

//  The JSON (lowerCamelCase) name of a field into out.
void crm_pb_field_json_name(const ProtobufCFieldDescriptor *field, char *out, size_t out_size);

//  Short lower-case JSON name of an enum value (CONTACT_TYPE_PROSPECT -> "prospect") into
//  out; returns -1 when the value is not in the enum or out is too small. The prefix is
//  the enum type's name in UPPER_SNAKE_CASE plus '_' when every value starts with it,
//  else the longest common prefix of the value names that ends in '_'.
int crm_enum_json_name(const ProtobufCEnumDescriptor *desc, int value, char *out, size_t out_size);

//  The API name of an enum value as stored and shown ("walk_in"): out, holding "" for
//  the unspecified value (0) or one not in the enum.
const char *crm_enum_api_name(const ProtobufCEnumDescriptor *desc, int value, char *out,
                              size_t out_size);

//  Resolve an enum name as accepted on input: the short name or full name in any case,
//  or the decimal number of a defined value. Returns 0 and sets *value, or -1.
int crm_enum_parse(const ProtobufCEnumDescriptor *desc, const char *name, int *value);

#endif
