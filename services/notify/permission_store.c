/*  permission_store: what the permission of a message to a contact is decided from —
    notify's copy of the contact (recipients), the numbers that texted STOP and the
    addresses that unsubscribed — read in one statement.
*/
#include "notify.h"

#include <stdlib.h>
#include <string.h>

static const crm_stmt_t s_facts = {
    .name = "permission_facts",
    .sql = "SELECT r.erased, r.deleted, r.dnc_call, r.dnc_email, r.dnc_sms, r.dnc_mail,"
           "  r.stop_follow_ups, r.consents::text, r.emails::text, r.phones::text, r.region,"
           "  r.country, r.preferred, r.first_name, r.last_name, r.display_name,"
           "  (SELECT coalesce(jsonb_agg(o.number), '[]') FROM sms_opt_outs o"
           "    WHERE o.tenant_id IN (r.tenant_id, '*') AND o.opted_out AND o.number IN"
           "      (SELECT p->>'number' FROM jsonb_array_elements(r.phones) p))::text,"
           "  (SELECT coalesce(jsonb_agg(u.address), '[]') FROM email_unsubscribes u"
           "    WHERE u.tenant_id = r.tenant_id AND u.address IN"
           "      (SELECT lower(e->>'address') FROM jsonb_array_elements(r.emails) e))::text"
           " FROM recipients r WHERE r.tenant_id = $1 AND r.contact_id = $2::uuid",
    .nparams = 2};

int notify_contact_load(crm_db_t *db, const char *tenant_id, const char *contact_id,
                        notify_contact_t **out) {
    *out = NULL;
    const char *params[] = {tenant_id, contact_id};
    PGresult *res = crm_db_query(db, &s_facts, params);
    if (!res)
        return -1;
    if (PQntuples(res)) {
        const char *cols[NOTIFY_CONTACT_COLUMNS];
        for (int i = 0; i < NOTIFY_CONTACT_COLUMNS; i++)
            cols[i] = PQgetvalue(res, 0, i);
        *out = notify_contact_new(contact_id, cols);
    }
    PQclear(res);
    return 0;
}

int notify_permission_store_check(crm_call_t *call, const char *contact_id,
                                  Crm__Notify__Channel channel, Crm__Notify__Purpose purpose) {
    notify_contact_t *contact = NULL;
    if (notify_contact_load(call->db, call->header->tenant_id, contact_id, &contact))
        return crm_call_db_failure(call);
    crm_errors_t errors = {0};
    if (!contact || contact->deleted)
        crm_errors_add(&errors, "contactId", "is not a contact of this dealership");
    else {
        notify_permission_t decision;
        if (!notify_contact_decide(contact, channel, purpose, -1, &decision))
            crm_errors_add(&errors, "contactId", "cannot be sent this message: %s (%s)",
                           decision.detail, decision.code);
    }
    notify_contact_destroy(&contact);
    return errors.n ? crm_call_fail(call, &errors) : 0;
}
