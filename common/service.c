/*  service: request-serving core shared by the daemons. See service.h. */
#include "service.h"
#include "validate.h"
#include "peer.h"
#include "bus_worker.h"
#include "dbloop.h"
#include "json_pb.h"
#include "log.h"
#include "outbox.h"
#include "relay.h"

#include <stdarg.h>

typedef struct {
    crm_bus_worker_t *worker;
    zframe_t *reply_to;
    zmsg_t *request;
} s_pending_t;

//  A batch of requests sent down the pipeline, answered at its sync point.
typedef struct _s_batch_t s_batch_t;

struct _crm_service_t {
    char *name;
    const crm_config_t *cfg;
    zhashx_t *stmts;         // crm_service_stmt's statements by name
    crm_relay_t *relay;      // kicked when a batch that wrote commits
    const crm_method_t *methods;
    const crm_ahead_row_t *aheads;  // the methods that look ahead (NULL: none)
    crm_db_t *db;
    void *arg;
    int n_workers;
    crm_bus_worker_t **workers;
    int max_batch;
    s_pending_t *pending;
    int n_pending;
    zloop_t *loop;
    bool flush_armed;
    int in_flight;           // batches sent, sync point not yet answered
    bool busy;               // building a batch or redoing: callbacks must not start more
    bool optimistic;         // running a batch's pipelined pass (crm_call_write queues)
    uint64_t queued_writes;  // writes crm_call_write queued without waiting, so far
    s_batch_t *redo_head, *redo_tail;  // batches to run again with savepoints
    s_batch_t *ahead;        // the batch whose methods' aheads are out (next to run)
    crm_dbloop_t dbl;        // the connection's pipeline on the loop
    uint64_t requests;
    uint64_t batches;
    crm_stmt_t idem_get;
    crm_stmt_t idem_put;
};

static void s_redo(crm_service_t *self);
static void s_on_answers(void *arg);
static void s_batch_reply(crm_service_t *self, s_batch_t *batch);

crm_service_t *crm_service_new(const crm_config_t *cfg, const char *name,
                               const crm_method_t *methods, crm_db_t *db, int workers,
                               int max_batch, void *arg) {
    crm_service_t *self = calloc(1, sizeof *self);
    assert(self);
    self->name = strdup(name);
    self->cfg = cfg;
    self->stmts = zhashx_new();
    crm_dbloop_init(&self->dbl, db, NULL, s_on_answers, self);
    self->methods = methods;
    self->db = db;
    self->arg = arg;
    self->n_workers = workers > 0 ? workers : 1;
    self->max_batch = max_batch > 0 ? max_batch : 1;
    self->workers = calloc(self->n_workers, sizeof *self->workers);
    self->pending = calloc(self->n_workers, sizeof *self->pending);
    for (int i = 0; i < self->n_workers; i++)
        self->workers[i] = crm_bus_worker_new(crm_config_broker(cfg), name, cfg->broker_heartbeat_ms,
                                              cfg->broker_liveness);
    crm_stmt_init(&self->idem_get, name, "idem_get", 2, false,
                  "SELECT method, code, response FROM %s.idempotency"
                  " WHERE tenant_id = $1 AND key = $2");
    crm_stmt_init(&self->idem_put, name, "idem_put", 5, true,
                  "INSERT INTO %s.idempotency (tenant_id, key, method, code, response)"
                  " VALUES ($1, $2, $3, $4, $5)");
    return self;
}

void crm_service_destroy(crm_service_t **self_p) {
    assert(self_p);
    crm_service_t *self = *self_p;
    if (!self)
        return;
    //  Batches still out are answered before the workers go.
    if (self->db && crm_db_pipelined(self->db)) {
        crm_db_pipeline_wait(self->db);
        s_redo(self);
        crm_db_pipeline_close(self->db);
    }
    if (self->ahead) {  // its aheads' answers will not come: 503s
        s_batch_t *batch = self->ahead;
        self->ahead = NULL;
        s_batch_reply(self, batch);
    }
    for (int i = 0; i < self->n_pending; i++) {
        zframe_destroy(&self->pending[i].reply_to);
        zmsg_destroy(&self->pending[i].request);
    }
    for (int i = 0; i < self->n_workers; i++)
        crm_bus_worker_destroy(&self->workers[i]);
    free(self->workers);
    free(self->pending);
    crm_stmt_clear(&self->idem_get);
    crm_stmt_clear(&self->idem_put);
    for (crm_stmt_t *stmt = zhashx_first(self->stmts); stmt; stmt = zhashx_next(self->stmts)) {
        crm_stmt_clear(stmt);
        free(stmt);
    }
    zhashx_destroy(&self->stmts);
    free(self->name);
    free(self);
    *self_p = NULL;
}

