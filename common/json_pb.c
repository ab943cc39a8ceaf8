/*  json_pb: generic JSON <-> protobuf transcoding driven by protobuf-c descriptors.

    Reading order: the context and error helpers, names (json names, enum names),
    scalar conversions, then input (s_object_to_msg -> s_set_field -> s_parse_single)
    and output (s_msg_to_json -> s_render_single).

    Memory follows protobuf_c_message_free_unpacked (NULL allocator = malloc/free):
    every string, bytes buffer, repeated array and submessage we store is malloc'd and
    owned by the message; a string still equal to the descriptor's default_value (the
    empty string protobuf_c_message_init leaves in proto3 fields) is not ours and never
    freed. A value is parsed into a temporary first and stored only when complete, so a
    failure halfway leaves a message that free_unpacked releases exactly once.
*/
#include "json_pb.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  State of one conversion: where we are (for error paths) and how deep.
typedef struct {
    crm_json_error_t *err;
    char path[sizeof(((crm_json_error_t *)0)->field)];
    size_t path_len;
    int depth;
    bool ints_as_real; // document was re-read with JSON_DECODE_INT_AS_REAL
} s_ctx_t;

//  One value of any field type, parsed before it is stored in a message.
typedef union {
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    float f;
    double d;
    protobuf_c_boolean b;
    char *s;
    ProtobufCBinaryData bytes;
    ProtobufCMessage *m;
} s_value_t;

#define S_MEMBER(msg, offset) ((void *)((char *)(msg) + (offset)))
#define S_CMEMBER(msg, offset) ((const void *)((const char *)(msg) + (offset)))

static ProtobufCMessage *s_object_to_msg(s_ctx_t *ctx, const ProtobufCMessageDescriptor *desc,
                                         const json_t *object);
static json_t *s_msg_to_json(const ProtobufCMessage *msg);

// --- errors and paths ----------------------------------------------------------------

