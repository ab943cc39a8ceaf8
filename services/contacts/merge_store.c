/*  merge_store: a merge's SQL and events (merge.h). Every statement runs in the caller's
    transaction (the request's batch), so a merge or an undo commits whole or not at all,
    whatever kills the daemon in between: the merged contacts tombstoned, their keys,
    notes and history moved or copied, the survivor written, the merge recorded and the
    events in the outbox, together.
*/
#include "merge.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define TS CONTACTS_TS

//  A merge as the API shows it (a Merge).
#define MERGE_JSON(m)                                                                         \
    "jsonb_build_object('id', " m ".id, 'survivorId', " m ".survivor_id,"                     \
    " 'mergedIds', to_jsonb(" m ".merged_ids), 'actorId', " m ".actor_id,"                    \
    " 'mergedAt', " TS(m ".merged_at") ", 'status', " m ".status,"                            \
    " 'undoUntil', " TS(m ".undo_until") ", 'undoneAt', " TS(m ".undone_at") ","              \
    " 'undoneBy', " m ".undone_by, 'choose', " m ".choose, 'sources', " m ".sources,"         \
    " 'counts', " m ".counts)::text"

//  The history entry copied from entry id (text) to the survivor $3: the same time part
//  of a UUIDv7 (so it sorts where the original does), the rest made from both ids.
#define HISTORY_COPY_ID(id) "(left(" id ", 24) || left(md5(" id " || $3), 12))::uuid"

//  $1 tenant, $2 ids: the contacts, locked in id order.
static const crm_stmt_t s_read = {
    .name = "merge_read",
    .sql = "SELECT c.id::text, " CONTACT_JSON("c") ", c.deleted_at IS NOT NULL,"
           " coalesce(c.merged_into::text, ''), coalesce(c.merge_id::text, ''), c.lead_count"
           " FROM contacts c WHERE c.tenant_id = $1 AND c.id = ANY ($2::uuid[])"
           " ORDER BY c.id FOR UPDATE",
    .nparams = 2};

//  $1 tenant, $2 merged ids, $3 time, $4 actor, $5 survivor, $6 merge.
static const crm_stmt_t s_tombstone = {
    .name = "merge_tombstone",
    .sql = "UPDATE contacts SET deleted_at = $3::timestamptz, updated_at = $3::timestamptz,"
           " updated_by = $4, merged_into = $5::uuid, merge_id = $6::uuid"
           " WHERE tenant_id = $1 AND id = ANY ($2::uuid[]) AND deleted_at IS NULL",
    .nparams = 6,
    .writes = true};

//  $1 tenant, $2 merged ids, $3 survivor: their addresses are the survivor's.
static const crm_stmt_t s_keys_move = {
    .name = "merge_keys_move",
    .sql = "UPDATE contact_emails SET contact_id = $3::uuid"
           " WHERE tenant_id = $1 AND contact_id = ANY ($2::uuid[])",
    .nparams = 3,
    .writes = true};

//  $1 tenant, $2 merged ids, $3 survivor, $4 merge: the notes move, each remembered.
static const crm_stmt_t s_notes_move = {
    .name = "merge_notes_move",
    .sql = "WITH moved AS (SELECT id, contact_id FROM notes"
           "   WHERE tenant_id = $1 AND contact_id = ANY ($2::uuid[]) FOR UPDATE),"
           " upd AS (UPDATE notes n SET contact_id = $3::uuid FROM moved m"
           "   WHERE n.tenant_id = $1 AND n.id = m.id),"
           " rec AS (INSERT INTO merge_items (tenant_id, merge_id, kind, item_id, contact_id)"
           "   SELECT $1, $4::uuid, 'note', id, contact_id FROM moved)"
           " SELECT count(*) FROM moved",
    .nparams = 4,
    .writes = true};

