/*  proxy: XSUB -> XPUB event forwarding with counters. See proxy.h.

    Both sockets are watched through their ZMQ_FD descriptors (zwatch.h), as the
    broker's are.

    With CurveZMQ (security.insecure false) both sockets are CURVE servers and every
    message carries its key's rights (the ZAP handler's metadata, zap.c): an event is
    passed on only from a worker key of the source its topic names, and the XPUB is in
    manual mode, so a subscription takes effect only when the key may have it (a key
    bound to one tenant subscribes only to "<source>.<its tenant>." and longer; topics
    are "<source>.<tenant>.<Type>", so the filter never reads a payload).

    A second XPUB (events.pii_free_endpoint, "clean" here) carries the same events with
    their payloads scrubbed (common/scrub.h: the definition erasure uses), for keys
    marked pii: false, which the first XPUB refuses. Its subscriptions go to the same
    XSUB (which counts them per prefix, so one side's unsubscription never cuts the
    other's events). An event is scrubbed (decoded, emptied, packed) only while the clean
    side has subscriptions, once for all of its subscribers.

    Counters are read by the HTTP thread for /metrics, hence atomics. */
#include "proxy.h"
#include "curve.h"
#include "log.h"
#include "peer.h"
#include "scrub.h"
#include "zwatch.h"

#include <stdatomic.h>
#include <string.h>

#define S_SOURCES_MAX 32 // distinct sources counted by name; more go to "other"
#define S_BURST_MAX 1000 // messages moved per wake-up before giving the loop a turn

typedef struct {
    char name[32];
    atomic_ullong events;
} s_source_t;

struct _proxy_t {
    zsock_t *xsub; // relays connect here
    zsock_t *xpub; // subscribers connect here
    zsock_t *clean; // the pii-free XPUB: keys marked pii: false connect here
    crm_zwatch_t xsub_watch, xpub_watch, clean_watch; // the sockets, through their ZMQ_FDs
    long clean_open; // subscriptions open on the clean side (the loop's own count)
    s_source_t sources[S_SOURCES_MAX];
    int n_sources;
    atomic_ullong other_events;
    atomic_ullong events;        // event messages forwarded
    atomic_ullong announcements; // head announcements forwarded
    atomic_ullong malformed;     // messages that were not topic + envelope
    atomic_llong subscriptions;  // subscriptions now open on the XPUB side
    atomic_llong clean_subscriptions; // ... on the clean side (clean_open, for /metrics)
    atomic_ullong scrubbed;      // events passed to the clean side, scrubbed
    atomic_ullong refused;       // events or subscriptions a key was not allowed
    bool secure;                 // CURVE: check each message's key (s_allowed)
    int64_t refusal_second;      // refusals logged: a few a second at most
    int refusals_logged;
};

proxy_t *proxy_new(const crm_config_t *cfg) {
    proxy_t *self = calloc(1, sizeof *self);
    assert(self);
    self->xsub = zsock_new(ZMQ_XSUB);
    self->xpub = zsock_new(ZMQ_XPUB);
    self->clean = zsock_new(ZMQ_XPUB);
    if (!self->xsub || !self->xpub || !self->clean)
        goto failed;
    self->secure = crm_curve_enabled();
    zsock_set_linger(self->xsub, 0);
    zsock_set_rcvhwm(self->xsub, cfg->events_xpub_hwm);
    crm_curve_server(self->xsub);
    zsock_t *xpubs[] = {self->xpub, self->clean};
    for (int i = 0; i < 2; i++) {
        zsock_set_linger(xpubs[i], 0);
        zsock_set_sndhwm(xpubs[i], cfg->events_xpub_hwm);
        if (cfg->events_xpub_sndbuf_bytes > 0)
            zsock_set_sndbuf(xpubs[i], cfg->events_xpub_sndbuf_bytes);
        crm_curve_server(xpubs[i]);
        if (self->secure)
            zsock_set_xpub_manual(xpubs[i], 1);
    }
    if (zsock_bind(self->xsub, "%s", cfg->events_publish_endpoint) == -1) {
        crm_log_kv(CRM_LOG_ERROR, "could not bind the event publish endpoint", "endpoint",
                   cfg->events_publish_endpoint, "detail", zmq_strerror(zmq_errno()), NULL);
        goto failed;
    }
    if (zsock_bind(self->xpub, "%s", cfg->events_subscribe_endpoint) == -1) {
        crm_log_kv(CRM_LOG_ERROR, "could not bind the event subscribe endpoint", "endpoint",
                   cfg->events_subscribe_endpoint, "detail", zmq_strerror(zmq_errno()), NULL);
        goto failed;
    }
    if (zsock_bind(self->clean, "%s", cfg->events_pii_free_endpoint) == -1) {
        crm_log_kv(CRM_LOG_ERROR, "could not bind the pii-free event endpoint", "endpoint",
                   cfg->events_pii_free_endpoint, "detail", zmq_strerror(zmq_errno()), NULL);
        goto failed;
    }
    return self;
failed:
    proxy_destroy(&self);
    return NULL;
}

