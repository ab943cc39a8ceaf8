/*  export: the rules of exports (export.h has the reading order of their files).

    An export writes contacts to CSV or XLSX: the columns named (or the contact list's
    when none are), by the contact list's filter, and for a marketing export only the
    contacts that may be sent marketing email (CanContact's rule for channel email and
    purpose marketing: a current consent granted, doNotContact.email not set; its
    condition is export_store.c's, applied when the contacts are selected and again
    when each row is written). Here: which fields exist and how XLSX writes each, the
    checks of a request, the file's name. No database, no crm_call_t.
*/
#include "export.h"

#include <string.h>

#define CUSTOM_PREFIX "customFields."

//  The catalogue: every field an export may name (export_store.c has each one's SQL).
static const struct {
    const char *name;
    contacts_export_kind_t kind;
} s_fields[] = {
    {"id", CONTACTS_EXPORT_TEXT},
    {"kind", CONTACTS_EXPORT_TEXT},
    {"type", CONTACTS_EXPORT_TEXT},
    {"firstName", CONTACTS_EXPORT_TEXT},
    {"lastName", CONTACTS_EXPORT_TEXT},
    {"name", CONTACTS_EXPORT_TEXT},
    {"source", CONTACTS_EXPORT_TEXT},
    {"email", CONTACTS_EXPORT_TEXT},
    {"emails", CONTACTS_EXPORT_TEXT},
    {"phone", CONTACTS_EXPORT_TEXT},
    {"phones", CONTACTS_EXPORT_TEXT},
    {"tags", CONTACTS_EXPORT_TEXT},
    {"assignee", CONTACTS_EXPORT_TEXT},
    {"supplier", CONTACTS_EXPORT_BOOL},
    {"companyBuyer", CONTACTS_EXPORT_BOOL},
    {"companyName", CONTACTS_EXPORT_TEXT},
    {"organizationId", CONTACTS_EXPORT_TEXT},
    {"foundUs", CONTACTS_EXPORT_TEXT},
    {"preferredChannel", CONTACTS_EXPORT_TEXT},
    {"bestTime", CONTACTS_EXPORT_TEXT},
    {"dateOfBirth", CONTACTS_EXPORT_DATE},
    {"discountPercent", CONTACTS_EXPORT_NUMBER},
    {"leadCount", CONTACTS_EXPORT_NUMBER},
    {"lastActivityAt", CONTACTS_EXPORT_DATETIME},
    {"createdAt", CONTACTS_EXPORT_DATETIME},
    {"updatedAt", CONTACTS_EXPORT_DATETIME},
    {"address.type", CONTACTS_EXPORT_TEXT},
    {"address.line1", CONTACTS_EXPORT_TEXT},
    {"address.line2", CONTACTS_EXPORT_TEXT},
    {"address.city", CONTACTS_EXPORT_TEXT},
    {"address.region", CONTACTS_EXPORT_TEXT},
    {"address.postcode", CONTACTS_EXPORT_TEXT},
    {"address.country", CONTACTS_EXPORT_TEXT},
};
#define S_FIELDS (sizeof s_fields / sizeof s_fields[0])

//  The columns of an export when none are named: the contact list's.
static const char *const s_default_fields[] = {
    "id",    "name",     "firstName", "lastName",       "type",      "source",   "email",
    "phone", "tags",     "assignee",  "leadCount",      "lastActivityAt", "createdAt"};

//  The catalogue's index of name, or -1.
static int s_field_find(const char *name) {
    for (size_t i = 0; i < S_FIELDS; i++)
        if (strcmp(s_fields[i].name, name) == 0)
            return (int)i;
    return -1;
}

void contacts_export_columns(char **names, size_t n, contacts_export_column_t *columns,
                             crm_errors_t *errors) {
    for (size_t i = 0; i < n; i++) {
        char field[32];
        snprintf(field, sizeof field, "fields[%zu]", i);
        columns[i] = (contacts_export_column_t){.name = names[i], .kind = CONTACTS_EXPORT_TEXT};
        for (size_t k = 0; k < i && errors; k++)
            if (strcmp(names[k], names[i]) == 0) {
                crm_errors_add(errors, field, "\"%s\" is already fields[%zu]", names[i], k);
                break;
            }
        int found = s_field_find(names[i]);
        if (found >= 0) {
            columns[i].catalogue = true;
            columns[i].kind = s_fields[found].kind;
        } else if (strncmp(names[i], CUSTOM_PREFIX, strlen(CUSTOM_PREFIX)) == 0 &&
                   names[i][strlen(CUSTOM_PREFIX)])
            columns[i].key = names[i] + strlen(CUSTOM_PREFIX);
        else if (errors)
            crm_errors_add(errors, field,
                           "unknown field \"%s\": one of id, kind, type, firstName, "
                           "lastName, name, source, email, emails, phone, phones, tags, "
                           "assignee, supplier, companyBuyer, companyName, organizationId, "
                           "foundUs, preferredChannel, bestTime, dateOfBirth, "
                           "discountPercent, leadCount, lastActivityAt, createdAt, "
                           "updatedAt, address.(type|line1|line2|city|region|postcode|"
                           "country), or customFields.<key>",
                           names[i]);
    }
}

void contacts_export_column_type(contacts_export_column_t *column, const char *type) {
    column->kind = strcmp(type, "number") == 0 ? CONTACTS_EXPORT_NUMBER
                   : strcmp(type, "date") == 0 ? CONTACTS_EXPORT_DATE
                                               : CONTACTS_EXPORT_TEXT;
}

int contacts_export_create_check(Crm__Contacts__CreateExportRequest *req, crm_errors_t *errors) {
    if (req->format == CRM__CONTACTS__EXPORT_FORMAT__EXPORT_FORMAT_UNSPECIFIED)
        crm_errors_add(errors, "format", "is required: csv or xlsx");
    if (req->n_fields == 0) {
        //  The default columns, kept in the job as if they had been named.
        size_t n = sizeof s_default_fields / sizeof *s_default_fields;
        req->fields = malloc(n * sizeof *req->fields);
        for (size_t i = 0; i < n; i++)
            req->fields[i] = strdup(s_default_fields[i]);
        req->n_fields = n;
    }
    if (req->n_fields > EXPORT_MAX_FIELDS) {
        crm_errors_add(errors, "fields", "may name at most %d fields", EXPORT_MAX_FIELDS);
        return -1;
    }
    return 0;
}

const char *contacts_export_format_name(const Crm__Contacts__CreateExportRequest *req) {
    return req->format == CRM__CONTACTS__EXPORT_FORMAT__EXPORT_FORMAT_XLSX ? "xlsx" : "csv";
}

void contacts_export_file_name(const Crm__Contacts__CreateExportRequest *req, const char *now,
                               char *out, size_t size) {
    //  contacts-[marketing-]YYYYMMDD-HHMMSS.csv, in UTC.
    snprintf(out, size, "contacts-%s%.4s%.2s%.2s-%.2s%.2s%.2s.%s",
             req->marketing ? "marketing-" : "", now, now + 5, now + 8, now + 11, now + 14,
             now + 17, contacts_export_format_name(req));
}
