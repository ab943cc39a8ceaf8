/*  csv: a streaming CSV reader and writer (RFC 4180).

    The reader is a small state machine over a fixed 64 KiB input chunk. It stops only
    on the bytes that matter: inside an unquoted field the delimiter, a quote, CR, LF
    and NUL (a 256-entry table, built once for the delimiter); inside a quoted field a
    quote, CR, LF and NUL. Runs between them are copied into the record's text with one
    memcpy, ORing their bytes as they are scanned so that a field with no byte above
    0x7F (most of them) skips every encoding step. The state survives the end of a
    chunk, so a field, a doubled quote or a CRLF split across reads reads the same as
    one in a single read.

    The record's text holds each field decoded to UTF-8 and NUL-terminated, one after
    another; the arrays handed to the caller point into it. It grows to the largest
    record seen, and the options bound that (columns, field and record bytes), so
    memory is the chunk plus the largest record, whatever the size of the input.

    Encodings are handled a field at a time, once the field is complete: UTF-8 is
    checked in place; Windows-1252 and ISO-8859-1 are widened in place, from the end
    backwards, after growing the text by exactly the bytes the field needs.
*/
#include "csv.h"
#include "validate.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_CHUNK (64 * 1024)
#define S_DEFAULT_MAX_COLUMNS 1000
#define S_DEFAULT_MAX_FIELD_BYTES (1024 * 1024)
#define S_DEFAULT_MAX_RECORD_BYTES (4 * 1024 * 1024)

//  Where the reader is in the input.
typedef enum {
    S_RECORD_START,    //  between records: blank lines are skipped here
    S_FIELD_START,     //  after a delimiter or at the first byte of a record
    S_UNQUOTED,        //  inside an unquoted field
    S_QUOTED,          //  inside a quoted field
    S_QUOTE_IN_QUOTED, //  just after a quote in a quoted field: its end, or half of ""
    S_END,             //  the input is over and every record returned
    S_FAILED,          //  an error was reported; it stays
} s_state_t;

//  Windows-1252 0x80-0x9F as code points; 0 where the code page defines no character.
//  (0xA0-0xFF are the same as ISO-8859-1.)
static const uint16_t s_cp1252_c1[32] = {
    0x20ac, 0,      0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, //  80-87
    0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017d, 0,      //  88-8F
    0,      0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, //  90-97
    0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0,      0x017e, 0x0178, //  98-9F
};

struct _crm_csv_t {
    crm_csv_read_fn read;
    void *ctx;
    crm_csv_options_t opts; //  with the defaults filled in
    char delimiter;
    unsigned char unquoted_stop[256]; //  non-zero: a byte that ends a run in an unquoted field
    unsigned char quoted_stop[256];   //  the same inside a quoted field

    //  Input: bytes [input_pos, input_len) of input are still to be read.
    char *input;
    size_t input_pos;
    size_t input_len;
    bool input_end; //  the read callback said the input is over
    bool started;   //  the byte order mark and the delimiter have been looked at

    //  The record being read: its fields' text, and where each field starts.
    char *text;
    size_t text_len;
    size_t text_cap;
    size_t *starts;
    size_t *lengths;
    const char **fields;
    size_t fields_cap;
    size_t count;              //  fields finished
    size_t field_start;        //  where the current field's text starts
    unsigned char field_bytes; //  the current field's raw bytes ORed: 0x80 set if non-ASCII

    s_state_t state;
    bool after_cr;      //  the last byte read was a CR (so an LF next ends no new line)
    size_t row;         //  records started
    size_t line;        //  the physical line the reader is on
    size_t record_line; //  the line the current record started on

    crm_csv_encoding_t encoding; //  in force; AUTO until the input decides
    bool encoding_auto;          //  the option was auto (so a misfit is "mixed encodings")
    size_t decided_row;          //  where auto decided: row and column, 0 for the BOM
    size_t decided_column;

    crm_csv_error_t error;
    size_t error_row;
    size_t error_line;
    size_t error_column;
    char message[320];

    //  The sources behind the convenience constructors.
    struct {
        const char *data;
        size_t size;
        size_t pos;
    } memory;
    FILE *file;
    int fd;
};

// --------------------------------------------------------------------------------------
//  Sources

static ssize_t s_read_memory(void *ctx, char *buffer, size_t size) {
    crm_csv_t *csv = ctx;
    size_t left = csv->memory.size - csv->memory.pos;
    if (size > left)
        size = left;
    memcpy(buffer, csv->memory.data + csv->memory.pos, size);
    csv->memory.pos += size;
    return (ssize_t)size;
}

