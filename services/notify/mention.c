/*  mention: the rules of a mention alert (no database, no bus): a team member @mentioned
    in a contact's note (ContactNoteAdded's mentions, ContactNoteEdited's added_mentions)
    is sent one alert per revision of the note. follow.c queues it to the handle (the
    message's member is "@sam" until the sender finds the active member with that
    handle, through the leads service, and records the member's id); the text quotes
    the note's beginning. tests/unit/test_notify_appointment.c states the rules.
*/
#include "notify.h"
#include "mentions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *notify_mention_excerpt(const char *body) {
    //  Whitespace runs (line breaks too) made one space, the ends trimmed.
    size_t len = strlen(body);
    char *out = malloc(len + 4), *p = out;
    size_t chars = 0;
    bool cut = false, space = false;
    for (const char *c = body; *c; c++) {
        bool blank = *c == ' ' || *c == '\t' || *c == '\n' || *c == '\r';
        if (blank) {
            space = p > out;
            continue;
        }
        bool starts = ((unsigned char)*c & 0xC0) != 0x80; // a character's first byte
        if (starts && chars + (space ? 1 : 0) >= NOTIFY_MENTION_EXCERPT_CHARS) {
            cut = true;
            break;
        }
        if (space && starts) {
            *p++ = ' ';
            chars++;
            space = false;
        }
        chars += starts;
        *p++ = *c;
    }
    if (cut)
        memcpy(p, "\xe2\x80\xa6", 3), p += 3; // "…"
    *p = 0;
    return out;
}

void notify_mention_key(char *out, size_t size, const char *note_id, unsigned revision,
                        const char *handle) {
    char source[80], to[CRM_MENTION_MAX_LEN + 2];
    snprintf(source, sizeof source, "%s/%u", note_id, revision ? revision : 1);
    snprintf(to, sizeof to, "%c%s", NOTIFY_HANDLE_PREFIX, handle);
    notify_message_key(out, size, "mention", source, "first", to);
}
