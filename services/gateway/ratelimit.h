/*  ratelimit: token buckets by name (an API key's id, a client's address), for the
    gateway's limits: the API's per key (gateway.rate_<role>_per_second and _burst) and
    the raw routes' per client address (raw.h).

    A bucket holds up to burst tokens and refills at per_second; a request takes one. The
    buckets live in a fixed table (no allocation per name, whatever an attacker sends): a
    keyed hash picks a slot, a few neighbours are tried, and when all are taken by other
    names the one seen longest ago is forgotten (which only gives it a full bucket again).
    Not thread-safe: the gateway's HTTP server runs in its one loop.

    What a bucket says is what the RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset
    headers (draft-ietf-httpapi-ratelimit-headers) and Retry-After carry. */
#ifndef GATEWAY_RATELIMIT_H
#define GATEWAY_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct _ratelimit_t ratelimit_t;

//  A bucket after a take: limit (its burst), remaining (whole tokens left), reset_s
//  (seconds until it is full again) and retry_after_s (seconds until one token is back:
//  0 when a request may go now).
typedef struct {
    int limit;
    int remaining;
    int reset_s;
    int retry_after_s;
} ratelimit_state_t;

//  NULL when libsodium cannot start (the slots' hash key).
ratelimit_t *ratelimit_new(void);
void ratelimit_destroy(ratelimit_t **self_p);

//  Take one token from name's bucket (per_second > 0, burst >= 1) at now_us (monotonic):
//  true when there was one; *state says what the bucket holds afterwards.
bool ratelimit_take(ratelimit_t *self, const char *name, double per_second, double burst,
                    int64_t now_us, ratelimit_state_t *state);

//  Give back the token name's bucket last gave (a request refused for another reason).
void ratelimit_refund(ratelimit_t *self, const char *name, double burst);

#endif
