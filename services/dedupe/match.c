/*  match: contacts matched within their blocks, for the review list. Two callers:
    follow.c, as a contact's event arrives (dedupe_match_contact: its pairs made again,
    the groups around it made again), and the scan job (dedupe_match_page, a page of the
    tenant at a time, then dedupe_match_regroup_all). Pairs scoring at least the
    threshold are kept in the pairs table with the comparison as the API shows it; groups
    (group.c) are made from the open pairs and written with an id made from their
    members, so a group found again is the same group. New pairs are published as
    DuplicateFound. SQL: match_store.c.
*/
#include "match_store.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

// --- a list of strings, for an array parameter ----------------------------------------------

typedef struct {
    char **items;
    size_t n, cap;
} s_list_t;

static void s_list_add(s_list_t *list, const char *text) {
    if (list->n == list->cap) {
        list->cap = list->cap ? 2 * list->cap : 64;
        list->items = realloc(list->items, list->cap * sizeof *list->items);
        assert(list->items);
    }
    list->items[list->n++] = strdup(text);
}

static char *s_list_array(const s_list_t *list) {
    return crm_db_text_array((const char *const *)list->items, list->n);
}

static void s_list_reset(s_list_t *list) {
    for (size_t i = 0; i < list->n; i++)
        free(list->items[i]);
    free(list->items);
    memset(list, 0, sizeof *list);
}

// --- entries by id ----------------------------------------------------------------------------

typedef struct {
    char id[40];
    char fingerprint[DEDUPE_FINGERPRINT_MAX];
    dedupe_entry_t entry;
} s_entry_t;

static int s_entry_compare(const void *key, const void *item) {
    return strcmp(key, ((const s_entry_t *)item)->id);
}

//  The entries read, kept between calls on each thread (the scan's and the matching
//  job's): a scan's page reads thousands of entries (some 10 KiB each), and memory taken
//  afresh each time and given back cost more in page faults than the matching itself.
static __thread s_entry_t *s_buffer;
static __thread size_t s_buffer_size;
static pthread_key_t s_buffer_key; // frees a thread's buffer when the thread ends
static pthread_once_t s_buffer_once = PTHREAD_ONCE_INIT;

static void s_buffer_key_new(void) {
    pthread_key_create(&s_buffer_key, free);
}

//  This thread's buffer of at least size entries (its old content gone). NULL: no memory.
static s_entry_t *s_buffer_of(size_t size) {
    if (size > s_buffer_size) {
        pthread_once(&s_buffer_once, s_buffer_key_new);
        free(s_buffer);
        s_buffer_size = size;
        s_buffer = malloc(size * sizeof *s_buffer);
        pthread_setspecific(s_buffer_key, s_buffer);
    }
    return s_buffer;
}

//  The entries of ids, in id order (*n of them, in this thread's buffer: valid until the
//  next call). NULL on failure.
static s_entry_t *s_entries(crm_db_t *db, const char *tenant_id, const s_list_t *ids, size_t *n) {
    *n = 0;
    if (ids->n == 0)
        return s_buffer_of(1);
    char *array = s_list_array(ids);
    PGresult *res = dedupe_match_store_entries(db, tenant_id, array);
    free(array);
    if (!res)
        return NULL;
    int rows = PQntuples(res);
    s_entry_t *entries = s_buffer_of((size_t)rows + 1);
    assert(entries);
    for (int r = 0; r < rows; r++) {
        snprintf(entries[r].id, sizeof entries[r].id, "%s", PQgetvalue(res, r, 0));
        dedupe_entry_from_row(res, r, 1, &entries[r].entry, entries[r].fingerprint);
    }
    PQclear(res);
    *n = (size_t)rows;
    return entries;
}

// --- pairs ---------------------------------------------------------------------------------

