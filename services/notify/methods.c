/*  methods: everything the notify service answers on the bus, one row each. Each method
    reads top to bottom: decode, check (the resource's rules file), store (its
    _store.c), answer. The core (common/service.c) batches, commits and replies; a
    method never sees that.

    method                      rules          store               HTTP
    CreateTemplate              template.c     template_store.c    POST /v1/templates
    GetTemplate                                                    GET /v1/templates/{id}
    ListTemplates                                                  GET /v1/templates
    UpdateTemplate                                                 PATCH /v1/templates/{id}
    DeleteTemplate                                                 DELETE /v1/templates/{id}
    PreviewTemplate             (the renderer; the contact, lead   POST /v1/templates/{id}/preview
                                and assignee over the bus)
    SendMessage                 message.c      message_store.c     POST /v1/messages
    GetMessage                                                     GET /v1/messages/{id}
    ListMessages                                                   GET /v1/messages
    RetryMessage                                                   POST /v1/messages/{id}/retry
    CreateCampaign              campaign.c     campaign_store.c    POST /v1/campaigns
    CreateCampaignFromBulk                                         (bus only: contacts' bulk
                                                                    send_email)
    GetCampaign                                                    GET /v1/campaigns/{id}
    ListCampaigns                                                  GET /v1/campaigns
    CancelCampaign                                                 POST /v1/campaigns/{id}/cancel
    GetNotificationSettings     settings.c     settings_store.c    GET /v1/notification-settings
    UpdateNotificationSettings                                     PATCH /v1/notification-settings
    SmsStatusWebhook            webhook.c      webhook_store.c     POST /v1/webhooks/sms/status
    SmsInboundWebhook                                              POST /v1/webhooks/sms/inbound
    Unsubscribe                                                    POST /v1/unsubscribe/{token}
    UnsubscribePage                                                GET /v1/unsubscribe/{token}
    Track                                                          GET /v1/t/{token}
    Events.Replay               (common/replay.c: notify's events)

    Methods of a resource are in <resource>_methods.c. Messages go out from the senders
    (sender.c, jobs of main.c's table), not from a method; a campaign's recipients are
    queued by its job (campaign_job.c), not by CreateCampaign.
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
    {"SendMessage", notify_message_send, &crm__notify__send_message_request__descriptor, true},
    {"GetMessage", notify_message_get, &crm__notify__get_message_request__descriptor, false},
    {"ListMessages", notify_message_list, &crm__notify__list_messages_request__descriptor, false},
    {"RetryMessage", notify_message_retry, &crm__notify__retry_message_request__descriptor, true},
    {"CreateCampaign", notify_campaign_create, &crm__notify__create_campaign_request__descriptor,
     true},
    {"CreateCampaignFromBulk", notify_campaign_create_from_bulk,
     &crm__notify__create_campaign_request__descriptor, true},
    {"GetCampaign", notify_campaign_get, &crm__notify__get_campaign_request__descriptor, false},
    {"ListCampaigns", notify_campaign_list, &crm__notify__list_campaigns_request__descriptor,
     false},
    {"CancelCampaign", notify_campaign_cancel, &crm__notify__cancel_campaign_request__descriptor,
     true},
    {"GetNotificationSettings", notify_settings_get,
     &crm__notify__get_notification_settings_request__descriptor, false},
    {"UpdateNotificationSettings", notify_settings_update,
     &crm__notify__update_notification_settings_request__descriptor, true},
    //  Raw routes (no API key; the tenant comes from a signature or a signed token).
    {"SmsStatusWebhook", notify_webhook_sms_status, &crm__http_request__descriptor, true},
    {"SmsInboundWebhook", notify_webhook_sms_inbound, &crm__http_request__descriptor, true},
    {"Unsubscribe", notify_webhook_unsubscribe, &crm__http_request__descriptor, true},
    {"UnsubscribePage", notify_webhook_unsubscribe_page, &crm__http_request__descriptor, false},
    {"Track", notify_webhook_track, &crm__http_request__descriptor, true},
    CRM_EVENTS_REPLAY_METHOD,
    {NULL, NULL, NULL, false},
};
