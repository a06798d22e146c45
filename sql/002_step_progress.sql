-- What a step's side effect noted while it ran (e.g. the Railway deployment it started), written
-- before the step waits, so a restarted executor finds the effect instead of starting another.
ALTER TABLE promotion_steps ADD COLUMN progress text NOT NULL DEFAULT '';
