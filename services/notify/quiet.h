/*  quiet: when may an automated message reach its recipient.

    Pure rules over shipped data: no database, no network, no process-global state. The
    windows, the holidays and the time zones of US states and of single-zone countries are
    data files in services/notify/data/ (each names its sources and licence in its
    header), read once by notify_quiet_rules_new from a directory the caller gives. Time
    zone arithmetic is ICU's (ucal; the zone rules are ICU's own copy of the IANA
    database), one calendar per call: a rules object is read-only once loaded, and may be
    shared by any number of threads.

    The window: 08:00 to 21:00 in the recipient's time zone (the default row of
    quiet_hours.tsv), narrowed by the recipient's US state's rows (Florida 08:00-20:00,
    Texas from noon on Sundays, Rhode Island closed on Sundays and holidays...), narrowed
    by the tenant's own window when it has one: a message may go when all of them allow.

    The recipient's time zone and state: notify_quiet_place, from the contact's primary
    (else first) address; then notify_quiet_next gives the first instant at or after now
    when the message may go. tests/unit/test_notify_quiet.c has the cases.
*/
#ifndef NOTIFY_QUIET_H
#define NOTIFY_QUIET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Where the data files are when the caller names no directory: the repository's copy,
//  relative to the working directory (the daemons and `make run` start at the top).
#define NOTIFY_QUIET_DATA_DIR "services/notify/data"

#define NOTIFY_QUIET_ZONE_MAX 64 // bytes of an IANA zone name, its NUL included

//  The loaded windows, holidays and zone tables.
typedef struct _notify_quiet_rules_t notify_quiet_rules_t;

//  Read quiet_hours.tsv, holidays.tsv, us_state_time_zones.tsv and
//  country_time_zones.tsv from data_dir (NULL: NOTIFY_QUIET_DATA_DIR). Every zone they
//  name must be one ICU knows. NULL on failure, with *error (when error is given; the
//  caller frees it) naming the file, the line and what is wrong.
notify_quiet_rules_t *notify_quiet_rules_new(const char *data_dir, char **error);
void notify_quiet_rules_destroy(notify_quiet_rules_t **self_p);

//  A daily window in local time, minutes after midnight: start included, end excluded.
//  An end at or before the start runs past midnight (22:00-06:00); start == end is the
//  whole day.
typedef struct {
    int start; // 0..1439
    int end;   // 0..1440
} notify_quiet_window_t;

//  A window from "HH:MM" texts (end may be "24:00"): 0, or -1 when either is malformed.
int notify_quiet_window_parse(const char *start, const char *end, notify_quiet_window_t *window);

//  One postal address of the recipient (contacts' Address: country, region, primary).
typedef struct {
    const char *country; // ISO 3166-1 alpha-2 ("US"); "" or NULL when not known
    const char *region;  // state, county or province ("FL", "Florida")
    bool primary;
} notify_quiet_address_t;

//  Where the recipient's time zone came from.
typedef enum {
    NOTIFY_QUIET_FROM_STATE,   // the address's US state
    NOTIFY_QUIET_FROM_COUNTRY, // the address's country (one with a single clock)
    NOTIFY_QUIET_FROM_TENANT,  // the tenant's time zone
    NOTIFY_QUIET_FROM_UTC      // nothing known: UTC
} notify_quiet_source_t;

//  The recipient's place for quiet hours.
typedef struct {
    char time_zone[NOTIFY_QUIET_ZONE_MAX]; // an IANA name ICU knows
    char us_state[3];                      // "FL"; "" when not in a known US state
    notify_quiet_source_t source;
} notify_quiet_place_t;

//  The recipient's time zone and US state from its addresses: the primary one, else the
//  first. A US state (country "US", "USA" or none; region its code or name, any case)
//  gives the state's zone; a country of country_time_zones.tsv its zone; otherwise the
//  tenant's time zone (an IANA name; NULL, "" or unknown: UTC).
void notify_quiet_place(const notify_quiet_rules_t *rules, const notify_quiet_address_t *addresses,
                        size_t count, const char *tenant_time_zone, notify_quiet_place_t *place);

//  The first instant at or after now_utc_ms (ms since 1970, UTC) at which a message may
//  reach a recipient in time_zone (an IANA name; NULL or unknown: UTC) and us_state
//  (code or name; NULL, "" or unknown: no state rows), within the tenant's window (NULL:
//  none): *allowed_utc_ms = now_utc_ms when inside the window, else the start of the next
//  one. -1 when the arguments are wrong (a window out of range) or when no instant in
//  the next 14 days is allowed (a tenant window outside the legal hours).
int notify_quiet_next(const notify_quiet_rules_t *rules, const char *time_zone,
                      const char *us_state, const notify_quiet_window_t *tenant, int64_t now_utc_ms,
                      int64_t *allowed_utc_ms);

//  Whether ICU knows time_zone as an IANA zone name (for checking a tenant's setting).
bool notify_quiet_zone_known(const char *time_zone);

#endif
