/*  page: a list's page size and its cursors, shared by every service's lists. */
#include "page.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int crm_page_limit(crm_call_t *call, const char *field, uint32_t asked, int default_limit,
                   int max_limit) {
    if (asked == 0)
        return default_limit;
    if (asked > (uint32_t)max_limit) {
        crm_call_field_error(call, field, "must be at most %d", max_limit);
        return max_limit;
    }
    return (int)asked;
}

char *crm_cursor_encode(char sort, const char *value, const char *id) {
    size_t size = strlen(value) + strlen(id) + 4;
    char *text = malloc(size);
    snprintf(text, size, "%c.%s.%s", sort, value, id);
    return text;
}

//  True when the len bytes at text are all digits.
static bool s_digits(const char *text, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)text[i]))
            return false;
    return true;
}

int crm_cursor_decode(const char *text, char sort, crm_cursor_t *out) {
    memset(out, 0, sizeof *out);
    if (!text || text[0] != sort || text[1] != '.')
        return -1;
    const char *value = text + 2;
    const char *dot = strchr(value, '.');
    if (!dot || (size_t)(dot - value) >= sizeof out->value || !s_digits(value, dot - value))
        return -1;
    if (strlen(dot + 1) >= sizeof out->id || !crm_uuid_valid(dot + 1))
        return -1;
    out->sort = sort;
    memcpy(out->value, value, (size_t)(dot - value));
    snprintf(out->id, sizeof out->id, "%s", dot + 1);
    return 0;
}

int crm_cursor_number(const char *text, long long min, long long max, long long *out) {
    size_t len = text ? strlen(text) : 0;
    //  18 digits always fit a long long; more are out of any list's range.
    if (len == 0 || len > 18 || !s_digits(text, len))
        return -1;
    long long number = strtoll(text, NULL, 10);
    if (number < min || number > max)
        return -1;
    *out = number;
    return 0;
}
