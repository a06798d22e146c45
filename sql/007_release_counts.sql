-- How many releases are in each state, kept by a trigger in the transaction that changes a release, so
-- /v1/status (on a standby too) and start-up read a handful of rows instead of counting every release ever seen.
CREATE TABLE release_state_counts (
  state  text PRIMARY KEY,
  n      bigint NOT NULL CHECK (n >= 0)
);
INSERT INTO release_state_counts (state, n) SELECT state, count(*) FROM releases GROUP BY state;

CREATE FUNCTION release_state_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.state = OLD.state THEN
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE release_state_counts SET n = n - 1 WHERE state = OLD.state;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO release_state_counts (state, n) VALUES (NEW.state, 1)
      ON CONFLICT (state) DO UPDATE SET n = release_state_counts.n + 1;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER releases_state_counts AFTER INSERT OR UPDATE OF state OR DELETE ON releases
  FOR EACH ROW EXECUTE FUNCTION release_state_counts_follow();