//  Length of s[0..n) without a UTF-8 sequence cut at its end, so truncated text stays
//  valid UTF-8 (error fields end up in JSON responses).
static size_t s_utf8_cut(const char *s, size_t n) {
    size_t start = n;
    while (start > 0 && n - start < 4 && ((unsigned char)s[start - 1] & 0xC0) == 0x80)
        start--;
    if (start == 0)
        return n;
    unsigned char lead = (unsigned char)s[start - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return n - (start - 1) < need ? start - 1 : n;
}

//  Record the first error at the current path; returns -1 for the caller to pass on.
static int s_fail(s_ctx_t *ctx, crm_json_status_t status, const char *format, ...) {
    crm_json_error_t *err = ctx->err;
    if (err->status != CRM_JSON_OK)
        return -1;
    err->status = status;
    memcpy(err->field, ctx->path, ctx->path_len + 1);
    va_list args;
    va_start(args, format);
    int size = vsnprintf(err->message, sizeof(err->message), format, args);
    va_end(args);
    if (size >= (int)sizeof(err->message)) {
        size_t len = s_utf8_cut(err->message, sizeof(err->message) - 1);
        err->message[len] = 0;
    }
    return -1;
}

static int s_fail_memory(s_ctx_t *ctx) {
    ctx->path_len = 0;
    ctx->path[0] = 0;
    return s_fail(ctx, CRM_JSON_NO_MEMORY, "out of memory");
}

//  Append text to the path (truncating at a character boundary); returns the old
//  length for s_path_pop.
static size_t s_path_append(s_ctx_t *ctx, const char *text, size_t len) {
    size_t mark = ctx->path_len;
    size_t room = sizeof(ctx->path) - 1 - ctx->path_len;
    if (len > room)
        len = s_utf8_cut(text, room);
    memcpy(ctx->path + ctx->path_len, text, len);
    ctx->path_len += len;
    ctx->path[ctx->path_len] = 0;
    return mark;
}

//  Enter member name: "name" at the root, ".name" below it.
static size_t s_path_push_name(s_ctx_t *ctx, const char *name) {
    size_t mark = ctx->path_len;
    if (ctx->path_len > 0)
        s_path_append(ctx, ".", 1);
    s_path_append(ctx, name, strlen(name));
    return mark;
}

//  Enter array element index: "[index]".
static size_t s_path_push_index(s_ctx_t *ctx, size_t index) {
    char text[32];
    int len = snprintf(text, sizeof(text), "[%zu]", index);
    return s_path_append(ctx, text, (size_t)len);
}

static void s_path_pop(s_ctx_t *ctx, size_t mark) {
    ctx->path_len = mark;
    ctx->path[mark] = 0;
}

static void s_ctx_init(s_ctx_t *ctx, crm_json_error_t *err, const char *path_prefix) {
    memset(err, 0, sizeof(*err));
    ctx->err = err;
    ctx->path_len = 0;
    ctx->path[0] = 0;
    ctx->depth = 0;
    ctx->ints_as_real = false;
    if (path_prefix)
        s_path_append(ctx, path_prefix, strlen(path_prefix));
}

// --- text helpers --------------------------------------------------------------------

//  Strict UTF-8 check (no overlong forms, no surrogates, nothing above U+10FFFF).
static bool s_utf8_valid(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i - 1 < need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

//  A JSON string for text that may not be UTF-8: bad bytes become U+FFFD.
static json_t *s_json_string_lossy(const char *text) {
    if (!text)
        return json_string("");
    size_t len = strlen(text);
    if (s_utf8_valid(text, len))
        return json_stringn_nocheck(text, len);
    char *clean = malloc(len * 3 + 1);
    if (!clean)
        return NULL;
    size_t out = 0;
    for (size_t i = 0; i < len;) {
        size_t take = 1;
        while (take <= 4 && i + take <= len && !s_utf8_valid(text + i, take))
            take++;
        if (take <= 4 && i + take <= len) {
            memcpy(clean + out, text + i, take);
            out += take;
            i += take;
        } else {
            memcpy(clean + out, "\xEF\xBF\xBD", 3);
            out += 3;
            i++;
        }
    }
    json_t *string = json_stringn_nocheck(clean, out);
    free(clean);
    return string;
}

static char s_ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char s_ascii_upper(char c) {
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static bool s_is_digit(char c) {
    return c >= '0' && c <= '9';
}

//  Case-insensitive (ASCII) equality.
static bool s_equal_nocase(const char *a, const char *b) {
    while (*a && s_ascii_lower(*a) == s_ascii_lower(*b))
        a++, b++;
    return *a == 0 && *b == 0;
}

// --- names ---------------------------------------------------------------------------

//  Does text equal the camel-case form of proto name (protoc's json_name rule: drop
//  each '_' and upper-case the letter after it; upper_first also capitalises the first
//  letter, as protoc names map entries)?
static bool s_camel_equals(const char *proto, const char *text, size_t text_len, bool upper_first) {
    size_t at = 0;
    bool capitalise = upper_first;
    for (const char *p = proto; *p; p++) {
        if (*p == '_') {
            capitalise = true;
            continue;
        }
        char c = capitalise ? s_ascii_upper(*p) : *p;
        capitalise = false;
        if (at >= text_len || text[at] != c)
            return false;
        at++;
    }
    return at == text_len;
}

//  Write the json_name of proto name into out (out_size > strlen(proto)).
static void s_json_name(const char *proto, char *out) {
    bool capitalise = false;
    for (const char *p = proto; *p; p++) {
        if (*p == '_') {
            capitalise = true;
            continue;
        }
        *out++ = capitalise ? s_ascii_upper(*p) : *p;
        capitalise = false;
    }
    *out = 0;
}

const ProtobufCFieldDescriptor *crm_pb_field_by_name(const ProtobufCMessageDescriptor *desc,
                                                     const char *name) {
    if (!desc || !name)
        return NULL;
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name(desc, name);
    if (field)
        return field;
    size_t len = strlen(name);
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (s_camel_equals(desc->fields[i].name, name, len, false))
            return &desc->fields[i];
    return NULL;
}

//  Is this repeated message field a map<K,V> (protoc's synthetic <Name>Entry type with
//  key = 1 and value = 2)? protobuf-c keeps no map flag, so we recognise the shape.
static bool s_is_map(const ProtobufCFieldDescriptor *field) {
    if (field->label != PROTOBUF_C_LABEL_REPEATED || field->type != PROTOBUF_C_TYPE_MESSAGE)
        return false;
    const ProtobufCMessageDescriptor *entry = field->descriptor;
    if (entry->n_fields != 2 || entry->fields[0].id != 1 || entry->fields[1].id != 2 ||
        strcmp(entry->fields[0].name, "key") != 0 || strcmp(entry->fields[1].name, "value") != 0)
        return false;
    size_t len = strlen(entry->short_name);
    return len > 5 && strcmp(entry->short_name + len - 5, "Entry") == 0 &&
           s_camel_equals(field->name, entry->short_name, len - 5, true);
}

//  Length of the prefix enum values carry (CONTACT_TYPE_ for enum ContactType), or 0.
static size_t s_enum_prefix_len(const ProtobufCEnumDescriptor *desc) {
    if (desc->n_values == 0)
        return 0;
    //  The enum's own name in UPPER_SNAKE_CASE: ContactType -> CONTACT_TYPE_
    char prefix[128];
    size_t len = 0;
    const char *name = desc->short_name ? desc->short_name : "";
    bool fits = true;
    for (size_t i = 0; name[i]; i++) {
        char c = name[i], prev = i ? name[i - 1] : 0, next = name[i + 1];
        bool upper = c >= 'A' && c <= 'Z';
        bool prev_lower = (prev >= 'a' && prev <= 'z') || s_is_digit(prev);
        bool prev_upper = prev >= 'A' && prev <= 'Z';
        bool next_lower = next >= 'a' && next <= 'z';
        if (len + 3 > sizeof(prefix)) {
            fits = false;
            break;
        }
        if (i > 0 && upper && (prev_lower || (prev_upper && next_lower)))
            prefix[len++] = '_';
        prefix[len++] = s_ascii_upper(c);
    }
    if (fits && len > 0) {
        prefix[len++] = '_';
        bool all = true;
        for (unsigned v = 0; v < desc->n_values && all; v++)
            all = strncmp(desc->values[v].name, prefix, len) == 0 && desc->values[v].name[len] != 0;
        if (all)
            return len;
    }
    //  Else the longest common prefix of the value names, cut after its last '_'.
    const char *first = desc->values[0].name;
    size_t common = strlen(first);
    for (unsigned v = 1; v < desc->n_values; v++) {
        size_t k = 0;
        while (k < common && desc->values[v].name[k] == first[k])
            k++;
        common = k;
    }
    while (common > 0 && first[common - 1] != '_')
        common--;
    for (unsigned v = 0; v < desc->n_values; v++)
        if (desc->values[v].name[common] == 0)
            return 0;
    return common;
}

int crm_enum_json_name(const ProtobufCEnumDescriptor *desc, int value, char *out, size_t out_size) {
    if (!desc || !out || out_size == 0)
        return -1;
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(desc, value);
    if (!ev)
        return -1;
    const char *tail = ev->name + s_enum_prefix_len(desc);
    size_t len = strlen(tail);
    if (len >= out_size)
        return -1;
    for (size_t i = 0; i <= len; i++)
        out[i] = s_ascii_lower(tail[i]);
    return 0;
}

//  Parse decimal integer text (optional '-', digits only) as sign and magnitude.
//  Returns 0, -1 when it is not integer text, -2 when it does not fit 64 bits.
static int s_parse_integer_text(const char *text, bool *negative, uint64_t *magnitude) {
    *negative = *text == '-';
    const char *p = text + *negative;
    if (!s_is_digit(*p))
        return -1;
    uint64_t value = 0;
    bool overflow = false;
    for (; s_is_digit(*p); p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (value > (UINT64_MAX - digit) / 10)
            overflow = true;
        else
            value = value * 10 + digit;
    }
    if (*p)
        return -1;
    *magnitude = value;
    return overflow ? -2 : 0;
}

int crm_enum_parse(const ProtobufCEnumDescriptor *desc, const char *name, int *value) {
    if (!desc || !name || !value)
        return -1;
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(desc, name);
    if (ev) {
        *value = ev->value;
        return 0;
    }
    size_t prefix = s_enum_prefix_len(desc);
    for (unsigned v = 0; v < desc->n_values; v++) {
        const char *full = desc->values[v].name;
        if (s_equal_nocase(full + prefix, name) || s_equal_nocase(full, name)) {
            *value = desc->values[v].value;
            return 0;
        }
    }
    bool negative;
    uint64_t magnitude;
    if (s_parse_integer_text(name, &negative, &magnitude) == 0 &&
        magnitude <= (negative ? (uint64_t)INT32_MAX + 1 : (uint64_t)INT32_MAX)) {
        int number = negative ? (int)(-(int64_t)magnitude) : (int)magnitude;
        if (protobuf_c_enum_descriptor_get_value(desc, number)) {
            *value = number;
            return 0;
        }
    }
    return -1;
}

// --- base64 --------------------------------------------------------------------------

static const char s_base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

//  Standard padded base64 of data as a JSON string.
static json_t *s_base64_encode(const uint8_t *data, size_t len) {
    if (len == 0)
        return json_string("");
    size_t out_len = (len + 2) / 3 * 4;
    char *out = malloc(out_len);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t chunk = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            chunk |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            chunk |= data[i + 2];
        out[o++] = s_base64_alphabet[(chunk >> 18) & 63];
        out[o++] = s_base64_alphabet[(chunk >> 12) & 63];
        out[o++] = i + 1 < len ? s_base64_alphabet[(chunk >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? s_base64_alphabet[chunk & 63] : '=';
    }
    json_t *string = json_stringn_nocheck(out, out_len);
    free(out);
    return string;
}

static int s_base64_digit(char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

//  Decode standard or url-safe base64, padding optional. Returns 0, -1 when the text
//  is not base64, -2 when out of memory. An empty result has data NULL.
static int s_base64_decode(const char *text, size_t len, ProtobufCBinaryData *out) {
    size_t padding = 0;
    while (len > 0 && text[len - 1] == '=' && padding < 2)
        len--, padding++;
    if ((padding > 0 && (len + padding) % 4 != 0) || len % 4 == 1)
        return -1;
    size_t size = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    uint8_t *data = NULL;
    if (size > 0 && !(data = malloc(size)))
        return -2;
    size_t o = 0;
    uint32_t chunk = 0;
    for (size_t i = 0; i < len; i++) {
        int digit = s_base64_digit(text[i]);
        if (digit < 0) {
            free(data);
            return -1;
        }
        chunk = (chunk << 6) | (uint32_t)digit;
        if (i % 4 == 3) {
            data[o++] = (uint8_t)(chunk >> 16);
            data[o++] = (uint8_t)(chunk >> 8);
            data[o++] = (uint8_t)chunk;
            chunk = 0;
        }
    }
    if (len % 4 == 2) {
        data[o++] = (uint8_t)(chunk >> 4);
    } else if (len % 4 == 3) {
        data[o++] = (uint8_t)(chunk >> 10);
        data[o++] = (uint8_t)(chunk >> 2);
    }
    out->data = data;
    out->len = size;
    return 0;
}

// --- scalar input --------------------------------------------------------------------

static bool s_is_64bit(ProtobufCType type) {
    return type == PROTOBUF_C_TYPE_INT64 || type == PROTOBUF_C_TYPE_SINT64 ||
           type == PROTOBUF_C_TYPE_SFIXED64 || type == PROTOBUF_C_TYPE_UINT64 ||
           type == PROTOBUF_C_TYPE_FIXED64;
}

static bool s_is_integer(ProtobufCType type) {
    return s_is_64bit(type) || type == PROTOBUF_C_TYPE_INT32 || type == PROTOBUF_C_TYPE_SINT32 ||
           type == PROTOBUF_C_TYPE_SFIXED32 || type == PROTOBUF_C_TYPE_UINT32 ||
           type == PROTOBUF_C_TYPE_FIXED32;
}

//  Bytes one value of type takes in a message or repeated array.
static size_t s_type_size(ProtobufCType type) {
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

//  Store an integer given as sign and magnitude into out, checking the range of type.
static int s_store_integer(s_ctx_t *ctx, ProtobufCType type, bool negative, uint64_t magnitude,
                           s_value_t *out) {
    if (negative && magnitude == 0)
        negative = false;
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        if (magnitude > (negative ? (uint64_t)INT32_MAX + 1 : (uint64_t)INT32_MAX))
            return s_fail(ctx, CRM_JSON_INVALID, "is out of range for a 32-bit integer");
        out->i32 = negative ? (int32_t)(-(int64_t)magnitude) : (int32_t)magnitude;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (negative || magnitude > UINT32_MAX)
            return s_fail(ctx, CRM_JSON_INVALID, "is out of range for an unsigned 32-bit integer");
        out->u32 = (uint32_t)magnitude;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (magnitude > (negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
            return s_fail(ctx, CRM_JSON_INVALID, "is out of range for a 64-bit integer");
        out->i64 = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (negative)
            return s_fail(ctx, CRM_JSON_INVALID, "is out of range for an unsigned 64-bit integer");
        out->u64 = magnitude;
        return 0;
    default:
        return s_fail(ctx, CRM_JSON_MALFORMED, "is not an integer field");
    }
}

//  Store a whole-valued real into an integer of type (1.5 and out-of-range are 422).
static int s_real_to_integer(s_ctx_t *ctx, ProtobufCType type, double value, s_value_t *out) {
    if (!isfinite(value) || value != trunc(value))
        return s_fail(ctx, CRM_JSON_INVALID, "must be a whole number");
    if (ctx->ints_as_real && fabs(value) > 9007199254740992.0)
        return s_fail(ctx, CRM_JSON_INVALID,
                      "is too large to be exact as a JSON number; write it as a string");
    if (fabs(value) >= 18446744073709551616.0)
        return s_fail(ctx, CRM_JSON_INVALID, "is out of range for a 64-bit integer");
    bool negative = value < 0;
    uint64_t magnitude = (uint64_t)fabs(value);
    return s_store_integer(ctx, type, negative, magnitude, out);
}

//  Is text a number in JSON's grammar (so strtod reads all of it, and nothing looser)?
static bool s_is_number_text(const char *p) {
    if (*p == '-')
        p++;
    if (!s_is_digit(*p))
        return false;
    if (*p == '0')
        p++;
    else
        while (s_is_digit(*p))
            p++;
    if (*p == '.') {
        p++;
        if (!s_is_digit(*p))
            return false;
        while (s_is_digit(*p))
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!s_is_digit(*p))
            return false;
        while (s_is_digit(*p))
            p++;
    }
    return *p == 0;
}

//  Integer from text ("42", "-7", "1e3"): for 64-bit strings and URL parameters.
static int s_text_to_integer(s_ctx_t *ctx, ProtobufCType type, const char *text, s_value_t *out) {
    bool negative;
    uint64_t magnitude;
    int rc = s_parse_integer_text(text, &negative, &magnitude);
    if (rc == 0)
        return s_store_integer(ctx, type, negative, magnitude, out);
    if (rc == -2)
        return s_fail(ctx, CRM_JSON_INVALID, "is out of range for a 64-bit integer");
    if (s_is_number_text(text))
        return s_real_to_integer(ctx, type, strtod(text, NULL), out);
    return s_fail(ctx, CRM_JSON_MALFORMED, "expected an integer");
}

//  Float or double from a JSON real, checking the float range.
static int s_store_real(s_ctx_t *ctx, ProtobufCType type, double value, s_value_t *out) {
    if (type == PROTOBUF_C_TYPE_DOUBLE) {
        out->d = value;
        return 0;
    }
    //  Values below FLT_MAX + half an ulp round to a finite float.
    if (isfinite(value) && fabs(value) >= 0x1.ffffffp+127)
        return s_fail(ctx, CRM_JSON_INVALID, "is out of range for a float");
    out->f = (float)value;
    return 0;
}

//  Float or double from text: a JSON number, "NaN", "Infinity" or "-Infinity".
static int s_text_to_real(s_ctx_t *ctx, ProtobufCType type, const char *text, bool numbers,
                          s_value_t *out) {
    if (strcmp(text, "NaN") == 0)
        return s_store_real(ctx, type, NAN, out);
    if (strcmp(text, "Infinity") == 0)
        return s_store_real(ctx, type, INFINITY, out);
    if (strcmp(text, "-Infinity") == 0)
        return s_store_real(ctx, type, -INFINITY, out);
    if (numbers && s_is_number_text(text))
        return s_store_real(ctx, type, strtod(text, NULL), out);
    return s_fail(ctx, CRM_JSON_MALFORMED,
                  numbers ? "expected a number" : "expected a number, \"NaN\" or \"Infinity\"");
}

//  Unknown enum value: name the accepted ones so the caller can act on it.
static int s_fail_enum(s_ctx_t *ctx, const ProtobufCEnumDescriptor *desc) {
    char list[200] = "";
    size_t len = 0;
    for (unsigned v = 0; v < desc->n_values; v++) {
        char name[64];
        if (crm_enum_json_name(desc, desc->values[v].value, name, sizeof(name)) != 0)
            continue;
        size_t need = strlen(name) + (len ? 2 : 0);
        if (len + need + 8 >= sizeof(list)) {
            memcpy(list + len, ", …", sizeof(", …"));
            break;
        }
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "", name);
    }
    return s_fail(ctx, CRM_JSON_INVALID, "is not a known value; expected one of: %s", list);
}

//  Copy a string value after checking it is UTF-8 without NUL.
static int s_copy_string(s_ctx_t *ctx, const char *text, size_t len, s_value_t *out) {
    if (memchr(text, 0, len))
        return s_fail(ctx, CRM_JSON_MALFORMED, "contains a NUL character");
    if (!s_utf8_valid(text, len))
        return s_fail(ctx, CRM_JSON_MALFORMED, "is not valid UTF-8");
    out->s = malloc(len + 1);
    if (!out->s)
        return s_fail_memory(ctx);
    memcpy(out->s, text, len);
    out->s[len] = 0;
    return 0;
}

static int s_decode_bytes(s_ctx_t *ctx, const char *text, size_t len, s_value_t *out) {
    int rc = s_base64_decode(text, len, &out->bytes);
    if (rc == -2)
        return s_fail_memory(ctx);
    if (rc != 0)
        return s_fail(ctx, CRM_JSON_MALFORMED, "is not valid base64");
    return 0;
}

//  Parse a value of field's type from text (URL parameters, map keys).
static int s_parse_text(s_ctx_t *ctx, const ProtobufCFieldDescriptor *field, const char *text,
                        size_t len, s_value_t *out) {
    if (field->type == PROTOBUF_C_TYPE_STRING)
        return s_copy_string(ctx, text, len, out);
    if (field->type == PROTOBUF_C_TYPE_BYTES)
        return s_decode_bytes(ctx, text, len, out);
    if (memchr(text, 0, len))
        return s_fail(ctx, CRM_JSON_MALFORMED, "contains a NUL character");
    if (s_is_integer(field->type))
        return s_text_to_integer(ctx, field->type, text, out);
    switch (field->type) {
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return s_text_to_real(ctx, field->type, text, true, out);
    case PROTOBUF_C_TYPE_BOOL:
        if (s_equal_nocase(text, "true") || strcmp(text, "1") == 0)
            out->b = 1;
        else if (s_equal_nocase(text, "false") || strcmp(text, "0") == 0)
            out->b = 0;
        else
            return s_fail(ctx, CRM_JSON_MALFORMED, "expected true or false");
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        int value;
        if (crm_enum_parse(field->descriptor, text, &value) != 0)
            return s_fail_enum(ctx, field->descriptor);
        out->i32 = value;
        return 0;
    }
    default:
        return s_fail(ctx, CRM_JSON_MALFORMED, "cannot be given as text");
    }
}

static const char *s_json_kind(const json_t *json) {
    switch (json_typeof(json)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

//  Parse one (non-repeated) value of field's type from JSON into out. Whatever out
//  holds on success is the caller's; on failure nothing is allocated.
static int s_parse_single(s_ctx_t *ctx, const ProtobufCFieldDescriptor *field, const json_t *json,
                          bool from_text, s_value_t *out) {
    ProtobufCType type = field->type;
    memset(out, 0, sizeof(*out));
    if (from_text && json_is_string(json) && type != PROTOBUF_C_TYPE_MESSAGE)
        return s_parse_text(ctx, field, json_string_value(json), json_string_length(json), out);

    if (s_is_integer(type)) {
        if (json_is_integer(json)) {
            json_int_t value = json_integer_value(json);
            bool negative = value < 0;
            uint64_t magnitude = negative ? (uint64_t)(-(value + 1)) + 1 : (uint64_t)value;
            return s_store_integer(ctx, type, negative, magnitude, out);
        }
        if (json_is_real(json))
            return s_real_to_integer(ctx, type, json_real_value(json), out);
        if (json_is_string(json) && s_is_64bit(type)) {
            if (memchr(json_string_value(json), 0, json_string_length(json)))
                return s_fail(ctx, CRM_JSON_MALFORMED, "expected an integer");
            return s_text_to_integer(ctx, type, json_string_value(json), out);
        }
        return s_fail(ctx, CRM_JSON_MALFORMED, "expected %s, not %s",
                      s_is_64bit(type) ? "an integer (number or string)" : "an integer",
                      s_json_kind(json));
    }
    switch (type) {
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        if (json_is_integer(json))
            return s_store_real(ctx, type, (double)json_integer_value(json), out);
        if (json_is_real(json))
            return s_store_real(ctx, type, json_real_value(json), out);
        if (json_is_string(json) && !memchr(json_string_value(json), 0, json_string_length(json)))
            return s_text_to_real(ctx, type, json_string_value(json), false, out);
        return s_fail(ctx, CRM_JSON_MALFORMED, "expected a number, not %s", s_json_kind(json));
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(json))
            return s_fail(ctx, CRM_JSON_MALFORMED, "expected true or false, not %s",
                          s_json_kind(json));
        out->b = json_is_true(json);
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        if (json_is_string(json)) {
            const char *name = json_string_value(json);
            int value;
            if (memchr(name, 0, json_string_length(json)) ||
                crm_enum_parse(field->descriptor, name, &value) != 0)
                return s_fail_enum(ctx, field->descriptor);
            out->i32 = value;
            return 0;
        }
        if (json_is_integer(json)) {
            json_int_t value = json_integer_value(json);
            if (value < INT32_MIN || value > INT32_MAX ||
                !protobuf_c_enum_descriptor_get_value(field->descriptor, (int)value))
                return s_fail_enum(ctx, field->descriptor);
            out->i32 = (int32_t)value;
            return 0;
        }
        if (json_is_real(json)) {
            if (s_real_to_integer(ctx, PROTOBUF_C_TYPE_INT32, json_real_value(json), out) != 0)
                return -1;
            if (!protobuf_c_enum_descriptor_get_value(field->descriptor, out->i32))
                return s_fail_enum(ctx, field->descriptor);
            return 0;
        }
        return s_fail(ctx, CRM_JSON_MALFORMED, "expected a string, not %s", s_json_kind(json));
    case PROTOBUF_C_TYPE_STRING:
        if (!json_is_string(json))
            return s_fail(ctx, CRM_JSON_MALFORMED, "expected a string, not %s", s_json_kind(json));
        return s_copy_string(ctx, json_string_value(json), json_string_length(json), out);
    case PROTOBUF_C_TYPE_BYTES:
        if (!json_is_string(json))
            return s_fail(ctx, CRM_JSON_MALFORMED, "expected a base64 string, not %s",
                          s_json_kind(json));
        return s_decode_bytes(ctx, json_string_value(json), json_string_length(json), out);
    case PROTOBUF_C_TYPE_MESSAGE:
        out->m = s_object_to_msg(ctx, field->descriptor, json);
        return out->m ? 0 : -1;
    default:
        return s_fail(ctx, CRM_JSON_MALFORMED, "has an unsupported type");
    }
}

// --- storing values ------------------------------------------------------------------

//  Free what a parsed value or repeated element of field's type owns.
static void s_value_free(const ProtobufCFieldDescriptor *field, void *value) {
    if (field->type == PROTOBUF_C_TYPE_STRING)
        free(*(char **)value);
    else if (field->type == PROTOBUF_C_TYPE_BYTES)
        free(((ProtobufCBinaryData *)value)->data);
    else if (field->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage **)value)
        protobuf_c_message_free_unpacked(*(ProtobufCMessage **)value, NULL);
}

//  Release what the singular member of field in msg owns, leaving alone the
//  default_value pointers that free_unpacked leaves alone too.
static void s_member_clear(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field) {
    void *member = S_MEMBER(msg, field->offset);
    if (field->type == PROTOBUF_C_TYPE_STRING) {
        char *string = *(char **)member;
        if (string && string != field->default_value)
            free(string);
    } else if (field->type == PROTOBUF_C_TYPE_BYTES) {
        const ProtobufCBinaryData *fallback = field->default_value;
        void *data = ((ProtobufCBinaryData *)member)->data;
        if (data && (!fallback || fallback->data != data))
            free(data);
    } else if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
        ProtobufCMessage *sub = *(ProtobufCMessage **)member;
        if (sub && (const void *)sub != field->default_value)
            protobuf_c_message_free_unpacked(sub, NULL);
    }
    memset(member, 0, s_type_size(field->type));
}

//  Store a parsed value (taking it) into the singular field of msg: frees the old value,
//  sets the has_ flag or the oneof case.
static void s_store_singular(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field,
                             s_value_t *value) {
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = S_MEMBER(msg, field->quantifier_offset);
        const ProtobufCFieldDescriptor *current =
            *which ? protobuf_c_message_descriptor_get_field(msg->descriptor, *which) : NULL;
        if (current)
            s_member_clear(msg, current);
        *which = field->id;
    } else {
        s_member_clear(msg, field);
        if (field->label == PROTOBUF_C_LABEL_OPTIONAL && field->type != PROTOBUF_C_TYPE_STRING &&
            field->type != PROTOBUF_C_TYPE_MESSAGE)
            *(protobuf_c_boolean *)S_MEMBER(msg, field->quantifier_offset) = 1;
    }
    memcpy(S_MEMBER(msg, field->offset), value, s_type_size(field->type));
}

//  Make room for count more elements in field's repeated array; returns the array.
static char *s_array_reserve(s_ctx_t *ctx, ProtobufCMessage *msg,
                             const ProtobufCFieldDescriptor *field, size_t count) {
    size_t n = *(size_t *)S_MEMBER(msg, field->quantifier_offset);
    void **array = S_MEMBER(msg, field->offset);
    size_t size = s_type_size(field->type);
    if (count > SIZE_MAX / size - n) {
        s_fail_memory(ctx);
        return NULL;
    }
    void *grown = realloc(*array, (n + count) * size);
    if (!grown) {
        s_fail_memory(ctx);
        return NULL;
    }
    *array = grown;
    return grown;
}

//  Drop the elements after the first keep (undoes a failed append).
static void s_array_truncate(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field,
                             size_t keep) {
    size_t *n = S_MEMBER(msg, field->quantifier_offset);
    char *array = *(char **)S_MEMBER(msg, field->offset);
    size_t size = s_type_size(field->type);
    for (size_t i = keep; i < *n; i++)
        s_value_free(field, array + i * size);
    *n = keep;
}

//  Append a JSON array (or, from text, one string) to a repeated field.
static int s_append_repeated(s_ctx_t *ctx, ProtobufCMessage *msg,
                             const ProtobufCFieldDescriptor *field, const json_t *json,
                             bool from_text) {
    bool single = from_text && json_is_string(json);
    if (!single && !json_is_array(json))
        return s_fail(ctx, CRM_JSON_MALFORMED, "expected an array, not %s", s_json_kind(json));
    size_t count = single ? 1 : json_array_size(json);
    if (count == 0)
        return 0;
    char *array = s_array_reserve(ctx, msg, field, count);
    if (!array)
        return -1;
    size_t *n = S_MEMBER(msg, field->quantifier_offset);
    size_t keep = *n;
    size_t size = s_type_size(field->type);
    for (size_t i = 0; i < count; i++) {
        const json_t *element = single ? json : json_array_get(json, i);
        size_t mark = single ? ctx->path_len : s_path_push_index(ctx, i);
        s_value_t value;
        if (json_is_null(element))
            s_fail(ctx, CRM_JSON_MALFORMED, "null is not allowed in an array");
        if (json_is_null(element) || s_parse_single(ctx, field, element, from_text, &value) != 0) {
            s_array_truncate(msg, field, keep);
            return -1;
        }
        memcpy(array + *n * size, &value, size);
        (*n)++;
        s_path_pop(ctx, mark);
    }
    return 0;
}

static int s_set_field(s_ctx_t *ctx, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field,
                       const json_t *json, bool from_text, bool replace_oneof);

static ProtobufCMessage *s_msg_new(s_ctx_t *ctx, const ProtobufCMessageDescriptor *desc) {
    ProtobufCMessage *msg = malloc(desc->sizeof_message);
    if (!msg) {
        s_fail_memory(ctx);
        return NULL;
    }
    protobuf_c_message_init(desc, msg);
    return msg;
}

//  Append the members of a JSON object to a map field (repeated <Name>Entry messages).
static int s_append_map(s_ctx_t *ctx, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field,
                        const json_t *json) {
    if (!json_is_object(json))
        return s_fail(ctx, CRM_JSON_MALFORMED, "expected an object, not %s", s_json_kind(json));
    size_t count = json_object_size(json);
    if (count == 0)
        return 0;
    char *array = s_array_reserve(ctx, msg, field, count);
    if (!array)
        return -1;
    const ProtobufCMessageDescriptor *entry_desc = field->descriptor;
    size_t *n = S_MEMBER(msg, field->quantifier_offset);
    size_t keep = *n;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)json, key, value) {
        size_t mark = s_path_push_name(ctx, key);
        ProtobufCMessage *entry = s_msg_new(ctx, entry_desc);
        s_value_t parsed;
        if (!entry || s_parse_text(ctx, &entry_desc->fields[0], key, strlen(key), &parsed) != 0) {
            if (entry)
                protobuf_c_message_free_unpacked(entry, NULL);
            s_array_truncate(msg, field, keep);
            return -1;
        }
        s_store_singular(entry, &entry_desc->fields[0], &parsed);
        if (s_set_field(ctx, entry, &entry_desc->fields[1], value, false, false) != 0) {
            protobuf_c_message_free_unpacked(entry, NULL);
            s_array_truncate(msg, field, keep);
            return -1;
        }
        ((ProtobufCMessage **)array)[(*n)++] = entry;
        s_path_pop(ctx, mark);
    }
    return 0;
}

