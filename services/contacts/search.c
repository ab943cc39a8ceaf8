/*  search: the rules of the contact list and its search box: what a list request may
    ask for (its filters, a search text of up to 200 characters, a cursor: the last id,
    or for a search "s:<offset>" up to 10,000 deep), and what the text typed looks like
    (an email address, a phone number, words) with the values its statement looks for
    (LIKE patterns, a prefix tsquery, each word one slip away). No database here:
    search_store.c builds the statement for the request from these values (never from
    the text itself) and runs it; search_methods.c holds the List method;
    tests/unit/test_contacts_search.c states the rules.
*/
#include "contacts.h"
#include "ids.h"
#include "page.h"
#include "validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Q_MAX_LEN CONTACTS_SEARCH_Q_MAX_LEN
#define MAX_OFFSET CONTACTS_SEARCH_MAX_OFFSET

int contacts_search_check(const Crm__Contacts__ListContactsRequest *req, const char *prefix,
                          long *offset, crm_errors_t *errors) {
    char field[64];
#define S_FIELD(name) (snprintf(field, sizeof field, "%s%s", prefix, name), field)
    *offset = 0;
    if (req->cursor[0]) {
        long long next = 0;
        bool ok = req->q[0] ? strncmp(req->cursor, "s:", 2) == 0 &&
                                  crm_cursor_number(req->cursor + 2, 1, MAX_OFFSET, &next) == 0
                            : crm_uuid_valid(req->cursor);
        *offset = (long)next;
        if (!ok)
            crm_errors_add(errors, S_FIELD("cursor"), "is not a cursor returned by this list");
    }
    if (crm_utf8_chars(req->q) > Q_MAX_LEN)
        crm_errors_add(errors, S_FIELD("q"), "must be at most %d characters", Q_MAX_LEN);
    const char *times[][2] = {{"createdFrom", req->created_from},
                              {"createdTo", req->created_to},
                              {"activityFrom", req->activity_from},
                              {"activityTo", req->activity_to}};
    for (size_t i = 0; i < 4; i++)
        if (times[i][1][0] && !crm_timestamp_valid(times[i][1]))
            crm_errors_add(errors, S_FIELD(times[i][0]),
                           "must be a date (YYYY-MM-DD) or an RFC 3339 time");
    if (req->organization_id[0] && !crm_uuid_valid(req->organization_id))
        crm_errors_add(errors, S_FIELD("organizationId"), "is not a valid contact id");
    if (strlen(req->assignee) > 100)
        crm_errors_add(errors, S_FIELD("assignee"), "must be at most 100 characters");
    if (crm_utf8_chars(req->tag) > 64)
        crm_errors_add(errors, S_FIELD("tag"), "must be at most 64 characters");
    bool channel = req->consent_channel != CRM__CONTACTS__CHANNEL__CHANNEL_UNSPECIFIED;
    bool purpose = req->consent_purpose != CRM__CONTACTS__PURPOSE__PURPOSE_UNSPECIFIED;
    if (purpose && !channel)
        crm_errors_add(errors, S_FIELD("consentChannel"), "is required with consentPurpose");
    if (channel && !purpose && !req->reachable)
        crm_errors_add(errors, S_FIELD("consentPurpose"), "is required with consentChannel");
    if (req->consent_purpose == CRM__CONTACTS__PURPOSE__PURPOSE_FOLLOW_UP)
        crm_errors_add(errors, S_FIELD("consentPurpose"),
                       "must be marketing or analytics (follow-ups need no consent)");
    const char *status = req->consent_status;
    if (status[0] && strcmp(status, "granted") && strcmp(status, "withdrawn") &&
        strcmp(status, "unknown"))
        crm_errors_add(errors, S_FIELD("consentStatus"), "must be granted, withdrawn or unknown");
    if (status[0] && !purpose)
        crm_errors_add(errors, S_FIELD("consentPurpose"), "is required with consentStatus");
    if (req->reachable && !channel)
        crm_errors_add(errors, S_FIELD("consentChannel"), "is required with reachable");
#undef S_FIELD
    return errors->n ? -1 : 0;
}

//  A LIKE pattern matching the first len bytes of text, lower-cased, anywhere in a
//  value: %, _ and \ in it are literal.
char *contacts_search_like_pattern(const char *text, size_t len) {
    char *out = malloc(len * 2 + 3), *p = out;
    *p++ = '%';
    for (const char *s = text; *s && s < text + len; s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            *p++ = '\\';
        *p++ = (char)tolower((unsigned char)*s);
    }
    *p++ = '%';
    *p = 0;
    return out;
}

char *contacts_search_contains_pattern(const char *text) {
    return contacts_search_like_pattern(text, strlen(text));
}

char *contacts_search_lower_dup(const char *text) {
    char *lower = strdup(text);
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return lower;
}