static ssize_t s_read_file(void *ctx, char *buffer, size_t size) {
    crm_csv_t *csv = ctx;
    size_t got = fread(buffer, 1, size, csv->file);
    if (got == 0 && ferror(csv->file))
        return -1;
    return (ssize_t)got;
}

static ssize_t s_read_fd(void *ctx, char *buffer, size_t size) {
    crm_csv_t *csv = ctx;
    for (;;) {
        ssize_t got = read(csv->fd, buffer, size);
        if (got >= 0 || errno != EINTR)
            return got < 0 ? -1 : got;
    }
}

// --------------------------------------------------------------------------------------
//  Errors

//  Record an error at the current record (row and starting line) and column (0: none),
//  and stop the reader. Returns -1 for the caller to pass on.
static int s_fail(crm_csv_t *csv, crm_csv_error_t code, size_t column, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

static int s_fail(crm_csv_t *csv, crm_csv_error_t code, size_t column, const char *format, ...) {
    csv->error = code;
    csv->error_row = csv->row;
    csv->error_line = csv->row ? csv->record_line : 0;
    csv->error_column = csv->row ? column : 0;
    int used = 0;
    if (csv->error_row && csv->error_column)
        used = snprintf(csv->message, sizeof csv->message,
                        "row %zu (line %zu), column %zu: ", csv->error_row, csv->error_line,
                        csv->error_column);
    else if (csv->error_row)
        used = snprintf(csv->message, sizeof csv->message, "row %zu (line %zu): ", csv->error_row,
                        csv->error_line);
    va_list args;
    va_start(args, format);
    vsnprintf(csv->message + used, sizeof csv->message - (size_t)used, format, args);
    va_end(args);
    csv->state = S_FAILED;
    return -1;
}

//  The column being read: the one after those finished.
static size_t s_column(const crm_csv_t *csv) {
    return csv->count + 1;
}

static int s_fail_no_memory(crm_csv_t *csv) {
    return s_fail(csv, CRM_CSV_NO_MEMORY, 0, "out of memory");
}

// --------------------------------------------------------------------------------------
//  Input

//  Append what the callback gives to the input (which has room); sets input_end at the
//  end of the input. Returns the bytes added, or -1 after reporting a read error.
static ssize_t s_read_more(crm_csv_t *csv) {
    size_t room = S_CHUNK - csv->input_len;
    ssize_t got = csv->read(csv->ctx, csv->input + csv->input_len, room);
    if (got < 0 || (size_t)got > room) {
        if (csv->state == S_RECORD_START) {
            //  between records: the error is at the next one, from the line we are on
            csv->row++;
            csv->record_line = csv->line;
        }
        return s_fail(csv, CRM_CSV_READ_FAILED, 0, "could not read the input");
    }
    if (got == 0)
        csv->input_end = true;
    csv->input_len += (size_t)got;
    return got;
}

//  Start the input chunk afresh once everything in it has been read.
static int s_refill(crm_csv_t *csv) {
    assert(csv->input_pos == csv->input_len);
    csv->input_pos = csv->input_len = 0;
    return s_read_more(csv) < 0 ? -1 : 0;
}

//  Pick the delimiter from the first non-blank line: whichever of , ; and tab occurs
//  most often outside quotes (',' on a tie or when there is none). Reads until that
//  line ends or the chunk is full; a first line longer than the chunk is judged by its
//  first 64 KiB.
static int s_detect_delimiter(crm_csv_t *csv) {
    static const char candidates[] = {',', ';', '\t'};
    size_t counts[3] = {0, 0, 0};
    bool quoted = false, content = false;
    size_t at = csv->input_pos;
    for (;;) {
        for (; at < csv->input_len; at++) {
            char c = csv->input[at];
            if (c == '"')
                quoted = !quoted;
            else if (!quoted && (c == '\r' || c == '\n')) {
                if (content)
                    goto decide;
                continue; //  a leading blank line
            } else if (!quoted)
                for (size_t i = 0; i < 3; i++)
                    counts[i] += c == candidates[i];
            content = true;
        }
        if (csv->input_end || csv->input_len == S_CHUNK)
            break;
        if (s_read_more(csv) < 0)
            return -1;
    }
decide:;
    size_t best = 0;
    for (size_t i = 1; i < 3; i++)
        if (counts[i] > counts[best])
            best = i;
    csv->delimiter = candidates[best];
    return 0;
}

//  Look at the first bytes of the input: a UTF-16 byte order mark is refused, a UTF-8
//  one is dropped and decides the encoding. Then fix the delimiter and the stop tables.
static int s_start(crm_csv_t *csv) {
    csv->started = true;
    while (csv->input_len < 3 && !csv->input_end)
        if (s_read_more(csv) < 0)
            return -1;
    const unsigned char *in = (const unsigned char *)csv->input;
    if (csv->input_len >= 2 &&
        ((in[0] == 0xff && in[1] == 0xfe) || (in[0] == 0xfe && in[1] == 0xff)))
        return s_fail(csv, CRM_CSV_UTF16, 0,
                      "the file is UTF-16 (it starts with a UTF-16 byte order mark); it must "
                      "be UTF-8 or Windows-1252 (in Excel: save as \"CSV UTF-8\")");
    if (csv->input_len >= 3 && in[0] == 0xef && in[1] == 0xbb && in[2] == 0xbf) {
        csv->input_pos = 3;
        csv->encoding = CRM_CSV_ENCODING_UTF8;
    }
    if (csv->opts.delimiter == CRM_CSV_DELIMITER_AUTO && s_detect_delimiter(csv) < 0)
        return -1;

    memset(csv->unquoted_stop, 0, sizeof csv->unquoted_stop);
    memset(csv->quoted_stop, 0, sizeof csv->quoted_stop);
    const unsigned char quoted[] = {'"', '\r', '\n', 0};
    for (size_t i = 0; i < sizeof quoted; i++)
        csv->unquoted_stop[quoted[i]] = csv->quoted_stop[quoted[i]] = 1;
    csv->unquoted_stop[(unsigned char)csv->delimiter] = 1;
    return 0;
}

// --------------------------------------------------------------------------------------
//  The record's text

//  Room for extra more bytes of text.
static int s_reserve(crm_csv_t *csv, size_t extra) {
    if (csv->text_len + extra <= csv->text_cap)
        return 0;
    size_t cap = csv->text_cap ? csv->text_cap : 1024;
    while (cap < csv->text_len + extra)
        cap *= 2;
    char *text = realloc(csv->text, cap);
    if (!text)
        return s_fail_no_memory(csv);
    csv->text = text;
    csv->text_cap = cap;
    return 0;
}

//  Refuse a field or record that would grow past its limit by adding extra bytes. When
//  both would, the one passed at the earlier byte is named, as if the bytes came one by
//  one: the error must not depend on how the input was split into reads.
static int s_check_size(crm_csv_t *csv, size_t extra) {
    size_t field_room = csv->opts.max_field_bytes - (csv->text_len - csv->field_start);
    //  the record's text less a NUL per finished field
    size_t record_room = csv->opts.max_record_bytes - (csv->text_len - csv->count);
    if (extra <= field_room && extra <= record_room)
        return 0;
    if (field_room <= record_room)
        return s_fail(csv, CRM_CSV_FIELD_TOO_LONG, s_column(csv), "field longer than %zu bytes",
                      csv->opts.max_field_bytes);
    return s_fail(csv, CRM_CSV_RECORD_TOO_LONG, s_column(csv), "record longer than %zu bytes",
                  csv->opts.max_record_bytes);
}

//  Add size bytes to the current field (keeping room for its NUL).
static int s_append(crm_csv_t *csv, const void *bytes, size_t size) {
    if (s_check_size(csv, size) < 0 || s_reserve(csv, size + 1) < 0)
        return -1;
    memcpy(csv->text + csv->text_len, bytes, size);
    csv->text_len += size;
    return 0;
}

static int s_begin_field(crm_csv_t *csv) {
    if (csv->count == csv->opts.max_columns)
        return s_fail(csv, CRM_CSV_TOO_MANY_COLUMNS, s_column(csv), "more than %zu columns",
                      csv->opts.max_columns);
    csv->field_start = csv->text_len;
    csv->field_bytes = 0;
    return 0;
}

// --------------------------------------------------------------------------------------
//  Encodings

//  Offset of the first byte of s that does not start a valid UTF-8 character, or len.
static size_t s_utf8_invalid_at(const char *s, size_t len) {
    size_t at = 0;
    while (at < len) {
        if ((unsigned char)s[at] < 0x80) {
            at++;
            continue;
        }
        size_t width = crm_utf8_char_len(s + at, len - at);
        if (width == 0)
            return at;
        at += width;
    }
    return len;
}

//  Widen the current field from Windows-1252 (cp1252) or ISO-8859-1 to UTF-8 in place.
static int s_widen(crm_csv_t *csv, bool cp1252) {
    unsigned char *field = (unsigned char *)csv->text + csv->field_start;
    size_t len = csv->text_len - csv->field_start;
    size_t extra = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char byte = field[i];
        if (byte < 0x80)
            continue;
        if (cp1252 && byte < 0xa0) {
            uint16_t code = s_cp1252_c1[byte - 0x80];
            if (code == 0)
                return s_fail(csv, CRM_CSV_UNDEFINED_CP1252, s_column(csv),
                              csv->encoding_auto
                                  ? "byte 0x%02X is neither UTF-8 nor Windows-1252 text"
                                  : "byte 0x%02X is not a Windows-1252 character",
                              byte);
            extra += code < 0x800 ? 1 : 2;
        } else
            extra += 1;
    }
    if (s_check_size(csv, extra) < 0 || s_reserve(csv, extra + 1) < 0)
        return -1;
    field = (unsigned char *)csv->text + csv->field_start;
    unsigned char *out = field + len + extra;
    for (size_t i = len; i-- > 0;) {
        unsigned char byte = field[i];
        uint32_t code = byte;
        if (byte < 0x80) {
            *--out = byte;
            continue;
        }
        if (cp1252 && byte < 0xa0)
            code = s_cp1252_c1[byte - 0x80];
        if (code < 0x800) {
            *--out = (unsigned char)(0x80 | (code & 0x3f));
            *--out = (unsigned char)(0xc0 | (code >> 6));
        } else {
            *--out = (unsigned char)(0x80 | (code & 0x3f));
            *--out = (unsigned char)(0x80 | ((code >> 6) & 0x3f));
            *--out = (unsigned char)(0xe0 | (code >> 12));
        }
    }
    csv->text_len += extra;
    return 0;
}