//  Score the pairs of res (rows: contact, other) and keep those at or above threshold:
//  their rows into keep (a < b), *found counts them; the pairs' (a, b) into found_a and
//  found_b when not NULL.
typedef struct {
    s_list_t a, b, score, match, fp_a, fp_b;
} s_pairs_t;

static void s_pairs_reset(s_pairs_t *p) {
    s_list_reset(&p->a);
    s_list_reset(&p->b);
    s_list_reset(&p->score);
    s_list_reset(&p->match);
    s_list_reset(&p->fp_a);
    s_list_reset(&p->fp_b);
}

static int s_id_compare(const void *x, const void *y) {
    return strcmp(*(char *const *)x, *(char *const *)y);
}

//  The ids of res's first two columns and of extra, sorted, once each.
static void s_ids_of(PGresult *res, const s_list_t *extra, s_list_t *out) {
    s_list_t all = {0};
    for (int r = 0; r < PQntuples(res); r++) {
        s_list_add(&all, PQgetvalue(res, r, 0));
        s_list_add(&all, PQgetvalue(res, r, 1));
    }
    for (size_t i = 0; extra && i < extra->n; i++)
        s_list_add(&all, extra->items[i]);
    if (all.n > 1) // (none: no array to sort)
        qsort(all.items, all.n, sizeof *all.items, s_id_compare);
    for (size_t i = 0; i < all.n; i++)
        if (i == 0 || strcmp(all.items[i], all.items[i - 1]) != 0)
            s_list_add(out, all.items[i]);
    s_list_reset(&all);
}

static int s_score_pairs(crm_db_t *db, const char *tenant_id, PGresult *blocks, double threshold,
                         s_pairs_t *keep) {
    s_list_t ids = {0};
    s_ids_of(blocks, NULL, &ids);
    size_t n = 0;
    s_entry_t *entries = s_entries(db, tenant_id, &ids, &n);
    s_list_reset(&ids);
    if (!entries)
        return -1;
    for (int r = 0; r < PQntuples(blocks); r++) {
        const char *x = PQgetvalue(blocks, r, 0), *y = PQgetvalue(blocks, r, 1);
        const char *a = strcmp(x, y) < 0 ? x : y, *b = a == x ? y : x;
        s_entry_t *ea = bsearch(a, entries, n, sizeof *entries, s_entry_compare);
        s_entry_t *eb = bsearch(b, entries, n, sizeof *entries, s_entry_compare);
        if (!ea || !eb)
            continue;
        dedupe_comparison_t comparison;
        dedupe_compare(&ea->entry, &eb->entry, &comparison);
        if (comparison.score < threshold)
            continue;
        Crm__Dedupe__DuplicateMatch *m = dedupe_match_new(b, &comparison);
        size_t size = crm__dedupe__duplicate_match__get_packed_size(m);
        uint8_t *packed = malloc(size + 1);
        assert(packed);
        crm__dedupe__duplicate_match__pack(m, packed);
        char *hex = malloc(2 * size + 1);
        assert(hex);
        sodium_bin2hex(hex, 2 * size + 1, packed, size);
        char score[32];
        snprintf(score, sizeof score, "%.17g", m->score);
        s_list_add(&keep->a, a);
        s_list_add(&keep->b, b);
        s_list_add(&keep->score, score);
        s_list_add(&keep->match, hex);
        s_list_add(&keep->fp_a, ea->fingerprint);
        s_list_add(&keep->fp_b, eb->fingerprint);
        free(hex);
        free(packed);
        crm__dedupe__duplicate_match__free_unpacked(m, NULL);
    }
    return 0;
}

