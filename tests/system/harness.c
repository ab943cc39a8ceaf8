/*  harness: a private suite per system test. See harness.h. */
#include "harness.h"
#include "ids.h"
#include "config.h"
#include "curve.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static harness_t s_harness;
static bool s_started;
static PGconn *s_sql;                 // harness_sql_*'s connection
static pid_t s_smtp_sink, s_sms_stub; // the notification sinks, 0 when not running

//  What the daemons send from; the SMS stub's pool number, as Twilio's test From.
#define HARNESS_MAIL_FROM "Dealer CRM <crm@localhost>"
#define HARNESS_SMS_FROM "+15005550006"

static const char *s_top(void) {
    const char *top = getenv("CRM_TOP_DIR");
    return top ? top : ".";
}

static const char *s_bin(void) {
    const char *bin = getenv("CRM_BIN_DIR");
    return bin ? bin : "build/bin";
}

//  A port nobody listens on now (bind to 0, read it, close), and not one this run handed
//  out already: once closed, the kernel may hand the same port out again (seen: the
//  broker and the event publish endpoint on one port, the gateway unable to start).
static int s_free_port(void) {
    static int given[16];
    static size_t n_given;
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = {.sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof addr;
        if (bind(fd, (struct sockaddr *)&addr, sizeof addr) ||
            getsockname(fd, (void *)&addr, &len)) {
            perror("harness: bind");
            exit(2);
        }
        int port = ntohs(addr.sin_port);
        close(fd);
        bool seen = false;
        size_t kept = sizeof given / sizeof given[0];
        for (size_t i = 0; i < n_given && i < kept; i++)
            seen |= given[i] == port;
        if (seen)
            continue;
        given[n_given++ % kept] = port;
        return port;
    }
}

int harness_free_port(void) {
    return s_free_port();
}

//  Run a shell command; returns its first output line in out (if given) and exit status.
static int s_run(const char *cmd, char *out, size_t size) {
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[1024] = "";
    if (out) {
        out[0] = 0;
        if (fgets(line, sizeof line, p)) {
            line[strcspn(line, "\n")] = 0;
            snprintf(out, size, "%s", line);
        }
    }
    while (fgets(line, sizeof line, p))
        ;
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void s_on_signal(int sig) {
    harness_stop();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void s_create_key(const char *tenant, const char *role, char *out, size_t size) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "CRM_DATABASE_DSN='%s' %s/crmctl keys create --tenant %s --role %s 2>/dev/null",
             s_harness.dsn, s_bin(), tenant, role);
    if (s_run(cmd, out, size) != 0 || strlen(out) < 10) {
        fprintf(stderr, "harness: could not create a key: %s\n", cmd);
        harness_stop();
        exit(2);
    }
}

void harness_create_key(const char *tenant, const char *role, char *out, size_t size) {
    s_create_key(tenant, role, out, size);
}

static const char *const *s_extra_env;
static int s_http_port;

void harness_create_cert(const char *name, const char *roles, bool pii, char *out, size_t size) {
    char problem[256];
    if (crm_curve_cert_create(s_harness.certs_dir, name, roles, pii, true, problem,
                              sizeof problem)) {
        fprintf(stderr, "harness: could not make the key pair %s: %s\n", name, problem);
        harness_stop();
        exit(2);
    }
    char from[700], to[700];
    snprintf(from, sizeof from, "%s/%s.key", s_harness.certs_dir, name);
    snprintf(to, sizeof to, "%s/%s.key", s_harness.keys_dir, name);
    zcert_t *cert = zcert_load(from);
    if (!cert || zsys_dir_create("%s", s_harness.keys_dir) || zcert_save_public(cert, to)) {
        fprintf(stderr, "harness: could not register the key %s in %s\n", name,
                s_harness.keys_dir);
        harness_stop();
        exit(2);
    }
    zcert_destroy(&cert);
    if (out)
        snprintf(out, size, "%s/%s.key_secret", s_harness.certs_dir, name);
}

void harness_use_cert(const char *name, const char *roles) {
    char own[700], server[700];
    harness_create_cert(name, roles, true, own, sizeof own);
    snprintf(server, sizeof server, "%s/gateway.key", s_harness.certs_dir);
    if (!s_harness.insecure && crm_curve_use(own, server) != 0) {
        fprintf(stderr, "harness: could not load the key pair %s\n", name);
        harness_stop();
        exit(2);
    }
}

