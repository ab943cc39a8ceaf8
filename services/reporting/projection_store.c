/*  projection_store: the projection's SQL: contact facts, daily counts, dirty days and
    the run log, written from a batch of changes.

    Applying a batch costs a fixed number of statements whatever its size: one read of
    the batch's facts (array parameters), the differences worked out here, then one
    upsert each for the facts, the daily counts and the dirty days (unnest of arrays).
*/
#include "reporting.h"
#include "log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

//  --- Array parameters -----------------------------------------------------------------

//  A PostgreSQL array literal built item by item: {"a","b",NULL}.
typedef struct {
    char *data;
    size_t len, cap;
    size_t n;
} s_array_t;

static void s_array_reserve(s_array_t *a, size_t more) {
    if (a->len + more + 2 <= a->cap)
        return;
    a->cap = (a->len + more + 2) * 2;
    a->data = realloc(a->data, a->cap);
    assert(a->data);
}

//  Append an item; NULL is SQL NULL.
static void s_array_add(s_array_t *a, const char *item) {
    size_t size = item ? 2 * strlen(item) + 3 : 4;
    s_array_reserve(a, size + 2);
    a->data[a->len++] = a->n++ ? ',' : '{';
    if (!item) {
        memcpy(a->data + a->len, "NULL", 4);
        a->len += 4;
        return;
    }
    a->data[a->len++] = '"';
    for (const char *c = item; *c; c++) {
        if (*c == '"' || *c == '\\')
            a->data[a->len++] = '\\';
        a->data[a->len++] = *c;
    }
    a->data[a->len++] = '"';
}

static void s_array_add_int(s_array_t *a, int64_t value) {
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, value);
    s_array_add(a, text);
}

//  The finished literal (owned by a).
static const char *s_array_text(s_array_t *a) {
    s_array_reserve(a, 2);
    if (a->n == 0)
        a->data[a->len++] = '{';
    a->data[a->len] = '}';
    a->data[a->len + 1] = 0;
    return a->data;
}

static void s_array_free(s_array_t *a) {
    free(a->data);
    memset(a, 0, sizeof *a);
}

//  --- Applying changes -------------------------------------------------------------------

static const crm_stmt_t s_facts_load = {
    .name = "reporting_facts_load",
    //  One key lookup per contact (LATERAL), planned for each batch: a plan made once,
    //  while the table was small, hashes the whole table for every batch once it is
    //  large (catch-up fell from 40,000 to 15,000 events/s over a million events).
    .sql = "SELECT k.i - 1, coalesce(f.day::text, ''), f.source, f.type, f.deleted"
           " FROM unnest($1::text[], $2::uuid[]) WITH ORDINALITY AS k(tenant_id, contact_id, i)"
           " CROSS JOIN LATERAL (SELECT day, source, type, deleted FROM contact_facts c"
           "  WHERE c.tenant_id = k.tenant_id AND c.contact_id = k.contact_id) f",
    .nparams = 2,
    .custom_plan = true, // planned for the batch at hand: see s_facts_load
};

//  The facts of a batch as the three statements below take them: seven arrays, one
//  element per contact (s_facts_run binds them).
#define S_FACT_ROWS                                                                           \
    "unnest($1::text[], $2::uuid[], $3::date[], $4::text[], $5::text[], $6::bool[],"          \
    " $7::bigint[])"

//  First, the facts of contacts the batch knows the state of are inserted where none is
//  held yet: one index descent each, and most events are creates. The ones that come
//  back were new; the rest are read and updated.
static const crm_stmt_t s_facts_insert_new = {
    .name = "reporting_facts_insert_new",
    .sql = "INSERT INTO contact_facts AS f (tenant_id, contact_id, day, source, type, deleted,"
           "                               seq)"
           " SELECT * FROM " S_FACT_ROWS
           " ON CONFLICT (tenant_id, contact_id) DO NOTHING"
           " RETURNING f.tenant_id, f.contact_id::text",
    .nparams = 7,
    .writes = true,
};

//  Facts of contacts known only by a deletion, not held yet.
static const crm_stmt_t s_facts_insert = {
    .name = "reporting_facts_insert",
    .sql = "INSERT INTO contact_facts (tenant_id, contact_id, day, source, type, deleted, seq)"
           " SELECT * FROM " S_FACT_ROWS,
    .nparams = 7,
    .writes = true,
};

