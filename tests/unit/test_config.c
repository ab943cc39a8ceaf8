/*  Unit tests for config.h: defaults, the YAML file, environment overrides, every kind of
    error with its file:line:column, printing, and the daemon command line.

    Each test writes its YAML into a private mkdtemp directory that teardown removes, and
    every CRM_* variable is cleared before each test so the caller's environment cannot
    leak in.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

extern char **environ;

typedef struct {
    char dir[64];
    char path[128]; //  the test's config file, DIR/crm.yaml
} s_fixture_t;

//  Remove every CRM_* variable (collect names first: unsetenv changes environ).
static void s_clear_crm_environment(void) {
    char *names[256];
    size_t count = 0;
    for (char **entry = environ; *entry && count < 256; entry++)
        if (strncmp(*entry, "CRM_", 4) == 0)
            names[count++] = strndup(*entry, strcspn(*entry, "="));
    for (size_t i = 0; i < count; i++) {
        unsetenv(names[i]);
        free(names[i]);
    }
}

static int s_setup(void **state) {
    s_fixture_t *self = calloc(1, sizeof *self);
    if (!self)
        return -1;
    strcpy(self->dir, "/tmp/test_config.XXXXXX");
    if (!mkdtemp(self->dir))
        return -1;
    snprintf(self->path, sizeof self->path, "%s/crm.yaml", self->dir);
    s_clear_crm_environment();
    *state = self;
    return 0;
}

static int s_teardown(void **state) {
    s_fixture_t *self = *state;
    unlink(self->path);
    rmdir(self->dir);
    free(self);
    s_clear_crm_environment();
    return 0;
}

static const char *s_write(s_fixture_t *self, const char *yaml) {
    FILE *file = fopen(self->path, "w");
    assert_non_null(file);
    fputs(yaml, file);
    fclose(file);
    return self->path;
}

//  Load yaml and expect an error; returns it (caller frees).
static char *s_load_error(s_fixture_t *self, const char *yaml) {
    char *err = NULL;
    crm_config_t *config = crm_config_load(s_write(self, yaml), &err);
    if (config) {
        crm_config_destroy(&config);
        fail_msg("expected an error for:\n%s", yaml);
    }
    assert_non_null(err);
    return err;
}

//  Expect err to equal "PATH:" followed by rest.
static void s_assert_error_at(s_fixture_t *self, const char *err, const char *rest) {
    char expected[1024];
    snprintf(expected, sizeof expected, "%s:%s", self->path, rest);
    if (strncmp(err, expected, strlen(expected)) != 0)
        fail_msg("error\n  \"%s\"\ndoes not start with\n  \"%s\"", err, expected);
}

// --------------------------------------------------------------------------------------
//  Capturing stdout or stderr into a temporary file

typedef struct {
    int fd; //  STDOUT_FILENO or STDERR_FILENO
    int saved;
    char path[64];
} s_capture_t;

static void s_capture_start(s_capture_t *self, int fd) {
    self->fd = fd;
    strcpy(self->path, "/tmp/test_config_out.XXXXXX");
    int file = mkstemp(self->path);
    assert_true(file >= 0);
    fflush(stdout);
    fflush(stderr);
    self->saved = dup(fd);
    dup2(file, fd);
    close(file);
}

static char *s_capture_end(s_capture_t *self) {
    fflush(stdout);
    fflush(stderr);
    dup2(self->saved, self->fd);
    close(self->saved);
    FILE *file = fopen(self->path, "rb");
    assert_non_null(file);
    char *text = calloc(1, 1 << 16);
    assert_non_null(text);
    size_t size = fread(text, 1, (1 << 16) - 1, file);
    text[size] = 0;
    fclose(file);
    unlink(self->path);
    return text;
}

// --------------------------------------------------------------------------------------
//  Loading

static void test_defaults_without_file(void **state) {
    (void)state;
    char *err = NULL;
    crm_config_t *config = crm_config_load(NULL, &err);
    assert_non_null(config);
    assert_null(err);
    assert_string_equal(config->log_level, "info");
    assert_string_equal(config->process_scheduling, "batch");
    assert_string_equal(config->database_dsn, "dbname=crm");
    assert_int_equal(config->database_connect_timeout_ms, 5000);
    assert_int_equal(config->database_retry_max_ms, 5000);
    assert_true(config->database_migrate);
    assert_string_equal(config->broker_endpoint, "tcp://127.0.0.1:5555");
    assert_string_equal(config->broker_local_endpoint, "");
    assert_string_equal(crm_config_broker(config), "tcp://127.0.0.1:5555");
    assert_int_equal(config->broker_heartbeat_ms, 2500);
    assert_int_equal(config->broker_liveness, 3);
    assert_int_equal(config->broker_default_deadline_ms, 5000);
    assert_int_equal(config->broker_max_frame_bytes, 2097152);
    assert_string_equal(config->gateway_http_bind, "127.0.0.1");
    assert_int_equal(config->gateway_http_port, 8080);
    assert_int_equal(config->gateway_max_body_bytes, 1048576);
    assert_int_equal(config->gateway_max_connections, 1024);
    assert_int_equal(config->gateway_key_cache_ms, 10000);
    assert_int_equal(config->gateway_raw_max_body_bytes, 65536);
    assert_int_equal(config->gateway_raw_max_in_flight, 64);
    assert_int_equal(config->gateway_rate_admin_per_second, 100);
    assert_int_equal(config->gateway_rate_sales_burst, 100);
    assert_int_equal(config->gateway_rate_integration_burst, 1000);
    assert_int_equal(config->gateway_raw_client_per_second, 50);
    assert_int_equal(config->gateway_raw_client_burst, 200);
    assert_string_equal(config->gateway_raw_client_header, "");
    assert_int_equal(config->events_relay_delay_ms, 40);
    assert_int_equal(config->events_relay_interval_ms, 250);
    assert_int_equal(config->contacts_workers, 16);
    assert_string_equal(config->contacts_default_region, "US");
    assert_int_equal(config->contacts_max_batch, 64);
    assert_int_equal(config->contacts_merge_undo_days, 30);
    assert_int_equal(config->contacts_retention_sweep_ms, 3600000);
    assert_int_equal(config->leads_workers, 8);
    assert_int_equal(config->leads_max_batch, 64);
    assert_int_equal(config->leads_contacts_timeout_ms, 2000);
    assert_int_equal(config->leads_scheduler_ms, 500);
    assert_int_equal(config->leads_scheduler_batch, 1000);
    assert_int_equal(config->scoring_workers, 4);
    assert_int_equal(config->scoring_max_batch, 64);
    assert_string_equal(config->scoring_model_file, "config/scoring.yaml");
    assert_int_equal(config->scoring_decay_interval_ms, 86400000);
    assert_int_equal(config->scoring_rescore_poll_ms, 1000);
    assert_int_equal(config->dedupe_workers, 4);
    assert_int_equal(config->dedupe_max_batch, 64);
    assert_int_equal(config->dedupe_check_threshold, 50);
    assert_int_equal(config->dedupe_check_limit, 10);
    assert_int_equal(config->dedupe_block_threshold, 75);
    assert_true(config->contacts_duplicate_check);
    assert_int_equal(config->contacts_dedupe_deadline_ms, 50);
    assert_int_equal(config->contacts_dedupe_import_deadline_ms, 2000);
    assert_string_equal(config->dedupe_data_dir, "services/dedupe/data");
    assert_int_equal(config->reporting_publish_interval_ms, 1000);
    assert_int_equal(config->reporting_snapshot_page, 1000);
    assert_false(config->security_insecure);
    assert_string_equal(config->security_certs_dir, "var/certs");
    assert_string_equal(config->security_cert, "");
    assert_string_equal(config->security_server_cert, "");
    assert_string_equal(config->security_keys_dir, "var/keys");
    assert_string_equal(config->events_pii_free_endpoint, "tcp://127.0.0.1:5558");
    assert_string_equal(config->supervisor_services, "gateway contacts leads scoring dedupe notify reporting");
    assert_string_equal(config->supervisor_bin_dir, "build/bin");
    assert_int_equal(config->supervisor_backoff_min_ms, 100);
    assert_int_equal(config->supervisor_backoff_max_ms, 5000);
    assert_int_equal(config->supervisor_stop_timeout_ms, 10000);
    crm_config_destroy(&config);
    assert_null(config);
    crm_config_destroy(&config); //  idempotent
}

static void test_file_values(void **state) {
    s_fixture_t *self = *state;
    const char *path = s_write(self, "# a comment\n"
                                     "log:\n"
                                     "  level: debug\n"
                                     "database:\n"
                                     "  dsn: 'host=db dbname=crm_test'\n"
                                     "  migrate: no\n"
                                     "gateway:\n"
                                     "  http_port: 9000   # trailing comment\n"
                                     "  http_bind: \"0.0.0.0\"\n"
                                     "contacts:\n"
                                     "  default_region: GB\n"
                                     "supervisor:\n"
                                     "  services: gateway contacts leads\n"
                                     "  bin_dir: \"\"\n");
    char *err = NULL;
    crm_config_t *config = crm_config_load(path, &err);
    if (!config)
        fail_msg("unexpected error: %s", err);
    assert_string_equal(config->log_level, "debug");
    assert_string_equal(config->database_dsn, "host=db dbname=crm_test");
    assert_false(config->database_migrate);
    assert_int_equal(config->gateway_http_port, 9000);
    assert_string_equal(config->gateway_http_bind, "0.0.0.0");
    assert_string_equal(config->contacts_default_region, "GB");
    assert_string_equal(config->supervisor_services, "gateway contacts leads");
    assert_string_equal(config->supervisor_bin_dir, ""); //  explicit empty string
    //  Keys the file does not name keep their defaults.
    assert_int_equal(config->gateway_max_connections, 1024);
    assert_int_equal(config->broker_liveness, 3);
    crm_config_destroy(&config);
}

static void test_booleans(void **state) {
    s_fixture_t *self = *state;
    static const struct {
        const char *text;
        bool value;
    } words[] = {{"true", true},   {"yes", true}, {"on", true},   {"True", true},
                 {"false", false}, {"no", false}, {"off", false}, {"OFF", false}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        char yaml[64];
        snprintf(yaml, sizeof yaml, "database:\n  migrate: %s\n", words[i].text);
        char *err = NULL;
        crm_config_t *config = crm_config_load(s_write(self, yaml), &err);
        assert_non_null(config);
        if (config->database_migrate != words[i].value)
            fail_msg("\"%s\" read as %d", words[i].text, config->database_migrate);
        crm_config_destroy(&config);
    }
}

static void test_empty_file_and_empty_section(void **state) {
    s_fixture_t *self = *state;
    static const char *yamls[] = {"", "# only a comment\n", "---\n", "log:\n", "log: ~\n"};
    for (size_t i = 0; i < sizeof yamls / sizeof yamls[0]; i++) {
        char *err = NULL;
        crm_config_t *config = crm_config_load(s_write(self, yamls[i]), &err);
        if (!config)
            fail_msg("\"%s\": unexpected error %s", yamls[i], err);
        assert_string_equal(config->log_level, "info");
        crm_config_destroy(&config);
    }
}

//  Peers connect through broker.local_endpoint when it is set, else broker.endpoint.
static void test_broker_local_endpoint(void **state) {
    s_fixture_t *self = *state;
    const char *path = s_write(self, "broker:\n"
                                     "  endpoint: \"tcp://10.0.0.5:5555\"\n"
                                     "  local_endpoint: \"ipc:///run/crm/broker\"\n");
    char *err = NULL;
    crm_config_t *config = crm_config_load(path, &err);
    if (!config)
        fail_msg("unexpected error: %s", err);
    assert_string_equal(crm_config_broker(config), "ipc:///run/crm/broker");
    crm_config_destroy(&config);
    setenv("CRM_BROKER_LOCAL_ENDPOINT", "", 1);  //  emptied: back to the tcp endpoint
    config = crm_config_load(path, &err);
    unsetenv("CRM_BROKER_LOCAL_ENDPOINT");
    if (!config)
        fail_msg("unexpected error: %s", err);
    assert_string_equal(crm_config_broker(config), "tcp://10.0.0.5:5555");
    crm_config_destroy(&config);
}

static void test_env_overrides(void **state) {
    s_fixture_t *self = *state;
    const char *path = s_write(self, "gateway:\n"
                                     "  http_port: 9000\n"
                                     "  max_connections: 8\n"
                                     "database:\n"
                                     "  migrate: true\n");
    setenv("CRM_GATEWAY_HTTP_PORT", "8081", 1);
    setenv("CRM_DATABASE_DSN", "host=/tmp dbname=other", 1);
    setenv("CRM_DATABASE_MIGRATE", "off", 1);
    setenv("CRM_LOG_LEVEL", "error", 1);
    setenv("CRM_GATEWAY_HTTP_BIND", "", 1); //  set but empty: an empty string
    char *err = NULL;
    crm_config_t *config = crm_config_load(path, &err);
    if (!config)
        fail_msg("unexpected error: %s", err);
    assert_int_equal(config->gateway_http_port, 8081); //  environment beats the file
    assert_int_equal(config->gateway_max_connections, 8); //  file beats the default
    assert_string_equal(config->database_dsn, "host=/tmp dbname=other");
    assert_false(config->database_migrate);
    assert_string_equal(config->log_level, "error");
    assert_string_equal(config->gateway_http_bind, "");
    crm_config_destroy(&config);

    //  Also with no file at all.
    config = crm_config_load(NULL, &err);
    assert_non_null(config);
    assert_int_equal(config->gateway_http_port, 8081);
    crm_config_destroy(&config);
}

// --------------------------------------------------------------------------------------
//  Errors, each with its position

static void test_unknown_section(void **state) {
    s_fixture_t *self = *state;
    char *err = s_load_error(self, "log:\n"
                                   "  level: info\n"
                                   "gatway:\n"
                                   "  http_port: 80\n");
    s_assert_error_at(self, err, "3:1: unknown section \"gatway\"");
    assert_non_null(strstr(err, "gateway")); //  the hint lists the real ones
    free(err);
}

static void test_unknown_key(void **state) {
    s_fixture_t *self = *state;
    char *err = s_load_error(self, "gateway:\n"
                                   "  http_port: 8081\n"
                                   "  htp_port: 8082\n");
    s_assert_error_at(self, err, "3:3: unknown key \"htp_port\" in section \"gateway\"");
    assert_non_null(strstr(err, "http_port"));
    free(err);

    //  A key that exists, but in another section.
    err = s_load_error(self, "log:\n    http_port: 1\n");
    s_assert_error_at(self, err, "2:5: unknown key \"http_port\" in section \"log\"");
    free(err);
}

static void test_bad_int(void **state) {
    s_fixture_t *self = *state;
    char *err = s_load_error(self, "gateway:\n  http_port: eighty\n");
    s_assert_error_at(self, err,
                      "2:14: invalid value for gateway.http_port: \"eighty\" is not an integer");
    free(err);
    static const char *not_ints[] = {"80.5", "0x50", "80abc", "\" 80\"", "1e3", "''"};
    for (size_t i = 0; i < sizeof not_ints / sizeof not_ints[0]; i++) {
        char yaml[64];
        snprintf(yaml, sizeof yaml, "gateway:\n  http_port: %s\n", not_ints[i]);
        err = s_load_error(self, yaml);
        if (!strstr(err, "is not an integer"))
            fail_msg("%s: %s", not_ints[i], err);
        free(err);
    }
}

static void test_int_out_of_range(void **state) {
    s_fixture_t *self = *state;
    char *err = s_load_error(self, "gateway:\n  http_port: 70000\n");
    s_assert_error_at(self, err,
                      "2:14: invalid value for gateway.http_port: 70000 is out of range "
                      "(0 to 65535)");
    free(err);
    //  Counts must be at least 1; sizes and times are never negative.
    err = s_load_error(self, "contacts:\n  workers: 0\n");
    s_assert_error_at(self, err, "2:12: invalid value for contacts.workers: 0 is out of range");
    free(err);
    err = s_load_error(self, "supervisor:\n  stop_timeout_ms: -1\n");
    s_assert_error_at(self, err, "2:20: invalid value for supervisor.stop_timeout_ms: -1 is out");
    free(err);
    err = s_load_error(self, "broker:\n  max_frame_bytes: 99999999999999999999999\n");
    s_assert_error_at(self, err,
                      "2:20: invalid value for broker.max_frame_bytes: "
                      "99999999999999999999999 is out of range");
    free(err);
    //  The bounds themselves are allowed.
    char *ok_err = NULL;
    crm_config_t *config =
        crm_config_load(s_write(self, "gateway:\n  http_port: 65535\n"), &ok_err);
    assert_non_null(config);
    assert_int_equal(config->gateway_http_port, 65535);
    crm_config_destroy(&config);
}

static void test_bad_bool(void **state) {
    s_fixture_t *self = *state;
    char *err = s_load_error(self, "database:\n  migrate: maybe\n");
    s_assert_error_at(self, err,
                      "2:12: invalid value for database.migrate: \"maybe\" is not a "
                      "boolean (use true/false, yes/no or on/off)");
    free(err);
    err = s_load_error(self, "database:\n  migrate: 1\n");
    assert_non_null(strstr(err, "is not a boolean"));
    free(err);
}

static void test_bad_choice(void **state) {
    s_fixture_t *self = *state;
    char *err = s_load_error(self, "log:\n  level: verbose\n");
    s_assert_error_at(self, err,
                      "2:10: invalid value for log.level: \"verbose\" (expected one "
                      "of: debug info warn error)");
    free(err);
    err = s_load_error(self, "process:\n  scheduling: fifo\n");
    s_assert_error_at(self, err,
                      "2:15: invalid value for process.scheduling: \"fifo\" (expected one "
                      "of: batch normal)");
    free(err);
}

static void test_non_scalar_value(void **state) {
    s_fixture_t *self = *state;
    char *err = s_load_error(self, "gateway:\n  http_port: [8080, 8081]\n");
    s_assert_error_at(self, err, "2:14: value of gateway.http_port must be a scalar, not a list");
    free(err);
    err = s_load_error(self, "gateway:\n  http_bind:\n    host: 127.0.0.1\n");
    s_assert_error_at(self, err, "3:5: value of gateway.http_bind must be a scalar, not a mapping");
    free(err);
    err = s_load_error(self, "gateway: 8080\n");
    s_assert_error_at(self, err, "1:10: section \"gateway\" must be a mapping of key: value");
    free(err);
    err = s_load_error(self, "- log\n- gateway\n");
    s_assert_error_at(self, err, "1:1: expected a mapping of sections");
    free(err);
    err = s_load_error(self, "x: &a 1\ngateway:\n  http_port: *a\n");
    assert_non_null(strstr(err, "unknown section \"x\""));
    free(err);
    err = s_load_error(self, "gateway:\n  http_port: &p 1\n  max_connections: *p\n");
    s_assert_error_at(self, err,
                      "3:20: value of gateway.max_connections must be a scalar, not an "
                      "alias");
    free(err);
}

static void test_null_and_duplicate(void **state) {
    s_fixture_t *self = *state;
    char *err = s_load_error(self, "gateway:\n  http_bind:\n  http_port: 1\n");
    s_assert_error_at(self, err, "2:13: gateway.http_bind has no value");
    free(err);
    err = s_load_error(self, "gateway:\n  http_port: 1\n  http_port: 2\n");
    s_assert_error_at(self, err, "3:3: duplicate key gateway.http_port (first set on line 2)");
    free(err);
    err = s_load_error(self, "log:\n  level: info\nlog:\n  level: debug\n");
    s_assert_error_at(self, err, "3:1: duplicate section \"log\"");
    free(err);
    //  YAML can smuggle a NUL into a string; C strings cannot hold it.
    err = s_load_error(self, "database:\n  dsn: \"dbname=crm\\0x\"\n");
    s_assert_error_at(self, err, "2:8: invalid value for database.dsn: it contains a NUL byte");
    free(err);
}

static void test_yaml_syntax_error(void **state) {
    s_fixture_t *self = *state;
    //  An unclosed quote: libyaml's own words, at its position.
    char *err = s_load_error(self, "gateway:\n  http_bind: \"127.0.0.1\n  http_port: 1\n");
    s_assert_error_at(self, err, "4:1: invalid YAML: found unexpected end of stream");
    free(err);
    //  Bad indentation.
    err = s_load_error(self, "gateway:\n  http_port: 1\n max_connections: 2\n");
    s_assert_error_at(self, err, "3:2: invalid YAML: did not find expected key");
    free(err);
    //  A tab where indentation is expected.
    err = s_load_error(self, "gateway:\n\thttp_port: 1\n");
    s_assert_error_at(self, err, "2:1: invalid YAML: found character that cannot start any token");
    free(err);
    //  Two documents.
    err = s_load_error(self, "log:\n  level: info\n---\nlog:\n  level: debug\n");
    s_assert_error_at(self, err, "3:1: expected one YAML document");
    free(err);
    //  Not UTF-8: the reader knows only the byte offset.
    err = s_load_error(self, "log:\n  level: \xff\n");
    char expected[256];
    snprintf(expected, sizeof expected,
             "%s: invalid YAML at byte offset 14: invalid leading UTF-8 octet", self->path);
    assert_string_equal(err, expected);
    free(err);
}

static void test_missing_file(void **state) {
    s_fixture_t *self = *state;
    char path[200];
    snprintf(path, sizeof path, "%s/nope.yaml", self->dir);
    char *err = NULL;
    crm_config_t *config = crm_config_load(path, &err);
    assert_null(config);
    char expected[300];
    snprintf(expected, sizeof expected,
             "could not open config file \"%s\": No such file or directory", path);
    assert_string_equal(err, expected);
    free(err);
    //  A NULL err is allowed; the message is then dropped.
    assert_null(crm_config_load(path, NULL));

    //  A directory opens but cannot be read as a file.
    assert_null(crm_config_load(self->dir, &err));
    snprintf(expected, sizeof expected, "could not read config file \"%s\": Is a directory",
             self->dir);
    assert_string_equal(err, expected);
    free(err);
}

static void test_bad_env_value(void **state) {
    (void)state;
    setenv("CRM_GATEWAY_HTTP_PORT", "abc", 1);
    char *err = NULL;
    assert_null(crm_config_load(NULL, &err));
    assert_string_equal(err, "environment variable CRM_GATEWAY_HTTP_PORT: invalid value for "
                             "gateway.http_port: \"abc\" is not an integer");
    free(err);
    unsetenv("CRM_GATEWAY_HTTP_PORT");

    setenv("CRM_CONTACTS_WORKERS", "100000", 1);
    assert_null(crm_config_load(NULL, &err));
    assert_string_equal(err, "environment variable CRM_CONTACTS_WORKERS: invalid value for "
                             "contacts.workers: 100000 is out of range (1 to 1024)");
    free(err);
    unsetenv("CRM_CONTACTS_WORKERS");

    setenv("CRM_DATABASE_MIGRATE", "perhaps", 1);
    assert_null(crm_config_load(NULL, &err));
    assert_non_null(strstr(err, "CRM_DATABASE_MIGRATE"));
    assert_non_null(strstr(err, "is not a boolean"));
    free(err);
}

static void test_cross_key_rule(void **state) {
    s_fixture_t *self = *state;
    char *err = s_load_error(self, "supervisor:\n  backoff_min_ms: 6000\n");
    assert_string_equal(err, "invalid configuration: supervisor.backoff_min_ms (6000) must not "
                             "exceed supervisor.backoff_max_ms (5000)");
    free(err);
}

// --------------------------------------------------------------------------------------
//  Printing

static void test_print(void **state) {
    (void)state;
    setenv("CRM_DATABASE_DSN", "host=db user=crm password=s3cret dbname=crm", 1);
    setenv("CRM_NOTIFY_SMS_AUTH_TOKEN", "t0ken-s3cret", 1);
    crm_config_t *config = crm_config_load(NULL, NULL);
    assert_non_null(config);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    crm_config_print(config, out);
    fclose(out);

    assert_non_null(strstr(text, "log.level = \"info\"  # "));
    assert_non_null(strstr(text, "\ngateway.http_port = 8080  # "));
    assert_non_null(strstr(text, "\ndatabase.migrate = true  # "));
    assert_non_null(strstr(text, "\nsupervisor.services = \"gateway contacts leads scoring dedupe notify reporting\"  # "));
    //  Passwords never reach the output.
    assert_non_null(strstr(text, "database.dsn = \"host=db user=crm password=*** dbname=crm\""));
    assert_null(strstr(text, "s3cret"));
    //  A password key is masked whole, and only when set.
    assert_non_null(strstr(text, "notify.sms_auth_token = \"***\""));
    assert_non_null(strstr(text, "notify.smtp_password = \"\""));
    unsetenv("CRM_NOTIFY_SMS_AUTH_TOKEN");
    //  One line per key, each "section.key = value  # help".
    size_t lines = 0;
    for (char *line = text; *line; line = strchr(line, '\n') + 1) {
        lines++;
        char *end = strchr(line, '\n');
        assert_non_null(end);
        char *equals = strstr(line, " = ");
        char *hash = strstr(line, "  # ");
        assert_true(equals && equals < end && hash && hash < end && equals < hash);
        assert_non_null(memchr(line, '.', (size_t)(equals - line)));
    }
    assert_int_equal(lines, 119);
    free(text);
    crm_config_destroy(&config);

    //  The URI form of a DSN is masked too.
    setenv("CRM_DATABASE_DSN", "postgresql://crm:hunter2@db:5432/crm?sslmode=require", 1);
    config = crm_config_load(NULL, NULL);
    out = open_memstream(&text, &size);
    crm_config_print(config, out);
    fclose(out);
    assert_non_null(strstr(text, "\"postgresql://crm:***@db:5432/crm?sslmode=require\""));
    assert_null(strstr(text, "hunter2"));
    free(text);
    crm_config_destroy(&config);
}

//  config/crm.yaml in the repository loads, equals the built-in defaults and names every
//  key (so the documented file never drifts from the table).
static void test_shipped_file_matches_defaults(void **state) {
    (void)state;
    char path[512];
    const char *source = __FILE__; //  .../tests/unit/test_config.c
    const char *tail = strstr(source, "tests/unit/test_config.c");
    assert_non_null(tail);
    snprintf(path, sizeof path, "%.*sconfig/crm.yaml", (int)(tail - source), source);
    if (access(path, R_OK) != 0)
        skip(); //  run from outside the source tree

    char *err = NULL;
    crm_config_t *shipped = crm_config_load(path, &err);
    if (!shipped)
        fail_msg("%s", err);
    crm_config_t *defaults = crm_config_load(NULL, NULL);
    char *shipped_text = NULL;
    char *defaults_text = NULL;
    size_t size;
    FILE *out = open_memstream(&shipped_text, &size);
    crm_config_print(shipped, out);
    fclose(out);
    out = open_memstream(&defaults_text, &size);
    crm_config_print(defaults, out);
    fclose(out);
    assert_string_equal(shipped_text, defaults_text);

    //  Every "section.key" of the printout appears in the file as "\n  key:".
    FILE *file = fopen(path, "r");
    assert_non_null(file);
    char *yaml = calloc(1, 1 << 16);
    assert_non_null(yaml);
    size_t yaml_size = fread(yaml, 1, (1 << 16) - 1, file);
    yaml[yaml_size] = 0;
    fclose(file);
    for (char *line = defaults_text; *line; line = strchr(line, '\n') + 1) {
        char *dot = strchr(line, '.');
        char *space = strchr(line, ' ');
        char needle[80];
        snprintf(needle, sizeof needle, "\n  %.*s:", (int)(space - dot - 1), dot + 1);
        if (!strstr(yaml, needle))
            fail_msg("config/crm.yaml does not list %.*s", (int)(space - line), line);
    }
    free(yaml);
    free(shipped_text);
    free(defaults_text);
    crm_config_destroy(&shipped);
    crm_config_destroy(&defaults);
}

// --------------------------------------------------------------------------------------
//  Command line

static crm_config_t *s_from_args(int argc, char **argv, int *exit_code) {
    *exit_code = -1;
    return crm_config_from_args(argc, argv, "usage: crm-test [--config PATH] [--help]\n",
                                exit_code);
}

static void test_args_config(void **state) {
    s_fixture_t *self = *state;
    const char *path = s_write(self, "gateway:\n  http_port: 9001\n");
    int exit_code;

    char *separate[] = {"crm-test", "--config", (char *)path, NULL};
    crm_config_t *config = s_from_args(3, separate, &exit_code);
    assert_non_null(config);
    assert_int_equal(exit_code, 0);
    assert_int_equal(config->gateway_http_port, 9001);
    crm_config_destroy(&config);

    char joined_arg[200];
    snprintf(joined_arg, sizeof joined_arg, "--config=%s", path);
    char *joined[] = {"crm-test", joined_arg, NULL};
    config = s_from_args(2, joined, &exit_code);
    assert_non_null(config);
    assert_int_equal(config->gateway_http_port, 9001);
    crm_config_destroy(&config);

    //  No arguments: no file, defaults and environment only.
    char *none[] = {"crm-test", NULL};
    config = s_from_args(1, none, &exit_code);
    assert_non_null(config);
    assert_int_equal(config->gateway_http_port, 8080);
    crm_config_destroy(&config);

    //  CRM_CONFIG names the file when --config is absent ...
    setenv("CRM_CONFIG", path, 1);
    config = s_from_args(1, none, &exit_code);
    assert_non_null(config);
    assert_int_equal(config->gateway_http_port, 9001);
    crm_config_destroy(&config);

    //  ... and --config wins over it.
    char other[200];
    snprintf(other, sizeof other, "%s/other.yaml", self->dir);
    FILE *file = fopen(other, "w");
    assert_non_null(file);
    fputs("gateway:\n  http_port: 9002\n", file);
    fclose(file);
    char *override[] = {"crm-test", "--config", other, NULL};
    config = s_from_args(3, override, &exit_code);
    assert_non_null(config);
    assert_int_equal(config->gateway_http_port, 9002);
    crm_config_destroy(&config);
    unlink(other);
}

static void test_args_help(void **state) {
    (void)state;
    setenv("CRM_GATEWAY_HTTP_PORT", "1234", 1); //  --help shows defaults, not the environment
    int exit_code;
    char *argv[] = {"crm-test", "--help", NULL};
    s_capture_t capture;
    s_capture_start(&capture, STDOUT_FILENO);
    crm_config_t *config = s_from_args(2, argv, &exit_code);
    char *text = s_capture_end(&capture);
    assert_null(config);
    assert_int_equal(exit_code, 0);
    assert_true(strncmp(text, "usage: crm-test [--config PATH] [--help]\n", 41) == 0);
    assert_non_null(strstr(text, "CRM_<SECTION>_<KEY>"));
    assert_non_null(strstr(text, "\ngateway.http_port = 8080  # "));
    assert_non_null(strstr(text, "\ncontacts.default_region = \"US\"  # "));
    assert_null(strstr(text, "1234"));
    free(text);

    //  --help wins even after a bad argument would have been seen later.
    char *first[] = {"crm-test", "--help", "--bogus", NULL};
    s_capture_start(&capture, STDOUT_FILENO);
    config = s_from_args(3, first, &exit_code);
    free(s_capture_end(&capture));
    assert_null(config);
    assert_int_equal(exit_code, 0);
}

static void test_args_errors(void **state) {
    s_fixture_t *self = *state;
    int exit_code;
    s_capture_t capture;

    char *unknown[] = {"crm-test", "--verbose", NULL};
    s_capture_start(&capture, STDERR_FILENO);
    crm_config_t *config = s_from_args(2, unknown, &exit_code);
    char *text = s_capture_end(&capture);
    assert_null(config);
    assert_int_equal(exit_code, 2);
    assert_non_null(strstr(text, "unknown argument \\\"--verbose\\\"")); //  a JSON log line
    free(text);

    char *positional[] = {"crm-test", "extra", NULL};
    s_capture_start(&capture, STDERR_FILENO);
    config = s_from_args(2, positional, &exit_code);
    free(s_capture_end(&capture));
    assert_null(config);
    assert_int_equal(exit_code, 2);

    char *no_path[] = {"crm-test", "--config", NULL};
    s_capture_start(&capture, STDERR_FILENO);
    config = s_from_args(2, no_path, &exit_code);
    text = s_capture_end(&capture);
    assert_null(config);
    assert_int_equal(exit_code, 2);
    assert_non_null(strstr(text, "--config needs a file name"));
    free(text);

    //  A file that does not load: the reason is printed, exit code 1.
    const char *path = s_write(self, "gateway:\n  htp_port: 1\n");
    char *bad[] = {"crm-test", "--config", (char *)path, NULL};
    s_capture_start(&capture, STDERR_FILENO);
    config = s_from_args(3, bad, &exit_code);
    text = s_capture_end(&capture);
    assert_null(config);
    assert_int_equal(exit_code, 1);
    assert_non_null(strstr(text, "could not load configuration"));
    assert_non_null(strstr(text, "2:3: unknown key \\\"htp_port\\\" in section \\\"gateway\\\""));
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_without_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_file_values, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_booleans, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_empty_file_and_empty_section, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_broker_local_endpoint, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_env_overrides, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_section, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_int, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_int_out_of_range, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_bool, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_choice, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_non_scalar_value, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_null_and_duplicate, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_yaml_syntax_error, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_env_value, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cross_key_rule, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_print, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_shipped_file_matches_defaults, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_args_config, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_args_help, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_args_errors, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
