/*  System tests of the duplicate check before a create (issue 18, "Before a create"):
    POST /v1/contacts of someone already on file typed another way (a phone in another
    format, "Jon Smyth" for "John Smith" at the same postcode, "Garcia" for "García")
    answers 409 possible_duplicate with the candidates and why, creating nothing;
    "allowDuplicate": true creates it and its audit says so; a household member on a
    shared phone is created; a weaker match is named (X-Possible-Duplicates) without
    blocking; an import row found likely on file is skipped by the skip policy; a chat
    visitor likely on file gets a contact anyway and the lead lists the candidates; and
    with dedupe stopped, creates go ahead and say the check was skipped. */
#include "harness.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

static harness_t *h;
static char s_ann[64], s_john[64], s_maria[64], s_peter[64];

//  Wait until dedupe has applied every contacts event (its inbox at the head).
static void s_wait_index(void) {
    int64_t until = zclock_mono() + 20000;
    long long head = harness_contacts_head(10000), applied = -1;
    while ((applied = harness_sql_scalar(
                "SELECT coalesce((SELECT last_seq FROM dedupe.inbox WHERE source = 'contacts'),"
                " 0)")) < head) {
        if (zclock_mono() > until)
            fail_msg("dedupe applied %lld of %lld contacts events", applied, head);
        zclock_sleep(50);
        head = harness_contacts_head(10000);
    }
}

static void s_create(const char *body, char id[64]) {
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    if (r.status != 201)
        fail_msg("create %s: %ld %s", body, r.status, r.body);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

static long long s_contacts(void) {
    return harness_sql_scalar("SELECT count(*) FROM contacts.contacts WHERE tenant_id = 'tenant-a'");
}

static int s_setup(void **state) {
    (void)state;
    static const char *const env[] = {"CRM_CONTACTS_DUPLICATE_CHECK=true", NULL};
    h = harness_start(env);
    s_create("{\"firstName\":\"Ann\",\"lastName\":\"Lee\","
             "\"phones\":[{\"number\":\"+12025550142\",\"type\":\"mobile\"}]}",
             s_ann);
    s_create("{\"firstName\":\"John\",\"lastName\":\"Smith\","
             "\"phones\":[{\"number\":\"(202) 555-0111\"}],"
             "\"addresses\":[{\"line1\":\"1600 Pennsylvania Ave NW\",\"postcode\":\"20500\","
             "\"country\":\"US\"}]}",
             s_john);
    s_create("{\"firstName\":\"María\",\"lastName\":\"García\","
             "\"addresses\":[{\"city\":\"San Francisco\",\"postcode\":\"94105\"}]}",
             s_maria);
    s_create("{\"firstName\":\"Peter\",\"lastName\":\"Novak\","
             "\"emails\":[{\"address\":\"peter.novak@gmail.com\"}]}",
             s_peter);
    s_wait_index();
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

static const char *s_member(json_t *o, const char *name) {
    const char *s = json_string_value(json_object_get(o, name));
    return s ? s : "";
}

//  A create expected to be refused as a likely duplicate of id, with a reason
//  field:level; nothing written.
static void s_expect_blocked(const char *body, const char *id, const char *field,
                             const char *level) {
    long long before = s_contacts();
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    if (r.status != 409)
        fail_msg("create %s: %ld %s; expected 409", body, r.status, r.body);
    json_t *error = json_object_get(r.json, "error");
    assert_string_equal(s_member(error, "code"), "possible_duplicate");
    assert_non_null(strstr(s_member(error, "message"), id));
    json_t *candidates = json_object_get(error, "candidates");
    assert_true(json_array_size(candidates) >= 1);
    json_t *best = json_array_get(candidates, 0);
    assert_string_equal(s_member(best, "contactId"), id);
    assert_true(json_number_value(json_object_get(best, "score")) >= 0.75);
    assert_true(s_member(best, "summary")[0] != 0);
    bool found = false;
    json_t *reasons = json_object_get(best, "reasons");
    for (size_t i = 0; i < json_array_size(reasons); i++) {
        json_t *reason = json_array_get(reasons, i);
        found |= strcmp(s_member(reason, "field"), field) == 0 &&
                 strcmp(s_member(reason, "level"), level) == 0;
    }
    if (!found)
        fail_msg("no reason %s:%s in %s", field, level, r.body);
    harness_response_free(&r);
    assert_int_equal(s_contacts(), before);
}

static void test_same_phone_in_another_format(void **state) {
    (void)state;
    s_expect_blocked("{\"firstName\":\"Ann\",\"lastName\":\"Lee\","
                     "\"phones\":[{\"number\":\"(202) 555-0142\"}]}",
                     s_ann, "phone", "exact");
}

static void test_jon_smyth_at_the_same_postcode(void **state) {
    (void)state;
    s_expect_blocked("{\"firstName\":\"Jon\",\"lastName\":\"Smyth\","
                     "\"addresses\":[{\"postcode\":\"20500-0003\"}]}",
                     s_john, "lastName", "close");
}

static void test_garcia_typed_without_accent(void **state) {
    (void)state;
    s_expect_blocked("{\"firstName\":\"Maria\",\"lastName\":\"Garcia\","
                     "\"addresses\":[{\"postcode\":\"94105\"}]}",
                     s_maria, "lastName", "exact");
}

//  A household: Ann's phone, another first name. The model says other people: created.
static void test_household_phone_does_not_block(void **state) {
    (void)state;
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a,
                                        "{\"firstName\":\"Bob\",\"lastName\":\"Lee\","
                                        "\"phones\":[{\"number\":\"202-555-0142\"}]}",
                                        NULL);
    assert_int_equal(r.status, 201);
    char value[256];
    assert_string_equal(harness_header(&r, "X-Duplicate-Check", value, sizeof value), "checked");
    harness_response_free(&r);
}

//  A weaker match (a similar name at the same postcode, another phone): listed, created.
static void test_weaker_match_is_listed_not_blocked(void **state) {
    (void)state;
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a,
                                        "{\"firstName\":\"Jon\",\"lastName\":\"Smyth\","
                                        "\"phones\":[{\"number\":\"(202) 555-0199\"}],"
                                        "\"addresses\":[{\"postcode\":\"20500\"}]}",
                                        NULL);
    if (r.status != 201)
        fail_msg("%ld %s", r.status, r.body);
    char value[256];
    assert_string_equal(harness_header(&r, "X-Duplicate-Check", value, sizeof value), "checked");
    assert_string_equal(harness_header(&r, "X-Possible-Duplicates", value, sizeof value), s_john);
    harness_response_free(&r);
}

