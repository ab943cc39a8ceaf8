/*  http: HTTP/JSON to Majordomo translation. See http.h. */
#include "http.h"
#include "common.pb-c.h"
#include "headers.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "openapi.h"
#include "raw.h"
#include "ratelimit.h"
#include "routes.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <string.h>

struct _http_t {
    const crm_config_t *cfg;
    broker_t *broker;
    keys_t *keys;
    metrics_t *metrics;
    struct MHD_Daemon *daemon;
    int port;
    zloop_t *loop;
    zmq_pollitem_t item;  // MHD's epoll descriptor, watched by the loop
    int timer_id;
    bool run_armed;       // an MHD_run is due on the next loop turn (connections woke)
    raw_limiter_t *raw_limiter; // the keyless routes' limits (raw.h)
    ratelimit_t *key_limits;    // the API's token bucket per key (gateway.rate_<role>_*)
};

//  One TCP connection: the URI of the request it carries now, as the client sent it
//  (MHD hands handlers the path decoded and the query parsed; a raw route forwards them
//  as sent, since a provider signs the URL it called).
typedef struct {
    char *uri;
} s_connection_t;

//  One HTTP request as it is received, and while its service call is out.
typedef struct {
    http_t *http;
    struct MHD_Connection *conn;
    int64_t start;
    bool too_large;
    zchunk_t *body;
    const route_t *route;  // the API route being called
    int route_index;
    bool waiting;          // submitted to the broker, no reply yet
    bool suspended;        // the connection sleeps until the reply
    zmsg_t *reply;         // the service's reply, once in
    char request_id[80];
    //  A raw route's (raw.h), decided when the headers are in:
    bool raw;
    bool admitted; // counted by the raw limiter until completed
    int refused;   // 429 or 503 from the raw limiter, else 0
    int retry_after_s;
    char client[64]; // the client's address
    headers_syntax_t syntax; // strict HTTP: what is wrong with the header section, if any
    bool rated;              // the key's bucket was asked: rate is what RateLimit-* say
    ratelimit_state_t rate;
} s_request_t;

//  A response under construction.
#define S_REPLY_HEADERS_MAX 4

typedef struct {
    int status;
    char *body;  // JSON text, or NULL
    size_t body_size;  // the body's size when it is bytes (a download), else 0
    char disposition[160];  // Content-Disposition of a download
    const char *content_type;
    char request_id[80];
    char location[256];
    //  Headers a service's reply asks for (ReplyHeader.headers): "X-Duplicate-Check".
    struct {
        char name[64], value[256];
    } headers[S_REPLY_HEADERS_MAX];
    size_t n_headers;
    bool is_raw; // a raw route's: raw is written as it is
    raw_answer_t raw;
    const ratelimit_state_t *rate; // the key's bucket: RateLimit-* (and Retry-After on 429)
    bool close; // the connection is closed after (a request that is not well-formed HTTP)
} s_response_t;

static int64_t s_now_us(void) {
    return zclock_usecs();
}

// --- responses ------------------------------------------------------------------------

static const char *s_error_code(int status) {
    switch (status) {
    case 400: return "malformed_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "payload_too_large";
    case 422: return "validation_failed";
    case 429: return "too_many_requests";
    case 503: return "unavailable";
    case 504: return "timeout";
    default: return "internal";
    }
}

//  Keep the headers a service's reply asks for (the first few, sane ones).
static void s_reply_headers(s_response_t *resp, const Crm__ReplyHeader *h) {
    for (size_t i = 0; i < h->n_headers && resp->n_headers < S_REPLY_HEADERS_MAX; i++) {
        const char *name = h->headers[i]->name, *value = h->headers[i]->value;
        bool sane = strncmp(name, "X-", 2) == 0 && strlen(name) < sizeof resp->headers[0].name &&
                    strlen(value) < sizeof resp->headers[0].value;
        for (const char *p = value; sane && *p; p++)
            sane = *p >= 32 && *p < 127;
        if (!sane)
            continue;
        snprintf(resp->headers[resp->n_headers].name, sizeof resp->headers[0].name, "%s", name);
        snprintf(resp->headers[resp->n_headers].value, sizeof resp->headers[0].value, "%s", value);
        resp->n_headers++;
    }
}

//  Render an error as the body {"error":{code, message, fields?, existingId?, ...}}: the
//  gateway's own errors and those services report in a ReplyHeader alike; the members
//  of the reply's details (409 possible_duplicate: candidates) are added.
static void s_error_header(s_response_t *resp, const Crm__ReplyHeader *h) {
    int status = h->code >= 400 && h->code < 600 ? (int)h->code : 502;
    json_t *err = json_object();
    json_object_set_new(err, "code", json_string(h->error[0] ? h->error : s_error_code(status)));
    json_object_set_new(err, "message",
                        json_string(h->message[0] ? h->message : s_error_code(status)));
    if (h->n_fields) {
        json_t *fields = json_array();
        for (size_t i = 0; i < h->n_fields; i++)
            json_array_append_new(fields, json_pack("{s:s, s:s}", "field", h->fields[i]->field,
                                                    "message", h->fields[i]->message));
        json_object_set_new(err, "fields", fields);
    }
    if (h->conflict_id[0])
        json_object_set_new(err, "existingId", json_string(h->conflict_id));
    json_t *details = h->details[0] ? json_loads(h->details, 0, NULL) : NULL;
    if (json_is_object(details))
        json_object_update_missing(err, details);
    json_decref(details);
    s_reply_headers(resp, h);
    json_t *root = json_pack("{s:o}", "error", err);
    resp->status = status;
    free(resp->body);
    resp->body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
}

