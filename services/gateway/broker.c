/*  broker: the Majordomo Protocol 0.1 broker (ZeroMQ RFC 7 + RFC 8 mmi.service).

    Reading order: broker_new, then s_router_drain (one message at a time, read as raw
    zmq_msg_t frames so nothing is copied and ZMQ_SRCFD is available), which hands
    client requests to s_client_request and worker commands to s_worker_message; s_tick
    answers expired deadlines and does the heartbeats; s_on_monitor learns which tcp
    connections closed.

    Objects (all owned by the broker, touched only by its loop thread):
    - service: name, FIFO of queued requests, FIFO of idle workers (least recently used
      first), live worker count, and whether a worker ever registered ("known");
    - worker: routing id (hash key), service, the request it holds, expiry, the fd of
      its tcp connection (-1 when unknown: an ipc one);
    - request: the client's routing id, body frames while queued, deadline (in a min-heap),
      request id for error replies. Requests come from a free list, so steady traffic
      allocates nothing beyond what zmq itself needs.

    Answers the broker makes itself (crm.ReplyHeader in the first body frame):
      404 unknown_service  no worker of the service ever registered, deadline passed;
      503 unavailable      known service with no live worker, or the worker holding the
                           request died, or no worker became free before the deadline;
      503 overloaded       the client already has broker.max_client_queue requests out, or
                           the queued bodies would pass broker.max_queued_bytes;
      504 timeout          the worker holding the request did not reply in time.

    Dead tcp workers are found fast through a socket monitor: ACCEPTED/DISCONNECTED events
    name the connection's fd, and READY's ZMQ_SRCFD ties a worker to its fd. The monitor
    queue is drained before a READY is handled, so the fd table is never older than the
    READY (see s_fd_event for the fd-reuse reasoning). Heartbeat expiry and
    EHOSTUNREACH (ZMQ_ROUTER_MANDATORY) on sends are the backstops.

    Limits (the "Limits" section below): a deadline is cut to broker.max_deadline_ms; a
    remote client may have broker.max_client_queue requests out at once, and the bodies
    of all queued requests together may take broker.max_queued_bytes; beyond either the
    request is answered 503 "overloaded" at once. Frames over broker.max_frame_bytes and
    other malformed traffic are dropped, logged at most once per peer address a minute.
    Each is counted (broker_render_metrics).
*/
#include "broker.h"
#include "common.pb-c.h"
#include "events.pb-c.h"
#include "curve.h"
#include "log.h"
#include "mdp.h"
#include "peer.h"
#include "scrub.h"
#include "zwatch.h"

#include <limits.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#define S_TICK_MS 10    // deadline resolution
#define S_BATCH_MAX 512 // messages read per wakeup before timers get a turn
#define S_INLINE_BODY 4 // body frames held without an extra allocation
#define S_REQUEST_ID_INLINE 64
#define S_FREE_REQUESTS_MAX 4096 // requests kept for reuse
#define S_ARENA_SIZE 2048        // scratch memory for unpacking a RequestHeader
#define S_HEAP_NONE SIZE_MAX
#define S_MALFORMED_LOG_MS 60000  // malformed traffic is logged once per peer this often
#define S_MALFORMED_PEERS_MAX 4096 // peers remembered for that, then forgotten all at once

typedef struct _s_service_t s_service_t;
typedef struct _s_worker_t s_worker_t;
typedef struct _s_request_t s_request_t;
typedef struct _s_client_t s_client_t;

//  A peer's routing id (ZeroMQ limits them to 255 bytes); the worker hash key.
typedef struct {
    uint8_t size;
    byte data[255];
} s_identity_t;

struct _s_request_t {
    zmq_msg_t client;                     // the client's routing id
    zmq_msg_t inline_body[S_INLINE_BODY]; // body frames while queued...
    zmq_msg_t *body;                      // ...here, or on the heap when more
    size_t body_count;
    s_service_t *service;
    s_worker_t *worker; // holding the request; NULL while queued
    bool queued;        // in service->queue
    int64_t deadline;   // zclock_mono time the client must be answered by
    uint32_t deadline_ms;
    size_t heap_index; // in broker->heap, or S_HEAP_NONE
    char request_id_inline[S_REQUEST_ID_INLINE];
    char *request_id;         // request_id_inline or heap
    s_request_t *prev, *next; // service queue; next also links the free list
    broker_reply_fn *local_fn; // an in-process client's callback (broker_submit), or NULL
    void *local_arg;
    size_t counted_bytes;      // body bytes counted in broker->queued_bytes
    s_client_t *client_entry;  // the remote client's count, or NULL
    bool scrub;                // Events.Replay of a pii: false key: scrub the reply's events
};

struct _s_worker_t {
    s_identity_t identity;
    s_service_t *service;
    s_request_t *request; // held and not yet answered
    bool busy;            // holds a request (even one already answered) until it replies
    bool idle;            // in service's idle list
    int fd;               // tcp connection it registered over, -1 when unknown
    int64_t expiry;       // purged when silent past this
    s_worker_t *idle_prev, *idle_next;
    s_worker_t *prev, *next;       // all workers
    s_worker_t *fd_prev, *fd_next; // workers registered over the same fd
};

struct _s_service_t {
    char *name;  // also the hash key
    bool known;  // a worker registered at some time
    int workers; // live workers
    s_worker_t *idle_head, *idle_tail;
    s_request_t *queue_head, *queue_tail;
};

//  A remote client with requests out (for broker.max_client_queue).
struct _s_client_t {
    s_identity_t identity; // the hash key
    size_t requests;       // accepted and not yet answered
};

//  What the monitor told us about one fd.
typedef struct {
    bool open;           // accepted and not yet disconnected
    s_worker_t *workers; // registered over it
} s_fd_t;

//  What other threads may read: live workers per known service.
typedef struct {
    int workers;
} s_snapshot_t;

struct _broker_t {
    zsock_t *router;
    void *router_handle;
    zsock_t *monitor; // PAIR receiving the router's connection events
    //  The loop watches the sockets through their ZMQ_FDs (zwatch.h).
    crm_zwatch_t router_watch, monitor_watch;
    char *endpoint;   // tcp endpoint actually bound
    int heartbeat_ms;
    int liveness;
    int default_deadline_ms;
    size_t max_frame_bytes;
    uint32_t max_deadline_ms;
    size_t max_client_queue;
    size_t max_queued_bytes;
    size_t queued_bytes;      // bodies of requests waiting for a worker
    zhashx_t *clients;        // s_identity_t -> s_client_t, remote clients with requests out
    zhashx_t *malformed_peers; // peer address -> int64_t last logged (zclock_mono)
    //  Refusals, read by /metrics (broker_render_metrics).
    atomic_ullong deadlines_cut, refused_client_queue, refused_memory, dropped_malformed;

    zhashx_t *services; // name -> s_service_t
    zhashx_t *workers;  // s_identity_t -> s_worker_t
    s_worker_t *all_workers;
    s_fd_t *fds;
    size_t fd_capacity;
    s_request_t **heap; // min-heap of requests by deadline
    size_t heap_size;
    size_t heap_capacity;
    s_request_t *free_requests;
    size_t free_count;
    int64_t heartbeat_at;
    uint64_t local_serial; // names in-process clients (broker_submit)
    bool secure;           // CURVE: every peer's key has roles (s_peer_*)

    //  The message being handled.
    zmq_msg_t frames[CRM_MDP_FRAMES_MAX];
    zmq_msg_t overflow; // frames past CRM_MDP_FRAMES_MAX land here
    crm_mdp_frame_t views[CRM_MDP_FRAMES_MAX];

    //  Snapshot for broker_each_service / broker_service_workers.
    pthread_mutex_t lock;
    zhashx_t *snapshot; // name -> s_snapshot_t

    //  RequestHeader unpacking without malloc.
    ProtobufCAllocator allocator;
    size_t arena_used;
    alignas(max_align_t) unsigned char arena[S_ARENA_SIZE];
};

static atomic_uint s_monitor_serial;

//  --- Identity hash --------------------------------------------------------------------