//  Saved anyway: created, and the creation's audit entry says allowDuplicate.
static void test_allow_duplicate_is_audited(void **state) {
    (void)state;
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a,
                                        "{\"firstName\":\"Ann\",\"lastName\":\"Lee\","
                                        "\"phones\":[{\"number\":\"(202) 555-0142\"}],"
                                        "\"allowDuplicate\":true}",
                                        NULL);
    if (r.status != 201)
        fail_msg("%ld %s", r.status, r.body);
    char value[64], id[64], path[128];
    assert_string_equal(harness_header(&r, "X-Duplicate-Check", value, sizeof value), "allowed");
    assert_null(json_object_get(r.json, "allowDuplicate")); // not a field of the contact
    snprintf(id, sizeof id, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/contacts/%s/audit", id);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *entry = json_array_get(json_object_get(r.json, "items"), 0);
    assert_string_equal(s_member(entry, "action"), "created");
    bool audited = false;
    json_t *changes = json_object_get(entry, "changes");
    for (size_t i = 0; i < json_array_size(changes); i++)
        audited |= strcmp(s_member(json_array_get(changes, i), "field"), "allowDuplicate") == 0 &&
                   strcmp(s_member(json_array_get(changes, i), "new"), "true") == 0;
    if (!audited)
        fail_msg("no allowDuplicate in the audit: %s", r.body);
    harness_response_free(&r);
    //  A wrong type is refused naming it.
    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"firstName\":\"Ann\",\"lastName\":\"Lee\",\"allowDuplicate\":\"yes\"}", NULL);
    assert_true(r.status == 400 || r.status == 422);
    assert_string_equal(harness_error_field(&r), "allowDuplicate");
    harness_response_free(&r);
}

static char *s_base64(const char *data, size_t len) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned char)data[i] << 16;
        if (i + 1 < len)
            v |= (unsigned char)data[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)data[i + 2];
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = i + 1 < len ? a[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? a[v & 63] : '=';
    }
    out[o] = 0;
    return out;
}

