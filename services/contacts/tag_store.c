/*  tag_store: the tag catalogue's SQL and its events (tag.c holds the rules, tag_methods.c
    the methods). Contacts keep their tags by name (contacts.tags), so the catalogue's
    writes reach into them: a rename replaces the name in every contact that has it, a
    deletion removes it, a merge replaces one name with another (once per contact). Each
    write is one statement with its event, in the request's transaction; names are
    compared without regard to case (tags.name_norm).
*/
#include "contacts.h"
#include "outbox.h"
#include "ids.h"
#include "json_pb.h"
#include "rows.h"

#include <stdlib.h>
#include <string.h>

#define TAG_JSON                                                                              \
    "json_build_object('id', t.id, 'name', t.name, 'colour', t.colour,"                      \
    " 'description', t.description,"                                                         \
    " 'createdAt', " CONTACTS_TS("t.created_at") ","                                          \
    " 'updatedAt', " CONTACTS_TS("t.updated_at") ")::text"

//  The event of a catalogue write: $6 the time, $7 the event id, $8 the payload.
#define TAG_EVENT_SQL(type, row) CONTACTS_OUTBOX_SQL(type, row, "$6", "$7", "$8")

#define TAG_GET_SQL "SELECT " TAG_JSON " FROM tags t WHERE t.tenant_id = $1 AND t.id = $2::uuid"

static const crm_stmt_t s_tag_get = {
    .name = "tags_get",
    .sql = TAG_GET_SQL,
    .nparams = 2};

static const crm_stmt_t s_tag_get_for_update = {
    .name = "tags_get_for_update",
    .sql = TAG_GET_SQL " FOR UPDATE",
    .nparams = 2};

static const crm_stmt_t s_tag_list = {
    .name = "tags_list",
    .sql = "SELECT " TAG_JSON " FROM tags t WHERE t.tenant_id = $1 ORDER BY t.name_norm",
    .nparams = 1};

//  The tag other than $3 that holds the name $2 (any case).
static const crm_stmt_t s_tag_by_name = {
    .name = "tags_by_name",
    .sql = "SELECT id::text FROM tags WHERE tenant_id = $1 AND name_norm = lower($2)"
           " AND id <> coalesce(nullif($3, '')::uuid, '00000000-0000-0000-0000-000000000000')",
    .nparams = 3};

//  The catalogue's spelling of each name in $2, in order (NULL: not in the catalogue).
static const crm_stmt_t s_tag_resolve = {
    .name = "tags_resolve",
    .sql = "SELECT t.name FROM unnest($2::text[]) WITH ORDINALITY AS k(name, ord)"
           " LEFT JOIN tags t ON t.tenant_id = $1 AND t.name_norm = lower(k.name)"
           " ORDER BY k.ord",
    .nparams = 2};

static const crm_stmt_t s_tag_insert = {
    .name = "tags_insert",
    .sql = "WITH ins AS ("
           "  INSERT INTO tags (tenant_id, id, name, name_norm, colour, description,"
           "                    created_at, updated_at)"
           "  VALUES ($1, $2::uuid, $3, lower($3), $4, $5, $6::timestamptz, $6::timestamptz)"
           "  RETURNING 1),"
           TAG_EVENT_SQL("TagCreated", "ins")
           " SELECT 1",
    .nparams = 8,
    .writes = true};

//  $9: the name before; contacts that carry it (any case) carry $3 after.
static const crm_stmt_t s_tag_update = {
    .name = "tags_update",
    .sql = "WITH upd AS ("
           "  UPDATE tags SET name = $3, name_norm = lower($3), colour = $4, description = $5,"
           "    updated_at = $6::timestamptz"
           "  WHERE tenant_id = $1 AND id = $2::uuid RETURNING 1),"
           " renamed AS ("
           "  UPDATE contacts SET updated_by = $10, updated_at = $6::timestamptz,"
           "    tags = ARRAY(SELECT CASE WHEN lower(x) = lower($9) THEN $3"
           "                                              ELSE x END"
           "                                   FROM unnest(tags) WITH ORDINALITY AS u(x, ord)"
           "                                   ORDER BY ord)"
           "  WHERE tenant_id = $1 AND $9 <> $3 AND EXISTS (SELECT 1 FROM upd)"
           "    AND EXISTS (SELECT 1 FROM unnest(tags) x WHERE lower(x) = lower($9))),"
           TAG_EVENT_SQL("TagUpdated", "upd")
           " SELECT count(*) FROM upd",
    .nparams = 10,
    .writes = true};

