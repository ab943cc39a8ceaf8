/*  Unit tests for page.h: page sizes (default, maximum, the field error), keyset cursors
    (round trip, another list's, malformed) and number cursors, and a few hundred random
    strings through the decoders, which must refuse them without crashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call_fixture.h"
#include "page.h"

static const char *s_id = "01a20269-a695-71c1-83c6-31a5bd5fa028";

//  0 asks for the default; up to the maximum is taken as asked; above it is an error on
//  the field named, and the maximum is used.
static void test_limit(void **state) {
    (void)state;
    crm_call_t call = {0};
    assert_int_equal(crm_page_limit(&call, "limit", 0, 50, 200), 50);
    assert_int_equal(crm_page_limit(&call, "limit", 1, 50, 200), 1);
    assert_int_equal(crm_page_limit(&call, "limit", 200, 50, 200), 200);
    assert_int_equal(call.errors.n, 0);

    assert_int_equal(crm_page_limit(&call, "limit", 201, 50, 200), 200);
    assert_int_equal(call.errors.n, 1);
    assert_string_equal(call.errors.items[0]->field, "limit");
    assert_string_equal(call.errors.items[0]->message, "must be at most 200");
    assert_string_equal(call.error, "validation_failed");
    call_fixture_reset(&call);

    //  A list inside a request names its own path; UINT32_MAX does not wrap.
    assert_int_equal(crm_page_limit(&call, "filter.limit", UINT32_MAX, CRM_PAGE_DEFAULT_LIMIT,
                                    CRM_PAGE_MAX_LIMIT),
                     CRM_PAGE_MAX_LIMIT);
    assert_string_equal(call.errors.items[0]->field, "filter.limit");
    call_fixture_reset(&call);
}

//  What crm_cursor_encode writes, crm_cursor_decode reads back, for its own sort only.
static void test_cursor_round_trip(void **state) {
    (void)state;
    crm_cursor_t c;
    char *text = crm_cursor_encode('v', "1795336200000000", s_id);
    assert_string_equal(text, "v.1795336200000000.01a20269-a695-71c1-83c6-31a5bd5fa028");
    assert_int_equal(crm_cursor_decode(text, 'v', &c), 0);
    assert_int_equal(c.sort, 'v');
    assert_string_equal(c.value, "1795336200000000");
    assert_string_equal(c.id, s_id);
    assert_int_equal(crm_cursor_decode(text, 't', &c), -1); // another list's
    free(text);

    text = crm_cursor_encode('c', "", s_id); // an order that needs no value
    assert_int_equal(crm_cursor_decode(text, 'c', &c), 0);
    assert_string_equal(c.value, "");
    assert_string_equal(c.id, s_id);
    free(text);

    //  The longest value that fits (23 digits).
    text = crm_cursor_encode('a', "12345678901234567890123", s_id);
    assert_int_equal(crm_cursor_decode(text, 'a', &c), 0);
    free(text);
}

static void test_cursor_malformed(void **state) {
    (void)state;
    static const char *bad[] = {
        "",
        "a",
        "a.",
        "a..",
        ".12.01a20269-a695-71c1-83c6-31a5bd5fa028",
        "a12.01a20269-a695-71c1-83c6-31a5bd5fa028",
        "a.-5.01a20269-a695-71c1-83c6-31a5bd5fa028",
        "a. 5.01a20269-a695-71c1-83c6-31a5bd5fa028",
        "a.12x.01a20269-a695-71c1-83c6-31a5bd5fa028",
        "a.123456789012345678901234.01a20269-a695-71c1-83c6-31a5bd5fa028",
        "a.12.not-an-id",
        "a.12.01a20269-a695-71c1-83c6-31a5bd5fa028x",
        "a.12.01a20269-a695-71c1-83c6-31a5bd5fa028.12",
        "a.12.01a20269a69571c183c631a5bd5fa028",
        "a.123456789012345678901234567.x",
    };
    crm_cursor_t c;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (crm_cursor_decode(bad[i], 'a', &c) != -1)
            fail_msg("\"%s\" was taken as a cursor", bad[i]);
        assert_int_equal(c.sort, 0); // *out is cleared, never half filled
    }
    assert_int_equal(crm_cursor_decode(NULL, 'a', &c), -1);
}

static void test_cursor_number(void **state) {
    (void)state;
    long long n = -1;
    assert_int_equal(crm_cursor_number("1", 1, 100, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(crm_cursor_number("100", 1, 100, &n), 0);
    assert_int_equal(n, 100);
    assert_int_equal(crm_cursor_number("0", 0, 9, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(crm_cursor_number("999999999999999999", 1, LLONG_MAX, &n), 0);

    static const char *bad[] = {
        "", "0", "101", "-1", "+5", " 5", "5 ", "5x", "0x10", "1e3", "9999999999999999999", "s:5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (crm_cursor_number(bad[i], 1, 100, &n) != -1)
            fail_msg("\"%s\" was taken as a number cursor", bad[i]);
    assert_int_equal(crm_cursor_number(NULL, 1, 100, &n), -1);
}

//  Random strings, of bytes and of the cursor's own characters, never crash a decoder;
//  one that decodes re-encodes to the same text.
static void test_cursor_fuzz(void **state) {
    (void)state;
    static const char alphabet[] = "ac.0123456789abcdef-x .";
    srand(16);
    char text[96];
    crm_cursor_t c;
    long long n;
    for (int round = 0; round < 600; round++) {
        size_t len = (size_t)(rand() % (int)(sizeof text - 1));
        for (size_t i = 0; i < len; i++)
            text[i] = round % 2 ? (char)(1 + rand() % 255)
                                : alphabet[rand() % (int)(sizeof alphabet - 1)];
        text[len] = 0;
        if (round % 3 == 0 && len > 2) { // often a well-formed start
            text[0] = 'a';
            text[1] = '.';
        }
        if (crm_cursor_decode(text, 'a', &c) == 0) {
            char *again = crm_cursor_encode(c.sort, c.value, c.id);
            assert_string_equal(again, text);
            free(again);
        }
        if (crm_cursor_number(text, 1, LLONG_MAX, &n) == 0)
            assert_true(n >= 1);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_cursor_malformed),
        cmocka_unit_test(test_cursor_number),
        cmocka_unit_test(test_cursor_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
