/*  Unit tests for the CSV import's rules (services/contacts/import.c): how a file's
    headers map to contact fields (the default mapping, an explicit one, headers that
    map to nothing), how a CSV row becomes a contact (booleans, tag lists, years, and
    errors naming the row's column), the duplicate policy, how an update merges a row,
    and the requests' checks. Each table row is an example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../services/contacts/import.h"
#include "json_pb.h"

//  The rules free a row's rendering for the store (the contact store's, not under test;
//  these tests never fill it).
void contacts_row_reset(contacts_row_t *row) {
    (void)row;
}

//  A record of up to 8 fields.
typedef struct {
    const char *fields[8];
    size_t lengths[8];
    crm_csv_record_t rec;
} s_record_t;

static const crm_csv_record_t *s_record(s_record_t *r, size_t row, const char *const *fields) {
    size_t n = 0;
    while (n < 8 && fields[n]) {
        r->fields[n] = fields[n];
        r->lengths[n] = strlen(fields[n]);
        n++;
    }
    r->rec = (crm_csv_record_t){.fields = r->fields, .lengths = r->lengths, .count = n,
                                .row = row, .line = row};
    return &r->rec;
}

//  The mapping of headers (explicit: a JSON object or NULL), as "field,field,...", or
//  the error.
static void s_map(const char *const *headers, const char *explicit_json, char *out, size_t size) {
    s_record_t r;
    contacts_import_mapping_t m = {0};
    json_t *explicit = explicit_json ? json_loads(explicit_json, 0, NULL) : json_object();
    char error[1024] = "";
    if (contacts_import_mapping_resolve(&m, explicit, s_record(&r, 1, headers), error,
                                        sizeof error)) {
        snprintf(out, size, "error: %s", error);
    } else {
        json_t *shown = contacts_import_mapping_json(&m);
        out[0] = 0;
        for (size_t i = 0; i < m.count; i++)
            snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "",
                     json_string_value(json_object_get(shown, m.columns[i].header)));
        json_decref(shown);
    }
    json_decref(explicit);
    contacts_import_mapping_reset(&m);
}

static const struct {
    const char *headers[8];
    const char *explicit;  //  JSON object, or NULL
    const char *expected;  //  the fields, or "error: " and the start of the sentence
} s_mappings[] = {
    //  The default mapping: case, spaces and punctuation ignored; aliases.
    {{"First Name", "Last Name", "E-mail", "Mobile"}, NULL, "firstName,lastName,email,phone"},
    {{"email address", "CELL", "Work Phone", "home phone"}, NULL,
     "email,phone,workPhone,homePhone"},
    {{"Zip", "State", "Town", "Street Address"}, NULL,
     "address.postcode,address.region,address.city,address.line1"},
    {{"Make", "Model", "Model Year", "VIN"}, NULL,
     "vehicle.make,vehicle.model,vehicle.year,vehicle.vin"},
    {{"Lead Source", "Tags", "Vendor", "DOB"}, NULL, "source,tags,supplier,dateOfBirth"},
    {{"firstName", "customFields.trim_level"}, NULL, "firstName,customFields.trim_level"},
    //  Explicit mappings win, match headers whatever their case and spaces, may ignore.
    {{"Given", "Colour"}, "{\"given\": \"firstName\", \"Colour\": \"-\"}", "firstName,-"},
    {{"Email", "Other Email"}, "{\"Other Email\": \"customFields.email2\"}",
     "email,customFields.email2"},
    {{"Phone", "Mobile"}, "{\"Phone\": \"homePhone\"}", "homePhone,phone"},
    //  Unknown headers, and mappings that cannot be.
    {{"First Name", "Favourite Colour"}, NULL,
     "error: column 2 (\"Favourite Colour\") is not mapped to a contact field"},
    {{"First Name", ""}, NULL, "error: column 2 has no header"},
    {{"Email", "E-Mail"}, NULL,
     "error: columns 1 (\"Email\") and 2 (\"E-Mail\") both map to email"},
    {{"Given"}, "{\"Given\": \"nickname\"}",
     "error: the mapping of column 1 (\"Given\") names \"nickname\", which is not a contact "
     "field"},
    {{"Given"}, "{\"Given\": \"firstName\", \"Surname\": \"lastName\"}",
     "error: the mapping names the column \"Surname\", which the file does not have"},
};

static void test_header_mapping(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_mappings / sizeof *s_mappings; i++) {
        char got[2048];
        s_map(s_mappings[i].headers, s_mappings[i].explicit, got, sizeof got);
        if (strncmp(got, s_mappings[i].expected, strlen(s_mappings[i].expected)) != 0)
            fail_msg("case %zu (%s...): got [%s], expected [%s]", i, s_mappings[i].headers[0],
                     got, s_mappings[i].expected);
    }
}

//  A row of a file with these headers, turned into a contact: the contact's JSON (NULL
//  when refused), with the members the row gave under "given" (proto3's JSON leaves a
//  false or empty value out of the contact), and the row's first error as "field:
//  message" in error.
static json_t *s_row(const char *const *headers, const char *const *cells, char *error,
                     size_t size) {
    s_record_t h, r;
    contacts_import_mapping_t m = {0};
    json_t *none = json_object();
    char map_error[512];
    assert_int_equal(contacts_import_mapping_resolve(&m, none, s_record(&h, 1, headers),
                                                     map_error, sizeof map_error),
                     0);
    json_decref(none);
    contacts_import_row_t *row = contacts_import_row_new(2);
    json_t *given = NULL;
    Crm__Contacts__Contact *c =
        contacts_import_row_contact(row, &m, s_record(&r, 2, cells), &given);
    snprintf(error, size, "%s%s%s", row->n_errors ? row->errors[0].field : "",
             row->n_errors ? ": " : "", row->n_errors ? row->errors[0].message : "");
    json_t *out = NULL;
    if (c) {
        out = crm_pb_to_json_value(&c->base);
        json_object_set(out, "given", given);
        contacts_import_row_take(row, c, given);
    }
    contacts_import_row_destroy(&row);
    contacts_import_mapping_reset(&m);
    return out;
}

static const struct {
    const char *cells[8];
    const char *member;    //  a member of the contact's JSON
    const char *expected;  //  its value as compact JSON, or the row's first error
} s_rows[] = {
    //  Booleans: yes/no, true/false, 1/0, y/n, x.
    {{"Ann", "yes", "", ""}, "supplier", "true"},
    {{"Ann", "X", "", ""}, "supplier", "true"},
    {{"Ann", "False", "", ""}, "given.supplier", "false"},
    {{"Ann", "0", "", ""}, "given.supplier", "false"},
    {{"Ann", "maybe", "", ""}, NULL, "Vendor (supplier): must be yes or no (true/false, 1/0)"},
    //  Tag lists: ; or | between, each trimmed, empty ones dropped.
    {{"Ann", "", "vip; trade-in | | service", ""}, "tags", "[\"vip\",\"trade-in\",\"service\"]"},
    {{"Ann", "", "vip", ""}, "tags", "[\"vip\"]"},
    //  The vehicle's year must be a whole number, named by its column.
    {{"Ann", "", "", "2024"}, "vehicles", "[{\"relation\":\"interest\",\"year\":2024}]"},
    {{"Ann", "", "", "20x4"}, NULL,
     "Model Year (vehicles[0].year): must be a year (a whole number such as 2024)"},
    //  Cells are trimmed; an empty cell gives nothing; the source is "import" unless given.
    {{"  Ann  ", "", "", ""}, "firstName", "\"Ann\""},
    {{"Ann", "", "", ""}, "source", "\"import\""},
    //  A row of another width than the header.
    {{"Ann", "yes", "vip"}, NULL, "row: has 3 fields where the header has 4"},
};

static void test_row_to_contact(void **state) {
    (void)state;
    static const char *const headers[] = {"First Name", "Vendor", "Tags", "Model Year", NULL};
    for (size_t i = 0; i < sizeof s_rows / sizeof *s_rows; i++) {
        char error[512];
        json_t *contact = s_row(headers, s_rows[i].cells, error, sizeof error);
        char got[512] = "";
        if (contact && s_rows[i].member) {
            const char *member = s_rows[i].member;
            json_t *from = contact;
            if (strncmp(member, "given.", 6) == 0) {
                from = json_object_get(contact, "given");
                member += 6;
            }
            char *text = json_dumps(json_object_get(from, member), JSON_COMPACT | JSON_ENCODE_ANY);
            snprintf(got, sizeof got, "%s", text ? text : "(none)");
            free(text);
        } else
            snprintf(got, sizeof got, "%s", error);
        if (strcmp(got, s_rows[i].expected) != 0)
            fail_msg("row case %zu: got [%s], expected [%s]", i, got, s_rows[i].expected);
        json_decref(contact);
    }
}

//  The email is the primary one; the phones keep their types; the match keys are the
//  lower-case address and the number as given (the contact rules normalise it later).
static void test_row_contact_points(void **state) {
    (void)state;
    static const char *const headers[] = {"Email", "Mobile", "Work Phone", NULL};
    static const char *const cells[] = {"Ann.Lee@Example.com", "202 555 0142", "202 555 0199",
                                        NULL};
    char error[256];
    json_t *contact = s_row(headers, cells, error, sizeof error);
    assert_non_null(contact);
    assert_string_equal(error, "");
    json_t *email = json_array_get(json_object_get(contact, "emails"), 0);
    assert_string_equal(json_string_value(json_object_get(email, "address")),
                        "Ann.Lee@Example.com");
    assert_true(json_is_true(json_object_get(email, "primary")));
    json_t *phones = json_object_get(contact, "phones");
    assert_int_equal(json_array_size(phones), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(phones, 1), "type")),
                        "work");
    json_decref(contact);
}

//  An error the contact rules find on a contact path is named by the column it came from.
static void test_row_error_names_column(void **state) {
    (void)state;
    static const char *const headers[] = {"E-mail", "Cell", "Office Phone", "Zip", NULL};
    static const char *const cells[] = {"a@example.com", "1", "2", "62701", NULL};
    s_record_t h, r;
    contacts_import_mapping_t m = {0};
    json_t *none = json_object();
    char error[256];
    int rc = contacts_import_mapping_resolve(&m, none, s_record(&h, 1, headers), error,
                                             sizeof error);
    assert_int_equal(rc, 0);
    contacts_import_row_t *row = contacts_import_row_new(7);
    json_t *given = NULL;
    Crm__Contacts__Contact *c =
        contacts_import_row_contact(row, &m, s_record(&r, 7, cells), &given);
    assert_non_null(c);
    contacts_import_row_take(row, c, given);
    static const struct {
        const char *path, *field;
    } cases[] = {
        {"emails[0].address", "E-mail (emails[0].address)"},
        {"phones[1].number", "Office Phone (phones[1].number)"},
        {"phones[0]", "Cell (phones[0])"},
        {"addresses[0].postcode", "Zip (addresses[0].postcode)"},
        {"lastName", "lastName"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        contacts_import_row_error(row, &m, cases[i].path, "is wrong");
        assert_string_equal(row->errors[i].field, cases[i].field);
    }
    contacts_import_row_destroy(&row);
    contacts_import_mapping_reset(&m);
    json_decref(none);
}

static const struct {
    const char *policy, *matched_on, *contact_id;
    const char *action, *error;  //  the decision, and the row's error if any
} s_decisions[] = {
    {"skip", "", "", "create", ""},
    {"skip", "email", "c1", "skip", ""},
    {"update", "phone", "c1", "update", ""},
    {"create", "phone", "c1", "create", ""},
    {"create", "email", "c1", "error", "is already used by contact c1"},
    {"create", "email, row 5", "", "error", "is already used by an earlier row: row 5"},
};

static void test_duplicate_policy(void **state) {
    (void)state;
    contacts_import_mapping_t m = {0};
    for (size_t i = 0; i < sizeof s_decisions / sizeof *s_decisions; i++) {
        contacts_import_row_t *row = contacts_import_row_new(2);
        Crm__Contacts__Contact *c = malloc(sizeof *c);
        crm__contacts__contact__init(c);
        c->id = strdup("new-id");
        row->c = c;
        snprintf(row->matched_on, sizeof row->matched_on, "%s", s_decisions[i].matched_on);
        snprintf(row->contact_id, sizeof row->contact_id, "%s", s_decisions[i].contact_id);
        contacts_import_row_decide(row, &m, s_decisions[i].policy);
        assert_string_equal(row->action, s_decisions[i].action);
        assert_string_equal(row->n_errors ? row->errors[0].message : "", s_decisions[i].error);
        if (strcmp(row->action, "create") == 0)
            assert_string_equal(row->contact_id, "new-id");
        contacts_import_row_destroy(&row);
    }
}

//  An update replaces what the row gave and adds to the contact's lists.
static void test_update_merge(void **state) {
    (void)state;
    contacts_import_row_t *row = contacts_import_row_new(2);
    static const char normalised[] =
        "{\"firstName\":\"Ann\",\"tags\":[\"VIP\",\"service\"],"
        "\"emails\":[{\"address\":\"b@example.com\",\"primary\":true}]}";
    crm_json_error_t err;
    row->c = (Crm__Contacts__Contact *)crm_json_to_pb(&crm__contacts__contact__descriptor,
                                                      normalised, strlen(normalised), &err);
    assert_non_null(row->c);
    row->given = json_pack("{s:s, s:[s,s], s:[{s:s}]}", "firstName", "Ann", "tags", "VIP",
                           "service", "emails", "address", "b@example.com");
    snprintf(row->contact_id, sizeof row->contact_id, "c1");
    json_t *have = json_loads("{\"firstName\":\"Anne\",\"lastName\":\"Lee\",\"tags\":[\"vip\"],"
                              "\"emails\":[{\"address\":\"a@example.com\",\"primary\":true}]}",
                              0, NULL);
    json_t *req = contacts_import_update_request(row, have);
    json_t *contact = json_object_get(req, "contact");
    assert_string_equal(json_string_value(json_object_get(req, "id")), "c1");
    assert_string_equal(json_string_value(json_object_get(contact, "firstName")), "Ann");
    assert_string_equal(json_string_value(json_object_get(contact, "lastName")), "Lee");
    char *tags = json_dumps(json_object_get(contact, "tags"), JSON_COMPACT);
    assert_string_equal(tags, "[\"vip\",\"service\"]");  //  VIP is there already
    free(tags);
    json_t *emails = json_object_get(contact, "emails");
    assert_int_equal(json_array_size(emails), 2);
    assert_null(json_object_get(json_array_get(emails, 1), "primary"));  //  added, not primary
    assert_int_equal(json_array_size(json_object_get(req, "updateMask")), 3);
    json_decref(req);
    contacts_import_row_destroy(&row);
}

//  The requests' checks: the fields each refusal names.
static void test_request_checks(void **state) {
    (void)state;
    static const struct {
        const char *encoding, *delimiter, *fields;
    } cases[] = {
        {"", "", ""},
        {"UTF-8", ";", ""},
        {"latin1", "tab", ""},
        {"utf-16", "", "encoding"},
        {"", "|", "delimiter"},
        {"ebcdic", ":", "encoding,delimiter"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Crm__Contacts__CreateImportRequest req = CRM__CONTACTS__CREATE_IMPORT_REQUEST__INIT;
        req.encoding = (char *)cases[i].encoding;
        req.delimiter = (char *)cases[i].delimiter;
        crm_errors_t errors = {0};
        contacts_import_create_check(&req, &errors);
        char fields[128] = "";
        for (size_t e = 0; e < errors.n; e++)
            snprintf(fields + strlen(fields), sizeof fields - strlen(fields), "%s%s",
                     e ? "," : "", errors.items[e]->field);
        assert_string_equal(fields, cases[i].fields);
        crm_errors_reset(&errors);
    }
    crm_errors_t errors = {0};
    contacts_import_mapping_entry_check(&errors, "mapping", "Colour", "favouriteColour");
    contacts_import_mapping_entry_check(&errors, "mapping", "Given", "firstName");
    contacts_import_mapping_entry_check(&errors, "mapping", "Trim", "customFields.trim");
    contacts_import_mapping_entry_check(&errors, "mapping", "", "firstName");
    assert_int_equal(errors.n, 2);
    assert_string_equal(errors.items[0]->field, "mapping.Colour");
    assert_string_equal(errors.items[1]->field, "mapping.");
    crm_errors_reset(&errors);
    Crm__Contacts__AddImportPartRequest part = CRM__CONTACTS__ADD_IMPORT_PART_REQUEST__INIT;
    contacts_import_part_check(&part, &errors);
    assert_int_equal(errors.n, 2);  //  part and data are required
    crm_errors_reset(&errors);
}

//  The template: its columns, an example row, then the tenant's custom fields.
static void test_template(void **state) {
    (void)state;
    static const char *const keys[] = {"trim_level"};
    Crm__Contacts__ImportTemplate *t = contacts_import_template_new(keys, 1);
    assert_non_null(strstr(t->content, "First Name,Last Name,Type,Email,Phone,"));
    assert_non_null(strstr(t->content, ",customFields.trim_level\r\nAnn,Lee,prospect,"));
    assert_string_equal(t->fields[0], "firstName");
    assert_string_equal(t->fields[t->n_fields - 1], "customFields.<key>");
    crm__contacts__import_template__free_unpacked(t, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_mapping),      cmocka_unit_test(test_row_to_contact),
        cmocka_unit_test(test_row_contact_points),  cmocka_unit_test(test_row_error_names_column),
        cmocka_unit_test(test_duplicate_policy),    cmocka_unit_test(test_update_merge),
        cmocka_unit_test(test_request_checks),      cmocka_unit_test(test_template),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
