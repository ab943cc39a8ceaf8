/*  System test of crm-scoring under SIGKILL: four clients create leads (each with a new
    contact: a phone, an email or neither) and log activities on them (test drives booked
    and taken, connected calls, inbound texts, appointments missed, a past test drive
    marked a no-show afterwards) while crm-scoring is killed (SIGKILL; the supervisor
    starts it again) every two seconds, a handful of times. Then, once scoring and the
    leads service have caught up:

    - every lead has a score, and the lead (leads service) shows the same score and band;
    - no scoring step was doubled: a lead's history never holds the same score and band
      twice in a row (a history row is written only when one of them moved), and scoring's
      outbox holds exactly one LeadScored per history row (both are written in the step's
      transaction);
    - every lead's score is the clean recomputation's: each lead's score, band and
      contributions (rule and points) are recorded, `crmctl scoring rebuild` empties
      scoring and replays every event, and each lead comes out the same (a lost or
      doubled contribution shows here).
*/
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "systest_sql.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLIENTS 4          // clients creating leads and logging activities
#define LEADS_MAX 60       // per client, at most
#define PAUSE_MS 25        // between two steps of a client
#define KILL_EVERY_MS 2000 // between two kills
#define KILLS 6
#define TENANT "tenant-a"

static harness_t *h;

