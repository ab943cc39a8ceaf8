/*  apikey: key format, hashing and roles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "apikey.h"

static void test_generate_is_well_formed_and_unique(void **state) {
    (void)state;
    char a[CRM_APIKEY_LEN + 1], b[CRM_APIKEY_LEN + 1];
    crm_apikey_generate(a);
    crm_apikey_generate(b);
    assert_int_equal(strlen(a), CRM_APIKEY_LEN);
    assert_memory_equal(a, "crm_", 4);
    assert_true(crm_apikey_well_formed(a));
    assert_true(crm_apikey_well_formed(b));
    assert_string_not_equal(a, b);
}

static void test_hash_is_stable_hex_and_distinct(void **state) {
    (void)state;
    char key[CRM_APIKEY_LEN + 1], h1[CRM_APIKEY_HASH_LEN + 1], h2[CRM_APIKEY_HASH_LEN + 1];
    crm_apikey_generate(key);
    crm_apikey_hash(key, NULL, h1);
    crm_apikey_hash(key, NULL, h2);
    assert_string_equal(h1, h2);
    assert_int_equal(strlen(h1), CRM_APIKEY_HASH_LEN);
    assert_int_equal(strspn(h1, "0123456789abcdef"), CRM_APIKEY_HASH_LEN);
    assert_null(strstr(h1, key + 4));  // the key does not appear in its hash
    key[10] ^= 1;
    crm_apikey_hash(key, NULL, h2);
    assert_string_not_equal(h1, h2);
}

//  With the deployment's secret the hash differs from the unkeyed one and from the hash
//  under another secret: a table cannot be checked without the secret.
static void test_keyed_hash(void **state) {
    (void)state;
    unsigned char secret[CRM_APIKEY_SECRET_LEN], other[CRM_APIKEY_SECRET_LEN];
    assert_int_equal(crm_apikey_secret_parse(
                         "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", secret),
                     0);
    assert_int_equal(secret[0], 0);
    assert_int_equal(secret[31], 0x1f);
    assert_int_equal(crm_apikey_secret_parse(
                         "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", other),
                     0);
    assert_int_equal(crm_apikey_secret_parse("", other), 1);
    assert_int_equal(crm_apikey_secret_parse("00", other), -1);
    assert_int_equal(crm_apikey_secret_parse(
                         "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", other),
                     -1);
    char key[CRM_APIKEY_LEN + 1], plain[CRM_APIKEY_HASH_LEN + 1], keyed[CRM_APIKEY_HASH_LEN + 1],
        again[CRM_APIKEY_HASH_LEN + 1], elsewhere[CRM_APIKEY_HASH_LEN + 1];
    crm_apikey_generate(key);
    crm_apikey_hash(key, NULL, plain);
    crm_apikey_hash(key, secret, keyed);
    crm_apikey_hash(key, secret, again);
    crm_apikey_hash(key, other, elsewhere);
    assert_string_equal(keyed, again);
    assert_string_not_equal(keyed, plain);
    assert_string_not_equal(keyed, elsewhere);
    assert_int_equal(strspn(keyed, "0123456789abcdef"), CRM_APIKEY_HASH_LEN);
}

static void test_malformed_keys(void **state) {
    (void)state;
    assert_false(crm_apikey_well_formed(""));
    assert_false(crm_apikey_well_formed("crm_"));
    assert_false(crm_apikey_well_formed("abc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_false(crm_apikey_well_formed("crm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));    // short
    assert_false(crm_apikey_well_formed("crm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));  // long
    assert_false(crm_apikey_well_formed("crm_AAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAA"));   // space
    assert_false(crm_apikey_well_formed("crm_AAAAAAAAAAAAAAAAAAAAA+AAAAAAAAAAAAAAAAAAAAA"));   // not url-safe
    assert_true(crm_apikey_well_formed("crm_AAAAAAAAAAAAAAAAAAAAA-_AAAAAAAAAAAAAAAAAAAA"));
}

static void test_roles(void **state) {
    (void)state;
    const char *good[] = {"admin", "manager", "sales", "analyst", "integration"};
    for (size_t i = 0; i < 5; i++)
        assert_true(crm_role_valid(good[i]));
    assert_false(crm_role_valid(""));
    assert_false(crm_role_valid("Admin"));
    assert_false(crm_role_valid("root"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_is_well_formed_and_unique),
        cmocka_unit_test(test_hash_is_stable_hex_and_distinct),
        cmocka_unit_test(test_keyed_hash),
        cmocka_unit_test(test_malformed_keys),
        cmocka_unit_test(test_roles),
    };
    return cmocka_run_group_tests_name("apikey", tests, NULL, NULL);
}
