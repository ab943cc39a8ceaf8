/*  campaign: a campaign's rules (no database, no bus): what a new campaign must hold (an
    email template of purpose marketing; its recipients by id or by a filter, exactly one
    of the two; the limits), who may start or cancel one, and the key of each of its
    messages. campaign_store.c holds the SQL, campaign_methods.c the methods,
    campaign_job.c the job that queues the recipients; tests/unit/test_notify_campaign.c
    states the rules.
*/
#include "notify.h"
#include "ids.h"
#include "json_pb.h"
#include "validate.h"

#include <stdio.h>
#include <string.h>

int notify_campaign_check(Crm__Notify__Campaign *c, crm_errors_t *errors) {
    crm_text_trim(c->name);
    if (crm_utf8_chars(c->name) > NOTIFY_CAMPAIGN_NAME_MAX)
        crm_errors_add(errors, "name", "must be at most %d characters", NOTIFY_CAMPAIGN_NAME_MAX);
    if (!c->template_id[0])
        crm_errors_add(errors, "templateId", "is required: an email template of purpose marketing");
    else if (!crm_uuid_valid(c->template_id))
        crm_errors_add(errors, "templateId", "is not a template id");
    if (c->n_contact_ids && c->filter)
        crm_errors_add(errors, "filter", "cannot be given with contactIds: choose one");
    if (!c->n_contact_ids && !c->filter)
        crm_errors_add(errors, "contactIds", "or a filter is required");
    if (c->n_contact_ids > NOTIFY_CAMPAIGN_IDS_MAX)
        crm_errors_add(errors, "contactIds", "may hold at most %d ids (use a filter)",
                       NOTIFY_CAMPAIGN_IDS_MAX);
    for (size_t i = 0; i < c->n_contact_ids && i < NOTIFY_CAMPAIGN_IDS_MAX; i++)
        if (!crm_uuid_valid(c->contact_ids[i])) {
            char field[32];
            snprintf(field, sizeof field, "contactIds[%zu]", i);
            crm_errors_add(errors, field, "is not a contact id");
        }
    if (c->filter) {
        //  The job pages through the list itself.
        c->filter->limit = 0;
        crm_pb_string_set(&c->filter->cursor, "");
    }
    return errors->n ? -1 : 0;
}

int notify_campaign_check_template(const Crm__Notify__Template *t, crm_errors_t *errors) {
    if (!t)
        crm_errors_add(errors, "templateId", "is not a template of this dealership");
    else if (t->channel != CRM__NOTIFY__CHANNEL__CHANNEL_EMAIL)
        crm_errors_add(errors, "templateId", "must be an email template: campaigns are email");
    else if (t->purpose != CRM__NOTIFY__PURPOSE__PURPOSE_MARKETING)
        crm_errors_add(errors, "templateId",
                       "must be a template of purpose marketing: a campaign is marketing, "
                       "sent only to the contacts who consented");
    return errors->n ? -1 : 0;
}

bool notify_campaign_may_manage(const char *role) {
    return strcmp(role, "admin") == 0 || strcmp(role, "manager") == 0;
}

void notify_campaign_message_key(char *out, size_t size, const char *campaign_id,
                                 const char *contact_id) {
    notify_message_key(out, size, "campaign", campaign_id, "email", contact_id);
}
