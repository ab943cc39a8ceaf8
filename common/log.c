/*  log: JSON-lines logging to stderr, one object per line.

    Each line is assembled in memory (a stack buffer, spilling to the heap for long
    messages) and handed to the kernel with one write(2), so lines from concurrent
    threads and processes sharing stderr never interleave. Every string is escaped for
    JSON and invalid UTF-8 bytes become U+FFFD, so each line parses whatever the caller
    passed in.
*/
#include "log.h"
#include "validate.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_SERVICE_MAX 64
#define S_STACK_LINE 1024

static const char *s_level_names[] = {"debug", "info", "warn", "error"};

static atomic_int s_min_level = CRM_LOG_INFO;
static pthread_mutex_t s_service_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_service[S_SERVICE_MAX];

//  A line under construction. Starts in caller-provided storage and moves to the heap
//  when it outgrows it; if the heap refuses, the line is truncated rather than lost.
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    bool on_heap;
    bool truncated;
} s_line_t;

static void s_line_init(s_line_t *self, char *storage, size_t size) {
    self->data = storage;
    self->len = 0;
    self->cap = size;
    self->on_heap = false;
    self->truncated = false;
}

//  Make room for n more bytes; returns false (and marks the line truncated) if it cannot.
static bool s_line_reserve(s_line_t *self, size_t n) {
    if (self->truncated)
        return false;
    if (self->len + n <= self->cap)
        return true;
    size_t cap = self->cap * 2;
    while (cap < self->len + n)
        cap *= 2;
    char *data = self->on_heap ? realloc(self->data, cap) : malloc(cap);
    if (!data) {
        self->truncated = true;
        return false;
    }
    if (!self->on_heap)
        memcpy(data, self->data, self->len);
    self->data = data;
    self->cap = cap;
    self->on_heap = true;
    return true;
}

static void s_line_append(s_line_t *self, const char *text, size_t n) {
    if (s_line_reserve(self, n)) {
        memcpy(self->data + self->len, text, n);
        self->len += n;
    }
}

static void s_line_puts(s_line_t *self, const char *text) {
    s_line_append(self, text, strlen(text));
}

//  JSON's two-character escapes; other control characters become \u00XX.
static const char *const s_short_escapes[128] = {
    ['"'] = "\\\"", ['\\'] = "\\\\", ['\n'] = "\\n", ['\r'] = "\\r",
    ['\t'] = "\\t", ['\b'] = "\\b",  ['\f'] = "\\f",
};

//  Append text as a JSON string literal, quotes included. Control characters, quote and
//  backslash are escaped; each byte that does not start a valid UTF-8 sequence becomes
//  \ufffd; valid multibyte characters are copied as they are.
static void s_line_json_string(s_line_t *self, const char *text) {
    static const char hex[] = "0123456789abcdef";
    s_line_append(self, "\"", 1);
    if (!text)
        text = "";
    size_t length = strlen(text);
    size_t start = 0; //  first byte not yet copied
    size_t at = 0;
    while (at < length) {
        unsigned char c = (unsigned char)text[at];
        char escape[8] = "";
        size_t width = 1;
        if (c < 0x80 && s_short_escapes[c])
            strcpy(escape, s_short_escapes[c]);
        else if (c < 0x20 || c == 0x7f) {
            strcpy(escape, "\\u00");
            escape[4] = hex[c >> 4];
            escape[5] = hex[c & 0xf];
            escape[6] = 0;
        } else if (c >= 0x80) {
            width = crm_utf8_char_len(text + at, length - at);
            if (width == 0) {
                strcpy(escape, "\\ufffd");
                width = 1;
            }
        }
        if (*escape) {
            s_line_append(self, text + start, at - start);
            s_line_puts(self, escape);
            start = at + width;
        }
        at += width;
    }
    s_line_append(self, text + start, at - start);
    s_line_append(self, "\"", 1);
}

static void s_line_member(s_line_t *self, const char *key, const char *value) {
    s_line_append(self, ",", 1);
    s_line_json_string(self, key);
    s_line_append(self, ":", 1);
    if (value)
        s_line_json_string(self, value);
    else
        s_line_puts(self, "null");
}

//  RFC 3339 UTC timestamp with milliseconds: 2026-11-22T10:00:00.123Z
static void s_timestamp(char *out, size_t size) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%03dZ", (int)(now.tv_nsec / 1000000));
}

