/*  health: a daemon's probe and metrics endpoint. See health.h. */
#include "health.h"
#include "log.h"

#include <arpa/inet.h>
#include <assert.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct _crm_health_t {
    char name[32];
    int stall_ms;
    struct MHD_Daemon *daemon;
    //  Published by the loop, read by the server's thread.
    atomic_llong turned_ms; // when the loop last published (monotonic); 0: not yet
    atomic_bool database;
    atomic_bool broker;
    atomic_ullong requests;
    atomic_ullong batches;
};

static long long s_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// --- the setting ------------------------------------------------------------------------

//  "HOST:PORT" (an IPv4 address or name, or "[v6]") into host and port: 0, or -1.
static int s_host_port(const char *text, size_t len, char *host, size_t size, int *port) {
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++)
        if (text[i] == ':')
            colon = text + i;
    if (!colon || colon == text || (size_t)(colon - text) >= size)
        return -1;
    size_t host_len = (size_t)(colon - text);
    if (text[0] == '[') { // [::1]:9100
        if (host_len < 3 || text[host_len - 1] != ']')
            return -1;
        memcpy(host, text + 1, host_len - 2);
        host[host_len - 2] = '\0';
    } else {
        memcpy(host, text, host_len);
        host[host_len] = '\0';
    }
    char digits[8];
    size_t n = len - host_len - 1;
    if (n == 0 || n >= sizeof digits)
        return -1;
    memcpy(digits, colon + 1, n);
    digits[n] = '\0';
    char *end;
    long value = strtol(digits, &end, 10);
    if (*end || value < 0 || value > 65535)
        return -1;
    *port = (int)value;
    return 0;
}

int crm_health_address(const char *setting, const char *name, char *host, size_t size, int *port) {
    const char *p = setting ? setting : "";
    p += strspn(p, " ,");
    if (!*p)
        return 1;
    if (!strchr(p, '=')) { // one address for every daemon
        size_t len = strcspn(p, " ,");
        if (p[len + strspn(p + len, " ,")])
            return -1;
        return s_host_port(p, len, host, size, port);
    }
    int found = 1;
    while (*p) { // NAME=HOST:PORT ..., each checked
        size_t len = strcspn(p, " ,");
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p)
            return -1;
        const char *value = eq + 1;
        size_t value_len = len - (size_t)(value - p), name_len = (size_t)(eq - p);
        char scratch[256];
        int scratch_port;
        if (s_host_port(value, value_len, scratch, sizeof scratch, &scratch_port))
            return -1;
        if (found == 1 && name_len == strlen(name) && memcmp(p, name, name_len) == 0) {
            if (s_host_port(value, value_len, host, size, port))
                return -1;
            found = 0;
        }
        p += len;
        p += strspn(p, " ,");
    }
    return found;
}

// --- the answers ------------------------------------------------------------------------

//  The resident memory of this process in bytes, or 0.
static unsigned long long s_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (unsigned long long)sysconf(_SC_PAGESIZE);
}

static bool s_turning(crm_health_t *self) {
    long long turned = atomic_load(&self->turned_ms);
    return turned > 0 && s_mono_ms() - turned <= self->stall_ms;
}

