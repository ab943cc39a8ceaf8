/*  followup_store: the SQL of a lead's follow-ups, and how a lead's followUpAt follows
    them.

    The lead's follow_up_at is the due time of its earliest pending follow-up. Every
    statement here that changes a follow-up's due time or status sets it in the same
    statement, under the lead's row lock (each write first locks the lead), so the two
    never disagree. The lead's own followUpAt stays writable (POST and PATCH /v1/leads):
    see leads_followups_on_create and leads_followups_on_update (leads.h).

    The scheduler's pass (scheduler.c, a runner job) is here too: it claims the due
    follow-ups with FOR UPDATE SKIP LOCKED, fires them (or cancels those whose lead was
    closed or deleted) and writes their FollowUpDue events through the outbox writer, in
    one transaction.

    followup.c holds the rules, followup_methods.c the methods.
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define FOLLOW_UP_JSON(f, contact, assignee) LEADS_FOLLOW_UP_JSONB(f, contact, assignee) "::text"

//  The live lead of the tenant that the caller ($3 role, $4 actor) sees, locked for a
//  write (or not, for a read): whether it is closed.
#define LEAD_STATE_SQL                                                                        \
    "SELECT l.closed_at IS NOT NULL, " CRM_SQL_TS("l.follow_up_at") " FROM leads l"           \
    " WHERE l.tenant_id = $1 AND l.id = $2::uuid AND l.deleted_at IS NULL"                    \
    "  AND " LEADS_SEES_CALLER("l")

static const crm_stmt_t s_lead_lock = {
    .name = "followups_lead_lock", .sql = LEAD_STATE_SQL " FOR UPDATE", .nparams = 4};
static const crm_stmt_t s_lead_read = {
    .name = "followups_lead_read", .sql = LEAD_STATE_SQL, .nparams = 4};

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
           " WHERE f.tenant_id = $1 AND f.lead_id = $2::uuid AND f.id = $5::uuid"
           "  AND l.deleted_at IS NULL AND " LEADS_SEES_CALLER("l"),
    .nparams = 5};

//  The list: $2 a lead ('' any), $3 an assignee, $4 a status, $5 due before; keyset
//  ($6 due time in microseconds, $7 id) in due order; $9 the caller's scope (leads_scope:
//  the follow-ups of the leads they see).
static const crm_stmt_t s_list = {
    .name = "followups_list",
    .sql = "SELECT " FOLLOW_UP_JSON("f", "l.contact_id", "l.assignee_id") ","
           " (extract(epoch FROM f.due_at) * 1000000)::bigint::text"
           //  (The lead is looked up per row, LIMIT 1 keeping the planner from a scan of
           //  the tenant's leads.)
           " FROM follow_ups f CROSS JOIN LATERAL (SELECT contact_id, assignee_id, deleted_at"
           "  FROM leads WHERE tenant_id = f.tenant_id AND id = f.lead_id LIMIT 1) l"
           " WHERE f.tenant_id = $1 AND l.deleted_at IS NULL AND " LEADS_SEES("l", "$9")
           "  AND ($2 = '' OR f.lead_id = nullif($2, '')::uuid)"
           "  AND ($3 = '' OR coalesce(nullif(f.assignee_id, ''), l.assignee_id) = $3)"
           "  AND ($4 = '' OR f.status = $4)"
           "  AND ($5 = '' OR f.due_at < nullif($5, '')::timestamptz)"
           "  AND ($6 = '' OR (f.due_at, f.id) > ('epoch'::timestamptz"
           "       + nullif($6, '')::bigint * interval '1 microsecond', nullif($7, '')::uuid))"
           " ORDER BY f.due_at, f.id LIMIT $8::int",
    .nparams = 9,
    .custom_plan = true};

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

// --- the lead's state ------------------------------------------------------------------------

int leads_followup_store_lead(crm_call_t *call, const char *lead_id, bool lock, bool *closed,
                              char follow_up_at[40]) {
    const char *params[] = {call->header->tenant_id, lead_id, call->header->role,
                            call->header->actor_id};
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

// --- a follow-up: create, change, read, list ---------------------------------------------------

int leads_followup_store_insert(crm_call_t *call, const char *lead_id,
                                const Crm__Leads__FollowUp *f, ProtobufCMessage **response) {
    char id[CRM_UUID_LEN + 1], now[40], pick[32], method[32];
    crm_uuid_v7(id);
    crm_time_now(now, sizeof now);
    crm_enum_api_name(&crm__leads__follow_up_pick__descriptor, f->pick, pick, sizeof pick);
    crm_enum_api_name(&crm__leads__follow_up_method__descriptor, f->method, method,
                      sizeof method);
    const char *params[] = {call->header->tenant_id, id, lead_id, f->due_at, pick,
                            method[0] ? method : "call", f->note, f->assignee_id,
                            call->header->actor_id, now};
    PGresult *res = crm_db_query(call->db, &s_insert, params);
    return crm_row_answer_one(call, res, 201, &crm__leads__follow_up__descriptor, "follow-up",
                              "no such lead", response);
}

int leads_followup_store_status(crm_call_t *call, const char *lead_id,
                                const char *follow_up_id, char status[16]) {
    status[0] = 0;
    const char *keys[] = {call->header->tenant_id, lead_id, follow_up_id};
    PGresult *res = crm_db_query(call->db, &s_status, keys);
    if (!res)
        return crm_call_db_failure(call);
    if (PQntuples(res) == 1)
        snprintf(status, 16, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int leads_followup_store_update(crm_call_t *call, const char *lead_id, const char *follow_up_id,
                                const leads_followup_change_t *set,
                                ProtobufCMessage **response) {
    const Crm__Leads__FollowUp *f = set->follow_up;
    char now[40], pick[32], method[32];
    crm_time_now(now, sizeof now);
    crm_enum_api_name(&crm__leads__follow_up_pick__descriptor, f->pick, pick, sizeof pick);
    crm_enum_api_name(&crm__leads__follow_up_method__descriptor, f->method, method,
                      sizeof method);
    const char *params[] = {call->header->tenant_id,
                            lead_id,
                            follow_up_id,
                            set->when ? "true" : "false",
                            f->due_at,
                            pick,
                            set->method ? "true" : "false",
                            method,
                            set->note ? "true" : "false",
                            f->note,
                            set->assignee ? "true" : "false",
                            f->assignee_id,
                            set->status,
                            now,
                            call->header->actor_id};
    PGresult *res = crm_db_query(call->db, &s_update, params);
    return crm_row_answer_one(call, res, 200, &crm__leads__follow_up__descriptor, "follow-up",
                              "no such follow-up of this lead", response);
}

int leads_followup_store_get(crm_call_t *call, const char *lead_id, const char *follow_up_id,
                             ProtobufCMessage **response) {
    const char *params[] = {call->header->tenant_id, lead_id, call->header->role,
                            call->header->actor_id, follow_up_id};
    return crm_row_answer_one(call, crm_db_query(call->db, &s_get, params), 200,
                              &crm__leads__follow_up__descriptor, "follow-up",
                              "no such follow-up of this lead", response);
}

int leads_followup_store_list(crm_call_t *call, const char *lead_id, const char *assignee_id,
                              const leads_followup_list_t *page, ProtobufCMessage **response) {
    int limit = page->limit;
    char limit_text[16], member[40];
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *scope = NULL;
    int failed = leads_scope(call, member, &scope);
    if (failed)
        return failed;
    const char *params[] = {call->header->tenant_id, lead_id, assignee_id, page->status,
                            page->due_before, page->cursor.value, page->cursor.id, limit_text,
                            scope};
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

// --- the scheduler's pass ----------------------------------------------------------------------

//  The due follow-ups claimed and settled: fired (their lead open) or cancelled, one row
//  each, with their lead's contact and assignee. The claimed rows are updated by ctid
//  (a TID scan), and the lead read by key for each: the work follows the rows claimed,
//  whatever the size of the tables (a join here was planned as a hash of the whole
//  table, 30 ms a pass at 100,000 rows).
static const crm_stmt_t s_claim = {
    .name = "scheduler_claim",
    .sql = "WITH settled AS ("
           "  UPDATE follow_ups f SET (fired_at, status, cancel_reason, cancelled_at) = ("
           "    SELECT CASE WHEN o.open THEN now() END,"
           "      CASE WHEN o.open THEN f.status ELSE 'cancelled' END,"
           "      CASE WHEN o.open THEN f.cancel_reason ELSE o.reason END,"
           "      CASE WHEN o.open THEN f.cancelled_at ELSE now() END"
           "    FROM (SELECT coalesce(bool_or(l.deleted_at IS NULL"
           "                                  AND (l.closed_at IS NULL OR f.long_term)),"
           "                          false) AS open,"
           "            CASE WHEN bool_or(l.deleted_at IS NULL) THEN 'lead_closed'"
           "                 ELSE 'lead_deleted' END AS reason"
           "          FROM leads l WHERE l.tenant_id = f.tenant_id AND l.id = f.lead_id) o)"
           "  WHERE f.ctid = ANY (ARRAY(SELECT q.ctid FROM follow_ups q"
           "    WHERE q.status = 'pending' AND q.fired_at IS NULL AND q.due_at <= now()"
           "    ORDER BY q.due_at LIMIT $1::int FOR UPDATE SKIP LOCKED))"
           "  RETURNING f.tenant_id, f.id, f.lead_id, f.due_at, f.method, f.note,"
           "    f.assignee_id, f.fired_at IS NOT NULL AS fired)"
           " SELECT s.tenant_id, s.id::text, s.lead_id::text, coalesce(l.contact_id::text, ''),"
           "  " CRM_SQL_TS("s.due_at") ", s.method, s.note,"
           "  coalesce(nullif(s.assignee_id, ''), l.assignee_id, ''), s.fired"
           //  (LIMIT 1 keeps the lead's lookup per row: joined, it became a scan of leads.)
           " FROM settled s LEFT JOIN LATERAL (SELECT contact_id, assignee_id FROM leads"
           "  WHERE tenant_id = s.tenant_id AND id = s.lead_id LIMIT 1) l ON true",
    .nparams = 1,
    .writes = true};

//  Milliseconds until the next follow-up to fire is due (NULL: none).
static const crm_stmt_t s_next = {
    .name = "scheduler_next",
    .sql = "SELECT greatest(ceil(extract(epoch FROM min(due_at) - now()) * 1000), 0)::bigint"
           " FROM follow_ups WHERE status = 'pending' AND fired_at IS NULL",
    .nparams = 0};

//  The FollowUpDue event of claimed row i (one that fired). 0 or -1.
static int s_due_add(crm_outbox_t *outbox, PGresult *res, int i) {
    Crm__Events__FollowUpDue due = CRM__EVENTS__FOLLOW_UP_DUE__INIT;
    due.follow_up_id = PQgetvalue(res, i, 1);
    due.lead_id = PQgetvalue(res, i, 2);
    due.contact_id = PQgetvalue(res, i, 3);
    due.due_at = PQgetvalue(res, i, 4);
    due.method = PQgetvalue(res, i, 5);
    due.note = PQgetvalue(res, i, 6);
    due.assignee_id = PQgetvalue(res, i, 7);
    return crm_outbox_add(outbox, PQgetvalue(res, i, 0), due.lead_id, &due.base, NULL);
}

//  One pass in one transaction. Returns the follow-ups claimed (fired or cancelled), with
//  *fired those that fired, or -1 when it failed (rolled back: tried again later).
int leads_followup_store_fire(crm_db_t *db, int batch, int *fired) {
    *fired = 0;
    if (crm_db_begin(db))
        return -1;
    char limit[16];
    snprintf(limit, sizeof limit, "%d", batch);
    const char *claim_params[] = {limit};
    PGresult *res = crm_db_query(db, &s_claim, claim_params);
    if (!res) {
        crm_db_rollback(db);
        return -1;
    }
    int rows = PQntuples(res);
    crm_outbox_t *outbox = crm_outbox_new();
    int rc = 0;
    for (int i = 0; i < rows && rc == 0; i++)
        if (strcmp(PQgetvalue(res, i, 8), "t") == 0)
            rc = s_due_add(outbox, res, i);
    int n = (int)crm_outbox_size(outbox);
    if (rc == 0)
        rc = crm_outbox_write(outbox, db);
    crm_outbox_destroy(&outbox);
    PQclear(res);
    if (rc == 0 && crm_db_commit(db) == 0) {
        *fired = n;
        return rows;
    }
    crm_log_kv(CRM_LOG_WARN, "could not fire due follow-ups; they will be tried again",
               "detail", crm_db_sqlstate(db), NULL);
    crm_db_rollback(db);
    return -1;
}

//  Milliseconds until the next follow-up is due, -1 when none waits (or on failure).
long long leads_followup_store_next_due_ms(crm_db_t *db) {
    PGresult *res = crm_db_query(db, &s_next, NULL);
    long long ms = -1;
    if (res && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        ms = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return ms;
}