static size_t s_identity_hash(const void *key) {
    const s_identity_t *identity = key;
    size_t hash = 2166136261u; // FNV-1a
    for (size_t i = 0; i < identity->size; i++)
        hash = (hash ^ identity->data[i]) * 16777619u;
    return hash;
}

static int s_identity_compare(const void *a, const void *b) {
    const s_identity_t *left = a, *right = b;
    if (left->size != right->size)
        return left->size < right->size ? -1 : 1;
    return memcmp(left->data, right->data, left->size);
}

//  Fill identity from a routing id frame. Returns -1 if it cannot be one.
static int s_identity_set(s_identity_t *identity, const crm_mdp_frame_t *frame) {
    if (frame->size == 0 || frame->size > sizeof(identity->data))
        return -1;
    identity->size = (uint8_t)frame->size;
    memcpy(identity->data, frame->data, frame->size);
    return 0;
}

//  --- Arena allocator for protobuf-c ---------------------------------------------------

static void *s_arena_alloc(void *data, size_t size) {
    broker_t *self = data;
    size_t rounded = (size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    if (size <= S_ARENA_SIZE && rounded <= S_ARENA_SIZE - self->arena_used) {
        void *pointer = self->arena + self->arena_used;
        self->arena_used += rounded;
        return pointer;
    }
    return malloc(size);
}

static void s_arena_free(void *data, void *pointer) {
    broker_t *self = data;
    unsigned char *byte_pointer = pointer;
    if (byte_pointer >= self->arena && byte_pointer < self->arena + S_ARENA_SIZE)
        return;
    free(pointer);
}

//  --- Snapshot (read by other threads) -------------------------------------------------

static void s_snapshot_set(broker_t *self, s_service_t *service) {
    pthread_mutex_lock(&self->lock);
    s_snapshot_t *entry = zhashx_lookup(self->snapshot, service->name);
    if (!entry) {
        entry = calloc(1, sizeof(*entry));
        if (entry && zhashx_insert(self->snapshot, service->name, entry)) {
            free(entry);
            entry = NULL;
        }
    }
    if (entry)
        entry->workers = service->workers;
    pthread_mutex_unlock(&self->lock);
}

static void s_snapshot_entry_destroy(void **item) {
    free(*item);
    *item = NULL;
}

//  --- Deadline heap --------------------------------------------------------------------

static void s_heap_place(broker_t *self, size_t index, s_request_t *request) {
    self->heap[index] = request;
    request->heap_index = index;
}

static void s_heap_up(broker_t *self, size_t index) {
    s_request_t *request = self->heap[index];
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (self->heap[parent]->deadline <= request->deadline)
            break;
        s_heap_place(self, index, self->heap[parent]);
        index = parent;
    }
    s_heap_place(self, index, request);
}

static void s_heap_down(broker_t *self, size_t index) {
    s_request_t *request = self->heap[index];
    while (true) {
        size_t child = 2 * index + 1;
        if (child >= self->heap_size)
            break;
        if (child + 1 < self->heap_size &&
            self->heap[child + 1]->deadline < self->heap[child]->deadline)
            child++;
        if (request->deadline <= self->heap[child]->deadline)
            break;
        s_heap_place(self, index, self->heap[child]);
        index = child;
    }
    s_heap_place(self, index, request);
}

static int s_heap_push(broker_t *self, s_request_t *request) {
    if (self->heap_size == self->heap_capacity) {
        size_t capacity = self->heap_capacity ? self->heap_capacity * 2 : 256;
        s_request_t **heap = realloc(self->heap, capacity * sizeof(*heap));
        if (!heap)
            return -1;
        self->heap = heap;
        self->heap_capacity = capacity;
    }
    s_heap_place(self, self->heap_size++, request);
    s_heap_up(self, request->heap_index);
    return 0;
}

static void s_heap_remove(broker_t *self, s_request_t *request) {
    size_t index = request->heap_index;
    if (index == S_HEAP_NONE)
        return;
    request->heap_index = S_HEAP_NONE;
    s_request_t *last = self->heap[--self->heap_size];
    if (index < self->heap_size) {
        s_heap_place(self, index, last);
        s_heap_up(self, index);
        s_heap_down(self, last->heap_index);
    }
}

//  --- Lists ----------------------------------------------------------------------------

static void s_queue_append(s_service_t *service, s_request_t *request) {
    request->prev = service->queue_tail;
    request->next = NULL;
    if (service->queue_tail)
        service->queue_tail->next = request;
    else
        service->queue_head = request;
    service->queue_tail = request;
    request->queued = true;
}

static void s_queue_prepend(s_service_t *service, s_request_t *request) {
    request->prev = NULL;
    request->next = service->queue_head;
    if (service->queue_head)
        service->queue_head->prev = request;
    else
        service->queue_tail = request;
    service->queue_head = request;
    request->queued = true;
}

static void s_queue_remove(s_service_t *service, s_request_t *request) {
    if (!request->queued)
        return;
    if (request->prev)
        request->prev->next = request->next;
    else
        service->queue_head = request->next;
    if (request->next)
        request->next->prev = request->prev;
    else
        service->queue_tail = request->prev;
    request->prev = request->next = NULL;
    request->queued = false;
}

static void s_idle_append(s_service_t *service, s_worker_t *worker) {
    if (worker->idle)
        return;
    worker->idle_prev = service->idle_tail;
    worker->idle_next = NULL;
    if (service->idle_tail)
        service->idle_tail->idle_next = worker;
    else
        service->idle_head = worker;
    service->idle_tail = worker;
    worker->idle = true;
}

static void s_idle_remove(s_service_t *service, s_worker_t *worker) {
    if (!worker->idle)
        return;
    if (worker->idle_prev)
        worker->idle_prev->idle_next = worker->idle_next;
    else
        service->idle_head = worker->idle_next;
    if (worker->idle_next)
        worker->idle_next->idle_prev = worker->idle_prev;
    else
        service->idle_tail = worker->idle_prev;
    worker->idle_prev = worker->idle_next = NULL;
    worker->idle = false;
}

//  --- Sending --------------------------------------------------------------------------

static void s_router_recheck(broker_t *self);

static int s_send_bytes(broker_t *self, const void *data, size_t size, bool more) {
    int rc = zmq_send(self->router_handle, data, size, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0));
    if (!more)
        s_router_recheck(self);
    return rc == -1 ? -1 : 0;
}

static int s_send_msg(broker_t *self, zmq_msg_t *msg, bool more) {
    int rc = zmq_msg_send(msg, self->router_handle, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0));
    if (!more)
        s_router_recheck(self);
    return rc == -1 ? -1 : 0;
}

//  Send a bare worker command (HEARTBEAT, DISCONNECT) to a routing id.
static int s_send_command(broker_t *self, const s_identity_t *identity, int command) {
    byte code = (byte)command;
    if (s_send_bytes(self, identity->data, identity->size, true))
        return -1;
    s_send_bytes(self, "", 0, true);
    s_send_bytes(self, CRM_MDPW, strlen(CRM_MDPW), true);
    return s_send_bytes(self, &code, 1, false);
}

//  Start a client message: routing id (taken from *client), "", "MDPC01", service; the
//  caller sends the body. Returns -1 if the client cannot be reached (it went away),
//  in which case nothing was sent.
static int s_send_client_envelope(broker_t *self, zmq_msg_t *client, const char *service) {
    if (s_send_msg(self, client, true))
        return -1;
    s_send_bytes(self, "", 0, true);
    s_send_bytes(self, CRM_MDPC, strlen(CRM_MDPC), true);
    s_send_bytes(self, service, strlen(service), true);
    return 0;
}

//  Answer a client on the broker's own behalf: a ReplyHeader with code and error.
static void s_send_error(broker_t *self, zmq_msg_t *client, const char *service, unsigned code,
                         const char *error, const char *message, const char *request_id) {
    Crm__ReplyHeader header = CRM__REPLY_HEADER__INIT;
    header.code = code;
    header.error = (char *)error;
    header.message = (char *)message;
    header.request_id = (char *)(request_id ? request_id : "");
    size_t size = crm__reply_header__get_packed_size(&header);
    uint8_t stack[1024];
    uint8_t *buffer = size <= sizeof(stack) ? stack : malloc(size);
    if (!buffer)
        return;
    crm__reply_header__pack(&header, buffer);
    if (s_send_client_envelope(self, client, service) == 0)
        s_send_bytes(self, buffer, size, false);
    if (buffer != stack)
        free(buffer);
}

