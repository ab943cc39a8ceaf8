-- The leads service's schema: leads, the tenant's pipeline stages and the history of
-- each lead's moves between them. Enumerations are stored by their API name
-- ('walk_in', 'hot'), so analysts can read the tables directly.

-- The pipeline every tenant starts with. A tenant gets its own copy (stages) the first
-- time it uses the leads service (a row in pipelines records that), and then changes
-- its copy as it likes; changing these rows changes only the pipelines made later.
CREATE TABLE default_stages (
    key      text PRIMARY KEY,
    name     text NOT NULL,
    position int  NOT NULL,
    outcome  text NOT NULL CHECK (outcome IN ('open', 'won', 'lost'))
);

INSERT INTO default_stages (key, name, position, outcome) VALUES
    ('new',         'New',         1, 'open'),
    ('contacted',   'Contacted',   2, 'open'),
    ('qualified',   'Qualified',   3, 'open'),
    ('test_drive',  'Test Drive',  4, 'open'),
    ('negotiation', 'Negotiation', 5, 'open'),
    ('closed_won',  'Closed Won',  6, 'won'),
    ('closed_lost', 'Closed Lost', 7, 'lost');

CREATE TABLE pipelines (
    tenant_id  text        PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A tenant's stages. key is what leads carry (it never changes); name is unique in the
-- tenant without regard to case (name_norm); position orders the pipeline from 1.
CREATE TABLE stages (
    tenant_id  text        NOT NULL,
    key        text        NOT NULL,
    name       text        NOT NULL,
    name_norm  text        NOT NULL,
    position   int         NOT NULL,
    outcome    text        NOT NULL CHECK (outcome IN ('open', 'won', 'lost')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key),
    UNIQUE (tenant_id, name_norm)
);

-- The lead. vehicle, won and lost hold the API's shape (already checked); status is the
-- key of the lead's stage in the tenant's pipeline.
CREATE TABLE leads (
    tenant_id         text        NOT NULL,
    id                uuid        NOT NULL,
    contact_id        uuid        NOT NULL,
    vehicle           jsonb       NOT NULL DEFAULT '{}',
    budget_min_cents  bigint      NOT NULL DEFAULT 0 CHECK (budget_min_cents >= 0),
    budget_max_cents  bigint      NOT NULL DEFAULT 0 CHECK (budget_max_cents >= 0),
    timeline          text        NOT NULL DEFAULT '',
    source            text        NOT NULL,
    status            text        NOT NULL,
    priority          text        NOT NULL DEFAULT 'cold'
                                  CHECK (priority IN ('hot', 'medium', 'cold')),
    score             int         NOT NULL DEFAULT 0,
    assignee_id       text        NOT NULL DEFAULT '',
    follow_up_at      timestamptz,
    custom_fields     jsonb       NOT NULL DEFAULT '{}',
    won               jsonb,
    lost              jsonb,
    closed_at         timestamptz,
    created_by        text        NOT NULL DEFAULT '',
    updated_by        text        NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    last_activity_at  timestamptz NOT NULL,
    deleted_at        timestamptz,
    PRIMARY KEY (tenant_id, id)
);

-- The list's orders and filters, live leads only. Ids are UUIDv7, so id order is
-- creation order.
CREATE INDEX leads_list ON leads (tenant_id, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX leads_by_status ON leads (tenant_id, status, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX leads_by_assignee ON leads (tenant_id, assignee_id, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX leads_by_contact ON leads (tenant_id, contact_id) WHERE deleted_at IS NULL;
CREATE INDEX leads_by_activity ON leads (tenant_id, last_activity_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX leads_by_follow_up ON leads (tenant_id, follow_up_at, id)
    WHERE deleted_at IS NULL;

-- Every move of a lead between stages, and the stage it was created in (from_stage ''):
-- who, when, from where to where. Time in a stage is the gap between two rows.
CREATE TABLE stage_history (
    tenant_id  text        NOT NULL,
    id         uuid        NOT NULL,
    lead_id    uuid        NOT NULL,
    from_stage text        NOT NULL DEFAULT '',
    to_stage   text        NOT NULL,
    actor_id   text        NOT NULL DEFAULT '',
    note       text        NOT NULL DEFAULT '',
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX stage_history_by_lead ON stage_history (tenant_id, lead_id, changed_at, id);
