-- The sales team and the routing of new leads to it (issue 5, item 4): team members,
-- the tenant's assignment rules in order, the round-robin state they share across
-- processes, and the history of every assignment of a lead.

-- A member of the dealership's team. Specialisation: conditions ('new', 'used',
-- 'certified'), makes (matched without regard to case, stored as given) and a price
-- band in cents (0: no bound). Territory: postcode prefixes (upper case, no spaces) and
-- regions (stored lower case). working_hours is the API's shape:
-- [{"day": "mon", "start": "09:00", "end": "17:30"}, ...] in time_zone (IANA); none:
-- any time. A member who has had leads is deactivated (active false), never deleted,
-- so the leads' history keeps naming someone.
CREATE TABLE team_members (
    tenant_id         text        NOT NULL,
    id                uuid        NOT NULL,
    name              text        NOT NULL,
    email             text        NOT NULL DEFAULT '',
    phone             text        NOT NULL DEFAULT '',
    role              text        NOT NULL,
    conditions        text[]      NOT NULL DEFAULT '{}',
    makes             text[]      NOT NULL DEFAULT '{}',
    price_min_cents   bigint      NOT NULL DEFAULT 0 CHECK (price_min_cents >= 0),
    price_max_cents   bigint      NOT NULL DEFAULT 0 CHECK (price_max_cents >= 0),
    postcode_prefixes text[]      NOT NULL DEFAULT '{}',
    regions           text[]      NOT NULL DEFAULT '{}',
    available         boolean     NOT NULL DEFAULT true,
    working_hours     jsonb       NOT NULL DEFAULT '[]',
    time_zone         text        NOT NULL DEFAULT 'UTC',
    actor_id          text        NOT NULL DEFAULT '',
    active            boolean     NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    created_by        text        NOT NULL DEFAULT '',
    updated_by        text        NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    CHECK (price_max_cents = 0 OR price_min_cents <= price_max_cents)
);
-- One member per email and per API actor in a tenant ("my leads" finds one member).
CREATE UNIQUE INDEX team_members_email ON team_members (tenant_id, lower(email))
    WHERE email <> '';
CREATE UNIQUE INDEX team_members_actor ON team_members (tenant_id, actor_id)
    WHERE actor_id <> '' AND active;

-- The tenant's assignment rules, evaluated by position (1 first) for a new lead without
-- an assignee: the first rule that selects at least one eligible member assigns the lead
-- to one of them, round robin. member_ids: the members it chooses among (empty: every
-- active member).
CREATE TABLE assignment_rules (
    tenant_id            text        NOT NULL,
    id                   uuid        NOT NULL,
    name                 text        NOT NULL,
    kind                 text        NOT NULL
                                     CHECK (kind IN ('round_robin', 'specialization',
                                                     'territory', 'availability')),
    position             int         NOT NULL,
    member_ids           uuid[]      NOT NULL DEFAULT '{}',
    online_only          boolean     NOT NULL DEFAULT false,
    within_working_hours boolean     NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX assignment_rules_order ON assignment_rules (tenant_id, position);

-- One row per tenant with rules: locked FOR UPDATE by every automatic assignment and
-- every change of the rules, so the round-robin counts below are read and advanced by
-- one transaction at a time, whichever leads process runs it.
CREATE TABLE assignment_state (
    tenant_id text PRIMARY KEY
);

-- Round robin: each rule's turns per member — the leads it gave the member, plus, for a
-- member it met after others had had leads, the lowest count of the others then (a
-- newcomer starts level, not at 0). A rule gives the next lead to the eligible member
-- with the fewest turns, ties to the one it served longest ago (NULL: never).
CREATE TABLE assignment_counts (
    tenant_id        text        NOT NULL,
    rule_id          uuid        NOT NULL,
    member_id        uuid        NOT NULL,
    assigned         bigint      NOT NULL DEFAULT 0,
    last_assigned_at timestamptz,
    PRIMARY KEY (tenant_id, rule_id, member_id)
);

-- Every assignment of a lead, for its timeline: from whom ('' none) to whom ('' none),
-- by which rule (rule_id NULL and rule 'manual' for a person's choice), the note, who.
CREATE TABLE assignment_history (
    tenant_id   text        NOT NULL,
    id          uuid        NOT NULL,
    lead_id     uuid        NOT NULL,
    from_member text        NOT NULL DEFAULT '',
    to_member   text        NOT NULL DEFAULT '',
    rule_id     uuid,
    rule        text        NOT NULL,
    note        text        NOT NULL DEFAULT '',
    actor_id    text        NOT NULL DEFAULT '',
    assigned_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX assignment_history_by_lead ON assignment_history (tenant_id, lead_id, assigned_at);
CREATE INDEX assignment_history_by_member ON assignment_history (tenant_id, to_member);

-- The lead's territory, for territory rules: given with the lead (the contact's
-- postcode and region as the lead's source knows them). postcode: upper case, no spaces.
ALTER TABLE leads ADD COLUMN postcode text NOT NULL DEFAULT '';
ALTER TABLE leads ADD COLUMN region text NOT NULL DEFAULT '';
