/*  config: the suite's settings, from config/crm.yaml (libyaml) with environment overrides.

    Every key has a default in one table (config.c), so a daemon runs with no file at all.
    Precedence: default < file < environment (CRM_<SECTION>_<KEY>, upper case, e.g.
    CRM_GATEWAY_HTTP_PORT=8081). Unknown sections or keys and values of the wrong type
    are rejected with their line and column.
*/
#ifndef CRM_CONFIG_H
#define CRM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    //  log:
    char *log_level;                 // debug | info | warn | error
    //  process:
    char *process_scheduling;        // batch | normal: Linux CPU policy of every thread
    char *daemon_health_listen;      // a daemon's /healthz, /readyz, /metrics (health.h); "": off
    int daemon_health_stall_ms;      // /healthz is 503 when the loop has not turned for this
    //  database:
    char *database_dsn;              // libpq connection string
    int database_connect_timeout_ms; // give up one attempt after this long
    int database_retry_max_ms;       // backoff between attempts grows up to this
    bool database_migrate;           // apply this service's migrations at start
    //  broker:
    char *broker_endpoint;           // where workers and MDP clients connect
    char *broker_local_endpoint;     // also bound by the gateway: same-host peers use it
    int broker_heartbeat_ms;         // MDP heartbeat interval
    int broker_liveness;             // heartbeats missed before a peer is dead
    int broker_default_deadline_ms;  // deadline when a request names none
    int broker_max_frame_bytes;      // larger frames are dropped
    int broker_max_deadline_ms;      // longer deadlines a request asks for are cut to this
    int broker_max_client_queue;     // requests one MDP client may have waiting; more get 503
    int broker_max_queued_bytes;     // bytes of queued request bodies, all clients; more: 503
    //  gateway:
    char *gateway_http_bind;         // address the HTTP server listens on
    int gateway_http_port;
    int gateway_max_body_bytes;      // larger request bodies get 413
    int gateway_max_connections;     // HTTP connections served at once
    int gateway_key_cache_ms;        // how long a verified API key stays cached
    char *gateway_key_secret;        // 64 hex digits keying the API keys' hashes ("": none)
    //  gateway, API requests per key by its role (token bucket; 0 per second: no limit):
    int gateway_rate_admin_per_second;
    int gateway_rate_admin_burst;
    int gateway_rate_manager_per_second;
    int gateway_rate_manager_burst;
    int gateway_rate_sales_per_second;
    int gateway_rate_sales_burst;
    int gateway_rate_analyst_per_second;
    int gateway_rate_analyst_burst;
    int gateway_rate_integration_per_second;
    int gateway_rate_integration_burst;
    //  gateway, raw routes (keyless: webhooks, unsubscribe, tracking):
    int gateway_raw_max_body_bytes;    // larger bodies get 413, before any is forwarded
    int gateway_raw_max_in_flight;     // raw requests served at once; more get 503
    int gateway_raw_client_per_second; // per client address, sustained (0: no limit); 429
    int gateway_raw_client_burst;      // per client address, at once
    char *gateway_raw_client_header;   // header naming the client behind a proxy ("": peer)
    //  events:
    char *events_publish_endpoint;   // the gateway's XSUB: relays publish here
    char *events_subscribe_endpoint; // the gateway's XPUB: subscribers connect here
    char *events_pii_free_endpoint;  // its second XPUB: events scrubbed (pii: false keys)
    int events_xpub_hwm;             // events queued per slow subscriber, then dropped
    int events_xpub_sndbuf_bytes;    // kernel send buffer per subscriber (0: the OS's)
    int events_relay_batch;          // outbox rows claimed and published at once
    int events_relay_delay_ms;       // a relay woken by a commit waits this long
    int events_relay_interval_ms;    // outbox polled this often besides wake-ups
    int events_head_interval_ms;     // how often a source announces its head seq
    int events_retention_days;       // published outbox rows are kept this long
    int events_retention_interval_ms; // how often old rows are deleted
    int events_replay_limit;         // most events in one replay answer
    int events_apply_batch;          // most events a subscriber applies per transaction
    int events_replay_timeout_ms;    // a replay call gives up after this
    //  security (CurveZMQ on every ZeroMQ endpoint, docs/OPERATIONS.md "Keys"):
    bool security_insecure;          // plain-text ZeroMQ (development only; logged)
    char *security_certs_dir;        // this host's key pairs: <process>.key_secret, gateway.key
    char *security_cert;             // this process's key pair ("": <certs_dir>/<process>.key_secret)
    char *security_server_cert;      // the gateway's public key ("": <certs_dir>/gateway.key)
    char *security_keys_dir;         // the gateway: the public keys it admits, with their roles
    //  contacts:
    int contacts_workers;            // worker sockets (requests in flight) per process
    char *contacts_default_region;   // ISO 3166 region for phone numbers without +country
    int contacts_max_batch;          // requests committed together in one transaction
    int contacts_retention_sweep_ms; // how often contacts past their retention are erased
    int contacts_export_part_bytes;  // an export is stored in parts of about this size
    int contacts_export_retention_hours; // an export's parts are deleted after this
    int contacts_export_sweep_interval_ms; // how often expired exports are deleted
    int contacts_merge_undo_days;    // a merge can be undone for this many days
    char *contacts_export_tmp_dir;   // where XLSX files are built ("": $TMPDIR or /tmp)
    bool contacts_duplicate_check;   // creates and imports ask dedupe for duplicates first
    int contacts_dedupe_deadline_ms; // a create's duplicate check: skipped past this
    int contacts_dedupe_import_deadline_ms; // an import chunk's duplicate check: the same
    //  leads:
    int leads_workers;               // worker sockets (requests in flight) per process
    int leads_max_batch;             // requests committed together in one transaction
    int leads_contacts_timeout_ms;   // a call to the contacts service gives up after this
    int leads_scheduler_ms;          // the follow-up scheduler looks for due ones this often
    int leads_scheduler_batch;       // follow-ups fired in one transaction at most
    //  scoring:
    int scoring_workers;             // worker sockets (requests in flight) per process
    int scoring_max_batch;           // requests answered together in one transaction
    char *scoring_model_file;        // the default scoring model (YAML)
    int scoring_decay_interval_ms;   // the decay pass rescores every open lead this often
    int scoring_rescore_poll_ms;     // rescore jobs are looked for this often
    //  dedupe:
    int dedupe_workers;              // worker sockets (requests in flight) per process
    int dedupe_max_batch;            // requests answered together in one transaction
    int dedupe_check_threshold;      // a check lists matches scoring at least this (percent)
    int dedupe_check_limit;          // a check lists at most this many matches
    int dedupe_block_threshold;      // a create scoring at least this is refused (percent)
    char *dedupe_data_dir;           // the nickname list (nicknames.tsv)
    //  notify:
    int notify_workers;              // worker sockets (requests in flight) per process
    int notify_max_batch;            // requests committed together in one transaction
    int notify_call_timeout_ms;      // a call to the contacts or leads service gives up after this
    char *notify_dealership_name;    // what {{dealership.name}} renders as (all tenants)
    char *notify_smtp_url;           // smtp://host:port or smtps://; "": no email
    char *notify_smtp_user;          // SMTP AUTH user ("": no AUTH)
    char *notify_smtp_password;      // SMTP AUTH password
    bool notify_smtp_verify_tls;     // check the SMTP server's certificate
    char *notify_smtp_ca_file;       // CA bundle for it ("": the system's)
    char *notify_mail_from;          // the From address of email
    char *notify_unsubscribe_mailbox;  // List-Unsubscribe mailto address ("": none)
    char *notify_sms_base_url;       // the SMS provider's Messages API base; "": no SMS
    char *notify_sms_account_sid;    // the provider account (Basic auth user)
    char *notify_sms_auth_token;     // its auth token (Basic auth password, webhook signatures)
    char *notify_sms_from;           // sending number (E.164) or MessagingServiceSid
    char *notify_public_url;         // the gateway's public base URL for links and callbacks
    int notify_sms_per_second;       // SMS per second at most, per sender
    int notify_email_per_second;     // emails per second at most, per sender
    int notify_daily_cap;            // messages per tenant per day (0: none)
    int notify_max_attempts;         // attempts before dead-lettering
    int notify_retry_base_ms;        // first retry delay
    int notify_send_timeout_ms;      // one provider call gives up after this
    int notify_send_batch;           // messages claimed per sender step
    int notify_senders;              // sender threads per channel in each process
    char *notify_time_zone;          // the tenants' time zone until set per tenant
    char *notify_data_dir;           // quiet-hours and time-zone data files
    char *notify_accounts_file;      // per-dealership provider accounts ("": none)
    //  reporting:
    int reporting_publish_interval_ms; // changed daily figures are published this often
    int reporting_snapshot_page;     // contacts per Snapshot page while rebuilding
    //  supervisor:
    char *supervisor_services;       // space-separated daemons to run
    char *supervisor_bin_dir;        // where crm-<service> binaries live
    int supervisor_backoff_min_ms;   // first restart delay
    int supervisor_backoff_max_ms;   // restart delay cap
    int supervisor_stop_timeout_ms;  // SIGTERM grace before SIGKILL
} crm_config_t;

