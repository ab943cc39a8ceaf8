/*  rebuild: make the projection again from scratch (the "Rebuild" method).

    Two ways, chosen when the rebuild is asked for:
    - replay: contacts still keeps every event (Events.Replay from seq 1 answers): in
      one transaction the projection and reporting's contacts inbox are emptied, then
      a new subscriber catches up from seq 1 (its attach replays, batch by batch);
    - snapshot: the oldest events are past contacts' retention (Events.Replay answers
      410 events_expired): the contacts themselves are loaded, a page of contacts'
      "Snapshot" at a time. The first page comes with the contacts seq it stands at
      (the watermark); in one transaction the projection is emptied, that page loaded
      and the inbox set to the watermark, then a new subscriber follows the events after
      it while the remaining pages load. Applying sets state, so a page read after some
      of those events, or an event older than a page, changes nothing in the end: once
      every page is in and every event after the watermark applied, the projection is
      exact.

    The work runs from a timer, a step (one transaction) per turn of the loop, so the
    daemon keeps serving meanwhile; reporting.rebuild records how far it got, and a
    restarted daemon carries on from there. The subscriber is made anew because it
    keeps the last applied seq in memory.
*/
#include "reporting.h"
#include "ids.h"
#include "log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define S_RETRY_MS 1000 // after a failed step, try again this much later
#define S_PROBE_TIMEOUT_MS 2000

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

void reporting_rebuild_reset(reporting_rebuild_t *rebuild) {
    free(rebuild->cursor_tenant);
    memset(rebuild, 0, sizeof *rebuild);
    snprintf(rebuild->phase, sizeof rebuild->phase, "none");
}

static void s_rebuild_copy(reporting_rebuild_t *to, const reporting_rebuild_t *from) {
    free(to->cursor_tenant);
    *to = *from;
    to->cursor_tenant = from->cursor_tenant ? strdup(from->cursor_tenant) : NULL;
}

static bool s_running(const reporting_rebuild_t *rebuild) {
    return strcmp(rebuild->phase, "starting") == 0 || strcmp(rebuild->phase, "snapshot") == 0;
}

static int s_on_step(zloop_t *loop, int timer_id, void *arg);

static void s_schedule(reporting_t *self, int delay_ms) {
    if (self->rebuild_timer == -1)
        self->rebuild_timer = zloop_timer(self->loop, delay_ms, 1, s_on_step, self);
}

static void s_finished(reporting_rebuild_t *rebuild) {
    crm_time_now(rebuild->finished_at, sizeof rebuild->finished_at);
    snprintf(rebuild->phase, sizeof rebuild->phase, "done");
}

//  End a step's transaction (rc: how its writes went): save next as the rebuild's state
//  and commit, and only then adopt it in memory. Returns 0, or -1 rolled back.
static int s_commit_step(reporting_t *self, int rc, reporting_rebuild_t *next) {
    crm_db_t *db = self->db;
    if (rc == 0)
        rc = reporting_store_rebuild_save(db, next);
    if (rc == 0)
        rc = crm_db_commit(db);
    if (rc != 0)
        crm_db_rollback(db);
    else
        s_rebuild_copy(&self->rebuild, next);
    reporting_rebuild_reset(next);
    return rc == 0 ? 0 : -1;
}

//  replay: empty everything in one transaction, then a new subscriber replays from 1.
static int s_step_replay(reporting_t *self) {
    crm_db_t *db = self->db;
    reporting_rebuild_t next = {0};
    s_rebuild_copy(&next, &self->rebuild);
    s_finished(&next);
    int rc = crm_db_begin(db);
    if (rc == 0)
        rc = reporting_store_reset(db, 0);
    if (s_commit_step(self, rc, &next))
        return -1;
    crm_log_kv(CRM_LOG_INFO, "projection emptied; replaying contacts from seq 1", NULL);
    self->refollow_started = zclock_mono();
    reporting_refollow(self); // the new subscriber replays; reporting_rebuild_followed
    return 0;
}

