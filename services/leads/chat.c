/*  chat: the rules of a lead from a website chat (no database, no call): the request
    made into the lead it describes (contact not yet known) and the chat activity its
    transcript becomes, everything it carries checked: the lead's fields (as a created
    lead's, same names), the transcript (as a chat activity's), the visitor (an email or
    a phone), the chat id. chat_store.c holds the chats' SQL, chat_methods.c the method
    and its calls to the contacts service; unit-tested in tests/unit/test_leads_chat.c.
*/
#include "leads.h"
#include "json_pb.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAT_ID_MAX_LEN 128

//  A placeholder contact id for checking the lead's fields before its contact is known.
#define S_NO_CONTACT_YET "00000000-0000-7000-8000-000000000000"

//  The lead the request describes (caller frees), contact not yet known.
static Crm__Leads__Lead *s_lead_of(const Crm__Leads__CreateLeadFromChatRequest *req) {
    Crm__Leads__Lead draft = CRM__LEADS__LEAD__INIT;
    draft.contact_id = S_NO_CONTACT_YET;
    draft.vehicle = req->vehicle;
    draft.budget_min_cents = req->budget_min_cents;
    draft.budget_max_cents = req->budget_max_cents;
    draft.timeline = req->timeline;
    draft.source = CRM__LEADS__LEAD_SOURCE__LEAD_SOURCE_CHAT;
    draft.priority = req->priority;
    draft.assignee_id = req->assignee_id;
    draft.postcode = req->postcode;
    draft.region = req->region;
    Crm__Leads__Lead__CustomFieldsEntry *entries =
        calloc(req->n_custom_fields + 1, sizeof *entries);
    Crm__Leads__Lead__CustomFieldsEntry **fields = calloc(req->n_custom_fields + 1, sizeof *fields);
    for (size_t i = 0; i < req->n_custom_fields; i++) {
        crm__leads__lead__custom_fields_entry__init(&entries[i]);
        entries[i].key = req->custom_fields[i]->key;
        entries[i].value = req->custom_fields[i]->value;
        fields[i] = &entries[i];
    }
    draft.custom_fields = fields;
    draft.n_custom_fields = req->n_custom_fields;
    Crm__Leads__Lead *lead = (Crm__Leads__Lead *)crm_pb_copy(&draft.base);
    free(fields);
    free(entries);
    return lead;
}

//  The chat activity the transcript becomes (caller frees).
static Crm__Leads__Activity *s_activity_of(const Crm__Leads__CreateLeadFromChatRequest *req) {
    Crm__Leads__Activity draft = CRM__LEADS__ACTIVITY__INIT;
    draft.kind = CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_CHAT;
    draft.transcript = req->transcript;
    draft.n_transcript = req->n_transcript;
    draft.notes = req->notes;
    return (Crm__Leads__Activity *)crm_pb_copy(&draft.base);
}

int leads_chat_check(const Crm__Leads__CreateLeadFromChatRequest *req, leads_chat_t *out,
                     crm_errors_t *errors) {
    size_t before = errors->n;
    out->lead = s_lead_of(req);
    out->activity = s_activity_of(req);
    out->chat_id = strdup(req->chat_id);
    crm_text_trim(out->chat_id);
    //  The lead's errors first, then the transcript's (whose kind checks stop early when
    //  there are some: the order the API has always answered in).
    leads_lead_check_new(out->lead, errors);
    leads_activity_check(out->activity, true, errors);
    const Crm__Leads__ChatVisitor *visitor = req->visitor;
    if (!visitor || (crm_text_blank(visitor->email) && crm_text_blank(visitor->phone)))
        crm_errors_add(errors, "visitor.email",
                       "an email address or a phone number of the visitor is required");
    if (crm_utf8_chars(out->chat_id) > CHAT_ID_MAX_LEN)
        crm_errors_add(errors, "chatId", "must be at most %d characters", CHAT_ID_MAX_LEN);
    return errors->n > before ? -1 : 0;
}

void leads_chat_reset(leads_chat_t *chat) {
    if (chat->lead)
        crm__leads__lead__free_unpacked(chat->lead, NULL);
    if (chat->activity)
        crm__leads__activity__free_unpacked(chat->activity, NULL);
    free(chat->chat_id);
    memset(chat, 0, sizeof *chat);
}

void leads_chat_visitor_field(const char *field, char *out, size_t size) {
    if (strncmp(field, "emails", 6) == 0)
        snprintf(out, size, "visitor.email");
    else if (strncmp(field, "phones", 6) == 0)
        snprintf(out, size, "visitor.phone");
    else
        snprintf(out, size, "visitor.%s", field);
}