//  Put the kept pairs; the new ones into new_a/new_b (for DuplicateFound).
static int s_put_pairs(crm_db_t *db, const char *tenant_id, const s_pairs_t *keep,
                       s_list_t *new_a, s_list_t *new_b) {
    if (keep->a.n == 0)
        return 0;
    dedupe_pair_rows_t rows = {s_list_array(&keep->a),     s_list_array(&keep->b),
                               s_list_array(&keep->score), s_list_array(&keep->match),
                               s_list_array(&keep->fp_a),  s_list_array(&keep->fp_b)};
    PGresult *res = dedupe_match_store_put_pairs(db, tenant_id, &rows);
    free(rows.a);
    free(rows.b);
    free(rows.score);
    free(rows.match);
    free(rows.fp_a);
    free(rows.fp_b);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res); r++)
        if (strcmp(PQgetvalue(res, r, 2), "t") == 0) {
            s_list_add(new_a, PQgetvalue(res, r, 0));
            s_list_add(new_b, PQgetvalue(res, r, 1));
        }
    PQclear(res);
    return 0;
}

// --- groups --------------------------------------------------------------------------------

//  A group's id: a UUID-shaped hash (BLAKE2b) of the tenant and its sorted member ids.
static void s_group_id(const char *tenant_id, char *const *members, size_t n, char out[37]) {
    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, 16);
    crypto_generichash_update(&state, (const unsigned char *)tenant_id, strlen(tenant_id) + 1);
    for (size_t i = 0; i < n; i++)
        crypto_generichash_update(&state, (const unsigned char *)members[i], strlen(members[i]) + 1);
    unsigned char h[16];
    crypto_generichash_final(&state, h, sizeof h);
    h[6] = (h[6] & 0x0f) | 0x80; // version 8: custom
    h[8] = (h[8] & 0x3f) | 0x80;
    char hex[33];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static int s_member_compare(const void *x, const void *y) {
    const Crm__Dedupe__DuplicateMember *a = *(Crm__Dedupe__DuplicateMember *const *)x;
    const Crm__Dedupe__DuplicateMember *b = *(Crm__Dedupe__DuplicateMember *const *)y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return strcmp(a->contact_id, b->contact_id);
}

//  A member: its best pair within the group (the pair's match, unpacked from hex).
static Crm__Dedupe__DuplicateMember *s_member(const char *id, const char *other, double score,
                                              const char *match_hex) {
    Crm__Dedupe__DuplicateMember *m = malloc(sizeof *m);
    assert(m);
    crm__dedupe__duplicate_member__init(m);
    m->contact_id = strdup(id);
    m->matched_with = strdup(other);
    m->score = score;
    size_t hex_len = strlen(match_hex), size = 0;
    uint8_t *packed = malloc(hex_len / 2 + 1);
    assert(packed);
    Crm__Dedupe__DuplicateMatch *match = NULL;
    if (sodium_hex2bin(packed, hex_len / 2 + 1, match_hex, hex_len, NULL, &size, NULL) == 0)
        match = crm__dedupe__duplicate_match__unpack(NULL, size, packed);
    free(packed);
    if (match) {
        m->reasons = match->reasons;
        m->n_reasons = match->n_reasons;
        match->reasons = NULL;
        match->n_reasons = 0;
        m->summary = match->summary;
        match->summary = NULL;
        crm__dedupe__duplicate_match__free_unpacked(match, NULL);
    }
    if (!m->summary)
        m->summary = strdup("");
    return m;
}

