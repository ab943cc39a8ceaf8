/*  export_writer: the export runner, a job of the daemon's runner (common/runner.c,
    main.c's table): a thread with its own connection, beside the bulk job runner so a
    long export never holds up bulk changes.

    It claims the oldest export waiting and holds it with a session advisory lock
    (several contacts processes never write one export at once; a process that dies
    lets go of it with its connection). It first fixes the contacts as the job's items
    (job_items, as a bulk change does, with the marketing rule applied) and its total,
    in one transaction: a tenant of millions of contacts takes seconds to select, which
    must not hold up a request past its deadline. Then it writes the file:

    - CSV: one transaction per part. It reads items newest first in batches, writes
      their rows through the CSV writer (formula guard on) until the part reaches
      export_part_bytes, stores the part, deletes the items written and records the
      progress. A restart resumes after the last part stored.
    - XLSX: libxlsxwriter builds the workbook in a temporary file (constant memory
      mode), and the rows are read in batches, one transaction each with its progress;
      at the end the file is stored in parts, the items deleted and the job finished in
      one transaction. A restart starts the file again.

    Parts are deleted contacts.export_retention_hours after the export finished, by the
    runner's sweep; the export then reads "expired" and its parts answer 410.
*/
#include "export.h"
#include "csv.h"
#include "json_pb.h"
#include "log.h"
#include "validate.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#define EXPORT_BATCH 500              // contacts read per statement
#define EXPORT_XLSX_CHUNK 5000        // contacts per transaction while building a workbook
#define EXPORT_XLSX_MAX_CELL 32767    // characters in a cell
#define EXPORT_IDLE_MS 250
#define UUID_MAX "ffffffff-ffff-ffff-ffff-ffffffffffff"

//  The export being written by this runner.
typedef struct {
    char tenant[128];
    char id[CRM_UUID_LEN + 1];
    Crm__Contacts__CreateExportRequest *req;
    bool xlsx;
    contacts_export_column_t *columns;
    size_t n_columns;
    crm_stmt_t batch;  // the rows of a batch of items (built for its columns)
    const char *params[EXPORT_MAX_PARAMS];
    char cursor[CRM_UUID_LEN + 1];  // items below this one are still to write
    int parts;                      // parts stored
    long long bytes;                // their size
    //  XLSX: the workbook under construction, and what it holds so far.
    char path[512];
    lxw_workbook *workbook;
    lxw_worksheet *sheet;
    lxw_format *bold, *date, *datetime;
    long processed, rows;
} s_job_t;

typedef struct {
    const crm_config_t *cfg;
    crm_db_t *db;
    s_job_t *job;          // the export held, or NULL
    int64_t next_sweep;    // zclock_mono of the next retention sweep
} s_runner_t;

//  Let go of the export held (its workbook and temporary file too).
static void s_job_release(s_runner_t *self) {
    s_job_t *job = self->job;
    if (!job)
        return;
    if (crm_db_ok(self->db))
        contacts_export_store_unlock(self->db, job->id);
    if (job->workbook) {
        //  Closing writes the file, which then goes.
        workbook_close(job->workbook);
        unlink(job->path);
    }
    if (job->req)
        crm__contacts__create_export_request__free_unpacked(job->req, NULL);
    free(job->columns);
    free((char *)job->batch.sql);
    free(job);
    self->job = NULL;
}

//  The export failed for good: say why, and let it go.
static void s_job_fail(s_runner_t *self, const char *why) {
    s_job_t *job = self->job;
    crm_log_kv(CRM_LOG_ERROR, "export failed", "export", job->id, "tenant", job->tenant,
               "detail", why, NULL);
    contacts_export_store_fail(self->db, job->tenant, job->id, why);
    s_job_release(self);
}

//  The next batch of items after the cursor (NULL: the database failed).
static PGresult *s_batch(crm_db_t *db, s_job_t *job, int size) {
    char limit[16];
    snprintf(limit, sizeof limit, "%d", size);
    job->params[3] = limit;
    return crm_db_query(db, &job->batch, job->params);
}

// --- selecting the contacts --------------------------------------------------------------

