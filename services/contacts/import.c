/*  import: the rules of the CSV import (import.h has the reading order of its files).

    What a file's columns mean: a column maps to a contact field by an explicit mapping
    (a saved one named, overridden by the request's own) or else by its header through
    the default mapping (case, spaces and punctuation ignored: "E-mail" is email). A CSV
    row becomes the Contact the Create method takes; the contact rules (the Create
    method's checks, called by the chunk stage) then decide whether it is valid, and
    every error is named by the column it came from. A row that matches an existing
    contact is decided by the import's policy: skip it, update that contact (what the
    row gives replaces, lists grow), or create a new one anyway.

    No database and no crm_call_t here: field errors go into a crm_errors_t or onto the
    row. tests/unit/test_contacts_import.c states the rules.
*/
#include "import.h"
#include "json_pb.h"
#include "validate.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

// --- the fields a column can map to ----------------------------------------------------

typedef enum {
    F_TEXT,         //  a member of the contact, as text (enums by their name)
    F_BOOL,         //  a true/false member: yes/no, true/false, 1/0
    F_EMAIL,        //  the primary email address
    F_PHONE,        //  a phone of type member
    F_TAGS,         //  tags separated by ; or |
    F_COMPANY,      //  the company a person buys for (companyName + companyBuyer)
    F_ADDRESS,      //  a member of the first address
    F_VEHICLE,      //  a member of the vehicle of interest
    F_VEHICLE_YEAR, //  its year (a whole number)
    F_CUSTOM,       //  customFields.<key>
} s_field_kind_t;

typedef struct {
    const char *field;   //  the mapping's name for it
    s_field_kind_t kind;
    const char *member;  //  the contact's (address's, vehicle's) JSON member, phone type
    const char *aliases; //  headers the default mapping knows it by, normalised, '|'
    const char *header;  //  its column in the template ("" when not there)
    const char *example; //  the template's example value
} s_field_t;

static const s_field_t s_fields[] = {
    {"firstName", F_TEXT, "firstName", "firstname|first|givenname|forename", "First Name", "Ann"},
    {"lastName", F_TEXT, "lastName", "lastname|last|surname|familyname", "Last Name", "Lee"},
    {"name", F_TEXT, "name", "name|organizationname|organisationname", "", ""},
    {"kind", F_TEXT, "kind", "kind|contactkind", "", ""},
    {"type", F_TEXT, "type", "type|contacttype", "Type", "prospect"},
    {"email", F_EMAIL, NULL, "email|emailaddress|mail", "Email", "ann.lee@example.com"},
    {"phone", F_PHONE, "mobile", "phone|mobile|mobilephone|cell|cellphone|phonenumber|"
     "mobilenumber|telephone|tel", "Phone", "(202) 555-0142"},
    {"workPhone", F_PHONE, "work", "workphone|businessphone|officephone", "", ""},
    {"homePhone", F_PHONE, "home", "homephone", "", ""},
    {"source", F_TEXT, "source", "source|leadsource", "Source", "walk_in"},
    {"tags", F_TAGS, NULL, "tags|tag|labels", "Tags", ""},
    {"company", F_COMPANY, NULL, "company|companyname|employer", "Company", ""},
    {"assignee", F_TEXT, "assignee", "assignee|assignedto|owner|salesperson", "", ""},
    {"supplier", F_BOOL, "supplier", "supplier|vendor", "", ""},
    {"foundUs", F_TEXT, "foundUs", "foundus|howfoundus|howdidyoufindus", "", ""},
    {"dateOfBirth", F_TEXT, "dateOfBirth", "dateofbirth|dob|birthday|birthdate", "", ""},
    {"preferredChannel", F_TEXT, "preferredChannel", "preferredchannel", "", ""},
    {"bestTime", F_TEXT, "bestTime", "besttime|besttimetocontact", "", ""},
    {"address.line1", F_ADDRESS, "line1", "address|address1|addressline1|street|streetaddress",
     "Address", "1600 Main St"},
    {"address.line2", F_ADDRESS, "line2", "address2|addressline2", "", ""},
    {"address.city", F_ADDRESS, "city", "city|town", "City", "Springfield"},
    {"address.region", F_ADDRESS, "region", "state|region|province|county", "State", "IL"},
    {"address.postcode", F_ADDRESS, "postcode", "postcode|zip|zipcode|postalcode", "Postcode",
     "62701"},
    {"address.country", F_ADDRESS, "country", "country|countrycode", "Country", "US"},
    {"vehicle.make", F_VEHICLE, "make", "make|vehiclemake|interestmake", "Vehicle Make",
     "Toyota"},
    {"vehicle.model", F_VEHICLE, "model", "model|vehiclemodel|interestmodel", "Vehicle Model",
     "RAV4"},
    {"vehicle.year", F_VEHICLE_YEAR, "year", "year|vehicleyear|modelyear", "Vehicle Year",
     "2024"},
    {"vehicle.trim", F_VEHICLE, "trim", "trim|vehicletrim", "", ""},
    {"vehicle.vin", F_VEHICLE, "vin", "vin|vehiclevin", "VIN", ""},
    {"vehicle.condition", F_VEHICLE, "condition", "condition|vehiclecondition", "", ""},
    {"customFields.<key>", F_CUSTOM, NULL, "", "", ""},
};
#define S_FIELDS (sizeof s_fields / sizeof s_fields[0])
#define S_CUSTOM_FIELD (S_FIELDS - 1)

