/*  field_store: the SQL of the tenant's definitions and their events (field.c holds the
    rules, field_methods.c the methods).

    Contacts hold custom values by key in profile->'customFields' (profile.c checks
    them against these definitions). Deleting a field removes every contact's value in
    the same statement as its event; removing a select option, or a phone type, that a
    contact still uses is refused with the count, so no value is lost unseen.
*/
#include "contacts.h"
#include "outbox.h"
#include "ids.h"
#include "json_pb.h"
#include "rows.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 100
#define MAX_PHONE_TYPES 50

#define FIELD_JSON                                                                            \
    "json_build_object('key', f.key, 'label', f.label, 'type', f.type, 'options', f.options," \
    " 'createdAt', " CONTACTS_TS("f.created_at") ","                                          \
    " 'updatedAt', " CONTACTS_TS("f.updated_at") ")::text"

#define FIELD_GET_SQL                                                                         \
    "SELECT " FIELD_JSON " FROM contact_fields f WHERE f.tenant_id = $1 AND f.key = $2"

static const crm_stmt_t s_field_get = {.name = "fields_get", .sql = FIELD_GET_SQL, .nparams = 2};

static const crm_stmt_t s_field_get_for_update = {
    .name = "fields_get_for_update", .sql = FIELD_GET_SQL " FOR UPDATE", .nparams = 2};

static const crm_stmt_t s_field_list = {
    .name = "fields_list",
    .sql = "SELECT " FIELD_JSON " FROM contact_fields f WHERE f.tenant_id = $1 ORDER BY f.key",
    .nparams = 1};

static const crm_stmt_t s_field_count = {
    .name = "fields_count",
    .sql = "SELECT count(*) FROM contact_fields WHERE tenant_id = $1",
    .nparams = 1};

//  The event's aggregate is the field: "field:<key>".
#define FIELD_EVENT_SQL(type, row) \
    CONTACTS_OUTBOX_AGG_SQL(type, row, "'field:' || $2", "$3", "$4", "$5")

//  $1 tenant, $2 key, $3 time, $4 event id, $5 payload, $6 label, $7 type, $8 options.
static const crm_stmt_t s_field_insert = {
    .name = "fields_insert",
    .sql = "WITH ins AS ("
           "  INSERT INTO contact_fields (tenant_id, key, label, type, options, created_at,"
           "                              updated_at)"
           "  VALUES ($1, $2, $6, $7, $8::text[], $3::timestamptz, $3::timestamptz)"
           "  ON CONFLICT DO NOTHING RETURNING 1),"
           FIELD_EVENT_SQL("CustomFieldDefined", "ins")
           " SELECT count(*) FROM ins",
    .nparams = 8,
    .writes = true};

static const crm_stmt_t s_field_update = {
    .name = "fields_update",
    .sql = "WITH upd AS ("
           "  UPDATE contact_fields SET label = $6, options = $8::text[],"
           "    updated_at = $3::timestamptz"
           "  WHERE tenant_id = $1 AND key = $2 AND type = $7 RETURNING 1),"
           FIELD_EVENT_SQL("CustomFieldDefined", "upd")
           " SELECT count(*) FROM upd",
    .nparams = 8,
    .writes = true};

static const crm_stmt_t s_field_delete = {
    .name = "fields_delete",
    .sql = "WITH del AS ("
           "  DELETE FROM contact_fields WHERE tenant_id = $1 AND key = $2 RETURNING 1),"
           " cleared AS ("
           "  UPDATE contacts SET updated_by = $6, updated_at = $3::timestamptz,"
           "    profile = jsonb_set(profile, '{customFields}', (profile->'customFields') - $2)"
           "  WHERE tenant_id = $1 AND EXISTS (SELECT 1 FROM del)"
           "    AND profile->'customFields' ? $2),"
           FIELD_EVENT_SQL("CustomFieldDeleted", "del")
           " SELECT count(*) FROM del",
    .nparams = 6,
    .writes = true};

//  How many live contacts hold one of the values in $3 for the field $2.
static const crm_stmt_t s_option_used = {
    .name = "fields_option_used",
    .sql = "SELECT v, count(*) FROM ("
           "  SELECT profile->'customFields'->>$2 AS v FROM contacts"
           "  WHERE tenant_id = $1 AND deleted_at IS NULL AND profile->'customFields' ? $2) c"
           " WHERE v = ANY ($3::text[]) GROUP BY v ORDER BY v LIMIT 1",
    .nparams = 3};

static const crm_stmt_t s_phone_type_insert = {
    .name = "phone_types_insert",
    .sql = "INSERT INTO contact_phone_types (tenant_id, name, name_norm, created_at)"
           " SELECT $1, $2, lower($2), $3::timestamptz"
           " WHERE (SELECT count(*) FROM contact_phone_types WHERE tenant_id = $1) < $4::int"
           " ON CONFLICT DO NOTHING RETURNING 1",
    .nparams = 4,
    .writes = true};

