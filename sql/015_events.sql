-- What changed, in commit-ish order, for GET /v1/events (the console's live updates and promotectl watch).
-- Written by triggers, so no writer can forget one: a row names the kind of change and the release or promotion
-- it touched, never the change's content (a reader fetches that through the API, with its own role checks).
-- Pruned after a day by whichever instance streams events (ports/event_log.hpp).
CREATE TABLE events (
  id            bigserial PRIMARY KEY,
  at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  kind          text NOT NULL,
  sha           text,
  promotion_id  bigint
);
CREATE INDEX events_at_idx ON events (at);

CREATE FUNCTION record_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  row_json  jsonb := to_jsonb(NEW);
  event_sha text := row_json->>'sha';
  event_pid bigint;
BEGIN
  IF TG_TABLE_NAME = 'promotions' THEN
    event_pid := (row_json->>'id')::bigint;
  ELSE
    event_pid := (row_json->>'promotion_id')::bigint;
  END IF;
  IF TG_TABLE_NAME = 'rollbacks' THEN
    event_sha := row_json->>'target_sha';
  END IF;
  IF event_sha IS NULL AND event_pid IS NOT NULL THEN
    SELECT sha INTO event_sha FROM promotions WHERE id = event_pid;
  END IF;
  INSERT INTO events (kind, sha, promotion_id) VALUES (TG_ARGV[0], event_sha, event_pid);
  RETURN NULL;
END $$;

CREATE TRIGGER releases_event AFTER INSERT OR UPDATE ON releases
  FOR EACH ROW EXECUTE FUNCTION record_event('release');
CREATE TRIGGER staging_deployments_event AFTER INSERT OR UPDATE ON staging_deployments
  FOR EACH ROW EXECUTE FUNCTION record_event('release');
CREATE TRIGGER smoke_results_event AFTER INSERT OR UPDATE ON smoke_results
  FOR EACH ROW EXECUTE FUNCTION record_event('release');
CREATE TRIGGER approvals_event AFTER INSERT OR UPDATE ON approvals
  FOR EACH ROW EXECUTE FUNCTION record_event('release');
CREATE TRIGGER rejections_event AFTER INSERT OR UPDATE ON rejections
  FOR EACH ROW EXECUTE FUNCTION record_event('release');
CREATE TRIGGER release_evidence_event AFTER INSERT OR UPDATE ON release_evidence
  FOR EACH ROW EXECUTE FUNCTION record_event('release');
CREATE TRIGGER promotions_event AFTER INSERT OR UPDATE ON promotions
  FOR EACH ROW EXECUTE FUNCTION record_event('promotion');
CREATE TRIGGER rollbacks_event AFTER INSERT OR UPDATE ON rollbacks
  FOR EACH ROW EXECUTE FUNCTION record_event('promotion');
CREATE TRIGGER promotion_steps_event AFTER INSERT OR UPDATE ON promotion_steps
  FOR EACH ROW EXECUTE FUNCTION record_event('step');
CREATE TRIGGER production_releases_event AFTER INSERT OR UPDATE ON production_releases
  FOR EACH ROW EXECUTE FUNCTION record_event('production');
CREATE TRIGGER audit_log_event AFTER INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION record_event('audit');
CREATE TRIGGER obligations_event AFTER INSERT OR UPDATE ON obligations
  FOR EACH ROW EXECUTE FUNCTION record_event('obligation');
CREATE TRIGGER line_stops_event AFTER INSERT ON line_stops
  FOR EACH ROW EXECUTE FUNCTION record_event('freeze');
CREATE TRIGGER pins_event AFTER INSERT ON pins
  FOR EACH ROW EXECUTE FUNCTION record_event('pin');