//  Set field of msg from json: repeated fields are appended to, others replaced. Two
//  members of one oneof are an error unless replace_oneof.
static int s_set_field(s_ctx_t *ctx, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field,
                       const json_t *json, bool from_text, bool replace_oneof) {
    if (json_is_null(json))
        return 0;
    if (field->label == PROTOBUF_C_LABEL_REPEATED)
        return s_is_map(field) ? s_append_map(ctx, msg, field, json)
                               : s_append_repeated(ctx, msg, field, json, from_text);
    if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && !replace_oneof) {
        uint32_t which = *(uint32_t *)S_MEMBER(msg, field->quantifier_offset);
        const ProtobufCFieldDescriptor *other =
            which && which != field->id
                ? protobuf_c_message_descriptor_get_field(msg->descriptor, which)
                : NULL;
        if (other) {
            char name[128] = "";
            if (strlen(other->name) < sizeof(name))
                s_json_name(other->name, name);
            return s_fail(ctx, CRM_JSON_INVALID,
                          "cannot be set together with \"%s\" (only one of them may be set)", name);
        }
    }
    s_value_t value;
    if (s_parse_single(ctx, field, json, from_text, &value) != 0)
        return -1;
    s_store_singular(msg, field, &value);
    return 0;
}

//  Build a message of type desc from a JSON object; NULL on error (ctx->err filled).
static ProtobufCMessage *s_object_to_msg(s_ctx_t *ctx, const ProtobufCMessageDescriptor *desc,
                                         const json_t *object) {
    if (!json_is_object(object)) {
        s_fail(ctx, CRM_JSON_MALFORMED, "expected an object, not %s", s_json_kind(object));
        return NULL;
    }
    if (ctx->depth >= CRM_JSON_MAX_DEPTH) {
        s_fail(ctx, CRM_JSON_MALFORMED, "is nested deeper than %d levels", CRM_JSON_MAX_DEPTH);
        return NULL;
    }
    //  Which fields were given, to refuse one given by both its json and proto name.
    unsigned char seen_here[64];
    unsigned char *seen =
        desc->n_fields <= sizeof(seen_here) ? seen_here : calloc(desc->n_fields, 1);
    ProtobufCMessage *msg = seen ? s_msg_new(ctx, desc) : NULL;
    if (!msg) {
        if (seen && seen != seen_here)
            free(seen);
        if (!seen)
            s_fail_memory(ctx);
        return NULL;
    }
    if (seen == seen_here)
        memset(seen, 0, sizeof(seen_here));
    ctx->depth++;
    bool ok = true;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)object, key, value) {
        const ProtobufCFieldDescriptor *field = crm_pb_field_by_name(desc, key);
        if (!field && !s_utf8_valid(key, strlen(key))) {
            s_fail(ctx, CRM_JSON_MALFORMED, "has a member name that is not valid UTF-8");
            ok = false;
            break;
        }
        size_t mark = s_path_push_name(ctx, key);
        if (!field) {
            s_fail(ctx, CRM_JSON_INVALID, "is not a known field");
            ok = false;
            break;
        }
        size_t index = (size_t)(field - desc->fields);
        if (seen[index]) {
            s_fail(ctx, CRM_JSON_MALFORMED, "is given twice (as \"%s\" and its other name)",
                   field->name);
            ok = false;
            break;
        }
        seen[index] = 1;
        if (s_set_field(ctx, msg, field, value, false, false) != 0) {
            ok = false;
            break;
        }
        s_path_pop(ctx, mark);
    }
    ctx->depth--;
    if (seen != seen_here)
        free(seen);
    if (!ok) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return NULL;
    }
    return msg;
}

