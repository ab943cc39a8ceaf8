/*  log: JSON-lines logging to stderr, one object per line.

    {"ts":"2026-11-22T10:00:00.123Z","level":"error","service":"contacts",
     "msg":"could not connect to database","detail":"...","hint":"..."}

    Messages follow the PostgreSQL habit: a short lower-case primary message, then
    optional key/value pairs (detail, hint, request_id, ...). Thread-safe: each line is
    written with one write(2).
*/
#ifndef CRM_LOG_H
#define CRM_LOG_H

#include <stdarg.h>

typedef enum {
    CRM_LOG_DEBUG = 0,
    CRM_LOG_INFO = 1,
    CRM_LOG_WARN = 2,
    CRM_LOG_ERROR = 3,
} crm_log_level_t;

//  Set the service name stamped on each line and the minimum level written.
void crm_log_init(const char *service, crm_log_level_t level);

//  Parse "debug" | "info" | "warn" | "error"; returns -1 for anything else.
int crm_log_level_parse(const char *name, crm_log_level_t *level);

//  Write one line. kv is a NULL-terminated list of key, value string pairs added as
//  extra JSON members (values are escaped), e.g.
//  crm_log_kv(CRM_LOG_ERROR, "could not connect", "detail", PQerrorMessage(c), NULL);
//  A NULL value (after a non-NULL key) is written as JSON null.
void crm_log_kv(crm_log_level_t level, const char *msg, ...);

//  printf-style helpers; the formatted text becomes "msg".
void crm_log(crm_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define crm_debug(...) crm_log(CRM_LOG_DEBUG, __VA_ARGS__)
#define crm_info(...)  crm_log(CRM_LOG_INFO, __VA_ARGS__)
#define crm_warn(...)  crm_log(CRM_LOG_WARN, __VA_ARGS__)
#define crm_error(...) crm_log(CRM_LOG_ERROR, __VA_ARGS__)

#endif
