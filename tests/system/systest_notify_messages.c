/*  System tests of notify's messages, the whole suite driven over HTTP with its real
    sinks (tests/system/harness.h: an SMTP server that requires STARTTLS and AUTH, and a
    Twilio-compatible Messages API stub that sends signed status callbacks):

    - a salesperson's SMS and email reach the sinks as sent, the SMS's status history
      follows the provider's callbacks to delivered, the email carries its MIME parts;
    - a contact with no permitted line is refused with 422 naming contactId;
    - speed to lead: a chat lead's customer gets the auto-reply by SMS, and by email when
      no line is opted in to texts; quiet hours defer it (the tenant's zone at night);
    - STOP from the customer's phone: no SMS goes to that number after the webhook's 200;
      START lets texts go again; HELP answers the help text;
    - a marketing email's one-click unsubscribe (List-Unsubscribe-Post) keeps further
      marketing email from that address, and so does its mailto: an email to
      notify.unsubscribe_mailbox piped to `crmctl notify unsubscribe-mail`;
    - a forged status callback is 403 and changes nothing;
    - a provider failing with 500 until the attempts run out: the message is dead, listed
      with status=dead, and a manager's retry sends it once the provider is back;
    - a connection dropped after the provider read the request: the message is sent once,
      never twice.
*/
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <czmq.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static harness_t *h;

#define S_MAILBOX "unsubscribe@mail.lakeside.example"

