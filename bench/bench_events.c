/*  bench_events: the event path (DESIGN §6, §13), beside PostgreSQL baselines from the
    same run.

    1. Lag: contacts are created over HTTP by 8 clients for BENCH_SECONDS (the load of
       bench_contacts, tests/system/httpload.c); for each,
       the time from its write in contacts (created_at) to its fact in reporting
       (applied_at) gives p50/p99. Baseline: the average latency of a single-row
       INSERT commit by pgbench with 8 clients. Target: p99 under 100 ms.
    2. Catch-up: BENCH_EVENTS (default 1,000,000) ContactCreated events are written
       straight into contacts' outbox and numbered as the relay would (claims of
       events.relay_batch rows) without being published, and the head moved past them;
       reporting learns of them from the head announcement and replays them all. Rate
       = events / time until its inbox reaches the head. Baseline: the rate of the
       bulk INSERT that wrote them. Target: at least 50,000 events/s.
*/
#include "harness.h"
#include "httpload.h"

#include <libpq-fe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_t *h;
static int s_seconds = 5;

static double s_scalar(const char *sql) {
    long long v = harness_sql_scalar(sql);
    return v == HARNESS_SQL_FAILED ? -1 : (double)v;
}

//  Wait until reporting has applied everything contacts has numbered; seconds taken.
static double s_wait_caught_up(int timeout_s) {
    int64_t start = zclock_mono();
    while (zclock_mono() - start < timeout_s * 1000LL) {
        double unnumbered = s_scalar("SELECT count(*) FROM contacts.outbox_pending");
        double head = s_scalar("SELECT last_seq FROM contacts.outbox_state");
        double applied =
            s_scalar("SELECT coalesce(max(last_seq), 0) FROM reporting.inbox"
                         " WHERE source = 'contacts'");
        if (unnumbered == 0 && applied >= head)
            return (zclock_mono() - start) / 1000.0;
        zclock_sleep(20);
    }
    return -1;
}

//  pgbench: single-row INSERT into a table like contacts, 8 clients; average latency.
static double s_pgbench_latency(int clients) {
    char script[300], cmd[2048];
    snprintf(script, sizeof script, "%s/insert.sql", h->dir);
    FILE *f = fopen(script, "w");
    fprintf(f, "INSERT INTO bench_lag (tenant_id, id, kind, type, first_name, last_name, name)"
               " VALUES ('bench', gen_random_uuid(), 'person', 'prospect', 'Ann', 'Lee', 'Ann Lee');\n");
    fclose(f);
    const char *dsn_host = strstr(h->dsn, "host=") + 5;
    snprintf(cmd, sizeof cmd,
             "pgbench -n -f %s -c %d -j 2 -T %d -h %.*s -U postgres crm 2>/dev/null", script,
             clients, s_seconds, (int)strcspn(dsn_host, " "), dsn_host);
    FILE *p = popen(cmd, "r");
    char line[512];
    double latency = 0;
    while (fgets(line, sizeof line, p))
        sscanf(line, "latency average = %lf ms", &latency);
    pclose(p);
    return latency;
}

