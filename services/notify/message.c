/*  message: a message's rules (no database, no bus): what a salesperson's one-off
    message must hold, the key that makes a trigger's message one message however often
    the trigger fires, the names of statuses, and when a failed attempt is tried again.
*/
#include "notify.h"
#include "ids.h"
#include "json_pb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UTF8_CHARS(s) notify_utf8_length(s)

size_t notify_utf8_length(const char *text) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if ((*p & 0xC0) != 0x80)
            n++;
    return n;
}

int notify_message_check_send(Crm__Notify__Message *m, crm_errors_t *errors) {
    if (!m->contact_id[0])
        crm_errors_add(errors, "contactId", "is required");
    else if (!crm_uuid_valid(m->contact_id))
        crm_errors_add(errors, "contactId", "is not a contact id");
    if (m->lead_id[0] && !crm_uuid_valid(m->lead_id))
        crm_errors_add(errors, "leadId", "is not a lead id");
    if (m->member_id[0])
        crm_errors_add(errors, "memberId",
                       "cannot be set: messages to team members are sent by "
                       "their alerts");
    if (m->channel != CRM__NOTIFY__CHANNEL__CHANNEL_SMS &&
        m->channel != CRM__NOTIFY__CHANNEL__CHANNEL_EMAIL)
        crm_errors_add(errors, "channel", "is required: sms or email");
    if (m->purpose == CRM__NOTIFY__PURPOSE__PURPOSE_UNSPECIFIED)
        m->purpose = CRM__NOTIFY__PURPOSE__PURPOSE_TRANSACTIONAL;
    bool sms = m->channel == CRM__NOTIFY__CHANNEL__CHANNEL_SMS;
    if (m->template_id[0]) {
        if (!crm_uuid_valid(m->template_id))
            crm_errors_add(errors, "templateId", "is not a template id");
        if (m->subject[0] || m->body_text[0] || m->body_html[0])
            crm_errors_add(errors, "templateId",
                           "is given with a text: give a template or the text, not both");
    } else {
        if (!m->body_text[0])
            crm_errors_add(errors, "bodyText", "is required when no templateId is given");
        else if (sms && UTF8_CHARS(m->body_text) > NOTIFY_TEMPLATE_SMS_MAX)
            crm_errors_add(errors, "bodyText", "must be at most %d characters for sms",
                           NOTIFY_TEMPLATE_SMS_MAX);
        else if (UTF8_CHARS(m->body_text) > NOTIFY_TEMPLATE_BODY_MAX)
            crm_errors_add(errors, "bodyText", "must be at most %d characters",
                           NOTIFY_TEMPLATE_BODY_MAX);
        if (sms && (m->subject[0] || m->body_html[0]))
            crm_errors_add(errors, m->subject[0] ? "subject" : "bodyHtml", "is for email only");
        if (!sms && !m->subject[0])
            crm_errors_add(errors, "subject", "is required for email when no templateId is given");
        else if (UTF8_CHARS(m->subject) > NOTIFY_TEMPLATE_SUBJECT_MAX)
            crm_errors_add(errors, "subject", "must be at most %d characters",
                           NOTIFY_TEMPLATE_SUBJECT_MAX);
        if (UTF8_CHARS(m->body_html) > NOTIFY_TEMPLATE_BODY_MAX)
            crm_errors_add(errors, "bodyHtml", "must be at most %d characters",
                           NOTIFY_TEMPLATE_BODY_MAX);
    }
    //  The placeholders of a text given directly are checked as a template's are.
    notify_template_scan(m->subject, "subject", errors);
    notify_template_scan(m->body_text, "bodyText", errors);
    notify_template_scan(m->body_html, "bodyHtml", errors);
    return errors->n ? -1 : 0;
}

void notify_message_key(char *out, size_t size, const char *trigger, const char *source_id,
                        const char *channel, const char *recipient) {
    snprintf(out, size, "%s:%s:%s:%s", trigger, source_id, channel, recipient);
}

long notify_retry_delay_ms(int attempts, int base_ms, int retry_after_ms, uint32_t random) {
    //  base, 2 base, 4 base, ... (capped at an hour), each between half and all of it
    //  (full jitter would let two retries bunch at zero).
    long delay = base_ms;
    for (int i = 1; i < attempts && delay < 3600000L; i++)
        delay *= 2;
    if (delay > 3600000L)
        delay = 3600000L;
    delay = delay / 2 + (long)(random % (uint32_t)(delay / 2 + 1));
    return retry_after_ms > delay ? retry_after_ms : delay;
}