//  $1 tenant, $2 merged ids, $3 survivor, $4 merge: their communication history copied
//  to the survivor (the history is append-only: the originals stay with their contact).
static const crm_stmt_t s_history_copy = {
    .name = "merge_history_copy",
    .sql = "WITH src AS (SELECT * FROM communication_history"
           "   WHERE tenant_id = $1 AND contact_id = ANY ($2::uuid[])),"
           " ins AS (INSERT INTO communication_history (tenant_id, id, contact_id, kind, channel,"
           "   purpose, granted, field, enabled, retention_days, method, note, effective_at,"
           "   recorded_at, recorded_by)"
           "   SELECT $1, " HISTORY_COPY_ID("s.id::text") ", $3::uuid, s.kind, s.channel,"
           "   s.purpose, s.granted, s.field, s.enabled, s.retention_days, s.method, s.note,"
           "   s.effective_at, s.recorded_at, s.recorded_by FROM src s),"
           " rec AS (INSERT INTO merge_items (tenant_id, merge_id, kind, item_id, contact_id)"
           "   SELECT $1, $4::uuid, 'history', " HISTORY_COPY_ID("s.id::text") ", s.contact_id"
           "   FROM src s)"
           " SELECT count(*) FROM src",
    .nparams = 4,
    .writes = true};

//  $1 tenant, $2 merged ids, $3 survivor: per channel and purpose, the strictest current
//  consent of them all becomes the survivor's (a withdrawal over a grant, then the
//  latest); the ones that changed are answered for their events.
static const crm_stmt_t s_consents = {
    .name = "merge_consents",
    .sql = "WITH cand AS (SELECT c.*, CASE WHEN c.contact_id = $3::uuid THEN c.change_id"
           "   ELSE " HISTORY_COPY_ID("c.change_id::text") " END AS new_change"
           "   FROM consents c WHERE c.tenant_id = $1"
           "   AND (c.contact_id = ANY ($2::uuid[]) OR c.contact_id = $3::uuid)),"
           " win AS (SELECT DISTINCT ON (channel, purpose) * FROM cand"
           "   ORDER BY channel, purpose, granted, effective_at DESC, (contact_id = $3::uuid) DESC),"
           " up AS (INSERT INTO consents AS k (tenant_id, contact_id, channel, purpose, granted,"
           "   method, note, effective_at, recorded_at, recorded_by, change_id)"
           "   SELECT $1, $3::uuid, w.channel, w.purpose, w.granted, w.method, w.note,"
           "   w.effective_at, w.recorded_at, w.recorded_by, w.new_change"
           "   FROM win w WHERE w.contact_id <> $3::uuid"
           "   ON CONFLICT (tenant_id, contact_id, channel, purpose) DO UPDATE SET"
           "   granted = excluded.granted, method = excluded.method, note = excluded.note,"
           "   effective_at = excluded.effective_at, recorded_at = excluded.recorded_at,"
           "   recorded_by = excluded.recorded_by, change_id = excluded.change_id"
           "   RETURNING k.*)"
           " SELECT channel, purpose, granted, method, " TS("effective_at") ","
           " " TS("recorded_at") ", change_id::text FROM up",
    .nparams = 3,
    .writes = true};

