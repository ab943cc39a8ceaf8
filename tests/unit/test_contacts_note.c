/*  Unit tests for the rules of notes (services/contacts/note.c): what a body may be,
    what a list's cursor is, who may change a note, whom an edit newly mentions. Each
    table row is an example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../services/contacts/contacts.h"

static const struct {
    const char *body;
    const char *message; // the rule body breaks (NULL: accepted)
} s_body_cases[] = {
    {"Called about the trade-in.", NULL},
    {"  spaced  ", NULL},
    {"", "is required (a note cannot be empty or blank)"},
    {" \t\n", "is required (a note cannot be empty or blank)"},
    {"\xc2\xa0\xe2\x80\x83\xe3\x80\x80",
     "is required (a note cannot be empty or blank)"}, // NBSP, em, ideographic
    {"\xe2\x80\x8b\xef\xbb\xbf", "is required (a note cannot be empty or blank)"}, // zero-width
    {"\xff\xfe", "is not valid UTF-8"},
    {"caf\xc3", "is not valid UTF-8"},
};

static void test_note_body(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_body_cases / sizeof s_body_cases[0]; i++) {
        crm_errors_t errors = {0};
        int rc = contacts_note_body_check(s_body_cases[i].body, &errors);
        if (!s_body_cases[i].message) {
            if (rc != 0)
                fail_msg("case %zu: refused (%s)", i, errors.items[0]->message);
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(errors.n, 1);
            assert_string_equal(errors.items[0]->field, "body");
            assert_string_equal(errors.items[0]->message, s_body_cases[i].message);
        }
        crm_errors_reset(&errors);
    }
}

//  A body of 20,000 characters (not bytes) is accepted; one more is refused.
static void test_note_body_length(void **state) {
    (void)state;
    size_t n = 20000;
    char *body = malloc(2 * (n + 1) + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(body + 2 * i, "\xc3\xa9", 2); // é, two bytes
    body[2 * n] = 0;
    crm_errors_t errors = {0};
    assert_int_equal(contacts_note_body_check(body, &errors), 0);
    strcat(body, "e");
    assert_int_equal(contacts_note_body_check(body, &errors), -1);
    assert_string_equal(errors.items[0]->message,
                        "must be at most 20000 characters (it has 20001)");
    crm_errors_reset(&errors);
    free(body);
}

static const struct {
    const char *cursor;
    bool revisions;
    bool ok;
} s_cursor_cases[] = {
    {"", false, true},
    {"0190a5a0-0000-7000-8000-000000000001", false, true}, // the last note id
    {"12", false, false},
    {"", true, true},
    {"12", true, true}, // the last revision
    {"0190a5a0-0000-7000-8000-000000000001", true, false},
    {"-1", true, false},
};

static void test_note_cursor(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cursor_cases / sizeof s_cursor_cases[0]; i++) {
        crm_errors_t errors = {0};
        int rc = contacts_note_cursor_check(s_cursor_cases[i].cursor, s_cursor_cases[i].revisions,
                                            &errors);
        if ((rc == 0) != s_cursor_cases[i].ok)
            fail_msg("case %zu ('%s'): %s", i, s_cursor_cases[i].cursor,
                     rc ? "refused" : "accepted");
        if (rc)
            assert_string_equal(errors.items[0]->field, "cursor");
        crm_errors_reset(&errors);
    }
}

static const struct {
    const char *role, *actor;
    bool may;
} s_change_cases[] = {
    {"agent", "sam", true}, // the author
    {"agent", "jo", false}, // another agent
    {"manager", "jo", true},
    {"admin", "jo", true},
};

static void test_note_may_change(void **state) {
    (void)state;
    Crm__Contacts__Note note = CRM__CONTACTS__NOTE__INIT;
    note.author = "sam";
    for (size_t i = 0; i < sizeof s_change_cases / sizeof s_change_cases[0]; i++)
        assert_int_equal(
            contacts_note_may_change(s_change_cases[i].role, s_change_cases[i].actor, &note),
            s_change_cases[i].may);
}

//  An edit tells only those the revision before did not mention.
static void test_note_added_mentions(void **state) {
    (void)state;
    char *before_mentions[] = {"sam", "jo"};
    Crm__Contacts__Note before = CRM__CONTACTS__NOTE__INIT;
    before.mentions = before_mentions;
    before.n_mentions = 2;
    crm_mention_t now[3] = {"jo", "kim", "sam"}, added[3];
    size_t n = contacts_note_added_mentions(&before, now, 3, added);
    assert_int_equal(n, 1);
    assert_string_equal(added[0], "kim");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_note_body),           cmocka_unit_test(test_note_body_length),
        cmocka_unit_test(test_note_cursor),         cmocka_unit_test(test_note_may_change),
        cmocka_unit_test(test_note_added_mentions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
