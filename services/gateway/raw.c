/*  raw: keyless routes' limits, their HttpRequest and the writing of their HttpResponse.
    See raw.h. */
#include "raw.h"
#include "log.h"
#include "ratelimit.h"
#include "validate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

// --- limits ---------------------------------------------------------------------------

struct _raw_limiter_t {
    double per_second; // 0: no per-client limit
    double burst;
    int max_in_flight;
    int in_flight;
    ratelimit_t *clients; // a token bucket per client address (ratelimit.h)
};

raw_limiter_t *raw_limiter_new(int per_second, int burst, int max_in_flight) {
    ratelimit_t *clients = ratelimit_new();
    if (!clients)
        return NULL;
    raw_limiter_t *self = calloc(1, sizeof *self);
    assert(self);
    self->per_second = per_second > 0 ? per_second : 0;
    self->burst = burst > 0 ? burst : 1;
    self->max_in_flight = max_in_flight > 0 ? max_in_flight : 1;
    self->clients = clients;
    return self;
}

void raw_limiter_destroy(raw_limiter_t **self_p) {
    assert(self_p);
    raw_limiter_t *self = *self_p;
    if (!self)
        return;
    ratelimit_destroy(&self->clients);
    free(self);
    *self_p = NULL;
}

int raw_limiter_admit(raw_limiter_t *self, const char *client, int64_t now_us, int *retry_after_s) {
    *retry_after_s = 0;
    const char *name = client && *client ? client : "-";
    if (self->per_second > 0) {
        ratelimit_state_t state;
        if (!ratelimit_take(self->clients, name, self->per_second, self->burst, now_us, &state)) {
            *retry_after_s = state.retry_after_s;
            return 429;
        }
    }
    if (self->in_flight >= self->max_in_flight) {
        if (self->per_second > 0)
            ratelimit_refund(self->clients, name, self->burst);
        *retry_after_s = 1;
        return 503;
    }
    self->in_flight++;
    return 0;
}

void raw_limiter_release(raw_limiter_t *self) {
    assert(self->in_flight > 0);
    self->in_flight--;
}

int raw_limiter_in_flight(const raw_limiter_t *self) {
    return self->in_flight;
}

//  addr as text into out, or -1 when it is not an IP address.
static int s_address_text(int family, const void *addr, char *out, size_t size) {
    return inet_ntop(family, addr, out, (socklen_t)size) ? 0 : -1;
}

void raw_client_address(const char *header_value, const struct sockaddr *peer, char *out,
                        size_t size) {
    out[0] = 0;
    if (header_value && *header_value) {
        //  The last entry is the one our proxy added; earlier ones are the client's say.
        const char *last = strrchr(header_value, ',');
        last = last ? last + 1 : header_value;
        while (*last == ' ' || *last == '\t')
            last++;
        char entry[64];
        size_t len = strcspn(last, " \t");
        if (len > 0 && len < sizeof entry) {
            memcpy(entry, last, len);
            entry[len] = 0;
            struct in6_addr a6;
            struct in_addr a4;
            if (inet_pton(AF_INET, entry, &a4) == 1 && s_address_text(AF_INET, &a4, out, size) == 0)
                return;
            if (inet_pton(AF_INET6, entry, &a6) == 1 &&
                s_address_text(AF_INET6, &a6, out, size) == 0)
                return;
        }
    }
    if (!peer)
        return;
    if (peer->sa_family == AF_INET)
        s_address_text(AF_INET, &((const struct sockaddr_in *)(const void *)peer)->sin_addr, out,
                       size);
    else if (peer->sa_family == AF_INET6)
        s_address_text(AF_INET6, &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr, out,
                       size);
}

// --- the request ----------------------------------------------------------------------

//  The request headers a raw route's service gets, and where they go. Only these: the
//  rest (cookies, authorization, ...) stays at the gateway.
static const struct {
    const char *header;
    size_t offset; // of the string field in Crm__HttpRequest
} s_forwarded[] = {
    {"Content-Type", offsetof(Crm__HttpRequest, content_type)},
    {"X-Twilio-Signature", offsetof(Crm__HttpRequest, twilio_signature)},
    {"User-Agent", offsetof(Crm__HttpRequest, user_agent)},
    {"Accept", offsetof(Crm__HttpRequest, accept)},
};

const char *const raw_forwarded_headers[] = {"Content-Type", "X-Twilio-Signature", "User-Agent",
                                             "Accept", NULL};

#define S_HEADER_VALUE_MAX 1024 // a longer forwarded header is sent as ""

