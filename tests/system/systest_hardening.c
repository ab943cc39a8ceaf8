/*  System test of the request path's hardening (issue 21), attacked as from outside:

    - the broker's limits: 200 requests of 1 MiB to a service nobody serves, each asking
      for a deadline of an hour, then a disconnect: the gateway's resident memory stays
      bounded, the deadline is cut, the refusals are 503 "overloaded" and show in
      /metrics; a client over broker.max_client_queue is refused; malformed MDP traffic
      is dropped and logged once, not once a message;
    - bad bytes never reach SQL: an Idempotency-Key or X-Request-Id that is not clean
      UTF-8 (or too long) gets 400 naming the header, while concurrent requests of the
      other tenant all succeed; the same key sent straight over MDP, in the middle of a
      burst of good requests the service batches together, fails alone;
    - erasure reaches everything: a person who is in an export, and whose email a
      duplicate made PostgreSQL report as a unique violation, is erased; then neither
      the database (pg_dump of all of it), nor the suite's log, nor PostgreSQL's log
      holds the person's name, email or phone, and the export reads "expired";
    - API keys: stored hashed with the run's gateway.key_secret; a key stored unkeyed
      (before the secret) still works and is re-hashed on its first use; a key made
      with --expires is refused once it has expired; a rotated key's old one works for
      its grace period, then not; a revoked key is refused within gateway.key_cache_ms.
*/
#include "harness.h"
#include "curve.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common.pb-c.h"
#include "contacts.pb-c.h"
#include <czmq.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>

static harness_t *h;

//  The limits this test runs the broker with (smaller than the defaults, so the attack
//  costs the test machine little).
#define S_MAX_QUEUED_BYTES (16 << 20)
#define S_MAX_CLIENT_QUEUE 32
#define S_MAX_DEADLINE_MS 3000

static int s_setup(void **state) {
    (void)state;
    static const char *const env[] = {
        "CRM_BROKER_MAX_QUEUED_BYTES=16777216",
        "CRM_BROKER_MAX_CLIENT_QUEUE=32",
        "CRM_BROKER_MAX_DEADLINE_MS=3000",
        "CRM_GATEWAY_KEY_CACHE_MS=300",
        NULL,
    };
    h = harness_start(env);
    return h ? 0 : -1;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  An MDP client request: [""], "MDPC01", service, RequestHeader, body.
static void s_mdp_send(zsock_t *client, const char *service, const Crm__RequestHeader *header,
                       const void *body, size_t size) {
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "");
    zmsg_addstr(msg, "MDPC01");
    zmsg_addstr(msg, service);
    zframe_t *frame = zframe_new(NULL, crm__request_header__get_packed_size(header));
    crm__request_header__pack(header, zframe_data(frame));
    zmsg_append(msg, &frame);
    zmsg_addmem(msg, body, size);
    assert_int_equal(zmsg_send(&msg, client), 0);
}

//  Read one MDP reply: its ReplyHeader's code (-1 on timeout) and request id into
//  request_id (may be NULL).
static int s_mdp_recv(zsock_t *client, int timeout_ms, char *request_id, size_t size) {
    zsock_set_rcvtimeo(client, timeout_ms);
    zmsg_t *msg = zmsg_recv(client);
    if (!msg)
        return -1;
    zframe_t *frame = zmsg_first(msg); // ""
    zmsg_next(msg);                    // MDPC01
    zmsg_next(msg);                    // service
    frame = zmsg_next(msg);
    Crm__ReplyHeader *reply =
        frame ? crm__reply_header__unpack(NULL, zframe_size(frame), zframe_data(frame)) : NULL;
    int code = reply ? (int)reply->code : 0;
    if (request_id)
        snprintf(request_id, size, "%s", reply ? reply->request_id : "");
    if (reply)
        crm__reply_header__free_unpacked(reply, NULL);
    zmsg_destroy(&msg);
    return code;
}

