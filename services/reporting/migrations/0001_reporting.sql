-- The reporting projection of contacts: a fact per contact, and what the reports read,
-- the live contacts created per tenant per day by source and type. Both are set from
-- the state that contacts' events (or a snapshot) carry, so applying the same state
-- twice changes nothing; contacts_daily always equals
--   SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date, source, type, count(*)
--   FROM contacts.contacts WHERE deleted_at IS NULL GROUP BY 1, 2, 3, 4
-- as of the last contacts event applied. Sources and types are the API names; a
-- contact without a source has ''.

CREATE TABLE contact_facts (
    tenant_id  text    NOT NULL,
    contact_id uuid    NOT NULL,
    day        date,              -- UTC date of created_at; NULL: only its deletion is known
    source     text    NOT NULL DEFAULT '',
    type       text    NOT NULL DEFAULT '',
    deleted    boolean NOT NULL DEFAULT false,
    seq        bigint  NOT NULL DEFAULT 0,  -- contacts event last applied (0: a snapshot)
    PRIMARY KEY (tenant_id, contact_id)
);

CREATE TABLE contacts_daily (
    tenant_id text   NOT NULL,
    day       date   NOT NULL,
    source    text   NOT NULL,
    type      text   NOT NULL,
    count     bigint NOT NULL,
    PRIMARY KEY (tenant_id, day, source, type)
);

-- Days whose figure changed since their last reporting.ContactsDaily event; the
-- publisher takes them once a second.
CREATE TABLE dirty_days (
    tenant_id text NOT NULL,
    day       date NOT NULL,
    PRIMARY KEY (tenant_id, day)
);

-- The runs of consecutive events applied per source since the projection was last made
-- from scratch: a batch that continues the last run extends it, anything else (a
-- repeat, a gap) starts a new row. One row per source means every event was applied
-- once, in order.
CREATE TABLE applied_runs (
    id         bigserial   PRIMARY KEY,
    source     text        NOT NULL,
    first_seq  bigint      NOT NULL,
    last_seq   bigint      NOT NULL,
    batches    bigint      NOT NULL DEFAULT 1,
    started_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applied_runs_source ON applied_runs (source, id);

-- The rebuild running or last done (Rebuild method), so a restart carries it on.
CREATE TABLE rebuild (
    id              int         PRIMARY KEY CHECK (id = 1),
    phase           text        NOT NULL CHECK (phase IN ('starting', 'snapshot', 'done')),
    mode            text        NOT NULL CHECK (mode IN ('replay', 'snapshot')),
    cursor_tenant   text        NOT NULL DEFAULT '',
    cursor_id       text        NOT NULL DEFAULT '',
    watermark_seq   bigint      NOT NULL DEFAULT 0,
    contacts_loaded bigint      NOT NULL DEFAULT 0,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz
);