// --- input API -----------------------------------------------------------------------

static ProtobufCMessage *s_value_to_pb(const ProtobufCMessageDescriptor *desc, const json_t *value,
                                       const char *path_prefix, crm_json_error_t *err,
                                       bool ints_as_real) {
    s_ctx_t ctx;
    s_ctx_init(&ctx, err, path_prefix);
    ctx.ints_as_real = ints_as_real;
    if (!desc || !value || !json_is_object(value)) {
        s_fail(&ctx, CRM_JSON_MALFORMED, "expected a JSON object, not %s",
               value ? s_json_kind(value) : "nothing");
        return NULL;
    }
    return s_object_to_msg(&ctx, desc, value);
}

ProtobufCMessage *crm_json_value_to_pb(const ProtobufCMessageDescriptor *desc, const json_t *value,
                                       const char *path_prefix, crm_json_error_t *err) {
    crm_json_error_t ignored;
    return s_value_to_pb(desc, value, path_prefix, err ? err : &ignored, false);
}

ProtobufCMessage *crm_json_to_pb(const ProtobufCMessageDescriptor *desc, const char *text,
                                 size_t len, crm_json_error_t *err) {
    crm_json_error_t ignored;
    if (!err)
        err = &ignored;
    json_error_t jerr;
    json_t *root = text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    bool ints_as_real = false;
    //  An integer too large for json_int_t (a uint64 above INT64_MAX, or a long literal
    //  for a double) is valid JSON: read numbers as reals to find and judge it.
    if (!root && text && json_error_code(&jerr) == json_error_numeric_overflow) {
        root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
        ints_as_real = true;
    }
    if (!root) {
        memset(err, 0, sizeof(*err));
        if (text && json_error_code(&jerr) == json_error_out_of_memory) {
            err->status = CRM_JSON_NO_MEMORY;
            snprintf(err->message, sizeof(err->message), "out of memory");
            return NULL;
        }
        err->status = CRM_JSON_MALFORMED;
        if (!text)
            snprintf(err->message, sizeof(err->message), "is not valid JSON: no text");
        else
            snprintf(err->message, sizeof(err->message),
                     "is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                     jerr.column);
        //  jansson quotes the offending text, which may be any bytes
        for (char *p = err->message; *p; p++)
            if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
                *p = '?';
        return NULL;
    }
    ProtobufCMessage *msg = s_value_to_pb(desc, root, "", err, ints_as_real);
    json_decref(root);
    return msg;
}

int crm_json_set_field(ProtobufCMessage *msg, const char *name, const json_t *value, int from_text,
                       crm_json_error_t *err) {
    crm_json_error_t ignored;
    s_ctx_t ctx;
    s_ctx_init(&ctx, err ? err : &ignored, "");
    if (!msg || !name)
        return s_fail(&ctx, CRM_JSON_MALFORMED, "no message or field name");
    if (s_utf8_valid(name, strlen(name)))
        s_path_push_name(&ctx, name);
    const ProtobufCFieldDescriptor *field = crm_pb_field_by_name(msg->descriptor, name);
    if (!field)
        return s_fail(&ctx, CRM_JSON_INVALID, "is not a known field");
    if (!value)
        return 0;
    return s_set_field(&ctx, msg, field, value, from_text != 0, true);
}

// --- output --------------------------------------------------------------------------

//  A float as the double nearest its shortest decimal form, so 1.1f reads back as 1.1f
//  and prints as 1.1 at any precision that suits doubles.
static json_t *s_render_float(float value) {
    if (isnan(value))
        return json_string("NaN");
    if (isinf(value))
        return json_string(value > 0 ? "Infinity" : "-Infinity");
    char text[32];
    for (int precision = 6; precision <= 9; precision++) {
        snprintf(text, sizeof(text), "%.*g", precision, (double)value);
        if (strtof(text, NULL) == value)
            break;
    }
    return json_real(strtod(text, NULL));
}

static json_t *s_render_double(double value) {
    if (isnan(value))
        return json_string("NaN");
    if (isinf(value))
        return json_string(value > 0 ? "Infinity" : "-Infinity");
    return json_real(value);
}

//  Render one value of field's type; value points at the member or array element.
static json_t *s_render_single(const ProtobufCFieldDescriptor *field, const void *value) {
    char text[256];
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)value);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)value);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(text, sizeof(text), "%" PRId64, *(const int64_t *)value);
        return json_string(text);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(text, sizeof(text), "%" PRIu64, *(const uint64_t *)value);
        return json_string(text);
    case PROTOBUF_C_TYPE_FLOAT:
        return s_render_float(*(const float *)value);
    case PROTOBUF_C_TYPE_DOUBLE:
        return s_render_double(*(const double *)value);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)value);
    case PROTOBUF_C_TYPE_ENUM: {
        int number = *(const int *)value;
        if (crm_enum_json_name(field->descriptor, number, text, sizeof(text)) == 0)
            return json_string(text);
        return json_integer(number);
    }
    case PROTOBUF_C_TYPE_STRING:
        return s_json_string_lossy(*(char *const *)value);
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bytes = value;
        return s_base64_encode(bytes->data, bytes->len);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)value;
        return sub ? s_msg_to_json(sub) : json_object();
    }
    }
    return NULL;
}

