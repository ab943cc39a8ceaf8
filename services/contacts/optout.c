/*  optout: the rules of what the notify service's NotificationOptedOut does to a
    contact's communication rules: an event read into the opt-out it records. No
    database here: consent_store.c writes it (the statements of a PATCH of the rules and
    of RecordConsent), optout_follow.c follows the notify source;
    tests/unit/test_contacts_optout.c states the rules.

    - sms, opted out (STOP, STOPALL, UNSUBSCRIBE, ...): doNotContact.sms set, method
      sms_stop, note "texted STOP" (the keyword as texted, in capitals).
    - sms, opted back in (START, YES, UNSTOP): doNotContact.sms lifted, method sms_stop,
      note "texted START".
    - email, purpose marketing (a one-click unsubscribe): the email marketing consent
      withdrawn, method unsubscribe, note "one-click unsubscribe".
    - anything else (another event type, channel or purpose): nothing.

    Each is recorded in the name of "notify", effective when the customer acted (the
    event's `at`; the envelope's time when it has none; now at the latest).

    Idempotent by state: an opt-out that would change nothing records nothing: the flag
    is already so (the PATCH's own rule, contacts_communication_apply), the consent is
    withdrawn already, or a later decision stands (contacts_optout_consent_changes). So an
    event seen twice, or two events for one customer's one text, add one history entry.
*/
#include "contacts.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

//  A keyword longer than this, or with other than letters and digits, is named by what
//  it did ("STOP", "START") instead: the note is evidence, not a copy of any text.
#define KEYWORD_MAX_LEN 20

void contacts_optout_reset(contacts_optout_t *optout) {
    if (optout->message)
        protobuf_c_message_free_unpacked(optout->message, NULL);
    memset(optout, 0, sizeof *optout);
}

//  The keyword for the note: as texted, trimmed, in capitals; else what it did.
static void s_keyword(const char *texted, bool opted_in, char *out, size_t size) {
    while (isspace((unsigned char)*texted))
        texted++;
    size_t len = strlen(texted);
    while (len && isspace((unsigned char)texted[len - 1]))
        len--;
    bool usable = len > 0 && len <= KEYWORD_MAX_LEN && len < size;
    for (size_t i = 0; usable && i < len; i++) {
        unsigned char c = (unsigned char)texted[i];
        usable = c < 0x80 && isalnum(c);
    }
    if (!usable) {
        snprintf(out, size, "%s", opted_in ? "START" : "STOP");
        return;
    }
    for (size_t i = 0; i < len; i++)
        out[i] = (char)toupper((unsigned char)texted[i]);
    out[len] = 0;
}

//  When the customer acted: at, else the envelope's time, else now; never after now.
static void s_effective_at(const char *at, const char *occurred_at, int64_t now_us, char *out,
                           size_t size) {
    int64_t us;
    if (!contacts_consent_time_parse(at, &us) && !contacts_consent_time_parse(occurred_at, &us))
        us = now_us;
    if (us > now_us || us < 0)
        us = now_us;
    contacts_consent_time_format(us, out, size);
}

int contacts_optout_read(const Crm__Event *event, int64_t now_us, contacts_optout_t *optout) {
    memset(optout, 0, sizeof *optout);
    if (!event->type || strcmp(event->type, "NotificationOptedOut") != 0)
        return 0;
    Crm__Events__NotificationOptedOut *m =
        crm__events__notification_opted_out__unpack(NULL, event->payload.len, event->payload.data);
    if (!m)
        return 1;
    optout->message = &m->base;
    optout->contact_id = m->contact_id;
    optout->opted_in = m->opted_in;
    if (strcmp(m->channel, "sms") == 0) {
        optout->kind = CONTACTS_OPTOUT_SMS;
        char keyword[KEYWORD_MAX_LEN + 1];
        s_keyword(m->keyword, m->opted_in, keyword, sizeof keyword);
        snprintf(optout->note, sizeof optout->note, "texted %s", keyword);
    } else if (strcmp(m->channel, "email") == 0 && strcmp(m->purpose, "marketing") == 0 &&
               !m->opted_in) {
        optout->kind = CONTACTS_OPTOUT_EMAIL;
        snprintf(optout->note, sizeof optout->note, "one-click unsubscribe");
    }
    if (optout->kind != CONTACTS_OPTOUT_NONE)
        s_effective_at(m->at, event->occurred_at, now_us, optout->effective_at,
                       sizeof optout->effective_at);
    return 0;
}

void contacts_optout_rules_change(const contacts_optout_t *optout, contacts_rules_change_t *want) {
    for (int f = 0; f < CONTACTS_CONSENT_FLAGS; f++)
        want->flags[f] = -1;
    want->flags[CONTACTS_FLAG_SMS] = !optout->opted_in;
    want->stop_follow_ups = -1;
    want->retention_days = -1;
    want->method = CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_SMS_STOP;
    want->reason = optout->note;
}

void contacts_optout_consent(const contacts_optout_t *optout,
                             Crm__Contacts__RecordConsentRequest *req) {
    crm__contacts__record_consent_request__init(req);
    req->id = (char *)optout->contact_id;
    req->channel = CRM__CONTACTS__CHANNEL__CHANNEL_EMAIL;
    req->purpose = CRM__CONTACTS__PURPOSE__PURPOSE_MARKETING;
    req->granted = false;
    req->granted_set_case = CRM__CONTACTS__RECORD_CONSENT_REQUEST__GRANTED_SET_GRANTED;
    req->method = CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_UNSUBSCRIBE;
    req->note = (char *)optout->note;
    req->effective_at = (char *)optout->effective_at;
}

bool contacts_optout_consent_changes(const contacts_consent_state_t *st,
                                     const contacts_optout_t *optout) {
    Crm__Contacts__RecordConsentRequest req;
    contacts_optout_consent(optout, &req);
    const Crm__Contacts__Consent *held = st->consents[contacts_consent_channel_index(req.channel)]
                                                     [contacts_consent_purpose_index(req.purpose)];
    if (held && held->status == CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_WITHDRAWN)
        return false;
    return contacts_consent_is_current(st, &req, optout->effective_at);
}
