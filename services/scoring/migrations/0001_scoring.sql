-- The scoring service's schema: what it keeps of each lead (facts, from the leads',
-- contacts' and notify events), each lead's score and its history, the tenants' own
-- models (versioned) and the rescore jobs.

-- A lead's facts (a crm.scoring.LeadFacts, packed) and its current score (a
-- crm.scoring.Score, packed: the contributions that explain it).
CREATE TABLE leads (
    tenant_id     text        NOT NULL,
    lead_id       uuid        NOT NULL,
    contact_id    text        NOT NULL DEFAULT '',
    facts         bytea       NOT NULL,
    closed        boolean     NOT NULL DEFAULT false,
    score         int         NOT NULL DEFAULT 0,
    band          text        NOT NULL DEFAULT 'cold',
    explanation   bytea,
    model_version text        NOT NULL DEFAULT '',
    computed_at   timestamptz,
    PRIMARY KEY (tenant_id, lead_id)
);
CREATE INDEX leads_contact ON leads (tenant_id, contact_id);

-- Each score a lead was given when it changed, newest last.
CREATE TABLE score_history (
    id            bigserial   PRIMARY KEY,
    tenant_id     text        NOT NULL,
    lead_id       uuid        NOT NULL,
    explanation   bytea       NOT NULL,
    computed_at   timestamptz NOT NULL
);
CREATE INDEX score_history_lead ON score_history (tenant_id, lead_id, id);

-- Whether each contact can be reached by a channel not marked do-not-contact.
CREATE TABLE contacts (
    tenant_id  text    NOT NULL,
    contact_id text    NOT NULL,
    has_phone  boolean NOT NULL DEFAULT false,
    has_email  boolean NOT NULL DEFAULT false,
    dnc_call   boolean NOT NULL DEFAULT false,
    dnc_sms    boolean NOT NULL DEFAULT false,
    dnc_email  boolean NOT NULL DEFAULT false,
    reachable  boolean GENERATED ALWAYS AS
               ((has_phone AND NOT (dnc_call AND dnc_sms)) OR (has_email AND NOT dnc_email)) STORED,
    PRIMARY KEY (tenant_id, contact_id)
);

-- A tenant's own models: each PUT /v1/scoring/model is the next version (a
-- crm.scoring.Model, packed). Without one the file's default applies.
CREATE TABLE models (
    tenant_id  text        NOT NULL,
    version    int         NOT NULL,
    model      bytea       NOT NULL,
    created_by text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, version)
);

-- Rescore jobs: asked for (POST /v1/scoring/rescore) or the daily decay pass (tenant
-- '' = every tenant). after_lead is where the job has got to (leads by id).
CREATE TABLE rescore_jobs (
    id          uuid        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('rescore', 'decay')),
    status      text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done')),
    total       int         NOT NULL DEFAULT 0,
    done        int         NOT NULL DEFAULT 0,
    changed     int         NOT NULL DEFAULT 0,
    after_tenant text       NOT NULL DEFAULT '',
    after_lead  uuid,
    model_version text      NOT NULL DEFAULT '',
    created_by  text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX rescore_jobs_open ON rescore_jobs (created_at) WHERE status <> 'done';
