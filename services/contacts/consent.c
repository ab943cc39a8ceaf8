/*  consent: the rules of a contact's communication rules — do-not-contact by call, email, mail and
    SMS, stop-follow-ups, a retention period — and its consent per channel and purpose,
    with the history of every change.

    No database here: consent_store.c holds the SQL, consent_methods.c the methods;
    tests/unit/test_contacts_consent.c states the rules.

    Precedence, as CanContact answers it and as consumers of the events must apply it:
    a do-not-contact flag wins over any consent (do-not-call stops the phone channel,
    do-not-sms stops SMS and WhatsApp, do-not-email email, do-not-mail mail); then a
    follow-up is allowed unless follow-ups are stopped, and marketing or analytics needs
    a granted consent for the channel and purpose. Of several decisions for one channel
    and purpose the one with the latest effective time stands (a later recording wins a
    tie), so a decision back-filled from an old paper form does not undo a newer one.
*/
#include "contacts.h"
#include "ids.h"
#include "json_pb.h"
#include "validate.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOTE_MAX_LEN 1000
#define REASON_MAX_LEN 500
#define RETENTION_MAX_DAYS 3650
//  An effective time this far ahead of our clock is the client's clock running fast:
//  it counts as now. Further ahead, it is refused.
#define CLOCK_SKEW_US (60 * INT64_C(1000000))
#define US_PER_DAY (86400 * INT64_C(1000000))

// --- the channels, purposes and flags -------------------------------------------------

static const Crm__Contacts__Channel s_channels[] = {
    CRM__CONTACTS__CHANNEL__CHANNEL_EMAIL, CRM__CONTACTS__CHANNEL__CHANNEL_SMS,
    CRM__CONTACTS__CHANNEL__CHANNEL_PHONE, CRM__CONTACTS__CHANNEL__CHANNEL_WHATSAPP,
    CRM__CONTACTS__CHANNEL__CHANNEL_MAIL};

//  The purposes consent is recorded for (a follow-up needs none).
static const Crm__Contacts__Purpose s_purposes[] = {CRM__CONTACTS__PURPOSE__PURPOSE_MARKETING,
                                                    CRM__CONTACTS__PURPOSE__PURPOSE_ANALYTICS};

//  The do-not-contact flags, by their path in a PATCH mask (and in the history).
static const char *const s_flag_paths[CONTACTS_CONSENT_FLAGS] = {
    "doNotContact.call", "doNotContact.email", "doNotContact.mail", "doNotContact.sms"};

//  The flag that stops a channel: a WhatsApp message is a text message too.
static int s_flag_of(Crm__Contacts__Channel channel) {
    switch (channel) {
    case CRM__CONTACTS__CHANNEL__CHANNEL_PHONE:
        return CONTACTS_FLAG_CALL;
    case CRM__CONTACTS__CHANNEL__CHANNEL_EMAIL:
        return CONTACTS_FLAG_EMAIL;
    case CRM__CONTACTS__CHANNEL__CHANNEL_MAIL:
        return CONTACTS_FLAG_MAIL;
    default:
        return CONTACTS_FLAG_SMS;
    }
}

int contacts_consent_channel_index(int channel) {
    for (size_t i = 0; i < CONTACTS_CONSENT_CHANNELS; i++)
        if ((int)s_channels[i] == channel)
            return (int)i;
    return -1;
}

int contacts_consent_purpose_index(int purpose) {
    for (size_t i = 0; i < CONTACTS_CONSENT_PURPOSES; i++)
        if ((int)s_purposes[i] == purpose)
            return (int)i;
    return -1;
}

//  A member of DoNotContact by flag: -1 when absent (PATCH), else 0 or 1.
static int s_dnc_get(const Crm__Contacts__DoNotContact *d, int flag) {
    if (!d)
        return -1;
    switch (flag) {
    case CONTACTS_FLAG_CALL:
        return d->call_set_case ? d->call : -1;
    case CONTACTS_FLAG_EMAIL:
        return d->email_set_case ? d->email : -1;
    case CONTACTS_FLAG_MAIL:
        return d->mail_set_case ? d->mail : -1;
    default:
        return d->sms_set_case ? d->sms : -1;
    }
}

