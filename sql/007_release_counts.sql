-- How many releases are in each state, kept by statement-level triggers in the transaction that changes
-- releases, so /v1/status (on a standby too) and start-up read a handful of rows instead of counting every
-- release ever seen. Statement-level with transition tables: a statement that touches many releases (a bulk
-- load) updates each state's row once, not once per release.
CREATE TABLE release_state_counts (
  state  text PRIMARY KEY,
  n      bigint NOT NULL  -- no CHECK (n >= 0): an upsert's proposed row carries a negative delta
);
INSERT INTO release_state_counts (state, n) SELECT state, count(*) FROM releases GROUP BY state;

CREATE FUNCTION release_state_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- PL/pgSQL plans a statement when it first runs it, so each branch names only the transition tables its
  -- trigger defines.
  IF TG_OP = 'INSERT' THEN
    INSERT INTO release_state_counts AS c (state, n)
      SELECT state, count(*) FROM new_rows GROUP BY state
      ON CONFLICT (state) DO UPDATE SET n = c.n + EXCLUDED.n;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO release_state_counts AS c (state, n)
      SELECT state, sum(d) FROM (SELECT state, 1 AS d FROM new_rows UNION ALL SELECT state, -1 FROM old_rows) m
      GROUP BY state HAVING sum(d) <> 0
      ON CONFLICT (state) DO UPDATE SET n = c.n + EXCLUDED.n;
  ELSE
    UPDATE release_state_counts c SET n = c.n - o.k
      FROM (SELECT state, count(*) AS k FROM old_rows GROUP BY state) o WHERE c.state = o.state;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER releases_state_counts_insert AFTER INSERT ON releases
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION release_state_counts_follow();
CREATE TRIGGER releases_state_counts_update AFTER UPDATE ON releases
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION release_state_counts_follow();
CREATE TRIGGER releases_state_counts_delete AFTER DELETE ON releases
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION release_state_counts_follow();
