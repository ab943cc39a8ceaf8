/*  routes: the gateway's route table and matcher, and the OpenAPI document made from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/gateway/openapi.h"
#include "common.pb-c.h"
#include "../../services/gateway/routes.h"

static void test_match_collection_and_item(void **state) {
    (void)state;
    route_param_t params[ROUTE_MAX_PARAMS];
    int n = -1;
    bool known;
    const route_t *r = route_match("POST", "/v1/contacts", params, &n, &known);
    assert_non_null(r);
    assert_string_equal(r->rpc, "Create");
    assert_int_equal(n, 0);
    r = route_match("GET", "/v1/contacts/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", params, &n, &known);
    assert_non_null(r);
    assert_string_equal(r->rpc, "Get");
    assert_int_equal(n, 1);
    assert_string_equal(params[0].name, "id");
    assert_string_equal(params[0].value, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    r = route_match("GET", "/v1/contacts/", params, &n, &known);  // trailing slash
    assert_non_null(r);
    assert_string_equal(r->rpc, "List");
}

static void test_no_match(void **state) {
    (void)state;
    route_param_t params[ROUTE_MAX_PARAMS];
    int n;
    bool known;
    assert_null(route_match("GET", "/v1/nothing", params, &n, &known));
    assert_false(known);
    assert_null(route_match("PUT", "/v1/contacts/abc", params, &n, &known));
    assert_true(known);  // the path exists: 405, not 404
    assert_null(route_match("GET", "/v1/contacts/a/b", params, &n, &known));
    assert_null(route_match("GET", "/v1", params, &n, &known));
    assert_null(route_match("GET", "", params, &n, &known));
    assert_null(route_match("GET", "/v1//", params, &n, &known));
    char longer[400];
    memset(longer, 'x', sizeof longer);
    memcpy(longer, "/v1/contacts/", 13);
    longer[sizeof longer - 1] = 0;
    assert_null(route_match("GET", longer, params, &n, &known));  // parameter too long
}

static void test_roles(void **state) {
    (void)state;
    assert_int_equal(route_role_bit("admin"), ROLE_ADMIN);
    assert_int_equal(route_role_bit("analyst"), ROLE_ANALYST);
    assert_int_equal(route_role_bit("nobody"), 0);
    //  Analysts read, never write. An export reads: it changes no record, it copies them.
    for (const route_t *r = routes; r->pattern; r++)
        if (strcmp(r->http_method, "GET") != 0 && strcmp(r->rpc, "CreateExport") != 0)
            assert_false(r->roles & ROLE_ANALYST);
}

//  docs/ROLES.md is the role x route table as generated (make roles-doc), and every
//  record rule names a route of the table.
static void test_roles_doc_matches_table(void **state) {
    (void)state;
    char path[512];
    const char *top = getenv("CRM_TOP_DIR");
    snprintf(path, sizeof path, "%s/docs/ROLES.md", top ? top : ".");
    FILE *file = fopen(path, "r");
    if (!file)
        fail_msg("cannot read %s (set CRM_TOP_DIR to the repository)", path);
    char *doc = NULL;
    size_t size = 0;
    FILE *copy = open_memstream(&doc, &size);
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, file)) > 0)
        fwrite(buffer, 1, n, copy);
    fclose(copy);
    fclose(file);
    char *table = route_roles_markdown();
    if (strcmp(doc, table) != 0)
        fail_msg("docs/ROLES.md differs from the route table: run make roles-doc");
    free(table);
    free(doc);
    for (const route_record_rule_t *x = route_record_rules; x->service; x++) {
        bool found = false;
        for (const route_t *r = routes; r->pattern && !found; r++)
            found = strcmp(r->service, x->service) == 0 && strcmp(r->rpc, x->rpc) == 0;
        if (!found)
            fail_msg("record rule %s.%s names no route", x->service, x->rpc);
    }
}

static void test_openapi_lists_every_route(void **state) {
    (void)state;
    char *text = openapi_render();
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    json_t *paths = json_object_get(doc, "paths");
    for (const route_t *r = routes; r->pattern; r++) {
        json_t *item = json_object_get(paths, r->pattern);
        assert_non_null(item);
        char method[16];
        size_t i = 0;
        for (; r->http_method[i]; i++)
            method[i] = (char)(r->http_method[i] | 0x20);
        method[i] = 0;
        assert_non_null(json_object_get(item, method));
    }
    json_t *contact = json_object_get(json_object_get(json_object_get(doc, "components"),
                                                      "schemas"),
                                      "crm.contacts.Contact");
    assert_non_null(json_object_get(json_object_get(contact, "properties"), "firstName"));
    json_decref(doc);
    free(text);
}

//  A create answers 201 in the document as it does on the wire: every Create* method.
static void test_openapi_creates_answer_201(void **state) {
    (void)state;
    char *text = openapi_render();
    json_t *doc = json_loads(text, 0, NULL);
    json_t *paths = json_object_get(doc, "paths");
    const char *created[] = {"/v1/contacts", "/v1/tags", "/v1/contacts/{id}/notes"};
    for (size_t i = 0; i < sizeof created / sizeof created[0]; i++) {
        json_t *responses = json_object_get(
            json_object_get(json_object_get(paths, created[i]), "post"), "responses");
        assert_non_null(json_object_get(responses, "201"));
        assert_null(json_object_get(responses, "200"));
        //  A keyed answer carries the key's rate limit; over it, 429 with Retry-After.
        json_t *ok_headers = json_object_get(json_object_get(responses, "201"), "headers");
        assert_non_null(json_object_get(ok_headers, "RateLimit-Remaining"));
        json_t *refused = json_object_get(json_object_get(responses, "429"), "headers");
        assert_non_null(json_object_get(refused, "Retry-After"));
        assert_non_null(json_object_get(refused, "RateLimit-Reset"));
    }
    json_decref(doc);
    free(text);
}

static void test_match_note_routes(void **state) {
    (void)state;
    route_param_t params[ROUTE_MAX_PARAMS];
    int n = -1;
    bool known;
    const char *contact = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    const char *note = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";
    char path[200];
    snprintf(path, sizeof path, "/v1/contacts/%s/notes/%s/revisions", contact, note);
    const route_t *r = route_match("GET", path, params, &n, &known);
    assert_non_null(r);
    assert_string_equal(r->rpc, "ListNoteRevisions");
    assert_int_equal(n, 2);
    assert_string_equal(params[0].name, "id");
    assert_string_equal(params[0].value, contact);
    assert_string_equal(params[1].name, "noteId");
    assert_string_equal(params[1].value, note);
    snprintf(path, sizeof path, "/v1/contacts/%s/notes/%s", contact, note);
    assert_string_equal(route_match("PATCH", path, params, &n, &known)->rpc, "UpdateNote");
    assert_string_equal(route_match("DELETE", path, params, &n, &known)->rpc, "DeleteNote");
    assert_null(route_match("PUT", path, params, &n, &known));
    assert_true(known);
    //  Anyone of the tenant reads notes; analysts do not write them.
    snprintf(path, sizeof path, "/v1/contacts/%s/notes", contact);
    r = route_match("GET", path, params, &n, &known);
    assert_string_equal(r->rpc, "ListNotes");
    assert_true(r->roles & ROLE_ANALYST);
    r = route_match("POST", path, params, &n, &known);
    assert_string_equal(r->rpc, "CreateNote");
    assert_int_equal(r->roles, ROLES_WRITE);
}

//  The keyless routes notify serves (raw: see routes.h): each row as the notify service
//  implements it, its token a path parameter as long as notify's longest.
static void test_raw_routes(void **state) {
    (void)state;
    const struct {
        const char *method, *path, *rpc, *token;
    } rows[] = {
        {"POST", "/v1/webhooks/sms/status", "SmsStatusWebhook", NULL},
        {"POST", "/v1/webhooks/sms/inbound", "SmsInboundWebhook", NULL},
        {"POST", "/v1/unsubscribe/AQF1CHRlbmFudC1hAZChssPUfl-KmwwdLj9KWwfFQ", "Unsubscribe",
         "AQF1CHRlbmFudC1hAZChssPUfl-KmwwdLj9KWwfFQ"},
        {"GET", "/v1/unsubscribe/AQF1CHRlbmFudC1hAZChssPUfl-KmwwdLj9KWwfFQ", "UnsubscribePage",
         "AQF1CHRlbmFudC1hAZChssPUfl-KmwwdLj9KWwfFQ"},
        {"GET", "/v1/t/AQFvCHRlbmFudC1h", "Track", "AQFvCHRlbmFudC1h"},
    };
    route_param_t params[ROUTE_MAX_PARAMS];
    int n;
    bool known;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const route_t *r = route_match(rows[i].method, rows[i].path, params, &n, &known);
        assert_non_null(r);
        assert_string_equal(r->service, "notify");
        assert_string_equal(r->rpc, rows[i].rpc);
        assert_true(route_raw(r));
        assert_int_equal(r->roles, ROUTE_KEYLESS);
        assert_int_equal(n, rows[i].token ? 1 : 0);
        if (rows[i].token) {
            assert_string_equal(params[0].name, "token");
            assert_string_equal(params[0].value, rows[i].token);
        }
    }
    //  notify's longest token (139 characters) is one path parameter.
    char path[200], token[140];
    memset(token, 'A', 139);
    token[139] = 0;
    snprintf(path, sizeof path, "/v1/t/%s", token);
    const route_t *r = route_match("GET", path, params, &n, &known);
    assert_non_null(r);
    assert_string_equal(params[0].value, token);
    //  Other methods: 405, as for any route.
    assert_null(route_match("GET", "/v1/webhooks/sms/status", params, &n, &known));
    assert_true(known);
    assert_null(route_match("DELETE", "/v1/t/abc", params, &n, &known));
    assert_true(known);
}

//  Keyless is raw and raw is keyless: a key-checked route cannot lose its check by a
//  typo, and a raw route never gets a tenant from a key. Each raw route says what it
//  takes and answers (for the document).
static void test_only_raw_routes_are_keyless(void **state) {
    (void)state;
    int raw = 0;
    for (const route_t *r = routes; r->pattern; r++) {
        assert_int_equal(route_raw(r), r->roles == ROUTE_KEYLESS);
        assert_int_equal(route_raw(r), r->response == &crm__http_response__descriptor);
        if (route_raw(r)) {
            raw++;
            const route_raw_doc_t *doc = route_raw_doc(r);
            if (!doc)
                fail_msg("raw route %s %s has no row in s_raw_docs", r->http_method, r->pattern);
            assert_non_null(doc->answers[0].status);
            assert_null(r->body);
            //  A GET takes no body; a POST here takes a form.
            if (strcmp(r->http_method, "GET") == 0)
                assert_null(doc->request_media);
            else
                assert_string_equal(doc->request_media, "application/x-www-form-urlencoded");
        } else
            assert_null(route_raw_doc(r));
    }
    assert_int_equal(raw, 5);
}

//  In the document, a raw route has no security, takes its form as a form and answers
//  its own media types; errors in text. The API routes keep the bearer key and JSON.
static void test_openapi_raw_routes(void **state) {
    (void)state;
    char *text = openapi_render();
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    json_t *paths = json_object_get(doc, "paths");

    json_t *status = json_object_get(json_object_get(paths, "/v1/webhooks/sms/status"), "post");
    assert_non_null(status);
    assert_string_equal(json_string_value(json_object_get(status, "operationId")),
                        "notify.SmsStatusWebhook");
    json_t *security = json_object_get(status, "security");
    assert_true(json_is_array(security));
    assert_int_equal(json_array_size(security), 0);
    json_t *form =
        json_object_get(json_object_get(json_object_get(status, "requestBody"), "content"),
                        "application/x-www-form-urlencoded");
    assert_non_null(form);
    assert_null(json_object_get(json_object_get(json_object_get(status, "requestBody"), "content"),
                                "application/json"));
    json_t *errors = json_object_get(json_object_get(status, "responses"), "default");
    assert_non_null(json_object_get(json_object_get(errors, "content"), "text/plain"));

    json_t *track = json_object_get(json_object_get(paths, "/v1/t/{token}"), "get");
    json_t *responses = json_object_get(track, "responses");
    assert_non_null(json_object_get(json_object_get(json_object_get(responses, "200"), "content"),
                                    "image/gif"));
    assert_non_null(
        json_object_get(json_object_get(json_object_get(responses, "302"), "headers"), "Location"));
    assert_null(json_object_get(track, "requestBody"));
    assert_int_equal(json_array_size(json_object_get(track, "security")), 0);

    json_t *page = json_object_get(json_object_get(paths, "/v1/unsubscribe/{token}"), "get");
    assert_non_null(json_object_get(
        json_object_get(json_object_get(json_object_get(page, "responses"), "200"), "content"),
        "text/html"));
    assert_non_null(json_object_get(json_object_get(paths, "/v1/unsubscribe/{token}"), "post"));

    //  An API route is unchanged: the bearer key, JSON in and out.
    json_t *create = json_object_get(json_object_get(paths, "/v1/contacts"), "post");
    json_t *bearer = json_array_get(json_object_get(create, "security"), 0);
    assert_non_null(json_object_get(bearer, "bearer"));
    assert_non_null(json_object_get(
        json_object_get(json_object_get(create, "requestBody"), "content"), "application/json"));
    //  HttpRequest and HttpResponse are wire types, not API schemas.
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    assert_null(json_object_get(schemas, "crm.HttpRequest"));
    assert_null(json_object_get(schemas, "crm.HttpResponse"));
    json_decref(doc);
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_collection_and_item),
        cmocka_unit_test(test_no_match),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_roles_doc_matches_table),
        cmocka_unit_test(test_openapi_lists_every_route),
        cmocka_unit_test(test_openapi_creates_answer_201),
        cmocka_unit_test(test_match_note_routes),
        cmocka_unit_test(test_raw_routes),
        cmocka_unit_test(test_only_raw_routes_are_keyless),
        cmocka_unit_test(test_openapi_raw_routes),
    };
    return cmocka_run_group_tests_name("routes", tests, NULL, NULL);
}