//  Fix the contacts filter finds (and condition keeps: NULL none) as the items of job
//  job_id of tenant: 0 with *total, 422 with the filter's field errors moved into
//  errors, or a failure code. The one place the export calls the list's filter.
//  TODO(list filter): call the list's filter rules and store directly once
//  contacts_select_for_job_where takes no call; today it reads the tenant from a forged
//  request header and the database from a call.
static int s_select_for_job(crm_db_t *db, const crm_config_t *cfg, const char *tenant,
                            const char *job_id,
                            const Crm__Contacts__ListContactsRequest *filter,
                            const char *condition, long *total, crm_errors_t *errors) {
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.tenant_id = (char *)tenant;
    contacts_t contacts = {.cfg = cfg};
    crm_call_t call = {.header = &header, .db = db, .arg = &contacts};
    int code = contacts_select_for_job_where(&call, filter, job_id, condition, total);
    crm_errors_move(errors, &call.errors);
    return code;
}

//  Fix the contacts of a queued export as its items, in one transaction with its total
//  (a restart before the commit selects again). The selection is the list's filter (and
//  the marketing rule), run here rather than in the request so that a tenant of millions
//  of contacts does not hold up the request past its deadline. 0, -1 when the database
//  failed, -2 when the export cannot be (why says why).
static int s_select(s_runner_t *self, char *why, size_t size) {
    s_job_t *job = self->job;
    Crm__Contacts__ListContactsRequest empty = CRM__CONTACTS__LIST_CONTACTS_REQUEST__INIT;
    crm_errors_t errors = {0};
    long total = 0;
    int rc = crm_db_begin(self->db) ? -1 : 0;
    if (rc == 0) {
        int code = s_select_for_job(
            self->db, self->cfg, job->tenant, job->id, job->req->filter ? job->req->filter : &empty,
            job->req->marketing ? contacts_export_store_marketing_condition() : NULL, &total,
            &errors);
        if (code == 422) {
            snprintf(why, size, "the filter is not valid: %s %s",
                     errors.n ? errors.items[0]->field : "",
                     errors.n ? errors.items[0]->message : "");
            rc = -2;
        } else if (code)
            rc = -1;
    }
    crm_errors_reset(&errors);
    if (rc == 0 && job->xlsx && total > EXPORT_XLSX_MAX_ROWS) {
        snprintf(why, size,
                 "an XLSX sheet holds at most %d rows and the filter finds %ld contacts: "
                 "export to csv, or narrow the filter",
                 EXPORT_XLSX_MAX_ROWS, total);
        rc = -2;
    }
    if (rc == 0)
        rc = contacts_export_store_total(self->db, job->tenant, job->id, total) == 0 &&
                     crm_db_commit(self->db) == 0
                 ? 0
                 : -1;
    if (rc)
        crm_db_rollback(self->db);
    return rc;
}

// --- XLSX --------------------------------------------------------------------------------

//  Open the workbook of the held XLSX export: 0, or -1 (the reason in why).
static int s_workbook_open(const crm_config_t *cfg, s_job_t *job, char *why, size_t size) {
    const char *dir = cfg->contacts_export_tmp_dir[0] ? cfg->contacts_export_tmp_dir
                      : getenv("TMPDIR")              ? getenv("TMPDIR")
                                                      : "/tmp";
    snprintf(job->path, sizeof job->path, "%s/crm-export-%s.xlsx", dir, job->id);
    lxw_workbook_options options = {.constant_memory = LXW_TRUE, .tmpdir = (char *)dir,
                                    .use_zip64 = LXW_TRUE};
    job->workbook = workbook_new_opt(job->path, &options);
    if (!job->workbook) {
        snprintf(why, size, "could not create the workbook in %.150s (contacts.export_tmp_dir)",
                 dir);
        return -1;
    }
    job->sheet = workbook_add_worksheet(job->workbook, "Contacts");
    job->bold = workbook_add_format(job->workbook);
    format_set_bold(job->bold);
    job->date = workbook_add_format(job->workbook);
    format_set_num_format(job->date, "yyyy-mm-dd");
    job->datetime = workbook_add_format(job->workbook);
    format_set_num_format(job->datetime, "yyyy-mm-dd hh:mm:ss");
    for (size_t i = 0; i < job->n_columns; i++) {
        contacts_export_kind_t kind = job->columns[i].kind;
        double width = kind == CONTACTS_EXPORT_DATETIME ? 20 : kind == CONTACTS_EXPORT_DATE ? 12
                                                                                            : 16;
        worksheet_set_column(job->sheet, (lxw_col_t)i, (lxw_col_t)i, width, NULL);
    }
    worksheet_freeze_panes(job->sheet, 1, 0);
    for (size_t i = 0; i < job->n_columns; i++)
        worksheet_write_string(job->sheet, 0, (lxw_col_t)i, job->columns[i].name, job->bold);
    job->processed = job->rows = 0;
    return 0;
}

