/*  System tests of CSV import over HTTP and through crmctl: the template, mappings
    (default, explicit, saved), a dry run that writes no contact, the real run as a job,
    duplicates under each policy, per-row errors with their row and column, every kind of
    bad file refused before anything is written, encodings (Windows-1252 converted, BOM,
    CRLF, line ends inside quotes), and the file sent in parts (a part sent twice is
    added once). */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static harness_t *h;

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    const char *posts[][2] = {
        {"/v1/tags", "{\"name\":\"VIP\"}"},
        {"/v1/tags", "{\"name\":\"Trade-in\"}"},
        {"/v1/contact-fields",
         "{\"key\":\"budget\",\"label\":\"Budget\",\"type\":\"number\"}"},
    };
    for (size_t i = 0; i < sizeof posts / sizeof posts[0]; i++) {
        harness_response_t r = harness_http("POST", posts[i][0], h->key_a, posts[i][1], NULL);
        assert_int_equal(r.status, 201);
        harness_response_free(&r);
    }
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

// --- helpers ---------------------------------------------------------------------------

static char *s_base64(const char *data, size_t len) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned char)data[i] << 16;
        if (i + 1 < len)
            v |= (unsigned char)data[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)data[i + 2];
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = i + 1 < len ? a[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? a[v & 63] : '=';
    }
    out[o] = 0;
    return out;
}

static long long s_int(const json_t *obj, const char *member) {
    return json_integer_value(json_object_get(obj, member));
}

static const char *s_str(const json_t *obj, const char *member) {
    const char *s = json_string_value(json_object_get(obj, member));
    return s ? s : "";
}

static long long s_contacts(void) {
    return harness_sql_scalar(
        "SELECT count(*) FROM contacts.contacts WHERE tenant_id = 'tenant-a'");
}

//  Create an import with options (a JSON object's members, "" for none); its id.
static void s_create(const char *options, char id[64]) {
    char body[1024];
    snprintf(body, sizeof body, "{%s}", options);
    harness_response_t r = harness_http("POST", "/v1/imports", h->key_a, body, NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(harness_json_str(&r, "status"), "receiving");
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

static harness_response_t s_part(const char *id, int part, const char *data, size_t len) {
    char *b64 = s_base64(data, len);
    char *body = malloc(strlen(b64) + 64);
    sprintf(body, "{\"part\":%d,\"data\":\"%s\"}", part, b64);
    char path[128];
    snprintf(path, sizeof path, "/v1/imports/%s/parts", id);
    harness_response_t r = harness_http("POST", path, h->key_a, body, NULL);
    free(b64);
    free(body);
    return r;
}

//  Start import id and wait for its job to end; the job's JSON (caller decrefs).
static json_t *s_start_wait(const char *id) {
    char path[128];
    snprintf(path, sizeof path, "/v1/imports/%s/start", id);
    harness_response_t r = harness_http("POST", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 202);
    assert_string_equal(harness_json_str(&r, "kind"), "import");
    char job[64];
    snprintf(job, sizeof job, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s", job);
    for (int i = 0; i < 600; i++) {
        r = harness_http("GET", path, h->key_a, NULL, NULL);
        assert_int_equal(r.status, 200);
        const char *status = harness_json_str(&r, "status");
        if (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0) {
            json_t *out = json_incref(r.json);
            harness_response_free(&r);
            return out;
        }
        harness_response_free(&r);
        zclock_sleep(50);
    }
    fail_msg("import job %s did not finish", job);
    return NULL;
}

static json_t *s_get_import(const char *id) {
    char path[128];
    snprintf(path, sizeof path, "/v1/imports/%s", id);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *out = json_incref(r.json);
    harness_response_free(&r);
    return out;
}

//  Import csv (one part) with options; the job's JSON; *import the import's.
static json_t *s_import(const char *options, const char *csv, size_t len, json_t **import) {
    char id[64];
    s_create(options, id);
    harness_response_t r = s_part(id, 1, csv, len);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    json_t *job = s_start_wait(id);
    if (import)
        *import = s_get_import(id);
    return job;
}

//  The job's error for row, "" for field/message when none.
static const json_t *s_job_error(const json_t *job, const char *row, int nth) {
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(job, "errors"), i, e) {
        if (strcmp(s_str(e, "item"), row) == 0 && nth-- == 0)
            return e;
    }
    return NULL;
}

static const json_t *s_outcome(const json_t *import, long row) {
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(import, "outcomes"), i, o) {
        if (s_int(o, "row") == row)
            return o;
    }
    return NULL;
}

//  A contact of tenant-a found by email: its JSON, or NULL.
static json_t *s_contact_by_email(const char *email) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts.contact_emails WHERE tenant_id = 'tenant-a'"
             " AND address_norm = lower('%s')",
             email);
    if (harness_sql_scalar(sql) != 1)
        return NULL;
    char path[256];
    snprintf(path, sizeof path, "/v1/contacts?q=%s", email);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    json_t *item = json_incref(json_array_get(json_object_get(r.json, "items"), 0));
    harness_response_free(&r);
    return item;
}

