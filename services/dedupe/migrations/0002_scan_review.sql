-- Scan and review (issue 18): the rest of the index (date of birth, street lines,
-- cities; a fingerprint of what the model compares), more blocking keys, the pairs
-- scored at or above dedupe.check_threshold, their groups (the review list), and the
-- scans that make them.

ALTER TABLE entries
    ADD COLUMN birth_date  text   NOT NULL DEFAULT '',   -- YYYYMMDD
    ADD COLUMN streets     text[] NOT NULL DEFAULT '{}', -- normalize.c's dedupe_street_key
    ADD COLUMN cities      text[] NOT NULL DEFAULT '{}', -- folded as names
    ADD COLUMN fingerprint text   NOT NULL DEFAULT '';   -- entry.c's dedupe_entry_fingerprint

-- The blocking keys of an entry, one definition for the index (entry_store.c) and the
-- check's draft (check_store.c):
--   e:<email>  p:<E.164 phone>
--   lp:<code>:<postcode>       the last name's Double Metaphone code, or the first's
--                              (names written the other way round meet too)
--   ld:<last name's code>:<company email domain>
--   n:<code>:<code>            both names' codes, in order of the codes (either way round)
--   d:<date of birth>:<code>   with either name's code
--   dp:<date of birth>:<postcode>
--   a:<street line>:<postcode>
CREATE FUNCTION entry_keys(first_ph text, last_ph text, emails text[], phones text[],
                           postcodes text[], companies text[], birth_date text,
                           streets text[])
RETURNS SETOF text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'e:' || v FROM unnest(emails) v
    UNION SELECT 'p:' || v FROM unnest(phones) v
    UNION SELECT 'lp:' || c || ':' || v FROM unnest(postcodes) v,
        unnest(ARRAY[last_ph, first_ph]) c WHERE c <> ''
    UNION SELECT 'ld:' || last_ph || ':' || v FROM unnest(companies) v WHERE last_ph <> ''
    UNION SELECT 'n:' || least(first_ph, last_ph) || ':' || greatest(first_ph, last_ph)
        WHERE first_ph <> '' AND last_ph <> ''
    UNION SELECT 'd:' || birth_date || ':' || c FROM unnest(ARRAY[last_ph, first_ph]) c
        WHERE c <> '' AND birth_date <> ''
    UNION SELECT 'dp:' || birth_date || ':' || v FROM unnest(postcodes) v WHERE birth_date <> ''
    UNION SELECT 'a:' || s || ':' || v FROM unnest(streets) s, unnest(postcodes) v
$$;

-- Pairs of contacts scoring at least the threshold (a < b), with the comparison as the
-- API answers it (a packed crm.dedupe.DuplicateMatch) and each side's fingerprint when
-- it was scored: a dismissed pair stays dismissed while both are unchanged.
CREATE TABLE pairs (
    tenant_id text        NOT NULL,
    a         uuid        NOT NULL,
    b         uuid        NOT NULL,
    score     float8      NOT NULL,
    match     bytea       NOT NULL,
    status    text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed')),
    fp_a      text        NOT NULL,
    fp_b      text        NOT NULL,
    found_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, a, b),
    CHECK (a < b)
);
CREATE INDEX pairs_b ON pairs (tenant_id, b);

-- The review list: groups of contacts likely to be one person. A group's id is made from
-- its members (match.c), so the same group found again keeps its id, and its status.
-- body: a packed crm.dedupe.DuplicateGroup (members with their best pair's reasons).
CREATE TABLE groups (
    tenant_id    text        NOT NULL,
    id           uuid        NOT NULL,
    status       text        NOT NULL DEFAULT 'open'
                             CHECK (status IN ('open', 'dismissed', 'merged')),
    member_ids   uuid[]      NOT NULL,
    score        float8      NOT NULL,
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    dismissed_by text,
    dismissed_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX groups_list ON groups (tenant_id, status, score DESC, id);
CREATE INDEX groups_members ON groups USING gin (member_ids);

-- Scans: a job each (scan.c), worked a page of contacts at a time in contact id order.
CREATE TABLE scans (
    tenant_id   text        NOT NULL,
    id          uuid        NOT NULL,
    status      text        NOT NULL DEFAULT 'queued'
                            CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    total       int         NOT NULL DEFAULT 0,
    processed   int         NOT NULL DEFAULT 0,
    pairs       int         NOT NULL DEFAULT 0,
    groups      int         NOT NULL DEFAULT 0,
    cursor      uuid,                       -- the last contact done
    error       text        NOT NULL DEFAULT '',
    created_by  text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX scans_queue ON scans (created_at) WHERE status IN ('queued', 'running');
-- One scan in progress per tenant.
CREATE UNIQUE INDEX scans_one ON scans (tenant_id) WHERE status IN ('queued', 'running');
