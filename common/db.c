/*  db: the PostgreSQL connection of a daemon. See db.h. */
#include "db.h"
#include "log.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  A statement sent in pipeline mode whose result has not been read yet.
typedef struct {
    const crm_stmt_t *stmt;  // NULL for BEGIN/COMMIT and prepares
    bool prepare;            // the Parse of stmt, not its execution
    crm_db_result_fn *fn;
    void *arg;
    PGresult **keep;         // a synchronous query's result goes here
} s_queued_t;

struct _crm_db_t {
    char *dsn;
    char *schema;
    int retry_max_ms;
    PGconn *conn;
    zhashx_t *prepared;  // statement names prepared on this connection
    unsigned long writes;
    //  Pipeline mode: what the server will answer, in order.
    bool pipelined;
    bool pipeline_failed;
    s_queued_t *queue;
    size_t queued, queue_cap;
    char sqlstate[6];
    char constraint[128];
};

crm_db_t *crm_db_new(const char *dsn, int retry_max_ms) {
    crm_db_t *self = calloc(1, sizeof *self);
    assert(self);
    self->dsn = strdup(dsn ? dsn : "");
    self->retry_max_ms = retry_max_ms > 0 ? retry_max_ms : 5000;
    self->prepared = zhashx_new();
    return self;
}

void crm_db_destroy(crm_db_t **self_p) {
    assert(self_p);
    crm_db_t *self = *self_p;
    if (!self)
        return;
    if (self->conn)
        PQfinish(self->conn);
    zhashx_destroy(&self->prepared);
    free(self->queue);
    free(self->dsn);
    free(self->schema);
    free(self);
    *self_p = NULL;
}

static int64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  libpq notices (e.g. "schema already exists, skipping") are noise in our logs.
static void s_quiet_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

