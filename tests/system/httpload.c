/*  httpload: a lean HTTP load generator for the benchmarks. See httpload.h. */
#include "httpload.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const harness_t *h;
static int s_seconds;
static const char *s_path = "/v1/contacts"; // what is POSTed where (httpload_posts)
static const char *s_body;                   // NULL: a contact with a unique email
static atomic_long s_seq;                    // creates sent by every run of this process
static double s_rate;                        // requests/s over all clients; 0: no pacing
static int s_clients;
static int64_t s_start_us;                   // the run's start (zclock_usecs)

typedef struct {
    int id;
    int64_t until;
    double *lat;  // milliseconds
    size_t n, cap;
    int errors;
} s_client_t;

//  Open a keep-alive connection to the gateway (TCP_NODELAY, as HTTP clients do).
static int s_connect(void) {
    int port = atoi(strrchr(h->http_url, ':') + 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

//  One client connection of the load generator: it sends a create, waits for the
//  answer, and sends the next, until the run's time is up.
typedef struct {
    s_client_t *stats;
    int fd;
    long n;          // creates sent
    int64_t start;   // when the one in flight was sent (us)
    char buf[8192];  // the answer so far
    size_t have;
    bool done;
    bool waiting;    // paced: answered, the next not yet due
} s_conn_t;

//  Paced: when conn's next request is due (us), the clients' requests interleaved
//  evenly over the run; 0 when not paced.
static int64_t s_due(const s_conn_t *conn) {
    if (s_rate <= 0)
        return 0;
    double slot = (double)conn->stats->id + (double)conn->n * s_clients;
    return s_start_us + (int64_t)(slot * 1e6 / s_rate);
}

//  Send the next create on conn. Returns -1 when the connection failed.
static int s_conn_send(s_conn_t *conn) {
    char body[512], request[1024];
    //  A different person each time (name, email and phone), so that the duplicate
    //  check before a create finds none, as for most creates.
    static const char *const firsts[] = {"Ann", "Ben", "Cleo", "Dev", "Eva", "Finn", "Gus", "Hana"};
    long seq = atomic_fetch_add(&s_seq, 1);
    char last[8];
    for (long i = 0, v = seq; i < 6; i++, v /= 26)
        last[i] = (char)((i ? 'a' : 'A') + v % 26);
    last[6] = 0;
    int len = s_body ? snprintf(body, sizeof body, "%s", s_body)
                     : snprintf(body, sizeof body,
                       "{\"kind\":\"person\",\"firstName\":\"%s\",\"lastName\":\"%s\","
                       "\"emails\":[{\"address\":\"c%d.%ld.%lld@example.com\"}],"
                       "\"phones\":[{\"number\":\"+1202%07ld\",\"type\":\"mobile\"}]}",
                       firsts[seq % 8], last, conn->stats->id, conn->n,
                       (long long)zclock_usecs(), 2000000 + seq % 8000000);
    conn->n++;
    int size = snprintf(request, sizeof request,
                        "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\n\r\n%s",
                        s_path, h->key_a, len, body);
    conn->have = 0;
    conn->start = zclock_usecs();
    for (int sent = 0; sent < size;) {
        ssize_t n = send(conn->fd, request + sent, size - sent, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        sent += n;
    }
    return 0;
}

//  Read what arrived on conn. Returns 1 when a whole answer is in (its status in
//  *status), 0 when more is to come, -1 when the connection failed.
static int s_conn_read(s_conn_t *conn, int *status) {
    ssize_t n = recv(conn->fd, conn->buf + conn->have, sizeof conn->buf - 1 - conn->have, 0);
    if (n <= 0)
        return -1;
    conn->have += n;
    conn->buf[conn->have] = 0;
    char *end = strstr(conn->buf, "\r\n\r\n");
    if (!end)
        return conn->have == sizeof conn->buf - 1 ? -1 : 0;
    const char *length = strcasestr(conn->buf, "\r\nContent-Length:");
    size_t body = length ? strtoul(length + 17, NULL, 10) : 0;
    if (conn->have - (size_t)(end + 4 - conn->buf) < body)
        return 0;
    *status = atoi(conn->buf + 9);
    return 1;
}

static void s_record(s_client_t *c, double ms) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4096;
        c->lat = realloc(c->lat, c->cap * sizeof *c->lat);
    }
    c->lat[c->n++] = ms;
}

//  One load-generator thread driving several connections with poll(), as pgbench's
//  threads do (-j): a lean client, so the machine's CPU goes to what is measured.
typedef struct {
    s_client_t *clients;
    int count;
} s_thread_t;

static void *s_thread(void *arg) {
    s_thread_t *t = arg;
    s_conn_t *conns = calloc(t->count, sizeof *conns);
    struct pollfd *fds = calloc(t->count, sizeof *fds);
    int live = 0;
    for (int i = 0; i < t->count; i++) {
        conns[i].stats = &t->clients[i];
        conns[i].fd = s_connect();
        fds[i] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        if (conns[i].fd < 0) {
            conns[i].done = true;
            t->clients[i].errors++;
        } else {
            conns[i].waiting = true;
            live++;
        }
    }
    int64_t until = t->clients[0].until;
    while (live > 0) {
        //  Send what is due; poll until the next is due, or an answer comes.
        int64_t now = zclock_usecs(), next = now + 1000000;
        for (int i = 0; i < t->count; i++) {
            s_conn_t *conn = &conns[i];
            if (conn->done || !conn->waiting)
                continue;
            int64_t due = s_due(conn);
            if (due > now) {
                next = due < next ? due : next;
                continue;
            }
            conn->waiting = false;
            if (zclock_mono() >= until || s_conn_send(conn)) {
                conn->done = true;
                fds[i].fd = -1;
                live--;
            }
        }
        if (live == 0)
            break;
        int timeout = (int)((next - now + 999) / 1000);
        if (poll(fds, t->count, timeout) < 0)
            break;
        for (int i = 0; i < t->count; i++) {
            s_conn_t *conn = &conns[i];
            if (conn->done || !(fds[i].revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
            int status = 0;
            int rc = s_conn_read(conn, &status);
            if (rc == 0)
                continue;
            if (rc == 1 && status == 201)
                s_record(conn->stats, (zclock_usecs() - conn->start) / 1000.0);
            else
                conn->stats->errors++;
            if (rc < 0 || zclock_mono() >= until) {
                conn->done = true;
                fds[i].fd = -1;
                live--;
            } else
                conn->waiting = true; // sent when due (at once when not paced)
        }
    }
    for (int i = 0; i < t->count; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    free(conns);
    free(fds);
    return NULL;
}

static int s_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static httpload_result_t s_run(int clients) {
    s_client_t *c = calloc(clients, sizeof *c);
    int threads = clients < 2 ? clients : 2;  // as pgbench -j below
    pthread_t *t = calloc(threads, sizeof *t);
    s_thread_t *work = calloc(threads, sizeof *work);
    int64_t start = zclock_mono();
    s_start_us = zclock_usecs();
    s_clients = clients;
    for (int i = 0; i < clients; i++) {
        c[i].id = i;
        c[i].until = start + s_seconds * 1000LL;
    }
    for (int i = 0, first = 0; i < threads; i++) {
        work[i].clients = c + first;
        work[i].count = clients / threads + (i < clients % threads);
        first += work[i].count;
        pthread_create(&t[i], NULL, s_thread, &work[i]);
    }
    size_t total = 0;
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < clients; i++)
        total += c[i].n;
    double elapsed = (zclock_mono() - start) / 1000.0;
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    httpload_result_t r = {0};
    for (int i = 0; i < clients; i++) {
        memcpy(all + k, c[i].lat, c[i].n * sizeof *all);
        k += c[i].n;
        r.errors += c[i].errors;
        free(c[i].lat);
    }
    qsort(all, total, sizeof *all, s_cmp);
    r.requests = (long)total;
    r.rate = total / elapsed;
    r.p50 = total ? all[total / 2] : 0;
    r.p99 = total ? all[(size_t)(total * 0.99)] : 0;
    free(all);
    free(c);
    free(t);
    free(work);
    return r;
}

httpload_result_t httpload_creates(const harness_t *harness, int clients, int seconds) {
    h = harness;
    s_seconds = seconds;
    s_path = "/v1/contacts";
    s_body = NULL;
    return s_run(clients);
}

httpload_result_t httpload_posts(const harness_t *harness, int clients, int seconds,
                                 const char *path, const char *body) {
    h = harness;
    s_seconds = seconds;
    s_path = path;
    s_body = body;
    httpload_result_t r = s_run(clients);
    s_path = "/v1/contacts";
    s_body = NULL;
    return r;
}

httpload_result_t httpload_posts_paced(const harness_t *harness, int clients, int seconds,
                                       const char *path, const char *body, double rate) {
    s_rate = rate;
    httpload_result_t r = httpload_posts(harness, clients, seconds, path, body);
    s_rate = 0;
    return r;
}