//  The gateway's own error, with at most one field named.
static void s_error(s_response_t *resp, int status, const char *code, const char *message,
                    const char *field, const char *field_message) {
    Crm__ReplyHeader h = CRM__REPLY_HEADER__INIT;
    Crm__FieldError fe = CRM__FIELD_ERROR__INIT;
    Crm__FieldError *fields[] = {&fe};
    h.code = status;
    h.error = (char *)(code ? code : "");
    h.message = (char *)message;
    if (field) {
        fe.field = (char *)field;
        fe.message = (char *)(field_message ? field_message : "");
        h.fields = fields;
        h.n_fields = 1;
    }
    s_error_header(resp, &h);
}

static void s_json_error(s_response_t *resp, const crm_json_error_t *err) {
    s_error(resp, err->status == CRM_JSON_INVALID ? 422 : 400, NULL,
            err->status == CRM_JSON_INVALID ? "the request breaks a rule"
                                            : "the request body cannot be read",
            err->field, err->message);
}

// --- turning HTTP into a request message ----------------------------------------------

typedef struct {
    ProtobufCMessage *msg;
    crm_json_error_t err;
    bool failed;
} s_query_ctx_t;

static enum MHD_Result s_on_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value) {
    (void)kind;
    s_query_ctx_t *ctx = cls;
    if (ctx->failed || !value || !*value)
        return MHD_YES;
    json_t *v = json_string(value);
    if (!v) {  // not UTF-8
        ctx->failed = true;
        ctx->err.status = CRM_JSON_MALFORMED;
        snprintf(ctx->err.field, sizeof ctx->err.field, "%s", key);
        snprintf(ctx->err.message, sizeof ctx->err.message, "is not valid UTF-8");
        return MHD_NO;
    }
    if (crm_json_set_field(ctx->msg, key, v, 1, &ctx->err)) {
        ctx->failed = true;
        if (!ctx->err.field[0])
            snprintf(ctx->err.field, sizeof ctx->err.field, "%s", key);
    }
    json_decref(v);
    return ctx->failed ? MHD_NO : MHD_YES;
}

//  A body that is one field of the request (route->body: "contact") may also carry the
//  request's own members beside it ({"firstName":..., "allowDuplicate": true}): a member
//  that is no field of the body's message but one of the request's (never the body
//  field itself) goes to the request and is taken out of root. 0, or -1 with err.
static int s_apply_beside(const route_t *route, const ProtobufCFieldDescriptor *body,
                          ProtobufCMessage *msg, json_t *root, crm_json_error_t *err) {
    const char *key;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(root, tmp, key, value) {
        const ProtobufCFieldDescriptor *own = crm_pb_field_by_name(route->request, key);
        if (!own || own == body || crm_pb_field_by_name(body->descriptor, key) ||
            (route->mask && own == crm_pb_field_by_name(route->request, route->mask)))
            continue;
        if (crm_json_set_field(msg, key, value, 0, err)) {
            if (!err->field[0])
                snprintf(err->field, sizeof err->field, "%s", key);
            return -1;
        }
        json_object_del(root, key);
    }
    return 0;
}

