/*  metrics: Prometheus counters for the gateway. See metrics.h. */
#include "metrics.h"
#include "routes.h"

#include <stdatomic.h>

//  302: a raw route's redirect (a tracked click); 502: an answer the gateway cannot write.
static const int s_codes[] = {200, 201, 202, 204, 302, 400, 401, 403, 404, 405,
                              409, 413, 415, 422, 429, 500, 502, 503, 504, 0};
#define N_CODES (sizeof s_codes / sizeof s_codes[0])  // the last slot: any other code

//  Upper bounds in microseconds of the latency buckets.
static const int64_t s_buckets[] = {500,    1000,   2500,    5000,    10000,   25000, 50000,
                                    100000, 250000, 500000, 1000000, 2500000, 5000000};
#define N_BUCKETS (sizeof s_buckets / sizeof s_buckets[0])

typedef struct {
    atomic_ullong by_code[N_CODES];
    atomic_ullong bucket[N_BUCKETS + 1];  // the last is +Inf
    atomic_ullong sum_micros;
} s_route_stats_t;

struct _metrics_t {
    int n;  // routes + 1
    s_route_stats_t *stats;
    proxy_t *proxy; // event proxy counters, or NULL
    atomic_ullong rate_limited[ROUTE_N_ROLES]; // 429s of the keys' rate limits, by role
};

metrics_t *metrics_new(int n_routes) {
    metrics_t *self = calloc(1, sizeof *self);
    assert(self);
    self->n = n_routes + 1;
    self->stats = calloc(self->n, sizeof *self->stats);
    return self;
}

void metrics_destroy(metrics_t **self_p) {
    assert(self_p);
    metrics_t *self = *self_p;
    if (!self)
        return;
    free(self->stats);
    free(self);
    *self_p = NULL;
}

void metrics_observe(metrics_t *self, int route, int status, int64_t micros) {
    s_route_stats_t *st = &self->stats[route >= 0 && route < self->n - 1 ? route : self->n - 1];
    size_t c = 0;
    while (s_codes[c] && s_codes[c] != status)
        c++;
    atomic_fetch_add_explicit(&st->by_code[c], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < N_BUCKETS && micros > s_buckets[b])
        b++;
    atomic_fetch_add_explicit(&st->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->sum_micros, (unsigned long long)micros, memory_order_relaxed);
}

void metrics_rate_limited(metrics_t *self, unsigned role) {
    for (int i = 0; i < ROUTE_N_ROLES; i++)
        if (role == 1u << i)
            atomic_fetch_add_explicit(&self->rate_limited[i], 1, memory_order_relaxed);
}

static void s_route_label(int i, int n, char *out, size_t size) {
    if (i == n - 1)
        snprintf(out, size, "method=\"\",route=\"unmatched\"");
    else
        snprintf(out, size, "method=\"%s\",route=\"%s\"", routes[i].http_method,
                 routes[i].pattern);
}

static void s_worker_line(const char *service, int workers, void *arg) {
    zchunk_t *out = arg;
    char line[256];
    int len = snprintf(line, sizeof line, "crm_broker_workers{service=\"%s\"} %d\n", service,
                       workers);
    zchunk_extend(out, line, len);
}

void metrics_set_proxy(metrics_t *self, proxy_t *proxy) {
    self->proxy = proxy;
}

char *metrics_render(metrics_t *self, broker_t *broker) {
    zchunk_t *out = zchunk_new(NULL, 8192);
    char line[512], label[256];
    int len;
#define EMIT(...)                                      \
    do {                                               \
        len = snprintf(line, sizeof line, __VA_ARGS__); \
        zchunk_extend(out, line, len);                 \
    } while (0)
    EMIT("# HELP crm_http_requests_total HTTP requests by route and status code.\n"
         "# TYPE crm_http_requests_total counter\n");
    for (int i = 0; i < self->n; i++) {
        s_route_label(i, self->n, label, sizeof label);
        for (size_t c = 0; c < N_CODES; c++) {
            unsigned long long v = atomic_load(&self->stats[i].by_code[c]);
            if (!v)
                continue;
            if (s_codes[c])
                EMIT("crm_http_requests_total{%s,code=\"%d\"} %llu\n", label, s_codes[c], v);
            else
                EMIT("crm_http_requests_total{%s,code=\"other\"} %llu\n", label, v);
        }
    }
    EMIT("# HELP crm_http_request_duration_seconds HTTP request latency by route.\n"
         "# TYPE crm_http_request_duration_seconds histogram\n");
    for (int i = 0; i < self->n; i++) {
        s_route_label(i, self->n, label, sizeof label);
        unsigned long long cumulative = 0;
        for (size_t b = 0; b <= N_BUCKETS; b++) {
            cumulative += atomic_load(&self->stats[i].bucket[b]);
            if (b < N_BUCKETS)
                EMIT("crm_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n", label,
                     s_buckets[b] / 1e6, cumulative);
            else
                EMIT("crm_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", label,
                     cumulative);
        }
        EMIT("crm_http_request_duration_seconds_sum{%s} %.6f\n", label,
             atomic_load(&self->stats[i].sum_micros) / 1e6);
        EMIT("crm_http_request_duration_seconds_count{%s} %llu\n", label, cumulative);
    }
    EMIT("# HELP crm_http_rate_limited_total API requests refused 429 by their key's rate "
         "limit, by the key's role.\n"
         "# TYPE crm_http_rate_limited_total counter\n");
    for (int i = 0; i < ROUTE_N_ROLES; i++)
        EMIT("crm_http_rate_limited_total{role=\"%s\"} %llu\n", route_role_name(i),
             atomic_load(&self->rate_limited[i]));
    EMIT("# HELP crm_broker_workers Live Majordomo workers per service.\n"
         "# TYPE crm_broker_workers gauge\n");
#undef EMIT
    if (broker) {
        broker_each_service(broker, s_worker_line, out);
        broker_render_metrics(broker, out);
    }
    if (self->proxy)
        proxy_render_metrics(self->proxy, out);
    zchunk_extend(out, "", 1);
    char *text = strdup((char *)zchunk_data(out));
    zchunk_destroy(&out);
    return text;
}
