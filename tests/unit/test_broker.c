/*  test_broker: the Majordomo broker (services/gateway/broker.c) with real workers
    (crm_bus_worker) and real clients (crm_bus_client), over tcp on 127.0.0.1 (a free
    port each time) and over inproc.

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
#define S_LIVENESS     3

//  --- Broker harness -------------------------------------------------------------------

typedef struct {
    crm_config_t cfg;
    char endpoint_in[256]; // what to bind
    char endpoint[256];    // what was bound (port resolved)
    broker_t *broker;
    zactor_t *actor;
} s_broker_run_t;

static int s_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    (void) arg;
    zmsg_t *msg = zmsg_recv(pipe);
    bool term = !msg || zmsg_signal(msg) >= 0 || true; // any command ends the actor
    zmsg_destroy(&msg);
    return term ? -1 : 0;
}

static void s_broker_actor(zsock_t *pipe, void *arg)
{
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
//  restarted broker may find its port or the inproc name still held by the last one.
static s_broker_run_t *s_broker_start(const char *endpoint, int heartbeat_ms,
                                      int max_frame_bytes)
{
    s_broker_run_t *run = calloc(1, sizeof(*run));
    assert_non_null(run);
    snprintf(run->endpoint_in, sizeof(run->endpoint_in), "%s",
             endpoint ? endpoint : "tcp://127.0.0.1:*");
    run->cfg.broker_endpoint = run->endpoint_in;
    run->cfg.broker_heartbeat_ms = heartbeat_ms;
    run->cfg.broker_liveness = S_LIVENESS;
    run->cfg.broker_default_deadline_ms = 1000;
    run->cfg.broker_max_frame_bytes = max_frame_bytes;
    for (int attempt = 0; attempt < 100; attempt++) {
        run->actor = zactor_new(s_broker_actor, run);
        assert_non_null(run->actor);
        if (run->broker)
            return run;
        zactor_destroy(&run->actor);
        zclock_sleep(20);
    }
    fail_msg("could not start broker on %s", run->endpoint_in);
    return NULL;
}

static void s_broker_stop(s_broker_run_t **run_p)
{
    s_broker_run_t *run = *run_p;
    if (!run)
        return;
    zactor_destroy(&run->actor);
    free(run);
    *run_p = NULL;
}

//  Wait until the broker counts `workers` live workers of service; returns whether it did.
static bool s_wait_workers(s_broker_run_t *run, const char *service, int workers, int timeout_ms)
{
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
    zframe_t *held_to;
    zmsg_t *held;
    zactor_t *actor;
} s_worker_run_t;

//  The reply a test worker sends: ReplyHeader (200, its name, the request id) + payload.
static zmsg_t *s_echo_reply(s_worker_run_t *run, zmsg_t *request)
{
    zframe_t *header_frame = zmsg_first(request);
    zframe_t *payload = zmsg_next(request);
    Crm__RequestHeader *header
        = crm__request_header__unpack(NULL, zframe_size(header_frame), zframe_data(header_frame));
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

static void s_reply(s_worker_run_t *run, zframe_t **reply_to, zmsg_t **request)
{
    zmsg_t *reply = s_echo_reply(run, *request);
    zmsg_destroy(request);
    crm_bus_worker_send(run->worker, reply_to, &reply);
}

static int s_on_late(zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_worker_run_t *run = arg;
    if (run->held)
        s_reply(run, &run->held_to, &run->held);
    return 0;
}

static void s_handler(crm_bus_worker_t *worker, zframe_t *reply_to, zmsg_t *request, void *arg)
{
    (void) worker;
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
}

static void s_worker_actor(zsock_t *pipe, void *arg)
{
    s_worker_run_t *run = arg;
    zsock_signal(pipe, 0);
    zloop_t *loop = zloop_new();
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
    if (run->behavior == S_LATE_FIRST)
        zloop_timer(loop, 10, 0, s_on_late_poll, run);
    zloop_start(loop);
    zframe_destroy(&run->held_to);
    zmsg_destroy(&run->held);
    crm_bus_worker_destroy(&run->worker);
    zloop_destroy(&loop);
}
