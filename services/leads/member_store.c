/*  member_store: the sales team's SQL — the members leads are assigned to, with what
    the assignment rules match (specialisation, territory, availability, working hours).
    member.c holds the rules; member_methods.c the methods.

    A member's id is what a lead's assigneeId holds. A member who has had leads is only
    deactivated by DELETE (active false: no new leads, history kept); one who never had
    any is deleted.
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER_JSON(m)                                                                        \
    "jsonb_build_object('id', " m ".id, 'name', " m ".name, 'email', " m ".email,"           \
    " 'phone', " m ".phone, 'role', " m ".role, 'conditions', to_jsonb(" m ".conditions),"  \
    " 'makes', to_jsonb(" m ".makes), 'priceMinCents', " m ".price_min_cents,"               \
    " 'priceMaxCents', " m ".price_max_cents,"                                               \
    " 'postcodePrefixes', to_jsonb(" m ".postcode_prefixes),"                                \
    " 'regions', to_jsonb(" m ".regions), 'available', " m ".available,"                     \
    " 'workingHours', " m ".working_hours, 'timeZone', " m ".time_zone,"                     \
    " 'actorId', " m ".actor_id, 'active', " m ".active, 'handle', " m ".handle,"            \
    " 'createdAt', " CRM_SQL_TS(m ".created_at") ", 'updatedAt', " CRM_SQL_TS(m ".updated_at") "," \
    " 'openLeads', (SELECT count(*) FROM leads l WHERE l.tenant_id = " m ".tenant_id"         \
    "   AND l.assignee_id = " m ".id::text AND l.deleted_at IS NULL AND l.closed_at IS NULL))::text"

static const crm_stmt_t s_member_get = {
    .name = "leads_member_get",
    .sql = "SELECT " MEMBER_JSON("m") " FROM team_members m WHERE m.tenant_id = $1"
           " AND m.id = $2::uuid",
    .nparams = 2};

static const crm_stmt_t s_member_list = {
    .name = "leads_member_list",
    .sql = "SELECT " MEMBER_JSON("m") ", m.name, m.id FROM team_members m"
           " WHERE m.tenant_id = $1 AND ($2 = '' OR m.role = $2)"
           "  AND (NOT $3::boolean OR m.active) AND (NOT $4::boolean OR (m.active AND m.available))"
           "  AND ($5 = '' OR (m.name, m.id) > ($5, nullif($6, '')::uuid))"
           "  AND ($8 = '' OR m.handle = $8)"
           " ORDER BY m.name, m.id LIMIT $7::int",
    .nparams = 8};

static const crm_stmt_t s_time_zone_known = {
    .name = "leads_time_zone_known",
    .sql = "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)",
    .nparams = 1};

//  Another member ($4: the one changed) with the email $2 or, active (as $5 says the
//  changed one is), the actor $3 or the handle $6: its id and the field.
static const crm_stmt_t s_member_conflict = {
    .name = "leads_member_conflict",
    .sql = "SELECT id, CASE WHEN $2 <> '' AND lower(email) = lower($2) THEN 'email'"
           "  WHEN $3 <> '' AND actor_id = $3 THEN 'actorId' ELSE 'handle' END"
           " FROM team_members"
           " WHERE tenant_id = $1 AND id <> $4::uuid"
           "  AND (($2 <> '' AND lower(email) = lower($2))"
           "       OR ($3 <> '' AND $5::boolean AND active AND actor_id = $3)"
           "       OR ($6 <> '' AND $5::boolean AND active AND handle = $6))"
           " LIMIT 1",
    .nparams = 6};

#define MEMBER_COLUMNS                                                                        \
    "name, email, phone, role, conditions, makes, price_min_cents, price_max_cents,"         \
    " postcode_prefixes, regions, available, working_hours, time_zone, actor_id, active, handle"

static const crm_stmt_t s_member_insert = {
    .name = "leads_member_insert",
    .sql = "INSERT INTO team_members (tenant_id, id, " MEMBER_COLUMNS ", created_at,"
           "  updated_at, created_by, updated_by)"
           " VALUES ($1, $2::uuid, $3, $4, $5, $6, $7::text[], $8::text[], $9::bigint,"
           "  $10::bigint, $11::text[], $12::text[], $13::boolean, $14::jsonb,"
           "  coalesce(nullif($15, ''), tenant_time_zone($1)), $16, $17::boolean, $20,"
           "  $18::timestamptz, $18::timestamptz, $19, $19)",
    .nparams = 20,
    .writes = true};

static const crm_stmt_t s_member_update = {
    .name = "leads_member_update",
    .sql = "UPDATE team_members SET name = $3, email = $4, phone = $5, role = $6,"
           " conditions = $7::text[], makes = $8::text[], price_min_cents = $9::bigint,"
           " price_max_cents = $10::bigint, postcode_prefixes = $11::text[],"
           " regions = $12::text[], available = $13::boolean, working_hours = $14::jsonb,"
           " time_zone = coalesce(nullif($15, ''), tenant_time_zone($1)), actor_id = $16,"
           " active = $17::boolean, updated_at = $18::timestamptz, updated_by = $19,"
           " handle = $20 WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 20,
    .writes = true};

//  Delete a member who never had a lead, else deactivate: answers 'deleted' or
//  'deactivated' (no row: no such member).
static const crm_stmt_t s_member_delete = {
    .name = "leads_member_delete",
    .sql = "WITH m AS (SELECT id, EXISTS (SELECT 1 FROM leads l WHERE l.tenant_id = $1"
           "             AND l.assignee_id = $2)"
           "           OR EXISTS (SELECT 1 FROM assignment_history h WHERE h.tenant_id = $1"
           "             AND (h.to_member = $2 OR h.from_member = $2)) AS had_leads"
           "           FROM team_members WHERE tenant_id = $1 AND id = $2::uuid FOR UPDATE),"
           " del AS (DELETE FROM team_members t USING m WHERE t.tenant_id = $1"
           "         AND t.id = m.id AND NOT m.had_leads RETURNING t.id),"
           " deact AS (UPDATE team_members t SET active = false, updated_at = $3::timestamptz,"
           "           updated_by = $4 FROM m WHERE t.tenant_id = $1 AND t.id = m.id"
           "           AND m.had_leads RETURNING t.id),"
           " rules AS (UPDATE assignment_rules SET member_ids = array_remove(member_ids, $2::uuid)"
           "           WHERE tenant_id = $1 AND $2::uuid = ANY (member_ids)"
           "           AND EXISTS (SELECT 1 FROM del)),"
           " counts AS (DELETE FROM assignment_counts WHERE tenant_id = $1"
           "            AND member_id = $2::uuid AND EXISTS (SELECT 1 FROM del))"
           " SELECT CASE WHEN had_leads THEN 'deactivated' ELSE 'deleted' END FROM m",
    .nparams = 4,
    .writes = true};

static const crm_stmt_t s_member_active = {
    .name = "leads_member_active",
    .sql = "SELECT active FROM team_members WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 2};

static const crm_stmt_t s_member_of_actor = {
    .name = "leads_member_of_actor",
    .sql = "SELECT id FROM team_members WHERE tenant_id = $1 AND actor_id = $2 AND active"
           " AND $2 <> ''",
    .nparams = 2};

// --- reading ----------------------------------------------------------------------------

int leads_member_store_read(crm_call_t *call, const char *id, Crm__Leads__TeamMember **out) {
    const char *params[] = {call->header->tenant_id, id};
    return crm_row_read_one(call, &s_member_get, params, &crm__leads__team_member__descriptor,
                            "team member", (ProtobufCMessage **)out);
}

int leads_member_store_list(crm_call_t *call, Crm__Leads__TeamRole role_value, bool active_only,
                            bool available_only, const leads_member_list_t *page,
                            Crm__Leads__ListTeamMembersResponse **out) {
    int limit = page->limit;
    const char *cursor_id = page->cursor_id, *cursor_name = page->cursor_name;
    char role[32], limit_text[16];
    crm_enum_api_name(&crm__leads__team_role__descriptor, role_value, role, sizeof role);
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    //  An empty name is a valid member's name never: a cursor always carries one.
    const char *params[] = {call->header->tenant_id, role, active_only ? "true" : "false",
                            available_only ? "true" : "false",
                            cursor_id[0] ? cursor_name : "", cursor_id, limit_text,
                            page->handle};
    PGresult *res = crm_db_query(call->db, &s_member_list, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    int n = rows > limit ? limit : rows;
    Crm__Leads__ListTeamMembersResponse *list = malloc(sizeof *list);
    crm__leads__list_team_members_response__init(list);
    int code = crm_rows_into(call, res, limit, &list->base, "items", "team member") ? 500 : 200;
    if (code == 200 && rows > limit && n > 0) {
        //  "<id>.<name in hex>": safe in a URL whatever the name.
        const char *id = PQgetvalue(res, n - 1, 2), *name = PQgetvalue(res, n - 1, 1);
        size_t len = strlen(name);
        char *next = malloc(CRM_UUID_LEN + 2 + 2 * len);
        char *p = next + sprintf(next, "%s.", id);
        for (size_t i = 0; i < len; i++)
            p += sprintf(p, "%02x", (unsigned char)name[i]);
        list->next_cursor = next;
    }
    PQclear(res);
    if (code == 200)
        *out = list;
    else
        crm__leads__list_team_members_response__free_unpacked(list, NULL);
    return code;
}

int leads_member_store_time_zone_known(crm_call_t *call, const char *time_zone, bool *known) {
    const char *params[] = {time_zone};
    PGresult *res = crm_db_query(call->db, &s_time_zone_known, params);
    if (!res)
        return crm_call_db_failure(call);
    *known = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return 0;
}

// --- writing -----------------------------------------------------------------------------

//  409 when another member has the email, or (active) the actor or the handle: 0, 409 or
//  a failure code.
int leads_member_store_unique(crm_call_t *call, const Crm__Leads__TeamMember *m, const char *except) {
    const char *params[] = {call->header->tenant_id, m->email, m->actor_id, except,
                            m->active ? "true" : "false", m->handle};
    PGresult *res = crm_db_query(call->db, &s_member_conflict, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 0;
    if (PQntuples(res) > 0) {
        const char *field = PQgetvalue(res, 0, 1);
        snprintf(call->conflict_id, sizeof call->conflict_id, "%s", PQgetvalue(res, 0, 0));
        crm_call_field_error(call, field, "is already member %s's", call->conflict_id);
        crm_call_error(call, "conflict", "another team member has this %s", field);
        code = 409;
    }
    PQclear(res);
    return code;
}

//  The member's columns as statement parameters (text): arrays and JSON rendered here.
typedef struct {
    char role[32];
    char *conditions, *makes, *postcodes, *regions, *working_hours;
    char price_min[24], price_max[24];
} s_member_row_t;

static void s_row_render(const Crm__Leads__TeamMember *m, s_member_row_t *row) {
    memset(row, 0, sizeof *row);
    crm_enum_api_name(&crm__leads__team_role__descriptor, m->role, row->role, sizeof row->role);
    char names[16][16];
    const char *conditions[16];
    size_t n = 0;
    for (size_t i = 0; i < m->n_conditions && n < 16; i++) {
        crm_enum_api_name(&crm__leads__vehicle_condition__descriptor, m->conditions[i], names[n],
                          sizeof names[n]);
        bool seen = false;
        for (size_t j = 0; j < n; j++)
            seen |= strcmp(conditions[j], names[n]) == 0;
        if (!seen) {
            conditions[n] = names[n];
            n++;
        }
    }
    row->conditions = crm_db_text_array(conditions, n);
    row->makes = crm_db_text_array((const char *const *)m->makes, m->n_makes);
    row->postcodes =
        crm_db_text_array((const char *const *)m->postcode_prefixes, m->n_postcode_prefixes);
    row->regions = crm_db_text_array((const char *const *)m->regions, m->n_regions);
    json_t *hours = json_array();
    for (size_t i = 0; i < m->n_working_hours; i++)
        json_array_append_new(hours, crm_pb_to_json_value(&m->working_hours[i]->base));
    row->working_hours = json_dumps(hours, JSON_COMPACT);
    json_decref(hours);
    snprintf(row->price_min, sizeof row->price_min, "%lld", (long long)m->price_min_cents);
    snprintf(row->price_max, sizeof row->price_max, "%lld", (long long)m->price_max_cents);
}

static void s_row_reset(s_member_row_t *row) {
    free(row->conditions);
    free(row->makes);
    free(row->postcodes);
    free(row->regions);
    free(row->working_hours);
}

//  Insert (insert true) or update member m: 0 or a failure code.
int leads_member_store_write(crm_call_t *call, const Crm__Leads__TeamMember *m, bool insert) {
    s_member_row_t row;
    s_row_render(m, &row);
    char now[40];
    crm_time_now(now, sizeof now);
    bool available = m->available_set_case != CRM__LEADS__TEAM_MEMBER__AVAILABLE_SET_AVAILABLE ||
                     m->available;
    const char *params[] = {call->header->tenant_id, m->id, m->name, m->email, m->phone,
                            row.role, row.conditions, row.makes, row.price_min, row.price_max,
                            row.postcodes, row.regions, available ? "true" : "false",
                            row.working_hours, m->time_zone, m->actor_id,
                            m->active ? "true" : "false", now, call->header->actor_id,
                            m->handle};
    PGresult *res = crm_db_query(call->db, insert ? &s_member_insert : &s_member_update, params);
    s_row_reset(&row);
    int code = 0;
    if (!res) {
        //  A member written meanwhile by another request with the same email or actor.
        if (strcmp(crm_db_sqlstate(call->db), "23505") == 0) {
            crm_call_error(call, "conflict",
                           "another team member has this email, actorId or handle");
            code = 409;
        } else
            code = crm_call_db_failure(call);
    }
    PQclear(res);
    return code;
}

int leads_member_store_delete(crm_call_t *call, const char *id) {
    char now[40];
    crm_time_now(now, sizeof now);
    const char *params[] = {call->header->tenant_id, id, now, call->header->actor_id};
    PGresult *res = crm_db_query(call->db, &s_member_delete, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 204;
    if (PQntuples(res) == 0) {
        crm_call_error(call, "not_found", "no such team member");
        code = 404;
    }
    PQclear(res);
    return code;
}

// --- for the leads ------------------------------------------------------------------------

int leads_member_check_assignee(crm_call_t *call, const char *member_id, const char *field) {
    if (!crm_uuid_valid(member_id)) {
        crm_call_field_error(call, field, "is not a team member of this dealership");
        return 422;
    }
    const char *params[] = {call->header->tenant_id, member_id};
    PGresult *res = crm_db_query(call->db, &s_member_active, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 0;
    if (PQntuples(res) == 0) {
        crm_call_field_error(call, field, "is not a team member of this dealership");
        code = 422;
    } else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        crm_call_field_error(call, field, "is a deactivated team member");
        code = 422;
    }
    PQclear(res);
    return code;
}

int leads_member_of_actor(crm_call_t *call, char id[40]) {
    const char *params[] = {call->header->tenant_id, call->header->actor_id};
    id[0] = 0;
    PGresult *res = crm_db_query(call->db, &s_member_of_actor, params);
    if (!res)
        return crm_call_db_failure(call);
    if (PQntuples(res) > 0)
        snprintf(id, 40, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}
