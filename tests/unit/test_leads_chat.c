/*  Unit tests for the rules of a lead from a website chat (services/leads/chat.c): the
    lead and the chat activity a request makes, what it must carry, and how the contacts
    service's field names read as the visitor's. Each row of a table is an example of the
    rules, with the fields each refusal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/leads/leads.h"

static void s_fields(const crm_errors_t *errors, char *out, size_t size) {
    out[0] = 0;
    for (size_t e = 0; e < errors->n; e++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", e ? "," : "",
                 errors->items[e]->field);
}

static const struct {
    const char *rule;
    const char *email, *phone, *chat_id, *line;
    bool visitor;
    int64_t budget_min, budget_max;
    const char *fields; // refused ("": accepted)
} s_cases[] = {
    {"a chat with a visitor's email and a transcript", "ann@example.com", "", "c-1", "Hi", true, 0,
     0, ""},
    {"a phone is enough", "", "+1 312 555 0100", "", "Hi", true, 0, 0, ""},
    {"a visitor is required", "", "", "c-1", "Hi", false, 0, 0, "visitor.email"},
    {"an email or a phone is required", " ", " ", "c-1", "Hi", true, 0, 0, "visitor.email"},
    {"a transcript is required", "ann@example.com", "", "c-1", "", true, 0, 0, "transcript"},
    {"a chat id is at most 128 characters", "ann@example.com", "",
     "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
     "ccccccccccccccccccccccccccccccccccccccccccccc",
     "Hi", true, 0, 0, "chatId"},
    {"the lead's fields are a created lead's", "ann@example.com", "", "c-1", "Hi", true, 500, 100,
     "budgetMaxCents"},
    {"the lead's errors come first, the visitor's last", "", "", "c-1", "", true, 500, 100,
     "budgetMaxCents,visitor.email"},
};

static void test_chat_rules(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof *s_cases; i++) {
        Crm__Leads__CreateLeadFromChatRequest req = CRM__LEADS__CREATE_LEAD_FROM_CHAT_REQUEST__INIT;
        Crm__Leads__ChatVisitor visitor = CRM__LEADS__CHAT_VISITOR__INIT;
        Crm__Leads__ChatLine line = CRM__LEADS__CHAT_LINE__INIT;
        Crm__Leads__ChatLine *lines[] = {&line};
        visitor.first_name = "Ann";
        visitor.email = (char *)s_cases[i].email;
        visitor.phone = (char *)s_cases[i].phone;
        if (s_cases[i].visitor)
            req.visitor = &visitor;
        req.chat_id = (char *)s_cases[i].chat_id;
        if (s_cases[i].line[0]) {
            line.from = CRM__LEADS__CHAT_SPEAKER__CHAT_SPEAKER_VISITOR;
            line.text = (char *)s_cases[i].line;
            req.transcript = lines;
            req.n_transcript = 1;
        }
        req.budget_min_cents = s_cases[i].budget_min;
        req.budget_max_cents = s_cases[i].budget_max;
        leads_chat_t chat = {0};
        crm_errors_t errors = {0};
        int rc = leads_chat_check(&req, &chat, &errors);
        char fields[256];
        s_fields(&errors, fields, sizeof fields);
        if (strcmp(fields, s_cases[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_cases[i].rule, fields,
                     s_cases[i].fields);
        assert_int_equal(rc, s_cases[i].fields[0] ? -1 : 0);
        crm_errors_reset(&errors);
        leads_chat_reset(&chat);
    }
}

//  What a chat makes: a lead from the chat (its priority defaulted, its custom fields
//  kept), a chat activity with the transcript and the agent's notes, the chat id trimmed.
static void test_chat_makes(void **state) {
    (void)state;
    Crm__Leads__CreateLeadFromChatRequest req = CRM__LEADS__CREATE_LEAD_FROM_CHAT_REQUEST__INIT;
    Crm__Leads__ChatVisitor visitor = CRM__LEADS__CHAT_VISITOR__INIT;
    Crm__Leads__ChatLine line = CRM__LEADS__CHAT_LINE__INIT;
    Crm__Leads__ChatLine *lines[] = {&line};
    Crm__Leads__CreateLeadFromChatRequest__CustomFieldsEntry entry =
        CRM__LEADS__CREATE_LEAD_FROM_CHAT_REQUEST__CUSTOM_FIELDS_ENTRY__INIT;
    Crm__Leads__CreateLeadFromChatRequest__CustomFieldsEntry *entries[] = {&entry};
    entry.key = "campaign";
    entry.value = "spring";
    visitor.email = "ann@example.com";
    line.from = CRM__LEADS__CHAT_SPEAKER__CHAT_SPEAKER_AGENT;
    line.text = "Welcome";
    req.visitor = &visitor;
    req.chat_id = "  web-42 ";
    req.transcript = lines;
    req.n_transcript = 1;
    req.notes = "wants a test drive";
    req.custom_fields = entries;
    req.n_custom_fields = 1;
    leads_chat_t chat = {0};
    crm_errors_t errors = {0};
    assert_int_equal(leads_chat_check(&req, &chat, &errors), 0);
    assert_string_equal(chat.chat_id, "web-42");
    assert_int_equal(chat.lead->source, CRM__LEADS__LEAD_SOURCE__LEAD_SOURCE_CHAT);
    assert_int_equal(chat.lead->priority, CRM__LEADS__PRIORITY__PRIORITY_COLD);
    assert_int_equal(chat.lead->n_custom_fields, 1);
    assert_string_equal(chat.lead->custom_fields[0]->value, "spring");
    assert_int_equal(chat.activity->kind, CRM__LEADS__ACTIVITY_KIND__ACTIVITY_KIND_CHAT);
    assert_int_equal(chat.activity->n_transcript, 1);
    assert_string_equal(chat.activity->notes, "wants a test drive");
    leads_chat_reset(&chat);
    assert_null(chat.lead);
}

static void test_chat_visitor_field(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        {"emails[0].address", "visitor.email"},
        {"phones[0].number", "visitor.phone"},
        {"firstName", "visitor.firstName"},
        {"lastName", "visitor.lastName"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[96];
        leads_chat_visitor_field(cases[i][0], out, sizeof out);
        assert_string_equal(out, cases[i][1]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_rules),
        cmocka_unit_test(test_chat_makes),
        cmocka_unit_test(test_chat_visitor_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