zsock_t *harness_subscriber(const char *prefix) {
    zsock_t *sub = zsock_new(ZMQ_SUB);
    assert(sub);
    crm_curve_client(sub);
    zsock_set_subscribe(sub, prefix);
    if (zsock_connect(sub, "%s", s_harness.events_sub) != 0) {
        zsock_destroy(&sub);
        return NULL;
    }
    return sub;
}

void harness_curve_server(zsock_t *socket) {
    if (s_harness.insecure)
        return;
    char path[700];
    snprintf(path, sizeof path, "%s/gateway.key_secret", s_harness.certs_dir);
    zcert_t *cert = zcert_load(path);
    assert(cert);
    zcert_apply(cert, socket);
    zsock_set_curve_server(socket, 1);
    zcert_destroy(&cert);
}

//  The suite's key pairs, as make run makes them (scripts/run.sh): one per daemon of
//  supervisor.services, crmctl's, and this program's, which it takes as its own.
static void s_make_certs(const char *const *extra_env) {
    harness_t *h = &s_harness;
    snprintf(h->certs_dir, sizeof h->certs_dir, "%.255s/certs", h->dir);
    snprintf(h->keys_dir, sizeof h->keys_dir, "%.255s/keys", h->dir);
    setenv("CRM_SECURITY_CERTS_DIR", h->certs_dir, 1);
    setenv("CRM_SECURITY_KEYS_DIR", h->keys_dir, 1);
    const char *insecure = getenv("CRM_SECURITY_INSECURE");
    h->insecure = insecure && strcmp(insecure, "true") == 0;
    for (const char *const *e = extra_env; e && *e; e++)
        if (strncmp(*e, "CRM_SECURITY_INSECURE=", 22) == 0)
            h->insecure = strcmp(*e + 22, "true") == 0;
    harness_create_cert("gateway", "gateway", true, NULL, 0);
    crm_config_t *cfg = crm_config_load(NULL, NULL);
    char *services = strdup(cfg ? cfg->supervisor_services : "");
    crm_config_destroy(&cfg);
    for (char *save = NULL, *name = strtok_r(services, " ", &save); name;
         name = strtok_r(NULL, " ", &save)) {
        char roles[64];
        snprintf(roles, sizeof roles, "worker:%s", name);
        if (strcmp(name, "gateway") != 0)
            harness_create_cert(name, roles, true, NULL, 0);
    }
    free(services);
    harness_create_cert("crmctl", "client,subscriber:*", true, NULL, 0);
    char own[700], server[700];
    harness_create_cert("systest", "client,subscriber:*", true, own, sizeof own);
    snprintf(server, sizeof server, "%s/gateway.key", h->certs_dir);
    if (!h->insecure && crm_curve_use(own, server) != 0) {
        fprintf(stderr, "harness: could not load this program's key pair\n");
        harness_stop();
        exit(2);
    }
}

