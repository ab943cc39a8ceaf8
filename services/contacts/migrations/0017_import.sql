-- CSV import: a file arrives in parts, kept here until its job is done, then imported
-- by a job (jobs.kind 'import'). Outcomes keep what the first rows did (or would do).
CREATE TABLE imports (
    tenant_id    text        NOT NULL,
    id           uuid        NOT NULL,
    status       text        NOT NULL DEFAULT 'receiving'
                 CHECK (status IN ('receiving', 'queued', 'running', 'succeeded', 'failed')),
    actor_id     text        NOT NULL DEFAULT '',
    options      jsonb       NOT NULL,   -- the CreateImportRequest
    mapping      jsonb       NOT NULL DEFAULT '{}',  -- header -> field, once resolved
    parts        integer     NOT NULL DEFAULT 0,
    bytes        bigint      NOT NULL DEFAULT 0,
    job_id       uuid,
    data_rows    integer     NOT NULL DEFAULT 0,  -- data rows of the file (scanned)
    done_rows    integer     NOT NULL DEFAULT 0,  -- data rows handled so far
    created      integer     NOT NULL DEFAULT 0,
    updated      integer     NOT NULL DEFAULT 0,
    skipped      integer     NOT NULL DEFAULT 0,
    failed       integer     NOT NULL DEFAULT 0,
    error        text        NOT NULL DEFAULT '',
    encoding     text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX imports_job ON imports (job_id) WHERE job_id IS NOT NULL;

-- The file, in the order it was sent; dropped when the job is done.
CREATE TABLE import_parts (
    import_id  uuid    NOT NULL,
    part       integer NOT NULL,
    data       bytea   NOT NULL,
    PRIMARY KEY (import_id, part)
);

-- The first rows' outcomes (a dry run's preview; a real run's record).
CREATE TABLE import_outcomes (
    import_id   uuid    NOT NULL,
    row_no      integer NOT NULL,
    action      text    NOT NULL CHECK (action IN ('create', 'update', 'skip', 'error')),
    contact_id  text    NOT NULL DEFAULT '',
    matched_on  text    NOT NULL DEFAULT '',
    field       text    NOT NULL DEFAULT '',
    message     text    NOT NULL DEFAULT '',
    seq         integer GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (import_id, seq)
);

-- A dry run's rows that would create a contact, so that a later row of the same file
-- matching them is seen as the duplicate it would be; dropped when the job is done.
CREATE TABLE import_keys (
    import_id  uuid    NOT NULL,
    key        text    NOT NULL,   -- 'e:' lower-case email, 'p:' E.164 phone
    row_no     integer NOT NULL,
    PRIMARY KEY (import_id, key)
);

-- Saved column mappings, by name, per tenant.
CREATE TABLE import_mappings (
    tenant_id   text        NOT NULL,
    name        text        NOT NULL,
    columns     jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

-- Duplicates by phone: a contact's numbers (E.164) as a JSON array, found by
-- containment (the email match has contact_emails). Without the pending list
-- (fastupdate off) a lookup reads a few index pages instead of the whole list: an import
-- looks up every row's phone.
CREATE INDEX contacts_phone_numbers ON contacts USING gin
    ((jsonb_path_query_array(phones, '$[*].number')) jsonb_path_ops)
    WITH (fastupdate = off)
    WHERE deleted_at IS NULL;
