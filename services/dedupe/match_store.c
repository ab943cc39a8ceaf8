/*  match_store: the SQL of matching (match.c): the pairs a set of contacts' blocking keys
    make, their entries, the pairs table and the groups table. Every statement is the
    tenant's; arrays go as text[] literals (crm_db_text_array).
*/
#include "match_store.h"

#include <stdlib.h>
#include <string.h>

//  The pairs the blocks of the contacts $2 make (each with a contact sharing a key, blocks
//  of more than $4 contacts left out), the other side only after the contact when $3.
static const crm_stmt_t s_block_pairs = {
    .name = "dedupe_block_pairs",
    .sql = "SELECT DISTINCT k.contact_id::text, m.id::text FROM match_keys k"
           " CROSS JOIN LATERAL (SELECT array_agg(o.contact_id) AS ids FROM (SELECT contact_id"
           "  FROM match_keys o WHERE o.tenant_id = $1 AND o.key = k.key LIMIT $4::int + 1) o) blk"
           " CROSS JOIN LATERAL unnest(blk.ids) AS m(id)"
           " WHERE k.tenant_id = $1 AND k.contact_id = ANY($2::uuid[])"
           "  AND cardinality(blk.ids) <= $4::int AND m.id <> k.contact_id"
           "  AND (NOT $3::bool OR m.id > k.contact_id)",
    .nparams = 4};

static const crm_stmt_t s_entries = {
    .name = "dedupe_match_entries",
    .sql = "SELECT e.contact_id::text, " DEDUPE_ENTRY_COLUMNS " FROM entries e" DEDUPE_ENTRY_JOINS
           " WHERE e.tenant_id = $1 AND e.contact_id = ANY($2::uuid[]) ORDER BY e.contact_id",
    .nparams = 2};

static const crm_stmt_t s_page = {
    .name = "dedupe_scan_page",
    .sql = "SELECT e.contact_id::text FROM entries e WHERE e.tenant_id = $1"
           " AND e.contact_id > coalesce($2::uuid, '00000000-0000-0000-0000-000000000000')"
           " ORDER BY e.contact_id LIMIT $3::int", // the uuid's order: the index's
    .nparams = 3};

static const crm_stmt_t s_pairs_put = {
    .name = "dedupe_pairs_put",
    .sql = "INSERT INTO pairs AS p (tenant_id, a, b, score, match, fp_a, fp_b)"
           " SELECT $1, n.a, n.b, n.s, decode(n.m, 'hex'), n.fa, n.fb FROM unnest($2::uuid[],"
           "  $3::uuid[], $4::float8[], $5::text[], $6::text[], $7::text[]) AS n(a, b, s, m, fa, fb)"
           " ON CONFLICT (tenant_id, a, b) DO UPDATE SET score = EXCLUDED.score,"
           "  match = EXCLUDED.match, status = CASE WHEN p.status = 'dismissed'"
           "   AND p.fp_a = EXCLUDED.fp_a AND p.fp_b = EXCLUDED.fp_b THEN 'dismissed' ELSE 'open' END,"
           "  fp_a = EXCLUDED.fp_a, fp_b = EXCLUDED.fp_b"
           " RETURNING a::text, b::text, (xmax = 0) AS inserted",
    .nparams = 7,
    .writes = true};

static const crm_stmt_t s_pairs_stale = {
    .name = "dedupe_pairs_stale",
    .sql = "DELETE FROM pairs p WHERE p.tenant_id = $1 AND p.a = ANY($2::uuid[])"
           " AND p.status = 'open' AND NOT EXISTS (SELECT 1 FROM unnest($3::uuid[], $4::uuid[])"
           "  AS f(a, b) WHERE f.a = p.a AND f.b = p.b)",
    .nparams = 4,
    .writes = true};

static const crm_stmt_t s_pairs_of_delete = {
    .name = "dedupe_pairs_of_delete",
    .sql = "DELETE FROM pairs WHERE tenant_id = $1 AND (a = $2::uuid OR b = $2::uuid)",
    .nparams = 2,
    .writes = true};

