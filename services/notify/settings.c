/*  settings: a dealership's notification settings (NotificationSettings): the rules of a
    valid one, what a tenant that never set them gets, and which speed-to-lead entry a
    lead's source takes. No database, no bus.

    Defaults: quiet hours 08:00-21:00 (the law's stricter windows apply whatever is set),
    the time zone notify.time_zone, speed to lead listed for chat, web form and
    third-party leads but off (no customer is texted before the dealership has turned it
    on and seen its words; sender.c's built-in texts until it sets templates), appointment
    confirmations and reminders off for the same reason, staff alerts on, the daily cap
   notify.daily_cap, senders from the provider account.
*/
#include "notify.h"
#include "json_pb.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define HELP_TEXT_MAX 320
#define NAME_MAX_CHARS 100
#define DELAY_MAX_SECONDS 86400

static const char *const s_default_sources[] = {"chat", "web_form", "third_party"};

Crm__Notify__NotificationSettings *notify_settings_default(void) {
    Crm__Notify__NotificationSettings *s = calloc(1, sizeof *s);
    crm__notify__notification_settings__init(s);
    s->quiet_hours = calloc(1, sizeof *s->quiet_hours);
    crm__notify__quiet_hours__init(s->quiet_hours);
    crm_pb_string_set(&s->quiet_hours->start, "08:00");
    crm_pb_string_set(&s->quiet_hours->end, "21:00");
    size_t n = sizeof s_default_sources / sizeof s_default_sources[0];
    s->speed_to_lead = calloc(n, sizeof *s->speed_to_lead);
    for (size_t i = 0; i < n; i++) {
        Crm__Notify__SpeedToLead *entry = calloc(1, sizeof *entry);
        crm__notify__speed_to_lead__init(entry);
        crm_pb_string_set(&entry->source, s_default_sources[i]);
        entry->enabled = false;
        s->speed_to_lead[s->n_speed_to_lead++] = entry;
    }
    s->lead_assigned_alerts = true;
    s->follow_up_reminders = true;
    s->mention_alerts = true;
    s->appointment_messages = false; // to customers: off until turned on, as speed to lead
    return s;
}

//  "HH:MM" (00:00 to 24:00) as minutes, or -1.
int notify_settings_minutes(const char *text) {
    if (strlen(text) != 5 || text[2] != ':' || !isdigit((unsigned char)text[0]) ||
        !isdigit((unsigned char)text[1]) || !isdigit((unsigned char)text[3]) ||
        !isdigit((unsigned char)text[4]))
        return -1;
    int h = (text[0] - '0') * 10 + (text[1] - '0'), m = (text[3] - '0') * 10 + (text[4] - '0');
    if (h > 24 || m > 59 || (h == 24 && m))
        return -1;
    return h * 60 + m;
}

