/*  change: the projection's rules: a contacts event, or an item of a contacts snapshot,
    as the state of one contact that the projection keeps (reporting_change_t). No
    database here: projection_store.c writes the changes; tests/unit/
    test_reporting_change.c states the rules.
*/
#include "reporting.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"

#include <inttypes.h>
#include <string.h>

//  The UTC date of an RFC 3339 UTC timestamp ("2026-11-22T08:30:00.123456Z").
static bool s_day_of(const char *timestamp, char day[12]) {
    if (!timestamp || strlen(timestamp) < 10)
        return false;
    memcpy(day, timestamp, 10);
    day[10] = 0;
    return reporting_day_parse(day, NULL);
}

//  A contact's state as carried by ContactCreated and ContactUpdated.
static int s_change_from_contact(const Crm__Event *event, const Crm__Contacts__Contact *contact,
                                 reporting_change_t *change) {
    if (!contact || !crm_uuid_valid(contact->id))
        return -1;
    change->tenant_id = event->tenant_id;
    snprintf(change->contact_id, sizeof change->contact_id, "%s", contact->id);
    if (!s_day_of(contact->created_at, change->day) && !s_day_of(event->occurred_at, change->day))
        return -1;
    crm_enum_api_name(&crm__contacts__contact_type__descriptor, contact->type, change->type,
                sizeof change->type);
    crm_enum_api_name(&crm__contacts__contact_source__descriptor, contact->source, change->source,
                sizeof change->source);
    change->state_known = true;
    change->deleted = false;
    return 0;
}

int reporting_change_from_event(const Crm__Event *event, reporting_change_t *change) {
    memset(change, 0, sizeof *change);
    change->seq = event->seq;
    int rc = 0;
    const uint8_t *data = event->payload.data;
    size_t size = event->payload.len;
    if (strcmp(event->type, "ContactCreated") == 0) {
        Crm__Events__ContactCreated *m = crm__events__contact_created__unpack(NULL, size, data);
        rc = m && s_change_from_contact(event, m->contact, change) == 0 ? 1 : -1;
        if (m)
            crm__events__contact_created__free_unpacked(m, NULL);
    } else if (strcmp(event->type, "ContactUpdated") == 0) {
        Crm__Events__ContactUpdated *m = crm__events__contact_updated__unpack(NULL, size, data);
        rc = m && s_change_from_contact(event, m->contact, change) == 0 ? 1 : -1;
        if (m)
            crm__events__contact_updated__free_unpacked(m, NULL);
    } else if (strcmp(event->type, "ContactDeleted") == 0) {
        Crm__Events__ContactDeleted *m = crm__events__contact_deleted__unpack(NULL, size, data);
        rc = m && crm_uuid_valid(m->contact_id) ? 1 : -1;
        if (rc == 1) {
            change->tenant_id = event->tenant_id;
            snprintf(change->contact_id, sizeof change->contact_id, "%s", m->contact_id);
            change->deleted = true;
        }
        if (m)
            crm__events__contact_deleted__free_unpacked(m, NULL);
    }
    if (rc < 0) {
        char seq[24];
        snprintf(seq, sizeof seq, "%" PRIu64, event->seq);
        crm_log_kv(CRM_LOG_ERROR, "unreadable event skipped", "source", event->source, "seq", seq,
                   "type", event->type, NULL);
    }
    return rc;
}

size_t reporting_changes_from_event(const Crm__Event *event, reporting_change_t *changes) {
    const uint8_t *data = event->payload.data;
    size_t size = event->payload.len, n = 0;
    if (strcmp(event->type, "ContactMerged") == 0) {
        Crm__Events__ContactMerged *m = crm__events__contact_merged__unpack(NULL, size, data);
        for (size_t i = 0; m && i < m->n_merged_ids && n < REPORTING_CHANGES_PER_EVENT; i++) {
            if (!crm_uuid_valid(m->merged_ids[i]))
                continue;
            reporting_change_t *change = &changes[n++];
            memset(change, 0, sizeof *change);
            change->seq = event->seq;
            change->tenant_id = event->tenant_id;
            snprintf(change->contact_id, sizeof change->contact_id, "%s", m->merged_ids[i]);
            change->deleted = true;
        }
        if (m)
            crm__events__contact_merged__free_unpacked(m, NULL);
        else
            crm_log_kv(CRM_LOG_ERROR, "unreadable event skipped", "source", event->source,
                       "type", event->type, NULL);
        return n;
    }
    if (strcmp(event->type, "ContactUnmerged") == 0) {
        Crm__Events__ContactUnmerged *m = crm__events__contact_unmerged__unpack(NULL, size, data);
        for (size_t i = 0; m && i < m->n_restored && n < REPORTING_CHANGES_PER_EVENT; i++) {
            memset(&changes[n], 0, sizeof changes[n]);
            changes[n].seq = event->seq;
            if (s_change_from_contact(event, m->restored[i], &changes[n]) == 0)
                n++;
        }
        if (m)
            crm__events__contact_unmerged__free_unpacked(m, NULL);
        else
            crm_log_kv(CRM_LOG_ERROR, "unreadable event skipped", "source", event->source,
                       "type", event->type, NULL);
        return n;
    }
    return reporting_change_from_event(event, &changes[0]) == 1 ? 1 : 0;
}

int reporting_change_from_snapshot(const Crm__Contacts__SnapshotItem *item,
                                   reporting_change_t *change) {
    memset(change, 0, sizeof *change);
    if (!crm_uuid_valid(item->id) || !s_day_of(item->created_at, change->day)) {
        crm_log_kv(CRM_LOG_ERROR, "unreadable snapshot item skipped", "tenant", item->tenant_id,
                   "id", item->id, NULL);
        return -1;
    }
    change->tenant_id = item->tenant_id;
    snprintf(change->contact_id, sizeof change->contact_id, "%s", item->id);
    snprintf(change->type, sizeof change->type, "%s", item->type);
    snprintf(change->source, sizeof change->source, "%s", item->source);
    change->deleted = item->deleted;
    change->state_known = true;
    return 0;
}

