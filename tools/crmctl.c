/*  crmctl: the operator's command line.

        crmctl [--config PATH] keys create --tenant T --role R [--name N] [--user U]
                                           [--expires DATE|DURATION]
        crmctl [--config PATH] keys list [--tenant T]
        crmctl [--config PATH] keys revoke KEY_ID
        crmctl [--config PATH] keys rotate KEY_ID [--grace DURATION] [--expires DATE|DURATION]
        crmctl [--config PATH] keys check KEY
        crmctl [--config PATH] certs create NAME --role ROLE[,ROLE...] [--pii false] ...
        crmctl [--config PATH] certs list
        crmctl [--config PATH] events tail [--topic PREFIX] [--from SEQ] [--count N]
        crmctl [--config PATH] reporting rebuild [--mode M] [--timeout SECONDS] [--no-wait]
        crmctl [--config PATH] reporting status
        crmctl [--config PATH] scoring rebuild
        crmctl [--config PATH] contacts export --tenant T --format csv|xlsx [--fields F,...]
                                               [--filter FILTER] [--marketing] -o FILE
        crmctl [--config PATH] contacts import FILE --tenant T [--map M] [--dry-run] ...
        crmctl [--config PATH] contacts import-template --tenant T [--output FILE]

    Commands are a table; each parses its own options. The keys commands work on the
    gateway's database (database.dsn) and hash keys with gateway.key_secret (apikey.h);
    events and reporting talk to the running suite
    through the gateway's event proxy and broker (crmctl_events.c, crmctl_reporting.c).
*/
#include "crmctl.h"
#include "apikey.h"
#include "curve.h"
#include "ids.h"
#include "log.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const crm_migration_t gateway_migrations[];

int crmctl_parse_number(const char *text, long long min, long long max, long long *out) {
    if (!text || !*text || *text == '-' || *text == '+')
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || *end || value < (unsigned long long)min || value > (unsigned long long)max)
        return -1;
    *out = (long long)value;
    return 0;
}

//  Tenants are short slugs: they appear in logs, keys and every table.
static bool s_tenant_valid(const char *t) {
    size_t n = strlen(t);
    if (n == 0 || n > 64)
        return false;
    for (; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') || *t == '-' || *t == '_'))
            return false;
    return true;
}

//  gateway.key_secret into secret: secret, or NULL when none is set (keys are hashed
//  unkeyed, as the gateway then does); *failed when it is malformed.
static const unsigned char *s_secret(crmctl_t *ctl, unsigned char *secret, bool *failed) {
    int state = crm_apikey_secret_parse(ctl->cfg->gateway_key_secret, secret);
    *failed = state < 0;
    if (state < 0)
        fprintf(stderr, "crmctl: gateway.key_secret (CRM_GATEWAY_KEY_SECRET) must be 64 hex "
                        "digits, the gateway's\n");
    return state == 0 ? secret : NULL;
}

//  A duration "90d", "12h", "30m", "45s" into seconds as text (out): 0, or -1.
static int s_duration(const char *text, char *out, size_t size) {
    long long value;
    size_t len = strlen(text);
    if (len < 2)
        return -1;
    char digits[32];
    if (len - 1 >= sizeof digits)
        return -1;
    memcpy(digits, text, len - 1);
    digits[len - 1] = 0;
    long long unit = text[len - 1] == 'd'   ? 86400
                     : text[len - 1] == 'h' ? 3600
                     : text[len - 1] == 'm' ? 60
                     : text[len - 1] == 's' ? 1
                                            : 0;
    if (!unit || crmctl_parse_number(digits, 1, 36500LL * 86400, &value))
        return -1;
    snprintf(out, size, "%lld", value * unit);
    return 0;
}

//  --expires DATE|DURATION as the two texts the statements take: a timestamp (date) or
//  seconds from now (duration), the other "". Checks it names a time to come. 0, or -1.
static int s_expiry(crmctl_t *ctl, const char *text, char *date, char *seconds, size_t size) {
    date[0] = seconds[0] = 0;
    if (!text)
        return 0;
    if (s_duration(text, seconds, size) != 0)
        snprintf(date, size, "%s", text);
    static const crm_stmt_t future = {
        "keys_expiry_check",
        "SELECT coalesce(now() + make_interval(secs => nullif($2, '')::float8),"
        " nullif($1, '')::timestamptz) > now()",
        .nparams = 2, .writes = false};
    const char *params[] = {date, seconds};
    PGresult *res = crm_db_query(ctl->db, &future, params);
    bool ok = res && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!ok) {
        fprintf(stderr, "crmctl: --expires must be a date to come (2027-01-01, "
                        "2027-01-01T12:00Z) or a duration (90d, 12h, 30m)\n");
        return -1;
    }
    return 0;
}

