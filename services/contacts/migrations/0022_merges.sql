-- Merges of duplicate contacts (services/contacts/merge*.c). A merged-away contact keeps
-- its row, as it was, deleted (deleted_at) and pointing at its survivor (merged_into,
-- merge_id): a GET of its id answers the survivor, and an undo makes it live again with
-- its own fields, emails, phones and the rest untouched.
ALTER TABLE contacts
    ADD COLUMN merged_into uuid,
    ADD COLUMN merge_id    uuid;

-- The merges: who, when, what was asked, and the survivor before and after (the API's
-- shape), which the undo needs to give back what the merge added and keep what changed
-- since.
CREATE TABLE merges (
    tenant_id       text        NOT NULL,
    id              uuid        NOT NULL,   -- UUIDv7: the order of merging
    survivor_id     uuid        NOT NULL,
    merged_ids      uuid[]      NOT NULL,
    actor_id        text        NOT NULL DEFAULT '',
    merged_at       timestamptz NOT NULL,
    undo_until      timestamptz NOT NULL,
    status          text        NOT NULL DEFAULT 'merged' CHECK (status IN ('merged', 'undone')),
    undone_at       timestamptz,
    undone_by       text,
    choose          jsonb       NOT NULL DEFAULT '{}',
    sources         jsonb       NOT NULL DEFAULT '[]',
    counts          jsonb       NOT NULL DEFAULT '{}',
    survivor_before jsonb       NOT NULL,
    survivor_after  jsonb       NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- The merges a contact took part in (GET /v1/merges?contactId=), newest first.
CREATE INDEX merges_by_contact ON merges USING gin (tenant_id, (merged_ids || survivor_id));

-- What a merge moved and the undo moves back: notes (contact_id: their contact before),
-- and the communication history entries copied to the survivor (item_id: the copy,
-- contact_id: the contact it was copied from).
CREATE TABLE merge_items (
    tenant_id  text NOT NULL,
    merge_id   uuid NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('note', 'history')),
    item_id    uuid NOT NULL,
    contact_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, merge_id, kind, item_id)
);