//  $1 tenant, $2 merged ids, $3 survivor, $4 time, $5 actor: any do-not-contact or
//  stop-follow-ups of them all, the shortest retention, become the survivor's; answers
//  the rules after and before when they changed.
static const crm_stmt_t s_rules = {
    .name = "merge_rules",
    .sql = "WITH r AS (SELECT bool_or(do_not_call) AS call, bool_or(do_not_email) AS email,"
           "   bool_or(do_not_mail) AS mail, bool_or(do_not_sms) AS sms,"
           "   bool_or(stop_follow_ups) AS sfu, min(retention_days) AS days,"
           "   min(retain_until) AS until, count(*) AS n FROM communication_rules"
           "   WHERE tenant_id = $1 AND (contact_id = ANY ($2::uuid[]) OR contact_id = $3::uuid)),"
           " old AS (SELECT * FROM communication_rules WHERE tenant_id = $1 AND contact_id = $3::uuid),"
           " up AS (INSERT INTO communication_rules AS k (tenant_id, contact_id, do_not_call,"
           "   do_not_email, do_not_mail, do_not_sms, stop_follow_ups, retention_days,"
           "   retain_until, updated_at, updated_by)"
           "   SELECT $1, $3::uuid, r.call, r.email, r.mail, r.sms, r.sfu, r.days, r.until,"
           "   $4::timestamptz, $5 FROM r WHERE r.n > 0"
           "   ON CONFLICT (tenant_id, contact_id) DO UPDATE SET"
           "   do_not_call = excluded.do_not_call, do_not_email = excluded.do_not_email,"
           "   do_not_mail = excluded.do_not_mail, do_not_sms = excluded.do_not_sms,"
           "   stop_follow_ups = excluded.stop_follow_ups,"
           "   retention_days = excluded.retention_days, retain_until = excluded.retain_until,"
           "   updated_at = excluded.updated_at, updated_by = excluded.updated_by"
           "   WHERE (k.do_not_call, k.do_not_email, k.do_not_mail, k.do_not_sms,"
           "     k.stop_follow_ups, k.retention_days) IS DISTINCT FROM"
           "     (excluded.do_not_call, excluded.do_not_email, excluded.do_not_mail,"
           "      excluded.do_not_sms, excluded.stop_follow_ups, excluded.retention_days)"
           "   RETURNING k.*)"
           " SELECT up.do_not_call, up.do_not_email, up.do_not_mail, up.do_not_sms,"
           " up.stop_follow_ups, coalesce(up.retention_days, 0),"
           " coalesce(" TS("up.retain_until") ", ''),"
           " coalesce(old.do_not_call, false), coalesce(old.do_not_email, false),"
           " coalesce(old.do_not_mail, false), coalesce(old.do_not_sms, false),"
           " coalesce(old.stop_follow_ups, false), coalesce(old.retention_days, 0)"
           " FROM up LEFT JOIN old ON true",
    .nparams = 5,
    .writes = true};

//  $1 tenant, $2 survivor, $3 created, $4 last activity ("": none), $5 leads.
static const crm_stmt_t s_survivor_facts = {
    .name = "merge_survivor_facts",
    .sql = "UPDATE contacts SET created_at = $3::timestamptz,"
           " last_activity_at = nullif($4, '')::timestamptz, lead_count = $5::int"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 5,
    .writes = true};

//  $1 tenant, $2 merge, $3 survivor, $4 merged ids, $5 actor, $6 time, $7 undo days,
//  $8 choose, $9 sources, $10 counts, $11 before, $12 after.
static const crm_stmt_t s_record = {
    .name = "merge_record",
    .sql = "INSERT INTO merges (tenant_id, id, survivor_id, merged_ids, actor_id, merged_at,"
           " undo_until, choose, sources, counts, survivor_before, survivor_after)"
           " VALUES ($1, $2::uuid, $3::uuid, $4::uuid[], $5, $6::timestamptz,"
           " $6::timestamptz + make_interval(days => $7::int), $8::jsonb, $9::jsonb,"
           " $10::jsonb, $11::jsonb, $12::jsonb)",
    .nparams = 12,
    .writes = true};

//  $1 tenant, $2 ids: the preview's counts.
static const crm_stmt_t s_counts = {
    .name = "merge_counts",
    .sql = "SELECT (SELECT count(*) FROM notes WHERE tenant_id = $1"
           "   AND contact_id = ANY ($2::uuid[])),"
           " (SELECT count(*) FROM communication_history WHERE tenant_id = $1"
           "   AND contact_id = ANY ($2::uuid[]))",
    .nparams = 2};

#define GET_MERGE_SQL                                                                         \
    "SELECT " MERGE_JSON("m") ", m.survivor_before::text, m.survivor_after::text FROM merges m" \
    " WHERE m.tenant_id = $1 AND m.id = $2::uuid"

static const crm_stmt_t s_get = {.name = "merge_get", .sql = GET_MERGE_SQL, .nparams = 2};
static const crm_stmt_t s_get_for_update = {
    .name = "merge_get_for_update", .sql = GET_MERGE_SQL " FOR UPDATE", .nparams = 2};

//  $1 tenant, $2 contact ("": any), $3 cursor (the last id, "": none), $4 limit + 1.
static const crm_stmt_t s_list = {
    .name = "merge_list",
    .sql = "SELECT m.id::text, " MERGE_JSON("m") " FROM merges m WHERE m.tenant_id = $1"
           " AND ($2 = '' OR (m.merged_ids || m.survivor_id) @> ARRAY[nullif($2, '')::uuid])"
           " AND ($3 = '' OR m.id < nullif($3, '')::uuid)"
           " ORDER BY m.id DESC LIMIT $4::int",
    .nparams = 4};

