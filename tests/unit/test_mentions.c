/*  Unit tests for mentions.h: which @handles a note's text mentions. Each table row
    doubles as an example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "mentions.h"

//  The mentions of text joined with commas ("" for none).
static const char *s_mentions(const char *text) {
    static char joined[CRM_MENTIONS_MAX * (CRM_MENTION_MAX_LEN + 1) + 1];
    crm_mention_t found[CRM_MENTIONS_MAX];
    size_t n = crm_mentions_parse(text, found, CRM_MENTIONS_MAX);
    joined[0] = 0;
    for (size_t i = 0; i < n; i++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", i ? "," : "",
                 found[i]);
    return joined;
}

static const struct {
    const char *text;
    const char *mentions;
} s_cases[] = {
    {"", ""},
    {"no mention here", ""},
    {"@sam", "sam"},
    {"thanks @sam.", "sam"},
    {"thanks @sam...", "sam"},
    {"ask @jo-ann about it", "jo-ann"},
    {"see @sam-, then", "sam"},
    {"@sam.- done", "sam"},
    {"@a.b_c-d", "a.b_c-d"},
    {"@sam's car", "sam"},
    {"(@sam) [@jo] {@kim}", "sam,jo,kim"},
    {"cc:@sam;@jo", "sam,jo"},
    {"line one\n@sam\t@jo", "sam,jo"},
    {"@@sam", "sam"},
    //  Distinct, without regard to case, in order of first appearance, lower-cased.
    {"@Sam and @jo, then @SAM again and @sam", "sam,jo"},
    {"@ZED @amy", "zed,amy"},
    //  Addresses and words glued to the '@' are not mentions.
    {"mail jo@example.com", ""},
    {"x_@sam x.@sam x-@sam 9@sam", ""},
    {"@sam@jo", "sam"},
    //  Nothing usable after the '@'.
    {"@", ""},
    {"a @ b", ""},
    {"@. @- @.-", ""},
    {"@_", "_"},
    //  Letters of other scripts glued to either side.
    {"Jos\xc3\xa9@sam", ""},               // é
    {"\xe7\x94\xb0\xe4\xb8\xad@sam", ""},  // 田中
    {"@jos\xc3\xa9 is not @jos", "jos"},   // @josé: not "jos"; the second is
    {"@sam\xe7\x94\xb0", ""},              // @sam田
    //  Punctuation, spaces and symbols of other scripts around it are not letters.
    {"\xe2\x80\x94@sam", "sam"},                           // —@sam
    {"\xe2\x80\x9c@sam\xe2\x80\x9d", "sam"},               // “@sam”
    {"@sam\xe2\x80\x99s car", "sam"},                      // @sam’s
    {"\xc2\xa0@sam\xc2\xa0", "sam"},                       // no-break spaces
    {"\xf0\x9f\x8e\x89@sam\xf0\x9f\x8e\x89", "sam"},       // 🎉@sam🎉
};

static void test_table(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        const char *got = s_mentions(s_cases[i].text);
        if (strcmp(got, s_cases[i].mentions) != 0)
            fail_msg("\"%s\": mentions \"%s\", expected \"%s\"", s_cases[i].text, got,
                     s_cases[i].mentions);
    }
}

//  A handle of 64 characters is one; of 65 it is none, not a shorter one.
static void test_handle_length(void **state) {
    (void)state;
    char handle[CRM_MENTION_MAX_LEN + 2], text[200];
    memset(handle, 'a', CRM_MENTION_MAX_LEN);
    handle[CRM_MENTION_MAX_LEN] = 0;
    snprintf(text, sizeof text, "hi @%s.", handle);  // the full stop is dropped first
    assert_string_equal(s_mentions(text), handle);
    handle[CRM_MENTION_MAX_LEN] = 'b';
    handle[CRM_MENTION_MAX_LEN + 1] = 0;
    snprintf(text, sizeof text, "hi @%s and @kim", handle);
    assert_string_equal(s_mentions(text), "kim");
}

//  At most max mentions: the first ones.
static void test_at_most_max(void **state) {
    (void)state;
    char text[2000] = "";
    for (int i = 0; i < 60; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "@m%02d @m00 ", i);
    crm_mention_t found[CRM_MENTIONS_MAX];
    assert_int_equal(crm_mentions_parse(text, found, CRM_MENTIONS_MAX), CRM_MENTIONS_MAX);
    assert_string_equal(found[0], "m00");
    assert_string_equal(found[1], "m01");
    assert_string_equal(found[49], "m49");
    assert_int_equal(crm_mentions_parse(text, found, 3), 3);
    assert_string_equal(found[2], "m02");
    assert_int_equal(crm_mentions_parse(text, found, 0), 0);
}

//  A team member's handle is one a mention names as written: what the parser returns.
static const struct {
    const char *handle;
    bool valid;
} s_handles[] = {
    {"sam", true},   {"jo-ann", true}, {"a.b_c-d", true},      {"x", true},
    {"r2d2", true},  {"_sam", true},   {".sam", true},         {"", false},
    {"Sam", false},  {"sam.", false},  {"sam-", false},        {"sam lee", false},
    {"@sam", false}, {"s@m", false},   {"jos\xc3\xa9", false}, {"sam!", false},
};

static void test_handle_valid(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_handles / sizeof s_handles[0]; i++)
        if (crm_mention_handle_valid(s_handles[i].handle) != s_handles[i].valid)
            fail_msg("\"%s\": expected %s", s_handles[i].handle,
                     s_handles[i].valid ? "valid" : "invalid");
    char handle[CRM_MENTION_MAX_LEN + 2];
    memset(handle, 'a', CRM_MENTION_MAX_LEN);
    handle[CRM_MENTION_MAX_LEN] = 0;
    assert_true(crm_mention_handle_valid(handle));
    handle[CRM_MENTION_MAX_LEN] = 'a';
    handle[CRM_MENTION_MAX_LEN + 1] = 0;
    assert_false(crm_mention_handle_valid(handle));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_handle_length),
        cmocka_unit_test(test_at_most_max),
        cmocka_unit_test(test_handle_valid),
    };
    return cmocka_run_group_tests_name("mentions", tests, NULL, NULL);
}
