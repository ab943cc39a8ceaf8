/*  consent_store: the SQL of a contact's communication rules, consents and their
    history, and their events (consent.c holds the rules, consent_methods.c the methods).

    Three tables (migrations/0011_consent.sql): communication_rules (the flags as they
    stand), consents (the current decision per channel and purpose) and
    communication_history (every change, append-only). A write first reads the contact's
    state with the contact row locked (so two writes to one contact take turns, and a
    deleted contact is not written to), works out what changes, then writes the history,
    the current state and the event in one statement. Each write is in a scope's name
    (contacts_scope_t: its tenant and actor): a request's, or the notify follower's
    (optout_follow.c) for the customers' own opt-outs; the call forms wrap the scope forms.
*/
#include "contacts.h"
#include "outbox.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

// clang-format off

//  A consent as the API shows it, from a consents row s.
#define CONSENT_JSON                                                                          \
    "json_build_object('channel', s.channel, 'purpose', s.purpose,"                           \
    " 'status', CASE WHEN s.granted THEN 'granted' ELSE 'withdrawn' END,"                     \
    " 'method', s.method, 'note', s.note,"                                                    \
    " 'effectiveAt', " CONTACTS_TS("s.effective_at") ","                                      \
    " 'recordedAt', " CONTACTS_TS("s.recorded_at") ","                                        \
    " 'recordedBy', s.recorded_by, 'changeId', s.change_id)"

//  A history entry as the API shows it, from a communication_history row h.
#define CHANGE_JSON                                                                           \
    "json_build_object('id', h.id, 'contactId', h.contact_id, 'kind', h.kind,"                \
    " 'channel', h.channel, 'purpose', h.purpose, 'granted', h.granted, 'field', h.field,"    \
    " 'enabled', h.enabled,"                                                                  \
    " 'retentionDays', CASE WHEN h.kind = 'retention'"                                        \
    "                  THEN coalesce(h.retention_days, 0) END,"                               \
    " 'method', nullif(h.method, ''), 'note', h.note,"                                        \
    " 'effectiveAt', " CONTACTS_TS("h.effective_at") ","                                      \
    " 'recordedAt', " CONTACTS_TS("h.recorded_at") ","                                        \
    " 'recordedBy', h.recorded_by)::text"

//  A live contact's rules, its consents (a JSON array) and its last change; no row when
//  the contact is not a live contact of the tenant.
#define STATE_SQL                                                                             \
    "SELECT coalesce(r.do_not_call, false), coalesce(r.do_not_email, false),"                 \
    "  coalesce(r.do_not_mail, false), coalesce(r.do_not_sms, false),"                        \
    "  coalesce(r.stop_follow_ups, false), coalesce(r.retention_days, 0),"                    \
    "  coalesce(" CONTACTS_TS("r.retain_until") ", ''),"                                      \
    "  (SELECT coalesce(json_agg(" CONSENT_JSON "), '[]')::text FROM consents s"              \
    "   WHERE s.tenant_id = $1 AND s.contact_id = c.id),"                                     \
    "  coalesce(last.at, ''), coalesce(last.by, '')"                                          \
    " FROM contacts c"                                                                        \
    " LEFT JOIN communication_rules r ON r.tenant_id = c.tenant_id AND r.contact_id = c.id"   \
    " LEFT JOIN LATERAL ("                                                                    \
    "   SELECT " CONTACTS_TS("h.recorded_at") " AS at, h.recorded_by AS by"                   \
    "   FROM communication_history h WHERE h.tenant_id = $1 AND h.contact_id = c.id"          \
    "   ORDER BY h.id DESC LIMIT 1) last ON true"                                             \
    " WHERE c.tenant_id = $1 AND c.id = $2::uuid AND c.deleted_at IS NULL"

static const crm_stmt_t s_state = {.name = "consent_state", .sql = STATE_SQL, .nparams = 2};

