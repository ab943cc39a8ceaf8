/*  appointment: the rules of an appointment's (or test drive's) messages to the customer,
    no database and no bus: what a LeadActivityLogged of one means (booked, moved, called
    off, nothing new for the customer), which messages that queues and which it
    withdraws, their keys, and the appointment's time in words for {{appointment.time}}.
    follow.c applies a plan; appointment_store.c holds notify's copy of each appointment
    and the statement that withdraws its messages; tests/unit/test_notify_appointment.c
    states the rules.

    The messages: a confirmation when it is booked (or booked again after being called
    off), one saying the new time when it is moved, and reminders 24 h and 2 h before.
    A reminder whose time has passed when the appointment is booked (a booking for this
    afternoon) is not queued, and nothing is queued for an appointment whose time has
    come. What is still queued for another time is withdrawn when it moves, and
    everything still queued when it is cancelled, completed or missed.
*/
#include "notify.h"
#include "quiet.h"

#include <unicode/udat.h>
#include <unicode/udatpg.h>
#include <unicode/ustring.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR_MS (3600 * 1000LL)

const notify_reminder_t notify_reminders[NOTIFY_REMINDERS] = {{"24h", 24 * HOUR_MS},
                                                              {"2h", 2 * HOUR_MS}};

// --- times ------------------------------------------------------------------------------

