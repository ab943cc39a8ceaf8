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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_answer_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