static int s_prepare_schema(crm_db_t *db, const char *name) {
    char *sql = zsys_sprintf("CREATE TABLE IF NOT EXISTS %s.idempotency ("
                             " tenant_id text NOT NULL, key text NOT NULL, method text NOT NULL,"
                             " code int NOT NULL, response bytea,"
                             " created_at timestamptz NOT NULL DEFAULT now(),"
                             " PRIMARY KEY (tenant_id, key))",
                             name);
    int rc = crm_db_exec(db, sql);
    zstr_free(&sql);
    if (rc == 0)
        rc = crm_events_prepare_schema(db, name);
    return rc;
}

int crm_service_prepare_schema(crm_service_t *self) {
    return s_prepare_schema(self->db, self->name);
}

const char *crm_service_name(crm_service_t *self) {
    return self->name;
}

const crm_config_t *crm_service_config(crm_service_t *self) {
    return self->cfg;
}

crm_stmt_t *crm_service_stmt(crm_service_t *self, const char *name, int nparams, bool writes,
                             const char *fmt) {
    crm_stmt_t *stmt = zhashx_lookup(self->stmts, name);
    if (stmt)
        return stmt;
    stmt = calloc(1, sizeof *stmt);
    assert(stmt);
    crm_stmt_init(stmt, self->name, name, nparams, writes, fmt);
    zhashx_insert(self->stmts, name, stmt);
    return stmt;
}

void crm_service_set_aheads(crm_service_t *self, const crm_ahead_row_t *aheads) {
    self->aheads = aheads;
}

//  The ahead of a method, or NULL.
static crm_ahead_fn *s_ahead_of(crm_service_t *self, const crm_method_t *method) {
    for (const crm_ahead_row_t *row = self->aheads; row && row->method; row++)
        if (strcmp(row->method, method->name) == 0)
            return row->fn;
    return NULL;
}

void crm_service_set_relay(crm_service_t *self, crm_relay_t *relay) {
    self->relay = relay;
}

crm_relay_t *crm_service_relay(crm_service_t *self) {
    return self->relay;
}

uint64_t crm_service_requests(crm_service_t *self) {
    return self->requests;
}

uint64_t crm_service_batches(crm_service_t *self) {
    return self->batches;
}

void crm_call_error(crm_call_t *call, const char *error, const char *fmt, ...) {
    snprintf(call->error, sizeof call->error, "%s", error);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->message, sizeof call->message, fmt, ap);
    va_end(ap);
}

//  The error every field-error answer carries.
static void s_call_validation_failed(crm_call_t *call) {
    if (!call->error[0]) {
        snprintf(call->error, sizeof call->error, "validation_failed");
        snprintf(call->message, sizeof call->message, "the request breaks a rule");
    }
}

void crm_call_details(crm_call_t *call, const ProtobufCMessage *details) {
    free(call->details);
    call->details = crm_pb_to_json(details);
}

void crm_call_header(crm_call_t *call, const char *name, const char *value) {
    Crm__HttpField *field = malloc(sizeof *field);
    assert(field);
    crm__http_field__init(field);
    field->name = strdup(name);
    field->value = strdup(value);
    call->headers = realloc(call->headers, (call->n_headers + 1) * sizeof *call->headers);
    assert(call->headers);
    call->headers[call->n_headers++] = field;
}

void crm_call_field_error(crm_call_t *call, const char *field, const char *fmt, ...) {
    s_call_validation_failed(call);
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    crm_errors_add(&call->errors, field, "%s", text);
}

int crm_call_fail(crm_call_t *call, crm_errors_t *errors) {
    if (!errors->n)
        return 0;
    s_call_validation_failed(call);
    crm_errors_move(&call->errors, errors);
    return 422;
}

