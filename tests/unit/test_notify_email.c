/*  Unit tests for the email channel (services/notify/email.c): the message as formatted
    (headers, CRLF only, encoded subject and names, quoted-printable parts, boundary,
    List-Unsubscribe), header injection refused, bare addresses, Message-IDs, and live
    sends to a real SMTP server (aiosmtpd, started by this test with a small handler that
    refuses, defers, drops or stalls chosen recipients). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../services/notify/channel.h"

#define S_NOW 1767225600 // Thu, 01 Jan 2026 00:00:00 +0000

// --- reading a message back ---------------------------------------------------------------------

//  Every line ends in CRLF: no bare CR, no bare LF.
static void s_assert_crlf_only(const char *message) {
    for (const char *p = message; *p; p++) {
        if (*p == '\r' && p[1] != '\n')
            fail_msg("a bare CR at byte %td", p - message);
        if (*p == '\n' && (p == message || p[-1] != '\r'))
            fail_msg("a bare LF at byte %td", p - message);
    }
    size_t len = strlen(message);
    assert_true(len >= 2 && strcmp(message + len - 2, "\r\n") == 0);
}

//  The unfolded value of header name (caller frees), or NULL.
static char *s_header(const char *message, const char *name) {
    size_t name_len = strlen(name);
    const char *body = strstr(message, "\r\n\r\n");
    for (const char *line = message; line && line < body; line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, name, name_len) != 0 || line[name_len] != ':')
            continue;
        const char *value = line + name_len + 1;
        while (*value == ' ')
            value++;
        char *out = malloc(strlen(value) + 1), *w = out;
        for (const char *p = value;;) {
            if (p[0] == '\r' && p[1] == '\n') {
                if (p[2] != ' ' && p[2] != '\t')
                    break;
                p += 2; // unfold: the CRLF goes, the blank stays
                continue;
            }
            *w++ = *p++;
        }
        *w = 0;
        return out;
    }
    return NULL;
}

//  A header's value with its RFC 2047 encoded-words (UTF-8, B) decoded, the blanks
//  between two of them dropped. Caller frees.
static char *s_decode_words(const char *value) {
    char *out = calloc(1, strlen(value) + 1), *w = out;
    bool after_word = false;
    for (const char *p = value; *p;) {
        if (strncmp(p, "=?UTF-8?B?", 10) == 0) {
            const char *end = strstr(p + 10, "?=");
            assert_non_null(end);
            size_t len;
            assert_int_equal(sodium_base642bin((unsigned char *)w, strlen(value), p + 10,
                                               (size_t)(end - p - 10), NULL, &len, NULL,
                                               sodium_base64_VARIANT_ORIGINAL),
                             0);
            w += len;
            p = end + 2;
            after_word = true;
            continue;
        }
        size_t blanks = strspn(p, " \t");
        if (blanks && after_word && strncmp(p + blanks, "=?UTF-8?B?", 10) == 0) {
            p += blanks;
            continue;
        }
        *w++ = *p++;
        after_word = false;
    }
    *w = 0;
    return out;
}

//  Quoted-printable decoded (soft breaks removed). Caller frees.
static char *s_decode_qp(const char *text, size_t len) {
    char *out = malloc(len + 1), *w = out;
    for (size_t i = 0; i < len;) {
        if (text[i] == '=' && i + 2 < len + 1 && text[i + 1] == '\r' && text[i + 2] == '\n') {
            i += 3;
        } else if (text[i] == '=') {
            unsigned byte;
            assert_int_equal(sscanf(text + i + 1, "%2X", &byte), 1);
            *w++ = (char)byte;
            i += 3;
        } else
            *w++ = text[i++];
    }
    *w = 0;
    return out;
}

//  Every line of text at most max characters before its CRLF.
static void s_assert_lines_at_most(const char *text, size_t len, size_t max) {
    size_t column = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\r' && text[i + 1] == '\n') {
            column = 0;
            i++;
            continue;
        }
        if (++column > max)
            fail_msg("a line longer than %zu: [%.*s]", max, 90, text + i + 1 - column);
    }
}

//  The body of a part: after the first blank line from start, up to the CRLF that ends
//  it before end.
static char *s_part_body(const char *start, const char *end) {
    const char *body = strstr(start, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    assert_true(end - body >= 2 && end[-2] == '\r' && end[-1] == '\n');
    return s_decode_qp(body, (size_t)(end - 2 - body));
}

//  text with its line breaks (CRLF, LF, CR) as CRLF. Caller frees.
static char *s_crlf(const char *text) {
    char *out = malloc(strlen(text) * 2 + 1), *w = out;
    for (const char *p = text; *p; p++) {
        if (*p == '\r' || *p == '\n') {
            *w++ = '\r';
            *w++ = '\n';
            if (p[0] == '\r' && p[1] == '\n')
                p++;
        } else
            *w++ = *p;
    }
    *w = 0;
    return out;
}

static void s_assert_header(const char *message, const char *name, const char *expected) {
    char *value = s_header(message, name);
    if (!expected) {
        if (value)
            fail_msg("%s: [%s], expected none", name, value);
        return;
    }
    if (!value || strcmp(value, expected) != 0)
        fail_msg("%s: [%s], expected [%s]", name, value ? value : "(none)", expected);
    free(value);
}

// --- formatting --------------------------------------------------------------------------------

static const char *s_text = "Hallo Zoë,\n\nIhr Termin: Montag, 9:30 – bitte bestätigen.\n"
                            "Rabatt = 10% auf alles.   \n.\nFrom the team\r\nEnde";
static const char *s_html =
    "<html><body><p style=\"color:#333\">Hallo Zoë,</p><p>Ihr Termin: Montag, 9:30 &ndash; "
    "bitte best&auml;tigen. Ein sehr langer Absatz, der weit über sechsundsiebzig Zeichen "
    "hinausgeht, damit weiche Zeilenumbrüche nötig werden.</p></body></html>";

static notify_email_t s_mail(void) {
    return (notify_email_t){
        .from = "Autohaus Müller <sales@dealer.example>",
        .to = "Zoë Doe <zoe@example.com>",
        .reply_to = "service@dealer.example",
        .subject = "Ihr Termin am Montag – bitte bestätigen ✓ (Werkstatt, Probefahrt und "
                   "Übergabe)",
        .text = s_text,
        .html = s_html,
        .message_id = "<abc123@dealer.example>",
        .unsubscribe_url = "https://crm.dealer.example/u/Zm9vYmFy?t=1",
        .unsubscribe_mailto = "unsubscribe+Zm9vYmFy@dealer.example",
    };
}

static void test_format(void **state) {
    (void)state;
    notify_email_t mail = s_mail();
    assert_null(notify_email_check(&mail));
    char *message = notify_email_format(&mail, S_NOW);
    assert_non_null(message);
    s_assert_crlf_only(message);
    const char *end_of_headers = strstr(message, "\r\n\r\n");
    assert_non_null(end_of_headers);
    s_assert_lines_at_most(message, (size_t)(end_of_headers - message), 78);

    s_assert_header(message, "Date", "Thu, 01 Jan 2026 00:00:00 +0000");
    s_assert_header(message, "Reply-To", "service@dealer.example");
    s_assert_header(message, "Message-ID", "<abc123@dealer.example>");
    s_assert_header(message, "MIME-Version", "1.0");
    s_assert_header(message, "List-Unsubscribe",
                    "<https://crm.dealer.example/u/Zm9vYmFy?t=1>, "
                    "<mailto:unsubscribe+Zm9vYmFy@dealer.example>");
    s_assert_header(message, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click");

    //  Names and the subject: encoded-words, not raw UTF-8, decoding to what was given.
    for (const char *p = message; p < end_of_headers; p++)
        assert_true((unsigned char)*p < 0x80);
    char *subject = s_header(message, "Subject");
    assert_non_null(strstr(subject, "=?UTF-8?B?"));
    char *decoded = s_decode_words(subject);
    assert_string_equal(decoded, mail.subject);
    free(decoded);
    free(subject);
    char *from = s_header(message, "From");
    decoded = s_decode_words(from);
    assert_string_equal(decoded, "Autohaus Müller <sales@dealer.example>");
    free(decoded);
    free(from);
    char *to = s_header(message, "To");
    decoded = s_decode_words(to);
    assert_string_equal(decoded, "Zoë Doe <zoe@example.com>");
    free(decoded);
    free(to);

    //  multipart/alternative: text then HTML, each quoted-printable UTF-8.
    char *type = s_header(message, "Content-Type");
    const char *prefix = "multipart/alternative; boundary=\"";
    assert_memory_equal(type, prefix, strlen(prefix));
    char boundary[64];
    snprintf(boundary, sizeof boundary, "%s", type + strlen(prefix));
    assert_true(strlen(boundary) > 1 && boundary[strlen(boundary) - 1] == '"');
    boundary[strlen(boundary) - 1] = 0;
    assert_true(strlen(boundary) >= 24); // "=_" and 128 random bits
    assert_memory_equal(boundary, "=_", 2);
    free(type);
    char delimiter[80], closing[80];
    snprintf(delimiter, sizeof delimiter, "\r\n--%s\r\n", boundary);
    snprintf(closing, sizeof closing, "\r\n--%s--\r\n", boundary);
    const char *first = strstr(end_of_headers, delimiter);
    assert_non_null(first);
    const char *second = strstr(first + 1, delimiter);
    assert_non_null(second);
    const char *last = strstr(second + 1, closing);
    assert_non_null(last);
    assert_int_equal(strlen(last), strlen(closing)); // the message ends there
    assert_null(strstr(second + 1, delimiter));
    const char *text_part = first + strlen(delimiter);
    const char *html_part = second + strlen(delimiter);
    const char *text_head = "Content-Type: text/plain; charset=UTF-8\r\n"
                            "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    const char *html_head = "Content-Type: text/html; charset=UTF-8\r\n"
                            "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    assert_memory_equal(text_part, text_head, strlen(text_head));
    assert_memory_equal(html_part, html_head, strlen(html_head));
    s_assert_lines_at_most(end_of_headers + 4, strlen(end_of_headers + 4), 76);
    char *text = s_part_body(text_part, second + 2);
    char *expected = s_crlf(s_text);
    assert_string_equal(text, expected);
    free(expected);
    free(text);
    char *html = s_part_body(html_part, last + 2);
    assert_string_equal(html, s_html);
    free(html);
    //  Some of the encoding, as written.
    assert_non_null(strstr(text_part, "Hallo Zo=C3=AB,\r\n"));
    assert_non_null(strstr(text_part, "Rabatt =3D 10% auf alles.  =20\r\n")); // trailing blank
    assert_non_null(strstr(text_part, "\r\n=2E\r\n=46rom the team\r\nEnde\r\n"));
    assert_non_null(strstr(html_part, "=\r\n")); // a soft break in the long line

    //  The boundary is new each time.
    char *again = notify_email_format(&mail, S_NOW);
    char *type_again = s_header(again, "Content-Type");
    assert_null(strstr(type_again, boundary));
    free(type_again);
    free(again);
    free(message);
}

//  No HTML: one text/plain part; no unsubscribe: no List-Unsubscribe; a Message-ID made;
//  a plain subject as written, folded when long.
static void test_format_text_only(void **state) {
    (void)state;
    const char *subject = "Your appointment on Monday at 9:30 with the service team of "
                          "Example Motors, please confirm";
    notify_email_t mail = {
        .from = "sales@dealer.example",
        .to = "zoe@example.com",
        .subject = subject,
        .text = "Hi",
        .html = "",
    };
    char *message = notify_email_format(&mail, S_NOW + 86400 * 59 + 3661);
    assert_non_null(message);
    s_assert_crlf_only(message);
    s_assert_header(message, "Date", "Sun, 01 Mar 2026 01:01:01 +0000");
    s_assert_header(message, "From", "sales@dealer.example");
    s_assert_header(message, "To", "zoe@example.com");
    s_assert_header(message, "Reply-To", NULL);
    s_assert_header(message, "Subject", subject);                               // unfolded
    assert_non_null(strstr(message, "Subject: Your appointment"));              // not encoded
    assert_non_null(strstr(message, "Example\r\n Motors, please confirm\r\n")); // folded at 78
    s_assert_header(message, "List-Unsubscribe", NULL);
    s_assert_header(message, "List-Unsubscribe-Post", NULL);
    s_assert_header(message, "Content-Type", "text/plain; charset=UTF-8");
    s_assert_header(message, "Content-Transfer-Encoding", "quoted-printable");
    assert_null(strstr(message, "multipart"));
    char *id = s_header(message, "Message-ID");
    assert_int_equal(strlen(id), strlen("<@dealer.example>") + 22);
    assert_non_null(strstr(id, "@dealer.example>"));
    free(id);
    assert_non_null(strstr(message, "\r\n\r\nHi\r\n"));
    free(message);

    //  Only a mailto: List-Unsubscribe without one-click; an http URL: no one-click.
    mail.unsubscribe_mailto = "mailto:u@dealer.example?subject=stop";
    message = notify_email_format(&mail, S_NOW);
    s_assert_header(message, "List-Unsubscribe", "<mailto:u@dealer.example?subject=stop>");
    s_assert_header(message, "List-Unsubscribe-Post", NULL);
    free(message);
    mail.unsubscribe_mailto = NULL;
    //  Plain HTTP: one-click only on this machine's loopback (make run, the tests).
    mail.unsubscribe_url = "http://localhost:8080/u/x";
    message = notify_email_format(&mail, S_NOW);
    s_assert_header(message, "List-Unsubscribe", "<http://localhost:8080/u/x>");
    s_assert_header(message, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
    free(message);
    mail.unsubscribe_url = "http://crm.dealer.example/u/x";
    message = notify_email_format(&mail, S_NOW);
    s_assert_header(message, "List-Unsubscribe", "<http://crm.dealer.example/u/x>");
    s_assert_header(message, "List-Unsubscribe-Post", NULL);
    free(message);
}

//  The text part as quoted-printable, case by case.
static void test_quoted_printable(void **state) {
    (void)state;
    char a74[75], a76[77], a100[101];
    memset(a74, 'a', 74), a74[74] = 0;
    memset(a76, 'a', 76), a76[76] = 0;
    memset(a100, 'a', 100), a100[100] = 0;
    char long_e[90], soft_e[100], soft_100[120];
    snprintf(long_e, sizeof long_e, "%sé", a74);
    snprintf(soft_e, sizeof soft_e, "%s=\r\n=C3=A9", a74); // =C3 would end at column 77
    snprintf(soft_100, sizeof soft_100, "%.75s=\r\n%.25s", a100, a100);
    const struct {
        const char *text, *encoded;
    } cases[] = {
        {"plain text", "plain text"},
        {"a=b", "a=3Db"},
        {"é ü €", "=C3=A9 =C3=BC =E2=82=AC"},
        {"tab\tinside", "tab\tinside"},
        {"trailing space \nnext", "trailing space=20\r\nnext"},
        {"trailing tab\t", "trailing tab=09"},
        {"one\r\ntwo\rthree\nfour", "one\r\ntwo\r\nthree\r\nfour"},
        {".\n.dot", "=2E\r\n=2Edot"},
        {"From me\nSay From ", "=46rom me\r\nSay From=20"},
        {a76, a76}, // a full line needs no soft break
        {a100, soft_100},
        {long_e, soft_e},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        notify_email_t mail = {
            .from = "a@b.example", .to = "c@d.example", .subject = "s", .text = cases[i].text};
        char *message = notify_email_format(&mail, S_NOW);
        const char *body = strstr(message, "\r\n\r\n") + 4;
        size_t len = strlen(body) - 2; // the CRLF that ends the part
        if (len != strlen(cases[i].encoded) || memcmp(body, cases[i].encoded, len) != 0)
            fail_msg("case %zu: [%.*s], expected [%s]", i, (int)len, body, cases[i].encoded);
        free(message);
    }
}

//  Display names: atoms as written, specials quoted, the rest encoded.
static void test_display_names(void **state) {
    (void)state;
    const struct {
        const char *from, *header;
    } cases[] = {
        {"Sales Team <sales@dealer.example>", "Sales Team <sales@dealer.example>"},
        {"J. Smith <js@dealer.example>", "\"J. Smith\" <js@dealer.example>"},
        {"\"Doe, Jane\" <jane@dealer.example>", "\"Doe, Jane\" <jane@dealer.example>"},
        {"Say \"hi\" <hi@dealer.example>", "\"Say \\\"hi\\\"\" <hi@dealer.example>"},
        {"Müller <m@dealer.example>", "=?UTF-8?B?TcO8bGxlcg==?= <m@dealer.example>"},
        {"a =?x?= b <t@dealer.example>", "=?UTF-8?B?YSA9P3g/PSBi?= <t@dealer.example>"},
        {"<bare@dealer.example>", "bare@dealer.example"},
        {"  bare@dealer.example ", "bare@dealer.example"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        notify_email_t mail = {
            .from = cases[i].from, .to = "c@d.example", .subject = "s", .text = "t"};
        char *message = notify_email_format(&mail, S_NOW);
        if (!message)
            fail_msg("%s: refused (%s)", cases[i].from, notify_email_check(&mail));
        s_assert_header(message, "From", cases[i].header);
        free(message);
    }
}

//  Header injection and other refusals: NULL, and the check names the field.
static void test_refused(void **state) {
    (void)state;
    const struct {
        const char *field;
        const char *value;
        const char *reason;
    } cases[] = {
        {"subject", "Hello\r\nBcc: victim@example.com",
         "subject: a header may not hold a line break"},
        {"subject", "Hello\nBcc: victim@example.com",
         "subject: a header may not hold a line break"},
        {"subject", "Hello\rX", "subject: a header may not hold a line break"},
        {"from", "Sales <s@dealer.example>\r\nBcc: v@example.com",
         "from: a header may not hold a line break"},
        {"from", "Sales\n <s@dealer.example>", "from: a header may not hold a line break"},
        {"to", "zoe@example.com\r\nBcc: v@example.com", "to: a header may not hold a line break"},
        {"reply_to", "r@dealer.example\n", "reply_to: a header may not hold a line break"},
        {"message_id", "<a@b>\r\nX: y", "message_id: a header may not hold a line break"},
        {"unsubscribe_url", "https://x.example/u\r\nBcc: v@example.com",
         "unsubscribe_url: a header may not hold a line break"},
        {"unsubscribe_mailto", "u@x.example\nX: y",
         "unsubscribe_mailto: a header may not hold a line break"},
        {"to", "a@b@c.example", "to: is not a valid email address (\"Name <addr>\" or addr)"},
        {"to", "", "to: an email needs a recipient"},
        {"to", "zoë@example.com", "to: is not a valid email address (\"Name <addr>\" or addr)"},
        {"from", "Sales <s@dealer.example",
         "from: is not a valid email address (\"Name <addr>\" "
         "or addr)"},
        {"reply_to", "not an address",
         "reply_to: is not a valid email address (\"Name <addr>\" "
         "or addr)"},
        {"subject", "bell \a", "subject: must be UTF-8 text without control characters"},
        {"subject", "bad \xff", "subject: must be UTF-8 text without control characters"},
        {"text", NULL, "text: an email needs a text part"},
        {"text", "bad \xc3", "text: is not valid UTF-8"},
        {"message_id", "abc@dealer.example",
         "message_id: must be <left@right>, ASCII, at most 79 "
         "characters"},
        {"unsubscribe_url", "javascript:alert(1)",
         "unsubscribe_url: must be an http(s) URL, "
         "ASCII, without spaces, commas or <>\""},
        {"unsubscribe_url", "https://x.example/u>, <https://evil.example/",
         "unsubscribe_url: must be an http(s) URL, ASCII, without spaces, commas or <>\""},
        {"unsubscribe_mailto", "nobody",
         "unsubscribe_mailto: must be an address or a mailto: "
         "URI, ASCII, without spaces, commas or <>\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        notify_email_t mail = s_mail();
        const char **field = strcmp(cases[i].field, "subject") == 0      ? &mail.subject
                             : strcmp(cases[i].field, "from") == 0       ? &mail.from
                             : strcmp(cases[i].field, "to") == 0         ? &mail.to
                             : strcmp(cases[i].field, "reply_to") == 0   ? &mail.reply_to
                             : strcmp(cases[i].field, "message_id") == 0 ? &mail.message_id
                             : strcmp(cases[i].field, "text") == 0       ? &mail.text
                             : strcmp(cases[i].field, "unsubscribe_url") == 0
                                 ? &mail.unsubscribe_url
                                 : &mail.unsubscribe_mailto;
        *field = cases[i].value;
        const char *reason = notify_email_check(&mail);
        if (!reason || strcmp(reason, cases[i].reason) != 0)
            fail_msg("case %zu (%s): [%s], expected [%s]", i, cases[i].field,
                     reason ? reason : "accepted", cases[i].reason);
        assert_null(notify_email_format(&mail, S_NOW));
    }
    assert_non_null(notify_email_check(NULL));
    assert_null(notify_email_format(NULL, S_NOW));
}

static void test_address(void **state) {
    (void)state;
    const struct {
        const char *mailbox, *address; // NULL: none
    } cases[] = {
        {"a@b.example", "a@b.example"},
        {"  a@b.example\t", "a@b.example"},
        {"Name <a@b.example>", "a@b.example"},
        {"\"Doe, Jane\" <jane@x.example>  ", "jane@x.example"},
        {"first.last+tag@sub.x.example", "first.last+tag@sub.x.example"},
        {"Name <a@b.example> x", NULL},
        {"Name <a@b.example", NULL},
        {"a@@b.example", NULL},
        {"a@b@c.example", NULL},
        {"ab.example", NULL},
        {"@b.example", NULL},
        {"a@", NULL},
        {"a b@c.example", NULL},
        {"a,b@c.example", NULL},
        {"a@b.example\r\n", NULL},
        {"zoë@x.example", NULL},
        {"", NULL},
        {"<>", NULL},
        {NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[64] = "untouched";
        int rc = notify_email_address(cases[i].mailbox, out, sizeof out);
        if (cases[i].address ? rc != 0 || strcmp(out, cases[i].address) != 0 : rc != -1)
            fail_msg("[%s]: rc %d [%s], expected [%s]",
                     cases[i].mailbox ? cases[i].mailbox : "NULL", rc, out,
                     cases[i].address ? cases[i].address : "none");
    }
    char small[8];
    assert_int_equal(notify_email_address("long@b.example", small, sizeof small), -1);
}

static void test_message_id(void **state) {
    (void)state;
    char *one = notify_email_message_id("Sales <sales@Dealer.example>");
    char *two = notify_email_message_id("sales@Dealer.example");
    assert_non_null(one);
    assert_non_null(two);
    assert_string_not_equal(one, two);
    assert_int_equal(strlen(one), 1 + 22 + strlen("@Dealer.example>"));
    assert_int_equal(one[0], '<');
    assert_string_equal(one + 23, "@Dealer.example>");
    for (size_t i = 1; i < 23; i++)
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", one[i]));
    //  It is a Message-ID notify_email_format takes.
    notify_email_t mail = {.from = "sales@Dealer.example",
                           .to = "c@d.example",
                           .subject = "s",
                           .text = "t",
                           .message_id = one};
    assert_null(notify_email_check(&mail));
    free(one);
    free(two);
    assert_null(notify_email_message_id("not an address"));
    assert_null(notify_email_message_id(NULL));
}

// --- live: aiosmtpd ---------------------------------------------------------------------------

//  The handler: by the recipient's local part, refuse (unknown: 550 at RCPT), defer
//  (busy: 451), drop the connection at RCPT (hangup), refuse the content (spam: 554 after
//  the message's end) or answer it late (slow: 3 s); else keep the message in the spool
//  as <n>.eml, its envelope in <n>.env and "tls" or "plain" in <n>.tls. Each EHLO adds a
//  line to ehlo.log.
static const char s_handler_py[] =
    "import asyncio, os\n"
    "class Handler:\n"
    "    def __init__(self, spool):\n"
    "        self.spool = spool\n"
    "        self.count = 0\n"
    "    @classmethod\n"
    "    def from_cli(cls, parser, *args):\n"
    "        return cls(*args)\n"
    "    async def handle_EHLO(self, server, session, envelope, hostname, responses):\n"
    "        with open(os.path.join(self.spool, 'ehlo.log'), 'a') as f:\n"
    "            f.write(hostname + '\\n')\n"
    "        session.host_name = hostname\n"
    "        return responses\n"
    "    async def handle_RCPT(self, server, session, envelope, address, options):\n"
    "        local = address.split('@')[0]\n"
    "        if local == 'unknown':\n"
    "            return '550 5.1.1 no such user'\n"
    "        if local == 'busy':\n"
    "            return '451 4.3.0 try again later'\n"
    "        if local == 'hangup':\n"
    "            server.transport.close()\n"
    "            return '250 OK'\n"
    "        envelope.rcpt_tos.append(address)\n"
    "        return '250 OK'\n"
    "    async def handle_DATA(self, server, session, envelope):\n"
    "        local = envelope.rcpt_tos[0].split('@')[0]\n"
    "        if local == 'spam':\n"
    "            return '554 5.7.1 message refused'\n"
    "        if local == 'slow':\n"
    "            await asyncio.sleep(3)\n"
    "        self.count += 1\n"
    "        base = os.path.join(self.spool, str(self.count))\n"
    "        with open(base + '.eml', 'wb') as f:\n"
    "            f.write(envelope.original_content)\n"
    "        with open(base + '.env', 'w') as f:\n"
    "            f.write(envelope.mail_from + ' ' + ' '.join(envelope.rcpt_tos))\n"
    "        with open(base + '.tls', 'w') as f:\n"
    "            f.write('tls' if session.ssl is not None else 'plain')\n"
    "        return '250 2.0.0 queued'\n";

typedef struct {
    pid_t pid;
    int port;
    char dir[64];
    char url[64];
} s_smtpd_t;

static s_smtpd_t s_smtpd;     // plain SMTP, started by the group's setup (pid 0: could not)
static s_smtpd_t s_smtpd_tls; // offering STARTTLS with a self-signed certificate for 127.0.0.1

static int s_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&address, sizeof address);
    socklen_t len = sizeof address;
    getsockname(fd, (struct sockaddr *)&address, &len);
    close(fd);
    return ntohs(address.sin_port);
}

static bool s_port_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool open = connect(fd, (struct sockaddr *)&address, sizeof address) == 0;
    close(fd);
    return open;
}

static char *s_read_file(const char *dir, const char *name) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    char *data = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&data, &size);
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, file)) > 0)
        fwrite(buffer, 1, n, out);
    fclose(file);
    fclose(out);
    return data;
}

//  aiosmtpd with our handler on a free port, its spool a new directory; with STARTTLS
//  when tls (a certificate made by openssl). self->pid stays 0 when it cannot start.
static void s_smtpd_start_one(s_smtpd_t *self, bool tls) {
    *self = (s_smtpd_t){0};
    snprintf(self->dir, sizeof self->dir, "/tmp/test_notify_email.XXXXXX");
    if (!mkdtemp(self->dir))
        return;
    char path[128], command[512];
    snprintf(path, sizeof path, "%s/notify_test_smtpd.py", self->dir);
    FILE *file = fopen(path, "w");
    fputs(s_handler_py, file);
    fclose(file);
    char cert[96], key[96];
    snprintf(cert, sizeof cert, "%s/cert.pem", self->dir);
    snprintf(key, sizeof key, "%s/key.pem", self->dir);
    snprintf(command, sizeof command,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext "
             "subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1",
             key, cert);
    if (tls && system(command) != 0)
        return;
    self->port = s_free_port();
    snprintf(self->url, sizeof self->url, "smtp://127.0.0.1:%d", self->port);
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", self->port);
    pid_t pid = fork();
    if (pid == 0) {
        char log[128];
        snprintf(log, sizeof log, "%s/smtpd.log", self->dir);
        if (!freopen(log, "w", stdout) || !freopen(log, "a", stderr))
            _exit(126);
        setenv("PYTHONPATH", self->dir, 1);
        if (tls)
            execl("/usr/bin/python3", "python3", "-m", "aiosmtpd", "-n", "-l", listen, "--tlscert",
                  cert, "--tlskey", key, "-c", "notify_test_smtpd.Handler", self->dir,
                  (char *)NULL);
        else
            execl("/usr/bin/python3", "python3", "-m", "aiosmtpd", "-n", "-l", listen, "-c",
                  "notify_test_smtpd.Handler", self->dir, (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return;
    for (int i = 0; i < 200 && !s_port_open(self->port); i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(50000);
    }
    if (!s_port_open(self->port)) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return;
    }
    self->pid = pid;
}

static void s_smtpd_stop_one(s_smtpd_t *self) {
    if (self->pid > 0) {
        kill(self->pid, SIGTERM);
        waitpid(self->pid, NULL, 0);
    }
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", self->dir);
    if (self->dir[0])
        (void)!system(command);
}

static int s_smtpd_start(void **state) {
    (void)state;
    s_smtpd_start_one(&s_smtpd, false);
    s_smtpd_start_one(&s_smtpd_tls, true);
    return 0;
}

static int s_smtpd_stop(void **state) {
    (void)state;
    s_smtpd_stop_one(&s_smtpd);
    s_smtpd_stop_one(&s_smtpd_tls);
    return 0;
}

static void s_require(const s_smtpd_t *smtpd) {
    if (smtpd->pid <= 0) {
        print_message("skipped: could not start aiosmtpd (/usr/bin/python3 -m aiosmtpd, Debian's "
                      "python3-aiosmtpd%s); see %s/smtpd.log\n",
                      smtpd == &s_smtpd_tls ? ", with an openssl certificate" : "", smtpd->dir);
        skip();
    }
}

static int s_lines(const char *text) {
    int n = 0;
    for (const char *p = text; p && *p; p++)
        n += *p == '\n';
    return n;
}

//  Two messages over one connection, delivered as formatted, the envelope the bare
//  addresses.
static void test_smtp_send(void **state) {
    (void)state;
    s_require(&s_smtpd);
    notify_smtp_client_t *client =
        notify_smtp_client_new(s_smtpd.url, NULL, NULL, true, NULL, 5000);
    assert_non_null(client);
    notify_email_t mail = s_mail();
    char *message = notify_email_format(&mail, S_NOW);
    notify_send_result_t out;
    assert_int_equal(notify_smtp_send(client, mail.from, mail.to, message, &out), 0);
    assert_int_equal(out.outcome, NOTIFY_SEND_ACCEPTED);
    assert_string_equal(out.provider_id, "<abc123@dealer.example>");
    assert_int_equal(out.http_status, 250);
    assert_string_equal(out.error, "");

    notify_email_t second = {.from = "sales@dealer.example",
                             .to = "Al <al@example.com>",
                             .subject = "Second",
                             .text = ".\nA line with a dot\n..\n"};
    char *message2 = notify_email_format(&second, S_NOW);
    assert_int_equal(notify_smtp_send(client, second.from, second.to, message2, &out), 0);
    assert_int_equal(out.outcome, NOTIFY_SEND_ACCEPTED);
    notify_smtp_client_destroy(&client);
    assert_null(client);
    notify_smtp_client_destroy(&client);

    char *content = s_read_file(s_smtpd.dir, "1.eml");
    assert_non_null(content);
    assert_string_equal(content, message);
    free(content);
    char *envelope = s_read_file(s_smtpd.dir, "1.env");
    assert_string_equal(envelope, "sales@dealer.example zoe@example.com");
    free(envelope);
    content = s_read_file(s_smtpd.dir, "2.eml");
    assert_string_equal(content, message2);
    free(content);
    envelope = s_read_file(s_smtpd.dir, "2.env");
    assert_string_equal(envelope, "sales@dealer.example al@example.com");
    free(envelope);
    char *ehlo = s_read_file(s_smtpd.dir, "ehlo.log");
    assert_int_equal(s_lines(ehlo), 1); // one connection for both
    free(ehlo);
    free(message);
    free(message2);
}

//  What a server's refusals and silences become.
static void test_smtp_outcomes(void **state) {
    (void)state;
    s_require(&s_smtpd);
    char closed[64];
    snprintf(closed, sizeof closed, "smtp://127.0.0.1:%d", s_free_port());
    const struct {
        const char *url;
        const char *to;
        int timeout_ms;
        notify_send_outcome_t outcome;
        long reply;
        const char *error;
    } cases[] = {
        {s_smtpd.url, "unknown@example.com", 5000, NOTIFY_SEND_REJECTED, 550,
         "the SMTP server refused the recipient (550 at RCPT TO)"},
        {s_smtpd.url, "busy@example.com", 5000, NOTIFY_SEND_RETRY, 451,
         "the SMTP server deferred the message (451 at RCPT TO)"},
        {s_smtpd.url, "spam@example.com", 5000, NOTIFY_SEND_REJECTED, 554,
         "the SMTP server refused the message (554 at the message's end)"},
        {s_smtpd.url, "hangup@example.com", 5000, NOTIFY_SEND_RETRY, 0,
         "could not send to the SMTP server (Failure when receiving data from the peer)"},
        {s_smtpd.url, "slow@example.com", 1000, NOTIFY_SEND_AMBIGUOUS, 0,
         "no answer from the SMTP server after the message was sent"},
        {closed, "zoe@example.com", 2000, NOTIFY_SEND_RETRY, 0,
         "could not send to the SMTP server (Couldn't connect to server"},
        {s_smtpd.url, "a@b@example.com", 5000, NOTIFY_SEND_REJECTED, 0,
         "the recipient is not a valid email address"},
        {s_smtpd.url, "Zoe <zoe@example.com>\r\nX: y", 5000, NOTIFY_SEND_REJECTED, 0,
         "the recipient is not a valid email address"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        notify_smtp_client_t *client =
            notify_smtp_client_new(cases[i].url, "", NULL, true, NULL, cases[i].timeout_ms);
        notify_email_t mail = {
            .from = "sales@dealer.example", .to = "x@example.com", .subject = "s", .text = "t"};
        char *message = notify_email_format(&mail, S_NOW);
        notify_send_result_t out;
        int rc = notify_smtp_send(client, "sales@dealer.example", cases[i].to, message, &out);
        if (out.outcome != cases[i].outcome || out.http_status != cases[i].reply ||
            strncmp(out.error, cases[i].error, strlen(cases[i].error)) != 0)
            fail_msg("%s: outcome %d, reply %ld [%s]; expected %d, %ld [%s]", cases[i].to,
                     out.outcome, out.http_status, out.error, cases[i].outcome, cases[i].reply,
                     cases[i].error);
        assert_int_equal(rc, -1);
        assert_null(strstr(out.error, "example.com")); // no address in the words
        free(message);
        notify_smtp_client_destroy(&client);
    }
}

static void test_smtp_arguments(void **state) {
    (void)state;
    assert_null(notify_smtp_client_new(NULL, NULL, NULL, true, NULL, 1000));
    assert_null(notify_smtp_client_new("http://127.0.0.1:25", NULL, NULL, true, NULL, 1000));
    assert_null(notify_smtp_client_new("smtp://127.0.0.1:25", NULL, NULL, true, NULL, 0));
    notify_smtp_client_t *client =
        notify_smtp_client_new("smtps://127.0.0.1:1", "u", "p", true, "/nonexistent", 1000);
    assert_non_null(client);
    notify_send_result_t out;
    assert_int_equal(notify_smtp_send(client, "not an address", "a@b.example", "x", &out), -1);
    assert_int_equal(out.outcome, NOTIFY_SEND_REJECTED);
    assert_string_equal(out.error, "the sender is not a valid email address (check "
                                   "notify.mail_from)");
    assert_int_equal(notify_smtp_send(client, "a@b.example", "c@d.example", "", &out), -1);
    assert_int_equal(out.outcome, NOTIFY_SEND_REJECTED);
    notify_smtp_client_destroy(&client);
}

//  STARTTLS when offered: used, the certificate checked against ca_file or not checked
//  when verify_tls is off; a certificate we cannot check fails before the message (RETRY).
static void test_smtp_starttls(void **state) {
    (void)state;
    s_require(&s_smtpd_tls);
    char cert[96];
    snprintf(cert, sizeof cert, "%s/cert.pem", s_smtpd_tls.dir);
    const struct {
        bool verify;
        const char *ca_file;
        notify_send_outcome_t outcome;
    } cases[] = {
        {false, NULL, NOTIFY_SEND_ACCEPTED},
        {true, cert, NOTIFY_SEND_ACCEPTED},
        {true, NULL, NOTIFY_SEND_RETRY}, // self-signed: not among the system's CAs
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        notify_smtp_client_t *client = notify_smtp_client_new(
            s_smtpd_tls.url, NULL, NULL, cases[i].verify, cases[i].ca_file, 5000);
        notify_email_t mail = {
            .from = "sales@dealer.example", .to = "zoe@example.com", .subject = "s", .text = "t"};
        char *message = notify_email_format(&mail, S_NOW);
        notify_send_result_t out;
        notify_smtp_send(client, mail.from, mail.to, message, &out);
        if (out.outcome != cases[i].outcome)
            fail_msg("case %zu: outcome %d [%s], expected %d", i, out.outcome, out.error,
                     cases[i].outcome);
        free(message);
        notify_smtp_client_destroy(&client);
    }
    char *tls = s_read_file(s_smtpd_tls.dir, "1.tls");
    assert_string_equal(tls, "tls");
    free(tls);
    tls = s_read_file(s_smtpd_tls.dir, "2.tls");
    assert_string_equal(tls, "tls");
    free(tls);
    assert_null(s_read_file(s_smtpd_tls.dir, "3.tls"));
}

//  With AUTH, STARTTLS is required: a server that does not offer it gets no password.
static void test_smtp_auth_needs_tls(void **state) {
    (void)state;
    s_require(&s_smtpd);
    notify_smtp_client_t *client =
        notify_smtp_client_new(s_smtpd.url, "user", "password", true, NULL, 5000);
    notify_send_result_t out;
    assert_int_equal(notify_smtp_send(client, "sales@dealer.example", "zoe@example.com",
                                      "Subject: s\r\n\r\nt\r\n", &out),
                     -1);
    assert_int_equal(out.outcome, NOTIFY_SEND_REJECTED);
    assert_string_equal(out.error, "the SMTP server does not offer STARTTLS, which AUTH needs "
                                   "here (use smtps:// or a server with STARTTLS)");
    notify_smtp_client_destroy(&client);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_text_only),
        cmocka_unit_test(test_quoted_printable),
        cmocka_unit_test(test_display_names),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_address),
        cmocka_unit_test(test_message_id),
        cmocka_unit_test(test_smtp_send),
        cmocka_unit_test(test_smtp_outcomes),
        cmocka_unit_test(test_smtp_starttls),
        cmocka_unit_test(test_smtp_auth_needs_tls),
        cmocka_unit_test(test_smtp_arguments),
    };
    return cmocka_run_group_tests(tests, s_smtpd_start, s_smtpd_stop);
}