//  Write the whole buffer to stderr. One write(2) in the normal case; loops only if the
//  kernel takes part of it (a full pipe) or a signal interrupts it.
static void s_write_all(const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; //  nowhere left to report the failure
        }
        data += n;
        len -= (size_t)n;
    }
}

static const char *s_service_name(char *copy, size_t size) {
    pthread_mutex_lock(&s_service_lock);
    if (*s_service)
        snprintf(copy, size, "%s", s_service);
    else //  not initialised yet: the program's name is the best guess
        snprintf(copy, size, "%s", program_invocation_short_name);
    pthread_mutex_unlock(&s_service_lock);
    return copy;
}

//  Build and write one line: ts, level, service, msg, then the extra members.
static void s_emit(crm_log_level_t level, const char *msg, va_list *kv) {
    char storage[S_STACK_LINE];
    s_line_t line;
    s_line_init(&line, storage, sizeof storage);

    char ts[40];
    s_timestamp(ts, sizeof ts);
    char service[S_SERVICE_MAX];
    s_service_name(service, sizeof service);

    s_line_puts(&line, "{\"ts\":\"");
    s_line_puts(&line, ts);
    s_line_puts(&line, "\"");
    s_line_member(&line, "level", s_level_names[level]);
    s_line_member(&line, "service", service);
    s_line_member(&line, "msg", msg);
    if (kv) {
        const char *key;
        while ((key = va_arg(*kv, const char *))) {
            const char *value = va_arg(*kv, const char *);
            s_line_member(&line, key, value);
        }
    }
    if (line.truncated) {
        //  Out of memory while growing: close what we have as a valid object.
        line.truncated = false;
        line.len = 0;
        s_line_puts(&line, "{\"ts\":\"");
        s_line_puts(&line, ts);
        s_line_puts(&line, "\"");
        s_line_member(&line, "level", s_level_names[level]);
        s_line_member(&line, "service", service);
        s_line_member(&line, "msg", "log line dropped: out of memory");
    }
    s_line_append(&line, "}\n", 2);
    s_write_all(line.data, line.len);
    if (line.on_heap)
        free(line.data);
}

static bool s_level_enabled(crm_log_level_t level) {
    return level >= CRM_LOG_DEBUG && level <= CRM_LOG_ERROR &&
           (int)level >= atomic_load(&s_min_level);
}

void crm_log_init(const char *service, crm_log_level_t level) {
    pthread_mutex_lock(&s_service_lock);
    snprintf(s_service, sizeof s_service, "%s", service ? service : "");
    pthread_mutex_unlock(&s_service_lock);
    if (level < CRM_LOG_DEBUG || level > CRM_LOG_ERROR)
        level = CRM_LOG_INFO;
    atomic_store(&s_min_level, (int)level);
}

int crm_log_level_parse(const char *name, crm_log_level_t *level) {
    if (!name)
        return -1;
    for (int index = CRM_LOG_DEBUG; index <= CRM_LOG_ERROR; index++) {
        if (strcmp(name, s_level_names[index]) == 0) {
            if (level)
                *level = (crm_log_level_t)index;
            return 0;
        }
    }
    return -1;
}

void crm_log_kv(crm_log_level_t level, const char *msg, ...) {
    if (!s_level_enabled(level))
        return;
    va_list kv;
    va_start(kv, msg);
    s_emit(level, msg, &kv);
    va_end(kv);
}

void crm_log(crm_log_level_t level, const char *fmt, ...) {
    if (!s_level_enabled(level))
        return;
    char storage[512];
    va_list args;
    va_start(args, fmt);
    int needed = vsnprintf(storage, sizeof storage, fmt, args);
    va_end(args);

    char *msg = storage;
    if (needed < 0)
        msg = (char *)fmt; //  bad format: the template is the most useful fallback
    else if ((size_t)needed >= sizeof storage) {
        char *heap = malloc((size_t)needed + 1);
        if (heap) {
            va_start(args, fmt);
            vsnprintf(heap, (size_t)needed + 1, fmt, args);
            va_end(args);
            msg = heap;
        } //  else: keep the truncated text
    }
    s_emit(level, msg, NULL);
    if (msg != storage && msg != fmt)
        free(msg);
}
