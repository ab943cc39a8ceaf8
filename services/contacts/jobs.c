/*  jobs: the runner that works through queued jobs (and, every
    contacts.retention_sweep_ms, erases contacts past their retention), and the methods
    that show jobs.

    The runner is a thread of the contacts daemon with a connection of its own, so a
    chunk of a job never holds up the requests the daemon serves. It claims the oldest
    job waiting (FOR UPDATE SKIP LOCKED: several contacts processes share the work and
    never take the same job at once), does one chunk of it in one transaction, and goes
    on; with nothing to do it looks again every JOBS_IDLE_MS. A job outlives any process:
    what is left of it is its items, and its progress is committed with each chunk.
    An import job (import.c) keeps its place in its file the same way: the rows done are
    committed with each chunk, and the runner keeps the open file between chunks.
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

struct _contacts_jobs_t {
    zactor_t *actor;
};

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

//  Do one chunk of the oldest job waiting. true when there was one (look again at once).
static bool s_run_one(crm_db_t *db, contacts_importer_t *importer) {
    if (crm_db_begin(db))
        return false;
    PGresult *res = crm_db_query(db, &s_claim, NULL);
    if (!res || PQntuples(res) == 0) {
        PQclear(res);
        crm_db_rollback(db);
        return false;
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
        contacts_importer_reset(importer);
        rc = -1;
    }
    if (req)
        crm__contacts__bulk_contacts_request__free_unpacked(req, NULL);
    PQclear(res);
    return rc == 0;
}

//  Erase one batch of contacts past their retention. true when it erased any (there may
//  be more: look again at once).
static bool s_sweep(crm_db_t *db) {
    if (crm_db_begin(db))
        return false;
    int erased = 0;
    if (contacts_erase_due(db, &erased) == 0 && crm_db_commit(db) == 0) {
        if (erased) {
            char count[16];
            snprintf(count, sizeof count, "%d", erased);
            crm_log_kv(CRM_LOG_INFO, "contacts past their retention erased", "count", count,
                       NULL);
        }
        return erased > 0;
    }
    crm_log_kv(CRM_LOG_WARN, "retention sweep failed; it will be tried again", NULL);
    crm_db_rollback(db);
    return false;
}

static void s_runner(zsock_t *pipe, void *arg) {
    const crm_config_t *cfg = arg;
    crm_db_t *db = crm_db_new(cfg->database_dsn, cfg->database_retry_max_ms);
    crm_db_set_connect_timeout(db, cfg->database_connect_timeout_ms);
    crm_db_set_schema(db, "contacts");
    zpoller_t *poller = zpoller_new(pipe, NULL);
    contacts_importer_t *importer = contacts_importer_new(cfg);
    zsock_signal(pipe, 0);
    bool stop = false;
    int64_t next_sweep = zclock_mono() + cfg->contacts_retention_sweep_ms;
    while (!stop) {
        bool worked = false;
        if (crm_db_ok(db) || crm_db_connect(db, 0) == 0) {
            worked = s_run_one(db, importer);
            if (!worked && zclock_mono() >= next_sweep) {
                worked = s_sweep(db);
                if (!worked)
                    next_sweep = zclock_mono() + cfg->contacts_retention_sweep_ms;
            }
        }
        //  Busy: only glance at the pipe. Idle or without a database: wait on it.
        int wait = worked ? 0 : crm_db_ok(db) ? JOBS_IDLE_MS : 1000;
        void *which = zpoller_wait(poller, wait);
        if (which == pipe) {
            char *command = zstr_recv(pipe);
            stop = !command || streq(command, "$TERM");
            zstr_free(&command);
        } else if (zpoller_terminated(poller))
            stop = true;
    }
    zpoller_destroy(&poller);
    contacts_importer_destroy(&importer);
    crm_db_destroy(&db);
}

contacts_jobs_t *contacts_jobs_start(const crm_config_t *cfg) {
    contacts_jobs_t *self = calloc(1, sizeof *self);
    self->actor = zactor_new(s_runner, (void *)cfg);
    return self;
}

void contacts_jobs_stop(contacts_jobs_t **self_p) {
    if (!*self_p)
        return;
    zactor_destroy(&(*self_p)->actor);
    free(*self_p);
    *self_p = NULL;
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
