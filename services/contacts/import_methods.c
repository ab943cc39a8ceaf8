/*  import_methods: the CSV import's methods (methods.c's "CSV import" rows). Each reads
    top to bottom: decode, check (import.c), store (import_store.c), answer. The file
    itself is imported by the job runner (contacts_import_step, import_parts.c).
*/
#include "import.h"
#include "json_pb.h"
#include "page.h"

#include <limits.h>
#include <string.h>

#define ERRORS_DEFAULT_LIMIT 200
#define ERRORS_MAX_LIMIT 1000

static bool s_check_import_id(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return true;
    crm_call_error(call, "not_found", "no such import");
    return false;
}

//  CreateImport: an import waiting for its parts (201).
int contacts_import_create(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    const Crm__Contacts__CreateImportRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    contacts_import_create_check(req, &errors);
    if (req->mapping_name[0]) {
        json_t *saved = NULL;
        if (contacts_import_store_saved_mapping(call->db, call->header->tenant_id,
                                                req->mapping_name, &saved)) {
            crm_errors_reset(&errors);
            return crm_call_db_failure(call);
        }
        if (!saved)
            crm_errors_add(&errors, "mappingName", "is not a saved mapping of this tenant");
        json_decref(saved);
    }
    if (errors.n)
        return crm_call_fail(call, &errors);
    char id[CRM_UUID_LEN + 1], now[40];
    crm_uuid_v7(id);
    crm_time_now(now, sizeof now);
    char *options = crm_pb_to_json(request);
    int code = contacts_import_store_insert(call, id, options, now);
    free(options);
    if (code)
        return code;
    code = contacts_import_store_read(call, id, (Crm__Contacts__Import **)response);
    return code == 200 ? 201 : code;
}

//  AddImportPart: the next part of the file (parts come in order; a retried part is
//  not added twice).
int contacts_import_add_part(crm_call_t *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response) {
    const Crm__Contacts__AddImportPartRequest *req = (const void *)request;
    if (!s_check_import_id(call, req->id))
        return 404;
    crm_errors_t errors = {0};
    contacts_import_part_check(req, &errors);
    if (errors.n)
        return crm_call_fail(call, &errors);
    contacts_import_state_t state;
    int code = contacts_import_store_lock(call, req->id, &state);
    if (code != 200)
        return code;
    if (!state.receiving) {
        crm_call_error(call, "conflict", "the import has started: it takes no more parts");
        return 409;
    }
    if ((long)req->part > state.parts + 1) {
        crm_call_field_error(call, "part", "must be %ld: parts are added in order",
                             state.parts + 1);
        crm_call_error(call, "conflict", "part %ld is expected next", state.parts + 1);
        return 409;
    }
    if (state.bytes + (long long)req->data.len > IMPORT_FILE_MAX) {
        crm_call_field_error(call, "data", "the file would exceed %lld bytes", IMPORT_FILE_MAX);
        return 422;
    }
    if ((long)req->part == state.parts + 1) {
        code = contacts_import_store_part_add(call, req->id, req->part, req->data.data,
                                              req->data.len);
        if (code)
            return code;
    }
    return contacts_import_store_read(call, req->id, (Crm__Contacts__Import **)response);
}

//  StartImport: the import queued as a job (202 with the job).
int contacts_import_start(crm_call_t *call, const ProtobufCMessage *request,
                          ProtobufCMessage **response) {
    const Crm__Contacts__StartImportRequest *req = (const void *)request;
    if (!s_check_import_id(call, req->id))
        return 404;
    contacts_import_state_t state;
    int code = contacts_import_store_lock(call, req->id, &state);
    if (code != 200)
        return code;
    if (!state.receiving) {
        crm_call_error(call, "conflict", "the import has already started");
        return 409;
    }
    if (state.parts == 0) {
        crm_call_field_error(call, "parts", "the import has no data: send its parts first");
        return 422;
    }
    char job[CRM_UUID_LEN + 1], now[40];
    crm_uuid_v7(job);
    crm_time_now(now, sizeof now);
    json_t *what = json_pack("{s:s, s:s}", "action", state.dry_run ? "import_dry_run" : "import",
                             "importId", req->id);
    char *what_text = json_dumps(what, JSON_COMPACT);
    json_decref(what);
    code = contacts_import_store_queue(call, req->id, job, what_text, now);
    free(what_text);
    if (code)
        return code;
    code = contacts_job_read(call, call->db, call->header->tenant_id, job,
                             (Crm__Contacts__Job **)response);
    return code == 200 ? 202 : code;
}

