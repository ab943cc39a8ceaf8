-- The audit trail: every change of a contact, whoever made it and however (the API, a
-- bulk job, a tag renamed in the catalogue, a custom field deleted), with the fields it
-- changed and their values before and after. A trigger writes it, so no writer can
-- forget; the writer names itself in contacts.updated_by.
ALTER TABLE contacts ADD COLUMN updated_by text NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN erased_at timestamptz;

CREATE TABLE contact_audit (
    tenant_id   text        NOT NULL,
    contact_id  uuid        NOT NULL,
    seq         bigint      GENERATED ALWAYS AS IDENTITY,
    at          timestamptz NOT NULL,
    actor_id    text        NOT NULL,
    action      text        NOT NULL CHECK (action IN ('created', 'updated', 'deleted',
                                                       'erased')),
    -- created: {"field": value, ...}; otherwise {"field": {"old": ..., "new": ...}, ...}:
    -- the API's names; a profile field by its own name ("vehicles"), not in "profile".
    changes     jsonb       NOT NULL,
    PRIMARY KEY (tenant_id, contact_id, seq)
);

-- A contact's row as the audit compares it: the profile's fields beside the columns,
-- without what is kept by the service rather than changed by someone.
CREATE FUNCTION contact_audit_image(c contacts) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'kind', c.kind, 'type', c.type, 'firstName', c.first_name, 'lastName', c.last_name,
        'name', c.name, 'source', c.source, 'tags', to_jsonb(c.tags), 'emails', c.emails,
        'phones', c.phones, 'supplier', c.supplier, 'assignee', c.assignee,
        'deletedAt', c.deleted_at) || c.profile
$$;

-- Statement triggers over transition tables: a bulk change or an import of a thousand
-- contacts writes its thousand audit rows in one INSERT ... SELECT, not a thousand
-- function calls. search_path FROM CURRENT: the schema being migrated, whoever writes.
--
-- A creation keeps the contact's image as created ({"field": value}, empty values
-- included: the reader leaves them out), which costs no comparison.
CREATE FUNCTION contact_audit_created() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO contact_audit (tenant_id, contact_id, at, actor_id, action, changes)
    SELECT n.tenant_id, n.id, n.updated_at, n.updated_by, 'created', contact_audit_image(n)
      FROM new_rows n;
    RETURN NULL;
END
$$;

-- A change keeps {"field": {"old": ..., "new": ...}} for the fields that differ; rows
-- nobody changed (the last activity, the lead count) leave no entry. For an erasure the
-- old values are not kept: the fields, not their values.
CREATE FUNCTION contact_audit_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO contact_audit (tenant_id, contact_id, at, actor_id, action, changes)
    SELECT n.tenant_id, n.id, n.updated_at, n.updated_by, x.action, d.changes
      FROM old_rows o
      JOIN new_rows n ON n.tenant_id = o.tenant_id AND n.id = o.id
     CROSS JOIN LATERAL (SELECT contact_audit_image(o) AS oi, contact_audit_image(n) AS ni,
                                CASE WHEN n.erased_at IS NOT NULL AND o.erased_at IS NULL
                                     THEN 'erased'
                                     WHEN n.deleted_at IS NOT NULL AND o.deleted_at IS NULL
                                     THEN 'deleted'
                                     ELSE 'updated' END AS action) x
     CROSS JOIN LATERAL (
            SELECT jsonb_object_agg(k, jsonb_build_object(
                       'old', CASE WHEN x.action = 'erased' THEN '"[erased]"'::jsonb
                                   ELSE x.oi->k END,
                       'new', x.ni->k)) AS changes
              FROM (SELECT jsonb_object_keys(x.oi) UNION SELECT jsonb_object_keys(x.ni)) AS f(k)
             WHERE (x.oi->k) IS DISTINCT FROM (x.ni->k)) d
     WHERE x.oi <> x.ni;
    RETURN NULL;
END
$$;

CREATE TRIGGER contacts_audit_insert AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_audit_created();
CREATE TRIGGER contacts_audit_update AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_audit_changed();
