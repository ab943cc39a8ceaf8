/*  systest_sql: the harness's SQL helpers for cmocka system tests, where a query that
    fails fails the test. Include after cmocka.h. */
#ifndef SYSTEST_SQL_H
#define SYSTEST_SQL_H

#include "harness.h"

//  The first column of the first row as a number (0 for NULL).
static inline long long sql_scalar(const char *sql) {
    long long v = harness_sql_scalar(sql);
    assert_true(v != HARNESS_SQL_FAILED);
    return v;
}

static inline void sql_exec(const char *sql) {
    assert_int_equal(harness_sql_exec(sql), 0);
}

//  contacts' event head once every committed outbox row is numbered (waits up to 10 s).
static inline long long sql_contacts_head(void) {
    long long head = harness_contacts_head(10000);
    assert_true(head != HARNESS_SQL_FAILED);
    return head;
}

#endif
