-- Stop the line: every time an operator stopped or lifted the line of an environment. The newest row is in
-- force (a stop whose until has passed holds nothing back); history stays for the audit and the console.
CREATE TABLE line_stops (
  id           bigserial PRIMARY KEY,
  environment  text NOT NULL,
  stopped      boolean NOT NULL,  -- false: the row lifts the stop before it
  by_identity  text NOT NULL,
  at           timestamptz NOT NULL,
  reason       text NOT NULL,
  until        timestamptz
);
CREATE INDEX line_stops_by_environment ON line_stops (environment, id DESC);

-- A hotfix that may start inside a freeze window or a line stop (promotectl hotfix --override-freeze).
ALTER TABLE hotfixes ADD COLUMN overrides_freeze boolean NOT NULL DEFAULT false;
