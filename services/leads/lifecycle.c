/*  lifecycle: what the contacts service's events do to leads.

    - ContactCreated, ContactDeleted (and the merges and erasures below): which ids are
      live contacts of which tenant (contact_ids), so that a lead's contact is checked
      without a call to the contacts service.
    - ContactMerged: the merged contacts' leads now belong to the survivor. Every lead
      is re-pointed (deleted ones too, so history reads right), remembered under the
      merge's id with the contact it had (merge_repoints); each live one gets a
      LeadUpdated event naming contactId as changed.
    - ContactUnmerged: the merge undone. The leads it re-pointed that are still the
      survivor's go back to the contacts they had (a lead moved since stays where it
      was put), each live one with its LeadUpdated; the restored contacts are live again.
    - ContactErased: the person's data goes from the contact's leads: custom fields,
      the postcode, VINs (of interest, sold, traded in), the lost reason's text, every
      free text the leads schema holds about the lead (activities' notes, bodies,
      transcripts and next steps; notes of stage moves, assignments and follow-ups), stored replies
      that could be replayed, and the payloads of the leads' past events (scrubbed,
      crm_outbox_scrub).
      What is left is what reports count: ids, stages, sources, money, times.

    A follower (common/follower.h) applies the contacts source's events with the leads
    schema's inbox: each once, in order, across restarts and several leads processes.
*/
#include "leads.h"
#include "follower.h"
#include "events.pb-c.h"
#include "ids.h"
#include "log.h"
#include "bus_client.h"
#include "contacts.pb-c.h"
#include "scrub.h"

#include <stdlib.h>
#include <string.h>

//  One event (crm_follow_fn): 0 applied (or nothing to do), 1 unreadable, -1 failed.
int leads_lifecycle_follow(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                           void *arg) {
    (void)arg;
    const uint8_t *data = event->payload.data;
    size_t size = event->payload.len;
    int rc = 0;
    bool readable = true;
    if (strcmp(event->type, "ContactCreated") == 0) {
        Crm__Events__ContactCreated *m = crm__events__contact_created__unpack(NULL, size, data);
        readable = m && m->contact;
        if (readable) {
            const char *ids[] = {m->contact->id};
            rc = leads_contact_ids_note(db, event->tenant_id, ids, 1, false);
        }
        if (m)
            crm__events__contact_created__free_unpacked(m, NULL);
    } else if (strcmp(event->type, "ContactDeleted") == 0) {
        Crm__Events__ContactDeleted *m = crm__events__contact_deleted__unpack(NULL, size, data);
        readable = m != NULL;
        if (m) {
            const char *ids[] = {m->contact_id};
            rc = leads_contact_ids_note(db, event->tenant_id, ids, 1, true);
            crm__events__contact_deleted__free_unpacked(m, NULL);
        }
    } else if (strcmp(event->type, "ContactMerged") == 0) {
        Crm__Events__ContactMerged *m = crm__events__contact_merged__unpack(NULL, size, data);
        readable = m != NULL;
        if (m) {
            int moved = leads_contacts_merged(db, outbox, event->tenant_id,
                                              m->survivor_id, (const char *const *)m->merged_ids,
                                              m->n_merged_ids, m->actor_id, m->merge_id);
            rc = moved < 0 ? -1
                           : leads_contact_ids_note(db, event->tenant_id,
                                                    (const char *const *)m->merged_ids,
                                                    m->n_merged_ids, true);
            if (moved > 0) {
                char text[16];
                snprintf(text, sizeof text, "%d", moved);
                crm_log_kv(CRM_LOG_INFO, "merged contacts' leads re-pointed", "survivor",
                           m->survivor_id, "leads", text, NULL);
            }
            crm__events__contact_merged__free_unpacked(m, NULL);
        }
    } else if (strcmp(event->type, "ContactUnmerged") == 0) {
        Crm__Events__ContactUnmerged *m = crm__events__contact_unmerged__unpack(NULL, size, data);
        readable = m != NULL;
        if (m) {
            int back = leads_contacts_unmerged(db, outbox, event->tenant_id, m->merge_id,
                                               m->survivor_id,
                                               (const char *const *)m->restored_ids,
                                               m->n_restored_ids, m->actor_id);
            rc = back < 0 ? -1 : 0;
            if (back > 0) {
                char text[16];
                snprintf(text, sizeof text, "%d", back);
                crm_log_kv(CRM_LOG_INFO, "an undone merge's leads pointed back", "merge",
                           m->merge_id, "leads", text, NULL);
            }
            crm__events__contact_unmerged__free_unpacked(m, NULL);
        }
    } else if (strcmp(event->type, "ContactErased") == 0) {
        Crm__Events__ContactErased *m = crm__events__contact_erased__unpack(NULL, size, data);
        readable = m != NULL;
        if (m) {
            const char *at = m->erased_at[0] ? m->erased_at : event->occurred_at;
            int erased = leads_contact_erased(db, event->tenant_id, m->contact_id, at);
            const char *ids[] = {m->contact_id};
            rc = erased < 0 ? -1 : leads_contact_ids_note(db, event->tenant_id, ids, 1, true);
            if (erased > 0)
                crm_log_kv(CRM_LOG_INFO, "an erased contact's leads lost its personal data",
                           "contact", m->contact_id, NULL);
            crm__events__contact_erased__free_unpacked(m, NULL);
        }
    }
    return readable ? rc : 1;
}

// --- a new lead's contact ---------------------------------------------------------------

//  Is contact_id a live contact of the caller's tenant? Known from the contacts
//  service's events (contact_ids, lifecycle.c) when they have been applied; else the
//  contacts service is asked (its "Get", with the caller's header, so it answers only
//  for the caller's tenant) and its yes noted. 0; 422 naming contactId; 503 when the
//  contacts service does not answer.
int leads_contact_check(crm_call_t *call, const char *contact_id) {
    bool known = false, deleted = false;
    int failed = leads_contact_known(call, contact_id, &known, &deleted);
    if (failed)
        return failed;
    if (known && !deleted)
        return 0;
    if (deleted) {
        crm_call_field_error(call, "contactId", "is not a contact of this dealership");
        return 422;
    }
    leads_t *self = call->arg;
    Crm__Contacts__GetContactRequest get = CRM__CONTACTS__GET_CONTACT_REQUEST__INIT;
    get.id = (char *)contact_id;
    int code = crm_call_service(call, self->contacts, "contacts", "Get", &get.base, NULL,
                                self->cfg->leads_contacts_timeout_ms, NULL, NULL);
    if (code == 200)
        return leads_contact_ids_note(call->db, call->header->tenant_id, &contact_id, 1, false)
                   ? crm_call_db_failure(call)
                   : 0;
    if (code == 404) {
        crm_call_field_error(call, "contactId", "is not a contact of this dealership");
        return 422;
    }
    crm_log_kv(CRM_LOG_WARN, "contacts service did not confirm a contact", "code",
               code ? (code == 503 ? "503" : code == 504 ? "504" : "other") : "no answer",
               "request_id", call->header->request_id, NULL);
    crm_call_error(call, "unavailable",
                   "the contacts service is unavailable, so the contact cannot be checked; "
                   "retry later");
    return 503;
}
