/*  Unit tests for a lead's activity rules (services/leads/activity.c): which fields a
    kind takes, what each kind requires, the times (made UTC; appointments follow their
    scheduledAt; nothing else in the future) and the list's page. Each row of a table is
    an example of the rules, with the fields each refusal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/leads/leads.h"
#include "json_pb.h"

#define KIND(k) CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_##k

static void s_fields(const crm_errors_t *errors, char *out, size_t size) {
    out[0] = 0;
    for (size_t e = 0; e < errors->n; e++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", e ? "," : "",
                 errors->items[e]->field);
}

static const struct {
    const char *rule;
    Crm__Leads__ActivityKind kind;
    int outcome;   // a call's outcome
    int direction; // an email's
    int32_t duration;
    const char *notes, *subject, *scheduled_at, *occurred_at;
    bool transcript;    // one line, from the visitor
    const char *fields; // refused ("": accepted)
} s_cases[] = {
    {"a kind is required", 0, 0, 0, 0, "", "", "", "", false, "kind"},
    {"a kind is a known one", 99, 0, 0, 0, "", "", "", "", false, "kind"},
    {"a status_change is the moves'", KIND(STATUS_CHANGE), 0, 0, 0, "", "", "", "", false, "kind"},
    {"a call has an outcome", KIND(CALL), 1, 0, 60, "", "", "", "", false, ""},
    {"a call without an outcome is refused", KIND(CALL), 0, 0, 0, "", "", "", "", false, "outcome"},
    {"a call lasts no more than a day", KIND(CALL), 1, 0, 86401, "", "", "", "", false,
     "durationSeconds"},
    {"a duration is not negative", KIND(CALL), 1, 0, -1, "", "", "", "", false, "durationSeconds"},
    {"an outcome is a call's only", KIND(MEETING), 1, 0, 0, "", "", "", "", false, "outcome"},
    {"an outcome is a known one", KIND(CALL), 77, 0, 0, "", "", "", "", false, "outcome"},
    {"an email has a direction", KIND(EMAIL), 0, 1, 0, "", "Hello", "", "", false, ""},
    {"an email without a direction is refused", KIND(EMAIL), 0, 0, 0, "", "", "", "", false,
     "direction"},
    {"a subject is an email's only", KIND(NOTE), 0, 0, 0, "n", "Hello", "", "", false, "subject"},
    {"a note has notes", KIND(NOTE), 0, 0, 0, "called back", "", "", "", false, ""},
    {"a blank note is refused", KIND(NOTE), 0, 0, 0, "  ", "", "", "", false, "notes"},
    {"a chat has its transcript", KIND(CHAT), 0, 0, 0, "", "", "", "", true, ""},
    {"a chat without a transcript is refused", KIND(CHAT), 0, 0, 0, "", "", "", "", false,
     "transcript"},
    {"a transcript is a chat's only", KIND(CALL), 1, 0, 0, "", "", "", "", true, "transcript"},
    {"an appointment has its time", KIND(APPOINTMENT), 0, 0, 0, "", "", "2030-01-02T15:00:00Z", "",
     false, ""},
    {"an appointment without a time is refused", KIND(APPOINTMENT), 0, 0, 0, "", "", "", "", false,
     "scheduledAt"},
    {"a test drive's time is a date-time", KIND(TEST_DRIVE), 0, 0, 0, "", "", "2030-01-02", "",
     false, "scheduledAt"},
    {"an appointment's occurredAt is its scheduledAt", KIND(APPOINTMENT), 0, 0, 0, "", "",
     "2030-01-02T15:00:00Z", "2030-01-02T16:00:00Z", false, "occurredAt"},
    {"a scheduledAt is an appointment's only", KIND(MEETING), 0, 0, 0, "", "",
     "2030-01-02T15:00:00Z", "", false, "scheduledAt"},
    {"a past meeting is logged", KIND(MEETING), 0, 0, 0, "", "", "", "2020-01-02T15:00:00+01:00",
     false, ""},
    {"a meeting is not logged in the future", KIND(MEETING), 0, 0, 0, "", "", "",
     "2099-01-02T15:00:00Z", false, "occurredAt"},
    {"an occurredAt is a date-time", KIND(MEETING), 0, 0, 0, "", "", "", "yesterday", false,
     "occurredAt"},
};

static void test_activity_rules(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof *s_cases; i++) {
        Crm__Leads__Activity draft = CRM__LEADS__ACTIVITY__INIT;
        Crm__Leads__ChatLine line = CRM__LEADS__CHAT_LINE__INIT;
        Crm__Leads__ChatLine *lines[] = {&line};
        draft.kind = s_cases[i].kind;
        draft.outcome = s_cases[i].outcome;
        draft.direction = s_cases[i].direction;
        draft.duration_seconds = s_cases[i].duration;
        draft.notes = (char *)s_cases[i].notes;
        draft.subject = (char *)s_cases[i].subject;
        draft.scheduled_at = (char *)s_cases[i].scheduled_at;
        draft.occurred_at = (char *)s_cases[i].occurred_at;
        if (s_cases[i].transcript) {
            line.from = CRM__LEADS__CHAT_SPEAKER__CHAT_SPEAKER_VISITOR;
            line.text = "Is the blue one still there?";
            draft.transcript = lines;
            draft.n_transcript = 1;
        }
        Crm__Leads__Activity *a = (Crm__Leads__Activity *)crm_pb_copy(&draft.base);
        crm_errors_t errors = {0};
        int rc = leads_activity_check(a, true, &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_cases[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_cases[i].rule, fields,
                     s_cases[i].fields);
        assert_int_equal(rc, s_cases[i].fields[0] ? -1 : 0);
        if (rc == 0) // stored times are UTC with microseconds
            assert_non_null(strstr(a->occurred_at, "Z"));
        crm_errors_reset(&errors);
        crm__leads__activity__free_unpacked(a, NULL);
    }
}

//  What the rules fill: an appointment is scheduled and happens at its scheduledAt; a
//  log's time is made UTC.
//  A salesperson changes only the activities they logged; the other roles any.
static void test_activity_may_change(void **state) {
    (void)state;
    assert_true(leads_activity_may_change("sales", "user-1", "user-1"));
    assert_false(leads_activity_may_change("sales", "user-1", "user-2"));
    assert_false(leads_activity_may_change("sales", "user-1", NULL));
    assert_false(leads_activity_may_change("sales", "", ""));
    assert_true(leads_activity_may_change("manager", "user-1", "user-2"));
    assert_true(leads_activity_may_change("admin", "user-1", "user-2"));
    assert_true(leads_activity_may_change("integration", "sync", "user-2"));
}

static void test_activity_normalised(void **state) {
    (void)state;
    Crm__Leads__Activity draft = CRM__LEADS__ACTIVITY__INIT;
    draft.kind = KIND(APPOINTMENT);
    draft.scheduled_at = "2030-01-02T16:00:00+01:00";
    Crm__Leads__Activity *a = (Crm__Leads__Activity *)crm_pb_copy(&draft.base);
    crm_errors_t errors = {0};
    assert_int_equal(leads_activity_check(a, false, &errors), 0);
    assert_int_equal(a->status, CRM__LEADS__APPOINTMENT_STATUS__APPOINTMENT_STATUS_SCHEDULED);
    assert_string_equal(a->scheduled_at, "2030-01-02T15:00:00.000000Z");
    assert_string_equal(a->occurred_at, "2030-01-02T15:00:00.000000Z");
    crm__leads__activity__free_unpacked(a, NULL);

    Crm__Leads__Activity call = CRM__LEADS__ACTIVITY__INIT;
    call.kind = KIND(CALL);
    call.outcome = CRM__LEADS__CALL_OUTCOME__CALL_OUTCOME_CONNECTED;
    call.occurred_at = "2020-05-01T10:30:00-04:00";
    a = (Crm__Leads__Activity *)crm_pb_copy(&call.base);
    assert_int_equal(leads_activity_check(a, true, &errors), 0);
    assert_string_equal(a->occurred_at, "2020-05-01T14:30:00.000000Z");
    crm__leads__activity__free_unpacked(a, NULL);

    //  A future appointment is not yet completed.
    draft.status = CRM__LEADS__APPOINTMENT_STATUS__APPOINTMENT_STATUS_COMPLETED;
    a = (Crm__Leads__Activity *)crm_pb_copy(&draft.base);
    assert_int_equal(leads_activity_check(a, false, &errors), -1);
    assert_true(crm_errors_has(&errors, "status"));
    crm_errors_reset(&errors);
    crm__leads__activity__free_unpacked(a, NULL);

    //  ... but it may be called off before its time.
    draft.status = CRM__LEADS__APPOINTMENT_STATUS__APPOINTMENT_STATUS_CANCELLED;
    a = (Crm__Leads__Activity *)crm_pb_copy(&draft.base);
    assert_int_equal(leads_activity_check(a, false, &errors), 0);
    assert_int_equal(a->status, CRM__LEADS__APPOINTMENT_STATUS__APPOINTMENT_STATUS_CANCELLED);
    crm__leads__activity__free_unpacked(a, NULL);
}

//  A chat's transcript line by line: a speaker and a text each, a readable time.
static void test_activity_transcript(void **state) {
    (void)state;
    Crm__Leads__ChatLine good = CRM__LEADS__CHAT_LINE__INIT, bad = CRM__LEADS__CHAT_LINE__INIT;
    good.from = CRM__LEADS__CHAT_SPEAKER__CHAT_SPEAKER_AGENT;
    good.text = "Hello";
    bad.text = " ";
    bad.at = "noon";
    Crm__Leads__ChatLine *lines[] = {&good, &bad};
    Crm__Leads__Activity draft = CRM__LEADS__ACTIVITY__INIT;
    draft.kind = KIND(CHAT);
    draft.transcript = lines;
    draft.n_transcript = 2;
    Crm__Leads__Activity *a = (Crm__Leads__Activity *)crm_pb_copy(&draft.base);
    crm_errors_t errors = {0};
    assert_int_equal(leads_activity_check(a, true, &errors), -1);
    char fields[256];
    s_fields(&errors, fields, sizeof fields);
    assert_string_equal(fields, "transcript[1].from,transcript[1].text,transcript[1].at");
    crm_errors_reset(&errors);
    crm__leads__activity__free_unpacked(a, NULL);
}

//  A text (kind sms), as an email is checked: a direction and a body, both required, the
//  body at most 1,600 characters; an email's subject is not a text's.
static void test_activity_text(void **state) {
    (void)state;
    char long_body[1602], emoji_body[1601 * 4 + 1] = "";
    memset(long_body, 'x', 1601);
    long_body[1601] = 0;
    for (int i = 0; i < 1600; i++)
        strcat(emoji_body, "\xf0\x9f\x9a\x97"); // 1,600 characters (a car each), 6,400 bytes
    const struct {
        const char *rule;
        int direction;
        const char *subject, *body;
        const char *fields; // refused ("": accepted)
    } cases[] = {
        {"a text has a direction and a body", 2, "", "On my way", ""},
        {"a text without a direction is refused", 0, "", "On my way", "direction"},
        {"a text without a body is refused", 1, "", " ", "body"},
        {"a subject is an email's only", 2, "Hello", "On my way", "subject"},
        {"a text's body is at most 1,600 characters", 1, "", long_body, "body"},
        {"1,600 characters are counted as characters", 1, "", emoji_body, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Crm__Leads__Activity draft = CRM__LEADS__ACTIVITY__INIT;
        draft.kind = KIND(SMS);
        draft.direction = cases[i].direction;
        draft.subject = (char *)cases[i].subject;
        draft.body = (char *)cases[i].body;
        Crm__Leads__Activity *a = (Crm__Leads__Activity *)crm_pb_copy(&draft.base);
        crm_errors_t errors = {0};
        int rc = leads_activity_check(a, true, &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, cases[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, cases[i].rule, fields,
                     cases[i].fields);
        assert_int_equal(rc, cases[i].fields[0] ? -1 : 0);
        crm_errors_reset(&errors);
        crm__leads__activity__free_unpacked(a, NULL);
    }
}

static void test_activity_list_page(void **state) {
    (void)state;
    Crm__Leads__ListActivitiesRequest req = CRM__LEADS__LIST_ACTIVITIES_REQUEST__INIT;
    leads_activity_list_t page;
    crm_errors_t errors = {0};
    assert_int_equal(leads_activity_list_check(&req, &page, &errors), 0);
    assert_int_equal(page.limit, CRM_PAGE_DEFAULT_LIMIT);
    assert_string_equal(page.kind, "");
    req.kind = KIND(TEST_DRIVE);
    req.cursor = "v.1700000000000000.0193e0a0-0000-7000-8000-000000000001";
    assert_int_equal(leads_activity_list_check(&req, &page, &errors), 0);
    assert_string_equal(page.kind, "test_drive");
    assert_string_equal(page.cursor.value, "1700000000000000");
    req.cursor = "t.1700000000000000.0193e0a0-0000-7000-8000-000000000001"; // the timeline's
    req.limit = CRM_PAGE_MAX_LIMIT + 1;
    assert_int_equal(leads_activity_list_check(&req, &page, &errors), -1);
    char fields[64];
    s_fields(&errors, fields, sizeof fields);
    assert_string_equal(fields, "limit,cursor");
    crm_errors_reset(&errors);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activity_rules),
        cmocka_unit_test(test_activity_may_change),
        cmocka_unit_test(test_activity_normalised),
        cmocka_unit_test(test_activity_transcript),
        cmocka_unit_test(test_activity_text),
        cmocka_unit_test(test_activity_list_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
