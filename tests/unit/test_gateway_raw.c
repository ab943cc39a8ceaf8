/*  test_gateway_raw: the gateway's raw routes (services/gateway/raw.c and their glue in
    http.c) -- keyless endpoints whose request reaches the service as a crm.HttpRequest
    and whose crm.HttpResponse is written as it is.

    First raw.c alone: the limiter, the client's address, the HttpRequest, the reading of
    an answer. Then the whole path over real HTTP: a gateway (broker + HTTP server, no key
    store: raw routes never touch it) runs in a zactor on free ports, a fake "notify"
    worker (crm_bus_worker) records each request and answers what the test scripted, and
    libcurl plays the SMS provider and the browser.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

#include "../../services/gateway/broker.h"
#include "../../services/gateway/http.h"
#include "../../services/gateway/metrics.h"
#include "../../services/gateway/raw.h"
#include "../../services/gateway/routes.h"
#include "bus_worker.h"
#include "common.pb-c.h"
#include "config.h"
#include "log.h"

// --- raw.c alone ----------------------------------------------------------------------

static void test_limiter_per_client_and_at_once(void **state) {
    (void)state;
    raw_limiter_t *limiter = raw_limiter_new(2, 3, 100); // 2/s, 3 at once
    int retry = -1;
    int64_t t = 1000000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(raw_limiter_admit(limiter, "203.0.113.7", t, &retry), 0);
    assert_int_equal(raw_limiter_admit(limiter, "203.0.113.7", t, &retry), 429);
    assert_int_equal(retry, 1); // half a second to the next token: 1 s
    //  Another client has its own bucket.
    assert_int_equal(raw_limiter_admit(limiter, "198.51.100.1", t, &retry), 0);
    //  Half a second later one more token (2 per second).
    assert_int_equal(raw_limiter_admit(limiter, "203.0.113.7", t + 499000, &retry), 429);
    assert_int_equal(raw_limiter_admit(limiter, "203.0.113.7", t + 500000, &retry), 0);
    assert_int_equal(raw_limiter_admit(limiter, "203.0.113.7", t + 500000, &retry), 429);
    //  Refused requests cost nothing; admitted ones count until released.
    assert_int_equal(raw_limiter_in_flight(limiter), 5);
    for (int i = 0; i < 5; i++)
        raw_limiter_release(limiter);
    assert_int_equal(raw_limiter_in_flight(limiter), 0);
    //  An idle client's bucket fills up to the burst, no more.
    for (int i = 0; i < 3; i++)
        assert_int_equal(raw_limiter_admit(limiter, "203.0.113.7", t + 60000000, &retry), 0);
    assert_int_equal(raw_limiter_admit(limiter, "203.0.113.7", t + 60000000, &retry), 429);
    raw_limiter_destroy(&limiter);
    assert_null(limiter);

    //  All clients together: max_in_flight, then 503 until one is released.
    limiter = raw_limiter_new(0, 1, 2); // no per-client limit
    assert_int_equal(raw_limiter_admit(limiter, "a", t, &retry), 0);
    assert_int_equal(raw_limiter_admit(limiter, "a", t, &retry), 0);
    assert_int_equal(raw_limiter_admit(limiter, "b", t, &retry), 503);
    assert_int_equal(retry, 1);
    raw_limiter_release(limiter);
    assert_int_equal(raw_limiter_admit(limiter, "b", t, &retry), 0);
    raw_limiter_destroy(&limiter);
}

//  More clients than the table holds: it forgets the oldest, never fails, and one
//  client flooding stays limited among them.
static void test_limiter_many_clients(void **state) {
    (void)state;
    raw_limiter_t *limiter = raw_limiter_new(1, 2, 1000000);
    int retry;
    int64_t t = 0;
    for (int i = 0; i < 3; i++)
        raw_limiter_admit(limiter, "2001:db8::bad", t, &retry);
    assert_int_equal(raw_limiter_admit(limiter, "2001:db8::bad", t, &retry), 429);
    for (int i = 0; i < 20000; i++) {
        char client[32];
        snprintf(client, sizeof client, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        assert_int_equal(raw_limiter_admit(limiter, client, t + i, &retry), 0);
        if (i % 1000 == 0) // the flooder, still seen now and then: still limited
            assert_int_equal(raw_limiter_admit(limiter, "2001:db8::bad", t + i, &retry), 429);
    }
    raw_limiter_destroy(&limiter);
}

static void test_client_address(void **state) {
    (void)state;
    struct sockaddr_in peer = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &peer.sin_addr);
    struct sockaddr_in6 peer6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8::1", &peer6.sin6_addr);
    char out[64];
    raw_client_address(NULL, (struct sockaddr *)&peer, out, sizeof out);
    assert_string_equal(out, "127.0.0.1");
    raw_client_address(NULL, (struct sockaddr *)&peer6, out, sizeof out);
    assert_string_equal(out, "2001:db8::1");
    //  Behind a proxy: the last entry of its header (the one the proxy added).
    raw_client_address("203.0.113.7", (struct sockaddr *)&peer, out, sizeof out);
    assert_string_equal(out, "203.0.113.7");
    raw_client_address("1.2.3.4, 198.51.100.9", (struct sockaddr *)&peer, out, sizeof out);
    assert_string_equal(out, "198.51.100.9");
    raw_client_address("1.2.3.4,2001:DB8:0:0::7 ", (struct sockaddr *)&peer, out, sizeof out);
    assert_string_equal(out, "2001:db8::7");
    //  Not an address: the peer.
    raw_client_address("198.51.100.9, evil", (struct sockaddr *)&peer, out, sizeof out);
    assert_string_equal(out, "127.0.0.1");
    raw_client_address("", (struct sockaddr *)&peer, out, sizeof out);
    assert_string_equal(out, "127.0.0.1");
    raw_client_address(NULL, NULL, out, sizeof out);
    assert_string_equal(out, "");
}

static const char *s_headers(const char *name, void *arg) {
    (void)arg;
    if (strcmp(name, "Content-Type") == 0)
        return "application/x-www-form-urlencoded";
    if (strcmp(name, "X-Twilio-Signature") == 0)
        return "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    if (strcmp(name, "User-Agent") == 0)
        return "Latin-1 \xE9t\xE9"; // not UTF-8: not forwarded
    return NULL;
}

static void test_request_frame(void **state) {
    (void)state;
    route_param_t params[1] = {{.name = "token", .value = "AQF1CHRl"}};
    const char body[] = "MessageSid=SM1&MessageStatus=delivered";
    zframe_t *frame = raw_request_frame("POST", "/v1/t/AQF1CHRl?a=1%2B2&b=%C3%A9&c=\xE9", params, 1,
                                        s_headers, NULL, "203.0.113.7", body, sizeof body - 1);
    Crm__HttpRequest *req = crm__http_request__unpack(NULL, zframe_size(frame), zframe_data(frame));
    assert_non_null(req);
    assert_string_equal(req->method, "POST");
    assert_string_equal(req->path, "/v1/t/AQF1CHRl");
    assert_string_equal(req->query, "a=1%2B2&b=%C3%A9&c=%E9"); // as sent; raw bytes escaped
    assert_int_equal(req->n_path_params, 1);
    assert_string_equal(req->path_params[0]->name, "token");
    assert_string_equal(req->path_params[0]->value, "AQF1CHRl");
    assert_string_equal(req->content_type, "application/x-www-form-urlencoded");
    assert_string_equal(req->twilio_signature, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    assert_string_equal(req->user_agent, "");
    assert_string_equal(req->accept, "");
    assert_string_equal(req->client_address, "203.0.113.7");
    assert_int_equal(req->body.len, sizeof body - 1);
    assert_memory_equal(req->body.data, body, sizeof body - 1);
    crm__http_request__free_unpacked(req, NULL);
    zframe_destroy(&frame);

    frame = raw_request_frame("GET", "/v1/webhooks/sms/status", NULL, 0, NULL, NULL, "", NULL, 0);
    req = crm__http_request__unpack(NULL, zframe_size(frame), zframe_data(frame));
    assert_string_equal(req->query, "");
    assert_int_equal(req->body.len, 0);
    assert_int_equal(req->n_path_params, 0);
    crm__http_request__free_unpacked(req, NULL);
    zframe_destroy(&frame);
    //  The forwarded headers, for the docs.
    assert_string_equal(raw_forwarded_headers[1], "X-Twilio-Signature");
}

//  A reply as a service sends it: ReplyHeader{code, message} + response (NULL: none).
static zmsg_t *s_reply(uint32_t code, const char *message, const Crm__HttpResponse *response) {
    Crm__ReplyHeader header = CRM__REPLY_HEADER__INIT;
    header.code = code;
    header.message = (char *)message;
    zmsg_t *reply = zmsg_new();
    zframe_t *frame = zframe_new(NULL, crm__reply_header__get_packed_size(&header));
    crm__reply_header__pack(&header, zframe_data(frame));
    zmsg_append(reply, &frame);
    if (response) {
        frame = zframe_new(NULL, crm__http_response__get_packed_size(response));
        crm__http_response__pack(response, zframe_data(frame));
        zmsg_append(reply, &frame);
    }
    return reply;
}

static void test_answer_read(void **state) {
    (void)state;
    raw_answer_t a;
    Crm__HttpResponse r = CRM__HTTP_RESPONSE__INIT;
    Crm__HttpField cache = CRM__HTTP_FIELD__INIT;
    cache.name = "Cache-Control";
    cache.value = "no-store, max-age=0";
    Crm__HttpField *headers[] = {&cache};
    static const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a', 0, 1};
    r.content_type = "image/gif";
    r.body.data = (uint8_t *)gif;
    r.body.len = sizeof gif;
    r.headers = headers;
    r.n_headers = 1;
    zmsg_t *reply = s_reply(200, "", &r);
    raw_answer_read(reply, &a);
    zmsg_destroy(&reply);
    assert_int_equal(a.status, 200);
    assert_string_equal(raw_answer_content_type(&a), "image/gif");
    size_t size;
    const void *body = raw_answer_body(&a, &size);
    assert_int_equal(size, sizeof gif);
    assert_memory_equal(body, gif, sizeof gif);
    assert_string_equal(raw_answer_location(&a), "");
    assert_int_equal(a.response->n_headers, 1);
    raw_answer_reset(&a);
    assert_null(a.response);

    //  The response's status wins over the header's; a 302 with its Location.
    Crm__HttpResponse redirect = CRM__HTTP_RESPONSE__INIT;
    redirect.status = 302;
    redirect.location = "https://dealer.example/offer?utm_source=sms&x=%20y";
    reply = s_reply(200, "", &redirect);
    raw_answer_read(reply, &a);
    zmsg_destroy(&reply);
    assert_int_equal(a.status, 302);
    assert_string_equal(raw_answer_location(&a),
                        "https://dealer.example/offer?utm_source=sms&x=%20y");
    assert_string_equal(raw_answer_content_type(&a), "");
    raw_answer_body(&a, &size);
    assert_int_equal(size, 0);
    raw_answer_reset(&a);

    //  204 writes no body even when the service sent one.
    Crm__HttpResponse none = CRM__HTTP_RESPONSE__INIT;
    none.body.data = (uint8_t *)gif;
    none.body.len = sizeof gif;
    reply = s_reply(204, "", &none);
    raw_answer_read(reply, &a);
    zmsg_destroy(&reply);
    assert_int_equal(a.status, 204);
    raw_answer_body(&a, &size);
    assert_int_equal(size, 0);
    raw_answer_reset(&a);

    //  Errors: one line of text; a 4xx says the service's message, a 5xx never does.
    reply = s_reply(403, "the signature does not match\r\nX-Evil: 1", NULL);
    raw_answer_read(reply, &a);
    zmsg_destroy(&reply);
    assert_int_equal(a.status, 403);
    assert_null(a.response);
    assert_string_equal(raw_answer_content_type(&a), "text/plain; charset=utf-8");
    assert_string_equal(a.text, "the signature does not match  X-Evil: 1\n");
    reply = s_reply(404, "", NULL);
    raw_answer_read(reply, &a);
    zmsg_destroy(&reply);
    assert_string_equal(a.text, "not found\n");
    reply = s_reply(500, "could not connect: host=db password=secret", NULL);
    raw_answer_read(reply, &a);
    zmsg_destroy(&reply);
    assert_int_equal(a.status, 500);
    assert_string_equal(a.text, "the service failed\n");
    reply = s_reply(503, "unavailable", NULL);
    raw_answer_read(reply, &a);
    zmsg_destroy(&reply);
    assert_int_equal(a.retry_after_s, 1);

    //  What cannot be written as it is: 502.
    Crm__HttpResponse bad = CRM__HTTP_RESPONSE__INIT;
    Crm__HttpField field = CRM__HTTP_FIELD__INIT;
    Crm__HttpField *fields[] = {&field};
    bad.headers = fields;
    bad.n_headers = 1;
    struct {
        const char *name, *value, *content_type, *location;
        uint32_t status;
    } cases[] = {
        {"X-Ok", "a\r\nSet-Cookie: x=1", "", "", 0}, // a header split in two
        {"Bad Name", "1", "", "", 0},                // not a token
        {"Content-Length", "1", "", "", 0},          // the gateway's own
        {"location", "https://x", "", "", 0},        // in any case
        {"X-Ok", "1", "text/html\n", "", 0},
        {"X-Ok", "1", "", "https://x/ a", 302},       // a space in a URL
        {"X-Ok", "1", "", "https://x/\xC3\xA9", 302}, // not ASCII
        {"X-Ok", "1", "", "", 700},
        {"X-Ok", "1", "", "", 101},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        field.name = (char *)cases[i].name;
        field.value = (char *)cases[i].value;
        bad.content_type = (char *)cases[i].content_type;
        bad.location = (char *)cases[i].location;
        bad.status = cases[i].status;
        reply = s_reply(200, "", &bad);
        raw_answer_read(reply, &a);
        zmsg_destroy(&reply);
        if (a.status != 502)
            fail_msg("case %zu: %d, not 502", i, a.status);
        assert_null(a.response);
    }
    //  No HttpResponse frame (an empty message packs to none): the header's code, no body.
    reply = s_reply(204, "", NULL);
    raw_answer_read(reply, &a);
    zmsg_destroy(&reply);
    assert_int_equal(a.status, 204);
    assert_non_null(a.response);
    raw_answer_body(&a, &size);
    assert_int_equal(size, 0);
    assert_string_equal(raw_answer_content_type(&a), "");
    raw_answer_reset(&a);
    reply = zmsg_new();
    zmsg_addstr(reply, "\xff\xff\xff");
    raw_answer_read(reply, &a);
    zmsg_destroy(&reply);
    assert_int_equal(a.status, 502);
}

// --- the whole path: a gateway, a fake notify worker, libcurl -------------------------

#define S_REQUESTS_MAX 16

//  The fake notify worker: records what it gets, answers what the test scripted.
typedef struct {
    pthread_mutex_t lock;
    char endpoint[256];
    //  Scripted:
    uint32_t code; // ReplyHeader code
    char message[128];
    Crm__HttpResponse *response; // packed into the reply (not owned)
    bool hold;                   // never answer
    //  Recorded:
    int count;
    Crm__RequestHeader *headers[S_REQUESTS_MAX];
    Crm__HttpRequest *requests[S_REQUESTS_MAX];
    int held;
    zframe_t *held_to[S_REQUESTS_MAX];
    zmsg_t *held_msgs[S_REQUESTS_MAX];
    crm_bus_worker_t *held_by[S_REQUESTS_MAX];
    crm_bus_worker_t *workers[2];
    zactor_t *actors[2];
} s_notify_t;

static s_notify_t s_notify;

//  Which of the notify workers an actor runs.
static int s_worker_index[2] = {0, 1};

static void s_notify_handler(crm_bus_worker_t *worker, zframe_t *reply_to, zmsg_t *request,
                             void *arg) {
    s_notify_t *self = arg;
    zframe_t *hframe = zmsg_first(request);
    zframe_t *bframe = zmsg_next(request);
    pthread_mutex_lock(&self->lock);
    if (self->count < S_REQUESTS_MAX) {
        self->headers[self->count] =
            crm__request_header__unpack(NULL, zframe_size(hframe), zframe_data(hframe));
        self->requests[self->count] = crm__http_request__unpack(
            NULL, bframe ? zframe_size(bframe) : 0, bframe ? zframe_data(bframe) : NULL);
        self->count++;
    }
    if (self->hold && self->held < S_REQUESTS_MAX) {
        self->held_to[self->held] = reply_to;
        self->held_msgs[self->held] = request;
        self->held_by[self->held] = worker;
        self->held++;
        pthread_mutex_unlock(&self->lock);
        return;
    }
    zmsg_t *reply = s_reply(self->code, self->message, self->response);
    pthread_mutex_unlock(&self->lock);
    zmsg_destroy(&request);
    crm_bus_worker_send(worker, &reply_to, &reply);
}

static int s_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg) {
    (void)loop;
    (void)arg;
    zmsg_t *msg = zmsg_recv(pipe);
    zmsg_destroy(&msg);
    return -1;
}

//  Once the test stops holding, each worker answers what it held (late: the broker
//  drops those answers, and the worker is free again).
static int s_on_flush(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    crm_bus_worker_t *worker = s_notify.workers[*(int *)arg];
    pthread_mutex_lock(&s_notify.lock);
    for (int i = 0; !s_notify.hold && i < s_notify.held; i++) {
        if (s_notify.held_by[i] != worker || !s_notify.held_msgs[i])
            continue;
        zmsg_destroy(&s_notify.held_msgs[i]);
        zmsg_t *reply = s_reply(200, "", NULL);
        crm_bus_worker_send(worker, &s_notify.held_to[i], &reply);
    }
    pthread_mutex_unlock(&s_notify.lock);
    return 0;
}

static void s_notify_actor(zsock_t *pipe, void *arg) {
    int index = *(int *)arg;
    zloop_t *loop = zloop_new();
    zloop_reader(loop, pipe, s_on_pipe, NULL);
    zloop_timer(loop, 20, 0, s_on_flush, arg);
    s_notify.workers[index] = crm_bus_worker_new(s_notify.endpoint, "notify", 100, 3);
    crm_bus_worker_attach(s_notify.workers[index], loop, s_notify_handler, &s_notify);
    zsock_signal(pipe, 0);
    zloop_start(loop);
    crm_bus_worker_destroy(&s_notify.workers[index]);
    zloop_destroy(&loop);
}

//  The gateway: broker and HTTP server on one loop, as crm-gateway's main.c wires them.
typedef struct {
    crm_config_t *cfg;
    broker_t *broker;
    metrics_t *metrics;
    http_t *http;
    int port;
    char endpoint[256];
    zactor_t *actor;
} s_gateway_t;

static s_gateway_t s_gateway;

static void s_gateway_actor(zsock_t *pipe, void *arg) {
    s_gateway_t *self = arg;
    self->broker = broker_new(self->cfg);
    zloop_t *loop = zloop_new();
    broker_attach(self->broker, loop);
    self->metrics = metrics_new(route_count());
    self->http = http_new(self->cfg, self->broker, NULL, self->metrics);
    assert(self->http);
    http_attach(self->http, loop);
    self->port = http_port(self->http);
    snprintf(self->endpoint, sizeof self->endpoint, "%s", broker_endpoint(self->broker));
    zloop_reader(loop, pipe, s_on_pipe, NULL);
    zsock_signal(pipe, 0);
    zloop_start(loop);
    http_shutdown(self->http);
    http_destroy(&self->http);
    zloop_destroy(&loop);
    broker_destroy(&self->broker);
    metrics_destroy(&self->metrics);
}

//  Start a gateway with these raw limits and two notify workers registered with it.
static void s_start(int per_second, int burst, int max_in_flight, int max_body) {
    char *err = NULL;
    s_gateway.cfg = crm_config_load(NULL, &err);
    assert_non_null(s_gateway.cfg);
    crm_config_t *cfg = s_gateway.cfg;
    free(cfg->broker_endpoint);
    cfg->broker_endpoint = strdup("tcp://127.0.0.1:*");
    free(cfg->broker_local_endpoint);
    cfg->broker_local_endpoint = strdup("");
    cfg->gateway_http_port = 0;
    cfg->broker_heartbeat_ms = 100;
    cfg->broker_default_deadline_ms = 1500;
    cfg->gateway_raw_client_per_second = per_second;
    cfg->gateway_raw_client_burst = burst;
    cfg->gateway_raw_max_in_flight = max_in_flight;
    cfg->gateway_raw_max_body_bytes = max_body;
    s_gateway.actor = zactor_new(s_gateway_actor, &s_gateway);
    assert_non_null(s_gateway.actor);

    memset(&s_notify, 0, sizeof s_notify);
    pthread_mutex_init(&s_notify.lock, NULL);
    snprintf(s_notify.endpoint, sizeof s_notify.endpoint, "%s", s_gateway.endpoint);
    s_notify.code = 200;
    for (int i = 0; i < 2; i++)
        s_notify.actors[i] = zactor_new(s_notify_actor, &s_worker_index[i]);
    int64_t until = zclock_mono() + 3000;
    while (broker_service_workers(s_gateway.broker, "notify") < 2 && zclock_mono() < until)
        zclock_sleep(5);
    assert_int_equal(broker_service_workers(s_gateway.broker, "notify"), 2);
}

static void s_stop(void) {
    for (int i = 0; i < 2; i++)
        zactor_destroy(&s_notify.actors[i]);
    for (int i = 0; i < s_notify.count; i++) {
        crm__request_header__free_unpacked(s_notify.headers[i], NULL);
        if (s_notify.requests[i])
            crm__http_request__free_unpacked(s_notify.requests[i], NULL);
    }
    for (int i = 0; i < s_notify.held; i++) {
        zframe_destroy(&s_notify.held_to[i]);
        zmsg_destroy(&s_notify.held_msgs[i]);
    }
    pthread_mutex_destroy(&s_notify.lock);
    zactor_destroy(&s_gateway.actor);
    crm_config_destroy(&s_gateway.cfg);
}

static int s_teardown(void **state) {
    (void)state;
    if (s_gateway.actor)
        s_stop();
    return 0;
}

//  One HTTP exchange as libcurl sees it.
typedef struct {
    long status;
    char body[70000];
    size_t size;
    char content_type[128];
    char location[512];
    char retry_after[16];
    char cache_control[64];
    char request_id[80];
} s_http_t;

static size_t s_on_body(char *data, size_t size, size_t n, void *arg) {
    s_http_t *r = arg;
    size_t len = size * n;
    if (r->size + len < sizeof r->body) {
        memcpy(r->body + r->size, data, len);
        r->size += len;
        r->body[r->size] = 0;
    }
    return len;
}

static void s_header_copy(const char *line, size_t len, const char *name, char *out, size_t size) {
    size_t name_len = strlen(name);
    if (len <= name_len + 1 || strncasecmp(line, name, name_len) != 0 || line[name_len] != ':')
        return;
    const char *value = line + name_len + 1;
    while (*value == ' ')
        value++;
    size_t value_len = len - (size_t)(value - line);
    while (value_len && (value[value_len - 1] == '\r' || value[value_len - 1] == '\n'))
        value_len--;
    snprintf(out, size, "%.*s", (int)value_len, value);
}

static size_t s_on_header(char *data, size_t size, size_t n, void *arg) {
    s_http_t *r = arg;
    size_t len = size * n;
    s_header_copy(data, len, "Content-Type", r->content_type, sizeof r->content_type);
    s_header_copy(data, len, "Location", r->location, sizeof r->location);
    s_header_copy(data, len, "Retry-After", r->retry_after, sizeof r->retry_after);
    s_header_copy(data, len, "Cache-Control", r->cache_control, sizeof r->cache_control);
    s_header_copy(data, len, "X-Request-Id", r->request_id, sizeof r->request_id);
    return len;
}

//  method path (with its query) and body (NULL: none) with headers (NULL-terminated).
static s_http_t *s_http(const char *method, const char *path, const char *body, size_t size,
                        const char *const *headers) {
    s_http_t *r = calloc(1, sizeof *r);
    CURL *curl = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s_gateway.port, path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)size);
    }
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    for (int i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK)
        r->status = -1;
    else
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return r;
}

static int s_notify_count(void) {
    pthread_mutex_lock(&s_notify.lock);
    int n = s_notify.count;
    pthread_mutex_unlock(&s_notify.lock);
    return n;
}

//  A provider's status callback reaches notify as it was sent, with no key and no
//  tenant; notify's answer comes back as it is.
static void test_webhook_reaches_the_service_as_sent(void **state) {
    (void)state;
    s_start(50, 200, 64, 65536);
    Crm__HttpResponse twiml = CRM__HTTP_RESPONSE__INIT;
    Crm__HttpField cache = CRM__HTTP_FIELD__INIT;
    cache.name = "Cache-Control";
    cache.value = "no-cache";
    Crm__HttpField *fields[] = {&cache};
    twiml.content_type = "text/xml";
    twiml.body.data = (uint8_t *)"<Response/>";
    twiml.body.len = 11;
    twiml.headers = fields;
    twiml.n_headers = 1;
    s_notify.response = &twiml;
    const char body[] = "MessageSid=SM123&MessageStatus=delivered&To=%2B15551234567";
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded",
                             "X-Twilio-Signature: abc+def/ghi=",
                             "User-Agent: TwilioProxy/1.1",
                             "Accept: */*",
                             "Authorization: Bearer not-forwarded",
                             "Cookie: no=1",
                             "X-Request-Id: req-webhook-1",
                             NULL};
    s_http_t *r = s_http("POST", "/v1/webhooks/sms/status?account=AC1&sig=a%2Bb", body,
                         sizeof body - 1, headers);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, "text/xml");
    assert_string_equal(r->body, "<Response/>");
    assert_string_equal(r->cache_control, "no-cache");
    assert_string_equal(r->request_id, "req-webhook-1");
    free(r);

    assert_int_equal(s_notify_count(), 1);
    Crm__RequestHeader *h = s_notify.headers[0];
    assert_string_equal(h->method, "SmsStatusWebhook");
    assert_string_equal(h->tenant_id, "");
    assert_string_equal(h->role, "");
    assert_string_equal(h->actor_id, "");
    assert_string_equal(h->request_id, "req-webhook-1");
    Crm__HttpRequest *req = s_notify.requests[0];
    assert_non_null(req);
    assert_string_equal(req->method, "POST");
    assert_string_equal(req->path, "/v1/webhooks/sms/status");
    assert_string_equal(req->query, "account=AC1&sig=a%2Bb");
    assert_int_equal(req->n_path_params, 0);
    assert_string_equal(req->content_type, "application/x-www-form-urlencoded");
    assert_string_equal(req->twilio_signature, "abc+def/ghi=");
    assert_string_equal(req->user_agent, "TwilioProxy/1.1");
    assert_string_equal(req->accept, "*/*");
    assert_string_equal(req->client_address, "127.0.0.1");
    assert_int_equal(req->body.len, sizeof body - 1);
    assert_memory_equal(req->body.data, body, sizeof body - 1);
    s_stop();
}

