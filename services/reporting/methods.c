/*  methods: everything the reporting service answers on the bus, one row each, and the
    methods themselves. Each reads top to bottom: decode, check (the resource's rules
    file), store (its _store.c), answer. The core (common/service.c) batches, commits
    and replies; a method never sees that.

    method            rules           SQL                 HTTP
    ContactsGrowth    growth.c        growth_store.c      GET /v1/reports/contacts/growth
    Rebuild           rebuild.c       rebuild_store.c     (bus: crmctl reporting rebuild)
    RebuildStatus     rebuild.c       rebuild_store.c     (bus: crmctl reporting status)
    Events.Replay     common/replay   the outbox          (bus: subscribers catching up)
*/
#include "reporting.h"
#include "replay.h"

//  ContactsGrowth: live contacts created per day of a range, by source or type.
static int s_contacts_growth(crm_call_t *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response) {
    const Crm__Reporting__ContactsGrowthRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    if (reporting_growth_check(req, &errors))
        return crm_call_fail(call, &errors);
    return reporting_growth_store_read(call, req->from, req->to, req->group_by,
                                       (Crm__Reporting__ContactsGrowthResponse **)response);
}

//  Rebuild (bus only, role admin): 202 with how it runs; see rebuild.c.
static int s_rebuild(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response) {
    const Crm__Reporting__RebuildRequest *req = (const void *)request;
    reporting_t *self = call->arg;
    int code = reporting_rebuild_start(self, call, req->mode);
    if (code == 202)
        *response = &reporting_rebuild_status(self)->base;
    return code;
}

//  RebuildStatus: how far the running (or last) rebuild got.
static int s_rebuild_status(crm_call_t *call, const ProtobufCMessage *request,
                            ProtobufCMessage **response) {
    (void)request;
    *response = &reporting_rebuild_status(call->arg)->base;
    return 200;
}

const crm_method_t reporting_methods[] = {
    {"ContactsGrowth", s_contacts_growth, &crm__reporting__contacts_growth_request__descriptor,
     false},
    {"Rebuild", s_rebuild, &crm__reporting__rebuild_request__descriptor, false},
    {"RebuildStatus", s_rebuild_status, &crm__empty__descriptor, false},
    //  Reporting's own events (ContactsDaily) for whoever missed some (common/replay.c).
    CRM_EVENTS_REPLAY_METHOD,
    {NULL, NULL, NULL, false},
};
