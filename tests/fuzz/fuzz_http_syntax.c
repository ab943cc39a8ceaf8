/*  libFuzzer target for the gateway's strict HTTP syntax (headers_syntax_add,
    services/gateway/headers.c): any bytes as a header section, one field a line
    ("\n"-separated; a line's first byte says whether it ended with CRLF, the rest is
    name:value, either of which may hold any byte). A section it accepts must have every
    line CRLF-ended, token names, values without control characters but tab, at most one
    Content-Length value and never Content-Length beside Transfer-Encoding; one it refuses
    must say why and name only token characters. */
#include "headers.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool s_token(const char *name, size_t size) {
    if (!size)
        return false;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c && strchr("!#$%&'*+-.^_`|~", c))))
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    headers_syntax_t syntax = {0};
    bool ok = true, length = false, encoding = false;
    const char *first_length = NULL;
    size_t first_length_size = 0;
    const char *text = (const char *)data, *end = text + size;
    while (text < end) {
        const char *line_end = memchr(text, '\n', (size_t)(end - text));
        if (!line_end)
            line_end = end;
        bool crlf = (*text & 1) != 0;
        const char *name = text + 1 <= line_end ? text + 1 : line_end;
        const char *colon = memchr(name, ':', (size_t)(line_end - name));
        size_t name_size = colon ? (size_t)(colon - name) : (size_t)(line_end - name);
        const char *value = colon ? colon + 1 : line_end;
        size_t value_size = (size_t)(line_end - value);
        headers_syntax_add(&syntax, name, name_size, value, value_size, crlf);
        ok &= crlf && s_token(name, name_size);
        for (size_t i = 0; i < value_size; i++)
            ok &= !(((unsigned char)value[i] < 0x20 && value[i] != '\t') || value[i] == 0x7f);
        if (name_size == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
            if (first_length && (first_length_size != value_size ||
                                 memcmp(first_length, value, value_size) != 0))
                ok = false;
            if (!first_length) {
                first_length = value;
                first_length_size = value_size;
            }
            length = true;
        }
        if (name_size == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0)
            encoding = true;
        text = line_end + 1;
    }
    bool accepted = syntax.problem == NULL;
    if (accepted && (!ok || (length && encoding)))
        abort();
    if (!accepted && !s_token(syntax.field, strlen(syntax.field)) && syntax.field[0])
        abort();
    return 0;
}