// --- tests ------------------------------------------------------------------------------

//  The template, imported as it is, creates its example contact.
static void test_template(void **state) {
    (void)state;
    harness_response_t r = harness_http("GET", "/v1/imports/template", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    const char *content = harness_json_str(&r, "content");
    assert_non_null(strstr(content, "First Name,Last Name,Type,Email,Phone,Source"));
    assert_non_null(strstr(content, "customFields.budget"));
    assert_non_null(strstr(content, "Ann,Lee,prospect,ann.lee@example.com"));
    assert_string_equal(harness_json_str(&r, "filename"), "contacts-import-template.csv");
    long long before = s_contacts();
    json_t *import = NULL;
    json_t *job = s_import("", content, strlen(content), &import);
    assert_string_equal(s_str(job, "status"), "succeeded");
    assert_int_equal(s_int(job, "total"), 1);
    assert_int_equal(s_int(job, "changed"), 1);
    assert_int_equal(s_contacts(), before + 1);
    assert_int_equal(s_int(import, "created"), 1);
    assert_string_equal(s_str(json_object_get(import, "mapping"), "Vehicle Year"), "vehicle.year");
    harness_response_free(&r);
    json_t *c = s_contact_by_email("ann.lee@example.com");
    assert_non_null(c);
    assert_string_equal(s_str(c, "source"), "walk_in");
    json_t *phone = json_array_get(json_object_get(c, "phones"), 0);
    assert_string_equal(s_str(phone, "number"), "+12025550142");
    json_t *vehicle = json_array_get(json_object_get(c, "vehicles"), 0);
    assert_string_equal(s_str(vehicle, "model"), "RAV4");
    assert_int_equal(s_int(vehicle, "year"), 2024);
    json_decref(c);
    json_decref(job);
    json_decref(import);
    //  Parts leave with the job.
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.import_parts i"
                                        " JOIN contacts.imports m ON m.id = i.import_id"
                                        " WHERE m.status = 'succeeded'"),
                     0);
}

