/*  quiet: when may an automated message reach its recipient (see quiet.h; the data is in
    services/notify/data/, the cases in tests/unit/test_notify_quiet.c).

    Reading order: the data files' table (s_files: each file, its columns and the function
    that takes one row), the loader, then notify_quiet_place (which zone and state), then
    notify_quiet_next (walk the recipient's local days from today, intersect the day's
    windows, and turn the first usable one into an instant with ICU).

    No time zone rule is written here: ICU's calendar turns a local date and time in a zone
    into an instant and back, daylight saving time included. A local time skipped by a
    change of clocks counts as the first valid time after it; one repeated counts as its
    first occurrence.
*/
#include "quiet.h"

#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MINUTES_PER_DAY 1440
#define HORIZON_DAYS 14 // local days searched for an allowed instant, today included
#define HOLIDAY 7       // the day of a "holiday" row, after mon (0) .. sun (6)
#define DAY_KINDS 8
#define FIELDS_MAX 8
#define STATE_NAME_MAX 40

//  A span of a local day in minutes, start included, end excluded; empty when start >= end.
typedef struct {
    int start, end;
} s_span_t;

static const s_span_t s_whole_day = {0, MINUTES_PER_DAY};

//  One region's rows of quiet_hours.tsv: its span for each day it names.
typedef struct {
    char region[3]; // a state's code; "*" for the default
    bool set[DAY_KINDS];
    s_span_t hours[DAY_KINDS];
} s_region_hours_t;

//  One row of holidays.tsv: a fixed date, or the nth (-1: last) weekday of a month.
typedef struct {
    char region[3]; // "US" (federal) or a state's code
    int month;      // 1..12
    int day;        // 1..31; 0 for a weekday rule
    int weekday;    // 0 (mon) .. 6 (sun)
    int nth;        // 1..5, or -1 for the last
} s_holiday_t;

typedef struct {
    char code[3];
    char name[STATE_NAME_MAX];
    char zone[NOTIFY_QUIET_ZONE_MAX];
} s_state_t;

typedef struct {
    char code[3];
    char zone[NOTIFY_QUIET_ZONE_MAX];
} s_country_t;

struct _notify_quiet_rules_t {
    s_region_hours_t *hours;
    size_t hours_n;
    s_holiday_t *holidays;
    size_t holidays_n;
    s_state_t *states;
    size_t states_n;
    s_country_t *countries;
    size_t countries_n;
};

static const char *const s_day_names[DAY_KINDS] = {"mon", "tue", "wed", "thu",
                                                   "fri", "sat", "sun", "holiday"};

// --- small helpers -------------------------------------------------------------------------

//  A new zeroed element at the end of the array *items of *n elements of size bytes.
static void *s_append(void *items_p, size_t *n, size_t size) {
    void **items = items_p;
    void *grown = realloc(*items, (*n + 1) * size);
    if (!grown)
        return NULL;
    *items = grown;
    void *item = (char *)grown + *n * size;
    memset(item, 0, size);
    (*n)++;
    return item;
}

//  Whether text, spaces around it ignored, equals candidate without regard to case.
static bool s_equal_trimmed(const char *text, const char *candidate) {
    if (!text)
        return false;
    while (*text == ' ' || *text == '\t')
        text++;
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    return len == strlen(candidate) && strncasecmp(text, candidate, len) == 0;
}

static bool s_blank(const char *text) {
    return !text || s_equal_trimmed(text, "");
}

//  Whether text is two upper-case letters (a state's or a country's code).
static bool s_code(const char *text) {
    return strlen(text) == 2 && text[0] >= 'A' && text[0] <= 'Z' && text[1] >= 'A' &&
           text[1] <= 'Z';
}

static void s_copy(char *to, size_t size, const char *from) {
    snprintf(to, size, "%s", from);
}

// --- time zones ----------------------------------------------------------------------------

