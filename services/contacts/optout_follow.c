/*  optout_follow: the notify service's NotificationOptedOut applied to contacts: each
    read into its opt-out (optout.c, the rules), then recorded the way the API records
    it, in the name of "notify":

    - an SMS keyword (STOP, START, ...) as a PATCH of doNotContact.sms: the same path
      (contacts_communication_change_in, consent_methods.c), so the same history entry
      and ContactCommunicationRulesChanged;
    - a one-click unsubscribe as RecordConsent records a withdrawal: the same statement
      (contacts_consent_store_record_in), so the same history entry and
      ContactConsentChanged.

    Both read the contact's state with its row locked first and record nothing when the
    opt-out changes nothing, which makes an event seen again harmless. An unknown or
    erased contact is skipped. The daemon's follower of the notify source (main.c's
    follows table, common/follower.h) applies them with the contacts schema's inbox:
    each once, in order, across restarts and several processes.
*/
#include "contacts.h"
#include "ids.h"
#include "log.h"

//  A one-click unsubscribe: the email marketing consent withdrawn, unless that changes
//  nothing. 0 (recorded, or nothing to do), 404, 500, or -1.
static int s_unsubscribe(const contacts_scope_t *scope, const contacts_optout_t *optout) {
    contacts_consent_state_t st;
    int code = contacts_consent_store_state_in(scope, optout->contact_id, true, &st);
    if (code != 200)
        return code;
    int rc = 0;
    if (contacts_optout_consent_changes(&st, optout)) {
        Crm__Contacts__RecordConsentRequest req;
        contacts_optout_consent(optout, &req);
        char now[40], change_id[CRM_UUID_LEN + 1];
        contacts_consent_time_format(contacts_consent_now_us(), now, sizeof now);
        crm_uuid_v7(change_id);
        rc = contacts_consent_store_record_in(scope, &req, optout->effective_at, now, change_id,
                                              true);
    }
    contacts_consent_state_reset(&st);
    return rc;
}

//  An SMS keyword: doNotContact.sms set or lifted as a PATCH would, unless it is so
//  already. 0, 404, 500, or -1.
static int s_keyword(const contacts_scope_t *scope, const contacts_optout_t *optout) {
    contacts_rules_change_t want;
    contacts_optout_rules_change(optout, &want);
    contacts_consent_state_t st;
    int code = contacts_communication_change_in(scope, optout->contact_id, &want,
                                                optout->effective_at, &st);
    if (code != 200)
        return code;
    contacts_consent_state_reset(&st);
    return 0;
}

int contacts_optout_follow(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event, void *arg) {
    (void)outbox; // the events go in the statements that record the changes
    (void)arg;
    contacts_optout_t optout;
    int rc = contacts_optout_read(event, contacts_consent_now_us(), &optout);
    if (rc != 0 || optout.kind == CONTACTS_OPTOUT_NONE || !crm_uuid_valid(optout.contact_id)) {
        contacts_optout_reset(&optout);
        return rc; // nothing for contacts, or unreadable (1: the follower logs it)
    }
    contacts_scope_t scope = {db, event->tenant_id, CONTACTS_OPTOUT_ACTOR};
    int code = optout.kind == CONTACTS_OPTOUT_SMS ? s_keyword(&scope, &optout)
                                                  : s_unsubscribe(&scope, &optout);
    if (code == 404)
        crm_log_kv(CRM_LOG_INFO, "opt-out for no live contact skipped", "contact",
                   optout.contact_id, "note", optout.note, NULL);
    else if (code == 500) // the store logged what does not parse
        crm_log_kv(CRM_LOG_ERROR, "opt-out not recorded: the contact's rules are unreadable",
                   "contact", optout.contact_id, "note", optout.note, NULL);
    contacts_optout_reset(&optout);
    return code == -1 ? -1 : 0;
}
