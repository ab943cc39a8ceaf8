/*  bench_dedupe_check: the duplicate check before a create, and a full scan, at a large
    tenant (issue 18, "Speed"): the check's p99 (target <= 10 ms at 1,000,000 contacts)
    beside a same-run PostgreSQL baseline, an exact email lookup on the same index; the
    scan's time (target <= 10 minutes at 1,000,000) and crm-dedupe's resident memory.

    The tenant's index is loaded straight into dedupe's tables by SQL on the server
    (INSERT ... SELECT from generate_series: what a COPY of the rows would do, without
    sending them), not through contacts' events: creating a million contacts over the
    API would take hours here and measure the contacts service. The rows are what
    follow.c writes: folded names made of syllables (2 for a first name, 3 for a last:
    400 and 8,000 values, so names repeat as real ones do), an email and a phone each,
    a postcode of 5,000, a street line, a date of birth for one in three; one contact in
    ten a second record of the one before (its name, phone and postcode: a pair to
    find). The blocking keys come from the schema's entry_keys, as for every contact,
    with the table's indexes built after the load; the name counts and the tenant's
    size from the entries. BENCH_DEDUPE_N sets the size (default 1,000,000; printed);
    BENCH_CHECKS the checks measured (default 2,000); BENCH_DEDUPE_SCAN=0 leaves the
    scan out.

    The checks: over HTTP (POST /v1/contacts/duplicates/check, one client, one after
    another), half a contact on file again (its name, its phone in another format, its
    postcode: found), half a new person with a name on file and a postcode (blocks to
    look in, nothing found). The baseline: the same number of exact email lookups, each
    a prepared statement on the same tables (match_keys to entries), from this program. */
#include "harness.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SYLLABLES                                                                                \
    "ARRAY['ka','lo','mi','ne','ru','sa','ti','vo','ber','dan','el','gor','han','is','jo',"       \
    "'kel','mar','nor','pet','ros']"

static int s_double_compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void s_percentiles(const char *what, double *ms, size_t n) {
    qsort(ms, n, sizeof *ms, s_double_compare);
    printf("  %-44s n %5zu  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", what, n, ms[n / 2],
           ms[n * 99 / 100], ms[n - 1]);
}

static int s_exec(PGconn *db, const char *sql) {
    PGresult *res = PQexec(db, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc)
        fprintf(stderr, "bench_dedupe_check: %s\n  %s\n", PQerrorMessage(db), sql);
    PQclear(res);
    return rc;
}

//  The tenant's index: n contacts in dedupe's tables, as described above.
static int s_load(PGconn *db, long n) {
    char sql[4096];
    if (s_exec(db, "SET search_path TO dedupe, public") ||
        s_exec(db, "SET synchronous_commit TO off") ||
        s_exec(db, "SET maintenance_work_mem TO '256MB'") ||
        s_exec(db, "ALTER TABLE match_keys DROP CONSTRAINT match_keys_pkey") ||
        s_exec(db, "DROP INDEX match_keys_contact"))
        return -1;
    snprintf(sql, sizeof sql,
             "INSERT INTO entries (tenant_id, contact_id, first_name, last_name, first_groups,"
             " first_phonetic, last_phonetic, emails, domains, phones, postcodes, birth_date,"
             " streets, fingerprint)"
             " SELECT 'tenant-a', gen_random_uuid(), x.f, x.l, ARRAY[x.f], public.dmetaphone(x.f),"
             "  public.dmetaphone(x.l), ARRAY['c' || g || '@example.net'], ARRAY['example.net'],"
             "  ARRAY['+1720' || (2000000 + x.p %% 7000000)::text],"
             "  ARRAY[lpad((10000 + x.h %% 5000)::text, 5, '0')],"
             "  CASE WHEN x.h %% 3 = 0 THEN (1940 + x.h %% 65)::text"
             "   || lpad((1 + x.h / 7 %% 12)::text, 2, '0') || lpad((1 + x.h / 11 %% 28)::text, 2, '0')"
             "   ELSE '' END,"
             "  ARRAY[(1 + x.h / 13 %% 9000) || ' ' || x.l || ' st'], substr(md5(g::text), 1, 16)"
             " FROM generate_series(1, %ld) g, LATERAL (SELECT p, h, s[1 + h %% 20] || s[1 + h / 20 %% 20] AS f,"
             "  s[1 + h / 400 %% 20] || s[1 + h / 8000 %% 20] || s[1 + h / 160000 %% 20] AS l"
             "  FROM (SELECT CASE WHEN g %% 10 = 0 THEN g - 1 ELSE g END AS p,"
             "   abs(hashint4((CASE WHEN g %% 10 = 0 THEN g - 1 ELSE g END)::int)) AS h,"
             "   " S_SYLLABLES " AS s) y) x",
             n);
    if (s_exec(db, sql))
        return -1;
    if (s_exec(db, "INSERT INTO match_keys (tenant_id, key, contact_id)"
                   " SELECT e.tenant_id, k.key, e.contact_id FROM entries e,"
                   " LATERAL entry_keys(e.first_phonetic, e.last_phonetic, e.emails, e.phones,"
                   "  e.postcodes, '{}', e.birth_date, e.streets) AS k(key)"
                   " WHERE e.tenant_id = 'tenant-a'") ||
        s_exec(db, "ALTER TABLE match_keys ADD PRIMARY KEY (tenant_id, key, contact_id)") ||
        s_exec(db, "CREATE INDEX match_keys_contact ON match_keys (tenant_id, contact_id)") ||
        s_exec(db, "INSERT INTO name_counts (tenant_id, kind, value, n)"
                   " SELECT 'tenant-a', 'f', first_name, count(*) FROM entries"
                   "  WHERE tenant_id = 'tenant-a' GROUP BY first_name"
                   " UNION ALL SELECT 'tenant-a', 'l', last_name, count(*) FROM entries"
                   "  WHERE tenant_id = 'tenant-a' GROUP BY last_name"
                   " UNION ALL SELECT 'tenant-a', 't', '', count(*) FROM entries"
                   "  WHERE tenant_id = 'tenant-a'") ||
        s_exec(db, "VACUUM ANALYZE entries") || s_exec(db, "VACUUM ANALYZE match_keys") ||
        s_exec(db, "VACUUM ANALYZE name_counts"))
        return -1;
    return 0;
}

