-- Configuration drift (ports/config_history.hpp): environment-variable names and feature flags, staging first.
-- Names, provider digests and times only: promoterd never reads a value, so none can be stored here.

-- The latest observation of each service's variables in each environment.
CREATE TABLE config_snapshots (
  service      text NOT NULL,
  environment  text NOT NULL CHECK (environment IN ('staging', 'production')),
  observed_at  timestamptz NOT NULL,
  PRIMARY KEY (service, environment)
);

CREATE TABLE config_variables (
  service      text NOT NULL,
  environment  text NOT NULL,
  name         text NOT NULL,
  updated_at   timestamptz,            -- the provider's change time, when it gives one
  digest       text NOT NULL DEFAULT '', -- Fly's digest of the value (moves when the value changes); '' for Railway
  PRIMARY KEY (service, environment, name),
  FOREIGN KEY (service, environment) REFERENCES config_snapshots (service, environment) ON DELETE CASCADE
);

-- Every change seen between two observations; `violation` is the reason when it broke the staging-first rule.
CREATE TABLE config_changes (
  id           bigserial PRIMARY KEY,
  service      text NOT NULL,
  environment  text NOT NULL CHECK (environment IN ('staging', 'production')),
  name         text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('added', 'removed', 'changed')),
  observed_at  timestamptz NOT NULL,
  provider_at  timestamptz,
  violation    text
);
CREATE INDEX config_changes_by_service ON config_changes (service, environment, id);
CREATE INDEX config_changes_violations ON config_changes (id) WHERE violation IS NOT NULL;

-- The latest observation of each environment's feature flag table.
CREATE TABLE flag_snapshots (
  environment  text PRIMARY KEY CHECK (environment IN ('staging', 'production')),
  observed_at  timestamptz NOT NULL
);

CREATE TABLE flag_states (
  environment  text NOT NULL REFERENCES flag_snapshots (environment) ON DELETE CASCADE,
  key          text NOT NULL,
  enabled      boolean NOT NULL,
  updated_at   timestamptz,
  PRIMARY KEY (environment, key)
);

-- Keys staging has had enabled at any observation: "never enabled on staging" outlives the row.
CREATE TABLE flag_ever_enabled (
  key          text PRIMARY KEY,
  first_seen   timestamptz NOT NULL
);

CREATE TABLE flag_changes (
  id           bigserial PRIMARY KEY,
  environment  text NOT NULL CHECK (environment IN ('staging', 'production')),
  key          text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('added', 'removed', 'enabled', 'disabled')),
  enabled      boolean NOT NULL,
  observed_at  timestamptz NOT NULL,
  provider_at  timestamptz,
  violation    text
);
CREATE INDEX flag_changes_violations ON flag_changes (id) WHERE violation IS NOT NULL;

-- The configuration view each release's env and flag gates read (core::ConfigView as adapters/config_view_json
-- writes it): replaced whenever the watcher sees something new for the release.
CREATE TABLE release_config (
  sha          text PRIMARY KEY REFERENCES releases (sha),
  observed_at  timestamptz NOT NULL,
  view         jsonb NOT NULL
);
