-- Exports of contacts to CSV or XLSX (services/contacts/export.c). An export is a job
-- (kind 'export': the contacts it writes are its job_items, fixed when it was asked for)
-- and a file stored in parts of about 1 MiB, each small enough for one reply.
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('bulk', 'import', 'export'));

CREATE TABLE exports (
    tenant_id    text        NOT NULL,
    id           uuid        NOT NULL,  -- the job's id
    format       text        NOT NULL CHECK (format IN ('csv', 'xlsx')),
    file_name    text        NOT NULL,
    rows_written integer     NOT NULL DEFAULT 0,  -- rows written (the header not counted)
    parts        integer     NOT NULL DEFAULT 0,  -- parts stored
    bytes        bigint      NOT NULL DEFAULT 0,  -- their size
    error        text        NOT NULL DEFAULT '',
    expires_at   timestamptz,                     -- set when it succeeds
    expired      boolean     NOT NULL DEFAULT false,  -- its parts are deleted
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, id) REFERENCES jobs (tenant_id, id) ON DELETE CASCADE
);

-- The retention sweep: exports whose parts are due to go.
CREATE INDEX exports_expiry ON exports (expires_at) WHERE NOT expired AND expires_at IS NOT NULL;

-- The file, part n (1, 2, ...) being its bytes from byte_offset on.
CREATE TABLE export_parts (
    tenant_id    text    NOT NULL,
    export_id    uuid    NOT NULL,
    n            integer NOT NULL CHECK (n >= 1),
    byte_offset  bigint  NOT NULL,
    data         bytea   NOT NULL,
    PRIMARY KEY (tenant_id, export_id, n),
    FOREIGN KEY (tenant_id, export_id) REFERENCES exports (tenant_id, id) ON DELETE CASCADE
);
