/*  erase_methods: erasure asked for (Erase: POST /v1/contacts/{id}/erase) and due (the
    retention sweep, a job of the daemon's runner: main.c's table), each read top to
    bottom: check (erase.c), store (erase_store.c), answer.
*/
#include "contacts.h"
#include "log.h"

int contacts_erase_method(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    (void)response;
    const Crm__Contacts__EraseContactRequest *req = (const void *)request;
    if (!contacts_erase_names_contact(req)) {
        crm_call_error(call, "not_found", "no such contact");
        return 404;
    }
    int rc = contacts_erase(call->db, call->header->tenant_id, req->id, call->header->actor_id);
    if (rc < 0)
        return crm_call_db_failure(call);
    if (rc == 0) {
        crm_call_error(call, "not_found", "no such contact, or erased already");
        return 404;
    }
    return 204;
}

// --- the retention sweep (main.c's table of jobs) -----------------------------------------

//  Erase one batch of contacts past their retention: worked when it erased any (there
//  may be more: look again at once), idle when none was due, failed when the database
//  failed (rolled back).
static crm_step_result_t s_sweep(crm_db_t *db) {
    if (crm_db_begin(db))
        return CRM_STEP_FAILED;
    int erased = 0;
    if (contacts_erase_due(db, &erased) == 0 && crm_db_commit(db) == 0) {
        if (erased) {
            char count[16];
            snprintf(count, sizeof count, "%d", erased);
            crm_log_kv(CRM_LOG_INFO, "contacts past their retention erased", "count", count, NULL);
        }
        return contacts_retention_outcome(erased);
    }
    crm_log_kv(CRM_LOG_WARN, "retention sweep failed; it will be tried again", NULL);
    crm_db_rollback(db);
    return CRM_STEP_FAILED;
}

crm_step_result_t contacts_retention_sweep_step(crm_step_t *step) {
    return s_sweep(step->db);
}

int contacts_retention_sweep_ms(const crm_config_t *cfg) {
    return cfg->contacts_retention_sweep_ms;
}