//  n samples of the tenant's contacts (name, phone's digits, postcode, email key).
static PGresult *s_samples(PGconn *db, int n) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT first_name, last_name, substr(phones[1], 3), postcodes[1], emails[1]"
             " FROM entries TABLESAMPLE SYSTEM (1) WHERE tenant_id = 'tenant-a'"
             " ORDER BY random() LIMIT %d",
             n);
    PGresult *res = PQexec(db, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) == 0) {
        fprintf(stderr, "bench_dedupe_check: no samples: %s\n", PQerrorMessage(db));
        PQclear(res);
        return NULL;
    }
    return res;
}

static void s_checks(const harness_t *h, PGresult *samples, int n) {
    double *ms = calloc((size_t)n, sizeof *ms);
    int found = 0, errors = 0, rows = PQntuples(samples);
    for (int i = 0; i < n; i++) {
        int r = i % rows;
        const char *digits = PQgetvalue(samples, r, 2);
        char body[512];
        if (i % 2 == 0)
            snprintf(body, sizeof body,
                     "{\"firstName\":\"%s\",\"lastName\":\"%s\",\"phones\":[{\"number\":"
                     "\"(%.3s) %.3s-%s\"}],\"addresses\":[{\"postcode\":\"%s\"}]}",
                     PQgetvalue(samples, r, 0), PQgetvalue(samples, r, 1), digits, digits + 3,
                     digits + 6, PQgetvalue(samples, r, 3));
        else //  A new person: a name on file at another contact's postcode, a new number.
            snprintf(body, sizeof body,
                     "{\"firstName\":\"%s\",\"lastName\":\"%s\",\"phones\":[{\"number\":"
                     "\"+13037%06d\"}],\"addresses\":[{\"postcode\":\"%s\"}]}",
                     PQgetvalue(samples, r, 0), PQgetvalue(samples, (r + 1) % rows, 1),
                     i % 1000000, PQgetvalue(samples, (r + 7) % rows, 3));
        harness_response_t res =
            harness_http("POST", "/v1/contacts/duplicates/check", h->key_a, body, NULL);
        ms[i] = res.seconds * 1000;
        if (res.status != 200)
            errors++;
        else if (i % 2 == 0 && json_array_size(json_object_get(res.json, "matches")) > 0)
            found++;
        harness_response_free(&res);
    }
    s_percentiles("check over HTTP (gateway, broker, dedupe)", ms, (size_t)n);
    printf("  %48s the contact on file again found in %d of %d; errors %d\n", "", found,
           (n + 1) / 2, errors);
    free(ms);
}

