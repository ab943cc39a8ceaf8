/*  System tests of POST /v1/leads/from-chat: the visitor's contact found by email or
    phone or created, the lead with the transcript as its first activity, a chat sent
    twice making one lead, tenants kept apart, and bad input writing nothing anywhere. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "systest_sql.h"

static harness_t *h;

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

#define TRANSCRIPT                                                                            \
    "\"transcript\":[{\"from\":\"visitor\",\"text\":\"Is the blue RAV4 still there?\"},"      \
    "{\"from\":\"agent\",\"text\":\"It is! Want to come by Saturday?\"}]"

//  Everything written anywhere: leads, activities, chats, contacts, both outboxes.
static long long s_writes(void) {
    sql_scores_settled(); // the score on a lead is written after each change of it
    return sql_scalar("SELECT (SELECT count(*) FROM leads.leads)"
                      " + (SELECT count(*) FROM leads.activities)"
                      " + (SELECT count(*) FROM leads.chats)"
                      " + " SQL_LEADS_OUTBOX_OWN
                      " + (SELECT count(*) FROM contacts.contacts)"
                      " + (SELECT count(*) FROM contacts.outbox)");
}

static void test_new_visitor_makes_contact_and_lead(void **state) {
    (void)state;
    harness_response_t r = harness_http(
        "POST", "/v1/leads/from-chat", h->key_a,
        "{\"chatId\":\"chat-1001\",\"visitor\":{\"firstName\":\"Nia\",\"lastName\":\"Okafor\","
        "\"email\":\"nia.okafor@example.com\",\"phone\":\"(202) 555-0177\"},"
        "\"vehicle\":{\"year\":2025,\"make\":\"Toyota\",\"model\":\"RAV4\",\"condition\":\"new\"},"
        "\"budgetMaxCents\":3800000,\"timeline\":\"within_month\",\"notes\":\"Wants Saturday\","
        TRANSCRIPT "}",
        NULL);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.body, "\"contactCreated\":true"));
    assert_non_null(strstr(r.body, "\"source\":\"chat\""));
    assert_non_null(strstr(r.body, "\"model\":\"RAV4\""));
    assert_non_null(strstr(r.body, "\"status\":\"new\""));
    char lead[64], activity[64];
    snprintf(activity, sizeof activity, "%s", harness_json_str(&r, "activityId"));
    const char *lead_at = strstr(r.body, "\"lead\":{\"id\":\"");
    assert_non_null(lead_at);
    snprintf(lead, sizeof lead, "%.36s", lead_at + strlen("\"lead\":{\"id\":\""));
    harness_response_free(&r);

    //  The contact: created by the contacts service, source chat, phone in E.164.
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts.contacts c JOIN leads.leads l"
             " ON l.contact_id = c.id AND l.tenant_id = c.tenant_id"
             " WHERE l.id = '%s' AND c.source = 'chat' AND c.first_name = 'Nia'"
             " AND c.phones::text LIKE '%%+12025550177%%'",
             lead);
    assert_int_equal(sql_scalar(sql), 1);

    //  The transcript is the lead's first activity, a chat, with its event.
    char path[160];
    snprintf(path, sizeof path, "/v1/leads/%s/activities", lead);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, activity));
    assert_non_null(strstr(r.body, "\"kind\":\"chat\""));
    assert_non_null(strstr(r.body, "Is the blue RAV4 still there?"));
    assert_non_null(strstr(r.body, "Wants Saturday"));
    harness_response_free(&r);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.outbox WHERE type IN ('LeadCreated', 'LeadActivityLogged')"
             " AND aggregate_id = '%s'",
             lead);
    assert_int_equal(sql_scalar(sql), 2);

    //  The same chat again: the same lead, nothing more written.
    long long before = s_writes();
    r = harness_http("POST", "/v1/leads/from-chat", h->key_a,
                     "{\"chatId\":\"chat-1001\",\"visitor\":{\"email\":\"nia.okafor@example.com\"},"
                     TRANSCRIPT "}",
                     NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"repeated\":true"));
    assert_non_null(strstr(r.body, lead));
    assert_non_null(strstr(r.body, activity));
    harness_response_free(&r);
    assert_int_equal(s_writes(), before);
}

static void test_known_visitor_is_found(void **state) {
    (void)state;
    harness_response_t r = harness_http(
        "POST", "/v1/contacts", h->key_a,
        "{\"firstName\":\"Omar\",\"lastName\":\"Haddad\",\"source\":\"walk_in\","
        "\"emails\":[{\"address\":\"omar@example.com\"}],"
        "\"phones\":[{\"number\":\"(202) 555-0188\"}]}",
        NULL);
    assert_int_equal(r.status, 201);
    char contact[64];
    snprintf(contact, sizeof contact, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    long long contacts = sql_scalar("SELECT count(*) FROM contacts.contacts");

    //  By email, whatever its case; no name needed for a known visitor.
    r = harness_http("POST", "/v1/leads/from-chat", h->key_a,
                     "{\"visitor\":{\"email\":\"Omar@Example.com\"}," TRANSCRIPT "}", NULL);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.body, "\"matchedOn\":\"email\""));
    assert_non_null(strstr(r.body, contact));
    assert_null(strstr(r.body, "\"contactCreated\":true"));
    harness_response_free(&r);

    //  By phone, typed another way.
    r = harness_http("POST", "/v1/leads/from-chat", h->key_a,
                     "{\"visitor\":{\"phone\":\"202.555.0188\",\"firstName\":\"O\"}," TRANSCRIPT
                     "}",
                     NULL);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.body, "\"matchedOn\":\"phone\""));
    assert_non_null(strstr(r.body, contact));
    harness_response_free(&r);
    assert_int_equal(sql_scalar("SELECT count(*) FROM contacts.contacts"), contacts);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.leads WHERE contact_id = '%s' AND source = 'chat'",
             contact);
    assert_int_equal(sql_scalar(sql), 2);

    //  Another dealership's chat with the same email makes its own contact.
    r = harness_http("POST", "/v1/leads/from-chat", h->key_b,
                     "{\"visitor\":{\"email\":\"omar@example.com\",\"firstName\":\"Omar\","
                     "\"lastName\":\"H\"}," TRANSCRIPT "}",
                     NULL);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.body, "\"contactCreated\":true"));
    assert_null(strstr(r.body, contact));
    harness_response_free(&r);
}

//  A request that must be refused with 422 naming field, writing nothing anywhere.
static void s_refused(const char *body, const char *field) {
    long long before = s_writes();
    harness_response_t r = harness_http("POST", "/v1/leads/from-chat", h->key_a, body, NULL);
    if (r.status != 422 || !strstr(r.body, field))
        fprintf(stderr, "body %s\n -> %ld %s\n", body, (long)r.status, r.body);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(r.body, field));
    harness_response_free(&r);
    assert_int_equal(s_writes(), before);
}

static void test_bad_input_writes_nothing(void **state) {
    (void)state;
    //  No way to find or make the contact.
    s_refused("{\"visitor\":{\"firstName\":\"Ann\",\"lastName\":\"Lee\"}," TRANSCRIPT "}",
              "\"visitor.email\"");
    s_refused("{" TRANSCRIPT "}", "\"visitor.email\"");
    //  A new visitor without the name a contact needs.
    s_refused("{\"visitor\":{\"email\":\"new.person@example.com\",\"firstName\":\"Ann\"},"
              TRANSCRIPT "}",
              "\"visitor.lastName\"");
    //  A bad email or phone.
    s_refused("{\"visitor\":{\"email\":\"not-an-email\"}," TRANSCRIPT "}", "\"visitor.email\"");
    s_refused("{\"visitor\":{\"phone\":\"12\"}," TRANSCRIPT "}", "\"visitor.phone\"");
    //  No transcript, or a bad line.
    s_refused("{\"visitor\":{\"email\":\"omar@example.com\"}}", "\"transcript\"");
    s_refused("{\"visitor\":{\"email\":\"omar@example.com\"},"
              "\"transcript\":[{\"from\":\"visitor\",\"text\":\"\"}]}",
              "\"transcript[0].text\"");
    //  The lead's own fields, named as a lead's.
    s_refused("{\"visitor\":{\"email\":\"omar@example.com\"},\"budgetMinCents\":-5," TRANSCRIPT
              "}",
              "\"budgetMinCents\"");
    s_refused("{\"visitor\":{\"email\":\"omar@example.com\"},\"vehicle\":{\"vin\":\"123\"},"
              TRANSCRIPT "}",
              "\"vehicle.vin\"");
    s_refused("{\"visitor\":{\"email\":\"omar@example.com\"},"
              "\"assigneeId\":\"0190b3a0-0000-7000-8000-000000000001\"," TRANSCRIPT "}",
              "\"assigneeId\"");
    //  An unknown timeline is refused by the transcoder, naming it.
    s_refused("{\"visitor\":{\"email\":\"omar@example.com\"},\"timeline\":\"someday\","
              TRANSCRIPT "}",
              "\"timeline\"");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_visitor_makes_contact_and_lead),
        cmocka_unit_test(test_known_visitor_is_found),
        cmocka_unit_test(test_bad_input_writes_nothing),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
