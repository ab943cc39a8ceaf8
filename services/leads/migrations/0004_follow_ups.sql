-- Follow-ups: a reminder to contact a lead's customer at a time, by a method, with a
-- note. The lead's follow_up_at is the due time of its earliest pending follow-up, kept
-- by the statements that change follow-ups (services/leads/followups.c).
--
-- A pending follow-up fires once: the scheduler (services/leads/scheduler.c) claims
-- the due ones (FOR UPDATE SKIP LOCKED), sets fired_at and writes their FollowUpDue
-- events in the same transaction. It stays pending (and its lead overdue) until it is
-- completed, cancelled or rescheduled; a reschedule clears fired_at, so it fires again
-- at its new time.
CREATE TABLE follow_ups (
    tenant_id     text        NOT NULL,
    id            uuid        NOT NULL,
    lead_id       uuid        NOT NULL,
    due_at        timestamptz NOT NULL,
    method        text        NOT NULL,
    note          text        NOT NULL DEFAULT '',
    assignee_id   text        NOT NULL DEFAULT '',  -- '': whoever the lead is assigned to
    status        text        NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'completed', 'cancelled')),
    fired_at      timestamptz,                      -- its FollowUpDue was written
    cancel_reason text        NOT NULL DEFAULT '',  -- '' (by hand), lead_closed, lead_deleted
    created_by    text        NOT NULL DEFAULT '',
    updated_by    text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    completed_at  timestamptz,
    cancelled_at  timestamptz,
    PRIMARY KEY (tenant_id, id)
);

-- A lead's follow-ups in due order (its list, its earliest pending one).
CREATE INDEX follow_ups_by_lead ON follow_ups (tenant_id, lead_id, due_at, id);
-- The scheduler's queue: what has yet to fire, soonest first (rows leave it as they fire).
CREATE INDEX follow_ups_to_fire ON follow_ups (due_at) WHERE status = 'pending' AND fired_at IS NULL;
-- A salesperson's list, by due time.
CREATE INDEX follow_ups_by_due ON follow_ups (tenant_id, due_at, id);

-- The flags a lead is read with (LEAD_JSON_FIELDS, leads.h).

-- Overdue: an open lead whose follow-up time has passed.
CREATE FUNCTION lead_overdue(follow_up_at timestamptz, closed_at timestamptz) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT closed_at IS NULL AND coalesce(follow_up_at < now(), false) $$;

-- Missed response target: a lead still in its pipeline's first open stage that nobody
-- has touched (no activity since it was created) for the tenant's response_target_hours
-- (24 unless set).
CREATE FUNCTION lead_missed_response_target(tenant text, status text, created_at timestamptz,
                                            last_activity_at timestamptz,
                                            closed_at timestamptz) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT closed_at IS NULL AND last_activity_at <= created_at
              AND now() >= created_at + make_interval(hours => coalesce(
                  (SELECT t.response_target_hours FROM leads.tenant_settings t
                    WHERE t.tenant_id = tenant), 24))
              AND status = (SELECT s.key FROM leads.stages s
                             WHERE s.tenant_id = tenant AND s.outcome = 'open'
                             ORDER BY s.position, s.key LIMIT 1) $$;

-- The due time of a quick pick, at now() in the tenant's time zone: in_1_hour,
-- tomorrow_9am (9:00 tomorrow on the tenant's wall clock), in_3_days, in_1_week (the
-- same wall-clock time that many days on, across a daylight-saving change). NULL for
-- another pick.
CREATE FUNCTION follow_up_pick_due(tenant text, pick text, at timestamptz DEFAULT now())
    RETURNS timestamptz
    LANGUAGE sql STABLE
    AS $$ SELECT CASE pick
                   WHEN 'in_1_hour' THEN at + interval '1 hour'
                   WHEN 'tomorrow_9am' THEN ((at AT TIME ZONE z.tz)::date + 1 + time '09:00')
                                            AT TIME ZONE z.tz
                   WHEN 'in_3_days' THEN ((at AT TIME ZONE z.tz) + interval '3 days')
                                         AT TIME ZONE z.tz
                   WHEN 'in_1_week' THEN ((at AT TIME ZONE z.tz) + interval '7 days')
                                         AT TIME ZONE z.tz
                 END
            FROM (SELECT leads.tenant_time_zone(tenant) AS tz) z $$;
