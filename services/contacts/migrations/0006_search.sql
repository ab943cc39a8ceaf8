-- Search and filters. pg_trgm gives substring and similarity matches (parts of emails
-- and phone numbers, misspelled names); btree_gin lets those indexes lead with the
-- tenant, so one tenant's search never reads another's entries.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA public;

-- Leads of the contact, kept from the leads service's events (0 until it has any), and
-- the time of its last activity (notes, calls, messages, leads).
ALTER TABLE contacts ADD COLUMN lead_count integer NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS last_activity_at timestamptz;
CREATE INDEX contacts_activity ON contacts (tenant_id, last_activity_at)
    WHERE deleted_at IS NULL AND last_activity_at IS NOT NULL;

-- The words a search finds a contact by: its name (weight A), the company it buys for
-- (B), the vehicles it is interested in (C), its email addresses (D).
ALTER TABLE contacts ADD COLUMN search_doc tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', name), 'A') ||
    setweight(to_tsvector('simple', coalesce(profile->>'companyName', '')), 'B') ||
    setweight(jsonb_to_tsvector('simple',
        jsonb_path_query_array(profile, '$.vehicles[*] ? (@.relation == "interest").make') ||
        jsonb_path_query_array(profile, '$.vehicles[*] ? (@.relation == "interest").model') ||
        jsonb_path_query_array(profile, '$.vehicles[*] ? (@.relation == "interest").trim') ||
        jsonb_path_query_array(profile, '$.vehicles[*] ? (@.relation == "interest").year'),
        '["string", "numeric"]'), 'C') ||
    setweight(jsonb_to_tsvector('simple', jsonb_path_query_array(emails, '$[*].address'),
        '["string"]'), 'D')
) STORED;

CREATE INDEX contacts_search_doc ON contacts USING gin (tenant_id, search_doc)
    WHERE deleted_at IS NULL;
CREATE INDEX contacts_name_trgm ON contacts USING gin (tenant_id, lower(name) gin_trgm_ops)
    WHERE deleted_at IS NULL;
CREATE INDEX contacts_name_prefix ON contacts (tenant_id, lower(name) text_pattern_ops)
    WHERE deleted_at IS NULL;
CREATE INDEX contacts_emails_trgm ON contacts USING gin
    (tenant_id, lower(jsonb_path_query_array(emails, '$[*].address')::text) gin_trgm_ops)
    WHERE deleted_at IS NULL;
CREATE INDEX contacts_phones_trgm ON contacts USING gin
    (tenant_id, (jsonb_path_query_array(phones, '$[*].number')::text) gin_trgm_ops)
    WHERE deleted_at IS NULL;
-- Filters: tags (and the catalogue's renames), source, assignee.
CREATE INDEX contacts_tags ON contacts USING gin (tenant_id, tags) WHERE deleted_at IS NULL;
CREATE INDEX contacts_assignee ON contacts (tenant_id, assignee, id DESC)
    WHERE deleted_at IS NULL AND assignee <> '';
