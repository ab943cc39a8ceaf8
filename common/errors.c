/*  errors: field errors of a request. See errors.h. */
#include "errors.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void crm_errors_add(crm_errors_t *self, const char *field, const char *fmt, ...) {
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    Crm__FieldError *error = malloc(sizeof *error);
    Crm__FieldError **items = realloc(self->items, (self->n + 1) * sizeof *self->items);
    assert(error && items);
    crm__field_error__init(error);
    error->field = strdup(field);
    error->message = strdup(text);
    assert(error->field && error->message);
    self->items = items;
    self->items[self->n++] = error;
}

bool crm_errors_has(const crm_errors_t *self, const char *field) {
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->items[i]->field, field) == 0)
            return true;
    return false;
}

void crm_errors_move(crm_errors_t *to, crm_errors_t *from) {
    if (!from->n)
        return;
    Crm__FieldError **items = realloc(to->items, (to->n + from->n) * sizeof *to->items);
    assert(items);
    memcpy(items + to->n, from->items, from->n * sizeof *from->items);
    to->items = items;
    to->n += from->n;
    free(from->items);
    from->items = NULL;
    from->n = 0;
}

void crm_errors_reset(crm_errors_t *self) {
    for (size_t i = 0; i < self->n; i++) {
        free(self->items[i]->field);
        free(self->items[i]->message);
        free(self->items[i]);
    }
    free(self->items);
    self->items = NULL;
    self->n = 0;
}