//  Load defaults, then the file at path (NULL: none), then the environment.
//  On failure returns NULL and sets *err (caller frees) to a message such as
//  "config/crm.yaml:12:3: unknown key \"htp_port\" in section \"gateway\"".
crm_config_t *crm_config_load(const char *path, char **err);

//  The broker endpoint this process connects to: broker.local_endpoint when set (the
//  gateway runs on this host), else broker.endpoint.
const char *crm_config_broker(const crm_config_t *self);

void crm_config_destroy(crm_config_t **self_p);

//  Print every key with its current value and help text (for --help and docs).
//  Lines read "section.key = value  # help"; file is a FILE * (NULL: stdout); a NULL
//  self prints the built-in defaults. Passwords in database.dsn are printed as ***.
void crm_config_print(const crm_config_t *self, void *file);

//  Standard daemon command line: --config PATH, --help. Returns the config or NULL
//  (after printing the reason) and sets *exit_code when the program should exit.
//  Exit codes: 0 after --help (usage and every key with its default on stdout), 2 for a
//  bad command line, 1 when the configuration does not load (reasons are logged as JSON
//  lines on stderr). Without --config, the file named by $CRM_CONFIG is read, if set.
crm_config_t *crm_config_from_args(int argc, char **argv, const char *usage, int *exit_code);

#endif
