#pragma once
// What the daemon needs to lead an environment: a lock that at most one instance holds, and the fencing
// token (epoch) that rises each time another instance takes it. PgLeadership (adapters/) implements it on
// a PostgreSQL session advisory lock plus the `leadership` row. Calls block: make them from the blocking pool.
#include <cstdint>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "core/time.hpp"

namespace promoter::ports {

// The `leadership` row: who leads, since when, under which epoch, and where standbys forward writes.
struct LeaderInfo {
  std::int64_t epoch = 0;
  std::string holder;         // the instance's name
  std::string advertise_url;  // "" when the leader did not say where it can be reached
  core::Timestamp acquired_at{};
};

class LeaderLock {
 public:
  virtual ~LeaderLock() = default;
  // Tries once to take the lead. On success the epoch has been raised and the row names this instance;
  // nullopt when another instance holds the lock.
  virtual core::Result<std::optional<LeaderInfo>> try_acquire(core::Timestamp now) = 0;
  // The leader asks whether it still leads: false once its lock connection is gone or the epoch moved on.
  virtual bool confirm(std::int64_t epoch) = 0;
  // The row as it stands (nullopt before any instance ever led).
  virtual core::Result<std::optional<LeaderInfo>> current() = 0;
  // Gives the lock up (closes the lock's session).
  virtual void release() = 0;
};

}  // namespace promoter::ports
