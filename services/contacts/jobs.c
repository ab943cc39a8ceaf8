/*  jobs: the job runner that works through queued jobs, the retention sweep that erases
    contacts past their retention (every contacts.retention_sweep_ms), and the methods
    that show jobs.

    Both are jobs of the contacts daemon's runner (common/runner.c, main.c's table): each
    a thread with a connection of its own, so a chunk of a job never holds up the
    requests the daemon serves. A step of the job runner claims the oldest job waiting
    (FOR UPDATE SKIP LOCKED: several contacts processes share the work and never take
    the same job at once) and does one chunk of it in one transaction; the runner steps
    again at once, or, with nothing to do, after JOBS_IDLE_MS. A job outlives any process:
    what is left of it is its items, and its progress is committed with each chunk.
    An import job (import.c) keeps its place in its file the same way: the rows done are
    committed with each chunk, and the job runner's state (an importer) keeps the open
    file between chunks; a chunk that fails has the runner make the state anew.
*/
#include "contacts.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define JOBS_IDLE_MS 250
#define JOBS_LIST_DEFAULT 20
#define JOBS_LIST_MAX 100

//  The oldest job waiting, locked for this transaction.
static const crm_stmt_t s_claim = {
    .name = "jobs_claim",
    .sql = "SELECT tenant_id, id::text, actor_id, request::text, kind FROM jobs"
           " WHERE status IN ('queued', 'running') AND kind IN ('bulk', 'import')"
           " ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED",
    .nparams = 0};

static const crm_stmt_t s_fail = {
    .name = "jobs_fail",
    .sql = "UPDATE jobs SET status = 'failed', finished_at = now(),"
           "  errors = errors || jsonb_build_array(jsonb_build_object('message', $3::text))"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 3,
    .writes = true};

static const crm_stmt_t s_list = {
    .name = "jobs_list",
    .sql = "SELECT " CONTACTS_JOB_JSON("j") " FROM jobs j WHERE j.tenant_id = $1"
           " ORDER BY j.created_at DESC LIMIT $2::int",
    .nparams = 2};

//  Do one chunk of the oldest job waiting: worked when there was one (look again at
//  once), idle when none waits, failed when the database failed (rolled back).
static crm_step_result_t s_run_one(crm_db_t *db, contacts_importer_t *importer) {
    if (crm_db_begin(db))
        return CRM_STEP_FAILED;
    PGresult *res = crm_db_query(db, &s_claim, NULL);
    if (!res || PQntuples(res) == 0) {
        PQclear(res);
        crm_db_rollback(db);
        return res ? CRM_STEP_IDLE : CRM_STEP_FAILED;
    }
    const char *tenant = PQgetvalue(res, 0, 0), *id = PQgetvalue(res, 0, 1);
    const char *request = PQgetvalue(res, 0, 3);
    bool import = strcmp(PQgetvalue(res, 0, 4), "import") == 0;
    crm_json_error_t err;
    Crm__Contacts__BulkContactsRequest *req =
        import ? NULL
               : (Crm__Contacts__BulkContactsRequest *)crm_json_to_pb(
                     &crm__contacts__bulk_contacts_request__descriptor, request, strlen(request),
                     &err);
    bool finished = false;
    int rc;
    if (import)
        rc = contacts_import_step(importer, db, tenant, id, PQgetvalue(res, 0, 2), &finished);
    else if (!req) {
        crm_log_kv(CRM_LOG_ERROR, "job request does not parse", "job", id, "detail", err.message,
                   NULL);
        const char *params[] = {tenant, id, "the job's request is unreadable"};
        PGresult *failed = crm_db_query(db, &s_fail, params);
        rc = failed ? 0 : -1;
        PQclear(failed);
    } else
        rc = contacts_bulk_step(db, tenant, id, PQgetvalue(res, 0, 2), req, CONTACTS_BULK_CHUNK,
                                &finished);
    if (rc == 0 && crm_db_commit(db) == 0) {
        if (finished)
            crm_log_kv(CRM_LOG_INFO, "job finished", "job", id, "tenant", tenant, NULL);
    } else {
        crm_log_kv(CRM_LOG_WARN, "job chunk failed; it will be tried again", "job", id, NULL);
        crm_db_rollback(db);
        rc = -1;  // the runner makes the importer anew
    }
    if (req)
        crm__contacts__bulk_contacts_request__free_unpacked(req, NULL);
    PQclear(res);
    return rc == 0 ? CRM_STEP_WORKED : CRM_STEP_FAILED;
}

// --- the jobs (main.c's table) --------------------------------------------------------

void *contacts_jobs_new(const crm_config_t *cfg, crm_db_t *db) {
    (void)db;
    return contacts_importer_new(cfg);
}

void contacts_jobs_destroy(void **state_p) {
    contacts_importer_t *importer = *state_p;
    contacts_importer_destroy(&importer);
    *state_p = NULL;
}

crm_step_result_t contacts_jobs_step(crm_step_t *step) {
    return s_run_one(step->db, step->state);
}

int contacts_jobs_idle_ms(const crm_config_t *cfg) {
    (void)cfg;
    return JOBS_IDLE_MS;
}

// --- methods --------------------------------------------------------------------------

int contacts_job_get(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response) {
    const Crm__Contacts__GetJobRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such job");
        return 404;
    }
    return contacts_job_read(call, call->db, call->header->tenant_id, req->id,
                             (Crm__Contacts__Job **)response);
}

int contacts_job_list(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response) {
    const Crm__Contacts__ListJobsRequest *req = (const void *)request;
    if (req->limit > JOBS_LIST_MAX) {
        crm_call_field_error(call, "limit", "must be at most %d", JOBS_LIST_MAX);
        return 422;
    }
    char limit[16];
    snprintf(limit, sizeof limit, "%u", req->limit ? req->limit : JOBS_LIST_DEFAULT);
    const char *params[] = {call->header->tenant_id, limit};
    PGresult *res = crm_db_query(call->db, &s_list, params);
    if (!res)
        return crm_call_db_failure(call);
    Crm__Contacts__ListJobsResponse *list = malloc(sizeof *list);
    crm__contacts__list_jobs_response__init(list);
    int rows = PQntuples(res);
    list->items = rows ? calloc(rows, sizeof *list->items) : NULL;
    for (int i = 0; i < rows; i++) {
        const char *json = PQgetvalue(res, i, 0);
        crm_json_error_t err;
        ProtobufCMessage *job =
            crm_json_to_pb(&crm__contacts__job__descriptor, json, strlen(json), &err);
        if (!job) {
            PQclear(res);
            crm__contacts__list_jobs_response__free_unpacked(list, NULL);
            crm_call_error(call, "internal", "stored job is unreadable");
            return 500;
        }
        list->items[list->n_items++] = (Crm__Contacts__Job *)job;
    }
    PQclear(res);
    *response = &list->base;
    return 200;
}