//  A header or alias reduced to lower-case letters and digits ("E-mail" -> "email").
static void s_normalise(const char *text, char *out, size_t size) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && n + 1 < size; p++)
        if (isalnum(*p))
            out[n++] = (char)tolower(*p);
    out[n] = 0;
}

//  The field named name in a mapping ("email", "customFields.trim_level"): its index,
//  with *key set for a custom field; -1 for "-" (ignore), -2 when there is none.
static int s_field_named(const char *name, const char **key) {
    *key = NULL;
    if (strcmp(name, "-") == 0 || name[0] == 0)
        return -1;
    if (strncmp(name, "customFields.", 13) == 0 && name[13]) {
        *key = name + 13;
        return (int)S_CUSTOM_FIELD;
    }
    for (size_t i = 0; i < S_CUSTOM_FIELD; i++)
        if (strcasecmp(s_fields[i].field, name) == 0)
            return (int)i;
    return -2;
}

//  The field the default mapping gives a header: -2 for none.
static int s_field_default(const char *header) {
    char norm[128], alias[64];
    s_normalise(header, norm, sizeof norm);
    if (!norm[0])
        return -2;
    for (size_t i = 0; i < S_CUSTOM_FIELD; i++) {
        s_normalise(s_fields[i].field, alias, sizeof alias);
        if (strcmp(alias, norm) == 0)
            return (int)i;
        const char *a = s_fields[i].aliases;
        while (*a) {
            size_t len = strcspn(a, "|");
            if (len == strlen(norm) && strncmp(a, norm, len) == 0)
                return (int)i;
            a += len + (a[len] == '|');
        }
    }
    return -2;
}

//  Every field's name, for messages: "firstName, lastName, ...".
static char *s_field_list(void) {
    size_t size = 0;
    for (size_t i = 0; i < S_FIELDS; i++)
        size += strlen(s_fields[i].field) + 2;
    char *text = calloc(1, size + 1);
    for (size_t i = 0; i < S_FIELDS; i++) {
        if (i)
            strcat(text, ", ");
        strcat(text, s_fields[i].field);
    }
    return text;
}

// --- the mapping of a file's columns -------------------------------------------------------

void contacts_import_mapping_reset(contacts_import_mapping_t *m) {
    for (size_t i = 0; i < m->count; i++) {
        free(m->columns[i].key);
        free(m->columns[i].header);
    }
    free(m->columns);
    memset(m, 0, sizeof *m);
}

//  The explicit mapping's field for header (case and surrounding spaces ignored), or
//  NULL; marks the entry used.
static const char *s_explicit(json_t *explicit, const char *header, json_t *used) {
    const char *key;
    json_t *value;
    json_object_foreach(explicit, key, value) {
        char a[256], b[256];
        snprintf(a, sizeof a, "%s", key);
        snprintf(b, sizeof b, "%s", header);
        crm_text_trim(a);
        crm_text_trim(b);
        if (strcasecmp(a, b) == 0) {
            json_object_set_new(used, key, json_true());
            return json_string_value(value);
        }
    }
    return NULL;
}