//  $1 tenant, $2 contact: the chain of merges from it to its live survivor.
static const crm_stmt_t s_resolve = {
    .name = "merge_resolve",
    .sql = "WITH RECURSIVE chain(id, merged_into, merge_id, depth) AS ("
           "  SELECT id, merged_into, merge_id, 0 FROM contacts"
           "  WHERE tenant_id = $1 AND id = $2::uuid AND merged_into IS NOT NULL"
           "  UNION ALL"
           "  SELECT c.id, c.merged_into, c.merge_id, chain.depth + 1 FROM contacts c"
           "  JOIN chain ON c.tenant_id = $1 AND c.id = chain.merged_into"
           "  WHERE chain.depth < 64)"
           " SELECT (SELECT id::text FROM chain ORDER BY depth DESC LIMIT 1),"
           " (SELECT merge_id::text FROM chain WHERE depth = 0)",
    .nparams = 2};

//  --- The undo ------------------------------------------------------------------------------

//  $1 tenant, $2 merge, $3 survivor: an address of a merged contact held now by a contact
//  other than the survivor and itself (taken meanwhile), and its holder.
static const crm_stmt_t s_undo_key_taken = {
    .name = "merge_undo_key_taken",
    .sql = "SELECT k.address_norm, k.contact_id::text, c.id::text FROM contacts c"
           " CROSS JOIN LATERAL jsonb_array_elements(c.emails) e"
           " JOIN contact_emails k ON k.tenant_id = $1 AND k.address_norm = lower(e->>'address')"
           " WHERE c.tenant_id = $1 AND c.merge_id = $2::uuid"
           " AND k.contact_id <> $3::uuid AND k.contact_id <> c.id LIMIT 1",
    .nparams = 3};

//  $1 tenant, $2 merge: the merged contacts' addresses are theirs again.
static const crm_stmt_t s_undo_keys = {
    .name = "merge_undo_keys",
    .sql = "INSERT INTO contact_emails (tenant_id, address_norm, contact_id)"
           " SELECT $1, lower(e->>'address'), c.id FROM contacts c"
           " CROSS JOIN LATERAL jsonb_array_elements(c.emails) e"
           " WHERE c.tenant_id = $1 AND c.merge_id = $2::uuid"
           " ON CONFLICT (tenant_id, address_norm) DO UPDATE SET contact_id = excluded.contact_id",
    .nparams = 2,
    .writes = true};

//  $1 tenant, $2 merge, $3 time, $4 actor: the merged contacts live again, as they were.
static const crm_stmt_t s_undo_restore = {
    .name = "merge_undo_restore",
    .sql = "UPDATE contacts c SET deleted_at = NULL, merged_into = NULL, merge_id = NULL,"
           " updated_at = $3::timestamptz, updated_by = $4"
           " WHERE c.tenant_id = $1 AND c.merge_id = $2::uuid"
           " RETURNING c.id::text, " CONTACT_JSON("c") ", c.lead_count",
    .nparams = 4,
    .writes = true};

//  $1 tenant, $2 merge, $3 survivor: the notes the merge moved, still the survivor's, back.
static const crm_stmt_t s_undo_notes = {
    .name = "merge_undo_notes",
    .sql = "UPDATE notes n SET contact_id = i.contact_id FROM merge_items i"
           " WHERE i.tenant_id = $1 AND i.merge_id = $2::uuid AND i.kind = 'note'"
           " AND n.tenant_id = $1 AND n.id = i.item_id AND n.contact_id = $3::uuid",
    .nparams = 3,
    .writes = true};

//  $1 tenant, $2 survivor, $3 its creation after the merge, $4 before, $5 leads given back.
static const crm_stmt_t s_undo_facts = {
    .name = "merge_undo_facts",
    .sql = "UPDATE contacts SET created_at = CASE WHEN created_at = $3::timestamptz"
           "   THEN $4::timestamptz ELSE created_at END,"
           " lead_count = greatest(lead_count - $5::int, 0)"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 5,
    .writes = true};