static int s_setup(void **state) {
    (void)state;
    static const char *const env[] = {"CRM_SUPERVISOR_BACKOFF_MAX_MS=200", NULL};
    h = harness_start(env);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

// --- the clients ---------------------------------------------------------------------------------

typedef struct {
    int index;
    unsigned seed;
    char leads[LEADS_MAX][64];
    char past_drive[LEADS_MAX][64]; // a test drive an hour ago ("" none)
    bool missed[LEADS_MAX];         // and marked a no-show
    int n_leads;
    int requests, errors;
} s_client_t;

static volatile int s_stop;

//  now + offset seconds, RFC 3339 (UTC).
static void s_time(long offset, char out[40]) {
    time_t t = time(NULL) + offset;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

//  One request; its "id" into id (may be NULL) when it answered expected.
static bool s_call(s_client_t *c, const char *method, const char *path, const char *body,
                   long expected, char id[64]) {
    harness_response_t r = harness_http(method, path, h->key_a, body, NULL);
    c->requests++;
    bool ok = r.status == expected;
    if (!ok && c->errors++ < 5)
        fprintf(stderr, "%s %s %s: %ld %s\n", method, path, body ? body : "", r.status,
                r.body ? r.body : "");
    if (ok && id)
        snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    return ok;
}

static void s_new_lead(s_client_t *c) {
    static const char *const channels[] = {
        ",\"phones\":[{\"number\":\"+12025550142\",\"type\":\"mobile\"}]",
        ",\"emails\":[{\"address\":\"kill.score.%d.%d@example.com\"}]",
        "",
    };
    static const char *const fields[] = {
        ",\"source\":\"walk_in\",\"timeline\":\"within_month\",\"budgetMaxCents\":3800000,"
        "\"vehicle\":{\"year\":2024,\"make\":\"Toyota\",\"model\":\"RAV4\"}",
        ",\"source\":\"phone\",\"timeline\":\"within_3_months\"",
        ",\"source\":\"referral\",\"customFields\":{\"trade_in\":\"2015 Civic\"}",
        ",\"source\":\"chat\",\"budgetMinCents\":1000000,"
        "\"customFields\":{\"financing\":\"finance\"}",
    };
    int i = c->n_leads;
    char body[768], contact[64], channel[128];
    snprintf(channel, sizeof channel, channels[(c->index + i) % 3], c->index, i);
    snprintf(body, sizeof body,
             "{\"firstName\":\"Kim%d\",\"lastName\":\"Scorer\",\"type\":\"prospect\"%s}",
             c->index, channel);
    if (!s_call(c, "POST", "/v1/contacts", body, 201, contact))
        return;
    snprintf(body, sizeof body, "{\"contactId\":\"%s\"%s}", contact, fields[(c->index + i) % 4]);
    if (s_call(c, "POST", "/v1/leads", body, 201, c->leads[i])) {
        c->past_drive[i][0] = 0;
        c->missed[i] = false;
        c->n_leads++;
    }
}

//  One activity on one of the client's leads, chosen at random.
static void s_new_activity(s_client_t *c) {
    int i = (int)(rand_r(&c->seed) % (unsigned)c->n_leads);
    char path[160], body[512], past[40], future[40];
    s_time(-3600, past);
    s_time(7 * 86400, future);
    snprintf(path, sizeof path, "/v1/leads/%s/activities", c->leads[i]);
    switch (rand_r(&c->seed) % 7) {
    case 0:
        snprintf(body, sizeof body, "{\"kind\":\"test_drive\",\"scheduledAt\":\"%s\"}", future);
        break;
    case 1:
        snprintf(body, sizeof body, "{\"kind\":\"call\",\"outcome\":\"connected\"}");
        break;
    case 2:
        snprintf(body, sizeof body, "{\"kind\":\"sms\",\"direction\":\"inbound\",\"body\":\"ok\"}");
        break;
    case 3:
        snprintf(body, sizeof body,
                 "{\"kind\":\"appointment\",\"scheduledAt\":\"%s\",\"status\":\"no_show\"}", past);
        break;
    case 4:
        snprintf(body, sizeof body,
                 "{\"kind\":\"test_drive\",\"scheduledAt\":\"%s\",\"status\":\"completed\"}",
                 past);
        break;
    case 5:
        snprintf(body, sizeof body, "{\"kind\":\"call\",\"outcome\":\"no_answer\"}");
        break;
    default:
        //  A test drive an hour ago, scheduled; marked a no-show later (its booking's
        //  signal replaced by the no-show's).
        if (c->missed[i])
            return;
        if (c->past_drive[i][0]) {
            snprintf(path, sizeof path, "/v1/leads/%s/activities/%s", c->leads[i],
                     c->past_drive[i]);
            s_call(c, "PATCH", path, "{\"status\":\"no_show\"}", 200, NULL);
            c->missed[i] = true;
            return;
        }
        snprintf(body, sizeof body, "{\"kind\":\"test_drive\",\"scheduledAt\":\"%s\"}", past);
        s_call(c, "POST", path, body, 201, c->past_drive[i]);
        return;
    }
    s_call(c, "POST", path, body, 201, NULL);
}

static void *s_client_run(void *arg) {
    s_client_t *c = arg;
    while (!s_stop) {
        if (c->n_leads < LEADS_MAX && (c->n_leads == 0 || rand_r(&c->seed) % 3 == 0))
            s_new_lead(c);
        else if (c->n_leads > 0)
            s_new_activity(c);
        zclock_sleep(PAUSE_MS);
    }
    return NULL;
}

// --- what scoring shows --------------------------------------------------------------------------

//  Wait (up to timeout_ms) until scoring has every lead of the tenant and it and the leads
//  service are each at the other's event head (three looks in a row).
static void s_settle(long long leads, int timeout_ms) {
    static const char *const checks[] = {SQL_BEHIND("leads", "scoring"),
                                         SQL_BEHIND("contacts", "scoring"),
                                         SQL_BEHIND("scoring", "leads")};
    int64_t until = zclock_mono() + timeout_ms;
    for (int stable = 0; stable < 3;) {
        bool behind = harness_sql_scalar("SELECT count(*) FROM scoring.leads WHERE tenant_id = '"
                                         TENANT "' AND explanation IS NOT NULL") != leads;
        for (size_t i = 0; i < sizeof checks / sizeof *checks; i++)
            behind |= harness_sql_scalar(checks[i]) != 0;
        stable = behind ? 0 : stable + 1;
        if (zclock_mono() > until)
            fail_msg("scoring did not catch up in %d ms", timeout_ms);
        zclock_sleep(100);
    }
    sql_scores_settled();
}

//  The lead's score as "score band rule:points ..." (the contributions in their order),
//  into out.
static void s_score_text(const char *lead, char *out, size_t size) {
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/score", lead);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    if (r.status != 200)
        fail_msg("lead %s: GET score %ld %s", lead, r.status, r.body);
    size_t len = (size_t)snprintf(out, size, "%lld %s",
                                  (long long)json_integer_value(json_object_get(r.json, "score")),
                                  harness_json_str(&r, "band"));
    json_t *items = json_object_get(r.json, "contributions");
    long sum = 0;
    for (size_t i = 0; i < json_array_size(items) && len < size; i++) {
        json_t *c = json_array_get(items, i);
        long points = (long)json_integer_value(json_object_get(c, "points"));
        sum += points;
        len += (size_t)snprintf(out + len, size - len, " %s:%ld",
                                json_string_value(json_object_get(c, "rule")), points);
    }
    assert_true(len < size);
    assert_int_equal(sum, json_integer_value(json_object_get(r.json, "score")));
    harness_response_free(&r);
}

//  Consecutive history entries of lead (newest first) with the same score and band: a
//  step applied twice. Also its entries' count into *n.
static int s_history_doubled(const char *lead, long long *n) {
    char path[160];
    snprintf(path, sizeof path, "/v1/leads/%s/score/history?limit=200", lead);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    *n = (long long)json_array_size(items);
    assert_true(*n < 200);
    int doubled = 0;
    for (size_t i = 1; i < json_array_size(items); i++) {
        json_t *a = json_array_get(items, i - 1), *b = json_array_get(items, i);
        if (json_integer_value(json_object_get(a, "score")) ==
                json_integer_value(json_object_get(b, "score")) &&
            json_equal(json_object_get(a, "band"), json_object_get(b, "band"))) {
            if (doubled++ == 0)
                fprintf(stderr, "lead %s: the same score twice in a row in its history: %s\n",
                        lead, r.body);
        }
    }
    harness_response_free(&r);
    return doubled;
}

// --- the test ------------------------------------------------------------------------------------

static void test_kill_while_scoring(void **state) {
    (void)state;
    static s_client_t clients[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = (s_client_t){.index = i, .seed = 1000u + (unsigned)i};
        pthread_create(&threads[i], NULL, s_client_run, &clients[i]);
    }
    //  Kill scoring every two seconds while the clients work; each time, wait for the
    //  supervisor's new one.
    int kills = 0;
    for (int k = 0; k < KILLS; k++) {
        zclock_sleep(KILL_EVERY_MS);
        pid_t pid = harness_daemon_pid("scoring");
        if (pid <= 0 || kill(pid, SIGKILL) != 0)
            continue;
        kills++;
        pid_t next = 0;
        for (int64_t until = zclock_mono() + 10000; zclock_mono() < until; zclock_sleep(20)) {
            next = harness_daemon_pid("scoring");
            if (next > 0 && next != pid)
                break;
        }
        assert_true(next > 0 && next != pid);
    }
    zclock_sleep(500); // a little work after the last restart
    s_stop = 1;
    int requests = 0, errors = 0;
    long long n = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(threads[i], NULL);
        requests += clients[i].requests;
        errors += clients[i].errors;
        n += clients[i].n_leads;
    }
    printf("   %d kills; %d requests (%d failed), %lld leads\n", kills, requests, errors, n);
    assert_int_equal(kills, KILLS);
    assert_int_equal(errors, 0);
    assert_true(n >= 20);
    int64_t settling = zclock_mono();
    s_settle(n, 60000);
    printf("   settled %.1f s after the clients stopped\n", (zclock_mono() - settling) / 1000.0);

    //  (1) Every lead has a score, and the lead shows it.
    assert_int_equal(sql_scalar("SELECT count(*) FROM leads.leads WHERE tenant_id = '" TENANT "'"),
                     n);
    assert_int_equal(sql_scalar("SELECT count(*) FROM leads.leads l JOIN scoring.leads s"
                                " ON s.lead_id = l.id AND s.tenant_id = l.tenant_id"
                                " WHERE l.tenant_id = '" TENANT "' AND s.explanation IS NOT NULL"
                                " AND l.score = s.score AND l.band = s.band"),
                     n);

    //  (2) No step doubled: never the same score and band twice in a row in a history,
    //  one LeadScored per history row.
    int doubled = 0;
    long long history = 0;
    char (*before)[1024] = calloc((size_t)n, sizeof *before);
    const char **ids = calloc((size_t)n, sizeof *ids);
    long long k = 0;
    for (int i = 0; i < CLIENTS; i++)
        for (int j = 0; j < clients[i].n_leads; j++)
            ids[k++] = clients[i].leads[j];
    for (long long i = 0; i < n; i++) {
        long long entries = 0;
        doubled += s_history_doubled(ids[i], &entries);
        history += entries;
        s_score_text(ids[i], before[i], sizeof before[i]);
    }
    assert_int_equal(doubled, 0);
    long long scored =
        sql_scalar("SELECT count(*) FROM scoring.outbox WHERE type = 'LeadScored'"
                   " AND tenant_id = '" TENANT "'");
    long long rows = sql_scalar("SELECT count(*) FROM scoring.score_history"
                                " WHERE tenant_id = '" TENANT "'");
    printf("   %lld history rows, %lld LeadScored\n", rows, scored);
    assert_int_equal(history, rows);
    assert_int_equal(scored, rows);
    assert_int_equal(sql_scalar("SELECT count(*) FROM (SELECT aggregate_id FROM scoring.outbox"
                                " WHERE type = 'LeadScored' AND tenant_id = '" TENANT "'"
                                " GROUP BY aggregate_id HAVING count(*) <> (SELECT count(*)"
                                " FROM scoring.score_history s WHERE s.tenant_id = '" TENANT "'"
                                " AND s.lead_id::text = aggregate_id)) d"),
                     0);

    //  (3) The clean recomputation: rebuild scoring from the event stream and compare
    //  every lead.
    char cmd[1024];
    const char *bin = getenv("CRM_BIN_DIR") ? getenv("CRM_BIN_DIR") : "build/bin";
    snprintf(cmd, sizeof cmd,
             "env -u CRM_CONFIG CRM_DATABASE_DSN='%s' CRM_BROKER_ENDPOINT='%s'"
             " CRM_EVENTS_SUBSCRIBE_ENDPOINT='%s' CRM_EVENTS_PUBLISH_ENDPOINT='%s'"
             " %s/crmctl scoring rebuild >/dev/null",
             h->dsn, h->broker, h->events_sub, h->events_pub, bin);
    assert_int_equal(system(cmd), 0);
    s_settle(n, 60000);
    int differ = 0;
    for (long long i = 0; i < n; i++) {
        char after[1024];
        s_score_text(ids[i], after, sizeof after);
        if (strcmp(after, before[i]) != 0 && differ++ < 10)
            fprintf(stderr, "lead %s: scored %s under the kills, %s rebuilt\n", ids[i],
                    before[i], after);
    }
    printf("   %d of %lld leads differ from the rebuild\n", differ, n);
    free(before);
    free(ids);
    assert_int_equal(differ, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_while_scoring),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
