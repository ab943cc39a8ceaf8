/*  template_store: the SQL of message templates (template.c holds the rules,
    template_methods.c the methods). Every statement is scoped by the caller's tenant, so
    another tenant's template is 404. Names are unique per tenant without regard to case
    (the index templates_name). Templates have no events yet.
*/
#include "notify.h"
#include "ids.h"
#include "json_pb.h"
#include "rows.h"

#include <stdlib.h>
#include <string.h>

#define TEMPLATE_JSON                                                                              \
    "json_build_object('id', t.id, 'name', t.name, 'channel', t.channel,"                          \
    " 'purpose', t.purpose, 'subject', t.subject, 'bodyText', t.body_text,"                        \
    " 'bodyHtml', t.body_html,"                                                                    \
    " 'createdAt', " CRM_SQL_TS("t.created_at") ","                                                \
                                                " 'updatedAt', " CRM_SQL_TS(                       \
                                                    "t.updated_at") ")::text"

static const crm_stmt_t s_get = {
    .name = "templates_get",
    .sql = "SELECT " TEMPLATE_JSON " FROM templates t WHERE t.tenant_id = $1 AND t.id = $2::uuid",
    .nparams = 2};

//  A page after id $2 ('' for the first), of channel $3 ('' for any); $4 rows.
static const crm_stmt_t s_list = {
    .name = "templates_list",
    .sql = "SELECT " TEMPLATE_JSON ", t.id::text FROM templates t WHERE t.tenant_id = $1"
           " AND ($2 = '' OR t.id > nullif($2, '')::uuid) AND ($3 = '' OR t.channel = $3)"
           " ORDER BY t.id LIMIT $4::int",
    .nparams = 4};

//  The template other than $3 that holds the name $2 (any case).
static const crm_stmt_t s_name_taken = {
    .name = "templates_name_taken",
    .sql = "SELECT id::text FROM templates WHERE tenant_id = $1 AND lower(name) = lower($2)"
           " AND id <> coalesce(nullif($3, '')::uuid, '00000000-0000-0000-0000-000000000000')",
    .nparams = 3};

static const crm_stmt_t s_insert = {
    .name = "templates_insert",
    .sql = "INSERT INTO templates (tenant_id, id, name, channel, purpose, subject, body_text,"
           "                       body_html, created_at, updated_at)"
           " VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8, $9::timestamptz, $9::timestamptz)"
           " ON CONFLICT DO NOTHING RETURNING 1",
    .nparams = 9,
    .writes = true};

static const crm_stmt_t s_update = {
    .name = "templates_update",
    .sql = "UPDATE templates SET name = $3, channel = $4, purpose = $5, subject = $6,"
           " body_text = $7, body_html = $8, updated_at = $9::timestamptz"
           " WHERE tenant_id = $1 AND id = $2::uuid RETURNING 1",
    .nparams = 9,
    .writes = true};

static const crm_stmt_t s_delete = {
    .name = "templates_delete",
    .sql = "DELETE FROM templates WHERE tenant_id = $1 AND id = $2::uuid RETURNING 1",
    .nparams = 2,
    .writes = true};

int notify_template_store_get(crm_call_t *call, const char *id, Crm__Notify__Template **out) {
    const char *params[] = {call->header->tenant_id, id};
    return crm_row_read_one(call, &s_get, params, &crm__notify__template__descriptor, "template",
                            (ProtobufCMessage **)out);
}

int notify_template_store_list(crm_call_t *call, const char *after_id, const char *channel,
                               int limit, Crm__Notify__ListTemplatesResponse **out) {
    char rows_text[16];
    snprintf(rows_text, sizeof rows_text, "%d", limit + 1); // one more: is there a next page?
    const char *params[] = {call->header->tenant_id, after_id, channel, rows_text};
    PGresult *res = crm_db_query(call->db, &s_list, params);
    if (!res)
        return crm_call_db_failure(call);
    Crm__Notify__ListTemplatesResponse *list = malloc(sizeof *list);
    crm__notify__list_templates_response__init(list);
    int code = crm_rows_into(call, res, limit, &list->base, "items", "template");
    if (code == 0 && PQntuples(res) > limit && list->n_items > 0)
        crm_pb_string_set(&list->next_cursor, PQgetvalue(res, (int)list->n_items - 1, 1));
    PQclear(res);
    if (code) {
        crm__notify__list_templates_response__free_unpacked(list, NULL);
        return code;
    }
    *out = list;
    return 200;
}

