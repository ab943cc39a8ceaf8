/*  permission: may one message go to one recipient, and to which line (see permission.h
    for the rules and their precedence; tests/unit/test_notify_permission.c for examples).

    The rules are walked in their order of precedence: each is a small function that
    refuses with a reason or lets the message through to the next, and the last picks
    the line.
*/
#include "permission.h"

#include <string.h>

#define SMS CRM__NOTIFY__CHANNEL__CHANNEL_SMS
#define EMAIL CRM__NOTIFY__CHANNEL__CHANNEL_EMAIL

//  Each reason's code and words, for an SMS and for an email.
static const struct {
    const char *code;
    const char *sms;
    const char *email;
} s_reasons[NOTIFY_PERMISSION_REASON_COUNT] = {
    [NOTIFY_PERMISSION_ALLOWED] = {"", "", ""},
    [NOTIFY_PERMISSION_ERASED] = {"erased", "the contact was erased", "the contact was erased"},
    [NOTIFY_PERMISSION_DO_NOT_CONTACT] = {"do_not_contact",
                                          "the contact is not to be contacted by SMS",
                                          "the contact is not to be contacted by email"},
    [NOTIFY_PERMISSION_STOP_FOLLOW_UPS] = {"stop_follow_ups",
                                           "follow-ups are stopped for the contact",
                                           "follow-ups are stopped for the contact"},
    [NOTIFY_PERMISSION_NO_CONSENT] = {"no_consent",
                                      "the contact has not consented to marketing by SMS",
                                      "the contact has not consented to marketing by email"},
    [NOTIFY_PERMISSION_CONSENT_WITHDRAWN] = {"consent_withdrawn",
                                             "the contact withdrew consent to marketing by SMS",
                                             "the contact withdrew consent to marketing by "
                                             "email"},
    [NOTIFY_PERMISSION_OPTED_OUT] = {"opted_out", "every SMS line of the contact texted STOP",
                                     "every SMS line of the contact texted STOP"},
    [NOTIFY_PERMISSION_UNSUBSCRIBED] = {"unsubscribed",
                                        "the address unsubscribed from marketing email",
                                        "the address unsubscribed from marketing email"},
    [NOTIFY_PERMISSION_NO_PERMITTED_LINE] = {"no_permitted_line",
                                             "no phone of the recipient is opted in to SMS",
                                             "the recipient has no email address"},
};

//  The words of the refusals that are not a reason's usual ones.
#define DETAIL_ADDRESS_NO_CONSENT "the address has no consent to email"
#define DETAIL_NO_FURTHER_SMS "no further SMS line to try"
#define DETAIL_NO_FURTHER_EMAIL "an email has one line: no further address to try"
#define DETAIL_STAFF_NO_PHONE "the team member has no number that may be texted"
#define DETAIL_UNKNOWN_CHANNEL "the channel is neither sms nor email"

const char *notify_permission_code(notify_permission_reason_t reason) {
    if ((int)reason < 0 || reason >= NOTIFY_PERMISSION_REASON_COUNT)
        return "";
    return s_reasons[reason].code;
}

//  Refuse with reason, in the reason's usual words unless detail is given. Returns false.
static bool s_refuse(notify_permission_t *decision, Crm__Notify__Channel channel,
                     notify_permission_reason_t reason, const char *detail) {
    decision->allowed = false;
    decision->reason = reason;
    decision->code = s_reasons[reason].code;
    decision->detail = detail             ? detail
                       : channel == EMAIL ? s_reasons[reason].email
                                          : s_reasons[reason].sms;
    decision->line = -1;
    decision->to = NULL;
    return false;
}

static bool s_allow(notify_permission_t *decision, int line, const char *to) {
    decision->allowed = true;
    decision->reason = NOTIFY_PERMISSION_ALLOWED;
    decision->code = "";
    decision->detail = "";
    decision->line = line;
    decision->to = to;
    return true;
}

static bool s_present(const char *text) {
    return text && text[0];
}

// --- the SMS order ------------------------------------------------------------------------

//  Whether phone a comes before phone b (indexes) in the SMS order: ranked lines by rank,
//  then the unranked; list order within equal ranks.
static bool s_sms_before(const notify_permission_phone_t *phones, size_t a, size_t b) {
    uint32_t ra = phones[a].sms_rank, rb = phones[b].sms_rank;
    if (ra != rb) {
        if (ra == 0)
            return false;
        if (rb == 0)
            return true;
        return ra < rb;
    }
    return a < b;
}

//  The first phone after phone `after` (-1: from the start; else below phone_count) in
//  the SMS order that is a line for this recipient and has not texted STOP; -1 when none.
//  *stopped tells whether there were such lines after `after`, all of which texted STOP.
static int s_sms_next(const notify_permission_recipient_t *r, int after, bool *stopped) {
    int best = -1;
    bool any_line = false;
    for (size_t i = 0; i < r->phone_count; i++) {
        const notify_permission_phone_t *p = &r->phones[i];
        if (!s_present(p->number) || (!p->sms && !r->team_member))
            continue;
        if (after >= 0 && !s_sms_before(r->phones, (size_t)after, i))
            continue;
        any_line = true;
        if (p->opted_out)
            continue;
        if (best < 0 || s_sms_before(r->phones, i, (size_t)best))
            best = (int)i;
    }
    *stopped = best < 0 && any_line;
    return best;
}

