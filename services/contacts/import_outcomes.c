/*  import_outcomes: what a chunk's rows came to, recorded with the chunk. Each row has
    an outcome (create, update, skip, error: the first IMPORT_OUTCOMES_MAX rows' are
    kept for GetImport, every error row's for ListImportErrors); the job keeps the first
    IMPORT_ERRORS_MAX errors (IMPORT_ROW_ERRORS_MAX of a row) and the counts. A file
    refused (a file-level error) records that and nothing else.
*/
#include "import.h"
#include "log.h"

#include <string.h>

int contacts_import_outcomes_add(crm_db_t *db, const char *import_id,
                                 contacts_import_row_t **rows, size_t n) {
    contacts_import_array_t cols[6] = {{0}};
    char (*row_numbers)[24] = calloc(n + 1, sizeof *row_numbers);
    for (size_t i = 0; i < n; i++) {
        const contacts_import_row_t *row = rows[i];
        bool error = strcmp(row->action, "error") == 0;
        //  The first rows' outcomes, and every row's error: the full error report.
        if (row->row - 1 > IMPORT_OUTCOMES_MAX && !error)
            continue;
        snprintf(row_numbers[i], sizeof row_numbers[i], "%zu", row->row);
        contacts_import_array_push(&cols[0], row_numbers[i]);
        contacts_import_array_push(&cols[1], row->action);
        contacts_import_array_push(&cols[2], error ? "" : row->contact_id);
        contacts_import_array_push(&cols[3], row->matched_on);
        contacts_import_array_push(&cols[4], row->n_errors ? row->errors[0].field : "");
        contacts_import_array_push(&cols[5], row->n_errors ? row->errors[0].message : row->note);
    }
    int rc = 0;
    if (cols[0].n) {
        char *literals[6];
        for (int k = 0; k < 6; k++)
            literals[k] = crm_db_text_array(cols[k].items, cols[k].n);
        rc = contacts_import_store_outcomes_add(db, import_id, literals);
        for (int k = 0; k < 6; k++)
            free(literals[k]);
    }
    for (int k = 0; k < 6; k++)
        free(cols[k].items);
    free(row_numbers);
    return rc;
}

int contacts_import_progress(crm_db_t *db, const char *tenant, const char *job_id,
                             contacts_import_row_t **rows, size_t n, bool finished) {
    //  rows, created, updated, skipped, failed
    long counts[5] = {(long)n, 0, 0, 0, 0};
    json_t *errors = json_array();
    for (size_t i = 0; i < n; i++) {
        const contacts_import_row_t *row = rows[i];
        const char *action = row->action;
        counts[strcmp(action, "create") == 0   ? 1
               : strcmp(action, "update") == 0 ? 2
               : strcmp(action, "skip") == 0   ? 3
                                               : 4]++;
        char number[24];
        snprintf(number, sizeof number, "%zu", row->row);
        for (size_t e = 0; e < row->n_errors && e < IMPORT_ROW_ERRORS_MAX; e++)
            json_array_append_new(errors, json_pack("{s:s, s:s, s:s}", "item", number, "field",
                                                    row->errors[e].field, "message",
                                                    row->errors[e].message));
    }
    char *errors_text = json_dumps(errors, JSON_COMPACT);
    json_decref(errors);
    int rc = contacts_import_store_progress(db, tenant, job_id, counts, errors_text, finished);
    free(errors_text);
    return rc;
}

int contacts_import_fail(crm_db_t *db, const char *tenant, const char *job_id,
                         const char *error, size_t row) {
    char item[24] = "";
    if (row)
        snprintf(item, sizeof item, "%zu", row);
    json_t *errors = json_pack("[{s:s, s:s, s:s}]", "item", item, "field", "file", "message", error);
    char *text = json_dumps(errors, JSON_COMPACT);
    json_decref(errors);
    int rc = contacts_import_store_failed(db, tenant, job_id, error, text);
    free(text);
    crm_log_kv(CRM_LOG_INFO, "import refused", "job", job_id, "detail", error, NULL);
    return rc;
}