static zsock_t *s_mdp_client(void) {
    zsock_t *client = zsock_new(ZMQ_DEALER);
    assert_non_null(client);
    zsock_set_sndhwm(client, 0);
    zsock_set_rcvhwm(client, 0);
    crm_curve_client(client); // this test program's key pair (client), unless insecure
    assert_int_equal(zsock_connect(client, "%s", h->broker), 0);
    return client;
}

// --- the broker's limits -----------------------------------------------------------------

static void test_broker_memory_stays_bounded(void **state) {
    (void)state;
    pid_t gateway = harness_daemon_pid("gateway");
    assert_true(gateway > 0);
    long before = harness_status_kib(gateway, "VmRSS");
    assert_true(before > 0);

    zsock_t *client = s_mdp_client();
    size_t size = 1 << 20;
    char *body = calloc(1, size);
    assert_non_null(body);
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = "Get";
    header.tenant_id = "tenant-a";
    header.role = "admin";
    header.deadline_ms = 3600 * 1000; // an hour
    for (int i = 0; i < 200; i++)
        s_mdp_send(client, "nobody.serves.this", &header, body, size);
    free(body);
    //  Those over a limit are answered at once: 503.
    int overloaded = 0;
    for (int i = 0; i < 200; i++) {
        int code = s_mdp_recv(client, overloaded ? 1000 : 5000, NULL, 0);
        if (code == -1)
            break;
        assert_int_equal(code, 503);
        overloaded++;
    }
    long peak = harness_status_kib(gateway, "VmHWM");
    zsock_destroy(&client); // and disconnect
    long after = harness_status_kib(gateway, "VmRSS");
    fprintf(stderr, "  gateway RSS %ld KiB before, %ld KiB after (peak %ld KiB); %d refused\n",
            before, after, peak, overloaded);
    //  At most max_queued_bytes were kept: 16 of the 200 MiB (beside what ZeroMQ holds
    //  while a message is read).
    assert_true(overloaded >= 200 - (S_MAX_QUEUED_BYTES >> 20));
#if !defined(__SANITIZE_ADDRESS__)
    //  (Under AddressSanitizer freed memory stays in its quarantine, so the gateway's
    //  resident size says nothing there; the refusals above still hold.)
    assert_true(after - before < 64 * 1024);
#endif
    assert_true(harness_metric("crm_broker_refused_total{limit=\"max_queued_bytes\"}") >= overloaded);
    assert_true(harness_metric("crm_broker_deadlines_cut_total") >= 200);

    //  The deadline was cut to broker.max_deadline_ms: the queued ones are answered
    //  (to nobody) by then, and their memory is the broker's again: another client's
    //  request fits.
    zclock_sleep(S_MAX_DEADLINE_MS + 500);
    client = s_mdp_client();
    header.deadline_ms = 500;
    s_mdp_send(client, "nobody.serves.this", &header, "x", 1);
    assert_int_equal(s_mdp_recv(client, 3000, NULL, 0), 404);
    zsock_destroy(&client);
}

static void test_broker_client_queue_cap(void **state) {
    (void)state;
    zsock_t *client = s_mdp_client();
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = "Get";
    header.tenant_id = "tenant-a";
    header.role = "admin";
    header.deadline_ms = 1500;
    long long before = harness_metric("crm_broker_refused_total{limit=\"max_client_queue\"}");
    for (int i = 0; i < S_MAX_CLIENT_QUEUE + 8; i++)
        s_mdp_send(client, "nobody.serves.this.either", &header, "x", 1);
    int refused = 0, unknown = 0;
    for (int i = 0; i < S_MAX_CLIENT_QUEUE + 8; i++) {
        int code = s_mdp_recv(client, 4000, NULL, 0);
        refused += code == 503;
        unknown += code == 404;
    }
    zsock_destroy(&client);
    //  The first 32 wait until their deadline (404: nobody registered), 8 are refused.
    assert_int_equal(refused, 8);
    assert_int_equal(unknown, S_MAX_CLIENT_QUEUE);
    assert_int_equal(harness_metric("crm_broker_refused_total{limit=\"max_client_queue\"}"), before + 8);
}