//  Make the groups of the open pairs of res (rows a, b, score, match) and write them,
//  replacing the open groups of the contacts involved (around NULL: of the tenant).
//  *group_of_pair: for new pairs (new_a, new_b), the id of the group holding both.
static int s_regroup(crm_db_t *db, const char *tenant_id, const char *around, PGresult *res,
                     const s_list_t *new_a, const s_list_t *new_b, s_list_t *new_groups) {
    s_list_t ids = {0}, extra = {0};
    if (around)
        s_list_add(&extra, around);
    s_ids_of(res, &extra, &ids);
    s_list_reset(&extra);
    int rows = PQntuples(res);
    dedupe_link_t *links = calloc((size_t)rows + 1, sizeof *links);
    int *group_of = calloc(ids.n + 1, sizeof *group_of);
    assert(links && group_of);
    for (int r = 0; r < rows; r++) {
        const char *a = PQgetvalue(res, r, 0), *b = PQgetvalue(res, r, 1);
        char **ia = bsearch(&a, ids.items, ids.n, sizeof *ids.items, s_id_compare);
        char **ib = bsearch(&b, ids.items, ids.n, sizeof *ids.items, s_id_compare);
        links[r].a = (uint32_t)(ia - ids.items);
        links[r].b = (uint32_t)(ib - ids.items);
        links[r].score = atof(PQgetvalue(res, r, 2));
    }
    //  The row of each link, to find its match after dedupe_group reorders them.
    size_t n_groups = dedupe_group(ids.n, links, (size_t)rows, DEDUPE_GROUP_MAX, group_of);
    //  Best link of each contact within its group (its row in res).
    int *best_row = malloc((ids.n + 1) * sizeof *best_row);
    assert(best_row);
    for (size_t i = 0; i < ids.n; i++)
        best_row[i] = -1;
    for (int r = 0; r < rows; r++) {
        const char *a = PQgetvalue(res, r, 0), *b = PQgetvalue(res, r, 1);
        size_t ia = (size_t)((char **)bsearch(&a, ids.items, ids.n, sizeof *ids.items,
                                              s_id_compare) - ids.items);
        size_t ib = (size_t)((char **)bsearch(&b, ids.items, ids.n, sizeof *ids.items,
                                              s_id_compare) - ids.items);
        if (group_of[ia] < 0 || group_of[ia] != group_of[ib])
            continue;
        double score = atof(PQgetvalue(res, r, 2));
        size_t ends[2] = {ia, ib};
        for (int k = 0; k < 2; k++)
            if (best_row[ends[k]] < 0 || atof(PQgetvalue(res, best_row[ends[k]], 2)) < score)
                best_row[ends[k]] = r;
    }
    s_list_t g_ids = {0}, g_members = {0}, g_scores = {0}, g_bodies = {0};
    char (*group_ids)[37] = calloc(n_groups + 1, sizeof *group_ids);
    assert(group_ids);
    for (size_t g = 0; g < n_groups; g++) {
        Crm__Dedupe__DuplicateGroup group = CRM__DEDUPE__DUPLICATE_GROUP__INIT;
        group.members = calloc(DEDUPE_GROUP_MAX + 1, sizeof *group.members);
        assert(group.members);
        char *member_ids[DEDUPE_GROUP_MAX];
        size_t n = 0;
        for (size_t i = 0; i < ids.n && n < DEDUPE_GROUP_MAX; i++) {
            if (group_of[i] != (int)g)
                continue;
            int r = best_row[i];
            const char *a = PQgetvalue(res, r, 0), *b = PQgetvalue(res, r, 1);
            const char *other = strcmp(a, ids.items[i]) == 0 ? b : a;
            member_ids[n] = ids.items[i];
            group.members[n++] = s_member(ids.items[i], other, atof(PQgetvalue(res, r, 2)),
                                          PQgetvalue(res, r, 3));
        }
        group.n_members = n;
        qsort(group.members, n, sizeof *group.members, s_member_compare);
        group.score = group.members[n - 1]->score;
        s_group_id(tenant_id, member_ids, n, group_ids[g]);
        size_t size = crm__dedupe__duplicate_group__get_packed_size(&group);
        uint8_t *packed = malloc(size + 1);
        char *hex = malloc(2 * size + 1);
        assert(packed && hex);
        crm__dedupe__duplicate_group__pack(&group, packed);
        sodium_bin2hex(hex, 2 * size + 1, packed, size);
        char joined[DEDUPE_GROUP_MAX * 40] = "", score[32];
        for (size_t i = 0; i < n; i++)
            snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s",
                     i ? "," : "", member_ids[i]);
        snprintf(score, sizeof score, "%.17g", group.score);
        s_list_add(&g_ids, group_ids[g]);
        s_list_add(&g_members, joined);
        s_list_add(&g_scores, score);
        s_list_add(&g_bodies, hex);
        free(hex);
        free(packed);
        for (size_t i = 0; i < n; i++)
            crm__dedupe__duplicate_member__free_unpacked(group.members[i], NULL);
        free(group.members);
    }
    char *a_ids = s_list_array(&g_ids), *a_members = s_list_array(&g_members),
         *a_scores = s_list_array(&g_scores), *a_bodies = s_list_array(&g_bodies);
    char *replacing = around ? s_list_array(&ids) : NULL;
    int rc = dedupe_match_store_put_groups(db, tenant_id, a_ids, a_members, a_scores, a_bodies,
                                           replacing);
    free(a_ids);
    free(a_members);
    free(a_scores);
    free(a_bodies);
    free(replacing);
    //  The group of each new pair ("" when its two are not grouped together).
    for (size_t i = 0; new_groups && i < new_a->n; i++) {
        const char *a = new_a->items[i], *b = new_b->items[i];
        char **ia = bsearch(&a, ids.items, ids.n, sizeof *ids.items, s_id_compare);
        char **ib = bsearch(&b, ids.items, ids.n, sizeof *ids.items, s_id_compare);
        int ga = ia ? group_of[ia - ids.items] : -1, gb = ib ? group_of[ib - ids.items] : -1;
        s_list_add(new_groups, ga >= 0 && ga == gb ? group_ids[ga] : "");
    }
    free(group_ids);
    s_list_reset(&g_ids);
    s_list_reset(&g_members);
    s_list_reset(&g_scores);
    s_list_reset(&g_bodies);
    free(best_row);
    free(links);
    free(group_of);
    s_list_reset(&ids);
    return rc;
}

