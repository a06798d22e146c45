#include "adapters/railway_deploy_step.hpp"

#include <fmt/format.h>

#include "adapters/poll_until.hpp"
#include "adapters/step_error.hpp"

namespace promoter::adapters {

using core::ErrorCode;
using core::fail;

namespace {

constexpr std::string_view note_prefix = "railway-deployment:";

bool failed_status(std::string_view status) {
  return status == "FAILED" || status == "CRASHED" || status == "REMOVED" || status == "SKIPPED";
}

}  // namespace

RailwayDeployStep::RailwayDeployStep(boost::asio::any_io_executor executor, RailwayClient& client, RailwayTarget target,
                                     std::chrono::milliseconds poll_interval, std::chrono::milliseconds timeout,
                                     MonotonicClock& clock)
    : executor_(std::move(executor)),
      client_(client),
      target_(std::move(target)),
      poll_interval_(poll_interval),
      timeout_(timeout),
      clock_(clock) {}

std::string RailwayDeployStep::note_for(const std::string& deployment_id) {
  return std::string(note_prefix) + deployment_id;
}

std::optional<std::string> RailwayDeployStep::deployment_in(const std::string& progress) {
  if (!progress.starts_with(note_prefix) || progress.size() == note_prefix.size()) return std::nullopt;
  return progress.substr(note_prefix.size());
}

boost::asio::awaitable<core::Result<std::string>> RailwayDeployStep::perform(const ports::StepContext& ctx) {
  unclear_.erase(ctx.idempotency_key);
  auto id = co_await client_.deploy_commit(target_.service_id, target_.environment_id, ctx.sha.str());
  if (!id) {
    core::Error error = step_error(id.error(), fmt::format("deploying {} to Railway", ctx.sha.abbrev()));
    if (error.code == ErrorCode::unavailable)
      unclear_[ctx.idempotency_key] = fmt::format("the deploy request got no clear answer ({})", error.message);
    co_return std::unexpected(std::move(error));
  }
  if (ctx.note) {
    auto noted = co_await ctx.note(note_for(*id));
    if (!noted) co_return std::unexpected(noted.error());
  }
  auto live = co_await wait_live(*id, ctx);
  if (!live && live.error().code == ErrorCode::unavailable)
    unclear_[ctx.idempotency_key] =
        fmt::format("Railway did not say whether deployment {} went live ({})", *id, live.error().message);
  co_return live;
}

boost::asio::awaitable<core::Result<std::optional<std::string>>> RailwayDeployStep::find_done(
    const ports::StepContext& ctx) {
  std::optional<std::string> id = deployment_in(ctx.progress);
  if (!id) {
    // Crashed between asking Railway to deploy and noting the id: look for a deployment of this exact
    // commit in the production environment, made since the step started (10 minutes of slack for clocks).
    auto list = co_await client_.list_deployments(target_.project_id, target_.environment_id, target_.service_id, 20);
    if (!list) co_return std::unexpected(step_error(list.error(), "listing Railway production deployments"));
    for (const auto& d : *list) {  // newest first
      if (d.commit_hash != ctx.sha.str()) continue;
      auto created = core::parse_timestamp(d.created_at);
      if (ctx.started_at && created && *created < *ctx.started_at - std::chrono::minutes(10)) continue;
      id = d.id;
      break;
    }
  }
  if (!id) co_return std::optional<std::string>();
  auto live = co_await wait_live(*id, ctx);
  if (!live) co_return std::unexpected(live.error());
  // Say what happened: a restart, or an earlier attempt of this process that got no clear answer.
  std::string how = "found after restart";
  if (auto it = unclear_.find(ctx.idempotency_key); it != unclear_.end()) {
    how = fmt::format("found when settling the step: {}; the deployment had been made, so it was not made again",
                      it->second);
    unclear_.erase(it);
  }
  co_return std::optional<std::string>(fmt::format("{} ({})", *live, how));
}

boost::asio::awaitable<core::Result<std::string>> RailwayDeployStep::wait_live(std::string deployment_id,
                                                                               const ports::StepContext& ctx) {
  const auto deadline = clock_.now() + timeout_;
  std::string last_status;
  auto live = [&]() -> boost::asio::awaitable<std::optional<core::Result<std::string>>> {
    auto d = co_await client_.get_deployment(deployment_id);
    if (!d)
      co_return core::Result<std::string>(
          std::unexpected(step_error(d.error(), fmt::format("reading Railway deployment {}", deployment_id))));
    if (d->commit_hash && *d->commit_hash != ctx.sha.str())
      co_return core::Result<std::string>(fail(
          ErrorCode::failed_precondition,
          fmt::format("Railway deployment {} is of commit {}, not {}", deployment_id, *d->commit_hash, ctx.sha.str())));
    if (d->status == "SUCCESS")
      co_return core::Result<std::string>(
          fmt::format("railway deployment {} of {} is live", deployment_id, ctx.sha.abbrev()));
    if (failed_status(d->status))
      co_return core::Result<std::string>(
          fail(ErrorCode::failed_precondition,
               fmt::format("railway deployment {} of {} is {}", deployment_id, ctx.sha.abbrev(), d->status)));
    last_status = d->status;
    co_return std::nullopt;
  };
  auto answer = co_await poll_until(clock_, executor_, deadline, poll_interval_, live);
  if (answer) co_return std::move(*answer);
  co_return fail(ErrorCode::failed_precondition,
                 fmt::format("railway deployment {} of {} was not live within {} (last status {})", deployment_id,
                             ctx.sha.abbrev(),
                             core::format_duration(std::chrono::duration_cast<core::Duration>(timeout_)), last_status));
}

}  // namespace promoter::adapters
