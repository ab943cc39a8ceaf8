-- The activities the service logs from the notify service's events (notify_follow.c):
-- a message sent to the customer about the lead, or the customer's reply.
--
-- notify_ref: what the event logged ("sent:<message id>" for a message sent,
-- "inbound:<inbound id>" for a reply), so that an event applied again (a message
-- reported sent twice, events replayed onto an inbox that lost its place) logs nothing
-- more. NULL for every other activity.
ALTER TABLE activities ADD COLUMN notify_ref text;
CREATE UNIQUE INDEX activities_notify_ref ON activities (tenant_id, notify_ref)
    WHERE notify_ref IS NOT NULL;
