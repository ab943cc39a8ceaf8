/*  lifecycle_follow: the leads service's events applied to contacts: each read into its
    change (lifecycle.c, the rules), then written (lifecycle_store.c).

    - LeadWon: the contact becomes a customer (a prospect or service customer who bought),
      with its ContactUpdated event and audit entry, in the name of who closed the lead.
    - LeadCreated, LeadDeleted: the contact's lead count, shown in list rows.
    - LeadCreated, LeadStatusChanged: the contact's last activity moves forward.
    - LeadActivityLogged (a log, not a change): so does it, to the activity's time or,
      for an appointment booked ahead, to when it was booked.

    The daemon's follower of the leads source (main.c's follows table, common/
    follower.h) applies them with the contacts schema's inbox: each once, in order,
    across restarts and several processes.
*/
#include "contacts.h"
#include "follower.h"

//  One event (crm_follow_fn): 0 applied (or nothing to do), 1 unreadable, -1 failed.
int contacts_lifecycle_follow(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                              void *arg) {
    (void)arg;
    contacts_lifecycle_change_t change;
    int rc = contacts_lifecycle_read(event, &change);
    if (rc == 0 && change.kind == CONTACTS_LIFECYCLE_WON)
        rc = contacts_lifecycle_store_won(db, outbox, event->tenant_id, change.contact_id,
                                          change.lead_id, change.actor, change.at);
    else if (rc == 0 && change.kind == CONTACTS_LIFECYCLE_COUNT)
        rc = contacts_lifecycle_store_count(db, event->tenant_id, change.contact_id, change.delta,
                                            change.at);
    contacts_lifecycle_change_reset(&change);
    return rc;
}
