/*  lifecycle: the rules of what the leads service's events do to contacts: an event read
    into the change it makes. No database here: lifecycle_store.c writes the change,
    lifecycle_follow.c follows the leads source; tests/unit/test_contacts_lifecycle.c
    states the rules.

    - LeadWon: the contact becomes a customer (a prospect or service customer who bought),
      in the name of who closed the lead (or "system:lifecycle"), at when it was closed.
    - LeadCreated, LeadDeleted: the contact's lead count, shown in list rows.
    - LeadCreated, LeadStatusChanged: the contact's last activity moves forward.
    - LeadActivityLogged (a log, not a change): so does it, to the activity's time or,
      for an appointment booked ahead, to when it was booked.
*/
#include "contacts.h"

#include <stdlib.h>
#include <string.h>

void contacts_lifecycle_change_reset(contacts_lifecycle_change_t *change) {
    if (change->message)
        protobuf_c_message_free_unpacked(change->message, NULL);
    memset(change, 0, sizeof *change);
}

//  A change of the lead count by delta and of the last activity to at (NULL: none).
static void s_count(contacts_lifecycle_change_t *change, const char *contact_id, int delta,
                    const char *at) {
    change->kind = CONTACTS_LIFECYCLE_COUNT;
    change->contact_id = contact_id;
    change->delta = delta;
    change->at = at;
}

int contacts_lifecycle_read(const Crm__Event *event, contacts_lifecycle_change_t *change) {
    memset(change, 0, sizeof *change);
    const uint8_t *data = event->payload.data;
    size_t size = event->payload.len;
    bool readable = true;
    if (strcmp(event->type, "LeadWon") == 0) {
        Crm__Events__LeadWon *m = crm__events__lead_won__unpack(NULL, size, data);
        change->message = (ProtobufCMessage *)m;
        readable = m != NULL;
        if (m) {
            change->kind = CONTACTS_LIFECYCLE_WON;
            change->contact_id = m->contact_id;
            change->lead_id = m->lead_id;
            change->actor = m->actor_id[0] ? m->actor_id : "system:lifecycle";
            change->at = m->closed_at[0] ? m->closed_at : event->occurred_at;
        }
    } else if (strcmp(event->type, "LeadCreated") == 0) {
        Crm__Events__LeadCreated *m = crm__events__lead_created__unpack(NULL, size, data);
        change->message = (ProtobufCMessage *)m;
        readable = m && m->lead;
        if (readable)
            s_count(change, m->lead->contact_id, 1, event->occurred_at);
    } else if (strcmp(event->type, "LeadDeleted") == 0) {
        Crm__Events__LeadDeleted *m = crm__events__lead_deleted__unpack(NULL, size, data);
        change->message = (ProtobufCMessage *)m;
        readable = m != NULL;
        if (m)
            s_count(change, m->contact_id, -1, NULL);
    } else if (strcmp(event->type, "LeadStatusChanged") == 0) {
        Crm__Events__LeadStatusChanged *m =
            crm__events__lead_status_changed__unpack(NULL, size, data);
        change->message = (ProtobufCMessage *)m;
        readable = m != NULL;
        if (m)
            s_count(change, m->contact_id, 0,
                    m->changed_at[0] ? m->changed_at : event->occurred_at);
    } else if (strcmp(event->type, "LeadActivityLogged") == 0) {
        Crm__Events__LeadActivityLogged *m =
            crm__events__lead_activity_logged__unpack(NULL, size, data);
        change->message = (ProtobufCMessage *)m;
        readable = m != NULL;
        if (m && m->n_changed == 0) {
            //  Both are UTC RFC 3339 of one form: the earlier sorts first.
            const char *at = m->occurred_at[0] && strcmp(m->occurred_at, event->occurred_at) < 0
                                 ? m->occurred_at
                                 : event->occurred_at;
            s_count(change, m->contact_id, 0, at);
        }
    }
    return readable ? 0 : 1;
}
