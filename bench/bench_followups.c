/*  bench_followups: the follow-up scheduler (services/leads/scheduler.c) under load,
    beside PostgreSQL baselines from the same run. Durable commits (fsync on).

    Two leads processes (BENCH_LEADS_PROCESSES, default 2) run with the shipped
    settings (leads.scheduler_ms 500, leads.scheduler_batch 1000). Each phase inserts
    BENCH_FOLLOWUPS (default 100,000) pending follow-ups straight into leads.follow_ups,
    spread over 50 leads, then records when each one's FollowUpDue arrives on the
    gateway's event stream (XPUB). It reports the delay from due time to arrival
    (p50, p99, max; target: p99 under 5 s) and checks exactly-once twice: on the stream
    (every follow-up id once) and in leads' outbox (as many FollowUpDue rows as
    follow-ups, every id once).

    1. "same minute": due times spread evenly over one minute.
    2. "same instant": every follow-up due at the same moment (a burst: what the p99
       is then is how long it takes to fire them all).

    Baseline: what firing them costs PostgreSQL alone, one statement each: an UPDATE of
    100,000 rows (a copy of the follow-ups: fired_at set) plus an INSERT of 100,000
    outbox-like rows (a copy of the events). The ratio is the p99 delay (same instant:
    the time to fire all) over that.
*/
#include "harness.h"

#include <libpq-fe.h>

#include "events.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEADS 50

static harness_t *h;

// --- the receiver: a thread on the event stream -----------------------------------------------

typedef struct {
    char id[40];
    int64_t due_ms;      // from the event
    int64_t arrived_ms;  // wall clock when it arrived
} s_arrival_t;

typedef struct {
    s_arrival_t *items;
    size_t n, capacity;
    const char *note;    // the phase's follow-ups carry this note
} s_arrivals_t;

//  Milliseconds since 1970 of "YYYY-MM-DDTHH:MM:SS.ffffffZ".
static int64_t s_ms(const char *text) {
    struct tm tm = {0};
    const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return 0;
    int64_t ms = (int64_t)timegm(&tm) * 1000;
    if (*rest == '.')
        ms += atoi(rest + 1) / 1000; // microseconds to ms
    return ms;
}

static void s_receiver(zsock_t *pipe, void *arg) {
    s_arrivals_t *out = arg;
    zsock_t *sub = harness_subscriber("leads.tenant-a.FollowUpDue");
    zsock_set_rcvhwm(sub, 0);
    zsock_set_rcvbuf(sub, 8 * 1024 * 1024);
    zpoller_t *poller = zpoller_new(pipe, sub, NULL);
    zsock_signal(pipe, 0);
    bool stop = false;
    while (!stop) {
        void *which = zpoller_wait(poller, 1000);
        if (which == pipe) {
            char *command = zstr_recv(pipe);
            stop = !command || streq(command, "$TERM");
            zstr_free(&command);
        } else if (which == sub) {
            zmsg_t *msg = zmsg_recv(sub);
            int64_t now = zclock_time();
            zframe_t *body = msg ? zmsg_last(msg) : NULL;
            Crm__Event *event =
                body ? crm__event__unpack(NULL, zframe_size(body), zframe_data(body)) : NULL;
            Crm__Events__FollowUpDue *due =
                event ? crm__events__follow_up_due__unpack(NULL, event->payload.len,
                                                          event->payload.data)
                      : NULL;
            if (due && strcmp(due->note, out->note) == 0) {
                if (out->n == out->capacity) {
                    out->capacity = out->capacity ? 2 * out->capacity : 1024;
                    out->items = realloc(out->items, out->capacity * sizeof *out->items);
                }
                s_arrival_t *a = &out->items[out->n++];
                snprintf(a->id, sizeof a->id, "%s", due->follow_up_id);
                a->due_ms = s_ms(due->due_at);
                a->arrived_ms = now;
            }
            if (due)
                crm__events__follow_up_due__free_unpacked(due, NULL);
            if (event)
                crm__event__free_unpacked(event, NULL);
            zmsg_destroy(&msg);
        } else if (zpoller_terminated(poller))
            stop = true;
    }
    zpoller_destroy(&poller);
    zsock_destroy(&sub);
}

