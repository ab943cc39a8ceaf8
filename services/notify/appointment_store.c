/*  appointment_store: the SQL of appointment messages (appointment.c has the rules,
    follow.c applies them): notify's copy of each appointment (migration 0003), and the
    withdrawal of the messages an appointment no longer needs, in the follower's
    transaction.

    A withdrawn message is cancelled, with its reason and a history entry, and gives up
    its key (the key gets "#" and the message's id): a reminder for a time is one message
    while it stands, and an appointment moved away and back again gets its reminders
    anew. A message already claimed by a sender is withdrawn too (its owner cleared: the
    sender's attempt, which needs it still queued and its own, finds it gone).
*/
#include "notify.h"
#include "ids.h"

#include <stdlib.h>
#include <string.h>

static const crm_stmt_t s_get = {
    .name = "appointments_get",
    .sql = "SELECT (extract(epoch FROM scheduled_at) * 1000)::bigint, status FROM appointments"
           " WHERE tenant_id = $1 AND activity_id = $2::uuid",
    .nparams = 2};

static const crm_stmt_t s_put = {
    .name = "appointments_put",
    .sql = "INSERT INTO appointments AS a (tenant_id, activity_id, lead_id, scheduled_at, status)"
           " VALUES ($1, $2::uuid, $3::uuid, $4::timestamptz, $5)"
           " ON CONFLICT (tenant_id, activity_id) DO UPDATE SET lead_id = $3::uuid,"
           "  scheduled_at = $4::timestamptz, status = $5, updated_at = now()",
    .nparams = 5,
    .writes = true};

//  The lead's queued appointment messages ($3: of one activity, '' all; $4: but those
//  for that time, '' none) cancelled with reason $5 and detail $6, their keys freed.
static const crm_stmt_t s_cancel = {
    .name = "appointments_cancel",
    .sql = "WITH m AS (UPDATE messages SET status = 'cancelled', reason = $5, detail = $6,"
           "   key = key || '#' || id::text, owner = NULL, updated_at = now()"
           "   WHERE tenant_id = $1 AND lead_id = $2::uuid AND status = 'queued'"
           "   AND trigger IN ('appointment_confirmation', 'appointment_reminder')"
           "   AND ($3 = '' OR context->>'_activityId' = $3)"
           "   AND ($4 = '' OR context->>'_appointmentAt' IS DISTINCT FROM $4)"
           "   RETURNING id)"
           " INSERT INTO message_events (tenant_id, message_id, status, reason, detail)"
           " SELECT $1, id, 'cancelled', $5, $6 FROM m",
    .nparams = 6,
    .writes = true};

int notify_appointment_store_get(crm_db_t *db, const char *tenant_id, const char *activity_id,
                                 notify_appointment_state_t *before) {
    memset(before, 0, sizeof *before);
    if (!crm_uuid_valid(activity_id))
        return 0;
    const char *params[] = {tenant_id, activity_id};
    PGresult *res = crm_db_query(db, &s_get, params);
    if (!res)
        return -1;
    if (PQntuples(res)) {
        before->known = true;
        before->at_ms = atoll(PQgetvalue(res, 0, 0));
        before->scheduled = notify_appointment_scheduled(PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return 0;
}

int notify_appointment_store_put(crm_db_t *db, const char *tenant_id, const char *activity_id,
                                 const char *lead_id, const char *at, const char *status) {
    if (!crm_uuid_valid(activity_id) || !crm_uuid_valid(lead_id))
        return 0;
    const char *params[] = {tenant_id, activity_id, lead_id, at, status[0] ? status : "scheduled"};
    return crm_db_run(db, &s_put, params);
}

int notify_appointment_store_cancel(crm_db_t *db, const char *tenant_id, const char *lead_id,
                                    const char *activity_id, const char *keep_at,
                                    const char *reason, const char *detail) {
    if (!crm_uuid_valid(lead_id))
        return 0;
    const char *params[] = {tenant_id, lead_id, activity_id, keep_at, reason, detail};
    return crm_db_run(db, &s_cancel, params);
}
