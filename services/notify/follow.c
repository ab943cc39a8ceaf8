/*  follow: what the other services' events do to notify (the follows table in main.c;
    common/follower.c applies each event once, in order, inside a transaction of its
    own, with notify's inbox).

    contacts: each contact's copy (recipients: lines, address, preferred channel), its
    communication rules and consents, deletion, merges and erasure (recipient_store.c).

    leads: each lead's contact, assignee and open state (leads), and the triggers:
    - LeadCreated: speed to lead, the auto-reply to the customer (the tenant's setting
      for the lead's source: on or off, templates, channel preference, delay). Queued
      here, on its channel "first" (the sender picks SMS or email by preference and
      permission, sender.c);
    - LeadAssigned: an alert to the assignee;
    - FollowUpDue: a reminder to the follow-up's assignee.
    A trigger's message key is its event's id, so a replayed event queues nothing more.
    Rendering, permission and quiet hours are the sender's: it decides when the message
    goes out, with what it knows then.
*/
#include "notify.h"
#include "json_pb.h"
#include "log.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// --- contacts ----------------------------------------------------------------------------

static const char *s_channel(Crm__Contacts__Channel channel) {
    switch (channel) {
    case CRM__CONTACTS__CHANNEL__CHANNEL_EMAIL:
        return "email";
    case CRM__CONTACTS__CHANNEL__CHANNEL_SMS:
        return "sms";
    default:
        return NULL; // notify sends neither calls nor mail
    }
}

static const char *s_purpose(Crm__Contacts__Purpose purpose) {
    switch (purpose) {
    case CRM__CONTACTS__PURPOSE__PURPOSE_MARKETING:
        return "marketing";
    case CRM__CONTACTS__PURPOSE__PURPOSE_FOLLOW_UP:
        return "follow_up";
    default:
        return NULL;
    }
}

static int s_contact_put(crm_db_t *db, const char *tenant_id, const Crm__Contacts__Contact *c) {
    notify_recipient_row_t row;
    notify_recipient_from_contact(&row, c);
    int rc = notify_recipient_store_put(db, tenant_id, &row);
    notify_recipient_row_reset(&row);
    return rc;
}

#define UNPACK(type, name) crm__events__##name##__unpack(NULL, size, data)
#define FREE(name, m) crm__events__##name##__free_unpacked(m, NULL)

int notify_follow_contacts(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event, void *arg) {
    (void)outbox;
    (void)arg;
    const uint8_t *data = event->payload.data;
    size_t size = event->payload.len;
    const char *tenant = event->tenant_id;
    const char *type = event->type;
    int rc = 0;
    bool readable = true;
    if (strcmp(type, "ContactCreated") == 0) {
        Crm__Events__ContactCreated *m = UNPACK(ContactCreated, contact_created);
        readable = m && m->contact;
        if (readable)
            rc = s_contact_put(db, tenant, m->contact);
        if (m)
            FREE(contact_created, m);
    } else if (strcmp(type, "ContactUpdated") == 0) {
        Crm__Events__ContactUpdated *m = UNPACK(ContactUpdated, contact_updated);
        readable = m && m->contact;
        if (readable)
            rc = s_contact_put(db, tenant, m->contact);
        if (m)
            FREE(contact_updated, m);
    } else if (strcmp(type, "ContactDeleted") == 0) {
        Crm__Events__ContactDeleted *m = UNPACK(ContactDeleted, contact_deleted);
        readable = m != NULL;
        if (m) {
            rc = notify_recipient_store_deleted(db, tenant, m->contact_id);
            FREE(contact_deleted, m);
        }
    } else if (strcmp(type, "ContactMerged") == 0) {
        Crm__Events__ContactMerged *m = UNPACK(ContactMerged, contact_merged);
        readable = m != NULL;
        if (m) {
            rc = notify_recipient_store_merged(db, tenant, m->survivor_id,
                                               (const char *const *)m->merged_ids, m->n_merged_ids);
            FREE(contact_merged, m);
        }
    } else if (strcmp(type, "ContactErased") == 0) {
        Crm__Events__ContactErased *m = UNPACK(ContactErased, contact_erased);
        readable = m != NULL;
        if (m) {
            rc = notify_recipient_store_erase(db, tenant, m->contact_id);
            FREE(contact_erased, m);
        }
    } else if (strcmp(type, "ContactConsentChanged") == 0) {
        Crm__Events__ContactConsentChanged *m =
            UNPACK(ContactConsentChanged, contact_consent_changed);
        readable = m != NULL;
        const char *channel = m ? s_channel(m->channel) : NULL;
        const char *purpose = m ? s_purpose(m->purpose) : NULL;
        if (m && m->current && channel && purpose)
            rc = notify_recipient_store_consent(db, tenant, m->contact_id, channel, purpose,
                                                m->granted ? "granted" : "withdrawn");
        if (m)
            FREE(contact_consent_changed, m);
    } else if (strcmp(type, "ContactCommunicationRulesChanged") == 0) {
        Crm__Events__ContactCommunicationRulesChanged *m =
            UNPACK(ContactCommunicationRulesChanged, contact_communication_rules_changed);
        readable = m != NULL;
        if (m) {
            const Crm__Contacts__DoNotContact *dnc = m->do_not_contact;
            bool call = dnc && dnc->call_set_case && dnc->call;
            bool email = dnc && dnc->email_set_case && dnc->email;
            bool sms = dnc && dnc->sms_set_case && dnc->sms;
            bool mail = dnc && dnc->mail_set_case && dnc->mail;
            rc = notify_recipient_store_rules(db, tenant, m->contact_id, call, email, sms, mail,
                                              m->stop_follow_ups);
            FREE(contact_communication_rules_changed, m);
        }
    }
    if (!readable)
        return 1;
    return rc ? -1 : 0;
}

