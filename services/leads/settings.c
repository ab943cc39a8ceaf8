/*  settings: the rules of the tenant's sales settings (no database, no call): what a
    PATCH may set and the values it takes. Whether PostgreSQL knows the time zone is
    settings_store.c's question; settings_methods.c holds the methods. Unit-tested in
    tests/unit/test_leads_settings.c.

    The settings (tenant_settings, migration 0002): the time zone that follow-ups' quick
    picks ("tomorrow_9am") and the hot sheet read the wall clock in, and the response
    target behind a lead's missedResponseTarget flag, and whether a salesperson sees
    every lead (salesSeeAllLeads; by default they see their own and the unassigned ones:
    lead_scope(), migration 0015). A tenant without a row has the defaults (UTC, 24
    hours, false); the first PATCH writes its row.
*/
#include "leads.h"
#include "json_pb.h"

#include <string.h>

#define RESPONSE_TARGET_MIN_HOURS 1
#define RESPONSE_TARGET_MAX_HOURS 720

int leads_settings_update_check(const Crm__Leads__UpdatePipelineSettingsRequest *req,
                                leads_settings_fields_t *set, crm_errors_t *errors) {
    static const Crm__Leads__PipelineSettings empty = CRM__LEADS__PIPELINE_SETTINGS__INIT;
    const Crm__Leads__PipelineSettings *in = req->settings ? req->settings : &empty;
    size_t before = errors->n;
    set->time_zone = set->response_target = set->sales_see_all = false;
    for (size_t i = 0; i < req->n_update_mask; i++) {
        const ProtobufCFieldDescriptor *f =
            crm_pb_field_by_name(&crm__leads__pipeline_settings__descriptor, req->update_mask[i]);
        if (f && strcmp(f->name, "time_zone") == 0)
            set->time_zone = true;
        else if (f && strcmp(f->name, "response_target_hours") == 0)
            set->response_target = true;
        else if (f && strcmp(f->name, "sales_see_all_leads") == 0)
            set->sales_see_all = true;
        else
            crm_errors_add(errors, req->update_mask[i], "%s",
                           f ? "cannot be changed" : "is not a setting");
    }
    if (set->time_zone && (!in->time_zone[0] || strlen(in->time_zone) > LEADS_TIME_ZONE_MAX_LEN))
        crm_errors_add(errors, "timeZone",
                       "must be an IANA time zone name such as America/Chicago");
    if (set->response_target && (in->response_target_hours < RESPONSE_TARGET_MIN_HOURS ||
                                 in->response_target_hours > RESPONSE_TARGET_MAX_HOURS))
        crm_errors_add(errors, "responseTargetHours", "must be from %d to %d",
                       RESPONSE_TARGET_MIN_HOURS, RESPONSE_TARGET_MAX_HOURS);
    if (!req->n_update_mask)
        crm_errors_add(errors, "timeZone", "give timeZone, responseTargetHours or salesSeeAllLeads");
    return errors->n > before ? -1 : 0;
}