//  zone as UTF-16 for ICU (an IANA name is ASCII letters, digits and / _ - +): its length,
//  or -1 when it cannot be one.
static int32_t s_zone_uchars(const char *zone, UChar *out) {
    if (!zone)
        return -1;
    size_t len = strlen(zone);
    if (len == 0 || len >= NOTIFY_QUIET_ZONE_MAX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = zone[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '-' || c == '+'))
            return -1;
    }
    u_charsToUChars(zone, out, (int32_t)len + 1);
    return (int32_t)len;
}

bool notify_quiet_zone_known(const char *time_zone) {
    UChar id[NOTIFY_QUIET_ZONE_MAX], canonical[NOTIFY_QUIET_ZONE_MAX * 2];
    int32_t len = s_zone_uchars(time_zone, id);
    if (len < 0)
        return false;
    UBool system = 0;
    UErrorCode status = U_ZERO_ERROR;
    ucal_getCanonicalTimeZoneID(id, len, canonical, NOTIFY_QUIET_ZONE_MAX * 2, &system, &status);
    return U_SUCCESS(status) && system;
}

// --- parsing the data files ----------------------------------------------------------------

//  "HH:MM" into minutes after midnight; "24:00" too when end. 0 or -1.
static int s_parse_time(const char *text, bool end, int *minutes) {
    if (strlen(text) != 5 || text[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (text[i] < '0' || text[i] > '9'))
            return -1;
    int hours = (text[0] - '0') * 10 + (text[1] - '0');
    int mins = (text[3] - '0') * 10 + (text[4] - '0');
    if (mins > 59 || hours > 24 || (hours == 24 && (mins != 0 || !end)))
        return -1;
    *minutes = hours * 60 + mins;
    return 0;
}

int notify_quiet_window_parse(const char *start, const char *end, notify_quiet_window_t *window) {
    int s, e;
    if (!start || !end || s_parse_time(start, false, &s) != 0 || s_parse_time(end, true, &e) != 0)
        return -1;
    window->start = s;
    window->end = e;
    return 0;
}

static int s_day_index(const char *text, size_t len) {
    for (int d = 0; d < DAY_KINDS; d++)
        if (strlen(s_day_names[d]) == len && strncmp(s_day_names[d], text, len) == 0)
            return d;
    return -1;
}

//  "mon-fri", "sat,sun", "holiday" into days[]. 0 or -1.
static int s_parse_days(const char *text, bool days[DAY_KINDS]) {
    while (*text) {
        size_t len = strcspn(text, ",");
        const char *dash = memchr(text, '-', len);
        int first = s_day_index(text, dash ? (size_t)(dash - text) : len);
        int last = dash ? s_day_index(dash + 1, len - (size_t)(dash - text) - 1) : first;
        if (first < 0 || last < 0 || (dash && (first == HOLIDAY || last == HOLIDAY)))
            return -1;
        for (int d = first;; d = (d + 1) % 7) { // a range may wrap: sat-mon
            days[d] = true;
            if (d == last)
                break;
        }
        text += len;
        if (*text == ',')
            text++;
    }
    return 0;
}

//  "08:00-20:00" or "closed". 0 or -1.
static int s_parse_hours(const char *text, s_span_t *span) {
    if (strcmp(text, "closed") == 0) {
        *span = (s_span_t){0, 0};
        return 0;
    }
    char start[8], end[8];
    if (strlen(text) != 11 || text[5] != '-')
        return -1;
    memcpy(start, text, 5);
    start[5] = 0;
    memcpy(end, text + 6, 5);
    end[5] = 0;
    if (s_parse_time(start, false, &span->start) != 0 || s_parse_time(end, true, &span->end) != 0)
        return -1;
    return span->start < span->end ? 0 : -1;
}

// --- the rows of each file -----------------------------------------------------------------

typedef int (*s_row_fn)(notify_quiet_rules_t *self, char **fields, size_t n, char *why,
                        size_t why_size);

static s_region_hours_t *s_hours_find(const notify_quiet_rules_t *self, const char *region) {
    for (size_t i = 0; i < self->hours_n; i++)
        if (strcmp(self->hours[i].region, region) == 0)
            return &self->hours[i];
    return NULL;
}

//  quiet_hours.tsv: region, days, hours, source.
static int s_hours_row(notify_quiet_rules_t *self, char **fields, size_t n, char *why,
                       size_t why_size) {
    (void)n;
    if (strcmp(fields[0], "*") != 0 && !s_code(fields[0])) {
        snprintf(why, why_size, "region \"%s\" is neither \"*\" nor a state's code (\"FL\")",
                 fields[0]);
        return -1;
    }
    bool days[DAY_KINDS] = {false};
    if (!fields[1][0] || s_parse_days(fields[1], days) != 0) {
        snprintf(why, why_size,
                 "days \"%s\": write mon..sun, a range (mon-fri), a list (sat,sun) or holiday",
                 fields[1]);
        return -1;
    }
    s_span_t span;
    if (s_parse_hours(fields[2], &span) != 0) {
        snprintf(why, why_size,
                 "hours \"%s\": write HH:MM-HH:MM, the start before the end, or closed", fields[2]);
        return -1;
    }
    s_region_hours_t *hours = s_hours_find(self, fields[0]);
    if (!hours) {
        hours = s_append(&self->hours, &self->hours_n, sizeof *hours);
        if (!hours) {
            snprintf(why, why_size, "out of memory");
            return -1;
        }
        s_copy(hours->region, sizeof hours->region, fields[0]);
    }
    for (int d = 0; d < DAY_KINDS; d++) {
        if (!days[d])
            continue;
        if (hours->set[d]) {
            snprintf(why, why_size, "%s is given twice for region %s", s_day_names[d], fields[0]);
            return -1;
        }
        hours->set[d] = true;
        hours->hours[d] = span;
    }
    return 0;
}

//  holidays.tsv: region, date (MM-DD, MM-ddd-N or MM-ddd-last), name, source.
static int s_holiday_row(notify_quiet_rules_t *self, char **fields, size_t n, char *why,
                         size_t why_size) {
    (void)n;
    if (!s_code(fields[0])) {
        snprintf(why, why_size, "region \"%s\" is not US or a state's code", fields[0]);
        return -1;
    }
    s_holiday_t h = {.nth = 0};
    s_copy(h.region, sizeof h.region, fields[0]);
    const char *date = fields[1];
    char weekday[4] = "", nth[8] = "";
    int consumed = 0;
    bool ok = false;
    if (sscanf(date, "%2d-%2d%n", &h.month, &h.day, &consumed) == 2 &&
        consumed == (int)strlen(date))
        ok = h.day >= 1 && h.day <= 31;
    else if (sscanf(date, "%2d-%3[a-z]-%7[a-z0-9]%n", &h.month, weekday, nth, &consumed) == 3 &&
             consumed == (int)strlen(date)) {
        h.day = 0;
        h.weekday = s_day_index(weekday, strlen(weekday));
        h.nth = strcmp(nth, "last") == 0 ? -1 : (int)strtol(nth, NULL, 10);
        ok = h.weekday >= 0 && h.weekday < 7 && (h.nth == -1 || (h.nth >= 1 && h.nth <= 5));
    }
    if (!ok || h.month < 1 || h.month > 12) {
        snprintf(why, why_size,
                 "date \"%s\": write MM-DD, MM-ddd-N (01-mon-3: the third Monday of January) "
                 "or MM-ddd-last",
                 date);
        return -1;
    }
    s_holiday_t *row = s_append(&self->holidays, &self->holidays_n, sizeof *row);
    if (!row) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    *row = h;
    return 0;
}

//  A zone column: one ICU knows.
static int s_zone_field(const char *zone, char *why, size_t why_size) {
    if (notify_quiet_zone_known(zone))
        return 0;
    snprintf(why, why_size, "time zone \"%s\" is not one ICU knows (an IANA name: America/Chicago)",
             zone);
    return -1;
}

//  us_state_time_zones.tsv: code, name, zone, note.
static int s_state_row(notify_quiet_rules_t *self, char **fields, size_t n, char *why,
                       size_t why_size) {
    (void)n;
    if (!s_code(fields[0]) || !fields[1][0] || strlen(fields[1]) >= STATE_NAME_MAX) {
        snprintf(why, why_size, "a state is a two-letter code (\"FL\") and a name");
        return -1;
    }
    if (s_zone_field(fields[2], why, why_size) != 0)
        return -1;
    s_state_t *state = s_append(&self->states, &self->states_n, sizeof *state);
    if (!state) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    s_copy(state->code, sizeof state->code, fields[0]);
    s_copy(state->name, sizeof state->name, fields[1]);
    s_copy(state->zone, sizeof state->zone, fields[2]);
    return 0;
}

//  country_time_zones.tsv: code, zone, note.
static int s_country_row(notify_quiet_rules_t *self, char **fields, size_t n, char *why,
                         size_t why_size) {
    (void)n;
    if (!s_code(fields[0])) {
        snprintf(why, why_size, "country \"%s\" is not an ISO 3166-1 alpha-2 code (\"GB\")",
                 fields[0]);
        return -1;
    }
    if (s_zone_field(fields[1], why, why_size) != 0)
        return -1;
    s_country_t *country = s_append(&self->countries, &self->countries_n, sizeof *country);
    if (!country) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    s_copy(country->code, sizeof country->code, fields[0]);
    s_copy(country->zone, sizeof country->zone, fields[1]);
    return 0;
}

//  The data files, in the order they are read, with their columns.
static const struct {
    const char *file;
    size_t min_fields, max_fields;
    s_row_fn row;
} s_files[] = {
    {"quiet_hours.tsv", 4, 4, s_hours_row},
    {"holidays.tsv", 4, 4, s_holiday_row},
    {"us_state_time_zones.tsv", 3, 4, s_state_row},
    {"country_time_zones.tsv", 2, 3, s_country_row},
};
#define S_FILE_COUNT (sizeof s_files / sizeof s_files[0])

// --- loading -------------------------------------------------------------------------------

//  Set *error (when asked for) to the message. Returns -1.
static int s_fail(char **error, const char *format, ...) {
    if (!error)
        return -1;
    va_list args;
    va_start(args, format);
    if (vasprintf(error, format, args) < 0)
        *error = NULL;
    va_end(args);
    return -1;
}

//  Split line at tabs into fields (spaces around each removed). Their number.
static size_t s_split(char *line, char **fields) {
    size_t n = 0;
    for (char *cursor = line;; cursor++) {
        char *tab = strchr(cursor, '\t');
        if (tab)
            *tab = 0;
        while (*cursor == ' ')
            cursor++;
        size_t len = strlen(cursor);
        while (len > 0 && cursor[len - 1] == ' ')
            cursor[--len] = 0;
        if (n < FIELDS_MAX)
            fields[n] = cursor;
        n++;
        if (!tab)
            break;
        cursor = tab;
    }
    return n;
}

//  Read one data file's rows into self.
static int s_read_file(notify_quiet_rules_t *self, const char *dir, size_t file, char **error) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, s_files[file].file);
    FILE *in = fopen(path, "r");
    if (!in)
        return s_fail(error, "could not load quiet hours: could not open %s: %s", path,
                      strerror(errno));
    char *line = NULL;
    size_t capacity = 0;
    int line_no = 0, rc = 0;
    while (rc == 0 && getline(&line, &capacity, in) >= 0) {
        line_no++;
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == '#' || line[strspn(line, " \t")] == 0)
            continue;
        char *fields[FIELDS_MAX];
        size_t n = s_split(line, fields);
        char why[256];
        if (n < s_files[file].min_fields || n > s_files[file].max_fields)
            rc = s_fail(error,
                        "could not load quiet hours: %s line %d: %zu columns, expected %zu to "
                        "%zu (separate them with tabs)",
                        path, line_no, n, s_files[file].min_fields, s_files[file].max_fields);
        else if (s_files[file].row(self, fields, n, why, sizeof why) != 0)
            rc = s_fail(error, "could not load quiet hours: %s line %d: %s", path, line_no, why);
    }
    free(line);
    fclose(in);
    return rc;
}

