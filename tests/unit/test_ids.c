/*  Unit tests for ids.h: UUIDv7 layout (RFC 9562), uniqueness and ordering, the
    canonical-form check, and random bytes.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ids.h"

#define S_MANY 10000

static int s_hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; //  upper case or anything else: not what crm_uuid_v7 writes
}

static uint64_t s_now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

//  The 48-bit millisecond timestamp in the first 12 hex digits.
static uint64_t s_uuid_ms(const char *uuid) {
    uint64_t ms = 0;
    for (int i = 0; i < 13; i++)
        if (uuid[i] != '-')
            ms = ms * 16 + (uint64_t)s_hex_value(uuid[i]);
    return ms;
}

static void test_uuid_format(void **state) {
    (void)state;
    char uuid[CRM_UUID_LEN + 1];
    memset(uuid, 'x', sizeof uuid);
    uint64_t before = s_now_ms();
    crm_uuid_v7(uuid);
    uint64_t after = s_now_ms();

    assert_int_equal(strlen(uuid), CRM_UUID_LEN);
    for (int i = 0; i < CRM_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(uuid[i], '-');
        else if (s_hex_value(uuid[i]) < 0)
            fail_msg("character %d of %s is not lower-case hex", i, uuid);
    }
    assert_true(crm_uuid_valid(uuid));
    //  Version 7: the first digit of the third group.
    assert_int_equal(uuid[14], '7');
    //  Variant 10xx: the first digit of the fourth group is 8, 9, a or b.
    assert_non_null(strchr("89ab", uuid[19]));
    //  The timestamp is the wall clock in milliseconds (allowing for a borrowed ms or two).
    uint64_t ms = s_uuid_ms(uuid);
    assert_true(ms >= before);
    assert_true(ms <= after + 5);
}

static int s_compare(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

//  10,000 ids in a row: every one valid v7, each greater than the one before (so a btree
//  on them only ever appends), and no duplicates.
static void test_uuid_unique_and_monotonic(void **state) {
    (void)state;
    char(*ids)[CRM_UUID_LEN + 1] = calloc(S_MANY, sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < S_MANY; i++) {
        crm_uuid_v7(ids[i]);
        assert_true(crm_uuid_valid(ids[i]));
        assert_int_equal(ids[i][14], '7');
        assert_non_null(strchr("89ab", ids[i][19]));
        if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
            fail_msg("id %d is not greater than the one before: %s then %s", i, ids[i - 1], ids[i]);
    }
    //  Strictly increasing already implies unique; check again by sorting a copy.
    char **sorted = calloc(S_MANY, sizeof *sorted);
    assert_non_null(sorted);
    for (int i = 0; i < S_MANY; i++)
        sorted[i] = ids[i];
    qsort(sorted, S_MANY, sizeof *sorted, s_compare);
    for (int i = 1; i < S_MANY; i++)
        assert_string_not_equal(sorted[i - 1], sorted[i]);
    free(sorted);
    free(ids);
}

//  Several threads at once: every id still unique, and each thread's ids increase.
#define S_THREADS 4
#define S_PER_THREAD 2000

static void *s_generate(void *arg) {
    char(*ids)[CRM_UUID_LEN + 1] = arg;
    for (int i = 0; i < S_PER_THREAD; i++)
        crm_uuid_v7(ids[i]);
    return NULL;
}

static void test_uuid_threads(void **state) {
    (void)state;
    char(*ids)[CRM_UUID_LEN + 1] = calloc(S_THREADS * S_PER_THREAD, sizeof *ids);
    assert_non_null(ids);
    pthread_t threads[S_THREADS];
    for (int t = 0; t < S_THREADS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, s_generate, ids + t * S_PER_THREAD), 0);
    for (int t = 0; t < S_THREADS; t++)
        pthread_join(threads[t], NULL);
    for (int t = 0; t < S_THREADS; t++)
        for (int i = 1; i < S_PER_THREAD; i++)
            assert_true(strcmp(ids[t * S_PER_THREAD + i - 1], ids[t * S_PER_THREAD + i]) < 0);
    char **sorted = calloc(S_THREADS * S_PER_THREAD, sizeof *sorted);
    assert_non_null(sorted);
    for (int i = 0; i < S_THREADS * S_PER_THREAD; i++)
        sorted[i] = ids[i];
    qsort(sorted, S_THREADS * S_PER_THREAD, sizeof *sorted, s_compare);
    for (int i = 1; i < S_THREADS * S_PER_THREAD; i++)
        assert_string_not_equal(sorted[i - 1], sorted[i]);
    free(sorted);
    free(ids);
}

static void test_uuid_valid_cases(void **state) {
    (void)state;
    assert_true(crm_uuid_valid("01890a5d-ac96-774b-bcce-b302099a8057"));
    assert_true(crm_uuid_valid("01890A5D-AC96-774B-BCCE-B302099A8057")); //  upper case
    assert_true(crm_uuid_valid("00000000-0000-0000-0000-000000000000")); //  nil UUID
    assert_true(crm_uuid_valid("f81d4fae-7dec-11d0-a765-00a0c91e6bf6")); //  v1 is fine too

    assert_false(crm_uuid_valid(NULL));
    assert_false(crm_uuid_valid(""));
    assert_false(crm_uuid_valid("01890a5d-ac96-774b-bcce-b302099a805"));    //  too short
    assert_false(crm_uuid_valid("01890a5d-ac96-774b-bcce-b302099a80571"));  //  too long
    assert_false(crm_uuid_valid("01890a5dac96774bbcceb302099a8057"));       //  no dashes
    assert_false(crm_uuid_valid("01890a5d-ac96-774b-bcce-b302099a805g"));   //  not hex
    assert_false(crm_uuid_valid("01890a5d_ac96-774b-bcce-b302099a8057"));   //  wrong separator
    assert_false(crm_uuid_valid("01890a5-dac96-774b-bcce-b302099a8057"));   //  dash misplaced
    assert_false(crm_uuid_valid("{01890a5d-ac96-774b-bcce-b302099a8057}")); //  braces
    assert_false(crm_uuid_valid(" 01890a5d-ac96-774b-bcce-b302099a8057"));
    assert_false(crm_uuid_valid("01890a5d-ac96-774b-bcce-b302099a8057 "));
}

static void test_random_bytes(void **state) {
    (void)state;
    unsigned char a[32] = {0};
    unsigned char b[32] = {0};
    unsigned char zero[32] = {0};
    crm_random_bytes(a, sizeof a);
    crm_random_bytes(b, sizeof b);
    //  2^-256 chance of a false failure.
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(a, zero, sizeof a);
    crm_random_bytes(a, 0); //  allowed, does nothing
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_format),  cmocka_unit_test(test_uuid_unique_and_monotonic),
        cmocka_unit_test(test_uuid_threads), cmocka_unit_test(test_uuid_valid_cases),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
