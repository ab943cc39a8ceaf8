/*  System test of erasure (the right to be forgotten) in crm-notify: a contact with
    messages (an SMS sent and delivered, an email sent, a reply texted back, a STOP) is
    erased through the contacts API; then notify's schema holds none of the person's data
    (phone, email address, names, the texts both ways) in any table or past event
    payload, the messages are still listed for the contact (ids, channel, status) without
    their text or address, and nothing crm-notify logged holds the data either.
*/
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <czmq.h>
#include <string.h>

static harness_t *h;

//  The person's data, each string unlikely anywhere else.
#define PHONE "+12025550177"
#define PHONE_DIGITS "2025550177"
#define EMAIL "quentin.erasable@example.com"
#define FIRST_NAME "Quentin"
#define LAST_NAME "Erasablesson"
#define SMS_TEXT "sms-secret-gearbox"
#define MAIL_SUBJECT "mail-subject-sunroof"
#define MAIL_TEXT "mail-secret-leather"
#define REPLY_TEXT "reply-secret-tradein"

static const char *const s_personal[] = {PHONE,    PHONE_DIGITS, EMAIL,     FIRST_NAME, LAST_NAME,
                                         SMS_TEXT, MAIL_SUBJECT, MAIL_TEXT, REPLY_TEXT, NULL};

static int s_setup(void **state) {
    (void)state;
    //  Debug: the most crm-notify ever logs, all of it checked.
    static const char *const env[] = {"CRM_LOG_LEVEL=debug", NULL};
    h = harness_start(env);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  POST /v1/messages until notify knows the new contact (201); the message's id.
static void s_send(const char *body, char id[64]) {
    harness_response_t r = {0};
    for (int i = 0; i < 100; i++) {
        r = harness_http("POST", "/v1/messages", h->key_a, body, NULL);
        if (r.status == 201 || !strstr(r.body ? r.body : "", "is not a contact"))
            break;
        harness_response_free(&r);
        zclock_sleep(50);
    }
    if (r.status != 201)
        fprintf(stderr, "send: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  Wait until message id's status is one of statuses ("a|b").
static void s_wait_status(const char *id, const char *statuses) {
    char path[128];
    snprintf(path, sizeof path, "/v1/messages/%s", id);
    for (int i = 0; i < 200; i++) {
        harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
        const char *status = harness_json_str(&r, "status");
        bool done = status[0] && strstr(statuses, status) != NULL;
        harness_response_free(&r);
        if (done)
            return;
        zclock_sleep(50);
    }
    fail_msg("message %s never became %s", id, statuses);
}

//  Rows of notify's schema (every table but the outbox, as text) holding text.
static long long s_rows_holding(const char *text) {
    static const char *const tables[] = {
        "messages",           "message_events", "inbound_messages", "recipients",   "sms_opt_outs",
        "email_unsubscribes", "leads",          "settings",         "daily_counts", NULL};
    long long total = 0;
    for (const char *const *t = tables; *t; t++) {
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM notify.%s t WHERE t::text LIKE '%%%s%%'",
                 *t, text);
        long long n = harness_sql_scalar(sql);
        assert_true(n != HARNESS_SQL_FAILED);
        if (n)
            fprintf(stderr, "notify.%s: %lld rows hold \"%s\"\n", *t, n, text);
        total += n;
    }
    return total;
}

//  Events in notify's outbox whose payload (or any other column) holds text.
static long long s_events_holding(const char *text) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM notify.outbox o WHERE position(convert_to('%s', 'UTF8')"
             " IN o.payload) > 0 OR o::text LIKE '%%%s%%'",
             text, text);
    long long n = harness_sql_scalar(sql);
    assert_true(n != HARNESS_SQL_FAILED);
    //  Which events, to say what to mend.
    static const char *const types[] = {"NotificationQueued",     "NotificationSent",
                                        "NotificationDelivered",  "NotificationFailed",
                                        "NotificationSuppressed", "NotificationInboundReceived",
                                        "NotificationOptedOut",   NULL};
    for (const char *const *t = types; n && *t; t++) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM notify.outbox o WHERE type = '%s'"
                 " AND position(convert_to('%s', 'UTF8') IN o.payload) > 0",
                 *t, text);
        long long of_type = harness_sql_scalar(sql);
        if (of_type)
            fprintf(stderr, "notify.outbox: %lld %s events hold \"%s\"\n", of_type, *t, text);
    }
    return n;
}

