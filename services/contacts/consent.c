/*  consent: a contact's communication rules — do-not-contact by call, email, mail and
    SMS, stop-follow-ups, a retention period — and its consent per channel and purpose,
    with the history of every change.

    Three tables (migrations/0011_consent.sql): communication_rules (the flags as they
    stand), consents (the current decision per channel and purpose) and
    communication_history (every change, append-only). A write first reads the contact's
    state with the contact row locked (so two writes to one contact take turns, and a
    deleted contact is not written to), works out what changes, then writes the history,
    the current state and the event in one statement.

    Precedence, as CanContact answers it and as consumers of the events must apply it:
    a do-not-contact flag wins over any consent (do-not-call stops the phone channel,
    do-not-sms stops SMS and WhatsApp, do-not-email email, do-not-mail mail); then a
    follow-up is allowed unless follow-ups are stopped, and marketing or analytics needs
    a granted consent for the channel and purpose. Of several decisions for one channel
    and purpose the one with the latest effective time stands (a later recording wins a
    tie), so a decision back-filled from an old paper form does not undo a newer one.
*/
#include "contacts.h"
#include "outbox.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "page.h"
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
#define S_CHANNELS (sizeof s_channels / sizeof s_channels[0])

//  The purposes consent is recorded for (a follow-up needs none).
static const Crm__Contacts__Purpose s_purposes[] = {CRM__CONTACTS__PURPOSE__PURPOSE_MARKETING,
                                                    CRM__CONTACTS__PURPOSE__PURPOSE_ANALYTICS};
#define S_PURPOSES (sizeof s_purposes / sizeof s_purposes[0])

//  The do-not-contact flags, by their path in a PATCH mask (and in the history).
enum { FLAG_CALL, FLAG_EMAIL, FLAG_MAIL, FLAG_SMS, S_FLAGS };
static const char *const s_flag_paths[S_FLAGS] = {"doNotContact.call", "doNotContact.email",
                                                  "doNotContact.mail", "doNotContact.sms"};

//  The flag that stops a channel: a WhatsApp message is a text message too.
static int s_flag_of(Crm__Contacts__Channel channel) {
    switch (channel) {
    case CRM__CONTACTS__CHANNEL__CHANNEL_PHONE:
        return FLAG_CALL;
    case CRM__CONTACTS__CHANNEL__CHANNEL_EMAIL:
        return FLAG_EMAIL;
    case CRM__CONTACTS__CHANNEL__CHANNEL_MAIL:
        return FLAG_MAIL;
    default:
        return FLAG_SMS;
    }
}

static int s_channel_index(int channel) {
    for (size_t i = 0; i < S_CHANNELS; i++)
        if ((int)s_channels[i] == channel)
            return (int)i;
    return -1;
}

static int s_purpose_index(int purpose) {
    for (size_t i = 0; i < S_PURPOSES; i++)
        if ((int)s_purposes[i] == purpose)
            return (int)i;
    return -1;
}

//  A member of DoNotContact by flag: -1 when absent (PATCH), else 0 or 1.
static int s_dnc_get(const Crm__Contacts__DoNotContact *d, int flag) {
    if (!d)
        return -1;
    switch (flag) {
    case FLAG_CALL:
        return d->call_set_case ? d->call : -1;
    case FLAG_EMAIL:
        return d->email_set_case ? d->email : -1;
    case FLAG_MAIL:
        return d->mail_set_case ? d->mail : -1;
    default:
        return d->sms_set_case ? d->sms : -1;
    }
}

