/*  Unit tests for the duplicate check's rules and model (services/dedupe/check.c,
    score.c): the drafts refused and the field each refusal names; Jaro-Winkler; and the
    Fellegi-Sunter score, reasons and summary on the cases the check must find (and the
    look-alikes it must not); the prior from the tenant's size and the names weighed by
    how common they are in the tenant. The phonetic codes, which the database makes, are given as
    fuzzystrmatch's dmetaphone gives them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/dedupe/dedupe.h"

static dedupe_nicknames_t *s_nicknames;

static int s_setup(void **state) {
    (void)state;
    char path[512], *error = NULL;
    const char *top = getenv("CRM_TOP_DIR");
    snprintf(path, sizeof path, "%s/services/dedupe/data/nicknames.tsv", top ? top : ".");
    s_nicknames = dedupe_nicknames_new(path, &error);
    free(error);
    return s_nicknames ? 0 : -1;
}

static int s_teardown(void **state) {
    (void)state;
    dedupe_nicknames_destroy(&s_nicknames);
    return 0;
}

//  A person as a test states it; "" for none.
typedef struct {
    const char *first, *last, *email, *phone, *postcode;
    const char *first_phonetic, *last_phonetic; // dmetaphone's codes
} s_person_t;

//  The draft (a check's request) of a person, through the check's rules. Returns the rc.
static int s_draft(const s_person_t *p, dedupe_entry_t *entry, crm_errors_t *errors) {
    Crm__Contacts__Contact c = CRM__CONTACTS__CONTACT__INIT;
    c.first_name = (char *)p->first;
    c.last_name = (char *)p->last;
    Crm__Contacts__Email email = CRM__CONTACTS__EMAIL__INIT, *emails[] = {&email};
    Crm__Contacts__Phone phone = CRM__CONTACTS__PHONE__INIT, *phones[] = {&phone};
    Crm__Contacts__Address address = CRM__CONTACTS__ADDRESS__INIT, *addresses[] = {&address};
    if (p->email) {
        email.address = (char *)p->email;
        c.emails = emails;
        c.n_emails = 1;
    }
    if (p->phone) {
        phone.number = (char *)p->phone;
        c.phones = phones;
        c.n_phones = 1;
    }
    if (p->postcode) {
        address.postcode = (char *)p->postcode;
        c.addresses = addresses;
        c.n_addresses = 1;
    }
    int rc = dedupe_check_draft(&c, "US", s_nicknames, entry, errors);
    snprintf(entry->first_phonetic, sizeof entry->first_phonetic, "%s",
             p->first_phonetic ? p->first_phonetic : "");
    snprintf(entry->last_phonetic, sizeof entry->last_phonetic, "%s",
             p->last_phonetic ? p->last_phonetic : "");
    return rc;
}

static void test_check_rules(void **state) {
    (void)state;
    static const struct {
        s_person_t person;
        const char *fields; // refused, in order, joined by commas ("": accepted)
    } cases[] = {
        {{"Ann", "Lee", NULL, NULL, NULL, NULL, NULL}, ""},
        {{"", "", "ann@example.com", NULL, NULL, NULL, NULL}, ""},
        {{"", "", NULL, "(202) 555-0142", NULL, NULL, NULL}, ""},
        {{"", "", NULL, NULL, "20500", NULL, NULL}, "lastName"}, // nothing to match on
        {{"", "", NULL, NULL, NULL, NULL, NULL}, "lastName"},
        {{"!!", "--", NULL, NULL, NULL, NULL, NULL}, "lastName"}, // no letters: no name
        {{"Ann", "Lee", "not-an-address", NULL, NULL, NULL, NULL}, "emails[0].address"},
        {{"Ann", "Lee", "", NULL, NULL, NULL, NULL}, "emails[0].address"},
        {{"Ann", "Lee", NULL, "12", NULL, NULL, NULL}, "phones[0].number"},
        {{"Ann", "Lee", NULL, "call me", NULL, NULL, NULL}, "phones[0].number"},
        {{"Ann", "Lee", "x", "12", NULL, NULL, NULL}, "emails[0].address,phones[0].number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dedupe_entry_t entry;
        crm_errors_t errors = {0};
        int rc = s_draft(&cases[i].person, &entry, &errors);
        char fields[128] = "";
        for (size_t e = 0; e < errors.n; e++)
            snprintf(fields + strlen(fields), sizeof fields - strlen(fields), "%s%s", e ? "," : "",
                     errors.items[e]->field);
        if (strcmp(fields, cases[i].fields) != 0)
            fail_msg("case %zu: refused [%s], expected [%s]", i, fields, cases[i].fields);
        assert_int_equal(rc, cases[i].fields[0] ? -1 : 0);
        crm_errors_reset(&errors);
    }
    //  A draft's phone in any format is the contact's E.164.
    dedupe_entry_t entry;
    crm_errors_t errors = {0};
    s_person_t p = {"Ann", "Lee", NULL, "(202) 555-0142", NULL, NULL, NULL};
    assert_int_equal(s_draft(&p, &entry, &errors), 0);
    assert_string_equal(entry.phones[0], "+12025550142");
}

static void test_jaro_winkler(void **state) {
    (void)state;
    assert_true(fabs(dedupe_jaro_winkler("martha", "marhta") - 0.961) < 0.001);
    assert_true(fabs(dedupe_jaro_winkler("dwayne", "duane") - 0.840) < 0.001);
    assert_true(fabs(dedupe_jaro_winkler("dixon", "dicksonx") - 0.813) < 0.001);
    assert_true(dedupe_jaro_winkler("jon", "john") >= 0.9);
    assert_true(dedupe_jaro_winkler("smyth", "smith") < 0.9); // the sound makes it close
    assert_true(dedupe_jaro_winkler("abc", "abc") == 1.0);
    assert_true(dedupe_jaro_winkler("abc", "xyz") == 0.0);
    assert_true(dedupe_jaro_winkler("", "") == 1.0);
    assert_true(dedupe_jaro_winkler("a", "") == 0.0);
}

static void test_weights(void **state) {
    (void)state;
    //  log2(m/u) and log2((1-m)/(1-u)) of the table in score.c.
    assert_true(fabs(dedupe_weight(DEDUPE_FIELD_EMAIL, DEDUPE_EXACT) - log2(0.60 / 0.0001)) < 1e-9);
    assert_true(dedupe_weight(DEDUPE_FIELD_EMAIL, DEDUPE_DIFFERENT) < 0);
    assert_true(dedupe_weight(DEDUPE_FIELD_LAST_NAME, DEDUPE_CLOSE) > 0);
    assert_true(dedupe_weight(DEDUPE_FIELD_LAST_NAME, DEDUPE_CLOSE) <
                dedupe_weight(DEDUPE_FIELD_LAST_NAME, DEDUPE_EXACT));
    assert_true(dedupe_weight(DEDUPE_FIELD_PHONE, DEDUPE_MISSING) == 0);
}

//  A reasons list as "field:level" joined by commas.
static void s_reasons(const Crm__Dedupe__DuplicateMatch *m, char *out, size_t size) {
    out[0] = 0;
    for (size_t i = 0; i < m->n_reasons; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s:%s", i ? "," : "",
                 m->reasons[i]->field, m->reasons[i]->level);
}

static void test_scores(void **state) {
    (void)state;
    static const struct {
        const char *what;
        s_person_t draft, stored;
        bool match;          // at or above the default threshold (0.5)
        const char *summary; // NULL: not checked
        const char *reasons;
    } cases[] = {
        {"the same phone in another format",
         {"Ann", "Lee", NULL, "(202) 555-0142", NULL, "AN", "L"},
         {"Ann", "Lee", NULL, "+12025550142", NULL, "AN", "L"},
         true,
         "same phone and same name",
         "phone:exact,firstName:exact,lastName:exact"},
        {"Jon Smyth for John Smith at the same postcode",
         {"Jon", "Smyth", NULL, NULL, "20500", "JN", "SM0"},
         {"John", "Smith", NULL, NULL, "20500-0003", "JN", "SM0"},
         true,
         "similar name and same postcode",
         "firstName:close,lastName:close,postcode:exact"},
        {"... with a phone the index does not have",
         {"Jon", "Smyth", NULL, "(202) 555-0199", "20500", "JN", "SM0"},
         {"John", "Smith", NULL, "+12025550142", "20500", "JN", "SM0"},
         true,
         "similar name and same postcode",
         NULL},
        {"Garcia typed for García",
         {"Maria", "Garcia", NULL, NULL, "94105", "MR", "KRS"},
         {"María", "García", NULL, NULL, "94105", "MR", "KRS"},
         true,
         "same name and same postcode",
         NULL},
        {"Bill for William, the same company email domain",
         {"Bill", "Turner", "bill@acme-motors.com", NULL, NULL, "PL", "TRNR"},
         {"William", "Turner", "w.turner@acme-motors.com", NULL, NULL, "ALM", "TRNR"},
         true,
         "similar name and same email domain",
         "firstName:close,lastName:exact,emailDomain:exact"},
        {"Bill for William, the same phone",
         {"Bill", "Turner", NULL, "202-555-0177", NULL, "PL", "TRNR"},
         {"William", "Turner", NULL, "+12025550177", NULL, "ALM", "TRNR"},
         true,
         "same phone and similar name",
         NULL},
        {"the same gmail with dots and a tag",
         {"Ann", "Lee", "a.n.n.lee+cars@gmail.com", NULL, NULL, "AN", "L"},
         {"Ann", "Lee", "annlee@gmail.com", NULL, NULL, "AN", "L"},
         true,
         "same email and same name",
         NULL},
        {"an email alone",
         {"", "", "ann@example.com", NULL, NULL, NULL, NULL},
         {"Ann", "Lee", "ann@example.com", NULL, NULL, "AN", "L"},
         true,
         "same email",
         NULL},
        //  Look-alikes that are other people.
        {"a household: the same phone and last name, another first name",
         {"Bob", "Lee", NULL, "(202) 555-0142", NULL, "PP", "L"},
         {"Ann", "Lee", NULL, "+12025550142", NULL, "AN", "L"},
         false,
         NULL,
         NULL},
        {"a family at one postcode",
         {"Mary", "Lee", NULL, NULL, "20500", "MR", "L"},
         {"Ann", "Lee", NULL, NULL, "20500", "AN", "L"},
         false,
         NULL,
         NULL},
        {"a free mail domain says nothing",
         {"Bill", "Turner", "bill.t@gmail.com", NULL, NULL, "PL", "TRNR"},
         {"William", "Turner", "wturner@gmail.com", NULL, NULL, "ALM", "TRNR"},
         false,
         NULL,
         NULL},
        {"the same name elsewhere",
         {"John", "Smith", NULL, "(202) 555-0100", "94105", "JN", "SM0"},
         {"John", "Smith", NULL, "+12025550142", "20500", "JN", "SM0"},
         false,
         NULL,
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dedupe_entry_t draft, stored;
        crm_errors_t errors = {0};
        assert_int_equal(s_draft(&cases[i].draft, &draft, &errors), 0);
        s_person_t s = cases[i].stored;
        //  The stored contact as the index keeps it: an event's phone is E.164 already.
        assert_int_equal(s_draft(&s, &stored, &errors), 0);
        dedupe_comparison_t c;
        dedupe_compare(&draft, &stored, &c);
        Crm__Dedupe__DuplicateMatch *m =
            dedupe_match_new("00000000-0000-0000-0000-000000000001", &c);
        char reasons[256];
        s_reasons(m, reasons, sizeof reasons);
        fprintf(stderr, "  %-60s %.3f  %s  [%s]\n", cases[i].what, m->score, m->summary, reasons);
        if ((c.score >= 0.5) != cases[i].match)
            fail_msg("%s: score %.3f", cases[i].what, c.score);
        if (cases[i].summary && strcmp(m->summary, cases[i].summary) != 0)
            fail_msg("%s: summary \"%s\", expected \"%s\"", cases[i].what, m->summary,
                     cases[i].summary);
        if (cases[i].reasons && strcmp(reasons, cases[i].reasons) != 0)
            fail_msg("%s: reasons %s, expected %s", cases[i].what, reasons, cases[i].reasons);
        crm__dedupe__duplicate_match__free_unpacked(m, NULL);
    }
}

static void test_reason_words(void **state) {
    (void)state;
    dedupe_entry_t draft, stored;
    crm_errors_t errors = {0};
    s_person_t a = {"Bill", "Smyth", NULL, "(202) 555-0142", NULL, "PL", "SM0"};
    s_person_t b = {"William", "Smith", NULL, "+12025550142", NULL, "ALM", "SM0"};
    assert_int_equal(s_draft(&a, &draft, &errors), 0);
    assert_int_equal(s_draft(&b, &stored, &errors), 0);
    dedupe_comparison_t c;
    dedupe_compare(&draft, &stored, &c);
    Crm__Dedupe__DuplicateMatch *m = dedupe_match_new("id", &c);
    assert_int_equal(m->n_reasons, 3);
    assert_string_equal(m->reasons[0]->text, "same phone");
    assert_string_equal(m->reasons[1]->text, "similar first name (nickname)");
    assert_string_equal(m->reasons[2]->text, "similar last name (sound)");
    assert_true(m->score > 0.99 && m->score <= 1.0);
    crm__dedupe__duplicate_match__free_unpacked(m, NULL);
}

//  The prior from the tenant's size: a block's odds (2^-8) for a small or unknown
//  tenant, one expected match among the others for a large one.
static void test_prior_from_tenant_size(void **state) {
    (void)state;
    assert_true(dedupe_prior_log2(0) == DEDUPE_PRIOR_LOG2_ODDS);
    assert_true(dedupe_prior_log2(50) == DEDUPE_PRIOR_LOG2_ODDS);
    assert_true(dedupe_prior_log2(257) == DEDUPE_PRIOR_LOG2_ODDS);
    assert_true(fabs(dedupe_prior_log2(1001) - log2(1.0 / 1000)) < 1e-9);
    assert_true(fabs(dedupe_prior_log2(1000001) - log2(1.0 / 1000000)) < 1e-9);
    assert_true(dedupe_prior_log2(1000001) < dedupe_prior_log2(10001));
}

//  A name's agreement weighs by how common it is in the tenant; an identifier's says as
//  much at any size (its weight grows as the prior falls); the rest as the table says.
static void test_frequency_weights(void **state) {
    (void)state;
    const long big = 1000001;
    //  Unknown counts: the table's figures.
    assert_true(dedupe_weight_in(DEDUPE_FIELD_LAST_NAME, DEDUPE_EXACT, 0, 0) ==
                dedupe_weight(DEDUPE_FIELD_LAST_NAME, DEDUPE_EXACT));
    //  A rare last name says more than a common one; both more than the table's in a
    //  large tenant when rarer than the table's 2 in 100.
    double rare = dedupe_weight_in(DEDUPE_FIELD_LAST_NAME, DEDUPE_EXACT, 2, big);
    double common = dedupe_weight_in(DEDUPE_FIELD_LAST_NAME, DEDUPE_EXACT, 10000, big);
    double very = dedupe_weight_in(DEDUPE_FIELD_FIRST_NAME, DEDUPE_EXACT, 80000, big);
    assert_true(rare > common && common > very);
    assert_true(fabs(common - log2(0.85 / ((10000 + 100 * 0.02) / (big + 100.0)))) < 1e-9);
    assert_true(rare > 17); // 0.85 / ((2 + 2) / 1,000,101)
    //  A name nearly everyone has says nothing (never less than nothing).
    assert_true(dedupe_weight_in(DEDUPE_FIELD_FIRST_NAME, DEDUPE_EXACT, 990000, big) == 0);
    //  In a small tenant its few counts weigh little against the table's figure.
    double small = dedupe_weight_in(DEDUPE_FIELD_LAST_NAME, DEDUPE_EXACT, 1, 10);
    assert_true(fabs(small - dedupe_weight(DEDUPE_FIELD_LAST_NAME, DEDUPE_EXACT)) < 0.5);
    //  An identifier: weight plus prior the same at any size.
    for (int f = DEDUPE_FIELD_EMAIL; f <= DEDUPE_FIELD_PHONE; f++) {
        double at_big = dedupe_weight_in(f, DEDUPE_EXACT, 0, big) + dedupe_prior_log2(big);
        double at_none = dedupe_weight(f, DEDUPE_EXACT) + DEDUPE_PRIOR_LOG2_ODDS;
        assert_true(fabs(at_big - at_none) < 1e-6);
    }
    //  A postcode is one of as many values in any tenant; disagreements as the table.
    assert_true(dedupe_weight_in(DEDUPE_FIELD_POSTCODE, DEDUPE_EXACT, 0, big) ==
                dedupe_weight(DEDUPE_FIELD_POSTCODE, DEDUPE_EXACT));
    assert_true(dedupe_weight_in(DEDUPE_FIELD_LAST_NAME, DEDUPE_DIFFERENT, 5, big) ==
                dedupe_weight(DEDUPE_FIELD_LAST_NAME, DEDUPE_DIFFERENT));
}

//  Compare two people as stored in a tenant of size contacts, each name held by the
//  given numbers of its contacts.
static double s_score_in(const s_person_t *a, const s_person_t *b, long size, long first_count,
                         long last_count) {
    dedupe_entry_t draft, stored;
    crm_errors_t errors = {0};
    assert_int_equal(s_draft(a, &draft, &errors), 0);
    assert_int_equal(s_draft(b, &stored, &errors), 0);
    stored.tenant_size = size;
    stored.first_count = first_count;
    stored.last_count = last_count;
    dedupe_comparison_t c;
    dedupe_compare(&draft, &stored, &c);
    return c.score;
}

//  The same common name and nothing else is two people in a large tenant, and was a
//  match before (the table's figures); a rare one with the same postcode is one person;
//  the same phone or email is one person at any size.
static void test_common_names_in_a_large_tenant(void **state) {
    (void)state;
    s_person_t john = {"John", "Smith", NULL, NULL, "94105", "JN", "SM0"};
    s_person_t john_elsewhere = {"John", "Smith", NULL, "(202) 555-0100", "20500", "JN", "SM0"};
    s_person_t john_here = {"John", "Smith", NULL, NULL, "94105", "JN", "SM0"};
    //  As before (no counts): the same name alone is a match.
    assert_true(s_score_in(&john, &john_here, 0, 0, 0) >= 0.5);
    //  4,500 contacts, one in forty a John, one in sixty a Smith: not enough alone, nor
    //  with the same postcode and another phone.
    assert_true(s_score_in(&john, &john_elsewhere, 4500, 110, 75) < 0.5);
    //  A million contacts: the same common name at the same postcode says little.
    assert_true(s_score_in(&john, &john_here, 1000001, 30000, 10000) < 0.5);
    //  A rare name at the same postcode is one person, even among a million.
    s_person_t zd = {"Zbigniew", "Dzierzynski", NULL, NULL, "94105", "SPKN", "TSRS"};
    assert_true(s_score_in(&zd, &zd, 1000001, 3, 2) >= 0.5);
    //  The same phone with the same common name, or the same email alone, at any size.
    s_person_t jp = {"John", "Smith", NULL, "+12025550100", NULL, "JN", "SM0"};
    s_person_t jp2 = {"John", "Smith", NULL, "(202) 555-0100", NULL, "JN", "SM0"};
    assert_true(s_score_in(&jp, &jp2, 1000001, 30000, 10000) >= 0.75);
    s_person_t e1 = {"", "", "pat.lee@example.net", NULL, NULL, "", ""};
    s_person_t e2 = {"Pat", "Lee", "pat.lee@example.net", NULL, NULL, "PT", "L"};
    assert_true(s_score_in(&e1, &e2, 1000001, 500, 900) >= 0.75);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_rules),  cmocka_unit_test(test_jaro_winkler),
        cmocka_unit_test(test_weights),      cmocka_unit_test(test_scores),
        cmocka_unit_test(test_reason_words), cmocka_unit_test(test_prior_from_tenant_size),
        cmocka_unit_test(test_frequency_weights),
        cmocka_unit_test(test_common_names_in_a_large_tenant),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
