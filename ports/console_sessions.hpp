#pragma once
// The web console's sign-in sessions (sql/014_console_sessions.sql). In the database rather than in memory so
// that a session outlives a restart and a failover: any instance serves any session. Keyed by the SHA-256 of
// the cookie value, so the table holds nothing a browser could present. Not fenced: a standby signs people in
// too, and a session decides nothing about a promotion. Calls block: make them from the blocking pool.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/time.hpp"

namespace promoter::ports {

struct ConsoleSession {
  std::string identity;      // as the token's [[auth.tokens]] entry named it when the session began
  std::string token_digest;  // SHA-256 of the API token signed in with, in hex: the session ends with the token
  std::string csrf_token;    // what the page sends back in X-CSRF-Token on every write
  core::Timestamp created_at{};
  core::Timestamp last_seen_at{};
};

// How long a session lives: `idle` since it was last used, and `absolute` since it began, whichever is sooner.
struct SessionLifetime {
  core::Duration idle{};
  core::Duration absolute{};
};

class ConsoleSessions {
 public:
  virtual ~ConsoleSessions() = default;

  // Digests are SHA-256 in lower-case hex. Records a new session under `id_digest`, and deletes sessions that ended
  // more than `lifetime.absolute` ago, so the table grows with the people signed in, not with every sign-in ever.
  virtual core::Result<void> create_session(const std::string& id_digest, const ConsoleSession&,
                                            SessionLifetime lifetime) = 0;
  // The session if it is live at `now` (not revoked, within both expiries), its last use moved to `now`;
  // nullopt when it is unknown, revoked or expired.
  virtual core::Result<std::optional<ConsoleSession>> use_session(const std::string& id_digest, core::Timestamp now,
                                                                  SessionLifetime lifetime) = 0;
  // Sign-out. Revoking an unknown or revoked session is not an error.
  virtual core::Result<void> revoke_session(const std::string& id_digest, core::Timestamp now,
                                            const std::string& reason) = 0;
  // After a reload: revokes every live session whose token is not among `token_digests`; how many it revoked.
  virtual core::Result<std::size_t> revoke_sessions_without(const std::vector<std::string>& token_digests,
                                                            core::Timestamp now, const std::string& reason) = 0;
};

}  // namespace promoter::ports
