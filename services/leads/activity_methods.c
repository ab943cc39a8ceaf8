/*  activity_methods: a lead's activities (POST, PATCH, GET /v1/leads/{id}/activities),
    rows of methods.c's table, each read top to bottom: decode, check (activity.c), store
    (activity_store.c), answer. Each request is checked completely before anything is
    written. */
#include "leads.h"
#include "ids.h"
#include "json_pb.h"

#include <stdlib.h>
#include <string.h>

static bool s_lead_id_ok(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return true;
    crm_call_error(call, "not_found", "no such lead (not a valid lead id)");
    return false;
}

//  CreateActivity: a log on a live lead of the tenant.
int leads_activity_create(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    const Crm__Leads__CreateActivityRequest *req = (const void *)request;
    if (!s_lead_id_ok(call, req->id))
        return 404;
    if (!req->activity) {
        crm_call_field_error(call, "kind", "is required: the activity's kind and its fields");
        return 422;
    }
    //  Work on a copy (checks fill defaults); read-only fields are the service's to set,
    //  as a lead's are.
    Crm__Leads__Activity *a = (Crm__Leads__Activity *)crm_pb_copy(&req->activity->base);
    crm_errors_t errors = {0};
    leads_activity_check(a, true, &errors); // check: activity.c
    int code = crm_call_fail(call, &errors);
    Crm__Leads__Lead *lead = NULL;
    if (code == 0)
        code = leads_store_get(call, req->id, false, false, &lead);
    if (code == 200) // store: activity_store.c
        code = leads_activity_store_insert(call, req->id, lead->contact_id, a, response);
    if (lead)
        crm__leads__lead__free_unpacked(lead, NULL);
    crm__leads__activity__free_unpacked(a, NULL);
    return code;
}

//  The stored activity (JSON) with the masked fields taken from the request (a field the
//  request leaves out goes back to its default), read back as an Activity and checked.
//  An appointment's occurredAt follows its scheduledAt unless given; another kind keeps
//  its stored time unless given. 200 with *out, or 422 with the errors.
static int s_patched(crm_call_t *call, const char *stored_json,
                     const Crm__Leads__UpdateActivityRequest *req, char **changed,
                     bool occurred_given, Crm__Leads__Activity **out) {
    json_error_t jerr;
    json_t *merged = json_loads(stored_json, 0, &jerr);
    const char *kind = json_string_value(json_object_get(merged, "kind"));
    if (kind && strcmp(kind, "status_change") == 0) {
        crm_call_error(call, "read_only",
                       "a status_change activity is the stage history's: it cannot be "
                       "changed");
        crm_call_field_error(call, "kind", "a status_change activity cannot be changed");
    }
    if (!occurred_given)
        json_object_del(merged, "occurredAt");
    leads_patch_apply(merged, &req->activity->base, changed, req->n_update_mask);
    crm_json_error_t err;
    Crm__Leads__Activity *a = call->errors.n
                                  ? NULL
                                  : (Crm__Leads__Activity *)crm_json_value_to_pb(
                                        &crm__leads__activity__descriptor, merged, "", &err);
    json_decref(merged);
    if (call->errors.n)
        return 422;
    if (!a) {
        crm_call_field_error(call, err.field, "%s", err.message);
        return 422;
    }
    if (!occurred_given && !leads_activity_is_appointment(a->kind)) {
        json_t *stored = json_loads(stored_json, 0, &jerr);
        crm_pb_string_set(&a->occurred_at,
                          json_string_value(json_object_get(stored, "occurredAt")));
        json_decref(stored);
    }
    *out = a;
    crm_errors_t errors = {0};
    leads_activity_check(a, occurred_given, &errors); // check: activity.c
    int code = crm_call_fail(call, &errors);
    return code ? code : 200;
}

//  200 when the caller may change the stored activity (JSON; its author is its actorId),
//  else 403: a salesperson changes only the activities they logged.
static int s_may_change(crm_call_t *call, const char *stored_json) {
    json_t *stored = json_loads(stored_json, 0, NULL);
    const char *author = json_string_value(json_object_get(stored, "actorId"));
    bool may = leads_activity_may_change(call->header->role, call->header->actor_id, author);
    json_decref(stored);
    if (may)
        return 200;
    crm_call_error(call, "forbidden",
                   "a salesperson changes only the activities they logged; ask a manager");
    return 403;
}

//  UpdateActivity (PATCH): the fields the mask names, the activity checked again whole.
int leads_activity_update(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    const Crm__Leads__UpdateActivityRequest *req = (const void *)request;
    if (!s_lead_id_ok(call, req->id))
        return 404;
    if (!crm_uuid_valid(req->activity_id)) {
        crm_call_error(call, "not_found", "no such activity (not a valid activity id)");
        return 404;
    }
    crm_errors_t patch_errors = {0};
    char **changed =
        leads_patch_names(&crm__leads__activity__descriptor, req->activity != NULL,
                          req->update_mask, req->n_update_mask, "an activity",
                          leads_activity_read_only, leads_activity_n_read_only, &patch_errors);
    crm_call_fail(call, &patch_errors);
    bool occurred_given = leads_patch_names_has(changed, req->n_update_mask, "occurredAt");
    if (req->n_update_mask == 0)
        crm_call_field_error(call, "activity", "names no field to change");
    Crm__Leads__Lead *lead = NULL;
    Crm__Leads__Activity *a = NULL;
    char *stored = NULL;
    int code = call->errors.n ? 422 : leads_store_get(call, req->id, false, false, &lead);
    if (code == 200) // store: activity_store.c
        code = leads_activity_store_read_for_update(call, req->id, req->activity_id, &stored);
    if (code == 200)
        code = s_may_change(call, stored);
    if (code == 200)
        code = s_patched(call, stored, req, changed, occurred_given, &a);
    if (code == 200)
        code = leads_activity_store_update(call, req->id, req->activity_id, lead->contact_id, a,
                                           changed, req->n_update_mask, response);
    free(stored);
    leads_patch_names_free(changed, req->n_update_mask);
    if (lead)
        crm__leads__lead__free_unpacked(lead, NULL);
    if (a)
        crm__leads__activity__free_unpacked(a, NULL);
    return code;
}

//  ListActivities: a live lead's activities newest first, by kind, keyset-paged.
int leads_activity_list(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Leads__ListActivitiesRequest *req = (const void *)request;
    if (!s_lead_id_ok(call, req->id))
        return 404;
    leads_activity_list_t page;
    crm_errors_t errors = {0};
    if (leads_activity_list_check(req, &page, &errors)) // check: activity.c
        return crm_call_fail(call, &errors);
    Crm__Leads__Lead *lead = NULL;
    int code = leads_store_get(call, req->id, false, false, &lead);
    if (lead)
        crm__leads__lead__free_unpacked(lead, NULL);
    if (code != 200)
        return code;
    return leads_activity_store_list(call, req->id, &page, response); // store
}