//  Start crm-supervisor (and so the suite) against the private database; wait until
//  it is ready or give up the test program.
static void s_spawn_suite(void) {
    char log_path[300], cmd[512];
    snprintf(log_path, sizeof log_path, "%s/suite.log", s_harness.dir);
    pid_t pid = fork();
    if (pid == 0) {
        char port_text[16];
        snprintf(port_text, sizeof port_text, "%d", s_http_port);
        setenv("CRM_DATABASE_DSN", s_harness.dsn, 1);
        setenv("CRM_GATEWAY_HTTP_PORT", port_text, 1);
        if (!getenv("CRM_BROKER_ENDPOINT"))
            setenv("CRM_BROKER_ENDPOINT", s_harness.broker, 1);
        //  The daemons reach the broker as under make run, through a Unix socket; MDP
        //  clients in the tests use the tcp endpoint, which the gateway binds as well.
        if (!getenv("CRM_BROKER_LOCAL_ENDPOINT")) {
            char local[300];
            snprintf(local, sizeof local, "ipc://%s/broker.sock", s_harness.dir);
            setenv("CRM_BROKER_LOCAL_ENDPOINT", local, 1);
        }
        setenv("CRM_EVENTS_PUBLISH_ENDPOINT", s_harness.events_pub, 1);
        setenv("CRM_EVENTS_SUBSCRIBE_ENDPOINT", s_harness.events_sub, 1);
        setenv("CRM_EVENTS_PII_FREE_ENDPOINT", s_harness.events_pii_free, 1);
        setenv("CRM_SUPERVISOR_BIN_DIR", s_bin(), 1);
        setenv("CRM_SUPERVISOR_BACKOFF_MIN_MS", "100", 1);
        //  The notification sinks, as make run hands them to the daemons.
        setenv("CRM_NOTIFY_SMTP_URL", s_harness.smtp_url, 1);
        setenv("CRM_NOTIFY_SMTP_USER", s_harness.smtp_user, 1);
        setenv("CRM_NOTIFY_SMTP_PASSWORD", s_harness.smtp_password, 1);
        setenv("CRM_NOTIFY_SMTP_VERIFY_TLS", "true", 1);
        setenv("CRM_NOTIFY_SMTP_CA_FILE", s_harness.smtp_ca_file, 1);
        setenv("CRM_NOTIFY_MAIL_FROM", HARNESS_MAIL_FROM, 1);
        setenv("CRM_NOTIFY_SMS_BASE_URL", s_harness.sms_url, 1);
        setenv("CRM_NOTIFY_SMS_ACCOUNT_SID", s_harness.sms_account_sid, 1);
        setenv("CRM_NOTIFY_SMS_AUTH_TOKEN", s_harness.sms_auth_token, 1);
        setenv("CRM_NOTIFY_SMS_FROM", s_harness.sms_from, 1);
        setenv("CRM_NOTIFY_PUBLIC_URL", s_harness.http_url, 1);
        char data_dir[512];
        snprintf(data_dir, sizeof data_dir, "%s/services/notify/data", s_top());
        setenv("CRM_NOTIFY_DATA_DIR", data_dir, 1);
        snprintf(data_dir, sizeof data_dir, "%s/services/dedupe/data", s_top());
        setenv("CRM_DEDUPE_DATA_DIR", data_dir, 1);
        //  The duplicate check before a create is off unless a test turns it on
        //  (CRM_CONTACTS_DUPLICATE_CHECK=true in extra_env): most tests' fixtures are
        //  look-alikes (Ann Lee after Ann Lee on one phone) that the check would refuse.
        setenv("CRM_CONTACTS_DUPLICATE_CHECK", "false", 1);
        //  The keys' rate limits are off unless a test sets them (extra_env): the tests
        //  drive the API faster than a person would.
        static const char *const roles[] = {"ADMIN", "MANAGER", "SALES", "ANALYST", "INTEGRATION"};
        for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
            char name[64];
            snprintf(name, sizeof name, "CRM_GATEWAY_RATE_%s_PER_SECOND", roles[i]);
            setenv(name, "0", 1);
        }
        snprintf(data_dir, sizeof data_dir, "%s/config/scoring.yaml", s_top());
        setenv("CRM_SCORING_MODEL_FILE", data_dir, 1);
        unsetenv("CRM_CONFIG");
        for (const char *const *e = s_extra_env; e && *e; e++)
            putenv(strdup(*e));
        if (!getenv("CRM_HARNESS_VERBOSE")) {
            FILE *log = freopen(log_path, "a", stderr);
            (void)log;
        }
        char path[512];
        snprintf(path, sizeof path, "%s/crm-supervisor", s_bin());
        execl(path, path, (char *)NULL);
        perror("harness: exec crm-supervisor");
        _exit(127);
    }
    s_harness.supervisor = pid;
    if (!harness_wait_ready(60000)) { // seven daemons on a busy 2-core machine
        fprintf(stderr, "harness: the suite did not become ready; log: %s\n", log_path);
        snprintf(cmd, sizeof cmd, "tail -n 30 %s >&2", log_path);
        (void)!system(cmd);
        harness_stop();
        exit(2);
    }
}

//  SIGTERM the supervisor and wait up to timeout_ms; returns its wait status, or -1
//  after killing it when it did not stop in time.
static int s_stop_suite(int timeout_ms) {
    int status = -1;
    pid_t pid = s_harness.supervisor;
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    int64_t until = zclock_mono() + timeout_ms;
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (zclock_mono() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            status = -1;
            break;
        }
        usleep(20 * 1000);
    }
    s_harness.supervisor = 0;
    return status;
}

int harness_pg(const char *action) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/scripts/pg.sh %s %s/pg >/dev/null 2>&1", s_top(), action,
             s_harness.dir);
    return s_run(cmd, NULL, 0);
}

int harness_restart_suite(void) {
    int status = s_stop_suite(15000);
    s_spawn_suite();
    return status;
}

//  n random bytes as lower-case hex into out (at least 2n + 1 bytes).
static void s_random_hex(char *out, size_t n) {
    unsigned char bytes[32];
    if (n > sizeof bytes)
        n = sizeof bytes;
    randombytes_buf(bytes, n);
    sodium_bin2hex(out, 2 * n + 1, bytes, n);
}

