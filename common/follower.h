/*  follower: a daemon's follower of another service's events.

    A subscriber (events.h) with a database connection of its own, following one source
    with the daemon's schema's inbox, so each event is applied once, in order, across
    restarts and across several processes of the daemon (they take turns on the inbox
    row). The daemon says what one event does; the follower unpacks nothing, logs what
    cannot be applied, and kicks the daemon's relay after each committed batch so the
    events the daemon wrote while applying go out.
*/
#ifndef CRM_FOLLOWER_H
#define CRM_FOLLOWER_H

#include "events.h"

typedef struct _crm_follower_t crm_follower_t;

//  What one event does, through db inside the batch's transaction (outbox: the
//  statement that writes the daemon's own events). Returns 0 applied (or nothing to
//  do), 1 unreadable (logged and skipped), -1 failed (the batch is tried again later).
typedef int(crm_follow_fn)(crm_db_t *db, const crm_stmt_t *outbox, const Crm__Event *event,
                           void *arg);

//  Follow source's events for the daemon whose schema (and service name) is schema.
//  NULL when it cannot start (logged).
crm_follower_t *crm_follower_start(const crm_config_t *cfg, crm_service_t *service,
                                   zloop_t *loop, const char *schema, const char *source,
                                   crm_follow_fn *fn, void *arg);

//  Stop following; from outside the loop (the daemon's detach).
void crm_follower_stop(crm_follower_t **self_p);

#endif