//  SET search_path for the handle's schema on the current connection.
static int s_apply_schema(crm_db_t *self) {
    if (!self->schema)
        return 0;
    char *quoted = PQescapeIdentifier(self->conn, self->schema, strlen(self->schema));
    char sql[256];
    snprintf(sql, sizeof sql, "SET search_path TO %s, public", quoted);
    PQfreemem(quoted);
    PGresult *res = PQexec(self->conn, sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(res);
    return rc;
}

int crm_db_connect(crm_db_t *self, int give_up_ms) {
    assert(self);
    int64_t start = s_now_ms();
    int delay_ms = 100;
    for (int attempt = 1;; attempt++) {
        if (self->conn)
            PQfinish(self->conn);
        zhashx_purge(self->prepared);
        self->pipelined = false;
        self->queued = 0;
        self->conn = PQconnectdb(self->dsn);
        if (PQstatus(self->conn) == CONNECTION_OK) {
            PQsetNoticeProcessor(self->conn, s_quiet_notice, NULL);
            PQclear(PQexec(self->conn, "SET plan_cache_mode = force_generic_plan"));
            s_apply_schema(self);
            if (attempt > 1)
                crm_info("connected to database after %d attempts", attempt);
            return 0;
        }
        char detail[512];
        snprintf(detail, sizeof detail, "%s", PQerrorMessage(self->conn));
        detail[strcspn(detail, "\n")] = 0;
        int64_t elapsed = s_now_ms() - start;
        if (give_up_ms == 0 || (give_up_ms > 0 && elapsed + delay_ms > give_up_ms)) {
            crm_log_kv(CRM_LOG_ERROR, "could not connect to database", "detail", detail, "hint",
                       "is PostgreSQL running and database.dsn right? (make run starts one)",
                       NULL);
            return -1;
        }
        if (attempt == 1 || attempt % 10 == 0)
            crm_log_kv(CRM_LOG_WARN, "could not connect to database, retrying", "detail", detail,
                       NULL);
        zclock_sleep(delay_ms);
        delay_ms = delay_ms * 2 > self->retry_max_ms ? self->retry_max_ms : delay_ms * 2;
    }
}

void crm_db_set_schema(crm_db_t *self, const char *schema) {
    free(self->schema);
    self->schema = strdup(schema);
    if (crm_db_ok(self))
        s_apply_schema(self);
}

bool crm_db_ok(crm_db_t *self) {
    return self->conn && PQstatus(self->conn) == CONNECTION_OK;
}

PGconn *crm_db_conn(crm_db_t *self) {
    return self->conn;
}

//  Remember SQLSTATE and constraint of a failed result, and log it.
static void s_record_error(crm_db_t *self, PGresult *res, const char *what) {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    snprintf(self->sqlstate, sizeof self->sqlstate, "%s", state ? state : "");
    snprintf(self->constraint, sizeof self->constraint, "%s", constraint ? constraint : "");
    //  Unique violations are expected (duplicate email) and reported by the caller.
    if (strcmp(self->sqlstate, "23505") == 0)
        return;
    char detail[512];
    snprintf(detail, sizeof detail, "%s",
             res ? PQresultErrorMessage(res) : PQerrorMessage(self->conn));
    detail[strcspn(detail, "\n")] = 0;
    crm_log_kv(CRM_LOG_ERROR, "database command failed", "statement", what, "sqlstate",
               self->sqlstate, "detail", detail, NULL);
}

static bool s_result_ok(PGresult *res) {
    ExecStatusType st = PQresultStatus(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

int crm_db_exec(crm_db_t *self, const char *sql) {
    self->sqlstate[0] = self->constraint[0] = 0;
    PGresult *res = PQexec(self->conn, sql);
    int rc = 0;
    if (!s_result_ok(res)) {
        s_record_error(self, res, sql);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

//  Prepare stmt on this connection unless it already is.
static int s_prepare(crm_db_t *self, const crm_stmt_t *stmt) {
    if (zhashx_lookup(self->prepared, stmt->name))
        return 0;
    PGresult *res = PQprepare(self->conn, stmt->name, stmt->sql, stmt->nparams, NULL);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        s_record_error(self, res, stmt->name);
        rc = -1;
    } else
        zhashx_insert(self->prepared, stmt->name, (void *)stmt);
    PQclear(res);
    return rc;
}

static int s_send(crm_db_t *self, const crm_stmt_t *stmt, const char *const *values,
                  const int *lengths, const int *formats, crm_db_result_fn *fn, void *arg,
                  PGresult **keep);

PGresult *crm_db_query_params(crm_db_t *self, const crm_stmt_t *stmt, const char *const *values,
                              const int *lengths, const int *formats) {
    self->sqlstate[0] = self->constraint[0] = 0;
    if (self->pipelined) {
        crm_db_pipeline_drain(self);
        PGresult *res = NULL;
        if (s_send(self, stmt, values, lengths, formats, NULL, NULL, &res) == 0)
            crm_db_pipeline_drain(self);
        return res;
    }
    if (!self->conn || (!stmt->custom_plan && s_prepare(self, stmt)))
        return NULL;
    PGresult *res =
        stmt->custom_plan
            ? PQexecParams(self->conn, stmt->sql, stmt->nparams, NULL, values, lengths, formats, 0)
            : PQexecPrepared(self->conn, stmt->name, stmt->nparams, values, lengths, formats, 0);
    if (!s_result_ok(res)) {
        s_record_error(self, res, stmt->name);
        PQclear(res);
        return NULL;
    }
    if (stmt->writes)
        self->writes++;
    return res;
}

//  Queue one expected result.
static void s_expect(crm_db_t *self, const crm_stmt_t *stmt, bool prepare, crm_db_result_fn *fn,
                     void *arg, PGresult **keep) {
    if (self->queued == self->queue_cap) {
        self->queue_cap = self->queue_cap ? self->queue_cap * 2 : 64;
        self->queue = realloc(self->queue, self->queue_cap * sizeof *self->queue);
    }
    self->queue[self->queued++] = (s_queued_t){stmt, prepare, fn, arg, keep};
}

//  Send a statement in pipeline mode (its Parse first, the first time on this
//  connection). Returns 0 or -1 (the connection failed).
static int s_send(crm_db_t *self, const crm_stmt_t *stmt, const char *const *values,
                  const int *lengths, const int *formats, crm_db_result_fn *fn, void *arg,
                  PGresult **keep) {
    int ok;
    if (stmt->custom_plan)
        ok = PQsendQueryParams(self->conn, stmt->sql, stmt->nparams, NULL, values, lengths,
                               formats, 0);
    else {
        if (!zhashx_lookup(self->prepared, stmt->name)) {
            if (!PQsendPrepare(self->conn, stmt->name, stmt->sql, stmt->nparams, NULL))
                goto failed;
            zhashx_insert(self->prepared, stmt->name, (void *)stmt);
            s_expect(self, stmt, true, NULL, NULL, NULL);
        }
        ok = PQsendQueryPrepared(self->conn, stmt->name, stmt->nparams, values, lengths,
                                 formats, 0);
    }
    if (!ok)
        goto failed;
    s_expect(self, stmt, false, fn, arg, keep);
    return 0;
failed:
    self->pipeline_failed = true;
    s_record_error(self, NULL, stmt->name);
    if (fn)
        fn(self, NULL, arg);
    return -1;
}

//  Read the results of everything queued, in order, and hand each to its callback.
static void s_read_queued(crm_db_t *self) {
    for (size_t i = 0; i < self->queued; i++) {
        s_queued_t *q = &self->queue[i];
        PGresult *res = PQgetResult(self->conn);
        bool ok = res && s_result_ok(res);
        if (!ok) {
            self->pipeline_failed = true;
            if (res && PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
                s_record_error(self, res, q->stmt ? q->stmt->name : "BEGIN/COMMIT");
            if (q->prepare && q->stmt)
                zhashx_delete(self->prepared, q->stmt->name);
        } else if (q->stmt && !q->prepare && q->stmt->writes)
            self->writes++;
        if (q->keep) {
            *q->keep = ok ? res : NULL;
            if (ok)
                res = NULL;
        } else if (q->fn)
            q->fn(self, ok ? res : NULL, q->arg);
        bool had_result = res || ok;
        PQclear(res);
        //  Each statement's results end with a NULL.
        if (had_result)
            while ((res = PQgetResult(self->conn)))
                PQclear(res);
        if (PQstatus(self->conn) != CONNECTION_OK) {
            //  The connection died: every callback still owed hears of it.
            for (size_t j = i + 1; j < self->queued; j++)
                if (self->queue[j].fn)
                    self->queue[j].fn(self, NULL, self->queue[j].arg);
            break;
        }
    }
    self->queued = 0;
}

int crm_db_query_async(crm_db_t *self, const crm_stmt_t *stmt, const char *const *params,
                       crm_db_result_fn *fn, void *arg) {
    if (!self->pipelined) {
        PGresult *res = crm_db_query(self, stmt, params);
        fn(self, res, arg);
        PQclear(res);
        return res ? 0 : -1;
    }
    return s_send(self, stmt, params, NULL, NULL, fn, arg, NULL);
}

int crm_db_pipeline_begin(crm_db_t *self) {
    self->sqlstate[0] = self->constraint[0] = 0;
    if (!self->conn || !PQenterPipelineMode(self->conn))
        return -1;
    self->pipelined = true;
    self->pipeline_failed = false;
    if (!PQsendQueryParams(self->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)) {
        PQexitPipelineMode(self->conn);
        self->pipelined = false;
        return -1;
    }
    s_expect(self, NULL, false, NULL, NULL, NULL);
    return 0;
}

void crm_db_pipeline_drain(crm_db_t *self) {
    if (!self->pipelined || self->queued == 0)
        return;
    if (!PQsendFlushRequest(self->conn) || PQflush(self->conn) != 0)
        self->pipeline_failed = true;
    s_read_queued(self);
}

//  Queue the end of the transaction (COMMIT or ROLLBACK) and the sync point, read every
//  result, leave pipeline mode. Returns 0 when all of it succeeded.
static int s_pipeline_end(crm_db_t *self, const char *command) {
    if (PQsendQueryParams(self->conn, command, 0, NULL, NULL, NULL, NULL, 0))
        s_expect(self, NULL, false, NULL, NULL, NULL);
    else
        self->pipeline_failed = true;
    if (!PQpipelineSync(self->conn) || PQflush(self->conn) != 0)
        self->pipeline_failed = true;
    s_read_queued(self);
    //  Then the sync point.
    PGresult *res;
    while ((res = PQgetResult(self->conn))) {
        ExecStatusType st = PQresultStatus(res);
        PQclear(res);
        if (st == PGRES_PIPELINE_SYNC)
            break;
    }
    if (!PQexitPipelineMode(self->conn))
        self->pipeline_failed = true;
    self->pipelined = false;
    if (self->pipeline_failed && PQstatus(self->conn) == CONNECTION_OK)
        PQclear(PQexec(self->conn, "ROLLBACK"));
    return self->pipeline_failed ? -1 : 0;
}

int crm_db_pipeline_commit(crm_db_t *self) {
    if (!self->pipelined)
        return -1;
    return s_pipeline_end(self, "COMMIT");
}

void crm_db_pipeline_abort(crm_db_t *self) {
    if (self->pipelined)
        s_pipeline_end(self, "ROLLBACK");
}

unsigned long crm_db_writes(crm_db_t *self) {
    return self->writes;
}

bool crm_db_failed(crm_db_t *self) {
    return !self->conn || PQtransactionStatus(self->conn) == PQTRANS_INERROR ||
           PQtransactionStatus(self->conn) == PQTRANS_UNKNOWN;
}

PGresult *crm_db_query(crm_db_t *self, const crm_stmt_t *stmt, const char *const *params) {
    return crm_db_query_params(self, stmt, params, NULL, NULL);
}

char *crm_db_text_array(const char *const *items, size_t n) {
    size_t size = 3;
    for (size_t i = 0; i < n; i++)
        size += 2 * strlen(items[i]) + 3;
    char *out = malloc(size), *p = out;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (const char *c = items[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                *p++ = '\\';
            *p++ = *c;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = 0;
    return out;
}

const char *crm_db_sqlstate(crm_db_t *self) {
    return self->sqlstate;
}

const char *crm_db_constraint(crm_db_t *self) {
    return self->constraint;
}

int crm_db_begin(crm_db_t *self) {
    return crm_db_exec(self, "BEGIN");
}

int crm_db_commit(crm_db_t *self) {
    return crm_db_exec(self, "COMMIT");
}

int crm_db_rollback(crm_db_t *self) {
    return crm_db_exec(self, "ROLLBACK");
}

int crm_db_savepoint(crm_db_t *self, const char *name) {
    char sql[128];
    snprintf(sql, sizeof sql, "SAVEPOINT %s", name);
    return crm_db_exec(self, sql);
}

int crm_db_release(crm_db_t *self, const char *name) {
    char sql[128];
    snprintf(sql, sizeof sql, "RELEASE SAVEPOINT %s", name);
    return crm_db_exec(self, sql);
}

int crm_db_rollback_to(crm_db_t *self, const char *name) {
    char sql[128];
    snprintf(sql, sizeof sql, "ROLLBACK TO SAVEPOINT %s", name);
    return crm_db_exec(self, sql);
}

//  Run sql with one text parameter; returns the result or NULL (logged).
static PGresult *s_exec_param(crm_db_t *self, const char *sql, int nparams,
                              const char *const *params) {
    PGresult *res = PQexecParams(self->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!s_result_ok(res)) {
        s_record_error(self, res, sql);
        PQclear(res);
        return NULL;
    }
    return res;
}

int crm_db_migrate(crm_db_t *self, const char *schema, const crm_migration_t *migrations) {
    char *quoted = PQescapeIdentifier(self->conn, schema, strlen(schema));
    if (!quoted)
        return -1;
    char sql[512];
    int rc = -1;
    //  One migrator at a time per schema, whatever the number of starting processes.
    const char *lock_params[] = {schema};
    PGresult *res = s_exec_param(self, "SELECT pg_advisory_lock(hashtext($1))", 1, lock_params);
    if (!res)
        goto done;
    PQclear(res);
    snprintf(sql, sizeof sql,
             "CREATE SCHEMA IF NOT EXISTS %s;"
             "CREATE TABLE IF NOT EXISTS %s.schema_migrations ("
             " version int PRIMARY KEY, name text NOT NULL,"
             " applied_at timestamptz NOT NULL DEFAULT now())",
             quoted, quoted);
    if (crm_db_exec(self, sql))
        goto unlock;
    snprintf(sql, sizeof sql, "SELECT coalesce(max(version), 0) FROM %s.schema_migrations",
             quoted);
    res = s_exec_param(self, sql, 0, NULL);
    if (!res)
        goto unlock;
    int current = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);

    rc = 0;
    for (const crm_migration_t *m = migrations; m && m->name; m++) {
        if (m->version <= current)
            continue;
        snprintf(sql, sizeof sql, "SET LOCAL search_path TO %s, public", quoted);
        if (crm_db_begin(self) || crm_db_exec(self, sql) || crm_db_exec(self, m->sql)) {
            crm_log_kv(CRM_LOG_ERROR, "could not apply migration", "schema", schema, "migration",
                       m->name, NULL);
            crm_db_rollback(self);
            rc = -1;
            break;
        }
        char version[16];
        snprintf(version, sizeof version, "%d", m->version);
        const char *params[] = {version, m->name};
        snprintf(sql, sizeof sql, "INSERT INTO %s.schema_migrations (version, name) VALUES ($1, $2)",
                 quoted);
        res = s_exec_param(self, sql, 2, params);
        if (!res || crm_db_commit(self)) {
            PQclear(res);
            crm_db_rollback(self);
            rc = -1;
            break;
        }
        PQclear(res);
        crm_log_kv(CRM_LOG_INFO, "applied migration", "schema", schema, "migration", m->name,
                   NULL);
    }
unlock:
    res = s_exec_param(self, "SELECT pg_advisory_unlock(hashtext($1))", 1, lock_params);
    PQclear(res);
done:
    PQfreemem(quoted);
    return rc;
}
