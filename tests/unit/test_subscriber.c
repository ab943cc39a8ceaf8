/*  Unit tests: the subscriber (subscriber.h) as far as it goes without sockets or a
    database: its life, the sources it follows, and its counters before attaching.
    Catching up and following live are exercised end to end by systest_events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "subscriber.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static crm_config_t *s_config(void) {
    char *err = NULL;
    crm_config_t *cfg = crm_config_load(NULL, &err);
    assert_non_null(cfg);
    free(err);
    return cfg;
}

static int s_apply(crm_db_t *db, const char *source, Crm__Event **events, size_t n, void *arg) {
    (void)db;
    (void)source;
    (void)events;
    (void)n;
    (void)arg;
    return 0;
}

static void test_life(void **state) {
    (void)state;
    crm_config_t *cfg = s_config();
    crm_db_t *db = crm_db_new("host=/nonexistent", 100); // never connected here
    crm_subscriber_t *sub = crm_subscriber_new(cfg, "reporting", db);
    assert_non_null(sub);
    assert_int_equal(crm_subscriber_follow(sub, "contacts"), 0);
    crm_subscriber_on_apply(sub, s_apply, NULL);
    assert_int_equal(crm_subscriber_last_seq(sub, "contacts"), 0);
    assert_int_equal(crm_subscriber_last_seq(sub, "leads"), 0); // not followed
    assert_int_equal(crm_subscriber_applied(sub), 0);
    assert_int_equal(crm_subscriber_replays(sub), 0);
    assert_int_equal(crm_subscriber_gaps(sub), 0);
    crm_subscriber_destroy(&sub);
    assert_null(sub);
    crm_subscriber_destroy(&sub); // idempotent
    crm_db_destroy(&db);
    crm_config_destroy(&cfg);
}

//  Sixteen sources at most, each with a name that fits.
static void test_follow_limits(void **state) {
    (void)state;
    crm_config_t *cfg = s_config();
    crm_subscriber_t *sub = crm_subscriber_new(cfg, "reporting", NULL);
    for (int i = 0; i < 16; i++) {
        char name[24];
        snprintf(name, sizeof name, "source%d", i);
        assert_int_equal(crm_subscriber_follow(sub, name), 0);
    }
    assert_int_equal(crm_subscriber_follow(sub, "one-too-many"), -1);
    crm_subscriber_destroy(&sub);
    sub = crm_subscriber_new(cfg, "reporting", NULL);
    char longname[80];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(crm_subscriber_follow(sub, longname), -1);
    crm_subscriber_destroy(&sub);
    crm_config_destroy(&cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_life),
        cmocka_unit_test(test_follow_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
