/*  duplicate: the rules of the duplicate check before a create (no database, no bus).

    The dedupe service scores each contact of the tenant a draft's blocking keys find
    (services/dedupe/score.c) and answers those at or above dedupe.check_threshold, best
    first. The contacts service then decides: a candidate at or above
    dedupe.block_threshold stops the create (409 possible_duplicate, every candidate
    listed), unless the request says allowDuplicate; candidates below it are named in
    the answer (X-Possible-Duplicates) and do not block. When dedupe did not answer in
    time the create goes ahead and says so (X-Duplicate-Check: skipped): a create is
    never blocked by dedupe's absence. tests/unit/test_contacts_duplicate.c states the
    rules by example.
*/
#include "contacts.h"

#include <string.h>

const char *contacts_duplicate_check_name(contacts_duplicate_check_t check) {
    switch (check) {
    case CONTACTS_DUPLICATE_CHECKED: return "checked";
    case CONTACTS_DUPLICATE_SKIPPED: return "skipped";
    case CONTACTS_DUPLICATE_ALLOWED: return "allowed";
    case CONTACTS_DUPLICATE_BLOCKED: return "blocked";
    }
    return "";
}

contacts_duplicate_check_t contacts_duplicate_decide(const Crm__Dedupe__DraftMatches *found,
                                                     bool allow_duplicate, int block_threshold,
                                                     char *listed, size_t size) {
    if (size)
        listed[0] = 0;
    if (allow_duplicate)
        return CONTACTS_DUPLICATE_ALLOWED;
    if (!found)
        return CONTACTS_DUPLICATE_SKIPPED;
    bool blocked = false;
    for (size_t i = 0; i < found->n_matches; i++) {
        const Crm__Dedupe__DuplicateMatch *m = found->matches[i];
        //  Scores come rounded to three decimals: compared in thousandths.
        if ((int)(m->score * 1000 + 0.5) >= block_threshold * 10)
            blocked = true;
        else if (size && strlen(listed) + (listed[0] ? 1 : 0) + strlen(m->contact_id) < size)
            snprintf(listed + strlen(listed), size - strlen(listed), "%s%s",
                     listed[0] ? "," : "", m->contact_id);
    }
    return blocked ? CONTACTS_DUPLICATE_BLOCKED : CONTACTS_DUPLICATE_CHECKED;
}

void contacts_duplicate_draft(const Crm__Contacts__Contact *c, Crm__Contacts__Contact *draft) {
    crm__contacts__contact__init(draft);
    draft->first_name = c->first_name;
    draft->last_name = c->last_name;
    draft->emails = c->emails;
    draft->n_emails = c->n_emails;
    draft->phones = c->phones;
    draft->n_phones = c->n_phones;
    draft->addresses = c->addresses;
    draft->n_addresses = c->n_addresses;
}