//  snapshot: one page of contacts. The first also empties the projection and sets the
//  inbox to the page's watermark, and a new subscriber takes over from there. Returns 1
//  when pages remain, 0 when done, -1 on failure (retried later).
static int s_step_snapshot(reporting_t *self) {
    bool first = strcmp(self->rebuild.phase, "starting") == 0;
    Crm__Contacts__SnapshotRequest req = CRM__CONTACTS__SNAPSHOT_REQUEST__INIT;
    if (!first) {
        req.after_tenant_id = self->rebuild.cursor_tenant ? self->rebuild.cursor_tenant : "";
        req.after_id = self->rebuild.cursor_id;
    }
    req.limit = (uint32_t)self->cfg->reporting_snapshot_page;
    ProtobufCMessage *answer = NULL;
    int code = reporting_call(self, "contacts", "Snapshot", &req.base,
                              &crm__contacts__snapshot_response__descriptor,
                              self->cfg->events_replay_timeout_ms, &answer);
    if (code != 200) {
        char code_text[16];
        snprintf(code_text, sizeof code_text, "%d", code);
        crm_log_kv(CRM_LOG_WARN, "contacts did not give a snapshot page", "code", code_text, NULL);
        return -1;
    }
    Crm__Contacts__SnapshotResponse *page = (Crm__Contacts__SnapshotResponse *)answer;
    reporting_change_t *changes = calloc(page->n_items + 1, sizeof *changes);
    size_t n = 0;
    for (size_t i = 0; i < page->n_items; i++)
        if (reporting_change_from_snapshot(page->items[i], &changes[n]) == 0)
            n++;

    reporting_rebuild_t next = {0};
    s_rebuild_copy(&next, &self->rebuild);
    if (first) {
        next.watermark_seq = page->watermark_seq;
        next.contacts_loaded = 0;
    }
    next.contacts_loaded += page->n_items;
    if (page->n_items) {
        const Crm__Contacts__SnapshotItem *last = page->items[page->n_items - 1];
        free(next.cursor_tenant);
        next.cursor_tenant = strdup(last->tenant_id);
        snprintf(next.cursor_id, sizeof next.cursor_id, "%s", last->id);
    }
    if (page->more && page->n_items)
        snprintf(next.phase, sizeof next.phase, "snapshot");
    else
        s_finished(&next);

    crm_db_t *db = self->db;
    int rc = crm_db_begin(db);
    if (rc == 0 && first)
        rc = reporting_store_reset(db, next.watermark_seq);
    if (rc == 0)
        rc = reporting_store_apply(db, changes, n);
    rc = s_commit_step(self, rc, &next);
    free(changes);
    crm__contacts__snapshot_response__free_unpacked(page, NULL);
    if (rc != 0)
        return -1;
    bool done = strcmp(self->rebuild.phase, "done") == 0;
    if (done) {
        char loaded[24];
        snprintf(loaded, sizeof loaded, "%" PRIu64, self->rebuild.contacts_loaded);
        crm_log_kv(CRM_LOG_INFO, "rebuilt from a snapshot", "contacts", loaded, NULL);
    }
    if (first) {
        char watermark[24];
        snprintf(watermark, sizeof watermark, "%" PRIu64, self->rebuild.watermark_seq);
        crm_log_kv(CRM_LOG_INFO, "projection emptied; loading a snapshot of contacts",
                   "watermark_seq", watermark, NULL);
        //  A new subscriber follows from the watermark; the next page comes after it
        //  (reporting_rebuild_followed).
        reporting_refollow(self);
        return 0;
    }
    return done ? 0 : 1;
}

//  One step of the rebuild; the next is scheduled at once, or after a failure later.
static int s_on_step(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    reporting_t *self = arg;
    self->rebuild_timer = -1;
    if (!s_running(&self->rebuild))
        return 0;
    if (!crm_db_ok(self->db) && crm_db_connect(self->db, 0) != 0) {
        s_schedule(self, S_RETRY_MS);
        return 0;
    }
    int rc =
        strcmp(self->rebuild.mode, "replay") == 0 ? s_step_replay(self) : s_step_snapshot(self);
    if (rc < 0)
        crm_log_kv(CRM_LOG_WARN, "rebuild step failed; will retry", "mode", self->rebuild.mode,
                   "phase", self->rebuild.phase, NULL);
    if (rc != 0)
        s_schedule(self, rc > 0 ? 0 : S_RETRY_MS);
    return 0;
}

//  Which way: replay if contacts still answers a replay from seq 1, a snapshot if it
//  answers 410. Returns "replay", "snapshot", or NULL (no answer).
static const char *s_choose(reporting_t *self) {
    Crm__Events__ReplayRequest req = CRM__EVENTS__REPLAY_REQUEST__INIT;
    req.from_seq = 1;
    req.limit = 1;
    ProtobufCMessage *answer = NULL;
    int code =
        reporting_call(self, "contacts", "Events.Replay", &req.base,
                       &crm__events__replay_response__descriptor, S_PROBE_TIMEOUT_MS, &answer);
    if (answer)
        protobuf_c_message_free_unpacked(answer, NULL);
    return code == 200 ? "replay" : code == 410 ? "snapshot" : NULL;
}

