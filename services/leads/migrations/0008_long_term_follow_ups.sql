-- A long-term follow-up: set when a lead is closed as lost ("call again in six months"),
-- it fires although its lead is closed (the others of a closed lead are cancelled).
ALTER TABLE follow_ups ADD COLUMN long_term boolean NOT NULL DEFAULT false;
