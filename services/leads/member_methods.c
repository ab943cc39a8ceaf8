/*  member_methods: the sales team's methods (rows of methods.c's table), each read top
    to bottom: decode, check (member.c), store (member_store.c), answer. Writes are for
    managers and admins (the gateway's ROLES_MANAGE). */
#include "leads.h"
#include "ids.h"
#include "json_pb.h"

#include <string.h>

#define NIL_UUID "00000000-0000-0000-0000-000000000000"

static bool s_member_id_ok(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return true;
    crm_call_error(call, "not_found", "no such team member (not a valid id)");
    return false;
}

//  A member's rules (member.c), then the one that needs PostgreSQL: the time zone is
//  one it knows. 0, 422 with the field errors, or a failure code.
static int s_member_check(crm_call_t *call, Crm__Leads__TeamMember *m) {
    leads_t *self = call->arg;
    crm_errors_t errors = {0};
    leads_member_check(m, self->cfg->contacts_default_region, &errors);
    if (m->time_zone[0] && !crm_errors_has(&errors, "timeZone")) {
        bool known = false;
        int code = leads_member_store_time_zone_known(call, m->time_zone, &known);
        if (code) {
            crm_errors_reset(&errors);
            return code;
        }
        if (!known)
            crm_errors_add(&errors, "timeZone",
                           "is not a known IANA time zone (e.g. America/Chicago)");
    }
    return crm_call_fail(call, &errors);
}

//  GetTeamMember.
int leads_member_get(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response) {
    const Crm__Leads__GetTeamMemberRequest *req = (const void *)request;
    if (!s_member_id_ok(call, req->id))
        return 404;
    return leads_member_store_read(call, req->id, (Crm__Leads__TeamMember **)response);
}

//  ListTeamMembers: by name, filtered by role, active, available, handle.
int leads_member_list(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response) {
    const Crm__Leads__ListTeamMembersRequest *req = (const void *)request;
    leads_member_list_t page;
    crm_errors_t errors = {0};
    if (leads_member_list_check(req, &page, &errors))
        return crm_call_fail(call, &errors);
    return leads_member_store_list(call, req->role, req->active_only, req->available_only, &page,
                                   (Crm__Leads__ListTeamMembersResponse **)response);
}

//  CreateTeamMember: 201 with the member; 409 when another has its email or actor.
int leads_member_create(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Leads__CreateTeamMemberRequest *req = (const void *)request;
    if (!req->member) {
        crm_call_field_error(call, "member", "is required");
        return 422;
    }
    Crm__Leads__TeamMember *m = (Crm__Leads__TeamMember *)crm_pb_copy(&req->member->base);
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    crm_pb_string_set(&m->id, id);
    m->active = true;
    int code = s_member_check(call, m);
    if (code == 0)
        code = leads_member_store_unique(call, m, NIL_UUID);
    if (code == 0)
        code = leads_member_store_write(call, m, true);
    crm__leads__team_member__free_unpacked(m, NULL);
    if (code == 0) {
        code = leads_member_store_read(call, id, (Crm__Leads__TeamMember **)response);
        if (code == 200)
            code = 201;
    }
    return code;
}

//  The stored member with the masked fields from the request (one left out goes back to
//  its default), read back as a member; NULL with errors filled.
static Crm__Leads__TeamMember *s_member_patched(const Crm__Leads__TeamMember *stored,
                                                const Crm__Leads__UpdateTeamMemberRequest *req,
                                                char **changed, crm_errors_t *errors) {
    json_t *merged = crm_pb_to_json_value(&stored->base);
    leads_patch_apply(merged, &req->member->base, changed, req->n_update_mask);
    //  available left out of a PATCH that names it is false, as any bool.
    if (!json_object_get(merged, "available"))
        json_object_set_new(merged, "available", json_false());
    json_object_del(merged, "openLeads");
    crm_json_error_t err;
    Crm__Leads__TeamMember *m = (Crm__Leads__TeamMember *)crm_json_value_to_pb(
        &crm__leads__team_member__descriptor, merged, "", &err);
    json_decref(merged);
    if (!m)
        crm_errors_add(errors, err.field, "%s", err.message);
    return m;
}

//  UpdateTeamMember (PATCH).
int leads_member_update(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Leads__UpdateTeamMemberRequest *req = (const void *)request;
    if (!s_member_id_ok(call, req->id))
        return 404;
    crm_errors_t errors = {0};
    char **changed = leads_patch_names(&crm__leads__team_member__descriptor, req->member != NULL,
                                       req->update_mask, req->n_update_mask, "a team member",
                                       leads_member_read_only, leads_member_n_read_only, &errors);
    Crm__Leads__TeamMember *stored = NULL, *m = NULL;
    int code = crm_call_fail(call, &errors);
    if (code == 0)
        code = leads_member_store_read(call, req->id, &stored);
    if (code == 200) {
        m = s_member_patched(stored, req, changed, &errors);
        code = m ? s_member_check(call, m) : crm_call_fail(call, &errors);
    }
    if (code == 0)
        code = leads_member_store_unique(call, m, req->id);
    if (code == 0)
        code = leads_member_store_write(call, m, false);
    leads_patch_names_free(changed, req->n_update_mask);
    if (stored)
        crm__leads__team_member__free_unpacked(stored, NULL);
    if (m)
        crm__leads__team_member__free_unpacked(m, NULL);
    if (code == 0)
        code = leads_member_store_read(call, req->id, (Crm__Leads__TeamMember **)response);
    return code;
}

//  DeleteTeamMember: deleted when the member never had a lead, else deactivated.
int leads_member_delete(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    (void)response;
    const Crm__Leads__DeleteTeamMemberRequest *req = (const void *)request;
    if (!s_member_id_ok(call, req->id))
        return 404;
    return leads_member_store_delete(call, req->id);
}