//  A dry run reports what would happen and writes no contact; the real run then does it,
//  with a ContactCreated event per contact and the bad row reported by row and column.
static void test_dry_run_then_import(void **state) {
    (void)state;
    const char *csv = "First Name,Last Name,E-mail,Mobile,Tags,customFields.budget\n"
                      "Dana,Reyes,dana@dry.example,(202) 555-0101,VIP,30000\n"
                      "Eli,Stone,eli@dry.example,,VIP|Trade-in,\n"
                      "Fay,Moss,not-an-email,,,\n"
                      "Gus,Hale,gus@dry.example,555,,\n"
                      "Hal,Ives,hal@dry.example,,Unknown Tag,\n"
                      "Ida,Kent,ida@dry.example,,,lots\n";
    long long before = s_contacts();
    long long events = harness_sql_scalar(
        "SELECT count(*) FROM contacts.outbox WHERE type = 'ContactCreated'");
    json_t *import = NULL;
    json_t *job = s_import("\"dryRun\":true", csv, strlen(csv), &import);
    assert_string_equal(s_str(job, "status"), "succeeded");
    assert_string_equal(s_str(job, "action"), "import_dry_run");
    assert_int_equal(s_int(job, "total"), 6);
    assert_int_equal(s_int(job, "processed"), 6);
    assert_int_equal(s_int(job, "failed"), 4);
    assert_int_equal(s_int(import, "created"), 2);
    assert_int_equal(s_int(import, "failed"), 4);
    assert_true(json_is_true(json_object_get(import, "dryRun")));
    assert_string_equal(s_str(s_outcome(import, 2), "action"), "create");
    assert_string_equal(s_str(s_outcome(import, 4), "action"), "error");
    assert_string_equal(s_str(s_outcome(import, 4), "field"), "E-mail (emails[0].address)");
    assert_string_equal(s_str(s_outcome(import, 4), "message"), "is not a valid email address");
    assert_int_equal(s_contacts(), before);
    assert_int_equal(harness_sql_scalar(
                         "SELECT count(*) FROM contacts.outbox WHERE type = 'ContactCreated'"),
                     events);
    json_decref(job);
    json_decref(import);

    job = s_import("", csv, strlen(csv), &import);
    assert_string_equal(s_str(job, "status"), "succeeded");
    assert_string_equal(s_str(job, "action"), "import");
    assert_int_equal(s_int(job, "changed"), 2);
    assert_int_equal(s_int(job, "failed"), 4);
    assert_int_equal(s_contacts(), before + 2);
    assert_int_equal(harness_sql_scalar(
                         "SELECT count(*) FROM contacts.outbox WHERE type = 'ContactCreated'"),
                     events + 2);
    //  Each contact created has its audit entry, in the importer's name.
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.contacts c"
                                        " WHERE c.tenant_id = 'tenant-a' AND NOT EXISTS ("
                                        "  SELECT 1 FROM contacts.contact_audit a"
                                        "  WHERE a.contact_id = c.id AND a.action = 'created'"
                                        "    AND a.actor_id <> '')"),
                     0);
    //  Each bad row by its row number, column and rule.
    const json_t *e = s_job_error(job, "4", 0);
    assert_non_null(e);
    assert_string_equal(s_str(e, "field"), "E-mail (emails[0].address)");
    e = s_job_error(job, "5", 0);
    assert_non_null(e);
    assert_string_equal(s_str(e, "field"), "Mobile (phones[0].number)");
    e = s_job_error(job, "6", 0);
    assert_non_null(e);
    assert_string_equal(s_str(e, "field"), "Tags (tags[0])");
    assert_non_null(strstr(s_str(e, "message"), "tag catalogue"));
    e = s_job_error(job, "7", 0);
    assert_non_null(e);
    assert_string_equal(s_str(e, "field"), "customFields.budget (customFields.budget)");
    json_t *c = s_contact_by_email("eli@dry.example");
    assert_non_null(c);
    assert_string_equal(s_str(c, "source"), "import");
    assert_int_equal(json_array_size(json_object_get(c, "tags")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "tags"), 1)),
                        "Trade-in");
    json_decref(c);
    c = s_contact_by_email("dana@dry.example");
    assert_string_equal(s_str(json_object_get(c, "customFields"), "budget"), "30000");
    json_decref(c);
    assert_null(s_contact_by_email("gus@dry.example"));
    json_decref(job);
    json_decref(import);
}

//  A VIN with a bad check digit fails its row.
static void test_bad_vin(void **state) {
    (void)state;
    const char *csv = "First Name,Last Name,Email,VIN,Vehicle Make,Vehicle Year\n"
                      "Vic,Vin,vic@vin.example,1HGCM82633A004353,Honda,2003\n"
                      "Val,Vin,val@vin.example,1HGCM82633A004352,Honda,2003\n"
                      "Vera,Vin,vera@vin.example,,Honda,two thousand\n";
    json_t *import = NULL;
    json_t *job = s_import("", csv, strlen(csv), &import);
    assert_int_equal(s_int(job, "changed"), 1);
    const json_t *e = s_job_error(job, "2", 0);
    assert_non_null(e);
    assert_string_equal(s_str(e, "field"), "VIN (vehicles[0].vin)");
    e = s_job_error(job, "4", 0);
    assert_non_null(e);
    assert_string_equal(s_str(e, "field"), "Vehicle Year (vehicles[0].year)");
    json_decref(job);
    json_decref(import);
}

