/*  System tests of notify's appointment messages and mention alerts, the whole suite
    driven over HTTP with its real sinks (tests/system/harness.h):

    - a test drive booked through the leads API for a lead whose contact has a phone
      opted in to texts: the confirmation reaches the SMS stub, and reminders are queued
      for 24 h and 2 h before (GET /v1/messages?leadId=);
    - moved: the old reminders are cancelled (appointment_moved, in their history), new
      ones are queued for the new time, and the customer is told the new time;
    - cancelled: the reminders are cancelled (appointment_cancelled);
    - a team member with a handle (unique among active members: 409) @mentioned in a
      contact's note gets an email in the SMTP sink quoting the note, and the message
      names the member once it is sent.
*/
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <czmq.h>
#include <string.h>
#include <time.h>

static harness_t *h;

static int s_setup(void **state) {
    (void)state;
    static const char *const env[] = {"CRM_NOTIFY_DEALERSHIP_NAME=Lakeside Motors", NULL};
    h = harness_start(env);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

static harness_response_t s_ok(const char *method, const char *path, const char *body,
                               long status) {
    harness_response_t r = harness_http(method, path, h->key_a, body, NULL);
    if (r.status != status)
        fprintf(stderr, "%s %s: %ld %s\n", method, path, r.status, r.body);
    assert_int_equal(r.status, status);
    return r;
}

//  The same, the answer dropped.
static void s_do(const char *method, const char *path, const char *body, long status) {
    harness_response_t r = s_ok(method, path, body, status);
    harness_response_free(&r);
}

//  "2026-03-03T19:30:00.000000Z" as seconds since 1970.
static time_t s_seconds(const char *text) {
    struct tm tm = {0};
    assert_non_null(strptime(text, "%Y-%m-%dT%H:%M:%S", &tm));
    return timegm(&tm);
}

static void s_rfc3339(time_t t, char *out, size_t size) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

//  The lead's messages (newest first) once there are at least n of them.
static json_t *s_lead_messages(const char *lead, size_t n) {
    char path[160];
    snprintf(path, sizeof path, "/v1/messages?leadId=%s&limit=50", lead);
    int64_t until = zclock_mono() + 10000;
    for (;;) {
        harness_response_t r = s_ok("GET", path, NULL, 200);
        json_t *items = json_incref(json_object_get(r.json, "items"));
        harness_response_free(&r);
        if (json_array_size(items) >= n)
            return items;
        if (zclock_mono() > until)
            fail_msg("lead %s has %zu messages, expected %zu", lead, json_array_size(items), n);
        json_decref(items);
        zclock_sleep(50);
    }
}

//  The queued reminders among messages, their due times into due (at most 2).
static size_t s_queued_reminders(json_t *messages, time_t due[2], char ids[2][64]) {
    size_t n = 0, i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        if (strcmp(json_string_value(json_object_get(m, "trigger")), "appointment_reminder") ||
            strcmp(json_string_value(json_object_get(m, "status")), "queued"))
            continue;
        assert_true(n < 2);
        due[n] = s_seconds(json_string_value(json_object_get(m, "dueAt")));
        snprintf(ids[n], 64, "%s", json_string_value(json_object_get(m, "id")));
        n++;
    }
    return n;
}

//  Both reminders queued, for 24 h and 2 h before at.
static void s_expect_reminders(json_t *messages, time_t at, char ids[2][64]) {
    time_t due[2];
    assert_int_equal(s_queued_reminders(messages, due, ids), 2);
    time_t early = due[0] < due[1] ? due[0] : due[1], late = due[0] < due[1] ? due[1] : due[0];
    assert_int_equal((long long)early, (long long)(at - 24 * 3600));
    assert_int_equal((long long)late, (long long)(at - 2 * 3600));
}

//  The message id once its status is status: its JSON (history included).
static json_t *s_wait_status(const char *id, const char *status) {
    char path[128];
    snprintf(path, sizeof path, "/v1/messages/%s", id);
    int64_t until = zclock_mono() + 10000;
    for (;;) {
        harness_response_t r = s_ok("GET", path, NULL, 200);
        json_t *m = json_incref(r.json);
        harness_response_free(&r);
        if (strcmp(json_string_value(json_object_get(m, "status")), status) == 0)
            return m;
        if (zclock_mono() > until) {
            char *text = json_dumps(m, JSON_COMPACT);
            fail_msg("message %s is not %s: %s", id, status, text);
        }
        json_decref(m);
        zclock_sleep(50);
    }
}

