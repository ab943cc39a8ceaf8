/*  System tests of the shared core: common/db (migrations, prepared statements, errors,
    text arrays, reconnects, pipelining) against a private PostgreSQL, and common/service
    (method tables, group commit, rollback of failed requests, idempotency keys) serving
    an in-test method table through the real broker.

    Every test makes its own schema or tenant, so the tests do not depend on each other's
    order. Read them as usage examples of db.h and service.h. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "bus_client.h"
#include "common.pb-c.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "service.h"

static harness_t *h;

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    //  The test serves a service of its own ("coretest"): its key must be that worker's.
    harness_use_cert("coretest", "worker:coretest");
    //  Expected failures (broken migrations, constraint violations) log errors: keep
    //  the output to what matters.
    crm_log_init("systest_core", CRM_LOG_WARN);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

// --- helpers ---------------------------------------------------------------------------

//  A connected handle on the private database, resolving names in schema (NULL: public).
static crm_db_t *s_db_open(const char *schema) {
    crm_db_t *db = crm_db_new(h->dsn, 1000);
    assert_non_null(db);
    assert_int_equal(crm_db_connect(db, 5000), 0);
    if (schema)
        crm_db_set_schema(db, schema);
    return db;
}

//  The first value of a query with up to two text parameters, as a string in out ("" when
//  there is no row, "<null>" for SQL NULL, "<error>" when it failed).
static const char *s_value(crm_db_t *db, const char *sql, const char *p1, const char *p2, char *out,
                           size_t size) {
    const char *params[] = {p1, p2};
    int nparams = p2 ? 2 : p1 ? 1 : 0;
    PGresult *res = PQexecParams(crm_db_conn(db), sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        snprintf(out, size, "<error>");
    else if (PQntuples(res) == 0)
        snprintf(out, size, "%s", "");
    else
        snprintf(out, size, "%s", PQgetisnull(res, 0, 0) ? "<null>" : PQgetvalue(res, 0, 0));
    PQclear(res);
    return out;
}

//  Whether a table exists, by qualified name.
static bool s_table_exists(crm_db_t *db, const char *qualified) {
    char out[64];
    return strcmp(
               s_value(db, "SELECT to_regclass($1) IS NOT NULL", qualified, NULL, out, sizeof out),
               "t") == 0;
}

//  The versions recorded in schema's schema_migrations, as "1,2,3".
static const char *s_versions(crm_db_t *db, const char *schema, char *out, size_t size) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(string_agg(version::text, ',' ORDER BY version), '')"
             " FROM %s.schema_migrations",
             schema);
    return s_value(db, sql, NULL, NULL, out, size);
}

// --- db: migrations --------------------------------------------------------------------

//  Unqualified names in a migration land in the migrated schema. Migration 1 has no IF
//  NOT EXISTS: running it twice would fail, so a successful rerun proves it was skipped.
static const crm_migration_t s_migrations[] = {
    {1, "0001_people", "CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL)"},
    {2, "0002_cars", "CREATE TABLE cars (vin text PRIMARY KEY, owner int REFERENCES people)"},
    {3, "0003_people_email", "ALTER TABLE people ADD COLUMN email text"},
    {4, "0004_broken",
     "CREATE TABLE dealers (id int); INSERT INTO dealers VALUES (1);"
     " SELECT no_such_column FROM dealers"},
    {5, "0005_after_broken", "CREATE TABLE after_broken (id int)"},
};

//  Migrate schema with the first n of s_migrations.
static int s_migrate_first(crm_db_t *db, const char *schema, size_t n) {
    crm_migration_t list[8] = {{0}};
    assert_true(n < sizeof list / sizeof list[0]);
    memcpy(list, s_migrations, n * sizeof *list); // then the {0, NULL, NULL} terminator
    return crm_db_migrate(db, schema, list);
}

static void test_db_migrate(void **state) {
    (void)state;
    crm_db_t *db = s_db_open(NULL);
    char out[64];
    assert_false(s_table_exists(db, "coretest_migrate.schema_migrations"));

    //  A fresh schema: created, both migrations applied and recorded, in that schema.
    assert_int_equal(s_migrate_first(db, "coretest_migrate", 2), 0);
    assert_true(s_table_exists(db, "coretest_migrate.people"));
    assert_true(s_table_exists(db, "coretest_migrate.cars"));
    assert_false(s_table_exists(db, "public.people"));
    assert_string_equal(s_versions(db, "coretest_migrate", out, sizeof out), "1,2");
    assert_string_equal(s_value(db,
                                "SELECT name FROM coretest_migrate.schema_migrations"
                                " WHERE version = 2",
                                NULL, NULL, out, sizeof out),
                        "0002_cars");

    //  Again: nothing to apply, success.
    assert_int_equal(s_migrate_first(db, "coretest_migrate", 2), 0);
    assert_string_equal(s_versions(db, "coretest_migrate", out, sizeof out), "1,2");

    //  A third migration: only it runs.
    assert_int_equal(s_migrate_first(db, "coretest_migrate", 3), 0);
    assert_string_equal(s_versions(db, "coretest_migrate", out, sizeof out), "1,2,3");
    assert_string_equal(s_value(db,
                                "SELECT count(*) FROM information_schema.columns"
                                " WHERE table_schema = 'coretest_migrate'"
                                " AND table_name = 'people' AND column_name = 'email'",
                                NULL, NULL, out, sizeof out),
                        "1");

    //  A broken migration fails and leaves no trace: its table (created before the error)
    //  is gone, its version unrecorded, and the migrations after it are not applied.
    assert_int_equal(s_migrate_first(db, "coretest_migrate", 5), -1);
    assert_false(s_table_exists(db, "coretest_migrate.dealers"));
    assert_false(s_table_exists(db, "coretest_migrate.after_broken"));
    assert_string_equal(s_versions(db, "coretest_migrate", out, sizeof out), "1,2,3");
    //  The handle is out of the failed transaction and the advisory lock is free.
    assert_false(crm_db_failed(db));
    crm_db_t *other = s_db_open(NULL);
    assert_string_equal(s_value(other, "SELECT pg_try_advisory_lock(hashtext($1))",
                                "coretest_migrate", NULL, out, sizeof out),
                        "t");
    assert_string_equal(s_value(other, "SELECT pg_advisory_unlock(hashtext($1))",
                                "coretest_migrate", NULL, out, sizeof out),
                        "t");
    crm_db_destroy(&other);
    assert_int_equal(crm_db_exec(db, "DROP SCHEMA coretest_migrate CASCADE"), 0);
    crm_db_destroy(&db);
    assert_null(db);
}

//  Several processes starting at once migrate a schema once between them.
typedef struct {
    pthread_t thread;
    int rc;
} s_migrator_t;

static void *s_migrator_run(void *arg) {
    s_migrator_t *self = arg;
    crm_db_t *db = crm_db_new(h->dsn, 1000);
    self->rc = crm_db_connect(db, 5000) == 0 ? s_migrate_first(db, "coretest_race", 3) : -2;
    crm_db_destroy(&db);
    return NULL;
}

static void test_db_migrate_concurrent(void **state) {
    (void)state;
    s_migrator_t migrators[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&migrators[i].thread, NULL, s_migrator_run, &migrators[i]),
                         0);
    for (int i = 0; i < 4; i++) {
        pthread_join(migrators[i].thread, NULL);
        assert_int_equal(migrators[i].rc, 0);
    }
    crm_db_t *db = s_db_open(NULL);
    char out[64];
    assert_string_equal(s_versions(db, "coretest_race", out, sizeof out), "1,2,3");
    assert_int_equal(crm_db_exec(db, "DROP SCHEMA coretest_race CASCADE"), 0);
    crm_db_destroy(&db);
}

// --- db: statements, errors, transactions ----------------------------------------------

//  The tables of the statement tests, in schema coretest_db.
static void s_db_schema(crm_db_t *db) {
    assert_int_equal(crm_db_exec(db, "CREATE SCHEMA IF NOT EXISTS coretest_db;"
                                     "CREATE TABLE IF NOT EXISTS coretest_db.accounts ("
                                     " id int PRIMARY KEY, email text NOT NULL,"
                                     " CONSTRAINT accounts_email_key UNIQUE (email));"
                                     "CREATE TABLE IF NOT EXISTS coretest_db.events ("
                                     " id int PRIMARY KEY, note text NOT NULL);"
                                     "CREATE TABLE IF NOT EXISTS coretest_db.lists ("
                                     " id int PRIMARY KEY, items text[] NOT NULL)"),
                     0);
}

static const crm_stmt_t s_account_insert = {
    "core_account_insert", "INSERT INTO accounts (id, email) VALUES ($1, $2)", 2, true, false};
static const crm_stmt_t s_account_get = {
    "core_account_get", "SELECT email FROM accounts WHERE id = $1", 1, false, false};
static const crm_stmt_t s_account_search = {
    "core_account_search", "SELECT id FROM accounts WHERE email LIKE $1 ORDER BY id", 1, false,
    true};
static const crm_stmt_t s_prepared_count = {
    "core_prepared_count", "SELECT count(*) FROM pg_prepared_statements WHERE name = $1", 1, false,
    false};

//  The first value of a named statement's result ("" without rows, "<error>" on failure).
static const char *s_stmt_value(crm_db_t *db, const crm_stmt_t *stmt, const char *const *params,
                                char *out, size_t size) {
    PGresult *res = crm_db_query(db, stmt, params);
    if (!res)
        snprintf(out, size, "<error>");
    else
        snprintf(out, size, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return out;
}

static void test_db_statements(void **state) {
    (void)state;
    crm_db_t *db = s_db_open("coretest_db");
    s_db_schema(db);
    char out[128];
    assert_string_equal(s_value(db, "SHOW plan_cache_mode", NULL, NULL, out, sizeof out),
                        "force_generic_plan");

    //  Writes are counted; reads are not.
    unsigned long writes = crm_db_writes(db);
    const char *ann[] = {"1", "ann@example.com"};
    PGresult *res = crm_db_query(db, &s_account_insert, ann);
    assert_non_null(res);
    assert_string_equal(PQcmdTuples(res), "1");
    PQclear(res);
    const char *bob[] = {"2", "bob@example.com"};
    res = crm_db_query(db, &s_account_insert, bob);
    assert_non_null(res);
    PQclear(res);
    assert_int_equal(crm_db_writes(db), writes + 2);

    //  One statement, prepared once on the connection, run with other values each time.
    const char *one[] = {"1"}, *two[] = {"2"}, *three[] = {"3"};
    assert_string_equal(s_stmt_value(db, &s_account_get, one, out, sizeof out), "ann@example.com");
    assert_string_equal(s_stmt_value(db, &s_account_get, two, out, sizeof out), "bob@example.com");
    assert_string_equal(s_stmt_value(db, &s_account_get, three, out, sizeof out), "");
    const char *get_name[] = {"core_account_get"};
    assert_string_equal(s_stmt_value(db, &s_prepared_count, get_name, out, sizeof out), "1");
    //  A custom-plan statement is planned at each run and never prepared.
    const char *pattern[] = {"%@example.com"};
    res = crm_db_query(db, &s_account_search, pattern);
    assert_non_null(res);
    assert_int_equal(PQntuples(res), 2);
    assert_string_equal(PQgetvalue(res, 1, 0), "2");
    PQclear(res);
    const char *search_name[] = {"core_account_search"};
    assert_string_equal(s_stmt_value(db, &s_prepared_count, search_name, out, sizeof out), "0");
    assert_int_equal(crm_db_writes(db), writes + 2);

    //  A unique violation names its SQLSTATE and constraint; a failed write is no write.
    const char *dup_email[] = {"3", "ann@example.com"};
    assert_null(crm_db_query(db, &s_account_insert, dup_email));
    assert_string_equal(crm_db_sqlstate(db), "23505");
    assert_string_equal(crm_db_constraint(db), "accounts_email_key");
    const char *dup_id[] = {"1", "other@example.com"};
    assert_null(crm_db_query(db, &s_account_insert, dup_id));
    assert_string_equal(crm_db_sqlstate(db), "23505");
    assert_string_equal(crm_db_constraint(db), "accounts_pkey");
    const char *no_email[] = {"4", NULL};
    assert_null(crm_db_query(db, &s_account_insert, no_email));
    assert_string_equal(crm_db_sqlstate(db), "23502");
    assert_int_equal(crm_db_writes(db), writes + 2);
    //  The statement still works after its failures.
    const char *cy[] = {"5", "cy@example.com"};
    res = crm_db_query(db, &s_account_insert, cy);
    assert_non_null(res);
    PQclear(res);
    assert_int_equal(crm_db_writes(db), writes + 3);
    assert_int_equal(crm_db_exec(db, "DELETE FROM accounts WHERE id IN (1, 2, 5)"), 0);
    crm_db_destroy(&db);
}

//  A savepoint undoes one failed step without losing the transaction; a rollback undoes
//  everything.
static void test_db_transactions(void **state) {
    (void)state;
    crm_db_t *db = s_db_open("coretest_db");
    s_db_schema(db);
    char out[64];
    assert_int_equal(crm_db_begin(db), 0);
    const char *first[] = {"10", "first@example.com"};
    PGresult *res = crm_db_query(db, &s_account_insert, first);
    assert_non_null(res);
    PQclear(res);
    assert_int_equal(crm_db_savepoint(db, "step"), 0);
    const char *dup[] = {"10", "again@example.com"};
    assert_null(crm_db_query(db, &s_account_insert, dup));
    assert_true(crm_db_failed(db));
    assert_int_equal(crm_db_rollback_to(db, "step"), 0);
    assert_false(crm_db_failed(db));
    const char *second[] = {"11", "second@example.com"};
    res = crm_db_query(db, &s_account_insert, second);
    assert_non_null(res);
    PQclear(res);
    assert_int_equal(crm_db_release(db, "step"), 0);
    assert_int_equal(crm_db_commit(db), 0);
    assert_string_equal(s_value(db,
                                "SELECT string_agg(email, ' ' ORDER BY id) FROM accounts"
                                " WHERE id BETWEEN 10 AND 19",
                                NULL, NULL, out, sizeof out),
                        "first@example.com second@example.com");

    assert_int_equal(crm_db_begin(db), 0);
    const char *third[] = {"12", "third@example.com"};
    res = crm_db_query(db, &s_account_insert, third);
    assert_non_null(res);
    PQclear(res);
    assert_int_equal(crm_db_rollback(db), 0);
    assert_string_equal(s_value(db, "SELECT count(*) FROM accounts WHERE id BETWEEN 10 AND 19",
                                NULL, NULL, out, sizeof out),
                        "2");
    //  Errors outside a transaction leave nothing to roll back.
    assert_int_equal(crm_db_exec(db, "SELECT no_such_column FROM accounts"), -1);
    assert_string_equal(crm_db_sqlstate(db), "42703");
    assert_false(crm_db_failed(db));
    assert_int_equal(crm_db_exec(db, "DELETE FROM accounts WHERE id BETWEEN 10 AND 19"), 0);
    crm_db_destroy(&db);
}

//  crm_db_text_array builds a literal that PostgreSQL reads back as the same strings.
static void test_db_text_array(void **state) {
    (void)state;
    crm_db_t *db = s_db_open("coretest_db");
    s_db_schema(db);
    const char *items[] = {
        "plain",       "with \"quotes\"",
        "back\\slash", "trailing\\",
        "a,b",         "{braces}",
        " spaces in ", "",
        "NULL",        "\"",
        "\\\"",        "x}\",{\"y",
    };
    size_t n = sizeof items / sizeof items[0];
    char *literal = crm_db_text_array(items, n);
    assert_non_null(literal);
    static const crm_stmt_t insert = {"core_list_insert",
                                      "INSERT INTO lists (id, items) VALUES ($1, $2::text[])", 2,
                                      true, false};
    static const crm_stmt_t list_read = {
        "core_list_read",
        "SELECT item IS NULL, item FROM lists, unnest(items) WITH ORDINALITY AS u(item, n)"
        " WHERE id = $1 ORDER BY n",
        1, false, false};
    const char *params[] = {"1", literal};
    PGresult *res = crm_db_query(db, &insert, params);
    assert_non_null(res);
    PQclear(res);
    free(literal);
    const char *id[] = {"1"};
    res = crm_db_query(db, &list_read, id);
    assert_non_null(res);
    assert_int_equal(PQntuples(res), n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(PQgetvalue(res, (int)i, 0), "f");
        assert_string_equal(PQgetvalue(res, (int)i, 1), items[i]);
    }
    PQclear(res);

    //  No items: an empty array.
    literal = crm_db_text_array(NULL, 0);
    assert_string_equal(literal, "{}");
    const char *empty[] = {"2", literal};
    res = crm_db_query(db, &insert, empty);
    assert_non_null(res);
    PQclear(res);
    free(literal);
    char out[16];
    assert_string_equal(s_value(db, "SELECT cardinality(items) FROM lists WHERE id = 2", NULL, NULL,
                                out, sizeof out),
                        "0");
    assert_int_equal(crm_db_exec(db, "DELETE FROM lists WHERE id IN (1, 2)"), 0);
    crm_db_destroy(&db);
}

// --- db: reconnect ---------------------------------------------------------------------

static void test_db_reconnect(void **state) {
    (void)state;
    crm_db_t *db = s_db_open("coretest_db");
    s_db_schema(db);
    assert_int_equal(crm_db_exec(db, "CREATE TABLE IF NOT EXISTS marker (v text);"
                                     "TRUNCATE marker; INSERT INTO marker VALUES ('here')"),
                     0);
    //  Unqualified: found through the handle's schema.
    static const crm_stmt_t marker = {"core_marker", "SELECT v FROM marker", 0, false, false};
    char out[64];
    assert_string_equal(s_stmt_value(db, &marker, NULL, out, sizeof out), "here");
    assert_true(crm_db_ok(db));

    //  The server ends the session (an administrator, a failover, a restart).
    char pid[16];
    snprintf(pid, sizeof pid, "%d", PQbackendPID(crm_db_conn(db)));
    crm_db_t *admin = s_db_open(NULL);
    assert_string_equal(
        s_value(admin, "SELECT pg_terminate_backend($1::int, 5000)", pid, NULL, out, sizeof out),
        "t");
    crm_db_destroy(&admin);

    assert_null(crm_db_query(db, &marker, NULL));
    assert_false(crm_db_ok(db));
    assert_true(crm_db_failed(db));

    //  Reconnect: the statement is prepared again and the schema still applies.
    assert_int_equal(crm_db_connect(db, 0), 0);
    assert_true(crm_db_ok(db));
    assert_int_not_equal(PQbackendPID(crm_db_conn(db)), atoi(pid));
    assert_string_equal(s_stmt_value(db, &marker, NULL, out, sizeof out), "here");
    const char *name[] = {"core_marker"};
    assert_string_equal(s_stmt_value(db, &s_prepared_count, name, out, sizeof out), "1");
    assert_string_equal(s_value(db, "SHOW plan_cache_mode", NULL, NULL, out, sizeof out),
                        "force_generic_plan");
    assert_int_equal(crm_db_exec(db, "DROP TABLE marker"), 0);
    crm_db_destroy(&db);
}

// --- db: pipeline ----------------------------------------------------------------------

static const crm_stmt_t s_event_insert = {
    "core_event_insert", "INSERT INTO events (id, note) VALUES ($1, $2) RETURNING note", 2, true,
    false};
static const crm_stmt_t s_event_count = {
    "core_event_count", "SELECT count(*) FROM events WHERE id BETWEEN $1 AND $2", 2, false, false};
static const crm_stmt_t s_event_touch = {
    "core_event_touch", "UPDATE events SET note = $2 WHERE id = $1", 2, true, false};

//  What the callbacks saw, in the order they ran: "label=first value" or "label=NULL".
typedef struct {
    char seen[8][32];
    int n;
} s_trace_t;

typedef struct {
    s_trace_t *trace;
    const char *label;
} s_step_t;

static void s_on_result(crm_db_t *db, PGresult *res, void *arg) {
    (void)db;
    s_step_t *step = arg;
    s_trace_t *trace = step->trace;
    if (trace->n < 8)
        snprintf(trace->seen[trace->n], sizeof trace->seen[0], "%s=%s", step->label,
                 !res             ? "NULL"
                 : PQntuples(res) ? PQgetvalue(res, 0, 0)
                                  : "none");
    trace->n++;
}

//  End the pipeline's transaction at a sync point, wait for it and leave pipeline mode;
//  0 when it committed, -1 when it did not.
static void s_on_sync(crm_db_t *db, bool ok, void *arg) {
    (void)db;
    *(int *)arg = ok ? 0 : -1;
}

static int s_pipeline_commit(crm_db_t *db) {
    int rc = 1;
    crm_db_pipeline_sync(db, s_on_sync, &rc);
    crm_db_pipeline_wait(db);
    crm_db_pipeline_close(db);
    return rc;
}

static void test_db_pipeline(void **state) {
    (void)state;
    crm_db_t *db = s_db_open("coretest_db");
    s_db_schema(db);
    crm_db_t *other = s_db_open("coretest_db");
    char out[64];
    s_trace_t trace = {0};
    s_step_t a = {&trace, "a"}, b = {&trace, "b"}, c = {&trace, "c"}, count = {&trace, "count"};
    unsigned long writes = crm_db_writes(db);

    //  Outside a pipeline, the callback runs before crm_db_query_async returns.
    const char *range[] = {"100", "199"};
    assert_int_equal(crm_db_query_async(db, &s_event_count, range, s_on_result, &count), 0);
    assert_int_equal(trace.n, 1);
    assert_string_equal(trace.seen[0], "count=0");
    trace.n = 0;

    assert_int_equal(crm_db_pipeline_open(db), 0);
    const char *pa[] = {"101", "a"}, *pb[] = {"102", "b"}, *pc[] = {"103", "c"};
    assert_int_equal(crm_db_query_async(db, &s_event_insert, pa, s_on_result, &a), 0);
    assert_int_equal(crm_db_query_async(db, &s_event_insert, pb, s_on_result, &b), 0);
    assert_int_equal(trace.n, 0); // queued, not run

    //  A synchronous query runs the queued callbacks first, then answers, inside the
    //  pipeline's transaction.
    PGresult *res = crm_db_query(db, &s_event_count, range);
    assert_non_null(res);
    assert_string_equal(PQgetvalue(res, 0, 0), "2");
    PQclear(res);
    assert_int_equal(trace.n, 2);
    assert_string_equal(trace.seen[0], "a=a");
    assert_string_equal(trace.seen[1], "b=b");
    //  Not committed yet: another session sees nothing.
    assert_string_equal(s_value(other, "SELECT count(*) FROM events WHERE id BETWEEN 100 AND 199",
                                NULL, NULL, out, sizeof out),
                        "0");

    assert_int_equal(crm_db_query_async(db, &s_event_insert, pc, s_on_result, &c), 0);
    crm_db_pipeline_wait(db);
    assert_int_equal(trace.n, 3);
    assert_string_equal(trace.seen[2], "c=c");
    assert_int_equal(crm_db_query_async(db, &s_event_count, range, s_on_result, &count), 0);
    assert_int_equal(s_pipeline_commit(db), 0);
    assert_int_equal(trace.n, 4);
    assert_string_equal(trace.seen[3], "count=3");
    assert_int_equal(crm_db_writes(db), writes + 3);
    assert_string_equal(s_value(other,
                                "SELECT string_agg(note, '' ORDER BY id) FROM events"
                                " WHERE id BETWEEN 100 AND 199",
                                NULL, NULL, out, sizeof out),
                        "abc");

    //  Out of the pipeline, the handle works as before.
    assert_string_equal(s_stmt_value(db, &s_event_count, range, out, sizeof out), "3");
    assert_int_equal(crm_db_exec(db, "DELETE FROM events WHERE id BETWEEN 100 AND 199"), 0);
    crm_db_destroy(&other);
    crm_db_destroy(&db);
}

//  One failed statement fails the whole pipeline: nothing of it is committed.
static void test_db_pipeline_failure(void **state) {
    (void)state;
    crm_db_t *db = s_db_open("coretest_db");
    s_db_schema(db);
    crm_db_t *other = s_db_open("coretest_db");
    assert_int_equal(crm_db_exec(db, "INSERT INTO events VALUES (200, 'existing')"), 0);
    char out[64];
    s_trace_t trace = {0};
    s_step_t x = {&trace, "x"}, y = {&trace, "y"}, z = {&trace, "z"}, t = {&trace, "touch"};

    assert_int_equal(crm_db_pipeline_open(db), 0);
    const char *px[] = {"201", "x"}, *py[] = {"200", "y"}, *pz[] = {"202", "z"};
    const char *pt[] = {"200", "touched"};
    assert_int_equal(crm_db_query_async(db, &s_event_insert, px, s_on_result, &x), 0);
    assert_int_equal(crm_db_query_async(db, &s_event_insert, py, s_on_result, &y), 0);
    assert_int_equal(crm_db_query_async(db, &s_event_insert, pz, s_on_result, &z), 0);
    //  First use of this statement: its prepare is queued after the failure too.
    assert_int_equal(crm_db_query_async(db, &s_event_touch, pt, s_on_result, &t), 0);
    assert_int_equal(s_pipeline_commit(db), -1);
    assert_int_equal(trace.n, 4);
    assert_string_equal(trace.seen[0], "x=x");
    assert_string_equal(trace.seen[1], "y=NULL");
    assert_string_equal(trace.seen[2], "z=NULL");
    assert_string_equal(trace.seen[3], "touch=NULL");
    assert_string_equal(crm_db_sqlstate(db), "23505");
    assert_string_equal(crm_db_constraint(db), "events_pkey");
    assert_false(crm_db_failed(db));
    assert_string_equal(s_value(other,
                                "SELECT string_agg(id || ':' || note, ' ' ORDER BY id) FROM events"
                                " WHERE id BETWEEN 200 AND 299",
                                NULL, NULL, out, sizeof out),
                        "200:existing");

    //  The handle is usable again, and the statement whose prepare was skipped works.
    const char *range[] = {"200", "299"};
    assert_string_equal(s_stmt_value(db, &s_event_count, range, out, sizeof out), "1");
    PGresult *res = crm_db_query(db, &s_event_touch, pt);
    assert_non_null(res);
    assert_string_equal(PQcmdTuples(res), "1");
    PQclear(res);

    //  A synchronous statement failing inside a pipeline fails it the same way.
    trace.n = 0;
    assert_int_equal(crm_db_pipeline_open(db), 0);
    const char *pw[] = {"203", "w"};
    assert_int_equal(crm_db_query_async(db, &s_event_insert, pw, s_on_result, &x), 0);
    assert_null(crm_db_query(db, &s_event_insert, py));
    assert_string_equal(crm_db_sqlstate(db), "23505");
    assert_int_equal(trace.n, 1);
    assert_string_equal(trace.seen[0], "x=w");
    assert_int_equal(s_pipeline_commit(db), -1);
    assert_string_equal(s_value(other,
                                "SELECT string_agg(id || ':' || note, ' ' ORDER BY id) FROM events"
                                " WHERE id BETWEEN 200 AND 299",
                                NULL, NULL, out, sizeof out),
                        "200:touched");
    assert_int_equal(crm_db_exec(db, "DELETE FROM events WHERE id BETWEEN 200 AND 299"), 0);
    crm_db_destroy(&other);
    crm_db_destroy(&db);
}

// --- service: an in-test method table served through the broker -----------------------

//  The service "coretest": items (tenant_id, k) written by Put / PutAsync, counted by
//  Count. Requests are crm.PageRequest with the key in cursor; successes answer a
//  crm.PageResponse whose next_cursor is the key (or the count).
static const crm_migration_t s_service_migrations[] = {
    {1, "0001_items",
     "CREATE TABLE items (tenant_id text NOT NULL, k text NOT NULL, PRIMARY KEY (tenant_id, k))"},
    {0, NULL, NULL},
};

static const crm_stmt_t s_item_insert = {
    "core_item_insert", "INSERT INTO items (tenant_id, k) VALUES ($1, $2)", 2, true, false};
static const crm_stmt_t s_item_count = {
    "core_item_count", "SELECT count(*) FROM items WHERE tenant_id = $1", 1, false, false};

static ProtobufCMessage *s_response_new(const char *text) {
    Crm__PageResponse *out = malloc(sizeof *out);
    assert(out);
    crm__page_response__init(out);
    out->next_cursor = strdup(text);
    return &out->base;
}

//  Put: a synchronous insert; keys starting "fail-" are inserted and then refused, so the
//  core must roll the insert back.
static int s_put(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    const Crm__PageRequest *in = (const Crm__PageRequest *)request;
    const char *params[] = {call->header->tenant_id, in->cursor};
    PGresult *res = crm_db_query(call->db, &s_item_insert, params);
    if (!res) {
        if (strcmp(crm_db_sqlstate(call->db), "23505") == 0) {
            crm_call_error(call, "conflict", "key %s exists", in->cursor);
            return 409;
        }
        return crm_call_db_failure(call);
    }
    PQclear(res);
    if (strncmp(in->cursor, "fail-", 5) == 0) {
        crm_call_field_error(call, "cursor", "must not start with fail-");
        return 422;
    }
    *response = s_response_new(in->cursor);
    return 201;
}

//  PutAsync: the insert written with crm_call_write, so the core sends it down the
//  batch's pipeline without waiting; a key that exists fails the batch, which runs again
//  one request at a time, where the write reports 23505 and the method answers 409.
static int s_put_async(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    const Crm__PageRequest *in = (const Crm__PageRequest *)request;
    const char *params[] = {call->header->tenant_id, in->cursor};
    char sqlstate[6];
    if (crm_call_write(call, &s_item_insert, params, sqlstate) != 0) {
        if (strcmp(sqlstate, "23505") == 0) {
            crm_call_error(call, "conflict", "the key exists");
            return 409;
        }
        return crm_call_db_failure(call);
    }
    *response = s_response_new(in->cursor);
    return 201;
}

static int s_count(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    (void)request;
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_item_count, params);
    if (!res)
        return crm_call_db_failure(call);
    *response = s_response_new(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 200;
}

static const crm_method_t s_methods[] = {
    {"Put", s_put, &crm__page_request__descriptor, true},
    {"PutAsync", s_put_async, &crm__page_request__descriptor, true},
    {"Count", s_count, &crm__page_request__descriptor, false},
    {NULL, NULL, NULL, false},
};

//  The service running on its own loop in a thread, as crm_daemon_main would run it.
typedef struct {
    crm_config_t *cfg;
    crm_db_t *db;
    crm_service_t *service;
    zloop_t *loop;
    pthread_t thread;
    atomic_bool stop;
} s_server_t;

static int s_on_stop_check(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    s_server_t *server = arg;
    return atomic_load(&server->stop) ? -1 : 0; // -1 ends zloop_start
}

static void *s_server_run(void *arg) {
    s_server_t *server = arg;
    zloop_start(server->loop);
    return NULL;
}

//  True once the broker has a live worker of service.
static bool s_service_live(crm_bus_client_t *client, const char *service) {
    zmsg_t *body = zmsg_new();
    zmsg_addstr(body, service);
    zmsg_t *reply = crm_bus_client_request(client, "mmi.service", &body, 2000);
    char *answer = reply ? zmsg_popstr(reply) : NULL;
    bool live = answer && strcmp(answer, "200") == 0;
    zstr_free(&answer);
    zmsg_destroy(&reply);
    return live;
}

static s_server_t *s_server_start(void) {
    s_server_t *server = calloc(1, sizeof *server);
    assert_non_null(server);
    char *err = NULL;
    server->cfg = crm_config_load(NULL, &err);
    free(err);
    assert_non_null(server->cfg);
    free(server->cfg->broker_endpoint);
    server->cfg->broker_endpoint = strdup(h->broker);

    server->db = crm_db_new(h->dsn, 1000);
    assert_int_equal(crm_db_connect(server->db, 5000), 0);
    assert_int_equal(crm_db_migrate(server->db, "coretest", s_service_migrations), 0);
    crm_db_set_schema(server->db, "coretest");
    server->service = crm_service_new(server->cfg, "coretest", s_methods, server->db, 8, 64, NULL);
    assert_non_null(server->service);
    assert_int_equal(crm_service_prepare_schema(server->service), 0);
    server->loop = zloop_new();
    assert_int_equal(crm_service_attach(server->service, server->loop), 0);
    assert_true(zloop_timer(server->loop, 10, 0, s_on_stop_check, server) >= 0);
    atomic_init(&server->stop, false);
    assert_int_equal(pthread_create(&server->thread, NULL, s_server_run, server), 0);

    crm_bus_client_t *client = crm_bus_client_new(h->broker);
    bool live = false;
    for (int i = 0; i < 100 && !(live = s_service_live(client, "coretest")); i++)
        zclock_sleep(50);
    crm_bus_client_destroy(&client);
    assert_true(live);
    return server;
}

//  Stop the loop, then read the service's counters and free everything.
static void s_server_stop(s_server_t **server_p, uint64_t *requests, uint64_t *batches) {
    s_server_t *server = *server_p;
    atomic_store(&server->stop, true);
    pthread_join(server->thread, NULL);
    if (requests)
        *requests = crm_service_requests(server->service);
    if (batches)
        *batches = crm_service_batches(server->service);
    crm_service_destroy(&server->service);
    zloop_destroy(&server->loop);
    crm_db_destroy(&server->db);
    crm_config_destroy(&server->cfg);
    free(server);
    *server_p = NULL;
}

//  The fixture of the service tests: the server, a client and another database session
//  (to check what was committed). Torn down even when the test fails, so a failure does
//  not leave workers serving the next test.
typedef struct {
    s_server_t *server;
    crm_bus_client_t *client;
    crm_db_t *db;
} s_fixture_t;

static int s_server_setup(void **state) {
    s_fixture_t *fixture = calloc(1, sizeof *fixture);
    assert_non_null(fixture);
    *state = fixture;
    fixture->server = s_server_start();
    fixture->client = crm_bus_client_new(h->broker);
    fixture->db = s_db_open(NULL);
    return 0;
}

static int s_server_teardown(void **state) {
    s_fixture_t *fixture = *state;
    if (!fixture)
        return 0;
    crm_db_destroy(&fixture->db);
    crm_bus_client_destroy(&fixture->client);
    if (fixture->server)
        s_server_stop(&fixture->server, NULL, NULL);
    free(fixture);
    *state = NULL;
    return 0;
}

//  A reply as a test sees it.
typedef struct {
    int code;              // 0: no reply
    char error[64];        // ReplyHeader.error
    char text[64];         // the PageResponse's next_cursor of a success
    size_t frames;         // body frames after the ReplyHeader
    unsigned char raw[64]; // the response frame's bytes
    size_t raw_size;
} s_reply_t;

//  Send frames (taken) to the service and read the reply.
static s_reply_t s_send(crm_bus_client_t *client, zmsg_t **body_p) {
    s_reply_t out = {0};
    zmsg_t *reply = crm_bus_client_request(client, "coretest", body_p, 8000);
    if (!reply)
        return out;
    zframe_t *frame = zmsg_first(reply);
    Crm__ReplyHeader *rh =
        frame ? crm__reply_header__unpack(NULL, zframe_size(frame), zframe_data(frame)) : NULL;
    if (rh) {
        out.code = (int)rh->code;
        snprintf(out.error, sizeof out.error, "%s", rh->error);
        crm__reply_header__free_unpacked(rh, NULL);
    } else
        out.code = -1;
    out.frames = zmsg_size(reply) - 1;
    frame = zmsg_next(reply);
    if (frame) {
        out.raw_size = zframe_size(frame);
        memcpy(out.raw, zframe_data(frame),
               out.raw_size < sizeof out.raw ? out.raw_size : sizeof out.raw);
        Crm__PageResponse *response =
            crm__page_response__unpack(NULL, zframe_size(frame), zframe_data(frame));
        if (response) {
            snprintf(out.text, sizeof out.text, "%s", response->next_cursor);
            crm__page_response__free_unpacked(response, NULL);
        }
    }
    zmsg_destroy(&reply);
    return out;
}

//  Call method with key (PageRequest.cursor) for tenant, with an idempotency key or "".
static s_reply_t s_call(crm_bus_client_t *client, const char *tenant, const char *method,
                        const char *key, const char *idempotency_key) {
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = (char *)method;
    header.tenant_id = (char *)tenant;
    header.actor_id = "systest";
    header.role = "admin";
    header.request_id = "systest-core";
    header.idempotency_key = (char *)idempotency_key;
    header.deadline_ms = 6000;
    Crm__PageRequest request = CRM__PAGE_REQUEST__INIT;
    request.cursor = (char *)key;
    zmsg_t *body = crm_bus_request_new(&header, &request.base);
    return s_send(client, &body);
}

//  Whether tenant has key, read from another connection.
static bool s_item_exists(crm_db_t *db, const char *tenant, const char *key) {
    char out[16];
    return strcmp(s_value(db, "SELECT count(*) FROM coretest.items WHERE tenant_id = $1 AND k = $2",
                          tenant, key, out, sizeof out),
                  "1") == 0;
}

//  One request at a time: each method's answers and what they leave in the database.
static void test_service_methods(void **state) {
    s_fixture_t *fixture = *state;
    crm_bus_client_t *client = fixture->client;
    crm_db_t *db = fixture->db;
    const char *tenant = "tenant-methods";

    s_reply_t r = s_call(client, tenant, "Put", "alpha", "");
    assert_int_equal(r.code, 201);
    assert_string_equal(r.text, "alpha");
    assert_true(s_item_exists(db, tenant, "alpha"));
    r = s_call(client, tenant, "Put", "alpha", "");
    assert_int_equal(r.code, 409);
    assert_string_equal(r.error, "conflict");

    //  Refused after its insert: the insert is undone.
    r = s_call(client, tenant, "Put", "fail-beta", "");
    assert_int_equal(r.code, 422);
    assert_string_equal(r.error, "validation_failed");
    assert_int_equal(r.frames, 0);
    assert_false(s_item_exists(db, tenant, "fail-beta"));

    r = s_call(client, tenant, "PutAsync", "gamma", "");
    assert_int_equal(r.code, 201);
    assert_string_equal(r.text, "gamma");
    r = s_call(client, tenant, "PutAsync", "gamma", "");
    assert_int_equal(r.code, 409);
    r = s_call(client, tenant, "PutAsync", "alpha", "");
    assert_int_equal(r.code, 409);

    r = s_call(client, tenant, "Count", "", "");
    assert_int_equal(r.code, 200);
    assert_string_equal(r.text, "2");
    //  Tenants are separate.
    r = s_call(client, "tenant-methods-other", "Count", "", "");
    assert_int_equal(r.code, 200);
    assert_string_equal(r.text, "0");
}

//  Many clients at once, so that batches mix successes, refusals after a write, failing
//  statements and duplicates: each request gets its own answer and keeps only its own
//  writes.
#define S_CLIENTS 8
#define S_PER_CLIENT 50
#define S_SHARED_KEYS 5
#define S_TENANT_LOAD "tenant-load"

typedef enum {
    S_GOOD,         // Put of a new key: 201
    S_FAIL,         // Put of "fail-...": 422, nothing written
    S_ASYNC,        // PutAsync of a new key: 201
    S_ASYNC_SHARED, // PutAsync of a key other tries share: one 201, then 409s
    S_PUT_AGAIN,    // Put of this client's last good key: 409
    S_KINDS
} s_kind_t;

typedef struct {
    int index;
    pthread_t thread;
    char keys[S_PER_CLIENT][32];
    s_kind_t kinds[S_PER_CLIENT];
    s_reply_t replies[S_PER_CLIENT];
} s_load_t;

static void *s_load_run(void *arg) {
    s_load_t *load = arg;
    crm_bus_client_t *client = crm_bus_client_new(h->broker);
    for (int j = 0; j < S_PER_CLIENT; j++) {
        s_kind_t kind = (s_kind_t)((j + load->index) % S_KINDS);
        char *key = load->keys[j];
        const char *method = "Put";
        if (kind == S_GOOD)
            snprintf(key, sizeof load->keys[j], "good-%d-%d", load->index, j);
        else if (kind == S_FAIL)
            snprintf(key, sizeof load->keys[j], "fail-%d-%d", load->index, j);
        else if (kind == S_ASYNC) {
            snprintf(key, sizeof load->keys[j], "async-%d-%d", load->index, j);
            method = "PutAsync";
        } else if (kind == S_ASYNC_SHARED) {
            snprintf(key, sizeof load->keys[j], "shared-%d", j % S_SHARED_KEYS);
            method = "PutAsync";
        } else {
            //  This client's S_GOOD key of the same round (S_KINDS - 1 requests ago), or
            //  a new key when the round started before the first request.
            int earlier = j - (S_KINDS - 1);
            if (earlier >= 0)
                snprintf(key, sizeof load->keys[j], "good-%d-%d", load->index, earlier);
            else
                snprintf(key, sizeof load->keys[j], "late-%d-%d", load->index, j);
        }
        load->kinds[j] = kind;
        load->replies[j] = s_call(client, S_TENANT_LOAD, method, key, "");
    }
    crm_bus_client_destroy(&client);
    return NULL;
}

static void test_service_concurrent_batches(void **state) {
    s_fixture_t *fixture = *state;
    static s_load_t loads[S_CLIENTS];
    memset(loads, 0, sizeof loads);
    for (int i = 0; i < S_CLIENTS; i++) {
        loads[i].index = i;
        assert_int_equal(pthread_create(&loads[i].thread, NULL, s_load_run, &loads[i]), 0);
    }
    for (int i = 0; i < S_CLIENTS; i++)
        pthread_join(loads[i].thread, NULL);
    s_reply_t count = s_call(fixture->client, S_TENANT_LOAD, "Count", "", "");
    //  The counters are read once the loop has stopped.
    uint64_t requests = 0, batches = 0;
    s_server_stop(&fixture->server, &requests, &batches);

    crm_db_t *db = fixture->db;
    int expected_rows = 0;
    int shared_created[S_SHARED_KEYS] = {0}, shared_tries[S_SHARED_KEYS] = {0},
        shared_conflicts[S_SHARED_KEYS] = {0};
    for (int i = 0; i < S_CLIENTS; i++)
        for (int j = 0; j < S_PER_CLIENT; j++) {
            const char *key = loads[i].keys[j];
            const s_reply_t *r = &loads[i].replies[j];
            switch (loads[i].kinds[j]) {
            case S_GOOD:
            case S_ASYNC:
                assert_int_equal(r->code, 201);
                assert_string_equal(r->text, key);
                assert_true(s_item_exists(db, S_TENANT_LOAD, key));
                expected_rows++;
                break;
            case S_FAIL:
                assert_int_equal(r->code, 422);
                assert_string_equal(r->error, "validation_failed");
                assert_false(s_item_exists(db, S_TENANT_LOAD, key));
                break;
            case S_PUT_AGAIN:
                if (strncmp(key, "late-", 5) == 0) {
                    assert_int_equal(r->code, 201);
                    expected_rows++;
                } else
                    assert_int_equal(r->code, 409);
                assert_true(s_item_exists(db, S_TENANT_LOAD, key));
                break;
            default: {
                int k = j % S_SHARED_KEYS;
                shared_tries[k]++;
                if (r->code == 201)
                    shared_created[k]++;
                else {
                    assert_int_equal(r->code, 409);
                    shared_conflicts[k]++;
                }
                break;
            }
            }
        }
    for (int k = 0; k < S_SHARED_KEYS; k++) {
        if (shared_tries[k] == 0)
            continue;
        char key[32];
        snprintf(key, sizeof key, "shared-%d", k);
        assert_int_equal(shared_created[k], 1);
        assert_int_equal(shared_conflicts[k], shared_tries[k] - 1);
        assert_true(s_item_exists(db, S_TENANT_LOAD, key));
        expected_rows++;
    }
    char out[16], expected[16];
    snprintf(expected, sizeof expected, "%d", expected_rows);
    assert_string_equal(s_value(db, "SELECT count(*) FROM coretest.items WHERE tenant_id = $1",
                                S_TENANT_LOAD, NULL, out, sizeof out),
                        expected);
    assert_int_equal(count.code, 200);
    assert_string_equal(count.text, expected);

    //  Every request was served, and requests shared transactions.
    assert_int_equal(requests, S_CLIENTS * S_PER_CLIENT + 1);
    assert_true(batches < requests);
}

//  A write retried with the same idempotency key runs once and answers the same.
static void test_service_idempotency(void **state) {
    s_fixture_t *fixture = *state;
    crm_bus_client_t *client = fixture->client;
    crm_db_t *db = fixture->db;
    const char *tenant = "tenant-idem";
    char out[16];

    s_reply_t first = s_call(client, tenant, "Put", "idem-row", "k1");
    assert_int_equal(first.code, 201);
    assert_string_equal(first.text, "idem-row");
    s_reply_t again = s_call(client, tenant, "Put", "idem-row", "k1");
    assert_int_equal(again.code, 201);
    assert_int_equal(again.frames, first.frames);
    assert_int_equal(again.raw_size, first.raw_size);
    assert_memory_equal(again.raw, first.raw, first.raw_size);
    //  The stored reply is returned without running the method: nothing new is written.
    again = s_call(client, tenant, "Put", "idem-other", "k1");
    assert_int_equal(again.code, 201);
    assert_string_equal(again.text, "idem-row");
    assert_false(s_item_exists(db, tenant, "idem-other"));
    assert_string_equal(s_value(db, "SELECT count(*) FROM coretest.items WHERE tenant_id = $1",
                                tenant, NULL, out, sizeof out),
                        "1");

    //  The same key for another method is refused.
    s_reply_t reused = s_call(client, tenant, "PutAsync", "idem-async", "k1");
    assert_int_equal(reused.code, 422);
    assert_string_equal(reused.error, "idempotency_key_reused");
    assert_false(s_item_exists(db, tenant, "idem-async"));

    //  A pending (asynchronous) method honours keys too.
    first = s_call(client, tenant, "PutAsync", "idem-async", "k2");
    assert_int_equal(first.code, 201);
    again = s_call(client, tenant, "PutAsync", "idem-async", "k2");
    assert_int_equal(again.code, 201);
    assert_string_equal(again.text, "idem-async");
    assert_memory_equal(again.raw, first.raw, first.raw_size);

    //  A failure is not stored: the retry runs again, and still writes nothing.
    s_reply_t failed = s_call(client, tenant, "Put", "fail-idem", "k3");
    assert_int_equal(failed.code, 422);
    failed = s_call(client, tenant, "Put", "fail-idem", "k3");
    assert_int_equal(failed.code, 422);
    assert_false(s_item_exists(db, tenant, "fail-idem"));

    //  Keys belong to a tenant.
    s_reply_t elsewhere = s_call(client, "tenant-idem-other", "Put", "idem-row", "k1");
    assert_int_equal(elsewhere.code, 201);
    assert_true(s_item_exists(db, "tenant-idem-other", "idem-row"));
    assert_string_equal(s_value(db, "SELECT count(*) FROM coretest.items WHERE tenant_id = $1",
                                tenant, NULL, out, sizeof out),
                        "2");
}

//  Requests the core refuses before any method runs.
static void test_service_bad_requests(void **state) {
    s_fixture_t *fixture = *state;
    crm_bus_client_t *client = fixture->client;

    s_reply_t r = s_call(client, "tenant-bad", "Delete", "x", "");
    assert_int_equal(r.code, 404);
    assert_string_equal(r.error, "unknown_method");

    r = s_call(client, "", "Put", "x", "");
    assert_int_equal(r.code, 400);
    assert_string_equal(r.error, "bad_request");

    //  A header frame that is not a crm.RequestHeader (a length running past the end).
    zmsg_t *body = zmsg_new();
    zmsg_addmem(body, "\x0a\x40Put", 5);
    zmsg_addmem(body, "", 0);
    r = s_send(client, &body);
    assert_int_equal(r.code, 400);
    assert_string_equal(r.error, "bad_request");

    //  A body that does not match the method's request type.
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = "Put";
    header.tenant_id = "tenant-bad";
    body = crm_bus_request_new(&header, NULL);
    zmsg_addmem(body, "\xff\xff\xff", 3);
    r = s_send(client, &body);
    assert_int_equal(r.code, 400);
    assert_string_equal(r.error, "bad_request");

    //  The service goes on serving.
    r = s_call(client, "tenant-bad", "Put", "after", "");
    assert_int_equal(r.code, 201);
}

#define S_WITH_SERVER(test) cmocka_unit_test_setup_teardown(test, s_server_setup, s_server_teardown)

int main(void) {
    //  Leave SIGINT/SIGTERM to the harness, which stops the suite it started.
    zsys_handler_set(NULL);
    // clang-format off
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_migrate),
        cmocka_unit_test(test_db_migrate_concurrent),
        cmocka_unit_test(test_db_statements),
        cmocka_unit_test(test_db_transactions),
        cmocka_unit_test(test_db_text_array),
        cmocka_unit_test(test_db_reconnect),
        cmocka_unit_test(test_db_pipeline),
        cmocka_unit_test(test_db_pipeline_failure),
        S_WITH_SERVER(test_service_methods),
        S_WITH_SERVER(test_service_concurrent_batches),
        S_WITH_SERVER(test_service_idempotency),
        S_WITH_SERVER(test_service_bad_requests),
    };
    // clang-format on
    return cmocka_run_group_tests_name("system: core", tests, s_setup, s_teardown);
}