//  The same answer as a message for an in-process client.
static zmsg_t *s_error_msg(unsigned code, const char *error, const char *message,
                           const char *request_id) {
    Crm__ReplyHeader header = CRM__REPLY_HEADER__INIT;
    header.code = code;
    header.error = (char *)error;
    header.message = (char *)message;
    header.request_id = (char *)(request_id ? request_id : "");
    zframe_t *frame = zframe_new(NULL, crm__reply_header__get_packed_size(&header));
    crm__reply_header__pack(&header, zframe_data(frame));
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &frame);
    return msg;
}

//  --- Limits ---------------------------------------------------------------------------

//  The deadline a request gets: the one it asks for (or the default), cut to the cap.
static uint32_t s_limits_deadline(broker_t *self, uint32_t asked) {
    uint32_t deadline_ms = asked ? asked : (uint32_t)self->default_deadline_ms;
    if (deadline_ms > self->max_deadline_ms) {
        atomic_fetch_add_explicit(&self->deadlines_cut, 1, memory_order_relaxed);
        deadline_ms = self->max_deadline_ms;
    }
    return deadline_ms;
}

//  May a request of bytes from client (its routing id; NULL for an in-process one) be
//  queued? NULL when it may, else why not (the 503's message), counted.
static const char *s_limits_refusal(broker_t *self, const crm_mdp_frame_t *client,
                                    size_t bytes) {
    if (client) {
        s_identity_t identity;
        s_client_t *entry =
            s_identity_set(&identity, client) == 0 ? zhashx_lookup(self->clients, &identity)
                                                   : NULL;
        if (entry && entry->requests >= self->max_client_queue) {
            atomic_fetch_add_explicit(&self->refused_client_queue, 1, memory_order_relaxed);
            return "too many requests from this client are waiting (broker.max_client_queue)";
        }
    }
    if (bytes > self->max_queued_bytes - self->queued_bytes) {
        atomic_fetch_add_explicit(&self->refused_memory, 1, memory_order_relaxed);
        return "the broker's queue is full (broker.max_queued_bytes)";
    }
    return NULL;
}

//  Count an admitted request: its bytes while queued, its client until answered.
static void s_limits_take(broker_t *self, s_request_t *request, const crm_mdp_frame_t *client,
                          size_t bytes) {
    request->counted_bytes = bytes;
    self->queued_bytes += bytes;
    s_identity_t identity;
    if (!client || s_identity_set(&identity, client))
        return;
    s_client_t *entry = zhashx_lookup(self->clients, &identity);
    if (!entry) {
        entry = calloc(1, sizeof *entry);
        if (!entry)
            return;
        entry->identity = identity;
        if (zhashx_insert(self->clients, &entry->identity, entry)) {
            free(entry);
            return;
        }
    }
    entry->requests++;
    request->client_entry = entry;
}

//  The request's body left the queue (handed to a worker, or answered).
static void s_limits_release_bytes(broker_t *self, s_request_t *request) {
    self->queued_bytes -= request->counted_bytes;
    request->counted_bytes = 0;
}

//  The request is answered: uncount it.
static void s_limits_release(broker_t *self, s_request_t *request) {
    s_limits_release_bytes(self, request);
    s_client_t *entry = request->client_entry;
    request->client_entry = NULL;
    if (entry && --entry->requests == 0)
        zhashx_delete(self->clients, &entry->identity); // frees entry
}

//  Log a malformed message, at most once a minute per peer address (an attacker's flood
//  is one line a minute); every one is counted.
static void s_limits_malformed(broker_t *self, zmq_msg_t *frame, const char *reason,
                               int64_t now) {
    atomic_fetch_add_explicit(&self->dropped_malformed, 1, memory_order_relaxed);
    const char *peer = zmq_msg_gets(frame, "Peer-Address");
    if (!peer)
        peer = "local";
    int64_t *last = zhashx_lookup(self->malformed_peers, peer);
    if (last && now - *last < S_MALFORMED_LOG_MS)
        return;
    if (!last) {
        if (zhashx_size(self->malformed_peers) >= S_MALFORMED_PEERS_MAX)
            zhashx_purge(self->malformed_peers);
        last = malloc(sizeof *last);
        if (!last || zhashx_insert(self->malformed_peers, peer, last)) {
            free(last);
            last = NULL;
        }
    }
    if (last)
        *last = now;
    crm_log_kv(CRM_LOG_WARN, "dropping malformed message", "peer", peer, "detail", reason, "hint",
               "logged once a minute per peer; crm_broker_dropped_total counts every one", NULL);
}

void broker_render_metrics(broker_t *self, zchunk_t *out) {
    char text[1024];
    int size = snprintf(
        text, sizeof text,
        "# HELP crm_broker_deadlines_cut_total Requests whose deadline was cut to "
        "broker.max_deadline_ms.\n"
        "# TYPE crm_broker_deadlines_cut_total counter\n"
        "crm_broker_deadlines_cut_total %llu\n"
        "# HELP crm_broker_refused_total Requests the broker answered 503 for a limit.\n"
        "# TYPE crm_broker_refused_total counter\n"
        "crm_broker_refused_total{limit=\"max_client_queue\"} %llu\n"
        "crm_broker_refused_total{limit=\"max_queued_bytes\"} %llu\n"
        "# HELP crm_broker_dropped_total Malformed MDP messages dropped (bad framing, frames "
        "over broker.max_frame_bytes).\n"
        "# TYPE crm_broker_dropped_total counter\n"
        "crm_broker_dropped_total %llu\n",
        (unsigned long long)atomic_load(&self->deadlines_cut),
        (unsigned long long)atomic_load(&self->refused_client_queue),
        (unsigned long long)atomic_load(&self->refused_memory),
        (unsigned long long)atomic_load(&self->dropped_malformed));
    if (size > 0)
        zchunk_extend(out, text, (size_t)size < sizeof text ? (size_t)size : sizeof text - 1);
}

//  --- Requests -------------------------------------------------------------------------

//  A request from the free list (or a new one), empty and unlinked.
static s_request_t *s_request_take(broker_t *self) {
    s_request_t *request = self->free_requests;
    if (request) {
        self->free_requests = request->next;
        self->free_count--;
    } else {
        request = calloc(1, sizeof(*request));
        if (!request)
            return NULL;
        zmq_msg_init(&request->client);
        for (size_t i = 0; i < S_INLINE_BODY; i++)
            zmq_msg_init(&request->inline_body[i]);
    }
    request->body = request->inline_body;
    request->body_count = 0;
    request->service = NULL;
    request->worker = NULL;
    request->queued = false;
    request->heap_index = S_HEAP_NONE;
    request->request_id = request->request_id_inline;
    request->request_id_inline[0] = '\0';
    request->prev = request->next = NULL;
    request->local_fn = NULL;
    request->local_arg = NULL;
    request->counted_bytes = 0;
    request->client_entry = NULL;
    request->scrub = false;
    return request;
}

static void s_request_free(s_request_t *request) {
    zmq_msg_close(&request->client);
    for (size_t i = 0; i < S_INLINE_BODY; i++)
        zmq_msg_close(&request->inline_body[i]);
    free(request);
}

//  Close the frames a request still holds.
static void s_request_clear_body(s_request_t *request) {
    for (size_t i = 0; i < request->body_count; i++) {
        zmq_msg_close(&request->body[i]);
        zmq_msg_init(&request->body[i]);
    }
    if (request->body != request->inline_body) {
        free(request->body);
        request->body = request->inline_body;
    }
    request->body_count = 0;
}

