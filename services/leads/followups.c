/*  followups: a lead's follow-ups (POST, PATCH, GET /v1/leads/{id}/follow-ups[/{followUpId}],
    GET /v1/follow-ups), and how a lead's followUpAt follows them.

    The lead's follow_up_at is the due time of its earliest pending follow-up. Every
    statement here that changes a follow-up's due time or status sets it in the same
    statement, under the lead's row lock (each write first locks the lead), so the two
    never disagree. The lead's own followUpAt stays writable (POST and PATCH /v1/leads):
    see leads_followups_on_create and leads_followups_on_update (leads.h).

    A follow-up is checked completely before anything is written: a clear 422 naming the
    field, 404 for a lead (or follow-up) that is not the tenant's, 409 for one that can no
    longer change (completed, cancelled, or its lead closed).
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "validate.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOTE_MAX_LEN 1000
#define ASSIGNEE_MAX_LEN 64

#define FOLLOW_UP_JSON(f, contact, assignee) LEADS_FOLLOW_UP_JSONB(f, contact, assignee) "::text"

//  The live lead of the tenant, locked for a write (or not, for a read): whether it is
//  closed.
#define LEAD_STATE_SQL                                                                        \
    "SELECT closed_at IS NOT NULL, " CRM_SQL_TS("follow_up_at") " FROM leads"                 \
    " WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL"

static const crm_stmt_t s_lead_lock = {
    .name = "followups_lead_lock", .sql = LEAD_STATE_SQL " FOR UPDATE", .nparams = 2};
static const crm_stmt_t s_lead_read = {
    .name = "followups_lead_read", .sql = LEAD_STATE_SQL, .nparams = 2};

//  A new follow-up ($4 its due time, or "" for $5 a quick pick) and the lead's
//  follow_up_at moved earlier if it is now the first.
static const crm_stmt_t s_insert = {
    .name = "followups_insert",
    .sql = "WITH due AS (SELECT coalesce(nullif($4, '')::timestamptz,"
           "                             follow_up_pick_due($1, $5, $10::timestamptz)) AS at),"
           " ins AS ("
           "  INSERT INTO follow_ups (tenant_id, id, lead_id, due_at, method, note, assignee_id,"
           "    created_by, updated_by, created_at, updated_at)"
           "  SELECT $1, $2::uuid, $3::uuid, due.at, $6, $7, $8, $9, $9, $10::timestamptz,"
           "    $10::timestamptz FROM due RETURNING *),"
           " lead AS ("
           "  UPDATE leads l SET follow_up_at = least(l.follow_up_at, ins.due_at) FROM ins"
           "  WHERE l.tenant_id = $1 AND l.id = $3::uuid RETURNING l.contact_id, l.assignee_id)"
           " SELECT " FOLLOW_UP_JSON("ins", "lead.contact_id", "lead.assignee_id")
           " FROM ins, lead",
    .nparams = 10,
    .writes = true};

//  One follow-up of the lead: its status and whether it has fired.
static const crm_stmt_t s_status = {
    .name = "followups_status",
    .sql = "SELECT status FROM follow_ups"
           " WHERE tenant_id = $1 AND lead_id = $2::uuid AND id = $3::uuid FOR UPDATE",
    .nparams = 3};

//  A change of a pending follow-up: $4 reschedules (to $5, or the pick $6), $7 sets the
//  method $8, $9 the note $10, $11 the assignee $12; $13 closes it ('completed',
//  'cancelled', or '' to keep it pending). A new due time fires again; the lead's
//  follow_up_at becomes its earliest pending due time.
static const crm_stmt_t s_update = {
    .name = "followups_update",
    .sql = "WITH nd AS (SELECT CASE WHEN $4::boolean THEN coalesce(nullif($5, '')::timestamptz,"
           "               follow_up_pick_due($1, $6, $14::timestamptz)) END AS at),"
           " upd AS ("
           "  UPDATE follow_ups f SET due_at = coalesce(nd.at, f.due_at),"
           "    fired_at = CASE WHEN nd.at IS NOT NULL AND nd.at <> f.due_at THEN NULL"
           "               ELSE f.fired_at END,"
           "    method = CASE WHEN $7::boolean THEN $8 ELSE f.method END,"
           "    note = CASE WHEN $9::boolean THEN $10 ELSE f.note END,"
           "    assignee_id = CASE WHEN $11::boolean THEN $12 ELSE f.assignee_id END,"
           "    status = CASE WHEN $13 = '' THEN f.status ELSE $13 END,"
           "    completed_at = CASE WHEN $13 = 'completed' THEN $14::timestamptz"
           "                   ELSE f.completed_at END,"
           "    cancelled_at = CASE WHEN $13 = 'cancelled' THEN $14::timestamptz"
           "                   ELSE f.cancelled_at END,"
           "    updated_at = $14::timestamptz, updated_by = $15"
           "  FROM nd WHERE f.tenant_id = $1 AND f.lead_id = $2::uuid AND f.id = $3::uuid"
           "    AND f.status = 'pending' RETURNING f.*),"
           " lead AS ("
           "  UPDATE leads l SET follow_up_at = (SELECT min(x.due_at) FROM ("
           "      SELECT o.due_at FROM follow_ups o WHERE o.tenant_id = $1"
           "        AND o.lead_id = $2::uuid AND o.status = 'pending' AND o.id <> $3::uuid"
           "      UNION ALL SELECT upd.due_at FROM upd WHERE upd.status = 'pending') x)"
           "  FROM upd WHERE l.tenant_id = $1 AND l.id = $2::uuid"
           "  RETURNING l.contact_id, l.assignee_id)"
           " SELECT " FOLLOW_UP_JSON("upd", "lead.contact_id", "lead.assignee_id")
           " FROM upd, lead",
    .nparams = 15,
    .writes = true};

//  Every pending follow-up of the lead cancelled ($3 the reason), its follow_up_at
//  cleared.
static const crm_stmt_t s_cancel_pending = {
    .name = "followups_cancel_pending",
    .sql = "WITH c AS ("
           "  UPDATE follow_ups SET status = 'cancelled', cancel_reason = $3,"
           "    cancelled_at = $4::timestamptz, updated_at = $4::timestamptz, updated_by = $5"
           "  WHERE tenant_id = $1 AND lead_id = $2::uuid AND status = 'pending' RETURNING 1),"
           " l AS (UPDATE leads SET follow_up_at = NULL"
           "  WHERE tenant_id = $1 AND id = $2::uuid AND follow_up_at IS NOT NULL RETURNING 1)"
           " SELECT count(*) FROM c",
    .nparams = 5,
    .writes = true};

//  The lead's followUpAt set by a PATCH ($3): its next pending follow-up moved there, or
//  (none pending) a call scheduled then ($6 its id). Answers the lead's earliest pending
//  due time after it, and whether that is $3.
#define NEXT_PENDING_SQL                                                                      \
    "least($3::timestamptz, (SELECT min(o.due_at) FROM follow_ups o WHERE o.tenant_id = $1"   \
    "  AND o.lead_id = $2::uuid AND o.status = 'pending'"                                     \
    "  AND o.id NOT IN (SELECT id FROM nxt)))"
static const crm_stmt_t s_reschedule_next = {
    .name = "followups_reschedule_next",
    .sql = "WITH nxt AS (SELECT id FROM follow_ups WHERE tenant_id = $1 AND lead_id = $2::uuid"
           "  AND status = 'pending' ORDER BY due_at, id LIMIT 1 FOR UPDATE),"
           " upd AS ("
           "  UPDATE follow_ups f SET due_at = $3::timestamptz,"
           "    fired_at = CASE WHEN f.due_at = $3::timestamptz THEN f.fired_at END,"
           "    updated_at = $4::timestamptz, updated_by = $5"
           "  FROM nxt WHERE f.tenant_id = $1 AND f.id = nxt.id RETURNING 1),"
           " ins AS ("
           "  INSERT INTO follow_ups (tenant_id, id, lead_id, due_at, method, created_by,"
           "    updated_by, created_at, updated_at)"
           "  SELECT $1, $6::uuid, $2::uuid, $3::timestamptz, 'call', $5, $5, $4::timestamptz,"
           "    $4::timestamptz WHERE NOT EXISTS (SELECT 1 FROM nxt) RETURNING 1)"
           " SELECT " NEXT_PENDING_SQL " = $3::timestamptz, " CRM_SQL_TS(NEXT_PENDING_SQL)
           ", (SELECT count(*) FROM upd) + (SELECT count(*) FROM ins)",
    .nparams = 6,
    .writes = true};

//  A lead's first follow-up, from its followUpAt at creation (the lead row has it).
static const crm_stmt_t s_insert_for_lead = {
    .name = "followups_insert_for_lead",
    .sql = "INSERT INTO follow_ups (tenant_id, id, lead_id, due_at, method, created_by,"
           "  updated_by, created_at, updated_at)"
           " VALUES ($1, $2::uuid, $3::uuid, $4::timestamptz, 'call', $5, $5, $6::timestamptz,"
           "  $6::timestamptz)",
    .nparams = 6,
    .writes = true};

//  One follow-up of a live lead.
static const crm_stmt_t s_get = {
    .name = "followups_get",
    .sql = "SELECT " FOLLOW_UP_JSON("f", "l.contact_id", "l.assignee_id")
           " FROM follow_ups f JOIN leads l ON l.tenant_id = f.tenant_id AND l.id = f.lead_id"
           " WHERE f.tenant_id = $1 AND f.lead_id = $2::uuid AND f.id = $3::uuid"
           "  AND l.deleted_at IS NULL",
    .nparams = 3};

//  The list: $2 a lead ('' any), $3 an assignee, $4 a status, $5 due before; keyset
//  ($6 due time in microseconds, $7 id) in due order.
static const crm_stmt_t s_list = {
    .name = "followups_list",
    .sql = "SELECT " FOLLOW_UP_JSON("f", "l.contact_id", "l.assignee_id") ","
           " (extract(epoch FROM f.due_at) * 1000000)::bigint::text"
           //  (The lead is looked up per row, LIMIT 1 keeping the planner from a scan of
           //  the tenant's leads.)
           " FROM follow_ups f CROSS JOIN LATERAL (SELECT contact_id, assignee_id, deleted_at"
           "  FROM leads WHERE tenant_id = f.tenant_id AND id = f.lead_id LIMIT 1) l"
           " WHERE f.tenant_id = $1 AND l.deleted_at IS NULL"
           "  AND ($2 = '' OR f.lead_id = nullif($2, '')::uuid)"
           "  AND ($3 = '' OR coalesce(nullif(f.assignee_id, ''), l.assignee_id) = $3)"
           "  AND ($4 = '' OR f.status = $4)"
           "  AND ($5 = '' OR f.due_at < nullif($5, '')::timestamptz)"
           "  AND ($6 = '' OR (f.due_at, f.id) > ('epoch'::timestamptz"
           "       + nullif($6, '')::bigint * interval '1 microsecond', nullif($7, '')::uuid))"
           " ORDER BY f.due_at, f.id LIMIT $8::int",
    .nparams = 8,
    .custom_plan = true};

// --- helpers -----------------------------------------------------------------------------

static bool s_check_lead_id(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return true;
    crm_call_error(call, "not_found", "no such lead (not a valid lead id)");
    return false;
}

//  The lead, live and the tenant's: locked when writing. 200 (closed set), 404, or a
//  failure code.
static int s_lead_state(crm_call_t *call, const char *lead_id, bool lock, bool *closed,
                        char follow_up_at[40]) {
    const char *params[] = {call->header->tenant_id, lead_id};
    PGresult *res = crm_db_query(call->db, lock ? &s_lead_lock : &s_lead_read, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 200;
    if (PQntuples(res) == 0) {
        crm_call_error(call, "not_found", "no such lead");
        code = 404;
    } else {
        if (closed)
            *closed = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        if (follow_up_at)
            snprintf(follow_up_at, 40, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return code;
}

//  A due time being set: an RFC 3339 date-time not in the past (422 naming dueAt).
static void s_check_due(crm_call_t *call, const char *value) {
    int64_t micros;
    if (leads_time_parse(value, &micros) || strlen(value) <= 10)
        crm_call_field_error(call, "dueAt", "must be an RFC 3339 date-time");
    else if (micros < (int64_t)time(NULL) * 1000000)
        crm_call_field_error(call, "dueAt", "must not be in the past");
}

//  The due time of a create or a reschedule: dueAt or pick, one of them.
static void s_check_when(crm_call_t *call, const Crm__Leads__FollowUp *f) {
    bool picked = f->pick != CRM__LEADS__FOLLOW_UP_PICK__FOLLOW_UP_PICK_UNSPECIFIED;
    if (f->due_at[0] && picked)
        crm_call_field_error(call, "pick", "give dueAt or pick, not both");
    else if (f->due_at[0])
        s_check_due(call, f->due_at);
    else if (!picked)
        crm_call_field_error(call, "dueAt",
                             "is required (or pick: in_1_hour, tomorrow_9am, in_3_days, "
                             "in_1_week)");
}

static void s_check_note(crm_call_t *call, const char *note) {
    if (crm_utf8_chars(note) > NOTE_MAX_LEN)
        crm_call_field_error(call, "note", "must be at most %d characters", NOTE_MAX_LEN);
}

static void s_check_assignee(crm_call_t *call, const char *assignee) {
    if (crm_utf8_chars(assignee) > ASSIGNEE_MAX_LEN)
        crm_call_field_error(call, "assigneeId", "must be at most %d characters",
                             ASSIGNEE_MAX_LEN);
}

static int s_closed_lead(crm_call_t *call) {
    crm_call_error(call, "lead_closed",
                   "the lead is closed (won or lost): reopen it to schedule a follow-up");
    return 409;
}

// --- create --------------------------------------------------------------------------------

int leads_followup_create(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    const Crm__Leads__CreateFollowUpRequest *req = (const void *)request;
    if (!s_check_lead_id(call, req->id))
        return 404;
    const Crm__Leads__FollowUp *f = req->follow_up;
    if (!f) {
        crm_call_field_error(call, "dueAt", "is required (or pick)");
        return 422;
    }
    s_check_when(call, f);
    s_check_note(call, f->note);
    s_check_assignee(call, f->assignee_id);
    if (f->status != CRM__LEADS__FOLLOW_UP_STATUS__FOLLOW_UP_STATUS_UNSPECIFIED &&
        f->status != CRM__LEADS__FOLLOW_UP_STATUS__FOLLOW_UP_STATUS_PENDING)
        crm_call_field_error(call, "status", "a follow-up starts pending");
    if (call->errors.n)
        return 422;
    bool closed = false;
    char before[40];
    int code = s_lead_state(call, req->id, true, &closed, before);
    if (code != 200)
        return code;
    if (closed)
        return s_closed_lead(call);
    if (f->assignee_id[0] && (code = leads_member_check_assignee(call, f->assignee_id,
                                                               "assigneeId")) != 0)
        return code;

    char id[CRM_UUID_LEN + 1], now[40], pick[32], method[32];
    crm_uuid_v7(id);
    crm_time_now(now, sizeof now);
    crm_enum_api_name(&crm__leads__follow_up_pick__descriptor, f->pick, pick, sizeof pick);
    crm_enum_api_name(&crm__leads__follow_up_method__descriptor, f->method, method,
                      sizeof method);
    const char *params[] = {call->header->tenant_id, id, req->id, f->due_at, pick,
                            method[0] ? method : "call", f->note, f->assignee_id,
                            call->header->actor_id, now};
    PGresult *res = crm_db_query(call->db, &s_insert, params);
    code = crm_row_answer_one(call, res, 201, &crm__leads__follow_up__descriptor, "follow-up",
                              "no such lead", response);
    if (code == 201) {  // the lead's followUpAt may have moved: say so
        int failed = leads_store_announce(call, req->id, "followUpAt", before);
        code = failed ? failed : code;
    }
    return code;
}

// --- change ----------------------------------------------------------------------------------

//  What a PATCH may change (proto names); the rest is read-only.
static const char *const s_changeable[] = {"due_at", "pick", "method", "note", "status",
                                           "assignee_id"};

static bool s_changeable_field(const char *name) {
    for (size_t i = 0; i < sizeof s_changeable / sizeof s_changeable[0]; i++)
        if (strcmp(s_changeable[i], name) == 0)
            return true;
    return false;
}

int leads_followup_update(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    const Crm__Leads__UpdateFollowUpRequest *req = (const void *)request;
    if (!s_check_lead_id(call, req->id))
        return 404;
    if (!crm_uuid_valid(req->follow_up_id)) {
        crm_call_error(call, "not_found", "no such follow-up (not a valid follow-up id)");
        return 404;
    }
    static const Crm__Leads__FollowUp empty = CRM__LEADS__FOLLOW_UP__INIT;
    const Crm__Leads__FollowUp *f = req->follow_up ? req->follow_up : &empty;
    bool when = false, set_method = false, set_note = false, set_assignee = false,
         set_status = false;
    for (size_t i = 0; i < req->n_update_mask; i++) {
        const ProtobufCFieldDescriptor *fd =
            crm_pb_field_by_name(&crm__leads__follow_up__descriptor, req->update_mask[i]);
        if (!fd) {
            crm_call_field_error(call, req->update_mask[i], "is not a field of a follow-up");
            continue;
        }
        if (!s_changeable_field(fd->name)) {
            crm_call_field_error(call, req->update_mask[i],
                                 "cannot be changed (dueAt or pick, method, note, status, "
                                 "assigneeId can)");
            continue;
        }
        when |= strcmp(fd->name, "due_at") == 0 || strcmp(fd->name, "pick") == 0;
        set_method |= strcmp(fd->name, "method") == 0;
        set_note |= strcmp(fd->name, "note") == 0;
        set_assignee |= strcmp(fd->name, "assignee_id") == 0;
        set_status |= strcmp(fd->name, "status") == 0;
    }
    if (!req->n_update_mask)
        crm_call_error(call, "validation_failed",
                       "nothing to change: give status, dueAt or pick, method, note or "
                       "assigneeId");
    if (when)
        s_check_when(call, f);
    if (set_method && f->method == CRM__LEADS__FOLLOW_UP_METHOD__FOLLOW_UP_METHOD_UNSPECIFIED)
        crm_call_field_error(call, "method",
                             "is required: call, email, sms, whatsapp, in_person, video_call "
                             "or other");
    if (set_note)
        s_check_note(call, f->note);
    if (set_assignee)
        s_check_assignee(call, f->assignee_id);
    const char *status = "";
    if (set_status) {
        if (f->status == CRM__LEADS__FOLLOW_UP_STATUS__FOLLOW_UP_STATUS_COMPLETED)
            status = "completed";
        else if (f->status == CRM__LEADS__FOLLOW_UP_STATUS__FOLLOW_UP_STATUS_CANCELLED)
            status = "cancelled";
        else
            crm_call_field_error(call, "status",
                                 "may be set to completed or cancelled (a pending follow-up "
                                 "is rescheduled with dueAt or pick)");
        if (status[0] && when)
            crm_call_field_error(call, "status", "reschedule or close a follow-up, not both");
    }
    if (call->errors.n || !req->n_update_mask)
        return 422;

    bool closed = false;
    char before[40];
    int code = s_lead_state(call, req->id, true, &closed, before);
    if (code != 200)
        return code;
    if (set_assignee && f->assignee_id[0] &&
        (code = leads_member_check_assignee(call, f->assignee_id, "assigneeId")) != 0)
        return code;
    const char *keys[] = {call->header->tenant_id, req->id, req->follow_up_id};
    PGresult *res = crm_db_query(call->db, &s_status, keys);
    if (!res)
        return crm_call_db_failure(call);
    char current[16] = "";
    if (PQntuples(res) == 1)
        snprintf(current, sizeof current, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!current[0]) {
        crm_call_error(call, "not_found", "no such follow-up of this lead");
        return 404;
    }
    if (strcmp(current, "pending") != 0) {
        crm_call_error(call, "follow_up_closed",
                       "the follow-up is %s: it can no longer change (schedule a new one)",
                       current);
        return 409;
    }
    if (closed && when)
        return s_closed_lead(call);

    char now[40], pick[32], method[32];
    crm_time_now(now, sizeof now);
    crm_enum_api_name(&crm__leads__follow_up_pick__descriptor, f->pick, pick, sizeof pick);
    crm_enum_api_name(&crm__leads__follow_up_method__descriptor, f->method, method,
                      sizeof method);
    const char *params[] = {call->header->tenant_id,
                            req->id,
                            req->follow_up_id,
                            when ? "true" : "false",
                            f->due_at,
                            pick,
                            set_method ? "true" : "false",
                            method,
                            set_note ? "true" : "false",
                            f->note,
                            set_assignee ? "true" : "false",
                            f->assignee_id,
                            status,
                            now,
                            call->header->actor_id};
    res = crm_db_query(call->db, &s_update, params);
    code = crm_row_answer_one(call, res, 200, &crm__leads__follow_up__descriptor, "follow-up",
                              "no such follow-up of this lead", response);
    if (code == 200) {  // the lead's followUpAt may have moved: say so
        int failed = leads_store_announce(call, req->id, "followUpAt", before);
        code = failed ? failed : code;
    }
    return code;
}

// --- reading -------------------------------------------------------------------------------

int leads_followup_get(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    const Crm__Leads__GetFollowUpRequest *req = (const void *)request;
    if (!s_check_lead_id(call, req->id))
        return 404;
    if (!crm_uuid_valid(req->follow_up_id)) {
        crm_call_error(call, "not_found", "no such follow-up (not a valid follow-up id)");
        return 404;
    }
    const char *params[] = {call->header->tenant_id, req->id, req->follow_up_id};
    return crm_row_answer_one(call, crm_db_query(call->db, &s_get, params), 200,
                              &crm__leads__follow_up__descriptor, "follow-up",
                              "no such follow-up of this lead", response);
}

// --- the list ----------------------------------------------------------------------------------

int leads_followup_list(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Leads__ListFollowUpsRequest *req = (const void *)request;
    //  A lead's list (the path names it) answers 404 for a lead that is not the tenant's.
    if (req->id[0] && !s_check_lead_id(call, req->id))
        return 404;
    s_check_assignee(call, req->assignee_id);
    char status[16], before[64] = "";
    crm_enum_api_name(&crm__leads__follow_up_status__descriptor, req->status, status,
                      sizeof status);
    if (req->due_before[0]) {
        int64_t micros;
        if (leads_time_parse(req->due_before, &micros))
            crm_call_field_error(call, "dueBefore",
                                 "must be a date (YYYY-MM-DD) or an RFC 3339 time");
        else
            snprintf(before, sizeof before, "%lld", (long long)micros);
    }
    int limit =
        crm_page_limit(call, "limit", req->limit, CRM_PAGE_DEFAULT_LIMIT, CRM_PAGE_MAX_LIMIT);
    leads_cursor_t cursor = {0};
    if (req->cursor[0] && (leads_cursor_decode(req->cursor, 'd', &cursor) || !cursor.value[0]))
        crm_call_field_error(call, "cursor", "is not a cursor of this list");
    if (call->errors.n)
        return 422;
    if (req->id[0]) {
        int code = s_lead_state(call, req->id, false, NULL, NULL);
        if (code != 200)
            return code;
    }
    //  dueBefore as UTC text for the statement.
    char before_text[64] = "";
    if (before[0]) {
        long long micros = atoll(before);
        time_t seconds = (time_t)(micros / 1000000);
        struct tm tm;
        gmtime_r(&seconds, &tm);
        char date[32];
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(before_text, sizeof before_text, "%s.%06dZ", date, (int)(micros % 1000000));
    }
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *params[] = {call->header->tenant_id, req->id, req->assignee_id, status,
                            before_text, cursor.value, cursor.id, limit_text};
    PGresult *res = crm_db_query(call->db, &s_list, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    int n = rows > limit ? limit : rows;
    Crm__Leads__ListFollowUpsResponse *list = malloc(sizeof *list);
    crm__leads__list_follow_ups_response__init(list);
    list->items = n ? calloc((size_t)n, sizeof *list->items) : NULL;
    int code = 200;
    for (int i = 0; i < n && code == 200; i++) {
        Crm__Leads__FollowUp *item = (Crm__Leads__FollowUp *)crm_row_decode(
            call, &crm__leads__follow_up__descriptor, PQgetvalue(res, i, 0), "follow-up");
        if (item)
            list->items[list->n_items++] = item;
        else
            code = 500;
    }
    if (code == 200 && rows > limit && n > 0)
        list->next_cursor =
            leads_cursor_encode('d', PQgetvalue(res, n - 1, 1), list->items[n - 1]->id);
    PQclear(res);
    if (code == 200)
        *response = &list->base;
    else
        crm__leads__list_follow_ups_response__free_unpacked(list, NULL);
    return code;
}

// --- the lead's own followUpAt -----------------------------------------------------------------

int leads_followups_on_create(crm_call_t *call, const Crm__Leads__Lead *lead) {
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    const char *params[] = {call->header->tenant_id, id, lead->id, lead->follow_up_at,
                            call->header->actor_id, lead->created_at};
    PGresult *res = crm_db_query(call->db, &s_insert_for_lead, params);
    if (!res)
        return crm_call_db_failure(call);
    PQclear(res);
    return 0;
}

int leads_followups_on_update(crm_call_t *call, Crm__Leads__Lead *lead) {
    //  A closed lead has no pending follow-ups (they were cancelled when it closed): its
    //  followUpAt is only a date on it until it is reopened.
    if (lead->closed_at[0])
        return 0;
    if (!lead->follow_up_at[0])
        return leads_followups_cancel_pending(call, lead->id, "");
    char now[40];
    crm_time_now(now, sizeof now);
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    const char *params[] = {call->header->tenant_id, lead->id, lead->follow_up_at, now,
                            call->header->actor_id, id};
    PGresult *res = crm_db_query(call->db, &s_reschedule_next, params);
    if (!res)
        return crm_call_db_failure(call);
    //  Another pending follow-up comes first: that is the lead's followUpAt now.
    if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        crm_pb_string_set(&lead->follow_up_at, PQgetvalue(res, 0, 1));
    PQclear(res);
    return 0;
}

//  A lost lead's long-term follow-up ($4: RFC 3339, or a date: 9:00 that day on the
//  tenant's clock), a call; the lead's follow_up_at is its due time (the lead's others
//  were cancelled as it closed).
static const crm_stmt_t s_insert_long_term = {
    .name = "followups_insert_long_term",
    .sql = "WITH due AS (SELECT CASE WHEN length($4) = 10"
           "    THEN ($4::date + time '09:00') AT TIME ZONE tenant_time_zone($1)"
           "    ELSE $4::timestamptz END AS at),"
           " ins AS ("
           "  INSERT INTO follow_ups (tenant_id, id, lead_id, due_at, method, note, long_term,"
           "    created_by, updated_by, created_at, updated_at)"
           "  SELECT $1, $2::uuid, $3::uuid, due.at, 'call', $5, true, $6, $6, $7::timestamptz,"
           "    $7::timestamptz FROM due WHERE due.at > $7::timestamptz RETURNING due_at)"
           " UPDATE leads l SET follow_up_at = ins.due_at FROM ins"
           " WHERE l.tenant_id = $1 AND l.id = $3::uuid RETURNING 1",
    .nparams = 7,
    .writes = true};

int leads_followups_long_term(crm_call_t *call, const char *lead_id, const char *at,
                              const char *note) {
    char id[CRM_UUID_LEN + 1], now[40];
    crm_uuid_v7(id);
    crm_time_now(now, sizeof now);
    const char *params[] = {call->header->tenant_id, id, lead_id, at, note,
                            call->header->actor_id, now};
    PGresult *res = crm_db_query(call->db, &s_insert_long_term, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    PQclear(res);
    if (rows == 1)
        return 0;
    //  A date that is today, before 9:00 went by: past by the time it is written.
    crm_call_field_error(call, "lost.followUpAt", "must be in the future");
    return 422;
}

int leads_followups_cancel_pending(crm_call_t *call, const char *lead_id, const char *reason) {
    char now[40];
    crm_time_now(now, sizeof now);
    const char *params[] = {call->header->tenant_id, lead_id, reason, now,
                            call->header->actor_id};
    PGresult *res = crm_db_query(call->db, &s_cancel_pending, params);
    if (!res)
        return crm_call_db_failure(call);
    PQclear(res);
    return 0;
}