void proxy_destroy(proxy_t **self_p) {
    assert(self_p);
    proxy_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy(&self->xsub);
    zsock_destroy(&self->xpub);
    zsock_destroy(&self->clean);
    free(self);
    *self_p = NULL;
}

//  Count one event under the source named by its topic ("contacts.ContactCreated").
//  Only the loop thread adds sources, and n_sources is published after the name.
static void s_count(proxy_t *self, const char *topic, size_t size) {
    const char *dot = memchr(topic, '.', size);
    size_t len = dot ? (size_t)(dot - topic) : size;
    if (dot && size - len - 1 == 5 && memcmp(dot + 1, "_head", 5) == 0) { // not an event
        atomic_fetch_add(&self->announcements, 1);
        return;
    }
    atomic_fetch_add(&self->events, 1);
    for (int i = 0; i < self->n_sources; i++)
        if (strlen(self->sources[i].name) == len && memcmp(self->sources[i].name, topic, len) == 0) {
            atomic_fetch_add(&self->sources[i].events, 1);
            return;
        }
    if (self->n_sources < S_SOURCES_MAX && len > 0 && len < sizeof self->sources[0].name) {
        s_source_t *source = &self->sources[self->n_sources];
        memcpy(source->name, topic, len);
        source->name[len] = 0;
        atomic_store(&source->events, 1);
        atomic_thread_fence(memory_order_release);
        self->n_sources++;
        return;
    }
    atomic_fetch_add(&self->other_events, 1);
}

//  Whether the key msg came over may publish it (events) or subscribe to it (an XPUB
//  subscription: 1 or 0, then the prefix; clean: on the pii-free side). A key marked
//  pii: false subscribes on the pii-free side only. An unsubscription is always let
//  through: libzmq sends those of a closed connection without a key. A refusal is
//  counted and logged (a few a second at most).
static bool s_allowed(proxy_t *self, zmq_msg_t *msg, bool event, bool clean) {
    if (!self->secure)
        return true;
    const byte *data = zmq_msg_data(msg);
    size_t size = zmq_msg_size(msg);
    if (!event && size > 0 && data[0] == 0)
        return true;
    const char *roles = zmq_msg_gets(msg, "roles");
    const char *pii = zmq_msg_gets(msg, "pii");
    bool pii_free = pii && strcmp(pii, "false") == 0;
    crm_peer_t peer;
    char problem[128];
    bool allowed = roles && crm_peer_parse(roles, &peer, problem, sizeof problem) == 0 &&
                   (event ? crm_peer_may_publish(&peer, data, size)
                          : size > 0 && (clean || !pii_free) &&
                                crm_peer_may_subscribe(&peer, data + 1, size - 1));
    if (allowed)
        return true;
    atomic_fetch_add(&self->refused, 1);
    int64_t second = zclock_mono() / 1000;
    if (second != self->refusal_second) {
        self->refusal_second = second;
        self->refusals_logged = 0;
    }
    if (self->refusals_logged++ < 5) {
        const char *user = zmq_msg_gets(msg, "User-Id");
        char topic[128];
        size_t skip = event ? 0 : 1;
        snprintf(topic, sizeof topic, "%.*s", (int)(size > skip ? size - skip : 0),
                 (const char *)data + skip);
        crm_log_kv(CRM_LOG_WARN,
                   event     ? "dropping an event its key may not publish"
                   : pii_free && !clean
                       ? "refusing a subscription: a pii: false key subscribes on "
                         "events.pii_free_endpoint only"
                       : "refusing a subscription its key may not have",
                   "topic", topic, "key", user ? user : "", NULL);
    }
    return false;
}

//  Drop the rest of a message whose first frame was refused.
static void s_skip_rest(zmq_msg_t *msg, void *in) {
    while (zmq_msg_more(msg)) {
        if (zmq_msg_recv(msg, in, 0) == -1)
            break;
    }
    zmq_msg_close(msg);
}

