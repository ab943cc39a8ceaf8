-- Communication rules: do-not-contact, stop-follow-ups, retention, and consent per
-- channel and purpose, with the history of every change (services/contacts/consent.c).
-- A contact without a row here has no flag set, no retention period and every consent
-- unknown. Channels, purposes and methods are stored by their API name ('email',
-- 'marketing', 'web_form'), so analysts can read the tables directly.

-- The rules as they stand, one row per contact that ever had one recorded.
CREATE TABLE communication_rules (
    tenant_id       text        NOT NULL,
    contact_id      uuid        NOT NULL,
    do_not_call     boolean     NOT NULL DEFAULT false,
    do_not_email    boolean     NOT NULL DEFAULT false,
    do_not_mail     boolean     NOT NULL DEFAULT false,
    do_not_sms      boolean     NOT NULL DEFAULT false,
    stop_follow_ups boolean     NOT NULL DEFAULT false,
    retention_days  integer     CHECK (retention_days BETWEEN 1 AND 3650),
    retain_until    timestamptz,  -- when retention_days was set, plus retention_days
    updated_at      timestamptz NOT NULL,
    updated_by      text        NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, contact_id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE,
    CHECK ((retention_days IS NULL) = (retain_until IS NULL))
);

-- The retention job: contacts whose period has ended, oldest first.
CREATE INDEX communication_rules_retain_until ON communication_rules (retain_until)
    WHERE retain_until IS NOT NULL;

-- Every change of a rule or a consent, as recorded: never updated (a trigger refuses
-- it); rows go only with their contact (erasure).
CREATE TABLE communication_history (
    tenant_id      text        NOT NULL,
    id             uuid        NOT NULL,  -- UUIDv7: the order of recording
    contact_id     uuid        NOT NULL,
    kind           text        NOT NULL
                   CHECK (kind IN ('consent', 'do_not_contact', 'stop_follow_ups', 'retention')),
    channel        text        CHECK (channel IN ('email', 'sms', 'phone', 'whatsapp', 'mail')),
    purpose        text        CHECK (purpose IN ('marketing', 'analytics')),
    granted        boolean,    -- consent
    field          text,       -- a rule: 'doNotContact.call', 'stopFollowUps', 'retentionDays'
    enabled        boolean,    -- do_not_contact, stop_follow_ups: the value after the change
    retention_days integer,    -- retention: the value after the change (NULL: none)
    method         text        NOT NULL DEFAULT '',
    note           text        NOT NULL DEFAULT '',
    effective_at   timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    recorded_by    text        NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE,
    CHECK ((kind = 'consent')
           = (channel IS NOT NULL AND purpose IS NOT NULL AND granted IS NOT NULL))
);

-- One contact's history, newest first, paged by id.
CREATE INDEX communication_history_contact
    ON communication_history (tenant_id, contact_id, id DESC);

CREATE FUNCTION communication_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'communication_history is append-only'
        USING HINT = 'record a new consent or rule change instead';
END $$;

CREATE TRIGGER communication_history_append_only BEFORE UPDATE ON communication_history
    FOR EACH ROW EXECUTE FUNCTION communication_history_append_only();

-- The consent per (contact, channel, purpose) as it stands: the decision with the latest
-- effective time, written in the statement that appends it to the history. No row: unknown.
CREATE TABLE consents (
    tenant_id    text        NOT NULL,
    contact_id   uuid        NOT NULL,
    channel      text        NOT NULL
                 CHECK (channel IN ('email', 'sms', 'phone', 'whatsapp', 'mail')),
    purpose      text        NOT NULL CHECK (purpose IN ('marketing', 'analytics')),
    granted      boolean     NOT NULL,
    method       text        NOT NULL,
    note         text        NOT NULL DEFAULT '',
    effective_at timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL,
    recorded_by  text        NOT NULL DEFAULT '',
    change_id    uuid        NOT NULL,  -- its communication_history row
    PRIMARY KEY (tenant_id, contact_id, channel, purpose),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
);

-- The contact list's consent filter and the marketing export: the contacts of a tenant
-- with a granted (or withdrawn) consent for channel and purpose, in the list's order
-- (id descending), as an index range.
CREATE INDEX consents_by_status ON consents (tenant_id, channel, purpose, granted, contact_id DESC);

-- The export's "no do-not-email" and the notification workers' checks probe the rules by
-- primary key; listing everyone who asked not to be emailed is a small partial index.
CREATE INDEX communication_rules_do_not_email ON communication_rules (tenant_id, contact_id)
    WHERE do_not_email;
