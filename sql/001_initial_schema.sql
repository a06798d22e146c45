-- promoterd's own schema. Applied once, in one transaction, recorded in schema_migrations.

CREATE TABLE releases (
  sha              text PRIMARY KEY CHECK (sha ~ '^[0-9a-f]{40}$'),
  seq              bigint NOT NULL UNIQUE,
  author           text NOT NULL DEFAULT '',
  first_seen_at    timestamptz NOT NULL,
  live_at          timestamptz,
  soak_started_at  timestamptz,
  soak_resets      integer NOT NULL DEFAULT 0,
  state            text NOT NULL CHECK (state IN ('deploying', 'soaking', 'ready', 'promoting', 'promoted',
                                                   'promotion_failed', 'rejected', 'superseded', 'staging_failed')),
  state_reason     text NOT NULL DEFAULT '',
  promotion_id     bigint,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
-- Start-up loads every release; the daemon's hot set is the non-terminal ones.
CREATE INDEX releases_active_idx ON releases (seq)
  WHERE state NOT IN ('promoted', 'promotion_failed', 'rejected', 'superseded');

-- The current staging deployment of each service of a release (history is in audit_log).
CREATE TABLE staging_deployments (
  sha            text NOT NULL REFERENCES releases (sha),
  service        text NOT NULL,
  deployment_id  text NOT NULL,
  status         text NOT NULL,
  created_at     timestamptz,
  updated_at     timestamptz NOT NULL,
  PRIMARY KEY (sha, service)
);

-- Latest result per suite; every result is also in audit_log.
CREATE TABLE smoke_results (
  sha          text NOT NULL REFERENCES releases (sha),
  suite        text NOT NULL,
  passed       boolean NOT NULL,
  reported_by  text NOT NULL,
  reported_at  timestamptz NOT NULL,
  details      text NOT NULL DEFAULT '',
  PRIMARY KEY (sha, suite)
);

CREATE TABLE approvals (
  sha          text NOT NULL REFERENCES releases (sha),
  approved_by  text NOT NULL,
  approved_at  timestamptz NOT NULL,
  reason       text NOT NULL DEFAULT '',
  PRIMARY KEY (sha, approved_by)
);

CREATE TABLE rejections (
  sha          text PRIMARY KEY REFERENCES releases (sha),
  rejected_by  text NOT NULL,
  rejected_at  timestamptz NOT NULL,
  reason       text NOT NULL
);

CREATE TABLE promotions (
  id           bigserial PRIMARY KEY,
  sha          text NOT NULL REFERENCES releases (sha),
  environment  text NOT NULL,
  state        text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
  hotfix       boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL,
  finished_at  timestamptz,
  error        text
);
-- The database, not only the daemon's memory, allows one running promotion per environment.
CREATE UNIQUE INDEX promotions_one_running_per_environment ON promotions (environment) WHERE state = 'running';

-- The journal: each step is marked started before its side effect and succeeded/failed after it.
CREATE TABLE promotion_steps (
  promotion_id     bigint NOT NULL REFERENCES promotions (id),
  idx              integer NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('preflight', 'migrate', 'deploy', 'verify', 'record')),
  service          text,
  name             text NOT NULL,
  state            text NOT NULL CHECK (state IN ('planned', 'started', 'succeeded', 'failed')),
  idempotency_key  text NOT NULL UNIQUE,
  attempts         integer NOT NULL DEFAULT 0,
  started_at       timestamptz,
  finished_at      timestamptz,
  detail           text NOT NULL DEFAULT '',
  PRIMARY KEY (promotion_id, idx)
);

CREATE TABLE production_releases (
  environment   text PRIMARY KEY,
  sha           text NOT NULL REFERENCES releases (sha),
  promotion_id  bigint REFERENCES promotions (id),
  promoted_at   timestamptz NOT NULL
);

CREATE TABLE audit_log (
  id      bigserial PRIMARY KEY,
  at      timestamptz NOT NULL,
  actor   text NOT NULL,
  action  text NOT NULL,
  sha     text,
  detail  text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_sha_idx ON audit_log (sha, id);

-- Append-only: the audit trail cannot be edited through SQL either.
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