static const s_state_t *s_state_find(const notify_quiet_rules_t *self, const char *text) {
    for (size_t i = 0; i < self->states_n; i++)
        if (s_equal_trimmed(text, self->states[i].code) ||
            s_equal_trimmed(text, self->states[i].name))
            return &self->states[i];
    return NULL;
}

//  What the files say together: a default row for every weekday; regions that are states.
static int s_check(const notify_quiet_rules_t *self, const char *dir, char **error) {
    const s_region_hours_t *base = s_hours_find(self, "*");
    for (int d = 0; d < 7; d++)
        if (!base || !base->set[d])
            return s_fail(error,
                          "could not load quiet hours: %s/quiet_hours.tsv: no default row "
                          "(region \"*\") for %s",
                          dir, s_day_names[d]);
    for (size_t i = 0; i < self->hours_n; i++)
        if (strcmp(self->hours[i].region, "*") != 0 && !s_state_find(self, self->hours[i].region))
            return s_fail(error,
                          "could not load quiet hours: %s/quiet_hours.tsv: region %s is not in "
                          "us_state_time_zones.tsv",
                          dir, self->hours[i].region);
    for (size_t i = 0; i < self->holidays_n; i++)
        if (strcmp(self->holidays[i].region, "US") != 0 &&
            !s_state_find(self, self->holidays[i].region))
            return s_fail(error,
                          "could not load quiet hours: %s/holidays.tsv: region %s is neither US "
                          "nor in us_state_time_zones.tsv",
                          dir, self->holidays[i].region);
    return 0;
}

