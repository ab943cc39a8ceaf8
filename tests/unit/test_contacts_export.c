/*  Unit tests for the exports' rules (services/contacts/export.c): which fields an
    export may name and how XLSX writes each, the default columns, CreateExport's own
    checks and the file's name. Each table row is an example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../services/contacts/export.h"

static const struct {
    const char *names[6];
    const char *kinds;   //  one letter a column: t(ext) n(umber) d(ate) D(atetime) b(ool)
    const char *fields;  //  the fields refused, in order ("": none)
} s_cases[] = {
    {{"id", "name", "email", "tags"}, "tttt", ""},
    {{"supplier", "leadCount", "dateOfBirth", "createdAt"}, "bndD", ""},
    {{"discountPercent", "companyBuyer", "address.postcode"}, "nbt", ""},
    //  A custom field's column is text until its definition says otherwise.
    {{"customFields.trim_level", "email"}, "tt", ""},
    {{"customFields.", "email"}, "tt", "fields[0]"},
    {{"nickname"}, "t", "fields[0]"},
    {{"email", "phone", "email"}, "ttt", "fields[2]"},
    {{"Email", "address.street"}, "tt", "fields[0],fields[1]"},
};

static char s_kind_letter(contacts_export_kind_t kind) {
    static const char letters[] = {[CONTACTS_EXPORT_TEXT] = 't',
                                   [CONTACTS_EXPORT_NUMBER] = 'n',
                                   [CONTACTS_EXPORT_DATE] = 'd',
                                   [CONTACTS_EXPORT_DATETIME] = 'D',
                                   [CONTACTS_EXPORT_BOOL] = 'b'};
    return letters[kind];
}

static void test_columns(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof *s_cases; i++) {
        size_t n = 0;
        while (n < 6 && s_cases[i].names[n])
            n++;
        contacts_export_column_t columns[6];
        crm_errors_t errors = {0};
        contacts_export_columns((char **)s_cases[i].names, n, columns, &errors);
        char kinds[8] = "", fields[128] = "";
        for (size_t c = 0; c < n; c++)
            kinds[c] = s_kind_letter(columns[c].kind);
        for (size_t e = 0; e < errors.n; e++)
            snprintf(fields + strlen(fields), sizeof fields - strlen(fields), "%s%s",
                     e ? "," : "", errors.items[e]->field);
        if (strcmp(kinds, s_cases[i].kinds) != 0 || strcmp(fields, s_cases[i].fields) != 0)
            fail_msg("case %zu (%s...): kinds [%s] refused [%s], expected [%s] [%s]", i,
                     s_cases[i].names[0], kinds, fields, s_cases[i].kinds, s_cases[i].fields);
        crm_errors_reset(&errors);
    }
}

//  A custom field's column: its key, and its kind by the definition's type.
static void test_custom_columns(void **state) {
    (void)state;
    char *names[] = {"customFields.trim_level", "customFields.budget", "customFields.delivery"};
    contacts_export_column_t columns[3];
    contacts_export_columns(names, 3, columns, NULL);
    assert_string_equal(columns[0].key, "trim_level");
    assert_false(columns[0].catalogue);
    contacts_export_column_type(&columns[0], "select");
    contacts_export_column_type(&columns[1], "number");
    contacts_export_column_type(&columns[2], "date");
    assert_int_equal(columns[0].kind, CONTACTS_EXPORT_TEXT);
    assert_int_equal(columns[1].kind, CONTACTS_EXPORT_NUMBER);
    assert_int_equal(columns[2].kind, CONTACTS_EXPORT_DATE);
    //  Without errors to fill (the runner), an unknown name is a text column.
    char *unknown[] = {"nickname"};
    contacts_export_columns(unknown, 1, columns, NULL);
    assert_int_equal(columns[0].kind, CONTACTS_EXPORT_TEXT);
    assert_null(columns[0].key);
}

//  CreateExport: a format is required; no fields means the list's columns; at most 200.
static void test_create_check(void **state) {
    (void)state;
    Crm__Contacts__CreateExportRequest req = CRM__CONTACTS__CREATE_EXPORT_REQUEST__INIT;
    crm_errors_t errors = {0};
    assert_int_equal(contacts_export_create_check(&req, &errors), 0);
    assert_int_equal(errors.n, 1);
    assert_string_equal(errors.items[0]->field, "format");
    assert_int_equal(req.n_fields, 13);
    assert_string_equal(req.fields[0], "id");
    assert_string_equal(req.fields[12], "createdAt");
    for (size_t i = 0; i < req.n_fields; i++)
        free(req.fields[i]);
    free(req.fields);
    crm_errors_reset(&errors);

    char *many[EXPORT_MAX_FIELDS + 1];
    for (size_t i = 0; i <= EXPORT_MAX_FIELDS; i++)
        many[i] = "id";
    req.format = CRM__CONTACTS__EXPORT_FORMAT__EXPORT_FORMAT_CSV;
    req.fields = many;
    req.n_fields = EXPORT_MAX_FIELDS + 1;
    assert_int_equal(contacts_export_create_check(&req, &errors), -1);
    assert_int_equal(errors.n, 1);
    assert_string_equal(errors.items[0]->field, "fields");
    crm_errors_reset(&errors);
}

static void test_file_name(void **state) {
    (void)state;
    Crm__Contacts__CreateExportRequest req = CRM__CONTACTS__CREATE_EXPORT_REQUEST__INIT;
    char name[96];
    req.format = CRM__CONTACTS__EXPORT_FORMAT__EXPORT_FORMAT_CSV;
    contacts_export_file_name(&req, "2026-11-22T10:05:09.123456Z", name, sizeof name);
    assert_string_equal(name, "contacts-20261122-100509.csv");
    req.format = CRM__CONTACTS__EXPORT_FORMAT__EXPORT_FORMAT_XLSX;
    req.marketing = true;
    contacts_export_file_name(&req, "2026-11-22T10:05:09Z", name, sizeof name);
    assert_string_equal(name, "contacts-marketing-20261122-100509.xlsx");
    assert_string_equal(contacts_export_format_name(&req), "xlsx");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_custom_columns),
        cmocka_unit_test(test_create_check),
        cmocka_unit_test(test_file_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
