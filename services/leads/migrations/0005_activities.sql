-- What happened with each lead: calls, meetings, emails, chats, appointments, test
-- drives and notes logged by the sales staff, and the moves between stages (kind
-- 'status_change', written with the move's stage history row and sharing its id).
--
-- occurred_at is when it happened; an appointment's or test drive's is the time it is
-- scheduled for (it may be in the future). outcome is a call's outcome (connected,
-- voicemail, no_answer) or an appointment's status (scheduled, completed, no_show), as
-- LeadActivityLogged carries it. details holds the kind's other fields in the API's
-- shape (notes, nextSteps, subject, direction, body, transcript, vehicle, fromStage,
-- toStage), already checked.
CREATE TABLE activities (
    tenant_id        text        NOT NULL,
    id               uuid        NOT NULL,
    lead_id          uuid        NOT NULL,
    kind             text        NOT NULL
                                 CHECK (kind IN ('call', 'meeting', 'email', 'chat', 'appointment',
                                                 'test_drive', 'note', 'status_change')),
    actor_id         text        NOT NULL DEFAULT '',
    occurred_at      timestamptz NOT NULL,
    outcome          text        NOT NULL DEFAULT '',
    duration_seconds int         NOT NULL DEFAULT 0 CHECK (duration_seconds >= 0),
    details          jsonb       NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    updated_by       text        NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id)
);

-- A lead's activities and timeline, newest first.
CREATE INDEX activities_by_lead ON activities (tenant_id, lead_id, occurred_at DESC, id DESC);

-- The hot sheet's day of appointments and test drives.
CREATE INDEX activities_scheduled ON activities (tenant_id, occurred_at)
    WHERE kind IN ('appointment', 'test_drive');

-- The hot sheet's open hot leads of the store or of one salesperson.
CREATE INDEX leads_hot ON leads (tenant_id, assignee_id, follow_up_at)
    WHERE deleted_at IS NULL AND closed_at IS NULL AND priority = 'hot';