//  Put the JSON body into the request per route->body (and route->mask).
static int s_apply_body(const route_t *route, ProtobufCMessage *msg, const s_request_t *req,
                        s_response_t *resp) {
    size_t size = req->body ? zchunk_size(req->body) : 0;
    if (size == 0) {
        s_error(resp, 400, NULL, "the request body cannot be read", "",
                "a JSON object is required");
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadb((const char *)zchunk_data(req->body), size,
                              JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char detail[256];
        snprintf(detail, sizeof detail, "is not valid JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        s_error(resp, 400, NULL, "the request body cannot be read", "", detail);
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        s_error(resp, 400, NULL, "the request body cannot be read", "", "must be a JSON object");
        return -1;
    }
    crm_json_error_t err;
    int rc = 0;
    if (strcmp(route->body, "*") == 0) {
        ProtobufCMessage *parsed = crm_json_value_to_pb(route->request, root, "", &err);
        if (!parsed)
            rc = -1;
        else {
            //  Path and query values are applied after the body; swap the parsed body in.
            size_t sz = route->request->sizeof_message;
            char tmp[sz];
            memcpy(tmp, msg, sz);
            memcpy(msg, parsed, sz);
            memcpy(parsed, tmp, sz);
            protobuf_c_message_free_unpacked(parsed, NULL);
        }
    } else {
        const ProtobufCFieldDescriptor *f = crm_pb_field_by_name(route->request, route->body);
        assert(f && f->type == PROTOBUF_C_TYPE_MESSAGE);
        rc = s_apply_beside(route, f, msg, root, &err);
        ProtobufCMessage *sub = rc ? NULL : crm_json_value_to_pb(f->descriptor, root, "", &err);
        if (!sub)
            rc = -1;
        else
            *(ProtobufCMessage **)((char *)msg + f->offset) = sub;
    }
    if (rc == 0 && route->mask) {
        const char *key;
        json_t *value;
        json_object_foreach(root, key, value) {
            json_t *name = json_string(key);
            crm_json_set_field(msg, route->mask, name, 1, &err);
            json_decref(name);
        }
    }
    json_decref(root);
    if (rc)
        s_json_error(resp, &err);
    return rc;
}

// --- the API path ---------------------------------------------------------------------

//  The broker's answer to a request: keep it and wake the connection, whose handler
//  then renders it.
static int s_on_run_timer(zloop_t *loop, int timer_id, void *arg);

static void s_on_reply(zmsg_t *reply, void *arg) {
    s_request_t *req = arg;
    req->reply = reply;
    req->waiting = false;
    if (req->suspended) {
        req->suspended = false;
        MHD_resume_connection(req->conn);
        //  One MHD_run on the next loop turn answers every connection woken until then.
        http_t *self = req->http;
        if (!self->run_armed && self->loop) {
            self->run_armed = true;
            zloop_timer(self->loop, 0, 1, s_on_run_timer, self);
        }
    }
}

//  A download's response: the bytes of the route's download field as the body, with the
//  response's content_type and file_name.
static void s_download(const route_t *route, const ProtobufCMessage *out, uint32_t code,
                       s_response_t *resp) {
    const ProtobufCFieldDescriptor *data =
        crm_pb_field_by_name(route->response, route_download(route));
    const ProtobufCFieldDescriptor *type = crm_pb_field_by_name(route->response, "content_type");
    const ProtobufCFieldDescriptor *name = crm_pb_field_by_name(route->response, "file_name");
    assert(data && data->type == PROTOBUF_C_TYPE_BYTES);
    const ProtobufCBinaryData *bytes = (const void *)((const char *)out + data->offset);
    resp->status = (int)code;
    resp->body = calloc(1, bytes->len + 1);  // NUL-terminated: an empty one has strlen 0
    memcpy(resp->body, bytes->data, bytes->len);
    resp->body_size = bytes->len;
    static __thread char content_type[128];
    snprintf(content_type, sizeof content_type, "%s",
             type ? *(char **)((const char *)out + type->offset) : "application/octet-stream");
    resp->content_type = content_type;
    const char *file = name ? *(char **)((const char *)out + name->offset) : "";
    bool safe = *file && strlen(file) < 100;
    for (const char *p = file; safe && *p; p++)
        safe = *p > 32 && *p < 127 && *p != '"' && *p != '\\' && *p != ';';
    if (safe)
        snprintf(resp->disposition, sizeof resp->disposition, "attachment; filename=\"%s\"",
                 file);
}

//  Render a service's reply (ReplyHeader + response) as the HTTP response.
static void s_translate(const route_t *route, const char *url, zmsg_t *reply,
                        s_response_t *resp) {
    zframe_t *hframe = zmsg_first(reply);
    zframe_t *rframe = zmsg_next(reply);
    Crm__ReplyHeader *rh =
        hframe ? crm__reply_header__unpack(NULL, zframe_size(hframe), zframe_data(hframe)) : NULL;
    if (!rh) {
        s_error(resp, 502, "bad_gateway", "the service sent an unreadable reply", NULL, NULL);
    } else if (rh->code >= 300) {
        s_error_header(resp, rh);
    } else if (rh->code == 204) {
        resp->status = 204;
        s_reply_headers(resp, rh);
    } else {
        s_reply_headers(resp, rh);
        ProtobufCMessage *out = protobuf_c_message_unpack(
            route->response, NULL, rframe ? zframe_size(rframe) : 0,
            rframe ? zframe_data(rframe) : NULL);
        if (!out)
            s_error(resp, 502, "bad_gateway", "the service sent an unreadable reply", NULL, NULL);
        else if (route_download(route)) {
            s_download(route, out, rh->code, resp);
            protobuf_c_message_free_unpacked(out, NULL);
        } else {
            resp->status = rh->code;
            resp->body = crm_pb_to_json(out);
            const ProtobufCFieldDescriptor *id = crm_pb_field_by_name(route->response, "id");
            if (rh->code == 201 && id && id->type == PROTOBUF_C_TYPE_STRING)
                snprintf(resp->location, sizeof resp->location, "%s/%s", url,
                         *(char **)((char *)out + id->offset));
            protobuf_c_message_free_unpacked(out, NULL);
        }
    }
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
}


//  Serve one API request: build, call the service, translate the reply.
static void s_call(http_t *self, struct MHD_Connection *conn, const route_t *route,
                   const route_param_t *params, int n_params, const key_identity_t *who,
                   s_request_t *req, s_response_t *resp) {
    ProtobufCMessage *msg = malloc(route->request->sizeof_message);
    protobuf_c_message_init(route->request, msg);
    if (route->body && s_apply_body(route, msg, req, resp))
        goto done;
    for (int i = 0; i < n_params; i++) {
        crm_json_error_t err;
        json_t *v = json_string(params[i].value);
        if (!v || crm_json_set_field(msg, params[i].name, v, 1, &err)) {
            json_decref(v);
            s_error(resp, 404, "not_found", "no such resource", NULL, NULL);
            goto done;
        }
        json_decref(v);
    }
    s_query_ctx_t query = {.msg = msg};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, s_on_query_arg, &query);
    if (query.failed) {
        s_json_error(resp, &query.err);
        goto done;
    }

    //  Checked by s_headers_check (headers.h) before the call was built.
    const char *idem = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = (char *)route->rpc;
    header.tenant_id = (char *)who->tenant_id;
    char actor[128];
    snprintf(actor, sizeof actor, "%s", who->user_id[0] ? who->user_id : who->key_id);
    header.actor_id = actor;
    header.role = (char *)who->role;
    header.request_id = resp->request_id;
    header.idempotency_key = (char *)(idem ? idem : "");
    header.deadline_ms = self->cfg->broker_default_deadline_ms;

    zmsg_t *body = zmsg_new();
    zframe_t *frame = zframe_new(NULL, crm__request_header__get_packed_size(&header));
    crm__request_header__pack(&header, zframe_data(frame));
    zmsg_append(body, &frame);
    frame = zframe_new(NULL, protobuf_c_message_get_packed_size(msg));
    protobuf_c_message_pack(msg, zframe_data(frame));
    zmsg_append(body, &frame);

    //  The broker answers through s_on_reply, maybe before broker_submit returns.
    req->route = route;
    req->waiting = true;
    broker_submit(self->broker, route->service, &body, s_on_reply, req);
done:
    protobuf_c_message_free_unpacked(msg, NULL);
}

// --- raw routes (raw.h) ---------------------------------------------------------------

//  A raw route is known from the request line and headers: admit it (or not) before its
//  body is read, so an over-limit client costs no more than its headers.
static void s_raw_begin(http_t *self, struct MHD_Connection *conn, const char *url,
                        const char *method, s_request_t *req) {
    route_param_t params[ROUTE_MAX_PARAMS];
    int n_params = 0;
    bool path_known = false;
    const route_t *route = route_match(method, url, params, &n_params, &path_known);
    if (!route || !route_raw(route))
        return;
    req->raw = true;
    req->route = route;
    const char *via = self->cfg->gateway_raw_client_header;
    const char *forwarded =
        via && *via ? MHD_lookup_connection_value(conn, MHD_HEADER_KIND, via) : NULL;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    raw_client_address(forwarded, info ? info->client_addr : NULL, req->client, sizeof req->client);
    req->refused = raw_limiter_admit(self->raw_limiter, req->client, zclock_mono() * 1000,
                                     &req->retry_after_s);
    req->admitted = req->refused == 0;
}

static const char *s_raw_header(const char *name, void *arg) {
    return MHD_lookup_connection_value(arg, MHD_HEADER_KIND, name);
}

//  Serve a raw route: its limits' verdicts, or the HttpRequest to the service. The
//  RequestHeader names no tenant, actor or role: there is no key; the service finds the
//  tenant from what it verifies (a signed token, the provider's signature).
static void s_handle_raw(http_t *self, struct MHD_Connection *conn, const char *url,
                         const char *method, s_request_t *req, s_response_t *resp) {
    resp->is_raw = true;
    req->route_index = (int)(req->route - routes);
    if (req->refused) {
        raw_answer_error(&resp->raw, req->refused, NULL, req->retry_after_s);
        return;
    }
    if (req->too_large) {
        raw_answer_error(&resp->raw, 413, "the request body is too large", 0);
        return;
    }
    route_param_t params[ROUTE_MAX_PARAMS];
    int n_params = 0;
    bool path_known = false;
    const route_t *route = route_match(method, url, params, &n_params, &path_known);
    assert(route == req->route);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    const s_connection_t *connection = info ? info->socket_context : NULL;
    const char *uri = connection && connection->uri ? connection->uri : url;

    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = (char *)route->rpc;
    header.tenant_id = "";
    header.actor_id = "";
    header.role = "";
    header.request_id = resp->request_id;
    header.idempotency_key = "";
    header.deadline_ms = self->cfg->broker_default_deadline_ms;
    zmsg_t *body = zmsg_new();
    zframe_t *frame = zframe_new(NULL, crm__request_header__get_packed_size(&header));
    crm__request_header__pack(&header, zframe_data(frame));
    zmsg_append(body, &frame);
    frame = raw_request_frame(method, uri, params, n_params, s_raw_header, conn, req->client,
                              req->body ? zchunk_data(req->body) : NULL,
                              req->body ? zchunk_size(req->body) : 0);
    zmsg_append(body, &frame);
    req->waiting = true;
    broker_submit(self->broker, route->service, &body, s_on_reply, req);
}

//  Write a raw route's answer as it is: its status, media type, body, Location and
//  headers; an error as one line of text/plain, not stored by caches.
static void s_send_raw(struct MHD_Connection *conn, s_response_t *resp) {
    const raw_answer_t *a = &resp->raw;
    resp->status = a->status;
    size_t size = 0;
    const void *body = raw_answer_body(a, &size);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(size, (void *)body, MHD_RESPMEM_MUST_COPY);
    const char *type = raw_answer_content_type(a);
    if (*type)
        MHD_add_response_header(r, "Content-Type", type);
    if (resp->request_id[0])
        MHD_add_response_header(r, "X-Request-Id", resp->request_id);
    if (*raw_answer_location(a))
        MHD_add_response_header(r, "Location", raw_answer_location(a));
    for (size_t i = 0; a->response && i < a->response->n_headers; i++)
        MHD_add_response_header(r, a->response->headers[i]->name, a->response->headers[i]->value);
    if (!a->response) {
        MHD_add_response_header(r, "Cache-Control", "no-store");
        if (a->retry_after_s > 0) {
            char seconds[16];
            snprintf(seconds, sizeof seconds, "%d", a->retry_after_s);
            MHD_add_response_header(r, "Retry-After", seconds);
        }
    }
    MHD_queue_response(conn, (unsigned int)a->status, r);
    MHD_destroy_response(r);
    raw_answer_reset(&resp->raw);
}

// --- operations endpoints -------------------------------------------------------------

typedef struct {
    json_t *services;
    bool ready;
    broker_t *broker;
} s_ready_ctx_t;

static void s_readyz(http_t *self, s_response_t *resp) {
    json_t *root = json_object();
    bool db = keys_db_ready(self->keys);
    bool ready = db;
    json_t *services = json_object();
    for (const route_t *r = routes; r->pattern; r++) {
        if (json_object_get(services, r->service))
            continue;
        int workers = broker_service_workers(self->broker, r->service);
        json_object_set_new(services, r->service, json_integer(workers));
        ready &= workers > 0;
    }
    json_object_set_new(root, "ready", json_boolean(ready));
    json_object_set_new(root, "database", json_boolean(db));
    json_object_set_new(root, "workers", services);
    resp->status = ready ? 200 : 503;
    resp->body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
}

//  Endpoints served by the gateway itself; returns false for anything else.
static bool s_local(http_t *self, const char *method, const char *url, s_response_t *resp) {
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strcmp(url, "/healthz") == 0 && get) {
        resp->status = 200;
        resp->body = strdup("{\"status\":\"ok\"}");
    } else if (strcmp(url, "/readyz") == 0 && get)
        s_readyz(self, resp);
    else if (strcmp(url, "/metrics") == 0 && get) {
        resp->status = 200;
        resp->body = metrics_render(self->metrics, self->broker);
        resp->content_type = "text/plain; version=0.0.4";
    } else if (strcmp(url, "/v1/openapi.json") == 0 && get) {
        resp->status = 200;
        resp->body = openapi_render();
    } else
        return false;
    return true;
}