//  A click: the token as a path parameter, a 302 with notify's Location. An error from
//  notify: its status and one line of text, not the API's JSON.
static void test_track_redirect_and_errors(void **state) {
    (void)state;
    s_start(50, 200, 64, 65536);
    Crm__HttpResponse redirect = CRM__HTTP_RESPONSE__INIT;
    redirect.status = 302;
    redirect.location = "https://dealer.example/rav4?utm_source=sms";
    s_notify.response = &redirect;
    s_http_t *r = s_http("GET", "/v1/t/AQFjCnRlbmFudC1h_-x", NULL, 0, NULL);
    assert_int_equal(r->status, 302);
    assert_string_equal(r->location, "https://dealer.example/rav4?utm_source=sms");
    free(r);
    assert_int_equal(s_notify_count(), 1);
    assert_string_equal(s_notify.headers[0]->method, "Track");
    assert_int_equal(s_notify.requests[0]->n_path_params, 1);
    assert_string_equal(s_notify.requests[0]->path_params[0]->name, "token");
    assert_string_equal(s_notify.requests[0]->path_params[0]->value, "AQFjCnRlbmFudC1h_-x");
    assert_string_equal(s_notify.requests[0]->path, "/v1/t/AQFjCnRlbmFudC1h_-x");

    pthread_mutex_lock(&s_notify.lock);
    s_notify.code = 403;
    snprintf(s_notify.message, sizeof s_notify.message, "the signature does not match");
    pthread_mutex_unlock(&s_notify.lock);
    r = s_http("POST", "/v1/webhooks/sms/inbound", "Body=STOP", 9, NULL);
    assert_int_equal(r->status, 403);
    assert_string_equal(r->content_type, "text/plain; charset=utf-8");
    assert_string_equal(r->body, "the signature does not match\n");
    assert_string_equal(r->cache_control, "no-store");
    free(r);

    //  A service answer the gateway cannot write as it is: 502, in text.
    Crm__HttpResponse bad = CRM__HTTP_RESPONSE__INIT;
    bad.location = "https://x/\r\nSet-Cookie: a=1";
    bad.status = 302;
    pthread_mutex_lock(&s_notify.lock);
    s_notify.code = 200;
    s_notify.response = &bad;
    pthread_mutex_unlock(&s_notify.lock);
    r = s_http("GET", "/v1/unsubscribe/tok", NULL, 0, NULL);
    assert_int_equal(r->status, 502);
    assert_string_equal(r->content_type, "text/plain; charset=utf-8");
    free(r);

    //  The API routes are unchanged: no key, 401 in JSON, and nothing reaches a service.
    int before = s_notify_count();
    r = s_http("GET", "/v1/templates", NULL, 0, NULL);
    assert_int_equal(r->status, 401);
    assert_string_equal(r->content_type, "application/json");
    assert_non_null(strstr(r->body, "\"unauthorized\""));
    free(r);
    //  An unknown path and a wrong method: the gateway's JSON 404 and 405.
    r = s_http("GET", "/v1/webhooks/sms/status", NULL, 0, NULL);
    assert_int_equal(r->status, 405);
    free(r);
    assert_int_equal(s_notify_count(), before);
    s_stop();
}

