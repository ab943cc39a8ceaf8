/*  crmctl reporting rebuild | status: the reporting service's projection.

    rebuild sends "Rebuild" (a crm.reporting.RebuildRequest, tenant "*", role admin) to
    the reporting service over the broker. The service answers 202 at once with the
    rebuild's crm.reporting.RebuildStatus and does the work in the background, so
    crmctl then asks "RebuildStatus" every second, printing progress on stderr, until
    the rebuild is done and the projection has applied the contacts events published
    up to then (applied_seq reaches the contacts head read when the rebuild finished),
    or --timeout passes. --no-wait returns after the 202.

    Before anything, mmi.service tells whether a reporting worker is registered at all:
    otherwise the broker would hold the request until its deadline.

    Output on stdout: "reporting rebuild: CODE ..." for the answer to Rebuild, then the
    final status as one JSON line (status prints only that line).
*/
#include "crmctl.h"
#include "events.pb-c.h"
#include "json_pb.h"
#include "reporting.pb-c.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define S_DEFAULT_TIMEOUT_S 600
#define S_CALL_TIMEOUT_MS 10000 // one Rebuild or RebuildStatus call
#define S_POLL_MS 1000          // between RebuildStatus calls
#define S_MMI_TIMEOUT_MS 5000

//  A client connected to the broker with a live reporting worker behind it, or NULL
//  (the reason printed).
static crm_bus_client_t *s_reporting_client(const crmctl_t *ctl) {
    const char *broker = crm_config_broker(ctl->cfg);
    crm_bus_client_t *client = crm_bus_client_new(broker);
    if (!client) {
        fprintf(stderr, "crmctl: could not connect to the broker at \"%s\"\n", broker);
        return NULL;
    }
    int live = crmctl_service_live(client, broker, "reporting", S_MMI_TIMEOUT_MS);
    if (live == 0)
        fprintf(stderr,
                "crmctl: no reporting service is registered with the broker at %s\n"
                "hint: is crm-reporting running? (supervisor.services lists the daemons)\n",
                broker);
    if (live != 1)
        crm_bus_client_destroy(&client);
    return client;
}

//  Print a refusal: "crmctl: reporting refused METHOD: 409 rebuild_running: ...".
static void s_refused(const char *method, const Crm__ReplyHeader *header) {
    fprintf(stderr, "crmctl: reporting refused %s: %u %s%s%s\n", method, header->code,
            header->error, *header->message ? ": " : "", header->message);
    for (size_t i = 0; i < header->n_fields; i++)
        fprintf(stderr, "  %s: %s\n", header->fields[i]->field, header->fields[i]->message);
}

//  The rebuild's status now, or NULL (the reason printed).
static Crm__Reporting__RebuildStatus *s_status(crm_bus_client_t *client) {
    Crm__Empty empty = CRM__EMPTY__INIT;
    ProtobufCMessage *response = NULL;
    Crm__ReplyHeader *header =
        crmctl_call(client, "reporting", "RebuildStatus", "admin", &empty.base,
                    &crm__reporting__rebuild_status__descriptor, S_CALL_TIMEOUT_MS, &response);
    if (header && header->code != 200)
        s_refused("RebuildStatus", header);
    else if (header && !response)
        fprintf(stderr, "crmctl: reporting answered RebuildStatus without a status\n");
    if (header)
        crm__reply_header__free_unpacked(header, NULL);
    return (Crm__Reporting__RebuildStatus *)response;
}

//  The contacts source's head seq (its last published event), read with a replay from
//  beyond any event; false when contacts does not answer.
static bool s_contacts_head(crm_bus_client_t *client, const crm_config_t *cfg, uint64_t *head) {
    Crm__Events__ReplayRequest req = CRM__EVENTS__REPLAY_REQUEST__INIT;
    req.from_seq = UINT64_C(1) << 62;
    ProtobufCMessage *response = NULL;
    Crm__ReplyHeader *header = crmctl_call(client, "contacts", "Events.Replay", "system", &req.base,
                                           &crm__events__replay_response__descriptor,
                                           cfg->events_replay_timeout_ms, &response);
    bool ok = header && header->code == 200 && response;
    if (ok)
        *head = ((Crm__Events__ReplayResponse *)response)->head_seq;
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    if (header)
        crm__reply_header__free_unpacked(header, NULL);
    return ok;
}

//  Print a status as one JSON line on stdout.
static void s_print_status(const Crm__Reporting__RebuildStatus *status) {
    char *text = crm_pb_to_json(&status->base);
    printf("%s\n", text ? text : "{}");
    fflush(stdout);
    free(text);
}

//  A progress line on stderr when something moved.
static void s_progress(const Crm__Reporting__RebuildStatus *status, char *last, size_t size) {
    char line[256];
    snprintf(line, sizeof line,
             "crmctl: rebuild %s (%s): %" PRIu64 " contacts loaded, contacts"
             " events applied up to seq %" PRIu64 "\n",
             status->phase, status->mode, status->contacts_loaded, status->applied_seq);
    if (strcmp(line, last) != 0) {
        fputs(line, stderr);
        snprintf(last, size, "%s", line);
    }
}

