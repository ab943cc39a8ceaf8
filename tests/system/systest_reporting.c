/*  System tests of the reporting daemon: its projection of contacts stays exact while
    daemons are killed under load, the growth report, the ContactsDaily events, and a
    rebuild from scratch (by replay, and by snapshot once contacts' oldest events are
    gone). The tests run in order on one suite and build on each other's data; every
    check compares with the contacts table itself, so each holds whatever came before. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "systest_sql.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "bus_client.h"
#include "common.pb-c.h"
#include "contacts.pb-c.h"
#include "events.pb-c.h"
#include "reporting.pb-c.h"

static harness_t *h;

static int s_setup(void **state) {
    (void)state;
    //  Small snapshot pages, so a rebuild of a few thousand contacts takes many steps.
    static const char *const env[] = {"CRM_REPORTING_SNAPSHOT_PAGE=250", NULL};
    h = harness_start(env);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

// --- helpers ---------------------------------------------------------------------------

static long long s_applied(void) {
    return sql_scalar("SELECT last_seq FROM reporting.inbox WHERE source = 'contacts'");
}

//  Wait until reporting has applied every contacts event; returns the head.
static long long s_wait_caught_up(int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    long long head = sql_contacts_head();
    while (s_applied() != head) {
        if (zclock_mono() > until) {
            fprintf(stderr, "reporting applied %lld of %lld contacts events\n", s_applied(), head);
            fail();
        }
        zclock_sleep(50);
        head = sql_contacts_head();
    }
    return head;
}

//  Rows where reporting's daily counts differ from the contacts table.
static long long s_differences(void) {
    return sql_scalar(
        "WITH c AS (SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date AS day, source, type,"
        "                  count(*) AS n"
        "           FROM contacts.contacts WHERE deleted_at IS NULL GROUP BY 1, 2, 3, 4),"
        "     r AS (SELECT tenant_id, day, source, type, count AS n"
        "           FROM reporting.contacts_daily WHERE count <> 0)"
        " SELECT count(*) FROM c FULL JOIN r USING (tenant_id, day, source, type)"
        " WHERE c.n IS DISTINCT FROM r.n");
}

static void s_assert_exact(void) {
    long long differences = s_differences();
    if (differences)
        fprintf(stderr, "%lld daily counts differ from the contacts table\n", differences);
    assert_int_equal(differences, 0);
    //  Every contact has its fact, deleted or not, and the live ones are counted once.
    assert_int_equal(sql_scalar("SELECT count(*) FROM reporting.contact_facts"),
                     sql_scalar("SELECT count(*) FROM contacts.contacts"));
    assert_int_equal(sql_scalar("SELECT count(*) FROM reporting.contact_facts WHERE NOT deleted"),
                     sql_scalar("SELECT count(*) FROM contacts.contacts WHERE deleted_at IS NULL"));
    assert_int_equal(sql_scalar("SELECT sum(count) FROM reporting.contacts_daily"),
                     sql_scalar("SELECT count(*) FROM contacts.contacts WHERE deleted_at IS NULL"));
}

static void s_today(char out[16]) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static const char *const s_sources[] = {"walk_in", "web", "phone", "referral", NULL};
static const char *const s_types[] = {"prospect", "customer", "service"};

//  Create one contact with a source (or none) and a type; returns the HTTP status and
//  the new id in id (when given).
static long s_create(const char *key, int n, char *id, size_t size) {
    char body[256];
    const char *source = s_sources[n % 5];
    const char *type = s_types[n % 3];
    if (source)
        snprintf(body, sizeof body,
                 "{\"firstName\":\"R\",\"lastName\":\"T%d\",\"type\":\"%s\",\"source\":\"%s\"}", n,
                 type, source);
    else
        snprintf(body, sizeof body, "{\"firstName\":\"R\",\"lastName\":\"T%d\",\"type\":\"%s\"}", n,
                 type);
    harness_response_t r = harness_http("POST", "/v1/contacts", key, body, NULL);
    long status = r.status;
    if (id && status == 201)
        snprintf(id, size, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    return status;
}

//  Call a method of a service straight through the broker as tenant-a with role.
//  Returns the reply code (0: no answer); *out gets the response when out_type is given.
static int s_mdp(const char *service, const char *method, const char *role,
                 const ProtobufCMessage *request, const ProtobufCMessageDescriptor *out_type,
                 ProtobufCMessage **out, char *field, size_t field_size) {
    crm_bus_client_t *client = crm_bus_client_new(h->broker);
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = (char *)method;
    header.tenant_id = "*";
    header.actor_id = "systest";
    header.role = (char *)role;
    header.request_id = "systest-reporting";
    header.deadline_ms = 10000;
    zmsg_t *body = crm_bus_request_new(&header, request);
    zmsg_t *reply = crm_bus_client_request(client, service, &body, 12000);
    crm_bus_client_destroy(&client);
    if (!reply)
        return 0;
    ProtobufCMessage *response = NULL;
    Crm__ReplyHeader *rh = crm_bus_reply_parse(&reply, out_type, &response);
    int code = rh ? (int)rh->code : -1;
    if (field && field_size)
        snprintf(field, field_size, "%s", rh && rh->n_fields ? rh->fields[0]->field : "");
    if (out)
        *out = response;
    else if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return code;
}

//  The rebuild's status (waiting for reporting's worker after a restart).
static Crm__Reporting__RebuildStatus *s_rebuild_status(void) {
    Crm__Empty empty = CRM__EMPTY__INIT;
    ProtobufCMessage *out = NULL;
    int code = 0;
    for (int i = 0; i < 100; i++) {
        code = s_mdp("reporting", "RebuildStatus", "admin", &empty.base,
                     &crm__reporting__rebuild_status__descriptor, &out, NULL, 0);
        if (code != 0 && code != 503)
            break;
        zclock_sleep(100);
    }
    assert_int_equal(code, 200);
    assert_non_null(out);
    return (Crm__Reporting__RebuildStatus *)out;
}

//  Wait until the rebuild is done and every event after it applied.
static void s_wait_rebuilt(int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    while (true) {
        Crm__Reporting__RebuildStatus *st = s_rebuild_status();
        bool done = strcmp(st->phase, "done") == 0;
        crm__reporting__rebuild_status__free_unpacked(st, NULL);
        if (done)
            break;
        assert_true(zclock_mono() < until);
        zclock_sleep(50);
    }
    s_wait_caught_up(timeout_ms);
}

// --- 1. exact under crashes ------------------------------------------------------------

#define S_CREATES 5000
#define S_THREADS 4

typedef struct {
    int index;
    int ok, retried;
    char ids[40][40]; // the first contacts this thread created, for updates and deletes
} s_loader_t;

static atomic_int s_created;

//  Create this thread's share of contacts, retrying those refused while a daemon is
//  down (a refused create may still have committed: the comparison is with the table).
static void *s_loader(void *arg) {
    s_loader_t *self = arg;
    const char *key = self->index == S_THREADS - 1 ? h->key_b : h->key_a;
    int n = self->index * 100000;
    while (self->ok < S_CREATES / S_THREADS) {
        char id[40] = "";
        long status = s_create(key, n++, id, sizeof id);
        if (status == 201) {
            if (self->ok < 40)
                snprintf(self->ids[self->ok], sizeof self->ids[0], "%s", id);
            self->ok++;
            atomic_fetch_add(&s_created, 1);
        } else {
            self->retried++;
            if (status != 503 && status != 504)
                fprintf(stderr, "create answered %ld\n", status);
            zclock_sleep(20);
        }
    }
    return NULL;
}

//  SIGKILL a daemon and wait until the supervisor has started it again.
static void s_kill_daemon(const char *name) {
    pid_t pid = harness_daemon_pid(name);
    assert_true(pid > 0);
    kill(pid, SIGKILL);
    for (int i = 0; i < 200; i++) {
        pid_t again = harness_daemon_pid(name);
        if (again > 0 && again != pid)
            return;
        zclock_sleep(25);
    }
    fail_msg("%s was not restarted", name);
}

static void test_exact_under_crashes(void **state) {
    (void)state;
    int64_t started = zclock_mono();
    s_loader_t loaders[S_THREADS];
    pthread_t threads[S_THREADS];
    for (int i = 0; i < S_THREADS; i++) {
        memset(&loaders[i], 0, sizeof loaders[i]);
        loaders[i].index = i;
        pthread_create(&threads[i], NULL, s_loader, &loaders[i]);
    }
    //  Kill reporting, contacts, then reporting again as the creates go on.
    const struct {
        int after;
        const char *name;
    } kills[] = {{600, "reporting"}, {1800, "contacts"}, {3200, "reporting"}};
    for (size_t k = 0; k < sizeof kills / sizeof kills[0]; k++) {
        while (atomic_load(&s_created) < kills[k].after)
            zclock_sleep(10);
        s_kill_daemon(kills[k].name);
    }
    int retried = 0;
    for (int i = 0; i < S_THREADS; i++) {
        pthread_join(threads[i], NULL);
        retried += loaders[i].retried;
    }
    int64_t loaded = zclock_mono();

    //  Some changes that move contacts between counts, and deletions.
    for (int i = 0; i < 20; i++) {
        char path[96];
        snprintf(path, sizeof path, "/v1/contacts/%s", loaders[0].ids[i]);
        harness_response_t r = harness_http(
            "PATCH", path, h->key_a,
            i % 2 ? "{\"type\":\"customer\",\"source\":\"chat\"}" : "{\"type\":\"service\"}", NULL);
        assert_int_equal(r.status, 200);
        harness_response_free(&r);
        snprintf(path, sizeof path, "/v1/contacts/%s", loaders[0].ids[20 + i]);
        r = harness_http("DELETE", path, h->key_a, NULL, NULL);
        assert_int_equal(r.status, 204);
        harness_response_free(&r);
    }

    long long head = s_wait_caught_up(60000);
    int64_t caught_up = zclock_mono();
    fprintf(stderr,
            "  %d creates (%d refused while a daemon was down) in %.1f s; caught up"
            " %.1f s later; %lld events\n",
            S_CREATES, retried, (loaded - started) / 1000.0, (caught_up - loaded) / 1000.0, head);
    s_assert_exact();
    //  Every event applied once, in order: one run from 1 to the head, and the inbox at
    //  the number of events there are.
    assert_int_equal(sql_scalar("SELECT count(*) FROM contacts.outbox_published"), head);
    assert_int_equal(s_applied(), head);
    assert_int_equal(
        sql_scalar("SELECT count(*) FROM reporting.applied_runs WHERE source = 'contacts'"), 1);
    assert_int_equal(sql_scalar("SELECT first_seq FROM reporting.applied_runs"), 1);
    assert_int_equal(sql_scalar("SELECT last_seq FROM reporting.applied_runs"), head);
    //  Facts keep the last event applied to each contact: the newest in the outbox.
    assert_int_equal(
        sql_scalar("SELECT count(*) FROM reporting.contact_facts f"
                 " JOIN (SELECT tenant_id, aggregate_id::uuid AS id, max(seq) AS seq"
                 "       FROM contacts.outbox_published GROUP BY 1, 2) o"
                 " ON o.tenant_id = f.tenant_id AND o.id = f.contact_id WHERE o.seq <> f.seq"),
        0);
}

//  The daemon stays small when idle (not measured under the sanitizers, whose shadow
//  memory dwarfs it).
static void test_idle_memory(void **state) {
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip();
#endif
    zclock_sleep(1500);
    pid_t pid = harness_daemon_pid("reporting");
    assert_true(pid > 0);
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long rss_kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &rss_kb) == 1)
            break;
    fclose(f);
    fprintf(stderr, "  crm-reporting idle RSS: %ld KiB\n", rss_kb);
    assert_true(rss_kb > 0 && rss_kb < 20 * 1024);
}

// --- 2. the growth report --------------------------------------------------------------

static char s_growth_key[80];

//  A key for a tenant of its own (figures written straight into the projection).
static void s_make_growth_key(void) {
    if (s_growth_key[0])
        return;
    const char *bin = getenv("CRM_BIN_DIR") ? getenv("CRM_BIN_DIR") : "build/bin";
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "CRM_DATABASE_DSN='%s' %s/crmctl keys create --tenant tenant-growth --role analyst"
             " 2>/dev/null",
             h->dsn, bin);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(s_growth_key, sizeof s_growth_key, p));
    s_growth_key[strcspn(s_growth_key, "\n")] = 0;
    pclose(p);
    assert_true(strlen(s_growth_key) > 10);
}

static json_t *s_day(const harness_response_t *r, size_t i) {
    return json_array_get(json_object_get(r->json, "days"), i);
}

static long long s_num(json_t *object, const char *member) {
    return json_integer_value(json_object_get(object, member)); // omitted zero: 0
}

//  The count under key in a "counts" or "totals" array (-1 when the key is missing).
static long long s_count_of(json_t *counts, const char *key) {
    for (size_t i = 0; i < json_array_size(counts); i++) {
        json_t *c = json_array_get(counts, i);
        if (strcmp(json_string_value(json_object_get(c, "key")), key) == 0)
            return s_num(c, "count");
    }
    return -1;
}

static void test_growth_report(void **state) {
    (void)state;
    s_make_growth_key();
    sql_exec("INSERT INTO reporting.contacts_daily (tenant_id, day, source, type, count) VALUES"
           " ('tenant-growth', '2026-01-01', 'walk_in', 'prospect', 3),"
           " ('tenant-growth', '2026-01-01', 'web', 'customer', 2),"
           " ('tenant-growth', '2026-01-03', '', 'prospect', 1),"
           " ('tenant-growth', '2026-01-03', 'walk_in', 'service', 4),"
           " ('tenant-growth', '2026-02-01', 'web', 'service', 7)");

    harness_response_t r = harness_http(
        "GET", "/v1/reports/contacts/growth?from=2026-01-01&to=2026-01-04&groupBy=source",
        s_growth_key, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "days")), 4);
    assert_string_equal(json_string_value(json_object_get(s_day(&r, 0), "day")), "2026-01-01");
    assert_int_equal(s_num(s_day(&r, 0), "total"), 5);
    assert_int_equal(s_count_of(json_object_get(s_day(&r, 0), "counts"), "walk_in"), 3);
    assert_int_equal(s_count_of(json_object_get(s_day(&r, 0), "counts"), "web"), 2);
    assert_int_equal(s_count_of(json_object_get(s_day(&r, 0), "counts"), "unknown"), 0);
    //  A day without contacts is there, with zeros, so a chart has no hole.
    assert_string_equal(json_string_value(json_object_get(s_day(&r, 1), "day")), "2026-01-02");
    assert_int_equal(s_num(s_day(&r, 1), "total"), 0);
    assert_int_equal(json_array_size(json_object_get(s_day(&r, 1), "counts")), 3);
    assert_int_equal(s_count_of(json_object_get(s_day(&r, 2), "counts"), "unknown"), 1);
    assert_int_equal(s_num(s_day(&r, 2), "total"), 5);
    assert_string_equal(json_string_value(json_object_get(s_day(&r, 3), "day")), "2026-01-04");
    assert_int_equal(s_num(r.json, "total"), 10);
    json_t *totals = json_object_get(r.json, "totals");
    assert_int_equal(json_array_size(totals), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(totals, 0), "key")),
                        "unknown");
    assert_int_equal(s_count_of(totals, "walk_in"), 7);
    assert_int_equal(s_count_of(totals, "web"), 2);
    assert_string_equal(harness_json_str(&r, "groupBy"), "source");
    harness_response_free(&r);

    r = harness_http("GET",
                     "/v1/reports/contacts/growth?from=2026-01-01&to=2026-02-01&groupBy=type",
                     s_growth_key, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "days")), 32);
    totals = json_object_get(r.json, "totals");
    assert_int_equal(s_count_of(totals, "prospect"), 4);
    assert_int_equal(s_count_of(totals, "customer"), 2);
    assert_int_equal(s_count_of(totals, "service"), 11);
    assert_int_equal(s_num(r.json, "total"), 17);
    assert_int_equal(s_count_of(json_object_get(s_day(&r, 31), "counts"), "service"), 7);
    harness_response_free(&r);

    //  Without groupBy: the totals only.
    r = harness_http("GET", "/v1/reports/contacts/growth?from=2026-01-03&to=2026-01-03",
                     s_growth_key, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(s_num(s_day(&r, 0), "total"), 5);
    assert_null(json_object_get(s_day(&r, 0), "counts"));
    assert_null(json_object_get(r.json, "totals"));
    harness_response_free(&r);

    //  Another tenant sees none of it.
    r = harness_http("GET", "/v1/reports/contacts/growth?from=2026-01-01&to=2026-02-01", h->key_b,
                     NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(s_num(r.json, "total"), 0);
    harness_response_free(&r);
    sql_exec("DELETE FROM reporting.contacts_daily WHERE tenant_id = 'tenant-growth'");

    //  Real figures: today's contacts of tenant A, as the contacts table has them.
    char today[16], path[160];
    s_today(today);
    snprintf(path, sizeof path, "/v1/reports/contacts/growth?from=%s&to=%s&groupBy=type", today,
             today);
    s_wait_caught_up(30000);
    r = harness_http("GET", path, h->key_analyst, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(s_num(r.json, "total"),
                     sql_scalar("SELECT count(*) FROM contacts.contacts WHERE tenant_id = 'tenant-a'"
                              " AND deleted_at IS NULL AND (created_at AT TIME ZONE 'UTC')::date ="
                              " (now() AT TIME ZONE 'UTC')::date"));
    assert_int_equal(s_count_of(json_object_get(r.json, "totals"), "service"),
                     sql_scalar("SELECT count(*) FROM contacts.contacts WHERE tenant_id = 'tenant-a'"
                              " AND deleted_at IS NULL AND type = 'service' AND (created_at AT "
                              "TIME ZONE 'UTC')::date ="
                              " (now() AT TIME ZONE 'UTC')::date"));
    harness_response_free(&r);
}

static void test_growth_bad_input(void **state) {
    (void)state;
    static const struct {
        const char *query;
        const char *field;
    } cases[] = {
        {"to=2026-01-31", "from"},
        {"from=2026-01-01", "to"},
        {"from=2026-02-30&to=2026-03-01", "from"},
        {"from=2026-01-01&to=yesterday", "to"},
        {"from=20260101&to=2026-01-02", "from"},
        {"from=2026-01-05&to=2026-01-04", "to"},
        {"from=2025-01-01&to=2026-01-02", "to"},
        {"from=2026-01-01&to=2026-01-02&groupBy=colour", "groupBy"},
        {"from=2026-01-01&to=2026-01-02&colour=red", "colour"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[160];
        snprintf(path, sizeof path, "/v1/reports/contacts/growth?%s", cases[i].query);
        harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
        if (r.status != 422 || strcmp(harness_error_field(&r), cases[i].field) != 0)
            fprintf(stderr, "%s: %ld %s\n", cases[i].query, r.status, r.body);
        assert_int_equal(r.status, 422);
        assert_string_equal(harness_error_field(&r), cases[i].field);
        harness_response_free(&r);
    }
    //  A leap day and the longest range are fine.
    harness_response_t r = harness_http(
        "GET", "/v1/reports/contacts/growth?from=2024-02-29&to=2025-02-28", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "days")), 366);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/reports/contacts/growth?from=2026-01-01&to=2026-01-02", NULL, NULL,
                     NULL);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
}

// --- 3. ContactsDaily events -----------------------------------------------------------

static void test_contacts_daily_events(void **state) {
    (void)state;
    zsock_t *sub = harness_subscriber("reporting.tenant-b.ContactsDaily");
    assert_non_null(sub);
    zclock_sleep(500); // the subscription travels up to the publishers
    char today[16];
    s_today(today);
    //  A burst of changes to one day of tenant B.
    int64_t started = zclock_mono();
    for (int i = 0; i < 60; i++)
        assert_int_equal(s_create(h->key_b, 900000 + i, NULL, 0), 201);
    int64_t burst_ms = zclock_mono() - started;
    long long expected =
        sql_scalar("SELECT count(*) FROM contacts.contacts WHERE tenant_id = 'tenant-b'"
                 " AND deleted_at IS NULL AND (created_at AT TIME ZONE 'UTC')::date ="
                 " (now() AT TIME ZONE 'UTC')::date");

    //  Events until the day's figure reaches what the table holds, then a while longer.
    int events = 0;
    long long last_total = -1;
    int64_t until = zclock_mono() + 15000, quiet_until = 0;
    zpoller_t *poller = zpoller_new(sub, NULL);
    while (zclock_mono() < until && (!quiet_until || zclock_mono() < quiet_until)) {
        if (!zpoller_wait(poller, 100))
            continue;
        zmsg_t *msg = zmsg_recv(sub);
        char *topic = zmsg_popstr(msg);
        zframe_t *frame = zmsg_pop(msg);
        assert_string_equal(topic, "reporting.tenant-b.ContactsDaily");
        Crm__Event *event = crm__event__unpack(NULL, zframe_size(frame), zframe_data(frame));
        assert_non_null(event);
        if (strcmp(event->tenant_id, "tenant-b") == 0) {
            assert_string_equal(event->aggregate_id, "tenant-b");
            assert_string_equal(event->source, "reporting");
            assert_string_equal(event->type, "ContactsDaily");
            Crm__Events__ContactsDaily *daily =
                crm__events__contacts_daily__unpack(NULL, event->payload.len, event->payload.data);
            assert_non_null(daily);
            assert_int_equal(daily->n_days, 1); // only today changed
            Crm__Events__ContactsDay *day = daily->days[0];
            assert_string_equal(day->day, today);
            long long by_source = 0, by_type = 0;
            for (size_t i = 0; i < day->n_by_source; i++)
                by_source += day->by_source[i]->count;
            for (size_t i = 0; i < day->n_by_type; i++)
                by_type += day->by_type[i]->count;
            assert_int_equal(by_source, day->total);
            assert_int_equal(by_type, day->total);
            last_total = day->total;
            events++;
            crm__events__contacts_daily__free_unpacked(daily, NULL);
            if (last_total == expected && !quiet_until)
                quiet_until = zclock_mono() + 1500; // nothing more should come
        }
        crm__event__free_unpacked(event, NULL);
        zframe_destroy(&frame);
        zstr_free(&topic);
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&sub);
    fprintf(stderr, "  60 changes in %lld ms: %d ContactsDaily events for the day\n",
            (long long)burst_ms, events);
    assert_int_equal(last_total, expected);
    //  Coalesced: at most one per second per tenant (and the one after the changes).
    assert_true(events >= 1);
    assert_true(events <= burst_ms / 1000 + 2);
}

// --- 4. rebuild ------------------------------------------------------------------------

//  Creates going on during a rebuild.
static volatile bool s_stop_side_load;

static void *s_side_load(void *arg) {
    (void)arg;
    for (int n = 700000; !s_stop_side_load; n++)
        s_create(n % 2 ? h->key_a : h->key_b, n, NULL, 0);
    return NULL;
}

static void test_rebuild_by_replay(void **state) {
    (void)state;
    Crm__Reporting__RebuildRequest req = CRM__REPORTING__REBUILD_REQUEST__INIT;
    char field[64];
    //  Only an administrator may, and the mode must be known.
    assert_int_equal(s_mdp("reporting", "Rebuild", "sales", &req.base, NULL, NULL, NULL, 0), 403);
    req.mode = "sideways";
    assert_int_equal(
        s_mdp("reporting", "Rebuild", "admin", &req.base, NULL, NULL, field, sizeof field), 422);
    assert_string_equal(field, "mode");

    //  Spoil the projection, then rebuild it.
    s_wait_caught_up(30000);
    sql_exec("UPDATE reporting.contacts_daily SET count = count + 3 WHERE tenant_id = 'tenant-a'");
    assert_true(s_differences() > 0);
    req.mode = "";
    ProtobufCMessage *out = NULL;
    assert_int_equal(s_mdp("reporting", "Rebuild", "admin", &req.base,
                           &crm__reporting__rebuild_status__descriptor, &out, NULL, 0),
                     202);
    Crm__Reporting__RebuildStatus *st = (Crm__Reporting__RebuildStatus *)out;
    assert_non_null(st);
    assert_string_equal(st->mode, "replay");
    crm__reporting__rebuild_status__free_unpacked(st, NULL);
    s_wait_rebuilt(60000);
    s_assert_exact();
    long long head = sql_contacts_head();
    assert_int_equal(
        sql_scalar("SELECT count(*) FROM reporting.applied_runs WHERE source = 'contacts'"), 1);
    assert_int_equal(sql_scalar("SELECT first_seq FROM reporting.applied_runs"), 1);
    assert_int_equal(sql_scalar("SELECT last_seq FROM reporting.applied_runs"), head);
}

static void test_rebuild_by_snapshot(void **state) {
    (void)state;
    //  contacts' oldest events are gone (past the retention, as far as replay knows).
    long long head = sql_contacts_head();
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE contacts.outbox_state SET purged_through = %lld", head - 10);
    sql_exec(sql);
    sql_exec("UPDATE reporting.contacts_daily SET count = count + 2 WHERE tenant_id = 'tenant-b';"
           "DELETE FROM reporting.contact_facts WHERE tenant_id = 'tenant-a'");
    assert_true(s_differences() > 0);

    Crm__Reporting__RebuildRequest req = CRM__REPORTING__REBUILD_REQUEST__INIT;
    req.mode = "replay";
    assert_int_equal(s_mdp("reporting", "Rebuild", "admin", &req.base, NULL, NULL, NULL, 0), 409);

    //  Creates go on while the pages load; reporting is killed half way once.
    s_stop_side_load = false;
    pthread_t thread;
    pthread_create(&thread, NULL, s_side_load, NULL);
    zclock_sleep(200);
    req.mode = "auto";
    ProtobufCMessage *out = NULL;
    assert_int_equal(s_mdp("reporting", "Rebuild", "admin", &req.base,
                           &crm__reporting__rebuild_status__descriptor, &out, NULL, 0),
                     202);
    Crm__Reporting__RebuildStatus *st = (Crm__Reporting__RebuildStatus *)out;
    assert_string_equal(st->mode, "snapshot");
    crm__reporting__rebuild_status__free_unpacked(st, NULL);
    s_kill_daemon("reporting"); // most likely half way: the restart carries on
    zclock_sleep(500);
    s_stop_side_load = true;
    pthread_join(thread, NULL);
    s_wait_rebuilt(60000);
    s_assert_exact();

    st = s_rebuild_status();
    fprintf(stderr, "  snapshot of %llu contacts at seq %llu; applied through %llu\n",
            (unsigned long long)st->contacts_loaded, (unsigned long long)st->watermark_seq,
            (unsigned long long)st->applied_seq);
    assert_string_equal(st->mode, "snapshot");
    assert_true(st->contacts_loaded >=
                (uint64_t)sql_scalar("SELECT count(*) FROM contacts.contacts") -
                    (uint64_t)(sql_contacts_head() - st->watermark_seq));
    //  The events after the snapshot's watermark, applied once each.
    head = sql_contacts_head();
    long long runs =
        sql_scalar("SELECT count(*) FROM reporting.applied_runs WHERE source = 'contacts'");
    if (head > (long long)st->watermark_seq) {
        assert_int_equal(runs, 1);
        assert_int_equal(sql_scalar("SELECT first_seq FROM reporting.applied_runs"),
                         st->watermark_seq + 1);
        assert_int_equal(sql_scalar("SELECT last_seq FROM reporting.applied_runs"), head);
    } else
        assert_int_equal(runs, 0);
    crm__reporting__rebuild_status__free_unpacked(st, NULL);
}

//  A rebuild recorded but not done when the daemon stopped is done by the next one.
static void test_rebuild_resumes_after_restart(void **state) {
    (void)state;
    s_wait_caught_up(30000);
    sql_exec("UPDATE reporting.contacts_daily SET count = count + 1;"
           "UPDATE reporting.rebuild SET phase = 'starting', mode = 'snapshot',"
           " started_at = now(), finished_at = NULL");
    assert_true(s_differences() > 0);
    s_kill_daemon("reporting");
    s_wait_rebuilt(60000);
    s_assert_exact();
    Crm__Reporting__RebuildStatus *st = s_rebuild_status();
    assert_string_equal(st->phase, "done");
    assert_string_equal(st->mode, "snapshot");
    assert_true(st->finished_at[0] != 0);
    crm__reporting__rebuild_status__free_unpacked(st, NULL);
}

// --- 5. a source that hangs holds up nothing -------------------------------------------

//  With contacts stopped (SIGSTOP: the broker still counts its workers live for a few
//  seconds), a restarted reporting daemon's catch-up call to contacts waits for an
//  answer, for up to events.replay_timeout_ms (5 s). Reporting serves its own requests
//  meanwhile; once contacts runs again it catches up.
static void test_serves_while_a_source_hangs(void **state) {
    (void)state;
    s_make_growth_key();
    s_wait_caught_up(30000);
    pid_t contacts = harness_daemon_pid("contacts");
    assert_true(contacts > 0);
    kill(contacts, SIGSTOP);
    s_kill_daemon("reporting");
    int64_t start = zclock_mono();
    harness_response_t r = {0};
    while (zclock_mono() - start < 15000) {
        r = harness_http("GET", "/v1/reports/contacts/growth?from=2026-01-01&to=2026-01-03",
                         s_growth_key, NULL, NULL);
        if (r.status == 200)
            break;
        harness_response_free(&r);
        zclock_sleep(20);
    }
    int64_t took = zclock_mono() - start;
    kill(contacts, SIGCONT);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    if (took >= 2500)
        fprintf(stderr, "reporting answered %lld ms after its restart\n", (long long)took);
    assert_true(took < 2500);
    //  And it catches up once contacts answers.
    assert_int_equal(s_create(h->key_a, 1, NULL, 0), 201);
    s_wait_caught_up(30000);
    s_assert_exact();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_under_crashes),
        cmocka_unit_test(test_idle_memory),
        cmocka_unit_test(test_growth_report),
        cmocka_unit_test(test_growth_bad_input),
        cmocka_unit_test(test_contacts_daily_events),
        cmocka_unit_test(test_rebuild_by_replay),
        cmocka_unit_test(test_rebuild_by_snapshot),
        cmocka_unit_test(test_rebuild_resumes_after_restart),
        cmocka_unit_test(test_serves_while_a_source_hangs),
    };
    return cmocka_run_group_tests_name("system: reporting", tests, s_setup, s_teardown);
}
