/*  subscriber: the inbox, batched applies and catching up by replay. See subscriber.h. */
#include "subscriber.h"
#include "curve.h"
#include "bus_client.h"
#include "events.pb-c.h"
#include "log.h"
#include "replay.h"
#include "zwatch.h"

#include <inttypes.h>
#include <string.h>

#define S_SOURCES_MAX 16
#define S_BURST_MAX 10000       // messages read per wake-up before applying and yielding
#define S_RETRY_MS 1000         // after a failed apply or replay, wait this long ...
#define S_RETRY_MAX_MS 30000    // ... doubling with each failure in a row, up to this
#define S_PROBE_MS 250          // after a failure, first ask the broker if the source is up
#define S_FLUSH_DELAY_MS 5     // gather events this long before applying them

typedef struct {
    char name[64];
    char prefix[66];            // "<name>." : the topics followed
    uint64_t last_seq;          // applied and committed
    uint64_t head_seq;          // the highest seq the source announced or sent
    uint64_t wire_seq;          // the last seq received on the SUB socket
    Crm__Event **pending;       // received in order, not applied yet
    size_t n_pending, cap;
    int64_t retry_at;           // no replay before this (after a failure)
    int failures;               // replays or applies failed in a row
    bool stale;                 // behind: catch up by replay when allowed
} s_source_t;

struct _crm_subscriber_t {
    char *consumer;
    crm_db_t *db;
    char *endpoint;
    char *broker;
    zsock_t *sub;
    crm_bus_client_t *client;
    zloop_t *loop;
    crm_zwatch_t watch; // the SUB socket, through its ZMQ_FD
    int tick_timer;
    s_source_t *calling; // the source a replay (or probe) call is out for
    int flush_timer;    // pending events are applied when it fires
    s_source_t sources[S_SOURCES_MAX];
    int n_sources;
    crm_apply_fn *apply;
    void *apply_arg;
    crm_applied_fn *applied_fn;
    void *applied_arg;
    int apply_batch;
    int replay_limit;
    int replay_timeout_ms;
    int rcvhwm;
    uint64_t applied;
    uint64_t replays;
    uint64_t gaps;
    crm_stmt_t advance;
    crm_stmt_t load;
    crm_stmt_t lock;
};

crm_subscriber_t *crm_subscriber_new(const crm_config_t *cfg, const char *consumer,
                                     crm_db_t *db) {
    crm_subscriber_t *self = calloc(1, sizeof *self);
    assert(self);
    self->consumer = strdup(consumer);
    self->db = db;
    self->endpoint = strdup(cfg->events_subscribe_endpoint);
    self->broker = strdup(crm_config_broker(cfg));
    self->apply_batch = cfg->events_apply_batch;
    self->replay_limit = cfg->events_replay_limit;
    self->replay_timeout_ms = cfg->events_replay_timeout_ms;
    self->rcvhwm = cfg->events_xpub_hwm;
    self->tick_timer = -1;
    self->flush_timer = -1;
    crm_stmt_init(&self->advance, consumer, "inbox_advance", 2, true,
               "INSERT INTO %1$s.inbox (source, last_seq) VALUES ($1, $2::bigint)"
               " ON CONFLICT (source) DO UPDATE SET last_seq = excluded.last_seq,"
               " updated_at = now()");
    //  The row is made on first sight, so that inbox_lock always has a row to lock.
    crm_stmt_init(&self->load, consumer, "inbox_load", 1, true,
               "WITH ins AS (INSERT INTO %1$s.inbox (source, last_seq) VALUES ($1, 0)"
               "  ON CONFLICT (source) DO NOTHING RETURNING last_seq)"
               " SELECT last_seq FROM ins UNION ALL"
               " SELECT last_seq FROM %1$s.inbox WHERE source = $1");
    crm_stmt_init(&self->lock, consumer, "inbox_lock", 1, false,
               "SELECT last_seq FROM %1$s.inbox WHERE source = $1 FOR UPDATE");
    return self;
}

static void s_pending_clear(s_source_t *source) {
    for (size_t i = 0; i < source->n_pending; i++)
        crm__event__free_unpacked(source->pending[i], NULL);
    source->n_pending = 0;
}

