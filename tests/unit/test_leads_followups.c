/*  test_leads_followups: the follow-up scheduler's timing rule (followup.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../services/leads/leads.h"

//  A full batch means more may be due: look again at once.
static void test_full_batch_goes_on(void **state) {
    (void)state;
    assert_int_equal(leads_scheduler_wait_ms(1000, 1000, -1, 500), 0);
    assert_int_equal(leads_scheduler_wait_ms(1000, 1000, 400, 500), 0);
}

//  Nothing waiting: the poll interval (a follow-up made meanwhile is found then).
static void test_nothing_waiting_polls(void **state) {
    (void)state;
    assert_int_equal(leads_scheduler_wait_ms(0, 1000, -1, 500), 500);
    assert_int_equal(leads_scheduler_wait_ms(3, 1000, -1, 250), 250);
}

//  The next one due sooner than the poll: sleep until it, and no longer than the poll.
static void test_sleeps_until_next_due(void **state) {
    (void)state;
    assert_int_equal(leads_scheduler_wait_ms(0, 1000, 120, 500), 120);
    assert_int_equal(leads_scheduler_wait_ms(0, 1000, 499, 500), 499);
    assert_int_equal(leads_scheduler_wait_ms(0, 1000, 500, 500), 500);
    assert_int_equal(leads_scheduler_wait_ms(0, 1000, 86400000, 500), 500);
}

//  Due now yet not claimed (another process holds them): a short wait, never a spin.
static void test_due_but_locked_does_not_spin(void **state) {
    (void)state;
    assert_int_equal(leads_scheduler_wait_ms(0, 1000, 0, 500), 10);
    assert_int_equal(leads_scheduler_wait_ms(5, 1000, 0, 500), 10);
    assert_int_equal(leads_scheduler_wait_ms(0, 1000, 3, 500), 10);
    //  ... but never longer than a (very short) poll interval.
    assert_int_equal(leads_scheduler_wait_ms(0, 1000, 0, 5), 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_batch_goes_on),
        cmocka_unit_test(test_nothing_waiting_polls),
        cmocka_unit_test(test_sleeps_until_next_due),
        cmocka_unit_test(test_due_but_locked_does_not_spin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