//  $1 tenant, $2 merge, $3 time, $4 actor.
static const crm_stmt_t s_undo_record = {
    .name = "merge_undo_record",
    .sql = "UPDATE merges SET status = 'undone', undone_at = $3::timestamptz, undone_by = $4"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 4,
    .writes = true};

//  --- Reads -----------------------------------------------------------------------------------

void contacts_merge_record_reset(contacts_merge_record_t *record) {
    json_decref(record->contact);
    memset(record, 0, sizeof *record);
}

int contacts_merge_store_read(const contacts_scope_t *scope, const char *const *ids, size_t n,
                              contacts_merge_record_t *records) {
    char *array = crm_db_text_array(ids, n);
    const char *params[] = {scope->tenant_id, array};
    PGresult *res = crm_db_query(scope->db, &s_read, params);
    free(array);
    if (!res)
        return -1;
    for (size_t i = 0; i < n; i++) {
        memset(&records[i], 0, sizeof records[i]);
        snprintf(records[i].id, sizeof records[i].id, "%s", ids[i]);
    }
    for (int r = 0; r < PQntuples(res); r++)
        for (size_t i = 0; i < n; i++) {
            if (strcasecmp(records[i].id, PQgetvalue(res, r, 0)) != 0 || records[i].contact)
                continue;
            records[i].contact = json_loads(PQgetvalue(res, r, 1), 0, NULL);
            records[i].deleted = strcmp(PQgetvalue(res, r, 2), "t") == 0;
            snprintf(records[i].merged_into, 40, "%s", PQgetvalue(res, r, 3));
            snprintf(records[i].merge_id, 40, "%s", PQgetvalue(res, r, 4));
            records[i].lead_count = (unsigned)strtoul(PQgetvalue(res, r, 5), NULL, 10);
        }
    PQclear(res);
    return 0;
}

int contacts_merge_store_counts(const contacts_scope_t *scope, const char *const *ids, size_t n,
                                Crm__Contacts__MergeCounts *counts) {
    char *array = crm_db_text_array(ids, n);
    const char *params[] = {scope->tenant_id, array};
    PGresult *res = crm_db_query(scope->db, &s_counts, params);
    free(array);
    if (!res)
        return -1;
    counts->notes = (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
    counts->consent_history = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    return 0;
}

//  --- The merge -------------------------------------------------------------------------------

//  One statement's single count answer; -1 when it failed.
static long s_count(crm_db_t *db, const crm_stmt_t *stmt, const char *const *params) {
    PGresult *res = crm_db_query(db, stmt, params);
    if (!res)
        return -1;
    long n = PQntuples(res) ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return n;
}

static int s_enum(const ProtobufCEnumDescriptor *desc, const char *name) {
    int value = 0;
    return crm_enum_parse(desc, name, &value) == 0 ? value : 0;
}

//  The survivor's consents that changed: a ContactConsentChanged each.
static int s_consents_merge(const contacts_scope_t *scope, const char *const *params, crm_outbox_t *outbox,
                      const char *survivor_id) {
    PGresult *res = crm_db_query(scope->db, &s_consents, params);
    if (!res)
        return -1;
    int rc = 0;
    for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
        Crm__Events__ContactConsentChanged event = CRM__EVENTS__CONTACT_CONSENT_CHANGED__INIT;
        event.contact_id = (char *)survivor_id;
        event.channel = s_enum(&crm__contacts__channel__descriptor, PQgetvalue(res, r, 0));
        event.purpose = s_enum(&crm__contacts__purpose__descriptor, PQgetvalue(res, r, 1));
        event.granted = strcmp(PQgetvalue(res, r, 2), "t") == 0;
        event.method = s_enum(&crm__contacts__consent_method__descriptor, PQgetvalue(res, r, 3));
        event.actor_id = (char *)scope->actor_id;
        event.effective_at = PQgetvalue(res, r, 4);
        event.recorded_at = PQgetvalue(res, r, 5);
        event.current = true;
        event.change_id = PQgetvalue(res, r, 6);
        rc = crm_outbox_add(outbox, scope->tenant_id, survivor_id, &event.base, NULL);
    }
    PQclear(res);
    return rc;
}

