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

//  Wait (up to 10 s) until the leads' and contacts' events are applied by scoring and its
//  LeadScored by leads (each inbox at its source's head, three looks in a row): the score
//  on a lead is written in the background after each change of it, so a count of what
//  the leads service wrote is taken once that settled.
//  The leads service's own events: its outbox less the LeadUpdated it writes for the
//  scoring service's LeadScored (actor "scoring"), which come in the background.
#define SQL_LEADS_OUTBOX_OWN                                                                      \
    "(SELECT count(*) FROM leads.outbox"                                                          \
    " WHERE position(convert_to('scoring', 'UTF8') IN payload) = 0)"
#define SQL_BEHIND(source, consumer)                                                              \
    "SELECT (SELECT count(*) FROM " source ".outbox_pending) + abs("                              \
    " coalesce((SELECT max(last_seq) FROM " source ".outbox_state), 0) -"                         \
    " coalesce((SELECT last_seq FROM " consumer ".inbox WHERE source = '" source "'), 0))"
static inline void sql_scores_settled(void) {
    static const char *const checks[] = {SQL_BEHIND("leads", "scoring"),
                                         SQL_BEHIND("contacts", "scoring"),
                                         SQL_BEHIND("scoring", "leads")};
    int64_t until = zclock_mono() + 10000;
    for (int stable = 0; stable < 3 && zclock_mono() < until;) {
        bool behind = false;
        for (size_t i = 0; i < sizeof checks / sizeof *checks; i++)
            behind |= harness_sql_scalar(checks[i]) != 0;
        stable = behind ? 0 : stable + 1;
        zclock_sleep(50);
    }
}

#endif