//  The field of column i (1-based i + 1 in messages) by the default mapping, a
//  customFields.<key> header, or none: 0, or -1 with error set.
static int s_column_default(contacts_import_column_t *col, size_t i, const char **key,
                            char *error, size_t size) {
    col->field = s_field_default(col->header);
    if (col->field == -2 && strncmp(col->header, "customFields.", 13) == 0 && col->header[13]) {
        col->field = (int)S_CUSTOM_FIELD;
        *key = col->header + 13;
    }
    if (col->field != -2)
        return 0;
    snprintf(error, size,
             "column %zu (\"%s\") is not mapped to a contact field: map it "
             "(\"%s=firstName\", ...) or ignore it (\"%s=-\")",
             i + 1, col->header, col->header, col->header);
    return -1;
}

//  Map column i of the header: 0, or -1 with error set.
static int s_column_map(contacts_import_column_t *col, size_t i, const char *text,
                        json_t *explicit, json_t *used, char *error, size_t size) {
    col->header = strdup(text);
    crm_text_trim(col->header);
    const char *name = s_explicit(explicit, col->header, used);
    const char *key = NULL;
    int rc = 0;
    if (name) {
        col->field = s_field_named(name, &key);
        if (col->field == -2) {
            char *fields = s_field_list();
            snprintf(error, size,
                     "the mapping of column %zu (\"%s\") names \"%s\", which is not a contact "
                     "field (fields: %s; \"-\" ignores the column)",
                     i + 1, col->header, name, fields);
            free(fields);
            rc = -1;
        }
    } else if (!col->header[0]) {
        snprintf(error, size,
                 "column %zu has no header: every column needs one (give it a name and map "
                 "it, or map it to \"-\")",
                 i + 1);
        rc = -1;
    } else
        rc = s_column_default(col, i, &key, error, size);
    if (key)
        col->key = strdup(key);
    return rc;
}

//  One column per field (phones of different types are different fields): 0, or -1
//  with error set when column i maps to the field of an earlier one.
static int s_column_unique(const contacts_import_mapping_t *m, size_t i, char *error,
                           size_t size) {
    const contacts_import_column_t *col = &m->columns[i];
    for (size_t j = 0; j < i && col->field >= 0; j++) {
        const contacts_import_column_t *other = &m->columns[j];
        bool same = other->field == col->field &&
                    (col->field != (int)S_CUSTOM_FIELD || strcmp(other->key, col->key) == 0);
        if (same) {
            snprintf(error, size, "columns %zu (\"%s\") and %zu (\"%s\") both map to %s%s", j + 1,
                     other->header, i + 1, col->header,
                     col->key ? "customFields." : s_fields[col->field].field,
                     col->key ? col->key : "");
            return -1;
        }
    }
    return 0;
}

int contacts_import_mapping_resolve(contacts_import_mapping_t *m, json_t *explicit,
                                    const crm_csv_record_t *header, char *error, size_t size) {
    m->columns = calloc(header->count, sizeof *m->columns);
    m->count = header->count;
    json_t *used = json_object();
    int rc = 0;
    for (size_t i = 0; i < header->count && rc == 0; i++) {
        rc = s_column_map(&m->columns[i], i, header->fields[i], explicit, used, error, size);
        if (rc == 0)
            rc = s_column_unique(m, i, error, size);
    }
    const char *key;
    json_t *value;
    json_object_foreach(explicit, key, value) {
        if (rc == 0 && !json_object_get(used, key)) {
            snprintf(error, size, "the mapping names the column \"%s\", which the file does not have",
                     key);
            rc = -1;
        }
    }
    json_decref(used);
    return rc;
}

