/*  note_store: the SQL of notes on a contact and their events (note.c holds the rules,
    note_methods.c the methods).

    A note is never changed in place without trace: an edit adds a revision (every body
    a note had stays in note_revisions, with who wrote it and when), and a deletion
    leaves a tombstone that lists stay showing, as deleted, by whom and when, without
    its body. Each write is one statement with its event (ContactNoteAdded,
    ContactNoteEdited, ContactNoteDeleted; the contact's id is the event's aggregate)
    and, for an added or edited note, the contact's last_activity_at.
*/
#include "contacts.h"
#include "outbox.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "rows.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

//  A page also ends before its items' JSON passes this many bytes, so a page of long
//  notes stays well inside the broker's frame limit (broker.max_frame_bytes, 2 MiB).
#define NOTES_PAGE_MAX_BYTES (1024 * 1024)

//  A note as the API shows it: a deleted note without body or mentions.
#define NOTE_JSON(n)                                                                          \
    "json_build_object('id', " n ".id, 'contactId', " n ".contact_id, 'author', " n ".author,"  \
    " 'body', CASE WHEN " n ".deleted_at IS NULL THEN " n ".body END,"                        \
    " 'mentions', CASE WHEN " n ".deleted_at IS NULL THEN " n ".mentions END,"                \
    " 'revision', " n ".revision,"                                                            \
    " 'createdAt', " CONTACTS_TS(n ".created_at") ","                                         \
    " 'updatedAt', " CONTACTS_TS(n ".updated_at") ","                                         \
    " 'editedBy', " n ".edited_by, 'deleted', " n ".deleted_at IS NOT NULL,"                  \
    " 'deletedAt', " CONTACTS_TS(n ".deleted_at") ", 'deletedBy', " n ".deleted_by)::text"

//  The contact's last activity moves to $5 (never back) when the contact $2 is live.
#define NOTE_ACTIVITY_SQL                                                                     \
    " c AS ("                                                                                 \
    "  UPDATE contacts SET last_activity_at = GREATEST(last_activity_at, $5::timestamptz)"    \
    "  WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL RETURNING id),"

#define NOTE_CONTACT_SQL                                                                      \
    "SELECT 1 FROM contacts WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL"

static const crm_stmt_t s_contact_live = {
    .name = "notes_contact_live", .sql = NOTE_CONTACT_SQL, .nparams = 2};

//  Before a note is locked for a change, its contact is, as an added note locks it: the
//  same order everywhere, so concurrent writers wait for each other and never deadlock.
static const crm_stmt_t s_contact_live_locked = {.name = "notes_contact_live_locked",
                                                  .sql = NOTE_CONTACT_SQL " FOR NO KEY UPDATE",
                                                  .nparams = 2};

#define NOTE_GET_SQL                                                                          \
    "SELECT " NOTE_JSON("n") " FROM notes n"                                                  \
    " WHERE n.tenant_id = $1 AND n.contact_id = $2::uuid AND n.id = $3::uuid"

static const crm_stmt_t s_note_get = {.name = "notes_get", .sql = NOTE_GET_SQL, .nparams = 3};

static const crm_stmt_t s_note_get_for_update = {
    .name = "notes_get_for_update", .sql = NOTE_GET_SQL " FOR UPDATE", .nparams = 3};

//  A page newest first after the cursor $3 (the last id of the previous page).
static const crm_stmt_t s_note_list = {
    .name = "notes_list",
    .sql = "SELECT " NOTE_JSON("n") ", n.id::text FROM notes n"
           " WHERE n.tenant_id = $1 AND n.contact_id = $2::uuid"
           "   AND n.id < coalesce(nullif($3, '')::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')"
           " ORDER BY n.id DESC LIMIT $4::int",
    .nparams = 4};

//  A page of a note's history, oldest first, after the revision $3.
static const crm_stmt_t s_revision_list = {
    .name = "notes_revisions",
    .sql = "SELECT json_build_object('revision', r.revision, 'body', r.body,"
           "  'mentions', r.mentions, 'author', r.author,"
           "  'createdAt', " CONTACTS_TS("r.created_at") ")::text, r.revision"
           " FROM note_revisions r WHERE r.tenant_id = $1 AND r.note_id = $2::uuid"
           "   AND r.revision > $3::int ORDER BY r.revision LIMIT $4::int",
    .nparams = 4};

