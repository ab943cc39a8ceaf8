-- Which leads a salesperson sees. By default (sales_see_all_leads false) a caller with
-- the role sales sees the leads assigned to their team member (the active member whose
-- actor_id is theirs) and the unassigned ones; every other role sees all of them.
ALTER TABLE tenant_settings ADD COLUMN sales_see_all_leads boolean NOT NULL DEFAULT false;

-- The caller's scope: NULL when they see every lead of the tenant, else their member id
-- ('' when they are no active member: they see the unassigned leads only). A lead is
-- seen when scope IS NULL OR assignee_id = '' OR assignee_id = scope (LEADS_SEES,
-- leads.h).
CREATE FUNCTION lead_scope(p_tenant text, p_role text, p_actor text) RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT CASE
            WHEN p_role <> 'sales' OR coalesce((SELECT s.sales_see_all_leads
                                              FROM tenant_settings s
                                              WHERE s.tenant_id = p_tenant), false)
            THEN NULL
            ELSE coalesce((SELECT m.id::text FROM team_members m
                           WHERE m.tenant_id = p_tenant AND m.actor_id = p_actor AND m.active
                             AND p_actor <> ''), '')
          END $$;
