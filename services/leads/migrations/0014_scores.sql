-- The scoring service's view of each lead (its LeadScored events): the score (column
-- score, there since 0001), the band, and whether the priority was set by hand. The
-- priority follows the band unless priority_manual; a lead not scored yet has band ''.
ALTER TABLE leads ADD COLUMN band text NOT NULL DEFAULT ''
    CHECK (band IN ('', 'hot', 'medium', 'cold'));
ALTER TABLE leads ADD COLUMN priority_manual boolean NOT NULL DEFAULT false;

-- Leads from before scoring: a priority other than the default cold was set by a person.
UPDATE leads SET priority_manual = true WHERE priority <> 'cold';

-- The list sorted by score (sort=score), and filtered by band with or without it.
CREATE INDEX leads_by_score ON leads (tenant_id, score DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX leads_by_band ON leads (tenant_id, band, score DESC, id DESC)
    WHERE deleted_at IS NULL;
