/*  System test of crm-notify's senders under SIGKILL: 2,000 SMS and 200 emails fall due
    at once, and crm-notify is killed (SIGKILL; the supervisor starts it again) every
    two seconds while the queue drains. Then:

    - every message ended sent or delivered, failed with a reason, dead, or (email only)
      unknown: nothing is left queued or sending, and no SMS is left unknown (the
      provider's callbacks and message list settle them);
    - the SMS stub received each SMS's text exactly once (each body carries a unique
      token; no To+Body twice), and the SMTP sink each sent email exactly once and an
      unknown one at most once;
    - an email is unknown only when a kill caught it between the attempt and its
      outcome: at most one per email sender (notify.senders, 2 by default) per kill.

    The messages are queued through POST /v1/messages while a trigger holds them (due a
    day later), then all made due together, so the sender works on a full queue when the
    kills begin.
*/
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <czmq.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#define SMS 2000
#define EMAILS 200
#define CONTACTS 40
#define CLIENTS 4          // keep-alive clients queueing
#define KILL_EVERY_MS 2000 // between two kills
#define KILLS_MAX 10       // kills at most (the queue is drained well before)
#define SETTLE_MS 30000    // after the last kill, for the unknown SMS to settle
#define SENDERS 2          // notify.senders: email senders, each with one attempt in flight

static harness_t *h;
static char s_contacts[CONTACTS][40];

