-- Campaigns: one marketing email to many contacts (campaign.c, campaign_store.c).
--
-- A campaign keeps what it was asked for (the template, and the contact ids or the
-- contacts list's filter) and how far its job (campaign_job.c) has read the recipients
-- (cursor). Its progress is counted from its messages (messages.campaign_id), so it is
-- never out of step with them.
CREATE TABLE campaigns (
    tenant_id    text        NOT NULL,
    id           uuid        NOT NULL,
    name         text        NOT NULL,
    template_id  uuid        NOT NULL,
    contact_ids  uuid[],                -- the recipients by id, or
    filter       jsonb,                 -- a ListContactsRequest in the API's shape
    -- resolving: the job is queuing its recipients; resolved: all queued (then the
    -- API says sending or completed, from its messages); cancelled; failed (error)
    state        text        NOT NULL CHECK (state IN ('resolving', 'resolved', 'cancelled',
                                                       'failed')),
    -- where the job goes on: the contacts list's next cursor, or the offset in contact_ids
    cursor       text        NOT NULL DEFAULT '',
    error        text        NOT NULL DEFAULT '',
    created_by   text        NOT NULL,
    created_role text        NOT NULL, -- the job reads the contacts in its creator's name
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    cancelled_at timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((contact_ids IS NULL) <> (filter IS NULL)),
    PRIMARY KEY (tenant_id, id)
);
-- The job's queue: the campaigns still resolving, oldest first.
CREATE INDEX campaigns_resolving ON campaigns (created_at) WHERE state = 'resolving';

-- A campaign's messages, counted by status and reason for its progress.
ALTER TABLE messages ADD COLUMN campaign_id uuid;
CREATE INDEX messages_campaign ON messages (tenant_id, campaign_id, status, reason)
    WHERE campaign_id IS NOT NULL;

-- The senders claim a campaign's messages after every other due message of the channel
-- (sender_store.c), so a campaign never holds up a speed-to-lead or a person's message.
CREATE INDEX messages_due_first ON messages (channel, (trigger = 'campaign'), due_at)
    WHERE status = 'queued';