static int s_keys_create(crmctl_t *ctl, int argc, char **argv) {
    crm_db_t *db = ctl->db;
    const char *tenant = NULL, *role = NULL, *name = "", *user = "", *expires = NULL;
    static const struct option options[] = {{"tenant", required_argument, NULL, 't'},
                                            {"role", required_argument, NULL, 'r'},
                                            {"name", required_argument, NULL, 'n'},
                                            {"user", required_argument, NULL, 'u'},
                                            {"expires", required_argument, NULL, 'e'},
                                            {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 't': tenant = optarg; break;
        case 'r': role = optarg; break;
        case 'n': name = optarg; break;
        case 'u': user = optarg; break;
        case 'e': expires = optarg; break;
        default: return 2;
        }
    }
    if (!tenant || !s_tenant_valid(tenant)) {
        fprintf(stderr, "crmctl: --tenant is required: 1 to 64 of a-z 0-9 - _\n");
        return 2;
    }
    if (!role || !crm_role_valid(role)) {
        fprintf(stderr, "crmctl: --role must be admin, manager, sales, analyst or integration\n");
        return 2;
    }
    char date[64], seconds[32];
    if (s_expiry(ctl, expires, date, seconds, sizeof seconds))
        return 2;
    unsigned char secret_bytes[CRM_APIKEY_SECRET_LEN];
    bool failed;
    const unsigned char *secret = s_secret(ctl, secret_bytes, &failed);
    if (failed)
        return 1;
    char key[CRM_APIKEY_LEN + 1], hash[CRM_APIKEY_HASH_LEN + 1], id[CRM_UUID_LEN + 1];
    char prefix[13];
    crm_apikey_generate(key);
    crm_apikey_hash(key, secret, hash);
    crm_uuid_v7(id);
    memcpy(prefix, key, sizeof prefix - 1);
    prefix[sizeof prefix - 1] = 0;
    static const crm_stmt_t insert = {
        "keys_insert",
        "INSERT INTO gateway.api_keys (id, key_hash, hash_scheme, prefix, tenant_id, role,"
        " user_id, name, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce(now() + make_interval(secs =>"
        " nullif($10, '')::float8), nullif($9, '')::timestamptz))",
        .nparams = 10, .writes = true};
    const char *params[] = {id,   hash, secret ? "blake2b-keyed" : "blake2b", prefix, tenant,
                            role, user, name, date, seconds};
    PGresult *res = crm_db_query(db, &insert, params);
    if (!res)
        return 1;
    PQclear(res);
    fprintf(stderr, "created key %s for tenant %s, role %s%s%s (shown once; store it now)\n", id,
            tenant, role, expires ? ", expiring " : "", expires ? expires : "");
    printf("%s\n", key);
    return 0;
}