//  Over the body cap: 413 before anything is forwarded; at the cap: forwarded.
static void test_body_cap(void **state) {
    (void)state;
    s_start(50, 200, 64, 65536);
    Crm__HttpResponse ok = CRM__HTTP_RESPONSE__INIT;
    ok.status = 204;
    s_notify.response = &ok;
    char *body = malloc(65537);
    memset(body, 'a', 65537);
    memcpy(body, "Body=", 5);
    s_http_t *r = s_http("POST", "/v1/webhooks/sms/inbound", body, 65537, NULL);
    assert_int_equal(r->status, 413);
    assert_string_equal(r->content_type, "text/plain; charset=utf-8");
    assert_string_equal(r->body, "the request body is too large\n");
    free(r);
    assert_int_equal(s_notify_count(), 0);
    //  Sent without a Content-Length (chunked): the cap holds as the bytes arrive.
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
    r = s_http("POST", "/v1/webhooks/sms/inbound", body, 65537, chunked);
    assert_int_equal(r->status, 413);
    free(r);
    assert_int_equal(s_notify_count(), 0);
    r = s_http("POST", "/v1/webhooks/sms/inbound", body, 65536, NULL);
    assert_int_equal(r->status, 204);
    free(r);
    assert_int_equal(s_notify_count(), 1);
    assert_int_equal(s_notify.requests[0]->body.len, 65536);
    free(body);
    s_stop();
}

