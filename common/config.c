/*  config: the suite's settings, from config/crm.yaml (libyaml) with environment overrides.

    Every key is one row of s_keys below: its section and name (which also name the
    crm_config_t field, section_name), type, default, limits and help text. Defaults,
    the YAML file and the environment all go through the same s_key_set(), so a default
    obeys the same rules as a value an operator types. To add a key: add the field to
    crm_config_t, one row here, and the key to config/crm.yaml.

    The file is one YAML mapping of sections, each a mapping of key: scalar, read with
    libyaml's event API so every complaint can point at a line and column.
*/
#include "config.h"
#include "log.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

typedef enum {
    S_TYPE_STRING,
    S_TYPE_INT,
    S_TYPE_BOOL,
} s_type_t;

typedef struct {
    const char *section;
    const char *name;
    s_type_t type;
    size_t offset;             // of the field in crm_config_t
    const char *default_value; // as text, parsed like a value from the file
    long min, max;             // S_TYPE_INT: allowed range
    const char *choices;       // S_TYPE_STRING: space-separated allowed values, or NULL
    int secret;                // printed masked: S_MASK_DSN its passwords, S_MASK_ALL all of it
    const char *help;
} s_key_t;

enum { S_MASK_NONE, S_MASK_DSN, S_MASK_ALL };