int crm_call_write(crm_call_t *call, const crm_stmt_t *stmt, const char *const *params,
                   char sqlstate[6]) {
    crm_service_t *self = call->service;
    if (sqlstate)
        sqlstate[0] = 0;
    if (self && self->optimistic) {
        //  Sent without waiting: a failure fails the batch, which runs again one by one.
        self->queued_writes++;
        crm_db_query_async(call->db, stmt, params, NULL, NULL);
        return 0;
    }
    if (crm_db_savepoint(call->db, "crm_write"))
        return -1;
    PGresult *res = crm_db_query(call->db, stmt, params);
    if (res) {
        PQclear(res);
        crm_db_release(call->db, "crm_write");
        return 0;
    }
    if (sqlstate)
        snprintf(sqlstate, 6, "%s", crm_db_sqlstate(call->db));
    crm_db_rollback_to(call->db, "crm_write");
    crm_db_release(call->db, "crm_write");
    return -1;
}

int crm_call_service(crm_call_t *call, crm_bus_client_t *client, const char *service,
                     const char *method, const ProtobufCMessage *request,
                     const ProtobufCMessageDescriptor *response_type, int timeout_ms,
                     ProtobufCMessage **response, Crm__ReplyHeader **reply_header) {
    return crm_call_service_keyed(call, client, service, method, NULL, request, response_type,
                                  timeout_ms, response, reply_header);
}

int crm_call_service_keyed(crm_call_t *call, crm_bus_client_t *client, const char *service,
                           const char *method, const char *idempotency_key,
                           const ProtobufCMessage *request,
                           const ProtobufCMessageDescriptor *response_type, int timeout_ms,
                           ProtobufCMessage **response, Crm__ReplyHeader **reply_header) {
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = (char *)method;
    header.tenant_id = call->header->tenant_id;
    header.actor_id = call->header->actor_id;
    header.role = call->header->role;
    header.request_id = call->header->request_id;
    if (idempotency_key)
        header.idempotency_key = (char *)idempotency_key;
    header.deadline_ms = (uint32_t)timeout_ms;
    zmsg_t *body = crm_bus_request_new(&header, request);
    zmsg_t *reply = crm_bus_client_request(client, service, &body, timeout_ms + 500);
    ProtobufCMessage *out = NULL;
    Crm__ReplyHeader *rh = reply ? crm_bus_reply_parse(&reply, response_type, &out) : NULL;
    int code = rh ? (int)rh->code : 0;
    if (code / 100 == 2 && response_type && !out)
        code = 0;  // an answer without its message: as good as none
    if (response)
        *response = code / 100 == 2 ? out : NULL;
    if (out && (!response || code / 100 != 2))
        protobuf_c_message_free_unpacked(out, NULL);
    if (reply_header)
        *reply_header = rh;
    else if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return code;
}

int crm_call_db_failure(crm_call_t *call) {
    if (!crm_db_ok(call->db)) {
        crm_call_error(call, "unavailable", "the database is unavailable; retry later");
        return 503;
    }
    crm_call_error(call, "internal", "the request failed in the database (request id %s)",
                   call->header ? call->header->request_id : "");
    return 500;
}

//  Free what a call accumulated.
static void s_call_reset(crm_call_t *call) {
    crm_errors_reset(&call->errors);
    free(call->details);
    call->details = NULL;
    for (size_t i = 0; i < call->n_headers; i++)
        crm__http_field__free_unpacked(call->headers[i], NULL);
    free(call->headers);
    call->headers = NULL;
    call->n_headers = 0;
}

static const crm_method_t *s_method_find(crm_service_t *self, const char *name) {
    for (const crm_method_t *m = self->methods; m->name; m++)
        if (strcmp(m->name, name) == 0)
            return m;
    return NULL;
}

//  Build the reply frames: ReplyHeader, then the response bytes when there are any.
static zmsg_t *s_reply_new(int code, const crm_call_t *call, const char *request_id,
                           const void *body, size_t body_size) {
    Crm__ReplyHeader header = CRM__REPLY_HEADER__INIT;
    header.code = code;
    header.request_id = (char *)(request_id ? request_id : "");
    if (code >= 400 && call) {
        header.error = (char *)call->error;
        header.message = (char *)call->message;
        header.conflict_id = (char *)call->conflict_id;
        header.fields = call->errors.items;
        header.n_fields = call->errors.n;
        if (call->details)
            header.details = call->details;
    }
    if (call) {
        header.headers = call->headers;
        header.n_headers = call->n_headers;
    }
    size_t size = crm__reply_header__get_packed_size(&header);
    zframe_t *frame = zframe_new(NULL, size);
    crm__reply_header__pack(&header, zframe_data(frame));
    zmsg_t *reply = zmsg_new();
    zmsg_append(reply, &frame);
    if (body)
        zmsg_addmem(reply, body, body_size);
    return reply;
}