//  The survivor's rules when they changed: a ContactCommunicationRulesChanged.
static int s_rules_merge(const contacts_scope_t *scope, const char *const *params, crm_outbox_t *outbox,
                   const char *survivor_id, const char *now) {
    PGresult *res = crm_db_query(scope->db, &s_rules, params);
    if (!res)
        return -1;
    int rc = 0;
    if (PQntuples(res)) {
        static const char *const names[] = {"doNotContact.call", "doNotContact.email",
                                            "doNotContact.mail", "doNotContact.sms",
                                            "stopFollowUps"};
        char *changed[7];
        size_t n_changed = 0;
        bool now_set[5];
        for (int f = 0; f < 5; f++) {
            now_set[f] = strcmp(PQgetvalue(res, 0, f), "t") == 0;
            if (now_set[f] != (strcmp(PQgetvalue(res, 0, 7 + f), "t") == 0))
                changed[n_changed++] = (char *)names[f];
        }
        if (strcmp(PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 12)) != 0)
            changed[n_changed++] = "retentionDays";
        Crm__Contacts__DoNotContact dnc = CRM__CONTACTS__DO_NOT_CONTACT__INIT;
        contacts_consent_dnc_set(&dnc, CONTACTS_FLAG_CALL, now_set[0]);
        contacts_consent_dnc_set(&dnc, CONTACTS_FLAG_EMAIL, now_set[1]);
        contacts_consent_dnc_set(&dnc, CONTACTS_FLAG_MAIL, now_set[2]);
        contacts_consent_dnc_set(&dnc, CONTACTS_FLAG_SMS, now_set[3]);
        Crm__Events__ContactCommunicationRulesChanged event =
            CRM__EVENTS__CONTACT_COMMUNICATION_RULES_CHANGED__INIT;
        event.contact_id = (char *)survivor_id;
        event.do_not_contact = &dnc;
        event.stop_follow_ups = now_set[4];
        event.retention_days = atoi(PQgetvalue(res, 0, 5));
        event.retain_until = PQgetvalue(res, 0, 6);
        event.changed = changed;
        event.n_changed = n_changed;
        event.actor_id = (char *)scope->actor_id;
        event.changed_at = (char *)now;
        rc = crm_outbox_add(outbox, scope->tenant_id, survivor_id, &event.base, NULL);
    }
    PQclear(res);
    return rc;
}

int contacts_merge_store_write(const contacts_scope_t *scope, const contacts_merge_write_t *w,
                               const contacts_row_t *row, Crm__Contacts__Contact *c,
                               const char *const *changed, size_t n_changed,
                               Crm__Contacts__MergeCounts *counts, crm_errors_t *errors,
                               char conflict_id[64]) {
    char now[40];
    crm_time_now(now, sizeof now);
    char *merged = crm_db_text_array(w->merged_ids, w->n_merged);
    crm_db_t *db = scope->db;
    int code = -1;
    crm_outbox_t *outbox = crm_outbox_new();
    //  The merged contacts out, their addresses the survivor's: then the survivor's own
    //  write finds no other holder of the addresses it takes.
    const char *tomb[] = {scope->tenant_id, merged, now, scope->actor_id, w->survivor_id,
                          w->merge_id};
    const char *move[] = {scope->tenant_id, merged, w->survivor_id, w->merge_id};
    const char *rules[] = {scope->tenant_id, merged, w->survivor_id, now, scope->actor_id};
    char leads[16];
    snprintf(leads, sizeof leads, "%u", w->lead_count);
    const char *facts[] = {scope->tenant_id, w->survivor_id, w->created_at, w->last_activity_at,
                           leads};
    if (crm_db_run(db, &s_tombstone, tomb) || crm_db_run(db, &s_keys_move, move))
        goto done;
    long notes = s_count(db, &s_notes_move, move);
    long history = notes < 0 ? -1 : s_count(db, &s_history_copy, move);
    if (history < 0 || s_consents_merge(scope, move, outbox, w->survivor_id) ||
        s_rules_merge(scope, rules, outbox, w->survivor_id, now) ||
        crm_db_run(db, &s_survivor_facts, facts))
        goto done;
    counts->notes = (uint32_t)notes;
    counts->consent_history = (uint32_t)history;
    code = contacts_contact_store_update(scope, row, c, changed, n_changed, errors, conflict_id);
    if (code != 200)
        goto done;
    char days[16];
    snprintf(days, sizeof days, "%d", w->undo_days);
    char *choose = json_dumps(w->choose, JSON_COMPACT);
    char *sources = json_dumps(w->sources, JSON_COMPACT);
    char *before = json_dumps(w->before, JSON_COMPACT);
    char *after = json_dumps(w->after, JSON_COMPACT);
    char *counted = crm_pb_to_json(&counts->base);
    const char *record[] = {scope->tenant_id, w->merge_id, w->survivor_id, merged,
                            scope->actor_id,  now,         days,           choose,
                            sources,          counted,     before,         after};
    int rc = crm_db_run(db, &s_record, record);
    free(choose);
    free(sources);
    free(before);
    free(after);
    free(counted);
    Crm__Events__ContactMerged event = CRM__EVENTS__CONTACT_MERGED__INIT;
    event.survivor_id = (char *)w->survivor_id;
    event.merged_ids = (char **)w->merged_ids;
    event.n_merged_ids = w->n_merged;
    event.actor_id = (char *)scope->actor_id;
    event.merge_id = (char *)w->merge_id;
    if (rc || crm_outbox_add(outbox, scope->tenant_id, w->survivor_id, &event.base, now) ||
        crm_outbox_write(outbox, db))
        code = -1;
done:
    crm_outbox_destroy(&outbox);
    free(merged);
    return code;
}

