/*  job_methods: jobs (bulk changes and imports): the job runner's step and the methods
    that show jobs (GetJob, ListJobs), each read top to bottom: check (job.c), store
    (job_store.c), answer.

    The job runner is a job of the contacts daemon's runner (common/runner.c, main.c's
    table): a thread with a connection of its own, so a chunk of a job never holds up
    the requests the daemon serves. A step claims the oldest job waiting (FOR UPDATE
    SKIP LOCKED: several contacts processes share the work and never take the same job
    at once) and does one chunk of it in one transaction; the runner steps again at
    once, or, with nothing to do, after JOBS_IDLE_MS. An import job (import.c) keeps its
    place in its file the same way: the rows done are committed with each chunk, and the
    job runner's state (an importer) keeps the open file between chunks; a chunk that
    fails has the runner make the state anew.
*/
#include "contacts.h"
#include "ids.h"
#include "log.h"
#include "page.h"

#include <stdlib.h>
#include <string.h>

#define JOBS_IDLE_MS 250

//  Do one chunk of the oldest job waiting: worked when there was one (look again at
//  once), idle when none waits, failed when the database failed (rolled back).
static crm_step_result_t s_run_one(crm_db_t *db, contacts_importer_t *importer) {
    if (crm_db_begin(db))
        return CRM_STEP_FAILED;
    contacts_claimed_job_t job;
    int claimed = contacts_job_store_claim(db, &job);
    if (claimed <= 0) {
        crm_db_rollback(db);
        return claimed == 0 ? CRM_STEP_IDLE : CRM_STEP_FAILED;
    }
    const char *tenant = job.tenant_id, *id = job.id, *request = job.request;
    bool import = contacts_job_is_import(job.kind);
    crm_json_error_t err;
    Crm__Contacts__BulkContactsRequest *req =
        import ? NULL : contacts_job_bulk_request(request, &err);
    bool finished = false;
    int rc;
    if (import)
        rc = contacts_import_step(importer, db, tenant, id, job.actor_id, &finished);
    else if (!req) {
        crm_log_kv(CRM_LOG_ERROR, "job request does not parse", "job", id, "detail", err.message,
                   NULL);
        rc = contacts_job_store_fail(db, tenant, id, "the job's request is unreadable");
    } else
        rc = contacts_bulk_step(db, tenant, id, job.actor_id, req, CONTACTS_BULK_CHUNK, &finished);
    if (rc == 0 && crm_db_commit(db) == 0) {
        if (finished)
            crm_log_kv(CRM_LOG_INFO, "job finished", "job", id, "tenant", tenant, NULL);
    } else {
        crm_log_kv(CRM_LOG_WARN, "job chunk failed; it will be tried again", "job", id, NULL);
        crm_db_rollback(db);
        rc = -1; // the runner makes the importer anew
    }
    if (req)
        crm__contacts__bulk_contacts_request__free_unpacked(req, NULL);
    contacts_claimed_job_reset(&job);
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
    if (!contacts_job_id_valid(req->id)) {
        crm_call_error(call, "not_found", "no such job");
        return 404;
    }
    return contacts_job_read(call, call->db, call->header->tenant_id, req->id,
                             (Crm__Contacts__Job **)response);
}

int contacts_job_list(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response) {
    const Crm__Contacts__ListJobsRequest *req = (const void *)request;
    int limit = crm_page_limit(call, "limit", req->limit, CONTACTS_JOBS_LIST_DEFAULT,
                               CONTACTS_JOBS_LIST_MAX);
    if (call->errors.n)
        return 422;
    return contacts_job_store_list(call, limit, (Crm__Contacts__ListJobsResponse **)response);
}