//  Lines of the suite's log holding text.
static int s_log_lines(const char *text) {
    char path[512], line[4096];
    snprintf(path, sizeof path, "%s/suite.log", h->dir);
    FILE *file = fopen(path, "r");
    assert_non_null(file);
    int count = 0;
    while (fgets(line, sizeof line, file))
        count += strstr(line, text) != NULL;
    fclose(file);
    return count;
}

static void test_malformed_traffic_logged_once(void **state) {
    (void)state;
    int before = s_log_lines("dropping malformed message");
    long long dropped = harness_metric("crm_broker_dropped_total");
    zsock_t *peer = s_mdp_client();
    for (int i = 0; i < 50; i++)
        zstr_sendx(peer, "", "NOT-MDP", "garbage", NULL);
    zclock_sleep(500);
    zsock_destroy(&peer);
    assert_int_equal(harness_metric("crm_broker_dropped_total"), dropped + 50);
    //  This peer's address was logged at most once (a test before may have logged it).
    assert_true(s_log_lines("dropping malformed message") - before <= 1);
}

// --- bad bytes never reach SQL -----------------------------------------------------------

typedef struct {
    int created; // 201s
    int other;   // anything else
} s_load_t;

//  Create contacts as tenant-b, one after another, while the main thread sends bad keys.
static void *s_other_tenant(void *arg) {
    s_load_t *load = arg;
    for (int i = 0; i < 40; i++) {
        char body[160], key[80];
        snprintf(body, sizeof body,
                 "{\"firstName\":\"Load\",\"lastName\":\"Other%d\",\"source\":\"web\"}", i);
        snprintf(key, sizeof key, "Idempotency-Key: other-tenant-%d", i);
        const char *headers[] = {key, NULL};
        harness_response_t r = harness_http("POST", "/v1/contacts", h->key_b, body, headers);
        if (r.status == 201)
            load->created++;
        else
            load->other++;
        harness_response_free(&r);
    }
    return NULL;
}

static void test_bad_header_bytes_are_400(void **state) {
    (void)state;
    s_load_t load = {0};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, s_other_tenant, &load), 0);
    static const char *const bad[][2] = {
        {"Idempotency-Key: \xff\xfe-not-utf8", "Idempotency-Key"},
        {"Idempotency-Key: caf\xc3", "Idempotency-Key"},
        {"Idempotency-Key: \xed\xa0\x80surrogate", "Idempotency-Key"},
        {"Idempotency-Key: tab\x01control", "Idempotency-Key"},
        {"X-Request-Id: \xc3\xa9t\xc3\xa9", "X-Request-Id"},
        {"If-Match: \"\xff\"", "If-Match"},
    };
    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            const char *headers[] = {bad[i][0], NULL};
            harness_response_t r = harness_http(
                "POST", "/v1/contacts", h->key_a,
                "{\"firstName\":\"Bad\",\"lastName\":\"Bytes\",\"source\":\"web\"}", headers);
            assert_int_equal(r.status, 400);
            assert_string_equal(harness_error_field(&r), bad[i][1]);
            harness_response_free(&r);
        }
    }
    //  Too long.
    char header[400];
    snprintf(header, sizeof header, "Idempotency-Key: %0300d", 7);
    const char *headers[] = {header, NULL};
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a,
                                        "{\"firstName\":\"Long\",\"source\":\"web\"}", headers);
    assert_int_equal(r.status, 400);
    assert_string_equal(harness_error_field(&r), "Idempotency-Key");
    harness_response_free(&r);
    pthread_join(thread, NULL);
    assert_int_equal(load.created, 40);
    assert_int_equal(load.other, 0);
    //  Nothing of tenant-a was written.
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.contacts"
                                        " WHERE last_name IN ('Bytes') OR first_name = 'Long'"),
                     0);
}

