/*  campaign_job: the job that queues each campaign's recipients (main.c's job table: a
    thread of the runner with its own database connection and its own bus client, so
    neither the contacts service's answers nor the inserts hold up the daemon's loop).

    A step claims the oldest campaign still resolving (FOR UPDATE SKIP LOCKED: several
    notify processes share the campaigns and never take the same one at once) and does
    one page of it in one transaction: up to NOTIFY_CAMPAIGN_PAGE recipients, each queued
    as one message (campaign_store.c, keyed by the campaign and the contact) with its
    NotificationQueued, and the campaign's cursor moved past them. The recipients are
    its contact ids from the cursor's offset on, or the next page of the contacts list
    with its filter, asked of the contacts service in the campaign creator's name (the
    list's own cursor is kept: by id, newest first, so contacts created meanwhile are not
    taken; a search pages by rank, at most 10,000 deep). The last page marks the campaign
    resolved.

    A restart loses nothing and queues nothing twice: a page rolled back is read again,
    and a recipient queued before is a key queued before. The contacts service not
    answering fails the step (tried again after the runner's backoff); its refusal (the
    filter no longer valid) fails the campaign with its words. A cancel waits for the
    page in progress (the row's lock) and then takes the campaign out of the queue.

    Whether each message may go is the sender's decision when it goes (sender.c).
*/
#include "notify.h"
#include "bus_client.h"
#include "json_pb.h"
#include "log.h"
#include "outbox.h"

#include <stdlib.h>
#include <string.h>

#define CAMPAIGN_JOB_IDLE_MS 250

typedef struct {
    const crm_config_t *cfg;
    crm_bus_client_t *bus; // the contacts service's List
} s_job_t;

void *notify_campaign_job_new(const crm_config_t *cfg, crm_db_t *db) {
    (void)db;
    s_job_t *self = calloc(1, sizeof *self);
    assert(self);
    self->cfg = cfg;
    self->bus = crm_bus_client_new(crm_config_broker(cfg));
    if (!self->bus) {
        free(self);
        return NULL;
    }
    return self;
}

void notify_campaign_job_destroy(void **state_p) {
    s_job_t *self = *state_p;
    if (!self)
        return;
    crm_bus_client_destroy(&self->bus);
    free(self);
    *state_p = NULL;
}

int notify_campaign_job_period_ms(const crm_config_t *cfg) {
    (void)cfg;
    return CAMPAIGN_JOB_IDLE_MS;
}

//  The next page of contact ids: 0, or -1.
static int s_page_of_ids(crm_db_t *db, crm_outbox_t *outbox, const notify_claimed_campaign_t *c) {
    int offset = atoi(c->cursor);
    PGresult *res = NULL;
    if (notify_campaign_store_ids(db, c, offset, NOTIFY_CAMPAIGN_PAGE, &res))
        return -1;
    int n = PQntuples(res), rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        if (notify_campaign_store_enqueue(db, outbox, c, PQgetvalue(res, i, 0)) < 0)
            rc = -1;
    PQclear(res);
    char cursor[16];
    snprintf(cursor, sizeof cursor, "%d", offset + n);
    return rc ? -1 : notify_campaign_store_advance(db, c, cursor, offset + n >= c->ids);
}

//  The contacts service's List, the page after c's cursor, in the creator's name: the
//  reply's code (0: no answer), *out the page of a 200, *rh_out its reply header.
static int s_list(s_job_t *self, const notify_claimed_campaign_t *c,
                  Crm__Contacts__ListContactsRequest *filter,
                  Crm__Contacts__ListContactsResponse **out, Crm__ReplyHeader **rh_out) {
    filter->limit = NOTIFY_CAMPAIGN_PAGE;
    crm_pb_string_set(&filter->cursor, c->cursor);
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = "List";
    header.tenant_id = c->tenant_id;
    header.actor_id = c->created_by;
    header.role = c->created_role;
    header.request_id = c->id;
    header.deadline_ms = (uint32_t)self->cfg->notify_call_timeout_ms;
    zmsg_t *body = crm_bus_request_new(&header, &filter->base);
    zmsg_t *reply = crm_bus_client_request(self->bus, "contacts", &body,
                                           self->cfg->notify_call_timeout_ms + 500);
    ProtobufCMessage *page = NULL;
    Crm__ReplyHeader *rh =
        reply
            ? crm_bus_reply_parse(&reply, &crm__contacts__list_contacts_response__descriptor, &page)
            : NULL;
    int code = rh ? (int)rh->code : 0;
    if (code == 200 && !page)
        code = 0;
    if (code == 200)
        *out = (Crm__Contacts__ListContactsResponse *)page;
    else if (page)
        protobuf_c_message_free_unpacked(page, NULL);
    *rh_out = rh;
    return code;
}