//  Does the value hold its type's default (0, false, "", empty bytes, no message)?
static bool s_is_default(const ProtobufCFieldDescriptor *field, const void *value) {
    switch (field->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *string = *(char *const *)value;
        return !string || !*string;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)value)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)value == NULL;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)value == 0; // -0.0 too: protobuf-c does not pack it either
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)value == 0;
    default: {
        static const unsigned char zero[8];
        return memcmp(value, zero, s_type_size(field->type)) == 0;
    }
    }
}

//  Is the singular field set, by the rules of its label (see the header)?
static bool s_is_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field) {
    const void *member = S_CMEMBER(msg, field->offset);
    bool pointer = field->type == PROTOBUF_C_TYPE_STRING || field->type == PROTOBUF_C_TYPE_MESSAGE;
    //  as protobuf-c's packer: a string or message at the default pointer is unset
    bool pointer_set =
        pointer && *(void *const *)member != NULL && *(void *const *)member != field->default_value;
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)S_CMEMBER(msg, field->quantifier_offset) == field->id &&
               (!pointer || pointer_set);
    switch (field->label) {
    case PROTOBUF_C_LABEL_OPTIONAL:
        if (pointer)
            return pointer_set;
        return *(const protobuf_c_boolean *)S_CMEMBER(msg, field->quantifier_offset);
    case PROTOBUF_C_LABEL_REQUIRED:
        return !pointer || *(void *const *)member != NULL;
    default:
        return !s_is_default(field, member);
    }
}

