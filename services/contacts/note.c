/*  note: the rules of notes on a contact: what a body may be (valid UTF-8, not blank,
    Unicode's spaces included, at most 20,000 characters), what a list's cursor is, who
    may change a note, and whom an edit newly mentions. No database here: note_store.c
    holds the SQL and note_methods.c the methods; tests/unit/test_contacts_note.c states
    the rules.
*/
#include "contacts.h"
#include "ids.h"
#include "page.h"
#include "validate.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#define NOTE_BODY_MAX_CHARS 20000

//  Blank: nothing but white space, Unicode's included (a pasted text may be made of
//  it): no-break spaces (U+00A0, U+202F), Ogham's (U+1680), the typographic spaces
//  U+2000-U+200A, zero-width ones (U+200B, U+FEFF), line and paragraph separators
//  (U+2028, U+2029), the mathematical (U+205F) and the ideographic (U+3000).
static bool s_blank(const char *text) {
    size_t len = strlen(text);
    for (size_t at = 0; at < len;) {
        const unsigned char *u = (const unsigned char *)text + at;
        size_t width = crm_utf8_char_len(text + at, len - at);
        if (width == 0)
            return false;
        uint32_t c = width == 1 ? u[0] : u[0] & (0x7f >> width);
        for (size_t i = 1; i < width; i++)
            c = c << 6 | (u[i] & 0x3f);
        bool space = (c < 0x80 && isspace((int)c)) || c == 0xa0 || c == 0x1680 ||
                     (c >= 0x2000 && c <= 0x200b) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
                     c == 0x205f || c == 0x3000 || c == 0xfeff;
        if (!space)
            return false;
        at += width;
    }
    return true;
}

int contacts_note_body_check(const char *body, crm_errors_t *errors) {
    if (!crm_utf8_valid(body, strlen(body))) // a bus caller's bytes: not checked on the way
        crm_errors_add(errors, "body", "is not valid UTF-8");
    else if (s_blank(body))
        crm_errors_add(errors, "body", "is required (a note cannot be empty or blank)");
    else if (crm_utf8_chars(body) > NOTE_BODY_MAX_CHARS)
        crm_errors_add(errors, "body", "must be at most %d characters (it has %zu)",
                       NOTE_BODY_MAX_CHARS, crm_utf8_chars(body));
    return errors->n ? -1 : 0;
}

int contacts_note_cursor_check(const char *cursor, bool revisions, crm_errors_t *errors) {
    long long revision;
    bool cursor_ok = !cursor[0] || (revisions ? !crm_cursor_number(cursor, 0, 999999999, &revision)
                                              : crm_uuid_valid(cursor));
    if (!cursor_ok)
        crm_errors_add(errors, "cursor", "is not a cursor returned by this list");
    return errors->n ? -1 : 0;
}

bool contacts_role_manages(const char *role) {
    return strcmp(role, "admin") == 0 || strcmp(role, "manager") == 0;
}

bool contacts_note_may_change(const char *role, const char *actor_id,
                              const Crm__Contacts__Note *note) {
    return contacts_role_manages(role) || strcmp(note->author, actor_id) == 0;
}

size_t contacts_note_added_mentions(const Crm__Contacts__Note *before,
                                    const crm_mention_t *mentions, size_t n, crm_mention_t *added) {
    size_t n_added = 0;
    for (size_t i = 0; i < n; i++) {
        bool was = false;
        for (size_t j = 0; j < before->n_mentions && !was; j++)
            was = strcmp(before->mentions[j], mentions[i]) == 0;
        if (!was)
            memcpy(added[n_added++], mentions[i], sizeof added[0]);
    }
    return n_added;
}