//  Run a sink's shell command in the background with its output in the harness's
//  directory (log). The sink gets SIGTERM when the test program ends, however it ends:
//  a sink must never outlive its test.
static pid_t s_spawn_sink(const char *command, const char *log) {
    char log_path[400];
    snprintf(log_path, sizeof log_path, "%s/%s", s_harness.dir, log);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1); // the test program ended before prctl took effect
        int out = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (out < 0 || in < 0)
            _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    if (pid < 0) {
        perror("harness: fork");
        exit(2);
    }
    return pid;
}

//  Start both sinks on free ports (each writes its port to DIR/port once it listens),
//  without waiting for them: they come up while PostgreSQL starts. The SMTP sink gets a
//  fresh self-signed certificate for 127.0.0.1 first, in the same background shell.
static void s_start_sinks(void) {
    harness_t *h = &s_harness;
    snprintf(h->smtp_dir, sizeof h->smtp_dir, "%.255s/mail", h->dir);
    snprintf(h->sms_dir, sizeof h->sms_dir, "%.255s/sms", h->dir);
    snprintf(h->smtp_ca_file, sizeof h->smtp_ca_file, "%.255s/tls/cert.pem", h->dir);
    snprintf(h->smtp_user, sizeof h->smtp_user, "crm-test");
    s_random_hex(h->smtp_password, 16);
    memcpy(h->sms_account_sid, "AC", 2);
    s_random_hex(h->sms_account_sid + 2, 16);
    s_random_hex(h->sms_auth_token, 16);
    snprintf(h->sms_from, sizeof h->sms_from, HARNESS_SMS_FROM);

    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%.255s/tls' && openssl req -x509 -newkey ec -pkeyopt "
             "ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=localhost -addext "
             "'subjectAltName=DNS:localhost,IP:127.0.0.1' -keyout '%.255s/tls/key.pem' "
             "-out '%.299s' 2>'%.255s/tls/openssl.log' && exec '%s/tools/sinks/smtp_sink.py' "
             "--dir '%.299s' --port 0 --user '%.31s' --password '%.63s' --tls-cert '%.299s' "
             "--tls-key '%.255s/tls/key.pem'",
             h->dir, h->dir, h->smtp_ca_file, h->dir, s_top(), h->smtp_dir, h->smtp_user,
             h->smtp_password, h->smtp_ca_file, h->dir);
    s_smtp_sink = s_spawn_sink(cmd, "smtp-sink.log");
    //  Status steps and callback retries a little apart, so tests see them soon.
    snprintf(cmd, sizeof cmd,
             "exec '%s/tools/sinks/sms_stub.py' --dir '%.299s' --port 0 --account-sid '%.39s' "
             "--auth-token '%.39s' --sent-delay-ms 100 --delivered-delay-ms 300 "
             "--callback-backoff-ms 100",
             s_top(), h->sms_dir, h->sms_account_sid, h->sms_auth_token);
    s_sms_stub = s_spawn_sink(cmd, "sms-stub.log");
}

//  Wait until the sink started as *pid has written dir/port, then make url of it. On
//  failure (the sink ended, or timeout_ms passed) prints its log and gives up the test
//  program.
static void s_wait_sink(pid_t *pid, const char *name, const char *dir, const char *scheme,
                        char *url, size_t size, const char *log, int timeout_ms) {
    char path[400];
    snprintf(path, sizeof path, "%s/port", dir);
    int64_t until = zclock_mono() + timeout_ms;
    while (zclock_mono() < until) {
        FILE *f = fopen(path, "r");
        int port = 0;
        if (f) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port > 0) {
            snprintf(url, size, "%s://127.0.0.1:%d", scheme, port);
            return;
        }
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            *pid = 0;
            break;
        }
        usleep(20 * 1000);
    }
    fprintf(stderr, "harness: the %s did not start; log: %s/%s\n", name, s_harness.dir, log);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "tail -n 20 '%s/%s' >&2", s_harness.dir, log);
    (void)!system(cmd);
    harness_stop();
    exit(2);
}

//  SIGTERM both sinks together and reap them (SIGKILL after 5 s).
static void s_stop_sinks(void) {
    pid_t *sinks[] = {&s_smtp_sink, &s_sms_stub};
    for (size_t i = 0; i < 2; i++)
        if (*sinks[i] > 0)
            kill(*sinks[i], SIGTERM);
    int64_t until = zclock_mono() + 5000;
    for (size_t i = 0; i < 2; i++) {
        pid_t pid = *sinks[i];
        while (pid > 0 && waitpid(pid, NULL, WNOHANG) == 0) {
            if (zclock_mono() > until) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                break;
            }
            usleep(10 * 1000);
        }
        *sinks[i] = 0;
    }
}