//  The same, the contact's row locked until the transaction ends: writes take turns.
static const crm_stmt_t s_state_for_update = {
    .name = "consent_state_for_update", .sql = STATE_SQL " FOR UPDATE OF c", .nparams = 2};

//  $3 the history id, $4 channel, $5 purpose, $6 granted, $7 method, $8 note, $9 the
//  effective time, $10 now, $11 the actor, $12 whether it becomes the current decision,
//  $13 the event id, $14 the payload.
static const crm_stmt_t s_consent_record = {
    .name = "consent_record",
    .sql = "WITH hist AS ("
           "  INSERT INTO communication_history (tenant_id, id, contact_id, kind, channel,"
           "    purpose, granted, method, note, effective_at, recorded_at, recorded_by)"
           "  VALUES ($1, $3::uuid, $2::uuid, 'consent', $4, $5, $6::boolean, $7, $8,"
           "          $9::timestamptz, $10::timestamptz, $11)"
           "  RETURNING 1),"
           " cur AS ("
           "  INSERT INTO consents (tenant_id, contact_id, channel, purpose, granted, method,"
           "    note, effective_at, recorded_at, recorded_by, change_id)"
           "  SELECT $1, $2::uuid, $4, $5, $6::boolean, $7, $8, $9::timestamptz,"
           "         $10::timestamptz, $11, $3::uuid"
           "  WHERE $12::boolean"
           "  ON CONFLICT (tenant_id, contact_id, channel, purpose) DO UPDATE"
           "  SET granted = excluded.granted, method = excluded.method, note = excluded.note,"
           "    effective_at = excluded.effective_at, recorded_at = excluded.recorded_at,"
           "    recorded_by = excluded.recorded_by, change_id = excluded.change_id"
           "  RETURNING 1),"
           CONTACTS_OUTBOX_SQL("ContactConsentChanged", "hist", "$10", "$13", "$14")
           " SELECT count(*) FROM hist",
    .nparams = 14,
    .writes = true};

//  $3-$6 the flags (call, email, mail, sms), $7 stop-follow-ups, $8 retention days and
//  $9 its end ('' for none), $10 now, $11 the actor, $12 the history entries (a JSON
//  array of {id, kind, field, enabled, retention_days}), $13 method, $14 reason, $15 the
//  event id, $16 the payload, $17 when the change took effect (the entries' effective
//  time: now for a PATCH, when the customer texted for an SMS keyword).
static const crm_stmt_t s_rules_write = {
    .name = "consent_rules_write",
    .sql = "WITH r AS ("
           "  INSERT INTO communication_rules (tenant_id, contact_id, do_not_call, do_not_email,"
           "    do_not_mail, do_not_sms, stop_follow_ups, retention_days, retain_until,"
           "    updated_at, updated_by)"
           "  VALUES ($1, $2::uuid, $3::boolean, $4::boolean, $5::boolean, $6::boolean,"
           "          $7::boolean, nullif($8, '')::integer, nullif($9, '')::timestamptz,"
           "          $10::timestamptz, $11)"
           "  ON CONFLICT (tenant_id, contact_id) DO UPDATE"
           "  SET do_not_call = excluded.do_not_call, do_not_email = excluded.do_not_email,"
           "    do_not_mail = excluded.do_not_mail, do_not_sms = excluded.do_not_sms,"
           "    stop_follow_ups = excluded.stop_follow_ups,"
           "    retention_days = excluded.retention_days, retain_until = excluded.retain_until,"
           "    updated_at = excluded.updated_at, updated_by = excluded.updated_by"
           "  RETURNING 1),"
           " hist AS ("
           "  INSERT INTO communication_history (tenant_id, id, contact_id, kind, field,"
           "    enabled, retention_days, method, note, effective_at, recorded_at, recorded_by)"
           "  SELECT $1, x.id, $2::uuid, x.kind, x.field, x.enabled, x.retention_days, $13,"
           "         $14, $17::timestamptz, $10::timestamptz, $11"
           "  FROM jsonb_to_recordset($12::jsonb)"
           "       AS x(id uuid, kind text, field text, enabled boolean, retention_days integer)"
           "  RETURNING 1),"
           CONTACTS_OUTBOX_SQL("ContactCommunicationRulesChanged", "r", "$10", "$15", "$16")
           " SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM hist)",
    .nparams = 17,
    .writes = true};

