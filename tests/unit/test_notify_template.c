/*  Unit tests for message templates' rules (services/notify/template.c): the placeholder
    scanner, the field rules with the field each refusal names, and rendering (values
    HTML-escaped in the HTML part only). Each row of a table is an example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../services/notify/notify.h"

//  The errors' fields and messages as "field: message; ..." ("" when none).
static void s_describe(const crm_errors_t *errors, char *out, size_t size) {
    out[0] = 0;
    for (size_t e = 0; e < errors->n; e++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s: %s", e ? "; " : "",
                 errors->items[e]->field, errors->items[e]->message);
}

static const struct {
    const char *text;
    const char *errors; // what the scan of field "bodyText" says ("": accepted)
} s_scans[] = {
    {"", ""},
    {"Hi there", ""},
    {"Hi {{contact.firstName}}", ""},
    {"Hi {{ contact.firstName }}, your {{\tlead.vehicle\t}}", ""},
    {"{{contact.name}}{{dealership.name}}", ""},
    {"{ not a placeholder } and a } and {x}", ""},
    {"{{salesperson.name}} {{salesperson.email}} {{salesperson.phone}}", ""},
    {"{{contact.email}} {{contact.phone}} {{contact.lastName}} {{lead.source}} {{lead.status}}",
     ""},
    {"Your {{appointment.kind}}: {{appointment.time}}. \"{{note.excerpt}}\"", ""},
    {"Your size: {{contact.shoeSize}}", "bodyText: unknown placeholder {{contact.shoeSize}}"},
    {"{{ contact.shoeSize }}", "bodyText: unknown placeholder {{contact.shoeSize}}"},
    {"{{Contact.FirstName}}", "bodyText: unknown placeholder {{Contact.FirstName}}"},
    {"{{}}", "bodyText: unknown placeholder {{}}"},
    {"{{a}} {{b}}", "bodyText: unknown placeholder {{a}}; bodyText: unknown placeholder {{b}}"},
    {"Hi {{contact.firstName", "bodyText: unclosed {{ at character 4 (write placeholders as "
                               "{{contact.firstName}})"},
    {"Ünïcode {{", "bodyText: unclosed {{ at character 9 (write placeholders as "
                   "{{contact.firstName}})"},
    {"{{x}} then {{", "bodyText: unknown placeholder {{x}}; bodyText: unclosed {{ at character "
                      "12 (write placeholders as {{contact.firstName}})"},
    {"{{contact.firstName}} }}", ""},
};

static void test_scan(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_scans / sizeof s_scans[0]; i++) {
        crm_errors_t errors = {0};
        int rc = notify_template_scan(s_scans[i].text, "bodyText", &errors);
        char got[512];
        s_describe(&errors, got, sizeof got);
        if (strcmp(got, s_scans[i].errors) != 0)
            fail_msg("scan %zu (%s): [%s], expected [%s]", i, s_scans[i].text, got,
                     s_scans[i].errors);
        assert_int_equal(rc, s_scans[i].errors[0] ? -1 : 0);
        crm_errors_reset(&errors);
    }
}

#define SMS CRM__NOTIFY__CHANNEL__CHANNEL_SMS
#define EMAIL CRM__NOTIFY__CHANNEL__CHANNEL_EMAIL
#define NONE CRM__NOTIFY__CHANNEL__CHANNEL_UNSPECIFIED
#define TX CRM__NOTIFY__PURPOSE__PURPOSE_TRANSACTIONAL
#define MK CRM__NOTIFY__PURPOSE__PURPOSE_MARKETING

static const struct {
    const char *name;
    Crm__Notify__Channel channel;
    Crm__Notify__Purpose purpose;
    const char *subject, *body_text, *body_html;
    const char *fields; // the fields refused, in order, joined by commas ("": accepted)
} s_cases[] = {
    {"Welcome", SMS, TX, "", "Hi {{contact.firstName}}", "", ""},
    {"  Welcome  ", EMAIL, MK, "Hello", "Hi", "<p>Hi {{contact.firstName}}</p>", ""},
    {"Welcome", EMAIL, TX, "Your {{lead.vehicle}}", "Hi", "", ""}, // html optional
    {"", SMS, TX, "", "Hi", "", "name"},
    {"   ", SMS, TX, "", "Hi", "", "name"},
    {"N", NONE, TX, "", "Hi", "", "channel"},
    {"N", SMS, CRM__NOTIFY__PURPOSE__PURPOSE_UNSPECIFIED, "", "Hi", "", "purpose"},
    {"N", SMS, TX, "", "", "", "bodyText"},
    {"N", SMS, TX, "", "  \n ", "", "bodyText"},
    {"N", EMAIL, TX, "", "Hi", "", "subject"},
    {"N", EMAIL, TX, "a\r\nBcc: x@example.com", "Hi", "", "subject"},
    {"N", SMS, TX, "Subject", "Hi", "", "subject"},
    {"N", SMS, TX, "", "Hi", "<p>Hi</p>", "bodyHtml"},
    {"N", SMS, TX, "", "Hi {{contact.shoeSize}}", "", "bodyText"},
    {"N", EMAIL, TX, "{{x}}", "{{y}}", "{{z}}", "subject,bodyText,bodyHtml"},
    {"N", EMAIL, TX, "S", "Hi", "<p>{{contact.firstName</p>", "bodyHtml"},
    {"", NONE, CRM__NOTIFY__PURPOSE__PURPOSE_UNSPECIFIED, "", "", "",
     "name,channel,purpose,bodyText"},
};

static void test_rules(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        Crm__Notify__Template t = CRM__NOTIFY__TEMPLATE__INIT;
        t.name = strdup(s_cases[i].name);
        t.channel = s_cases[i].channel;
        t.purpose = s_cases[i].purpose;
        t.subject = (char *)s_cases[i].subject;
        t.body_text = (char *)s_cases[i].body_text;
        t.body_html = (char *)s_cases[i].body_html;
        crm_errors_t errors = {0};
        int rc = notify_template_check(&t, &errors);
        char fields[128] = "";
        for (size_t e = 0; e < errors.n; e++)
            snprintf(fields + strlen(fields), sizeof fields - strlen(fields), "%s%s", e ? "," : "",
                     errors.items[e]->field);
        if (strcmp(fields, s_cases[i].fields) != 0)
            fail_msg("case %zu (%s): refused [%s], expected [%s]", i, s_cases[i].name, fields,
                     s_cases[i].fields);
        assert_int_equal(rc, s_cases[i].fields[0] ? -1 : 0);
        if (!rc)
            assert_string_equal(t.name, "Welcome"); // trimmed
        crm_errors_reset(&errors);
        free(t.name);
    }
}

//  Lengths: the name's 100 characters (not bytes), SMS 1600 characters.
static void test_lengths(void **state) {
    (void)state;
    char name[512] = "", body[4000];
    for (int i = 0; i < 100; i++)
        strcat(name, "é"); // 2 bytes, 1 character
    memset(body, 'x', 1600);
    body[1600] = 0;
    Crm__Notify__Template t = CRM__NOTIFY__TEMPLATE__INIT;
    t.name = name;
    t.channel = SMS;
    t.purpose = TX;
    t.body_text = body;
    crm_errors_t errors = {0};
    assert_int_equal(notify_template_check(&t, &errors), 0);
    strcat(name, "x");
    body[1600] = 'x';
    body[1601] = 0;
    assert_int_equal(notify_template_check(&t, &errors), -1);
    assert_int_equal(errors.n, 2);
    assert_string_equal(errors.items[0]->field, "name");
    assert_string_equal(errors.items[0]->message, "must be at most 100 characters");
    assert_string_equal(errors.items[1]->field, "bodyText");
    assert_string_equal(errors.items[1]->message,
                        "must be at most 1600 characters for an SMS template");
    crm_errors_reset(&errors);
    t.channel = EMAIL; // an email's text may be longer
    t.subject = "S";
    name[strlen(name) - 1] = 0;
    assert_int_equal(notify_template_check(&t, &errors), 0);
}

static void test_mask(void **state) {
    (void)state;
    char *good[] = {"name", "channel", "purpose", "subject", "bodyText", "bodyHtml", "body_text"};
    crm_errors_t errors = {0};
    assert_int_equal(notify_template_mask_check(good, 7, &errors), 0);
    char *bad[] = {"id", "createdAt", "shoeSize"};
    assert_int_equal(notify_template_mask_check(bad, 3, &errors), -1);
    assert_int_equal(errors.n, 3);
    assert_string_equal(errors.items[2]->field, "shoeSize");
    crm_errors_reset(&errors);

    Crm__Notify__Template t = CRM__NOTIFY__TEMPLATE__INIT, from = CRM__NOTIFY__TEMPLATE__INIT;
    t.name = strdup("Old");
    t.body_text = strdup("Old text");
    t.channel = SMS;
    from.name = "New";
    from.channel = EMAIL;
    from.body_text = "ignored";
    char *mask[] = {"name", "channel"};
    Crm__Notify__UpdateTemplateRequest req = CRM__NOTIFY__UPDATE_TEMPLATE_REQUEST__INIT;
    req.template_ = &from;
    req.update_mask = mask;
    req.n_update_mask = 2;
    notify_template_apply(&t, &req);
    assert_string_equal(t.name, "New");
    assert_int_equal(t.channel, EMAIL);
    assert_string_equal(t.body_text, "Old text");
    free(t.name);
    free(t.body_text);
}

static void test_render(void **state) {
    (void)state;
    Crm__Contacts__Contact contact = CRM__CONTACTS__CONTACT__INIT;
    Crm__Contacts__Email e1 = CRM__CONTACTS__EMAIL__INIT, e2 = CRM__CONTACTS__EMAIL__INIT;
    Crm__Contacts__Email *emails[] = {&e1, &e2};
    e1.address = "first@example.com";
    e2.address = "primary@example.com";
    e2.primary = true;
    contact.first_name = "Ann <b>";
    contact.last_name = "O'Lee & Co";
    contact.emails = emails;
    contact.n_emails = 2;
    Crm__Leads__Lead lead = CRM__LEADS__LEAD__INIT;
    Crm__Leads__VehicleInterest vehicle = CRM__LEADS__VEHICLE_INTEREST__INIT;
    vehicle.year = 2024;
    vehicle.make = "Toyota";
    vehicle.model = "RAV4";
    lead.vehicle = &vehicle;
    lead.source = CRM__LEADS__LEAD_SOURCE__LEAD_SOURCE_WALK_IN;
    lead.status = "new";
    Crm__Leads__TeamMember member = CRM__LEADS__TEAM_MEMBER__INIT;
    member.name = "Sam \"Deals\"";

    notify_values_t values;
    notify_values_init(&values);
    notify_values_from_contact(&values, &contact);
    notify_values_from_lead(&values, &lead);
    notify_values_from_member(&values, &member);
    notify_values_set(&values, NOTIFY_DEALERSHIP_NAME, "Main St Motors");

    static const struct {
        const char *text;
        bool html;
        const char *expected;
    } cases[] = {
        {"Hi {{contact.firstName}}", false, "Hi Ann <b>"},
        {"Hi {{ contact.firstName }}", true, "Hi Ann &lt;b&gt;"},
        {"<p>{{contact.name}}</p>", true, "<p>Ann &lt;b&gt; O&#39;Lee &amp; Co</p>"},
        {"{{contact.name}}", false, "Ann <b> O'Lee & Co"},
        {"{{contact.email}}", false, "primary@example.com"},
        {"{{contact.phone}}|", false, "|"}, // none: empty
        {"Your {{lead.vehicle}} ({{lead.source}}, {{lead.status}})", false,
         "Your 2024 Toyota RAV4 (walk in, new)"},
        {"{{salesperson.name}}", true, "Sam &quot;Deals&quot;"},
        {"{{dealership.name}}", false, "Main St Motors"},
        {"a { b } {{unknown}}c", false, "a { b } c"},
        {"left {{ open", false, "left {{ open"},
        {"", true, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = notify_template_render(cases[i].text, &values, cases[i].html);
        if (strcmp(out, cases[i].expected) != 0)
            fail_msg("render %zu (%s): [%s], expected [%s]", i, cases[i].text, out,
                     cases[i].expected);
        free(out);
    }
    notify_values_reset(&values);
}

//  Every placeholder of the table is found by its name, and only by it.
static void test_table(void **state) {
    (void)state;
    for (int i = 0; i < NOTIFY_PLACEHOLDER_COUNT; i++) {
        const char *name = notify_placeholders[i].name;
        assert_non_null(name);
        assert_int_equal(notify_placeholder_find(name, strlen(name)), i);
        assert_int_equal(notify_placeholder_find(name, strlen(name) - 1), -1);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan), cmocka_unit_test(test_rules),  cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_mask), cmocka_unit_test(test_render), cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
