#pragma once
// Leadership of one environment on PostgreSQL (sql/005_leadership.sql): a session advisory lock held on a
// connection of its own, and the `leadership` row whose epoch is the fencing token PgStore checks.
//
// How fast a dead leader is noticed: its lock session ends when the server sees the connection gone. A
// kill -9 closes the socket at once; a lost host or a partition is noticed by TCP keepalives, which this
// connection sets on both ends (idle 2 s, then every 1 s, 3 probes) with a 5 s TCP user timeout: the
// lock is free about 5 s after the leader's host went silent.
#include <memory>
#include <mutex>
#include <string>

#include "adapters/pg_pool.hpp"
#include "ports/leader_lock.hpp"

namespace promoter::adapters {

struct PgLeadershipOptions {
  std::string database_url;
  std::string environment;
  std::string instance;       // this instance's name, as the row and /v1/status show it
  std::string advertise_url;  // where standbys forward writes to this instance once it leads
};

class PgLeadership final : public ports::LeaderLock {
 public:
  explicit PgLeadership(PgLeadershipOptions);
  ~PgLeadership() override;

  core::Result<std::optional<ports::LeaderInfo>> try_acquire(core::Timestamp now) override;
  bool confirm(std::int64_t epoch) override;
  core::Result<std::optional<ports::LeaderInfo>> current() override;
  void release() override;
  // Known only once the daemon has bound its port; set before the first try_acquire.
  void set_advertise_url(std::string url) {
    std::lock_guard lock(mutex_);
    options_.advertise_url = std::move(url);
  }

 private:
  pqxx::connection& connection();  // (re)connects; caller holds mutex_

  PgLeadershipOptions options_;
  PgPool connector_;  // only for connect_dedicated(): one way to open a connection, errors included
  std::mutex mutex_;
  std::unique_ptr<pqxx::connection> connection_;
};

// `url` with TCP keepalives and a TCP user timeout added, in URI or key=value form (an empty URL, which
// leaves the rest to libpq's PG* variables, becomes key=value).
std::string with_keepalives(const std::string& url);

}  // namespace promoter::adapters
