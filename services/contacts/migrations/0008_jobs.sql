-- Jobs: work that runs after its request (bulk changes, imports), in chunks, each chunk
-- one transaction with its events, so a job survives restarts and several contacts
-- processes share the work (a job is claimed with SKIP LOCKED).
CREATE TABLE jobs (
    tenant_id    text        NOT NULL,
    id           uuid        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('bulk', 'import')),
    status       text        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded',
                                                        'failed')),
    actor_id     text        NOT NULL DEFAULT '',
    request      jsonb       NOT NULL DEFAULT '{}',  -- what to do, in the API's shape
    total        integer     NOT NULL DEFAULT 0,
    processed    integer     NOT NULL DEFAULT 0,
    changed      integer     NOT NULL DEFAULT 0,
    failed       integer     NOT NULL DEFAULT 0,
    errors       jsonb       NOT NULL DEFAULT '[]',  -- the first 1,000 JobErrors
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX jobs_pending ON jobs (created_at) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_recent ON jobs (tenant_id, created_at DESC);

-- The contacts a bulk job still has to change, fixed when it was asked for.
CREATE TABLE job_items (
    tenant_id   text NOT NULL,
    job_id      uuid NOT NULL,
    contact_id  uuid NOT NULL,
    PRIMARY KEY (job_id, contact_id)
);