void crm_subscriber_destroy(crm_subscriber_t **self_p) {
    assert(self_p);
    crm_subscriber_t *self = *self_p;
    if (!self)
        return;
    crm_zwatch_stop(&self->watch);
    if (self->loop && self->tick_timer != -1)
        zloop_timer_end(self->loop, self->tick_timer);
    if (self->loop && self->flush_timer != -1)
        zloop_timer_end(self->loop, self->flush_timer);
    for (int i = 0; i < self->n_sources; i++) {
        s_pending_clear(&self->sources[i]);
        free(self->sources[i].pending);
    }
    zsock_destroy(&self->sub);
    crm_bus_client_destroy(&self->client);
    crm_stmt_clear(&self->advance);
    crm_stmt_clear(&self->load);
    crm_stmt_clear(&self->lock);
    free(self->consumer);
    free(self->endpoint);
    free(self->broker);
    free(self);
    *self_p = NULL;
}

int crm_subscriber_follow(crm_subscriber_t *self, const char *source) {
    if (self->n_sources == S_SOURCES_MAX || strlen(source) >= sizeof self->sources[0].name)
        return -1;
    s_source_t *s = &self->sources[self->n_sources++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", source);
    snprintf(s->prefix, sizeof s->prefix, "%s.", source);
    return 0;
}

void crm_subscriber_on_apply(crm_subscriber_t *self, crm_apply_fn *fn, void *arg) {
    self->apply = fn;
    self->apply_arg = arg;
}

void crm_subscriber_on_applied(crm_subscriber_t *self, crm_applied_fn *fn, void *arg) {
    self->applied_fn = fn;
    self->applied_arg = arg;
}

static s_source_t *s_source_find(crm_subscriber_t *self, const char *name, size_t len) {
    for (int i = 0; i < self->n_sources; i++)
        if (strlen(self->sources[i].name) == len && memcmp(self->sources[i].name, name, len) == 0)
            return &self->sources[i];
    return NULL;
}

//  Read a source's last applied seq from the inbox. -1 when the database failed.
static int s_source_load(crm_subscriber_t *self, s_source_t *source) {
    const char *params[] = {source->name};
    PGresult *res = crm_db_query(self->db, &self->load, params);
    if (!res)
        return -1;
    source->last_seq = PQntuples(res) ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return 0;
}

//  Apply events[0..n) (consecutive, the first last_seq + 1) and advance the inbox in
//  one transaction. Returns 0, or -1 (rolled back: the inbox is read again, as
//  another process of the consumer may have applied them).
static int s_apply(crm_subscriber_t *self, s_source_t *source, Crm__Event **events, size_t n) {
    if (n == 0)
        return 0;
    if (!crm_db_ok(self->db) && crm_db_connect(self->db, 0) != 0)
        return -1;
    if (crm_db_begin(self->db) != 0)
        return -1;
    //  Lock our inbox row first: two processes of one consumer take turns, and the
    //  second sees what the first applied.
    uint64_t last = 0;
    {
        const char *params[] = {source->name};
        PGresult *res = crm_db_query(self->db, &self->lock, params);
        if (!res) {
            crm_db_rollback(self->db);
            return -1;
        }
        last = PQntuples(res) ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
        PQclear(res);
    }
    //  Skip what is applied already; a hole means our view is stale: start over.
    size_t skip = 0;
    while (skip < n && events[skip]->seq <= last)
        skip++;
    if (skip == n || events[skip]->seq != last + 1) {
        crm_db_rollback(self->db);
        source->last_seq = last;
        return skip == n ? 0 : -1;
    }
    if (self->apply &&
        self->apply(self->db, source->name, events + skip, n - skip, self->apply_arg) != 0) {
        crm_db_rollback(self->db);
        return -1;
    }
    char seq_text[24];
    snprintf(seq_text, sizeof seq_text, "%" PRIu64, events[n - 1]->seq);
    const char *params[] = {source->name, seq_text};
    PGresult *res = crm_db_query(self->db, &self->advance, params);
    if (!res || crm_db_commit(self->db) != 0) {
        PQclear(res);
        crm_db_rollback(self->db);
        return -1;
    }
    PQclear(res);
    source->last_seq = events[n - 1]->seq;
    self->applied += n - skip;
    if (self->applied_fn)
        self->applied_fn(self->applied_arg);
    return 0;
}

//  A replay or an apply failed: stay stale and try again later, backing off while the
//  failures go on.
static void s_retry_later(s_source_t *source) {
    source->stale = true;
    int64_t delay = S_RETRY_MS;
    for (int i = 0; i < source->failures && delay < S_RETRY_MAX_MS; i++)
        delay *= 2;
    if (delay > S_RETRY_MAX_MS)
        delay = S_RETRY_MAX_MS;
    source->failures++;
    source->retry_at = zclock_mono() + delay;
}

//  Apply what is pending for source, in batches. On failure the pending events are
//  dropped and the source is marked stale: a replay fetches them again later.
static void s_flush(crm_subscriber_t *self, s_source_t *source) {
    size_t done = 0;
    while (done < source->n_pending) {
        size_t n = source->n_pending - done;
        if (n > (size_t)self->apply_batch)
            n = self->apply_batch;
        if (s_apply(self, source, source->pending + done, n) != 0) {
            crm_log_kv(CRM_LOG_WARN, "could not apply events; will replay them", "consumer",
                       self->consumer, "source", source->name, NULL);
            s_retry_later(source);
            break;
        }
        done += n;
    }
    s_pending_clear(source);
}

//  --- Catching up ---------------------------------------------------------------------
//
//  A source left behind is caught up through Events.Replay calls, one page per call,
//  made asynchronously: the loop serves the daemon's requests and heartbeats while a
//  call waits, however long the source takes to answer (up to events.replay_timeout_ms).
//  The subscriber makes one call at a time; when it ends, the next source behind goes.

static void s_catch_up(crm_subscriber_t *self, s_source_t *source);
static void s_catch_up_stale(crm_subscriber_t *self);

//  The request body of a replay from from_seq.
static zmsg_t *s_replay_request(crm_subscriber_t *self, uint64_t from_seq) {
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = "Events.Replay";
    header.tenant_id = "*";
    header.actor_id = self->consumer;
    header.role = "system";
    Crm__Events__ReplayRequest req = CRM__EVENTS__REPLAY_REQUEST__INIT;
    req.from_seq = from_seq;
    req.limit = self->replay_limit;
    return crm_bus_request_new(&header, &req.base);
}

//  A replay's answer (taken) as a page of events (caller frees), or NULL (logged).
static Crm__Events__ReplayResponse *s_replay_page(crm_subscriber_t *self, s_source_t *source,
                                                  zmsg_t *reply) {
    if (!reply) {
        crm_log_kv(CRM_LOG_WARN, "replay call got no answer", "consumer", self->consumer,
                   "source", source->name, NULL);
        return NULL;
    }
    ProtobufCMessage *page = NULL;
    Crm__ReplyHeader *rh =
        crm_bus_reply_parse(&reply, &crm__events__replay_response__descriptor, &page);
    if (!page)
        crm_log_kv(CRM_LOG_ERROR, "replay refused", "consumer", self->consumer, "source",
                   source->name, "error", rh ? rh->error : "malformed reply", "detail",
                   rh ? rh->message : "", NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return (Crm__Events__ReplayResponse *)page;
}

//  The call went wrong: this source waits (backing off), the others may go.
static void s_call_failed(crm_subscriber_t *self, s_source_t *source) {
    s_retry_later(source);
    s_catch_up_stale(self);
}

static void s_replay_send(crm_subscriber_t *self, s_source_t *source, uint64_t from_seq);

//  A page came back: apply it in order (stopping at anything out of line, none
//  expected), then go on, or stop when nothing older than the head is missing. When the
//  page is not the last, the next is asked for first, so that the source reads it while
//  this one is applied.
static void s_on_replayed(zmsg_t *reply, void *arg) {
    crm_subscriber_t *self = arg;
    s_source_t *source = self->calling;
    self->calling = NULL;
    Crm__Events__ReplayResponse *page = s_replay_page(self, source, reply);
    if (!page) {
        s_call_failed(self, source);
        return;
    }
    if (zclock_mono() < source->retry_at) {
        //  Asked for ahead of a page whose apply then failed: not wanted now.
        crm__events__replay_response__free_unpacked(page, NULL);
        s_catch_up_stale(self);
        return;
    }
    if (page->head_seq > source->head_seq)
        source->head_seq = page->head_seq;
    uint64_t *seqs = malloc((page->n_events ? page->n_events : 1) * sizeof *seqs);
    assert(seqs);
    for (size_t i = 0; i < page->n_events; i++)
        seqs[i] = page->events[i]->seq;
    crm_replay_page_t check =
        crm_replay_page_check(source->last_seq, seqs, page->n_events, page->head_seq);
    free(seqs);
    if (check.more)
        s_replay_send(self, source, page->events[check.usable - 1]->seq + 1);
    uint64_t before = source->last_seq;
    int rc = 0;
    for (size_t done = 0; done < check.usable && rc == 0;) {
        size_t chunk = check.usable - done;
        if (chunk > (size_t)self->apply_batch)
            chunk = self->apply_batch;
        rc = s_apply(self, source, page->events + done, chunk);
        done += chunk;
    }
    crm__events__replay_response__free_unpacked(page, NULL);
    if (rc != 0) {
        s_retry_later(source);
        if (!self->calling) // else its answer, when it comes, goes on to the others
            s_catch_up_stale(self);
        return;
    }
    source->failures = 0;
    if (self->calling) // the next page is on its way
        return;
    //  Events that went by live while the call waited were dropped (the source was
    //  stale): if the head moved past the page, ask again at once, as long as pages
    //  bring something; a source that announces a head but gives nothing is asked
    //  again later.
    source->stale = source->last_seq < source->head_seq;
    if (source->stale && source->last_seq > before) {
        s_catch_up(self, source);
        return;
    }
    if (source->stale)
        source->retry_at = zclock_mono() + S_RETRY_MS;
    s_catch_up_stale(self);
}

static void s_replay_send(crm_subscriber_t *self, s_source_t *source, uint64_t from_seq) {
    zmsg_t *body = s_replay_request(self, from_seq);
    self->replays++;
    self->calling = source;
    if (crm_bus_client_send(self->client, self->loop, source->name, &body,
                            self->replay_timeout_ms, s_on_replayed, self) != 0) {
        self->calling = NULL;
        s_retry_later(source);
    }
}

//  The broker's answer to "has source a live worker?" (mmi.service).
static void s_on_probed(zmsg_t *reply, void *arg) {
    crm_subscriber_t *self = arg;
    s_source_t *source = self->calling;
    self->calling = NULL;
    char *answer = reply ? zmsg_popstr(reply) : NULL;
    bool up = answer && strcmp(answer, "200") == 0;
    zstr_free(&answer);
    zmsg_destroy(&reply);
    if (up)
        s_replay_send(self, source, source->last_seq + 1);
    else
        s_call_failed(self, source);
}

//  Catch up with source (stale): apply what is pending, then replay from the inbox.
//  After a failure, a quick question to the broker first: no replay call (which may
//  wait its whole timeout) while the source has no live worker.
static void s_catch_up(crm_subscriber_t *self, s_source_t *source) {
    if (self->calling || zclock_mono() < source->retry_at)
        return; // the call waiting goes on to the others when it ends
    s_flush(self, source);
    if (!self->client)
        self->client = crm_bus_client_new(self->broker);
    if (!self->client) {
        s_retry_later(source);
        return;
    }
    if (source->failures == 0) {
        s_replay_send(self, source, source->last_seq + 1);
        return;
    }
    zmsg_t *body = zmsg_new();
    zmsg_addstr(body, source->name);
    self->calling = source;
    if (crm_bus_client_send(self->client, self->loop, "mmi.service", &body, S_PROBE_MS,
                            s_on_probed, self) != 0) {
        self->calling = NULL;
        s_retry_later(source);
    }
}

//  One message from the SUB socket: topic, then an envelope (or a Head).
static void s_receive(crm_subscriber_t *self, zmsg_t *msg) {
    zframe_t *topic = zmsg_first(msg);
    zframe_t *body = zmsg_next(msg);
    if (!topic || !body || zmsg_size(msg) != 2)
        return;
    const char *t = (const char *)zframe_data(topic);
    size_t tlen = zframe_size(topic);
    const char *dot = memchr(t, '.', tlen);
    if (!dot)
        return;
    s_source_t *source = s_source_find(self, t, (size_t)(dot - t));
    if (!source)
        return;
    size_t rest = tlen - (size_t)(dot - t) - 1;
    if (rest == 5 && memcmp(dot + 1, "_head", 5) == 0) {
        Crm__Events__Head *head =
            crm__events__head__unpack(NULL, zframe_size(body), zframe_data(body));
        if (head) {
            if (head->head_seq > source->head_seq)
                source->head_seq = head->head_seq;
            if (head->head_seq > source->last_seq + source->n_pending)
                source->stale = true;
            crm__events__head__free_unpacked(head, NULL);
        }
        return;
    }
    Crm__Event *event = crm__event__unpack(NULL, zframe_size(body), zframe_data(body));
    if (!event) {
        crm_log_kv(CRM_LOG_WARN, "malformed event dropped", "consumer", self->consumer, "source",
                   source->name, NULL);
        return;
    }
    if (event->seq > source->head_seq)
        source->head_seq = event->seq;
    if (source->wire_seq && event->seq > source->wire_seq + 1)
        self->gaps++; // some were lost on the way
    source->wire_seq = event->seq;
    if (source->stale) { // a replay will bring it, in order
        crm__event__free_unpacked(event, NULL);
        return;
    }
    switch (crm_seq_check(source->last_seq + source->n_pending, event->seq)) {
    case CRM_SEQ_DUPLICATE:
        crm__event__free_unpacked(event, NULL);
        break;
    case CRM_SEQ_GAP:
        crm__event__free_unpacked(event, NULL);
        source->stale = true;
        break;
    case CRM_SEQ_APPLY:
        if (source->n_pending == source->cap) {
            source->cap = source->cap ? source->cap * 2 : 256;
            source->pending = realloc(source->pending, source->cap * sizeof *source->pending);
            assert(source->pending);
        }
        source->pending[source->n_pending++] = event;
        if (source->n_pending >= (size_t)self->apply_batch)
            s_flush(self, source);
        break;
    }
}

//  Apply what is pending and catch up the sources left behind.
static void s_settle(crm_subscriber_t *self) {
    for (int i = 0; i < self->n_sources; i++) {
        s_source_t *source = &self->sources[i];
        s_flush(self, source);
        if (source->stale)
            s_catch_up(self, source);
    }
}

static int s_sub_on_flush(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    crm_subscriber_t *self = arg;
    self->flush_timer = -1;
    s_settle(self);
    return 0;
}

//  Read what has arrived. Events trickle in one by one as a relay publishes a claim:
//  rather than a transaction for each, wait S_FLUSH_DELAY_MS for the rest of them
//  (a full batch is applied at once, in s_receive).
static void s_pump(void *arg) {
    crm_subscriber_t *self = arg;
    for (int read = 0; read < S_BURST_MAX; read++) {
        zmsg_t *msg = zmsg_recv_nowait(self->sub);
        if (!msg)
            break;
        s_receive(self, msg);
        zmsg_destroy(&msg);
    }
    bool stale = false, pending = false;
    for (int i = 0; i < self->n_sources; i++) {
        stale = stale || self->sources[i].stale;
        pending = pending || self->sources[i].n_pending > 0;
    }
    if (stale)
        s_settle(self);
    else if (pending && self->flush_timer == -1)
        self->flush_timer = zloop_timer(self->loop, S_FLUSH_DELAY_MS, 1, s_sub_on_flush, self);
    crm_zwatch_recheck(&self->watch); // a burst cut short leaves messages waiting
}

//  Catch up the sources left behind: when a call ends, and every second (a failed
//  replay, a head announced ahead).
static void s_catch_up_stale(crm_subscriber_t *self) {
    for (int i = 0; i < self->n_sources && !self->calling; i++)
        if (self->sources[i].stale)
            s_catch_up(self, &self->sources[i]);
}

static int s_sub_on_tick(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    s_catch_up_stale(arg);
    return 0;
}

int crm_subscriber_attach(crm_subscriber_t *self, zloop_t *loop) {
    assert(self);
    self->loop = loop;
    self->sub = zsock_new(ZMQ_SUB);
    assert(self->sub);
    zsock_set_linger(self->sub, 0);
    zsock_set_rcvhwm(self->sub, self->rcvhwm); // past it, drop: replay fills the gap
    crm_curve_client(self->sub);
    for (int i = 0; i < self->n_sources; i++)
        zsock_set_subscribe(self->sub, self->sources[i].prefix);
    if (zsock_connect(self->sub, "%s", self->endpoint)) {
        crm_log_kv(CRM_LOG_ERROR, "could not connect the subscriber", "endpoint", self->endpoint,
                   NULL);
        return -1;
    }
    if (crm_zwatch_start(&self->watch, loop, self->sub, s_pump, self) != 0)
        return -1;
    self->tick_timer = zloop_timer(loop, 1000, 0, s_sub_on_tick, self);
    if (self->tick_timer == -1)
        return -1;
    //  Start from the inbox, then replay whatever was published while we were away.
    for (int i = 0; i < self->n_sources; i++) {
        s_source_t *source = &self->sources[i];
        if (s_source_load(self, source) != 0)
            source->retry_at = 0;
        source->stale = true;
        s_catch_up(self, source);
    }
    return 0;
}

uint64_t crm_subscriber_last_seq(crm_subscriber_t *self, const char *source) {
    s_source_t *s = s_source_find(self, source, strlen(source));
    return s ? s->last_seq : 0;
}

uint64_t crm_subscriber_applied(crm_subscriber_t *self) {
    return self->applied;
}

uint64_t crm_subscriber_replays(crm_subscriber_t *self) {
    return self->replays;
}

uint64_t crm_subscriber_gaps(crm_subscriber_t *self) {
    return self->gaps;
}
