/*  bench_leads_assign: lead creates over HTTP routed by a round-robin assignment rule,
    with several leads processes serving at once, beside pgbench running a single-row
    INSERT into a table like leads on the same database with the same client count, in
    the same run (durable commits, fsync on, as in production). Then the leads each
    member was given: the round robin must be fair across the processes (max - min <= 1),
    else the bench exits 1.

    The rate is printed first without any rule (no assignment) and then with the rule, so
    what assignment costs shows beside the baseline.

    BENCH_SECONDS (default 5) sets the length of each run, BENCH_ROUNDS (default 3) how
    many times HTTP and pgbench take turns, BENCH_CLIENTS (default 16) the concurrent
    clients, BENCH_MEMBERS (default 6) the team, BENCH_LEADS_PROCS (default 3) the leads
    processes (supervisor.services lists leads that many times). */
#include "harness.h"
#include "httpload.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_t *h;
static int s_seconds = 5;

static int s_env_int(const char *name, int fallback) {
    const char *v = getenv(name);
    return v && atoi(v) > 0 ? atoi(v) : fallback;
}

static const char *s_pg_host(char *out, size_t size) {
    const char *dsn_host = strstr(h->dsn, "host=") + 5;
    snprintf(out, size, "%.*s", (int)strcspn(dsn_host, " "), dsn_host);
    return out;
}

//  pgbench with a single-row INSERT of a new lead's shape into a table like leads.
static double s_pgbench(int clients) {
    char script[300], cmd[2048], host[256];
    snprintf(script, sizeof script, "%s/insert_lead.sql", h->dir);
    FILE *f = fopen(script, "w");
    fprintf(f, "INSERT INTO bench_leads (tenant_id, id, contact_id, vehicle, source, status,"
               " priority, assignee_id, created_by, created_at, updated_at, last_activity_at)"
               " VALUES ('bench', gen_random_uuid(), gen_random_uuid(), '{}', 'web_form', 'new',"
               " 'cold', '01a204c9-0695-73d9-bd2b-43388f9f6a4d', 'bench', now(), now(), now());\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, "pgbench -n -f %s -c %d -j %d -T %d -h %s -U postgres crm 2>/dev/null",
             script, clients, clients < 2 ? clients : 2, s_seconds,
             s_pg_host(host, sizeof host));
    FILE *p = popen(cmd, "r");
    char line[512];
    double tps = 0;
    while (p && fgets(line, sizeof line, p))
        if (strncmp(line, "tps = ", 6) == 0)
            tps = atof(line + 6);
    if (p)
        pclose(p);
    return tps;
}

//  POST path with body as tenant A's admin; the new id into id. Exits on failure.
static void s_create(const char *path, const char *body, char id[64]) {
    harness_response_t r = harness_http("POST", path, h->key_a, body, NULL);
    if (r.status != 201) {
        fprintf(stderr, "bench: POST %s: %ld %s\n", path, r.status, r.body);
        harness_stop();
        exit(2);
    }
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  Processes of crm-leads under the supervisor.
static int s_leads_processes(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "pgrep -c -P %d -x crm-leads", (int)h->supervisor);
    FILE *p = popen(cmd, "r");
    int n = 0;
    if (p && fscanf(p, "%d", &n) != 1)
        n = 0;
    if (p)
        pclose(p);
    return n;
}