//  Parse "YYYY-MM-DD" with an optional "THH:MM:SS[.ffffff]Z"; false if it is neither.
static bool s_datetime(const char *text, lxw_datetime *out) {
    int year, month, day, hour = 0, minute = 0, consumed = 0;
    double second = 0;
    if (sscanf(text, "%4d-%2d-%2d%n", &year, &month, &day, &consumed) != 3 || consumed != 10)
        return false;
    if (text[10] && sscanf(text + 10, "T%2d:%2d:%lf", &hour, &minute, &second) != 3)
        return false;
    *out = (lxw_datetime){year, month, day, hour, minute, second};
    return true;
}

//  A text cell; a cell holds at most 32,767 characters: the rest is cut, at a character.
static lxw_error s_cell_text(s_job_t *job, lxw_row_t row, lxw_col_t col, const char *value) {
    if (crm_utf8_chars(value) <= EXPORT_XLSX_MAX_CELL)
        return worksheet_write_string(job->sheet, row, col, value, NULL);
    size_t bytes = 0, chars = 0;
    while (value[bytes] && chars < EXPORT_XLSX_MAX_CELL) {
        bytes++;
        while (((unsigned char)value[bytes] & 0xC0) == 0x80)
            bytes++;
        chars++;
    }
    char *cut = strndup(value, bytes);
    lxw_error rc = worksheet_write_string(job->sheet, row, col, cut, NULL);
    free(cut);
    return rc;
}

//  One cell of the workbook, by its kind; an empty value is a blank cell, a value that
//  does not read as its kind is text.
static lxw_error s_cell(s_job_t *job, lxw_row_t row, lxw_col_t col, contacts_export_kind_t kind,
                        const char *value, int len) {
    if (!len)
        return LXW_NO_ERROR;
    lxw_datetime when;
    char *end = NULL;
    switch (kind) {
    case CONTACTS_EXPORT_NUMBER: {
        double number = strtod(value, &end);
        if (end && !*end)
            return worksheet_write_number(job->sheet, row, col, number, NULL);
        break;
    }
    case CONTACTS_EXPORT_DATETIME:
    case CONTACTS_EXPORT_DATE:
        if (s_datetime(value, &when))
            return worksheet_write_datetime(job->sheet, row, col, &when,
                                            kind == CONTACTS_EXPORT_DATE ? job->date
                                                                         : job->datetime);
        break;
    case CONTACTS_EXPORT_BOOL:
        return worksheet_write_boolean(job->sheet, row, col, strcmp(value, "true") == 0, NULL);
    case CONTACTS_EXPORT_TEXT:
        break;
    }
    return s_cell_text(job, row, col, value);
}

// --- claiming an export ------------------------------------------------------------------

//  Make the export held ready to write: its request read, its columns and batch built,
//  its contacts selected when queued, its workbook opened, marked started. 1 when it is
//  held still; 0 let go or failed for good (look at the next export); -1 let go when
//  the database failed (look no further).
static int s_job_prepare(s_runner_t *self, bool queued, const char *request) {
    s_job_t *job = self->job;
    crm_json_error_t err;
    job->req = (Crm__Contacts__CreateExportRequest *)crm_json_to_pb(
        &crm__contacts__create_export_request__descriptor, request, strlen(request), &err);
    if (!job->req) {
        s_job_fail(self, "the export's request is unreadable");
        return 0;
    }
    job->xlsx = job->req->format == CRM__CONTACTS__EXPORT_FORMAT__EXPORT_FORMAT_XLSX;
    job->n_columns = job->req->n_fields;
    job->columns = calloc(job->n_columns + 1, sizeof *job->columns);
    contacts_export_columns(job->req->fields, job->n_columns, job->columns, NULL);
    if (contacts_export_store_custom_types(self->db, job->tenant, job->columns, job->n_columns,
                                           NULL)) {
        s_job_release(self);
        return -1;
    }
    contacts_export_store_batch_build(&job->batch, job->params, job->columns, job->n_columns,
                                      job->req->marketing);
    job->params[0] = job->tenant;
    job->params[1] = job->id;
    job->params[2] = job->cursor;
    char why[256];
    int selected = queued ? s_select(self, why, sizeof why) : 0;
    if (selected == -1) {
        s_job_release(self);
        return -1;
    }
    if (selected == -2 || (job->xlsx && s_workbook_open(self->cfg, job, why, sizeof why))) {
        s_job_fail(self, why);
        return 0;
    }
    if (contacts_export_store_start(self->db, job->tenant, job->id, job->xlsx)) {
        s_job_release(self);
        return 0;
    }
    crm_log_kv(CRM_LOG_INFO, "export started", "export", job->id, "tenant", job->tenant, NULL);
    return 1;
}

