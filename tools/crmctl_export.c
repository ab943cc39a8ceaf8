/*  crmctl contacts export: one tenant's contacts to a CSV or XLSX file.

    It asks the contacts service (through the broker, as tenant --tenant, role admin)
    for an export ("CreateExport"), asks "GetExport" every S_POLL_MS until the export
    job has succeeded, printing its progress on stderr, then fetches the parts
    ("GetExportPart", 1 to parts) in order into FILE.part and renames it to FILE once
    every byte is in (so FILE is never half written). -o - writes to stdout instead.

    --filter takes the contact list's filters as JSON ('{"type":"customer"}') or as a
    query string ("type=customer&tag=vip"), the names being those of GET /v1/contacts.

    Exit status: 0 done; 1 the export was refused or failed (the service's reason and
    field errors printed) or the file could not be written; 2 a bad command line.
*/
#include "crmctl.h"
#include "contacts.pb-c.h"
#include "json_pb.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define S_DEFAULT_TIMEOUT_S 3600
#define S_CALL_TIMEOUT_MS 30000  // one call (CreateExport selects the contacts)
#define S_POLL_MS 200
#define S_MMI_TIMEOUT_MS 5000

//  Print a refusal with its field errors.
static void s_refused(const char *method, const Crm__ReplyHeader *header) {
    fprintf(stderr, "crmctl: contacts refused %s: %u %s%s%s\n", method, header->code,
            header->error, *header->message ? ": " : "", header->message);
    for (size_t i = 0; i < header->n_fields; i++)
        fprintf(stderr, "  %s: %s\n", header->fields[i]->field, header->fields[i]->message);
}

//  Call method for tenant; the response on 2xx, else NULL (the reason printed).
static ProtobufCMessage *s_call(crm_bus_client_t *client, const char *tenant, const char *method,
                                const ProtobufCMessage *request,
                                const ProtobufCMessageDescriptor *response_desc) {
    ProtobufCMessage *response = NULL;
    Crm__ReplyHeader *header = crmctl_call_tenant(client, "contacts", method, tenant, "admin",
                                                  request, response_desc, S_CALL_TIMEOUT_MS,
                                                  &response);
    if (header && (header->code < 200 || header->code >= 300)) {
        s_refused(method, header);
        if (response)
            protobuf_c_message_free_unpacked(response, NULL);
        response = NULL;
    }
    if (header)
        crm__reply_header__free_unpacked(header, NULL);
    return response;
}

//  The --filter text as a list request: JSON, or name=value pairs joined by &. NULL on
//  error (printed).
static Crm__Contacts__ListContactsRequest *s_filter(const char *text) {
    crm_json_error_t err = {0};
    ProtobufCMessage *filter = NULL;
    if (text[strspn(text, " \t")] == '{')
        filter = crm_json_to_pb(&crm__contacts__list_contacts_request__descriptor, text,
                                strlen(text), &err);
    else {
        filter = malloc(sizeof(Crm__Contacts__ListContactsRequest));
        crm__contacts__list_contacts_request__init((Crm__Contacts__ListContactsRequest *)filter);
        char *copy = strdup(text), *save = NULL;
        for (char *pair = strtok_r(copy, "&", &save); pair && filter;
             pair = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(pair, '=');
            if (!eq) {
                snprintf(err.field, sizeof err.field, "%s", pair);
                snprintf(err.message, sizeof err.message, "expected name=value");
            } else {
                *eq = 0;
                json_t *value = json_string(eq + 1);
                if (value && crm_json_set_field(filter, pair, value, 1, &err) == 0) {
                    json_decref(value);
                    continue;
                }
                json_decref(value);
                if (!err.field[0])
                    snprintf(err.field, sizeof err.field, "%s", pair);
            }
            protobuf_c_message_free_unpacked(filter, NULL);
            filter = NULL;
        }
        free(copy);
    }
    if (!filter)
        fprintf(stderr, "crmctl: --filter: %s%s%s\n", err.field, err.field[0] ? ": " : "",
                err.message[0] ? err.message : "cannot be read");
    return (Crm__Contacts__ListContactsRequest *)filter;
}

