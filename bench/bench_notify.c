/*  bench_notify: crm-notify's senders against the real local sinks (tools/sinks: the
    Twilio-compatible SMS stub and the STARTTLS+AUTH SMTP sink), each figure beside a
    baseline from the same run, printed as a ratio. Durable commits (fsync on; PG_FSYNC=off
    shows what they cost).

    1. SMS throughput: BENCH_SMS (default 5,000) SMS queued through POST /v1/messages
       (four keep-alive clients) to contacts with SMS-opted-in phones, with
       notify.sms_per_second and the daily cap out of the way. While they are queued a
       trigger on notify.messages holds them (due tomorrow); then all fall due at once,
       so what is measured is the sender draining a full queue: messages/s from the
       first to the last the stub accepted (its received_at). Baseline: libcurl POSTing
       the very same forms (To, From, Body, StatusCallback; Basic auth) to the same stub,
       one after another over one kept-alive connection, from this process.
       Target: >= 500/s and >= 0.8 of the baseline.
    2. Email throughput: BENCH_EMAIL (default 2,000) emails the same way to the SMTP sink.
       Baseline: libcurl sending the very same messages (the sink's copies of notify's)
       over one connection with STARTTLS and AUTH. Target: >= 200/s and >= 0.8.
    3. Speed to lead: BENCH_LEADS (default 500) chat leads created at 50/s, each for its
       own contact with an SMS-opted-in phone (the tenant's zone at noon, so quiet hours
       allow it): p50/p99 from the lead's 201 to the stub accepting the auto-reply.
       Baseline: a salesperson's SMS (POST /v1/messages) at 50/s, 201 to the stub.
       Target: p99 <= 2 s.
    4. Consent change honoured: BENCH_CONSENT (default 100) contacts with queued SMS each
       get doNotContact.sms by PATCH /v1/contacts/{id}/communication; from the PATCH's
       200, POST /v1/messages is repeated until it answers 422 do_not_contact. Baseline:
       from the same 200 to ContactCommunicationRulesChanged arriving on the gateway's
       event stream (what any subscriber could know). Target: p99 <= 1 s.
    5. crm-notify's idle resident memory (VmRSS) after all that, beside its idle memory at
       start, and its own part (RssAnon; the rest is shared libraries' pages). Target:
       under 20 MiB.

    Each throughput phase also prints the CPU time the processes used during it (notify,
    gateway, PostgreSQL, the sink, this process), to see where the time goes.

    Exits non-zero only when a figure could not be measured; a missed target is printed
    as "below target".
*/
#include "harness.h"

#include "events.pb-c.h"

#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define CLIENTS 4 // keep-alive clients queueing messages

static harness_t *h;
static int s_failed; // figures that could not be measured

// --- time, processes ---------------------------------------------------------------------------

static int64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Milliseconds since 1970 of the sinks' "YYYY-MM-DDTHH:MM:SS.mmmZ"; 0 when unreadable.
static int64_t s_iso_ms(const char *text) {
    struct tm tm = {0};
    const char *rest = text ? strptime(text, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!rest)
        return 0;
    int64_t ms = (int64_t)timegm(&tm) * 1000;
    if (*rest == '.')
        ms += atoi(rest + 1);
    return ms;
}

//  Resident KiB per mapping (a library's path, "[heap]", "anon" for unnamed) of pid,
//  from /proc/<pid>/smaps, in a zhash of names to decimal strings.
static zhash_t *s_rss_by_mapping(pid_t pid) {
    char path[64], line[512], name[256] = "anon";
    snprintf(path, sizeof path, "/proc/%d/smaps", pid);
    zhash_t *map = zhash_new();
    zhash_autofree(map);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        long kib;
        char file[256] = "";
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &lo, &hi, file) >= 2)
            snprintf(name, sizeof name, "%s", *file ? file : "anon");
        else if (sscanf(line, "Rss: %ld kB", &kib) == 1) {
            const char *have = zhash_lookup(map, name);
            char sum[32];
            snprintf(sum, sizeof sum, "%ld", (have ? atol(have) : 0) + kib);
            zhash_update(map, name, sum);
        }
    }
    if (f)
        fclose(f);
    return map;
}

//  The mappings whose resident size grew most from start to end, largest first (what
//  the idle figure is made of, so the next step is visible).
static void s_print_growth(zhash_t *start, zhash_t *end) {
    printf("   grown since start (KiB):");
    int shown = 0;
    for (int round = 0; round < 8; round++) {
        const char *best = NULL;
        long best_growth = 0;
        for (const char *v = zhash_first(end); v; v = zhash_next(end)) {
            const char *name = zhash_cursor(end);
            const char *was = zhash_lookup(start, name);
            long growth = atol(v) - (was ? atol(was) : 0);
            if (growth > best_growth) {
                best = name;
                best_growth = growth;
            }
        }
        if (!best)
            break;
        const char *slash = strrchr(best, '/');
        printf("%s %s +%ld", shown++ ? "," : "", slash ? slash + 1 : best, best_growth);
        zhash_update(end, best, "0"); // counted: not again
    }
    printf("%s\n", shown ? "" : " nothing");
}

