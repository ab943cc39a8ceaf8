/*  snapshot: the rules of the "Snapshot" method: who may read every tenant's contacts
    (the suite's own services and administrators), and what a page may ask for. No
    database here: snapshot_store.c holds the SQL, snapshot_methods.c the method;
    tests/unit/test_contacts_snapshot.c states the rules.
*/
#include "contacts.h"
#include "ids.h"

#include <string.h>

#define SNAPSHOT_DEFAULT_LIMIT 1000
#define SNAPSHOT_MAX_LIMIT 10000

bool contacts_snapshot_allowed(const char *role) {
    return strcmp(role, "system") == 0 || strcmp(role, "admin") == 0;
}

int contacts_snapshot_check(const Crm__Contacts__SnapshotRequest *req, int *limit,
                            crm_errors_t *errors) {
    if (req->limit > SNAPSHOT_MAX_LIMIT)
        crm_errors_add(errors, "limit", "must be at most %d", SNAPSHOT_MAX_LIMIT);
    if (req->after_id[0] && !crm_uuid_valid(req->after_id))
        crm_errors_add(errors, "afterId", "is not a contact id");
    if (!req->after_id[0] && req->after_tenant_id[0])
        crm_errors_add(errors, "afterId", "is required with afterTenantId");
    *limit = req->limit ? (int)req->limit : SNAPSHOT_DEFAULT_LIMIT;
    return errors->n ? -1 : 0;
}

const char *contacts_snapshot_after_id(const Crm__Contacts__SnapshotRequest *req) {
    return req->after_id[0] ? req->after_id : "00000000-0000-0000-0000-000000000000";
}
