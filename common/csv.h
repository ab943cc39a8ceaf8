/*  csv: a streaming CSV reader and writer (RFC 4180), for contact imports and exports.

    The reader pulls records one at a time through a read callback, so a file of a
    million rows streams in the memory of its largest record (bounded by the options),
    never in the memory of the file:

        crm_csv_t *csv = crm_csv_open_fd(fd, NULL);
        crm_csv_record_t rec;
        int rc;
        while ((rc = crm_csv_next(csv, &rec)) == 1)
            use(rec.fields, rec.lengths, rec.count);   // valid until the next call
        if (rc < 0)
            refuse(crm_csv_error(csv));  // "row 7 (line 9), column 3: a quote inside ..."
        crm_csv_close(&csv);

    What it reads: fields separated by the delimiter (',' unless told ';', tab, or to
    pick one of those from the first line); quoted fields with doubled quotes and line
    ends inside; CRLF, LF or a lone CR ending a record; no line end needed after the
    last record; blank lines skipped (they are not records); a UTF-8 byte order mark at
    the start dropped. The header is record 1: the reader does not treat it specially.

    Fields come out as NUL-terminated UTF-8 whatever the file's encoding: UTF-8,
    Windows-1252 (what Excel writes as "CSV" on Windows), ISO-8859-1, or auto: the first
    field with a non-ASCII byte decides (valid UTF-8: UTF-8, otherwise Windows-1252), and
    a later field that does not fit is an error ("mixed encodings") rather than text
    quietly garbled. A UTF-8 byte order mark means UTF-8 whatever the option said.

    Every error names where it is: the record (row, 1-based, the header being row 1),
    the physical line the record starts on, and the column where there is one.

    The writer quotes only what needs quoting, doubles quotes, ends records with CRLF,
    and can neutralise spreadsheet formulas for files people open in Excel:

        crm_csv_writer_t *w = crm_csv_writer_new(&(crm_csv_writer_options_t){
            .formula_guard = true});
        crm_csv_writer_field(w, "=HYPERLINK(...)", 15);  // written as '=HYPERLINK(...)
        crm_csv_writer_end_record(w);
        send(crm_csv_writer_data(w, &size), size);
        crm_csv_writer_destroy(&w);
*/
#ifndef CRM_CSV_H
#define CRM_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

//  --- Reader --------------------------------------------------------------------------

typedef struct _crm_csv_t crm_csv_t;

//  Fill buffer with up to size bytes of input; return how many (may be fewer than
//  asked, even 1), 0 at the end of the input, -1 on error.
typedef ssize_t (*crm_csv_read_fn)(void *ctx, char *buffer, size_t size);

typedef enum {
    CRM_CSV_ENCODING_AUTO = 0,    //  decide from the first non-ASCII field (the default)
    CRM_CSV_ENCODING_UTF8,        //  invalid UTF-8 is an error
    CRM_CSV_ENCODING_WINDOWS1252, //  0x80-0x9F per CP1252; 0x81 0x8D 0x8F 0x90 0x9D are errors
    CRM_CSV_ENCODING_LATIN1,      //  ISO-8859-1: each byte is the code point of its value
} crm_csv_encoding_t;

#define CRM_CSV_DELIMITER_AUTO (-1) //  ',' ';' or tab, whichever the first line has most of

//  Zero (or a NULL pointer to options) means the default for each member.
typedef struct {
    int delimiter;               //  ',' (the default), ';', '\t' or CRM_CSV_DELIMITER_AUTO
    crm_csv_encoding_t encoding; //  the input's encoding; fields are always UTF-8
    size_t max_columns;          //  fields in a record; default 1,000
    size_t max_field_bytes;      //  one field, in UTF-8 bytes; default 1 MiB
    size_t max_record_bytes;     //  all the fields of a record, in UTF-8 bytes; default 4 MiB
} crm_csv_options_t;

//  One record. The strings and arrays belong to the reader and are valid until the next
//  crm_csv_next or crm_csv_close.
typedef struct {
    const char *const *fields; //  count NUL-terminated UTF-8 strings (may hold CR/LF)
    const size_t *lengths;     //  their lengths in bytes
    size_t count;              //  at least 1
    size_t row;                //  the record's number, 1-based: the header is row 1
    size_t line;               //  the physical line (1-based) the record starts on
} crm_csv_record_t;

typedef enum {
    CRM_CSV_OK = 0,
    CRM_CSV_EMPTY,            //  no record at all, not even a header
    CRM_CSV_READ_FAILED,      //  the read callback returned -1
    CRM_CSV_NO_MEMORY,        //  an allocation failed
    CRM_CSV_UTF16,            //  a UTF-16 byte order mark: the file must be UTF-8 or CP1252
    CRM_CSV_NUL_BYTE,         //  a NUL byte (binary, or UTF-16 without a byte order mark)
    CRM_CSV_UNCLOSED_QUOTE,   //  a quoted field still open at the end of the input
    CRM_CSV_STRAY_QUOTE,      //  a quote inside an unquoted field
    CRM_CSV_AFTER_QUOTE,      //  a closing quote followed by other than delimiter or line end
    CRM_CSV_TOO_MANY_COLUMNS, //  more fields than max_columns
    CRM_CSV_FIELD_TOO_LONG,   //  a field over max_field_bytes
    CRM_CSV_RECORD_TOO_LONG,  //  a record over max_record_bytes
    CRM_CSV_INVALID_UTF8,     //  encoding utf8 (or a UTF-8 byte order mark): bytes not UTF-8
    CRM_CSV_UNDEFINED_CP1252, //  a byte Windows-1252 leaves undefined
    CRM_CSV_MIXED_ENCODINGS,  //  auto: a field that does not fit the encoding decided earlier
} crm_csv_error_t;

