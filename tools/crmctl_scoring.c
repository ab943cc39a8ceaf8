/*  crmctl scoring rebuild: make the scoring service score every lead again from the
    event stream.

    Sends "Rebuild" (a crm.Empty, tenant "*", role admin) to the scoring service over
    broker.endpoint: it empties its projection (every tenant's leads, scores, score
    history and contacts) and sets its inbox back to 0 in one transaction, then follows
    the leads', contacts' and notify events again from the first, scoring each lead as
    of its events' own times (services/scoring/methods.c). The answer comes at once; the
    replay runs in the daemon (GET /v1/leads/{id}/score answers 404 for a lead until
    its events are applied again). The tenants' models are kept.

    Output on stdout: "scoring rebuild: 202 started" (or the refusal on stderr).
*/
#include "crmctl.h"

#include <stdio.h>

#define S_CALL_TIMEOUT_MS 10000
#define S_MMI_TIMEOUT_MS 5000

int crmctl_scoring_rebuild(crmctl_t *ctl, int argc, char **argv) {
    (void)argv;
    if (argc > 1)
        return 2;
    const char *broker = crm_config_broker(ctl->cfg);
    crm_bus_client_t *client = crm_bus_client_new(broker);
    if (!client) {
        fprintf(stderr, "crmctl: could not connect to the broker at \"%s\"\n", broker);
        return 1;
    }
    if (crmctl_service_live(client, broker, "scoring", S_MMI_TIMEOUT_MS) != 1) {
        fprintf(stderr,
                "crmctl: no scoring service is registered with the broker at %s\n"
                "hint: is crm-scoring running? (supervisor.services lists the daemons)\n",
                broker);
        crm_bus_client_destroy(&client);
        return 1;
    }
    Crm__Empty empty = CRM__EMPTY__INIT;
    ProtobufCMessage *response = NULL;
    Crm__ReplyHeader *header = crmctl_call(client, "scoring", "Rebuild", "admin", &empty.base,
                                           &crm__empty__descriptor, S_CALL_TIMEOUT_MS, &response);
    int rc = 1;
    if (!header)
        fprintf(stderr, "crmctl: scoring did not answer Rebuild\n");
    else if (header->code != 202)
        fprintf(stderr, "crmctl: scoring refused Rebuild: %u %s%s%s\n", header->code,
                header->error, *header->message ? ": " : "", header->message);
    else {
        printf("scoring rebuild: 202 started\n");
        rc = 0;
    }
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    if (header)
        crm__reply_header__free_unpacked(header, NULL);
    crm_bus_client_destroy(&client);
    return rc;
}
