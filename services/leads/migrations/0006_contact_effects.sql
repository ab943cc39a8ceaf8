-- What the contacts service's events do to leads. A merge re-points every lead of the
-- merged contacts, deleted ones included, so the by-contact index covers them all; an
-- erasure takes the person's data out of the contact's leads and notes when.
DROP INDEX leads_by_contact;
CREATE INDEX leads_by_contact ON leads (tenant_id, contact_id);

ALTER TABLE leads ADD COLUMN contact_erased_at timestamptz;