//  Where the auto encoding was decided, for a "mixed encodings" message.
static const char *s_decided_where(const crm_csv_t *csv, char *buffer, size_t size) {
    if (csv->decided_row == 0)
        return "its byte order mark";
    snprintf(buffer, size, "row %zu, column %zu", csv->decided_row, csv->decided_column);
    return buffer;
}

//  Turn the current field, which has a byte above 0x7F, into UTF-8 per the encoding
//  (deciding it first if it is auto and still open).
static int s_decode_field(crm_csv_t *csv) {
    const char *field = csv->text + csv->field_start;
    size_t len = csv->text_len - csv->field_start;
    size_t invalid_at = s_utf8_invalid_at(field, len);
    bool utf8 = invalid_at == len;
    char where[64];
    switch (csv->encoding) {
    case CRM_CSV_ENCODING_AUTO:
        csv->encoding = utf8 ? CRM_CSV_ENCODING_UTF8 : CRM_CSV_ENCODING_WINDOWS1252;
        csv->decided_row = csv->row;
        csv->decided_column = s_column(csv);
        return utf8 ? 0 : s_widen(csv, true);
    case CRM_CSV_ENCODING_UTF8:
        if (utf8)
            return 0;
        if (csv->encoding_auto)
            return s_fail(csv, CRM_CSV_MIXED_ENCODINGS, s_column(csv),
                          "mixed encodings: this field is not UTF-8 (byte 0x%02X) but the "
                          "file was read as UTF-8 from %s",
                          (unsigned char)field[invalid_at],
                          s_decided_where(csv, where, sizeof where));
        return s_fail(csv, CRM_CSV_INVALID_UTF8, s_column(csv),
                      "invalid UTF-8 (byte 0x%02X at byte %zu of the field)",
                      (unsigned char)field[invalid_at], invalid_at + 1);
    case CRM_CSV_ENCODING_WINDOWS1252:
        if (utf8 && csv->encoding_auto)
            return s_fail(csv, CRM_CSV_MIXED_ENCODINGS, s_column(csv),
                          "mixed encodings: this field is UTF-8 but the file was read as "
                          "Windows-1252 from %s",
                          s_decided_where(csv, where, sizeof where));
        return s_widen(csv, true);
    case CRM_CSV_ENCODING_LATIN1:
        return s_widen(csv, false);
    }
    return 0;
}