//  One page of a live contact's history, newest first, after the cursor $3; one row
//  with a NULL entry when the contact has none (no row: no such contact).
static const crm_stmt_t s_history = {
    .name = "consent_history",
    .sql = "SELECT e.entry FROM contacts c LEFT JOIN LATERAL ("
           "  SELECT " CHANGE_JSON " AS entry, h.id FROM communication_history h"
           "  WHERE h.tenant_id = $1 AND h.contact_id = c.id"
           "    AND h.id < coalesce(nullif($3, '')::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')"
           "  ORDER BY h.id DESC LIMIT $4::int) e ON true"
           " WHERE c.tenant_id = $1 AND c.id = $2::uuid AND c.deleted_at IS NULL"
           " ORDER BY e.id DESC",
    .nparams = 4};

//  One consent decision $3 of a live contact's history.
static const crm_stmt_t s_change_get = {
    .name = "consent_change_get",
    .sql = "SELECT " CHANGE_JSON " FROM communication_history h"
           " JOIN contacts c ON c.tenant_id = h.tenant_id AND c.id = h.contact_id"
           "  AND c.deleted_at IS NULL"
           " WHERE h.tenant_id = $1 AND h.contact_id = $2::uuid AND h.id = $3::uuid"
           "  AND h.kind = 'consent'",
    .nparams = 3};

// clang-format on


static int s_not_found(crm_call_t *call) {
    crm_call_error(call, "not_found", "no such contact");
    return 404;
}

//  Stored rules that do not parse: logged, 500.
static int s_unreadable_logged(const char *what, const crm_json_error_t *err) {
    crm_log_kv(CRM_LOG_ERROR, "stored communication rules do not parse", "what", what, "field",
               err->field, "detail", err->message, NULL);
    return 500;
}

static int s_unreadable(crm_call_t *call, const char *what, const crm_json_error_t *err) {
    s_unreadable_logged(what, err);
    return contacts_consent_store_answer(call, 500);
}

//  The call's scope: its database, its tenant and actor.
static contacts_scope_t s_scope(crm_call_t *call) {
    return (contacts_scope_t){call->db, call->header->tenant_id, call->header->actor_id};
}

int contacts_consent_store_answer(crm_call_t *call, int code) {
    if (code == -1)
        return crm_call_db_failure(call);
    if (code == 404)
        return s_not_found(call);
    if (code == 500)
        crm_call_error(call, "internal", "stored communication rules are unreadable");
    return code;
}