//  The client has been answered (or cannot be): unlink the request everywhere and
//  recycle it. A worker holding it stays busy until it replies.
static void s_request_release(broker_t *self, s_request_t *request) {
    s_limits_release(self, request);
    s_heap_remove(self, request);
    if (request->service)
        s_queue_remove(request->service, request);
    if (request->worker) {
        request->worker->request = NULL;
        request->worker = NULL;
    }
    s_request_clear_body(request);
    zmq_msg_close(&request->client);
    zmq_msg_init(&request->client);
    if (request->request_id != request->request_id_inline)
        free(request->request_id);
    request->request_id = request->request_id_inline;
    if (self->free_count >= S_FREE_REQUESTS_MAX) {
        s_request_free(request);
        return;
    }
    request->next = self->free_requests;
    self->free_requests = request;
    self->free_count++;
}

//  Answer a request with an error and release it.
static void s_request_fail(broker_t *self, s_request_t *request, unsigned code, const char *error,
                           const char *message) {
    const char *service = request->service ? request->service->name : "";
    crm_debug("answering %s request %s with %u %s: %s", service, request->request_id, code, error,
              message);
    if (request->local_fn) {
        broker_reply_fn *fn = request->local_fn;
        void *arg = request->local_arg;
        zmsg_t *reply = s_error_msg(code, error, message, request->request_id);
        s_request_release(self, request);
        fn(reply, arg);
        return;
    }
    s_send_error(self, &request->client, service, code, error, message, request->request_id);
    s_request_release(self, request);
}

static void s_request_set_id(s_request_t *request, const char *request_id) {
    size_t size = strlen(request_id);
    if (size < sizeof(request->request_id_inline))
        memcpy(request->request_id_inline, request_id, size + 1);
    else {
        request->request_id = strdup(request_id);
        if (!request->request_id) {
            request->request_id = request->request_id_inline;
            request->request_id_inline[0] = '\0';
        }
    }
}

//  --- Services -------------------------------------------------------------------------

static s_service_t *s_service_require(broker_t *self, const char *name) {
    s_service_t *service = zhashx_lookup(self->services, name);
    if (service)
        return service;
    service = calloc(1, sizeof(*service));
    if (!service)
        return NULL;
    service->name = strdup(name);
    if (!service->name || zhashx_insert(self->services, service->name, service)) {
        free(service->name);
        free(service);
        return NULL;
    }
    return service;
}

static void s_service_destroy(broker_t *self, s_service_t *service) {
    zhashx_delete(self->services, service->name);
    free(service->name);
    free(service);
}

//  Answer every queued request of a service that has just lost its last worker.
static void s_service_fail_queue(broker_t *self, s_service_t *service) {
    char message[CRM_MDP_SERVICE_MAX + 64];
    snprintf(message, sizeof(message), "service %s has no live worker", service->name);
    while (service->queue_head)
        s_request_fail(self, service->queue_head, 503, "unavailable", message);
}

//  --- Workers --------------------------------------------------------------------------

static void s_fd_unlink(broker_t *self, s_worker_t *worker) {
    if (worker->fd < 0)
        return;
    if (worker->fd_prev)
        worker->fd_prev->fd_next = worker->fd_next;
    else
        self->fds[worker->fd].workers = worker->fd_next;
    if (worker->fd_next)
        worker->fd_next->fd_prev = worker->fd_prev;
    worker->fd_prev = worker->fd_next = NULL;
    worker->fd = -1;
}

//  Make sure self->fds can be indexed by fd. Returns -1 if not.
static int s_fd_reserve(broker_t *self, int fd) {
    if (fd < 0)
        return -1;
    if ((size_t)fd < self->fd_capacity)
        return 0;
    size_t capacity = self->fd_capacity ? self->fd_capacity : 64;
    while (capacity <= (size_t)fd)
        capacity *= 2;
    s_fd_t *fds = realloc(self->fds, capacity * sizeof(*fds));
    if (!fds)
        return -1;
    memset(fds + self->fd_capacity, 0, (capacity - self->fd_capacity) * sizeof(*fds));
    self->fds = fds;
    self->fd_capacity = capacity;
    return 0;
}

//  Forget a worker: answer the request it holds with 503, and when it was the service's
//  last one, the queued requests too. DISCONNECT tells it, when it may still listen.
static void s_worker_purge(broker_t *self, s_worker_t *worker, const char *why, bool disconnect) {
    s_service_t *service = worker->service;
    bool polite = strcmp(why, "worker disconnected") == 0;
    crm_log_kv(polite ? CRM_LOG_DEBUG : CRM_LOG_WARN, "removing worker", "service", service->name,
               "reason", why, NULL);
    if (disconnect)
        s_send_command(self, &worker->identity, CRM_MDPW_DISCONNECT);
    if (worker->request) {
        char message[CRM_MDP_SERVICE_MAX + 64];
        snprintf(message, sizeof(message), "the %s worker handling the request died",
                 service->name);
        s_request_fail(self, worker->request, 503, "unavailable", message);
    }
    s_idle_remove(service, worker);
    s_fd_unlink(self, worker);
    if (worker->prev)
        worker->prev->next = worker->next;
    else
        self->all_workers = worker->next;
    if (worker->next)
        worker->next->prev = worker->prev;
    zhashx_delete(self->workers, &worker->identity);
    free(worker);

    service->workers--;
    s_snapshot_set(self, service);
    if (service->workers == 0)
        s_service_fail_queue(self, service);
}

//  Hand queued requests to idle workers, oldest request to least recently used worker.
static void s_dispatch(broker_t *self, s_service_t *service) {
    while (service->queue_head && service->idle_head) {
        s_worker_t *worker = service->idle_head;
        s_request_t *request = service->queue_head;
        s_idle_remove(service, worker);
        s_queue_remove(service, request);

        byte code = CRM_MDPW_REQUEST;
        if (s_send_bytes(self, worker->identity.data, worker->identity.size, true)) {
            //  Gone (EHOSTUNREACH) or choked (EAGAIN): either way not usable now.
            s_queue_prepend(service, request);
            s_worker_purge(self, worker, "unreachable", false);
            continue;
        }
        s_send_bytes(self, "", 0, true);
        s_send_bytes(self, CRM_MDPW, strlen(CRM_MDPW), true);
        s_send_bytes(self, &code, 1, true);
        zmq_msg_t client;
        zmq_msg_init(&client);
        zmq_msg_copy(&client, &request->client);
        if (s_send_msg(self, &client, true))
            zmq_msg_close(&client);
        s_send_bytes(self, "", 0, true);
        for (size_t i = 0; i < request->body_count; i++)
            s_send_msg(self, &request->body[i], i + 1 < request->body_count);
        s_request_clear_body(request);
        s_limits_release_bytes(self, request);

        worker->busy = true;
        worker->request = request;
        request->worker = worker;
    }
}

//  --- Connection events ----------------------------------------------------------------

//  A monitor event for the router. ACCEPTED marks an fd open; DISCONNECTED closes it and
//  purges the workers registered over it.
//
//  Why fd reuse cannot hit the wrong worker: libzmq emits DISCONNECTED before it closes
//  the fd, so the fd can only be reused (and ACCEPTED again) after that event is queued;
//  and any message from the new connection is queued after its ACCEPTED. Draining the
//  monitor before registering a worker therefore always closes the old connection's
//  entry first. A stale READY still in the router's queue from a connection that has
//  meanwhile closed finds its fd closed and is refused.
static void s_fd_event(broker_t *self, int event, int fd) {
    crm_debug("connection event %s on fd %d",
              event == ZMQ_EVENT_ACCEPTED ? "accepted" : "disconnected", fd);
    if (s_fd_reserve(self, fd))
        return;
    //  Either way the connection that used this fd before is gone: if its DISCONNECTED
    //  never came (libzmq skips it when it drops a connection itself), ACCEPTED says so.
    self->fds[fd].open = event == ZMQ_EVENT_ACCEPTED;
    while (self->fds[fd].workers)
        s_worker_purge(self, self->fds[fd].workers, "connection closed", false);
}