//  The reminder is cancelled with reason, and its history says so.
static void s_expect_cancelled(const char *id, const char *reason) {
    json_t *m = s_wait_status(id, "cancelled");
    assert_string_equal(json_string_value(json_object_get(m, "reason")), reason);
    json_t *history = json_object_get(m, "history");
    json_t *last = json_array_get(history, json_array_size(history) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "status")), "cancelled");
    assert_string_equal(json_string_value(json_object_get(last, "reason")), reason);
    assert_int_equal(json_string_length(json_object_get(m, "sentAt")), 0); // never sent
    json_decref(m);
}

//  The texts the stub accepted for number, once there are n: the last one's body.
static char *s_sms_body(const char *number, size_t n) {
    int64_t until = zclock_mono() + 10000;
    for (;;) {
        json_t *all = harness_sms_messages(), *m;
        size_t i, count = 0;
        char *body = NULL;
        json_array_foreach(all, i, m) {
            if (strcmp(json_string_value(json_object_get(m, "to")), number) == 0) {
                count++;
                free(body);
                body = strdup(json_string_value(json_object_get(m, "body")));
            }
        }
        json_decref(all);
        if (count == n)
            return body;
        free(body);
        assert_true(count < n);
        if (zclock_mono() > until)
            fail_msg("%zu texts to %s, expected %zu", count, number, n);
        zclock_sleep(50);
    }
}