//  Wait until export id has succeeded (its final state in *out) or failed, or until
//  deadline (zclock_mono). 0 or -1 (printed).
static int s_wait(crm_bus_client_t *client, const char *tenant, const char *id, int64_t deadline,
                  Crm__Contacts__Export **out) {
    Crm__Contacts__GetExportRequest get = CRM__CONTACTS__GET_EXPORT_REQUEST__INIT;
    get.id = (char *)id;
    char last[256] = "";
    while (!zsys_interrupted) {
        Crm__Contacts__Export *export = (Crm__Contacts__Export *)s_call(
            client, tenant, "GetExport", &get.base, &crm__contacts__export__descriptor);
        if (!export)
            return -1;
        char line[256];
        snprintf(line, sizeof line, "crmctl: export %s %s: %u of %u contacts, %u rows, %u parts\n",
                 id, export->status, export->processed, export->total, export->rows,
                 export->parts);
        if (strcmp(line, last) != 0) {
            fputs(line, stderr);
            snprintf(last, sizeof last, "%s", line);
        }
        if (strcmp(export->status, "succeeded") == 0) {
            *out = export;
            return 0;
        }
        bool over = strcmp(export->status, "queued") && strcmp(export->status, "running");
        if (over)
            fprintf(stderr, "crmctl: export %s %s%s%s\n", id, export->status,
                    *export->error ? ": " : "", export->error);
        crm__contacts__export__free_unpacked(export, NULL);
        if (over)
            return -1;
        if (zclock_mono() > deadline) {
            fprintf(stderr, "crmctl: export %s not done within --timeout; it goes on: "
                    "see GET /v1/exports/%s\n", id, id);
            return -1;
        }
        zclock_sleep(S_POLL_MS);
    }
    return -1;
}

//  Fetch every part of export into out. 0 or -1 (printed).
static int s_fetch(crm_bus_client_t *client, const char *tenant,
                   const Crm__Contacts__Export *export, FILE *out) {
    uint64_t written = 0;
    for (uint32_t n = 1; n <= export->parts; n++) {
        Crm__Contacts__GetExportPartRequest get = CRM__CONTACTS__GET_EXPORT_PART_REQUEST__INIT;
        get.id = export->id;
        get.n = n;
        Crm__Contacts__ExportPart *part = (Crm__Contacts__ExportPart *)s_call(
            client, tenant, "GetExportPart", &get.base, &crm__contacts__export_part__descriptor);
        if (!part)
            return -1;
        bool ok = part->offset == written &&
                  fwrite(part->data.data, 1, part->data.len, out) == part->data.len;
        if (part->offset != written)
            fprintf(stderr, "crmctl: part %u starts at byte %" PRIu64 ", expected %" PRIu64 "\n",
                    n, part->offset, written);
        else if (!ok)
            fprintf(stderr, "crmctl: could not write part %u: %s\n", n, strerror(errno));
        written += part->data.len;
        crm__contacts__export_part__free_unpacked(part, NULL);
        if (!ok)
            return -1;
    }
    if (written != export->bytes) {
        fprintf(stderr, "crmctl: got %" PRIu64 " bytes, the export has %" PRIu64 "\n", written,
                export->bytes);
        return -1;
    }
    return 0;
}