//  The full error report: every refused row, past the first 1,000 rows too, in pages.
static void test_error_report(void **state) {
    (void)state;
    size_t size = 1400 * 64;
    char *csv = malloc(size), *p = csv;
    p += sprintf(p, "First Name,Last Name,Email\n");
    int bad = 0;
    for (int i = 2; i <= 1401; i++) {  // rows 2..1401
        bool wrong = i > 1050 && i % 3 == 0;
        bad += wrong;
        p += sprintf(p, "Rep%d,Ort,%s%d@report.example\n", i, wrong ? "bad@@" : "r", i);
    }
    char id[64];
    s_create("", id);
    harness_response_t r = s_part(id, 1, csv, (size_t)(p - csv));
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    json_t *job = s_start_wait(id);
    assert_int_equal(s_int(job, "failed"), bad);
    json_decref(job);
    char path[256], cursor[32] = "";
    int seen = 0;
    long last = 0;
    for (int page = 0; page < 10; page++) {
        snprintf(path, sizeof path, "/v1/imports/%s/errors?limit=50%s%s", id,
                 cursor[0] ? "&cursor=" : "", cursor);
        r = harness_http("GET", path, h->key_a, NULL, NULL);
        assert_int_equal(r.status, 200);
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(r.json, "items"), i, o) {
            assert_true(s_int(o, "row") > last);
            last = s_int(o, "row");
            assert_true(last > 1050 && last % 3 == 0);
            assert_string_equal(s_str(o, "field"), "Email (emails[0].address)");
            seen++;
        }
        snprintf(cursor, sizeof cursor, "%s", harness_json_str(&r, "nextCursor"));
        harness_response_free(&r);
        if (!cursor[0])
            break;
    }
    assert_int_equal(seen, bad);
    assert_int_equal(last, 1401 - 1401 % 3);
    //  Another tenant's import: not found.
    snprintf(path, sizeof path, "/v1/imports/%s/errors", id);
    r = harness_http("GET", path, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    free(csv);
}

