/*  Unit tests for quiet hours (services/notify/quiet.c) with the shipped data files
    (services/notify/data/) and an injected clock: the default window, the state windows
    (Florida, Texas's Sundays, Rhode Island's Saturdays, Sundays and holidays...), the
    tenant's window, the changes of clocks in spring and autumn, local days that are not
    UTC's, unknown zones; then where a recipient's zone comes from, the data files' checks,
    and many threads sharing one rules object. Times are written in local time with their
    offset, as a person reads them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../services/notify/quiet.h"

static notify_quiet_rules_t *s_rules;

//  The repository's data directory (the tests run from the top, or say where it is).
static void s_data_dir(char *path, size_t size) {
    const char *top = getenv("CRM_TOP_DIR");
    snprintf(path, size, "%s/%s", top ? top : ".", NOTIFY_QUIET_DATA_DIR);
}

static int s_setup(void **state) {
    (void)state;
    char dir[512], *error = NULL;
    s_data_dir(dir, sizeof dir);
    s_rules = notify_quiet_rules_new(dir, &error);
    if (!s_rules) {
        fprintf(stderr, "%s\n", error ? error : "could not load quiet hours");
        free(error);
        return -1;
    }
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    notify_quiet_rules_destroy(&s_rules);
    notify_quiet_rules_destroy(&s_rules); // idempotent
    return 0;
}

//  "2026-01-09T20:30-05:00" (a local time and its offset) in ms since 1970, UTC.
static int64_t s_ms(const char *text) {
    int y, mo, d, h, mi, oh, om;
    char sign;
    if (sscanf(text, "%d-%d-%dT%d:%d%c%d:%d", &y, &mo, &d, &h, &mi, &sign, &oh, &om) != 8)
        fail_msg("bad time in the test: %s", text);
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    int64_t offset = (oh * 60 + om) * 60 * (sign == '-' ? -1 : 1);
    return ((int64_t)timegm(&tm) - offset) * 1000;
}

//  ms since 1970 as "2026-01-10T13:00:00Z".
static const char *s_utc(int64_t ms, char *out, size_t size) {
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

// --- when: the table -----------------------------------------------------------------------

#define NY "America/New_York"
#define CHI "America/Chicago"

static const struct {
    const char *what;
    const char *zone;
    const char *state;
    const char *tenant_start, *tenant_end; // the tenant's window; NULL: none
    const char *now;                       // local, with its offset
    const char *allowed;                   // the same; NULL: never (-1)
} s_cases[] = {
    // The default window, 08:00-21:00.
    {"New York at noon: inside", NY, NULL, NULL, NULL, "2026-06-10T12:00-04:00",
     "2026-06-10T12:00-04:00"},
    {"New York at 07:59: 08:00", NY, NULL, NULL, NULL, "2026-06-10T07:59-04:00",
     "2026-06-10T08:00-04:00"},
    {"New York at 08:00: the start is inside", NY, NULL, NULL, NULL, "2026-06-10T08:00-04:00",
     "2026-06-10T08:00-04:00"},
    {"New York at 20:59: inside", NY, NULL, NULL, NULL, "2026-06-10T20:59-04:00",
     "2026-06-10T20:59-04:00"},
    {"New York at 21:00: the end is not", NY, NULL, NULL, NULL, "2026-06-10T21:00-04:00",
     "2026-06-11T08:00-04:00"},
    {"New York at 23:30: across midnight", NY, NULL, NULL, NULL, "2026-06-10T23:30-04:00",
     "2026-06-11T08:00-04:00"},
    {"New York at 00:30: later the same day", NY, NULL, NULL, NULL, "2026-06-11T00:30-04:00",
     "2026-06-11T08:00-04:00"},
    {"a state without rows keeps the default", NY, "NY", NULL, NULL, "2026-01-09T20:30-05:00",
     "2026-01-09T20:30-05:00"},

    // The states' windows.
    {"Miami at 20:30: Florida stops at 20:00", NY, "FL", NULL, NULL, "2026-01-09T20:30-05:00",
     "2026-01-10T08:00-05:00"},
    {"Los Angeles at 20:30 (23:30 in Miami): inside", "America/Los_Angeles", "CA", NULL, NULL,
     "2026-01-09T20:30-08:00", "2026-01-09T20:30-08:00"},
    {"a state by its name, any case", NY, "florida", NULL, NULL, "2026-01-09T20:30-05:00",
     "2026-01-10T08:00-05:00"},
    {"Oklahoma at 20:00", CHI, "OK", NULL, NULL, "2026-01-09T20:00-06:00",
     "2026-01-10T08:00-06:00"},
    {"Maryland at 20:10", NY, "MD", NULL, NULL, "2026-01-09T20:10-05:00", "2026-01-10T08:00-05:00"},
    {"New Jersey at 20:15", NY, "NJ", NULL, NULL, "2026-01-09T20:15-05:00",
     "2026-01-10T08:00-05:00"},
    {"Mississippi at 19:59: inside", CHI, "MS", NULL, NULL, "2026-01-09T19:59-06:00",
     "2026-01-09T19:59-06:00"},
    {"Mississippi on a Sunday: Monday 08:00", CHI, "MS", NULL, NULL, "2026-01-11T09:00-06:00",
     "2026-01-12T08:00-06:00"},
    {"Connecticut at 08:30: 09:00", NY, "CT", NULL, NULL, "2026-01-09T08:30-05:00",
     "2026-01-09T09:00-05:00"},
    {"Connecticut at 20:00: 09:00 the next day", NY, "CT", NULL, NULL, "2026-01-09T20:00-05:00",
     "2026-01-10T09:00-05:00"},
    {"Texas on a Sunday morning: noon", CHI, "TX", NULL, NULL, "2026-01-11T10:00-06:00",
     "2026-01-11T12:00-06:00"},
    {"Texas on a Sunday at 12:30: inside", CHI, "TX", NULL, NULL, "2026-01-11T12:30-06:00",
     "2026-01-11T12:30-06:00"},
    {"Texas on a Saturday at 08:30: 09:00", CHI, "TX", NULL, NULL, "2026-01-10T08:30-06:00",
     "2026-01-10T09:00-06:00"},
    {"Texas on a Saturday at 21:15: Sunday noon", CHI, "TX", NULL, NULL, "2026-01-10T21:15-06:00",
     "2026-01-11T12:00-06:00"},
    {"Rhode Island on a Friday at 18:30: Saturday 10:00", NY, "RI", NULL, NULL,
     "2026-01-09T18:30-05:00", "2026-01-10T10:00-05:00"},
    {"Rhode Island on a Saturday at 17:30: Monday 09:00, no Sundays", NY, "RI", NULL, NULL,
     "2026-01-10T17:30-05:00", "2026-01-12T09:00-05:00"},
    {"Rhode Island on a Sunday: Monday 09:00", NY, "RI", NULL, NULL, "2026-01-11T12:00-05:00",
     "2026-01-12T09:00-05:00"},
    {"Rhode Island on Martin Luther King Day (federal): Tuesday", NY, "RI", NULL, NULL,
     "2026-01-19T10:00-05:00", "2026-01-20T09:00-05:00"},
    {"New York on Martin Luther King Day: no holiday rule", NY, "NY", NULL, NULL,
     "2026-01-19T10:00-05:00", "2026-01-19T10:00-05:00"},
    {"Rhode Island on Memorial Day (the last Monday of May)", NY, "RI", NULL, NULL,
     "2026-05-25T09:30-04:00", "2026-05-26T09:00-04:00"},
    {"Rhode Island on Labor Day (the first Monday, the 7th)", NY, "RI", NULL, NULL,
     "2026-09-07T10:00-04:00", "2026-09-08T09:00-04:00"},
    {"Rhode Island on 2027-05-24, the Monday before Memorial Day: open", NY, "RI", NULL, NULL,
     "2027-05-24T10:00-04:00", "2027-05-24T10:00-04:00"},
    {"Rhode Island on Memorial Day 2027, the 31st", NY, "RI", NULL, NULL, "2027-05-31T10:00-04:00",
     "2027-06-01T09:00-04:00"},
    {"Rhode Island on Victory Day (the state's own)", NY, "RI", NULL, NULL,
     "2026-08-10T10:00-04:00", "2026-08-11T09:00-04:00"},
    {"Rhode Island: Independence Day on a Saturday, then Sunday: Monday", NY, "RI", NULL, NULL,
     "2026-07-03T18:30-04:00", "2026-07-06T09:00-04:00"},
    {"Rhode Island before Thanksgiving: Friday", NY, "RI", NULL, NULL, "2026-11-25T18:00-05:00",
     "2026-11-27T09:00-05:00"},
    {"Rhode Island on Christmas, a Friday: Saturday 10:00", NY, "RI", NULL, NULL,
     "2026-12-25T08:00-05:00", "2026-12-26T10:00-05:00"},

    // The changes of clocks (US: 2026-03-08 and 2026-11-01; UK: 2026-03-29; NZ: 2026-04-05).
    {"New York, the evening before the clocks go forward: 08:00 EDT", NY, NULL, NULL, NULL,
     "2026-03-07T21:30-05:00", "2026-03-08T08:00-04:00"},
    {"New York, that morning at 07:30 EDT", NY, NULL, NULL, NULL, "2026-03-08T07:30-04:00",
     "2026-03-08T08:00-04:00"},
    {"Chicago at 01:30, before the skipped hour", CHI, NULL, NULL, NULL, "2026-03-08T01:30-06:00",
     "2026-03-08T08:00-05:00"},
    {"Texas, Saturday night before the clocks go forward: Sunday noon CDT", CHI, "TX", NULL, NULL,
     "2026-03-07T22:00-06:00", "2026-03-08T12:00-05:00"},
    {"New York, the evening before the clocks go back: 08:00 EST", NY, NULL, NULL, NULL,
     "2026-10-31T21:30-04:00", "2026-11-01T08:00-05:00"},
    {"New York, 01:30 the second time (EST)", NY, NULL, NULL, NULL, "2026-11-01T01:30-05:00",
     "2026-11-01T08:00-05:00"},
    {"Texas, Saturday night before the clocks go back: Sunday noon CST", CHI, "TX", NULL, NULL,
     "2026-10-31T22:00-05:00", "2026-11-01T12:00-06:00"},
    {"London, the evening before summer time: 08:00 BST", "Europe/London", NULL, NULL, NULL,
     "2026-03-28T21:30+00:00", "2026-03-29T08:00+01:00"},
    {"Auckland, the evening before the clocks go back: 08:00 NZST", "Pacific/Auckland", NULL, NULL,
     NULL, "2026-04-04T21:30+13:00", "2026-04-05T08:00+12:00"},

    // Local days that are not UTC's.
    {"Tokyo, Friday 21:30 (12:30 UTC): Saturday 08:00, still Friday in UTC", "Asia/Tokyo", NULL,
     NULL, NULL, "2026-01-09T21:30+09:00", "2026-01-10T08:00+09:00"},
    {"Kolkata at 07:30 (+05:30): 08:00", "Asia/Kolkata", NULL, NULL, NULL, "2026-01-09T07:30+05:30",
     "2026-01-09T08:00+05:30"},
    {"Honolulu in July (no summer time) at 07:00", "Pacific/Honolulu", "HI", NULL, NULL,
     "2026-07-01T07:00-10:00", "2026-07-01T08:00-10:00"},
    {"Los Angeles at 21:30 on Saturday (Sunday in UTC): Sunday 08:00", "America/Los_Angeles", NULL,
     NULL, NULL, "2026-01-10T21:30-08:00", "2026-01-11T08:00-08:00"},

    // The tenant's window narrows the law's.
    {"tenant 10:00-18:00 at 09:00: 10:00", NY, NULL, "10:00", "18:00", "2026-06-10T09:00-04:00",
     "2026-06-10T10:00-04:00"},
    {"tenant 10:00-18:00 at 18:30: 10:00 the next day", NY, NULL, "10:00", "18:00",
     "2026-06-10T18:30-04:00", "2026-06-11T10:00-04:00"},
    {"tenant 09:00-22:00 in Florida at 20:15: 09:00", NY, "FL", "09:00", "22:00",
     "2026-01-09T20:15-05:00", "2026-01-10T09:00-05:00"},
    {"tenant 07:00-09:30 in Florida at 07:00: 08:00", NY, "FL", "07:00", "09:30",
     "2026-01-09T07:00-05:00", "2026-01-09T08:00-05:00"},
    {"tenant 20:00-02:00 (past midnight) at 19:00: 20:00", NY, NULL, "20:00", "02:00",
     "2026-06-10T19:00-04:00", "2026-06-10T20:00-04:00"},
    {"tenant 20:00-02:00 at 21:30: 20:00 the next day", NY, NULL, "20:00", "02:00",
     "2026-06-10T21:30-04:00", "2026-06-11T20:00-04:00"},
    {"tenant 00:00-00:00 is the whole day", NY, NULL, "00:00", "00:00", "2026-06-10T12:00-04:00",
     "2026-06-10T12:00-04:00"},
    {"tenant 08:00-11:00, Texas on a Sunday: Monday 09:00", CHI, "TX", "08:00", "11:00",
     "2026-01-11T08:30-06:00", "2026-01-12T09:00-06:00"},
    {"tenant 22:00-07:00: never within the law", NY, NULL, "22:00", "07:00",
     "2026-06-10T12:00-04:00", NULL},

    // Zones and states nobody knows.
    {"an unknown zone: UTC", "Mars/Olympus_Mons", NULL, NULL, NULL, "2026-01-09T07:00+00:00",
     "2026-01-09T08:00+00:00"},
    {"no zone: UTC", NULL, NULL, NULL, NULL, "2026-01-09T21:00+00:00", "2026-01-10T08:00+00:00"},
    {"an empty zone: UTC", "", NULL, NULL, NULL, "2026-01-09T12:00+00:00",
     "2026-01-09T12:00+00:00"},
    {"a zone that is no name: UTC", "../../etc/passwd", NULL, NULL, NULL, "2026-01-09T07:00+00:00",
     "2026-01-09T08:00+00:00"},
    {"an unknown state: the default", NY, "ZZ", NULL, NULL, "2026-01-09T20:30-05:00",
     "2026-01-09T20:30-05:00"},
};

#define CASE_COUNT (sizeof s_cases / sizeof s_cases[0])

//  One case: 0 when notify_quiet_next says what the table says, else the message.
static int s_run_case(size_t i, char *message, size_t size) {
    notify_quiet_window_t window, *tenant = NULL;
    if (s_cases[i].tenant_start) {
        if (notify_quiet_window_parse(s_cases[i].tenant_start, s_cases[i].tenant_end, &window))
            return snprintf(message, size, "%s: bad window", s_cases[i].what), -1;
        tenant = &window;
    }
    int64_t allowed = -1;
    int rc = notify_quiet_next(s_rules, s_cases[i].zone, s_cases[i].state, tenant,
                               s_ms(s_cases[i].now), &allowed);
    char got[32], expected[32];
    if (!s_cases[i].allowed) {
        if (rc == -1)
            return 0;
        return snprintf(message, size, "%s: got %s, expected -1", s_cases[i].what,
                        s_utc(allowed, got, sizeof got)),
               -1;
    }
    if (rc == 0 && allowed == s_ms(s_cases[i].allowed))
        return 0;
    return snprintf(message, size, "%s: got rc %d, %s, expected %s (%s)", s_cases[i].what, rc,
                    rc == 0 ? s_utc(allowed, got, sizeof got) : "-",
                    s_utc(s_ms(s_cases[i].allowed), expected, sizeof expected), s_cases[i].allowed),
           -1;
}

static void test_next(void **state) {
    (void)state;
    for (size_t i = 0; i < CASE_COUNT; i++) {
        char message[512];
        if (s_run_case(i, message, sizeof message) != 0)
            fail_msg("%s", message);
    }
}

//  Wrong arguments: a window out of range, no rules, nowhere to write.
static void test_next_arguments(void **state) {
    (void)state;
    int64_t allowed = 0, now = s_ms("2026-06-10T12:00-04:00");
    notify_quiet_window_t bad = {.start = 1440, .end = 60};
    assert_int_equal(notify_quiet_next(s_rules, NY, NULL, &bad, now, &allowed), -1);
    bad = (notify_quiet_window_t){.start = 60, .end = 1441};
    assert_int_equal(notify_quiet_next(s_rules, NY, NULL, &bad, now, &allowed), -1);
    bad = (notify_quiet_window_t){.start = -1, .end = 60};
    assert_int_equal(notify_quiet_next(s_rules, NY, NULL, &bad, now, &allowed), -1);
    assert_int_equal(notify_quiet_next(NULL, NY, NULL, NULL, now, &allowed), -1);
    assert_int_equal(notify_quiet_next(s_rules, NY, NULL, NULL, now, NULL), -1);
    notify_quiet_window_t whole = {.start = 0, .end = 1440};
    assert_int_equal(notify_quiet_next(s_rules, NY, NULL, &whole, now, &allowed), 0);
    assert_true(allowed == now);
}

// --- where: the recipient's place ----------------------------------------------------------

#define FROM_STATE NOTIFY_QUIET_FROM_STATE
#define FROM_COUNTRY NOTIFY_QUIET_FROM_COUNTRY
#define FROM_TENANT NOTIFY_QUIET_FROM_TENANT
#define FROM_UTC NOTIFY_QUIET_FROM_UTC

// clang-format off
static const struct {
    const char *what;
    const char *tenant;                   // the tenant's time zone
    const char *zone, *state;             // the place expected
    notify_quiet_source_t source;
    size_t count;
    notify_quiet_address_t addresses[3];  // country, region, primary
} s_places[] = {
    {"no address: the tenant's zone", CHI, CHI, "", FROM_TENANT, 0, {{0}}},
    {"no address, no tenant zone: UTC", NULL, "UTC", "", FROM_UTC, 0, {{0}}},
    {"no address, an unknown tenant zone: UTC", "Nowhere/Land", "UTC", "", FROM_UTC, 0, {{0}}},
    {"Florida", CHI, NY, "FL", FROM_STATE, 1, {{"US", "FL", true}}},
    {"florida, by name, lower case, spaces", NULL, NY, "FL", FROM_STATE, 1,
     {{" us ", " florida ", false}}},
    {"a state without a country", NY, CHI, "TX", FROM_STATE, 1, {{"", "TX", false}}},
    {"a state, country NULL", NY, "America/Los_Angeles", "CA", FROM_STATE, 1,
     {{NULL, "California", false}}},
    {"USA", NULL, NY, "RI", FROM_STATE, 1, {{"USA", "RI", false}}},
    {"Arizona: no summer time", NULL, "America/Phoenix", "AZ", FROM_STATE, 1,
     {{"US", "AZ", false}}},
    {"the District of Columbia", NULL, NY, "DC", FROM_STATE, 1,
     {{"US", "District of Columbia", false}}},
    {"the US without a state: the tenant's", "America/Denver", "America/Denver", "",
     FROM_TENANT, 1, {{"US", "", false}}},
    {"the US, a region that is no state", CHI, CHI, "", FROM_TENANT, 1, {{"US", "Gotham", false}}},
    {"Great Britain", CHI, "Europe/London", "", FROM_COUNTRY, 1, {{"GB", "Kent", false}}},
    {"Germany, lower case", NULL, "Europe/Berlin", "", FROM_COUNTRY, 1, {{"de", "", false}}},
    {"Puerto Rico as a country", NULL, "America/Puerto_Rico", "", FROM_COUNTRY, 1,
     {{"PR", "", false}}},
    {"a region named like a state elsewhere is not a state", NULL, "Europe/London", "",
     FROM_COUNTRY, 1, {{"GB", "Georgia", false}}},
    {"Canada has several zones: the tenant's", "America/Toronto", "America/Toronto", "",
     FROM_TENANT, 1, {{"CA", "ON", false}}},
    {"the primary address wins", NULL, "America/Los_Angeles", "CA", FROM_STATE, 2,
     {{"GB", "", false}, {"US", "CA", true}}},
    {"no primary: the first", NULL, NY, "NY", FROM_STATE, 2,
     {{"US", "NY", false}, {"US", "CA", false}}},
    {"the primary tells nothing: the tenant's, not another address", CHI, CHI, "", FROM_TENANT,
     2, {{"US", "FL", false}, {"", "", true}}},
};
// clang-format on

static void test_place(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_places / sizeof s_places[0]; i++) {
        notify_quiet_place_t place;
        notify_quiet_place(s_rules, s_places[i].addresses, s_places[i].count, s_places[i].tenant,
                           &place);
        if (strcmp(place.time_zone, s_places[i].zone) != 0 ||
            strcmp(place.us_state, s_places[i].state) != 0 || place.source != s_places[i].source)
            fail_msg("%s: got %s, %s, source %d; expected %s, %s, source %d", s_places[i].what,
                     place.time_zone, place.us_state, place.source, s_places[i].zone,
                     s_places[i].state, s_places[i].source);
    }
}

//  Every state and the District of Columbia has a zone, by code and by name.
static void test_every_state(void **state) {
    (void)state;
    static const char *const codes[] = {
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID",
        "IL", "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO",
        "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA",
        "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        notify_quiet_address_t address = {"US", codes[i], true};
        notify_quiet_place_t place;
        notify_quiet_place(s_rules, &address, 1, NULL, &place);
        if (place.source != FROM_STATE || strcmp(place.us_state, codes[i]) != 0)
            fail_msg("state %s: got %s (%s)", codes[i], place.us_state, place.time_zone);
        assert_true(notify_quiet_zone_known(place.time_zone));
    }
    notify_quiet_address_t address = {"US", "West Virginia", true};
    notify_quiet_place_t place;
    notify_quiet_place(s_rules, &address, 1, NULL, &place);
    assert_string_equal(place.us_state, "WV");
}

//  The brief's contrast: a contact with no address goes by the tenant's clock.
static void test_place_then_next(void **state) {
    (void)state;
    int64_t now = s_ms("2026-01-09T20:30-08:00"), allowed; // 23:30 in Miami
    notify_quiet_place_t place;

    notify_quiet_place(s_rules, NULL, 0, "America/Los_Angeles", &place);
    assert_int_equal(
        notify_quiet_next(s_rules, place.time_zone, place.us_state, NULL, now, &allowed), 0);
    assert_true(allowed == now);

    notify_quiet_address_t miami = {"US", "FL", true};
    notify_quiet_place(s_rules, &miami, 1, "America/Los_Angeles", &place);
    assert_int_equal(
        notify_quiet_next(s_rules, place.time_zone, place.us_state, NULL, now, &allowed), 0);
    assert_true(allowed == s_ms("2026-01-10T08:00-05:00"));
}

// --- windows and zones ---------------------------------------------------------------------

static void test_window_parse(void **state) {
    (void)state;
    notify_quiet_window_t w;
    assert_int_equal(notify_quiet_window_parse("09:30", "18:00", &w), 0);
    assert_int_equal(w.start, 570);
    assert_int_equal(w.end, 1080);
    assert_int_equal(notify_quiet_window_parse("00:00", "24:00", &w), 0);
    assert_int_equal(w.end, 1440);
    assert_int_equal(notify_quiet_window_parse("22:00", "06:00", &w), 0);
    static const char *const bad[][2] = {{"24:00", "10:00"}, {"9:30", "18:00"},  {"09:60", "18:00"},
                                         {"09:30", "24:01"}, {"09:30", "25:00"}, {"", "18:00"},
                                         {"09h30", "18:00"}, {"09:30 ", "18:00"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (notify_quiet_window_parse(bad[i][0], bad[i][1], &w) != -1)
            fail_msg("window %s-%s accepted", bad[i][0], bad[i][1]);
    assert_int_equal(notify_quiet_window_parse(NULL, "18:00", &w), -1);
}

static void test_zone_known(void **state) {
    (void)state;
    assert_true(notify_quiet_zone_known("America/New_York"));
    assert_true(notify_quiet_zone_known("America/Indiana/Indianapolis"));
    assert_true(notify_quiet_zone_known("US/Eastern")); // an old name, still a link
    assert_true(notify_quiet_zone_known("UTC"));
    assert_false(notify_quiet_zone_known("Mars/Olympus_Mons"));
    assert_false(notify_quiet_zone_known("America/New York"));
    assert_false(notify_quiet_zone_known("Etc/Unknown"));
    assert_false(notify_quiet_zone_known(""));
    assert_false(notify_quiet_zone_known(NULL));
    char long_name[200];
    memset(long_name, 'A', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    assert_false(notify_quiet_zone_known(long_name));
}

// --- the data files' checks ----------------------------------------------------------------

//  Write the four files into dir, the repository's own except the one replaced.
static void s_write_data(const char *dir, const char *file, const char *text) {
    static const char *const files[] = {"quiet_hours.tsv", "holidays.tsv",
                                        "us_state_time_zones.tsv", "country_time_zones.tsv"};
    char from_dir[512];
    s_data_dir(from_dir, sizeof from_dir);
    for (size_t f = 0; f < 4; f++) {
        char path[600], command[1400];
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        if (strcmp(files[f], file) == 0) {
            FILE *out = fopen(path, "w");
            assert_non_null(out);
            fputs(text, out);
            fclose(out);
        } else {
            snprintf(command, sizeof command, "cp '%s/%s' '%s'", from_dir, files[f], path);
            assert_int_equal(system(command), 0);
        }
    }
}

static void test_load_errors(void **state) {
    (void)state;
    static const struct {
        const char *file, *text;
        const char *error; // what the message must hold
    } cases[] = {
        {"quiet_hours.tsv", "# c\n*\tmon-sun\t08:00-21:00\tsrc\nFL\tfunday\t08:00-20:00\tsrc\n",
         "quiet_hours.tsv line 3: days \"funday\""},
        {"quiet_hours.tsv", "*\tmon-sun\t08:00-21:00\tsrc\nFL\tmon\t20:00-08:00\tsrc\n",
         "line 2: hours \"20:00-08:00\""},
        {"quiet_hours.tsv", "*\tmon-sun\t08:00-21:00\n", "line 1: 3 columns, expected 4 to 4"},
        {"quiet_hours.tsv", "*\tmon-sat\t08:00-21:00\tsrc\n",
         "no default row (region \"*\") for sun"},
        {"quiet_hours.tsv",
         "*\tmon-sun\t08:00-21:00\tsrc\nFL\tmon-fri\t08:00-20:00\tsrc\nFL\tfri\tclosed\tsrc\n",
         "line 3: fri is given twice for region FL"},
        {"quiet_hours.tsv", "*\tmon-sun\t08:00-21:00\tsrc\nZZ\tmon\t08:00-20:00\tsrc\n",
         "region ZZ is not in us_state_time_zones.tsv"},
        {"holidays.tsv", "US\t13-01\tNew Year\tsrc\n", "holidays.tsv line 1: date \"13-01\""},
        {"holidays.tsv", "US\t01-mon-6\tNew Year\tsrc\n", "date \"01-mon-6\""},
        {"holidays.tsv", "XX\t01-01\tNew Year\tsrc\n", "region XX is neither US nor"},
        {"us_state_time_zones.tsv", "FL\tFlorida\tAmerica/Miami\t\n",
         "line 1: time zone \"America/Miami\" is not one ICU knows"},
        {"country_time_zones.tsv", "GBR\tEurope/London\t\n", "country \"GBR\""},
    };
    char dir[] = "/tmp/test_notify_quiet.XXXXXX";
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_write_data(dir, cases[i].file, cases[i].text);
        char *error = NULL;
        notify_quiet_rules_t *rules = notify_quiet_rules_new(dir, &error);
        if (rules || !error || !strstr(error, cases[i].error))
            fail_msg("case %zu: got \"%s\", expected one holding \"%s\"", i,
                     error ? error : "(loaded)", cases[i].error);
        free(error);
        notify_quiet_rules_destroy(&rules);
    }
    //  A directory without the files; and no error asked for.
    char *error = NULL;
    assert_null(notify_quiet_rules_new("/nonexistent/notify-data", &error));
    assert_non_null(strstr(error, "could not open /nonexistent/notify-data/quiet_hours.tsv"));
    free(error);
    assert_null(notify_quiet_rules_new("/nonexistent/notify-data", NULL));

    char command[600];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    assert_int_equal(system(command), 0);
}

// --- many threads, one rules object --------------------------------------------------------

static void *s_thread(void *arg) {
    (void)arg;
    for (int round = 0; round < 20; round++)
        for (size_t i = 0; i < CASE_COUNT; i++) {
            char message[512];
            if (s_run_case(i, message, sizeof message) != 0)
                return strdup(message);
        }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    pthread_t threads[4];
    for (int t = 0; t < 4; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, s_thread, NULL), 0);
    char *failure = NULL;
    for (int t = 0; t < 4; t++) {
        void *result;
        pthread_join(threads[t], &result);
        if (result && !failure)
            failure = result;
        else
            free(result);
    }
    if (failure) {
        char copy[512];
        snprintf(copy, sizeof copy, "%s", failure);
        free(failure);
        fail_msg("in a thread: %s", copy);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_next_arguments),
        cmocka_unit_test(test_place),
        cmocka_unit_test(test_every_state),
        cmocka_unit_test(test_place_then_next),
        cmocka_unit_test(test_window_parse),
        cmocka_unit_test(test_zone_known),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