//  Read the rules and consents of live contact id (for_update: and lock it). 200 with
//  st filled, 404, 500, or -1.
int contacts_consent_store_state_in(const contacts_scope_t *scope, const char *id, bool for_update,
                                    contacts_consent_state_t *st) {
    memset(st, 0, sizeof *st);
    const char *params[] = {scope->tenant_id, id};
    PGresult *res = crm_db_query(scope->db, for_update ? &s_state_for_update : &s_state, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 404;
    }
    for (int f = 0; f < CONTACTS_CONSENT_FLAGS; f++)
        st->flags[f] = PQgetvalue(res, 0, f)[0] == 't';
    st->stop_follow_ups = PQgetvalue(res, 0, 4)[0] == 't';
    st->retention_days = atoi(PQgetvalue(res, 0, 5));
    snprintf(st->retain_until, sizeof st->retain_until, "%s", PQgetvalue(res, 0, 6));
    snprintf(st->updated_at, sizeof st->updated_at, "%s", PQgetvalue(res, 0, 8));
    snprintf(st->updated_by, sizeof st->updated_by, "%s", PQgetvalue(res, 0, 9));
    const char *text = PQgetvalue(res, 0, 7);
    json_error_t jerr;
    json_t *array = json_loads(text, 0, &jerr);
    int code = 200;
    for (size_t i = 0; code == 200 && i < json_array_size(array); i++) {
        crm_json_error_t err;
        Crm__Contacts__Consent *consent = (Crm__Contacts__Consent *)crm_json_value_to_pb(
            &crm__contacts__consent__descriptor, json_array_get(array, i), "", &err);
        if (!consent) {
            code = s_unreadable_logged("consent", &err);
            break;
        }
        int c = contacts_consent_channel_index(consent->channel);
        int p = contacts_consent_purpose_index(consent->purpose);
        if (c < 0 || p < 0 || st->consents[c][p]) {
            crm__contacts__consent__free_unpacked(consent, NULL);
            continue;
        }
        st->consents[c][p] = consent;
    }
    json_decref(array);
    PQclear(res);
    if (code != 200)
        contacts_consent_state_reset(st);
    return code;
}

int contacts_consent_store_state(crm_call_t *call, const char *id, bool for_update,
                                 contacts_consent_state_t *st) {
    contacts_scope_t scope = s_scope(call);
    return contacts_consent_store_answer(
        call, contacts_consent_store_state_in(&scope, id, for_update, st));
}

int contacts_consent_store_record_in(const contacts_scope_t *scope,
                                     const Crm__Contacts__RecordConsentRequest *req,
                                     const char *effective_at, const char *now,
                                     const char *change_id, bool current) {
    char channel[32], purpose[32], method[32];
    crm_enum_api_name(&crm__contacts__channel__descriptor, req->channel, channel, sizeof channel);
    crm_enum_api_name(&crm__contacts__purpose__descriptor, req->purpose, purpose, sizeof purpose);
    crm_enum_api_name(&crm__contacts__consent_method__descriptor, req->method, method, sizeof method);
    Crm__Events__ContactConsentChanged event = CRM__EVENTS__CONTACT_CONSENT_CHANGED__INIT;
    event.contact_id = req->id;
    event.channel = req->channel;
    event.purpose = req->purpose;
    event.granted = req->granted;
    event.method = req->method;
    event.actor_id = (char *)scope->actor_id;
    event.effective_at = (char *)effective_at;
    event.recorded_at = (char *)now;
    event.current = current;
    event.change_id = (char *)change_id;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    const char *params[] = {scope->tenant_id,
                            req->id,
                            change_id,
                            channel,
                            purpose,
                            req->granted ? "true" : "false",
                            method,
                            req->note,
                            effective_at,
                            now,
                            scope->actor_id,
                            current ? "true" : "false",
                            ev.event_id,
                            ev.payload_hex};
    PGresult *res = crm_db_query(scope->db, &s_consent_record, params);
    crm_outbox_event_reset(&ev);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int contacts_consent_store_record(crm_call_t *call, const Crm__Contacts__RecordConsentRequest *req,
                                  const char *effective_at, const char *now, const char *change_id,
                                  bool current) {
    contacts_scope_t scope = s_scope(call);
    if (contacts_consent_store_record_in(&scope, req, effective_at, now, change_id, current))
        return crm_call_db_failure(call);
    return 0;
}

int contacts_consent_store_rules_write_in(const contacts_scope_t *scope, const char *contact_id,
                                          const contacts_consent_state_t *st, json_t *changes,
                                          Crm__Events__ContactCommunicationRulesChanged *event,
                                          const contacts_rules_change_t *want,
                                          const char *effective_at, const char *now) {
    int rc = 0;
    Crm__Contacts__DoNotContact dnc = CRM__CONTACTS__DO_NOT_CONTACT__INIT;
    for (int f = 0; f < CONTACTS_CONSENT_FLAGS; f++)
        contacts_consent_dnc_set(&dnc, f, st->flags[f]);
    event->contact_id = (char *)contact_id;
    event->do_not_contact = &dnc;
    event->stop_follow_ups = st->stop_follow_ups;
    event->retention_days = st->retention_days;
    event->retain_until = (char *)st->retain_until;
    event->method = want->method;
    event->actor_id = (char *)scope->actor_id;
    event->changed_at = (char *)now;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event->base, now);
    char days[16] = "", method[32];
    if (st->retention_days)
        snprintf(days, sizeof days, "%d", st->retention_days);
    crm_enum_api_name(&crm__contacts__consent_method__descriptor, want->method, method,
                      sizeof method);
    char *entries = json_dumps(changes, JSON_COMPACT);
    const char *params[] = {scope->tenant_id,
                            contact_id,
                            st->flags[CONTACTS_FLAG_CALL] ? "true" : "false",
                            st->flags[CONTACTS_FLAG_EMAIL] ? "true" : "false",
                            st->flags[CONTACTS_FLAG_MAIL] ? "true" : "false",
                            st->flags[CONTACTS_FLAG_SMS] ? "true" : "false",
                            st->stop_follow_ups ? "true" : "false",
                            days,
                            st->retain_until,
                            now,
                            scope->actor_id,
                            entries,
                            method,
                            want->reason ? want->reason : "",
                            ev.event_id,
                            ev.payload_hex,
                            effective_at};
    PGresult *res = crm_db_query(scope->db, &s_rules_write, params);
    crm_outbox_event_reset(&ev);
    free(entries);
    if (!res)
        rc = -1;
    PQclear(res);
    return rc;
}

