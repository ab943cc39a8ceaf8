/*  field: the rules of the tenant's own definitions for its contacts: custom fields
    (a key, a label, a type: text, number, date, or a select with options) and phone
    types beyond mobile, work, home and other. No database here: field_store.c holds the
    SQL and field_methods.c the methods; tests/unit/test_contacts_field.c states the
    rules.
*/
#include "contacts.h"
#include "json_pb.h"
#include "validate.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEY_MAX_LEN 40
#define LABEL_MAX_LEN 100
#define OPTION_MAX_LEN 100
#define MAX_OPTIONS 200
#define PHONE_TYPE_MAX_LEN 40

static bool s_key_valid(const char *key) {
    size_t len = strlen(key);
    if (len == 0 || len > KEY_MAX_LEN || !islower((unsigned char)key[0]))
        return false;
    for (const char *p = key; *p; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
            return false;
    return true;
}

int contacts_field_check(Crm__Contacts__CustomField *f, crm_errors_t *errors) {
    size_t before = errors->n;
    crm_text_trim(f->label);
    if (!f->label[0])
        crm_errors_add(errors, "label", "is required");
    else if (crm_utf8_chars(f->label) > LABEL_MAX_LEN)
        crm_errors_add(errors, "label", "must be at most %d characters", LABEL_MAX_LEN);
    bool select = f->type == CRM__CONTACTS__CUSTOM_FIELD_TYPE__CUSTOM_FIELD_TYPE_SELECT;
    if (!select && f->n_options)
        crm_errors_add(errors, "options", "are for a select field only");
    if (select && f->n_options == 0)
        crm_errors_add(errors, "options", "must hold at least one option for a select");
    if (f->n_options > MAX_OPTIONS) {
        crm_errors_add(errors, "options", "may hold at most %d options", MAX_OPTIONS);
        return -1;
    }
    char field[32];
    for (size_t i = 0; i < f->n_options; i++) {
        snprintf(field, sizeof field, "options[%zu]", i);
        crm_text_trim(f->options[i]);
        if (!f->options[i][0])
            crm_errors_add(errors, field, "must not be empty");
        else if (crm_utf8_chars(f->options[i]) > OPTION_MAX_LEN)
            crm_errors_add(errors, field, "must be at most %d characters", OPTION_MAX_LEN);
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(f->options[j], f->options[i]) == 0)
                crm_errors_add(errors, field, "appears twice");
    }
    return errors->n > before ? -1 : 0;
}

int contacts_field_create_check(Crm__Contacts__CustomField *f, crm_errors_t *errors) {
    if (!s_key_valid(f->key))
        crm_errors_add(errors, "key",
                       "must be 1 to %d lower-case letters, digits and _, starting with a "
                       "letter",
                       KEY_MAX_LEN);
    if (f->type == CRM__CONTACTS__CUSTOM_FIELD_TYPE__CUSTOM_FIELD_TYPE_UNSPECIFIED)
        crm_errors_add(errors, "type", "is required (text, number, date or select)");
    contacts_field_check(f, errors);
    return errors->n ? -1 : 0;
}

int contacts_field_mask_check(char *const *mask, size_t n, crm_errors_t *errors) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(mask[i], "label") && strcmp(mask[i], "options"))
            crm_errors_add(errors, mask[i], "cannot be changed (only label and options)");
    return errors->n ? -1 : 0;
}

json_t *contacts_field_apply(Crm__Contacts__CustomField *f,
                             const Crm__Contacts__UpdateCustomFieldRequest *req) {
    json_t *gone = json_array();
    for (size_t i = 0; i < req->n_update_mask && req->field; i++) {
        if (strcmp(req->update_mask[i], "label") == 0) {
            crm_pb_string_set(&f->label, req->field->label);
            continue;
        }
        for (size_t k = 0; k < f->n_options; k++) {
            bool kept = false;
            for (size_t j = 0; j < req->field->n_options && !kept; j++)
                kept = strcasecmp(f->options[k], req->field->options[j]) == 0;
            if (!kept)
                json_array_append_new(gone, json_string(f->options[k]));
        }
        for (size_t k = 0; k < f->n_options; k++)
            free(f->options[k]);
        free(f->options);
        f->n_options = req->field->n_options;
        f->options = calloc(f->n_options + 1, sizeof *f->options);
        for (size_t j = 0; j < f->n_options; j++)
            f->options[j] = strdup(req->field->options[j]);
    }
    return gone;
}

int contacts_phone_type_check(Crm__Contacts__PhoneTypeDef *t, crm_errors_t *errors) {
    crm_text_trim(t->name);
    static const char *const builtin[] = {"mobile", "work", "home", "other"};
    if (!t->name[0])
        crm_errors_add(errors, "name", "is required");
    else if (crm_utf8_chars(t->name) > PHONE_TYPE_MAX_LEN)
        crm_errors_add(errors, "name", "must be at most %d characters", PHONE_TYPE_MAX_LEN);
    for (size_t i = 0; i < 4; i++)
        if (strcasecmp(t->name, builtin[i]) == 0)
            crm_errors_add(errors, "name", "is a built-in phone type");
    return errors->n ? -1 : 0;
}
