/*  activity: the rules of a lead's activity (no database, no call): which fields a kind
    takes (a field set on another kind is refused, never dropped), a call's outcome, an
    email's or a text's direction, a text's body, a chat's transcript, an appointment's or
    test drive's time and status, the lengths of the texts, and the times made UTC.
    activity_store.c holds the SQL, activity_methods.c the methods; unit-tested in
    tests/unit/test_leads_activity.c.

    The moves between stages log their own 'status_change' activity (lead_store.c,
    leads_store_move): it is never logged or changed through these rules.
*/
#include "leads.h"
#include "json_pb.h"
#include "validate.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define NOTES_MAX_LEN 5000
#define NEXT_STEPS_MAX_LEN 1000
#define TRANSCRIPT_MAX_LINES 500
#define TRANSCRIPT_LINE_MAX_LEN 2000
#define TRANSCRIPT_MAX_CHARS 100000
#define DURATION_MAX_SECONDS 86400
//  A clock a little ahead of ours may log "now": that much of the future is still now.
#define FUTURE_SLACK_MICROS (60 * 1000000LL)

// --- kinds and the fields they take ---------------------------------------------------

#define K(kind) (1u << CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_##kind)
#define K_APPOINTMENTS (K(APPOINTMENT) | K(TEST_DRIVE))
#define K_LOGGED                                                                                   \
    (K(CALL) | K(MEETING) | K(EMAIL) | K(SMS) | K(CHAT) | K(APPOINTMENT) | K(TEST_DRIVE) | K(NOTE))

//  A kind's bit (0 for a value out of range: an MDP client may send any number).
static unsigned s_kind_bit(Crm__Leads__ActivityKind kind) {
    return kind > 0 && kind < 32 ? 1u << kind : 0;
}

bool leads_activity_is_appointment(Crm__Leads__ActivityKind kind) {
    return s_kind_bit(kind) & K_APPOINTMENTS;
}

bool leads_activity_may_change(const char *role, const char *actor_id, const char *author) {
    if (!role || strcmp(role, "sales") != 0)
        return true;
    return actor_id && author && *actor_id && strcmp(actor_id, author) == 0;
}

//  An enum field's value is one of its enum's (0 passes: not given). A request straight
//  over the bus may carry any number; the gateway lets only names through.
static bool s_check_enum(crm_errors_t *errors, const char *field,
                         const ProtobufCEnumDescriptor *desc, int value) {
    if (value == 0 || protobuf_c_enum_descriptor_get_value(desc, value))
        return true;
    crm_errors_add(errors, field, "is not a known value");
    return false;
}

const char *leads_activity_kind_name(Crm__Leads__ActivityKind kind, char out[32]) {
    return crm_enum_api_name(&crm__leads__activity_kind__descriptor, kind, out, 32);
}

//  The kind-specific fields: which kinds take each (a field set on another kind is
//  refused, never dropped), and whether it is set.
static bool s_set_duration(const Crm__Leads__Activity *a) {
    return a->duration_seconds != 0;
}
static bool s_set_outcome(const Crm__Leads__Activity *a) {
    return a->outcome != 0;
}
static bool s_set_next_steps(const Crm__Leads__Activity *a) {
    return a->next_steps[0];
}
static bool s_set_subject(const Crm__Leads__Activity *a) {
    return a->subject[0];
}
static bool s_set_direction(const Crm__Leads__Activity *a) {
    return a->direction != 0;
}
static bool s_set_body(const Crm__Leads__Activity *a) {
    return a->body[0];
}
static bool s_set_transcript(const Crm__Leads__Activity *a) {
    return a->n_transcript > 0;
}
static bool s_set_scheduled_at(const Crm__Leads__Activity *a) {
    return a->scheduled_at[0];
}
static bool s_set_vehicle(const Crm__Leads__Activity *a) {
    return a->vehicle != NULL;
}
static bool s_set_status(const Crm__Leads__Activity *a) {
    return a->status != 0;
}
static bool s_set_from_stage(const Crm__Leads__Activity *a) {
    return a->from_stage[0];
}
static bool s_set_to_stage(const Crm__Leads__Activity *a) {
    return a->to_stage[0];
}

