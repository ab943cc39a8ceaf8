/*  bulk_store: the SQL and events of one change to many contacts (bulk.c holds the
    rules, bulk_methods.c the method) — add or remove tags, change the type, assign,
    delete — on a selection of ids or on every contact a filter finds.

    The contacts are fixed when the request arrives: their ids become the job's items
    (job_items). Up to BULK_INLINE_MAX of them are changed at once, in the request's
    transaction, and the answer is the finished job (200). More run as a queued job
    (202): the job runner (job_methods.c) takes BULK_CHUNK items at a time, each chunk one
    transaction holding the changes, their events and the job's progress, so a job
    survives restarts and never changes a contact twice.

    Every changed contact gets its own event (ContactUpdated with the contact after the
    change, or ContactDeleted), as a change through the API would. A contact the change
    does not alter (it had the tag) is processed but not changed, and gets no event.
*/
#include "contacts.h"
#include "outbox.h"
#include "ids.h"
#include "json_pb.h"

#include <stdlib.h>
#include <string.h>

#define MAX_JOB_ERRORS 1000

//  The items of a chunk, taken off the job: $1 tenant, $2 job, $3 chunk size.
#define ITEMS_SQL                                                                             \
    "WITH items AS ("                                                                         \
    "  DELETE FROM job_items WHERE job_id = $2::uuid AND contact_id IN ("                     \
    "    SELECT contact_id FROM job_items WHERE job_id = $2::uuid"                            \
    "    ORDER BY contact_id LIMIT $3::int)"                                                  \
    "  RETURNING contact_id),"

//  The contacts of the chunk that the change alters, changed: $4 the time, $5 the value,
//  $6 the actor.
#define UPDATE_SQL(set, alters)                                                               \
    " upd AS ("                                                                               \
    "  UPDATE contacts c SET " set ", updated_at = $4::timestamptz, updated_by = $6"          \
    "  FROM items"                                                                            \
    "  WHERE c.tenant_id = $1 AND c.id = items.contact_id AND c.deleted_at IS NULL"           \
    "    AND " alters " RETURNING c.*)"

//  What a chunk answers: its item count first, then one row per contact changed (id,
//  the contact after the change) or refused (id, NULL).
#define ANSWER_SQL(refused)                                                                   \
    " SELECT (SELECT count(*) FROM items), NULL, NULL"                                        \
    " UNION ALL SELECT NULL, u.id::text, " CONTACT_JSON("u") " FROM upd u"                    \
    " UNION ALL SELECT NULL, r.id::text, NULL FROM " refused " r"

//  Tags to add ($5), as many as a contact may carry; a contact they would take past
//  the most is refused.
#define NEW_TAGS "ARRAY(SELECT t FROM unnest($5::text[]) t WHERE NOT t = ANY (c.tags))"
static const crm_stmt_t s_add_tags = {
    .name = "bulk_add_tags",
    .sql = ITEMS_SQL
    " over AS ("
    "  SELECT c.id FROM contacts c JOIN items ON c.id = items.contact_id"
    "  WHERE c.tenant_id = $1 AND c.deleted_at IS NULL"
    "    AND cardinality(c.tags) + cardinality(" NEW_TAGS ") > 50),"
    UPDATE_SQL("tags = c.tags || " NEW_TAGS,
               "NOT c.tags @> $5::text[] AND c.id NOT IN (SELECT id FROM over)")
    ANSWER_SQL("over"),
    .nparams = 6,
    .writes = true};

static const crm_stmt_t s_remove_tags = {
    .name = "bulk_remove_tags",
    .sql = ITEMS_SQL
    UPDATE_SQL("tags = ARRAY(SELECT x FROM unnest(c.tags) WITH ORDINALITY AS t(x, o)"
               "             WHERE NOT x = ANY ($5::text[]) ORDER BY o)",
               "c.tags && $5::text[]")
    ", none AS (SELECT NULL::uuid AS id WHERE false)"
    ANSWER_SQL("none"),
    .nparams = 6,
    .writes = true};

