/*  System tests of contact exports: CSV by a filter with chosen fields (read back with
    common/csv.h), the marketing rule, XLSX (a valid workbook holding the values), a large
    export in several parts joined again, crmctl contacts export as a subprocess, and
    each bad request refused with its field or a 404/410 that says why. */
#include "apikey.h"
#include "csv.h"
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "systest_sql.h"

static harness_t *h;

static int s_setup(void **state) {
    (void)state;
    //  The retention sweep runs often, so the expiry test need not wait a minute.
    static const char *const env[] = {"CRM_CONTACTS_EXPORT_SWEEP_INTERVAL_MS=200", NULL};
    h = harness_start(env);
    harness_response_t r = harness_http("POST", "/v1/tags", h->key_a, "{\"name\":\"VIP\"}", NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
    r = harness_http("POST", "/v1/contact-fields", h->key_a,
                     "{\"key\":\"budget\",\"label\":\"Budget\",\"type\":\"number\"}", NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  Create a contact from body (JSON members after the braces); its id into id.
static void s_contact(const char *members, char id[64]) {
    char body[1024];
    snprintf(body, sizeof body, "{%s}", members);
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    if (r.status != 201)
        fprintf(stderr, "%s: %ld %s\n", body, r.status, r.body);
    assert_int_equal(r.status, 201);
    if (id)
        snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

static long long s_int(const harness_response_t *r, const char *member) {
    return json_integer_value(json_object_get(r->json, member));
}

//  Ask for an export; expect 201 and its id in id.
static void s_export(const char *body, char id[64]) {
    harness_response_t r = harness_http("POST", "/v1/exports", h->key_a, body, NULL);
    if (r.status != 201)
        fprintf(stderr, "%s: %ld %s\n", body, r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    char location[128];
    snprintf(location, sizeof location, "/v1/exports/%s", id);
    assert_non_null(strstr(r.location, location));
    harness_response_free(&r);
}

//  Wait until export id has succeeded; its final state.
static harness_response_t s_wait(const char *id) {
    char path[128];
    snprintf(path, sizeof path, "/v1/exports/%s", id);
    for (int i = 0; i < 1200; i++) {
        harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
        if (r.status == 503) {  // the contacts daemon is restarting (test_export_restart)
            harness_response_free(&r);
            zclock_sleep(50);
            continue;
        }
        assert_int_equal(r.status, 200);
        const char *status = harness_json_str(&r, "status");
        if (strcmp(status, "succeeded") == 0)
            return r;
        if (strcmp(status, "queued") && strcmp(status, "running"))
            fail_msg("export %s: %s", id, r.body);
        harness_response_free(&r);
        zclock_sleep(50);
    }
    fail_msg("export %s did not finish", id);
    return (harness_response_t){0};
}

//  Every part of export id joined: the file (its size in *size).
static char *s_file(const char *id, size_t *size) {
    harness_response_t e = s_wait(id);
    long long parts = s_int(&e, "parts");
    assert_true(parts >= 1);
    zchunk_t *file = zchunk_new(NULL, 1024);
    for (long long n = 1; n <= parts; n++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/exports/%s/parts/%lld", id, n);
        harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
        assert_int_equal(r.status, 200);
        zchunk_extend(file, r.body, r.size);
        harness_response_free(&r);
    }
    //  A 64-bit number is a string in JSON (proto3).
    assert_int_equal((long long)zchunk_size(file), atoll(harness_json_str(&e, "bytes")));
    harness_response_free(&e);
    *size = zchunk_size(file);
    char *data = malloc(*size + 1);
    memcpy(data, zchunk_data(file), *size);
    data[*size] = 0;
    zchunk_destroy(&file);
    return data;
}

//  The records of a CSV file (rows[i][j] strings), their count in *n.
typedef struct {
    char **fields;
    size_t count;
} s_record_t;

static s_record_t *s_csv_read(const char *data, size_t size, size_t *n) {
    crm_csv_t *csv = crm_csv_open_memory(data, size, &(crm_csv_options_t){
        .encoding = CRM_CSV_ENCODING_UTF8});
    assert_non_null(csv);
    size_t cap = 64;
    s_record_t *records = calloc(cap, sizeof *records);
    *n = 0;
    crm_csv_record_t rec;
    int rc;
    while ((rc = crm_csv_next(csv, &rec)) == 1) {
        if (*n == cap)
            records = realloc(records, (cap *= 2) * sizeof *records);
        records[*n].count = rec.count;
        records[*n].fields = calloc(rec.count, sizeof(char *));
        for (size_t i = 0; i < rec.count; i++)
            records[*n].fields[i] = strdup(rec.fields[i]);
        (*n)++;
    }
    if (rc < 0)
        fail_msg("the export is not valid CSV: %s", crm_csv_error(csv));
    crm_csv_close(&csv);
    return records;
}

static void s_csv_free(s_record_t *records, size_t n) {
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < records[i].count; j++)
            free(records[i].fields[j]);
        free(records[i].fields);
    }
    free(records);
}

//  The record whose column col is value, or NULL.
static s_record_t *s_find(s_record_t *records, size_t n, size_t col, const char *value) {
    for (size_t i = 1; i < n; i++)
        if (col < records[i].count && strcmp(records[i].fields[col], value) == 0)
            return &records[i];
    return NULL;
}

//  A filter, chosen fields in their order, the formula guard, quoting.
static void test_export_csv(void **state) {
    (void)state;
    s_contact("\"firstName\":\"Ann\",\"lastName\":\"Lee, Jr.\",\"source\":\"web\","
              "\"tags\":[\"vip\"],"
              "\"emails\":[{\"address\":\"ann@csv.example\"},{\"address\":\"ann2@csv.example\","
              "\"primary\":true}],\"phones\":[{\"number\":\"(202) 555-0142\"}],"
              "\"customFields\":{\"budget\":\"25000\"}",
              NULL);
    s_contact("\"firstName\":\"=HYPERLINK(\\\"http://x\\\")\",\"lastName\":\"Say \\\"hi\\\"\","
              "\"source\":\"web\"",
              NULL);
    s_contact("\"firstName\":\"Bo\",\"lastName\":\"Web\",\"source\":\"web\"", NULL);
    s_contact("\"firstName\":\"Phil\",\"lastName\":\"Phone\",\"source\":\"phone\"", NULL);
    char id[64];
    s_export("{\"format\":\"csv\",\"fields\":[\"lastName\",\"firstName\",\"email\",\"phone\","
             "\"tags\",\"leadCount\",\"customFields.budget\",\"createdAt\"],"
             "\"filter\":{\"source\":\"web\"}}",
             id);
    size_t size;
    char *data = s_file(id, &size);
    assert_memory_equal(data, "\xEF\xBB\xBF", 3);  // a byte order mark for Excel
    assert_non_null(strstr(data, "\r\n"));
    size_t n;
    s_record_t *rows = s_csv_read(data, size, &n);
    assert_int_equal(n, 4);  // the header and three contacts
    const char *header[] = {"lastName", "firstName", "email", "phone", "tags", "leadCount",
                            "customFields.budget", "createdAt"};
    assert_int_equal(rows[0].count, 8);
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(rows[0].fields[i], header[i]);
    s_record_t *ann = s_find(rows, n, 1, "Ann");
    assert_non_null(ann);
    assert_string_equal(ann->fields[0], "Lee, Jr.");
    assert_string_equal(ann->fields[2], "ann2@csv.example");  // the primary address
    assert_string_equal(ann->fields[3], "'+12025550142");     // guarded: it starts with +
    assert_string_equal(ann->fields[4], "VIP");
    assert_string_equal(ann->fields[5], "0");
    assert_string_equal(ann->fields[6], "25000");
    assert_int_equal(strlen(ann->fields[7]), strlen("2026-11-22T10:00:00.000000Z"));
    //  A formula is written as text, not run.
    s_record_t *formula = s_find(rows, n, 1, "'=HYPERLINK(\"http://x\")");
    assert_non_null(formula);
    assert_string_equal(formula->fields[0], "Say \"hi\"");
    assert_null(s_find(rows, n, 1, "Phil"));
    s_csv_free(rows, n);
    free(data);

    //  The whole file is one part, so it carries the file's type and name.
    char path[128];
    snprintf(path, sizeof path, "/v1/exports/%s/parts/1", id);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_string_equal(r.content_type, "text/csv; charset=utf-8");
    harness_response_free(&r);
    //  Its job, beside the bulk changes.
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "kind"), "export");
    assert_string_equal(harness_json_str(&r, "status"), "succeeded");
    assert_int_equal(s_int(&r, "total"), 3);
    assert_int_equal(s_int(&r, "processed"), 3);
    harness_response_free(&r);

    //  No field named: the default columns.
    s_export("{\"format\":\"csv\",\"filter\":{\"source\":\"web\",\"tag\":\"vip\"}}", id);
    data = s_file(id, &size);
    rows = s_csv_read(data, size, &n);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].fields[0], "id");
    assert_string_equal(rows[0].fields[1], "name");
    assert_string_equal(rows[1].fields[1], "Ann Lee, Jr.");
    s_csv_free(rows, n);
    free(data);
}

