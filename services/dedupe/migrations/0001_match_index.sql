-- The match index: each live contact of each tenant as dedupe matches it (kept from the
-- contacts service's events by follow.c), and its blocking keys, which a check looks up
-- so that it compares a draft with a few candidates, never with the whole tenant.
-- Values are normalised by services/dedupe/normalize.c: names folded (ICU: accents and
-- case, letters a-z only), emails as they match (gmail dots and +tags), phones E.164,
-- postcodes upper case without spaces (a US ZIP its five digits). The phonetic codes are
-- Double Metaphone (fuzzystrmatch's dmetaphone) of the folded names.

CREATE EXTENSION IF NOT EXISTS fuzzystrmatch WITH SCHEMA public;

CREATE TABLE entries (
    tenant_id      text        NOT NULL,
    contact_id     uuid        NOT NULL,
    first_name     text        NOT NULL DEFAULT '',
    last_name      text        NOT NULL DEFAULT '',
    first_groups   text[]      NOT NULL DEFAULT '{}', -- the formal names the first name stands for
    first_phonetic text        NOT NULL DEFAULT '',
    last_phonetic  text        NOT NULL DEFAULT '',
    emails         text[]      NOT NULL DEFAULT '{}',
    domains        text[]      NOT NULL DEFAULT '{}', -- of the emails
    phones         text[]      NOT NULL DEFAULT '{}',
    postcodes      text[]      NOT NULL DEFAULT '{}',
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, contact_id)
);

-- Blocking keys, one row per key of a contact:
--   e:<email>   p:<E.164 phone>
--   lp:<last name's code>:<postcode>
--   ld:<last name's code>:<company email domain> (free mail domains make none)
CREATE TABLE match_keys (
    tenant_id  text NOT NULL,
    key        text NOT NULL,
    contact_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, key, contact_id)
);
CREATE INDEX match_keys_contact ON match_keys (tenant_id, contact_id);

-- Erased contacts (their ids only): no later event puts them back.
CREATE TABLE erased (
    tenant_id  text        NOT NULL,
    contact_id uuid        NOT NULL,
    erased_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, contact_id)
);
