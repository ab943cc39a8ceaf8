/*  assignment_store: the SQL of assignment — the tenant's assignment rules, the round
    robin's turns, the history, and the manual assignment's statement. assignment.c holds
    the rules, assignment_methods.c the methods and the automatic assignment's steps.

    Automatic assignment, for a new lead without an assignee: lock the tenant's
    assignment_state row (FOR UPDATE) and read its rules by position and its active
    members (leads_assignment_store_load); the first rule that selects an eligible member
    (assignment.c says which) gives it to one of them (leads_assignment_store_pick): the
    one the rule has given the fewest leads, ties to the one it served longest ago, then
    the oldest member (assignment_counts). The lock makes the read-and-advance of the
    counts one transaction at a time per tenant, whichever leads process runs it, and the
    counts commit or roll back with the lead: fair across processes and restarts. A
    member first met by a rule starts level with the rule's lowest count (its "turns"),
    so a new hire is not given every lead until caught up.

    Every assignment (a rule's, a person's at creation, by PATCH or POST .../assign)
    writes an assignment_history row and LeadAssigned in the transaction that writes it.
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "validate.h"

#include <stdlib.h>
#include <string.h>

#define RULE_JSON(r)                                                                          \
    "jsonb_build_object('id', " r ".id, 'name', " r ".name, 'kind', " r ".kind,"             \
    " 'position', " r ".position, 'memberIds', to_jsonb(" r ".member_ids),"                   \
    " 'onlineOnly', " r ".online_only, 'withinWorkingHours', " r ".within_working_hours,"     \
    " 'createdAt', " CRM_SQL_TS(r ".created_at") ", 'updatedAt', " CRM_SQL_TS(r ".updated_at") ")"

//  A member as the rules see it, with whether it is inside its working hours now (none
//  given: always), in its own time zone.
#define MEMBER_RULES_JSON(m)                                                                  \
    "jsonb_build_object('member', jsonb_build_object('id', " m ".id,"                         \
    "   'conditions', to_jsonb(" m ".conditions), 'makes', to_jsonb(" m ".makes),"           \
    "   'priceMinCents', " m ".price_min_cents, 'priceMaxCents', " m ".price_max_cents,"      \
    "   'postcodePrefixes', to_jsonb(" m ".postcode_prefixes), 'regions', to_jsonb(" m ".regions),"\
    "   'available', " m ".available, 'active', " m ".active),"                               \
    " 'inHours', jsonb_array_length(" m ".working_hours) = 0 OR EXISTS ("                     \
    "   SELECT 1 FROM jsonb_to_recordset(" m ".working_hours) AS w(day text, start text,"     \
    "     \"end\" text), (SELECT now() AT TIME ZONE " m ".time_zone AS t) lt"                 \
    "   WHERE w.day = to_char(lt.t, 'fmdy') AND lt.t::time >= w.start::time"                 \
    "     AND (w.\"end\" = '24:00' OR lt.t::time < w.\"end\"::time)))"

//  The lock, then the rules and the active members (no row: the tenant has no rules).
static const crm_stmt_t s_auto_load = {
    .name = "leads_assign_load",
    .sql = "WITH lock AS (SELECT 1 FROM assignment_state WHERE tenant_id = $1 FOR UPDATE)"
           " SELECT (SELECT jsonb_agg(" RULE_JSON("r") " ORDER BY r.position, r.id)"
           "         FROM assignment_rules r WHERE r.tenant_id = $1)::text,"
           "  (SELECT coalesce(jsonb_agg(" MEMBER_RULES_JSON("m") " ORDER BY m.id), '[]')"
           "   FROM team_members m WHERE m.tenant_id = $1 AND m.active)::text"
           " FROM lock",
    .nparams = 1};

//  Rule $2 gives the lead to one of the members $3 (in their order): the fewest turns by
//  the rule, then served longest ago, then first in $3; its turns advance ($4: now).
//  Members the rule meets for the first time get their row, level with the lowest count
//  among the others (0 at the rule's start), so a newcomer is not given every lead until
//  caught up.
static const crm_stmt_t s_auto_pick = {
    .name = "leads_assign_pick",
    .sql = "WITH cand AS (SELECT c.member_id, c.ord, s.assigned, s.last_assigned_at"
           "   FROM unnest($3::uuid[]) WITH ORDINALITY AS c(member_id, ord)"
           "   LEFT JOIN assignment_counts s ON s.tenant_id = $1 AND s.rule_id = $2::uuid"
           "     AND s.member_id = c.member_id),"
           " floor AS (SELECT coalesce(min(assigned), 0) AS f FROM cand),"
           " eff AS (SELECT member_id, ord, assigned IS NULL AS new, coalesce(assigned, f) AS n,"
           "   last_assigned_at FROM cand, floor),"
           " pick AS (SELECT member_id FROM eff"
           "   ORDER BY n, last_assigned_at NULLS FIRST, ord LIMIT 1),"
           " ins AS ("
           "  INSERT INTO assignment_counts (tenant_id, rule_id, member_id, assigned,"
           "    last_assigned_at)"
           "  SELECT $1, $2::uuid, e.member_id, e.n + (e.member_id = p.member_id)::int,"
           "    CASE WHEN e.member_id = p.member_id THEN $4::timestamptz END"
           "  FROM eff e, pick p WHERE e.new OR e.member_id = p.member_id"
           "  ON CONFLICT (tenant_id, rule_id, member_id) DO UPDATE"
           "    SET assigned = excluded.assigned, last_assigned_at = excluded.last_assigned_at"
           "  RETURNING member_id, last_assigned_at)"
           " SELECT member_id FROM ins WHERE last_assigned_at IS NOT NULL",
    .nparams = 4,
    .writes = true};

//  The history row and LeadAssigned of an assignment already written ($2 the lead).
static const crm_stmt_t s_record = {
    .name = "leads_assign_record",
    .sql = "WITH hist AS ("
           "  INSERT INTO assignment_history (tenant_id, id, lead_id, from_member, to_member,"
           "    rule_id, rule, note, actor_id, assigned_at)"
           "  VALUES ($1, $3::uuid, $2::uuid, $4, $5, nullif($6, '')::uuid,"
           "    coalesce((SELECT name FROM assignment_rules WHERE tenant_id = $1"
           "              AND id = nullif($6, '')::uuid), 'manual'),"
           "    $7, $8, $9::timestamptz) RETURNING 1),"
           CRM_OUTBOX_SQL("ev", "LeadAssigned", "hist", "$2::uuid::text", "$9", "$10", "$11")
           " SELECT 1",
    .nparams = 11,
    .writes = true};

//  A manual assignment: the lead's assignee ($3), its history row and LeadAssigned.
static const crm_stmt_t s_assign = {
    .name = "leads_assign_manual",
    .sql = "WITH upd AS ("
           "  UPDATE leads SET assignee_id = $3, updated_at = $6::timestamptz, updated_by = $7"
           "  WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL RETURNING id),"
           " hist AS ("
           "  INSERT INTO assignment_history (tenant_id, id, lead_id, from_member, to_member,"
           "    rule, note, actor_id, assigned_at)"
           "  SELECT $1, $8::uuid, id, $4, $3, 'manual', $5, $7, $6::timestamptz FROM upd),"
           CRM_OUTBOX_SQL("ev", "LeadAssigned", "upd", "$2::uuid::text", "$6", "$9", "$10")
           " SELECT count(*) FROM upd",
    .nparams = 10,
    .writes = true};

static const crm_stmt_t s_history = {
    .name = "leads_assign_history",
    .sql = "SELECT coalesce(jsonb_agg(" LEADS_ASSIGNMENT_JSONB("h")
           " ORDER BY h.assigned_at, h.id), '[]')::text"
           " FROM assignment_history h WHERE h.tenant_id = $1 AND h.lead_id = $2::uuid",
    .nparams = 2};

//  The live lead, if the caller ($3 role, $4 actor) sees it.
static const crm_stmt_t s_lead_exists = {
    .name = "leads_assign_lead_exists",
    .sql = "SELECT 1 FROM leads l WHERE l.tenant_id = $1 AND l.id = $2::uuid"
           " AND l.deleted_at IS NULL AND " LEADS_SEES_CALLER("l"),
    .nparams = 4};

// --- the rules ---------------------------------------------------------------------------

static const crm_stmt_t s_rule_get = {
    .name = "leads_rule_get",
    .sql = "SELECT " RULE_JSON("r") "::text FROM assignment_rules r WHERE r.tenant_id = $1"
           " AND r.id = $2::uuid",
    .nparams = 2};

static const crm_stmt_t s_rule_list = {
    .name = "leads_rule_list",
    .sql = "SELECT " RULE_JSON("r") "::text FROM assignment_rules r WHERE r.tenant_id = $1"
           " ORDER BY r.position, r.id",
    .nparams = 1};

//  Serialises the changes of a tenant's rules with each other and with assignments.
static const crm_stmt_t s_state_lock = {
    .name = "leads_assign_state_lock",
    .sql = "INSERT INTO assignment_state (tenant_id) VALUES ($1)"
           " ON CONFLICT (tenant_id) DO UPDATE SET tenant_id = excluded.tenant_id",
    .nparams = 1,
    .writes = true};

//  Which of the ids $2 are not active members of the tenant (their index from 1).
static const crm_stmt_t s_rule_members_unknown = {
    .name = "leads_rule_members_unknown",
    .sql = "SELECT c.ord FROM unnest($2::text[]) WITH ORDINALITY AS c(id, ord)"
           " WHERE NOT EXISTS (SELECT 1 FROM team_members m WHERE m.tenant_id = $1"
           "   AND m.id::text = c.id AND m.active)"
           " ORDER BY c.ord",
    .nparams = 2};

//  A new rule at position $4 (0 or beyond the end: last); those from there move down.
static const crm_stmt_t s_rule_insert = {
    .name = "leads_rule_insert",
    .sql = "WITH n AS (SELECT count(*)::int AS c FROM assignment_rules WHERE tenant_id = $1),"
           " pos AS (SELECT CASE WHEN $4::int BETWEEN 1 AND c THEN $4::int ELSE c + 1 END AS p"
           "         FROM n),"
           " shift AS (UPDATE assignment_rules SET position = position + 1"
           "           WHERE tenant_id = $1 AND position >= (SELECT p FROM pos))"
           " INSERT INTO assignment_rules (tenant_id, id, name, kind, position, member_ids,"
           "   online_only, within_working_hours, created_at, updated_at)"
           " SELECT $1, $2::uuid, $3, $5, p, $6::uuid[], $7::boolean, $8::boolean,"
           "   $9::timestamptz, $9::timestamptz FROM pos",
    .nparams = 9,
    .writes = true};

static const crm_stmt_t s_rule_update = {
    .name = "leads_rule_update",
    .sql = "UPDATE assignment_rules SET name = $3, kind = $4, member_ids = $5::uuid[],"
           " online_only = $6::boolean, within_working_hours = $7::boolean,"
           " updated_at = $8::timestamptz WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 8,
    .writes = true};

//  Rule $2 to position $3 (1..n), the others keeping their order around it.
static const crm_stmt_t s_rule_move = {
    .name = "leads_rule_move",
    .sql = "WITH others AS ("
           "  SELECT id, row_number() OVER (ORDER BY position, id) AS rn FROM assignment_rules"
           "  WHERE tenant_id = $1 AND id <> $2::uuid),"
           " n AS (SELECT count(*)::int + 1 AS c FROM assignment_rules WHERE tenant_id = $1),"
           " target AS (SELECT LEAST($3::int, c) AS p FROM n),"
           " ordered AS ("
           "  SELECT id, CASE WHEN rn < (SELECT p FROM target) THEN rn ELSE rn + 1 END AS pos"
           "  FROM others UNION ALL SELECT $2::uuid, (SELECT p FROM target))"
           " UPDATE assignment_rules r SET position = o.pos"
           " FROM ordered o WHERE r.tenant_id = $1 AND r.id = o.id AND r.position <> o.pos",
    .nparams = 3,
    .writes = true};

static const crm_stmt_t s_rule_delete = {
    .name = "leads_rule_delete",
    .sql = "WITH del AS (DELETE FROM assignment_rules WHERE tenant_id = $1 AND id = $2::uuid"
           "             RETURNING position),"
           " counts AS (DELETE FROM assignment_counts WHERE tenant_id = $1"
           "            AND rule_id = $2::uuid AND EXISTS (SELECT 1 FROM del))"
           " UPDATE assignment_rules SET position = position - 1"
           " WHERE tenant_id = $1 AND position > (SELECT position FROM del)"
           " RETURNING (SELECT count(*) FROM del)",
    .nparams = 2,
    .writes = true};

static const crm_stmt_t s_rule_exists = {
    .name = "leads_rule_exists",
    .sql = "SELECT 1 FROM assignment_rules WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 2};

int leads_assignment_store_rule_read(crm_call_t *call, const char *id, Crm__Leads__AssignmentRule **out) {
    const char *params[] = {call->header->tenant_id, id};
    return crm_row_read_one(call, &s_rule_get, params, &crm__leads__assignment_rule__descriptor,
                            "assignment rule", (ProtobufCMessage **)out);
}

int leads_assignment_store_rule_list(crm_call_t *call,
                                     Crm__Leads__ListAssignmentRulesResponse **out) {
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_rule_list, params);
    if (!res)
        return crm_call_db_failure(call);
    int n = PQntuples(res);
    Crm__Leads__ListAssignmentRulesResponse *list = malloc(sizeof *list);
    crm__leads__list_assignment_rules_response__init(list);
    list->items = n ? calloc(n, sizeof *list->items) : NULL;
    int code = 200;
    for (int i = 0; i < n && code == 200; i++) {
        Crm__Leads__AssignmentRule *rule = (Crm__Leads__AssignmentRule *)crm_row_decode(
            call, &crm__leads__assignment_rule__descriptor, PQgetvalue(res, i, 0),
            "assignment rule");
        if (rule)
            list->items[list->n_items++] = rule;
        else
            code = 500;
    }
    PQclear(res);
    if (code == 200)
        *out = list;
    else
        crm__leads__list_assignment_rules_response__free_unpacked(list, NULL);
    return code;
}

//  The rule's members must be active members of the tenant: 0, 422 or a failure code.
int leads_assignment_store_rule_members(crm_call_t *call, const Crm__Leads__AssignmentRule *rule,
                                char **array) {
    *array = crm_db_text_array((const char *const *)rule->member_ids, rule->n_member_ids);
    if (rule->n_member_ids == 0)
        return 0;
    const char *params[] = {call->header->tenant_id, *array};
    PGresult *res = crm_db_query(call->db, &s_rule_members_unknown, params);
    if (!res)
        return crm_call_db_failure(call);
    for (int i = 0; i < PQntuples(res); i++) {
        char path[48];
        snprintf(path, sizeof path, "memberIds[%d]", atoi(PQgetvalue(res, i, 0)) - 1);
        crm_call_field_error(call, path, "is not an active team member of this dealership");
    }
    PQclear(res);
    return call->errors.n ? 422 : 0;
}

static int s_exec(crm_call_t *call, const crm_stmt_t *stmt, const char *const *params) {
    PGresult *res = crm_db_query(call->db, stmt, params);
    if (!res)
        return crm_call_db_failure(call);
    PQclear(res);
    return 0;
}

int leads_assignment_store_lock(crm_call_t *call) {
    const char *tenant[] = {call->header->tenant_id};
    return s_exec(call, &s_state_lock, tenant);
}

int leads_assignment_store_rule_insert(crm_call_t *call, const char *id,
                                       const Crm__Leads__AssignmentRule *rule,
                                       const char *members) {
    char now[40], position[16], kind[32];
    crm_time_now(now, sizeof now);
    snprintf(position, sizeof position, "%u", rule->position);
    crm_enum_api_name(&crm__leads__assignment_rule_kind__descriptor, rule->kind, kind,
                      sizeof kind);
    const char *params[] = {call->header->tenant_id, id, rule->name, position, kind,
                            members, rule->online_only ? "true" : "false",
                            rule->within_working_hours ? "true" : "false", now};
    return s_exec(call, &s_rule_insert, params);
}

int leads_assignment_store_rule_update(crm_call_t *call, const char *id,
                                       const Crm__Leads__AssignmentRule *rule,
                                       const char *members) {
    char now[40], kind[32];
    crm_time_now(now, sizeof now);
    crm_enum_api_name(&crm__leads__assignment_rule_kind__descriptor, rule->kind, kind,
                      sizeof kind);
    const char *params[] = {call->header->tenant_id, id, rule->name, kind, members,
                            rule->online_only ? "true" : "false",
                            rule->within_working_hours ? "true" : "false", now};
    return s_exec(call, &s_rule_update, params);
}

int leads_assignment_store_rule_move(crm_call_t *call, const char *id, uint32_t position) {
    char text[16];
    snprintf(text, sizeof text, "%u", position);
    const char *params[] = {call->header->tenant_id, id, text};
    return s_exec(call, &s_rule_move, params);
}

int leads_assignment_store_rule_delete(crm_call_t *call, const char *id) {
    const char *params[] = {call->header->tenant_id, id};
    PGresult *res = crm_db_query(call->db, &s_rule_exists, params);
    if (!res)
        return crm_call_db_failure(call);
    bool exists = PQntuples(res) > 0;
    PQclear(res);
    if (!exists) {
        crm_call_error(call, "not_found", "no such assignment rule");
        return 404;
    }
    int code = s_exec(call, &s_rule_delete, params);
    return code == 0 ? 204 : code;
}

// --- automatic assignment -----------------------------------------------------------------

int leads_assignment_store_load(crm_call_t *call, json_t **rules, json_t **members) {
    *rules = *members = NULL;
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_auto_load, params);
    if (!res)
        return crm_call_db_failure(call);
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
        *rules = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
        *members = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
    }
    PQclear(res);
    return 0;
}

//  Rule gives lead to one of the members listed (JSON array text): sets *chosen.
//  0 or a failure code.
int leads_assignment_store_pick(crm_call_t *call, const char *rule_id, char **candidates, size_t n,
                  char chosen[40]) {
    char *array = crm_db_text_array((const char *const *)candidates, n);
    char now[40];
    crm_time_now(now, sizeof now);
    const char *params[] = {call->header->tenant_id, rule_id, array, now};
    PGresult *res = crm_db_query(call->db, &s_auto_pick, params);
    free(array);
    if (!res)
        return crm_call_db_failure(call);
    if (PQntuples(res) > 0)
        snprintf(chosen, 40, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

// --- recording, manual assignment, history ------------------------------------------------

//  LeadAssigned for an assignment of lead_id, into ev.
static void s_event(crm_call_t *call, crm_outbox_event_t *ev, const char *lead_id,
                    const char *from, const char *to, const char *rule, const char *note,
                    const char *now) {
    Crm__Events__LeadAssigned event = CRM__EVENTS__LEAD_ASSIGNED__INIT;
    event.lead_id = (char *)lead_id;
    event.assignee_id = (char *)to;
    event.previous_assignee_id = (char *)from;
    event.rule = (char *)rule;
    event.note = (char *)note;
    event.actor_id = call->header->actor_id;
    crm_outbox_event_init(ev, &event.base, now);
}

int leads_assignment_store_record(crm_call_t *call, const char *lead_id, const char *from, const char *to,
                        const char *rule, const char *note) {
    char now[40], history_id[CRM_UUID_LEN + 1];
    crm_time_now(now, sizeof now);
    crm_uuid_v7(history_id);
    crm_outbox_event_t ev;
    s_event(call, &ev, lead_id, from, to, rule, note, now);
    const char *params[] = {call->header->tenant_id, lead_id, history_id, from, to,
                            strcmp(rule, "manual") == 0 ? "" : rule, note,
                            call->header->actor_id, now, ev.event_id, ev.payload_hex};
    PGresult *res = crm_db_query(call->db, &s_record, params);
    crm_outbox_event_reset(&ev);
    if (!res)
        return crm_call_db_failure(call);
    PQclear(res);
    return 0;
}

int leads_assignment_store_manual(crm_call_t *call, const Crm__Leads__Lead *lead,
                                  const char *assignee_id, const char *note) {
    char now[40], history_id[CRM_UUID_LEN + 1];
    crm_time_now(now, sizeof now);
    crm_uuid_v7(history_id);
    crm_outbox_event_t ev;
    s_event(call, &ev, lead->id, lead->assignee_id, assignee_id, "manual", note, now);
    const char *params[] = {call->header->tenant_id, lead->id, assignee_id, lead->assignee_id,
                            note, now, call->header->actor_id, history_id, ev.event_id,
                            ev.payload_hex};
    PGresult *res = crm_db_query(call->db, &s_assign, params);
    crm_outbox_event_reset(&ev);
    int code = res ? 0 : crm_call_db_failure(call);
    PQclear(res);
    return code;
}

int leads_assignment_store_history(crm_call_t *call, const char *lead_id,
                                   ProtobufCMessage **response) {
    const char *params[] = {call->header->tenant_id, lead_id, call->header->role,
                            call->header->actor_id};
    PGresult *res = crm_db_query(call->db, &s_lead_exists, params);
    if (!res)
        return crm_call_db_failure(call);
    bool exists = PQntuples(res) > 0;
    PQclear(res);
    if (!exists) {
        crm_call_error(call, "not_found", "no such lead");
        return 404;
    }
    res = crm_db_query(call->db, &s_history, params);
    if (!res)
        return crm_call_db_failure(call);
    char *text = NULL;
    if (asprintf(&text, "{\"items\":%s}", PQgetvalue(res, 0, 0)) < 0)
        text = NULL;
    PQclear(res);
    crm_json_error_t err;
    ProtobufCMessage *out =
        text ? crm_json_to_pb(&crm__leads__list_assignments_response__descriptor, text,
                              strlen(text), &err)
             : NULL;
    free(text);
    if (!out) {
        crm_call_error(call, "internal", "stored assignment history is unreadable");
        return 500;
    }
    *response = out;
    return 200;
}
