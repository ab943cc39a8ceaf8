-- API keys: hashed with the deployment's secret (keyed BLAKE2b, gateway.key_secret); rows
-- stored before carry the unkeyed hash until their first use re-hashes them. Keys may
-- expire (crmctl keys create --expires, and the old key of a rotation after its grace).
ALTER TABLE api_keys
    ADD COLUMN hash_scheme text NOT NULL DEFAULT 'blake2b'
        CHECK (hash_scheme IN ('blake2b', 'blake2b-keyed')),
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN rotated_to uuid;  -- the key that replaced this one (crmctl keys rotate)