//  A reader pulling its input through read(ctx, ...). Returns NULL when out of memory or
//  when the options are invalid (a delimiter other than those above, an unknown encoding).
crm_csv_t *crm_csv_open(crm_csv_read_fn read, void *ctx, const crm_csv_options_t *opts);

//  A reader over size bytes at data, which must stay valid until crm_csv_close.
crm_csv_t *crm_csv_open_memory(const void *data, size_t size, const crm_csv_options_t *opts);

//  A reader over an open stream or file descriptor; crm_csv_close leaves it open.
crm_csv_t *crm_csv_open_file(FILE *file, const crm_csv_options_t *opts);
crm_csv_t *crm_csv_open_fd(int fd, const crm_csv_options_t *opts);

//  Close the reader and free what it holds; sets *csv_p to NULL. Idempotent.
void crm_csv_close(crm_csv_t **csv_p);

//  Read the next record into rec: returns 1, or 0 at the end of the input (after at least
//  one record; an input without any is the error CRM_CSV_EMPTY), or -1 on error. After 0
//  or -1 every later call returns the same.
int crm_csv_next(crm_csv_t *csv, crm_csv_record_t *rec);

//  The error that made crm_csv_next return -1, CRM_CSV_OK if none.
crm_csv_error_t crm_csv_error_code(const crm_csv_t *csv);

//  The error as a sentence people can act on, "" if none: "row 7 (line 9), column 3: a
//  quote inside an unquoted field".
const char *crm_csv_error(const crm_csv_t *csv);

//  Where the error is: the record (1-based, the header is 1), the physical line it starts
//  on, the column (1-based). Each is 0 where it does not apply: all three for an error
//  about the whole file (empty, UTF-16), the column for a failed read or no memory.
size_t crm_csv_error_row(const crm_csv_t *csv);
size_t crm_csv_error_line(const crm_csv_t *csv);
size_t crm_csv_error_column(const crm_csv_t *csv);

//  The encoding the input is read as: the option, or for auto what the input decided;
//  CRM_CSV_ENCODING_AUTO while everything read so far is ASCII (valid as either).
crm_csv_encoding_t crm_csv_encoding(const crm_csv_t *csv);

//  "auto", "UTF-8", "Windows-1252", "ISO-8859-1".
const char *crm_csv_encoding_name(crm_csv_encoding_t encoding);

//  The delimiter in use: the option's, or the one picked from the first line (which is
//  known once crm_csv_next has been called).
char crm_csv_delimiter(const crm_csv_t *csv);

//  Bytes the reader holds in buffers: its input chunk plus the largest record so far.
//  Flat over a long file; lets a test show that memory does not grow with the input.
size_t crm_csv_buffer_capacity(const crm_csv_t *csv);

//  --- Writer --------------------------------------------------------------------------

typedef struct _crm_csv_writer_t crm_csv_writer_t;

typedef struct {
    char delimiter;     //  ',' (also when 0), ';' or '\t'
    bool formula_guard; //  prefix ' to fields starting with = + - @ tab or CR (for Excel)
} crm_csv_writer_options_t;

//  A writer into a buffer that grows until crm_csv_writer_clear. NULL on invalid options.
crm_csv_writer_t *crm_csv_writer_new(const crm_csv_writer_options_t *opts);

//  A writer into file, in chunks of 64 KiB; crm_csv_writer_flush writes the rest and
//  crm_csv_writer_destroy flushes too. The file stays open.
crm_csv_writer_t *crm_csv_writer_new_file(FILE *file, const crm_csv_writer_options_t *opts);

//  Flush (for a file writer) and free; sets *writer_p to NULL. Idempotent.
void crm_csv_writer_destroy(crm_csv_writer_t **writer_p);

//  Append one field of size bytes to the current record, quoted if it holds the
//  delimiter, a quote, CR or LF, or starts or ends with a space or tab. Returns -1 if
//  the text holds a NUL byte (nothing is written: no reader would take it back), when
//  out of memory, or when writing a full chunk to the file failed.
int crm_csv_writer_field(crm_csv_writer_t *writer, const char *text, size_t size);

//  End the record with CRLF. A record of one empty field is written as "" so that it is
//  not a blank line; a record without fields writes nothing. 0, or -1 as above.
int crm_csv_writer_end_record(crm_csv_writer_t *writer);

//  What has been written and not yet cleared (or flushed to the file), and its size.
const char *crm_csv_writer_data(const crm_csv_writer_t *writer, size_t *size);

//  Forget the buffered data, e.g. once it has been sent; the buffer keeps its capacity.
void crm_csv_writer_clear(crm_csv_writer_t *writer);

//  Write the buffered data to the file (a file writer); 0, or -1 if the write failed.
int crm_csv_writer_flush(crm_csv_writer_t *writer);

#endif
