/*  import_scan: the import job's first step. The whole file goes through the CSV reader
    once (the parts fetched one at a time) before any row is written: every file-level
    error (broken quoting, mixed encodings, too many columns, an empty or header-only
    file, a header that maps to no field, a custom field the tenant does not have) fails
    the import here. It counts the rows (the job's total) and records the mapping and
    the encoding found; the chunks then read the file again from the start.
*/
#include "import.h"

#include <string.h>

//  The custom fields the columns name must be the tenant's: 0 (error set when one is
//  not), or -1 when the database failed.
static int s_custom_fields_check(const contacts_import_mapping_t *m, crm_db_t *db,
                                 const char *tenant, char *error, size_t size) {
    char **keys = NULL;
    size_t n = 0;
    if (contacts_import_store_custom_keys(db, tenant, &keys, &n))
        return -1;
    for (size_t i = 0; i < m->count && !error[0]; i++) {
        const contacts_import_column_t *col = &m->columns[i];
        if (!col->key)
            continue;
        bool known = false;
        for (size_t k = 0; k < n && !known; k++)
            known = strcmp(keys[k], col->key) == 0;
        if (!known)
            snprintf(error, size,
                     "column %zu (\"%s\") maps to customFields.%s, which is not a custom field of "
                     "this tenant (see GET /v1/contact-fields)",
                     i + 1, col->header, col->key);
    }
    contacts_import_keys_free(&keys, n);
    return 0;
}

//  Count the data rows to the end of the file: 0 (error and *error_row set when the
//  file does not read, or has no row), or -1 when the database failed.
static int s_count_rows(contacts_importer_t *self, long *rows, char *error, size_t size,
                        size_t *error_row) {
    *rows = 0;
    crm_csv_record_t rec;
    int rc;
    while ((rc = crm_csv_next(self->csv, &rec)) == 1)
        (*rows)++;
    if (rc < 0) {
        if (self->parts.failed)
            return -1;
        snprintf(error, size, "%s", crm_csv_error(self->csv));
        *error_row = crm_csv_error_row(self->csv);
    } else if (*rows == 0)
        snprintf(error, size, "the file has a header row but no contacts");
    return 0;
}

//  The scan done: the rows, the mapping and the encoding found recorded.
static int s_scanned(contacts_importer_t *self, crm_db_t *db, const char *tenant,
                     const char *job_id, long rows) {
    json_t *mapping = contacts_import_mapping_json(&self->mapping);
    char *mapping_text = json_dumps(mapping, JSON_COMPACT);
    json_decref(mapping);
    crm_csv_encoding_t enc = crm_csv_encoding(self->csv);
    const char *enc_name = enc == CRM_CSV_ENCODING_AUTO ? "ASCII" : crm_csv_encoding_name(enc);
    int rc = contacts_import_store_scanned(db, tenant, job_id, rows, mapping_text, enc_name);
    free(mapping_text);
    return rc;
}

int contacts_import_scan(contacts_importer_t *self, crm_db_t *db, const char *tenant,
                         const char *job_id, const contacts_import_job_t *imp) {
    char error[1024] = "";
    size_t error_row = 0;
    int rc = contacts_import_open(self, db, tenant, imp, error, sizeof error, &error_row);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        error_row = 1;
        rc = s_custom_fields_check(&self->mapping, db, tenant, error, sizeof error);
    }
    long rows = 0;
    if (rc == 0 && !error[0])
        rc = s_count_rows(self, &rows, error, sizeof error, &error_row);
    if (rc < 0)
        return -1;
    if (error[0]) {
        contacts_importer_reset(self);
        return contacts_import_fail(db, tenant, job_id, error, error_row);
    }
    rc = s_scanned(self, db, tenant, job_id, rows);
    //  The rows are read again from the start.
    contacts_importer_reset(self);
    return rc;
}
