-- Live matching off the event loop: the contacts' events only queue the contacts to match
-- (follow.c, in the same transaction as the index update); the matching job (queue.c)
-- takes them a batch at a time, oldest first, and matches each (match.c). A contact
-- queued twice is matched once per batch; queued again while a batch works on it, it is
-- matched again by the next (each queueing is a row of its own: the follower never waits
-- for the job's locks).
CREATE TABLE match_queue (
    id         bigserial   PRIMARY KEY,
    tenant_id  text        NOT NULL,
    contact_id uuid        NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT now()
);
