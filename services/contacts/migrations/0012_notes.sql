-- Notes on contacts: append-only and audited. A note's row holds its current state; every
-- body it ever had is a row of note_revisions (revision 1 is the creation), written in
-- the same statement as the change. Deleting a note leaves a tombstone (deleted_at,
-- deleted_by): the row and its revisions stay.
CREATE TABLE notes (
    tenant_id   text        NOT NULL,
    id          uuid        NOT NULL,
    contact_id  uuid        NOT NULL,
    author      text        NOT NULL,              -- actor id of who wrote it
    body        text        NOT NULL,              -- the current revision's body
    mentions    text[]      NOT NULL DEFAULT '{}', -- handles the body @mentions
    revision    int         NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,              -- last edit or deletion
    edited_by   text,                              -- who made the last edit (NULL: none)
    deleted_at  timestamptz,
    deleted_by  text,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id)
);

-- A contact's notes newest first (ids are UUIDv7: time-ordered), tombstones included.
CREATE INDEX notes_by_contact ON notes (tenant_id, contact_id, id DESC);

CREATE TABLE note_revisions (
    tenant_id   text        NOT NULL,
    note_id     uuid        NOT NULL,
    revision    int         NOT NULL,
    body        text        NOT NULL,
    mentions    text[]      NOT NULL DEFAULT '{}',
    author      text        NOT NULL,              -- who wrote this revision
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, note_id, revision),
    FOREIGN KEY (tenant_id, note_id) REFERENCES notes (tenant_id, id)
);

-- When the contact last had activity (a note added or edited so far); NULL until then.
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS last_activity_at timestamptz;
