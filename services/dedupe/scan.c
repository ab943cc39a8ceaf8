/*  scan: the scan job and the review list's methods, each read top to bottom: check,
    store (scan_store.c; matching in match.c), answer.

    A scan (POST /v1/duplicates/scans) is a row of the scans table worked by the scan job
    (main.c's job table: a runner thread with a connection of its own, so a scan never
    holds up the requests the daemon serves). A step claims the oldest scan queued or
    running (FOR UPDATE SKIP LOCKED: several dedupe processes share the work, never the
    same scan at once) and, in one transaction, matches one page of the tenant's
    contacts (id order) with the contacts of their blocks after them, keeps the pairs,
    and moves the scan's cursor past them; after the last page it makes the tenant's
    groups again from the open pairs, and the scan has succeeded. A step rolled back is
    done again; a pair kept twice is one row.

    The review list (GET /v1/duplicates) pages the groups best score first; a dismissal
    (POST /v1/duplicates/{id}/dismiss) marks the group and its pairs dismissed: a scan
    keeps a dismissed pair dismissed while neither contact has changed (the pair's
    fingerprints), and a change to either (follow.c) makes the pair anew.
*/
#include "scan_store.h"
#include "ids.h"
#include "log.h"
#include "page.h"

#include <stdlib.h>
#include <string.h>

#define SCAN_IDLE_MS 500
//  Contacts matched in one step (one transaction). A page reads the entries of every
//  contact in its blocks (some 25 a contact at a million contacts, 10 KiB each, kept in
//  a buffer of the thread's: match.c), so the page is what bounds the daemon's memory.
#define SCAN_PAGE 100

int dedupe_scan_period_ms(const crm_config_t *cfg) {
    (void)cfg;
    return SCAN_IDLE_MS;
}

crm_step_result_t dedupe_scan_step(crm_step_t *step) {
    crm_db_t *db = step->db;
    if (crm_db_begin(db))
        return CRM_STEP_FAILED;
    dedupe_claimed_scan_t scan;
    int claimed = dedupe_scan_store_claim(db, &scan);
    if (claimed <= 0) {
        crm_db_rollback(db);
        return claimed == 0 ? CRM_STEP_IDLE : CRM_STEP_FAILED;
    }
    int rc = scan.queued ? dedupe_scan_store_start(db, &scan) : 0;
    crm_outbox_t *outbox = crm_outbox_new();
    double threshold = step->cfg->dedupe_check_threshold / 100.0;
    int processed = 0, pairs = 0, groups = 0;
    char last_id[40] = "";
    if (rc == 0)
        rc = dedupe_match_page(db, outbox, scan.tenant_id, scan.cursor, SCAN_PAGE, threshold,
                               &processed, last_id, &pairs);
    if (rc == 0 && processed > 0)
        rc = dedupe_scan_store_advance(db, &scan, last_id, processed, pairs);
    else if (rc == 0) {
        rc = dedupe_match_regroup_all(db, scan.tenant_id, &groups);
        if (rc == 0)
            rc = dedupe_scan_store_finish(db, &scan, groups);
    }
    size_t events = crm_outbox_size(outbox);
    if (rc == 0)
        rc = crm_outbox_write(outbox, db);
    crm_outbox_destroy(&outbox);
    if (rc == 0 && crm_db_commit(db) == 0) {
        step->events += (int)events;
        if (processed == 0)
            crm_log_kv(CRM_LOG_INFO, "scan finished", "scan", scan.id, "tenant", scan.tenant_id,
                       NULL);
        return CRM_STEP_WORKED;
    }
    crm_log_kv(CRM_LOG_WARN, "a scan's step failed; it will be tried again", "scan", scan.id,
               NULL);
    crm_db_rollback(db);
    return CRM_STEP_FAILED;
}

// --- methods ---------------------------------------------------------------------------------

//  StartScan: 202 with the new scan; 409 naming the one in progress.
int dedupe_scan_start(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response) {
    (void)request;
    char id[CRM_UUID_LEN + 1], running[40];
    crm_uuid_v7(id);
    Crm__Dedupe__DuplicateScan *scan = NULL;
    if (dedupe_scan_store_insert(call->db, call->header->tenant_id, id, call->header->actor_id,
                                 &scan, running))
        return crm_call_db_failure(call);
    if (!scan) {
        snprintf(call->conflict_id, sizeof call->conflict_id, "%s", running);
        crm_call_error(call, "scan_in_progress", "a scan of this tenant is in progress: %s",
                       running);
        return 409;
    }
    *response = &scan->base;
    return 202;
}