//  A prefix tsquery of the words of text: "ann le" -> "ann:* & le:*". Each word keeps
//  letters and digits (any script) and is quoted, so nothing a person types is read as
//  an operator. NULL when text has no word.
char *contacts_search_prefix_tsquery(const char *text) {
    size_t size = strlen(text) * 3 + 16;
    char *out = malloc(size), *p = out;
    const char *s = text;
    bool any = false;
    while (*s) {
        while (*s && !isalnum((unsigned char)*s) && !((unsigned char)*s & 0x80))
            s++;
        if (!*s)
            break;
        if (any) {
            memcpy(p, " & ", 3);
            p += 3;
        }
        *p++ = '\'';
        while (*s && (isalnum((unsigned char)*s) || ((unsigned char)*s & 0x80)))
            *p++ = (char)tolower((unsigned char)*s++);
        memcpy(p, "':*", 3);
        p += 3;
        any = true;
    }
    *p = 0;
    if (!any) {
        free(out);
        return NULL;
    }
    return out;
}

//  The words of text, lower-cased, as a PostgreSQL array of "n:word" for the n-th word
//  (from 1), each with every spelling one slip away: a letter dropped, added or changed,
//  or two neighbours swapped ("1:jmaes", "1:james", ...). Only words of 3 to 20 letters
//  a-z get the other spellings; only the first 4 words count. *words: how many.
#define EDIT_WORDS_MAX 4
#define EDIT_WORD_MIN 3
#define EDIT_WORD_MAX 20

static void s_edits_word(zchunk_t *out, int n, const char *word, size_t len) {
    char entry[EDIT_WORD_MAX + 16];
    if (zchunk_size(out) > 1)
        zchunk_extend(out, ",", 1);
    int used = snprintf(entry, sizeof entry, "\"%d:%.*s\"", n, (int)len, word);
    zchunk_extend(out, entry, used);
    bool letters = len >= EDIT_WORD_MIN && len <= EDIT_WORD_MAX;
    for (size_t i = 0; letters && i < len; i++)
        letters = word[i] >= 'a' && word[i] <= 'z';
    if (!letters)
        return;
    char edit[EDIT_WORD_MAX + 2];
    //  Each kind of slip: at each position, with each letter where one is needed.
    for (size_t at = 0; at <= len; at++) {
        for (char c = 'a'; c <= 'z'; c++) {
            //  Added: edit has c inserted at `at`; changed: word[at] replaced by c.
            for (int kind = 0; kind < 2; kind++) {
                if (kind == 1 && (at == len || word[at] == c))
                    continue;
                memcpy(edit, word, at);
                edit[at] = c;
                size_t rest = kind == 0 ? at : at + 1;
                memcpy(edit + at + 1, word + rest, len - rest);
                used = snprintf(entry, sizeof entry, ",\"%d:%.*s\"", n, (int)(at + 1 + len - rest),
                                edit);
                zchunk_extend(out, entry, used);
            }
        }
        if (at < len) {
            //  Dropped.
            memcpy(edit, word, at);
            memcpy(edit + at, word + at + 1, len - at - 1);
            used = snprintf(entry, sizeof entry, ",\"%d:%.*s\"", n, (int)(len - 1), edit);
            zchunk_extend(out, entry, used);
        }
        if (at + 1 < len && word[at] != word[at + 1]) {
            //  Swapped.
            memcpy(edit, word, len);
            edit[at] = word[at + 1];
            edit[at + 1] = word[at];
            used = snprintf(entry, sizeof entry, ",\"%d:%.*s\"", n, (int)len, edit);
            zchunk_extend(out, entry, used);
        }
    }
}

char *contacts_search_word_edits(const char *text, int *words) {
    zchunk_t *out = zchunk_new("{", 1);
    const char *s = text;
    *words = 0;
    while (*s && *words < EDIT_WORDS_MAX) {
        while (*s && !isalnum((unsigned char)*s) && !((unsigned char)*s & 0x80))
            s++;
        if (!*s)
            break;
        char word[Q_MAX_LEN * 4 + 1];
        size_t len = 0;
        while (*s && (isalnum((unsigned char)*s) || ((unsigned char)*s & 0x80)))
            word[len++] = (char)tolower((unsigned char)*s++);
        word[len] = 0;
        if (len > EDIT_WORD_MAX + 4)
            len = EDIT_WORD_MAX + 4; // a word that long is no name: kept as is
        s_edits_word(out, ++*words, word, len);
    }
    zchunk_extend(out, "}", 2); // with the terminating NUL
    char *array = strdup((char *)zchunk_data(out));
    zchunk_destroy(&out);
    return array;
}

//  Is q a phone number as people type them: digits (at least 3) and + ( ) - . space?
bool contacts_search_phone_like(const char *q, char *digits, size_t size) {
    size_t n = 0;
    for (const char *s = q; *s; s++) {
        if (isdigit((unsigned char)*s)) {
            if (n + 1 < size)
                digits[n++] = *s;
        } else if (!strchr("+()-. ", *s))
            return false;
    }
    digits[n] = 0;
    return n >= 3;
}

void contacts_search_text(const Crm__Contacts__ListContactsRequest *req, char *text, size_t size) {
    snprintf(text, size, "%s", req->q);
    crm_text_trim(text);
}

char *contacts_search_next_cursor(bool search, long offset, int n, const char *last_id) {
    if (search)
        return offset + n < MAX_OFFSET ? zsys_sprintf("s:%ld", offset + n) : NULL;
    return strdup(last_id);
}
