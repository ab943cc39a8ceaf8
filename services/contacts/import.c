/*  import: CSV import of contacts.

    The file arrives in numbered parts (CreateImport, then AddImportPart 1, 2, ...; the
    gateway takes bodies up to 1 MiB), kept in import_parts until the import is done.
    StartImport queues a job (jobs.kind 'import') that the job runner (jobs.c) works
    through step by step, each step one transaction:

    1. the scan: the whole file through the CSV reader once, the parts fetched one at a
       time (the reader's read callback), so memory stays flat however large the file.
       Every file-level error (broken quoting, mixed encodings, too many columns, an
       empty or header-only file, a header that maps to no field) fails the import
       here, before any row is written. It counts the rows (the job's total).
    2. the chunks: IMPORT_CHUNK rows at a time, each row turned into a Contact by the
       column mapping and checked by the Create method's own rules
       (contacts_contact_prepare). A bad row is reported (row, column, rule) and skipped;
       a row is written whole or not at all. The rows a chunk creates are written with
       three statements (contacts, contact_emails, ContactCreated events: unnest of
       arrays), the duplicates it updates one by one through the Update method, and the
       job's progress with them.

    Duplicates are matched on the email address (contact_emails), then on the phone
    number (E.164, index contacts_phone_numbers), and handled by the import's policy:
    skip, update that contact, or create a new one anyway. Two rows of one file that
    match are never in one chunk: the chunk ends before the second, which then finds
    the first's contact. A dry run does everything but write contacts: it keeps the
    keys of the rows it would create (import_keys) so that later rows match them.

    The runner keeps the open file between steps (contacts_importer_t); after a
    restart, or a step rolled back, it opens the file again and skips the rows done.
*/
#include "contacts.h"
#include "csv.h"
#include "outbox.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "page.h"
#include "validate.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IMPORT_CHUNK 1000             //  rows per step (one transaction)
#define IMPORT_PART_MAX (1 << 20)     //  bytes in one part
#define IMPORT_FILE_MAX (2LL << 30)   //  bytes in one file
#define IMPORT_OUTCOMES_MAX 1000      //  the first rows' outcomes kept
#define IMPORT_ERRORS_MAX 1000        //  errors kept on the job
#define IMPORT_ROW_ERRORS_MAX 10      //  errors reported of one row
#define IMPORT_COLUMNS_MAX 1000       //  columns in the file
#define MAPPING_NAME_MAX 64
#define S_TEXT(x) #x
#define S_NUMBER(x) S_TEXT(x)           //  a number macro as SQL text

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

typedef struct {
    int field;      //  index in s_fields, -1: ignored
    char *key;      //  a custom field's key
    char *header;
} s_column_t;

typedef struct {
    s_column_t *columns;
    size_t count;
} s_mapping_t;