//  CPU time (user + system) of pid, with that of its reaped children when asked, in s.
static double s_cpu_s(pid_t pid, bool reaped_children) {
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
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld", &utime, &stime,
               &cutime, &cstime);
    double ticks = utime + stime + (reaped_children ? cutime + cstime : 0);
    return ticks / sysconf(_SC_CLK_TCK);
}

//  The parent of pid, or 0.
static pid_t s_parent(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    int parent = 0;
    if (!p || sscanf(p + 2, "%*c %d", &parent) != 1)
        return 0;
    return parent;
}

//  A child of this process whose command line holds word (the sinks), or 0.
static pid_t s_child_running(const char *word) {
    DIR *proc = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;
    while (proc && !found && (e = readdir(proc))) {
        pid_t pid = atoi(e->d_name);
        if (pid <= 0 || s_parent(pid) != getpid())
            continue;
        char path[64], cmdline[2048];
        snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(cmdline, 1, sizeof cmdline - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i++)
            cmdline[i] = cmdline[i] ? cmdline[i] : ' ';
        cmdline[n] = 0;
        if (strstr(cmdline, word))
            found = pid;
    }
    if (proc)
        closedir(proc);
    return found;
}

//  CPU time of the private cluster's postmaster and its backends (ended ones too), in s.
static double s_postgres_cpu_s(void) {
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
    double total = s_cpu_s(postmaster, true);
    DIR *proc = opendir("/proc");
    struct dirent *e;
    while (proc && (e = readdir(proc))) {
        pid_t pid = atoi(e->d_name);
        if (pid > 0 && s_parent(pid) == postmaster)
            total += s_cpu_s(pid, false);
    }
    if (proc)
        closedir(proc);
    return total;
}

//  The CPU the suite's processes use over a phase.
typedef struct {
    pid_t notify, gateway, sink;
    double notify_s, gateway_s, postgres_s, sink_s, self_s;
    int64_t wall_ms;
} s_cpu_t;

static double s_self_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void s_cpu_start(s_cpu_t *c, const char *sink) {
    c->notify = harness_daemon_pid("notify");
    c->gateway = harness_daemon_pid("gateway");
    c->sink = s_child_running(sink);
    c->notify_s = s_cpu_s(c->notify, false);
    c->gateway_s = s_cpu_s(c->gateway, false);
    c->postgres_s = s_postgres_cpu_s();
    c->sink_s = s_cpu_s(c->sink, false);
    c->self_s = s_self_cpu_s();
    c->wall_ms = s_now_ms();
}

static void s_cpu_print(const s_cpu_t *c, const char *what, const char *sink) {
    double wall = (s_now_ms() - c->wall_ms) / 1000.0;
    printf("   cpu (%s) over %.1f s: crm-notify %.1f s, crm-gateway %.1f s, postgres %.1f s, %s "
           "%.1f s,"
           " bench %.1f s (2 cores: %.1f s at most)\n",
           what, wall, s_cpu_s(c->notify, false) - c->notify_s,
           s_cpu_s(c->gateway, false) - c->gateway_s, s_postgres_cpu_s() - c->postgres_s, sink,
           s_cpu_s(c->sink, false) - c->sink_s, s_self_cpu_s() - c->self_s, 2 * wall);
}

// --- an HTTP client with a kept connection ---------------------------------------------------

typedef struct {
    CURL *curl;
    struct curl_slist *headers;
    char *reply; // the last answer's body
    size_t size;
} s_client_t;

static size_t s_on_body(char *data, size_t size, size_t n, void *arg) {
    s_client_t *c = arg;
    c->reply = realloc(c->reply, c->size + size * n + 1);
    memcpy(c->reply + c->size, data, size * n);
    c->size += size * n;
    c->reply[c->size] = 0;
    return size * n;
}

static void s_client_init(s_client_t *c) {
    memset(c, 0, sizeof *c);
    c->curl = curl_easy_init();
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", h->key_a);
    c->headers = curl_slist_append(NULL, auth);
    c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
    c->headers = curl_slist_append(c->headers, "Expect:");
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
}

static void s_client_reset(s_client_t *c) {
    curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    free(c->reply);
    memset(c, 0, sizeof *c);
}

//  One request with a JSON body to the gateway (POST, PATCH); the status (0: no answer),
//  the answer's body in c->reply.
static long s_call(s_client_t *c, const char *method, const char *path, const char *body) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", h->http_url, path);
    c->size = 0;
    if (c->reply)
        c->reply[0] = 0;
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    long status = 0;
    if (curl_easy_perform(c->curl) == CURLE_OK)
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

// --- contacts --------------------------------------------------------------------------------

typedef struct {
    char id[40];
    char phone[20];
    char email[64];
} s_contact_t;