// --- libmicrohttpd glue ---------------------------------------------------------------

static void s_send(struct MHD_Connection *conn, s_response_t *resp) {
    if (resp->is_raw) {
        s_send_raw(conn, resp);
        return;
    }
    size_t len = resp->body_size ? resp->body_size : resp->body ? strlen(resp->body) : 0;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, resp->body ? resp->body : (void *)"",
                                        resp->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    resp->body = NULL;
    if (len || resp->status != 204)
        MHD_add_response_header(r, "Content-Type",
                                resp->content_type ? resp->content_type : "application/json");
    if (resp->request_id[0])
        MHD_add_response_header(r, "X-Request-Id", resp->request_id);
    if (resp->location[0])
        MHD_add_response_header(r, "Location", resp->location);
    if (resp->disposition[0])
        MHD_add_response_header(r, "Content-Disposition", resp->disposition);
    if (resp->status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    if (resp->rate) {
        char number[16];
        snprintf(number, sizeof number, "%d", resp->rate->limit);
        MHD_add_response_header(r, "RateLimit-Limit", number);
        snprintf(number, sizeof number, "%d", resp->rate->remaining);
        MHD_add_response_header(r, "RateLimit-Remaining", number);
        snprintf(number, sizeof number, "%d", resp->rate->reset_s);
        MHD_add_response_header(r, "RateLimit-Reset", number);
        if (resp->status == 429) {
            snprintf(number, sizeof number, "%d", resp->rate->retry_after_s);
            MHD_add_response_header(r, "Retry-After", number);
        }
    }
    if (resp->close)
        MHD_add_response_header(r, "Connection", "close");
    for (size_t i = 0; i < resp->n_headers; i++)
        MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
    MHD_queue_response(conn, resp->status, r);
    MHD_destroy_response(r);
}

//  The first header passed on to a service (headers_rules, then extra: NULL or
//  NULL-terminated) that breaks its rule: its name, and *problem says why; NULL when all
//  pass. A bad byte is refused here, before any service (and its SQL) sees it.
static const char *s_headers_check(struct MHD_Connection *conn, const char *const *extra,
                                   const char **problem) {
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0;; i++) {
            const char *name = pass == 0 ? headers_rules[i].name : extra ? extra[i] : NULL;
            if (!name)
                break;
            const char *value = NULL;
            size_t size = 0;
            if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, name, strlen(name), &value,
                                              &size) != MHD_YES ||
                !value)
                continue;
            *problem = headers_problem(name, value, size);
            if (*problem)
                return name;
        }
    }
    return NULL;
}