//  The text of a map key (string, integer or bool) as a JSON member name.
static const char *s_map_key(const ProtobufCFieldDescriptor *field, const void *value, char *text,
                             size_t size) {
    switch (field->type) {
    case PROTOBUF_C_TYPE_STRING:
        return *(char *const *)value ? *(char *const *)value : "";
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)value ? "true" : "false";
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(text, size, "%" PRIu32, *(const uint32_t *)value);
        return text;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(text, size, "%" PRIu64, *(const uint64_t *)value);
        return text;
    default:
        if (s_type_size(field->type) == 8)
            snprintf(text, size, "%" PRId64, *(const int64_t *)value);
        else
            snprintf(text, size, "%" PRId32, *(const int32_t *)value);
        return text;
    }
}

//  Render the n entries of a map field as one JSON object.
static json_t *s_render_map(const ProtobufCFieldDescriptor *field, size_t n,
                            ProtobufCMessage *const *entries) {
    const ProtobufCMessageDescriptor *entry_desc = field->descriptor;
    const ProtobufCFieldDescriptor *key_field = &entry_desc->fields[0];
    const ProtobufCFieldDescriptor *value_field = &entry_desc->fields[1];
    json_t *object = json_object();
    for (size_t i = 0; object && i < n; i++) {
        if (!entries[i])
            continue;
        char text[32];
        const char *key =
            s_map_key(key_field, S_CMEMBER(entries[i], key_field->offset), text, sizeof(text));
        json_t *value = s_render_single(value_field, S_CMEMBER(entries[i], value_field->offset));
        int rc;
        if (s_utf8_valid(key, strlen(key))) {
            rc = json_object_set_new_nocheck(object, key, value);
        } else {
            json_t *clean = s_json_string_lossy(key);
            rc = clean ? json_object_set_new_nocheck(object, json_string_value(clean), value) : -1;
            if (!clean)
                json_decref(value);
            json_decref(clean);
        }
        if (rc != 0) {
            json_decref(object);
            object = NULL;
        }
    }
    return object;
}

