-- The contacts service's contacts as far as leads need them: which ids are live contacts
-- of which tenant. Kept from the contacts source's events (lifecycle.c: ContactCreated,
-- ContactDeleted, ContactErased, ContactMerged), and from the contacts service's answer
-- when a lead names a contact this table does not know yet (an event not applied yet,
-- or one past the outbox's retention). A lead's contact is checked here first and over
-- the bus only when it is not here, so most creates make no call to another service.
CREATE TABLE contact_ids (
    tenant_id  text    NOT NULL,
    contact_id uuid    NOT NULL,
    deleted    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, contact_id)
);
