/*  bench_contacts: create-contact throughput and latency over HTTP with 1, 8 and 32
    concurrent clients, beside pgbench running an equivalent single-row INSERT on the
    same database with the same client counts, in the same run. Durable commits
    (fsync on), as in production. Also prints the CPU time one create costs each process
    against what one pgbench insert costs PostgreSQL and pgbench (on a machine short of
    CPU, that comparison is what the throughput ratio follows), and each daemon's
    resident memory when idle.

    BENCH_SECONDS (default 5) sets the length of each run, BENCH_ROUNDS (default 3) how
    many times HTTP and pgbench take turns; BENCH_ONLY_HTTP=N runs N HTTP clients once
    and nothing else. */
#include "harness.h"
#include "httpload.h"

#include <stdbool.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_t *h;
static int s_seconds = 5;

//  pgbench with a single-row INSERT of the same shape into a table like contacts.
static double s_pgbench(int clients, double *latency_ms) {
    char script[300], cmd[2048];
    snprintf(script, sizeof script, "%s/insert.sql", h->dir);
    FILE *f = fopen(script, "w");
    fprintf(f, "INSERT INTO bench_contacts (tenant_id, id, kind, type, first_name, last_name,"
               " name, emails, phones) VALUES ('bench', gen_random_uuid(), 'person', 'prospect',"
               " 'Ann', 'Lee', 'Ann Lee', '[{\"address\": \"ann@example.com\", \"primary\": true}]',"
               " '[{\"number\": \"+12025550142\", \"type\": \"mobile\", \"primary\": true}]');\n");
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

//  CPU time (user + system) a process has used, in microseconds.
static double s_cpu_us_of(pid_t pid, bool reaped_children);

static double s_cpu_us(pid_t pid) {
    return s_cpu_us_of(pid, false);
}

//  CPU time of pid, and with reaped_children that of its children that have exited
//  (so a process that ends between two readings is not lost from their difference).
static double s_cpu_us_of(pid_t pid, bool reaped_children) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    long cutime = 0, cstime = 0;
    //  Fields after the command: state ppid pgrp session tty tpgid flags minflt cminflt
    //  majflt cmajflt utime stime cutime cstime.
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld", &utime,
               &stime, &cutime, &cstime);
    double ticks = utime + stime + (reaped_children ? cutime + cstime : 0);
    return ticks * 1e6 / sysconf(_SC_CLK_TCK);
}

//  CPU time of the private cluster's postmaster and all its children (backends).
static double s_postgres_cpu_us(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/pg/data/postmaster.pid", h->dir);
    FILE *f = fopen(path, "r");
    int postmaster = 0;
    if (f) {
        if (fscanf(f, "%d", &postmaster) != 1)
            postmaster = 0;
        fclose(f);
    }
    if (!postmaster)
        return 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "pgrep -P %d", postmaster);
    FILE *p = popen(cmd, "r");
    double total = s_cpu_us_of(postmaster, true); // with backends that have ended
    int pid;
    while (p && fscanf(p, "%d", &pid) == 1)
        total += s_cpu_us(pid);
    if (p)
        pclose(p);
    return total;
}

