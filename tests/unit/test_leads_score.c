/*  Unit tests of the score on the lead (services/leads/score_follow.c): which priority a
    lead takes with its band (the band's, unless set by hand), which LeadScored can be
    read, which fields a LeadUpdated names (only those of score, band and priority that
    moved), a PATCH of priority (set: by hand; null: the band's again), and the follower
    row (a LeadScored puts score and band through the store; other events, nothing; an
    unreadable one is skipped). The store is stubbed here: its SQL is systest_lead_score's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/leads/leads.h"
#include "events.pb-c.h"

#define LEAD "0193e0a0-0000-7000-8000-00000000000a"
#define PRIORITY(p) CRM__LEADS__PRIORITY__PRIORITY_##p

//  The store, stubbed: what the follower asked of it.
static struct {
    int calls;
    char lead[64];
    int score;
    char band[8];
} s_put;

int leads_score_store_put(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                          const char *lead_id, int score, const char *band) {
    (void)db;
    (void)outbox;
    (void)tenant_id;
    s_put.calls++;
    snprintf(s_put.lead, sizeof s_put.lead, "%s", lead_id);
    s_put.score = score;
    snprintf(s_put.band, sizeof s_put.band, "%s", band);
    return 0;
}

static void test_priority_follows_band_unless_manual(void **state) {
    (void)state;
    assert_string_equal(leads_score_priority(false, "cold", "hot"), "hot");
    assert_string_equal(leads_score_priority(false, "hot", "medium"), "medium");
    assert_string_equal(leads_score_priority(true, "cold", "hot"), "cold");
    assert_string_equal(leads_score_priority(false, "cold", ""), "cold");
}

static void test_read(void **state) {
    (void)state;
    Crm__Events__LeadScored m = CRM__EVENTS__LEAD_SCORED__INIT;
    int score;
    char band[8];
    m.lead_id = LEAD;
    m.score = 60;
    m.band = CRM__SCORING__BAND__BAND_HOT;
    assert_int_equal(leads_score_read(&m, &score, band), 0);
    assert_int_equal(score, 60);
    assert_string_equal(band, "hot");
    //  The band's name in priority, from a producer without the enum.
    m.band = CRM__SCORING__BAND__BAND_UNSPECIFIED;
    m.priority = "medium";
    assert_int_equal(leads_score_read(&m, &score, band), 0);
    assert_string_equal(band, "medium");
    //  Refused: no band, a score out of 0-100, no lead.
    m.priority = "warm";
    assert_int_equal(leads_score_read(&m, &score, band), -1);
    m.priority = "";
    assert_int_equal(leads_score_read(&m, &score, band), -1);
    m.band = CRM__SCORING__BAND__BAND_COLD;
    m.score = 101;
    assert_int_equal(leads_score_read(&m, &score, band), -1);
    m.score = -1;
    assert_int_equal(leads_score_read(&m, &score, band), -1);
    m.score = 0;
    m.lead_id = "not-a-lead";
    assert_int_equal(leads_score_read(&m, &score, band), -1);
}

static void test_changed_names_only_what_moved(void **state) {
    (void)state;
    const char *changed[3];
    assert_int_equal(leads_score_changed(40, "medium", "medium", 40, "medium", "medium", changed),
                     0);
    assert_int_equal(leads_score_changed(40, "medium", "medium", 45, "medium", "medium", changed),
                     1);
    assert_string_equal(changed[0], "score");
    assert_int_equal(leads_score_changed(40, "medium", "medium", 65, "hot", "hot", changed), 3);
    assert_string_equal(changed[0], "score");
    assert_string_equal(changed[1], "band");
    assert_string_equal(changed[2], "priority");
    //  Set by hand: the priority stays, so it is not named.
    assert_int_equal(leads_score_changed(40, "medium", "cold", 65, "hot", "cold", changed), 2);
    //  The first score of a lead.
    assert_int_equal(leads_score_changed(0, "", "cold", 13, "cold", "cold", changed), 2);
}

static void test_patch_priority(void **state) {
    (void)state;
    Crm__Leads__Lead lead = CRM__LEADS__LEAD__INIT;
    lead.band = PRIORITY(HOT);
    lead.priority = PRIORITY(COLD);
    leads_lead_priority_set(&lead, true); // set by hand
    assert_true(lead.priority_manual);
    assert_int_equal(lead.priority, PRIORITY(COLD));
    lead.priority = PRIORITY(UNSPECIFIED); // {"priority": null}
    leads_lead_priority_set(&lead, true);
    assert_false(lead.priority_manual);
    assert_int_equal(lead.priority, PRIORITY(HOT));
    //  Not named: nothing moves.
    lead.priority_manual = true;
    leads_lead_priority_set(&lead, false);
    assert_true(lead.priority_manual);
    //  Cleared before any score: cold.
    lead.band = PRIORITY(UNSPECIFIED);
    lead.priority = PRIORITY(UNSPECIFIED);
    leads_lead_priority_set(&lead, true);
    assert_int_equal(lead.priority, PRIORITY(COLD));
}

static Crm__Event *s_event(const char *type, const ProtobufCMessage *payload) {
    static Crm__Event event;
    static uint8_t buf[512];
    crm__event__init(&event);
    event.type = (char *)type;
    event.tenant_id = "tenant-a";
    event.payload.len = payload ? protobuf_c_message_pack(payload, buf) : 3;
    if (!payload)
        memcpy(buf, "\xff\xff\xff", 3);
    event.payload.data = buf;
    return &event;
}

static void test_follow(void **state) {
    (void)state;
    memset(&s_put, 0, sizeof s_put);
    Crm__Events__LeadScored m = CRM__EVENTS__LEAD_SCORED__INIT;
    m.lead_id = LEAD;
    m.score = 71;
    m.band = CRM__SCORING__BAND__BAND_HOT;
    assert_int_equal(leads_score_follow(NULL, NULL, s_event("LeadScored", &m.base), NULL), 0);
    assert_int_equal(s_put.calls, 1);
    assert_string_equal(s_put.lead, LEAD);
    assert_int_equal(s_put.score, 71);
    assert_string_equal(s_put.band, "hot");
    //  Another event of the scoring service: nothing.
    assert_int_equal(leads_score_follow(NULL, NULL, s_event("RescoreDone", &m.base), NULL), 0);
    //  Unreadable: skipped (1), nothing stored.
    assert_int_equal(leads_score_follow(NULL, NULL, s_event("LeadScored", NULL), NULL), 1);
    m.score = 300;
    assert_int_equal(leads_score_follow(NULL, NULL, s_event("LeadScored", &m.base), NULL), 1);
    assert_int_equal(s_put.calls, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_priority_follows_band_unless_manual),
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_changed_names_only_what_moved),
        cmocka_unit_test(test_patch_priority),
        cmocka_unit_test(test_follow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
