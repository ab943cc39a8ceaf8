/*  follower: a daemon's follower of another service's events.

    A subscriber (subscriber.h) with a database connection of its own, following one source
    with the daemon's schema's inbox, so each event is applied once, in order, across
    restarts and across several processes of the daemon (they take turns on the inbox
    row). The daemon says what one event does; the follower unpacks nothing, logs what
    cannot be applied, writes the events the daemon adds to the outbox writer while
    applying one (outbox.h), and kicks the daemon's relay after each committed batch so
    they go out.
*/
#ifndef CRM_FOLLOWER_H
#define CRM_FOLLOWER_H

#include "outbox.h"
#include "service.h"
#include "subscriber.h"

typedef struct _crm_follower_t crm_follower_t;

//  What one event does, through db inside the batch's transaction; the daemon's own
//  events go into outbox (crm_outbox_add), which the follower writes once the event is
//  applied. Returns 0 applied (or nothing to do), 1 unreadable (logged and skipped), -1
//  failed (the batch is tried again later).
typedef int(crm_follow_fn)(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                           void *arg);

//  Follow source's events for the daemon whose schema (and service name) is schema.
//  NULL when it cannot start (logged).
crm_follower_t *crm_follower_start(const crm_config_t *cfg, crm_service_t *service,
                                   zloop_t *loop, const char *schema, const char *source,
                                   crm_follow_fn *fn, void *arg);

//  Stop following; from outside the loop (the daemon's detach).
void crm_follower_stop(crm_follower_t **self_p);

#endif
