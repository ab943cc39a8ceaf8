/*  validate: field rules shared by every service (e-mail syntax, UTF-8).

    Phone numbers live in phone.cc, a thin C wrapper over libphonenumber.

    E-mail addresses follow the practical subset of RFC 5321/5322 that mail systems
    accept today: ASCII only (internationalised addresses, RFC 6531, are rejected),
    no comments or folding white space, no bare spaces even inside a quoted local part
    (an escaped one, "a\ b", is allowed). What people type into a CRM with a space in it
    is a typo, not an address.
*/
#include "validate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_EMAIL_MAX 254 //  RFC 5321 path limit less the angle brackets
#define S_LOCAL_MAX 64
#define S_LABEL_MAX 63
#define S_DOMAIN_MAX 253

static bool s_is_alpha(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool s_is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

//  RFC 5322 atext: letters, digits and these specials.
static bool s_is_atext(unsigned char c) {
    return s_is_alpha(c) || s_is_digit(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

//  Length of the local part at the start of address (quoted string or dot-atom), or 0
//  if it is malformed. It ends just before the '@' that separates it from the domain.
static size_t s_local_part_len(const char *address) {
    const unsigned char *at = (const unsigned char *)address;
    if (*at == '"') {
        size_t i = 1;
        for (;;) {
            unsigned char c = at[i];
            if (c == '\\') {
                //  quoted-pair: a backslash and any printable ASCII character
                if (at[i + 1] < 0x20 || at[i + 1] > 0x7e)
                    return 0;
                i += 2;
            } else if (c == '"')
                break;
            else if (c >= 0x21 && c <= 0x7e) //  qtext (quote and backslash handled above)
                i++;
            else
                return 0; //  end of text, control, space or non-ASCII
        }
        if (i == 1)
            return 0; //  "" is not a mailbox anyone has
        return i + 1;
    }
    size_t i = 0;
    while (at[i] && at[i] != '@') {
        if (at[i] == '.') {
            if (i == 0 || at[i - 1] == '.' || at[i + 1] == '@' || at[i + 1] == 0)
                return 0; //  leading, double or trailing dot
        } else if (!s_is_atext(at[i]))
            return 0;
        i++;
    }
    return i;
}

//  [192.0.2.1] or [IPv6:2001:db8::1]
static bool s_address_literal_valid(const char *domain, size_t length) {
    if (length < 3 || domain[0] != '[' || domain[length - 1] != ']')
        return false;
    char inner[64];
    size_t inner_length = length - 2;
    if (inner_length >= sizeof inner)
        return false;
    memcpy(inner, domain + 1, inner_length);
    inner[inner_length] = 0;

    unsigned char binary[16];
    if (strncasecmp(inner, "IPv6:", 5) == 0)
        return inet_pton(AF_INET6, inner + 5, binary) == 1;
    return inet_pton(AF_INET, inner, binary) == 1;
}

//  Letters, digits and hyphens in labels of 1-63, no hyphen at either end of a label,
//  at least two labels, and a top-level label that is not all digits.
static bool s_domain_name_valid(const char *domain, size_t length) {
    if (length == 0 || length > S_DOMAIN_MAX)
        return false;
    size_t labels = 0;
    size_t start = 0;
    while (start <= length) {
        size_t end = start;
        bool all_digits = true;
        while (end < length && domain[end] != '.') {
            unsigned char c = (unsigned char)domain[end];
            if (!s_is_alpha(c) && !s_is_digit(c) && c != '-')
                return false;
            if (!s_is_digit(c))
                all_digits = false;
            end++;
        }
        size_t label_length = end - start;
        if (label_length == 0 || label_length > S_LABEL_MAX)
            return false; //  empty label: leading, trailing or double dot
        if (domain[start] == '-' || domain[end - 1] == '-')
            return false;
        labels++;
        if (end == length)
            return labels >= 2 && !all_digits;
        start = end + 1;
    }
    return false;
}

bool crm_email_valid(const char *address) {
    if (!address)
        return false;
    size_t length = strlen(address);
    if (length == 0 || length > S_EMAIL_MAX)
        return false;
    size_t local_length = s_local_part_len(address);
    if (local_length == 0 || local_length > S_LOCAL_MAX || address[local_length] != '@')
        return false;
    const char *domain = address + local_length + 1;
    size_t domain_length = length - local_length - 1;
    if (domain_length > 0 && domain[0] == '[')
        return s_address_literal_valid(domain, domain_length);
    return s_domain_name_valid(domain, domain_length);
}

int crm_email_normalize(const char *address, char *out, size_t out_size) {
    if (!out || !crm_email_valid(address))
        return -1;
    size_t length = strlen(address);
    if (length + 1 > out_size)
        return -1;
    //  The domain holds no '@', so the last one separates it even after a quoted local part.
    size_t domain_start = (size_t)(strrchr(address, '@') - address) + 1;
    for (size_t i = 0; i < length; i++) {
        char c = address[i];
        if (i >= domain_start && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[i] = c;
    }
    out[length] = 0;
    return 0;
}

size_t crm_utf8_char_len(const char *s, size_t len) {
    if (!s || len == 0)
        return 0;
    const unsigned char *u = (const unsigned char *)s;
    unsigned char lead = u[0];
    size_t width;
    unsigned char second_min = 0x80;
    unsigned char second_max = 0xbf;
    if (lead < 0x80)
        return 1;
    else if (lead < 0xc2)
        return 0; //  a continuation byte, or C0/C1 (always overlong)
    else if (lead < 0xe0)
        width = 2;
    else if (lead < 0xf0) {
        width = 3;
        if (lead == 0xe0)
            second_min = 0xa0; //  overlong below U+0800
        else if (lead == 0xed)
            second_max = 0x9f; //  U+D800..U+DFFF are surrogates
    } else if (lead < 0xf5) {
        width = 4;
        if (lead == 0xf0)
            second_min = 0x90; //  overlong below U+10000
        else if (lead == 0xf4)
            second_max = 0x8f; //  above U+10FFFF
    } else
        return 0;
    if (len < width)
        return 0; //  truncated
    if (u[1] < second_min || u[1] > second_max)
        return 0;
    for (size_t i = 2; i < width; i++)
        if (u[i] < 0x80 || u[i] > 0xbf)
            return 0;
    return width;
}

bool crm_utf8_valid(const char *s, size_t len) {
    if (!s)
        return len == 0;
    size_t at = 0;
    while (at < len) {
        size_t width = crm_utf8_char_len(s + at, len - at);
        if (width == 0)
            return false;
        at += width;
    }
    return true;
}

size_t crm_utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

bool crm_text_blank(const char *s) {
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

//  The value of a VIN character in the check-digit sum, or -1 for one not allowed.
static int s_vin_value(char c) {
    static const char *const letters = "ABCDEFGHJKLMNPRSTUVWXYZ";
    static const int values[] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5,
                                 7, 9, 2, 3, 4, 5, 6, 7, 8, 9};
    c = (char)toupper((unsigned char)c);
    if (c >= '0' && c <= '9')
        return c - '0';
    const char *at = c ? strchr(letters, c) : NULL;
    return at ? values[at - letters] : -1;
}

const char *crm_vin_check(const char *vin) {
    static const int weights[17] = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};
    if (strlen(vin) != 17)
        return "must be 17 characters";
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        int value = s_vin_value(vin[i]);
        if (value < 0)
            return "may hold only digits and letters other than I, O and Q";
        sum += value * weights[i];
    }
    int check = sum % 11;
    char expected = check == 10 ? 'X' : (char)('0' + check);
    if (toupper((unsigned char)vin[8]) != expected)
        return "has a wrong check digit (the ninth character)";
    return NULL;
}

bool crm_date_parse(const char *text, int *year, int *month, int *day) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)text[i]))
            return false;
    int y = atoi(text), m = atoi(text + 5), d = atoi(text + 8);
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days[m - 1] + (m == 2 && leap))
        return false;
    if (year)
        *year = y;
    if (month)
        *month = m;
    if (day)
        *day = d;
    return true;
}