//  The open pairs among the contacts around $2: it, its partners, and the members of the
//  open groups any of them is in.
static const crm_stmt_t s_pairs_around = {
    .name = "dedupe_pairs_around",
    .sql = "WITH s0 AS (SELECT $2::uuid AS id UNION SELECT CASE WHEN a = $2::uuid THEN b ELSE a END"
           "  FROM pairs WHERE tenant_id = $1 AND (a = $2::uuid OR b = $2::uuid) AND status = 'open'),"
           " s AS (SELECT id FROM s0 UNION SELECT unnest(g.member_ids) FROM groups g"
           "  WHERE g.tenant_id = $1 AND g.status = 'open'"
           "   AND g.member_ids && ARRAY(SELECT id FROM s0))"
           " SELECT p.a::text, p.b::text, p.score, encode(p.match, 'hex') FROM pairs p"
           " WHERE p.tenant_id = $1 AND p.status = 'open' AND p.a IN (SELECT id FROM s)"
           "  AND p.b IN (SELECT id FROM s)",
    .nparams = 2};

static const crm_stmt_t s_pairs_all = {
    .name = "dedupe_pairs_all",
    .sql = "SELECT a::text, b::text, score, encode(match, 'hex') FROM pairs"
           " WHERE tenant_id = $1 AND status = 'open'",
    .nparams = 1};

//  Write the groups ($2 ids, $3 members joined by commas, $4 scores, $5 bodies in hex)
//  and drop the open groups they replace: those with a member in $6 (NULL: every open
//  group of the tenant). A group found again keeps its id, its creation and (being open)
//  is open; one dismissed before whose pairs are open again (a member changed) reopens.
static const crm_stmt_t s_groups_put = {
    .name = "dedupe_groups_put",
    .sql = "WITH n AS (SELECT * FROM unnest($2::uuid[], $3::text[], $4::float8[], $5::text[])"
           "  AS n(id, members, score, body)),"
           " gone AS (DELETE FROM groups g WHERE g.tenant_id = $1 AND g.status = 'open'"
           "  AND ($6::uuid[] IS NULL OR g.member_ids && $6::uuid[])"
           "  AND g.id NOT IN (SELECT id FROM n))"
           " INSERT INTO groups AS g (tenant_id, id, status, member_ids, score, body)"
           " SELECT $1, n.id, 'open', string_to_array(n.members, ',')::uuid[], n.score,"
           "  decode(n.body, 'hex') FROM n"
           " ON CONFLICT (tenant_id, id) DO UPDATE SET status = 'open',"
           "  member_ids = EXCLUDED.member_ids, score = EXCLUDED.score, body = EXCLUDED.body,"
           "  updated_at = CASE WHEN g.status = 'open' AND g.body = EXCLUDED.body THEN g.updated_at"
           "   ELSE now() END,"
           "  dismissed_by = NULL, dismissed_at = NULL",
    .nparams = 6,
    .writes = true};

//  A merge done ($2: its survivor and merged ids): the groups of the review list (open or
//  dismissed) holding two or more of them are merged.
static const crm_stmt_t s_groups_merged = {
    .name = "dedupe_groups_merged",
    .sql = "UPDATE groups SET status = 'merged', updated_at = now()"
           " WHERE tenant_id = $1 AND status IN ('open', 'dismissed') AND member_ids && $2::uuid[]"
           "  AND (SELECT count(*) FROM unnest(member_ids) m WHERE m = ANY($2::uuid[])) >= 2",
    .nparams = 2,
    .writes = true};

static const crm_stmt_t s_groups_open = {
    .name = "dedupe_groups_open",
    .sql = "SELECT count(*) FROM groups WHERE tenant_id = $1 AND status = 'open'",
    .nparams = 1};

//  Queue a contact for matching (queue.c).
static const crm_stmt_t s_enqueue = {
    .name = "dedupe_queue_add",
    .sql = "INSERT INTO match_queue (tenant_id, contact_id) VALUES ($1, $2::uuid)",
    .nparams = 2,
    .writes = true};

