/*  Unit tests for a lead's rules (services/leads/lead.c): its own fields, a move's
    request, what closing it as won or lost needs, and the list's filters. Each row of a
    table is an example of the rules, with the fields each refusal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../services/leads/leads.h"

#define CONTACT "0193e0a0-0000-7000-8000-000000000001"

//  The fields errors names, in order, joined by commas.
static void s_fields(const crm_errors_t *errors, char *out, size_t size) {
    out[0] = 0;
    for (size_t e = 0; e < errors->n; e++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", e ? "," : "",
                 errors->items[e]->field);
}

static const struct {
    const char *rule;
    const char *contact_id;
    Crm__Leads__LeadSource source;
    int64_t budget_min, budget_max;
    const char *status, *postcode, *follow_up_at, *custom_key;
    uint32_t year;
    const char *fields; // refused ("": accepted)
} s_lead_cases[] = {
    {"a lead needs a contact and a source", CONTACT, 3, 0, 0, "", "", "", "", 0, ""},
    {"the contact is required", "", 3, 0, 0, "", "", "", "", 0, "contactId"},
    {"the contact is an id", "ann", 3, 0, 0, "", "", "", "", 0, "contactId"},
    {"the source is required", CONTACT, 0, 0, 0, "", "", "", "", 0, "source"},
    {"budgets are not negative", CONTACT, 3, -1, -1, "", "", "", "", 0,
     "budgetMinCents,budgetMaxCents"},
    {"the budget's max is not below its min", CONTACT, 3, 500, 100, "", "", "", "", 0,
     "budgetMaxCents"},
    {"a max of 0 is no max", CONTACT, 3, 500, 0, "", "", "", "", 0, ""},
    {"a status is a stage key", CONTACT, 3, 0, 0, "Negotiation", "", "", "", 0, "status"},
    {"a stage key is accepted", CONTACT, 3, 0, 0, "negotiation", "", "", "", 0, ""},
    {"a postcode is letters and digits", CONTACT, 3, 0, 0, "", "SW1A 1AA", "", "", 0, ""},
    {"a postcode of other signs is refused", CONTACT, 3, 0, 0, "", "12#4", "", "", 0, "postcode"},
    {"followUpAt is a time", CONTACT, 3, 0, 0, "", "", "tomorrow", "", 0, "followUpAt"},
    {"followUpAt is not in the past", CONTACT, 3, 0, 0, "", "", "2001-01-01T00:00:00Z", "", 0,
     "followUpAt"},
    {"followUpAt in the future", CONTACT, 3, 0, 0, "", "", "2999-01-01T00:00:00Z", "", 0, ""},
    {"custom field keys are plain", CONTACT, 3, 0, 0, "", "", "", "trade in?", 0,
     "customFields.trade in?"},
    {"the vehicle's year is checked", CONTACT, 3, 0, 0, "", "", "", "", 1800, "vehicle.year"},
};

static void test_lead_rules(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_lead_cases / sizeof *s_lead_cases; i++) {
        Crm__Leads__Lead lead = CRM__LEADS__LEAD__INIT;
        Crm__Leads__VehicleInterest vehicle = CRM__LEADS__VEHICLE_INTEREST__INIT;
        Crm__Leads__Lead__CustomFieldsEntry entry = CRM__LEADS__LEAD__CUSTOM_FIELDS_ENTRY__INIT;
        Crm__Leads__Lead__CustomFieldsEntry *entries[] = {&entry};
        char region[] = "", postcode[32];
        snprintf(postcode, sizeof postcode, "%s", s_lead_cases[i].postcode);
        lead.contact_id = (char *)s_lead_cases[i].contact_id;
        lead.source = s_lead_cases[i].source;
        lead.budget_min_cents = s_lead_cases[i].budget_min;
        lead.budget_max_cents = s_lead_cases[i].budget_max;
        lead.status = (char *)s_lead_cases[i].status;
        lead.follow_up_at = (char *)s_lead_cases[i].follow_up_at;
        lead.region = region;
        lead.postcode = s_lead_cases[i].postcode[0] ? strdup(postcode) : postcode;
        if (s_lead_cases[i].custom_key[0]) {
            entry.key = (char *)s_lead_cases[i].custom_key;
            entry.value = "yes";
            lead.custom_fields = entries;
            lead.n_custom_fields = 1;
        }
        if (s_lead_cases[i].year) {
            vehicle.year = s_lead_cases[i].year;
            lead.vehicle = &vehicle;
        }
        crm_errors_t errors = {0};
        int rc = leads_lead_check_new(&lead, &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_lead_cases[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_lead_cases[i].rule, fields,
                     s_lead_cases[i].fields);
        assert_int_equal(rc, s_lead_cases[i].fields[0] ? -1 : 0);
        if (rc == 0)
            assert_int_equal(lead.priority, CRM__LEADS__PRIORITY__PRIORITY_COLD);
        if (rc == 0 && s_lead_cases[i].postcode[0])
            assert_string_equal(lead.postcode, "SW1A1AA");
        if (lead.postcode != postcode)
            free(lead.postcode);
        crm_errors_reset(&errors);
    }
}

static const struct {
    const char *rule;
    const char *to_outcome;
    bool won, vehicle_sold, lost;
    int64_t price;
    Crm__Leads__LostReason reason;
    const char *lost_follow_up;
    const char *fields;
} s_close_cases[] = {
    {"an open move needs no details", "open", false, false, false, 0, 0, "", ""},
    {"won details only into a won stage", "open", true, true, false, 100, 0, "", "won"},
    {"lost details only into a lost stage", "won", true, true, true, 100, 1, "", "lost"},
    {"won needs the vehicle, price and financing", "won", false, false, false, 0, 0, "",
     "won.vehicleSold,won.finalPriceCents,won.financing"},
    {"won's price is above 0", "won", true, true, false, 0, 0, "", "won.finalPriceCents"},
    {"won's vehicle is required", "won", true, false, false, 100, 0, "", "won.vehicleSold"},
    {"a complete won", "won", true, true, false, 100, 0, "", ""},
    {"lost needs a reason", "lost", false, false, false, 0, 0, "", "lost.reason"},
    {"a complete lost", "lost", false, false, true, 0, 2, "", ""},
    {"a long-term follow-up is a time", "lost", false, false, true, 0, 2, "soon",
     "lost.followUpAt"},
    {"a long-term follow-up is in the future", "lost", false, false, true, 0, 2, "2001-01-01",
     "lost.followUpAt"},
};

static void test_close_rules(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_close_cases / sizeof *s_close_cases; i++) {
        Crm__Leads__WonDetails won = CRM__LEADS__WON_DETAILS__INIT;
        Crm__Leads__VehicleInterest sold = CRM__LEADS__VEHICLE_INTEREST__INIT;
        Crm__Leads__LostDetails lost = CRM__LEADS__LOST_DETAILS__INIT;
        sold.make = "Toyota";
        sold.model = "RAV4";
        if (s_close_cases[i].vehicle_sold)
            won.vehicle_sold = &sold;
        won.final_price_cents = s_close_cases[i].price;
        won.financing = CRM__LEADS__FINANCING__FINANCING_CASH;
        lost.reason = s_close_cases[i].reason;
        lost.follow_up_at = (char *)s_close_cases[i].lost_follow_up;
        crm_errors_t errors = {0};
        int rc = leads_close_check(s_close_cases[i].to_outcome, s_close_cases[i].won ? &won : NULL,
                                   s_close_cases[i].lost ? &lost : NULL, &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_close_cases[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_close_cases[i].rule, fields,
                     s_close_cases[i].fields);
        assert_int_equal(rc, s_close_cases[i].fields[0] ? -1 : 0);
        crm_errors_reset(&errors);
    }
}

static void test_move_request(void **state) {
    (void)state;
    Crm__Leads__ChangeLeadStatusRequest req = CRM__LEADS__CHANGE_LEAD_STATUS_REQUEST__INIT;
    crm_errors_t errors = {0};
    req.status = "";
    assert_int_equal(leads_move_request_check(&req, &errors), -1); // a stage is required
    assert_true(crm_errors_has(&errors, "status"));
    crm_errors_reset(&errors);
    req.status = "Won!";
    assert_int_equal(leads_move_request_check(&req, &errors), -1); // a key, not a name
    crm_errors_reset(&errors);
    req.status = "closed_won";
    assert_int_equal(leads_move_request_check(&req, &errors), 0);
}

static const struct {
    const char *rule;
    const char *status, *contact_id, *created_from, *cursor;
    uint32_t limit;
    Crm__Leads__LeadSort sort;
    const char *fields;
} s_list_cases[] = {
    {"no filter", "", "", "", "", 0, 0, ""},
    {"a status is a stage key", "New", "", "", "", 0, 0, "status"},
    {"a contact is an id", "", "x", "", "", 0, 0, "contactId"},
    {"a date is a time filter", "", "", "2026-11-01", "", 0, 0, ""},
    {"a time filter is a date or a time", "", "", "yesterday", "", 0, 0, "createdFrom"},
    {"a page holds at most 200", "", "", "", "", 201, 0, "limit"},
    {"a cursor belongs to its sort", "", "", "", "zz", 0, 0, "cursor"},
};

static void test_list_rules(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_list_cases / sizeof *s_list_cases; i++) {
        Crm__Leads__ListLeadsRequest req = CRM__LEADS__LIST_LEADS_REQUEST__INIT;
        req.status = (char *)s_list_cases[i].status;
        req.contact_id = (char *)s_list_cases[i].contact_id;
        req.created_from = (char *)s_list_cases[i].created_from;
        req.cursor = (char *)s_list_cases[i].cursor;
        req.limit = s_list_cases[i].limit;
        req.sort = s_list_cases[i].sort;
        leads_list_t list;
        crm_errors_t errors = {0};
        int rc = leads_list_check(&req, &list, &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_list_cases[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_list_cases[i].rule, fields,
                     s_list_cases[i].fields);
        assert_int_equal(rc, s_list_cases[i].fields[0] ? -1 : 0);
        if (rc == 0)
            assert_int_equal(list.limit, s_list_cases[i].limit ? (int)s_list_cases[i].limit
                                                               : CRM_PAGE_DEFAULT_LIMIT);
        crm_errors_reset(&errors);
    }
    //  A date filter is midnight UTC, as the statement takes it.
    Crm__Leads__ListLeadsRequest req = CRM__LEADS__LIST_LEADS_REQUEST__INIT;
    req.created_from = "2026-11-01";
    leads_list_t list;
    crm_errors_t errors = {0};
    assert_int_equal(leads_list_check(&req, &list, &errors), 0);
    assert_string_equal(list.created_from, "2026-11-01T00:00:00.000000Z");
    assert_int_equal(list.sort, 'c');
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lead_rules),
        cmocka_unit_test(test_close_rules),
        cmocka_unit_test(test_move_request),
        cmocka_unit_test(test_list_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
