-- Messages, their history, and what notify knows of each recipient.
--
-- recipients: notify's own copy of each contact's lines and communication rules, kept
-- from the contacts events (recipient_store.c): the permission of every message is
-- decided from it, without a call to the contacts service. Erasure empties it.
CREATE TABLE recipients (
    tenant_id       text        NOT NULL,
    contact_id      uuid        NOT NULL,
    first_name      text        NOT NULL DEFAULT '',
    last_name       text        NOT NULL DEFAULT '',
    display_name    text        NOT NULL DEFAULT '',
    -- [{"address": "...", "primary": true, "consent": true}]
    emails          jsonb       NOT NULL DEFAULT '[]',
    -- [{"number": "+1...", "sms": true, "rank": 1}]
    phones          jsonb       NOT NULL DEFAULT '[]',
    region          text        NOT NULL DEFAULT '',   -- the primary address's state
    country         text        NOT NULL DEFAULT '',
    preferred       text        NOT NULL DEFAULT '',   -- the contact's preferred channel
    dnc_call        boolean     NOT NULL DEFAULT false,
    dnc_email       boolean     NOT NULL DEFAULT false,
    dnc_sms         boolean     NOT NULL DEFAULT false,
    dnc_mail        boolean     NOT NULL DEFAULT false,
    stop_follow_ups boolean     NOT NULL DEFAULT false,
    -- {"email:marketing": "granted", "sms:marketing": "withdrawn"}
    consents        jsonb       NOT NULL DEFAULT '{}',
    deleted         boolean     NOT NULL DEFAULT false,
    erased          boolean     NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, contact_id)
);

-- The numbers that texted STOP (opted_out) or START back: per tenant, per number. An
-- opt-out is honoured from the webhook's commit, before the contacts service knows.
CREATE TABLE sms_opt_outs (
    tenant_id  text        NOT NULL,
    number     text        NOT NULL,
    opted_out  boolean     NOT NULL,
    keyword    text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, number)
);

-- Addresses out of marketing email (a one-click unsubscribe).
CREATE TABLE email_unsubscribes (
    tenant_id  text        NOT NULL,
    address    text        NOT NULL,   -- lower case
    message_id uuid,
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, address)
);

-- One row per message. key makes a trigger idempotent: the same (event, trigger,
-- channel, recipient) is the same message. Text and recipient are filled when the
-- sender prepares it (rendered), for triggered messages at their first claim.
CREATE TABLE messages (
    tenant_id    text        NOT NULL,
    id           uuid        NOT NULL,
    key          text        NOT NULL,
    contact_id   uuid,
    lead_id      uuid,
    member_id    text        NOT NULL DEFAULT '',
    channel      text        NOT NULL CHECK (channel IN ('sms', 'email')),
    purpose      text        NOT NULL CHECK (purpose IN ('transactional', 'follow_up', 'marketing')),
    trigger      text        NOT NULL,
    template_id  uuid,
    -- the trigger's facts the text may need ({{lead.vehicle}}, ...), as placeholders
    context      jsonb       NOT NULL DEFAULT '{}',
    automated    boolean     NOT NULL,   -- quiet hours apply
    rendered     boolean     NOT NULL DEFAULT false,
    to_address   text        NOT NULL DEFAULT '',
    line         integer     NOT NULL DEFAULT -1, -- sms: the line last refused for good
                                         -- (an index in the contact's phones; -1: none)
    subject      text        NOT NULL DEFAULT '',
    body_text    text        NOT NULL DEFAULT '',
    body_html    text        NOT NULL DEFAULT '',
    links        jsonb       NOT NULL DEFAULT '[]',  -- the URLs a click may go to
    status       text        NOT NULL CHECK (status IN ('queued', 'sending', 'sent',
                     'delivered', 'failed', 'suppressed', 'unknown', 'dead', 'cancelled')),
    reason       text        NOT NULL DEFAULT '',
    detail       text        NOT NULL DEFAULT '',
    attempts     integer     NOT NULL DEFAULT 0,
    due_at       timestamptz NOT NULL,
    owner        bigint,                 -- the sender holding it (sending), see sender.c
    attempted_at timestamptz,            -- the last attempt's start
    provider_id  text        NOT NULL DEFAULT '',
    segments     integer     NOT NULL DEFAULT 0,
    sent_at      timestamptz,
    delivered_at timestamptz,
    opened_at    timestamptz,
    clicked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE UNIQUE INDEX messages_key ON messages (tenant_id, key);
-- The senders' queue: what is due, per channel.
CREATE INDEX messages_due ON messages (channel, due_at) WHERE status = 'queued';
CREATE INDEX messages_sending ON messages (owner) WHERE status = 'sending';
CREATE INDEX messages_unknown ON messages (channel, updated_at) WHERE status = 'unknown';
CREATE INDEX messages_contact ON messages (tenant_id, contact_id, id);
CREATE INDEX messages_lead ON messages (tenant_id, lead_id, id) WHERE lead_id IS NOT NULL;
CREATE INDEX messages_status ON messages (tenant_id, status, id);
CREATE INDEX messages_provider ON messages (provider_id) WHERE provider_id <> '';

-- Each message's history (queued, sent, delivered, ..., opened, clicked), oldest first.
CREATE TABLE message_events (
    tenant_id  text        NOT NULL,
    message_id uuid        NOT NULL,
    seq        bigserial,
    status     text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    reason     text        NOT NULL DEFAULT '',
    detail     text        NOT NULL DEFAULT '',
    machine    boolean     NOT NULL DEFAULT false,
    data       jsonb,                  -- a callback's parameters as received
    PRIMARY KEY (tenant_id, message_id, seq)
);

-- Inbound texts that were not keywords: kept for the contact's history.
CREATE TABLE inbound_messages (
    tenant_id   text        NOT NULL,
    id          uuid        NOT NULL,
    provider_id text        NOT NULL,
    contact_id  uuid,
    lead_id     uuid,
    from_number text        NOT NULL,
    to_number   text        NOT NULL,
    body        text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX inbound_messages_provider ON inbound_messages (tenant_id, provider_id);

-- Each tenant's settings (NotificationSettings as JSON: settings.c reads it).
CREATE TABLE settings (
    tenant_id  text        PRIMARY KEY,
    doc        jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Messages counted per tenant and day (UTC), for the daily cap.
CREATE TABLE daily_counts (
    tenant_id text    NOT NULL,
    day       date    NOT NULL,
    sent      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
);

-- Each lead's open state and assignee, from the leads events (triggers need them).
CREATE TABLE leads (
    tenant_id   text    NOT NULL,
    lead_id     uuid    NOT NULL,
    contact_id  uuid,
    assignee_id text    NOT NULL DEFAULT '',
    open        boolean NOT NULL DEFAULT true,
    PRIMARY KEY (tenant_id, lead_id)
);
CREATE INDEX leads_contact ON leads (tenant_id, contact_id) WHERE open;

-- The key that signs links (unsubscribe, tracking): made once, by the first start.
CREATE TABLE link_keys (
    id   integer PRIMARY KEY CHECK (id = 1),
    key  bytea   NOT NULL CHECK (length(key) = 32)
);

-- An inbound text finds the contacts whose lines hold its number.
CREATE INDEX recipients_phones ON recipients USING gin (phones jsonb_path_ops);