// --- the rules, in order -------------------------------------------------------------------

//  1-2. Erasure, then the channel's do-not-contact flag.
static bool s_contact_rules(const notify_permission_recipient_t *r, Crm__Notify__Channel channel,
                            notify_permission_t *decision) {
    if (r->erased)
        return s_refuse(decision, channel, NOTIFY_PERMISSION_ERASED, NULL);
    if (channel == SMS ? r->do_not_contact.sms : r->do_not_contact.email)
        return s_refuse(decision, channel, NOTIFY_PERMISSION_DO_NOT_CONTACT, NULL);
    return true;
}

//  3-4. Stop-follow-ups for a follow-up; the contact's consent for marketing (an unknown
//  purpose is held to it).
static bool s_purpose_rules(const notify_permission_recipient_t *r, Crm__Notify__Channel channel,
                            Crm__Notify__Purpose purpose, notify_permission_t *decision) {
    if (purpose == CRM__NOTIFY__PURPOSE__PURPOSE_TRANSACTIONAL)
        return true;
    if (purpose == CRM__NOTIFY__PURPOSE__PURPOSE_FOLLOW_UP) {
        if (r->stop_follow_ups)
            return s_refuse(decision, channel, NOTIFY_PERMISSION_STOP_FOLLOW_UPS, NULL);
        return true;
    }
    Crm__Contacts__ConsentStatus consent = channel == SMS ? r->sms_marketing : r->email_marketing;
    if (consent == CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_WITHDRAWN)
        return s_refuse(decision, channel, NOTIFY_PERMISSION_CONSENT_WITHDRAWN, NULL);
    if (consent != CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_GRANTED)
        return s_refuse(decision, channel, NOTIFY_PERMISSION_NO_CONSENT, NULL);
    return true;
}

//  5. The SMS line after `after`.
static bool s_sms_line(const notify_permission_recipient_t *r, int after,
                       notify_permission_t *decision) {
    bool stopped = false;
    int line = -1;
    if (after < 0 || (size_t)after < r->phone_count)
        line = s_sms_next(r, after, &stopped);
    if (line >= 0)
        return s_allow(decision, line, r->phones[line].number);
    if (stopped)
        return s_refuse(decision, SMS, NOTIFY_PERMISSION_OPTED_OUT, NULL);
    return s_refuse(decision, SMS, NOTIFY_PERMISSION_NO_PERMITTED_LINE,
                    after >= 0       ? DETAIL_NO_FURTHER_SMS
                    : r->team_member ? DETAIL_STAFF_NO_PHONE
                                     : NULL);
}

//  5. The email line: the primary address, else the first; for a contact's marketing, one
//  that has not unsubscribed and carries its own consent.
static bool s_email_line(const notify_permission_recipient_t *r, bool marketing, int after,
                         notify_permission_t *decision) {
    if (after >= 0)
        return s_refuse(decision, EMAIL, NOTIFY_PERMISSION_NO_PERMITTED_LINE,
                        DETAIL_NO_FURTHER_EMAIL);
    int line = -1;
    for (size_t i = 0; i < r->email_count; i++) {
        if (!s_present(r->emails[i].address))
            continue;
        if (r->emails[i].primary) {
            line = (int)i;
            break;
        }
        if (line < 0)
            line = (int)i;
    }
    if (line < 0)
        return s_refuse(decision, EMAIL, NOTIFY_PERMISSION_NO_PERMITTED_LINE, NULL);
    const notify_permission_email_t *e = &r->emails[line];
    if (marketing && !r->team_member) {
        if (e->unsubscribed)
            return s_refuse(decision, EMAIL, NOTIFY_PERMISSION_UNSUBSCRIBED, NULL);
        if (!e->consent)
            return s_refuse(decision, EMAIL, NOTIFY_PERMISSION_NO_CONSENT,
                            DETAIL_ADDRESS_NO_CONSENT);
    }
    return s_allow(decision, line, e->address);
}

bool notify_permission_next_line(const notify_permission_recipient_t *recipient,
                                 Crm__Notify__Channel channel, Crm__Notify__Purpose purpose,
                                 int after, notify_permission_t *decision) {
    if (channel != SMS && channel != EMAIL)
        return s_refuse(decision, channel, NOTIFY_PERMISSION_NO_PERMITTED_LINE,
                        DETAIL_UNKNOWN_CHANNEL);
    if (!recipient->team_member && (!s_contact_rules(recipient, channel, decision) ||
                                    !s_purpose_rules(recipient, channel, purpose, decision)))
        return false;
    if (channel == SMS)
        return s_sms_line(recipient, after, decision);
    bool marketing = purpose != CRM__NOTIFY__PURPOSE__PURPOSE_TRANSACTIONAL &&
                     purpose != CRM__NOTIFY__PURPOSE__PURPOSE_FOLLOW_UP;
    return s_email_line(recipient, marketing, after, decision);
}

bool notify_permission_decide(const notify_permission_recipient_t *recipient,
                              Crm__Notify__Channel channel, Crm__Notify__Purpose purpose,
                              notify_permission_t *decision) {
    return notify_permission_next_line(recipient, channel, purpose, -1, decision);
}