static const crm_stmt_t s_facts_update = {
    .name = "reporting_facts_update",
    .sql = "UPDATE contact_facts f SET day = k.day, source = k.source, type = k.type,"
           "  deleted = k.deleted, seq = k.seq"
           " FROM " S_FACT_ROWS " AS k(tenant_id, contact_id, day, source, type, deleted, seq)"
           " WHERE f.tenant_id = k.tenant_id AND f.contact_id = k.contact_id",
    .nparams = 7,
    .writes = true,
    .custom_plan = true, // planned for the batch at hand: see s_facts_load
};

static const crm_stmt_t s_daily_add = {
    .name = "reporting_daily_add",
    .sql = "INSERT INTO contacts_daily AS d (tenant_id, day, source, type, count)"
           " SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::bigint[])"
           " ON CONFLICT (tenant_id, day, source, type)"
           " DO UPDATE SET count = d.count + excluded.count",
    .nparams = 5,
    .writes = true,
};

//  Counts that fell to zero go, so the table holds only what exists.
static const crm_stmt_t s_daily_prune = {
    .name = "reporting_daily_prune",
    .sql = "DELETE FROM contacts_daily d"
           " USING unnest($1::text[], $2::date[], $3::text[], $4::text[]) AS k(t, dy, s, ty)"
           " WHERE d.tenant_id = k.t AND d.day = k.dy AND d.source = k.s AND d.type = k.ty"
           "   AND d.count = 0",
    .nparams = 4,
    .writes = true,
    .custom_plan = true, // planned for the batch at hand: see s_facts_load
};

static const crm_stmt_t s_dirty_mark = {
    .name = "reporting_dirty_mark",
    .sql = "INSERT INTO dirty_days (tenant_id, day)"
           " SELECT * FROM unnest($1::text[], $2::date[]) ON CONFLICT DO NOTHING",
    .nparams = 2,
    .writes = true,
};

static const crm_stmt_t s_run_log = {
    .name = "reporting_run_log",
    .sql = "WITH ext AS ("
           "  UPDATE applied_runs SET last_seq = $3::bigint, batches = batches + 1"
           "  WHERE id = (SELECT max(id) FROM applied_runs WHERE source = $1)"
           "    AND last_seq = $2::bigint - 1 RETURNING 1)"
           " INSERT INTO applied_runs (source, first_seq, last_seq)"
           " SELECT $1, $2::bigint, $3::bigint WHERE NOT EXISTS (SELECT 1 FROM ext)",
    .nparams = 3,
    .writes = true,
};

//  What the projection held for a contact before the batch.
typedef struct {
    bool known;
    bool deleted;
    char day[12];
    char source[32];
    char type[32];
} s_fact_t;

//  The net change of one daily count.
typedef struct {
    const char *tenant_id;
    const char *day;
    const char *source;
    const char *type;
    int64_t delta;
} s_delta_t;

static void s_delta_free(void **item) {
    free(*item);
    *item = NULL;
}

static void s_delta_add(zhashx_t *deltas, const char *tenant_id, const char *day,
                        const char *source, const char *type, int64_t delta) {
    char *key = zsys_sprintf("%s\x1f%s\x1f%s\x1f%s", tenant_id, day, source, type);
    s_delta_t *d = zhashx_lookup(deltas, key);
    if (!d) {
        d = calloc(1, sizeof *d);
        assert(d);
        *d = (s_delta_t){tenant_id, day, source, type, 0};
        zhashx_insert(deltas, key, d);
    }
    d->delta += delta;
    zstr_free(&key);
}

//  changes[0..n) reduced to one final change per contact, in first-seen order.
static reporting_change_t *s_reduce(const reporting_change_t *changes, size_t n, size_t *m) {
    reporting_change_t *final = malloc(n * sizeof *final);
    assert(final);
    zhashx_t *index = zhashx_new();
    *m = 0;
    for (size_t i = 0; i < n; i++) {
        const reporting_change_t *c = &changes[i];
        char *key = zsys_sprintf("%s\x1f%s", c->tenant_id, c->contact_id);
        uintptr_t at = (uintptr_t)zhashx_lookup(index, key);
        if (!at) {
            final[*m] = *c;
            zhashx_insert(index, key, (void *)(uintptr_t)(*m + 1));
            (*m)++;
        } else if (c->state_known)
            final[at - 1] = *c;
        else { // a deletion keeps what the batch knew of the contact
            final[at - 1].deleted = true;
            final[at - 1].seq = c->seq;
        }
        zstr_free(&key);
    }
    zhashx_destroy(&index);
    return final;
}

