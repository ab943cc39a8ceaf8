/*  harness: the whole suite for a system test, started privately and stopped always.

    harness_start() makes a temp directory, starts a PostgreSQL cluster in it
    (scripts/pg.sh), picks free ports, starts crm-supervisor (and so the gateway and
    every daemon) against that database, creates API keys for two tenants, and waits
    until /readyz answers 200. harness_stop() (also run at exit and on SIGINT/SIGTERM)
    stops the suite and the database and removes the directory.

    It also starts the two local notification sinks (tools/sinks), alongside PostgreSQL's
    start-up, and hands them to the daemons as CRM_NOTIFY_*: an SMTP server that
    requires STARTTLS (a fresh self-signed certificate) and AUTH and keeps every message
    in smtp_dir, and a Twilio-compatible Messages API stub whose webhooks go to the
    gateway (notify.public_url is http_url); it moves a message to sent 100 ms after
    accepting it and to delivered 300 ms later, and retries a failed status callback
    after 100, 200 and 400 ms. They die with the test program, however it ends. Read what was sent
   with harness_mail_messages() and harness_sms_messages(); make the SMS provider fail with
   harness_sms_mode().

    Drive the suite as a client would: harness_http() over loopback HTTP (libcurl) and
    harness_mdp() straight to the broker.
*/
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <czmq.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct {
    char dir[256];        // private temp directory
    char dsn[512];        // libpq connection string of the private database
    char http_url[64];    // http://127.0.0.1:PORT
    char broker[64];      // tcp://127.0.0.1:PORT
    char events_pub[64];  // the gateway's XSUB (relays publish here)
    char events_sub[64];  // the gateway's XPUB (subscribe here)
    char events_pii_free[64]; // its second XPUB: events scrubbed, for pii: false keys
    char key_a[64];       // admin key of tenant "tenant-a"
    char key_b[64];       // admin key of tenant "tenant-b"
    char key_analyst[64]; // analyst key of tenant "tenant-a"
    pid_t supervisor;
    //  The notification sinks, as the daemons get them (CRM_NOTIFY_*).
    char smtp_url[64];  // smtp://127.0.0.1:PORT: STARTTLS required, then AUTH
    char smtp_dir[300]; // the SMTP sink's index.jsonl and <seq>-<uuid>.eml files
    char smtp_user[32]; // its AUTH user and password
    char smtp_password[64];
    char smtp_ca_file[300];   // its self-signed certificate (PEM): trust this to verify it
    char sms_url[64];         // http://127.0.0.1:PORT: the Messages API stub
    char sms_dir[300];        // its messages.jsonl and callbacks.jsonl
    char sms_account_sid[40]; // AC + 32 hex digits: the Basic user
    char sms_auth_token[40];  // the Basic password and the webhook signing key
    char sms_from[20];        // the sending number, +15005550006
    //  CurveZMQ (security.*): the suite's key pairs, made at start for the gateway, each
    //  daemon (worker:NAME), crmctl and this test program (client,subscriber:*), which
    //  uses its own for every socket made through common/ (and crm_curve_client).
    char certs_dir[300]; // NAME.key_secret and NAME.key of each
    char keys_dir[300];  // the public keys the gateway admits
    bool insecure;       // CRM_SECURITY_INSECURE=true (extra_env or environment): plain
} harness_t;

typedef struct {
    long status;
    char *body;             // raw body (NUL-terminated)
    size_t size;            // its size (a binary body may hold NUL bytes)
    char content_type[128]; // Content-Type header
    json_t *json;           // parsed body when it is JSON, else NULL
    char location[256];     // Location header
    char headers[1024];     // the X-*, RateLimit-* and Retry-After headers, "Name: value\n"
                            // each (harness_header)
    double seconds;         // time taken
} harness_response_t;

//  Start everything; extra_env is a NULL-terminated list of "NAME=value" settings for
//  the daemons (may be NULL). The duplicate check before a create is off
//  (CRM_CONTACTS_DUPLICATE_CHECK=false) unless extra_env turns it on. Aborts the test
//  program on failure.
harness_t *harness_start(const char *const *extra_env);
void harness_stop(void);

//  One HTTP request. key NULL: no Authorization header. body NULL: none. headers: NULL
//  or a NULL-terminated list of "Name: value".
harness_response_t harness_http(const char *method, const char *path, const char *key,
                                const char *body, const char *const *headers);
void harness_response_free(harness_response_t *r);

//  The value of the gateway's /metrics line starting with name (labels included, e.g.
//  "crm_broker_refused_total{limit=\"max_queued_bytes\"}"), or -1.
long long harness_metric(const char *name);

//  A size from /proc/<pid>/status (field "VmRSS", "RssAnon", ...) in KiB, or -1.
long harness_status_kib(pid_t pid, const char *field);

//  A request without key or body to another server: base_url "http://127.0.0.1:PORT"
//  (a daemon's health endpoint, a sink).
harness_response_t harness_http_at(const char *base_url, const char *method, const char *path);

//  Same with a body of arbitrary bytes.
harness_response_t harness_http_raw(const char *method, const char *path, const char *key,
                                    const void *body, size_t size, const char *const *headers);

//  Create one more API key (tenant, role: admin, manager, sales, analyst, integration)
//  into out (at least 64 bytes). Aborts the test program on failure.
void harness_create_key(const char *tenant, const char *role, char *out, size_t size);

