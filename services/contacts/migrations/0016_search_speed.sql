-- Search: names whose last name starts with the text, in last-name order (the first
-- tier of a word search, beside contacts_name_prefix for the whole name). A short
-- prefix starts thousands of names; read in index order, the search ranks a bounded
-- number of them instead of every one (see services/contacts/search.c).
CREATE INDEX contacts_last_name_prefix ON contacts (tenant_id, lower(last_name) text_pattern_ops)
    WHERE deleted_at IS NULL;

-- The ends of a contact's numbers as people type them: the last 4 digits, the last 7
-- (a local number) and the whole number in E.164. A whole number, or those last digits,
-- is then one key of contacts_phone_ends, where trigrams of digits (a thousand of them,
-- each in about a tenth of all numbers) meant merging long lists.
CREATE FUNCTION contacts_phone_ends(phones jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    SELECT coalesce(array_agg(DISTINCT e.value), '{}')
    FROM jsonb_path_query(phones, '$[*].number') AS n(number),
         LATERAL (VALUES (right(n.number #>> '{}', 4)), (right(n.number #>> '{}', 7)),
                         (n.number #>> '{}')) AS e(value)
    WHERE length(e.value) >= 4
    $$;
CREATE INDEX contacts_phone_ends ON contacts USING gin (tenant_id, contacts_phone_ends(phones))
    WHERE deleted_at IS NULL;