// --------------------------------------------------------------------------------------
//  Fields and records

//  The current field is complete: decode it, terminate it and note where it is.
static int s_end_field(crm_csv_t *csv) {
    if ((csv->field_bytes & 0x80) && s_decode_field(csv) < 0)
        return -1;
    if (csv->count == csv->fields_cap) {
        size_t cap = csv->fields_cap ? csv->fields_cap * 2 : 16;
        size_t *starts = realloc(csv->starts, cap * sizeof *starts);
        if (starts)
            csv->starts = starts;
        size_t *lengths = realloc(csv->lengths, cap * sizeof *lengths);
        if (lengths)
            csv->lengths = lengths;
        const char **fields = realloc(csv->fields, cap * sizeof *fields);
        if (fields)
            csv->fields = fields;
        if (!starts || !lengths || !fields)
            return s_fail_no_memory(csv);
        csv->fields_cap = cap;
    }
    if (s_reserve(csv, 1) < 0)
        return -1;
    csv->starts[csv->count] = csv->field_start;
    csv->lengths[csv->count] = csv->text_len - csv->field_start;
    csv->text[csv->text_len++] = 0;
    csv->count++;
    return 0;
}

//  The current record is complete: hand it out.
static int s_end_record(crm_csv_t *csv, crm_csv_record_t *rec) {
    for (size_t i = 0; i < csv->count; i++)
        csv->fields[i] = csv->text + csv->starts[i];
    rec->fields = csv->fields;
    rec->lengths = csv->lengths;
    rec->count = csv->count;
    rec->row = csv->row;
    rec->line = csv->record_line;
    csv->state = S_RECORD_START;
    return 1;
}

