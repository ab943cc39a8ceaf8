/*  recipient: what notify keeps of a contact, made from the contacts events' Contact.

    Only what sending needs: the names (for placeholders), the lines (emails with their
    consent flag, phones with their SMS opt-in and rank), where the contact lives (for
    quiet hours) and the preferred channel. The communication rules (do-not-contact,
    stop-follow-ups, consents) come from their own events (follow.c) and are not here.
*/
#include "notify.h"

#include <assert.h>
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

//  The address quiet hours read: the primary one, else the first.
static const Crm__Contacts__Address *s_home(const Crm__Contacts__Contact *contact) {
    for (size_t i = 0; i < contact->n_addresses; i++)
        if (contact->addresses[i]->primary)
            return contact->addresses[i];
    return contact->n_addresses ? contact->addresses[0] : NULL;
}

static const char *s_preferred(Crm__Contacts__PreferredChannel channel) {
    switch (channel) {
    case CRM__CONTACTS__PREFERRED_CHANNEL__PREFERRED_CHANNEL_SMS:
        return "sms";
    case CRM__CONTACTS__PREFERRED_CHANNEL__PREFERRED_CHANNEL_EMAIL:
        return "email";
    case CRM__CONTACTS__PREFERRED_CHANNEL__PREFERRED_CHANNEL_PHONE:
        return "phone";
    default:
        return "";
    }
}

void notify_recipient_from_contact(notify_recipient_row_t *row,
                                   const Crm__Contacts__Contact *contact) {
    memset(row, 0, sizeof *row);
    row->contact_id = contact->id;
    row->first_name = contact->first_name;
    row->last_name = contact->last_name;
    row->display_name = contact->name;
    json_t *emails = json_array();
    for (size_t i = 0; i < contact->n_emails; i++) {
        const Crm__Contacts__Email *e = contact->emails[i];
        json_array_append_new(emails, json_pack("{s:s, s:b, s:b}", "address", e->address, "primary",
                                                e->primary, "consent", e->consent));
    }
    json_t *phones = json_array();
    for (size_t i = 0; i < contact->n_phones; i++) {
        const Crm__Contacts__Phone *p = contact->phones[i];
        json_array_append_new(phones,
                              json_pack("{s:s, s:b, s:i, s:b}", "number", p->number, "sms", p->sms,
                                        "rank", (int)p->sms_rank, "primary", p->primary));
    }
    row->emails_json = json_dumps(emails, JSON_COMPACT);
    row->phones_json = json_dumps(phones, JSON_COMPACT);
    json_decref(emails);
    json_decref(phones);
    const Crm__Contacts__Address *home = s_home(contact);
    row->region = home ? home->region : "";
    row->country = home ? home->country : "";
    row->preferred = s_preferred(contact->preferred_channel);
}

void notify_recipient_row_reset(notify_recipient_row_t *row) {
    free(row->emails_json);
    free(row->phones_json);
    memset(row, 0, sizeof *row);
}

// --- notify_contact_t: a contact's facts as the permission reads them ---------------------

static bool s_true(const char *text) {
    return text[0] == 't';
}

static char *s_dup(const char *text) {
    return strdup(text ? text : "");
}

static bool s_in(json_t *array, const char *text) {
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        if (json_is_string(item) && strcmp(json_string_value(item), text) == 0)
            return true;
    }
    return false;
}

static Crm__Contacts__ConsentStatus s_consent(json_t *consents, const char *key) {
    const char *status = json_string_value(json_object_get(consents, key));
    if (status && strcmp(status, "granted") == 0)
        return CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_GRANTED;
    if (status && strcmp(status, "withdrawn") == 0)
        return CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_WITHDRAWN;
    return CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_UNKNOWN;
}

