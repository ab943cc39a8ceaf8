/*  settings_methods: the tenant's sales settings (GET, PATCH /v1/pipeline/settings),
    rows of methods.c's table, each read top to bottom: decode, check (settings.c),
    store (settings_store.c), answer. */
#include "leads.h"

#include <stdio.h>

int leads_settings_get(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    (void)request;
    return leads_settings_store_read(call, response);
}

int leads_settings_update(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    const Crm__Leads__UpdatePipelineSettingsRequest *req = (const void *)request;
    leads_settings_fields_t set;
    crm_errors_t errors = {0};
    if (leads_settings_update_check(req, &set, &errors)) // check: settings.c
        return crm_call_fail(call, &errors);
    const Crm__Leads__PipelineSettings *in = req->settings;
    char zone[LEADS_TIME_ZONE_MAX_LEN + 1] = "";
    if (set.time_zone) { // a zone PostgreSQL knows, by its own spelling
        int code = leads_settings_store_time_zone(call, in->time_zone, zone);
        if (code)
            return code;
        if (!zone[0]) {
            crm_call_field_error(call, "timeZone",
                                 "is not a time zone: give an IANA name such as "
                                 "America/Chicago");
            return 422;
        }
    }
    char target[16] = "";
    if (set.response_target)
        snprintf(target, sizeof target, "%u", in->response_target_hours);
    const char *see_all = !set.sales_see_all                    ? ""
                          : in && in->sales_see_all_leads ? "true"
                                                          : "false";
    return leads_settings_store_write(call, zone, target, see_all, response); // store
}
