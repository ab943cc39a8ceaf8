/*  libFuzzer target for csv: arbitrary bytes as an uploaded CSV file.

    Under each encoding, a picked delimiter and tight limits, the reader either returns
    records or fails with a code and a message, never both ways at once: every field is
    valid UTF-8 of the length given, within the limits, rows count up from 1, and the
    same input handed over in small reads gives exactly the same records and the same
    error as when read from memory. The records read are then written with the writer
    (plain, and with the formula guard) and read back: the same fields again.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "validate.h"

//  Stop the fuzzer with a message when an invariant breaks.
static void s_check(int condition, const char *what, const char *text) {
    if (!condition) {
        fprintf(stderr, "invariant broken: %s\n%s\n", what, text ? text : "(null)");
        abort();
    }
}

//  The input in reads of chunk bytes.
typedef struct {
    const uint8_t *data;
    size_t size;
    size_t pos;
    size_t chunk;
} s_source_t;

static ssize_t s_read_chunks(void *ctx, char *buffer, size_t size) {
    s_source_t *source = ctx;
    size_t n = source->size - source->pos;
    if (n > source->chunk)
        n = source->chunk;
    if (n > size)
        n = size;
    memcpy(buffer, source->data + source->pos, n);
    source->pos += n;
    return (ssize_t)n;
}

static void s_check_record(const crm_csv_record_t *rec, const crm_csv_options_t *opts, size_t row) {
    s_check(rec->count >= 1, "a record without fields", NULL);
    s_check(rec->row == row, "rows do not count up by one", NULL);
    s_check(rec->line >= rec->row, "a record on a line before its row", NULL);
    if (opts->max_columns)
        s_check(rec->count <= opts->max_columns, "more columns than the limit", NULL);
    for (size_t i = 0; i < rec->count; i++) {
        s_check(strlen(rec->fields[i]) == rec->lengths[i], "a field's length is wrong",
                rec->fields[i]);
        s_check(crm_utf8_valid(rec->fields[i], rec->lengths[i]), "a field is not UTF-8",
                rec->fields[i]);
        if (opts->max_field_bytes)
            s_check(rec->lengths[i] <= opts->max_field_bytes, "a field over the limit", NULL);
    }
}

static bool s_same_record(const crm_csv_record_t *a, const crm_csv_record_t *b) {
    if (a->count != b->count || a->row != b->row || a->line != b->line)
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (a->lengths[i] != b->lengths[i] || memcmp(a->fields[i], b->fields[i], a->lengths[i]))
            return false;
    return true;
}

//  Read the input from memory and in reads of chunk bytes, side by side.
static void s_read(const uint8_t *data, size_t size, const crm_csv_options_t *opts, size_t chunk) {
    crm_csv_t *whole = crm_csv_open_memory(data, size, opts);
    s_source_t source = {.data = data, .size = size, .chunk = chunk};
    crm_csv_t *pieces = crm_csv_open(s_read_chunks, &source, opts);
    s_check(whole && pieces, "could not open a reader", NULL);
    crm_csv_record_t a, b;
    size_t row = 0;
    int rc;
    while ((rc = crm_csv_next(whole, &a)) == 1) {
        s_check(crm_csv_next(pieces, &b) == 1, "small reads end early", NULL);
        s_check_record(&a, opts, ++row);
        s_check(s_same_record(&a, &b), "small reads give another record", NULL);
    }
    s_check(crm_csv_next(pieces, &b) == rc, "small reads end another way", NULL);
    s_check(crm_csv_next(whole, &a) == rc, "the end does not stay", NULL);
    const char *message = crm_csv_error(whole);
    if (rc == 0) {
        s_check(crm_csv_error_code(whole) == CRM_CSV_OK && message[0] == 0,
                "an error after a clean end", message);
        s_check(row > 0, "an input without records ended cleanly", NULL);
    } else {
        s_check(crm_csv_error_code(whole) != CRM_CSV_OK && message[0] != 0,
                "a failure without an error", NULL);
        s_check(crm_utf8_valid(message, strlen(message)), "the message is not UTF-8", message);
        s_check(crm_csv_error_code(pieces) == crm_csv_error_code(whole) &&
                    strcmp(crm_csv_error(pieces), message) == 0,
                "small reads give another error", crm_csv_error(pieces));
        s_check(crm_csv_error_row(whole) <= row + 1, "an error past the next row", message);
    }
    crm_csv_close(&whole);
    crm_csv_close(&pieces);
}

static bool s_formula_start(char c) {
    return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

//  Write what the reader reads and read it back: the same fields (with the guard, an
//  apostrophe before those a spreadsheet would take for formulas).
static void s_round_trip(const uint8_t *data, size_t size, char delimiter, bool guard) {
    crm_csv_writer_options_t wopts = {.delimiter = delimiter, .formula_guard = guard};
    crm_csv_writer_t *writer = crm_csv_writer_new(&wopts);
    crm_csv_t *csv = crm_csv_open_memory(data, size, NULL);
    s_check(writer && csv, "could not open a reader or writer", NULL);
    crm_csv_record_t rec;
    size_t records = 0;
    while (crm_csv_next(csv, &rec) == 1) {
        for (size_t i = 0; i < rec.count; i++)
            s_check(crm_csv_writer_field(writer, rec.fields[i], rec.lengths[i]) == 0,
                    "the writer refused a field", rec.fields[i]);
        s_check(crm_csv_writer_end_record(writer) == 0, "the writer refused a record", NULL);
        records++;
    }
    crm_csv_close(&csv);

    size_t written_size;
    const char *written = crm_csv_writer_data(writer, &written_size);
    crm_csv_t *original = crm_csv_open_memory(data, size, NULL);
    crm_csv_t *again =
        crm_csv_open_memory(written, written_size, &(crm_csv_options_t){.delimiter = delimiter});
    crm_csv_record_t back;
    for (size_t r = 0; r < records; r++) {
        s_check(crm_csv_next(original, &rec) == 1, "the input reads differently", NULL);
        if (crm_csv_next(again, &back) != 1)
            s_check(false, "the written file does not read", crm_csv_error(again));
        s_check(back.count == rec.count, "a written record has other fields", written);
        for (size_t i = 0; i < rec.count; i++) {
            const char *field = back.fields[i];
            size_t length = back.lengths[i];
            if (guard && rec.lengths[i] && s_formula_start(rec.fields[i][0])) {
                s_check(field[0] == '\'', "a formula without its apostrophe", field);
                field++;
                length--;
            }
            s_check(length == rec.lengths[i] && memcmp(field, rec.fields[i], length) == 0,
                    "a field came back changed", field);
        }
    }
    s_check(crm_csv_next(again, &back) == (records ? 0 : -1), "the written file goes on", written);
    crm_csv_close(&original);
    crm_csv_close(&again);
    crm_csv_writer_destroy(&writer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const crm_csv_options_t options[] = {
        {.encoding = CRM_CSV_ENCODING_AUTO},
        {.encoding = CRM_CSV_ENCODING_UTF8},
        {.encoding = CRM_CSV_ENCODING_WINDOWS1252},
        {.encoding = CRM_CSV_ENCODING_LATIN1},
        {.delimiter = CRM_CSV_DELIMITER_AUTO},
        {.delimiter = ';', .encoding = CRM_CSV_ENCODING_WINDOWS1252},
        {.delimiter = '\t', .encoding = CRM_CSV_ENCODING_LATIN1},
        {.max_columns = 4, .max_field_bytes = 16, .max_record_bytes = 40},
    };
    //  The last byte picks the size of the small reads, so the input itself is unchanged.
    size_t chunk = size ? 1 + data[size - 1] % 11 : 1;
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        s_read(data, size, &options[i], chunk);
    s_round_trip(data, size, ',', false);
    s_round_trip(data, size, ';', true);
    s_round_trip(data, size, '\t', false);
    return 0;
}
