/*  snapshot_store: the SQL of the "Snapshot" method (snapshot.c holds the rules,
    snapshot_methods.c the method): every contact of every tenant in pages, for
    services that rebuild a projection of contacts when the events it would replay are
    past the retention (reporting's Rebuild).

    A page is one statement: the contacts after the cursor in (tenant_id, id) order (the
    primary key's order, so each page is an index range) and outbox_state.last_seq, read
    in the same snapshot. Every event numbered up to that seq was committed before the
    snapshot was taken, so the page already reflects it: a consumer loads the pages,
    then follows the events after the first page's watermark_seq. Later pages are read
    later and so are at least as new; a consumer whose apply sets state (rather than
    adding to it) ends exact once it has applied every event after the watermark.
*/
#include "contacts.h"

#include <stdlib.h>
#include <string.h>

//  The LEFT JOIN keeps one row (with the watermark) when no contact is left.
static const crm_stmt_t s_page = {
    .name = "contacts_snapshot_page",
    .sql = "SELECT (SELECT last_seq FROM outbox_state WHERE id = 1), c.tenant_id, c.id::text,"
           "  c.type, c.source, " CONTACTS_TS("c.created_at") ", c.deleted_at IS NOT NULL"
           " FROM (SELECT 1) one LEFT JOIN LATERAL ("
           "  SELECT * FROM contacts WHERE (tenant_id, id) > ($1, $2::uuid)"
           "  ORDER BY tenant_id, id LIMIT $3::int) c ON true",
    .nparams = 3,
};

int contacts_snapshot_store_page(crm_call_t *call, const char *after_tenant_id,
                                 const char *after_id, int limit,
                                 Crm__Contacts__SnapshotResponse **page) {
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *params[] = {
        after_tenant_id,
        after_id[0] ? after_id : "00000000-0000-0000-0000-000000000000", limit_text};
    PGresult *res = crm_db_query(call->db, &s_page, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    Crm__Contacts__SnapshotResponse *out = malloc(sizeof *out);
    crm__contacts__snapshot_response__init(out);
    out->watermark_seq = rows ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    int n = rows > limit ? limit : rows;
    out->more = rows > limit;
    out->items = n > 0 ? calloc((size_t)n, sizeof *out->items) : NULL;
    for (int i = 0; i < n; i++) {
        if (PQgetisnull(res, i, 1)) // the LEFT JOIN's empty row
            continue;
        Crm__Contacts__SnapshotItem *item = malloc(sizeof *item);
        crm__contacts__snapshot_item__init(item);
        item->tenant_id = strdup(PQgetvalue(res, i, 1));
        item->id = strdup(PQgetvalue(res, i, 2));
        item->type = strdup(PQgetvalue(res, i, 3));
        item->source = strdup(PQgetvalue(res, i, 4));
        item->created_at = strdup(PQgetvalue(res, i, 5));
        item->deleted = PQgetvalue(res, i, 6)[0] == 't';
        out->items[out->n_items++] = item;
    }
    PQclear(res);
    *page = out;
    return 200;
}