static void s_dnc_set(Crm__Contacts__DoNotContact *d, int flag, bool value) {
    switch (flag) {
    case FLAG_CALL:
        d->call = value;
        d->call_set_case = CRM__CONTACTS__DO_NOT_CONTACT__CALL_SET_CALL;
        break;
    case FLAG_EMAIL:
        d->email = value;
        d->email_set_case = CRM__CONTACTS__DO_NOT_CONTACT__EMAIL_SET_EMAIL;
        break;
    case FLAG_MAIL:
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
static void s_time_format(int64_t us, char *out, size_t size) {
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

static int64_t s_now_us(void) {
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

// --- statements -----------------------------------------------------------------------

// clang-format off

//  A consent as the API shows it, from a consents row s.
#define CONSENT_JSON                                                                          \
    "json_build_object('channel', s.channel, 'purpose', s.purpose,"                           \
    " 'status', CASE WHEN s.granted THEN 'granted' ELSE 'withdrawn' END,"                     \
    " 'method', s.method, 'note', s.note,"                                                    \
    " 'effectiveAt', " CONTACTS_TS("s.effective_at") ","                                      \
    " 'recordedAt', " CONTACTS_TS("s.recorded_at") ","                                        \
    " 'recordedBy', s.recorded_by, 'changeId', s.change_id)"

//  A history entry as the API shows it, from a communication_history row h.
#define CHANGE_JSON                                                                           \
    "json_build_object('id', h.id, 'contactId', h.contact_id, 'kind', h.kind,"                \
    " 'channel', h.channel, 'purpose', h.purpose, 'granted', h.granted, 'field', h.field,"    \
    " 'enabled', h.enabled,"                                                                  \
    " 'retentionDays', CASE WHEN h.kind = 'retention'"                                        \
    "                  THEN coalesce(h.retention_days, 0) END,"                               \
    " 'method', nullif(h.method, ''), 'note', h.note,"                                        \
    " 'effectiveAt', " CONTACTS_TS("h.effective_at") ","                                      \
    " 'recordedAt', " CONTACTS_TS("h.recorded_at") ","                                        \
    " 'recordedBy', h.recorded_by)::text"

//  A live contact's rules, its consents (a JSON array) and its last change; no row when
//  the contact is not a live contact of the tenant.
#define STATE_SQL                                                                             \
    "SELECT coalesce(r.do_not_call, false), coalesce(r.do_not_email, false),"                 \
    "  coalesce(r.do_not_mail, false), coalesce(r.do_not_sms, false),"                        \
    "  coalesce(r.stop_follow_ups, false), coalesce(r.retention_days, 0),"                    \
    "  coalesce(" CONTACTS_TS("r.retain_until") ", ''),"                                      \
    "  (SELECT coalesce(json_agg(" CONSENT_JSON "), '[]')::text FROM consents s"              \
    "   WHERE s.tenant_id = $1 AND s.contact_id = c.id),"                                     \
    "  coalesce(last.at, ''), coalesce(last.by, '')"                                          \
    " FROM contacts c"                                                                        \
    " LEFT JOIN communication_rules r ON r.tenant_id = c.tenant_id AND r.contact_id = c.id"   \
    " LEFT JOIN LATERAL ("                                                                    \
    "   SELECT " CONTACTS_TS("h.recorded_at") " AS at, h.recorded_by AS by"                   \
    "   FROM communication_history h WHERE h.tenant_id = $1 AND h.contact_id = c.id"          \
    "   ORDER BY h.id DESC LIMIT 1) last ON true"                                             \
    " WHERE c.tenant_id = $1 AND c.id = $2::uuid AND c.deleted_at IS NULL"

static const crm_stmt_t s_state = {.name = "consent_state", .sql = STATE_SQL, .nparams = 2};

//  The same, the contact's row locked until the transaction ends: writes take turns.
static const crm_stmt_t s_state_for_update = {
    .name = "consent_state_for_update", .sql = STATE_SQL " FOR UPDATE OF c", .nparams = 2};

//  $3 the history id, $4 channel, $5 purpose, $6 granted, $7 method, $8 note, $9 the
//  effective time, $10 now, $11 the actor, $12 whether it becomes the current decision,
//  $13 the event id, $14 the payload.
static const crm_stmt_t s_consent_record = {
    .name = "consent_record",
    .sql = "WITH hist AS ("
           "  INSERT INTO communication_history (tenant_id, id, contact_id, kind, channel,"
           "    purpose, granted, method, note, effective_at, recorded_at, recorded_by)"
           "  VALUES ($1, $3::uuid, $2::uuid, 'consent', $4, $5, $6::boolean, $7, $8,"
           "          $9::timestamptz, $10::timestamptz, $11)"
           "  RETURNING 1),"
           " cur AS ("
           "  INSERT INTO consents (tenant_id, contact_id, channel, purpose, granted, method,"
           "    note, effective_at, recorded_at, recorded_by, change_id)"
           "  SELECT $1, $2::uuid, $4, $5, $6::boolean, $7, $8, $9::timestamptz,"
           "         $10::timestamptz, $11, $3::uuid"
           "  WHERE $12::boolean"
           "  ON CONFLICT (tenant_id, contact_id, channel, purpose) DO UPDATE"
           "  SET granted = excluded.granted, method = excluded.method, note = excluded.note,"
           "    effective_at = excluded.effective_at, recorded_at = excluded.recorded_at,"
           "    recorded_by = excluded.recorded_by, change_id = excluded.change_id"
           "  RETURNING 1),"
           CONTACTS_OUTBOX_SQL("ContactConsentChanged", "hist", "$10", "$13", "$14")
           " SELECT count(*) FROM hist",
    .nparams = 14,
    .writes = true};

//  $3-$6 the flags (call, email, mail, sms), $7 stop-follow-ups, $8 retention days and
//  $9 its end ('' for none), $10 now, $11 the actor, $12 the history entries (a JSON
//  array of {id, kind, field, enabled, retention_days}), $13 method, $14 reason, $15 the
//  event id, $16 the payload.
static const crm_stmt_t s_rules_write = {
    .name = "consent_rules_write",
    .sql = "WITH r AS ("
           "  INSERT INTO communication_rules (tenant_id, contact_id, do_not_call, do_not_email,"
           "    do_not_mail, do_not_sms, stop_follow_ups, retention_days, retain_until,"
           "    updated_at, updated_by)"
           "  VALUES ($1, $2::uuid, $3::boolean, $4::boolean, $5::boolean, $6::boolean,"
           "          $7::boolean, nullif($8, '')::integer, nullif($9, '')::timestamptz,"
           "          $10::timestamptz, $11)"
           "  ON CONFLICT (tenant_id, contact_id) DO UPDATE"
           "  SET do_not_call = excluded.do_not_call, do_not_email = excluded.do_not_email,"
           "    do_not_mail = excluded.do_not_mail, do_not_sms = excluded.do_not_sms,"
           "    stop_follow_ups = excluded.stop_follow_ups,"
           "    retention_days = excluded.retention_days, retain_until = excluded.retain_until,"
           "    updated_at = excluded.updated_at, updated_by = excluded.updated_by"
           "  RETURNING 1),"
           " hist AS ("
           "  INSERT INTO communication_history (tenant_id, id, contact_id, kind, field,"
           "    enabled, retention_days, method, note, effective_at, recorded_at, recorded_by)"
           "  SELECT $1, x.id, $2::uuid, x.kind, x.field, x.enabled, x.retention_days, $13,"
           "         $14, $10::timestamptz, $10::timestamptz, $11"
           "  FROM jsonb_to_recordset($12::jsonb)"
           "       AS x(id uuid, kind text, field text, enabled boolean, retention_days integer)"
           "  RETURNING 1),"
           CONTACTS_OUTBOX_SQL("ContactCommunicationRulesChanged", "r", "$10", "$15", "$16")
           " SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM hist)",
    .nparams = 16,
    .writes = true};

//  One page of a live contact's history, newest first, after the cursor $3; one row
//  with a NULL entry when the contact has none (no row: no such contact).
static const crm_stmt_t s_history = {
    .name = "consent_history",
    .sql = "SELECT e.entry FROM contacts c LEFT JOIN LATERAL ("
           "  SELECT " CHANGE_JSON " AS entry, h.id FROM communication_history h"
           "  WHERE h.tenant_id = $1 AND h.contact_id = c.id"
           "    AND h.id < coalesce(nullif($3, '')::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')"
           "  ORDER BY h.id DESC LIMIT $4::int) e ON true"
           " WHERE c.tenant_id = $1 AND c.id = $2::uuid AND c.deleted_at IS NULL"
           " ORDER BY e.id DESC",
    .nparams = 4};

//  One consent decision $3 of a live contact's history.
static const crm_stmt_t s_change_get = {
    .name = "consent_change_get",
    .sql = "SELECT " CHANGE_JSON " FROM communication_history h"
           " JOIN contacts c ON c.tenant_id = h.tenant_id AND c.id = h.contact_id"
           "  AND c.deleted_at IS NULL"
           " WHERE h.tenant_id = $1 AND h.contact_id = $2::uuid AND h.id = $3::uuid"
           "  AND h.kind = 'consent'",
    .nparams = 3};

// clang-format on

// --- the state of one contact ---------------------------------------------------------

typedef struct {
    bool flags[S_FLAGS]; // do-not-contact, by FLAG_*
    bool stop_follow_ups;
    int retention_days; // 0: none
    char retain_until[40];
    char updated_at[40];
    char updated_by[128];
    //  The current decisions; NULL: unknown.
    Crm__Contacts__Consent *consents[S_CHANNELS][S_PURPOSES];
} s_state_t;

static void s_state_reset(s_state_t *st) {
    for (size_t c = 0; c < S_CHANNELS; c++)
        for (size_t p = 0; p < S_PURPOSES; p++)
            if (st->consents[c][p])
                crm__contacts__consent__free_unpacked(st->consents[c][p], NULL);
    memset(st, 0, sizeof *st);
}

static int s_not_found(crm_call_t *call) {
    crm_call_error(call, "not_found", "no such contact");
    return 404;
}

//  0 when id can name a contact; else 404 (a malformed id names none, whatever else the
//  request gets wrong).
static int s_check_contact_id(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return 0;
    crm_call_field_error(call, "id", "is not a valid contact id");
    return s_not_found(call);
}

static int s_unreadable(crm_call_t *call, const char *what, const crm_json_error_t *err) {
    crm_log_kv(CRM_LOG_ERROR, "stored communication rules do not parse", "what", what, "field",
               err->field, "detail", err->message, NULL);
    crm_call_error(call, "internal", "stored communication rules are unreadable");
    return 500;
}

//  Read the rules and consents of live contact id (for_update: and lock it). 200 with
//  st filled, 404, or a failure code.
static int s_state_read(crm_call_t *call, const char *id, bool for_update, s_state_t *st) {
    memset(st, 0, sizeof *st);
    if (s_check_contact_id(call, id))
        return 404;
    const char *params[] = {call->header->tenant_id, id};
    PGresult *res = crm_db_query(call->db, for_update ? &s_state_for_update : &s_state, params);
    if (!res)
        return crm_call_db_failure(call);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return s_not_found(call);
    }
    for (int f = 0; f < S_FLAGS; f++)
        st->flags[f] = PQgetvalue(res, 0, f)[0] == 't';
    st->stop_follow_ups = PQgetvalue(res, 0, 4)[0] == 't';
    st->retention_days = atoi(PQgetvalue(res, 0, 5));
    snprintf(st->retain_until, sizeof st->retain_until, "%s", PQgetvalue(res, 0, 6));
    snprintf(st->updated_at, sizeof st->updated_at, "%s", PQgetvalue(res, 0, 8));
    snprintf(st->updated_by, sizeof st->updated_by, "%s", PQgetvalue(res, 0, 9));
    const char *text = PQgetvalue(res, 0, 7);
    json_error_t jerr;
    json_t *array = json_loads(text, 0, &jerr);
    int code = 200;
    for (size_t i = 0; code == 200 && i < json_array_size(array); i++) {
        crm_json_error_t err;
        Crm__Contacts__Consent *consent = (Crm__Contacts__Consent *)crm_json_value_to_pb(
            &crm__contacts__consent__descriptor, json_array_get(array, i), "", &err);
        if (!consent) {
            code = s_unreadable(call, "consent", &err);
            break;
        }
        int c = s_channel_index(consent->channel), p = s_purpose_index(consent->purpose);
        if (c < 0 || p < 0 || st->consents[c][p]) {
            crm__contacts__consent__free_unpacked(consent, NULL);
            continue;
        }
        st->consents[c][p] = consent;
    }
    json_decref(array);
    PQclear(res);
    if (code != 200)
        s_state_reset(st);
    return code;
}

//  Whether contact st may be contacted by channel for purpose now, and why not.
static bool s_verdict(const s_state_t *st, int channel, int purpose,
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
    const Crm__Contacts__Consent *consent =
        st->consents[s_channel_index(channel)][s_purpose_index(purpose)];
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
static Crm__Contacts__CommunicationRules *s_rules_new(s_state_t *st, const char *contact_id) {
    Crm__Contacts__CommunicationRules *r = malloc(sizeof *r);
    crm__contacts__communication_rules__init(r);
    crm_pb_string_set(&r->contact_id, contact_id);
    r->do_not_contact = malloc(sizeof *r->do_not_contact);
    crm__contacts__do_not_contact__init(r->do_not_contact);
    for (int f = 0; f < S_FLAGS; f++)
        s_dnc_set(r->do_not_contact, f, st->flags[f]);
    r->stop_follow_ups = st->stop_follow_ups;
    r->stop_follow_ups_set_case =
        CRM__CONTACTS__COMMUNICATION_RULES__STOP_FOLLOW_UPS_SET_STOP_FOLLOW_UPS;
    r->retention_days = st->retention_days;
    crm_pb_string_set(&r->retain_until, st->retain_until);
    crm_pb_string_set(&r->updated_at, st->updated_at);
    crm_pb_string_set(&r->updated_by, st->updated_by);
    r->consents = calloc(S_CHANNELS * S_PURPOSES, sizeof *r->consents);
    for (size_t c = 0; c < S_CHANNELS; c++)
        for (size_t p = 0; p < S_PURPOSES; p++) {
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
            consent->allowed =
                s_verdict(st, s_channels[c], s_purposes[p], &reason, detail, sizeof detail);
            consent->allowed_set_case = CRM__CONTACTS__CONSENT__ALLOWED_SET_ALLOWED;
            r->consents[r->n_consents++] = consent;
            st->consents[c][p] = NULL;
        }
    return r;
}

// --- validation -----------------------------------------------------------------------

//  Check an enum member of a request: required (unless optional) and one of desc's values.
static void s_check_enum(crm_call_t *call, const char *field, const ProtobufCEnumDescriptor *desc,
                         int value, bool optional, const char *accepted) {
    if (value == 0 && !optional)
        crm_call_field_error(call, field, "is required: one of %s", accepted);
    else if (value != 0 && !protobuf_c_enum_descriptor_get_value(desc, value))
        crm_call_field_error(call, field, "is not one of %s", accepted);
}

#define CHANNELS_ACCEPTED "email, sms, phone, whatsapp, mail"
#define METHODS_ACCEPTED "web_form, verbal, written, email_reply, sms_stop, import, api"

static void s_check_channel_purpose(crm_call_t *call, int channel, int purpose, bool follow_up) {
    s_check_enum(call, "channel", &crm__contacts__channel__descriptor, channel, false,
                 CHANNELS_ACCEPTED);
    if (follow_up)
        s_check_enum(call, "purpose", &crm__contacts__purpose__descriptor, purpose, false,
                     "marketing, analytics, follow_up");
    else if (purpose == CRM__CONTACTS__PURPOSE__PURPOSE_FOLLOW_UP)
        crm_call_field_error(call, "purpose",
                             "is not a purpose consent is recorded for (marketing, analytics):"
                             " a follow-up needs none; stop follow-ups with stopFollowUps");
    else
        s_check_enum(call, "purpose", &crm__contacts__purpose__descriptor, purpose, false,
                     "marketing, analytics");
}

// --- methods --------------------------------------------------------------------------

int contacts_communication_get(crm_call_t *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response) {
    const Crm__Contacts__GetCommunicationRulesRequest *req = (const void *)request;
    s_state_t st;
    int code = s_state_read(call, req->id, false, &st);
    if (code != 200)
        return code;
    *response = &s_rules_new(&st, req->id)->base;
    s_state_reset(&st);
    return 200;
}

int contacts_consent_record(crm_call_t *call, const ProtobufCMessage *request,
                            ProtobufCMessage **response) {
    const Crm__Contacts__RecordConsentRequest *req = (const void *)request;
    if (s_check_contact_id(call, req->id))
        return 404;
    s_check_channel_purpose(call, req->channel, req->purpose, false);
    if (!req->granted_set_case)
        crm_call_field_error(call, "granted", "is required: true (granted) or false (withdrawn)");
    s_check_enum(call, "method", &crm__contacts__consent_method__descriptor, req->method, false,
                 METHODS_ACCEPTED);
    if (req->method == CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_SMS_STOP &&
        (req->channel != CRM__CONTACTS__CHANNEL__CHANNEL_SMS || req->granted))
        crm_call_field_error(call, "method", "sms_stop only withdraws consent for sms");
    if (crm_utf8_chars(req->note) > NOTE_MAX_LEN)
        crm_call_field_error(call, "note", "must be at most %d characters", NOTE_MAX_LEN);
    int64_t now_us = s_now_us(), effective_us = now_us;
    if (req->effective_at[0] && !s_rfc3339_parse(req->effective_at, &effective_us))
        crm_call_field_error(call, "effectiveAt",
                             "is not a date and time in RFC 3339 form (2026-11-20T14:05:00Z)");
    else if (effective_us > now_us + CLOCK_SKEW_US)
        crm_call_field_error(call, "effectiveAt", "is in the future: record a decision once made");
    else if (effective_us < 0)
        crm_call_field_error(call, "effectiveAt", "is before 1970");
    if (call->errors.n)
        return 422;
    if (effective_us > now_us)
        effective_us = now_us; // the client's clock runs a little fast

    s_state_t st;
    int code = s_state_read(call, req->id, true, &st);
    if (code != 200)
        return code;
    char now[40], effective_at[40], change_id[CRM_UUID_LEN + 1];
    s_time_format(now_us, now, sizeof now);
    s_time_format(effective_us, effective_at, sizeof effective_at);
    crm_uuid_v7(change_id);
    const Crm__Contacts__Consent *held =
        st.consents[s_channel_index(req->channel)][s_purpose_index(req->purpose)];
    bool current = !held || strcmp(effective_at, held->effective_at) >= 0;
    s_state_reset(&st);

    char channel[32], purpose[32], method[32];
    crm_enum_api_name(&crm__contacts__channel__descriptor, req->channel, channel, sizeof channel);
    crm_enum_api_name(&crm__contacts__purpose__descriptor, req->purpose, purpose, sizeof purpose);
    crm_enum_api_name(&crm__contacts__consent_method__descriptor, req->method, method, sizeof method);
    Crm__Events__ContactConsentChanged event = CRM__EVENTS__CONTACT_CONSENT_CHANGED__INIT;
    event.contact_id = req->id;
    event.channel = req->channel;
    event.purpose = req->purpose;
    event.granted = req->granted;
    event.method = req->method;
    event.actor_id = call->header->actor_id;
    event.effective_at = effective_at;
    event.recorded_at = now;
    event.current = current;
    event.change_id = change_id;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    const char *params[] = {call->header->tenant_id,
                            req->id,
                            change_id,
                            channel,
                            purpose,
                            req->granted ? "true" : "false",
                            method,
                            req->note,
                            effective_at,
                            now,
                            call->header->actor_id,
                            current ? "true" : "false",
                            ev.event_id,
                            ev.payload_hex};
    PGresult *res = crm_db_query(call->db, &s_consent_record, params);
    crm_outbox_event_reset(&ev);
    if (!res)
        return crm_call_db_failure(call);
    PQclear(res);

    Crm__Contacts__CommunicationChange *change = malloc(sizeof *change);
    crm__contacts__communication_change__init(change);
    crm_pb_string_set(&change->id, change_id);
    crm_pb_string_set(&change->contact_id, req->id);
    change->kind = CRM__CONTACTS__COMMUNICATION_CHANGE_KIND__COMMUNICATION_CHANGE_KIND_CONSENT;
    change->channel = req->channel;
    change->purpose = req->purpose;
    change->granted = req->granted;
    change->granted_set_case = CRM__CONTACTS__COMMUNICATION_CHANGE__GRANTED_SET_GRANTED;
    change->method = req->method;
    crm_pb_string_set(&change->note, req->note);
    crm_pb_string_set(&change->effective_at, effective_at);
    crm_pb_string_set(&change->recorded_at, now);
    crm_pb_string_set(&change->recorded_by, call->header->actor_id);
    *response = &change->base;
    return 201;
}

//  The mask paths a PATCH may name besides the flags.
static bool s_mask_known(const char *path) {
    static const char *const names[] = {"doNotContact", "stopFollowUps", "retentionDays", "method",
                                        "reason"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(path, names[i]) == 0)
            return true;
    for (int f = 0; f < S_FLAGS; f++)
        if (strcmp(path, s_flag_paths[f]) == 0)
            return true;
    return false;
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

int contacts_communication_update(crm_call_t *call, const ProtobufCMessage *request,
                                  ProtobufCMessage **response) {
    const Crm__Contacts__UpdateCommunicationRulesRequest *req = (const void *)request;
    static const Crm__Contacts__CommunicationRulesUpdate empty =
        CRM__CONTACTS__COMMUNICATION_RULES_UPDATE__INIT;
    const Crm__Contacts__CommunicationRulesUpdate *u = req->rules ? req->rules : &empty;
    if (s_check_contact_id(call, req->id))
        return 404;

    //  What the mask asks for: each flag -1 (unchanged), 0 or 1; the same for the others.
    int flags[S_FLAGS] = {-1, -1, -1, -1}, stop = -1, retention = -1;
    for (size_t i = 0; i < req->n_update_mask; i++) {
        const char *path = req->update_mask[i];
        if (!s_mask_known(path)) {
            crm_call_field_error(call, path,
                                 "is not a rule that can be changed (doNotContact, "
                                 "doNotContact.call|email|mail|sms, stopFollowUps, retentionDays)");
            continue;
        }
        if (strcmp(path, "doNotContact") == 0) {
            int named = 0;
            for (int f = 0; f < S_FLAGS; f++)
                if (s_dnc_get(u->do_not_contact, f) >= 0) {
                    flags[f] = s_dnc_get(u->do_not_contact, f);
                    named++;
                }
            if (!named)
                crm_call_field_error(call, "doNotContact",
                                     "names no flag: give call, email, mail or sms");
        } else if (strcmp(path, "stopFollowUps") == 0)
            stop = u->stop_follow_ups_set_case ? u->stop_follow_ups : 0;
        else if (strcmp(path, "retentionDays") == 0) {
            retention = u->retention_days_set_case ? u->retention_days : 0;
            if (retention < 0 || retention > RETENTION_MAX_DAYS) {
                crm_call_field_error(call, "retentionDays",
                                     "must be from 1 to %d days, or 0 for none",
                                     RETENTION_MAX_DAYS);
                retention = -1;
            }
        } else
            for (int f = 0; f < S_FLAGS; f++)
                if (strcmp(path, s_flag_paths[f]) == 0)
                    flags[f] = s_dnc_get(u->do_not_contact, f) > 0;
    }
    s_check_enum(call, "method", &crm__contacts__consent_method__descriptor, u->method, true,
                 METHODS_ACCEPTED);
    if (u->method == CRM__CONTACTS__CONSENT_METHOD__CONSENT_METHOD_SMS_STOP &&
        (flags[FLAG_SMS] != 1 || flags[FLAG_CALL] >= 0 || flags[FLAG_EMAIL] >= 0 ||
         flags[FLAG_MAIL] >= 0 || stop >= 0 || retention >= 0))
        crm_call_field_error(call, "method", "sms_stop only sets doNotContact.sms");
    if (crm_utf8_chars(u->reason) > REASON_MAX_LEN)
        crm_call_field_error(call, "reason", "must be at most %d characters", REASON_MAX_LEN);
    if (call->errors.n)
        return 422;

    s_state_t st;
    int code = s_state_read(call, req->id, true, &st);
    if (code != 200)
        return code;
    int64_t now_us = s_now_us();
    char now[40];
    s_time_format(now_us, now, sizeof now);
    Crm__Events__ContactCommunicationRulesChanged event =
        CRM__EVENTS__CONTACT_COMMUNICATION_RULES_CHANGED__INIT;
    char *changed[S_FLAGS + 2];
    event.changed = changed;
    json_t *changes = json_array();
    for (int f = 0; f < S_FLAGS; f++)
        if (flags[f] >= 0 && (bool)flags[f] != st.flags[f]) {
            st.flags[f] = flags[f];
            s_change_add(changes, &event, "do_not_contact", s_flag_paths[f], json_boolean(flags[f]),
                         json_null());
        }
    if (stop >= 0 && (bool)stop != st.stop_follow_ups) {
        st.stop_follow_ups = stop;
        s_change_add(changes, &event, "stop_follow_ups", "stopFollowUps", json_boolean(stop),
                     json_null());
    }
    if (retention >= 0 && retention != st.retention_days) {
        //  The period runs from when it is set.
        st.retention_days = retention;
        st.retain_until[0] = 0;
        if (retention)
            s_time_format(now_us + retention * US_PER_DAY, st.retain_until, sizeof st.retain_until);
        s_change_add(changes, &event, "retention", "retentionDays", json_null(),
                     retention ? json_integer(retention) : json_null());
    }

    //  Nothing changes (every value was already so): nothing to record.
    if (event.n_changed) {
        Crm__Contacts__DoNotContact dnc = CRM__CONTACTS__DO_NOT_CONTACT__INIT;
        for (int f = 0; f < S_FLAGS; f++)
            s_dnc_set(&dnc, f, st.flags[f]);
        event.contact_id = req->id;
        event.do_not_contact = &dnc;
        event.stop_follow_ups = st.stop_follow_ups;
        event.retention_days = st.retention_days;
        event.retain_until = st.retain_until;
        event.method = u->method;
        event.actor_id = call->header->actor_id;
        event.changed_at = now;
        crm_outbox_event_t ev;
        crm_outbox_event_init(&ev, &event.base, now);
        char days[16] = "", method[32];
        if (st.retention_days)
            snprintf(days, sizeof days, "%d", st.retention_days);
        crm_enum_api_name(&crm__contacts__consent_method__descriptor, u->method, method, sizeof method);
        char *entries = json_dumps(changes, JSON_COMPACT);
        const char *params[] = {call->header->tenant_id,
                                req->id,
                                st.flags[FLAG_CALL] ? "true" : "false",
                                st.flags[FLAG_EMAIL] ? "true" : "false",
                                st.flags[FLAG_MAIL] ? "true" : "false",
                                st.flags[FLAG_SMS] ? "true" : "false",
                                st.stop_follow_ups ? "true" : "false",
                                days,
                                st.retain_until,
                                now,
                                call->header->actor_id,
                                entries,
                                method,
                                u->reason,
                                ev.event_id,
                                ev.payload_hex};
        PGresult *res = crm_db_query(call->db, &s_rules_write, params);
        crm_outbox_event_reset(&ev);
        free(entries);
        if (!res)
            code = crm_call_db_failure(call);
        PQclear(res);
        snprintf(st.updated_at, sizeof st.updated_at, "%s", now);
        snprintf(st.updated_by, sizeof st.updated_by, "%s", call->header->actor_id);
    }
    json_decref(changes);
    if (code == 200)
        *response = &s_rules_new(&st, req->id)->base;
    s_state_reset(&st);
    return code;
}

int contacts_communication_history(crm_call_t *call, const ProtobufCMessage *request,
                                   ProtobufCMessage **response) {
    const Crm__Contacts__ListCommunicationHistoryRequest *req = (const void *)request;
    if (s_check_contact_id(call, req->id))
        return 404;
    int limit =
        crm_page_limit(call, "limit", req->limit, CRM_PAGE_DEFAULT_LIMIT, CRM_PAGE_MAX_LIMIT);
    if (req->cursor[0] && !crm_uuid_valid(req->cursor))
        crm_call_field_error(call, "cursor", "is not a cursor returned by this list");
    if (call->errors.n)
        return 422;
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *params[] = {call->header->tenant_id, req->id, req->cursor, limit_text};
    PGresult *res = crm_db_query(call->db, &s_history, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    if (rows == 0) {
        PQclear(res);
        return s_not_found(call);
    }
    Crm__Contacts__ListCommunicationHistoryResponse *list = malloc(sizeof *list);
    crm__contacts__list_communication_history_response__init(list);
    list->items = calloc(rows, sizeof *list->items);
    int code = 200;
    for (int i = 0; i < rows && i < limit && !PQgetisnull(res, i, 0); i++) {
        const char *text = PQgetvalue(res, i, 0);
        crm_json_error_t err;
        ProtobufCMessage *entry = crm_json_to_pb(&crm__contacts__communication_change__descriptor,
                                                 text, strlen(text), &err);
        if (!entry) {
            code = s_unreadable(call, "history", &err);
            break;
        }
        list->items[list->n_items++] = (Crm__Contacts__CommunicationChange *)entry;
    }
    if (code == 200 && rows > limit && list->n_items)
        crm_pb_string_set(&list->next_cursor, list->items[list->n_items - 1]->id);
    PQclear(res);
    if (code != 200) {
        crm__contacts__list_communication_history_response__free_unpacked(list, NULL);
        return code;
    }
    *response = &list->base;
    return 200;
}

int contacts_consent_get(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__Contacts__GetConsentRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id) || !crm_uuid_valid(req->change_id)) {
        crm_call_error(call, "not_found", "no such consent decision");
        return 404;
    }
    const char *params[] = {call->header->tenant_id, req->id, req->change_id};
    PGresult *res = crm_db_query(call->db, &s_change_get, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 404;
    if (PQntuples(res) == 0)
        crm_call_error(call, "not_found", "no such consent decision");
    else {
        const char *text = PQgetvalue(res, 0, 0);
        crm_json_error_t err;
        *response = crm_json_to_pb(&crm__contacts__communication_change__descriptor, text,
                                   strlen(text), &err);
        code = *response ? 200 : s_unreadable(call, "history", &err);
    }
    PQclear(res);
    return code;
}

int contacts_can_contact(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__Contacts__CanContactRequest *req = (const void *)request;
    if (s_check_contact_id(call, req->id))
        return 404;
    s_check_channel_purpose(call, req->channel, req->purpose, true);
    if (call->errors.n)
        return 422;
    s_state_t st;
    int code = s_state_read(call, req->id, false, &st);
    if (code != 200)
        return code;
    Crm__Contacts__CanContactResponse *out = malloc(sizeof *out);
    crm__contacts__can_contact_response__init(out);
    char detail[256];
    out->allowed = s_verdict(&st, req->channel, req->purpose, &out->reason, detail, sizeof detail);
    out->allowed_set_case = CRM__CONTACTS__CAN_CONTACT_RESPONSE__ALLOWED_SET_ALLOWED;
    crm_pb_string_set(&out->detail, detail);
    s_state_reset(&st);
    *response = &out->base;
    return 200;
}
