/*  System tests of what the contacts service's events do to leads: a merge re-points the
    merged contacts' leads to the survivor (with LeadUpdated), an erasure takes the
    person's data out of the contact's leads and out of their past event payloads. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.pb-c.h"
#include "systest_sql.h"

//  The lead's score, band and priority come from the scoring service in the background,
//  each change a LeadUpdated by the actor "scoring": left out of these counts.
#define S_NOT_SCORING " AND position(convert_to('scoring', 'UTF8') IN payload) = 0"

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

static void s_contact(const char *key, const char *last_name, char id[64]) {
    char body[256];
    snprintf(body, sizeof body, "{\"firstName\":\"Lee\",\"lastName\":\"%s\",\"source\":\"web\"}",
             last_name);
    harness_response_t r = harness_http("POST", "/v1/contacts", key, body, NULL);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

static void s_lead(const char *key, const char *contact, const char *extra, char id[64]) {
    char body[1024];
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"source\":\"phone\"%s}", contact, extra);
    harness_response_t r = harness_http("POST", "/v1/leads", key, body, NULL);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  Wait up to 10 s for sql's count to reach want; the count last seen.
static long long s_wait_count(const char *sql, long long want) {
    long long n = 0;
    for (int i = 0; i < 200; i++) {
        n = sql_scalar(sql);
        if (n == want)
            break;
        usleep(50 * 1000);
    }
    return n;
}

//  Publish a ContactMerged as the contacts service would: a row in its outbox.
static void s_publish_merged(const char *tenant, const char *survivor, const char *merged) {
    Crm__Events__ContactMerged m = CRM__EVENTS__CONTACT_MERGED__INIT;
    char *ids[] = {(char *)merged};
    m.survivor_id = (char *)survivor;
    m.merged_ids = ids;
    m.n_merged_ids = 1;
    m.actor_id = "u-merger";
    size_t size = crm__events__contact_merged__get_packed_size(&m);
    uint8_t *packed = malloc(size);
    crm__events__contact_merged__pack(&m, packed);
    char *hex = malloc(2 * size + 1);
    for (size_t i = 0; i < size; i++)
        sprintf(hex + 2 * i, "%02x", packed[i]);
    char *sql = malloc(2 * size + 512);
    sprintf(sql,
            "INSERT INTO contacts.outbox (event_id, type, tenant_id, aggregate_id, payload,"
            " occurred_at) VALUES (gen_random_uuid(), 'ContactMerged', '%s', '%s',"
            " '\\x%s'::bytea, now())",
            tenant, survivor, hex);
    sql_exec(sql);
    free(sql);
    free(hex);
    free(packed);
}

static void test_merge_repoints_leads(void **state) {
    (void)state;
    char survivor[64], merged[64], bystander[64], lead1[64], lead2[64], other[64];
    s_contact(h->key_a, "Survivor", survivor);
    s_contact(h->key_a, "Merged", merged);
    s_contact(h->key_a, "Bystander", bystander);
    s_lead(h->key_a, merged, "", lead1);
    s_lead(h->key_a, merged, "", lead2);
    s_lead(h->key_a, bystander, "", other);
    //  One of the merged contact's leads is deleted: it follows too, without an event.
    char path[160], sql[512];
    snprintf(path, sizeof path, "/v1/leads/%s", lead2);
    harness_response_t r = harness_http("DELETE", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);

    //  The same merge under another tenant's name changes nothing of tenant-a.
    s_publish_merged("tenant-b", survivor, merged);
    s_publish_merged("tenant-a", survivor, merged);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.leads WHERE contact_id = '%s'", survivor);
    assert_int_equal(s_wait_count(sql, 2), 2);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM leads.leads WHERE contact_id = '%s'",
             bystander);
    assert_int_equal(sql_scalar(sql), 1);

    //  The API shows the survivor; the list by contact finds the lead under it.
    snprintf(path, sizeof path, "/v1/leads/%s", lead1);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "contactId"), survivor);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/leads?contactId=%s", merged);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, lead1));
    harness_response_free(&r);

    //  One LeadUpdated, for the live lead only, naming contactId.
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.outbox WHERE type = 'LeadUpdated'"
             " AND aggregate_id = '%s'" S_NOT_SCORING,
             lead1);
    assert_int_equal(sql_scalar(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.outbox WHERE type = 'LeadUpdated'"
             " AND aggregate_id = '%s'" S_NOT_SCORING,
             lead2);
    assert_int_equal(sql_scalar(sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.outbox WHERE type = 'LeadUpdated'"
             " AND aggregate_id = '%s'"
             " AND position(convert_to('contactId', 'UTF8') IN payload) > 0" S_NOT_SCORING,
             lead1);
    assert_int_equal(sql_scalar(sql), 1);

    //  The merged contact is gone for good as far as leads are concerned.
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.contact_ids WHERE tenant_id = 'tenant-a'"
             " AND contact_id = '%s' AND deleted",
             merged);
    assert_int_equal(sql_scalar(sql), 1);
    char body[160];
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"source\":\"phone\"}", merged);
    r = harness_http("POST", "/v1/leads", h->key_a, body, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "contactId");
    harness_response_free(&r);

    //  Applied once: the inbox moved past it, a second look changes nothing.
    assert_true(sql_scalar("SELECT last_seq FROM leads.inbox WHERE source = 'contacts'") > 0);
}

static void test_erase_clears_lead_pii(void **state) {
    (void)state;
    char contact[64], lead[64], kept[64], keeper[64];
    s_contact(h->key_a, "Forgotten", contact);
    s_contact(h->key_a, "Remembered", keeper);
    s_lead(h->key_a, contact,
           ",\"vehicle\":{\"make\":\"Honda\",\"model\":\"Civic\",\"vin\":\"1HGCM82633A004352\"},"
           "\"customFields\":{\"spouse\":\"Marguerite-Secret\"},\"postcode\":\"60614\"",
           lead);
    s_lead(h->key_a, keeper,
           ",\"vehicle\":{\"make\":\"Honda\",\"model\":\"Civic\",\"vin\":\"1HGCM82633A004352\"},"
           "\"customFields\":{\"spouse\":\"Marguerite-Secret\"}",
           kept);
    char path[160], sql[1024];
    snprintf(path, sizeof path, "/v1/leads/%s/follow-ups", lead);
    harness_response_t r = harness_http(
        "POST", path, h->key_a,
        "{\"pick\":\"in_3_days\",\"note\":\"Ask Marguerite about financing\"}", NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/leads/%s/status", lead);
    r = harness_http(
        "POST", path, h->key_a,
        "{\"status\":\"closed_lost\",\"note\":\"Marguerite called back angry\","
        "\"lost\":{\"reason\":\"other\",\"reasonText\":\"moving to Marguerite's town\"}}",
        NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);

    snprintf(path, sizeof path, "/v1/leads/%s/activities", lead);
    r = harness_http("POST", path, h->key_a,
                     "{\"kind\":\"chat\",\"transcript\":[{\"from\":\"visitor\","
                     "\"text\":\"I am Marguerite, call me on 555\"}],\"notes\":\"Marguerite\"}",
                     NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
    r = harness_http("POST", path, h->key_a,
                     "{\"kind\":\"email\",\"direction\":\"inbound\","
                     "\"subject\":\"From Marguerite\",\"body\":\"Marguerite here\"}",
                     NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);

    r = harness_http("POST", "/v1/team/members", h->key_a,
                     "{\"name\":\"Sam Seller\",\"email\":\"sam.erase@example.com\"}", NULL);
    assert_int_equal(r.status, 201);
    char member[64], body[256];
    snprintf(member, sizeof member, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/leads/%s/assign", lead);
    snprintf(body, sizeof body, "{\"assigneeId\":\"%s\",\"note\":\"Marguerite asked for Sam\"}",
             member);
    r = harness_http("POST", path, h->key_a, body, NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);

    snprintf(path, sizeof path, "/v1/contacts/%s/erase", contact);
    r = harness_http("POST", path, h->key_a, "{}", NULL);
    assert_true(r.status == 200 || r.status == 204);
    harness_response_free(&r);

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.leads WHERE id = '%s' AND contact_erased_at IS NOT NULL",
             lead);
    assert_int_equal(s_wait_count(sql, 1), 1);

    //  The row keeps what reports count and loses the rest.
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.leads WHERE id = '%s' AND custom_fields = '{}'"
             " AND NOT vehicle ? 'vin' AND vehicle->>'make' = 'Honda'"
             " AND NOT lost ? 'reasonText' AND lost->>'reason' = 'other'"
             " AND status = 'closed_lost' AND postcode = '' AND assignee_id <> ''",
             lead);
    assert_int_equal(sql_scalar(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.stage_history WHERE lead_id = '%s' AND note <> ''",
             lead);
    assert_int_equal(sql_scalar(sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.activities WHERE lead_id = '%s'"
             " AND details::text LIKE '%%Marguerite%%'",
             lead);
    assert_int_equal(sql_scalar(sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.activities WHERE lead_id = '%s'"
             " AND details->>'direction' = 'inbound'",
             lead);
    assert_int_equal(sql_scalar(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.follow_ups WHERE lead_id = '%s' AND note <> ''", lead);
    assert_int_equal(sql_scalar(sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.assignment_history WHERE lead_id = '%s'"
             " AND note = '' AND rule = 'manual'",
             lead);
    assert_int_equal(sql_scalar(sql), 1);
    //  No past event of the lead carries the person's data any more.
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.outbox WHERE aggregate_id = '%s'"
             " AND (position(convert_to('Marguerite', 'UTF8') IN payload) > 0"
             "   OR position(convert_to('1HGCM82633A004352', 'UTF8') IN payload) > 0)",
             lead);
    assert_int_equal(sql_scalar(sql), 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM leads.outbox WHERE aggregate_id = '%s'",
             lead);
    assert_true(sql_scalar(sql) >= 3);

    //  Through the API: the lead is still there, without them.
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "Marguerite"));
    assert_null(strstr(r.body, "1HGCM82633A004352"));
    assert_non_null(strstr(r.body, "closed_lost"));
    harness_response_free(&r);

    //  Another contact's lead keeps everything.
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.leads WHERE id = '%s' AND vehicle ? 'vin'"
             " AND custom_fields ? 'spouse' AND contact_erased_at IS NULL",
             kept);
    assert_int_equal(sql_scalar(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.outbox WHERE aggregate_id = '%s'"
             " AND position(convert_to('Marguerite', 'UTF8') IN payload) > 0" S_NOT_SCORING,
             kept);
    assert_int_equal(sql_scalar(sql), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_repoints_leads),
        cmocka_unit_test(test_erase_clears_lead_pii),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