notify_contact_t *notify_contact_new(const char *contact_id, const char *const *cols) {
    notify_contact_t *self = calloc(1, sizeof *self);
    assert(self);
    self->contact_id = s_dup(contact_id);
    self->erased = s_true(cols[0]);
    self->deleted = s_true(cols[1]);
    self->dnc_call = s_true(cols[2]);
    self->dnc_email = s_true(cols[3]);
    self->dnc_sms = s_true(cols[4]);
    self->dnc_mail = s_true(cols[5]);
    self->stop_follow_ups = s_true(cols[6]);
    json_t *consents = json_loads(cols[7], 0, NULL);
    self->email_marketing = s_consent(consents, "email:marketing");
    self->sms_marketing = s_consent(consents, "sms:marketing");
    json_decref(consents);
    //  The lines' texts stay in these two documents, which the contact keeps.
    self->emails_doc = json_loads(cols[8], 0, NULL);
    self->phones_doc = json_loads(cols[9], 0, NULL);
    self->region = s_dup(cols[10]);
    self->country = s_dup(cols[11]);
    self->preferred = s_dup(cols[12]);
    self->first_name = s_dup(cols[13]);
    self->last_name = s_dup(cols[14]);
    self->display_name = s_dup(cols[15]);
    json_t *opted_out = json_loads(cols[16], 0, NULL);
    json_t *unsubscribed = json_loads(cols[17], 0, NULL);
    size_t n = json_array_size(self->phones_doc);
    self->phones = calloc(n + 1, sizeof *self->phones);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(self->phones_doc, i);
        const char *number = json_string_value(json_object_get(p, "number"));
        if (!number)
            continue;
        notify_permission_phone_t *line = &self->phones[self->n_phones++];
        line->number = number;
        line->sms = json_is_true(json_object_get(p, "sms"));
        line->sms_rank = (uint32_t)json_integer_value(json_object_get(p, "rank"));
        line->opted_out = s_in(opted_out, number);
    }
    n = json_array_size(self->emails_doc);
    self->emails = calloc(n + 1, sizeof *self->emails);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(self->emails_doc, i);
        const char *address = json_string_value(json_object_get(e, "address"));
        if (!address)
            continue;
        notify_permission_email_t *line = &self->emails[self->n_emails++];
        line->address = address;
        line->primary = json_is_true(json_object_get(e, "primary"));
        line->consent = json_is_true(json_object_get(e, "consent"));
        char lower[320];
        size_t k = 0;
        for (; address[k] && k + 1 < sizeof lower; k++)
            lower[k] = (char)tolower((unsigned char)address[k]);
        lower[k] = '\0';
        line->unsubscribed = s_in(unsubscribed, lower);
    }
    json_decref(opted_out);
    json_decref(unsubscribed);
    return self;
}

void notify_contact_destroy(notify_contact_t **self_p) {
    assert(self_p);
    notify_contact_t *self = *self_p;
    if (!self)
        return;
    free(self->contact_id);
    free(self->region);
    free(self->country);
    free(self->preferred);
    free(self->first_name);
    free(self->last_name);
    free(self->display_name);
    free(self->phones);
    free(self->emails);
    json_decref(self->emails_doc);
    json_decref(self->phones_doc);
    free(self);
    *self_p = NULL;
}

void notify_contact_view(const notify_contact_t *self, notify_permission_recipient_t *out) {
    memset(out, 0, sizeof *out);
    out->erased = self->erased;
    out->do_not_contact.call = self->dnc_call;
    out->do_not_contact.email = self->dnc_email;
    out->do_not_contact.sms = self->dnc_sms;
    out->do_not_contact.mail = self->dnc_mail;
    out->stop_follow_ups = self->stop_follow_ups;
    out->email_marketing = self->email_marketing;
    out->sms_marketing = self->sms_marketing;
    out->phones = self->phones;
    out->phone_count = self->n_phones;
    out->emails = self->emails;
    out->email_count = self->n_emails;
}

bool notify_contact_decide(const notify_contact_t *self, Crm__Notify__Channel channel,
                           Crm__Notify__Purpose purpose, int after_line,
                           notify_permission_t *decision) {
    notify_permission_recipient_t view;
    notify_contact_view(self, &view);
    return notify_permission_next_line(&view, channel, purpose, after_line, decision);
}

void notify_values_from_contact_facts(notify_values_t *values, const notify_contact_t *self) {
    notify_values_set(values, NOTIFY_CONTACT_FIRST_NAME, self->first_name);
    notify_values_set(values, NOTIFY_CONTACT_LAST_NAME, self->last_name);
    notify_values_set(values, NOTIFY_CONTACT_NAME, self->display_name);
    if (self->n_emails)
        notify_values_set(values, NOTIFY_CONTACT_EMAIL, self->emails[0].address);
    if (self->n_phones)
        notify_values_set(values, NOTIFY_CONTACT_PHONE, self->phones[0].number);
}
