-- Texts: activities of kind 'sms' (a text to or from the customer, with its direction
-- and body in details), logged by hand and, later, by the service itself.
--
-- The kinds' constraint takes 'sms'. It is added NOT VALID: the rows already there
-- passed the narrower one it replaces, and a validation would read the whole table
-- under this migration's lock.
ALTER TABLE activities DROP CONSTRAINT activities_kind_check;
ALTER TABLE activities ADD CONSTRAINT activities_kind_check
    CHECK (kind IN ('call', 'meeting', 'email', 'sms', 'chat', 'appointment', 'test_drive',
                    'note', 'status_change')) NOT VALID;