//  A fictional US number for contact i (up to 2,000): 555-01xx in twenty area codes.
static void s_phone(int i, char *out, size_t size) {
    static const int areas[] = {201, 202, 203, 205, 206, 207, 208, 209, 210, 212,
                                213, 214, 215, 216, 217, 218, 219, 224, 225, 228};
    snprintf(out, size, "+1%d55501%02d", areas[(i / 100) % 20], i % 100);
}

//  n contacts from number first on, SMS-opted-in phone and consented email, created
//  through the API; 0 once notify knows every one of them, else -1.
static int s_contacts(s_contact_t *out, int first, int n) {
    s_client_t c;
    s_client_init(&c);
    for (int i = 0; i < n; i++) {
        s_contact_t *k = &out[i];
        s_phone(first + i, k->phone, sizeof k->phone);
        snprintf(k->email, sizeof k->email, "bench.%d@example.com", first + i);
        char body[512];
        snprintf(body, sizeof body,
                 "{\"kind\":\"person\",\"firstName\":\"Bench%d\",\"lastName\":\"Buyer\","
                 "\"phones\":[{\"number\":\"%s\",\"type\":\"mobile\",\"sms\":true}],"
                 "\"emails\":[{\"address\":\"%s\",\"consent\":true}]}",
                 first + i, k->phone, k->email);
        long status = s_call(&c, "POST", "/v1/contacts", body);
        json_t *reply = json_loads(c.reply ? c.reply : "", 0, NULL);
        const char *id = json_string_value(json_object_get(reply, "id"));
        if (status != 201 || !id) {
            fprintf(stderr, "bench: could not create a contact: %ld %s\n", status, c.reply);
            json_decref(reply);
            s_client_reset(&c);
            return -1;
        }
        snprintf(k->id, sizeof k->id, "%s", id);
        json_decref(reply);
    }
    s_client_reset(&c);
    //  notify's copy of them (the contacts events) comes a moment later.
    for (int i = 0; i < 600; i++) {
        if (harness_sql_scalar("SELECT count(*) FROM notify.recipients"
                               " WHERE first_name LIKE 'Bench%'") >= first + n)
            return 0;
        zclock_sleep(50);
    }
    fprintf(stderr, "bench: notify did not learn of the contacts in 30 s\n");
    return -1;
}

// --- queueing messages -----------------------------------------------------------------------

typedef struct {
    const s_contact_t *contacts;
    int n_contacts;
    const char *channel;
    const char *marker;
    int first, step, n; // this client's messages: first, first + step, ... below n
    int errors;
} s_queue_t;

static void *s_queue_run(void *arg) {
    s_queue_t *q = arg;
    s_client_t c;
    s_client_init(&c);
    bool sms = strcmp(q->channel, "sms") == 0;
    for (int i = q->first; i < q->n; i += q->step) {
        const s_contact_t *k = &q->contacts[i % q->n_contacts];
        char body[1024];
        if (sms)
            snprintf(body, sizeof body,
                     "{\"contactId\":\"%s\",\"channel\":\"sms\",\"bodyText\":\"Hi "
                     "{{contact.firstName}}, your service appointment is confirmed. Ref %s-%06d. "
                     "{{dealership.name}}\"}",
                     k->id, q->marker, i);
        else
            snprintf(body, sizeof body,
                     "{\"contactId\":\"%s\",\"channel\":\"email\",\"subject\":\"Your appointment "
                     "%s-%06d\",\"bodyText\":\"Hi {{contact.firstName}}, your service appointment "
                     "is confirmed. Details: https://dealer.example/appointments\","
                     "\"bodyHtml\":\"<html><body><p>Hi {{contact.firstName}}, your service "
                     "appointment is confirmed.</p><p><a "
                     "href=\\\"https://dealer.example/appointments\\\">Details</a></p>"
                     "</body></html>\"}",
                     k->id, q->marker, i);
        if (s_call(&c, "POST", "/v1/messages", body) != 201) {
            if (q->errors++ < 3)
                fprintf(stderr, "bench: queueing failed: %s\n", c.reply);
        }
    }
    s_client_reset(&c);
    return NULL;
}

//  n messages of channel queued by CLIENTS clients; their rate (messages/s), -1 on errors.
static double s_queue(const s_contact_t *contacts, int n_contacts, const char *channel,
                      const char *marker, int n) {
    pthread_t threads[CLIENTS];
    s_queue_t jobs[CLIENTS];
    int64_t t0 = zclock_usecs();
    for (int i = 0; i < CLIENTS; i++) {
        jobs[i] = (s_queue_t){.contacts = contacts,
                              .n_contacts = n_contacts,
                              .channel = channel,
                              .marker = marker,
                              .first = i,
                              .step = CLIENTS,
                              .n = n};
        pthread_create(&threads[i], NULL, s_queue_run, &jobs[i]);
    }
    int errors = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(threads[i], NULL);
        errors += jobs[i].errors;
    }
    double seconds = (zclock_usecs() - t0) / 1e6;
    if (errors) {
        fprintf(stderr, "bench: %d of %d messages could not be queued\n", errors, n);
        return -1;
    }
    return n / seconds;
}