//  Hold export id of tenant if no one does and it still waits or runs. 1 held, 0 not
//  (someone holds it, it finished, or it failed for good), -1 stop looking (the
//  database failed).
static int s_hold(s_runner_t *self, const char *tenant, const char *id) {
    if (contacts_export_store_lock(self->db, id) != 1)
        return 0;
    s_job_t *job = calloc(1, sizeof *job);
    snprintf(job->tenant, sizeof job->tenant, "%s", tenant);
    snprintf(job->id, sizeof job->id, "%s", id);
    snprintf(job->cursor, sizeof job->cursor, UUID_MAX);
    self->job = job;
    char status[16], *request = NULL;
    contacts_export_store_state(self->db, tenant, id, status, sizeof status, &request,
                                &job->parts, &job->bytes);
    bool queued = strcmp(status, "queued") == 0;
    if (!queued && strcmp(status, "running")) {
        //  Finished by its last holder meanwhile.
        free(request);
        s_job_release(self);
        return 0;
    }
    int held = s_job_prepare(self, queued, request);
    free(request);
    return held;
}

//  Claim the oldest export waiting that no one holds. true when one is held.
static bool s_claim(s_runner_t *self) {
    char **tenants = NULL, **ids = NULL;
    size_t n = 0;
    if (contacts_export_store_candidates(self->db, &tenants, &ids, &n))
        return false;
    for (size_t i = 0; i < n && !self->job; i++)
        if (s_hold(self, tenants[i], ids[i]) < 0)
            break;
    for (size_t i = 0; i < n; i++) {
        free(tenants[i]);
        free(ids[i]);
    }
    free(tenants);
    free(ids);
    return self->job != NULL;
}

// --- writing -----------------------------------------------------------------------------

//  Record a chunk's progress; finished: the export is done.
static void s_progress_record(s_runner_t *self, long processed, long rows, int parts,
                              long long bytes, bool finished, bool *ok) {
    s_job_t *job = self->job;
    if (*ok)
        *ok = contacts_export_store_progress(self->db, job->tenant, job->id, processed, rows,
                                             parts, bytes, finished,
                                             self->cfg->contacts_export_retention_hours) == 0;
}

//  Store one part of the held export.
static void s_part_store(s_runner_t *self, const char *data, size_t size, bool *ok) {
    s_job_t *job = self->job;
    if (!*ok)
        return;
    *ok = contacts_export_store_part_insert(self->db, job->tenant, job->id, job->parts + 1,
                                            job->bytes, data, size) == 0;
    if (*ok) {
        job->parts++;
        job->bytes += (long long)size;
    }
}

//  Rows of a CSV part into writer, from batches of items, until the part reaches its
//  size or no item is left. ok false when the database failed.
static void s_csv_rows(s_runner_t *self, crm_csv_writer_t *writer, long *processed, long *rows,
                       bool *finished, bool *ok) {
    s_job_t *job = self->job;
    size_t target = (size_t)self->cfg->contacts_export_part_bytes;
    bool full = false;
    while (*ok && !*finished && !full) {
        PGresult *res = s_batch(self->db, job, EXPORT_BATCH);
        if (!res) {
            *ok = false;
            break;
        }
        int n = PQntuples(res);
        for (int i = 0; i < n && !full; i++) {
            snprintf(job->cursor, sizeof job->cursor, "%s", PQgetvalue(res, i, 0));
            (*processed)++;
            if (strcmp(PQgetvalue(res, i, 1), "t") != 0)
                continue;
            for (size_t c = 0; c < job->n_columns; c++)
                crm_csv_writer_field(writer, PQgetvalue(res, i, (int)c + 2),
                                     (size_t)PQgetlength(res, i, (int)c + 2));
            crm_csv_writer_end_record(writer);
            (*rows)++;
            size_t size;
            crm_csv_writer_data(writer, &size);
            full = size >= target;
        }
        //  The last item written may have been the last there is: the next chunk then
        //  finds none and finishes without a part.
        *finished = n < EXPORT_BATCH && !full;
        PQclear(res);
    }
}

