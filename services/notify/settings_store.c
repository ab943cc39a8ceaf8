/*  settings_store: the SQL of the tenants' notification settings, one JSON document per
    tenant (settings.c holds the rules and the defaults a tenant without a row gets).
*/
#include "notify.h"
#include "json_pb.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

static const crm_stmt_t s_load = {
    .name = "settings_load",
    .sql = "SELECT doc::text, " CRM_SQL_TS("updated_at") " FROM settings WHERE tenant_id = $1",
    .nparams = 1};

static const crm_stmt_t s_save = {
    .name = "settings_save",
    .sql = "INSERT INTO settings (tenant_id, doc, updated_at) VALUES ($1, $2::jsonb, now())"
           " ON CONFLICT (tenant_id) DO UPDATE SET doc = $2::jsonb, updated_at = now()"
           " RETURNING " CRM_SQL_TS("updated_at"),
    .nparams = 2,
    .writes = true};

//  The zone's name as PostgreSQL spells it, when it knows it.
static const crm_stmt_t s_zone = {
    .name = "settings_zone",
    .sql = "SELECT name FROM pg_timezone_names WHERE lower(name) = lower($1) LIMIT 1",
    .nparams = 1};

int notify_settings_store_load(crm_db_t *db, const char *tenant_id,
                               Crm__Notify__NotificationSettings **out) {
    const char *params[] = {tenant_id};
    PGresult *res = crm_db_query(db, &s_load, params);
    if (!res)
        return -1;
    Crm__Notify__NotificationSettings *s = NULL;
    if (PQntuples(res)) {
        crm_json_error_t err;
        const char *doc = PQgetvalue(res, 0, 0);
        s = (Crm__Notify__NotificationSettings *)crm_json_to_pb(
            &crm__notify__notification_settings__descriptor, doc, strlen(doc), &err);
        if (!s)
            crm_log_kv(CRM_LOG_ERROR,
                       "stored notification settings do not parse; the defaults apply", "field",
                       err.field, "detail", err.message, NULL);
        else
            crm_pb_string_set(&s->updated_at, PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    *out = s ? s : notify_settings_default();
    return 0;
}

int notify_settings_store_save(crm_call_t *call, Crm__Notify__NotificationSettings *s) {
    crm_pb_string_set(&s->updated_at, "");
    char *doc = crm_pb_to_json(&s->base);
    const char *params[] = {call->header->tenant_id, doc};
    PGresult *res = crm_db_query(call->db, &s_save, params);
    free(doc);
    if (!res)
        return crm_call_db_failure(call);
    crm_pb_string_set(&s->updated_at, PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int notify_settings_store_zone(crm_call_t *call, const char *zone, char *out, size_t size) {
    const char *params[] = {zone};
    PGresult *res = crm_db_query(call->db, &s_zone, params);
    if (!res)
        return crm_call_db_failure(call);
    out[0] = '\0';
    if (PQntuples(res))
        snprintf(out, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}
