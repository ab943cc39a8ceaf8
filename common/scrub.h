/*  scrub: take personal data out of a protobuf message, for erasure (the right to be
    forgotten) of what was already written, such as the payloads of past events.

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

void crm_pb_scrub(ProtobufCMessage *msg);

//  Scrub the payloads of the tenant's past events about aggregate_ids (n of them) in the
//  outbox of db's schema, inside the caller's transaction: each is decoded by its type,
//  scrubbed and written back, so a replay carries ids and types only. An event of a type
//  this build does not know is left to age out with the outbox's retention. 0 or -1.
int crm_outbox_scrub(crm_db_t *db, const char *tenant_id, const char *const *aggregate_ids,
                     size_t n);

#endif