//  One part of a CSV export, in the runner's transaction: rows until the part is full
//  or no item is left. 0, 1 when finished, or -1 when the database failed.
static int s_csv_chunk(s_runner_t *self) {
    s_job_t *job = self->job;
    crm_csv_writer_t *writer = crm_csv_writer_new(&(crm_csv_writer_options_t){
        .formula_guard = true});
    bool first = job->parts == 0, ok = true, finished = false;
    if (first) {
        //  The header (and below, a byte order mark: Excel then reads UTF-8).
        for (size_t i = 0; i < job->n_columns; i++)
            crm_csv_writer_field(writer, job->columns[i].name, strlen(job->columns[i].name));
        crm_csv_writer_end_record(writer);
    }
    long processed = 0, rows = 0;
    snprintf(job->cursor, sizeof job->cursor, UUID_MAX);
    s_csv_rows(self, writer, &processed, &rows, &finished, &ok);
    size_t size;
    const char *data = crm_csv_writer_data(writer, &size);
    if (ok && size) {
        char *part = malloc(size + 3);
        size_t at = 0;
        if (first) {
            memcpy(part, "\xEF\xBB\xBF", 3);
            at = 3;
        }
        memcpy(part + at, data, size);
        s_part_store(self, part, size + at, &ok);
        free(part);
    }
    crm_csv_writer_destroy(&writer);
    if (ok && processed)
        ok = contacts_export_store_items_done(self->db, job->tenant, job->id, job->cursor) == 0;
    //  s_part_store counted the part and its bytes already; the database adds them.
    bool stored = size > 0;
    s_progress_record(self, processed, rows, stored ? 1 : 0,
                      stored ? (long long)size + (first ? 3 : 0) : 0, finished, &ok);
    return ok ? (finished ? 1 : 0) : -1;
}

//  The finished workbook into parts, in the runner's transaction.
static int s_xlsx_store(s_runner_t *self, char *why, size_t why_size) {
    s_job_t *job = self->job;
    lxw_error rc = workbook_close(job->workbook);
    job->workbook = NULL;
    if (rc != LXW_NO_ERROR) {
        snprintf(why, why_size, "could not write the workbook: %s", lxw_strerror(rc));
        unlink(job->path);
        return -2;
    }
    FILE *file = fopen(job->path, "rb");
    if (!file) {
        snprintf(why, why_size, "could not read the workbook back from %.200s", job->path);
        return -2;
    }
    size_t target = (size_t)self->cfg->contacts_export_part_bytes;
    char *buffer = malloc(target);
    bool ok = true;
    long long before = job->bytes;
    int parts_before = job->parts;
    size_t got;
    while (ok && (got = fread(buffer, 1, target, file)) > 0)
        s_part_store(self, buffer, got, &ok);
    fclose(file);
    free(buffer);
    unlink(job->path);
    //  Every item: those from the nil uuid up.
    if (ok)
        ok = contacts_export_store_items_done(self->db, job->tenant, job->id,
                                              "00000000-0000-0000-0000-000000000000") == 0;
    s_progress_record(self, 0, 0, job->parts - parts_before, job->bytes - before, true, &ok);
    return ok ? 1 : -1;
}

//  One batch's rows into the workbook: 0, or -2 when the workbook failed (why says how).
static int s_xlsx_rows(s_job_t *job, PGresult *res, long *processed, long *rows, char *why,
                       size_t why_size) {
    for (int i = 0; i < PQntuples(res); i++) {
        snprintf(job->cursor, sizeof job->cursor, "%s", PQgetvalue(res, i, 0));
        (*processed)++;
        if (strcmp(PQgetvalue(res, i, 1), "t") != 0)
            continue;
        lxw_row_t row = (lxw_row_t)(job->rows + *rows + 1);
        for (size_t c = 0; c < job->n_columns; c++) {
            lxw_error rc = s_cell(job, row, (lxw_col_t)c, job->columns[c].kind,
                                  PQgetvalue(res, i, (int)c + 2), PQgetlength(res, i, (int)c + 2));
            if (rc != LXW_NO_ERROR) {
                snprintf(why, why_size, "could not write row %u of the workbook: %s",
                         (unsigned)row, lxw_strerror(rc));
                return -2;
            }
        }
        (*rows)++;
    }
    return 0;
}

