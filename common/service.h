/*  service: the request-serving core every daemon shares.

    A daemon describes its methods in a table and hands it to a service object, which
    registers `workers` Majordomo worker sockets with the broker from one zloop, unpacks
    each request (crm.RequestHeader + the method's request message), calls the method,
    and replies (crm.ReplyHeader + the response message).

        static const crm_method_t methods[] = {
            { "Create", contacts_create, &crm__contacts__create_contact_request__descriptor, true },
            { "Get",    contacts_get,    &crm__contacts__get_contact_request__descriptor,    false },
            { NULL }
        };

    Group commit (DESIGN §3, §13): the requests that arrive together form a batch, sent
    down the connection's pipeline as one implicit transaction with one durable commit;
    the next batch is prepared while the database runs this one. If a request fails
    after writing, or a statement fails, the batch runs again outside the pipeline with
    a savepoint per request, so a failing request rolls back alone. A write method
    called with an idempotency key stores its reply in <schema>.idempotency in the same
    transaction; a retry with the same key returns the stored reply without running
    again.
*/
#ifndef CRM_SERVICE_H
#define CRM_SERVICE_H

#include <czmq.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "bus_client.h"
#include "common.pb-c.h"
#include "config.h"
#include "db.h"
#include "errors.h"

typedef struct _crm_service_t crm_service_t;
typedef struct _crm_relay_t crm_relay_t;

//  One request in progress, as a method sees it.
typedef struct {
    const Crm__RequestHeader *header;  // tenant_id, actor_id, role, request_id, ...
    crm_db_t *db;                      // inside the batch transaction
    void *arg;                         // the service's own state (crm_service_new's arg)
    crm_service_t *service;            // the service serving it
    //  Filled through crm_call_error / crm_call_field_error:
    char error[64];
    char message[256];
    char conflict_id[64];
    crm_errors_t errors;  // the field errors (422 names them)
    //  The outcome (the core's: a method returns its code and sets *response).
    int code;
    ProtobufCMessage *response;
    //  Filled through crm_call_details / crm_call_header (the reply carries them):
    char *details;             // an error's details, JSON object text (NULL: none)
    Crm__HttpField **headers;  // headers for the HTTP answer
    size_t n_headers;
    //  What the method's ahead (below) found for this request before the batch ran
    //  (NULL: nothing, or no answer in time); the batch's, not to be freed.
    const ProtobufCMessage *note;
} crm_call_t;

//  A method, read top to bottom: decode the request, check it (the resource's rules),
//  store (the resource's _store.c), answer. Returns the reply code (200, 201, 204 on
//  success, with *response set for 200/201; 4xx/5xx on failure, with the call's error
//  filled). On failure any *response is ignored and the request's writes are rolled
//  back. A method never sees the batch it runs in: it runs its statements with
//  crm_db_query as if alone, and the core groups concurrent requests into one
//  transaction (a savepoint each when one of them fails).
typedef int(crm_method_fn)(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response);

//  A batch's requests of one method, handed to the method's ahead before they run
//  (below). The hook reads headers[i] and requests[i], may set notes[i] (a message the
//  core frees with the batch; the request's method finds it as call->note), and calls
//  crm_ahead_done(ahead) once, at once or later from the loop.
typedef struct _crm_ahead_t {
    crm_service_t *service;
    zloop_t *loop;
    void *arg;  // the service's own state
    size_t n;
    const Crm__RequestHeader **headers;
    const ProtobufCMessage **requests;
    ProtobufCMessage **notes;
    void *batch;  // the core's
    size_t *at;   // the core's: where each request is in its batch
} crm_ahead_t;

//  A look ahead for a batch (a row of the service's aheads table): what a method needs from another service for every request
//  of the batch, asked once for all of them without stalling the loop (one request over
//  the bus with crm_bus_client_send). The batch runs when crm_ahead_done is called; the
//  loop serves everything else meanwhile (the batch before it commits), and the batches
//  after it wait. The hook bounds its own wait (a deadline): a batch is never held
//  longer than that.
typedef void(crm_ahead_fn)(crm_ahead_t *ahead);

//  The ahead is over: the batch may run (ahead is freed; notes are the batch's now).
void crm_ahead_done(crm_ahead_t *ahead);

typedef struct {
    const char *name;                           // RequestHeader.method
    crm_method_fn *fn;
    const ProtobufCMessageDescriptor *request;  // type of the second frame
    bool writes;                                // honours idempotency keys
} crm_method_t;

//  The methods that look ahead, a table ended by { NULL } beside the method table
//  (daemon.h's aheads): { "Create", contacts_contact_create_ahead }.
typedef struct {
    const char *method;
    crm_ahead_fn *fn;
} crm_ahead_row_t;

