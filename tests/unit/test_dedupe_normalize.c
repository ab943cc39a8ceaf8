/*  Unit tests for the dedupe match keys (services/dedupe/normalize.c, nicknames.c,
    entry.c): how an email, a name and a postcode match, the nickname list as shipped,
    and a contact's entry. Each table row is an example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/dedupe/dedupe.h"

static void test_email_key(void **state) {
    (void)state;
    static const struct {
        const char *address, *key; // key NULL: refused
    } cases[] = {
        {"Ann.Lee@Example.COM", "ann.lee@example.com"},           // case only: dots count elsewhere
        {"ann.lee+cars@example.com", "ann.lee+cars@example.com"}, // a company's + is kept
        {"A.n.n.Lee+dealer@gmail.com", "annlee@gmail.com"},       // gmail: dots and tag go
        {"annlee@googlemail.com", "annlee@gmail.com"},            // one mailbox
        {"ann.lee+x@outlook.com", "ann.lee@outlook.com"},         // tag goes, dots stay
        {"ann+x@icloud.com", "ann@icloud.com"},
        {"ann+x@fastmail.com", "ann@fastmail.com"},
        {"ann+x@proton.me", "ann@proton.me"},
        {"ann-x@yahoo.com", "ann-x@yahoo.com"}, // yahoo's tags are not +
        {"+tag@gmail.com", "+tag@gmail.com"},   // nothing before the +: kept
        {"...@gmail.com", NULL},                // nothing left
        {"no-at-sign", NULL},
        {"@example.com", NULL},
        {"ann@", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char key[DEDUPE_EMAIL_MAX];
        int rc = dedupe_email_key(cases[i].address, key, sizeof key);
        if (!cases[i].key) {
            if (rc != -1)
                fail_msg("%s: made %s, expected a refusal", cases[i].address, key);
            continue;
        }
        if (rc != 0 || strcmp(key, cases[i].key) != 0)
            fail_msg("%s: made %s (%d), expected %s", cases[i].address, rc ? "-" : key, rc,
                     cases[i].key);
    }
    assert_true(dedupe_free_mail_domain("gmail.com"));
    assert_false(dedupe_free_mail_domain("acme-motors.com"));
}

static void test_name_fold(void **state) {
    (void)state;
    static const struct {
        const char *name, *folded;
    } cases[] = {
        {"García", "garcia"},
        {"GARCIA", "garcia"},
        {"Müller", "muller"},
        {"Núñez", "nunez"},
        {"Ørsted", "orsted"},
        {"Łukasz", "lukasz"},
        {"O'Brien", "obrien"},
        {"Smith-Jones", "smithjones"},
        {"  Ann  ", "ann"},
        {"Straße", "strasse"},
        {"Zoë", "zoe"},
        {"Иван", "ivan"},
        {"", ""},
        {"123", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char folded[DEDUPE_NAME_MAX];
        assert_int_equal(dedupe_name_fold(cases[i].name, folded, sizeof folded), 0);
        if (strcmp(folded, cases[i].folded) != 0)
            fail_msg("%s: folded to %s, expected %s", cases[i].name, folded, cases[i].folded);
    }
    char small[4];
    assert_int_equal(dedupe_name_fold("William", small, sizeof small), -1);
}

static void test_postcode_key(void **state) {
    (void)state;
    static const struct {
        const char *postcode, *key;
    } cases[] = {
        {"20500", "20500"},
        {"20500-0003", "20500"},
        {"205000003", "20500"},
        {"sw1a 1aa", "SW1A1AA"},
        {"K1A 0B1", "K1A0B1"},
        {"", ""},
        {" - ", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char key[DEDUPE_POSTCODE_MAX];
        dedupe_postcode_key(cases[i].postcode, key, sizeof key);
        if (strcmp(key, cases[i].key) != 0)
            fail_msg("%s: %s, expected %s", cases[i].postcode, key, cases[i].key);
    }
}

static dedupe_nicknames_t *s_nicknames(void) {
    char path[512], *error = NULL;
    const char *top = getenv("CRM_TOP_DIR");
    snprintf(path, sizeof path, "%s/services/dedupe/data/nicknames.tsv", top ? top : ".");
    dedupe_nicknames_t *n = dedupe_nicknames_new(path, &error);
    if (!n)
        fail_msg("nicknames: %s", error ? error : "?");
    return n;
}

//  The formal names a first name stands for, joined by commas.
static void s_groups(const dedupe_nicknames_t *n, const char *first, char *out, size_t size) {
    const char *groups[DEDUPE_NAME_GROUPS_MAX];
    size_t k = dedupe_nicknames_groups(n, first, groups, DEDUPE_NAME_GROUPS_MAX);
    out[0] = 0;
    for (size_t i = 0; i < k; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "", groups[i]);
}

static void test_nicknames(void **state) {
    (void)state;
    dedupe_nicknames_t *n = s_nicknames();
    char text[256];
    s_groups(n, "bill", text, sizeof text);
    assert_string_equal(text, "bill,william");
    s_groups(n, "peggy", text, sizeof text);
    assert_string_equal(text, "peggy,margaret");
    s_groups(n, "william", text, sizeof text);
    assert_string_equal(text, "william");
    s_groups(n, "al", text, sizeof text); // several formal names, sorted
    assert_string_equal(text, "al,alan,albert,alexander,alfred");
    s_groups(n, "pepe", text, sizeof text);
    assert_string_equal(text, "pepe,jose");
    s_groups(n, "zebulon", text, sizeof text);
    assert_string_equal(text, "zebulon");
    s_groups(NULL, "bill", text, sizeof text); // no list: the name alone
    assert_string_equal(text, "bill");
    dedupe_nicknames_destroy(&n);
    assert_null(n);
    char *error = NULL;
    assert_null(dedupe_nicknames_new("/nonexistent/nicknames.tsv", &error));
    assert_non_null(strstr(error, "could not open"));
    free(error);
}

static void test_entry_from_contact(void **state) {
    (void)state;
    dedupe_nicknames_t *n = s_nicknames();
    Crm__Contacts__Contact c = CRM__CONTACTS__CONTACT__INIT;
    c.first_name = "Bill";
    c.last_name = "García";
    Crm__Contacts__Email e1 = CRM__CONTACTS__EMAIL__INIT, e2 = e1, e3 = e1;
    e1.address = "Bill.Garcia+x@Gmail.com";
    e2.address = "billgarcia@googlemail.com"; // the same mailbox
    e3.address = "bill@acme-motors.com";
    Crm__Contacts__Email *emails[] = {&e1, &e2, &e3};
    c.emails = emails;
    c.n_emails = 3;
    Crm__Contacts__Phone p1 = CRM__CONTACTS__PHONE__INIT, p2 = p1;
    p1.number = "+12025550142";
    p2.number = "+12025550142";
    Crm__Contacts__Phone *phones[] = {&p1, &p2};
    c.phones = phones;
    c.n_phones = 2;
    Crm__Contacts__Address a1 = CRM__CONTACTS__ADDRESS__INIT, a2 = a1;
    a1.postcode = "20500-0003";
    a2.postcode = "";
    Crm__Contacts__Address *addresses[] = {&a1, &a2};
    c.addresses = addresses;
    c.n_addresses = 2;
    dedupe_entry_t entry;
    dedupe_entry_from_contact(&entry, &c, n);
    assert_string_equal(entry.first, "bill");
    assert_string_equal(entry.last, "garcia");
    assert_int_equal(entry.n_first_groups, 2);
    assert_string_equal(entry.first_groups[1], "william");
    assert_int_equal(entry.n_emails, 2);
    assert_string_equal(entry.emails[0], "billgarcia@gmail.com");
    assert_string_equal(entry.emails[1], "bill@acme-motors.com");
    assert_int_equal(entry.n_domains, 2);
    assert_int_equal(entry.n_phones, 1);
    assert_int_equal(entry.n_postcodes, 1);
    assert_string_equal(entry.postcodes[0], "20500");
    assert_false(dedupe_entry_empty(&entry));
    Crm__Contacts__Contact none = CRM__CONTACTS__CONTACT__INIT;
    dedupe_entry_from_contact(&entry, &none, n);
    assert_true(dedupe_entry_empty(&entry));
    dedupe_nicknames_destroy(&n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_key),          cmocka_unit_test(test_name_fold),
        cmocka_unit_test(test_postcode_key),       cmocka_unit_test(test_nicknames),
        cmocka_unit_test(test_entry_from_contact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