//  Send msg's bytes as a copy (the original stays msg's). 0 or -1.
static int s_send_copy(zmq_msg_t *msg, void *out, bool more) {
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    if (zmq_msg_copy(&copy, msg) == -1) {
        zmq_msg_close(&copy);
        return -1;
    }
    int rc = zmq_msg_send(&copy, out, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0));
    zmq_msg_close(&copy);
    return rc == -1 ? -1 : 0;
}

//  The event (topic and envelope) to the clean side, its payload scrubbed; a head
//  announcement as it is (a source and a seq). An envelope that does not decode is not
//  passed on.
static void s_send_clean(proxy_t *self, zmq_msg_t *topic, zmq_msg_t *envelope) {
    void *out = zsock_resolve(self->clean);
    const char *text = zmq_msg_data(topic);
    size_t size = zmq_msg_size(topic);
    if (size > 6 && memcmp(text + size - 6, "._head", 6) == 0) {
        if (s_send_copy(topic, out, true) == 0)
            s_send_copy(envelope, out, false);
        return;
    }
    size_t clean_size = 0;
    uint8_t *clean = crm_event_scrub_packed(zmq_msg_data(envelope), zmq_msg_size(envelope),
                                            &clean_size);
    if (!clean)
        return;
    if (s_send_copy(topic, out, true) == 0) {
        zmq_msg_t msg;
        zmq_msg_init_size(&msg, clean_size);
        memcpy(zmq_msg_data(&msg), clean, clean_size);
        zmq_msg_send(&msg, out, ZMQ_DONTWAIT);
        zmq_msg_close(&msg);
        atomic_fetch_add(&self->scrubbed, 1);
    }
    free(clean);
}

//  Move one event from the XSUB to both XPUBs (the clean one scrubbed, while it has
//  subscriptions). A message of other than two frames goes to the full side only, and
//  is counted as malformed. Returns false when none waits.
static bool s_move_event(proxy_t *self) {
    void *in = zsock_resolve(self->xsub), *out = zsock_resolve(self->xpub);
    zmq_msg_t topic, envelope;
    zmq_msg_init(&topic);
    if (zmq_msg_recv(&topic, in, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close(&topic);
        return false;
    }
    if (!s_allowed(self, &topic, true, false)) {
        s_skip_rest(&topic, in);
        return true;
    }
    s_count(self, zmq_msg_data(&topic), zmq_msg_size(&topic));
    if (!zmq_msg_more(&topic)) {
        atomic_fetch_add(&self->malformed, 1);
        zmq_msg_send(&topic, out, ZMQ_DONTWAIT);
        zmq_msg_close(&topic);
        return true;
    }
    zmq_msg_init(&envelope);
    if (zmq_msg_recv(&envelope, in, 0) == -1) {
        zmq_msg_close(&envelope);
        zmq_msg_close(&topic);
        return true;
    }
    bool whole = !zmq_msg_more(&envelope);
    if (whole && self->clean_open > 0)
        s_send_clean(self, &topic, &envelope);
    //  XPUB never blocks (it drops at the high-water mark).
    zmq_msg_send(&topic, out, ZMQ_DONTWAIT | ZMQ_SNDMORE);
    zmq_msg_close(&topic);
    if (!whole)
        atomic_fetch_add(&self->malformed, 1);
    while (true) {
        bool more = zmq_msg_more(&envelope);
        zmq_msg_send(&envelope, out, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0));
        zmq_msg_close(&envelope);
        if (!more)
            break;
        zmq_msg_init(&envelope);
        if (zmq_msg_recv(&envelope, in, 0) == -1) {
            zmq_msg_close(&envelope);
            break;
        }
    }
    return true;
}

//  Move one (un)subscription from an XPUB (clean: the pii-free one) to the XSUB.
//  Returns false when none waits.
static bool s_move_subscription(proxy_t *self, zsock_t *from, bool clean) {
    void *in = zsock_resolve(from), *out = zsock_resolve(self->xsub);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, in, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close(&msg);
        return false;
    }
    if (!s_allowed(self, &msg, false, clean)) {
        s_skip_rest(&msg, in);
        return true;
    }
    if (zmq_msg_size(&msg) > 0) {
        //  XPUB hands up subscriptions (1) and unsubscriptions (0) as the first byte.
        byte kind = *(byte *)zmq_msg_data(&msg);
        int change = kind == 1 ? 1 : kind == 0 ? -1 : 0;
        if (clean) {
            self->clean_open += change;
            if (self->clean_open < 0) // an unsubscription of what was never subscribed
                self->clean_open = 0;
            atomic_store(&self->clean_subscriptions, self->clean_open);
        } else
            atomic_fetch_add(&self->subscriptions, change);
        //  Manual mode: the subscription counts for its connection only once allowed.
        if (self->secure && (kind == 0 || kind == 1))
            zmq_setsockopt(in, kind == 1 ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE,
                           (byte *)zmq_msg_data(&msg) + 1, zmq_msg_size(&msg) - 1);
    }
    while (true) {
        bool more = zmq_msg_more(&msg);
        zmq_msg_send(&msg, out, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0));
        zmq_msg_close(&msg);
        if (!more)
            break;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, in, 0) == -1) {
            zmq_msg_close(&msg);
            break;
        }
    }
    return true;
}

