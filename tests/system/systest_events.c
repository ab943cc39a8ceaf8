/*  System tests: events end to end. Contacts writes its events to its outbox, its relay
    numbers and publishes them through the gateway's proxy; a plain SUB socket sees them
    live, Events.Replay serves history, and a consumer built on crm_subscriber_t (run in
    this process, with its own schema) ends exact whatever it missed. The suite runs
    with a tiny XPUB high-water mark, so a slow consumer really does miss events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "systest_sql.h"

#include "bus_client.h"
#include "contacts.pb-c.h"
#include "outbox.h"
#include "subscriber.h"
#include "harness.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static harness_t *h;

static int s_setup(void **state) {
    (void)state;
    static const char *const env[] = {"CRM_EVENTS_XPUB_HWM=20", "CRM_EVENTS_XPUB_SNDBUF_BYTES=4096",
                                      "CRM_EVENTS_RETENTION_INTERVAL_MS=1000", NULL};
    h = harness_start(env);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  --- Helpers ---------------------------------------------------------------------------

static int s_counter;

//  Create a contact in tenant A; its id into id_out when given. Returns the status.
static long s_create(char *id_out) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"kind\":\"person\",\"firstName\":\"Eve\",\"lastName\":\"Ng\",\"source\":\"web\","
             "\"emails\":[{\"address\":\"ev%d.%lld@example.com\"}]}",
             __atomic_add_fetch(&s_counter, 1, __ATOMIC_SEQ_CST), (long long)zclock_usecs());
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    long status = r.status;
    if (status != 201)
        fprintf(stderr, "create: %ld %s\n", status, r.body);
    if (id_out)
        snprintf(id_out, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    return status;
}

typedef struct {
    int count;
    int created;
} s_load_t;

static void *s_load_thread(void *arg) {
    s_load_t *load = arg;
    for (int i = 0; i < load->count; i++)
        if (s_create(NULL) == 201)
            load->created++;
    return NULL;
}

//  Create n contacts over HTTP from `threads` clients at once; returns how many got 201.
static int s_create_many(int n, int threads) {
    pthread_t t[8];
    s_load_t load[8] = {{0}};
    for (int i = 0; i < threads; i++) {
        load[i].count = n / threads + (i < n % threads);
        pthread_create(&t[i], NULL, s_load_thread, &load[i]);
    }
    int created = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        created += load[i].created;
    }
    return created;
}

//  Call contacts' Events.Replay; the answer (caller frees) or NULL, *code the reply code.
static Crm__Events__ReplayResponse *s_replay(crm_bus_client_t *client, uint64_t from,
                                             uint32_t limit, uint32_t *code, char *error,
                                             size_t error_size) {
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = "Events.Replay";
    header.tenant_id = "*";
    header.actor_id = "systest";
    header.role = "system";
    Crm__Events__ReplayRequest req = CRM__EVENTS__REPLAY_REQUEST__INIT;
    req.from_seq = from;
    req.limit = limit;
    zmsg_t *body = crm_bus_request_new(&header, &req.base);
    zmsg_t *reply = crm_bus_client_request(client, "contacts", &body, 5000);
    assert_non_null(reply);
    ProtobufCMessage *out = NULL;
    Crm__ReplyHeader *rh =
        crm_bus_reply_parse(&reply, &crm__events__replay_response__descriptor, &out);
    assert_non_null(rh);
    *code = rh->code;
    if (error)
        snprintf(error, error_size, "%s", rh->error);
    crm__reply_header__free_unpacked(rh, NULL);
    return (Crm__Events__ReplayResponse *)out;
}

//  A SUB socket on the proxy, subscribed to prefix, ready once a probe event arrives.
static zsock_t *s_subscriber(const char *prefix) {
    zsock_t *sub = harness_subscriber(prefix);
    assert_non_null(sub);
    zsock_set_rcvtimeo(sub, 5000);
    //  Subscriptions take a moment to reach the relays through the proxy; heads come
    //  every second and prove the path is open.
    zsock_t *probe = harness_subscriber("contacts._head");
    zsock_set_rcvtimeo(probe, 5000);
    zmsg_t *msg = zmsg_recv(probe);
    assert_non_null(msg);
    zmsg_destroy(&msg);
    zsock_destroy(&probe);
    return sub;
}

//  The next event on sub that is not a head announcement (caller frees), or NULL.
static Crm__Event *s_next_event(zsock_t *sub) {
    //  Head announcements keep arriving: the receive timeout bounds the whole wait.
    int64_t deadline = zclock_mono() + zsock_rcvtimeo(sub);
    while (zclock_mono() < deadline) {
        zmsg_t *msg = zmsg_recv(sub);
        if (!msg)
            return NULL;
        char *topic = zmsg_popstr(msg);
        zframe_t *body = zmsg_pop(msg);
        bool head = strstr(topic, "._head") != NULL;
        Crm__Event *event =
            head ? NULL : crm__event__unpack(NULL, zframe_size(body), zframe_data(body));
        if (event) { //  "<source>.<tenant>.<Type>"
            char expected[256];
            snprintf(expected, sizeof expected, "%s.%s.%s", event->source, event->tenant_id,
                     event->type);
            assert_string_equal(topic, expected);
        }
        zstr_free(&topic);
        zframe_destroy(&body);
        zmsg_destroy(&msg);
        if (!head)
            return event;
    }
    return NULL;
}

//  --- A consumer in this process: crm_subscriber_t applying into schema "sink" --------

typedef struct {
    crm_subscriber_t *sub;
    volatile uint64_t *target; // stop when contacts' last applied seq reaches it
    int64_t deadline;
    int slow_us;               // sleep per batch, to fall behind the publisher
} s_sink_t;

static uint64_t s_fail_once_at; // the first batch holding this seq fails (0: none)

static int s_sink_apply(crm_db_t *db, const char *source, Crm__Event **events, size_t n,
                        void *arg) {
    s_sink_t *sink = arg;
    (void)source;
    if (s_fail_once_at && events[0]->seq <= s_fail_once_at && events[n - 1]->seq >= s_fail_once_at) {
        s_fail_once_at = 0;
        return -1;
    }
    static const crm_stmt_t insert = {
        .name = "sink_insert",
        .sql = "INSERT INTO sink.applied (seq, event_id, type)"
               " SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[])",
        .nparams = 3,
        .writes = true};
    char **seqs = calloc(n, sizeof *seqs), **ids = calloc(n, sizeof *ids),
         **types = calloc(n, sizeof *types);
    for (size_t i = 0; i < n; i++) {
        seqs[i] = zsys_sprintf("%llu", (unsigned long long)events[i]->seq);
        ids[i] = events[i]->event_id;
        types[i] = events[i]->type;
    }
    char *a = crm_db_text_array((const char *const *)seqs, n);
    char *b = crm_db_text_array((const char *const *)ids, n);
    char *c = crm_db_text_array((const char *const *)types, n);
    const char *params[] = {a, b, c};
    PGresult *res = crm_db_query(db, &insert, params);
    int rc = res ? 0 : -1;
    PQclear(res);
    for (size_t i = 0; i < n; i++)
        zstr_free(&seqs[i]);
    free(seqs);
    free(ids);
    free(types);
    free(a);
    free(b);
    free(c);
    if (sink->slow_us)
        usleep(sink->slow_us);
    return rc;
}

static int s_sink_check(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    s_sink_t *sink = arg;
    if (crm_subscriber_last_seq(sink->sub, "contacts") >= *sink->target ||
        zclock_mono() > sink->deadline)
        return -1; // ends the loop
    return 0;
}

static crm_config_t *s_config(void) {
    setenv("CRM_DATABASE_DSN", h->dsn, 1);
    setenv("CRM_BROKER_ENDPOINT", h->broker, 1);
    setenv("CRM_EVENTS_SUBSCRIBE_ENDPOINT", h->events_sub, 1);
    setenv("CRM_EVENTS_PUBLISH_ENDPOINT", h->events_pub, 1);
    setenv("CRM_EVENTS_APPLY_BATCH", "50", 1);
    setenv("CRM_EVENTS_XPUB_HWM", "20", 1); // the sink drops too when it falls behind
    setenv("CRM_EVENTS_REPLAY_LIMIT", "200", 1);
    char *err = NULL;
    crm_config_t *cfg = crm_config_load(NULL, &err);
    assert_non_null(cfg);
    return cfg;
}

static uint64_t s_gaps; // gaps the last sink run saw on the wire

//  Run the sink until it has applied contacts' events up to *target (which `during`,
//  run on a thread meanwhile, may set) or timeout_ms passes. Returns the subscriber's
//  replay count; *last the last seq applied.
static uint64_t s_sink_run(volatile uint64_t *target, int timeout_ms, int slow_us,
                           void *(*during)(void *), uint64_t *last) {
    crm_config_t *cfg = s_config();
    crm_db_t *db = crm_db_new(cfg->database_dsn, 1000);
    assert_int_equal(crm_db_connect(db, 5000), 0);
    crm_db_exec(db, "CREATE SCHEMA IF NOT EXISTS sink");
    assert_int_equal(crm_events_prepare_schema(db, "sink"), 0);
    crm_db_exec(db, "CREATE TABLE IF NOT EXISTS sink.applied ("
                    " seq bigint PRIMARY KEY, event_id uuid NOT NULL UNIQUE, type text NOT NULL)");
    s_sink_t sink = {.target = target, .deadline = zclock_mono() + timeout_ms,
                     .slow_us = slow_us};
    sink.sub = crm_subscriber_new(cfg, "sink", db);
    crm_subscriber_follow(sink.sub, "contacts");
    crm_subscriber_on_apply(sink.sub, s_sink_apply, &sink);
    zloop_t *loop = zloop_new();
    assert_int_equal(crm_subscriber_attach(sink.sub, loop), 0);
    zloop_timer(loop, 20, 0, s_sink_check, &sink);
    pthread_t t;
    if (during)
        pthread_create(&t, NULL, during, NULL);
    zloop_start(loop);
    if (during)
        pthread_join(t, NULL);
    uint64_t replays = crm_subscriber_replays(sink.sub);
    s_gaps = crm_subscriber_gaps(sink.sub);
    *last = crm_subscriber_last_seq(sink.sub, "contacts");
    crm_subscriber_destroy(&sink.sub);
    zloop_destroy(&loop);
    crm_db_destroy(&db);
    crm_config_destroy(&cfg);
    return replays;
}

//  The sink's table holds exactly the events 1..head of contacts' outbox, once each.
static void s_assert_sink_exact(long long head) {
    assert_int_equal(sql_scalar("SELECT count(*) FROM sink.applied"), head);
    assert_int_equal(sql_scalar("SELECT coalesce(max(seq), 0) FROM sink.applied"), head);
    assert_int_equal(sql_scalar("SELECT last_seq FROM sink.inbox WHERE source = 'contacts'"),
                     head);
    //  The same events, not only the same count.
    assert_int_equal(sql_scalar("SELECT count(*) FROM sink.applied a"
                                  " JOIN contacts.outbox_published o USING (seq)"
                                  " WHERE o.event_id = a.event_id AND o.type = a.type"),
                     head);
}

//  The proxy's count of contacts events received from relays (from /metrics).
static long long s_forwarded(void) {
    harness_response_t r = harness_http("GET", "/metrics", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    const char *at = strstr(r.body, "crm_events_forwarded_total{source=\"contacts\"} ");
    long long n = at ? atoll(at + strlen("crm_events_forwarded_total{source=\"contacts\"} ")) : 0;
    harness_response_free(&r);
    return n;
}

//  --- Tests -----------------------------------------------------------------------------

//  Every write publishes its event, live, in order, with the contact in the payload.
static void test_live_events(void **state) {
    (void)state;
    long long before = sql_contacts_head();
    zsock_t *sub = s_subscriber("contacts.");
    char ids[10][64];
    for (int i = 0; i < 10; i++)
        assert_int_equal(s_create(ids[i]), 201);
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", ids[3]);
    harness_response_t r =
        harness_http("PATCH", path, h->key_a, "{\"firstName\":\"Eva\",\"type\":\"customer\"}", NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    snprintf(path, sizeof path, "/v1/contacts/%s", ids[4]);
    r = harness_http("DELETE", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    //  A refused write publishes nothing: a duplicate email.
    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"kind\":\"person\",\"firstName\":\"A\",\"lastName\":\"B\","
                     "\"emails\":[{\"address\":\"dup.events@example.com\"}]}",
                     NULL);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"kind\":\"person\",\"firstName\":\"C\",\"lastName\":\"D\","
                     "\"emails\":[{\"address\":\"dup.events@example.com\"}]}",
                     NULL);
    assert_int_equal(r.status, 409);
    harness_response_free(&r);

    for (int i = 0; i < 13; i++) {
        Crm__Event *e = s_next_event(sub);
        assert_non_null(e);
        assert_int_equal(e->seq, before + 1 + i);
        assert_string_equal(e->source, "contacts");
        assert_string_equal(e->tenant_id, "tenant-a");
        assert_int_equal(strlen(e->event_id), 36);
        assert_int_equal(strlen(e->occurred_at), 27);
        if (i < 10) {
            assert_string_equal(e->type, "ContactCreated");
            Crm__Events__ContactCreated *p =
                crm__events__contact_created__unpack(NULL, e->payload.len, e->payload.data);
            assert_non_null(p);
            assert_string_equal(p->contact->id, ids[i]);
            assert_string_equal(e->aggregate_id, ids[i]);
            assert_string_equal(p->contact->first_name, "Eve");
            assert_int_equal(p->contact->source, CRM__CONTACTS__CONTACT_SOURCE__CONTACT_SOURCE_WEB);
            assert_string_equal(p->contact->created_at, e->occurred_at);
            crm__events__contact_created__free_unpacked(p, NULL);
        } else if (i == 10) {
            assert_string_equal(e->type, "ContactUpdated");
            Crm__Events__ContactUpdated *p =
                crm__events__contact_updated__unpack(NULL, e->payload.len, e->payload.data);
            assert_non_null(p);
            assert_string_equal(p->contact->id, ids[3]);
            assert_string_equal(p->contact->first_name, "Eva");
            assert_int_equal(p->contact->type, CRM__CONTACTS__CONTACT_TYPE__CONTACT_TYPE_CUSTOMER);
            assert_int_equal(p->n_changed, 2);
            crm__events__contact_updated__free_unpacked(p, NULL);
        } else if (i == 11) {
            assert_string_equal(e->type, "ContactDeleted");
            Crm__Events__ContactDeleted *p =
                crm__events__contact_deleted__unpack(NULL, e->payload.len, e->payload.data);
            assert_non_null(p);
            assert_string_equal(p->contact_id, ids[4]);
            crm__events__contact_deleted__free_unpacked(p, NULL);
        } else
            assert_string_equal(e->type, "ContactCreated");
        crm__event__free_unpacked(e, NULL);
    }
    //  Nothing for the refused create.
    zsock_set_rcvtimeo(sub, 1500);
    Crm__Event *extra = s_next_event(sub);
    assert_null(extra);
    assert_int_equal(sql_contacts_head(), before + 13);
    zsock_destroy(&sub);

    //  The proxy counts what it forwarded.
    r = harness_http("GET", "/metrics", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "crm_events_forwarded_total{source=\"contacts\"}"));
    assert_non_null(strstr(r.body, "crm_events_subscriptions"));
    harness_response_free(&r);
}

//  History through Events.Replay, page by page, in order, up to the head.
static void test_replay_paging(void **state) {
    (void)state;
    assert_int_equal(s_create_many(40, 2), 40);
    long long head = sql_contacts_head();
    crm_bus_client_t *client = crm_bus_client_new(h->broker);
    uint64_t next = 1;
    int pages = 0;
    while (true) {
        uint32_t code = 0;
        Crm__Events__ReplayResponse *page = s_replay(client, next, 7, &code, NULL, 0);
        assert_int_equal(code, 200);
        assert_non_null(page);
        assert_true(page->n_events <= 7);
        assert_int_equal(page->head_seq, head);
        assert_int_equal(page->oldest_seq, 1);
        for (size_t i = 0; i < page->n_events; i++) {
            assert_int_equal(page->events[i]->seq, next);
            assert_string_equal(page->events[i]->source, "contacts");
            assert_non_null(crm_event_descriptor(page->events[i]->type));
            next++;
        }
        size_t n = page->n_events;
        crm__events__replay_response__free_unpacked(page, NULL);
        pages++;
        if (n < 7)
            break;
    }
    assert_int_equal(next, head + 1);
    assert_int_equal(pages, head / 7 + 1);
    //  From beyond the head: an empty page.
    uint32_t code = 0;
    Crm__Events__ReplayResponse *page = s_replay(client, head + 100, 10, &code, NULL, 0);
    assert_int_equal(code, 200);
    assert_int_equal(page->n_events, 0);
    crm__events__replay_response__free_unpacked(page, NULL);
    //  Every tenant's events: refused to a tenant's own roles.
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = "Events.Replay";
    header.tenant_id = "tenant-a";
    header.role = "analyst";
    Crm__Events__ReplayRequest req = CRM__EVENTS__REPLAY_REQUEST__INIT;
    req.from_seq = 1;
    zmsg_t *body = crm_bus_request_new(&header, &req.base);
    zmsg_t *reply = crm_bus_client_request(client, "contacts", &body, 5000);
    ProtobufCMessage *events = NULL;
    Crm__ReplyHeader *rh =
        crm_bus_reply_parse(&reply, &crm__events__replay_response__descriptor, &events);
    assert_non_null(rh);
    assert_int_equal(rh->code, 403);
    assert_string_equal(rh->error, "forbidden");
    assert_null(events);
    crm__reply_header__free_unpacked(rh, NULL);
    crm_bus_client_destroy(&client);
}

//  A consumer that starts after 1,000 events gets them all, in order, through replay.
static void test_late_subscriber(void **state) {
    (void)state;
    sql_exec("DROP SCHEMA IF EXISTS sink CASCADE");
    assert_int_equal(s_create_many(1000, 4), 1000);
    long long head = sql_contacts_head();
    assert_true(head >= 1000);
    uint64_t last = 0;
    volatile uint64_t target = (uint64_t)head;
    uint64_t replays = s_sink_run(&target, 30000, 0, NULL, &last);
    assert_int_equal(last, head);
    assert_true(replays >= 1);
    s_assert_sink_exact(head);
}

//  An apply that fails in the middle of a catch-up by pages (the next page already
//  asked for while it ran): the consumer backs off, catches up again and ends exact.
static void test_catch_up_after_failed_apply(void **state) {
    (void)state;
    sql_exec("DROP SCHEMA IF EXISTS sink CASCADE");
    long long head = sql_contacts_head();
    assert_true(head >= 1000); // the late subscriber's events at least: 5 pages and more
    s_fail_once_at = (uint64_t)head / 2;
    uint64_t last = 0;
    volatile uint64_t target = (uint64_t)head;
    uint64_t replays = s_sink_run(&target, 30000, 0, NULL, &last);
    assert_int_equal(s_fail_once_at, 0); // it did fail once
    assert_int_equal(last, head);
    assert_true(replays >= (uint64_t)head / 200 + 1); // the failed page was asked for again
    s_assert_sink_exact(head);
}

static volatile uint64_t s_load_target = UINT64_MAX;

//  2,000 creates, then the head they lead to becomes the sink's target.
static void *s_load_then_target(void *arg) {
    (void)arg;
    assert_int_equal(s_create_many(2000, 4), 2000);
    s_load_target = (uint64_t)sql_contacts_head();
    return NULL;
}

//  A consumer slower than the publisher falls past the proxy's high-water mark (20 in
//  this suite) and misses events; it notices the gaps, fills them by replay and ends
//  exact, each event applied once.
static void test_slow_consumer_with_drops(void **state) {
    (void)state;
    sql_exec("DROP SCHEMA IF EXISTS sink CASCADE");
    uint64_t last = 0;
    //  Each batch of the sink (50 events) takes 100 ms more than it needs: the sink
    //  applies 500 events a second while they come several times faster.
    uint64_t replays = s_sink_run(&s_load_target, 90000, 100000, s_load_then_target, &last);
    long long head = sql_contacts_head();
    assert_int_equal((long long)s_load_target, head);
    assert_int_equal(last, head);
    s_assert_sink_exact(head);
    assert_true(replays >= 2); // the start, and at least one gap
    assert_true(s_gaps >= 1);  // events really were dropped on the way
}

//  A live consumer behind the tiny high-water mark really misses events on the wire
//  (so the replay path is what keeps it exact).
static void test_proxy_drops_for_slow_subscriber(void **state) {
    (void)state;
    zsock_t *sub = s_subscriber("contacts.tenant-a.Contact");
    zsock_set_rcvhwm(sub, 1);
    zsock_set_rcvbuf(sub, 4096); // and little room in the kernel: the proxy must drop
    long long before = sql_contacts_head();
    assert_int_equal(s_create_many(1500, 4), 1500);
    long long head = sql_contacts_head();
    zclock_sleep(500);
    //  Read what survived: fewer than were published.
    zsock_set_rcvtimeo(sub, 300);
    int got = 0;
    Crm__Event *e;
    while ((e = s_next_event(sub))) {
        assert_true((long long)e->seq > before && (long long)e->seq <= head);
        got++;
        crm__event__free_unpacked(e, NULL);
    }
    assert_true(got < head - before);
    zsock_destroy(&sub);
}

//  Two processes of contacts relay at once: every event is numbered once and
//  published once.
static void test_two_relays(void **state) {
    (void)state;
    //  A second contacts process, beside the supervisor's.
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); // never outlive the test, however it ends
        setenv("CRM_DATABASE_DSN", h->dsn, 1);
        setenv("CRM_BROKER_ENDPOINT", h->broker, 1);
        setenv("CRM_EVENTS_PUBLISH_ENDPOINT", h->events_pub, 1);
        setenv("CRM_EVENTS_SUBSCRIBE_ENDPOINT", h->events_sub, 1);
        setenv("CRM_EVENTS_RELAY_INTERVAL_MS", "5", 1); // poll hard: maximise contention
        setenv("CRM_CONTACTS_DUPLICATE_CHECK", "false", 1); // as the harness's (look-alikes)
        setenv("CRM_LOG_LEVEL", "warn", 1);
        char path[512];
        snprintf(path, sizeof path, "%s/crm-contacts", getenv("CRM_BIN_DIR"));
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    zclock_sleep(1000); // registered with the broker
    zsock_t *sub = s_subscriber("contacts.");
    zsock_set_rcvhwm(sub, 0);
    long long before = sql_contacts_head();
    long long forwarded_before = s_forwarded();
    assert_int_equal(s_create_many(300, 4), 300);
    long long head = sql_contacts_head();
    assert_int_equal(head, before + 300);
    //  Numbered densely, once each.
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT seq) FROM contacts.outbox_published"
             " WHERE seq > %lld AND seq <= %lld",
             before, head);
    assert_int_equal(sql_scalar(sql), 300);
    //  Published once each: the proxy received exactly 300 contacts events from the
    //  two relays together...
    for (int i = 0; i < 100 && s_forwarded() < forwarded_before + 300; i++)
        zclock_sleep(20);
    zclock_sleep(300);
    assert_int_equal(s_forwarded(), forwarded_before + 300);
    //  ... and a subscriber sees none twice (it may miss some: the suite's buffers are
    //  tiny on purpose).
    char *seen = calloc(301, 1);
    int received = 0;
    zsock_set_rcvtimeo(sub, 1000);
    Crm__Event *e;
    while ((e = s_next_event(sub))) {
        long long k = (long long)e->seq - before;
        assert_true(k >= 1 && k <= 300);
        assert_int_equal(seen[k], 0);
        seen[k] = 1;
        received++;
        crm__event__free_unpacked(e, NULL);
    }
    assert_true(received > 0);
    free(seen);
    zsock_destroy(&sub);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

//  Events past the retention are deleted; a replay from before them is refused clearly.
static void test_retention(void **state) {
    (void)state;
    long long head = sql_contacts_head();
    //  Events go by claims (the rows numbered together): age the oldest.
    long long purged = sql_scalar("SELECT min(last_seq) FROM contacts.outbox_claims");
    assert_true(purged > 0 && purged < head);
    long long kept = sql_scalar("SELECT count(*) FROM contacts.outbox");
    long long kept_published = sql_scalar("SELECT count(*) FROM contacts.outbox_published");
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE contacts.outbox_claims SET claimed_at = now() - interval"
             " '8 days' WHERE last_seq <= %lld", purged);
    sql_exec(sql);
    for (int i = 0; i < 100; i++) {
        if (sql_scalar("SELECT purged_through FROM contacts.outbox_state") == purged)
            break;
        zclock_sleep(50);
    }
    assert_int_equal(sql_scalar("SELECT purged_through FROM contacts.outbox_state"), purged);
    //  Exactly those rows went; the others keep their seq.
    assert_int_equal(sql_scalar("SELECT count(*) FROM contacts.outbox"), kept - purged);
    assert_int_equal(sql_scalar("SELECT count(*) FROM contacts.outbox_published"),
                     kept_published - purged);
    assert_int_equal(sql_scalar("SELECT min(seq) FROM contacts.outbox_published"), purged + 1);
    crm_bus_client_t *client = crm_bus_client_new(h->broker);
    uint32_t code = 0;
    char error[64];
    Crm__Events__ReplayResponse *page = s_replay(client, purged, 10, &code, error, sizeof error);
    assert_int_equal(code, 410);
    assert_string_equal(error, "events_expired");
    assert_null(page);
    page = s_replay(client, purged + 1, 10, &code, NULL, 0);
    assert_int_equal(code, 200);
    assert_int_equal(page->oldest_seq, purged + 1);
    assert_int_equal(page->events[0]->seq, purged + 1);
    crm__events__replay_response__free_unpacked(page, NULL);
    crm_bus_client_destroy(&client);
}

//  A connection for driving crm_events_prepare_schema directly.
static crm_db_t *s_db(void) {
    crm_db_t *db = crm_db_new(h->dsn, 1000);
    assert_int_equal(crm_db_connect(db, 5000), 0);
    return db;
}

//  Write one event into schema's outbox as a service does, its id ending in digit.
static void s_outbox_write(const char *schema, int digit) {
    char sql[320];
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.outbox (event_id, type, tenant_id, payload, occurred_at) VALUES"
             " ('00000000-0000-7000-8000-00000000000%d', 'ContactCreated', 't', '\\x0%d', now())",
             schema, digit, digit);
    sql_exec(sql);
}

//  The last digits of the event ids in relation (a view of the outbox), in order, read as
//  one number: 123 for the events ending in 1, 2 and 3.
static long long s_event_digits(const char *relation, const char *order) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(right(event_id::text, 1), '' ORDER BY %s)::int FROM %s", order,
             relation);
    return sql_scalar(sql);
}

//  An outbox of the earlier layout (seq written into each row) is converted in place:
//  its numbered rows keep their seq, its unnumbered ones wait in their order, ahead of
//  anything written after.
static void test_earlier_layout_converted(void **state) {
    (void)state;
    sql_exec("DROP SCHEMA IF EXISTS legacy CASCADE; CREATE SCHEMA legacy;"
             "CREATE TABLE legacy.outbox (id bigserial PRIMARY KEY, seq bigint,"
             " event_id uuid NOT NULL, type text NOT NULL, tenant_id text NOT NULL,"
             " aggregate_id text NOT NULL DEFAULT '', payload bytea NOT NULL,"
             " occurred_at timestamptz NOT NULL, published_at timestamptz);"
             "CREATE UNIQUE INDEX outbox_seq ON legacy.outbox (seq) WHERE seq IS NOT NULL;"
             "CREATE INDEX outbox_unnumbered ON legacy.outbox (id) WHERE seq IS NULL;"
             "CREATE TABLE legacy.outbox_state (id int PRIMARY KEY CHECK (id = 1),"
             " last_seq bigint NOT NULL DEFAULT 0, purged_through bigint NOT NULL DEFAULT 0);"
             //  seq 1 and 2 purged; 3 to 5 numbered out of id order; two unnumbered.
             "INSERT INTO legacy.outbox_state VALUES (1, 5, 2);"
             "INSERT INTO legacy.outbox (id, seq, event_id, type, tenant_id, payload,"
             " occurred_at) VALUES"
             " (3, 5, '00000000-0000-7000-8000-000000000005', 'ContactCreated', 't',"
             " '\\x05', now()),"
             " (4, 3, '00000000-0000-7000-8000-000000000003', 'ContactCreated', 't',"
             " '\\x03', now()),"
             " (5, 4, '00000000-0000-7000-8000-000000000004', 'ContactCreated', 't',"
             " '\\x04', now()),"
             " (6, NULL, '00000000-0000-7000-8000-000000000006', 'ContactCreated', 't',"
             " '\\x06', now()),"
             " (7, NULL, '00000000-0000-7000-8000-000000000007', 'ContactCreated', 't',"
             " '\\x07', now());"
             "SELECT setval('legacy.outbox_id_seq', 7)");
    crm_db_t *db = s_db();
    assert_int_equal(crm_events_prepare_schema(db, "legacy"), 0);
    assert_int_equal(crm_events_prepare_schema(db, "legacy"), 0); // a second time: nothing
    crm_db_destroy(&db);

    assert_int_equal(sql_scalar("SELECT count(*) FROM information_schema.columns"
                                " WHERE table_schema = 'legacy' AND column_name = 'seq'"
                                " AND table_name = 'outbox'"), 0);
    assert_int_equal(sql_scalar("SELECT last_seq FROM legacy.outbox_state"), 5);
    assert_int_equal(sql_scalar("SELECT purged_through FROM legacy.outbox_state"), 2);
    //  Each numbered row kept its seq.
    assert_int_equal(sql_scalar("SELECT count(*) FROM legacy.outbox_published"), 3);
    assert_int_equal(sql_scalar("SELECT count(*) FROM legacy.outbox_published"
                                " WHERE right(event_id::text, 1)::int = seq"),
                     3);
    //  A row written now waits behind the two that were waiting, in that order.
    s_outbox_write("legacy", 8);
    assert_int_equal(sql_scalar("SELECT count(*) FROM legacy.outbox_pending"), 3);
    assert_int_equal(s_event_digits("legacy.outbox_pending", "xid, id"), 678);
    sql_exec("DROP SCHEMA legacy CASCADE");
}

//  An outbox restored from a dump into a cluster whose transaction ids are behind the
//  dumped ones is renumbered on start: its events keep their seq, waiting ones stay
//  waiting, and rows written afterwards are not hidden behind the old snapshots.
static void test_restored_outbox_rebased(void **state) {
    (void)state;
    sql_exec("DROP SCHEMA IF EXISTS restored CASCADE; CREATE SCHEMA restored");
    crm_db_t *db = s_db();
    assert_int_equal(crm_events_prepare_schema(db, "restored"), 0);
    //  As another cluster, far ahead, left it: seq 1 to 3 in one claim, one row waiting.
    sql_exec("INSERT INTO restored.outbox (xid, id, event_id, type, tenant_id, payload,"
             " occurred_at) VALUES"
             " ('900000000', 11, '00000000-0000-7000-8000-000000000001', 'ContactCreated', 't',"
             "  '\\x01', now()),"
             " ('900000000', 12, '00000000-0000-7000-8000-000000000002', 'ContactCreated', 't',"
             "  '\\x02', now()),"
             " ('900000003', 10, '00000000-0000-7000-8000-000000000003', 'ContactCreated', 't',"
             "  '\\x03', now()),"
             " ('900000009', 13, '00000000-0000-7000-8000-000000000004', 'ContactCreated', 't',"
             "  '\\x04', now());"
             "INSERT INTO restored.outbox_claims (first_seq, last_seq, after_snap, upto_snap,"
             " from_xid, from_id, to_xid, to_id)"
             " VALUES (1, 3, '899999999:899999999:', '900000005:900000005:', '0', 0,"
             " '900000003', 10);"
             "UPDATE restored.outbox_state SET last_seq = 3,"
             " done_snap = '900000005:900000005:'");
    assert_int_equal(s_event_digits("restored.outbox_published", "seq"), 123);
    assert_int_equal(crm_events_prepare_schema(db, "restored"), 0);
    assert_int_equal(crm_events_prepare_schema(db, "restored"), 0); // once only
    crm_db_destroy(&db);
    assert_int_equal(s_event_digits("restored.outbox_published", "seq"), 123);
    assert_int_equal(sql_scalar("SELECT max(seq) FROM restored.outbox_published"), 3);
    assert_int_equal(sql_scalar("SELECT last_seq FROM restored.outbox_state"), 3);
    //  A row written now waits behind the one that was waiting.
    s_outbox_write("restored", 5);
    assert_int_equal(s_event_digits("restored.outbox_pending", "xid, id"), 45);
    sql_exec("DROP SCHEMA restored CASCADE");
}

//  A process starting while others write is not fooled into renumbering: a row committed
//  by a transaction that began after the starting one's is not "ahead of the cluster".
static void test_live_outbox_not_rebased(void **state) {
    (void)state;
    sql_exec("DROP SCHEMA IF EXISTS live CASCADE; CREATE SCHEMA live");
    crm_db_t *db = s_db();
    assert_int_equal(crm_events_prepare_schema(db, "live"), 0);
    //  The starting process has its transaction id first ...
    assert_int_equal(crm_db_exec(db, "BEGIN; SELECT pg_current_xact_id()"), 0);
    //  ... then another process writes an event and commits.
    s_outbox_write("live", 1);
    long long xid = sql_scalar("SELECT xid::text::bigint FROM live.outbox");
    assert_true(xid > 2);
    assert_int_equal(crm_events_prepare_schema(db, "live"), 0); // inside that transaction
    crm_db_destroy(&db);
    //  The row kept its transaction id and waits for a claim.
    assert_int_equal(sql_scalar("SELECT xid::text::bigint FROM live.outbox"), xid);
    assert_int_equal(sql_scalar("SELECT count(*) FROM live.outbox_pending"), 1);
    sql_exec("DROP SCHEMA live CASCADE");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_events),
        cmocka_unit_test(test_replay_paging),
        cmocka_unit_test(test_late_subscriber),
        cmocka_unit_test(test_catch_up_after_failed_apply),
        cmocka_unit_test(test_slow_consumer_with_drops),
        cmocka_unit_test(test_proxy_drops_for_slow_subscriber),
        cmocka_unit_test(test_two_relays),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_earlier_layout_converted),
        cmocka_unit_test(test_restored_outbox_rebased),
        cmocka_unit_test(test_live_outbox_not_rebased),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