static void s_consent(const char *id, const char *channel, bool granted) {
    char path[128], body[256];
    snprintf(path, sizeof path, "/v1/contacts/%s/consents", id);
    snprintf(body, sizeof body,
             "{\"channel\":\"%s\",\"purpose\":\"marketing\",\"granted\":%s,"
             "\"method\":\"web_form\"}",
             channel, granted ? "true" : "false");
    harness_response_t r = harness_http("POST", path, h->key_a, body, NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
}

//  Only contacts with a granted email marketing consent and no do-not-email.
static void test_export_marketing(void **state) {
    (void)state;
    char yes[64], blocked[64], none[64], withdrawn[64], sms[64];
    s_contact("\"firstName\":\"Yes\",\"lastName\":\"Mkt\",\"source\":\"referral\"", yes);
    s_contact("\"firstName\":\"Blocked\",\"lastName\":\"Mkt\",\"source\":\"referral\"", blocked);
    s_contact("\"firstName\":\"None\",\"lastName\":\"Mkt\",\"source\":\"referral\"", none);
    s_contact("\"firstName\":\"Withdrawn\",\"lastName\":\"Mkt\",\"source\":\"referral\"",
              withdrawn);
    s_contact("\"firstName\":\"Sms\",\"lastName\":\"Mkt\",\"source\":\"referral\"", sms);
    s_consent(yes, "email", true);
    s_consent(blocked, "email", true);
    s_consent(withdrawn, "email", true);
    s_consent(withdrawn, "email", false);
    s_consent(sms, "sms", true);
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s/communication", blocked);
    harness_response_t r =
        harness_http("PATCH", path, h->key_a, "{\"doNotContact\":{\"email\":true}}", NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);

    char id[64];
    s_export("{\"format\":\"csv\",\"fields\":[\"firstName\"],\"marketing\":true,"
             "\"filter\":{\"source\":\"referral\"}}",
             id);
    size_t size, n;
    char *data = s_file(id, &size);
    s_record_t *rows = s_csv_read(data, size, &n);
    assert_int_equal(n, 2);
    assert_string_equal(rows[1].fields[0], "Yes");
    s_csv_free(rows, n);
    free(data);
    snprintf(path, sizeof path, "/v1/exports/%s", id);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(s_int(&r, "total"), 1);
    assert_int_equal(s_int(&r, "rows"), 1);
    assert_true(json_is_true(json_object_get(r.json, "marketing")));
    assert_non_null(strstr(harness_json_str(&r, "fileName"), "contacts-marketing-"));
    harness_response_free(&r);

    //  Without the rule: all five.
    s_export("{\"format\":\"csv\",\"fields\":[\"firstName\"],\"filter\":{\"source\":\"referral\"}}",
             id);
    data = s_file(id, &size);
    rows = s_csv_read(data, size, &n);
    assert_int_equal(n, 6);
    s_csv_free(rows, n);
    free(data);

}

//  Run `unzip -p file member` and return what it printed.
static char *s_unzip(const char *file, const char *member) {
    char command[1024];
    snprintf(command, sizeof command, "unzip -p '%s' '%s'", file, member);
    FILE *p = popen(command, "r");
    assert_non_null(p);
    zchunk_t *out = zchunk_new(NULL, 4096);
    char buffer[4096];
    size_t got;
    while ((got = fread(buffer, 1, sizeof buffer, p)) > 0)
        zchunk_extend(out, buffer, got);
    assert_int_equal(pclose(p), 0);
    zchunk_extend(out, "", 1);
    char *text = strdup((char *)zchunk_data(out));
    zchunk_destroy(&out);
    return text;
}

static void test_export_xlsx(void **state) {
    (void)state;
    s_contact("\"firstName\":\"Walker\",\"lastName\":\"Xl\",\"source\":\"walk_in\","
              "\"dateOfBirth\":\"1980-05-17\",\"customFields\":{\"budget\":\"31000.5\"},"
              "\"addresses\":[{\"city\":\"Leeds\",\"country\":\"GB\"}]",
              NULL);
    char id[64];
    s_export("{\"format\":\"xlsx\",\"fields\":[\"firstName\",\"leadCount\",\"createdAt\","
             "\"dateOfBirth\",\"customFields.budget\",\"address.city\",\"supplier\"],"
             "\"filter\":{\"source\":\"walk_in\"}}",
             id);
    size_t size;
    char *data = s_file(id, &size);
    assert_memory_equal(data, "PK\x03\x04", 4);
    char path[512];
    snprintf(path, sizeof path, "%s/export.xlsx", h->dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    fclose(f);
    free(data);
    char *sheet = s_unzip(path, "xl/worksheets/sheet1.xml");
    //  The header and the text as strings; numbers, dates and the flag as such.
    assert_non_null(strstr(sheet, "<t>firstName</t>"));
    assert_non_null(strstr(sheet, "<t>customFields.budget</t>"));
    assert_non_null(strstr(sheet, "<c r=\"A2\" t=\"inlineStr\"><is><t>Walker</t></is></c>"));
    assert_non_null(strstr(sheet, "<c r=\"B2\"><v>0</v></c>"));
    assert_non_null(strstr(sheet, "<c r=\"C2\" s=\""));          // a date-time, styled
    assert_non_null(strstr(sheet, "<c r=\"D2\" s=\""));
    assert_non_null(strstr(sheet, "<v>29358</v>"));              // 1980-05-17 as a serial
    assert_non_null(strstr(sheet, "<c r=\"E2\"><v>31000.5</v></c>"));
    assert_non_null(strstr(sheet, "<t>Leeds</t>"));
    assert_non_null(strstr(sheet, "<c r=\"G2\" t=\"b\"><v>0</v></c>"));
    free(sheet);
    char *styles = s_unzip(path, "xl/styles.xml");
    assert_non_null(strstr(styles, "<b/>"));  // the bold header
    assert_non_null(strstr(styles, "yyyy-mm-dd"));
    free(styles);

    snprintf(path, sizeof path, "/v1/exports/%s/parts/1", id);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_string_equal(r.content_type,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    harness_response_free(&r);
}

//  20,000 contacts (CRM_EXPORT_TEST_CONTACTS to measure another number): several parts of
//  about 1 MiB, joined again into every row once.
static void test_export_large(void **state) {
    (void)state;
    long count = getenv("CRM_EXPORT_TEST_CONTACTS") ? atol(getenv("CRM_EXPORT_TEST_CONTACTS"))
                                                    : 20000;
    assert_true(count >= 10000);
    char insert[1024];
    snprintf(insert, sizeof insert,
             "INSERT INTO contacts.contacts (tenant_id, id, kind, type, first_name, last_name,"
             " name, source, emails, tags)"
             " SELECT 'tenant-a', gen_random_uuid(), 'person', 'customer', 'Many' || g,"
             " 'Large', 'Many' || g || ' Large', 'import',"
             " jsonb_build_array(jsonb_build_object('address', 'many' || g || '@big.example',"
             " 'primary', true)), '{VIP}' FROM generate_series(1, %ld) g",
             count);
    sql_exec(insert);
    //  What autovacuum does soon after a load like this one; without statistics the
    //  planner takes the table for a small one.
    sql_exec("ANALYZE contacts.contacts");
    int64_t start = zclock_mono();
    char id[64];
    s_export("{\"format\":\"csv\",\"filter\":{\"source\":\"import\"}}", id);
    size_t size;
    char *data = s_file(id, &size);
    int64_t csv_ms = zclock_mono() - start;
    size_t csv_size = size;
    char path[128];
    snprintf(path, sizeof path, "/v1/exports/%s", id);
    harness_response_t e = harness_http("GET", path, h->key_a, NULL, NULL);
    long long parts = s_int(&e, "parts");
    assert_true(parts >= 2);
    assert_int_equal(s_int(&e, "rows"), count);
    harness_response_free(&e);
    //  A part of several is a piece of the file, not a file.
    snprintf(path, sizeof path, "/v1/exports/%s/parts/1", id);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_string_equal(r.content_type, "application/octet-stream");
    assert_true(r.size >= 1048576 && r.size < 1048576 + 4096);
    harness_response_free(&r);
    size_t n;
    s_record_t *rows = s_csv_read(data, size, &n);
    assert_int_equal(n, (size_t)count + 1);
    //  Each contact once: the emails are distinct.
    zhashx_t *seen = zhashx_new();
    for (size_t i = 1; i < n; i++)
        assert_int_equal(zhashx_insert(seen, rows[i].fields[6], (void *)1), 0);
    zhashx_destroy(&seen);
    s_csv_free(rows, n);
    free(data);
    assert_int_equal(sql_scalar("SELECT count(*) FROM contacts.job_items"), 0);

    start = zclock_mono();
    s_export("{\"format\":\"xlsx\",\"filter\":{\"source\":\"import\"}}", id);
    data = s_file(id, &size);
    int64_t xlsx_ms = zclock_mono() - start;
    assert_memory_equal(data, "PK\x03\x04", 4);
    free(data);
    printf("export of %ld contacts: CSV %zu bytes in %lld parts %lld ms, XLSX %zu bytes %lld ms\n",
           count, csv_size, parts, (long long)csv_ms, size, (long long)xlsx_ms);
}

//  The contacts daemon dies mid-export: the restarted one (or another process) takes
//  the export over — a CSV after its last part stored, an XLSX from the start — and the
//  file still holds every contact once. Uses the contacts of test_export_large.
static void test_export_restart(void **state) {
    (void)state;
    long long count = sql_scalar("SELECT count(*) FROM contacts.contacts WHERE source = 'import'"
                                 " AND deleted_at IS NULL");
    const char *bodies[] = {"{\"format\":\"csv\",\"filter\":{\"source\":\"import\"}}",
                            "{\"format\":\"xlsx\",\"fields\":[\"email\"],"
                            "\"filter\":{\"source\":\"import\"}}"};
    for (int b = 0; b < 2; b++) {
        char id[64], path[128];
        s_export(bodies[b], id);
        snprintf(path, sizeof path, "/v1/exports/%s", id);
        //  Once it is under way, kill the daemon writing it.
        bool running = false;
        for (int i = 0; i < 400 && !running; i++) {
            harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
            running = s_int(&r, "processed") > 0 ||
                      strcmp(harness_json_str(&r, "status"), "succeeded") == 0;
            harness_response_free(&r);
            if (!running)
                zclock_sleep(5);
        }
        pid_t pid = harness_daemon_pid("contacts");
        assert_true(pid > 0);
        kill(pid, SIGKILL);
        //  The supervisor starts another; the suite is ready once it has registered.
        pid_t again = 0;
        for (int i = 0; i < 300 && (again <= 0 || again == pid); i++) {
            zclock_sleep(20);
            again = harness_daemon_pid("contacts");
        }
        assert_true(again > 0 && again != pid);
        zclock_sleep(500);
        assert_true(harness_wait_ready(15000));
        size_t size;
        char *data = s_file(id, &size);
        harness_response_t e = harness_http("GET", path, h->key_a, NULL, NULL);
        assert_int_equal(s_int(&e, "rows"), count);
        harness_response_free(&e);
        if (b == 0) {
            size_t n;
            s_record_t *rows = s_csv_read(data, size, &n);
            assert_int_equal(n, (size_t)count + 1);
            zhashx_t *seen = zhashx_new();
            for (size_t i = 1; i < n; i++)
                assert_int_equal(zhashx_insert(seen, rows[i].fields[6], (void *)1), 0);
            zhashx_destroy(&seen);
            s_csv_free(rows, n);
        } else
            assert_memory_equal(data, "PK\x03\x04", 4);
        free(data);
    }
    assert_int_equal(sql_scalar("SELECT count(*) FROM contacts.job_items"), 0);
}

//  Run crmctl with args; its exit status, its stderr into err.
static int s_crmctl(const char *const *args, char *err, size_t err_size) {
    char err_path[512];
    snprintf(err_path, sizeof err_path, "%s/crmctl.err", h->dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *e = freopen(err_path, "w", stderr);
        (void)e;
        unsetenv("CRM_CONFIG");
        setenv("CRM_BROKER_ENDPOINT", h->broker, 1);
        const char *bin = getenv("CRM_BIN_DIR") ? getenv("CRM_BIN_DIR") : "build/bin";
        char path[512];
        snprintf(path, sizeof path, "%s/crmctl", bin);
        const char *argv[32] = {path};
        for (int i = 0; args[i] && i < 30; i++)
            argv[i + 1] = args[i];
        execv(path, (char **)argv);
        perror(path);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    FILE *e = fopen(err_path, "r");
    size_t got = e ? fread(err, 1, err_size - 1, e) : 0;
    err[got] = 0;
    if (e)
        fclose(e);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_export_crmctl(void **state) {
    (void)state;
    char out[512], err[4096];
    snprintf(out, sizeof out, "%s/web.csv", h->dir);
    const char *csv[] = {"contacts", "export", "--tenant", "tenant-a", "--format", "csv",
                         "--fields", "firstName,lastName", "--filter", "source=web", "-o", out,
                         NULL};
    int rc = s_crmctl(csv, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "crmctl: %s\n", err);
    assert_int_equal(rc, 0);
    FILE *f = fopen(out, "rb");
    assert_non_null(f);
    char data[4096];
    size_t size = fread(data, 1, sizeof data, f);
    fclose(f);
    size_t n;
    s_record_t *rows = s_csv_read(data, size, &n);
    assert_int_equal(n, 4);
    assert_string_equal(rows[0].fields[0], "firstName");
    assert_non_null(s_find(rows, n, 0, "Bo"));
    s_csv_free(rows, n);

    //  XLSX, the filter as JSON.
    snprintf(out, sizeof out, "%s/walk.xlsx", h->dir);
    const char *xlsx[] = {"contacts", "export", "--tenant", "tenant-a", "--format", "xlsx",
                          "--filter", "{\"source\":\"walk_in\"}", "-o", out, NULL};
    assert_int_equal(s_crmctl(xlsx, err, sizeof err), 0);
    char *sheet = s_unzip(out, "xl/worksheets/sheet1.xml");
    assert_non_null(strstr(sheet, "<t>Walker</t>"));
    free(sheet);

    //  Refusals: the service's field error is printed, and no file is left.
    snprintf(out, sizeof out, "%s/bad.csv", h->dir);
    const char *bad[] = {"contacts", "export", "--tenant", "tenant-a", "--format", "csv",
                         "--fields", "firstName,shoeSize", "-o", out, NULL};
    assert_int_equal(s_crmctl(bad, err, sizeof err), 1);
    assert_non_null(strstr(err, "fields[1]"));
    assert_non_null(strstr(err, "shoeSize"));
    assert_int_equal(access(out, F_OK), -1);
    const char *bad_format[] = {"contacts", "export", "--tenant", "tenant-a", "--format", "pdf",
                                "-o", out, NULL};
    assert_int_equal(s_crmctl(bad_format, err, sizeof err), 2);
    assert_non_null(strstr(err, "--format"));
}

static void test_export_bad_input(void **state) {
    (void)state;
    long long jobs = sql_scalar("SELECT count(*) FROM contacts.jobs WHERE kind = 'export'");
    const char *cases[][2] = {
        {"{\"fields\":[\"firstName\"]}", "format"},
        {"{\"format\":\"pdf\"}", "format"},
        {"{\"format\":\"csv\",\"fields\":[\"firstName\",\"shoeSize\"]}", "fields[1]"},
        {"{\"format\":\"csv\",\"fields\":[\"customFields.nope\"]}", "fields[0]"},
        {"{\"format\":\"csv\",\"fields\":[\"email\",\"email\"]}", "fields[1]"},
        {"{\"format\":\"csv\",\"filter\":{\"createdFrom\":\"soon\"}}", "filter.createdFrom"},
        {"{\"format\":\"csv\",\"filter\":{\"type\":\"martian\"}}", "filter.type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        harness_response_t r = harness_http("POST", "/v1/exports", h->key_a, cases[i][0], NULL);
        if (r.status != 422)
            fprintf(stderr, "%s: %ld %s\n", cases[i][0], r.status, r.body);
        assert_int_equal(r.status, 422);
        assert_string_equal(harness_error_field(&r), cases[i][1]);
        harness_response_free(&r);
    }
    assert_int_equal(sql_scalar("SELECT count(*) FROM contacts.jobs WHERE kind = 'export'"), jobs);

    char id[64];
    s_export("{\"format\":\"csv\",\"fields\":[\"firstName\"],\"filter\":{\"source\":\"web\"}}", id);
    harness_response_t e = s_wait(id);
    harness_response_free(&e);
    char path[160];
    //  Another tenant's export does not exist for this one.
    snprintf(path, sizeof path, "/v1/exports/%s", id);
    harness_response_t r = harness_http("GET", path, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/exports/%s/parts/1", id);
    r = harness_http("GET", path, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    //  Parts out of range, and ids that are none.
    const char *missing[] = {"/parts/0", "/parts/2", "/parts/x"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "/v1/exports/%s%s", id, missing[i]);
        r = harness_http("GET", path, h->key_a, NULL, NULL);
        assert_int_equal(r.status, 404);
        if (i < 2)
            assert_non_null(strstr(r.body, "the export has 1 part"));
        harness_response_free(&r);
    }
    r = harness_http("GET", "/v1/exports/nope/parts/1", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    //  Without a key, nothing; sales staff do not export the contact base (403), an
    //  analyst may (the export reads; it changes no record).
    r = harness_http("POST", "/v1/exports", NULL, "{\"format\":\"csv\"}", NULL);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
    char sales[CRM_APIKEY_LEN + 1], hash[CRM_APIKEY_HASH_LEN + 1], insert[512];
    crm_apikey_generate(sales);
    crm_apikey_hash(sales, NULL, hash); // as stored before gateway.key_secret
    snprintf(insert, sizeof insert,
             "INSERT INTO gateway.api_keys (id, key_hash, prefix, tenant_id, role, user_id, name)"
             " VALUES (gen_random_uuid(), '%s', '%.12s', 'tenant-a', 'sales', 'sam', 'sales')",
             hash, sales);
    sql_exec(insert);
    r = harness_http("POST", "/v1/exports", sales, "{\"format\":\"csv\"}", NULL);
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/exports/%s/parts/1", id);
    r = harness_http("GET", path, sales, NULL, NULL);
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
    r = harness_http("POST", "/v1/exports", h->key_analyst, "{\"format\":\"csv\"}", NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);

    //  Past its retention: the parts go, the export says so.
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE contacts.exports SET expires_at = now() - interval '1 second'"
             " WHERE id = '%s'",
             id);
    sql_exec(sql);
    snprintf(path, sizeof path, "/v1/exports/%s", id);
    bool expired = false;
    for (int i = 0; i < 100 && !expired; i++) {
        r = harness_http("GET", path, h->key_a, NULL, NULL);
        expired = strcmp(harness_json_str(&r, "status"), "expired") == 0;
        harness_response_free(&r);
        if (!expired)
            zclock_sleep(50);
    }
    assert_true(expired);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM contacts.export_parts WHERE export_id = '%s'",
             id);
    assert_int_equal(sql_scalar(sql), 0);
    snprintf(path, sizeof path, "/v1/exports/%s/parts/1", id);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 410);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "error"),
                                                          "code")),
                        "expired");
    harness_response_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_csv),   cmocka_unit_test(test_export_marketing),
        cmocka_unit_test(test_export_xlsx),  cmocka_unit_test(test_export_large),
        cmocka_unit_test(test_export_restart),
        cmocka_unit_test(test_export_crmctl), cmocka_unit_test(test_export_bad_input),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
