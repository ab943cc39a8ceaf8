/*  bench_contacts: create-contact throughput and latency over HTTP with 1, 8 and 32
    concurrent clients, beside pgbench running an equivalent single-row INSERT on the
    same database with the same client counts, in the same run. Durable commits
    (fsync on), as in production. Also prints each daemon's resident memory when idle.

    BENCH_SECONDS (default 5) sets the length of each run. */
#include "harness.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_t *h;
static int s_seconds = 5;

typedef struct {
    int id;
    int64_t until;
    double *lat;  // milliseconds
    size_t n, cap;
    int errors;
} s_client_t;

static size_t s_discard(char *d, size_t s, size_t n, void *a) {
    (void)d;
    (void)a;
    return s * n;
}

//  One client: create contacts back to back over one keep-alive connection.
static void *s_client(void *arg) {
    s_client_t *c = arg;
    CURL *curl = curl_easy_init();
    char url[128], auth[128], body[512];
    snprintf(url, sizeof url, "%s/v1/contacts", h->http_url);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", h->key_a);
    struct curl_slist *headers = curl_slist_append(NULL, auth);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    for (long n = 0; zclock_mono() < c->until; n++) {
        if (getenv("BENCH_NO_PHONE"))
            snprintf(body, sizeof body,
                 "{\"kind\":\"person\",\"firstName\":\"Ann\",\"lastName\":\"Lee\","
                 "\"emails\":[{\"address\":\"c%d.%ld.%lld@example.com\"}]}",
                 c->id, n, (long long)zclock_usecs());
        else
        snprintf(body, sizeof body,
                 "{\"kind\":\"person\",\"firstName\":\"Ann\",\"lastName\":\"Lee\","
                 "\"emails\":[{\"address\":\"c%d.%ld.%lld@example.com\"}],"
                 "\"phones\":[{\"number\":\"(202) 555-0142\",\"type\":\"mobile\"}]}",
                 c->id, n, (long long)zclock_usecs());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        int64_t start = zclock_usecs();
        long status = 0;
        if (curl_easy_perform(curl) == CURLE_OK)
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status != 201) {
            c->errors++;
            continue;
        }
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 4096;
            c->lat = realloc(c->lat, c->cap * sizeof *c->lat);
        }
        c->lat[c->n++] = (zclock_usecs() - start) / 1000.0;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return NULL;
}

static int s_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double rate, p50, p99;
    int errors;
} s_result_t;

static s_result_t s_http_run(int clients) {
    s_client_t *c = calloc(clients, sizeof *c);
    pthread_t *t = calloc(clients, sizeof *t);
    int64_t start = zclock_mono();
    for (int i = 0; i < clients; i++) {
        c[i].id = i;
        c[i].until = start + s_seconds * 1000;
        pthread_create(&t[i], NULL, s_client, &c[i]);
    }
    size_t total = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(t[i], NULL);
        total += c[i].n;
    }
    double elapsed = (zclock_mono() - start) / 1000.0;
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    s_result_t r = {0};
    for (int i = 0; i < clients; i++) {
        memcpy(all + k, c[i].lat, c[i].n * sizeof *all);
        k += c[i].n;
        r.errors += c[i].errors;
        free(c[i].lat);
    }
    qsort(all, total, sizeof *all, s_cmp);
    r.rate = total / elapsed;
    r.p50 = total ? all[total / 2] : 0;
    r.p99 = total ? all[(size_t)(total * 0.99)] : 0;
    free(all);
    free(c);
    free(t);
    return r;
}

