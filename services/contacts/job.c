/*  job: the rules of jobs (bulk changes and imports): which kind a queued job is, its
    stored request read back, the ids that name a job, and how many a list shows. No
    database here: job_store.c holds the SQL, job_methods.c the runner's step and the
    methods; tests/unit/test_contacts_job.c states the rules.
*/
#include "contacts.h"
#include "ids.h"
#include "json_pb.h"

#include <string.h>

bool contacts_job_is_import(const char *kind) {
    return strcmp(kind, "import") == 0;
}

Crm__Contacts__BulkContactsRequest *contacts_job_bulk_request(const char *text,
                                                              crm_json_error_t *err) {
    return (Crm__Contacts__BulkContactsRequest *)crm_json_to_pb(
        &crm__contacts__bulk_contacts_request__descriptor, text, strlen(text), err);
}

bool contacts_job_id_valid(const char *id) {
    return crm_uuid_valid(id);
}