//  Render the n elements of a repeated field as a JSON array.
static json_t *s_render_array(const ProtobufCFieldDescriptor *field, size_t n, const char *array) {
    size_t size = s_type_size(field->type);
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        if (json_array_append_new(list, s_render_single(field, array + i * size)) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    return list;
}

//  Render msg as a JSON object (NULL only when out of memory).
static json_t *s_msg_to_json(const ProtobufCMessage *msg) {
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    json_t *object = json_object();
    for (unsigned f = 0; object && f < desc->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[f];
        json_t *value;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)S_CMEMBER(msg, field->quantifier_offset);
            const char *array = *(char *const *)S_CMEMBER(msg, field->offset);
            if (n == 0 || !array)
                continue;
            value = s_is_map(field) ? s_render_map(field, n, (ProtobufCMessage *const *)array)
                                    : s_render_array(field, n, array);
        } else {
            if (!s_is_present(msg, field))
                continue;
            value = s_render_single(field, S_CMEMBER(msg, field->offset));
        }
        size_t len = strlen(field->name);
        char here[128];
        char *name = len < sizeof(here) ? here : malloc(len + 1);
        if (name)
            s_json_name(field->name, name);
        if (!value || !name || json_object_set_new_nocheck(object, name, value) != 0) {
            if (!name)
                json_decref(value);
            json_decref(object);
            object = NULL;
        }
        if (name != here)
            free(name);
    }
    return object;
}

