/*  Unit tests of what the notify service's events log on a lead
    (services/leads/notify_follow.c, leads_notify_activity): a message sent to a lead's
    customer is an outbound email or sms at its sent time, a reply an inbound sms, each
    once per its id; staff alerts, messages about no lead and the other notify events log
    nothing. Each table row is an example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../services/leads/leads.h"
#include "events.pb-c.h"
#include "json_pb.h"
#include "validate.h"

#define KIND(k) CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_##k
#define OUT CRM__LEADS__EMAIL_DIRECTION__EMAIL_DIRECTION_OUTBOUND
#define IN CRM__LEADS__EMAIL_DIRECTION__EMAIL_DIRECTION_INBOUND

#define LEAD "0193e0a0-0000-7000-8000-00000000000a"
#define CONTACT "0193e0a0-0000-7000-8000-00000000000c"
#define MESSAGE "0193e0a0-0000-7000-8000-0000000000e1"
#define EVENT_AT "2026-03-01T09:00:05.000000Z"

//  An envelope of type for payload (packed), as the notify source publishes it.
static Crm__Event *s_event(const char *type, const ProtobufCMessage *payload) {
    Crm__Event *event = calloc(1, sizeof *event);
    crm__event__init(event);
    event->type = strdup(type);
    event->source = strdup("notify");
    event->tenant_id = strdup("tenant-a");
    event->occurred_at = strdup(EVENT_AT);
    event->event_id = strdup("");
    event->aggregate_id = strdup("");
    event->payload.len = protobuf_c_message_get_packed_size(payload);
    event->payload.data = malloc(event->payload.len + 1);
    protobuf_c_message_pack(payload, event->payload.data);
    return event;
}

//  A NotificationSent envelope.
static Crm__Event *s_sent(const char *channel, const char *contact, const char *lead,
                          const char *member, const char *sent_at, const char *subject,
                          const char *summary) {
    Crm__Events__NotificationRef ref = CRM__EVENTS__NOTIFICATION_REF__INIT;
    ref.message_id = MESSAGE;
    ref.contact_id = (char *)contact;
    ref.lead_id = (char *)lead;
    ref.member_id = (char *)member;
    ref.channel = (char *)channel;
    ref.purpose = "follow_up";
    ref.trigger = "follow_up_due";
    Crm__Events__NotificationSent m = CRM__EVENTS__NOTIFICATION_SENT__INIT;
    m.ref = &ref;
    m.provider_id = "SM123";
    m.sent_at = (char *)sent_at;
    m.subject = (char *)subject;
    m.summary = (char *)summary;
    m.segments = 1;
    m.attempts = 1;
    return s_event("NotificationSent", &m.base);
}

//  A NotificationInboundReceived envelope.
static Crm__Event *s_inbound(const char *lead, const char *body, const char *received_at) {
    Crm__Events__NotificationInboundReceived m = CRM__EVENTS__NOTIFICATION_INBOUND_RECEIVED__INIT;
    m.inbound_id = "0193e0a0-0000-7000-8000-0000000000b1";
    m.contact_id = CONTACT;
    m.lead_id = (char *)lead;
    m.from = "+12025550142";
    m.body = (char *)body;
    m.received_at = (char *)received_at;
    return s_event("NotificationInboundReceived", &m.base);
}

//  What one row expects: the outcome, and for a log the activity's kind, direction,
//  subject, body, time and the key it is logged once by.
typedef struct {
    const char *rule;
    Crm__Event *event;
    leads_notify_outcome_t outcome;
    Crm__Leads__ActivityKind kind;
    Crm__Leads__EmailDirection direction;
    const char *subject, *body, *occurred_at, *notify_ref;
} s_case_t;

static void s_expect(const s_case_t *c) {
    leads_notify_log_t log;
    crm_errors_t errors = {0};
    leads_notify_outcome_t outcome = leads_notify_activity(c->event, &log, &errors);
    if (outcome != c->outcome)
        fail_msg("%s: outcome %d, expected %d", c->rule, outcome, c->outcome);
    if (outcome == LEADS_NOTIFY_LOG) {
        const Crm__Leads__Activity *a = log.activity;
        assert_non_null(a);
        if (a->kind != c->kind || a->direction != c->direction)
            fail_msg("%s: kind %d direction %d", c->rule, a->kind, a->direction);
        assert_string_equal(a->subject, c->subject);
        assert_string_equal(a->body, c->body);
        assert_string_equal(a->occurred_at, c->occurred_at);
        assert_string_equal(a->actor_id, ""); // the follower's to give
        assert_string_equal(log.lead_id, LEAD);
        assert_string_equal(log.notify_ref, c->notify_ref);
        //  Only the customer's reply (or a person's message: test_touches) moves the
        //  lead's last activity; these sends are automated.
        assert_int_equal(log.touches,
                         c->direction == CRM__LEADS__EMAIL_DIRECTION__EMAIL_DIRECTION_INBOUND);
    } else
        assert_null(log.activity);
    if (outcome == LEADS_NOTIFY_REFUSED)
        assert_true(errors.n > 0);
    else
        assert_int_equal(errors.n, 0);
    crm_errors_reset(&errors);
    leads_notify_log_reset(&log);
    crm__event__free_unpacked(c->event, NULL);
}

static void test_notify_logged(void **state) {
    (void)state;
    const char *sent_ref = "sent:" MESSAGE;
    const s_case_t cases[] = {
        {"a text sent to the lead's customer is an outbound sms at its sent time",
         s_sent("sms", CONTACT, LEAD, "", "2026-03-01T09:00:00Z", "", "Hi Ana, the RAV4 is in"),
         LEADS_NOTIFY_LOG, KIND(SMS), OUT, "", "Hi Ana, the RAV4 is in",
         "2026-03-01T09:00:00.000000Z", sent_ref},
        {"an email sent is an outbound email: its subject, its summary as the body",
         s_sent("email", CONTACT, LEAD, "", "2026-03-01T10:00:00+01:00", "Your test drive",
                "See you Saturday"),
         LEADS_NOTIFY_LOG, KIND(EMAIL), OUT, "Your test drive", "See you Saturday",
         "2026-03-01T09:00:00.000000Z", sent_ref},
        {"without a sent time, the event's time", s_sent("sms", CONTACT, LEAD, "", "", "", "Hello"),
         LEADS_NOTIFY_LOG, KIND(SMS), OUT, "", "Hello", EVENT_AT, sent_ref},
        {"a reply is an inbound sms at its received time",
         s_inbound(LEAD, "Is it still available?", "2026-03-01T09:30:00Z"), LEADS_NOTIFY_LOG,
         KIND(SMS), IN, "", "Is it still available?", "2026-03-01T09:30:00.000000Z",
         "inbound:0193e0a0-0000-7000-8000-0000000000b1"},
        {.rule = "a staff alert (to a team member) logs nothing",
         .event = s_sent("sms", "", LEAD, "0193e0a0-0000-7000-8000-0000000000d1",
                         "2026-03-01T09:00:00Z", "", "New lead: Ana"),
         .outcome = LEADS_NOTIFY_NOTHING},
        {.rule = "a message about no lead logs nothing",
         .event = s_sent("email", CONTACT, "", "", "2026-03-01T09:00:00Z", "Hi", "Hi"),
         .outcome = LEADS_NOTIFY_NOTHING},
        {.rule = "a lead id that is no id logs nothing",
         .event = s_sent("sms", CONTACT, "lead-7", "", "2026-03-01T09:00:00Z", "", "Hi"),
         .outcome = LEADS_NOTIFY_NOTHING},
        {.rule = "a channel leads does not know logs nothing",
         .event = s_sent("push", CONTACT, LEAD, "", "2026-03-01T09:00:00Z", "", "Hi"),
         .outcome = LEADS_NOTIFY_NOTHING},
        {.rule = "a reply on no lead logs nothing",
         .event = s_inbound("", "Hi", "2026-03-01T09:30:00Z"),
         .outcome = LEADS_NOTIFY_NOTHING},
        {.rule = "a reply without text breaks a text's rules (a body is required)",
         .event = s_inbound(LEAD, "  ", "2026-03-01T09:30:00Z"),
         .outcome = LEADS_NOTIFY_REFUSED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        s_expect(&cases[i]);
}

//  The other events of the notify source log nothing: what was sent is the activity.
static void test_notify_others(void **state) {
    (void)state;
    Crm__Events__NotificationRef ref = CRM__EVENTS__NOTIFICATION_REF__INIT;
    ref.message_id = MESSAGE;
    ref.contact_id = CONTACT;
    ref.lead_id = LEAD;
    ref.channel = "sms";
    Crm__Events__NotificationQueued queued = CRM__EVENTS__NOTIFICATION_QUEUED__INIT;
    Crm__Events__NotificationSuppressed suppressed = CRM__EVENTS__NOTIFICATION_SUPPRESSED__INIT;
    Crm__Events__NotificationDelivered delivered = CRM__EVENTS__NOTIFICATION_DELIVERED__INIT;
    Crm__Events__NotificationFailed failed = CRM__EVENTS__NOTIFICATION_FAILED__INIT;
    Crm__Events__NotificationOpened opened = CRM__EVENTS__NOTIFICATION_OPENED__INIT;
    Crm__Events__NotificationClicked clicked = CRM__EVENTS__NOTIFICATION_CLICKED__INIT;
    Crm__Events__NotificationOptedOut opted_out = CRM__EVENTS__NOTIFICATION_OPTED_OUT__INIT;
    queued.ref = suppressed.ref = delivered.ref = failed.ref = opened.ref = clicked.ref = &ref;
    suppressed.reason = "opted_out";
    failed.error = "30003 unreachable";
    opted_out.contact_id = CONTACT;
    opted_out.keyword = "STOP";
    const struct {
        const char *type;
        const ProtobufCMessage *payload;
    } others[] = {
        {"NotificationQueued", &queued.base},       {"NotificationSuppressed", &suppressed.base},
        {"NotificationDelivered", &delivered.base}, {"NotificationFailed", &failed.base},
        {"NotificationOpened", &opened.base},       {"NotificationClicked", &clicked.base},
        {"NotificationOptedOut", &opted_out.base},
    };
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        s_case_t c = {.rule = others[i].type,
                      .event = s_event(others[i].type, others[i].payload),
                      .outcome = LEADS_NOTIFY_NOTHING};
        s_expect(&c);
    }
}

//  A payload that is not its type's is unreadable (the follower logs and skips it).
static void test_notify_unreadable(void **state) {
    (void)state;
    Crm__Event *event = s_sent("sms", CONTACT, LEAD, "", "2026-03-01T09:00:00Z", "", "Hi");
    event->payload.len = 3; // cut inside its ref
    s_case_t c = {
        .rule = "a damaged NotificationSent", .event = event, .outcome = LEADS_NOTIFY_UNREADABLE};
    s_expect(&c);
    event = s_inbound(LEAD, "\xc3\x28", "2026-03-01T09:30:00Z");
    s_case_t bad_utf8 = {
        .rule = "a reply that is not UTF-8", .event = event, .outcome = LEADS_NOTIFY_UNREADABLE};
    s_expect(&bad_utf8);
}

//  An event is never refused for its length: a text longer than a text activity takes
//  (1,600 characters) is logged cut there, by characters; a time ahead of the leads
//  service's clock is taken as now.
static void test_notify_normalised(void **state) {
    (void)state;
    char *long_text = malloc(2000 * 2 + 1);
    long_text[0] = 0;
    for (int i = 0; i < 2000; i++)
        strcat(long_text, "\xc3\xa9"); // é
    Crm__Event *event = s_inbound(LEAD, long_text, "2099-01-01T00:00:00Z");
    free(long_text);
    leads_notify_log_t log;
    crm_errors_t errors = {0};
    assert_int_equal(leads_notify_activity(event, &log, &errors), LEADS_NOTIFY_LOG);
    assert_int_equal(crm_utf8_chars(log.activity->body), LEADS_ACTIVITY_SMS_BODY_MAX_LEN);
    assert_int_equal(strlen(log.activity->body), 2 * LEADS_ACTIVITY_SMS_BODY_MAX_LEN);
    int64_t at = 0;
    assert_int_equal(leads_time_parse(log.activity->occurred_at, &at), 0);
    assert_true(at < (int64_t)(time(NULL) + 120) * 1000000);
    leads_notify_log_reset(&log);
    crm__event__free_unpacked(event, NULL);
}

//  A salesperson's own message moves the lead's last activity; an automated one does not.
static void test_touches(void **state) {
    (void)state;
    const char *triggers[] = {"manual", "speed_to_lead", "follow_up_due"};
    for (size_t i = 0; i < 3; i++) {
        Crm__Events__NotificationRef ref = CRM__EVENTS__NOTIFICATION_REF__INIT;
        ref.message_id = MESSAGE;
        ref.contact_id = CONTACT;
        ref.lead_id = LEAD;
        ref.channel = "sms";
        ref.purpose = "transactional";
        ref.trigger = (char *)triggers[i];
        Crm__Events__NotificationSent m = CRM__EVENTS__NOTIFICATION_SENT__INIT;
        m.ref = &ref;
        m.sent_at = "2026-12-01T10:00:00.000000Z";
        m.summary = "Hello";
        Crm__Event *event = s_event("NotificationSent", &m.base);
        leads_notify_log_t log;
        crm_errors_t errors = {0};
        assert_int_equal(leads_notify_activity(event, &log, &errors), LEADS_NOTIFY_LOG);
        assert_int_equal(log.touches, i == 0);
        leads_notify_log_reset(&log);
        crm__event__free_unpacked(event, NULL);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notify_logged),     cmocka_unit_test(test_touches),
        cmocka_unit_test(test_notify_others),     cmocka_unit_test(test_notify_unreadable),
        cmocka_unit_test(test_notify_normalised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
