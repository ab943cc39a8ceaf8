/*  follow: what the other services' events do to scoring (the follows table in main.c;
    common/follower.c applies each event once, in order, in a transaction, with scoring's
    inbox). Each event that changes a lead's facts (facts.c) rescores it as of the
    event's own time, so that rebuilding from the stream gives the same scores; a
    LeadScored goes out only when its score or band changed (lead_store.c).

    leads     LeadCreated, LeadUpdated (fit facts; LeadUpdated that only carries the
              score the leads service took from us changes nothing), LeadStatusChanged
              (qualified, closed), LeadActivityLogged (signals), LeadDeleted
    contacts  ContactCreated, ContactUpdated (a phone, an email), the communication rules
              (do-not-contact), ContactDeleted, ContactErased: the contact's reachability,
              and its leads rescored when it changed
    notify    NotificationClicked (email_click); opens are not engagement
*/
#include "scoring.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define UNPACK(name) crm__events__##name##__unpack(NULL, event->payload.len, event->payload.data)
#define FREE(name, m) crm__events__##name##__free_unpacked(m, NULL)

//  Rescore facts under the tenant's model as of the event's time, and store them.
static int s_rescore(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                     Crm__Scoring__LeadFacts *facts) {
    scoring_model_t *model = malloc(sizeof *model);
    if (!model)
        return -1;
    int rc = scoring_model_store_current(db, &scoring_state, event->tenant_id, model, NULL);
    int64_t now = scoring_time_parse(event->occurred_at);
    if (rc == 0)
        rc = scoring_lead_store_put(db, outbox, event->tenant_id, facts, model, now, NULL);
    free(model);
    return rc;
}

//  The lead's facts, or new ones when it has none. NULL on a database failure.
static Crm__Scoring__LeadFacts *s_facts(crm_db_t *db, const char *tenant_id, const char *lead_id,
                                        bool *failed) {
    Crm__Scoring__LeadFacts *facts = scoring_lead_store_get(db, tenant_id, lead_id, failed);
    if (!facts && !*failed) {
        facts = malloc(sizeof *facts);
        crm__scoring__lead_facts__init(facts);
        facts->lead_id = strdup(lead_id);
    }
    return facts;
}

//  True when a LeadUpdated changed nothing scoring reads (its own score coming back).
static bool s_only_scoring(const Crm__Events__LeadUpdated *m) {
    static const char *const ours[] = {"score", "band", "priority", "priorityManual",
                                       "updatedAt"};
    if (m->n_changed == 0)
        return false;
    for (size_t i = 0; i < m->n_changed; i++) {
        bool found = false;
        for (size_t j = 0; j < sizeof ours / sizeof ours[0]; j++)
            found |= strcmp(m->changed[i], ours[j]) == 0;
        if (!found)
            return false;
    }
    return true;
}

static int s_lead(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                  const Crm__Leads__Lead *lead) {
    if (!lead || !lead->id || !*lead->id)
        return 1;
    bool failed;
    Crm__Scoring__LeadFacts *facts = s_facts(db, event->tenant_id, lead->id, &failed);
    if (!facts)
        return -1;
    if (!*facts->created_at && !(lead->created_at && *lead->created_at))
        facts->created_at = strdup(event->occurred_at);
    scoring_facts_from_lead(facts, lead);
    facts->closed = lead->closed_at && *lead->closed_at;
    facts->contact_reachable =
        scoring_contact_store_reachable(db, event->tenant_id, facts->contact_id);
    int rc = s_rescore(db, outbox, event, facts);
    crm__scoring__lead_facts__free_unpacked(facts, NULL);
    return rc;
}

//  A fit fact the facts hold.
static bool s_fit_has(const Crm__Scoring__LeadFacts *facts, const char *name) {
    for (size_t i = 0; i < facts->n_fit; i++)
        if (strcmp(facts->fit[i], name) == 0)
            return true;
    return false;
}

static int s_status(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                    const Crm__Events__LeadStatusChanged *m) {
    bool failed;
    Crm__Scoring__LeadFacts *facts = scoring_lead_store_get(db, event->tenant_id, m->lead_id, &failed);
    if (!facts)
        return failed ? -1 : 0;
    static const char *const qualified[] = {"qualified", "test_drive", "negotiation"};
    for (size_t i = 0; i < sizeof qualified / sizeof qualified[0]; i++)
        if (strcmp(m->to_stage, qualified[i]) == 0 && !facts->qualified) {
            facts->qualified = true;
            if (s_fit_has(facts, "budget_given") && !s_fit_has(facts, "budget_qualified")) {
                facts->fit = realloc(facts->fit, (facts->n_fit + 1) * sizeof *facts->fit);
                facts->fit[facts->n_fit++] = strdup("budget_qualified");
            }
        }
    facts->closed = m->to_outcome == CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_WON ||
                    m->to_outcome == CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_LOST;
    int rc = s_rescore(db, outbox, event, facts);
    crm__scoring__lead_facts__free_unpacked(facts, NULL);
    return rc;
}

static int s_activity(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                      const Crm__Events__LeadActivityLogged *m) {
    bool failed;
    Crm__Scoring__LeadFacts *facts = scoring_lead_store_get(db, event->tenant_id, m->lead_id, &failed);
    if (!facts)
        return failed ? -1 : 0; // a lead scoring never saw created: nothing to score
    int rc = 0;
    if (scoring_facts_activity(facts, m, event->occurred_at))
        rc = s_rescore(db, outbox, event, facts);
    crm__scoring__lead_facts__free_unpacked(facts, NULL);
    return rc;
}

