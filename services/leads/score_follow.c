/*  score_follow: what the scoring service's events do to leads (the follows table's
    "scoring" row, main.c): each LeadScored puts the lead's score and band on the lead,
    and its priority with them unless a salesperson set it by hand (priorityManual: the
    priority stays until a PATCH clears it; the score and band still move).

    When any of score, band or priority moved, the lead's LeadUpdated names exactly those
    (changed: "score", "band", "priority"). The scoring service ignores a LeadUpdated that
    changes only score, band, priority, priorityManual or updatedAt, so the two services
    never bounce events between them; and updatedAt is left alone (a score is no edit of
    the lead by anyone).

    A lead that is gone (deleted, another tenant's, never there) is skipped without
    error; an event that cannot be read (no lead, an unknown band, a score out of 0-100)
    is logged and skipped by the follower. The rules (leads_score_*) need no database and
    are unit-tested in tests/unit/test_leads_score.c; the SQL is score_store.c's.
*/
#include "leads.h"
#include "ids.h"
#include "json_pb.h"

#include <stdio.h>
#include <string.h>

const char *leads_score_priority(bool manual, const char *current, const char *band) {
    return manual || !band[0] ? current : band;
}

int leads_score_read(const Crm__Events__LeadScored *m, int *score, char band[8]) {
    if (!crm_uuid_valid(m->lead_id) || m->score < 0 || m->score > 100)
        return -1;
    //  The band enum, or (from an older producer) its name in priority.
    char name[8] = ""; // hot, medium or cold fit; a longer name is refused below
    if (m->band != CRM__SCORING__BAND__BAND_UNSPECIFIED)
        crm_enum_api_name(&crm__scoring__band__descriptor, m->band, name, sizeof name);
    else if (m->priority)
        snprintf(name, sizeof name, "%s", m->priority);
    if (strcmp(name, "hot") != 0 && strcmp(name, "medium") != 0 && strcmp(name, "cold") != 0)
        return -1;
    snprintf(band, 8, "%s", name);
    *score = m->score;
    return 0;
}

size_t leads_score_changed(int score_before, const char *band_before, const char *priority_before,
                           int score_after, const char *band_after, const char *priority_after,
                           const char *changed[3]) {
    size_t n = 0;
    if (score_before != score_after)
        changed[n++] = "score";
    if (strcmp(band_before, band_after) != 0)
        changed[n++] = "band";
    if (strcmp(priority_before, priority_after) != 0)
        changed[n++] = "priority";
    return n;
}

int leads_score_follow(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event, void *arg) {
    (void)arg;
    if (strcmp(event->type, "LeadScored") != 0)
        return 0;
    Crm__Events__LeadScored *m =
        crm__events__lead_scored__unpack(NULL, event->payload.len, event->payload.data);
    if (!m)
        return 1;
    int score = 0, rc = 1;
    char band[8];
    if (leads_score_read(m, &score, band) == 0) // rules
        rc = leads_score_store_put(db, outbox, event->tenant_id, m->lead_id, score, band) ? -1
                                                                                          : 0;
    crm__events__lead_scored__free_unpacked(m, NULL);
    return rc;
}
