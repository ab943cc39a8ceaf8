/*  contact_store: a contact's SQL: its writes (create, update, delete, each with its
    event in the same statement), its reads (one contact, the match of an address or a
    number) and the tenant's data its rules ask about (contacts_contact_store_lookup).

    Rows come back as one JSON object in the API's shape (built by PostgreSQL) and go
    through the generic transcoder into the protobuf message, so the column-to-field
    mapping is written once, in CONTACT_JSON (contacts.h).
*/
#include "contacts.h"
#include "outbox.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

//  The first of the addresses in $11 that a contact (other than the one written) holds,
//  and its position: one primary-key lookup per address, a plan shape that stays right
//  however large the tenant grows.
#define DUP_SQL(other_contact)                                                                \
    "  SELECT e.contact_id, k.ord - 1 AS position"                                            \
    "  FROM unnest($11::text[]) WITH ORDINALITY AS k(address, ord)"                           \
    "  CROSS JOIN LATERAL (SELECT contact_id FROM contact_emails"                             \
    "    WHERE tenant_id = $1 AND address_norm = k.address" other_contact " LIMIT 1) e"       \
    "  LIMIT 1"

//  The event of a create or an update: $13 is the time of the change, $14 the event id,
//  $15 the payload.
#define OUTBOX_SQL(type, row) CONTACTS_OUTBOX_SQL(type, row, "$13", "$14", "$15")

//  What insert and update answer (s_written reads it): the duplicate and its position,
//  or the written row's timestamps.
#define WRITTEN_SQL(row)                                                                      \
    " SELECT (SELECT contact_id::text FROM dup), (SELECT position FROM dup),"                 \
    "  (SELECT " CONTACTS_TS("created_at") " FROM " row "),"                                  \
    "  (SELECT " CONTACTS_TS("updated_at") " FROM " row ")"

//  A create's row, its audit entry and its email keys.
#define CREATE_SQL                                                                            \
    " ins AS ("                                                                               \
    "  INSERT INTO contacts (tenant_id, id, kind, type, first_name, last_name, name, source," \
    "                        tags, emails, phones, created_at, updated_at,"                   \
    "                        supplier, assignee, organization_id, profile, updated_by)"       \
    "  SELECT $1, $2::uuid, $3, $4, $5, $6, $7, $8,"                                          \
    "         $9::text[], $10::jsonb, $12::jsonb, $13::timestamptz, $13::timestamptz,"        \
    "         $16::boolean, $17, $18::uuid, $19::jsonb, $20"                                  \
    "  RETURNING *),"                                                                         \
    CONTACTS_AUDIT_CREATED_WITH_SQL("ins", " || CASE WHEN $21 = 'true' THEN"                 \
                                    " '{\"allowDuplicate\": true}'::jsonb ELSE '{}' END")       \
    " keys AS ("                                                                              \
    "  INSERT INTO contact_emails (tenant_id, address_norm, contact_id)"                      \
    "  SELECT $1, a, $2::uuid FROM unnest($11::text[]) a"                                     \
    "  WHERE EXISTS (SELECT 1 FROM ins)),"

//  A create: the row, its audit entry, its email keys and ContactCreated, in one
//  statement. An address another contact holds fails it on contact_emails' key (the
//  create is then answered 409, naming the holder: s_email_holder).
static const crm_stmt_t s_insert = {
    .name = "contacts_insert",
    .sql = "WITH" CREATE_SQL OUTBOX_SQL("ContactCreated", "ins") " SELECT 1",
    .nparams = 21,
    .writes = true,
};

//  The first of the addresses in $2 (keys) that a contact holds, and its position.
static const crm_stmt_t s_email_holder = {
    .name = "contacts_email_holder",
    .sql = "SELECT e.contact_id::text, k.ord - 1"
           " FROM unnest($2::text[]) WITH ORDINALITY AS k(address, ord)"
           " CROSS JOIN LATERAL (SELECT contact_id FROM contact_emails"
           "   WHERE tenant_id = $1 AND address_norm = k.address LIMIT 1) e"
           " ORDER BY k.ord LIMIT 1",
    .nparams = 2};

#define GET_SQL                                                                               \
    "SELECT " CONTACT_JSON("c") " FROM contacts c"                                            \
    " WHERE c.tenant_id = $1 AND c.id = $2::uuid AND c.deleted_at IS NULL"

static const crm_stmt_t s_get = {.name = "contacts_get", .sql = GET_SQL, .nparams = 2};

static const crm_stmt_t s_get_for_update = {
    .name = "contacts_get_for_update", .sql = GET_SQL " FOR UPDATE", .nparams = 2};

