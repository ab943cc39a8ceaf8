-- notify's copy of each appointment and test drive (kept from the leads service's
-- LeadActivityLogged, follow.c): its time and status as last seen, so that the next
-- event about it can be told apart (booked, moved, called off, or nothing new for the
-- customer: appointment.c). No personal data: ids, a time, a status.
CREATE TABLE appointments (
    tenant_id    text        NOT NULL,
    activity_id  uuid        NOT NULL,
    lead_id      uuid        NOT NULL,
    scheduled_at timestamptz NOT NULL,
    status       text        NOT NULL,   -- scheduled | completed | no_show | cancelled
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, activity_id)
);
