/*  crmctl contacts import | import-template: CSV import through the broker.

    import reads FILE in parts (--part-size, default 1 MiB: the broker takes frames up to
    2 MiB), sends them to the contacts service as an import of tenant T (CreateImport,
    AddImportPart 1, 2, ..., a part that got no answer sent again: the service adds a
    part once), starts it (StartImport: a job) and follows the job (GetJob), drawing a
    progress bar on a terminal and plain progress lines otherwise (on stderr). Then it
    prints the summary and the first errors on stdout. Exit status: 0 when every row was
    imported (or skipped as a duplicate), 1 when rows failed or the file was refused, 2
    for a bad command line.
*/
#include "crmctl.h"
#include "contacts.pb-c.h"
#include "ids.h"
#include "json_pb.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_CALL_TIMEOUT_MS 30000
#define S_POLL_MS 250
#define S_PART_DEFAULT (1 << 20)
#define S_ERRORS_SHOWN 20

//  Call method of contacts as tenant (role admin, actor crmctl). The reply header, or
//  NULL when none came (the reason printed).
static Crm__ReplyHeader *s_call(crm_bus_client_t *client, const char *tenant, const char *method,
                                const ProtobufCMessage *request,
                                const ProtobufCMessageDescriptor *response_desc,
                                ProtobufCMessage **response) {
    *response = NULL;
    char request_id[CRM_UUID_LEN + 1];
    crm_uuid_v7(request_id);
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = (char *)method;
    header.tenant_id = (char *)tenant;
    header.actor_id = "crmctl";
    header.role = "admin";
    header.request_id = request_id;
    header.deadline_ms = S_CALL_TIMEOUT_MS;
    zmsg_t *body = crm_bus_request_new(&header, request);
    zmsg_t *reply = crm_bus_client_request(client, "contacts", &body, S_CALL_TIMEOUT_MS + 1000);
    if (!reply) {
        if (!zsys_interrupted)
            fprintf(stderr, "crmctl: no answer from contacts to %s within %d ms\n", method,
                    S_CALL_TIMEOUT_MS + 1000);
        return NULL;
    }
    Crm__ReplyHeader *rh = crm_bus_reply_parse(&reply, response_desc, response);
    if (!rh)
        fprintf(stderr, "crmctl: malformed answer from contacts to %s\n", method);
    return rh;
}

//  Print a refusal with its field errors.
static void s_refused(const char *method, const Crm__ReplyHeader *rh) {
    fprintf(stderr, "crmctl: contacts refused %s: %u %s%s%s\n", method, rh->code, rh->error,
            *rh->message ? ": " : "", rh->message);
    for (size_t i = 0; i < rh->n_fields; i++)
        fprintf(stderr, "  %s: %s\n", rh->fields[i]->field, rh->fields[i]->message);
}

//  Call and insist on a 2xx answer: the response, or NULL (the reason printed).
static ProtobufCMessage *s_call_ok(crm_bus_client_t *client, const char *tenant,
                                   const char *method, const ProtobufCMessage *request,
                                   const ProtobufCMessageDescriptor *response_desc, int retries) {
    for (int attempt = 0; attempt <= retries && !zsys_interrupted; attempt++) {
        ProtobufCMessage *response = NULL;
        Crm__ReplyHeader *rh = s_call(client, tenant, method, request, response_desc, &response);
        if (!rh)
            continue;
        bool ok = rh->code >= 200 && rh->code < 300 && response;
        if (!ok)
            s_refused(method, rh);
        crm__reply_header__free_unpacked(rh, NULL);
        if (ok)
            return response;
        if (response)
            protobuf_c_message_free_unpacked(response, NULL);
        return NULL;
    }
    return NULL;
}