//  CPU time used by this process (who == RUSAGE_SELF: the load generator's threads) or
//  by its children that have been waited for (RUSAGE_CHILDREN: pgbench).
static double s_rusage_us(int who) {
    struct rusage ru;
    getrusage(who, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

int main(void) {
    if (getenv("BENCH_SECONDS"))
        s_seconds = atoi(getenv("BENCH_SECONDS"));
    setenv("PG_FSYNC", "on", 1);
    const char *env[] = {getenv("CRM_LOG_LEVEL") ? "CRM_BENCH=1" : "CRM_LOG_LEVEL=warn", NULL};
    h = harness_start(env);
    zclock_sleep(1000);

    printf("\n== idle resident memory (target: under 20 MiB each)\n");
    const char *daemons[] = {"gateway", "contacts", "reporting"};
    for (size_t i = 0; i < 3; i++) {
        pid_t pid = harness_daemon_pid(daemons[i]);
        printf("   crm-%-10s %6.1f MiB\n", daemons[i], harness_status_kib(pid, "VmRSS") / 1024.0);
    }

    s_psql("CREATE TABLE bench_contacts (LIKE contacts.contacts INCLUDING ALL)");
    //  HTTP and pgbench take turns, BENCH_ROUNDS times each, so that both see the
    //  same weather on a shared machine; the ratio is of the averages.
    int rounds = getenv("BENCH_ROUNDS") ? atoi(getenv("BENCH_ROUNDS")) : 3;
    if (rounds < 1)
        rounds = 1;
    printf("\n== create contact over HTTP vs pgbench single-row INSERT"
           " (fsync on, %d s each, taking turns %d times)\n",
           s_seconds, rounds);
    printf("   %-8s %12s %9s %9s %14s %11s %7s\n", "clients", "http/s", "p50 ms", "p99 ms",
           "pgbench tps", "pg avg ms", "ratio");
    int counts[] = {1, 8, 32};
    if (getenv("BENCH_ONLY_HTTP")) {
        httpload_result_t r = httpload_creates(h, atoi(getenv("BENCH_ONLY_HTTP")), s_seconds);
        printf("   http only: %.0f/s p50 %.2f p99 %.2f errors %d\n", r.rate, r.p50, r.p99, r.errors);
        harness_stop();
        return 0;
    }
    pid_t gateway = harness_daemon_pid("gateway"), contacts = harness_daemon_pid("contacts"),
          reporting = harness_daemon_pid("reporting");
    //  CPU time per operation, in microseconds: of an HTTP create (each daemon,
    //  PostgreSQL, the load generator) and of a pgbench insert (PostgreSQL, pgbench).
    enum { GATEWAY, CONTACTS, REPORTING, POSTGRES, LOADGEN, PG_POSTGRES, PG_CLIENT, COSTS };
    double cost[3][COSTS];
    size_t done[3];
    httpload_creates(h, 1, s_seconds); // warm up: connections, plans, caches
    for (size_t i = 0; i < 3; i++) {
        double rate = 0, tps = 0, pg_latency = 0, p50 = 0, p99 = 0;
        int errors = 0;
        double used[COSTS] = {0};
        for (int round = 0; round < rounds; round++) {
            double g0 = s_cpu_us(gateway), c0 = s_cpu_us(contacts), r0 = s_cpu_us(reporting);
            double p0 = s_postgres_cpu_us(), l0 = s_rusage_us(RUSAGE_SELF);
            httpload_result_t r = httpload_creates(h, counts[i], s_seconds);
            used[LOADGEN] += s_rusage_us(RUSAGE_SELF) - l0;
            used[POSTGRES] += s_postgres_cpu_us() - p0;
            used[GATEWAY] += s_cpu_us(gateway) - g0;
            used[CONTACTS] += s_cpu_us(contacts) - c0;
            used[REPORTING] += s_cpu_us(reporting) - r0;
            rate += r.rate / rounds;
            p50 = r.p50 > p50 ? r.p50 : p50; // the worst round's
            p99 = r.p99 > p99 ? r.p99 : p99;
            errors += r.errors;
            double latency = 0, pc0 = s_postgres_cpu_us(), cl0 = s_rusage_us(RUSAGE_CHILDREN);
            double round_tps = s_pgbench(counts[i], &latency);
            tps += round_tps / rounds;
            pg_latency += latency / rounds;
            //  Let pgbench's backends end and be reaped: their time is then the
            //  postmaster's children's, counted here and not in the next HTTP round.
            zclock_sleep(500);
            double inserts = round_tps * s_seconds * rounds; // the rounds' average
            used[PG_POSTGRES] += (s_postgres_cpu_us() - pc0) / (inserts ? inserts : 1);
            used[PG_CLIENT] += (s_rusage_us(RUSAGE_CHILDREN) - cl0) / (inserts ? inserts : 1);
        }
        double requests = rate * s_seconds * rounds;
        done[i] = (size_t)requests;
        for (int k = 0; k < PG_POSTGRES; k++)
            cost[i][k] = used[k] / (requests ? requests : 1);
        cost[i][PG_POSTGRES] = used[PG_POSTGRES];
        cost[i][PG_CLIENT] = used[PG_CLIENT];
        printf("   %-8d %12.0f %9.2f %9.2f %14.0f %11.2f %6.0f%%%s\n", counts[i], rate, p50, p99,
               tps, pg_latency, tps > 0 ? 100.0 * rate / tps : 0, errors ? " (errors!)" : "");
        if (errors)
            printf("   %d requests failed\n", errors);
        fflush(stdout);
    }
    printf("   p50 and p99: the worst round; target at 8 clients: ratio >= 50%% and p99 < 10 ms\n");
    printf("\n== CPU time per operation (microseconds): an HTTP create against a pgbench insert\n");
    printf("   %-8s %8s %8s %9s %8s %8s %7s | %8s %7s %7s %9s\n", "clients", "gateway",
           "contacts", "reporting", "postgres", "loadgen", "total", "postgres", "pgbench",
           "total", "creates");
    for (size_t i = 0; i < 3; i++) {
        double http = 0;
        for (int k = 0; k < PG_POSTGRES; k++)
            http += cost[i][k];
        printf("   %-8d %8.0f %8.0f %9.0f %8.0f %8.0f %7.0f | %8.0f %7.0f %7.0f %9zu\n", counts[i],
               cost[i][GATEWAY], cost[i][CONTACTS], cost[i][REPORTING], cost[i][POSTGRES],
               cost[i][LOADGEN], http, cost[i][PG_POSTGRES], cost[i][PG_CLIENT],
               cost[i][PG_POSTGRES] + cost[i][PG_CLIENT], done[i]);
    }
    printf("   postgres: every backend (the daemons' and their relays', or pgbench's); on a\n"
           "   machine that runs out of CPU, throughput goes about as the inverse of the totals\n");

    printf("\n== resident memory after the load\n");
    for (size_t i = 0; i < 3; i++) {
        pid_t pid = harness_daemon_pid(daemons[i]);
        printf("   crm-%-10s %6.1f MiB\n", daemons[i], harness_status_kib(pid, "VmRSS") / 1024.0);
    }
    harness_stop();
    return 0;
}