notify_quiet_rules_t *notify_quiet_rules_new(const char *data_dir, char **error) {
    if (error)
        *error = NULL;
    const char *dir = data_dir ? data_dir : NOTIFY_QUIET_DATA_DIR;
    notify_quiet_rules_t *self = calloc(1, sizeof *self);
    if (!self) {
        s_fail(error, "could not load quiet hours: out of memory");
        return NULL;
    }
    int rc = 0;
    for (size_t f = 0; rc == 0 && f < S_FILE_COUNT; f++)
        rc = s_read_file(self, dir, f, error);
    if (rc == 0)
        rc = s_check(self, dir, error);
    if (rc != 0)
        notify_quiet_rules_destroy(&self);
    return self;
}

void notify_quiet_rules_destroy(notify_quiet_rules_t **self_p) {
    assert(self_p);
    notify_quiet_rules_t *self = *self_p;
    if (!self)
        return;
    free(self->hours);
    free(self->holidays);
    free(self->states);
    free(self->countries);
    free(self);
    *self_p = NULL;
}

// --- the recipient's place -----------------------------------------------------------------

static const s_country_t *s_country_find(const notify_quiet_rules_t *self, const char *text) {
    for (size_t i = 0; i < self->countries_n; i++)
        if (s_equal_trimmed(text, self->countries[i].code))
            return &self->countries[i];
    return NULL;
}

