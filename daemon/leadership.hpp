#pragma once
// Who leads the environment, and this instance's part in it. Runs on the io thread.
//
// A standby tries to take the lead every `interval`; meanwhile it serves reads from PostgreSQL and
// forwards writes to the leader the `leadership` row names. The leader confirms every `interval` that its
// lock session is alive and its epoch current. Once it is not, or a write found its epoch stale, it is
// deposed: the store's epoch is dropped first (no write after that is even attempted), then the daemon
// stops as after a crash and starts again as a standby (see App). Losing the lead is handled like a crash
// on purpose: the journal already makes every crash point safe, so there is no second path to get right.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "ports/clock.hpp"
#include "ports/leader_lock.hpp"
#include "daemon/uses_ports.hpp"

namespace promoter::daemon {

enum class NodeRole { starting, standby, leader };
std::string_view to_string(NodeRole);

class Leadership {
 public:
  // `elected` runs once this instance leads (epoch raised), before it confirms anything: it loads the
  // work. Its error (say the database went away while loading) deposes the instance again.
  using Elected = std::function<boost::asio::awaitable<core::Result<void>>(const LeaderInfo&)>;

  Leadership(boost::asio::any_io_executor io, boost::asio::any_io_executor blocking, LeaderLock& lock,
             const Clock& clock, std::string instance, std::chrono::milliseconds interval);

  void on_elected(Elected f) { elected_ = std::move(f); }
  // Called once, on the io thread, when this instance stops leading (never for a standby).
  void on_deposed(std::function<void(std::string why)> f) { deposed_ = std::move(f); }
  // Called on the io thread whenever the known leader changes (for metrics and status).
  void on_change(std::function<void()> f) { changed_ = std::move(f); }

  void start();
  void stop();
  // Deposes this instance now (a fenced write found its epoch stale). Safe from any thread.
  void depose(std::string why);

  NodeRole role() const { return role_; }
  const std::string& instance() const { return instance_; }
  // The leader as last seen: this instance's own row while it leads.
  const std::optional<LeaderInfo>& leader() const { return leader_; }

 private:
  boost::asio::awaitable<void> loop();
  boost::asio::awaitable<bool> wait();  // false once stopped

  boost::asio::any_io_executor io_;
  boost::asio::any_io_executor blocking_;
  LeaderLock& lock_;
  const Clock& clock_;
  std::string instance_;
  std::chrono::milliseconds interval_;
  boost::asio::steady_timer timer_;
  Elected elected_;
  std::function<void(std::string)> deposed_;
  std::function<void()> changed_;
  NodeRole role_ = NodeRole::starting;
  std::optional<LeaderInfo> leader_;
  bool stopped_ = false;
};

}  // namespace promoter::daemon
