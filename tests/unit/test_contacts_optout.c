/*  Unit tests for the rules of the notify service's opt-outs on contacts
    (services/contacts/optout.c): what an SMS keyword and a one-click unsubscribe
    change, with which method and note, effective when, and when they change nothing
    (which makes an event seen twice harmless). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../services/contacts/contacts.h"

#define CONTACT "0190a5a0-0000-7000-8000-000000000001"
#define OCCURRED "2026-11-20T14:05:00.000000Z"
//  2026-11-20T14:05:00Z
#define NOW_US (INT64_C(1795183500) * 1000000)
#define EMAIL CRM__CONTACTS__CHANNEL__CHANNEL_EMAIL
#define SMS CRM__CONTACTS__CHANNEL__CHANNEL_SMS
#define MARKETING CRM__CONTACTS__PURPOSE__PURPOSE_MARKETING
#define SMS_STOP CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_SMS_STOP
#define UNSUBSCRIBE CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_UNSUBSCRIBE

//  The opt-out read from a NotificationOptedOut of channel, purpose, keyword, opted_in
//  and at; type NULL: the event's own type. Returns contacts_optout_read's code.
static int s_read(const char *type, const char *channel, const char *purpose, const char *keyword,
                  bool opted_in, const char *at, contacts_optout_t *optout) {
    Crm__Events__NotificationOptedOut m = CRM__EVENTS__NOTIFICATION_OPTED_OUT__INIT;
    m.contact_id = CONTACT;
    m.channel = (char *)channel;
    m.address = strcmp(channel, "email") == 0 ? "ann@example.com" : "+12025550142";
    m.purpose = (char *)purpose;
    m.keyword = (char *)keyword;
    m.opted_in = opted_in;
    m.at = (char *)at;
    uint8_t data[512];
    Crm__Event event = CRM__EVENT__INIT;
    event.type = type ? (char *)type : "NotificationOptedOut";
    event.tenant_id = "t1";
    event.occurred_at = OCCURRED;
    event.payload.len = crm__events__notification_opted_out__pack(&m, data);
    event.payload.data = data;
    return contacts_optout_read(&event, NOW_US, optout);
}

static const struct {
    const char *keyword;
    bool opted_in;
    const char *note;
} s_keyword_cases[] = {
    {"STOP", false, "texted STOP"},
    {" stop\n", false, "texted STOP"}, // as texted, trimmed, in capitals
    {"Unsubscribe", false, "texted UNSUBSCRIBE"},
    {"STOPALL", false, "texted STOPALL"},
    {"", false, "texted STOP"},                         // no keyword: what it did
    {"ST\xc3\x96P", false, "texted STOP"},              // not plain letters
    {"STOPSTOPSTOPSTOPSTOPSTOP", false, "texted STOP"}, // too long to be a keyword
    {"START", true, "texted START"},
    {"yes", true, "texted YES"},
    {"UNSTOP", true, "texted UNSTOP"},
    {"", true, "texted START"},
};

//  An SMS keyword: doNotContact.sms only, set by STOP and lifted by START, method
//  sms_stop, the keyword in the note.
static void test_optout_sms(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_keyword_cases / sizeof s_keyword_cases[0]; i++) {
        contacts_optout_t optout;
        assert_int_equal(s_read(NULL, "sms", "", s_keyword_cases[i].keyword,
                                s_keyword_cases[i].opted_in, "2026-11-20T13:00:00Z", &optout),
                         0);
        assert_int_equal(optout.kind, CONTACTS_OPTOUT_SMS);
        assert_string_equal(optout.contact_id, CONTACT);
        assert_string_equal(optout.note, s_keyword_cases[i].note);
        assert_string_equal(optout.effective_at, "2026-11-20T13:00:00.000000Z");
        contacts_rules_change_t want;
        contacts_optout_rules_change(&optout, &want);
        assert_int_equal(want.flags[CONTACTS_FLAG_SMS], s_keyword_cases[i].opted_in ? 0 : 1);
        assert_int_equal(want.flags[CONTACTS_FLAG_CALL], -1);
        assert_int_equal(want.flags[CONTACTS_FLAG_EMAIL], -1);
        assert_int_equal(want.flags[CONTACTS_FLAG_MAIL], -1);
        assert_int_equal(want.stop_follow_ups, -1);
        assert_int_equal(want.retention_days, -1);
        assert_int_equal(want.method, SMS_STOP);
        assert_string_equal(want.reason, s_keyword_cases[i].note);
        contacts_optout_reset(&optout);
    }
}

//  The flag changes once: STOP again (a replayed or repeated event) changes nothing, and
//  so records nothing; START lifts it, once.
static void test_optout_sms_once(void **state) {
    (void)state;
    contacts_consent_state_t st;
    memset(&st, 0, sizeof st);
    const char *keywords[] = {"STOP", "STOP", "START", "START", "STOP"};
    const bool opted_in[] = {false, false, true, true, false};
    const size_t changes_wanted[] = {1, 0, 1, 0, 1};
    for (size_t i = 0; i < 5; i++) {
        contacts_optout_t optout;
        assert_int_equal(s_read(NULL, "sms", "", keywords[i], opted_in[i], "", &optout), 0);
        contacts_rules_change_t want;
        contacts_optout_rules_change(&optout, &want);
        Crm__Events__ContactCommunicationRulesChanged event =
            CRM__EVENTS__CONTACT_COMMUNICATION_RULES_CHANGED__INIT;
        char *changed[CONTACTS_CONSENT_FLAGS + 2];
        event.changed = changed;
        json_t *changes = json_array();
        contacts_communication_apply(&st, &want, NOW_US, changes, &event);
        assert_int_equal(event.n_changed, changes_wanted[i]);
        assert_int_equal(json_array_size(changes), changes_wanted[i]);
        if (changes_wanted[i]) {
            assert_string_equal(event.changed[0], "doNotContact.sms");
            json_t *entry = json_array_get(changes, 0);
            assert_string_equal(json_string_value(json_object_get(entry, "kind")),
                                "do_not_contact");
            assert_true(json_is_true(json_object_get(entry, "enabled")) == !opted_in[i]);
        }
        assert_true(st.flags[CONTACTS_FLAG_SMS] == !opted_in[i]);
        assert_false(st.flags[CONTACTS_FLAG_CALL] || st.flags[CONTACTS_FLAG_EMAIL] ||
                     st.flags[CONTACTS_FLAG_MAIL] || st.stop_follow_ups);
        json_decref(changes);
        contacts_optout_reset(&optout);
    }
}

//  A one-click unsubscribe: the email marketing consent withdrawn, method unsubscribe,
//  a decision RecordConsent's own rules accept.
static void test_optout_email(void **state) {
    (void)state;
    contacts_optout_t optout;
    assert_int_equal(
        s_read(NULL, "email", "marketing", "", false, "2026-11-20T08:05:00.5-05:00", &optout), 0);
    assert_int_equal(optout.kind, CONTACTS_OPTOUT_EMAIL);
    assert_string_equal(optout.note, "one-click unsubscribe");
    assert_string_equal(optout.effective_at, "2026-11-20T13:05:00.500000Z");
    Crm__Contacts__RecordConsentRequest req;
    contacts_optout_consent(&optout, &req);
    assert_string_equal(req.id, CONTACT);
    assert_int_equal(req.channel, EMAIL);
    assert_int_equal(req.purpose, MARKETING);
    assert_true(req.granted_set_case && !req.granted);
    assert_int_equal(req.method, UNSUBSCRIBE);
    assert_string_equal(req.note, "one-click unsubscribe");
    crm_errors_t errors = {0};
    int64_t effective_us;
    assert_int_equal(contacts_consent_record_check(&req, NOW_US + 1000000, &effective_us, &errors),
                     0);
    //  The method only withdraws, and only email.
    req.granted = true;
    assert_int_equal(contacts_consent_record_check(&req, NOW_US, &effective_us, &errors), -1);
    assert_string_equal(errors.items[0]->field, "method");
    crm_errors_reset(&errors);
    req.granted = false;
    req.channel = SMS;
    assert_int_equal(contacts_consent_record_check(&req, NOW_US, &effective_us, &errors), -1);
    assert_string_equal(errors.items[0]->field, "method");
    crm_errors_reset(&errors);
    contacts_optout_reset(&optout);
}

//  The unsubscribe changes the consent unless it is withdrawn already (a replay, or an
//  earlier withdrawal) or a later decision stands.
static void test_optout_email_once(void **state) {
    (void)state;
    contacts_optout_t optout;
    assert_int_equal(s_read(NULL, "email", "marketing", "", false, "2026-11-20T12:00:00Z", &optout),
                     0);
    contacts_consent_state_t st;
    memset(&st, 0, sizeof st);
    assert_true(contacts_optout_consent_changes(&st, &optout)); // unknown: withdrawn now
    Crm__Contacts__Consent held = CRM__CONTACTS__CONSENT__INIT;
    held.channel = EMAIL;
    held.purpose = MARKETING;
    st.consents[contacts_consent_channel_index(EMAIL)][contacts_consent_purpose_index(MARKETING)] =
        &held;
    held.status = CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_GRANTED;
    held.effective_at = "2026-11-01T09:00:00.000000Z";
    assert_true(contacts_optout_consent_changes(&st, &optout)); // granted before the click
    held.status = CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_WITHDRAWN;
    held.method = UNSUBSCRIBE;
    held.effective_at = optout.effective_at;
    assert_false(contacts_optout_consent_changes(&st, &optout)); // the same click again
    held.method = CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_VERBAL;
    held.effective_at = "2026-11-01T09:00:00.000000Z";
    assert_false(contacts_optout_consent_changes(&st, &optout)); // withdrawn already
    held.status = CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_GRANTED;
    held.effective_at = "2026-11-20T13:00:00.000000Z";
    assert_false(contacts_optout_consent_changes(&st, &optout)); // granted again since
    contacts_optout_reset(&optout);
}

//  When: the event's at (any offset, to UTC microseconds), else the envelope's time,
//  never after now.
static void test_optout_when(void **state) {
    (void)state;
    static const struct {
        const char *at, *want;
    } cases[] = {
        {"2026-11-19T08:00:00Z", "2026-11-19T08:00:00.000000Z"},
        {"2026-11-19T08:00:00.123456789+01:00", "2026-11-19T07:00:00.123456Z"},
        {"", OCCURRED},
        {"yesterday", OCCURRED},
        {"2026-11-20T14:05:00.000001Z", "2026-11-20T14:05:00.000000Z"}, // ahead: now
        {"2027-01-01T00:00:00Z", "2026-11-20T14:05:00.000000Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        contacts_optout_t optout;
        assert_int_equal(s_read(NULL, "sms", "", "STOP", false, cases[i].at, &optout), 0);
        assert_string_equal(optout.effective_at, cases[i].want);
        contacts_optout_reset(&optout);
    }
}

//  Nothing for contacts: other notify events, other channels and purposes, an email
//  opt-in; an unreadable payload is 1.
static void test_optout_nothing(void **state) {
    (void)state;
    contacts_optout_t optout;
    assert_int_equal(s_read("NotificationSent", "sms", "", "STOP", false, "", &optout), 0);
    assert_int_equal(optout.kind, CONTACTS_OPTOUT_NONE);
    contacts_optout_reset(&optout);
    assert_int_equal(s_read(NULL, "email", "transactional", "", false, "", &optout), 0);
    assert_int_equal(optout.kind, CONTACTS_OPTOUT_NONE);
    contacts_optout_reset(&optout);
    assert_int_equal(s_read(NULL, "email", "marketing", "", true, "", &optout), 0);
    assert_int_equal(optout.kind, CONTACTS_OPTOUT_NONE);
    contacts_optout_reset(&optout);
    assert_int_equal(s_read(NULL, "whatsapp", "", "STOP", false, "", &optout), 0);
    assert_int_equal(optout.kind, CONTACTS_OPTOUT_NONE);
    contacts_optout_reset(&optout);

    uint8_t garbage[] = {0x0a, 0xff, 0x01};
    Crm__Event event = CRM__EVENT__INIT;
    event.type = "NotificationOptedOut";
    event.payload.data = garbage;
    event.payload.len = sizeof garbage;
    assert_int_equal(contacts_optout_read(&event, NOW_US, &optout), 1);
    contacts_optout_reset(&optout);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optout_sms),   cmocka_unit_test(test_optout_sms_once),
        cmocka_unit_test(test_optout_email), cmocka_unit_test(test_optout_email_once),
        cmocka_unit_test(test_optout_when),  cmocka_unit_test(test_optout_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
