/*  job_store: the SQL of jobs (bulk changes and imports) and their progress (job.c holds
    the rules, job_methods.c the runner's step and the methods). A job outlives any
    process: what is left of it is its items (job_items), and its progress is committed
    with each chunk.
*/
#include "contacts.h"
#include "rows.h"
#include "json_pb.h"

#include <stdlib.h>
#include <string.h>

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

static const crm_stmt_t s_job_get = {
    .name = "jobs_get",
    .sql = "SELECT " CONTACTS_JOB_JSON("j") " FROM jobs j WHERE j.tenant_id = $1 AND j.id = $2::uuid",
    .nparams = 2};

int contacts_job_read(crm_call_t *call, crm_db_t *db, const char *tenant_id, const char *id,
                      Crm__Contacts__Job **out) {
    const char *params[] = {tenant_id, id};
    return crm_row_answer_one(call, crm_db_query(db, &s_job_get, params), 200,
                              &crm__contacts__job__descriptor, "job", "no such job",
                              (ProtobufCMessage **)out);
}

int contacts_job_store_claim(crm_db_t *db, contacts_claimed_job_t *job) {
    memset(job, 0, sizeof *job);
    PGresult *res = crm_db_query(db, &s_claim, NULL);
    if (!res)
        return -1;
    int claimed = PQntuples(res) > 0;
    if (claimed) {
        job->tenant_id = strdup(PQgetvalue(res, 0, 0));
        job->id = strdup(PQgetvalue(res, 0, 1));
        job->actor_id = strdup(PQgetvalue(res, 0, 2));
        job->request = strdup(PQgetvalue(res, 0, 3));
        job->kind = strdup(PQgetvalue(res, 0, 4));
    }
    PQclear(res);
    return claimed;
}

void contacts_claimed_job_reset(contacts_claimed_job_t *job) {
    free(job->tenant_id);
    free(job->id);
    free(job->actor_id);
    free(job->request);
    free(job->kind);
    memset(job, 0, sizeof *job);
}

int contacts_job_store_fail(crm_db_t *db, const char *tenant_id, const char *id,
                            const char *message) {
    const char *params[] = {tenant_id, id, message};
    PGresult *failed = crm_db_query(db, &s_fail, params);
    int rc = failed ? 0 : -1;
    PQclear(failed);
    return rc;
}

int contacts_job_store_list(crm_call_t *call, int limit_asked,
                            Crm__Contacts__ListJobsResponse **out) {
    char limit[16];
    snprintf(limit, sizeof limit, "%d", limit_asked);
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
    *out = list;
    return 200;
}
