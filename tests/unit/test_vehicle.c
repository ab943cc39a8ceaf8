/*  Unit tests for vehicle.h: the model years taken (at both bounds), the length of a
    make or model, and VINs normalised or refused. Each case doubles as an example. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vehicle.h"

static int s_this_year(void) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return tm.tm_year + 1900;
}

//  From 1886 (the first production car) to this year + 2; 0 means "not given" and is fine.
static void test_year_bounds(void **state) {
    (void)state;
    char rule[64], expected[64];
    int last = s_this_year() + 2;
    assert_int_equal(crm_vehicle_last_year(), last);
    snprintf(expected, sizeof expected, "must be from 1886 to %d", last);

    assert_null(crm_vehicle_year_check(0, rule, sizeof rule));
    assert_null(crm_vehicle_year_check(1886, rule, sizeof rule));
    assert_null(crm_vehicle_year_check(1900, rule, sizeof rule));
    assert_null(crm_vehicle_year_check(2015, rule, sizeof rule));
    assert_null(crm_vehicle_year_check((uint32_t)last, rule, sizeof rule));

    assert_string_equal(crm_vehicle_year_check(1885, rule, sizeof rule), expected);
    assert_string_equal(crm_vehicle_year_check(1, rule, sizeof rule), expected);
    assert_string_equal(crm_vehicle_year_check((uint32_t)last + 1, rule, sizeof rule), expected);
    assert_string_equal(crm_vehicle_year_check(UINT32_MAX, rule, sizeof rule), expected);
    //  The message is written into the caller's buffer.
    assert_ptr_equal(crm_vehicle_year_check(1800, rule, sizeof rule), rule);
}

//  Up to 60 characters (not bytes: "é" is one).
static void test_text_length(void **state) {
    (void)state;
    char text[4 * 61 + 1];
    assert_null(crm_vehicle_text_check(""));
    assert_null(crm_vehicle_text_check("Toyota"));
    memset(text, 'x', 60);
    text[60] = 0;
    assert_null(crm_vehicle_text_check(text));
    text[60] = 'x';
    text[61] = 0;
    assert_string_equal(crm_vehicle_text_check(text), "must be at most 60 characters");
    text[0] = 0;
    for (int i = 0; i < 60; i++)
        strcat(text, "\xc3\xa9"); // é: 120 bytes, 60 characters
    assert_null(crm_vehicle_text_check(text));
}

//  A valid VIN is upper-cased in place; an invalid one is left as given.
static void test_vin_normalize(void **state) {
    (void)state;
    char vin[32];
    vin[0] = 0; // not given
    assert_null(crm_vehicle_vin_normalize(vin));
    snprintf(vin, sizeof vin, "1hgcm82633a004352");
    assert_null(crm_vehicle_vin_normalize(vin));
    assert_string_equal(vin, "1HGCM82633A004352");
    snprintf(vin, sizeof vin, "1M8GDM9AXKP042788"); // check digit X
    assert_null(crm_vehicle_vin_normalize(vin));
    assert_string_equal(vin, "1M8GDM9AXKP042788");

    snprintf(vin, sizeof vin, "1hgcm82643a004352"); // ninth character should be 3
    assert_string_equal(crm_vehicle_vin_normalize(vin),
                        "has a wrong check digit (the ninth character)");
    assert_string_equal(vin, "1hgcm82643a004352");
    snprintf(vin, sizeof vin, "1HGCM82633A00435");
    assert_string_equal(crm_vehicle_vin_normalize(vin), "must be 17 characters");
    snprintf(vin, sizeof vin, "1HGCM8263OA004352"); // O is never in a VIN
    assert_string_equal(crm_vehicle_vin_normalize(vin),
                        "may hold only digits and letters other than I, O and Q");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_year_bounds),
        cmocka_unit_test(test_text_length),
        cmocka_unit_test(test_vin_normalize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
