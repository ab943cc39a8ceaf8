/*  headers: the checks every request header the gateway passes on to a service must pass
    (Idempotency-Key, X-Request-Id, the raw routes' forwarded headers, ...): a length cap
    and well-formed UTF-8 without control characters, so no bad byte reaches a service
    (and its SQL). A header that fails gets 400 naming it.

    The rules are one table (headers_rules); everything here is free of libmicrohttpd,
    so the unit test and the fuzz target (tests/fuzz/fuzz_headers.c) drive it directly.
*/
#ifndef GATEWAY_HEADERS_H
#define GATEWAY_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *name; // as clients send it (matched case-insensitively)
    size_t min, max;  // bytes
    bool visible_ascii; // only visible US-ASCII (33..126), not " or \ (echoed in a header)
    const char *length_rule; // the message when the length is wrong
} headers_rule_t;

//  The API's headers passed on to services, NULL-terminated by a row without a name.
extern const headers_rule_t headers_rules[];

//  The limit for a header without its own rule (a raw route's forwarded headers).
#define HEADERS_DEFAULT_MAX 4096

//  True when size bytes at text are well-formed UTF-8 (no overlong forms, surrogates or
//  code points past U+10FFFF), without NUL or other C0 control characters but tab.
bool headers_utf8_clean(const char *text, size_t size);

//  NULL when value (size bytes) is acceptable for the header named name, else what is
//  wrong with it ("must be 1 to 255 bytes", "must be UTF-8 without control characters").
const char *headers_problem(const char *name, const char *value, size_t size);

// --- strict HTTP syntax ---------------------------------------------------------------

//  The request's header section as a whole, one field at a time (headers_syntax_add),
//  held to RFC 9112 where libmicrohttpd 0.9.75 is lenient even with
//  MHD_OPTION_STRICT_FOR_CLIENT (which only insists on Host): a field name is a token
//  (no space before the colon), a value carries no control character but tab (a bare CR
//  or NUL), every line ends with CRLF (not a bare LF), Content-Length is given once (or
//  repeated with the same value) and never beside Transfer-Encoding (the framing a
//  smuggled request plays on). The first problem found is kept; the request gets 400.
typedef struct {
    const char *problem; // what is wrong, NULL while all is well
    char field[64];      // the field it is about ("" for the line endings)
    char content_length[24]; // the first Content-Length value ("" none)
    bool transfer_encoding;
} headers_syntax_t;

//  One header field as parsed (name and value with their sizes; a value may hold the
//  bytes the parser let through) and whether its line ended with CRLF.
void headers_syntax_add(headers_syntax_t *self, const char *name, size_t name_size,
                        const char *value, size_t value_size, bool crlf);

#endif
