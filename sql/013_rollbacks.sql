-- Rollback (issue 17): a promotion row is either a promotion of a release or a rollback to one; both run the
-- same journal. A rollback is kept from its request (it may wait for a running promotion to stop) to its end,
-- with the promotion it followed: the one it aborted, or the one whose verify failed.
ALTER TABLE promotions ADD COLUMN kind text NOT NULL DEFAULT 'promotion' CHECK (kind IN ('promotion', 'rollback'));

CREATE TABLE rollbacks (
  id               bigserial PRIMARY KEY,
  environment      text NOT NULL,
  target_sha       text NOT NULL REFERENCES releases (sha),
  requested_by     text NOT NULL,
  requested_at     timestamptz NOT NULL,
  reason           text NOT NULL,
  trigger          text NOT NULL CHECK (trigger IN ('operator', 'verify_failure')),
  after_promotion  bigint REFERENCES promotions (id),
  promotion_id     bigint UNIQUE REFERENCES promotions (id),
  migrations_since jsonb NOT NULL DEFAULT '[]',  -- names, oldest first
  schema_state     text NOT NULL DEFAULT '',
  ended_at         timestamptz
);
-- At most one rollback is owed per environment at a time.
CREATE UNIQUE INDEX rollbacks_one_open_per_environment ON rollbacks (environment) WHERE ended_at IS NULL;

-- The pin a rollback leaves, and every resume: the newest row is in force (history stays for the audit).
CREATE TABLE pins (
  id           bigserial PRIMARY KEY,
  environment  text NOT NULL,
  pinned       boolean NOT NULL,  -- false: the row lifts the pin before it (promotectl resume)
  by_identity  text NOT NULL,
  at           timestamptz NOT NULL,
  reason       text NOT NULL
);
CREATE INDEX pins_by_environment ON pins (environment, id DESC);