json_t *crm_pb_to_json_value(const ProtobufCMessage *msg) {
    return msg ? s_msg_to_json(msg) : NULL;
}

char *crm_pb_to_json(const ProtobufCMessage *msg) {
    json_t *value = crm_pb_to_json_value(msg);
    if (!value)
        return NULL;
    char *text = json_dumps(value, JSON_COMPACT);
    json_decref(value);
    return text;
}

void crm_pb_field_json_name(const ProtobufCFieldDescriptor *field, char *out, size_t out_size) {
    char name[256];
    if (strlen(field->name) >= sizeof name) {
        snprintf(out, out_size, "%s", field->name);
        return;
    }
    s_json_name(field->name, name);
    snprintf(out, out_size, "%s", name);
}

void crm_pb_string_set(char **field, const char *value) {
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    *field = strdup(value);
}

ProtobufCMessage *crm_pb_copy(const ProtobufCMessage *msg) {
    size_t size = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(size ? size : 1);
    assert(buf);
    protobuf_c_message_pack(msg, buf);
    ProtobufCMessage *copy = protobuf_c_message_unpack(msg->descriptor, NULL, size, buf);
    free(buf);
    return copy;
}

const char *crm_enum_api_name(const ProtobufCEnumDescriptor *desc, int value, char *out,
                              size_t out_size) {
    if (value == 0 || crm_enum_json_name(desc, value, out, out_size))
        out[0] = 0;
    return out;
}