static const struct {
    const char *field;
    bool (*is_set)(const Crm__Leads__Activity *a);
    unsigned kinds;
} s_kind_fields[] = {
    {"durationSeconds", s_set_duration, K(CALL)},
    {"outcome", s_set_outcome, K(CALL)},
    {"nextSteps", s_set_next_steps, K(CALL) | K(MEETING)},
    {"subject", s_set_subject, K(EMAIL)},
    {"direction", s_set_direction, K(EMAIL) | K(SMS)},
    {"body", s_set_body, K(EMAIL) | K(SMS)},
    {"transcript", s_set_transcript, K(CHAT)},
    {"scheduledAt", s_set_scheduled_at, K_APPOINTMENTS},
    {"vehicle", s_set_vehicle, K_APPOINTMENTS},
    {"status", s_set_status, K_APPOINTMENTS},
    {"fromStage", s_set_from_stage, 0},
    {"toStage", s_set_to_stage, 0},
};

const leads_read_only_t leads_activity_read_only[] = {
    {"id", "cannot be changed"},
    {"lead_id", "cannot be changed: log the activity on the other lead"},
    {"kind", "cannot be changed: log an activity of the other kind"},
    {"actor_id", "cannot be changed"},
    {"from_stage", "is the stage history's"},
    {"to_stage", "is the stage history's"},
    {"created_at", "cannot be changed"},
    {"updated_at", "cannot be changed"},
    {"updated_by", "cannot be changed"},
};
const size_t leads_activity_n_read_only =
    sizeof leads_activity_read_only / sizeof *leads_activity_read_only;

// --- checks --------------------------------------------------------------------------

static void s_check_text(crm_errors_t *errors, const char *field, const char *value, size_t max) {
    if (crm_utf8_chars(value) > max)
        crm_errors_add(errors, field, "must be at most %zu characters", max);
}