//  Straight to the service, past the gateway: a bad key in the middle of a burst the
//  contacts daemon batches into one transaction fails alone.
static void test_bad_key_fails_alone_in_its_batch(void **state) {
    (void)state;
    zsock_t *client = s_mdp_client();
    enum { S_BURST = 30 }; // under broker.max_client_queue
    for (int i = 0; i < S_BURST; i++) {
        Crm__Contacts__Contact contact = CRM__CONTACTS__CONTACT__INIT;
        Crm__Contacts__CreateContactRequest request = CRM__CONTACTS__CREATE_CONTACT_REQUEST__INIT;
        char last[32], key[64], request_id[32];
        snprintf(last, sizeof last, "Batch%d", i);
        contact.first_name = "Burst";
        contact.last_name = last;
        contact.source = CRM__CONTACTS__CONTACT_SOURCE__CONTACT_SOURCE_WEB;
        request.contact = &contact;
        snprintf(request_id, sizeof request_id, "burst-%d", i);
        bool bad = i % 10 == 5;
        if (bad)
            snprintf(key, sizeof key, "bad-\xff\xfe-%d", i);
        else
            snprintf(key, sizeof key, "burst-key-%d", i);
        Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
        header.method = "Create";
        header.tenant_id = "tenant-b";
        header.actor_id = "burst";
        header.role = "admin";
        header.request_id = request_id;
        header.idempotency_key = key;
        header.deadline_ms = 10000;
        size_t size = crm__contacts__create_contact_request__get_packed_size(&request);
        uint8_t *body = malloc(size ? size : 1);
        crm__contacts__create_contact_request__pack(&request, body);
        s_mdp_send(client, "contacts", &header, body, size);
        free(body);
    }
    int created = 0, refused = 0;
    for (int i = 0; i < S_BURST; i++) {
        char request_id[32];
        int code = s_mdp_recv(client, 10000, request_id, sizeof request_id);
        assert_true(code != -1);
        int index = atoi(request_id + strlen("burst-"));
        if (index % 10 == 5) {
            assert_int_equal(code, 400);
            refused++;
        } else {
            assert_int_equal(code, 201);
            created++;
        }
    }
    zsock_destroy(&client);
    assert_int_equal(created, S_BURST - 3);
    assert_int_equal(refused, 3);
    assert_int_equal(harness_sql_scalar("SELECT count(*) FROM contacts.contacts"
                                        " WHERE tenant_id = 'tenant-b' AND first_name = 'Burst'"),
                     S_BURST - 3);
}

// --- erasure reaches everything -----------------------------------------------------------

#define S_LAST "Vandermolen"
#define S_EMAIL "quintessa.vandermolen@example.org"
#define S_PHONE "4155550142"

//  Lines of file holding needle (case-insensitive); -1 when it cannot be read.
static int s_grep(const char *command_or_path, bool command, const char *needle) {
    FILE *file = command ? popen(command_or_path, "r") : fopen(command_or_path, "r");
    if (!file)
        return -1;
    char *line = NULL;
    size_t capacity = 0;
    int count = 0;
    while (getline(&line, &capacity, file) != -1)
        count += strcasestr(line, needle) != NULL;
    free(line);
    if (command)
        pclose(file);
    else
        fclose(file);
    return count;
}

//  Where the person may be found: every row of the database, the suite's log and
//  PostgreSQL's. The number of lines that name them.
static int s_traces(bool report) {
    static const char *const needles[] = {S_LAST, S_EMAIL, S_PHONE};
    char dump[1024], suite_log[512], pg_log[512];
    snprintf(dump, sizeof dump, "\"$(pg_config --bindir)/pg_dump\" --data-only -d '%s'", h->dsn);
    snprintf(suite_log, sizeof suite_log, "%s/suite.log", h->dir);
    snprintf(pg_log, sizeof pg_log, "%s/pg/postgres.log", h->dir);
    int total = 0;
    for (size_t i = 0; i < sizeof needles / sizeof *needles; i++) {
        int in_dump = s_grep(dump, true, needles[i]);
        int in_suite = s_grep(suite_log, false, needles[i]);
        int in_pg = s_grep(pg_log, false, needles[i]);
        assert_true(in_dump >= 0 && in_suite >= 0 && in_pg >= 0);
        if (report && in_dump + in_suite + in_pg)
            fprintf(stderr, "  \"%s\": %d lines in the database, %d in suite.log, %d in postgres.log\n",
                    needles[i], in_dump, in_suite, in_pg);
        total += in_dump + in_suite + in_pg;
    }
    return total;
}