//  $3: the tag's name, taken out of every contact that carries it.
static const crm_stmt_t s_tag_delete = {
    .name = "tags_delete",
    .sql = "WITH del AS (DELETE FROM tags WHERE tenant_id = $1 AND id = $2::uuid RETURNING 1),"
           " untagged AS ("
           "  UPDATE contacts SET updated_by = $7, updated_at = $4::timestamptz,"
           "    tags = ARRAY(SELECT x FROM unnest(tags)"
           "                                   WITH ORDINALITY AS u(x, ord)"
           "                                   WHERE lower(x) <> lower($3) ORDER BY ord)"
           "  WHERE tenant_id = $1 AND EXISTS (SELECT 1 FROM del)"
           "    AND EXISTS (SELECT 1 FROM unnest(tags) x WHERE lower(x) = lower($3))),"
           CONTACTS_OUTBOX_SQL("TagDeleted", "del", "$4", "$5", "$6")
           " SELECT count(*) FROM del",
    .nparams = 7,
    .writes = true};

//  $2 merged into $3: $4 the name merged away, $5 the name kept. A contact with both
//  keeps one, where the first of them was.
static const crm_stmt_t s_tag_merge = {
    .name = "tags_merge",
    .sql = "WITH del AS (DELETE FROM tags WHERE tenant_id = $1 AND id = $2::uuid"
           "             AND id <> $3::uuid RETURNING 1),"
           " merged AS ("
           "  UPDATE contacts SET updated_by = $9, updated_at = $6::timestamptz, tags = ARRAY("
           "    SELECT y FROM ("
           "      SELECT y, ord, row_number() OVER (PARTITION BY lower(y) ORDER BY ord) AS n"
           "      FROM (SELECT CASE WHEN lower(x) = lower($4) THEN $5 ELSE x END AS y, ord"
           "            FROM unnest(tags) WITH ORDINALITY AS u(x, ord)) r) s"
           "    WHERE n = 1 ORDER BY ord)"
           "  WHERE tenant_id = $1 AND EXISTS (SELECT 1 FROM del)"
           "    AND EXISTS (SELECT 1 FROM unnest(tags) x WHERE lower(x) = lower($4))),"
           TAG_EVENT_SQL("TagsMerged", "del")
           " SELECT count(*) FROM del",
    .nparams = 9,
    .writes = true};

// --- reading --------------------------------------------------------------------------

int contacts_tag_store_get(crm_call_t *call, const char *id, bool for_update,
                           Crm__Contacts__Tag **out) {
    const char *params[] = {call->header->tenant_id, id};
    return crm_row_read_one(call, for_update ? &s_tag_get_for_update : &s_tag_get, params,
                            &crm__contacts__tag__descriptor, "tag", (ProtobufCMessage **)out);
}

int contacts_tag_store_list(crm_call_t *call, Crm__Contacts__ListTagsResponse **out) {
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_tag_list, params);
    if (!res)
        return crm_call_db_failure(call);
    Crm__Contacts__ListTagsResponse *list = malloc(sizeof *list);
    crm__contacts__list_tags_response__init(list);
    int code = crm_rows_into(call, res, -1, &list->base, "items", "tag");
    PQclear(res);
    if (code) {
        crm__contacts__list_tags_response__free_unpacked(list, NULL);
        return code;
    }
    *out = list;
    return 200;
}