// --- set-up -----------------------------------------------------------------------------------

static double s_scalar(const char *sql) {
    long long v = harness_sql_scalar(sql);
    return v == HARNESS_SQL_FAILED ? -1 : (double)v;
}

//  Seconds a statement takes, on the harness's connection.
static double s_timed(const char *sql) {
    int64_t t0 = zclock_usecs();
    if (harness_sql_exec(sql))
        return -1;
    return (zclock_usecs() - t0) / 1e6;
}

//  LEADS leads of tenant-a created through the API; their ids as a SQL array literal.
static char *s_leads(void) {
    size_t size = LEADS * 40 + 8;
    char *array = malloc(size);
    strcpy(array, "{");
    for (int i = 0; i < LEADS; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"kind\":\"person\",\"firstName\":\"Bench%d\",\"lastName\":\"Buyer\"}", i);
        harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
        snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"source\":\"web_form\"}",
                 harness_json_str(&r, "id"));
        harness_response_free(&r);
        r = harness_http("POST", "/v1/leads", h->key_a, body, NULL);
        if (r.status != 201) {
            fprintf(stderr, "bench: could not create a lead: %ld %s\n", r.status, r.body);
            exit(1);
        }
        strcat(array, i ? "," : "");
        strcat(array, harness_json_str(&r, "id"));
        harness_response_free(&r);
    }
    strcat(array, "}");
    return array;
}

// --- the outbox check ---------------------------------------------------------------------------

static int s_compare_ids(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

//  FollowUpDue rows of the phase in leads' outbox: their number, and the distinct ids.
static void s_outbox(const char *note, long *rows, long *distinct) {
    *rows = *distinct = 0;
    PGconn *db = PQconnectdb(h->dsn);
    PGresult *res = PQexec(db, "SELECT payload FROM leads.outbox WHERE type = 'FollowUpDue'");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench: %s", PQerrorMessage(db));
        PQclear(res);
        PQfinish(db);
        return;
    }
    //  The payload in text form: "\x..." hex.
    int n = PQntuples(res);
    char **ids = calloc((size_t)n + 1, sizeof *ids);
    long mine = 0;
    for (int i = 0; i < n; i++) {
        size_t size = 0;
        unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 0), &size);
        Crm__Events__FollowUpDue *due = crm__events__follow_up_due__unpack(NULL, size, bytes);
        if (due && strcmp(due->note, note) == 0)
            ids[mine++] = strdup(due->follow_up_id);
        if (due)
            crm__events__follow_up_due__free_unpacked(due, NULL);
        PQfreemem(bytes);
    }
    qsort(ids, (size_t)mine, sizeof *ids, s_compare_ids);
    for (long i = 0; i < mine; i++)
        *distinct += i == 0 || strcmp(ids[i], ids[i - 1]) != 0;
    *rows = mine;
    for (long i = 0; i < mine; i++)
        free(ids[i]);
    free(ids);
    PQclear(res);
    PQfinish(db);
}

// --- a phase ----------------------------------------------------------------------------------

