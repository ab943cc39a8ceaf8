/*  contacts: the daemon's internal interface between handlers and store. */
#ifndef CONTACTS_H
#define CONTACTS_H

#include "contacts.pb-c.h"
#include "service.h"

//  SQL shared by the daemon's statements (store.c, tags.c, notes.c, snapshot.c).
//  A timestamp column as the API writes it: RFC 3339, UTC, microseconds.
#define CONTACTS_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

//  The event of a write, in the same statement (so the same transaction): one outbox
//  row of type per row of `row`, for tenant $1 and aggregate $2; at, id and payload name
//  the parameters holding the time of the change, the event id and the payload.
#define CONTACTS_OUTBOX_SQL(type, row, at, id, payload)                                       \
    " ev AS ("                                                                                \
    "  INSERT INTO outbox (event_id, type, tenant_id, aggregate_id, payload, occurred_at)"    \
    "  SELECT " id "::uuid, '" type "', $1, $2::uuid::text, " payload "::bytea,"              \
    "         " at "::timestamptz"                                                            \
    "  FROM " row ")"

//  The service's state, shared by its methods.
typedef struct {
    const crm_config_t *cfg;
} contacts_t;

extern const crm_method_t contacts_methods[];
extern const crm_migration_t contacts_migrations[];

//  A contact ready to be written: validated, normalised, rendered for the store.
typedef struct {
    const char *id;
    const char *kind;       // 'person' | 'organization'
    const char *type;       // 'prospect' | 'customer' | 'service'
    const char *first_name;
    const char *last_name;
    const char *name;
    const char *source;     // '' when unknown
    char *tags_array;       // text[] literal
    char *emails_json;      // JSON array of Email objects
    char *phones_json;      // JSON array of Phone objects
    char *email_keys_array; // text[] literal of normalised addresses
} contacts_row_t;

void contacts_row_reset(contacts_row_t *row);

//  Insert row (rendered from c, which is taken). Pipelined: returns CRM_CALL_PENDING;
//  the outcome arrives in call->code: 201 with c as call->response (timestamps set),
//  409 (existing contact id in call) on a duplicate email, or a database failure code.
int contacts_store_insert(crm_call_t *call, const contacts_row_t *row, Crm__Contacts__Contact *c);

//  Read one live contact; for_update locks it. 200 with *out, 404, or failure code.
int contacts_store_get(crm_call_t *call, const char *id, bool for_update,
                       Crm__Contacts__Contact **out);

//  Replace the stored fields of row->id (rendered from c). 200 with c's timestamps
//  set, 404, 409, or failure code. changed: the JSON names of the fields the request
//  set, carried by the ContactUpdated event. Every write also writes its event
//  (ContactCreated, ContactUpdated, ContactDeleted) to the outbox in its statement.
int contacts_store_update(crm_call_t *call, const contacts_row_t *row, Crm__Contacts__Contact *c,
                          const char *const *changed, size_t n_changed);

//  Soft-delete; frees the contact's email addresses. 204, 404 or failure code.
int contacts_store_delete(crm_call_t *call, const char *id);

//  One page, newest first. type '' = any; after_id '' = from the start.
int contacts_store_list(crm_call_t *call, const char *type, const char *after_id, int limit,
                        Crm__Contacts__ListContactsResponse **out);

//  The "Snapshot" method (snapshot.c): every tenant's contacts in pages, with the event
//  seq they stand at, for services rebuilding a projection.
int contacts_snapshot(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response);

//  The tag catalogue (tags.c): its methods, and the check of a contact's tags. The
//  resolve replaces each of names with the catalogue's spelling; 0, 422 with a field
//  error (prefix + "tags[i]") for each name not in the catalogue, or a failure code.
int contacts_tag_create(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int contacts_tag_get(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response);
int contacts_tag_list(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response);
int contacts_tag_update(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int contacts_tag_delete(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response);
int contacts_tag_merge(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);
int contacts_tags_resolve(crm_call_t *call, const char *prefix, char **names, size_t n);

//  Notes on a contact (notes.c): append-only, audited, @mentions parsed from the body.
int contacts_note_create(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response);
int contacts_note_get(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response);
int contacts_note_list(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response);
int contacts_note_revisions(crm_call_t *call, const ProtobufCMessage *request,
                            ProtobufCMessage **response);
int contacts_note_update(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response);
int contacts_note_delete(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response);

#endif