//  Whether an address's country can hold a US state: the US, or none given.
static bool s_us_country(const char *country) {
    return s_blank(country) || s_equal_trimmed(country, "US") || s_equal_trimmed(country, "USA") ||
           s_equal_trimmed(country, "United States");
}

void notify_quiet_place(const notify_quiet_rules_t *rules, const notify_quiet_address_t *addresses,
                        size_t count, const char *tenant_time_zone, notify_quiet_place_t *place) {
    memset(place, 0, sizeof *place);
    const notify_quiet_address_t *address = NULL;
    for (size_t i = 0; i < count && !address; i++)
        if (addresses[i].primary)
            address = &addresses[i];
    if (!address && count > 0)
        address = &addresses[0];

    if (address && rules) {
        const s_state_t *state = s_us_country(address->country) && !s_blank(address->region)
                                     ? s_state_find(rules, address->region)
                                     : NULL;
        if (state) {
            s_copy(place->time_zone, sizeof place->time_zone, state->zone);
            s_copy(place->us_state, sizeof place->us_state, state->code);
            place->source = NOTIFY_QUIET_FROM_STATE;
            return;
        }
        const s_country_t *country =
            s_blank(address->country) ? NULL : s_country_find(rules, address->country);
        if (country) {
            s_copy(place->time_zone, sizeof place->time_zone, country->zone);
            place->source = NOTIFY_QUIET_FROM_COUNTRY;
            return;
        }
    }
    if (notify_quiet_zone_known(tenant_time_zone)) {
        s_copy(place->time_zone, sizeof place->time_zone, tenant_time_zone);
        place->source = NOTIFY_QUIET_FROM_TENANT;
        return;
    }
    s_copy(place->time_zone, sizeof place->time_zone, "UTC");
    place->source = NOTIFY_QUIET_FROM_UTC;
}