static const crm_stmt_t s_set_type = {
    .name = "bulk_set_type",
    .sql = ITEMS_SQL
    UPDATE_SQL("type = $5", "c.type <> $5")
    ", none AS (SELECT NULL::uuid AS id WHERE false)"
    ANSWER_SQL("none"),
    .nparams = 6,
    .writes = true};

static const crm_stmt_t s_assign = {
    .name = "bulk_assign",
    .sql = ITEMS_SQL
    UPDATE_SQL("assignee = $5", "c.assignee <> $5")
    ", none AS (SELECT NULL::uuid AS id WHERE false)"
    ANSWER_SQL("none"),
    .nparams = 6,
    .writes = true};

//  A delete frees the contacts' addresses and unlinks the people of a deleted
//  organization (a company buyer keeping its name), as one delete does.
static const crm_stmt_t s_delete = {
    .name = "bulk_delete",
    .sql = ITEMS_SQL
    UPDATE_SQL("deleted_at = $4::timestamptz", "$5 = 'delete'") ","
    " keys AS ("
    "  DELETE FROM contact_emails e USING upd u WHERE e.tenant_id = $1 AND e.contact_id = u.id),"
    " unlinked AS ("
    "  UPDATE contacts p SET organization_id = NULL, updated_by = $6,"
    "    updated_at = $4::timestamptz,"
    "    profile = (p.profile - 'organization') ||"
    "      CASE WHEN (p.profile->>'companyBuyer')::boolean"
    "             AND coalesce(p.profile->>'companyName', '') = ''"
    "           THEN jsonb_build_object('companyName', u.name) ELSE '{}' END"
    "  FROM upd u WHERE u.kind = 'organization' AND p.tenant_id = $1"
    "    AND p.organization_id = u.id AND p.id NOT IN (SELECT id FROM upd)),"
    " none AS (SELECT NULL::uuid AS id WHERE false)"
    ANSWER_SQL("none"),
    .nparams = 6,
    .writes = true};

//  The job's progress after a chunk: $3..$5 processed, changed, failed; $6 errors; $7
//  the time. Finished when no item is left. Answers the status.
static const crm_stmt_t s_progress = {
    .name = "bulk_progress",
    .sql = "UPDATE jobs SET processed = processed + $3::int, changed = changed + $4::int,"
           "  failed = failed + $5::int,"
           "  errors = CASE WHEN jsonb_array_length(errors) < 1000"
           "                THEN errors || $6::jsonb ELSE errors END,"
           "  started_at = coalesce(started_at, $7::timestamptz),"
           "  status = CASE WHEN EXISTS (SELECT 1 FROM job_items WHERE job_id = $2::uuid)"
           "                THEN 'running' ELSE 'succeeded' END,"
           "  finished_at = CASE WHEN EXISTS (SELECT 1 FROM job_items WHERE job_id = $2::uuid)"
           "                     THEN NULL ELSE $7::timestamptz END"
           " WHERE tenant_id = $1 AND id = $2::uuid RETURNING status",
    .nparams = 7,
    .writes = true};

static const crm_stmt_t s_job_insert = {
    .name = "bulk_job_insert",
    .sql = "INSERT INTO jobs (tenant_id, id, kind, status, actor_id, request, created_at)"
           " VALUES ($1, $2::uuid, 'bulk', 'queued', $3, $4::jsonb, $5::timestamptz)",
    .nparams = 5,
    .writes = true};

//  A selection of ids as the job's items: answers how many are, then each id that is
//  not a live contact of the tenant.
static const crm_stmt_t s_select_ids = {
    .name = "bulk_select_ids",
    .sql = "WITH sel AS ("
           "  INSERT INTO job_items (tenant_id, job_id, contact_id)"
           "  SELECT DISTINCT $1, $2::uuid, c.id FROM contacts c"
           "  WHERE c.tenant_id = $1 AND c.id = ANY ($3::uuid[]) AND c.deleted_at IS NULL"
           "  RETURNING contact_id)"
           " SELECT NULL, (SELECT count(*) FROM sel)"
           " UNION ALL SELECT x::text, NULL FROM (SELECT DISTINCT x FROM unnest($3::uuid[]) x) d"
           " WHERE x NOT IN (SELECT contact_id FROM sel)",
    .nparams = 3,
    .writes = true};