int reporting_rebuild_start(reporting_t *self, crm_call_t *call, const char *mode) {
    if (strcmp(call->header->role, "admin") != 0 && strcmp(call->header->role, "system") != 0) {
        crm_call_error(call, "forbidden", "rebuilding the projection needs the admin role");
        return 403;
    }
    if (mode[0] && strcmp(mode, "auto") != 0 && strcmp(mode, "replay") != 0 &&
        strcmp(mode, "snapshot") != 0) {
        crm_call_field_error(call, "mode", "must be auto, replay or snapshot");
        return 422;
    }
    if (s_running(&self->rebuild)) {
        crm_call_error(call, "rebuild_running", "a rebuild (%s) started at %s is still running",
                       self->rebuild.mode, self->rebuild.started_at);
        return 409;
    }
    if (strcmp(mode, "snapshot") != 0) {
        const char *chosen = s_choose(self);
        if (!chosen) {
            crm_call_error(call, "unavailable",
                           "the contacts service did not answer; retry when it is up");
            return 503;
        }
        if (strcmp(mode, "replay") == 0 && strcmp(chosen, "replay") != 0) {
            crm_call_error(call, "events_expired",
                           "contacts no longer keeps its first events; rebuild with mode"
                           " snapshot (or auto)");
            return 409;
        }
        mode = chosen;
    }
    if (!crm_db_ok(self->db) && crm_db_connect(self->db, 0) != 0)
        return crm_call_db_failure(call);
    reporting_rebuild_t next = {0};
    reporting_rebuild_reset(&next);
    snprintf(next.phase, sizeof next.phase, "starting");
    snprintf(next.mode, sizeof next.mode, "%s", mode);
    next.cursor_tenant = strdup("");
    crm_time_now(next.started_at, sizeof next.started_at);
    if (reporting_store_rebuild_save(self->db, &next) != 0) {
        reporting_rebuild_reset(&next);
        crm_call_error(call, "unavailable", "could not record the rebuild; retry later");
        return 503;
    }
    s_rebuild_copy(&self->rebuild, &next);
    reporting_rebuild_reset(&next);
    crm_log_kv(CRM_LOG_INFO, "rebuild started", "mode", mode, "actor", call->header->actor_id,
               NULL);
    s_schedule(self, 0);
    return 202;
}

void reporting_rebuild_followed(reporting_t *self) {
    if (s_running(&self->rebuild)) {
        s_schedule(self, 0);
        return;
    }
    if (strcmp(self->rebuild.mode, "replay") == 0 && self->refollow_started) {
        char applied[24], ms[24];
        snprintf(applied, sizeof applied, "%" PRIu64, reporting_applied_seq(self));
        snprintf(ms, sizeof ms, "%" PRId64, zclock_mono() - self->refollow_started);
        crm_log_kv(CRM_LOG_INFO, "rebuilt by replay", "applied_seq", applied, "ms", ms, NULL);
    }
    self->refollow_started = 0;
}

void reporting_rebuild_resume(reporting_t *self) {
    if (reporting_store_rebuild_load(self->db, &self->rebuild) != 0)
        return;
    if (!s_running(&self->rebuild))
        return;
    crm_log_kv(CRM_LOG_INFO, "carrying on an unfinished rebuild", "mode", self->rebuild.mode,
               "phase", self->rebuild.phase, NULL);
    s_schedule(self, 0);
}

Crm__Reporting__RebuildStatus *reporting_rebuild_status(reporting_t *self) {
    Crm__Reporting__RebuildStatus *out = malloc(sizeof *out);
    assert(out);
    crm__reporting__rebuild_status__init(out);
    out->phase = strdup(self->rebuild.phase);
    out->mode = strdup(self->rebuild.mode);
    out->started_at = strdup(self->rebuild.started_at);
    out->finished_at = strdup(self->rebuild.finished_at);
    out->contacts_loaded = self->rebuild.contacts_loaded;
    out->watermark_seq = self->rebuild.watermark_seq;
    out->applied_seq = reporting_applied_seq(self);
    return out;
}
