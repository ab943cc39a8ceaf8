/*  routes: the gateway's HTTP API as one table. Each row maps an HTTP method and path
    pattern to a service method and its message types; http.c walks it generically.
    The table is the place to look to learn what the API offers. */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

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

#define ROUTE_MAX_PARAMS 4

typedef struct {
    const char *name;
    char value[128];
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

//  Number of routes (for metrics arrays); a route's index is its position.
int route_count(void);

#endif