//  --map "Header=field,Header 2=field": entries into req's mapping. -1 when malformed.
static int s_parse_map(const char *text, Crm__Contacts__CreateImportRequest *req) {
    char *copy = strdup(text);
    char *save = NULL;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strrchr(item, '=');
        if (!eq || eq == item) {
            fprintf(stderr, "crmctl: --map: \"%s\" is not Header=field\n", item);
            rc = -1;
            break;
        }
        *eq = 0;
        Crm__Contacts__CreateImportRequest__MappingEntry *e = malloc(sizeof *e);
        crm__contacts__create_import_request__mapping_entry__init(e);
        e->key = strdup(item);
        e->value = strdup(eq + 1);
        req->mapping = realloc(req->mapping, (req->n_mapping + 1) * sizeof *req->mapping);
        req->mapping[req->n_mapping++] = e;
    }
    free(copy);
    return rc;
}

static void s_free_map(Crm__Contacts__CreateImportRequest *req) {
    for (size_t i = 0; i < req->n_mapping; i++) {
        free(req->mapping[i]->key);
        free(req->mapping[i]->value);
        free(req->mapping[i]);
    }
    free(req->mapping);
}

//  Progress on stderr: a bar redrawn in place on a terminal, else a line now and then.
static void s_progress(const Crm__Contacts__Job *job, bool tty, int64_t *last_line) {
    unsigned done = job->processed, total = job->total;
    if (tty) {
        int width = 40, filled = total ? (int)((uint64_t)done * width / total) : 0;
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '#' : '-';
        bar[width] = 0;
        fprintf(stderr, "\r[%s] %3u%% %u/%u rows, %u failed", bar,
                total ? (unsigned)((uint64_t)done * 100 / total) : 0, done, total, job->failed);
        fflush(stderr);
    } else if (zclock_mono() - *last_line >= 2000) {
        fprintf(stderr, "crmctl: import %s: %u of %u rows, %u failed\n", job->status, done, total,
                job->failed);
        *last_line = zclock_mono();
    }
}

//  Send the file's parts. 0 or -1 (the reason printed).
static int s_send_parts(crm_bus_client_t *client, const char *tenant, const char *id, FILE *file,
                        size_t part_size, bool tty) {
    unsigned char *buffer = malloc(part_size);
    uint32_t part = 0;
    int rc = 0;
    size_t total = 0;
    for (;;) {
        size_t n = fread(buffer, 1, part_size, file);
        if (n == 0)
            break;
        total += n;
        Crm__Contacts__AddImportPartRequest req = CRM__CONTACTS__ADD_IMPORT_PART_REQUEST__INIT;
        req.id = (char *)id;
        req.part = ++part;
        req.data.data = buffer;
        req.data.len = n;
        ProtobufCMessage *imp = s_call_ok(client, tenant, "AddImportPart", &req.base,
                                          &crm__contacts__import__descriptor, 3);
        if (!imp) {
            rc = -1;
            break;
        }
        protobuf_c_message_free_unpacked(imp, NULL);
        if (tty) {
            fprintf(stderr, "\rsending: %zu bytes in %u parts", total, part);
            fflush(stderr);
        }
    }
    if (rc == 0 && ferror(file)) {
        fprintf(stderr, "crmctl: could not read the file: %s\n", strerror(errno));
        rc = -1;
    }
    if (tty)
        fputc('\n', stderr);
    free(buffer);
    return rc;
}

//  The summary and the first errors, on stdout. The exit status.
static int s_summary(const Crm__Contacts__Import *imp, const Crm__Contacts__Job *job) {
    printf("import %s%s: %s", imp->id, imp->dry_run ? " (dry run, nothing written)" : "",
           imp->status);
    if (imp->error[0]) {
        printf(": %s\n", imp->error);
        return 1;
    }
    if (imp->dry_run)
        printf(": %u rows: %u to create, %u to update, %u to skip, %u failed\n", imp->rows,
               imp->created, imp->updated, imp->skipped, imp->failed);
    else
        printf(": %u rows: %u created, %u updated, %u skipped, %u failed\n", imp->rows,
               imp->created, imp->updated, imp->skipped, imp->failed);
    if (job->n_errors) {
        size_t shown = job->n_errors < S_ERRORS_SHOWN ? job->n_errors : S_ERRORS_SHOWN;
        printf("errors (the first %zu of %u rows failed; GET /v1/jobs/%s has up to 1,000):\n",
               shown, job->failed, job->id);
        for (size_t i = 0; i < shown; i++)
            printf("  row %s: %s: %s\n", job->errors[i]->item, job->errors[i]->field,
                   job->errors[i]->message);
    }
    return imp->failed || strcmp(imp->status, "succeeded") != 0 ? 1 : 0;
}