//  A CR or LF (just read) ends the record.
static int s_end_line(crm_csv_t *csv, unsigned char c, crm_csv_record_t *rec) {
    csv->line++;
    csv->after_cr = c == '\r';
    if (s_end_field(csv) < 0)
        return -1;
    return s_end_record(csv, rec);
}

//  The input is over: finish what was being read.
static int s_finish(crm_csv_t *csv, crm_csv_record_t *rec) {
    switch (csv->state) {
    case S_RECORD_START:
        csv->state = S_END;
        if (csv->row == 0)
            return s_fail(csv, CRM_CSV_EMPTY, 0, "the file is empty: there is no header row");
        return 0;
    case S_FIELD_START: //  after a delimiter: an empty last field
        if (s_begin_field(csv) < 0)
            return -1;
        break;
    case S_QUOTED:
        return s_fail(csv, CRM_CSV_UNCLOSED_QUOTE, s_column(csv),
                      "quoted field opened here is never closed");
    default:
        break;
    }
    if (s_end_field(csv) < 0)
        return -1;
    return s_end_record(csv, rec);
}

//  Name a byte for a message: 'x' if printable, else its value.
static const char *s_byte_name(unsigned char byte, char *buffer, size_t size) {
    if (byte >= 0x20 && byte < 0x7f)
        snprintf(buffer, size, "'%c'", byte);
    else
        snprintf(buffer, size, "byte 0x%02X", byte);
    return buffer;
}

