/*  Unit tests for the rules of a contact (services/contacts/contact.c): what a create or
    an update may hold, the field each refusal names, how the contact is normalised, and
    what the rules ask the tenant's data about. Each row of a table is an example. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../services/contacts/contacts.h"
#include "json_pb.h"

//  A contact from JSON (the API's shape).
static Crm__Contacts__Contact *s_contact(const char *json) {
    crm_json_error_t err;
    ProtobufCMessage *msg =
        crm_json_to_pb(&crm__contacts__contact__descriptor, json, strlen(json), &err);
    if (!msg)
        fail_msg("bad test JSON %s: %s %s", json, err.field, err.message);
    return (Crm__Contacts__Contact *)msg;
}

//  The fields errors name, joined by commas.
static const char *s_fields(const crm_errors_t *errors) {
    static char joined[512];
    joined[0] = 0;
    for (size_t i = 0; i < errors->n; i++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", i ? "," : "",
                 errors->items[i]->field);
    return joined;
}

#define P "\"kind\":\"person\",\"firstName\":\"Ann\",\"lastName\":\"Lee\""

//  The rules that need nothing but the request.
static const struct {
    const char *json;
    const char *refused;  // the fields named, in order ("": accepted)
} s_cases[] = {
    {"{" P "}", ""},
    {"{\"kind\":\"person\",\"lastName\":\"Lee\"}", "firstName"},
    {"{\"kind\":\"person\"}", "firstName,lastName"},
    {"{\"kind\":\"organization\"}", "name"},
    {"{\"kind\":\"organization\",\"name\":\"Acme Motors\"}", ""},
    {"{" P ",\"emails\":[{\"address\":\"ann@example.com\"}]}", ""},
    {"{" P ",\"emails\":[{\"address\":\"not an address\"}]}", "emails[0].address"},
    {"{" P ",\"emails\":[{\"address\":\"a@x.com\"},{\"address\":\"A@X.com\"}]}",
     "emails[1].address"},
    {"{" P ",\"emails\":[{\"address\":\"a@x.com\",\"primary\":true},"
     "{\"address\":\"b@x.com\",\"primary\":true}]}",
     "emails"},
    {"{" P ",\"phones\":[{\"number\":\"(202) 555-0142\"}]}", ""},
    {"{" P ",\"phones\":[{\"number\":\"12\"}]}", "phones[0].number"},
    {"{" P ",\"phones\":[{\"number\":\"(202) 555-0142\"},{\"number\":\"+1 202 555 0142\"}]}",
     "phones[1].number"},
    {"{" P ",\"phones\":[{\"number\":\"(202) 555-0142\",\"smsRank\":1}]}",
     "phones[0].smsRank"},
    {"{" P ",\"tags\":[\"\"]}", "tags[0]"},
    {"{" P ",\"addresses\":[{\"country\":\"US\"}]}", "addresses[0]"},
    {"{" P ",\"addresses\":[{\"city\":\"Austin\",\"country\":\"USA\"}]}",
     "addresses[0].country"},
    {"{" P ",\"vehicles\":[{\"relation\":\"owned\",\"year\":1885}]}", "vehicles[0].year"},
    {"{" P ",\"vehicles\":[{\"relation\":\"trade_in\"}]}",
     "vehicles[0].year,vehicles[0].make,vehicles[0].model"},
    {"{" P ",\"vehicles\":[{\"relation\":\"owned\",\"vin\":\"1HGCM82633A004353\"}]}",
     "vehicles[0].vin"},
    {"{" P ",\"vehicles\":[{\"year\":2020}]}", "vehicles[0].relation"},
    {"{" P ",\"dateOfBirth\":\"1899-12-31\"}", "dateOfBirth"},
    {"{" P ",\"discountPercent\":101}", "discountPercent"},
    {"{" P ",\"assignee\":\"rep one\"}", "assignee"},
    {"{" P ",\"companyName\":\"Acme\"}", "companyName"},
    {"{\"kind\":\"organization\",\"name\":\"Acme\",\"organization\":"
     "{\"id\":\"0190a5e2-7c1f-7d2e-9a4b-1c2d3e4f5a6b\"}}",
     "organization"},
    {"{" P ",\"organization\":{\"id\":\"nope\"}}", "organization.id"},
    {"{" P ",\"socialProfiles\":[{\"handle\":\"@ann\"}]}", "socialProfiles[0].network"},
};

static void test_rules_of_the_request(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        Crm__Contacts__Contact *c = s_contact(s_cases[i].json);
        crm_errors_t errors = {0};
        contacts_lookup_t lookup = {0};
        int rc = contacts_contact_check(c, "US", "", &errors, &lookup);
        if (strcmp(s_fields(&errors), s_cases[i].refused) != 0)
            fail_msg("case %zu %s: refused [%s], expected [%s]", i, s_cases[i].json,
                     s_fields(&errors), s_cases[i].refused);
        assert_int_equal(rc, s_cases[i].refused[0] ? -1 : 0);
        crm_errors_reset(&errors);
        contacts_lookup_reset(&lookup);
        crm__contacts__contact__free_unpacked(c, NULL);
    }
}

//  Normalised in place: defaults, E.164, the first line primary, the SMS order, the
//  VIN in upper case, the country in upper case; the name derived when rendered.
static void test_normalised(void **state) {
    (void)state;
    Crm__Contacts__Contact *c = s_contact(
        "{\"firstName\":\"Ann\",\"lastName\":\"Lee\","
        "\"phones\":[{\"number\":\"(202) 555-0142\",\"sms\":true},"
        "{\"number\":\"202 555 0143\",\"sms\":true}],"
        "\"emails\":[{\"address\":\"Ann@Example.com\"}],"
        "\"addresses\":[{\"city\":\"Austin\",\"country\":\"us\"}],"
        "\"vehicles\":[{\"relation\":\"interest\",\"vin\":\"1hgcm82633a004352\"}]}");
    crm_errors_t errors = {0};
    contacts_lookup_t lookup = {0};
    assert_int_equal(contacts_contact_check(c, "US", "", &errors, &lookup), 0);
    assert_int_equal(c->kind, CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_PERSON);
    assert_int_equal(c->type, CRM__CONTACTS__CONTACT_TYPE__CONTACT_TYPE_PROSPECT);
    assert_string_equal(c->phones[0]->number, "+12025550142");
    assert_true(c->phones[0]->primary);
    assert_false(c->phones[1]->primary);
    assert_int_equal(c->phones[0]->sms_rank, 1);
    assert_int_equal(c->phones[1]->sms_rank, 2);
    assert_true(c->emails[0]->primary);
    assert_string_equal(c->addresses[0]->country, "US");
    assert_string_equal(c->vehicles[0]->vin, "1HGCM82633A004352");
    assert_int_equal(contacts_contact_check_known(c, "", &lookup, &errors), 0);
    contacts_row_t row = {0};
    contacts_row_names_t names;
    contacts_contact_render(c, &row, &names);
    assert_string_equal(row.name, "Ann Lee");
    assert_string_equal(row.kind, "person");
    assert_string_equal(row.type, "prospect");
    assert_string_equal(row.email_keys_array, "{\"ann@example.com\"}");
    contacts_row_reset(&row);
    contacts_lookup_reset(&lookup);
    crm__contacts__contact__free_unpacked(c, NULL);
}

//  The questions for the store, and the rules applied to its answers.
static void test_asks_the_store(void **state) {
    (void)state;
    Crm__Contacts__Contact *c = s_contact(
        "{\"firstName\":\"Ann\",\"lastName\":\"Lee\",\"tags\":[\"vip\",\"VIP\",\"nope\"],"
        "\"phones\":[{\"number\":\"(202) 555-0142\",\"customType\":\"Work cell\"}],"
        "\"organization\":{\"id\":\"0190A5E2-7C1F-7D2E-9A4B-1C2D3E4F5A6B\"},"
        "\"customFields\":{\"budget\":\"1e3\",\"colour\":\"RED\",\"other\":\"x\"}}");
    crm_errors_t errors = {0};
    contacts_lookup_t lookup = {0};
    assert_int_equal(contacts_contact_check(c, "US", "", &errors, &lookup), 0);
    assert_int_equal(lookup.tags.n, 3);
    assert_string_equal(lookup.tags.names[1], "VIP");
    assert_int_equal(lookup.phone_types.n, 1);
    assert_string_equal(lookup.phone_types.names[0], "Work cell");
    assert_string_equal(lookup.organization_id, "0190a5e2-7c1f-7d2e-9a4b-1c2d3e4f5a6b");
    assert_int_equal(lookup.fields.n, 3);
    //  The store's answers: two tags known (the catalogue spells it "VIP"), the phone
    //  type known, the organization a person, two fields defined.
    lookup.tags.answers[0] = strdup("VIP");
    lookup.tags.answers[1] = strdup("VIP");
    lookup.phone_types.answers[0] = strdup("work cell");
    strcpy(lookup.organization_kind, "person");
    for (size_t k = 0; k < lookup.fields.n; k++) {
        if (strcmp(lookup.fields.names[k], "budget") == 0)
            lookup.fields.answers[k] = strdup("number []");
        else if (strcmp(lookup.fields.names[k], "colour") == 0)
            lookup.fields.answers[k] = strdup("select [\"Red\",\"Blue\"]");
    }
    assert_int_equal(contacts_contact_check_known(c, "", &lookup, &errors), -1);
    assert_string_equal(s_fields(&errors), "tags[2],organization.id,customFields.other");
    assert_string_equal(errors.items[0]->message,
                        "is not in the tag catalogue (create it with POST /v1/tags)");
    assert_string_equal(errors.items[1]->message, "is a person, not an organization");
    assert_int_equal(c->n_tags, 2);  // "vip" and "VIP" are one tag
    assert_string_equal(c->tags[0], "VIP");
    assert_string_equal(c->phones[0]->custom_type, "work cell");
    for (size_t i = 0; i < c->n_custom_fields; i++) {
        if (strcmp(c->custom_fields[i]->key, "budget") == 0)
            assert_string_equal(c->custom_fields[i]->value, "1000");
        if (strcmp(c->custom_fields[i]->key, "colour") == 0)
            assert_string_equal(c->custom_fields[i]->value, "Red");
    }
    crm_errors_reset(&errors);
    contacts_lookup_reset(&lookup);
    crm__contacts__contact__free_unpacked(c, NULL);
}

//  Tags are not looked up while the request has other errors.
static void test_no_questions_for_a_broken_request(void **state) {
    (void)state;
    Crm__Contacts__Contact *c = s_contact("{\"kind\":\"person\",\"tags\":[\"vip\"]}");
    crm_errors_t errors = {0};
    contacts_lookup_t lookup = {0};
    assert_int_equal(contacts_contact_check(c, "US", "", &errors, &lookup), -1);
    assert_int_equal(lookup.tags.n, 0);
    crm_errors_reset(&errors);
    contacts_lookup_reset(&lookup);
    crm__contacts__contact__free_unpacked(c, NULL);
}

static void test_match_check(void **state) {
    (void)state;
    char email[320], phone[32];
    crm_errors_t errors = {0};
    Crm__Contacts__MatchContactRequest req = CRM__CONTACTS__MATCH_CONTACT_REQUEST__INIT;
    req.email = "Ann@Example.COM";
    req.phone = "(202) 555-0142";
    assert_int_equal(contacts_match_check(&req, "US", email, sizeof email, phone, sizeof phone,
                                          &errors),
                     0);
    assert_string_equal(email, "ann@example.com");
    assert_string_equal(phone, "+12025550142");
    req.email = "";
    req.phone = "";
    assert_int_equal(contacts_match_check(&req, "US", email, sizeof email, phone, sizeof phone,
                                          &errors),
                     -1);
    assert_string_equal(s_fields(&errors), "email");
    crm_errors_reset(&errors);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_of_the_request),
        cmocka_unit_test(test_normalised),
        cmocka_unit_test(test_asks_the_store),
        cmocka_unit_test(test_no_questions_for_a_broken_request),
        cmocka_unit_test(test_match_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