//  Read every event waiting on the monitor socket.
static void s_drain_monitor(broker_t *self) {
    void *handle = zsock_resolve(self->monitor);
    while (true) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, handle, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&msg);
            return;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        bool valid = zmq_msg_size(&msg) == 6;
        if (valid) {
            memcpy(&event, zmq_msg_data(&msg), 2);
            memcpy(&value, (byte *)zmq_msg_data(&msg) + 2, 4);
        }
        while (zmq_msg_more(&msg)) { // the endpoint frame
            if (zmq_msg_recv(&msg, handle, 0) == -1)
                break;
        }
        zmq_msg_close(&msg);
        if (valid && value <= INT_MAX &&
            (event == ZMQ_EVENT_ACCEPTED || event == ZMQ_EVENT_DISCONNECTED))
            s_fd_event(self, event, (int)value);
    }
}

static void s_on_monitor(void *arg) {
    s_drain_monitor(arg);
}

//  --- Peer authorisation (CurveZMQ keys, common/peer.h) -------------------------------

//  The rights of the key a message came over, read from a frame off the wire (the ZAP
//  handler's metadata, services/gateway/zap.c). Returns -1 when there are none to read
//  (never with CURVE on: the handshake needs a known key).
static int s_peer_of(broker_t *self, zmq_msg_t *frame, crm_peer_t *peer) {
    (void)self;
    const char *roles = zmq_msg_gets(frame, "roles");
    char problem[128];
    if (!roles || crm_peer_parse(roles, peer, problem, sizeof problem))
        return -1;
    return 0;
}

//  May the peer of this READY serve service? Refusals are logged with the key's name.
static bool s_peer_may_serve(broker_t *self, zmq_msg_t *frame, const char *service) {
    if (!self->secure)
        return true;
    crm_peer_t peer;
    if (s_peer_of(self, frame, &peer) == 0 && crm_peer_may_serve(&peer, service))
        return true;
    const char *user = zmq_msg_gets(frame, "User-Id");
    crm_log_kv(CRM_LOG_WARN, "refusing worker: its key may not serve this service", "service",
               service, "key", user ? user : "", NULL);
    return false;
}

//  May the peer of this request send it (service, and the header's method, tenant and
//  role)? NULL when it may, else why not. A request without a readable header claims
//  nothing: it goes on, and the service refuses it (400, common/service.c).
static const char *s_peer_may_call(broker_t *self, zmq_msg_t *frame, const char *service,
                                   const Crm__RequestHeader *header) {
    if (!self->secure)
        return NULL;
    crm_peer_t peer;
    if (s_peer_of(self, frame, &peer) != 0)
        return "the key has no roles";
    if (!header)
        return NULL;
    const char *why =
        crm_peer_may_call(&peer, service, header->method, header->tenant_id, header->role);
    if (why) {
        const char *user = zmq_msg_gets(frame, "User-Id");
        crm_log_kv(CRM_LOG_WARN, "refusing request", "service", service, "method",
                   header->method, "key", user ? user : "", "reason", why, NULL);
    }
    return why;
}

//  Is the key a frame came over marked pii: false (its events without personal fields)?
static bool s_peer_pii_free(broker_t *self, zmq_msg_t *frame) {
    if (!self->secure)
        return false;
    const char *pii = zmq_msg_gets(frame, "pii");
    return pii && strcmp(pii, "false") == 0;
}

//  The reply body frame of an Events.Replay (a crm.events.ReplayResponse) with every
//  event's payload scrubbed (common/scrub.h), in place. A body that does not decode is
//  replaced by an empty page: what cannot be scrubbed is not passed on.
static void s_scrub_replay(zmq_msg_t *frame) {
    Crm__Events__ReplayResponse *page = crm__events__replay_response__unpack(
        NULL, zmq_msg_size(frame), zmq_msg_data(frame));
    size_t size = 0;
    uint8_t *packed = NULL;
    if (page) {
        for (size_t i = 0; i < page->n_events; i++) {
            Crm__Event *event = page->events[i];
            size_t clean_size = 0;
            uint8_t *clean = crm_event_payload_scrub(event->type, event->payload.data,
                                                     event->payload.len, &clean_size);
            free(event->payload.data);
            event->payload.data = clean;
            event->payload.len = clean_size;
        }
        size = crm__events__replay_response__get_packed_size(page);
        packed = malloc(size ? size : 1);
        if (packed)
            crm__events__replay_response__pack(page, packed);
        crm__events__replay_response__free_unpacked(page, NULL);
    }
    zmq_msg_close(frame);
    if (packed) {
        zmq_msg_init_size(frame, size);
        memcpy(zmq_msg_data(frame), packed, size);
        free(packed);
    } else
        zmq_msg_init(frame);
}

//  --- Worker commands ------------------------------------------------------------------

//  READY: register a new worker for a service and give it queued work.
static void s_worker_ready(broker_t *self, const s_identity_t *identity, const char *name, int fd,
                           int64_t now) {
    if (strncmp(name, "mmi.", 4) == 0) {
        crm_log_kv(CRM_LOG_WARN, "refusing worker for reserved service", "service", name, NULL);
        s_send_command(self, identity, CRM_MDPW_DISCONNECT);
        return;
    }
    if (fd >= 0) {
        s_drain_monitor(self);
        if (s_fd_reserve(self, fd) || !self->fds[fd].open) {
            crm_log_kv(CRM_LOG_INFO, "ignoring READY from a closed connection", "service", name,
                       NULL);
            s_send_command(self, identity, CRM_MDPW_DISCONNECT);
            return;
        }
        //  One tcp connection carries one routing id: workers still recorded on this
        //  fd belong to a connection that ended without telling us.
        while (self->fds[fd].workers)
            s_worker_purge(self, self->fds[fd].workers, "connection replaced", false);
    }
    s_service_t *service = s_service_require(self, name);
    s_worker_t *worker = service ? calloc(1, sizeof(*worker)) : NULL;
    if (worker)
        worker->identity = *identity;
    if (!worker || zhashx_insert(self->workers, &worker->identity, worker)) {
        free(worker);
        crm_error("out of memory registering worker");
        return;
    }
    worker->service = service;
    worker->fd = -1;
    worker->expiry = now + (int64_t)self->heartbeat_ms * self->liveness;
    worker->next = self->all_workers;
    if (self->all_workers)
        self->all_workers->prev = worker;
    self->all_workers = worker;
    if (fd >= 0) {
        worker->fd = fd;
        worker->fd_next = self->fds[fd].workers;
        if (worker->fd_next)
            worker->fd_next->fd_prev = worker;
        self->fds[fd].workers = worker;
    }
    service->known = true;
    service->workers++;
    s_snapshot_set(self, service);
    crm_log_kv(CRM_LOG_DEBUG, "worker registered", "service", name, NULL);
    //  A first HEARTBEAT at once tells the worker its READY arrived; otherwise a worker
    //  that connected while the broker was down could give up just before our first
    //  periodic heartbeat.
    s_send_command(self, &worker->identity, CRM_MDPW_HEARTBEAT);
    s_idle_append(service, worker);
    s_dispatch(self, service);
}

//  REPLY: forward to the client of the request the worker holds, unless the broker has
//  answered it already (a late reply), then give the worker its next request.
static void s_worker_reply(broker_t *self, s_worker_t *worker, const crm_mdp_layout_t *layout,
                           size_t count) {
    s_service_t *service = worker->service;
    s_request_t *request = worker->request;
    const crm_mdp_frame_t *client = &self->views[layout->client];
    if (!worker->busy) {
        crm_log_kv(CRM_LOG_WARN, "dropping REPLY from a worker without a request", "service",
                   service->name, NULL);
        return;
    }
    if (request && zmq_msg_size(&request->client) == client->size &&
        memcmp(zmq_msg_data(&request->client), client->data, client->size) == 0) {
        if (request->local_fn) {
            broker_reply_fn *fn = request->local_fn;
            void *arg = request->local_arg;
            zmsg_t *reply = zmsg_new();
            for (size_t i = (size_t)layout->body; i < count; i++)
                zmsg_addmem(reply, zmq_msg_data(&self->frames[i]), zmq_msg_size(&self->frames[i]));
            s_request_release(self, request);
            fn(reply, arg);
        } else {
            //  Body: the reply header, then the ReplayResponse.
            if (request->scrub && (size_t)layout->body + 1 < count)
                s_scrub_replay(&self->frames[layout->body + 1]);
            if (s_send_client_envelope(self, &request->client, service->name) == 0) {
                for (size_t i = (size_t)layout->body; i < count; i++)
                    s_send_msg(self, &self->frames[i], i + 1 < count);
            }
            s_request_release(self, request);
        }
    } else
        crm_debug("dropping late reply from %s worker", service->name);
    worker->busy = false;
    if (worker->request) // a reply that named another client: the request stays lost
        s_request_fail(self, worker->request, 503, "unavailable", "worker replied out of turn");
    s_idle_append(service, worker);
    s_dispatch(self, service);
}

