/*  libFuzzer target for the gateway's request header checks (services/gateway/headers.c):
    any bytes as a header value. headers_utf8_clean must agree with jansson's UTF-8 check
    (which PostgreSQL's matches: no overlong forms, surrogates or code points past
    U+10FFFF) once control characters are set aside; a value headers_problem accepts must
    be clean and within its rule's length, for every rule and for a header without one. */
#include "headers.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool s_controls(const uint8_t *data, size_t size) {
    for (size_t i = 0; i < size; i++) {
        if ((data[i] < 0x20 && data[i] != '\t') || data[i] == 0x7f)
            return true;
        //  C1 controls, U+0080..U+009F: C2 80..C2 9F.
        if (data[i] == 0xc2 && i + 1 < size && data[i + 1] >= 0x80 && data[i + 1] <= 0x9f)
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    bool clean = headers_utf8_clean(text, size);
    json_t *string = json_stringn(text, size);
    bool utf8 = string != NULL;
    json_decref(string);
    if (clean != (utf8 && !s_controls(data, size)))
        abort();
    for (const headers_rule_t *rule = headers_rules;; rule++) {
        const char *name = rule->name ? rule->name : "X-Twilio-Signature";
        size_t max = rule->name ? rule->max : HEADERS_DEFAULT_MAX;
        const char *problem = headers_problem(name, text, size);
        if (!problem && (!clean || size > max || (rule->name && size < rule->min)))
            abort();
        if (!rule->name)
            break;
    }
    return 0;
}