//  n digits at text as a number, or -1.
static int s_digits(const char *text, int n) {
    int value = 0;
    for (int i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

int notify_time_parse(const char *text, int64_t *ms) {
    //  YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
    if (!text || strlen(text) < 20 || text[4] != '-' || text[7] != '-' ||
        (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || text[13] != ':' ||
        text[16] != ':')
        return -1;
    struct tm tm = {0};
    int year = s_digits(text, 4), month = s_digits(text + 5, 2), day = s_digits(text + 8, 2);
    int hour = s_digits(text + 11, 2), minute = s_digits(text + 14, 2);
    int second = s_digits(text + 17, 2);
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
        minute < 0 || minute > 59 || second < 0 || second > 60)
        return -1;
    const char *p = text + 19;
    int64_t fraction_ms = 0, scale = 100;
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9')
            return -1;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            fraction_ms += (*p - '0') * scale;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z')
        p++;
    else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh = s_digits(p + 1, 2), om = s_digits(p + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        offset_s = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
        p += 6;
    } else
        return -1;
    if (*p)
        return -1;
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    *ms = ((int64_t)timegm(&tm) - offset_s) * 1000 + fraction_ms;
    return 0;
}

void notify_time_text(int64_t ms, char out[NOTIFY_TIME_TEXT]) {
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    strftime(out, NOTIFY_TIME_TEXT, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int notify_appointment_time_words(int64_t ms, const char *time_zone, char *out, size_t size) {
    //  "Tuesday, March 3 at 2:30 PM EST": ICU's pattern for the skeleton, in the zone.
    UErrorCode status = U_ZERO_ERROR;
    UChar skeleton[16], pattern[96], zone[NOTIFY_QUIET_ZONE_MAX], text[160];
    out[0] = 0;
    u_uastrcpy(skeleton, "EEEEMMMMdjmmz");
    UDateTimePatternGenerator *generator = udatpg_open("en_US", &status);
    int32_t n = udatpg_getBestPattern(generator, skeleton, -1, pattern, 96, &status);
    udatpg_close(generator);
    if (U_FAILURE(status) || n >= 96)
        return -1;
    u_uastrncpy(zone, time_zone && time_zone[0] ? time_zone : "UTC", NOTIFY_QUIET_ZONE_MAX - 1);
    zone[NOTIFY_QUIET_ZONE_MAX - 1] = 0;
    UDateFormat *format =
        udat_open(UDAT_PATTERN, UDAT_PATTERN, "en_US", zone, -1, pattern, n, &status);
    int32_t len = U_FAILURE(status) ? 0 : udat_format(format, (UDate)ms, text, 160, NULL, &status);
    udat_close(format);
    if (U_FAILURE(status) || len >= 160)
        return -1;
    //  ICU puts a narrow no-break space before "PM": a plain one keeps an SMS in GSM-7.
    for (int32_t i = 0; i < len; i++)
        if (text[i] == 0x202F || text[i] == 0x00A0)
            text[i] = ' ';
    u_strToUTF8(out, (int32_t)size, NULL, text, len, &status);
    if (U_FAILURE(status) || status == U_STRING_NOT_TERMINATED_WARNING) {
        out[0] = 0;
        return -1;
    }
    return 0;
}

// --- what an event means ------------------------------------------------------------------

bool notify_appointment_scheduled(const char *status) {
    return !status[0] || strcmp(status, "scheduled") == 0;
}

static bool s_has(char *const *names, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

notify_appointment_change_t notify_appointment_change(const notify_appointment_state_t *before,
                                                      const notify_appointment_state_t *now,
                                                      char *const *changed, size_t n_changed) {
    if (!now->scheduled)
        return NOTIFY_APPOINTMENT_ENDED;
    if (before->known) {
        if (!before->scheduled)
            return NOTIFY_APPOINTMENT_BOOKED; // booked again after being called off
        return before->at_ms != now->at_ms ? NOTIFY_APPOINTMENT_MOVED : NOTIFY_APPOINTMENT_SAME;
    }
    //  Not seen before (booked before notify kept appointments): the event says.
    if (n_changed == 0)
        return NOTIFY_APPOINTMENT_BOOKED;
    if (s_has(changed, n_changed, "scheduledAt") || s_has(changed, n_changed, "occurredAt"))
        return NOTIFY_APPOINTMENT_MOVED;
    if (s_has(changed, n_changed, "status"))
        return NOTIFY_APPOINTMENT_BOOKED;
    return NOTIFY_APPOINTMENT_SAME;
}

//  Why an appointment that is no longer scheduled withdraws its messages.
static const char *s_ended_reason(const char *status) {
    if (strcmp(status, "completed") == 0)
        return "appointment_completed";
    if (strcmp(status, "no_show") == 0)
        return "appointment_no_show";
    return "appointment_cancelled";
}

void notify_appointment_plan(const notify_appointment_state_t *before,
                             const notify_appointment_state_t *now, const char *status,
                             char *const *changed, size_t n_changed, int64_t now_ms,
                             notify_appointment_plan_t *plan) {
    memset(plan, 0, sizeof *plan);
    plan->change = notify_appointment_change(before, now, changed, n_changed);
    if (plan->change == NOTIFY_APPOINTMENT_ENDED) {
        plan->cancel_reason = s_ended_reason(status);
        return;
    }
    //  Whatever is still queued for another time goes (a move; nothing otherwise).
    plan->cancel_reason = "appointment_moved";
    if (now->at_ms <= now_ms)
        return; // its time has come: nothing more to tell the customer
    plan->confirm =
        plan->change == NOTIFY_APPOINTMENT_BOOKED || plan->change == NOTIFY_APPOINTMENT_MOVED;
    //  The reminders (again when nothing changed: their keys make that a no-op, and a
    //  dealership that turned the messages on since the booking gets them).
    for (int i = 0; i < NOTIFY_REMINDERS; i++) {
        int64_t due = now->at_ms - notify_reminders[i].before_ms;
        plan->reminder_due_ms[i] = due > now_ms ? due : 0;
    }
}

void notify_appointment_reminder_key(char *out, size_t size, const char *activity_id, int64_t at_ms,
                                     const char *reminder, const char *contact_id) {
    char at[NOTIFY_TIME_TEXT], source[128];
    notify_time_text(at_ms, at);
    snprintf(source, sizeof source, "%s@%s/%s", activity_id, at, reminder);
    notify_message_key(out, size, "appointment_reminder", source, "first", contact_id);
}

const char *notify_appointment_too_late(int64_t at_ms, int64_t now_ms, int64_t allowed_ms) {
    if (now_ms >= at_ms)
        return "appointment_passed";
    if (allowed_ms >= at_ms)
        return "quiet_hours";
    return NULL;
}