//  The facts held for final[0..m), by position. -1 when the read failed.
static int s_facts_load_all(crm_db_t *db, const reporting_change_t *final, size_t m,
                            s_fact_t *old) {
    s_array_t tenants = {0}, ids = {0};
    for (size_t i = 0; i < m; i++) {
        s_array_add(&tenants, final[i].tenant_id);
        s_array_add(&ids, final[i].contact_id);
    }
    const char *params[] = {s_array_text(&tenants), s_array_text(&ids)};
    PGresult *res = crm_db_query(db, &s_facts_load, params);
    s_array_free(&tenants);
    s_array_free(&ids);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        size_t i = strtoul(PQgetvalue(res, r, 0), NULL, 10);
        if (i >= m)
            continue;
        s_fact_t *f = &old[i];
        f->known = true;
        snprintf(f->day, sizeof f->day, "%s", PQgetvalue(res, r, 1));
        snprintf(f->source, sizeof f->source, "%s", PQgetvalue(res, r, 2));
        snprintf(f->type, sizeof f->type, "%s", PQgetvalue(res, r, 3));
        f->deleted = PQgetvalue(res, r, 4)[0] == 't';
    }
    PQclear(res);
    return 0;
}

//  Run a write statement whose result is of no interest.
//  Write the daily deltas (non-zero ones), prune what fell to zero, mark dirty days.
static int s_daily_write(crm_db_t *db, zhashx_t *deltas) {
    s_array_t t = {0}, d = {0}, s = {0}, ty = {0}, c = {0};
    s_array_t pt = {0}, pd = {0}, ps = {0}, pty = {0};
    s_array_t dt = {0}, dd = {0};
    zhashx_t *dirty = zhashx_new();
    for (s_delta_t *x = zhashx_first(deltas); x; x = zhashx_next(deltas)) {
        if (x->delta == 0)
            continue;
        s_array_add(&t, x->tenant_id);
        s_array_add(&d, x->day);
        s_array_add(&s, x->source);
        s_array_add(&ty, x->type);
        s_array_add_int(&c, x->delta);
        if (x->delta < 0) {
            s_array_add(&pt, x->tenant_id);
            s_array_add(&pd, x->day);
            s_array_add(&ps, x->source);
            s_array_add(&pty, x->type);
        }
        char *key = zsys_sprintf("%s\x1f%s", x->tenant_id, x->day);
        if (!zhashx_lookup(dirty, key)) {
            zhashx_insert(dirty, key, (void *)1);
            s_array_add(&dt, x->tenant_id);
            s_array_add(&dd, x->day);
        }
        zstr_free(&key);
    }
    int rc = 0;
    if (t.n) {
        const char *add[] = {s_array_text(&t), s_array_text(&d), s_array_text(&s),
                             s_array_text(&ty), s_array_text(&c)};
        const char *mark[] = {s_array_text(&dt), s_array_text(&dd)};
        rc = crm_db_run(db, &s_daily_add, add) || crm_db_run(db, &s_dirty_mark, mark) ? -1 : 0;
    }
    if (rc == 0 && pt.n) {
        const char *prune[] = {s_array_text(&pt), s_array_text(&pd), s_array_text(&ps),
                               s_array_text(&pty)};
        rc = crm_db_run(db, &s_daily_prune, prune);
    }
    s_array_t *all[] = {&t, &d, &s, &ty, &c, &pt, &pd, &ps, &pty, &dt, &dd};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        s_array_free(all[i]);
    zhashx_destroy(&dirty);
    return rc;
}

//  Add to cols (7 columns) the fact row of change f.
static void s_fact_row(s_array_t *cols, const reporting_change_t *f) {
    s_array_add(&cols[0], f->tenant_id);
    s_array_add(&cols[1], f->contact_id);
    s_array_add(&cols[2], f->day[0] ? f->day : NULL);
    s_array_add(&cols[3], f->source);
    s_array_add(&cols[4], f->type);
    s_array_add(&cols[5], f->deleted ? "t" : "f");
    s_array_add_int(&cols[6], (int64_t)f->seq);
}

//  Run a 7-column fact statement over cols; its result (caller clears) or NULL.
static PGresult *s_facts_run(crm_db_t *db, const crm_stmt_t *stmt, s_array_t *cols) {
    const char *params[7];
    for (int k = 0; k < 7; k++)
        params[k] = s_array_text(&cols[k]);
    return crm_db_query(db, stmt, params);
}