int scoring_follow_leads(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event, void *arg) {
    (void)arg;
    const char *type = event->type;
    int rc = 0;
    if (strcmp(type, "LeadCreated") == 0) {
        Crm__Events__LeadCreated *m = UNPACK(lead_created);
        rc = m ? s_lead(db, outbox, event, m->lead) : 1;
        if (m)
            FREE(lead_created, m);
    } else if (strcmp(type, "LeadUpdated") == 0) {
        Crm__Events__LeadUpdated *m = UNPACK(lead_updated);
        rc = !m ? 1 : s_only_scoring(m) ? 0 : s_lead(db, outbox, event, m->lead);
        if (m)
            FREE(lead_updated, m);
    } else if (strcmp(type, "LeadStatusChanged") == 0) {
        Crm__Events__LeadStatusChanged *m = UNPACK(lead_status_changed);
        rc = m ? s_status(db, outbox, event, m) : 1;
        if (m)
            FREE(lead_status_changed, m);
    } else if (strcmp(type, "LeadActivityLogged") == 0) {
        Crm__Events__LeadActivityLogged *m = UNPACK(lead_activity_logged);
        rc = m ? s_activity(db, outbox, event, m) : 1;
        if (m)
            FREE(lead_activity_logged, m);
    } else if (strcmp(type, "LeadDeleted") == 0) {
        Crm__Events__LeadDeleted *m = UNPACK(lead_deleted);
        rc = !m ? 1 : scoring_lead_store_delete(db, event->tenant_id, m->lead_id) ? -1 : 0;
        if (m)
            FREE(lead_deleted, m);
    }
    return rc;
}

//  Rescore every lead of a contact whose reachability changed.
static int s_contact_leads(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                           const char *contact_id) {
    char **ids = NULL;
    size_t n = 0;
    int rc = scoring_lead_store_of_contact(db, event->tenant_id, contact_id, &ids, &n);
    for (size_t i = 0; i < n; i++) {
        bool failed = false;
        Crm__Scoring__LeadFacts *facts =
            rc == 0 ? scoring_lead_store_get(db, event->tenant_id, ids[i], &failed) : NULL;
        if (failed)
            rc = -1;
        if (facts) {
            rc = s_rescore(db, outbox, event, facts);
            crm__scoring__lead_facts__free_unpacked(facts, NULL);
        }
        free(ids[i]);
    }
    free(ids);
    return rc;
}

static int s_contact(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                     const char *contact_id, int bits) {
    bool changed = false;
    if (scoring_contact_store_put(db, event->tenant_id, contact_id, bits, &changed))
        return -1;
    return changed ? s_contact_leads(db, outbox, event, contact_id) : 0;
}

static int s_channels(const Crm__Contacts__Contact *c) {
    return 0x100 | (c->n_phones ? 1 : 0) | (c->n_emails ? 2 : 0);
}

int scoring_follow_contacts(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                            void *arg) {
    (void)arg;
    const char *type = event->type;
    int rc = 0;
    if (strcmp(type, "ContactCreated") == 0) {
        Crm__Events__ContactCreated *m = UNPACK(contact_created);
        rc = m && m->contact ? s_contact(db, outbox, event, m->contact->id, s_channels(m->contact))
                             : 1;
        if (m)
            FREE(contact_created, m);
    } else if (strcmp(type, "ContactUpdated") == 0) {
        Crm__Events__ContactUpdated *m = UNPACK(contact_updated);
        rc = m && m->contact ? s_contact(db, outbox, event, m->contact->id, s_channels(m->contact))
                             : 1;
        if (m)
            FREE(contact_updated, m);
    } else if (strcmp(type, "ContactCommunicationRulesChanged") == 0) {
        Crm__Events__ContactCommunicationRulesChanged *m =
            UNPACK(contact_communication_rules_changed);
        if (m) {
            const Crm__Contacts__DoNotContact *d = m->do_not_contact;
            int bits = 0x200 | (d && d->call ? 4 : 0) | (d && d->sms ? 8 : 0) |
                       (d && d->email ? 16 : 0);
            rc = s_contact(db, outbox, event, m->contact_id, bits);
            FREE(contact_communication_rules_changed, m);
        } else
            rc = 1;
    } else if (strcmp(type, "ContactDeleted") == 0) {
        Crm__Events__ContactDeleted *m = UNPACK(contact_deleted);
        rc = m ? s_contact(db, outbox, event, m->contact_id, -1) : 1;
        if (m)
            FREE(contact_deleted, m);
    } else if (strcmp(type, "ContactErased") == 0) {
        Crm__Events__ContactErased *m = UNPACK(contact_erased);
        rc = m ? s_contact(db, outbox, event, m->contact_id, -1) : 1;
        if (m)
            FREE(contact_erased, m);
    }
    return rc;
}

int scoring_follow_notify(crm_db_t *db, crm_outbox_t *outbox, const Crm__Event *event,
                          void *arg) {
    (void)arg;
    if (strcmp(event->type, "NotificationClicked") != 0)
        return 0;
    Crm__Events__NotificationClicked *m = UNPACK(notification_clicked);
    if (!m)
        return 1;
    int rc = 0;
    const Crm__Events__NotificationRef *ref = m->ref;
    if (ref && ref->lead_id && *ref->lead_id && ref->message_id) {
        bool failed;
        Crm__Scoring__LeadFacts *facts =
            scoring_lead_store_get(db, event->tenant_id, ref->lead_id, &failed);
        if (failed)
            rc = -1;
        if (facts) {
            char id[96];
            snprintf(id, sizeof id, "click:%s", ref->message_id); // one per message
            if (scoring_facts_signal(facts, id, "email_click", event->occurred_at))
                rc = s_rescore(db, outbox, event, facts);
            crm__scoring__lead_facts__free_unpacked(facts, NULL);
        }
    }
    FREE(notification_clicked, m);
    return rc;
}
