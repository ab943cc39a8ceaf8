/*  Unit tests for the rules of the leads service's events on contacts
    (services/contacts/lifecycle.c): what each event changes, and at what time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../services/contacts/contacts.h"

#define CONTACT "0190a5a0-0000-7000-8000-000000000001"
#define OCCURRED "2026-11-20T14:05:00.000000Z"

//  An envelope of type around payload (packed here; free data after).
static Crm__Event s_event(const char *type, const ProtobufCMessage *payload, uint8_t **data) {
    Crm__Event event = CRM__EVENT__INIT;
    event.type = (char *)type;
    event.tenant_id = "t1";
    event.occurred_at = OCCURRED;
    size_t size = protobuf_c_message_get_packed_size(payload);
    *data = malloc(size + 1);
    protobuf_c_message_pack(payload, *data);
    event.payload.data = *data;
    event.payload.len = size;
    return event;
}

//  A won lead makes a customer, in the closer's name, at the time it closed.
static void test_lifecycle_won(void **state) {
    (void)state;
    Crm__Events__LeadWon won = CRM__EVENTS__LEAD_WON__INIT;
    won.contact_id = CONTACT;
    won.lead_id = "lead-1";
    won.actor_id = "sam";
    won.closed_at = "2026-11-19T10:00:00.000000Z";
    uint8_t *data;
    Crm__Event event = s_event("LeadWon", &won.base, &data);
    contacts_lifecycle_change_t change;
    assert_int_equal(contacts_lifecycle_read(&event, &change), 0);
    assert_int_equal(change.kind, CONTACTS_LIFECYCLE_WON);
    assert_string_equal(change.contact_id, CONTACT);
    assert_string_equal(change.actor, "sam");
    assert_string_equal(change.at, "2026-11-19T10:00:00.000000Z");
    contacts_lifecycle_change_reset(&change);
    free(data);
    //  No closer, no close time: the system, at the event's time.
    won.actor_id = "";
    won.closed_at = "";
    event = s_event("LeadWon", &won.base, &data);
    assert_int_equal(contacts_lifecycle_read(&event, &change), 0);
    assert_string_equal(change.actor, "system:lifecycle");
    assert_string_equal(change.at, OCCURRED);
    contacts_lifecycle_change_reset(&change);
    free(data);
}

//  Leads created count up and are activity; deleted ones count down and are not.
static void test_lifecycle_counts(void **state) {
    (void)state;
    Crm__Leads__Lead lead = CRM__LEADS__LEAD__INIT;
    lead.contact_id = CONTACT;
    Crm__Events__LeadCreated created = CRM__EVENTS__LEAD_CREATED__INIT;
    created.lead = &lead;
    uint8_t *data;
    Crm__Event event = s_event("LeadCreated", &created.base, &data);
    contacts_lifecycle_change_t change;
    assert_int_equal(contacts_lifecycle_read(&event, &change), 0);
    assert_int_equal(change.kind, CONTACTS_LIFECYCLE_COUNT);
    assert_int_equal(change.delta, 1);
    assert_string_equal(change.at, OCCURRED);
    contacts_lifecycle_change_reset(&change);
    free(data);

    Crm__Events__LeadDeleted deleted = CRM__EVENTS__LEAD_DELETED__INIT;
    deleted.contact_id = CONTACT;
    event = s_event("LeadDeleted", &deleted.base, &data);
    assert_int_equal(contacts_lifecycle_read(&event, &change), 0);
    assert_int_equal(change.delta, -1);
    assert_null(change.at);
    contacts_lifecycle_change_reset(&change);
    free(data);
}

//  An activity moves the last activity to its time, or to the event's when that is
//  earlier (an appointment booked ahead); a change of an activity is no activity.
static void test_lifecycle_activity(void **state) {
    (void)state;
    Crm__Events__LeadActivityLogged logged = CRM__EVENTS__LEAD_ACTIVITY_LOGGED__INIT;
    logged.contact_id = CONTACT;
    logged.occurred_at = "2026-11-20T09:00:00.000000Z";
    uint8_t *data;
    Crm__Event event = s_event("LeadActivityLogged", &logged.base, &data);
    contacts_lifecycle_change_t change;
    assert_int_equal(contacts_lifecycle_read(&event, &change), 0);
    assert_string_equal(change.at, "2026-11-20T09:00:00.000000Z");
    contacts_lifecycle_change_reset(&change);
    free(data);
    logged.occurred_at = "2026-12-01T09:00:00.000000Z"; // ahead: booked now
    event = s_event("LeadActivityLogged", &logged.base, &data);
    assert_int_equal(contacts_lifecycle_read(&event, &change), 0);
    assert_string_equal(change.at, OCCURRED);
    contacts_lifecycle_change_reset(&change);
    free(data);
    char *fields[] = {"outcome"};
    logged.changed = fields;
    logged.n_changed = 1;
    event = s_event("LeadActivityLogged", &logged.base, &data);
    assert_int_equal(contacts_lifecycle_read(&event, &change), 0);
    assert_int_equal(change.kind, CONTACTS_LIFECYCLE_NONE);
    contacts_lifecycle_change_reset(&change);
    free(data);
}

//  An unreadable payload is reported; an event of another type is nothing to do.
static void test_lifecycle_other(void **state) {
    (void)state;
    uint8_t junk[] = {0xff, 0xff, 0xff};
    Crm__Event event = CRM__EVENT__INIT;
    event.type = "LeadWon";
    event.payload.data = junk;
    event.payload.len = sizeof junk;
    contacts_lifecycle_change_t change;
    assert_int_equal(contacts_lifecycle_read(&event, &change), 1);
    contacts_lifecycle_change_reset(&change);
    event.type = "PipelineChanged";
    assert_int_equal(contacts_lifecycle_read(&event, &change), 0);
    assert_int_equal(change.kind, CONTACTS_LIFECYCLE_NONE);
    contacts_lifecycle_change_reset(&change);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_won),
        cmocka_unit_test(test_lifecycle_counts),
        cmocka_unit_test(test_lifecycle_activity),
        cmocka_unit_test(test_lifecycle_other),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