json_t *contacts_import_mapping_json(const contacts_import_mapping_t *m) {
    json_t *obj = json_object();
    for (size_t i = 0; i < m->count; i++) {
        const contacts_import_column_t *col = &m->columns[i];
        char field[200];
        if (col->field < 0)
            snprintf(field, sizeof field, "-");
        else if (col->key)
            snprintf(field, sizeof field, "customFields.%s", col->key);
        else
            snprintf(field, sizeof field, "%s", s_fields[col->field].field);
        json_object_set_new(obj, col->header, json_string(field));
    }
    return obj;
}

// --- the requests --------------------------------------------------------------------------

void contacts_import_mapping_entry_check(crm_errors_t *errors, const char *prefix,
                                         const char *header, const char *name) {
    const char *key;
    char field[320];
    snprintf(field, sizeof field, "%s.%.256s", prefix, header);
    if (!header[0] || crm_utf8_chars(header) > 200)
        crm_errors_add(errors, field, "a header must be 1 to 200 characters");
    else if (s_field_named(name, &key) == -2) {
        char *fields = s_field_list();
        crm_errors_add(errors, field,
                       "\"%.64s\" is not a contact field (fields: %s; \"-\" ignores the "
                       "column)",
                       name, fields);
        free(fields);
    }
}

void contacts_import_create_check(const Crm__Contacts__CreateImportRequest *req,
                                  crm_errors_t *errors) {
    for (size_t i = 0; i < req->n_mapping; i++)
        contacts_import_mapping_entry_check(errors, "mapping", req->mapping[i]->key,
                                            req->mapping[i]->value);
    static const char *const encodings[] = {"", "auto", "utf-8", "utf8", "windows-1252",
                                            "cp1252", "latin-1", "latin1", "iso-8859-1"};
    bool known = false;
    for (size_t i = 0; i < sizeof encodings / sizeof *encodings; i++)
        known |= strcasecmp(req->encoding, encodings[i]) == 0;
    if (!known)
        crm_errors_add(errors, "encoding", "must be auto, utf-8, windows-1252 or latin-1");
    static const char *const delimiters[] = {"", ",", ";", "\t", "tab", "auto"};
    known = false;
    for (size_t i = 0; i < sizeof delimiters / sizeof *delimiters; i++)
        known |= strcasecmp(req->delimiter, delimiters[i]) == 0;
    if (!known)
        crm_errors_add(errors, "delimiter", "must be \",\", \";\", \"tab\" or \"auto\"");
}

void contacts_import_part_check(const Crm__Contacts__AddImportPartRequest *req,
                                crm_errors_t *errors) {
    if (req->part == 0)
        crm_errors_add(errors, "part", "is required: parts are numbered 1, 2, ...");
    if (req->data.len == 0)
        crm_errors_add(errors, "data", "is required: the part's CSV bytes");
    if (req->data.len > IMPORT_PART_MAX)
        crm_errors_add(errors, "data", "must be at most %d bytes", IMPORT_PART_MAX);
}

void contacts_import_mapping_put_check(const Crm__Contacts__PutImportMappingRequest *req,
                                       crm_errors_t *errors) {
    if (!req->name[0] || crm_utf8_chars(req->name) > IMPORT_MAPPING_NAME_MAX)
        crm_errors_add(errors, "name", "must be 1 to %d characters", IMPORT_MAPPING_NAME_MAX);
    if (!req->mapping || req->mapping->n_columns == 0)
        crm_errors_add(errors, "columns", "is required: header -> field");
    else
        for (size_t i = 0; i < req->mapping->n_columns; i++)
            contacts_import_mapping_entry_check(errors, "columns", req->mapping->columns[i]->key,
                                                req->mapping->columns[i]->value);
}

static crm_csv_encoding_t s_encoding(const char *name) {
    if (!name)
        return CRM_CSV_ENCODING_AUTO;
    if (strcasecmp(name, "utf-8") == 0 || strcasecmp(name, "utf8") == 0)
        return CRM_CSV_ENCODING_UTF8;
    if (strcasecmp(name, "windows-1252") == 0 || strcasecmp(name, "cp1252") == 0)
        return CRM_CSV_ENCODING_WINDOWS1252;
    if (strcasecmp(name, "latin-1") == 0 || strcasecmp(name, "latin1") == 0 ||
        strcasecmp(name, "iso-8859-1") == 0)
        return CRM_CSV_ENCODING_LATIN1;
    return CRM_CSV_ENCODING_AUTO;
}