static zmsg_t *s_reply_error(int code, const char *error, const char *message,
                             const char *request_id) {
    crm_call_t call = {0};
    snprintf(call.error, sizeof call.error, "%s", error);
    snprintf(call.message, sizeof call.message, "%s", message);
    return s_reply_new(code, &call, request_id, NULL, 0);
}

//  Look up a stored reply for this idempotency key. Returns 1 and sets *reply when the
//  request was already served, 0 when not, -1 on error (reply set to an error).
static int s_idempotent_lookup(crm_service_t *self, const Crm__RequestHeader *header,
                               zmsg_t **reply) {
    const char *params[] = {header->tenant_id, header->idempotency_key};
    PGresult *res = crm_db_query(self->db, &self->idem_get, params);
    if (!res) {
        *reply = s_reply_error(500, "internal", "could not read idempotency key",
                               header->request_id);
        return -1;
    }
    int found = PQntuples(res) > 0;
    if (found) {
        if (strcmp(PQgetvalue(res, 0, 0), header->method) != 0)
            *reply = s_reply_error(422, "idempotency_key_reused",
                                   "this Idempotency-Key was used for a different request",
                                   header->request_id);
        else {
            size_t size = 0;
            unsigned char *body =
                PQgetisnull(res, 0, 2)
                    ? NULL
                    : PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 2), &size);
            *reply = s_reply_new(atoi(PQgetvalue(res, 0, 1)), NULL, header->request_id, body,
                                 size);
            PQfreemem(body);
        }
    }
    PQclear(res);
    return found;
}

static int s_idempotent_store(crm_service_t *self, const Crm__RequestHeader *header, int code,
                              const void *body, size_t size) {
    char code_text[16];
    snprintf(code_text, sizeof code_text, "%d", code);
    const char *values[] = {header->tenant_id, header->idempotency_key, header->method, code_text,
                            body};
    int lengths[] = {0, 0, 0, 0, (int)size};
    int formats[] = {0, 0, 0, 0, 1};
    PGresult *res = crm_db_query_params(self->db, &self->idem_put, values, lengths, formats);
    PQclear(res);
    return res ? 0 : -1;
}

//  One request of a batch, from its frames to its reply.
typedef struct {
    Crm__RequestHeader *header;
    const crm_method_t *method;
    ProtobufCMessage *in;
    crm_call_t call;
    zmsg_t *reply;      // set as soon as the outcome is known
    bool idempotent;
} s_request_t;

//  What is wrong with a request's header, or NULL. Every request is a tenant's ("*":
//  every tenant, the suite's own calls), made in one of the known roles; but a raw
//  route's (crm.HttpRequest: a provider's webhook, a signed link) has neither, its
//  method finding the tenant in what it verifies.
static const char *s_header_problem(const Crm__RequestHeader *header,
                                    const crm_method_t *method) {
    bool raw = method->request == &crm__http_request__descriptor;
    if (raw && !header->tenant_id[0] && !header->role[0])
        return NULL;
    if (!header->tenant_id[0])
        return "request header names no tenant";
    if (strcmp(header->tenant_id, "*") != 0 && !crm_tenant_valid(header->tenant_id))
        return "request header's tenant is not a well-formed id (1 to 64 of a-z 0-9 - _)";
    if (!crm_role_known(header->role))
        return "request header's role is not one of admin, manager, sales, analyst,"
               " integration, system";
    return NULL;
}