//  Whether the line holding text (size bytes, as libmicrohttpd parsed it) ended with CRLF.
//  MHD 0.9.75 parses the request head in place, writing a NUL over each line's CR and LF
//  (and over the trailing spaces it trims): a value ended by CRLF is followed by two
//  NULs; one ended by a bare LF by one NUL and the next line; one cut short by a NUL it
//  received by that NUL and the rest of its line. An empty value tells nothing.
static bool s_crlf_ended(const char *text, size_t size) {
    return size == 0 || !text || (text[size] == 0 && text[size + 1] == 0);
}

static enum MHD_Result s_on_header_syntax(void *cls, enum MHD_ValueKind kind, const char *key,
                                          size_t key_size, const char *value, size_t value_size) {
    (void)kind;
    headers_syntax_add(cls, key, key_size, value, value_size, s_crlf_ended(value, value_size));
    return MHD_YES;
}

//  Hold the request head to strict HTTP (headers.h, headers_syntax_t) where MHD is
//  lenient: the request line's ending (after version) and every header field.
static void s_syntax_check(struct MHD_Connection *conn, const char *version,
                           headers_syntax_t *syntax) {
    if (version && !s_crlf_ended(version, strlen(version)))
        headers_syntax_add(syntax, "", 0, "", 0, false);
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, s_on_header_syntax, syntax);
}

