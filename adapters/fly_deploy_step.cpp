#include "adapters/fly_deploy_step.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "adapters/poll_until.hpp"
#include "adapters/step_error.hpp"

namespace promoter::adapters {

using core::ErrorCode;
using core::fail;

namespace {

// Machine states after which a machine will not reach `started` on its own.
bool gave_up(std::string_view state) {
  return state == "failed" || state == "stopped" || state == "destroyed" || state == "destroying" ||
         state == "launch_failed" || state == "replaced" || state == "suspended";
}

std::string format_ms(std::chrono::milliseconds d) {
  return core::format_duration(std::chrono::duration_cast<core::Duration>(d));
}

// The journal's progress line for a machine being rolled: enough to give back the lease and to recognise
// the machine's new version after a crash.
std::string progress_note(const std::string& machine, const std::string& nonce, const std::string& instance) {
  nlohmann::json j = {{"fly_machine", machine}, {"lease_nonce", nonce}};
  if (!instance.empty()) j["instance_id"] = instance;
  return j.dump();
}

}  // namespace

std::string fly_image_for(const std::string& image_template, const core::Sha& sha) {
  std::string out = image_template;
  for (auto at = out.find("{sha}"); at != std::string::npos; at = out.find("{sha}", at + sha.str().size()))
    out.replace(at, 5, sha.str());
  return out;
}

FlyDeployStep::FlyDeployStep(boost::asio::any_io_executor executor, FlyClient& client, FlyTarget target,
                             FlyTimings timings, MonotonicClock& clock)
    : executor_(std::move(executor)), client_(client), target_(std::move(target)), timings_(timings), clock_(clock) {}

boost::asio::awaitable<void> FlyDeployStep::sleep(std::chrono::milliseconds d) { co_await clock_.wait(executor_, d); }

boost::asio::awaitable<core::Result<std::vector<FlyMachine>>> FlyDeployStep::machines() {
  auto list = co_await client_.list_machines(target_.app);
  if (!list)
    co_return std::unexpected(step_error(list.error(), fmt::format("listing machines of Fly app {}", target_.app)));
  std::vector<FlyMachine> out;
  for (auto& m : *list) {
    if (m.state == "destroyed" || m.state == "destroying") continue;
    if (!target_.process_group.empty() && m.process_group() != target_.process_group) continue;
    // One-off machines (ours for migrations, or flyctl's release commands) are not part of the app's rollout.
    if (m.metadata.contains("promoter_step") || m.metadata.contains("fly_release_command")) continue;
    out.push_back(std::move(m));
  }
  // A fixed order, so a resumed rollout walks the machines in the same order as the first attempt.
  std::sort(out.begin(), out.end(), [](const FlyMachine& a, const FlyMachine& b) { return a.id < b.id; });
  if (out.empty())
    co_return fail(ErrorCode::failed_precondition,
                   fmt::format("Fly app {} has no machines{} to update", target_.app,
                               target_.process_group.empty() ? "" : " in process group " + target_.process_group));
  co_return out;
}

boost::asio::awaitable<core::Result<FlyLease>> FlyDeployStep::lease(const FlyMachine& m,
                                                                    const ports::StepContext& ctx) {
  const auto deadline = clock_.now() + timings_.lease_wait;
  const auto ttl = std::chrono::duration_cast<std::chrono::seconds>(timings_.lease_ttl);
  const std::string description = fmt::format("promoter {} {}", ctx.idempotency_key, ctx.sha.abbrev());
  std::optional<AdapterError> refused;  // the last answer, while it is a 409 (held) or transient
  bool held = false;
  auto leased = [&]() -> boost::asio::awaitable<std::optional<core::Result<FlyLease>>> {
    auto l = co_await client_.acquire_lease(target_.app, m.id, ttl, description);
    if (l) co_return core::Result<FlyLease>(std::move(*l));
    held = l.error().kind == AdapterError::Kind::http_status && l.error().http_status == 409;
    if (!held && !is_transient(l.error()))
      co_return core::Result<FlyLease>(
          std::unexpected(step_error(l.error(), fmt::format("leasing Fly machine {} of {}", m.id, target_.app))));
    refused = l.error();
    co_return std::nullopt;
  };
  auto answer = co_await poll_until(clock_, executor_, deadline, timings_.poll_interval, leased);
  if (answer) co_return std::move(*answer);
  if (!held)
    co_return std::unexpected(step_error(*refused, fmt::format("leasing Fly machine {} of {}", m.id, target_.app)));
  // Someone else is changing this machine: waiting longer or forcing it could undo their work.
  co_return fail(ErrorCode::failed_precondition,
                 fmt::format("Fly machine {} of app {} is leased by someone else ({}); waited {} and did not "
                             "force it: finish or release that lease, then promote again",
                             m.id, target_.app, refused->message, format_ms(timings_.lease_wait)));
}

boost::asio::awaitable<core::Result<std::string>> FlyDeployStep::update(const FlyMachine& m, const std::string& image,
                                                                        const std::string& nonce) {
  nlohmann::json config = m.config.is_object() ? m.config : nlohmann::json::object();
  config["image"] = image;
  for (int attempt = 1;; ++attempt) {
    auto updated = co_await client_.update_machine(target_.app, m.id, config, nonce, m.instance_id);
    if (updated) co_return updated->instance_id;
    // The update is not repeated blindly: an answer lost after Fly applied it would update the machine
    // twice. Ask Fly where the machine is first.
    auto now = co_await client_.get_machine(target_.app, m.id);
    if (now && now->image == image) co_return now->instance_id;
    if (!is_transient(updated.error()) || attempt >= 5)
      co_return std::unexpected(
          step_error(updated.error(), fmt::format("updating Fly machine {} of {} to {}", m.id, target_.app, image)));
    co_await sleep(timings_.poll_interval * attempt);
  }
}

boost::asio::awaitable<core::Result<void>> FlyDeployStep::wait_healthy(const std::string& machine_id,
                                                                       const std::string& instance_id,
                                                                       const std::string& image) {
  const auto deadline = clock_.now() + timings_.machine_timeout;
  // Short /wait calls, so a machine that failed to start is noticed well before the deadline.
  const auto chunk = std::clamp(std::chrono::duration_cast<std::chrono::seconds>(timings_.poll_interval * 5),
                                std::chrono::seconds(1), std::chrono::seconds(60));
  auto timed_out = [&](std::string_view what, std::string_view last) {
    return fail(ErrorCode::failed_precondition,
                fmt::format("Fly machine {} of {} was not {} on {} within {} ({})", machine_id, target_.app, what,
                            image, format_ms(timings_.machine_timeout), last));
  };
  std::string last = "no answer yet";
  bool pause_next = false;  // no pause after Fly's own wait timed out: it has waited already
  auto started = [&]() -> boost::asio::awaitable<std::optional<core::Result<void>>> {
    pause_next = false;
    const auto left = deadline - clock_.now();
    if (left <= MonotonicClock::duration::zero()) co_return core::Result<void>(timed_out("started", last));
    // Fly's wait takes whole seconds: round up, so a short deadline still gets one wait.
    const auto wait_for = std::min(chunk, std::chrono::ceil<std::chrono::seconds>(left));
    auto w = co_await client_.wait_for_state(target_.app, machine_id, "started", instance_id, wait_for);
    if (w) co_return core::Result<void>{};
    last = w.error().message;
    if (!is_transient(w.error()))
      co_return core::Result<void>(std::unexpected(
          step_error(w.error(), fmt::format("waiting for Fly machine {} of {}", machine_id, target_.app))));
    auto m = co_await client_.get_machine(target_.app, machine_id);
    if (!m) co_return std::nullopt;  // transient: the deadline bounds it
    last = fmt::format("state {}", m->state);
    if (m->instance_id == instance_id && gave_up(m->state))
      co_return core::Result<void>(fail(
          ErrorCode::failed_precondition,
          fmt::format("Fly machine {} of {} did not start on {}: it is {}", machine_id, target_.app, image, m->state)));
    if (m->instance_id == instance_id && m->state == "started") co_return core::Result<void>{};
    pause_next = w.error().kind != AdapterError::Kind::timeout;
    co_return std::nullopt;
  };
  auto pause = [&](MonotonicClock::duration) -> boost::asio::awaitable<void> {
    if (pause_next) co_await sleep(timings_.poll_interval);
  };
  auto up = co_await poll_until(clock_, deadline, started, pause);
  if (!up) co_return timed_out("started", last);
  if (!*up) co_return std::unexpected(up->error());

  auto passing = [&]() -> boost::asio::awaitable<std::optional<core::Result<void>>> {
    auto m = co_await client_.get_machine(target_.app, machine_id);
    if (m) {
      if (m->instance_id != instance_id)
        co_return core::Result<void>(
            fail(ErrorCode::failed_precondition,
                 fmt::format("Fly machine {} of {} is no longer on the version we started (now instance "
                             "{}, expected {}): Fly reverted the update or someone changed it",
                             machine_id, target_.app, m->instance_id, instance_id)));
      if (gave_up(m->state))
        co_return core::Result<void>(fail(
            ErrorCode::failed_precondition,
            fmt::format("Fly machine {} of {} is {} after starting on {}", machine_id, target_.app, m->state, image)));
      if (m->checks_passing()) co_return core::Result<void>{};
      std::vector<std::string> failing;
      for (const auto& c : m->checks)
        if (c.status != "passing") failing.push_back(fmt::format("{} {}", c.name, c.status));
      last = fmt::format("checks: {}", fmt::join(failing, ", "));
    } else {
      last = m.error().message;
    }
    co_return std::nullopt;
  };
  auto healthy = co_await poll_until(clock_, executor_, deadline, timings_.poll_interval, passing);
  if (!healthy) co_return timed_out("passing its checks", last);
  co_return std::move(*healthy);
}

boost::asio::awaitable<core::Result<void>> FlyDeployStep::roll(const FlyMachine& m, const std::string& image,
                                                               const ports::StepContext& ctx) {
  auto l = co_await lease(m, ctx);
  if (!l) co_return std::unexpected(l.error());
  const std::string nonce = l->nonce;
  if (ctx.note) {
    auto noted = co_await ctx.note(progress_note(m.id, nonce, ""));
    if (!noted) co_return std::unexpected(noted.error());
  }
  auto instance = co_await update(m, image, nonce);
  if (!instance) {
    co_await client_.release_lease(target_.app, m.id, nonce);
    co_return std::unexpected(instance.error());
  }
  if (ctx.note) {
    auto noted = co_await ctx.note(progress_note(m.id, nonce, *instance));
    if (!noted) co_return std::unexpected(noted.error());
  }
  auto healthy = co_await wait_healthy(m.id, *instance, image);
  // Given back whatever happened: a failed machine is for people to look at, not to stay locked.
  co_await client_.release_lease(target_.app, m.id, nonce);
  co_return healthy;
}

boost::asio::awaitable<core::Result<void>> FlyDeployStep::settle_noted_machine(const std::string& progress,
                                                                               const std::string& image) {
  const auto j = nlohmann::json::parse(progress, nullptr, false);
  if (!j.is_object() || !j.contains("fly_machine") || !j.contains("lease_nonce")) co_return core::Result<void>{};
  const auto machine = j.value("fly_machine", std::string());
  const auto nonce = j.value("lease_nonce", std::string());
  if (machine.empty() || nonce.empty()) co_return core::Result<void>{};
  // The order a roll keeps is started, checks passing, then release: a crash must not shorten it. Ask Fly
  // where the machine is; if our update reached it, it is waited healthy while the lease is still ours.
  auto m = co_await client_.get_machine(target_.app, machine);
  core::Result<void> healthy{};
  if (m) {
    if (m->image == image) healthy = co_await wait_healthy(m->id, m->instance_id, image);
  } else if (!(m.error().kind == AdapterError::Kind::http_status && m.error().http_status == 404)) {
    // Cannot tell whether the update was applied: keep the lease (it expires on its own) and let the
    // executor retry, rather than release a machine that may still be starting.
    co_return std::unexpected(step_error(m.error(), fmt::format("reading Fly machine {} of {}", machine, target_.app)));
  }
  // Ours from before the crash; if it expired or was released already, Fly says so and nothing is lost.
  co_await client_.release_lease(target_.app, machine, nonce);
  co_return healthy;
}

boost::asio::awaitable<core::Result<std::string>> FlyDeployStep::perform(const ports::StepContext& ctx) {
  const std::string image = fly_image_for(target_.image_template, ctx.sha);
  auto list = co_await machines();
  if (!list) co_return std::unexpected(list.error());
  int updated = 0, already = 0;
  for (const auto& m : *list) {
    if (m.image == image) {
      // Updated earlier (before a crash, or by hand): never again; only wait until it is healthy.
      auto healthy = co_await wait_healthy(m.id, m.instance_id, image);
      if (!healthy) co_return std::unexpected(healthy.error());
      ++already;
      continue;
    }
    // Between machines is where a rollout can stop safely: each one done is started with passing checks.
    if (ctx.aborted_by)
      if (const auto by = co_await ctx.aborted_by())
        co_return fail(ErrorCode::aborted,
                       fmt::format("stopped after {} of {} machines of {} were on {}: the promotion was aborted by {}",
                                   updated + already, list->size(), target_.app, image, *by));
    auto rolled = co_await roll(m, image, ctx);
    if (!rolled) {
      auto e = rolled.error();
      if (updated + already > 0)
        e.message += fmt::format(" ({} of {} machines of {} are already on {})", updated + already, list->size(),
                                 target_.app, image);
      co_return std::unexpected(std::move(e));
    }
    ++updated;
  }
  co_return fmt::format("fly app {}: {} machine(s) updated to {}, {} already on it; all started with passing checks",
                        target_.app, updated, image, already);
}

boost::asio::awaitable<core::Result<std::optional<std::string>>> FlyDeployStep::find_done(
    const ports::StepContext& ctx) {
  const std::string image = fly_image_for(target_.image_template, ctx.sha);
  auto settled = co_await settle_noted_machine(ctx.progress, image);
  if (!settled) co_return std::unexpected(settled.error());
  auto list = co_await machines();
  if (!list) co_return std::unexpected(list.error());
  const bool all_on_image =
      std::all_of(list->begin(), list->end(), [&](const FlyMachine& m) { return m.image == image; });
  // Not all there yet: perform() resumes the rollout, skipping the machines already on the image.
  if (!all_on_image) co_return std::optional<std::string>();
  for (const auto& m : *list) {
    auto healthy = co_await wait_healthy(m.id, m.instance_id, image);
    if (!healthy) co_return std::unexpected(healthy.error());
  }
  co_return std::optional<std::string>(
      fmt::format("fly app {}: all {} machine(s) on {} (found after restart)", target_.app, list->size(), image));
}

}  // namespace promoter::adapters
