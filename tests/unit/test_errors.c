/*  Unit tests for errors.h: a request's field errors, as rules files fill them and the
    service core answers them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "errors.h"
#include "service.h"

static void test_add_and_find(void **state) {
    (void)state;
    crm_errors_t errors = {0};
    assert_false(crm_errors_has(&errors, "from"));
    crm_errors_add(&errors, "from", "is not a date (%s)", "YYYY-MM-DD");
    crm_errors_add(&errors, "emails[0].address", "is not a valid email address");
    assert_int_equal(errors.n, 2);
    assert_true(crm_errors_has(&errors, "from"));
    assert_true(crm_errors_has(&errors, "emails[0].address"));
    assert_false(crm_errors_has(&errors, "emails"));
    assert_string_equal(errors.items[0]->message, "is not a date (YYYY-MM-DD)");
    crm_errors_reset(&errors);
    assert_int_equal(errors.n, 0);
    assert_null(errors.items);
    crm_errors_reset(&errors);  // again: nothing to free
}

static void test_move_keeps_order(void **state) {
    (void)state;
    crm_errors_t to = {0}, from = {0};
    crm_errors_add(&to, "a", "first");
    crm_errors_add(&from, "b", "second");
    crm_errors_add(&from, "c", "third");
    crm_errors_move(&to, &from);
    assert_int_equal(to.n, 3);
    assert_int_equal(from.n, 0);
    assert_string_equal(to.items[1]->field, "b");
    assert_string_equal(to.items[2]->field, "c");
    crm_errors_move(&to, &from);  // nothing to move
    assert_int_equal(to.n, 3);
    crm_errors_reset(&to);
}

//  A method hands its rules' errors to the call: 422 naming each field, or 0 with none.
static void test_call_fail(void **state) {
    (void)state;
    crm_call_t call = {0};
    crm_errors_t errors = {0};
    assert_int_equal(crm_call_fail(&call, &errors), 0);
    assert_string_equal(call.error, "");
    crm_errors_add(&errors, "to", "must not be before from");
    assert_int_equal(crm_call_fail(&call, &errors), 422);
    assert_string_equal(call.error, "validation_failed");
    assert_int_equal(call.errors.n, 1);
    assert_string_equal(call.errors.items[0]->field, "to");
    assert_int_equal(errors.n, 0);
    crm_call_field_error(&call, "groupBy", "must be source or type");
    assert_int_equal(call.errors.n, 2);
    crm_errors_reset(&call.errors);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_and_find),
        cmocka_unit_test(test_move_keeps_order),
        cmocka_unit_test(test_call_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
