/*  follow: what the other services' events do to notify (the follows table in main.c;
    common/follower.c applies each event once, in order, inside a transaction of its
    own, with notify's inbox).

    contacts: each contact's copy (recipients: lines, address, preferred channel), its
    communication rules and consents, deletion, merges (the merged contacts' messages
    and inbound texts re-pointed to the survivor, remembered per merge) and their undo
    (pointed back, the restored contacts' copies put again), erasure (recipient_store.c).

    contacts' notes: ContactNoteAdded and ContactNoteEdited alert each team member the
    note (newly) @mentions, by handle (mention.c), when the tenant's mention_alerts is on.

    leads: each lead's contact, assignee and open state (leads), and the triggers:
    - LeadCreated: speed to lead, the auto-reply to the customer (the tenant's setting
      for the lead's source: on or off, templates, channel preference, delay). Queued
      here, on its channel "first" (the sender picks SMS or email by preference and
      permission, sender.c);
    - LeadAssigned: an alert to the assignee;
    - FollowUpDue: a reminder to the follow-up's assignee;
    - LeadActivityLogged of an appointment or test drive: the confirmation to the
      customer and the reminders 24 h and 2 h before, those of another time withdrawn
      when it moves and all when it is cancelled (appointment.c's plan; notify's copy of
      the appointment and the withdrawal in appointment_store.c); LeadDeleted withdraws
      the lead's.
    A trigger's message key is its event's id (a reminder's: its appointment, time and
    reminder; a mention's: its note revision and handle), so a replayed event queues
    nothing more. Rendering, permission and quiet hours are the sender's: it decides
    when the message goes out, with what it knows then.
*/
#include "notify.h"
#include "json_pb.h"
#include "log.h"
#include "mentions.h"

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

//  A mention alert to each handle a note's revision mentions (newly: an edit's
//  added_mentions), by email, else SMS; the sender finds the member by the handle.
static int s_mention_alerts(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                            const char *contact_id, const char *note_id, unsigned revision,
                            const char *author_id, const char *body, char *const *handles,
                            size_t n_handles) {
    if (n_handles == 0)
        return 0;
    Crm__Notify__NotificationSettings *settings = NULL;
    if (notify_settings_store_load(db, event->tenant_id, &settings))
        return -1;
    bool on = settings->mention_alerts;
    crm__notify__notification_settings__free_unpacked(settings, NULL);
    if (!on)
        return 0;
    char *excerpt = notify_mention_excerpt(body);
    json_t *ctx = json_pack("{s:s, s:s, s:s}", "_fallback", "sms", "_authorId", author_id,
                            notify_placeholders[NOTIFY_NOTE_EXCERPT].name, excerpt);
    char *ctx_text = json_dumps(ctx, JSON_COMPACT);
    json_decref(ctx);
    free(excerpt);
    int rc = 0;
    for (size_t i = 0; i < n_handles && rc == 0; i++) {
        if (!crm_mention_handle_valid(handles[i]))
            continue; // not one a member can have
        char key[300], member[CRM_MENTION_MAX_LEN + 2];
        notify_mention_key(key, sizeof key, note_id, revision, handles[i]);
        snprintf(member, sizeof member, "%c%s", NOTIFY_HANDLE_PREFIX, handles[i]);
        notify_enqueue_t e = {.tenant_id = event->tenant_id,
                              .key = key,
                              .contact_id = contact_id,
                              .member_id = member,
                              .channel = "email",
                              .purpose = "transactional",
                              .trigger = "mention",
                              .context_json = ctx_text,
                              .automated = false, // to staff: their own working hours
                              .created_by = "notify"};
        char id[CRM_UUID_LEN + 1];
        rc = notify_message_store_enqueue(db, outbox, &e, id) < 0 ? -1 : 0;
    }
    free(ctx_text);
    return rc;
}

#define UNPACK(type, name) crm__events__##name##__unpack(NULL, size, data)
#define FREE(name, m) crm__events__##name##__free_unpacked(m, NULL)