static void test_erasure_reaches_everything(void **state) {
    (void)state;
    harness_response_t r = harness_http(
        "POST", "/v1/contacts", h->key_a,
        "{\"firstName\":\"Quintessa\",\"lastName\":\"" S_LAST "\",\"source\":\"web\","
        "\"emails\":[{\"address\":\"" S_EMAIL "\"}],\"phones\":[{\"number\":\"+1 " S_PHONE "\"}]}",
        NULL);
    assert_int_equal(r.status, 201);
    char id[64];
    snprintf(id, sizeof id, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    //  The same email again: refused (the daemon looks before it inserts).
    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"firstName\":\"Other\",\"source\":\"web\","
                     "\"emails\":[{\"address\":\"" S_EMAIL "\"}]}",
                     NULL);
    assert_true(r.status == 409 || r.status == 422);
    harness_response_free(&r);
    //  A unique violation on the email key, as a race between two creates makes one:
    //  PostgreSQL's log must not print the key's value (log_error_verbosity = terse).
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO contacts.contact_emails SELECT * FROM contacts.contact_emails"
             " WHERE contact_id = '%s'",
             id);
    assert_int_equal(harness_sql_exec(sql), -1);

    //  An export that holds the person.
    r = harness_http("POST", "/v1/exports", h->key_a,
                     "{\"format\":\"csv\",\"fields\":[\"lastName\",\"firstName\",\"email\","
                     "\"phone\"]}",
                     NULL);
    assert_int_equal(r.status, 201);
    char export_path[128];
    snprintf(export_path, sizeof export_path, "/v1/exports/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    for (int i = 0;; i++) {
        assert_true(i < 400);
        r = harness_http("GET", export_path, h->key_a, NULL, NULL);
        bool done = strcmp(harness_json_str(&r, "status"), "succeeded") == 0;
        harness_response_free(&r);
        if (done)
            break;
        zclock_sleep(50);
    }
    char part_path[160];
    snprintf(part_path, sizeof part_path, "%s/parts/1", export_path);
    r = harness_http("GET", part_path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, S_LAST));
    harness_response_free(&r);
    assert_true(s_traces(false) > 0);

    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s/erase", id);
    r = harness_http("POST", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);

    //  The export's file is gone.
    r = harness_http("GET", part_path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 410);
    harness_response_free(&r);
    r = harness_http("GET", export_path, h->key_a, NULL, NULL);
    assert_string_equal(harness_json_str(&r, "status"), "expired");
    harness_response_free(&r);
    //  The other services forget their copies when ContactErased reaches them.
    int traces = -1;
    for (int i = 0; i < 40 && traces != 0; i++) {
        zclock_sleep(250);
        traces = s_traces(false);
    }
    if (traces)
        s_traces(true);
    assert_int_equal(traces, 0);
}

// --- API keys -------------------------------------------------------------------------------

#include "apikey.h"

