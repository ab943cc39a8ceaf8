-- The contact record. Enumerations are stored by their API name ('person', 'walk_in'),
-- so analysts can read the table directly. emails and phones hold the API shape
-- (already normalised: phones in E.164).
CREATE TABLE contacts (
    tenant_id   text        NOT NULL,
    id          uuid        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('person', 'organization')),
    type        text        NOT NULL CHECK (type IN ('prospect', 'customer', 'service')),
    first_name  text        NOT NULL DEFAULT '',
    last_name   text        NOT NULL DEFAULT '',
    name        text        NOT NULL DEFAULT '',
    source      text        NOT NULL DEFAULT '',
    tags        text[]      NOT NULL DEFAULT '{}',
    emails      jsonb       NOT NULL DEFAULT '[]',
    phones      jsonb       NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    PRIMARY KEY (tenant_id, id)
);

-- Listing newest first, optionally by type, skipping soft-deleted rows.
CREATE INDEX contacts_list ON contacts (tenant_id, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX contacts_list_type ON contacts (tenant_id, type, id DESC) WHERE deleted_at IS NULL;

-- One row per live email address: an address belongs to one contact per tenant.
-- address_norm is the address in lower case. Rows are found by address only (a
-- contact's own addresses are on its row), so the primary key is the only index.
CREATE TABLE contact_emails (
    tenant_id    text NOT NULL,
    address_norm text NOT NULL,
    contact_id   uuid NOT NULL,
    PRIMARY KEY (tenant_id, address_norm)
);
