#include "adapters/fly_migration_step.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "adapters/fly_deploy_step.hpp"
#include "adapters/poll_until.hpp"
#include "adapters/step_error.hpp"

namespace promoter::adapters {

using core::ErrorCode;
using core::fail;

namespace {

constexpr std::string_view machine_prefix = "fly-machine:";
constexpr std::string_view exit_marker = " exit=";

struct Noted {
  std::string machine;
  std::optional<int> exit_code;
};

// "fly-machine:<id>" or "fly-machine:<id> exit=<code>".
std::optional<Noted> parse_note(const std::string& progress) {
  if (!progress.starts_with(machine_prefix)) return std::nullopt;
  Noted n;
  std::string rest = progress.substr(machine_prefix.size());
  if (auto at = rest.find(exit_marker); at != std::string::npos) {
    try {
      n.exit_code = std::stoi(rest.substr(at + exit_marker.size()));
    } catch (...) {
      return std::nullopt;
    }
    rest.resize(at);
  }
  if (rest.empty()) return std::nullopt;
  n.machine = rest;
  return n;
}

}  // namespace

FlyMigrationStep::FlyMigrationStep(boost::asio::any_io_executor executor, FlyClient& client, FlyMigrationTarget target,
                                   std::chrono::milliseconds poll_interval, std::chrono::milliseconds timeout,
                                   MonotonicClock& clock)
    : executor_(std::move(executor)),
      client_(client),
      target_(std::move(target)),
      poll_interval_(poll_interval),
      timeout_(timeout),
      clock_(clock) {}

boost::asio::awaitable<core::Result<std::string>> FlyMigrationStep::perform(const ports::StepContext& ctx) {
  const std::string image = fly_image_for(target_.image_template, ctx.sha);
  nlohmann::json body = {{"config",
                          {{"image", image},
                           {"init", {{"cmd", target_.command}}},
                           {"restart", {{"policy", "no"}}},
                           {"auto_destroy", false},  // destroyed by us once its exit code is noted
                           {"metadata", {{"promoter_step", ctx.idempotency_key}, {"promoter_sha", ctx.sha.str()}}}}}};
  if (!target_.region.empty()) body["region"] = target_.region;
  auto created = co_await client_.create_machine(target_.app, std::move(body));
  if (!created)
    co_return std::unexpected(
        step_error(created.error(), fmt::format("creating the migration machine in Fly app {}", target_.app)));
  if (ctx.note) {
    auto noted = co_await ctx.note(std::string(machine_prefix) + created->id);
    if (!noted) co_return std::unexpected(noted.error());
  }
  co_return co_await finish(created->id, created->instance_id, ctx);
}

boost::asio::awaitable<core::Result<std::string>> FlyMigrationStep::finish(const std::string& machine_id,
                                                                           const std::string& instance_id,
                                                                           const ports::StepContext& ctx) {
  const auto deadline = clock_.now() + timeout_;
  const std::string command = fmt::format("{}", fmt::join(target_.command, " "));
  // Done: the machine's exit code.
  auto exited = [&]() -> boost::asio::awaitable<std::optional<core::Result<int>>> {
    auto m = co_await client_.get_machine(target_.app, machine_id);
    if (!m && !is_transient(m.error()))
      co_return core::Result<int>(
          std::unexpected(step_error(m.error(), fmt::format("reading migration machine {}", machine_id))));
    if (m && (m->state == "stopped" || m->state == "destroyed" || m->state == "failed")) {
      const std::optional<int> exit_code = m->exit_code();
      if (!exit_code)
        co_return core::Result<int>(
            fail(ErrorCode::failed_precondition,
                 fmt::format("migration machine {} of {} is {} without an exit code: `{}` did not run to the end",
                             machine_id, target_.app, m->state, command)));
      co_return core::Result<int>(*exit_code);
    }
    co_return std::nullopt;
  };
  // Between looks, Fly's own wait for `stopped` (it needs the instance id); a pause only if that failed.
  auto wait_stopped = [&](MonotonicClock::duration left) -> boost::asio::awaitable<void> {
    std::optional<std::string> version;
    if (!instance_id.empty()) version = instance_id;
    const auto wait_for =
        std::clamp(std::chrono::ceil<std::chrono::seconds>(left), std::chrono::seconds(1), std::chrono::seconds(60));
    auto w = co_await client_.wait_for_state(target_.app, machine_id, "stopped", version, wait_for);
    if (!w && w.error().kind != AdapterError::Kind::timeout) co_await clock_.wait(executor_, poll_interval_);
  };
  auto answer = co_await poll_until(clock_, deadline, exited, wait_stopped);
  if (!answer) {
    co_await client_.destroy_machine(target_.app, machine_id, true);
    co_return fail(
        ErrorCode::failed_precondition,
        fmt::format("`{}` in Fly machine {} did not finish within {}; the machine was destroyed", command, machine_id,
                    core::format_duration(std::chrono::duration_cast<core::Duration>(timeout_))));
  }
  if (!*answer) co_return std::unexpected(answer->error());
  const int code = **answer;
  // The exit code is what a restart needs to know; the machine may be gone by then.
  if (ctx.note) {
    auto noted = co_await ctx.note(fmt::format("{}{}{}{}", machine_prefix, machine_id, exit_marker, code));
    if (!noted) co_return std::unexpected(noted.error());
  }
  co_await client_.destroy_machine(target_.app, machine_id, false);
  if (code != 0)
    co_return fail(ErrorCode::failed_precondition,
                   fmt::format("`{}` exited with code {} in Fly machine {} of {} (its output is in the machine's logs: "
                               "fly logs -a {} -i {})",
                               command, code, machine_id, target_.app, target_.app, machine_id));
  co_return fmt::format("`{}` exited 0 in Fly machine {} of {}", command, machine_id, target_.app);
}

boost::asio::awaitable<core::Result<std::optional<std::string>>> FlyMigrationStep::find_done(
    const ports::StepContext& ctx) {
  std::optional<Noted> noted = parse_note(ctx.progress);
  if (noted && noted->exit_code) {
    co_await client_.destroy_machine(target_.app, noted->machine, false);
    if (*noted->exit_code != 0)
      co_return fail(ErrorCode::failed_precondition,
                     fmt::format("the migration command exited with code {} in Fly machine {} of {}", *noted->exit_code,
                                 noted->machine, target_.app));
    co_return std::optional<std::string>(
        fmt::format("migration machine {} had exited 0 (found after restart)", noted->machine));
  }
  std::string machine = noted ? noted->machine : "";
  if (machine.empty()) {
    // Crashed between creating the machine and noting its id: it carries our key in its metadata.
    auto list = co_await client_.list_machines(target_.app);
    if (!list)
      co_return std::unexpected(step_error(list.error(), fmt::format("listing machines of Fly app {}", target_.app)));
    for (const auto& m : *list) {
      auto it = m.metadata.find("promoter_step");
      if (it != m.metadata.end() && it->second == ctx.idempotency_key && m.state != "destroyed") machine = m.id;
    }
  }
  if (machine.empty()) co_return std::optional<std::string>();  // never started: run it
  auto found = co_await client_.get_machine(target_.app, machine);
  if (!found) {
    if (found.error().kind == AdapterError::Kind::http_status && found.error().http_status == 404)
      co_return std::optional<std::string>();  // gone without a noted exit code: run it again
    co_return std::unexpected(step_error(found.error(), fmt::format("reading migration machine {}", machine)));
  }
  auto finished = co_await finish(machine, found->instance_id, ctx);
  if (!finished) co_return std::unexpected(finished.error());
  co_return std::optional<std::string>(*finished + " (found after restart)");
}

}  // namespace promoter::adapters
