/*  System tests of the contact profile: phones with channel opt-ins and an SMS order,
    emails with consent, addresses, vehicles (VINs checked), the organization link and
    company buyers, personal details, the tenant's custom fields and phone types — all
    driven over HTTP, each bad input refused with its field and nothing written. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

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

//  A unique email address for each call.
static const char *s_email(void) {
    static char buf[64];
    static int n;
    snprintf(buf, sizeof buf, "profile%d.%lld@example.com", ++n, (long long)zclock_time());
    return buf;
}

static long long s_contacts_count(void) {
    return harness_sql_scalar("SELECT count(*) FROM contacts.contacts");
}

//  The member at a path of dot-separated names and [i] indexes ("phones[1].smsRank").
static json_t *s_at(json_t *json, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *part = strtok(buf, "."); part && json; part = strtok(NULL, ".")) {
        char *bracket = strchr(part, '[');
        if (bracket)
            *bracket = 0;
        if (*part)
            json = json_object_get(json, part);
        if (bracket)
            json = json_array_get(json, (size_t)atoi(bracket + 1));
    }
    return json;
}

static const char *s_str(const harness_response_t *r, const char *path) {
    const char *s = json_string_value(s_at(r->json, path));
    return s ? s : "";
}

static long long s_int(const harness_response_t *r, const char *path) {
    return json_integer_value(s_at(r->json, path));
}

//  POST a contact; expect status; for 422, the first field error is field.
static void s_expect(const char *body, long status, const char *field) {
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    if (r.status != status)
        print_error("body %s\nanswer %ld %s\n", body, r.status, r.body);
    assert_int_equal(r.status, status);
    if (field)
        assert_string_equal(harness_error_field(&r), field);
    harness_response_free(&r);
}

static void s_create_definitions(void) {
    static bool done;
    if (done)
        return;
    done = true;
    const char *fields[] = {
        "{\"key\":\"budget\",\"label\":\"Budget\",\"type\":\"number\"}",
        "{\"key\":\"lease_end\",\"label\":\"Lease ends\",\"type\":\"date\"}",
        "{\"key\":\"nickname\",\"label\":\"Nickname\",\"type\":\"text\"}",
        "{\"key\":\"fuel\",\"label\":\"Fuel\",\"type\":\"select\","
        "\"options\":[\"Petrol\",\"Diesel\",\"Electric\"]}",
    };
    for (size_t i = 0; i < 4; i++) {
        harness_response_t r = harness_http("POST", "/v1/contact-fields", h->key_a, fields[i], NULL);
        assert_int_equal(r.status, 201);
        harness_response_free(&r);
    }
    harness_response_t r =
        harness_http("POST", "/v1/phone-types", h->key_a, "{\"name\":\"Showroom\"}", NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
}

//  Every part of the profile, stored and returned normalised.
static void test_full_profile(void **state) {
    (void)state;
    s_create_definitions();
    char body[4096], email1[64];
    snprintf(email1, sizeof email1, "%s", s_email());
    snprintf(
        body, sizeof body,
        "{\"firstName\":\"Ana\",\"lastName\":\"Ruiz\",\"type\":\"customer\",\"supplier\":true,"
        "\"emails\":[{\"address\":\"%s\",\"consent\":true},{\"address\":\"%s\"}],"
        "\"phones\":[{\"number\":\"(202) 555-0101\",\"type\":\"mobile\",\"sms\":true,"
        "\"whatsapp\":true,\"smsRank\":2},"
        "{\"number\":\"202-555-0102\",\"type\":\"home\"},"
        "{\"number\":\"202 555 0103\",\"sms\":true,\"viber\":true,\"smsRank\":1,"
        "\"customType\":\"showroom\"}],"
        "\"addresses\":[{\"line1\":\" 1 Main St \",\"city\":\"Springfield\",\"region\":\"IL\","
        "\"postcode\":\"62701\",\"country\":\"us\"},{\"type\":\"billing\",\"postcode\":\"62702\"}],"
        "\"source\":\"referral\",\"foundUs\":\"radio ad\",\"preferredChannel\":\"sms\","
        "\"bestTime\":\"evening\","
        "\"socialProfiles\":[{\"network\":\"instagram\",\"handle\":\"@anaruiz\"}],"
        "\"dateOfBirth\":\"1984-02-29\",\"discountPercent\":7.456,\"assignee\":\"sam.lee\","
        "\"vehicles\":[{\"relation\":\"owned\",\"year\":2015,\"make\":\"Honda\",\"model\":\"Civic\","
        "\"vin\":\"1hgcm82633a004352\",\"mileage\":98000},"
        "{\"relation\":\"interest\",\"make\":\"Toyota\",\"model\":\"RAV4\",\"trim\":\"XLE\","
        "\"condition\":\"new\"},"
        "{\"relation\":\"trade_in\",\"year\":2012,\"make\":\"Ford\",\"model\":\"Focus\","
        "\"vin\":\"1M8GDM9AXKP042788\",\"mileage\":120500}],"
        "\"customFields\":{\"budget\":\"25000.50\",\"lease_end\":\"2027-03-31\","
        "\"nickname\":\"Annie\",\"fuel\":\"electric\"}}",
        email1, s_email());
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    if (r.status != 201)
        print_error("%s\n", r.body);
    assert_int_equal(r.status, 201);
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);

    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(s_at(r.json, "supplier")));
    assert_true(json_is_true(s_at(r.json, "emails[0].consent")));
    assert_null(s_at(r.json, "emails[1].consent"));
    //  SMS order as ranked; the line without sms has no rank; the tenant's phone type.
    assert_string_equal(s_str(&r, "phones[0].number"), "+12025550101");
    assert_int_equal(s_int(&r, "phones[0].smsRank"), 2);
    assert_true(json_is_true(s_at(r.json, "phones[0].whatsapp")));
    assert_null(s_at(r.json, "phones[1].smsRank"));
    assert_int_equal(s_int(&r, "phones[2].smsRank"), 1);
    assert_true(json_is_true(s_at(r.json, "phones[2].viber")));
    assert_string_equal(s_str(&r, "phones[2].customType"), "Showroom");
    assert_string_equal(s_str(&r, "phones[2].type"), "other");
    //  Addresses trimmed, country upper case, home by default, the first primary.
    assert_string_equal(s_str(&r, "addresses[0].line1"), "1 Main St");
    assert_string_equal(s_str(&r, "addresses[0].country"), "US");
    assert_string_equal(s_str(&r, "addresses[0].type"), "home");
    assert_true(json_is_true(s_at(r.json, "addresses[0].primary")));
    assert_string_equal(s_str(&r, "addresses[1].type"), "billing");
    assert_string_equal(s_str(&r, "foundUs"), "radio ad");
    assert_string_equal(s_str(&r, "preferredChannel"), "sms");
    assert_string_equal(s_str(&r, "bestTime"), "evening");
    assert_string_equal(s_str(&r, "socialProfiles[0].network"), "instagram");
    assert_string_equal(s_str(&r, "dateOfBirth"), "1984-02-29");
    assert_true(json_real_value(s_at(r.json, "discountPercent")) == 7.46);
    assert_string_equal(s_str(&r, "assignee"), "sam.lee");
    //  Vehicles: the VIN in upper case, the trade-in whole.
    assert_string_equal(s_str(&r, "vehicles[0].vin"), "1HGCM82633A004352");
    assert_int_equal(s_int(&r, "vehicles[0].mileage"), 98000);
    assert_string_equal(s_str(&r, "vehicles[1].relation"), "interest");
    assert_string_equal(s_str(&r, "vehicles[1].condition"), "new");
    assert_string_equal(s_str(&r, "vehicles[2].relation"), "trade_in");
    assert_int_equal(s_int(&r, "vehicles[2].year"), 2012);
    //  Custom values in canonical form: the number, the option as defined.
    assert_string_equal(s_str(&r, "customFields.budget"), "25000.5");
    assert_string_equal(s_str(&r, "customFields.lease_end"), "2027-03-31");
    assert_string_equal(s_str(&r, "customFields.fuel"), "Electric");
    harness_response_free(&r);

    //  PATCH one part of the profile: the rest stays.
    r = harness_http("PATCH", path, h->key_a,
                     "{\"discountPercent\":12.5,\"vehicles\":[],\"supplier\":false}", NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_real_value(s_at(r.json, "discountPercent")) == 12.5);
    assert_null(s_at(r.json, "vehicles"));
    assert_null(s_at(r.json, "supplier"));
    assert_string_equal(s_str(&r, "customFields.nickname"), "Annie");
    assert_int_equal(s_int(&r, "phones[2].smsRank"), 1);
    harness_response_free(&r);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_true(json_real_value(s_at(r.json, "discountPercent")) == 12.5);
    assert_string_equal(s_str(&r, "addresses[0].city"), "Springfield");
    harness_response_free(&r);
}

//  SMS order: by the list when no rank is given; ranks for all texted lines or none.
static void test_sms_order(void **state) {
    (void)state;
    char body[1024];
    snprintf(body, sizeof body,
             "{\"firstName\":\"Bo\",\"lastName\":\"Yu\",\"phones\":["
             "{\"number\":\"2025550111\",\"sms\":true},{\"number\":\"2025550112\"},"
             "{\"number\":\"2025550113\",\"sms\":true}]}");
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    assert_int_equal(r.status, 201);
    assert_int_equal(s_int(&r, "phones[0].smsRank"), 1);
    assert_int_equal(s_int(&r, "phones[2].smsRank"), 2);
    harness_response_free(&r);

    long long before = s_contacts_count();
    s_expect("{\"firstName\":\"Bo\",\"lastName\":\"Yu\",\"phones\":["
             "{\"number\":\"2025550121\",\"sms\":true,\"smsRank\":1},"
             "{\"number\":\"2025550122\",\"sms\":true}]}",
             422, "phones");
    s_expect("{\"firstName\":\"Bo\",\"lastName\":\"Yu\",\"phones\":["
             "{\"number\":\"2025550121\",\"sms\":true,\"smsRank\":1},"
             "{\"number\":\"2025550122\",\"sms\":true,\"smsRank\":1}]}",
             422, "phones[1].smsRank");
    s_expect("{\"firstName\":\"Bo\",\"lastName\":\"Yu\",\"phones\":["
             "{\"number\":\"2025550121\",\"sms\":true,\"smsRank\":3}]}",
             422, "phones[0].smsRank");
    s_expect("{\"firstName\":\"Bo\",\"lastName\":\"Yu\",\"phones\":["
             "{\"number\":\"2025550121\",\"smsRank\":1}]}",
             422, "phones[0].smsRank");
    s_expect("{\"firstName\":\"Bo\",\"lastName\":\"Yu\",\"phones\":["
             "{\"number\":\"2025550121\",\"customType\":\"Garage\"}]}",
             422, "phones[0].customType");
    assert_int_equal(s_contacts_count(), before);
}

//  A person linked to an organization with a role; company buyers; the link goes when
//  the organization is deleted, a company buyer keeping its name.
static void test_organization_link(void **state) {
    (void)state;
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a,
                                        "{\"kind\":\"organization\",\"name\":\"Acme Fleet\"}", NULL);
    assert_int_equal(r.status, 201);
    char org[64], org_path[128];
    snprintf(org, sizeof org, "%s", harness_json_str(&r, "id"));
    snprintf(org_path, sizeof org_path, "/v1/contacts/%s", org);
    harness_response_free(&r);

    char body[1024];
    snprintf(body, sizeof body,
             "{\"firstName\":\"Cy\",\"lastName\":\"Ng\",\"companyBuyer\":true,"
             "\"organization\":{\"id\":\"%s\",\"role\":\"fleet manager\"}}",
             org);
    r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(s_str(&r, "organization.id"), org);
    assert_string_equal(s_str(&r, "organization.role"), "fleet manager");
    char person_path[128];
    snprintf(person_path, sizeof person_path, "/v1/contacts/%s", harness_json_str(&r, "id"));
    char person[64];
    snprintf(person, sizeof person, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);

    long long before = s_contacts_count();
    //  A person is not an organization; another tenant's organization is not seen.
    snprintf(body, sizeof body,
             "{\"firstName\":\"Di\",\"lastName\":\"Ng\",\"organization\":{\"id\":\"%s\"}}",
             person);
    s_expect(body, 422, "organization.id");
    snprintf(body, sizeof body,
             "{\"firstName\":\"Di\",\"lastName\":\"Ng\",\"organization\":{\"id\":\"%s\"}}", org);
    r = harness_http("POST", "/v1/contacts", h->key_b, body, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "organization.id");
    harness_response_free(&r);
    s_expect("{\"kind\":\"organization\",\"name\":\"Sub Co\",\"organization\":"
             "{\"id\":\"0190a5b2-0000-7000-8000-000000000000\"}}",
             422, "organization");
    s_expect("{\"firstName\":\"Di\",\"lastName\":\"Ng\",\"companyBuyer\":true}", 422,
             "companyName");
    s_expect("{\"firstName\":\"Di\",\"lastName\":\"Ng\",\"companyName\":\"X Ltd\"}", 422,
             "companyName");
    s_expect("{\"kind\":\"organization\",\"name\":\"Sub Co\",\"companyBuyer\":true,"
             "\"companyName\":\"X\"}",
             422, "companyBuyer");
    s_expect("{\"firstName\":\"Di\",\"lastName\":\"Ng\",\"organization\":{\"id\":\"nope\"}}", 422,
             "organization.id");
    assert_int_equal(s_contacts_count(), before);

    //  Deleting the organization unlinks its people; the company buyer keeps its name.
    r = harness_http("DELETE", org_path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    r = harness_http("GET", person_path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_null(s_at(r.json, "organization"));
    assert_true(json_is_true(s_at(r.json, "companyBuyer")));
    assert_string_equal(s_str(&r, "companyName"), "Acme Fleet");
    harness_response_free(&r);
}

//  Each bad part of a profile: 422 naming the field, and nothing written.
static void test_bad_profile(void **state) {
    (void)state;
    s_create_definitions();
    long long before = s_contacts_count();
    const char *person = "\"firstName\":\"Ed\",\"lastName\":\"Ho\"";
    struct {
        const char *part, *field;
    } cases[] = {
        {"\"vehicles\":[{\"relation\":\"owned\",\"vin\":\"1HGCM82643A004352\"}]", "vehicles[0].vin"},
        {"\"vehicles\":[{\"relation\":\"owned\",\"vin\":\"1HGCM8263\"}]", "vehicles[0].vin"},
        {"\"vehicles\":[{\"relation\":\"owned\",\"vin\":\"1HGCM8263OA004352\"}]", "vehicles[0].vin"},
        {"\"vehicles\":[{\"make\":\"Kia\"}]", "vehicles[0].relation"},
        {"\"vehicles\":[{\"relation\":\"trade_in\",\"make\":\"Kia\",\"model\":\"Rio\"}]",
         "vehicles[0].year"},
        {"\"vehicles\":[{\"relation\":\"trade_in\",\"year\":2010,\"model\":\"Rio\"}]",
         "vehicles[0].make"},
        {"\"vehicles\":[{\"relation\":\"owned\",\"year\":1800}]", "vehicles[0].year"},
        {"\"vehicles\":[{\"relation\":\"owned\",\"mileage\":5000000}]", "vehicles[0].mileage"},
        {"\"vehicles\":[{\"relation\":\"spaceship\"}]", "vehicles[0].relation"},
        {"\"dateOfBirth\":\"2999-01-01\"", "dateOfBirth"},
        {"\"dateOfBirth\":\"1990-02-30\"", "dateOfBirth"},
        {"\"dateOfBirth\":\"1850-01-01\"", "dateOfBirth"},
        {"\"discountPercent\":150", "discountPercent"},
        {"\"discountPercent\":-1", "discountPercent"},
        {"\"addresses\":[{\"country\":\"USA\",\"city\":\"X\"}]", "addresses[0].country"},
        {"\"addresses\":[{\"line2\":\"Apt 4\"}]", "addresses[0]"},
        {"\"socialProfiles\":[{\"network\":\"x\"}]", "socialProfiles[0].handle"},
        {"\"socialProfiles\":[{\"handle\":\"@a\"}]", "socialProfiles[0].network"},
        {"\"assignee\":\"sam lee\"", "assignee"},
        {"\"preferredChannel\":\"pigeon\"", "preferredChannel"},
        {"\"customFields\":{\"budgt\":\"10\"}", "customFields.budgt"},
        {"\"customFields\":{\"budget\":\"ten\"}", "customFields.budget"},
        {"\"customFields\":{\"budget\":\"1e999\"}", "customFields.budget"},
        {"\"customFields\":{\"lease_end\":\"31/03/2027\"}", "customFields.lease_end"},
        {"\"customFields\":{\"fuel\":\"Steam\"}", "customFields.fuel"},
    };
    char body[1024];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(body, sizeof body, "{%s,%s}", person, cases[i].part);
        s_expect(body, 422, cases[i].field);
    }
    //  Values are text: a JSON number is malformed, and the field is named.
    snprintf(body, sizeof body, "{%s,\"customFields\":{\"budget\":10}}", person);
    s_expect(body, 400, "customFields.budget");
    //  Another tenant has none of tenant A's custom fields.
    harness_response_t r = harness_http(
        "POST", "/v1/contacts", h->key_b,
        "{\"firstName\":\"Ed\",\"lastName\":\"Ho\",\"customFields\":{\"budget\":\"1\"}}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "customFields.budget");
    harness_response_free(&r);
    assert_int_equal(s_contacts_count(), before);
}

//  The custom field catalogue: create, read, list, change, delete; values follow.
static void test_custom_fields(void **state) {
    (void)state;
    long long events_before = harness_sql_scalar(
        "SELECT count(*) FROM contacts.outbox WHERE type LIKE 'CustomField%'");
    harness_response_t r = harness_http(
        "POST", "/v1/contact-fields", h->key_a,
        "{\"key\":\"colour_pref\",\"label\":\" Colour \",\"type\":\"select\","
        "\"options\":[\"Red\",\"Blue\"]}",
        NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(s_str(&r, "label"), "Colour");
    harness_response_free(&r);

    //  Bad definitions.
    const char *bad[][2] = {
        {"{\"key\":\"colour_pref\",\"label\":\"Again\",\"type\":\"text\"}", "key"},
        {"{\"key\":\"Bad Key\",\"label\":\"L\",\"type\":\"text\"}", "key"},
        {"{\"key\":\"k1\",\"label\":\"L\"}", "type"},
        {"{\"key\":\"k1\",\"label\":\"  \",\"type\":\"text\"}", "label"},
        {"{\"key\":\"k1\",\"label\":\"L\",\"type\":\"select\"}", "options"},
        {"{\"key\":\"k1\",\"label\":\"L\",\"type\":\"text\",\"options\":[\"a\"]}", "options"},
        {"{\"key\":\"k1\",\"label\":\"L\",\"type\":\"select\",\"options\":[\"a\",\"A\"]}",
         "options[1]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = harness_http("POST", "/v1/contact-fields", h->key_a, bad[i][0], NULL);
        assert_int_equal(r.status, i == 0 ? 409 : 422);
        assert_string_equal(harness_error_field(&r), bad[i][1]);
        harness_response_free(&r);
    }

    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"firstName\":\"Fa\",\"lastName\":\"Li\","
                     "\"customFields\":{\"colour_pref\":\"red\"}}",
                     NULL);
    assert_int_equal(r.status, 201);
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", harness_json_str(&r, "id"));
    assert_string_equal(s_str(&r, "customFields.colour_pref"), "Red");
    harness_response_free(&r);

    //  Options: one in use cannot go; a new one can come; the type cannot change.
    r = harness_http("PATCH", "/v1/contact-fields/colour_pref", h->key_a,
                     "{\"options\":[\"Blue\",\"Green\"]}", NULL);
    assert_int_equal(r.status, 409);
    assert_string_equal(harness_error_field(&r), "options");
    harness_response_free(&r);
    r = harness_http("PATCH", "/v1/contact-fields/colour_pref", h->key_a,
                     "{\"options\":[\"Red\",\"Green\"],\"label\":\"Colour preference\"}", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(s_str(&r, "options[1]"), "Green");
    assert_string_equal(s_str(&r, "label"), "Colour preference");
    harness_response_free(&r);
    r = harness_http("PATCH", "/v1/contact-fields/colour_pref", h->key_a, "{\"type\":\"text\"}",
                     NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "type");
    harness_response_free(&r);

    r = harness_http("GET", "/v1/contact-fields/colour_pref", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(s_str(&r, "type"), "select");
    harness_response_free(&r);
    r = harness_http("GET", "/v1/contact-fields", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_array_size(s_at(r.json, "items")) >= 1);
    harness_response_free(&r);
    //  Another tenant sees none of them.
    r = harness_http("GET", "/v1/contact-fields/colour_pref", h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    r = harness_http("DELETE", "/v1/contact-fields/colour_pref", h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);

    //  Deleting the field removes the contact's value.
    r = harness_http("DELETE", "/v1/contact-fields/colour_pref", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_null(s_at(r.json, "customFields.colour_pref"));
    harness_response_free(&r);
    r = harness_http("GET", "/v1/contact-fields/colour_pref", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);

    //  Created, updated, deleted: three events.
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.outbox"
                                        " WHERE type LIKE 'CustomField%'"),
                     events_before + 3);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.outbox"
                                        " WHERE type = 'CustomFieldDeleted'"
                                        " AND aggregate_id = 'field:colour_pref'"),
                     1);
}

//  Phone types of the tenant's own: used on phones, refused while in use.
static void test_phone_types(void **state) {
    (void)state;
    harness_response_t r =
        harness_http("POST", "/v1/phone-types", h->key_a, "{\"name\":\" Fleet desk \"}", NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(s_str(&r, "name"), "Fleet desk");
    harness_response_free(&r);
    r = harness_http("POST", "/v1/phone-types", h->key_a, "{\"name\":\"FLEET DESK\"}", NULL);
    assert_int_equal(r.status, 409);
    assert_string_equal(harness_error_field(&r), "name");
    harness_response_free(&r);
    r = harness_http("POST", "/v1/phone-types", h->key_a, "{\"name\":\"Mobile\"}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "name");
    harness_response_free(&r);

    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"firstName\":\"Gi\",\"lastName\":\"Oh\","
                     "\"phones\":[{\"number\":\"2025550131\",\"customType\":\"fleet DESK\"}]}",
                     NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(s_str(&r, "phones[0].customType"), "Fleet desk");
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);

    r = harness_http("DELETE", "/v1/phone-types/fleet%20desk", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 409);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/phone-types", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    bool listed = false;
    for (size_t i = 0; i < json_array_size(s_at(r.json, "items")); i++)
        listed |= strcmp(json_string_value(json_object_get(
                             json_array_get(s_at(r.json, "items"), i), "name")),
                         "Fleet desk") == 0;
    assert_true(listed);
    harness_response_free(&r);

    r = harness_http("PATCH", path, h->key_a, "{\"phones\":[{\"number\":\"2025550131\"}]}", NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = harness_http("DELETE", "/v1/phone-types/fleet%20desk", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    r = harness_http("DELETE", "/v1/phone-types/fleet%20desk", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
}

//  The audit trail: every change with who, when, which fields, old and new values,
//  whatever made it (the API, the tag catalogue, a bulk change).
static void test_audit_trail(void **state) {
    (void)state;
    harness_response_t r = harness_http("POST", "/v1/tags", h->key_a, "{\"name\":\"Audited\"}", NULL);
    assert_int_equal(r.status, 201);
    char tag_path[128];
    snprintf(tag_path, sizeof tag_path, "/v1/tags/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"firstName\":\"Au\",\"lastName\":\"Dit\",\"tags\":[\"audited\"]}", NULL);
    assert_int_equal(r.status, 201);
    char id[64], path[128], audit[160];
    snprintf(id, sizeof id, "%s", harness_json_str(&r, "id"));
    snprintf(path, sizeof path, "/v1/contacts/%s", id);
    snprintf(audit, sizeof audit, "%s/audit", path);
    harness_response_free(&r);
    r = harness_http("PATCH", path, h->key_a,
                     "{\"type\":\"customer\",\"vehicles\":[{\"relation\":\"interest\","
                     "\"make\":\"Kia\",\"model\":\"EV6\"}]}",
                     NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = harness_http("PATCH", tag_path, h->key_a, "{\"name\":\"Audited twice\"}", NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    char body[256];
    snprintf(body, sizeof body, "{\"action\":\"assign\",\"assignee\":\"kim\",\"ids\":[\"%s\"]}", id);
    r = harness_http("POST", "/v1/contacts/bulk", h->key_a, body, NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);

    r = harness_http("GET", audit, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = s_at(r.json, "items");
    assert_int_equal(json_array_size(items), 4);
    //  Newest first: the assignment, the rename, the PATCH, the creation.
    assert_string_equal(s_str(&r, "items[0].action"), "updated");
    assert_string_equal(s_str(&r, "items[0].changes[0].field"), "assignee");
    assert_null(s_at(r.json, "items[0].changes[0].old"));
    assert_string_equal(s_str(&r, "items[0].changes[0].new"), "kim");
    assert_string_equal(s_str(&r, "items[1].changes[0].field"), "tags");
    assert_string_equal(s_str(&r, "items[1].changes[0].old"), "[\"Audited\"]");
    assert_string_equal(s_str(&r, "items[1].changes[0].new"), "[\"Audited twice\"]");
    assert_string_equal(s_str(&r, "items[2].changes[0].field"), "type");
    assert_string_equal(s_str(&r, "items[2].changes[0].old"), "prospect");
    assert_string_equal(s_str(&r, "items[2].changes[0].new"), "customer");
    assert_string_equal(s_str(&r, "items[2].changes[1].field"), "vehicles");
    assert_string_equal(s_str(&r, "items[3].action"), "created");
    for (size_t i = 0; i < 4; i++) {
        char member[32];
        snprintf(member, sizeof member, "items[%zu].actorId", i);
        assert_true(strlen(s_str(&r, member)) > 0);
        snprintf(member, sizeof member, "items[%zu].at", i);
        assert_true(strlen(s_str(&r, member)) > 0);
    }
    harness_response_free(&r);

    //  Paging, and another tenant sees nothing.
    char page[256];
    snprintf(page, sizeof page, "%s?limit=3", audit);
    r = harness_http("GET", page, h->key_a, NULL, NULL);
    assert_int_equal(json_array_size(s_at(r.json, "items")), 3);
    char cursor[32];
    snprintf(cursor, sizeof cursor, "%s", s_str(&r, "nextCursor"));
    harness_response_free(&r);
    snprintf(page, sizeof page, "%s?limit=3&cursor=%s", audit, cursor);
    r = harness_http("GET", page, h->key_a, NULL, NULL);
    assert_int_equal(json_array_size(s_at(r.json, "items")), 1);
    assert_string_equal(s_str(&r, "items[0].action"), "created");
    harness_response_free(&r);
    r = harness_http("GET", audit, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_profile),     cmocka_unit_test(test_sms_order),
        cmocka_unit_test(test_organization_link), cmocka_unit_test(test_bad_profile),
        cmocka_unit_test(test_custom_fields),    cmocka_unit_test(test_phone_types),
        cmocka_unit_test(test_audit_trail),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
