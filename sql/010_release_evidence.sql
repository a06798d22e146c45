-- GitHub evidence per release: what the review, ci and ddl_rollback gates read. Replaced as a whole each time
-- the GitHub reconciler sees something new for the release (evidence is re-read, never merged). jsonb holds
-- the shape of adapters/evidence_json.cpp, which carries its own version; `base` (the production SHA the
-- range starts after) is a column so a reader can tell stale evidence without parsing it.
CREATE TABLE release_evidence (
  sha          text PRIMARY KEY REFERENCES releases (sha),
  base         text,
  observed_at  timestamptz NOT NULL,
  evidence     jsonb NOT NULL
);

-- The production tag step (after verify, before record) when [github] tag_prefix is set.
ALTER TABLE promotion_steps DROP CONSTRAINT promotion_steps_kind_check;
ALTER TABLE promotion_steps ADD CONSTRAINT promotion_steps_kind_check
  CHECK (kind IN ('preflight', 'migrate', 'deploy', 'verify', 'tag', 'record'));
