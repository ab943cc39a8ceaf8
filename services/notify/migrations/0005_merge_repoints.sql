-- The messages and inbound texts each contacts merge re-pointed to its survivor
-- (recipient_store.c), so that its undo (ContactUnmerged) points back exactly those.
CREATE TABLE merge_repoints (
    tenant_id  text NOT NULL,
    merge_id   uuid NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('message', 'inbound')),
    item_id    uuid NOT NULL,
    contact_id uuid NOT NULL,  -- the contact it had before the merge
    PRIMARY KEY (tenant_id, merge_id, kind, item_id)
);
