#pragma once
// A stand-in production world for the demo and tests: it records each side effect it is asked for
// (by idempotency key) instead of calling Railway, Fly or a migration command. The record is the
// "outside world": it survives a daemon restart when it has a file, so reconciliation can ask it.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "ports/step_performer.hpp"

namespace promoter::adapters {

struct SimulatedEffect {
  std::string key;
  std::string step;  // step name, e.g. "deploy:api"
  std::string sha;
  core::Timestamp at{};
};

class SimulatedProduction {
 public:
  struct Options {
    std::string record_file;  // JSON lines; empty: memory only
    core::Duration step_delay{0};
    std::vector<std::string> fail_steps;  // step names that fail
  };
  SimulatedProduction(Options, std::function<core::Timestamp()> now);

  core::Result<void> record(const ports::StepContext&);
  std::optional<SimulatedEffect> find(const std::string& key) const;
  std::vector<SimulatedEffect> effects() const;
  bool fails(const std::string& step_name) const;
  void set_fail_steps(std::vector<std::string>);
  core::Duration step_delay() const { return options_.step_delay; }
  core::Timestamp now() const { return now_(); }

 private:
  void reload() const;  // from record_file, when there is one; mutex_ held

  Options options_;
  std::function<core::Timestamp()> now_;
  mutable std::mutex mutex_;
  mutable std::vector<SimulatedEffect> effects_;
};

// The StepPerformer for any step whose target is simulated.
class SimulatedStep final : public ports::StepPerformer {
 public:
  SimulatedStep(SimulatedProduction& world, boost::asio::any_io_executor executor)
      : world_(world), executor_(std::move(executor)) {}
  boost::asio::awaitable<core::Result<std::string>> perform(const ports::StepContext&) override;
  boost::asio::awaitable<core::Result<std::optional<std::string>>> find_done(const ports::StepContext&) override;

 private:
  SimulatedProduction& world_;
  boost::asio::any_io_executor executor_;
};

}  // namespace promoter::adapters
