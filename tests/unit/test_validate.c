/*  Unit tests for validate.h: e-mail syntax and normalisation, phone numbers to E.164
    (libphonenumber), strict UTF-8. Each table row doubles as an example of the rules.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "validate.h"

// --------------------------------------------------------------------------------------
//  E-mail

static const char *s_valid_emails[] = {
    "jane@example.com",
    "jane.doe@example.com",
    "JANE.DOE@Example.COM",
    "jane+tag@example.co.uk",
    "j@x.io",
    "o'brien@example.ie",
    "user_name-1@sub-domain.example.org",
    "!#$%&'*+-/=?^_`{|}~@example.com",
    "1234567890@example.com",
    "jane@123.example.com",
    "jane@xn--bcher-kva.example",
    "\"jane.doe\"@example.com",
    "\"a\\ b\"@example.com",
    "\"john..doe\"@example.com",
    "\"a@b\"@example.com",
    "jane@[192.0.2.1]",
    "jane@[IPv6:2001:db8::1]",
    //  local part of exactly 64 bytes
    "1234567890123456789012345678901234567890123456789012345678901234@example.com",
    //  a label of exactly 63 bytes
    "jane@123456789012345678901234567890123456789012345678901234567890abc.com",
};

static const char *s_invalid_emails[] = {
    "",
    "plainaddress",
    "@example.com",
    "jane@",
    "jane@@example.com",
    "jane@exa@mple.com",
    "jane doe@example.com",
    " jane@example.com",
    "jane@example.com ",
    "jane@exam ple.com",
    "\"jane doe\"@example.com", //  bare space in a quoted local part: a typo in practice
    "\"\"@example.com",
    "\"unterminated@example.com",
    "\"a\"b@example.com",
    ".jane@example.com",
    "jane.@example.com",
    "ja..ne@example.com",
    "jane@example", //  no dot in the domain
    "jane@.example.com",
    "jane@example.com.",
    "jane@example..com",
    "jane@-example.com",
    "jane@example-.com",
    "jane@sub.-example.com",
    "jane@example.123", //  top-level label all digits
    "jane@192.168.1.1", //  an IP address needs brackets
    "jane@exa_mple.com",
    "jane@[192.0.2.256]",
    "jane@[IPv6:zz::1]",
    "jane@[192.0.2.1",
    "jane(comment)@example.com",
    "ja\"ne@example.com",
    "jane@example.com\n",
    "jané@example.com", //  internationalised addresses are not accepted
    "jane\\@example.com",
    "jane,doe@example.com",
    "<jane@example.com>",
    //  local part of 65 bytes
    "12345678901234567890123456789012345678901234567890123456789012345@example.com",
    //  a label of 64 bytes
    "jane@123456789012345678901234567890123456789012345678901234567890abcd.com",
};

static void test_email_valid_table(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_valid_emails / sizeof s_valid_emails[0]; i++) {
        if (!crm_email_valid(s_valid_emails[i]))
            fail_msg("expected valid: %s", s_valid_emails[i]);
    }
    for (size_t i = 0; i < sizeof s_invalid_emails / sizeof s_invalid_emails[0]; i++) {
        if (crm_email_valid(s_invalid_emails[i]))
            fail_msg("expected invalid: %s", s_invalid_emails[i]);
    }
    assert_false(crm_email_valid(NULL));
}

//  254 bytes in total is the limit: "jane@" + three 63-byte labels and a last label sized
//  to reach the length wanted.
static void s_long_address(char *out, size_t total) {
    strcpy(out, "jane@");
    for (int label = 0; label < 3; label++) {
        memset(out + strlen(out), 'a', 63);
        strcpy(out + 5 + (label + 1) * 63 + label, ".");
    }
    size_t used = strlen(out);
    memset(out + used, 'b', total - used);
    out[total] = 0;
}

static void test_email_total_length(void **state) {
    (void)state;
    char address[300];
    s_long_address(address, 254);
    assert_int_equal(strlen(address), 254);
    assert_true(crm_email_valid(address));
    s_long_address(address, 255);
    assert_int_equal(strlen(address), 255);
    assert_false(crm_email_valid(address));
}

static void test_email_normalize(void **state) {
    (void)state;
    char out[64];
    assert_int_equal(crm_email_normalize("Jane.Doe@Example.COM", out, sizeof out), 0);
    assert_string_equal(out, "Jane.Doe@example.com"); //  the local part keeps its case
    assert_int_equal(crm_email_normalize("\"A@B\"@Example.Com", out, sizeof out), 0);
    assert_string_equal(out, "\"A@B\"@example.com");
    assert_int_equal(crm_email_normalize("jane@[IPv6:2001:DB8::1]", out, sizeof out), 0);
    assert_string_equal(out, "jane@[ipv6:2001:db8::1]");

    //  Exactly fits (13 bytes + NUL), then one byte short.
    char small[14];
    assert_int_equal(crm_email_normalize("jane@EXA.com", small, 13), 0);
    assert_string_equal(small, "jane@exa.com");
    assert_int_equal(crm_email_normalize("jane@EXAM.com", small, 13), -1);
    assert_int_equal(crm_email_normalize("not an address", out, sizeof out), -1);
    assert_int_equal(crm_email_normalize(NULL, out, sizeof out), -1);
}

// --------------------------------------------------------------------------------------
//  Phone numbers

typedef struct {
    const char *input;
    const char *region;
    const char *e164;
} s_phone_ok_t;

static const s_phone_ok_t s_phones_ok[] = {
    {"(202) 555-0142", "US", "+12025550142"},
    {"202.555.0142", "US", "+12025550142"},
    {"+1 202-555-0142", "US", "+12025550142"},
    {"+1 202-555-0142", NULL, "+12025550142"}, //  no region needed with +country
    {"+44 20 7946 0958", "US", "+442079460958"},
    {"020 7946 0958", "GB", "+442079460958"},
    {"020 7946 0958", "gb", "+442079460958"},      //  region in lower case is accepted
    {"00 44 20 7946 0958", "DE", "+442079460958"}, //  international prefix of DE
    {"030 901820", "DE", "+4930901820"},
};

typedef struct {
    const char *input;
    const char *region;
    const char *reason;
} s_phone_bad_t;

static const s_phone_bad_t s_phones_bad[] = {
    {"123", "US", "is too short"},
    {"abc", "US", "is not a number"},
    {"+999 1234", "US", "has an invalid country code"},
    {"", "US", "is not a number"},
    {"1234567890123456789012345678901234567890", "US", "is too long"},
    {"202 555 0142", NULL, "has an invalid country code"}, //  no +country, no region
    {"(202) 555-014", "US", "is too short"},
    {"(123) 555-0142", "US", "is not a valid phone number"}, //  no area code starts with 1
    {"+1 202 555 01420", "US", "is too long"},
};

static void test_phone_to_e164(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_phones_ok / sizeof s_phones_ok[0]; i++) {
        char out[32] = "";
        const char *reason = "untouched";
        int rc = crm_phone_to_e164(s_phones_ok[i].input, s_phones_ok[i].region, out, sizeof out,
                                   &reason);
        if (rc != 0 || strcmp(out, s_phones_ok[i].e164) != 0)
            fail_msg("%s (%s): expected %s, got rc=%d out=\"%s\" reason=%s", s_phones_ok[i].input,
                     s_phones_ok[i].region ? s_phones_ok[i].region : "-", s_phones_ok[i].e164, rc,
                     out, reason ? reason : "(null)");
    }
}

static void test_phone_rejects(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_phones_bad / sizeof s_phones_bad[0]; i++) {
        char out[32] = "";
        const char *reason = NULL;
        int rc = crm_phone_to_e164(s_phones_bad[i].input, s_phones_bad[i].region, out, sizeof out,
                                   &reason);
        if (rc != -1 || !reason || strcmp(reason, s_phones_bad[i].reason) != 0)
            fail_msg("\"%s\": expected -1 \"%s\", got rc=%d reason=%s", s_phones_bad[i].input,
                     s_phones_bad[i].reason, rc, reason ? reason : "(null)");
    }
    const char *reason = NULL;
    char out[32];
    assert_int_equal(crm_phone_to_e164(NULL, "US", out, sizeof out, &reason), -1);
    assert_string_equal(reason, "is not a number");
    //  A NULL reason pointer is allowed.
    assert_int_equal(crm_phone_to_e164("abc", "US", out, sizeof out, NULL), -1);
}

static void test_phone_output_size(void **state) {
    (void)state;
    char out[13]; //  "+12025550142" is 12 bytes + NUL
    const char *reason = NULL;
    assert_int_equal(crm_phone_to_e164("(202) 555-0142", "US", out, sizeof out, &reason), 0);
    assert_string_equal(out, "+12025550142");
    assert_int_equal(crm_phone_to_e164("(202) 555-0142", "US", out, 12, &reason), -1);
    assert_non_null(reason);
}

// --------------------------------------------------------------------------------------
//  UTF-8

typedef struct {
    const char *bytes;
    size_t length;
    bool valid;
    const char *what;
} s_utf8_case_t;

#define S_UTF8(literal, valid, what)                                                               \
    { literal, sizeof literal - 1, valid, what }

static const s_utf8_case_t s_utf8_cases[] = {
    S_UTF8("", true, "empty"),
    S_UTF8("plain ascii", true, "ascii"),
    S_UTF8("caf\xc3\xa9", true, "2-byte e-acute"),
    S_UTF8("\xe2\x82\xac", true, "3-byte euro sign"),
    S_UTF8("\xf0\x9f\x9a\x97", true, "4-byte car emoji"),
    S_UTF8("\xc2\x80", true, "lowest 2-byte U+0080"),
    S_UTF8("\xe0\xa0\x80", true, "lowest 3-byte U+0800"),
    S_UTF8("\xed\x9f\xbf", true, "U+D7FF just below the surrogates"),
    S_UTF8("\xee\x80\x80", true, "U+E000 just above the surrogates"),
    S_UTF8("\xef\xbf\xbd", true, "U+FFFD"),
    S_UTF8("\xf4\x8f\xbf\xbf", true, "U+10FFFF, the last code point"),
    S_UTF8("a\0b", true, "embedded U+0000 is valid UTF-8"),
    S_UTF8("\xc0\xaf", false, "overlong '/' (2 bytes)"),
    S_UTF8("\xc1\xbf", false, "overlong U+007F"),
    S_UTF8("\xe0\x80\xaf", false, "overlong '/' (3 bytes)"),
    S_UTF8("\xe0\x9f\xbf", false, "overlong U+07FF"),
    S_UTF8("\xf0\x80\x80\xaf", false, "overlong '/' (4 bytes)"),
    S_UTF8("\xf0\x8f\xbf\xbf", false, "overlong U+FFFF"),
    S_UTF8("\xed\xa0\x80", false, "surrogate U+D800"),
    S_UTF8("\xed\xbf\xbf", false, "surrogate U+DFFF"),
    S_UTF8("\xf4\x90\x80\x80", false, "U+110000, above the last code point"),
    S_UTF8("\xf5\x80\x80\x80", false, "lead byte F5"),
    S_UTF8("\xff", false, "byte FF"),
    S_UTF8("\x80", false, "lone continuation byte"),
    S_UTF8("caf\xc3", false, "truncated 2-byte at the end"),
    S_UTF8("\xe2\x82", false, "truncated 3-byte"),
    S_UTF8("\xf0\x9f\x9a", false, "truncated 4-byte"),
    S_UTF8("\xe2\x82(", false, "3-byte with a bad third byte"),
    S_UTF8("\xc3\xa9\xa9", false, "extra continuation byte"),
};

static void test_utf8_valid(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_utf8_cases / sizeof s_utf8_cases[0]; i++) {
        const s_utf8_case_t *test = &s_utf8_cases[i];
        if (crm_utf8_valid(test->bytes, test->length) != test->valid)
            fail_msg("%s: expected %s", test->what, test->valid ? "valid" : "invalid");
    }
    //  The length bounds the check: a valid prefix of an invalid buffer is valid.
    assert_true(crm_utf8_valid("ok\xff", 2));
    assert_false(crm_utf8_valid("\xe2\x82\xac", 2));
    assert_true(crm_utf8_valid(NULL, 0));
    assert_false(crm_utf8_valid(NULL, 1));
}

static void test_utf8_char_len(void **state) {
    (void)state;
    assert_int_equal(crm_utf8_char_len("a", 1), 1);
    assert_int_equal(crm_utf8_char_len("\xc3\xa9x", 3), 2);
    assert_int_equal(crm_utf8_char_len("\xe2\x82\xac", 3), 3);
    assert_int_equal(crm_utf8_char_len("\xf0\x9f\x9a\x97", 4), 4);
    assert_int_equal(crm_utf8_char_len("\xf0\x9f\x9a\x97", 3), 0);
    assert_int_equal(crm_utf8_char_len("\xed\xa0\x80", 3), 0);
    assert_int_equal(crm_utf8_char_len("", 0), 0);
}

//  Length limits count characters, not bytes; blank means nothing but whitespace.
static void test_chars_and_blank(void **state) {
    (void)state;
    assert_int_equal(crm_utf8_chars(""), 0);
    assert_int_equal(crm_utf8_chars("Lee"), 3);
    assert_int_equal(crm_utf8_chars("Jos\xc3\xa9 \xe2\x82\xac\xf0\x9f\x9a\x97"), 7);
    assert_true(crm_text_blank(""));
    assert_true(crm_text_blank(" \t\r\n "));
    assert_false(crm_text_blank(" x "));
    assert_false(crm_text_blank("\xc3\xa9"));
}

static void test_text_trim(void **state) {
    (void)state;
    char a[] = "  Fleet desk \t\n", b[] = "plain", c[] = "   ", d[] = "";
    crm_text_trim(a);
    crm_text_trim(b);
    crm_text_trim(c);
    crm_text_trim(d);
    assert_string_equal(a, "Fleet desk");
    assert_string_equal(b, "plain");
    assert_string_equal(c, "");
    assert_string_equal(d, "");
    crm_text_trim((char *)"");  // a read-only empty string is not written
}

static void test_timestamp_valid(void **state) {
    (void)state;
    assert_true(crm_timestamp_valid("2026-11-22"));
    assert_true(crm_timestamp_valid("2026-11-22T08:30:00Z"));
    assert_true(crm_timestamp_valid("2026-11-22T08:30:00.123456Z"));
    assert_true(crm_timestamp_valid("2026-11-22T08:30:00+01:00"));
    assert_true(crm_timestamp_valid("2026-11-22T23:59:60-05:30"));
    assert_false(crm_timestamp_valid("2026-11-22T08:30Z"));
    assert_false(crm_timestamp_valid("2026-11-22T24:00:00Z"));
    assert_false(crm_timestamp_valid("2026-11-22T08:30:00"));
    assert_false(crm_timestamp_valid("2026-11-22T08:30:00.Z"));
    assert_false(crm_timestamp_valid("2026-11-22T08:30:00+0100"));
    assert_false(crm_timestamp_valid("2026-02-30"));
    assert_false(crm_timestamp_valid("yesterday"));
    assert_false(crm_timestamp_valid(""));
}

static void test_vin_check(void **state) {
    (void)state;
    //  Real VINs with valid check digits, one with X as its check digit.
    assert_null(crm_vin_check("1HGCM82633A004352"));
    assert_null(crm_vin_check("1M8GDM9AXKP042788"));
    assert_null(crm_vin_check("11111111111111111"));
    assert_null(crm_vin_check("1hgcm82633a004352"));  // lower case accepted
    assert_string_equal(crm_vin_check("1HGCM82643A004352"),
                        "has a wrong check digit (the ninth character)");
    assert_string_equal(crm_vin_check("1HGCM82633A00435"), "must be 17 characters");
    assert_string_equal(crm_vin_check(""), "must be 17 characters");
    assert_string_equal(crm_vin_check("1HGCM8263IA004352"),
                        "may hold only digits and letters other than I, O and Q");
    assert_string_equal(crm_vin_check("1HGCM82633A00435-"),
                        "may hold only digits and letters other than I, O and Q");
}

static void test_date_parse(void **state) {
    (void)state;
    int y, m, d;
    assert_true(crm_date_parse("1984-02-29", &y, &m, &d));
    assert_int_equal(y, 1984);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
    assert_true(crm_date_parse("2000-02-29", NULL, NULL, NULL));
    assert_false(crm_date_parse("1900-02-29", NULL, NULL, NULL));
    assert_false(crm_date_parse("1985-02-29", NULL, NULL, NULL));
    assert_false(crm_date_parse("1985-04-31", NULL, NULL, NULL));
    assert_false(crm_date_parse("1985-13-01", NULL, NULL, NULL));
    assert_false(crm_date_parse("1985-1-01", NULL, NULL, NULL));
    assert_false(crm_date_parse("85-01-01", NULL, NULL, NULL));
    assert_false(crm_date_parse("1985/01/01", NULL, NULL, NULL));
    assert_false(crm_date_parse("1985-01-0a", NULL, NULL, NULL));
    assert_false(crm_date_parse("", NULL, NULL, NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_valid_table), cmocka_unit_test(test_email_total_length),
        cmocka_unit_test(test_email_normalize),   cmocka_unit_test(test_phone_to_e164),
        cmocka_unit_test(test_phone_rejects),     cmocka_unit_test(test_phone_output_size),
        cmocka_unit_test(test_utf8_valid),        cmocka_unit_test(test_utf8_char_len),
        cmocka_unit_test(test_chars_and_blank),
        cmocka_unit_test(test_text_trim),         cmocka_unit_test(test_timestamp_valid),         cmocka_unit_test(test_vin_check),         cmocka_unit_test(test_date_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