static int s_delimiter(const char *name) {
    if (!name || !name[0] || strcmp(name, ",") == 0)
        return ',';
    if (strcmp(name, ";") == 0)
        return ';';
    if (strcmp(name, "\t") == 0 || strcasecmp(name, "tab") == 0)
        return '\t';
    return CRM_CSV_DELIMITER_AUTO;
}

void contacts_import_csv_options(json_t *options, crm_csv_options_t *out) {
    *out = (crm_csv_options_t){
        .delimiter = s_delimiter(json_string_value(json_object_get(options, "delimiter"))),
        .encoding = s_encoding(json_string_value(json_object_get(options, "encoding"))),
        .max_columns = IMPORT_COLUMNS_MAX,
    };
}

Crm__Contacts__ImportTemplate *contacts_import_template_new(const char *const *custom_keys,
                                                            size_t n) {
    crm_csv_writer_t *w = crm_csv_writer_new(NULL);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < S_FIELDS; i++)
            if (s_fields[i].header[0]) {
                const char *text = pass ? s_fields[i].example : s_fields[i].header;
                crm_csv_writer_field(w, text, strlen(text));
            }
        //  The tenant's custom fields, by key, empty in the example.
        for (size_t k = 0; k < n; k++) {
            char *header = zsys_sprintf("customFields.%s", custom_keys[k]);
            crm_csv_writer_field(w, pass ? "" : header, pass ? 0 : strlen(header));
            zstr_free(&header);
        }
        crm_csv_writer_end_record(w);
    }
    size_t size;
    const char *data = crm_csv_writer_data(w, &size);
    Crm__Contacts__ImportTemplate *t = malloc(sizeof *t);
    crm__contacts__import_template__init(t);
    t->filename = strdup("contacts-import-template.csv");
    t->content_type = strdup("text/csv; charset=utf-8");
    t->content = strndup(data, size);
    crm_csv_writer_destroy(&w);
    t->fields = calloc(S_FIELDS, sizeof *t->fields);
    for (size_t i = 0; i < S_FIELDS; i++)
        t->fields[t->n_fields++] = strdup(s_fields[i].field);
    return t;
}

// --- a row ---------------------------------------------------------------------------------

contacts_import_row_t *contacts_import_row_new(size_t row) {
    contacts_import_row_t *self = calloc(1, sizeof *self);
    self->row = row;
    return self;
}

void contacts_import_row_destroy(contacts_import_row_t **self_p) {
    contacts_import_row_t *self = *self_p;
    if (!self)
        return;
    if (self->c)
        crm__contacts__contact__free_unpacked(self->c, NULL);
    json_decref(self->given);
    contacts_row_reset(&self->store);
    for (size_t i = 0; i < self->n_errors; i++) {
        free(self->errors[i].field);
        free(self->errors[i].message);
    }
    free(self->errors);
    free(self);
    *self_p = NULL;
}

static void s_origin(contacts_import_row_t *self, const char *path, size_t column) {
    if (self->n_origins < sizeof self->origins / sizeof *self->origins) {
        snprintf(self->origins[self->n_origins].path, sizeof self->origins[0].path, "%s", path);
        self->origins[self->n_origins++].column = column;
    }
}

//  The origin a contact path came from: the longest origin that is a prefix of it, else
//  the first of its family ("emails[1]..." belongs to the email column, "phones" to a
//  phone's); NULL when none.
static const contacts_import_origin_t *s_origin_of(const contacts_import_row_t *self,
                                                   const char *path) {
    const contacts_import_origin_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < self->n_origins; i++) {
        const char *p = self->origins[i].path;
        size_t len = strlen(p);
        bool prefix = strncmp(path, p, len) == 0 &&
                      (path[len] == 0 || path[len] == '.' || path[len] == '[');
        size_t family = strcspn(p, "[.");
        if (!prefix && strncmp(path, p, family) == 0 && (path[family] == 0 || path[family] == '[') &&
            !best)
            best = &self->origins[i];
        if (prefix && len >= best_len) {
            best = &self->origins[i];
            best_len = len;
        }
    }
    return best;
}