//  One client over its rate: 429 with Retry-After, and nothing forwarded.
static void test_rate_per_client(void **state) {
    (void)state;
    s_start(1, 3, 64, 65536);
    Crm__HttpResponse ok = CRM__HTTP_RESPONSE__INIT;
    ok.status = 204;
    s_notify.response = &ok;
    for (int i = 0; i < 3; i++) {
        s_http_t *r = s_http("GET", "/v1/t/abc", NULL, 0, NULL);
        assert_int_equal(r->status, 204);
        free(r);
    }
    s_http_t *r = s_http("GET", "/v1/t/abc", NULL, 0, NULL);
    assert_int_equal(r->status, 429);
    assert_string_equal(r->retry_after, "1");
    assert_string_equal(r->body, "too many requests; retry later\n");
    free(r);
    assert_int_equal(s_notify_count(), 3);
    //  The API routes are not limited by it.
    r = s_http("GET", "/v1/templates", NULL, 0, NULL);
    assert_int_equal(r->status, 401);
    free(r);
    s_stop();
}

typedef struct {
    s_http_t *result;
} s_call_t;

static void *s_call_thread(void *arg) {
    s_call_t *call = arg;
    call->result = s_http("GET", "/v1/t/held", NULL, 0, NULL);
    return NULL;
}

