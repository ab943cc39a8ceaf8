/*  settings_methods: the tenant's notification settings (GET, PATCH
    /v1/notification-settings), rows of methods.c's table, each read top to bottom:
    decode, check (settings.c), store (settings_store.c), answer. */
#include "notify.h"
#include "json_pb.h"

#include <stdio.h>

int notify_settings_get(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    (void)request;
    Crm__Notify__NotificationSettings *s = NULL;
    if (notify_settings_store_load(call->db, call->header->tenant_id, &s))
        return crm_call_db_failure(call);
    *response = &s->base;
    return 200;
}

int notify_settings_update(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    const Crm__Notify__UpdateNotificationSettingsRequest *req = (const void *)request;
    Crm__Notify__NotificationSettings *now = NULL;
    if (notify_settings_store_load(call->db, call->header->tenant_id, &now))
        return crm_call_db_failure(call);
    crm_errors_t errors = {0};
    Crm__Notify__NotificationSettings *s = notify_settings_apply(now, req, &errors);
    crm__notify__notification_settings__free_unpacked(now, NULL);
    if (s)
        notify_settings_check(s, &errors);
    int code = errors.n ? crm_call_fail(call, &errors) : 0;
    if (code == 0 && s->time_zone[0]) { // a zone PostgreSQL knows, by its own spelling
        char zone[64];
        code = notify_settings_store_zone(call, s->time_zone, zone, sizeof zone);
        if (code == 0 && !zone[0]) {
            crm_call_field_error(call, "timeZone",
                                 "is not a time zone: give an IANA name such as America/Chicago");
            code = 422;
        }
        if (code == 0)
            crm_pb_string_set(&s->time_zone, zone);
    }
    if (code == 0)
        code = notify_settings_store_save(call, s);
    if (code) {
        if (s)
            crm__notify__notification_settings__free_unpacked(s, NULL);
        return code;
    }
    *response = &s->base;
    return 200;
}
