/*  import_parts: the importer, the import job's state between steps (contacts.h): the
    file, read from the parts stored in the database one at a time through the CSV
    reader's read callback, so memory stays flat however large the file; opened with its
    header mapped; found again after a restart or a step rolled back (opened again, the
    rows done skipped). contacts_import_step, the job runner's call (jobs.c), is here
    too: the first step scans (import_scan.c), each later one does a chunk
    (import_chunk.c).
*/
#include "import.h"
#include "log.h"

#include <string.h>

contacts_importer_t *contacts_importer_new(const crm_config_t *cfg) {
    contacts_importer_t *self = calloc(1, sizeof *self);
    self->cfg = cfg;
    return self;
}

void contacts_importer_reset(contacts_importer_t *self) {
    crm_csv_close(&self->csv);
    PQfreemem(self->parts.data);
    memset(&self->parts, 0, sizeof self->parts);
    contacts_import_mapping_reset(&self->mapping);
    for (size_t i = 0; i < self->n_carry; i++)
        contacts_import_row_destroy(&self->carry[i]);
    free(self->carry);
    self->carry = NULL;
    self->n_carry = 0;
    self->job_id[0] = 0;
    self->position = 0;
}

void contacts_importer_destroy(contacts_importer_t **self_p) {
    if (!*self_p)
        return;
    contacts_importer_reset(*self_p);
    crm_bus_client_destroy(&(*self_p)->dedupe);
    free(*self_p);
    *self_p = NULL;
}

//  The read callback of the CSV reader: the parts in order, fetched one at a time.
static ssize_t s_parts_read(void *ctx, char *buffer, size_t size) {
    contacts_import_parts_t *p = ctx;
    while (p->offset == p->size) {
        if (p->next > p->parts)
            return 0;
        PQfreemem(p->data);
        p->data = NULL;
        p->size = p->offset = 0;
        if (contacts_import_store_part_get(p->db, p->import_id, p->next++, &p->data, &p->size)) {
            p->failed = true;
            return -1;
        }
    }
    size_t n = p->size - p->offset < size ? p->size - p->offset : size;
    memcpy(buffer, p->data + p->offset, n);
    p->offset += n;
    return (ssize_t)n;
}

//  The mapping asked for: the saved one named, overridden by the request's own.
static int s_explicit_mapping(crm_db_t *db, const char *tenant, json_t *options, json_t **out) {
    *out = json_object();
    const char *name = json_string_value(json_object_get(options, "mappingName"));
    if (name && name[0]) {
        json_t *saved = NULL;
        if (contacts_import_store_saved_mapping(db, tenant, name, &saved))
            return -1;
        if (saved)
            json_object_update(*out, saved);
        json_decref(saved);
    }
    json_t *given = json_object_get(options, "mapping");
    if (json_is_object(given))
        json_object_update(*out, given);
    return 0;
}

int contacts_import_open(contacts_importer_t *self, crm_db_t *db, const char *tenant,
                         const contacts_import_job_t *imp, char *error, size_t size,
                         size_t *error_row) {
    contacts_importer_reset(self);
    self->parts.db = db;
    snprintf(self->parts.import_id, sizeof self->parts.import_id, "%s", imp->id);
    self->parts.parts = imp->parts;
    self->parts.next = 1;
    crm_csv_options_t opts;
    contacts_import_csv_options(imp->options, &opts);
    self->csv = crm_csv_open(s_parts_read, &self->parts, &opts);
    crm_csv_record_t header;
    int rc = crm_csv_next(self->csv, &header);
    if (rc != 1) {
        if (self->parts.failed)
            return -1;
        *error_row = crm_csv_error_row(self->csv);
        if (crm_csv_error_code(self->csv) == CRM_CSV_EMPTY)
            snprintf(error, size, "the file is empty: it needs a header row and at least one row");
        else
            snprintf(error, size, "%s", crm_csv_error(self->csv));
        return 1;
    }
    json_t *explicit = NULL;
    if (s_explicit_mapping(db, tenant, imp->options, &explicit)) {
        json_decref(explicit);
        return -1;
    }
    *error_row = 1;
    rc = contacts_import_mapping_resolve(&self->mapping, explicit, &header, error, size);
    json_decref(explicit);
    return rc ? 1 : 0;
}

//  The file as it was left, or opened again with the rows done skipped (after a
//  restart, or a step rolled back). 0, or -1 when the database failed; a file that no
//  longer reads as it did fails the import.
static int s_resume(contacts_importer_t *self, crm_db_t *db, const char *tenant,
                    const char *job_id, const contacts_import_job_t *imp) {
    if (strcmp(self->job_id, job_id) == 0 && self->position == imp->done)
        return 0;
    char error[1024];
    size_t error_row = 0;
    int rc = contacts_import_open(self, db, tenant, imp, error, sizeof error, &error_row);
    for (long skipped = 0; rc == 0 && skipped < imp->done; skipped++) {
        crm_csv_record_t rec;
        if (crm_csv_next(self->csv, &rec) != 1)
            rc = self->parts.failed ? -1 : 1;
    }
    if (rc > 0) {
        contacts_importer_reset(self);
        return contacts_import_fail(db, tenant, job_id, "the file changed since it was read", 0);
    }
    if (rc == 0) {
        snprintf(self->job_id, sizeof self->job_id, "%s", job_id);
        self->position = imp->done;
    }
    return rc;
}

int contacts_import_step(contacts_importer_t *self, crm_db_t *db, const char *tenant_id,
                         const char *job_id, const char *actor_id, bool *finished) {
    contacts_import_job_t imp = {0};
    if (contacts_import_store_load(db, tenant_id, job_id, &imp)) {
        json_decref(imp.options);
        return -1;
    }
    int rc = 0;
    if (strcmp(imp.status, "queued") == 0)
        rc = contacts_import_scan(self, db, tenant_id, job_id, &imp);
    else if (strcmp(imp.status, "running") == 0) {
        rc = s_resume(self, db, tenant_id, job_id, &imp);
        if (rc == 0 && self->csv)
            rc = contacts_import_chunk(self, db, tenant_id, job_id, actor_id, &imp, finished);
        if (*finished)
            contacts_importer_reset(self);
    } else
        *finished = true;  //  nothing left to do (the job outlived its import)
    json_decref(imp.options);
    return rc;
}
