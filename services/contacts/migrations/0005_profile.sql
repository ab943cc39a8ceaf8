-- The full profile. The columns are what lists and filters select on; the rest of the
-- profile (addresses, vehicles, social profiles, custom field values, ...) is kept in
-- the API's shape in profile, as emails and phones are.
ALTER TABLE contacts
    ADD COLUMN supplier        boolean NOT NULL DEFAULT false,
    ADD COLUMN assignee        text    NOT NULL DEFAULT '',
    ADD COLUMN organization_id uuid,
    ADD COLUMN profile         jsonb   NOT NULL DEFAULT '{}';

-- The people of an organization (unlinked when it is deleted).
CREATE INDEX contacts_organization ON contacts (tenant_id, organization_id)
    WHERE organization_id IS NOT NULL;

-- The tenant's custom fields of contacts. Values live in contacts.profile->'customFields'
-- by key.
CREATE TABLE contact_fields (
    tenant_id   text        NOT NULL,
    key         text        NOT NULL,
    label       text        NOT NULL,
    type        text        NOT NULL CHECK (type IN ('text', 'number', 'date', 'select')),
    options     text[]      NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

-- The tenant's own phone types ("showroom", "fleet desk"), beside mobile, work and home.
CREATE TABLE contact_phone_types (
    tenant_id   text        NOT NULL,
    name        text        NOT NULL,
    name_norm   text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name_norm)
);
