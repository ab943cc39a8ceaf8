/*  growth_store: the contact growth report's SQL (growth.c holds its rules).
 */
#include "reporting.h"
#include "log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

//  --- Growth report --------------------------------------------------------------------

//  Every day of the range (generate_series: days without contacts too), with the sum
//  under each key of the grouping ('' when not grouped); a day without contacts has
//  one row with a NULL key.
static const crm_stmt_t s_growth = {
    .name = "reporting_growth",
    .sql = "SELECT to_char(g.day, 'YYYY-MM-DD'), d.key, sum(d.count)"
           " FROM (SELECT $2::date + i AS day"
           "       FROM generate_series(0, $3::date - $2::date) AS i) g"
           " LEFT JOIN (SELECT day, CASE $4 WHEN 'source' THEN source WHEN 'type' THEN type"
           "                        ELSE '' END AS key, count"
           "            FROM contacts_daily"
           "            WHERE tenant_id = $1 AND day BETWEEN $2::date AND $3::date) d"
           "  ON d.day = g.day"
           " GROUP BY g.day, d.key ORDER BY g.day, d.key",
    .nparams = 4,
};

static int s_key_compare(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static Crm__Reporting__Count *s_count_new(const char *key, uint32_t count) {
    Crm__Reporting__Count *c = malloc(sizeof *c);
    assert(c);
    crm__reporting__count__init(c);
    c->key = strdup(key);
    c->count = count;
    return c;
}

int reporting_growth_store_read(crm_call_t *call, const char *from, const char *to,
                                const char *group_by,
                                Crm__Reporting__ContactsGrowthResponse **out) {
    const char *params[] = {call->header->tenant_id, from, to, group_by};
    PGresult *res = crm_db_query(call->db, &s_growth, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    bool grouped = group_by[0] != 0;
    //  The keys of the range, sorted ('' is shown as "unknown").
    const char **keys = calloc(rows + 1, sizeof *keys);
    size_t n_keys = 0;
    for (int r = 0; grouped && r < rows; r++) {
        if (PQgetisnull(res, r, 1))
            continue;
        const char *key = PQgetvalue(res, r, 1);
        if (!key[0])
            key = "unknown";
        bool seen = false;
        for (size_t k = 0; k < n_keys && !seen; k++)
            seen = strcmp(keys[k], key) == 0;
        if (!seen)
            keys[n_keys++] = key;
    }
    qsort(keys, n_keys, sizeof *keys, s_key_compare);

    Crm__Reporting__ContactsGrowthResponse *g = malloc(sizeof *g);
    crm__reporting__contacts_growth_response__init(g);
    g->from = strdup(from);
    g->to = strdup(to);
    g->group_by = strdup(group_by);
    g->days = calloc(rows + 1, sizeof *g->days);
    uint64_t *totals = calloc(n_keys + 1, sizeof *totals);
    Crm__Reporting__ContactsGrowthDay *day = NULL;
    for (int r = 0; r < rows; r++) {
        const char *date = PQgetvalue(res, r, 0);
        if (!day || strcmp(day->day, date) != 0) {
            day = malloc(sizeof *day);
            crm__reporting__contacts_growth_day__init(day);
            day->day = strdup(date);
            if (n_keys) {
                day->counts = calloc(n_keys, sizeof *day->counts);
                for (size_t k = 0; k < n_keys; k++)
                    day->counts[day->n_counts++] = s_count_new(keys[k], 0);
            }
            g->days[g->n_days++] = day;
        }
        if (PQgetisnull(res, r, 1))
            continue;
        uint32_t count = (uint32_t)strtoul(PQgetvalue(res, r, 2), NULL, 10);
        day->total += count;
        g->total += count;
        const char *key = PQgetvalue(res, r, 1);
        if (!key[0])
            key = "unknown";
        for (size_t k = 0; grouped && k < n_keys; k++)
            if (strcmp(keys[k], key) == 0) {
                day->counts[k]->count += count;
                totals[k] += count;
            }
    }
    if (n_keys) {
        g->totals = calloc(n_keys, sizeof *g->totals);
        for (size_t k = 0; k < n_keys; k++)
            g->totals[g->n_totals++] = s_count_new(keys[k], (uint32_t)totals[k]);
    }
    free(totals);
    free(keys);
    PQclear(res);
    *out = g;
    return 200;
}