//  Run crmctl with args (its stdout and stderr into out); its exit status.
static int s_crmctl(const char *args, char *out, size_t size) {
    char command[1024];
    snprintf(command, sizeof command, "CRM_DATABASE_DSN='%s' %s/crmctl %s 2>&1", h->dsn,
             getenv("CRM_BIN_DIR") ? getenv("CRM_BIN_DIR") : "build/bin", args);
    FILE *pipe = popen(command, "r");
    assert_non_null(pipe);
    size_t n = fread(out, 1, size - 1, pipe);
    out[n] = 0;
    int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

//  A key crmctl printed (the line starting crm_) into key, and the id it named into id.
static void s_created(const char *out, char *key, char *id) {
    const char *line = strstr(out, "\ncrm_");
    line = line ? line + 1 : strncmp(out, "crm_", 4) == 0 ? out : NULL;
    assert_non_null(line);
    snprintf(key, CRM_APIKEY_LEN + 1, "%s", line);
    const char *named = strstr(out, "created key ");
    assert_non_null(named);
    snprintf(id, 37, "%s", named + strlen("created key "));
}

static long s_status(const char *key) {
    harness_response_t r = harness_http("GET", "/v1/contacts?limit=1", key, NULL, NULL);
    long status = r.status;
    harness_response_free(&r);
    return status;
}

static void test_api_keys(void **state) {
    (void)state;
    //  Every key of the run is keyed: its stored hash is not the plain BLAKE2b of it.
    char plain[CRM_APIKEY_HASH_LEN + 1], sql[512];
    crm_apikey_hash(h->key_a, NULL, plain);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM gateway.api_keys WHERE key_hash = '%s'"
             " OR hash_scheme <> 'blake2b-keyed'",
             plain);
    assert_int_equal(harness_sql_scalar(sql), 0);
    assert_int_equal(s_status(h->key_a), 200);

    //  A key stored before there was a secret works, and is re-hashed on that use.
    char legacy[CRM_APIKEY_LEN + 1];
    crm_apikey_generate(legacy);
    crm_apikey_hash(legacy, NULL, plain);
    snprintf(sql, sizeof sql,
             "INSERT INTO gateway.api_keys (id, key_hash, prefix, tenant_id, role)"
             " VALUES (gen_random_uuid(), '%s', '%.12s', 'tenant-a', 'manager')",
             plain, legacy);
    assert_int_equal(harness_sql_exec(sql), 0);
    assert_int_equal(s_status(legacy), 200);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM gateway.api_keys WHERE prefix = '%.12s'"
             " AND hash_scheme = 'blake2b-keyed' AND key_hash <> '%s'",
             legacy, plain);
    assert_int_equal(harness_sql_scalar(sql), 1);
    zclock_sleep(400); // past the cache: found by its keyed hash now
    assert_int_equal(s_status(legacy), 200);

    //  Expiry.
    char out[2048], key[CRM_APIKEY_LEN + 1], id[40];
    assert_int_equal(s_crmctl("keys create --tenant tenant-a --role sales --expires 2025-01-01",
                              out, sizeof out),
                     2);
    assert_int_equal(s_crmctl("keys create --tenant tenant-a --role sales --expires soon", out,
                              sizeof out),
                     2);
    assert_int_equal(s_crmctl("keys create --tenant tenant-a --role sales --expires 2099-01-01",
                              out, sizeof out),
                     0);
    assert_int_equal(s_crmctl("keys create --tenant tenant-a --role sales --expires 2s", out,
                              sizeof out),
                     0);
    s_created(out, key, id);
    assert_int_equal(s_status(key), 200);
    zclock_sleep(2200);
    assert_int_equal(s_status(key), 401);

    //  Rotation: the new key works at once, the old one for its grace period.
    assert_int_equal(s_crmctl("keys create --tenant tenant-a --role manager", out, sizeof out), 0);
    char old_key[CRM_APIKEY_LEN + 1], old_id[40], args[128];
    s_created(out, old_key, old_id);
    snprintf(args, sizeof args, "keys rotate %s --grace 2s", old_id);
    assert_int_equal(s_crmctl(args, out, sizeof out), 0);
    s_created(out, key, id);
    assert_string_not_equal(key, old_key);
    assert_int_equal(s_status(key), 200);
    assert_int_equal(s_status(old_key), 200);
    assert_int_equal(s_crmctl(args, out, sizeof out), 1); // rotated already
    zclock_sleep(2200);
    assert_int_equal(s_status(old_key), 401);
    assert_int_equal(s_status(key), 200);

    //  Revocation: refused within gateway.key_cache_ms (300 ms here).
    snprintf(args, sizeof args, "keys revoke %s", id);
    assert_int_equal(s_crmctl(args, out, sizeof out), 0);
    zclock_sleep(400);
    assert_int_equal(s_status(key), 401);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_memory_stays_bounded),
        cmocka_unit_test(test_broker_client_queue_cap),
        cmocka_unit_test(test_malformed_traffic_logged_once),
        cmocka_unit_test(test_bad_header_bytes_are_400),
        cmocka_unit_test(test_bad_key_fails_alone_in_its_batch),
        cmocka_unit_test(test_erasure_reaches_everything),
        cmocka_unit_test(test_api_keys),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
