/*  daily_store: the days whose figures changed, taken with their figures for
    reporting.ContactsDaily (daily.c publishes them).
*/
#include "reporting.h"
#include "log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

//  --- Publishing dirty days ------------------------------------------------------------

//  Takes the oldest dirty days (SKIP LOCKED: two processes never take the same) with
//  the figures of each; a day whose contacts are all gone comes with NULLs.
static const crm_stmt_t s_dirty_take = {
    .name = "reporting_dirty_take",
    .sql = "WITH picked AS ("
           "  DELETE FROM dirty_days WHERE (tenant_id, day) IN ("
           "    SELECT tenant_id, day FROM dirty_days ORDER BY day, tenant_id LIMIT $1::int"
           "    FOR UPDATE SKIP LOCKED)"
           "  RETURNING tenant_id, day)"
           " SELECT p.tenant_id, to_char(p.day, 'YYYY-MM-DD'), d.source, d.type, d.count"
           " FROM picked p LEFT JOIN contacts_daily d"
           "  ON d.tenant_id = p.tenant_id AND d.day = p.day AND d.count <> 0"
           " ORDER BY 1, 2",
    .nparams = 1,
    .writes = true,
};

//  Add count under key to a breakdown (a handful of keys: a linear search will do).
static void s_count_add(Crm__Events__Count ***counts, size_t *n, const char *key, int64_t count) {
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*counts)[i]->key, key) == 0) {
            (*counts)[i]->count += count;
            return;
        }
    *counts = realloc(*counts, (*n + 1) * sizeof **counts);
    Crm__Events__Count *c = malloc(sizeof *c);
    assert(*counts && c);
    crm__events__count__init(c);
    c->key = strdup(key);
    c->count = count;
    (*counts)[(*n)++] = c;
}

int reporting_store_take_dirty(crm_db_t *db, int limit, Crm__Events__ContactsDaily ***dailies,
                               char ***tenants, size_t *n) {
    *dailies = NULL;
    *tenants = NULL;
    *n = 0;
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *params[] = {limit_text};
    PGresult *res = crm_db_query(db, &s_dirty_take, params);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    Crm__Events__ContactsDaily *daily = NULL; // the current tenant's event
    Crm__Events__ContactsDay *day = NULL;     // the current day in it
    for (int r = 0; r < rows; r++) {
        const char *tenant = PQgetvalue(res, r, 0);
        const char *date = PQgetvalue(res, r, 1);
        if (!daily || strcmp((*tenants)[*n - 1], tenant) != 0) {
            *dailies = realloc(*dailies, (*n + 1) * sizeof **dailies);
            *tenants = realloc(*tenants, (*n + 1) * sizeof **tenants);
            daily = malloc(sizeof *daily);
            assert(*dailies && *tenants && daily);
            crm__events__contacts_daily__init(daily);
            (*dailies)[*n] = daily;
            (*tenants)[*n] = strdup(tenant);
            (*n)++;
            day = NULL;
        }
        if (!day || strcmp(day->day, date) != 0) {
            day = malloc(sizeof *day);
            daily->days = realloc(daily->days, (daily->n_days + 1) * sizeof *daily->days);
            assert(day && daily->days);
            crm__events__contacts_day__init(day);
            day->day = strdup(date);
            daily->days[daily->n_days++] = day;
        }
        if (PQgetisnull(res, r, 4))
            continue;
        const char *source = PQgetvalue(res, r, 2);
        int64_t count = strtoll(PQgetvalue(res, r, 4), NULL, 10);
        day->total += count;
        s_count_add(&day->by_source, &day->n_by_source, source[0] ? source : "unknown", count);
        s_count_add(&day->by_type, &day->n_by_type, PQgetvalue(res, r, 3), count);
    }
    PQclear(res);
    return 0;
}

void reporting_store_days_free(Crm__Events__ContactsDaily **dailies, char **tenants, size_t n) {
    for (size_t i = 0; i < n; i++) {
        crm__events__contacts_daily__free_unpacked(dailies[i], NULL);
        free(tenants[i]);
    }
    free(dailies);
    free(tenants);
}