//  Unpack a request's frames. Returns 0, or -1 with ctx->reply set to the error.
static int s_unpack(crm_service_t *self, zmsg_t *request, s_request_t *ctx) {
    zframe_t *header_frame = zmsg_first(request);
    zframe_t *body_frame = zmsg_next(request);
    if (!header_frame) {
        ctx->reply = s_reply_error(400, "bad_request", "request has no header frame", "");
        return -1;
    }
    ctx->header = crm__request_header__unpack(NULL, zframe_size(header_frame),
                                              zframe_data(header_frame));
    if (!ctx->header) {
        ctx->reply =
            s_reply_error(400, "bad_request", "request header is not a crm.RequestHeader", "");
        return -1;
    }
    const char *request_id = ctx->header->request_id;
    ctx->method = s_method_find(self, ctx->header->method);
    if (!ctx->method) {
        ctx->reply = s_reply_error(404, "unknown_method", "the service has no such method",
                                   request_id);
        return -1;
    }
    const char *refused = s_header_problem(ctx->header, ctx->method);
    if (refused) {
        //  Ids only: the header's values may be anything a forger put there.
        crm_log_kv(CRM_LOG_WARN, "refusing a request with an invalid header", "service",
                   self->name, "method", ctx->method->name, "reason", refused, NULL);
        ctx->reply = s_reply_error(400, "bad_request", refused, request_id);
        return -1;
    }
    ctx->in = protobuf_c_message_unpack(ctx->method->request, NULL,
                                        body_frame ? zframe_size(body_frame) : 0,
                                        body_frame ? zframe_data(body_frame) : NULL);
    if (!ctx->in) {
        ctx->reply = s_reply_error(400, "bad_request", "request body does not match the method",
                                   request_id);
        return -1;
    }
    ctx->idempotent = ctx->method->writes && ctx->header->idempotency_key[0];
    //  Checked here too (the gateway refuses it first): a key that is not UTF-8 would fail
    //  its SQL lookup, and with it the batch's transaction.
    const char *key = ctx->header->idempotency_key;
    if (ctx->idempotent && (strlen(key) > 255 || !crm_utf8_valid(key, strlen(key)))) {
        ctx->reply = s_reply_error(400, "bad_request",
                                   "Idempotency-Key must be 1 to 255 bytes of UTF-8", request_id);
        return -1;
    }
    return 0;
}

//  The method's outcome as a normalised code: a success without a response (other than
//  204) is an internal error.
static int s_outcome(s_request_t *ctx) {
    crm_call_t *call = &ctx->call;
    if (call->code < 400 && call->code != 204 && !call->response) {
        call->code = 500;
        crm_call_error(call, "internal", "method returned no response");
    }
    return call->code;
}

//  Render the reply of a finished request; stores it under its idempotency key when it
//  has one. Returns -1 when that store failed.
static int s_finish(crm_service_t *self, s_request_t *ctx) {
    int code = s_outcome(ctx);
    const char *request_id = ctx->header->request_id;
    if (code >= 400) {
        ctx->reply = s_reply_new(code, &ctx->call, request_id, NULL, 0);
        return 0;
    }
    ProtobufCMessage *out = ctx->call.response;
    size_t size = out ? protobuf_c_message_get_packed_size(out) : 0;
    uint8_t *body = size ? malloc(size) : NULL;
    if (body)
        protobuf_c_message_pack(out, body);
    int rc = 0;
    if (ctx->idempotent && s_idempotent_store(self, ctx->header, code, body, size)) {
        ctx->reply = s_reply_error(409, "conflict", "a request with this Idempotency-Key is running",
                                   request_id);
        rc = -1;
    } else
        ctx->reply = s_reply_new(code, &ctx->call, request_id,
                                 out ? (body ? body : (void *)"") : NULL, size);
    free(body);
    return rc;
}

//  Run one request inside the batch transaction. With savepoints (the second pass), a
//  failure rolls back to the request's savepoint. Without (the pipelined first pass),
//  the whole batch commits or not: *redo is set when it cannot stand, a request having
//  failed after writing or a statement having failed.
static void s_start(crm_service_t *self, s_request_t *ctx, int index, const ProtobufCMessage *note,
                    bool savepoints, bool *redo) {
    crm_call_t *call = &ctx->call;
    call->note = note;
    call->header = ctx->header;
    call->db = self->db;
    call->arg = self->arg;
    call->service = self;
    char savepoint[32];
    snprintf(savepoint, sizeof savepoint, "r%d", index);
    if (savepoints && crm_db_savepoint(self->db, savepoint)) {
        ctx->reply = s_reply_error(503, "unavailable", "the database is unavailable; retry later",
                                   ctx->header->request_id);
        return;
    }
    if (ctx->idempotent) {
        int found = s_idempotent_lookup(self, ctx->header, &ctx->reply);
        //  A failed lookup aborts the transaction: back to this request's savepoint, so
        //  the others of the batch go on (the first pass is done again with savepoints).
        if (found < 0 && savepoints)
            crm_db_rollback_to(self->db, savepoint);
        else if (found < 0)
            *redo = true;
        if (found != 0) {
            if (savepoints)
                crm_db_release(self->db, savepoint);
            return;
        }
    }
    unsigned long writes_before = crm_db_writes(self->db);
    uint64_t queued_before = self->queued_writes;
    call->code = ctx->method->fn(call, ctx->in, &call->response);
    bool failed = s_outcome(ctx) >= 400;
    if (!failed && ctx->idempotent && s_finish(self, ctx))
        failed = true;
    bool wrote = crm_db_writes(self->db) != writes_before || self->queued_writes != queued_before;
    if (savepoints) {
        if (failed || crm_db_failed(self->db))
            crm_db_rollback_to(self->db, savepoint);
        crm_db_release(self->db, savepoint);
    } else if ((failed && wrote) || crm_db_failed(self->db))
        *redo = true;
}