static void s_mapping_reset(s_mapping_t *m) {
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

//  Map the header record's columns: explicit (header -> field) first, then the default
//  mapping. 0, or -1 with error set (a sentence naming the column).
static int s_mapping_resolve(s_mapping_t *m, json_t *explicit, const crm_csv_record_t *header,
                             char *error, size_t size) {
    m->columns = calloc(header->count, sizeof *m->columns);
    m->count = header->count;
    json_t *used = json_object();
    int rc = 0;
    for (size_t i = 0; i < header->count && rc == 0; i++) {
        s_column_t *col = &m->columns[i];
        col->header = strdup(header->fields[i]);
        crm_text_trim(col->header);
        const char *name = s_explicit(explicit, col->header, used);
        const char *key = NULL;
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
        } else {
            col->field = s_field_default(col->header);
            if (col->field == -2 && strncmp(col->header, "customFields.", 13) == 0 &&
                col->header[13]) {
                col->field = (int)S_CUSTOM_FIELD;
                key = col->header + 13;
            }
            if (col->field == -2) {
                snprintf(error, size,
                         "column %zu (\"%s\") is not mapped to a contact field: map it "
                         "(\"%s=firstName\", ...) or ignore it (\"%s=-\")",
                         i + 1, col->header, col->header, col->header);
                rc = -1;
            }
        }
        if (key)
            col->key = strdup(key);
        //  One column per field (phones of different types are different fields).
        for (size_t j = 0; j < i && rc == 0 && col->field >= 0; j++) {
            const s_column_t *other = &m->columns[j];
            bool same = other->field == col->field &&
                        (col->field != (int)S_CUSTOM_FIELD || strcmp(other->key, col->key) == 0);
            if (same) {
                snprintf(error, size, "columns %zu (\"%s\") and %zu (\"%s\") both map to %s%s", j + 1,
                         other->header, i + 1, col->header,
                         col->key ? "customFields." : s_fields[col->field].field,
                         col->key ? col->key : "");
                rc = -1;
            }
        }
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

//  The mapping as shown: header -> field.
static json_t *s_mapping_json(const s_mapping_t *m) {
    json_t *obj = json_object();
    for (size_t i = 0; i < m->count; i++) {
        const s_column_t *col = &m->columns[i];
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

// --- statements ----------------------------------------------------------------------------

#define IMPORT_JSON(i)                                                                        \
    "json_build_object('id', " i ".id, 'status', " i ".status,"                               \
    " 'dryRun', (" i ".options->>'dryRun')::boolean,"                                         \
    " 'policy', coalesce(" i ".options->>'policy', 'skip'), 'mapping', " i ".mapping,"        \
    " 'parts', " i ".parts, 'bytes', " i ".bytes::text, 'jobId', " i ".job_id,"               \
    " 'rows', " i ".data_rows, 'created', " i ".created, 'updated', " i ".updated,"           \
    " 'skipped', " i ".skipped, 'failed', " i ".failed, 'error', " i ".error,"                \
    " 'encoding', " i ".encoding,"                                                            \
    " 'createdAt', " CONTACTS_TS(i ".created_at") ","                                         \
    " 'finishedAt', " CONTACTS_TS(i ".finished_at") ","                                       \
    " 'outcomes', coalesce((SELECT json_agg(json_build_object('row', o.row_no,"               \
    "   'action', o.action, 'contactId', o.contact_id, 'matchedOn', o.matched_on,"            \
    "   'field', o.field, 'message', o.message) ORDER BY o.seq)"                              \
    "   FROM import_outcomes o WHERE o.import_id = " i ".id"                                  \
    "     AND o.row_no <= " S_NUMBER(IMPORT_OUTCOMES_MAX) " + 1), '[]'))::text"

static const crm_stmt_t s_import_insert = {
    .name = "import_insert",
    .sql = "INSERT INTO imports (tenant_id, id, actor_id, options, created_at)"
           " VALUES ($1, $2::uuid, $3, $4::jsonb, $5::timestamptz)",
    .nparams = 5,
    .writes = true};

static const crm_stmt_t s_import_get = {
    .name = "import_get",
    .sql = "SELECT " IMPORT_JSON("i") " FROM imports i WHERE i.tenant_id = $1 AND i.id = $2::uuid",
    .nparams = 2};

static const crm_stmt_t s_import_lock = {
    .name = "import_lock",
    .sql = "SELECT status, parts, bytes, options::text FROM imports"
           " WHERE tenant_id = $1 AND id = $2::uuid FOR UPDATE",
    .nparams = 2};

//  A part, added once: $3 its number, $4 its bytes (hex), $5 its size.
static const crm_stmt_t s_part_add = {
    .name = "import_part_add",
    .sql = "WITH p AS ("
           "  INSERT INTO import_parts (import_id, part, data) VALUES ($2::uuid, $3::int, $4::bytea)"
           "  ON CONFLICT DO NOTHING RETURNING part)"
           " UPDATE imports SET parts = parts + 1, bytes = bytes + $5::bigint"
           " WHERE tenant_id = $1 AND id = $2::uuid AND EXISTS (SELECT 1 FROM p)",
    .nparams = 5,
    .writes = true};

static const crm_stmt_t s_import_queue = {
    .name = "import_queue",
    .sql = "WITH j AS ("
           "  INSERT INTO jobs (tenant_id, id, kind, status, actor_id, request, created_at)"
           "  VALUES ($1, $3::uuid, 'import', 'queued', $4, $5::jsonb, $6::timestamptz))"
           " UPDATE imports SET status = 'queued', job_id = $3::uuid"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 6,
    .writes = true};

static const crm_stmt_t s_mapping_put = {
    .name = "import_mapping_put",
    .sql = "INSERT INTO import_mappings (tenant_id, name, columns, updated_at)"
           " VALUES ($1, $2, $3::jsonb, now())"
           " ON CONFLICT (tenant_id, name) DO UPDATE SET columns = $3::jsonb, updated_at = now()"
           " RETURNING json_build_object('name', name, 'columns', columns,"
           "   'updatedAt', " CONTACTS_TS("updated_at") ")::text",
    .nparams = 3,
    .writes = true};

static const crm_stmt_t s_mapping_get = {
    .name = "import_mapping_get",
    .sql = "SELECT json_build_object('name', name, 'columns', columns,"
           "   'updatedAt', " CONTACTS_TS("updated_at") ")::text"
           " FROM import_mappings WHERE tenant_id = $1 AND name = $2",
    .nparams = 2};

static const crm_stmt_t s_mapping_list = {
    .name = "import_mapping_list",
    .sql = "SELECT json_build_object('name', name, 'columns', columns,"
           "   'updatedAt', " CONTACTS_TS("updated_at") ")::text"
           " FROM import_mappings WHERE tenant_id = $1 ORDER BY name LIMIT 500",
    .nparams = 1};

static const crm_stmt_t s_custom_keys = {
    .name = "import_custom_keys",
    .sql = "SELECT key FROM contact_fields WHERE tenant_id = $1 ORDER BY key",
    .nparams = 1};

// --- the runner's statements ---

static const crm_stmt_t s_import_load = {
    .name = "import_load",
    .sql = "SELECT id::text, status, options::text, parts, data_rows, done_rows FROM imports"
           " WHERE tenant_id = $1 AND job_id = $2::uuid",
    .nparams = 2};

static const crm_stmt_t s_part_get = {
    .name = "import_part_get",
    .sql = "SELECT data FROM import_parts WHERE import_id = $1::uuid AND part = $2::int",
    .nparams = 2};

//  The scan is done: $3 the rows, $4 the mapping, $5 the encoding.
static const crm_stmt_t s_scanned = {
    .name = "import_scanned",
    .sql = "WITH i AS ("
           "  UPDATE imports SET data_rows = $3::int, mapping = $4::jsonb, encoding = $5,"
           "    status = 'running' WHERE tenant_id = $1 AND job_id = $2::uuid)"
           " UPDATE jobs SET total = $3::int, status = 'running', started_at = now()"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 5,
    .writes = true};

//  A file-level error: nothing imported. $3 the sentence, $4 the job's error (JSON).
static const crm_stmt_t s_failed = {
    .name = "import_failed",
    .sql = "WITH i AS ("
           "  UPDATE imports SET status = 'failed', error = $3, finished_at = now()"
           "  WHERE tenant_id = $1 AND job_id = $2::uuid RETURNING id),"
           " p AS (DELETE FROM import_parts WHERE import_id IN (SELECT id FROM i))"
           " UPDATE jobs SET status = 'failed', finished_at = now(),"
           "   started_at = coalesce(started_at, now()), errors = $4::jsonb"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 4,
    .writes = true};

//  The contacts of a chunk matching its rows' email ($3) or phone ($4): one row per
//  matching row (ord, contact id or '', how). A dry run's own earlier rows count too.
static const crm_stmt_t s_lookup = {
    .name = "import_lookup",
    .sql = "SELECT k.ord::int, m.id, m.how"
           " FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS k(email, phone, ord)"
           " CROSS JOIN LATERAL ("
           "  SELECT e.contact_id::text AS id, 'email' AS how, 1 AS pref FROM contact_emails e"
           "  WHERE k.email <> '' AND e.tenant_id = $1 AND e.address_norm = k.email"
           "  UNION ALL"
           "  SELECT '', 'email, row ' || x.row_no, 2 FROM import_keys x"
           "  WHERE k.email <> '' AND x.import_id = $2::uuid AND x.key = 'e:' || k.email"
           "  UNION ALL"
           "  (SELECT c.id::text, 'phone', 3 FROM contacts c"
           "   WHERE k.phone <> '' AND c.deleted_at IS NULL"
           "     AND jsonb_path_query_array(c.phones, '$[*].number') @> jsonb_build_array(k.phone)"
           "     AND (c.tenant_id = $1) IS TRUE ORDER BY c.created_at LIMIT 1)"
           "  UNION ALL"
           "  SELECT '', 'phone, row ' || x.row_no, 4 FROM import_keys x"
           "  WHERE k.phone <> '' AND x.import_id = $2::uuid AND x.key = 'p:' || k.phone"
           "  ORDER BY pref LIMIT 1) m",
    .nparams = 4,
    //  Planned at every run: a plan made while the table was small (a tenant's first
    //  import) would scan the tenant's contacts for each phone for ever after. The
    //  tenant test is written so that no tenant index can serve it, for the same reason.
    .custom_plan = true};

//  The contacts a chunk creates, their audit entries, email keys and ContactCreated events.
static const crm_stmt_t s_create = {
    .name = "import_create",
    .sql = "WITH ins AS ("
           "  INSERT INTO contacts (tenant_id, id, kind, type, first_name, last_name, name,"
           "    source, tags, emails, phones, created_at, updated_at, supplier, assignee,"
           "    organization_id, profile, updated_by)"
           "  SELECT $1, id, kind, type, first_name, last_name, name, source, tags::text[],"
           "    emails::jsonb, phones::jsonb, $2::timestamptz, $2::timestamptz, supplier::boolean,"
           "    assignee, nullif(org, '')::uuid, profile::jsonb, $3"
           "  FROM unnest($4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],"
           "    $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],"
           "    $16::text[], $17::text[])"
           "    AS r(id, kind, type, first_name, last_name, name, source, tags, emails, phones,"
           "         supplier, assignee, org, profile)"
           "  RETURNING *),"
           CONTACTS_AUDIT_CREATED_SQL("ins")
           " keys AS ("
           "  INSERT INTO contact_emails (tenant_id, address_norm, contact_id)"
           "  SELECT $1, a, c FROM unnest($18::text[], $19::uuid[]) AS k(a, c)),"
           CRM_OUTBOX_SQL("ev", "ContactCreated",
                          "unnest($20::text[], $4::uuid[], $21::text[]) AS x(e, a, p)",
                          "x.a::text", "$2", "x.e", "x.p")
           " SELECT count(*) FROM ins",
    .nparams = 21,
    .writes = true};

static const crm_stmt_t s_keys_add = {
    .name = "import_keys_add",
    .sql = "INSERT INTO import_keys (import_id, key, row_no)"
           " SELECT $1::uuid, k, r FROM unnest($2::text[], $3::int[]) AS x(k, r)"
           " ON CONFLICT DO NOTHING",
    .nparams = 3,
    .writes = true};

static const crm_stmt_t s_outcomes_add = {
    .name = "import_outcomes_add",
    .sql = "INSERT INTO import_outcomes (import_id, row_no, action, contact_id, matched_on,"
           "  field, message)"
           " SELECT $1::uuid, r, a, c, m, f, t"
           " FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])"
           "   AS x(r, a, c, m, f, t)",
    .nparams = 7,
    .writes = true};

//  A chunk's progress: $3 rows, $4 created, $5 updated, $6 skipped, $7 failed, $8 the
//  errors (JSON array), $9 finished.
static const crm_stmt_t s_progress = {
    .name = "import_progress",
    .sql = "WITH i AS ("
           "  UPDATE imports SET done_rows = done_rows + $3::int, created = created + $4::int,"
           "    updated = updated + $5::int, skipped = skipped + $6::int,"
           "    failed = failed + $7::int,"
           "    status = CASE WHEN $9::boolean THEN 'succeeded' ELSE 'running' END,"
           "    finished_at = CASE WHEN $9::boolean THEN now() END"
           "  WHERE tenant_id = $1 AND job_id = $2::uuid RETURNING id),"
           " p AS (DELETE FROM import_parts WHERE $9::boolean AND import_id IN (SELECT id FROM i)),"
           " k AS (DELETE FROM import_keys WHERE $9::boolean AND import_id IN (SELECT id FROM i))"
           " UPDATE jobs SET processed = processed + $3::int,"
           "   changed = changed + $4::int + $5::int, failed = failed + $7::int,"
           "   errors = CASE WHEN jsonb_array_length(errors) >= " S_NUMBER(IMPORT_ERRORS_MAX)
           "     THEN errors ELSE (SELECT coalesce(jsonb_agg(e), '[]') FROM (SELECT e FROM"
           "       jsonb_array_elements(errors || $8::jsonb) e"
           "       LIMIT " S_NUMBER(IMPORT_ERRORS_MAX) ") s) END,"
           "   status = CASE WHEN $9::boolean THEN 'succeeded' ELSE 'running' END,"
           "   finished_at = CASE WHEN $9::boolean THEN now() END"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 9,
    .writes = true};

// --- methods -------------------------------------------------------------------------------

static bool s_check_import_id(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return true;
    crm_call_error(call, "not_found", "no such import");
    return false;
}

static int s_read_import(crm_call_t *call, const char *id, Crm__Contacts__Import **out) {
    const char *params[] = {call->header->tenant_id, id};
    PGresult *res = crm_db_query(call->db, &s_import_get, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 404;
    if (PQntuples(res) == 0)
        crm_call_error(call, "not_found", "no such import");
    else {
        const char *json = PQgetvalue(res, 0, 0);
        crm_json_error_t err;
        *out = (Crm__Contacts__Import *)crm_json_to_pb(&crm__contacts__import__descriptor, json,
                                                       strlen(json), &err);
        code = *out ? 200 : 500;
        if (!*out)
            crm_call_error(call, "internal", "stored import is unreadable: %s %s", err.field,
                           err.message);
    }
    PQclear(res);
    return code;
}

//  The columns of a saved mapping, as a JSON object (new reference), or NULL.
static int s_saved_mapping(crm_call_t *call, crm_db_t *db, const char *tenant, const char *name,
                           json_t **out) {
    const char *params[] = {tenant, name};
    PGresult *res = crm_db_query(db, &s_mapping_get, params);
    if (!res)
        return call ? crm_call_db_failure(call) : 500;
    *out = NULL;
    if (PQntuples(res)) {
        json_t *m = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
        *out = json_incref(json_object_get(m, "columns"));
        json_decref(m);
    }
    PQclear(res);
    return 0;
}

//  Check one entry of a mapping (header -> field): a field error under prefix.
static void s_check_mapping_entry(crm_call_t *call, const char *prefix, const char *header,
                                  const char *name) {
    const char *key;
    char field[320];
    snprintf(field, sizeof field, "%s.%.256s", prefix, header);
    if (!header[0] || crm_utf8_chars(header) > 200)
        crm_call_field_error(call, field, "a header must be 1 to 200 characters");
    else if (s_field_named(name, &key) == -2) {
        char *fields = s_field_list();
        crm_call_field_error(call, field,
                             "\"%.64s\" is not a contact field (fields: %s; \"-\" ignores the "
                             "column)",
                             name, fields);
        free(fields);
    }
}

int contacts_import_create(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    const Crm__Contacts__CreateImportRequest *req = (const void *)request;
    for (size_t i = 0; i < req->n_mapping; i++)
        s_check_mapping_entry(call, "mapping", req->mapping[i]->key, req->mapping[i]->value);
    static const char *const encodings[] = {"", "auto", "utf-8", "utf8", "windows-1252",
                                            "cp1252", "latin-1", "latin1", "iso-8859-1"};
    bool known = false;
    for (size_t i = 0; i < sizeof encodings / sizeof *encodings; i++)
        known |= strcasecmp(req->encoding, encodings[i]) == 0;
    if (!known)
        crm_call_field_error(call, "encoding", "must be auto, utf-8, windows-1252 or latin-1");
    static const char *const delimiters[] = {"", ",", ";", "\t", "tab", "auto"};
    known = false;
    for (size_t i = 0; i < sizeof delimiters / sizeof *delimiters; i++)
        known |= strcasecmp(req->delimiter, delimiters[i]) == 0;
    if (!known)
        crm_call_field_error(call, "delimiter", "must be \",\", \";\", \"tab\" or \"auto\"");
    if (req->mapping_name[0]) {
        json_t *saved = NULL;
        int code = s_saved_mapping(call, call->db, call->header->tenant_id, req->mapping_name,
                                   &saved);
        if (code)
            return code;
        if (!saved)
            crm_call_field_error(call, "mappingName", "is not a saved mapping of this tenant");
        json_decref(saved);
    }
    if (call->errors.n)
        return 422;
    char id[CRM_UUID_LEN + 1], now[40];
    crm_uuid_v7(id);
    crm_time_now(now, sizeof now);
    char *options = crm_pb_to_json(request);
    const char *params[] = {call->header->tenant_id, id, call->header->actor_id, options, now};
    PGresult *res = crm_db_query(call->db, &s_import_insert, params);
    free(options);
    if (!res)
        return crm_call_db_failure(call);
    PQclear(res);
    int code = s_read_import(call, id, (Crm__Contacts__Import **)response);
    return code == 200 ? 201 : code;
}

int contacts_import_add_part(crm_call_t *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response) {
    const Crm__Contacts__AddImportPartRequest *req = (const void *)request;
    if (!s_check_import_id(call, req->id))
        return 404;
    if (req->part == 0)
        crm_call_field_error(call, "part", "is required: parts are numbered 1, 2, ...");
    if (req->data.len == 0)
        crm_call_field_error(call, "data", "is required: the part's CSV bytes");
    if (req->data.len > IMPORT_PART_MAX)
        crm_call_field_error(call, "data", "must be at most %d bytes", IMPORT_PART_MAX);
    if (call->errors.n)
        return 422;
    const char *params[] = {call->header->tenant_id, req->id};
    PGresult *res = crm_db_query(call->db, &s_import_lock, params);
    if (!res)
        return crm_call_db_failure(call);
    if (PQntuples(res) == 0) {
        PQclear(res);
        crm_call_error(call, "not_found", "no such import");
        return 404;
    }
    bool receiving = strcmp(PQgetvalue(res, 0, 0), "receiving") == 0;
    long parts = atol(PQgetvalue(res, 0, 1));
    long long bytes = atoll(PQgetvalue(res, 0, 2));
    PQclear(res);
    if (!receiving) {
        crm_call_error(call, "conflict", "the import has started: it takes no more parts");
        return 409;
    }
    if ((long)req->part > parts + 1) {
        crm_call_field_error(call, "part", "must be %ld: parts are added in order", parts + 1);
        crm_call_error(call, "conflict", "part %ld is expected next", parts + 1);
        return 409;
    }
    if (bytes + (long long)req->data.len > IMPORT_FILE_MAX) {
        crm_call_field_error(call, "data", "the file would exceed %lld bytes", IMPORT_FILE_MAX);
        return 422;
    }
    //  A part already received (a retry) is not added again.
    if ((long)req->part == parts + 1) {
        size_t hex_len = 2 + 2 * req->data.len;
        char *hex = malloc(hex_len + 1);
        static const char digits[] = "0123456789abcdef";
        hex[0] = '\\';
        hex[1] = 'x';
        for (size_t i = 0; i < req->data.len; i++) {
            hex[2 + 2 * i] = digits[req->data.data[i] >> 4];
            hex[3 + 2 * i] = digits[req->data.data[i] & 15];
        }
        hex[hex_len] = 0;
        char part[16], size[24];
        snprintf(part, sizeof part, "%u", req->part);
        snprintf(size, sizeof size, "%zu", req->data.len);
        const char *p[] = {call->header->tenant_id, req->id, part, hex, size};
        res = crm_db_query(call->db, &s_part_add, p);
        free(hex);
        if (!res)
            return crm_call_db_failure(call);
        PQclear(res);
    }
    return s_read_import(call, req->id, (Crm__Contacts__Import **)response);
}

int contacts_import_start(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    const Crm__Contacts__StartImportRequest *req = (const void *)request;
    if (!s_check_import_id(call, req->id))
        return 404;
    const char *params[] = {call->header->tenant_id, req->id};
    PGresult *res = crm_db_query(call->db, &s_import_lock, params);
    if (!res)
        return crm_call_db_failure(call);
    if (PQntuples(res) == 0) {
        PQclear(res);
        crm_call_error(call, "not_found", "no such import");
        return 404;
    }
    bool receiving = strcmp(PQgetvalue(res, 0, 0), "receiving") == 0;
    long parts = atol(PQgetvalue(res, 0, 1));
    json_t *options = json_loads(PQgetvalue(res, 0, 3), 0, NULL);
    PQclear(res);
    bool dry_run = json_is_true(json_object_get(options, "dryRun"));
    json_decref(options);
    if (!receiving) {
        crm_call_error(call, "conflict", "the import has already started");
        return 409;
    }
    if (parts == 0) {
        crm_call_field_error(call, "parts", "the import has no data: send its parts first");
        return 422;
    }
    char job[CRM_UUID_LEN + 1], now[40];
    crm_uuid_v7(job);
    crm_time_now(now, sizeof now);
    json_t *what = json_pack("{s:s, s:s}", "action", dry_run ? "import_dry_run" : "import",
                             "importId", req->id);
    char *what_text = json_dumps(what, JSON_COMPACT);
    json_decref(what);
    const char *p[] = {call->header->tenant_id, req->id, job, call->header->actor_id, what_text,
                       now};
    res = crm_db_query(call->db, &s_import_queue, p);
    free(what_text);
    if (!res)
        return crm_call_db_failure(call);
    PQclear(res);
    int code =
        contacts_job_read(call, call->db, call->header->tenant_id, job, (Crm__Contacts__Job **)response);
    return code == 200 ? 202 : code;
}

int contacts_import_get(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Contacts__GetImportRequest *req = (const void *)request;
    if (!s_check_import_id(call, req->id))
        return 404;
    return s_read_import(call, req->id, (Crm__Contacts__Import **)response);
}

int contacts_import_template(crm_call_t *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response) {
    (void)request;
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_custom_keys, params);
    if (!res)
        return crm_call_db_failure(call);
    crm_csv_writer_t *w = crm_csv_writer_new(NULL);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < S_FIELDS; i++)
            if (s_fields[i].header[0]) {
                const char *text = pass ? s_fields[i].example : s_fields[i].header;
                crm_csv_writer_field(w, text, strlen(text));
            }
        //  The tenant's custom fields, by key, empty in the example.
        for (int r = 0; r < PQntuples(res); r++) {
            char *header = zsys_sprintf("customFields.%s", PQgetvalue(res, r, 0));
            crm_csv_writer_field(w, pass ? "" : header, pass ? 0 : strlen(header));
            zstr_free(&header);
        }
        crm_csv_writer_end_record(w);
    }
    PQclear(res);
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
    *response = &t->base;
    return 200;
}

static int s_mapping_from(crm_call_t *call, PGresult *res, ProtobufCMessage **response) {
    const char *json = PQgetvalue(res, 0, 0);
    crm_json_error_t err;
    *response = crm_json_to_pb(&crm__contacts__import_mapping__descriptor, json, strlen(json), &err);
    if (!*response) {
        crm_call_error(call, "internal", "stored mapping is unreadable");
        return 500;
    }
    return 200;
}

static bool s_mapping_name_ok(crm_call_t *call, const char *name) {
    bool ok = name[0] && crm_utf8_chars(name) <= MAPPING_NAME_MAX;
    if (!ok)
        crm_call_field_error(call, "name", "must be 1 to %d characters", MAPPING_NAME_MAX);
    return ok;
}

int contacts_import_mapping_put(crm_call_t *call, const ProtobufCMessage *request,
                                ProtobufCMessage **response) {
    const Crm__Contacts__PutImportMappingRequest *req = (const void *)request;
    s_mapping_name_ok(call, req->name);
    if (!req->mapping || req->mapping->n_columns == 0)
        crm_call_field_error(call, "columns", "is required: header -> field");
    else
        for (size_t i = 0; i < req->mapping->n_columns; i++)
            s_check_mapping_entry(call, "columns", req->mapping->columns[i]->key,
                                  req->mapping->columns[i]->value);
    if (call->errors.n)
        return 422;
    json_t *columns = json_object();
    for (size_t i = 0; i < req->mapping->n_columns; i++)
        json_object_set_new(columns, req->mapping->columns[i]->key,
                            json_string(req->mapping->columns[i]->value));
    char *text = json_dumps(columns, JSON_COMPACT);
    json_decref(columns);
    const char *params[] = {call->header->tenant_id, req->name, text};
    PGresult *res = crm_db_query(call->db, &s_mapping_put, params);
    free(text);
    if (!res)
        return crm_call_db_failure(call);
    int code = s_mapping_from(call, res, response);
    PQclear(res);
    return code;
}

int contacts_import_mapping_get(crm_call_t *call, const ProtobufCMessage *request,
                                ProtobufCMessage **response) {
    const Crm__Contacts__GetImportMappingRequest *req = (const void *)request;
    const char *params[] = {call->header->tenant_id, req->name};
    PGresult *res = crm_db_query(call->db, &s_mapping_get, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 404;
    if (PQntuples(res))
        code = s_mapping_from(call, res, response);
    else
        crm_call_error(call, "not_found", "no such mapping");
    PQclear(res);
    return code;
}

int contacts_import_mapping_list(crm_call_t *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **response) {
    (void)request;
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_mapping_list, params);
    if (!res)
        return crm_call_db_failure(call);
    Crm__Contacts__ListImportMappingsResponse *list = malloc(sizeof *list);
    crm__contacts__list_import_mappings_response__init(list);
    int rows = PQntuples(res);
    list->items = rows ? calloc(rows, sizeof *list->items) : NULL;
    for (int i = 0; i < rows; i++) {
        const char *json = PQgetvalue(res, i, 0);
        crm_json_error_t err;
        ProtobufCMessage *m =
            crm_json_to_pb(&crm__contacts__import_mapping__descriptor, json, strlen(json), &err);
        if (m)
            list->items[list->n_items++] = (Crm__Contacts__ImportMapping *)m;
    }
    PQclear(res);
    *response = &list->base;
    return 200;
}

// --- the runner: reading the file from its parts --------------------------------------------

typedef struct {
    crm_db_t *db;
    char import_id[CRM_UUID_LEN + 1];
    long parts;       //  how many
    long next;        //  the next part to fetch
    unsigned char *data;
    size_t size, offset;
    bool failed;
} s_parts_t;

//  The read callback of the CSV reader: the parts in order, fetched one at a time.
static ssize_t s_parts_read(void *ctx, char *buffer, size_t size) {
    s_parts_t *p = ctx;
    while (p->offset == p->size) {
        if (p->next > p->parts)
            return 0;
        PQfreemem(p->data);
        p->data = NULL;
        p->size = p->offset = 0;
        char part[16];
        snprintf(part, sizeof part, "%ld", p->next++);
        const char *params[] = {p->import_id, part};
        PGresult *res = crm_db_query(p->db, &s_part_get, params);
        if (!res || PQntuples(res) == 0) {
            PQclear(res);
            p->failed = true;
            return -1;
        }
        p->data = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0), &p->size);
        PQclear(res);
        if (!p->data) {
            p->failed = true;
            return -1;
        }
    }
    size_t n = p->size - p->offset < size ? p->size - p->offset : size;
    memcpy(buffer, p->data + p->offset, n);
    p->offset += n;
    return (ssize_t)n;
}