static void s_worker_message(broker_t *self, const crm_mdp_layout_t *layout, size_t count,
                             int64_t now) {
    s_identity_t identity;
    if (s_identity_set(&identity, &self->views[0]))
        return;
    s_worker_t *worker = zhashx_lookup(self->workers, &identity);
    int command = layout->command;

    if (command == CRM_MDPW_READY) {
        if (worker) {
            crm_log_kv(CRM_LOG_WARN, "worker sent READY twice", "service", worker->service->name,
                       NULL);
            s_worker_purge(self, worker, "protocol error", true);
            return;
        }
        char name[CRM_MDP_SERVICE_MAX + 1];
        const crm_mdp_frame_t *frame = &self->views[layout->service];
        memcpy(name, frame->data, frame->size);
        name[frame->size] = '\0';
        //  The routing id frame is made by the ROUTER and may lack the connection's
        //  metadata (libzmq 4.3 copies it only sometimes): ask a frame off the wire.
        int fd = zmq_msg_get(&self->frames[1], ZMQ_SRCFD);
        crm_debug("READY for %s over fd %d", name, fd);
        if (!s_peer_may_serve(self, &self->frames[1], name)) {
            s_send_command(self, &identity, CRM_MDPW_DISCONNECT);
            return;
        }
        s_worker_ready(self, &identity, name, fd, now);
        return;
    }
    if (!worker) {
        //  Unknown worker (the broker restarted, or purged it): make it register again.
        if (command != CRM_MDPW_DISCONNECT)
            s_send_command(self, &identity, CRM_MDPW_DISCONNECT);
        return;
    }
    worker->expiry = now + (int64_t)self->heartbeat_ms * self->liveness;
    if (command == CRM_MDPW_REPLY)
        s_worker_reply(self, worker, layout, count);
    else if (command == CRM_MDPW_DISCONNECT)
        s_worker_purge(self, worker, "worker disconnected", false);
    //  HEARTBEAT: the expiry refresh above is all it takes.
}

//  --- Client requests ------------------------------------------------------------------

//  mmi.service (RFC 8): "200" if the named service has a live worker, else "404";
//  other mmi.* names: "501".
static void s_mmi_request(broker_t *self, const crm_mdp_layout_t *layout, const char *name) {
    const char *code = "501";
    if (strcmp(name, "mmi.service") == 0) {
        const crm_mdp_frame_t *frame = &self->views[layout->body];
        char wanted[CRM_MDP_SERVICE_MAX + 1];
        code = "404";
        if (frame->size > 0 && frame->size <= CRM_MDP_SERVICE_MAX) {
            memcpy(wanted, frame->data, frame->size);
            wanted[frame->size] = '\0';
            s_service_t *service = zhashx_lookup(self->services, wanted);
            if (service && service->workers > 0)
                code = "200";
        }
    }
    if (s_send_client_envelope(self, &self->frames[0], name) == 0)
        s_send_bytes(self, code, strlen(code), false);
}

//  A client request: read its deadline and request id from the RequestHeader, then
//  answer 503 at once (known service, no worker) or queue it and dispatch.
static void s_client_request(broker_t *self, const crm_mdp_layout_t *layout, size_t count,
                             int64_t now) {
    char name[CRM_MDP_SERVICE_MAX + 1];
    const crm_mdp_frame_t *frame = &self->views[layout->service];
    memcpy(name, frame->data, frame->size);
    name[frame->size] = '\0';
    if (strncmp(name, "mmi.", 4) == 0) {
        s_mmi_request(self, layout, name);
        return;
    }

    const crm_mdp_frame_t *first = &self->views[layout->body];
    self->arena_used = 0;
    Crm__RequestHeader *header =
        crm__request_header__unpack(&self->allocator, first->size, first->data);
    uint32_t deadline_ms = s_limits_deadline(self, header ? header->deadline_ms : 0);
    const char *request_id = header && header->request_id ? header->request_id : "";
    const char *refused = s_peer_may_call(self, &self->frames[1], name, header);
    if (refused) {
        s_send_error(self, &self->frames[0], name, 403, "forbidden", refused, request_id);
        crm__request_header__free_unpacked(header, &self->allocator);
        return;
    }

    s_service_t *service = zhashx_lookup(self->services, name);
    if (service && service->known && service->workers == 0) {
        char message[CRM_MDP_SERVICE_MAX + 64];
        snprintf(message, sizeof(message), "service %s has no live worker", name);
        s_send_error(self, &self->frames[0], name, 503, "unavailable", message, request_id);
        crm__request_header__free_unpacked(header, &self->allocator);
        return;
    }
    size_t bytes = 0;
    for (size_t i = (size_t)layout->body; i < count && i < CRM_MDP_FRAMES_MAX; i++)
        bytes += self->views[i].size;
    const char *refusal = s_limits_refusal(self, &self->views[0], bytes);
    if (refusal) {
        s_send_error(self, &self->frames[0], name, 503, "overloaded", refusal, request_id);
        crm__request_header__free_unpacked(header, &self->allocator);
        return;
    }
    s_request_t *request = service ? s_request_take(self) : NULL;
    if (!service) {
        service = s_service_require(self, name);
        request = service ? s_request_take(self) : NULL;
    }
    if (!request) {
        crm_error("out of memory queueing request");
        s_send_error(self, &self->frames[0], name, 503, "unavailable", "broker out of memory",
                     request_id);
        crm__request_header__free_unpacked(header, &self->allocator);
        return;
    }
    s_request_set_id(request, request_id);
    request->scrub = header && header->method && strcmp(header->method, "Events.Replay") == 0 &&
                     s_peer_pii_free(self, &self->frames[1]);
    crm__request_header__free_unpacked(header, &self->allocator);

    size_t body_count = count - (size_t)layout->body;
    if (body_count > S_INLINE_BODY) {
        request->body = malloc(body_count * sizeof(zmq_msg_t));
        if (!request->body) {
            request->body = request->inline_body;
            s_request_release(self, request);
            return;
        }
        for (size_t i = 0; i < body_count; i++)
            zmq_msg_init(&request->body[i]);
    }
    for (size_t i = 0; i < body_count; i++)
        zmq_msg_move(&request->body[i], &self->frames[(size_t)layout->body + i]);
    request->body_count = body_count;
    s_limits_take(self, request, &self->views[0], bytes);
    zmq_msg_move(&request->client, &self->frames[0]);
    request->service = service;
    request->deadline_ms = deadline_ms;
    request->deadline = now + deadline_ms;
    if (s_heap_push(self, request)) {
        s_request_fail(self, request, 503, "unavailable", "broker out of memory");
        return;
    }
    s_queue_append(service, request);
    s_dispatch(self, service);
}

