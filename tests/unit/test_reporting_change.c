/*  Unit tests for the projection's rules (services/reporting/change.c): which contacts
    events and snapshot items become a contact's state, and what that state is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../services/reporting/reporting.h"
#include "contacts.pb-c.h"
#include "events.pb-c.h"

#define S_ID "0190a5e2-7c1f-7d2e-9a4b-1c2d3e4f5a6b"

//  An envelope of type carrying payload (packed), seq 7, tenant acme.
static Crm__Event *s_event_new(const char *type, const ProtobufCMessage *payload) {
    Crm__Event *event = calloc(1, sizeof *event);
    crm__event__init(event);
    event->type = strdup(type);
    event->source = strdup("contacts");
    event->tenant_id = strdup("acme");
    event->occurred_at = strdup("2026-11-22T08:30:00.000000Z");
    event->seq = 7;
    event->payload.len = protobuf_c_message_get_packed_size(payload);
    event->payload.data = malloc(event->payload.len + 1);
    protobuf_c_message_pack(payload, event->payload.data);
    return event;
}

static void test_created_contact_is_its_state(void **state) {
    (void)state;
    Crm__Contacts__Contact contact = CRM__CONTACTS__CONTACT__INIT;
    contact.id = S_ID;
    contact.created_at = "2026-11-20T23:59:59.999999Z";
    contact.type = CRM__CONTACTS__CONTACT_TYPE__CONTACT_TYPE_CUSTOMER;
    contact.source = CRM__CONTACTS__CONTACT_SOURCE__CONTACT_SOURCE_WALK_IN;
    Crm__Events__ContactCreated created = CRM__EVENTS__CONTACT_CREATED__INIT;
    created.contact = &contact;
    Crm__Event *event = s_event_new("ContactCreated", &created.base);
    reporting_change_t change;
    assert_int_equal(reporting_change_from_event(event, &change), 1);
    assert_string_equal(change.tenant_id, "acme");
    assert_string_equal(change.contact_id, S_ID);
    assert_string_equal(change.day, "2026-11-20");  // the contact's creation, not the event's
    assert_string_equal(change.type, "customer");
    assert_string_equal(change.source, "walk_in");
    assert_true(change.state_known);
    assert_false(change.deleted);
    assert_int_equal(change.seq, 7);
    crm__event__free_unpacked(event, NULL);
}

static void test_deletion_alone(void **state) {
    (void)state;
    Crm__Events__ContactDeleted deleted = CRM__EVENTS__CONTACT_DELETED__INIT;
    deleted.contact_id = S_ID;
    Crm__Event *event = s_event_new("ContactDeleted", &deleted.base);
    reporting_change_t change;
    assert_int_equal(reporting_change_from_event(event, &change), 1);
    assert_true(change.deleted);
    assert_false(change.state_known);  // day, source and type are not in the event
    assert_string_equal(change.contact_id, S_ID);
    crm__event__free_unpacked(event, NULL);
}

static void test_other_and_unreadable_events(void **state) {
    (void)state;
    Crm__Events__ContactDeleted deleted = CRM__EVENTS__CONTACT_DELETED__INIT;
    deleted.contact_id = S_ID;
    reporting_change_t change;
    //  An event reporting does not follow: ignored.
    Crm__Event *event = s_event_new("ContactNoteAdded", &deleted.base);
    assert_int_equal(reporting_change_from_event(event, &change), 0);
    crm__event__free_unpacked(event, NULL);
    //  A deletion of something that is not a contact id: skipped as unreadable.
    deleted.contact_id = "not-a-uuid";
    event = s_event_new("ContactDeleted", &deleted.base);
    assert_int_equal(reporting_change_from_event(event, &change), -1);
    crm__event__free_unpacked(event, NULL);
    //  A created event without its contact: unreadable.
    Crm__Events__ContactCreated created = CRM__EVENTS__CONTACT_CREATED__INIT;
    event = s_event_new("ContactCreated", &created.base);
    assert_int_equal(reporting_change_from_event(event, &change), -1);
    crm__event__free_unpacked(event, NULL);
}

static void test_snapshot_item(void **state) {
    (void)state;
    Crm__Contacts__SnapshotItem item = CRM__CONTACTS__SNAPSHOT_ITEM__INIT;
    item.tenant_id = "acme";
    item.id = S_ID;
    item.created_at = "2026-11-21T10:00:00Z";
    item.type = "prospect";
    item.source = "web";
    item.deleted = true;
    reporting_change_t change;
    assert_int_equal(reporting_change_from_snapshot(&item, &change), 0);
    assert_string_equal(change.day, "2026-11-21");
    assert_string_equal(change.type, "prospect");
    assert_true(change.deleted);
    assert_true(change.state_known);
    assert_int_equal(change.seq, 0);
    item.created_at = "yesterday";
    assert_int_equal(reporting_change_from_snapshot(&item, &change), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_created_contact_is_its_state),
        cmocka_unit_test(test_deletion_alone),
        cmocka_unit_test(test_other_and_unreadable_events),
        cmocka_unit_test(test_snapshot_item),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