// --- leads -------------------------------------------------------------------------------

//  The placeholders a lead gives ({{lead.vehicle}}, ...), as the message's context.
static char *s_lead_context(const Crm__Leads__Lead *lead) {
    notify_values_t values;
    notify_values_init(&values);
    notify_values_from_lead(&values, lead);
    char *json = notify_values_to_json(&values);
    notify_values_reset(&values);
    return json;
}

//  Speed to lead: the auto-reply to a new lead's customer, when the tenant's setting for
//  its source says so.
static int s_speed_to_lead(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                           const Crm__Leads__Lead *lead) {
    if (!lead->contact_id[0])
        return 0;
    Crm__Notify__NotificationSettings *settings = NULL;
    if (notify_settings_store_load(db, event->tenant_id, &settings))
        return -1;
    char source[32];
    crm_enum_api_name(&crm__leads__lead_source__descriptor, (int)lead->source, source,
                      sizeof source);
    const Crm__Notify__SpeedToLead *rule = notify_settings_speed_to_lead(settings, source);
    int rc = 0;
    if (rule && rule->enabled) {
        char *context = s_lead_context(lead);
        //  The first channel and the other: the sender takes the first the customer
        //  may be sent (sender.c), so the key names neither.
        char key[200], due[40] = "";
        notify_message_key(key, sizeof key, "speed_to_lead", event->event_id, "first",
                           lead->contact_id);
        if (rule->delay_seconds) {
            time_t at = time(NULL) + (time_t)rule->delay_seconds;
            struct tm tm;
            gmtime_r(&at, &tm);
            strftime(due, sizeof due, "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        //  Stored on the SMS channel with the email as its fallback, unless the rule
        //  prefers email: the sender switches when the first is not permitted.
        bool email_first = rule->prefer == CRM__NOTIFY__CHANNEL__CHANNEL_EMAIL;
        json_t *ctx = json_loads(context, 0, NULL);
        json_object_set_new(ctx, "_fallback", json_string(email_first ? "sms" : "email"));
        json_object_set_new(ctx, "_smsTemplateId", json_string(rule->sms_template_id));
        json_object_set_new(ctx, "_emailTemplateId", json_string(rule->email_template_id));
        json_object_set_new(
            ctx, "_preferContact",
            json_boolean(rule->prefer == CRM__NOTIFY__CHANNEL__CHANNEL_UNSPECIFIED));
        char *ctx_text = json_dumps(ctx, JSON_COMPACT);
        json_decref(ctx);
        free(context);
        notify_enqueue_t e = {.tenant_id = event->tenant_id,
                              .key = key,
                              .contact_id = lead->contact_id,
                              .lead_id = lead->id,
                              .channel = email_first ? "email" : "sms",
                              .purpose = "follow_up",
                              .trigger = "speed_to_lead",
                              .context_json = ctx_text,
                              .automated = true,
                              .due_at = due[0] ? due : NULL,
                              .created_by = "notify"};
        char id[CRM_UUID_LEN + 1];
        rc = notify_message_store_enqueue(db, outbox, &e, id) < 0 ? -1 : 0;
        free(ctx_text);
    }
    crm__notify__notification_settings__free_unpacked(settings, NULL);
    return rc;
}

//  A staff alert (trigger lead_assigned or follow_up_due) to a team member: by email,
//  else by SMS (the sender reads the member's lines from the leads service).
static int s_staff_alert(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                         const char *trigger, const char *member_id, const char *lead_id,
                         const char *contact_id, const char *note) {
    if (!member_id[0])
        return 0;
    Crm__Notify__NotificationSettings *settings = NULL;
    if (notify_settings_store_load(db, event->tenant_id, &settings))
        return -1;
    bool on = strcmp(trigger, "lead_assigned") == 0 ? settings->lead_assigned_alerts
                                                    : settings->follow_up_reminders;
    crm__notify__notification_settings__free_unpacked(settings, NULL);
    if (!on)
        return 0;
    char key[200];
    notify_message_key(key, sizeof key, trigger, event->event_id, "first", member_id);
    json_t *ctx = json_pack("{s:s, s:s}", "_fallback", "sms", "_note", note ? note : "");
    char *ctx_text = json_dumps(ctx, JSON_COMPACT);
    json_decref(ctx);
    notify_enqueue_t e = {.tenant_id = event->tenant_id,
                          .key = key,
                          .contact_id = contact_id,
                          .lead_id = lead_id,
                          .member_id = member_id,
                          .channel = "email",
                          .purpose = "transactional",
                          .trigger = trigger,
                          .context_json = ctx_text,
                          .automated = false, // to staff: their own working hours
                          .created_by = "notify"};
    char id[CRM_UUID_LEN + 1];
    int rc = notify_message_store_enqueue(db, outbox, &e, id) < 0 ? -1 : 0;
    free(ctx_text);
    return rc;
}

int notify_follow_leads(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event, void *arg) {
    (void)arg;
    const uint8_t *data = event->payload.data;
    size_t size = event->payload.len;
    const char *tenant = event->tenant_id;
    const char *type = event->type;
    int rc = 0;
    bool readable = true;
    if (strcmp(type, "LeadCreated") == 0) {
        Crm__Events__LeadCreated *m = UNPACK(LeadCreated, lead_created);
        readable = m && m->lead;
        if (readable) {
            rc = notify_lead_store_put(db, tenant, m->lead->id, m->lead->contact_id,
                                       m->lead->assignee_id, m->lead->closed_at[0] == '\0');
            if (rc == 0)
                rc = s_speed_to_lead(db, outbox, event, m->lead);
        }
        if (m)
            FREE(lead_created, m);
    } else if (strcmp(type, "LeadUpdated") == 0) {
        Crm__Events__LeadUpdated *m = UNPACK(LeadUpdated, lead_updated);
        readable = m && m->lead;
        if (readable)
            rc = notify_lead_store_put(db, tenant, m->lead->id, m->lead->contact_id,
                                       m->lead->assignee_id, m->lead->closed_at[0] == '\0');
        if (m)
            FREE(lead_updated, m);
    } else if (strcmp(type, "LeadStatusChanged") == 0) {
        Crm__Events__LeadStatusChanged *m = UNPACK(LeadStatusChanged, lead_status_changed);
        readable = m != NULL;
        if (m) {
            bool open = m->to_outcome == CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_OPEN ||
                        m->to_outcome == CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_UNSPECIFIED;
            rc = notify_lead_store_open(db, tenant, m->lead_id, open);
            FREE(lead_status_changed, m);
        }
    } else if (strcmp(type, "LeadDeleted") == 0) {
        Crm__Events__LeadDeleted *m = UNPACK(LeadDeleted, lead_deleted);
        readable = m != NULL;
        if (m) {
            rc = notify_lead_store_open(db, tenant, m->lead_id, false);
            FREE(lead_deleted, m);
        }
    } else if (strcmp(type, "LeadAssigned") == 0) {
        Crm__Events__LeadAssigned *m = UNPACK(LeadAssigned, lead_assigned);
        readable = m != NULL;
        if (m) {
            rc = notify_lead_store_assignee(db, tenant, m->lead_id, m->assignee_id);
            char contact[CRM_UUID_LEN + 1] = "";
            if (rc == 0)
                rc = notify_lead_store_contact(db, tenant, m->lead_id, contact);
            //  Not when members assign themselves (the actor is the assignee).
            if (rc == 0 && strcmp(m->actor_id, m->assignee_id) != 0)
                rc = s_staff_alert(db, outbox, event, "lead_assigned", m->assignee_id, m->lead_id,
                                   contact, m->note);
            FREE(lead_assigned, m);
        }
    } else if (strcmp(type, "FollowUpDue") == 0) {
        Crm__Events__FollowUpDue *m = UNPACK(FollowUpDue, follow_up_due);
        readable = m != NULL;
        if (m) {
            rc = s_staff_alert(db, outbox, event, "follow_up_due", m->assignee_id, m->lead_id,
                               m->contact_id, m->note);
            FREE(follow_up_due, m);
        }
    }
    if (!readable)
        return 1;
    return rc ? -1 : 0;
}
