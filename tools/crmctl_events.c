/*  crmctl events tail: the suite's events as JSON lines on stdout.

    Live: a SUB socket on the gateway's XPUB (events.subscribe_endpoint) subscribed to
    the --topic prefix prints what arrives. That is at most once: what was published
    before the subscription reached the gateway, or dropped while this process lagged
    past events.xpub_hwm, is not printed.

    With --from SEQ the topic names one source, and the output is every event of that
    source from SEQ on, once each, in seq order:
    1. subscribe first, so what is published from now on waits in the socket's queue;
    2. replay the history from SEQ with the source's "Events.Replay" method over the
       broker, page after page until the answer's head_seq is reached;
    3. read the queue and the live stream, dropping what is at or below the last seq
       printed; a seq beyond the next one, or a "<source>._head" announcement ahead of
       the last printed, means events were lost on the way: replay again from there.
    The subscription may reach the gateway after the replay has read the outbox; events
    published in between are found by step 3 (the next event or head announcement).

    Output line (proto3 JSON mapping, like the HTTP API: 64-bit numbers are strings):
        {"source":"contacts","seq":"7","type":"ContactCreated","tenantId":"acme",
         "aggregateId":"...","occurredAt":"...","eventId":"...","payload":{...}}
*/
#include "crmctl.h"
#include "curve.h"
#include "outbox.h"
#include "json_pb.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define S_POLL_MS 250     // the loop looks up from the socket this often (retries, Ctrl-C)
#define S_RETRY_MS 1000   // after a replay that got no answer, try again after this
#define S_BURST_MAX 10000 // messages read per wake-up
#define S_MMI_TIMEOUT_MS 5000

typedef enum { S_GO_ON, S_DONE, S_FAILED } s_status_t;

typedef struct {
    const crm_config_t *cfg;
    char topic[256];   // the subscription prefix ("": every topic)
    char source[128];  // with --from: the source followed without gaps; else ""
    uint64_t last_seq; // with --from: the last seq printed
    uint64_t head_seq; // with --from: the highest seq the source announced
    bool behind;       // with --from: events are missing; replay at retry_at
    int64_t retry_at;
    long long count; // stop after this many events (0: never)
    long long printed;
    zsock_t *sub;
    crm_bus_client_t *client; // to the broker, for replays
} s_tail_t;

//  --- Output ----------------------------------------------------------------------------

//  The envelope's members in the order they are printed.
static const char *const s_envelope_order[] = {"source",      "seq",        "type",   "tenantId",
                                               "aggregateId", "occurredAt", "eventId"};

//  One event as JSON: the envelope's fields, then the payload decoded by its type. A
//  type not in the catalogue (a newer producer) or bytes that do not parse leave the
//  payload as base64, the JSON form of bytes.
static json_t *s_event_json(const Crm__Event *event) {
    json_t *envelope = crm_pb_to_json_value(&event->base);
    json_t *out = json_object();
    if (!envelope || !out) {
        json_decref(envelope);
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < sizeof s_envelope_order / sizeof s_envelope_order[0]; i++) {
        json_t *value = json_object_get(envelope, s_envelope_order[i]);
        if (value)
            json_object_set(out, s_envelope_order[i], value);
    }
    json_t *payload = NULL;
    const ProtobufCMessageDescriptor *desc = crm_event_descriptor(event->type);
    if (desc) {
        ProtobufCMessage *msg =
            protobuf_c_message_unpack(desc, NULL, event->payload.len, event->payload.data);
        if (msg) {
            payload = crm_pb_to_json_value(msg);
            protobuf_c_message_free_unpacked(msg, NULL);
        }
    }
    if (!payload)
        payload = json_incref(json_object_get(envelope, "payload"));
    if (payload)
        json_object_set_new(out, "payload", payload);
    json_decref(envelope);
    return out;
}

//  Print one event as a line. S_DONE once --count is reached or stdout is closed.
static s_status_t s_print(s_tail_t *self, const Crm__Event *event) {
    json_t *json = s_event_json(event);
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (!text) {
        fprintf(stderr, "crmctl: out of memory\n");
        return S_FAILED;
    }
    int rc = printf("%s\n", text);
    free(text);
    if (rc < 0 || fflush(stdout) != 0)
        return S_DONE; // the reader went away (a closed pipe)
    self->printed++;
    return self->count && self->printed >= self->count ? S_DONE : S_GO_ON;
}

