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

#include <protobuf-c/protobuf-c.h>

void crm_pb_scrub(ProtobufCMessage *msg);

#endif