static const crm_stmt_t s_phone_type_list = {
    .name = "phone_types_list",
    .sql = "SELECT name, " CONTACTS_TS("created_at") " FROM contact_phone_types"
           " WHERE tenant_id = $1 ORDER BY name_norm",
    .nparams = 1};

static const crm_stmt_t s_phone_type_count = {
    .name = "phone_types_count",
    .sql = "SELECT (SELECT count(*) FROM contact_phone_types WHERE tenant_id = $1),"
           " EXISTS (SELECT 1 FROM contact_phone_types WHERE tenant_id = $1"
           "         AND name_norm = lower($2))",
    .nparams = 2};

//  Removes the type unless a live contact's phone has it: the count of such contacts.
static const crm_stmt_t s_phone_type_delete = {
    .name = "phone_types_delete",
    .sql = "WITH used AS ("
           "  SELECT count(*) AS n FROM contacts c"
           "  WHERE c.tenant_id = $1 AND c.deleted_at IS NULL AND EXISTS ("
           "    SELECT 1 FROM jsonb_array_elements(c.phones) p"
           "    WHERE lower(p->>'customType') = lower($2))),"
           " del AS ("
           "  DELETE FROM contact_phone_types WHERE tenant_id = $1 AND name_norm = lower($2)"
           "    AND (SELECT n FROM used) = 0 RETURNING 1)"
           " SELECT (SELECT count(*) FROM del), (SELECT n FROM used)",
    .nparams = 2,
    .writes = true};

// --- custom fields ------------------------------------------------------------------------

int contacts_field_store_get(crm_call_t *call, const char *key, bool for_update,
                             Crm__Contacts__CustomField **out) {
    const char *params[] = {call->header->tenant_id, key};
    return crm_row_read_one(call, for_update ? &s_field_get_for_update : &s_field_get, params,
                            &crm__contacts__custom_field__descriptor, "custom field",
                            (ProtobufCMessage **)out);
}

int contacts_field_store_list(crm_call_t *call, Crm__Contacts__ListCustomFieldsResponse **out) {
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_field_list, params);
    if (!res)
        return crm_call_db_failure(call);
    Crm__Contacts__ListCustomFieldsResponse *list = malloc(sizeof *list);
    crm__contacts__list_custom_fields_response__init(list);
    int rows = PQntuples(res);
    list->items = rows ? calloc(rows, sizeof *list->items) : NULL;
    for (int i = 0; i < rows; i++) {
        Crm__Contacts__CustomField *f = (Crm__Contacts__CustomField *)crm_row_decode(
            call, &crm__contacts__custom_field__descriptor, PQgetvalue(res, i, 0), "custom field");
        if (!f) {
            PQclear(res);
            crm__contacts__list_custom_fields_response__free_unpacked(list, NULL);
            return 500;
        }
        list->items[list->n_items++] = f;
    }
    PQclear(res);
    *out = list;
    return 200;
}

//  Write a definition with its event (CustomFieldDefined); the statement's count.
static int s_field_write(crm_call_t *call, const crm_stmt_t *stmt, Crm__Contacts__CustomField *f,
                         bool created) {
    char now[40], type[16];
    crm_time_now(now, sizeof now);
    if (created)
        crm_pb_string_set(&f->created_at, now);
    crm_pb_string_set(&f->updated_at, now);
    crm_enum_json_name(&crm__contacts__custom_field_type__descriptor, f->type, type, sizeof type);
    Crm__Events__CustomFieldDefined event = CRM__EVENTS__CUSTOM_FIELD_DEFINED__INIT;
    event.field = f;
    event.created = created;
    event.actor_id = call->header->actor_id;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    char *options = crm_db_text_array((const char *const *)f->options, f->n_options);
    const char *params[] = {call->header->tenant_id, f->key, now, ev.event_id, ev.payload_hex,
                            f->label, type, options};
    PGresult *res = crm_db_query(call->db, stmt, params);
    free(options);
    crm_outbox_event_reset(&ev);
    if (!res)
        return -crm_call_db_failure(call);
    int rows = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return rows;
}

int contacts_field_store_insert(crm_call_t *call, Crm__Contacts__CustomField *f) {
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_field_count, params);
    int code = 0;
    if (!res)
        code = crm_call_db_failure(call);
    else if (atoi(PQgetvalue(res, 0, 0)) >= MAX_FIELDS) {
        crm_call_error(call, "conflict", "a tenant may define at most %d custom fields",
                       MAX_FIELDS);
        code = 409;
    }
    PQclear(res);
    if (code)
        return code;
    int rows = s_field_write(call, &s_field_insert, f, true);
    if (rows < 0)
        return -rows;
    if (rows == 0) {
        crm_call_field_error(call, "key", "is already a custom field of this tenant");
        crm_call_error(call, "conflict", "a custom field with this key exists");
        return 409;
    }
    return 201;
}

