/*  bench_dedupe_create: create-contact throughput over HTTP with the duplicate check on
    (every create's draft sent to the dedupe service before its batch runs, one request
    per batch: services/contacts/duplicate_methods.c) against the same with it off
    (contacts.duplicate_check: false), in the same run, with 8 and 32 clients, each
    create a different person (the check finds no one, as for most creates) into a
    tenant whose match index holds BENCH_CONTACTS contacts (default 20,000). Prints each
    rate and the ratio on/off; the target is at least 0.8 (issue 18, "Speed").

    The two settings need two suites: the program runs itself once per setting
    (BENCH_DEDUPE_PHASE=off|on) and compares what the two print. BENCH_SECONDS (default 5)
    and BENCH_ROUNDS (default 2) as in bench_contacts. */
#include "harness.h"
#include "httpload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int s_clients[] = {8, 32};
#define S_COUNTS (sizeof s_clients / sizeof s_clients[0])

//  One suite with the check on or off: its rates, one line "rate <clients> <per second>"
//  each, after loading the index.
static int s_phase(const char *phase) {
    int seconds = getenv("BENCH_SECONDS") ? atoi(getenv("BENCH_SECONDS")) : 5;
    int rounds = getenv("BENCH_ROUNDS") ? atoi(getenv("BENCH_ROUNDS")) : 2;
    long preload = getenv("BENCH_CONTACTS") ? atol(getenv("BENCH_CONTACTS")) : 20000;
    setenv("PG_FSYNC", "on", 1);
    const char *env[] = {"CRM_LOG_LEVEL=error",
                         strcmp(phase, "on") == 0 ? "CRM_CONTACTS_DUPLICATE_CHECK=true"
                                                  : "CRM_CONTACTS_DUPLICATE_CHECK=false",
                         NULL};
    harness_t *h = harness_start(env);
    //  The tenant's contacts, in dedupe's index too (its inbox at the contacts' head).
    //  Entries with a phone (other numbers than the creates') and an email each, and
    //  their blocking keys, as follow.c would make them.
    char sql[1024];
    snprintf(sql, sizeof sql,
             "WITH e AS (INSERT INTO dedupe.entries (tenant_id, contact_id, first_name, last_name,"
             "  emails, phones) SELECT 'tenant-a', gen_random_uuid(), 'ann', 'lee',"
             "  ARRAY['ann' || g || '@example.net'], ARRAY['+1303' || (2000000 + g)]"
             "  FROM generate_series(1, %ld) g RETURNING contact_id, emails, phones)"
             " INSERT INTO dedupe.match_keys (tenant_id, key, contact_id)"
             " SELECT 'tenant-a', 'e:' || emails[1], contact_id FROM e"
             " UNION ALL SELECT 'tenant-a', 'p:' || phones[1], contact_id FROM e",
             preload);
    if (harness_sql_exec(sql))
        fprintf(stderr, "bench: the index was not preloaded (its shape changed?)\n");
    httpload_creates(h, 8, 2); // warm up: connections, plans, caches
    for (size_t i = 0; i < S_COUNTS; i++) {
        double rate = 0;
        int errors = 0;
        for (int r = 0; r < rounds; r++) {
            httpload_result_t res = httpload_creates(h, s_clients[i], seconds);
            rate += res.rate / rounds;
            errors += res.errors;
        }
        printf("rate %d %.0f %d\n", s_clients[i], rate, errors);
        fflush(stdout);
    }
    harness_stop();
    return 0;
}

//  Run this program for phase; its rates into rates (by client count). 0 or -1.
static int s_run(const char *self, const char *phase, double *rates, int *errors) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "BENCH_DEDUPE_PHASE=%s '%s'", phase, self);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[256];
    int clients, n = 0, e;
    double rate;
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "rate %d %lf %d", &clients, &rate, &e) == 3)
            for (size_t i = 0; i < S_COUNTS; i++)
                if (s_clients[i] == clients) {
                    rates[i] = rate;
                    errors[i] = e;
                    n++;
                }
    return pclose(p) == 0 && n == (int)S_COUNTS ? 0 : -1;
}

int main(int argc, char **argv) {
    (void)argc;
    const char *phase = getenv("BENCH_DEDUPE_PHASE");
    if (phase)
        return s_phase(phase);
    double off[S_COUNTS] = {0}, on[S_COUNTS] = {0};
    int off_errors[S_COUNTS] = {0}, on_errors[S_COUNTS] = {0};
    printf("\n== create contact over HTTP: the duplicate check on vs off (fsync on)\n");
    fflush(stdout);
    if (s_run(argv[0], "off", off, off_errors) || s_run(argv[0], "on", on, on_errors)) {
        fprintf(stderr, "bench_dedupe_create: a phase failed\n");
        return 1;
    }
    printf("   %-8s %12s %12s %7s\n", "clients", "off /s", "on /s", "ratio");
    for (size_t i = 0; i < S_COUNTS; i++)
        printf("   %-8d %12.0f %12.0f %7.2f%s\n", s_clients[i], off[i], on[i],
               off[i] > 0 ? on[i] / off[i] : 0,
               off_errors[i] || on_errors[i] ? " (errors!)" : "");
    printf("   target: ratio >= 0.80\n");
    return 0;
}