static const crm_stmt_t s_update = {
    .name = "contacts_update",
    .sql =
    "WITH dup AS (" DUP_SQL(" AND contact_id <> $2::uuid") "),"
    " upd AS ("
    "  UPDATE contacts SET kind = $3, type = $4, first_name = $5, last_name = $6, name = $7,"
    "    source = $8, tags = $9::text[],"
    "    emails = $10::jsonb, phones = $12::jsonb, updated_at = $13::timestamptz,"
    "    supplier = $16::boolean, assignee = $17, organization_id = $18::uuid,"
    "    profile = $19::jsonb, updated_by = $20"
    "  WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL"
    "    AND NOT EXISTS (SELECT 1 FROM dup)"
    "  RETURNING *),"
    " old AS ("
    "  SELECT lower(e->>'address') AS address_norm"
    "  FROM contacts c, jsonb_array_elements(c.emails) e"
    "  WHERE c.tenant_id = $1 AND c.id = $2::uuid),"
    " gone AS ("
    "  DELETE FROM contact_emails WHERE tenant_id = $1 AND contact_id = $2::uuid"
    "    AND EXISTS (SELECT 1 FROM upd)"
    "    AND address_norm IN (SELECT address_norm FROM old)"
    "    AND NOT (address_norm = ANY ($11::text[]))),"
    " keys AS ("
    "  INSERT INTO contact_emails (tenant_id, address_norm, contact_id)"
    "  SELECT $1, a, $2::uuid FROM unnest($11::text[]) a"
    "  WHERE EXISTS (SELECT 1 FROM upd)"
    "  ON CONFLICT (tenant_id, address_norm) DO NOTHING),"
    OUTBOX_SQL("ContactUpdated", "upd")
    WRITTEN_SQL("upd"),
    .nparams = 20,
    .writes = true,
};

static const crm_stmt_t s_delete = {
    .name = "contacts_delete",
    .sql =
    "WITH del AS ("
    "  UPDATE contacts SET deleted_at = $3::timestamptz, updated_at = $3::timestamptz,"
    "    updated_by = $6"
    "  WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL"
    "  RETURNING id, emails, kind, name),"
    //  The people of an organization lose their link to it; one buying for it keeps its
    //  name as the company's.
    " unlinked AS ("
    "  UPDATE contacts p SET organization_id = NULL, updated_by = $6, updated_at = $3::timestamptz,"
    "    profile = (p.profile - 'organization') ||"
    "      CASE WHEN (p.profile->>'companyBuyer')::boolean"
    "             AND coalesce(p.profile->>'companyName', '') = ''"
    "           THEN jsonb_build_object('companyName', del.name) ELSE '{}' END"
    "  FROM del WHERE del.kind = 'organization' AND p.tenant_id = $1"
    "    AND p.organization_id = $2::uuid),"
    " keys AS ("
    "  DELETE FROM contact_emails WHERE tenant_id = $1 AND contact_id = $2::uuid"
    "    AND address_norm IN (SELECT lower(e->>'address')"
    "                         FROM del, jsonb_array_elements(del.emails) e)),"
    CONTACTS_OUTBOX_SQL("ContactDeleted", "del", "$3", "$4", "$5")
    " SELECT count(*) FROM del",
    .nparams = 6,
    .writes = true,
};

//  The contact an email address ($2, normalised) or phone number ($3, E.164) belongs to,
//  email first.
static const crm_stmt_t s_match = {
    .name = "contacts_match",
    .sql = "SELECT " CONTACT_JSON("c") ", m.how FROM ("
           "  SELECT e.contact_id AS id, 'email' AS how, 1 AS pref FROM contact_emails e"
           "  WHERE $2 <> '' AND e.tenant_id = $1 AND e.address_norm = $2"
           "  UNION ALL"
           "  (SELECT p.id, 'phone', 2 FROM contacts p"
           "   WHERE $3 <> '' AND p.tenant_id = $1 AND p.deleted_at IS NULL"
           "     AND jsonb_path_query_array(p.phones, '$[*].number') @> jsonb_build_array($3)"
           "   ORDER BY p.created_at LIMIT 1)) m"
           " JOIN contacts c ON c.tenant_id = $1 AND c.id = m.id AND c.deleted_at IS NULL"
           " ORDER BY m.pref LIMIT 1",
    .nparams = 3};

//  --- What the rules ask (contacts_lookup_t) ------------------------------------------------