static void s_baseline(PGconn *db, PGresult *samples, int n) {
    PGresult *p = PQprepare(db, "email", "SELECT e.contact_id, e.first_name, e.last_name"
                                         " FROM match_keys k JOIN entries e"
                                         "  ON e.tenant_id = k.tenant_id AND e.contact_id = k.contact_id"
                                         " WHERE k.tenant_id = $1 AND k.key = $2",
                            2, NULL);
    PQclear(p);
    double *ms = calloc((size_t)n, sizeof *ms);
    int rows = PQntuples(samples);
    for (int i = 0; i < n; i++) {
        char key[300];
        snprintf(key, sizeof key, "e:%s", PQgetvalue(samples, i % rows, 4));
        const char *params[] = {"tenant-a", key};
        int64_t start = zclock_usecs();
        PGresult *res = PQexecPrepared(db, "email", 2, params, NULL, NULL, 0);
        ms[i] = (zclock_usecs() - start) / 1000.0;
        PQclear(res);
    }
    s_percentiles("baseline: exact email lookup (SQL, same index)", ms, (size_t)n);
    free(ms);
}

static void s_scan(long n) {
    char key[64];
    harness_create_key("tenant-a", "manager", key, sizeof key);
    int64_t start = zclock_usecs();
    harness_response_t r = harness_http("POST", "/v1/duplicates/scans", key, "{}", NULL);
    if (r.status != 202) {
        fprintf(stderr, "scan: %ld %s\n", r.status, r.body);
        harness_response_free(&r);
        return;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/duplicates/scans/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    long pairs = 0, groups = 0;
    for (;;) {
        zclock_sleep(500);
        r = harness_http("GET", path, key, NULL, NULL);
        bool done = strcmp(harness_json_str(&r, "status"), "succeeded") == 0 ||
                    strcmp(harness_json_str(&r, "status"), "failed") == 0;
        pairs = (long)json_integer_value(json_object_get(r.json, "pairs"));
        groups = (long)json_integer_value(json_object_get(r.json, "groups"));
        harness_response_free(&r);
        if (done)
            break;
    }
    double seconds = (zclock_usecs() - start) / 1e6;
    pid_t pid = harness_daemon_pid("dedupe");
    printf("  scan of %ld contacts: %.1f s (%.0f contacts/s; at that rate 1,000,000 in %.1f"
           " min); %ld pairs, %ld groups\n",
           n, seconds, n / seconds, 1e6 / (n / seconds) / 60, pairs, groups);
    printf("  crm-dedupe RSS %.1f MiB, peak %.1f MiB (target: the scan <= 10 min at 1,000,000)\n",
           harness_status_kib(pid, "VmRSS") / 1024.0, harness_status_kib(pid, "VmHWM") / 1024.0);
}

int main(void) {
    long n = getenv("BENCH_DEDUPE_N") ? atol(getenv("BENCH_DEDUPE_N")) : 1000000;
    int checks = getenv("BENCH_CHECKS") ? atoi(getenv("BENCH_CHECKS")) : 2000;
    bool scan = !getenv("BENCH_DEDUPE_SCAN") || atoi(getenv("BENCH_DEDUPE_SCAN")) != 0;
    const char *env[] = {"CRM_LOG_LEVEL=error", NULL};
    harness_t *h = harness_start(env);
    PGconn *db = PQconnectdb(h->dsn);
    printf("\n== the duplicate check and a scan at a tenant of N = %ld contacts\n", n);
    fflush(stdout);
    int64_t start = zclock_usecs();
    if (PQstatus(db) != CONNECTION_OK || s_load(db, n)) {
        harness_stop();
        return 1;
    }
    printf("  index loaded in %.1f s (%lld blocking keys)\n", (zclock_usecs() - start) / 1e6,
           harness_sql_scalar("SELECT count(*) FROM dedupe.match_keys"));
    fflush(stdout);
    PGresult *samples = s_samples(db, 1000);
    if (!samples) {
        harness_stop();
        return 1;
    }
    s_checks(h, samples, 200); // warm up: connections, plans, caches
    printf("  (the line above: the warm-up)\n");
    s_checks(h, samples, checks);
    s_baseline(db, samples, checks);
    printf("  target: the check's p99 <= 10 ms at 1,000,000 contacts\n");
    fflush(stdout);
    PQclear(samples);
    if (scan)
        s_scan(n);
    PQfinish(db);
    harness_stop();
    return 0;
}
