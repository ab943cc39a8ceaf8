/*  Unit tests of scrub: personal data out of a message, record data kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "events.pb-c.h"
#include "json_pb.h"
#include "scrub.h"

static ProtobufCMessage *s_parse(const ProtobufCMessageDescriptor *desc, const char *json) {
    crm_json_error_t err;
    ProtobufCMessage *msg = crm_json_to_pb(desc, json, strlen(json), &err);
    assert_non_null(msg);
    return msg;
}

static void test_contact_event(void **state) {
    (void)state;
    ProtobufCMessage *msg = s_parse(
        &crm__events__contact_updated__descriptor,
        "{\"contact\":{\"id\":\"0190a5b2-0000-7000-8000-000000000001\",\"kind\":\"person\","
        "\"type\":\"customer\",\"firstName\":\"Ann\",\"lastName\":\"Lee\",\"name\":\"Ann Lee\","
        "\"emails\":[{\"address\":\"ann@example.com\",\"primary\":true}],"
        "\"phones\":[{\"number\":\"+12025550142\",\"sms\":true}],\"source\":\"web\","
        "\"tags\":[\"VIP\"],\"dateOfBirth\":\"1980-01-02\",\"discountPercent\":5,"
        "\"organization\":{\"id\":\"0190a5b2-0000-7000-8000-000000000002\",\"role\":\"buyer\"},"
        "\"vehicles\":[{\"relation\":\"trade_in\",\"year\":2012,\"vin\":\"1HGCM82633A004352\"}],"
        "\"customFields\":{\"nickname\":\"Annie\"},\"createdAt\":\"2026-01-01T00:00:00Z\"},"
        "\"changed\":[\"firstName\"],\"actorId\":\"sam\"}");
    crm_pb_scrub(msg);
    char *json = crm_pb_to_json(msg);
    //  Kept: ids, kind, type, source, tags, times, changed, numbers, enums, booleans.
    const char *kept[] = {"0190a5b2-0000-7000-8000-000000000001", "\"person\"", "\"customer\"",
                          "\"web\"", "\"VIP\"", "2026-01-01T00:00:00Z", "\"firstName\"",
                          "\"sam\"", "0190a5b2-0000-7000-8000-000000000002", "2012",
                          "\"trade_in\"", "\"primary\":true", "\"sms\":true"};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        if (!strstr(json, kept[i]))
            fail_msg("%s lost from %s", kept[i], json);
    //  Gone: names, addresses, numbers, birth date, role, VIN, custom values.
    const char *gone[] = {"Ann", "Lee", "ann@example.com", "+12025550142", "1980-01-02",
                          "buyer", "1HGCM82633A004352", "Annie", "nickname"};
    for (size_t i = 0; i < sizeof gone / sizeof *gone; i++)
        if (strstr(json, gone[i]))
            fail_msg("%s still in %s", gone[i], json);
    free(json);
    protobuf_c_message_free_unpacked(msg, NULL);
}

static void test_note_event(void **state) {
    (void)state;
    ProtobufCMessage *msg =
        s_parse(&crm__events__contact_note_added__descriptor,
                "{\"contactId\":\"c1\",\"noteId\":\"n1\",\"authorId\":\"sam\","
                "\"body\":\"Lives at 1 Main St, call after 6\",\"mentions\":[\"kim\"]}");
    crm_pb_scrub(msg);
    Crm__Events__ContactNoteAdded *note = (Crm__Events__ContactNoteAdded *)msg;
    assert_string_equal(note->contact_id, "c1");
    assert_string_equal(note->note_id, "n1");
    assert_string_equal(note->author_id, "sam");
    assert_string_equal(note->body, "");
    assert_int_equal(note->n_mentions, 0);
    //  Scrubbing twice is harmless, and the message still packs.
    crm_pb_scrub(msg);
    assert_true(protobuf_c_message_get_packed_size(msg) > 0);
    protobuf_c_message_free_unpacked(msg, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contact_event),
        cmocka_unit_test(test_note_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
