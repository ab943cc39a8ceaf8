/*  db: the PostgreSQL connection of a daemon. See db.h. */
#include "db.h"
#include "log.h"

#include <czmq.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  Something sent in pipeline mode whose answer has not been read yet: a statement,
//  a statement's Parse, or a sync point.
typedef struct {
    const crm_stmt_t *stmt;  // NULL for a sync point
    bool prepare;            // the Parse of stmt, not its execution
    crm_db_result_fn *fn;
    void *arg;
    PGresult **keep;         // a synchronous query's result goes here
    bool *done;              // ...and this is set once it is read
    crm_db_sync_fn *sync_fn; // a sync point's callback
} s_queued_t;

typedef struct _crm_db_t crm_db_t;
static void s_fail_owed(crm_db_t *self);

struct _crm_db_t {
    char *dsn;
    char *schema;
    int retry_max_ms;
    int connect_timeout_ms;
    PGconn *conn;
    zhashx_t *prepared;  // statement names prepared on this connection
    unsigned long writes;
    //  Pipeline mode: what the server will answer, in order.
    bool pipelined;
    bool segment_failed;   // a statement since the last sync point failed
    s_queued_t *queue;     // answers owed, in order: queue[read_pos .. queued)
    size_t read_pos, queued, queue_cap;
    bool await_end;        // queue[read_pos]'s result is in; the NULL ending it is not
    bool discarding;       // a statement failed: nothing runs until the next sync point
    char sqlstate[6];
    char constraint[128];
};