// --- DuplicateFound ---------------------------------------------------------------------------

//  One DuplicateFound per new pair: contact is the one matched (when one is named, it;
//  else the pair's first), candidate the other, with the pair's score and reasons.
static int s_publish(crm_outbox_t *outbox, const char *tenant_id, const char *contact_id,
                     const s_pairs_t *keep, const s_list_t *new_a, const s_list_t *new_b,
                     const s_list_t *new_groups) {
    for (size_t i = 0; outbox && i < new_a->n; i++) {
        size_t k = 0;
        while (k < keep->a.n && (strcmp(keep->a.items[k], new_a->items[i]) ||
                                 strcmp(keep->b.items[k], new_b->items[i])))
            k++;
        if (k == keep->a.n)
            continue;
        const char *a = new_a->items[i], *b = new_b->items[i];
        bool b_first = contact_id && strcmp(contact_id, b) == 0;
        Crm__Events__DuplicateFound event = CRM__EVENTS__DUPLICATE_FOUND__INIT;
        event.contact_id = (char *)(b_first ? b : a);
        event.candidate_id = (char *)(b_first ? a : b);
        event.score = atof(keep->score.items[k]);
        event.group_id = new_groups && i < new_groups->n ? new_groups->items[i] : "";
        size_t hex_len = strlen(keep->match.items[k]), size = 0;
        uint8_t *packed = malloc(hex_len / 2 + 1);
        assert(packed);
        Crm__Dedupe__DuplicateMatch *m = NULL;
        if (sodium_hex2bin(packed, hex_len / 2 + 1, keep->match.items[k], hex_len, NULL, &size,
                           NULL) == 0)
            m = crm__dedupe__duplicate_match__unpack(NULL, size, packed);
        free(packed);
        char **reasons = calloc(m ? m->n_reasons + 1 : 1, sizeof *reasons);
        assert(reasons);
        for (size_t j = 0; m && j < m->n_reasons; j++)
            reasons[event.n_reasons++] = m->reasons[j]->text;
        event.reasons = reasons;
        int rc = crm_outbox_add(outbox, tenant_id, event.contact_id, &event.base, NULL);
        free(reasons);
        if (m)
            crm__dedupe__duplicate_match__free_unpacked(m, NULL);
        if (rc)
            return -1;
    }
    return 0;
}