int crm_csv_next(crm_csv_t *csv, crm_csv_record_t *rec) {
    assert(csv && rec);
    if (csv->state == S_FAILED)
        return -1;
    if (csv->state == S_END)
        return 0;
    if (!csv->started && s_start(csv) < 0)
        return -1;
    csv->count = 0;
    csv->text_len = 0;
    const unsigned char delimiter = (unsigned char)csv->delimiter;
    for (;;) {
        if (csv->input_pos == csv->input_len) {
            if (csv->input_end)
                return s_finish(csv, rec);
            if (s_refill(csv) < 0)
                return -1;
            continue;
        }
        const unsigned char *in = (const unsigned char *)csv->input;
        const unsigned char *end = in + csv->input_len;
        const unsigned char *at = in + csv->input_pos;
        unsigned char c;
        switch (csv->state) {
        case S_RECORD_START:
            c = *at;
            if (c == '\r' || c == '\n') { //  a line end with nothing before it: blank line
                if (!(c == '\n' && csv->after_cr))
                    csv->line++;
                csv->after_cr = c == '\r';
                csv->input_pos++;
                continue;
            }
            csv->after_cr = false;
            csv->row++;
            csv->record_line = csv->line;
            csv->state = S_FIELD_START;
            continue;

        case S_FIELD_START:
            if (s_begin_field(csv) < 0)
                return -1;
            if (*at == '"') {
                csv->input_pos++;
                csv->state = S_QUOTED;
            } else
                csv->state = S_UNQUOTED;
            continue;

        case S_UNQUOTED: {
            const unsigned char *stop = csv->unquoted_stop;
            const unsigned char *run = at;
            unsigned char bytes = 0;
            while (at < end && !stop[*at])
                bytes |= *at++;
            csv->field_bytes |= bytes;
            if (at > run && s_append(csv, run, (size_t)(at - run)) < 0)
                return -1;
            csv->input_pos = (size_t)(at - in);
            if (at == end)
                continue;
            c = *at;
            if (c == '"')
                return s_fail(csv, CRM_CSV_STRAY_QUOTE, s_column(csv),
                              "a quote inside an unquoted field");
            if (c == 0)
                return s_fail(csv, CRM_CSV_NUL_BYTE, s_column(csv),
                              "a NUL byte (is the file UTF-16 or not text? it must be UTF-8 "
                              "or Windows-1252 text)");
            csv->input_pos++;
            if (c == delimiter) {
                if (s_end_field(csv) < 0)
                    return -1;
                csv->state = S_FIELD_START;
                continue;
            }
            return s_end_line(csv, c, rec); //  CR or LF
        }

        case S_QUOTED: {
            const unsigned char *stop = csv->quoted_stop;
            const unsigned char *run = at;
            unsigned char bytes = 0;
            while (at < end && !stop[*at])
                bytes |= *at++;
            if (at > run) {
                csv->field_bytes |= bytes;
                csv->after_cr = false;
                if (s_append(csv, run, (size_t)(at - run)) < 0)
                    return -1;
            }
            csv->input_pos = (size_t)(at - in);
            if (at == end)
                continue;
            c = *at;
            if (c == 0)
                return s_fail(csv, CRM_CSV_NUL_BYTE, s_column(csv),
                              "a NUL byte (is the file UTF-16 or not text? it must be UTF-8 "
                              "or Windows-1252 text)");
            csv->input_pos++;
            if (c == '"') {
                csv->after_cr = false;
                csv->state = S_QUOTE_IN_QUOTED;
                continue;
            }
            //  a line end inside the field: kept as it is, and counted as a line
            if (!(c == '\n' && csv->after_cr))
                csv->line++;
            csv->after_cr = c == '\r';
            if (s_append(csv, &c, 1) < 0)
                return -1;
            continue;
        }

        case S_QUOTE_IN_QUOTED:
            c = *at;
            if (c == '"') { //  a doubled quote: one quote in the text
                csv->input_pos++;
                if (s_append(csv, &c, 1) < 0)
                    return -1;
                csv->state = S_QUOTED;
                continue;
            }
            if (c == delimiter) {
                csv->input_pos++;
                if (s_end_field(csv) < 0)
                    return -1;
                csv->state = S_FIELD_START;
                continue;
            }
            if (c == '\r' || c == '\n') {
                csv->input_pos++;
                return s_end_line(csv, c, rec);
            }
            if (c == 0)
                return s_fail(csv, CRM_CSV_NUL_BYTE, s_column(csv),
                              "a NUL byte (is the file UTF-16 or not text? it must be UTF-8 "
                              "or Windows-1252 text)");
            char name[16];
            return s_fail(csv, CRM_CSV_AFTER_QUOTE, s_column(csv),
                          "%s after the closing quote (only the delimiter or the end of the "
                          "line may follow it; a quote inside a quoted field is written \"\")",
                          s_byte_name(c, name, sizeof name));

        case S_END:
        case S_FAILED:
            break;
        }
        assert(false); //  S_END and S_FAILED return before the loop
        return -1;
    }
}

// --------------------------------------------------------------------------------------
//  Construction and queries