void crm_text_trim(char *s) {
    if (!*s)
        return;
    char *start = s;
    while (isspace((unsigned char)*start))
        start++;
    size_t len = strlen(start);
    while (len && isspace((unsigned char)start[len - 1]))
        len--;
    memmove(s, start, len);
    s[len] = 0;
}

//  n digits at s, as a number no greater than max; -1 otherwise.
static int s_digits(const char *s, int n, int max) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

bool crm_timestamp_valid(const char *text) {
    char date[11];
    snprintf(date, sizeof date, "%s", text);
    if (!crm_date_parse(date, NULL, NULL, NULL))
        return false;
    const char *p = text + 10;
    if (!*p)
        return true;
    if ((*p != 'T' && *p != 't' && *p != ' ') || s_digits(p + 1, 2, 23) < 0 || p[3] != ':' ||
        s_digits(p + 4, 2, 59) < 0 || p[6] != ':' || s_digits(p + 7, 2, 60) < 0)
        return false;
    p += 9;
    if (*p == '.') {
        const char *start = ++p;
        while (isdigit((unsigned char)*p))
            p++;
        if (p == start || p - start > 9)
            return false;
    }
    if ((*p == 'Z' || *p == 'z') && !p[1])
        return true;
    return (*p == '+' || *p == '-') && s_digits(p + 1, 2, 23) >= 0 && p[3] == ':' &&
           s_digits(p + 4, 2, 59) >= 0 && !p[6];
}