static int s_setup(void **state) {
    (void)state;
    static const char *const env[] = {"CRM_NOTIFY_MAX_ATTEMPTS=3", "CRM_NOTIFY_RETRY_BASE_MS=100",
                                      "CRM_NOTIFY_DEALERSHIP_NAME=Lakeside Motors",
                                      "CRM_NOTIFY_UNSUBSCRIBE_MAILBOX=" S_MAILBOX, NULL};
    h = harness_start(env);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

static void s_settings(const char *key, const char *body) {
    harness_response_t r = harness_http("PATCH", "/v1/notification-settings", key, body, NULL);
    if (r.status != 200)
        fprintf(stderr, "settings: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
}

//  A contact with a phone (opted in to SMS when sms) and an email; its id into id.
static void s_contact(const char *phone, bool sms, const char *email, char id[64]) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"kind\":\"person\",\"firstName\":\"Maria\",\"lastName\":\"Lopez\","
             "\"phones\":[{\"number\":\"%s\",\"type\":\"mobile\",\"sms\":%s}],"
             "\"emails\":[{\"address\":\"%s\",\"consent\":true}]}",
             phone, sms ? "true" : "false", email);
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    if (r.status != 201)
        fprintf(stderr, "contact: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  POST /v1/messages; the answer (the caller frees it).
static harness_response_t s_send(const char *body) {
    return harness_http("POST", "/v1/messages", h->key_a, body, NULL);
}

//  A message sent now (201, retried while notify's copy of a new contact catches up);
//  its id into id.
static void s_send_ok(const char *body, char id[64]) {
    harness_response_t r = {0};
    for (int i = 0; i < 100; i++) {
        r = s_send(body);
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

//  The message id once its status is status (waiting up to timeout_ms): its JSON.
static json_t *s_wait_status(const char *id, const char *status, int timeout_ms) {
    char path[128];
    snprintf(path, sizeof path, "/v1/messages/%s", id);
    int64_t until = zclock_mono() + timeout_ms;
    json_t *last = NULL;
    for (;;) {
        harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
        assert_int_equal(r.status, 200);
        json_decref(last);
        last = json_incref(r.json);
        harness_response_free(&r);
        const char *now = json_string_value(json_object_get(last, "status"));
        if (now && strcmp(now, status) == 0)
            return last;
        if (zclock_mono() > until) {
            char *text = json_dumps(last, JSON_COMPACT);
            fprintf(stderr, "message %s is not %s: %s\n", id, status, text);
            free(text);
            fail();
        }
        zclock_sleep(50);
    }
}

//  The SMS the stub accepted for number to.
static size_t s_sms_to(const char *to, json_t **last) {
    json_t *all = harness_sms_messages();
    size_t n = 0, i;
    json_t *m;
    json_array_foreach(all, i, m) {
        if (strcmp(json_string_value(json_object_get(m, "to")), to) == 0) {
            n++;
            if (last) {
                json_decref(*last);
                *last = json_incref(m);
            }
        }
    }
    json_decref(all);
    return n;
}

//  Does the history of message (its JSON) hold an entry status?
static bool s_history_has(json_t *message, const char *status) {
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(message, "history"), i, e) {
        if (strcmp(json_string_value(json_object_get(e, "status")), status) == 0)
            return true;
    }
    return false;
}

static void test_sms_sent_and_delivered(void **state) {
    (void)state;
    char contact[64], id[64], body[512];
    s_contact("+12025550101", true, "maria.sms@example.com", contact);
    snprintf(body, sizeof body,
             "{\"contactId\":\"%s\",\"channel\":\"sms\","
             "\"bodyText\":\"Hi {{contact.firstName}}, your car is ready. {{dealership.name}}\"}",
             contact);
    s_send_ok(body, id);
    json_t *m = s_wait_status(id, "delivered", 10000);
    assert_string_equal(json_string_value(json_object_get(m, "to")), "+12025550101");
    assert_true(json_string_length(json_object_get(m, "providerId")) > 2);
    assert_true(s_history_has(m, "queued"));
    assert_true(s_history_has(m, "sent"));
    assert_true(s_history_has(m, "delivered"));
    json_decref(m);
    json_t *sms = NULL;
    assert_int_equal(s_sms_to("+12025550101", &sms), 1);
    assert_string_equal(json_string_value(json_object_get(sms, "body")),
                        "Hi Maria, your car is ready. Lakeside Motors");
    assert_string_equal(json_string_value(json_object_get(sms, "from")), h->sms_from);
    json_decref(sms);

    //  The contact's messages list it.
    char path[160];
    snprintf(path, sizeof path, "/v1/messages?contactId=%s", contact);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    harness_response_free(&r);
}

static void test_email_sent(void **state) {
    (void)state;
    char contact[64], id[64], body[512];
    s_contact("+12025550102", false, "maria.email@example.com", contact);
    json_t *sent = harness_mail_messages();
    size_t before = json_array_size(sent);
    json_decref(sent);
    snprintf(
        body, sizeof body,
        "{\"contactId\":\"%s\",\"channel\":\"email\",\"subject\":\"Your quote\","
        "\"bodyText\":\"Hi {{contact.firstName}}\",\"bodyHtml\":\"<p>Hi "
        "<b>{{contact.firstName}}</b> <a href=\\\"https://dealer.example/quote?a=1&amp;b=2\\\">"
        "quote</a></p>\"}",
        contact);
    s_send_ok(body, id);
    json_t *m = s_wait_status(id, "sent", 10000);
    json_decref(m);
    assert_true(harness_wait_mail(before + 1, 5000));
    json_t *mail = harness_mail_messages();
    json_t *last = json_array_get(mail, json_array_size(mail) - 1);
    const char *raw = json_string_value(json_object_get(last, "raw"));
    assert_non_null(strstr(raw, "Subject: Your quote"));
    assert_non_null(strstr(raw, "multipart/alternative"));
    assert_non_null(strstr(raw, "Message-ID: <"));
    //  A transactional email carries no unsubscribe header; its link is tracked.
    assert_null(strstr(raw, "List-Unsubscribe"));
    assert_non_null(strstr(raw, "/v1/t/"));
    assert_true(json_is_true(json_object_get(last, "tls")));
    json_decref(mail);
}

static void test_no_permitted_line(void **state) {
    (void)state;
    char contact[64], body[512];
    s_contact("+12025550103", false, "maria.noline@example.com", contact);
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"channel\":\"sms\",\"bodyText\":\"Hello\"}",
             contact);
    harness_response_t r = {0};
    for (int i = 0; i < 100; i++) {
        r = s_send(body);
        if (!strstr(r.body ? r.body : "", "is not a contact"))
            break;
        harness_response_free(&r);
        zclock_sleep(50);
    }
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "contactId");
    assert_non_null(strstr(r.body, "no_permitted_line"));
    harness_response_free(&r);
    //  Bad input names its field.
    r = s_send("{\"contactId\":\"nope\",\"channel\":\"sms\",\"bodyText\":\"x\"}");
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "contactId");
    harness_response_free(&r);
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"channel\":\"sms\"}", contact);
    r = s_send(body);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "bodyText");
    harness_response_free(&r);
    snprintf(body, sizeof body,
             "{\"contactId\":\"%s\",\"channel\":\"sms\",\"bodyText\":\"{{contact.shoeSize}}\"}",
             contact);
    r = s_send(body);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "bodyText");
    harness_response_free(&r);
}

