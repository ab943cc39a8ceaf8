-- The tag catalogue: contacts carry tags by name (contacts.tags), and only names of the
-- catalogue. name_norm (lower case) makes a name unique in a tenant without regard to
-- case. Tags that contacts already carried become the catalogue's first entries.
CREATE TABLE tags (
    tenant_id   text        NOT NULL,
    id          uuid        NOT NULL,
    name        text        NOT NULL,
    name_norm   text        NOT NULL,
    colour      text        NOT NULL DEFAULT '',
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name_norm)
);

INSERT INTO tags (tenant_id, id, name, name_norm)
SELECT DISTINCT ON (c.tenant_id, lower(t.name)) c.tenant_id, gen_random_uuid(), t.name, lower(t.name)
FROM contacts c, unnest(c.tags) AS t(name)
ORDER BY c.tenant_id, lower(t.name), t.name;
