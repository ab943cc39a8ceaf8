/*  crmctl_bus: calling services through the broker (MDP 0.1, common/bus_client), for
    the commands that talk to the running suite. See crmctl.h.
*/
#include "crmctl.h"
#include "ids.h"

#include <stdio.h>
#include <string.h>

//  The body of a request: a crm.RequestHeader (tenant "*": every tenant, or one; actor
//  "crmctl"; the deadline the broker enforces) and the packed request message.
static zmsg_t *s_request_new(const char *method, const char *tenant, const char *role,
                             uint32_t deadline_ms, const ProtobufCMessage *request) {
    char request_id[CRM_UUID_LEN + 1];
    crm_uuid_v7(request_id);
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = (char *)method;
    header.tenant_id = (char *)tenant;
    header.actor_id = "crmctl";
    header.role = (char *)role;
    header.request_id = request_id;
    header.deadline_ms = deadline_ms;
    return crm_bus_request_new(&header, request);
}

Crm__ReplyHeader *crmctl_call(crm_bus_client_t *client, const char *service, const char *method,
                              const char *role, const ProtobufCMessage *request,
                              const ProtobufCMessageDescriptor *response_desc, int timeout_ms,
                              ProtobufCMessage **response) {
    return crmctl_call_tenant(client, service, method, "*", role, request, response_desc,
                              timeout_ms, response);
}

Crm__ReplyHeader *crmctl_call_tenant(crm_bus_client_t *client, const char *service,
                                     const char *method, const char *tenant, const char *role,
                                     const ProtobufCMessage *request,
                                     const ProtobufCMessageDescriptor *response_desc,
                                     int timeout_ms, ProtobufCMessage **response) {
    *response = NULL;
    zmsg_t *body = s_request_new(method, tenant, role, (uint32_t)timeout_ms, request);
    //  Wait a little past the broker's deadline, so that its 503/504 is what we see.
    zmsg_t *reply = crm_bus_client_request(client, service, &body, timeout_ms + 1000);
    if (!reply) {
        if (!zsys_interrupted)
            fprintf(stderr, "crmctl: no answer from %s to %s within %d ms\n", service, method,
                    timeout_ms + 1000);
        return NULL;
    }
    Crm__ReplyHeader *header = crm_bus_reply_parse(&reply, response_desc, response);
    bool ok = header != NULL;
    if (ok && header->code >= 200 && header->code < 300 && response_desc)
        ok = *response != NULL;
    if (!ok) {
        fprintf(stderr, "crmctl: malformed answer from %s to %s\n", service, method);
        if (header)
            crm__reply_header__free_unpacked(header, NULL);
        return NULL;
    }
    return header;
}

int crmctl_service_live(crm_bus_client_t *client, const char *broker, const char *service,
                        int timeout_ms) {
    zmsg_t *body = zmsg_new();
    zmsg_addstr(body, service);
    zmsg_t *reply = crm_bus_client_request(client, "mmi.service", &body, timeout_ms);
    if (!reply) {
        if (!zsys_interrupted)
            fprintf(stderr,
                    "crmctl: no answer from the broker at %s within %d ms\n"
                    "hint: is crm-gateway running? broker.endpoint (CRM_BROKER_ENDPOINT) names"
                    " it\n",
                    broker, timeout_ms);
        return -1;
    }
    zframe_t *code = zmsg_first(reply);
    int live = code && zframe_streq(code, "200");
    zmsg_destroy(&reply);
    return live;
}