//  Create a service named name (the MDP service name and the schema name) over db.
crm_service_t *crm_service_new(const crm_config_t *cfg, const char *name,
                               const crm_method_t *methods, crm_db_t *db, int workers,
                               int max_batch, void *arg);
void crm_service_destroy(crm_service_t **self_p);

//  The methods' aheads (a table that outlives the service; NULL: none).
void crm_service_set_aheads(crm_service_t *self, const crm_ahead_row_t *aheads);

//  Register the worker sockets and timers with loop.
int crm_service_attach(crm_service_t *self, zloop_t *loop);

//  Create the framework's tables (idempotency) in the service's schema.
int crm_service_prepare_schema(crm_service_t *self);

//  Record an error: code-independent machine error ("not_found") and message.
void crm_call_error(crm_call_t *call, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

//  An error's details (with a 4xx): the message as its JSON object, whose members the
//  HTTP error body carries beside code and message.
void crm_call_details(crm_call_t *call, const ProtobufCMessage *details);

//  A header for the HTTP answer (any code): name and value are copied.
void crm_call_header(crm_call_t *call, const char *name, const char *value);

//  Add a field error (JSON path, rule). Sets error "validation_failed" if unset.
void crm_call_field_error(crm_call_t *call, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

//  The answer to a request whose rules found errors: moves them into the call's and
//  returns 422 (errors is left empty). Returns 0, taking nothing, when there are none.
int crm_call_fail(crm_call_t *call, crm_errors_t *errors);

//  A write whose answer the method needs only to know that it succeeded (an insert
//  whose keys refuse a duplicate): the core sends it down the batch's pipeline without
//  waiting, so that a batch's writes reach the database together, and returns 0. If it
//  fails, the batch commits nothing and runs again a request at a time; there the write
//  runs alone under a savepoint of its own and returns 0, or -1 with its SQLSTATE in
//  sqlstate (may be NULL), the request's transaction still usable (to find out, say,
//  which contact holds the address). Either way the method reads top to bottom.
int crm_call_write(crm_call_t *call, const crm_stmt_t *stmt, const char *const *params,
                   char sqlstate[6]);

//  Call another service's method over the bus in the caller's name (its tenant, actor,
//  role and request id), waiting at most timeout_ms. Returns the reply's code: 0 when
//  none came in time, or when a 2xx came without the response_type message it should
//  carry. *response (response_type; caller frees) is set for a 2xx, else NULL; when
//  reply_header is not NULL, *reply_header is the reply's header (field errors, the
//  conflicting id; caller frees with crm__reply_header__free_unpacked), or NULL.
int crm_call_service(crm_call_t *call, crm_bus_client_t *client, const char *service,
                     const char *method, const ProtobufCMessage *request,
                     const ProtobufCMessageDescriptor *response_type, int timeout_ms,
                     ProtobufCMessage **response, Crm__ReplyHeader **reply_header);

//  The same with an idempotency key: the called service answers a repeat of the key with
//  its first answer, so a call that writes, made by a method the core may run again (a
//  batch that failed runs again one by one), writes once.
int crm_call_service_keyed(crm_call_t *call, crm_bus_client_t *client, const char *service,
                           const char *method, const char *idempotency_key,
                           const ProtobufCMessage *request,
                           const ProtobufCMessageDescriptor *response_type, int timeout_ms,
                           ProtobufCMessage **response, Crm__ReplyHeader **reply_header);

//  The standard reply to a request that failed in the database: logs, returns 500 or
//  503 (connection lost) with the error filled.
int crm_call_db_failure(crm_call_t *call);

//  The service's name (also its schema) and the configuration it was made with.
const char *crm_service_name(crm_service_t *self);
const crm_config_t *crm_service_config(crm_service_t *self);

//  A statement of this service, made on first use and kept: name is prefixed with the
//  schema, and every %1$s in fmt becomes the schema.
crm_stmt_t *crm_service_stmt(crm_service_t *self, const char *name, int nparams, bool writes,
                             const char *fmt);

//  The relay publishing the service's outbox (NULL: none). Batches that wrote kick it
//  when they commit.
void crm_service_set_relay(crm_service_t *self, crm_relay_t *relay);
crm_relay_t *crm_service_relay(crm_service_t *self);

//  Whether the service's database connection works (a lost one is tried again, at most
//  once a second), and whether a worker of it hears the broker (registered), for the
//  health endpoint (health.h). On the service's loop.
void crm_service_health(crm_service_t *self, bool *database, bool *broker);

//  Requests served since start, and batches committed (for logs and tests).
uint64_t crm_service_requests(crm_service_t *self);
uint64_t crm_service_batches(crm_service_t *self);

//  Create the framework's tables (idempotency, outbox) in schema name over db, before a
//  service is made: making one registers its workers with the broker (daemon.c).
int crm_service_prepare_db_schema(crm_db_t *db, const char *name);

#endif