//  $3 the note, $4 its author, $5 the time, $6 the body, $7 the mentions; $8, $9 the
//  event's id and payload. Nothing is written unless the contact is live.
static const crm_stmt_t s_note_insert = {
    .name = "notes_insert",
    .sql = "WITH" NOTE_ACTIVITY_SQL
           " ins AS ("
           "  INSERT INTO notes (tenant_id, id, contact_id, author, body, mentions, revision,"
           "                     created_at, updated_at)"
           "  SELECT $1, $3::uuid, c.id, $4, $6, $7::text[], 1, $5::timestamptz, $5::timestamptz"
           "  FROM c RETURNING id),"
           " rev AS ("
           "  INSERT INTO note_revisions (tenant_id, note_id, revision, body, mentions, author,"
           "                              created_at)"
           "  SELECT $1, id, 1, $6, $7::text[], $4, $5::timestamptz FROM ins),"
           CONTACTS_OUTBOX_SQL("ContactNoteAdded", "ins", "$5", "$8", "$9")
           " SELECT count(*) FROM ins",
    .nparams = 9,
    .writes = true};

//  $4 the editor, $8 the new revision (the note must still be at the one before it);
//  $9, $10 the event.
static const crm_stmt_t s_note_update = {
    .name = "notes_update",
    .sql = "WITH" NOTE_ACTIVITY_SQL
           " upd AS ("
           "  UPDATE notes SET body = $6, mentions = $7::text[], revision = $8::int,"
           "    updated_at = $5::timestamptz, edited_by = $4"
           "  WHERE tenant_id = $1 AND contact_id = $2::uuid AND id = $3::uuid"
           "    AND deleted_at IS NULL AND revision = $8::int - 1 AND EXISTS (SELECT 1 FROM c)"
           "  RETURNING id),"
           " rev AS ("
           "  INSERT INTO note_revisions (tenant_id, note_id, revision, body, mentions, author,"
           "                              created_at)"
           "  SELECT $1, id, $8::int, $6, $7::text[], $4, $5::timestamptz FROM upd),"
           CONTACTS_OUTBOX_SQL("ContactNoteEdited", "upd", "$5", "$9", "$10")
           " SELECT count(*) FROM upd",
    .nparams = 10,
    .writes = true};

//  $4 who deletes, $5 when; $6, $7 the event.
static const crm_stmt_t s_note_delete = {
    .name = "notes_delete",
    .sql = "WITH del AS ("
           "  UPDATE notes SET deleted_at = $5::timestamptz, deleted_by = $4,"
           "    updated_at = $5::timestamptz"
           "  WHERE tenant_id = $1 AND contact_id = $2::uuid AND id = $3::uuid"
           "    AND deleted_at IS NULL"
           "    AND EXISTS (SELECT 1 FROM contacts WHERE tenant_id = $1 AND id = $2::uuid"
           "                AND deleted_at IS NULL)"
           "  RETURNING id),"
           CONTACTS_OUTBOX_SQL("ContactNoteDeleted", "del", "$5", "$6", "$7")
           " SELECT count(*) FROM del",
    .nparams = 7,
    .writes = true};

// --- reading --------------------------------------------------------------------------