static void s_lag(void) {
    printf("\n== lag from a write in contacts to its effect in reporting (8 HTTP clients as in"
           " bench_contacts, %d s)\n",
           s_seconds);
    long long start = harness_sql_scalar("SELECT (extract(epoch FROM now()) * 1e6)::bigint");
    //  The load of the create benchmark at 8 clients (bench_contacts).
    httpload_result_t load = httpload_creates(h, 8, s_seconds);
    if (s_wait_caught_up(60) < 0)
        printf("   reporting did not catch up within 60 s\n");
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT percentile_cont(%%s) WITHIN GROUP (ORDER BY extract(epoch FROM"
             " f.applied_at - c.created_at) * 1e6) FROM contacts.contacts c"
             " JOIN reporting.contact_facts f ON f.tenant_id = c.tenant_id AND f.contact_id = c.id"
             " WHERE c.created_at >= to_timestamp(%lld / 1e6)",
             start);
    char q50[1100], q99[1100];
    snprintf(q50, sizeof q50, sql, "0.5");
    snprintf(q99, sizeof q99, sql, "0.99");
    double p50 = s_scalar(q50) / 1000, p99 = s_scalar(q99) / 1000; // microseconds to ms
    harness_sql_exec("CREATE TABLE IF NOT EXISTS bench_lag (LIKE contacts.contacts INCLUDING ALL)");
    double pg_latency = s_pgbench_latency(8);
    printf("   creates       %8.0f /s (p99 %.2f ms)\n", load.rate, load.p99);
    printf("   lag p50       %8.1f ms\n", p50);
    printf("   lag p99       %8.1f ms   (target: under 100 ms)\n", p99);
    printf("   baseline: pgbench single-row INSERT commit, 8 clients: %.2f ms average;"
           " lag p50 / commit = %.1f\n",
           pg_latency, pg_latency > 0 ? p50 / pg_latency : 0);
}

//  Number every committed row not numbered yet, as the relay does, in claims of 1000
//  (events.relay_batch), without publishing them (common/outbox.c has the layout).
#define S_CLAIM_ALL_SQL                                                                       \
    "WITH st AS (SELECT last_seq, done_snap, pg_current_snapshot() AS upto"                   \
    "  FROM contacts.outbox_state WHERE id = 1 AND cur_snap IS NULL),"                        \
    " g AS (SELECT o.xid, o.id, row_number() OVER (ORDER BY o.xid, o.id) AS rn"               \
    "  FROM contacts.outbox o, st WHERE (o.xid >= pg_snapshot_xmax(st.done_snap)"             \
    "   OR o.xid = ANY (array(SELECT pg_snapshot_xip(st.done_snap))))"                        \
    "  AND NOT pg_visible_in_snapshot(o.xid, st.done_snap)"                                   \
    "  AND pg_visible_in_snapshot(o.xid, st.upto)),"                                          \
    " chunks AS (SELECT min(rn) AS lo, max(rn) AS hi FROM g GROUP BY (rn - 1) / 1000),"       \
    " rec AS (INSERT INTO contacts.outbox_claims (first_seq, last_seq, after_snap, upto_snap," \
    "  from_xid, from_id, to_xid, to_id)"                                                     \
    "  SELECT st.last_seq + c.lo, st.last_seq + c.hi, st.done_snap, st.upto,"                 \
    "  coalesce(prev.xid, '0'), coalesce(prev.id, 0), last.xid, last.id"                      \
    "  FROM st, chunks c JOIN g last ON last.rn = c.hi LEFT JOIN g prev ON prev.rn = c.lo - 1)" \
    " UPDATE contacts.outbox_state s SET last_seq = s.last_seq + (SELECT count(*) FROM g),"   \
    "  done_snap = st.upto FROM st WHERE s.id = 1"

static void s_catch_up(long events) {
    printf("\n== catch-up: reporting replays a backlog of %ld events\n", events);
    fflush(stdout);
    //  ContactCreated{contact: Contact{id, kind person, type prospect, "Ann", "Lee",
    //  source web, created_at, updated_at}} assembled byte by byte (every length fits
    //  one varint byte), created over the last days so the projection has many rows.
    char sql[4096];
    snprintf(sql, sizeof sql,
             "INSERT INTO contacts.outbox (event_id, type, tenant_id, aggregate_id, payload,"
             " occurred_at)"
             " SELECT gen_random_uuid(), 'ContactCreated', 'tenant-a', g.cid,"
             "  '\\x0a'::bytea || set_byte('\\x00'::bytea, 0, length(x.c)) || x.c, now()"
             " FROM (SELECT i, gen_random_uuid()::text AS cid,"
             "   to_char(now() AT TIME ZONE 'UTC' - i * interval '1 second',"
             "           'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS ts"
             "   FROM generate_series(1, %ld) i) g,"
             "  LATERAL (SELECT '\\x0a24'::bytea || convert_to(g.cid, 'UTF8')"
             "   || '\\x10011801'::bytea || '\\x2203416e6e2a034c65654805'::bytea"
             "   || '\\x5a1b'::bytea || convert_to(g.ts, 'UTF8')"
             "   || '\\x621b'::bytea || convert_to(g.ts, 'UTF8') AS c) x",
             events);
    //  The relay is kept off the sequence row (it skips a locked one) while the rows are
    //  written, then they are claimed here, unpublished: reporting learns of them from
    //  the head announcement and replays them.
    PGconn *lock = PQconnectdb(h->dsn);
    PGresult *res = PQexec(lock, "BEGIN; SELECT 1 FROM contacts.outbox_state WHERE id = 1 FOR UPDATE");
    PQclear(res);
    int64_t t0 = zclock_mono();
    harness_sql_exec(sql);
    double insert_s = (zclock_mono() - t0) / 1000.0;
    res = PQexec(lock, S_CLAIM_ALL_SQL "; COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        printf("   could not number the events: %s", PQerrorMessage(lock));
    PQclear(res);
    PQfinish(lock);
    double caught_up_s = s_wait_caught_up(600);
    if (caught_up_s < 0) {
        printf("   reporting did not catch up within 600 s\n");
        return;
    }
    double rate = events / caught_up_s, baseline = events / insert_s;
    printf("   applied       %8.0f events/s (%.1f s, including up to 1 s until the head"
           " announcement)   target: at least 50,000\n",
           rate, caught_up_s);
    printf("   baseline: bulk INSERT of the same events %8.0f rows/s; ratio %.0f%%\n", baseline,
           100.0 * rate / baseline);
    double facts = s_scalar("SELECT count(*) FROM reporting.contact_facts WHERE tenant_id ="
                                " 'tenant-a'");
    printf("   reporting facts for the tenant: %.0f\n", facts);
}

int main(void) {
    if (getenv("BENCH_SECONDS"))
        s_seconds = atoi(getenv("BENCH_SECONDS"));
    long events = getenv("BENCH_EVENTS") ? atol(getenv("BENCH_EVENTS")) : 1000000;
    setenv("PG_FSYNC", "on", 1);
    const char *env[] = {getenv("CRM_LOG_LEVEL") ? "CRM_BENCH=1" : "CRM_LOG_LEVEL=warn", NULL};
    h = harness_start(env);
    s_lag();
    s_catch_up(events);
    harness_stop();
    return 0;
}
