-- The notify service's message templates: per tenant, a name unique without regard to
-- case, a channel and a purpose, and the text with its placeholders as written (checked
-- by template.c when saved, rendered when used). subject and body_html are the email
-- channel's; an SMS template has '' in both.

CREATE TABLE templates (
    tenant_id  text        NOT NULL,
    id         uuid        NOT NULL,
    name       text        NOT NULL,
    channel    text        NOT NULL CHECK (channel IN ('sms', 'email')),
    purpose    text        NOT NULL CHECK (purpose IN ('transactional', 'follow_up', 'marketing')),
    subject    text        NOT NULL DEFAULT '',
    body_text  text        NOT NULL,
    body_html  text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (channel = 'email' OR (subject = '' AND body_html = ''))
);

CREATE UNIQUE INDEX templates_name ON templates (tenant_id, lower(name));