harness_t *harness_start(const char *const *extra_env) {
    if (s_started)
        return &s_harness;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(s_harness.dir, sizeof s_harness.dir, "/tmp/crm-systest-XXXXXX");
    if (!mkdtemp(s_harness.dir)) {
        perror("harness: mkdtemp");
        exit(2);
    }
    //  PostgreSQL runs as the postgres user when we are root: let it in.
    chmod(s_harness.dir, 0755);
    s_started = true;
    atexit(harness_stop);
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    signal(SIGPIPE, SIG_IGN);
    //  The run's own secret for the API keys' hashes (gateway.key_secret), shared by
    //  crmctl (harness_create_key) and the gateway through the environment.
    if (!getenv("CRM_GATEWAY_KEY_SECRET")) {
        unsigned char secret[32];
        char hex[65];
        crm_random_bytes(secret, sizeof secret);
        for (size_t i = 0; i < sizeof secret; i++)
            snprintf(hex + 2 * i, 3, "%02x", secret[i]);
        setenv("CRM_GATEWAY_KEY_SECRET", hex, 1);
    }
    s_start_sinks();

    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/scripts/pg.sh start %s/pg >%s/pg-start.log 2>&1", s_top(),
             s_harness.dir, s_harness.dir);
    if (s_run(cmd, NULL, 0) != 0) {
        fprintf(stderr, "harness: could not start PostgreSQL (see %s/pg-start.log)\n",
                s_harness.dir);
        snprintf(cmd, sizeof cmd, "cat %s/pg-start.log >&2", s_harness.dir);
        (void)!system(cmd);
        harness_stop();
        exit(2);
    }
    snprintf(cmd, sizeof cmd, "%s/scripts/pg.sh dsn %s/pg", s_top(), s_harness.dir);
    s_run(cmd, s_harness.dsn, sizeof s_harness.dsn);

    int http_port = s_free_port();
    int broker_port = s_free_port();
    snprintf(s_harness.http_url, sizeof s_harness.http_url, "http://127.0.0.1:%d", http_port);
    snprintf(s_harness.broker, sizeof s_harness.broker, "tcp://127.0.0.1:%d", broker_port);
    snprintf(s_harness.events_pub, sizeof s_harness.events_pub, "tcp://127.0.0.1:%d",
             s_free_port());
    snprintf(s_harness.events_sub, sizeof s_harness.events_sub, "tcp://127.0.0.1:%d",
             s_free_port());
    snprintf(s_harness.events_pii_free, sizeof s_harness.events_pii_free,
             "tcp://127.0.0.1:%d", s_free_port());
    s_wait_sink(&s_smtp_sink, "SMTP sink", s_harness.smtp_dir, "smtp", s_harness.smtp_url,
                sizeof s_harness.smtp_url, "smtp-sink.log", 15000);
    s_wait_sink(&s_sms_stub, "SMS stub", s_harness.sms_dir, "http", s_harness.sms_url,
                sizeof s_harness.sms_url, "sms-stub.log", 15000);

    s_make_certs(extra_env);
    s_create_key("tenant-a", "admin", s_harness.key_a, sizeof s_harness.key_a);
    s_create_key("tenant-b", "admin", s_harness.key_b, sizeof s_harness.key_b);
    s_create_key("tenant-a", "analyst", s_harness.key_analyst, sizeof s_harness.key_analyst);

    s_extra_env = extra_env;
    s_http_port = http_port;
    s_spawn_suite();
    return &s_harness;
}

void harness_stop(void) {
    if (!s_started)
        return;
    s_started = false;
    PQfinish(s_sql);
    s_sql = NULL;
    s_stop_suite(15000);
    s_stop_sinks();
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/scripts/pg.sh stop %s/pg >/dev/null 2>&1", s_top(),
             s_harness.dir);
    (void)!system(cmd);
    if (getenv("CRM_HARNESS_KEEP"))
        fprintf(stderr, "harness: kept %s\n", s_harness.dir);
    else {
        snprintf(cmd, sizeof cmd, "rm -rf %s", s_harness.dir);
        (void)!system(cmd);
    }
    curl_global_cleanup();
}

//  The connection harness_sql_* use, made (again) when there is none that works.
static PGconn *s_sql_conn(void) {
    if (s_sql && PQstatus(s_sql) == CONNECTION_OK)
        return s_sql;
    PQfinish(s_sql);
    s_sql = PQconnectdb(s_harness.dsn);
    if (PQstatus(s_sql) != CONNECTION_OK)
        fprintf(stderr, "harness: could not connect to the test database: %s",
                PQerrorMessage(s_sql));
    return s_sql;
}