crm_db_t *crm_db_new(const char *dsn, int retry_max_ms) {
    crm_db_t *self = calloc(1, sizeof *self);
    assert(self);
    self->dsn = strdup(dsn ? dsn : "");
    self->retry_max_ms = retry_max_ms > 0 ? retry_max_ms : 5000;
    self->connect_timeout_ms = 5000;
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
        s_fail_owed(self);  // answers owed by the old connection never come
        if (self->conn)
            PQfinish(self->conn);
        zhashx_purge(self->prepared);
        self->pipelined = false;
        self->queued = self->read_pos = 0;
        self->await_end = self->discarding = false;
        //  A bound on each attempt, unless the DSN sets its own: without one, libpq waits
        //  for an unreachable server as long as the kernel does, and the daemon with it.
        char timeout[16];
        snprintf(timeout, sizeof timeout, "%d", (self->connect_timeout_ms + 999) / 1000);
        const char *keywords[] = {"connect_timeout", "dbname", NULL};
        const char *values[] = {timeout, self->dsn, NULL};
        self->conn = PQconnectdbParams(keywords, values, 1);
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

void crm_db_set_connect_timeout(crm_db_t *self, int ms) {
    self->connect_timeout_ms = ms > 0 ? ms : 5000;
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
    //  Data exceptions (22) and integrity violations (23) may quote the values at fault
    //  (personal data): the log keeps the statement's name, the code and the constraint.
    if (strncmp(self->sqlstate, "22", 2) == 0 || strncmp(self->sqlstate, "23", 2) == 0)
        snprintf(detail, sizeof detail, "withheld (it may quote values); constraint \"%s\"",
                 self->constraint);
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
                  PGresult **keep, bool *done);
static int s_pump(crm_db_t *self, bool block, bool one);

int crm_db_run(crm_db_t *self, const crm_stmt_t *stmt, const char *const *params) {
    PGresult *res = crm_db_query(self, stmt, params);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

PGresult *crm_db_query_params(crm_db_t *self, const crm_stmt_t *stmt, const char *const *values,
                              const int *lengths, const int *formats) {
    self->sqlstate[0] = self->constraint[0] = 0;
    if (self->pipelined) {
        //  Send it, then read (running the callbacks due first) until its answer is in.
        //  After a failure in the current transaction no answer comes before the next
        //  sync point: fail at once (the caller's transaction is lost anyway).
        if (self->discarding) {
            snprintf(self->sqlstate, sizeof self->sqlstate, "25P02");
            return NULL;
        }
        PGresult *res = NULL;
        bool done = false;
        if (s_send(self, stmt, values, lengths, formats, NULL, NULL, &res, &done) == 0 &&
            PQsendFlushRequest(self->conn) && PQflush(self->conn) == 0)
            while (!done && s_pump(self, true, true) == 0)
                ;
        if (!done) {
            //  Its answer comes after the next sync point: nobody is waiting by then.
            for (size_t i = self->read_pos; i < self->queued; i++)
                if (self->queue[i].keep == &res)
                    self->queue[i].keep = NULL, self->queue[i].done = NULL;
            PQclear(res);
            return NULL;
        }
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

//  Queue one expected answer.
static void s_expect(crm_db_t *self, s_queued_t entry) {
    if (self->read_pos > 0 && self->read_pos == self->queued)
        self->read_pos = self->queued = 0;
    if (self->queued == self->queue_cap) {
        if (self->read_pos > self->queue_cap / 2) {
            memmove(self->queue, self->queue + self->read_pos,
                    (self->queued - self->read_pos) * sizeof *self->queue);
            self->queued -= self->read_pos;
            self->read_pos = 0;
        } else {
            self->queue_cap = self->queue_cap ? self->queue_cap * 2 : 64;
            self->queue = realloc(self->queue, self->queue_cap * sizeof *self->queue);
        }
    }
    self->queue[self->queued++] = entry;
}

//  Send a statement in pipeline mode (its Parse first, the first time on this
//  connection). Returns 0 or -1 (the connection failed: the callback has been told).
static int s_send(crm_db_t *self, const crm_stmt_t *stmt, const char *const *values,
                  const int *lengths, const int *formats, crm_db_result_fn *fn, void *arg,
                  PGresult **keep, bool *done) {
    int ok;
    if (stmt->custom_plan)
        ok = PQsendQueryParams(self->conn, stmt->sql, stmt->nparams, NULL, values, lengths,
                               formats, 0);
    else {
        if (!zhashx_lookup(self->prepared, stmt->name)) {
            if (!PQsendPrepare(self->conn, stmt->name, stmt->sql, stmt->nparams, NULL))
                goto failed;
            zhashx_insert(self->prepared, stmt->name, (void *)stmt);
            s_expect(self, (s_queued_t){.stmt = stmt, .prepare = true});
        }
        ok = PQsendQueryPrepared(self->conn, stmt->name, stmt->nparams, values, lengths,
                                 formats, 0);
    }
    if (!ok)
        goto failed;
    s_expect(self, (s_queued_t){.stmt = stmt, .fn = fn, .arg = arg, .keep = keep, .done = done});
    //  Out at once, not at the sync point: the server runs a statement as soon as it
    //  arrives, so it works on the first of a batch while we still prepare the rest.
    //  (On two cores the daemon and its backend otherwise take turns: at 8 HTTP
    //  clients, about 3% more creates per second.) A connection that fails here is
    //  noticed, and everyone owed told, at the next sync point.
    if (self->pipelined)
        (void)PQflush(self->conn);
    return 0;
failed:
    self->segment_failed = true;
    s_record_error(self, NULL, stmt->name);
    if (fn)
        fn(self, NULL, arg);
    if (done)
        *done = true;
    return -1;
}

//  Hand one statement's result (NULL: it failed, was skipped, or the connection died)
//  to its owner.
static void s_deliver(crm_db_t *self, s_queued_t *q, PGresult *res) {
    bool ok = res && s_result_ok(res);
    if (!ok) {
        self->segment_failed = true;
        //  Statements skipped after a failure keep the failure's SQLSTATE.
        if (res ? PQresultStatus(res) != PGRES_PIPELINE_ABORTED
                : PQstatus(self->conn) != CONNECTION_OK)
            s_record_error(self, res, q->stmt->name);
        if (q->prepare)
            zhashx_delete(self->prepared, q->stmt->name);
    } else if (!q->prepare && q->stmt->writes)
        self->writes++;
    if (q->keep) {
        *q->keep = ok ? res : NULL;
        if (ok)
            res = NULL;
    } else if (q->fn)
        q->fn(self, ok ? res : NULL, q->arg);
    if (q->done)
        *q->done = true;
    PQclear(res);
}

//  A sync point's answer: the statements since the previous one committed, or (one
//  failed) none did.
static void s_deliver_sync(crm_db_t *self, s_queued_t *q, bool lost) {
    bool ok = !self->segment_failed && !lost;
    self->segment_failed = false;
    if (q->sync_fn)
        q->sync_fn(self, ok, q->arg);
}

//  The connection is gone: everything owed is told it failed.
static void s_fail_owed(crm_db_t *self) {
    self->await_end = self->discarding = false;
    while (self->read_pos < self->queued) {
        s_queued_t *q = &self->queue[self->read_pos++];
        if (q->stmt)
            s_deliver(self, q, NULL);
        else
            s_deliver_sync(self, q, true);
    }
}

//  Read answers in order and deliver them. block: wait for each; else stop (returning
//  0) when the next has not arrived. one: return after one delivery. Returns 0, or -1
//  when nothing is owed any more (or the connection died: everything owed has been
//  told it failed).
static int s_pump(crm_db_t *self, bool block, bool one) {
    int idle = 0;  // answers asked for in a row that libpq did not have
    while (self->read_pos < self->queued) {
        s_queued_t *q = &self->queue[self->read_pos];
        if (self->discarding && q->stmt) {
            //  After a failure the server runs nothing before the next sync point.
            self->read_pos++;
            s_deliver(self, q, NULL);
            if (one)
                return 0;
            continue;
        }
        if (!PQconsumeInput(self->conn))
            goto lost;
        if (PQisBusy(self->conn) || idle > 1) {
            if (!block)
                return 0;
            struct pollfd pfd = {.fd = PQsocket(self->conn), .events = POLLIN};
            poll(&pfd, 1, 1000);
            idle = 0;
            continue;
        }
        PGresult *res = PQgetResult(self->conn);
        if (!res) {
            if (PQstatus(self->conn) != CONNECTION_OK)
                goto lost;
            if (self->await_end) {
                //  The end of a statement's results.
                self->await_end = false;
                self->read_pos++;
            } else
                idle++;  // the next answer has not arrived
            continue;
        }
        idle = 0;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            //  A sync point: everything sent before it has been answered.
            self->await_end = self->discarding = false;
            while (self->read_pos < self->queued && self->queue[self->read_pos].stmt) {
                q = &self->queue[self->read_pos++];
                s_deliver(self, q, NULL);
            }
            if (self->read_pos < self->queued)
                s_deliver_sync(self, &self->queue[self->read_pos++], false);
            if (one)
                return 0;
            continue;
        }
        if (self->await_end || self->discarding || !q->stmt) {
            //  More results of the statement just answered, or answers skipped after a
            //  failure (libpq reports them variously): the sync point ends them.
            if (self->await_end && st == PGRES_PIPELINE_ABORTED) {
                self->await_end = false;
                self->read_pos++;
            }
            PQclear(res);
            continue;
        }
        bool failed = !s_result_ok(res);
        s_deliver(self, q, res);
        if (failed) {
            self->discarding = true;
            self->read_pos++;
        } else
            self->await_end = true;
        if (one)
            return 0;
    }
    return -1;
lost:
    s_fail_owed(self);
    return -1;
}

int crm_db_query_async(crm_db_t *self, const crm_stmt_t *stmt, const char *const *params,
                       crm_db_result_fn *fn, void *arg) {
    if (!self->pipelined) {
        PGresult *res = crm_db_query(self, stmt, params);
        fn(self, res, arg);
        PQclear(res);
        return res ? 0 : -1;
    }
    return s_send(self, stmt, params, NULL, NULL, fn, arg, NULL, NULL);
}

int crm_db_pipeline_open(crm_db_t *self) {
    if (self->pipelined)
        return 0;
    if (!self->conn || !PQenterPipelineMode(self->conn))
        return -1;
    self->pipelined = true;
    self->segment_failed = false;
    return 0;
}

bool crm_db_pipelined(crm_db_t *self) {
    return self->pipelined;
}

int crm_db_pipeline_sync(crm_db_t *self, crm_db_sync_fn *fn, void *arg) {
    s_expect(self, (s_queued_t){.sync_fn = fn, .arg = arg});
    if (!PQpipelineSync(self->conn) || PQflush(self->conn) != 0) {
        s_pump(self, true, false);  // the connection is gone: tell everyone
        return -1;
    }
    return 0;
}

int crm_db_pipeline_pump(crm_db_t *self) {
    if (!self->conn)
        return -1;
    if (self->pipelined && self->read_pos < self->queued)
        s_pump(self, false, false);
    else if (!PQconsumeInput(self->conn))  // nothing owed: readable means closed
        s_fail_owed(self);
    return crm_db_ok(self) ? 0 : -1;
}

void crm_db_pipeline_wait(crm_db_t *self) {
    if (!self->pipelined || self->read_pos == self->queued)
        return;
    //  Statements after the last sync point are answered only when asked for.
    PQsendFlushRequest(self->conn);
    PQflush(self->conn);
    s_pump(self, true, false);
}

int crm_db_socket(crm_db_t *self) {
    return self->conn ? PQsocket(self->conn) : -1;
}

void crm_db_pipeline_close(crm_db_t *self) {
    if (!self->pipelined)
        return;
    crm_db_pipeline_wait(self);
    if (self->conn)
        PQexitPipelineMode(self->conn);
    self->pipelined = false;
}

unsigned long crm_db_writes(crm_db_t *self) {
    return self->writes;
}

bool crm_db_failed(crm_db_t *self) {
    if (self->pipelined)
        return self->segment_failed;
    return !self->conn || PQtransactionStatus(self->conn) == PQTRANS_INERROR ||
           PQtransactionStatus(self->conn) == PQTRANS_UNKNOWN;
}

PGresult *crm_db_query(crm_db_t *self, const crm_stmt_t *stmt, const char *const *params) {
    return crm_db_query_params(self, stmt, params, NULL, NULL);
}

char *crm_db_bytea_literal(const uint8_t *data, size_t size) {
    static const char digits[] = "0123456789abcdef";
    char *text = malloc(2 * size + 3);
    assert(text);
    text[0] = '\\';
    text[1] = 'x';
    for (size_t i = 0; i < size; i++) {
        text[2 + 2 * i] = digits[data[i] >> 4];
        text[3 + 2 * i] = digits[data[i] & 15];
    }
    text[2 + 2 * size] = 0;
    return text;
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

void crm_stmt_init(crm_stmt_t *stmt, const char *schema, const char *name, int nparams,
                   bool writes, const char *fmt) {
    *stmt = (crm_stmt_t){.name = zsys_sprintf("%s_%s", schema, name),
                         .sql = zsys_sprintf(fmt, schema),
                         .nparams = nparams,
                         .writes = writes};
}

void crm_stmt_clear(crm_stmt_t *stmt) {
    zstr_free((char **)&stmt->name);
    zstr_free((char **)&stmt->sql);
}
