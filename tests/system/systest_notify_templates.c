/*  System tests of the notify service's message templates: the whole suite driven over
    HTTP. Create, list, get, patch and delete SMS and email templates; refusals naming
    the field (and the placeholder); a duplicate name; another tenant's view; a preview
    against a contact and lead made through the API, values HTML-escaped in the HTML part;
    the routes in /v1/openapi.json. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "systest_fixtures.h"

static harness_t *h;
static char s_key_analyst_b[64];

static int s_setup(void **state) {
    (void)state;
    static const char *const env[] = {"CRM_NOTIFY_DEALERSHIP_NAME=Smith & Sons <Motors>", NULL};
    h = harness_start(env);
    harness_create_key("tenant-b", "analyst", s_key_analyst_b, sizeof s_key_analyst_b);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  POST /v1/templates with body; expects status; the id into id (when 201).
static void s_create(const char *key, const char *body, long status, char id[64]) {
    harness_response_t r = harness_http("POST", "/v1/templates", key, body, NULL);
    if (r.status != status)
        fprintf(stderr, "create template: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, status);
    if (id)
        snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  The request answers 422 naming field, with a message holding words (NULL: any).
static void s_refused(const char *method, const char *path, const char *body, const char *field,
                      const char *words) {
    harness_response_t r = harness_http(method, path, h->key_a, body, NULL);
    if (r.status != 422 || strcmp(harness_error_field(&r), field) != 0 ||
        (words && !strstr(r.body, words)))
        fprintf(stderr, "%s %s %s: %ld %s\n", method, path, body, r.status, r.body);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), field);
    if (words)
        assert_non_null(strstr(r.body, words));
    harness_response_free(&r);
}

static void test_crud(void **state) {
    (void)state;
    char sms[64], email[64], path[128];
    s_create(h->key_a,
             "{\"name\":\"Speed to lead\",\"channel\":\"sms\",\"purpose\":\"follow_up\","
             "\"bodyText\":\"Hi {{contact.firstName}}, thanks for asking about the "
             "{{ lead.vehicle }}. {{salesperson.name}}, {{dealership.name}}\"}",
             201, sms);
    s_create(h->key_a,
             "{\"name\":\"Welcome email\",\"channel\":\"email\",\"purpose\":\"marketing\","
             "\"subject\":\"Welcome, {{contact.firstName}}\",\"bodyText\":\"Hi {{contact.name}}\","
             "\"bodyHtml\":\"<p>Hi <b>{{contact.name}}</b> from {{dealership.name}}</p>\"}",
             201, email);

    //  Read back as created.
    snprintf(path, sizeof path, "/v1/templates/%s", email);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "name"), "Welcome email");
    assert_string_equal(harness_json_str(&r, "channel"), "email");
    assert_string_equal(harness_json_str(&r, "purpose"), "marketing");
    assert_string_equal(harness_json_str(&r, "subject"), "Welcome, {{contact.firstName}}");
    assert_non_null(strstr(harness_json_str(&r, "bodyHtml"), "<b>{{contact.name}}</b>"));
    assert_true(harness_json_str(&r, "createdAt")[0]);
    harness_response_free(&r);

    //  The list, oldest first, paged; one channel's.
    r = harness_http("GET", "/v1/templates?limit=1", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), sms);
    char next[128];
    snprintf(next, sizeof next, "/v1/templates?limit=1&cursor=%s",
             harness_json_str(&r, "nextCursor"));
    harness_response_free(&r);
    r = harness_http("GET", next, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), email);
    assert_string_equal(harness_json_str(&r, "nextCursor"), "");
    harness_response_free(&r);
    r = harness_http("GET", "/v1/templates?channel=email", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    harness_response_free(&r);
    s_refused("GET", "/v1/templates?cursor=nonsense", NULL, "cursor", NULL);

    //  PATCH changes only what it names.
    snprintf(path, sizeof path, "/v1/templates/%s", sms);
    r = harness_http("PATCH", path, h->key_a,
                     "{\"bodyText\":\"Hello {{contact.firstName}}\",\"name\":\"Speed to lead v2\"}",
                     NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "bodyText"), "Hello {{contact.firstName}}");
    assert_string_equal(harness_json_str(&r, "name"), "Speed to lead v2");
    assert_string_equal(harness_json_str(&r, "purpose"), "follow_up");
    harness_response_free(&r);
    s_refused("PATCH", path, "{\"bodyText\":\"{{contact.shoeSize}}\"}", "bodyText",
              "unknown placeholder {{contact.shoeSize}}");
    s_refused("PATCH", path, "{\"id\":\"x\"}", "id", NULL);

    //  Another tenant sees none of it.
    r = harness_http("GET", path, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/templates", h->key_b, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    harness_response_free(&r);
    r = harness_http("DELETE", path, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    //  ... and may use the same name.
    s_create(h->key_b,
             "{\"name\":\"speed to lead V2\",\"channel\":\"sms\","
             "\"purpose\":\"transactional\",\"bodyText\":\"Hi\"}",
             201, NULL);
    //  Reading is for every role, writing not for analysts.
    r = harness_http("POST", "/v1/templates", s_key_analyst_b,
                     "{\"name\":\"A\",\"channel\":\"sms\",\"purpose\":\"transactional\","
                     "\"bodyText\":\"Hi\"}",
                     NULL);
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/templates", s_key_analyst_b, NULL, NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);

    //  A duplicate name, any case: 409 naming the holder.
    r = harness_http(
        "POST", "/v1/templates", h->key_a,
        "{\"name\":\"WELCOME EMAIL\",\"channel\":\"sms\",\"purpose\":\"transactional\","
        "\"bodyText\":\"Hi\"}",
        NULL);
    assert_int_equal(r.status, 409);
    assert_non_null(strstr(r.body, email));
    harness_response_free(&r);
    r = harness_http("PATCH", path, h->key_a, "{\"name\":\"welcome email\"}", NULL);
    assert_int_equal(r.status, 409);
    harness_response_free(&r);

    //  Delete: 204, then 404.
    r = harness_http("DELETE", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    r = harness_http("DELETE", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
}

static void test_refusals(void **state) {
    (void)state;
    s_refused("POST", "/v1/templates",
              "{\"name\":\"Bad\",\"channel\":\"sms\",\"purpose\":\"transactional\","
              "\"bodyText\":\"Your size {{contact.shoeSize}}\"}",
              "bodyText", "unknown placeholder {{contact.shoeSize}}");
    s_refused("POST", "/v1/templates",
              "{\"name\":\"Bad\",\"channel\":\"sms\",\"purpose\":\"transactional\","
              "\"bodyText\":\"Hi {{contact.firstName\"}",
              "bodyText", "unclosed {{");
    s_refused("POST", "/v1/templates",
              "{\"name\":\"Bad\",\"channel\":\"email\",\"purpose\":\"transactional\","
              "\"bodyText\":\"Hi\"}",
              "subject", "is required");
    s_refused("POST", "/v1/templates",
              "{\"name\":\"Bad\",\"channel\":\"email\",\"purpose\":\"transactional\","
              "\"subject\":\"S\",\"bodyText\":\"Hi\",\"bodyHtml\":\"<p>{{ lead.colour }}</p>\"}",
              "bodyHtml", "unknown placeholder {{lead.colour}}");
    s_refused("POST", "/v1/templates",
              "{\"name\":\"Bad\",\"channel\":\"sms\",\"purpose\":\"transactional\","
              "\"bodyText\":\"Hi\",\"bodyHtml\":\"<p>Hi</p>\"}",
              "bodyHtml", "email templates only");
    s_refused("POST", "/v1/templates",
              "{\"channel\":\"sms\",\"purpose\":\"transactional\",\"bodyText\":\"Hi\"}", "name",
              "is required");
    s_refused("POST", "/v1/templates",
              "{\"name\":\"Bad\",\"purpose\":\"transactional\",\"bodyText\":\"Hi\"}", "channel",
              "is required");
    //  Too long: a name of 101 characters, an SMS of 1601.
    char body[4096], name[128], text[1700];
    memset(name, 'n', 101);
    name[101] = 0;
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"channel\":\"sms\",\"purpose\":\"transactional\","
             "\"bodyText\":\"Hi\"}",
             name);
    s_refused("POST", "/v1/templates", body, "name", "at most 100 characters");
    memset(text, 'x', 1601);
    text[1601] = 0;
    snprintf(body, sizeof body,
             "{\"name\":\"Long\",\"channel\":\"sms\",\"purpose\":\"transactional\","
             "\"bodyText\":\"%s\"}",
             text);
    s_refused("POST", "/v1/templates", body, "bodyText", "at most 1600 characters");
    //  Nothing refused was stored.
    harness_response_t r = harness_http("GET", "/v1/templates?limit=200", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "\"Bad\""));
    assert_null(strstr(r.body, "\"Long\""));
    harness_response_free(&r);
}

static void test_preview(void **state) {
    (void)state;
    char contact[64], member[64], lead[64], tpl[64], sms[64], path[160], body[1024];
    harness_response_t r =
        harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"kind\":\"person\",\"firstName\":\"Ann\",\"lastName\":\"O'Lee <Jr>\","
                     "\"emails\":[{\"address\":\"ann.preview@example.com\"}]}",
                     NULL);
    assert_int_equal(r.status, 201);
    snprintf(contact, sizeof contact, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    fixture_member(h->key_a, "Sam Seller", member);
    snprintf(body, sizeof body,
             "{\"contactId\":\"%s\",\"source\":\"walk_in\",\"assigneeId\":\"%s\","
             "\"vehicle\":{\"year\":2024,\"make\":\"Toyota\",\"model\":\"RAV4\"}}",
             contact, member);
    r = harness_http("POST", "/v1/leads", h->key_a, body, NULL);
    if (r.status != 201)
        fprintf(stderr, "create lead: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(lead, sizeof lead, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);

    s_create(h->key_a,
             "{\"name\":\"Preview email\",\"channel\":\"email\",\"purpose\":\"transactional\","
             "\"subject\":\"Your {{lead.vehicle}}, {{contact.firstName}}\","
             "\"bodyText\":\"Dear {{contact.name}}, {{salesperson.name}} of {{dealership.name}} "
             "({{lead.source}}) at {{contact.email}}\","
             "\"bodyHtml\":\"<p>Dear <b>{{contact.name}}</b> of {{dealership.name}}</p>\"}",
             201, tpl);
    snprintf(path, sizeof path, "/v1/templates/%s/preview", tpl);
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"leadId\":\"%s\"}", contact, lead);
    r = harness_http("POST", path, h->key_a, body, NULL);
    if (r.status != 200)
        fprintf(stderr, "preview: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "subject"), "Your 2024 Toyota RAV4, Ann");
    assert_string_equal(harness_json_str(&r, "bodyText"),
                        "Dear Ann O'Lee <Jr>, Sam Seller of Smith & Sons <Motors> (walk in) at "
                        "ann.preview@example.com");
    assert_string_equal(harness_json_str(&r, "bodyHtml"),
                        "<p>Dear <b>Ann O&#39;Lee &lt;Jr&gt;</b> of Smith &amp; Sons "
                        "&lt;Motors&gt;</p>");
    assert_string_equal(harness_json_str(&r, "channel"), "email");
    harness_response_free(&r);

    //  Without a lead, its placeholders render empty. Previewing belongs to editing
    //  templates: not for analysts.
    s_create(h->key_a,
             "{\"name\":\"Preview sms\",\"channel\":\"sms\",\"purpose\":\"follow_up\","
             "\"bodyText\":\"Hi {{contact.firstName}}[{{lead.vehicle}}]\"}",
             201, sms);
    snprintf(path, sizeof path, "/v1/templates/%s/preview", sms);
    snprintf(body, sizeof body, "{\"contactId\":\"%s\"}", contact);
    r = harness_http("POST", path, h->key_analyst, body, NULL);
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
    r = harness_http("POST", path, h->key_a, body, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "bodyText"), "Hi Ann[]");
    assert_string_equal(harness_json_str(&r, "bodyHtml"), "");
    harness_response_free(&r);

    //  Unknown contact, unknown lead, a lead of another contact: 422 naming the field.
    s_refused("POST", path, "{\"contactId\":\"0190a0a0-0000-7000-8000-000000000000\"}", "contactId",
              "no such contact");
    s_refused("POST", path, "{\"contactId\":\"nonsense\"}", "contactId", NULL);
    s_refused("POST", path, "{}", "contactId", "is required");
    snprintf(body, sizeof body,
             "{\"contactId\":\"%s\",\"leadId\":\"0190a0a0-0000-7000-8000-000000000000\"}", contact);
    s_refused("POST", path, body, "leadId", "no such lead");
    char other_lead[64];
    fixture_lead(h->key_a, "", other_lead);
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"leadId\":\"%s\"}", contact, other_lead);
    s_refused("POST", path, body, "leadId", "is not a lead of contact");

    //  Another tenant's contact is not there for tenant A's preview, nor A's template for B.
    char contact_b[64];
    fixture_contact(h->key_b, contact_b);
    snprintf(body, sizeof body, "{\"contactId\":\"%s\"}", contact_b);
    s_refused("POST", path, body, "contactId", "no such contact");
    snprintf(body, sizeof body, "{\"contactId\":\"%s\"}", contact_b);
    r = harness_http("POST", path, h->key_b, body, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
}

static void test_openapi(void **state) {
    (void)state;
    harness_response_t r = harness_http("GET", "/v1/openapi.json", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *paths = json_object_get(r.json, "paths");
    json_t *list = json_object_get(paths, "/v1/templates");
    json_t *one = json_object_get(paths, "/v1/templates/{id}");
    json_t *preview = json_object_get(paths, "/v1/templates/{id}/preview");
    assert_non_null(json_object_get(list, "post"));
    assert_non_null(json_object_get(list, "get"));
    assert_non_null(json_object_get(one, "get"));
    assert_non_null(json_object_get(one, "patch"));
    assert_non_null(json_object_get(one, "delete"));
    assert_non_null(json_object_get(preview, "post"));
    harness_response_free(&r);
    //  /readyz counts the notify workers.
    r = harness_http("GET", "/readyz", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_integer_value(json_object_get(json_object_get(r.json, "workers"), "notify")) >
                0);
    harness_response_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crud),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_preview),
        cmocka_unit_test(test_openapi),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
