/*  methods: everything the notify service answers on the bus, one row each. Each method
    reads top to bottom: decode, check (the resource's rules file), store (its
    _store.c), answer. The core (common/service.c) batches, commits and replies; a
    method never sees that.

    Every row's rules are in template.c, its SQL in template_store.c and its method in
    template_methods.c.

    method            HTTP
    CreateTemplate    POST /v1/templates
    GetTemplate       GET /v1/templates/{id}
    ListTemplates     GET /v1/templates
    UpdateTemplate    PATCH /v1/templates/{id}
    DeleteTemplate    DELETE /v1/templates/{id}
    PreviewTemplate   POST /v1/templates/{id}/preview (template.c's renderer; the contact,
                      lead and assignee from the contacts and leads services over the bus)
*/
#include "notify.h"
#include "replay.h"

const crm_method_t notify_methods[] = {
    {"CreateTemplate", notify_template_create, &crm__notify__create_template_request__descriptor,
     true},
    {"GetTemplate", notify_template_get, &crm__notify__get_template_request__descriptor, false},
    {"ListTemplates", notify_template_list, &crm__notify__list_templates_request__descriptor,
     false},
    {"UpdateTemplate", notify_template_update, &crm__notify__update_template_request__descriptor,
     true},
    {"DeleteTemplate", notify_template_delete, &crm__notify__delete_template_request__descriptor,
     true},
    {"PreviewTemplate", notify_template_preview, &crm__notify__preview_template_request__descriptor,
     false},
    CRM_EVENTS_REPLAY_METHOD,
    {NULL, NULL, NULL, false},
};
