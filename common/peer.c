/*  peer: the rights a key's roles text grants. See peer.h. */
#include "peer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

//  The roles a RequestHeader may name, one bit each.
static const char *const s_roles[] = {"admin",   "manager",     "sales",
                                      "analyst", "integration", "system"};
#define S_ROLES (sizeof s_roles / sizeof s_roles[0])
#define S_ROLE_SYSTEM (1u << (S_ROLES - 1))
#define S_ROLES_ALL ((1u << S_ROLES) - 1)

unsigned crm_role_bit(const char *role) {
    for (size_t i = 0; role && i < S_ROLES; i++)
        if (strcmp(role, s_roles[i]) == 0)
            return 1u << i;
    return 0;
}

bool crm_role_known(const char *role) {
    return crm_role_bit(role) != 0;
}

//  size bytes of text all from charset, 1 to max of them.
static bool s_made_of(const char *text, size_t size, size_t max, const char *charset) {
    if (size == 0 || size > max)
        return false;
    for (size_t i = 0; i < size; i++)
        if (!text[i] || !strchr(charset, text[i]))
            return false;
    return true;
}

#define S_TENANT_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-_"
#define S_SERVICE_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_"

bool crm_tenant_valid(const char *tenant) {
    return tenant && s_made_of(tenant, strlen(tenant), CRM_PEER_TENANT_MAX, S_TENANT_CHARS);
}

bool crm_service_name_valid(const char *service) {
    return service && s_made_of(service, strlen(service), CRM_PEER_SERVICE_MAX, S_SERVICE_CHARS);
}

static int s_problem(char *problem, size_t size, const char *format, ...) {
    va_list args;
    va_start(args, format);
    if (problem && size)
        vsnprintf(problem, size, format, args);
    va_end(args);
    return -1;
}

//  "TENANT" or "*" into out.
static int s_tenant_or_all(const char *text, size_t size, char *out, const char *role,
                           char *problem, size_t problem_size) {
    if ((size == 1 && text[0] == '*') ||
        s_made_of(text, size, CRM_PEER_TENANT_MAX, S_TENANT_CHARS)) {
        memcpy(out, text, size);
        out[size] = '\0';
        return 0;
    }
    return s_problem(problem, problem_size,
                     "%s: the tenant must be * or 1 to 64 of a-z 0-9 - _ (got \"%.*s\")", role,
                     (int)size, text);
}

//  "ROLE/ROLE..." into a mask.
static int s_role_list(const char *text, size_t size, unsigned *mask, char *problem,
                       size_t problem_size) {
    *mask = 0;
    while (size > 0) {
        const char *slash = memchr(text, '/', size);
        size_t len = slash ? (size_t)(slash - text) : size;
        char role[16];
        unsigned bit = 0;
        if (len > 0 && len < sizeof role) {
            memcpy(role, text, len);
            role[len] = '\0';
            bit = crm_role_bit(role);
        }
        if (!bit)
            return s_problem(problem, problem_size,
                             "client: unknown role \"%.*s\" (admin, manager, sales, analyst,"
                             " integration, system)",
                             (int)len, text);
        *mask |= bit;
        text += len + (slash ? 1 : 0);
        size -= len + (slash ? 1 : 0);
        if (slash && size == 0)
            return s_problem(problem, problem_size, "client: a role list may not end with /");
    }
    return 0;
}

//  One role of the list (size bytes at text).
static int s_parse_one(const char *text, size_t size, crm_peer_t *peer, char *problem,
                       size_t problem_size) {
    const char *colon = memchr(text, ':', size);
    size_t kind = colon ? (size_t)(colon - text) : size;
    const char *rest = colon ? colon + 1 : text + size;
    size_t rest_size = colon ? size - kind - 1 : 0;
    if (kind == 7 && memcmp(text, "gateway", 7) == 0 && !colon)
        return 0; // the gateway's own pair: it serves, it is never a peer
    if (kind == 6 && memcmp(text, "worker", 6) == 0) {
        if (!colon || !s_made_of(rest, rest_size, CRM_PEER_SERVICE_MAX, S_SERVICE_CHARS))
            return s_problem(problem, problem_size,
                             "worker: name the service, worker:SERVICE (1 to 32 of a-z 0-9 _)");
        if (peer->worker[0])
            return s_problem(problem, problem_size, "a key may be the worker of one service");
        memcpy(peer->worker, rest, rest_size);
        peer->worker[rest_size] = '\0';
        return 0;
    }
    if (kind == 6 && memcmp(text, "client", 6) == 0) {
        if (peer->client)
            return s_problem(problem, problem_size, "client: given twice");
        peer->client = true;
        peer->client_roles = S_ROLES_ALL;
        if (!colon) {
            strcpy(peer->client_tenant, "*");
            return 0;
        }
        const char *second = memchr(rest, ':', rest_size);
        size_t tenant_size = second ? (size_t)(second - rest) : rest_size;
        if (s_tenant_or_all(rest, tenant_size, peer->client_tenant, "client", problem,
                            problem_size))
            return -1;
        //  A key of one tenant never speaks as the suite itself.
        if (strcmp(peer->client_tenant, "*") != 0)
            peer->client_roles &= ~S_ROLE_SYSTEM;
        if (second) {
            unsigned mask = 0;
            if (s_role_list(second + 1, rest_size - tenant_size - 1, &mask, problem, problem_size))
                return -1;
            if (strcmp(peer->client_tenant, "*") != 0 && (mask & S_ROLE_SYSTEM))
                return s_problem(problem, problem_size,
                                 "client: the system role is for keys of every tenant (*)");
            peer->client_roles = mask;
        }
        return 0;
    }
    if (kind == 10 && memcmp(text, "subscriber", 10) == 0) {
        if (!colon)
            return s_problem(problem, problem_size,
                             "subscriber: name the tenant, subscriber:TENANT or subscriber:*");
        if (peer->subscriber)
            return s_problem(problem, problem_size, "subscriber: given twice");
        peer->subscriber = true;
        return s_tenant_or_all(rest, rest_size, peer->subscriber_tenant, "subscriber", problem,
                               problem_size);
    }
    return s_problem(problem, problem_size,
                     "unknown role \"%.*s\" (worker:SERVICE, client[:TENANT[:ROLES]],"
                     " subscriber:TENANT, gateway)",
                     (int)size, text);
}