//  Take one request from the key's token bucket (its role's gateway.rate_<role>_*):
//  false when the request may go on, else true with the 429 in resp. req->rate then says
//  what the RateLimit-* headers of the answer carry (none for a role without a limit).
static bool s_rate_limited(http_t *self, const key_identity_t *who, s_request_t *req,
                           s_response_t *resp) {
    const crm_config_t *c = self->cfg;
    unsigned role = route_role_bit(who->role);
    int per_second = role == ROLE_ADMIN         ? c->gateway_rate_admin_per_second
                     : role == ROLE_MANAGER     ? c->gateway_rate_manager_per_second
                     : role == ROLE_SALES       ? c->gateway_rate_sales_per_second
                     : role == ROLE_ANALYST     ? c->gateway_rate_analyst_per_second
                     : role == ROLE_INTEGRATION ? c->gateway_rate_integration_per_second
                                                : 0;
    int burst = role == ROLE_ADMIN         ? c->gateway_rate_admin_burst
                : role == ROLE_MANAGER     ? c->gateway_rate_manager_burst
                : role == ROLE_SALES       ? c->gateway_rate_sales_burst
                : role == ROLE_ANALYST     ? c->gateway_rate_analyst_burst
                : role == ROLE_INTEGRATION ? c->gateway_rate_integration_burst
                                           : 1;
    if (per_second <= 0)
        return false;
    req->rated = true;
    if (ratelimit_take(self->key_limits, who->key_id, per_second, burst < 1 ? 1 : burst,
                       zclock_mono() * 1000, &req->rate))
        return false;
    metrics_rate_limited(self->metrics, role);
    char message[160];
    snprintf(message, sizeof message,
             "too many requests for this API key (%d at once, %d a second); retry in %d s",
             burst, per_second, req->rate.retry_after_s);
    s_error(resp, 429, "rate_limited", message, NULL, NULL);
    return true;
}

//  The X-Request-Id to use: the caller's when it is sane, else a new id (a bad one is
//  refused with 400 by s_headers_check).
static void s_request_id(struct MHD_Connection *conn, char *out, size_t size) {
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    bool ok = given && *given && strlen(given) < size;
    for (const char *p = given; ok && *p; p++)
        ok = *p > 32 && *p < 127 && *p != '"' && *p != '\\';
    if (ok)
        snprintf(out, size, "%s", given);
    else
        crm_uuid_v7(out);
}