void contacts_consent_dnc_set(Crm__Contacts__DoNotContact *d, int flag, bool value) {
    switch (flag) {
    case CONTACTS_FLAG_CALL:
        d->call = value;
        d->call_set_case = CRM__CONTACTS__DO_NOT_CONTACT__CALL_SET_CALL;
        break;
    case CONTACTS_FLAG_EMAIL:
        d->email = value;
        d->email_set_case = CRM__CONTACTS__DO_NOT_CONTACT__EMAIL_SET_EMAIL;
        break;
    case CONTACTS_FLAG_MAIL:
        d->mail = value;
        d->mail_set_case = CRM__CONTACTS__DO_NOT_CONTACT__MAIL_SET_MAIL;
        break;
    default:
        d->sms = value;
        d->sms_set_case = CRM__CONTACTS__DO_NOT_CONTACT__SMS_SET_SMS;
    }
}

// --- time -----------------------------------------------------------------------------

//  Microseconds since the epoch as the service writes times: "2026-11-22T08:30:00.123456Z".
void contacts_consent_time_format(int64_t us, char *out, size_t size) {
    time_t seconds = (time_t)(us / 1000000);
    int micros = (int)(us % 1000000);
    if (micros < 0) {
        micros += 1000000;
        seconds--;
    }
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char text[24];
    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%.19s.%06dZ", text, micros);
}

int64_t contacts_consent_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

//  Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian).
static int64_t s_days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

//  Read n digits at *p (advancing it) into *value; false if they are not all digits.
static bool s_digits(const char **p, int n, int *value) {
    *value = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return false;
        *value = *value * 10 + (**p - '0');
    }
    return true;
}

//  An RFC 3339 date-time ("2026-11-20T14:05:00Z", "2026-11-20T09:05:00.5-05:00") to
//  microseconds since the epoch. False when text is not one, or names no real moment.
static bool s_rfc3339_parse(const char *text, int64_t *us) {
    const char *p = text;
    int year, month, day, hour, minute, second, micros = 0, offset = 0;
    if (!s_digits(&p, 4, &year) || *p++ != '-' || !s_digits(&p, 2, &month) || *p++ != '-' ||
        !s_digits(&p, 2, &day) || (*p != 'T' && *p != 't' && *p != ' '))
        return false;
    p++;
    if (!s_digits(&p, 2, &hour) || *p++ != ':' || !s_digits(&p, 2, &minute) || *p++ != ':' ||
        !s_digits(&p, 2, &second))
        return false;
    if (*p == '.') {
        //  Up to nine digits (nanoseconds), kept to the microsecond.
        int digits = 0;
        for (p++; isdigit((unsigned char)*p); p++, digits++)
            if (digits < 6)
                micros = micros * 10 + (*p - '0');
        if (digits == 0 || digits > 9)
            return false;
        for (; digits < 6; digits++)
            micros *= 10;
    }
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (!s_digits(&p, 2, &oh) || *p++ != ':' || !s_digits(&p, 2, &om) || oh > 23 || om > 59)
            return false;
        offset = sign * (oh * 60 + om);
    } else
        return false;
    if (*p)
        return false;
    static const int days_in[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month < 1 || month > 12 || day < 1 || day > days_in[month - 1] + (month == 2 && leap) ||
        hour > 23 || minute > 59 || second > 59)
        return false;
    int64_t seconds = s_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                      second - (int64_t)offset * 60;
    *us = seconds * 1000000 + micros;
    return true;
}

bool contacts_consent_time_parse(const char *text, int64_t *us) {
    return text && s_rfc3339_parse(text, us);
}

// --- the state of one contact ---------------------------------------------------------

void contacts_consent_state_reset(contacts_consent_state_t *st) {
    for (size_t c = 0; c < CONTACTS_CONSENT_CHANNELS; c++)
        for (size_t p = 0; p < CONTACTS_CONSENT_PURPOSES; p++)
            if (st->consents[c][p])
                crm__contacts__consent__free_unpacked(st->consents[c][p], NULL);
    memset(st, 0, sizeof *st);
}

