/*  snapshot_methods: the "Snapshot" method (read top to bottom: check, snapshot.c;
    store, snapshot_store.c; answer), every contact of every tenant in pages, for
    services that rebuild a projection of contacts when the events it would replay are
    past the retention (reporting's Rebuild).
*/
#include "contacts.h"

int contacts_snapshot(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response) {
    const Crm__Contacts__SnapshotRequest *req = (const void *)request;
    //  Every tenant's data: only the suite's own services and administrators.
    if (!contacts_snapshot_allowed(call->header->role)) {
        crm_call_error(call, "forbidden", "a snapshot of every tenant needs the system role");
        return 403;
    }
    crm_errors_t errors = {0};
    int limit;
    if (contacts_snapshot_check(req, &limit, &errors))
        return crm_call_fail(call, &errors);
    return contacts_snapshot_store_page(call, req->after_tenant_id, contacts_snapshot_after_id(req),
                                        limit, (Crm__Contacts__SnapshotResponse **)response);
}
