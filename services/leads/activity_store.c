/*  activity_store: the SQL of a lead's activities. A log or a change is one statement
    that writes the activity, moves the lead's last activity forward (a log only) and
    writes LeadActivityLogged (CRM_OUTBOX_SQL). activity.c holds the rules,
    activity_methods.c the methods. The logs of the notify service's messages
    (notify_follow.c) are written here too, once per message, their events through the
    follower's outbox writer.
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

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
           "  RETURNING *)," CRM_OUTBOX_SQL(
               "ev", "LeadActivityLogged", "ins", "$2::uuid::text", "$10", "$11",
               "$12") " SELECT " LEADS_ACTIVITY_JSON("ins") " FROM ins",
    .nparams = 12,
    .writes = true};

//  A log of the notify service's (notify_follow.c), as a log above, but once per
//  notify_ref ($9): nothing when that message is logged already or the lead is gone; the
//  lead's last activity moves only when $10 (a person's message, a reply). The
//  stored activity and the lead's contact.
static const crm_stmt_t s_insert_once = {
    .name = "leads_activity_insert_once",
    .sql = "WITH ins AS ("
           "  INSERT INTO activities (tenant_id, id, lead_id, kind, actor_id, occurred_at,"
           "    details, created_at, updated_at, updated_by, notify_ref)"
           "  SELECT $1, $3::uuid, l.id, $4, $5, $6::timestamptz, $7::jsonb, $8::timestamptz,"
           "    $8::timestamptz, $5, $9 FROM leads l"
           "  WHERE l.tenant_id = $1 AND l.id = $2::uuid AND l.deleted_at IS NULL"
           "  ON CONFLICT (tenant_id, notify_ref) WHERE notify_ref IS NOT NULL DO NOTHING"
           "  RETURNING *),"
           " lead AS ("
           "  UPDATE leads l SET last_activity_at = greatest(l.last_activity_at,"
           "    least(ins.occurred_at, $8::timestamptz))"
           "  FROM ins WHERE l.tenant_id = $1 AND l.id = ins.lead_id AND $10::boolean"
           "  RETURNING l.contact_id)"
           " SELECT " LEADS_ACTIVITY_JSON("ins") ", coalesce((SELECT contact_id::text FROM lead),"
                                                 "  (SELECT contact_id::text FROM leads WHERE "
                                                 "tenant_id = $1 AND id = $2::uuid)) FROM ins",
    .nparams = 10,
    .writes = true};

#define ACTIVITY_WHERE                                                                             \
    " FROM activities a JOIN leads l ON l.tenant_id = a.tenant_id AND l.id = a.lead_id"            \
    "   AND l.deleted_at IS NULL"                                                                  \
    " WHERE a.tenant_id = $1 AND a.lead_id = $2::uuid AND a.id = $3::uuid"

static const crm_stmt_t s_get_for_update = {.name = "leads_activity_get_for_update",
                                            .sql = "SELECT " LEADS_ACTIVITY_JSON("a") ACTIVITY_WHERE
                                            " FOR UPDATE OF a",
                                            .nparams = 3};

//  A change, with its LeadActivityLogged (changed set).
static const crm_stmt_t s_update = {
    .name = "leads_activity_update",
    .sql = "WITH upd AS ("
           "  UPDATE activities SET occurred_at = $4::timestamptz, outcome = $5,"
           "    duration_seconds = $6::int, details = $7::jsonb, updated_at = $8::timestamptz,"
           "    updated_by = $9"
           "  WHERE tenant_id = $1 AND lead_id = $2::uuid AND id = $3::uuid RETURNING "
           "*)," CRM_OUTBOX_SQL("ev", "LeadActivityLogged", "upd", "$2::uuid::text", "$8", "$10",
                                "$11") " SELECT " LEADS_ACTIVITY_JSON("upd") " FROM upd",
    .nparams = 11,
    .writes = true};

//  A lead's activities newest first; $3 a kind or ''; $4/$5 the cursor ('' none).
static const crm_stmt_t s_list = {
    .name = "leads_activity_list",
    .sql = "SELECT " LEADS_ACTIVITY_JSON("a") ", " LEADS_SQL_MICROS(
        "a.occurred_at") "::text"
                         " FROM activities a"
                         " WHERE a.tenant_id = $1 AND a.lead_id = $2::uuid AND ($3 = '' OR a.kind "
                         "= $3)"
                         "  AND ($4 = '' OR (a.occurred_at, a.id) < (" LEADS_SQL_CURSOR_TIME(
                             "$4") ","
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
    else if (leads_activity_is_appointment(a->kind))
        crm_enum_api_name(&crm__leads__appointment_status__descriptor, a->status, outcome, 24);
    json_t *details = crm_pb_to_json_value(&a->base);
    static const char *const columns[] = {
        "id",        "leadId", "kind",        "actorId",   "occurredAt", "durationSeconds",
        "outcome",   "status", "scheduledAt", "createdAt", "updatedAt",  "updatedBy",
        "fromStage", "toStage"};
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++)
        json_object_del(details, columns[i]);
    char *text = json_dumps(details, JSON_COMPACT);
    json_decref(details);
    return text;
}

//  The LeadActivityLogged of an activity as stored (changed: the JSON names an update
//  set); it points into its arguments and kind.
static void s_event_fill(Crm__Events__LeadActivityLogged *event, const Crm__Leads__Activity *a,
                         const char *contact_id, const char *actor_id, const char *outcome,
                         char **changed, size_t n_changed, char kind[32]) {
    crm__events__lead_activity_logged__init(event);
    event->lead_id = a->lead_id;
    event->contact_id = (char *)contact_id;
    event->activity_id = a->id;
    event->kind = (char *)leads_activity_kind_name(a->kind, kind);
    event->outcome = (char *)outcome;
    event->duration_s = a->duration_seconds > 0 ? (uint32_t)a->duration_seconds : 0;
    event->actor_id = (char *)actor_id;
    event->occurred_at = a->occurred_at;
    event->changed = changed;
    event->n_changed = n_changed;
    event->vehicle = a->vehicle; // an appointment's or test drive's (the notify service's texts)
    //  An email's or a text's direction (the scoring service counts inbound replies).
    if (a->direction == CRM__LEADS__EMAIL_DIRECTION__EMAIL_DIRECTION_INBOUND)
        event->direction = (char *)"inbound";
    else if (a->direction == CRM__LEADS__EMAIL_DIRECTION__EMAIL_DIRECTION_OUTBOUND)
        event->direction = (char *)"outbound";
}

//  The same as an in-statement event row (CRM_OUTBOX_SQL's parameters).
static void s_event_init(crm_outbox_event_t *ev, const Crm__Leads__Activity *a,
                         const char *contact_id, const char *actor_id, const char *now,
                         const char *outcome, char **changed, size_t n_changed) {
    char kind[32];
    Crm__Events__LeadActivityLogged event;
    s_event_fill(&event, a, contact_id, actor_id, outcome, changed, n_changed, kind);
    crm_outbox_event_init(ev, &event.base, now);
}

// --- the statements run ------------------------------------------------------------------

int leads_activity_store_insert(crm_call_t *call, const char *lead_id, const char *contact_id,
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
    const char *params[] = {call->header->tenant_id,
                            lead_id,
                            id,
                            leads_activity_kind_name(a->kind, kind),
                            call->header->actor_id,
                            a->occurred_at,
                            outcome,
                            duration,
                            details,
                            now,
                            ev.event_id,
                            ev.payload_hex};
    PGresult *res = crm_db_query(call->db, &s_insert, params);
    crm_outbox_event_reset(&ev);
    free(details);
    return crm_row_answer_one(call, res, 201, &crm__leads__activity__descriptor, "activity",
                              "no such lead", response);
}

int leads_activity_store_read_for_update(crm_call_t *call, const char *lead_id,
                                         const char *activity_id, char **json) {
    *json = NULL;
    const char *params[] = {call->header->tenant_id, lead_id, activity_id};
    PGresult *res = crm_db_query(call->db, &s_get_for_update, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 200;
    if (PQntuples(res) == 0) {
        crm_call_error(call, "not_found", "no such activity of this lead");
        code = 404;
    } else
        *json = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return code;
}

int leads_activity_store_update(crm_call_t *call, const char *lead_id, const char *activity_id,
                                const char *contact_id, const Crm__Leads__Activity *a,
                                char **changed, size_t n_changed, ProtobufCMessage **response) {
    char now[40], outcome[24], duration[16];
    crm_time_now(now, sizeof now);
    char *details = s_render(a, outcome);
    snprintf(duration, sizeof duration, "%" PRId32, a->duration_seconds);
    crm_outbox_event_t ev;
    s_event_init(&ev, a, contact_id, call->header->actor_id, now, outcome, changed, n_changed);
    const char *params[] = {call->header->tenant_id,
                            lead_id,
                            activity_id,
                            a->occurred_at,
                            outcome,
                            duration,
                            details,
                            now,
                            call->header->actor_id,
                            ev.event_id,
                            ev.payload_hex};
    PGresult *res = crm_db_query(call->db, &s_update, params);
    crm_outbox_event_reset(&ev);
    free(details);
    return crm_row_answer_one(call, res, 200, &crm__leads__activity__descriptor, "activity",
                              "no such lead", response);
}

int leads_activity_store_list(crm_call_t *call, const char *lead_id,
                              const leads_activity_list_t *page, ProtobufCMessage **response) {
    int limit = page->limit;
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *params[] = {call->header->tenant_id, lead_id,         page->kind,
                            page->cursor.value,      page->cursor.id, limit_text};
    PGresult *res = crm_db_query(call->db, &s_list, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 200;
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

int leads_activity_store_log_once(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                                  const char *lead_id, const char *actor_id, const char *notify_ref,
                                  bool touches, Crm__Leads__Activity *a) {
    char id[CRM_UUID_LEN + 1], now[40], outcome[24], kind[32];
    crm_uuid_v7(id);
    crm_time_now(now, sizeof now);
    crm_pb_string_set(&a->id, id);
    crm_pb_string_set(&a->lead_id, lead_id);
    char *details = s_render(a, outcome);
    const char *params[] = {tenant_id,  lead_id,
                            id,         leads_activity_kind_name(a->kind, kind),
                            actor_id,   a->occurred_at,
                            details,    now,
                            notify_ref, touches ? "true" : "false"};
    PGresult *res = crm_db_query(db, &s_insert_once, params);
    free(details);
    if (!res)
        return -1;
    int logged = PQntuples(res);
    if (logged) {
        Crm__Events__LeadActivityLogged event;
        s_event_fill(&event, a, PQgetvalue(res, 0, 1), actor_id, outcome, NULL, 0, kind);
        if (crm_outbox_add(outbox, tenant_id, lead_id, &event.base, now) != 0)
            logged = -1;
    }
    PQclear(res);
    return logged;
}
