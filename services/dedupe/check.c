/*  check: the rules of POST /v1/contacts/duplicates/check. A would-be contact in the contacts'
    Contact shape; only what matching reads is looked at (names, emails, phones, the
    addresses' postcodes). Emails must be addresses and phones numbers (to E.164 through
    libphonenumber, as the contacts service does); something to match on is required.
    tests/unit/test_dedupe_score.c states the rules by example.
*/
#include "dedupe.h"
#include "validate.h"

#include <string.h>

#define CHECK_NAME_MAX 100 // characters, as the contacts service allows

int dedupe_check_draft(const Crm__Contacts__Contact *draft, const char *default_region,
                       const dedupe_nicknames_t *nicknames, dedupe_entry_t *entry,
                       crm_errors_t *errors) {
    static const Crm__Contacts__Contact empty = CRM__CONTACTS__CONTACT__INIT;
    if (!draft)
        draft = &empty;
    if (crm_utf8_chars(draft->first_name) > CHECK_NAME_MAX)
        crm_errors_add(errors, "firstName", "must be at most %d characters", CHECK_NAME_MAX);
    if (crm_utf8_chars(draft->last_name) > CHECK_NAME_MAX)
        crm_errors_add(errors, "lastName", "must be at most %d characters", CHECK_NAME_MAX);
    if (draft->n_emails > DEDUPE_VALUES_MAX)
        crm_errors_add(errors, "emails", "must have at most %d addresses", DEDUPE_VALUES_MAX);
    if (draft->n_phones > DEDUPE_VALUES_MAX)
        crm_errors_add(errors, "phones", "must have at most %d numbers", DEDUPE_VALUES_MAX);
    if (errors->n)
        return -1;
    //  Names and postcodes as an event's contact gives them; then the lines, checked.
    Crm__Contacts__Contact names = *draft;
    names.n_emails = names.n_phones = 0;
    dedupe_entry_from_contact(entry, &names, nicknames);
    for (size_t i = 0; i < draft->n_emails; i++) {
        const char *address = draft->emails[i] ? draft->emails[i]->address : "";
        char field[48];
        snprintf(field, sizeof field, "emails[%zu].address", i);
        if (!address[0])
            crm_errors_add(errors, field, "is required");
        else if (!crm_email_valid(address))
            crm_errors_add(errors, field, "is not a valid email address");
        else
            dedupe_entry_add_email(entry, address);
    }
    for (size_t i = 0; i < draft->n_phones; i++) {
        const char *number = draft->phones[i] ? draft->phones[i]->number : "";
        char field[48], e164[32];
        const char *reason = NULL;
        snprintf(field, sizeof field, "phones[%zu].number", i);
        if (!number[0])
            crm_errors_add(errors, field, "is required");
        else if (crm_phone_to_e164(number, default_region, e164, sizeof e164, &reason) != 0)
            crm_errors_add(errors, field, "%s", reason ? reason : "is not a valid phone number");
        else
            dedupe_entry_add_phone(entry, e164);
    }
    if (!errors->n && dedupe_entry_empty(entry))
        crm_errors_add(errors, "lastName", "is required when no email or phone is given");
    return errors->n ? -1 : 0;
}
