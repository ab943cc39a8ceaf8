/*  permission: may one message (a channel and a purpose) go to one recipient, and to which
    of its lines; if not, why.

    Pure rules: no database, no network. The caller fills notify_permission_recipient_t from its
    projection of the contacts service's events (proto/contacts.proto, "Communication
    rules", and the contact's phones and emails) and from what notify keeps itself (the
    numbers that texted STOP, the addresses that unsubscribed);
    tests/unit/test_notify_permission.c states the rules row by row.

    Precedence: the first rule that refuses names the reason.
    1. erased: the contact was erased; nothing goes.
    2. do_not_contact: the channel's flag (sms for SMS, email for email) wins over any
       consent, whatever the purpose.
    3. stop_follow_ups: stops the purpose follow_up only.
    4. consent: marketing needs the contact's consent for (channel, marketing) granted:
       unknown (or unspecified) is no_consent, withdrawn is consent_withdrawn.
       Transactional messages and follow-ups need none.
    5. the lines.
       SMS: the phones opted in to SMS, in sms_rank order (1 first; the unranked, rank 0,
       after the ranked, in list order; equal ranks in list order); the first that has
       not texted STOP is the line. None opted in: no_permitted_line; every one opted in
       texted STOP: opted_out.
       Email: the primary address, else the first: none is no_permitted_line. For
       marketing that address must not have unsubscribed (unsubscribed) and must carry
       its own consent (no_consent). An unsubscribe is the address's: the contact's other
       addresses are not used instead, nor affected.
    A team member (a staff alert) skips 1 to 4 and the SMS opt-in: it needs a number that
    has not texted STOP (the carriers enforce STOP for anyone), or an address.

    A phone or an email with an empty number or address is no line. An unknown channel is
    refused (no_permitted_line); an unknown purpose is held to marketing's rules.
*/
#ifndef NOTIFY_PERMISSION_H
#define NOTIFY_PERMISSION_H

#include "contacts.pb-c.h"
#include "notify.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  One phone of the recipient (contacts' Phone, and notify's STOP list).
typedef struct {
    const char *number; // E.164
    bool sms;           // opted in to SMS on this line
    uint32_t sms_rank;  // its place in the SMS order, 1 first; 0: unranked (list order)
    bool opted_out;     // this number texted STOP to us (kept by notify)
} notify_permission_phone_t;

//  One email address of the recipient (contacts' Email, and notify's unsubscribes).
typedef struct {
    const char *address;
    bool primary;
    bool consent;      // the address's own consent flag (Email.consent): needed for marketing
    bool unsubscribed; // one-click unsubscribe from marketing at this address (kept by notify)
} notify_permission_email_t;

//  Who a message is for: a contact's facts and lines, or a team member's lines.
typedef struct {
    bool team_member; // a staff alert: no consumer rules, only a usable line
    bool erased;
    struct {
        bool call, email, sms, mail;
    } do_not_contact;
    bool stop_follow_ups;
    Crm__Contacts__ConsentStatus email_marketing; // consent for (email, marketing)
    Crm__Contacts__ConsentStatus sms_marketing;   // consent for (sms, marketing)
    const notify_permission_phone_t *phones;
    size_t phone_count;
    const notify_permission_email_t *emails;
    size_t email_count;
} notify_permission_recipient_t;

//  Why a message is refused: the codes of NotificationSuppressed.reason.
typedef enum {
    NOTIFY_PERMISSION_ALLOWED,
    NOTIFY_PERMISSION_ERASED,
    NOTIFY_PERMISSION_DO_NOT_CONTACT,
    NOTIFY_PERMISSION_STOP_FOLLOW_UPS,
    NOTIFY_PERMISSION_NO_CONSENT,
    NOTIFY_PERMISSION_CONSENT_WITHDRAWN,
    NOTIFY_PERMISSION_OPTED_OUT,
    NOTIFY_PERMISSION_UNSUBSCRIBED,
    NOTIFY_PERMISSION_NO_PERMITTED_LINE,
    NOTIFY_PERMISSION_REASON_COUNT
} notify_permission_reason_t;

//  The decision for one message. The strings are static, or the recipient's own (to).
typedef struct {
    bool allowed;
    notify_permission_reason_t reason; // NOTIFY_PERMISSION_ALLOWED when allowed
    const char *code;                  // "erased", "do_not_contact", ...; "" when allowed
    const char *detail;                // the same in words; "" when allowed
    int line;                          // index in phones[] (SMS) or emails[]; -1 when refused
    const char *to;                    // that line's number or address; NULL when refused
} notify_permission_t;

//  Decide whether a message of channel and purpose may go to recipient, and to which
//  line. Fills *decision; returns decision->allowed.
bool notify_permission_decide(const notify_permission_recipient_t *recipient,
                              Crm__Notify__Channel channel, Crm__Notify__Purpose purpose,
                              notify_permission_t *decision);

//  The same decision for the line after line `after` (an index in phones[], as a previous
//  decision gave it): the next SMS line in the SMS order, for when a line failed for good.
//  after -1 is notify_permission_decide. Email has one line: any later one is refused
//  (no_permitted_line). Returns decision->allowed.
bool notify_permission_next_line(const notify_permission_recipient_t *recipient,
                                 Crm__Notify__Channel channel, Crm__Notify__Purpose purpose,
                                 int after, notify_permission_t *decision);

//  A reason's code ("do_not_contact"), as NotificationSuppressed.reason spells it; ""
//  for ALLOWED or an unknown value.
const char *notify_permission_code(notify_permission_reason_t reason);

#endif
