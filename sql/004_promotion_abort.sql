-- An operator may abort a running promotion: the request is kept on the promotion (who, when, why),
-- and the executor stops before the next step that could still change production.
ALTER TABLE promotions ADD COLUMN abort_requested_by text;
ALTER TABLE promotions ADD COLUMN abort_requested_at timestamptz;
ALTER TABLE promotions ADD COLUMN abort_reason text;
ALTER TABLE promotions ADD CONSTRAINT promotions_abort_complete
  CHECK ((abort_requested_by IS NULL) = (abort_requested_at IS NULL) AND
         (abort_requested_by IS NULL) = (abort_reason IS NULL));

ALTER TABLE promotions DROP CONSTRAINT promotions_state_check;
ALTER TABLE promotions ADD CONSTRAINT promotions_state_check
  CHECK (state IN ('running', 'succeeded', 'failed', 'aborted'));

ALTER TABLE releases DROP CONSTRAINT releases_state_check;
ALTER TABLE releases ADD CONSTRAINT releases_state_check
  CHECK (state IN ('deploying', 'soaking', 'ready', 'promoting', 'promoted', 'promotion_failed',
                   'promotion_aborted', 'rejected', 'superseded', 'staging_failed'));

DROP INDEX releases_active_idx;
CREATE INDEX releases_active_idx ON releases (seq)
  WHERE state NOT IN ('promoted', 'promotion_failed', 'promotion_aborted', 'rejected', 'superseded');
