/*  Tests for json_pb, the generic JSON <-> protobuf transcoder; read them as examples.

    Parsing:   msg = crm_json_to_pb(&crm__test__test_all__descriptor, text, len, &err);
               ... protobuf_c_message_free_unpacked(msg, NULL);
    Rendering: char *text = crm_pb_to_json(msg); ... free(text);
    URL parameters: crm_json_set_field(msg, "limit", json_string("20"), 1, &err);
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contacts.pb-c.h"
#include "json_pb.h"
#include "test_types.pb-c.h"

#define TEST_ALL (&crm__test__test_all__descriptor)

// --- helpers -------------------------------------------------------------------------

//  Parse text that must be accepted.
static ProtobufCMessage *s_parse(const ProtobufCMessageDescriptor *desc, const char *text) {
    crm_json_error_t err;
    ProtobufCMessage *msg = crm_json_to_pb(desc, text, strlen(text), &err);
    if (!msg)
        fprintf(stderr, "unexpected error %d at '%s': %s\n", err.status, err.field, err.message);
    assert_non_null(msg);
    assert_int_equal(err.status, CRM_JSON_OK);
    return msg;
}

static Crm__Test__TestAll *s_parse_all(const char *text) {
    return (Crm__Test__TestAll *)s_parse(TEST_ALL, text);
}

//  Parse text that must be refused with status at field.
static void s_expect_error(const ProtobufCMessageDescriptor *desc, const char *text,
                           crm_json_status_t status, const char *field) {
    crm_json_error_t err;
    ProtobufCMessage *msg = crm_json_to_pb(desc, text, strlen(text), &err);
    if (msg || err.status != status || strcmp(err.field, field) != 0)
        fprintf(stderr, "for %s: got %d at '%s': %s\n", text, err.status, err.field, err.message);
    assert_null(msg);
    assert_int_equal(err.status, status);
    assert_string_equal(err.field, field);
    assert_true(strlen(err.message) > 0);
}

//  Render msg, compare with expected, check the text reads back to the same rendering,
//  and free msg.
static void s_expect_json(ProtobufCMessage *msg, const char *expected) {
    char *text = crm_pb_to_json(msg);
    assert_non_null(text);
    assert_string_equal(text, expected);
    ProtobufCMessage *again = s_parse(msg->descriptor, text);
    char *text_again = crm_pb_to_json(again);
    assert_string_equal(text_again, text);
    free(text_again);
    free(text);
    protobuf_c_message_free_unpacked(again, NULL);
    protobuf_c_message_free_unpacked(msg, NULL);
}

//  JSON text comes back unchanged (it is already in canonical form).
static void s_expect_round_trip(const char *text) {
    s_expect_json(s_parse(TEST_ALL, text), text);
}

// --- a proto2-style message with explicit presence, written by hand ------------------
//  protoc-c 1.4 cannot compile proto3 `optional`; what it generates for proto2
//  `optional` (and newer protoc-c for proto3 `optional`) is this shape:
//      message Presence { optional int32 opt_int32 = 1; optional string opt_string = 2;
//                         required int32 req_int32 = 3;
//                         optional string greeting = 4 [default = "hello"]; }

typedef struct {
    ProtobufCMessage base;
    protobuf_c_boolean has_opt_int32;
    int32_t opt_int32;
    char *opt_string;
    int32_t req_int32;
    char *greeting;
} presence_t;

static char s_greeting_default[] = "hello";
static const ProtobufCMessageDescriptor s_presence_descriptor;

static void s_presence_init(ProtobufCMessage *message) {
    presence_t *presence = (presence_t *)message;
    *presence = (presence_t){
        PROTOBUF_C_MESSAGE_INIT(&s_presence_descriptor), 0, 0, NULL, 0, s_greeting_default};
}

static const ProtobufCFieldDescriptor s_presence_fields[4] = {
    {"opt_int32", 1, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_INT32,
     offsetof(presence_t, has_opt_int32), offsetof(presence_t, opt_int32), NULL, NULL, 0, 0, NULL,
     NULL},
    {"opt_string", 2, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_STRING, 0,
     offsetof(presence_t, opt_string), NULL, NULL, 0, 0, NULL, NULL},
    {"req_int32", 3, PROTOBUF_C_LABEL_REQUIRED, PROTOBUF_C_TYPE_INT32, 0,
     offsetof(presence_t, req_int32), NULL, NULL, 0, 0, NULL, NULL},
    {"greeting", 4, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_STRING, 0,
     offsetof(presence_t, greeting), NULL, &s_greeting_default, 0, 0, NULL, NULL},
};
static const unsigned s_presence_by_name[] = {3, 0, 1, 2};
static const ProtobufCIntRange s_presence_ranges[] = {{1, 0}, {0, 4}};

static const ProtobufCMessageDescriptor s_presence_descriptor = {
    .magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    .name = "crm.test.Presence",
    .short_name = "Presence",
    .c_name = "Presence",
    .package_name = "crm.test",
    .sizeof_message = sizeof(presence_t),
    .n_fields = 4,
    .fields = s_presence_fields,
    .fields_sorted_by_name = s_presence_by_name,
    .n_field_ranges = 1,
    .field_ranges = s_presence_ranges,
    .message_init = s_presence_init,
};

//  An enum whose values do not carry the enum's name: enum Role { ADMIN = 0; SALES_REP = 1; }
static const ProtobufCEnumValue s_role_values[] = {{"ADMIN", "ROLE__ADMIN", 0},
                                                   {"SALES_REP", "ROLE__SALES_REP", 1}};
static const ProtobufCEnumValueIndex s_role_by_name[] = {{"ADMIN", 0}, {"SALES_REP", 1}};
static const ProtobufCIntRange s_role_ranges[] = {{0, 0}, {0, 2}};
static const ProtobufCEnumDescriptor s_role_descriptor = {
    .magic = PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC,
    .name = "crm.test.Role",
    .short_name = "Role",
    .c_name = "Role",
    .package_name = "crm.test",
    .n_values = 2,
    .values = s_role_values,
    .n_value_names = 2,
    .values_by_name = s_role_by_name,
    .n_value_ranges = 1,
    .value_ranges = s_role_ranges,
};

//  Values sharing a prefix that is not the enum's name: enum Level { LVL_LOW = 0; LVL_HIGH = 1; }
static const ProtobufCEnumValue s_level_values[] = {{"LVL_LOW", "LEVEL__LVL_LOW", 0},
                                                    {"LVL_HIGH", "LEVEL__LVL_HIGH", 1}};
static const ProtobufCEnumValueIndex s_level_by_name[] = {{"LVL_HIGH", 1}, {"LVL_LOW", 0}};
static const ProtobufCEnumDescriptor s_level_descriptor = {
    .magic = PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC,
    .name = "crm.test.Level",
    .short_name = "Level",
    .c_name = "Level",
    .package_name = "crm.test",
    .n_values = 2,
    .values = s_level_values,
    .n_value_names = 2,
    .values_by_name = s_level_by_name,
    .n_value_ranges = 1,
    .value_ranges = s_role_ranges,
};

// --- tests ---------------------------------------------------------------------------

//  Every scalar kind, singular, reads into the struct and renders back identically.
static void test_scalars_round_trip(void **state) {
    (void)state;
    const char *text =
        "{\"fInt32\":-5,\"fSint32\":-6,\"fSfixed32\":-7,\"fUint32\":4294967295,\"fFixed32\":8,"
        "\"fInt64\":\"-9\",\"fSint64\":\"10\",\"fSfixed64\":\"-11\",\"fUint64\":\"12\","
        "\"fFixed64\":\"13\",\"fFloat\":1.5,\"fDouble\":-2.25,\"fBool\":true,"
        "\"fString\":\"h\xc3\xa9llo\",\"fBytes\":\"AAEC/w==\",\"colour\":\"red\","
        "\"nested\":{\"value\":1,\"label\":\"x\"}}";
    Crm__Test__TestAll *all = s_parse_all(text);
    assert_int_equal(all->f_int32, -5);
    assert_int_equal(all->f_sint32, -6);
    assert_int_equal(all->f_sfixed32, -7);
    assert_true(all->f_uint32 == 4294967295u);
    assert_int_equal(all->f_fixed32, 8);
    assert_true(all->f_int64 == -9);
    assert_true(all->f_sint64 == 10);
    assert_true(all->f_sfixed64 == -11);
    assert_true(all->f_uint64 == 12);
    assert_true(all->f_fixed64 == 13);
    assert_true(all->f_float == 1.5f);
    assert_true(all->f_double == -2.25);
    assert_true(all->f_bool);
    assert_string_equal(all->f_string, "h\xc3\xa9llo");
    assert_int_equal(all->f_bytes.len, 4);
    assert_memory_equal(all->f_bytes.data, "\x00\x01\x02\xff", 4);
    assert_int_equal(all->colour, CRM__TEST__COLOUR__COLOUR_RED);
    assert_non_null(all->nested);
    assert_int_equal(all->nested->value, 1);
    assert_string_equal(all->nested->label, "x");
    s_expect_json(&all->base, text);
}

//  Proto (snake_case) names are accepted; output always uses json names.
static void test_proto_names(void **state) {
    (void)state;
    s_expect_json(s_parse(TEST_ALL, "{\"f_int32\":3,\"r_string\":[\"a\"],\"choice_text\":\"t\"}"),
                  "{\"fInt32\":3,\"rString\":[\"a\"],\"choiceText\":\"t\"}");
    //  the same field under both names is refused like a duplicate key
    s_expect_error(TEST_ALL, "{\"fInt32\":1,\"f_int32\":2}", CRM_JSON_MALFORMED, "f_int32");
}

//  Enums: short name, full name, any case, number; unknown ones are 422.
static void test_enums(void **state) {
    (void)state;
    const char *inputs[] = {"\"dark_blue\"",
                            "\"DARK_BLUE\"",
                            "\"COLOUR_DARK_BLUE\"",
                            "\"colour_dark_blue\"",
                            "\"Dark_Blue\"",
                            "2",
                            "2.0"};
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "{\"colour\":%s}", inputs[i]);
        Crm__Test__TestAll *all = s_parse_all(text);
        assert_int_equal(all->colour, CRM__TEST__COLOUR__COLOUR_DARK_BLUE);
        s_expect_json(&all->base, "{\"colour\":\"dark_blue\"}");
    }
    s_expect_json(s_parse(TEST_ALL, "{\"rColour\":[\"red\",0,\"COLOUR_DARK_BLUE\"]}"),
                  "{\"rColour\":[\"red\",\"unspecified\",\"dark_blue\"]}");
    s_expect_error(TEST_ALL, "{\"colour\":\"green\"}", CRM_JSON_INVALID, "colour");
    s_expect_error(TEST_ALL, "{\"colour\":7}", CRM_JSON_INVALID, "colour");
    s_expect_error(TEST_ALL, "{\"colour\":\"\"}", CRM_JSON_INVALID, "colour");
    s_expect_error(TEST_ALL, "{\"rColour\":[\"red\",\"blue\"]}", CRM_JSON_INVALID, "rColour[1]");
    s_expect_error(TEST_ALL, "{\"colour\":true}", CRM_JSON_MALFORMED, "colour");
    s_expect_error(TEST_ALL, "{\"colour\":1.5}", CRM_JSON_INVALID, "colour");

    //  the error names the accepted values
    crm_json_error_t err;
    const char *text = "{\"colour\":\"green\"}";
    assert_null(crm_json_to_pb(TEST_ALL, text, strlen(text), &err));
    assert_non_null(strstr(err.message, "red, dark_blue"));

    //  a value the enum does not define (e.g. from a newer peer) is written as its number
    Crm__Test__TestAll all = CRM__TEST__TEST_ALL__INIT;
    all.colour = (Crm__Test__Colour)9;
    char *out = crm_pb_to_json(&all.base);
    assert_string_equal(out, "{\"colour\":9}");
    free(out);
}

//  Repeated fields of every scalar kind, and of messages.
static void test_repeated(void **state) {
    (void)state;
    const char *text =
        "{\"rInt32\":[1,-2],\"rSint32\":[-3],\"rSfixed32\":[4],\"rUint32\":[5],"
        "\"rFixed32\":[6],\"rInt64\":[\"-7\",\"8\"],\"rSint64\":[\"9\"],\"rSfixed64\":[\"10\"],"
        "\"rUint64\":[\"11\"],\"rFixed64\":[\"12\"],\"rFloat\":[0.5,0.0],\"rDouble\":[0.25],"
        "\"rBool\":[true,false],\"rString\":[\"a\",\"\"],\"rBytes\":[\"AQ==\",\"\"],"
        "\"rColour\":[\"red\"],\"items\":[{\"value\":1},{},{\"label\":\"c\"}]}";
    Crm__Test__TestAll *all = s_parse_all(text);
    assert_int_equal(all->n_r_int32, 2);
    assert_int_equal(all->r_int32[1], -2);
    assert_int_equal(all->n_r_int64, 2);
    assert_true(all->r_int64[0] == -7);
    assert_int_equal(all->n_r_bool, 2);
    assert_false(all->r_bool[1]);
    assert_int_equal(all->n_r_string, 2);
    assert_string_equal(all->r_string[1], "");
    assert_int_equal(all->n_r_bytes, 2);
    assert_int_equal(all->r_bytes[0].len, 1);
    assert_int_equal(all->r_bytes[1].len, 0);
    assert_int_equal(all->n_items, 3);
    assert_int_equal(all->items[0]->value, 1);
    assert_string_equal(all->items[2]->label, "c");
    //  defaults inside arrays are kept: arrays are written whole
    s_expect_json(&all->base, text);

    //  JSON numbers may be given for 64-bit elements
    s_expect_json(s_parse(TEST_ALL, "{\"rUint64\":[1,\"2\"]}"), "{\"rUint64\":[\"1\",\"2\"]}");
    //  empty arrays are omitted
    s_expect_json(s_parse(TEST_ALL, "{\"rInt32\":[],\"items\":[]}"), "{}");
}

//  Messages nested in messages, singular and repeated.
static void test_nested(void **state) {
    (void)state;
    const char *text = "{\"nested\":{\"value\":1,\"child\":{\"label\":\"deep\",\"child\":{}}},"
                       "\"items\":[{\"child\":{\"value\":2}}]}";
    Crm__Test__TestAll *all = s_parse_all(text);
    assert_string_equal(all->nested->child->label, "deep");
    assert_non_null(all->nested->child->child);
    assert_null(all->nested->child->child->child);
    assert_int_equal(all->items[0]->child->value, 2);
    s_expect_json(&all->base, text);
}

//  64-bit integers: strings on output, number or string on input, full range.
static void test_64bit(void **state) {
    (void)state;
    Crm__Test__TestAll *all = s_parse_all("{\"fInt64\":42,\"fUint64\":7}");
    assert_true(all->f_int64 == 42);
    s_expect_json(&all->base, "{\"fInt64\":\"42\",\"fUint64\":\"7\"}");

    all =
        s_parse_all("{\"fInt64\":-9223372036854775808,\"fSint64\":9223372036854775807,"
                    "\"fUint64\":\"18446744073709551615\",\"fFixed64\":\"18446744073709551615\"}");
    assert_true(all->f_int64 == INT64_MIN);
    assert_true(all->f_sint64 == INT64_MAX);
    assert_true(all->f_uint64 == UINT64_MAX);
    s_expect_json(&all->base, "{\"fInt64\":\"-9223372036854775808\","
                              "\"fSint64\":\"9223372036854775807\","
                              "\"fUint64\":\"18446744073709551615\","
                              "\"fFixed64\":\"18446744073709551615\"}");

    s_expect_error(TEST_ALL, "{\"fInt64\":\"9223372036854775808\"}", CRM_JSON_INVALID, "fInt64");
    s_expect_error(TEST_ALL, "{\"fInt64\":\"-9223372036854775809\"}", CRM_JSON_INVALID, "fInt64");
    s_expect_error(TEST_ALL, "{\"fUint64\":\"18446744073709551616\"}", CRM_JSON_INVALID, "fUint64");
    s_expect_error(TEST_ALL, "{\"fUint64\":-1}", CRM_JSON_INVALID, "fUint64");
    s_expect_error(TEST_ALL, "{\"fUint64\":\"-1\"}", CRM_JSON_INVALID, "fUint64");
    s_expect_error(TEST_ALL, "{\"fInt64\":\"12abc\"}", CRM_JSON_MALFORMED, "fInt64");
    s_expect_error(TEST_ALL, "{\"fInt64\":\" 12\"}", CRM_JSON_MALFORMED, "fInt64");
    s_expect_error(TEST_ALL, "{\"fInt64\":\"1.5\"}", CRM_JSON_INVALID, "fInt64");
    //  a JSON number beyond int64 cannot be exact: 422 naming the field
    s_expect_error(TEST_ALL, "{\"fString\":\"a\",\"fUint64\":18446744073709551615}",
                   CRM_JSON_INVALID, "fUint64");
    s_expect_error(TEST_ALL, "{\"rInt64\":[1,99999999999999999999]}", CRM_JSON_INVALID,
                   "rInt64[1]");
    //  ... but is fine for a double
    all = s_parse_all("{\"fDouble\":100000000000000000000,\"fInt32\":3}");
    assert_true(all->f_double == 1e20);
    assert_int_equal(all->f_int32, 3);
    s_expect_json(&all->base, "{\"fInt32\":3,\"fDouble\":1e20}");
}

//  32-bit ranges, fractions and whole reals.
static void test_integer_rules(void **state) {
    (void)state;
    s_expect_error(TEST_ALL, "{\"fInt32\":2147483648}", CRM_JSON_INVALID, "fInt32");
    s_expect_error(TEST_ALL, "{\"fSint32\":-2147483649}", CRM_JSON_INVALID, "fSint32");
    s_expect_error(TEST_ALL, "{\"fUint32\":4294967296}", CRM_JSON_INVALID, "fUint32");
    s_expect_error(TEST_ALL, "{\"fFixed32\":-1}", CRM_JSON_INVALID, "fFixed32");
    s_expect_error(TEST_ALL, "{\"fInt32\":1.5}", CRM_JSON_INVALID, "fInt32");
    s_expect_error(TEST_ALL, "{\"fInt64\":1.5}", CRM_JSON_INVALID, "fInt64");
    s_expect_error(TEST_ALL, "{\"fInt32\":1e10}", CRM_JSON_INVALID, "fInt32");
    s_expect_error(TEST_ALL, "{\"fFloat\":1e39}", CRM_JSON_INVALID, "fFloat");

    Crm__Test__TestAll *all =
        s_parse_all("{\"fInt32\":-2147483648,\"fSfixed32\":2.0,\"fUint32\":1e3,\"fSint32\":-0}");
    assert_int_equal(all->f_int32, INT32_MIN);
    assert_int_equal(all->f_sfixed32, 2);
    assert_int_equal(all->f_uint32, 1000);
    assert_int_equal(all->f_sint32, 0);
    s_expect_json(&all->base, "{\"fInt32\":-2147483648,\"fSfixed32\":2,\"fUint32\":1000}");
}

//  Floats and doubles: exact round trip, special values as strings.
static void test_floating_point(void **state) {
    (void)state;
    Crm__Test__TestAll *all =
        s_parse_all("{\"fFloat\":0.1,\"fDouble\":0.1,\"rFloat\":[\"NaN\",\"Infinity\"],"
                    "\"rDouble\":[\"-Infinity\",3,-0.0]}");
    assert_true(all->f_float == 0.1f);
    assert_true(all->f_double == 0.1);
    assert_true(isnan(all->r_float[0]));
    assert_true(isinf(all->r_float[1]) && all->r_float[1] > 0);
    assert_true(isinf(all->r_double[0]) && all->r_double[0] < 0);
    assert_true(all->r_double[1] == 3.0);
    assert_true(signbit(all->r_double[2]));
    char *text = crm_pb_to_json(&all->base);
    Crm__Test__TestAll *again = s_parse_all(text);
    assert_true(again->f_float == 0.1f);
    assert_true(again->f_double == 0.1);
    assert_non_null(strstr(text, "\"rFloat\":[\"NaN\",\"Infinity\"]"));
    assert_non_null(strstr(text, "\"rDouble\":[\"-Infinity\",3.0,-0.0]"));
    free(text);
    protobuf_c_message_free_unpacked(&again->base, NULL);
    protobuf_c_message_free_unpacked(&all->base, NULL);

    //  the largest float survives; other strings are refused
    all = s_parse_all("{\"fFloat\":3.4028234663852886e38}");
    assert_true(all->f_float == 3.4028234663852886e38f);
    text = crm_pb_to_json(&all->base);
    protobuf_c_message_free_unpacked(&all->base, NULL);
    all = s_parse_all(text);
    assert_true(all->f_float == 3.4028234663852886e38f);
    free(text);
    protobuf_c_message_free_unpacked(&all->base, NULL);
    //  -0.0 counts as the default, as protobuf-c does not put it on the wire either
    s_expect_json(s_parse(TEST_ALL, "{\"fDouble\":-0.0,\"fFloat\":-0.0}"), "{}");
    s_expect_error(TEST_ALL, "{\"fDouble\":\"1.5\"}", CRM_JSON_MALFORMED, "fDouble");
    s_expect_error(TEST_ALL, "{\"fFloat\":\"nan\"}", CRM_JSON_MALFORMED, "fFloat");
}

//  Unknown members are 422 and named by their full path.
static void test_unknown_fields(void **state) {
    (void)state;
    s_expect_error(TEST_ALL, "{\"bogus\":1}", CRM_JSON_INVALID, "bogus");
    s_expect_error(TEST_ALL, "{\"nested\":{\"bogus\":1}}", CRM_JSON_INVALID, "nested.bogus");
    s_expect_error(TEST_ALL, "{\"items\":[{},{},{\"bogus\":null}]}", CRM_JSON_INVALID,
                   "items[2].bogus");
    s_expect_error(TEST_ALL, "{\"nested\":{\"child\":{\"child\":{\"Value\":1}}}}", CRM_JSON_INVALID,
                   "nested.child.child.Value");

    //  a caller-given prefix is put in front of the path
    json_t *value = json_pack("{s:[{s:s},{s:i}]}", "items", "label", "a", "bogus", 1);
    crm_json_error_t err;
    assert_null(crm_json_value_to_pb(TEST_ALL, value, "contact", &err));
    assert_int_equal(err.status, CRM_JSON_INVALID);
    assert_string_equal(err.field, "contact.items[1].bogus");
    json_decref(value);
}

//  A value of the wrong JSON type is 400, with its path.
static void test_wrong_types(void **state) {
    (void)state;
    s_expect_error(TEST_ALL, "{\"fInt32\":\"5\"}", CRM_JSON_MALFORMED, "fInt32");
    s_expect_error(TEST_ALL, "{\"fString\":5}", CRM_JSON_MALFORMED, "fString");
    s_expect_error(TEST_ALL, "{\"fString\":[\"a\"]}", CRM_JSON_MALFORMED, "fString");
    s_expect_error(TEST_ALL, "{\"fBool\":\"true\"}", CRM_JSON_MALFORMED, "fBool");
    s_expect_error(TEST_ALL, "{\"fBool\":1}", CRM_JSON_MALFORMED, "fBool");
    s_expect_error(TEST_ALL, "{\"fDouble\":{}}", CRM_JSON_MALFORMED, "fDouble");
    s_expect_error(TEST_ALL, "{\"fBytes\":12}", CRM_JSON_MALFORMED, "fBytes");
    s_expect_error(TEST_ALL, "{\"rInt32\":{}}", CRM_JSON_MALFORMED, "rInt32");
    s_expect_error(TEST_ALL, "{\"rInt32\":5}", CRM_JSON_MALFORMED, "rInt32");
    s_expect_error(TEST_ALL, "{\"nested\":[]}", CRM_JSON_MALFORMED, "nested");
    s_expect_error(TEST_ALL, "{\"nested\":\"x\"}", CRM_JSON_MALFORMED, "nested");
    s_expect_error(TEST_ALL, "{\"rString\":[\"a\",1]}", CRM_JSON_MALFORMED, "rString[1]");
    s_expect_error(TEST_ALL, "{\"rString\":[\"a\",null]}", CRM_JSON_MALFORMED, "rString[1]");
    s_expect_error(TEST_ALL, "{\"items\":[{\"value\":1},{\"value\":\"x\"}]}", CRM_JSON_MALFORMED,
                   "items[1].value");
    s_expect_error(TEST_ALL, "{\"items\":[[]]}", CRM_JSON_MALFORMED, "items[0]");
    s_expect_error(TEST_ALL, "{\"counts\":[]}", CRM_JSON_MALFORMED, "counts");
}

//  Text that is not JSON, not UTF-8, or not an object is 400 at the root.
static void test_malformed_text(void **state) {
    (void)state;
    s_expect_error(TEST_ALL, "{", CRM_JSON_MALFORMED, "");
    s_expect_error(TEST_ALL, "", CRM_JSON_MALFORMED, "");
    s_expect_error(TEST_ALL, "{\"fInt32\":1} x", CRM_JSON_MALFORMED, "");
    s_expect_error(TEST_ALL, "{\"fString\":\"a\xff\"}", CRM_JSON_MALFORMED, "");
    s_expect_error(TEST_ALL, "{\"fString\":\"\xc0\xaf\"}", CRM_JSON_MALFORMED, "");
    s_expect_error(TEST_ALL, "{\"fString\":\"a\\u0000b\"}", CRM_JSON_MALFORMED, "");
    s_expect_error(TEST_ALL, "{\"fInt32\":1,\"fInt32\":2}", CRM_JSON_MALFORMED, "");
    s_expect_error(TEST_ALL, "[]", CRM_JSON_MALFORMED, "");
    s_expect_error(TEST_ALL, "[{\"fInt32\":1}]", CRM_JSON_MALFORMED, "");
    s_expect_error(TEST_ALL, "42", CRM_JSON_MALFORMED, "");
    s_expect_error(TEST_ALL, "null", CRM_JSON_MALFORMED, "");

    crm_json_error_t err;
    assert_null(crm_json_to_pb(TEST_ALL, NULL, 0, &err));
    assert_int_equal(err.status, CRM_JSON_MALFORMED);
    //  the length is honoured: the text need not be NUL-terminated
    Crm__Test__TestAll *all =
        (Crm__Test__TestAll *)crm_json_to_pb(TEST_ALL, "{\"fInt32\":7}garbage", 12, &err);
    assert_non_null(all);
    assert_int_equal(all->f_int32, 7);
    protobuf_c_message_free_unpacked(&all->base, NULL);
}

//  Values built in code are checked too: strings must be UTF-8 without NUL.
static void test_value_checks(void **state) {
    (void)state;
    crm_json_error_t err;
    json_t *value = json_object();
    json_object_set_new(value, "rString", json_pack("[s]", "ok"));
    json_array_append_new(json_object_get(value, "rString"), json_stringn_nocheck("a\xff", 2));
    assert_null(crm_json_value_to_pb(TEST_ALL, value, "", &err));
    assert_int_equal(err.status, CRM_JSON_MALFORMED);
    assert_string_equal(err.field, "rString[1]");
    json_decref(value);

    value = json_object();
    json_object_set_new(value, "fString", json_stringn("a\0b", 3));
    assert_null(crm_json_value_to_pb(TEST_ALL, value, "", &err));
    assert_int_equal(err.status, CRM_JSON_MALFORMED);
    assert_string_equal(err.field, "fString");
    json_decref(value);

    value = json_array();
    assert_null(crm_json_value_to_pb(TEST_ALL, value, "", &err));
    assert_int_equal(err.status, CRM_JSON_MALFORMED);
    assert_string_equal(err.field, "");
    json_decref(value);
}

//  null leaves a field at its default; unset proto3 strings keep protobuf-c's default.
static void test_nulls_and_defaults(void **state) {
    (void)state;
    Crm__Test__TestAll *all = s_parse_all("{\"fInt32\":null,\"fString\":null,\"nested\":null,"
                                          "\"rInt32\":null,\"colour\":null,\"counts\":null}");
    assert_int_equal(all->f_int32, 0);
    //  exactly the pointer protobuf_c_message_init leaves (free_unpacked skips it)
    assert_ptr_equal(all->f_string, crm__test__test_all__descriptor.fields[13].default_value);
    assert_string_equal(all->f_string, "");
    assert_null(all->nested);
    assert_int_equal(all->n_r_int32, 0);
    s_expect_json(&all->base, "{}");

    //  defaults are omitted, but a present (even empty) message is written
    s_expect_json(s_parse(TEST_ALL, "{\"fInt32\":0,\"fInt64\":\"0\",\"fFloat\":0,\"fBool\":false,"
                                    "\"fString\":\"\",\"fBytes\":\"\",\"colour\":\"unspecified\","
                                    "\"nested\":{},\"rString\":[],\"counts\":{}}"),
                  "{\"nested\":{}}");
}

//  Fields with explicit presence (has_ flag, proto2 / proto3 optional) keep it.
static void test_presence(void **state) {
    (void)state;
    presence_t *presence = (presence_t *)s_parse(&s_presence_descriptor, "{}");
    assert_false(presence->has_opt_int32);
    assert_null(presence->opt_string);
    assert_ptr_equal(presence->greeting, s_greeting_default);
    //  required fields are always written; unset optional ones never
    s_expect_json(&presence->base, "{\"reqInt32\":0}");

    presence = (presence_t *)s_parse(&s_presence_descriptor,
                                     "{\"optInt32\":0,\"optString\":\"\",\"greeting\":\"hello\"}");
    assert_true(presence->has_opt_int32);
    assert_int_equal(presence->opt_int32, 0);
    assert_string_equal(presence->opt_string, "");
    assert_ptr_not_equal(presence->greeting, s_greeting_default);
    s_expect_json(&presence->base,
                  "{\"optInt32\":0,\"optString\":\"\",\"reqInt32\":0,\"greeting\":\"hello\"}");

    //  setting a field again replaces (and frees) the previous value, never the default
    presence = (presence_t *)s_parse(&s_presence_descriptor, "{}");
    crm_json_error_t err;
    json_t *text = json_string("bye");
    assert_int_equal(crm_json_set_field(&presence->base, "greeting", text, 1, &err), 0);
    assert_int_equal(crm_json_set_field(&presence->base, "greeting", text, 1, &err), 0);
    json_decref(text);
    assert_string_equal(presence->greeting, "bye");
    s_expect_json(&presence->base, "{\"reqInt32\":0,\"greeting\":\"bye\"}");
}

//  oneof: the set member is written even when it holds the default; two members are 422.
static void test_oneof(void **state) {
    (void)state;
    Crm__Test__TestAll *all = s_parse_all("{\"choiceText\":\"\"}");
    assert_int_equal(all->choice_case, CRM__TEST__TEST_ALL__CHOICE_CHOICE_TEXT);
    assert_string_equal(all->choice_text, "");
    s_expect_json(&all->base, "{\"choiceText\":\"\"}");

    s_expect_round_trip("{\"choiceNumber\":\"0\"}");
    s_expect_round_trip("{\"choiceNested\":{}}");
    s_expect_round_trip("{\"choiceColour\":\"unspecified\"}");
    s_expect_json(s_parse(TEST_ALL, "{\"choiceText\":null,\"choiceNumber\":5}"),
                  "{\"choiceNumber\":\"5\"}");
    s_expect_error(TEST_ALL, "{\"choiceText\":\"a\",\"choiceNumber\":5}", CRM_JSON_INVALID,
                   "choiceNumber");
    s_expect_error(TEST_ALL, "{\"choiceNested\":{\"label\":\"x\"},\"choiceText\":\"a\"}",
                   CRM_JSON_INVALID, "choiceText");

    //  as on the wire, a oneof string left at protobuf-c's default pointer is unset
    Crm__Test__TestAll built = CRM__TEST__TEST_ALL__INIT;
    built.choice_case = CRM__TEST__TEST_ALL__CHOICE_CHOICE_TEXT;
    built.choice_text = (char *)protobuf_c_empty_string;
    char *text = crm_pb_to_json(&built.base);
    assert_string_equal(text, "{}");
    free(text);

    //  crm_json_set_field switches the member, freeing the old one
    all = s_parse_all("{\"choiceNested\":{\"label\":\"x\"}}");
    crm_json_error_t err;
    json_t *value = json_string("hi");
    assert_int_equal(crm_json_set_field(&all->base, "choiceText", value, 0, &err), 0);
    json_decref(value);
    assert_int_equal(all->choice_case, CRM__TEST__TEST_ALL__CHOICE_CHOICE_TEXT);
    value = json_integer(12);
    assert_int_equal(crm_json_set_field(&all->base, "choice_number", value, 0, &err), 0);
    json_decref(value);
    s_expect_json(&all->base, "{\"choiceNumber\":\"12\"}");
}

//  bytes: base64 in (standard or url-safe, padding optional), standard padded out.
static void test_bytes(void **state) {
    (void)state;
    const char *inputs[] = {"\"+/8=\"", "\"-_8=\"", "\"-_8\""};
    for (size_t i = 0; i < 3; i++) {
        char text[64];
        snprintf(text, sizeof(text), "{\"fBytes\":%s}", inputs[i]);
        Crm__Test__TestAll *all = s_parse_all(text);
        assert_int_equal(all->f_bytes.len, 2);
        assert_memory_equal(all->f_bytes.data, "\xfb\xff", 2);
        s_expect_json(&all->base, "{\"fBytes\":\"+/8=\"}");
    }
    s_expect_round_trip("{\"fBytes\":\"aGVsbG8gd29ybGQ=\"}");
    s_expect_round_trip("{\"fBytes\":\"AAAA\"}");
    //  not base64: 400, the value cannot be read
    s_expect_error(TEST_ALL, "{\"fBytes\":\"!!!!\"}", CRM_JSON_MALFORMED, "fBytes");
    s_expect_error(TEST_ALL, "{\"fBytes\":\"A\"}", CRM_JSON_MALFORMED, "fBytes");
    s_expect_error(TEST_ALL, "{\"fBytes\":\"AA=A\"}", CRM_JSON_MALFORMED, "fBytes");
    s_expect_error(TEST_ALL, "{\"fBytes\":\"AA===\"}", CRM_JSON_MALFORMED, "fBytes");
    s_expect_error(TEST_ALL, "{\"rBytes\":[\"AA==\",\"A A=\"]}", CRM_JSON_MALFORMED, "rBytes[1]");
}

//  map<K,V> fields are JSON objects keyed by the key's text.
static void test_maps(void **state) {
    (void)state;
    const char *text = "{\"counts\":{\"a\":1,\"b\":0},\"byId\":{\"42\":{\"value\":1},\"-7\":{}},"
                       "\"flags\":{\"true\":\"red\"}}";
    Crm__Test__TestAll *all = s_parse_all(text);
    assert_int_equal(all->n_counts, 2);
    assert_string_equal(all->counts[0]->key, "a");
    assert_int_equal(all->counts[0]->value, 1);
    assert_int_equal(all->n_by_id, 2);
    assert_true(all->by_id[0]->key == 42);
    assert_int_equal(all->by_id[0]->value->value, 1);
    assert_true(all->by_id[1]->key == -7);
    assert_true(all->flags[0]->key);
    s_expect_json(&all->base, text);

    s_expect_error(TEST_ALL, "{\"byId\":{\"1\":{},\"x\":{}}}", CRM_JSON_MALFORMED, "byId.x");
    s_expect_error(TEST_ALL, "{\"counts\":{\"a\":\"1\"}}", CRM_JSON_MALFORMED, "counts.a");
    s_expect_error(TEST_ALL, "{\"byId\":{\"1\":{\"bogus\":1}}}", CRM_JSON_INVALID, "byId.1.bogus");
    s_expect_error(TEST_ALL, "{\"flags\":{\"yes\":\"red\"}}", CRM_JSON_MALFORMED, "flags.yes");
}

//  Messages nested deeper than CRM_JSON_MAX_DEPTH are refused before recursion runs away.
static void test_depth_limit(void **state) {
    (void)state;
    char text[4096] = "{\"nested\":";
    for (int i = 0; i < 70; i++)
        strcat(text, "{\"child\":");
    strcat(text, "{}");
    for (int i = 0; i < 71; i++)
        strcat(text, "}");
    crm_json_error_t err;
    assert_null(crm_json_to_pb(TEST_ALL, text, strlen(text), &err));
    assert_int_equal(err.status, CRM_JSON_MALFORMED);
    assert_non_null(strstr(err.field, "nested.child.child"));

    //  within the limit: fine
    strcpy(text, "{\"nested\":");
    for (int i = 0; i < CRM_JSON_MAX_DEPTH - 3; i++)
        strcat(text, "{\"child\":");
    strcat(text, "{}");
    for (int i = 0; i < CRM_JSON_MAX_DEPTH - 2; i++)
        strcat(text, "}");
    s_expect_round_trip(text);
}

//  Errors on the way free everything built so far (run under ASan/LSan).
static void test_error_frees_partial(void **state) {
    (void)state;
    s_expect_error(TEST_ALL,
                   "{\"fString\":\"x\",\"fBytes\":\"AQ==\",\"rString\":[\"a\",\"b\"],"
                   "\"items\":[{\"label\":\"q\",\"child\":{\"label\":\"r\"}}],"
                   "\"nested\":{\"label\":\"z\"},\"counts\":{\"k\":1},\"choiceText\":\"c\","
                   "\"rBytes\":[\"AA==\",\"A\"]}",
                   CRM_JSON_MALFORMED, "rBytes[1]");
    s_expect_error(
        TEST_ALL,
        "{\"fString\":\"x\",\"rString\":[\"a\",\"b\"],\"choiceNested\":{\"label\":\"l\"},"
        "\"items\":[{\"label\":\"q\"},{\"child\":{\"label\":\"r\",\"value\":\"bad\"}}]}",
        CRM_JSON_MALFORMED, "items[1].child.value");
    s_expect_error(TEST_ALL,
                   "{\"counts\":{\"a\":1,\"b\":2},\"byId\":{\"3\":{\"label\":\"x\"},"
                   "\"4\":{\"label\":7}}}",
                   CRM_JSON_MALFORMED, "byId.4.label");
}

//  crm_json_set_field: URL parameters parsed from text; repeated fields append.
static void test_set_field(void **state) {
    (void)state;
    Crm__Test__TestAll *all = s_parse_all("{}");
    ProtobufCMessage *msg = &all->base;
    crm_json_error_t err;
    struct {
        const char *name, *text;
    } ok[] = {{"fInt32", "42"},        {"f_uint32", "7"},
              {"fInt64", "-5"},        {"fBool", "true"},
              {"colour", "DARK_BLUE"}, {"fDouble", "2.5"},
              {"fFloat", "-1e2"},      {"fString", "h\xc3\xa9"},
              {"fBytes", "AQI="},      {"rString", "a"},
              {"rString", "b"},        {"rInt32", "-3"},
              {"rColour", "1"},        {"fUint64", "18446744073709551615"}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        json_t *value = json_string(ok[i].text);
        assert_int_equal(crm_json_set_field(msg, ok[i].name, value, 1, &err), 0);
        json_decref(value);
    }
    assert_int_equal(all->f_int32, 42);
    assert_int_equal(all->colour, CRM__TEST__COLOUR__COLOUR_DARK_BLUE);
    assert_int_equal(all->n_r_string, 2);
    assert_string_equal(all->r_string[1], "b");

    struct {
        const char *name, *text;
        crm_json_status_t status;
    } bad[] = {{"fInt32", "abc", CRM_JSON_MALFORMED},       {"fInt32", "", CRM_JSON_MALFORMED},
               {"fInt32", "99999999999", CRM_JSON_INVALID}, {"fInt32", "1.5", CRM_JSON_INVALID},
               {"fBool", "yes", CRM_JSON_MALFORMED},        {"colour", "green", CRM_JSON_INVALID},
               {"fDouble", "1,5", CRM_JSON_MALFORMED},      {"fBytes", "*", CRM_JSON_MALFORMED},
               {"nested", "{}", CRM_JSON_MALFORMED},        {"rInt32", "x", CRM_JSON_MALFORMED},
               {"noSuchField", "1", CRM_JSON_INVALID}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *value = json_string(bad[i].text);
        assert_int_equal(crm_json_set_field(msg, bad[i].name, value, 1, &err), -1);
        assert_int_equal(err.status, bad[i].status);
        assert_string_equal(err.field, bad[i].name);
        json_decref(value);
    }

    //  without from_text a JSON value is taken as in a body; null changes nothing
    json_t *value = json_pack("[s,s]", "c", "d");
    assert_int_equal(crm_json_set_field(msg, "rString", value, 0, &err), 0);
    json_decref(value);
    assert_int_equal(crm_json_set_field(msg, "fInt32", json_null(), 1, &err), 0);
    value = json_pack("{s:i}", "value", 5);
    assert_int_equal(crm_json_set_field(msg, "nested", value, 0, &err), 0);
    json_decref(value);
    //  a failing append leaves the field as it was
    value = json_pack("[s,i]", "e", 1);
    assert_int_equal(crm_json_set_field(msg, "rString", value, 0, &err), -1);
    assert_string_equal(err.field, "rString[1]");
    json_decref(value);
    assert_int_equal(all->n_r_string, 4);

    s_expect_json(msg, "{\"fInt32\":42,\"fUint32\":7,\"fInt64\":\"-5\","
                       "\"fUint64\":\"18446744073709551615\",\"fFloat\":-100.0,\"fDouble\":2.5,"
                       "\"fBool\":true,\"fString\":\"h\xc3\xa9\",\"fBytes\":\"AQI=\","
                       "\"colour\":\"dark_blue\",\"nested\":{\"value\":5},\"rInt32\":[-3],"
                       "\"rString\":[\"a\",\"b\",\"c\",\"d\"],\"rColour\":[\"red\"]}");
}

//  Enum name helpers, including enums whose values do not carry the type's name.
static void test_enum_helpers(void **state) {
    (void)state;
    char name[32];
    assert_int_equal(crm_enum_json_name(&crm__test__colour__descriptor, 2, name, sizeof(name)), 0);
    assert_string_equal(name, "dark_blue");
    assert_int_equal(crm_enum_json_name(&crm__test__colour__descriptor, 0, name, sizeof(name)), 0);
    assert_string_equal(name, "unspecified");
    assert_int_equal(crm_enum_json_name(&crm__test__colour__descriptor, 3, name, sizeof(name)), -1);
    assert_int_equal(crm_enum_json_name(&crm__test__colour__descriptor, 2, name, 9), -1);
    assert_int_equal(crm_enum_json_name(&crm__contacts__contact_source__descriptor,
                                        CRM__CONTACTS__CONTACT_SOURCE__CONTACT_SOURCE_THIRD_PARTY,
                                        name, sizeof(name)),
                     0);
    assert_string_equal(name, "third_party");
    assert_int_equal(crm_enum_json_name(&s_role_descriptor, 1, name, sizeof(name)), 0);
    assert_string_equal(name, "sales_rep");
    assert_int_equal(crm_enum_json_name(&s_level_descriptor, 1, name, sizeof(name)), 0);
    assert_string_equal(name, "high");

    int value = -1;
    assert_int_equal(crm_enum_parse(&crm__test__colour__descriptor, "red", &value), 0);
    assert_int_equal(value, 1);
    assert_int_equal(crm_enum_parse(&crm__test__colour__descriptor, "COLOUR_DARK_BLUE", &value), 0);
    assert_int_equal(value, 2);
    assert_int_equal(crm_enum_parse(&crm__test__colour__descriptor, "Colour_Red", &value), 0);
    assert_int_equal(value, 1);
    assert_int_equal(crm_enum_parse(&crm__test__colour__descriptor, "0", &value), 0);
    assert_int_equal(value, 0);
    assert_int_equal(crm_enum_parse(&crm__test__colour__descriptor, "3", &value), -1);
    assert_int_equal(crm_enum_parse(&crm__test__colour__descriptor, "blue", &value), -1);
    assert_int_equal(crm_enum_parse(&crm__test__colour__descriptor, "COLOUR_", &value), -1);
    assert_int_equal(crm_enum_parse(&s_level_descriptor, "Low", &value), 0);
    assert_int_equal(value, 0);
    assert_int_equal(crm_enum_parse(&s_role_descriptor, "admin", &value), 0);
    assert_int_equal(value, 0);
}

//  Field lookup by json or proto name.
static void test_field_by_name(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *desc = &crm__contacts__contact__descriptor;
    assert_string_equal(crm_pb_field_by_name(desc, "firstName")->name, "first_name");
    assert_string_equal(crm_pb_field_by_name(desc, "first_name")->name, "first_name");
    assert_string_equal(crm_pb_field_by_name(desc, "id")->name, "id");
    assert_null(crm_pb_field_by_name(desc, "FirstName"));
    assert_null(crm_pb_field_by_name(desc, "firstname"));
    assert_null(crm_pb_field_by_name(desc, ""));
}

//  Strings that are not UTF-8 (protobuf-c does not check on unpack) still render.
static void test_render_bad_utf8(void **state) {
    (void)state;
    Crm__Test__TestAll all = CRM__TEST__TEST_ALL__INIT;
    char bad[] = "a\xff"
                 "b\xe2\x82";
    all.f_string = bad;
    char *text = crm_pb_to_json(&all.base);
    assert_string_equal(text, "{\"fString\":\"a\xef\xbf\xbd"
                              "b\xef\xbf\xbd\xef\xbf\xbd\"}");
    free(text);
}

//  The real contacts message, as the gateway uses it for POST /v1/contacts.
static void test_contacts_message(void **state) {
    (void)state;
    const char *text = "{\"kind\":\"person\",\"firstName\":\"Ann\",\"lastName\":\"Lee\","
                       "\"emails\":[{\"address\":\"ann@example.com\"}],"
                       "\"phones\":[{\"number\":\"(202) 555-0142\",\"type\":\"mobile\","
                       "\"sms\":true}],\"source\":\"walk_in\"}";
    Crm__Contacts__Contact *contact =
        (Crm__Contacts__Contact *)s_parse(&crm__contacts__contact__descriptor, text);
    assert_int_equal(contact->kind, CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_PERSON);
    assert_int_equal(contact->type, CRM__CONTACTS__CONTACT_TYPE__CONTACT_TYPE_UNSPECIFIED);
    assert_string_equal(contact->first_name, "Ann");
    assert_string_equal(contact->last_name, "Lee");
    assert_string_equal(contact->id, "");
    assert_int_equal(contact->n_emails, 1);
    assert_string_equal(contact->emails[0]->address, "ann@example.com");
    assert_false(contact->emails[0]->primary);
    assert_int_equal(contact->n_phones, 1);
    assert_string_equal(contact->phones[0]->number, "(202) 555-0142");
    assert_int_equal(contact->phones[0]->type, CRM__CONTACTS__PHONE_TYPE__PHONE_TYPE_MOBILE);
    assert_true(contact->phones[0]->sms);
    assert_int_equal(contact->source, CRM__CONTACTS__CONTACT_SOURCE__CONTACT_SOURCE_WALK_IN);
    assert_int_equal(contact->n_tags, 0);

    //  the protobuf round trip agrees
    size_t size = protobuf_c_message_get_packed_size(&contact->base);
    uint8_t *wire = malloc(size);
    protobuf_c_message_pack(&contact->base, wire);
    Crm__Contacts__Contact *unpacked = crm__contacts__contact__unpack(NULL, size, wire);
    free(wire);
    char *from_wire = crm_pb_to_json(&unpacked->base);
    crm__contacts__contact__free_unpacked(unpacked, NULL);

    s_expect_json(&contact->base, text);
    assert_string_equal(from_wire, text);
    free(from_wire);

    s_expect_error(&crm__contacts__contact__descriptor,
                   "{\"phones\":[{\"number\":\"1\"},{\"type\":\"fax\"}]}", CRM_JSON_INVALID,
                   "phones[1].type");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_round_trip),
        cmocka_unit_test(test_proto_names),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_repeated),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_64bit),
        cmocka_unit_test(test_integer_rules),
        cmocka_unit_test(test_floating_point),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_malformed_text),
        cmocka_unit_test(test_value_checks),
        cmocka_unit_test(test_nulls_and_defaults),
        cmocka_unit_test(test_presence),
        cmocka_unit_test(test_oneof),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_maps),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_error_frees_partial),
        cmocka_unit_test(test_set_field),
        cmocka_unit_test(test_enum_helpers),
        cmocka_unit_test(test_field_by_name),
        cmocka_unit_test(test_render_bad_utf8),
        cmocka_unit_test(test_contacts_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
