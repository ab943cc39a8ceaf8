/*  activities: what happened with a lead, logged by the sales staff (calls, in-person
    meetings, emails, chats, appointments and test drives, notes), changed (an
    appointment's status, a call's notes) and listed newest first.

    Each request is checked completely before anything is written; a log or a change is
    one statement that writes the activity, moves the lead's last activity forward (a log
    only) and writes LeadActivityLogged. The moves between stages log their own
    'status_change' activity (lead_store.c, leads_store_move); they are read here, never
    written or changed.
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "validate.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOTES_MAX_LEN 5000
#define NEXT_STEPS_MAX_LEN 1000
#define SUBJECT_MAX_LEN 300
#define BODY_MAX_LEN 20000
#define TRANSCRIPT_MAX_LINES 500
#define TRANSCRIPT_LINE_MAX_LEN 2000
#define TRANSCRIPT_MAX_CHARS 100000
#define DURATION_MAX_SECONDS 86400
//  A clock a little ahead of ours may log "now": that much of the future is still now.
#define FUTURE_SLACK_MICROS (60 * 1000000LL)

// --- kinds and the fields they take ---------------------------------------------------

#define K(kind) (1u << CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_##kind)
#define K_APPOINTMENTS (K(APPOINTMENT) | K(TEST_DRIVE))
#define K_LOGGED                                                                               \
    (K(CALL) | K(MEETING) | K(EMAIL) | K(CHAT) | K(APPOINTMENT) | K(TEST_DRIVE) | K(NOTE))

//  A kind's bit (0 for a value out of range: an MDP client may send any number).
static unsigned s_kind_bit(Crm__Leads__ActivityKind kind) {
    return kind > 0 && kind < 32 ? 1u << kind : 0;
}

static bool s_is_appointment(Crm__Leads__ActivityKind kind) {
    return s_kind_bit(kind) & K_APPOINTMENTS;
}

//  An enum field's value is one of its enum's (0 passes: not given). A request straight
//  over the bus may carry any number; the gateway lets only names through.
static bool s_check_enum(crm_call_t *call, const char *field,
                         const ProtobufCEnumDescriptor *desc, int value) {
    if (value == 0 || protobuf_c_enum_descriptor_get_value(desc, value))
        return true;
    crm_call_field_error(call, field, "is not a known value");
    return false;
}

//  A kind's API name ("test_drive") into out.
static const char *s_kind_name(Crm__Leads__ActivityKind kind, char out[32]) {
    return crm_enum_api_name(&crm__leads__activity_kind__descriptor, kind, out, 32);
}

//  The kind-specific fields: which kinds take each (a field set on another kind is
//  refused, never dropped), and whether it is set.
static bool s_set_duration(const Crm__Leads__Activity *a) { return a->duration_seconds != 0; }
static bool s_set_outcome(const Crm__Leads__Activity *a) { return a->outcome != 0; }
static bool s_set_next_steps(const Crm__Leads__Activity *a) { return a->next_steps[0]; }
static bool s_set_subject(const Crm__Leads__Activity *a) { return a->subject[0]; }
static bool s_set_direction(const Crm__Leads__Activity *a) { return a->direction != 0; }
static bool s_set_body(const Crm__Leads__Activity *a) { return a->body[0]; }
static bool s_set_transcript(const Crm__Leads__Activity *a) { return a->n_transcript > 0; }
static bool s_set_scheduled_at(const Crm__Leads__Activity *a) { return a->scheduled_at[0]; }
static bool s_set_vehicle(const Crm__Leads__Activity *a) { return a->vehicle != NULL; }
static bool s_set_status(const Crm__Leads__Activity *a) { return a->status != 0; }
static bool s_set_from_stage(const Crm__Leads__Activity *a) { return a->from_stage[0]; }
static bool s_set_to_stage(const Crm__Leads__Activity *a) { return a->to_stage[0]; }

static const struct {
    const char *field;
    bool (*is_set)(const Crm__Leads__Activity *a);
    unsigned kinds;
} s_kind_fields[] = {
    {"durationSeconds", s_set_duration, K(CALL)},
    {"outcome", s_set_outcome, K(CALL)},
    {"nextSteps", s_set_next_steps, K(CALL) | K(MEETING)},
    {"subject", s_set_subject, K(EMAIL)},
    {"direction", s_set_direction, K(EMAIL)},
    {"body", s_set_body, K(EMAIL)},
    {"transcript", s_set_transcript, K(CHAT)},
    {"scheduledAt", s_set_scheduled_at, K_APPOINTMENTS},
    {"vehicle", s_set_vehicle, K_APPOINTMENTS},
    {"status", s_set_status, K_APPOINTMENTS},
    {"fromStage", s_set_from_stage, 0},
    {"toStage", s_set_to_stage, 0},
};

//  Fields an update cannot set (proto names), and why.
static const leads_read_only_t s_read_only[] = {
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

// --- checks --------------------------------------------------------------------------

static void s_check_text(crm_call_t *call, const char *field, const char *value, size_t max) {
    if (crm_utf8_chars(value) > max)
        crm_call_field_error(call, field, "must be at most %zu characters", max);
}

static int64_t s_now_micros(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

//  micros as RFC 3339 in UTC with microseconds, the form the service stores.
static void s_utc_text(int64_t micros, char out[40]) {
    time_t seconds = (time_t)(micros / 1000000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%.20s.%06dZ", date, (int)(micros % 1000000));
}

//  A time field: readable (0 with *micros) or a field error (-1).
static int s_check_time(crm_call_t *call, const char *field, const char *value, int64_t *micros) {
    if (leads_time_parse(value, micros) == 0 && strlen(value) > 10)
        return 0;
    crm_call_field_error(call, field, "must be an RFC 3339 date-time (2026-11-22T15:00:00Z)");
    return -1;
}

static void s_check_transcript(crm_call_t *call, const Crm__Leads__Activity *a) {
    if (a->n_transcript == 0) {
        crm_call_field_error(call, "transcript",
                             "is required for a chat: its lines ({from, text, at})");
        return;
    }
    if (a->n_transcript > TRANSCRIPT_MAX_LINES) {
        crm_call_field_error(call, "transcript", "is too long: at most %d lines",
                             TRANSCRIPT_MAX_LINES);
        return;
    }
    size_t chars = 0;
    for (size_t i = 0; i < a->n_transcript; i++) {
        const Crm__Leads__ChatLine *line = a->transcript[i];
        char field[64];
        snprintf(field, sizeof field, "transcript[%zu].from", i);
        if (line->from == CRM__LEADS__CHAT_SPEAKER__CHAT_SPEAKER_UNSPECIFIED)
            crm_call_field_error(call, field, "is required: visitor or agent");
        else
            s_check_enum(call, field, &crm__leads__chat_speaker__descriptor, line->from);
        snprintf(field, sizeof field, "transcript[%zu].text", i);
        if (crm_text_blank(line->text))
            crm_call_field_error(call, field, "is required");
        else
            s_check_text(call, field, line->text, TRANSCRIPT_LINE_MAX_LEN);
        chars += crm_utf8_chars(line->text);
        int64_t micros;
        if (line->at[0]) {
            snprintf(field, sizeof field, "transcript[%zu].at", i);
            s_check_time(call, field, line->at, &micros);
        }
    }
    if (chars > TRANSCRIPT_MAX_CHARS)
        crm_call_field_error(call, "transcript", "is too long: at most %d characters in all",
                             TRANSCRIPT_MAX_CHARS);
}

//  An activity as it is to be stored: its kind's rules, defaults filled (now, an
//  appointment's status), times made UTC, the VIN upper-cased. occurred_given: the
//  caller set occurredAt (for an appointment it must then be its scheduledAt). 0, or
//  422 with the field errors.
static int s_check_activity(crm_call_t *call, Crm__Leads__Activity *a, bool occurred_given) {
    char kind[32];
    if (a->kind == CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_UNSPECIFIED) {
        crm_call_field_error(call, "kind",
                             "is required: call, meeting, email, chat, appointment, test_drive "
                             "or note");
        return 422;
    }
    if (!s_check_enum(call, "kind", &crm__leads__activity_kind__descriptor, a->kind))
        return 422;
    if (!(s_kind_bit(a->kind) & K_LOGGED)) {
        crm_call_field_error(call, "kind",
                             "a status_change is logged by moving the lead "
                             "(POST /v1/leads/{id}/status)");
        return 422;
    }
    s_kind_name(a->kind, kind);
    for (size_t i = 0; i < sizeof s_kind_fields / sizeof s_kind_fields[0]; i++)
        if (s_kind_fields[i].is_set(a) && !(s_kind_bit(a->kind) & s_kind_fields[i].kinds))
            crm_call_field_error(call, s_kind_fields[i].field, "does not apply to a %s activity",
                                 kind);
    s_check_enum(call, "outcome", &crm__leads__call_outcome__descriptor, a->outcome);
    s_check_enum(call, "direction", &crm__leads__email_direction__descriptor, a->direction);
    s_check_enum(call, "status", &crm__leads__appointment_status__descriptor, a->status);
    if (call->errors.n)
        return 422;
    s_check_text(call, "notes", a->notes, NOTES_MAX_LEN);
    s_check_text(call, "nextSteps", a->next_steps, NEXT_STEPS_MAX_LEN);
    s_check_text(call, "subject", a->subject, SUBJECT_MAX_LEN);
    s_check_text(call, "body", a->body, BODY_MAX_LEN);

    int64_t now = s_now_micros(), occurred = now;
    char text[40];
    switch (a->kind) {
    case CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_CALL:
        if (a->outcome == CRM__LEADS__CALL_OUTCOME__CALL_OUTCOME_UNSPECIFIED)
            crm_call_field_error(call, "outcome",
                                 "is required for a call: connected, voicemail or no_answer");
        if (a->duration_seconds < 0)
            crm_call_field_error(call, "durationSeconds", "must not be negative");
        else if (a->duration_seconds > DURATION_MAX_SECONDS)
            crm_call_field_error(call, "durationSeconds", "must be at most %d (a day)",
                                 DURATION_MAX_SECONDS);
        break;
    case CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_EMAIL:
        if (a->direction == CRM__LEADS__EMAIL_DIRECTION__EMAIL_DIRECTION_UNSPECIFIED)
            crm_call_field_error(call, "direction",
                                 "is required for an email: inbound or outbound");
        break;
    case CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_CHAT:
        s_check_transcript(call, a);
        break;
    case CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_NOTE:
        if (crm_text_blank(a->notes))
            crm_call_field_error(call, "notes", "is required for a note");
        break;
    default:
        break;
    }

    if (s_is_appointment(a->kind)) {
        if (a->vehicle) {
            crm_errors_t vehicle_errors = {0};
            leads_vehicle_check(a->vehicle, "vehicle", &vehicle_errors);
            crm_call_fail(call, &vehicle_errors);
        }
        if (a->status == CRM__LEADS__APPOINTMENT_STATUS__APPOINTMENT_STATUS_UNSPECIFIED)
            a->status = CRM__LEADS__APPOINTMENT_STATUS__APPOINTMENT_STATUS_SCHEDULED;
        int64_t scheduled;
        if (!a->scheduled_at[0])
            crm_call_field_error(call, "scheduledAt",
                                 "is required for an %s: when it is (RFC 3339)",
                                 a->kind == CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_APPOINTMENT
                                     ? "appointment"
                                     : "test drive");
        else if (s_check_time(call, "scheduledAt", a->scheduled_at, &scheduled) == 0) {
            if (occurred_given && a->occurred_at[0] &&
                (leads_time_parse(a->occurred_at, &occurred) || occurred != scheduled))
                crm_call_field_error(call, "occurredAt",
                                     "an %s's time is its scheduledAt (leave occurredAt out)",
                                     kind);
            if (a->status != CRM__LEADS__APPOINTMENT_STATUS__APPOINTMENT_STATUS_SCHEDULED &&
                scheduled > now + FUTURE_SLACK_MICROS)
                crm_call_field_error(call, "status",
                                     "an %s is completed or a no_show only once its time has come",
                                     kind);
            s_utc_text(scheduled, text);
            crm_pb_string_set(&a->scheduled_at, text);
            crm_pb_string_set(&a->occurred_at, text);
        }
    } else {
        if (a->occurred_at[0] && s_check_time(call, "occurredAt", a->occurred_at, &occurred) == 0 &&
            occurred > now + FUTURE_SLACK_MICROS)
            crm_call_field_error(call, "occurredAt",
                                 "must not be in the future (only appointments and test "
                                 "drives are)");
        s_utc_text(occurred, text);
        crm_pb_string_set(&a->occurred_at, text);
    }
    return call->errors.n ? 422 : 0;
}

static bool s_check_lead_id(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return true;
    crm_call_error(call, "not_found", "no such lead (not a valid lead id)");
    return false;
}

// --- SQL -----------------------------------------------------------------------------

//  A log: the lead's last activity moves forward (never into the future: a booked
//  appointment counts from now), the activity, LeadActivityLogged. No row when the lead
//  is gone.
static const crm_stmt_t s_insert = {
    .name = "leads_activity_insert",
    .sql = "WITH lead AS ("
           "  UPDATE leads SET last_activity_at = greatest(last_activity_at,"
           "    least($6::timestamptz, $10::timestamptz))"
           "  WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL RETURNING id),"
           " ins AS ("
           "  INSERT INTO activities (tenant_id, id, lead_id, kind, actor_id, occurred_at,"
           "    outcome, duration_seconds, details, created_at, updated_at, updated_by)"
           "  SELECT $1, $3::uuid, id, $4, $5, $6::timestamptz, $7, $8::int, $9::jsonb,"
           "    $10::timestamptz, $10::timestamptz, $5 FROM lead"
           "  RETURNING *),"
           CRM_OUTBOX_SQL("ev", "LeadActivityLogged", "ins", "$2::uuid::text", "$10", "$11",
                          "$12")
           " SELECT " LEADS_ACTIVITY_JSON("ins") " FROM ins",
    .nparams = 12,
    .writes = true};

#define ACTIVITY_WHERE                                                                        \
    " FROM activities a JOIN leads l ON l.tenant_id = a.tenant_id AND l.id = a.lead_id"       \
    "   AND l.deleted_at IS NULL"                                                             \
    " WHERE a.tenant_id = $1 AND a.lead_id = $2::uuid AND a.id = $3::uuid"

static const crm_stmt_t s_get_for_update = {
    .name = "leads_activity_get_for_update",
    .sql = "SELECT " LEADS_ACTIVITY_JSON("a") ACTIVITY_WHERE " FOR UPDATE OF a",
    .nparams = 3};

//  A change, with its LeadActivityLogged (changed set).
static const crm_stmt_t s_update = {
    .name = "leads_activity_update",
    .sql = "WITH upd AS ("
           "  UPDATE activities SET occurred_at = $4::timestamptz, outcome = $5,"
           "    duration_seconds = $6::int, details = $7::jsonb, updated_at = $8::timestamptz,"
           "    updated_by = $9"
           "  WHERE tenant_id = $1 AND lead_id = $2::uuid AND id = $3::uuid RETURNING *),"
           CRM_OUTBOX_SQL("ev", "LeadActivityLogged", "upd", "$2::uuid::text", "$8", "$10",
                          "$11")
           " SELECT " LEADS_ACTIVITY_JSON("upd") " FROM upd",
    .nparams = 11,
    .writes = true};

//  A lead's activities newest first; $3 a kind or ''; $4/$5 the cursor ('' none).
static const crm_stmt_t s_list = {
    .name = "leads_activity_list",
    .sql = "SELECT " LEADS_ACTIVITY_JSON("a") ", " LEADS_SQL_MICROS("a.occurred_at") "::text"
           " FROM activities a"
           " WHERE a.tenant_id = $1 AND a.lead_id = $2::uuid AND ($3 = '' OR a.kind = $3)"
           "  AND ($4 = '' OR (a.occurred_at, a.id) < (" LEADS_SQL_CURSOR_TIME("$4") ","
           "   nullif($5, '')::uuid))"
           " ORDER BY a.occurred_at DESC, a.id DESC LIMIT $6::int",
    .nparams = 6,
    .custom_plan = true};

// --- rendering -------------------------------------------------------------------------

//  The columns of a checked activity: its outcome column (a call's outcome or an
//  appointment's status) and its details (the kind's own fields in the API's shape,
//  without those the columns hold). Caller frees the details.
static char *s_render(const Crm__Leads__Activity *a, char outcome[24]) {
    outcome[0] = 0;
    if (a->kind == CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_CALL)
        crm_enum_api_name(&crm__leads__call_outcome__descriptor, a->outcome, outcome, 24);
    else if (s_is_appointment(a->kind))
        crm_enum_api_name(&crm__leads__appointment_status__descriptor, a->status, outcome, 24);
    json_t *details = crm_pb_to_json_value(&a->base);
    static const char *const columns[] = {
        "id",        "leadId",      "kind",      "actorId",   "occurredAt", "durationSeconds",
        "outcome",   "status",      "scheduledAt", "createdAt", "updatedAt", "updatedBy",
        "fromStage", "toStage"};
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++)
        json_object_del(details, columns[i]);
    char *text = json_dumps(details, JSON_COMPACT);
    json_decref(details);
    return text;
}

//  The event of an activity as stored (changed: the JSON names an update set).
static void s_event_init(crm_outbox_event_t *ev, const Crm__Leads__Activity *a,
                         const char *contact_id, const char *actor_id, const char *now,
                         const char *outcome, char **changed, size_t n_changed) {
    char kind[32];
    Crm__Events__LeadActivityLogged event = CRM__EVENTS__LEAD_ACTIVITY_LOGGED__INIT;
    event.lead_id = a->lead_id;
    event.contact_id = (char *)contact_id;
    event.activity_id = a->id;
    event.kind = (char *)s_kind_name(a->kind, kind);
    event.outcome = (char *)outcome;
    event.duration_s = a->duration_seconds > 0 ? (uint32_t)a->duration_seconds : 0;
    event.actor_id = (char *)actor_id;
    event.occurred_at = a->occurred_at;
    event.changed = changed;
    event.n_changed = n_changed;
    crm_outbox_event_init(ev, &event.base, now);
}

// --- the methods -----------------------------------------------------------------------

int leads_activity_check(crm_call_t *call, Crm__Leads__Activity *a) {
    return s_check_activity(call, a, true);
}

int leads_activity_insert(crm_call_t *call, const char *lead_id, const char *contact_id,
                          Crm__Leads__Activity *a, ProtobufCMessage **response) {
    char id[CRM_UUID_LEN + 1], now[40], outcome[24], kind[32], duration[16];
    crm_uuid_v7(id);
    crm_time_now(now, sizeof now);
    crm_pb_string_set(&a->id, id);
    crm_pb_string_set(&a->lead_id, lead_id);
    char *details = s_render(a, outcome);
    snprintf(duration, sizeof duration, "%" PRId32, a->duration_seconds);
    crm_outbox_event_t ev;
    s_event_init(&ev, a, contact_id, call->header->actor_id, now, outcome, NULL, 0);
    const char *params[] = {call->header->tenant_id, lead_id, id, s_kind_name(a->kind, kind),
                            call->header->actor_id, a->occurred_at, outcome, duration,
                            details, now, ev.event_id, ev.payload_hex};
    PGresult *res = crm_db_query(call->db, &s_insert, params);
    crm_outbox_event_reset(&ev);
    free(details);
    return crm_row_answer_one(call, res, 201, &crm__leads__activity__descriptor, "activity",
                              "no such lead", response);
}

int leads_activity_create(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    const Crm__Leads__CreateActivityRequest *req = (const void *)request;
    if (!s_check_lead_id(call, req->id))
        return 404;
    if (!req->activity) {
        crm_call_field_error(call, "kind", "is required: the activity's kind and its fields");
        return 422;
    }
    //  Work on a copy (checks fill defaults); read-only fields are the service's to set,
    //  as a lead's are.
    Crm__Leads__Activity *a = (Crm__Leads__Activity *)crm_pb_copy(&req->activity->base);
    int code = s_check_activity(call, a, true);
    Crm__Leads__Lead *lead = NULL;
    if (code == 0)
        code = leads_store_get(call, req->id, false, false, &lead);
    if (code == 200)
        code = leads_activity_insert(call, req->id, lead->contact_id, a, response);
    if (lead)
        crm__leads__lead__free_unpacked(lead, NULL);
    crm__leads__activity__free_unpacked(a, NULL);
    return code;
}

int leads_activity_update(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    const Crm__Leads__UpdateActivityRequest *req = (const void *)request;
    if (!s_check_lead_id(call, req->id))
        return 404;
    if (!crm_uuid_valid(req->activity_id)) {
        crm_call_error(call, "not_found", "no such activity (not a valid activity id)");
        return 404;
    }
    crm_errors_t patch_errors = {0};
    char **changed = leads_patch_names(&crm__leads__activity__descriptor,
                                       req->activity != NULL, req->update_mask,
                                       req->n_update_mask, "an activity", s_read_only,
                                       sizeof s_read_only / sizeof *s_read_only, &patch_errors);
    crm_call_fail(call, &patch_errors);
    bool occurred_given = leads_patch_names_has(changed, req->n_update_mask, "occurredAt");
    if (req->n_update_mask == 0)
        crm_call_field_error(call, "activity", "names no field to change");
    Crm__Leads__Lead *lead = NULL;
    Crm__Leads__Activity *a = NULL;
    int code = call->errors.n ? 422 : leads_store_get(call, req->id, false, false, &lead);
    PGresult *res = NULL;
    if (code == 200) {
        const char *params[] = {call->header->tenant_id, req->id, req->activity_id};
        res = crm_db_query(call->db, &s_get_for_update, params);
        if (!res)
            code = crm_call_db_failure(call);
        else if (PQntuples(res) == 0) {
            crm_call_error(call, "not_found", "no such activity of this lead");
            code = 404;
        }
    }
    if (code == 200) {
        //  The stored activity with the masked fields taken from the request (a field the
        //  request leaves out goes back to its default), read back as an Activity. An
        //  appointment's occurredAt follows its scheduledAt unless given.
        json_error_t jerr;
        json_t *merged = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
        const char *kind = json_string_value(json_object_get(merged, "kind"));
        if (kind && strcmp(kind, "status_change") == 0) {
            crm_call_error(call, "read_only",
                           "a status_change activity is the stage history's: it cannot be "
                           "changed");
            crm_call_field_error(call, "kind", "a status_change activity cannot be changed");
        }
        if (!occurred_given)
            json_object_del(merged, "occurredAt");
        leads_patch_apply(merged, &req->activity->base, changed, req->n_update_mask);
        crm_json_error_t err;
        a = call->errors.n ? NULL
                           : (Crm__Leads__Activity *)crm_json_value_to_pb(
                                 &crm__leads__activity__descriptor, merged, "", &err);
        json_decref(merged);
        if (call->errors.n)
            code = 422;
        else if (!a) {
            crm_call_field_error(call, err.field, "%s", err.message);
            code = 422;
        } else {
            //  A non-appointment keeps its stored time unless given: put it back.
            if (!occurred_given && !s_is_appointment(a->kind)) {
                json_t *stored = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
                crm_pb_string_set(&a->occurred_at,
                                  json_string_value(json_object_get(stored, "occurredAt")));
                json_decref(stored);
            }
            code = s_check_activity(call, a, occurred_given);
            code = code ? code : 200;
        }
    }
    PQclear(res);
    if (code == 200) {
        char now[40], outcome[24], duration[16];
        crm_time_now(now, sizeof now);
        char *details = s_render(a, outcome);
        snprintf(duration, sizeof duration, "%" PRId32, a->duration_seconds);
        crm_outbox_event_t ev;
        s_event_init(&ev, a, lead->contact_id, call->header->actor_id, now, outcome, changed,
                     req->n_update_mask);
        const char *params[] = {call->header->tenant_id, req->id, req->activity_id,
                                a->occurred_at, outcome, duration, details, now,
                                call->header->actor_id, ev.event_id, ev.payload_hex};
        res = crm_db_query(call->db, &s_update, params);
        crm_outbox_event_reset(&ev);
        free(details);
        code = crm_row_answer_one(call, res, 200, &crm__leads__activity__descriptor, "activity",
                                  "no such lead", response);
    }
    leads_patch_names_free(changed, req->n_update_mask);
    if (lead)
        crm__leads__lead__free_unpacked(lead, NULL);
    if (a)
        crm__leads__activity__free_unpacked(a, NULL);
    return code;
}

int leads_activity_list(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Leads__ListActivitiesRequest *req = (const void *)request;
    if (!s_check_lead_id(call, req->id))
        return 404;
    int limit =
        crm_page_limit(call, "limit", req->limit, CRM_PAGE_DEFAULT_LIMIT, CRM_PAGE_MAX_LIMIT);
    leads_cursor_t cursor = {0};
    if (req->cursor[0] && (leads_cursor_decode(req->cursor, 'v', &cursor) || !cursor.value[0]))
        crm_call_field_error(call, "cursor", "is not a cursor of this list");
    if (call->errors.n)
        return 422;
    Crm__Leads__Lead *lead = NULL;
    int code = leads_store_get(call, req->id, false, false, &lead);
    if (lead)
        crm__leads__lead__free_unpacked(lead, NULL);
    if (code != 200)
        return code;
    char kind[32] = "", limit_text[16];
    if (req->kind)
        s_kind_name(req->kind, kind);
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *params[] = {call->header->tenant_id, req->id, kind, cursor.value, cursor.id,
                            limit_text};
    PGresult *res = crm_db_query(call->db, &s_list, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    int n = rows > limit ? limit : rows;
    Crm__Leads__ListActivitiesResponse *list = malloc(sizeof *list);
    crm__leads__list_activities_response__init(list);
    list->items = n ? calloc((size_t)n, sizeof *list->items) : NULL;
    for (int i = 0; i < n && code == 200; i++) {
        Crm__Leads__Activity *a = (Crm__Leads__Activity *)crm_row_decode(
            call, &crm__leads__activity__descriptor, PQgetvalue(res, i, 0), "activity");
        if (a)
            list->items[list->n_items++] = a;
        else
            code = 500;
    }
    if (code == 200 && rows > limit && n > 0)
        list->next_cursor =
            leads_cursor_encode('v', PQgetvalue(res, n - 1, 1), list->items[n - 1]->id);
    PQclear(res);
    if (code == 200)
        *response = &list->base;
    else
        crm__leads__list_activities_response__free_unpacked(list, NULL);
    return code;
}