//  The catalogue's spelling of each tag in $2, in order (NULL: not in the catalogue).
static const crm_stmt_t s_tag_spellings = {
    .name = "contact_tag_spellings",
    .sql = "SELECT t.name FROM unnest($2::text[]) WITH ORDINALITY AS k(name, ord)"
           " LEFT JOIN tags t ON t.tenant_id = $1 AND t.name_norm = lower(k.name)"
           " ORDER BY k.ord",
    .nparams = 2};

//  The tenant's spelling of each phone type in $2, in order (NULL: not one of its types).
static const crm_stmt_t s_phone_types = {
    .name = "contact_phone_types",
    .sql = "SELECT t.name FROM unnest($2::text[]) WITH ORDINALITY AS k(name, ord)"
           " LEFT JOIN contact_phone_types t ON t.tenant_id = $1 AND t.name_norm = lower(k.name)"
           " ORDER BY k.ord",
    .nparams = 2};

//  The definition of each custom field key in $2, in order, as "type options-json"
//  (NULL: not a field of the tenant).
static const crm_stmt_t s_field_defs = {
    .name = "contact_field_defs",
    .sql = "SELECT f.type || ' ' || coalesce(to_json(f.options)::text, '[]')"
           " FROM unnest($2::text[]) WITH ORDINALITY AS k(key, ord)"
           " LEFT JOIN contact_fields f ON f.tenant_id = $1 AND f.key = k.key"
           " ORDER BY k.ord",
    .nparams = 2};

//  The kind of a live contact of the tenant ($2), if any.
static const crm_stmt_t s_contact_kind = {
    .name = "contact_kind",
    .sql = "SELECT kind FROM contacts WHERE tenant_id = $1 AND id = $2::uuid"
           " AND deleted_at IS NULL",
    .nparams = 2};

//  Answer one question: one row per name asked, in order.
static int s_answer(crm_db_t *db, const crm_stmt_t *stmt, const char *tenant_id,
                    contacts_ask_t *ask) {
    if (!ask->n)
        return 0;
    char *array = crm_db_text_array(ask->names, ask->n);
    const char *params[] = {tenant_id, array};
    PGresult *res = crm_db_query(db, stmt, params);
    free(array);
    if (!res)
        return -1;
    for (size_t k = 0; k < ask->n && (int)k < PQntuples(res); k++)
        if (!PQgetisnull(res, (int)k, 0))
            ask->answers[k] = strdup(PQgetvalue(res, (int)k, 0));
    PQclear(res);
    return 0;
}

