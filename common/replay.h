/*  replay: the source's "Events.Replay" method, and the subscriber's sequencing rules.

    A consumer that sees a gap in a source's seq (a PUB drop, a restart, a relay that
    died between numbering and publishing) calls the source's Events.Replay(from_seq,
    limit) over the bus; the method reads the numbered events back from the outbox
    (outbox.h). Every service lists it in its method table, visibly:

        static const crm_method_t methods[] = {
            { "Create", contacts_create, &crm__contacts__create_contact_request__descriptor, true },
            CRM_EVENTS_REPLAY_METHOD,
            { NULL }
        };

    A replay from before the oldest kept seq (events.retention_days) is refused with 410
    and error "events_expired". Only the system and admin roles may replay: the answer
    holds every tenant's events.

    crm_seq_check and crm_replay_page_check are the subscriber's (subscriber.h) rules
    for what an incoming seq or a replayed page means.
*/
#ifndef CRM_REPLAY_H
#define CRM_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events.pb-c.h"
#include "service.h"

//  --- Replay (the source's side) ------------------------------------------------------

//  The "Events.Replay" method: a crm.events.ReplayRequest answered with a
//  crm.events.ReplayResponse.
int crm_events_replay(crm_call_t *call, const ProtobufCMessage *request,
                      ProtobufCMessage **response);

//  Its row of a service's method table.
#define CRM_EVENTS_REPLAY_METHOD                                                              \
    { "Events.Replay", crm_events_replay, &crm__events__replay_request__descriptor, false }

//  --- Sequencing (the subscriber's gap detector) ---------------------------------------

typedef enum {
    CRM_SEQ_APPLY,     // the next one: apply it
    CRM_SEQ_DUPLICATE, // applied already: drop it
    CRM_SEQ_GAP        // events between last_applied and seq are missing: replay first
} crm_seq_action_t;

crm_seq_action_t crm_seq_check(uint64_t last_applied, uint64_t seq);

//  A page of a replay (the seqs of its events, in order) answered after last_applied:
//  how many of its first events continue the sequence without a hole (usable), and
//  whether to ask for the next page (the page was whole and the head is further on).
typedef struct {
    size_t usable;
    bool more;
} crm_replay_page_t;

crm_replay_page_t crm_replay_page_check(uint64_t last_applied, const uint64_t *seqs, size_t n,
                                        uint64_t head_seq);

#endif