// --- the runner: one row ------------------------------------------------------------------

//  An error of a row: the column (header, or the contact's field) and the rule.
typedef struct {
    char *field;
    char *message;
} s_error_t;

//  Which column a contact path belongs to ("phones[1]" -> the column that gave it).
typedef struct {
    char path[64];
    size_t column;
} s_origin_t;

typedef struct {
    size_t row;                    //  the CSV record
    Crm__Contacts__Contact *c;     //  prepared (normalised), NULL when the row is bad
    json_t *given;                 //  the members the row gave (for an update)
    contacts_row_t store;
    contacts_row_names_t names;
    s_error_t *errors;
    size_t n_errors;
    s_origin_t origins[24];
    size_t n_origins;
    char email[320];               //  the match keys: lower-case email, E.164 phone
    char phone[32];
    //  The outcome.
    const char *action;            //  create | update | skip | error
    char contact_id[CRM_UUID_LEN + 1];
    char matched_on[48];
} s_item_t;

static void s_item_destroy(s_item_t **item_p) {
    s_item_t *item = *item_p;
    if (!item)
        return;
    if (item->c)
        crm__contacts__contact__free_unpacked(item->c, NULL);
    json_decref(item->given);
    contacts_row_reset(&item->store);
    for (size_t i = 0; i < item->n_errors; i++) {
        free(item->errors[i].field);
        free(item->errors[i].message);
    }
    free(item->errors);
    free(item);
    *item_p = NULL;
}