//  --- Merges read -----------------------------------------------------------------------------

int contacts_merge_store_get(const contacts_scope_t *scope, const char *id, bool for_update,
                             Crm__Contacts__Merge **out, json_t **before, json_t **after) {
    const char *params[] = {scope->tenant_id, id};
    PGresult *res = crm_db_query(scope->db, for_update ? &s_get_for_update : &s_get, params);
    if (!res)
        return -1;
    int code = 404;
    if (PQntuples(res)) {
        crm_json_error_t err;
        const char *text = PQgetvalue(res, 0, 0);
        *out = (Crm__Contacts__Merge *)crm_json_to_pb(&crm__contacts__merge__descriptor, text,
                                                       strlen(text), &err);
        code = *out ? 200 : 500;
        if (!*out)
            crm_log_kv(CRM_LOG_ERROR, "stored merge does not parse", "field", err.field,
                       "detail", err.message, NULL);
        if (before)
            *before = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
        if (after)
            *after = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
    }
    PQclear(res);
    return code;
}

int contacts_merge_store_list(const contacts_scope_t *scope, const char *contact_id,
                              const char *cursor, int limit,
                              Crm__Contacts__ListMergesResponse **out) {
    char more[16];
    snprintf(more, sizeof more, "%d", limit + 1);
    const char *params[] = {scope->tenant_id, contact_id, cursor, more};
    PGresult *res = crm_db_query(scope->db, &s_list, params);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    Crm__Contacts__ListMergesResponse *list = malloc(sizeof *list);
    crm__contacts__list_merges_response__init(list);
    list->items = calloc((size_t)rows + 1, sizeof *list->items);
    int code = 200;
    for (int r = 0; r < rows && r < limit; r++) {
        crm_json_error_t err;
        const char *text = PQgetvalue(res, r, 1);
        Crm__Contacts__Merge *m = (Crm__Contacts__Merge *)crm_json_to_pb(
            &crm__contacts__merge__descriptor, text, strlen(text), &err);
        if (!m) {
            code = 500;
            break;
        }
        list->items[list->n_items++] = m;
    }
    if (code == 200 && rows > limit)
        list->next_cursor = strdup(PQgetvalue(res, limit - 1, 0));
    PQclear(res);
    if (code != 200) {
        crm__contacts__list_merges_response__free_unpacked(list, NULL);
        return code;
    }
    *out = list;
    return 200;
}