//  New messages are held (due a day later) while the trigger is there; released, every
//  held message falls due now, all at once.
static int s_hold(void) {
    return harness_sql_exec(
               "CREATE OR REPLACE FUNCTION public.bench_hold() RETURNS trigger LANGUAGE plpgsql"
               " AS $$ BEGIN NEW.due_at := NEW.due_at + interval '1 day'; RETURN NEW; END $$") ||
                   harness_sql_exec("CREATE TRIGGER bench_hold BEFORE INSERT ON notify.messages"
                                    " FOR EACH ROW EXECUTE FUNCTION public.bench_hold()")
               ? -1
               : 0;
}

static int s_release(void) {
    return harness_sql_exec("DROP TRIGGER bench_hold ON notify.messages") ||
                   harness_sql_exec(
                       "UPDATE notify.messages SET due_at = now()"
                       " WHERE status = 'queued' AND due_at > now() + interval '1 hour'")
               ? -1
               : 0;
}

// --- the sinks' records --------------------------------------------------------------------

typedef struct {
    json_t *record;
    int64_t received_ms;
} s_received_t;

//  The JSON lines of file from line skip on whose text holds marker (NULL: all), with
//  their received_at; *n set. *lines: how many lines the file has.
static s_received_t *s_jsonl(const char *file, size_t skip, const char *marker, size_t *n,
                             size_t *lines) {
    FILE *f = fopen(file, "r");
    s_received_t *out = NULL;
    size_t cap = 0;
    *n = 0;
    *lines = 0;
    char *line = NULL;
    size_t size = 0;
    while (f && getline(&line, &size, f) > 0) {
        if ((*lines)++ < skip || (marker && !strstr(line, marker)))
            continue;
        json_t *record = json_loads(line, 0, NULL);
        if (!record)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            out = realloc(out, cap * sizeof *out);
        }
        out[*n].record = record;
        out[(*n)++].received_ms =
            s_iso_ms(json_string_value(json_object_get(record, "received_at")));
    }
    free(line);
    if (f)
        fclose(f);
    return out;
}

static void s_received_free(s_received_t *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        json_decref(r[i].record);
    free(r);
}

//  Lines in file.
static size_t s_lines(const char *file) {
    FILE *f = fopen(file, "r");
    size_t n = 0;
    for (int c; f && (c = getc(f)) != EOF;)
        n += c == '\n';
    if (f)
        fclose(f);
    return n;
}

//  Lines of file from skip on holding marker (NULL: any), without parsing them: this
//  runs while the senders work, and should take little of the machine.
static size_t s_count(const char *file, size_t skip, const char *marker) {
    FILE *f = fopen(file, "r");
    size_t n = 0, lines = 0;
    char *line = NULL;
    size_t size = 0;
    while (f && getline(&line, &size, f) > 0)
        n += lines++ >= skip && (!marker || strstr(line, marker));
    free(line);
    if (f)
        fclose(f);
    return n;
}

//  Wait until file holds want lines from skip on with marker; false after timeout_ms.
static bool s_wait_lines(const char *file, size_t skip, const char *marker, size_t want,
                         int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    while (s_count(file, skip, marker) < want) {
        if (zclock_mono() > until)
            return false;
        zclock_sleep(200);
    }
    return true;
}

//  Messages per second from the first to the last received_at of r.
static double s_rate(const s_received_t *r, size_t n) {
    if (n < 2)
        return 0;
    int64_t first = r[0].received_ms, last = r[0].received_ms;
    for (size_t i = 1; i < n; i++) {
        first = r[i].received_ms < first ? r[i].received_ms : first;
        last = r[i].received_ms > last ? r[i].received_ms : last;
    }
    return last > first ? (n - 1) * 1000.0 / (last - first) : 0;
}

static const char *s_verdict(bool met) {
    return met ? "target met" : "below target";
}

// --- 1. SMS throughput -----------------------------------------------------------------------

//  POST each record's form again, in order, over one connection; 0 or -1.
static int s_curl_sms(const s_received_t *r, size_t n) {
    CURL *c = curl_easy_init();
    char url[256];
    snprintf(url, sizeof url, "%s/2010-04-01/Accounts/%s/Messages.json", h->sms_url,
             h->sms_account_sid);
    struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, h->sms_account_sid);
    curl_easy_setopt(c, CURLOPT_PASSWORD, h->sms_auth_token);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    s_client_t sink = {0};
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    int errors = 0;
    for (size_t i = 0; i < n; i++) {
        const char *names[] = {"To", "From", "Body", "StatusCallback"};
        const char *keys[] = {"to", "from", "body", "status_callback"};
        char *form = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&form, &size);
        for (size_t k = 0; k < 4; k++) {
            const char *value = json_string_value(json_object_get(r[i].record, keys[k]));
            if (!value)
                continue;
            char *escaped = curl_easy_escape(c, value, 0);
            fprintf(out, "%s%s=%s", k ? "&" : "", names[k], escaped);
            curl_free(escaped);
        }
        fclose(out);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)size);
        sink.size = 0;
        long status = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        errors += status != 201;
        free(form);
    }
    free(sink.reply);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return errors ? -1 : 0;
}

