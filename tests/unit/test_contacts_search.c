/*  Unit tests for the rules of the contact list and its search box
    (services/contacts/search.c): what a list request may ask for, the field each
    refusal names, and the values a search text becomes (what it looks like, its
    patterns, its tsquery, its words one slip away, the next cursor). Each table row is
    an example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/contacts/contacts.h"

#define ID "0190a5a0-0000-7000-8000-000000000001"
#define EMAIL CRM__CONTACTS__CHANNEL__CHANNEL_EMAIL
#define MARKETING CRM__CONTACTS__PURPOSE__PURPOSE_MARKETING
#define FOLLOW_UP CRM__CONTACTS__PURPOSE__PURPOSE_FOLLOW_UP

static const char *s_fields(const crm_errors_t *errors) {
    static char joined[512];
    joined[0] = 0;
    for (size_t e = 0; e < errors->n; e++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", e ? "," : "",
                 errors->items[e]->field);
    return joined;
}

static const struct {
    const char *q, *cursor, *created_from, *organization_id, *status;
    int channel, purpose;
    bool reachable;
    const char *fields; // refused, prefixed "filter." ("": accepted)
    long offset;
} s_cases[] = {
    {"", "", "", "", "", 0, 0, false, "", 0},
    {"", ID, "", "", "", 0, 0, false, "", 0},           // a list's cursor: an id
    {"smith", "s:50", "", "", "", 0, 0, false, "", 50}, // a search's: an offset
    {"smith", ID, "", "", "", 0, 0, false, "filter.cursor", 0},
    {"", "s:50", "", "", "", 0, 0, false, "filter.cursor", 0},
    {"smith", "s:10001", "", "", "", 0, 0, false, "filter.cursor", 0}, // 10,000 deep
    {"", "", "2026-11-01", "", "", 0, 0, false, "", 0},
    {"", "", "2026-11-01T10:00:00Z", "", "", 0, 0, false, "", 0},
    {"", "", "yesterday", "", "", 0, 0, false, "filter.createdFrom", 0},
    {"", "", "", "acme", "", 0, 0, false, "filter.organizationId", 0},
    {"", "", "", "", "", EMAIL, MARKETING, false, "", 0},
    {"", "", "", "", "", 0, MARKETING, false, "filter.consentChannel", 0},
    {"", "", "", "", "", EMAIL, 0, false, "filter.consentPurpose", 0},
    {"", "", "", "", "", EMAIL, 0, true, "", 0}, // reachable by email
    {"", "", "", "", "", 0, 0, true, "filter.consentChannel", 0},
    {"", "", "", "", "", EMAIL, FOLLOW_UP, false, "filter.consentPurpose", 0},
    {"", "", "", "", "maybe", EMAIL, MARKETING, false, "filter.consentStatus", 0},
    {"", "", "", "", "withdrawn", EMAIL, MARKETING, false, "", 0},
};

static void test_search_check(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        Crm__Contacts__ListContactsRequest req = CRM__CONTACTS__LIST_CONTACTS_REQUEST__INIT;
        req.q = (char *)s_cases[i].q;
        req.cursor = (char *)s_cases[i].cursor;
        req.created_from = (char *)s_cases[i].created_from;
        req.organization_id = (char *)s_cases[i].organization_id;
        req.consent_status = (char *)s_cases[i].status;
        req.consent_channel = s_cases[i].channel;
        req.consent_purpose = s_cases[i].purpose;
        req.reachable = s_cases[i].reachable;
        crm_errors_t errors = {0};
        long offset = -1;
        int rc = contacts_search_check(&req, "filter.", &offset, &errors);
        if (strcmp(s_fields(&errors), s_cases[i].fields) != 0)
            fail_msg("case %zu: refused [%s], expected [%s]", i, s_fields(&errors),
                     s_cases[i].fields);
        assert_int_equal(rc, s_cases[i].fields[0] ? -1 : 0);
        if (rc == 0)
            assert_int_equal(offset, s_cases[i].offset);
        crm_errors_reset(&errors);
    }
}

//  A search text of more than 200 characters is refused.
static void test_search_text_length(void **state) {
    (void)state;
    char q[202];
    memset(q, 'a', 201);
    q[201] = 0;
    Crm__Contacts__ListContactsRequest req = CRM__CONTACTS__LIST_CONTACTS_REQUEST__INIT;
    req.q = q;
    crm_errors_t errors = {0};
    long offset;
    assert_int_equal(contacts_search_check(&req, "", &offset, &errors), -1);
    assert_string_equal(s_fields(&errors), "q");
    crm_errors_reset(&errors);
    req.q = "  Ann Lee  ";
    char text[64];
    contacts_search_text(&req, text, sizeof text);
    assert_string_equal(text, "Ann Lee"); // trimmed
}

static const struct {
    const char *q;
    bool phone;
    const char *digits;
} s_phone_cases[] = {
    {"+1 (555) 010-0199", true, "15550100199"},
    {"0199", true, "0199"},
    {"55", false, ""}, // fewer than 3 digits: words
    {"ann@example.com", false, ""},
    {"Route 66", false, ""},
};

static void test_search_phone_like(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_phone_cases / sizeof s_phone_cases[0]; i++) {
        char digits[64] = "";
        bool phone = contacts_search_phone_like(s_phone_cases[i].q, digits, sizeof digits);
        if (phone != s_phone_cases[i].phone)
            fail_msg("case %zu ('%s')", i, s_phone_cases[i].q);
        if (phone)
            assert_string_equal(digits, s_phone_cases[i].digits);
    }
}

//  What a person types is a value, never SQL: LIKE's specials are literal, the
//  tsquery's words quoted.
static void test_search_values(void **state) {
    (void)state;
    char *p = contacts_search_contains_pattern("50%_Off\\");
    assert_string_equal(p, "%50\\%\\_off\\\\%");
    free(p);
    p = contacts_search_like_pattern("Ann.Lee@example.com", 8);
    assert_string_equal(p, "%ann.lee@%");
    free(p);
    p = contacts_search_lower_dup("ÀNN Lee");
    assert_string_equal(p, "Ànn lee"); // ASCII lower-cased; the rest as typed
    free(p);
    p = contacts_search_prefix_tsquery("ann le");
    assert_string_equal(p, "'ann':* & 'le':*");
    free(p);
    p = contacts_search_prefix_tsquery("o'brien & !x");
    assert_string_equal(p, "'o':* & 'brien':* & 'x':*");
    free(p);
    assert_null(contacts_search_prefix_tsquery("&&& !"));
}

//  Each word as typed, then its spellings one slip away (words of 3 to 20 letters).
static void test_search_word_edits(void **state) {
    (void)state;
    int words = 0;
    char *edits = contacts_search_word_edits("Jmaes Li", &words);
    assert_int_equal(words, 2);
    assert_non_null(strstr(edits, "\"1:jmaes\""));
    assert_non_null(strstr(edits, "\"1:james\"")); // two swapped
    assert_non_null(strstr(edits, "\"1:jaes\""));  // one dropped
    assert_non_null(strstr(edits, "\"2:li\""));
    assert_null(strstr(edits, "\"2:l\"")); // too short for slips
    assert_int_equal(edits[0], '{');
    free(edits);
    edits = contacts_search_word_edits("a b c d e f", &words);
    assert_int_equal(words, 4); // the first 4 words count
    free(edits);
}

static void test_search_next_cursor(void **state) {
    (void)state;
    char *c = contacts_search_next_cursor(true, 50, 50, ID);
    assert_string_equal(c, "s:100");
    free(c);
    assert_null(contacts_search_next_cursor(true, 9950, 50, ID)); // no deeper than 10,000
    c = contacts_search_next_cursor(false, 0, 50, ID);
    assert_string_equal(c, ID);
    free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_check),      cmocka_unit_test(test_search_text_length),
        cmocka_unit_test(test_search_phone_like), cmocka_unit_test(test_search_values),
        cmocka_unit_test(test_search_word_edits), cmocka_unit_test(test_search_next_cursor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