//  A chat lead for contact; its id into id.
static void s_chat_lead(const char *contact, char id[64]) {
    char body[256];
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"source\":\"chat\"}", contact);
    harness_response_t r = harness_http("POST", "/v1/leads", h->key_a, body, NULL);
    if (r.status != 201)
        fprintf(stderr, "lead: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  The lead's speed-to-lead message, once queued (waiting up to timeout_ms): its JSON.
static json_t *s_lead_message(const char *lead, int timeout_ms) {
    char path[160];
    snprintf(path, sizeof path, "/v1/messages?leadId=%s", lead);
    int64_t until = zclock_mono() + timeout_ms;
    for (;;) {
        harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
        assert_int_equal(r.status, 200);
        json_t *items = json_object_get(r.json, "items");
        if (json_array_size(items)) {
            json_t *m = json_incref(json_array_get(items, 0));
            harness_response_free(&r);
            return m;
        }
        harness_response_free(&r);
        assert_true(zclock_mono() < until);
        zclock_sleep(50);
    }
}

static void test_speed_to_lead(void **state) {
    (void)state;
    char zone[32], settings[128];
    //  Off until the dealership turns it on.
    char contact0[64], lead0[64];
    s_contact("+12025550114", true, "maria.stl0@example.com", contact0);
    s_chat_lead(contact0, lead0);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM notify.leads WHERE lead_id = '%s'", lead0);
    for (int i = 0; i < 200 && harness_sql_scalar(sql) != 1; i++)
        zclock_sleep(25); // notify has seen the lead (and queued nothing for it)
    assert_int_equal(harness_sql_scalar(sql), 1);

    harness_zone_at(12, zone, sizeof zone);
    snprintf(settings, sizeof settings,
             "{\"timeZone\":\"%s\",\"speedToLead\":[{\"source\":\"chat\",\"enabled\":true}]}",
             zone);
    s_settings(h->key_a, settings);

    //  By SMS: the customer's line is opted in.
    char contact[64], lead[64];
    s_contact("+12025550104", true, "maria.stl@example.com", contact);
    s_chat_lead(contact, lead);
    json_t *m = s_lead_message(lead, 5000);
    assert_string_equal(json_string_value(json_object_get(m, "trigger")), "speed_to_lead");
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(m, "id")));
    json_decref(m);
    json_decref(s_wait_status(id, "delivered", 10000));
    json_t *sms = NULL;
    assert_int_equal(s_sms_to("+12025550104", &sms), 1);
    assert_non_null(strstr(json_string_value(json_object_get(sms, "body")),
                           "Hi Maria, thanks for contacting Lakeside Motors"));
    json_decref(sms);

    //  By email: no line opted in to texts.
    char contact2[64], lead2[64];
    s_contact("+12025550105", false, "maria.stl2@example.com", contact2);
    s_chat_lead(contact2, lead2);
    m = s_lead_message(lead2, 5000);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(m, "id")));
    json_decref(m);
    m = s_wait_status(id, "sent", 10000);
    assert_string_equal(json_string_value(json_object_get(m, "channel")), "email");
    assert_string_equal(json_string_value(json_object_get(m, "to")), "maria.stl2@example.com");
    json_decref(m);
    assert_int_equal(s_sms_to("+12025550105", NULL), 0);

    //  Quiet hours: at 22:00 in the tenant's zone the text waits for 08:00.
    harness_zone_at(22, zone, sizeof zone);
    snprintf(settings, sizeof settings, "{\"timeZone\":\"%s\"}", zone);
    s_settings(h->key_a, settings);
    char contact3[64], lead3[64];
    s_contact("+12025550106", true, "maria.stl3@example.com", contact3);
    s_chat_lead(contact3, lead3);
    m = s_lead_message(lead3, 5000);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(m, "id")));
    json_decref(m);
    char path[128];
    snprintf(path, sizeof path, "/v1/messages/%s", id);
    bool deferred = false;
    for (int i = 0; i < 100 && !deferred; i++) {
        harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
        deferred = strstr(r.body, "quiet hours") != NULL;
        if (deferred)
            assert_string_equal(harness_json_str(&r, "status"), "queued");
        harness_response_free(&r);
        zclock_sleep(50);
    }
    assert_true(deferred);
    assert_int_equal(s_sms_to("+12025550106", NULL), 0);
    char path0[160];
    snprintf(path0, sizeof path0, "/v1/messages?leadId=%s", lead0);
    harness_response_t r0 = harness_http("GET", path0, h->key_a, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r0.json, "items")), 0);
    harness_response_free(&r0);
    assert_int_equal(s_sms_to("+12025550114", NULL), 0);
    harness_zone_at(12, zone, sizeof zone);
    snprintf(settings, sizeof settings, "{\"timeZone\":\"%s\"}", zone);
    s_settings(h->key_a, settings);
}