int contacts_consent_store_history(crm_call_t *call, const char *id, const char *cursor, int limit,
                                   Crm__Contacts__ListCommunicationHistoryResponse **out) {
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *params[] = {call->header->tenant_id, id, cursor, limit_text};
    PGresult *res = crm_db_query(call->db, &s_history, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    if (rows == 0) {
        PQclear(res);
        return s_not_found(call);
    }
    Crm__Contacts__ListCommunicationHistoryResponse *list = malloc(sizeof *list);
    crm__contacts__list_communication_history_response__init(list);
    list->items = calloc(rows, sizeof *list->items);
    int code = 200;
    for (int i = 0; i < rows && i < limit && !PQgetisnull(res, i, 0); i++) {
        const char *text = PQgetvalue(res, i, 0);
        crm_json_error_t err;
        ProtobufCMessage *entry = crm_json_to_pb(&crm__contacts__communication_change__descriptor,
                                                 text, strlen(text), &err);
        if (!entry) {
            code = s_unreadable(call, "history", &err);
            break;
        }
        list->items[list->n_items++] = (Crm__Contacts__CommunicationChange *)entry;
    }
    if (code == 200 && rows > limit && list->n_items)
        crm_pb_string_set(&list->next_cursor, list->items[list->n_items - 1]->id);
    PQclear(res);
    if (code != 200) {
        crm__contacts__list_communication_history_response__free_unpacked(list, NULL);
        return code;
    }
    *out = list;
    return 200;
}

int contacts_consent_store_change_get(crm_call_t *call, const char *id, const char *change_id,
                                      ProtobufCMessage **response) {
    const char *params[] = {call->header->tenant_id, id, change_id};
    PGresult *res = crm_db_query(call->db, &s_change_get, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 404;
    if (PQntuples(res) == 0)
        crm_call_error(call, "not_found", "no such consent decision");
    else {
        const char *text = PQgetvalue(res, 0, 0);
        crm_json_error_t err;
        *response = crm_json_to_pb(&crm__contacts__communication_change__descriptor, text,
                                   strlen(text), &err);
        code = *response ? 200 : s_unreadable(call, "history", &err);
    }
    PQclear(res);
    return code;
}