crm_csv_t *crm_csv_open(crm_csv_read_fn read, void *ctx, const crm_csv_options_t *opts) {
    crm_csv_options_t defaults = {0};
    if (!opts)
        opts = &defaults;
    int delimiter = opts->delimiter ? opts->delimiter : ',';
    if (!read || (delimiter != ',' && delimiter != ';' && delimiter != '\t' &&
                  delimiter != CRM_CSV_DELIMITER_AUTO))
        return NULL;
    if (opts->encoding != CRM_CSV_ENCODING_AUTO && opts->encoding != CRM_CSV_ENCODING_UTF8 &&
        opts->encoding != CRM_CSV_ENCODING_WINDOWS1252 && opts->encoding != CRM_CSV_ENCODING_LATIN1)
        return NULL;
    crm_csv_t *csv = calloc(1, sizeof *csv);
    if (!csv)
        return NULL;
    csv->input = malloc(S_CHUNK);
    if (!csv->input) {
        free(csv);
        return NULL;
    }
    csv->read = read;
    csv->ctx = ctx;
    csv->opts = *opts;
    csv->opts.delimiter = delimiter;
    if (!csv->opts.max_columns)
        csv->opts.max_columns = S_DEFAULT_MAX_COLUMNS;
    if (!csv->opts.max_field_bytes)
        csv->opts.max_field_bytes = S_DEFAULT_MAX_FIELD_BYTES;
    if (!csv->opts.max_record_bytes)
        csv->opts.max_record_bytes = S_DEFAULT_MAX_RECORD_BYTES;
    csv->delimiter = delimiter == CRM_CSV_DELIMITER_AUTO ? ',' : (char)delimiter;
    csv->encoding = opts->encoding;
    csv->encoding_auto = opts->encoding == CRM_CSV_ENCODING_AUTO;
    csv->line = 1;
    csv->state = S_RECORD_START;
    csv->fd = -1;
    return csv;
}

crm_csv_t *crm_csv_open_memory(const void *data, size_t size, const crm_csv_options_t *opts) {
    crm_csv_t *csv = crm_csv_open(s_read_memory, NULL, opts);
    if (csv) {
        csv->ctx = csv;
        csv->memory.data = data;
        csv->memory.size = data ? size : 0;
    }
    return csv;
}

crm_csv_t *crm_csv_open_file(FILE *file, const crm_csv_options_t *opts) {
    crm_csv_t *csv = file ? crm_csv_open(s_read_file, NULL, opts) : NULL;
    if (csv) {
        csv->ctx = csv;
        csv->file = file;
    }
    return csv;
}

crm_csv_t *crm_csv_open_fd(int fd, const crm_csv_options_t *opts) {
    crm_csv_t *csv = fd >= 0 ? crm_csv_open(s_read_fd, NULL, opts) : NULL;
    if (csv) {
        csv->ctx = csv;
        csv->fd = fd;
    }
    return csv;
}

void crm_csv_close(crm_csv_t **csv_p) {
    assert(csv_p);
    crm_csv_t *csv = *csv_p;
    if (!csv)
        return;
    free(csv->input);
    free(csv->text);
    free(csv->starts);
    free(csv->lengths);
    free(csv->fields);
    free(csv);
    *csv_p = NULL;
}

crm_csv_error_t crm_csv_error_code(const crm_csv_t *csv) {
    return csv->error;
}

const char *crm_csv_error(const crm_csv_t *csv) {
    return csv->message;
}

size_t crm_csv_error_row(const crm_csv_t *csv) {
    return csv->error_row;
}

size_t crm_csv_error_line(const crm_csv_t *csv) {
    return csv->error_line;
}

size_t crm_csv_error_column(const crm_csv_t *csv) {
    return csv->error_column;
}

crm_csv_encoding_t crm_csv_encoding(const crm_csv_t *csv) {
    return csv->encoding;
}

const char *crm_csv_encoding_name(crm_csv_encoding_t encoding) {
    switch (encoding) {
    case CRM_CSV_ENCODING_AUTO:
        return "auto";
    case CRM_CSV_ENCODING_UTF8:
        return "UTF-8";
    case CRM_CSV_ENCODING_WINDOWS1252:
        return "Windows-1252";
    case CRM_CSV_ENCODING_LATIN1:
        return "ISO-8859-1";
    }
    return "unknown";
}

char crm_csv_delimiter(const crm_csv_t *csv) {
    return csv->delimiter;
}

size_t crm_csv_buffer_capacity(const crm_csv_t *csv) {
    return S_CHUNK + csv->text_cap +
           csv->fields_cap * (sizeof *csv->starts + sizeof *csv->lengths + sizeof *csv->fields);
}

// --------------------------------------------------------------------------------------
//  Writer

struct _crm_csv_writer_t {
    char delimiter;
    bool formula_guard;
    FILE *file; //  NULL: the buffer grows until cleared
    char *data;
    size_t size;
    size_t cap;
    size_t fields;   //  fields in the record being written
    bool last_empty; //  the last field was written as nothing at all
};

