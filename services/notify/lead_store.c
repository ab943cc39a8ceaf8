/*  lead_store: notify's copy of each lead (its contact, assignee and whether it is open),
    kept from the leads events by follow.c: a customer's reply finds the open lead it
    answers, and the triggers find a lead's contact, without a call to the leads service.
*/
#include "notify.h"

#include <stdio.h>
#include <string.h>

static const crm_stmt_t s_put = {
    .name = "leads_put",
    .sql = "INSERT INTO leads (tenant_id, lead_id, contact_id, assignee_id, open)"
           " VALUES ($1, $2::uuid, nullif($3, '')::uuid, $4, $5::boolean)"
           " ON CONFLICT (tenant_id, lead_id) DO UPDATE SET contact_id = excluded.contact_id,"
           "  assignee_id = excluded.assignee_id, open = excluded.open",
    .nparams = 5,
    .writes = true};

static const crm_stmt_t s_open = {
    .name = "leads_open",
    .sql = "UPDATE leads SET open = $3::boolean WHERE tenant_id = $1 AND lead_id = $2::uuid",
    .nparams = 3,
    .writes = true};

static const crm_stmt_t s_assignee = {
    .name = "leads_assignee",
    .sql = "UPDATE leads SET assignee_id = $3 WHERE tenant_id = $1 AND lead_id = $2::uuid",
    .nparams = 3,
    .writes = true};

static const crm_stmt_t s_contact = {.name = "leads_contact",
                                     .sql = "SELECT coalesce(contact_id::text, '') FROM leads"
                                            " WHERE tenant_id = $1 AND lead_id = $2::uuid",
                                     .nparams = 2};

int notify_lead_store_put(crm_db_t *db, const char *tenant_id, const char *lead_id,
                          const char *contact_id, const char *assignee_id, bool open) {
    if (!crm_uuid_valid(lead_id) || (contact_id[0] && !crm_uuid_valid(contact_id)))
        return 0;
    const char *params[] = {tenant_id, lead_id, contact_id, assignee_id, open ? "true" : "false"};
    return crm_db_run(db, &s_put, params);
}

int notify_lead_store_open(crm_db_t *db, const char *tenant_id, const char *lead_id, bool open) {
    if (!crm_uuid_valid(lead_id))
        return 0;
    const char *params[] = {tenant_id, lead_id, open ? "true" : "false"};
    return crm_db_run(db, &s_open, params);
}

int notify_lead_store_assignee(crm_db_t *db, const char *tenant_id, const char *lead_id,
                               const char *assignee_id) {
    if (!crm_uuid_valid(lead_id))
        return 0;
    const char *params[] = {tenant_id, lead_id, assignee_id};
    return crm_db_run(db, &s_assignee, params);
}

int notify_lead_store_contact(crm_db_t *db, const char *tenant_id, const char *lead_id,
                              char contact_id[CRM_UUID_LEN + 1]) {
    contact_id[0] = '\0';
    if (!crm_uuid_valid(lead_id))
        return 0;
    const char *params[] = {tenant_id, lead_id};
    PGresult *res = crm_db_query(db, &s_contact, params);
    if (!res)
        return -1;
    if (PQntuples(res))
        snprintf(contact_id, CRM_UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

static const crm_stmt_t s_assignee_of = {
    .name = "leads_assignee_of",
    .sql = "SELECT assignee_id FROM leads WHERE tenant_id = $1 AND lead_id = $2::uuid",
    .nparams = 2};

int notify_lead_store_assignee_of(crm_db_t *db, const char *tenant_id, const char *lead_id,
                                  char *out, size_t size) {
    out[0] = '\0';
    if (!crm_uuid_valid(lead_id))
        return 0;
    const char *params[] = {tenant_id, lead_id};
    PGresult *res = crm_db_query(db, &s_assignee_of, params);
    if (!res)
        return -1;
    if (PQntuples(res))
        snprintf(out, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}