long long harness_sql_scalar(const char *sql) {
    PGconn *conn = s_sql_conn();
    PGresult *res = PQexec(conn, sql);
    long long v = HARNESS_SQL_FAILED;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
        v = PQgetisnull(res, 0, 0) ? 0 : atoll(PQgetvalue(res, 0, 0));
    else
        fprintf(stderr, "harness: query failed: %s: %s\n", sql,
                PQresultStatus(res) == PGRES_TUPLES_OK ? "no row" : PQerrorMessage(conn));
    PQclear(res);
    return v;
}

int harness_sql_exec(const char *sql) {
    PGconn *conn = s_sql_conn();
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc)
        fprintf(stderr, "harness: command failed: %s: %s\n", sql, PQerrorMessage(conn));
    PQclear(res);
    return rc;
}

long long harness_contacts_head(int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    //  The daemon's workers say READY (so /readyz answers 200) before it has made its
    //  outbox: right after harness_start, wait for that too.
    while (harness_sql_scalar("SELECT count(*) FROM pg_views WHERE schemaname = 'contacts'"
                              " AND viewname = 'outbox_pending'") == 0 &&
           zclock_mono() < until)
        zclock_sleep(25);
    while (harness_sql_scalar("SELECT count(*) FROM contacts.outbox_pending") > 0 &&
           zclock_mono() < until)
        zclock_sleep(25);
    return harness_sql_scalar("SELECT last_seq FROM contacts.outbox_state");
}

bool harness_wait_ready(int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    while (zclock_mono() < until) {
        harness_response_t r = harness_http("GET", "/readyz", NULL, NULL, NULL);
        long status = r.status;
        harness_response_free(&r);
        if (status == 200)
            return true;
        usleep(100 * 1000);
    }
    return false;
}

static size_t s_on_body(char *data, size_t size, size_t n, void *arg) {
    zchunk_t *chunk = arg;
    zchunk_extend(chunk, data, size * n);
    return size * n;
}

static size_t s_on_header(char *data, size_t size, size_t n, void *arg) {
    harness_response_t *r = arg;
    size_t len = size * n;
    if ((len > 2 && strncasecmp(data, "X-", 2) == 0) ||
        (len > 10 && strncasecmp(data, "RateLimit-", 10) == 0) ||
        (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0)) {
        size_t have = strlen(r->headers), vlen = len;
        while (vlen && (data[vlen - 1] == '\r' || data[vlen - 1] == '\n'))
            vlen--;
        if (have + vlen + 2 < sizeof r->headers) {
            memcpy(r->headers + have, data, vlen);
            r->headers[have + vlen] = '\n';
            r->headers[have + vlen + 1] = 0;
        }
    }
    if (len > 10 && strncasecmp(data, "Location: ", 10) == 0) {
        size_t vlen = len - 10;
        while (vlen && (data[10 + vlen - 1] == '\r' || data[10 + vlen - 1] == '\n'))
            vlen--;
        if (vlen >= sizeof r->location)
            vlen = sizeof r->location - 1;
        memcpy(r->location, data + 10, vlen);
        r->location[vlen] = 0;
    }
    if (len > 14 && strncasecmp(data, "Content-Type: ", 14) == 0) {
        size_t vlen = len - 14;
        while (vlen && (data[14 + vlen - 1] == '\r' || data[14 + vlen - 1] == '\n'))
            vlen--;
        if (vlen >= sizeof r->content_type)
            vlen = sizeof r->content_type - 1;
        memcpy(r->content_type, data + 14, vlen);
        r->content_type[vlen] = 0;
    }
    return len;
}

//  One HTTP request to base_url + path (the gateway's, or a sink's).
static harness_response_t s_http_at(const char *base_url, const char *method, const char *path,
                                    const char *key, const void *body, size_t size,
                                    const char *const *headers) {
    harness_response_t r = {0};
    CURL *c = curl_easy_init(); // one per request: callers may be on several threads
    char url[2048];
    snprintf(url, sizeof url, "%s%s", base_url, path);
    zchunk_t *chunk = zchunk_new(NULL, 256);
    struct curl_slist *list = NULL;
    char auth[128];
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        list = curl_slist_append(list, auth);
    }
    if (body)
        list = curl_slist_append(list, "Content-Type: application/json");
    for (const char *const *h = headers; h && *h; h++)
        list = curl_slist_append(list, *h);
    //  A body of up to 1 MiB goes at once; a larger one waits for 100 Continue, as curl
    //  and browsers do, so a refusal of its size (413, sent before the body is read)
    //  reaches the client instead of a connection reset half-way through the upload.
    if (!body || size <= 1048576)
        list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, chunk);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)size);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fprintf(stderr, "harness: %s %s: %s\n", method, path, curl_easy_strerror(rc));
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r.seconds);
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    r.size = zchunk_size(chunk);
    zchunk_extend(chunk, "", 1);
    r.body = malloc(r.size + 1);
    memcpy(r.body, zchunk_data(chunk), r.size + 1);
    zchunk_destroy(&chunk);
    r.json = json_loads(r.body, 0, NULL);
    return r;
}

