-- Saved contact filters, each a team member's own (owner: the actor that saved it).
-- filter holds the list request in the API's shape, without limit and cursor.
CREATE TABLE saved_filters (
    tenant_id   text        NOT NULL,
    id          uuid        NOT NULL,
    owner       text        NOT NULL,
    name        text        NOT NULL,
    filter      jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX saved_filters_name ON saved_filters (tenant_id, owner, lower(name));
