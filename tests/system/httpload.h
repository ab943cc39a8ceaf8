/*  httpload: the benchmarks' HTTP load generator. Each client keeps one keep-alive
    connection to the gateway and sends contact creates (tenant A, a unique email each)
    one after another for the given time; two threads drive the connections with
    poll(), as pgbench's -j 2 does, so the machine's CPU goes to what is measured.
    Latency is from the request's first byte sent to the answer's last byte read. */
#ifndef TESTS_HTTPLOAD_H
#define TESTS_HTTPLOAD_H

#include "harness.h"

typedef struct {
    double rate;    // creates answered 201 per second
    double p50, p99; // milliseconds
    int errors;     // answers other than 201, and failed connections
    long requests;  // creates answered 201
} httpload_result_t;

httpload_result_t httpload_creates(const harness_t *h, int clients, int seconds);

//  The same with body (under 512 bytes) POSTed to path each time (tenant A's admin key),
//  answered 201: e.g. lead creates.
httpload_result_t httpload_posts(const harness_t *h, int clients, int seconds, const char *path,
                                 const char *body);

//  The same paced: rate requests/s in all, each client's sent when due (the clients
//  interleaved evenly), or as soon as its previous is answered when that is later (the
//  rate is then lower: see the result's rate).
httpload_result_t httpload_posts_paced(const harness_t *h, int clients, int seconds,
                                       const char *path, const char *body, double rate);

#endif
