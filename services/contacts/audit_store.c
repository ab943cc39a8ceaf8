/*  audit_store: the SQL of a contact's audit trail: who changed what, when, from which
    value to which (audit.c holds the rules, audit_methods.c the method).

    Changes are written by a trigger on contacts (migration 0010), so every writer is
    covered: the API, bulk jobs, the tag catalogue's renames, a custom field deleted.
    Creations are written by the two statements that create contacts (store.c and
    import.c, CONTACTS_AUDIT_CREATED_SQL; migration 0019 says why). Each writer names
    its actor in contacts.updated_by. An erasure keeps which fields changed, not the
    values erased.
*/
#include "contacts.h"
#include "json_pb.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

//  A change's value as text: a JSON string as itself, anything else as its JSON.
#define AUDIT_VALUE(v)                                                                        \
    "CASE jsonb_typeof(" v ") WHEN 'string' THEN " v " #>> '{}'"                              \
    " WHEN 'null' THEN NULL ELSE (" v ")::text END"

static const crm_stmt_t s_list = {
    .name = "audit_list",
    .sql = "SELECT json_build_object('seq', a.seq, 'at', " CONTACTS_TS("a.at") ","
           " 'actorId', a.actor_id, 'action', a.action,"
           " 'changes', CASE WHEN a.action = 'created' THEN"
           "   (SELECT coalesce(json_agg(json_build_object('field', k, 'new', " AUDIT_VALUE("v") ")"
           "      ORDER BY k), '[]') FROM jsonb_each(a.changes) AS e(k, v)"
           "    WHERE v NOT IN ('\"\"', '[]', '{}', 'false', 'null'))"
           "  ELSE (SELECT coalesce(json_agg(json_build_object("
           "     'field', k, 'old', " AUDIT_VALUE("v->'old'") ", 'new', " AUDIT_VALUE("v->'new'")
           "   ) ORDER BY k), '[]') FROM jsonb_each(a.changes) AS e(k, v)) END)::text"
           " FROM contact_audit a"
           " WHERE a.tenant_id = $1 AND a.contact_id = $2::uuid"
           "   AND a.seq < coalesce(nullif($3, '')::bigint, 9223372036854775807)"
           " ORDER BY a.seq DESC LIMIT $4::int",
    .nparams = 4};

int contacts_audit_store_list(crm_call_t *call, const char *contact_id, const char *cursor,
                              int limit, Crm__Contacts__ListContactAuditResponse **out) {
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *params[] = {call->header->tenant_id, contact_id, cursor, limit_text};
    PGresult *res = crm_db_query(call->db, &s_list, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    if (rows == 0 && !cursor[0]) {
        PQclear(res);
        crm_call_error(call, "not_found", "no such contact");
        return 404;
    }
    int n = rows > limit ? limit : rows;
    Crm__Contacts__ListContactAuditResponse *list = malloc(sizeof *list);
    crm__contacts__list_contact_audit_response__init(list);
    list->items = n > 0 ? calloc((size_t)n, sizeof *list->items) : NULL;
    for (int i = 0; i < n; i++) {
        const char *json = PQgetvalue(res, i, 0);
        crm_json_error_t err;
        ProtobufCMessage *entry =
            crm_json_to_pb(&crm__contacts__audit_entry__descriptor, json, strlen(json), &err);
        if (!entry) {
            crm_log_kv(CRM_LOG_ERROR, "audit entry does not parse", "field", err.field, "detail",
                       err.message, NULL);
            PQclear(res);
            crm__contacts__list_contact_audit_response__free_unpacked(list, NULL);
            crm_call_error(call, "internal", "stored audit entry is unreadable");
            return 500;
        }
        list->items[list->n_items++] = (Crm__Contacts__AuditEntry *)entry;
    }
    if (rows > limit && n > 0)
        list->next_cursor = zsys_sprintf("%llu", (unsigned long long)list->items[n - 1]->seq);
    PQclear(res);
    *out = list;
    return 200;
}
