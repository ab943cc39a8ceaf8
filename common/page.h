/*  page: a list's page, the same in every service: its size (the request's limit,
    checked against the list's default and maximum) and where the next page starts (an
    opaque cursor, given back as it was sent).

    Cursors come in two shapes:
    - keyset: "<sort>.<value>.<id>", the sort (one letter: which list and order it
      belongs to), the last item's sort value (digits, e.g. microseconds since 1970; ""
      when the order needs none or the item has none) and its id (a UUID). The next page
      is the rows after (value, id) in that order.
    - number: a positive count (an offset, a sequence, a row number), digits only.
    A list whose order is its ids alone uses the last id as it is (crm_uuid_valid).

        int limit = crm_page_limit(call, "limit", req->limit, CRM_PAGE_DEFAULT_LIMIT,
                                   CRM_PAGE_MAX_LIMIT);
        crm_cursor_t cursor = {0};
        if (req->cursor[0] && crm_cursor_decode(req->cursor, 'v', &cursor))
            crm_call_field_error(call, "cursor", "is not a cursor of this list");
        if (call->n_fields)
            return 422;
        ...
        list->next_cursor = crm_cursor_encode('v', last_value, last_id);

    test_page.c shows each rule, malformed cursors included.
*/
#ifndef CRM_PAGE_H
#define CRM_PAGE_H

#include <stdint.h>

#include "ids.h"
#include "service.h"

//  The page size of most lists when the request names none, and the most they take.
#define CRM_PAGE_DEFAULT_LIMIT 50
#define CRM_PAGE_MAX_LIMIT 200

//  The page size for a request's limit asked (0: default_limit). Above max_limit it
//  adds the field error "must be at most <max_limit>" on field (the caller answers 422)
//  and returns max_limit.
int crm_page_limit(crm_call_t *call, const char *field, uint32_t asked, int default_limit,
                   int max_limit);

//  A keyset cursor, decoded.
typedef struct {
    char sort;                 // the list and order it belongs to
    char value[24];            // the last item's sort value: digits, or "" for none
    char id[CRM_UUID_LEN + 1]; // the last item's id
} crm_cursor_t;

//  "<sort>.<value>.<id>" (caller frees).
char *crm_cursor_encode(char sort, const char *value, const char *id);

//  Parse text as a keyset cursor of sort into *out. Returns 0, or -1 when it is not one
//  (another sort's, a value that is not digits or too long, an id that is not a UUID).
int crm_cursor_decode(const char *text, char sort, crm_cursor_t *out);

//  Parse text as a number cursor from min to max into *out. Returns 0, or -1 when it is
//  not one (empty, anything but digits, out of range).
int crm_cursor_number(const char *text, long long min, long long max, long long *out);

#endif
