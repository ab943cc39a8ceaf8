/*  Unit tests for the rules of the tenant's definitions (services/contacts/field.c):
    custom fields (key, label, type, options) and phone types, and the field each refusal
    names. Each table row is an example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/contacts/contacts.h"

#define TEXT CRM__CONTACTS__CUSTOM_FIELD_TYPE__CUSTOM_FIELD_TYPE_TEXT
#define SELECT CRM__CONTACTS__CUSTOM_FIELD_TYPE__CUSTOM_FIELD_TYPE_SELECT
#define NONE CRM__CONTACTS__CUSTOM_FIELD_TYPE__CUSTOM_FIELD_TYPE_UNSPECIFIED

static const char *s_fields(const crm_errors_t *errors) {
    static char joined[256];
    joined[0] = 0;
    for (size_t e = 0; e < errors->n; e++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", e ? "," : "",
                 errors->items[e]->field);
    return joined;
}

static const struct {
    const char *key, *label;
    int type;
    const char *options[4]; // NULL-terminated
    const char *fields;     // the fields refused ("": accepted)
} s_cases[] = {
    {"trade_in_value", "Trade-in value", TEXT, {NULL}, ""},
    {"colour", "Colour", SELECT, {"Red", "Blue", NULL}, ""},
    {"a1", "  Label  ", TEXT, {NULL}, ""},      // label trimmed
    {"", "Label", TEXT, {NULL}, "key"},         // a key is required
    {"1st", "Label", TEXT, {NULL}, "key"},      // starts with a letter
    {"Trade", "Label", TEXT, {NULL}, "key"},    // lower case only
    {"trade-in", "Label", TEXT, {NULL}, "key"}, // letters, digits and _
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "L", TEXT, {NULL}, "key"}, // 41
    {"k", "Label", NONE, {NULL}, "type"},                                    // a type is required
    {"k", " ", TEXT, {NULL}, "label"},
    {"k", "Label", TEXT, {"a", NULL}, "options"}, // options: selects only
    {"k", "Label", SELECT, {NULL}, "options"},    // a select needs one
    {"k", "Label", SELECT, {"Red", " ", NULL}, "options[1]"},
    {"k", "Label", SELECT, {"Red", "red", NULL}, "options[1]"}, // twice, any case
    {"", "", NONE, {NULL}, "key,type,label"},
};

static void test_field_create(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        Crm__Contacts__CustomField f = CRM__CONTACTS__CUSTOM_FIELD__INIT;
        f.key = (char *)s_cases[i].key;
        f.label = strdup(s_cases[i].label);
        f.type = s_cases[i].type;
        char *options[4] = {NULL};
        while (s_cases[i].options[f.n_options]) {
            options[f.n_options] = strdup(s_cases[i].options[f.n_options]);
            f.n_options++;
        }
        f.options = options;
        crm_errors_t errors = {0};
        int rc = contacts_field_create_check(&f, &errors);
        if (strcmp(s_fields(&errors), s_cases[i].fields) != 0)
            fail_msg("case %zu ('%s'): refused [%s], expected [%s]", i, s_cases[i].key,
                     s_fields(&errors), s_cases[i].fields);
        assert_int_equal(rc, s_cases[i].fields[0] ? -1 : 0);
        if (i == 2)
            assert_string_equal(f.label, "Label");
        crm_errors_reset(&errors);
        free(f.label);
        for (size_t k = 0; k < f.n_options; k++)
            free(options[k]);
    }
}

//  A change names only label and options.
static void test_field_mask(void **state) {
    (void)state;
    char *mask[] = {"label", "options", "key", "type"};
    crm_errors_t errors = {0};
    assert_int_equal(contacts_field_mask_check(mask, 2, &errors), 0);
    assert_int_equal(contacts_field_mask_check(mask, 4, &errors), -1);
    assert_string_equal(s_fields(&errors), "key,type");
    assert_string_equal(errors.items[0]->message, "cannot be changed (only label and options)");
    crm_errors_reset(&errors);
}

//  A change of options answers the options it removes (any case counts as kept).
static void test_field_apply(void **state) {
    (void)state;
    Crm__Contacts__CustomField f = CRM__CONTACTS__CUSTOM_FIELD__INIT;
    f.options = calloc(4, sizeof *f.options);
    f.options[0] = strdup("Red");
    f.options[1] = strdup("Blue");
    f.options[2] = strdup("Green");
    f.n_options = 3;
    f.label = strdup("Colour");
    char *given_options[] = {"red", "Green", "Black"};
    Crm__Contacts__CustomField given = CRM__CONTACTS__CUSTOM_FIELD__INIT;
    given.options = given_options;
    given.n_options = 3;
    char *mask[] = {"options"};
    Crm__Contacts__UpdateCustomFieldRequest req = CRM__CONTACTS__UPDATE_CUSTOM_FIELD_REQUEST__INIT;
    req.field = &given;
    req.update_mask = mask;
    req.n_update_mask = 1;
    json_t *gone = contacts_field_apply(&f, &req);
    assert_int_equal(json_array_size(gone), 1);
    assert_string_equal(json_string_value(json_array_get(gone, 0)), "Blue");
    assert_int_equal(f.n_options, 3);
    assert_string_equal(f.options[2], "Black");
    assert_string_equal(f.label, "Colour");
    json_decref(gone);
    for (size_t k = 0; k < f.n_options; k++)
        free(f.options[k]);
    free(f.options);
    free(f.label);
}

static const struct {
    const char *name;
    const char *message; // NULL: accepted
} s_phone_cases[] = {
    {"Fleet desk", NULL},
    {"", "is required"},
    {"Mobile", "is a built-in phone type"},
    {"other", "is a built-in phone type"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "must be at most 40 characters"},
};

static void test_phone_type(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_phone_cases / sizeof s_phone_cases[0]; i++) {
        Crm__Contacts__PhoneTypeDef t = CRM__CONTACTS__PHONE_TYPE_DEF__INIT;
        t.name = strdup(s_phone_cases[i].name);
        crm_errors_t errors = {0};
        int rc = contacts_phone_type_check(&t, &errors);
        if (!s_phone_cases[i].message)
            assert_int_equal(rc, 0);
        else {
            assert_int_equal(rc, -1);
            assert_string_equal(errors.items[0]->field, "name");
            assert_string_equal(errors.items[0]->message, s_phone_cases[i].message);
        }
        crm_errors_reset(&errors);
        free(t.name);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_create),
        cmocka_unit_test(test_field_mask),
        cmocka_unit_test(test_field_apply),
        cmocka_unit_test(test_phone_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
