/*  db: the PostgreSQL connection of a daemon (libpq).

    - connect with retry and exponential backoff (a daemon never exits on a transient
      fault: it keeps retrying and reports not-ready);
    - per-schema numbered migrations, compiled into the binary (scripts/
      embed-migrations.sh), applied in order inside one transaction each and recorded
      in <schema>.schema_migrations; an advisory lock serialises concurrent starters;
    - transactions and savepoints;
    - prepared statements by name, prepared lazily on first use and again after a
      reconnect. Sessions use plan_cache_mode = force_generic_plan: our statements are
      key lookups whose plan does not depend on the values, and re-planning a CTE at
      every run costs more than running it. A statement built per request (the contact
      list's) sets custom_plan and is sent unprepared; the session's plan_cache_mode
      applies to it all the same, so its conditions must meet their indexes with the
      values unknown (ranges of parameters rather than LIKE prefixes).
*/
#ifndef CRM_DB_H
#define CRM_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int version;      // NNNN of NNNN_name.sql
    const char *name; // file name without .sql
    const char *sql;  // its text
} crm_migration_t;

typedef struct _crm_db_t crm_db_t;

//  A timestamp column as the API writes it (SQL text): RFC 3339, UTC, microseconds,
//  the form crm_time_now gives.
#define CRM_SQL_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

//  A statement known by name: prepared on first use on each connection.
typedef struct {
    const char *name;
    const char *sql;
    int nparams;
    bool writes;       // changes data: counted by crm_db_writes
    bool custom_plan;  // sent unprepared, planned at every run (generically: see above)
} crm_stmt_t;

//  Fill stmt for a service schema: named "<schema>_<name>", its SQL fmt with every
//  %1$s (or the one %s) replaced by the schema. crm_stmt_clear frees what it made.
void crm_stmt_init(crm_stmt_t *stmt, const char *schema, const char *name, int nparams,
                   bool writes, const char *fmt);
void crm_stmt_clear(crm_stmt_t *stmt);

//  Create a handle (not yet connected).
crm_db_t *crm_db_new(const char *dsn, int retry_max_ms);
void crm_db_destroy(crm_db_t **self_p);

//  Give up one connection attempt after ms (default 5000) unless the DSN sets
//  connect_timeout itself.
void crm_db_set_connect_timeout(crm_db_t *self, int ms);

//  Resolve unqualified names in schema (then public) on every connection made from now.
void crm_db_set_schema(crm_db_t *self, const char *schema);

//  Connect, retrying with backoff (100 ms doubling up to retry_max_ms) until connected
//  or until give_up_ms passes (0: try once, -1: forever). Returns 0 or -1 (logged).
int crm_db_connect(crm_db_t *self, int give_up_ms);

//  True when the connection is up (checks PQstatus; after an error, call crm_db_connect).
bool crm_db_ok(crm_db_t *self);

PGconn *crm_db_conn(crm_db_t *self);

//  Create the schema if needed and apply migrations newer than those recorded.
//  Returns 0 or -1 (logged with the failing migration's name).
int crm_db_migrate(crm_db_t *self, const char *schema, const crm_migration_t *migrations);

//  Run a command with no result rows of interest. Returns 0 or -1 (error logged, and
//  the SQLSTATE available through crm_db_sqlstate).
int crm_db_exec(crm_db_t *self, const char *sql);

//  Run a named statement with text parameters (NULL = SQL NULL). Returns a result the
//  caller PQclear()s, or NULL on error (SQLSTATE kept). Result status must be
//  PGRES_TUPLES_OK or PGRES_COMMAND_OK, else NULL.
PGresult *crm_db_query(crm_db_t *self, const crm_stmt_t *stmt, const char *const *params);

//  Run a named statement whose result rows do not matter: 0, or -1 (SQLSTATE kept).
int crm_db_run(crm_db_t *self, const crm_stmt_t *stmt, const char *const *params);

//  Same with binary-or-text parameters (lengths/formats as PQexecPrepared).
PGresult *crm_db_query_params(crm_db_t *self, const crm_stmt_t *stmt, const char *const *values,
                              const int *lengths, const int *formats);

//  A PostgreSQL array literal ({"a","b"}) of n strings, for a text[] parameter; the
//  caller frees it.
char *crm_db_text_array(const char *const *items, size_t n);

//  size bytes as a bytea literal in hex ("\x0a1b"), for a bytea parameter; the caller
//  frees it.
char *crm_db_bytea_literal(const uint8_t *data, size_t size);

//  The SQLSTATE of the last failed command ("" if none), e.g. "23505".
const char *crm_db_sqlstate(crm_db_t *self);

//  The constraint named by the last failure (unique violations), "" if none.
const char *crm_db_constraint(crm_db_t *self);

//  Write statements run successfully on this handle so far: a caller compares two
//  readings to learn whether something in between changed data.
unsigned long crm_db_writes(crm_db_t *self);

//  True when the current transaction is aborted by an error.
bool crm_db_failed(crm_db_t *self);

//  Pipelining (libpq pipeline mode): statements go to the server without waiting for
//  the answers of those before them, each as soon as it is queued, so the server runs
//  one while the client prepares the next. A daemon opens its connection's pipeline once:
//
//      crm_db_pipeline_open(db);
//      crm_db_query_async(db, &stmt, params, on_result, arg);  // sent; answered later
//      crm_db_pipeline_sync(db, on_done, arg);                 // ends a transaction
//      ... when crm_db_socket(db) is readable: crm_db_pipeline_pump(db);
//
//  The statements between two sync points form one implicit transaction: they commit
//  together at the sync point when none failed, and none does otherwise; on_done tells
//  which (ok). A result callback gets the result (NULL when the statement failed or was
//  skipped after an earlier failure; the SQLSTATE is then in crm_db_sqlstate) and must
//  not keep it. crm_db_query in a pipeline sends its statement and waits for its answer,
//  running the callbacks due before it. Outside a pipeline, crm_db_query_async runs the
//  statement at once and calls back before returning. crm_db_exec and the transaction
//  helpers below work only outside a pipeline.
typedef void(crm_db_result_fn)(crm_db_t *db, PGresult *res, void *arg);
typedef void(crm_db_sync_fn)(crm_db_t *db, bool ok, void *arg);

int crm_db_query_async(crm_db_t *self, const crm_stmt_t *stmt, const char *const *params,
                       crm_db_result_fn *fn, void *arg);

//  Enter pipeline mode (0, or -1 when not connected).
int crm_db_pipeline_open(crm_db_t *self);
bool crm_db_pipelined(crm_db_t *self);

//  Send a sync point; fn(db, ok, arg) runs once its answer is read.
int crm_db_pipeline_sync(crm_db_t *self, crm_db_sync_fn *fn, void *arg);

//  Read what has arrived without blocking and run its callbacks. -1 when the
//  connection is lost (everything owed has then been told it failed).
int crm_db_pipeline_pump(crm_db_t *self);

//  Block until everything sent has been answered (callbacks run).
void crm_db_pipeline_wait(crm_db_t *self);

//  Wait for everything owed, then leave pipeline mode.
void crm_db_pipeline_close(crm_db_t *self);

//  The connection's socket (for a reactor), or -1.
int crm_db_socket(crm_db_t *self);

int crm_db_begin(crm_db_t *self);
int crm_db_commit(crm_db_t *self);
int crm_db_rollback(crm_db_t *self);
int crm_db_savepoint(crm_db_t *self, const char *name);
int crm_db_release(crm_db_t *self, const char *name);
int crm_db_rollback_to(crm_db_t *self, const char *name);

#endif