//  The oldest $1 queued rows no other process holds, locked: each contact once (in the
//  order first queued), with the ids of every row taken (the same on each row).
static const crm_stmt_t s_queue_take = {
    .name = "dedupe_queue_take",
    .sql = "WITH t AS (SELECT id, tenant_id, contact_id FROM match_queue ORDER BY id"
           "  LIMIT $1::int FOR UPDATE SKIP LOCKED)"
           " SELECT tenant_id, contact_id::text, (SELECT array_agg(id) FROM t)::text FROM t"
           " GROUP BY tenant_id, contact_id ORDER BY min(id)",
    .nparams = 1,
    .writes = true};

static const crm_stmt_t s_queue_done = {
    .name = "dedupe_queue_done",
    .sql = "DELETE FROM match_queue WHERE id = ANY($1::bigint[])",
    .nparams = 1,
    .writes = true};

int dedupe_match_store_enqueue(crm_db_t *db, const char *tenant_id, const char *contact_id) {
    const char *params[] = {tenant_id, contact_id};
    return crm_db_run(db, &s_enqueue, params);
}

PGresult *dedupe_match_store_queue_take(crm_db_t *db, int limit) {
    char n[16];
    snprintf(n, sizeof n, "%d", limit);
    const char *params[] = {n};
    return crm_db_query(db, &s_queue_take, params);
}

int dedupe_match_store_queue_done(crm_db_t *db, const char *ids) {
    const char *params[] = {ids};
    return crm_db_run(db, &s_queue_done, params);
}

PGresult *dedupe_match_store_page(crm_db_t *db, const char *tenant_id, const char *after_id,
                                  int page) {
    char limit[16];
    snprintf(limit, sizeof limit, "%d", page);
    const char *params[] = {tenant_id, after_id && after_id[0] ? after_id : NULL, limit};
    return crm_db_query(db, &s_page, params);
}

PGresult *dedupe_match_store_block_pairs(crm_db_t *db, const char *tenant_id, const char *ids,
                                         bool after_only) {
    char block[16];
    snprintf(block, sizeof block, "%d", DEDUPE_BLOCK_MAX);
    const char *params[] = {tenant_id, ids, after_only ? "true" : "false", block};
    return crm_db_query(db, &s_block_pairs, params);
}

PGresult *dedupe_match_store_entries(crm_db_t *db, const char *tenant_id, const char *ids) {
    const char *params[] = {tenant_id, ids};
    return crm_db_query(db, &s_entries, params);
}

PGresult *dedupe_match_store_put_pairs(crm_db_t *db, const char *tenant_id,
                                       const dedupe_pair_rows_t *rows) {
    const char *params[] = {tenant_id, rows->a, rows->b, rows->score,
                            rows->match, rows->fp_a, rows->fp_b};
    return crm_db_query(db, &s_pairs_put, params);
}

int dedupe_match_store_delete_stale(crm_db_t *db, const char *tenant_id, const char *page_ids,
                                    const char *a, const char *b) {
    const char *params[] = {tenant_id, page_ids, a, b};
    return crm_db_run(db, &s_pairs_stale, params);
}

int dedupe_match_store_delete_pairs_of(crm_db_t *db, const char *tenant_id,
                                       const char *contact_id) {
    const char *params[] = {tenant_id, contact_id};
    return crm_db_run(db, &s_pairs_of_delete, params);
}

PGresult *dedupe_match_store_open_pairs(crm_db_t *db, const char *tenant_id, const char *around) {
    const char *params[] = {tenant_id, around};
    return around ? crm_db_query(db, &s_pairs_around, params)
                  : crm_db_query(db, &s_pairs_all, params);
}

int dedupe_match_store_put_groups(crm_db_t *db, const char *tenant_id, const char *ids,
                                  const char *members, const char *scores, const char *bodies,
                                  const char *replacing) {
    const char *params[] = {tenant_id, ids, members, scores, bodies, replacing};
    return crm_db_run(db, &s_groups_put, params);
}

int dedupe_match_store_open_groups(crm_db_t *db, const char *tenant_id) {
    const char *params[] = {tenant_id};
    PGresult *res = crm_db_query(db, &s_groups_open, params);
    if (!res)
        return -1;
    int n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

int dedupe_match_store_groups_merged(crm_db_t *db, const char *tenant_id, const char *ids) {
    const char *params[] = {tenant_id, ids};
    return crm_db_run(db, &s_groups_merged, params);
}