static const crm_stmt_t s_set_total = {
    .name = "bulk_set_total",
    .sql = "UPDATE jobs SET total = $3::int, failed = $4::int, processed = $4::int,"
           "  errors = $5::jsonb"
           " WHERE tenant_id = $1 AND id = $2::uuid",
    .nparams = 5,
    .writes = true};

static void s_error_add(json_t *errors, const char *item, const char *field, const char *message) {
    if (json_array_size(errors) >= MAX_JOB_ERRORS)
        return;
    json_t *e = json_pack("{s:s, s:s, s:s}", "item", item, "field", field, "message", message);
    json_array_append_new(errors, e);
}

//  The event of one changed contact: ContactDeleted, or (contact: the contact after the
//  change, as JSON) ContactUpdated naming changed_field. 0 or -1.
static int s_event_add(crm_outbox_t *outbox, const char *tenant_id, const char *id,
                       const char *contact, const char *changed_field, const char *actor_id,
                       const char *now) {
    if (!contact) {
        Crm__Events__ContactDeleted event = CRM__EVENTS__CONTACT_DELETED__INIT;
        event.contact_id = (char *)id;
        event.deleted_at = (char *)now;
        event.actor_id = (char *)actor_id;
        return crm_outbox_add(outbox, tenant_id, id, &event.base, now);
    }
    Crm__Contacts__Contact *c = contacts_from_json(contact);
    if (!c)
        return -1;
    Crm__Events__ContactUpdated event = CRM__EVENTS__CONTACT_UPDATED__INIT;
    event.contact = c;
    char *changed[] = {(char *)changed_field};
    event.changed = changed;
    event.n_changed = 1;
    event.actor_id = (char *)actor_id;
    int rc = crm_outbox_add(outbox, tenant_id, id, &event.base, now);
    crm__contacts__contact__free_unpacked(c, NULL);
    return rc;
}

int contacts_bulk_step(crm_db_t *db, const char *tenant_id, const char *job_id,
                       const char *actor_id, const Crm__Contacts__BulkContactsRequest *req,
                       int chunk, bool *finished) {
    const crm_stmt_t *stmt = NULL;
    const char *changed_field = NULL;
    char *value = NULL;
    switch (req->action) {
    case CRM__CONTACTS__BULK_ACTION__BULK_ACTION_ADD_TAGS:
        stmt = &s_add_tags;
        changed_field = "tags";
        value = crm_db_text_array((const char *const *)req->tags, req->n_tags);
        break;
    case CRM__CONTACTS__BULK_ACTION__BULK_ACTION_REMOVE_TAGS:
        stmt = &s_remove_tags;
        changed_field = "tags";
        value = crm_db_text_array((const char *const *)req->tags, req->n_tags);
        break;
    case CRM__CONTACTS__BULK_ACTION__BULK_ACTION_SET_TYPE: {
        char name[32];
        stmt = &s_set_type;
        changed_field = "type";
        value = strdup(crm_enum_api_name(&crm__contacts__contact_type__descriptor, req->type,
                                         name, sizeof name));
        break;
    }
    case CRM__CONTACTS__BULK_ACTION__BULK_ACTION_ASSIGN:
        stmt = &s_assign;
        changed_field = "assignee";
        value = strdup(req->assignee);
        break;
    case CRM__CONTACTS__BULK_ACTION__BULK_ACTION_DELETE:
        stmt = &s_delete;
        value = strdup("delete");
        break;
    default:
        return -1;
    }
    char now[40], size[16];
    crm_time_now(now, sizeof now);
    snprintf(size, sizeof size, "%d", chunk);
    const char *params[] = {tenant_id, job_id, size, now, value, actor_id};
    PGresult *res = crm_db_query(db, stmt, params);
    free(value);
    if (!res)
        return -1;

    //  One event per contact changed; a refusal per contact refused.
    int rows = PQntuples(res);
    int items = rows ? atoi(PQgetvalue(res, 0, 0)) : 0;
    bool deleted = req->action == CRM__CONTACTS__BULK_ACTION__BULK_ACTION_DELETE;
    crm_outbox_t *outbox = crm_outbox_new();
    json_t *errors = json_array();
    int refused = 0, status = 0;
    for (int i = 1; i < rows && status == 0; i++) {
        const char *id = PQgetvalue(res, i, 1);
        if (PQgetisnull(res, i, 2)) {
            s_error_add(errors, id, "tags", "would carry more than 50 tags");
            refused++;
            continue;
        }
        status = s_event_add(outbox, tenant_id, id, deleted ? NULL : PQgetvalue(res, i, 2),
                             changed_field, actor_id, now);
    }
    size_t n = crm_outbox_size(outbox);
    if (status == 0)
        status = crm_outbox_write(outbox, db);
    crm_outbox_destroy(&outbox);
    if (status == 0) {
        char processed[24], changed[24], failed[24];
        snprintf(processed, sizeof processed, "%d", items);
        snprintf(changed, sizeof changed, "%zu", n);
        snprintf(failed, sizeof failed, "%d", refused);
        char *errors_text = json_dumps(errors, JSON_COMPACT);
        const char *p[] = {tenant_id, job_id, processed, changed, failed, errors_text, now};
        PGresult *pr = crm_db_query(db, &s_progress, p);
        free(errors_text);
        status = pr && PQntuples(pr) ? 0 : -1;
        if (pr && PQntuples(pr))
            *finished = strcmp(PQgetvalue(pr, 0, 0), "succeeded") == 0;
        PQclear(pr);
    }
    json_decref(errors);
    PQclear(res);
    return status;
}