//  --- Replay ----------------------------------------------------------------------------

//  One Events.Replay call to the source from from_seq: the reply header (NULL: no
//  answer in time, or a malformed one; the reason printed) and, for a 200, the page in
//  *page. The caller frees both.
static Crm__ReplyHeader *s_replay_send(s_tail_t *self, uint64_t from_seq,
                                       Crm__Events__ReplayResponse **page) {
    Crm__Events__ReplayRequest req = CRM__EVENTS__REPLAY_REQUEST__INIT;
    req.from_seq = from_seq;
    req.limit = 0; // the source's events.replay_limit
    ProtobufCMessage *response = NULL;
    Crm__ReplyHeader *header = crmctl_call(self->client, self->source, "Events.Replay", "system",
                                           &req.base, &crm__events__replay_response__descriptor,
                                           self->cfg->events_replay_timeout_ms, &response);
    *page = (Crm__Events__ReplayResponse *)response;
    if (header && header->code == 200 && !*page) {
        fprintf(stderr, "crmctl: %s answered Events.Replay without events\n", self->source);
        crm__reply_header__free_unpacked(header, NULL);
        header = NULL;
    }
    return header;
}

//  410: events from from_seq are past the retention. Say so, with the oldest seq kept,
//  which a replay from beyond any event tells (its oldest_seq).
static void s_report_expired(s_tail_t *self, uint64_t from_seq, const Crm__ReplyHeader *header) {
    Crm__Events__ReplayResponse *probe = NULL;
    Crm__ReplyHeader *probe_header = s_replay_send(self, UINT64_C(1) << 62, &probe);
    if (probe)
        fprintf(stderr,
                "crmctl: events of %s from seq %" PRIu64 " are no longer kept; the oldest kept"
                " is %" PRIu64 " (the newest %" PRIu64 ")\n",
                self->source, from_seq, probe->oldest_seq, probe->head_seq);
    else
        fprintf(stderr, "crmctl: events of %s from seq %" PRIu64 " are no longer kept: %s\n",
                self->source, from_seq, header->message);
    fprintf(stderr, "hint: events stay replayable for events.retention_days; start at the oldest"
                    " kept seq or later (--from SEQ)\n");
    if (probe)
        crm__events__replay_response__free_unpacked(probe, NULL);
    if (probe_header)
        crm__reply_header__free_unpacked(probe_header, NULL);
}

//  Events.Replay of the source from from_seq. Returns the page (caller frees), or NULL
//  with *status S_GO_ON (no answer, or a passing failure such as 503: try again later)
//  or S_FAILED (asking again cannot help: 410 past the retention, another 4xx, a
//  malformed answer; the reason printed).
static Crm__Events__ReplayResponse *s_replay_call(s_tail_t *self, uint64_t from_seq,
                                                  s_status_t *status) {
    Crm__Events__ReplayResponse *page = NULL;
    Crm__ReplyHeader *header = s_replay_send(self, from_seq, &page);
    *status = S_GO_ON;
    if (!header) {
        if (!zsys_interrupted)
            fprintf(stderr, "crmctl: retrying in %d ms\n", S_RETRY_MS);
        return NULL;
    }
    if (!page && header->code == 410) {
        s_report_expired(self, from_seq, header);
        *status = S_FAILED;
    } else if (!page && header->code >= 500)
        fprintf(stderr, "crmctl: %s could not replay events (%u %s: %s); retrying\n", self->source,
                header->code, header->error, header->message);
    else if (!page) {
        fprintf(stderr, "crmctl: %s refused Events.Replay: %u %s: %s\n", self->source, header->code,
                header->error, header->message);
        *status = S_FAILED;
    }
    crm__reply_header__free_unpacked(header, NULL);
    return page;
}

