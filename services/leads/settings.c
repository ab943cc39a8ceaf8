/*  settings: the tenant's sales settings (GET, PATCH /v1/pipeline/settings), kept in
    tenant_settings (migration 0002): the time zone that follow-ups' quick picks
    ("tomorrow_9am") and the hot sheet read the wall clock in, and the response target
    behind a lead's missedResponseTarget flag. A tenant without a row has the defaults
    (UTC, 24 hours); the first PATCH writes its row.
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"

#include <stdlib.h>
#include <string.h>

#define TIME_ZONE_MAX_LEN 64
#define RESPONSE_TARGET_MIN_HOURS 1
#define RESPONSE_TARGET_MAX_HOURS 720

#define SETTINGS_JSON(s)                                                                      \
    "jsonb_build_object('timeZone', coalesce(" s ".time_zone, 'UTC'),"                        \
    " 'responseTargetHours', coalesce(" s ".response_target_hours, 24),"                      \
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

//  $2 the time zone and $3 the target ('': keep, or the default for a new row).
static const crm_stmt_t s_upsert = {
    .name = "settings_upsert",
    .sql = "INSERT INTO tenant_settings AS s (tenant_id, time_zone, response_target_hours,"
           "  updated_at, updated_by)"
           " VALUES ($1, coalesce(nullif($2, ''), 'UTC'), coalesce(nullif($3, '')::int, 24),"
           "  $4::timestamptz, $5)"
           " ON CONFLICT (tenant_id) DO UPDATE SET"
           "  time_zone = CASE WHEN $2 = '' THEN s.time_zone ELSE $2 END,"
           "  response_target_hours = CASE WHEN $3 = '' THEN s.response_target_hours"
           "                          ELSE $3::int END,"
           "  updated_at = $4::timestamptz, updated_by = $5"
           " RETURNING " SETTINGS_JSON("s"),
    .nparams = 5,
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

int leads_settings_get(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    (void)request;
    const char *params[] = {call->header->tenant_id};
    return s_answer(call, crm_db_query(call->db, &s_get, params), response);
}

int leads_settings_update(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    const Crm__Leads__UpdatePipelineSettingsRequest *req = (const void *)request;
    static const Crm__Leads__PipelineSettings empty = CRM__LEADS__PIPELINE_SETTINGS__INIT;
    const Crm__Leads__PipelineSettings *in = req->settings ? req->settings : &empty;
    bool set_zone = false, set_target = false;
    for (size_t i = 0; i < req->n_update_mask; i++) {
        const ProtobufCFieldDescriptor *f =
            crm_pb_field_by_name(&crm__leads__pipeline_settings__descriptor, req->update_mask[i]);
        if (f && strcmp(f->name, "time_zone") == 0)
            set_zone = true;
        else if (f && strcmp(f->name, "response_target_hours") == 0)
            set_target = true;
        else
            crm_call_field_error(call, req->update_mask[i],
                                 f ? "cannot be changed" : "is not a setting");
    }
    if (set_zone && (!in->time_zone[0] || strlen(in->time_zone) > TIME_ZONE_MAX_LEN))
        crm_call_field_error(call, "timeZone",
                             "must be an IANA time zone name such as America/Chicago");
    if (set_target && (in->response_target_hours < RESPONSE_TARGET_MIN_HOURS ||
                       in->response_target_hours > RESPONSE_TARGET_MAX_HOURS))
        crm_call_field_error(call, "responseTargetHours", "must be from %d to %d",
                             RESPONSE_TARGET_MIN_HOURS, RESPONSE_TARGET_MAX_HOURS);
    if (!req->n_update_mask)
        crm_call_field_error(call, "timeZone", "give timeZone or responseTargetHours");
    if (call->errors.n)
        return 422;

    char zone[TIME_ZONE_MAX_LEN + 1] = "";
    if (set_zone) {
        const char *params[] = {in->time_zone};
        PGresult *res = crm_db_query(call->db, &s_time_zone, params);
        if (!res)
            return crm_call_db_failure(call);
        if (PQntuples(res) == 1)
            snprintf(zone, sizeof zone, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        if (!zone[0]) {
            crm_call_field_error(call, "timeZone",
                                 "is not a time zone: give an IANA name such as "
                                 "America/Chicago");
            return 422;
        }
    }
    char target[16] = "", now[40];
    if (set_target)
        snprintf(target, sizeof target, "%u", in->response_target_hours);
    crm_time_now(now, sizeof now);
    const char *params[] = {call->header->tenant_id, zone, target, now, call->header->actor_id};
    return s_answer(call, crm_db_query(call->db, &s_upsert, params), response);
}
