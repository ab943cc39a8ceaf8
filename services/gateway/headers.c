/*  headers: request header checks. See headers.h. */
#include "headers.h"
#include "validate.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

const headers_rule_t headers_rules[] = {
    {"Idempotency-Key", 1, 255, false, "must be 1 to 255 bytes"},
    {"X-Request-Id", 1, 79, true, "must be 1 to 79 bytes"},
    {"If-Match", 1, 255, false, "must be 1 to 255 bytes"},
    {"If-None-Match", 1, 255, false, "must be 1 to 255 bytes"},
    {NULL, 0, 0, false, NULL},
};

bool headers_utf8_clean(const char *text, size_t size) {
    if (!crm_utf8_valid(text, size))
        return false;
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < size; i++) {
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
            return false;
        if (p[i] == 0xc2 && i + 1 < size && p[i + 1] <= 0x9f) // C1 controls, U+0080..U+009F
            return false;
    }
    return true;
}

static const headers_rule_t *s_rule(const char *name) {
    for (const headers_rule_t *rule = headers_rules; rule->name; rule++)
        if (strcasecmp(rule->name, name) == 0)
            return rule;
    return NULL;
}

const char *headers_problem(const char *name, const char *value, size_t size) {
    const headers_rule_t *rule = s_rule(name);
    size_t min = rule ? rule->min : 0, max = rule ? rule->max : HEADERS_DEFAULT_MAX;
    if (size < min || size > max)
        return rule ? rule->length_rule : "must be at most 4096 bytes";
    if (rule && rule->visible_ascii) {
        for (size_t i = 0; i < size; i++) {
            unsigned char c = (unsigned char)value[i];
            if (c <= 32 || c >= 127 || c == '"' || c == '\\')
                return "must be visible US-ASCII characters, without quotes or backslashes";
        }
        return NULL;
    }
    if (!headers_utf8_clean(value, size))
        return "must be UTF-8 without control characters";
    return NULL;
}
