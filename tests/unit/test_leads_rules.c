/*  leads rules: stage keys, moves between stages, times and the list's cursors
    (services/leads/lead.c, services/leads/stage.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/leads/leads.h"

static void test_stage_key_valid(void **state) {
    (void)state;
    assert_true(leads_stage_key_valid("new"));
    assert_true(leads_stage_key_valid("closed_won"));
    assert_true(leads_stage_key_valid("s_2nd_visit"));
    assert_false(leads_stage_key_valid(""));
    assert_false(leads_stage_key_valid("New"));
    assert_false(leads_stage_key_valid("2nd"));
    assert_false(leads_stage_key_valid("_x"));
    assert_false(leads_stage_key_valid("test-drive"));
    assert_false(leads_stage_key_valid("a b"));
    char long_key[LEADS_STAGE_KEY_MAX + 2];
    memset(long_key, 'a', sizeof long_key - 1);
    long_key[LEADS_STAGE_KEY_MAX + 1] = 0;
    assert_false(leads_stage_key_valid(long_key));
    long_key[LEADS_STAGE_KEY_MAX] = 0;
    assert_true(leads_stage_key_valid(long_key));
}

static void test_stage_key_from_name(void **state) {
    (void)state;
    char key[64];
    assert_int_equal(leads_stage_key_from_name("Test Drive", key, sizeof key), 0);
    assert_string_equal(key, "test_drive");
    assert_int_equal(leads_stage_key_from_name("  Sold (Fleet)!  ", key, sizeof key), 0);
    assert_string_equal(key, "sold_fleet");
    assert_int_equal(leads_stage_key_from_name("2nd Visit", key, sizeof key), 0);
    assert_string_equal(key, "s_2nd_visit");
    assert_int_equal(leads_stage_key_from_name("Négociation", key, sizeof key), 0);
    assert_string_equal(key, "n_gociation");
    assert_int_equal(leads_stage_key_from_name("!!!", key, sizeof key), -1);
    assert_string_equal(key, "");
    assert_int_equal(leads_stage_key_from_name("", key, sizeof key), -1);
    //  Long names are cut, never ending in '_'.
    assert_int_equal(leads_stage_key_from_name("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbb",
                                               key, sizeof key),
                     0);
    assert_true(strlen(key) <= LEADS_STAGE_KEY_MAX);
    assert_true(leads_stage_key_valid(key));
    assert_int_equal(leads_stage_key_from_name("1111111111111111111111111111111111111111 x", key,
                                               sizeof key),
                     0);
    assert_true(leads_stage_key_valid(key));
}

static void test_moves(void **state) {
    (void)state;
    assert_int_equal(leads_move_check("new", "open", "contacted", "open"), LEADS_MOVE_OK);
    assert_int_equal(leads_move_check("qualified", "open", "new", "open"), LEADS_MOVE_OK);
    assert_int_equal(leads_move_check("new", "open", "closed_won", "won"), LEADS_MOVE_OK);
    assert_int_equal(leads_move_check("new", "open", "closed_lost", "lost"), LEADS_MOVE_OK);
    assert_int_equal(leads_move_check("new", "open", "new", "open"), LEADS_MOVE_SAME);
    assert_int_equal(leads_move_check("closed_won", "won", "closed_won", "won"), LEADS_MOVE_SAME);
    assert_int_equal(leads_move_check("closed_won", "won", "closed_lost", "lost"),
                     LEADS_MOVE_CLOSED);
    assert_int_equal(leads_move_check("closed_lost", "lost", "sold_fleet", "won"),
                     LEADS_MOVE_CLOSED);
    assert_int_equal(leads_move_check("closed_won", "won", "negotiation", "open"),
                     LEADS_MOVE_REOPEN);
    assert_true(leads_role_may_reopen("manager"));
    assert_true(leads_role_may_reopen("admin"));
    assert_false(leads_role_may_reopen("sales"));
    assert_false(leads_role_may_reopen("integration"));
    assert_false(leads_role_may_reopen(""));
    assert_false(leads_role_may_reopen(NULL));
}

static void test_time_parse(void **state) {
    (void)state;
    int64_t t;
    assert_int_equal(leads_time_parse("1970-01-01", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(leads_time_parse("2026-11-22T08:30:00Z", &t), 0);
    assert_int_equal(t, 1795336200LL * 1000000);
    assert_int_equal(leads_time_parse("2026-11-22T09:30:00.5+01:00", &t), 0);
    assert_int_equal(t, 1795336200LL * 1000000 + 500000);
    assert_int_equal(leads_time_parse("2026-11-22T03:30:00.123456789-05:00", &t), 0);
    assert_int_equal(t, 1795336200LL * 1000000 + 123456);
    assert_int_equal(leads_time_parse("2024-02-29", &t), 0);
    assert_int_equal(leads_time_parse("2023-02-29", &t), -1);
    assert_int_equal(leads_time_parse("tomorrow", &t), -1);
    assert_int_equal(leads_time_parse("2026-11-22T08:30Z", &t), -1);
    assert_int_equal(leads_time_parse("", &t), -1);
    assert_int_equal(leads_time_parse(NULL, &t), -1);
}

static void test_cursor(void **state) {
    (void)state;
    const char *id = "01a20269-a695-71c1-83c6-31a5bd5fa028";
    char *text = leads_cursor_encode('a', "1795336200000000", id);
    leads_cursor_t c;
    assert_int_equal(leads_cursor_decode(text, 'a', &c), 0);
    assert_string_equal(c.value, "1795336200000000");
    assert_string_equal(c.id, id);
    assert_int_equal(leads_cursor_decode(text, 'f', &c), -1);  // another order's
    free(text);
    text = leads_cursor_encode('f', "", id);  // a lead without follow-up
    assert_int_equal(leads_cursor_decode(text, 'f', &c), 0);
    assert_string_equal(c.value, "");
    free(text);
    text = leads_cursor_encode('c', "", id);
    assert_int_equal(leads_cursor_decode(text, 'c', &c), 0);
    free(text);
    assert_int_equal(leads_cursor_decode("c.12.01a20269-a695-71c1-83c6-31a5bd5fa028", 'c', &c), -1);
    assert_int_equal(leads_cursor_decode("a..01a20269-a695-71c1-83c6-31a5bd5fa028", 'a', &c), -1);
    assert_int_equal(leads_cursor_decode("a.-5.01a20269-a695-71c1-83c6-31a5bd5fa028", 'a', &c), -1);
    assert_int_equal(leads_cursor_decode("a.12.not-an-id", 'a', &c), -1);
    assert_int_equal(leads_cursor_decode("a.12x.01a20269-a695-71c1-83c6-31a5bd5fa028", 'a', &c),
                     -1);
    assert_int_equal(leads_cursor_decode("a.123456789012345678901234567.x", 'a', &c), -1);
    assert_int_equal(leads_cursor_decode("zzz", 'c', &c), -1);
    assert_int_equal(leads_cursor_decode("", 'c', &c), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stage_key_valid),
        cmocka_unit_test(test_stage_key_from_name),
        cmocka_unit_test(test_moves),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_cursor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
