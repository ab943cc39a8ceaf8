/*  notify_follow: what the notify service's events do to leads (the follows table's
    "notify" row, main.c): the messages it sends about a lead and the customer's replies
    become activities on the lead's timeline, logged by the actor "notify".

    - NotificationSent about a lead to its customer (a contact; not a staff alert, which
      goes to a team member): an outbound activity at sent_at, an email (the subject,
      and the summary as its body) or an sms (the summary).
    - NotificationInboundReceived logged on a lead: an inbound sms, the customer's reply,
      at received_at. It is logged as any activity is, so it counts as the customer
      engaging wherever an activity does: the lead's last activity moves to it (and with
      it the list's order and the response-target flag), and its LeadActivityLogged moves
      the contact's.
    - Queued, Suppressed, Delivered, Failed, Opened, Clicked, OptedOut: nothing on the
      lead. An activity says what was sent; an Activity has no field for its delivery
      (its status is an appointment's), and a message that never went out is no activity.

    Each message is logged once: its activity keeps the message's (or the reply's) id
    (notify_ref, migration 0011), so the same event applied again (notify reporting one
    message sent twice, events replayed onto an inbox that lost its place) logs nothing
    more. A lead that is gone (deleted, another tenant's, never there) is skipped without
    error. Each activity logged writes LeadActivityLogged, as a log through the API does:
    nothing in the leads service follows its own events, and the notify service sends
    nothing on an activity, so nothing loops.

    leads_notify_activity is the rules (which event logs what; no database), unit-tested
    in tests/unit/test_leads_notify.c; the SQL is activity_store.c's
    (leads_activity_store_log_once). A follower (common/follower.h) applies the notify
    source's events with the leads schema's inbox: each once, in order.
*/
#include "leads.h"
#include "events.pb-c.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIND(k) CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_##k
#define DIRECTION(d) CRM__LEADS__EMAIL_DIRECTION__EMAIL_DIRECTION_##d

//  Text into *field cut to at most max characters (an event is never refused for a text
//  longer than an activity takes: its start is logged). false when text is not UTF-8.
static bool s_text_set(char **field, const char *text, size_t max) {
    size_t len = strlen(text), at = 0;
    if (!crm_utf8_valid(text, len))
        return false;
    for (size_t chars = 0; at < len && chars < max; chars++)
        at += crm_utf8_char_len(text + at, len - at);
    char *cut = strndup(text, at);
    crm_pb_string_set(field, cut);
    free(cut);
    return true;
}

//  A new activity of kind and direction at (or, when at is "", at the event's time).
static Crm__Leads__Activity *s_activity_new(Crm__Leads__ActivityKind kind,
                                            Crm__Leads__EmailDirection direction, const char *at,
                                            const Crm__Event *event) {
    Crm__Leads__Activity draft = CRM__LEADS__ACTIVITY__INIT;
    draft.kind = kind;
    draft.direction = direction;
    draft.occurred_at = (char *)(at[0] ? at : event->occurred_at);
    return (Crm__Leads__Activity *)crm_pb_copy(&draft.base);
}

//  NotificationSent: an email or a text sent to a lead's customer.
static leads_notify_outcome_t s_sent(const Crm__Event *event, leads_notify_log_t *out) {
    Crm__Events__NotificationSent *m =
        crm__events__notification_sent__unpack(NULL, event->payload.len, event->payload.data);
    if (!m || !m->ref) {
        if (m)
            crm__events__notification_sent__free_unpacked(m, NULL);
        return LEADS_NOTIFY_UNREADABLE;
    }
    const Crm__Events__NotificationRef *ref = m->ref;
    bool email = strcmp(ref->channel, "email") == 0, sms = strcmp(ref->channel, "sms") == 0;
    leads_notify_outcome_t outcome = LEADS_NOTIFY_NOTHING;
    if ((email || sms) && !ref->member_id[0] && ref->contact_id[0] &&
        crm_uuid_valid(ref->lead_id) && ref->message_id[0]) {
        Crm__Leads__Activity *a =
            s_activity_new(email ? KIND(EMAIL) : KIND(SMS), DIRECTION(OUTBOUND), m->sent_at, event);
        out->activity = a;
        outcome = LEADS_NOTIFY_LOG;
        if ((email && !s_text_set(&a->subject, m->subject, LEADS_ACTIVITY_SUBJECT_MAX_LEN)) ||
            !s_text_set(&a->body, m->summary,
                        email ? LEADS_ACTIVITY_BODY_MAX_LEN : LEADS_ACTIVITY_SMS_BODY_MAX_LEN))
            outcome = LEADS_NOTIFY_UNREADABLE;
        snprintf(out->lead_id, sizeof out->lead_id, "%s", ref->lead_id);
        out->touches = strcmp(ref->trigger, "manual") == 0;
        if (snprintf(out->notify_ref, sizeof out->notify_ref, "sent:%s", ref->message_id) >=
            (int)sizeof out->notify_ref) // no id of notify's is that long
            outcome = LEADS_NOTIFY_UNREADABLE;
    }
    crm__events__notification_sent__free_unpacked(m, NULL);
    return outcome;
}

