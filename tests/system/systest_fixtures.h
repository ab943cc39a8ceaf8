/*  systest_fixtures: records the leads system tests make through the API, each new and
    unique (a counter and the clock in its email), failing the test when refused. Include
    after cmocka.h. */
#ifndef SYSTEST_FIXTURES_H
#define SYSTEST_FIXTURES_H

#include "harness.h"

#include <czmq.h>
#include <stdio.h>

//  A new person contact of the key's tenant; its id into id.
static inline void fixture_contact(const char *key, char id[64]) {
    static int n;
    char body[256];
    n++;
    snprintf(body, sizeof body,
             "{\"kind\":\"person\",\"firstName\":\"Buyer%d\",\"lastName\":\"Fixture\","
             "\"emails\":[{\"address\":\"buyer%d.%lld@example.com\"}]}",
             n, n, (long long)zclock_time());
    harness_response_t r = harness_http("POST", "/v1/contacts", key, body, NULL);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  A new active team member of the key's tenant named name; its id into id.
static inline void fixture_member(const char *key, const char *name, char id[64]) {
    static int n;
    char body[256];
    n++;
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"email\":\"member%d.%lld@example.com\"}", name,
             n, (long long)zclock_time());
    harness_response_t r = harness_http("POST", "/v1/team/members", key, body, NULL);
    if (r.status != 201)
        fprintf(stderr, "create member: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  A new lead (source phone) of the key's tenant for a new contact of its own, with the
//  members in extra ("" or ",\"a\":1"); its id into id.
static inline void fixture_lead(const char *key, const char *extra, char id[64]) {
    char contact[64], body[1024];
    fixture_contact(key, contact);
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"source\":\"phone\"%s}", contact, extra);
    harness_response_t r = harness_http("POST", "/v1/leads", key, body, NULL);
    if (r.status != 201)
        fprintf(stderr, "create lead: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

#endif