//  Whether contact st may be contacted by channel for purpose now, and why not.
bool contacts_consent_verdict(const contacts_consent_state_t *st, int channel, int purpose,
                              Crm__Contacts__CanContactReason *reason, char *detail, size_t size) {
    char cname[32], pname[32];
    crm_enum_api_name(&crm__contacts__channel__descriptor, channel, cname, sizeof cname);
    crm_enum_api_name(&crm__contacts__purpose__descriptor, purpose, pname, sizeof pname);
    int flag = s_flag_of(channel);
    *reason = CRM__CONTACTS__CAN_CONTACT_REASON__CAN_CONTACT_REASON_UNSPECIFIED;
    if (st->flags[flag]) {
        *reason = CRM__CONTACTS__CAN_CONTACT_REASON__CAN_CONTACT_REASON_DO_NOT_CONTACT;
        snprintf(detail, size, "%s is set: no %s, whatever the consents", s_flag_paths[flag],
                 cname);
        return false;
    }
    if (purpose == CRM__CONTACTS__PURPOSE__PURPOSE_FOLLOW_UP) {
        if (st->stop_follow_ups) {
            *reason = CRM__CONTACTS__CAN_CONTACT_REASON__CAN_CONTACT_REASON_STOP_FOLLOW_UPS;
            snprintf(detail, size, "follow-ups are stopped for this contact");
            return false;
        }
        snprintf(detail, size, "a follow-up needs no consent, and follow-ups are not stopped");
        return true;
    }
    const Crm__Contacts__Consent *consent = st->consents[contacts_consent_channel_index(channel)]
                                                        [contacts_consent_purpose_index(purpose)];
    if (!consent) {
        *reason = CRM__CONTACTS__CAN_CONTACT_REASON__CAN_CONTACT_REASON_NO_CONSENT;
        snprintf(detail, size, "no %s consent is recorded for %s", pname, cname);
        return false;
    }
    if (consent->status != CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_GRANTED) {
        *reason = CRM__CONTACTS__CAN_CONTACT_REASON__CAN_CONTACT_REASON_WITHDRAWN;
        snprintf(detail, size, "%s consent for %s was withdrawn at %s", pname, cname,
                 consent->effective_at);
        return false;
    }
    snprintf(detail, size, "%s consent for %s was granted at %s", pname, cname,
             consent->effective_at);
    return true;
}

//  The rules as the API shows them, made from st (whose consents it takes).
Crm__Contacts__CommunicationRules *contacts_consent_rules_new(contacts_consent_state_t *st,
                                                              const char *contact_id) {
    Crm__Contacts__CommunicationRules *r = malloc(sizeof *r);
    crm__contacts__communication_rules__init(r);
    crm_pb_string_set(&r->contact_id, contact_id);
    r->do_not_contact = malloc(sizeof *r->do_not_contact);
    crm__contacts__do_not_contact__init(r->do_not_contact);
    for (int f = 0; f < CONTACTS_CONSENT_FLAGS; f++)
        contacts_consent_dnc_set(r->do_not_contact, f, st->flags[f]);
    r->stop_follow_ups = st->stop_follow_ups;
    r->stop_follow_ups_set_case =
        CRM__CONTACTS__COMMUNICATION_RULES__STOP_FOLLOW_UPS_SET_STOP_FOLLOW_UPS;
    r->retention_days = st->retention_days;
    crm_pb_string_set(&r->retain_until, st->retain_until);
    crm_pb_string_set(&r->updated_at, st->updated_at);
    crm_pb_string_set(&r->updated_by, st->updated_by);
    r->consents =
        calloc(CONTACTS_CONSENT_CHANNELS * CONTACTS_CONSENT_PURPOSES, sizeof *r->consents);
    for (size_t c = 0; c < CONTACTS_CONSENT_CHANNELS; c++)
        for (size_t p = 0; p < CONTACTS_CONSENT_PURPOSES; p++) {
            Crm__Contacts__Consent *consent = st->consents[c][p];
            if (!consent) {
                consent = malloc(sizeof *consent);
                crm__contacts__consent__init(consent);
                consent->channel = s_channels[c];
                consent->purpose = s_purposes[p];
                consent->status = CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_UNKNOWN;
            }
            Crm__Contacts__CanContactReason reason;
            char detail[256];
            consent->allowed = contacts_consent_verdict(st, s_channels[c], s_purposes[p], &reason,
                                                        detail, sizeof detail);
            consent->allowed_set_case = CRM__CONTACTS__CONSENT__ALLOWED_SET_ALLOWED;
            r->consents[r->n_consents++] = consent;
            st->consents[c][p] = NULL;
        }
    return r;
}

// --- validation -----------------------------------------------------------------------

//  Check an enum member of a request: required (unless optional) and one of desc's values.
static void s_check_enum(crm_errors_t *errors, const char *field,
                         const ProtobufCEnumDescriptor *desc, int value, bool optional,
                         const char *accepted) {
    if (value == 0 && !optional)
        crm_errors_add(errors, field, "is required: one of %s", accepted);
    else if (value != 0 && !protobuf_c_enum_descriptor_get_value(desc, value))
        crm_errors_add(errors, field, "is not one of %s", accepted);
}

#define CHANNELS_ACCEPTED "email, sms, phone, whatsapp, mail"
#define METHODS_ACCEPTED                                                                           \
    "web_form, verbal, written, email_reply, sms_stop, import, api, unsubscribe"