crm_csv_writer_t *crm_csv_writer_new(const crm_csv_writer_options_t *opts) {
    crm_csv_writer_options_t defaults = {0};
    if (!opts)
        opts = &defaults;
    char delimiter = opts->delimiter ? opts->delimiter : ',';
    if (delimiter != ',' && delimiter != ';' && delimiter != '\t')
        return NULL;
    crm_csv_writer_t *writer = calloc(1, sizeof *writer);
    if (!writer)
        return NULL;
    writer->delimiter = delimiter;
    writer->formula_guard = opts->formula_guard;
    return writer;
}

crm_csv_writer_t *crm_csv_writer_new_file(FILE *file, const crm_csv_writer_options_t *opts) {
    crm_csv_writer_t *writer = file ? crm_csv_writer_new(opts) : NULL;
    if (writer)
        writer->file = file;
    return writer;
}

void crm_csv_writer_destroy(crm_csv_writer_t **writer_p) {
    assert(writer_p);
    crm_csv_writer_t *writer = *writer_p;
    if (!writer)
        return;
    crm_csv_writer_flush(writer);
    free(writer->data);
    free(writer);
    *writer_p = NULL;
}

//  Room for extra more bytes.
static int s_writer_reserve(crm_csv_writer_t *writer, size_t extra) {
    if (writer->size + extra <= writer->cap)
        return 0;
    size_t cap = writer->cap ? writer->cap : 4096;
    while (cap < writer->size + extra)
        cap *= 2;
    char *data = realloc(writer->data, cap);
    if (!data)
        return -1;
    writer->data = data;
    writer->cap = cap;
    return 0;
}

//  A file writer writes out each full chunk.
static int s_writer_spill(crm_csv_writer_t *writer) {
    return writer->file && writer->size >= S_CHUNK ? crm_csv_writer_flush(writer) : 0;
}

//  What a spreadsheet would take for the start of a formula.
static bool s_formula_start(char c) {
    return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

int crm_csv_writer_field(crm_csv_writer_t *writer, const char *text, size_t size) {
    assert(writer && (text || size == 0));
    if (size && memchr(text, 0, size))
        return -1;
    bool guard = writer->formula_guard && size && s_formula_start(text[0]);
    //  Quote what a reader would otherwise split or trim, and a leading U+FEFF, which at
    //  the start of a file a reader takes for the byte order mark.
    bool quote =
        size && (text[0] == ' ' || text[0] == '\t' || text[size - 1] == ' ' ||
                 text[size - 1] == '\t' || (size >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0));
    size_t quotes = 0;
    for (size_t i = 0; i < size; i++) {
        char c = text[i];
        if (c == '"')
            quotes++;
        if (c == '"' || c == '\r' || c == '\n' || c == writer->delimiter)
            quote = true;
    }
    size_t needed = 1 + guard + size + (quote ? 2 + quotes : 0);
    if (s_writer_reserve(writer, needed) < 0)
        return -1;
    char *out = writer->data + writer->size;
    if (writer->fields)
        *out++ = writer->delimiter;
    if (quote)
        *out++ = '"';
    if (guard)
        *out++ = '\'';
    if (quotes == 0) {
        memcpy(out, text, size);
        out += size;
    } else
        for (size_t i = 0; i < size; i++) {
            if (text[i] == '"')
                *out++ = '"';
            *out++ = text[i];
        }
    if (quote)
        *out++ = '"';
    writer->size = (size_t)(out - writer->data);
    writer->fields++;
    writer->last_empty = size == 0;
    return s_writer_spill(writer);
}

int crm_csv_writer_end_record(crm_csv_writer_t *writer) {
    assert(writer);
    if (writer->fields == 0)
        return 0;
    bool lone_empty = writer->fields == 1 && writer->last_empty;
    if (s_writer_reserve(writer, 4) < 0)
        return -1;
    if (lone_empty) {
        memcpy(writer->data + writer->size, "\"\"", 2);
        writer->size += 2;
    }
    memcpy(writer->data + writer->size, "\r\n", 2);
    writer->size += 2;
    writer->fields = 0;
    return s_writer_spill(writer);
}

const char *crm_csv_writer_data(const crm_csv_writer_t *writer, size_t *size) {
    assert(writer);
    if (size)
        *size = writer->size;
    return writer->data ? writer->data : "";
}

void crm_csv_writer_clear(crm_csv_writer_t *writer) {
    assert(writer);
    writer->size = 0;
}

int crm_csv_writer_flush(crm_csv_writer_t *writer) {
    assert(writer);
    if (!writer->file || writer->size == 0)
        return 0;
    size_t size = writer->size;
    writer->size = 0;
    return fwrite(writer->data, 1, size, writer->file) == size ? 0 : -1;
}
