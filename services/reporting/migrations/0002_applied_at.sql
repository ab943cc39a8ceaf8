-- When a contact's first event reached the projection (the clock at the apply), so
-- the lag from a write in contacts to its effect here can be measured (make bench).
ALTER TABLE contact_facts ADD COLUMN applied_at timestamptz NOT NULL DEFAULT clock_timestamp();