int notify_template_store_name_free(crm_call_t *call, const char *name, const char *except_id) {
    const char *params[] = {call->header->tenant_id, name, except_id};
    PGresult *res = crm_db_query(call->db, &s_name_taken, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 0;
    if (PQntuples(res)) {
        snprintf(call->conflict_id, sizeof call->conflict_id, "%s", PQgetvalue(res, 0, 0));
        crm_call_field_error(call, "name", "is already the name of template %s", call->conflict_id);
        crm_call_error(call, "duplicate_template", "a template with this name exists: %s",
                       call->conflict_id);
        code = 409;
    }
    PQclear(res);
    return code;
}

//  Write t with stmt: the statement's count of rows, or -code on failure.
static int s_write(crm_call_t *call, const crm_stmt_t *stmt, Crm__Notify__Template *t) {
    char now[40], channel[16], purpose[24];
    crm_time_now(now, sizeof now);
    if (stmt == &s_insert)
        crm_pb_string_set(&t->created_at, now);
    crm_pb_string_set(&t->updated_at, now);
    crm_enum_api_name(&crm__notify__channel__descriptor, (int)t->channel, channel, sizeof channel);
    crm_enum_api_name(&crm__notify__purpose__descriptor, (int)t->purpose, purpose, sizeof purpose);
    const char *params[] = {call->header->tenant_id,
                            t->id,
                            t->name,
                            channel,
                            purpose,
                            t->subject,
                            t->body_text,
                            t->body_html,
                            now};
    PGresult *res = crm_db_query(call->db, stmt, params);
    if (!res) {
        if (strcmp(crm_db_sqlstate(call->db), "23505") == 0) { // the name, taken meanwhile
            crm_call_field_error(call, "name", "is already the name of another template");
            crm_call_error(call, "duplicate_template", "a template with this name exists");
            return -409;
        }
        return -crm_call_db_failure(call);
    }
    int rows = PQntuples(res);
    PQclear(res);
    return rows;
}

int notify_template_store_insert(crm_call_t *call, Crm__Notify__Template *t) {
    int rows = s_write(call, &s_insert, t);
    if (rows < 0)
        return -rows;
    if (rows > 0)
        return 201;
    //  The name was taken meanwhile.
    int code = notify_template_store_name_free(call, t->name, "");
    return code ? code : crm_call_db_failure(call);
}

int notify_template_store_update(crm_call_t *call, Crm__Notify__Template *t) {
    int rows = s_write(call, &s_update, t);
    if (rows < 0)
        return -rows;
    if (rows == 0) {
        crm_call_error(call, "not_found", "no such template");
        return 404;
    }
    return 200;
}

int notify_template_store_delete(crm_call_t *call, const char *id) {
    const char *params[] = {call->header->tenant_id, id};
    PGresult *res = crm_db_query(call->db, &s_delete, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    PQclear(res);
    if (!rows) {
        crm_call_error(call, "not_found", "no such template");
        return 404;
    }
    return 204;
}

static const crm_stmt_t s_read = {
    .name = "templates_read",
    .sql = "SELECT " TEMPLATE_JSON " FROM templates t WHERE t.tenant_id = $1 AND t.id = $2::uuid",
    .nparams = 2};

int notify_template_store_read(crm_db_t *db, const char *tenant_id, const char *id,
                               Crm__Notify__Template **out) {
    *out = NULL;
    if (!crm_uuid_valid(id))
        return 0;
    const char *params[] = {tenant_id, id};
    PGresult *res = crm_db_query(db, &s_read, params);
    if (!res)
        return -1;
    if (PQntuples(res)) {
        crm_json_error_t err;
        const char *text = PQgetvalue(res, 0, 0);
        *out = (Crm__Notify__Template *)crm_json_to_pb(&crm__notify__template__descriptor, text,
                                                       strlen(text), &err);
    }
    PQclear(res);
    return 0;
}