static void test_stop_start_help(void **state) {
    (void)state;
    char contact[64], id[64], body[512];
    s_contact("+12025550107", true, "maria.stop@example.com", contact);
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"channel\":\"sms\",\"bodyText\":\"First\"}",
             contact);
    s_send_ok(body, id);
    json_decref(s_wait_status(id, "sent", 10000));

    harness_response_t r = harness_sms_inbound("+12025550107", h->sms_from, " stop ");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    //  Nothing more to that number, from the webhook's answer on.
    r = s_send(body);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(r.body, "opted_out"));
    harness_response_free(&r);
    //  The contacts service records it: doNotContact.sms, by an SMS keyword.
    char path[160];
    snprintf(path, sizeof path, "/v1/contacts/%s/communication/history", contact);
    bool recorded = false;
    for (int i = 0; i < 100 && !recorded; i++) {
        r = harness_http("GET", path, h->key_a, NULL, NULL);
        recorded =
            r.status == 200 && strstr(r.body, "\"sms_stop\"") && strstr(r.body, "doNotContact.sms");
        harness_response_free(&r);
        if (!recorded)
            zclock_sleep(50);
    }
    assert_true(recorded);

    //  START: texts go again (once the contacts service has lifted doNotContact.sms
    //  and notify heard of it).
    r = harness_sms_inbound("+12025550107", h->sms_from, "START");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    //  (the contacts service's two changes reach notify in order: wait for the second)
    recorded = false;
    for (int i = 0; i < 200 && !recorded; i++) {
        r = harness_http("GET", path, h->key_a, NULL, NULL);
        recorded = r.status == 200 && strstr(r.body, "texted START");
        harness_response_free(&r);
        if (!recorded)
            zclock_sleep(25);
    }
    assert_true(recorded);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM notify.recipients WHERE contact_id = '%s' AND NOT dnc_sms",
             contact);
    for (int i = 0; i < 200 && harness_sql_scalar(sql) < 1; i++)
        zclock_sleep(25);
    for (int i = 0; i < 100; i++) {
        r = s_send(body);
        if (r.status != 422)
            break;
        harness_response_free(&r);
        zclock_sleep(50);
    }
    assert_int_equal(r.status, 201);
    snprintf(id, sizeof id, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    json_decref(s_wait_status(id, "sent", 10000));
    assert_int_equal(s_sms_to("+12025550107", NULL), 2);

    s_settings(h->key_a, "{\"helpText\":\"Lakeside Motors: call 555-0100. Reply STOP to stop.\"}");
    r = harness_sms_inbound("+12025550107", h->sms_from, "help");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "<Message>Lakeside Motors: call 555-0100."));
    harness_response_free(&r);
}