int contacts_contact_store_lookup(crm_db_t *db, const char *tenant_id, contacts_lookup_t *lookup) {
    if (s_answer(db, &s_tag_spellings, tenant_id, &lookup->tags) ||
        s_answer(db, &s_phone_types, tenant_id, &lookup->phone_types) ||
        s_answer(db, &s_field_defs, tenant_id, &lookup->fields))
        return -1;
    if (!lookup->organization_id)
        return 0;
    const char *params[] = {tenant_id, lookup->organization_id};
    PGresult *res = crm_db_query(db, &s_contact_kind, params);
    if (!res)
        return -1;
    if (PQntuples(res))
        snprintf(lookup->organization_kind, sizeof lookup->organization_kind, "%s",
                 PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

void contacts_row_reset(contacts_row_t *row) {
    free(row->tags_array);
    free(row->emails_json);
    free(row->phones_json);
    free(row->email_keys_array);
    free(row->profile_json);
    memset(row, 0, sizeof *row);
}

Crm__Contacts__Contact *contacts_from_json(const char *text) {
    crm_json_error_t err;
    ProtobufCMessage *msg =
        crm_json_to_pb(&crm__contacts__contact__descriptor, text, strlen(text), &err);
    if (!msg)
        crm_log_kv(CRM_LOG_ERROR, "stored contact does not parse", "field", err.field, "detail",
                   err.message, NULL);
    return (Crm__Contacts__Contact *)msg;
}

//  A write that failed: a unique violation on an email (a concurrent insert won the
//  race) is 409 with the field named; anything else -1, the database's failure.
static int s_write_failure(crm_db_t *db, crm_errors_t *errors) {
    if (strcmp(crm_db_sqlstate(db), "23505") != 0)
        return -1;
    crm_errors_add(errors, "emails", "an email address is already used by another contact");
    return 409;
}

//  Common tail of insert and update: a duplicate (409, its holder in conflict_id), no
//  row (404), or the written row's times set on c.
static int s_written(PGresult *res, int ok_code, Crm__Contacts__Contact *c, crm_errors_t *errors,
                     char conflict_id[64]) {
    if (!PQgetisnull(res, 0, 0)) {
        snprintf(conflict_id, 64, "%s", PQgetvalue(res, 0, 0));
        char field[64];
        snprintf(field, sizeof field, "emails[%s].address", PQgetvalue(res, 0, 1));
        crm_errors_add(errors, field, "is already used by contact %s", conflict_id);
        return 409;
    }
    if (PQgetisnull(res, 0, 2))
        return 404;
    crm_pb_string_set(&c->created_at, PQgetvalue(res, 0, 2));
    crm_pb_string_set(&c->updated_at, PQgetvalue(res, 0, 3));
    return ok_code;
}

//  The event of a write to c: stamps c with the time of the change and fills ev.
static void s_event(const contacts_scope_t *scope, Crm__Contacts__Contact *c, bool created,
                    const char *const *changed, size_t n_changed, crm_outbox_event_t *ev) {
    char now[40];
    crm_time_now(now, sizeof now);
    if (created)
        crm_pb_string_set(&c->created_at, now);
    crm_pb_string_set(&c->updated_at, now);
    if (created) {
        Crm__Events__ContactCreated event = CRM__EVENTS__CONTACT_CREATED__INIT;
        event.contact = c;
        event.actor_id = (char *)scope->actor_id;
        crm_outbox_event_init(ev, &event.base, now);
    } else {
        Crm__Events__ContactUpdated event = CRM__EVENTS__CONTACT_UPDATED__INIT;
        event.contact = c;
        event.changed = (char **)changed;
        event.n_changed = n_changed;
        event.actor_id = (char *)scope->actor_id;
        crm_outbox_event_init(ev, &event.base, now);
    }
}

//  The statement's parameters for a write of row, with its event, in statement order.
static void s_row_params(const contacts_scope_t *scope, const contacts_row_t *row,
                         const crm_outbox_event_t *ev, const char *params[20]) {
    const char *values[20] = {scope->tenant_id,  row->id,          row->kind,
                              row->type,         row->first_name,  row->last_name,
                              row->name,         row->source,      row->tags_array,
                              row->emails_json,  row->email_keys_array, row->phones_json,
                              ev->occurred_at,   ev->event_id,     ev->payload_hex,
                              row->supplier,     row->assignee,    row->organization_id,
                              row->profile_json, scope->actor_id};
    memcpy(params, values, sizeof values);
}

int contacts_contact_store_update(const contacts_scope_t *scope, const contacts_row_t *row,
                                  Crm__Contacts__Contact *c, const char *const *changed,
                                  size_t n_changed, crm_errors_t *errors, char conflict_id[64]) {
    crm_outbox_event_t ev;
    s_event(scope, c, false, changed, n_changed, &ev);
    const char *params[20];
    s_row_params(scope, row, &ev, params);
    PGresult *res = crm_db_query(scope->db, &s_update, params);
    crm_outbox_event_reset(&ev);
    int code =
        res ? s_written(res, 200, c, errors, conflict_id) : s_write_failure(scope->db, errors);
    PQclear(res);
    return code;
}

//  Why a create failed: 409 naming the contact that holds one of its addresses (or, when
//  none does any more, the address taken meanwhile), or -1 when the database failed.
static int s_insert_failure(const contacts_scope_t *scope, const contacts_row_t *row,
                            const char *sqlstate, crm_errors_t *errors, char conflict_id[64]) {
    if (strcmp(sqlstate, "23505") != 0)
        return -1;
    const char *params[] = {scope->tenant_id, row->email_keys_array};
    PGresult *res = crm_db_query(scope->db, &s_email_holder, params);
    if (!res)
        return -1;
    if (PQntuples(res) > 0) {
        snprintf(conflict_id, 64, "%s", PQgetvalue(res, 0, 0));
        char field[64];
        snprintf(field, sizeof field, "emails[%s].address", PQgetvalue(res, 0, 1));
        crm_errors_add(errors, field, "is already used by contact %s", conflict_id);
    } else
        crm_errors_add(errors, "emails", "an email address is already used by another contact");
    PQclear(res);
    return 409;
}

int contacts_contact_store_get(const contacts_scope_t *scope, const char *id, bool for_update,
                               Crm__Contacts__Contact **out) {
    const char *params[] = {scope->tenant_id, id};
    PGresult *res = crm_db_query(scope->db, for_update ? &s_get_for_update : &s_get, params);
    if (!res)
        return -1;
    int code = 404;
    if (PQntuples(res) > 0) {
        *out = contacts_from_json(PQgetvalue(res, 0, 0));
        code = *out ? 200 : 500;
    }
    PQclear(res);
    return code;
}

//  --- The same for a request's call (its tenant and actor; the outcome as its reply) ----

//  The call's scope: its database, its tenant and actor.
static contacts_scope_t s_scope(crm_call_t *call) {
    return (contacts_scope_t){call->db, call->header->tenant_id, call->header->actor_id};
}

//  A write's code as the call's reply: 409 named (the holder of an address, or a race
//  lost on one), 404, or the database's failure.
int contacts_answer_write(crm_call_t *call, int code, crm_errors_t *errors,
                          const char *conflict_id) {
    if (code == -1) {
        crm_errors_reset(errors);
        return crm_call_db_failure(call);
    }
    if (code == 404)
        crm_call_error(call, "not_found", "no such contact");
    if (code == 500)
        crm_call_error(call, "internal", "stored contact is unreadable");
    if (code == 409 && conflict_id[0]) {
        snprintf(call->conflict_id, sizeof call->conflict_id, "%s", conflict_id);
        crm_call_error(call, "duplicate_email", "an email address is already used by contact %s",
                       conflict_id);
    } else if (code == 409)
        crm_call_error(call, "conflict", "an email address is already used by another contact");
    if (code == 422)
        return crm_call_fail(call, errors);
    crm_errors_move(&call->errors, errors);
    return code;
}

int contacts_store_insert(crm_call_t *call, const contacts_row_t *row, Crm__Contacts__Contact *c,
                          bool allow_duplicate) {
    contacts_scope_t scope = s_scope(call);
    crm_outbox_event_t ev;
    s_event(&scope, c, true, NULL, 0, &ev);  // c's times are the row's
    const char *params[21];
    s_row_params(&scope, row, &ev, params);
    params[20] = allow_duplicate ? "true" : "false";
    char sqlstate[6];
    int rc = crm_call_write(call, &s_insert, params, sqlstate);
    crm_outbox_event_reset(&ev);
    if (rc == 0)
        return 201;
    crm_errors_t errors = {0};
    char conflict_id[64] = "";
    int code = s_insert_failure(&scope, row, sqlstate, &errors, conflict_id);
    return contacts_answer_write(call, code, &errors, conflict_id);
}

int contacts_store_update(crm_call_t *call, const contacts_row_t *row, Crm__Contacts__Contact *c,
                          const char *const *changed, size_t n_changed) {
    contacts_scope_t scope = s_scope(call);
    crm_errors_t errors = {0};
    char conflict_id[64] = "";
    int code = contacts_contact_store_update(&scope, row, c, changed, n_changed, &errors,
                                             conflict_id);
    return contacts_answer_write(call, code, &errors, conflict_id);
}

int contacts_store_get(crm_call_t *call, const char *id, bool for_update,
                       Crm__Contacts__Contact **out) {
    contacts_scope_t scope = s_scope(call);
    int code = contacts_contact_store_get(&scope, id, for_update, out);
    if (code == -1)
        return crm_call_db_failure(call);
    if (code == 404)
        crm_call_error(call, "not_found", "no such contact");
    if (code == 500)
        crm_call_error(call, "internal", "stored contact is unreadable");
    return code;
}

int contacts_store_delete(crm_call_t *call, const char *id) {
    char now[40];
    crm_time_now(now, sizeof now);
    Crm__Events__ContactDeleted event = CRM__EVENTS__CONTACT_DELETED__INIT;
    event.contact_id = (char *)id;
    event.deleted_at = now;
    event.actor_id = call->header->actor_id;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    const char *params[] = {call->header->tenant_id, id, now, ev.event_id, ev.payload_hex,
                            call->header->actor_id};
    PGresult *res = crm_db_query(call->db, &s_delete, params);
    crm_outbox_event_reset(&ev);
    if (!res)
        return crm_call_db_failure(call);
    int deleted = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!deleted) {
        crm_call_error(call, "not_found", "no such contact");
        return 404;
    }
    return 204;
}

int contacts_store_match(crm_call_t *call, const char *email, const char *phone,
                         Crm__Contacts__MatchContactResponse **out) {
    const char *params[] = {call->header->tenant_id, email, phone};
    PGresult *res = crm_db_query(call->db, &s_match, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 404;
    if (PQntuples(res) == 0)
        crm_call_error(call, "not_found", "no contact has that email address or phone number");
    else {
        Crm__Contacts__Contact *c = contacts_from_json(PQgetvalue(res, 0, 0));
        if (!c) {
            crm_call_error(call, "internal", "stored contact is unreadable");
            code = 500;
        } else {
            Crm__Contacts__MatchContactResponse *match = malloc(sizeof *match);
            crm__contacts__match_contact_response__init(match);
            match->contact = c;
            match->matched_on = strdup(PQgetvalue(res, 0, 1));
            *out = match;
            code = 200;
        }
    }
    PQclear(res);
    return code;
}
