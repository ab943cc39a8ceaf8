/*  Unit tests for the communication rules (services/contacts/consent.c): what a consent
    decision and a PATCH of the rules must hold, the field each refusal names, and what
    CanContact answers (do-not-contact wins over any consent). Each table row is an
    example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../services/contacts/contacts.h"

#define EMAIL CRM__CONTACTS__CHANNEL__CHANNEL_EMAIL
#define SMS CRM__CONTACTS__CHANNEL__CHANNEL_SMS
#define PHONE CRM__CONTACTS__CHANNEL__CHANNEL_PHONE
#define WHATSAPP CRM__CONTACTS__CHANNEL__CHANNEL_WHATSAPP
#define MARKETING CRM__CONTACTS__PURPOSE__PURPOSE_MARKETING
#define FOLLOW_UP CRM__CONTACTS__PURPOSE__PURPOSE_FOLLOW_UP
#define WEB_FORM CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_WEB_FORM
#define SMS_STOP CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_SMS_STOP
#define UNSUBSCRIBE CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_UNSUBSCRIBE

//  2026-11-20T14:05:00Z
#define NOW_US (INT64_C(1795183500) * 1000000)

static const char *s_fields(const crm_errors_t *errors) {
    static char joined[256];
    joined[0] = 0;
    for (size_t e = 0; e < errors->n; e++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", e ? "," : "",
                 errors->items[e]->field);
    return joined;
}

static const struct {
    int channel, purpose, method;
    bool granted_set, granted;
    const char *effective_at;
    const char *fields; // refused ("": accepted)
} s_record_cases[] = {
    {EMAIL, MARKETING, WEB_FORM, true, true, "", ""},
    {EMAIL, MARKETING, WEB_FORM, true, true, "2026-11-01T09:00:00-05:00", ""},
    {EMAIL, MARKETING, WEB_FORM, true, true, "2026-11-20T14:05:30Z", ""}, // clock skew: now
    {EMAIL, MARKETING, WEB_FORM, true, true, "2026-11-21T00:00:00Z", "effectiveAt"}, // future
    {EMAIL, MARKETING, WEB_FORM, true, true, "2026-11-20", "effectiveAt"},
    {EMAIL, MARKETING, WEB_FORM, true, true, "1969-12-31T23:59:59Z", "effectiveAt"},
    {0, MARKETING, WEB_FORM, true, true, "", "channel"},
    {EMAIL, 0, WEB_FORM, true, true, "", "purpose"},
    {EMAIL, FOLLOW_UP, WEB_FORM, true, true, "", "purpose"}, // a follow-up needs none
    {EMAIL, MARKETING, WEB_FORM, false, false, "", "granted"},
    {EMAIL, MARKETING, 0, true, true, "", "method"},
    {SMS, MARKETING, SMS_STOP, true, false, "", ""},
    {EMAIL, MARKETING, SMS_STOP, true, false, "", "method"}, // sms_stop: sms only
    {SMS, MARKETING, SMS_STOP, true, true, "", "method"},    // and only withdraws
    {EMAIL, MARKETING, UNSUBSCRIBE, true, false, "", ""},
    {SMS, MARKETING, UNSUBSCRIBE, true, false, "", "method"},  // unsubscribe: email only
    {EMAIL, MARKETING, UNSUBSCRIBE, true, true, "", "method"}, // and only withdraws
};

static void test_consent_record(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_record_cases / sizeof s_record_cases[0]; i++) {
        Crm__Contacts__RecordConsentRequest req = CRM__CONTACTS__RECORD_CONSENT_REQUEST__INIT;
        req.channel = s_record_cases[i].channel;
        req.purpose = s_record_cases[i].purpose;
        req.method = s_record_cases[i].method;
        req.granted = s_record_cases[i].granted;
        if (s_record_cases[i].granted_set)
            req.granted_set_case = CRM__CONTACTS__RECORD_CONSENT_REQUEST__GRANTED_SET_GRANTED;
        req.effective_at = (char *)s_record_cases[i].effective_at;
        crm_errors_t errors = {0};
        int64_t effective = 0;
        int rc = contacts_consent_record_check(&req, NOW_US, &effective, &errors);
        if (strcmp(s_fields(&errors), s_record_cases[i].fields) != 0)
            fail_msg("case %zu: refused [%s], expected [%s]", i, s_fields(&errors),
                     s_record_cases[i].fields);
        assert_int_equal(rc, s_record_cases[i].fields[0] ? -1 : 0);
        if (rc == 0)
            assert_true(effective <= NOW_US); // never after now
        crm_errors_reset(&errors);
    }
}

//  Do-not-contact wins over a granted consent; a follow-up needs none unless stopped;
//  marketing needs a granted consent.
static void test_can_contact_verdict(void **state) {
    (void)state;
    contacts_consent_state_t st;
    memset(&st, 0, sizeof st);
    Crm__Contacts__Consent granted = CRM__CONTACTS__CONSENT__INIT;
    granted.status = CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_GRANTED;
    granted.effective_at = "2026-11-01T00:00:00.000000Z";
    st.consents[contacts_consent_channel_index(SMS)][contacts_consent_purpose_index(MARKETING)] =
        &granted;
    Crm__Contacts__CanContactReason reason;
    char detail[256];
    assert_true(contacts_consent_verdict(&st, SMS, MARKETING, &reason, detail, sizeof detail));
    assert_false(contacts_consent_verdict(&st, EMAIL, MARKETING, &reason, detail, sizeof detail));
    assert_int_equal(reason, CRM__CONTACTS__CAN_CONTACT_REASON__CAN_CONTACT_REASON_NO_CONSENT);
    assert_true(contacts_consent_verdict(&st, PHONE, FOLLOW_UP, &reason, detail, sizeof detail));
    st.flags[CONTACTS_FLAG_SMS] = true; // do-not-sms stops SMS and WhatsApp
    assert_false(contacts_consent_verdict(&st, SMS, MARKETING, &reason, detail, sizeof detail));
    assert_int_equal(reason, CRM__CONTACTS__CAN_CONTACT_REASON__CAN_CONTACT_REASON_DO_NOT_CONTACT);
    assert_false(
        contacts_consent_verdict(&st, WHATSAPP, FOLLOW_UP, &reason, detail, sizeof detail));
    st.stop_follow_ups = true;
    assert_false(contacts_consent_verdict(&st, PHONE, FOLLOW_UP, &reason, detail, sizeof detail));
    assert_int_equal(reason, CRM__CONTACTS__CAN_CONTACT_REASON__CAN_CONTACT_REASON_STOP_FOLLOW_UPS);
}

static const struct {
    const char *mask[3];
    int method;
    bool sms, sms_set;
    const char *fields; // refused ("": accepted)
} s_update_cases[] = {
    {{"doNotContact.sms", NULL}, 0, true, true, ""},
    {{"doNotContact", NULL}, 0, true, true, ""},
    {{"doNotContact", NULL}, 0, false, false, "doNotContact"}, // names no flag
    {{"stopFollowUps", "retentionDays", NULL}, 0, false, false, ""},
    {{"name", NULL}, 0, false, false, "name"}, // not a rule
    {{"doNotContact.sms", NULL}, SMS_STOP, true, true, ""},
    {{"doNotContact.sms", "stopFollowUps", NULL}, SMS_STOP, true, true, "method"},
    {{"doNotContact.sms", NULL}, 99, true, true, "method"},
};

static void test_rules_update(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_update_cases / sizeof s_update_cases[0]; i++) {
        Crm__Contacts__DoNotContact dnc = CRM__CONTACTS__DO_NOT_CONTACT__INIT;
        if (s_update_cases[i].sms_set)
            contacts_consent_dnc_set(&dnc, CONTACTS_FLAG_SMS, s_update_cases[i].sms);
        Crm__Contacts__CommunicationRulesUpdate u = CRM__CONTACTS__COMMUNICATION_RULES_UPDATE__INIT;
        u.do_not_contact = &dnc;
        u.method = s_update_cases[i].method;
        Crm__Contacts__UpdateCommunicationRulesRequest req =
            CRM__CONTACTS__UPDATE_COMMUNICATION_RULES_REQUEST__INIT;
        req.rules = &u;
        req.update_mask = (char **)s_update_cases[i].mask;
        while (s_update_cases[i].mask[req.n_update_mask])
            req.n_update_mask++;
        crm_errors_t errors = {0};
        contacts_rules_change_t want;
        int rc = contacts_communication_update_check(&req, &want, &errors);
        if (strcmp(s_fields(&errors), s_update_cases[i].fields) != 0)
            fail_msg("case %zu: refused [%s], expected [%s]", i, s_fields(&errors),
                     s_update_cases[i].fields);
        assert_int_equal(rc, s_update_cases[i].fields[0] ? -1 : 0);
        crm_errors_reset(&errors);
    }
}

//  Only what changes is recorded: a flag already so is no change.
static void test_rules_apply(void **state) {
    (void)state;
    contacts_consent_state_t st;
    memset(&st, 0, sizeof st);
    st.flags[CONTACTS_FLAG_EMAIL] = true;
    contacts_rules_change_t want = {{-1, 1, -1, 1}, -1, 30, 0, ""};
    Crm__Events__ContactCommunicationRulesChanged event =
        CRM__EVENTS__CONTACT_COMMUNICATION_RULES_CHANGED__INIT;
    char *changed[CONTACTS_CONSENT_FLAGS + 2];
    event.changed = changed;
    json_t *changes = json_array();
    contacts_communication_apply(&st, &want, NOW_US, changes, &event);
    assert_int_equal(event.n_changed, 2);
    assert_string_equal(changed[0], "doNotContact.sms");
    assert_string_equal(changed[1], "retentionDays");
    assert_int_equal(json_array_size(changes), 2);
    assert_true(st.flags[CONTACTS_FLAG_SMS]);
    assert_string_equal(st.retain_until, "2026-12-20T14:05:00.000000Z"); // from now
    json_decref(changes);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consent_record),
        cmocka_unit_test(test_can_contact_verdict),
        cmocka_unit_test(test_rules_update),
        cmocka_unit_test(test_rules_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
