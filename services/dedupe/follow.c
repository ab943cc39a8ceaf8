/*  follow: what the contacts' events do to the match index (the follows table in
    main.c; common/follower.c applies each event once, in order, inside a transaction of
    its own, with dedupe's inbox). ContactCreated and ContactUpdated put the contact's
    entry as the event carries it (entry.c, entry_store.c); ContactDeleted takes it out,
    ContactMerged marks the review list's groups of the merged contacts merged and takes
    the merged ids out (the survivor's own ContactUpdated brings what
    it gained), ContactErased takes it out for good. Other events change nothing here.
    A contact new or changed in what the model compares, or gone, is queued for
    matching in the same transaction (queue.c's job matches it a batch at a time, off
    the loop: a bulk load never keeps the loop from answering checks), so the review
    list stays current and DuplicateFound goes out.
*/
#include "ids.h"
#include "match_store.h"

#include <stdlib.h>
#include <string.h>

#define UNPACK(name) crm__events__##name##__unpack(NULL, size, data)
#define FREE(name, m) crm__events__##name##__free_unpacked(m, NULL)

static int s_match(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                   const char *contact_id, const dedupe_t *self) {
    (void)outbox;
    (void)self;
    return dedupe_queue_add(db, tenant_id, contact_id);
}

static int s_put(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                 const Crm__Contacts__Contact *contact, const dedupe_t *self) {
    dedupe_entry_t entry;
    dedupe_entry_from_contact(&entry, contact, self->nicknames);
    int changed = dedupe_entry_store_put(db, tenant_id, contact->id, &entry);
    return changed <= 0 ? changed : s_match(db, outbox, tenant_id, contact->id, self);
}

//  The review list's groups of two or more of the merge's contacts are merged: the
//  merge's own work. (Its merged contacts then leave their other groups as they leave
//  the index; an undo's restored contacts, matched again, reopen a group of the same
//  members: match.c writes it open.)
static int s_groups_merged(crm_db_t *db, const char *tenant_id,
                           const Crm__Events__ContactMerged *m) {
    const char **ids = calloc(m->n_merged_ids + 2, sizeof *ids);
    assert(ids);
    size_t n = 0;
    if (crm_uuid_valid(m->survivor_id))
        ids[n++] = m->survivor_id;
    for (size_t i = 0; i < m->n_merged_ids; i++)
        if (crm_uuid_valid(m->merged_ids[i]))
            ids[n++] = m->merged_ids[i];
    char *array = crm_db_text_array(ids, n);
    int rc = n >= 2 ? dedupe_match_store_groups_merged(db, tenant_id, array) : 0;
    free(array);
    free(ids);
    return rc;
}

int dedupe_follow_contacts(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event, void *arg) {
    const dedupe_t *self = arg;
    const uint8_t *data = event->payload.data;
    size_t size = event->payload.len;
    const char *tenant = event->tenant_id;
    const char *type = event->type;
    int rc = 0;
    bool readable = true;
    if (strcmp(type, "ContactCreated") == 0) {
        Crm__Events__ContactCreated *m = UNPACK(contact_created);
        readable = m && m->contact;
        if (readable)
            rc = s_put(db, outbox, tenant, m->contact, self);
        if (m)
            FREE(contact_created, m);
    } else if (strcmp(type, "ContactUpdated") == 0) {
        Crm__Events__ContactUpdated *m = UNPACK(contact_updated);
        readable = m && m->contact;
        if (readable)
            rc = s_put(db, outbox, tenant, m->contact, self);
        if (m)
            FREE(contact_updated, m);
    } else if (strcmp(type, "ContactDeleted") == 0) {
        Crm__Events__ContactDeleted *m = UNPACK(contact_deleted);
        readable = m != NULL;
        if (m) {
            rc = dedupe_entry_store_remove(db, tenant, m->contact_id);
            if (rc == 0)
                rc = s_match(db, outbox, tenant, m->contact_id, self);
            FREE(contact_deleted, m);
        }
    } else if (strcmp(type, "ContactMerged") == 0) {
        Crm__Events__ContactMerged *m = UNPACK(contact_merged);
        readable = m != NULL;
        //  The survivor matched again too: a group's members the merge left out stay
        //  proposed with it.
        if (m)
            rc = s_groups_merged(db, tenant, m) ||
                 (crm_uuid_valid(m->survivor_id) && dedupe_queue_add(db, tenant, m->survivor_id));
        for (size_t i = 0; m && i < m->n_merged_ids && rc == 0; i++)
            rc = dedupe_entry_store_remove(db, tenant, m->merged_ids[i]) ||
                 s_match(db, outbox, tenant, m->merged_ids[i], self);
        if (m)
            FREE(contact_merged, m);
    } else if (strcmp(type, "ContactUnmerged") == 0) {
        return dedupe_follow_unmerged(db, event, self);
    } else if (strcmp(type, "ContactErased") == 0) {
        Crm__Events__ContactErased *m = UNPACK(contact_erased);
        readable = m != NULL;
        if (m) {
            rc = dedupe_entry_store_erase(db, tenant, m->contact_id);
            if (rc == 0)
                rc = s_match(db, outbox, tenant, m->contact_id, self);
            FREE(contact_erased, m);
        }
    }
    if (!readable)
        return 1;
    return rc ? -1 : 0;
}
