/*  System tests of campaigns (POST /v1/campaigns and the contacts' bulk send_email), the
    whole suite driven over HTTP with the real SMTP sink (tests/system/harness.h).

    Thirty contacts carry the tag Spring, each with an address of its own consent; twenty
    of them granted the email marketing consent (POST /v1/contacts/{id}/consents); of
    those, one is not to be emailed (doNotContact.email) and one address unsubscribed
    (as the one-click link records it, in notify's own list).

    - bad input is 422 naming the field (the template's channel and purpose, the
      selection, a filter the contacts list refuses), 403 for a salesperson (a campaign
      or the contacts' bulk send_email);
    - a campaign by filter (the tag and the consent) sends exactly to the eighteen
      permitted contacts, each email with its List-Unsubscribe, and its progress counts
      twenty recipients, eighteen sent, two suppressed by reason;
    - a campaign by ids: a contact without the consent is suppressed (no_consent);
    - a person's message goes before a campaign's queue; a cancel stops the queued
      messages (no email for them), and a completed campaign cannot be cancelled;
    - the bulk send_email (with reachable: the do-not-contact one is not even chosen)
      makes the same campaign, answered 202 with its id.

    The senders are slowed (5 emails a second, 2 claimed at a time) so that a campaign
    is still sending when the tests look.
*/
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <czmq.h>
#include <string.h>

#define CONTACTS 30
#define CONSENTED 20
#define DNC 0          // the consented contact not to be emailed
#define UNSUBSCRIBED 1 // the consented contact whose address unsubscribed

static harness_t *h;
static char s_contacts[CONTACTS][64];
static char s_marketing[64], s_transactional[64], s_sms[64];
static char s_key_sales[64];

static char *s_address(int i, char *out, size_t size) {
    snprintf(out, size, "spring-%02d@example.com", i);
    return out;
}

//  An HTTP call that must answer status; the answer (the caller frees it).
static harness_response_t s_call(const char *method, const char *path, const char *key,
                                 const char *body, long status) {
    harness_response_t r = harness_http(method, path, key, body, NULL);
    if (r.status != status)
        fprintf(stderr, "%s %s: %ld %s\n", method, path, r.status, r.body);
    assert_int_equal(r.status, status);
    return r;
}

