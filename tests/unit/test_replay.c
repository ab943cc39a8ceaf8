/*  Unit tests: replay (replay.h): the method's table row and its role check, the gap
    detector and replay paging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "replay.h"

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

//  A service's table row names the method, its function and its request type.
static void test_method_row(void **state) {
    (void)state;
    static const crm_method_t methods[] = {CRM_EVENTS_REPLAY_METHOD, {NULL, NULL, NULL, false}};
    assert_string_equal(methods[0].name, "Events.Replay");
    assert_ptr_equal(methods[0].fn, crm_events_replay);
    assert_ptr_equal(methods[0].request, &crm__events__replay_request__descriptor);
    assert_false(methods[0].writes);
}

//  Every tenant's events: a tenant's user is refused before anything is read.
static void test_replay_needs_system_role(void **state) {
    (void)state;
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = "Events.Replay";
    header.tenant_id = "tenant-a";
    header.role = "sales";
    crm_call_t call = {.header = &header};
    Crm__Events__ReplayRequest req = CRM__EVENTS__REPLAY_REQUEST__INIT;
    ProtobufCMessage *response = NULL;
    assert_int_equal(crm_events_replay(&call, &req.base, &response), 403);
    assert_string_equal(call.error, "forbidden");
    assert_null(response);
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
        cmocka_unit_test(test_method_row),
        cmocka_unit_test(test_replay_needs_system_role),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