// --- 2. email throughput -------------------------------------------------------------------

typedef struct {
    const char *data;
    size_t size, at;
} s_upload_t;

static size_t s_on_read(char *buffer, size_t size, size_t n, void *arg) {
    s_upload_t *u = arg;
    size_t len = size * n < u->size - u->at ? size * n : u->size - u->at;
    memcpy(buffer, u->data + u->at, len);
    u->at += len;
    return len;
}

//  A whole file, NUL-terminated, its size in *size; NULL when unreadable.
static char *s_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc(len + 1);
    *size = fread(text, 1, len, f);
    text[*size] = 0;
    fclose(f);
    return text;
}

//  Send each of the sink's records' messages again, in order, over one connection with
//  STARTTLS and AUTH; 0 or -1.
static int s_curl_mail(const s_received_t *r, size_t n) {
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, h->smtp_url);
    curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    curl_easy_setopt(c, CURLOPT_USERNAME, h->smtp_user);
    curl_easy_setopt(c, CURLOPT_PASSWORD, h->smtp_password);
    curl_easy_setopt(c, CURLOPT_CAINFO, h->smtp_ca_file);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, s_on_read);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    int errors = 0;
    for (size_t i = 0; i < n; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/%s", h->smtp_dir,
                 json_string_value(json_object_get(r[i].record, "file")));
        s_upload_t upload = {0};
        char *raw = s_read_file(path, &upload.size);
        upload.data = raw;
        struct curl_slist *rcpt = NULL;
        size_t k;
        json_t *to;
        json_array_foreach(json_object_get(r[i].record, "rcpt_tos"), k, to) rcpt =
            curl_slist_append(rcpt, json_string_value(to));
        curl_easy_setopt(c, CURLOPT_MAIL_FROM,
                         json_string_value(json_object_get(r[i].record, "mail_from")));
        curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
        curl_easy_setopt(c, CURLOPT_READDATA, &upload);
        curl_easy_setopt(c, CURLOPT_INFILESIZE, (long)upload.size);
        CURLcode rc = raw ? curl_easy_perform(c) : CURLE_READ_ERROR;
        if (rc != CURLE_OK && errors++ < 3)
            fprintf(stderr, "bench: smtp: %s\n", curl_easy_strerror(rc));
        curl_slist_free_all(rcpt);
        free(raw);
    }
    curl_easy_cleanup(c);
    return errors ? -1 : 0;
}

//  One channel's throughput run: what differs between SMS and email.
typedef struct {
    const char *title;                            // "SMS", "email"
    const char *channel;                          // the messages' channel
    const char *marker;                           // in each body, to find them in the sink
    const char *file;                             // the sink's list, in its directory
    const char *process;                          // the sink's program, for its CPU
    const char *sink;                             // the sink, in words
    const char *baseline;                         // the baseline, in words
    double target;                                // messages per second the issue asks for
    int (*curl)(const s_received_t *r, size_t n); // the baseline: the same, by libcurl
} s_run_t;

//  Queue n messages (held), let them all fall due, time the sink receiving them; then the
//  same requests by libcurl over one connection, in the same run.
static void s_throughput(const s_run_t *run, const char *dir, const s_contact_t *contacts,
                         int n_contacts, int n) {
    printf("\n== %s throughput: %d queued, then due at once (notify.%s_per_second 100000)\n",
           run->title, n, run->channel);
    char file[400];
    snprintf(file, sizeof file, "%s/%s", dir, run->file);
    if (s_hold()) {
        s_failed++;
        return;
    }
    double queued = s_queue(contacts, n_contacts, run->channel, run->marker, n);
    if (s_release() || queued < 0) {
        s_failed++;
        return;
    }
    printf("   queued through the API at %.0f/s (%d clients)\n", queued, CLIENTS);
    fflush(stdout);
    size_t skip = s_lines(file);
    s_cpu_t cpu;
    s_cpu_start(&cpu, run->process);
    if (!s_wait_lines(file, skip, run->marker, (size_t)n, 300000)) {
        printf("   the %s did not get them all in 300 s: %zu of %d\n", run->sink,
               s_count(file, skip, run->marker), n);
        s_failed++;
        return;
    }
    s_cpu_print(&cpu, "notify", run->sink);
    size_t got = 0, lines = 0;
    s_received_t *sent = s_jsonl(file, skip, run->marker, &got, &lines);
    double rate = s_rate(sent, got);

    //  The baseline: the same requests, one after another, over one connection.
    s_cpu_start(&cpu, run->process);
    int rc = run->curl(sent, got);
    size_t baseline_n = 0, baseline_lines = 0;
    s_received_t *again = s_jsonl(file, lines, run->marker, &baseline_n, &baseline_lines);
    s_cpu_print(&cpu, "libcurl", run->sink);
    double baseline = s_rate(again, baseline_n);
    if (rc || baseline_n != got || baseline <= 0 || rate <= 0) {
        printf("   could not measure (baseline %zu of %zu sent)\n", baseline_n, got);
        s_failed++;
    } else
        printf("   %s throughput %8.0f msg/s   baseline (%s) %8.0f msg/s   ratio %.2f"
               "   target >= %.0f/s and >= 0.80: %s\n",
               run->channel, rate, run->baseline, baseline, rate / baseline, run->target,
               s_verdict(rate >= run->target && rate / baseline >= 0.8));
    s_received_free(sent, got);
    s_received_free(again, baseline_n);
    fflush(stdout);
}

