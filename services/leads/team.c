/*  team: the dealership's sales team — the members leads are assigned to, with what
    the assignment rules match (specialisation, territory, availability, working hours).

    A member's id is what a lead's assigneeId holds. A member who has had leads is only
    deactivated by DELETE (active false: no new leads, history kept); one who never had
    any is deleted. Writes are for managers and admins (the gateway's ROLES_MANAGE).
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER_NAME_MAX_LEN 100
#define MEMBER_TEXT_MAX_LEN 60
#define MEMBER_LIST_MAX 50
#define MEMBER_ACTOR_MAX_LEN 128
#define MEMBER_TZ_MAX_LEN 64
#define MEMBER_LIST_DEFAULT_LIMIT 100
#define MEMBER_LIST_MAX_LIMIT 500
#define NIL_UUID "00000000-0000-0000-0000-000000000000"

#define MEMBER_JSON(m)                                                                        \
    "jsonb_build_object('id', " m ".id, 'name', " m ".name, 'email', " m ".email,"           \
    " 'phone', " m ".phone, 'role', " m ".role, 'conditions', to_jsonb(" m ".conditions),"  \
    " 'makes', to_jsonb(" m ".makes), 'priceMinCents', " m ".price_min_cents,"               \
    " 'priceMaxCents', " m ".price_max_cents,"                                               \
    " 'postcodePrefixes', to_jsonb(" m ".postcode_prefixes),"                                \
    " 'regions', to_jsonb(" m ".regions), 'available', " m ".available,"                     \
    " 'workingHours', " m ".working_hours, 'timeZone', " m ".time_zone,"                     \
    " 'actorId', " m ".actor_id, 'active', " m ".active,"                                    \
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
           " ORDER BY m.name, m.id LIMIT $7::int",
    .nparams = 7};

static const crm_stmt_t s_time_zone_known = {
    .name = "leads_time_zone_known",
    .sql = "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)",
    .nparams = 1};

//  Another member ($4: the one changed) with the email $2 or, active, the actor $3.
static const crm_stmt_t s_member_conflict = {
    .name = "leads_member_conflict",
    .sql = "SELECT id, $2 <> '' AND lower(email) = lower($2) FROM team_members"
           " WHERE tenant_id = $1 AND id <> $4::uuid"
           "  AND (($2 <> '' AND lower(email) = lower($2))"
           "       OR ($3 <> '' AND $5::boolean AND active AND actor_id = $3))"
           " LIMIT 1",
    .nparams = 5};

#define MEMBER_COLUMNS                                                                        \
    "name, email, phone, role, conditions, makes, price_min_cents, price_max_cents,"         \
    " postcode_prefixes, regions, available, working_hours, time_zone, actor_id, active"

static const crm_stmt_t s_member_insert = {
    .name = "leads_member_insert",
    .sql = "INSERT INTO team_members (tenant_id, id, " MEMBER_COLUMNS ", created_at,"
           "  updated_at, created_by, updated_by)"
           " VALUES ($1, $2::uuid, $3, $4, $5, $6, $7::text[], $8::text[], $9::bigint,"
           "  $10::bigint, $11::text[], $12::text[], $13::boolean, $14::jsonb,"
           "  coalesce(nullif($15, ''), tenant_time_zone($1)), $16, $17::boolean,"
           "  $18::timestamptz, $18::timestamptz, $19, $19)",
    .nparams = 19,
    .writes = true};

static const crm_stmt_t s_member_update = {
    .name = "leads_member_update",
    .sql = "UPDATE team_members SET name = $3, email = $4, phone = $5, role = $6,"
           " conditions = $7::text[], makes = $8::text[], price_min_cents = $9::bigint,"
           " price_max_cents = $10::bigint, postcode_prefixes = $11::text[],"
           " regions = $12::text[], available = $13::boolean, working_hours = $14::jsonb,"
           " time_zone = coalesce(nullif($15, ''), tenant_time_zone($1)), actor_id = $16,"
           " active = $17::boolean, updated_at = $18::timestamptz, updated_by = $19"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 19,
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

//  One member: 200 with *out, 404, or a failure code.
static int s_member_read(crm_call_t *call, const char *id, Crm__Leads__TeamMember **out) {
    const char *params[] = {call->header->tenant_id, id};
    return crm_row_read_one(call, &s_member_get, params, &crm__leads__team_member__descriptor,
                            "team member", (ProtobufCMessage **)out);
}

static bool s_check_id(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return true;
    crm_call_error(call, "not_found", "no such team member (not a valid id)");
    return false;
}

int leads_team_get(crm_call_t *call, const ProtobufCMessage *request,
                   ProtobufCMessage **response) {
    const Crm__Leads__GetTeamMemberRequest *req = (const void *)request;
    if (!s_check_id(call, req->id))
        return 404;
    return s_member_read(call, req->id, (Crm__Leads__TeamMember **)response);
}

int leads_team_list(crm_call_t *call, const ProtobufCMessage *request,
                    ProtobufCMessage **response) {
    const Crm__Leads__ListTeamMembersRequest *req = (const void *)request;
    int limit =
        crm_page_limit(call, "limit", req->limit, MEMBER_LIST_DEFAULT_LIMIT, MEMBER_LIST_MAX_LIMIT);
    //  The cursor: "<uuid>.<name in hex>" of the last member of the page before.
    char cursor_id[CRM_UUID_LEN + 1] = "", cursor_name[4 * MEMBER_NAME_MAX_LEN + 1] = "";
    if (req->cursor[0]) {
        const char *hex = req->cursor + CRM_UUID_LEN + 1;
        size_t len = strlen(req->cursor) > CRM_UUID_LEN ? strlen(hex) : 0;
        bool ok = len > 0 && len % 2 == 0 && len / 2 < sizeof cursor_name &&
                  req->cursor[CRM_UUID_LEN] == '.';
        for (size_t i = 0; ok && i < len / 2; i++) {
            unsigned byte;
            ok = sscanf(hex + 2 * i, "%2x", &byte) == 1 && byte > 0;
            cursor_name[i] = (char)byte;
        }
        if (ok) {
            cursor_name[len / 2] = 0;
            memcpy(cursor_id, req->cursor, CRM_UUID_LEN);
            ok = crm_uuid_valid(cursor_id) && crm_utf8_valid(cursor_name, len / 2);
        }
        if (!ok) {
            cursor_id[0] = 0;
            crm_call_field_error(call, "cursor", "is not a cursor of this list");
        }
    }
    if (call->errors.n)
        return 422;
    char role[32], limit_text[16];
    crm_enum_api_name(&crm__leads__team_role__descriptor, req->role, role, sizeof role);
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    //  An empty name is a valid member's name never: a cursor always carries one.
    const char *params[] = {call->header->tenant_id, role, req->active_only ? "true" : "false",
                            req->available_only ? "true" : "false",
                            cursor_id[0] ? cursor_name : "", cursor_id, limit_text};
    PGresult *res = crm_db_query(call->db, &s_member_list, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    int n = rows > limit ? limit : rows;
    Crm__Leads__ListTeamMembersResponse *list = malloc(sizeof *list);
    crm__leads__list_team_members_response__init(list);
    list->items = n ? calloc(n, sizeof *list->items) : NULL;
    int code = 200;
    for (int i = 0; i < n && code == 200; i++) {
        Crm__Leads__TeamMember *m = (Crm__Leads__TeamMember *)crm_row_decode(
            call, &crm__leads__team_member__descriptor, PQgetvalue(res, i, 0), "team member");
        if (m)
            list->items[list->n_items++] = m;
        else
            code = 500;
    }
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
        *response = &list->base;
    else
        crm__leads__list_team_members_response__free_unpacked(list, NULL);
    return code;
}

// --- checks ------------------------------------------------------------------------------

static void s_check_text_list(crm_call_t *call, const char *field, char **items, size_t n,
                              size_t max_len) {
    if (n > MEMBER_LIST_MAX)
        crm_call_field_error(call, field, "may hold at most %d entries", MEMBER_LIST_MAX);
    for (size_t i = 0; i < n && i < MEMBER_LIST_MAX; i++) {
        char path[64];
        snprintf(path, sizeof path, "%s[%zu]", field, i);
        crm_text_trim(items[i]);
        if (crm_text_blank(items[i]))
            crm_call_field_error(call, path, "must not be blank");
        else if (crm_utf8_chars(items[i]) > max_len)
            crm_call_field_error(call, path, "must be at most %zu characters", max_len);
    }
}

//  Check a member's fields and put them in their stored form (trimmed, email domain
//  lower-cased, phone E.164, postcodes upper-cased, role defaulted). The time zone is
//  checked against PostgreSQL's list. 0, 422 with the field errors, or a failure code.
static int s_check_member(crm_call_t *call, Crm__Leads__TeamMember *m) {
    leads_t *self = call->arg;
    crm_text_trim(m->name);
    if (crm_text_blank(m->name))
        crm_call_field_error(call, "name", "is required");
    else if (crm_utf8_chars(m->name) > MEMBER_NAME_MAX_LEN)
        crm_call_field_error(call, "name", "must be at most %d characters", MEMBER_NAME_MAX_LEN);
    crm_text_trim(m->email);
    if (m->email[0]) {
        char email[256];
        if (crm_email_normalize(m->email, email, sizeof email) != 0)
            crm_call_field_error(call, "email", "is not a valid email address");
        else
            crm_pb_string_set(&m->email, email);
    }
    crm_text_trim(m->phone);
    if (m->phone[0]) {
        char e164[32];
        const char *reason = NULL;
        if (crm_phone_to_e164(m->phone, self->cfg->contacts_default_region, e164, sizeof e164,
                              &reason) != 0)
            crm_call_field_error(call, "phone", "%s", reason ? reason : "is not a valid phone number");
        else
            crm_pb_string_set(&m->phone, e164);
    }
    if (m->role == CRM__LEADS__TEAM_ROLE__TEAM_ROLE_UNSPECIFIED)
        m->role = CRM__LEADS__TEAM_ROLE__TEAM_ROLE_SALESPERSON;
    for (size_t i = 0; i < m->n_conditions; i++)
        if (m->conditions[i] == CRM__LEADS__VEHICLE_CONDITION__VEHICLE_CONDITION_UNSPECIFIED) {
            char path[48];
            snprintf(path, sizeof path, "conditions[%zu]", i);
            crm_call_field_error(call, path, "must be new, used or certified");
        }
    s_check_text_list(call, "makes", m->makes, m->n_makes, MEMBER_TEXT_MAX_LEN);
    s_check_text_list(call, "regions", m->regions, m->n_regions, MEMBER_TEXT_MAX_LEN);
    if (m->price_min_cents < 0)
        crm_call_field_error(call, "priceMinCents", "must not be negative");
    if (m->price_max_cents < 0)
        crm_call_field_error(call, "priceMaxCents", "must not be negative");
    else if (m->price_max_cents > 0 && m->price_min_cents > m->price_max_cents)
        crm_call_field_error(call, "priceMaxCents",
                             "must not be less than priceMinCents (0: no upper bound)");
    if (m->n_postcode_prefixes > MEMBER_LIST_MAX)
        crm_call_field_error(call, "postcodePrefixes", "may hold at most %d entries",
                             MEMBER_LIST_MAX);
    for (size_t i = 0; i < m->n_postcode_prefixes && i < MEMBER_LIST_MAX; i++) {
        char path[48], prefix[16];
        snprintf(path, sizeof path, "postcodePrefixes[%zu]", i);
        if (leads_postcode_normalize(m->postcode_prefixes[i], prefix, sizeof prefix) != 0)
            crm_call_field_error(call, path, "must be 1 to 12 letters and digits");
        else
            crm_pb_string_set(&m->postcode_prefixes[i], prefix);
    }
    if (m->n_working_hours > 7 * 4)
        crm_call_field_error(call, "workingHours", "may hold at most %d ranges", 7 * 4);
    for (size_t i = 0; i < m->n_working_hours && i < 7 * 4; i++) {
        Crm__Leads__WorkingHours *w = m->working_hours[i];
        char path[48];
        int start = 0, end = 0;
        if (w->day == CRM__LEADS__WEEKDAY__WEEKDAY_UNSPECIFIED) {
            snprintf(path, sizeof path, "workingHours[%zu].day", i);
            crm_call_field_error(call, path, "is required: mon, tue, wed, thu, fri, sat or sun");
        }
        bool start_ok = leads_hhmm_parse(w->start, &start) == 0 && start < 24 * 60;
        if (!start_ok) {
            snprintf(path, sizeof path, "workingHours[%zu].start", i);
            crm_call_field_error(call, path, "must be a time HH:MM from 00:00 to 23:59");
        }
        if (leads_hhmm_parse(w->end, &end) != 0) {
            snprintf(path, sizeof path, "workingHours[%zu].end", i);
            crm_call_field_error(call, path, "must be a time HH:MM from 00:01 to 24:00");
        } else if (start_ok && end <= start) {
            snprintf(path, sizeof path, "workingHours[%zu].end", i);
            crm_call_field_error(call, path, "must be after start");
        }
    }
    if (crm_utf8_chars(m->actor_id) > MEMBER_ACTOR_MAX_LEN)
        crm_call_field_error(call, "actorId", "must be at most %d characters",
                             MEMBER_ACTOR_MAX_LEN);
    crm_text_trim(m->time_zone);
    if (m->time_zone[0]) {
        if (strlen(m->time_zone) > MEMBER_TZ_MAX_LEN)
            crm_call_field_error(call, "timeZone", "is not a known IANA time zone");
        else {
            const char *params[] = {m->time_zone};
            PGresult *res = crm_db_query(call->db, &s_time_zone_known, params);
            if (!res)
                return crm_call_db_failure(call);
            if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
                crm_call_field_error(call, "timeZone",
                                     "is not a known IANA time zone (e.g. America/Chicago)");
            PQclear(res);
        }
    }
    return call->errors.n ? 422 : 0;
}

//  409 when another member has the email, or (active) the actor: 0, 409 or a failure code.
static int s_check_unique(crm_call_t *call, const Crm__Leads__TeamMember *m, const char *except) {
    const char *params[] = {call->header->tenant_id, m->email, m->actor_id, except,
                            m->active ? "true" : "false"};
    PGresult *res = crm_db_query(call->db, &s_member_conflict, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 0;
    if (PQntuples(res) > 0) {
        bool email = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
        snprintf(call->conflict_id, sizeof call->conflict_id, "%s", PQgetvalue(res, 0, 0));
        crm_call_field_error(call, email ? "email" : "actorId", "is already member %s's",
                             call->conflict_id);
        crm_call_error(call, "conflict", "another team member has this %s",
                       email ? "email" : "actorId");
        code = 409;
    }
    PQclear(res);
    return code;
}

// --- writing -----------------------------------------------------------------------------

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
static int s_member_write(crm_call_t *call, const Crm__Leads__TeamMember *m, bool insert) {
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
                            m->active ? "true" : "false", now, call->header->actor_id};
    PGresult *res = crm_db_query(call->db, insert ? &s_member_insert : &s_member_update, params);
    s_row_reset(&row);
    int code = 0;
    if (!res) {
        //  A member written meanwhile by another request with the same email or actor.
        if (strcmp(crm_db_sqlstate(call->db), "23505") == 0) {
            crm_call_error(call, "conflict", "another team member has this email or actorId");
            code = 409;
        } else
            code = crm_call_db_failure(call);
    }
    PQclear(res);
    return code;
}

int leads_team_create(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response) {
    const Crm__Leads__CreateTeamMemberRequest *req = (const void *)request;
    if (!req->member) {
        crm_call_field_error(call, "member", "is required");
        return 422;
    }
    Crm__Leads__TeamMember *m = (Crm__Leads__TeamMember *)crm_pb_copy(&req->member->base);
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    crm_pb_string_set(&m->id, id);
    m->active = true;
    int code = s_check_member(call, m);
    if (code == 0)
        code = s_check_unique(call, m, NIL_UUID);
    if (code == 0)
        code = s_member_write(call, m, true);
    crm__leads__team_member__free_unpacked(m, NULL);
    if (code == 0) {
        code = s_member_read(call, id, (Crm__Leads__TeamMember **)response);
        if (code == 200)
            code = 201;
    }
    return code;
}

static const leads_read_only_t s_read_only[] = {
    {"id", "cannot be changed"},
    {"created_at", "cannot be changed"},
    {"updated_at", "cannot be changed"},
    {"open_leads", "is counted from the leads"},
};

int leads_team_update(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response) {
    const Crm__Leads__UpdateTeamMemberRequest *req = (const void *)request;
    if (!s_check_id(call, req->id))
        return 404;
    crm_errors_t patch_errors = {0};
    char **changed = leads_patch_names(&crm__leads__team_member__descriptor,
                                       req->member != NULL, req->update_mask,
                                       req->n_update_mask, "a team member", s_read_only,
                                       sizeof s_read_only / sizeof *s_read_only, &patch_errors);
    crm_call_fail(call, &patch_errors);
    Crm__Leads__TeamMember *stored = NULL, *m = NULL;
    int code = call->errors.n ? 422 : s_member_read(call, req->id, &stored);
    if (code == 200) {
        //  The stored member with the masked fields from the request (one left out goes
        //  back to its default), read back as a member.
        json_t *merged = crm_pb_to_json_value(&stored->base);
        leads_patch_apply(merged, &req->member->base, changed, req->n_update_mask);
        //  available left out of a PATCH that names it is false, as any bool.
        if (!json_object_get(merged, "available"))
            json_object_set_new(merged, "available", json_false());
        json_object_del(merged, "openLeads");
        crm_json_error_t err;
        m = (Crm__Leads__TeamMember *)crm_json_value_to_pb(&crm__leads__team_member__descriptor,
                                                           merged, "", &err);
        json_decref(merged);
        if (!m) {
            crm_call_field_error(call, err.field, "%s", err.message);
            code = 422;
        } else
            code = s_check_member(call, m);
    }
    if (code == 0)
        code = s_check_unique(call, m, req->id);
    if (code == 0)
        code = s_member_write(call, m, false);
    leads_patch_names_free(changed, req->n_update_mask);
    if (stored)
        crm__leads__team_member__free_unpacked(stored, NULL);
    if (m)
        crm__leads__team_member__free_unpacked(m, NULL);
    if (code == 0)
        code = s_member_read(call, req->id, (Crm__Leads__TeamMember **)response);
    return code;
}

int leads_team_delete(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response) {
    (void)response;
    const Crm__Leads__DeleteTeamMemberRequest *req = (const void *)request;
    if (!s_check_id(call, req->id))
        return 404;
    char now[40];
    crm_time_now(now, sizeof now);
    const char *params[] = {call->header->tenant_id, req->id, now, call->header->actor_id};
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

int leads_team_check_assignee(crm_call_t *call, const char *member_id, const char *field) {
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

int leads_team_member_of_actor(crm_call_t *call, char id[40]) {
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
