/*  lead_store: the lead's SQL — its writes (create, update, move between stages with the
    won or lost details, delete, each with its events in the same statement, the
    in-statement form of the outbox writer) and reads (one lead, the list). lead.c holds
    the rules, methods.c the methods.

    Rows come back as one JSON object in the API's shape (LEAD_JSON, leads.h) and go
    through the generic transcoder into a Lead.
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

//  The lead with its stage history, oldest first.
#define LEAD_DETAIL_JSON(t)                                                                   \
    "jsonb_build_object(" LEAD_JSON_FIELDS(t) ","                                            \
    " 'history', (SELECT coalesce(jsonb_agg(jsonb_build_object("                              \
    "    'fromStage', h.from_stage, 'toStage', h.to_stage, 'actorId', h.actor_id,"           \
    "    'changedAt', " CRM_SQL_TS("h.changed_at") ", 'note', h.note)"                        \
    "    ORDER BY h.changed_at, h.id), '[]')"                                                 \
    "  FROM stage_history h WHERE h.tenant_id = " t ".tenant_id AND h.lead_id = " t ".id))::text"

//  One lead ($2) the caller ($3 role, $4 actor; '' '': anyone) sees.
#define GET_WHERE                                                                             \
    " FROM leads l WHERE l.tenant_id = $1 AND l.id = $2::uuid AND l.deleted_at IS NULL"       \
    "  AND " LEADS_SEES_CALLER("l")

static const crm_stmt_t s_get = {
    .name = "leads_get", .sql = "SELECT " LEAD_JSON("l") GET_WHERE, .nparams = 4};
static const crm_stmt_t s_get_for_update = {
    .name = "leads_get_for_update",
    .sql = "SELECT " LEAD_JSON("l") GET_WHERE " FOR UPDATE OF l",
    .nparams = 4};
static const crm_stmt_t s_get_detail = {
    .name = "leads_get_detail", .sql = "SELECT " LEAD_DETAIL_JSON("l") GET_WHERE, .nparams = 4};

//  The caller's scope (lead_scope(), migration 0015).
static const crm_stmt_t s_scope = {
    .name = "leads_scope", .sql = "SELECT lead_scope($1, $2, $3)", .nparams = 3};

//  A create: the lead, the first row of its stage history and its LeadCreated event.
static const crm_stmt_t s_insert = {
    .name = "leads_insert",
    .sql = "WITH ins AS ("
           "  INSERT INTO leads (tenant_id, id, contact_id, vehicle, budget_min_cents,"
           "    budget_max_cents, timeline, source, status, priority, assignee_id,"
           "    follow_up_at, custom_fields, created_by, updated_by, created_at, updated_at,"
           "    last_activity_at, postcode, region, priority_manual)"
           "  VALUES ($1, $2::uuid, $3::uuid, $4::jsonb, $5::bigint, $6::bigint, $7, $8, $9,"
           "    $10, $11, $12::timestamptz, $13::jsonb, $14, $14, $15::timestamptz,"
           "    $15::timestamptz, $15::timestamptz, $19, $20, $21::boolean)"
           "  RETURNING id),"
           " hist AS ("
           "  INSERT INTO stage_history (tenant_id, id, lead_id, from_stage, to_stage,"
           "    actor_id, changed_at)"
           "  SELECT $1, $16::uuid, id, '', $9, $14, $15::timestamptz FROM ins),"
           CRM_OUTBOX_SQL("ev", "LeadCreated", "ins", "$2::uuid::text", "$15", "$17", "$18")
           " SELECT 1",
    .nparams = 21,
    .writes = true};

static const crm_stmt_t s_update = {
    .name = "leads_update",
    .sql = "WITH upd AS ("
           "  UPDATE leads SET vehicle = $3::jsonb, budget_min_cents = $4::bigint,"
           "    budget_max_cents = $5::bigint, timeline = $6, source = $7, priority = $8,"
           "    assignee_id = $9, follow_up_at = $10::timestamptz, custom_fields = $11::jsonb,"
           "    updated_at = $12::timestamptz, updated_by = $13, postcode = $16, region = $17,"
           "    priority_manual = $18::boolean"
           "  WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL RETURNING id),"
           CRM_OUTBOX_SQL("ev", "LeadUpdated", "upd", "$2::uuid::text", "$12", "$14", "$15")
           " SELECT count(*) FROM upd",
    .nparams = 18,
    .writes = true};

static const crm_stmt_t s_delete = {
    .name = "leads_delete",
    .sql = "WITH del AS ("
           "  UPDATE leads SET deleted_at = $3::timestamptz, updated_at = $3::timestamptz,"
           "    updated_by = $6"
           "  WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL RETURNING id),"
           CRM_OUTBOX_SQL("ev", "LeadDeleted", "del", "$2::uuid::text", "$3", "$4", "$5")
           " SELECT count(*) FROM del",
    .nparams = 6,
    .writes = true};

//  A move: $3 the stage, $4 its outcome, $15 the stage before; $8/$9 the won or lost
//  details (NULL: none); LeadStatusChanged ($11, $12) and, into a won or lost stage,
//  LeadWon or LeadLost ($13, $14).
static const crm_stmt_t s_move = {
    .name = "leads_move",
    .sql = "WITH upd AS ("
           "  UPDATE leads SET status = $3, updated_at = $5::timestamptz,"
           "    last_activity_at = $5::timestamptz, updated_by = $6,"
           "    closed_at = CASE WHEN $4 = 'open' THEN NULL ELSE $5::timestamptz END,"
           "    won = $8::jsonb, lost = $9::jsonb"
           "  WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL RETURNING id),"
           " hist AS ("
           "  INSERT INTO stage_history (tenant_id, id, lead_id, from_stage, to_stage,"
           "    actor_id, note, changed_at)"
           "  SELECT $1, $10::uuid, id, $15, $3, $6, $7, $5::timestamptz FROM upd),"
           //  The move in the lead's activities too, under the history row's id. No
           //  LeadActivityLogged: LeadStatusChanged is the move's event.
           " act AS ("
           "  INSERT INTO activities (tenant_id, id, lead_id, kind, actor_id, occurred_at,"
           "    details, created_at, updated_at, updated_by)"
           "  SELECT $1, $10::uuid, id, 'status_change', $6, $5::timestamptz,"
           "    jsonb_strip_nulls(jsonb_build_object('fromStage', $15::text, 'toStage', $3::text,"
           "      'notes', nullif($7::text, ''))),"
           "    $5::timestamptz, $5::timestamptz, $6 FROM upd),"
           CRM_OUTBOX_SQL("ev", "LeadStatusChanged", "upd", "$2::uuid::text", "$5", "$11",
                          "$12") ","
           CRM_OUTBOX_SQL("ev_won", "LeadWon", "upd WHERE $4 = 'won'", "$2::uuid::text", "$5",
                          "$13", "$14") ","
           CRM_OUTBOX_SQL("ev_lost", "LeadLost", "upd WHERE $4 = 'lost'", "$2::uuid::text",
                          "$5", "$13", "$14")
           " SELECT count(*) FROM upd",
    .nparams = 15,
    .writes = true};

//  The list, one statement per order (each served by an index of its own: leads_list,
//  leads_by_activity, leads_by_follow_up, leads_by_score; with a band, leads_by_band);
//  every filter is a parameter ('' or false: not
//  applied) and the statement is planned for its values (custom_plan), so the plan
//  meets the index of the filters given. $16 is the caller's scope (leads_scope: NULL
//  sees all; a salesperson's member id, served by leads_by_assignee).
#define LIST_SQL(sort_value, keyset, order)                                                   \
    "SELECT " LEAD_JSON("l") ", " sort_value " FROM leads l"                                  \
    " WHERE l.tenant_id = $1 AND l.deleted_at IS NULL"                                        \
    "  AND ($2 = '' OR l.status = $2) AND ($3 = '' OR l.priority = $3)"                       \
    "  AND ($4 = '' OR l.assignee_id = $4) AND ($5 = '' OR l.source = $5)"                    \
    "  AND ($6 = '' OR l.contact_id = nullif($6, '')::uuid)"                                  \
    "  AND ($7 = '' OR l.created_at >= nullif($7, '')::timestamptz)"                          \
    "  AND ($8 = '' OR l.created_at < nullif($8, '')::timestamptz)"                           \
    "  AND (NOT $9::boolean OR (l.follow_up_at < now() AND l.closed_at IS NULL))"             \
    "  AND (NOT $13::boolean OR lead_missed_response_target(l.tenant_id, l.status,"           \
    "       l.created_at, l.last_activity_at, l.closed_at))"                                  \
    "  AND ($14 = '' OR l.band = $14) AND l.score >= $15::int"                                \
    "  AND " LEADS_SEES("l", "$16")                                                            \
    "  AND ($11 = '' OR " keyset ")"                                                          \
    " ORDER BY " order " LIMIT $12::int"

#define MICROS(col) "(extract(epoch FROM " col ") * 1000000)::bigint"
#define CURSOR_TIME "('epoch'::timestamptz + nullif($10, '')::bigint * interval '1 microsecond')"
#define CURSOR_ID "nullif($11, '')::uuid"

static const crm_stmt_t s_list_created = {
    .name = "leads_list_created",
    .sql = LIST_SQL("''", "$10 = '' AND l.id < " CURSOR_ID, "l.id DESC"),
    .nparams = 16,
    .custom_plan = true};

static const crm_stmt_t s_list_activity = {
    .name = "leads_list_activity",
    .sql = LIST_SQL(MICROS("l.last_activity_at") "::text",
                    "(l.last_activity_at, l.id) < (" CURSOR_TIME ", " CURSOR_ID ")",
                    "l.last_activity_at DESC, l.id DESC"),
    .nparams = 16,
    .custom_plan = true};

static const crm_stmt_t s_list_follow_up = {
    .name = "leads_list_follow_up",
    .sql = LIST_SQL("coalesce(" MICROS("l.follow_up_at") "::text, '')",
                    "CASE WHEN $10 = '' THEN l.follow_up_at IS NULL AND l.id > " CURSOR_ID
                    " ELSE l.follow_up_at > " CURSOR_TIME " OR l.follow_up_at IS NULL"
                    " OR (l.follow_up_at = " CURSOR_TIME " AND l.id > " CURSOR_ID ") END",
                    "l.follow_up_at ASC NULLS LAST, l.id ASC"),
    .nparams = 16,
    .custom_plan = true};

static const crm_stmt_t s_list_score = {
    .name = "leads_list_score",
    .sql = LIST_SQL("l.score::text", "(l.score, l.id) < (nullif($10, '')::int, " CURSOR_ID ")",
                    "l.score DESC, l.id DESC"),
    .nparams = 16,
    .custom_plan = true};

// --- rendering ---------------------------------------------------------------------------

void leads_row_render(const Crm__Leads__Lead *lead, leads_row_t *row) {
    memset(row, 0, sizeof *row);
    row->id = lead->id;
    row->contact_id = lead->contact_id;
    row->vehicle_json = lead->vehicle ? crm_pb_to_json(&lead->vehicle->base) : strdup("{}");
    snprintf(row->budget_min, sizeof row->budget_min, "%" PRId64, lead->budget_min_cents);
    snprintf(row->budget_max, sizeof row->budget_max, "%" PRId64, lead->budget_max_cents);
    crm_enum_api_name(&crm__leads__timeline__descriptor, lead->timeline, row->timeline,
                sizeof row->timeline);
    crm_enum_api_name(&crm__leads__lead_source__descriptor, lead->source, row->source,
                sizeof row->source);
    crm_enum_api_name(&crm__leads__priority__descriptor, lead->priority, row->priority,
                sizeof row->priority);
    row->status = lead->status;
    row->assignee_id = lead->assignee_id;
    row->follow_up_at = lead->follow_up_at[0] ? lead->follow_up_at : NULL;
    json_t *fields = json_object();
    for (size_t i = 0; i < lead->n_custom_fields; i++)
        json_object_set_new(fields, lead->custom_fields[i]->key,
                            json_string(lead->custom_fields[i]->value));
    row->custom_fields_json = json_dumps(fields, JSON_COMPACT);
    json_decref(fields);
    row->postcode = lead->postcode;
    row->region = lead->region;
    row->priority_manual = lead->priority_manual ? "true" : "false";
}

void leads_row_reset(leads_row_t *row) {
    free(row->vehicle_json);
    free(row->custom_fields_json);
    memset(row, 0, sizeof *row);
}

//  A statement that writes one lead answered count(*) of the rows it wrote: 1, or 0 when
//  the lead is gone (404).
static int s_counted(crm_call_t *call, PGresult *res, int ok_code) {
    if (!res)
        return crm_call_db_failure(call);
    int n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (n == 0) {
        crm_call_error(call, "not_found", "no such lead");
        return 404;
    }
    return ok_code;
}

// --- writing -----------------------------------------------------------------------------

int leads_store_insert(crm_call_t *call, const leads_row_t *row, Crm__Leads__Lead *lead) {
    char now[40], history_id[CRM_UUID_LEN + 1];
    crm_time_now(now, sizeof now);
    crm_uuid_v7(history_id);
    crm_pb_string_set(&lead->created_at, now);
    crm_pb_string_set(&lead->updated_at, now);
    crm_pb_string_set(&lead->last_activity_at, now);
    crm_pb_string_set(&lead->created_by, call->header->actor_id);
    Crm__Events__LeadCreated event = CRM__EVENTS__LEAD_CREATED__INIT;
    event.lead = lead;
    event.actor_id = call->header->actor_id;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    const char *params[] = {call->header->tenant_id, row->id, row->contact_id, row->vehicle_json,
                            row->budget_min, row->budget_max, row->timeline, row->source,
                            row->status, row->priority, row->assignee_id, row->follow_up_at,
                            row->custom_fields_json, call->header->actor_id, now, history_id,
                            ev.event_id, ev.payload_hex, row->postcode, row->region,
                            row->priority_manual};
    PGresult *res = crm_db_query(call->db, &s_insert, params);
    crm_outbox_event_reset(&ev);
    if (!res)
        return crm_call_db_failure(call);
    PQclear(res);
    return 201;
}

//  One lead, seen by role and actor ("" and "": by anyone).
static int s_get_lead(crm_call_t *call, const char *id, bool for_update, bool with_history,
                      const char *role, const char *actor, Crm__Leads__Lead **out) {
    const char *params[] = {call->header->tenant_id, id, role, actor};
    const crm_stmt_t *stmt = with_history ? &s_get_detail : for_update ? &s_get_for_update : &s_get;
    return crm_row_read_one(call, stmt, params, &crm__leads__lead__descriptor, "lead",
                            (ProtobufCMessage **)out);
}

int leads_store_get(crm_call_t *call, const char *id, bool for_update, bool with_history,
                    Crm__Leads__Lead **out) {
    return s_get_lead(call, id, for_update, with_history, call->header->role,
                      call->header->actor_id, out);
}

int leads_store_get_any(crm_call_t *call, const char *id, bool with_history,
                        Crm__Leads__Lead **out) {
    return s_get_lead(call, id, false, with_history, "", "", out);
}

int leads_scope(crm_call_t *call, char member[40], const char **scope) {
    member[0] = 0;
    *scope = NULL;
    if (strcmp(call->header->role, "sales") != 0) // lead_scope's first rule, without a query
        return 0;
    const char *params[] = {call->header->tenant_id, call->header->role, call->header->actor_id};
    PGresult *res = crm_db_query(call->db, &s_scope, params);
    if (!res)
        return crm_call_db_failure(call);
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        snprintf(member, 40, "%s", PQgetvalue(res, 0, 0));
        *scope = member;
    }
    PQclear(res);
    return 0;
}

int leads_store_update(crm_call_t *call, const leads_row_t *row, Crm__Leads__Lead *lead,
                       const char *const *changed, size_t n_changed) {
    char now[40];
    crm_time_now(now, sizeof now);
    crm_pb_string_set(&lead->updated_at, now);
    Crm__Events__LeadUpdated event = CRM__EVENTS__LEAD_UPDATED__INIT;
    event.lead = lead;
    event.changed = (char **)changed;
    event.n_changed = n_changed;
    event.actor_id = call->header->actor_id;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    const char *params[] = {call->header->tenant_id, row->id, row->vehicle_json, row->budget_min,
                            row->budget_max, row->timeline, row->source, row->priority,
                            row->assignee_id, row->follow_up_at, row->custom_fields_json, now,
                            call->header->actor_id, ev.event_id, ev.payload_hex, row->postcode,
                            row->region, row->priority_manual};
    PGresult *res = crm_db_query(call->db, &s_update, params);
    crm_outbox_event_reset(&ev);
    return s_counted(call, res, 200);
}

int leads_store_delete(crm_call_t *call, const Crm__Leads__Lead *lead) {
    char now[40];
    crm_time_now(now, sizeof now);
    Crm__Events__LeadDeleted event = CRM__EVENTS__LEAD_DELETED__INIT;
    event.lead_id = lead->id;
    event.contact_id = lead->contact_id;
    event.deleted_at = now;
    event.actor_id = call->header->actor_id;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    const char *params[] = {call->header->tenant_id, lead->id, now, ev.event_id, ev.payload_hex,
                            call->header->actor_id};
    PGresult *res = crm_db_query(call->db, &s_delete, params);
    crm_outbox_event_reset(&ev);
    return s_counted(call, res, 204);
}

static Crm__Leads__StageOutcome s_outcome_value(const char *outcome) {
    if (strcmp(outcome, "won") == 0)
        return CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_WON;
    if (strcmp(outcome, "lost") == 0)
        return CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_LOST;
    return CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_OPEN;
}

int leads_store_move(crm_call_t *call, const leads_move_args_t *move) {
    const Crm__Leads__Lead *lead = move->lead;
    char now[40], history_id[CRM_UUID_LEN + 1];
    crm_time_now(now, sizeof now);
    crm_uuid_v7(history_id);

    Crm__Events__LeadStatusChanged changed = CRM__EVENTS__LEAD_STATUS_CHANGED__INIT;
    changed.lead_id = lead->id;
    changed.contact_id = lead->contact_id;
    changed.from_stage = lead->status;
    changed.to_stage = (char *)move->to_stage;
    changed.actor_id = call->header->actor_id;
    changed.changed_at = now;
    changed.to_outcome = s_outcome_value(move->to_outcome);
    changed.reopened = move->reopened;
    changed.note = (char *)move->note;
    crm_outbox_event_t ev, close_ev = {0};
    crm_outbox_event_init(&ev, &changed.base, now);

    char *won_json = NULL, *lost_json = NULL;
    if (move->won) {
        Crm__Events__LeadWon won = CRM__EVENTS__LEAD_WON__INIT;
        won.lead_id = lead->id;
        won.contact_id = lead->contact_id;
        won.won = (Crm__Leads__WonDetails *)move->won;
        won.stage = (char *)move->to_stage;
        won.actor_id = call->header->actor_id;
        won.closed_at = now;
        crm_outbox_event_init(&close_ev, &won.base, now);
        won_json = crm_pb_to_json(&move->won->base);
    } else if (move->lost) {
        Crm__Events__LeadLost lost = CRM__EVENTS__LEAD_LOST__INIT;
        lost.lead_id = lead->id;
        lost.contact_id = lead->contact_id;
        lost.lost = (Crm__Leads__LostDetails *)move->lost;
        lost.stage = (char *)move->to_stage;
        lost.actor_id = call->header->actor_id;
        lost.closed_at = now;
        crm_outbox_event_init(&close_ev, &lost.base, now);
        lost_json = crm_pb_to_json(&move->lost->base);
    }
    const char *params[] = {call->header->tenant_id, lead->id, move->to_stage, move->to_outcome,
                            now, call->header->actor_id, move->note, won_json, lost_json,
                            history_id, ev.event_id, ev.payload_hex,
                            close_ev.payload_hex ? close_ev.event_id : NULL,
                            close_ev.payload_hex, lead->status};
    PGresult *res = crm_db_query(call->db, &s_move, params);
    crm_outbox_event_reset(&ev);
    if (close_ev.payload_hex)
        crm_outbox_event_reset(&close_ev);
    free(won_json);
    free(lost_json);
    return s_counted(call, res, 200);
}

// --- the list ----------------------------------------------------------------------------

int leads_store_list(crm_call_t *call, const Crm__Leads__ListLeadsRequest *req, char sort,
                     const leads_cursor_t *cursor, int limit, Crm__Leads__ListLeadsResponse **out) {
    char priority[16], band[16], source[32], limit_text[16], min_score[16], member[40];
    const char *scope = NULL;
    int failed = leads_scope(call, member, &scope);
    if (failed)
        return failed;
    crm_enum_api_name(&crm__leads__priority__descriptor, req->priority, priority, sizeof priority);
    crm_enum_api_name(&crm__leads__priority__descriptor, req->band, band, sizeof band);
    snprintf(min_score, sizeof min_score, "%u", req->min_score);
    crm_enum_api_name(&crm__leads__lead_source__descriptor, req->source, source, sizeof source);
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *params[] = {call->header->tenant_id, req->status, priority, req->assignee_id,
                            source, req->contact_id, req->created_from, req->created_to,
                            req->overdue ? "true" : "false", cursor->value, cursor->id,
                            limit_text, req->missed_response_target ? "true" : "false",
                            band, min_score, scope};
    const crm_stmt_t *stmt = sort == 'a'   ? &s_list_activity
                             : sort == 'f' ? &s_list_follow_up
                             : sort == 's' ? &s_list_score
                                           : &s_list_created;
    PGresult *res = crm_db_query(call->db, stmt, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    int n = rows > limit ? limit : rows;
    Crm__Leads__ListLeadsResponse *list = malloc(sizeof *list);
    crm__leads__list_leads_response__init(list);
    int code = crm_rows_into(call, res, limit, &list->base, "items", "lead") ? 500 : 200;
    if (code == 200 && rows > limit && n > 0)
        list->next_cursor =
            leads_cursor_encode(sort, sort == 'c' ? "" : PQgetvalue(res, n - 1, 1),
                                list->items[n - 1]->id);
    PQclear(res);
    if (code == 200)
        *out = list;
    else
        crm__leads__list_leads_response__free_unpacked(list, NULL);
    return code;
}

// --- for the other parts of the daemon -------------------------------------------------

int leads_store_announce(crm_call_t *call, const char *lead_id, const char *field,
                         const char *before) {
    Crm__Leads__Lead *lead = NULL;
    int code = leads_store_get_any(call, lead_id, false, &lead);
    if (code == 404)
        return 0;  // gone (deleted): LeadDeleted says so
    if (code != 200)
        return code;
    const ProtobufCFieldDescriptor *f = crm_pb_field_by_name(&crm__leads__lead__descriptor,
                                                             field);
    const char *now_value = f && f->type == PROTOBUF_C_TYPE_STRING
                                ? *(const char **)((const char *)lead + f->offset)
                                : "";
    int rc = 0;
    if (strcmp(now_value, before ? before : "") != 0) {
        char now[40];
        crm_time_now(now, sizeof now);
        Crm__Events__LeadUpdated event = CRM__EVENTS__LEAD_UPDATED__INIT;
        char *changed[] = {(char *)field};
        event.lead = lead;
        event.changed = changed;
        event.n_changed = 1;
        event.actor_id = call->header->actor_id;
        crm_outbox_t *outbox = crm_outbox_new();
        rc = crm_outbox_add(outbox, call->header->tenant_id, lead_id, &event.base, now);
        if (rc == 0)
            rc = crm_outbox_write(outbox, call->db);
        crm_outbox_destroy(&outbox);
        rc = rc == 0 ? 0 : crm_call_db_failure(call);
    }
    crm__leads__lead__free_unpacked(lead, NULL);
    return rc;
}

Crm__Leads__Lead *leads_from_json(const char *text) {
    return (Crm__Leads__Lead *)crm_row_decode(NULL, &crm__leads__lead__descriptor, text, "lead");
}
