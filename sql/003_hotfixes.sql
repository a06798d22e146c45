-- The emergency path: hotfixed releases, their obligations, and what staging said a release descends from.

-- Commits the release descends from, as staging metadata reported them (space-separated SHAs); what
-- establishes that a hotfix builds on production.
ALTER TABLE releases ADD COLUMN ancestors text NOT NULL DEFAULT '';

-- The gates as they stood when an operator approved or rejected, for the audit.
ALTER TABLE approvals ADD COLUMN gate_facts text NOT NULL DEFAULT '';
ALTER TABLE rejections ADD COLUMN gate_facts text NOT NULL DEFAULT '';

CREATE TABLE hotfixes (
  sha           text PRIMARY KEY REFERENCES releases (sha),
  requested_by  text NOT NULL,
  requested_at  timestamptz NOT NULL,
  reason        text NOT NULL,
  incident_url  text NOT NULL
);

CREATE TABLE obligations (
  id         bigserial PRIMARY KEY,
  sha        text NOT NULL REFERENCES hotfixes (sha),
  kind       text NOT NULL CHECK (kind IN ('review_backfill', 'incident_report')),
  opened_by  text NOT NULL,
  opened_at  timestamptz NOT NULL,
  due_at     timestamptz NOT NULL,
  closed_at  timestamptz,
  closed_by  text,
  link       text,
  UNIQUE (sha, kind),
  CHECK ((closed_at IS NULL) = (closed_by IS NULL) AND (closed_at IS NULL) = (link IS NULL))
);
CREATE INDEX obligations_open_idx ON obligations (due_at) WHERE closed_at IS NULL;
