#include "adapters/simulated_production.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>

namespace promoter::adapters {

using core::ErrorCode;
using core::fail;

SimulatedProduction::SimulatedProduction(Options options, std::function<core::Timestamp()> now)
    : options_(std::move(options)), now_(std::move(now)) {
  std::lock_guard lock(mutex_);
  reload();
}

void SimulatedProduction::reload() const {
  if (options_.record_file.empty()) return;
  effects_.clear();
  std::ifstream in(options_.record_file);
  std::string line;
  while (std::getline(in, line)) {
    // A line cut short by a crash mid-write is no effect: the step will be found not done and re-run.
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    auto at = core::parse_timestamp(j.value("at", ""));
    effects_.push_back(
        SimulatedEffect{j.value("key", ""), j.value("step", ""), j.value("sha", ""), at ? *at : core::Timestamp{}});
  }
}

core::Result<void> SimulatedProduction::record(const ports::StepContext& ctx) {
  SimulatedEffect e{ctx.idempotency_key, ctx.step.name(), ctx.sha.str(), now_()};
  std::lock_guard lock(mutex_);
  if (!options_.record_file.empty()) {
    std::ofstream out(options_.record_file, std::ios::app);
    out << nlohmann::json{{"key", e.key}, {"step", e.step}, {"sha", e.sha}, {"at", core::format_timestamp(e.at)}}.dump()
        << "\n";
    out.flush();
    if (!out) return fail(ErrorCode::unavailable, fmt::format("cannot append to {}", options_.record_file));
  }
  effects_.push_back(std::move(e));
  return {};
}

std::optional<SimulatedEffect> SimulatedProduction::find(const std::string& key) const {
  std::lock_guard lock(mutex_);
  // The file is the world: another promoterd (a leader this one took over from) may have added to it.
  reload();
  for (const auto& e : effects_)
    if (e.key == key) return e;
  return std::nullopt;
}

std::vector<SimulatedEffect> SimulatedProduction::effects() const {
  std::lock_guard lock(mutex_);
  reload();
  return effects_;
}

bool SimulatedProduction::fails(const std::string& step_name) const {
  std::lock_guard lock(mutex_);
  return std::find(options_.fail_steps.begin(), options_.fail_steps.end(), step_name) != options_.fail_steps.end();
}

void SimulatedProduction::set_fail_steps(std::vector<std::string> steps) {
  std::lock_guard lock(mutex_);
  options_.fail_steps = std::move(steps);
}

boost::asio::awaitable<core::Result<std::string>> SimulatedStep::perform(const ports::StepContext& ctx) {
  if (world_.step_delay() > core::Duration::zero()) {
    boost::asio::steady_timer timer(executor_, world_.step_delay());
    co_await timer.async_wait(boost::asio::use_awaitable);
  }
  if (world_.fails(ctx.step.name()))
    co_return fail(ErrorCode::failed_precondition,
                   fmt::format("simulated failure of {} (listed in simulation.fail_steps)", ctx.step.name()));
  if (auto r = world_.record(ctx); !r) co_return std::unexpected(r.error());
  co_return fmt::format("simulated {} of {}", ctx.step.name(), ctx.sha.abbrev());
}

boost::asio::awaitable<core::Result<std::optional<std::string>>> SimulatedStep::find_done(
    const ports::StepContext& ctx) {
  if (auto e = world_.find(ctx.idempotency_key))
    co_return std::optional<std::string>(
        fmt::format("simulated {} of {} already done at {}", e->step, ctx.sha.abbrev(), core::format_timestamp(e->at)));
  co_return std::optional<std::string>();
}

}  // namespace promoter::adapters