static int s_compare_ms(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int s_compare_arrivals(const void *a, const void *b) {
    return strcmp(((const s_arrival_t *)a)->id, ((const s_arrival_t *)b)->id);
}

//  n follow-ups due from lead_ms on, spread over spread_ms; the report. Returns 0 when
//  each fired exactly once.
static int s_phase(const char *title, const char *note, const char *leads, long n, int spread_ms,
                   double baseline_s) {
    printf("\n== %s: %ld follow-ups due within %d ms, FollowUpDue on the event stream\n", title,
           n, spread_ms);
    fflush(stdout);
    s_arrivals_t arrivals = {.note = note};
    zactor_t *receiver = zactor_new(s_receiver, &arrivals);
    //  The subscription takes a moment to reach the relays through the proxy.
    zclock_sleep(1500);

    //  Due from 10 s after now, so that all are in before the first falls due.
    int64_t first_due = zclock_time() + 10000;
    char *sql = zsys_sprintf(
        "INSERT INTO leads.follow_ups (tenant_id, id, lead_id, due_at, method, note, created_by,"
        " created_at, updated_at)"
        " SELECT 'tenant-a', gen_random_uuid(), ('%s'::uuid[])[1 + i %% %d],"
        "  to_timestamp(%lld / 1000.0) + (i::bigint * %d / %ld) * interval '1 millisecond', 'call',"
        "  '%s', 'bench', now(), now() FROM generate_series(0, %ld) i",
        leads, LEADS, (long long)first_due, spread_ms, n, note, n - 1);
    double insert_s = s_timed(sql);
    zstr_free(&sql);
    int64_t inserted_at = zclock_time();
    printf("   inserted in %.2f s (%.0f rows/s); first due %.1f s later\n", insert_s,
           n / insert_s, (first_due - inserted_at) / 1000.0);
    fflush(stdout);

    //  Wait for every event, or until a minute after the last due time.
    int64_t deadline = first_due + spread_ms + 60000;
    size_t seen = 0;
    while (zclock_time() < deadline) {
        zclock_sleep(500);
        seen = arrivals.n; // read racily: only a progress check
        if ((long)seen >= n)
            break;
    }
    zclock_sleep(2000); // duplicates, if any, have time to show
    zactor_destroy(&receiver);

    //  Exactly once on the stream.
    qsort(arrivals.items, arrivals.n, sizeof *arrivals.items, s_compare_arrivals);
    size_t distinct = 0;
    for (size_t i = 0; i < arrivals.n; i++)
        distinct += i == 0 || strcmp(arrivals.items[i].id, arrivals.items[i - 1].id) != 0;
    long rows = 0, outbox_distinct = 0;
    s_outbox(note, &rows, &outbox_distinct);
    sql = zsys_sprintf("SELECT count(*) FROM leads.follow_ups WHERE note = '%s'"
                       " AND fired_at IS NOT NULL",
                       note);
    double fired = s_scalar(sql);
    zstr_free(&sql);
    bool once = (long)arrivals.n == n && (long)distinct == n && rows == n && outbox_distinct == n;
    printf("   received %zu events, %zu distinct follow-ups; outbox: %ld FollowUpDue, %ld distinct;"
           " fired rows %.0f  -> %s\n",
           arrivals.n, distinct, rows, outbox_distinct, fired,
           once ? "each exactly once" : "NOT EXACTLY ONCE");

    int64_t *delays = malloc((arrivals.n + 1) * sizeof *delays);
    int64_t last = 0;
    for (size_t i = 0; i < arrivals.n; i++) {
        delays[i] = arrivals.items[i].arrived_ms - arrivals.items[i].due_ms;
        if (arrivals.items[i].arrived_ms > last)
            last = arrivals.items[i].arrived_ms;
    }
    qsort(delays, arrivals.n, sizeof *delays, s_compare_ms);
    if (arrivals.n) {
        double p50 = delays[arrivals.n / 2] / 1000.0;
        double p99 = delays[(size_t)(arrivals.n * 0.99)] / 1000.0;
        double max = delays[arrivals.n - 1] / 1000.0;
        double all = (last - first_due) / 1000.0; // first due to the last event
        printf("   delay due -> event: p50 %.3f s   p99 %.3f s   max %.3f s   (target: p99 under"
               " 5 s)\n",
               p50, p99, max);
        //  Where the delay is: up to the scheduler's commit (fired_at), then the relay.
        char *q = zsys_sprintf(
            "SELECT (percentile_cont(%%s) WITHIN GROUP (ORDER BY extract(epoch FROM"
            " fired_at - due_at)) * 1e6)::bigint FROM leads.follow_ups WHERE note = '%s'",
            note);
        char *q50 = zsys_sprintf(q, "0.5"), *q99 = zsys_sprintf(q, "0.99");
        printf("   of which the scheduler (due -> fired_at): p50 %.3f s   p99 %.3f s\n",
               s_scalar(q50) / 1e6, s_scalar(q99) / 1e6);
        zstr_free(&q);
        zstr_free(&q50);
        zstr_free(&q99);
        printf("   first due to last event: %.2f s (due times span %.1f s): %.0f follow-ups/s"
               " fired\n",
               all, spread_ms / 1000.0, all > 0 ? n / all : 0);
        if (baseline_s > 0)
            printf("   against the baseline (%.2f s): p99 / baseline = %.2f;"
                   " (first due to last event) / baseline = %.2f\n",
                   baseline_s, p99 / baseline_s, all / baseline_s);
    }
    free(delays);
    free(arrivals.items);
    return once ? 0 : -1;
}

//  What firing n follow-ups costs PostgreSQL alone: an UPDATE of n rows of a table like
//  the follow-ups (fired_at set), and an INSERT of n outbox rows with payloads of the
//  events' size, one statement each. Seconds.
static double s_baseline(const char *leads, long n) {
    harness_sql_exec("CREATE TABLE bench_follow_ups (LIKE leads.follow_ups INCLUDING ALL)");
    harness_sql_exec("CREATE TABLE bench_outbox (LIKE leads.outbox INCLUDING ALL)");
    char *sql = zsys_sprintf(
        "INSERT INTO bench_follow_ups (tenant_id, id, lead_id, due_at, method, note, created_at,"
        " updated_at) SELECT 'tenant-a', gen_random_uuid(), ('%s'::uuid[])[1 + i %% %d], now(),"
        " 'call', 'bench', now(), now() FROM generate_series(0, %ld) i",
        leads, LEADS, n - 1);
    harness_sql_exec(sql);
    zstr_free(&sql);
    harness_sql_exec("VACUUM ANALYZE bench_follow_ups");
    double update_s = s_timed("UPDATE bench_follow_ups SET fired_at = now()"
                              " WHERE status = 'pending' AND fired_at IS NULL");
    sql = zsys_sprintf("INSERT INTO bench_outbox (event_id, type, tenant_id, aggregate_id, payload,"
                       " occurred_at) SELECT gen_random_uuid(), 'FollowUpDue', 'tenant-a',"
                       " lead_id::text, decode(repeat('ab', 170), 'hex'), now()"
                       " FROM bench_follow_ups");
    double insert_s = s_timed(sql);
    zstr_free(&sql);
    printf("\n== baseline: what firing %ld costs PostgreSQL alone, one statement each\n"
           "   UPDATE of %ld follow-up rows %.2f s; INSERT of %ld outbox rows %.2f s;"
           " together %.2f s\n",
           n, n, update_s, n, insert_s, update_s + insert_s);
    harness_sql_exec("DROP TABLE IF EXISTS bench_follow_ups, bench_outbox");
    return update_s + insert_s;
}

int main(void) {
    long n = getenv("BENCH_FOLLOWUPS") ? atol(getenv("BENCH_FOLLOWUPS")) : 100000;
    int processes = getenv("BENCH_LEADS_PROCESSES") ? atoi(getenv("BENCH_LEADS_PROCESSES")) : 2;
    setenv("PG_FSYNC", "on", 1);
    char services[256] = "gateway contacts dedupe notify reporting scoring";
    for (int i = 0; i < processes; i++)
        strcat(services, " leads");
    char services_env[300];
    snprintf(services_env, sizeof services_env, "CRM_SUPERVISOR_SERVICES=%s", services);
    const char *env[] = {services_env,
                         getenv("CRM_LOG_LEVEL") ? "CRM_BENCH=1" : "CRM_LOG_LEVEL=warn", NULL};
    h = harness_start(env);
    printf("follow-up scheduler: %d leads processes, leads.scheduler_ms 500, batch 1000\n",
           processes);
    char *leads = s_leads();
    double baseline = s_baseline(leads, n);
    int rc = s_phase("same minute", "bench-minute", leads, n, 60000, baseline);
    rc |= s_phase("same instant", "bench-instant", leads, n, 0, baseline);
    free(leads);
    harness_stop();
    return rc ? 1 : 0;
}
