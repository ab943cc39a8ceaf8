/*  Unit tests for campaigns' rules (services/notify/campaign.c): what a new campaign must
    hold (a template id; contact ids or a filter, exactly one; the limits), which
    template it may send (email, purpose marketing), who may start or cancel one, and the
    key that makes each recipient's message one message. Each table row is an example of
    the rules, with the fields each refusal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/notify/notify.h"

#define ID "0190a5a0-0000-7000-8000-000000000001"
#define ID2 "0190a5a0-0000-7000-8000-000000000002"

//  The errors' fields, comma-separated ("" when none).
static const char *s_fields(const crm_errors_t *errors) {
    static char joined[512];
    joined[0] = 0;
    for (size_t e = 0; e < errors->n; e++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", e ? "," : "",
                 errors->items[e]->field);
    return joined;
}

static const struct {
    const char *name;
    const char *template_id;
    const char *ids[3]; // the contact ids given (NULL ends)
    bool filter;        // a filter chooses
    const char *fields; // refused ("": accepted)
} s_cases[] = {
    {"Spring sale", ID, {ID2, NULL}, false, ""},
    {"", ID, {NULL}, true, ""}, // a name is optional: the template's
    {"Two", ID, {ID, ID2, NULL}, false, ""},
    {"Spring sale", "", {ID2, NULL}, false, "templateId"},
    {"Spring sale", "42", {ID2, NULL}, false, "templateId"},
    {"Nobody", ID, {NULL}, false, "contactIds"}, // no recipients
    {"Both", ID, {ID2, NULL}, true, "filter"},   // one or the other
    {"Bad id", ID, {ID2, "not-an-id", NULL}, false, "contactIds[1]"},
    {"", "", {NULL}, false, "templateId,contactIds"},
    {"A name of more than a hundred characters, a name of more than a hundred characters, "
     "a name of more than a hundred",
     ID,
     {ID2, NULL},
     false,
     "name"},
};

static void test_campaign_check(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        Crm__Contacts__ListContactsRequest *filter = NULL;
        if (s_cases[i].filter) {
            filter = malloc(sizeof *filter);
            crm__contacts__list_contacts_request__init(filter);
            filter->limit = 7;
            filter->cursor = strdup("s:50");
        }
        Crm__Notify__Campaign c = CRM__NOTIFY__CAMPAIGN__INIT;
        c.name = strdup(s_cases[i].name);
        c.template_id = (char *)s_cases[i].template_id;
        size_t n = 0;
        while (n < 3 && s_cases[i].ids[n])
            n++;
        c.contact_ids = (char **)s_cases[i].ids;
        c.n_contact_ids = n;
        c.filter = filter;
        crm_errors_t errors = {0};
        int rc = notify_campaign_check(&c, &errors);
        if (strcmp(s_fields(&errors), s_cases[i].fields) != 0)
            fail_msg("case %zu: refused [%s], expected [%s]", i, s_fields(&errors),
                     s_cases[i].fields);
        assert_int_equal(rc, s_cases[i].fields[0] ? -1 : 0);
        if (filter) {
            //  The job pages through the list itself.
            assert_int_equal(filter->limit, 0);
            assert_string_equal(filter->cursor, "");
            free(filter->cursor);
            free(filter);
        }
        crm_errors_reset(&errors);
        free(c.name);
    }
}

//  A name is trimmed; more than 10,000 ids is a filter's job.
static void test_campaign_limits(void **state) {
    (void)state;
    Crm__Notify__Campaign c = CRM__NOTIFY__CAMPAIGN__INIT;
    c.name = strdup("  Spring sale \t");
    c.template_id = ID;
    size_t n = NOTIFY_CAMPAIGN_IDS_MAX + 1;
    char **ids = calloc(n, sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = ID2;
    c.contact_ids = ids;
    c.n_contact_ids = n - 1;
    crm_errors_t errors = {0};
    assert_int_equal(notify_campaign_check(&c, &errors), 0);
    assert_string_equal(c.name, "Spring sale");
    c.n_contact_ids = n;
    assert_int_equal(notify_campaign_check(&c, &errors), -1);
    assert_string_equal(s_fields(&errors), "contactIds");
    crm_errors_reset(&errors);
    free(ids);
    free(c.name);
}

static const struct {
    bool exists;
    Crm__Notify__Channel channel;
    Crm__Notify__Purpose purpose;
    const char *fields;
} s_templates[] = {
    {true, CRM__NOTIFY__CHANNEL__CHANNEL_EMAIL, CRM__NOTIFY__PURPOSE__PURPOSE_MARKETING, ""},
    {false, 0, 0, "templateId"}, // not the tenant's
    {true, CRM__NOTIFY__CHANNEL__CHANNEL_SMS, CRM__NOTIFY__PURPOSE__PURPOSE_MARKETING,
     "templateId"},
    {true, CRM__NOTIFY__CHANNEL__CHANNEL_EMAIL, CRM__NOTIFY__PURPOSE__PURPOSE_TRANSACTIONAL,
     "templateId"},
    {true, CRM__NOTIFY__CHANNEL__CHANNEL_EMAIL, CRM__NOTIFY__PURPOSE__PURPOSE_FOLLOW_UP,
     "templateId"},
};

static void test_campaign_template(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_templates / sizeof s_templates[0]; i++) {
        Crm__Notify__Template t = CRM__NOTIFY__TEMPLATE__INIT;
        t.channel = s_templates[i].channel;
        t.purpose = s_templates[i].purpose;
        crm_errors_t errors = {0};
        int rc = notify_campaign_check_template(s_templates[i].exists ? &t : NULL, &errors);
        if (strcmp(s_fields(&errors), s_templates[i].fields) != 0)
            fail_msg("template %zu: refused [%s], expected [%s]", i, s_fields(&errors),
                     s_templates[i].fields);
        assert_int_equal(rc, s_templates[i].fields[0] ? -1 : 0);
        crm_errors_reset(&errors);
    }
}

//  Managers and admins start and cancel campaigns; the others read them.
static void test_campaign_roles(void **state) {
    (void)state;
    assert_true(notify_campaign_may_manage("admin"));
    assert_true(notify_campaign_may_manage("manager"));
    assert_false(notify_campaign_may_manage("sales"));
    assert_false(notify_campaign_may_manage("analyst"));
    assert_false(notify_campaign_may_manage("integration"));
    assert_false(notify_campaign_may_manage(""));
}

//  One message per (campaign, contact): the same pair is the same key, another campaign
//  or another contact another one.
static void test_campaign_message_key(void **state) {
    (void)state;
    char a[200], b[200], c[200], d[200];
    notify_campaign_message_key(a, sizeof a, ID, ID2);
    notify_campaign_message_key(b, sizeof b, ID, ID2);
    notify_campaign_message_key(c, sizeof c, ID2, ID2);
    notify_campaign_message_key(d, sizeof d, ID, ID);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    assert_string_equal(a, "campaign:" ID ":email:" ID2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_campaign_check),       cmocka_unit_test(test_campaign_limits),
        cmocka_unit_test(test_campaign_template),    cmocka_unit_test(test_campaign_roles),
        cmocka_unit_test(test_campaign_message_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
