/*  Unit tests for log.h: each call writes one valid JSON object per line to stderr with
    ts, level, service and msg (plus extra members), strings escaped, bad UTF-8 repaired,
    levels below the minimum dropped, and lines from concurrent threads never mixed.

    stderr is pointed at a temporary file while a test logs, then the file is read back
    and every line parsed with jansson.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

typedef struct {
    char path[64];
    int saved_stderr;
} s_capture_t;

//  Send stderr to a new temporary file (O_APPEND, as a shared log file would be).
static void s_capture_start(s_capture_t *self) {
    strcpy(self->path, "/tmp/test_log.XXXXXX");
    int fd = mkstemp(self->path);
    assert_true(fd >= 0);
    close(fd);
    fd = open(self->path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    fflush(stderr);
    self->saved_stderr = dup(STDERR_FILENO);
    assert_true(self->saved_stderr >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
}

//  Put stderr back and return everything written meanwhile (caller frees).
static char *s_capture_end(s_capture_t *self) {
    dup2(self->saved_stderr, STDERR_FILENO);
    close(self->saved_stderr);
    FILE *file = fopen(self->path, "rb");
    assert_non_null(file);
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
    fclose(file);
    unlink(self->path);
    return text;
}

static size_t s_count_lines(const char *text) {
    size_t lines = 0;
    for (const char *at = text; *at; at++)
        if (*at == '\n')
            lines++;
    return lines;
}

//  Parse one line (the text must be exactly one line ending in \n) as a JSON object.
static json_t *s_parse_line(const char *text) {
    size_t length = strlen(text);
    assert_true(length > 0);
    assert_int_equal(text[length - 1], '\n');
    assert_int_equal(s_count_lines(text), 1);
    json_error_t error;
    json_t *object = json_loads(text, 0, &error);
    if (!object)
        fail_msg("not valid JSON (%s at column %d): %s", error.text, error.column, text);
    assert_true(json_is_object(object));
    return object;
}

//  Parse line number n (from 0) of text.
static json_t *s_parse_nth(const char *text, size_t n) {
    const char *start = text;
    for (size_t i = 0; i < n; i++) {
        start = strchr(start, '\n');
        assert_non_null(start);
        start++;
    }
    const char *end = strchr(start, '\n');
    assert_non_null(end);
    char *copy = strndup(start, (size_t)(end - start) + 1);
    assert_non_null(copy);
    json_t *object = s_parse_line(copy);
    free(copy);
    return object;
}

static const char *s_member(json_t *object, const char *key) {
    json_t *value = json_object_get(object, key);
    if (!value || !json_is_string(value))
        fail_msg("member \"%s\" missing or not a string", key);
    return json_string_value(value);
}

//  2026-11-22T10:00:00.123Z
static bool s_is_rfc3339_ms_utc(const char *ts) {
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (strlen(ts) != strlen(shape))
        return false;
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? (ts[i] < '0' || ts[i] > '9') : ts[i] != shape[i])
            return false;
    }
    return true;
}

static void test_line_members(void **state) {
    (void)state;
    crm_log_init("contacts", CRM_LOG_DEBUG);
    s_capture_t capture;
    s_capture_start(&capture);
    crm_info("listening on port %d", 8080);
    char *text = s_capture_end(&capture);

    json_t *line = s_parse_line(text);
    assert_true(s_is_rfc3339_ms_utc(s_member(line, "ts")));
    assert_string_equal(s_member(line, "level"), "info");
    assert_string_equal(s_member(line, "service"), "contacts");
    assert_string_equal(s_member(line, "msg"), "listening on port 8080");
    assert_int_equal(json_object_size(line), 4);
    //  Members come in a fixed order, ts first, so lines sort and grep well.
    assert_true(strncmp(text, "{\"ts\":\"", 7) == 0);
    json_decref(line);
    free(text);
}

static void test_kv_members(void **state) {
    (void)state;
    crm_log_init("gateway", CRM_LOG_INFO);
    s_capture_t capture;
    s_capture_start(&capture);
    crm_log_kv(CRM_LOG_ERROR, "could not connect to database", "detail", "connection refused",
               "hint", "is the database running?", "request_id", NULL, NULL);
    char *text = s_capture_end(&capture);

    json_t *line = s_parse_line(text);
    assert_string_equal(s_member(line, "level"), "error");
    assert_string_equal(s_member(line, "service"), "gateway");
    assert_string_equal(s_member(line, "msg"), "could not connect to database");
    assert_string_equal(s_member(line, "detail"), "connection refused");
    assert_string_equal(s_member(line, "hint"), "is the database running?");
    assert_true(json_is_null(json_object_get(line, "request_id"))); //  NULL value -> null
    json_decref(line);
    free(text);
}

static void test_escaping(void **state) {
    (void)state;
    crm_log_init("contacts", CRM_LOG_DEBUG);
    s_capture_t capture;
    s_capture_start(&capture);
    crm_log_kv(CRM_LOG_WARN, "quote \" backslash \\ newline \n tab \t ctrl \x01 del \x7f end",
               "name", "Jos\xc3\xa9 \xf0\x9f\x9a\x97", "bad",
               "a\xff"
               "b\xe2\x82"
               "c\xed\xa0\x80"
               "d",
               "we\"ird\nkey", "v", NULL);
    char *text = s_capture_end(&capture);

    //  The raw line uses the short escapes and \u00XX for other controls.
    assert_non_null(strstr(text, "quote \\\" backslash \\\\ newline \\n tab \\t ctrl \\u0001"));
    assert_non_null(strstr(text, "del \\u007f end"));

    json_t *line = s_parse_line(text);
    assert_string_equal(s_member(line, "msg"),
                        "quote \" backslash \\ newline \n tab \t ctrl \x01 del \x7f end");
    //  Valid multibyte characters pass through unchanged.
    assert_string_equal(s_member(line, "name"), "Jos\xc3\xa9 \xf0\x9f\x9a\x97");
    //  Each invalid byte (a stray FF, a truncated sequence, a surrogate) becomes U+FFFD.
    assert_string_equal(s_member(line, "bad"), "a\xef\xbf\xbd"
                                               "b\xef\xbf\xbd\xef\xbf\xbd"
                                               "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                                               "d");
    assert_string_equal(s_member(line, "we\"ird\nkey"), "v"); //  keys are escaped too
    json_decref(line);
    free(text);
}

static void test_level_filtering(void **state) {
    (void)state;
    crm_log_init("leads", CRM_LOG_WARN);
    s_capture_t capture;
    s_capture_start(&capture);
    crm_debug("dropped debug");
    crm_info("dropped info");
    crm_log_kv(CRM_LOG_INFO, "dropped kv info", "detail", "x", NULL);
    crm_warn("kept warn");
    crm_error("kept error");
    crm_log_kv(CRM_LOG_ERROR, "kept kv error", NULL);
    char *text = s_capture_end(&capture);

    assert_int_equal(s_count_lines(text), 3);
    assert_null(strstr(text, "dropped"));
    json_t *line = s_parse_nth(text, 0);
    assert_string_equal(s_member(line, "level"), "warn");
    assert_string_equal(s_member(line, "msg"), "kept warn");
    json_decref(line);
    line = s_parse_nth(text, 1);
    assert_string_equal(s_member(line, "level"), "error");
    assert_string_equal(s_member(line, "msg"), "kept error");
    json_decref(line);
    line = s_parse_nth(text, 2);
    assert_string_equal(s_member(line, "msg"), "kept kv error");
    json_decref(line);
    free(text);

    //  Raising the level back lets debug through.
    crm_log_init("leads", CRM_LOG_DEBUG);
    s_capture_start(&capture);
    crm_debug("now kept");
    text = s_capture_end(&capture);
    line = s_parse_line(text);
    assert_string_equal(s_member(line, "level"), "debug");
    json_decref(line);
    free(text);
}

static void test_level_parse(void **state) {
    (void)state;
    static const struct {
        const char *name;
        crm_log_level_t level;
    } names[] = {
        {"debug", CRM_LOG_DEBUG},
        {"info", CRM_LOG_INFO},
        {"warn", CRM_LOG_WARN},
        {"error", CRM_LOG_ERROR},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        crm_log_level_t level = (crm_log_level_t)-1;
        assert_int_equal(crm_log_level_parse(names[i].name, &level), 0);
        assert_int_equal(level, names[i].level);
    }
    crm_log_level_t level = CRM_LOG_INFO;
    assert_int_equal(crm_log_level_parse("verbose", &level), -1);
    assert_int_equal(crm_log_level_parse("warning", &level), -1);
    assert_int_equal(crm_log_level_parse("", &level), -1);
    assert_int_equal(crm_log_level_parse(NULL, &level), -1);
    assert_int_equal(level, CRM_LOG_INFO); //  untouched on failure
}

//  Messages far longer than the stack buffers still come out whole, on one line.
static void test_long_message(void **state) {
    (void)state;
    crm_log_init("reporting", CRM_LOG_DEBUG);
    size_t length = 100000;
    char *big = malloc(length + 1);
    assert_non_null(big);
    for (size_t i = 0; i < length; i++)
        big[i] = (char)('a' + i % 26);
    big[length] = 0;

    s_capture_t capture;
    s_capture_start(&capture);
    crm_info("%s", big);
    crm_log_kv(CRM_LOG_INFO, "big detail", "detail", big, NULL);
    char *text = s_capture_end(&capture);

    assert_int_equal(s_count_lines(text), 2);
    json_t *line = s_parse_nth(text, 0);
    assert_string_equal(s_member(line, "msg"), big);
    json_decref(line);
    line = s_parse_nth(text, 1);
    assert_string_equal(s_member(line, "detail"), big);
    json_decref(line);
    free(text);
    free(big);
}

#define S_THREADS 4
#define S_LINES 250

static void *s_log_lines(void *arg) {
    int thread = *(int *)arg;
    char detail[3000];
    memset(detail, 'a' + thread, sizeof detail - 1); //  long enough to need the heap
    detail[sizeof detail - 1] = 0;
    for (int i = 0; i < S_LINES; i++)
        crm_log_kv(CRM_LOG_INFO, "line", "detail", detail, NULL);
    return NULL;
}

//  Lines written by several threads at once each arrive whole.
static void test_threads_do_not_interleave(void **state) {
    (void)state;
    crm_log_init("dedupe", CRM_LOG_INFO);
    s_capture_t capture;
    s_capture_start(&capture);
    pthread_t threads[S_THREADS];
    int numbers[S_THREADS];
    for (int t = 0; t < S_THREADS; t++) {
        numbers[t] = t;
        assert_int_equal(pthread_create(&threads[t], NULL, s_log_lines, &numbers[t]), 0);
    }
    for (int t = 0; t < S_THREADS; t++)
        pthread_join(threads[t], NULL);
    char *text = s_capture_end(&capture);

    assert_int_equal(s_count_lines(text), S_THREADS * S_LINES);
    int per_thread[S_THREADS] = {0};
    for (size_t n = 0; n < S_THREADS * S_LINES; n++) {
        json_t *line = s_parse_nth(text, n);
        const char *detail = s_member(line, "detail");
        assert_int_equal(strlen(detail), 2999);
        int thread = detail[0] - 'a';
        assert_true(thread >= 0 && thread < S_THREADS);
        assert_int_equal(strspn(detail, (char[]){detail[0], 0}), 2999); //  not mixed
        per_thread[thread]++;
        json_decref(line);
    }
    for (int t = 0; t < S_THREADS; t++)
        assert_int_equal(per_thread[t], S_LINES);
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_members),
        cmocka_unit_test(test_kv_members),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_level_filtering),
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_long_message),
        cmocka_unit_test(test_threads_do_not_interleave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