// --- the two callers ---------------------------------------------------------------------------

int dedupe_match_contact(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                         const char *contact_id, double threshold) {
    if (dedupe_match_store_delete_pairs_of(db, tenant_id, contact_id))
        return -1;
    s_list_t one = {0};
    s_list_add(&one, contact_id);
    char *ids = s_list_array(&one);
    s_list_reset(&one);
    PGresult *blocks = dedupe_match_store_block_pairs(db, tenant_id, ids, false);
    free(ids);
    if (!blocks)
        return -1;
    s_pairs_t keep = {0};
    s_list_t new_a = {0}, new_b = {0}, new_groups = {0};
    int rc = s_score_pairs(db, tenant_id, blocks, threshold, &keep);
    PQclear(blocks);
    if (rc == 0)
        rc = s_put_pairs(db, tenant_id, &keep, &new_a, &new_b);
    PGresult *open = rc == 0 ? dedupe_match_store_open_pairs(db, tenant_id, contact_id) : NULL;
    if (rc == 0 && !open)
        rc = -1;
    if (rc == 0)
        rc = s_regroup(db, tenant_id, contact_id, open, &new_a, &new_b, &new_groups);
    if (open)
        PQclear(open);
    if (rc == 0)
        rc = s_publish(outbox, tenant_id, contact_id, &keep, &new_a, &new_b, &new_groups);
    s_pairs_reset(&keep);
    s_list_reset(&new_a);
    s_list_reset(&new_b);
    s_list_reset(&new_groups);
    return rc;
}

int dedupe_match_page(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                      const char *after_id, int page, double threshold, int *processed,
                      char last_id[40], int *pairs) {
    *processed = *pairs = 0;
    PGresult *res = dedupe_match_store_page(db, tenant_id, after_id, page);
    if (!res)
        return -1;
    s_list_t page_ids = {0};
    for (int r = 0; r < PQntuples(res); r++)
        s_list_add(&page_ids, PQgetvalue(res, r, 0));
    PQclear(res);
    if (page_ids.n == 0)
        return 0;
    snprintf(last_id, 40, "%s", page_ids.items[page_ids.n - 1]);
    *processed = (int)page_ids.n;
    char *ids = s_list_array(&page_ids);
    PGresult *blocks = dedupe_match_store_block_pairs(db, tenant_id, ids, true);
    s_pairs_t keep = {0};
    s_list_t new_a = {0}, new_b = {0};
    int rc = blocks ? s_score_pairs(db, tenant_id, blocks, threshold, &keep) : -1;
    if (blocks)
        PQclear(blocks);
    if (rc == 0)
        rc = s_put_pairs(db, tenant_id, &keep, &new_a, &new_b);
    if (rc == 0) {
        char *a = s_list_array(&keep.a), *b = s_list_array(&keep.b);
        rc = dedupe_match_store_delete_stale(db, tenant_id, ids, a, b);
        free(a);
        free(b);
    }
    if (rc == 0)
        rc = s_publish(outbox, tenant_id, NULL, &keep, &new_a, &new_b, NULL);
    *pairs = (int)keep.a.n;
    free(ids);
    s_list_reset(&page_ids);
    s_pairs_reset(&keep);
    s_list_reset(&new_a);
    s_list_reset(&new_b);
    return rc;
}

int dedupe_match_regroup_all(crm_db_t *db, const char *tenant_id, int *groups) {
    PGresult *open = dedupe_match_store_open_pairs(db, tenant_id, NULL);
    if (!open)
        return -1;
    int rc = s_regroup(db, tenant_id, NULL, open, NULL, NULL, NULL);
    PQclear(open);
    if (rc == 0)
        *groups = dedupe_match_store_open_groups(db, tenant_id);
    return rc == 0 && *groups >= 0 ? 0 : -1;
}
