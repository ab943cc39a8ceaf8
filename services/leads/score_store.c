/*  score_store: the score on the lead (score_follow.c's SQL): one statement locks the
    live lead, keeps its score and band (and priority, unless set by hand) and answers
    what they were and the lead as it is now, for LeadUpdated through the outbox writer.
*/
#include "leads.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

//  $3 the score, $4 the band. Answers the score, band and priority before, then after,
//  then the lead (LEAD_JSON); no row when the lead is gone.
static const crm_stmt_t s_put = {
    .name = "leads_score_put",
    .sql = "WITH old AS ("
           "  SELECT id, score, band, priority FROM leads"
           "  WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL FOR UPDATE),"
           " upd AS ("
           "  UPDATE leads l SET score = $3::int, band = $4,"
           "    priority = CASE WHEN l.priority_manual THEN l.priority ELSE $4 END"
           "  FROM old WHERE l.tenant_id = $1 AND l.id = old.id"
           "  RETURNING l.*)"
           " SELECT old.score, old.band, old.priority, upd.score, upd.band, upd.priority,"
           "  " LEAD_JSON("upd") " FROM old, upd",
    .nparams = 4,
    .writes = true};

int leads_score_store_put(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                          const char *lead_id, int score, const char *band) {
    char score_text[16];
    snprintf(score_text, sizeof score_text, "%d", score);
    const char *params[] = {tenant_id, lead_id, score_text, band};
    PGresult *res = crm_db_query(db, &s_put, params);
    if (!res)
        return -1;
    int rc = 0;
    if (PQntuples(res) == 1) {
        const char *changed[3];
        size_t n = leads_score_changed(atoi(PQgetvalue(res, 0, 0)), PQgetvalue(res, 0, 1),
                                       PQgetvalue(res, 0, 2), atoi(PQgetvalue(res, 0, 3)),
                                       PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5), changed);
        Crm__Leads__Lead *lead = n ? leads_from_json(PQgetvalue(res, 0, 6)) : NULL;
        if (n && !lead)
            rc = -1;
        if (lead) {
            Crm__Events__LeadUpdated event = CRM__EVENTS__LEAD_UPDATED__INIT;
            event.lead = lead;
            event.changed = (char **)changed;
            event.n_changed = n;
            event.actor_id = "scoring";
            rc = crm_outbox_add(outbox, tenant_id, lead_id, &event.base, NULL);
            crm__leads__lead__free_unpacked(lead, NULL);
        }
    }
    PQclear(res);
    return rc;
}