//  A new key for the same tenant, role, user and name; the old one stays valid for the
//  grace period (--grace, default 24h), then expires.
static int s_keys_rotate(crmctl_t *ctl, int argc, char **argv) {
    const char *grace = "24h", *expires = NULL;
    static const struct option options[] = {{"grace", required_argument, NULL, 'g'},
                                            {"expires", required_argument, NULL, 'e'},
                                            {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 'g')
            grace = optarg;
        else if (c == 'e')
            expires = optarg;
        else
            return 2;
    }
    if (optind != argc - 1 || !crm_uuid_valid(argv[optind])) {
        fprintf(stderr, "crmctl: keys rotate takes one key id (see crmctl keys list)\n");
        return 2;
    }
    const char *old_id = argv[optind];
    char grace_seconds[32], date[64], seconds[32];
    if (strcmp(grace, "0") == 0)
        snprintf(grace_seconds, sizeof grace_seconds, "0");
    else if (s_duration(grace, grace_seconds, sizeof grace_seconds)) {
        fprintf(stderr, "crmctl: --grace must be a duration (24h, 7d, 30m) or 0\n");
        return 2;
    }
    if (s_expiry(ctl, expires, date, seconds, sizeof seconds))
        return 2;
    unsigned char secret_bytes[CRM_APIKEY_SECRET_LEN];
    bool failed;
    const unsigned char *secret = s_secret(ctl, secret_bytes, &failed);
    if (failed)
        return 1;
    char key[CRM_APIKEY_LEN + 1], hash[CRM_APIKEY_HASH_LEN + 1], id[CRM_UUID_LEN + 1];
    char prefix[13];
    crm_apikey_generate(key);
    crm_apikey_hash(key, secret, hash);
    crm_uuid_v7(id);
    memcpy(prefix, key, sizeof prefix - 1);
    prefix[sizeof prefix - 1] = 0;
    static const crm_stmt_t rotate = {
        "keys_rotate",
        "WITH old AS ("
        "  UPDATE gateway.api_keys SET rotated_to = $1::uuid, expires_at = least("
        "    coalesce(expires_at, 'infinity'), now() + make_interval(secs => $5::float8))"
        "  WHERE id = $4::uuid AND revoked_at IS NULL AND rotated_to IS NULL"
        "    AND (expires_at IS NULL OR expires_at > now())"
        "  RETURNING tenant_id, role, user_id, name)"
        " INSERT INTO gateway.api_keys (id, key_hash, hash_scheme, prefix, tenant_id, role,"
        "  user_id, name, expires_at)"
        " SELECT $1::uuid, $2, $3, $6, tenant_id, role, user_id, name,"
        "  coalesce(now() + make_interval(secs => nullif($8, '')::float8),"
        "  nullif($7, '')::timestamptz) FROM old",
        .nparams = 8, .writes = true};
    const char *params[] = {id,     hash, secret ? "blake2b-keyed" : "blake2b", old_id,
                            grace_seconds, prefix, date, seconds};
    PGresult *res = crm_db_query(ctl->db, &rotate, params);
    if (!res)
        return 1;
    int n = atoi(PQcmdTuples(res));
    PQclear(res);
    if (n == 0) {
        fprintf(stderr, "crmctl: no active key %s that was not rotated already\n", old_id);
        return 1;
    }
    fprintf(stderr, "created key %s replacing %s, which stays valid for %s (shown once; store "
                    "it now)\n",
            id, old_id, grace);
    printf("%s\n", key);
    return 0;
}

static int s_keys_list(crmctl_t *ctl, int argc, char **argv) {
    crm_db_t *db = ctl->db;
    const char *tenant = "";
    static const struct option options[] = {{"tenant", required_argument, NULL, 't'},
                                            {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c != 't')
            return 2;
        tenant = optarg;
    }
    static const crm_stmt_t list = {
        "keys_list",
        "SELECT id, prefix || '...', tenant_id, role, user_id, name,"
        " to_char(created_at, 'YYYY-MM-DD HH24:MI'),"
        " coalesce(to_char(revoked_at, 'YYYY-MM-DD HH24:MI'), ''),"
        " coalesce(to_char(expires_at, 'YYYY-MM-DD HH24:MI'), '')"
        " FROM gateway.api_keys WHERE $1 = '' OR tenant_id = $1 ORDER BY created_at",
        .nparams = 1, .writes = false};
    const char *params[] = {tenant};
    PGresult *res = crm_db_query(db, &list, params);
    if (!res)
        return 1;
    printf("%-36s  %-15s  %-16s  %-11s  %-12s  %-16s  %-16s  %s\n", "ID", "KEY", "TENANT",
           "ROLE", "NAME", "CREATED", "EXPIRES", "REVOKED");
    for (int i = 0; i < PQntuples(res); i++)
        printf("%-36s  %-15s  %-16s  %-11s  %-12s  %-16s  %-16s  %s\n", PQgetvalue(res, i, 0),
               PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
               PQgetvalue(res, i, 5), PQgetvalue(res, i, 6), PQgetvalue(res, i, 8),
               PQgetvalue(res, i, 7));
    PQclear(res);
    return 0;
}

