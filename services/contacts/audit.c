/*  audit: the rules of reading a contact's audit trail: its cursor (the seq of the last
    entry given, a positive number). No database here: audit_store.c holds the SQL,
    audit_methods.c the method; tests/unit/test_contacts_audit.c states the rules.
*/
#include "contacts.h"
#include "page.h"

#include <limits.h>

int contacts_audit_cursor_check(const char *cursor, crm_errors_t *errors) {
    long long seq;
    if (cursor[0] && crm_cursor_number(cursor, 1, LLONG_MAX, &seq))
        crm_errors_add(errors, "cursor", "is not a cursor returned by this list");
    return errors->n ? -1 : 0;
}