int contacts_tag_store_name_free(crm_call_t *call, const char *name, const char *except_id) {
    const char *params[] = {call->header->tenant_id, name, except_id};
    PGresult *res = crm_db_query(call->db, &s_tag_by_name, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 0;
    if (PQntuples(res) > 0) {
        snprintf(call->conflict_id, sizeof call->conflict_id, "%s", PQgetvalue(res, 0, 0));
        crm_call_field_error(call, "name", "is already the name of tag %s", call->conflict_id);
        crm_call_error(call, "duplicate_tag", "a tag with this name exists: %s", call->conflict_id);
        code = 409;
    }
    PQclear(res);
    return code;
}

// --- writing --------------------------------------------------------------------------

//  A write of the catalogue: its statement's count (0: the tag was gone meanwhile).
static int s_write(crm_call_t *call, const crm_stmt_t *stmt, const char *const *params) {
    PGresult *res = crm_db_query(call->db, stmt, params);
    if (!res) {
        if (strcmp(crm_db_sqlstate(call->db), "23505") == 0) {
            crm_call_field_error(call, "name", "is already the name of another tag");
            crm_call_error(call, "duplicate_tag", "a tag with this name exists");
            return 409;
        }
        return crm_call_db_failure(call);
    }
    int rows = PQntuples(res) ? atoi(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return rows;
}

int contacts_tag_store_insert(crm_call_t *call, Crm__Contacts__Tag *t) {
    char id[CRM_UUID_LEN + 1], now[40];
    crm_uuid_v7(id);
    crm_time_now(now, sizeof now);
    crm_pb_string_set(&t->id, id);
    crm_pb_string_set(&t->created_at, now);
    crm_pb_string_set(&t->updated_at, now);
    Crm__Events__TagCreated event = CRM__EVENTS__TAG_CREATED__INIT;
    event.tag = t;
    event.actor_id = call->header->actor_id;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    const char *params[] = {call->header->tenant_id, id, t->name, t->colour, t->description,
                            now, ev.event_id, ev.payload_hex};
    PGresult *res = crm_db_query(call->db, &s_tag_insert, params);
    crm_outbox_event_reset(&ev);
    int code = 201;
    if (!res)
        code = strcmp(crm_db_sqlstate(call->db), "23505") == 0
                   ? contacts_tag_store_name_free(call, t->name, "")
                   : crm_call_db_failure(call);
    if (code == 0)  // the key refused it, yet no other tag has the name: a race lost
        code = crm_call_db_failure(call);
    PQclear(res);
    return code;
}

int contacts_tag_store_update(crm_call_t *call, Crm__Contacts__Tag *t, const char *previous,
                              char **changed, size_t n_changed) {
    char now[40];
    crm_time_now(now, sizeof now);
    crm_pb_string_set(&t->updated_at, now);
    Crm__Events__TagUpdated event = CRM__EVENTS__TAG_UPDATED__INIT;
    event.tag = t;
    event.previous_name = (char *)previous;
    event.changed = changed;
    event.n_changed = n_changed;
    event.actor_id = call->header->actor_id;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    const char *params[] = {call->header->tenant_id, t->id, t->name, t->colour, t->description,
                            now, ev.event_id, ev.payload_hex, previous,
                            call->header->actor_id};
    int rows = s_write(call, &s_tag_update, params);
    crm_outbox_event_reset(&ev);
    return rows == 1 ? 200 : rows > 1 ? 500 : rows;
}

int contacts_tag_store_delete(crm_call_t *call, const Crm__Contacts__Tag *t) {
    char now[40];
    crm_time_now(now, sizeof now);
    Crm__Events__TagDeleted event = CRM__EVENTS__TAG_DELETED__INIT;
    event.tag_id = t->id;
    event.name = t->name;
    event.actor_id = call->header->actor_id;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    const char *params[] = {call->header->tenant_id, t->id, t->name, now, ev.event_id,
                            ev.payload_hex, call->header->actor_id};
    int rows = s_write(call, &s_tag_delete, params);
    crm_outbox_event_reset(&ev);
    return rows == 1 ? 204 : rows > 1 ? 500 : rows;
}

int contacts_tag_store_merge(crm_call_t *call, const Crm__Contacts__Tag *from,
                             Crm__Contacts__Tag *into) {
    char now[40];
    crm_time_now(now, sizeof now);
    Crm__Events__TagsMerged event = CRM__EVENTS__TAGS_MERGED__INIT;
    event.from_id = from->id;
    event.from_name = from->name;
    event.into = into;
    event.actor_id = call->header->actor_id;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    const char *params[] = {call->header->tenant_id, from->id, into->id, from->name,
                            into->name, now, ev.event_id, ev.payload_hex,
                            call->header->actor_id};
    int rows = s_write(call, &s_tag_merge, params);
    crm_outbox_event_reset(&ev);
    return rows == 1 ? 200 : rows > 1 ? 500 : rows;
}

// --- a contact's tags (the contact's checks call these) --------------------------------

int contacts_tags_resolve(crm_call_t *call, const char *prefix, char **names, size_t n) {
    if (n == 0)
        return 0;
    char *array = crm_db_text_array((const char *const *)names, n);
    const char *params[] = {call->header->tenant_id, array};
    PGresult *res = crm_db_query(call->db, &s_tag_resolve, params);
    free(array);
    if (!res)
        return crm_call_db_failure(call);
    for (size_t i = 0; i < n && (int)i < PQntuples(res); i++) {
        char field[64];
        snprintf(field, sizeof field, "%stags[%zu]", prefix, i);
        if (PQgetisnull(res, (int)i, 0))
            crm_call_field_error(call, field,
                                 "is not in the tag catalogue (create it with POST /v1/tags)");
        else
            crm_pb_string_set(&names[i], PQgetvalue(res, (int)i, 0));
    }
    PQclear(res);
    return call->errors.n ? 422 : 0;
}

int contacts_tag_canonical(crm_call_t *call, const char *field, char **name) {
    crm_errors_t errors = {0};
    if (contacts_tag_name_check(*name, field, &errors))
        return crm_call_fail(call, &errors);
    const char *names[] = {*name};
    char *array = crm_db_text_array(names, 1);
    const char *params[] = {call->header->tenant_id, array};
    PGresult *res = crm_db_query(call->db, &s_tag_resolve, params);
    free(array);
    if (!res)
        return crm_call_db_failure(call);
    int code = 0;
    if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
        crm_call_field_error(call, field,
                             "is not in the tag catalogue (create it with POST /v1/tags)");
        code = 422;
    } else
        crm_pb_string_set(name, PQgetvalue(res, 0, 0));
    PQclear(res);
    return code;
}
