-- Names found with or without their accents: "Nunez" finds "Núñez", "Garcia" finds
-- "García", "Mueller" (and "Muller") finds "Müller". PostgreSQL's unaccent (contrib)
-- folds a name the way the dedupe service's ICU fold does for these letters (accents
-- off, lower case); German umlauts are also written out (ü -> ue), as Germans type
-- them without the dots. The fold is IMMUTABLE through a fixed dictionary, so indexes
-- and the generated search document can use it.
CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;

CREATE FUNCTION contacts_fold(name text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, name)) $$;

CREATE FUNCTION contacts_fold_umlauts(name text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary,
              replace(replace(replace(replace(replace(replace(replace(name,
                  'ä', 'ae'), 'ö', 'oe'), 'ü', 'ue'), 'Ä', 'Ae'), 'Ö', 'Oe'), 'Ü', 'Ue'),
                  'ß', 'ss'))) $$;

-- The parts before the '@' of a contact's addresses, as words: whole and split at their
-- punctuation ("ann.lee" -> "ann.lee ann lee").
CREATE FUNCTION contacts_email_locals(emails jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT coalesce(string_agg(l || ' ' || regexp_replace(l, '[^[:alnum:]]+', ' ', 'g'),
                                     ' '), '')
          FROM (SELECT split_part(a #>> '{}', '@', 1) AS l
                FROM jsonb_path_query(emails, '$[*].address') AS a) p $$;

-- The search document's name words: as written, folded, and with umlauts written out
-- (a name without accents adds no word). The email addresses (weight D) also give their
-- part before the '@' as a word: "ann.lee" finds ann.lee@example.com.
ALTER TABLE contacts DROP COLUMN search_doc;
ALTER TABLE contacts ADD COLUMN search_doc tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', name || ' ' || contacts_fold(name) || ' '
                                        || contacts_fold_umlauts(name)), 'A') ||
    setweight(to_tsvector('simple', coalesce(profile->>'companyName', '')), 'B') ||
    setweight(jsonb_to_tsvector('simple',
        jsonb_path_query_array(profile, '$.vehicles[*] ? (@.relation == "interest").make') ||
        jsonb_path_query_array(profile, '$.vehicles[*] ? (@.relation == "interest").model') ||
        jsonb_path_query_array(profile, '$.vehicles[*] ? (@.relation == "interest").trim') ||
        jsonb_path_query_array(profile, '$.vehicles[*] ? (@.relation == "interest").year'),
        '["string", "numeric"]'), 'C') ||
    setweight(jsonb_to_tsvector('simple', jsonb_path_query_array(emails, '$[*].address'),
        '["string"]'), 'D') ||
    setweight(to_tsvector('simple', contacts_email_locals(emails)), 'D')
) STORED;
CREATE INDEX contacts_search_doc ON contacts USING gin (tenant_id, search_doc)
    WHERE deleted_at IS NULL;

-- Names starting with the text, folded on both sides (the search folds what is typed).
DROP INDEX IF EXISTS contacts_name_prefix;
DROP INDEX IF EXISTS contacts_last_name_prefix;
CREATE INDEX contacts_name_prefix ON contacts (tenant_id, contacts_fold(name) text_pattern_ops)
    WHERE deleted_at IS NULL;
CREATE INDEX contacts_last_name_prefix ON contacts
    (tenant_id, contacts_fold(last_name) text_pattern_ops) WHERE deleted_at IS NULL;