static void s_handle(http_t *self, struct MHD_Connection *conn, const char *url,
                     const char *method, s_request_t *req, s_response_t *resp) {
    s_request_id(conn, resp->request_id, sizeof resp->request_id);
    if (req->syntax.problem) {
        resp->close = true;
        if (req->raw) {
            resp->is_raw = true;
            raw_answer_error(&resp->raw, 400, req->syntax.problem, 0);
        } else
            s_error(resp, 400, NULL, "the request is not well-formed HTTP", req->syntax.field,
                    req->syntax.problem);
        return;
    }
    const char *problem = NULL;
    const char *bad_header =
        s_headers_check(conn, req->raw ? raw_forwarded_headers : NULL, &problem);
    if (bad_header && req->raw) {
        resp->is_raw = true;
        char text[160];
        snprintf(text, sizeof text, "the %s header %s", bad_header, problem);
        raw_answer_error(&resp->raw, 400, text, 0);
        return;
    }
    if (bad_header) {
        s_error(resp, 400, NULL, "a request header cannot be used", bad_header, problem);
        return;
    }
    if (req->raw) {
        s_handle_raw(self, conn, url, method, req, resp);
        return;
    }
    if (req->too_large) {
        s_error(resp, 413, NULL, "the request body is too large", "",
                "must be at most gateway.max_body_bytes bytes");
        return;
    }
    if (s_local(self, method, url, resp))
        return;
    route_param_t params[ROUTE_MAX_PARAMS];
    int n_params = 0;
    bool path_known = false;
    const route_t *route = route_match(method, url, params, &n_params, &path_known);
    if (!route) {
        if (path_known)
            s_error(resp, 405, NULL, "the resource does not support this method", NULL, NULL);
        else
            s_error(resp, 404, NULL, "no such resource", NULL, NULL);
        return;
    }
    req->route_index = (int)(route - routes);
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    key_identity_t who;
    int verdict = -1;
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        verdict = keys_verify(self->keys, auth + 7, &who);
    if (verdict == -2) {
        s_error(resp, 503, NULL, "the key store is unavailable; retry later", NULL, NULL);
        return;
    }
    if (verdict != 0) {
        s_error(resp, 401, NULL,
                auth ? "the API key is not valid" : "an API key is required (Authorization: Bearer <key>)",
                NULL, NULL);
        return;
    }
    if (s_rate_limited(self, &who, req, resp))
        return;
    if (!(route_role_bit(who.role) & route->roles)) {
        s_error(resp, 403, NULL, "your role may not do this", NULL, NULL);
        return;
    }
    s_call(self, conn, route, params, n_params, &who, req, resp);
}

//  The largest body a request may have: a raw route's own cap, else the API's.
static size_t s_max_body(http_t *self, const s_request_t *req) {
    return (size_t)(req->raw ? self->cfg->gateway_raw_max_body_bytes
                             : self->cfg->gateway_max_body_bytes);
}

//  Render the service's reply (taken) as the response: a raw route's as it is, else JSON.
static void s_answer(s_request_t *req, const char *url, s_response_t *resp) {
    if (req->raw) {
        resp->is_raw = true;
        raw_answer_read(req->reply, &resp->raw);
    } else
        s_translate(req->route, url, req->reply, resp);
    zmsg_destroy(&req->reply);
}

static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls) {
    http_t *self = cls;
    s_request_t *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        req->http = self;
        req->start = s_now_us();
        *con_cls = req;
        s_raw_begin(self, conn, url, method, req);
        s_syntax_check(conn, version, &req->syntax);
        const char *length =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull(length, NULL, 10) > s_max_body(self, req))
            req->too_large = true;
        else if (!req->refused && !req->syntax.problem)
            return MHD_YES;
    } else if (*upload_data_size) {
        if (!req->too_large && !req->refused) {
            if (!req->body)
                req->body = zchunk_new(NULL, *upload_data_size);
            if (zchunk_size(req->body) + *upload_data_size > s_max_body(self, req))
                req->too_large = true;
            else
                zchunk_extend(req->body, upload_data, *upload_data_size);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    s_response_t resp = {.status = 500};
    if (req->reply) {
        //  Woken by the service's reply.
        snprintf(resp.request_id, sizeof resp.request_id, "%s", req->request_id);
        s_answer(req, url, &resp);
    } else {
        req->route_index = -1;
        s_handle(self, conn, url, method, req, &resp);
        if (req->waiting) {
            //  The service call is out: sleep until s_on_reply.
            snprintf(req->request_id, sizeof req->request_id, "%s", resp.request_id);
            req->conn = conn;
            req->suspended = true;
            MHD_suspend_connection(conn);
            free(resp.body);
            return MHD_YES;
        }
        if (req->reply) {
            //  Answered at once (the broker's own 503).
            s_answer(req, url, &resp);
        }
    }
    resp.rate = req->rated ? &req->rate : NULL;
    s_send(conn, &resp);
    int64_t micros = s_now_us() - req->start;
    metrics_observe(self->metrics, req->route_index, resp.status, micros);
    //  A raw route's path carries a token (a capability) and its query a provider's
    //  fields: its pattern is logged instead.
    if (resp.status >= 500)
        crm_log_kv(CRM_LOG_WARN, "request failed", "method", method, "path",
                   req->raw ? req->route->pattern : url, "request_id", resp.request_id, NULL);
    return MHD_YES;
}

static void s_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe) {
    (void)conn;
    (void)toe;
    http_t *self = cls;
    s_request_t *req = *con_cls;
    if (!req)
        return;
    if (req->admitted)
        raw_limiter_release(self->raw_limiter);
    zchunk_destroy(&req->body);
    zmsg_destroy(&req->reply);
    free(req);
    *con_cls = NULL;
}

