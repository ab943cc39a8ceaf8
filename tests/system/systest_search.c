/*  System tests of the contact list's search and filters, over HTTP: whatever a person
    types in the search box (a name, misspelled or in part; an email or part of one; a
    phone number in any format or its last digits; a vehicle of interest), each filter
    alone and together, ranked paging, tenant isolation, and each bad parameter. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <string.h>

static harness_t *h;

//  The contacts every test searches among (tenant A), by name.
static char s_margaret[64], s_ivan[64], s_acme[64], s_dave[64], s_zoe[64];

static void s_post(const char *path, const char *key, const char *body, char *id_out) {
    harness_response_t r = harness_http("POST", path, key, body, NULL);
    if (r.status != 201)
        fprintf(stderr, "setup POST %s: %ld %s\n", path, r.status, r.body);
    assert_int_equal(r.status, 201);
    if (id_out)
        snprintf(id_out, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    s_post("/v1/tags", h->key_a, "{\"name\":\"VIP\"}", NULL);
    s_post("/v1/contacts", h->key_a, "{\"kind\":\"organization\",\"name\":\"Acme Fleet Services\","
           "\"source\":\"referral\",\"supplier\":true}", s_acme);
    char body[1024];
    snprintf(body, sizeof body,
             "{\"firstName\":\"Margaret\",\"lastName\":\"Thompson\",\"type\":\"customer\","
             "\"source\":\"walk_in\",\"assignee\":\"sam.lee\",\"tags\":[\"vip\"],"
             "\"emails\":[{\"address\":\"maggie.thompson@example.com\"}],"
             "\"phones\":[{\"number\":\"(202) 555-0177\"}],"
             "\"organization\":{\"id\":\"%s\",\"role\":\"buyer\"},"
             "\"vehicles\":[{\"relation\":\"interest\",\"make\":\"Toyota\",\"model\":\"RAV4\"},"
             "{\"relation\":\"owned\",\"make\":\"Honda\",\"model\":\"Civic\"}]}",
             s_acme);
    s_post("/v1/contacts", h->key_a, body, s_margaret);
    s_post("/v1/contacts", h->key_a,
           "{\"firstName\":\"Ivan\",\"lastName\":\"Petrov\",\"source\":\"web\","
           "\"emails\":[{\"address\":\"ivan.p@mail.example.org\"}],"
           "\"phones\":[{\"number\":\"+44 20 7946 0958\"}],"
           "\"vehicles\":[{\"relation\":\"owned\",\"make\":\"Toyota\",\"model\":\"RAV4\"}]}",
           s_ivan);
    s_post("/v1/contacts", h->key_a,
           "{\"firstName\":\"Dave\",\"lastName\":\"Margolis\",\"source\":\"phone\","
           "\"type\":\"service\",\"phones\":[{\"number\":\"202-555-0178\"}]}",
           s_dave);
    s_post("/v1/contacts", h->key_a,
           "{\"firstName\":\"Zoe\",\"lastName\":\"Thompson\",\"source\":\"web\","
           "\"emails\":[{\"address\":\"zoe@thompson-family.example\"}]}",
           s_zoe);
    //  Tenant B has a Margaret Thompson too; tenant A never sees her.
    s_post("/v1/contacts", h->key_b,
           "{\"firstName\":\"Margaret\",\"lastName\":\"Thompson\","
           "\"emails\":[{\"address\":\"maggie.thompson@example.com\"}]}",
           NULL);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  GET /v1/contacts?<query> as tenant A (or key); the ids of the items, comma-separated,
//  into ids. Returns the status.
static long s_list(const char *key, const char *query, char *ids, size_t size,
                   char *cursor, size_t cursor_size) {
    char path[1024];
    snprintf(path, sizeof path, "/v1/contacts?%s", query);
    harness_response_t r = harness_http("GET", path, key ? key : h->key_a, NULL, NULL);
    long status = r.status;
    ids[0] = 0;
    json_t *items = json_object_get(r.json, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(items, i), "id"));
        snprintf(ids + strlen(ids), size - strlen(ids), "%s%s", i ? "," : "", id);
    }
    if (cursor)
        snprintf(cursor, cursor_size, "%s", harness_json_str(&r, "nextCursor"));
    if (status != 200)
        fprintf(stderr, "GET %s: %ld %s\n", path, status, r.body);
    harness_response_free(&r);
    return status;
}

//  The query's ids: asserts 200.
static const char *s_ids(const char *query) {
    static char ids[4096];
    assert_int_equal(s_list(NULL, query, ids, sizeof ids, NULL, 0), 200);
    return ids;
}

//  q=text, URL-encoded.
static const char *s_q(const char *text) {
    static char query[512];
    char *escaped = curl_easy_escape(NULL, text, 0);
    snprintf(query, sizeof query, "q=%s", escaped);
    curl_free(escaped);
    return query;
}

static bool s_has(const char *ids, const char *id) {
    return strstr(ids, id) != NULL;
}

//  The first id of a list.
static bool s_first(const char *ids, const char *id) {
    return strncmp(ids, id, strlen(id)) == 0;
}

static void test_search_names(void **state) {
    (void)state;
    //  A whole name, a first-name prefix, a last-name prefix, both prefixes.
    const char *ids = s_ids(s_q("Margaret Thompson"));
    assert_true(s_first(ids, s_margaret));
    ids = s_ids(s_q("marg"));
    assert_true(s_has(ids, s_margaret));
    assert_true(s_has(ids, s_dave));  // Margolis
    assert_false(s_has(ids, s_ivan));
    ids = s_ids(s_q("thomp"));
    assert_true(s_has(ids, s_margaret) && s_has(ids, s_zoe));
    ids = s_ids(s_q("mar thom"));
    assert_true(s_first(ids, s_margaret));
    assert_false(s_has(ids, s_zoe));
    //  Misspelled: found by similarity.
    ids = s_ids(s_q("Margret Tompson"));
    assert_true(s_first(ids, s_margaret));
    ids = s_ids(s_q("Ivan Petrof"));
    assert_true(s_first(ids, s_ivan));
    //  An organization by a word of its name.
    ids = s_ids(s_q("fleet"));
    assert_true(s_first(ids, s_acme));
    //  Characters a full-text query would read as operators are only text.
    ids = s_ids(s_q("marg & !(thom):*"));
    assert_true(s_has(ids, s_margaret));
    ids = s_ids(s_q("nobody-like-this"));
    assert_string_equal(ids, "");
}

static void test_search_email_phone_vehicle(void **state) {
    (void)state;
    //  A whole address, any case; part of one; another tenant's same address unseen.
    const char *ids = s_ids(s_q("Maggie.Thompson@Example.com"));
    assert_string_equal(ids, s_margaret);
    ids = s_ids(s_q("ivan.p@mail"));
    assert_string_equal(ids, s_ivan);
    ids = s_ids(s_q("@thompson-family"));
    assert_string_equal(ids, s_zoe);
    //  A number as typed in any format, or its last digits.
    ids = s_ids(s_q("202.555.0177"));
    assert_string_equal(ids, s_margaret);
    ids = s_ids(s_q("+1 (202) 555-0177"));
    assert_string_equal(ids, s_margaret);
    ids = s_ids(s_q("0177"));
    assert_string_equal(ids, s_margaret);
    ids = s_ids(s_q("555-017"));
    assert_true(s_has(ids, s_margaret) && s_has(ids, s_dave));
    ids = s_ids(s_q("020 7946 0958"));  // a UK number typed without its country code
    assert_string_equal(ids, s_ivan);
    //  A vehicle of interest (not one owned).
    ids = s_ids(s_q("RAV4"));
    assert_string_equal(ids, s_margaret);
    ids = s_ids(s_q("civic"));
    assert_string_equal(ids, "");
    //  Tenant B finds only its own.
    char b_ids[1024];
    assert_int_equal(s_list(h->key_b, s_q("Margaret"), b_ids, sizeof b_ids, NULL, 0), 200);
    assert_true(strlen(b_ids) > 0);
    assert_false(s_has(b_ids, s_margaret));
}

//  The words of a contact's notes find it; a deleted note's no longer do. A note is
//  activity: the activity range finds the contact.
static void test_search_notes(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s/notes", s_zoe);
    harness_response_t r = harness_http("POST", path, h->key_a,
                                        "{\"body\":\"Wants a red convertible before summer\"}", NULL);
    assert_int_equal(r.status, 201);
    char note[200];
    snprintf(note, sizeof note, "%s/%s", path, harness_json_str(&r, "id"));
    harness_response_free(&r);
    assert_string_equal(s_ids(s_q("convertible")), s_zoe);
    assert_string_equal(s_ids(s_q("convert")), s_zoe);
    assert_string_equal(s_ids("activityFrom=2000-01-01"), s_zoe);
    r = harness_http("DELETE", note, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    assert_string_equal(s_ids(s_q("convertible")), "");
}

//  Consent filters: granted, withdrawn, unknown; reachable leaves out do-not-contact.
static void test_consent_filters(void **state) {
    (void)state;
    struct {
        const char *id, *body;
    } decisions[] = {
        {s_margaret, "{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,"
                     "\"method\":\"web_form\"}"},
        {s_ivan, "{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":true,"
                 "\"method\":\"written\"}"},
        {s_dave, "{\"channel\":\"email\",\"purpose\":\"marketing\",\"granted\":false,"
                 "\"method\":\"email_reply\"}"},
    };
    for (size_t i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/contacts/%s/consents", decisions[i].id);
        harness_response_t r = harness_http("POST", path, h->key_a, decisions[i].body, NULL);
        assert_int_equal(r.status, 201);
        harness_response_free(&r);
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s/communication", s_ivan);
    harness_response_t r = harness_http("PATCH", path, h->key_a,
                                        "{\"doNotContact\":{\"email\":true},\"method\":\"verbal\"}",
                                        NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);

    const char *ids = s_ids("consentChannel=email&consentPurpose=marketing");
    assert_true(s_has(ids, s_margaret) && s_has(ids, s_ivan) && !s_has(ids, s_dave));
    assert_string_equal(s_ids("consentChannel=email&consentPurpose=marketing&reachable=true"),
                        s_margaret);
    assert_string_equal(
        s_ids("consentChannel=email&consentPurpose=marketing&consentStatus=withdrawn"), s_dave);
    ids = s_ids("consentChannel=email&consentPurpose=marketing&consentStatus=unknown");
    assert_true(s_has(ids, s_zoe) && s_has(ids, s_acme));
    assert_false(s_has(ids, s_margaret) || s_has(ids, s_ivan) || s_has(ids, s_dave));
    ids = s_ids("consentChannel=email&reachable=true");
    assert_true(s_has(ids, s_margaret) && s_has(ids, s_zoe) && !s_has(ids, s_ivan));
    //  Bad combinations, named.
    const char *bad[][2] = {
        {"consentPurpose=marketing", "consentChannel"},
        {"consentChannel=email", "consentPurpose"},
        {"consentChannel=email&consentPurpose=marketing&consentStatus=maybe", "consentStatus"},
        {"consentChannel=email&consentPurpose=follow_up", "consentPurpose"},
        {"reachable=true", "consentChannel"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char url[256];
        snprintf(url, sizeof url, "/v1/contacts?%s", bad[i][0]);
        r = harness_http("GET", url, h->key_a, NULL, NULL);
        assert_int_equal(r.status, 422);
        assert_string_equal(harness_error_field(&r), bad[i][1]);
        harness_response_free(&r);
    }
}

static void test_filters(void **state) {
    (void)state;
    assert_string_equal(s_ids("type=customer"), s_margaret);
    assert_string_equal(s_ids("type=service"), s_dave);
    assert_string_equal(s_ids("tag=vip"), s_margaret);  // any case
    assert_string_equal(s_ids("tag=unknown"), "");
    assert_string_equal(s_ids("source=walk_in"), s_margaret);
    const char *ids = s_ids("source=web");
    assert_true(s_has(ids, s_ivan) && s_has(ids, s_zoe) && !s_has(ids, s_margaret));
    assert_string_equal(s_ids("assignee=sam.lee"), s_margaret);
    assert_string_equal(s_ids("kind=organization"), s_acme);
    assert_string_equal(s_ids("suppliersOnly=true"), s_acme);
    char query[256];
    snprintf(query, sizeof query, "organizationId=%s", s_acme);
    assert_string_equal(s_ids(query), s_margaret);
    //  Created ranges: everything is from today; nothing from before 2000 or after 2999.
    ids = s_ids("createdFrom=2000-01-01&limit=200");
    assert_true(s_has(ids, s_margaret) && s_has(ids, s_zoe));
    assert_string_equal(s_ids("createdTo=2000-01-01"), "");
    assert_string_equal(s_ids("createdFrom=2999-01-01T00:00:00Z"), "");
    //  Activity in the future: no one.
    assert_string_equal(s_ids("activityFrom=2999-01-01"), "");
    //  Filters and a search together.
    assert_string_equal(s_ids("q=thompson&source=web"), s_zoe);
    assert_string_equal(s_ids("q=thompson&type=customer"), s_margaret);
    //  Newest first without a search.
    ids = s_ids("source=web");
    assert_true(s_first(ids, s_zoe));
}

static void test_search_paging(void **state) {
    (void)state;
    char ids[1024], cursor[64], seen[2048] = "";
    assert_int_equal(s_list(NULL, "q=thompson&limit=1", ids, sizeof ids, cursor, sizeof cursor),
                     200);
    assert_string_equal(cursor, "s:1");
    strcat(seen, ids);
    char query[256];
    snprintf(query, sizeof query, "q=thompson&limit=1&cursor=%s", cursor);
    assert_int_equal(s_list(NULL, query, ids, sizeof ids, cursor, sizeof cursor), 200);
    assert_true(strlen(ids) > 0);
    assert_false(s_has(seen, ids));
    strcat(seen, ids);
    assert_true(s_has(seen, s_margaret) && s_has(seen, s_zoe));
    //  Without a search, the cursor is the last id.
    assert_int_equal(s_list(NULL, "source=web&limit=1", ids, sizeof ids, cursor, sizeof cursor),
                     200);
    assert_string_equal(cursor, s_zoe);
    snprintf(query, sizeof query, "source=web&limit=1&cursor=%s", cursor);
    assert_int_equal(s_list(NULL, query, ids, sizeof ids, cursor, sizeof cursor), 200);
    assert_string_equal(ids, s_ivan);
}

static void test_bad_parameters(void **state) {
    (void)state;
    struct {
        const char *query, *field;
        long status;
    } cases[] = {
        {"limit=500", "limit", 422},
        {"cursor=garbage", "cursor", 422},
        {"q=marg&cursor=s:-4", "cursor", 422},
        {"q=marg&cursor=0190a5b2-0000-7000-8000-000000000000", "cursor", 422},
        {"createdFrom=yesterday", "createdFrom", 422},
        {"createdTo=2026-02-30", "createdTo", 422},
        {"activityFrom=2026-01-01T10:00", "activityFrom", 422},
        {"organizationId=nope", "organizationId", 422},
        {"type=vip", "type", 422},
        {"source=carrier-pigeon", "source", 422},
        {"suppliersOnly=maybe", "suppliersOnly", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[512];
        snprintf(path, sizeof path, "/v1/contacts?%s", cases[i].query);
        harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
        if (r.status != cases[i].status)
            fprintf(stderr, "%s: %ld %s\n", path, r.status, r.body);
        assert_int_equal(r.status, cases[i].status);
        assert_string_equal(harness_error_field(&r), cases[i].field);
        harness_response_free(&r);
    }
    char long_q[600] = "q=";
    memset(long_q + 2, 'a', 300);
    long_q[302] = 0;
    char path[700];
    snprintf(path, sizeof path, "/v1/contacts?%s", long_q);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "q");
    harness_response_free(&r);
}

//  Saved filters: a person's own, checked when saved, run again for a page of contacts.
static void test_saved_filters(void **state) {
    (void)state;
    harness_response_t r = harness_http(
        "POST", "/v1/saved-filters", h->key_a,
        "{\"name\":\" My VIPs \",\"filter\":{\"tag\":\"vip\",\"type\":\"customer\",\"limit\":5}}",
        NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(harness_json_str(&r, "name"), "My VIPs");
    char path[128], run[160];
    snprintf(path, sizeof path, "/v1/saved-filters/%s", harness_json_str(&r, "id"));
    snprintf(run, sizeof run, "%s/contacts", path);
    harness_response_free(&r);

    r = harness_http("GET", run, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")),
                        s_margaret);
    harness_response_free(&r);

    //  The same name in another case, a bad filter: refused, named.
    r = harness_http("POST", "/v1/saved-filters", h->key_a,
                     "{\"name\":\"my vips\",\"filter\":{}}", NULL);
    assert_int_equal(r.status, 409);
    assert_string_equal(harness_error_field(&r), "name");
    harness_response_free(&r);
    r = harness_http("POST", "/v1/saved-filters", h->key_a,
                     "{\"name\":\"Recent\",\"filter\":{\"createdFrom\":\"last week\"}}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "filter.createdFrom");
    harness_response_free(&r);
    r = harness_http("POST", "/v1/saved-filters", h->key_a, "{\"name\":\"  \"}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "name");
    harness_response_free(&r);

    //  Another team member of the same tenant neither sees nor runs it.
    r = harness_http("GET", path, h->key_analyst, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    r = harness_http("GET", run, h->key_analyst, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/saved-filters", h->key_analyst, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    harness_response_free(&r);

    //  Change its filter: it runs the new one.
    r = harness_http("PATCH", path, h->key_a, "{\"filter\":{\"q\":\"thompson\",\"source\":\"web\"}}",
                     NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = harness_http("GET", run, h->key_a, NULL, NULL);
    items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), s_zoe);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/saved-filters", h->key_a, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    harness_response_free(&r);

    r = harness_http("DELETE", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    r = harness_http("GET", run, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
}

//  One tag at a time: applied once however often, removed, any case; checked.
static void test_tag_one_contact(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s/tags", s_ivan);
    for (int i = 0; i < 2; i++) {
        harness_response_t r = harness_http("POST", path, h->key_a, "{\"tag\":\"vip\"}", NULL);
        assert_int_equal(r.status, 200);
        json_t *tags = json_object_get(r.json, "tags");
        assert_int_equal(json_array_size(tags), 1);
        assert_string_equal(json_string_value(json_array_get(tags, 0)), "VIP");
        harness_response_free(&r);
    }
    const char *ids = s_ids("tag=VIP");
    assert_true(s_has(ids, s_ivan) && s_has(ids, s_margaret));

    harness_response_t r = harness_http("POST", path, h->key_a, "{\"tag\":\"gold\"}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "tag");
    harness_response_free(&r);
    r = harness_http("POST", path, h->key_b, "{\"tag\":\"vip\"}", NULL);
    assert_int_equal(r.status, 422);  // tenant B has no such tag (and no such contact)
    harness_response_free(&r);
    r = harness_http("POST", "/v1/tags", h->key_b, "{\"name\":\"VIP\"}", NULL);
    harness_response_free(&r);
    r = harness_http("POST", path, h->key_b, "{\"tag\":\"vip\"}", NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);

    char one[160];
    snprintf(one, sizeof one, "%s/vip", path);
    r = harness_http("DELETE", one, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_null(json_object_get(r.json, "tags"));
    harness_response_free(&r);
    assert_string_equal(s_ids("tag=VIP"), s_margaret);
}

//  Names with or without their accents (migration 0021: contacts_fold), umlauts
//  written out, and an email address by its part before the '@' alone.
static void test_search_accents_and_email_local_part(void **state) {
    (void)state;
    char nunez[64], garcia[64], muller[64], priya[64];
    s_post("/v1/contacts", h->key_a, "{\"firstName\":\"José\",\"lastName\":\"Núñez\"}", nunez);
    s_post("/v1/contacts", h->key_a, "{\"firstName\":\"María\",\"lastName\":\"García\"}",
           garcia);
    s_post("/v1/contacts", h->key_a, "{\"firstName\":\"Hans\",\"lastName\":\"Müller\"}", muller);
    s_post("/v1/contacts", h->key_a,
           "{\"firstName\":\"Priya\",\"lastName\":\"Natarajan\","
           "\"emails\":[{\"address\":\"pnat.1987@mail.example.net\"}]}",
           priya);
    const struct {
        const char *q, *id;
    } finds[] = {
        {"Nunez", nunez},        {"nunez", nunez},         {"Núñez", nunez},
        {"Jose Nunez", nunez},   {"Garcia", garcia},       {"maria garcia", garcia},
        {"García", garcia},      {"Mueller", muller},      {"Muller", muller},
        {"Müller", muller},      {"Hans Mueller", muller}, {"pnat.1987", priya},
        {"pnat", priya},
    };
    for (size_t i = 0; i < sizeof finds / sizeof finds[0]; i++) {
        const char *ids = s_ids(s_q(finds[i].q));
        if (!s_first(ids, finds[i].id))
            fail_msg("q=%s found [%s], expected %s first", finds[i].q, ids, finds[i].id);
    }
    //  Folding finds no one else: "Garcia" is not Núñez.
    assert_false(s_has(s_ids(s_q("Garcia")), nunez));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_names),
        cmocka_unit_test(test_search_email_phone_vehicle),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_search_notes),
        cmocka_unit_test(test_consent_filters),
        cmocka_unit_test(test_search_paging),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_saved_filters),
        cmocka_unit_test(test_tag_one_contact),
        cmocka_unit_test(test_search_accents_and_email_local_part),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
