#pragma once
// Watches configuration that changes without a deploy: every observable service's environment-variable names in
// staging and production (Railway variables, Fly secrets), and each environment's feature flags. Names only: the
// adapters never ask for a value. Each pass diffs what it reads against the last recorded observation, records the
// changes (core::diff_variables, core::diff_flags), judges production changes against staging's history
// (core::judge_production_change, core::judge_flag_change) and reports violations (audit, metric, chat notice);
// then it hands every release still at work the current ConfigView, which its env and flag gates read. It runs
// on the leader only, at its interval and on demand before a promotion's preflight.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "adapters/fly_client.hpp"
#include "adapters/railway_client.hpp"
#include "core/config_drift.hpp"
#include "daemon/config/config.hpp"
#include "daemon/metrics.hpp"
#include "daemon/release_service.hpp"
#include "ports/clock.hpp"
#include "ports/config_history.hpp"
#include "ports/notifier.hpp"

namespace promoter::daemon {

class ConfigWatch {
 public:
  struct Sources {
    adapters::RailwayClient* railway = nullptr;  // staging, and Railway production targets
    adapters::FlyClient* fly = nullptr;          // Fly production targets
    std::optional<std::string> flags_staging_url;
    std::optional<std::string> flags_production_url;
  };
  using Notify = std::function<void(ports::Notification)>;

  ConfigWatch(boost::asio::io_context& io, boost::asio::any_io_executor blocking, Sources sources,
              ReleaseService& releases, ports::ConfigHistory& history, const Config& config, Notify notify,
              Metrics& metrics, const Clock& clock);

  void start();  // the loop; its first pass at once (after reloading what was recorded: leadership may be new)
  void stop();

  // One pass now, after any pass under way: what the preflight calls so the env and flag gates it re-checks
  // read production as it is. An error when a source could not be read (the gates then keep the last view).
  boost::asio::awaitable<core::Result<void>> observe();

 private:
  boost::asio::awaitable<void> loop();
  boost::asio::awaitable<core::Result<void>> pass();
  boost::asio::awaitable<core::Result<void>> load();
  boost::asio::awaitable<core::Result<void>> observe_variables();
  boost::asio::awaitable<core::Result<void>> observe_flags();
  // Diffs, judges and records one snapshot; updates memory once it is recorded.
  boost::asio::awaitable<core::Result<void>> take(core::VariableSnapshot);
  boost::asio::awaitable<core::Result<void>> take_flags(core::FlagSnapshot);
  boost::asio::awaitable<void> feed_releases();
  void report(const core::ConfigViolation&);
  core::ConfigView view() const;

  boost::asio::io_context& io_;
  boost::asio::any_io_executor blocking_;
  Sources sources_;
  ReleaseService& releases_;
  ports::ConfigHistory& history_;
  const Config& config_;
  Notify notify_;
  Metrics& metrics_;
  const Clock& clock_;
  boost::asio::steady_timer wake_;
  bool stopped_ = false;
  bool loaded_ = false;
  // One pass at a time: the loop's and the preflight's would otherwise diff against the same memory and record
  // a change twice.
  bool busy_ = false;
  std::deque<std::shared_ptr<boost::asio::steady_timer>> waiters_;
  std::map<std::pair<std::string, core::ConfigTier>, core::VariableSnapshot> variables_;  // as last recorded
  std::map<core::ConfigTier, core::FlagSnapshot> flags_;
  std::set<std::string> staging_ever_enabled_;
};

}  // namespace promoter::daemon