static void s_origin(s_item_t *item, const char *path, size_t column) {
    if (item->n_origins < sizeof item->origins / sizeof *item->origins) {
        snprintf(item->origins[item->n_origins].path, sizeof item->origins[0].path, "%s", path);
        item->origins[item->n_origins++].column = column;
    }
}

//  Record an error of the row on a contact path, named by the column it came from.
static void s_row_error(s_item_t *item, const s_mapping_t *m, const char *path,
                        const char *message) {
    const s_origin_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < item->n_origins; i++) {
        const char *p = item->origins[i].path;
        size_t len = strlen(p);
        bool prefix = strncmp(path, p, len) == 0 &&
                      (path[len] == 0 || path[len] == '.' || path[len] == '[');
        //  A family: "emails[1]..." belongs to the email column, "phones" to a phone's.
        size_t family = strcspn(p, "[.");
        if (!prefix && strncmp(path, p, family) == 0 && (path[family] == 0 || path[family] == '[') &&
            !best)
            best = &item->origins[i];
        if (prefix && len >= best_len) {
            best = &item->origins[i];
            best_len = len;
        }
    }
    char field[400];
    if (best && path[0])
        snprintf(field, sizeof field, "%s (%s)", m->columns[best->column].header, path);
    else if (best)
        snprintf(field, sizeof field, "%s", m->columns[best->column].header);
    else
        snprintf(field, sizeof field, "%s", path);
    item->errors = realloc(item->errors, (item->n_errors + 1) * sizeof *item->errors);
    item->errors[item->n_errors].field = strdup(field);
    item->errors[item->n_errors].message = strdup(message);
    item->n_errors++;
}

