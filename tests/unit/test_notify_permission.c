/*  Unit tests for who may be sent what (services/notify/permission.c): examples of each
    rule and of their precedence, then the whole matrix (channel x purpose x consent x
    do-not-contact x stop-follow-ups x erased x the lines' opt-ins, ranks and STOPs), then
    the walk from one SMS line to the next. Each row asserts allowed, reason and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../services/notify/permission.h"

#define SMS CRM__NOTIFY__CHANNEL__CHANNEL_SMS
#define EMAIL CRM__NOTIFY__CHANNEL__CHANNEL_EMAIL
#define TX CRM__NOTIFY__PURPOSE__PURPOSE_TRANSACTIONAL
#define FU CRM__NOTIFY__PURPOSE__PURPOSE_FOLLOW_UP
#define MK CRM__NOTIFY__PURPOSE__PURPOSE_MARKETING
#define UNSPECIFIED CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_UNSPECIFIED
#define UNKNOWN CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_UNKNOWN
#define GRANTED CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_GRANTED
#define WITHDRAWN CRM__CONTACTS__CONSENT_STATUS__CONSENT_STATUS_WITHDRAWN

#define OK NOTIFY_PERMISSION_ALLOWED
#define ERASED NOTIFY_PERMISSION_ERASED
#define DNC NOTIFY_PERMISSION_DO_NOT_CONTACT
#define STOPPED NOTIFY_PERMISSION_STOP_FOLLOW_UPS
#define NO_CONSENT NOTIFY_PERMISSION_NO_CONSENT
#define CONSENT_WITHDRAWN NOTIFY_PERMISSION_CONSENT_WITHDRAWN
#define OPTED_OUT NOTIFY_PERMISSION_OPTED_OUT
#define UNSUBSCRIBED NOTIFY_PERMISSION_UNSUBSCRIBED
#define NO_LINE NOTIFY_PERMISSION_NO_PERMITTED_LINE

//  A recipient's lines, as a static array and its length.
#define PHONES(...)                                                                                \
    .phones = (const notify_permission_phone_t[]){__VA_ARGS__},                                    \
    .phone_count = sizeof((const notify_permission_phone_t[]){__VA_ARGS__}) /                      \
                   sizeof(notify_permission_phone_t)
#define EMAILS(...)                                                                                \
    .emails = (const notify_permission_email_t[]){__VA_ARGS__},                                    \
    .email_count = sizeof((const notify_permission_email_t[]){__VA_ARGS__}) /                      \
                   sizeof(notify_permission_email_t)

//  A phone: number, SMS opt-in, sms_rank, texted STOP.
#define PHONE(number, sms, rank, stop)                                                             \
    { number, sms, rank, stop }
//  An address: address, primary, its consent flag, unsubscribed.
#define ADDRESS(address, primary, consent, unsub)                                                  \
    { address, primary, consent, unsub }

#define MOBILE PHONES(PHONE("+15550000001", true, 0, false))
#define INBOX EMAILS(ADDRESS("ana@example.com", true, true, false))

//  Check one decision against (reason, line), and that its strings agree with it.
static void s_check(const char *what, const notify_permission_recipient_t *who,
                    Crm__Notify__Channel channel, const notify_permission_t *got,
                    notify_permission_reason_t reason, int line) {
    if (got->reason != reason || got->line != line)
        fail_msg("%s: got %s line %d (%s), expected %s line %d", what,
                 got->allowed ? "allowed" : got->code, got->line, got->detail,
                 reason == OK ? "allowed" : notify_permission_code(reason), line);
    assert_int_equal(got->allowed, reason == OK);
    assert_string_equal(got->code, notify_permission_code(reason));
    if (reason == OK) {
        assert_string_equal(got->detail, "");
        assert_string_equal(got->to,
                            channel == SMS ? who->phones[line].number : who->emails[line].address);
    } else {
        assert_true(strlen(got->detail) > 0);
        assert_null(got->to);
    }
}

// --- examples: each rule, and which wins --------------------------------------------------

// clang-format off
static const struct {
    const char *what;
    Crm__Notify__Channel channel;
    Crm__Notify__Purpose purpose;
    notify_permission_reason_t reason; // OK: allowed, to that line
    int line;
    notify_permission_recipient_t who;
} s_examples[] = {
    {"a confirmation by SMS, nothing recorded", SMS, TX, OK, 0, {MOBILE}},
    {"a confirmation by email to an address without consent", EMAIL, TX, OK, 0,
     {EMAILS(ADDRESS("ana@example.com", true, false, false))}},
    {"erased, everything else granted", SMS, MK, ERASED, -1,
     {.erased = true, .sms_marketing = GRANTED, MOBILE}},
    {"erased wins over do-not-contact", SMS, TX, ERASED, -1,
     {.erased = true, .do_not_contact.sms = true, MOBILE}},
    {"do-not-contact by SMS stops a confirmation", SMS, TX, DNC, -1,
     {.do_not_contact.sms = true, MOBILE}},
    {"do-not-contact by SMS leaves email", EMAIL, TX, OK, 0,
     {.do_not_contact.sms = true, MOBILE, INBOX}},
    {"do-not-contact by email wins over a granted consent", EMAIL, MK, DNC, -1,
     {.do_not_contact.email = true, .email_marketing = GRANTED, INBOX}},
    {"do-not-call and do-not-mail leave SMS", SMS, FU, OK, 0,
     {.do_not_contact.call = true, .do_not_contact.mail = true, MOBILE}},
    {"do-not-contact wins over stop-follow-ups", SMS, FU, DNC, -1,
     {.do_not_contact.sms = true, .stop_follow_ups = true, MOBILE}},
    {"stop-follow-ups stops a follow-up", SMS, FU, STOPPED, -1, {.stop_follow_ups = true, MOBILE}},
    {"stop-follow-ups leaves a confirmation", SMS, TX, OK, 0, {.stop_follow_ups = true, MOBILE}},
    {"stop-follow-ups leaves granted marketing", EMAIL, MK, OK, 0,
     {.stop_follow_ups = true, .email_marketing = GRANTED, INBOX}},
    {"stop-follow-ups does not stand in for consent", SMS, MK, NO_CONSENT, -1,
     {.stop_follow_ups = true, .sms_marketing = UNKNOWN, MOBILE}},
    {"a follow-up needs no consent", SMS, FU, OK, 0, {.sms_marketing = UNKNOWN, MOBILE}},
    {"a follow-up after marketing consent was withdrawn", SMS, FU, OK, 0,
     {.sms_marketing = WITHDRAWN, MOBILE}},
    {"marketing SMS, consent unknown", SMS, MK, NO_CONSENT, -1, {.sms_marketing = UNKNOWN, MOBILE}},
    {"marketing SMS, nothing recorded (unspecified)", SMS, MK, NO_CONSENT, -1, {MOBILE}},
    {"marketing SMS, consent withdrawn", SMS, MK, CONSENT_WITHDRAWN, -1,
     {.sms_marketing = WITHDRAWN, MOBILE}},
    {"marketing SMS, consent granted", SMS, MK, OK, 0, {.sms_marketing = GRANTED, MOBILE}},
    {"marketing consent is per channel", EMAIL, MK, CONSENT_WITHDRAWN, -1,
     {.sms_marketing = GRANTED, .email_marketing = WITHDRAWN, MOBILE, INBOX}},
    {"consent is judged before the lines", SMS, MK, CONSENT_WITHDRAWN, -1,
     {.sms_marketing = WITHDRAWN}},
    {"marketing email to an address without its own consent", EMAIL, MK, NO_CONSENT, -1,
     {.email_marketing = GRANTED, EMAILS(ADDRESS("ana@example.com", true, false, false))}},
    {"marketing email to an unsubscribed address", EMAIL, MK, UNSUBSCRIBED, -1,
     {.email_marketing = GRANTED, EMAILS(ADDRESS("ana@example.com", true, true, true))}},
    {"marketing email: the primary unsubscribed, no other address tried", EMAIL, MK,
     UNSUBSCRIBED, -1,
     {.email_marketing = GRANTED, EMAILS(ADDRESS("ana@work.example", false, true, false),
                                         ADDRESS("ana@example.com", true, true, true))}},
    {"an unsubscribe leaves confirmations", EMAIL, TX, OK, 0,
     {EMAILS(ADDRESS("ana@example.com", true, false, true))}},
    {"an unsubscribe leaves follow-ups", EMAIL, FU, OK, 0,
     {EMAILS(ADDRESS("ana@example.com", true, false, true))}},
    {"email goes to the primary address", EMAIL, TX, OK, 1,
     {EMAILS(ADDRESS("a@example.com", false, true, false),
                   ADDRESS("b@example.com", true, true, false))}},
    {"email without a primary goes to the first address", EMAIL, TX, OK, 1,
     {EMAILS(ADDRESS("", true, true, false),
                   ADDRESS("a@example.com", false, false, false),
                   ADDRESS("b@example.com", false, true, false))}},
    {"no email address", EMAIL, TX, NO_LINE, -1, {MOBILE}},
    {"no phone opted in to SMS", SMS, TX, NO_LINE, -1,
     {PHONES(PHONE("+15550000001", false, 0, false))}},
    {"every SMS line texted STOP", SMS, TX, OPTED_OUT, -1,
     {PHONES(PHONE("+15550000001", true, 0, true),
                   PHONE("+15550000002", true, 1, true),
                   PHONE("+15550000003", false, 0, false))}},
    {"SMS goes by rank, not list order", SMS, TX, OK, 1,
     {PHONES(PHONE("+15550000001", true, 2, false), PHONE("+15550000002", true, 1, false))}},
    {"SMS skips a line that texted STOP", SMS, TX, OK, 1,
     {PHONES(PHONE("+15550000001", true, 1, true), PHONE("+15550000002", true, 2, false))}},
    {"a staff alert: no consumer rules, no SMS opt-in needed", SMS, FU, OK, 0,
     {.team_member = true, .erased = true, .do_not_contact.sms = true, .stop_follow_ups = true,
      .sms_marketing = WITHDRAWN, PHONES(PHONE("+15550000009", false, 0, false))}},
    {"a staff alert to a number that texted STOP", SMS, TX, OPTED_OUT, -1,
     {.team_member = true, PHONES(PHONE("+15550000009", false, 0, true))}},
    {"a staff alert without a number", SMS, TX, NO_LINE, -1, {.team_member = true}},
    {"a staff alert by email, no consent anywhere", EMAIL, MK, OK, 0,
     {.team_member = true, EMAILS(ADDRESS("rep@dealer.example", false, false, true))}},
    {"a staff alert without an address", EMAIL, TX, NO_LINE, -1, {.team_member = true, MOBILE}},
    {"an unknown channel", 7, TX, NO_LINE, -1, {.sms_marketing = GRANTED, MOBILE, INBOX}},
    {"an unknown purpose is held to marketing's rules", SMS, 0, NO_CONSENT, -1,
     {.sms_marketing = UNKNOWN, MOBILE}},
};
// clang-format on

static void test_examples(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_examples / sizeof s_examples[0]; i++) {
        notify_permission_t got;
        bool allowed = notify_permission_decide(&s_examples[i].who, s_examples[i].channel,
                                                s_examples[i].purpose, &got);
        assert_int_equal(allowed, got.allowed);
        s_check(s_examples[i].what, &s_examples[i].who, s_examples[i].channel, &got,
                s_examples[i].reason, s_examples[i].line);
    }
}

// --- the matrix ----------------------------------------------------------------------------

//  Sets of SMS lines, each with the outcome of the lines alone.
static const struct {
    const char *what;
    notify_permission_recipient_t lines;
    notify_permission_reason_t reason;
    int line;
} s_sms_lines[] = {
    {"no phone", {.phone_count = 0}, NO_LINE, -1},
    {"one phone, not opted in", {PHONES(PHONE("+15550000001", false, 0, false))}, NO_LINE, -1},
    {"one phone, opted in", {PHONES(PHONE("+15550000001", true, 0, false))}, OK, 0},
    {"one phone, opted in, STOP", {PHONES(PHONE("+15550000001", true, 0, true))}, OPTED_OUT, -1},
    {"one phone opted in without a number", {PHONES(PHONE("", true, 1, false))}, NO_LINE, -1},
    {"the second opted in",
     {PHONES(PHONE("+15550000001", false, 0, false), PHONE("+15550000002", true, 0, false))},
     OK,
     1},
    {"both opted in, unranked: list order",
     {PHONES(PHONE("+15550000001", true, 0, false), PHONE("+15550000002", true, 0, false))},
     OK,
     0},
    {"ranked 2 then 1",
     {PHONES(PHONE("+15550000001", true, 2, false), PHONE("+15550000002", true, 1, false))},
     OK,
     1},
    {"unranked then ranked: the ranked first",
     {PHONES(PHONE("+15550000001", true, 0, false), PHONE("+15550000002", true, 1, false))},
     OK,
     1},
    {"equal ranks: list order",
     {PHONES(PHONE("+15550000001", true, 0, false), PHONE("+15550000002", true, 3, false),
             PHONE("+15550000003", true, 3, false))},
     OK,
     1},
    {"rank 1 texted STOP, rank 2 next",
     {PHONES(PHONE("+15550000001", true, 1, true), PHONE("+15550000002", true, 2, false))},
     OK,
     1},
    {"both opted in, both STOP",
     {PHONES(PHONE("+15550000001", true, 1, true), PHONE("+15550000002", true, 0, true))},
     OPTED_OUT,
     -1},
    {"the opted-in line STOP, the other not opted in",
     {PHONES(PHONE("+15550000001", true, 0, true), PHONE("+15550000002", false, 0, false))},
     OPTED_OUT,
     -1},
    {"a STOP on a line not opted in does not count",
     {PHONES(PHONE("+15550000001", false, 0, true), PHONE("+15550000002", true, 0, false))},
     OK,
     1},
};

//  Sets of email addresses, each with the outcome of the lines alone, for a confirmation or
//  follow-up and for marketing.
static const struct {
    const char *what;
    notify_permission_recipient_t lines;
    notify_permission_reason_t reason;
    int line;
    notify_permission_reason_t marketing_reason;
    int marketing_line;
} s_email_lines[] = {
    {"no address", {.email_count = 0}, NO_LINE, -1, NO_LINE, -1},
    {"an empty address", {EMAILS(ADDRESS("", true, true, false))}, NO_LINE, -1, NO_LINE, -1},
    {"one address with consent", {INBOX}, OK, 0, OK, 0},
    {"one address without consent",
     {EMAILS(ADDRESS("a@example.com", false, false, false))},
     OK,
     0,
     NO_CONSENT,
     -1},
    {"the second is primary",
     {EMAILS(ADDRESS("a@example.com", false, true, false),
             ADDRESS("b@example.com", true, true, false))},
     OK,
     1,
     OK,
     1},
    {"the primary unsubscribed",
     {EMAILS(ADDRESS("a@example.com", true, true, true))},
     OK,
     0,
     UNSUBSCRIBED,
     -1},
    {"the primary without consent, another with",
     {EMAILS(ADDRESS("a@example.com", false, true, false),
             ADDRESS("b@example.com", true, false, false))},
     OK,
     1,
     NO_CONSENT,
     -1},
    {"unsubscribed and without consent",
     {EMAILS(ADDRESS("a@example.com", true, false, true))},
     OK,
     0,
     UNSUBSCRIBED,
     -1},
    {"an empty address first, no primary",
     {EMAILS(ADDRESS("", false, true, false), ADDRESS("b@example.com", false, true, false))},
     OK,
     1,
     OK,
     1},
};

static const Crm__Notify__Purpose s_purposes[] = {TX, FU, MK};
static const Crm__Contacts__ConsentStatus s_consents[] = {UNSPECIFIED, UNKNOWN, GRANTED, WITHDRAWN};

//  The outcome the rules' precedence gives, the lines' own outcome being (reason, line).
static void s_expect(const notify_permission_recipient_t *who, Crm__Notify__Channel channel,
                     Crm__Notify__Purpose purpose, notify_permission_reason_t lines_reason,
                     int lines_line, notify_permission_reason_t *reason, int *line) {
    Crm__Contacts__ConsentStatus consent =
        channel == SMS ? who->sms_marketing : who->email_marketing;
    *line = -1;
    if (who->erased)
        *reason = ERASED;
    else if (channel == SMS ? who->do_not_contact.sms : who->do_not_contact.email)
        *reason = DNC;
    else if (purpose == FU && who->stop_follow_ups)
        *reason = STOPPED;
    else if (purpose == MK && consent == WITHDRAWN)
        *reason = CONSENT_WITHDRAWN;
    else if (purpose == MK && consent != GRANTED)
        *reason = NO_CONSENT;
    else {
        *reason = lines_reason;
        *line = lines_line;
    }
}

//  Every channel x purpose x consent (the other channel's the opposite) x do-not-contact by
//  SMS x by email x stop-follow-ups x erased x set of lines.
static void test_matrix(void **state) {
    (void)state;
    size_t rows = 0;
    for (int channel = SMS; channel <= EMAIL; channel++) {
        size_t n_lines = channel == SMS ? sizeof s_sms_lines / sizeof s_sms_lines[0]
                                        : sizeof s_email_lines / sizeof s_email_lines[0];
        for (size_t l = 0; l < n_lines; l++)
            for (size_t p = 0; p < 3; p++)
                for (size_t c = 0; c < 4; c++)
                    for (int flags = 0; flags < 16; flags++) {
                        notify_permission_recipient_t who =
                            channel == SMS ? s_sms_lines[l].lines : s_email_lines[l].lines;
                        Crm__Contacts__ConsentStatus other =
                            s_consents[c] == GRANTED ? WITHDRAWN : GRANTED;
                        who.sms_marketing = channel == SMS ? s_consents[c] : other;
                        who.email_marketing = channel == SMS ? other : s_consents[c];
                        who.do_not_contact.sms = flags & 1;
                        who.do_not_contact.email = flags & 2;
                        who.stop_follow_ups = flags & 4;
                        who.erased = flags & 8;
                        who.do_not_contact.call = who.do_not_contact.mail = true;

                        notify_permission_reason_t lines_reason;
                        int lines_line;
                        if (channel == SMS) {
                            lines_reason = s_sms_lines[l].reason;
                            lines_line = s_sms_lines[l].line;
                        } else if (s_purposes[p] == MK) {
                            lines_reason = s_email_lines[l].marketing_reason;
                            lines_line = s_email_lines[l].marketing_line;
                        } else {
                            lines_reason = s_email_lines[l].reason;
                            lines_line = s_email_lines[l].line;
                        }
                        notify_permission_reason_t reason;
                        int line;
                        s_expect(&who, channel, s_purposes[p], lines_reason, lines_line, &reason,
                                 &line);

                        char what[256];
                        snprintf(what, sizeof what,
                                 "%s, purpose %d, consent %d, dnc sms %d email %d, stop %d, "
                                 "erased %d, lines: %s",
                                 channel == SMS ? "sms" : "email", s_purposes[p], s_consents[c],
                                 who.do_not_contact.sms, who.do_not_contact.email,
                                 who.stop_follow_ups, who.erased,
                                 channel == SMS ? s_sms_lines[l].what : s_email_lines[l].what);
                        notify_permission_t got;
                        notify_permission_decide(&who, channel, s_purposes[p], &got);
                        s_check(what, &who, channel, &got, reason, line);
                        rows++;
                    }
    }
    assert_int_equal(rows, (14 + 9) * 3 * 4 * 16);
}

// --- one SMS line after another -----------------------------------------------------------

//  The SMS order of these: index 2 (rank 1), 4 (rank 1, STOP), 0 (rank 2), then the
//  unranked 1 and 5; 3 is not opted in.
static const notify_permission_phone_t s_walk_phones[] = {
    PHONE("+15550000000", true, 2, false), PHONE("+15550000001", true, 0, false),
    PHONE("+15550000002", true, 1, false), PHONE("+15550000003", false, 0, false),
    PHONE("+15550000004", true, 1, true),  PHONE("+15550000005", true, 0, false),
};

static void test_next_line(void **state) {
    (void)state;
    notify_permission_recipient_t who = {.phones = s_walk_phones, .phone_count = 6};
    notify_permission_t got;

    //  From the first line to the last, one at a time.
    static const int walk[] = {2, 0, 1, 5};
    int after = -1;
    for (size_t i = 0; i < 4; i++) {
        assert_true(notify_permission_next_line(&who, SMS, TX, after, &got));
        s_check("walk", &who, SMS, &got, OK, walk[i]);
        after = got.line;
    }
    assert_false(notify_permission_next_line(&who, SMS, TX, after, &got));
    s_check("past the last", &who, SMS, &got, NO_LINE, -1);
    assert_string_equal(got.detail, "no further SMS line to try");

    //  After the line that texted STOP (rank 1), or the one not opted in (unranked, after
    //  1): from where it stands in the order.
    notify_permission_next_line(&who, SMS, TX, 4, &got);
    s_check("after a STOP line", &who, SMS, &got, OK, 0);
    notify_permission_next_line(&who, SMS, TX, 3, &got);
    s_check("after a line not opted in", &who, SMS, &got, OK, 5);
    notify_permission_next_line(&who, SMS, TX, 99, &got);
    s_check("after a line beyond the list", &who, SMS, &got, NO_LINE, -1);

    //  Every line left texted STOP.
    static const notify_permission_phone_t stops[] = {PHONE("+15550000001", true, 1, false),
                                                      PHONE("+15550000002", true, 2, true)};
    notify_permission_recipient_t stopped = {.phones = stops, .phone_count = 2};
    notify_permission_next_line(&stopped, SMS, TX, 0, &got);
    s_check("only STOP lines left", &stopped, SMS, &got, OPTED_OUT, -1);

    //  The rules still hold on the next line.
    who.do_not_contact.sms = true;
    notify_permission_next_line(&who, SMS, TX, 2, &got);
    s_check("do-not-contact set meanwhile", &who, SMS, &got, DNC, -1);
    who.do_not_contact.sms = false;
    notify_permission_next_line(&who, SMS, MK, 2, &got);
    s_check("marketing without consent", &who, SMS, &got, NO_CONSENT, -1);

    //  Email has one line.
    notify_permission_recipient_t mail = {INBOX};
    notify_permission_next_line(&mail, EMAIL, TX, 0, &got);
    s_check("email's next line", &mail, EMAIL, &got, NO_LINE, -1);
}

//  The codes are NotificationSuppressed.reason's.
static void test_codes(void **state) {
    (void)state;
    static const char *const codes[NOTIFY_PERMISSION_REASON_COUNT] = {"",
                                                                      "erased",
                                                                      "do_not_contact",
                                                                      "stop_follow_ups",
                                                                      "no_consent",
                                                                      "consent_withdrawn",
                                                                      "opted_out",
                                                                      "unsubscribed",
                                                                      "no_permitted_line"};
    for (int r = 0; r < NOTIFY_PERMISSION_REASON_COUNT; r++)
        assert_string_equal(notify_permission_code(r), codes[r]);
    assert_string_equal(notify_permission_code(NOTIFY_PERMISSION_REASON_COUNT), "");
    assert_string_equal(notify_permission_code(-1), "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_next_line),
        cmocka_unit_test(test_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