// --- 3. speed to lead ------------------------------------------------------------------------

static int s_compare_ms(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

//  p50 and p99 of n delays (sorted here), in seconds.
static void s_percentiles(int64_t *ms, size_t n, double *p50, double *p99) {
    qsort(ms, n, sizeof *ms, s_compare_ms);
    *p50 = n ? ms[n / 2] / 1000.0 : 0;
    *p99 = n ? ms[(size_t)(n * 0.99) < n ? (size_t)(n * 0.99) : n - 1] / 1000.0 : 0;
}

//  For each contact (n, at 50/s): POST path with its body (leads when lead, else a
//  salesperson's SMS), and the time of the 201; then the delay to the stub's accepting
//  the SMS to its phone after skip. 0, or -1 when not every one arrived.
static int s_latencies(const s_contact_t *contacts, int n, bool lead, const char *marker,
                       int64_t *delays, double *rate) {
    char file[400];
    snprintf(file, sizeof file, "%s/messages.jsonl", h->sms_dir);
    size_t skip = s_lines(file);
    int64_t *created = calloc(n, sizeof *created);
    s_client_t c;
    s_client_init(&c);
    int64_t start = zclock_mono();
    for (int i = 0; i < n; i++) {
        int64_t at = start + i * 20; // 50/s
        int64_t wait = at - zclock_mono();
        if (wait > 0)
            zclock_sleep((int)wait);
        char body[512];
        if (lead)
            snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"source\":\"chat\"}",
                     contacts[i].id);
        else
            snprintf(body, sizeof body,
                     "{\"contactId\":\"%s\",\"channel\":\"sms\",\"bodyText\":\"Hi "
                     "{{contact.firstName}}, thanks for your visit. %s\"}",
                     contacts[i].id, marker);
        long status = s_call(&c, "POST", lead ? "/v1/leads" : "/v1/messages", body);
        created[i] = s_now_ms();
        if (status != 201) {
            fprintf(stderr, "bench: %s: %ld %s\n", lead ? "lead" : "message", status, c.reply);
            s_client_reset(&c);
            free(created);
            return -1;
        }
    }
    *rate = n / ((zclock_mono() - start) / 1000.0);
    s_client_reset(&c);
    const char *filter = lead ? NULL : marker;
    int64_t until = zclock_mono() + 60000;
    size_t got = 0, lines = 0;
    s_received_t *r = NULL;
    int found = 0;
    while (zclock_mono() < until) {
        s_received_free(r, got);
        r = s_jsonl(file, skip, filter, &got, &lines);
        found = 0;
        for (int i = 0; i < n; i++) {
            delays[i] = -1;
            for (size_t k = 0; k < got && delays[i] < 0; k++)
                if (strcmp(json_string_value(json_object_get(r[k].record, "to")),
                           contacts[i].phone) == 0)
                    delays[i] = r[k].received_ms - created[i];
            found += delays[i] >= 0;
        }
        if (found == n)
            break;
        zclock_sleep(250);
    }
    s_received_free(r, got);
    free(created);
    if (found < n)
        fprintf(stderr, "bench: %d of %d SMS reached the stub in 60 s\n", found, n);
    return found == n ? 0 : -1;
}