static int s_keys_revoke(crmctl_t *ctl, int argc, char **argv) {
    crm_db_t *db = ctl->db;
    if (argc != 2 || !crm_uuid_valid(argv[1])) {
        fprintf(stderr, "crmctl: keys revoke takes one key id (see crmctl keys list)\n");
        return 2;
    }
    static const crm_stmt_t revoke = {
        "keys_revoke",
        "UPDATE gateway.api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
        .nparams = 1, .writes = true};
    const char *params[] = {argv[1]};
    PGresult *res = crm_db_query(db, &revoke, params);
    if (!res)
        return 1;
    int n = atoi(PQcmdTuples(res));
    PQclear(res);
    if (n == 0) {
        fprintf(stderr, "crmctl: no active key %s\n", argv[1]);
        return 1;
    }
    fprintf(stderr, "revoked key %s (gateways stop accepting it within gateway.key_cache_ms)\n",
            argv[1]);
    return 0;
}

static int s_keys_check(crmctl_t *ctl, int argc, char **argv) {
    crm_db_t *db = ctl->db;
    if (argc != 2) {
        fprintf(stderr, "crmctl: keys check takes one key\n");
        return 2;
    }
    if (!crm_apikey_well_formed(argv[1])) {
        fprintf(stderr, "crmctl: not an API key (expected crm_ and 43 characters)\n");
        return 1;
    }
    unsigned char secret_bytes[CRM_APIKEY_SECRET_LEN];
    bool failed;
    const unsigned char *secret = s_secret(ctl, secret_bytes, &failed);
    if (failed)
        return 1;
    char hash[CRM_APIKEY_HASH_LEN + 1], unkeyed[CRM_APIKEY_HASH_LEN + 1];
    crm_apikey_hash(argv[1], secret, hash);
    crm_apikey_hash(argv[1], NULL, unkeyed);
    static const crm_stmt_t check = {
        "keys_check",
        "SELECT id, tenant_id, role FROM gateway.api_keys"
        " WHERE key_hash IN ($1, $2) AND revoked_at IS NULL"
        " AND (expires_at IS NULL OR expires_at > now())",
        .nparams = 2, .writes = false};
    const char *params[] = {hash, unkeyed};
    PGresult *res = crm_db_query(db, &check, params);
    if (!res)
        return 1;
    int found = PQntuples(res) == 1;
    if (found)
        printf("key %s: tenant %s, role %s\n", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
               PQgetvalue(res, 0, 2));
    else
        fprintf(stderr, "crmctl: the key is unknown, revoked or expired\n");
    PQclear(res);
    return found ? 0 : 1;
}