//  Keep each connection's current URI as sent (s_connection_t).
static void s_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                            enum MHD_ConnectionNotificationCode toe) {
    (void)cls;
    (void)conn;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(s_connection_t));
        assert(*socket_context);
    } else if (*socket_context) {
        s_connection_t *connection = *socket_context;
        free(connection->uri);
        free(connection);
        *socket_context = NULL;
    }
}

static void *s_on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
    (void)cls;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    s_connection_t *connection = info ? info->socket_context : NULL;
    if (connection) {
        free(connection->uri);
        connection->uri = strdup(uri);
    }
    return NULL; // the request's own state is made by its first s_on_request
}

static void s_on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    text[strcspn(text, "\n")] = 0;
    crm_log_kv(CRM_LOG_WARN, "http server", "detail", text, NULL);
}

http_t *http_new(const crm_config_t *cfg, broker_t *broker, keys_t *keys, metrics_t *metrics) {
    http_t *self = calloc(1, sizeof *self);
    assert(self);
    self->cfg = cfg;
    self->broker = broker;
    self->keys = keys;
    self->metrics = metrics;
    self->raw_limiter =
        raw_limiter_new(cfg->gateway_raw_client_per_second, cfg->gateway_raw_client_burst,
                        cfg->gateway_raw_max_in_flight);
    self->key_limits = ratelimit_new();
    if (!self->raw_limiter || !self->key_limits) {
        crm_log_kv(CRM_LOG_ERROR, "could not start the rate limiters", "detail",
                   "libsodium did not initialise", NULL);
        http_destroy(&self);
        return NULL;
    }

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(cfg->gateway_http_port)};
    if (inet_pton(AF_INET, cfg->gateway_http_bind, &addr.sin_addr) != 1) {
        crm_log_kv(CRM_LOG_ERROR, "invalid gateway.http_bind", "detail", cfg->gateway_http_bind,
                   "hint", "give an IPv4 address such as 127.0.0.1", NULL);
        http_destroy(&self);
        return NULL;
    }
    self->daemon =
        MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL,
                         NULL, s_on_request, self, MHD_OPTION_EXTERNAL_LOGGER, s_on_mhd_log, self,
                         MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED, s_on_completed,
                         self, MHD_OPTION_NOTIFY_CONNECTION, s_on_connection, self,
                         MHD_OPTION_URI_LOG_CALLBACK, s_on_uri, self, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned int)cfg->gateway_max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
                         120u, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
                         MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_END);
    if (!self->daemon) {
        char detail[128];
        snprintf(detail, sizeof detail, "%s:%d", cfg->gateway_http_bind, cfg->gateway_http_port);
        crm_log_kv(CRM_LOG_ERROR, "could not start the HTTP server", "detail", detail, "hint",
                   "is the port in use? set gateway.http_port or CRM_GATEWAY_HTTP_PORT", NULL);
        http_destroy(&self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : cfg->gateway_http_port;
    return self;
}

void http_destroy(http_t **self_p) {
    assert(self_p);
    http_t *self = *self_p;
    if (!self)
        return;
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    raw_limiter_destroy(&self->raw_limiter);
    ratelimit_destroy(&self->key_limits);
    free(self);
    *self_p = NULL;
}

int http_port(http_t *self) {
    return self->port;
}

//  Let MHD work: accept, read, run handlers, write. MHD's descriptors are
//  edge-triggered, so after a run it may have work it will not be woken for: it says so
//  through MHD_get_timeout (0: run again now; n: within n ms), which the loop honours.
static void s_run(http_t *self) {
    MHD_UNSIGNED_LONG_LONG timeout = 0;
    for (int i = 0; i < 16; i++) {
        MHD_run(self->daemon);
        if (MHD_get_timeout(self->daemon, &timeout) != MHD_YES || timeout > 0)
            break;
    }
    if (MHD_get_timeout(self->daemon, &timeout) == MHD_YES && timeout < 500 && !self->run_armed &&
        self->loop) {
        self->run_armed = true;
        zloop_timer(self->loop, (size_t)timeout, 1, s_on_run_timer, self);
    }
}

static int s_on_mhd(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
    (void)loop;
    (void)item;
    s_run(arg);
    return 0;
}

static int s_on_mhd_timer(zloop_t *loop, int timer_id, void *arg) {
    (void)timer_id;
    return s_on_mhd(loop, NULL, arg);
}

static int s_on_run_timer(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    http_t *self = arg;
    self->run_armed = false;
    s_run(self);
    return 0;
}

int http_attach(http_t *self, zloop_t *loop) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info)
        return -1;
    self->loop = loop;
    self->item = (zmq_pollitem_t){.fd = info->epoll_fd, .events = ZMQ_POLLIN};
    if (zloop_poller(loop, &self->item, s_on_mhd, self))
        return -1;
    self->timer_id = zloop_timer(loop, 500, 0, s_on_mhd_timer, self);
    return 0;
}

void http_shutdown(http_t *self) {
    if (!self || !self->daemon)
        return;
    MHD_quiesce_daemon(self->daemon);
    //  Requests still out get 503; their connections wake and answer.
    broker_fail_local(self->broker, 503, "the gateway is stopping");
    for (int i = 0; i < 10; i++)
        MHD_run(self->daemon);
}