int contacts_field_store_update(crm_call_t *call, Crm__Contacts__CustomField *f, json_t *gone) {
    int code = 0;
    if (json_array_size(gone)) {
        size_t n = json_array_size(gone);
        const char **names = calloc(n, sizeof *names);
        for (size_t i = 0; i < n; i++)
            names[i] = json_string_value(json_array_get(gone, i));
        char *array = crm_db_text_array(names, n);
        free(names);
        const char *params[] = {call->header->tenant_id, f->key, array};
        PGresult *res = crm_db_query(call->db, &s_option_used, params);
        free(array);
        if (!res)
            code = crm_call_db_failure(call);
        else if (PQntuples(res)) {
            crm_call_field_error(call, "options", "must keep \"%s\": %s contacts hold it",
                                 PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
            crm_call_error(call, "conflict", "an option removed is still in use");
            code = 409;
        }
        PQclear(res);
    }
    if (code)
        return code;
    int rows = s_field_write(call, &s_field_update, f, false);
    return rows < 0 ? -rows : rows == 1 ? 200 : 500;
}

int contacts_field_store_delete(crm_call_t *call, const char *key) {
    char now[40];
    crm_time_now(now, sizeof now);
    Crm__Events__CustomFieldDeleted event = CRM__EVENTS__CUSTOM_FIELD_DELETED__INIT;
    event.key = (char *)key;
    event.actor_id = call->header->actor_id;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    const char *params[] = {call->header->tenant_id, key, now, ev.event_id, ev.payload_hex,
                            call->header->actor_id};
    PGresult *res = crm_db_query(call->db, &s_field_delete, params);
    crm_outbox_event_reset(&ev);
    if (!res)
        return crm_call_db_failure(call);
    int rows = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (rows == 0) {
        crm_call_error(call, "not_found", "no such custom field");
        return 404;
    }
    return 204;
}

// --- phone types --------------------------------------------------------------------------

int contacts_phone_type_store_insert(crm_call_t *call, Crm__Contacts__PhoneTypeDef *t) {
    int code = 0;
    char now[40], limit[8];
    crm_time_now(now, sizeof now);
    snprintf(limit, sizeof limit, "%d", MAX_PHONE_TYPES);
    const char *params[] = {call->header->tenant_id, t->name, now, limit};
    PGresult *res = crm_db_query(call->db, &s_phone_type_insert, params);
    if (!res)
        code = crm_call_db_failure(call);
    else if (PQntuples(res) == 1)
        code = 201;
    PQclear(res);
    if (code == 0) {  // not written: the name is taken, or the tenant has the most
        const char *params[] = {call->header->tenant_id, t->name};
        PGresult *res = crm_db_query(call->db, &s_phone_type_count, params);
        if (!res)
            code = crm_call_db_failure(call);
        else if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
            crm_call_field_error(call, "name", "is already a phone type of this tenant");
            crm_call_error(call, "conflict", "a phone type with this name exists");
            code = 409;
        } else {
            crm_call_error(call, "conflict", "a tenant may define at most %d phone types",
                           MAX_PHONE_TYPES);
            code = 409;
        }
        PQclear(res);
    }
    if (code == 201)
        crm_pb_string_set(&t->created_at, now);
    return code;
}

int contacts_phone_type_store_list(crm_call_t *call, Crm__Contacts__ListPhoneTypesResponse **out) {
    const char *params[] = {call->header->tenant_id};
    PGresult *res = crm_db_query(call->db, &s_phone_type_list, params);
    if (!res)
        return crm_call_db_failure(call);
    Crm__Contacts__ListPhoneTypesResponse *list = malloc(sizeof *list);
    crm__contacts__list_phone_types_response__init(list);
    int rows = PQntuples(res);
    list->items = rows ? calloc(rows, sizeof *list->items) : NULL;
    for (int i = 0; i < rows; i++) {
        Crm__Contacts__PhoneTypeDef *t = malloc(sizeof *t);
        crm__contacts__phone_type_def__init(t);
        t->name = strdup(PQgetvalue(res, i, 0));
        t->created_at = strdup(PQgetvalue(res, i, 1));
        list->items[list->n_items++] = t;
    }
    PQclear(res);
    *out = list;
    return 200;
}

int contacts_phone_type_store_delete(crm_call_t *call, const char *name) {
    const char *params[] = {call->header->tenant_id, name};
    PGresult *res = crm_db_query(call->db, &s_phone_type_delete, params);
    if (!res)
        return crm_call_db_failure(call);
    int deleted = atoi(PQgetvalue(res, 0, 0)), used = atoi(PQgetvalue(res, 0, 1));
    PQclear(res);
    if (deleted)
        return 204;
    if (used) {
        crm_call_error(call, "conflict", "%d contacts have a phone of this type; change them first",
                       used);
        return 409;
    }
    crm_call_error(call, "not_found", "no such phone type");
    return 404;
}