int crmctl_contacts_export(crmctl_t *ctl, int argc, char **argv) {
    const char *tenant = NULL, *format = NULL, *fields = NULL, *filter_text = NULL,
               *output = NULL;
    bool marketing = false;
    long long timeout_s = S_DEFAULT_TIMEOUT_S;
    static const struct option options[] = {{"tenant", required_argument, NULL, 't'},
                                            {"format", required_argument, NULL, 'f'},
                                            {"fields", required_argument, NULL, 'F'},
                                            {"filter", required_argument, NULL, 'q'},
                                            {"marketing", no_argument, NULL, 'm'},
                                            {"timeout", required_argument, NULL, 'T'},
                                            {"output", required_argument, NULL, 'o'},
                                            {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
        switch (c) {
        case 't': tenant = optarg; break;
        case 'f': format = optarg; break;
        case 'F': fields = optarg; break;
        case 'q': filter_text = optarg; break;
        case 'm': marketing = true; break;
        case 'o': output = optarg; break;
        case 'T':
            if (crmctl_parse_number(optarg, 1, 86400 * 7, &timeout_s)) {
                fprintf(stderr, "crmctl: --timeout takes seconds, 1 to 604800\n");
                return 2;
            }
            break;
        default: return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "crmctl: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (!tenant || !*tenant) {
        fprintf(stderr, "crmctl: --tenant is required: whose contacts to export\n");
        return 2;
    }
    if (!format) {
        fprintf(stderr, "crmctl: --format is required: csv or xlsx\n");
        return 2;
    }
    if (!output || !*output) {
        fprintf(stderr, "crmctl: -o FILE is required (- for stdout)\n");
        return 2;
    }
    Crm__Contacts__CreateExportRequest req = CRM__CONTACTS__CREATE_EXPORT_REQUEST__INIT;
    int value;
    if (crm_enum_parse(&crm__contacts__export_format__descriptor, format, &value) || value == 0) {
        fprintf(stderr, "crmctl: --format must be csv or xlsx, not \"%s\"\n", format);
        return 2;
    }
    req.format = value;
    req.marketing = marketing;
    char *fields_copy = fields ? strdup(fields) : NULL, *save = NULL;
    char *names[256];
    for (char *name = fields_copy ? strtok_r(fields_copy, ",", &save) : NULL;
         name && req.n_fields < 256; name = strtok_r(NULL, ",", &save))
        names[req.n_fields++] = name + strspn(name, " ");
    req.fields = names;
    int rc = 1;
    crm_bus_client_t *client = NULL;
    FILE *out = NULL;
    char part_path[1024] = "";
    Crm__Contacts__Export *created = NULL, *done = NULL;
    if (filter_text && !(req.filter = s_filter(filter_text))) {
        rc = 2;
        goto cleanup;
    }
    const char *broker = crm_config_broker(ctl->cfg);
    client = crm_bus_client_new(broker);
    if (!client) {
        fprintf(stderr, "crmctl: could not connect to the broker at \"%s\"\n", broker);
        goto cleanup;
    }
    int live = crmctl_service_live(client, broker, "contacts", S_MMI_TIMEOUT_MS);
    if (live == 0)
        fprintf(stderr,
                "crmctl: no contacts service is registered with the broker at %s\n"
                "hint: is crm-contacts running? (supervisor.services lists the daemons)\n",
                broker);
    if (live != 1)
        goto cleanup;
    int64_t deadline = zclock_mono() + timeout_s * 1000;
    created = (Crm__Contacts__Export *)s_call(client, tenant, "CreateExport", &req.base,
                                              &crm__contacts__export__descriptor);
    if (!created)
        goto cleanup;
    fprintf(stderr, "crmctl: export %s queued, file %s\n", created->id, created->file_name);
    if (s_wait(client, tenant, created->id, deadline, &done))
        goto cleanup;
    if (strcmp(output, "-") == 0)
        out = stdout;
    else {
        snprintf(part_path, sizeof part_path, "%s.part", output);
        out = fopen(part_path, "wb");
        if (!out) {
            fprintf(stderr, "crmctl: could not open %s: %s\n", part_path, strerror(errno));
            part_path[0] = 0;
            goto cleanup;
        }
    }
    if (s_fetch(client, tenant, done, out))
        goto cleanup;
    if (out != stdout) {
        int closed = fclose(out);
        out = NULL;
        if (closed || rename(part_path, output)) {
            fprintf(stderr, "crmctl: could not write %s: %s\n", output, strerror(errno));
            goto cleanup;
        }
        part_path[0] = 0;
    } else
        fflush(stdout);
    fprintf(stderr, "crmctl: wrote %" PRIu64 " bytes, %u rows, to %s\n", done->bytes,
            done->rows, output);
    rc = 0;
cleanup:
    if (out && out != stdout)
        fclose(out);
    if (part_path[0])
        remove(part_path);
    if (created)
        crm__contacts__export__free_unpacked(created, NULL);
    if (done)
        crm__contacts__export__free_unpacked(done, NULL);
    if (req.filter)
        crm__contacts__list_contacts_request__free_unpacked(req.filter, NULL);
    free(fields_copy);
    crm_bus_client_destroy(&client);
    return rc;
}
