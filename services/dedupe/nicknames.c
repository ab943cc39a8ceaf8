/*  nicknames: the nickname list (data/nicknames.tsv, which names its source), read once
    at start. A first name matches another when they stand for a formal name in common
    ("bill" and "william", "peggy" and "maggie": margaret).
*/
#include "dedupe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *nickname; // folded
    char *formal;
} s_pair_t;

struct _dedupe_nicknames_t {
    s_pair_t *pairs; // sorted by nickname
    size_t n;
};

static int s_pair_compare(const void *a, const void *b) {
    const s_pair_t *x = a, *y = b;
    int c = strcmp(x->nickname, y->nickname);
    return c ? c : strcmp(x->formal, y->formal);
}

static void s_add(dedupe_nicknames_t *self, size_t *cap, const char *nickname, const char *formal) {
    if (self->n == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        self->pairs = realloc(self->pairs, *cap * sizeof *self->pairs);
        assert(self->pairs);
    }
    self->pairs[self->n].nickname = strdup(nickname);
    self->pairs[self->n].formal = strdup(formal);
    self->n++;
}

dedupe_nicknames_t *dedupe_nicknames_new(const char *path, char **error) {
    FILE *file = fopen(path, "r");
    if (!file) {
        if (error && asprintf(error, "could not open %s: %s", path, strerror(errno)) < 0)
            *error = NULL;
        return NULL;
    }
    dedupe_nicknames_t *self = calloc(1, sizeof *self);
    assert(self);
    size_t cap = 0;
    char line[1024];
    unsigned number = 0;
    while (fgets(line, sizeof line, file)) {
        number++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        char *tab = strchr(line, '\t');
        char formal[DEDUPE_NAME_MAX];
        if (!tab || (*tab = 0, dedupe_name_fold(line, formal, sizeof formal)) || !formal[0]) {
            if (error && asprintf(error, "%s:%u: not \"formal<TAB>nick,nick\"", path, number) < 0)
                *error = NULL;
            fclose(file);
            dedupe_nicknames_destroy(&self);
            return NULL;
        }
        char *save = NULL;
        for (char *nick = strtok_r(tab + 1, ",", &save); nick; nick = strtok_r(NULL, ",", &save)) {
            char folded[DEDUPE_NAME_MAX];
            if (dedupe_name_fold(nick, folded, sizeof folded) == 0 && folded[0])
                s_add(self, &cap, folded, formal);
        }
    }
    fclose(file);
    if (self->n)
        qsort(self->pairs, self->n, sizeof *self->pairs, s_pair_compare);
    return self;
}

void dedupe_nicknames_destroy(dedupe_nicknames_t **self_p) {
    assert(self_p);
    dedupe_nicknames_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->n; i++) {
            free(self->pairs[i].nickname);
            free(self->pairs[i].formal);
        }
        free(self->pairs);
        free(self);
        *self_p = NULL;
    }
}

size_t dedupe_nicknames_groups(const dedupe_nicknames_t *self, const char *first, const char **out,
                               size_t max) {
    size_t n = 0;
    if (!first || !first[0] || max == 0)
        return 0;
    out[n++] = first;
    if (!self || !self->n)
        return n;
    //  The first pair of this nickname, then each after it.
    size_t lo = 0, hi = self->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(self->pairs[mid].nickname, first) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < self->n && n < max && strcmp(self->pairs[i].nickname, first) == 0; i++)
        if (strcmp(self->pairs[i].formal, first) != 0)
            out[n++] = self->pairs[i].formal;
    return n;
}
