-- Since when a release's soak and smoke hold with only approval missing (NULL: not so). The ready-for-approval
-- notice keys on it instead of on the wording of state_reason.
ALTER TABLE releases ADD COLUMN awaiting_approval_since timestamptz;
-- Releases already waiting when this runs have had their notice: do not send it again.
UPDATE releases SET awaiting_approval_since = updated_at
  WHERE state = 'soaking' AND state_reason LIKE 'waiting for approval:%';