//  NotificationInboundReceived: the customer's reply, logged on their open lead.
static leads_notify_outcome_t s_inbound(const Crm__Event *event, leads_notify_log_t *out) {
    Crm__Events__NotificationInboundReceived *m =
        crm__events__notification_inbound_received__unpack(NULL, event->payload.len,
                                                           event->payload.data);
    if (!m)
        return LEADS_NOTIFY_UNREADABLE;
    leads_notify_outcome_t outcome = LEADS_NOTIFY_NOTHING;
    if (crm_uuid_valid(m->lead_id) && m->inbound_id[0]) {
        Crm__Leads__Activity *a =
            s_activity_new(KIND(SMS), DIRECTION(INBOUND), m->received_at, event);
        out->activity = a;
        outcome = s_text_set(&a->body, m->body, LEADS_ACTIVITY_SMS_BODY_MAX_LEN)
                      ? LEADS_NOTIFY_LOG
                      : LEADS_NOTIFY_UNREADABLE;
        snprintf(out->lead_id, sizeof out->lead_id, "%s", m->lead_id);
        out->touches = true;
        if (snprintf(out->notify_ref, sizeof out->notify_ref, "inbound:%s", m->inbound_id) >=
            (int)sizeof out->notify_ref)
            outcome = LEADS_NOTIFY_UNREADABLE;
    }
    crm__events__notification_inbound_received__free_unpacked(m, NULL);
    return outcome;
}

//  The events that log an activity; the others of the notify source log nothing.
static const struct {
    const char *type;
    leads_notify_outcome_t (*map)(const Crm__Event *event, leads_notify_log_t *out);
} s_logged[] = {
    {"NotificationSent", s_sent},
    {"NotificationInboundReceived", s_inbound},
};

//  The activity by activity.c's rules, as a log through the API is checked. A time the
//  notify service's clock put ahead of ours (or none readable) is taken as now.
static int s_check(Crm__Leads__Activity *a, crm_errors_t *errors) {
    if (leads_activity_check(a, true, errors) == 0)
        return 0;
    if (errors->n != 1 || !crm_errors_has(errors, "occurredAt"))
        return -1;
    crm_errors_reset(errors);
    crm_pb_string_set(&a->occurred_at, "");
    return leads_activity_check(a, true, errors);
}

leads_notify_outcome_t leads_notify_activity(const Crm__Event *event, leads_notify_log_t *out,
                                             crm_errors_t *errors) {
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof s_logged / sizeof *s_logged; i++) {
        if (strcmp(event->type, s_logged[i].type) != 0)
            continue;
        leads_notify_outcome_t outcome = s_logged[i].map(event, out);
        if (outcome == LEADS_NOTIFY_LOG && s_check(out->activity, errors) != 0)
            outcome = LEADS_NOTIFY_REFUSED;
        if (outcome != LEADS_NOTIFY_LOG)
            leads_notify_log_reset(out);
        return outcome;
    }
    return LEADS_NOTIFY_NOTHING;
}

void leads_notify_log_reset(leads_notify_log_t *log) {
    if (log->activity)
        crm__leads__activity__free_unpacked(log->activity, NULL);
    memset(log, 0, sizeof *log);
}

// --- the follower --------------------------------------------------------------------------

int leads_notify_follow(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event, void *arg) {
    (void)arg;
    leads_notify_log_t log;
    crm_errors_t errors = {0};
    leads_notify_outcome_t outcome = leads_notify_activity(event, &log, &errors); // rules
    int rc = 0;
    if (outcome == LEADS_NOTIFY_LOG) // store: activity_store.c
        rc = leads_activity_store_log_once(db, outbox, event->tenant_id, log.lead_id, "notify",
                                           log.notify_ref, log.touches, log.activity) < 0
                 ? -1
                 : 0;
    else if (outcome == LEADS_NOTIFY_REFUSED)
        crm_log_kv(CRM_LOG_WARN, "notify event not logged on its lead", "type", event->type,
                   "field", errors.items[0]->field, "detail", errors.items[0]->message, "hint",
                   "the activity rules refuse it", NULL);
    leads_notify_log_reset(&log);
    crm_errors_reset(&errors);
    return outcome == LEADS_NOTIFY_UNREADABLE ? 1 : rc;
}