static int64_t s_now_micros(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void leads_utc_text(int64_t micros, char out[40]) {
    time_t seconds = (time_t)(micros / 1000000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%.20s.%06dZ", date, (int)(micros % 1000000));
}

//  A time field: readable (0 with *micros) or a field error (-1).
static int s_check_time(crm_errors_t *errors, const char *field, const char *value,
                        int64_t *micros) {
    if (leads_time_parse(value, micros) == 0 && strlen(value) > 10)
        return 0;
    crm_errors_add(errors, field, "must be an RFC 3339 date-time (2026-11-22T15:00:00Z)");
    return -1;
}

static void s_check_transcript(crm_errors_t *errors, const Crm__Leads__Activity *a) {
    if (a->n_transcript == 0) {
        crm_errors_add(errors, "transcript",
                       "is required for a chat: its lines ({from, text, at})");
        return;
    }
    if (a->n_transcript > TRANSCRIPT_MAX_LINES) {
        crm_errors_add(errors, "transcript", "is too long: at most %d lines", TRANSCRIPT_MAX_LINES);
        return;
    }
    size_t chars = 0;
    for (size_t i = 0; i < a->n_transcript; i++) {
        const Crm__Leads__ChatLine *line = a->transcript[i];
        char field[64];
        snprintf(field, sizeof field, "transcript[%zu].from", i);
        if (line->from == CRM__LEADS__CHAT_SPEAKER__CHAT_SPEAKER_UNSPECIFIED)
            crm_errors_add(errors, field, "is required: visitor or agent");
        else
            s_check_enum(errors, field, &crm__leads__chat_speaker__descriptor, line->from);
        snprintf(field, sizeof field, "transcript[%zu].text", i);
        if (crm_text_blank(line->text))
            crm_errors_add(errors, field, "is required");
        else
            s_check_text(errors, field, line->text, TRANSCRIPT_LINE_MAX_LEN);
        chars += crm_utf8_chars(line->text);
        int64_t micros;
        if (line->at[0]) {
            snprintf(field, sizeof field, "transcript[%zu].at", i);
            s_check_time(errors, field, line->at, &micros);
        }
    }
    if (chars > TRANSCRIPT_MAX_CHARS)
        crm_errors_add(errors, "transcript", "is too long: at most %d characters in all",
                       TRANSCRIPT_MAX_CHARS);
}

//  The kind: given, known, and one that is logged (not a status_change). 0 or -1.
static int s_check_kind(const Crm__Leads__Activity *a, crm_errors_t *errors) {
    if (a->kind == CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_UNSPECIFIED) {
        crm_errors_add(errors, "kind",
                       "is required: call, meeting, email, sms, chat, appointment, "
                       "test_drive or note");
        return -1;
    }
    if (!s_check_enum(errors, "kind", &crm__leads__activity_kind__descriptor, a->kind))
        return -1;
    if (!(s_kind_bit(a->kind) & K_LOGGED)) {
        crm_errors_add(errors, "kind",
                       "a status_change is logged by moving the lead "
                       "(POST /v1/leads/{id}/status)");
        return -1;
    }
    return 0;
}

//  The fields only some kinds have: what the kind requires, in range.
static void s_check_kind_fields(const Crm__Leads__Activity *a, crm_errors_t *errors) {
    switch (a->kind) {
    case CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_CALL:
        if (a->outcome == CRM__LEADS__CALL_OUTCOME__CALL_OUTCOME_UNSPECIFIED)
            crm_errors_add(errors, "outcome",
                           "is required for a call: connected, voicemail or no_answer");
        if (a->duration_seconds < 0)
            crm_errors_add(errors, "durationSeconds", "must not be negative");
        else if (a->duration_seconds > DURATION_MAX_SECONDS)
            crm_errors_add(errors, "durationSeconds", "must be at most %d (a day)",
                           DURATION_MAX_SECONDS);
        break;
    case CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_EMAIL:
        if (a->direction == CRM__LEADS__EMAIL_DIRECTION__EMAIL_DIRECTION_UNSPECIFIED)
            crm_errors_add(errors, "direction", "is required for an email: inbound or outbound");
        break;
    case CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_SMS:
        if (a->direction == CRM__LEADS__EMAIL_DIRECTION__EMAIL_DIRECTION_UNSPECIFIED)
            crm_errors_add(errors, "direction", "is required for a text: inbound or outbound");
        if (crm_text_blank(a->body))
            crm_errors_add(errors, "body", "is required for a text: what it said");
        break;
    case CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_CHAT:
        s_check_transcript(errors, a);
        break;
    case CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_NOTE:
        if (crm_text_blank(a->notes))
            crm_errors_add(errors, "notes", "is required for a note");
        break;
    default:
        break;
    }
}

//  An appointment's or test drive's time (its scheduledAt, which occurredAt follows),
//  vehicle and status; kind: its API name.
static void s_check_appointment(Crm__Leads__Activity *a, bool occurred_given, const char *kind,
                                int64_t now, crm_errors_t *errors) {
    if (a->vehicle)
        leads_vehicle_check(a->vehicle, "vehicle", errors);
    if (a->status == CRM__LEADS__APPOINTMENT_STATUS__APPOINTMENT_STATUS_UNSPECIFIED)
        a->status = CRM__LEADS__APPOINTMENT_STATUS__APPOINTMENT_STATUS_SCHEDULED;
    int64_t scheduled, occurred;
    char text[40];
    if (!a->scheduled_at[0])
        crm_errors_add(errors, "scheduledAt", "is required for an %s: when it is (RFC 3339)",
                       a->kind == CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_APPOINTMENT
                           ? "appointment"
                           : "test drive");
    else if (s_check_time(errors, "scheduledAt", a->scheduled_at, &scheduled) == 0) {
        if (occurred_given && a->occurred_at[0] &&
            (leads_time_parse(a->occurred_at, &occurred) || occurred != scheduled))
            crm_errors_add(errors, "occurredAt",
                           "an %s's time is its scheduledAt (leave occurredAt out)", kind);
        //  Called off (cancelled) at any time; held or missed only once it is due.
        if ((a->status == CRM__LEADS__APPOINTMENT_STATUS__APPOINTMENT_STATUS_COMPLETED ||
             a->status == CRM__LEADS__APPOINTMENT_STATUS__APPOINTMENT_STATUS_NO_SHOW) &&
            scheduled > now + FUTURE_SLACK_MICROS)
            crm_errors_add(errors, "status",
                           "an %s is completed or a no_show only once its time has come", kind);
        leads_utc_text(scheduled, text);
        crm_pb_string_set(&a->scheduled_at, text);
        crm_pb_string_set(&a->occurred_at, text);
    }
}

int leads_activity_check(Crm__Leads__Activity *a, bool occurred_given, crm_errors_t *errors) {
    if (s_check_kind(a, errors))
        return -1;
    char kind[32];
    leads_activity_kind_name(a->kind, kind);
    for (size_t i = 0; i < sizeof s_kind_fields / sizeof s_kind_fields[0]; i++)
        if (s_kind_fields[i].is_set(a) && !(s_kind_bit(a->kind) & s_kind_fields[i].kinds))
            crm_errors_add(errors, s_kind_fields[i].field, "does not apply to a %s activity", kind);
    s_check_enum(errors, "outcome", &crm__leads__call_outcome__descriptor, a->outcome);
    s_check_enum(errors, "direction", &crm__leads__email_direction__descriptor, a->direction);
    s_check_enum(errors, "status", &crm__leads__appointment_status__descriptor, a->status);
    if (errors->n)
        return -1;
    s_check_text(errors, "notes", a->notes, NOTES_MAX_LEN);
    s_check_text(errors, "nextSteps", a->next_steps, NEXT_STEPS_MAX_LEN);
    s_check_text(errors, "subject", a->subject, LEADS_ACTIVITY_SUBJECT_MAX_LEN);
    s_check_text(errors, "body", a->body,
                 a->kind == CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_SMS
                     ? LEADS_ACTIVITY_SMS_BODY_MAX_LEN
                     : LEADS_ACTIVITY_BODY_MAX_LEN);
    s_check_kind_fields(a, errors);

    int64_t now = s_now_micros(), occurred = now;
    if (leads_activity_is_appointment(a->kind))
        s_check_appointment(a, occurred_given, kind, now, errors);
    else {
        if (a->occurred_at[0] &&
            s_check_time(errors, "occurredAt", a->occurred_at, &occurred) == 0 &&
            occurred > now + FUTURE_SLACK_MICROS)
            crm_errors_add(errors, "occurredAt",
                           "must not be in the future (only appointments and test "
                           "drives are)");
        char text[40];
        leads_utc_text(occurred, text);
        crm_pb_string_set(&a->occurred_at, text);
    }
    return errors->n ? -1 : 0;
}

int leads_activity_list_check(const Crm__Leads__ListActivitiesRequest *req,
                              leads_activity_list_t *out, crm_errors_t *errors) {
    size_t before = errors->n;
    out->limit = (int)req->limit;
    if (req->limit == 0)
        out->limit = CRM_PAGE_DEFAULT_LIMIT;
    else if (req->limit > CRM_PAGE_MAX_LIMIT) {
        crm_errors_add(errors, "limit", "must be at most %d", CRM_PAGE_MAX_LIMIT);
        out->limit = CRM_PAGE_MAX_LIMIT;
    }
    memset(&out->cursor, 0, sizeof out->cursor);
    if (req->cursor[0] &&
        (leads_cursor_decode(req->cursor, 'v', &out->cursor) || !out->cursor.value[0]))
        crm_errors_add(errors, "cursor", "is not a cursor of this list");
    out->kind[0] = 0;
    if (req->kind)
        leads_activity_kind_name(req->kind, out->kind);
    return errors->n > before ? -1 : 0;
}