//  Insert the facts of final[0..m) whose state is known where none is held; set
//  inserted[i] for those. -1 when the statement failed.
static int s_facts_insert_known(crm_db_t *db, const reporting_change_t *final, size_t m,
                                bool *inserted) {
    s_array_t cols[7];
    memset(cols, 0, sizeof cols);
    zhashx_t *where = zhashx_new();
    for (size_t i = 0; i < m; i++) {
        if (!final[i].state_known)
            continue;
        s_fact_row(cols, &final[i]);
        char *key = zsys_sprintf("%s\x1f%s", final[i].tenant_id, final[i].contact_id);
        zhashx_insert(where, key, (void *)(uintptr_t)(i + 1));
        zstr_free(&key);
    }
    int rc = 0;
    if (cols[0].n > 0) {
        PGresult *res = s_facts_run(db, &s_facts_insert_new, cols);
        if (!res)
            rc = -1;
        for (int r = 0; res && r < PQntuples(res); r++) {
            char *key = zsys_sprintf("%s\x1f%s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
            uintptr_t at = (uintptr_t)zhashx_lookup(where, key);
            if (at)
                inserted[at - 1] = true;
            zstr_free(&key);
        }
        PQclear(res);
    }
    zhashx_destroy(&where);
    for (int k = 0; k < 7; k++)
        s_array_free(&cols[k]);
    return rc;
}

int reporting_store_apply(crm_db_t *db, const reporting_change_t *changes, size_t n) {
    if (n == 0)
        return 0;
    size_t m = 0;
    reporting_change_t *final = s_reduce(changes, n, &m);
    bool *inserted = calloc(m, sizeof *inserted);
    s_fact_t *old = calloc(m, sizeof *old);
    reporting_change_t *rest = malloc(m * sizeof *rest); // the ones not inserted
    size_t *rest_at = malloc(m * sizeof *rest_at);
    assert(inserted && old && rest && rest_at);
    int rc = s_facts_insert_known(db, final, m, inserted);
    size_t r = 0;
    for (size_t i = 0; i < m; i++)
        if (!inserted[i]) {
            rest[r] = final[i];
            rest_at[r++] = i;
        }
    s_fact_t *rest_old = calloc(r ? r : 1, sizeof *rest_old);
    assert(rest_old);
    if (rc == 0 && r > 0)
        rc = s_facts_load_all(db, rest, r, rest_old);
    for (size_t k = 0; k < r; k++)
        old[rest_at[k]] = rest_old[k];
    free(rest_old);
    free(rest);
    free(rest_at);
    zhashx_t *deltas = zhashx_new();
    zhashx_set_destructor(deltas, s_delta_free);
    //  The facts still to write, as columns: [0] new ones (known by a deletion only),
    //  [1] held ones.
    s_array_t cols[2][7];
    memset(cols, 0, sizeof cols);
    for (size_t i = 0; rc == 0 && i < m; i++) {
        reporting_change_t *f = &final[i];
        const s_fact_t *o = &old[i];
        //  The new state: what the change says, or, for a deletion alone, what was held.
        if (!f->state_known) {
            snprintf(f->day, sizeof f->day, "%s", o->known ? o->day : "");
            snprintf(f->source, sizeof f->source, "%s", o->known ? o->source : "");
            snprintf(f->type, sizeof f->type, "%s", o->known ? o->type : "");
        }
        bool old_counts = o->known && !o->deleted && o->day[0];
        bool new_counts = !f->deleted && f->day[0];
        bool same = old_counts && new_counts && strcmp(o->day, f->day) == 0 &&
                    strcmp(o->source, f->source) == 0 && strcmp(o->type, f->type) == 0;
        if (!same) {
            if (old_counts)
                s_delta_add(deltas, f->tenant_id, o->day, o->source, o->type, -1);
            if (new_counts)
                s_delta_add(deltas, f->tenant_id, f->day, f->source, f->type, +1);
        }
        if (!inserted[i])
            s_fact_row(cols[o->known], f);
    }
    for (int known = 0; known < 2 && rc == 0; known++) {
        if (cols[known][0].n == 0)
            continue;
        PGresult *res = s_facts_run(db, known ? &s_facts_update : &s_facts_insert, cols[known]);
        rc = res ? 0 : -1;
        PQclear(res);
    }
    //  The deltas point into final and old: write them before those go.
    if (rc == 0)
        rc = s_daily_write(db, deltas);
    for (int known = 0; known < 2; known++)
        for (int k = 0; k < 7; k++)
            s_array_free(&cols[known][k]);
    zhashx_destroy(&deltas);
    free(inserted);
    free(old);
    free(final);
    return rc;
}

int reporting_store_log_run(crm_db_t *db, const char *source, uint64_t first, uint64_t last) {
    char first_text[24], last_text[24];
    snprintf(first_text, sizeof first_text, "%" PRIu64, first);
    snprintf(last_text, sizeof last_text, "%" PRIu64, last);
    const char *params[] = {source, first_text, last_text};
    return crm_db_run(db, &s_run_log, params);
}