static void s_speed_to_lead(const s_contact_t *leads, const s_contact_t *manual, int n) {
    printf("\n== speed to lead: %d chat leads at 50/s, each its own contact (SMS opted in)\n", n);
    char zone[32], body[160];
    harness_zone_at(12, zone, sizeof zone);
    snprintf(body, sizeof body,
             "{\"timeZone\":\"%s\",\"speedToLead\":[{\"source\":\"chat\",\"enabled\":true}]}",
             zone);
    harness_response_t r = harness_http("PATCH", "/v1/notification-settings", h->key_a, body, NULL);
    long status = r.status;
    harness_response_free(&r);
    int64_t *delays = calloc(n, sizeof *delays), *baseline = calloc(n, sizeof *baseline);
    double rate = 0, baseline_rate = 0;
    if (status != 200 || s_latencies(leads, n, true, NULL, delays, &rate) ||
        s_latencies(manual, n, false, "STLBASE", baseline, &baseline_rate)) {
        printf("   could not measure\n");
        s_failed++;
    } else {
        double p50, p99, b50, b99;
        s_percentiles(delays, n, &p50, &p99);
        s_percentiles(baseline, n, &b50, &b99);
        printf("   leads created at %.0f/s; the baseline's messages at %.0f/s\n", rate,
               baseline_rate);
        printf("   speed to lead       p50 %.3f s  p99 %.3f s   baseline (a salesperson's SMS,"
               " 201 to the stub) p50 %.3f s  p99 %.3f s   ratio (p99) %.2f   target p99 <= 2 s:"
               " %s\n",
               p50, p99, b50, b99, b99 > 0 ? p99 / b99 : 0, s_verdict(p99 <= 2.0));
    }
    free(delays);
    free(baseline);
    fflush(stdout);
}

// --- 4. consent change honoured --------------------------------------------------------------

typedef struct {
    char contact_id[40];
    int64_t arrived_ms;
} s_rules_event_t;

typedef struct {
    s_rules_event_t *items;
    size_t n, cap;
    pthread_mutex_t lock;
} s_rules_events_t;

static void s_receiver(zsock_t *pipe, void *arg) {
    s_rules_events_t *out = arg;
    zsock_t *sub = harness_subscriber("contacts.tenant-a.ContactCommunicationRulesChanged");
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
            int64_t now = s_now_ms();
            zframe_t *body = msg ? zmsg_last(msg) : NULL;
            Crm__Event *event =
                body ? crm__event__unpack(NULL, zframe_size(body), zframe_data(body)) : NULL;
            if (event && strcmp(event->type, "ContactCommunicationRulesChanged") == 0) {
                pthread_mutex_lock(&out->lock);
                if (out->n == out->cap) {
                    out->cap = out->cap ? 2 * out->cap : 256;
                    out->items = realloc(out->items, out->cap * sizeof *out->items);
                }
                snprintf(out->items[out->n].contact_id, sizeof out->items[out->n].contact_id, "%s",
                         event->aggregate_id);
                out->items[out->n++].arrived_ms = now;
                pthread_mutex_unlock(&out->lock);
            }
            if (event)
                crm__event__free_unpacked(event, NULL);
            zmsg_destroy(&msg);
        } else if (zpoller_terminated(poller))
            stop = true;
    }
    zpoller_destroy(&poller);
    zsock_destroy(&sub);
}

static void s_consent(const s_contact_t *contacts, int n) {
    printf("\n== consent change honoured: %d contacts with queued SMS get doNotContact.sms\n", n);
    s_rules_events_t events = {0};
    pthread_mutex_init(&events.lock, NULL);
    zactor_t *receiver = zactor_new(s_receiver, &events);
    zclock_sleep(1500); // the subscription reaches the relays through the proxy
    int64_t *honoured = calloc(n, sizeof *honoured), *patched = calloc(n, sizeof *patched);
    int64_t *baseline = calloc(n, sizeof *baseline);
    s_client_t c;
    s_client_init(&c);
    int failures = 0;
    for (int i = 0; i < n && !failures; i++) {
        char body[512], path[160];
        snprintf(body, sizeof body,
                 "{\"contactId\":\"%s\",\"channel\":\"sms\",\"bodyText\":\"Your car is ready.\"}",
                 contacts[i].id);
        for (int k = 0; k < 2; k++)
            failures += s_call(&c, "POST", "/v1/messages", body) != 201;
        snprintf(path, sizeof path, "/v1/contacts/%s/communication", contacts[i].id);
        failures += s_call(&c, "PATCH", path, "{\"doNotContact\":{\"sms\":true}}") != 200;
        patched[i] = s_now_ms();
        int64_t until = zclock_mono() + 10000;
        for (;;) {
            long status = s_call(&c, "POST", "/v1/messages", body);
            if (status == 422 && strstr(c.reply, "do_not_contact")) {
                honoured[i] = s_now_ms() - patched[i];
                break;
            }
            if ((status != 201 && status != 422) || zclock_mono() > until) {
                fprintf(stderr, "bench: consent not honoured: %ld %s\n", status, c.reply);
                failures++;
                break;
            }
            zclock_sleep(5);
        }
    }
    s_client_reset(&c);
    zclock_sleep(1000);
    zactor_destroy(&receiver);
    int seen = 0;
    for (int i = 0; i < n; i++) {
        bool found = false;
        for (size_t k = 0; k < events.n && !found; k++)
            if (strcmp(events.items[k].contact_id, contacts[i].id) == 0) {
                baseline[i] = events.items[k].arrived_ms - patched[i];
                found = true;
            }
        seen += found;
    }
    if (failures || seen < n) {
        printf("   could not measure (%d failures, %d of %d events seen)\n", failures, seen, n);
        s_failed++;
    } else {
        double p50, p99, b50, b99;
        s_percentiles(honoured, n, &p50, &p99);
        s_percentiles(baseline, n, &b50, &b99);
        printf("   consent honoured    p50 %.3f s  p99 %.3f s   baseline (PATCH 200 to the event on"
               " the stream) p50 %.3f s  p99 %.3f s   ratio (p99) %.2f   target p99 <= 1 s: %s\n",
               p50, p99, b50, b99, b99 > 0 ? p99 / b99 : 0, s_verdict(p99 <= 1.0));
    }
    free(events.items);
    pthread_mutex_destroy(&events.lock);
    free(honoured);
    free(patched);
    free(baseline);
    fflush(stdout);
}