static void s_call_clear(crm_call_t *call) {
    crm_errors_reset(&call->errors);
    call->error[0] = call->message[0] = call->conflict_id[0] = 0;
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

//  Build the row's contact as the API's JSON from the record's cells. Errors of a
//  single cell (a year that is not a number) are recorded on item.
static json_t *s_row_json(s_item_t *item, const s_mapping_t *m, const crm_csv_record_t *rec) {
    json_t *obj = json_object();
    size_t phones = 0;
    for (size_t i = 0; i < rec->count && i < m->count; i++) {
        const s_column_t *col = &m->columns[i];
        if (col->field < 0)
            continue;
        char *value = strdup(rec->fields[i]);
        crm_text_trim(value);
        if (!value[0]) {
            free(value);
            continue;
        }
        const s_field_t *f = &s_fields[col->field];
        char path[64];
        switch (f->kind) {
        case F_TEXT:
            json_object_set_new(obj, f->member, json_string(value));
            s_origin(item, f->member, i);
            break;
        case F_BOOL: {
            bool b;
            s_origin(item, f->member, i);
            if (s_parse_bool(value, &b))
                s_row_error(item, m, f->member, "must be yes or no (true/false, 1/0)");
            else
                json_object_set_new(obj, f->member, json_boolean(b));
            break;
        }
        case F_EMAIL: {
            json_t *emails = json_array();
            json_array_append_new(emails, json_pack("{s:s, s:b}", "address", value, "primary", 1));
            json_object_set_new(obj, "emails", emails);
            s_origin(item, "emails[0]", i);
            break;
        }
        case F_PHONE: {
            json_t *list = json_object_get(obj, "phones");
            if (!list) {
                list = json_array();
                json_object_set_new(obj, "phones", list);
            }
            json_array_append_new(list, json_pack("{s:s, s:s}", "number", value, "type", f->member));
            snprintf(path, sizeof path, "phones[%zu]", phones++);
            s_origin(item, path, i);
            break;
        }
        case F_TAGS: {
            json_t *tags = json_array();
            char *save = NULL;
            for (char *t = strtok_r(value, ";|", &save); t; t = strtok_r(NULL, ";|", &save)) {
                crm_text_trim(t);
                if (*t)
                    json_array_append_new(tags, json_string(t));
            }
            json_object_set_new(obj, "tags", tags);
            s_origin(item, "tags", i);
            break;
        }
        case F_COMPANY:
            json_object_set_new(obj, "companyName", json_string(value));
            json_object_set_new(obj, "companyBuyer", json_true());
            s_origin(item, "companyName", i);
            s_origin(item, "companyBuyer", i);
            break;
        case F_ADDRESS:
            json_object_set_new(s_member_object(obj, "addresses", true), f->member,
                                json_string(value));
            snprintf(path, sizeof path, "addresses[0].%s", f->member);
            s_origin(item, path, i);
            break;
        case F_VEHICLE:
        case F_VEHICLE_YEAR: {
            json_t *v = s_member_object(obj, "vehicles", true);
            json_object_set_new(v, "relation", json_string("interest"));
            snprintf(path, sizeof path, "vehicles[0].%s", f->member);
            s_origin(item, path, i);
            if (f->kind == F_VEHICLE)
                json_object_set_new(v, f->member, json_string(value));
            else {
                char *end = NULL;
                long year = strtol(value, &end, 10);
                if (*end || year <= 0 || year > 9999)
                    s_row_error(item, m, path, "must be a year (a whole number such as 2024)");
                else
                    json_object_set_new(v, f->member, json_integer(year));
            }
            break;
        }
        case F_CUSTOM:
            json_object_set_new(s_member_object(obj, "customFields", false), col->key,
                                json_string(value));
            snprintf(path, sizeof path, "customFields.%.34s", col->key);
            s_origin(item, path, i);
            break;
        }
        free(value);
    }
    return obj;
}

//  Turn one record into an item: its contact checked by the Create method's rules, or
//  its errors. -1 when the database failed (the step is tried again).
static int s_row_prepare(crm_call_t *call, const s_mapping_t *m, const crm_csv_record_t *rec,
                         s_item_t **out) {
    s_item_t *item = calloc(1, sizeof *item);
    item->row = rec->row;
    *out = item;
    if (rec->count != m->count) {
        char message[128];
        snprintf(message, sizeof message, "has %zu fields where the header has %zu", rec->count,
                 m->count);
        s_row_error(item, m, "row", message);
        return 0;
    }
    json_t *obj = s_row_json(item, m, rec);
    if (item->n_errors) {
        json_decref(obj);
        return 0;
    }
    crm_json_error_t err;
    Crm__Contacts__Contact *c =
        (Crm__Contacts__Contact *)crm_json_value_to_pb(&crm__contacts__contact__descriptor, obj,
                                                       "", &err);
    if (!c) {
        s_row_error(item, m, err.field, err.message);
        json_decref(obj);
        return 0;
    }
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    crm_pb_string_set(&c->id, id);
    if (c->source == CRM__CONTACTS__CONTACT_SOURCE__CONTACT_SOURCE_UNSPECIFIED)
        c->source = CRM__CONTACTS__CONTACT_SOURCE__CONTACT_SOURCE_IMPORT;
    int code = contacts_contact_prepare(call, c, &item->store, &item->names);
    if (code == 422) {
        for (size_t i = 0; i < call->errors.n; i++)
            s_row_error(item, m, call->errors.items[i]->field, call->errors.items[i]->message);
        s_call_clear(call);
        crm__contacts__contact__free_unpacked(c, NULL);
        contacts_row_reset(&item->store);
        json_decref(obj);
        return 0;
    }
    s_call_clear(call);
    if (code) {
        crm__contacts__contact__free_unpacked(c, NULL);
        json_decref(obj);
        return -1;
    }
    item->c = c;
    item->given = obj;
    if (c->n_emails) {
        snprintf(item->email, sizeof item->email, "%s", c->emails[0]->address);
        for (char *p = item->email; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    if (c->n_phones)
        snprintf(item->phone, sizeof item->phone, "%s", c->phones[0]->number);
    return 0;
}

// --- the runner: the state kept between steps ----------------------------------------------

struct _contacts_importer_t {
    contacts_t service;            //  what the Create rules read (the configuration)
    char job_id[CRM_UUID_LEN + 1]; //  the job whose file is open ("" none)
    long position;                 //  data rows done when the file was last left
    s_parts_t parts;
    crm_csv_t *csv;
    s_mapping_t mapping;
    s_item_t **carry;              //  rows read but left for the next chunk
    size_t n_carry;
};

contacts_importer_t *contacts_importer_new(const crm_config_t *cfg) {
    contacts_importer_t *self = calloc(1, sizeof *self);
    self->service.cfg = cfg;
    return self;
}

void contacts_importer_reset(contacts_importer_t *self) {
    crm_csv_close(&self->csv);
    PQfreemem(self->parts.data);
    memset(&self->parts, 0, sizeof self->parts);
    s_mapping_reset(&self->mapping);
    for (size_t i = 0; i < self->n_carry; i++)
        s_item_destroy(&self->carry[i]);
    free(self->carry);
    self->carry = NULL;
    self->n_carry = 0;
    self->job_id[0] = 0;
    self->position = 0;
}

void contacts_importer_destroy(contacts_importer_t **self_p) {
    if (!*self_p)
        return;
    contacts_importer_reset(*self_p);
    free(*self_p);
    *self_p = NULL;
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

//  The import's settings, read from its row.
typedef struct {
    char id[CRM_UUID_LEN + 1];
    char status[16];
    json_t *options;
    long parts, rows, done;
} s_import_t;

//  The mapping asked for: the saved one named, overridden by the request's own.
static int s_explicit_mapping(crm_db_t *db, const char *tenant, json_t *options, json_t **out) {
    *out = json_object();
    const char *name = json_string_value(json_object_get(options, "mappingName"));
    if (name && name[0]) {
        json_t *saved = NULL;
        if (s_saved_mapping(NULL, db, tenant, name, &saved))
            return -1;
        if (saved)
            json_object_update(*out, saved);
        json_decref(saved);
    }
    json_t *given = json_object_get(options, "mapping");
    if (json_is_object(given))
        json_object_update(*out, given);
    return 0;
}

//  Open the file of imp and read its header. 0, 1 with error set (a file-level error),
//  -1 when the database failed.
static int s_open(contacts_importer_t *self, crm_db_t *db, const char *tenant,
                  const s_import_t *imp, char *error, size_t size, size_t *error_row) {
    contacts_importer_reset(self);
    self->parts.db = db;
    snprintf(self->parts.import_id, sizeof self->parts.import_id, "%s", imp->id);
    self->parts.parts = imp->parts;
    self->parts.next = 1;
    crm_csv_options_t opts = {
        .delimiter = s_delimiter(json_string_value(json_object_get(imp->options, "delimiter"))),
        .encoding = s_encoding(json_string_value(json_object_get(imp->options, "encoding"))),
        .max_columns = IMPORT_COLUMNS_MAX,
    };
    self->csv = crm_csv_open(s_parts_read, &self->parts, &opts);
    crm_csv_record_t header;
    int rc = crm_csv_next(self->csv, &header);
    if (rc != 1) {
        if (self->parts.failed)
            return -1;
        *error_row = crm_csv_error_row(self->csv);
        if (crm_csv_error_code(self->csv) == CRM_CSV_EMPTY)
            snprintf(error, size, "the file is empty: it needs a header row and at least one row");
        else
            snprintf(error, size, "%s", crm_csv_error(self->csv));
        return 1;
    }
    json_t *explicit = NULL;
    if (s_explicit_mapping(db, tenant, imp->options, &explicit)) {
        json_decref(explicit);
        return -1;
    }
    *error_row = 1;
    rc = s_mapping_resolve(&self->mapping, explicit, &header, error, size);
    json_decref(explicit);
    return rc ? 1 : 0;
}

//  Fail the import with a file-level error: nothing of it is written.
static int s_fail(crm_db_t *db, const char *tenant, const char *job_id, const char *error,
                  size_t row) {
    char item[24] = "";
    if (row)
        snprintf(item, sizeof item, "%zu", row);
    json_t *errors = json_pack("[{s:s, s:s, s:s}]", "item", item, "field", "file", "message", error);
    char *text = json_dumps(errors, JSON_COMPACT);
    json_decref(errors);
    const char *params[] = {tenant, job_id, error, text};
    PGresult *res = crm_db_query(db, &s_failed, params);
    free(text);
    PQclear(res);
    crm_log_kv(CRM_LOG_INFO, "import refused", "job", job_id, "detail", error, NULL);
    return res ? 0 : -1;
}

//  The scan: the whole file once, for its file-level errors and its row count.
static int s_scan(contacts_importer_t *self, crm_db_t *db, const char *tenant, const char *job_id,
                  const s_import_t *imp) {
    char error[1024] = "";
    size_t error_row = 0;
    int rc = s_open(self, db, tenant, imp, error, sizeof error, &error_row);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        contacts_importer_reset(self);
        return s_fail(db, tenant, job_id, error, error_row);
    }
    //  The custom fields the columns name must be the tenant's.
    const char *params[] = {tenant};
    PGresult *res = crm_db_query(db, &s_custom_keys, params);
    if (!res)
        return -1;
    for (size_t i = 0; i < self->mapping.count && !error[0]; i++) {
        const s_column_t *col = &self->mapping.columns[i];
        if (!col->key)
            continue;
        bool known = false;
        for (int r = 0; r < PQntuples(res) && !known; r++)
            known = strcmp(PQgetvalue(res, r, 0), col->key) == 0;
        if (!known)
            snprintf(error, sizeof error,
                     "column %zu (\"%s\") maps to customFields.%s, which is not a custom field of "
                     "this tenant (see GET /v1/contact-fields)",
                     i + 1, col->header, col->key);
    }
    PQclear(res);
    if (error[0]) {
        contacts_importer_reset(self);
        return s_fail(db, tenant, job_id, error, 1);
    }
    long rows = 0;
    crm_csv_record_t rec;
    while ((rc = crm_csv_next(self->csv, &rec)) == 1)
        rows++;
    if (rc < 0) {
        if (self->parts.failed)
            return -1;
        snprintf(error, sizeof error, "%s", crm_csv_error(self->csv));
        error_row = crm_csv_error_row(self->csv);
    } else if (rows == 0)
        snprintf(error, sizeof error, "the file has a header row but no contacts");
    if (error[0]) {
        contacts_importer_reset(self);
        return s_fail(db, tenant, job_id, error, error_row);
    }
    char rows_text[24];
    snprintf(rows_text, sizeof rows_text, "%ld", rows);
    json_t *mapping = s_mapping_json(&self->mapping);
    char *mapping_text = json_dumps(mapping, JSON_COMPACT);
    json_decref(mapping);
    crm_csv_encoding_t enc = crm_csv_encoding(self->csv);
    const char *enc_name = enc == CRM_CSV_ENCODING_AUTO ? "ASCII" : crm_csv_encoding_name(enc);
    const char *p[] = {tenant, job_id, rows_text, mapping_text, enc_name};
    res = crm_db_query(db, &s_scanned, p);
    free(mapping_text);
    PQclear(res);
    //  The rows are read again from the start.
    contacts_importer_reset(self);
    return res ? 0 : -1;
}

//  Text arrays of a chunk, built column by column.
typedef struct {
    const char **items;
    size_t n;
} s_array_t;

static void s_push(s_array_t *a, const char *text) {
    a->items = realloc(a->items, (a->n + 1) * sizeof *a->items);
    a->items[a->n++] = text;
}

static char *s_literal(s_array_t *a) {
    return crm_db_text_array(a->items, a->n);
}

//  Update the contact of item with the row's values: what the row gave replaces the
//  contact's own; an email, phone, tag or vehicle is added to those it has.
static int s_update(crm_call_t *call, s_item_t *item) {
    static const crm_method_t *update = NULL;
    for (const crm_method_t *m = contacts_methods; !update && m->name; m++)
        if (strcmp(m->name, "Update") == 0)
            update = m;
    Crm__Contacts__Contact *existing = NULL;
    int code = contacts_store_get(call, item->contact_id, true, &existing);
    if (code != 200)
        return code == 404 ? 404 : -1;
    json_t *have = crm_pb_to_json_value(&existing->base);
    crm__contacts__contact__free_unpacked(existing, NULL);
    json_t *row = crm_pb_to_json_value(&item->c->base);  //  normalised
    json_t *mask = json_array();
    const char *key;
    json_t *value;
    json_object_foreach(item->given, key, value) {
        json_t *v = json_object_get(row, key);
        if (!v)
            continue;
        json_t *list = json_object_get(have, key);
        if (strcmp(key, "emails") == 0 || strcmp(key, "phones") == 0 ||
            strcmp(key, "tags") == 0 || strcmp(key, "vehicles") == 0) {
            if (!list) {
                list = json_array();
                json_object_set_new(have, key, list);
            }
            size_t i;
            json_t *add;
            json_array_foreach(v, i, add) {
                bool present = false;
                for (size_t j = 0; j < json_array_size(list) && !present; j++) {
                    json_t *old = json_array_get(list, j);
                    if (json_is_string(add))
                        present = strcasecmp(json_string_value(old), json_string_value(add)) == 0;
                    else if (strcmp(key, "emails") == 0)
                        present = strcasecmp(json_string_value(json_object_get(old, "address")),
                                             json_string_value(json_object_get(add, "address"))) == 0;
                    else if (strcmp(key, "phones") == 0)
                        present = json_equal(json_object_get(old, "number"),
                                             json_object_get(add, "number"));
                    else
                        present = json_equal(old, add);
                }
                if (!present) {
                    json_t *copy = json_deep_copy(add);
                    if (json_is_object(copy))
                        json_object_del(copy, "primary");
                    json_array_append_new(list, copy);
                }
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
        json_array_append_new(mask, json_string(key));
    }
    json_t *req_json = json_pack("{s:s, s:o, s:o}", "id", item->contact_id, "contact", have,
                                 "updateMask", mask);
    json_decref(row);
    crm_json_error_t err;
    ProtobufCMessage *req =
        crm_json_value_to_pb(&crm__contacts__update_contact_request__descriptor, req_json, "", &err);
    json_decref(req_json);
    if (!req)
        return -1;
    ProtobufCMessage *response = NULL;
    code = update->fn(call, req, &response);
    protobuf_c_message_free_unpacked(req, NULL);
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    return code;
}

//  The matches of the chunk's valid rows.
static int s_match(crm_db_t *db, const char *tenant, const char *import_id, s_item_t **items,
                   size_t n) {
    s_array_t emails = {0}, phones = {0};
    for (size_t i = 0; i < n; i++) {
        s_push(&emails, items[i]->c ? items[i]->email : "");
        s_push(&phones, items[i]->c ? items[i]->phone : "");
    }
    char *a = s_literal(&emails), *b = s_literal(&phones);
    const char *params[] = {tenant, import_id, a, b};
    PGresult *res = crm_db_query(db, &s_lookup, params);
    free(a);
    free(b);
    free(emails.items);
    free(phones.items);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        size_t ord = (size_t)atol(PQgetvalue(res, r, 0));
        if (ord < 1 || ord > n)
            continue;
        s_item_t *item = items[ord - 1];
        snprintf(item->contact_id, sizeof item->contact_id, "%s", PQgetvalue(res, r, 1));
        snprintf(item->matched_on, sizeof item->matched_on, "%s", PQgetvalue(res, r, 2));
    }
    PQclear(res);
    return 0;
}

//  Write the chunk's new contacts in three statements; -1 when the database failed,
//  -2 on a unique violation (an email taken meanwhile: the caller goes row by row).
static int s_create_rows(crm_db_t *db, const char *tenant, const char *actor, s_item_t **items,
                         size_t n, const char *now) {
    s_array_t cols[14] = {{0}}, key_addr = {0}, key_id = {0}, ev_ids = {0}, payloads = {0};
    crm_outbox_event_t *events = calloc(n + 1, sizeof *events);
    size_t n_events = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        s_item_t *item = items[i];
        contacts_row_t *r = &item->store;
        const char *values[14] = {r->id,          r->kind,          r->type,        r->first_name,
                                  r->last_name,   r->name,          r->source,      r->tags_array,
                                  r->emails_json, r->phones_json,   r->supplier,    r->assignee,
                                  r->organization_id ? r->organization_id : "",    r->profile_json};
        for (int k = 0; k < 14; k++)
            s_push(&cols[k], values[k]);
        for (size_t e = 0; e < item->c->n_emails; e++) {
            char *key = strdup(item->c->emails[e]->address);
            for (char *p = key; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            s_push(&key_addr, key);
            s_push(&key_id, r->id);
        }
        crm_pb_string_set(&item->c->created_at, now);
        crm_pb_string_set(&item->c->updated_at, now);
        Crm__Events__ContactCreated event = CRM__EVENTS__CONTACT_CREATED__INIT;
        event.contact = item->c;
        event.actor_id = (char *)actor;
        if (crm_outbox_event_init(&events[n_events], &event.base, now))
            rc = -1;
        else {
            s_push(&ev_ids, events[n_events].event_id);
            s_push(&payloads, events[n_events].payload_hex);
            n_events++;
        }
    }
    if (rc == 0) {
        char *literals[21] = {0};
        for (int k = 0; k < 14; k++)
            literals[3 + k] = s_literal(&cols[k]);
        literals[17] = s_literal(&key_addr);
        literals[18] = s_literal(&key_id);
        literals[19] = s_literal(&ev_ids);
        literals[20] = s_literal(&payloads);
        const char *params[21] = {tenant, now, actor};
        for (int k = 3; k < 21; k++)
            params[k] = literals[k];
        if (crm_db_savepoint(db, "import_create"))
            rc = -1;
        else {
            PGresult *res = crm_db_query(db, &s_create, params);
            if (res)
                crm_db_release(db, "import_create");
            else {
                rc = strcmp(crm_db_sqlstate(db), "23505") == 0 ? -2 : -1;
                crm_db_rollback_to(db, "import_create");
            }
            PQclear(res);
        }
        for (int k = 3; k < 21; k++)
            free(literals[k]);
    }
    for (size_t i = 0; i < key_addr.n; i++)
        free((char *)key_addr.items[i]);
    for (int k = 0; k < 14; k++)
        free(cols[k].items);
    free(key_addr.items);
    free(key_id.items);
    free(ev_ids.items);
    free(payloads.items);
    for (size_t i = 0; i < n_events; i++)
        crm_outbox_event_reset(&events[i]);
    free(events);
    return rc;
}

//  Read the next rows into items (those carried over first), up to IMPORT_CHUNK. 0,
//  1 with error set (a file-level error the scan did not see: the file changed), -1
//  when the database failed. *end at the end of the file.
static int s_read_rows(contacts_importer_t *self, crm_call_t *call, s_item_t **items,
                       size_t *n, bool *end, char *error, size_t size) {
    *n = 0;
    for (size_t i = 0; i < self->n_carry; i++)
        items[(*n)++] = self->carry[i];
    self->n_carry = 0;
    *end = false;
    while (*n < IMPORT_CHUNK) {
        crm_csv_record_t rec;
        int rc = crm_csv_next(self->csv, &rec);
        if (rc == 0) {
            *end = true;
            break;
        }
        if (rc < 0) {
            if (self->parts.failed)
                return -1;
            snprintf(error, size, "%s", crm_csv_error(self->csv));
            return 1;
        }
        s_item_t *item = NULL;
        rc = s_row_prepare(call, &self->mapping, &rec, &item);
        items[(*n)++] = item;
        if (rc)
            return -1;
    }
    return 0;
}

//  Where the chunk ends: before the first row matching an earlier row of the chunk (it
//  must see that row's contact).
static size_t s_cut(s_item_t **items, size_t n) {
    zhashx_t *seen = zhashx_new();
    size_t cut = n;
    for (size_t i = 0; i < n && cut == n; i++) {
        if (!items[i]->c)
            continue;
        char key[340];
        for (int k = 0; k < 2 && cut == n; k++) {
            const char *v = k ? items[i]->phone : items[i]->email;
            if (!v[0])
                continue;
            snprintf(key, sizeof key, "%c:%s", k ? 'p' : 'e', v);
            if (zhashx_lookup(seen, key))
                cut = i;
        }
        for (int k = 0; k < 2 && cut == n; k++) {
            const char *v = k ? items[i]->phone : items[i]->email;
            if (v[0]) {
                snprintf(key, sizeof key, "%c:%s", k ? 'p' : 'e', v);
                zhashx_insert(seen, key, (void *)1);
            }
        }
    }
    zhashx_destroy(&seen);
    return cut;
}

//  One chunk of rows: decide, write, record. 0 or -1.
static int s_chunk(contacts_importer_t *self, crm_db_t *db, const char *tenant,
                   const char *job_id, const char *actor, const s_import_t *imp, bool *finished) {
    char request_id[80];
    snprintf(request_id, sizeof request_id, "import-%s", job_id);
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.tenant_id = (char *)tenant;
    header.actor_id = (char *)actor;
    header.role = "admin";
    header.request_id = request_id;
    header.method = "Import";
    crm_call_t call = {.header = &header, .db = db, .arg = &self->service};

    s_item_t **items = calloc(IMPORT_CHUNK + self->n_carry + 1, sizeof *items);
    size_t n = 0;
    bool end = false;
    char error[1024] = "";
    int rc = s_read_rows(self, &call, items, &n, &end, error, sizeof error);
    size_t cut = rc == 0 ? s_cut(items, n) : n;
    if (cut < n) {
        self->carry = calloc(n - cut, sizeof *self->carry);
        for (size_t i = cut; i < n; i++)
            self->carry[self->n_carry++] = items[i];
        n = cut;
        end = false;
    }
    const char *policy = json_string_value(json_object_get(imp->options, "policy"));
    if (!policy)
        policy = "skip";
    bool dry_run = json_is_true(json_object_get(imp->options, "dryRun"));
    if (rc == 0)
        rc = s_match(db, tenant, imp->id, items, n);

    //  Decide each row.
    char now[40];
    crm_time_now(now, sizeof now);
    s_item_t **creates = calloc(n + 1, sizeof *creates);
    size_t n_creates = 0;
    long created = 0, updated = 0, skipped = 0, failed = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        s_item_t *item = items[i];
        if (!item->c)
            item->action = "error";
        else if (!item->matched_on[0])
            item->action = "create";
        else if (strcmp(policy, "create") == 0) {
            if (strncmp(item->matched_on, "email", 5) == 0) {
                char message[160];
                snprintf(message, sizeof message, "is already used by %s%s",
                         item->contact_id[0] ? "contact " : "an earlier row: ",
                         item->contact_id[0] ? item->contact_id : item->matched_on + 7);
                s_row_error(item, &self->mapping, "emails[0].address", message);
                item->action = "error";
            } else {
                item->action = "create";
                item->contact_id[0] = 0;
            }
        } else if (strcmp(policy, "update") == 0)
            item->action = "update";
        else
            item->action = "skip";
        if (strcmp(item->action, "create") == 0) {
            creates[n_creates++] = item;
            snprintf(item->contact_id, sizeof item->contact_id, "%s", item->c->id);
        } else if (strcmp(item->action, "update") == 0 && !dry_run && item->contact_id[0]) {
            //  A savepoint each: an update that fails fails its row only.
            if (crm_db_savepoint(db, "import_row")) {
                rc = -1;
                break;
            }
            int code = s_update(&call, item);
            if (code == 200)
                crm_db_release(db, "import_row");
            else if (code > 0) {
                crm_db_rollback_to(db, "import_row");
                for (size_t f = 0; f < call.errors.n; f++)
                    s_row_error(item, &self->mapping, call.errors.items[f]->field,
                                call.errors.items[f]->message);
                if (!call.errors.n)
                    s_row_error(item, &self->mapping, "", call.message);
                item->action = "error";
                if (code >= 500)
                    rc = -1;
            } else
                rc = -1;
            s_call_clear(&call);
        }
    }
    //  The new contacts: all at once, or row by row when one of them conflicts.
    if (rc == 0 && n_creates && !dry_run) {
        rc = s_create_rows(db, tenant, actor, creates, n_creates, now);
        for (size_t i = 0; rc == -2 && i < n_creates + 1; i++) {
            if (i == n_creates) {
                rc = 0;
                break;
            }
            int one = s_create_rows(db, tenant, actor, &creates[i], 1, now);
            if (one == -2) {
                s_row_error(creates[i], &self->mapping, "emails[0].address",
                            "is already used by another contact");
                creates[i]->action = "error";
            } else if (one)
                rc = -1;
        }
    }
    if (rc == 0 && n_creates && dry_run) {
        s_array_t keys = {0}, rows = {0};
        char (*numbers)[24] = calloc(2 * n_creates + 1, sizeof *numbers);
        char (*texts)[340] = calloc(2 * n_creates + 1, sizeof *texts);
        size_t k = 0;
        for (size_t i = 0; i < n_creates; i++)
            for (int which = 0; which < 2; which++) {
                const char *v = which ? creates[i]->phone : creates[i]->email;
                if (!v[0])
                    continue;
                snprintf(texts[k], sizeof texts[k], "%c:%s", which ? 'p' : 'e', v);
                snprintf(numbers[k], sizeof numbers[k], "%zu", creates[i]->row);
                s_push(&keys, texts[k]);
                s_push(&rows, numbers[k]);
                k++;
            }
        char *a = s_literal(&keys), *b = s_literal(&rows);
        const char *params[] = {imp->id, a, b};
        PGresult *res = crm_db_query(db, &s_keys_add, params);
        rc = res ? 0 : -1;
        PQclear(res);
        free(a);
        free(b);
        free(keys.items);
        free(rows.items);
        free(numbers);
        free(texts);
    }

    //  Outcomes (the first rows), errors (the job's report), progress.
    json_t *errors = json_array();
    s_array_t o_row = {0}, o_action = {0}, o_id = {0}, o_match = {0}, o_field = {0}, o_msg = {0};
    char (*row_numbers)[24] = calloc(n + 1, sizeof *row_numbers);
    for (size_t i = 0; i < n && rc == 0; i++) {
        s_item_t *item = items[i];
        const char *action = item->action;
        if (strcmp(action, "create") == 0)
            created++;
        else if (strcmp(action, "update") == 0)
            updated++;
        else if (strcmp(action, "skip") == 0)
            skipped++;
        else
            failed++;
        snprintf(row_numbers[i], sizeof row_numbers[i], "%zu", item->row);
        for (size_t e = 0; e < item->n_errors && e < IMPORT_ROW_ERRORS_MAX; e++)
            json_array_append_new(errors, json_pack("{s:s, s:s, s:s}", "item", row_numbers[i],
                                                    "field", item->errors[e].field, "message",
                                                    item->errors[e].message));
        //  The first rows' outcomes, and every row's error: the full error report.
        if (item->row - 1 > IMPORT_OUTCOMES_MAX && strcmp(action, "error") != 0)
            continue;
        s_push(&o_row, row_numbers[i]);
        s_push(&o_action, action);
        s_push(&o_id, strcmp(action, "error") == 0 ? "" : item->contact_id);
        s_push(&o_match, item->matched_on);
        s_push(&o_field, item->n_errors ? item->errors[0].field : "");
        s_push(&o_msg, item->n_errors ? item->errors[0].message : "");
    }
    if (rc == 0 && o_row.n) {
        char *lit[6] = {s_literal(&o_row), s_literal(&o_action), s_literal(&o_id),
                        s_literal(&o_match), s_literal(&o_field), s_literal(&o_msg)};
        const char *params[] = {imp->id, lit[0], lit[1], lit[2], lit[3], lit[4], lit[5]};
        PGresult *res = crm_db_query(db, &s_outcomes_add, params);
        rc = res ? 0 : -1;
        PQclear(res);
        for (int k = 0; k < 6; k++)
            free(lit[k]);
    }
    free(o_row.items);
    free(o_action.items);
    free(o_id.items);
    free(o_match.items);
    free(o_field.items);
    free(o_msg.items);
    free(row_numbers);
    if (rc == 0 && error[0]) {
        rc = 1;  //  the file changed since the scan
    } else if (rc == 0) {
        *finished = end && self->n_carry == 0;
        char counts[5][24];
        snprintf(counts[0], sizeof counts[0], "%zu", n);
        snprintf(counts[1], sizeof counts[1], "%ld", created);
        snprintf(counts[2], sizeof counts[2], "%ld", updated);
        snprintf(counts[3], sizeof counts[3], "%ld", skipped);
        snprintf(counts[4], sizeof counts[4], "%ld", failed);
        char *errors_text = json_dumps(errors, JSON_COMPACT);
        const char *params[] = {tenant,    job_id,    counts[0],   counts[1],
                                counts[2], counts[3], counts[4],   errors_text,
                                *finished ? "true" : "false"};
        PGresult *res = crm_db_query(db, &s_progress, params);
        free(errors_text);
        rc = res ? 0 : -1;
        PQclear(res);
        self->position += (long)n;
    }
    json_decref(errors);
    for (size_t i = 0; i < n; i++)
        s_item_destroy(&items[i]);
    free(items);
    free(creates);
    s_call_clear(&call);
    if (rc == 1)
        return s_fail(db, tenant, job_id, error, 0);
    return rc;
}

static int s_load(crm_db_t *db, const char *tenant, const char *job_id, s_import_t *imp) {
    const char *params[] = {tenant, job_id};
    PGresult *res = crm_db_query(db, &s_import_load, params);
    if (!res || PQntuples(res) == 0) {
        PQclear(res);
        return -1;
    }
    snprintf(imp->id, sizeof imp->id, "%s", PQgetvalue(res, 0, 0));
    snprintf(imp->status, sizeof imp->status, "%s", PQgetvalue(res, 0, 1));
    imp->options = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
    imp->parts = atol(PQgetvalue(res, 0, 3));
    imp->rows = atol(PQgetvalue(res, 0, 4));
    imp->done = atol(PQgetvalue(res, 0, 5));
    PQclear(res);
    return imp->options ? 0 : -1;
}

int contacts_import_step(contacts_importer_t *self, crm_db_t *db, const char *tenant_id,
                         const char *job_id, const char *actor_id, bool *finished) {
    s_import_t imp = {0};
    if (s_load(db, tenant_id, job_id, &imp)) {
        json_decref(imp.options);
        return -1;
    }
    int rc = 0;
    if (strcmp(imp.status, "queued") == 0)
        rc = s_scan(self, db, tenant_id, job_id, &imp);
    else if (strcmp(imp.status, "running") == 0) {
        //  The file as it was left, or opened again with the rows done skipped.
        if (strcmp(self->job_id, job_id) != 0 || self->position != imp.done) {
            char error[1024];
            size_t error_row = 0;
            rc = s_open(self, db, tenant_id, &imp, error, sizeof error, &error_row);
            for (long skipped = 0; rc == 0 && skipped < imp.done; skipped++) {
                crm_csv_record_t rec;
                if (crm_csv_next(self->csv, &rec) != 1)
                    rc = self->parts.failed ? -1 : 1;
            }
            if (rc > 0) {
                contacts_importer_reset(self);
                rc = s_fail(db, tenant_id, job_id, "the file changed since it was read", 0);
            } else if (rc == 0) {
                snprintf(self->job_id, sizeof self->job_id, "%s", job_id);
                self->position = imp.done;
            }
        }
        if (rc == 0 && self->csv)
            rc = s_chunk(self, db, tenant_id, job_id, actor_id, &imp, finished);
        if (*finished)
            contacts_importer_reset(self);
    } else
        *finished = true;  //  nothing left to do (the job outlived its import)
    json_decref(imp.options);
    return rc;
}

//  Every row the import refused, in row order, from the cursor (the last row of the
//  previous page).
static const crm_stmt_t s_errors_page = {
    .name = "import_errors_page",
    .sql = "SELECT o.row_no, o.field, o.message FROM import_outcomes o"
           " JOIN imports i ON i.id = o.import_id"
           " WHERE i.tenant_id = $1 AND o.import_id = $2::uuid AND o.action = 'error'"
           "   AND o.row_no > $3::int ORDER BY o.row_no LIMIT $4::int",
    .nparams = 4};

#define ERRORS_DEFAULT_LIMIT 200
#define ERRORS_MAX_LIMIT 1000

int contacts_import_errors(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    const Crm__Contacts__ListImportErrorsRequest *req = (const void *)request;
    if (!s_check_import_id(call, req->id))
        return 404;
    int limit = crm_page_limit(call, "limit", req->limit, ERRORS_DEFAULT_LIMIT, ERRORS_MAX_LIMIT);
    long long after = 0;
    if (req->cursor[0] && crm_cursor_number(req->cursor, 1, LONG_MAX, &after))
        crm_call_field_error(call, "cursor", "is not a cursor returned by this list");
    if (call->errors.n)
        return 422;
    //  The import must be the tenant's (404 otherwise), whatever its errors.
    Crm__Contacts__Import *imp = NULL;
    int code = s_read_import(call, req->id, &imp);
    if (code != 200)
        return code;
    crm__contacts__import__free_unpacked(imp, NULL);
    char after_text[24], limit_text[16];
    snprintf(after_text, sizeof after_text, "%lld", after);
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *params[] = {call->header->tenant_id, req->id, after_text, limit_text};
    PGresult *res = crm_db_query(call->db, &s_errors_page, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res), n = rows > limit ? limit : rows;
    Crm__Contacts__ListImportErrorsResponse *list = malloc(sizeof *list);
    crm__contacts__list_import_errors_response__init(list);
    list->items = n > 0 ? calloc((size_t)n, sizeof *list->items) : NULL;
    for (int i = 0; i < n; i++) {
        Crm__Contacts__ImportRowOutcome *o = malloc(sizeof *o);
        crm__contacts__import_row_outcome__init(o);
        o->row = (uint32_t)atol(PQgetvalue(res, i, 0));
        o->action = strdup("error");
        o->field = strdup(PQgetvalue(res, i, 1));
        o->message = strdup(PQgetvalue(res, i, 2));
        list->items[list->n_items++] = o;
    }
    if (rows > limit && n > 0)
        list->next_cursor = zsys_sprintf("%u", list->items[n - 1]->row);
    PQclear(res);
    *response = &list->base;
    return 200;
}
