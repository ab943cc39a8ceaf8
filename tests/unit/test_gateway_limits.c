/*  Unit test of the gateway's token buckets (services/gateway/ratelimit.c) and of the
    strict HTTP syntax of a request's header section (headers_syntax_add, headers.c):
    what the RateLimit-* headers and Retry-After will say, and which header sections are
    400. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../services/gateway/headers.h"
#include "../../services/gateway/ratelimit.h"

#include <stdio.h>
#include <string.h>

#define S_SECOND 1000000

//  A bucket of 3 refilled at 2 a second: three at once, then 429 with Retry-After 1;
//  half a second gives one back; two seconds fill it again. Names have their own.
static void test_bucket(void **state) {
    (void)state;
    ratelimit_t *limits = ratelimit_new();
    assert_non_null(limits);
    ratelimit_state_t st;
    int64_t now = 10 * (int64_t)S_SECOND;
    for (int i = 0; i < 3; i++) {
        assert_true(ratelimit_take(limits, "key-1", 2, 3, now, &st));
        assert_int_equal(st.limit, 3);
        assert_int_equal(st.remaining, 2 - i);
        assert_int_equal(st.retry_after_s, 0);
    }
    assert_int_equal(st.reset_s, 2); // 3 tokens at 2 a second
    assert_false(ratelimit_take(limits, "key-1", 2, 3, now, &st));
    assert_int_equal(st.remaining, 0);
    assert_int_equal(st.retry_after_s, 1);
    assert_true(ratelimit_take(limits, "key-2", 2, 3, now, &st)); // its own bucket
    assert_int_equal(st.remaining, 2);
    assert_true(ratelimit_take(limits, "key-1", 2, 3, now + S_SECOND / 2, &st));
    assert_false(ratelimit_take(limits, "key-1", 2, 3, now + S_SECOND / 2, &st));
    assert_true(ratelimit_take(limits, "key-1", 2, 3, now + 3 * S_SECOND, &st));
    assert_int_equal(st.remaining, 2);
    //  A refund gives back the token taken.
    ratelimit_refund(limits, "key-1", 3);
    assert_true(ratelimit_take(limits, "key-1", 2, 3, now + 3 * S_SECOND, &st));
    assert_int_equal(st.remaining, 2);
    //  A lowered burst applies at once.
    assert_true(ratelimit_take(limits, "key-2", 2, 1, now + 10 * S_SECOND, &st));
    assert_int_equal(st.limit, 1);
    assert_int_equal(st.remaining, 0);
    ratelimit_destroy(&limits);
    ratelimit_destroy(&limits);
    assert_null(limits);
}

//  Many more names than slots: the table never grows, every name is answered.
static void test_bucket_many_names(void **state) {
    (void)state;
    ratelimit_t *limits = ratelimit_new();
    ratelimit_state_t st;
    char name[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "10.0.%d.%d", i / 256, i % 256);
        assert_true(ratelimit_take(limits, name, 1, 1, i, &st));
    }
    assert_true(ratelimit_take(limits, "", 1, 1, 0, &st)); // no name: one shared bucket
    assert_false(ratelimit_take(limits, "", 1, 1, 0, &st));
    ratelimit_destroy(&limits);
}

typedef struct {
    const char *name;
    const char *value;
    size_t value_size; // 0: strlen
    bool crlf;
} s_field_t;

static const char *s_syntax(const s_field_t *fields, size_t n, char *field, size_t size) {
    headers_syntax_t syntax = {0};
    for (size_t i = 0; i < n; i++)
        headers_syntax_add(&syntax, fields[i].name, strlen(fields[i].name), fields[i].value,
                           fields[i].value_size ? fields[i].value_size : strlen(fields[i].value),
                           fields[i].crlf);
    snprintf(field, size, "%s", syntax.field);
    return syntax.problem;
}

static void test_syntax(void **state) {
    (void)state;
    char field[64];
    s_field_t good[] = {{"Host", "x", 0, true},
                        {"Content-Length", "12", 0, true},
                        {"Content-Length", "12", 0, true}, // the same again: one length
                        {"X-Note", "a\tb", 0, true},
                        {"Accept", "", 0, true}};
    assert_null(s_syntax(good, 5, field, sizeof field));
    static const struct {
        s_field_t fields[2];
        const char *field; // named in the 400
    } bad[] = {
        {{{"Content-Length", "12", 0, true}, {"Content-Length", "13", 0, true}}, "Content-Length"},
        {{{"Content-Length", "12", 0, true}, {"Transfer-Encoding", "chunked", 0, true}},
         "Transfer-Encoding"},
        {{{"Transfer-Encoding", "chunked", 0, true}, {"Content-Length", "1", 0, true}},
         "Content-Length"},
        {{{"Host", "x", 0, true}, {"X-Note", "a\rb", 0, true}}, "X-Note"},
        {{{"Host", "x", 0, true}, {"X-Note", "a\0b", 3, true}}, "X-Note"},
        {{{"Host", "x", 0, true}, {"X-Note ", "a", 0, true}}, "X-Note"}, // space before colon
        {{{"Host", "x", 0, false}, {"X-Note", "a", 0, true}}, ""},       // bare LF
        {{{"Host", "x", 0, true}, {"", "a", 0, true}}, ""},
        {{{"Host", "x", 0, true}, {"Content-Length", "", 0, true}}, "Content-Length"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *problem = s_syntax(bad[i].fields, 2, field, sizeof field);
        if (!problem)
            fail_msg("case %zu: accepted", i);
        assert_string_equal(field, bad[i].field);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_bucket_many_names),
        cmocka_unit_test(test_syntax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