static bool s_sms_sender(const char *from) {
    if (strncmp(from, "MG", 2) == 0) { // a Messaging Service: MG + 32 hex digits
        if (strlen(from) != 34)
            return false;
        for (const char *p = from + 2; *p; p++)
            if (!isxdigit((unsigned char)*p))
                return false;
        return true;
    }
    if (from[0] != '+' || strlen(from) < 8 || strlen(from) > 16)
        return false;
    for (const char *p = from + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    return true;
}

//  "Name <a@b>" or "a@b": one @, no line breaks, no angle brackets but the pair.
bool notify_settings_mailbox_valid(const char *text) {
    if (strpbrk(text, "\r\n"))
        return false;
    const char *open = strchr(text, '<');
    const char *addr = open ? open + 1 : text;
    const char *close = strchr(addr, '>');
    if (open ? !close || close[1] : strchr(text, '>') != NULL)
        return false;
    size_t len = open ? (size_t)(close - addr) : strlen(addr);
    const char *at = memchr(addr, '@', len);
    return at && at > addr && at < addr + len - 1 &&
           !memchr(at + 1, '@', len - (size_t)(at - addr) - 1) && !memchr(addr, ' ', len);
}

int notify_settings_check(const Crm__Notify__NotificationSettings *s, crm_errors_t *errors) {
    if (s->quiet_hours) {
        int start = s->quiet_hours->start[0] ? notify_settings_minutes(s->quiet_hours->start) : 480;
        int end = s->quiet_hours->end[0] ? notify_settings_minutes(s->quiet_hours->end) : 1260;
        if (start < 0)
            crm_errors_add(errors, "quietHours.start", "is not a time of day (HH:MM)");
        if (end < 0)
            crm_errors_add(errors, "quietHours.end", "is not a time of day (HH:MM)");
        if (start >= 0 && end >= 0 && start >= end)
            crm_errors_add(errors, "quietHours.end", "must be after quietHours.start");
    }
    for (size_t i = 0; i < s->n_speed_to_lead; i++) {
        const Crm__Notify__SpeedToLead *e = s->speed_to_lead[i];
        char field[64];
        snprintf(field, sizeof field, "speedToLead[%zu].source", i);
        if (!e->source[0])
            crm_errors_add(errors, field, "is required: a lead source, or * for every other");
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->speed_to_lead[j]->source, e->source) == 0)
                crm_errors_add(errors, field, "is given twice");
        snprintf(field, sizeof field, "speedToLead[%zu].smsTemplateId", i);
        if (e->sms_template_id[0] && !crm_uuid_valid(e->sms_template_id))
            crm_errors_add(errors, field, "is not a template id");
        snprintf(field, sizeof field, "speedToLead[%zu].emailTemplateId", i);
        if (e->email_template_id[0] && !crm_uuid_valid(e->email_template_id))
            crm_errors_add(errors, field, "is not a template id");
        snprintf(field, sizeof field, "speedToLead[%zu].delaySeconds", i);
        if (e->delay_seconds > DELAY_MAX_SECONDS)
            crm_errors_add(errors, field, "must be at most %d", DELAY_MAX_SECONDS);
    }
    if (s->daily_cap > 100000000)
        crm_errors_add(errors, "dailyCap", "must be at most 100000000");
    if (s->sms_from[0] && !s_sms_sender(s->sms_from))
        crm_errors_add(errors, "smsFrom",
                       "is not a sender: an E.164 number (+15551234567) or a MessagingServiceSid");
    if (s->mail_from[0] && !notify_settings_mailbox_valid(s->mail_from))
        crm_errors_add(errors, "mailFrom", "is not an address (Name <sales@dealer.example>)");
    if (s->reply_to[0] && !notify_settings_mailbox_valid(s->reply_to))
        crm_errors_add(errors, "replyTo", "is not an address");
    if (notify_utf8_length(s->help_text) > HELP_TEXT_MAX)
        crm_errors_add(errors, "helpText", "must be at most %d characters", HELP_TEXT_MAX);
    if (notify_utf8_length(s->dealership_name) > NAME_MAX_CHARS)
        crm_errors_add(errors, "dealershipName", "must be at most %d characters", NAME_MAX_CHARS);
    if (strpbrk(s->dealership_name, "\r\n"))
        crm_errors_add(errors, "dealershipName", "must be one line");
    return errors->n ? -1 : 0;
}

//  The speed-to-lead entry of a lead source: its own, else "*"'s, else NULL (none).
const Crm__Notify__SpeedToLead *
notify_settings_speed_to_lead(const Crm__Notify__NotificationSettings *s, const char *source) {
    const Crm__Notify__SpeedToLead *any = NULL;
    for (size_t i = 0; i < s->n_speed_to_lead; i++) {
        if (strcmp(s->speed_to_lead[i]->source, source) == 0)
            return s->speed_to_lead[i];
        if (strcmp(s->speed_to_lead[i]->source, "*") == 0)
            any = s->speed_to_lead[i];
    }
    return any;
}

//  current with the fields of req's mask replaced by req's (a field the mask names and
//  the body leaves out goes back to its default). NULL with errors on a bad mask.
Crm__Notify__NotificationSettings *
notify_settings_apply(const Crm__Notify__NotificationSettings *current,
                      const Crm__Notify__UpdateNotificationSettingsRequest *req,
                      crm_errors_t *errors) {
    json_t *now = crm_pb_to_json_value(&current->base);
    json_t *in = req->settings ? crm_pb_to_json_value(&req->settings->base) : json_object();
    for (size_t i = 0; i < req->n_update_mask; i++) {
        const char *name = req->update_mask[i];
        const ProtobufCFieldDescriptor *field =
            crm_pb_field_by_name(&crm__notify__notification_settings__descriptor, name);
        if (!field || strcmp(field->name, "updated_at") == 0) {
            crm_errors_add(errors, name, "is not a setting");
            continue;
        }
        char json_name[64]; // the field's JSON name: quiet_hours is quietHours
        size_t n = 0;
        for (const char *p = field->name; *p && n + 1 < sizeof json_name; p++)
            json_name[n++] = p[0] == '_' && p[1] ? (char)toupper((unsigned char)*++p) : *p;
        json_name[n] = '\0';
        json_t *value = json_object_get(in, json_name);
        if (value)
            json_object_set(now, json_name, value);
        else
            json_object_del(now, json_name);
    }
    Crm__Notify__NotificationSettings *out = NULL;
    if (!errors->n) {
        crm_json_error_t err;
        out = (Crm__Notify__NotificationSettings *)crm_json_value_to_pb(
            &crm__notify__notification_settings__descriptor, now, "", &err);
        if (!out)
            crm_errors_add(errors, err.field, "%s", err.message);
    }
    json_decref(now);
    json_decref(in);
    return out;
}
