/*  raw: the gateway's raw routes (rows made with ROUTE_RAW, routes.h): HTTP endpoints
    that are not JSON API calls and carry no API key -- SMS provider webhooks, one-click
    unsubscribe (RFC 8058), open and click tracking.

    For such a route http.c skips the API key and the JSON conversion: the service gets
    the request as a crm.HttpRequest (raw_request_frame) with a RequestHeader whose tenant
    and role are "" (it finds the tenant from what it verifies: a signed token, the
    provider's signature), and its crm.HttpResponse is written as it is (raw_answer_read).
    Errors are short text/plain, not the API's JSON: the callers are a provider's webhook
    client, a mail client and people's browsers, none of which reads our error object.

    Anyone on the Internet can call these, so they have their own limits (raw_limiter):
    a body cap (413 before anything is forwarded), a token bucket per client address
    (429) and a cap on raw requests served at once, all clients together (503).

    Everything here is free of libmicrohttpd and the broker, so its unit test drives it
    directly; http.c is the glue.
*/
#ifndef GATEWAY_RAW_H
#define GATEWAY_RAW_H

#include "common.pb-c.h"
#include "routes.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

// --- limits ---------------------------------------------------------------------------

typedef struct _raw_limiter_t raw_limiter_t;

//  per_second: each client address's sustained rate (0: no per-client limit); burst: what
//  it may send at once; max_in_flight: raw requests served at once, all clients together.
raw_limiter_t *raw_limiter_new(int per_second, int burst, int max_in_flight);
void raw_limiter_destroy(raw_limiter_t **self_p);

//  Admit one request from client (an address as text) at now_us (monotonic): 0 (then
//  raw_limiter_release it when it is answered), 429 (this client is over its rate) or 503
//  (too many at once); *retry_after_s says when to try again.
int raw_limiter_admit(raw_limiter_t *self, const char *client, int64_t now_us, int *retry_after_s);
void raw_limiter_release(raw_limiter_t *self);

//  Raw requests admitted and not yet released.
int raw_limiter_in_flight(const raw_limiter_t *self);

//  The client's address as text into out (at least 46 bytes): the last entry of
//  header_value (a proxy's X-Forwarded-For or X-Real-IP) when it is an IP address, else
//  the connection's peer; "" when neither is known.
void raw_client_address(const char *header_value, const struct sockaddr *peer, char *out,
                        size_t size);

// --- the request ----------------------------------------------------------------------

//  The request headers a raw route's service gets (crm.HttpRequest fields), by name.
typedef const char *(raw_header_fn)(const char *name, void *arg);

//  The crm.HttpRequest of one raw call, packed: method, the URI as requested (path and
//  raw query), the route's path parameters, the forwarded headers (header(name, arg):
//  the value or NULL), the client's address and the body.
zframe_t *raw_request_frame(const char *method, const char *uri, const route_param_t *params,
                            int n_params, raw_header_fn *header, void *arg, const char *client,
                            const void *body, size_t size);

//  The forwarded headers' names, NULL-terminated (for the docs and the tests).
extern const char *const raw_forwarded_headers[];

// --- the answer -----------------------------------------------------------------------

//  An answer to write: the service's HttpResponse, or a text/plain error.
typedef struct {
    int status;
    Crm__HttpResponse *response; // the service's (owned), or NULL for an error
    char text[256];              // an error's body: one line and its newline
    int retry_after_s;           // an error's Retry-After (0: none)
} raw_answer_t;

//  Read a service's reply (ReplyHeader + HttpResponse; reply stays the caller's): below
//  400 the HttpResponse (no second frame: an empty one), checked (a status from 200 to
//  599, its own or the ReplyHeader's; header names and values that cannot break the
//  response, none the gateway writes itself); 400 and over a text error from the
//  ReplyHeader (its message for a 4xx, a generic one for a 5xx, which may carry
//  internals). An unreadable or unsafe answer is a 502.
void raw_answer_read(zmsg_t *reply, raw_answer_t *out);

//  An error answer: status and a one-line text.
void raw_answer_error(raw_answer_t *out, int status, const char *text, int retry_after_s);

void raw_answer_reset(raw_answer_t *out);

//  The answer's Content-Type, body and Location ("" and 0 when none).
const char *raw_answer_content_type(const raw_answer_t *self);
const void *raw_answer_body(const raw_answer_t *self, size_t *size);
const char *raw_answer_location(const raw_answer_t *self);

#endif
