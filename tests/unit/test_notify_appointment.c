/*  Unit tests for the rules of the triggers of appointment messages and mention alerts
    (services/notify/appointment.c, mention.c): what an appointment's event means, which
    messages it queues (a confirmation, reminders 24 h and 2 h before) and withdraws, the
    reminders' keys, when a message about an appointment is too late, the appointment's
    time in words, and a mention alert's excerpt and key. Each row of a table is an
    example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../services/notify/notify.h"

#define HOUR (3600 * 1000LL)
//  2026-03-03T19:30:00Z, a Tuesday: 14:30 in New York (EST).
#define AT 1772566200000LL

static void test_time_parse(void **state) {
    (void)state;
    static const struct {
        const char *text;
        int64_t ms; // -1: refused
    } cases[] = {
        {"2026-03-03T19:30:00Z", AT},
        {"2026-03-03T19:30:00.000000Z", AT},
        {"2026-03-03T19:30:00.250Z", AT + 250},
        {"2026-03-03T14:30:00-05:00", AT},
        {"2026-03-04T01:00:00+05:30", AT},
        {"2026-03-03 19:30:00Z", AT},
        {"2026-03-03T19:30:00", -1},
        {"2026-03-03", -1},
        {"2026-13-03T19:30:00Z", -1},
        {"2026-03-03T19:30:00+0500", -1},
        {"2026-03-03T19:30:00.Z", -1},
        {"", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = 0;
        int rc = notify_time_parse(cases[i].text, &ms);
        if (cases[i].ms < 0 ? rc != -1 : rc != 0 || ms != cases[i].ms)
            fail_msg("\"%s\": rc %d, %lld", cases[i].text, rc, (long long)ms);
    }
    char text[NOTIFY_TIME_TEXT];
    notify_time_text(AT + 999, text);
    assert_string_equal(text, "2026-03-03T19:30:00Z");
}

#define KNOWN(at, scheduled)                                                                       \
    { true, at, scheduled }
#define UNKNOWN                                                                                    \
    { false, 0, false }
#define SAME NOTIFY_APPOINTMENT_SAME
#define BOOKED NOTIFY_APPOINTMENT_BOOKED
#define MOVED NOTIFY_APPOINTMENT_MOVED
#define ENDED NOTIFY_APPOINTMENT_ENDED

static void test_change(void **state) {
    (void)state;
    static char *notes[] = {"notes"}, *time[] = {"scheduledAt"}, *status[] = {"status"};
    static const struct {
        const char *rule;
        notify_appointment_state_t before, now;
        char **changed;
        size_t n_changed;
        notify_appointment_change_t change;
    } cases[] = {
        {"a first log is a booking", UNKNOWN, KNOWN(AT, true), NULL, 0, BOOKED},
        {"a new time is a move", KNOWN(AT, true), KNOWN(AT + HOUR, true), time, 1, MOVED},
        {"the same time is nothing new", KNOWN(AT, true), KNOWN(AT, true), notes, 1, SAME},
        {"the same time named in the PATCH is nothing new", KNOWN(AT, true), KNOWN(AT, true), time,
         1, SAME},
        {"called off", KNOWN(AT, true), KNOWN(AT, false), status, 1, ENDED},
        {"called off when first seen", UNKNOWN, KNOWN(AT, false), NULL, 0, ENDED},
        {"booked again after being called off", KNOWN(AT, false), KNOWN(AT, true), status, 1,
         BOOKED},
        {"moved while called off", KNOWN(AT, false), KNOWN(AT + HOUR, false), time, 1, ENDED},
        {"not seen before, its time changed", UNKNOWN, KNOWN(AT, true), time, 1, MOVED},
        {"not seen before, its status changed", UNKNOWN, KNOWN(AT, true), status, 1, BOOKED},
        {"not seen before, its notes changed", UNKNOWN, KNOWN(AT, true), notes, 1, SAME},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        notify_appointment_change_t got = notify_appointment_change(
            &cases[i].before, &cases[i].now, cases[i].changed, cases[i].n_changed);
        if (got != cases[i].change)
            fail_msg("%s: %d, expected %d", cases[i].rule, got, cases[i].change);
    }
}

static void test_plan(void **state) {
    (void)state;
    static char *time[] = {"scheduledAt"};
    static const struct {
        const char *rule;
        notify_appointment_state_t before, now;
        const char *status;
        int64_t now_ms;
        const char *cancel_reason;
        bool confirm;
        int64_t reminder_24h, reminder_2h; // 0: none
    } cases[] = {
        {"booked three days ahead: a confirmation and both reminders", UNKNOWN, KNOWN(AT, true),
         "scheduled", AT - 72 * HOUR, "appointment_moved", true, AT - 24 * HOUR, AT - 2 * HOUR},
        {"booked five hours ahead: no 24 h reminder", UNKNOWN, KNOWN(AT, true), "scheduled",
         AT - 5 * HOUR, "appointment_moved", true, 0, AT - 2 * HOUR},
        {"booked an hour ahead: the confirmation only", UNKNOWN, KNOWN(AT, true), "scheduled",
         AT - HOUR, "appointment_moved", true, 0, 0},
        {"exactly 24 h ahead: that reminder would be now, so none", UNKNOWN, KNOWN(AT, true),
         "scheduled", AT - 24 * HOUR, "appointment_moved", true, 0, AT - 2 * HOUR},
        {"logged after its time: nothing", UNKNOWN, KNOWN(AT, true), "scheduled", AT + HOUR,
         "appointment_moved", false, 0, 0},
        {"moved: the move's confirmation and the new time's reminders", KNOWN(AT - 24 * HOUR, true),
         KNOWN(AT, true), "scheduled", AT - 48 * HOUR, "appointment_moved", true, AT - 24 * HOUR,
         AT - 2 * HOUR},
        {"nothing new: the reminders again (a no-op by their keys), no confirmation",
         KNOWN(AT, true), KNOWN(AT, true), "scheduled", AT - 48 * HOUR, "appointment_moved", false,
         AT - 24 * HOUR, AT - 2 * HOUR},
        {"cancelled: everything withdrawn, nothing queued", KNOWN(AT, true), KNOWN(AT, false),
         "cancelled", AT - 48 * HOUR, "appointment_cancelled", false, 0, 0},
        {"a no-show", KNOWN(AT, true), KNOWN(AT, false), "no_show", AT + HOUR,
         "appointment_no_show", false, 0, 0},
        {"completed", KNOWN(AT, true), KNOWN(AT, false), "completed", AT + HOUR,
         "appointment_completed", false, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        notify_appointment_plan_t plan;
        notify_appointment_plan(&cases[i].before, &cases[i].now, cases[i].status, time,
                                cases[i].before.known ? 1 : 0, cases[i].now_ms, &plan);
        if (strcmp(plan.cancel_reason, cases[i].cancel_reason) != 0 ||
            plan.confirm != cases[i].confirm || plan.reminder_due_ms[0] != cases[i].reminder_24h ||
            plan.reminder_due_ms[1] != cases[i].reminder_2h)
            fail_msg("%s: cancel %s, confirm %d, reminders %lld %lld", cases[i].rule,
                     plan.cancel_reason, plan.confirm, (long long)plan.reminder_due_ms[0],
                     (long long)plan.reminder_due_ms[1]);
    }
    assert_string_equal(notify_reminders[0].name, "24h");
    assert_string_equal(notify_reminders[1].name, "2h");
}

//  One reminder per (activity, time, reminder) and customer: another time or another
//  reminder is another message.
static void test_reminder_key(void **state) {
    (void)state;
    const char *activity = "0193e0a0-0000-7000-8000-000000000001";
    const char *contact = "0193e0a0-0000-7000-8000-000000000002";
    char a[300], b[300], c[300], d[300];
    notify_appointment_reminder_key(a, sizeof a, activity, AT, "24h", contact);
    assert_string_equal(a, "appointment_reminder:0193e0a0-0000-7000-8000-000000000001@"
                           "2026-03-03T19:30:00Z/24h:first:0193e0a0-0000-7000-8000-000000000002");
    notify_appointment_reminder_key(b, sizeof b, activity, AT + 250, "24h", contact);
    assert_string_equal(a, b); // the same second: the same time
    notify_appointment_reminder_key(c, sizeof c, activity, AT + HOUR, "24h", contact);
    assert_string_not_equal(a, c);
    notify_appointment_reminder_key(d, sizeof d, activity, AT, "2h", contact);
    assert_string_not_equal(a, d);
}

static void test_too_late(void **state) {
    (void)state;
    //  Now, before the appointment, inside the window.
    assert_null(notify_appointment_too_late(AT, AT - HOUR, AT - HOUR));
    //  Quiet hours end before the appointment: it waits and goes.
    assert_null(notify_appointment_too_late(AT, AT - 3 * HOUR, AT - HOUR));
    //  They end at or after it: suppressed, quiet_hours.
    assert_string_equal(notify_appointment_too_late(AT, AT - 3 * HOUR, AT), "quiet_hours");
    assert_string_equal(notify_appointment_too_late(AT, AT - 3 * HOUR, AT + HOUR), "quiet_hours");
    //  The time has come (a sender that was down): suppressed, appointment_passed.
    assert_string_equal(notify_appointment_too_late(AT, AT, AT), "appointment_passed");
    assert_string_equal(notify_appointment_too_late(AT, AT + HOUR, AT + HOUR),
                        "appointment_passed");
}

static void test_time_words(void **state) {
    (void)state;
    static const struct {
        const char *zone, *words;
    } cases[] = {
        {"America/New_York", "Tuesday, March 3 at 2:30 PM EST"},
        {"America/Chicago", "Tuesday, March 3 at 1:30 PM CST"},
        {"Etc/GMT-5", "Wednesday, March 4 at 12:30 AM GMT+5"},
        {"", "Tuesday, March 3 at 7:30 PM UTC"},
        {NULL, "Tuesday, March 3 at 7:30 PM UTC"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char words[160];
        assert_int_equal(notify_appointment_time_words(AT, cases[i].zone, words, sizeof words), 0);
        assert_string_equal(words, cases[i].words); // plain spaces: ASCII, an SMS in GSM-7
    }
    char small[8];
    assert_int_equal(notify_appointment_time_words(AT, "UTC", small, sizeof small), -1);
    assert_string_equal(small, "");
}

static void test_mention_excerpt(void **state) {
    (void)state;
    char *e = notify_mention_excerpt("  Call   her\nback,\t@sam  ");
    assert_string_equal(e, "Call her back, @sam");
    free(e);
    //  140 characters stay whole; 141 are cut to 140 and an ellipsis.
    char body[400];
    memset(body, 'a', 140);
    body[140] = 0;
    e = notify_mention_excerpt(body);
    assert_string_equal(e, body);
    free(e);
    strcat(body, "b");
    e = notify_mention_excerpt(body);
    assert_int_equal(notify_utf8_length(e), 141);
    assert_int_equal(strncmp(e, body, 140), 0);
    assert_string_equal(e + 140, "\xe2\x80\xa6");
    free(e);
    //  Characters, not bytes: 150 "é" are cut to 140 of them.
    body[0] = 0;
    for (int i = 0; i < 150; i++)
        strcat(body, "\xc3\xa9");
    e = notify_mention_excerpt(body);
    assert_int_equal(notify_utf8_length(e), 141);
    assert_int_equal(strlen(e), 140 * 2 + 3);
    free(e);
    e = notify_mention_excerpt("");
    assert_string_equal(e, "");
    free(e);
}

//  One alert per (note, revision, handle).
static void test_mention_key(void **state) {
    (void)state;
    const char *note = "0193e0a0-0000-7000-8000-000000000003";
    char a[300], b[300];
    notify_mention_key(a, sizeof a, note, 1, "sam");
    assert_string_equal(a, "mention:0193e0a0-0000-7000-8000-000000000003/1:first:@sam");
    notify_mention_key(b, sizeof b, note, 2, "sam");
    assert_string_not_equal(a, b);
    notify_mention_key(b, sizeof b, note, 1, "jo-ann");
    assert_string_not_equal(a, b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_change),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_reminder_key),
        cmocka_unit_test(test_too_late),
        cmocka_unit_test(test_time_words),
        cmocka_unit_test(test_mention_excerpt),
        cmocka_unit_test(test_mention_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