//  An in-process request: the same path as a client's, answered through fn. Its
//  client address is a name no ZeroMQ peer can have (ROUTER-made ids start with a zero
//  byte; ours start with 0xff and a serial).
int broker_submit(broker_t *self, const char *service_name, zmsg_t **body_p,
                  broker_reply_fn *fn, void *arg) {
    zmsg_t *body = *body_p;
    *body_p = NULL;
    zframe_t *first = zmsg_first(body);
    self->arena_used = 0;
    Crm__RequestHeader *header =
        first ? crm__request_header__unpack(&self->allocator, zframe_size(first),
                                            zframe_data(first))
              : NULL;
    uint32_t deadline_ms = s_limits_deadline(self, header ? header->deadline_ms : 0);
    char request_id[128];
    snprintf(request_id, sizeof request_id, "%s",
             header && header->request_id ? header->request_id : "");
    crm__request_header__free_unpacked(header, &self->allocator);

    s_service_t *service = zhashx_lookup(self->services, service_name);
    if (service && service->known && service->workers == 0) {
        char message[CRM_MDP_SERVICE_MAX + 64];
        snprintf(message, sizeof(message), "service %s has no live worker", service_name);
        zmsg_destroy(&body);
        fn(s_error_msg(503, "unavailable", message, request_id), arg);
        return 0;
    }
    const char *refusal = s_limits_refusal(self, NULL, zmsg_content_size(body));
    if (refusal) {
        zmsg_destroy(&body);
        fn(s_error_msg(503, "overloaded", refusal, request_id), arg);
        return 0;
    }
    if (!service)
        service = s_service_require(self, service_name);
    s_request_t *request = service ? s_request_take(self) : NULL;
    size_t body_count = zmsg_size(body);
    if (request && body_count > S_INLINE_BODY) {
        request->body = malloc(body_count * sizeof(zmq_msg_t));
        if (request->body)
            for (size_t i = 0; i < body_count; i++)
                zmq_msg_init(&request->body[i]);
        else
            request->body = request->inline_body;
    }
    if (!request || (body_count > S_INLINE_BODY && request->body == request->inline_body)) {
        if (request)
            s_request_release(self, request);
        zmsg_destroy(&body);
        fn(s_error_msg(503, "unavailable", "broker out of memory", request_id), arg);
        return 0;
    }
    s_request_set_id(request, request_id);
    size_t i = 0;
    for (zframe_t *frame = zmsg_first(body); frame; frame = zmsg_next(body), i++) {
        zmq_msg_init_size(&request->body[i], zframe_size(frame));
        memcpy(zmq_msg_data(&request->body[i]), zframe_data(frame), zframe_size(frame));
    }
    request->body_count = body_count;
    s_limits_take(self, request, NULL, zmsg_content_size(body));
    zmsg_destroy(&body);
    uint8_t address[1 + sizeof(uint64_t)] = {0xff};
    self->local_serial++;
    memcpy(address + 1, &self->local_serial, sizeof self->local_serial);
    zmq_msg_close(&request->client);
    zmq_msg_init_size(&request->client, sizeof address);
    memcpy(zmq_msg_data(&request->client), address, sizeof address);
    request->local_fn = fn;
    request->local_arg = arg;
    request->service = service;
    request->deadline_ms = deadline_ms;
    request->deadline = zclock_mono() + deadline_ms;
    if (s_heap_push(self, request)) {
        s_request_fail(self, request, 503, "unavailable", "broker out of memory");
        return 0;
    }
    s_queue_append(service, request);
    s_dispatch(self, service);
    return 0;
}

void broker_fail_local(broker_t *self, unsigned code, const char *message) {
    for (size_t i = 0; i < self->heap_size;) {
        s_request_t *request = self->heap[i];
        if (request->local_fn)
            s_request_fail(self, request, code, "unavailable", message);  // leaves the heap
        else
            i++;
    }
}

//  --- Reading --------------------------------------------------------------------------

//  Read one whole message into self->frames without blocking. Returns the number of
//  frames (which may exceed CRM_MDP_FRAMES_MAX; the excess is discarded), 0 if nothing
//  is waiting.
static size_t s_recv_message(broker_t *self) {
    size_t count = 0;
    while (true) {
        zmq_msg_t *frame = count < CRM_MDP_FRAMES_MAX ? &self->frames[count] : &self->overflow;
        if (zmq_msg_recv(frame, self->router_handle, ZMQ_DONTWAIT) == -1) {
            if (count > 0 && zmq_errno() == EINTR)
                continue;
            //  Nothing waiting (EAGAIN) or the context is ending; a multipart message
            //  arrives whole, so count is 0 here in practice.
            return count;
        }
        count++;
        if (!zmq_msg_more(frame))
            return count;
    }
}

//  Release whatever the frames of the last message still hold.
static void s_frames_reset(broker_t *self, size_t count) {
    if (count > CRM_MDP_FRAMES_MAX)
        count = CRM_MDP_FRAMES_MAX;
    for (size_t i = 0; i < count; i++) {
        zmq_msg_close(&self->frames[i]);
        zmq_msg_init(&self->frames[i]);
    }
    zmq_msg_close(&self->overflow);
    zmq_msg_init(&self->overflow);
}

static void s_handle_message(broker_t *self, size_t count, int64_t now) {
    size_t viewed = count < CRM_MDP_FRAMES_MAX ? count : CRM_MDP_FRAMES_MAX;
    for (size_t i = 0; i < viewed; i++)
        self->views[i] =
            (crm_mdp_frame_t){zmq_msg_data(&self->frames[i]), zmq_msg_size(&self->frames[i])};
    crm_mdp_layout_t layout;
    const char *reason = NULL;
    if (crm_mdp_layout_router(self->views, count, self->max_frame_bytes, &layout, &reason)) {
        s_limits_malformed(self, &self->frames[count > 1 ? 1 : 0], reason, zclock_mono());
        return;
    }
    if (layout.peer == CRM_MDP_CLIENT)
        s_client_request(self, &layout, count, now);
    else
        s_worker_message(self, &layout, count, now);
}

static void s_router_drain(void *arg) {
    broker_t *self = arg;
    int handled = 0;
    for (; handled < S_BATCH_MAX; handled++) {
        size_t count = s_recv_message(self);
        if (count == 0)
            break;
        s_handle_message(self, count, zclock_mono());
        s_frames_reset(self, count);
    }
    if (handled == S_BATCH_MAX) // more may wait, and the descriptor will not say so
        s_router_recheck(self);
}

//  After a send (which may empty the mailbox ZMQ_FD signals on), or a read cut short.
static void s_router_recheck(broker_t *self) {
    crm_zwatch_recheck(&self->router_watch);
}

//  --- Timer ----------------------------------------------------------------------------

//  Answer requests whose deadline passed, then (every heartbeat) purge silent workers
//  and heartbeat the rest.
static int s_tick(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    broker_t *self = arg;
    int64_t now = zclock_mono();
    char message[CRM_MDP_SERVICE_MAX + 96];

    while (self->heap_size > 0 && self->heap[0]->deadline <= now) {
        s_request_t *request = self->heap[0];
        s_service_t *service = request->service;
        if (request->worker) {
            snprintf(message, sizeof(message), "service %s did not reply within %u ms",
                     service->name, (unsigned)request->deadline_ms);
            s_request_fail(self, request, 504, "timeout", message);
        } else if (service->known) {
            snprintf(message, sizeof(message), "no worker of service %s was free within %u ms",
                     service->name, (unsigned)request->deadline_ms);
            s_request_fail(self, request, 503, "unavailable", message);
        } else {
            snprintf(message, sizeof(message), "no worker of service %s registered within %u ms",
                     service->name, (unsigned)request->deadline_ms);
            s_request_fail(self, request, 404, "unknown_service", message);
            if (!service->queue_head)
                s_service_destroy(self, service);
        }
    }

    if (now >= self->heartbeat_at) {
        s_worker_t *worker = self->all_workers;
        while (worker) {
            s_worker_t *next = worker->next;
            if (now > worker->expiry)
                s_worker_purge(self, worker, "heartbeat expired", true);
            else if (s_send_command(self, &worker->identity, CRM_MDPW_HEARTBEAT) &&
                     zmq_errno() == EHOSTUNREACH)
                s_worker_purge(self, worker, "unreachable", false);
            worker = next;
        }
        self->heartbeat_at = now + self->heartbeat_ms;
    }
    return 0;
}

//  --- Class ----------------------------------------------------------------------------

