/*  erase: the rules of erasure: a request names a contact by its id (anything else names
    none: 404), and the retention sweep goes on at once while it finds contacts due. No
    database here: erase_store.c holds the SQL, erase_methods.c the method and the
    sweep's step; tests/unit/test_contacts_erase.c states the rules.
*/
#include "contacts.h"
#include "ids.h"

bool contacts_erase_names_contact(const Crm__Contacts__EraseContactRequest *req) {
    return crm_uuid_valid(req->id);
}

crm_step_result_t contacts_retention_outcome(int erased) {
    return erased > 0 ? CRM_STEP_WORKED : CRM_STEP_IDLE;
}