//  One chunk of an XLSX export in the runner's transaction: rows into the workbook, and
//  the progress; at the end, the file stored. 0, 1 when finished, -1 when the database
//  failed, -2 when the workbook failed (why says how).
static int s_xlsx_chunk(s_runner_t *self, char *why, size_t why_size) {
    s_job_t *job = self->job;
    long processed = 0, rows = 0;
    bool ok = true, finished = false;
    while (ok && !finished && processed < EXPORT_XLSX_CHUNK) {
        PGresult *res = s_batch(self->db, job, EXPORT_BATCH);
        if (!res)
            return -1;
        int rc = s_xlsx_rows(job, res, &processed, &rows, why, why_size);
        finished = PQntuples(res) < EXPORT_BATCH;
        PQclear(res);
        if (rc)
            return rc;
    }
    job->processed += processed;
    job->rows += rows;
    s_progress_record(self, processed, rows, 0, 0, false, &ok);
    if (!ok)
        return -1;
    return finished ? s_xlsx_store(self, why, why_size) : 0;
}

// --- the runner --------------------------------------------------------------------------

//  Do the next chunk of the held export (claiming one if none is held): worked when
//  there was work (look again at once), idle when none, failed when the database failed
//  (the export is let go: whoever claims it next goes on; an XLSX export starts again).
static crm_step_result_t s_run_one(s_runner_t *self) {
    if (!self->job && !s_claim(self))
        return CRM_STEP_IDLE;
    s_job_t *job = self->job;
    if (crm_db_begin(self->db)) {
        s_job_release(self);
        return CRM_STEP_FAILED;
    }
    char why[256] = "";
    int rc = job->xlsx ? s_xlsx_chunk(self, why, sizeof why) : s_csv_chunk(self);
    if (rc >= 0 && crm_db_commit(self->db) == 0) {
        if (rc == 1) {
            crm_log_kv(CRM_LOG_INFO, "export finished", "export", job->id, "tenant",
                       job->tenant, NULL);
            s_job_release(self);
        }
        return CRM_STEP_WORKED;
    }
    crm_db_rollback(self->db);
    if (rc == -2) {
        s_job_fail(self, why);
        return CRM_STEP_IDLE;
    }
    crm_log_kv(CRM_LOG_WARN, "export chunk failed; it will be tried again", "export", job->id,
               NULL);
    s_job_release(self);
    return CRM_STEP_FAILED;
}

//  Delete the parts of exports past their retention, every
//  contacts.export_sweep_interval_ms (between chunks).
static void s_sweep_run(s_runner_t *self) {
    int64_t now = zclock_mono();
    if (now < self->next_sweep)
        return;
    self->next_sweep = now + self->cfg->contacts_export_sweep_interval_ms;
    int parts = contacts_export_store_sweep(self->db);
    if (parts > 0) {
        char text[24];
        snprintf(text, sizeof text, "%d", parts);
        crm_log_kv(CRM_LOG_INFO, "expired exports deleted", "parts", text, NULL);
    }
}

void *contacts_export_runner_new(const crm_config_t *cfg, crm_db_t *db) {
    s_runner_t *self = calloc(1, sizeof *self);
    assert(self);
    self->cfg = cfg;
    self->db = db;
    return self;
}

//  Let go of the export held (its lock goes with the connection if that was lost).
void contacts_export_runner_destroy(void **state_p) {
    s_runner_t *self = *state_p;
    if (!self)
        return;
    s_job_release(self);
    free(self);
    *state_p = NULL;
}

crm_step_result_t contacts_export_runner_step(crm_step_t *step) {
    s_runner_t *self = step->state;
    s_sweep_run(self);
    return s_run_one(self);
}

int contacts_export_idle_ms(const crm_config_t *cfg) {
    (void)cfg;
    return EXPORT_IDLE_MS;
}