//  Every command: its words, whether it needs the gateway's database, its usage and
//  what it does (for --help).
static const struct {
    const char *group, *name;
    crmctl_command_fn *fn;
    bool needs_db;
    bool needs_bus; // talks to the suite over ZeroMQ: loads crmctl's key pair
    const char *usage, *summary;
} s_commands[] = {
    {"keys", "create", s_keys_create, true, false,
     "keys create --tenant T --role R [--name N] [--user U] [--expires DATE|DURATION]",
     "create an API key for tenant T with role R (admin, manager, sales, analyst,\n"
     "integration); the key is printed once, on stdout. --expires 2027-01-01 or 90d (h, m,\n"
     "s): gateways refuse it from then on. Hashed with gateway.key_secret"},
    {"keys", "list", s_keys_list, true, false, "keys list [--tenant T]",
     "list the API keys (prefix, tenant, role, name, created, expires, revoked)"},
    {"keys", "revoke", s_keys_revoke, true, false, "keys revoke KEY_ID",
     "revoke a key; gateways refuse it within gateway.key_cache_ms"},
    {"keys", "rotate", s_keys_rotate, true, false,
     "keys rotate KEY_ID [--grace DURATION] [--expires DATE|DURATION]",
     "create a new key for the same tenant, role, user and name (printed once); the old\n"
     "one stays valid for --grace (default 24h; 0: refused within gateway.key_cache_ms)"},
    {"keys", "check", s_keys_check, true, false, "keys check KEY", "say whose a key is, if it is active"},
    {"certs", "create", crmctl_certs_create, false, false,
     "certs create NAME --role ROLE[,ROLE...] [--pii false] [--out DIR] [--replace]",
     "make a CurveZMQ key pair: DIR/NAME.key_secret (0600; default security.certs_dir)\n"
     "and NAME.key, registered in security.keys_dir for the gateway. ROLE: worker:SERVICE\n"
     "(a daemon), client[:TENANT[:ROLE/ROLE]] (calls services), subscriber:TENANT|*\n"
     "(receives events); --pii false: events without personal fields. See OPERATIONS.md"},
    {"certs", "list", crmctl_certs_list, false, false, "certs list",
     "list the public keys the gateway admits (security.keys_dir) and their roles"},
    {"events", "tail", crmctl_events_tail, false, true,
     "events tail [--topic PREFIX] [--from SEQ] [--count N]",
     "print events as JSON lines, one per event, from events.subscribe_endpoint;\n"
     "--topic keeps topics starting with PREFIX (\"contacts.\", \"contacts.acme.ContactCreated\":\n"
     "topics are <source>.<tenant>.<Type>);\n"
     "--from SEQ (with --topic naming one source) first replays that source's history from\n"
     "SEQ through broker.endpoint, then follows live without gaps or duplicates;\n"
     "--count N exits after N events. Ctrl-C stops it. See docs/EVENTS.md"},
    {"reporting", "rebuild", crmctl_reporting_rebuild, false, true,
     "reporting rebuild [--mode auto|replay|snapshot] [--timeout SECONDS] [--no-wait]",
     "make the reporting service rebuild its projection from the contacts service (auto:\n"
     "replay every event if contacts still keeps them all, else load a snapshot), then\n"
     "wait until it is done and caught up (default 600 s; --no-wait: only start it);\n"
     "prints the answer, then the final status as JSON"},
    {"reporting", "status", crmctl_reporting_status, false, true, "reporting status",
     "print the reporting service's last or running rebuild as JSON"},
    {"scoring", "rebuild", crmctl_scoring_rebuild, false, true, "scoring rebuild",
     "make the scoring service empty its scores and score every lead again from the\n"
     "leads', contacts' and notify events (each as of its events' times; models kept)"},
    {"contacts", "export", crmctl_contacts_export, false, true,
     "contacts export --tenant T --format csv|xlsx [--fields F,...] [--filter FILTER]\n"
     "        [--marketing] [--timeout SECONDS] -o FILE",
     "export tenant T's contacts to FILE (- for stdout) through broker.endpoint: the\n"
     "columns named by --fields (API names, e.g. firstName,email,customFields.trim), the\n"
     "contacts --filter finds (the list's filters: JSON, or type=customer&tag=vip), with\n"
     "--marketing only those that may be sent marketing email; waits for the export job\n"
     "(default 3600 s), then fetches its parts in order; progress on stderr"},
    {"contacts", "import", crmctl_contacts_import, false, true,
     "contacts import FILE --tenant T [--map \"Header=field,...\"] [--mapping NAME]\n"
     "        [--dry-run] [--policy skip|update|create] [--encoding auto|utf-8|windows-1252|"
     "latin-1]\n        [--delimiter ,|;|tab|auto] [--part-size BYTES]",
     "import contacts from a CSV file (- for stdin) into tenant T: the file is sent in\n"
     "parts, imported by a job whose progress is drawn on stderr, then the summary and the\n"
     "first errors (row, column, rule) are printed; --dry-run says what would happen and\n"
     "writes nothing; a row matching a contact (email, then phone) is skipped, updates it\n"
     "or is created anyway per --policy (default skip). Exit 1 when rows failed"},
    {"notify", "unsubscribe-mail", crmctl_notify_unsubscribe_mail, false, true,
     "notify unsubscribe-mail < MESSAGE",
     "for the mail server's pipe transport: read one email (RFC 5322) on stdin, sent to\n"
     "notify.unsubscribe_mailbox from a marketing email's List-Unsubscribe mailto, and\n"
     "unsubscribe its address through broker.endpoint (the token in its Subject).\n"
     "Exit 0 done, 65 no or bad token (the mail server bounces it), 75 notify did not\n"
     "answer (the mail server tries again later). See docs/OPERATIONS.md"},
    {"contacts", "import-template", crmctl_contacts_import_template, false, true,
     "contacts import-template --tenant T [--output FILE]",
     "write the CSV import template (header row, example row; the tenant's custom fields)"},
};
#define S_COMMANDS (sizeof s_commands / sizeof s_commands[0])