//  Make a key pair NAME with roles (common/peer.h) and pii, registered with the gateway
//  (a key the gateway admits from now on): its secret file's path into out. Aborts the
//  test program on failure.
void harness_create_cert(const char *name, const char *roles, bool pii, char *out, size_t size);

//  Make a key pair as harness_create_cert and take it as this program's identity for
//  the sockets made from now on (a test that serves a service of its own needs
//  worker:NAME). Aborts the test program on failure.
void harness_use_cert(const char *name, const char *roles);

//  A SUB socket on the gateway's event endpoint (events_sub) subscribed to prefix, with
//  this program's key (topics: "<source>.<tenant>.<Type>", "<source>._head").
zsock_t *harness_subscriber(const char *prefix);

//  Make socket (not yet bound) a CURVE server with the gateway's key pair, for a test
//  that stands in for the gateway (no ZAP handler here: any client key is let in).
//  No-op when insecure.
void harness_curve_server(zsock_t *socket);

//  A loopback TCP port nobody listens on now, and not one handed out before in this run
//  (for a listener a test configures itself, e.g. daemon.health_listen).
int harness_free_port(void);

//  Run scripts/pg.sh ACTION ("stop", "start") on the private cluster; its exit status.
int harness_pg(const char *action);

//  Stop the suite as an operator would (SIGTERM to the supervisor) and start it again
//  on the same database. Returns the supervisor's wait status (-1 if it had to be
//  killed).
int harness_restart_suite(void);

//  SQL on the suite's database over the harness's own connection (made on first use,
//  made again when lost, closed by harness_stop). harness_sql_scalar: the first column
//  of the first row as a number, 0 for NULL; HARNESS_SQL_FAILED (after printing why)
//  when the query fails or returns no row. harness_sql_exec: 0, or -1 (printed).
#define HARNESS_SQL_FAILED LLONG_MIN
long long harness_sql_scalar(const char *sql);
int harness_sql_exec(const char *sql);

//  contacts' event head: the last seq once every committed outbox row is numbered (the
//  relay numbers a write's event a little after its commit), waiting up to timeout_ms
//  for that (and, just after harness_start, for the daemon to have made its outbox).
//  HARNESS_SQL_FAILED when the database cannot say.
long long harness_contacts_head(int timeout_ms);

//  Pid of the running daemon crm-NAME (a child of the supervisor), or 0.
pid_t harness_daemon_pid(const char *name);

//  Wait until /readyz answers 200 (true) or timeout_ms passes (false).
bool harness_wait_ready(int timeout_ms);

//  The value of response header name (an X-*, RateLimit-* or Retry-After header; ""
//  when absent), into out.
const char *harness_header(const harness_response_t *r, const char *name, char *out,
                           size_t size);

//  A string member of r->json ("" when absent).
const char *harness_json_str(const harness_response_t *r, const char *member);

//  The first field error's "field" of an error response ("" when none).
const char *harness_error_field(const harness_response_t *r);

//  An IANA zone whose clock reads hour now ("Etc/GMT-5" is UTC+5), into out: quiet
//  hours made predictable in a test whatever time it runs.
void harness_zone_at(int hour, char *out, size_t size);

//  The notification sinks (see tools/sinks/*.py for the formats).
//
//  Every message the SMS stub accepted, oldest first (GET /_stub/messages): objects with
//  sid, to, from, messaging_service_sid, body, num_segments, status_callback,
//  received_at, headers (the request's, but Authorization) and status (now). Every
//  email the SMTP sink accepted, oldest first (its index.jsonl): objects with file,
//  mail_from, rcpt_tos, received_at, message_id, subject, tls, auth_user, and raw: the
//  message exactly as received (json_string_length() bytes; not checked as UTF-8).
//  Both return a new reference to an array, empty (after printing why) when the sink
//  cannot be read.
json_t *harness_sms_messages(void);
json_t *harness_mail_messages(void);

//  Wait until the sink holds at least n messages (true) or timeout_ms passes (false).
bool harness_wait_sms(size_t n, int timeout_ms);
bool harness_wait_mail(size_t n, int timeout_ms);

//  Set the SMS stub's failure mode (POST /_stub/mode), e.g.
//  {"mode":"429","count":1,"retry_after":2}; modes ok, 500, 429, slow (delay_ms),
//  drop_before_read, drop_after_read; count: the next N Messages API requests, 0 until
//  changed. 0, or -1 (printed) when the stub refused it.
int harness_sms_mode(const char *json);

//  Have the SMS stub send a signed inbound-SMS webhook (as Twilio does) to the gateway's
//  /v1/webhooks/sms/inbound. Returns the gateway's answer as the stub relays it (status,
//  body, Content-Type); status 502 when the stub could not reach the gateway.
harness_response_t harness_sms_inbound(const char *from, const char *to, const char *body);

//  Have the SMS stub POST arbitrary signed form parameters to the gateway at
//  path_and_query (e.g. a status callback, repeated or out of order). params: a
//  NULL-terminated list of "Name=value" (the value may be empty and may hold '=').
//  Returns the gateway's answer as relayed, as harness_sms_inbound().
harness_response_t harness_sms_callback(const char *path_and_query, const char *const *params);

#endif
