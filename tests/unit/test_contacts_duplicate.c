/*  Unit tests for the rules of the duplicate check before a create
    (services/contacts/duplicate.c): when dedupe's matches stop a create, which are only
    listed, what an absent answer and allowDuplicate mean, and the draft sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../services/contacts/contacts.h"

//  dedupe's answer for a draft: matches of these ids and scores, best first.
static Crm__Dedupe__DraftMatches *s_found(size_t n, const char *const *ids, const double *scores) {
    static Crm__Dedupe__DuplicateMatch matches[8];
    static Crm__Dedupe__DuplicateMatch *list[8];
    static Crm__Dedupe__DraftMatches found;
    crm__dedupe__draft_matches__init(&found);
    for (size_t i = 0; i < n; i++) {
        crm__dedupe__duplicate_match__init(&matches[i]);
        matches[i].contact_id = (char *)ids[i];
        matches[i].score = scores[i];
        list[i] = &matches[i];
    }
    found.matches = list;
    found.n_matches = n;
    return &found;
}

static void test_decide(void **state) {
    (void)state;
    char listed[128];
    const char *ids[] = {"a", "b", "c"};
    //  At or above the threshold (75): blocked; the score is compared in thousandths.
    double strong[] = {0.802, 0.619, 0.5};
    assert_int_equal(contacts_duplicate_decide(s_found(3, ids, strong), false, 75, listed,
                                               sizeof listed),
                     CONTACTS_DUPLICATE_BLOCKED);
    assert_string_equal(listed, "b,c"); // the others, listed
    double edge[] = {0.75};
    assert_int_equal(
        contacts_duplicate_decide(s_found(1, ids, edge), false, 75, listed, sizeof listed),
        CONTACTS_DUPLICATE_BLOCKED);
    double below[] = {0.749, 0.5};
    assert_int_equal(
        contacts_duplicate_decide(s_found(2, ids, below), false, 75, listed, sizeof listed),
        CONTACTS_DUPLICATE_CHECKED);
    assert_string_equal(listed, "a,b");
    //  Nothing found: checked, nothing listed.
    assert_int_equal(contacts_duplicate_decide(s_found(0, ids, below), false, 75, listed,
                                               sizeof listed),
                     CONTACTS_DUPLICATE_CHECKED);
    assert_string_equal(listed, "");
    //  No answer: skipped, never blocked. allowDuplicate: allowed whatever was found.
    assert_int_equal(contacts_duplicate_decide(NULL, false, 75, listed, sizeof listed),
                     CONTACTS_DUPLICATE_SKIPPED);
    assert_int_equal(contacts_duplicate_decide(s_found(3, ids, strong), true, 75, listed,
                                               sizeof listed),
                     CONTACTS_DUPLICATE_ALLOWED);
    //  101: never blocks.
    double certain[] = {1.0};
    assert_int_equal(contacts_duplicate_decide(s_found(1, ids, certain), false, 101, listed,
                                               sizeof listed),
                     CONTACTS_DUPLICATE_CHECKED);
    //  A list that does not fit is cut at an id, never inside one.
    char small[3];
    assert_int_equal(
        contacts_duplicate_decide(s_found(2, ids, below), false, 75, small, sizeof small),
        CONTACTS_DUPLICATE_CHECKED);
    assert_string_equal(small, "a");
}

static void test_names(void **state) {
    (void)state;
    assert_string_equal(contacts_duplicate_check_name(CONTACTS_DUPLICATE_CHECKED), "checked");
    assert_string_equal(contacts_duplicate_check_name(CONTACTS_DUPLICATE_SKIPPED), "skipped");
    assert_string_equal(contacts_duplicate_check_name(CONTACTS_DUPLICATE_ALLOWED), "allowed");
    assert_string_equal(contacts_duplicate_check_name(CONTACTS_DUPLICATE_BLOCKED), "blocked");
}

static void test_draft(void **state) {
    (void)state;
    Crm__Contacts__Contact c = CRM__CONTACTS__CONTACT__INIT, draft;
    Crm__Contacts__Email email = CRM__CONTACTS__EMAIL__INIT, *emails[] = {&email};
    c.first_name = "Ann";
    c.last_name = "Lee";
    c.emails = emails;
    c.n_emails = 1;
    c.source = CRM__CONTACTS__CONTACT_SOURCE__CONTACT_SOURCE_WEB;
    contacts_duplicate_draft(&c, &draft);
    assert_string_equal(draft.first_name, "Ann");
    assert_string_equal(draft.last_name, "Lee");
    assert_int_equal(draft.n_emails, 1);
    assert_int_equal(draft.source, 0); // only what matching reads
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_draft),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
