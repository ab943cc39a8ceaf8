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

// --- strict HTTP syntax ---------------------------------------------------------------

//  A tchar of RFC 9110 section 5.6.2.
static bool s_token_char(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void s_syntax_fail(headers_syntax_t *self, const char *name, size_t name_size,
                          const char *problem) {
    self->problem = problem;
    size_t n = name_size < sizeof self->field - 1 ? name_size : sizeof self->field - 1;
    //  The name is echoed in the error: only its token characters.
    size_t out = 0;
    for (size_t i = 0; i < n; i++)
        if (s_token_char((unsigned char)name[i]))
            self->field[out++] = name[i];
    self->field[out] = 0;
}

void headers_syntax_add(headers_syntax_t *self, const char *name, size_t name_size,
                        const char *value, size_t value_size, bool crlf) {
    if (self->problem)
        return;
    if (!crlf) {
        s_syntax_fail(self, "", 0,
                      "a header line does not end with CRLF (a bare LF, a NUL or a folded line)");
        return;
    }
    if (name_size == 0) {
        s_syntax_fail(self, "", 0, "a header field has no name");
        return;
    }
    for (size_t i = 0; i < name_size; i++)
        if (!s_token_char((unsigned char)name[i])) {
            s_syntax_fail(self, name, name_size,
                          "the header name holds a character a token may not (a space "
                          "before the colon?)");
            return;
        }
    for (size_t i = 0; i < value_size; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            s_syntax_fail(self, name, name_size,
                          "the header value holds a control character (CR, NUL, ...)");
            return;
        }
    }
    bool is_length = name_size == 14 && strncasecmp(name, "Content-Length", 14) == 0;
    bool is_encoding = name_size == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0;
    if (is_length) {
        if (value_size == 0 || value_size >= sizeof self->content_length) {
            s_syntax_fail(self, name, name_size, "Content-Length must be a number of bytes");
            return;
        }
        if (self->content_length[0] &&
            (strlen(self->content_length) != value_size ||
             memcmp(self->content_length, value, value_size) != 0)) {
            s_syntax_fail(self, name, name_size, "two different Content-Length headers");
            return;
        }
        memcpy(self->content_length, value, value_size);
        self->content_length[value_size] = 0;
    }
    if (is_encoding)
        self->transfer_encoding = true;
    if ((is_length || is_encoding) && self->transfer_encoding && self->content_length[0])
        s_syntax_fail(self, name, name_size,
                      "Content-Length and Transfer-Encoding may not both be given");
}