static void s_template(const char *body, char id[64]) {
    harness_response_t r = s_call("POST", "/v1/templates", h->key_a, body, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

static int s_setup(void **state) {
    (void)state;
    static const char *const env[] = {"CRM_NOTIFY_EMAIL_PER_SECOND=5", "CRM_NOTIFY_SEND_BATCH=2",
                                      "CRM_NOTIFY_DEALERSHIP_NAME=Lakeside Motors", NULL};
    h = harness_start(env);
    harness_create_key("tenant-a", "sales", s_key_sales, sizeof s_key_sales);
    harness_response_free(
        (harness_response_t[]){s_call("POST", "/v1/tags", h->key_a, "{\"name\":\"Spring\"}", 201)});
    s_template("{\"name\":\"Spring sale\",\"channel\":\"email\",\"purpose\":\"marketing\","
               "\"subject\":\"Spring sale, {{contact.firstName}}\","
               "\"bodyText\":\"Hi {{contact.firstName}}, the spring sale at "
               "{{dealership.name}} starts now.\"}",
               s_marketing);
    s_template("{\"name\":\"Receipt\",\"channel\":\"email\",\"purpose\":\"transactional\","
               "\"subject\":\"Your receipt\",\"bodyText\":\"Thanks.\"}",
               s_transactional);
    s_template("{\"name\":\"Spring text\",\"channel\":\"sms\",\"purpose\":\"marketing\","
               "\"bodyText\":\"Spring sale!\"}",
               s_sms);
    for (int i = 0; i < CONTACTS; i++) {
        char body[512], address[64], path[128];
        snprintf(body, sizeof body,
                 "{\"kind\":\"person\",\"firstName\":\"Ann%02d\",\"lastName\":\"Spring\","
                 "\"tags\":[\"Spring\"],\"emails\":[{\"address\":\"%s\",\"consent\":true}]}",
                 i, s_address(i, address, sizeof address));
        harness_response_t r = s_call("POST", "/v1/contacts", h->key_a, body, 201);
        snprintf(s_contacts[i], sizeof s_contacts[i], "%s", harness_json_str(&r, "id"));
        harness_response_free(&r);
        if (i >= CONSENTED)
            continue;
        snprintf(path, sizeof path, "/v1/contacts/%.36s/consents", s_contacts[i]);
        r = harness_http("POST", path, h->key_a,
                         "{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,"
                         "\"method\":\"web_form\"}",
                         NULL);
        assert_int_equal(r.status / 100, 2);
        harness_response_free(&r);
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%.36s/communication", s_contacts[DNC]);
    harness_response_free(
        (harness_response_t[]){s_call("PATCH", path, h->key_a,
                                      "{\"doNotContact\":{\"email\":true},\"method\":\"verbal\","
                                      "\"reason\":\"asked not to be emailed\"}",
                                      200)});
    char sql[256], address[64];
    snprintf(sql, sizeof sql,
             "INSERT INTO notify.email_unsubscribes (tenant_id, address) VALUES ('tenant-a', '%s')",
             s_address(UNSUBSCRIBED, address, sizeof address));
    assert_int_equal(harness_sql_exec(sql), 0);
    //  notify's copy of the contacts has caught up: the consents and the flag.
    int64_t until = zclock_mono() + 20000;
    for (;;) {
        long long granted = harness_sql_scalar(
            "SELECT count(*) FROM notify.recipients WHERE tenant_id = 'tenant-a'"
            " AND last_name = 'Spring' AND consents->>'email:marketing' = 'granted'");
        long long flagged =
            harness_sql_scalar("SELECT count(*) FROM notify.recipients WHERE tenant_id = "
                               "'tenant-a' AND last_name = 'Spring' AND dnc_email");
        if (granted == CONSENTED && flagged == 1)
            break;
        assert_true(zclock_mono() < until);
        zclock_sleep(50);
    }
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  A campaign created with body (201); its id into id.
static void s_create(const char *body, char id[64]) {
    harness_response_t r = s_call("POST", "/v1/campaigns", h->key_a, body, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

static json_t *s_get(const char *id) {
    char path[128];
    snprintf(path, sizeof path, "/v1/campaigns/%s", id);
    harness_response_t r = s_call("GET", path, h->key_a, NULL, 200);
    json_t *c = json_incref(r.json);
    harness_response_free(&r);
    return c;
}

static long long s_count(json_t *campaign, const char *what) {
    return json_integer_value(json_object_get(json_object_get(campaign, "progress"), what));
}

//  How many of campaign's messages were suppressed for reason.
static long long s_suppressed(json_t *campaign, const char *reason) {
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(json_object_get(campaign, "progress"), "suppressedByReason"),
                       i, r) {
        if (strcmp(json_string_value(json_object_get(r, "reason")), reason) == 0)
            return json_integer_value(json_object_get(r, "count"));
    }
    return 0;
}

//  The campaign once its status is status (waiting up to timeout_ms).
static json_t *s_wait(const char *id, const char *status, int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    for (;;) {
        json_t *c = s_get(id);
        if (strcmp(json_string_value(json_object_get(c, "status")), status) == 0)
            return c;
        if (zclock_mono() > until) {
            char *text = json_dumps(c, JSON_COMPACT);
            fprintf(stderr, "campaign %s is not %s: %s\n", id, status, text);
            free(text);
            fail();
        }
        json_decref(c);
        zclock_sleep(100);
    }
}

//  The emails the sink received from index from on, to address (NULL: any).
static size_t s_mails_to(size_t from, const char *address, json_t **last) {
    json_t *all = harness_mail_messages();
    size_t n = 0;
    for (size_t i = from; i < json_array_size(all); i++) {
        json_t *m = json_array_get(all, i);
        char *tos = json_dumps(json_object_get(m, "rcpt_tos"), JSON_COMPACT);
        bool to = !address || strstr(tos, address);
        free(tos);
        if (!to)
            continue;
        n++;
        if (last) {
            json_decref(*last);
            *last = json_incref(m);
        }
    }
    json_decref(all);
    return n;
}

static size_t s_mail_count(void) {
    json_t *all = harness_mail_messages();
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

//  A 422 naming field first.
static void s_refused(const char *path, const char *key, const char *body, const char *field) {
    harness_response_t r = s_call("POST", path, key, body, 422);
    if (strcmp(harness_error_field(&r), field) != 0)
        fprintf(stderr, "expected field %s: %s\n", field, r.body);
    assert_string_equal(harness_error_field(&r), field);
    harness_response_free(&r);
}

static void test_bad_input(void **state) {
    (void)state;
    char body[512];
    s_refused("/v1/campaigns", h->key_a, "{\"contactIds\":[]}", "templateId");
    snprintf(body, sizeof body, "{\"templateId\":\"%s\",\"contactIds\":[\"%s\"]}", s_sms,
             s_contacts[2]);
    s_refused("/v1/campaigns", h->key_a, body, "templateId"); // an SMS template
    snprintf(body, sizeof body, "{\"templateId\":\"%s\",\"contactIds\":[\"%s\"]}", s_transactional,
             s_contacts[2]);
    s_refused("/v1/campaigns", h->key_a, body, "templateId"); // not marketing
    snprintf(body, sizeof body, "{\"templateId\":\"%s\"}", s_marketing);
    s_refused("/v1/campaigns", h->key_a, body, "contactIds"); // nobody
    snprintf(body, sizeof body,
             "{\"templateId\":\"%s\",\"contactIds\":[\"%s\"],\"filter\":{\"tag\":\"Spring\"}}",
             s_marketing, s_contacts[2]);
    s_refused("/v1/campaigns", h->key_a, body, "filter"); // both
    snprintf(body, sizeof body, "{\"templateId\":\"%s\",\"contactIds\":[\"%s\",\"nope\"]}",
             s_marketing, s_contacts[2]);
    s_refused("/v1/campaigns", h->key_a, body, "contactIds[1]");
    //  The contacts list's own rules.
    snprintf(body, sizeof body, "{\"templateId\":\"%s\",\"filter\":{\"consentChannel\":\"email\"}}",
             s_marketing);
    s_refused("/v1/campaigns", h->key_a, body, "filter.consentPurpose");
    //  Managers and admins start campaigns; anyone reads them.
    snprintf(body, sizeof body, "{\"templateId\":\"%s\",\"contactIds\":[\"%s\"]}", s_marketing,
             s_contacts[2]);
    harness_response_free(
        (harness_response_t[]){s_call("POST", "/v1/campaigns", s_key_sales, body, 403)});
    harness_response_free(
        (harness_response_t[]){s_call("GET", "/v1/campaigns", h->key_analyst, NULL, 200)});
    //  The bulk action: its own fields, and the notify service's in the bulk's names.
    s_refused("/v1/contacts/bulk", h->key_a,
              "{\"action\":\"send_email\",\"filter\":{\"tag\":\"Spring\"}}", "templateId");
    snprintf(body, sizeof body,
             "{\"action\":\"send_email\",\"templateId\":\"%s\",\"filter\":{\"tag\":\"Spring\"}}",
             s_sms);
    s_refused("/v1/contacts/bulk", h->key_a, body, "templateId");
    snprintf(body, sizeof body,
             "{\"action\":\"send_email\",\"templateId\":\"%s\",\"filter\":{\"tag\":\"Spring\"}}",
             s_marketing);
    //  A salesperson may not send a campaign: 403, as for POST /v1/campaigns.
    harness_response_free((harness_response_t[]){
        s_call("POST", "/v1/contacts/bulk", s_key_sales, body, 403)});
    snprintf(body, sizeof body,
             "{\"action\":\"send_email\",\"templateId\":\"%s\","
             "\"filter\":{\"consentChannel\":\"email\"}}",
             s_marketing);
    s_refused("/v1/contacts/bulk", h->key_a, body, "filter.consentPurpose");
    //  Nothing was made.
    harness_response_t r = s_call("GET", "/v1/campaigns", h->key_a, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    harness_response_free(&r);
}

static void test_campaign_by_filter(void **state) {
    (void)state;
    size_t before = s_mail_count();
    char id[64], body[512];
    snprintf(body, sizeof body,
             "{\"templateId\":\"%s\",\"filter\":{\"tag\":\"Spring\",\"consentChannel\":\"email\","
             "\"consentPurpose\":\"marketing\"}}",
             s_marketing);
    s_create(body, id);
    json_t *c = s_wait(id, "completed", 30000);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "Spring sale");
    assert_int_equal(s_count(c, "recipients"), CONSENTED);
    assert_int_equal(s_count(c, "sent"), CONSENTED - 2);
    assert_int_equal(s_count(c, "suppressed"), 2);
    assert_int_equal(s_suppressed(c, "do_not_contact"), 1);
    assert_int_equal(s_suppressed(c, "unsubscribed"), 1);
    assert_int_equal(s_count(c, "queued"), 0);
    assert_int_equal(s_count(c, "failed"), 0);
    assert_true(json_string_length(json_object_get(c, "resolvedAt")) > 0);
    json_decref(c);

    //  Exactly the permitted ones, once each, with the one-click unsubscribe.
    assert_int_equal(s_mails_to(before, NULL, NULL), CONSENTED - 2);
    for (int i = 0; i < CONTACTS; i++) {
        char address[64];
        json_t *mail = NULL;
        size_t n = s_mails_to(before, s_address(i, address, sizeof address), &mail);
        bool permitted = i < CONSENTED && i != DNC && i != UNSUBSCRIBED;
        if (n != (permitted ? 1u : 0u))
            fail_msg("contact %d got %zu emails", i, n);
        if (permitted) {
            const char *raw = json_string_value(json_object_get(mail, "raw"));
            assert_non_null(strstr(raw, "List-Unsubscribe: <"));
            assert_non_null(strstr(raw, "List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
            char subject[64];
            snprintf(subject, sizeof subject, "Spring sale, Ann%02d", i);
            assert_string_equal(json_string_value(json_object_get(mail, "subject")), subject);
        }
        json_decref(mail);
    }
    //  A restart of its job would find every key queued: the messages are one each.
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT (count(DISTINCT contact_id) = count(*))::int FROM notify.messages"
             " WHERE campaign_id = '%s' AND trigger = 'campaign' AND purpose = 'marketing'",
             id);
    assert_int_equal(harness_sql_scalar(sql), 1);
}

static void test_campaign_by_ids(void **state) {
    (void)state;
    size_t before = s_mail_count();
    char id[64], body[512];
    //  Two who consented, one who did not (the same id twice is one recipient).
    snprintf(body, sizeof body,
             "{\"name\":\"Three\",\"templateId\":\"%s\",\"contactIds\":[\"%s\",\"%s\",\"%s\","
             "\"%s\"]}",
             s_marketing, s_contacts[2], s_contacts[3], s_contacts[CONSENTED], s_contacts[2]);
    s_create(body, id);
    json_t *c = s_wait(id, "completed", 20000);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "Three");
    assert_int_equal(json_array_size(json_object_get(c, "contactIds")), 4);
    assert_int_equal(s_count(c, "recipients"), 3);
    assert_int_equal(s_count(c, "sent"), 2);
    assert_int_equal(s_suppressed(c, "no_consent"), 1);
    json_decref(c);
    assert_int_equal(s_mails_to(before, NULL, NULL), 2);

    //  The list: newest first, with the progress.
    harness_response_t r = s_call("GET", "/v1/campaigns?limit=1", h->key_a, NULL, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), id);
    assert_int_equal(s_count(json_array_get(items, 0), "sent"), 2);
    assert_true(json_string_length(json_object_get(r.json, "nextCursor")) > 0);
    harness_response_free(&r);

    //  A completed campaign cannot be cancelled.
    char path[128];
    snprintf(path, sizeof path, "/v1/campaigns/%s/cancel", id);
    harness_response_free((harness_response_t[]){s_call("POST", path, h->key_a, NULL, 409)});
}

static void test_cancel_and_priority(void **state) {
    (void)state;
    size_t before = s_mail_count();
    //  Every permitted contact; five emails a second: it takes a few seconds.
    char body[2048], id[64];
    int n = snprintf(body, sizeof body,
                     "{\"name\":\"Cancelled\",\"templateId\":\"%s\","
                     "\"contactIds\":[",
                     s_marketing);
    int permitted = 0;
    for (int i = 0; i < CONSENTED; i++)
        if (i != DNC && i != UNSUBSCRIBED) {
            n += snprintf(body + n, sizeof body - (size_t)n, "%s\"%s\"", permitted ? "," : "",
                          s_contacts[i]);
            permitted++;
        }
    snprintf(body + n, sizeof body - (size_t)n, "]}");
    s_create(body, id);
    int64_t until = zclock_mono() + 10000;
    for (;;) {
        json_t *c = s_get(id);
        long long recipients = s_count(c, "recipients");
        json_decref(c);
        if (recipients == permitted)
            break;
        assert_true(zclock_mono() < until);
        zclock_sleep(20);
    }
    //  A person's message is claimed before the campaign's queue.
    char message[512];
    snprintf(message, sizeof message,
             "{\"contactId\":\"%s\",\"channel\":\"email\",\"templateId\":\"%s\"}",
             s_contacts[CONSENTED + 1], s_transactional);
    harness_response_t r = s_call("POST", "/v1/messages", h->key_a, message, 201);
    char path[128];
    snprintf(path, sizeof path, "/v1/messages/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    until = zclock_mono() + 10000;
    for (;;) {
        r = s_call("GET", path, h->key_a, NULL, 200);
        bool sent = strcmp(harness_json_str(&r, "status"), "sent") == 0;
        harness_response_free(&r);
        if (sent)
            break;
        assert_true(zclock_mono() < until);
        zclock_sleep(20);
    }
    json_t *c = s_get(id);
    assert_true(s_count(c, "queued") > 0); // the campaign is still going
    json_decref(c);

    //  Cancel: the queued ones never go.
    snprintf(path, sizeof path, "/v1/campaigns/%s/cancel", id);
    r = s_call("POST", path, h->key_a, NULL, 200);
    assert_string_equal(harness_json_str(&r, "status"), "cancelled");
    harness_response_free(&r);
    harness_response_free((harness_response_t[]){s_call("POST", path, s_key_sales, NULL, 403)});
    r = s_call("POST", path, h->key_a, NULL, 200); // again: the same
    assert_string_equal(harness_json_str(&r, "status"), "cancelled");
    harness_response_free(&r);
    //  (one being handed to the SMTP server at that moment still goes)
    until = zclock_mono() + 5000;
    for (;;) {
        c = s_get(id);
        if (s_count(c, "queued") == 0)
            break;
        json_decref(c);
        assert_true(zclock_mono() < until);
        zclock_sleep(50);
    }
    long long sent = s_count(c, "sent"), cancelled = s_count(c, "cancelled");
    assert_true(cancelled > 0);
    assert_int_equal(sent + cancelled, permitted);
    assert_true(json_string_length(json_object_get(c, "cancelledAt")) > 0);
    json_decref(c);
    zclock_sleep(1000); // nothing more goes out
    char address[64];
    size_t campaign_mails =
        s_mails_to(before, NULL, NULL) -
        s_mails_to(before, s_address(CONSENTED + 1, address, sizeof address), NULL);
    assert_int_equal(campaign_mails, (size_t)sent);
}

static void test_bulk_send_email(void **state) {
    (void)state;
    size_t before = s_mail_count();
    char body[512];
    snprintf(body, sizeof body,
             "{\"action\":\"send_email\",\"templateId\":\"%s\",\"campaignName\":\"From the list\","
             "\"filter\":{\"tag\":\"Spring\",\"consentChannel\":\"email\","
             "\"consentPurpose\":\"marketing\",\"reachable\":true}}",
             s_marketing);
    harness_response_t r = s_call("POST", "/v1/contacts/bulk", h->key_a, body, 202);
    assert_string_equal(harness_json_str(&r, "kind"), "campaign");
    assert_string_equal(harness_json_str(&r, "action"), "send_email");
    char id[64];
    snprintf(id, sizeof id, "%s", harness_json_str(&r, "campaignId"));
    assert_string_equal(harness_json_str(&r, "id"), id);
    harness_response_free(&r);
    json_t *c = s_wait(id, "completed", 30000);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "From the list");
    //  reachable: the contact not to be emailed is not chosen at all.
    assert_int_equal(s_count(c, "recipients"), CONSENTED - 1);
    assert_int_equal(s_count(c, "sent"), CONSENTED - 2);
    assert_int_equal(s_suppressed(c, "unsubscribed"), 1);
    assert_int_equal(s_suppressed(c, "do_not_contact"), 0);
    json_decref(c);
    assert_int_equal(s_mails_to(before, NULL, NULL), CONSENTED - 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),       cmocka_unit_test(test_campaign_by_filter),
        cmocka_unit_test(test_campaign_by_ids), cmocka_unit_test(test_cancel_and_priority),
        cmocka_unit_test(test_bulk_send_email),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
