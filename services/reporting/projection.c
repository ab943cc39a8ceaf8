/*  projection: following contacts' events into the reporting schema, and publishing
    reporting.ContactsDaily when a day's figure changes.

    The subscriber (common/subscriber.c) hands over batches of contacts events in seq order
    inside its transaction, which also advances reporting.inbox; each event becomes the
    contact's state (ContactCreated and ContactUpdated carry the whole contact,
    ContactDeleted only the deletion) and store.c sets the facts and moves the counts.
    The days whose figure moved are recorded in reporting.dirty_days in the same
    transaction. A timer (reporting.publish_interval_ms, 1 s) takes them, writes one
    ContactsDaily event per day to reporting's outbox in one transaction and kicks the
    relay: however many changes a day sees, its tenant hears about it at most once per
    interval.
*/
#include "reporting.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define S_PUBLISH_MAX_DAYS 1000 // changed days taken per publisher turn (the rest: next turn)

//  --- Calls to other services -----------------------------------------------------------

int reporting_call(reporting_t *self, const char *service, const char *method,
                   const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response_type,
                   int timeout_ms, ProtobufCMessage **response) {
    *response = NULL;
    if (!self->client)
        self->client = crm_bus_client_new(crm_config_broker(self->cfg));
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = (char *)method;
    header.tenant_id = "*";
    header.actor_id = "reporting";
    header.role = "system";
    header.deadline_ms = (uint32_t)timeout_ms;
    zmsg_t *body = crm_bus_request_new(&header, request);
    zmsg_t *reply = crm_bus_client_request(self->client, service, &body, timeout_ms + 1000);
    if (!reply) {
        crm_log_kv(CRM_LOG_WARN, "call got no answer", "service", service, "method", method, NULL);
        return 0;
    }
    Crm__ReplyHeader *rh = crm_bus_reply_parse(&reply, response_type, response);
    int code = rh ? (int)rh->code : 502;
    if (code == 200 && !*response)
        code = 502;
    else if (code != 200) // the caller decides what a refusal means (410 from Events.Replay)
        crm_log_kv(CRM_LOG_DEBUG, "call refused", "service", service, "method", method, "error",
                   rh ? rh->error : "malformed reply", "detail", rh ? rh->message : "", NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return code;
}

//  --- From events and snapshots to changes -----------------------------------------------

//  The UTC date of an RFC 3339 UTC timestamp ("2026-11-22T08:30:00.123456Z").
static bool s_day_of(const char *timestamp, char day[12]) {
    if (!timestamp || strlen(timestamp) < 10)
        return false;
    memcpy(day, timestamp, 10);
    day[10] = 0;
    return reporting_day_parse(day, NULL);
}

//  A contact's state as carried by ContactCreated and ContactUpdated.
static int s_change_from_contact(const Crm__Event *event, const Crm__Contacts__Contact *contact,
                                 reporting_change_t *change) {
    if (!contact || !crm_uuid_valid(contact->id))
        return -1;
    change->tenant_id = event->tenant_id;
    snprintf(change->contact_id, sizeof change->contact_id, "%s", contact->id);
    if (!s_day_of(contact->created_at, change->day) && !s_day_of(event->occurred_at, change->day))
        return -1;
    crm_enum_api_name(&crm__contacts__contact_type__descriptor, contact->type, change->type,
                sizeof change->type);
    crm_enum_api_name(&crm__contacts__contact_source__descriptor, contact->source, change->source,
                sizeof change->source);
    change->state_known = true;
    change->deleted = false;
    return 0;
}

//  One event as a change. Returns 1 (a change), 0 (an event reporting ignores), -1 (an
//  unreadable event: logged and skipped, never retried for ever).
static int s_change_from_event(const Crm__Event *event, reporting_change_t *change) {
    memset(change, 0, sizeof *change);
    change->seq = event->seq;
    int rc = 0;
    const uint8_t *data = event->payload.data;
    size_t size = event->payload.len;
    if (strcmp(event->type, "ContactCreated") == 0) {
        Crm__Events__ContactCreated *m = crm__events__contact_created__unpack(NULL, size, data);
        rc = m && s_change_from_contact(event, m->contact, change) == 0 ? 1 : -1;
        if (m)
            crm__events__contact_created__free_unpacked(m, NULL);
    } else if (strcmp(event->type, "ContactUpdated") == 0) {
        Crm__Events__ContactUpdated *m = crm__events__contact_updated__unpack(NULL, size, data);
        rc = m && s_change_from_contact(event, m->contact, change) == 0 ? 1 : -1;
        if (m)
            crm__events__contact_updated__free_unpacked(m, NULL);
    } else if (strcmp(event->type, "ContactDeleted") == 0) {
        Crm__Events__ContactDeleted *m = crm__events__contact_deleted__unpack(NULL, size, data);
        rc = m && crm_uuid_valid(m->contact_id) ? 1 : -1;
        if (rc == 1) {
            change->tenant_id = event->tenant_id;
            snprintf(change->contact_id, sizeof change->contact_id, "%s", m->contact_id);
            change->deleted = true;
        }
        if (m)
            crm__events__contact_deleted__free_unpacked(m, NULL);
    }
    if (rc < 0) {
        char seq[24];
        snprintf(seq, sizeof seq, "%" PRIu64, event->seq);
        crm_log_kv(CRM_LOG_ERROR, "unreadable event skipped", "source", event->source, "seq", seq,
                   "type", event->type, NULL);
    }
    return rc;
}

int reporting_change_from_snapshot(const Crm__Contacts__SnapshotItem *item,
                                   reporting_change_t *change) {
    memset(change, 0, sizeof *change);
    if (!crm_uuid_valid(item->id) || !s_day_of(item->created_at, change->day)) {
        crm_log_kv(CRM_LOG_ERROR, "unreadable snapshot item skipped", "tenant", item->tenant_id,
                   "id", item->id, NULL);
        return -1;
    }
    change->tenant_id = item->tenant_id;
    snprintf(change->contact_id, sizeof change->contact_id, "%s", item->id);
    snprintf(change->type, sizeof change->type, "%s", item->type);
    snprintf(change->source, sizeof change->source, "%s", item->source);
    change->deleted = item->deleted;
    change->state_known = true;
    return 0;
}

//  --- Following contacts -------------------------------------------------------------------

//  A batch of contacts events, inside the subscriber's transaction.
static int s_on_apply(crm_db_t *db, const char *source, Crm__Event **events, size_t n, void *arg) {
    (void)arg;
    if (n == 0)
        return 0;
    reporting_change_t *changes = malloc(n * sizeof *changes);
    assert(changes);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (s_change_from_event(events[i], &changes[m]) == 1)
            m++;
    int rc = reporting_store_apply(db, changes, m);
    free(changes);
    if (rc == 0)
        rc = reporting_store_log_run(db, source, events[0]->seq, events[n - 1]->seq);
    if (rc)
        crm_log_kv(CRM_LOG_WARN, "could not apply contacts events", "detail", crm_db_sqlstate(db),
                   NULL);
    return rc;
}

static int s_timer_noop(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    (void)arg;
    return 0;
}

static void s_unsubscribe(reporting_t *self);

static int s_subscribe(reporting_t *self) {
    assert(!self->subscriber);
    self->subscriber = crm_subscriber_new(self->cfg, "reporting", self->db);
    if (!self->subscriber || crm_subscriber_follow(self->subscriber, "contacts"))
        return -1;
    crm_subscriber_on_apply(self->subscriber, s_on_apply, self);
    //  See reporting_unfollow: the subscriber's own timer gets the id after this one.
    int probe = zloop_timer(self->loop, 3600000, 1, s_timer_noop, NULL);
    zloop_timer_end(self->loop, probe);
    self->subscriber_timer = probe + 1;
    return crm_subscriber_attach(self->subscriber, self->loop);
}

//  The self-pipe: replace the subscriber. This runs in a poller handler on purpose:
//  zloop copies its pollers before it calls the ready ones, and stops calling them only
//  after a poller handler has changed the set; a subscriber destroyed in a timer could
//  still have its (copied) poller called in the same turn, on freed memory.
static int s_on_wake(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
    (void)loop;
    (void)item;
    reporting_t *self = arg;
    char drain[64];
    while (read(self->wake[0], drain, sizeof drain) > 0)
        ;
    if (!self->refollow)
        return 0;
    self->refollow = false;
    s_unsubscribe(self);
    if (s_subscribe(self) != 0) {
        //  Better a restart (which follows from the inbox) than a daemon not following.
        crm_log_kv(CRM_LOG_ERROR, "could not follow contacts again; stopping", "hint",
                   "the supervisor starts crm-reporting again", NULL);
        return -1;
    }
    reporting_rebuild_followed(self);
    return 0;
}

int reporting_follow(reporting_t *self) {
    if (pipe2(self->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        self->wake[0] = self->wake[1] = -1;
        return -1;
    }
    self->wake_item = (zmq_pollitem_t){.fd = self->wake[0], .events = ZMQ_POLLIN};
    if (zloop_poller(self->loop, &self->wake_item, s_on_wake, self) != 0)
        return -1;
    return s_subscribe(self);
}

void reporting_refollow(reporting_t *self) {
    self->refollow = true;
    if (write(self->wake[1], "", 1) < 0 && errno != EAGAIN)
        crm_log_kv(CRM_LOG_ERROR, "could not wake the loop", "detail", strerror(errno), NULL);
}

//  Workaround for common/subscriber.c: crm_subscriber_destroy ends the subscriber's poller
//  and re-check timer but not the one-second timer crm_subscriber_attach starts (its id
//  is not kept), which would then run on freed memory. zloop numbers timers in order
//  and that timer is the first the attach makes, so s_subscribe learns its id with a
//  probe timer made just before; it is ended here. Ending an id that is gone already
//  is harmless, so this stays correct once crm_subscriber_destroy ends it itself.
static void s_unsubscribe(reporting_t *self) {
    if (!self->subscriber)
        return;
    crm_subscriber_destroy(&self->subscriber);
    if (self->loop && self->subscriber_timer > 0)
        zloop_timer_end(self->loop, self->subscriber_timer);
    self->subscriber_timer = 0;
}

void reporting_unfollow(reporting_t *self) {
    s_unsubscribe(self);
    if (self->wake[0] >= 0) {
        zloop_poller_end(self->loop, &self->wake_item);
        close(self->wake[0]);
        close(self->wake[1]);
        self->wake[0] = self->wake[1] = -1;
    }
}

uint64_t reporting_applied_seq(reporting_t *self) {
    return self->subscriber ? crm_subscriber_last_seq(self->subscriber, "contacts") : 0;
}

//  --- Publishing ContactsDaily ---------------------------------------------------------

//  Take the dirty days, write their events and forget them, in one transaction.
static int s_publish(reporting_t *self) {
    crm_db_t *db = self->db;
    if (!crm_db_ok(db) && crm_db_connect(db, 0) != 0)
        return -1;
    if (crm_db_begin(db) != 0)
        return -1;
    //  One event per tenant, with every day of it that changed since the last tick.
    Crm__Events__ContactsDaily **dailies = NULL;
    char **tenants = NULL;
    size_t n = 0;
    int rc = reporting_store_take_dirty(db, S_PUBLISH_MAX_DAYS, &dailies, &tenants, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = crm_outbox_add(self->outbox, tenants[i], tenants[i], &dailies[i]->base, NULL);
    if (rc == 0)
        rc = crm_outbox_write(self->outbox, db);
    crm_outbox_clear(self->outbox);
    reporting_store_days_free(dailies, tenants, n);
    if (rc == 0 && n == 0) {
        crm_db_rollback(db); // nothing was dirty
        return 0;
    }
    if (rc != 0 || crm_db_commit(db) != 0) {
        crm_db_rollback(db);
        crm_log_kv(CRM_LOG_WARN, "could not publish daily figures; will retry", "detail",
                   crm_db_sqlstate(db), NULL);
        return -1;
    }
    self->published += n;
    crm_relay_kick(crm_service_relay(self->service));
    return 0;
}

static int s_on_publish(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    s_publish(arg);
    return 0;
}

int reporting_publisher_attach(reporting_t *self) {
    self->publish_timer =
        zloop_timer(self->loop, self->cfg->reporting_publish_interval_ms, 0, s_on_publish, self);
    return self->publish_timer == -1 ? -1 : 0;
}
