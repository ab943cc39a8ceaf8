/*  rules: the leads service's pure rules (no database, no bus), unit-tested in
    tests/unit/test_leads_rules.c: stage keys, which moves between stages are allowed,
    times, and the list's cursors. */
#include "leads.h"
#include "ids.h"
#include "validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool leads_stage_key_valid(const char *key) {
    size_t n = strlen(key);
    if (n == 0 || n > LEADS_STAGE_KEY_MAX || !(key[0] >= 'a' && key[0] <= 'z'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= '0' && key[i] <= '9') ||
              key[i] == '_'))
            return false;
    return true;
}

int leads_stage_key_from_name(const char *name, char *out, size_t size) {
    char key[LEADS_STAGE_KEY_MAX + 3] = "";
    size_t n = 0;
    bool gap = false;
    for (const unsigned char *p = (const unsigned char *)name; *p && n < LEADS_STAGE_KEY_MAX;
         p++) {
        if (*p < 128 && isalnum(*p)) {
            if (gap && n > 0)
                key[n++] = '_';
            gap = false;
            if (n < LEADS_STAGE_KEY_MAX)
                key[n++] = (char)tolower(*p);
        } else
            gap = true;
    }
    while (n > 0 && key[n - 1] == '_')
        n--;
    key[n] = 0;
    if (n > 0 && isdigit((unsigned char)key[0])) {
        memmove(key + 2, key, n + 1);
        memcpy(key, "s_", 2);
        n += 2;
        if (n > LEADS_STAGE_KEY_MAX) {
            n = LEADS_STAGE_KEY_MAX;
            while (n > 0 && key[n - 1] == '_')
                n--;
            key[n] = 0;
        }
    }
    snprintf(out, size, "%s", key);
    return n > 0 ? 0 : -1;
}

leads_move_t leads_move_check(const char *from_key, const char *from_outcome,
                              const char *to_key, const char *to_outcome) {
    if (strcmp(from_key, to_key) == 0)
        return LEADS_MOVE_SAME;
    bool from_closed = strcmp(from_outcome, "open") != 0;
    bool to_closed = strcmp(to_outcome, "open") != 0;
    if (from_closed && to_closed)
        return LEADS_MOVE_CLOSED;
    if (from_closed)
        return LEADS_MOVE_REOPEN;
    return LEADS_MOVE_OK;
}

bool leads_role_may_reopen(const char *role) {
    return role && (strcmp(role, "manager") == 0 || strcmp(role, "admin") == 0);
}

//  Digits of text[from, from + n) as a number, or -1.
static long s_digits(const char *text, size_t from, size_t n) {
    long v = 0;
    for (size_t i = from; i < from + n; i++) {
        if (!isdigit((unsigned char)text[i]))
            return -1;
        v = v * 10 + (text[i] - '0');
    }
    return v;
}

int leads_time_parse(const char *text, int64_t *micros) {
    if (!text || !crm_timestamp_valid(text))
        return -1;
    int year, month, day;
    char date[11];
    memcpy(date, text, 10);
    date[10] = 0;
    if (!crm_date_parse(date, &year, &month, &day))
        return -1;
    long hour = 0, minute = 0, second = 0, fraction = 0, offset = 0;
    size_t len = strlen(text);
    if (len > 10) {
        //  YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), as crm_timestamp_valid checked.
        hour = s_digits(text, 11, 2);
        minute = s_digits(text, 14, 2);
        second = s_digits(text, 17, 2);
        size_t i = 19;
        if (text[i] == '.') {
            int places = 0;
            for (i++; isdigit((unsigned char)text[i]); i++)
                if (places < 6) {
                    fraction = fraction * 10 + (text[i] - '0');
                    places++;
                }
            for (; places < 6; places++)
                fraction *= 10;
        }
        if (text[i] == '+' || text[i] == '-') {
            long oh = s_digits(text, i + 1, 2), om = s_digits(text, i + 4, 2);
            if (oh < 0 || om < 0)
                return -1;
            offset = (oh * 60 + om) * 60 * (text[i] == '-' ? -1 : 1);
        }
        if (hour < 0 || minute < 0 || second < 0)
            return -1;
    }
    struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
                    .tm_hour = (int)hour, .tm_min = (int)minute, .tm_sec = (int)second};
    int64_t seconds = (int64_t)timegm(&tm) - offset;
    *micros = seconds * 1000000 + fraction;
    return 0;
}

char *leads_cursor_encode(char sort, const char *value, const char *id) {
    return crm_cursor_encode(sort, value, id);
}

int leads_cursor_decode(const char *text, char sort, leads_cursor_t *out) {
    if (crm_cursor_decode(text, sort, out))
        return -1;
    if (sort == 'c' && out->value[0])
        return -1; // created order carries no value
    if (sort == 'a' && !out->value[0])
        return -1; // every lead has a last activity
    return 0;
}
