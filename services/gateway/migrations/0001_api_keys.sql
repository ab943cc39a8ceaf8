-- API keys: only a hash of each key is stored. A key is bound to one tenant and one role,
-- and optionally to a user (the actor recorded on changes).
CREATE TABLE api_keys (
    id          uuid        PRIMARY KEY,
    key_hash    text        NOT NULL UNIQUE,  -- hex BLAKE2b-256 of the whole key
    prefix      text        NOT NULL,         -- first characters, to recognise a key in lists
    tenant_id   text        NOT NULL,
    role        text        NOT NULL CHECK (role IN ('admin', 'manager', 'sales', 'analyst', 'integration')),
    user_id     text        NOT NULL DEFAULT '',
    name        text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
