/*  System tests of the sales team and lead assignment (services/leads/team.c, assign.c):
    team members, assignment rules in order (round robin, specialization, territory,
    availability), manual assignment with its note, LeadAssigned in leads' outbox, the
    assignment history, "my leads", and the refusals, each naming its field and writing
    nothing. Driven over HTTP as a client would. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <time.h>

#include "events.pb-c.h"
#include "systest_fixtures.h"
#include "systest_sql.h"

static harness_t *h;
static char s_key_sales[64];   // sales key of tenant-a
static char s_key_manager[64]; // manager key of tenant-a

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    harness_create_key("tenant-a", "sales", s_key_sales, sizeof s_key_sales);
    harness_create_key("tenant-a", "manager", s_key_manager, sizeof s_key_manager);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  The response's status and first field error, asserted; the response freed.
static void s_expect(harness_response_t r, long status, const char *field) {
    if (r.status != status || (field && strcmp(harness_error_field(&r), field) != 0))
        fprintf(stderr, "expected %ld %s, got %ld %s\n", status, field ? field : "", r.status,
                r.body);
    assert_int_equal(r.status, status);
    if (field)
        assert_string_equal(harness_error_field(&r), field);
    harness_response_free(&r);
}

//  A new member of the key's tenant from the JSON members in fields; its id into id.
static void s_member(const char *key, const char *fields, char id[64]) {
    char body[2048];
    snprintf(body, sizeof body, "{%s}", fields);
    harness_response_t r = harness_http("POST", "/v1/team/members", key, body, NULL);
    if (r.status != 201)
        fprintf(stderr, "create member: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  A new rule of tenant A; its id into id.
static void s_rule(const char *body, char id[64]) {
    harness_response_t r = harness_http("POST", "/v1/assignment-rules", h->key_a, body, NULL);
    if (r.status != 201)
        fprintf(stderr, "create rule: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  POST /v1/leads for contact with the members in extra; the response.
static harness_response_t s_post_lead(const char *key, const char *contact, const char *extra) {
    char body[2048];
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"source\":\"web_form\"%s}", contact,
             extra);
    return harness_http("POST", "/v1/leads", key, body, NULL);
}

//  A new lead of tenant A; its id and assignee into id and assignee.
static void s_lead(const char *contact, const char *extra, char id[64], char assignee[64]) {
    harness_response_t r = s_post_lead(h->key_a, contact, extra);
    if (r.status != 201)
        fprintf(stderr, "create lead: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    if (assignee)
        snprintf(assignee, 64, "%s", harness_json_str(&r, "assigneeId"));
    harness_response_free(&r);
}

//  Rows a refused request must not change: members, rules, leads, history, outbox. (The
//  scores the scoring service sends back are applied in the background, each a
//  LeadUpdated by the actor "scoring": waited for, and left out.)
static long long s_written(void) {
    sql_scores_settled();
    return sql_scalar("SELECT (SELECT count(*) FROM leads.team_members)"
                      " + (SELECT count(*) FROM leads.assignment_rules)"
                      " + (SELECT count(*) FROM leads.leads)"
                      " + (SELECT count(*) FROM leads.assignment_history)"
                      " + (SELECT count(*) FROM leads.outbox"
                      "    WHERE position(convert_to('scoring', 'UTF8') IN payload) = 0)");
}

//  The lead's LeadAssigned events, oldest first (n at most); how many there are.
static size_t s_assigned_events(const char *lead, Crm__Events__LeadAssigned **out, size_t n) {
    PGconn *db = PQconnectdb(h->dsn);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    const char *params[] = {lead};
    PGresult *res = PQexecParams(db,
                                 "SELECT payload FROM leads.outbox WHERE aggregate_id = $1"
                                 " AND type = 'LeadAssigned' ORDER BY occurred_at, xid, id",
                                 1, NULL, params, NULL, NULL, 1);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    size_t rows = (size_t)PQntuples(res);
    for (size_t i = 0; i < rows && i < n; i++) {
        out[i] = crm__events__lead_assigned__unpack(NULL, PQgetlength(res, (int)i, 0),
                                                    (const uint8_t *)PQgetvalue(res, (int)i, 0));
        assert_non_null(out[i]);
    }
    PQclear(res);
    PQfinish(db);
    return rows;
}

static void s_events_free(Crm__Events__LeadAssigned **events, size_t n) {
    for (size_t i = 0; i < n; i++)
        crm__events__lead_assigned__free_unpacked(events[i], NULL);
}

static void s_clear_rules(void) {
    sql_exec("DELETE FROM leads.assignment_rules WHERE tenant_id = 'tenant-a'");
}

// --- members ---------------------------------------------------------------------------

static void test_member_crud(void **state) {
    (void)state;
    harness_response_t r = harness_http(
        "POST", "/v1/team/members", s_key_manager,
        "{\"name\":\"  Sam Lee \",\"email\":\"Sam.Lee@Example.COM\",\"phone\":\"(202) 555-0142\","
        "\"role\":\"salesperson\",\"conditions\":[\"new\",\"certified\"],\"makes\":[\"Toyota\"],"
        "\"priceMinCents\":2000000,\"priceMaxCents\":5000000,\"postcodePrefixes\":[\"sw1 a\","
        "\"902\"],\"regions\":[\"North\"],\"workingHours\":[{\"day\":\"mon\",\"start\":\"09:00\","
        "\"end\":\"17:30\"},{\"day\":\"sat\",\"start\":\"10:00\",\"end\":\"14:00\"}],"
        "\"timeZone\":\"America/Chicago\"}",
        NULL);
    assert_int_equal(r.status, 201);
    char id[64], path[128];
    snprintf(id, sizeof id, "%s", harness_json_str(&r, "id"));
    assert_int_equal(strlen(id), 36);
    assert_string_equal(harness_json_str(&r, "name"), "Sam Lee");
    assert_string_equal(harness_json_str(&r, "email"), "Sam.Lee@example.com");
    assert_string_equal(harness_json_str(&r, "phone"), "+12025550142");
    assert_string_equal(harness_json_str(&r, "role"), "salesperson");
    assert_string_equal(harness_json_str(&r, "timeZone"), "America/Chicago");
    assert_string_equal(harness_json_str(&r, "priceMaxCents"), "5000000");
    assert_true(json_is_true(json_object_get(r.json, "available"))); // when not given
    assert_true(json_is_true(json_object_get(r.json, "active")));
    json_t *prefixes = json_object_get(r.json, "postcodePrefixes");
    assert_string_equal(json_string_value(json_array_get(prefixes, 0)), "SW1A");
    json_t *hours = json_object_get(r.json, "workingHours");
    assert_int_equal(json_array_size(hours), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(hours, 1), "day")),
                        "sat");
    harness_response_free(&r);

    snprintf(path, sizeof path, "/v1/team/members/%s", id);
    r = harness_http("GET", path, s_key_sales, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "name"), "Sam Lee");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(r.json, "conditions"), 1)), "certified");
    harness_response_free(&r);

    //  Offline now, renamed; the rest stays.
    r = harness_http("PATCH", path, h->key_a, "{\"available\":false,\"name\":\"Samuel Lee\"}",
                     NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "name"), "Samuel Lee");
    assert_false(json_is_true(json_object_get(r.json, "available")));
    assert_string_equal(harness_json_str(&r, "timeZone"), "America/Chicago");
    assert_string_equal(harness_json_str(&r, "email"), "Sam.Lee@example.com");
    harness_response_free(&r);

    //  Without a time zone: the dealership's (UTC until it sets one).
    char other[64];
    s_member(h->key_a, "\"name\":\"Ann Kim\",\"role\":\"bdc\"", other);
    snprintf(path, sizeof path, "/v1/team/members/%s", other);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_string_equal(harness_json_str(&r, "timeZone"), "UTC");
    assert_string_equal(harness_json_str(&r, "role"), "bdc");
    harness_response_free(&r);

    //  The list, by name; filters; another tenant sees none of them.
    r = harness_http("GET", "/v1/team/members?role=bdc", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), other);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/team/members?availableOnly=true", h->key_a, NULL, NULL);
    items = json_object_get(r.json, "items");
    for (size_t i = 0; i < json_array_size(items); i++)
        assert_string_not_equal(
            json_string_value(json_object_get(json_array_get(items, i), "id")), id);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/team/members?limit=1", h->key_a, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    char cursor[256], query[400];
    snprintf(cursor, sizeof cursor, "%s", harness_json_str(&r, "nextCursor"));
    assert_true(cursor[0]);
    harness_response_free(&r);
    snprintf(query, sizeof query, "/v1/team/members?limit=1&cursor=%s", cursor);
    r = harness_http("GET", query, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/team/members", h->key_b, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/team/members/%s", id);
    s_expect(harness_http("GET", path, h->key_b, NULL, NULL), 404, NULL);

    //  A member who never had a lead is deleted.
    snprintf(path, sizeof path, "/v1/team/members/%s", other);
    s_expect(harness_http("DELETE", path, h->key_a, NULL, NULL), 204, NULL);
    s_expect(harness_http("GET", path, h->key_a, NULL, NULL), 404, NULL);
}

static void test_member_refused(void **state) {
    (void)state;
    long long before = s_written();
    const struct {
        const char *body;
        long status;
        const char *field;
    } cases[] = {
        {"{\"email\":\"x@example.com\"}", 422, "name"},
        {"{\"name\":\"A\",\"email\":\"not-an-email\"}", 422, "email"},
        {"{\"name\":\"A\",\"phone\":\"12\"}", 422, "phone"},
        {"{\"name\":\"A\",\"timeZone\":\"Mars/Olympus_Mons\"}", 422, "timeZone"},
        {"{\"name\":\"A\",\"timeZone\":\"America/Chicago\",\"priceMinCents\":5000000,"
         "\"priceMaxCents\":1000000}", 422, "priceMaxCents"},
        {"{\"name\":\"A\",\"priceMinCents\":-1}", 422, "priceMinCents"},
        {"{\"name\":\"A\",\"workingHours\":[{\"day\":\"mon\",\"start\":\"9am\",\"end\":\"17:00\"}]}",
         422, "workingHours[0].start"},
        {"{\"name\":\"A\",\"workingHours\":[{\"day\":\"mon\",\"start\":\"09:00\",\"end\":\"17:00\"},"
         "{\"day\":\"tue\",\"start\":\"18:00\",\"end\":\"08:00\"}]}", 422, "workingHours[1].end"},
        {"{\"name\":\"A\",\"workingHours\":[{\"start\":\"09:00\",\"end\":\"25:00\"}]}", 422,
         "workingHours[0].day"},
        {"{\"name\":\"A\",\"workingHours\":[{\"day\":\"funday\",\"start\":\"09:00\"}]}", 422,
         "workingHours[0].day"},
        {"{\"name\":\"A\",\"role\":\"astronaut\"}", 422, "role"},
        {"{\"name\":\"A\",\"conditions\":[\"brand_new\"]}", 422, "conditions[0]"},
        {"{\"name\":\"A\",\"postcodePrefixes\":[\"90*\"]}", 422, "postcodePrefixes[0]"},
        {"{\"name\":\"A\",\"makes\":[\" \"]}", 422, "makes[0]"},
        {"{\"name\":\"A\",\"priceMinCents\":\"lots\"}", 400, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_expect(harness_http("POST", "/v1/team/members", h->key_a, cases[i].body, NULL),
                 cases[i].status, cases[i].field);
    //  Writes are for managers and admins.
    s_expect(harness_http("POST", "/v1/team/members", s_key_sales, "{\"name\":\"A\"}", NULL), 403,
             NULL);
    assert_int_equal(s_written(), before);

    //  One email per team; the existing member is named.
    char id[64], path[128];
    s_member(h->key_a, "\"name\":\"Dup One\",\"email\":\"dup@example.com\"", id);
    harness_response_t r = harness_http("POST", "/v1/team/members", h->key_a,
                                        "{\"name\":\"Dup Two\",\"email\":\"DUP@example.com\"}",
                                        NULL);
    assert_int_equal(r.status, 409);
    assert_string_equal(harness_error_field(&r), "email");
    assert_non_null(strstr(r.body, id));
    harness_response_free(&r);
    //  A PATCH is checked as a create is, and changes nothing when refused.
    snprintf(path, sizeof path, "/v1/team/members/%s", id);
    before = s_written();
    s_expect(harness_http("PATCH", path, h->key_a, "{\"timeZone\":\"Nowhere/Land\"}", NULL), 422,
             "timeZone");
    s_expect(harness_http("PATCH", path, h->key_a,
                          "{\"workingHours\":[{\"day\":\"fri\",\"start\":\"10:00\","
                          "\"end\":\"10:00\"}]}", NULL),
             422, "workingHours[0].end");
    s_expect(harness_http("PATCH", path, h->key_a, "{\"openLeads\":3}", NULL), 422, "openLeads");
    s_expect(harness_http("PATCH", path, s_key_sales, "{\"name\":\"X\"}", NULL), 403, NULL);
    assert_int_equal(s_written(), before);
    assert_int_equal(sql_scalar("SELECT count(*) FROM leads.team_members WHERE name = 'Dup One'"
                                " AND time_zone = 'UTC'"),
                     1);
}

// --- rules -------------------------------------------------------------------------------

static void test_rules_crud(void **state) {
    (void)state;
    char a[64], b[64], c[64], member[64], other_tenant[64];
    s_member(h->key_a, "\"name\":\"Rule Member\"", member);
    s_member(h->key_b, "\"name\":\"B Member\"", other_tenant);
    s_rule("{\"name\":\"Specialists\",\"kind\":\"specialization\"}", a);
    s_rule("{\"name\":\"Everyone\",\"kind\":\"round_robin\"}", b);
    char body[512];
    snprintf(body, sizeof body,
             "{\"name\":\"Online first\",\"kind\":\"availability\",\"position\":1,"
             "\"memberIds\":[\"%s\",\"%s\"],\"withinWorkingHours\":true}",
             member, member);
    s_rule(body, c);
    harness_response_t r = harness_http("GET", "/v1/assignment-rules", s_key_sales, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 3);
    const char *order[] = {c, a, b};
    for (size_t i = 0; i < 3; i++) {
        json_t *rule = json_array_get(items, i);
        assert_string_equal(json_string_value(json_object_get(rule, "id")), order[i]);
        assert_int_equal(json_integer_value(json_object_get(rule, "position")), (long)i + 1);
    }
    json_t *first = json_array_get(items, 0);
    assert_string_equal(json_string_value(json_object_get(first, "kind")), "availability");
    assert_int_equal(json_array_size(json_object_get(first, "memberIds")), 1); // once
    assert_true(json_is_true(json_object_get(first, "withinWorkingHours")));
    harness_response_free(&r);

    //  Reorder: the round robin first, the others keep their order.
    char path[128];
    snprintf(path, sizeof path, "/v1/assignment-rules/%s", b);
    r = harness_http("PATCH", path, s_key_manager, "{\"position\":1}", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "position")), 1);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/assignment-rules", h->key_a, NULL, NULL);
    items = json_object_get(r.json, "items");
    const char *reordered[] = {b, c, a};
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(items, i), "id")), reordered[i]);
    harness_response_free(&r);

    //  Refused, each naming its field, nothing written.
    long long before = s_written();
    s_expect(harness_http("POST", "/v1/assignment-rules", h->key_a,
                          "{\"name\":\"X\",\"kind\":\"lottery\"}", NULL),
             422, "kind");
    s_expect(harness_http("POST", "/v1/assignment-rules", h->key_a, "{\"name\":\"X\"}", NULL), 422,
             "kind");
    s_expect(harness_http("POST", "/v1/assignment-rules", h->key_a, "{\"kind\":\"round_robin\"}",
                          NULL),
             422, "name");
    snprintf(body, sizeof body,
             "{\"name\":\"X\",\"kind\":\"round_robin\",\"memberIds\":[\"%s\",\"%s\"]}", member,
             other_tenant);
    s_expect(harness_http("POST", "/v1/assignment-rules", h->key_a, body, NULL), 422,
             "memberIds[1]");
    s_expect(harness_http("POST", "/v1/assignment-rules", h->key_a,
                          "{\"name\":\"X\",\"kind\":\"round_robin\",\"memberIds\":[\"sam\"]}", NULL),
             422, "memberIds[0]");
    s_expect(harness_http("PATCH", path, h->key_a, "{\"kind\":\"coin_toss\"}", NULL), 422, "kind");
    s_expect(harness_http("PATCH", path, h->key_a, "{\"position\":0}", NULL), 422, "position");
    s_expect(harness_http("POST", "/v1/assignment-rules", s_key_sales,
                          "{\"name\":\"X\",\"kind\":\"round_robin\"}", NULL),
             403, NULL);
    assert_int_equal(s_written(), before);

    //  Deleting closes the gap.
    s_expect(harness_http("DELETE", path, h->key_a, NULL, NULL), 204, NULL);
    s_expect(harness_http("DELETE", path, h->key_a, NULL, NULL), 404, NULL);
    r = harness_http("GET", "/v1/assignment-rules", h->key_a, NULL, NULL);
    items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 1), "position")), 2);
    harness_response_free(&r);
    s_clear_rules();
}

// --- automatic assignment ---------------------------------------------------------------------

static void test_round_robin(void **state) {
    (void)state;
    char m[3][64], rule[64], body[512], contact[64];
    s_clear_rules();
    s_member(h->key_a, "\"name\":\"RR One\"", m[0]);
    s_member(h->key_a, "\"name\":\"RR Two\"", m[1]);
    s_member(h->key_a, "\"name\":\"RR Three\"", m[2]);
    snprintf(body, sizeof body,
             "{\"name\":\"Floor\",\"kind\":\"round_robin\",\"memberIds\":[\"%s\",\"%s\",\"%s\"]}",
             m[0], m[1], m[2]);
    s_rule(body, rule);
    fixture_contact(h->key_a, contact);
    int counts[3] = {0};
    char first_lead[64] = "";
    for (int i = 0; i < 9; i++) {
        char lead[64], assignee[64];
        s_lead(contact, "", lead, assignee);
        if (!first_lead[0])
            snprintf(first_lead, sizeof first_lead, "%s", lead);
        int found = -1;
        for (int j = 0; j < 3; j++)
            if (strcmp(assignee, m[j]) == 0)
                found = j;
        assert_true(found >= 0);
        counts[found]++;
    }
    for (int j = 0; j < 3; j++)
        assert_int_equal(counts[j], 3);

    //  The assignment is an event and a history row of the rule.
    Crm__Events__LeadAssigned *events[2];
    assert_int_equal(s_assigned_events(first_lead, events, 2), 1);
    assert_string_equal(events[0]->rule, rule);
    assert_string_equal(events[0]->previous_assignee_id, "");
    assert_true(strlen(events[0]->assignee_id) == 36);
    s_events_free(events, 1);
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/assignments", first_lead);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    json_t *a = json_array_get(items, 0);
    assert_string_equal(json_string_value(json_object_get(a, "rule")), "Floor");
    assert_string_equal(json_string_value(json_object_get(a, "ruleId")), rule);
    harness_response_free(&r);

    //  An offline member is skipped by an online-only rule; the counts live in the
    //  database (the next leads go to the two left, evenly).
    snprintf(path, sizeof path, "/v1/team/members/%s", m[2]);
    s_expect(harness_http("PATCH", path, h->key_a, "{\"available\":false}", NULL), 200, NULL);
    snprintf(path, sizeof path, "/v1/assignment-rules/%s", rule);
    s_expect(harness_http("PATCH", path, h->key_a, "{\"onlineOnly\":true}", NULL), 200, NULL);
    for (int i = 0; i < 4; i++) {
        char lead[64], assignee[64];
        s_lead(contact, "", lead, assignee);
        assert_string_not_equal(assignee, m[2]);
    }
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT max(assigned) - min(assigned) FROM leads.assignment_counts"
             " WHERE rule_id = '%s' AND member_id IN ('%s', '%s')", rule, m[0], m[1]);
    assert_int_equal(sql_scalar(sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.leads WHERE assignee_id = '%s'", m[0]);
    assert_int_equal(sql_scalar(sql), 5);
    //  A lead given an assignee is not routed.
    char lead[64], assignee[64], extra[128];
    snprintf(extra, sizeof extra, ",\"assigneeId\":\"%s\"", m[2]);
    s_lead(contact, extra, lead, assignee);
    assert_string_equal(assignee, m[2]);
    assert_int_equal(s_assigned_events(lead, events, 2), 1);
    assert_string_equal(events[0]->rule, "manual");
    s_events_free(events, 1);
    s_clear_rules();
    //  No rules: no assignee, no event.
    s_lead(contact, "", lead, assignee);
    assert_string_equal(assignee, "");
    assert_int_equal(s_assigned_events(lead, events, 2), 0);
}

static void test_rules_in_order(void **state) {
    (void)state;
    char toyota[64], budget[64], north[64], online[64], rule[64], contact[64];
    s_clear_rules();
    s_member(h->key_a,
             "\"name\":\"Toyota New\",\"conditions\":[\"new\"],\"makes\":[\"toyota\"],"
             "\"available\":false",
             toyota);
    s_member(h->key_a,
             "\"name\":\"Budget Used\",\"conditions\":[\"used\"],\"priceMaxCents\":1500000,"
             "\"available\":false",
             budget);
    s_member(h->key_a,
             "\"name\":\"North Rep\",\"postcodePrefixes\":[\"606\"],\"regions\":[\"north\"],"
             "\"available\":false",
             north);
    s_member(h->key_a, "\"name\":\"Online Rep\"", online);
    char body[512];
    snprintf(body, sizeof body,
             "{\"name\":\"Specialists\",\"kind\":\"specialization\",\"memberIds\":[\"%s\",\"%s\"]}",
             toyota, budget);
    s_rule(body, rule);
    snprintf(body, sizeof body,
             "{\"name\":\"Territory\",\"kind\":\"territory\",\"memberIds\":[\"%s\"]}", north);
    s_rule(body, rule);
    snprintf(body, sizeof body,
             "{\"name\":\"Online\",\"kind\":\"availability\",\"memberIds\":[\"%s\",\"%s\"]}",
             online, toyota);
    s_rule(body, rule);
    fixture_contact(h->key_a, contact);
    const struct {
        const char *extra;
        const char *want;
    } cases[] = {
        {",\"vehicle\":{\"make\":\"Toyota\",\"model\":\"RAV4\",\"condition\":\"new\"}", toyota},
        {",\"vehicle\":{\"make\":\"Honda\",\"model\":\"Fit\",\"condition\":\"used\"},"
         "\"budgetMinCents\":800000,\"budgetMaxCents\":1200000", budget},
        //  Over the budget specialist's band: not a fit; no territory: the online rep.
        {",\"vehicle\":{\"make\":\"Honda\",\"condition\":\"used\"},\"budgetMinCents\":2500000",
         online},
        {",\"postcode\":\"606 14\"", north},
        {",\"region\":\"NORTH\"", north},
        {",\"postcode\":\"10001\"", online},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char lead[64], assignee[64];
        s_lead(contact, cases[i].extra, lead, assignee);
        if (strcmp(assignee, cases[i].want) != 0)
            fprintf(stderr, "case %zu: assigned %s\n", i, assignee);
        assert_string_equal(assignee, cases[i].want);
    }
    //  The postcode is kept in its stored form.
    assert_int_equal(sql_scalar("SELECT count(*) FROM leads.leads WHERE postcode = '60614'"), 1);
    s_clear_rules();
}

//  withinWorkingHours: only members inside their hours now, in their own time zone.
static void test_working_hours(void **state) {
    (void)state;
    s_clear_rules();
    static const char *days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char always[64], away[64], rule[64], contact[64], body[1024];
    char *p = body + sprintf(body, "\"name\":\"Always In\",\"timeZone\":\"UTC\",\"workingHours\":[");
    for (int d = 0; d < 7; d++)
        p += sprintf(p, "%s{\"day\":\"%s\",\"start\":\"00:00\",\"end\":\"24:00\"}", d ? "," : "",
                     days[d]);
    sprintf(p, "]");
    s_member(h->key_a, body, always);
    //  Working only the day after tomorrow (UTC; as seen from Tokyo, still not today).
    snprintf(body, sizeof body,
             "\"name\":\"Away Today\",\"timeZone\":\"UTC\",\"workingHours\":[{\"day\":\"%s\","
             "\"start\":\"00:00\",\"end\":\"24:00\"}]",
             days[(tm.tm_wday + 3) % 7]);
    s_member(h->key_a, body, away);
    snprintf(body, sizeof body,
             "{\"name\":\"In hours\",\"kind\":\"round_robin\",\"withinWorkingHours\":true,"
             "\"memberIds\":[\"%s\",\"%s\"]}",
             away, always);
    s_rule(body, rule);
    fixture_contact(h->key_a, contact);
    for (int i = 0; i < 3; i++) {
        char lead[64], assignee[64];
        s_lead(contact, "", lead, assignee);
        assert_string_equal(assignee, always);
    }
    //  Without the condition both take turns.
    char path[128];
    snprintf(path, sizeof path, "/v1/assignment-rules/%s", rule);
    s_expect(harness_http("PATCH", path, h->key_a, "{\"withinWorkingHours\":false}", NULL), 200,
             NULL);
    char lead[64], first[64], second[64];
    s_lead(contact, "", lead, first);
    s_lead(contact, "", lead, second);
    assert_string_not_equal(first, second);
    s_clear_rules();
}

// --- manual assignment ------------------------------------------------------------------------

static void test_manual_assign(void **state) {
    (void)state;
    char ann[64], bob[64], other_tenant[64], contact[64], lead[64], path[128], body[512];
    s_clear_rules();
    s_member(h->key_a, "\"name\":\"Manual Ann\"", ann);
    s_member(h->key_a, "\"name\":\"Manual Bob\"", bob);
    s_member(h->key_b, "\"name\":\"Tenant B Rep\"", other_tenant);
    fixture_contact(h->key_a, contact);
    s_lead(contact, "", lead, NULL);

    snprintf(path, sizeof path, "/v1/leads/%s/assign", lead);
    snprintf(body, sizeof body, "{\"assigneeId\":\"%s\",\"note\":\"speaks Spanish\"}", ann);
    harness_response_t r = harness_http("POST", path, s_key_sales, body, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "assigneeId"), ann);
    harness_response_free(&r);
    snprintf(body, sizeof body, "{\"assigneeId\":\"%s\",\"note\":\"Ann is away\"}", bob);
    s_expect(harness_http("POST", path, s_key_manager, body, NULL), 200, NULL);

    Crm__Events__LeadAssigned *events[4];
    assert_int_equal(s_assigned_events(lead, events, 4), 2);
    assert_string_equal(events[0]->assignee_id, ann);
    assert_string_equal(events[0]->previous_assignee_id, "");
    assert_string_equal(events[0]->rule, "manual");
    assert_string_equal(events[0]->note, "speaks Spanish");
    assert_string_equal(events[1]->assignee_id, bob);
    assert_string_equal(events[1]->previous_assignee_id, ann);
    assert_true(events[1]->actor_id[0]);
    s_events_free(events, 2);
    char history[128];
    snprintf(history, sizeof history, "/v1/leads/%s/assignments", lead);
    r = harness_http("GET", history, h->key_a, NULL, NULL);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 2);
    json_t *second = json_array_get(items, 1);
    assert_string_equal(json_string_value(json_object_get(second, "fromAssigneeId")), ann);
    assert_string_equal(json_string_value(json_object_get(second, "toAssigneeId")), bob);
    assert_string_equal(json_string_value(json_object_get(second, "rule")), "manual");
    assert_string_equal(json_string_value(json_object_get(second, "note")), "Ann is away");
    harness_response_free(&r);

    //  Refused: not a member, a member of another dealership, none; nothing written.
    long long before = s_written();
    s_expect(harness_http("POST", path, h->key_a, "{\"assigneeId\":\"sam\"}", NULL), 422,
             "assigneeId");
    s_expect(harness_http("POST", path, h->key_a,
                          "{\"assigneeId\":\"0190a0a0-0000-7000-8000-000000000000\"}", NULL),
             422, "assigneeId");
    snprintf(body, sizeof body, "{\"assigneeId\":\"%s\"}", other_tenant);
    s_expect(harness_http("POST", path, h->key_a, body, NULL), 422, "assigneeId");
    s_expect(harness_http("POST", path, h->key_a, "{\"note\":\"x\"}", NULL), 422, "assigneeId");
    s_expect(harness_http("POST", path, h->key_analyst, body, NULL), 403, NULL);
    //  The same at creation and by PATCH.
    snprintf(body, sizeof body, ",\"assigneeId\":\"%s\"", other_tenant);
    s_expect(s_post_lead(h->key_a, contact, body), 422, "assigneeId");
    s_expect(s_post_lead(h->key_a, contact, ",\"assigneeId\":\"sam\""), 422, "assigneeId");
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    snprintf(body, sizeof body, "{\"assigneeId\":\"%s\"}", other_tenant);
    s_expect(harness_http("PATCH", path, h->key_a, body, NULL), 422, "assigneeId");
    s_expect(harness_http("PATCH", path, h->key_a, "{\"assigneeId\":\"kim\"}", NULL), 422,
             "assigneeId");
    //  A member of tenant B assigning tenant A's lead does not find it.
    snprintf(body, sizeof body, "{\"assigneeId\":\"%s\"}", other_tenant);
    snprintf(history, sizeof history, "/v1/leads/%s/assign", lead);
    s_expect(harness_http("POST", history, h->key_b, body, NULL), 404, NULL);
    assert_int_equal(s_written(), before);

    //  PATCH to a member: LeadUpdated and LeadAssigned.
    snprintf(body, sizeof body, "{\"assigneeId\":\"%s\"}", ann);
    r = harness_http("PATCH", path, h->key_a, body, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "assigneeId"), ann);
    harness_response_free(&r);
    assert_int_equal(s_assigned_events(lead, events, 4), 3);
    assert_string_equal(events[2]->previous_assignee_id, bob);
    assert_string_equal(events[2]->rule, "manual");
    s_events_free(events, 3);
    //  A PATCH that leaves the assignee alone is no assignment.
    s_expect(harness_http("PATCH", path, h->key_a, "{\"priority\":\"hot\"}", NULL), 200, NULL);
    assert_int_equal(s_assigned_events(lead, events, 4), 3);
    s_events_free(events, 3);

    //  A member with leads is deactivated, not deleted: history kept, no new leads.
    snprintf(path, sizeof path, "/v1/team/members/%s", ann);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "openLeads")), 1);
    harness_response_free(&r);
    s_expect(harness_http("DELETE", path, h->key_a, NULL, NULL), 204, NULL);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_false(json_is_true(json_object_get(r.json, "active")));
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/leads/%s/assign", lead);
    snprintf(body, sizeof body, "{\"assigneeId\":\"%s\"}", ann);
    s_expect(harness_http("POST", path, h->key_a, body, NULL), 422, "assigneeId");
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_string_equal(harness_json_str(&r, "assigneeId"), ann);
    harness_response_free(&r);
}

//  "My leads": a member bound to the caller's actor.
static void test_my_leads(void **state) {
    (void)state;
    char contact[64], lead[64], actor[128], me[64], body[512];
    fixture_contact(h->key_a, contact);
    //  The sales key's actor, as the leads it creates record it.
    harness_response_t r = s_post_lead(s_key_sales, contact, "");
    assert_int_equal(r.status, 201);
    snprintf(actor, sizeof actor, "%s", harness_json_str(&r, "createdBy"));
    harness_response_free(&r);
    assert_true(actor[0]);
    //  No member for the caller yet: none of the leads are "mine".
    r = harness_http("GET", "/v1/leads?assigneeId=me", s_key_sales, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    harness_response_free(&r);

    snprintf(body, sizeof body, "\"name\":\"Me Myself\",\"actorId\":\"%s\"", actor);
    s_member(h->key_a, body, me);
    snprintf(body, sizeof body, ",\"assigneeId\":\"%s\"", me);
    s_lead(contact, body, lead, NULL);
    r = harness_http("GET", "/v1/leads?assigneeId=me", s_key_sales, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), lead);
    harness_response_free(&r);
    //  One active member per actor.
    snprintf(body, sizeof body, "{\"name\":\"Me Again\",\"actorId\":\"%s\"}", actor);
    s_expect(harness_http("POST", "/v1/team/members", h->key_a, body, NULL), 409, "actorId");
}

static const struct CMUnitTest s_tests[] = {
    cmocka_unit_test(test_member_crud),   cmocka_unit_test(test_member_refused),
    cmocka_unit_test(test_rules_crud),    cmocka_unit_test(test_round_robin),
    cmocka_unit_test(test_rules_in_order), cmocka_unit_test(test_working_hours),
    cmocka_unit_test(test_manual_assign),
    cmocka_unit_test(test_my_leads),
};

int main(void) {
    return cmocka_run_group_tests(s_tests, s_setup, s_teardown);
}
