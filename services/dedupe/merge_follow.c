/*  merge_follow: what an undone merge (ContactUnmerged) does to the match index. The
    merge itself took the merged contacts out (follow.c, ContactMerged); the undo puts
    each restored contact back as the event carries it, so it is found again by a check
    and a scan, and queues it for matching (queue.c: its pairs and groups come back);
    the survivor's own ContactUpdated takes out what it gave back. An erased contact
    stays out (dedupe_entry_store_put).
*/
#include "dedupe.h"

int dedupe_follow_unmerged(crm_db_t *db, const Crm__Event *event, const dedupe_t *self) {
    Crm__Events__ContactUnmerged *m =
        crm__events__contact_unmerged__unpack(NULL, event->payload.len, event->payload.data);
    if (!m)
        return 1;
    int rc = 0;
    for (size_t i = 0; i < m->n_restored && rc == 0; i++) {
        const Crm__Contacts__Contact *contact = m->restored[i];
        if (!contact || !contact->id[0])
            continue;
        dedupe_entry_t entry;
        dedupe_entry_from_contact(&entry, contact, self->nicknames);
        rc = dedupe_entry_store_put(db, event->tenant_id, contact->id, &entry);
        if (rc >= 0)
            rc = dedupe_queue_add(db, event->tenant_id, contact->id);
    }
    crm__events__contact_unmerged__free_unpacked(m, NULL);
    return rc ? -1 : 0;
}
