/*  settings_store: the SQL of the tenant's sales settings (tenant_settings, migration
    0002): read with the defaults (UTC, 24 hours, salesSeeAllLeads false) for a tenant
    without a row, the time
    zone names PostgreSQL knows, the upsert of a PATCH. settings.c holds the rules,
    settings_methods.c the methods.
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"

#include <stdlib.h>
#include <string.h>

#define SETTINGS_JSON(s)                                                                      \
    "jsonb_build_object('timeZone', coalesce(" s ".time_zone, 'UTC'),"                        \
    " 'responseTargetHours', coalesce(" s ".response_target_hours, 24),"                      \
    " 'salesSeeAllLeads', coalesce(" s ".sales_see_all_leads, false),"                        \
    " 'updatedAt', " CRM_SQL_TS(s ".updated_at") ", 'updatedBy', " s ".updated_by)::text"

static const crm_stmt_t s_get = {
    .name = "settings_get",
    .sql = "SELECT " SETTINGS_JSON("s") " FROM (SELECT $1::text AS tenant_id) t"
           " LEFT JOIN tenant_settings s ON s.tenant_id = t.tenant_id",
    .nparams = 1};

//  The IANA name PostgreSQL knows for a time zone, matched without regard to case
//  (no row: it knows none).
static const crm_stmt_t s_time_zone = {
    .name = "settings_time_zone",
    .sql = "SELECT name FROM pg_timezone_names WHERE lower(name) = lower($1)"
           " ORDER BY name = $1 DESC, name LIMIT 1",
    .nparams = 1};

//  $2 the time zone, $3 the target and $6 salesSeeAllLeads ('': keep, or the default for
//  a new row).
static const crm_stmt_t s_upsert = {
    .name = "settings_upsert",
    .sql = "INSERT INTO tenant_settings AS s (tenant_id, time_zone, response_target_hours,"
           "  sales_see_all_leads, updated_at, updated_by)"
           " VALUES ($1, coalesce(nullif($2, ''), 'UTC'), coalesce(nullif($3, '')::int, 24),"
           "  coalesce(nullif($6, '')::boolean, false), $4::timestamptz, $5)"
           " ON CONFLICT (tenant_id) DO UPDATE SET"
           "  time_zone = CASE WHEN $2 = '' THEN s.time_zone ELSE $2 END,"
           "  response_target_hours = CASE WHEN $3 = '' THEN s.response_target_hours"
           "                          ELSE $3::int END,"
           "  sales_see_all_leads = CASE WHEN $6 = '' THEN s.sales_see_all_leads"
           "                        ELSE $6::boolean END,"
           "  updated_at = $4::timestamptz, updated_by = $5"
           " RETURNING " SETTINGS_JSON("s"),
    .nparams = 6,
    .writes = true};

static int s_answer(crm_call_t *call, PGresult *res, ProtobufCMessage **response) {
    if (!res)
        return crm_call_db_failure(call);
    int code = 500;
    if (PQntuples(res) == 1) {
        const char *text = PQgetvalue(res, 0, 0);
        crm_json_error_t err;
        *response = crm_json_to_pb(&crm__leads__pipeline_settings__descriptor, text,
                                   strlen(text), &err);
        if (*response)
            code = 200;
    }
    if (code != 200)
        crm_call_error(call, "internal", "stored settings are unreadable");
    PQclear(res);
    return code;
}

int leads_settings_store_read(crm_call_t *call, ProtobufCMessage **response) {
    const char *params[] = {call->header->tenant_id};
    return s_answer(call, crm_db_query(call->db, &s_get, params), response);
}

int leads_settings_store_time_zone(crm_call_t *call, const char *time_zone,
                                   char zone[LEADS_TIME_ZONE_MAX_LEN + 1]) {
    zone[0] = 0;
    const char *params[] = {time_zone};
    PGresult *res = crm_db_query(call->db, &s_time_zone, params);
    if (!res)
        return crm_call_db_failure(call);
    if (PQntuples(res) == 1)
        snprintf(zone, LEADS_TIME_ZONE_MAX_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int leads_settings_store_write(crm_call_t *call, const char *zone, const char *target,
                               const char *see_all, ProtobufCMessage **response) {
    char now[40];
    crm_time_now(now, sizeof now);
    const char *params[] = {call->header->tenant_id, zone, target, now, call->header->actor_id,
                            see_all};
    return s_answer(call, crm_db_query(call->db, &s_upsert, params), response);
}
