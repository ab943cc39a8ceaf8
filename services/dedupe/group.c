/*  group: likely duplicate pairs into groups for the review list. Pure; match.c feeds it
    the open pairs of a tenant (a scan) or of the contacts around one that changed.

    Greedy average linkage: the links are taken best first, and each joins the groups of
    its two contacts when at least half of all the pairs between those groups are links
    (the rest scored below the threshold) and the joined group holds at most max_size.
    Two records alike join; a third joins when it is like one of two; a chain of
    look-alikes (A like B, B like C, C like D, A and D not alike) stops before it makes
    one group of people who are not. tests/unit/test_dedupe_group.c shows each rule.
*/
#include "dedupe.h"

#include <stdlib.h>

static int s_link_better(const void *x, const void *y) {
    const dedupe_link_t *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
}

static uint64_t s_key(uint32_t a, uint32_t b) {
    return a < b ? (uint64_t)a << 32 | b : (uint64_t)b << 32 | a;
}

static int s_key_compare(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

typedef struct {
    const uint64_t *keys;
    size_t n_keys;
    int *next;   // the members of a group as a list: next member, -1 at the end
    int *head;   // each contact's group: its first member
    size_t *size; // by head
    int *tail;   // by head
} s_groups_t;

static bool s_linked(const s_groups_t *g, uint32_t a, uint32_t b) {
    uint64_t key = s_key(a, b);
    return bsearch(&key, g->keys, g->n_keys, sizeof key, s_key_compare) != NULL;
}

//  Links between the groups headed by x and y.
static size_t s_links_between(const s_groups_t *g, int x, int y) {
    size_t n = 0;
    for (int i = x; i >= 0; i = g->next[i])
        for (int j = y; j >= 0; j = g->next[j])
            n += s_linked(g, (uint32_t)i, (uint32_t)j);
    return n;
}

static void s_join(s_groups_t *g, int x, int y) {
    for (int j = y; j >= 0; j = g->next[j])
        g->head[j] = x;
    g->next[g->tail[x]] = y;
    g->tail[x] = g->tail[y];
    g->size[x] += g->size[y];
}

size_t dedupe_group(size_t n, dedupe_link_t *links, size_t n_links, size_t max_size,
                    int *group_of) {
    for (size_t i = 0; i < n; i++)
        group_of[i] = -1;
    if (n == 0)
        return 0;
    qsort(links, n_links, sizeof *links, s_link_better);
    uint64_t *keys = malloc((n_links + 1) * sizeof *keys);
    s_groups_t g = {.keys = keys,
                    .next = malloc(n * sizeof(int)),
                    .head = malloc(n * sizeof(int)),
                    .size = malloc(n * sizeof(size_t)),
                    .tail = malloc(n * sizeof(int))};
    assert(keys && g.next && g.head && g.size && g.tail);
    for (size_t i = 0; i < n_links; i++)
        keys[i] = s_key(links[i].a, links[i].b);
    qsort(keys, n_links, sizeof *keys, s_key_compare);
    g.n_keys = n_links;
    for (size_t i = 0; i < n; i++) {
        g.next[i] = -1;
        g.head[i] = g.tail[i] = (int)i;
        g.size[i] = 1;
    }
    for (size_t i = 0; i < n_links; i++) {
        if (links[i].a >= n || links[i].b >= n)
            continue;
        int x = g.head[links[i].a], y = g.head[links[i].b];
        if (x == y || g.size[x] + g.size[y] > max_size)
            continue;
        if (2 * s_links_between(&g, x, y) < g.size[x] * g.size[y])
            continue;
        if (x > y) {
            int t = x;
            x = y;
            y = t;
        }
        s_join(&g, x, y);
    }
    size_t groups = 0;
    for (size_t i = 0; i < n; i++)
        if ((size_t)g.head[i] == i && g.size[i] > 1) {
            for (int j = (int)i; j >= 0; j = g.next[j])
                group_of[j] = (int)groups;
            groups++;
        }
    free(keys);
    free(g.next);
    free(g.head);
    free(g.size);
    free(g.tail);
    return groups;
}