static void test_test_drive(void **state) {
    (void)state;
    char zone[32], body[512], path[256];
    harness_zone_at(12, zone, sizeof zone);
    snprintf(body, sizeof body, "{\"timeZone\":\"%s\",\"appointmentMessages\":true}", zone);
    s_do("PATCH", "/v1/notification-settings", body, 200);

    harness_response_t r = s_ok("POST", "/v1/contacts",
                                "{\"kind\":\"person\",\"firstName\":\"Maria\",\"lastName\":"
                                "\"Lopez\",\"phones\":[{\"number\":\"+12025550181\",\"type\":"
                                "\"mobile\",\"sms\":true}],\"emails\":[{\"address\":"
                                "\"maria.drive@example.com\"}]}",
                                201);
    char contact[64], lead[64], activity[64];
    snprintf(contact, sizeof contact, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"source\":\"walk_in\"}", contact);
    r = s_ok("POST", "/v1/leads", body, 201);
    snprintf(lead, sizeof lead, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);

    //  Booked three days ahead: the confirmation goes, both reminders wait.
    time_t at = time(NULL) + 3 * 86400;
    at -= at % 60;
    char at_text[40];
    s_rfc3339(at, at_text, sizeof at_text);
    snprintf(path, sizeof path, "/v1/leads/%s/activities", lead);
    snprintf(body, sizeof body,
             "{\"kind\":\"test_drive\",\"scheduledAt\":\"%s\","
             "\"vehicle\":{\"year\":2024,\"make\":\"Kia\",\"model\":\"EV6\"}}",
             at_text);
    r = s_ok("POST", path, body, 201);
    snprintf(activity, sizeof activity, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    json_t *messages = s_lead_messages(lead, 3);
    char ids[2][64];
    s_expect_reminders(messages, at, ids);
    json_decref(messages);
    char *sms = s_sms_body("+12025550181", 1);
    if (!strstr(sms, "Hi Maria, your test drive at Lakeside Motors is booked for "))
        fail_msg("confirmation: %s", sms);
    free(sms);

    //  Moved a day later: the old reminders cancelled, new ones queued, the new time told.
    time_t moved = at + 86400;
    char moved_text[40];
    s_rfc3339(moved, moved_text, sizeof moved_text);
    snprintf(path, sizeof path, "/v1/leads/%s/activities/%s", lead, activity);
    snprintf(body, sizeof body, "{\"scheduledAt\":\"%s\"}", moved_text);
    s_do("PATCH", path, body, 200);
    s_expect_cancelled(ids[0], "appointment_moved");
    s_expect_cancelled(ids[1], "appointment_moved");
    messages = s_lead_messages(lead, 6);
    char new_ids[2][64];
    s_expect_reminders(messages, moved, new_ids);
    json_decref(messages);
    sms = s_sms_body("+12025550181", 2);
    if (!strstr(sms, "your test drive at Lakeside Motors has moved to "))
        fail_msg("move: %s", sms);
    free(sms);

    //  A change of its notes tells the customer nothing and keeps the reminders.
    s_do("PATCH", path, "{\"notes\":\"Bring the licence\"}", 200);

    //  Cancelled: the reminders go too.
    s_do("PATCH", path, "{\"status\":\"cancelled\"}", 200);
    s_expect_cancelled(new_ids[0], "appointment_cancelled");
    s_expect_cancelled(new_ids[1], "appointment_cancelled");
    messages = s_lead_messages(lead, 6);
    assert_int_equal(json_array_size(messages), 6); // nothing new queued
    time_t due[2];
    assert_int_equal(s_queued_reminders(messages, due, ids), 0);
    json_decref(messages);
    free(s_sms_body("+12025550181", 2)); // and no third text
}

//  The SMTP sink's messages to address, once there is one: the last one (new reference).
static json_t *s_mail_to(const char *address) {
    int64_t until = zclock_mono() + 10000;
    for (;;) {
        json_t *all = harness_mail_messages(), *m, *found = NULL;
        size_t i;
        json_array_foreach(all, i, m) {
            json_t *to = json_object_get(m, "rcpt_tos");
            size_t j;
            json_t *t;
            json_array_foreach(to, j, t) {
                if (strcmp(json_string_value(t), address) == 0)
                    found = m;
            }
        }
        json_incref(found);
        json_decref(all);
        if (found)
            return found;
        if (zclock_mono() > until)
            fail_msg("no email to %s", address);
        zclock_sleep(50);
    }
}

static void test_mention(void **state) {
    (void)state;
    harness_response_t r = s_ok(
        "POST", "/v1/team/members",
        "{\"name\":\"Sam Lee\",\"email\":\"sam.mention@example.com\",\"handle\":\"Sam\"}", 201);
    char member[64];
    snprintf(member, sizeof member, "%s", harness_json_str(&r, "id"));
    assert_string_equal(harness_json_str(&r, "handle"), "sam");
    harness_response_free(&r);
    //  A handle is one member's among the active ones.
    r = harness_http("POST", "/v1/team/members", h->key_a,
                     "{\"name\":\"Samantha Fox\",\"handle\":\"sam\"}", NULL);
    assert_int_equal(r.status, 409);
    assert_string_equal(harness_error_field(&r), "handle");
    harness_response_free(&r);
    r = harness_http("POST", "/v1/team/members", h->key_a,
                     "{\"name\":\"Samantha Fox\",\"handle\":\"sam.\"}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "handle");
    harness_response_free(&r);
    r = s_ok("GET", "/v1/team/members?handle=SAM&activeOnly=true", NULL, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), member);
    harness_response_free(&r);

    r = s_ok("POST", "/v1/contacts",
             "{\"kind\":\"person\",\"firstName\":\"Maria\",\"lastName\":\"Lopez\","
             "\"emails\":[{\"address\":\"maria.note@example.com\"}]}",
             201);
    char contact[64], path[160];
    snprintf(contact, sizeof contact, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/contacts/%s/notes", contact);
    s_do("POST", path, "{\"body\":\"@Sam can you call Maria back about the trade-in? @nobody\"}",
         201);

    json_t *mail = s_mail_to("sam.mention@example.com");
    assert_string_equal(json_string_value(json_object_get(mail, "subject")),
                        "You were mentioned in a note on Maria Lopez");
    //  The text part quotes the note (quoted-printable: its soft line breaks undone).
    char *raw = strdup(json_string_value(json_object_get(mail, "raw")));
    for (char *soft; (soft = strstr(raw, "=\r\n"));)
        memmove(soft, soft + 3, strlen(soft + 3) + 1);
    if (!strstr(raw, "@Sam can you call Maria back about the trade-in?"))
        fail_msg("no quote in: %s", raw);
    free(raw);
    json_decref(mail);

    //  The alert names the member now; @nobody's is suppressed.
    snprintf(path, sizeof path, "/v1/messages?contactId=%s", contact);
    r = s_ok("GET", path, NULL, 200);
    size_t i;
    json_t *m;
    bool sam = false;
    json_array_foreach(json_object_get(r.json, "items"), i, m) {
        assert_string_equal(json_string_value(json_object_get(m, "trigger")), "mention");
        if (strcmp(json_string_value(json_object_get(m, "memberId")), member) == 0)
            sam = true;
    }
    assert_true(sam);
    harness_response_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_test_drive),
        cmocka_unit_test(test_mention),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
