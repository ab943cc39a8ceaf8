/*  test_broker: the Majordomo broker (services/gateway/broker.c) with real workers
    (crm_bus_worker) and real clients (crm_bus_client), over tcp on 127.0.0.1 (a free
    port each time).

    Each test starts its own broker in a zactor running its zloop; workers are zactors
    with their own loops, except the one that must die like a SIGKILLed process: that
    one is this binary re-executed in a child process (--dying-worker), which kills
    itself when it receives a request.

    Reading order: the harness (broker, worker and call helpers), then the tests.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../services/gateway/broker.h"
#include "bus_client.h"
#include "bus_worker.h"
#include "common.pb-c.h"
#include "log.h"
#include "mdp.h"

extern char **environ;

#define S_HEARTBEAT_MS 100 // short heartbeats: expiry tests take liveness x this
#define S_LIVENESS 3

//  --- Broker harness -------------------------------------------------------------------

//  What a test started and has not stopped yet; the teardown stops it when an assertion
//  ended the test early, so one failure does not cascade into the next tests.
#define S_LIVE_MAX 8
static void *s_live_brokers[S_LIVE_MAX];
static void *s_live_workers[S_LIVE_MAX];
static pid_t s_live_child;

static void s_live_add(void **slots, void *item) {
    for (int i = 0; i < S_LIVE_MAX; i++) {
        if (!slots[i]) {
            slots[i] = item;
            return;
        }
    }
}

static void s_live_remove(void **slots, void *item) {
    for (int i = 0; i < S_LIVE_MAX; i++) {
        if (slots[i] == item)
            slots[i] = NULL;
    }
}

typedef struct {
    crm_config_t cfg;
    char local[256];       // broker.local_endpoint, or ""
    char endpoint_in[256]; // what to bind
    char endpoint[256];    // what was bound (port resolved)
    broker_t *broker;
    zactor_t *actor;
} s_broker_run_t;

//  Any message on an actor's pipe ($TERM from zactor_destroy) ends its loop.
static int s_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg) {
    (void)loop;
    (void)arg;
    zmsg_t *msg = zmsg_recv(pipe);
    zmsg_destroy(&msg);
    return -1;
}

static void s_broker_actor(zsock_t *pipe, void *arg) {
    s_broker_run_t *run = arg;
    run->broker = broker_new(&run->cfg);
    if (!run->broker) {
        zsock_signal(pipe, 1);
        return;
    }
    snprintf(run->endpoint, sizeof(run->endpoint), "%s", broker_endpoint(run->broker));
    zloop_t *loop = zloop_new();
    broker_attach(run->broker, loop);
    zloop_reader(loop, pipe, s_on_pipe, NULL);
    zsock_signal(pipe, 0);
    zloop_start(loop);
    broker_t *broker = run->broker;
    run->broker = NULL;
    broker_destroy(&broker);
    zloop_destroy(&loop);
}

//  Start a broker bound to endpoint (default: a free port). Retries for a while, since a
//  restarted broker may find its port still held by the last one.
//  With local, the broker binds that as well (broker.local_endpoint).
static s_broker_run_t *s_broker_start_local(const char *endpoint, const char *local,
                                            int heartbeat_ms, int max_frame_bytes) {
    s_broker_run_t *run = calloc(1, sizeof(*run));
    assert_non_null(run);
    snprintf(run->endpoint_in, sizeof(run->endpoint_in), "%s",
             endpoint ? endpoint : "tcp://127.0.0.1:*");
    snprintf(run->local, sizeof(run->local), "%s", local ? local : "");
    run->cfg.broker_endpoint = run->endpoint_in;
    run->cfg.broker_local_endpoint = run->local;
    run->cfg.broker_heartbeat_ms = heartbeat_ms;
    run->cfg.broker_liveness = S_LIVENESS;
    run->cfg.broker_default_deadline_ms = 1000;
    run->cfg.broker_max_frame_bytes = max_frame_bytes;
    for (int attempt = 0; attempt < 100; attempt++) {
        run->actor = zactor_new(s_broker_actor, run);
        assert_non_null(run->actor);
        if (run->broker) {
            s_live_add(s_live_brokers, run);
            return run;
        }
        zactor_destroy(&run->actor);
        zclock_sleep(20);
    }
    fail_msg("could not start broker on %s", run->endpoint_in);
    return NULL;
}

static s_broker_run_t *s_broker_start(const char *endpoint, int heartbeat_ms, int max_frame_bytes) {
    return s_broker_start_local(endpoint, NULL, heartbeat_ms, max_frame_bytes);
}

static void s_broker_stop(s_broker_run_t **run_p) {
    s_broker_run_t *run = *run_p;
    if (!run)
        return;
    s_live_remove(s_live_brokers, run);
    zactor_destroy(&run->actor);
    free(run);
    *run_p = NULL;
}

//  Wait until the broker counts `workers` live workers of service; returns whether it did.
static bool s_wait_workers(s_broker_run_t *run, const char *service, int workers, int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    while (zclock_mono() < until) {
        if (broker_service_workers(run->broker, service) == workers)
            return true;
        zclock_sleep(5);
    }
    return broker_service_workers(run->broker, service) == workers;
}

//  --- Worker harness -------------------------------------------------------------------

typedef enum {
    S_ECHO,       // reply at once: ReplyHeader{200, message=name} + the payload
    S_HOLD,       // never reply
    S_LATE_FIRST, // reply to the first request after late_ms, to the others at once
} s_behavior_t;

typedef struct {
    char endpoint[256];
    char service[64];
    char name[32];
    int heartbeat_ms;
    s_behavior_t behavior;
    int late_ms;
    int start_delay_ms; // register only after this long
    atomic_int handled;
    //  Worker thread only:
    crm_bus_worker_t *worker;
    zloop_t *loop;
    zframe_t *held_to;
    zmsg_t *held;
    zactor_t *actor;
} s_worker_run_t;

//  The reply a test worker sends: ReplyHeader (200, its name, the request id) + payload.
static zmsg_t *s_echo_reply(s_worker_run_t *run, zmsg_t *request) {
    zframe_t *header_frame = zmsg_first(request);
    zframe_t *payload = zmsg_next(request);
    Crm__RequestHeader *header =
        crm__request_header__unpack(NULL, zframe_size(header_frame), zframe_data(header_frame));
    Crm__ReplyHeader reply = CRM__REPLY_HEADER__INIT;
    reply.code = 200;
    reply.message = run->name;
    reply.request_id = header ? header->request_id : "";
    uint8_t buffer[512];
    size_t size = crm__reply_header__pack(&reply, buffer);
    crm__request_header__free_unpacked(header, NULL);
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, buffer, size);
    if (payload)
        zmsg_addmem(msg, zframe_data(payload), zframe_size(payload));
    return msg;
}

static void s_reply(s_worker_run_t *run, zframe_t **reply_to, zmsg_t **request) {
    zmsg_t *reply = s_echo_reply(run, *request);
    zmsg_destroy(request);
    crm_bus_worker_send(run->worker, reply_to, &reply);
}

static int s_on_late(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    s_worker_run_t *run = arg;
    if (run->held)
        s_reply(run, &run->held_to, &run->held);
    return 0;
}

static void s_handler(crm_bus_worker_t *worker, zframe_t *reply_to, zmsg_t *request, void *arg) {
    (void)worker;
    s_worker_run_t *run = arg;
    int handled = atomic_fetch_add(&run->handled, 1);
    bool hold = run->behavior == S_HOLD || (run->behavior == S_LATE_FIRST && handled == 0);
    if (!hold) {
        s_reply(run, &reply_to, &request);
        return;
    }
    zframe_destroy(&run->held_to);
    zmsg_destroy(&run->held);
    run->held_to = reply_to;
    run->held = request;
    if (run->behavior == S_LATE_FIRST)
        zloop_timer(run->loop, (size_t)run->late_ms, 1, s_on_late, run);
}

static void s_worker_actor(zsock_t *pipe, void *arg) {
    s_worker_run_t *run = arg;
    zsock_signal(pipe, 0);
    zloop_t *loop = zloop_new();
    run->loop = loop;
    zloop_reader(loop, pipe, s_on_pipe, NULL);
    if (run->start_delay_ms > 0) {
        zpoller_t *poller = zpoller_new(pipe, NULL);
        void *which = zpoller_wait(poller, run->start_delay_ms);
        zpoller_destroy(&poller);
        if (which) { // told to stop before it started
            zmsg_t *msg = zmsg_recv(pipe);
            zmsg_destroy(&msg);
            zloop_destroy(&loop);
            return;
        }
    }
    run->worker = crm_bus_worker_new(run->endpoint, run->service, run->heartbeat_ms, S_LIVENESS);
    assert(run->worker);
    crm_bus_worker_attach(run->worker, loop, s_handler, run);
    zloop_start(loop);
    zframe_destroy(&run->held_to);
    zmsg_destroy(&run->held);
    crm_bus_worker_destroy(&run->worker);
    zloop_destroy(&loop);
}

static s_worker_run_t *s_worker_start(const char *endpoint, const char *service, const char *name,
                                      s_behavior_t behavior) {
    s_worker_run_t *run = calloc(1, sizeof(*run));
    assert_non_null(run);
    snprintf(run->endpoint, sizeof(run->endpoint), "%s", endpoint);
    snprintf(run->service, sizeof(run->service), "%s", service);
    snprintf(run->name, sizeof(run->name), "%s", name);
    run->heartbeat_ms = S_HEARTBEAT_MS;
    run->behavior = behavior;
    run->late_ms = 400;
    return run;
}

static void s_worker_run(s_worker_run_t *run) {
    run->actor = zactor_new(s_worker_actor, run);
    assert_non_null(run->actor);
    s_live_add(s_live_workers, run);
}

static void s_worker_stop(s_worker_run_t **run_p) {
    s_worker_run_t *run = *run_p;
    if (!run)
        return;
    s_live_remove(s_live_workers, run);
    zactor_destroy(&run->actor);
    free(run);
    *run_p = NULL;
}

//  A worker of service "late" that answers its first request late_ms late and the rest
//  at once, running and known to the broker.
static s_worker_run_t *s_late_worker(s_broker_run_t *broker, int late_ms) {
    s_worker_run_t *worker = s_worker_start(broker->endpoint, "late", "w", S_LATE_FIRST);
    worker->late_ms = late_ms;
    s_worker_run(worker);
    assert_true(s_wait_workers(broker, "late", 1, 3000));
    return worker;
}

//  --- Calls ----------------------------------------------------------------------------

typedef struct {
    bool answered; // false: the client timed out
    unsigned code;
    char error[64];
    char message[256];
    char request_id[64];
    char payload[256]; // second reply frame, or the first for mmi replies
    int64_t elapsed_ms;
} s_answer_t;

//  A request body: RequestHeader{method, request_id, deadline_ms} + payload.
static zmsg_t *s_request_body(const char *request_id, uint32_t deadline_ms, const char *payload) {
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = "Echo";
    header.request_id = (char *)request_id;
    header.deadline_ms = deadline_ms;
    zmsg_t *body = crm_bus_request_new(&header, NULL);
    zmsg_addstr(body, payload);
    return body;
}

//  A reply (taken; NULL: none came) as an answer.
static s_answer_t s_answer_from(zmsg_t *reply) {
    s_answer_t answer = {0};
    if (!reply)
        return answer;
    answer.answered = true;
    zframe_t *first = zmsg_first(reply);
    Crm__ReplyHeader *reply_header =
        crm__reply_header__unpack(NULL, zframe_size(first), zframe_data(first));
    assert_non_null(reply_header);
    answer.code = reply_header->code;
    snprintf(answer.error, sizeof(answer.error), "%s", reply_header->error);
    snprintf(answer.message, sizeof(answer.message), "%s", reply_header->message);
    snprintf(answer.request_id, sizeof(answer.request_id), "%s", reply_header->request_id);
    crm__reply_header__free_unpacked(reply_header, NULL);
    zframe_t *second = zmsg_next(reply);
    if (second)
        snprintf(answer.payload, sizeof(answer.payload), "%.*s", (int)zframe_size(second),
                 (char *)zframe_data(second));
    zmsg_destroy(&reply);
    return answer;
}

//  One request and its answer.
static s_answer_t s_call(crm_bus_client_t *client, const char *service, const char *request_id,
                         uint32_t deadline_ms, const char *payload, int timeout_ms) {
    zmsg_t *body = s_request_body(request_id, deadline_ms, payload);
    int64_t start = zclock_mono();
    zmsg_t *reply = crm_bus_client_request(client, service, &body, timeout_ms);
    int64_t elapsed = zclock_mono() - start;
    assert_null(body);
    s_answer_t answer = s_answer_from(reply);
    answer.elapsed_ms = elapsed;
    return answer;
}

//  mmi.service: the one-frame answer ("200", "404", "501").
static void s_mmi(crm_bus_client_t *client, const char *mmi, const char *service, char *code,
                  size_t size) {
    zmsg_t *body = zmsg_new();
    zmsg_addstr(body, service);
    zmsg_t *reply = crm_bus_client_request(client, mmi, &body, 2000);
    assert_non_null(reply);
    assert_int_equal(zmsg_size(reply), 1);
    char *text = zmsg_popstr(reply);
    snprintf(code, size, "%s", text);
    free(text);
    zmsg_destroy(&reply);
}

//  A raw DEALER talking MDP by hand, for what the classes would never send.
static zsock_t *s_raw_dealer(const char *endpoint) {
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    assert_non_null(dealer);
    zsock_set_rcvtimeo(dealer, 50);
    assert_int_equal(zsock_connect(dealer, "%s", endpoint), 0);
    return dealer;
}

static void s_raw_send(zsock_t *dealer, int count, ...) {
    zmsg_t *msg = zmsg_new();
    va_list args;
    va_start(args, count);
    for (int i = 0; i < count; i++) {
        const char *frame = va_arg(args, const char *);
        zmsg_addmem(msg, frame, strlen(frame));
    }
    va_end(args);
    assert_int_equal(zmsg_send(&msg, dealer), 0);
}

//  Wait up to timeout_ms for a worker command on a raw DEALER; returns it or -1.
static int s_raw_wait_command(zsock_t *dealer, int command, int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    while (zclock_mono() < until) {
        zmsg_t *msg = zmsg_recv(dealer);
        if (!msg)
            continue;
        crm_mdp_msg_t parsed;
        const char *reason;
        int got = -1;
        if (crm_mdp_parse_worker(&msg, &parsed, &reason) == 0)
            got = parsed.command;
        crm_mdp_msg_reset(&parsed);
        if (got == command)
            return got;
    }
    return -1;
}

//  --- Tests ----------------------------------------------------------------------------

static void s_count_services(const char *service, int workers, void *arg) {
    int *total = arg;
    if (strcmp(service, "echo") == 0 || strcmp(service, "echo-two") == 0)
        *total += workers;
}

//  Requests and their replies from two clients to two services, each with its worker.
static void test_round_trip_two_services(void **state) {
    (void)state;
    s_broker_run_t *broker = s_broker_start(NULL, S_HEARTBEAT_MS, 1 << 20);
    s_worker_run_t *tcp_worker = s_worker_start(broker->endpoint, "echo", "tcp", S_ECHO);
    s_worker_run_t *second_worker =
        s_worker_start(broker->endpoint, "echo-two", "two", S_ECHO);
    s_worker_run(tcp_worker);
    s_worker_run(second_worker);
    assert_true(s_wait_workers(broker, "echo", 1, 3000));
    assert_true(s_wait_workers(broker, "echo-two", 1, 3000));
    int total = 0;
    broker_each_service(broker->broker, s_count_services, &total);
    assert_int_equal(total, 2);

    crm_bus_client_t *tcp = crm_bus_client_new(broker->endpoint);
    crm_bus_client_t *second = crm_bus_client_new(broker->endpoint);
    assert_non_null(tcp);
    assert_non_null(second);
    const char *services[] = {"echo", "echo-two"};
    crm_bus_client_t *clients[] = {tcp, second};
    for (int s = 0; s < 2; s++) {
        for (int c = 0; c < 2; c++) {
            s_answer_t answer = s_call(clients[c], services[s], "r-1", 2000, "hello", 3000);
            assert_true(answer.answered);
            assert_int_equal(answer.code, 200);
            assert_string_equal(answer.request_id, "r-1");
            assert_string_equal(answer.payload, "hello");
            assert_string_equal(answer.message, s == 0 ? "tcp" : "two");
        }
    }
    //  A few hundred in a row, to catch anything that leaks or stalls per request.
    for (int i = 0; i < 300; i++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "n%d", i);
        s_answer_t answer = s_call(clients[i % 2], services[(i / 2) % 2], "r", 2000, payload, 3000);
        assert_int_equal(answer.code, 200);
        assert_string_equal(answer.payload, payload);
    }
    crm_bus_client_destroy(&tcp);
    crm_bus_client_destroy(&second);
    assert_null(tcp);
    s_worker_stop(&tcp_worker);
    s_worker_stop(&second_worker);
    s_broker_stop(&broker);
}

//  Two workers of one service share the requests in turn.
static void test_round_robin(void **state) {
    (void)state;
    s_broker_run_t *broker = s_broker_start(NULL, S_HEARTBEAT_MS, 1 << 20);
    s_worker_run_t *a = s_worker_start(broker->endpoint, "rr", "A", S_ECHO);
    s_worker_run_t *b = s_worker_start(broker->endpoint, "rr", "B", S_ECHO);
    s_worker_run(a);
    s_worker_run(b);
    assert_true(s_wait_workers(broker, "rr", 2, 3000));

    crm_bus_client_t *client = crm_bus_client_new(broker->endpoint);
    char previous[sizeof(((s_answer_t *)0)->message)] = "";
    for (int i = 0; i < 6; i++) {
        s_answer_t answer = s_call(client, "rr", "r", 2000, "x", 3000);
        assert_int_equal(answer.code, 200);
        assert_string_not_equal(answer.message, previous);
        snprintf(previous, sizeof(previous), "%s", answer.message);
    }
    assert_int_equal(atomic_load(&a->handled), 3);
    assert_int_equal(atomic_load(&b->handled), 3);
    crm_bus_client_destroy(&client);
    s_worker_stop(&a);
    s_worker_stop(&b);
    s_broker_stop(&broker);
}

//  RFC 8: mmi.service says 200 for a service with a worker, 404 otherwise.
static void test_mmi_service(void **state) {
    (void)state;
    s_broker_run_t *broker = s_broker_start(NULL, S_HEARTBEAT_MS, 1 << 20);
    s_worker_run_t *worker = s_worker_start(broker->endpoint, "echo", "w", S_ECHO);
    s_worker_run(worker);
    assert_true(s_wait_workers(broker, "echo", 1, 3000));
    crm_bus_client_t *client = crm_bus_client_new(broker->endpoint);
    char code[16];
    s_mmi(client, "mmi.service", "echo", code, sizeof(code));
    assert_string_equal(code, "200");
    s_mmi(client, "mmi.service", "nobody-here", code, sizeof(code));
    assert_string_equal(code, "404");
    s_mmi(client, "mmi.whatever", "echo", code, sizeof(code));
    assert_string_equal(code, "501");
    crm_bus_client_destroy(&client);
    s_worker_stop(&worker);
    s_broker_stop(&broker);
}

//  A service nobody ever registered: 404 at the request's deadline, not before.
static void test_unknown_service_404_at_deadline(void **state) {
    (void)state;
    s_broker_run_t *broker = s_broker_start(NULL, S_HEARTBEAT_MS, 1 << 20);
    crm_bus_client_t *client = crm_bus_client_new(broker->endpoint);
    s_answer_t answer = s_call(client, "ghost", "r-404", 300, "x", 3000);
    assert_true(answer.answered);
    assert_int_equal(answer.code, 404);
    assert_string_equal(answer.error, "unknown_service");
    assert_string_equal(answer.request_id, "r-404");
    assert_true(answer.elapsed_ms >= 295);
    assert_true(answer.elapsed_ms < 1500);
    crm_bus_client_destroy(&client);
    s_broker_stop(&broker);
}

//  A request to a service with no worker yet waits for one that appears in time.
static void test_request_waits_for_first_worker(void **state) {
    (void)state;
    s_broker_run_t *broker = s_broker_start(NULL, S_HEARTBEAT_MS, 1 << 20);
    s_worker_run_t *worker = s_worker_start(broker->endpoint, "slowstart", "w", S_ECHO);
    worker->start_delay_ms = 200;
    s_worker_run(worker);
    crm_bus_client_t *client = crm_bus_client_new(broker->endpoint);
    s_answer_t answer = s_call(client, "slowstart", "r", 3000, "queued", 4000);
    assert_int_equal(answer.code, 200);
    assert_string_equal(answer.payload, "queued");
    assert_true(answer.elapsed_ms >= 150);
    crm_bus_client_destroy(&client);
    s_worker_stop(&worker);
    s_broker_stop(&broker);
}

//  A worker that takes a request and never answers: 504 at the deadline.
static void test_no_reply_504_at_deadline(void **state) {
    (void)state;
    s_broker_run_t *broker = s_broker_start(NULL, S_HEARTBEAT_MS, 1 << 20);
    s_worker_run_t *worker = s_worker_start(broker->endpoint, "hold", "w", S_HOLD);
    s_worker_run(worker);
    assert_true(s_wait_workers(broker, "hold", 1, 3000));
    crm_bus_client_t *client = crm_bus_client_new(broker->endpoint);
    s_answer_t answer = s_call(client, "hold", "r-504", 300, "x", 3000);
    assert_true(answer.answered);
    assert_int_equal(answer.code, 504);
    assert_string_equal(answer.error, "timeout");
    assert_string_equal(answer.request_id, "r-504");
    assert_true(answer.elapsed_ms >= 295);
    assert_true(answer.elapsed_ms < 1500);
    //  The worker still holds it (one request at a time): the next one waits, then 503.
    answer = s_call(client, "hold", "r-2", 200, "x", 3000);
    assert_int_equal(answer.code, 503);
    assert_int_equal(atomic_load(&worker->handled), 1);
    crm_bus_client_destroy(&client);
    s_worker_stop(&worker);
    s_broker_stop(&broker);
}

//  The child side of test_killed_worker: register, and die by SIGKILL on the first
//  request, as a crashed or killed daemon would.
static void s_dying_handler(crm_bus_worker_t *worker, zframe_t *reply_to, zmsg_t *request,
                            void *arg) {
    (void)worker;
    (void)reply_to;
    (void)request;
    (void)arg;
    kill(getpid(), SIGKILL);
}

static int s_give_up(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    (void)arg;
    return -1;
}

static int s_dying_worker_main(const char *endpoint, const char *service) {
    crm_bus_worker_t *worker = crm_bus_worker_new(endpoint, service, 2500, S_LIVENESS);
    zloop_t *loop = zloop_new();
    crm_bus_worker_attach(worker, loop, s_dying_handler, NULL);
    zloop_timer(loop, 10000, 1, s_give_up, NULL); // nobody called: give up
    zloop_start(loop);
    crm_bus_worker_destroy(&worker);
    zloop_destroy(&loop);
    zsys_shutdown();
    return 1;
}

static char s_self_path[4096];

//  A worker process SIGKILLed while it holds a request: the client hears 503 as soon as
//  the tcp connection drops, long before heartbeats (2.5 s x 3) or the deadline (5 s);
//  with no worker left, the next request gets 503 at once.
static void test_killed_worker_503_fast(void **state) {
    (void)state;
    s_broker_run_t *broker = s_broker_start(NULL, 2500, 1 << 20);
    char *argv[] = {s_self_path, "--dying-worker", broker->endpoint, "doomed", NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, s_self_path, NULL, NULL, argv, environ), 0);
    s_live_child = pid;
    assert_true(s_wait_workers(broker, "doomed", 1, 10000));

    crm_bus_client_t *client = crm_bus_client_new(broker->endpoint);
    s_answer_t answer = s_call(client, "doomed", "r-kill", 5000, "x", 7000);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    s_live_child = 0;
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(answer.answered);
    print_message("killed worker: %u after %ld ms\n", answer.code, (long)answer.elapsed_ms);
    assert_int_equal(answer.code, 503);
    assert_string_equal(answer.error, "unavailable");
    assert_string_equal(answer.request_id, "r-kill");
    assert_true(answer.elapsed_ms < 2000);
    assert_int_equal(broker_service_workers(broker->broker, "doomed"), 0);

    answer = s_call(client, "doomed", "r-after", 5000, "x", 7000);
    assert_int_equal(answer.code, 503);
    assert_true(answer.elapsed_ms < 500);
    crm_bus_client_destroy(&client);
    s_broker_stop(&broker);
}

//  broker.local_endpoint: the broker binds a Unix socket besides its tcp endpoint; a
//  worker registered over it serves tcp clients, and one killed there is noticed at
//  once (503 fast), as over tcp.
static void test_local_endpoint(void **state) {
    (void)state;
    char local[128];
    snprintf(local, sizeof local, "ipc:///tmp/crm-test-broker-%d.sock", (int)getpid());
    s_broker_run_t *broker = s_broker_start_local(NULL, local, 2500, 1 << 20);
    s_worker_run_t *worker = s_worker_start(local, "echo", "ipc", S_ECHO);
    s_worker_run(worker);
    assert_true(s_wait_workers(broker, "echo", 1, 3000));
    crm_bus_client_t *tcp = crm_bus_client_new(broker->endpoint);
    crm_bus_client_t *ipc = crm_bus_client_new(local);
    crm_bus_client_t *clients[] = {tcp, ipc};
    for (int i = 0; i < 100; i++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "n%d", i);
        s_answer_t answer = s_call(clients[i % 2], "echo", "r", 2000, payload, 3000);
        assert_int_equal(answer.code, 200);
        assert_string_equal(answer.payload, payload);
        assert_string_equal(answer.message, "ipc");
    }
    s_worker_stop(&worker);

    char *argv[] = {s_self_path, "--dying-worker", local, "doomed", NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, s_self_path, NULL, NULL, argv, environ), 0);
    s_live_child = pid;
    assert_true(s_wait_workers(broker, "doomed", 1, 10000));
    s_answer_t answer = s_call(tcp, "doomed", "r-kill", 5000, "x", 7000);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    s_live_child = 0;
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(answer.code, 503);
    assert_true(answer.elapsed_ms < 2000);
    assert_int_equal(broker_service_workers(broker->broker, "doomed"), 0);
    crm_bus_client_destroy(&tcp);
    crm_bus_client_destroy(&ipc);
    s_broker_stop(&broker);
    unlink(local + strlen("ipc://"));  //  the socket file, if libzmq left it
}

//  A worker answers after the broker gave up (504): its late reply is dropped, and the
//  next request, queued behind it, gets its own answer.
static void test_late_reply_dropped(void **state) {
    (void)state;
    s_broker_run_t *broker = s_broker_start(NULL, S_HEARTBEAT_MS, 1 << 20);
    s_worker_run_t *worker = s_late_worker(broker, 400);
    crm_bus_client_t *client = crm_bus_client_new(broker->endpoint);
    s_answer_t answer = s_call(client, "late", "r-1", 200, "first", 3000);
    assert_int_equal(answer.code, 504);
    answer = s_call(client, "late", "r-2", 3000, "second", 4000);
    assert_int_equal(answer.code, 200);
    assert_string_equal(answer.request_id, "r-2");
    assert_string_equal(answer.payload, "second");
    answer = s_call(client, "late", "r-3", 3000, "third", 4000);
    assert_string_equal(answer.payload, "third");
    crm_bus_client_destroy(&client);
    s_worker_stop(&worker);
    s_broker_stop(&broker);
}

//  The client gives up before the broker does: its socket is replaced, so the reply to
//  the abandoned request can never be read as the answer to the next one.
static void test_client_timeout_new_socket(void **state) {
    (void)state;
    s_broker_run_t *broker = s_broker_start(NULL, S_HEARTBEAT_MS, 1 << 20);
    s_worker_run_t *worker = s_late_worker(broker, 300);
    crm_bus_client_t *client = crm_bus_client_new(broker->endpoint);
    s_answer_t answer = s_call(client, "late", "r-1", 3000, "first", 100);
    assert_false(answer.answered);
    assert_true(answer.elapsed_ms >= 95 && answer.elapsed_ms < 1000);
    answer = s_call(client, "late", "r-2", 3000, "second", 4000);
    assert_int_equal(answer.code, 200);
    assert_string_equal(answer.request_id, "r-2");
    assert_string_equal(answer.payload, "second");
    crm_bus_client_destroy(&client);
    s_worker_stop(&worker);
    s_broker_stop(&broker);
}

//  Request bodies and replies as services frame them, and replies that are not.
static void test_request_and_reply_framing(void **state) {
    (void)state;
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = "Get";
    header.tenant_id = "t";
    Crm__PageRequest page = CRM__PAGE_REQUEST__INIT;
    page.cursor = "c-1";
    zmsg_t *body = crm_bus_request_new(&header, &page.base);
    assert_int_equal(zmsg_size(body), 2);
    zframe_t *first = zmsg_first(body);
    Crm__RequestHeader *h2 =
        crm__request_header__unpack(NULL, zframe_size(first), zframe_data(first));
    assert_non_null(h2);
    assert_string_equal(h2->method, "Get");
    crm__request_header__free_unpacked(h2, NULL);
    zmsg_destroy(&body);
    body = crm_bus_request_new(&header, NULL);
    assert_int_equal(zmsg_size(body), 1);
    zmsg_destroy(&body);

    //  A reply: the header, and for a 2xx the response.
    Crm__ReplyHeader rh = CRM__REPLY_HEADER__INIT;
    rh.code = 200;
    uint8_t buffer[128];
    size_t size = crm__reply_header__pack(&rh, buffer);
    Crm__PageResponse response = CRM__PAGE_RESPONSE__INIT;
    response.next_cursor = "c-2";
    uint8_t packed[64];
    size_t packed_size = crm__page_response__pack(&response, packed);
    zmsg_t *reply = zmsg_new();
    zmsg_addmem(reply, buffer, size);
    zmsg_addmem(reply, packed, packed_size);
    ProtobufCMessage *out = NULL;
    Crm__ReplyHeader *parsed = crm_bus_reply_parse(&reply, &crm__page_response__descriptor, &out);
    assert_null(reply);
    assert_non_null(parsed);
    assert_int_equal(parsed->code, 200);
    assert_non_null(out);
    assert_string_equal(((Crm__PageResponse *)out)->next_cursor, "c-2");
    protobuf_c_message_free_unpacked(out, NULL);
    crm__reply_header__free_unpacked(parsed, NULL);

    //  A refusal carries no response, even with a second frame.
    rh.code = 404;
    size = crm__reply_header__pack(&rh, buffer);
    reply = zmsg_new();
    zmsg_addmem(reply, buffer, size);
    zmsg_addmem(reply, packed, packed_size);
    parsed = crm_bus_reply_parse(&reply, &crm__page_response__descriptor, &out);
    assert_non_null(parsed);
    assert_int_equal(parsed->code, 404);
    assert_null(out);
    crm__reply_header__free_unpacked(parsed, NULL);

    //  Garbage: no header; a 2xx whose response does not parse; nothing at all.
    reply = zmsg_new();
    zmsg_addmem(reply, "\xff\xff\xff", 3);
    assert_null(crm_bus_reply_parse(&reply, &crm__page_response__descriptor, &out));
    assert_null(out);
    rh.code = 200;
    size = crm__reply_header__pack(&rh, buffer);
    reply = zmsg_new();
    zmsg_addmem(reply, buffer, size);
    zmsg_addmem(reply, "\xff\xff\xff", 3);
    parsed = crm_bus_reply_parse(&reply, &crm__page_response__descriptor, &out);
    assert_non_null(parsed);
    assert_null(out);
    crm__reply_header__free_unpacked(parsed, NULL);
    reply = zmsg_new();
    assert_null(crm_bus_reply_parse(&reply, &crm__page_response__descriptor, &out));
    reply = NULL;
    assert_null(crm_bus_reply_parse(&reply, NULL, NULL));
}

//  Asynchronous requests, answered from a zloop that keeps running meanwhile.
typedef struct {
    s_answer_t answer;
    bool done;
    int64_t start;
    int ticks;          // turns of the loop's 10 ms timer while the request waited
} s_async_t;

static void s_on_async_reply(zmsg_t *reply, void *arg) {
    s_async_t *call = arg;
    int64_t elapsed = zclock_mono() - call->start;
    call->answer = s_answer_from(reply);
    call->answer.elapsed_ms = elapsed;
    call->done = true;
}

static int s_on_async_tick(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    s_async_t *call = arg;
    call->ticks++;
    return call->done ? -1 : 0;
}

static s_answer_t s_call_async(crm_bus_client_t *client, const char *service,
                               const char *request_id, const char *payload, int timeout_ms,
                               int *ticks) {
    zloop_t *loop = zloop_new();
    s_async_t call = {.start = zclock_mono()};
    zmsg_t *body = s_request_body(request_id, 3000, payload);
    assert_int_equal(
        crm_bus_client_send(client, loop, service, &body, timeout_ms, s_on_async_reply, &call), 0);
    assert_null(body);
    assert_true(crm_bus_client_busy(client));
    zmsg_t *another = s_request_body("r-other", 3000, "other");
    assert_int_equal(
        crm_bus_client_send(client, loop, service, &another, 1000, s_on_async_reply, &call), -1);
    zloop_timer(loop, 10, 0, s_on_async_tick, &call);
    zloop_start(loop);
    zloop_destroy(&loop);
    assert_true(call.done);
    assert_false(crm_bus_client_busy(client));
    *ticks = call.ticks;
    return call.answer;
}

//  The loop runs while a request waits; a request that times out hands NULL to its
//  callback, and its late reply is never taken for the answer to the next one.
static void test_async_requests(void **state) {
    (void)state;
    s_broker_run_t *broker = s_broker_start(NULL, S_HEARTBEAT_MS, 1 << 20);
    s_worker_run_t *worker = s_late_worker(broker, 300);
    crm_bus_client_t *client = crm_bus_client_new(broker->endpoint);
    int ticks = 0;
    s_answer_t answer = s_call_async(client, "late", "r-1", "first", 150, &ticks);
    assert_false(answer.answered);
    assert_true(answer.elapsed_ms >= 145 && answer.elapsed_ms < 1000);
    assert_true(ticks >= 5); // the loop went on while the request waited
    answer = s_call_async(client, "late", "r-2", "second", 4000, &ticks);
    assert_int_equal(answer.code, 200);
    assert_string_equal(answer.request_id, "r-2");
    assert_string_equal(answer.payload, "second");
    //  The synchronous call still works on the same client.
    answer = s_call(client, "late", "r-3", 3000, "third", 4000);
    assert_string_equal(answer.payload, "third");
    crm_bus_client_destroy(&client);
    s_worker_stop(&worker);
    s_broker_stop(&broker);
}

//  Garbage from a raw DEALER is dropped and the broker goes on serving; a worker the
//  broker does not know is told to DISCONNECT.
static void test_malformed_messages(void **state) {
    (void)state;
    s_broker_run_t *broker = s_broker_start(NULL, S_HEARTBEAT_MS, 4096);
    s_worker_run_t *worker = s_worker_start(broker->endpoint, "echo", "w", S_ECHO);
    s_worker_run(worker);
    assert_true(s_wait_workers(broker, "echo", 1, 3000));
    zsock_t *raw = s_raw_dealer(broker->endpoint);

    s_raw_send(raw, 1, "");
    s_raw_send(raw, 4, "", "MDPC02", "echo", "x");
    s_raw_send(raw, 3, "", CRM_MDPW, "\x09");
    s_raw_send(raw, 3, "", CRM_MDPW, "\x01");            // READY without service
    s_raw_send(raw, 4, "", CRM_MDPW, "\x02", "x");       // REQUEST to the broker
    s_raw_send(raw, 5, "", CRM_MDPW, "\x03", "c", "x");  // REPLY without delimiter
    s_raw_send(raw, 3, "", CRM_MDPC, "echo");            // no body
    s_raw_send(raw, 4, "x", CRM_MDPC, "echo", "body");   // no delimiter
    s_raw_send(raw, 4, "", CRM_MDPC, "mmi.service", ""); // empty mmi argument: 404
    char big[5000];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    s_raw_send(raw, 4, "", CRM_MDPC, "echo", big); // frame over the limit
    s_raw_send(raw, 5, "", CRM_MDPC, "echo", "not a protobuf \xff\xff", "x"); // default deadline
    //  Only the mmi question and the unparsable-header request deserve an answer.
    zmsg_t *reply = NULL;
    int answers = 0;
    int64_t until = zclock_mono() + 1000;
    while (answers < 2 && zclock_mono() < until) {
        reply = zmsg_recv(raw);
        if (!reply)
            continue;
        crm_mdp_msg_t parsed;
        const char *reason;
        assert_int_equal(crm_mdp_parse_client_reply(&reply, &parsed, &reason), 0);
        if (strcmp(parsed.service, "mmi.service") == 0)
            assert_true(zframe_streq(zmsg_first(parsed.body), "404"));
        else
            assert_string_equal(parsed.service, "echo");
        crm_mdp_msg_reset(&parsed);
        answers++;
    }
    assert_int_equal(answers, 2);
    reply = zmsg_recv(raw); // nothing for the oversized one
    assert_null(reply);

    //  Commands from a worker that never said READY.
    s_raw_send(raw, 3, "", CRM_MDPW, "\x04");
    assert_int_equal(s_raw_wait_command(raw, CRM_MDPW_DISCONNECT, 1000), CRM_MDPW_DISCONNECT);
    s_raw_send(raw, 6, "", CRM_MDPW, "\x03", "client", "", "body");
    assert_int_equal(s_raw_wait_command(raw, CRM_MDPW_DISCONNECT, 1000), CRM_MDPW_DISCONNECT);
    //  A worker may not serve mmi.*.
    s_raw_send(raw, 4, "", CRM_MDPW, "\x01", "mmi.service");
    assert_int_equal(s_raw_wait_command(raw, CRM_MDPW_DISCONNECT, 1000), CRM_MDPW_DISCONNECT);

    crm_bus_client_t *client = crm_bus_client_new(broker->endpoint);
    s_answer_t answer = s_call(client, "echo", "r-ok", 2000, "still here", 3000);
    assert_int_equal(answer.code, 200);
    assert_string_equal(answer.payload, "still here");
    crm_bus_client_destroy(&client);
    zsock_destroy(&raw);
    s_worker_stop(&worker);
    s_broker_stop(&broker);
}

//  A worker that stops heartbeating (its connection stays up) is purged after
//  liveness x heartbeat and told to DISCONNECT; requests then get 503 at once.
static void test_heartbeat_expiry(void **state) {
    (void)state;
    s_broker_run_t *broker = s_broker_start(NULL, S_HEARTBEAT_MS, 1 << 20);
    zsock_t *raw = s_raw_dealer(broker->endpoint);
    s_raw_send(raw, 4, "", CRM_MDPW, "\x01", "silent");
    assert_true(s_wait_workers(broker, "silent", 1, 3000));
    int64_t registered = zclock_mono();
    assert_true(s_wait_workers(broker, "silent", 0, 3000));
    int64_t purged_after = zclock_mono() - registered;
    assert_true(purged_after >= S_HEARTBEAT_MS * S_LIVENESS - 20);
    assert_true(purged_after < S_HEARTBEAT_MS * S_LIVENESS + 400);
    assert_int_equal(s_raw_wait_command(raw, CRM_MDPW_DISCONNECT, 1000), CRM_MDPW_DISCONNECT);

    crm_bus_client_t *client = crm_bus_client_new(broker->endpoint);
    s_answer_t answer = s_call(client, "silent", "r", 2000, "x", 3000);
    assert_int_equal(answer.code, 503);
    assert_true(answer.elapsed_ms < 500);
    crm_bus_client_destroy(&client);
    zsock_destroy(&raw);
    s_broker_stop(&broker);
}

//  The broker goes away and comes back on the same endpoint: the worker class notices,
//  reconnects and sends READY again, and requests flow as before.
static void test_worker_reregisters_after_broker_restart(void **state) {
    (void)state;
    s_broker_run_t *broker = s_broker_start(NULL, S_HEARTBEAT_MS, 1 << 20);
    char endpoint[256];
    snprintf(endpoint, sizeof(endpoint), "%s", broker->endpoint);
    s_worker_run_t *worker = s_worker_start(endpoint, "phoenix", "w", S_ECHO);
    s_worker_run(worker);
    assert_true(s_wait_workers(broker, "phoenix", 1, 3000));
    crm_bus_client_t *client = crm_bus_client_new(endpoint);
    assert_int_equal(s_call(client, "phoenix", "r-1", 2000, "x", 3000).code, 200);

    //  Back before the worker gives up on it: the worker's heartbeat reaches a broker
    //  that does not know it, which answers DISCONNECT, and the worker registers again.
    //  Then away for longer than liveness x heartbeat: the worker drops its socket and
    //  reconnects with backoff.
    int pauses[] = {S_HEARTBEAT_MS * 2, S_HEARTBEAT_MS * (S_LIVENESS + 4)};
    for (int i = 0; i < 2; i++) {
        s_broker_stop(&broker);
        zclock_sleep(pauses[i]);
        broker = s_broker_start(endpoint, S_HEARTBEAT_MS, 1 << 20);
        assert_true(s_wait_workers(broker, "phoenix", 1, 5000));
        s_answer_t answer = s_call(client, "phoenix", "r-2", 2000, "again", 3000);
        assert_int_equal(answer.code, 200);
        assert_string_equal(answer.payload, "again");
    }
    crm_bus_client_destroy(&client);
    s_worker_stop(&worker);
    s_broker_stop(&broker);
}

//  Several clients in parallel against two workers: every request answered correctly.
typedef struct {
    const char *endpoint;
    int failures;
} s_load_t;

static void *s_load_thread(void *arg) {
    s_load_t *load = arg;
    crm_bus_client_t *client = crm_bus_client_new(load->endpoint);
    for (int i = 0; i < 200; i++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "p%d", i);
        s_answer_t answer = s_call(client, "echo", "r", 3000, payload, 4000);
        if (answer.code != 200 || strcmp(answer.payload, payload) != 0)
            load->failures++;
    }
    crm_bus_client_destroy(&client);
    return NULL;
}

static void test_parallel_clients(void **state) {
    (void)state;
    s_broker_run_t *broker = s_broker_start(NULL, S_HEARTBEAT_MS, 1 << 20);
    s_worker_run_t *a = s_worker_start(broker->endpoint, "echo", "A", S_ECHO);
    s_worker_run_t *b = s_worker_start(broker->endpoint, "echo", "B", S_ECHO);
    s_worker_run(a);
    s_worker_run(b);
    assert_true(s_wait_workers(broker, "echo", 2, 3000));
    pthread_t threads[4];
    s_load_t loads[4];
    for (int i = 0; i < 4; i++) {
        loads[i] = (s_load_t){i % 2 ? broker->endpoint : broker->endpoint, 0};
        pthread_create(&threads[i], NULL, s_load_thread, &loads[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(loads[i].failures, 0);
    }
    assert_int_equal(atomic_load(&a->handled) + atomic_load(&b->handled), 800);
    s_worker_stop(&a);
    s_worker_stop(&b);
    s_broker_stop(&broker);
}

//  Stop whatever a failed test left running.
static int s_teardown(void **state) {
    (void)state;
    if (s_live_child > 0) {
        kill(s_live_child, SIGKILL);
        waitpid(s_live_child, NULL, 0);
        s_live_child = 0;
    }
    for (int i = 0; i < S_LIVE_MAX; i++) {
        s_worker_run_t *worker = s_live_workers[i];
        s_worker_stop(&worker);
    }
    for (int i = 0; i < S_LIVE_MAX; i++) {
        s_broker_run_t *broker = s_live_brokers[i];
        s_broker_stop(&broker);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--dying-worker") == 0)
        return s_dying_worker_main(argv[2], argv[3]);
    ssize_t size = readlink("/proc/self/exe", s_self_path, sizeof(s_self_path) - 1);
    if (size <= 0)
        return 1;
    s_self_path[size] = '\0';
    //  TEST_FILTER=glob runs a subset; TEST_LOG=debug shows the broker's log.
    crm_log_level_t level = CRM_LOG_ERROR;
    if (getenv("TEST_LOG"))
        crm_log_level_parse(getenv("TEST_LOG"), &level);
    crm_log_init("test_broker", level);
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_round_trip_two_services, s_teardown),
        cmocka_unit_test_teardown(test_local_endpoint, s_teardown),
        cmocka_unit_test_teardown(test_round_robin, s_teardown),
        cmocka_unit_test_teardown(test_mmi_service, s_teardown),
        cmocka_unit_test_teardown(test_unknown_service_404_at_deadline, s_teardown),
        cmocka_unit_test_teardown(test_request_waits_for_first_worker, s_teardown),
        cmocka_unit_test_teardown(test_no_reply_504_at_deadline, s_teardown),
        cmocka_unit_test_teardown(test_killed_worker_503_fast, s_teardown),
        cmocka_unit_test_teardown(test_late_reply_dropped, s_teardown),
        cmocka_unit_test_teardown(test_client_timeout_new_socket, s_teardown),
        cmocka_unit_test_teardown(test_async_requests, s_teardown),
        cmocka_unit_test(test_request_and_reply_framing),
        cmocka_unit_test_teardown(test_malformed_messages, s_teardown),
        cmocka_unit_test_teardown(test_heartbeat_expiry, s_teardown),
        cmocka_unit_test_teardown(test_worker_reregisters_after_broker_restart, s_teardown),
        cmocka_unit_test_teardown(test_parallel_clients, s_teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    zsys_shutdown();
    return failed;
}