//  The next page of the contacts the filter finds: 0, or -1 (the step fails: the
//  contacts service did not answer, or the database failed).
static int s_page_of_filter(s_job_t *self, crm_db_t *db, crm_outbox_t *outbox,
                            const notify_claimed_campaign_t *c) {
    crm_json_error_t err;
    Crm__Contacts__ListContactsRequest *filter =
        (Crm__Contacts__ListContactsRequest *)crm_json_to_pb(
            &crm__contacts__list_contacts_request__descriptor, c->filter, strlen(c->filter), &err);
    if (!filter) {
        crm_log_kv(CRM_LOG_ERROR, "a campaign's filter does not parse", "campaign", c->id, "detail",
                   err.message, NULL);
        return notify_campaign_store_fail(db, c, "its filter is unreadable");
    }
    Crm__Contacts__ListContactsResponse *page = NULL;
    Crm__ReplyHeader *rh = NULL;
    int code = s_list(self, c, filter, &page, &rh);
    crm__contacts__list_contacts_request__free_unpacked(filter, NULL);
    int rc = 0;
    if (code == 200) {
        for (size_t i = 0; i < page->n_items && rc == 0; i++)
            if (notify_campaign_store_enqueue(db, outbox, c, page->items[i]->id) < 0)
                rc = -1;
        if (rc == 0)
            rc = notify_campaign_store_advance(db, c, page->next_cursor, !page->next_cursor[0]);
        crm__contacts__list_contacts_response__free_unpacked(page, NULL);
    } else if (code / 100 == 4) {
        //  Refused for good (a filter the list no longer takes): the campaign fails, in
        //  the list's words.
        char error[512];
        snprintf(error, sizeof error, "the contacts list refused the filter: %s%s%s%s", rh->message,
                 rh->n_fields ? " (" : "", rh->n_fields ? rh->fields[0]->field : "",
                 rh->n_fields ? ")" : "");
        crm_log_kv(CRM_LOG_WARN, "a campaign failed", "campaign", c->id, "detail", error, NULL);
        rc = notify_campaign_store_fail(db, c, error);
    } else {
        char text[16];
        snprintf(text, sizeof text, "%d", code);
        crm_log_kv(CRM_LOG_WARN, "the contacts service did not answer a campaign's page",
                   "campaign", c->id, "code", code ? text : "no answer", "hint",
                   "it is asked again after a backoff", NULL);
        rc = -1;
    }
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return rc;
}

crm_step_result_t notify_campaign_job_step(crm_step_t *step) {
    s_job_t *self = step->state;
    crm_db_t *db = step->db;
    if (crm_db_begin(db))
        return CRM_STEP_FAILED;
    notify_claimed_campaign_t c;
    int claimed = notify_campaign_store_claim(db, &c);
    if (claimed <= 0) {
        crm_db_rollback(db);
        return claimed == 0 ? CRM_STEP_IDLE : CRM_STEP_FAILED;
    }
    crm_outbox_t *outbox = crm_outbox_new();
    int rc = c.filter ? s_page_of_filter(self, db, outbox, &c) : s_page_of_ids(db, outbox, &c);
    size_t events = crm_outbox_size(outbox);
    if (rc == 0)
        rc = crm_outbox_write(outbox, db);
    crm_outbox_destroy(&outbox);
    if (rc == 0 && crm_db_commit(db) == 0)
        step->events += (int)events;
    else {
        crm_db_rollback(db);
        rc = -1;
    }
    notify_claimed_campaign_reset(&c);
    return rc == 0 ? CRM_STEP_WORKED : CRM_STEP_FAILED;
}
