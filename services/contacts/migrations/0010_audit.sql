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
    -- {"field": {"old": ..., "new": ...}, ...}: the API's names; a profile field by its
    -- own name ("vehicles"), not as part of "profile".
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

-- search_path FROM CURRENT: the schema being migrated, whoever's session writes.
CREATE FUNCTION contact_audit_write() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    old_image jsonb := CASE WHEN TG_OP = 'UPDATE' THEN contact_audit_image(OLD) ELSE '{}' END;
    new_image jsonb := contact_audit_image(NEW);
    changes   jsonb;
    action    text;
BEGIN
    SELECT jsonb_object_agg(k, jsonb_build_object('old', old_image->k, 'new', new_image->k))
      INTO changes
      FROM (SELECT jsonb_object_keys(old_image) UNION SELECT jsonb_object_keys(new_image)) AS f(k)
     WHERE (old_image->k) IS DISTINCT FROM (new_image->k)
       AND NOT (TG_OP = 'INSERT' AND new_image->k IN ('""', '[]', '{}', 'false', 'null'));
    IF changes IS NULL THEN
        RETURN NULL;  -- nothing anyone changed (the last activity, the lead count)
    END IF;
    action := CASE
        WHEN TG_OP = 'INSERT' THEN 'created'
        WHEN NEW.erased_at IS NOT NULL AND OLD.erased_at IS NULL THEN 'erased'
        WHEN NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN 'deleted'
        ELSE 'updated' END;
    IF action = 'erased' THEN
        -- What was erased is not kept here either: the fields, not their values.
        SELECT jsonb_object_agg(k, jsonb_build_object('old', '"[erased]"'::jsonb, 'new', v->'new'))
          INTO changes FROM jsonb_each(changes) AS e(k, v);
    END IF;
    INSERT INTO contact_audit (tenant_id, contact_id, at, actor_id, action, changes)
    VALUES (NEW.tenant_id, NEW.id, coalesce(NEW.updated_at, now()), NEW.updated_by, action,
            changes);
    RETURN NULL;
END
$$;

CREATE TRIGGER contacts_audit AFTER INSERT OR UPDATE ON contacts
    FOR EACH ROW EXECUTE FUNCTION contact_audit_write();
