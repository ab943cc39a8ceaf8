/*  views_store: the SQL of the read-only views across a lead's records or across the
    store: the timeline and the daily hot sheet. Rows come back as JSON in the API's
    shape, built by PostgreSQL, and go through the generic transcoder. views.c holds the
    rules, views_methods.c the methods.
*/
#include "leads.h"
#include "json_pb.h"

#include <stdlib.h>
#include <string.h>

// --- the timeline ------------------------------------------------------------------------

//  Every source of the timeline is one branch of the UNION ALL giving the same three
//  columns: at (the entry's time), id (a uuid, the tie-break) and entry (a TimelineEntry
//  in the API's shape): activities, stage moves (and the creation), assignments,
//  follow-ups. A new source is one more branch here and a kind named in TimelineEntry's
//  comment.
//  The moves come from the stage history, which also has the lead's creation (its row
//  with from_stage ''), so the moves' own 'status_change' activities are left out of
//  the activities' branch: each move is listed once.
#define TIMELINE_STAGE_CHANGE(h)                                                              \
    "jsonb_build_object('fromStage', " h ".from_stage, 'toStage', " h ".to_stage,"            \
    " 'actorId', " h ".actor_id, 'changedAt', " CRM_SQL_TS(h ".changed_at") ","               \
    " 'note', " h ".note)"

static const crm_stmt_t s_timeline = {
    .name = "leads_timeline",
    .sql = "SELECT t.entry::text, " LEADS_SQL_MICROS("t.at") "::text FROM ("
           "  SELECT a.occurred_at AS at, a.id AS id,"
           "    jsonb_build_object('kind', a.kind, 'id', a.id,"
           "      'at', " CRM_SQL_TS("a.occurred_at") ", 'actorId', a.actor_id,"
           "      'activity', " LEADS_ACTIVITY_JSONB("a") ") AS entry"
           "  FROM activities a"
           "  WHERE a.tenant_id = $1 AND a.lead_id = $2::uuid AND a.kind <> 'status_change'"
           " UNION ALL"
           "  SELECT h.changed_at, h.id,"
           "    jsonb_build_object("
           "      'kind', CASE WHEN h.from_stage = '' THEN 'created' ELSE 'status_change' END,"
           "      'id', h.id, 'at', " CRM_SQL_TS("h.changed_at") ", 'actorId', h.actor_id,"
           "      'stageChange', " TIMELINE_STAGE_CHANGE("h") ")"
           "  FROM stage_history h"
           "  WHERE h.tenant_id = $1 AND h.lead_id = $2::uuid"
           " UNION ALL"
           "  SELECT g.assigned_at, g.id,"
           "    jsonb_build_object('kind', 'assigned', 'id', g.id,"
           "      'at', " CRM_SQL_TS("g.assigned_at") ", 'actorId', g.actor_id,"
           "      'assignment', " LEADS_ASSIGNMENT_JSONB("g") ")"
           "  FROM assignment_history g"
           "  WHERE g.tenant_id = $1 AND g.lead_id = $2::uuid"
           " UNION ALL"
           "  SELECT e.at, f.id,"
           "    jsonb_build_object('kind', e.kind, 'id', f.id, 'at', " CRM_SQL_TS("e.at") ","
           "      'actorId', e.actor,"
           "      'followUp', " LEADS_FOLLOW_UP_JSONB("f", "l.contact_id", "l.assignee_id") ")"
           "  FROM follow_ups f"
           "  JOIN leads l ON l.tenant_id = f.tenant_id AND l.id = f.lead_id"
           "  CROSS JOIN LATERAL (VALUES ('follow_up_scheduled', f.created_at, f.created_by),"
           "    ('follow_up_completed', f.completed_at, f.updated_by),"
           "    ('follow_up_cancelled', f.cancelled_at, f.updated_by)) AS e(kind, at, actor)"
           "  WHERE f.tenant_id = $1 AND f.lead_id = $2::uuid AND e.at IS NOT NULL"
           " ) t"
           " WHERE $3 = '' OR (t.at, t.id) < (" LEADS_SQL_CURSOR_TIME("$3") ","
           "   nullif($4, '')::uuid)"
           " ORDER BY t.at DESC, t.id DESC LIMIT $5::int",
    .nparams = 5,
    .custom_plan = true};

