/*  Unit tests for rows.h: a stored record's JSON read back into its message, a record
    that does not parse (500, logged), and a statement's one record or 404. The results
    are built in memory (libpq's PQmakeEmptyPGresult), no database needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "call_fixture.h"
#include "rows.h"

//  A result of one text column holding each of texts (n of them: 0 for none).
static PGresult *s_result(const char *const *texts, int n) {
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc column = {.name = "record", .typid = 25, .typlen = -1, .atttypmod = -1};
    assert_int_equal(PQsetResultAttrs(res, 1, &column), 1);
    for (int i = 0; i < n; i++)
        assert_int_equal(PQsetvalue(res, i, 0, (char *)texts[i], (int)strlen(texts[i])), 1);
    return res;
}

static void test_decode(void **state) {
    (void)state;
    crm_call_t call = {0};
    Crm__FieldError *fe = (Crm__FieldError *)crm_row_decode(
        &call, &crm__field_error__descriptor, "{\"field\":\"limit\",\"message\":\"m\"}", "error");
    assert_non_null(fe);
    assert_string_equal(fe->field, "limit");
    assert_string_equal(call.error, "");
    crm__field_error__free_unpacked(fe, NULL);

    //  A record that does not parse: NULL, and the call's error says which kind.
    assert_null(crm_row_decode(&call, &crm__field_error__descriptor, "{\"nope\":1}", "error"));
    assert_string_equal(call.error, "internal");
    assert_string_equal(call.message, "stored error is unreadable");
    call_fixture_reset(&call);
    assert_null(crm_row_decode(&call, &crm__field_error__descriptor, "not json", "error"));
    //  Without a call (a background reader) it is only logged.
    assert_null(crm_row_decode(NULL, &crm__field_error__descriptor, "[]", "error"));
}

static void test_answer_one(void **state) {
    (void)state;
    crm_call_t call = {0};
    ProtobufCMessage *out = NULL;
    const char *good[] = {"{\"field\":\"name\"}"};
    assert_int_equal(crm_row_answer_one(&call, s_result(good, 1), 201,
                                        &crm__field_error__descriptor, "error", "no such", &out),
                     201);
    assert_non_null(out);
    assert_string_equal(((Crm__FieldError *)out)->field, "name");
    protobuf_c_message_free_unpacked(out, NULL);

    out = NULL;
    assert_int_equal(crm_row_answer_one(&call, s_result(NULL, 0), 200,
                                        &crm__field_error__descriptor, "error",
                                        "no such error of this lead", &out),
                     404);
    assert_null(out);
    assert_string_equal(call.error, "not_found");
    assert_string_equal(call.message, "no such error of this lead");
    call_fixture_reset(&call);

    const char *bad[] = {"{\"field\":3}"};
    assert_int_equal(crm_row_answer_one(&call, s_result(bad, 1), 200, &crm__field_error__descriptor,
                                        "error", "no such", &out),
                     500);
    assert_null(out);
    assert_string_equal(call.error, "internal");
    call_fixture_reset(&call);
}

//  Free the records decoded into list and empty it.
static void s_list_reset(Crm__ReplyHeader *list) {
    for (size_t i = 0; i < list->n_fields; i++)
        crm__field_error__free_unpacked(list->fields[i], NULL);
    free(list->fields);
    *list = (Crm__ReplyHeader)CRM__REPLY_HEADER__INIT;
}

//  A list's page: the first limit records into the repeated field (a ReplyHeader's
//  "fields" stands in for a list response's "items").
static void test_rows_into(void **state) {
    (void)state;
    crm_call_t call = {0};
    const char *three[] = {"{\"field\":\"a\"}", "{\"field\":\"b\"}", "{\"field\":\"c\"}"};
    Crm__ReplyHeader list = CRM__REPLY_HEADER__INIT;
    PGresult *res = s_result(three, 3);
    assert_int_equal(crm_rows_into(&call, res, 2, &list.base, "fields", "error"), 0);
    assert_int_equal(list.n_fields, 2);  // the third is the sign that a next page follows
    assert_string_equal(list.fields[1]->field, "b");
    s_list_reset(&list);
    assert_int_equal(crm_rows_into(&call, res, -1, &list.base, "fields", "error"), 0);
    assert_int_equal(list.n_fields, 3);  // limit < 0: all
    s_list_reset(&list);
    PQclear(res);

    //  A record that does not parse: 500, what came before it kept for the caller to free.
    const char *bad[] = {"{\"field\":\"a\"}", "{\"field\":3}"};
    res = s_result(bad, 2);
    assert_int_equal(crm_rows_into(&call, res, 10, &list.base, "fields", "error"), 500);
    assert_int_equal(list.n_fields, 1);
    assert_string_equal(call.error, "internal");
    s_list_reset(&list);
    PQclear(res);
    call_fixture_reset(&call);

    //  None: an empty list, no array.
    res = s_result(NULL, 0);
    assert_int_equal(crm_rows_into(&call, res, 5, &list.base, "fields", "error"), 0);
    assert_int_equal(list.n_fields, 0);
    assert_null(list.fields);
    PQclear(res);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_answer_one),
        cmocka_unit_test(test_rows_into),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
