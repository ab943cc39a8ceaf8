/*  email: an email as the wire carries it, and its sending over SMTP.

    notify_email_format writes an RFC 5322 message (RFC 2045-2047 MIME): the headers,
    then the text part, or a multipart/alternative of text and HTML, both UTF-8 in
    quoted-printable, lines of at most 76 characters ending in CRLF. A header value
    holding CR or LF is refused (NULL; notify_email_check says which field), never
    stripped: stripping would send something other than what was asked, and a line break
    in a subject or an address is an injection attempt or a bug upstream, not a typo.

    notify_smtp_send hands a formatted message to an SMTP server through libcurl, one
    easy handle per client, so the connection (and its TLS and AUTH) is kept between
    messages, and classifies the outcome by the last reply code and by whether the
    message's end had been sent (see s_classify).

    Quoted-printable is written here: none of our libraries has it, and it is twenty
    lines. Base64 (encoded-words) is libsodium's, random ids and boundaries too.
*/
#include "channel.h"
#include "validate.h"

#include <curl/curl.h>
#include <sodium.h>

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_FOLD_AT 78         // a header line is folded before it grows past this (RFC 5322 2.1.1)
#define S_QP_LINE 76         // an encoded body line's length at most (RFC 2045 6.7)
#define S_WORD_BYTES 39      // UTF-8 bytes per encoded-word: 52 base64 characters, 64 in all
#define S_URL_MAX 900        // an unsubscribe URL's length at most (a line holds 998)
#define S_ID_RANDOM_BYTES 16 // of a Message-ID and a boundary: 128 bits, not to be guessed

// --- addresses -------------------------------------------------------------------------------

//  Characters an address (as we accept one) may not hold besides spaces and controls:
//  RFC 5322's specials, so the address means the same in a header and in the envelope.
static const char s_address_specials[] = "()<>[]:;@\\,\"";

//  The bare address inside mailbox as [*start, *end): between the last '<' and its '>'
//  (nothing but blanks after), or the whole of mailbox with blanks trimmed.
static bool s_address_span(const char *mailbox, const char **start, const char **end) {
    const char *open = strrchr(mailbox, '<');
    if (open) {
        const char *close = strchr(open, '>');
        if (!close)
            return false;
        for (const char *p = close + 1; *p; p++)
            if (*p != ' ' && *p != '\t')
                return false;
        *start = open + 1;
        *end = close;
        return true;
    }
    *start = mailbox;
    *end = mailbox + strlen(mailbox);
    while (*start < *end && (**start == ' ' || **start == '\t'))
        (*start)++;
    while (*end > *start && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
        (*end)--;
    return true;
}

int notify_email_address(const char *mailbox, char *out, size_t size) {
    const char *start, *end;
    if (!mailbox || strpbrk(mailbox, "\r\n") || !s_address_span(mailbox, &start, &end))
        return -1;
    size_t len = (size_t)(end - start), ats = 0, at = 0;
    if (len == 0 || len >= size)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)start[i];
        if (c == '@') {
            ats++;
            at = i;
        } else if (c <= 0x20 || c >= 0x7F || strchr(s_address_specials, c))
            return -1;
    }
    if (ats != 1 || at == 0 || at == len - 1)
        return -1;
    memcpy(out, start, len);
    out[len] = 0;
    return 0;
}

//  The display name of "Name <addr>" (quotes around it removed), or NULL when none.
//  Caller frees.
static char *s_display_name(const char *mailbox) {
    const char *open = strrchr(mailbox, '<');
    if (!open)
        return NULL;
    const char *start = mailbox, *end = open;
    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end - start >= 2 && *start == '"' && end[-1] == '"') {
        start++, end--;
        char *name = malloc((size_t)(end - start) + 1), *w = name;
        for (const char *p = start; name && p < end; p++) {
            if (*p == '\\' && p + 1 < end)
                p++;
            *w++ = *p;
        }
        if (name)
            *w = 0;
        return name;
    }
    return start < end ? strndup(start, (size_t)(end - start)) : NULL;
}

