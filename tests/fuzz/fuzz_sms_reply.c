/*  libFuzzer target for the SMS provider's replies (services/notify/sms.c): the first
    byte picks an HTTP status, the second a Retry-After, the rest is the body, read as
    the reply to a send and as a page of a message list.

    Invariants: the outcome is one of the four; ACCEPTED only on a 2xx and always with a
    sid; the sid and status are printable ASCII; the error is NUL-terminated, empty on
    ACCEPTED, and never copies the body's "message" (we plant a marker there); a list
    page is -1, 0 or 1, with a next page only on 0 and only under "/".

    Build and run (scripts/fuzz.sh style):
      clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icommon \
        tests/fuzz/fuzz_sms_reply.c services/notify/sms.c common/validate.c \
        -o build-fuzz/fuzz_sms_reply -lcurl -ljansson
      build-fuzz/fuzz_sms_reply -max_total_time=60 tests/fuzz/corpus/sms_reply
*/
#include "../../services/notify/channel.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_check(int condition, const char *what) {
    if (!condition) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static void s_check_token(const char *text, size_t size) {
    s_check(memchr(text, 0, size) != NULL, "a field is not NUL-terminated");
    for (const char *p = text; *p; p++)
        s_check(*p > 0x20 && *p < 0x7F, "a sid or status is not printable ASCII");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const long statuses[] = {200, 201, 204, 301, 400, 401, 403, 404, 408,
                                    429, 500, 502, 503, 504, 0,   99,  600, 999};
    static const char *const retry_afters[] = {NULL,
                                               "",
                                               "0",
                                               "7",
                                               "-5",
                                               "999999999999999999999",
                                               "Thu, 01 Jan 2026 00:01:30 GMT",
                                               "garbage",
                                               "  12  ",
                                               "1e3"};
    if (size < 2)
        return 0;
    long status = statuses[data[0] % (sizeof statuses / sizeof *statuses)];
    const char *retry_after = retry_afters[data[1] % (sizeof retry_afters / sizeof *retry_afters)];
    char *body = malloc(size - 1);
    memcpy(body, data + 2, size - 2);
    body[size - 2] = 0;

    notify_send_result_t out;
    memset(&out, 0x5A, sizeof out); // the parser must set what it reports
    out.segments = 1;
    int rc = notify_sms_reply_parse(status, body, retry_after, 1767225600, &out);
    s_check(out.outcome <= NOTIFY_SEND_AMBIGUOUS, "an outcome outside the four");
    s_check((rc == 0) == (out.outcome == NOTIFY_SEND_ACCEPTED), "rc disagrees with the outcome");
    s_check(out.http_status == status, "the status is not the one given");
    s_check_token(out.provider_id, sizeof out.provider_id);
    s_check_token(out.status, sizeof out.status);
    s_check(memchr(out.error, 0, sizeof out.error) != NULL, "the error is not NUL-terminated");
    s_check(!strstr(out.error, "PLANTED"), "the error copies the provider's words");
    s_check(out.retry_after_ms >= 0 && out.retry_after_ms <= 86400000,
            "retry_after_ms out of range");
    if (out.outcome == NOTIFY_SEND_ACCEPTED)
        s_check(status >= 200 && status < 300 && out.provider_id[0] && !out.error[0],
                "ACCEPTED without a 2xx, a sid, or with an error");

    notify_send_result_t found = {0};
    char *next = NULL;
    int page = notify_sms_list_parse(body, "+15551234567", "Hello", 1767225600, &found, &next);
    s_check(page >= -1 && page <= 1, "a list page read as something else");
    s_check(!next || (page == 0 && next[0] == '/'), "a next page where none may be");
    if (page == 1)
        s_check(found.outcome == NOTIFY_SEND_ACCEPTED && found.provider_id[0], "found, no sid");
    s_check_token(found.provider_id, sizeof found.provider_id);
    free(next);
    free(body);
    return 0;
}
