/*  Unit tests for the scan's pieces (services/dedupe/group.c, score.c, normalize.c):
    grouping likely duplicate pairs (average linkage, no chains, at most ten), and the
    fields the scan added to the model: date of birth, street line and city, and names
    written first for last. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/dedupe/dedupe.h"

// --- grouping ---------------------------------------------------------------------------------

static void test_group_pairs_and_triangles(void **state) {
    (void)state;
    //  0-1 a pair; 2-3-4 a triangle; 5 alone.
    dedupe_link_t links[] = {{0, 1, 0.9}, {2, 3, 0.8}, {3, 4, 0.7}, {2, 4, 0.6}};
    int group_of[6];
    assert_int_equal(dedupe_group(6, links, 4, DEDUPE_GROUP_MAX, group_of), 2);
    assert_true(group_of[0] >= 0 && group_of[0] == group_of[1]);
    assert_true(group_of[2] >= 0 && group_of[2] == group_of[3] && group_of[3] == group_of[4]);
    assert_int_not_equal(group_of[0], group_of[2]);
    assert_int_equal(group_of[5], -1);
}

static void test_group_no_chains(void **state) {
    (void)state;
    //  A chain 0-1-2-3-4 of look-alikes: each only like its neighbours. Three may join
    //  (the third is like one of two: half the pairs), the fourth may not (one of three).
    dedupe_link_t links[] = {{0, 1, 0.95}, {1, 2, 0.9}, {2, 3, 0.85}, {3, 4, 0.8}};
    int group_of[5];
    size_t groups = dedupe_group(5, links, 4, DEDUPE_GROUP_MAX, group_of);
    assert_int_equal(groups, 2);
    assert_true(group_of[0] == group_of[1] && group_of[1] == group_of[2]);
    assert_true(group_of[3] == group_of[4] && group_of[3] != group_of[0]);
}

static void test_group_best_link_first(void **state) {
    (void)state;
    //  1 is like 0 a little and like 2 a lot: it goes with 2; 0 cannot join (one of two
    //  is half: it may), so all three, through the weaker link last.
    dedupe_link_t links[] = {{0, 1, 0.55}, {1, 2, 0.99}};
    int group_of[3];
    assert_int_equal(dedupe_group(3, links, 2, DEDUPE_GROUP_MAX, group_of), 1);
    //  With a limit of two, the strong pair stays together and 0 is left out.
    assert_int_equal(dedupe_group(3, links, 2, 2, group_of), 1);
    assert_true(group_of[1] == group_of[2] && group_of[1] >= 0);
    assert_int_equal(group_of[0], -1);
}

static void test_group_at_most_max(void **state) {
    (void)state;
    //  Twelve records all alike: ten in a group, the other two a pair.
    dedupe_link_t links[66];
    size_t n = 0;
    for (uint32_t a = 0; a < 12; a++)
        for (uint32_t b = a + 1; b < 12; b++)
            links[n++] = (dedupe_link_t){a, b, 0.9};
    int group_of[12];
    assert_int_equal(dedupe_group(12, links, n, DEDUPE_GROUP_MAX, group_of), 2);
    int sizes[2] = {0, 0};
    for (int i = 0; i < 12; i++) {
        assert_true(group_of[i] == 0 || group_of[i] == 1);
        sizes[group_of[i]]++;
    }
    assert_true((sizes[0] == 10 && sizes[1] == 2) || (sizes[0] == 2 && sizes[1] == 10));
    assert_int_equal(dedupe_group(0, links, 0, DEDUPE_GROUP_MAX, group_of), 0);
}

// --- the fields ----------------------------------------------------------------------------------

static void test_birth_date(void **state) {
    (void)state;
    char key[DEDUPE_BIRTH_DATE_MAX];
    dedupe_birth_date_key("1980-03-04", key);
    assert_string_equal(key, "19800304");
    dedupe_birth_date_key("1980-3-4", key);
    assert_string_equal(key, "");
    dedupe_birth_date_key(NULL, key);
    assert_string_equal(key, "");
    assert_int_equal(dedupe_birth_date_level("19800304", "19800304"), DEDUPE_EXACT);
    assert_int_equal(dedupe_birth_date_level("19800304", "19800403"), DEDUPE_CLOSE); // d/m
    assert_int_equal(dedupe_birth_date_level("19800304", "19800305"), DEDUPE_CLOSE); // digit
    assert_int_equal(dedupe_birth_date_level("19800304", "19083004"), DEDUPE_DIFFERENT);
    assert_int_equal(dedupe_birth_date_level("19800304", "18900304"), DEDUPE_CLOSE); // swap
    assert_int_equal(dedupe_birth_date_level("19800304", "19751122"), DEDUPE_DIFFERENT);
    assert_int_equal(dedupe_birth_date_level("", "19751122"), DEDUPE_MISSING);
}

static void test_street(void **state) {
    (void)state;
    char a[DEDUPE_STREET_MAX], b[DEDUPE_STREET_MAX];
    assert_int_equal(dedupe_street_key("12 Main Street", a, sizeof a), 0);
    assert_string_equal(a, "12 main st");
    assert_int_equal(dedupe_street_key("12, main st.", b, sizeof b), 0);
    assert_string_equal(b, "12 main st");
    assert_int_equal(dedupe_street_key("1600 Pennsylvania Avenue North-West", a, sizeof a), 0);
    assert_string_equal(a, "1600 pennsylvania ave n w");
    assert_int_equal(dedupe_street_key("Hauptstraße 5", a, sizeof a), 0);
    assert_string_equal(a, "hauptstrasse 5");
    assert_int_equal(dedupe_street_key("", a, sizeof a), 0);
    assert_string_equal(a, "");
    assert_int_equal(dedupe_street_level("12 main st", "12 main st"), DEDUPE_EXACT);
    assert_int_equal(dedupe_street_level("12 main st", "12 mian st"), DEDUPE_CLOSE);
    assert_int_equal(dedupe_street_level("12 main st", "main st"), DEDUPE_CLOSE); // no number
    assert_int_equal(dedupe_street_level("12 main st", "14 main st"), DEDUPE_DIFFERENT);
    assert_int_equal(dedupe_street_level("12 main st", "12 oak ave"), DEDUPE_DIFFERENT);
    assert_int_equal(dedupe_street_level("", "12 oak ave"), DEDUPE_MISSING);
}

//  An entry as the index keeps it.
static void s_entry(dedupe_entry_t *e, const char *first, const char *last, const char *dob,
                    const char *street, const char *city, const char *postcode,
                    const char *first_ph, const char *last_ph) {
    memset(e, 0, sizeof *e);
    snprintf(e->first, sizeof e->first, "%s", first);
    snprintf(e->last, sizeof e->last, "%s", last);
    snprintf(e->first_groups[0], sizeof e->first_groups[0], "%s", first);
    e->n_first_groups = first[0] ? 1 : 0;
    snprintf(e->birth_date, sizeof e->birth_date, "%s", dob);
    if (street[0]) {
        snprintf(e->streets[0], sizeof e->streets[0], "%s", street);
        e->n_streets = 1;
    }
    if (city[0]) {
        snprintf(e->cities[0], sizeof e->cities[0], "%s", city);
        e->n_cities = 1;
    }
    if (postcode[0]) {
        snprintf(e->postcodes[0], sizeof e->postcodes[0], "%s", postcode);
        e->n_postcodes = 1;
    }
    snprintf(e->first_phonetic, sizeof e->first_phonetic, "%s", first_ph);
    snprintf(e->last_phonetic, sizeof e->last_phonetic, "%s", last_ph);
}

static bool s_reason(const Crm__Dedupe__DuplicateMatch *m, const char *field, const char *level) {
    for (size_t i = 0; i < m->n_reasons; i++)
        if (strcmp(m->reasons[i]->field, field) == 0 && strcmp(m->reasons[i]->level, level) == 0)
            return true;
    return false;
}

static void test_swapped_names(void **state) {
    (void)state;
    dedupe_entry_t a, b;
    s_entry(&a, "nguyen", "van", "19700101", "", "", "", "NKN", "FN");
    s_entry(&b, "van", "nguyen", "19700101", "", "", "", "FN", "NKN");
    dedupe_comparison_t c;
    dedupe_compare(&a, &b, &c);
    assert_true(c.swapped);
    assert_int_equal(c.levels[DEDUPE_FIELD_FIRST_NAME], DEDUPE_EXACT);
    assert_int_equal(c.levels[DEDUPE_FIELD_LAST_NAME], DEDUPE_EXACT);
    assert_true(c.score >= 0.5);
    Crm__Dedupe__DuplicateMatch *m = dedupe_match_new("x", &c);
    assert_true(s_reason(m, "nameOrder", "swapped"));
    assert_true(s_reason(m, "dateOfBirth", "exact"));
    assert_string_equal(m->summary, "same name (first and last swapped) and same date of birth");
    crm__dedupe__duplicate_match__free_unpacked(m, NULL);
    //  Names in order are not a swap.
    dedupe_compare(&a, &a, &c);
    assert_false(c.swapped);
}

static void test_address_and_birth_date_decide(void **state) {
    (void)state;
    dedupe_entry_t a, b;
    //  The same person, retyped: a typo in the street, the date's day and month swapped.
    s_entry(&a, "kayla", "harrington", "19150612", "12 maltby cct", "coolaroo", "3465", "KL",
            "HRNK");
    s_entry(&b, "kayla", "harington", "19151206", "12 maltbY cct", "coolaroo", "3465", "KL",
            "HRNK");
    dedupe_comparison_t c;
    dedupe_compare(&a, &b, &c);
    assert_int_equal(c.levels[DEDUPE_FIELD_BIRTH_DATE], DEDUPE_CLOSE);
    assert_int_equal(c.levels[DEDUPE_FIELD_ADDRESS], DEDUPE_CLOSE);
    assert_int_equal(c.levels[DEDUPE_FIELD_CITY], DEDUPE_MISSING); // the postcode says it
    assert_true(c.score >= 0.5);
    //  Namesakes: the same name, another date of birth, street and postcode.
    s_entry(&b, "kayla", "harrington", "19620304", "40 oak ave", "reservoir", "3073", "KL",
            "HRNK");
    dedupe_compare(&a, &b, &c);
    assert_true(c.score < 0.5);
    //  A household: another first name at the same street, postcode and city.
    s_entry(&b, "peter", "harrington", "19180101", "12 maltby cct", "coolaroo", "3465", "PTR",
            "HRNK");
    dedupe_compare(&a, &b, &c);
    assert_true(c.score < 0.5);
    //  A postcode mistyped: the city counts where the postcode does not.
    s_entry(&b, "kayla", "harrington", "19150612", "12 maltby cct", "coolaroo", "3466", "KL",
            "HRNK");
    dedupe_compare(&a, &b, &c);
    assert_int_equal(c.levels[DEDUPE_FIELD_CITY], DEDUPE_EXACT);
    assert_true(c.score >= 0.5);
}

static void test_fingerprint(void **state) {
    (void)state;
    dedupe_entry_t a, b;
    s_entry(&a, "ann", "lee", "19800304", "1 main st", "", "", "AN", "L");
    b = a;
    char fa[DEDUPE_FINGERPRINT_MAX], fb[DEDUPE_FINGERPRINT_MAX];
    dedupe_entry_fingerprint(&a, fa);
    dedupe_entry_fingerprint(&b, fb);
    assert_string_equal(fa, fb);
    assert_int_equal(strlen(fa), 16);
    snprintf(b.birth_date, sizeof b.birth_date, "19800305");
    dedupe_entry_fingerprint(&b, fb);
    assert_string_not_equal(fa, fb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_pairs_and_triangles),
        cmocka_unit_test(test_group_no_chains),
        cmocka_unit_test(test_group_best_link_first),
        cmocka_unit_test(test_group_at_most_max),
        cmocka_unit_test(test_birth_date),
        cmocka_unit_test(test_street),
        cmocka_unit_test(test_swapped_names),
        cmocka_unit_test(test_address_and_birth_date_decide),
        cmocka_unit_test(test_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
