/*  ratelimit: token buckets by name in a fixed table. See ratelimit.h. */
#include "ratelimit.h"

#include <assert.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SLOTS 4096
#define S_PROBE 8
#define S_NAME_MAX 48 // a key id (36), an IPv6 address (45)

typedef struct {
    char name[S_NAME_MAX]; // "" when free
    double tokens;         // requests it may send now
    int64_t updated_us;    // when tokens was last brought up to date
} s_bucket_t;

struct _ratelimit_t {
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    s_bucket_t *slots;
};

ratelimit_t *ratelimit_new(void) {
    if (sodium_init() < 0)
        return NULL;
    ratelimit_t *self = calloc(1, sizeof *self);
    assert(self);
    randombytes_buf(self->hash_key, sizeof self->hash_key);
    self->slots = calloc(S_SLOTS, sizeof *self->slots);
    assert(self->slots);
    return self;
}

void ratelimit_destroy(ratelimit_t **self_p) {
    assert(self_p);
    ratelimit_t *self = *self_p;
    if (!self)
        return;
    free(self->slots);
    free(self);
    *self_p = NULL;
}

//  name's bucket, or NULL when it has none and create is false; a new one starts full.
static s_bucket_t *s_find(ratelimit_t *self, const char *name, double burst, int64_t now_us,
                          bool create) {
    char key[S_NAME_MAX];
    snprintf(key, sizeof key, "%s", *name ? name : "-");
    unsigned char hash[crypto_shorthash_BYTES];
    crypto_shorthash(hash, (const unsigned char *)key, strlen(key), self->hash_key);
    uint64_t start;
    memcpy(&start, hash, sizeof start);
    s_bucket_t *spare = NULL;
    for (int i = 0; i < S_PROBE; i++) {
        s_bucket_t *b = &self->slots[(start + (uint64_t)i) % S_SLOTS];
        if (strcmp(b->name, key) == 0)
            return b;
        if (!spare || !b->name[0] || (spare->name[0] && b->updated_us < spare->updated_us))
            spare = b;
    }
    if (!create)
        return NULL;
    snprintf(spare->name, sizeof spare->name, "%s", key);
    spare->tokens = burst;
    spare->updated_us = now_us;
    return spare;
}

bool ratelimit_take(ratelimit_t *self, const char *name, double per_second, double burst,
                    int64_t now_us, ratelimit_state_t *state) {
    assert(per_second > 0 && burst >= 1);
    s_bucket_t *b = s_find(self, name, burst, now_us, true);
    double elapsed = (double)(now_us - b->updated_us) / 1e6;
    if (elapsed > 0) {
        b->tokens = fmin(burst, b->tokens + elapsed * per_second);
        b->updated_us = now_us;
    }
    b->tokens = fmin(b->tokens, burst); // the role's burst may have been lowered
    bool taken = b->tokens >= 1;
    if (taken)
        b->tokens -= 1;
    state->limit = (int)burst;
    state->remaining = (int)floor(b->tokens);
    state->reset_s = (int)ceil((burst - b->tokens) / per_second);
    state->retry_after_s = taken ? 0 : (int)ceil((1 - b->tokens) / per_second);
    if (!taken && state->retry_after_s < 1)
        state->retry_after_s = 1;
    return taken;
}

void ratelimit_refund(ratelimit_t *self, const char *name, double burst) {
    s_bucket_t *b = s_find(self, name, burst, 0, false);
    if (b)
        b->tokens = fmin(burst, b->tokens + 1);
}