harness_response_t harness_http_raw(const char *method, const char *path, const char *key,
                                    const void *body, size_t size, const char *const *headers) {
    return s_http_at(s_harness.http_url, method, path, key, body, size, headers);
}

harness_response_t harness_http(const char *method, const char *path, const char *key,
                                const char *body, const char *const *headers) {
    return harness_http_raw(method, path, key, body, body ? strlen(body) : 0, headers);
}

long long harness_metric(const char *name) {
    harness_response_t r = harness_http("GET", "/metrics", NULL, NULL, NULL);
    long long value = -1;
    size_t len = strlen(name);
    for (char *line = r.body; line && *line;) {
        char *end = strchr(line, '\n');
        if (strncmp(line, name, len) == 0 && line[len] == ' ')
            value = atoll(line + len + 1);
        line = end ? end + 1 : NULL;
    }
    harness_response_free(&r);
    return value;
}

long harness_status_kib(pid_t pid, const char *field) {
    char path[64], line[256], format[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    snprintf(format, sizeof format, "%s: %%ld kB", field);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, format, &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

harness_response_t harness_http_at(const char *base_url, const char *method, const char *path) {
    return s_http_at(base_url, method, path, NULL, NULL, 0, NULL);
}

const char *harness_header(const harness_response_t *r, const char *name, char *out,
                           size_t size) {
    out[0] = 0;
    size_t len = strlen(name);
    for (const char *line = r->headers; *line;) {
        const char *end = strchr(line, '\n');
        if (!end)
            break;
        if ((size_t)(end - line) > len + 1 && strncasecmp(line, name, len) == 0 &&
            line[len] == ':') {
            const char *v = line + len + 1;
            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)(end - v), v);
            break;
        }
        line = end + 1;
    }
    return out;
}

void harness_response_free(harness_response_t *r) {
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

const char *harness_json_str(const harness_response_t *r, const char *member) {
    const char *s = json_string_value(json_object_get(r->json, member));
    return s ? s : "";
}

const char *harness_error_field(const harness_response_t *r) {
    json_t *fields = json_object_get(json_object_get(r->json, "error"), "fields");
    const char *s = json_string_value(json_object_get(json_array_get(fields, 0), "field"));
    return s ? s : "";
}

pid_t harness_daemon_pid(const char *name) {
    char want[64];
    snprintf(want, sizeof want, "crm-%s", name);
    DIR *proc = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;
    while (proc && (e = readdir(proc))) {
        pid_t pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], stat[512];
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[n] = 0;
        //  pid (comm) state ppid ...
        char *open = strchr(stat, '('), *close = strrchr(stat, ')');
        if (!open || !close)
            continue;
        *close = 0;
        int ppid = 0;
        char state;
        if (sscanf(close + 2, "%c %d", &state, &ppid) != 2)
            continue;
        if (strcmp(open + 1, want) == 0 && ppid == s_harness.supervisor && state != 'Z') {
            found = pid;
            break;
        }
    }
    if (proc)
        closedir(proc);
    return found;
}

//  --- the notification sinks ---------------------------------------------------------

//  A request to the SMS stub's test controls with a JSON body (or none).
static harness_response_t s_sms_stub_call(const char *method, const char *path, json_t *body) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    harness_response_t r =
        s_http_at(s_harness.sms_url, method, path, NULL, text, text ? strlen(text) : 0, NULL);
    free(text);
    return r;
}

json_t *harness_sms_messages(void) {
    harness_response_t r = s_sms_stub_call("GET", "/_stub/messages", NULL);
    json_t *messages = json_is_array(r.json) ? json_incref(r.json) : NULL;
    if (!messages) {
        fprintf(stderr, "harness: could not list the SMS stub's messages: %ld %s\n", r.status,
                r.body);
        messages = json_array();
    }
    harness_response_free(&r);
    return messages;
}

