/*  Unit tests for csv.h: the streaming reader (RFC 4180, line ends, blank lines, byte
    order marks, delimiters), its errors and where they are, encodings (UTF-8,
    Windows-1252, ISO-8859-1, auto and mixed files), memory that stays flat over a long
    input, and the writer, alone and round-tripping through the reader.

    Every input is read three ways: from memory, one byte per read and seven bytes per
    read, so that each rule is also checked with fields, doubled quotes and CRLFs split
    across reads. Records are shown as "row@line[field][field]" lines.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"

#define S_LEN(literal) (sizeof(literal) - 1)

// --------------------------------------------------------------------------------------
//  Helpers

//  An input handed out chunk bytes per read (all that is asked for when chunk is 0);
//  a read past fail_at bytes (if set) fails.
typedef struct {
    const char *data;
    size_t size;
    size_t pos;
    size_t chunk;
    size_t fail_at;
} s_source_t;

static ssize_t s_read_chunks(void *ctx, char *buffer, size_t size) {
    s_source_t *source = ctx;
    if (source->fail_at && source->pos >= source->fail_at)
        return -1;
    size_t left = source->size - source->pos;
    size_t n = source->chunk && source->chunk < size ? source->chunk : size;
    if (n > left)
        n = left;
    memcpy(buffer, source->data + source->pos, n);
    source->pos += n;
    return (ssize_t)n;
}

//  The ways each input is read: 0 is crm_csv_open_memory, others bytes per read.
static const size_t s_chunks[] = {0, 1, 7};

static crm_csv_t *s_open(s_source_t *source, const char *data, size_t size,
                         const crm_csv_options_t *opts, size_t chunk) {
    *source = (s_source_t){.data = data, .size = size, .chunk = chunk};
    crm_csv_t *csv =
        chunk ? crm_csv_open(s_read_chunks, source, opts) : crm_csv_open_memory(data, size, opts);
    assert_non_null(csv);
    return csv;
}

//  Read every record, rendered as "row@line[field][field]\n"; *rc is the last return.
static char *s_render(crm_csv_t *csv, int *rc) {
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert_non_null(out);
    crm_csv_record_t rec;
    while ((*rc = crm_csv_next(csv, &rec)) == 1) {
        fprintf(out, "%zu@%zu", rec.row, rec.line);
        for (size_t i = 0; i < rec.count; i++) {
            assert_int_equal(strlen(rec.fields[i]), rec.lengths[i]);
            fprintf(out, "[%s]", rec.fields[i]);
        }
        fputc('\n', out);
    }
    fclose(out);
    return text;
}

//  The input reads as expected, the same in every chunking, and ends cleanly.
static void s_check_with(const char *input, size_t size, const crm_csv_options_t *opts,
                         const char *expected) {
    for (size_t i = 0; i < sizeof s_chunks / sizeof s_chunks[0]; i++) {
        s_source_t source;
        crm_csv_t *csv = s_open(&source, input, size, opts, s_chunks[i]);
        int rc;
        char *text = s_render(csv, &rc);
        if (rc != 0)
            print_error("chunk %zu: %s\n", s_chunks[i], crm_csv_error(csv));
        assert_int_equal(rc, 0);
        assert_string_equal(text, expected);
        assert_int_equal(crm_csv_error_code(csv), CRM_CSV_OK);
        assert_string_equal(crm_csv_error(csv), "");
        //  the end stays the end
        crm_csv_record_t rec;
        assert_int_equal(crm_csv_next(csv, &rec), 0);
        free(text);
        crm_csv_close(&csv);
        assert_null(csv);
    }
}

#define s_check(input, expected) s_check_with(input, S_LEN(input), NULL, expected)

//  The input fails with this error, where and as said, after the records expected; the
//  same in every chunking. The error stays.
static void s_check_error_with(const char *input, size_t size, const crm_csv_options_t *opts,
                               const char *expected, crm_csv_error_t code, size_t row, size_t line,
                               size_t column, const char *message) {
    for (size_t i = 0; i < sizeof s_chunks / sizeof s_chunks[0]; i++) {
        s_source_t source;
        crm_csv_t *csv = s_open(&source, input, size, opts, s_chunks[i]);
        int rc;
        char *text = s_render(csv, &rc);
        assert_int_equal(rc, -1);
        assert_string_equal(text, expected);
        assert_int_equal(crm_csv_error_code(csv), code);
        assert_int_equal(crm_csv_error_row(csv), row);
        assert_int_equal(crm_csv_error_line(csv), line);
        assert_int_equal(crm_csv_error_column(csv), column);
        assert_string_equal(crm_csv_error(csv), message);
        crm_csv_record_t rec;
        assert_int_equal(crm_csv_next(csv, &rec), -1);
        free(text);
        crm_csv_close(&csv);
    }
}

#define s_check_error(input, expected, code, row, line, column, message)                           \
    s_check_error_with(input, S_LEN(input), NULL, expected, code, row, line, column, message)

// --------------------------------------------------------------------------------------
//  RFC 4180

static void test_plain_records(void **state) {
    (void)state;
    s_check("name,email\r\nJane,jane@example.com\r\nLee,lee@example.com\r\n",
            "1@1[name][email]\n2@2[Jane][jane@example.com]\n3@3[Lee][lee@example.com]\n");
    //  no line end after the last record
    s_check("a,b\r\nc,d", "1@1[a][b]\n2@2[c][d]\n");
    //  empty fields, at the start, the middle and the end (even at the end of the input)
    s_check(",a,,b,\n,", "1@1[][a][][b][]\n2@2[][]\n");
    //  one field per record
    s_check("a\nb\n", "1@1[a]\n2@2[b]\n");
    //  spaces are data: nothing is trimmed
    s_check(" a , b \n", "1@1[ a ][ b ]\n");
}

static void test_quoted_fields(void **state) {
    (void)state;
    s_check("\"a,b\",\"say \"\"hi\"\"\",\"\"\n", "1@1[a,b][say \"hi\"][]\n");
    s_check("\"\"\"\",\"\"\"\"\"\"\n", "1@1[\"][\"\"]\n");
    //  a quoted field at the end of the input, with or without a line end
    s_check("a,\"b\"", "1@1[a][b]\n");
    s_check("\"a\"\r\n\"b\"\n", "1@1[a]\n2@2[b]\n");
    //  a lone "" is a record of one empty field, not a blank line
    s_check("h\n\"\"\nx\n", "1@1[h]\n2@2[]\n3@3[x]\n");
}

//  Line ends inside quotes are kept as they are and counted as lines: the next record
//  starts on the physical line after them.
static void test_line_ends_inside_quotes(void **state) {
    (void)state;
    s_check("a,\"one\r\ntwo\",b\r\nc,d\r\n", "1@1[a][one\r\ntwo][b]\n2@3[c][d]\n");
    s_check("\"x\ny\nz\"\nnext\n", "1@1[x\ny\nz]\n2@4[next]\n");
    s_check("\"x\ry\"\rnext\r", "1@1[x\ry]\n2@3[next]\n");
    //  CR then LF inside quotes is one line; LF then CR two
    s_check("\"a\r\n\n\r\"\nb\n", "1@1[a\r\n\n\r]\n2@5[b]\n");
}

static void test_line_ends_and_blank_lines(void **state) {
    (void)state;
    s_check("a\nb\r\nc\rd", "1@1[a]\n2@2[b]\n3@3[c]\n4@4[d]\n");
    //  blank lines are not records but count as lines
    s_check("\n\r\n\ra\n\n\r\n\rb\r\n\r\n", "1@4[a]\n2@8[b]\n");
    s_check("a\r\r\nb", "1@1[a]\n2@3[b]\n");
    //  a CRLF split across reads is still one line end (the 1- and 7-byte readers split it)
    s_check("abcdef\r\nxyz\r\n", "1@1[abcdef]\n2@2[xyz]\n");
}

static void test_byte_order_mark(void **state) {
    (void)state;
    s_check("\xef\xbb\xbfname,email\nJane,j@x\n", "1@1[name][email]\n2@2[Jane][j@x]\n");
    //  only at the start: later it is text
    s_check("a\n\xef\xbb\xbf\n", "1@1[a]\n2@2[\xef\xbb\xbf]\n");

    crm_csv_t *csv = crm_csv_open_memory("\xef\xbb\xbfid\n", 6, NULL);
    crm_csv_record_t rec;
    assert_int_equal(crm_csv_next(csv, &rec), 1);
    assert_string_equal(rec.fields[0], "id");
    assert_int_equal(crm_csv_encoding(csv), CRM_CSV_ENCODING_UTF8);
    crm_csv_close(&csv);
}

static void test_header_only(void **state) {
    (void)state;
    s_check("name,email\n", "1@1[name][email]\n");
    s_check("name,email", "1@1[name][email]\n");
}

static void test_empty_input(void **state) {
    (void)state;
    const char *message = "the file is empty: there is no header row";
    s_check_error("", "", CRM_CSV_EMPTY, 0, 0, 0, message);
    s_check_error("\r\n\n\r", "", CRM_CSV_EMPTY, 0, 0, 0, message);
    s_check_error("\xef\xbb\xbf", "", CRM_CSV_EMPTY, 0, 0, 0, message);
    s_check_error("\xef\xbb\xbf\r\n", "", CRM_CSV_EMPTY, 0, 0, 0, message);
}

// --------------------------------------------------------------------------------------
//  Delimiters

static void test_delimiters(void **state) {
    (void)state;
    crm_csv_options_t semicolon = {.delimiter = ';'};
    const char input[] = "a;b,c;\"d;e\"\n";
    s_check_with(input, S_LEN(input), &semicolon, "1@1[a][b,c][d;e]\n");
    crm_csv_options_t tab = {.delimiter = '\t'};
    const char tabbed[] = "a\tb, c\t\"d\te\"\n";
    s_check_with(tabbed, S_LEN(tabbed), &tab, "1@1[a][b, c][d\te]\n");

    //  Only , ; and tab.
    assert_null(crm_csv_open_memory("a", 1, &(crm_csv_options_t){.delimiter = '|'}));
    assert_null(crm_csv_open_memory("a", 1, &(crm_csv_options_t){.encoding = 42}));
    assert_null(crm_csv_open(NULL, NULL, NULL));
}

//  Auto picks whichever of , ; and tab the first line has most of outside quotes.
static void test_delimiter_auto(void **state) {
    (void)state;
    struct {
        const char *input;
        char delimiter;
        const char *expected;
    } cases[] = {
        {"a;b;c\n1,5;2;3\n", ';', "1@1[a][b][c]\n2@2[1,5][2][3]\n"},
        {"a\tb\tc\n1;2\t3\t4\n", '\t', "1@1[a][b][c]\n2@2[1;2][3][4]\n"},
        {"a,b\n1;2;3\n", ',', "1@1[a][b]\n2@2[1;2;3]\n"},
        {"\"x;y;z\",b\n", ',', "1@1[x;y;z][b]\n"},        //  inside quotes: not counted
        {"\"x\n;;;\";b;c\n", ';', "1@1[x\n;;;][b][c]\n"}, //  nor after a quoted line end
        {"single\n", ',', "1@1[single]\n"},               //  none: the default
        {"a,b;c\n", ',', "1@1[a][b;c]\n"},                //  a tie: ','
        {"\xef\xbb\xbf\r\n\na;b\n", ';', "1@3[a][b]\n"},  //  after a BOM and blank lines
        {"a;b", ';', "1@1[a][b]\n"},                      //  no line end at all
    };
    crm_csv_options_t opts = {.delimiter = CRM_CSV_DELIMITER_AUTO};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_check_with(cases[i].input, strlen(cases[i].input), &opts, cases[i].expected);
        crm_csv_t *csv = crm_csv_open_memory(cases[i].input, strlen(cases[i].input), &opts);
        crm_csv_record_t rec;
        assert_int_equal(crm_csv_next(csv, &rec), 1);
        assert_int_equal(crm_csv_delimiter(csv), cases[i].delimiter);
        crm_csv_close(&csv);
    }
}

// --------------------------------------------------------------------------------------
//  Errors

static void test_unclosed_quote(void **state) {
    (void)state;
    s_check_error("h\nx\ny\nz\n\"abc\ndef\n", "1@1[h]\n2@2[x]\n3@3[y]\n4@4[z]\n",
                  CRM_CSV_UNCLOSED_QUOTE, 5, 5, 1,
                  "row 5 (line 5), column 1: quoted field opened here is never closed");
    s_check_error("a,b\nc,\"d", "1@1[a][b]\n", CRM_CSV_UNCLOSED_QUOTE, 2, 2, 2,
                  "row 2 (line 2), column 2: quoted field opened here is never closed");
}

//  Row 7 starts on line 9: row 2 spans lines 2-4.
static void test_quote_in_unquoted_field(void **state) {
    (void)state;
    s_check_error("a,b,c\n\"x\ny\nz\",b,c\n3,,\n4,,\n5,,\n6,,\n1,2,3\"x\n",
                  "1@1[a][b][c]\n2@2[x\ny\nz][b][c]\n3@5[3][][]\n4@6[4][][]\n5@7[5][][]\n"
                  "6@8[6][][]\n",
                  CRM_CSV_STRAY_QUOTE, 7, 9, 3,
                  "row 7 (line 9), column 3: a quote inside an unquoted field");
    s_check_error("ab\"c\"", "", CRM_CSV_STRAY_QUOTE, 1, 1, 1,
                  "row 1 (line 1), column 1: a quote inside an unquoted field");
}

static void test_text_after_closing_quote(void **state) {
    (void)state;
    s_check_error("a,b\nx,\"y\"z\n", "1@1[a][b]\n", CRM_CSV_AFTER_QUOTE, 2, 2, 2,
                  "row 2 (line 2), column 2: 'z' after the closing quote (only the delimiter "
                  "or the end of the line may follow it; a quote inside a quoted field is "
                  "written \"\")");
    //  a space after the quote is the common case
    s_check_error("\"a\" ,b\n", "", CRM_CSV_AFTER_QUOTE, 1, 1, 1,
                  "row 1 (line 1), column 1: ' ' after the closing quote (only the delimiter "
                  "or the end of the line may follow it; a quote inside a quoted field is "
                  "written \"\")");
}

static void test_nul_byte(void **state) {
    (void)state;
    const char *message = "a NUL byte (is the file UTF-16 or not text? it must be UTF-8 or "
                          "Windows-1252 text)";
    char expected[200];
    snprintf(expected, sizeof expected, "row 2 (line 2), column 2: %s", message);
    s_check_error("a,b\nc,d\0e\n", "1@1[a][b]\n", CRM_CSV_NUL_BYTE, 2, 2, 2, expected);
    s_check_error("a,b\nc,\"d\0e\"\n", "1@1[a][b]\n", CRM_CSV_NUL_BYTE, 2, 2, 2, expected);
    s_check_error("a,b\nc,\"d\"\0\n", "1@1[a][b]\n", CRM_CSV_NUL_BYTE, 2, 2, 2, expected);
    //  UTF-16 without a byte order mark shows up as NULs
    snprintf(expected, sizeof expected, "row 1 (line 1), column 1: %s", message);
    s_check_error("n\0a\0m\0e\0", "", CRM_CSV_NUL_BYTE, 1, 1, 1, expected);
}

static void test_utf16(void **state) {
    (void)state;
    const char *message = "the file is UTF-16 (it starts with a UTF-16 byte order mark); it "
                          "must be UTF-8 or Windows-1252 (in Excel: save as \"CSV UTF-8\")";
    s_check_error("\xff\xfen\0a\0m\0e\0\r\0\n\0", "", CRM_CSV_UTF16, 0, 0, 0, message);
    s_check_error("\xfe\xff\0n\0a\0m\0e", "", CRM_CSV_UTF16, 0, 0, 0, message);
}

static void test_too_many_columns(void **state) {
    (void)state;
    //  A header, then a row of 10,000 columns.
    size_t size = 2 + 10000 * 2;
    char *input = malloc(size);
    memcpy(input, "h\n", 2);
    for (size_t i = 0; i < 10000; i++) {
        input[2 + i * 2] = 'x';
        input[2 + i * 2 + 1] = i + 1 < 10000 ? ',' : '\n';
    }
    s_check_error_with(input, size, NULL, "1@1[h]\n", CRM_CSV_TOO_MANY_COLUMNS, 2, 2, 1001,
                       "row 2 (line 2), column 1001: more than 1000 columns");
    //  the limit did not let the reader hold the whole row
    crm_csv_t *csv = crm_csv_open_memory(input, size, NULL);
    crm_csv_record_t rec;
    while (crm_csv_next(csv, &rec) == 1)
        ;
    assert_true(crm_csv_buffer_capacity(csv) < 128 * 1024);
    crm_csv_close(&csv);

    //  Allowed, it reads.
    csv = crm_csv_open_memory(input, size, &(crm_csv_options_t){.max_columns = 10000});
    assert_int_equal(crm_csv_next(csv, &rec), 1);
    assert_int_equal(crm_csv_next(csv, &rec), 1);
    assert_int_equal(rec.count, 10000);
    assert_string_equal(rec.fields[9999], "x");
    assert_int_equal(crm_csv_next(csv, &rec), 0);
    crm_csv_close(&csv);
    free(input);
}

static void test_field_and_record_limits(void **state) {
    (void)state;
    crm_csv_options_t opts = {.max_field_bytes = 10, .max_record_bytes = 25};
    const char fits[] = "0123456789,\"01234\"\"6789\",01234\n";
    s_check_with(fits, S_LEN(fits), &opts, "1@1[0123456789][01234\"6789][01234]\n");
    const char field[] = "a\n01234567890\n";
    s_check_error_with(field, S_LEN(field), &opts, "1@1[a]\n", CRM_CSV_FIELD_TOO_LONG, 2, 2, 1,
                       "row 2 (line 2), column 1: field longer than 10 bytes");
    const char quoted[] = "\"0123456789\"\"\"\n";
    s_check_error_with(quoted, S_LEN(quoted), &opts, "", CRM_CSV_FIELD_TOO_LONG, 1, 1, 1,
                       "row 1 (line 1), column 1: field longer than 10 bytes");
    const char record[] = "0123456789,0123456789,012345\n";
    s_check_error_with(record, S_LEN(record), &opts, "", CRM_CSV_RECORD_TOO_LONG, 1, 1, 3,
                       "row 1 (line 1), column 3: record longer than 25 bytes");
    //  past both: the record's limit comes first (at the 6th byte of the field, the
    //  field's at the 11th), however the input is split into reads
    const char both[] = "0123456789,0123456789,0123456789xx\n";
    s_check_error_with(both, S_LEN(both), &opts, "", CRM_CSV_RECORD_TOO_LONG, 1, 1, 3,
                       "row 1 (line 1), column 3: record longer than 25 bytes");
    //  limits count the UTF-8 that comes out: 0xE9 is 2 bytes of it
    crm_csv_options_t latin1 = {.max_field_bytes = 10, .encoding = CRM_CSV_ENCODING_LATIN1};
    const char widened[] = "\xe9\xe9\xe9\xe9\xe9x\n";
    s_check_error_with(widened, S_LEN(widened), &latin1, "", CRM_CSV_FIELD_TOO_LONG, 1, 1, 1,
                       "row 1 (line 1), column 1: field longer than 10 bytes");

    //  The defaults: 1 MiB a field.
    size_t size = 1024 * 1024 + 1;
    char *big = malloc(size + 1);
    memset(big, 'x', size);
    big[size] = '\n';
    crm_csv_t *csv = crm_csv_open_memory(big, size + 1, NULL);
    crm_csv_record_t rec;
    assert_int_equal(crm_csv_next(csv, &rec), -1);
    assert_string_equal(crm_csv_error(csv), "row 1 (line 1), column 1: field longer than "
                                            "1048576 bytes");
    crm_csv_close(&csv);
    csv = crm_csv_open_memory(big + 1, size, NULL); //  exactly 1 MiB fits
    assert_int_equal(crm_csv_next(csv, &rec), 1);
    assert_int_equal(rec.lengths[0], 1024 * 1024);
    crm_csv_close(&csv);
    free(big);

    //  And 4 MiB a record: four fields of 1 MiB fit, a byte more in a fifth does not.
    size = 4 * (1024 * 1024 + 1) + 1;
    big = malloc(size);
    memset(big, 'x', size);
    for (size_t i = 1; i <= 4; i++)
        big[i * (1024 * 1024 + 1) - 1] = i < 4 ? ',' : '\n';
    csv = crm_csv_open_memory(big, size - 2, NULL); //  the four fields, no line end
    assert_int_equal(crm_csv_next(csv, &rec), 1);
    assert_int_equal(rec.count, 4);
    crm_csv_close(&csv);
    big[size - 2] = ','; //  "...,x": a fifth field of one byte
    csv = crm_csv_open_memory(big, size, NULL);
    assert_int_equal(crm_csv_next(csv, &rec), -1);
    assert_int_equal(crm_csv_error_code(csv), CRM_CSV_RECORD_TOO_LONG);
    assert_string_equal(crm_csv_error(csv), "row 1 (line 1), column 5: record longer than "
                                            "4194304 bytes");
    crm_csv_close(&csv);
    free(big);
}

static ssize_t s_read_fails(void *ctx, char *buffer, size_t size) {
    (void)ctx, (void)buffer, (void)size;
    return -1;
}

static void test_read_error(void **state) {
    (void)state;
    const char input[] = "a,b\nc,d\ne,f\n";
    s_source_t source = {.data = input, .size = S_LEN(input), .chunk = 1, .fail_at = 6};
    crm_csv_t *csv = crm_csv_open(s_read_chunks, &source, NULL);
    crm_csv_record_t rec;
    assert_int_equal(crm_csv_next(csv, &rec), 1);
    assert_int_equal(crm_csv_next(csv, &rec), -1);
    assert_int_equal(crm_csv_error_code(csv), CRM_CSV_READ_FAILED);
    assert_string_equal(crm_csv_error(csv), "row 2 (line 2): could not read the input");
    crm_csv_close(&csv);

    csv = crm_csv_open(s_read_fails, NULL, NULL);
    assert_int_equal(crm_csv_next(csv, &rec), -1);
    assert_int_equal(crm_csv_error_code(csv), CRM_CSV_READ_FAILED);
    assert_string_equal(crm_csv_error(csv), "row 1 (line 1): could not read the input");
    crm_csv_close(&csv);
    crm_csv_close(&csv); //  idempotent
}

// --------------------------------------------------------------------------------------
//  Encodings

static void test_utf8(void **state) {
    (void)state;
    crm_csv_options_t utf8 = {.encoding = CRM_CSV_ENCODING_UTF8};
    const char input[] = "Jos\xc3\xa9,\xe2\x82\xac 5,\xf0\x9f\x9a\x97\n";
    s_check_with(input, S_LEN(input), &utf8,
                 "1@1[Jos\xc3\xa9][\xe2\x82\xac 5][\xf0\x9f\x9a\x97]\n");
    const char bad[] = "a,b\nx,caf\xe9\n";
    s_check_error_with(bad, S_LEN(bad), &utf8, "1@1[a][b]\n", CRM_CSV_INVALID_UTF8, 2, 2, 2,
                       "row 2 (line 2), column 2: invalid UTF-8 (byte 0xE9 at byte 4 of the "
                       "field)");
    //  overlong forms and surrogates are not UTF-8
    const char overlong[] = "\xc0\xaf\n";
    s_check_error_with(overlong, S_LEN(overlong), &utf8, "", CRM_CSV_INVALID_UTF8, 1, 1, 1,
                       "row 1 (line 1), column 1: invalid UTF-8 (byte 0xC0 at byte 1 of the "
                       "field)");
    const char surrogate[] = "\"a\n\xed\xa0\x80\"\n";
    s_check_error_with(surrogate, S_LEN(surrogate), &utf8, "", CRM_CSV_INVALID_UTF8, 1, 1, 1,
                       "row 1 (line 1), column 1: invalid UTF-8 (byte 0xED at byte 3 of the "
                       "field)");
}

//  Every byte 0x80-0xFF: Windows-1252's own characters for 0x80-0x9F (five undefined),
//  ISO-8859-1 above, UTF-8 out.
static void test_windows1252(void **state) {
    (void)state;
    crm_csv_options_t cp1252 = {.encoding = CRM_CSV_ENCODING_WINDOWS1252};
    const char input[] = "\x80 5,it\x92s,\x93quoted\x94,caf\xe9,\xff\n";
    s_check_with(input, S_LEN(input), &cp1252,
                 "1@1[\xe2\x82\xac 5][it\xe2\x80\x99s][\xe2\x80\x9cquoted\xe2\x80\x9d]"
                 "[caf\xc3\xa9][\xc3\xbf]\n");
    //  € ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜ ™ š › œ ž Ÿ
    const char *c1 = "\xe2\x82\xac|\xe2\x80\x9a|\xc6\x92|\xe2\x80\x9e|\xe2\x80\xa6|"
                     "\xe2\x80\xa0|\xe2\x80\xa1|\xcb\x86|\xe2\x80\xb0|\xc5\xa0|\xe2\x80\xb9|"
                     "\xc5\x92|\xc5\xbd|\xe2\x80\x98|\xe2\x80\x99|\xe2\x80\x9c|\xe2\x80\x9d|"
                     "\xe2\x80\xa2|\xe2\x80\x93|\xe2\x80\x94|\xcb\x9c|\xe2\x84\xa2|\xc5\xa1|"
                     "\xe2\x80\xba|\xc5\x93|\xc5\xbe|\xc5\xb8";
    const char defined[] = "\x80|\x82|\x83|\x84|\x85|\x86|\x87|\x88|\x89|\x8a|\x8b|\x8c|\x8e|"
                           "\x91|\x92|\x93|\x94|\x95|\x96|\x97|\x98|\x99|\x9a|\x9b|\x9c|\x9e|"
                           "\x9f";
    crm_csv_t *csv = crm_csv_open_memory(defined, S_LEN(defined), &cp1252);
    crm_csv_record_t rec;
    assert_int_equal(crm_csv_next(csv, &rec), 1);
    assert_string_equal(rec.fields[0], c1);
    crm_csv_close(&csv);

    //  A high byte of ISO-8859-1's range is its own code point.
    char high[96];
    for (int b = 0xa0; b <= 0xff; b++)
        high[b - 0xa0] = (char)b;
    csv = crm_csv_open_memory(high, 96, &cp1252);
    assert_int_equal(crm_csv_next(csv, &rec), 1);
    assert_int_equal(rec.lengths[0], 2 * 96);
    for (int b = 0xa0; b <= 0xff; b++) {
        assert_int_equal((unsigned char)rec.fields[0][(b - 0xa0) * 2], 0xc0 | (b >> 6));
        assert_int_equal((unsigned char)rec.fields[0][(b - 0xa0) * 2 + 1], 0x80 | (b & 0x3f));
    }
    crm_csv_close(&csv);

    //  The five bytes the code page leaves undefined.
    const unsigned char undefined[] = {0x81, 0x8d, 0x8f, 0x90, 0x9d};
    for (size_t i = 0; i < sizeof undefined; i++) {
        char bad[] = "h\nok,x?\n";
        bad[6] = (char)undefined[i];
        char message[100];
        snprintf(message, sizeof message,
                 "row 2 (line 2), column 2: byte 0x%02X is not a Windows-1252 character",
                 undefined[i]);
        s_check_error_with(bad, S_LEN(bad), &cp1252, "1@1[h]\n", CRM_CSV_UNDEFINED_CP1252, 2, 2, 2,
                           message);
    }
    //  Told Windows-1252, UTF-8 bytes are taken as such: no guessing.
    const char utf8[] = "caf\xc3\xa9\n";
    s_check_with(utf8, S_LEN(utf8), &cp1252, "1@1[caf\xc3\x83\xc2\xa9]\n");
}

static void test_latin1(void **state) {
    (void)state;
    crm_csv_options_t latin1 = {.encoding = CRM_CSV_ENCODING_LATIN1};
    const char input[] = "\x80,\x81,\x92,caf\xe9,\xff\n";
    s_check_with(input, S_LEN(input), &latin1,
                 "1@1[\xc2\x80][\xc2\x81][\xc2\x92][caf\xc3\xa9][\xc3\xbf]\n");
    crm_csv_t *csv = crm_csv_open_memory(input, S_LEN(input), &latin1);
    crm_csv_record_t rec;
    assert_int_equal(crm_csv_next(csv, &rec), 1);
    assert_int_equal(crm_csv_encoding(csv), CRM_CSV_ENCODING_LATIN1);
    crm_csv_close(&csv);
}

//  Auto: ASCII decides nothing; the first non-ASCII field decides for the file.
static void test_encoding_auto(void **state) {
    (void)state;
    struct {
        const char *input;
        crm_csv_encoding_t encoding;
        const char *expected;
    } cases[] = {
        {"a,b\n1,2\n", CRM_CSV_ENCODING_AUTO, "1@1[a][b]\n2@2[1][2]\n"},
        {"a\nJos\xc3\xa9\nM\xc3\xbcller\n", CRM_CSV_ENCODING_UTF8,
         "1@1[a]\n2@2[Jos\xc3\xa9]\n3@3[M\xc3\xbcller]\n"},
        {"a\nJos\xe9\nM\xfcller\n\x80\n", CRM_CSV_ENCODING_WINDOWS1252,
         "1@1[a]\n2@2[Jos\xc3\xa9]\n3@3[M\xc3\xbcller]\n4@4[\xe2\x82\xac]\n"},
        {"\"it\x92s\"\n", CRM_CSV_ENCODING_WINDOWS1252, "1@1[it\xe2\x80\x99s]\n"},
        {"\xef\xbb\xbfid\n", CRM_CSV_ENCODING_UTF8, "1@1[id]\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_check_with(cases[i].input, strlen(cases[i].input), NULL, cases[i].expected);
        crm_csv_t *csv = crm_csv_open_memory(cases[i].input, strlen(cases[i].input), NULL);
        crm_csv_record_t rec;
        while (crm_csv_next(csv, &rec) == 1)
            ;
        assert_int_equal(crm_csv_encoding(csv), cases[i].encoding);
        crm_csv_close(&csv);
    }
    assert_string_equal(crm_csv_encoding_name(CRM_CSV_ENCODING_WINDOWS1252), "Windows-1252");
    assert_string_equal(crm_csv_encoding_name(CRM_CSV_ENCODING_UTF8), "UTF-8");
    assert_string_equal(crm_csv_encoding_name(CRM_CSV_ENCODING_LATIN1), "ISO-8859-1");
    assert_string_equal(crm_csv_encoding_name(CRM_CSV_ENCODING_AUTO), "auto");

    //  A byte neither encoding has.
    s_check_error("a\nx\x81y\n", "1@1[a]\n", CRM_CSV_UNDEFINED_CP1252, 2, 2, 1,
                  "row 2 (line 2), column 1: byte 0x81 is neither UTF-8 nor Windows-1252 text");
}

static void test_mixed_encodings(void **state) {
    (void)state;
    //  UTF-8 first, then a Windows-1252 é
    s_check_error("name,city\nJos\xc3\xa9,Lyon\nAna,Mal\xe9\n",
                  "1@1[name][city]\n2@2[Jos\xc3\xa9][Lyon]\n", CRM_CSV_MIXED_ENCODINGS, 3, 3, 2,
                  "row 3 (line 3), column 2: mixed encodings: this field is not UTF-8 (byte "
                  "0xE9) but the file was read as UTF-8 from row 2, column 1");
    //  Windows-1252 first, then UTF-8
    s_check_error("name,city\nAna,Mal\xe9\nJos\xc3\xa9,Lyon\n",
                  "1@1[name][city]\n2@2[Ana][Mal\xc3\xa9]\n", CRM_CSV_MIXED_ENCODINGS, 3, 3, 1,
                  "row 3 (line 3), column 1: mixed encodings: this field is UTF-8 but the "
                  "file was read as Windows-1252 from row 2, column 2");
    //  a UTF-8 byte order mark decides at once
    s_check_error("\xef\xbb\xbfname\nMal\xe9\n", "1@1[name]\n", CRM_CSV_MIXED_ENCODINGS, 2, 2, 1,
                  "row 2 (line 2), column 1: mixed encodings: this field is not UTF-8 (byte "
                  "0xE9) but the file was read as UTF-8 from its byte order mark");
    //  even when the option said otherwise, the mark wins
    crm_csv_options_t cp1252 = {.encoding = CRM_CSV_ENCODING_WINDOWS1252};
    const char marked[] = "\xef\xbb\xbfJos\xc3\xa9\n";
    s_check_with(marked, S_LEN(marked), &cp1252, "1@1[Jos\xc3\xa9]\n");
}

// --------------------------------------------------------------------------------------
//  Streaming

//  Generated rows, produced on demand: the input never exists whole.
typedef struct {
    size_t rows;
    size_t next;
    char pending[128];
    size_t pending_len;
    size_t pending_pos;
} s_generator_t;

static ssize_t s_read_generated(void *ctx, char *buffer, size_t size) {
    s_generator_t *gen = ctx;
    size_t written = 0;
    while (written < size) {
        if (gen->pending_pos == gen->pending_len) {
            if (gen->next == gen->rows)
                break;
            gen->pending_len = (size_t)snprintf(gen->pending, sizeof gen->pending,
                                                "%zu,Jos\xc3\xa9,\"Dealer %zu, Inc.\",\"said "
                                                "\"\"call\r\nme\"\"\",x%zu@example.com\r\n",
                                                gen->next, gen->next % 97, gen->next);
            gen->pending_pos = 0;
            gen->next++;
        }
        size_t n = gen->pending_len - gen->pending_pos;
        if (n > size - written)
            n = size - written;
        memcpy(buffer + written, gen->pending + gen->pending_pos, n);
        gen->pending_pos += n;
        written += n;
    }
    return (ssize_t)written;
}

static void test_memory_stays_flat(void **state) {
    (void)state;
    s_generator_t gen = {.rows = 200000};
    crm_csv_t *csv = crm_csv_open(s_read_generated, &gen, NULL);
    crm_csv_record_t rec;
    size_t rows = 0, capacity_early = 0;
    char expected[64];
    int rc;
    while ((rc = crm_csv_next(csv, &rec)) == 1) {
        assert_int_equal(rec.count, 5);
        assert_int_equal(rec.row, rows + 1);
        assert_int_equal(rec.line, rows * 2 + 1); //  each row spans two lines
        snprintf(expected, sizeof expected, "x%zu@example.com", rows);
        assert_string_equal(rec.fields[4], expected);
        assert_string_equal(rec.fields[3], "said \"call\r\nme\"");
        if (++rows == 1000)
            capacity_early = crm_csv_buffer_capacity(csv);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(rows, 200000);
    //  the input is 16 MB; the reader holds its 64 KiB chunk and one record
    assert_int_equal(crm_csv_buffer_capacity(csv), capacity_early);
    assert_true(crm_csv_buffer_capacity(csv) < 80 * 1024);
    crm_csv_close(&csv);
}

static void test_file_and_fd(void **state) {
    (void)state;
    FILE *file = tmpfile();
    assert_non_null(file);
    fputs("id;name\r\n1;Jane\r\n", file);
    rewind(file);
    crm_csv_options_t opts = {.delimiter = ';'};
    crm_csv_t *csv = crm_csv_open_file(file, &opts);
    int rc;
    char *text = s_render(csv, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(text, "1@1[id][name]\n2@2[1][Jane]\n");
    free(text);
    crm_csv_close(&csv);

    rewind(file);
    csv = crm_csv_open_fd(fileno(file), &opts);
    text = s_render(csv, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(text, "1@1[id][name]\n2@2[1][Jane]\n");
    free(text);
    crm_csv_close(&csv);
    fclose(file);

    assert_null(crm_csv_open_file(NULL, NULL));
    assert_null(crm_csv_open_fd(-1, NULL));
}

// --------------------------------------------------------------------------------------
//  Writer

//  One record of the given fields, written; the text it made.
static char *s_write(const crm_csv_writer_options_t *opts, const char *const *fields,
                     size_t count) {
    crm_csv_writer_t *writer = crm_csv_writer_new(opts);
    assert_non_null(writer);
    for (size_t i = 0; i < count; i++)
        assert_int_equal(crm_csv_writer_field(writer, fields[i], strlen(fields[i])), 0);
    assert_int_equal(crm_csv_writer_end_record(writer), 0);
    size_t size;
    const char *data = crm_csv_writer_data(writer, &size);
    char *copy = strndup(data, size);
    crm_csv_writer_destroy(&writer);
    assert_null(writer);
    return copy;
}

static void test_writer_quoting(void **state) {
    (void)state;
    struct {
        const char *field;
        const char *written;
    } cases[] = {
        {"plain", "plain"},
        {"", ""},
        {"a,b", "\"a,b\""},
        {"a;b", "a;b"},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"\"", "\"\"\"\""},
        {"two\r\nlines", "\"two\r\nlines\""},
        {"cr\r", "\"cr\r\""},
        {"lf\n", "\"lf\n\""},
        {" lead", "\" lead\""},
        {"trail ", "\"trail \""},
        {"in side", "in side"},
        {"=SUM(A1)", "=SUM(A1)"}, //  no guard unless asked
        {"Jos\xc3\xa9", "Jos\xc3\xa9"},
        {"\xef\xbb\xbfx", "\"\xef\xbb\xbfx\""}, //  not to be taken for a byte order mark
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *fields[] = {"a", cases[i].field};
        char *text = s_write(NULL, fields, 2);
        char expected[64];
        snprintf(expected, sizeof expected, "a,%s\r\n", cases[i].written);
        assert_string_equal(text, expected);
        free(text);
    }
    //  a record of one empty field must not read as a blank line
    const char *empty[] = {""};
    char *text = s_write(NULL, empty, 1);
    assert_string_equal(text, "\"\"\r\n");
    free(text);
    //  with ';', a comma is plain and a semicolon is quoted
    const char *fields[] = {"a,b", "c;d"};
    text = s_write(&(crm_csv_writer_options_t){.delimiter = ';'}, fields, 2);
    assert_string_equal(text, "a,b;\"c;d\"\r\n");
    free(text);
    const char *tabbed[] = {"a b", "c\td"};
    text = s_write(&(crm_csv_writer_options_t){.delimiter = '\t'}, tabbed, 2);
    assert_string_equal(text, "a b\t\"c\td\"\r\n");
    free(text);

    crm_csv_writer_t *writer = crm_csv_writer_new(NULL);
    assert_int_equal(crm_csv_writer_field(writer, "a\0b", 3), -1); //  no reader takes a NUL
    assert_int_equal(crm_csv_writer_end_record(writer), 0);        //  nothing to end
    size_t size;
    assert_string_equal(crm_csv_writer_data(writer, &size), "");
    assert_int_equal(size, 0);
    crm_csv_writer_destroy(&writer);
    crm_csv_writer_destroy(&writer);
    assert_null(crm_csv_writer_new(&(crm_csv_writer_options_t){.delimiter = '|'}));
}

//  Fields a spreadsheet would run as formulas get a leading apostrophe.
static void test_writer_formula_guard(void **state) {
    (void)state;
    struct {
        const char *field;
        const char *written;
    } cases[] = {
        {"=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""},
        {"+1 202 555 0142", "'+1 202 555 0142"},
        {"-2+3", "'-2+3"},
        {"@SUM(A1)", "'@SUM(A1)"},
        {"\tx", "\"'\tx\""},
        {"\rx", "\"'\rx\""},
        {"a=b", "a=b"},
        {"", ""},
    };
    crm_csv_writer_options_t guard = {.formula_guard = true};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *fields[] = {cases[i].field, "z"};
        char *text = s_write(&guard, fields, 2);
        char expected[64];
        snprintf(expected, sizeof expected, "%s,z\r\n", cases[i].written);
        assert_string_equal(text, expected);
        free(text);
    }
}

static void test_writer_file(void **state) {
    (void)state;
    FILE *file = tmpfile();
    crm_csv_writer_t *writer = crm_csv_writer_new_file(file, NULL);
    //  more than a chunk, so some is written before the flush
    char field[100];
    memset(field, 'y', sizeof field);
    for (int row = 0; row < 2000; row++) {
        assert_int_equal(crm_csv_writer_field(writer, "a,b", 3), 0);
        assert_int_equal(crm_csv_writer_field(writer, field, sizeof field), 0);
        assert_int_equal(crm_csv_writer_end_record(writer), 0);
    }
    crm_csv_writer_destroy(&writer);
    assert_int_equal(ftell(file), 2000 * (5 + 1 + 100 + 2));
    rewind(file);
    crm_csv_t *csv = crm_csv_open_file(file, NULL);
    crm_csv_record_t rec;
    size_t rows = 0;
    while (crm_csv_next(csv, &rec) == 1) {
        assert_string_equal(rec.fields[0], "a,b");
        assert_int_equal(rec.lengths[1], 100);
        rows++;
    }
    assert_int_equal(rows, 2000);
    crm_csv_close(&csv);
    fclose(file);
}

//  Whatever the fields, the reader gets back exactly what the writer was given.
static void test_writer_round_trip(void **state) {
    (void)state;
    // clang-format off
    static const char *pieces[] = {
        "a", "Jos\xc3\xa9", ",", ";", "\t", "\"", "\"\"", "\r", "\n", "\r\n", " ", "=1",
        "\xe2\x82\xac", "\xef\xbb\xbf", "", "x y", "'", "\xf0\x9f\x9a\x97",
    };
    // clang-format on
    const size_t n_pieces = sizeof pieces / sizeof pieces[0];
    const char delimiters[] = {',', ';', '\t'};
    uint32_t seed = 12345;
    for (size_t d = 0; d < 3; d++) {
        crm_csv_writer_t *writer =
            crm_csv_writer_new(&(crm_csv_writer_options_t){.delimiter = delimiters[d]});
        char expected[300][40];
        size_t counts[100];
        size_t n = 0;
        for (size_t row = 0; row < 100; row++) {
            seed = seed * 1103515245 + 12345;
            counts[row] = 1 + (seed >> 16) % 3;
            for (size_t col = 0; col < counts[row]; col++, n++) {
                expected[n][0] = 0;
                seed = seed * 1103515245 + 12345;
                for (size_t k = (seed >> 16) % 5; k > 0; k--) {
                    seed = seed * 1103515245 + 12345;
                    strcat(expected[n], pieces[(seed >> 16) % n_pieces]);
                }
                assert_int_equal(crm_csv_writer_field(writer, expected[n], strlen(expected[n])), 0);
            }
            assert_int_equal(crm_csv_writer_end_record(writer), 0);
        }
        size_t size;
        const char *data = crm_csv_writer_data(writer, &size);
        for (size_t c = 0; c < sizeof s_chunks / sizeof s_chunks[0]; c++) {
            s_source_t source;
            crm_csv_options_t opts = {.delimiter = delimiters[d]};
            crm_csv_t *csv = s_open(&source, data, size, &opts, s_chunks[c]);
            crm_csv_record_t rec;
            size_t at = 0;
            for (size_t row = 0; row < 100; row++) {
                assert_int_equal(crm_csv_next(csv, &rec), 1);
                assert_int_equal(rec.count, counts[row]);
                for (size_t col = 0; col < rec.count; col++, at++)
                    assert_string_equal(rec.fields[col], expected[at]);
            }
            assert_int_equal(crm_csv_next(csv, &rec), 0);
            crm_csv_close(&csv);
        }
        crm_csv_writer_destroy(&writer);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_records),
        cmocka_unit_test(test_quoted_fields),
        cmocka_unit_test(test_line_ends_inside_quotes),
        cmocka_unit_test(test_line_ends_and_blank_lines),
        cmocka_unit_test(test_byte_order_mark),
        cmocka_unit_test(test_header_only),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_delimiters),
        cmocka_unit_test(test_delimiter_auto),
        cmocka_unit_test(test_unclosed_quote),
        cmocka_unit_test(test_quote_in_unquoted_field),
        cmocka_unit_test(test_text_after_closing_quote),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_utf16),
        cmocka_unit_test(test_too_many_columns),
        cmocka_unit_test(test_field_and_record_limits),
        cmocka_unit_test(test_read_error),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_windows1252),
        cmocka_unit_test(test_latin1),
        cmocka_unit_test(test_encoding_auto),
        cmocka_unit_test(test_mixed_encodings),
        cmocka_unit_test(test_memory_stays_flat),
        cmocka_unit_test(test_file_and_fd),
        cmocka_unit_test(test_writer_quoting),
        cmocka_unit_test(test_writer_formula_guard),
        cmocka_unit_test(test_writer_file),
        cmocka_unit_test(test_writer_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