//  GetImport: the import, its counts and its first rows' outcomes.
int contacts_import_get(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Contacts__GetImportRequest *req = (const void *)request;
    if (!s_check_import_id(call, req->id))
        return 404;
    return contacts_import_store_read(call, req->id, (Crm__Contacts__Import **)response);
}

//  ListImportErrors: every row the import refused, a page at a time.
int contacts_import_errors(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    const Crm__Contacts__ListImportErrorsRequest *req = (const void *)request;
    if (!s_check_import_id(call, req->id))
        return 404;
    int limit = crm_page_limit(call, "limit", req->limit, ERRORS_DEFAULT_LIMIT, ERRORS_MAX_LIMIT);
    long long after = 0;
    if (req->cursor[0] && crm_cursor_number(req->cursor, 1, LONG_MAX, &after))
        crm_call_field_error(call, "cursor", "is not a cursor returned by this list");
    if (call->errors.n)
        return 422;
    //  The import must be the tenant's (404 otherwise), whatever its errors.
    Crm__Contacts__Import *imp = NULL;
    int code = contacts_import_store_read(call, req->id, &imp);
    if (code != 200)
        return code;
    crm__contacts__import__free_unpacked(imp, NULL);
    return contacts_import_store_errors_page(
        call, req->id, after, limit, (Crm__Contacts__ListImportErrorsResponse **)response);
}

//  GetImportTemplate: a CSV file with the template's columns and the tenant's custom
//  fields, and an example row.
int contacts_import_template(crm_call_t *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response) {
    (void)request;
    char **keys = NULL;
    size_t n = 0;
    if (contacts_import_store_custom_keys(call->db, call->header->tenant_id, &keys, &n))
        return crm_call_db_failure(call);
    Crm__Contacts__ImportTemplate *t = contacts_import_template_new((const char *const *)keys, n);
    contacts_import_keys_free(&keys, n);
    *response = &t->base;
    return 200;
}

//  PutImportMapping: a named mapping (header -> field) saved for later imports.
int contacts_import_mapping_put(crm_call_t *call, const ProtobufCMessage *request,
                                ProtobufCMessage **response) {
    const Crm__Contacts__PutImportMappingRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    contacts_import_mapping_put_check(req, &errors);
    if (errors.n)
        return crm_call_fail(call, &errors);
    json_t *columns = json_object();
    for (size_t i = 0; i < req->mapping->n_columns; i++)
        json_object_set_new(columns, req->mapping->columns[i]->key,
                            json_string(req->mapping->columns[i]->value));
    char *text = json_dumps(columns, JSON_COMPACT);
    json_decref(columns);
    int code = contacts_import_store_mapping_put(call, req->name, text, response);
    free(text);
    return code;
}

//  GetImportMapping: one saved mapping, by name.
int contacts_import_mapping_get(crm_call_t *call, const ProtobufCMessage *request,
                                ProtobufCMessage **response) {
    const Crm__Contacts__GetImportMappingRequest *req = (const void *)request;
    return contacts_import_store_mapping_get(call, req->name, response);
}

//  ListImportMappings: the tenant's saved mappings, by name.
int contacts_import_mapping_list(crm_call_t *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **response) {
    (void)request;
    return contacts_import_store_mapping_list(call, response);
}
