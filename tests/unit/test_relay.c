/*  Unit tests: the relay (relay.h) as far as it goes without a database: its life
    (new, destroy), a kick before it is on a loop, and an endpoint it cannot use.
    Claiming and publishing are exercised end to end by systest_events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "relay.h"

#include <stdlib.h>
#include <string.h>

//  The default configuration (events.publish_endpoint on loopback).
static crm_config_t *s_config(void) {
    char *err = NULL;
    crm_config_t *cfg = crm_config_load(NULL, &err);
    assert_non_null(cfg);
    free(err);
    return cfg;
}

static void test_life(void **state) {
    (void)state;
    crm_config_t *cfg = s_config();
    crm_relay_t *relay = crm_relay_new(cfg, "contacts");
    assert_non_null(relay);
    assert_int_equal(crm_relay_published(relay), 0);
    crm_relay_kick(relay); // not on a loop yet: nothing to do, nothing breaks
    crm_relay_destroy(&relay);
    assert_null(relay);
    crm_relay_destroy(&relay); // idempotent
    crm_config_destroy(&cfg);
}

//  The calls a service makes without a relay (one that publishes nothing) are safe.
static void test_no_relay(void **state) {
    (void)state;
    crm_relay_kick(NULL);
    assert_int_equal(crm_relay_published(NULL), 0);
}

//  A publish endpoint that is not one: no relay (logged).
static void test_bad_endpoint(void **state) {
    (void)state;
    crm_config_t *cfg = s_config();
    free(cfg->events_publish_endpoint);
    cfg->events_publish_endpoint = strdup("not-an-endpoint");
    assert_null(crm_relay_new(cfg, "contacts"));
    crm_config_destroy(&cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_life),
        cmocka_unit_test(test_no_relay),
        cmocka_unit_test(test_bad_endpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
