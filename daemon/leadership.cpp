#include "daemon/leadership.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "ports/blocking.hpp"
#include "daemon/uses_ports.hpp"
#include "daemon/log.hpp"

namespace promoter::daemon {

namespace asio = boost::asio;

std::string_view to_string(NodeRole role) {
  switch (role) {
    case NodeRole::starting:
      return "starting";
    case NodeRole::standby:
      return "standby";
    case NodeRole::leader:
      return "leader";
  }
  return "starting";
}

Leadership::Leadership(asio::any_io_executor io, asio::any_io_executor blocking, LeaderLock& lock, const Clock& clock,
                       std::string instance, std::chrono::milliseconds interval)
    : io_(io),
      blocking_(std::move(blocking)),
      lock_(lock),
      clock_(clock),
      instance_(std::move(instance)),
      interval_(interval),
      timer_(io) {}

void Leadership::start() { asio::co_spawn(io_, loop(), asio::detached); }

void Leadership::stop() {
  stopped_ = true;
  timer_.cancel();
}

void Leadership::depose(std::string why) {
  asio::dispatch(io_, [this, why = std::move(why)] {
    if (role_ != NodeRole::leader) return;  // a standby, or deposed already
    role_ = NodeRole::standby;
    log(LogLevel::error, "leadership lost; stopping every leader duty and starting again as a standby",
        {{"instance", instance_}, {"epoch", leader_ ? leader_->epoch : 0}, {"reason", why}});
    if (changed_) changed_();
    if (deposed_) deposed_(why);
  });
}

asio::awaitable<bool> Leadership::wait() {
  if (stopped_) co_return false;
  timer_.expires_after(interval_);
  boost::system::error_code ec;
  co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return !stopped_;
}

asio::awaitable<void> Leadership::loop() {
  bool said_standby = false;
  while (!stopped_ && role_ != NodeRole::leader) {
    const auto now = clock_.now();
    auto got = co_await run_blocking(blocking_, [this, now] { return lock_.try_acquire(now); });
    if (stopped_) co_return;
    if (got && *got) {
      role_ = NodeRole::leader;
      leader_ = **got;
      log(LogLevel::info, "leading the environment", {{"instance", instance_}, {"epoch", leader_->epoch}});
      if (changed_) changed_();
      if (elected_) {
        const LeaderInfo info = *leader_;
        auto loaded = co_await elected_(info);
        if (!loaded) {
          depose("could not load the work after taking the lead: " + loaded.error().message);
          co_return;
        }
      }
      break;
    }
    if (!got) {
      log(LogLevel::warn, "cannot take part in leadership yet; retrying", {{"error", got.error().message}});
    } else {
      auto seen = co_await run_blocking(blocking_, [this] { return lock_.current(); });
      if (seen) {
        const bool moved = !leader_ || !*seen || leader_->epoch != (*seen)->epoch;
        leader_ = *seen;
        if (role_ != NodeRole::standby || moved) {
          role_ = NodeRole::standby;
          if (changed_) changed_();
        }
        if (!said_standby && leader_) {
          said_standby = true;
          log(LogLevel::info, "standing by: another instance leads",
              {{"instance", instance_}, {"leader", leader_->holder}, {"epoch", leader_->epoch}});
        }
      }
    }
    if (!co_await wait()) co_return;
  }
  // Leading: confirm at every interval, on the lock's own session.
  while (co_await wait()) {
    if (role_ != NodeRole::leader) co_return;  // deposed meanwhile
    const std::int64_t epoch = leader_->epoch;
    const bool still = co_await run_blocking(blocking_, [this, epoch] { return lock_.confirm(epoch); });
    if (stopped_) co_return;
    if (!still) {
      depose("the leader lock's session is gone or the epoch moved on");
      co_return;
    }
  }
}

}  // namespace promoter::daemon