int contacts_note_store_contact_live(crm_call_t *call, const char *id, bool lock) {
    const char *params[] = {call->header->tenant_id, id};
    PGresult *res = crm_db_query(call->db, lock ? &s_contact_live_locked : &s_contact_live, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = PQntuples(res) ? 0 : 404;
    PQclear(res);
    if (code) {
        crm_call_error(call, "not_found", "no such contact");
        crm_call_field_error(call, "id", "is not a contact of this tenant");
    }
    return code;
}

int contacts_note_store_get(crm_call_t *call, const char *contact_id, const char *note_id,
                            bool for_update, Crm__Contacts__Note **out) {
    const char *params[] = {call->header->tenant_id, contact_id, note_id};
    int code = crm_row_read_one(call, for_update ? &s_note_get_for_update : &s_note_get, params,
                                &crm__contacts__note__descriptor, "note", (ProtobufCMessage **)out);
    if (code == 404)
        crm_call_field_error(call, "noteId", "is not a note of this contact");
    return code;
}

int contacts_note_store_list(crm_call_t *call, const char *contact_id, const char *cursor,
                             int limit, Crm__Contacts__ListNotesResponse **out) {
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *params[] = {call->header->tenant_id, contact_id, cursor, limit_text};
    PGresult *res = crm_db_query(call->db, &s_note_list, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    Crm__Contacts__ListNotesResponse *list = malloc(sizeof *list);
    crm__contacts__list_notes_response__init(list);
    list->items = rows ? calloc(rows, sizeof *list->items) : NULL;
    size_t bytes = 0;
    int i = 0;
    for (; i < rows && i < limit; i++) {
        bytes += (size_t)PQgetlength(res, i, 0);
        if (i > 0 && bytes > NOTES_PAGE_MAX_BYTES)
            break;
        Crm__Contacts__Note *note = (Crm__Contacts__Note *)crm_row_decode(
            call, &crm__contacts__note__descriptor, PQgetvalue(res, i, 0), "note");
        if (!note) {
            PQclear(res);
            crm__contacts__list_notes_response__free_unpacked(list, NULL);
            return 500;
        }
        list->items[list->n_items++] = note;
    }
    if (i < rows)  // more follow: the next page starts after the last one given
        list->next_cursor = strdup(PQgetvalue(res, i - 1, 1));
    PQclear(res);
    *out = list;
    return 200;
}

int contacts_note_store_revisions(crm_call_t *call, const char *note_id, const char *cursor,
                                  int limit, Crm__Contacts__ListNoteRevisionsResponse **out) {
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *params[] = {call->header->tenant_id, note_id,
                            cursor[0] ? cursor : "0", limit_text};
    PGresult *res = crm_db_query(call->db, &s_revision_list, params);
    if (!res)
        return crm_call_db_failure(call);
    int rows = PQntuples(res);
    Crm__Contacts__ListNoteRevisionsResponse *list = malloc(sizeof *list);
    crm__contacts__list_note_revisions_response__init(list);
    list->items = rows ? calloc(rows, sizeof *list->items) : NULL;
    size_t bytes = 0;
    int i = 0;
    for (; i < rows && i < limit; i++) {
        bytes += (size_t)PQgetlength(res, i, 0);
        if (i > 0 && bytes > NOTES_PAGE_MAX_BYTES)
            break;
        const char *text = PQgetvalue(res, i, 0);
        crm_json_error_t err;
        ProtobufCMessage *item = crm_json_to_pb(&crm__contacts__note_revision__descriptor, text,
                                                strlen(text), &err);
        if (!item) {
            crm_log_kv(CRM_LOG_ERROR, "stored note revision does not parse", "field", err.field,
                       "detail", err.message, NULL);
            crm_call_error(call, "internal", "stored note revision is unreadable");
            PQclear(res);
            crm__contacts__list_note_revisions_response__free_unpacked(list, NULL);
            return 500;
        }
        list->items[list->n_items++] = (Crm__Contacts__NoteRevision *)item;
    }
    if (i < rows)
        list->next_cursor = strdup(PQgetvalue(res, i - 1, 1));
    PQclear(res);
    *out = list;
    return 200;
}

// --- writing --------------------------------------------------------------------------

//  mentions as a new array of new strings (a message's repeated field).
static char **s_strings(const crm_mention_t *mentions, size_t n) {
    char **out = n ? calloc(n, sizeof *out) : NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = strdup(mentions[i]);
    return out;
}

static char *s_text_array(const crm_mention_t *mentions, size_t n) {
    const char *items[CRM_MENTIONS_MAX];
    for (size_t i = 0; i < n; i++)
        items[i] = mentions[i];
    return crm_db_text_array(items, n);
}

static void s_strings_free(char **strings, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(strings[i]);
    free(strings);
}

//  The end of a note's write: ok_code with note as the reply, 404 when the statement
//  wrote nothing (the contact is gone; for an edit, gone meanwhile, the note being locked
//  and live), or the failure code. note is taken.
static int s_note_written(crm_call_t *call, PGresult *res, int ok_code, Crm__Contacts__Note *note,
                          ProtobufCMessage **response) {
    int code = ok_code;
    if (!res)
        code = crm_call_db_failure(call);
    else if (atoi(PQgetvalue(res, 0, 0)) != 1) {
        crm_call_error(call, "not_found", "no such contact");
        crm_call_field_error(call, "id", "is not a contact of this tenant");
        code = 404;
    }
    PQclear(res);
    if (code == ok_code)
        *response = &note->base;
    else
        crm__contacts__note__free_unpacked(note, NULL);
    return code;
}

int contacts_note_store_insert(crm_call_t *call, const char *contact_id, const char *body,
                              ProtobufCMessage **response) {
    crm_mention_t mentions[CRM_MENTIONS_MAX];
    size_t n_mentions = crm_mentions_parse(body, mentions, CRM_MENTIONS_MAX);
    char id[CRM_UUID_LEN + 1], now[40];
    crm_uuid_v7(id);
    crm_time_now(now, sizeof now);

    Crm__Contacts__Note *note = malloc(sizeof *note);
    crm__contacts__note__init(note);
    crm_pb_string_set(&note->id, id);
    crm_pb_string_set(&note->contact_id, contact_id);
    crm_pb_string_set(&note->author, call->header->actor_id);
    crm_pb_string_set(&note->body, body);
    note->mentions = s_strings(mentions, n_mentions);
    note->n_mentions = n_mentions;
    note->revision = 1;
    crm_pb_string_set(&note->created_at, now);
    crm_pb_string_set(&note->updated_at, now);

    Crm__Events__ContactNoteAdded event = CRM__EVENTS__CONTACT_NOTE_ADDED__INIT;
    event.contact_id = note->contact_id;
    event.note_id = note->id;
    event.author_id = note->author;
    event.body = note->body;
    event.mentions = note->mentions;
    event.n_mentions = note->n_mentions;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    char *mentions_array = s_text_array(mentions, n_mentions);
    const char *params[] = {call->header->tenant_id, contact_id, id,           note->author, now,
                            note->body,              mentions_array, ev.event_id, ev.payload_hex};
    PGresult *res = crm_db_query(call->db, &s_note_insert, params);
    crm_outbox_event_reset(&ev);
    free(mentions_array);
    return s_note_written(call, res, 201, note, response);
}

int contacts_note_store_update(crm_call_t *call, Crm__Contacts__Note *note, const char *body,
                              ProtobufCMessage **response) {
    crm_mention_t mentions[CRM_MENTIONS_MAX];
    size_t n_mentions = crm_mentions_parse(body, mentions, CRM_MENTIONS_MAX);
    //  Those the revision before did not mention: the people to tell of this edit.
    crm_mention_t added[CRM_MENTIONS_MAX];
    size_t n_added = contacts_note_added_mentions(note, mentions, n_mentions, added);
    char now[40], revision[16];
    crm_time_now(now, sizeof now);
    note->revision++;
    snprintf(revision, sizeof revision, "%u", note->revision);
    crm_pb_string_set(&note->body, body);
    crm_pb_string_set(&note->updated_at, now);
    crm_pb_string_set(&note->edited_by, call->header->actor_id);
    s_strings_free(note->mentions, note->n_mentions);
    note->mentions = s_strings(mentions, n_mentions);
    note->n_mentions = n_mentions;

    Crm__Events__ContactNoteEdited event = CRM__EVENTS__CONTACT_NOTE_EDITED__INIT;
    event.contact_id = note->contact_id;
    event.note_id = note->id;
    event.revision = note->revision;
    event.editor_id = note->edited_by;
    event.body = note->body;
    event.added_mentions = s_strings(added, n_added);
    event.n_added_mentions = n_added;
    event.mentions = note->mentions;
    event.n_mentions = note->n_mentions;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    s_strings_free(event.added_mentions, n_added);
    char *mentions_array = s_text_array(mentions, n_mentions);
    const char *params[] = {call->header->tenant_id, note->contact_id,       note->id,
                            note->edited_by,         now,           note->body,
                            mentions_array,          revision,      ev.event_id,
                            ev.payload_hex};
    PGresult *res = crm_db_query(call->db, &s_note_update, params);
    crm_outbox_event_reset(&ev);
    free(mentions_array);
    return s_note_written(call, res, 200, note, response);
}

int contacts_note_store_delete(crm_call_t *call, const Crm__Contacts__Note *note) {
    char now[40];
    crm_time_now(now, sizeof now);
    Crm__Events__ContactNoteDeleted event = CRM__EVENTS__CONTACT_NOTE_DELETED__INIT;
    event.contact_id = note->contact_id;
    event.note_id = note->id;
    event.actor_id = call->header->actor_id;
    event.deleted_at = now;
    crm_outbox_event_t ev;
    crm_outbox_event_init(&ev, &event.base, now);
    const char *params[] = {call->header->tenant_id, note->contact_id, note->id,
                            call->header->actor_id,
                            now, ev.event_id, ev.payload_hex};
    PGresult *res = crm_db_query(call->db, &s_note_delete, params);
    crm_outbox_event_reset(&ev);
    int code = 204;
    if (!res)
        code = crm_call_db_failure(call);
    else if (atoi(PQgetvalue(res, 0, 0)) != 1) {
        crm_call_error(call, "not_found", "no such contact");
        crm_call_field_error(call, "id", "is not a contact of this tenant");
        code = 404;
    }
    PQclear(res);
    return code;
}
