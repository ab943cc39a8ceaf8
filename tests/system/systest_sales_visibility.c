/*  System tests of which leads a salesperson sees: by default (salesSeeAllLeads false)
    the leads assigned to their team member and the unassigned ones, in the list (every
    order, paged), one lead (404 for another's, its existence not leaked, nothing
    changed), the hot sheet and the follow-ups; managers, admins, analysts and
    integration keys see all; the tenant's setting lets salespeople see all. Driven over
    HTTP in a tenant of its own. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "systest_fixtures.h"

#define TENANT "tenant-vis"

static harness_t *h;
static char s_admin[64], s_manager[64], s_analyst[64], s_integration[64];
static char s_ann[64], s_bob[64], s_cat[64]; // sales keys: Ann and Bob members, Cat none
static char s_ann_member[64], s_bob_member[64];
//  The leads: Ann's three, Bob's two, two unassigned (all hot, each with a follow-up).
static char s_a[3][64], s_b[2][64], s_u[2][64];

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    harness_create_key(TENANT, "admin", s_admin, sizeof s_admin);
    harness_create_key(TENANT, "manager", s_manager, sizeof s_manager);
    harness_create_key(TENANT, "analyst", s_analyst, sizeof s_analyst);
    harness_create_key(TENANT, "integration", s_integration, sizeof s_integration);
    harness_create_key(TENANT, "sales", s_ann, sizeof s_ann);
    harness_create_key(TENANT, "sales", s_bob, sizeof s_bob);
    harness_create_key(TENANT, "sales", s_cat, sizeof s_cat);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  The actor a key acts as (the createdBy of a lead it makes; the lead is then deleted).
static void s_actor_of(const char *key, char actor[128]) {
    char lead[64], path[128];
    fixture_lead(key, "", lead);
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    harness_response_t r = harness_http("GET", path, s_admin, NULL, NULL);
    assert_int_equal(r.status, 200);
    snprintf(actor, 128, "%s", harness_json_str(&r, "createdBy"));
    harness_response_free(&r);
    assert_true(actor[0]);
    r = harness_http("DELETE", path, s_admin, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
}

//  A team member bound to actor; its id into id.
static void s_member(const char *name, const char *actor, char id[64]) {
    char body[512];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"actorId\":\"%s\"}", name, actor);
    harness_response_t r = harness_http("POST", "/v1/team/members", s_admin, body, NULL);
    if (r.status != 201)
        fprintf(stderr, "create member: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  A hot lead with a follow-up, assigned to member ("" none); its id into id.
static void s_lead(const char *member, char id[64]) {
    char extra[256];
    snprintf(extra, sizeof extra,
             ",\"priority\":\"hot\",\"followUpAt\":\"2031-01-01T10:00:00Z\""
             ",\"assigneeId\":\"%s\"",
             member);
    fixture_lead(s_admin, extra, id);
}

static int s_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

//  The ids given (n of them, NULL-ended list), sorted, comma-joined into out.
static void s_set(char *out, size_t size, const char *first, ...) {
    const char *ids[16];
    size_t n = 0;
    va_list args;
    va_start(args, first);
    for (const char *id = first; id && n < 16; id = va_arg(args, const char *))
        ids[n++] = id;
    va_end(args);
    qsort(ids, n, sizeof *ids, s_cmp);
    out[0] = 0;
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "", ids[i]);
}

//  Every page of a list (path has a query: limit and cursor are added), the member field
//  of its items in array, the ids sorted and comma-joined into out; duplicates fail.
static void s_pages(const char *key, const char *path, const char *array, const char *field,
                    char *out, size_t size) {
    char *ids[64], cursor[512] = "", url[1024];
    size_t n = 0;
    int pages = 0;
    do {
        snprintf(url, sizeof url, "%s&limit=2%s%s", path, cursor[0] ? "&cursor=" : "", cursor);
        harness_response_t r = harness_http("GET", url, key, NULL, NULL);
        if (r.status != 200)
            fprintf(stderr, "GET %s: %ld %s\n", url, r.status, r.body);
        assert_int_equal(r.status, 200);
        json_t *items = json_object_get(r.json, array);
        assert_true(json_array_size(items) <= 2);
        for (size_t i = 0; i < json_array_size(items) && n < 64; i++)
            ids[n++] = strdup(json_string_value(json_object_get(json_array_get(items, i), field)));
        const char *next = harness_json_str(&r, "nextCursor");
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        harness_response_free(&r);
        assert_true(++pages < 20);
    } while (cursor[0]);
    qsort(ids, n, sizeof *ids, s_cmp);
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            assert_string_not_equal(ids[i], ids[i - 1]);
        snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "", ids[i]);
    }
    for (size_t i = 0; i < n; i++) // after the comparisons, each with the one before
        free(ids[i]);
}

//  One page of path (no paging), ids of array's items' field, sorted and joined.
static void s_ids(const char *key, const char *path, const char *array, const char *field,
                  char *out, size_t size) {
    harness_response_t r = harness_http("GET", path, key, NULL, NULL);
    if (r.status != 200)
        fprintf(stderr, "GET %s: %ld %s\n", path, r.status, r.body);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, array);
    const char *ids[64];
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(items) && n < 64; i++)
        ids[n++] = json_string_value(json_object_get(json_array_get(items, i), field));
    qsort(ids, n, sizeof *ids, s_cmp);
    out[0] = 0;
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "", ids[i]);
    harness_response_free(&r);
}

//  A request on a lead (fmt has one %s, its id) and its status.
static long s_status(const char *method, const char *fmt, const char *lead, const char *key,
                     const char *body) {
    char path[256];
    snprintf(path, sizeof path, fmt, lead);
    harness_response_t r = harness_http(method, path, key, body, NULL);
    long status = r.status;
    if (status == 404) // no word of the lead: the same answer as for no lead at all
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
            "not_found");
    harness_response_free(&r);
    return status;
}

//  Whether salespeople see all the tenant's leads.
static void s_see_all(bool on) {
    char body[64];
    snprintf(body, sizeof body, "{\"salesSeeAllLeads\":%s}", on ? "true" : "false");
    harness_response_t r = harness_http("PATCH", "/v1/pipeline/settings", s_manager, body, NULL);
    if (r.status != 200)
        fprintf(stderr, "settings: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "salesSeeAllLeads")) == on);
    assert_string_equal(harness_json_str(&r, "timeZone"), "UTC"); // the others kept
    harness_response_free(&r);
}

//  (Not the score order: the scoring service scores the leads meanwhile, and the same
//  statement shape serves it: LIST_SQL in lead_store.c.)
static const char *const s_sorts[] = {"created", "last_activity", "follow_up"};

//  What a key sees in the list (every order, paged), the hot sheet and the follow-ups:
//  expected, sorted and joined.
static void s_sees(const char *key, const char *expected) {
    char got[2048], path[256];
    for (size_t i = 0; i < sizeof s_sorts / sizeof *s_sorts; i++) {
        snprintf(path, sizeof path, "/v1/leads?sort=%s", s_sorts[i]);
        s_pages(key, path, "items", "id", got, sizeof got);
        assert_string_equal(got, expected);
    }
    s_pages(key, "/v1/leads?priority=hot&sort=created", "items", "id", got, sizeof got);
    assert_string_equal(got, expected);
    s_ids(key, "/v1/leads/hot-sheet?date=2030-01-15", "hot", "leadId", got, sizeof got);
    assert_string_equal(got, expected);
    s_pages(key, "/v1/follow-ups?status=pending", "items", "leadId", got, sizeof got);
    assert_string_equal(got, expected);
}

static void test_sales_sees_own_and_unassigned(void **state) {
    (void)state;
    char ann[128], bob[128], cat[128];
    s_actor_of(s_ann, ann);
    s_actor_of(s_bob, bob);
    s_actor_of(s_cat, cat); // Cat is no member: she sees the unassigned leads only
    s_member("Ann Seller", ann, s_ann_member);
    s_member("Bob Seller", bob, s_bob_member);
    for (int i = 0; i < 3; i++)
        s_lead(s_ann_member, s_a[i]);
    for (int i = 0; i < 2; i++)
        s_lead(s_bob_member, s_b[i]);
    for (int i = 0; i < 2; i++)
        s_lead("", s_u[i]);

    char anns[1024], bobs[1024], cats[1024], all[2048];
    s_set(anns, sizeof anns, s_a[0], s_a[1], s_a[2], s_u[0], s_u[1], NULL);
    s_set(bobs, sizeof bobs, s_b[0], s_b[1], s_u[0], s_u[1], NULL);
    s_set(cats, sizeof cats, s_u[0], s_u[1], NULL);
    s_set(all, sizeof all, s_a[0], s_a[1], s_a[2], s_b[0], s_b[1], s_u[0], s_u[1], NULL);
    s_sees(s_ann, anns);
    s_sees(s_bob, bobs);
    s_sees(s_cat, cats);
    s_sees(s_manager, all);
    s_sees(s_admin, all);
    s_sees(s_analyst, all);
    s_sees(s_integration, all);

    //  A filter naming Bob's member finds nothing for Ann; her own finds hers.
    char path[256], got[1024];
    snprintf(path, sizeof path, "/v1/leads?assigneeId=%s", s_bob_member);
    s_pages(s_ann, path, "items", "id", got, sizeof got);
    assert_string_equal(got, "");
    s_pages(s_ann, "/v1/leads?assigneeId=me", "items", "id", got, sizeof got);
    char mine[1024];
    s_set(mine, sizeof mine, s_a[0], s_a[1], s_a[2], NULL);
    assert_string_equal(got, mine);
    //  The store's hot sheet of Bob's member, asked by Ann, is empty.
    snprintf(path, sizeof path, "/v1/leads/hot-sheet?date=2030-01-15&assigneeId=%s", s_bob_member);
    s_ids(s_ann, path, "hot", "leadId", got, sizeof got);
    assert_string_equal(got, "");
}

static void test_sales_another_lead_is_404(void **state) {
    (void)state;
    const char *bobs = s_b[0];
    //  Every way into Bob's lead answers Ann 404, as for no lead at all.
    assert_int_equal(s_status("GET", "/v1/leads/%s", bobs, s_ann, NULL), 404);
    assert_int_equal(s_status("PATCH", "/v1/leads/%s", bobs, s_ann, "{\"region\":\"North\"}"), 404);
    assert_int_equal(
        s_status("POST", "/v1/leads/%s/status", bobs, s_ann, "{\"status\":\"contacted\"}"), 404);
    assert_int_equal(s_status("POST", "/v1/leads/%s/activities", bobs, s_ann,
                              "{\"kind\":\"note\",\"notes\":\"Ann was here\"}"),
                     404);
    assert_int_equal(s_status("GET", "/v1/leads/%s/activities", bobs, s_ann, NULL), 404);
    assert_int_equal(s_status("GET", "/v1/leads/%s/timeline", bobs, s_ann, NULL), 404);
    assert_int_equal(s_status("GET", "/v1/leads/%s/follow-ups", bobs, s_ann, NULL), 404);
    assert_int_equal(s_status("POST", "/v1/leads/%s/follow-ups", bobs, s_ann,
                              "{\"dueAt\":\"2031-02-01T10:00:00Z\"}"),
                     404);
    assert_int_equal(s_status("GET", "/v1/leads/%s/assignments", bobs, s_ann, NULL), 404);
    char body[256];
    snprintf(body, sizeof body, "{\"assigneeId\":\"%s\"}", s_ann_member);
    assert_int_equal(s_status("POST", "/v1/leads/%s/assign", bobs, s_ann, body), 404);
    assert_int_equal(s_status("DELETE", "/v1/leads/%s", bobs, s_ann, NULL), 404);
    //  Nothing changed: Bob's lead as it was.
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s", bobs);
    harness_response_t r = harness_http("GET", path, s_manager, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "status"), "new");
    assert_string_equal(harness_json_str(&r, "assigneeId"), s_bob_member);
    harness_response_free(&r);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.activities WHERE lead_id = '%s'"
             " AND details::text LIKE '%%Ann was here%%'",
             bobs);
    assert_int_equal(harness_sql_scalar(sql), 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM leads.follow_ups WHERE lead_id = '%s'", bobs);
    assert_int_equal(harness_sql_scalar(sql), 1);

    //  Her own lead and an unassigned one answer her; Bob's answers Bob and the others.
    assert_int_equal(s_status("GET", "/v1/leads/%s", s_a[0], s_ann, NULL), 200);
    assert_int_equal(s_status("GET", "/v1/leads/%s", s_u[0], s_ann, NULL), 200);
    assert_int_equal(s_status("POST", "/v1/leads/%s/activities", s_u[0], s_ann,
                              "{\"kind\":\"note\",\"notes\":\"Ann rang\"}"),
                     201);
    assert_int_equal(s_status("GET", "/v1/leads/%s", bobs, s_bob, NULL), 200);
    assert_int_equal(s_status("GET", "/v1/leads/%s", bobs, s_manager, NULL), 200);
    assert_int_equal(s_status("GET", "/v1/leads/%s", bobs, s_analyst, NULL), 200);
    assert_int_equal(s_status("GET", "/v1/leads/%s", bobs, s_integration, NULL), 200);
    assert_int_equal(s_status("GET", "/v1/leads/%s", s_a[0], s_bob, NULL), 404);
    assert_int_equal(s_status("GET", "/v1/leads/%s", s_a[0], s_cat, NULL), 404);
}

static void test_setting_lets_sales_see_all(void **state) {
    (void)state;
    //  Off by default.
    harness_response_t r = harness_http("GET", "/v1/pipeline/settings", s_ann, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_false(json_is_true(json_object_get(r.json, "salesSeeAllLeads")));
    harness_response_free(&r);
    //  A salesperson may not turn it on (managers and admins change the settings).
    r = harness_http("PATCH", "/v1/pipeline/settings", s_ann, "{\"salesSeeAllLeads\":true}", NULL);
    assert_int_equal(r.status, 403);
    harness_response_free(&r);

    char all[2048], anns[1024];
    s_set(all, sizeof all, s_a[0], s_a[1], s_a[2], s_b[0], s_b[1], s_u[0], s_u[1], NULL);
    s_set(anns, sizeof anns, s_a[0], s_a[1], s_a[2], s_u[0], s_u[1], NULL);
    s_see_all(true);
    s_sees(s_ann, all);
    s_sees(s_cat, all);
    assert_int_equal(s_status("GET", "/v1/leads/%s", s_b[0], s_ann, NULL), 200);
    assert_int_equal(s_status("POST", "/v1/leads/%s/activities", s_b[0], s_ann,
                              "{\"kind\":\"note\",\"notes\":\"Ann helped\"}"),
                     201);
    //  And off again.
    s_see_all(false);
    s_sees(s_ann, anns);
    assert_int_equal(s_status("GET", "/v1/leads/%s", s_b[0], s_ann, NULL), 404);
}

//  A salesperson who gives their lead away (PATCH or assign) is answered the lead, and
//  then no longer sees it.
static void test_sales_gives_a_lead_away(void **state) {
    (void)state;
    char body[256];
    snprintf(body, sizeof body, "{\"assigneeId\":\"%s\"}", s_bob_member);
    assert_int_equal(s_status("POST", "/v1/leads/%s/assign", s_a[1], s_ann, body), 200);
    assert_int_equal(s_status("GET", "/v1/leads/%s", s_a[1], s_ann, NULL), 404);
    assert_int_equal(s_status("GET", "/v1/leads/%s", s_a[1], s_bob, NULL), 200);
    assert_int_equal(s_status("PATCH", "/v1/leads/%s", s_a[2], s_ann, body), 200);
    assert_int_equal(s_status("GET", "/v1/leads/%s", s_a[2], s_ann, NULL), 404);
    char anns[1024], bobs[1024];
    s_set(anns, sizeof anns, s_a[0], s_u[0], s_u[1], NULL);
    s_set(bobs, sizeof bobs, s_a[1], s_a[2], s_b[0], s_b[1], s_u[0], s_u[1], NULL);
    s_sees(s_ann, anns);
    s_sees(s_bob, bobs);
}

static const struct CMUnitTest s_tests[] = {
    cmocka_unit_test(test_sales_sees_own_and_unassigned),
    cmocka_unit_test(test_sales_another_lead_is_404),
    cmocka_unit_test(test_setting_lets_sales_see_all),
    cmocka_unit_test(test_sales_gives_a_lead_away),
};

int main(void) {
    return cmocka_run_group_tests(s_tests, s_setup, s_teardown);
}
