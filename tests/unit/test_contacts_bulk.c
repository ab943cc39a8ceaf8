/*  Unit tests for the rules of bulk changes (services/contacts/bulk.c): the selection,
    the action and what it needs, who may delete, and what is done at once. Each table
    row is an example of the rules, with the fields each refusal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/contacts/contacts.h"

#define ADD_TAGS CRM__CONTACTS__BULK_ACTION__BULK_ACTION_ADD_TAGS
#define SET_TYPE CRM__CONTACTS__BULK_ACTION__BULK_ACTION_SET_TYPE
#define ASSIGN CRM__CONTACTS__BULK_ACTION__BULK_ACTION_ASSIGN
#define DELETE CRM__CONTACTS__BULK_ACTION__BULK_ACTION_DELETE
#define SEND_EMAIL CRM__CONTACTS__BULK_ACTION__BULK_ACTION_SEND_EMAIL
#define ID "0190a5a0-0000-7000-8000-000000000001"

static const char *s_fields(const crm_errors_t *errors) {
    static char joined[256];
    joined[0] = 0;
    for (size_t e = 0; e < errors->n; e++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", e ? "," : "",
                 errors->items[e]->field);
    return joined;
}

static const struct {
    const char *id; // one id selected (NULL: none)
    bool filter;    // a filter selects
    int action;
    const char *tag; // one tag given (NULL: none)
    int type;
    const char *assignee;
    const char *role;
    const char *fields; // refused ("": accepted)
} s_cases[] = {
    {ID, false, ADD_TAGS, "VIP", 0, "", "agent", ""},
    {NULL, true, SET_TYPE, NULL, CRM__CONTACTS__CONTACT_TYPE__CONTACT_TYPE_CUSTOMER, "", "agent",
     ""},
    {ID, false, ASSIGN, NULL, 0, " sam@dealer ", "agent", ""}, // trimmed
    {ID, false, DELETE, NULL, 0, "", "manager", ""},
    {ID, false, DELETE, NULL, 0, "", "agent", ""},         // the role: contacts_bulk_role_may
    {NULL, false, ADD_TAGS, "VIP", 0, "", "agent", "ids"}, // nothing selected
    {ID, true, ADD_TAGS, "VIP", 0, "", "agent", "filter"}, // both
    {"42", false, ADD_TAGS, "VIP", 0, "", "agent", "ids[0]"},
    {ID, false, 0, NULL, 0, "", "agent", "action"},
    {ID, false, ADD_TAGS, NULL, 0, "", "agent", "tags"},
    {ID, false, SET_TYPE, NULL, 0, "", "agent", "type"},
    {ID, false, ASSIGN, NULL, 0, "not an id!", "agent", "assignee"},
};

static void test_bulk_check(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        Crm__Contacts__ListContactsRequest filter = CRM__CONTACTS__LIST_CONTACTS_REQUEST__INIT;
        char *ids[] = {(char *)s_cases[i].id};
        char *tags[] = {(char *)s_cases[i].tag};
        Crm__Contacts__BulkContactsRequest req = CRM__CONTACTS__BULK_CONTACTS_REQUEST__INIT;
        req.ids = ids;
        req.n_ids = s_cases[i].id ? 1 : 0;
        req.filter = s_cases[i].filter ? &filter : NULL;
        req.action = s_cases[i].action;
        req.tags = tags;
        req.n_tags = s_cases[i].tag ? 1 : 0;
        req.type = s_cases[i].type;
        req.assignee = strdup(s_cases[i].assignee);
        crm_errors_t errors = {0};
        int rc = contacts_bulk_check(&req, &errors);
        if (strcmp(s_fields(&errors), s_cases[i].fields) != 0)
            fail_msg("case %zu: refused [%s], expected [%s]", i, s_fields(&errors),
                     s_cases[i].fields);
        assert_int_equal(rc, s_cases[i].fields[0] ? -1 : 0);
        if (i == 2)
            assert_string_equal(req.assignee, "sam@dealer");
        crm_errors_reset(&errors);
        free(req.assignee);
    }
}

//  send_email: a template, and the manager or admin role; the template's channel and
//  purpose are the notify service's to check.
static const struct {
    const char *template_id;
    const char *role;
    const char *fields; // refused ("": accepted)
} s_send_email[] = {
    {ID, "manager", ""},
    {ID, "admin", ""},
    {"", "manager", "templateId"},
    {"not-a-uuid", "admin", "templateId"},
    {ID, "sales", ""},             // the role is contacts_bulk_role_may's (403)
    {"", "sales", "templateId"},
};

static void test_bulk_send_email(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_send_email / sizeof s_send_email[0]; i++) {
        Crm__Contacts__ListContactsRequest filter = CRM__CONTACTS__LIST_CONTACTS_REQUEST__INIT;
        Crm__Contacts__BulkContactsRequest req = CRM__CONTACTS__BULK_CONTACTS_REQUEST__INIT;
        req.filter = &filter;
        req.action = SEND_EMAIL;
        req.template_id = (char *)s_send_email[i].template_id;
        crm_errors_t errors = {0};
        int rc = contacts_bulk_check(&req, &errors);
        if (strcmp(s_fields(&errors), s_send_email[i].fields) != 0)
            fail_msg("send_email case %zu: refused [%s], expected [%s]", i, s_fields(&errors),
                     s_send_email[i].fields);
        assert_int_equal(rc, s_send_email[i].fields[0] ? -1 : 0);
        assert_true(contacts_bulk_is_send_email(&req));
        crm_errors_reset(&errors);
    }
}

//  Delete and send_email are for managers and admins; the other actions for any role that
//  writes (the gateway keeps analysts out). A refusal is 403, never a field error.
static void test_bulk_role(void **state) {
    (void)state;
    static const struct {
        int action;
        const char *role;
        bool may;
    } cases[] = {
        {DELETE, "admin", true},      {DELETE, "manager", true},      {DELETE, "sales", false},
        {DELETE, "integration", false}, {SEND_EMAIL, "manager", true}, {SEND_EMAIL, "sales", false},
        {ADD_TAGS, "sales", true},    {ASSIGN, "sales", true},        {SET_TYPE, "integration", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Crm__Contacts__BulkContactsRequest req = CRM__CONTACTS__BULK_CONTACTS_REQUEST__INIT;
        req.action = cases[i].action;
        if (contacts_bulk_role_may(&req, cases[i].role) != cases[i].may)
            fail_msg("case %zu: %s may%s", i, cases[i].role, cases[i].may ? " not" : "");
    }
}

//  More than 10,000 ids is a filter's job.
static void test_bulk_too_many_ids(void **state) {
    (void)state;
    size_t n = 10001;
    char **ids = calloc(n, sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = ID;
    char *tags[] = {"VIP"};
    Crm__Contacts__BulkContactsRequest req = CRM__CONTACTS__BULK_CONTACTS_REQUEST__INIT;
    req.ids = ids;
    req.n_ids = n;
    req.action = ADD_TAGS;
    req.tags = tags;
    req.n_tags = 1;
    crm_errors_t errors = {0};
    assert_int_equal(contacts_bulk_check(&req, &errors), -1);
    assert_string_equal(s_fields(&errors), "ids");
    crm_errors_reset(&errors);
    free(ids);
}

//  Up to 1,000 contacts are changed in the request; more are queued.
static void test_bulk_inline(void **state) {
    (void)state;
    assert_true(contacts_bulk_runs_inline(0));
    assert_true(contacts_bulk_runs_inline(1000));
    assert_false(contacts_bulk_runs_inline(1001));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_check),
        cmocka_unit_test(test_bulk_send_email),
        cmocka_unit_test(test_bulk_role),
        cmocka_unit_test(test_bulk_too_many_ids),
        cmocka_unit_test(test_bulk_inline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
