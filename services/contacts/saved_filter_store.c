/*  saved_filter_store: the SQL of saved filters (saved_filter.c holds the rules,
    saved_filter_methods.c the methods). Each belongs to the actor that saved it: every
    statement names the owner, so another team member, even of the same tenant, neither
    sees nor runs it. The filter is kept in the API's shape (saved_filters.filter).
*/
#include "contacts.h"
#include "ids.h"
#include "json_pb.h"
#include "rows.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PER_OWNER 200

#define FILTER_JSON                                                                           \
    "json_build_object('id', f.id, 'name', f.name, 'filter', f.filter,"                       \
    " 'createdAt', " CONTACTS_TS("f.created_at") ","                                          \
    " 'updatedAt', " CONTACTS_TS("f.updated_at") ")::text"

#define FILTER_GET_SQL                                                                        \
    "SELECT " FILTER_JSON " FROM saved_filters f"                                             \
    " WHERE f.tenant_id = $1 AND f.owner = $2 AND f.id = $3::uuid"

static const crm_stmt_t s_get = {.name = "saved_filters_get", .sql = FILTER_GET_SQL, .nparams = 3};

static const crm_stmt_t s_list = {
    .name = "saved_filters_list",
    .sql = "SELECT " FILTER_JSON " FROM saved_filters f WHERE f.tenant_id = $1 AND f.owner = $2"
           " ORDER BY lower(f.name), f.id",
    .nparams = 2};

//  Written unless the owner has the most, or the name (its count of rows, 0 or 1).
static const crm_stmt_t s_insert = {
    .name = "saved_filters_insert",
    .sql = "INSERT INTO saved_filters (tenant_id, owner, id, name, filter, created_at, updated_at)"
           " SELECT $1, $2, $3::uuid, $4, $5::jsonb, $6::timestamptz, $6::timestamptz"
           " WHERE (SELECT count(*) FROM saved_filters WHERE tenant_id = $1 AND owner = $2)"
           "       < $7::int"
           " ON CONFLICT DO NOTHING RETURNING 1",
    .nparams = 7,
    .writes = true};

static const crm_stmt_t s_update = {
    .name = "saved_filters_update",
    .sql = "UPDATE saved_filters SET name = $4, filter = $5::jsonb, updated_at = $6::timestamptz"
           " WHERE tenant_id = $1 AND owner = $2 AND id = $3::uuid RETURNING 1",
    .nparams = 6,
    .writes = true};

static const crm_stmt_t s_delete = {
    .name = "saved_filters_delete",
    .sql = "DELETE FROM saved_filters WHERE tenant_id = $1 AND owner = $2 AND id = $3::uuid"
           " RETURNING 1",
    .nparams = 3,
    .writes = true};

static const crm_stmt_t s_name_taken = {
    .name = "saved_filters_name_taken",
    .sql = "SELECT id::text FROM saved_filters WHERE tenant_id = $1 AND owner = $2"
           " AND lower(name) = lower($3)"
           " AND id <> coalesce(nullif($4, '')::uuid, '00000000-0000-0000-0000-000000000000')",
    .nparams = 4};

int contacts_saved_filter_store_get(crm_call_t *call, const char *id,
                                    Crm__Contacts__SavedFilter **out) {
    const char *params[] = {call->header->tenant_id, call->header->actor_id, id};
    return crm_row_read_one(call, &s_get, params, &crm__contacts__saved_filter__descriptor,
                            "saved filter", (ProtobufCMessage **)out);
}

int contacts_saved_filter_store_list(crm_call_t *call,
                                     Crm__Contacts__ListSavedFiltersResponse **out) {
    const char *params[] = {call->header->tenant_id, call->header->actor_id};
    PGresult *res = crm_db_query(call->db, &s_list, params);
    if (!res)
        return crm_call_db_failure(call);
    Crm__Contacts__ListSavedFiltersResponse *list = malloc(sizeof *list);
    crm__contacts__list_saved_filters_response__init(list);
    int code = crm_rows_into(call, res, -1, &list->base, "items", "saved filter");
    PQclear(res);
    if (code) {
        crm__contacts__list_saved_filters_response__free_unpacked(list, NULL);
        return code;
    }
    *out = list;
    return 200;
}

int contacts_saved_filter_store_name_free(crm_call_t *call, const char *name,
                                          const char *except_id) {
    const char *params[] = {call->header->tenant_id, call->header->actor_id, name, except_id};
    PGresult *res = crm_db_query(call->db, &s_name_taken, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 0;
    if (PQntuples(res)) {
        snprintf(call->conflict_id, sizeof call->conflict_id, "%s", PQgetvalue(res, 0, 0));
        crm_call_field_error(call, "name", "is already the name of your saved filter %s",
                             call->conflict_id);
        crm_call_error(call, "conflict", "you have a saved filter with this name");
        code = 409;
    }
    PQclear(res);
    return code;
}

//  Write f (insert or update); the statement's count, or -code on failure.
static int s_write(crm_call_t *call, const crm_stmt_t *stmt, Crm__Contacts__SavedFilter *f) {
    char now[40], limit[16];
    crm_time_now(now, sizeof now);
    snprintf(limit, sizeof limit, "%d", MAX_PER_OWNER);
    if (stmt == &s_insert)
        crm_pb_string_set(&f->created_at, now);
    crm_pb_string_set(&f->updated_at, now);
    json_t *filter = crm_pb_to_json_value(&f->filter->base);
    char *filter_text = json_dumps(filter, JSON_COMPACT);
    json_decref(filter);
    const char *params[] = {call->header->tenant_id, call->header->actor_id, f->id, f->name,
                            filter_text, now, limit};
    PGresult *res = crm_db_query(call->db, stmt, params);
    free(filter_text);
    if (!res)
        return -crm_call_db_failure(call);
    int rows = PQntuples(res);
    PQclear(res);
    return rows;
}

int contacts_saved_filter_store_insert(crm_call_t *call, Crm__Contacts__SavedFilter *f) {
    int rows = s_write(call, &s_insert, f);
    if (rows < 0)
        return -rows;
    if (rows > 0)
        return 201;
    //  The name was taken meanwhile, or the owner has the most.
    int code = contacts_saved_filter_store_name_free(call, f->name, "");
    if (code == 0) {
        crm_call_error(call, "conflict", "you may keep at most %d saved filters", MAX_PER_OWNER);
        code = 409;
    }
    return code;
}

int contacts_saved_filter_store_update(crm_call_t *call, Crm__Contacts__SavedFilter *f) {
    int rows = s_write(call, &s_update, f);
    int code = rows < 0 ? -rows : rows == 1 ? 200 : 404;
    if (code == 404)
        crm_call_error(call, "not_found", "no such saved filter");
    return code;
}

int contacts_saved_filter_store_delete(crm_call_t *call, const char *id) {
    const char *params[] = {call->header->tenant_id, call->header->actor_id, id};
    PGresult *res = crm_db_query(call->db, &s_delete, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    PQclear(res);
    if (!rows) {
        crm_call_error(call, "not_found", "no such saved filter");
        return 404;
    }
    return 204;
}