//  text's first len bytes with every byte outside printable ASCII percent-escaped, so
//  the path and query are ASCII whatever a client sent (they are proto strings: UTF-8).
//  Caller frees.
static char *s_ascii(const char *text, size_t len) {
    char *out = malloc(len * 3 + 1);
    assert(out);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c > 32 && c < 127)
            out[n++] = (char)c;
        else
            n += (size_t)sprintf(out + n, "%%%02X", c);
    }
    out[n] = 0;
    return out;
}

zframe_t *raw_request_frame(const char *method, const char *uri, const route_param_t *params,
                            int n_params, raw_header_fn *header, void *arg, const char *client,
                            const void *body, size_t size) {
    Crm__HttpRequest req = CRM__HTTP_REQUEST__INIT;
    req.method = (char *)method;
    const char *question = strchr(uri, '?');
    size_t path_len = question ? (size_t)(question - uri) : strlen(uri);
    char *path = s_ascii(uri, path_len);
    char *query = question ? s_ascii(question + 1, strlen(question + 1)) : s_ascii("", 0);
    req.path = path;
    req.query = query;

    Crm__HttpField fields[ROUTE_MAX_PARAMS];
    Crm__HttpField *field_ptrs[ROUTE_MAX_PARAMS];
    for (int i = 0; i < n_params && i < ROUTE_MAX_PARAMS; i++) {
        crm__http_field__init(&fields[i]);
        fields[i].name = (char *)params[i].name;
        const char *value = params[i].value;
        fields[i].value = (char *)(crm_utf8_valid(value, strlen(value)) ? value : "");
        field_ptrs[i] = &fields[i];
    }
    req.path_params = field_ptrs;
    req.n_path_params = n_params < ROUTE_MAX_PARAMS ? (size_t)n_params : ROUTE_MAX_PARAMS;

    for (size_t i = 0; i < sizeof s_forwarded / sizeof s_forwarded[0]; i++) {
        const char *value = header ? header(s_forwarded[i].header, arg) : NULL;
        size_t len = value ? strlen(value) : 0;
        if (!value || len > S_HEADER_VALUE_MAX || !crm_utf8_valid(value, len))
            value = "";
        *(const char **)((char *)&req + s_forwarded[i].offset) = value;
    }
    req.client_address = (char *)(client ? client : "");
    req.body.data = (uint8_t *)body;
    req.body.len = body ? size : 0;

    zframe_t *frame = zframe_new(NULL, crm__http_request__get_packed_size(&req));
    crm__http_request__pack(&req, zframe_data(frame));
    free(path);
    free(query);
    return frame;
}

// --- the answer -----------------------------------------------------------------------

//  The gateway writes these itself (or MHD does); a service may not set them.
static const char *const s_reserved_headers[] = {
    "Content-Type", "Content-Length", "Transfer-Encoding",
    "Connection",   "Keep-Alive",     "Upgrade",
    "TE",           "Trailer",        "Location",
    "X-Request-Id", "Date",           "Set-Cookie",
    NULL,
};

#define S_HEADERS_MAX 16
#define S_LOCATION_MAX 4096

//  What a 4xx or 5xx says when the service gives no text (and every 5xx).
static const char *s_reason(int status) {
    switch (status) {
    case 400:
        return "the request cannot be read";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not found";
    case 405:
        return "method not allowed";
    case 409:
        return "conflict";
    case 410:
        return "gone";
    case 413:
        return "the request body is too large";
    case 422:
        return "the request breaks a rule";
    case 429:
        return "too many requests; retry later";
    case 502:
        return "the service sent an answer the gateway cannot write";
    case 503:
        return "unavailable; retry later";
    case 504:
        return "the service did not answer in time; retry later";
    default:
        return status >= 500 ? "the service failed" : "the request was refused";
    }
}

//  A header name: an HTTP token (RFC 9110 §5.6.2), 1 to 64 characters.
static bool s_token(const char *name) {
    size_t len = strlen(name);
    if (len == 0 || len > 64)
        return false;
    for (const char *p = name; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("!#$%&'*+-.^_`|~", *p)))
            return false;
    return true;
}

//  A header value: visible ASCII, spaces and tabs (no CR, LF or other controls, which
//  would split the response), at most max bytes.
static bool s_value(const char *value, size_t max, bool spaces) {
    size_t len = strlen(value);
    if (len > max)
        return false;
    for (const char *p = value; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c > 32 && c < 127) || (spaces && (c == ' ' || c == '\t'))))
            return false;
    }
    return true;
}