//  Lines crm-notify wrote to the suite's log (the supervisor's stderr: harness.c's
//  suite.log) holding text.
static int s_log_lines_holding(const char *text) {
    char path[400];
    snprintf(path, sizeof path, "%s/suite.log", h->dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t size = 0;
    int n = 0, notify = 0;
    while (getline(&line, &size, f) > 0) {
        if (!strstr(line, "\"service\":\"notify\""))
            continue;
        notify++;
        if (strstr(line, text)) {
            if (n++ < 3)
                fprintf(stderr, "crm-notify logged \"%s\": %s", text, line);
        }
    }
    free(line);
    fclose(f);
    assert_true(notify > 0); // it did log: the check looked at something
    return n;
}

static void test_erasure_leaves_nothing(void **state) {
    (void)state;
    //  The contact, and a lead so the reply has a lead to go on.
    harness_response_t r = harness_http(
        "POST", "/v1/contacts", h->key_a,
        "{\"kind\":\"person\",\"firstName\":\"" FIRST_NAME "\",\"lastName\":\"" LAST_NAME "\","
        "\"phones\":[{\"number\":\"" PHONE "\",\"type\":\"mobile\",\"sms\":true}],"
        "\"emails\":[{\"address\":\"" EMAIL "\",\"consent\":true}]}",
        NULL);
    assert_int_equal(r.status, 201);
    char contact[64];
    snprintf(contact, sizeof contact, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    char body[1024];
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"source\":\"walk_in\"}", contact);
    r = harness_http("POST", "/v1/leads", h->key_a, body, NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);

    //  An SMS and an email, with the name rendered into them.
    char sms[64], mail[64];
    snprintf(body, sizeof body,
             "{\"contactId\":\"%s\",\"channel\":\"sms\","
             "\"bodyText\":\"Hi {{contact.firstName}} {{contact.lastName}}: " SMS_TEXT "\"}",
             contact);
    s_send(body, sms);
    snprintf(body, sizeof body,
             "{\"contactId\":\"%s\",\"channel\":\"email\",\"subject\":\"" MAIL_SUBJECT "\","
             "\"bodyText\":\"Dear {{contact.name}}: " MAIL_TEXT "\","
             "\"bodyHtml\":\"<p>Dear {{contact.firstName}}: " MAIL_TEXT
             " <a href=\\\"https://dealer.example/x\\\">more</a></p>\"}",
             contact);
    s_send(body, mail);
    s_wait_status(sms, "delivered");
    s_wait_status(mail, "sent");

    //  The customer replies, then texts STOP.
    r = harness_sms_inbound(PHONE, h->sms_from, REPLY_TEXT);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = harness_sms_inbound(PHONE, h->sms_from, "STOP");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);

    //  Before: the data is there, so the checks below look at the right places.
    assert_true(harness_sql_scalar("SELECT count(*) FROM notify.inbound_messages"
                                   " WHERE body = '" REPLY_TEXT "'") == 1);
    assert_true(harness_sql_scalar("SELECT count(*) FROM notify.sms_opt_outs"
                                   " WHERE number = '" PHONE "' AND opted_out") == 1);
    assert_true(s_rows_holding(SMS_TEXT) > 0);
    assert_true(s_events_holding(REPLY_TEXT) > 0);

    //  Erased.
    char path[160];
    snprintf(path, sizeof path, "/v1/contacts/%s/erase", contact);
    r = harness_http("POST", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM notify.recipients WHERE contact_id = '%s' AND erased", contact);
    long long erased = 0;
    for (int i = 0; i < 200 && erased != 1; i++) {
        erased = harness_sql_scalar(sql);
        zclock_sleep(50);
    }
    assert_int_equal(erased, 1);
    zclock_sleep(500); // callbacks still on their way are heard too

    //  Nothing of the person in notify's tables or past events.
    long long rows = 0, events = 0;
    for (const char *const *p = s_personal; *p; p++) {
        rows += s_rows_holding(*p);
        events += s_events_holding(*p);
    }
    assert_int_equal(rows, 0);
    assert_int_equal(events, 0);

    //  The messages are still listed for the contact, without text or address.
    snprintf(path, sizeof path, "/v1/messages?contactId=%s", contact);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_true(json_array_size(items) >= 2);
    size_t i;
    json_t *m;
    json_array_foreach(items, i, m) {
        const char *id = json_string_value(json_object_get(m, "id"));
        assert_non_null(id);
        static const char *const emptied[] = {"to", "subject", "bodyText", "bodyHtml", NULL};
        for (const char *const *k = emptied; *k; k++) {
            const char *value = json_string_value(json_object_get(m, *k));
            assert_true(!value || !value[0]);
        }
    }
    for (const char *const *p = s_personal; *p; p++)
        assert_null(strstr(r.body, *p));
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/messages/%s", sms);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    for (const char *const *p = s_personal; *p; p++)
        assert_null(strstr(r.body, *p));
    harness_response_free(&r);

    //  And crm-notify never logged any of it.
    int logged = 0;
    for (const char *const *p = s_personal; *p; p++)
        logged += s_log_lines_holding(*p);
    assert_int_equal(logged, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_erasure_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
