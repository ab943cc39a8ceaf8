/*  Unit tests: events module pieces that need no sockets or database: the gap
    detector, replay paging, the catalogue and outbox row rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "events.h"

#include <string.h>

static void test_seq_check(void **state) {
    (void)state;
    assert_int_equal(crm_seq_check(0, 1), CRM_SEQ_APPLY);
    assert_int_equal(crm_seq_check(41, 42), CRM_SEQ_APPLY);
    assert_int_equal(crm_seq_check(42, 42), CRM_SEQ_DUPLICATE);
    assert_int_equal(crm_seq_check(42, 1), CRM_SEQ_DUPLICATE);
    assert_int_equal(crm_seq_check(42, 44), CRM_SEQ_GAP);
    assert_int_equal(crm_seq_check(0, 2), CRM_SEQ_GAP);
    assert_int_equal(crm_seq_check(UINT64_MAX - 1, UINT64_MAX), CRM_SEQ_APPLY);
}

static void test_replay_page_whole_and_behind(void **state) {
    (void)state;
    uint64_t seqs[] = {11, 12, 13};
    crm_replay_page_t page = crm_replay_page_check(10, seqs, 3, 100);
    assert_int_equal(page.usable, 3);
    assert_true(page.more); // whole page, head further on: ask again from 14
}

static void test_replay_page_reaches_head(void **state) {
    (void)state;
    uint64_t seqs[] = {11, 12, 13};
    crm_replay_page_t page = crm_replay_page_check(10, seqs, 3, 13);
    assert_int_equal(page.usable, 3);
    assert_false(page.more);
}

static void test_replay_page_empty(void **state) {
    (void)state;
    crm_replay_page_t page = crm_replay_page_check(10, NULL, 0, 12);
    assert_int_equal(page.usable, 0);
    assert_false(page.more); // the source has nothing yet: stop, try later
}

static void test_replay_page_hole(void **state) {
    (void)state;
    uint64_t seqs[] = {11, 12, 14, 15};
    crm_replay_page_t page = crm_replay_page_check(10, seqs, 4, 20);
    assert_int_equal(page.usable, 2); // never past a hole
    assert_false(page.more);
}

static void test_replay_page_starts_late(void **state) {
    (void)state;
    uint64_t seqs[] = {12, 13};
    crm_replay_page_t page = crm_replay_page_check(10, seqs, 2, 13);
    assert_int_equal(page.usable, 0);
    assert_false(page.more);
}

static void test_replay_page_overlap(void **state) {
    (void)state;
    //  Events at or below last_applied are not the continuation: nothing usable.
    uint64_t seqs[] = {10, 11};
    crm_replay_page_t page = crm_replay_page_check(10, seqs, 2, 11);
    assert_int_equal(page.usable, 0);
}

static void test_catalogue(void **state) {
    (void)state;
    assert_ptr_equal(crm_event_descriptor("ContactCreated"),
                     &crm__events__contact_created__descriptor);
    assert_ptr_equal(crm_event_descriptor("LeadWon"), &crm__events__lead_won__descriptor);
    assert_ptr_equal(crm_event_descriptor("ContactsDaily"),
                     &crm__events__contacts_daily__descriptor);
    assert_null(crm_event_descriptor("NoSuchEvent"));
    assert_null(crm_event_descriptor(NULL));
    assert_string_equal(crm_event_type(&crm__events__lead_scored__descriptor), "LeadScored");
}

static void test_outbox_event(void **state) {
    (void)state;
    Crm__Events__ContactDeleted payload = CRM__EVENTS__CONTACT_DELETED__INIT;
    payload.contact_id = "0190a3c4-0000-7000-8000-000000000001";
    crm_outbox_event_t ev;
    assert_int_equal(crm_outbox_event_init(&ev, &payload.base, "2026-11-22T08:00:00.000001Z"), 0);
    assert_string_equal(ev.type, "ContactDeleted");
    assert_string_equal(ev.occurred_at, "2026-11-22T08:00:00.000001Z");
    assert_int_equal(strlen(ev.event_id), 36);
    //  The payload as a bytea hex literal that decodes back to the message.
    assert_memory_equal(ev.payload_hex, "\\x", 2);
    size_t n = (strlen(ev.payload_hex) - 2) / 2;
    uint8_t *bytes = malloc(n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(ev.payload_hex + 2 + 2 * i, "%2x", &v), 1);
        bytes[i] = (uint8_t)v;
    }
    Crm__Events__ContactDeleted *back = crm__events__contact_deleted__unpack(NULL, n, bytes);
    assert_non_null(back);
    assert_string_equal(back->contact_id, payload.contact_id);
    crm__events__contact_deleted__free_unpacked(back, NULL);
    free(bytes);
    crm_outbox_event_reset(&ev);

    //  Stamped now when no time is given.
    assert_int_equal(crm_outbox_event_init(&ev, &payload.base, NULL), 0);
    assert_int_equal(strlen(ev.occurred_at), 27);
    assert_int_equal(ev.occurred_at[26], 'Z');
    crm_outbox_event_reset(&ev);

    //  A message outside the catalogue is refused.
    Crm__Empty empty = CRM__EMPTY__INIT;
    assert_int_equal(crm_outbox_event_init(&ev, &empty.base, NULL), -1);
    crm_outbox_event_reset(&ev);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_check),
        cmocka_unit_test(test_replay_page_whole_and_behind),
        cmocka_unit_test(test_replay_page_reaches_head),
        cmocka_unit_test(test_replay_page_empty),
        cmocka_unit_test(test_replay_page_hole),
        cmocka_unit_test(test_replay_page_starts_late),
        cmocka_unit_test(test_replay_page_overlap),
        cmocka_unit_test(test_catalogue),
        cmocka_unit_test(test_outbox_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