int notify_follow_contacts(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event, void *arg) {
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
                                               (const char *const *)m->merged_ids, m->n_merged_ids,
                                               m->merge_id);
            FREE(contact_merged, m);
        }
    } else if (strcmp(type, "ContactUnmerged") == 0) {
        Crm__Events__ContactUnmerged *m = UNPACK(ContactUnmerged, contact_unmerged);
        readable = m != NULL;
        if (m) {
            rc = notify_recipient_store_unmerged(db, tenant, m->merge_id, m->survivor_id,
                                                 (const char *const *)m->restored_ids,
                                                 m->n_restored_ids);
            for (size_t i = 0; rc == 0 && i < m->n_restored; i++)
                rc = s_contact_put(db, tenant, m->restored[i]);
            FREE(contact_unmerged, m);
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
    } else if (strcmp(type, "ContactNoteAdded") == 0) {
        Crm__Events__ContactNoteAdded *m = UNPACK(ContactNoteAdded, contact_note_added);
        readable = m != NULL;
        if (m) {
            rc = s_mention_alerts(db, outbox, event, m->contact_id, m->note_id, 1, m->author_id,
                                  m->body, m->mentions, m->n_mentions);
            FREE(contact_note_added, m);
        }
    } else if (strcmp(type, "ContactNoteEdited") == 0) {
        Crm__Events__ContactNoteEdited *m = UNPACK(ContactNoteEdited, contact_note_edited);
        readable = m != NULL;
        if (m) {
            rc = s_mention_alerts(db, outbox, event, m->contact_id, m->note_id, m->revision,
                                  m->editor_id, m->body, m->added_mentions, m->n_added_mentions);
            FREE(contact_note_edited, m);
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

//  One appointment message to the customer (confirmation or reminder), on SMS with email
//  as its fallback (the sender switches when SMS is not permitted), transactional and
//  automated (quiet hours apply to the text). base: the context every message of the
//  appointment carries; builtin: the text when the tenant gave none.
static int s_appointment_message(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                                 const Crm__Events__LeadActivityLogged *m, const char *key,
                                 const char *trigger, const char *builtin, json_t *base,
                                 int64_t due_ms) {
    json_t *ctx = json_deep_copy(base);
    json_object_set_new(ctx, "_builtin", json_string(builtin));
    char *ctx_text = json_dumps(ctx, JSON_COMPACT);
    json_decref(ctx);
    char due[NOTIFY_TIME_TEXT];
    if (due_ms)
        notify_time_text(due_ms, due);
    notify_enqueue_t e = {.tenant_id = event->tenant_id,
                          .key = key,
                          .contact_id = m->contact_id,
                          .lead_id = m->lead_id,
                          .channel = "sms",
                          .purpose = "transactional",
                          .trigger = trigger,
                          .context_json = ctx_text,
                          .automated = true,
                          .due_at = due_ms ? due : NULL,
                          .created_by = "notify"};
    char id[CRM_UUID_LEN + 1];
    int rc = notify_message_store_enqueue(db, outbox, &e, id) < 0 ? -1 : 0;
    free(ctx_text);
    return rc;
}

static int64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  An appointment's or test drive's event: notify's copy kept, the messages it no longer
//  needs withdrawn, the new ones queued (appointment.c decides which).
static int s_appointment(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                         const Crm__Events__LeadActivityLogged *m) {
    const char *tenant = event->tenant_id;
    int64_t at_ms;
    if (notify_time_parse(m->occurred_at, &at_ms))
        return 1;
    at_ms -= at_ms % 1000; // to the second, as kept
    notify_appointment_state_t before,
        now = {
            .known = true, .at_ms = at_ms, .scheduled = notify_appointment_scheduled(m->outcome)};
    char at[NOTIFY_TIME_TEXT];
    notify_time_text(at_ms, at);
    if (notify_appointment_store_get(db, tenant, m->activity_id, &before) ||
        notify_appointment_store_put(db, tenant, m->activity_id, m->lead_id, at, m->outcome))
        return -1;
    notify_appointment_plan_t plan;
    notify_appointment_plan(&before, &now, m->outcome, m->changed, m->n_changed, s_now_ms(), &plan);
    bool ended = plan.change == NOTIFY_APPOINTMENT_ENDED;
    const char *what = strcmp(m->kind, "test_drive") == 0 ? "test drive" : "appointment";
    char detail[120];
    if (!ended)
        snprintf(detail, sizeof detail, "the %s moved to %s", what, at);
    else if (strcmp(m->outcome, "completed") == 0)
        snprintf(detail, sizeof detail, "the %s took place", what);
    else if (strcmp(m->outcome, "no_show") == 0)
        snprintf(detail, sizeof detail, "the customer missed the %s", what);
    else
        snprintf(detail, sizeof detail, "the %s was cancelled", what);
    if (notify_appointment_store_cancel(db, tenant, m->lead_id, m->activity_id, ended ? "" : at,
                                        plan.cancel_reason, detail))
        return -1;
    bool reminders = false;
    for (int i = 0; i < NOTIFY_REMINDERS; i++)
        reminders |= plan.reminder_due_ms[i] != 0;
    if (!m->contact_id[0] || (!plan.confirm && !reminders))
        return 0;
    Crm__Notify__NotificationSettings *settings = NULL;
    if (notify_settings_store_load(db, tenant, &settings))
        return -1;
    bool on = settings->appointment_messages;
    crm__notify__notification_settings__free_unpacked(settings, NULL);
    if (!on)
        return 0;
    //  What every message of it carries: the fallback, the appointment (to withdraw and
    //  to render it), and the placeholders the event gives.
    char vehicle[256];
    notify_vehicle_text(m->vehicle, vehicle, sizeof vehicle);
    json_t *base =
        json_pack("{s:s, s:s, s:s, s:s}", "_fallback", "email", "_activityId", m->activity_id,
                  "_appointmentAt", at, notify_placeholders[NOTIFY_APPOINTMENT_KIND].name, what);
    if (vehicle[0])
        json_object_set_new(base, notify_placeholders[NOTIFY_LEAD_VEHICLE].name,
                            json_string(vehicle));
    int rc = 0;
    if (plan.confirm) {
        char key[300];
        notify_message_key(key, sizeof key, "appointment_confirmation", event->event_id, "first",
                           m->contact_id);
        rc = s_appointment_message(db, outbox, event, m, key, "appointment_confirmation",
                                   plan.change == NOTIFY_APPOINTMENT_MOVED
                                       ? "appointment_moved"
                                       : "appointment_confirmation",
                                   base, 0);
    }
    for (int i = 0; i < NOTIFY_REMINDERS && rc == 0; i++) {
        if (!plan.reminder_due_ms[i])
            continue;
        char key[300];
        notify_appointment_reminder_key(key, sizeof key, m->activity_id, at_ms,
                                        notify_reminders[i].name, m->contact_id);
        rc = s_appointment_message(db, outbox, event, m, key, "appointment_reminder",
                                   "appointment_reminder", base, plan.reminder_due_ms[i]);
    }
    json_decref(base);
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
            if (rc == 0)
                rc = notify_appointment_store_cancel(db, tenant, m->lead_id, "", "", "lead_deleted",
                                                     "the lead was deleted");
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
    } else if (strcmp(type, "LeadActivityLogged") == 0) {
        Crm__Events__LeadActivityLogged *m = UNPACK(LeadActivityLogged, lead_activity_logged);
        readable = m != NULL;
        if (m && (strcmp(m->kind, "appointment") == 0 || strcmp(m->kind, "test_drive") == 0)) {
            int applied = s_appointment(db, outbox, event, m);
            readable = applied != 1;
            rc = applied < 0 ? -1 : 0;
        }
        if (m)
            FREE(lead_activity_logged, m);
    }
    if (!readable)
        return 1;
    return rc ? -1 : 0;
}