//  All clients together: max_in_flight raw requests out at once, then 503 with
//  Retry-After; the held ones end with the broker's deadline (504, in text).
static void test_in_flight_cap(void **state) {
    (void)state;
    s_start(0, 1, 2, 65536);
    s_notify.hold = true;
    pthread_t threads[2];
    s_call_t calls[2] = {{0}};
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, s_call_thread, &calls[i]);
    int64_t until = zclock_mono() + 3000;
    while (s_notify_count() < 2 && zclock_mono() < until)
        zclock_sleep(5);
    assert_int_equal(s_notify_count(), 2);
    s_http_t *r = s_http("GET", "/v1/t/third", NULL, 0, NULL);
    assert_int_equal(r->status, 503);
    assert_string_equal(r->retry_after, "1");
    assert_string_equal(r->content_type, "text/plain; charset=utf-8");
    free(r);
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(calls[i].result->status, 504);
        assert_string_equal(calls[i].result->content_type, "text/plain; charset=utf-8");
        free(calls[i].result);
    }
    //  Released: the next one goes through (once the workers are free again).
    Crm__HttpResponse ok = CRM__HTTP_RESPONSE__INIT;
    ok.status = 204;
    pthread_mutex_lock(&s_notify.lock);
    s_notify.response = &ok;
    s_notify.hold = false;
    pthread_mutex_unlock(&s_notify.lock);
    zclock_sleep(200);
    r = s_http("GET", "/v1/t/fourth", NULL, 0, NULL);
    assert_int_equal(r->status, 204);
    free(r);
    s_stop();
}

int main(void) {
    crm_log_init("test_gateway_raw", CRM_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limiter_per_client_and_at_once),
        cmocka_unit_test(test_limiter_many_clients),
        cmocka_unit_test(test_client_address),
        cmocka_unit_test(test_request_frame),
        cmocka_unit_test(test_answer_read),
        cmocka_unit_test_teardown(test_webhook_reaches_the_service_as_sent, s_teardown),
        cmocka_unit_test_teardown(test_track_redirect_and_errors, s_teardown),
        cmocka_unit_test_teardown(test_body_cap, s_teardown),
        cmocka_unit_test_teardown(test_rate_per_client, s_teardown),
        cmocka_unit_test_teardown(test_in_flight_cap, s_teardown),
    };
    int rc = cmocka_run_group_tests_name("gateway_raw", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
