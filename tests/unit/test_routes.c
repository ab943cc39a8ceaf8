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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_collection_and_item),
        cmocka_unit_test(test_no_match),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_openapi_lists_every_route),
        cmocka_unit_test(test_openapi_creates_answer_201),
        cmocka_unit_test(test_match_note_routes),
    };
    return cmocka_run_group_tests_name("routes", tests, NULL, NULL);
}