//  A whole file into a new buffer (NUL-terminated; its size in *size), or NULL.
static char *s_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        text = malloc((size_t)len + 1);
        *size = fread(text, 1, (size_t)len, f);
        text[*size] = 0;
    }
    fclose(f);
    return text;
}

json_t *harness_mail_messages(void) {
    json_t *messages = json_array();
    char path[400];
    snprintf(path, sizeof path, "%s/index.jsonl", s_harness.smtp_dir);
    FILE *index = fopen(path, "r");
    if (!index) {
        fprintf(stderr, "harness: could not open the SMTP sink's index %s\n", path);
        return messages;
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, index) > 0) {
        json_error_t error;
        json_t *message = json_loads(line, 0, &error);
        const char *file = json_string_value(json_object_get(message, "file"));
        if (!file) {
            fprintf(stderr, "harness: bad line in %s: %s: %s", path, error.text, line);
            json_decref(message);
            continue;
        }
        char eml[700];
        size_t size = 0;
        snprintf(eml, sizeof eml, "%s/%s", s_harness.smtp_dir, file);
        char *raw = s_read_file(eml, &size);
        if (!raw)
            fprintf(stderr, "harness: could not read %s\n", eml);
        //  The bytes as received: an email need not be UTF-8.
        json_object_set_new(message, "raw", json_stringn_nocheck(raw ? raw : "", size));
        free(raw);
        json_array_append_new(messages, message);
    }
    free(line);
    fclose(index);
    return messages;
}

bool harness_wait_sms(size_t n, int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    while (true) {
        json_t *messages = harness_sms_messages();
        size_t have = json_array_size(messages);
        json_decref(messages);
        if (have >= n)
            return true;
        if (zclock_mono() > until)
            return false;
        usleep(25 * 1000);
    }
}

bool harness_wait_mail(size_t n, int timeout_ms) {
    char path[400];
    snprintf(path, sizeof path, "%s/index.jsonl", s_harness.smtp_dir);
    int64_t until = zclock_mono() + timeout_ms;
    while (true) {
        //  One line per message, written whole and fsync-ed before the sink's 250.
        size_t have = 0;
        FILE *index = fopen(path, "r");
        for (int c; index && (c = getc(index)) != EOF;)
            have += c == '\n';
        if (index)
            fclose(index);
        if (have >= n)
            return true;
        if (zclock_mono() > until)
            return false;
        usleep(25 * 1000);
    }
}

int harness_sms_mode(const char *json) {
    harness_response_t r =
        s_http_at(s_harness.sms_url, "POST", "/_stub/mode", NULL, json, strlen(json), NULL);
    int rc = r.status == 200 ? 0 : -1;
    if (rc)
        fprintf(stderr, "harness: the SMS stub refused mode %s: %ld %s\n", json, r.status, r.body);
    harness_response_free(&r);
    return rc;
}

harness_response_t harness_sms_inbound(const char *from, const char *to, const char *body) {
    char url[300];
    snprintf(url, sizeof url, "%s/v1/webhooks/sms/inbound", s_harness.http_url);
    json_t *request =
        json_pack("{s:s, s:s, s:s, s:s}", "from", from, "to", to, "body", body, "url", url);
    harness_response_t r = s_sms_stub_call("POST", "/_stub/inbound", request);
    json_decref(request);
    return r;
}

harness_response_t harness_sms_callback(const char *path_and_query, const char *const *params) {
    char url[2048];
    snprintf(url, sizeof url, "%s%s", s_harness.http_url, path_and_query);
    json_t *fields = json_object();
    for (const char *const *p = params; p && *p; p++) {
        const char *equals = strchr(*p, '=');
        char name[256];
        size_t len = equals ? (size_t)(equals - *p) : strlen(*p);
        snprintf(name, sizeof name, "%.*s", (int)len, *p);
        json_object_set_new(fields, name, json_string(equals ? equals + 1 : ""));
    }
    json_t *request = json_pack("{s:s, s:o}", "url", url, "params", fields);
    harness_response_t r = s_sms_stub_call("POST", "/_stub/callback", request);
    json_decref(request);
    return r;
}

void harness_zone_at(int hour, char *out, size_t size) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int offset = hour - tm.tm_hour; // local = UTC + offset
    if (offset > 14)
        offset -= 24;
    if (offset < -12)
        offset += 24;
    if (offset == 0)
        snprintf(out, size, "Etc/GMT");
    else
        snprintf(out, size, "Etc/GMT%+d", -offset); // POSIX signs: Etc/GMT-5 is UTC+5
}