static void test_reply_is_kept(void **state) {
    (void)state;
    char contact[64], lead[64];
    char zone[32], settings[128];
    harness_zone_at(22, zone, sizeof zone); // the auto-reply waits: the reply withdraws it
    snprintf(settings, sizeof settings, "{\"timeZone\":\"%s\"}", zone);
    s_settings(h->key_a, settings);
    s_contact("+12025550108", true, "maria.reply@example.com", contact);
    s_chat_lead(contact, lead);
    json_t *m = s_lead_message(lead, 5000);
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(m, "id")));
    json_decref(m);
    harness_response_t r =
        harness_sms_inbound("+12025550108", h->sms_from, "Is it still available?");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    m = s_wait_status(id, "cancelled", 5000);
    assert_string_equal(json_string_value(json_object_get(m, "reason")), "customer_replied");
    json_decref(m);
    harness_zone_at(12, zone, sizeof zone);
    snprintf(settings, sizeof settings, "{\"timeZone\":\"%s\"}", zone);
    s_settings(h->key_a, settings);
}

//  A contact (phone, email) with marketing email consent, sent one marketing email
//  through the API: *body the send's request (to send again), returns the email as the
//  SMTP sink stored it (caller frees).
static char *s_marketing_email(const char *phone, const char *email, char *body, size_t size) {
    char contact[64], id[64], path[160];
    s_contact(phone, false, email, contact);
    snprintf(path, sizeof path, "/v1/contacts/%s/consents", contact);
    harness_response_t r =
        harness_http("POST", path, h->key_a,
                     "{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,"
                     "\"method\":\"web_form\"}",
                     NULL);
    if (r.status / 100 != 2)
        fprintf(stderr, "consent: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status / 100, 2);
    harness_response_free(&r);
    snprintf(body, size,
             "{\"contactId\":\"%s\",\"channel\":\"email\",\"purpose\":\"marketing\","
             "\"subject\":\"Spring sale\",\"bodyText\":\"Deals!\"}",
             contact);
    json_t *sent = harness_mail_messages();
    size_t before = json_array_size(sent);
    json_decref(sent);
    //  (notify hears of the consent a moment after it is recorded)
    for (int i = 0; i < 100; i++) {
        r = s_send(body);
        if (r.status == 201)
            break;
        harness_response_free(&r);
        zclock_sleep(50);
    }
    assert_int_equal(r.status, 201);
    snprintf(id, sizeof id, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    json_decref(s_wait_status(id, "sent", 10000));
    assert_true(harness_wait_mail(before + 1, 5000));
    json_t *mail = harness_mail_messages();
    char *raw = strdup(json_string_value(
        json_object_get(json_array_get(mail, json_array_size(mail) - 1), "raw")));
    json_decref(mail);
    return raw;
}

static void test_unsubscribe(void **state) {
    (void)state;
    char body[512];
    //  Marketing email needs the consent.
    char *raw = s_marketing_email("+12025550109", "maria.unsub@example.com", body, sizeof body);
    assert_non_null(strstr(raw, "List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    const char *link = strstr(raw, "/v1/unsubscribe/");
    assert_non_null(link);
    char unsubscribe[256];
    size_t n = strcspn(link, ">\r\n \"");
    snprintf(unsubscribe, sizeof unsubscribe, "%.*s", (int)n, link);
    free(raw);
    harness_response_t r;

    //  The GET page changes nothing; the one-click POST unsubscribes.
    r = harness_http("GET", unsubscribe, NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "<form method=\"post\""));
    harness_response_free(&r);
    static const char *const form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    r = harness_http("POST", unsubscribe, NULL, "List-Unsubscribe=One-Click", form);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = s_send(body);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(r.body, "unsubscribed"));
    harness_response_free(&r);
    //  A token that was not made by notify is 404.
    r = harness_http("POST",
                     "/v1/unsubscribe/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL,
                     "List-Unsubscribe=One-Click", form);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
}

//  Pipe message into `crmctl notify unsubscribe-mail` as the mail server would; its exit
//  status.
static int s_unsubscribe_mail(const char *message) {
    char path[300], cmd[1024];
    snprintf(path, sizeof path, "%s/unsubscribe.eml", h->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(message, f);
    fclose(f);
    const char *bin = getenv("CRM_BIN_DIR") ? getenv("CRM_BIN_DIR") : "build/bin";
    snprintf(cmd, sizeof cmd,
             "env -u CRM_CONFIG CRM_BROKER_ENDPOINT='%s' '%s/crmctl' notify unsubscribe-mail"
             " < '%s' > /dev/null",
             h->broker, bin, path);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

//  A marketing email's List-Unsubscribe mailto (notify.unsubscribe_mailbox): the
//  customer's mail program emails the mailbox with the Subject it names, the mail server
//  pipes that to crmctl, and the address is out of marketing email. A message without a
//  token, or with one notify did not make, is refused for the mail server to bounce.
static void test_unsubscribe_by_mail(void **state) {
    (void)state;
    char body[512];
    char *raw = s_marketing_email("+12025550110", "maria.mailto@example.com", body, sizeof body);
    harness_response_t r;

    //  The header offers the link and the mailto, whose Subject carries the token.
    const char *mailto = strstr(raw, "<mailto:" S_MAILBOX "?subject=unsubscribe%20");
    assert_non_null(mailto);
    assert_non_null(strstr(raw, "List-Unsubscribe: <http"));
    const char *start = mailto + strlen("<mailto:" S_MAILBOX "?subject=unsubscribe%20");
    char token[128];
    size_t n = strcspn(start, ">");
    assert_true(n > 20 && n < sizeof token);
    snprintf(token, sizeof token, "%.*s", (int)n, start);
    free(raw);

    //  No token, and a token notify did not make: 65 (the mail server bounces them).
    assert_int_equal(s_unsubscribe_mail("From: maria.mailto@example.com\r\nTo: " S_MAILBOX
                                        "\r\nSubject: please stop\r\n\r\nstop\r\n"),
                     65);
    assert_int_equal(s_unsubscribe_mail("From: maria.mailto@example.com\r\nTo: " S_MAILBOX
                                        "\r\nSubject: unsubscribe "
                                        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                                        "\r\n\r\n"),
                     65);
    r = s_send(body);
    assert_int_equal(r.status, 201); // still subscribed
    harness_response_free(&r);

    //  The customer's reply, as a mail program may write it: "Re:", the Subject folded
    //  and the token in an encoded word ('_' is a space there: the token's own are =5F).
    char encoded[256] = "", message[1024];
    for (const char *c = token; *c; c++)
        snprintf(encoded + strlen(encoded), sizeof encoded - strlen(encoded), "%s",
                 *c == '_' ? "=5F" : (char[]){*c, 0});
    snprintf(message, sizeof message,
             "From: Maria <maria.mailto@example.com>\r\nTo: " S_MAILBOX "\r\n"
             "Subject: Re:\r\n =?UTF-8?Q?unsubscribe_%s?=\r\nMIME-Version: 1.0\r\n"
             "Content-Type: text/plain; charset=UTF-8\r\n\r\nunsubscribe\r\n",
             encoded);
    assert_int_equal(s_unsubscribe_mail(message), 0);
    r = s_send(body);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(r.body, "unsubscribed"));
    harness_response_free(&r);
    //  Again (the mail server delivering twice): still done.
    assert_int_equal(s_unsubscribe_mail(message), 0);
}

static void test_forged_callback(void **state) {
    (void)state;
    char contact[64], id[64], body[512], path[256];
    s_contact("+12025550110", true, "maria.forged@example.com", contact);
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"channel\":\"sms\",\"bodyText\":\"Hello\"}",
             contact);
    s_send_ok(body, id);
    json_decref(s_wait_status(id, "delivered", 10000));
    snprintf(path, sizeof path, "/v1/webhooks/sms/status?tenant=tenant-a&message=%s", id);
    static const char *const forged[] = {
        "Content-Type: application/x-www-form-urlencoded",
        "X-Twilio-Signature: bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==", NULL};
    harness_response_t r =
        harness_http("POST", path, NULL, "MessageStatus=failed&ErrorCode=30003", forged);
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
    static const char *const unsigned_[] = {"Content-Type: application/x-www-form-urlencoded",
                                            NULL};
    r = harness_http("POST", "/v1/webhooks/sms/inbound", NULL,
                     "From=%2B12025550110&To=%2B15005550006&Body=STOP&MessageSid=SMx", unsigned_);
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
    //  Still delivered, and still textable.
    json_decref(s_wait_status(id, "delivered", 1000));
    s_send_ok(body, id);
}

static void test_dead_letter_and_retry(void **state) {
    (void)state;
    char contact[64], id[64], body[512], path[160];
    s_contact("+12025550111", true, "maria.dead@example.com", contact);
    assert_int_equal(harness_sms_mode("{\"mode\":\"500\",\"count\":0}"), 0);
    snprintf(body, sizeof body,
             "{\"contactId\":\"%s\",\"channel\":\"sms\",\"bodyText\":\"Retry me\"}", contact);
    s_send_ok(body, id);
    json_t *m = s_wait_status(id, "dead", 15000);
    assert_int_equal(json_integer_value(json_object_get(m, "attempts")), 3);
    json_decref(m);
    harness_response_t r = harness_http("GET", "/v1/messages?status=dead", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, id));
    harness_response_free(&r);
    assert_int_equal(harness_sms_mode("{\"mode\":\"ok\"}"), 0);
    snprintf(path, sizeof path, "/v1/messages/%s/retry", id);
    r = harness_http("POST", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    json_decref(s_wait_status(id, "delivered", 10000));
    assert_int_equal(s_sms_to("+12025550111", NULL), 1);
    //  Only a dead, failed or unknown message can be retried.
    r = harness_http("POST", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 409);
    harness_response_free(&r);
}

static void test_dropped_connection_sends_once(void **state) {
    (void)state;
    //  After the provider read (and kept) the request: the callback settles it.
    char contact[64], id[64], body[512];
    s_contact("+12025550112", true, "maria.drop@example.com", contact);
    assert_int_equal(harness_sms_mode("{\"mode\":\"drop_after_read\",\"count\":1}"), 0);
    snprintf(body, sizeof body,
             "{\"contactId\":\"%s\",\"channel\":\"sms\",\"bodyText\":\"Once only\"}", contact);
    s_send_ok(body, id);
    json_decref(s_wait_status(id, "delivered", 20000));
    assert_int_equal(s_sms_to("+12025550112", NULL), 1);

    //  Before the provider read it: nothing there, so it is sent again, once.
    char contact2[64];
    s_contact("+12025550113", true, "maria.drop2@example.com", contact2);
    assert_int_equal(harness_sms_mode("{\"mode\":\"drop_before_read\",\"count\":1}"), 0);
    snprintf(body, sizeof body,
             "{\"contactId\":\"%s\",\"channel\":\"sms\",\"bodyText\":\"Once again\"}", contact2);
    s_send_ok(body, id);
    json_decref(s_wait_status(id, "delivered", 30000));
    assert_int_equal(s_sms_to("+12025550113", NULL), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sms_sent_and_delivered),
        cmocka_unit_test(test_email_sent),
        cmocka_unit_test(test_no_permitted_line),
        cmocka_unit_test(test_speed_to_lead),
        cmocka_unit_test(test_stop_start_help),
        cmocka_unit_test(test_reply_is_kept),
        cmocka_unit_test(test_unsubscribe),
        cmocka_unit_test(test_unsubscribe_by_mail),
        cmocka_unit_test(test_forged_callback),
        cmocka_unit_test(test_dead_letter_and_retry),
        cmocka_unit_test(test_dropped_connection_sends_once),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