static void s_request_reset(s_request_t *ctx) {
    s_call_reset(&ctx->call);
    if (ctx->call.response)
        protobuf_c_message_free_unpacked(ctx->call.response, NULL);
    if (ctx->in)
        protobuf_c_message_free_unpacked(ctx->in, NULL);
    if (ctx->header)
        crm__request_header__free_unpacked(ctx->header, NULL);
    zmsg_destroy(&ctx->reply);
    memset(ctx, 0, sizeof *ctx);
}

//  Reconnect to the database when the connection was lost, at most once a second.
static bool s_db_available(crm_service_t *self) {
    return crm_dbloop_connected(&self->dbl);
}

void crm_service_health(crm_service_t *self, bool *database, bool *broker) {
    *database = s_db_available(self); // a lost connection is tried again (once a second)
    *broker = false;
    for (int i = 0; i < self->n_workers; i++)
        *broker |= crm_bus_worker_connected(self->workers[i]);
}

#define S_MAX_IN_FLIGHT 4

struct _s_batch_t {
    crm_service_t *service;
    int n;
    s_pending_t *pending;  // the requests' workers, addresses and frames
    s_request_t *ctx;      // their state
    ProtobufCMessage **notes;  // what the methods' aheads found, per request (NULL: none)
    int aheads_out;        // aheads not done yet
    bool aheads_starting;  // s_aheads_start is handing them out
    bool redo;             // must run again with savepoints
    s_batch_t *next;       // in the redo list
};

static s_batch_t *s_batch_new(crm_service_t *self) {
    s_batch_t *batch = calloc(1, sizeof *batch);
    batch->service = self;
    int n = self->n_pending < self->max_batch ? self->n_pending : self->max_batch;
    batch->n = n;
    batch->pending = malloc(n * sizeof *batch->pending);
    batch->ctx = calloc(n, sizeof *batch->ctx);
    batch->notes = calloc(n, sizeof *batch->notes);
    memcpy(batch->pending, self->pending, n * sizeof *self->pending);
    memmove(self->pending, self->pending + n, (self->n_pending - n) * sizeof *self->pending);
    self->n_pending -= n;
    return batch;
}

//  Send the batch's replies (503 where there is none) and free it.
static void s_batch_reply(crm_service_t *self, s_batch_t *batch) {
    bool wrote = false;
    for (int i = 0; i < batch->n; i++) {
        s_request_t *ctx = &batch->ctx[i];
        wrote = wrote || (ctx->method && ctx->method->writes);
        zmsg_t *reply = ctx->reply;
        ctx->reply = NULL;
        if (!reply)
            reply = s_reply_error(503, "unavailable", "the database is unavailable; retry later",
                                  ctx->header ? ctx->header->request_id : "");
        crm_bus_worker_send(batch->pending[i].worker, &batch->pending[i].reply_to, &reply);
        zmsg_destroy(&batch->pending[i].request);
        s_request_reset(ctx);
    }
    self->requests += batch->n;
    self->batches++;
    if (wrote && self->relay) // its events are committed: publish them
        crm_relay_kick(self->relay);
    for (int i = 0; i < batch->n; i++)
        if (batch->notes[i])
            protobuf_c_message_free_unpacked(batch->notes[i], NULL);
    free(batch->notes);
    free(batch->pending);
    free(batch->ctx);
    free(batch);
}