//  Ask RebuildStatus until the rebuild is done and caught up, or until deadline
//  (zclock_mono). Returns the exit status.
static int s_wait(crm_bus_client_t *client, const crm_config_t *cfg, int64_t deadline,
                  long long timeout_s) {
    char last[256] = "";
    bool have_head = false;
    uint64_t head = 0;
    while (!zsys_interrupted) {
        Crm__Reporting__RebuildStatus *status = s_status(client);
        if (!status)
            return 1;
        s_progress(status, last, sizeof last);
        bool done = strcmp(status->phase, "done") == 0;
        if (done && !have_head) {
            have_head = s_contacts_head(client, cfg, &head);
            if (!have_head) {
                fprintf(stderr, "crmctl: rebuild done; contacts did not say its head seq, so"
                                " catching up is not awaited\n");
                head = 0;
                have_head = true;
            }
        }
        if (done && status->applied_seq >= head) {
            s_print_status(status);
            crm__reporting__rebuild_status__free_unpacked(status, NULL);
            return 0;
        }
        if (strcmp(status->phase, "none") == 0) {
            fprintf(stderr, "crmctl: the reporting service reports no rebuild\n");
            crm__reporting__rebuild_status__free_unpacked(status, NULL);
            return 1;
        }
        crm__reporting__rebuild_status__free_unpacked(status, NULL);
        if (zclock_mono() + S_POLL_MS > deadline) {
            fprintf(stderr,
                    "crmctl: the rebuild did not finish within %lld s; it goes on in the"
                    " reporting service\nhint: crmctl reporting status shows how far it got\n",
                    timeout_s);
            return 1;
        }
        zclock_sleep(S_POLL_MS);
    }
    fprintf(stderr, "crmctl: interrupted; the rebuild goes on in the reporting service\n");
    return 1;
}

int crmctl_reporting_rebuild(crmctl_t *ctl, int argc, char **argv) {
    long long timeout_s = S_DEFAULT_TIMEOUT_S;
    const char *mode = "";
    bool wait = true;
    static const struct option options[] = {{"timeout", required_argument, NULL, 't'},
                                            {"mode", required_argument, NULL, 'm'},
                                            {"no-wait", no_argument, NULL, 'n'},
                                            {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 't':
            if (crmctl_parse_number(optarg, 1, 86400, &timeout_s)) {
                fprintf(stderr, "crmctl: --timeout takes seconds, 1 to 86400\n");
                return 2;
            }
            break;
        case 'm':
            if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "replay") != 0 &&
                strcmp(optarg, "snapshot") != 0) {
                fprintf(stderr, "crmctl: --mode is auto, replay or snapshot\n");
                return 2;
            }
            mode = optarg;
            break;
        case 'n':
            wait = false;
            break;
        default:
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "crmctl: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    crm_bus_client_t *client = s_reporting_client(ctl);
    if (!client)
        return 1;
    int64_t deadline = zclock_mono() + timeout_s * 1000;
    Crm__Reporting__RebuildRequest req = CRM__REPORTING__REBUILD_REQUEST__INIT;
    req.mode = (char *)mode;
    ProtobufCMessage *response = NULL;
    Crm__ReplyHeader *header = crmctl_call(
        client, "reporting", "Rebuild", "admin", &req.base,
        &crm__reporting__rebuild_status__descriptor,
        timeout_s * 1000 < S_CALL_TIMEOUT_MS ? (int)timeout_s * 1000 : S_CALL_TIMEOUT_MS,
        &response);
    int rc = 1;
    if (!header)
        goto done;
    if (header->code < 200 || header->code >= 300) {
        s_refused("Rebuild", header);
        goto done;
    }
    Crm__Reporting__RebuildStatus *started = (Crm__Reporting__RebuildStatus *)response;
    printf("reporting rebuild: %u %s (mode %s, started %s)\n", header->code,
           header->code == 202 ? "accepted" : "done", started ? started->mode : "?",
           started ? started->started_at : "?");
    fflush(stdout);
    if (!wait) {
        if (started)
            s_print_status(started);
        rc = 0;
    } else
        rc = s_wait(client, ctl->cfg, deadline, timeout_s);
done:
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    if (header)
        crm__reply_header__free_unpacked(header, NULL);
    crm_bus_client_destroy(&client);
    return rc;
}

int crmctl_reporting_status(crmctl_t *ctl, int argc, char **argv) {
    (void)argv;
    if (argc > 1)
        return 2;
    crm_bus_client_t *client = s_reporting_client(ctl);
    if (!client)
        return 1;
    Crm__Reporting__RebuildStatus *status = s_status(client);
    if (status) {
        s_print_status(status);
        crm__reporting__rebuild_status__free_unpacked(status, NULL);
    }
    crm_bus_client_destroy(&client);
    return status ? 0 : 1;
}
