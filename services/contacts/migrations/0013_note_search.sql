-- Search finds a contact by the words of its live notes.
CREATE INDEX notes_search ON notes USING gin (tenant_id, to_tsvector('simple', body))
    WHERE deleted_at IS NULL;
