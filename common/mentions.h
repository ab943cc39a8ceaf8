/*  mentions: the team members a text @mentions ("thanks @sam." mentions "sam").

    A mention is '@' and a handle of 1 to CRM_MENTION_MAX_LEN characters of
    [A-Za-z0-9._-], read as far as such characters go, less any trailing '.' or '-'
    (the end of a sentence, a dash after a name). It is not a mention when:
    - the '@' follows a letter or digit of any script, or one of . _ - (an address such
      as "jo@example.com", "x_@y");
    - the handle is directly followed by a letter or digit that cannot be part of a
      handle ("@josé": the handle is not "jos");
    - the handle is longer than CRM_MENTION_MAX_LEN characters (it is not cut short:
      that would name somebody else).
    Handles are compared and returned in lower case (team handles are not case
    sensitive), each once, in the order they first appear, at most max of them.

        crm_mention_t mentions[CRM_MENTIONS_MAX];
        size_t n = crm_mentions_parse("@Sam, ask @jo-ann (cc @sam).", mentions, CRM_MENTIONS_MAX);
        // n == 2: "sam", "jo-ann"

    Letters and digits outside ASCII are told by the C.UTF-8 locale's classification;
    where that locale is missing every non-ASCII character counts as a letter.
*/
#ifndef CRM_MENTIONS_H
#define CRM_MENTIONS_H

#include <stdbool.h>
#include <stddef.h>

#define CRM_MENTION_MAX_LEN 64  // characters (ASCII) of one handle
#define CRM_MENTIONS_MAX 50     // mentions kept of one text

typedef char crm_mention_t[CRM_MENTION_MAX_LEN + 1];

//  The distinct handles text mentions, lower-cased, in order of first appearance: writes
//  up to max of them into out and returns how many it wrote. text is UTF-8.
size_t crm_mentions_parse(const char *text, crm_mention_t *out, size_t max);

//  Whether handle is one a mention can name as it is written: "@" + handle mentions
//  exactly handle (1 to CRM_MENTION_MAX_LEN of [a-z0-9._-], lower case, not ending in
//  '.' or '-'). A team member's handle must be one (services/leads/member.c).
bool crm_mention_handle_valid(const char *handle);

#endif
