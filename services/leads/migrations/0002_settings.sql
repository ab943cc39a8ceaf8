-- The tenant's sales settings. A tenant without a row uses the defaults: its time zone
-- decides what "tomorrow 9:00" and "today's appointments" mean; a New lead nobody has
-- touched for response_target_hours has missed the response target.
CREATE TABLE tenant_settings (
    tenant_id             text        PRIMARY KEY,
    time_zone             text        NOT NULL DEFAULT 'UTC',
    response_target_hours int         NOT NULL DEFAULT 24
                                      CHECK (response_target_hours BETWEEN 1 AND 720),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    updated_by            text        NOT NULL DEFAULT ''
);

-- The tenant's time zone, UTC when it has set none.
CREATE FUNCTION tenant_time_zone(tenant text) RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce((SELECT time_zone FROM tenant_settings WHERE tenant_id = tenant),
                          'UTC') $$;