//  Run a batch synchronously outside the pipeline, a savepoint per request, so a
//  request that fails rolls back alone. Each ctx keeps its reply, or none (503) where
//  the database failed.
static void s_batch_run_savepoints(crm_service_t *self, s_batch_t *batch) {
    for (int i = 0; i < batch->n; i++)
        s_request_reset(&batch->ctx[i]);
    if (!s_db_available(self) || crm_db_begin(self->db) != 0)
        return;
    bool redo = false;
    for (int i = 0; i < batch->n; i++)
        if (s_unpack(self, batch->pending[i].request, &batch->ctx[i]) == 0)
            s_start(self, &batch->ctx[i], i, batch->notes[i], true, &redo);
    if (crm_db_commit(self->db) == 0) {
        for (int i = 0; i < batch->n; i++)
            if (!batch->ctx[i].reply)
                s_finish(self, &batch->ctx[i]);
    } else {
        crm_db_rollback(self->db);
        for (int i = 0; i < batch->n; i++)
            zmsg_destroy(&batch->ctx[i].reply);
    }
}

//  A batch's sync point is answered: its statements committed (ok) or none did. Runs
//  inside the database's result reading, so it only replies or queues the batch for a
//  second run; s_after_db does the rest.
static void s_on_batch_done(crm_db_t *db, bool ok, void *arg) {
    (void)db;
    s_batch_t *batch = arg;
    crm_service_t *self = batch->service;
    self->in_flight--;
    if (ok && !batch->redo) {
        for (int i = 0; i < batch->n; i++)
            if (!batch->ctx[i].reply)
                s_finish(self, &batch->ctx[i]);  // not idempotent: no database work
        s_batch_reply(self, batch);
        return;
    }
    batch->redo = true;
    batch->next = NULL;
    if (self->redo_tail)
        self->redo_tail->next = batch;
    else
        self->redo_head = batch;
    self->redo_tail = batch;
}

static void s_flush(crm_service_t *self);

//  Run the batches waiting for their second pass: leave the pipeline (once everything
//  sent is answered), run each with savepoints, come back.
static void s_redo(crm_service_t *self) {
    if (!self->redo_head)
        return;
    self->busy = true;
    crm_db_pipeline_close(self->db);
    while (self->redo_head) {
        s_batch_t *batch = self->redo_head;
        self->redo_head = batch->next;
        if (!self->redo_head)
            self->redo_tail = NULL;
        s_batch_run_savepoints(self, batch);
        s_batch_reply(self, batch);
    }
    self->busy = false;
}

static bool s_pipeline_ready(crm_service_t *self) {
    return crm_dbloop_ready(&self->dbl);
}

//  After the database answered: second passes first, then whatever is pending.
static void s_after_db(crm_service_t *self) {
    s_redo(self);
    s_flush(self);
    s_redo(self);
}

static void s_on_answers(void *arg) {
    s_after_db(arg);
}

//  A request of a batch unpacked (once: the aheads may have done it). 0, or -1 with
//  its reply set to the error.
static int s_unpacked(crm_service_t *self, s_batch_t *batch, int i) {
    s_request_t *ctx = &batch->ctx[i];
    if (!ctx->header && !ctx->reply)
        s_unpack(self, batch->pending[i].request, ctx);
    return ctx->reply ? -1 : 0;
}

//  The optimistic pass of a batch, down the pipeline without savepoints, as one
//  implicit transaction; its sync point answers it (s_on_batch_done).
static void s_batch_run(crm_service_t *self, s_batch_t *batch) {
    if (!s_pipeline_ready(self)) {
        s_batch_reply(self, batch);  // 503s
        return;
    }
    self->busy = true;
    bool redo = false;
    self->optimistic = true;
    for (int i = 0; i < batch->n && !redo; i++)
        if (s_unpacked(self, batch, i) == 0)
            s_start(self, &batch->ctx[i], i, batch->notes[i], false, &redo);
    self->optimistic = false;
    if (redo) {
        //  A request failed after writing: end the transaction rolled back.
        static const crm_stmt_t rollback = {.name = "crm_batch_rollback", .sql = "ROLLBACK"};
        crm_db_query_async(self->db, &rollback, NULL, NULL, NULL);
        batch->redo = true;
    }
    self->in_flight++;
    crm_db_pipeline_sync(self->db, s_on_batch_done, batch);
    self->busy = false;
}

