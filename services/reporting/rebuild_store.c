/*  rebuild_store: the rebuild's SQL: emptying the projection and the rebuild row.
*/
#include "reporting.h"
#include "log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

//  --- Rebuild --------------------------------------------------------------------------

static const crm_stmt_t s_inbox_set = {
    .name = "reporting_inbox_set",
    .sql = "INSERT INTO inbox (source, last_seq) VALUES ('contacts', $1::bigint)"
           " ON CONFLICT (source) DO UPDATE SET last_seq = excluded.last_seq, updated_at = now()",
    .nparams = 1,
    .writes = true,
};

int reporting_store_reset(crm_db_t *db, uint64_t watermark) {
    if (crm_db_exec(db, "INSERT INTO dirty_days (tenant_id, day)"
                        " SELECT DISTINCT tenant_id, day FROM contacts_daily"
                        " ON CONFLICT DO NOTHING;"
                        "DELETE FROM contact_facts;"
                        "DELETE FROM contacts_daily;"
                        "DELETE FROM applied_runs WHERE source = 'contacts';"
                        "DELETE FROM inbox WHERE source = 'contacts'"))
        return -1;
    if (watermark == 0)
        return 0;
    char seq[24];
    snprintf(seq, sizeof seq, "%" PRIu64, watermark);
    const char *params[] = {seq};
    return crm_db_run(db, &s_inbox_set, params);
}

static const crm_stmt_t s_rebuild_load = {
    .name = "reporting_rebuild_load",
    .sql = "SELECT phase, mode, cursor_tenant, cursor_id, watermark_seq, contacts_loaded,"
           " " TS("started_at") ", coalesce(" TS("finished_at") ", '') FROM rebuild WHERE id = 1",
};

static const crm_stmt_t s_rebuild_save = {
    .name = "reporting_rebuild_save",
    .sql = "INSERT INTO rebuild (id, phase, mode, cursor_tenant, cursor_id, watermark_seq,"
           "                     contacts_loaded, started_at, finished_at)"
           " VALUES (1, $1, $2, $3, $4, $5::bigint, $6::bigint, $7::timestamptz,"
           "         nullif($8, '')::timestamptz)"
           " ON CONFLICT (id) DO UPDATE SET phase = excluded.phase, mode = excluded.mode,"
           "  cursor_tenant = excluded.cursor_tenant, cursor_id = excluded.cursor_id,"
           "  watermark_seq = excluded.watermark_seq, contacts_loaded = excluded.contacts_loaded,"
           "  started_at = excluded.started_at, finished_at = excluded.finished_at",
    .nparams = 8,
    .writes = true,
};

int reporting_store_rebuild_load(crm_db_t *db, reporting_rebuild_t *rebuild) {
    reporting_rebuild_reset(rebuild);
    PGresult *res = crm_db_query(db, &s_rebuild_load, NULL);
    if (!res)
        return -1;
    if (PQntuples(res) == 1) {
        snprintf(rebuild->phase, sizeof rebuild->phase, "%s", PQgetvalue(res, 0, 0));
        snprintf(rebuild->mode, sizeof rebuild->mode, "%s", PQgetvalue(res, 0, 1));
        free(rebuild->cursor_tenant);
        rebuild->cursor_tenant = strdup(PQgetvalue(res, 0, 2));
        snprintf(rebuild->cursor_id, sizeof rebuild->cursor_id, "%s", PQgetvalue(res, 0, 3));
        rebuild->watermark_seq = strtoull(PQgetvalue(res, 0, 4), NULL, 10);
        rebuild->contacts_loaded = strtoull(PQgetvalue(res, 0, 5), NULL, 10);
        snprintf(rebuild->started_at, sizeof rebuild->started_at, "%s", PQgetvalue(res, 0, 6));
        snprintf(rebuild->finished_at, sizeof rebuild->finished_at, "%s", PQgetvalue(res, 0, 7));
    }
    PQclear(res);
    return 0;
}

int reporting_store_rebuild_save(crm_db_t *db, const reporting_rebuild_t *rebuild) {
    char watermark[24], loaded[24];
    snprintf(watermark, sizeof watermark, "%" PRIu64, rebuild->watermark_seq);
    snprintf(loaded, sizeof loaded, "%" PRIu64, rebuild->contacts_loaded);
    const char *params[] = {rebuild->phase,
                            rebuild->mode,
                            rebuild->cursor_tenant ? rebuild->cursor_tenant : "",
                            rebuild->cursor_id,
                            watermark,
                            loaded,
                            rebuild->started_at,
                            rebuild->finished_at};
    return crm_db_run(db, &s_rebuild_save, params);
}