static void s_check_channel_purpose(crm_errors_t *errors, int channel, int purpose,
                                    bool follow_up) {
    s_check_enum(errors, "channel", &crm__contacts__channel__descriptor, channel, false,
                 CHANNELS_ACCEPTED);
    if (follow_up)
        s_check_enum(errors, "purpose", &crm__contacts__purpose__descriptor, purpose, false,
                     "marketing, analytics, follow_up");
    else if (purpose == CRM__CONTACTS__PURPOSE__PURPOSE_FOLLOW_UP)
        crm_errors_add(errors, "purpose",
                       "is not a purpose consent is recorded for (marketing, analytics):"
                       " a follow-up needs none; stop follow-ups with stopFollowUps");
    else
        s_check_enum(errors, "purpose", &crm__contacts__purpose__descriptor, purpose, false,
                     "marketing, analytics");
}

// --- requests -------------------------------------------------------------------------

int contacts_consent_record_check(const Crm__Contacts__RecordConsentRequest *req, int64_t now_us,
                                  int64_t *effective_us, crm_errors_t *errors) {
    s_check_channel_purpose(errors, req->channel, req->purpose, false);
    if (!req->granted_set_case)
        crm_errors_add(errors, "granted", "is required: true (granted) or false (withdrawn)");
    s_check_enum(errors, "method", &crm__contacts__consent_method__descriptor, req->method, false,
                 METHODS_ACCEPTED);
    if (req->method == CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_SMS_STOP &&
        (req->channel != CRM__CONTACTS__CHANNEL__CHANNEL_SMS || req->granted))
        crm_errors_add(errors, "method", "sms_stop only withdraws consent for sms");
    if (req->method == CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_UNSUBSCRIBE &&
        (req->channel != CRM__CONTACTS__CHANNEL__CHANNEL_EMAIL || req->granted))
        crm_errors_add(errors, "method", "unsubscribe only withdraws consent for email");
    if (crm_utf8_chars(req->note) > NOTE_MAX_LEN)
        crm_errors_add(errors, "note", "must be at most %d characters", NOTE_MAX_LEN);
    *effective_us = now_us;
    if (req->effective_at[0] && !s_rfc3339_parse(req->effective_at, effective_us))
        crm_errors_add(errors, "effectiveAt",
                       "is not a date and time in RFC 3339 form (2026-11-20T14:05:00Z)");
    else if (*effective_us > now_us + CLOCK_SKEW_US)
        crm_errors_add(errors, "effectiveAt", "is in the future: record a decision once made");
    else if (*effective_us < 0)
        crm_errors_add(errors, "effectiveAt", "is before 1970");
    if (errors->n)
        return -1;
    if (*effective_us > now_us)
        *effective_us = now_us; // the client's clock runs a little fast
    return 0;
}

bool contacts_consent_is_current(const contacts_consent_state_t *st,
                                 const Crm__Contacts__RecordConsentRequest *req,
                                 const char *effective_at) {
    const Crm__Contacts__Consent *held = st->consents[contacts_consent_channel_index(req->channel)]
                                                     [contacts_consent_purpose_index(req->purpose)];
    return !held || strcmp(effective_at, held->effective_at) >= 0;
}

int contacts_can_contact_check(const Crm__Contacts__CanContactRequest *req, crm_errors_t *errors) {
    s_check_channel_purpose(errors, req->channel, req->purpose, true);
    return errors->n ? -1 : 0;
}

int contacts_history_cursor_check(const char *cursor, crm_errors_t *errors) {
    if (cursor[0] && !crm_uuid_valid(cursor))
        crm_errors_add(errors, "cursor", "is not a cursor returned by this list");
    return errors->n ? -1 : 0;
}

//  The mask paths a PATCH may name besides the flags.
static bool s_mask_known(const char *path) {
    static const char *const names[] = {"doNotContact", "stopFollowUps", "retentionDays", "method",
                                        "reason"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(path, names[i]) == 0)
            return true;
    for (int f = 0; f < CONTACTS_CONSENT_FLAGS; f++)
        if (strcmp(path, s_flag_paths[f]) == 0)
            return true;
    return false;
}