//  Hand the batch's requests to their methods' aheads, a method at a time. True when
//  some are still out (the batch then waits in self->ahead for crm_ahead_done).
static bool s_aheads_start(crm_service_t *self, s_batch_t *batch) {
    batch->aheads_starting = true;
    bool *handed = calloc((size_t)batch->n, sizeof *handed);
    assert(handed);
    for (int i = 0; i < batch->n; i++) {
        if (handed[i] || s_unpacked(self, batch, i))
            continue;
        const crm_method_t *method = batch->ctx[i].method;
        crm_ahead_fn *fn = s_ahead_of(self, method);
        if (!fn)
            continue;
        crm_ahead_t *ahead = calloc(1, sizeof *ahead);
        assert(ahead);
        ahead->service = self;
        ahead->loop = self->loop;
        ahead->arg = self->arg;
        ahead->batch = batch;
        ahead->headers = calloc((size_t)batch->n, sizeof *ahead->headers);
        ahead->requests = calloc((size_t)batch->n, sizeof *ahead->requests);
        ahead->notes = calloc((size_t)batch->n, sizeof *ahead->notes);
        ahead->at = calloc((size_t)batch->n, sizeof *ahead->at);
        assert(ahead->headers && ahead->requests && ahead->notes && ahead->at);
        for (int j = i; j < batch->n; j++)
            if (!handed[j] && s_unpacked(self, batch, j) == 0 && batch->ctx[j].method == method) {
                handed[j] = true;
                ahead->headers[ahead->n] = batch->ctx[j].header;
                ahead->requests[ahead->n] = batch->ctx[j].in;
                ahead->at[ahead->n++] = (size_t)j;
            }
        batch->aheads_out++;
        fn(ahead);
    }
    free(handed);
    batch->aheads_starting = false;
    return batch->aheads_out > 0;
}

void crm_ahead_done(crm_ahead_t *ahead) {
    s_batch_t *batch = ahead->batch;
    crm_service_t *self = batch->service;
    for (size_t i = 0; i < ahead->n; i++)
        batch->notes[ahead->at[i]] = ahead->notes[i];
    free(ahead->headers);
    free(ahead->requests);
    free(ahead->notes);
    free(ahead->at);
    free(ahead);
    if (--batch->aheads_out > 0 || batch->aheads_starting)
        return;
    //  Answered later, from the loop: the batch runs, then whatever is pending.
    if (self->ahead == batch) {
        self->ahead = NULL;
        s_batch_run(self, batch);
        s_after_db(self);
    }
}

//  Send the pending requests down the pipeline as batches (at most S_MAX_IN_FLIGHT
//  unanswered): the optimistic pass, without savepoints, one implicit transaction per
//  batch. While the database runs one batch, the next is being prepared (its aheads
//  asked); batches wait while one's aheads are out.
static void s_flush(crm_service_t *self) {
    if (self->busy)
        return;
    while (!self->ahead && self->n_pending > 0 && self->in_flight < S_MAX_IN_FLIGHT) {
        s_batch_t *batch = s_batch_new(self);
        if (!s_pipeline_ready(self)) {
            s_batch_reply(self, batch);  // 503s
            continue;
        }
        if (s_aheads_start(self, batch)) {
            self->ahead = batch;
            return;
        }
        s_batch_run(self, batch);
    }
}

static int s_on_flush_timer(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    crm_service_t *self = arg;
    self->flush_armed = false;
    s_after_db(self);
    return 0;
}

//  A request arrived on one worker socket: queue it; the batch runs on the next loop
//  turn, after every socket that was ready together has been read.
static void s_on_request(crm_bus_worker_t *worker, zframe_t *reply_to, zmsg_t *request,
                         void *arg) {
    crm_service_t *self = arg;
    s_pending_t *p = &self->pending[self->n_pending++];
    p->worker = worker;
    p->reply_to = reply_to;
    p->request = request;
    if (self->n_pending >= self->max_batch || self->n_pending == self->n_workers) {
        s_flush(self);
        return;
    }
    if (!self->flush_armed) {
        self->flush_armed = true;
        zloop_timer(self->loop, 0, 1, s_on_flush_timer, self);
    }
}

int crm_service_attach(crm_service_t *self, zloop_t *loop) {
    self->loop = loop;
    self->dbl.loop = loop;
    for (int i = 0; i < self->n_workers; i++)
        if (crm_bus_worker_attach(self->workers[i], loop, s_on_request, self))
            return -1;
    return 0;
}

int crm_service_prepare_db_schema(crm_db_t *db, const char *name) {
    return s_prepare_schema(db, name);
}
