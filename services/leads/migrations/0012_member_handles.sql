-- A team member's handle: the name @mentions in contact notes call the member by
-- (lower case, as common/mentions.h reads it; '' for none), unique among the tenant's
-- active members, so a mention names one member at most (the notify service's alerts).
ALTER TABLE team_members ADD COLUMN handle text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX team_members_handle ON team_members (tenant_id, handle)
    WHERE handle <> '' AND active;