// --- main --------------------------------------------------------------------------------------

static int s_env(const char *name, int fallback) {
    return getenv(name) ? atoi(getenv(name)) : fallback;
}

int main(void) {
    int n_sms = s_env("BENCH_SMS", 5000), n_email = s_env("BENCH_EMAIL", 2000);
    int n_leads = s_env("BENCH_LEADS", 500), n_consent = s_env("BENCH_CONSENT", 100);
    int n_contacts = 100;
    if (n_contacts + 2 * n_leads + n_consent > 2000) // each its own number: 2,000 in all
        n_leads = (2000 - n_contacts - n_consent) / 2;
    setenv("PG_FSYNC", "on", 0); // PG_FSYNC=off: to see what fsync costs
    const char *env[] = {"CRM_NOTIFY_SMS_PER_SECOND=100000", "CRM_NOTIFY_EMAIL_PER_SECOND=100000",
                         "CRM_NOTIFY_DAILY_CAP=0",
                         getenv("CRM_LOG_LEVEL") ? "CRM_BENCH=1" : "CRM_LOG_LEVEL=warn", NULL};
    h = harness_start(env);
    zclock_sleep(2000);
    pid_t notify = harness_daemon_pid("notify");
    long rss_start = harness_status_kib(notify, "VmRSS"), anon_start = harness_status_kib(notify, "RssAnon");
    zhash_t *rss_by_mapping_start = s_rss_by_mapping(notify);
    printf("crm-notify: notify.senders %s per channel, notify.send_batch 50, fsync %s\n",
           getenv("CRM_NOTIFY_SENDERS") ? getenv("CRM_NOTIFY_SENDERS") : "2 (default)",
           getenv("PG_FSYNC"));

    s_contact_t *contacts = calloc(n_contacts + 2 * n_leads + n_consent, sizeof *contacts);
    s_contact_t *leads = contacts + n_contacts, *manual = leads + n_leads,
                *consent = manual + n_leads;
    if (s_contacts(contacts, 0, n_contacts + 2 * n_leads + n_consent)) {
        harness_stop();
        return 1;
    }
    //  A phase whose count is 0 is left out.
    if (n_sms > 0)
        s_throughput(&(s_run_t){"SMS", "sms", "SMSTP", "messages.jsonl", "sms_stub.py", "sms stub",
                                "libcurl, 1 connection", 500, s_curl_sms},
                     h->sms_dir, contacts, n_contacts, n_sms);
    if (n_email > 0)
        s_throughput(&(s_run_t){"email", "email", "MAILTP", "index.jsonl", "smtp_sink.py",
                                "smtp sink", "libcurl SMTP, 1 connection, STARTTLS+AUTH", 200,
                                s_curl_mail},
                     h->smtp_dir, contacts, n_contacts, n_email);
    if (n_leads > 0)
        s_speed_to_lead(leads, manual, n_leads);
    if (n_consent > 0)
        s_consent(consent, n_consent);

    printf("\n== idle resident memory of crm-notify\n");
    zclock_sleep(5000);
    long rss = harness_status_kib(notify, "VmRSS"), anon = harness_status_kib(notify, "RssAnon");
    if (rss <= 0 || rss_start <= 0 || harness_daemon_pid("notify") != notify) {
        printf("   could not measure (crm-notify restarted or gone)\n");
        s_failed++;
    } else {
        printf("   idle rss            %.1f MiB   baseline (idle at start) %.1f MiB   ratio %.2f"
               "   target < 20 MiB: %s\n",
               rss / 1024.0, rss_start / 1024.0, (double)rss / rss_start,
               s_verdict(rss < 20 * 1024));
        //  VmRSS counts the pages of shared libraries it touched (shared with the other
        //  daemons); RssAnon is its own memory.
        printf("   of which its own (RssAnon) %.1f MiB, at start %.1f MiB; the rest is shared"
               " libraries' pages\n",
               anon / 1024.0, anon_start / 1024.0);
    }
    zhash_t *rss_by_mapping_end = s_rss_by_mapping(notify);
    s_print_growth(rss_by_mapping_start, rss_by_mapping_end);
    zhash_destroy(&rss_by_mapping_start);
    zhash_destroy(&rss_by_mapping_end);
    free(contacts);
    harness_stop();
    return s_failed ? 1 : 0;
}