static bool s_reserved(const char *name) {
    for (int i = 0; s_reserved_headers[i]; i++)
        if (strcasecmp(name, s_reserved_headers[i]) == 0)
            return true;
    return false;
}

//  Whether the service's response may be written as it is; *why (for the log) when not.
static bool s_response_ok(const Crm__HttpResponse *r, const char **why) {
    if (!s_value(r->content_type, 200, true)) {
        *why = "content_type is not a header value";
        return false;
    }
    if (!s_value(r->location, S_LOCATION_MAX, false)) {
        *why = "location is not a URL of printable ASCII (percent-encode it)";
        return false;
    }
    if (r->n_headers > S_HEADERS_MAX) {
        *why = "more than 16 headers";
        return false;
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        if (!s_token(r->headers[i]->name)) {
            *why = "a header name is not an HTTP token";
            return false;
        }
        if (s_reserved(r->headers[i]->name)) {
            *why = "a header is one the gateway writes itself";
            return false;
        }
        if (!s_value(r->headers[i]->value, 1024, true)) {
            *why = "a header value has control characters or is too long";
            return false;
        }
    }
    return true;
}

void raw_answer_error(raw_answer_t *out, int status, const char *text, int retry_after_s) {
    raw_answer_reset(out);
    out->status = status;
    out->retry_after_s = retry_after_s;
    snprintf(out->text, sizeof out->text - 1, "%s", text && *text ? text : s_reason(status));
    //  One line: a message is the service's, so make sure.
    for (char *p = out->text; *p; p++)
        if ((unsigned char)*p < 32)
            *p = ' ';
    strcat(out->text, "\n");
}

void raw_answer_reset(raw_answer_t *out) {
    if (out->response)
        crm__http_response__free_unpacked(out->response, NULL);
    memset(out, 0, sizeof *out);
}

void raw_answer_read(zmsg_t *reply, raw_answer_t *out) {
    memset(out, 0, sizeof *out);
    zframe_t *hframe = zmsg_first(reply);
    zframe_t *rframe = zmsg_next(reply);
    Crm__ReplyHeader *rh =
        hframe ? crm__reply_header__unpack(NULL, zframe_size(hframe), zframe_data(hframe)) : NULL;
    if (!rh) {
        crm_log_kv(CRM_LOG_WARN, "raw route: unreadable reply", "detail",
                   "the first frame is not a crm.ReplyHeader", NULL);
        raw_answer_error(out, 502, NULL, 0);
        return;
    }
    if (rh->code >= 400) {
        int status = rh->code < 600 ? (int)rh->code : 502;
        bool retry = status == 429 || status == 503 || status == 504;
        raw_answer_error(out, status, status < 500 ? rh->message : NULL, retry ? 1 : 0);
        crm__reply_header__free_unpacked(rh, NULL);
        return;
    }
    //  No second frame is an empty HttpResponse: it packs to no bytes, and the service core
    //  then sends none.
    Crm__HttpResponse *r = crm__http_response__unpack(NULL, rframe ? zframe_size(rframe) : 0,
                                                      rframe ? zframe_data(rframe) : NULL);
    int status = r && r->status ? (int)r->status : (int)rh->code;
    const char *why = NULL;
    if (!r)
        why = "the second frame is not a crm.HttpResponse";
    else if (status < 200 || status > 599)
        why = "the status is not from 200 to 599";
    else
        s_response_ok(r, &why);
    crm__reply_header__free_unpacked(rh, NULL);
    if (why) {
        crm_log_kv(CRM_LOG_WARN, "raw route: the service's answer cannot be written", "detail", why,
                   NULL);
        if (r)
            crm__http_response__free_unpacked(r, NULL);
        raw_answer_error(out, 502, NULL, 0);
        return;
    }
    out->status = status;
    out->response = r;
}

const char *raw_answer_content_type(const raw_answer_t *self) {
    if (!self->response)
        return "text/plain; charset=utf-8";
    if (self->response->content_type[0])
        return self->response->content_type;
    return self->response->body.len ? "application/octet-stream" : "";
}

const void *raw_answer_body(const raw_answer_t *self, size_t *size) {
    if (!self->response) {
        *size = strlen(self->text);
        return self->text;
    }
    //  These statuses have no body (RFC 9110 §15.3.5, §15.4.5).
    if (self->status == 204 || self->status == 304) {
        *size = 0;
        return "";
    }
    *size = self->response->body.len;
    return self->response->body.len ? (const void *)self->response->body.data : "";
}

const char *raw_answer_location(const raw_answer_t *self) {
    return self->response ? self->response->location : "";
}
