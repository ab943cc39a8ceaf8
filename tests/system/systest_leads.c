/*  System tests of the leads service: the whole suite (PostgreSQL, gateway with broker,
    contacts and leads daemons under the supervisor) driven over HTTP; events read from
    leads' outbox. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <signal.h>

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

//  A new team member of tenant A named name; its id into id (assignees are members).
static void s_member(const char *name, char id[64]) {
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    harness_response_t r = harness_http("POST", "/v1/team/members", h->key_a, body, NULL);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  POST /v1/leads with contactId and the members in extra (",\"a\":1" or "").
static harness_response_t s_post_lead(const char *key, const char *contact, const char *extra) {
    char body[2048];
    snprintf(body, sizeof body, "{\"contactId\":\"%s\"%s}", contact, extra);
    return harness_http("POST", "/v1/leads", key, body, NULL);
}

//  A new lead of tenant A for contact; its id into id.
static void s_lead(const char *contact, const char *extra, char id[64]) {
    harness_response_t r = s_post_lead(h->key_a, contact, extra);
    if (r.status != 201)
        fprintf(stderr, "create lead: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

static long long s_count(const char *fmt, const char *arg) {
    char sql[512];
    snprintf(sql, sizeof sql, fmt, arg);
    return sql_scalar(sql);
}

//  Rows of leads (live or not) and of leads' outbox: what a refused request must not
//  change.
//  (Leads' LeadActivityLogged events are left out: the notify service's auto-reply to a
//  new chat lead is logged on the lead when it goes out, at any moment.)
static long long s_written(void) {
    sql_scores_settled(); // the score on a lead is written after each change of it
    return sql_scalar("SELECT (SELECT count(*) FROM leads.leads)"
                      " + (SELECT count(*) FROM leads.outbox WHERE type <> 'LeadActivityLogged')"
                      " + (SELECT count(*) FROM leads.stage_history)"
                      " + (SELECT count(*) FROM leads.stages)");
}

//  The response's status and first field error, asserted.
static void s_expect(harness_response_t r, long status, const char *field) {
    if (r.status != status || (field && strcmp(harness_error_field(&r), field) != 0))
        fprintf(stderr, "expected %ld %s, got %ld %s\n", status, field ? field : "", r.status,
                r.body);
    assert_int_equal(r.status, status);
    if (field)
        assert_string_equal(harness_error_field(&r), field);
    harness_response_free(&r);
}

//  Whether the error response names field among its field errors.
static bool s_names_field(const harness_response_t *r, const char *field) {
    json_t *fields = json_object_get(json_object_get(r->json, "error"), "fields");
    for (size_t i = 0; i < json_array_size(fields); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(fields, i), "field")),
                   field) == 0)
            return true;
    return false;
}

//  The lead's events of type, oldest first, decoded (n of them at most); returns how many
//  there are.
static size_t s_events(const char *id, const char *type, const ProtobufCMessageDescriptor *desc,
                       ProtobufCMessage **out, size_t n) {
    PGconn *db = PQconnectdb(h->dsn);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    const char *params[] = {id, type};
    PGresult *res = PQexecParams(db,
                                 "SELECT payload FROM leads.outbox WHERE aggregate_id = $1"
                                 " AND type = $2 ORDER BY xid, id",
                                 2, NULL, params, NULL, NULL, 1);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    //  The lead's score, band and priority kept from the scoring service's LeadScored
    //  (its LeadUpdated by the actor "scoring") come in the background: left out.
    size_t rows = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, PQgetlength(res, i, 0),
                                                        (const uint8_t *)PQgetvalue(res, i, 0));
        assert_non_null(m);
        if (desc == &crm__events__lead_updated__descriptor &&
            strcmp(((Crm__Events__LeadUpdated *)m)->actor_id, "scoring") == 0) {
            protobuf_c_message_free_unpacked(m, NULL);
            continue;
        }
        if (rows < n)
            out[rows] = m;
        else
            protobuf_c_message_free_unpacked(m, NULL);
        rows++;
    }
    PQclear(res);
    PQfinish(db);
    return rows;
}

static void s_events_free(ProtobufCMessage **events, size_t n) {
    for (size_t i = 0; i < n; i++)
        protobuf_c_message_free_unpacked(events[i], NULL);
}

//  POST /v1/leads/{id}/status with body.
static harness_response_t s_move(const char *key, const char *id, const char *body) {
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/status", id);
    return harness_http("POST", path, key, body, NULL);
}

static void test_default_pipeline(void **state) {
    (void)state;
    harness_response_t r = harness_http("GET", "/v1/pipeline/stages", h->key_b, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 7);
    const char *keys[] = {"new",         "contacted",  "qualified",  "test_drive",
                          "negotiation", "closed_won", "closed_lost"};
    const char *outcomes[] = {"open", "open", "open", "open", "open", "won", "lost"};
    for (size_t i = 0; i < 7; i++) {
        json_t *stage = json_array_get(items, i);
        assert_string_equal(json_string_value(json_object_get(stage, "key")), keys[i]);
        assert_string_equal(json_string_value(json_object_get(stage, "outcome")), outcomes[i]);
        assert_int_equal(json_integer_value(json_object_get(stage, "position")), (long)i + 1);
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 3), "name")),
                        "Test Drive");
    harness_response_free(&r);
    //  Copied once per tenant, however often asked.
    r = harness_http("GET", "/v1/pipeline/stages", h->key_b, NULL, NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    assert_int_equal(sql_scalar("SELECT count(*) FROM leads.stages WHERE tenant_id = 'tenant-b'"),
                     7);
}

static void test_create_and_read(void **state) {
    (void)state;
    char contact[64], id[64];
    fixture_contact(h->key_a, contact);
    harness_response_t r = s_post_lead(
        h->key_a, contact,
        ",\"vehicle\":{\"year\":2024,\"make\":\"Toyota\",\"model\":\"RAV4\",\"trim\":\"XLE\","
        "\"condition\":\"new\",\"stockNumber\":\"T1234\",\"vin\":\"1m8gdm9axkp042788\"},"
        "\"budgetMinCents\":3000000,\"budgetMaxCents\":3800000,\"timeline\":\"within_month\","
        "\"source\":\"chat\",\"customFields\":{\"campaign\":\"spring\"}");
    assert_int_equal(r.status, 201);
    snprintf(id, sizeof id, "%s", harness_json_str(&r, "id"));
    assert_int_equal(strlen(id), 36);
    assert_non_null(strstr(r.location, id));
    assert_string_equal(harness_json_str(&r, "status"), "new");
    assert_string_equal(harness_json_str(&r, "priority"), "cold");
    assert_string_equal(harness_json_str(&r, "source"), "chat");
    assert_string_equal(harness_json_str(&r, "contactId"), contact);
    json_t *vehicle = json_object_get(r.json, "vehicle");
    assert_string_equal(json_string_value(json_object_get(vehicle, "vin")), "1M8GDM9AXKP042788");
    assert_string_equal(json_string_value(json_object_get(vehicle, "condition")), "new");
    assert_string_equal(harness_json_str(&r, "budgetMinCents"), "3000000");
    char created[48];
    snprintf(created, sizeof created, "%s", harness_json_str(&r, "createdAt"));
    assert_string_equal(harness_json_str(&r, "lastActivityAt"), created);
    harness_response_free(&r);

    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "createdAt"), created);
    assert_string_equal(harness_json_str(&r, "timeline"), "within_month");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "customFields"), "campaign")),
        "spring");
    json_t *history = json_object_get(r.json, "history");
    assert_int_equal(json_array_size(history), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(history, 0), "toStage")),
                        "new");
    harness_response_free(&r);

    //  One contact, many leads.
    char second[64];
    s_lead(contact, ",\"source\":\"phone\"", second);
    assert_string_not_equal(second, id);

    //  Its event, in the same transaction.
    ProtobufCMessage *events[2];
    assert_int_equal(s_events(id, "LeadCreated", &crm__events__lead_created__descriptor, events, 2),
                     1);
    Crm__Events__LeadCreated *ev = (Crm__Events__LeadCreated *)events[0];
    assert_string_equal(ev->lead->id, id);
    assert_string_equal(ev->lead->contact_id, contact);
    assert_string_equal(ev->lead->status, "new");
    assert_int_equal(ev->lead->budget_max_cents, 3800000);
    s_events_free(events, 1);

    //  A create retried with its Idempotency-Key answers the first lead, once.
    const char *idem[] = {"Idempotency-Key: lead-create-retried", NULL};
    char body[256];
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"source\":\"phone\"}", contact);
    harness_response_t first = harness_http("POST", "/v1/leads", h->key_a, body, idem);
    harness_response_t again = harness_http("POST", "/v1/leads", h->key_a, body, idem);
    assert_int_equal(first.status, 201);
    assert_int_equal(again.status, 201);
    assert_string_equal(harness_json_str(&again, "id"), harness_json_str(&first, "id"));
    assert_int_equal(s_events(harness_json_str(&first, "id"), "LeadCreated",
                              &crm__events__lead_created__descriptor, events, 2),
                     1);
    s_events_free(events, 1);
    harness_response_free(&first);
    harness_response_free(&again);

    //  Another tenant sees none of it.
    r = harness_http("GET", path, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/leads/not-a-uuid", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
}

static void test_create_refused(void **state) {
    (void)state;
    char contact[64], other_tenant_contact[64];
    fixture_contact(h->key_a, contact);
    fixture_contact(h->key_b, other_tenant_contact);
    //  The pipeline exists before counting (the first use copies it).
    harness_response_t r = harness_http("GET", "/v1/pipeline/stages", h->key_a, NULL, NULL);
    harness_response_free(&r);
    long long before = s_written();

    s_expect(s_post_lead(h->key_a, other_tenant_contact, ",\"source\":\"chat\""), 422,
             "contactId");
    s_expect(s_post_lead(h->key_a, "01a20269-a695-71c1-83c6-31a5bd5fa028", ",\"source\":\"chat\""),
             422, "contactId");
    s_expect(s_post_lead(h->key_a, "nope", ",\"source\":\"chat\""), 422, "contactId");
    s_expect(s_post_lead(h->key_a, contact, ",\"source\":\"billboard\""), 422, "source");
    s_expect(s_post_lead(h->key_a, contact, ""), 422, "source");
    s_expect(s_post_lead(h->key_a, contact, ",\"source\":\"chat\",\"budgetMinCents\":-1"), 422,
             "budgetMinCents");
    s_expect(s_post_lead(h->key_a, contact,
                         ",\"source\":\"chat\",\"budgetMinCents\":500,\"budgetMaxCents\":100"),
             422, "budgetMaxCents");
    s_expect(s_post_lead(h->key_a, contact,
                         ",\"source\":\"chat\",\"vehicle\":{\"vin\":\"1M8GDM9AXKP042789\"}"),
             422, "vehicle.vin");
    s_expect(s_post_lead(h->key_a, contact,
                         ",\"source\":\"chat\",\"vehicle\":{\"condition\":\"broken\"}"),
             422, "vehicle.condition");
    s_expect(s_post_lead(h->key_a, contact,
                         ",\"source\":\"chat\",\"followUpAt\":\"2020-01-01T10:00:00Z\""),
             422, "followUpAt");
    s_expect(s_post_lead(h->key_a, contact, ",\"source\":\"chat\",\"status\":\"sold_yesterday\""),
             422, "status");
    s_expect(s_post_lead(h->key_a, contact, ",\"source\":\"chat\",\"status\":\"closed_won\""),
             422, "status");
    s_expect(s_post_lead(h->key_a, contact, ",\"source\":\"chat\",\"priority\":\"lukewarm\""),
             422, "priority");
    s_expect(s_post_lead(h->key_a, contact, ",\"source\":\"chat\",\"budgetMinCents\":\"x\""), 400,
             NULL);
    //  The analyst role reads only.
    s_expect(s_post_lead(h->key_analyst, contact, ",\"source\":\"chat\""), 403, NULL);
    assert_int_equal(s_written(), before);

    //  A lead may start in another open stage.
    r = s_post_lead(h->key_a, contact, ",\"source\":\"walk_in\",\"status\":\"qualified\"");
    assert_int_equal(r.status, 201);
    assert_string_equal(harness_json_str(&r, "status"), "qualified");
    harness_response_free(&r);
}

static void test_update(void **state) {
    (void)state;
    char contact[64], id[64], path[128], sam[64], extra[512];
    fixture_contact(h->key_a, contact);
    s_member("Sam", sam);
    snprintf(extra, sizeof extra,
             ",\"source\":\"web_form\",\"assigneeId\":\"%s\",\"budgetMaxCents\":2000000,"
             "\"vehicle\":{\"make\":\"Honda\",\"model\":\"Civic\"}",
             sam);
    s_lead(contact, extra, id);
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    harness_response_t r = harness_http(
        "PATCH", path, h->key_a,
        "{\"priority\":\"hot\",\"followUpAt\":\"2099-01-02T09:30:00Z\","
        "\"customFields\":{\"tradeIn\":\"yes\"},\"vehicle\":{\"make\":\"Honda\","
        "\"model\":\"Accord\",\"condition\":\"used\"}}",
        NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "priority"), "hot");
    assert_string_equal(harness_json_str(&r, "followUpAt"), "2099-01-02T09:30:00Z");
    assert_string_equal(harness_json_str(&r, "assigneeId"), sam);  // not named: kept
    assert_string_equal(harness_json_str(&r, "source"), "web_form");
    assert_string_equal(harness_json_str(&r, "budgetMaxCents"), "2000000");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "vehicle"), "model")), "Accord");
    harness_response_free(&r);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_string_equal(harness_json_str(&r, "followUpAt"), "2099-01-02T09:30:00.000000Z");
    assert_string_equal(harness_json_str(&r, "priority"), "hot");
    harness_response_free(&r);

    ProtobufCMessage *events[2];
    assert_int_equal(s_events(id, "LeadUpdated", &crm__events__lead_updated__descriptor, events, 2),
                     1);
    Crm__Events__LeadUpdated *ev = (Crm__Events__LeadUpdated *)events[0];
    assert_int_equal(ev->n_changed, 5); // and priorityManual: a priority set by hand
    assert_int_equal(ev->lead->priority, CRM__LEADS__PRIORITY__PRIORITY_HOT);
    s_events_free(events, 1);

    //  Refused, each naming its field, nothing written.
    long long before = s_written();
    s_expect(harness_http("PATCH", path, h->key_a, "{\"status\":\"qualified\"}", NULL), 422,
             "status");
    s_expect(harness_http("PATCH", path, h->key_a, "{\"score\":90}", NULL), 422, "score");
    s_expect(harness_http("PATCH", path, h->key_a,
                          "{\"priority\":\"medium\",\"budgetMinCents\":-100}", NULL),
             422, "budgetMinCents");
    s_expect(harness_http("PATCH", path, h->key_a, "{\"followUpAt\":\"2001-01-01T00:00:00Z\"}",
                          NULL),
             422, "followUpAt");
    s_expect(harness_http("PATCH", path, h->key_a, "{\"source\":\"carrier_pigeon\"}", NULL), 422,
             "source");
    s_expect(harness_http("PATCH", path, h->key_a, "{\"nonsense\":1}", NULL), 422, NULL);
    s_expect(harness_http("PATCH", path, h->key_b, "{\"priority\":\"medium\"}", NULL), 404, NULL);
    s_expect(harness_http("PATCH", "/v1/leads/123", h->key_a, "{\"priority\":\"medium\"}", NULL),
             404, NULL);
    assert_int_equal(s_written(), before);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_string_equal(harness_json_str(&r, "priority"), "hot");
    harness_response_free(&r);
}

static void test_status(void **state) {
    (void)state;
    char contact[64], id[64], path[128];
    fixture_contact(h->key_a, contact);
    s_lead(contact, ",\"source\":\"referral\"", id);
    snprintf(path, sizeof path, "/v1/leads/%s", id);

    harness_response_t r =
        s_move(s_key_sales, id, "{\"status\":\"contacted\",\"note\":\"called\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "status"), "contacted");
    json_t *history = json_object_get(r.json, "history");
    assert_int_equal(json_array_size(history), 2);
    json_t *move = json_array_get(history, 1);
    assert_string_equal(json_string_value(json_object_get(move, "fromStage")), "new");
    assert_string_equal(json_string_value(json_object_get(move, "toStage")), "contacted");
    assert_string_equal(json_string_value(json_object_get(move, "note")), "called");
    assert_true(strlen(json_string_value(json_object_get(move, "actorId"))) > 0);
    assert_string_equal(json_string_value(json_object_get(move, "changedAt")),
                        harness_json_str(&r, "lastActivityAt"));
    harness_response_free(&r);
    ProtobufCMessage *events[2];
    assert_int_equal(s_events(id, "LeadStatusChanged",
                              &crm__events__lead_status_changed__descriptor, events, 2),
                     1);
    Crm__Events__LeadStatusChanged *changed = (Crm__Events__LeadStatusChanged *)events[0];
    assert_string_equal(changed->from_stage, "new");
    assert_string_equal(changed->to_stage, "contacted");
    assert_string_equal(changed->contact_id, contact);
    assert_int_equal(changed->to_outcome, CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_OPEN);
    s_events_free(events, 1);

    //  Refused moves, each naming its field, nothing written.
    long long before = s_written();
    s_expect(s_move(h->key_a, id, "{\"status\":\"contacted\"}"), 422, "status");
    s_expect(s_move(h->key_a, id, "{\"status\":\"no_such_stage\"}"), 422, "status");
    s_expect(s_move(h->key_a, id, "{\"status\":\"Bad Key!\"}"), 422, "status");
    s_expect(s_move(h->key_a, id, "{}"), 422, "status");
    r = s_move(h->key_a, id, "{\"status\":\"closed_won\"}");
    assert_int_equal(r.status, 422);
    assert_true(s_names_field(&r, "won.vehicleSold"));
    assert_true(s_names_field(&r, "won.finalPriceCents"));
    assert_true(s_names_field(&r, "won.financing"));
    harness_response_free(&r);
    s_expect(s_move(h->key_a, id,
                    "{\"status\":\"closed_won\",\"won\":{\"vehicleSold\":{\"make\":\"Kia\","
                    "\"model\":\"EV6\"},\"finalPriceCents\":-5,\"financing\":\"cash\"}}"),
             422, "won.finalPriceCents");
    s_expect(s_move(h->key_a, id, "{\"status\":\"closed_lost\"}"), 422, "lost.reason");
    s_expect(s_move(h->key_a, id,
                    "{\"status\":\"qualified\",\"lost\":{\"reason\":\"price_too_high\"}}"),
             422, "lost");
    s_expect(s_move(h->key_b, id, "{\"status\":\"qualified\"}"), 404, NULL);
    s_expect(s_move(h->key_a, "not-a-lead", "{\"status\":\"qualified\"}"), 404, NULL);
    assert_int_equal(s_written(), before);

    //  Won, with its details and LeadWon beside LeadStatusChanged.
    r = s_move(h->key_a, id,
               "{\"status\":\"closed_won\",\"won\":{\"vehicleSold\":{\"year\":2025,"
               "\"make\":\"Kia\",\"model\":\"EV6\",\"vin\":\"1m8gdm9axkp042788\"},"
               "\"finalPriceCents\":4250000,\"financing\":\"lease\","
               "\"deliveryDate\":\"2026-12-01\"}}");
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "status"), "closed_won");
    assert_true(strlen(harness_json_str(&r, "closedAt")) > 0);
    json_t *won = json_object_get(r.json, "won");
    assert_string_equal(json_string_value(json_object_get(won, "finalPriceCents")), "4250000");
    assert_string_equal(json_string_value(json_object_get(won, "financing")), "lease");
    harness_response_free(&r);
    assert_int_equal(s_events(id, "LeadWon", &crm__events__lead_won__descriptor, events, 2), 1);
    Crm__Events__LeadWon *lead_won = (Crm__Events__LeadWon *)events[0];
    assert_int_equal(lead_won->won->final_price_cents, 4250000);
    assert_string_equal(lead_won->won->vehicle_sold->vin, "1M8GDM9AXKP042788");
    assert_int_equal(lead_won->won->financing, CRM__LEADS__FINANCING__FINANCING_LEASE);
    s_events_free(events, 1);

    //  A closed lead moves only by reopening, which needs a manager.
    before = s_written();
    s_expect(s_move(h->key_a, id, "{\"status\":\"closed_lost\",\"lost\":{\"reason\":\"other\"}}"),
             422, "status");
    s_expect(s_move(s_key_sales, id, "{\"status\":\"negotiation\"}"), 403, NULL);
    s_expect(harness_http("PATCH", path, h->key_a, "{\"won\":{\"financing\":\"cash\"}}", NULL),
             422, "won");
    assert_int_equal(s_written(), before);
    r = s_move(s_key_manager, id,
               "{\"status\":\"negotiation\",\"note\":\"financing fell through\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "status"), "negotiation");
    assert_string_equal(harness_json_str(&r, "closedAt"), "");
    assert_null(json_object_get(r.json, "won"));
    assert_int_equal(json_array_size(json_object_get(r.json, "history")), 4);
    harness_response_free(&r);
    size_t n = s_events(id, "LeadStatusChanged", &crm__events__lead_status_changed__descriptor,
                        events, 2);
    assert_int_equal(n, 3);
    s_events_free(events, 2);

    //  Lost, with its reason.
    r = s_move(h->key_a, id,
               "{\"status\":\"closed_lost\",\"lost\":{\"reason\":\"purchased_elsewhere\","
               "\"reasonText\":\"bought across town\"}}");
    assert_int_equal(r.status, 200);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "lost"), "reason")),
        "purchased_elsewhere");
    harness_response_free(&r);
    assert_int_equal(s_events(id, "LeadLost", &crm__events__lead_lost__descriptor, events, 2), 1);
    assert_int_equal(((Crm__Events__LeadLost *)events[0])->lost->reason,
                     CRM__LEADS__LOST_REASON__LOST_REASON_PURCHASED_ELSEWHERE);
    s_events_free(events, 1);
}

//  Every page of GET path (which ends in a query) with limit, following the cursors;
//  returns the ids in order, comma-separated (caller frees).
static char *s_all_pages(const char *query, int limit) {
    char *ids = strdup("");
    char cursor[256] = "";
    for (int page = 0; page < 100; page++) {
        char path[768];
        snprintf(path, sizeof path, "/v1/leads?%s&limit=%d%s%s", query, limit,
                 cursor[0] ? "&cursor=" : "", cursor);
        harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
        assert_int_equal(r.status, 200);
        json_t *items = json_object_get(r.json, "items");
        assert_true(json_array_size(items) <= (size_t)limit);
        for (size_t i = 0; i < json_array_size(items); i++) {
            const char *id = json_string_value(json_object_get(json_array_get(items, i), "id"));
            char *more = zsys_sprintf("%s%s%s", ids, ids[0] ? "," : "", id);
            free(ids);
            ids = strdup(more);
            zstr_free(&more);
        }
        snprintf(cursor, sizeof cursor, "%s", harness_json_str(&r, "nextCursor"));
        harness_response_free(&r);
        if (!cursor[0])
            break;
    }
    return ids;
}

static void test_list(void **state) {
    (void)state;
    char contact[64], other[64], ids[5][64], kim[64], extra[256];
    fixture_contact(h->key_a, contact);
    fixture_contact(h->key_a, other);
    s_member("Kim", kim);
    snprintf(extra, sizeof extra, ",\"source\":\"import\",\"priority\":\"hot\",\"assigneeId\":\"%s\"",
             kim);
    s_lead(contact, extra, ids[0]);
    s_lead(contact, ",\"source\":\"import\",\"followUpAt\":\"2098-05-01T10:00:00Z\"", ids[1]);
    s_lead(other, ",\"source\":\"third_party\",\"priority\":\"hot\"", ids[2]);
    s_lead(other, ",\"source\":\"third_party\",\"followUpAt\":\"2097-05-01T10:00:00Z\"", ids[3]);
    snprintf(extra, sizeof extra, ",\"source\":\"third_party\",\"assigneeId\":\"%s\"", kim);
    s_lead(other, extra, ids[4]);
    harness_response_t r = s_move(h->key_a, ids[1], "{\"status\":\"qualified\"}");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);

    //  Newest first, whole pages and a last one, each lead once.
    char *all = s_all_pages("source=import", 1);
    char want[512];
    snprintf(want, sizeof want, "%s,%s", ids[1], ids[0]);
    assert_string_equal(all, want);
    free(all);
    char query[256];
    snprintf(query, sizeof query, "contactId=%s", other);
    all = s_all_pages(query, 2);
    snprintf(want, sizeof want, "%s,%s,%s", ids[4], ids[3], ids[2]);
    assert_string_equal(all, want);
    free(all);
    snprintf(query, sizeof query, "contactId=%s&priority=hot", other);
    all = s_all_pages(query, 2);
    assert_string_equal(all, ids[2]);
    free(all);
    snprintf(query, sizeof query, "contactId=%s&status=qualified", contact);
    all = s_all_pages(query, 2);
    assert_string_equal(all, ids[1]);
    free(all);
    snprintf(query, sizeof query, "assigneeId=%s&contactId=%s", kim, other);
    all = s_all_pages(query, 5);
    assert_string_equal(all, ids[4]);
    free(all);
    //  Soonest follow-up first, those without one last.
    snprintf(query, sizeof query, "contactId=%s&sort=follow_up", other);
    all = s_all_pages(query, 1);
    snprintf(want, sizeof want, "%s,%s,%s", ids[3], ids[2], ids[4]);
    assert_string_equal(all, want);
    free(all);
    //  Most recent activity first: the move made ids[1] the latest.
    all = s_all_pages("source=import&sort=last_activity", 1);
    snprintf(want, sizeof want, "%s,%s", ids[1], ids[0]);
    assert_string_equal(all, want);
    free(all);
    all = s_all_pages("source=import&createdFrom=2099-01-01", 5);
    assert_string_equal(all, "");
    free(all);
    all = s_all_pages("source=import&createdTo=2099-01-01&createdFrom=2020-01-01", 5);
    snprintf(want, sizeof want, "%s,%s", ids[1], ids[0]);
    assert_string_equal(all, want);
    free(all);
    //  Another tenant's leads are not listed.
    r = harness_http("GET", "/v1/leads?source=import", h->key_b, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    harness_response_free(&r);

    s_expect(harness_http("GET", "/v1/leads?limit=500", h->key_a, NULL, NULL), 422, "limit");
    s_expect(harness_http("GET", "/v1/leads?cursor=zzz", h->key_a, NULL, NULL), 422, "cursor");
    s_expect(harness_http("GET", "/v1/leads?createdFrom=yesterday", h->key_a, NULL, NULL), 422,
             "createdFrom");
    s_expect(harness_http("GET", "/v1/leads?contactId=12", h->key_a, NULL, NULL), 422,
             "contactId");
    s_expect(harness_http("GET", "/v1/leads?source=fax", h->key_a, NULL, NULL), 422, "source");
    s_expect(harness_http("GET", "/v1/leads?sort=price", h->key_a, NULL, NULL), 422, "sort");
    //  A cursor of one order is not one of another.
    r = harness_http("GET", "/v1/leads?source=import&limit=1", h->key_a, NULL, NULL);
    char path[256];
    snprintf(path, sizeof path, "/v1/leads?sort=follow_up&cursor=%s",
             harness_json_str(&r, "nextCursor"));
    harness_response_free(&r);
    s_expect(harness_http("GET", path, h->key_a, NULL, NULL), 422, "cursor");
}

static void test_stage_changes(void **state) {
    (void)state;
    char manager_contact[64], id[64];
    //  Tenant B: its own pipeline, changed by its admin.
    harness_response_t r = harness_http("POST", "/v1/pipeline/stages", h->key_b,
                                        "{\"name\":\"Appointment Set\",\"position\":3}", NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(harness_json_str(&r, "key"), "appointment_set");
    assert_string_equal(harness_json_str(&r, "outcome"), "open");
    assert_int_equal(json_integer_value(json_object_get(r.json, "position")), 3);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/pipeline/stages", h->key_b, NULL, NULL);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 8);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 2), "key")),
                        "appointment_set");
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 3), "key")),
                        "qualified");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 7), "position")), 8);
    harness_response_free(&r);
    //  Tenant A's pipeline did not change.
    r = harness_http("GET", "/v1/pipeline/stages", h->key_a, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 7);
    harness_response_free(&r);

    s_expect(harness_http("POST", "/v1/pipeline/stages", h->key_b, "{\"name\":\"appointment SET\"}",
                          NULL),
             409, "name");
    s_expect(harness_http("POST", "/v1/pipeline/stages", h->key_b,
                          "{\"name\":\"Other\",\"key\":\"qualified\"}", NULL),
             409, "key");
    s_expect(harness_http("POST", "/v1/pipeline/stages", h->key_b, "{\"name\":\"  \"}", NULL), 422,
             "name");
    s_expect(harness_http("POST", "/v1/pipeline/stages", h->key_b,
                          "{\"name\":\"X\",\"key\":\"Bad-Key\"}", NULL),
             422, "key");
    s_expect(harness_http("POST", "/v1/pipeline/stages", h->key_b,
                          "{\"name\":\"X\",\"outcome\":\"maybe\"}", NULL),
             422, "outcome");
    //  Only managers and admins change the pipeline.
    harness_create_key("tenant-b", "sales", manager_contact, sizeof manager_contact);
    s_expect(harness_http("POST", "/v1/pipeline/stages", manager_contact, "{\"name\":\"Y\"}", NULL),
             403, NULL);

    //  Rename, reorder, re-mark.
    r = harness_http("PATCH", "/v1/pipeline/stages/appointment_set", h->key_b,
                     "{\"name\":\"Appointment Booked\",\"position\":1}", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "name"), "Appointment Booked");
    assert_string_equal(harness_json_str(&r, "key"), "appointment_set");
    assert_int_equal(json_integer_value(json_object_get(r.json, "position")), 1);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/pipeline/stages", h->key_b, NULL, NULL);
    items = json_object_get(r.json, "items");
    for (size_t i = 0; i < json_array_size(items); i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(items, i), "position")),
                         (long)i + 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "key")), "new");
    harness_response_free(&r);
    s_expect(harness_http("PATCH", "/v1/pipeline/stages/appointment_set", h->key_b,
                          "{\"key\":\"other\"}", NULL),
             422, "key");
    s_expect(harness_http("PATCH", "/v1/pipeline/stages/nope", h->key_b, "{\"name\":\"Z\"}", NULL),
             404, NULL);

    //  A stage with leads in it keeps its outcome and is not deleted.
    char contact[64];
    fixture_contact(h->key_b, contact);
    r = s_post_lead(h->key_b, contact, ",\"source\":\"phone\"");
    assert_int_equal(r.status, 201);
    assert_string_equal(harness_json_str(&r, "status"), "appointment_set"); // now the first
    snprintf(id, sizeof id, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    long long before = s_written();
    s_expect(harness_http("DELETE", "/v1/pipeline/stages/appointment_set", h->key_b, NULL, NULL),
             409, NULL);
    s_expect(harness_http("PATCH", "/v1/pipeline/stages/appointment_set", h->key_b,
                          "{\"outcome\":\"won\"}", NULL),
             409, NULL);
    assert_int_equal(s_written(), before);
    r = s_move(h->key_b, id, "{\"status\":\"new\"}");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = harness_http("DELETE", "/v1/pipeline/stages/appointment_set", h->key_b, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/pipeline/stages", h->key_b, NULL, NULL);
    items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 7);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 0), "leadCount")), 1);
    harness_response_free(&r);
    s_expect(harness_http("DELETE", "/v1/pipeline/stages/appointment_set", h->key_b, NULL, NULL),
             404, NULL);
    //  A custom won stage closes leads as won too.
    r = harness_http("POST", "/v1/pipeline/stages", h->key_b,
                     "{\"name\":\"Sold (Fleet)\",\"outcome\":\"won\"}", NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(harness_json_str(&r, "key"), "sold_fleet");
    harness_response_free(&r);
    s_expect(s_move(h->key_b, id, "{\"status\":\"sold_fleet\"}"), 422, "won.vehicleSold");

    //  Each change of the pipeline published it whole: the copy of the defaults, the
    //  stage added, changed, deleted and the won stage added (refusals published nothing).
    PGconn *db = PQconnectdb(h->dsn);
    PGresult *res = PQexec(db, "SELECT payload FROM leads.outbox WHERE tenant_id = 'tenant-b'"
                               " AND type = 'PipelineChanged' ORDER BY xid, id");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), 5);
    const char *changes[] = {"created", "stage_added", "stage_changed", "stage_deleted",
                             "stage_added"};
    for (int i = 0; i < 5; i++) {
        size_t size = 0;
        unsigned char *bytes =
            PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 0), &size);
        Crm__Events__PipelineChanged *ev =
            crm__events__pipeline_changed__unpack(NULL, size, bytes);
        assert_non_null(ev);
        assert_string_equal(ev->change, changes[i]);
        if (i == 4) {
            assert_string_equal(ev->stage_key, "sold_fleet");
            assert_int_equal(ev->n_stages, 8);
            assert_string_equal(ev->stages[7]->key, "sold_fleet");
            assert_int_equal(ev->stages[7]->outcome,
                             CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_WON);
        }
        crm__events__pipeline_changed__free_unpacked(ev, NULL);
        PQfreemem(bytes);
    }
    PQclear(res);
    PQfinish(db);
}

static void test_delete(void **state) {
    (void)state;
    char contact[64], id[64], path[128];
    fixture_contact(h->key_a, contact);
    s_lead(contact, ",\"source\":\"chat\"", id);
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    s_expect(harness_http("DELETE", path, h->key_b, NULL, NULL), 404, NULL);
    harness_response_t r = harness_http("DELETE", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    s_expect(harness_http("GET", path, h->key_a, NULL, NULL), 404, NULL);
    s_expect(harness_http("DELETE", path, h->key_a, NULL, NULL), 404, NULL);
    s_expect(s_move(h->key_a, id, "{\"status\":\"contacted\"}"), 404, NULL);
    ProtobufCMessage *events[2];
    assert_int_equal(s_events(id, "LeadDeleted", &crm__events__lead_deleted__descriptor, events, 2),
                     1);
    assert_string_equal(((Crm__Events__LeadDeleted *)events[0])->contact_id, contact);
    s_events_free(events, 1);
    assert_int_equal(s_count("SELECT count(*) FROM leads.leads WHERE id = '%s'"
                             " AND deleted_at IS NOT NULL", id),
                     1);
}

//  Closing as lost with a long-term follow-up: the lead's other follow-ups are cancelled,
//  the long-term one is scheduled (a date: 9:00 on the dealership's clock) and fires
//  although the lead is closed; one in the past is refused and nothing moves.
static void test_lost_long_term_follow_up(void **state) {
    (void)state;
    char contact[64], id[64], path[160];
    fixture_contact(h->key_a, contact);
    s_lead(contact, ",\"source\":\"phone\",\"followUpAt\":\"2031-01-02T15:00:00Z\"", id);
    const char *updated = "SELECT count(*) FROM leads.outbox WHERE type = 'LeadUpdated'"
                          " AND aggregate_id = '%s'"
                          " AND position(convert_to('followUpAt', 'UTF8') IN payload) > 0";

    //  A follow-up due sooner moves the lead's followUpAt, and says so (LeadUpdated); one
    //  due later does not move it.
    snprintf(path, sizeof path, "/v1/leads/%s/follow-ups", id);
    harness_response_t r = harness_http("POST", path, h->key_a,
                                        "{\"dueAt\":\"2030-06-01T10:00:00Z\"}", NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
    assert_int_equal(s_count(updated, id), 1);
    r = harness_http("POST", path, h->key_a, "{\"dueAt\":\"2033-06-01T10:00:00Z\"}", NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
    assert_int_equal(s_count(updated, id), 1);

    snprintf(path, sizeof path, "/v1/leads/%s/status", id);
    r = harness_http(
        "POST", path, h->key_a,
        "{\"status\":\"closed_lost\",\"lost\":{\"reason\":\"purchased_elsewhere\","
        "\"followUpAt\":\"2020-05-01\"}}",
        NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "lost.followUpAt");
    harness_response_free(&r);
    assert_int_equal(s_count("SELECT count(*) FROM leads.leads WHERE id = '%s'"
                             " AND status = 'new'", id),
                     1);

    r = harness_http("POST", path, h->key_a,
                     "{\"status\":\"closed_lost\",\"lost\":{\"reason\":\"purchased_elsewhere\","
                     "\"followUpAt\":\"2032-03-01\"}}",
                     NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "followUpAt"), "2032-03-01T09:00:00.000000Z");
    assert_null(strstr(r.body, "\"overdue\":true"));
    harness_response_free(&r);
    assert_int_equal(s_count("SELECT count(*) FROM leads.follow_ups WHERE lead_id = '%s'"
                             " AND status = 'cancelled' AND cancel_reason = 'lead_closed'",
                             id),
                     3);
    assert_int_equal(s_count(updated, id), 2);  // its followUpAt moved with the close
    snprintf(path, sizeof path, "/v1/leads/%s/follow-ups?status=pending", id);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"longTerm\":true"));
    assert_non_null(strstr(r.body, "purchased_elsewhere"));
    harness_response_free(&r);

    //  Its time comes (moved by hand): it fires, once, though the lead is closed.
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE leads.follow_ups SET due_at = now() - interval '1 second'"
             " WHERE lead_id = '%s' AND long_term",
             id);
    sql_exec(sql);
    long long fired = 0;
    for (int i = 0; i < 100 && fired == 0; i++) {
        fired = s_count("SELECT count(*) FROM leads.outbox WHERE type = 'FollowUpDue'"
                        " AND aggregate_id = '%s'", id);
        if (!fired)
            usleep(100 * 1000);
    }
    assert_int_equal(fired, 1);
    assert_int_equal(s_count("SELECT count(*) FROM leads.follow_ups WHERE lead_id = '%s'"
                             " AND long_term AND status = 'pending' AND fired_at IS NOT NULL",
                             id),
                     1);
}

//  Wait up to 10 s for the leads service to know contact from the contacts service's
//  events (contact_ids), live (1) or deleted (2).
static void s_wait_known(const char *contact, int state) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT coalesce((SELECT CASE WHEN deleted THEN 2 ELSE 1 END"
             " FROM leads.contact_ids WHERE contact_id = '%s'), 0)",
             contact);
    long long seen = 0;
    for (int i = 0; i < 200 && seen != state; i++) {
        seen = sql_scalar(sql);
        if (seen != state)
            usleep(50 * 1000);
    }
    assert_int_equal(seen, state);
}

//  The contacts service not answering: a contact the leads service knows from the
//  contacts events gets its lead without a call, and a deleted one is refused; one it
//  does not know yet cannot be checked: 503, nothing written.
static void test_contacts_unavailable(void **state) {
    (void)state;
    char contact[64], unknown[64], gone[64], path[160], sql[256];
    fixture_contact(h->key_a, contact);
    fixture_contact(h->key_a, unknown);
    fixture_contact(h->key_a, gone);
    snprintf(path, sizeof path, "/v1/contacts/%s", gone);
    harness_response_t r = harness_http("DELETE", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    s_wait_known(contact, 1);
    s_wait_known(unknown, 1);
    s_wait_known(gone, 2);
    //  As if its event had not been applied yet (or had aged out of the outbox).
    snprintf(sql, sizeof sql, "DELETE FROM leads.contact_ids WHERE contact_id = '%s'", unknown);
    sql_exec(sql);

    pid_t pid = harness_daemon_pid("contacts");
    assert_true(pid > 0);
    kill(pid, SIGSTOP);
    long long before = s_written();
    harness_response_t unknown_r = s_post_lead(h->key_a, unknown, ",\"source\":\"chat\"");
    long long after_unknown = s_written();
    harness_response_t gone_r = s_post_lead(h->key_a, gone, ",\"source\":\"chat\"");
    long long after_gone = s_written();
    harness_response_t known_r = s_post_lead(h->key_a, contact, ",\"source\":\"chat\"");
    kill(pid, SIGCONT);
    assert_int_equal(unknown_r.status, 503);
    assert_int_equal(after_unknown, before);
    assert_int_equal(gone_r.status, 422);
    assert_string_equal(harness_error_field(&gone_r), "contactId");
    assert_int_equal(after_gone, before);
    assert_int_equal(known_r.status, 201);
    harness_response_free(&unknown_r);
    harness_response_free(&gone_r);
    harness_response_free(&known_r);

    //  Back: the unknown one is checked with the contacts service, and noted.
    bool created = false;
    for (int i = 0; i < 50 && !created; i++) {
        r = s_post_lead(h->key_a, unknown, ",\"source\":\"chat\"");
        created = r.status == 201;
        harness_response_free(&r);
        if (!created)
            usleep(200 * 1000);
    }
    assert_true(created);
    s_wait_known(unknown, 1);
}

//  The contact follows its leads: its lead count and last activity, and a won lead makes
//  it a customer — with its ContactUpdated event and audit entry in the closer's name.
static void test_contact_lifecycle(void **state) {
    (void)state;
    char contact[64], lead[64], other[64];
    fixture_contact(h->key_a, contact);
    s_lead(contact, ",\"source\":\"walk_in\"", lead);
    s_lead(contact, ",\"source\":\"phone\"", other);
    char path[160];
    snprintf(path, sizeof path, "/v1/contacts/%s", contact);
    long long count = 0;
    for (int i = 0; i < 100 && count != 2; i++) {
        harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
        count = json_integer_value(json_object_get(r.json, "leadCount"));
        harness_response_free(&r);
        if (count != 2)
            zclock_sleep(100);
    }
    assert_int_equal(count, 2);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_string_equal(harness_json_str(&r, "type"), "prospect");
    assert_true(strlen(harness_json_str(&r, "lastActivityAt")) > 0);
    harness_response_free(&r);

    r = s_move(h->key_a, lead,
               "{\"status\":\"closed_won\",\"won\":{\"vehicleSold\":{\"year\":2025,"
               "\"make\":\"Kia\",\"model\":\"EV6\"},\"finalPriceCents\":4250000,"
               "\"financing\":\"cash\"}}");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    char type[32] = "";
    for (int i = 0; i < 100 && strcmp(type, "customer"); i++) {
        r = harness_http("GET", path, h->key_a, NULL, NULL);
        snprintf(type, sizeof type, "%s", harness_json_str(&r, "type"));
        harness_response_free(&r);
        if (strcmp(type, "customer"))
            zclock_sleep(100);
    }
    assert_string_equal(type, "customer");
    assert_int_equal(s_count("SELECT count(*) FROM contacts.outbox WHERE aggregate_id = '%s'"
                             " AND type = 'ContactUpdated'",
                             contact),
                     1);
    assert_int_equal(s_count("SELECT count(*) FROM contacts.contact_audit WHERE contact_id = '%s'"
                             " AND action = 'updated' AND changes ? 'type' AND actor_id <> ''",
                             contact),
                     1);

    //  A deleted lead no longer counts.
    snprintf(path, sizeof path, "/v1/leads/%s", other);
    r = harness_http("DELETE", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/contacts/%s", contact);
    for (int i = 0; i < 100 && count != 1; i++) {
        r = harness_http("GET", path, h->key_a, NULL, NULL);
        count = json_integer_value(json_object_get(r.json, "leadCount"));
        harness_response_free(&r);
        if (count != 1)
            zclock_sleep(100);
    }
    assert_int_equal(count, 1);
}

static const struct CMUnitTest s_tests[] = {
    cmocka_unit_test(test_default_pipeline),
    cmocka_unit_test(test_create_and_read),
    cmocka_unit_test(test_create_refused),
    cmocka_unit_test(test_update),
    cmocka_unit_test(test_status),
    cmocka_unit_test(test_list),
    cmocka_unit_test(test_stage_changes),
    cmocka_unit_test(test_delete),
    cmocka_unit_test(test_contact_lifecycle),
    cmocka_unit_test(test_lost_long_term_follow_up),
    cmocka_unit_test(test_contacts_unavailable),
};

int main(void) {
    return cmocka_run_group_tests(s_tests, s_setup, s_teardown);
}