int crm_peer_parse(const char *roles, crm_peer_t *peer, char *problem, size_t size) {
    memset(peer, 0, sizeof *peer);
    peer->pii = true;
    if (!roles || !*roles)
        return s_problem(problem, size, "the key has no role");
    const char *text = roles;
    while (true) {
        const char *comma = strchr(text, ',');
        size_t len = comma ? (size_t)(comma - text) : strlen(text);
        if (len == 0)
            return s_problem(problem, size, "an empty role in \"%s\"", roles);
        if (s_parse_one(text, len, peer, problem, size))
            return -1;
        if (!comma)
            return 0;
        text = comma + 1;
    }
}

bool crm_peer_may_serve(const crm_peer_t *peer, const char *service) {
    return peer->worker[0] && service && strcmp(peer->worker, service) == 0;
}

const char *crm_peer_may_call(const crm_peer_t *peer, const char *service, const char *method,
                              const char *tenant, const char *role) {
    (void)service;
    if (peer->worker[0])
        return NULL; // a daemon of the suite: it speaks for every tenant
    if (peer->client) {
        //  A keyless request (no tenant, no role) is what the gateway's public raw routes
        //  send (unsubscribe links, provider webhooks): a service serves it only for the
        //  methods whose request proves itself (crm.HttpRequest: a signed token, the
        //  provider's signature), so a client may send it as any HTTP client may.
        if ((!tenant || !*tenant) && (!role || !*role))
            return NULL;
        if (!(peer->client_roles & crm_role_bit(role)))
            return "the key may not call in this role";
        if (strcmp(peer->client_tenant, "*") != 0 &&
            (!tenant || strcmp(peer->client_tenant, tenant) != 0))
            return "the key may not call for this tenant";
        return NULL;
    }
    if (peer->subscriber) {
        //  A subscriber catches up through the source's outbox, for its tenant only.
        if (!method || strcmp(method, "Events.Replay") != 0)
            return "a subscriber key may only call Events.Replay";
        if (strcmp(peer->subscriber_tenant, "*") != 0 &&
            (!tenant || strcmp(peer->subscriber_tenant, tenant) != 0))
            return "the key may not replay this tenant's events";
        return NULL;
    }
    return "the key may not call services";
}

const char *crm_peer_event_tenant(const crm_peer_t *peer) {
    if (peer->worker[0])
        return "*";
    if (peer->subscriber)
        return peer->subscriber_tenant;
    return NULL;
}

bool crm_peer_may_subscribe(const crm_peer_t *peer, const void *prefix, size_t size) {
    const char *tenant = crm_peer_event_tenant(peer);
    if (!tenant)
        return false;
    if (strcmp(tenant, "*") == 0)
        return true;
    //  "<source>." then "<tenant>." whole: a shorter prefix would take other tenants'.
    const char *text = prefix;
    const char *dot = memchr(text, '.', size);
    if (!dot)
        return false;
    size_t at = (size_t)(dot - text) + 1;
    size_t tenant_size = strlen(tenant);
    return size >= at + tenant_size + 1 && memcmp(text + at, tenant, tenant_size) == 0 &&
           text[at + tenant_size] == '.';
}

bool crm_peer_may_publish(const crm_peer_t *peer, const void *topic, size_t size) {
    size_t len = strlen(peer->worker);
    return len > 0 && size > len && memcmp(topic, peer->worker, len) == 0 &&
           ((const char *)topic)[len] == '.';
}