// --- the next allowed instant --------------------------------------------------------------

//  A local calendar date in the recipient's zone.
typedef struct {
    int year;
    int month;      // 0..11, as ICU counts
    int day;        // 1..31
    int weekday;    // 0 (mon) .. 6 (sun)
    int month_days; // days in its month
} s_date_t;

//  A calendar in zone (UTC when ICU does not know it), for one call. NULL on failure.
static UCalendar *s_calendar_open(const char *zone) {
    UChar id[NOTIFY_QUIET_ZONE_MAX];
    int32_t len =
        notify_quiet_zone_known(zone) ? s_zone_uchars(zone, id) : s_zone_uchars("UTC", id);
    UErrorCode status = U_ZERO_ERROR;
    UCalendar *cal = ucal_open(id, len, "en_US_POSIX", UCAL_GREGORIAN, &status);
    if (U_FAILURE(status)) {
        if (cal)
            ucal_close(cal);
        return NULL;
    }
    ucal_setAttribute(cal, UCAL_LENIENT, 1); // day 32 is the next month's first
    ucal_setAttribute(cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
    ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
    return cal;
}

//  The local date the calendar is set to.
static int s_date_get(UCalendar *cal, s_date_t *date) {
    UErrorCode status = U_ZERO_ERROR;
    date->year = ucal_get(cal, UCAL_YEAR, &status);
    date->month = ucal_get(cal, UCAL_MONTH, &status);
    date->day = ucal_get(cal, UCAL_DATE, &status);
    date->weekday = (ucal_get(cal, UCAL_DAY_OF_WEEK, &status) + 5) % 7; // UCAL_SUNDAY is 1
    date->month_days = ucal_getLimit(cal, UCAL_DATE, UCAL_ACTUAL_MAXIMUM, &status);
    return U_SUCCESS(status) ? 0 : -1;
}

//  The local date `days` after today.
static int s_date_after(UCalendar *cal, const s_date_t *today, int days, s_date_t *date) {
    UErrorCode status = U_ZERO_ERROR;
    ucal_clear(cal);
    ucal_setDateTime(cal, today->year, today->month, today->day + days, 12, 0, 0, &status);
    return U_SUCCESS(status) ? s_date_get(cal, date) : -1;
}

//  The instant of minute (0..1440) of a local date.
static int s_instant(UCalendar *cal, const s_date_t *date, int minute, int64_t *ms) {
    UErrorCode status = U_ZERO_ERROR;
    ucal_clear(cal);
    ucal_setDateTime(cal, date->year, date->month, date->day, minute / 60, minute % 60, 0, &status);
    UDate at = ucal_getMillis(cal, &status);
    *ms = (int64_t)at;
    return U_SUCCESS(status) ? 0 : -1;
}

//  Whether date is one of region's holidays: the federal ones (region US) and its own.
static bool s_holiday(const notify_quiet_rules_t *rules, const char *region, const s_date_t *date) {
    for (size_t i = 0; i < rules->holidays_n; i++) {
        const s_holiday_t *h = &rules->holidays[i];
        if ((strcmp(h->region, "US") != 0 && strcmp(h->region, region) != 0) ||
            h->month != date->month + 1)
            continue;
        if (h->day
                ? h->day == date->day
                : h->weekday == date->weekday && (h->nth < 0 ? date->day + 7 > date->month_days
                                                             : (date->day - 1) / 7 + 1 == h->nth))
            return true;
    }
    return false;
}

//  A region's span on date: its holiday row on one of its holidays, else its weekday's
//  row; the whole day when it has neither (or no rows).
static s_span_t s_region_span(const notify_quiet_rules_t *rules, const s_region_hours_t *hours,
                              const s_date_t *date) {
    if (!hours)
        return s_whole_day;
    if (hours->set[HOLIDAY] && s_holiday(rules, hours->region, date))
        return hours->hours[HOLIDAY];
    return hours->set[date->weekday] ? hours->hours[date->weekday] : s_whole_day;
}

static s_span_t s_intersect(s_span_t a, s_span_t b) {
    return (s_span_t){a.start > b.start ? a.start : b.start, a.end < b.end ? a.end : b.end};
}

//  The tenant's window as spans of one day, earliest first: one, or two when it runs past
//  midnight. 0 when the window is out of range.
static size_t s_tenant_spans(const notify_quiet_window_t *tenant, s_span_t spans[2]) {
    if (!tenant) {
        spans[0] = s_whole_day;
        return 1;
    }
    if (tenant->start < 0 || tenant->start >= MINUTES_PER_DAY || tenant->end < 0 ||
        tenant->end > MINUTES_PER_DAY)
        return 0;
    if (tenant->start == tenant->end) {
        spans[0] = s_whole_day;
        return 1;
    }
    if (tenant->start < tenant->end) {
        spans[0] = (s_span_t){tenant->start, tenant->end};
        return 1;
    }
    spans[0] = (s_span_t){0, tenant->end};
    spans[1] = (s_span_t){tenant->start, MINUTES_PER_DAY};
    return 2;
}

int notify_quiet_next(const notify_quiet_rules_t *rules, const char *time_zone,
                      const char *us_state, const notify_quiet_window_t *tenant, int64_t now_utc_ms,
                      int64_t *allowed_utc_ms) {
    s_span_t tenant_spans[2];
    size_t tenant_n = s_tenant_spans(tenant, tenant_spans);
    if (!rules || !allowed_utc_ms || tenant_n == 0)
        return -1;
    const s_region_hours_t *base = s_hours_find(rules, "*");
    const s_state_t *state = s_blank(us_state) ? NULL : s_state_find(rules, us_state);
    const s_region_hours_t *local = state ? s_hours_find(rules, state->code) : NULL;

    UCalendar *cal = s_calendar_open(time_zone);
    if (!cal)
        return -1;
    int rc = -1;
    s_date_t today;
    UErrorCode status = U_ZERO_ERROR;
    ucal_setMillis(cal, (UDate)now_utc_ms, &status);
    if (U_SUCCESS(status) && s_date_get(cal, &today) == 0)
        for (int k = 0; k < HORIZON_DAYS && rc != 0; k++) {
            s_date_t date;
            if (s_date_after(cal, &today, k, &date) != 0)
                break;
            s_span_t legal =
                s_intersect(s_region_span(rules, base, &date), s_region_span(rules, local, &date));
            for (size_t t = 0; t < tenant_n && rc != 0; t++) {
                s_span_t span = s_intersect(legal, tenant_spans[t]);
                int64_t start, end;
                if (span.start >= span.end || s_instant(cal, &date, span.start, &start) != 0 ||
                    s_instant(cal, &date, span.end, &end) != 0 || now_utc_ms >= end)
                    continue;
                *allowed_utc_ms = now_utc_ms < start ? start : now_utc_ms;
                rc = 0;
            }
        }
    ucal_close(cal);
    return rc;
}