int crmctl_contacts_import(crmctl_t *ctl, int argc, char **argv) {
    const char *tenant = NULL, *map = NULL, *policy = NULL, *encoding = "", *delimiter = "";
    const char *mapping_name = "";
    bool dry_run = false;
    long long part_size = S_PART_DEFAULT;
    static const struct option options[] = {{"tenant", required_argument, NULL, 't'},
                                            {"map", required_argument, NULL, 'm'},
                                            {"mapping", required_argument, NULL, 'n'},
                                            {"dry-run", no_argument, NULL, 'd'},
                                            {"policy", required_argument, NULL, 'p'},
                                            {"encoding", required_argument, NULL, 'e'},
                                            {"delimiter", required_argument, NULL, 'l'},
                                            {"part-size", required_argument, NULL, 's'},
                                            {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 't': tenant = optarg; break;
        case 'm': map = optarg; break;
        case 'n': mapping_name = optarg; break;
        case 'd': dry_run = true; break;
        case 'p': policy = optarg; break;
        case 'e': encoding = optarg; break;
        case 'l': delimiter = optarg; break;
        case 's':
            if (crmctl_parse_number(optarg, 1024, 1 << 20, &part_size)) {
                fprintf(stderr, "crmctl: --part-size must be 1024 to 1048576 bytes\n");
                return 2;
            }
            break;
        default: return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "crmctl: contacts import takes one FILE\n");
        return 2;
    }
    if (!tenant || !*tenant) {
        fprintf(stderr, "crmctl: --tenant is required: the tenant the contacts are for\n");
        return 2;
    }
    int policy_value = CRM__CONTACTS__DUPLICATE_POLICY__DUPLICATE_POLICY_UNSPECIFIED;
    if (policy && (crm_enum_parse(&crm__contacts__duplicate_policy__descriptor, policy,
                                  &policy_value) ||
                   policy_value == 0)) {
        fprintf(stderr, "crmctl: --policy must be skip, update or create\n");
        return 2;
    }
    const char *path = argv[optind];
    FILE *file = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!file) {
        fprintf(stderr, "crmctl: could not open %s: %s\n", path, strerror(errno));
        return 1;
    }
    Crm__Contacts__CreateImportRequest req = CRM__CONTACTS__CREATE_IMPORT_REQUEST__INIT;
    req.dry_run = dry_run;
    req.policy = policy_value;
    req.encoding = (char *)encoding;
    req.delimiter = (char *)delimiter;
    req.mapping_name = (char *)mapping_name;
    if (map && s_parse_map(map, &req)) {
        s_free_map(&req);
        if (file != stdin)
            fclose(file);
        return 2;
    }
    bool tty = isatty(2);
    int rc = 1;
    const char *broker = crm_config_broker(ctl->cfg);
    crm_bus_client_t *client = crm_bus_client_new(broker);
    Crm__Contacts__Import *imp = NULL;
    Crm__Contacts__Job *job = NULL;
    if (!client)
        fprintf(stderr, "crmctl: could not connect to the broker at \"%s\"\n", broker);
    else if (crmctl_service_live(client, broker, "contacts", 5000) != 1)
        fprintf(stderr, "crmctl: no contacts service answers at %s\nhint: is the suite running?\n",
                broker);
    else
        imp = (Crm__Contacts__Import *)s_call_ok(client, tenant, "CreateImport", &req.base,
                                                 &crm__contacts__import__descriptor, 0);
    s_free_map(&req);
    if (imp && s_send_parts(client, tenant, imp->id, file, (size_t)part_size, tty) == 0) {
        Crm__Contacts__StartImportRequest start = CRM__CONTACTS__START_IMPORT_REQUEST__INIT;
        start.id = imp->id;
        job = (Crm__Contacts__Job *)s_call_ok(client, tenant, "StartImport", &start.base,
                                              &crm__contacts__job__descriptor, 0);
    }
    //  Follow the job to its end.
    int64_t last_line = 0;
    while (job && !zsys_interrupted && strcmp(job->status, "succeeded") != 0 &&
           strcmp(job->status, "failed") != 0) {
        s_progress(job, tty, &last_line);
        zclock_sleep(S_POLL_MS);
        Crm__Contacts__GetJobRequest get = CRM__CONTACTS__GET_JOB_REQUEST__INIT;
        get.id = job->id;
        Crm__Contacts__Job *next = (Crm__Contacts__Job *)s_call_ok(
            client, tenant, "GetJob", &get.base, &crm__contacts__job__descriptor, 3);
        if (!next)
            break;
        crm__contacts__job__free_unpacked(job, NULL);
        job = next;
    }
    if (job && (strcmp(job->status, "succeeded") == 0 || strcmp(job->status, "failed") == 0)) {
        s_progress(job, tty, &last_line);
        if (tty)
            fputc('\n', stderr);
        Crm__Contacts__GetImportRequest get = CRM__CONTACTS__GET_IMPORT_REQUEST__INIT;
        get.id = imp->id;
        Crm__Contacts__Import *final = (Crm__Contacts__Import *)s_call_ok(
            client, tenant, "GetImport", &get.base, &crm__contacts__import__descriptor, 3);
        if (final) {
            rc = s_summary(final, job);
            crm__contacts__import__free_unpacked(final, NULL);
        }
    }
    if (job)
        crm__contacts__job__free_unpacked(job, NULL);
    if (imp)
        crm__contacts__import__free_unpacked(imp, NULL);
    crm_bus_client_destroy(&client);
    if (file != stdin)
        fclose(file);
    return rc;
}

