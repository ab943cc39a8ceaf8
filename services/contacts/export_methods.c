/*  export_methods: the exports' methods (methods.c's "CSV and XLSX export" rows). Each
    reads top to bottom: decode, check (export.c; the filter by the list's own check),
    store (export_store.c), answer. The file is written by the export runner
    (export_writer.c).
*/
#include "export.h"
#include "json_pb.h"

#include <string.h>

//  CreateExport: the export queued (201); the runner selects and writes.
int contacts_export_create(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    Crm__Contacts__CreateExportRequest *req =
        (Crm__Contacts__CreateExportRequest *)crm_pb_copy(request);
    const char *tenant = call->header->tenant_id;
    crm_errors_t errors = {0};
    int code = 0;
    if (contacts_export_create_check(req, &errors) == 0) {
        contacts_export_column_t *columns = calloc(req->n_fields + 1, sizeof *columns);
        contacts_export_columns(req->fields, req->n_fields, columns, &errors);
        if (contacts_export_store_custom_types(call->db, tenant, columns, req->n_fields,
                                               &errors))
            code = crm_call_db_failure(call);
        free(columns);
    }
    if (!req->filter) {
        req->filter = malloc(sizeof *req->filter);
        crm__contacts__list_contacts_request__init(req->filter);
    }
    long offset;
    if (code == 0) {
        crm_call_fail(call, &errors);
        contacts_list_check(call, req->filter, "filter.", &offset);
        code = call->errors.n ? 422 : 0;
    }
    crm_errors_reset(&errors);
    char id[CRM_UUID_LEN + 1], now[40], file_name[96];
    crm_uuid_v7(id);
    crm_time_now(now, sizeof now);
    if (code == 0) {
        contacts_export_file_name(req, now, file_name, sizeof file_name);
        json_t *what = crm_pb_to_json_value(&req->base);
        char *what_text = json_dumps(what, JSON_COMPACT);
        json_decref(what);
        code = contacts_export_store_insert(call, id, what_text, now,
                                            contacts_export_format_name(req), file_name);
        free(what_text);
    }
    crm__contacts__create_export_request__free_unpacked(req, NULL);
    if (code)
        return code;
    code = contacts_export_store_read(call, id, (Crm__Contacts__Export **)response);
    return code == 200 ? 201 : code;
}

//  GetExport: the export and how far it got.
int contacts_export_get(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Contacts__GetExportRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such export");
        return 404;
    }
    return contacts_export_store_read(call, req->id, (Crm__Contacts__Export **)response);
}

//  The reply to a part not there: 404 or 410, the error saying why.
static int s_part_missing(crm_call_t *call, const contacts_export_part_t *part, unsigned n) {
    if (!part->found) {
        crm_call_error(call, "not_found", "no such export");
        return 404;
    }
    if (part->expired) {
        crm_call_error(call, "expired",
                       "the export expired at %s and its file is deleted: export again",
                       part->expires_at);
        return 410;
    }
    int parts = part->parts;
    if (strcmp(part->status, "succeeded") == 0 || strcmp(part->status, "failed") == 0)
        crm_call_error(call, "not_found", "no part %u: the export has %d part%s, 1 to %d", n,
                       parts, parts == 1 ? "" : "s", parts);
    else
        crm_call_error(call, "not_found",
                       "no part %u yet: the export is %s, with %d part%s stored so far", n,
                       part->status, parts, parts == 1 ? "" : "s");
    return 404;
}

//  GetExportPart: part n of the file (the file is its parts joined in order).
int contacts_export_part(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__Contacts__GetExportPartRequest *req = (const void *)request;
    if (!crm_uuid_valid(req->id)) {
        crm_call_error(call, "not_found", "no such export");
        return 404;
    }
    contacts_export_part_t stored;
    int code = contacts_export_store_part(call, req->id, req->n > INT32_MAX ? 0 : req->n, &stored);
    if (code)
        return code;
    if (!stored.found || stored.expired || !stored.stored) {
        free(stored.file_name);
        return s_part_missing(call, &stored, req->n);
    }
    Crm__Contacts__ExportPart *part = malloc(sizeof *part);
    crm__contacts__export_part__init(part);
    part->data.data = malloc(stored.size ? stored.size : 1);
    memcpy(part->data.data, stored.data, stored.size);
    part->data.len = stored.size;
    PQfreemem(stored.data);
    part->id = strdup(req->id);
    part->n = req->n;
    part->parts = (uint32_t)stored.parts;
    part->offset = stored.offset;
    bool whole = part->parts == 1 && strcmp(stored.status, "succeeded") == 0;
    part->content_type = strdup(!whole        ? "application/octet-stream"
                                : stored.csv ? EXPORT_CONTENT_TYPE_CSV
                                             : EXPORT_CONTENT_TYPE_XLSX);
    part->file_name = stored.file_name;
    *response = &part->base;
    return 200;
}
