/*  libFuzzer target for json_pb: arbitrary bytes as a JSON request body.

    For TestAll (every field kind) and the real crm.contacts.Contact: parsing either
    fails cleanly or gives a message that renders to JSON which parses again and renders
    to the same text, and survives a protobuf pack/unpack unchanged. The first byte
    also picks a TestAll field that the rest is set into as URL text.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contacts.pb-c.h"
#include "json_pb.h"
#include "test_types.pb-c.h"

//  Stop the fuzzer with a message when an invariant breaks.
static void s_check(int condition, const char *what, const char *text) {
    if (!condition) {
        fprintf(stderr, "invariant broken: %s\n%s\n", what, text ? text : "(null)");
        abort();
    }
}

//  Render msg, read the text back, render again: same text; and the same after the
//  protobuf wire format. Frees msg.
static void s_check_round_trip(ProtobufCMessage *msg) {
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    s_check(protobuf_c_message_check(msg), "message fails protobuf_c_message_check", NULL);
    char *text = crm_pb_to_json(msg);
    s_check(text != NULL, "rendering failed", NULL);

    crm_json_error_t err;
    ProtobufCMessage *again = crm_json_to_pb(desc, text, strlen(text), &err);
    if (!again)
        fprintf(stderr, "error %d at '%s': %s\n", err.status, err.field, err.message);
    s_check(again != NULL, "rendered JSON does not parse", text);
    char *text_again = crm_pb_to_json(again);
    s_check(text_again && strcmp(text, text_again) == 0, "second rendering differs", text_again);

    size_t size = protobuf_c_message_get_packed_size(again);
    uint8_t *wire = malloc(size ? size : 1);
    s_check(wire != NULL, "out of memory", NULL);
    protobuf_c_message_pack(again, wire);
    ProtobufCMessage *unpacked = protobuf_c_message_unpack(desc, NULL, size, wire);
    s_check(unpacked != NULL, "packed message does not unpack", text);
    char *text_wire = crm_pb_to_json(unpacked);
    s_check(text_wire && strcmp(text, text_wire) == 0, "rendering after the wire differs",
            text_wire);

    free(text_wire);
    protobuf_c_message_free_unpacked(unpacked, NULL);
    free(wire);
    free(text_again);
    protobuf_c_message_free_unpacked(again, NULL);
    free(text);
    protobuf_c_message_free_unpacked(msg, NULL);
}

static void s_parse(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size) {
    crm_json_error_t err;
    ProtobufCMessage *msg = crm_json_to_pb(desc, (const char *)data, size, &err);
    if (msg) {
        s_check(err.status == CRM_JSON_OK, "message returned with an error", NULL);
        s_check_round_trip(msg);
    } else {
        s_check(err.status == CRM_JSON_MALFORMED || err.status == CRM_JSON_INVALID ||
                    err.status == CRM_JSON_NO_MEMORY,
                "failure without a status", NULL);
        s_check(memchr(err.field, 0, sizeof(err.field)) &&
                    memchr(err.message, 0, sizeof(err.message)),
                "unterminated error text", NULL);
        json_t *field = json_string(err.field), *message = json_string(err.message);
        s_check(field && message, "error text is not UTF-8", err.field);
        json_decref(field);
        json_decref(message);
    }
}

//  Set one TestAll field from URL text (the rest of the input after the first byte).
static void s_set_from_text(const uint8_t *data, size_t size) {
    if (size < 1)
        return;
    const ProtobufCMessageDescriptor *desc = &crm__test__test_all__descriptor;
    const ProtobufCFieldDescriptor *field = &desc->fields[data[0] % desc->n_fields];
    ProtobufCMessage *msg = malloc(desc->sizeof_message);
    s_check(msg != NULL, "out of memory", NULL);
    protobuf_c_message_init(desc, msg);
    json_t *value = json_stringn_nocheck((const char *)data + 1, size - 1);
    crm_json_error_t err;
    for (int i = 0; value && i < 2; i++) // twice: replace or append
        if (crm_json_set_field(msg, field->name, value, 1, &err) != 0)
            s_check(err.status != CRM_JSON_OK, "failure without a status", NULL);
    json_decref(value);
    s_check_round_trip(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    s_parse(&crm__test__test_all__descriptor, data, size);
    s_parse(&crm__contacts__contact__descriptor, data, size);
    s_set_from_text(data, size);
    return 0;
}