//  The body and status of a GET of url, or NULL for 404. The caller frees the body.
static char *s_answer(crm_health_t *self, const char *url, unsigned *status, const char **type) {
    bool turning = s_turning(self), database = atomic_load(&self->database),
         broker = atomic_load(&self->broker);
    *type = "application/json";
    if (strcmp(url, "/healthz") == 0) {
        *status = turning ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        return strdup(turning ? "{\"status\":\"ok\"}" : "{\"status\":\"stalled\"}");
    }
    if (strcmp(url, "/readyz") == 0) {
        bool ready = turning && database && broker;
        *status = ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        char *body = NULL;
        if (asprintf(&body, "{\"ready\":%s,\"database\":%s,\"broker\":%s}",
                     ready ? "true" : "false", database ? "true" : "false",
                     broker ? "true" : "false") < 0)
            return NULL;
        return body;
    }
    if (strcmp(url, "/metrics") == 0) {
        *status = MHD_HTTP_OK;
        *type = "text/plain; version=0.0.4";
        char *body = NULL;
        const char *n = self->name;
        if (asprintf(&body,
                     "# HELP crm_daemon_up 1 while the daemon's loop turns.\n"
                     "# TYPE crm_daemon_up gauge\n"
                     "crm_daemon_up{service=\"%s\"} %d\n"
                     "# HELP crm_daemon_requests_total Requests served.\n"
                     "# TYPE crm_daemon_requests_total counter\n"
                     "crm_daemon_requests_total{service=\"%s\"} %llu\n"
                     "# HELP crm_daemon_transactions_total Batches of requests committed.\n"
                     "# TYPE crm_daemon_transactions_total counter\n"
                     "crm_daemon_transactions_total{service=\"%s\"} %llu\n"
                     "# HELP crm_daemon_database_up 1 while the database connection works.\n"
                     "# TYPE crm_daemon_database_up gauge\n"
                     "crm_daemon_database_up{service=\"%s\"} %d\n"
                     "# HELP crm_daemon_broker_connected 1 while a worker hears the broker.\n"
                     "# TYPE crm_daemon_broker_connected gauge\n"
                     "crm_daemon_broker_connected{service=\"%s\"} %d\n"
                     "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                     "# TYPE process_resident_memory_bytes gauge\n"
                     "process_resident_memory_bytes{service=\"%s\"} %llu\n",
                     n, turning ? 1 : 0, n, (unsigned long long)atomic_load(&self->requests), n,
                     (unsigned long long)atomic_load(&self->batches), n, database ? 1 : 0, n,
                     broker ? 1 : 0, n, s_rss_bytes()) < 0)
            return NULL;
        return body;
    }
    return NULL;
}

static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls) {
    (void)version;
    (void)upload_data;
    crm_health_t *self = cls;
    if (*con_cls == NULL) { // headers only so far: answer once they are all in
        *con_cls = self;
        return MHD_YES;
    }
    if (*upload_data_size) { // a body: not read
        *upload_data_size = 0;
        return MHD_YES;
    }
    unsigned status = MHD_HTTP_NOT_FOUND;
    const char *type = "application/json";
    char *body = NULL;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        body = strdup("{\"error\":\"only GET and HEAD\"}");
    } else if (!(body = s_answer(self, url, &status, &type))) {
        status = MHD_HTTP_NOT_FOUND;
        body = strdup("{\"error\":\"not found: /healthz, /readyz and /metrics are served\"}");
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(body ? strlen(body) : 0, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

// --- the server -------------------------------------------------------------------------

crm_health_t *crm_health_new(const char *name, const char *host, int port, int stall_ms) {
    assert(name && host);
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    const char *bind_host = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD;
    if (inet_pton(AF_INET, bind_host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, bind_host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        flags |= MHD_USE_IPv6;
    } else {
        crm_log_kv(CRM_LOG_ERROR, "could not start the health endpoint", "detail", host, "hint",
                   "daemon.health_listen takes a numeric address: 0.0.0.0:9100, [::]:9100", NULL);
        return NULL;
    }
    crm_health_t *self = calloc(1, sizeof *self);
    assert(self);
    snprintf(self->name, sizeof self->name, "%s", name);
    self->stall_ms = stall_ms > 0 ? stall_ms : 10000;
    self->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, s_on_request, self, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!self->daemon) {
        char detail[300];
        snprintf(detail, sizeof detail, "%s:%d", host, port);
        crm_log_kv(CRM_LOG_ERROR, "could not start the health endpoint", "detail", detail, "hint",
                   "is the port in use? see daemon.health_listen", NULL);
        free(self);
        return NULL;
    }
    char where[32];
    snprintf(where, sizeof where, "%d", crm_health_port(self));
    crm_log_kv(CRM_LOG_INFO, "health endpoint listening", "host", host, "port", where, NULL);
    return self;
}

void crm_health_destroy(crm_health_t **self_p) {
    crm_health_t *self = *self_p;
    if (!self)
        return;
    MHD_stop_daemon(self->daemon);
    free(self);
    *self_p = NULL;
}

int crm_health_port(crm_health_t *self) {
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? (int)info->port : -1;
}

void crm_health_publish(crm_health_t *self, bool database, bool broker, uint64_t requests,
                        uint64_t batches) {
    atomic_store(&self->database, database);
    atomic_store(&self->broker, broker);
    atomic_store(&self->requests, (unsigned long long)requests);
    atomic_store(&self->batches, (unsigned long long)batches);
    atomic_store(&self->turned_ms, s_mono_ms());
}
