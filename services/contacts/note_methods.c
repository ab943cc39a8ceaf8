/*  note_methods: notes on a contact, append-only and audited (CreateNote, GetNote,
    ListNotes, ListNoteRevisions, UpdateNote, DeleteNote), each read top to bottom:
    decode, check (note.c), store (note_store.c), answer.

    Only the note's author, or a manager or admin, may edit or delete it. The history of
    a deleted note stays readable by managers and admins (an audit needs what it said);
    others get 403. Notes belong to live contacts: every method answers 404 for a
    contact that is deleted or another tenant's, and for a note of another contact.
*/
#include "contacts.h"
#include "ids.h"
#include "page.h"

#include <string.h>

//  404 (the field named) unless contact_id, and note_id when not NULL, are ids at all.
static int s_check_ids(crm_call_t *call, const char *contact_id, const char *note_id) {
    if (!crm_uuid_valid(contact_id)) {
        crm_call_error(call, "not_found", "no such contact");
        crm_call_field_error(call, "id", "is not a valid contact id");
        return 404;
    }
    if (note_id && !crm_uuid_valid(note_id)) {
        crm_call_error(call, "not_found", "no such note");
        crm_call_field_error(call, "noteId", "is not a valid note id");
        return 404;
    }
    return 0;
}

//  The note note_id of the live contact contact_id: 200 with *out, 404, or a failure
//  code. for_update locks the contact, then the note, until the batch commits.
static int s_note_read(crm_call_t *call, const char *contact_id, const char *note_id,
                       bool for_update, Crm__Contacts__Note **out) {
    int code = s_check_ids(call, contact_id, note_id);
    if (code == 0)
        code = contacts_note_store_contact_live(call, contact_id, for_update);
    if (code)
        return code;
    return contacts_note_store_get(call, contact_id, note_id, for_update, out);
}

//  0 when the caller may change note (its author, a manager or an admin), else 403; then
//  409 when the note is deleted.
static int s_may_change(crm_call_t *call, const Crm__Contacts__Note *note, const char *verb) {
    if (!contacts_note_may_change(call->header->role, call->header->actor_id, note)) {
        crm_call_error(call, "forbidden", "only the note's author or a manager or admin may %s it",
                       verb);
        return 403;
    }
    if (note->deleted) {
        crm_call_error(call, "note_deleted", "the note was deleted (by %s at %s): it cannot be %s",
                       note->deleted_by, note->deleted_at,
                       strcmp(verb, "edit") == 0 ? "edited" : "deleted again");
        crm_call_field_error(call, "noteId", "is a deleted note");
        return 409;
    }
    return 0;
}

//  A limit and a cursor as the lists take them: the page size, or 0 with the fields
//  named (the caller answers 422).
static int s_check_page(crm_call_t *call, uint32_t asked, const char *cursor, bool revisions) {
    int limit = crm_page_limit(call, "limit", asked, CRM_PAGE_DEFAULT_LIMIT, CRM_PAGE_MAX_LIMIT);
    crm_errors_t errors = {0};
    contacts_note_cursor_check(cursor, revisions, &errors);
    crm_call_fail(call, &errors);
    return call->errors.n ? 0 : limit;
}

int contacts_note_create(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__Contacts__CreateNoteRequest *req = (const void *)request;
    if (s_check_ids(call, req->id, NULL))
        return 404;
    crm_errors_t errors = {0};
    if (contacts_note_body_check(req->body, &errors))
        return crm_call_fail(call, &errors);
    return contacts_note_store_insert(call, req->id, req->body, response);
}

int contacts_note_get(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response) {
    const Crm__Contacts__GetNoteRequest *req = (const void *)request;
    return s_note_read(call, req->id, req->note_id, false, (Crm__Contacts__Note **)response);
}

int contacts_note_list(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    const Crm__Contacts__ListNotesRequest *req = (const void *)request;
    if (s_check_ids(call, req->id, NULL))
        return 404;
    int limit = s_check_page(call, req->limit, req->cursor, false);
    if (!limit)
        return 422;
    int code = contacts_note_store_contact_live(call, req->id, false);
    if (code)
        return code;
    return contacts_note_store_list(call, req->id, req->cursor, limit,
                                    (Crm__Contacts__ListNotesResponse **)response);
}

int contacts_note_revisions(crm_call_t *call, const ProtobufCMessage *request,
                            ProtobufCMessage **response) {
    const Crm__Contacts__ListNoteRevisionsRequest *req = (const void *)request;
    if (s_check_ids(call, req->id, req->note_id))
        return 404;
    int limit = s_check_page(call, req->limit, req->cursor, true);
    if (!limit)
        return 422;
    Crm__Contacts__Note *note = NULL;
    int code = s_note_read(call, req->id, req->note_id, false, &note);
    if (code != 200)
        return code;
    bool deleted = note->deleted;
    crm__contacts__note__free_unpacked(note, NULL);
    if (deleted && !contacts_role_manages(call->header->role)) {
        crm_call_error(call, "forbidden",
                       "the history of a deleted note is for managers and admins only");
        return 403;
    }
    return contacts_note_store_revisions(call, req->note_id, req->cursor, limit,
                                         (Crm__Contacts__ListNoteRevisionsResponse **)response);
}

int contacts_note_update(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__Contacts__UpdateNoteRequest *req = (const void *)request;
    if (s_check_ids(call, req->id, req->note_id))
        return 404;
    crm_errors_t errors = {0};
    if (contacts_note_body_check(req->body, &errors))
        return crm_call_fail(call, &errors);
    Crm__Contacts__Note *note = NULL;
    int code = s_note_read(call, req->id, req->note_id, true, &note);
    if (code != 200)
        return code;
    code = s_may_change(call, note, "edit");
    if (code == 0 && strcmp(note->body, req->body) != 0)
        return contacts_note_store_update(call, note, req->body, response); // takes note
    if (code == 0) // the same body: the note as it is, no revision, no event
        *response = &note->base;
    else
        crm__contacts__note__free_unpacked(note, NULL);
    return code ? code : 200;
}

int contacts_note_delete(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    (void)response;
    const Crm__Contacts__DeleteNoteRequest *req = (const void *)request;
    Crm__Contacts__Note *note = NULL;
    int code = s_note_read(call, req->id, req->note_id, true, &note);
    if (code != 200)
        return code;
    code = s_may_change(call, note, "delete");
    if (code == 0)
        code = contacts_note_store_delete(call, note);
    crm__contacts__note__free_unpacked(note, NULL);
    return code;
}
