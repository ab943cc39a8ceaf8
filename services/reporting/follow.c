/*  follow: following contacts' events into the projection.

    The subscriber (common/subscriber.c) hands over batches of contacts events in seq
    order inside its transaction, which also advances reporting.inbox; each event
    becomes the contact's state (change.c: ContactCreated and ContactUpdated carry the
    whole contact, ContactDeleted only the deletion; ContactMerged deletes each merged
    contact, which no longer counts, and ContactUnmerged brings the restored ones back
    whole) and projection_store.c sets the
    facts and moves the counts. The days whose figure moved are recorded in
    reporting.dirty_days in the same transaction, for daily.c to publish.
*/
#include "reporting.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

//  A batch of contacts events, inside the subscriber's transaction.
static int s_on_apply(crm_db_t *db, const char *source, Crm__Event **events, size_t n, void *arg) {
    (void)arg;
    if (n == 0)
        return 0;
    reporting_change_t *changes = malloc(n * REPORTING_CHANGES_PER_EVENT * sizeof *changes);
    assert(changes);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += reporting_changes_from_event(events[i], &changes[m]);
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