//  GetScan: a scan and its progress.
int dedupe_scan_get(crm_call_t *call, const ProtobufCMessage *request,
                    ProtobufCMessage **response) {
    const Crm__Dedupe__GetScanRequest *req = (const void *)request;
    Crm__Dedupe__DuplicateScan *scan = NULL;
    if (crm_uuid_valid(req->id) &&
        dedupe_scan_store_get(call->db, call->header->tenant_id, req->id, &scan))
        return crm_call_db_failure(call);
    if (!scan) {
        crm_call_error(call, "not_found", "no such scan");
        return 404;
    }
    *response = &scan->base;
    return 200;
}

static const char *const s_statuses[] = {"open", "dismissed", "merged", NULL};

//  ListDuplicates: the review list, best score first.
int dedupe_duplicates_list(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    const Crm__Dedupe__ListDuplicatesRequest *req = (const void *)request;
    const char *status = req->status[0] ? req->status : "open";
    bool known = false;
    for (size_t i = 0; s_statuses[i]; i++)
        known |= strcmp(status, s_statuses[i]) == 0;
    if (!known)
        crm_call_field_error(call, "status", "must be one of open, dismissed, merged");
    if (req->contact_id[0] && !crm_uuid_valid(req->contact_id))
        crm_call_field_error(call, "contactId", "is not a contact id");
    int limit = crm_page_limit(call, "limit", req->limit, CRM_PAGE_DEFAULT_LIMIT,
                               CRM_PAGE_MAX_LIMIT);
    crm_cursor_t cursor = {0};
    if (req->cursor[0] && crm_cursor_decode(req->cursor, 'g', &cursor))
        crm_call_field_error(call, "cursor", "is not a cursor of this list");
    if (call->errors.n)
        return 422;
    Crm__Dedupe__ListDuplicatesResponse *out = malloc(sizeof *out);
    assert(out);
    crm__dedupe__list_duplicates_response__init(out);
    if (dedupe_group_store_list(call->db, call->header->tenant_id, status, req->contact_id,
                                req->cursor[0] ? &cursor : NULL, limit, out)) {
        crm__dedupe__list_duplicates_response__free_unpacked(out, NULL);
        return crm_call_db_failure(call);
    }
    *response = &out->base;
    return 200;
}

//  GetDuplicate: one group of the review list.
int dedupe_duplicate_get(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__Dedupe__GetDuplicateRequest *req = (const void *)request;
    Crm__Dedupe__DuplicateGroup *group = NULL;
    if (crm_uuid_valid(req->id) &&
        dedupe_group_store_get(call->db, call->header->tenant_id, req->id, &group))
        return crm_call_db_failure(call);
    if (!group) {
        crm_call_error(call, "not_found", "no such duplicate group");
        return 404;
    }
    *response = &group->base;
    return 200;
}

//  DismissDuplicate: an open group dismissed (one dismissed already answers as it is); a
//  merged one cannot be.
int dedupe_duplicate_dismiss(crm_call_t *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response) {
    const Crm__Dedupe__DismissDuplicateRequest *req = (const void *)request;
    const char *tenant = call->header->tenant_id;
    Crm__Dedupe__DuplicateGroup *group = NULL;
    if (crm_uuid_valid(req->id) && dedupe_group_store_get(call->db, tenant, req->id, &group))
        return crm_call_db_failure(call);
    if (!group) {
        crm_call_error(call, "not_found", "no such duplicate group");
        return 404;
    }
    bool merged = strcmp(group->status, "merged") == 0, open = strcmp(group->status, "open") == 0;
    crm__dedupe__duplicate_group__free_unpacked(group, NULL);
    if (merged) {
        crm_call_error(call, "already_merged", "the group's contacts were merged");
        return 409;
    }
    if (open && dedupe_group_store_dismiss(call->db, tenant, req->id, call->header->actor_id))
        return crm_call_db_failure(call);
    group = NULL;
    if (dedupe_group_store_get(call->db, tenant, req->id, &group) || !group)
        return crm_call_db_failure(call);
    *response = &group->base;
    return 200;
}