void contacts_import_row_error(contacts_import_row_t *self, const contacts_import_mapping_t *m,
                               const char *path, const char *message) {
    const contacts_import_origin_t *best = s_origin_of(self, path);
    char field[400];
    if (best && path[0])
        snprintf(field, sizeof field, "%s (%s)", m->columns[best->column].header, path);
    else if (best)
        snprintf(field, sizeof field, "%s", m->columns[best->column].header);
    else
        snprintf(field, sizeof field, "%s", path);
    self->errors = realloc(self->errors, (self->n_errors + 1) * sizeof *self->errors);
    self->errors[self->n_errors].field = strdup(field);
    self->errors[self->n_errors].message = strdup(message);
    self->n_errors++;
}

//  The member object name of obj, made if missing (an array's first element for an
//  array member).
static json_t *s_member_object(json_t *obj, const char *name, bool array) {
    json_t *m = json_object_get(obj, name);
    if (!m) {
        m = array ? json_array() : json_object();
        json_object_set_new(obj, name, m);
    }
    if (!array)
        return m;
    if (json_array_size(m) == 0)
        json_array_append_new(m, json_object());
    return json_array_get(m, 0);
}

static int s_parse_bool(const char *v, bool *out) {
    static const char *const yes[] = {"yes", "y", "true", "t", "1", "x"};
    static const char *const no[] = {"no", "n", "false", "f", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (strcasecmp(v, yes[i]) == 0)
            return *out = true, 0;
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (strcasecmp(v, no[i]) == 0)
            return *out = false, 0;
    return -1;
}

//  What one cell of a row builds, as the conversion of a cell sees it.
typedef struct {
    contacts_import_row_t *row;
    const contacts_import_mapping_t *m;
    json_t *obj;       //  the contact as the API's JSON
    size_t phones;     //  phones so far
    size_t column;
} s_cell_t;

//  A list cell: tags separated by ; or |, each trimmed.
static void s_cell_tags(s_cell_t *cell, char *value) {
    json_t *tags = json_array();
    char *save = NULL;
    for (char *t = strtok_r(value, ";|", &save); t; t = strtok_r(NULL, ";|", &save)) {
        crm_text_trim(t);
        if (*t)
            json_array_append_new(tags, json_string(t));
    }
    json_object_set_new(cell->obj, "tags", tags);
    s_origin(cell->row, "tags", cell->column);
}

//  A cell of the vehicle of interest (its year must be a whole number).
static void s_cell_vehicle(s_cell_t *cell, const s_field_t *f, const char *value) {
    char path[64];
    json_t *v = s_member_object(cell->obj, "vehicles", true);
    json_object_set_new(v, "relation", json_string("interest"));
    snprintf(path, sizeof path, "vehicles[0].%s", f->member);
    s_origin(cell->row, path, cell->column);
    if (f->kind == F_VEHICLE) {
        json_object_set_new(v, f->member, json_string(value));
        return;
    }
    char *end = NULL;
    long year = strtol(value, &end, 10);
    if (*end || year <= 0 || year > 9999)
        contacts_import_row_error(cell->row, cell->m, path,
                                  "must be a year (a whole number such as 2024)");
    else
        json_object_set_new(v, f->member, json_integer(year));
}

//  A cell of the contact's lists: its email, a phone.
static void s_cell_contact_point(s_cell_t *cell, const s_field_t *f, const char *value) {
    if (f->kind == F_EMAIL) {
        json_t *emails = json_array();
        json_array_append_new(emails, json_pack("{s:s, s:b}", "address", value, "primary", 1));
        json_object_set_new(cell->obj, "emails", emails);
        s_origin(cell->row, "emails[0]", cell->column);
        return;
    }
    json_t *list = json_object_get(cell->obj, "phones");
    if (!list) {
        list = json_array();
        json_object_set_new(cell->obj, "phones", list);
    }
    json_array_append_new(list, json_pack("{s:s, s:s}", "number", value, "type", f->member));
    char path[64];
    snprintf(path, sizeof path, "phones[%zu]", cell->phones++);
    s_origin(cell->row, path, cell->column);
}

//  One non-empty cell (trimmed) into the contact's JSON.
static void s_cell(s_cell_t *cell, const contacts_import_column_t *col, char *value) {
    const s_field_t *f = &s_fields[col->field];
    char path[64];
    bool b;
    switch (f->kind) {
    case F_TEXT:
        json_object_set_new(cell->obj, f->member, json_string(value));
        s_origin(cell->row, f->member, cell->column);
        break;
    case F_BOOL:
        s_origin(cell->row, f->member, cell->column);
        if (s_parse_bool(value, &b))
            contacts_import_row_error(cell->row, cell->m, f->member,
                                      "must be yes or no (true/false, 1/0)");
        else
            json_object_set_new(cell->obj, f->member, json_boolean(b));
        break;
    case F_EMAIL:
    case F_PHONE:
        s_cell_contact_point(cell, f, value);
        break;
    case F_TAGS:
        s_cell_tags(cell, value);
        break;
    case F_COMPANY:
        json_object_set_new(cell->obj, "companyName", json_string(value));
        json_object_set_new(cell->obj, "companyBuyer", json_true());
        s_origin(cell->row, "companyName", cell->column);
        s_origin(cell->row, "companyBuyer", cell->column);
        break;
    case F_ADDRESS:
        json_object_set_new(s_member_object(cell->obj, "addresses", true), f->member,
                            json_string(value));
        snprintf(path, sizeof path, "addresses[0].%s", f->member);
        s_origin(cell->row, path, cell->column);
        break;
    case F_VEHICLE:
    case F_VEHICLE_YEAR:
        s_cell_vehicle(cell, f, value);
        break;
    case F_CUSTOM:
        json_object_set_new(s_member_object(cell->obj, "customFields", false), col->key,
                            json_string(value));
        snprintf(path, sizeof path, "customFields.%.34s", col->key);
        s_origin(cell->row, path, cell->column);
        break;
    }
}

//  Build the row's contact as the API's JSON from the record's cells. Errors of a
//  single cell (a year that is not a number) are recorded on the row.
static json_t *s_row_json(contacts_import_row_t *self, const contacts_import_mapping_t *m,
                          const crm_csv_record_t *rec) {
    s_cell_t cell = {.row = self, .m = m, .obj = json_object()};
    for (size_t i = 0; i < rec->count && i < m->count; i++) {
        const contacts_import_column_t *col = &m->columns[i];
        if (col->field < 0)
            continue;
        char *value = strdup(rec->fields[i]);
        crm_text_trim(value);
        cell.column = i;
        if (value[0])
            s_cell(&cell, col, value);
        free(value);
    }
    return cell.obj;
}

Crm__Contacts__Contact *contacts_import_row_contact(contacts_import_row_t *self,
                                                    const contacts_import_mapping_t *m,
                                                    const crm_csv_record_t *rec, json_t **given) {
    *given = NULL;
    if (rec->count != m->count) {
        char message[128];
        snprintf(message, sizeof message, "has %zu fields where the header has %zu", rec->count,
                 m->count);
        contacts_import_row_error(self, m, "row", message);
        return NULL;
    }
    json_t *obj = s_row_json(self, m, rec);
    if (self->n_errors) {
        json_decref(obj);
        return NULL;
    }
    crm_json_error_t err;
    Crm__Contacts__Contact *c =
        (Crm__Contacts__Contact *)crm_json_value_to_pb(&crm__contacts__contact__descriptor, obj,
                                                       "", &err);
    if (!c) {
        contacts_import_row_error(self, m, err.field, err.message);
        json_decref(obj);
        return NULL;
    }
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    crm_pb_string_set(&c->id, id);
    if (c->source == CRM__CONTACTS__CONTACT_SOURCE__CONTACT_SOURCE_UNSPECIFIED)
        c->source = CRM__CONTACTS__CONTACT_SOURCE__CONTACT_SOURCE_IMPORT;
    *given = obj;
    return c;
}

void contacts_import_row_take(contacts_import_row_t *self, Crm__Contacts__Contact *c,
                              json_t *given) {
    self->c = c;
    self->given = given;
    if (c->n_emails) {
        snprintf(self->email, sizeof self->email, "%s", c->emails[0]->address);
        for (char *p = self->email; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    if (c->n_phones)
        snprintf(self->phone, sizeof self->phone, "%s", c->phones[0]->number);
}

void contacts_import_row_decide(contacts_import_row_t *self, const contacts_import_mapping_t *m,
                                const char *policy) {
    if (!self->c)
        self->action = "error";
    else if (!self->matched_on[0])
        self->action = "create";
    else if (strcmp(policy, "create") == 0) {
        if (strncmp(self->matched_on, "email", 5) == 0) {
            char message[160];
            snprintf(message, sizeof message, "is already used by %s%s",
                     self->contact_id[0] ? "contact " : "an earlier row: ",
                     self->contact_id[0] ? self->contact_id : self->matched_on + 7);
            contacts_import_row_error(self, m, "emails[0].address", message);
            self->action = "error";
        } else {
            self->action = "create";
            self->contact_id[0] = 0;
        }
    } else if (strcmp(policy, "update") == 0 &&
               strcmp(self->matched_on, IMPORT_LIKELY_DUPLICATE) != 0)
        self->action = "update";
    else
        self->action = "skip";
    if (strcmp(self->action, "create") == 0)
        snprintf(self->contact_id, sizeof self->contact_id, "%s", self->c->id);
}

//  Whether list (one of the contact's emails, phones, tags, vehicles: key) has add.
static bool s_list_has(const char *key, json_t *list, json_t *add) {
    for (size_t j = 0; j < json_array_size(list); j++) {
        json_t *old = json_array_get(list, j);
        bool present;
        if (json_is_string(add))
            present = strcasecmp(json_string_value(old), json_string_value(add)) == 0;
        else if (strcmp(key, "emails") == 0)
            present = strcasecmp(json_string_value(json_object_get(old, "address")),
                                 json_string_value(json_object_get(add, "address"))) == 0;
        else if (strcmp(key, "phones") == 0)
            present = json_equal(json_object_get(old, "number"), json_object_get(add, "number"));
        else
            present = json_equal(old, add);
        if (present)
            return true;
    }
    return false;
}

//  Merge the row's value v of member key into have (the contact's JSON).
static void s_merge_member(json_t *have, const char *key, json_t *v) {
    json_t *list = json_object_get(have, key);
    if (strcmp(key, "emails") == 0 || strcmp(key, "phones") == 0 || strcmp(key, "tags") == 0 ||
        strcmp(key, "vehicles") == 0) {
        if (!list) {
            list = json_array();
            json_object_set_new(have, key, list);
        }
        size_t i;
        json_t *add;
        json_array_foreach(v, i, add) {
            if (s_list_has(key, list, add))
                continue;
            json_t *copy = json_deep_copy(add);
            if (json_is_object(copy))
                json_object_del(copy, "primary");
            json_array_append_new(list, copy);
        }
    } else if (strcmp(key, "addresses") == 0) {
        //  The row's address replaces the first one.
        json_t *merged = json_array();
        json_array_append(merged, json_array_get(v, 0));
        for (size_t j = 1; j < json_array_size(list); j++)
            json_array_append(merged, json_array_get(list, j));
        json_object_set_new(have, key, merged);
    } else if (strcmp(key, "customFields") == 0) {
        if (!list) {
            list = json_object();
            json_object_set_new(have, key, list);
        }
        json_object_update(list, v);
    } else
        json_object_set(have, key, v);
}

json_t *contacts_import_update_request(const contacts_import_row_t *self, json_t *have) {
    json_t *row = crm_pb_to_json_value(&self->c->base);  //  normalised
    json_t *mask = json_array();
    const char *key;
    json_t *value;
    json_object_foreach(self->given, key, value) {
        json_t *v = json_object_get(row, key);
        if (!v)
            continue;
        s_merge_member(have, key, v);
        json_array_append_new(mask, json_string(key));
    }
    json_decref(row);
    return json_pack("{s:s, s:o, s:o}", "id", self->contact_id, "contact", have, "updateMask",
                     mask);
}