//  Print the source's events after the last printed, through replay, until its head.
//  On a passing failure leave it behind, to try again at retry_at.
static s_status_t s_catch_up(s_tail_t *self) {
    while (!zsys_interrupted) {
        s_status_t status;
        Crm__Events__ReplayResponse *page = s_replay_call(self, self->last_seq + 1, &status);
        if (!page) {
            self->retry_at = zclock_mono() + S_RETRY_MS;
            return status;
        }
        if (page->head_seq > self->head_seq)
            self->head_seq = page->head_seq;
        size_t printed = 0;
        for (size_t i = 0; i < page->n_events && status == S_GO_ON; i++) {
            const Crm__Event *event = page->events[i];
            if (event->seq <= self->last_seq)
                continue;
            if (event->seq != self->last_seq + 1) // the outbox is dense: not expected
                fprintf(stderr, "crmctl: %s has no events %" PRIu64 " to %" PRIu64 "\n",
                        self->source, self->last_seq + 1, event->seq - 1);
            self->last_seq = event->seq;
            status = s_print(self, event);
            printed++;
        }
        bool more = printed > 0 && self->last_seq < page->head_seq;
        crm__events__replay_response__free_unpacked(page, NULL);
        if (status != S_GO_ON)
            return status;
        if (!more)
            break;
    }
    //  Still short of the head (announced, not yet readable): look again shortly.
    self->behind = self->last_seq < self->head_seq;
    self->retry_at = zclock_mono() + S_RETRY_MS;
    return S_GO_ON;
}

//  --- Live ------------------------------------------------------------------------------

//  One message from the SUB socket: topic, then an envelope (or a Head).
static s_status_t s_receive(s_tail_t *self, zmsg_t *msg) {
    zframe_t *topic = zmsg_first(msg);
    zframe_t *body = zmsg_next(msg);
    if (!topic || !body || zmsg_size(msg) != 2)
        return S_GO_ON;
    const char *name = (const char *)zframe_data(topic);
    size_t size = zframe_size(topic);
    if (size >= 6 && memcmp(name + size - 6, "._head", 6) == 0) {
        if (!*self->source)
            return S_GO_ON;
        Crm__Events__Head *head =
            crm__events__head__unpack(NULL, zframe_size(body), zframe_data(body));
        if (head && strcmp(head->source, self->source) == 0 && head->head_seq > self->head_seq)
            self->head_seq = head->head_seq;
        if (head)
            crm__events__head__free_unpacked(head, NULL);
        if (self->head_seq > self->last_seq)
            self->behind = true;
        return S_GO_ON;
    }
    Crm__Event *event = crm__event__unpack(NULL, zframe_size(body), zframe_data(body));
    if (!event) {
        fprintf(stderr, "crmctl: malformed event on topic %.*s dropped\n", (int)size, name);
        return S_GO_ON;
    }
    s_status_t status = S_GO_ON;
    if (!*self->source)
        status = s_print(self, event);
    else if (event->seq == self->last_seq + 1) {
        self->last_seq = event->seq;
        status = s_print(self, event);
    } else if (event->seq > self->last_seq + 1)
        self->behind = true; // a replay prints it, after the ones missing before it
    //  (anything at or below last_seq was printed already)
    if (*self->source && event->seq > self->head_seq)
        self->head_seq = event->seq;
    crm__event__free_unpacked(event, NULL);
    return status;
}

static s_status_t s_run(s_tail_t *self) {
    s_status_t status = S_GO_ON;
    while (status == S_GO_ON && !zsys_interrupted) {
        if (self->behind && zclock_mono() >= self->retry_at) {
            status = s_catch_up(self);
            continue;
        }
        zmq_pollitem_t item = {zsock_resolve(self->sub), 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, S_POLL_MS);
        if (rc == -1 && zmq_errno() != EINTR) {
            fprintf(stderr, "crmctl: could not poll the event socket: %s\n",
                    zmq_strerror(zmq_errno()));
            return S_FAILED;
        }
        for (int read = 0; rc > 0 && read < S_BURST_MAX && status == S_GO_ON; read++) {
            zmsg_t *msg = zmsg_recv_nowait(self->sub);
            if (!msg)
                break;
            status = s_receive(self, msg);
            zmsg_destroy(&msg);
        }
    }
    return status;
}