#define S_FIELD(section, name) offsetof(crm_config_t, section##_##name)
#define S_STRING(section, name, def, help)                                                         \
    { #section, #name, S_TYPE_STRING, S_FIELD(section, name), def, 0, 0, NULL, 0, help }
#define S_CHOICE(section, name, def, choices, help)                                                \
    { #section, #name, S_TYPE_STRING, S_FIELD(section, name), def, 0, 0, choices, 0, help }
#define S_SECRET(section, name, def, help)                                                         \
    { #section, #name, S_TYPE_STRING, S_FIELD(section, name), def, 0, 0, NULL, S_MASK_DSN, help }
#define S_PASSWORD(section, name, help)                                                            \
    { #section, #name, S_TYPE_STRING, S_FIELD(section, name), "", 0, 0, NULL, S_MASK_ALL, help }
#define S_INT(section, name, def, min, max, help)                                                  \
    { #section, #name, S_TYPE_INT, S_FIELD(section, name), #def, min, max, NULL, 0, help }
#define S_BOOL(section, name, def, help)                                                           \
    { #section, #name, S_TYPE_BOOL, S_FIELD(section, name), #def, 0, 0, NULL, 0, help }

#define S_HOUR_MS 3600000
#define S_GIB 1073741824

static const s_key_t s_keys[] = {
    S_CHOICE(log, level, "info", "debug info warn error", "lowest level written to stderr"),

    S_CHOICE(process, scheduling, "batch", "batch normal",
             "Linux CPU policy of a daemon's threads (batch: no wake-up preemption)"),
    S_STRING(daemon, health_listen, "",
             "a daemon's /healthz, /readyz and /metrics: HOST:PORT (each daemon in its own "
             "container), NAME=HOST:PORT ... (several on one host), \"\": none"),
    S_INT(daemon, health_stall_ms, 10000, 100, S_HOUR_MS,
          "/healthz answers 503 when the daemon's loop has not turned for this long"),

    S_SECRET(database, dsn, "dbname=crm", "libpq connection string; passwords via the environment"),
    S_INT(database, connect_timeout_ms, 5000, 100, S_HOUR_MS, "give up one attempt after this"),
    S_INT(database, retry_max_ms, 5000, 100, S_HOUR_MS, "reconnect backoff grows up to this"),
    S_BOOL(database, migrate, true, "apply this service's migrations at start"),

    S_STRING(broker, endpoint, "tcp://127.0.0.1:5555", "where workers and MDP clients connect"),
    S_STRING(broker, local_endpoint, "",
             "also bound by the gateway (ipc://); daemons and tools on its host connect here"),
    S_INT(broker, heartbeat_ms, 2500, 100, S_HOUR_MS, "MDP heartbeat interval"),
    S_INT(broker, liveness, 3, 1, 100, "heartbeats missed before a peer is dead"),
    S_INT(broker, default_deadline_ms, 5000, 1, S_HOUR_MS, "deadline when a request names none"),
    S_INT(broker, max_frame_bytes, 2097152, 1024, S_GIB, "larger frames are dropped"),
    S_INT(broker, max_deadline_ms, 60000, 1, S_HOUR_MS,
          "a longer deadline a request asks for is cut to this"),
    S_INT(broker, max_client_queue, 256, 1, 1000000,
          "requests one MDP client may have waiting for a worker; more get 503"),
    S_INT(broker, max_queued_bytes, 67108864, 65536, S_GIB,
          "bytes of request bodies waiting for a worker, all clients together; more get 503"),

    S_STRING(gateway, http_bind, "127.0.0.1", "address the HTTP server listens on"),
    S_INT(gateway, http_port, 8080, 0, 65535, "HTTP port (0: any free port)"),
    S_INT(gateway, max_body_bytes, 1048576, 1024, S_GIB, "larger request bodies get 413"),
    S_INT(gateway, max_connections, 1024, 1, 65536, "HTTP connections served at once"),
    S_INT(gateway, key_cache_ms, 10000, 0, S_HOUR_MS, "how long a verified API key stays cached"),
    S_PASSWORD(gateway, key_secret,
               "64 hex digits keying the API keys' hashes (the environment, never a file in "
               "the repository); \"\": unkeyed"),
    S_INT(gateway, rate_admin_per_second, 100, 0, 1000000,
          "API requests per second an admin key may make, sustained (0: no limit); 429"),
    S_INT(gateway, rate_admin_burst, 400, 1, 1000000,
          "API requests an admin key may make at once before the rate applies"),
    S_INT(gateway, rate_manager_per_second, 50, 0, 1000000,
          "API requests per second a manager key may make, sustained (0: no limit); 429"),
    S_INT(gateway, rate_manager_burst, 200, 1, 1000000,
          "API requests a manager key may make at once before the rate applies"),
    S_INT(gateway, rate_sales_per_second, 20, 0, 1000000,
          "API requests per second a sales key may make, sustained (0: no limit); 429"),
    S_INT(gateway, rate_sales_burst, 100, 1, 1000000,
          "API requests a sales key may make at once before the rate applies"),
    S_INT(gateway, rate_analyst_per_second, 20, 0, 1000000,
          "API requests per second an analyst key may make, sustained (0: no limit); 429"),
    S_INT(gateway, rate_analyst_burst, 100, 1, 1000000,
          "API requests an analyst key may make at once before the rate applies"),
    S_INT(gateway, rate_integration_per_second, 200, 0, 1000000,
          "API requests per second an integration key may make, sustained (0: no limit); 429"),
    S_INT(gateway, rate_integration_burst, 1000, 1, 1000000,
          "API requests an integration key may make at once before the rate applies"),
    S_INT(gateway, raw_max_body_bytes, 65536, 1024, S_GIB,
          "raw routes (webhooks, unsubscribe, tracking): larger bodies get 413"),
    S_INT(gateway, raw_max_in_flight, 64, 1, 65536,
          "raw routes: requests served at once (all clients); more get 503"),
    S_INT(gateway, raw_client_per_second, 50, 0, 1000000,
          "raw routes: requests per second per client address, sustained (0: no limit); 429"),
    S_INT(gateway, raw_client_burst, 200, 1, 1000000,
          "raw routes: requests per client address at once before the rate applies"),
    S_STRING(gateway, raw_client_header, "",
             "raw routes: header a reverse proxy sets to the client's address, e.g. "
             "X-Forwarded-For (its last entry); \"\": the connection's peer"),

    S_STRING(events, publish_endpoint, "tcp://127.0.0.1:5556",
             "the gateway's XSUB: relays publish here"),
    S_STRING(events, subscribe_endpoint, "tcp://127.0.0.1:5557",
             "the gateway's XPUB: subscribers and analysts connect here"),
    S_STRING(events, pii_free_endpoint, "tcp://127.0.0.1:5558",
             "the gateway's second XPUB: events without personal fields, for pii: false keys"),
    S_INT(events, xpub_hwm, 100000, 1, 100000000, "events queued per slow subscriber, then dropped"),
    S_INT(events, xpub_sndbuf_bytes, 0, 0, S_GIB, "kernel send buffer per subscriber (0: the OS's)"),
    S_INT(events, relay_batch, 1000, 1, 100000, "outbox rows claimed and published at once"),
    S_INT(events, relay_delay_ms, 40, 0, 10000,
          "a relay woken by a commit waits this long, so a busy moment costs one claim"),
    S_INT(events, relay_interval_ms, 250, 1, S_HOUR_MS, "outbox polled this often besides wake-ups"),
    S_INT(events, head_interval_ms, 1000, 10, S_HOUR_MS, "how often a source announces its head"),
    S_INT(events, retention_days, 7, 1, 3650, "published outbox rows are kept this long"),
    S_INT(events, retention_interval_ms, 600000, 1000, 86400000, "how often old rows are deleted"),
    S_INT(events, replay_limit, 5000, 1, 100000, "most events in one replay answer"),
    S_INT(events, apply_batch, 5000, 1, 100000, "most events a subscriber applies in one transaction"),
    S_INT(events, replay_timeout_ms, 5000, 100, S_HOUR_MS, "a replay call gives up after this"),

    S_BOOL(security, insecure, false,
           "plain-text ZeroMQ (no CurveZMQ keys): development only, logged at start"),
    S_STRING(security, certs_dir, "var/certs",
             "this host's key pairs: <process>.key_secret each, and gateway.key (the gateway's"
             " public key)"),
    S_STRING(security, cert, "",
             "this process's key pair file (\"\": <certs_dir>/<process>.key_secret)"),
    S_STRING(security, server_cert, "",
             "the gateway's public key file (\"\": <certs_dir>/gateway.key)"),
    S_STRING(security, keys_dir, "var/keys",
             "the gateway: public keys it admits (NAME.key, roles in each; crmctl certs create)"),

    S_INT(contacts, workers, 16, 1, 1024, "worker sockets (requests in flight) per process"),
    S_STRING(contacts, default_region, "US", "ISO 3166 region for phones without +country"),
    S_INT(contacts, max_batch, 64, 1, 10000, "requests committed together in one transaction"),
    S_INT(contacts, retention_sweep_ms, 3600000, 100, 86400000,
          "how often contacts past their retention are looked for and erased"),
    S_INT(contacts, export_part_bytes, 1048576, 65536, 1572864,
          "an export is stored in parts of about this size (one reply each)"),
    S_INT(contacts, export_retention_hours, 24, 1, 8760,
          "an export's parts are deleted after this"),
    S_INT(contacts, export_sweep_interval_ms, 60000, 100, S_HOUR_MS,
          "how often expired exports are deleted"),
    S_INT(contacts, merge_undo_days, 30, 1, 3650,
          "a merge of contacts can be undone for this many days after it"),
    S_STRING(contacts, export_tmp_dir, "", "where XLSX exports are built (\"\": $TMPDIR or /tmp)"),
    S_BOOL(contacts, duplicate_check, true,
           "creates, chat leads' contacts and import rows ask dedupe for duplicates first"),
    S_INT(contacts, dedupe_deadline_ms, 50, 1, 60000,
          "a create's duplicate check not answered by then is skipped (the create goes ahead)"),
    S_INT(contacts, dedupe_import_deadline_ms, 2000, 1, 600000,
          "an import chunk's duplicate check not answered by then is skipped"),

    S_INT(leads, workers, 8, 1, 1024, "worker sockets (requests in flight) per process"),
    S_INT(leads, max_batch, 64, 1, 10000, "requests committed together in one transaction"),
    S_INT(leads, contacts_timeout_ms, 2000, 100, 60000,
          "a call to the contacts service (is the lead's contact live?) gives up after this"),
    S_INT(leads, scheduler_ms, 500, 10, 60000,
          "the follow-up scheduler looks for due follow-ups at least this often"),
    S_INT(leads, scheduler_batch, 1000, 1, 100000,
          "follow-ups the scheduler fires in one transaction at most"),

    S_INT(scoring, workers, 4, 1, 1024, "worker sockets (requests in flight) per process"),
    S_INT(scoring, max_batch, 64, 1, 10000, "requests answered together in one transaction"),
    S_STRING(scoring, model_file, "config/scoring.yaml", "the default scoring model (YAML; SIGHUP reloads)"),
    S_INT(scoring, decay_interval_ms, 86400000, 1000, 604800000,
          "the decay pass rescores every open lead this often"),
    S_INT(scoring, rescore_poll_ms, 1000, 10, S_HOUR_MS, "rescore jobs are looked for this often"),

    S_INT(dedupe, workers, 4, 1, 1024, "worker sockets (requests in flight) per process"),
    S_INT(dedupe, max_batch, 64, 1, 10000, "requests answered together in one transaction"),
    S_INT(dedupe, check_threshold, 50, 1, 100,
          "a duplicate check lists the contacts scoring at least this (percent)"),
    S_INT(dedupe, check_limit, 10, 1, 100, "a duplicate check lists at most this many contacts"),
    S_INT(dedupe, block_threshold, 75, 1, 101,
          "a create whose duplicate check scores a contact at least this (percent) is refused"),
    S_STRING(dedupe, data_dir, "services/dedupe/data", "the nickname list (nicknames.tsv)"),

    S_INT(notify, workers, 4, 1, 1024, "worker sockets (requests in flight) per process"),
    S_INT(notify, max_batch, 64, 1, 10000, "requests committed together in one transaction"),
    S_INT(notify, call_timeout_ms, 2000, 100, 60000,
          "a call to the contacts or leads service (a template preview) gives up after this"),
    S_STRING(notify, dealership_name, "", "what {{dealership.name}} renders as (all tenants)"),
    S_STRING(notify, smtp_url, "", "smtp://host:port (STARTTLS when offered) or smtps://; \"\": no email"),
    S_STRING(notify, smtp_user, "", "SMTP AUTH user (\"\": no AUTH)"),
    S_PASSWORD(notify, smtp_password, "SMTP AUTH password (from the environment)"),
    S_BOOL(notify, smtp_verify_tls, true, "check the SMTP server's certificate"),
    S_STRING(notify, smtp_ca_file, "", "CA bundle for the SMTP server's certificate (\"\": the system's)"),
    S_STRING(notify, mail_from, "", "the From address of email (\"\": no email)"),
    S_STRING(notify, unsubscribe_mailbox, "",
             "address in marketing email's List-Unsubscribe mailto (\"\": the HTTPS link only); "
             "its mail is piped to crmctl notify unsubscribe-mail"),
    S_STRING(notify, sms_base_url, "", "the SMS provider's Messages API base (\"\": no SMS)"),
    S_STRING(notify, sms_account_sid, "", "the SMS provider's account (Basic auth user)"),
    S_PASSWORD(notify, sms_auth_token, "the SMS provider's auth token (from the environment)"),
    S_STRING(notify, sms_from, "", "the sending number (E.164) or a MessagingServiceSid (MG...)"),
    S_STRING(notify, public_url, "", "the gateway's public base URL (webhooks, unsubscribe, tracking links)"),
    S_INT(notify, sms_per_second, 100, 1, 100000, "SMS sent per second at most, per process"),
    S_INT(notify, email_per_second, 50, 1, 100000, "emails sent per second at most, per process"),
    S_INT(notify, daily_cap, 10000, 0, 100000000, "messages per tenant per day at most (0: no cap)"),
    S_INT(notify, max_attempts, 5, 1, 100, "attempts before a message is dead-lettered"),
    S_INT(notify, retry_base_ms, 1000, 10, S_HOUR_MS, "first retry delay (doubles, with jitter)"),
    S_INT(notify, send_timeout_ms, 10000, 100, 600000, "one SMTP or SMS provider call gives up after this"),
    S_INT(notify, send_batch, 50, 1, 10000, "messages claimed by a sender in one step"),
    S_INT(notify, senders, 2, 1, 16, "sender threads per channel in each process (each its own connection)"),
    S_STRING(notify, time_zone, "UTC", "the tenants' time zone (IANA) for quiet hours, until set per tenant"),
    S_STRING(notify, data_dir, "services/notify/data", "the quiet-hours and time-zone data files"),
    S_STRING(notify, accounts_file, "", "a dealership's own SMS account and mail relay (YAML; \"\": none)"),

    S_INT(reporting, publish_interval_ms, 1000, 100, S_HOUR_MS,
          "changed daily figures are published this often (per tenant at most)"),
    S_INT(reporting, snapshot_page, 1000, 1, 10000, "contacts per Snapshot page while rebuilding"),

    S_STRING(supervisor, services, "gateway contacts leads scoring dedupe notify reporting", "space-separated daemons to run"),
    S_STRING(supervisor, bin_dir, "build/bin", "where crm-<service> binaries live"),
    S_INT(supervisor, backoff_min_ms, 100, 1, S_HOUR_MS, "first restart delay"),
    S_INT(supervisor, backoff_max_ms, 5000, 1, S_HOUR_MS, "restart delay cap"),
    S_INT(supervisor, stop_timeout_ms, 10000, 0, S_HOUR_MS, "SIGTERM grace before SIGKILL"),
};
#define S_KEY_COUNT (sizeof s_keys / sizeof s_keys[0])

//  Pairs of int keys where the first must not exceed the second, checked after loading.
static const struct {
    const char *lower;
    const char *upper;
} s_ordered[] = {
    {"supervisor.backoff_min_ms", "supervisor.backoff_max_ms"},
};

static const char *const s_true_words[] = {"true", "yes", "on"};
static const char *const s_false_words[] = {"false", "no", "off"};
#define S_WORD_COUNT 3

// --------------------------------------------------------------------------------------
//  Messages

//  printf into a new string (caller frees). If that fails, a copy of "out of memory";
//  NULL only if even that fails.
static char *s_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_format(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    char *text = NULL;
    if (vasprintf(&text, fmt, args) < 0)
        text = strdup("out of memory");
    va_end(args);
    return text;
}

//  Keep the first error only: later ones are usually its consequences.
static void s_set_error(char **err, char *message) {
    if (*err)
        free(message);
    else
        *err = message;
}

// --------------------------------------------------------------------------------------
//  The key table

static const s_key_t *s_key_find(const char *section, const char *name) {
    for (size_t i = 0; i < S_KEY_COUNT; i++)
        if (strcmp(s_keys[i].section, section) == 0 && strcmp(s_keys[i].name, name) == 0)
            return &s_keys[i];
    return NULL;
}

//  "gateway.http_port" -> its row.
static const s_key_t *s_key_find_dotted(const char *dotted) {
    for (size_t i = 0; i < S_KEY_COUNT; i++) {
        size_t section_length = strlen(s_keys[i].section);
        if (strncmp(dotted, s_keys[i].section, section_length) == 0 &&
            dotted[section_length] == '.' &&
            strcmp(dotted + section_length + 1, s_keys[i].name) == 0)
            return &s_keys[i];
    }
    return NULL;
}

static bool s_section_known(const char *section) {
    for (size_t i = 0; i < S_KEY_COUNT; i++)
        if (strcmp(s_keys[i].section, section) == 0)
            return true;
    return false;
}

//  The known sections, or the keys of one section, as "a, b, c" (for hints).
static void s_list_names(const char *section, char *out, size_t size) {
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < S_KEY_COUNT; i++) {
        const char *name;
        if (section) {
            if (strcmp(s_keys[i].section, section) != 0)
                continue;
            name = s_keys[i].name;
        } else {
            if (i > 0 && strcmp(s_keys[i - 1].section, s_keys[i].section) == 0)
                continue; //  rows of a section are adjacent
            name = s_keys[i].section;
        }
        int n = snprintf(out + used, size - used, "%s%s", used ? ", " : "", name);
        if (n < 0 || (size_t)n >= size - used)
            return;
        used += (size_t)n;
    }
}

static char **s_string_field(crm_config_t *self, const s_key_t *key) {
    return (char **)((char *)self + key->offset);
}

static int *s_int_field(crm_config_t *self, const s_key_t *key) {
    return (int *)((char *)self + key->offset);
}

static bool *s_bool_field(crm_config_t *self, const s_key_t *key) {
    return (bool *)((char *)self + key->offset);
}

static bool s_word_in(const char *word, const char *const *words, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (strcasecmp(word, words[i]) == 0)
            return true;
    return false;
}

//  True if value is one of the space-separated words in choices.
static bool s_choice_valid(const char *choices, const char *value) {
    size_t length = strlen(value);
    const char *at = choices;
    while (*at) {
        size_t word = strcspn(at, " ");
        if (word == length && length > 0 && strncmp(at, value, length) == 0)
            return true;
        at += word;
        at += strspn(at, " ");
    }
    return false;
}

//  Parse text (length bytes; it may come from YAML with an embedded NUL) for key and
//  store it. Returns 0, or -1 with *problem (caller frees) saying what is wrong.
static int s_key_set(crm_config_t *self, const s_key_t *key, const char *text, size_t length,
                     char **problem) {
    if (strlen(text) != length) {
        *problem =
            s_format("invalid value for %s.%s: it contains a NUL byte", key->section, key->name);
        return -1;
    }
    if (key->type == S_TYPE_STRING) {
        if (key->choices && !s_choice_valid(key->choices, text)) {
            *problem = s_format("invalid value for %s.%s: \"%s\" (expected one of: %s)",
                                key->section, key->name, text, key->choices);
            return -1;
        }
        char *copy = strdup(text);
        if (!copy) {
            *problem = s_format("out of memory");
            return -1;
        }
        char **field = s_string_field(self, key);
        free(*field);
        *field = copy;
        return 0;
    }
    if (key->type == S_TYPE_BOOL) {
        bool *field = s_bool_field(self, key);
        if (s_word_in(text, s_true_words, S_WORD_COUNT))
            *field = true;
        else if (s_word_in(text, s_false_words, S_WORD_COUNT))
            *field = false;
        else {
            *problem = s_format("invalid value for %s.%s: \"%s\" is not a boolean "
                                "(use true/false, yes/no or on/off)",
                                key->section, key->name, text);
            return -1;
        }
        return 0;
    }
    //  S_TYPE_INT: optional sign, decimal digits, nothing else (not even spaces).
    const char *digits = (*text == '-' || *text == '+') ? text + 1 : text;
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (*digits < '0' || *digits > '9' || *end != 0) {
        *problem = s_format("invalid value for %s.%s: \"%s\" is not an integer", key->section,
                            key->name, text);
        return -1;
    }
    if (errno == ERANGE || value < key->min || value > key->max) {
        *problem = s_format("invalid value for %s.%s: %s is out of range (%ld to %ld)",
                            key->section, key->name, text, key->min, key->max);
        return -1;
    }
    *s_int_field(self, key) = (int)value;
    return 0;
}

//  Cross-key rules (s_ordered). Returns 0 or -1 with *err set.
static int s_check_order(crm_config_t *self, char **err) {
    for (size_t i = 0; i < sizeof s_ordered / sizeof s_ordered[0]; i++) {
        const s_key_t *lower = s_key_find_dotted(s_ordered[i].lower);
        const s_key_t *upper = s_key_find_dotted(s_ordered[i].upper);
        assert(lower && upper && lower->type == S_TYPE_INT && upper->type == S_TYPE_INT);
        int lower_value = *s_int_field(self, lower);
        int upper_value = *s_int_field(self, upper);
        if (lower_value > upper_value) {
            s_set_error(err,
                        s_format("invalid configuration: %s (%d) must not exceed %s (%d)",
                                 s_ordered[i].lower, lower_value, s_ordered[i].upper, upper_value));
            return -1;
        }
    }
    return 0;
}

// --------------------------------------------------------------------------------------
//  The YAML file

typedef struct {
    crm_config_t *config;
    const char *path;
    yaml_parser_t parser;
    yaml_event_t event; // the current event, valid when have_event
    bool have_event;
    size_t key_line[S_KEY_COUNT]; // 1-based line where each key was set, 0 if not yet
    char *error;
} s_reader_t;

static void s_reader_error(s_reader_t *self, yaml_mark_t mark, char *problem) {
    s_set_error(&self->error, s_format("%s:%zu:%zu: %s", self->path, mark.line + 1, mark.column + 1,
                                       problem ? problem : "out of memory"));
    free(problem);
}

//  Advance to the next event. Returns 0, or -1 with a syntax error recorded.
static int s_reader_next(s_reader_t *self) {
    if (self->have_event)
        yaml_event_delete(&self->event);
    self->have_event = false;
    if (yaml_parser_parse(&self->parser, &self->event)) {
        self->have_event = true;
        return 0;
    }
    yaml_parser_t *parser = &self->parser;
    const char *problem = parser->problem ? parser->problem : "malformed YAML";
    if (parser->error == YAML_READER_ERROR) //  bad encoding: libyaml knows only the offset
        s_set_error(&self->error, s_format("%s: invalid YAML at byte offset %zu: %s", self->path,
                                           parser->problem_offset, problem));
    else if (parser->context)
        s_reader_error(self, parser->problem_mark,
                       s_format("invalid YAML: %s %s", problem, parser->context));
    else
        s_reader_error(self, parser->problem_mark, s_format("invalid YAML: %s", problem));
    return -1;
}

static bool s_event_is_null(const yaml_event_t *event) {
    if (event->type != YAML_SCALAR_EVENT || event->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *value = (const char *)event->data.scalar.value;
    return !*value || strcmp(value, "~") == 0 || strcasecmp(value, "null") == 0;
}

static const char *s_event_kind(const yaml_event_t *event) {
    switch (event->type) {
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    case YAML_SEQUENCE_START_EVENT:
        return "a list";
    case YAML_ALIAS_EVENT:
        return "an alias (aliases are not supported)";
    default:
        return "a scalar";
    }
}

//  The value of one key: the current event must be a scalar.
static int s_read_value(s_reader_t *self, const s_key_t *key) {
    yaml_event_t *event = &self->event;
    if (event->type != YAML_SCALAR_EVENT) {
        s_reader_error(self, event->start_mark,
                       s_format("value of %s.%s must be a scalar, not %s", key->section, key->name,
                                s_event_kind(event)));
        return -1;
    }
    if (s_event_is_null(event)) {
        s_reader_error(self, event->start_mark,
                       s_format("%s.%s has no value (write \"\" for an empty string, or "
                                "remove the line to keep the default)",
                                key->section, key->name));
        return -1;
    }
    char *problem = NULL;
    if (s_key_set(self->config, key, (const char *)event->data.scalar.value,
                  event->data.scalar.length, &problem)) {
        s_reader_error(self, event->start_mark, problem);
        return -1;
    }
    return 0;
}

//  The keys of one section, after its MAPPING_START, up to and including MAPPING_END.
static int s_read_keys(s_reader_t *self, const char *section) {
    for (;;) {
        if (s_reader_next(self))
            return -1;
        yaml_event_t *event = &self->event;
        if (event->type == YAML_MAPPING_END_EVENT)
            return 0;
        if (event->type != YAML_SCALAR_EVENT) {
            s_reader_error(self, event->start_mark,
                           s_format("expected a key in section \"%s\", found %s", section,
                                    s_event_kind(event)));
            return -1;
        }
        const char *name = (const char *)event->data.scalar.value;
        const s_key_t *key = s_key_find(section, name);
        if (!key) {
            char names[512];
            s_list_names(section, names, sizeof names);
            s_reader_error(self, event->start_mark,
                           s_format("unknown key \"%s\" in section \"%s\" (known keys: %s)", name,
                                    section, names));
            return -1;
        }
        size_t row = (size_t)(key - s_keys);
        if (self->key_line[row]) {
            s_reader_error(self, event->start_mark,
                           s_format("duplicate key %s.%s (first set on line %zu)", section, name,
                                    self->key_line[row]));
            return -1;
        }
        self->key_line[row] = event->start_mark.line + 1;
        if (s_reader_next(self) || s_read_value(self, key))
            return -1;
    }
}

//  The top-level mapping, after its MAPPING_START, up to and including MAPPING_END.
static int s_read_sections(s_reader_t *self) {
    const char *seen[S_KEY_COUNT]; //  sections already read (table strings)
    size_t seen_count = 0;
    for (;;) {
        if (s_reader_next(self))
            return -1;
        yaml_event_t *event = &self->event;
        if (event->type == YAML_MAPPING_END_EVENT)
            return 0;
        if (event->type != YAML_SCALAR_EVENT) {
            s_reader_error(self, event->start_mark,
                           s_format("expected a section name, found %s", s_event_kind(event)));
            return -1;
        }
        const char *name = (const char *)event->data.scalar.value;
        if (!s_section_known(name)) {
            char names[256];
            s_list_names(NULL, names, sizeof names);
            s_reader_error(self, event->start_mark,
                           s_format("unknown section \"%s\" (known sections: %s)", name, names));
            return -1;
        }
        //  Keep the table's copy of the name: the event's goes away on the next read.
        const char *section = NULL;
        for (size_t i = 0; i < S_KEY_COUNT && !section; i++)
            if (strcmp(s_keys[i].section, name) == 0)
                section = s_keys[i].section;
        for (size_t i = 0; i < seen_count; i++)
            if (seen[i] == section) {
                s_reader_error(self, event->start_mark,
                               s_format("duplicate section \"%s\"", section));
                return -1;
            }
        seen[seen_count++] = section;

        if (s_reader_next(self))
            return -1;
        event = &self->event;
        if (event->type == YAML_MAPPING_START_EVENT) {
            if (s_read_keys(self, section))
                return -1;
        } else if (!s_event_is_null(event)) { //  "section:" alone is an empty section
            s_reader_error(self, event->start_mark,
                           s_format("section \"%s\" must be a mapping of key: value, not %s",
                                    section, s_event_kind(event)));
            return -1;
        }
    }
}

//  The whole stream: nothing at all, or one document holding the mapping of sections.
static int s_read_stream(s_reader_t *self) {
    if (s_reader_next(self)) //  STREAM_START
        return -1;
    if (s_reader_next(self))
        return -1;
    if (self->event.type == YAML_STREAM_END_EVENT)
        return 0;            //  empty file, or comments only
    if (s_reader_next(self)) //  past DOCUMENT_START to the root node
        return -1;
    yaml_event_t *event = &self->event;
    if (event->type == YAML_MAPPING_START_EVENT) {
        if (s_read_sections(self))
            return -1;
    } else if (!s_event_is_null(event)) {
        s_reader_error(self, event->start_mark,
                       s_format("expected a mapping of sections (log:, database:, ...), "
                                "found %s",
                                s_event_kind(event)));
        return -1;
    }
    if (s_reader_next(self) || s_reader_next(self)) //  DOCUMENT_END, then the next
        return -1;
    if (self->event.type != YAML_STREAM_END_EVENT) {
        s_reader_error(self, self->event.start_mark,
                       s_format("expected one YAML document, found a second one"));
        return -1;
    }
    return 0;
}

static int s_load_file(crm_config_t *self, const char *path, char **err) {
    FILE *file = fopen(path, "rb");
    if (!file) {
        s_set_error(err, s_format("could not open config file \"%s\": %s", path, strerror(errno)));
        return -1;
    }
    struct stat status;
    if (fstat(fileno(file), &status) == 0 && S_ISDIR(status.st_mode)) {
        s_set_error(err, s_format("could not read config file \"%s\": %s", path, strerror(EISDIR)));
        fclose(file);
        return -1;
    }
    s_reader_t reader = {.config = self, .path = path};
    int rc = -1;
    if (!yaml_parser_initialize(&reader.parser))
        s_set_error(err, s_format("could not read config file \"%s\": out of memory", path));
    else {
        yaml_parser_set_input_file(&reader.parser, file);
        rc = s_read_stream(&reader);
        if (reader.have_event)
            yaml_event_delete(&reader.event);
        yaml_parser_delete(&reader.parser);
        if (rc)
            s_set_error(err, reader.error);
        else
            free(reader.error);
    }
    fclose(file);
    return rc;
}

// --------------------------------------------------------------------------------------
//  Defaults and environment

//  CRM_<SECTION>_<KEY>, upper case.
static void s_env_name(const s_key_t *key, char *out, size_t size) {
    snprintf(out, size, "CRM_%s_%s", key->section, key->name);
    for (char *at = out; *at; at++)
        if (*at >= 'a' && *at <= 'z')
            *at = (char)(*at - 'a' + 'A');
}

static int s_load_defaults(crm_config_t *self, char **err) {
    for (size_t i = 0; i < S_KEY_COUNT; i++) {
        char *problem = NULL;
        const char *text = s_keys[i].default_value;
        if (s_key_set(self, &s_keys[i], text, strlen(text), &problem)) {
            s_set_error(err, s_format("built-in default: %s", problem));
            free(problem);
            return -1;
        }
    }
    return 0;
}

static int s_load_environment(crm_config_t *self, char **err) {
    for (size_t i = 0; i < S_KEY_COUNT; i++) {
        char name[128];
        s_env_name(&s_keys[i], name, sizeof name);
        const char *text = getenv(name);
        if (!text)
            continue;
        char *problem = NULL;
        if (s_key_set(self, &s_keys[i], text, strlen(text), &problem)) {
            s_set_error(err, s_format("environment variable %s: %s", name, problem));
            free(problem);
            return -1;
        }
    }
    return 0;
}

// --------------------------------------------------------------------------------------
//  Public API

const char *crm_config_broker(const crm_config_t *self) {
    return self->broker_local_endpoint && self->broker_local_endpoint[0]
               ? self->broker_local_endpoint
               : self->broker_endpoint;
}

crm_config_t *crm_config_load(const char *path, char **err) {
    char *ignored = NULL;
    if (!err)
        err = &ignored;
    *err = NULL;
    crm_config_t *self = calloc(1, sizeof *self);
    if (!self) {
        *err = s_format("out of memory");
        free(ignored);
        return NULL;
    }
    if (s_load_defaults(self, err) || (path && s_load_file(self, path, err)) ||
        s_load_environment(self, err) || s_check_order(self, err)) {
        crm_config_destroy(&self);
        free(ignored);
        return NULL;
    }
    return self;
}

void crm_config_destroy(crm_config_t **self_p) {
    if (!self_p || !*self_p)
        return;
    crm_config_t *self = *self_p;
    for (size_t i = 0; i < S_KEY_COUNT; i++)
        if (s_keys[i].type == S_TYPE_STRING)
            free(*s_string_field(self, &s_keys[i]));
    free(self);
    *self_p = NULL;
}

//  Write value as a double-quoted YAML/JSON-style string.
static void s_print_quoted(FILE *file, const char *value) {
    fputc('"', file);
    for (const char *at = value; *at; at++) {
        if (*at == '"' || *at == '\\')
            fputc('\\', file);
        fputc(*at, file);
    }
    fputc('"', file);
}

//  A libpq connection string with every password replaced by "***": the keyword form
//  (password=secret, password='a b') and the URI form (postgresql://user:secret@host,
//  ?password=secret). Returns a new string, or NULL if out of memory.
static char *s_dsn_masked(const char *dsn) {
    char *out = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&out, &size);
    if (!stream)
        return NULL;
    const char *userinfo_colon = NULL; //  ':' between user and password in a URI
    const char *userinfo_end = NULL;   //  the '@' after them
    const char *scheme = strstr(dsn, "://");
    if (scheme) {
        const char *authority = scheme + 3;
        size_t authority_length = strcspn(authority, "/?#");
        userinfo_end = memchr(authority, '@', authority_length);
        if (userinfo_end)
            userinfo_colon = memchr(authority, ':', (size_t)(userinfo_end - authority));
    }
    const char *at = dsn;
    while (*at) {
        if (at == userinfo_colon) {
            fputs(":***", stream);
            at = userinfo_end;
            continue;
        }
        if (strncasecmp(at, "password", 8) == 0 && (at == dsn || strchr(" \t?&", at[-1]))) {
            const char *value = at + 8 + strspn(at + 8, " \t");
            if (*value == '=') {
                value++;
                value += strspn(value, " \t");
                const char *end = value;
                if (*end == '\'') { //  quoted: up to the closing quote, \' escapes one
                    for (end++; *end && *end != '\''; end++)
                        if (*end == '\\' && end[1])
                            end++;
                    if (*end)
                        end++;
                } else
                    end += strcspn(end, " \t&");
                fwrite(at, 1, (size_t)(value - at), stream);
                fputs("***", stream);
                at = end;
                continue;
            }
        }
        fputc(*at++, stream);
    }
    if (fclose(stream) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

void crm_config_print(const crm_config_t *self, void *file) {
    FILE *out = file ? (FILE *)file : stdout;
    crm_config_t *defaults = NULL;
    if (!self) { //  no config: show the built-in defaults
        char *problem = NULL;
        defaults = calloc(1, sizeof *defaults);
        if (!defaults || s_load_defaults(defaults, &problem)) {
            free(problem);
            crm_config_destroy(&defaults);
            return;
        }
        self = defaults;
    }
    crm_config_t *config = (crm_config_t *)self; //  the field accessors are not const
    for (size_t i = 0; i < S_KEY_COUNT; i++) {
        const s_key_t *key = &s_keys[i];
        fprintf(out, "%s.%s = ", key->section, key->name);
        if (key->type == S_TYPE_INT)
            fprintf(out, "%d", *s_int_field(config, key));
        else if (key->type == S_TYPE_BOOL)
            fputs(*s_bool_field(config, key) ? "true" : "false", out);
        else {
            const char *value = *s_string_field(config, key);
            char *masked = NULL;
            if (key->secret == S_MASK_DSN && value)
                masked = s_dsn_masked(value);
            else if (key->secret == S_MASK_ALL && value && *value)
                masked = strdup("***");
            s_print_quoted(out, masked ? masked : value ? value : "");
            free(masked);
        }
        fprintf(out, "  # %s\n", key->help);
    }
    crm_config_destroy(&defaults);
}

static void s_print_help(const char *usage) {
    if (usage && *usage)
        fprintf(stdout, "%s%s", usage, usage[strlen(usage) - 1] == '\n' ? "" : "\n");
    else
        fprintf(stdout, "usage: %s [--config PATH] [--help]\n", program_invocation_short_name);
    fputs("\n"
          "options:\n"
          "  --config PATH  read settings from this YAML file (default: $CRM_CONFIG if set,\n"
          "                 else none: built-in defaults and the environment only)\n"
          "  --help         show this text and exit\n"
          "\n"
          "settings, with their defaults (precedence: default < file < environment; any key\n"
          "can be set by the variable CRM_<SECTION>_<KEY>, e.g. CRM_GATEWAY_HTTP_PORT=8081):\n"
          "\n",
          stdout);
    crm_config_print(NULL, stdout);
    fflush(stdout);
}

crm_config_t *crm_config_from_args(int argc, char **argv, const char *usage, int *exit_code) {
    int ignored;
    if (!exit_code)
        exit_code = &ignored;
    *exit_code = 0;
    const char *path = getenv("CRM_CONFIG");
    if (path && !*path)
        path = NULL;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            s_print_help(usage);
            *exit_code = 0;
            return NULL;
        } else if (strcmp(arg, "--config") == 0 && i + 1 < argc && *argv[i + 1])
            path = argv[++i];
        else if (strncmp(arg, "--config=", 9) == 0 && arg[9])
            path = arg + 9;
        else if (strcmp(arg, "--config") == 0 || strcmp(arg, "--config=") == 0) {
            crm_log_kv(CRM_LOG_ERROR, "option --config needs a file name", "hint",
                       "use --config PATH or --config=PATH; --help lists the options", NULL);
            *exit_code = 2;
            return NULL;
        } else {
            char *detail = s_format("unknown argument \"%s\"", arg);
            crm_log_kv(CRM_LOG_ERROR, "invalid command line", "detail", detail, "hint",
                       "--help lists the options", NULL);
            free(detail);
            *exit_code = 2;
            return NULL;
        }
    }
    char *err = NULL;
    crm_config_t *self = crm_config_load(path, &err);
    if (!self) {
        crm_log_kv(CRM_LOG_ERROR, "could not load configuration", "detail", err, "hint",
                   "fix the setting named in the detail; --help lists every key and its default",
                   NULL);
        free(err);
        *exit_code = 1;
        return NULL;
    }
    return self;
}
