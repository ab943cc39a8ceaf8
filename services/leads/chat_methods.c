/*  chat_methods: CreateFromChat, a lead from a website chat (POST /v1/leads/from-chat),
    a row of methods.c's table, with its calls to the contacts service.

    In order, so that bad input writes nothing anywhere:
    1. Check everything the request carries (chat.c): the lead's fields (as a created
       lead's, same names; a given assignee must be a member), the transcript (as a chat
       activity's), the visitor (an email or a phone).
    2. A chat id seen before answers the lead it made (200, repeated; chat_store.c).
    3. Find the visitor's contact with the contacts service (Match: email, then phone);
       when there is none, create one (source chat; 422 under visitor.* when the contacts
       service refuses it, e.g. a name missing). When the contacts service's duplicate
       check finds the visitor likely on file under another address (409
       possible_duplicate: gmail's dots, a nickname and the same phone...), the contact is
       created anyway (allowDuplicate: a chat cannot ask the visitor, and a lead must not
       land on someone else's record on a guess) and the answer lists those contacts
       (possibleDuplicates) for a salesperson to merge. What the check did is passed on
       as the contacts service said it (X-Duplicate-Check). Creating the contact is the first write,
       in the contacts service's own transaction: should the lead fail after it, a retry
       finds that contact by its email or phone instead of making another.
    4. Claim the chat id (chat_store.c), create the lead (its stage, its assignee by the
       rules) and log the transcript as its first activity (activity_store.c), all in
       this service's transaction.
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "validate.h"

#include "contacts.pb-c.h"

#include <stdlib.h>
#include <string.h>

// --- the contacts service ------------------------------------------------------------

//  A request to the contacts service in the caller's name (crm_call_service): the
//  reply's code (0: no answer); *out the response of a 2xx, *rh the reply header
//  (caller frees both).
static int s_contacts_call(crm_call_t *call, const char *method, const ProtobufCMessage *request,
                           const ProtobufCMessageDescriptor *response_type, ProtobufCMessage **out,
                           Crm__ReplyHeader **rh_out) {
    leads_t *self = call->arg;
    return crm_call_service(call, self->contacts, "contacts", method, request, response_type,
                            self->cfg->leads_contacts_timeout_ms, out, rh_out);
}

static int s_contacts_unavailable(crm_call_t *call, const char *what, int code) {
    char text[16];
    snprintf(text, sizeof text, "%d", code);
    crm_log_kv(CRM_LOG_WARN, "contacts service did not answer a chat's contact", "step", what,
               "code", code ? text : "no answer", "request_id", call->header->request_id, NULL);
    crm_call_error(call, "unavailable",
                   "the contacts service is unavailable, so the visitor's contact cannot be "
                   "found or created; retry later");
    return 503;
}

//  Pass the contacts service's X-* answer headers (the duplicate check's) on.
static void s_pass_headers(crm_call_t *call, const Crm__ReplyHeader *rh) {
    for (size_t i = 0; rh && i < rh->n_headers; i++)
        if (strncmp(rh->headers[i]->name, "X-", 2) == 0)
            crm_call_header(call, rh->headers[i]->name, rh->headers[i]->value);
}

//  A contact create refused as a likely duplicate: its candidates (caller frees), NULL
//  when it was refused for something else.
static Crm__Dedupe__PossibleDuplicate *s_possible_duplicate(int code, const Crm__ReplyHeader *rh) {
    if (code != 409 || !rh || strcmp(rh->error, "possible_duplicate") != 0)
        return NULL;
    crm_json_error_t err;
    Crm__Dedupe__PossibleDuplicate *dup = (Crm__Dedupe__PossibleDuplicate *)crm_json_to_pb(
        &crm__dedupe__possible_duplicate__descriptor, rh->details, strlen(rh->details), &err);
    if (!dup) { // unreadable details: still a likely duplicate, with no names
        dup = malloc(sizeof *dup);
        crm__dedupe__possible_duplicate__init(dup);
    }
    return dup;
}

//  The visitor's contact: found (matched_on "email" or "phone") or created (*dup: the
//  likely duplicates it was created despite; caller frees). 0 with contact_id filled,
//  422 naming visitor fields, or 503.
static int s_visitor_contact(crm_call_t *call, const Crm__Leads__ChatVisitor *visitor,
                             char contact_id[64], bool *created, char matched_on[8],
                             Crm__Dedupe__PossibleDuplicate **dup) {
    *created = false;
    *dup = NULL;
    matched_on[0] = 0;
    Crm__Contacts__MatchContactRequest match = CRM__CONTACTS__MATCH_CONTACT_REQUEST__INIT;
    match.email = visitor->email;
    match.phone = visitor->phone;
    ProtobufCMessage *out = NULL;
    Crm__ReplyHeader *rh = NULL;
    int code = s_contacts_call(call, "Match", &match.base,
                               &crm__contacts__match_contact_response__descriptor, &out, &rh);
    int result;
    if (code == 200 && out && ((Crm__Contacts__MatchContactResponse *)out)->contact) {
        Crm__Contacts__MatchContactResponse *m = (void *)out;
        snprintf(contact_id, 64, "%s", m->contact->id);
        snprintf(matched_on, 8, "%s", m->matched_on);
        result = 0;
    } else if (code == 422 && rh) {
        for (size_t i = 0; i < rh->n_fields; i++) {
            char field[96];
            leads_chat_visitor_field(rh->fields[i]->field, field, sizeof field);
            crm_call_field_error(call, field, "%s", rh->fields[i]->message);
        }
        result = 422;
    } else if (code != 404)
        result = s_contacts_unavailable(call, "match", code);
    else
        result = -1; // nobody: create
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    if (result != -1)
        return result;

    Crm__Contacts__Contact contact = CRM__CONTACTS__CONTACT__INIT;
    Crm__Contacts__Email email = CRM__CONTACTS__EMAIL__INIT;
    Crm__Contacts__Phone phone = CRM__CONTACTS__PHONE__INIT;
    Crm__Contacts__Email *emails[] = {&email};
    Crm__Contacts__Phone *phones[] = {&phone};
    contact.first_name = visitor->first_name;
    contact.last_name = visitor->last_name;
    contact.source = CRM__CONTACTS__CONTACT_SOURCE__CONTACT_SOURCE_CHAT;
    if (visitor->email[0]) {
        email.address = visitor->email;
        email.primary = true;
        contact.emails = emails;
        contact.n_emails = 1;
    }
    if (visitor->phone[0]) {
        phone.number = visitor->phone;
        phone.primary = true;
        contact.phones = phones;
        contact.n_phones = 1;
    }
    Crm__Contacts__CreateContactRequest create = CRM__CONTACTS__CREATE_CONTACT_REQUEST__INIT;
    create.contact = &contact;
    code = s_contacts_call(call, "Create", &create.base, &crm__contacts__contact__descriptor, &out,
                           &rh);
    *dup = s_possible_duplicate(code, rh);
    if (*dup) { // on file under another address, maybe: created anyway, the answer says so
        crm__reply_header__free_unpacked(rh, NULL);
        rh = NULL;
        create.allow_duplicate = true;
        code = s_contacts_call(call, "Create", &create.base, &crm__contacts__contact__descriptor,
                               &out, &rh);
    }
    s_pass_headers(call, rh);
    if (code == 201 && out) {
        snprintf(contact_id, 64, "%s", ((Crm__Contacts__Contact *)out)->id);
        *created = true;
        result = 0;
    } else if (code == 409 && rh && rh->conflict_id[0]) {
        //  Created by someone else since the match (an email is one contact's): theirs.
        snprintf(contact_id, 64, "%s", rh->conflict_id);
        snprintf(matched_on, 8, "email");
        result = 0;
    } else if (code == 422 && rh) {
        for (size_t i = 0; i < rh->n_fields; i++) {
            char field[96];
            leads_chat_visitor_field(rh->fields[i]->field, field, sizeof field);
            crm_call_field_error(call, field,
                                 "%s (no contact has this email or phone, so one "
                                 "is created)",
                                 rh->fields[i]->message);
        }
        result = 422;
    } else
        result = s_contacts_unavailable(call, "create", code);
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return result;
}

// --- the method --------------------------------------------------------------------------

//  The answer for a chat seen before: its lead as it is now. 200 or a failure code.
static int s_repeat(crm_call_t *call, const char *lead_id, const char *activity_id,
                    ProtobufCMessage **response) {
    Crm__Leads__Lead *lead = NULL;
    int code = leads_store_get_any(call, lead_id, false, &lead); // the chat's own lead
    if (code == 404) {
        crm_call_error(call, "gone", "the lead this chat made was deleted");
        code = 410;
    }
    if (code != 200)
        return code;
    Crm__Leads__LeadFromChat *out = malloc(sizeof *out);
    crm__leads__lead_from_chat__init(out);
    out->lead = lead;
    out->activity_id = strdup(activity_id);
    out->repeated = true;
    *response = &out->base;
    return 200;
}

//  The chat id claimed for lead (chat_store.c): 0 when it is ours; when another delivery
//  of this chat made its lead meanwhile, that lead's answer (200); or a failure code.
static int s_claim(crm_call_t *call, const char *chat_id, const Crm__Leads__Lead *lead,
                   bool created, const char *matched_on, ProtobufCMessage **response) {
    bool claimed = false;
    int code = leads_chat_store_claim(call, chat_id, lead->id, lead->contact_id, created,
                                      matched_on, &claimed);
    if (code || claimed)
        return code;
    char lead_id[40], activity_id[40];
    code = leads_chat_store_seen(call, chat_id, lead_id, activity_id);
    if (code)
        return code;
    return lead_id[0] ? s_repeat(call, lead_id, activity_id, response) : crm_call_db_failure(call);
}

int leads_from_chat(crm_call_t *call, const ProtobufCMessage *request,
                    ProtobufCMessage **response) {
    const Crm__Leads__CreateLeadFromChatRequest *req = (const void *)request;

    //  1. Everything the request carries.
    leads_chat_t chat = {0};
    crm_errors_t errors = {0};
    leads_chat_check(req, &chat, &errors); // check: chat.c
    int code = crm_call_fail(call, &errors);
    Crm__Leads__Lead *lead = chat.lead;
    if (code == 0 && lead->assignee_id[0])
        code = leads_member_check_assignee(call, lead->assignee_id, "assigneeId");

    //  2. A chat seen before.
    if (code == 0 && chat.chat_id[0]) {
        char lead_id[40], activity_id[40];
        code = leads_chat_store_seen(call, chat.chat_id, lead_id, activity_id);
        if (code == 0 && lead_id[0])
            code = s_repeat(call, lead_id, activity_id, response);
    }

    //  3. The visitor's contact.
    char contact_id[64] = "", matched_on[8] = "";
    bool created = false;
    Crm__Dedupe__PossibleDuplicate *dup = NULL;
    if (code == 0)
        code = s_visitor_contact(call, req->visitor, contact_id, &created, matched_on, &dup);

    //  4. The chat claimed, the lead, its first activity.
    if (code == 0) {
        char lead_id[CRM_UUID_LEN + 1];
        crm_uuid_v7(lead_id);
        crm_pb_string_set(&lead->id, lead_id);
        crm_pb_string_set(&lead->contact_id, contact_id);
        if (chat.chat_id[0])
            code = s_claim(call, chat.chat_id, lead, created, matched_on, response);
    }
    if (code == 0)
        code = leads_lead_create(call, lead, true);
    ProtobufCMessage *logged = NULL;
    if (code == 201)
        code = leads_activity_store_insert(call, lead->id, contact_id, chat.activity, &logged);
    if (code == 201 && chat.chat_id[0]) {
        int failed =
            leads_chat_store_activity(call, chat.chat_id, ((Crm__Leads__Activity *)logged)->id);
        code = failed ? failed : code;
    }
    if (code == 201) { // answer
        Crm__Leads__LeadFromChat *out = malloc(sizeof *out);
        crm__leads__lead_from_chat__init(out);
        out->lead = lead;
        chat.lead = NULL;
        out->contact_created = created;
        out->matched_on = strdup(matched_on);
        out->activity_id = strdup(((Crm__Leads__Activity *)logged)->id);
        if (dup && created) { // the candidates move to the answer
            out->possible_duplicates = dup->candidates;
            out->n_possible_duplicates = dup->n_candidates;
            dup->candidates = NULL;
            dup->n_candidates = 0;
        }
        *response = &out->base;
        crm_log_kv(CRM_LOG_INFO, "a chat became a lead", "lead", out->lead->id, "contact",
                   contact_id, "contact_created", created ? "yes" : "no", NULL);
    }
    if (logged)
        protobuf_c_message_free_unpacked(logged, NULL);
    if (dup)
        crm__dedupe__possible_duplicate__free_unpacked(dup, NULL);
    leads_chat_reset(&chat);
    return code;
}