int contacts_merge_store_resolve(const contacts_scope_t *scope, const char *id,
                                 char survivor_id[40], char merge_id[40]) {
    const char *params[] = {scope->tenant_id, id};
    PGresult *res = crm_db_query(scope->db, &s_resolve, params);
    if (!res)
        return -1;
    int code = 404;
    if (PQntuples(res) && !PQgetisnull(res, 0, 0) && !PQgetisnull(res, 0, 1)) {
        snprintf(survivor_id, 40, "%s", PQgetvalue(res, 0, 0));
        snprintf(merge_id, 40, "%s", PQgetvalue(res, 0, 1));
        code = 200;
    }
    PQclear(res);
    return code;
}

//  --- The undo ------------------------------------------------------------------------------

int contacts_merge_store_undo(const contacts_scope_t *scope, const Crm__Contacts__Merge *merge,
                              const json_t *before, const json_t *after,
                              const contacts_row_t *row, Crm__Contacts__Contact *c,
                              const char *const *changed, size_t n_changed, crm_errors_t *errors,
                              char conflict_id[64]) {
    char now[40];
    crm_time_now(now, sizeof now);
    crm_db_t *db = scope->db;
    const char *key[] = {scope->tenant_id, merge->id, merge->survivor_id};
    PGresult *res = crm_db_query(db, &s_undo_key_taken, key);
    if (!res)
        return -1;
    if (PQntuples(res)) {
        snprintf(conflict_id, 64, "%s", PQgetvalue(res, 0, 1));
        crm_errors_add(errors, "id",
                       "an email address of merged contact %s is now used by contact %s",
                       PQgetvalue(res, 0, 2), conflict_id);
        PQclear(res);
        return 409;
    }
    PQclear(res);
    const char *keys[] = {scope->tenant_id, merge->id};
    if (crm_db_run(db, &s_undo_keys, keys))
        return -1;
    int code = contacts_contact_store_update(scope, row, c, changed, n_changed, errors, conflict_id);
    if (code != 200)
        return code;
    const char *restore[] = {scope->tenant_id, merge->id, now, scope->actor_id};
    res = crm_db_query(db, &s_undo_restore, restore);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    Crm__Events__ContactUnmerged event = CRM__EVENTS__CONTACT_UNMERGED__INIT;
    event.merge_id = merge->id;
    event.survivor_id = merge->survivor_id;
    event.actor_id = (char *)scope->actor_id;
    event.restored_ids = calloc((size_t)rows + 1, sizeof *event.restored_ids);
    event.restored = calloc((size_t)rows + 1, sizeof *event.restored);
    unsigned leads = 0;
    code = 200;
    for (int r = 0; r < rows; r++) {
        Crm__Contacts__Contact *restored = contacts_from_json(PQgetvalue(res, r, 1));
        if (!restored) {
            code = 500;
            break;
        }
        event.restored_ids[event.n_restored_ids++] = PQgetvalue(res, r, 0);
        event.restored[event.n_restored++] = restored;
        leads += (unsigned)strtoul(PQgetvalue(res, r, 2), NULL, 10);
    }
    char given_back[16];
    snprintf(given_back, sizeof given_back, "%u", leads);
    const char *created_after = json_string_value(json_object_get(after, "createdAt"));
    const char *created_before = json_string_value(json_object_get(before, "createdAt"));
    const char *facts[] = {scope->tenant_id, merge->survivor_id,
                           created_after ? created_after : now,
                           created_before ? created_before : now, given_back};
    const char *notes[] = {scope->tenant_id, merge->id, merge->survivor_id};
    const char *record[] = {scope->tenant_id, merge->id, now, scope->actor_id};
    crm_outbox_t *outbox = crm_outbox_new();
    if (code == 200 &&
        (crm_db_run(db, &s_undo_notes, notes) || crm_db_run(db, &s_undo_facts, facts) ||
         crm_db_run(db, &s_undo_record, record) ||
         crm_outbox_add(outbox, scope->tenant_id, merge->survivor_id, &event.base, now) ||
         crm_outbox_write(outbox, db)))
        code = -1;
    crm_outbox_destroy(&outbox);
    for (size_t i = 0; i < event.n_restored; i++)
        crm__contacts__contact__free_unpacked(event.restored[i], NULL);
    free(event.restored);
    free(event.restored_ids);
    PQclear(res);
    return code;
}