//  --- The command -----------------------------------------------------------------------

//  With --from, the topic must name one source ("contacts" or "contacts."): the name
//  into self->source, the subscription made "contacts.". Returns 0 or -1.
static int s_topic_to_source(s_tail_t *self) {
    size_t len = strlen(self->topic);
    if (len && self->topic[len - 1] == '.')
        len--;
    if (len == 0 || len >= sizeof self->source || memchr(self->topic, '.', len))
        return -1;
    memcpy(self->source, self->topic, len);
    self->source[len] = 0;
    snprintf(self->topic, sizeof self->topic, "%s.", self->source);
    return 0;
}

int crmctl_events_tail(crmctl_t *ctl, int argc, char **argv) {
    s_tail_t self = {.cfg = ctl->cfg};
    const char *from_text = NULL;
    static const struct option options[] = {{"topic", required_argument, NULL, 't'},
                                            {"from", required_argument, NULL, 'f'},
                                            {"count", required_argument, NULL, 'n'},
                                            {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 't':
            if (strlen(optarg) >= sizeof self.topic - 1) {
                fprintf(stderr, "crmctl: --topic is too long\n");
                return 2;
            }
            snprintf(self.topic, sizeof self.topic, "%s", optarg);
            break;
        case 'f':
            from_text = optarg;
            break;
        case 'n':
            if (crmctl_parse_number(optarg, 1, INT64_MAX, &self.count)) {
                fprintf(stderr, "crmctl: --count takes a whole number from 1\n");
                return 2;
            }
            break;
        default:
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "crmctl: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (from_text) {
        long long from;
        if (crmctl_parse_number(from_text, 1, INT64_MAX, &from)) {
            fprintf(stderr, "crmctl: --from takes a seq, a whole number from 1\n");
            return 2;
        }
        if (s_topic_to_source(&self)) {
            fprintf(stderr, "crmctl: --from needs --topic to name one source, such as"
                            " \"contacts\" (seq counts each source's events on their own)\n");
            return 2;
        }
        self.last_seq = (uint64_t)from - 1;
        self.behind = true; // replay the history first
    }

    signal(SIGPIPE, SIG_IGN); // a closed stdout ends the command (s_print), not a signal
    int rc = 1;
    self.sub = zsock_new(ZMQ_SUB);
    crm_curve_client(self.sub);
    if (!self.sub) {
        fprintf(stderr, "crmctl: could not make a ZeroMQ socket\n");
        return 1;
    }
    zsock_set_linger(self.sub, 0);
    zsock_set_rcvhwm(self.sub, 0); // hold what arrives during a replay, however much
    zsock_set_subscribe(self.sub, self.topic);
    if (zsock_connect(self.sub, "%s", self.cfg->events_subscribe_endpoint)) {
        fprintf(stderr,
                "crmctl: could not connect to the event endpoint \"%s\"\n"
                "hint: events.subscribe_endpoint (CRM_EVENTS_SUBSCRIBE_ENDPOINT) names the"
                " gateway's XPUB, e.g. tcp://127.0.0.1:5557\n",
                self.cfg->events_subscribe_endpoint);
        goto done;
    }
    if (*self.source) {
        const char *broker = crm_config_broker(self.cfg);
        self.client = crm_bus_client_new(broker);
        if (!self.client) {
            fprintf(stderr, "crmctl: could not connect to the broker at \"%s\"\n",
                    broker);
            goto done;
        }
        int live = crmctl_service_live(self.client, broker, self.source,
                                       S_MMI_TIMEOUT_MS);
        if (live == 0)
            fprintf(stderr,
                    "crmctl: no %s service is registered with the broker at %s\n"
                    "hint: the source names a service (contacts, leads, ...); is it running?\n",
                    self.source, broker);
        if (live != 1) {
            rc = zsys_interrupted ? 0 : 1;
            goto done;
        }
    }
    rc = s_run(&self) == S_FAILED ? 1 : 0;
done:
    crm_bus_client_destroy(&self.client);
    zsock_destroy(&self.sub);
    return rc;
}
