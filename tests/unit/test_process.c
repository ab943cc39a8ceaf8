/*  Unit tests for process.h: the scheduling policy reaches the calling thread and the
    threads it starts afterwards (as ZeroMQ's I/O thread is), and an unknown policy is
    refused without changing anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>

#include "process.h"

static void *s_policy_of_thread(void *arg) {
    *(int *)arg = sched_getscheduler(0);
    return NULL;
}

static int s_policy_of_new_thread(void) {
    int policy = -1;
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, s_policy_of_thread, &policy), 0);
    pthread_join(thread, NULL);
    return policy;
}

static void test_batch_and_normal(void **state) {
    (void)state;
    assert_int_equal(crm_process_set_scheduling("batch"), 0);
    assert_int_equal(sched_getscheduler(0), SCHED_BATCH);
    assert_int_equal(s_policy_of_new_thread(), SCHED_BATCH);

    assert_int_equal(crm_process_set_scheduling("normal"), 0);
    assert_int_equal(sched_getscheduler(0), SCHED_OTHER);
    assert_int_equal(s_policy_of_new_thread(), SCHED_OTHER);
}

static void test_unknown_policy(void **state) {
    (void)state;
    assert_int_equal(crm_process_set_scheduling("batch"), 0);
    assert_int_equal(crm_process_set_scheduling("fifo"), -1);
    assert_int_equal(crm_process_set_scheduling(NULL), -1);
    assert_int_equal(sched_getscheduler(0), SCHED_BATCH);
    assert_int_equal(crm_process_set_scheduling("normal"), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_and_normal),
        cmocka_unit_test(test_unknown_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