int contacts_bulk_store_create(crm_call_t *call, Crm__Contacts__BulkContactsRequest *req,
                               const char *id, long *total_out) {
    char now[40];
    crm_time_now(now, sizeof now);
    long total = 0;
    json_t *errors = json_array();
    int code;
    {
        //  The job keeps what to do, not the ids (they are its items).
        char **ids = req->ids;
        size_t n_ids = req->n_ids;
        req->ids = NULL;
        req->n_ids = 0;
        json_t *what = crm_pb_to_json_value(&req->base);
        req->ids = ids;
        req->n_ids = n_ids;
        char *what_text = json_dumps(what, JSON_COMPACT);
        json_decref(what);
        const char *params[] = {call->header->tenant_id, id, call->header->actor_id, what_text,
                                now};
        PGresult *res = crm_db_query(call->db, &s_job_insert, params);
        free(what_text);
        code = res ? 0 : crm_call_db_failure(call);
        PQclear(res);
    }
    if (code == 0 && req->filter)
        code = contacts_select_for_job(call, req->filter, id, &total);
    else if (code == 0) {
        char *array = crm_db_text_array((const char *const *)req->ids, req->n_ids);
        const char *params[] = {call->header->tenant_id, id, array};
        PGresult *res = crm_db_query(call->db, &s_select_ids, params);
        free(array);
        if (!res)
            code = crm_call_db_failure(call);
        else {
            total = atol(PQgetvalue(res, 0, 1));
            for (int i = 1; i < PQntuples(res); i++)
                s_error_add(errors, PQgetvalue(res, i, 0), "ids", "is not a contact of this tenant");
            total += PQntuples(res) - 1;
            PQclear(res);
        }
    }
    if (code == 0) {
        char total_text[24], missing[24];
        snprintf(total_text, sizeof total_text, "%ld", total);
        snprintf(missing, sizeof missing, "%zu", json_array_size(errors));
        char *errors_text = json_dumps(errors, JSON_COMPACT);
        const char *params[] = {call->header->tenant_id, id, total_text, missing, errors_text};
        PGresult *res = crm_db_query(call->db, &s_set_total, params);
        free(errors_text);
        code = res ? 0 : crm_call_db_failure(call);
        PQclear(res);
    }
    json_decref(errors);
    *total_out = total;
    return code;
}