// --- the checks -------------------------------------------------------------------------------

//  Why a header's text (a subject, a display name) cannot be written, or NULL.
static const char *s_text_problem(const char *text) {
    if (strpbrk(text, "\r\n"))
        return "a header may not hold a line break";
    if (!crm_utf8_valid(text, strlen(text)))
        return "is not valid UTF-8";
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7F)
            return "may not hold control characters";
    return NULL;
}

//  Why mailbox cannot be a From, To or Reply-To, or NULL.
static const char *s_mailbox_problem(const char *mailbox) {
    char address[320];
    if (strpbrk(mailbox, "\r\n"))
        return "a header may not hold a line break";
    if (notify_email_address(mailbox, address, sizeof address) != 0)
        return "is not a valid email address (\"Name <addr>\" or addr, ASCII, one @)";
    char *name = s_display_name(mailbox);
    const char *problem = name ? s_text_problem(name) : NULL;
    free(name);
    return problem ? "has a display name that is not plain text" : NULL;
}

//  A URI we put between <> in List-Unsubscribe: printable ASCII without spaces, <, >, "
//  and commas (the list's separator, RFC 2369).
static bool s_uri_plain(const char *uri) {
    for (const unsigned char *p = (const unsigned char *)uri; *p; p++)
        if (*p <= 0x20 || *p >= 0x7F || strchr("<>\",", *p))
            return false;
    return strlen(uri) <= S_URL_MAX;
}

//  A field and what is wrong with it, as notify_email_check says it.
#define S_PROBLEM(field, rule) field ": " rule

const char *notify_email_check(const notify_email_t *mail) {
    if (!mail)
        return "no email";
    //  Line breaks first, in every header field: the one rule an attacker tests.
    const struct {
        const char *value, *problem;
    } headers[] = {
        {mail->from, S_PROBLEM("from", "a header may not hold a line break")},
        {mail->to, S_PROBLEM("to", "a header may not hold a line break")},
        {mail->reply_to, S_PROBLEM("reply_to", "a header may not hold a line break")},
        {mail->subject, S_PROBLEM("subject", "a header may not hold a line break")},
        {mail->message_id, S_PROBLEM("message_id", "a header may not hold a line break")},
        {mail->unsubscribe_url, S_PROBLEM("unsubscribe_url", "a header may not hold a line break")},
        {mail->unsubscribe_mailto,
         S_PROBLEM("unsubscribe_mailto", "a header may not hold a line break")},
    };
    for (size_t i = 0; i < sizeof headers / sizeof *headers; i++)
        if (headers[i].value && strpbrk(headers[i].value, "\r\n"))
            return headers[i].problem;

    if (!mail->from || !*mail->from)
        return S_PROBLEM("from", "an email needs a sender");
    if (s_mailbox_problem(mail->from))
        return S_PROBLEM("from", "is not a valid email address (\"Name <addr>\" or addr)");
    if (!mail->to || !*mail->to)
        return S_PROBLEM("to", "an email needs a recipient");
    if (s_mailbox_problem(mail->to))
        return S_PROBLEM("to", "is not a valid email address (\"Name <addr>\" or addr)");
    if (mail->reply_to && *mail->reply_to && s_mailbox_problem(mail->reply_to))
        return S_PROBLEM("reply_to", "is not a valid email address (\"Name <addr>\" or addr)");
    if (mail->subject && s_text_problem(mail->subject))
        return S_PROBLEM("subject", "must be UTF-8 text without control characters");
    if (!mail->text)
        return S_PROBLEM("text", "an email needs a text part");
    if (!crm_utf8_valid(mail->text, strlen(mail->text)))
        return S_PROBLEM("text", "is not valid UTF-8");
    if (mail->html && !crm_utf8_valid(mail->html, strlen(mail->html)))
        return S_PROBLEM("html", "is not valid UTF-8");
    if (mail->message_id && *mail->message_id) {
        const char *id = mail->message_id;
        size_t len = strlen(id);
        char inner[80], bare[80];
        if (len >= sizeof inner || len < 2 || id[0] != '<' || id[len - 1] != '>' ||
            (snprintf(inner, sizeof inner, "%.*s", (int)len - 2, id + 1),
             notify_email_address(inner, bare, sizeof bare) != 0 || strcmp(inner, bare) != 0))
            return S_PROBLEM("message_id", "must be <left@right>, ASCII, at most 79 characters");
    }
    const char *url = mail->unsubscribe_url;
    if (url && *url &&
        ((strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0) ||
         !s_uri_plain(url)))
        return S_PROBLEM("unsubscribe_url", "must be an http(s) URL, ASCII, without spaces, "
                                            "commas or <>\"");
    const char *mailto = mail->unsubscribe_mailto;
    if (mailto && *mailto && (!s_uri_plain(mailto) || !strchr(mailto, '@')))
        return S_PROBLEM("unsubscribe_mailto", "must be an address or a mailto: URI, ASCII, "
                                               "without spaces, commas or <>\"");
    return NULL;
}