static int s_setup(void **state) {
    (void)state;
    //  Paced (SMS 100/s, email 10/s) so that the queue takes some 20 s to drain and the
    //  kills land in the middle of it.
    static const char *const env[] = {"CRM_NOTIFY_SMS_PER_SECOND=100",
                                      "CRM_NOTIFY_EMAIL_PER_SECOND=10",
                                      "CRM_NOTIFY_DAILY_CAP=0",
                                      "CRM_NOTIFY_RETRY_BASE_MS=100",
                                      "CRM_SUPERVISOR_BACKOFF_MAX_MS=200",
                                      NULL};
    h = harness_start(env);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

// --- queueing ----------------------------------------------------------------------------------

static size_t s_discard(char *data, size_t size, size_t n, void *arg) {
    (void)data;
    (void)arg;
    return size * n;
}

typedef struct {
    int first; // this client's messages: first, first + CLIENTS, ...
    int errors;
} s_queue_t;

//  Message i: SMS below SMS, then the emails; each with its token in its text.
static void *s_queue_run(void *arg) {
    s_queue_t *q = arg;
    CURL *c = curl_easy_init();
    char auth[128], url[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", h->key_a);
    snprintf(url, sizeof url, "%s/v1/messages", h->http_url);
    struct curl_slist *headers = curl_slist_append(NULL, auth);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    for (int i = q->first; i < SMS + EMAILS; i += CLIENTS) {
        char body[1024];
        const char *contact = s_contacts[i % CONTACTS];
        if (i < SMS)
            snprintf(body, sizeof body,
                     "{\"contactId\":\"%s\",\"channel\":\"sms\",\"bodyText\":\"Kill test "
                     "[kt-%06d] Hi {{contact.firstName}}\"}",
                     contact, i);
        else
            snprintf(body, sizeof body,
                     "{\"contactId\":\"%s\",\"channel\":\"email\",\"subject\":\"Kill test "
                     "[kt-%06d]\",\"bodyText\":\"Hi {{contact.firstName}}, [kt-%06d]\"}",
                     contact, i, i);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        long status = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        q->errors += status != 201;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return NULL;
}

static void s_queue_all(void) {
    //  Held while queued: due a day later, until released together.
    assert_int_equal(
        harness_sql_exec(
            "CREATE FUNCTION public.kill_test_hold() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN NEW.due_at := NEW.due_at + interval '1 day'; RETURN NEW; END $$"),
        0);
    assert_int_equal(harness_sql_exec("CREATE TRIGGER kill_test_hold BEFORE INSERT ON "
                                      "notify.messages FOR EACH ROW EXECUTE FUNCTION"
                                      " public.kill_test_hold()"),
                     0);
    pthread_t threads[CLIENTS];
    s_queue_t jobs[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        jobs[i] = (s_queue_t){.first = i};
        pthread_create(&threads[i], NULL, s_queue_run, &jobs[i]);
    }
    int errors = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(threads[i], NULL);
        errors += jobs[i].errors;
    }
    assert_int_equal(errors, 0);
    assert_int_equal(harness_sql_exec("DROP TRIGGER kill_test_hold ON notify.messages"), 0);
    assert_int_equal(harness_sql_exec("UPDATE notify.messages SET due_at = now()"
                                      " WHERE status = 'queued'"),
                     0);
}

// --- what the sinks received ------------------------------------------------------------------

//  The token number in text ("[kt-000123]"), or -1.
static int s_token(const char *text) {
    const char *at = text ? strstr(text, "[kt-") : NULL;
    return at ? atoi(at + 4) : -1;
}

//  Each token's count in the SMS stub's messages.jsonl; 0 when no To+Body came twice.
static int s_sms_received(int *counts) {
    char path[400];
    snprintf(path, sizeof path, "%s/messages.jsonl", h->sms_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    zhash_t *seen = zhash_new();
    char *line = NULL;
    size_t size = 0;
    int twice = 0;
    while (getline(&line, &size, f) > 0) {
        json_t *record = json_loads(line, 0, NULL);
        const char *to = json_string_value(json_object_get(record, "to"));
        const char *body = json_string_value(json_object_get(record, "body"));
        int token = s_token(body);
        if (token >= 0 && token < SMS + EMAILS)
            counts[token]++;
        char *key = zsys_sprintf("%s|%s", to ? to : "", body ? body : "");
        if (zhash_insert(seen, key, (void *)1) != 0 && twice++ < 5)
            fprintf(stderr, "the stub got the same SMS twice: %s\n", key);
        zstr_free(&key);
        json_decref(record);
    }
    free(line);
    fclose(f);
    zhash_destroy(&seen);
    return twice;
}

//  Each token's count in the SMTP sink's index.jsonl (the subject carries it).
static void s_mail_received(int *counts) {
    char path[400];
    snprintf(path, sizeof path, "%s/index.jsonl", h->smtp_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return; // no email got through (yet)
    char *line = NULL;
    size_t size = 0;
    while (getline(&line, &size, f) > 0) {
        json_t *record = json_loads(line, 0, NULL);
        int token = s_token(json_string_value(json_object_get(record, "subject")));
        if (token >= 0 && token < SMS + EMAILS)
            counts[token]++;
        json_decref(record);
    }
    free(line);
    fclose(f);
}

// --- the test ----------------------------------------------------------------------------------

static long long s_unsettled(void) {
    return harness_sql_scalar("SELECT count(*) FROM notify.messages WHERE status IN"
                              " ('queued', 'sending') OR (status = 'unknown' AND channel = 'sms')");
}

static void test_kill_while_sending(void **state) {
    (void)state;
    int64_t started = zclock_mono();
    for (int i = 0; i < CONTACTS; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"kind\":\"person\",\"firstName\":\"Kim%d\",\"lastName\":\"Killer\","
                 "\"phones\":[{\"number\":\"+120255502%02d\",\"type\":\"mobile\",\"sms\":true}],"
                 "\"emails\":[{\"address\":\"kim.%d@example.com\",\"consent\":true}]}",
                 i, i, i);
        harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
        assert_int_equal(r.status, 201);
        snprintf(s_contacts[i], sizeof s_contacts[i], "%s", harness_json_str(&r, "id"));
        harness_response_free(&r);
    }
    long long known = 0;
    for (int i = 0; i < 400 && known < CONTACTS; i++) {
        known = harness_sql_scalar("SELECT count(*) FROM notify.recipients");
        zclock_sleep(50);
    }
    assert_int_equal(known, CONTACTS);
    s_queue_all();
    printf("   queued %d SMS and %d emails in %.1f s\n", SMS, EMAILS,
           (zclock_mono() - started) / 1000.0);

    //  Kill while the queue drains.
    int kills = 0;
    int64_t last_kill = 0;
    while (kills < KILLS_MAX && harness_sql_scalar("SELECT count(*) FROM notify.messages"
                                                   " WHERE status IN ('queued', 'sending')") > 0) {
        zclock_sleep(KILL_EVERY_MS);
        pid_t pid = harness_daemon_pid("notify");
        if (pid > 0 && kill(pid, SIGKILL) == 0) {
            kills++;
            last_kill = zclock_mono();
        }
    }
    //  Then let it settle: the unknown SMS wait for their callbacks or the message list.
    long long unsettled = s_unsettled();
    while (unsettled > 0 && zclock_mono() - last_kill < SETTLE_MS) {
        zclock_sleep(250);
        unsettled = s_unsettled();
    }
    printf("   %d kills; settled %.1f s after the last\n", kills,
           (zclock_mono() - last_kill) / 1000.0);
    assert_true(kills >= 2);
    assert_int_equal(unsettled, 0);
    zclock_sleep(1000); // a send still in flight would reach the sink by now

    //  Every message's end, against what the sinks received.
    int *sms_counts = calloc(SMS + EMAILS, sizeof *sms_counts);
    int *mail_counts = calloc(SMS + EMAILS, sizeof *mail_counts);
    assert_int_equal(s_sms_received(sms_counts), 0);
    s_mail_received(mail_counts);
    PGconn *db = PQconnectdb(h->dsn);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    PGresult *res = PQexec(db, "SELECT channel, status, reason, body_text FROM notify.messages");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), SMS + EMAILS);
    int bad = 0, unknown_mail = 0, sent = 0, failed = 0;
    bool *seen = calloc(SMS + EMAILS, sizeof *seen);
    for (int i = 0; i < PQntuples(res); i++) {
        bool sms = strcmp(PQgetvalue(res, i, 0), "sms") == 0;
        const char *status = PQgetvalue(res, i, 1), *reason = PQgetvalue(res, i, 2);
        int token = s_token(PQgetvalue(res, i, 3));
        if (token < 0 || token >= SMS + EMAILS || seen[token] || sms != (token < SMS)) {
            fprintf(stderr, "message %d: no token of its own: %s\n", i, PQgetvalue(res, i, 3));
            bad++;
            continue;
        }
        seen[token] = true;
        int got = sms ? sms_counts[token] : mail_counts[token];
        bool delivered = strcmp(status, "sent") == 0 || strcmp(status, "delivered") == 0;
        bool unknown = strcmp(status, "unknown") == 0;
        bool ok;
        if (delivered)
            ok = got == 1;
        else if (unknown)
            ok = !sms && got <= 1;
        else if (strcmp(status, "failed") == 0)
            ok = reason[0] && got <= 1;
        else
            ok = strcmp(status, "dead") == 0 && got <= 1;
        sent += delivered;
        unknown_mail += unknown;
        failed += !delivered && !unknown;
        if (!ok && bad++ < 10)
            fprintf(stderr, "[kt-%06d] (%s) ended %s (%s), received %d times\n", token,
                    sms ? "sms" : "email", status, reason, got);
    }
    long long interrupted = harness_sql_scalar(
        "SELECT count(*) FROM notify.message_events WHERE reason = 'interrupted'");
    printf("   %d sent or delivered, %d failed or dead, %d emails unknown; %lld attempts"
           " interrupted by a kill\n",
           sent, failed, unknown_mail, interrupted);
    PQclear(res);
    PQfinish(db);
    free(seen);
    free(sms_counts);
    free(mail_counts);
    assert_int_equal(bad, 0);
    assert_true(unknown_mail <= kills * SENDERS);
    assert_true(zclock_mono() - started < 90000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_while_sending),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