//  Move what waits on either socket; both watchers share it. A burst cut short, and
//  the sends (which may empty the mailboxes ZMQ_FD signals on), mean looking again.
static void s_pump(void *arg) {
    proxy_t *self = arg;
    int moved = 0;
    while (moved < S_BURST_MAX && s_move_event(self))
        moved++;
    while (s_move_subscription(self, self->xpub, false))
        ;
    while (s_move_subscription(self, self->clean, true))
        ;
    crm_zwatch_recheck(&self->xsub_watch);
    crm_zwatch_recheck(&self->xpub_watch);
    crm_zwatch_recheck(&self->clean_watch);
}

int proxy_attach(proxy_t *self, zloop_t *loop) {
    assert(self);
    if (crm_zwatch_start(&self->xsub_watch, loop, self->xsub, s_pump, self) ||
        crm_zwatch_start(&self->xpub_watch, loop, self->xpub, s_pump, self) ||
        crm_zwatch_start(&self->clean_watch, loop, self->clean, s_pump, self))
        return -1;
    return 0;
}

void proxy_render_metrics(proxy_t *self, zchunk_t *out) {
    char line[256];
    int len;
#define EMIT(...)                                       \
    do {                                                \
        len = snprintf(line, sizeof line, __VA_ARGS__); \
        zchunk_extend(out, line, len);                  \
    } while (0)
    EMIT("# HELP crm_events_forwarded_total Events passed from relays to subscribers, by source.\n"
         "# TYPE crm_events_forwarded_total counter\n");
    int n = self->n_sources;
    atomic_thread_fence(memory_order_acquire);
    for (int i = 0; i < n; i++)
        EMIT("crm_events_forwarded_total{source=\"%s\"} %llu\n", self->sources[i].name,
             (unsigned long long)atomic_load(&self->sources[i].events));
    unsigned long long other = atomic_load(&self->other_events);
    if (other)
        EMIT("crm_events_forwarded_total{source=\"other\"} %llu\n", other);
    EMIT("# HELP crm_events_heads_total Head announcements passed on (one a second per relay).\n"
         "# TYPE crm_events_heads_total counter\n"
         "crm_events_heads_total %llu\n",
         (unsigned long long)atomic_load(&self->announcements));
    EMIT("# HELP crm_events_malformed_total Messages on the publish endpoint that were not"
         " a topic and an envelope.\n"
         "# TYPE crm_events_malformed_total counter\n"
         "crm_events_malformed_total %llu\n",
         (unsigned long long)atomic_load(&self->malformed));
    EMIT("# HELP crm_events_subscriptions Distinct topic prefixes subscribed on the subscribe"
         " endpoint.\n"
         "# TYPE crm_events_subscriptions gauge\n"
         "crm_events_subscriptions %lld\n",
         (long long)atomic_load(&self->subscriptions));
    EMIT("# HELP crm_events_pii_free_subscriptions Subscriptions open on the pii-free"
         " endpoint (events.pii_free_endpoint).\n"
         "# TYPE crm_events_pii_free_subscriptions gauge\n"
         "crm_events_pii_free_subscriptions %lld\n",
         (long long)atomic_load(&self->clean_subscriptions));
    EMIT("# HELP crm_events_scrubbed_total Events passed to the pii-free endpoint with their"
         " personal fields scrubbed.\n"
         "# TYPE crm_events_scrubbed_total counter\n"
         "crm_events_scrubbed_total %llu\n",
         (unsigned long long)atomic_load(&self->scrubbed));
    EMIT("# HELP crm_events_refused_total Events and subscriptions refused because their"
         " key may not have them.\n"
         "# TYPE crm_events_refused_total counter\n"
         "crm_events_refused_total %llu\n",
         (unsigned long long)atomic_load(&self->refused));
#undef EMIT
}
