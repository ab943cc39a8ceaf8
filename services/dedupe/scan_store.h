/*  scan_store: the SQL of scans and of the review list, for scan.c. 0 or -1 (failed). */
#ifndef DEDUPE_SCAN_STORE_H
#define DEDUPE_SCAN_STORE_H

#include "dedupe.h"
#include "page.h"

//  A new queued scan (*out, caller frees); or, when one is queued or running already,
//  *out NULL and its id in running_id.
int dedupe_scan_store_insert(crm_db_t *db, const char *tenant_id, const char *id,
                             const char *actor_id, Crm__Dedupe__DuplicateScan **out,
                             char running_id[40]);
//  The scan (*out NULL when the tenant has none of that id).
int dedupe_scan_store_get(crm_db_t *db, const char *tenant_id, const char *id,
                          Crm__Dedupe__DuplicateScan **out);

//  The scan a job step works on, locked for its transaction.
typedef struct {
    char tenant_id[128];
    char id[40];
    bool queued;    // not started yet
    char cursor[40]; // the last contact done ("": none)
} dedupe_claimed_scan_t;
//  Claim the oldest scan queued or running that no other process holds: 1, 0 (none), -1.
int dedupe_scan_store_claim(crm_db_t *db, dedupe_claimed_scan_t *scan);
int dedupe_scan_store_start(crm_db_t *db, const dedupe_claimed_scan_t *scan);
int dedupe_scan_store_advance(crm_db_t *db, const dedupe_claimed_scan_t *scan,
                              const char *cursor, int processed, int pairs);
int dedupe_scan_store_finish(crm_db_t *db, const dedupe_claimed_scan_t *scan, int groups);

//  A page of the groups of status (best score first), into out.
int dedupe_group_store_list(crm_db_t *db, const char *tenant_id, const char *status,
                            const char *contact_id, const crm_cursor_t *cursor, int limit,
                            Crm__Dedupe__ListDuplicatesResponse *out);
//  One group (*out NULL when none).
int dedupe_group_store_get(crm_db_t *db, const char *tenant_id, const char *id,
                           Crm__Dedupe__DuplicateGroup **out);
//  Dismiss an open group and its pairs (nothing for one not open).
int dedupe_group_store_dismiss(crm_db_t *db, const char *tenant_id, const char *id,
                               const char *actor_id);

#endif