int contacts_communication_update_check(const Crm__Contacts__UpdateCommunicationRulesRequest *req,
                                        contacts_rules_change_t *want, crm_errors_t *errors) {
    static const Crm__Contacts__CommunicationRulesUpdate empty =
        CRM__CONTACTS__COMMUNICATION_RULES_UPDATE__INIT;
    const Crm__Contacts__CommunicationRulesUpdate *u = req->rules ? req->rules : &empty;
    //  What the mask asks for: each flag -1 (unchanged), 0 or 1; the same for the others.
    int *flags = want->flags;
    int stop = -1, retention = -1;
    for (int f = 0; f < CONTACTS_CONSENT_FLAGS; f++)
        flags[f] = -1;
    for (size_t i = 0; i < req->n_update_mask; i++) {
        const char *path = req->update_mask[i];
        if (!s_mask_known(path)) {
            crm_errors_add(errors, path,
                           "is not a rule that can be changed (doNotContact, "
                           "doNotContact.call|email|mail|sms, stopFollowUps, retentionDays)");
            continue;
        }
        if (strcmp(path, "doNotContact") == 0) {
            int named = 0;
            for (int f = 0; f < CONTACTS_CONSENT_FLAGS; f++)
                if (s_dnc_get(u->do_not_contact, f) >= 0) {
                    flags[f] = s_dnc_get(u->do_not_contact, f);
                    named++;
                }
            if (!named)
                crm_errors_add(errors, "doNotContact",
                               "names no flag: give call, email, mail or sms");
        } else if (strcmp(path, "stopFollowUps") == 0)
            stop = u->stop_follow_ups_set_case ? u->stop_follow_ups : 0;
        else if (strcmp(path, "retentionDays") == 0) {
            retention = u->retention_days_set_case ? u->retention_days : 0;
            if (retention < 0 || retention > RETENTION_MAX_DAYS) {
                crm_errors_add(errors, "retentionDays", "must be from 1 to %d days, or 0 for none",
                               RETENTION_MAX_DAYS);
                retention = -1;
            }
        } else
            for (int f = 0; f < CONTACTS_CONSENT_FLAGS; f++)
                if (strcmp(path, s_flag_paths[f]) == 0)
                    flags[f] = s_dnc_get(u->do_not_contact, f) > 0;
    }
    s_check_enum(errors, "method", &crm__contacts__consent_method__descriptor, u->method, true,
                 METHODS_ACCEPTED);
    if (u->method == CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_SMS_STOP &&
        (flags[CONTACTS_FLAG_SMS] != 1 || flags[CONTACTS_FLAG_CALL] >= 0 ||
         flags[CONTACTS_FLAG_EMAIL] >= 0 || flags[CONTACTS_FLAG_MAIL] >= 0 || stop >= 0 ||
         retention >= 0))
        crm_errors_add(errors, "method", "sms_stop only sets doNotContact.sms");
    if (crm_utf8_chars(u->reason) > REASON_MAX_LEN)
        crm_errors_add(errors, "reason", "must be at most %d characters", REASON_MAX_LEN);
    want->stop_follow_ups = stop;
    want->retention_days = retention;
    want->method = u->method;
    want->reason = u->reason;
    return errors->n ? -1 : 0;
}

//  One change a PATCH makes, for the history and the event.
static void s_change_add(json_t *changes, Crm__Events__ContactCommunicationRulesChanged *event,
                         const char *kind, const char *field, json_t *enabled,
                         json_t *retention_days) {
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    json_array_append_new(changes,
                          json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", id, "kind", kind, "field",
                                    field, "enabled", enabled, "retention_days", retention_days));
    event->changed[event->n_changed++] = (char *)field;
}

void contacts_communication_apply(contacts_consent_state_t *st, const contacts_rules_change_t *want,
                                  int64_t now_us, json_t *changes,
                                  Crm__Events__ContactCommunicationRulesChanged *event) {
    const int *flags = want->flags;
    int stop = want->stop_follow_ups, retention = want->retention_days;
    for (int f = 0; f < CONTACTS_CONSENT_FLAGS; f++)
        if (flags[f] >= 0 && (bool)flags[f] != st->flags[f]) {
            st->flags[f] = flags[f];
            s_change_add(changes, event, "do_not_contact", s_flag_paths[f], json_boolean(flags[f]),
                         json_null());
        }
    if (stop >= 0 && (bool)stop != st->stop_follow_ups) {
        st->stop_follow_ups = stop;
        s_change_add(changes, event, "stop_follow_ups", "stopFollowUps", json_boolean(stop),
                     json_null());
    }
    if (retention >= 0 && retention != st->retention_days) {
        //  The period runs from when it is set.
        st->retention_days = retention;
        st->retain_until[0] = 0;
        if (retention)
            contacts_consent_time_format(now_us + retention * US_PER_DAY, st->retain_until,
                                         sizeof st->retain_until);
        s_change_add(changes, event, "retention", "retentionDays", json_null(),
                     retention ? json_integer(retention) : json_null());
    }
}
