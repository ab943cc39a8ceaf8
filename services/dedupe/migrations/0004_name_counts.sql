-- How common each name is in a tenant, and how many contacts the tenant has (score.c
-- weighs a name's agreement by the first, and sets the prior odds of a pair from the
-- second). Kept by entry_store.c with the index, in the same transaction:
--   kind 'f': entries whose first_name is value;  'l': whose last_name is value;
--   kind 't', value '': the tenant's entries.
CREATE TABLE name_counts (
    tenant_id text   NOT NULL,
    kind      char   NOT NULL CHECK (kind IN ('f', 'l', 't')),
    value     text   NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (tenant_id, kind, value)
);

INSERT INTO name_counts (tenant_id, kind, value, n)
    SELECT tenant_id, 'f', first_name, count(*) FROM entries WHERE first_name <> ''
        GROUP BY tenant_id, first_name
    UNION ALL
    SELECT tenant_id, 'l', last_name, count(*) FROM entries WHERE last_name <> ''
        GROUP BY tenant_id, last_name
    UNION ALL
    SELECT tenant_id, 't', '', count(*) FROM entries GROUP BY tenant_id;
