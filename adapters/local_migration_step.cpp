#include "adapters/local_migration_step.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "adapters/command_runner.hpp"
#include "adapters/poll_until.hpp"
#include "ports/blocking.hpp"

namespace promoter::adapters {

using core::ErrorCode;
using core::fail;

namespace {

constexpr std::size_t tail_lines = 8;

// Progress notes: {"pgid": N, "start": "..."} while running; {"exit": N, "detail": "..."} once ended.
std::string running_note(pid_t pgid, const std::string& marker) {
  return nlohmann::json{{"pgid", pgid}, {"start", marker}}.dump();
}

std::string format_ms(std::chrono::milliseconds d) {
  return core::format_duration(std::chrono::duration_cast<core::Duration>(d));
}

}  // namespace

std::vector<std::string> database_url_secrets(const std::string& url) {
  std::vector<std::string> out;
  if (url.empty()) return out;
  out.push_back(url);
  // scheme://user:password@host...
  const auto scheme = url.find("://");
  const auto at = url.find('@', scheme == std::string::npos ? 0 : scheme + 3);
  if (scheme != std::string::npos && at != std::string::npos) {
    const auto userinfo = url.substr(scheme + 3, at - scheme - 3);
    if (auto colon = userinfo.find(':'); colon != std::string::npos && colon + 1 < userinfo.size())
      out.push_back(userinfo.substr(colon + 1));
  }
  // key=value conninfo: password=...
  if (auto p = url.find("password="); p != std::string::npos) {
    auto end = url.find(' ', p);
    auto value = url.substr(p + 9, end == std::string::npos ? std::string::npos : end - p - 9);
    if (!value.empty()) out.push_back(value);
  }
  return out;
}

LocalMigrationStep::LocalMigrationStep(boost::asio::any_io_executor blocking, boost::asio::any_io_executor io,
                                       LocalMigrationOptions options, MonotonicClock& clock)
    : blocking_(std::move(blocking)), io_(std::move(io)), options_(std::move(options)), clock_(clock) {}

boost::asio::awaitable<core::Result<std::string>> LocalMigrationStep::perform(const ports::StepContext& ctx) {
  const std::string command = fmt::format("{}", fmt::join(options_.command, " "));
  CommandSpec spec;
  spec.argv = options_.command;
  spec.workdir = options_.workdir;
  spec.env = options_.env;
  // The command may want to know what it migrates for (logs, checks of its own).
  spec.env.emplace_back("PROMOTER_RELEASE_SHA", ctx.sha.str());
  spec.env.emplace_back("PROMOTER_PROMOTION_ID", core::to_string(ctx.promotion_id));
  spec.timeout = options_.timeout;
  spec.redact = options_.secrets;

  auto start = [spec = std::move(spec)] { return start_command(spec); };
  auto started = co_await ports::run_blocking(blocking_, std::move(start));
  if (!started)
    co_return fail(ErrorCode::failed_precondition,
                   fmt::format("migration command `{}` could not start: {}", command, started.error()));
  std::shared_ptr<RunningCommand> running(std::move(*started));
  if (ctx.note) {
    std::string started_note = running_note(running->pgid(), running->start_marker());
    auto noted = co_await ctx.note(std::move(started_note));
    if (!noted) co_return std::unexpected(noted.error());  // `running` dies here: it kills the group
  }
  auto wait = [running] { return running->wait(); };
  const CommandResult result = co_await ports::run_blocking(blocking_, std::move(wait));

  std::string detail;
  bool ok = false;
  if (result.timed_out) {
    detail = fmt::format("`{}` did not finish within {} and was killed; last output:\n{}", command,
                         format_ms(options_.timeout), result.last_lines(tail_lines));
  } else if (result.signal) {
    detail = fmt::format("`{}` was killed by signal {}; last output:\n{}", command, *result.signal,
                         result.last_lines(tail_lines));
  } else if (result.exit_code != 0) {
    detail = fmt::format("`{}` exited with code {} after {}; last output:\n{}", command, result.exit_code,
                         format_ms(result.duration), result.last_lines(tail_lines));
  } else {
    ok = true;
    detail = fmt::format("`{}` exited 0 after {}; last output:\n{}", command, format_ms(result.duration),
                         result.last_lines(tail_lines));
  }
  // The output is redacted by the runner; the command line comes from config, but is checked the same way.
  for (const auto& secret : options_.secrets)
    for (auto at = detail.find(secret); !secret.empty() && at != std::string::npos; at = detail.find(secret, at))
      detail.replace(at, secret.size(), "[redacted]");
  // Noted before the step is marked, so a crash now is not mistaken for a run cut off halfway.
  if (ctx.note) {
    std::string ended = nlohmann::json{{"exit", ok ? 0 : 1}, {"detail", detail}}.dump();
    auto noted = co_await ctx.note(std::move(ended));
    if (!noted) co_return std::unexpected(noted.error());
  }
  if (!ok) co_return fail(ErrorCode::failed_precondition, detail);
  co_return detail;
}

boost::asio::awaitable<core::Result<std::optional<std::string>>> LocalMigrationStep::find_done(
    const ports::StepContext& ctx) {
  const auto note = nlohmann::json::parse(ctx.progress, nullptr, false);
  if (!note.is_object()) co_return std::optional<std::string>();  // never started: run it
  if (note.contains("exit")) {
    const std::string detail = note.value("detail", std::string());
    if (note.value("exit", 1) != 0) co_return fail(ErrorCode::failed_precondition, detail);
    co_return std::optional<std::string>(detail + "\n(found after restart)");
  }
  const pid_t pgid = note.value("pgid", pid_t{0});
  const std::string marker = note.value("start", std::string());
  if (pgid > 0) {
    // The run a crash cut off may still be going (its leader is no longer our child): wait it out, so two
    // migration runs never overlap, then run again.
    const auto deadline = clock_.now() + options_.timeout;
    auto ended = [&]() -> boost::asio::awaitable<std::optional<bool>> {
      if (process_group_alive(pgid, marker)) co_return std::nullopt;
      co_return true;
    };
    auto waited_out = co_await poll_until(clock_, io_, deadline, options_.poll_interval, ended);
    if (!waited_out) kill_process_group(pgid, marker);
  }
  co_return std::optional<std::string>();
}

}  // namespace promoter::adapters