//  pgbench with a single-row INSERT of the same shape into a table like contacts.
static double s_pgbench(int clients, double *latency_ms) {
    char script[300], cmd[2048];
    snprintf(script, sizeof script, "%s/insert.sql", h->dir);
    FILE *f = fopen(script, "w");
    fprintf(f, "INSERT INTO bench_contacts (tenant_id, id, kind, type, first_name, last_name,"
               " name, emails, phones) VALUES ('bench', gen_random_uuid(), 'person', 'prospect',"
               " 'Ann', 'Lee', 'Ann Lee', '[{\"address\":\"ann@example.com\",\"primary\":true}]',"
               " '[{\"number\":\"+12025550142\",\"type\":\"mobile\",\"primary\":true}]');\n");
    fclose(f);
    const char *dsn_host = strstr(h->dsn, "host=") + 5;
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)strcspn(dsn_host, " "), dsn_host);
    snprintf(cmd, sizeof cmd,
             "pgbench -n -f %s -c %d -j %d -T %d -h %s -U postgres crm 2>/dev/null", script,
             clients, clients < 2 ? clients : 2, s_seconds, host);
    FILE *p = popen(cmd, "r");
    char line[512];
    double tps = 0;
    *latency_ms = 0;
    while (fgets(line, sizeof line, p)) {
        sscanf(line, "latency average = %lf ms", latency_ms);
        if (strncmp(line, "tps = ", 6) == 0)
            tps = atof(line + 6);
    }
    pclose(p);
    return tps;
}

static void s_psql(const char *sql) {
    const char *dsn_host = strstr(h->dsn, "host=") + 5;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "psql -q -h %.*s -U postgres crm -c \"%s\" >/dev/null",
             (int)strcspn(dsn_host, " "), dsn_host, sql);
    (void)!system(cmd);
}

static long s_rss_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

int main(void) {
    if (getenv("BENCH_SECONDS"))
        s_seconds = atoi(getenv("BENCH_SECONDS"));
    setenv("PG_FSYNC", "on", 1);
    const char *env[] = {getenv("CRM_LOG_LEVEL") ? "CRM_BENCH=1" : "CRM_LOG_LEVEL=warn", NULL};
    h = harness_start(env);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    zclock_sleep(1000);

    printf("\n== idle resident memory (target: under 20 MiB each)\n");
    const char *daemons[] = {"gateway", "contacts"};
    for (size_t i = 0; i < 2; i++) {
        pid_t pid = harness_daemon_pid(daemons[i]);
        printf("   crm-%-10s %6.1f MiB\n", daemons[i], s_rss_kib(pid) / 1024.0);
    }

    s_psql("CREATE TABLE bench_contacts (LIKE contacts.contacts INCLUDING ALL)");
    printf("\n== create contact over HTTP vs pgbench single-row INSERT (fsync on, %d s each)\n",
           s_seconds);
    printf("   %-8s %12s %9s %9s %14s %11s %7s\n", "clients", "http/s", "p50 ms", "p99 ms",
           "pgbench tps", "pg avg ms", "ratio");
    int counts[] = {1, 8, 32};
    if (getenv("BENCH_ONLY_HTTP")) {
        s_result_t r = s_http_run(atoi(getenv("BENCH_ONLY_HTTP")));
        printf("   http only: %.0f/s p50 %.2f p99 %.2f errors %d\n", r.rate, r.p50, r.p99, r.errors);
        harness_stop();
        return 0;
    }
    for (size_t i = 0; i < 3; i++) {
        s_result_t r = s_http_run(counts[i]);
        double pg_latency;
        double tps = s_pgbench(counts[i], &pg_latency);
        printf("   %-8d %12.0f %9.2f %9.2f %14.0f %11.2f %6.0f%%%s\n", counts[i], r.rate, r.p50,
               r.p99, tps, pg_latency, tps > 0 ? 100.0 * r.rate / tps : 0,
               r.errors ? " (errors!)" : "");
        if (r.errors)
            printf("   %d requests failed\n", r.errors);
    }
    printf("   target at 8 clients: ratio >= 50%% and p99 < 10 ms\n");

    printf("\n== resident memory after the load\n");
    for (size_t i = 0; i < 2; i++) {
        pid_t pid = harness_daemon_pid(daemons[i]);
        printf("   crm-%-10s %6.1f MiB\n", daemons[i], s_rss_kib(pid) / 1024.0);
    }
    harness_stop();
    return 0;
}
