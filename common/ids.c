/*  ids: UUIDv7 identifiers (RFC 9562) and random bytes (libsodium).

    Layout of a UUIDv7 (big-endian):
        48 bits  unix_ts_ms
         4 bits  version 0111
        12 bits  rand_a: here a counter (RFC 9562 §6.2 method 1)
         2 bits  variant 10
        62 bits  rand_b: random

    Ids from one process are strictly increasing: within one millisecond the counter
    counts up from a random start whose top bit is clear (at least 2048 ids of headroom);
    if it would overflow, or the wall clock steps back, we borrow the next millisecond, so
    the timestamp may run a little ahead of the clock under extreme load but never back.
*/
#include "ids.h"
#include "log.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_COUNTER_MAX 0xfff

static pthread_once_t s_sodium_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t s_uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t s_last_ms;
static uint16_t s_counter;

static void s_sodium_init(void) {
    if (sodium_init() < 0) {
        //  No randomness means no safe ids or keys: nothing sensible can continue.
        crm_log_kv(CRM_LOG_ERROR, "could not initialise libsodium", "hint",
                   "is /dev/urandom (or getrandom(2)) available to this process?", NULL);
        abort();
    }
}

void crm_random_bytes(void *buf, size_t n) {
    pthread_once(&s_sodium_once, s_sodium_init);
    randombytes_buf(buf, n);
}

static uint64_t s_now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

//  Random bytes for ids, drawn from the CSPRNG a page at a time (one getrandom(2) per
//  512 ids rather than one per id). Called with s_uuid_lock held.
static uint8_t s_pool[4096];
static size_t s_pool_used = sizeof s_pool;

static void s_pool_take(void *out, size_t n) {
    if (s_pool_used + n > sizeof s_pool) {
        crm_random_bytes(s_pool, sizeof s_pool);
        s_pool_used = 0;
    }
    memcpy(out, s_pool + s_pool_used, n);
    s_pool_used += n;
}

//  A fresh counter start for a new millisecond: 11 random bits, top bit clear.
static uint16_t s_counter_seed(void) {
    uint16_t seed;
    s_pool_take(&seed, sizeof seed);
    return seed & 0x7ff;
}

//  Next (ms, counter) pair, strictly greater than the previous one, and 8 random bytes.
static void s_next_timestamp(uint64_t *ms, uint16_t *counter, uint8_t random[8]) {
    uint64_t now = s_now_ms();
    pthread_mutex_lock(&s_uuid_lock);
    if (now > s_last_ms) {
        s_last_ms = now;
        s_counter = s_counter_seed();
    } else if (s_counter < S_COUNTER_MAX)
        s_counter++; //  same millisecond (or the clock stepped back): count on
    else {
        s_last_ms++; //  counter exhausted: borrow the next millisecond
        s_counter = s_counter_seed();
    }
    *ms = s_last_ms;
    *counter = s_counter;
    s_pool_take(random, 8);
    pthread_mutex_unlock(&s_uuid_lock);
}

void crm_uuid_v7(char out[CRM_UUID_LEN + 1]) {
    uint64_t ms;
    uint16_t counter;
    uint8_t bytes[16];
    s_next_timestamp(&ms, &counter, bytes + 8);

    for (int i = 0; i < 6; i++)
        bytes[i] = (uint8_t)(ms >> (40 - 8 * i));
    bytes[6] = (uint8_t)(0x70 | (counter >> 8));
    bytes[7] = (uint8_t)(counter & 0xff);
    bytes[8] = (uint8_t)(0x80 | (bytes[8] & 0x3f));

    static const char hex[] = "0123456789abcdef";
    char *at = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *at++ = '-';
        *at++ = hex[bytes[i] >> 4];
        *at++ = hex[bytes[i] & 0xf];
    }
    *at = 0;
}

bool crm_uuid_valid(const char *s) {
    if (!s)
        return false;
    for (int i = 0; i < CRM_UUID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false; //  also stops at an early NUL
    }
    return s[CRM_UUID_LEN] == 0;
}

void crm_time_now(char *out, size_t size) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char seconds[24];
    strftime(seconds, sizeof seconds, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%.19s.%06dZ", seconds, (int)(ts.tv_nsec / 1000) % 1000000);
}