//  Rows matching a contact (by email, else by phone) under each policy.
static void test_duplicate_policies(void **state) {
    (void)state;
    harness_response_t r = harness_http(
        "POST", "/v1/contacts", h->key_a,
        "{\"firstName\":\"Mia\",\"lastName\":\"Old\",\"emails\":[{\"address\":\"mia@dup.example\"}]}",
        NULL);
    assert_int_equal(r.status, 201);
    char mia[64];
    snprintf(mia, sizeof mia, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"firstName\":\"Ned\",\"lastName\":\"Old\","
                     "\"phones\":[{\"number\":\"(202) 555-0177\"}]}",
                     NULL);
    assert_int_equal(r.status, 201);
    char ned[64];
    snprintf(ned, sizeof ned, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    const char *csv = "First Name,Last Name,Email,Phone,City\n"
                      "Mia,New,MIA@dup.example,,Austin\n"
                      "Ned,New,ned@dup.example,202-555-0177,Boston\n"
                      "Ola,New,ola@dup.example,,Chicago\n"
                      "Ola,Again,ola@dup.example,,Denver\n";
    long long before = s_contacts();

    //  skip (the default), dry run: the matches named, a later row matching an earlier one.
    json_t *import = NULL;
    json_t *job = s_import("\"dryRun\":true", csv, strlen(csv), &import);
    assert_string_equal(s_str(s_outcome(import, 2), "action"), "skip");
    assert_string_equal(s_str(s_outcome(import, 2), "contactId"), mia);
    assert_string_equal(s_str(s_outcome(import, 2), "matchedOn"), "email");
    assert_string_equal(s_str(s_outcome(import, 3), "contactId"), ned);
    assert_string_equal(s_str(s_outcome(import, 3), "matchedOn"), "phone");
    assert_string_equal(s_str(s_outcome(import, 4), "action"), "create");
    assert_string_equal(s_str(s_outcome(import, 5), "action"), "skip");
    assert_string_equal(s_str(s_outcome(import, 5), "matchedOn"), "email, row 4");
    assert_int_equal(s_contacts(), before);
    json_decref(job);
    json_decref(import);

    //  skip for real: one created, three skipped, nothing changed.
    job = s_import("\"policy\":\"skip\"", csv, strlen(csv), &import);
    assert_int_equal(s_int(import, "created"), 1);
    assert_int_equal(s_int(import, "skipped"), 3);
    assert_int_equal(s_contacts(), before + 1);
    json_t *c = s_contact_by_email("mia@dup.example");
    assert_string_equal(s_str(c, "lastName"), "Old");
    json_decref(c);
    json_decref(job);
    json_decref(import);

    //  update: the matches take the rows' values; an email is added to the phone match.
    job = s_import("\"policy\":\"update\"", csv, strlen(csv), &import);
    assert_int_equal(s_int(import, "updated"), 4);
    assert_int_equal(s_int(import, "failed"), 0);
    assert_int_equal(s_contacts(), before + 1);
    c = s_contact_by_email("mia@dup.example");
    assert_string_equal(s_str(c, "id"), mia);
    assert_string_equal(s_str(c, "lastName"), "New");
    assert_string_equal(s_str(json_array_get(json_object_get(c, "addresses"), 0), "city"),
                        "Austin");
    json_decref(c);
    c = s_contact_by_email("ned@dup.example");
    assert_non_null(c);
    assert_string_equal(s_str(c, "id"), ned);
    json_decref(c);
    c = s_contact_by_email("ola@dup.example");
    assert_string_equal(s_str(c, "lastName"), "Again");
    json_decref(c);
    json_decref(job);
    json_decref(import);

    //  create: an email in use fails its row; a phone match is created anyway.
    const char *csv2 = "First Name,Last Name,Email,Phone\n"
                       "Mia,Twin,mia@dup.example,\n"
                       "Ned,Twin,,202-555-0177\n";
    job = s_import("\"policy\":\"create\"", csv2, strlen(csv2), &import);
    assert_int_equal(s_int(import, "created"), 1);
    assert_int_equal(s_int(import, "failed"), 1);
    const json_t *e = s_job_error(job, "2", 0);
    assert_non_null(e);
    assert_string_equal(s_str(e, "field"), "Email (emails[0].address)");
    assert_non_null(strstr(s_str(e, "message"), mia));
    assert_int_equal(s_contacts(), before + 2);
    json_decref(job);
    json_decref(import);
}

//  A file-level error fails the import before any row is written, naming where.
static void s_bad_file(const char *options, const char *csv, size_t len, const char *expect) {
    long long before = s_contacts();
    json_t *import = NULL;
    json_t *job = s_import(options, csv, len, &import);
    assert_string_equal(s_str(job, "status"), "failed");
    assert_string_equal(s_str(import, "status"), "failed");
    const char *error = s_str(import, "error");
    if (!strstr(error, expect))
        fail_msg("error \"%s\" does not say \"%s\"", error, expect);
    const json_t *e = json_array_get(json_object_get(job, "errors"), 0);
    assert_string_equal(s_str(e, "message"), error);
    assert_int_equal(s_int(job, "changed"), 0);
    assert_int_equal(s_contacts(), before);
    json_decref(job);
    json_decref(import);
}

static void test_bad_files(void **state) {
    (void)state;
    //  Broken quoting, far into the file: still nothing written.
    size_t size = 64 * 3000;
    char *csv = malloc(size);
    size_t n = (size_t)sprintf(csv, "First Name,Last Name,Email\n");
    for (int i = 0; i < 2500; i++)
        n += (size_t)sprintf(csv + n, "Q%d,Quote,q%d@quote.example\n", i, i);
    n += (size_t)sprintf(csv + n, "Bad,\"Quo\"te,bad@quote.example\n");
    s_bad_file("", csv, n, "row 2502 (line 2502), column 2");
    free(csv);
    s_bad_file("", "First Name,Last Name\n\"Ann,Lee\n", 21 + 9,
               "row 2 (line 2), column 1: quoted field opened here is never closed");
    //  Mixed encodings: UTF-8 then a Windows-1252 byte.
    const char mixed[] = "First Name,Last Name\nZo\xc3\xab,Lee\nZo\xeb,Lee\n";
    s_bad_file("", mixed, sizeof mixed - 1, "row 3 (line 3), column 1");
    //  10,000 columns.
    char *wide = malloc(10000 * 3 + 64);
    n = 0;
    for (int i = 0; i < 10000; i++)
        n += (size_t)sprintf(wide + n, "%sc%d", i ? "," : "", i % 10);
    wide[n++] = '\n';
    s_bad_file("", wide, n, "column 1001");
    free(wide);
    //  Empty (only line ends), header only.
    s_bad_file("", "\r\n\r\n", 4, "the file is empty");
    s_bad_file("", "First Name,Last Name,Email\r\n", 28, "a header row but no contacts");
    //  A column nothing maps, a mistyped custom field, a column the mapping names twice.
    s_bad_file("", "First Name,Last Name,Notes\nA,B,C\n", 33,
               "column 3 (\"Notes\") is not mapped to a contact field");
    s_bad_file("", "First Name,Last Name,customFields.budgte\nA,B,1\n", 46,
               "customFields.budgte, which is not a custom field of this tenant");
    s_bad_file("\"mapping\":{\"Surname\":\"lastName\"}", "First Name,Last Name\nA,B\n", 25,
               "the mapping names the column \"Surname\", which the file does not have");
    s_bad_file("", "First Name,Email,E-mail\nA,a@x.example,b@x.example\n", 50,
               "both map to email");

    //  A mapping naming no field is refused when the import is created.
    harness_response_t r = harness_http(
        "POST", "/v1/imports", h->key_a, "{\"mapping\":{\"Surname\":\"lastname_\"}}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "mapping.Surname");
    harness_response_free(&r);
    r = harness_http("POST", "/v1/imports", h->key_a, "{\"encoding\":\"ebcdic\"}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "encoding");
    harness_response_free(&r);
    //  No data at all: nothing to start.
    char id[64];
    s_create("", id);
    char path[128];
    snprintf(path, sizeof path, "/v1/imports/%s/start", id);
    r = harness_http("POST", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 422);
    harness_response_free(&r);
}

//  Windows-1252 converted; a BOM, CRLF, a line end inside quotes; ';' as delimiter.
static void test_encodings(void **state) {
    (void)state;
    const char cp1252[] = "First Name;Last Name;Email;Address;City\r\n"
                          "Zo\xeb;M\xfcller;zoe@enc.example;\"1 Rue \x80 Line\r\nSuite 2\";Paris\r\n";
    json_t *import = NULL;
    json_t *job = s_import("\"encoding\":\"windows-1252\",\"delimiter\":\";\"", cp1252,
                           sizeof cp1252 - 1, &import);
    assert_string_equal(s_str(job, "status"), "succeeded");
    assert_int_equal(s_int(job, "changed"), 1);
    assert_string_equal(s_str(import, "encoding"), "Windows-1252");
    json_t *c = s_contact_by_email("zoe@enc.example");
    assert_string_equal(s_str(c, "firstName"), "Zo\xc3\xab");
    assert_string_equal(s_str(c, "lastName"), "M\xc3\xbcller");
    assert_string_equal(s_str(json_array_get(json_object_get(c, "addresses"), 0), "line1"),
                        "1 Rue \xe2\x82\xac Line\r\nSuite 2");
    json_decref(c);
    json_decref(job);
    json_decref(import);

    //  auto: the first non-ASCII field decides (here UTF-8, after a BOM).
    const char bom[] = "\xef\xbb\xbf"
                       "First Name,Last Name,Email\r\n"
                       "Ren\xc3\xa9,\"O\"\"Neil\",rene@enc.example\r\n";
    job = s_import("", bom, sizeof bom - 1, &import);
    assert_int_equal(s_int(job, "changed"), 1);
    c = s_contact_by_email("rene@enc.example");
    assert_string_equal(s_str(c, "firstName"), "Ren\xc3\xa9");
    assert_string_equal(s_str(c, "lastName"), "O\"Neil");
    json_decref(c);
    json_decref(job);
    json_decref(import);
}

//  A file in parts: a part sent again is not added twice; a part out of order is refused;
//  a started import takes no more parts.
static void test_parts(void **state) {
    (void)state;
    const char *csv = "First Name,Last Name,Email\nPia,Part,pia@parts.example\nPat,Part,"
                      "pat@parts.example\n";
    size_t len = strlen(csv), cut1 = 20, cut2 = 45;
    char id[64];
    s_create("", id);
    harness_response_t r = s_part(id, 1, csv, cut1);
    assert_int_equal(r.status, 200);
    assert_int_equal(s_int(r.json, "parts"), 1);
    harness_response_free(&r);
    r = s_part(id, 1, csv, cut1);  //  a retry
    assert_int_equal(r.status, 200);
    assert_int_equal(s_int(r.json, "parts"), 1);
    assert_string_equal(harness_json_str(&r, "bytes"), "20");
    harness_response_free(&r);
    r = s_part(id, 3, csv + cut2, len - cut2);
    assert_int_equal(r.status, 409);
    harness_response_free(&r);
    r = s_part(id, 2, csv + cut1, cut2 - cut1);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = s_part(id, 3, csv + cut2, len - cut2);
    assert_int_equal(s_int(r.json, "parts"), 3);
    harness_response_free(&r);
    json_t *job = s_start_wait(id);
    assert_int_equal(s_int(job, "changed"), 2);
    json_decref(job);
    r = s_part(id, 4, "x\n", 2);
    assert_int_equal(r.status, 409);
    harness_response_free(&r);
    //  Another tenant sees nothing of it.
    char path[128];
    snprintf(path, sizeof path, "/v1/imports/%s", id);
    r = harness_http("GET", path, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
}

//  A saved mapping, by name, with the request's own over it.
static void test_saved_mapping(void **state) {
    (void)state;
    harness_response_t r =
        harness_http("PUT", "/v1/imports/mappings/dms", h->key_a,
                     "{\"columns\":{\"Cust First\":\"firstName\",\"Cust Last\":\"lastName\","
                     "\"Cust Mail\":\"email\",\"Internal\":\"-\"}}",
                     NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/imports/mappings", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(s_str(json_array_get(json_object_get(r.json, "items"), 0), "name"), "dms");
    harness_response_free(&r);
    r = harness_http("PUT", "/v1/imports/mappings/bad", h->key_a,
                     "{\"columns\":{\"X\":\"nosuchfield\"}}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "columns.X");
    harness_response_free(&r);
    const char *csv = "Cust First,Cust Last,Cust Mail,Internal,Auto\nSam,Saved,sam@map.example,"
                      "x,Kia\n";
    json_t *import = NULL;
    json_t *job = s_import("\"mappingName\":\"dms\",\"mapping\":{\"Auto\":\"vehicle.make\"}", csv,
                           strlen(csv), &import);
    assert_int_equal(s_int(job, "changed"), 1);
    json_t *c = s_contact_by_email("sam@map.example");
    assert_string_equal(s_str(c, "firstName"), "Sam");
    assert_string_equal(s_str(json_array_get(json_object_get(c, "vehicles"), 0), "make"), "Kia");
    json_decref(c);
    json_decref(job);
    json_decref(import);
    r = harness_http("POST", "/v1/imports", h->key_a, "{\"mappingName\":\"nope\"}", NULL);
    assert_int_equal(r.status, 422);
    harness_response_free(&r);
}

//  An import outlives a restart of the suite: it goes on from the rows done, and no row
//  is written twice.
static void test_resumes_after_restart(void **state) {
    (void)state;
    long rows = 20000;
    char *csv = malloc((size_t)rows * 64 + 64);
    size_t n = (size_t)sprintf(csv, "First Name,Last Name,Email\n");
    for (long i = 0; i < rows; i++)
        n += (size_t)sprintf(csv + n, "Res%ld,Tart,res%ld@restart.example\n", i, i);
    long long before = s_contacts();
    char id[64];
    s_create("", id);
    harness_response_t r = s_part(id, 1, csv, n);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    free(csv);
    char path[128];
    snprintf(path, sizeof path, "/v1/imports/%s/start", id);
    r = harness_http("POST", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 202);
    char job[64];
    snprintf(job, sizeof job, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    //  Once some chunks are in, and well before the last, stop and start everything.
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT coalesce((SELECT processed FROM contacts.jobs"
             " WHERE id = '%s' AND status = 'running'), 0)",
             job);
    long long done = 0;
    for (int i = 0; i < 2000 && done < 1000; i++) {
        done = harness_sql_scalar(sql);
        if (done == HARNESS_SQL_FAILED)
            done = 0;
        zclock_sleep(5);
    }
    assert_true(done >= 1000 && done < rows);
    harness_restart_suite();
    assert_true(harness_wait_ready(30000));
    snprintf(path, sizeof path, "/v1/jobs/%s", job);
    for (int i = 0; i < 1200; i++) {
        r = harness_http("GET", path, h->key_a, NULL, NULL);
        bool over = strcmp(harness_json_str(&r, "status"), "succeeded") == 0;
        if (over) {
            assert_int_equal(s_int(r.json, "processed"), rows);
            assert_int_equal(s_int(r.json, "changed"), rows);
        }
        harness_response_free(&r);
        if (over)
            break;
        zclock_sleep(50);
    }
    assert_int_equal(s_contacts(), before + rows);
}

// --- crmctl -------------------------------------------------------------------------------

//  Run crmctl with args; its exit status, and its stdout and stderr (caller frees).
static int s_crmctl(const char *const *args, char **out, char **err) {
    char out_path[300], err_path[300];
    snprintf(out_path, sizeof out_path, "%s/crmctl.out", h->dir);
    snprintf(err_path, sizeof err_path, "%s/crmctl.err", h->dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(o, 1);
        dup2(e, 2);
        unsetenv("CRM_CONFIG");
        setenv("CRM_BROKER_ENDPOINT", h->broker, 1);
        setenv("CRM_DATABASE_DSN", h->dsn, 1);
        const char *bin = getenv("CRM_BIN_DIR") ? getenv("CRM_BIN_DIR") : "build/bin";
        char path[512];
        snprintf(path, sizeof path, "%s/crmctl", bin);
        const char *argv[32] = {path};
        for (int i = 0; args[i] && i < 30; i++)
            argv[i + 1] = args[i];
        execv(path, (char **)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    zchunk_t *chunk = zchunk_slurp(out_path, 0);
    *out = chunk ? strndup((char *)zchunk_data(chunk), zchunk_size(chunk)) : strdup("");
    zchunk_destroy(&chunk);
    chunk = zchunk_slurp(err_path, 0);
    *err = chunk ? strndup((char *)zchunk_data(chunk), zchunk_size(chunk)) : strdup("");
    zchunk_destroy(&chunk);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_crmctl_import(void **state) {
    (void)state;
    char file[300];
    snprintf(file, sizeof file, "%s/people.csv", h->dir);
    FILE *f = fopen(file, "w");
    fprintf(f, "Given,Family,Mail,Mobile\n");
    for (int i = 0; i < 2500; i++)
        fprintf(f, "Cli%d,Ctl,cli%d@ctl.example,\n", i, i);
    fprintf(f, "Bad,Row,bad-email,\n");
    fclose(f);
    long long before = s_contacts();
    char *out, *err;
    const char *dry[] = {"contacts", "import",  file, "--tenant", "tenant-a", "--map",
                         "Given=firstName,Family=lastName,Mail=email", "--dry-run", NULL};
    int rc = s_crmctl(dry, &out, &err);
    if (rc != 1)
        fail_msg("crmctl: %d\n%s\n%s", rc, out, err);
    assert_non_null(strstr(out, "dry run"));
    assert_non_null(strstr(out, "2500 to create"));
    assert_non_null(strstr(out, "row 2502"));
    assert_int_equal(s_contacts(), before);
    free(out);
    free(err);

    const char *real[] = {"contacts", "import",  file, "--tenant", "tenant-a", "--map",
                          "Given=firstName,Family=lastName,Mail=email", "--part-size", "20000",
                          NULL};
    rc = s_crmctl(real, &out, &err);
    if (rc != 1)
        fail_msg("crmctl: %d\n%s\n%s", rc, out, err);
    assert_non_null(strstr(out, "2500 created"));
    assert_non_null(strstr(out, "1 failed"));
    assert_non_null(strstr(out, "row 2502: Mail (emails[0].address): is not a valid email"));
    assert_int_equal(s_contacts(), before + 2500);
    free(out);
    free(err);

    //  Everything skipped now: exit 0.
    const char *again[] = {"contacts", "import", file, "--tenant", "tenant-a", "--map",
                           "Given=firstName,Family=lastName,Mail=email,Mobile=-", "--policy",
                           "skip", NULL};
    snprintf(file + strlen(file) - 4, 8, "2.csv");
    f = fopen(file, "w");
    fprintf(f, "Given,Family,Mail,Mobile\nCli0,Ctl,cli0@ctl.example,\n");
    fclose(f);
    rc = s_crmctl(again, &out, &err);
    if (rc != 0)
        fail_msg("crmctl: %d\n%s\n%s", rc, out, err);
    assert_non_null(strstr(out, "1 skipped"));
    free(out);
    free(err);

    //  A bad command line, a missing file.
    const char *bad[] = {"contacts", "import", file, "--tenant", "tenant-a", "--policy", "merge",
                         NULL};
    rc = s_crmctl(bad, &out, &err);
    assert_int_equal(rc, 2);
    free(out);
    free(err);
    const char *missing[] = {"contacts", "import", "/nonexistent.csv", "--tenant", "tenant-a",
                             NULL};
    rc = s_crmctl(missing, &out, &err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "/nonexistent.csv"));
    free(out);
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template),         cmocka_unit_test(test_dry_run_then_import),
        cmocka_unit_test(test_bad_vin),          cmocka_unit_test(test_error_report),
        cmocka_unit_test(test_duplicate_policies),
        cmocka_unit_test(test_bad_files),        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_parts),            cmocka_unit_test(test_saved_mapping),
        cmocka_unit_test(test_crmctl_import),    cmocka_unit_test(test_resumes_after_restart),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
