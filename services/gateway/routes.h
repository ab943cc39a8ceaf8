/*  routes: the gateway's HTTP API as one table. Each row maps an HTTP method and path
    pattern to a service method and its message types; http.c walks it generically.
    The table is the place to look to learn what the API offers. */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include "common.pb-c.h" // crm.HttpRequest and crm.HttpResponse, for ROUTE_RAW

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#define ROLE_ADMIN       (1u << 0)
#define ROLE_MANAGER     (1u << 1)
#define ROLE_SALES       (1u << 2)
#define ROLE_ANALYST     (1u << 3)
#define ROLE_INTEGRATION (1u << 4)
#define ROLES_ANY   (ROLE_ADMIN | ROLE_MANAGER | ROLE_SALES | ROLE_ANALYST | ROLE_INTEGRATION)
#define ROLES_WRITE (ROLE_ADMIN | ROLE_MANAGER | ROLE_SALES | ROLE_INTEGRATION)
#define ROLES_MANAGE (ROLE_ADMIN | ROLE_MANAGER)  // settings that reach many records
//  Exports copy the contact base out: managers, analysts and integrations, not sales.
#define ROLES_EXPORT (ROLE_ADMIN | ROLE_MANAGER | ROLE_ANALYST | ROLE_INTEGRATION)

typedef struct {
    const char *http_method;  // "GET", "POST", "PATCH", "DELETE"
    const char *pattern;      // "/v1/contacts/{id}": {name} captures one segment
    const char *service;      // MDP service name
    const char *rpc;          // RequestHeader.method
    const ProtobufCMessageDescriptor *request;
    const ProtobufCMessageDescriptor *response;
    const char *body;         // NULL: no body; "*": the whole request; else that field
    const char *mask;         // field that receives the names of the body's members (PATCH)
    unsigned roles;           // roles allowed
    const char *summary;      // one line, for /v1/openapi.json
} route_t;

extern const route_t routes[];

//  A raw route: no API key and no JSON. The service gets the request as a crm.HttpRequest
//  and answers a crm.HttpResponse that is written as it is (raw.h tells the whole
//  contract). For endpoints the outside world calls without our keys: provider webhooks,
//  one-click unsubscribe, tracking links. Its roles are ROUTE_KEYLESS, and only a raw
//  route's may be. What it takes and answers, for /v1/openapi.json: route_raw_doc().
#define ROUTE_KEYLESS 0u
#define ROUTE_RAW(http_method, pattern, service, rpc, summary)                                     \
    {                                                                                              \
        http_method, pattern, service, rpc, &crm__http_request__descriptor,                        \
            &crm__http_response__descriptor, NULL, NULL, ROUTE_KEYLESS, summary                    \
    }

bool route_raw(const route_t *route);

//  One answer a raw route gives: status and media type (NULL: no body).
typedef struct {
    const char *status; // "200", "302"
    const char *media;  // "image/gif"
    const char *description;
} route_raw_answer_t;

#define ROUTE_RAW_ANSWERS_MAX 3

//  What a raw route takes (the body's media type, NULL: no body) and answers besides
//  its errors (text/plain), or NULL when route is not raw or has no such row.
typedef struct {
    const char *service, *rpc;
    const char *request_media;
    route_raw_answer_t answers[ROUTE_RAW_ANSWERS_MAX];
} route_raw_doc_t;

const route_raw_doc_t *route_raw_doc(const route_t *route);

#define ROUTE_MAX_PARAMS 4

typedef struct {
    const char *name;
    char value[160]; // ids are 36; a raw route's link token (notify) up to 139
} route_param_t;

//  Find the route for method and path. Returns it and fills params, or NULL. When the
//  path matches but not the method, *path_known is set (answer 405).
const route_t *route_match(const char *method, const char *path, route_param_t *params,
                           int *n_params, bool *path_known);

//  A download route answers bytes, not JSON: the response's bytes field of the name
//  returned is the body, sent as is with the response's content_type and file_name
//  (Content-Disposition). NULL for the others (JSON).
const char *route_download(const route_t *route);

//  Role name to its bit (0 for unknown).
unsigned route_role_bit(const char *role);

//  The roles by index (the role of bit 1u << index), NULL past the last.
#define ROUTE_N_ROLES 5
const char *route_role_name(int index);

//  A rule about who may do what within a route's allowed roles, which its service
//  enforces per record or per request (answered 403): for the role x route table.
typedef struct {
    const char *service, *rpc;
    const char *rule;
} route_record_rule_t;

//  The rules, terminated by a row without a service.
extern const route_record_rule_t route_record_rules[];

//  The role x route table as Markdown (docs/ROLES.md is its output: `make roles-doc`;
//  test_routes fails when they differ). Caller frees.
char *route_roles_markdown(void);

//  Number of routes (for metrics arrays); a route's index is its position.
int route_count(void);

#endif