int crmctl_contacts_import_template(crmctl_t *ctl, int argc, char **argv) {
    const char *tenant = NULL, *output = NULL;
    static const struct option options[] = {{"tenant", required_argument, NULL, 't'},
                                            {"output", required_argument, NULL, 'o'},
                                            {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
        switch (c) {
        case 't': tenant = optarg; break;
        case 'o': output = optarg; break;
        default: return 2;
        }
    }
    if (!tenant || optind != argc)
        return 2;
    const char *broker = crm_config_broker(ctl->cfg);
    crm_bus_client_t *client = crm_bus_client_new(broker);
    if (!client) {
        fprintf(stderr, "crmctl: could not connect to the broker at \"%s\"\n", broker);
        return 1;
    }
    Crm__Contacts__ImportTemplateRequest req = CRM__CONTACTS__IMPORT_TEMPLATE_REQUEST__INIT;
    Crm__Contacts__ImportTemplate *t = (Crm__Contacts__ImportTemplate *)s_call_ok(
        client, tenant, "GetImportTemplate", &req.base, &crm__contacts__import_template__descriptor,
        1);
    crm_bus_client_destroy(&client);
    if (!t)
        return 1;
    FILE *out = output ? fopen(output, "wb") : stdout;
    int rc = 0;
    if (!out || fputs(t->content, out) < 0) {
        fprintf(stderr, "crmctl: could not write %s: %s\n", output ? output : "stdout",
                strerror(errno));
        rc = 1;
    }
    if (out && out != stdout && fclose(out))
        rc = 1;
    crm__contacts__import_template__free_unpacked(t, NULL);
    return rc;
}
