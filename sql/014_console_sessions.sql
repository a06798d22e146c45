-- The web console's sessions (ports/console_sessions.hpp). The cookie's value is never stored: only its SHA-256,
-- so a copy of this table signs nobody in. token_digest (SHA-256 of the API token the person signed in with)
-- ends every session of a token removed from the config. Rows that ended long ago are deleted on sign-in.
CREATE TABLE console_sessions (
  id_digest     bytea PRIMARY KEY,
  identity      text NOT NULL,
  token_digest  bytea NOT NULL,
  csrf_token    text NOT NULL,
  created_at    timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL,
  revoked_at    timestamptz,
  revoked_why   text
);
CREATE INDEX console_sessions_live_by_token ON console_sessions (token_digest) WHERE revoked_at IS NULL;
