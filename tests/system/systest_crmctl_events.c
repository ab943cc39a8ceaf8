/*  System tests of `crmctl events tail` and `crmctl reporting rebuild`: crmctl runs as a
    subprocess against the whole suite, as an operator would run it, and its output is
    checked: one JSON line per event, seq contiguous, the contacts created over HTTP.

    To force the lost-event paths, one test points crmctl's subscription at a PUB socket
    of its own instead of the gateway's XPUB: it decides what crmctl sees live (a head
    announcement, an event beyond the next, a duplicate) while the replays still go to
    the real contacts service. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus_client.h"
#include "common.pb-c.h"
#include "events.pb-c.h"

static harness_t *h;

//  --- crmctl as a subprocess -------------------------------------------------------------

typedef struct {
    pid_t pid;
    int out_fd, err_fd;
    zchunk_t *out, *err; // what it wrote so far
    int status;          // wait status once it exited, else -1
} s_crmctl_t;

#define S_CHILDREN_MAX 8
static s_crmctl_t *s_children[S_CHILDREN_MAX]; // killed in teardown if a test failed

//  Start program (NULL: crmctl) with args (NULL-terminated) talking to the harness's
//  suite, or to subscribe_endpoint when not NULL.
static s_crmctl_t *s_program_start(const char *program, const char *subscribe_endpoint,
                                   const char *const *args) {
    int out[2], err[2];
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        unsetenv("CRM_CONFIG");
        setenv("CRM_BROKER_ENDPOINT", h->broker, 1);
        setenv("CRM_EVENTS_SUBSCRIBE_ENDPOINT",
               subscribe_endpoint ? subscribe_endpoint : h->events_sub, 1);
        setenv("CRM_EVENTS_PUBLISH_ENDPOINT", h->events_pub, 1);
        setenv("CRM_DATABASE_DSN", h->dsn, 1);
        const char *bin = getenv("CRM_BIN_DIR") ? getenv("CRM_BIN_DIR") : "build/bin";
        char path[512];
        if (program)
            snprintf(path, sizeof path, "%s", program);
        else
            snprintf(path, sizeof path, "%s/crmctl", bin);
        const char *argv[32] = {path};
        for (int i = 0; args[i] && i < 30; i++)
            argv[i + 1] = args[i];
        execv(path, (char **)argv);
        perror(path);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    s_crmctl_t *self = calloc(1, sizeof *self);
    self->pid = pid;
    self->out_fd = out[0];
    self->err_fd = err[0];
    self->out = zchunk_new(NULL, 4096);
    self->err = zchunk_new(NULL, 1024);
    self->status = -1;
    fcntl(self->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(self->err_fd, F_SETFL, O_NONBLOCK);
    for (int i = 0; i < S_CHILDREN_MAX; i++)
        if (!s_children[i]) {
            s_children[i] = self;
            break;
        }
    return self;
}

static s_crmctl_t *s_crmctl_start(const char *subscribe_endpoint, const char *const *args) {
    return s_program_start(NULL, subscribe_endpoint, args);
}

//  Read what the child wrote, waiting up to wait_ms for something. false at EOF on both.
static bool s_crmctl_read(s_crmctl_t *self, int wait_ms) {
    struct pollfd fds[2] = {{self->out_fd, POLLIN, 0}, {self->err_fd, POLLIN, 0}};
    int open = (self->out_fd >= 0) + (self->err_fd >= 0);
    if (open == 0)
        return false;
    if (poll(fds, 2, wait_ms) <= 0)
        return true;
    int *fd_of[2] = {&self->out_fd, &self->err_fd};
    zchunk_t *chunk_of[2] = {self->out, self->err};
    for (int i = 0; i < 2; i++) {
        if (*fd_of[i] < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
            continue;
        char buffer[8192];
        ssize_t n = read(*fd_of[i], buffer, sizeof buffer);
        if (n > 0)
            zchunk_extend(chunk_of[i], buffer, (size_t)n);
        else if (n == 0) {
            close(*fd_of[i]);
            *fd_of[i] = -1;
        }
    }
    return true;
}

//  Lines written on stdout so far.
static size_t s_crmctl_lines(s_crmctl_t *self) {
    size_t n = 0;
    const byte *data = zchunk_data(self->out);
    for (size_t i = 0; i < zchunk_size(self->out); i++)
        n += data[i] == '\n';
    return n;
}

//  Wait until the child printed n lines (true) or timeout_ms passed or it closed stdout.
static bool s_crmctl_wait_lines(s_crmctl_t *self, size_t n, int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    while (s_crmctl_lines(self) < n && zclock_mono() < until)
        if (!s_crmctl_read(self, 50) || self->out_fd < 0)
            break;
    return s_crmctl_lines(self) >= n;
}

//  Wait for the child to exit (SIGKILL after timeout_ms); its exit code, or -1.
static int s_crmctl_wait(s_crmctl_t *self, int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    while (self->status == -1) {
        s_crmctl_read(self, 20);
        int status;
        if (waitpid(self->pid, &status, WNOHANG) == self->pid)
            self->status = status;
        else if (zclock_mono() > until) {
            kill(self->pid, SIGKILL);
            waitpid(self->pid, &status, 0);
            self->status = status;
            fprintf(stderr, "crmctl did not exit in time; stderr:\n%.*s\n",
                    (int)zchunk_size(self->err), (char *)zchunk_data(self->err));
            return -1;
        }
    }
    while (s_crmctl_read(self, 0) && (self->out_fd >= 0 || self->err_fd >= 0))
        ;
    return WIFEXITED(self->status) ? WEXITSTATUS(self->status) : -1;
}

//  The child's stdout lines as parsed JSON (a new array; caller decrefs). A line that
//  is not a JSON object fails the test.
static json_t *s_crmctl_json(s_crmctl_t *self) {
    json_t *lines = json_array();
    zchunk_extend(self->out, "", 1);
    char *text = strdup((char *)zchunk_data(self->out));
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t error;
        json_t *value = json_loads(line, 0, &error);
        if (!json_is_object(value))
            fail_msg("crmctl printed a line that is not a JSON object: %s", line);
        json_array_append_new(lines, value);
    }
    free(text);
    return lines;
}

static const char *s_crmctl_stderr(s_crmctl_t *self) {
    zchunk_extend(self->err, "", 1);
    return (const char *)zchunk_data(self->err);
}

static void s_crmctl_destroy(s_crmctl_t **self_p) {
    s_crmctl_t *self = *self_p;
    if (!self)
        return;
    if (self->status == -1) {
        kill(self->pid, SIGKILL);
        waitpid(self->pid, NULL, 0);
    }
    if (self->out_fd >= 0)
        close(self->out_fd);
    if (self->err_fd >= 0)
        close(self->err_fd);
    zchunk_destroy(&self->out);
    zchunk_destroy(&self->err);
    for (int i = 0; i < S_CHILDREN_MAX; i++)
        if (s_children[i] == self)
            s_children[i] = NULL;
    free(self);
    *self_p = NULL;
}

//  --- The suite ---------------------------------------------------------------------------

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    for (int i = 0; i < S_CHILDREN_MAX; i++)
        s_crmctl_destroy(&s_children[i]);
    harness_stop();
    return 0;
}

//  Create a contact in tenant A named first; its id into id (37 bytes).
static void s_create(const char *first, char *id) {
    static int n;
    char body[512];
    snprintf(body, sizeof body,
             "{\"kind\":\"person\",\"firstName\":\"%s\",\"lastName\":\"Tail\","
             "\"emails\":[{\"address\":\"tail%d.%lld@example.com\"}]}",
             first, ++n, (long long)zclock_time());
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    assert_int_equal(r.status, 201);
    snprintf(id, 37, "%s", harness_json_str(&r, "id"));
    assert_int_equal(strlen(id), 36);
    harness_response_free(&r);
}

//  One Events.Replay page of contacts from from_seq (caller frees).
static Crm__Events__ReplayResponse *s_replay(uint64_t from_seq) {
    crm_bus_client_t *client = crm_bus_client_new(h->broker);
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = "Events.Replay";
    header.tenant_id = "*";
    header.role = "system";
    Crm__Events__ReplayRequest req = CRM__EVENTS__REPLAY_REQUEST__INIT;
    req.from_seq = from_seq;
    zmsg_t *body = crm_bus_request_new(&header, &req.base);
    zmsg_t *reply = crm_bus_client_request(client, "contacts", &body, 10000);
    assert_non_null(reply);
    ProtobufCMessage *page = NULL;
    Crm__ReplyHeader *rh =
        crm_bus_reply_parse(&reply, &crm__events__replay_response__descriptor, &page);
    assert_non_null(rh);
    assert_non_null(page);
    crm__reply_header__free_unpacked(rh, NULL);
    crm_bus_client_destroy(&client);
    return (Crm__Events__ReplayResponse *)page;
}

//  The seq of the latest contacts event about the contact id, once the relay has
//  numbered it (it does so a little after the write's commit).
static uint64_t s_seq_of(const char *id) {
    int64_t until = zclock_mono() + 10000;
    while (zclock_mono() < until) {
        uint64_t found = 0, from = 1;
        bool more = true;
        while (more) {
            Crm__Events__ReplayResponse *page = s_replay(from);
            for (size_t i = 0; i < page->n_events; i++)
                if (strcmp(page->events[i]->aggregate_id, id) == 0)
                    found = page->events[i]->seq;
            more = page->n_events > 0 && page->events[page->n_events - 1]->seq < page->head_seq;
            if (more)
                from = page->events[page->n_events - 1]->seq + 1;
            crm__events__replay_response__free_unpacked(page, NULL);
        }
        if (found)
            return found;
        usleep(20 * 1000);
    }
    fail_msg("no contacts event about %s was numbered within 10 s", id);
    return 0;
}

//  Check that line is the contacts event seq of type about the contact id.
static void s_check_event(json_t *line, uint64_t seq, const char *type, const char *id) {
    char seq_text[24];
    snprintf(seq_text, sizeof seq_text, "%" PRIu64, seq);
    assert_string_equal(json_string_value(json_object_get(line, "source")), "contacts");
    assert_string_equal(json_string_value(json_object_get(line, "seq")), seq_text);
    assert_string_equal(json_string_value(json_object_get(line, "type")), type);
    assert_string_equal(json_string_value(json_object_get(line, "tenantId")), "tenant-a");
    assert_string_equal(json_string_value(json_object_get(line, "aggregateId")), id);
    assert_int_equal(strlen(json_string_value(json_object_get(line, "eventId"))), 36);
    assert_true(strlen(json_string_value(json_object_get(line, "occurredAt"))) >= 20);
    json_t *payload = json_object_get(line, "payload");
    assert_true(json_is_object(payload));
    if (strcmp(type, "ContactCreated") == 0) {
        json_t *contact = json_object_get(payload, "contact");
        assert_string_equal(json_string_value(json_object_get(contact, "id")), id);
        assert_string_equal(json_string_value(json_object_get(contact, "lastName")), "Tail");
        //  crmctl writes enums as the API does; Python's protobuf, by their full name.
        const char *kind = json_string_value(json_object_get(contact, "kind"));
        assert_true(kind &&
                    (strcmp(kind, "person") == 0 || strcmp(kind, "CONTACT_KIND_PERSON") == 0));
    } else
        assert_string_equal(json_string_value(json_object_get(payload, "contactId")), id);
}

//  Check that lines are exactly n contacts events of type with seq first, first + 1,
//  ... about ids, in order.
static void s_check_events(json_t *lines, uint64_t first, const char *type, char ids[][37],
                           size_t n) {
    assert_int_equal(json_array_size(lines), n);
    for (size_t i = 0; i < n; i++)
        s_check_event(json_array_get(lines, i), first + i, type, ids[i]);
}

//  History then live: three contacts exist, crmctl replays them from their seq, then
//  prints three more created while it runs, and exits after the sixth (--count).
static void test_history_then_live(void **state) {
    (void)state;
    char ids[6][37];
    for (int i = 0; i < 3; i++)
        s_create("Before", ids[i]);
    uint64_t first = s_seq_of(ids[0]);
    char from[24];
    snprintf(from, sizeof from, "%" PRIu64, first);
    s_crmctl_t *tail =
        s_crmctl_start(NULL, (const char *[]){"events", "tail", "--topic", "contacts", "--from",
                                              from, "--count", "6", NULL});
    assert_true(s_crmctl_wait_lines(tail, 3, 15000));
    for (int i = 3; i < 6; i++)
        s_create("Live", ids[i]);
    assert_int_equal(s_crmctl_wait(tail, 15000), 0);
    json_t *lines = s_crmctl_json(tail);
    s_check_events(lines, first, "ContactCreated", ids, 6);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(json_array_get(lines, 4), "payload"), "contact"),
            "firstName")),
        "Live");
    json_decref(lines);
    s_crmctl_destroy(&tail);
}

//  A live tail with a topic prints only that type; "_head" announcements never show.
static void test_live_topic_filter(void **state) {
    (void)state;
    s_crmctl_t *tail =
        s_crmctl_start(NULL, (const char *[]){"events", "tail", "--topic",
                                              "contacts.tenant-a.ContactDeleted", "--count", "2",
                                              NULL});
    //  A plain subscription is live only from when it reaches the gateway: keep making
    //  events until two were seen. Deleted ids are kept in order.
    char deleted[40][37];
    size_t n_deleted = 0;
    int64_t until = zclock_mono() + 20000;
    while (s_crmctl_lines(tail) < 2 && zclock_mono() < until && n_deleted < 40) {
        s_create("Gone", deleted[n_deleted]);
        char path[128];
        snprintf(path, sizeof path, "/v1/contacts/%.36s", deleted[n_deleted]);
        harness_response_t r = harness_http("DELETE", path, h->key_a, NULL, NULL);
        assert_int_equal(r.status, 204);
        harness_response_free(&r);
        n_deleted++;
        s_crmctl_read(tail, 200);
    }
    assert_int_equal(s_crmctl_wait(tail, 10000), 0);
    json_t *lines = s_crmctl_json(tail);
    assert_int_equal(json_array_size(lines), 2);
    //  Two consecutive deletes of ours, in order; their seqs are two apart (the create
    //  between them is filtered out).
    json_t *line0 = json_array_get(lines, 0);
    const char *id0 = json_string_value(json_object_get(line0, "aggregateId"));
    size_t at = n_deleted;
    for (size_t i = 0; id0 && i < n_deleted; i++)
        if (strcmp(deleted[i], id0) == 0)
            at = i;
    assert_true(at + 1 < n_deleted);
    uint64_t seq0 = strtoull(json_string_value(json_object_get(line0, "seq")), NULL, 10);
    s_check_event(line0, seq0, "ContactDeleted", deleted[at]);
    s_check_event(json_array_get(lines, 1), seq0 + 2, "ContactDeleted", deleted[at + 1]);
    json_decref(lines);
    s_crmctl_destroy(&tail);
}

//  Publish, on pub, an event of contacts with this seq (a made-up one: crmctl must not
//  print it, since a replay from the source is the truth), or a head announcement.
static void s_publish_event(zsock_t *pub, uint64_t seq, const char *aggregate_id) {
    Crm__Event event = CRM__EVENT__INIT;
    event.event_id = "00000000-0000-7000-8000-000000000000";
    event.source = "contacts";
    event.seq = seq;
    event.type = "ContactDeleted";
    event.tenant_id = "tenant-a";
    event.aggregate_id = (char *)aggregate_id;
    zframe_t *frame = zframe_new(NULL, crm__event__get_packed_size(&event));
    crm__event__pack(&event, zframe_data(frame));
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "contacts.tenant-a.ContactDeleted");
    zmsg_append(msg, &frame);
    zmsg_send(&msg, pub);
}

static void s_publish_head(zsock_t *pub, uint64_t head_seq) {
    Crm__Events__Head head = CRM__EVENTS__HEAD__INIT;
    head.source = "contacts";
    head.head_seq = head_seq;
    zframe_t *frame = zframe_new(NULL, crm__events__head__get_packed_size(&head));
    crm__events__head__pack(&head, zframe_data(frame));
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "contacts._head");
    zmsg_append(msg, &frame);
    zmsg_send(&msg, pub);
}

//  Events lost on the way are replayed: a head announcement ahead of the last printed,
//  then an event beyond the next one, each make crmctl fetch what it missed from the
//  source, in order, once; a duplicate of a printed seq is dropped.
static void test_lost_events_replayed(void **state) {
    (void)state;
    //  Standing in for the gateway's event endpoint, with its key.
    zsock_t *pub = zsock_new(ZMQ_PUB);
    assert_non_null(pub);
    harness_curve_server(pub);
    assert_true(zsock_bind(pub, "tcp://127.0.0.1:*") >= 0);
    char endpoint[64];
    char *bound = zsock_last_endpoint(pub); // the caller's to free
    snprintf(endpoint, sizeof endpoint, "%s", bound);
    zstr_free(&bound);

    char ids[4][37];
    s_create("Seen", ids[0]);
    uint64_t first = s_seq_of(ids[0]);
    char from[24];
    snprintf(from, sizeof from, "%" PRIu64, first);
    s_crmctl_t *tail =
        s_crmctl_start(endpoint, (const char *[]){"events", "tail", "--topic", "contacts.",
                                                  "--from", from, "--count", "4", NULL});
    assert_true(s_crmctl_wait_lines(tail, 1, 15000)); // from the replay

    //  Created while crmctl hears nothing of the gateway: only our announcements.
    s_create("Missed", ids[1]);
    s_create("Missed", ids[2]);
    int64_t until = zclock_mono() + 15000;
    while (s_crmctl_lines(tail) < 3 && zclock_mono() < until) {
        s_publish_event(pub, first, "duplicate"); // printed already: dropped
        s_publish_head(pub, first + 2);
        s_crmctl_read(tail, 100);
    }
    assert_int_equal(s_crmctl_lines(tail), 3);

    //  The next contact's event "arrives" only as a later seq: a gap.
    s_create("Late", ids[3]);
    until = zclock_mono() + 15000;
    while (s_crmctl_lines(tail) < 4 && tail->out_fd >= 0 && zclock_mono() < until) {
        s_publish_event(pub, first + 4, "made-up");
        s_crmctl_read(tail, 100);
    }
    assert_int_equal(s_crmctl_wait(tail, 10000), 0);
    json_t *lines = s_crmctl_json(tail);
    s_check_events(lines, first, "ContactCreated", ids, 4);
    json_decref(lines);
    s_crmctl_destroy(&tail);
    zsock_destroy(&pub);
}

//  Bad command lines are refused with the usage; --help lists the commands.
static void test_usage(void **state) {
    (void)state;
    s_crmctl_t *run = s_crmctl_start(NULL, (const char *[]){"--help", NULL});
    assert_int_equal(s_crmctl_wait(run, 10000), 0);
    zchunk_extend(run->out, "", 1);
    assert_non_null(strstr((char *)zchunk_data(run->out), "events tail [--topic PREFIX]"));
    assert_non_null(strstr((char *)zchunk_data(run->out), "reporting rebuild"));
    s_crmctl_destroy(&run);

    const char *const *bad[] = {
        (const char *[]){"events", "tail", "--from", "1", NULL}, // no source
        (const char *[]){"events", "tail", "--topic", "contacts.ContactCreated", "--from", "1",
                         NULL}, // not a source
        (const char *[]){"events", "tail", "--topic", "contacts", "--from", "0", NULL},
        (const char *[]){"events", "tail", "--count", "x", NULL},
        (const char *[]){"reporting", "rebuild", "--timeout", "0", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run = s_crmctl_start(NULL, bad[i]);
        assert_int_equal(s_crmctl_wait(run, 10000), 2);
        assert_non_null(strstr(s_crmctl_stderr(run), "usage: crmctl"));
        s_crmctl_destroy(&run);
    }
    //  A source with no service behind it is named, not waited for.
    run = s_crmctl_start(
        NULL, (const char *[]){"events", "tail", "--topic", "nosuch", "--from", "1", NULL});
    assert_int_equal(s_crmctl_wait(run, 10000), 1);
    assert_non_null(strstr(s_crmctl_stderr(run), "no nosuch service is registered"));
    s_crmctl_destroy(&run);
}

//  The last stdout line of a finished crmctl as JSON (caller decrefs), NULL if it is
//  not JSON.
static json_t *s_last_json(s_crmctl_t *run) {
    zchunk_extend(run->out, "", 1);
    char *text = strdup((char *)zchunk_data(run->out));
    size_t len = strlen(text);
    while (len && text[len - 1] == '\n')
        text[--len] = 0;
    char *last = strrchr(text, '\n');
    json_t *value = json_loads(last ? last + 1 : text, 0, NULL);
    free(text);
    return value;
}

//  Run `crmctl reporting rebuild ARGS` to its end; its exit code, stdout in run.
static s_crmctl_t *s_rebuild(const char *mode, int *rc) {
    s_crmctl_t *run = s_crmctl_start(
        NULL,
        mode ? (const char *[]){"reporting", "rebuild", "--mode", mode, "--timeout", "120", NULL}
             : (const char *[]){"reporting", "rebuild", "--timeout", "120", NULL});
    *rc = s_crmctl_wait(run, 130000);
    return run;
}

//  reporting rebuild: accepted (202), then waited for until the projection is rebuilt
//  and has applied every contacts event published before it finished; reporting status
//  then tells the same.
static void test_reporting_rebuild(void **state) {
    (void)state;
    char id[37];
    s_create("Counted", id);
    uint64_t head = s_seq_of(id);
    int rc;
    s_crmctl_t *run = s_rebuild(NULL, &rc);
    assert_int_equal(rc, 0);
    json_t *status = s_last_json(run); // the last line: the final status
    assert_non_null(
        strstr((char *)zchunk_data(run->out), "reporting rebuild: 202 accepted (mode replay"));
    assert_non_null(status);
    assert_string_equal(json_string_value(json_object_get(status, "phase")), "done");
    assert_string_equal(json_string_value(json_object_get(status, "mode")), "replay");
    assert_true(strtoull(json_string_value(json_object_get(status, "appliedSeq")), NULL, 10) >=
                head);
    json_decref(status);
    s_crmctl_destroy(&run);

    run = s_crmctl_start(NULL, (const char *[]){"reporting", "status", NULL});
    assert_int_equal(s_crmctl_wait(run, 15000), 0);
    status = s_last_json(run);
    assert_non_null(status);
    assert_string_equal(json_string_value(json_object_get(status, "phase")), "done");
    json_decref(status);
    s_crmctl_destroy(&run);

    run =
        s_crmctl_start(NULL, (const char *[]){"reporting", "rebuild", "--mode", "sideways", NULL});
    assert_int_equal(s_crmctl_wait(run, 10000), 2);
    s_crmctl_destroy(&run);
}

//  The Python example (examples/python) prints what crmctl prints: the same events, seq
//  and envelope, history then live. Skipped without python3-zmq, python3-protobuf and
//  protoc.
static void test_python_example(void **state) {
    (void)state;
    if (system("command -v protoc >/dev/null && /usr/bin/python3 -c 'import zmq,"
               " google.protobuf' 2>/dev/null") != 0) {
        fprintf(stderr, "  (no protoc, python3-zmq or python3-protobuf: skipped)\n");
        skip();
    }
    const char *top = getenv("CRM_TOP_DIR") ? getenv("CRM_TOP_DIR") : ".";
    char cmd[1024], pb2_dir[300], script[512];
    snprintf(pb2_dir, sizeof pb2_dir, "%s/python", h->dir);
    snprintf(cmd, sizeof cmd, "%s/examples/python/gen.sh %s 2>/dev/null", top, pb2_dir);
    assert_int_equal(system(cmd), 0);
    snprintf(script, sizeof script, "%s/examples/python/crm_events.py", top);

    char ids[3][37];
    s_create("Py", ids[0]);
    s_create("Py", ids[1]);
    uint64_t first = s_seq_of(ids[0]);
    char from[24];
    snprintf(from, sizeof from, "%" PRIu64, first);
    //  An outside client: a key pair of its own, the platform operator's (every tenant).
    char key[700];
    harness_create_cert("python-example", "subscriber:*", true, key, sizeof key);
    const char *argv[] = {"--topic", "contacts", "--from", from, "--count", "3", "--pb2-dir",
                          pb2_dir, "--key", key, NULL};
    if (h->insecure)
        argv[8] = NULL; // plain text: no key
    s_crmctl_t *run = s_program_start(script, NULL, argv);
    if (!s_crmctl_wait_lines(run, 2, 20000))
        fail_msg("the example printed too little; stderr: %s", s_crmctl_stderr(run));
    s_create("Py", ids[2]); // live
    assert_int_equal(s_crmctl_wait(run, 20000), 0);
    json_t *lines = s_crmctl_json(run);
    s_check_events(lines, first, "ContactCreated", ids, 3);
    json_decref(lines);
    s_crmctl_destroy(&run);
}

//  Events past the retention: a replay from before the oldest kept is refused (410)
//  and crmctl says which seq is the oldest kept. Runs last: it expires history.
static void test_expired(void **state) {
    (void)state;
    char id[37];
    s_create("Old", id);
    s_create("Kept", id);
    uint64_t head = s_seq_of(id);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE contacts.outbox_state SET purged_through = %" PRIu64, head - 1);
    assert_int_equal(harness_sql_exec(sql), 0);

    s_crmctl_t *run = s_crmctl_start(
        NULL, (const char *[]){"events", "tail", "--topic", "contacts", "--from", "1", NULL});
    assert_int_equal(s_crmctl_wait(run, 15000), 1);
    char oldest[64];
    snprintf(oldest, sizeof oldest, "the oldest kept is %" PRIu64, head);
    assert_non_null(strstr(s_crmctl_stderr(run), "no longer kept"));
    assert_non_null(strstr(s_crmctl_stderr(run), oldest));
    assert_int_equal(zchunk_size(run->out), 0);
    s_crmctl_destroy(&run);

    //  From the oldest kept on, it works.
    char from[24];
    snprintf(from, sizeof from, "%" PRIu64, head);
    run = s_crmctl_start(NULL, (const char *[]){"events", "tail", "--topic", "contacts", "--from",
                                                from, "--count", "1", NULL});
    assert_int_equal(s_crmctl_wait(run, 15000), 0);
    json_t *lines = s_crmctl_json(run);
    char ids[1][37];
    snprintf(ids[0], sizeof ids[0], "%s", id);
    s_check_events(lines, head, "ContactCreated", ids, 1);
    json_decref(lines);
    s_crmctl_destroy(&run);

    //  The reporting projection can no longer be replayed from seq 1: refused when
    //  asked for, a snapshot when left to choose.
    int rc;
    run = s_rebuild("replay", &rc);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(s_crmctl_stderr(run), "409 events_expired"));
    s_crmctl_destroy(&run);
    run = s_rebuild(NULL, &rc);
    assert_int_equal(rc, 0);
    json_t *status = s_last_json(run);
    assert_non_null(status);
    assert_string_equal(json_string_value(json_object_get(status, "phase")), "done");
    assert_string_equal(json_string_value(json_object_get(status, "mode")), "snapshot");
    json_decref(status);
    s_crmctl_destroy(&run);
}

int main(void) {
    // clang-format off
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_then_live),
        cmocka_unit_test(test_live_topic_filter),
        cmocka_unit_test(test_lost_events_replayed),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_reporting_rebuild),
        cmocka_unit_test(test_python_example),
        cmocka_unit_test(test_expired), // last: it deletes history
    };
    // clang-format on
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
