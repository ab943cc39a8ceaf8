/*  match_store: the SQL of matching, for match.c (and scan.c's page). Results are the
    caller's to PQclear; NULL on failure. Arrays are text[] literals. */
#ifndef DEDUPE_MATCH_STORE_H
#define DEDUPE_MATCH_STORE_H

#include "dedupe.h"

//  The next page of contact ids after after_id ("" or NULL: from the start), id order.
PGresult *dedupe_match_store_page(crm_db_t *db, const char *tenant_id, const char *after_id,
                                  int page);
//  Rows (contact, other): the pairs the blocks of ids make (DEDUPE_BLOCK_MAX), with only
//  the contacts after each one when after_only.
PGresult *dedupe_match_store_block_pairs(crm_db_t *db, const char *tenant_id, const char *ids,
                                         bool after_only);
//  Rows (contact_id, DEDUPE_ENTRY_COLUMNS...) of ids, in id order.
PGresult *dedupe_match_store_entries(crm_db_t *db, const char *tenant_id, const char *ids);

//  Pairs to keep, as parallel array literals (a < b).
typedef struct {
    char *a, *b, *score, *match, *fp_a, *fp_b; // match: packed DuplicateMatch in hex
} dedupe_pair_rows_t;
//  Rows (a, b, inserted) of the pairs kept.
PGresult *dedupe_match_store_put_pairs(crm_db_t *db, const char *tenant_id,
                                       const dedupe_pair_rows_t *rows);
//  Drop the open pairs (a in page_ids) not among (a[i], b[i]).
int dedupe_match_store_delete_stale(crm_db_t *db, const char *tenant_id, const char *page_ids,
                                    const char *a, const char *b);
//  Drop every pair of a contact, dismissed or not.
int dedupe_match_store_delete_pairs_of(crm_db_t *db, const char *tenant_id,
                                       const char *contact_id);
//  Rows (a, b, score, match in hex) of the open pairs around one contact, or of the
//  whole tenant (around NULL).
PGresult *dedupe_match_store_open_pairs(crm_db_t *db, const char *tenant_id, const char *around);
//  Write groups and drop the open ones they replace (replacing NULL: all the tenant's).
int dedupe_match_store_put_groups(crm_db_t *db, const char *tenant_id, const char *ids,
                                  const char *members, const char *scores, const char *bodies,
                                  const char *replacing);
//  How many open groups the tenant has, or -1.
int dedupe_match_store_open_groups(crm_db_t *db, const char *tenant_id);

//  Mark merged the groups holding two or more of ids (a merge's survivor and merged ids,
//  a uuid[] literal).
int dedupe_match_store_groups_merged(crm_db_t *db, const char *tenant_id, const char *ids);

//  The live matching queue (queue.c): queue a contact; take the oldest limit rows no other
//  process holds (rows: tenant, contact once each, the taken rows' ids as a bigint[]
//  literal); delete the rows taken.
int dedupe_match_store_enqueue(crm_db_t *db, const char *tenant_id, const char *contact_id);
PGresult *dedupe_match_store_queue_take(crm_db_t *db, int limit);
int dedupe_match_store_queue_done(crm_db_t *db, const char *ids);

#endif
