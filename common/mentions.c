/*  mentions: @handles in free text. See mentions.h. */
#include "mentions.h"
#include "validate.h"

#include <locale.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <wctype.h>

static locale_t s_utf8;
static pthread_once_t s_utf8_once = PTHREAD_ONCE_INIT;

static void s_utf8_open(void) {
    s_utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

static bool s_ascii_alnum(uint32_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool s_handle_char(uint32_t c) {
    return s_ascii_alnum(c) || c == '.' || c == '_' || c == '-';
}

//  True for a letter or digit of any script: such a character glued to '@' or to a
//  handle makes it part of a word, not a mention.
static bool s_word_char(uint32_t c) {
    if (c < 0x80)
        return s_ascii_alnum(c);
    pthread_once(&s_utf8_once, s_utf8_open);
    return s_utf8 ? iswalnum_l((wint_t)c, s_utf8) != 0 : true;
}

//  The code point of the UTF-8 character of width bytes at s.
static uint32_t s_decode(const unsigned char *s, size_t width) {
    if (width == 1)
        return s[0];
    uint32_t c = s[0] & (0x7f >> width);
    for (size_t i = 1; i < width; i++)
        c = c << 6 | (s[i] & 0x3f);
    return c;
}

//  The character just before at (text < at), or U+FFFF (a non-character, counted as a
//  letter) if the bytes there are not UTF-8.
static uint32_t s_previous(const char *text, const char *at) {
    const char *start = at - 1;
    while (start > text && at - start < 4 && ((unsigned char)*start & 0xc0) == 0x80)
        start--;
    size_t width = crm_utf8_char_len(start, (size_t)(at - start));
    if (width != (size_t)(at - start))
        return 0xffff;
    return s_decode((const unsigned char *)start, width);
}

//  The character at at (not the end of the text), or U+FFFF if it is not UTF-8.
static uint32_t s_next(const char *at) {
    size_t width = crm_utf8_char_len(at, strnlen(at, 4));
    return width ? s_decode((const unsigned char *)at, width) : 0xffff;
}

size_t crm_mentions_parse(const char *text, crm_mention_t *out, size_t max) {
    size_t n = 0;
    const char *p = text;
    while (n < max && (p = strchr(p, '@'))) {
        const char *handle = p + 1;
        const char *end = handle;
        while (*end && s_handle_char((unsigned char)*end))
            end++;
        p = end;
        bool glued = handle - 1 > text && (s_word_char(s_previous(text, handle - 1)) ||
                                           strchr("._-", handle[-2]));
        if (glued || (*end && s_word_char(s_next(end))))
            continue;
        while (end > handle && (end[-1] == '.' || end[-1] == '-'))
            end--;
        size_t len = (size_t)(end - handle);
        if (len == 0 || len > CRM_MENTION_MAX_LEN)
            continue;
        crm_mention_t found;
        for (size_t i = 0; i < len; i++) {
            char c = handle[i];
            found[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        }
        found[len] = 0;
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = strcmp(out[i], found) == 0;
        if (!seen)
            memcpy(out[n++], found, len + 1);
    }
    return n;
}

bool crm_mention_handle_valid(const char *handle) {
    size_t len = strlen(handle);
    if (len == 0 || len > CRM_MENTION_MAX_LEN)
        return false;
    for (const char *p = handle; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            return false; // stored lower case: the parser's own form
    char text[CRM_MENTION_MAX_LEN + 2] = "@";
    memcpy(text + 1, handle, len + 1);
    crm_mention_t found[2];
    return crm_mentions_parse(text, found, 2) == 1 && strcmp(found[0], handle) == 0;
}