int leads_views_store_timeline(crm_call_t *call, const char *lead_id,
                               const leads_timeline_page_t *page, ProtobufCMessage **response) {
    int limit = page->limit, code = 200;
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *params[] = {call->header->tenant_id, lead_id, page->cursor.value,
                            page->cursor.id, limit_text};
    PGresult *res = crm_db_query(call->db, &s_timeline, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    int n = rows > limit ? limit : rows;
    Crm__Leads__TimelineResponse *list = malloc(sizeof *list);
    crm__leads__timeline_response__init(list);
    list->items = n ? calloc((size_t)n, sizeof *list->items) : NULL;
    for (int i = 0; i < n && code == 200; i++) {
        ProtobufCMessage *entry = crm_row_decode(call, &crm__leads__timeline_entry__descriptor,
                                                 PQgetvalue(res, i, 0), "timeline entry");
        if (entry)
            list->items[list->n_items++] = (Crm__Leads__TimelineEntry *)entry;
        else
            code = 500;
    }
    if (code == 200 && rows > limit && n > 0)
        list->next_cursor =
            leads_cursor_encode('t', PQgetvalue(res, n - 1, 1), list->items[n - 1]->id);
    PQclear(res);
    if (code == 200)
        *response = &list->base;
    else
        crm__leads__timeline_response__free_unpacked(list, NULL);
    return code;
}

// --- the hot sheet -----------------------------------------------------------------------

//  A lead on the hot sheet (a HotSheetLead in the API's shape).
#define HOT_SHEET_LEAD(l)                                                                     \
    "jsonb_build_object('leadId', " l ".id, 'contactId', " l ".contact_id,"                   \
    " 'vehicle', " l ".vehicle, 'status', " l ".status, 'priority', " l ".priority,"          \
    " 'score', " l ".score, 'band', nullif(" l ".band, ''),"                                  \
    " 'assigneeId', nullif(" l ".assignee_id, ''),"                                           \
    " 'followUpAt', " CRM_SQL_TS(l ".follow_up_at") ","                                       \
    " 'lastActivityAt', " CRM_SQL_TS(l ".last_activity_at") ")"

//  One section: the JSON array of at most LEADS_HOT_SHEET_SECTION_MAX + 1 rows of a query
//  giving j (the entry) and its order in o (a row number).
#define HOT_SHEET_SECTION(query)                                                              \
    "(SELECT coalesce(jsonb_agg(s.j ORDER BY s.o), '[]') FROM (" query ") s)"

//  $4 is LEADS_HOT_SHEET_SECTION_MAX + 1: a section that fills it was truncated.
#define HOT_SHEET_LIMIT " LIMIT $4::int"

//  $1 tenant, $2 the salesperson ('' the store), $3 the day ('' today, in the tenant's
//  time zone), $4 the limit of a section, $5 the caller's scope (leads_scope: a
//  salesperson's sheet of the store has their leads and the unassigned ones). Hot (the priority: the scoring band unless set
//  by hand; highest score first) and overdue are as of now; the day picks
//  the appointments. Follow-ups are the lead's follow_up_at for now; the follow-ups of
//  their own feature are one more condition of the overdue section when they land.
static const crm_stmt_t s_hot_sheet = {
    .name = "leads_hot_sheet",
    .sql = "WITH zone AS (SELECT tenant_time_zone($1) AS tz),"
           " span AS ("
           "  SELECT z.tz, d.local_day, (d.local_day::timestamp AT TIME ZONE z.tz) AS starts,"
           "    ((d.local_day + 1)::timestamp AT TIME ZONE z.tz) AS ends"
           "  FROM zone z, LATERAL (SELECT coalesce(nullif($3, '')::date,"
           "    (now() AT TIME ZONE z.tz)::date) AS local_day) d)"
           " SELECT jsonb_strip_nulls(jsonb_build_object("
           "  'date', to_char(span.local_day, 'YYYY-MM-DD'), 'timeZone', span.tz,"
           "  'assigneeId', nullif($2, ''),"
           "  'hot', " HOT_SHEET_SECTION(
               "SELECT " HOT_SHEET_LEAD("l") " AS j,"
               "  row_number() OVER (ORDER BY l.score DESC, l.follow_up_at ASC NULLS LAST,"
               "    l.last_activity_at DESC, l.id) AS o"
               " FROM leads l"
               " WHERE l.tenant_id = $1 AND l.deleted_at IS NULL AND l.closed_at IS NULL"
               "  AND l.priority = 'hot' AND ($2 = '' OR l.assignee_id = $2)"
               "  AND " LEADS_SEES("l", "$5")
               " ORDER BY o" HOT_SHEET_LIMIT) ","
           "  'overdue', " HOT_SHEET_SECTION(
               "SELECT " HOT_SHEET_LEAD("l") " AS j,"
               "  row_number() OVER (ORDER BY l.follow_up_at, l.id) AS o"
               " FROM leads l"
               " WHERE l.tenant_id = $1 AND l.deleted_at IS NULL AND l.closed_at IS NULL"
               "  AND l.follow_up_at < now() AND ($2 = '' OR l.assignee_id = $2)"
               "  AND " LEADS_SEES("l", "$5")
               " ORDER BY o" HOT_SHEET_LIMIT) ","
           "  'appointments', " HOT_SHEET_SECTION(
               "SELECT " HOT_SHEET_LEAD("l") " || jsonb_build_object('activityId', a.id,"
               "    'activityKind', a.kind, 'scheduledAt', " CRM_SQL_TS("a.occurred_at") ","
               "    'appointmentStatus', nullif(a.outcome, '')) AS j,"
               "  row_number() OVER (ORDER BY a.occurred_at, a.id) AS o"
               " FROM activities a JOIN leads l ON l.tenant_id = a.tenant_id"
               "  AND l.id = a.lead_id AND l.deleted_at IS NULL"
               " WHERE a.tenant_id = $1 AND a.kind IN ('appointment', 'test_drive')"
               "  AND a.occurred_at >= span.starts AND a.occurred_at < span.ends"
               "  AND ($2 = '' OR l.assignee_id = $2)"
               "  AND " LEADS_SEES("l", "$5")
               " ORDER BY o" HOT_SHEET_LIMIT) "))::text"
           " FROM span",
    .nparams = 5,
    .custom_plan = true};

int leads_views_store_hot_sheet(crm_call_t *call, const char *assignee_id, const char *date,
                                Crm__Leads__HotSheetResponse **out) {
    char limit[16], member[40];
    snprintf(limit, sizeof limit, "%d", LEADS_HOT_SHEET_SECTION_MAX + 1);
    const char *scope = NULL;
    int failed = leads_scope(call, member, &scope);
    if (failed)
        return failed;
    const char *params[] = {call->header->tenant_id, assignee_id, date, limit, scope};
    PGresult *res = crm_db_query(call->db, &s_hot_sheet, params);
    if (!res)
        return crm_call_db_failure(call);
    *out = (Crm__Leads__HotSheetResponse *)crm_row_decode(
        call, &crm__leads__hot_sheet_response__descriptor, PQgetvalue(res, 0, 0), "hot sheet");
    PQclear(res);
    return *out ? 200 : 500;
}