int main(void) {
    s_seconds = s_env_int("BENCH_SECONDS", 5);
    int rounds = s_env_int("BENCH_ROUNDS", 3);
    int clients = s_env_int("BENCH_CLIENTS", 16);
    int n_members = s_env_int("BENCH_MEMBERS", 6);
    int procs = s_env_int("BENCH_LEADS_PROCS", 3);
    if (n_members > 50)
        n_members = 50;
    static char services[256];
    char *p = services + sprintf(services, "CRM_SUPERVISOR_SERVICES=gateway contacts");
    for (int i = 0; i < procs && p < services + sizeof services - 16; i++)
        p += sprintf(p, " leads");
    sprintf(p, " dedupe notify reporting scoring");
    setenv("PG_FSYNC", "on", 1);
    const char *env[] = {"CRM_LOG_LEVEL=warn", services, NULL};
    h = harness_start(env);
    zclock_sleep(1000);

    //  The team, one round-robin rule over all of it, one contact for the leads.
    char (*members)[64] = calloc(n_members, sizeof *members);
    char rule_body[4096], rule[64], contact[64];
    p = rule_body + sprintf(rule_body, "{\"name\":\"Floor\",\"kind\":\"round_robin\",\"memberIds\":[");
    for (int i = 0; i < n_members; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"name\":\"Rep %02d\",\"email\":\"rep%d@example.com\"}", i + 1,
                 i + 1);
        s_create("/v1/team/members", body, members[i]);
        p += sprintf(p, "%s\"%s\"", i ? "," : "", members[i]);
    }
    sprintf(p, "]}");
    s_create("/v1/contacts",
             "{\"kind\":\"person\",\"firstName\":\"Ann\",\"lastName\":\"Lee\","
             "\"emails\":[{\"address\":\"ann.bench@example.com\"}]}",
             contact);
    char lead_body[256];
    snprintf(lead_body, sizeof lead_body,
             "{\"contactId\":\"%s\",\"source\":\"web_form\",\"vehicle\":{\"make\":\"Kia\","
             "\"model\":\"EV6\",\"condition\":\"new\"},\"budgetMaxCents\":4500000}",
             contact);
    char host[256], cmd[1024];
    snprintf(cmd, sizeof cmd,
             "psql -q -h %s -U postgres crm -c 'CREATE TABLE bench_leads"
             " (LIKE leads.leads INCLUDING ALL)' >/dev/null",
             s_pg_host(host, sizeof host));
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not create bench_leads\n");

    printf("\n== create lead over HTTP, %d leads processes (found %d), vs pgbench single-row\n"
           "   INSERT into a table like leads (fsync on, %d clients, %d s each, taking turns\n"
           "   %d times): first without rules (no assignment), then with one round-robin rule\n"
           "   over %d members (every lead assigned)\n",
           procs, s_leads_processes(), clients, s_seconds, rounds, n_members);
    printf("   %-12s %-6s %10s %9s %9s %14s %7s\n", "rules", "round", "http/s", "p50 ms",
           "p99 ms", "pgbench tps", "ratio");
    httpload_posts(h, 2, 1, "/v1/leads", lead_body); // warm up: connections, plans
    int errors = 0;
    for (int phase = 0; phase < 2; phase++) {
        const char *name = phase ? "round robin" : "none";
        if (phase == 1)
            s_create("/v1/assignment-rules", rule_body, rule);
        double rate = 0, tps = 0;
        for (int round = 0; round < rounds; round++) {
            httpload_result_t r = httpload_posts(h, clients, s_seconds, "/v1/leads", lead_body);
            double t = s_pgbench(clients);
            printf("   %-12s %-6d %10.0f %9.2f %9.2f %14.0f %6.0f%%%s\n", name, round + 1, r.rate,
                   r.p50, r.p99, t, t > 0 ? 100.0 * r.rate / t : 0, r.errors ? " (errors!)" : "");
            fflush(stdout);
            rate += r.rate / rounds;
            tps += t / rounds;
            errors += r.errors;
        }
        printf("   %-12s %-6s %10.0f %9s %9s %14.0f %6.0f%%\n", name, "mean", rate, "", "", tps,
               tps > 0 ? 100.0 * rate / tps : 0);
    }
    if (errors)
        printf("   %d requests failed\n", errors);

    //  The leads each member was given.
    PGconn *db = PQconnectdb(h->dsn);
    PGresult *res = PQexec(db,
                           "SELECT m.name, count(l.id) FROM leads.team_members m"
                           " LEFT JOIN leads.leads l ON l.tenant_id = m.tenant_id"
                           "  AND l.assignee_id = m.id::text"
                           " WHERE m.tenant_id = 'tenant-a' GROUP BY m.name ORDER BY m.name");
    long min = -1, max = 0, total = 0;
    printf("\n== leads per member (round robin across %d processes)\n", procs);
    for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++) {
        long n = atol(PQgetvalue(res, i, 1));
        printf("   %-8s %8ld\n", PQgetvalue(res, i, 0), n);
        min = min < 0 || n < min ? n : min;
        max = n > max ? n : max;
        total += n;
    }
    PQclear(res);
    //  Created while the rule was in place but left unassigned (none should be).
    res = PQexec(db, "SELECT count(*) FROM leads.leads WHERE tenant_id = 'tenant-a'"
                     " AND assignee_id = '' AND created_at >= (SELECT min(created_at)"
                     "  FROM leads.assignment_rules WHERE tenant_id = 'tenant-a')");
    long unassigned = PQresultStatus(res) == PGRES_TUPLES_OK ? atol(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    PQfinish(db);
    bool fair = min >= 0 && max - min <= 1 && unassigned == 0;
    printf("   total %ld, unassigned %ld, max - min = %ld (must be <= 1): %s\n", total, unassigned,
           max - min, fair ? "fair" : "NOT FAIR");
    free(members);
    harness_stop();
    return fair && errors == 0 ? 0 : 1;
}
