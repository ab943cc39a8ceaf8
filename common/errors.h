/*  errors: what a request's rules find wrong with it, field by field.

    A resource's rules file (services/<name>/<resource>.c) takes a request message and
    answers with its normalised form or with field errors, and knows nothing of the
    database or the request's call: it fills a crm_errors_t. The method then hands the
    errors to its call (crm_call_fail), which answers 422 naming each field.

        crm_errors_t errors = {0};
        if (!valid_day(req->from))
            crm_errors_add(&errors, "from", "is not a date (YYYY-MM-DD)");
        ...
        crm_errors_reset(&errors);

    Field names are the request's JSON paths ("emails[0].address"); messages say the
    rule broken ("is required", "must be at most 100 characters").
*/
#ifndef CRM_ERRORS_H
#define CRM_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include "common.pb-c.h"

typedef struct {
    Crm__FieldError **items;
    size_t n;
} crm_errors_t;

//  Add one field error.
void crm_errors_add(crm_errors_t *self, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

//  True when a field error names field.
bool crm_errors_has(const crm_errors_t *self, const char *field);

//  Move every error of from to the end of to (from is left empty).
void crm_errors_move(crm_errors_t *to, crm_errors_t *from);

//  Free the errors (the struct itself may be reused).
void crm_errors_reset(crm_errors_t *self);

#endif