broker_t *broker_new(const crm_config_t *cfg) {
    assert(cfg);
    broker_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->heartbeat_ms = cfg->broker_heartbeat_ms > 0 ? cfg->broker_heartbeat_ms : 2500;
    self->liveness = cfg->broker_liveness > 0 ? cfg->broker_liveness : 3;
    self->default_deadline_ms =
        cfg->broker_default_deadline_ms > 0 ? cfg->broker_default_deadline_ms : 5000;
    self->max_frame_bytes =
        cfg->broker_max_frame_bytes > 0 ? (size_t)cfg->broker_max_frame_bytes : 0;
    self->max_deadline_ms =
        cfg->broker_max_deadline_ms > 0 ? (uint32_t)cfg->broker_max_deadline_ms : 60000;
    self->max_client_queue =
        cfg->broker_max_client_queue > 0 ? (size_t)cfg->broker_max_client_queue : 256;
    self->max_queued_bytes =
        cfg->broker_max_queued_bytes > 0 ? (size_t)cfg->broker_max_queued_bytes : 64u << 20;
    self->allocator = (ProtobufCAllocator){s_arena_alloc, s_arena_free, self};
    for (size_t i = 0; i < CRM_MDP_FRAMES_MAX; i++)
        zmq_msg_init(&self->frames[i]);
    zmq_msg_init(&self->overflow);
    pthread_mutex_init(&self->lock, NULL);

    self->services = zhashx_new();
    self->workers = zhashx_new();
    self->snapshot = zhashx_new();
    self->clients = zhashx_new();
    self->malformed_peers = zhashx_new();
    self->router = zsock_new(ZMQ_ROUTER);
    self->monitor = zsock_new(ZMQ_PAIR);
    if (!self->services || !self->workers || !self->snapshot || !self->clients ||
        !self->malformed_peers || !self->router || !self->monitor) {
        crm_error("could not create broker");
        broker_destroy(&self);
        return NULL;
    }
    zhashx_set_key_duplicator(self->services, NULL);
    zhashx_set_key_destructor(self->services, NULL);
    zhashx_set_key_duplicator(self->workers, NULL);
    zhashx_set_key_destructor(self->workers, NULL);
    zhashx_set_key_hasher(self->workers, s_identity_hash);
    zhashx_set_key_comparator(self->workers, s_identity_compare);
    zhashx_set_destructor(self->snapshot, s_snapshot_entry_destroy);
    zhashx_set_key_duplicator(self->clients, NULL);
    zhashx_set_key_destructor(self->clients, NULL);
    zhashx_set_key_hasher(self->clients, s_identity_hash);
    zhashx_set_key_comparator(self->clients, s_identity_compare);
    zhashx_set_destructor(self->clients, s_snapshot_entry_destroy);
    zhashx_set_destructor(self->malformed_peers, s_snapshot_entry_destroy);

    self->router_handle = zsock_resolve(self->router);
    zsock_set_linger(self->router, 0);
    zsock_set_router_mandatory(self->router, 1);
    zsock_set_linger(self->monitor, 0);
    //  CurveZMQ when the process has a key pair (security.insecure false): the ZAP
    //  handler admits known keys, and each message's key rights are checked (s_peer_*).
    self->secure = crm_curve_enabled();
    crm_curve_server(self->router);

    //  Monitor first, so no connection is accepted unseen.
    char monitor_endpoint[64];
    snprintf(monitor_endpoint, sizeof(monitor_endpoint), "inproc://crm-broker-monitor-%u",
             atomic_fetch_add(&s_monitor_serial, 1));
    if (zmq_socket_monitor(self->router_handle, monitor_endpoint,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) ||
        zsock_connect(self->monitor, "%s", monitor_endpoint)) {
        crm_log_kv(CRM_LOG_ERROR, "could not monitor broker socket", "detail",
                   zmq_strerror(zmq_errno()), NULL);
        broker_destroy(&self);
        return NULL;
    }
    const char *endpoint = cfg->broker_endpoint ? cfg->broker_endpoint : "tcp://127.0.0.1:5555";
    if (zsock_bind(self->router, "%s", endpoint) == -1) {
        crm_log_kv(CRM_LOG_ERROR, "could not bind broker", "endpoint", endpoint, "detail",
                   zmq_strerror(zmq_errno()), "hint",
                   "is another gateway running? set broker.endpoint", NULL);
        broker_destroy(&self);
        return NULL;
    }
    self->endpoint = zsock_last_endpoint(self->router);
    //  Daemons and tools on this host may connect here instead (an ipc:// path spares
    //  each message the TCP stack on both sides).
    const char *local = cfg->broker_local_endpoint;
    if (local && *local && zsock_bind(self->router, "%s", local) == -1) {
        crm_log_kv(CRM_LOG_ERROR, "could not bind broker", "endpoint", local, "detail",
                   zmq_strerror(zmq_errno()), "hint",
                   "broker.local_endpoint must be an endpoint this host can bind (ipc://PATH)",
                   NULL);
        broker_destroy(&self);
        return NULL;
    }
    crm_log_kv(CRM_LOG_INFO, "broker listening", "endpoint",
               self->endpoint ? self->endpoint : endpoint, "local", local ? local : "", NULL);
    return self;
}

void broker_destroy(broker_t **self_p) {
    assert(self_p);
    broker_t *self = *self_p;
    if (!self)
        return;
    //  Requests: in the heap until answered, so this reaches every one.
    for (size_t i = 0; i < self->heap_size; i++) {
        s_request_t *request = self->heap[i];
        request->heap_index = S_HEAP_NONE;
        s_request_clear_body(request);
        if (request->request_id != request->request_id_inline)
            free(request->request_id);
        s_request_free(request);
    }
    free(self->heap);
    while (self->free_requests) {
        s_request_t *request = self->free_requests;
        self->free_requests = request->next;
        s_request_free(request);
    }
    while (self->all_workers) {
        s_worker_t *worker = self->all_workers;
        self->all_workers = worker->next;
        free(worker);
    }
    zhashx_destroy(&self->workers);
    if (self->services) {
        for (s_service_t *service = zhashx_first(self->services); service;
             service = zhashx_next(self->services)) {
            free(service->name);
            free(service);
        }
        zhashx_destroy(&self->services);
    }
    zhashx_destroy(&self->snapshot);
    zhashx_destroy(&self->clients);
    zhashx_destroy(&self->malformed_peers);
    free(self->fds);
    if (self->router_handle) {
        zmq_socket_monitor(self->router_handle, NULL, 0);
        if (self->endpoint)
            zmq_unbind(self->router_handle, self->endpoint);
    }
    zsock_destroy(&self->monitor);
    zsock_destroy(&self->router);
    for (size_t i = 0; i < CRM_MDP_FRAMES_MAX; i++)
        zmq_msg_close(&self->frames[i]);
    zmq_msg_close(&self->overflow);
    pthread_mutex_destroy(&self->lock);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

int broker_attach(broker_t *self, zloop_t *loop) {
    assert(self);
    assert(loop);
    self->heartbeat_at = zclock_mono() + self->heartbeat_ms;
    //  Both sockets are watched through their descriptors (zwatch.h), which also
    //  reads what arrived before now.
    if (crm_zwatch_start(&self->router_watch, loop, self->router, s_router_drain, self) ||
        crm_zwatch_start(&self->monitor_watch, loop, self->monitor, s_on_monitor, self) ||
        zloop_timer(loop, S_TICK_MS, 0, s_tick, self) == -1)
        return -1;
    return 0;
}

void broker_each_service(broker_t *self, void (*fn)(const char *service, int workers, void *arg),
                         void *arg) {
    assert(self);
    assert(fn);
    pthread_mutex_lock(&self->lock);
    for (s_snapshot_t *entry = zhashx_first(self->snapshot); entry;
         entry = zhashx_next(self->snapshot))
        fn((const char *)zhashx_cursor(self->snapshot), entry->workers, arg);
    pthread_mutex_unlock(&self->lock);
}

int broker_service_workers(broker_t *self, const char *service) {
    assert(self);
    assert(service);
    pthread_mutex_lock(&self->lock);
    s_snapshot_t *entry = zhashx_lookup(self->snapshot, service);
    int workers = entry ? entry->workers : 0;
    pthread_mutex_unlock(&self->lock);
    return workers;
}

const char *broker_endpoint(broker_t *self) {
    assert(self);
    return self->endpoint;
}