//  One command's usage and summary, indented.
static void s_command_help(FILE *out, size_t i) {
    fprintf(out, "  crmctl %s\n      ", s_commands[i].usage);
    for (const char *c = s_commands[i].summary; *c; c++) {
        if (*c == '\n')
            fputs("\n      ", out);
        else
            fputc(*c, out);
    }
    fputc('\n', out);
}

static int s_usage(FILE *out) {
    fprintf(out, "usage: crmctl [--config PATH] COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < S_COMMANDS; i++)
        s_command_help(out, i);
    fprintf(out,
            "\nsettings: --config PATH or $CRM_CONFIG (config/crm.yaml), overridden by\n"
            "CRM_<SECTION>_<KEY> variables: keys use database.dsn; events use\n"
            "events.subscribe_endpoint and broker.endpoint; reporting uses broker.endpoint.\n");
    return out == stdout ? 0 : 2;
}

//  Is "--help" or "-h" among the command's arguments?
static bool s_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

int main(int argc, char **argv) {
    const char *config_path = getenv("CRM_CONFIG");
    int arg = 1;
    if (arg < argc && strcmp(argv[arg], "--config") == 0 && arg + 1 < argc) {
        config_path = argv[arg + 1];
        arg += 2;
    }
    if (arg < argc && (strcmp(argv[arg], "--help") == 0 || strcmp(argv[arg], "-h") == 0 ||
                       strcmp(argv[arg], "help") == 0))
        return s_usage(stdout);
    if (argc - arg < 2)
        return s_usage(stderr);
    for (size_t i = 0; i < S_COMMANDS; i++) {
        if (strcmp(argv[arg], s_commands[i].group) != 0 ||
            strcmp(argv[arg + 1], s_commands[i].name) != 0)
            continue;
        int command_argc = argc - arg - 1;
        char **command_argv = argv + arg + 1;
        if (s_wants_help(command_argc, command_argv)) {
            printf("usage:\n");
            s_command_help(stdout, i);
            return 0;
        }
        char *err = NULL;
        crm_config_t *cfg = crm_config_load(config_path, &err);
        if (!cfg) {
            fprintf(stderr, "crmctl: %s\n", err);
            free(err);
            return 2;
        }
        crm_log_init("crmctl", CRM_LOG_WARN);
        crmctl_t ctl = {.cfg = cfg, .db = NULL};
        int rc = 1;
        if (s_commands[i].needs_db) {
            ctl.db = crm_db_new(cfg->database_dsn, cfg->database_retry_max_ms);
            crm_db_set_connect_timeout(ctl.db, cfg->database_connect_timeout_ms);
            if (crm_db_connect(ctl.db, cfg->database_connect_timeout_ms) == 0 &&
                crm_db_migrate(ctl.db, "gateway", gateway_migrations) == 0)
                rc = s_commands[i].fn(&ctl, command_argc, command_argv);
        } else if (!s_commands[i].needs_bus || crm_curve_init(cfg, "crmctl") == 0)
            rc = s_commands[i].fn(&ctl, command_argc, command_argv);
        if (rc == 2)
            fprintf(stderr, "usage: crmctl %s\n", s_commands[i].usage);
        crm_db_destroy(&ctl.db);
        crm_config_destroy(&cfg);
        return rc;
    }
    fprintf(stderr, "crmctl: unknown command \"%s %s\"\n", argv[arg], argv[arg + 1]);
    return s_usage(stderr);
}
