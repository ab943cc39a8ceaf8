-- The leads each contacts merge re-pointed (lifecycle.c), so that its undo
-- (ContactUnmerged) points back exactly those, to the contact each had.
CREATE TABLE merge_repoints (
    tenant_id  text NOT NULL,
    merge_id   uuid NOT NULL,
    lead_id    uuid NOT NULL,
    contact_id uuid NOT NULL,  -- the lead's contact before the merge
    PRIMARY KEY (tenant_id, merge_id, lead_id)
);