//  An import (policy skip) of a likely duplicate and a new person: the first skipped,
//  naming the contact, the second created.
static void test_import_row_flagged_by_policy(void **state) {
    (void)state;
    harness_response_t r =
        harness_http("POST", "/v1/imports", h->key_a, "{\"policy\":\"skip\"}", NULL);
    assert_int_equal(r.status, 201);
    char id[64], path[256];
    snprintf(id, sizeof id, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    const char *csv = "First Name,Last Name,Postcode\nMaria,Garcia,94105\nGrace,Hopper,10001\n";
    char *b64 = s_base64(csv, strlen(csv));
    char body[1024];
    snprintf(body, sizeof body, "{\"part\":1,\"data\":\"%s\"}", b64);
    free(b64);
    snprintf(path, sizeof path, "/v1/imports/%s/parts", id);
    r = harness_http("POST", path, h->key_a, body, NULL);
    assert_true(r.status / 100 == 2);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/imports/%s/start", id);
    r = harness_http("POST", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 202);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/imports/%s", id);
    json_t *import = NULL;
    for (int i = 0; i < 400 && !import; i++) {
        r = harness_http("GET", path, h->key_a, NULL, NULL);
        const char *status = harness_json_str(&r, "status");
        if (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0)
            import = json_incref(r.json);
        harness_response_free(&r);
        if (!import)
            zclock_sleep(50);
    }
    assert_non_null(import);
    assert_string_equal(s_member(import, "status"), "succeeded");
    json_t *outcomes = json_object_get(import, "outcomes");
    assert_int_equal(json_array_size(outcomes), 2);
    json_t *maria = json_array_get(outcomes, 0), *grace = json_array_get(outcomes, 1);
    assert_string_equal(s_member(maria, "action"), "skip");
    assert_string_equal(s_member(maria, "matchedOn"), "likely duplicate");
    assert_string_equal(s_member(maria, "contactId"), s_maria);
    assert_non_null(strstr(s_member(maria, "message"), "same name and same postcode"));
    assert_string_equal(s_member(grace, "action"), "create");
    json_decref(import);
}

//  A chat visitor on file under another spelling of the address (gmail ignores dots):
//  a contact is made anyway and the lead's answer lists the likely duplicate.
static void test_chat_lead_warns(void **state) {
    (void)state;
    harness_response_t r = harness_http(
        "POST", "/v1/leads/from-chat", h->key_a,
        "{\"chatId\":\"chat-dup-1\",\"visitor\":{\"firstName\":\"Peter\",\"lastName\":\"Novak\","
        "\"email\":\"peternovak@gmail.com\"},"
        "\"transcript\":[{\"from\":\"visitor\",\"text\":\"Any used Golf?\"}]}",
        NULL);
    if (r.status != 201)
        fail_msg("%ld %s", r.status, r.body);
    assert_true(json_is_true(json_object_get(r.json, "contactCreated")));
    json_t *dups = json_object_get(r.json, "possibleDuplicates");
    assert_int_equal(json_array_size(dups), 1);
    assert_string_equal(s_member(json_array_get(dups, 0), "contactId"), s_peter);
    char value[64];
    assert_string_equal(harness_header(&r, "X-Duplicate-Check", value, sizeof value), "allowed");
    const char *contact = s_member(json_object_get(r.json, "lead"), "contactId");
    assert_string_not_equal(contact, s_peter);
    harness_response_free(&r);
}

//  dedupe stopped (SIGSTOP: it answers nothing): a create of a likely duplicate goes
//  ahead within about the deadline and says the check was skipped; dedupe back, the
//  check blocks again.
static void test_dedupe_stopped_creates_succeed(void **state) {
    (void)state;
    pid_t dedupe = harness_daemon_pid("dedupe");
    assert_true(dedupe > 0);
    assert_int_equal(kill(dedupe, SIGSTOP), 0);
    const char *body = "{\"firstName\":\"John\",\"lastName\":\"Smith\","
                       "\"addresses\":[{\"postcode\":\"20500\"}]}";
    for (int i = 0; i < 3; i++) {
        harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
        if (r.status != 201)
            fail_msg("create %d with dedupe stopped: %ld %s", i, r.status, r.body);
        char value[64];
        assert_string_equal(harness_header(&r, "X-Duplicate-Check", value, sizeof value),
                            "skipped");
        assert_true(r.seconds < 1.0);
        harness_response_free(&r);
    }
    assert_int_equal(kill(dedupe, SIGCONT), 0);
    //  Asked again once the pause after a miss is over (a second).
    int64_t until = zclock_mono() + 10000;
    long status = 0;
    while (status != 409 && zclock_mono() < until) {
        zclock_sleep(300);
        harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a,
                                            "{\"firstName\":\"Ann\",\"lastName\":\"Lee\","
                                            "\"phones\":[{\"number\":\"(202) 555-0142\"}]}",
                                            NULL);
        status = r.status;
        harness_response_free(&r);
    }
    assert_int_equal(status, 409);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_phone_in_another_format),
        cmocka_unit_test(test_jon_smyth_at_the_same_postcode),
        cmocka_unit_test(test_garcia_typed_without_accent),
        cmocka_unit_test(test_household_phone_does_not_block),
        cmocka_unit_test(test_weaker_match_is_listed_not_blocked),
        cmocka_unit_test(test_allow_duplicate_is_audited),
        cmocka_unit_test(test_import_row_flagged_by_policy),
        cmocka_unit_test(test_chat_lead_warns),
        cmocka_unit_test(test_dedupe_stopped_creates_succeed),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
