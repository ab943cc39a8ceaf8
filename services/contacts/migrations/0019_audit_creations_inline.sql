-- A creation's audit entry is written by the statement that creates the contact (the
-- API's create, an import's chunk: CONTACTS_AUDIT_CREATED_SQL), not by a trigger: the
-- statement trigger cost about 0.1 ms of every single-row create, most of the time of
-- one. Changes stay with the trigger on UPDATE, which every writer goes through.
DROP TRIGGER IF EXISTS contacts_audit_insert ON contacts;
DROP FUNCTION IF EXISTS contact_audit_created();