// --- random names -------------------------------------------------------------------------------

//  size random bytes as unpadded URL-safe base64 into out (at least 23 bytes for 16).
static int s_random_token(char *out, size_t out_size, size_t size) {
    unsigned char bytes[S_ID_RANDOM_BYTES];
    assert(size <= sizeof bytes);
    if (sodium_init() < 0)
        return -1;
    randombytes_buf(bytes, size);
    sodium_bin2base64(out, out_size, bytes, size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return 0;
}

char *notify_email_message_id(const char *from) {
    char address[320], token[32];
    if (notify_email_address(from, address, sizeof address) != 0 ||
        s_random_token(token, sizeof token, S_ID_RANDOM_BYTES) != 0)
        return NULL;
    char *id;
    if (asprintf(&id, "<%s@%s>", token, strchr(address, '@') + 1) < 0)
        return NULL;
    return id;
}

// --- headers ----------------------------------------------------------------------------------

//  A header being written: folding happens before a token (which starts with its blank)
//  that would take the line past S_FOLD_AT, so unfolding gives back the same text.
typedef struct {
    FILE *out;
    size_t column;
    bool has_token;
} s_header_t;

static void s_header_start(s_header_t *h, FILE *out, const char *name) {
    *h = (s_header_t){.out = out};
    fprintf(out, "%s:", name);
    h->column = strlen(name) + 1;
}

static void s_header_token(s_header_t *h, const char *token, size_t len) {
    bool blank_only = strspn(token, " \t") >= len;
    if (h->has_token && !blank_only && h->column + len > S_FOLD_AT) {
        fputs("\r\n", h->out);
        h->column = 0;
    }
    fwrite(token, 1, len, h->out);
    h->column += len;
    h->has_token = true;
}

static void s_header_end(s_header_t *h) {
    fputs("\r\n", h->out);
}

//  text (ASCII, no "=?") as written, one token per blank-led word.
static void s_header_plain(s_header_t *h, const char *text) {
    char *spaced;
    if (asprintf(&spaced, " %s", text) < 0)
        return;
    for (const char *p = spaced; *p;) {
        size_t len = strspn(p, " \t");
        len += strcspn(p + len, " \t");
        s_header_token(h, p, len);
        p += len;
    }
    free(spaced);
}

//  text as RFC 2047 encoded-words (UTF-8, base64), whole characters in each.
static void s_header_encoded(s_header_t *h, const char *text) {
    size_t len = strlen(text);
    for (size_t at = 0; at < len;) {
        size_t chunk = 0;
        while (at + chunk < len) {
            size_t width = crm_utf8_char_len(text + at + chunk, len - at - chunk);
            if (chunk + width > S_WORD_BYTES)
                break;
            chunk += width;
        }
        char base64[sodium_base64_ENCODED_LEN(S_WORD_BYTES, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(base64, sizeof base64, (const unsigned char *)text + at, chunk,
                          sodium_base64_VARIANT_ORIGINAL);
        char word[96];
        int n = snprintf(word, sizeof word, " =?UTF-8?B?%s?=", base64);
        s_header_token(h, word, (size_t)n);
        at += chunk;
    }
}

//  Printable ASCII (and tabs) with no "=?" a reader could take for an encoded-word, no
//  word too long to fold, and every character in allowed (NULL: any).
static bool s_plain(const char *text, const char *allowed) {
    size_t word = 0;
    for (const char *p = text; *p; p++) {
        bool blank = *p == ' ' || *p == '\t';
        if (!blank && (*p < 0x20 || *p >= 0x7F))
            return false;
        if (allowed && !blank && !strchr(allowed, *p) &&
            !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return false;
        word = blank ? 0 : word + 1;
        if (word > S_FOLD_AT - 8)
            return false;
    }
    return !strstr(text, "=?");
}

//  From, To, Reply-To: the display name as atoms, a quoted string or encoded-words,
//  then the address.
static void s_header_mailbox(FILE *out, const char *name, const char *mailbox) {
    char address[320];
    notify_email_address(mailbox, address, sizeof address); // checked already
    char *display = s_display_name(mailbox);
    s_header_t h;
    s_header_start(&h, out, name);
    if (display && *display) {
        if (s_plain(display, "!#$%&'*+-/=?^_`{|}~"))
            s_header_plain(&h, display);
        else if (s_plain(display, NULL)) {
            char *quoted = malloc(strlen(display) * 2 + 4), *w = quoted;
            *w++ = ' ';
            *w++ = '"';
            for (const char *p = display; *p; p++) {
                if (*p == '"' || *p == '\\')
                    *w++ = '\\';
                *w++ = *p;
            }
            *w++ = '"';
            s_header_token(&h, quoted, (size_t)(w - quoted));
            free(quoted);
        } else
            s_header_encoded(&h, display);
        char angle[328];
        int n = snprintf(angle, sizeof angle, " <%s>", address);
        s_header_token(&h, angle, (size_t)n);
    } else
        s_header_plain(&h, address);
    s_header_end(&h);
    free(display);
}

static void s_header_date(FILE *out, time_t now) {
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm t;
    gmtime_r(&now, &t);
    //  Names from our tables, not strftime's, which follow the locale.
    fprintf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[t.tm_wday], t.tm_mday,
            months[t.tm_mon], t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
}

// --- bodies -----------------------------------------------------------------------------------

//  text as quoted-printable (RFC 2045 6.7): its line breaks (CRLF, LF or CR) become CRLF,
//  longer lines are broken softly ("=" CRLF) at 76, and '=' , bytes outside printable
//  ASCII and a blank that would end a line are encoded; so are a '.' and "From " at a
//  line's start, which some relays mangle.
static void s_quoted_printable(FILE *out, const char *text) {
    size_t column = 0;
    for (const char *p = text; *p;) {
        if (*p == '\r' || *p == '\n') {
            fputs("\r\n", out);
            column = 0;
            p += p[0] == '\r' && p[1] == '\n' ? 2 : 1;
            continue;
        }
        unsigned char c = (unsigned char)*p;
        bool line_end = p[1] == 0 || p[1] == '\r' || p[1] == '\n';
        bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end);
        if (column == 0 && (c == '.' || strncmp(p, "From ", 5) == 0))
            literal = false;
        size_t width = literal ? 1 : 3;
        //  The last character of a line needs no room for a soft break's '=' after it.
        if (column + width > (line_end ? S_QP_LINE : S_QP_LINE - 1)) {
            fputs("=\r\n", out);
            column = 0;
            continue; // the character again, now at a line's start
        }
        if (literal)
            fputc(c, out);
        else
            fprintf(out, "=%02X", c);
        column += width;
        p++;
    }
}

static void s_part(FILE *out, const char *type, const char *text) {
    fprintf(out,
            "Content-Type: %s; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable"
            "\r\n\r\n",
            type);
    s_quoted_printable(out, text);
    fputs("\r\n", out);
}

char *notify_email_format(const notify_email_t *mail, time_t now) {
    if (notify_email_check(mail))
        return NULL;
    char *message_id = mail->message_id && *mail->message_id ? strdup(mail->message_id)
                                                             : notify_email_message_id(mail->from);
    //  "=_" cannot occur in quoted-printable text ('=' is followed by hex digits or a line
    //  break there), so no body line can be taken for the boundary; the random part keeps
    //  a sender of HTML from guessing it anyway.
    char boundary[40] = "=_";
    char *message = NULL;
    size_t size = 0;
    FILE *out =
        message_id && s_random_token(boundary + 2, sizeof boundary - 2, S_ID_RANDOM_BYTES) == 0
            ? open_memstream(&message, &size)
            : NULL;
    if (!out) {
        free(message_id);
        return NULL;
    }
    s_header_date(out, now);
    s_header_mailbox(out, "From", mail->from);
    s_header_mailbox(out, "To", mail->to);
    if (mail->reply_to && *mail->reply_to)
        s_header_mailbox(out, "Reply-To", mail->reply_to);
    s_header_t h;
    s_header_start(&h, out, "Subject");
    const char *subject = mail->subject ? mail->subject : "";
    if (s_plain(subject, NULL))
        s_header_plain(&h, subject);
    else
        s_header_encoded(&h, subject);
    s_header_end(&h);
    fprintf(out, "Message-ID: %s\r\n", message_id);

    const char *url =
        mail->unsubscribe_url && *mail->unsubscribe_url ? mail->unsubscribe_url : NULL;
    const char *mailto =
        mail->unsubscribe_mailto && *mail->unsubscribe_mailto ? mail->unsubscribe_mailto : NULL;
    if (url || mailto) {
        s_header_start(&h, out, "List-Unsubscribe");
        char *token;
        if (url && asprintf(&token, " <%s>%s", url, mailto ? "," : "") > 0) {
            s_header_token(&h, token, strlen(token));
            free(token);
        }
        if (mailto && asprintf(&token, " <%s%s>",
                               strncasecmp(mailto, "mailto:", 7) ? "mailto:" : "", mailto) > 0) {
            s_header_token(&h, token, strlen(token));
            free(token);
        }
        s_header_end(&h);
        //  One-click (RFC 8058) is for an HTTPS URI only, but on this machine's loopback
        //  (make run and the tests, with no TLS in front of the gateway).
        if (url && (strncasecmp(url, "https://", 8) == 0 ||
                    strncasecmp(url, "http://127.0.0.1", 16) == 0 ||
                    strncasecmp(url, "http://localhost", 16) == 0))
            fputs("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", out);
    }
    fputs("MIME-Version: 1.0\r\n", out);
    if (mail->html && *mail->html) {
        fprintf(out, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n", boundary);
        fprintf(out, "--%s\r\n", boundary);
        s_part(out, "text/plain", mail->text);
        fprintf(out, "--%s\r\n", boundary);
        s_part(out, "text/html", mail->html);
        fprintf(out, "--%s--\r\n", boundary);
    } else
        s_part(out, "text/plain", mail->text);
    free(message_id);
    if (fclose(out) != 0) {
        free(message);
        return NULL;
    }
    return message;
}

// --- SMTP ------------------------------------------------------------------------------------

struct _notify_smtp_client_t {
    CURL *curl;                       // one handle: its connection is kept between messages
    const char *message;              // the message being sent
    size_t size, offset;              // its length, and how much libcurl has taken
    bool message_end;                 // libcurl has taken all of it
    char curl_error[CURL_ERROR_SIZE]; // libcurl's words for the last failure
};

static size_t s_read_message(char *buffer, size_t size, size_t count, void *arg) {
    notify_smtp_client_t *self = arg;
    size_t n = size * count, left = self->size - self->offset;
    if (n > left)
        n = left;
    memcpy(buffer, self->message + self->offset, n);
    self->offset += n;
    self->message_end = self->offset == self->size;
    return n;
}

notify_smtp_client_t *notify_smtp_client_new(const char *url, const char *user,
                                             const char *password, bool verify_tls,
                                             const char *ca_file, int timeout_ms) {
    if (!url || (strncasecmp(url, "smtp://", 7) != 0 && strncasecmp(url, "smtps://", 8) != 0) ||
        timeout_ms <= 0)
        return NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    notify_smtp_client_t *self = calloc(1, sizeof *self);
    if (self)
        self->curl = curl_easy_init();
    if (!self || !self->curl) {
        notify_smtp_client_destroy(&self);
        return NULL;
    }
    CURL *c = self->curl;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, s_read_message);
    curl_easy_setopt(c, CURLOPT_READDATA, self);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, self->curl_error);
    //  smtp://: STARTTLS when the server offers it, not required, because the local sink
    //  of make run and the tests, and many relays inside a network, offer none; a server
    //  that does is used encrypted. With AUTH it is required: a password is never sent
    //  in clear (and a man in the middle cannot strip STARTTLS to get it). smtps:// is
    //  TLS from the first byte whatever this says.
    bool auth = user && *user;
    curl_easy_setopt(c, CURLOPT_USE_SSL, (long)(auth ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    if (auth) {
        curl_easy_setopt(c, CURLOPT_USERNAME, user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, password ? password : "");
    }
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, verify_tls ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, verify_tls ? 2L : 0L);
    if (ca_file && *ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
    return self;
}

void notify_smtp_client_destroy(notify_smtp_client_t **self_p) {
    assert(self_p);
    notify_smtp_client_t *self = *self_p;
    if (!self)
        return;
    if (self->curl)
        curl_easy_cleanup(self->curl); // says QUIT on a kept connection
    free(self);
    curl_global_cleanup();
    *self_p = NULL;
}

//  The step of the dialogue a failure happened at, from libcurl's result and words
//  ("RCPT failed: 550"): they name the command, never an address.
static const char *s_stage(CURLcode code, const char *curl_error, bool message_end) {
    static const struct {
        const char *prefix, *stage;
    } commands[] = {
        {"MAIL failed", "MAIL FROM"}, {"RCPT failed", "RCPT TO"}, {"DATA failed", "DATA"}};
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strncmp(curl_error, commands[i].prefix, strlen(commands[i].prefix)) == 0)
            return commands[i].stage;
    switch (code) {
    case CURLE_LOGIN_DENIED:
        return "AUTH";
    case CURLE_REMOTE_ACCESS_DENIED:
        return "EHLO";
    case CURLE_USE_SSL_FAILED:
        return "STARTTLS";
    case CURLE_WEIRD_SERVER_REPLY:
        return message_end ? "the message's end" : "the greeting";
    default:
        return "the dialogue"; // a reply code says which step; a lost connection does not
    }
}

static void s_error(notify_send_result_t *out, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static void s_error(notify_send_result_t *out, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(out->error, sizeof out->error, format, args);
    va_end(args);
}

//  What became of a message libcurl could not send (code != CURLE_OK), from the last
//  reply code the server gave and whether the message's end had gone out:
//  - 5xx: refused for good (REJECTED): the recipient (RCPT TO), the message (after its
//    end), or us (the sender, AUTH: a configuration to mend);
//  - 4xx: deferred (RETRY), at any step, the message's end included;
//  - no such reply, before the message was all handed over (could not connect, TLS
//    failed, the connection lost before or during DATA): a server never delivers a
//    message whose end it has not seen: RETRY;
//  - no such reply after it (timeout or connection lost waiting for the final 250): the
//    server may have queued it: AMBIGUOUS.
static void s_classify(notify_smtp_client_t *self, CURLcode code, long reply,
                       notify_send_result_t *out) {
    const char *stage = s_stage(code, self->curl_error, self->message_end);
    if (reply >= 500 && reply < 600) {
        out->outcome = NOTIFY_SEND_REJECTED;
        if (strcmp(stage, "RCPT TO") == 0)
            s_error(out, "the SMTP server refused the recipient (%ld at RCPT TO)", reply);
        else if (strcmp(stage, "MAIL FROM") == 0)
            s_error(out,
                    "the SMTP server refused the sender (%ld at MAIL FROM; check "
                    "notify.mail_from)",
                    reply);
        else if (strcmp(stage, "AUTH") == 0)
            s_error(out,
                    "the SMTP server refused our credentials (%ld at AUTH; check "
                    "notify.smtp_user and smtp_password)",
                    reply);
        else
            s_error(out, "the SMTP server refused the message (%ld at %s)", reply, stage);
    } else if (reply >= 400 && reply < 500) {
        out->outcome = NOTIFY_SEND_RETRY;
        s_error(out, "the SMTP server deferred the message (%ld at %s)", reply, stage);
    } else if (code == CURLE_USE_SSL_FAILED) {
        out->outcome = NOTIFY_SEND_REJECTED;
        s_error(out, "the SMTP server does not offer STARTTLS, which AUTH needs here (use "
                     "smtps:// or a server with STARTTLS)");
    } else if (self->message_end) {
        out->outcome = NOTIFY_SEND_AMBIGUOUS;
        s_error(out,
                "no answer from the SMTP server after the message was sent (%s); it may "
                "have taken it",
                curl_easy_strerror(code));
    } else {
        out->outcome = NOTIFY_SEND_RETRY;
        s_error(out, "could not send to the SMTP server (%s)", curl_easy_strerror(code));
    }
}

//  The Message-ID header's value in message's header into out ("" when none fits).
static void s_message_id_of(const char *message, char *out, size_t size) {
    out[0] = 0;
    for (const char *line = message; *line && strncmp(line, "\r\n", 2) != 0;) {
        const char *end = strstr(line, "\r\n");
        if (!end)
            break;
        if (strncasecmp(line, "Message-ID:", 11) == 0) {
            const char *value = line + 11;
            while (*value == ' ' || *value == '\t')
                value++;
            if ((size_t)(end - value) < size)
                snprintf(out, size, "%.*s", (int)(end - value), value);
            return;
        }
        line = end + 2;
    }
}

int notify_smtp_send(notify_smtp_client_t *self, const char *from_address, const char *to_address,
                     const char *message, notify_send_result_t *out) {
    assert(self && out);
    *out = (notify_send_result_t){.outcome = NOTIFY_SEND_REJECTED};
    char from[320], to[320], mail_from[324], rcpt[324];
    if (notify_email_address(from_address, from, sizeof from) != 0) {
        s_error(out, "the sender is not a valid email address (check notify.mail_from)");
        return -1;
    }
    if (notify_email_address(to_address, to, sizeof to) != 0) {
        s_error(out, "the recipient is not a valid email address");
        return -1;
    }
    if (!message || !*message) {
        s_error(out, "no message to send");
        return -1;
    }
    snprintf(mail_from, sizeof mail_from, "<%s>", from);
    snprintf(rcpt, sizeof rcpt, "<%s>", to);
    struct curl_slist *recipients = curl_slist_append(NULL, rcpt);
    if (!recipients) {
        out->outcome = NOTIFY_SEND_RETRY;
        s_error(out, "out of memory");
        return -1;
    }
    self->message = message;
    self->size = strlen(message);
    self->offset = 0;
    self->message_end = false;
    self->curl_error[0] = 0;
    curl_easy_setopt(self->curl, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(self->curl, CURLOPT_MAIL_RCPT, recipients);
    curl_easy_setopt(self->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)self->size);
    CURLcode code = curl_easy_perform(self->curl);
    long reply = 0;
    curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &reply);
    curl_easy_setopt(self->curl, CURLOPT_MAIL_RCPT, NULL);
    curl_slist_free_all(recipients);
    self->message = NULL;

    //  The reply code that decided (a refusal, or the final 250), not the last of a
    //  dialogue that then broke off.
    out->http_status = code == CURLE_OK || reply >= 400 ? reply : 0;
    if (code == CURLE_OK) {
        out->outcome = NOTIFY_SEND_ACCEPTED;
        s_message_id_of(message, out->provider_id, sizeof out->provider_id);
        return 0;
    }
    s_classify(self, code, reply, out);
    return -1;
}
