/*  scrub: take personal data out of a protobuf message, for erasure (the right to be
    forgotten) of what was already written, such as the payloads of past events, and
    for the event stream of keys marked pii: false (the gateway scrubs each event it
    passes to them, live and replayed: one definition of a personal field for both).

    What stays is what identifies records and describes them without describing the
    person: ids (a field named "id" or ending in "_id"), kinds, types, sources, statuses,
    times of records, the names of changed fields, tags, and every number, enum and
    boolean. Every other text, every list of texts and every map is emptied, in nested
    messages too.
*/
#ifndef CRM_SCRUB_H
#define CRM_SCRUB_H

#include "db.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

void crm_pb_scrub(ProtobufCMessage *msg);

//  The payload of an event of type (an event type name, "ContactCreated"), scrubbed and
//  packed again: a new buffer (caller frees) of *out_size bytes (0 when nothing is left),
//  or NULL with *out_size 0 when the payload is empty, of a type this build does not
//  know, or unreadable (the event stream then drops the payload whole: what cannot be
//  scrubbed is not passed on).
uint8_t *crm_event_payload_scrub(const char *type, const uint8_t *payload, size_t size,
                                 size_t *out_size);

//  An event envelope (crm.Event, serialized) with its payload scrubbed: a new buffer
//  (caller frees) of *out_size bytes, NULL when the envelope is unreadable.
uint8_t *crm_event_scrub_packed(const uint8_t *envelope, size_t size, size_t *out_size);

//  Scrub the payloads of the tenant's past events about aggregate_ids (n of them) in the
//  outbox of db's schema, inside the caller's transaction: each is decoded by its type,
//  scrubbed and written back, so a replay carries ids and types only. An event of a type
//  this build does not know is left to age out with the outbox's retention. 0 or -1.
int crm_outbox_scrub(crm_db_t *db, const char *tenant_id, const char *const *aggregate_ids,
                     size_t n);

#endif
