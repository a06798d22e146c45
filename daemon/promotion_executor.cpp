#include "daemon/promotion_executor.hpp"

#include <fmt/format.h>

#include "ports/blocking.hpp"
#include "daemon/uses_ports.hpp"
#include "daemon/log.hpp"

namespace promoter::daemon {

using core::ErrorCode;
using core::fail;
using core::StepKind;
using core::StepState;

PromotionExecutor::PromotionExecutor(boost::asio::any_io_executor blocking, PromotionJournal& store, const Clock& clock,
                                     StepPerformers performers, ExecutorHooks hooks, std::string environment,
                                     Metrics* metrics)
    : blocking_(std::move(blocking)),
      store_(store),
      clock_(clock),
      performers_(std::move(performers)),
      hooks_(std::move(hooks)),
      environment_(std::move(environment)),
      metrics_(metrics) {}

void PromotionExecutor::finished(PromotionState outcome, core::Timestamp created_at) {
  if (!metrics_) return;
  const auto now = clock_.now();
  metrics_->promotion_finished(to_string(outcome), std::chrono::duration<double>(now - created_at).count(), now);
}

namespace {

std::vector<StepState> journal_states(const PromotionRecord& promotion) {
  std::vector<StepState> states;
  for (const auto& s : promotion.steps) states.push_back(s.state);
  return states;
}

std::vector<core::PlanStep> plan_steps(const PromotionRecord& promotion) {
  std::vector<core::PlanStep> steps;
  for (const auto& s : promotion.steps) steps.push_back(s.step);
  return steps;
}

}  // namespace

boost::asio::awaitable<core::Result<void>> PromotionExecutor::finish_aborted(const PromotionRecord& promotion,
                                                                             const core::Sha& sha,
                                                                             const std::vector<StepState>& states,
                                                                             std::string where) {
  const AbortRequest& request = *promotion.abort;
  const std::string detail = fmt::format("by {}: {}; stopped {}; {}", request.by, request.reason, where,
                                         core::production_changes(plan_steps(promotion), states));
  log(LogLevel::warn, "promotion aborted by an operator",
      {{"promotion_id", promotion.id}, {"sha", promotion.sha}, {"stopped", where}, {"aborted_by", request.by}});
  auto r = co_await hooks_.finish(sha, promotion.id, core::PromotionOutcome::aborted, detail);
  if (!r) co_return std::unexpected(r.error());
  finished(PromotionState::aborted, promotion.created_at);
  co_return core::Result<void>{};
}

StepPerformer* PromotionExecutor::performer_for(const core::PlanStep& step) const {
  switch (step.kind) {
    case StepKind::migrate: return performers_.migrate;
    case StepKind::verify: return performers_.verify;
    case StepKind::deploy: {
      auto it = performers_.deploy.find(step.service);
      return it == performers_.deploy.end() ? nullptr : it->second;
    }
    default: return nullptr;
  }
}

boost::asio::awaitable<core::Result<void>> PromotionExecutor::journal(PromotionId id, int index, StepState state,
                                                                      std::string detail) {
  const auto at = clock_.now();
  auto write = [this, id, index, state, detail = std::move(detail), at] {
    return store_.journal_step(id, index, state, detail, at);
  };
  co_return co_await run_blocking(blocking_, std::move(write));
}

boost::asio::awaitable<core::Result<std::string>> PromotionExecutor::perform(const StepContext& ctx) {
  switch (ctx.step.kind) {
    case StepKind::preflight: co_return co_await hooks_.preflight(ctx.sha, ctx.promotion_id);
    case StepKind::record: {
      // Ends the promotion; the store marks this step succeeded in the same transaction.
      auto r = co_await hooks_.finish(ctx.sha, ctx.promotion_id, core::PromotionOutcome::succeeded, "");
      if (!r) co_return std::unexpected(r.error());
      co_return std::string("production release recorded");
    }
    default: break;
  }
  StepPerformer* p = performer_for(ctx.step);
  if (!p) co_return fail(ErrorCode::internal, fmt::format("no performer is configured for step {}", ctx.step.name()));
  co_return co_await p->perform(ctx);
}

boost::asio::awaitable<core::Result<std::optional<std::string>>> PromotionExecutor::find_done(const StepContext& ctx) {
  // Preflight has no side effect: it is simply checked again. Record is atomic with the promotion's end.
  if (ctx.step.kind == StepKind::preflight || ctx.step.kind == StepKind::record)
    co_return std::optional<std::string>();
  StepPerformer* p = performer_for(ctx.step);
  if (!p) co_return fail(ErrorCode::internal, fmt::format("no performer is configured for step {}", ctx.step.name()));
  co_return co_await p->find_done(ctx);
}

boost::asio::awaitable<core::Result<PromotionState>> PromotionExecutor::run(PromotionId id) {
  auto lease = co_await run_blocking(blocking_, [this] { return store_.lease_environment(environment_); });
  if (!lease) co_return std::unexpected(lease.error());

  for (;;) {
    auto loaded = co_await run_blocking(blocking_, [this, id] { return store_.promotion(id); });
    if (!loaded) co_return std::unexpected(loaded.error());
    if (!*loaded) co_return fail(ErrorCode::not_found, fmt::format("promotion {} does not exist", id));
    const PromotionRecord& promotion = **loaded;
    if (promotion.state != PromotionState::running) co_return promotion.state;
    auto sha = core::Sha::parse(promotion.sha);
    if (!sha) co_return std::unexpected(sha.error());

    const std::vector<StepState> states = journal_states(promotion);
    const core::NextStep next = core::next_step(states);

    if (next.kind == core::NextStep::Kind::done || next.kind == core::NextStep::Kind::stopped) {
      // Reached after a step failed, or after a crash between a step's last journal write and the
      // promotion's end: the journal and the abort request alone decide the outcome, so a crash cannot.
      const bool ok = next.kind == core::NextStep::Kind::done;
      const StepRecord* at = ok ? nullptr : &promotion.steps[next.index];
      if (at && promotion.abort && core::abort_stops_before(at->step.kind)) {
        // Stopped for the abort (part-way, or not run again after a restart), or failed once it was asked
        // for: either way what the operator asked for. A step that noted an effect may have done part of it.
        std::vector<StepState> summary = states;
        summary[static_cast<std::size_t>(next.index)] = at->progress.empty() ? StepState::planned : StepState::started;
        std::string where = fmt::format("at {}: {}", at->step.name(), at->detail);
        auto r = co_await finish_aborted(promotion, *sha, summary, std::move(where));
        if (!r) co_return std::unexpected(r.error());
        continue;
      }
      std::string detail;
      if (!ok) {
        // What production looks like now matters most to whoever picks this up: say what already changed.
        const auto steps = plan_steps(promotion);
        detail = fmt::format("step {} failed: {}; {}", promotion.steps[next.index].step.name(),
                             promotion.steps[next.index].detail, core::production_changes(steps, states));
      }
      auto r = co_await hooks_.finish(*sha, id, ok ? core::PromotionOutcome::succeeded : core::PromotionOutcome::failed,
                                      detail);
      if (!r) co_return std::unexpected(r.error());
      finished(ok ? PromotionState::succeeded : PromotionState::failed, promotion.created_at);
      continue;
    }

    const StepRecord& record = promotion.steps[next.index];
    StepContext ctx{id, *sha, record.step, record.idempotency_key, record.started_at, record.progress, {}, {}};
    const int index = next.index;
    ctx.note = [this, id, index](std::string progress) -> boost::asio::awaitable<core::Result<void>> {
      auto write = [this, id, index, progress = std::move(progress)] {
        return store_.journal_progress(id, index, progress);
      };
      co_return co_await run_blocking(blocking_, std::move(write));
    };
    ctx.aborted_by = [this, id]() -> boost::asio::awaitable<std::optional<std::string>> {
      auto read = [this, id] { return store_.promotion(id); };
      auto p = co_await run_blocking(blocking_, std::move(read));
      // Unreadable now: not known to be aborted; the next step boundary asks again.
      if (!p || !*p || !(*p)->abort) co_return std::nullopt;
      co_return (*p)->abort->by;
    };
    const nlohmann::json fields = {{"promotion_id", id}, {"sha", promotion.sha}, {"step", record.step.name()}};

    // An operator's abort stops the plan before a step that could change production. A step a crash left
    // started is settled by the reconcile below first.
    const bool aborting = promotion.abort && core::abort_stops_before(record.step.kind);
    if (aborting && next.kind == core::NextStep::Kind::run) {
      std::string where = "before " + record.step.name();
      auto r = co_await finish_aborted(promotion, *sha, states, std::move(where));
      if (!r) co_return std::unexpected(r.error());
      continue;
    }

    if (next.kind == core::NextStep::Kind::reconcile) {
      auto done = co_await find_done(ctx);
      if (!done && done.error().code == ErrorCode::failed_precondition) {
        log(LogLevel::error, "interrupted step had taken effect and failed; the promotion stops here",
            {{"promotion_id", id}, {"sha", promotion.sha}, {"step", record.step.name()}, {"error", done.error().message}});
        auto j = co_await journal(id, next.index, StepState::failed, done.error().message);
        if (!j) co_return std::unexpected(j.error());
        continue;
      }
      if (!done) {
        log(LogLevel::error, "cannot tell whether an interrupted step took effect; will retry",
            {{"promotion_id", id}, {"sha", promotion.sha}, {"step", record.step.name()}, {"error", done.error().message}});
        co_return std::unexpected(done.error());
      }
      if (*done) {
        log(LogLevel::info, "interrupted step had taken effect; not repeating it", fields);
        auto j = co_await journal(id, next.index, StepState::succeeded, **done);
        if (!j) co_return std::unexpected(j.error());
        continue;
      }
      if (aborting) {
        // Not run again. Failed, so the stopped plan ends as aborted from the journal, which a crash right
        // after this write cannot change.
        std::string detail = fmt::format("interrupted by a restart and not run again: the promotion was aborted by {}",
                                         promotion.abort->by);
        auto j = co_await journal(id, next.index, StepState::failed, std::move(detail));
        if (!j) co_return std::unexpected(j.error());
        continue;
      }
      log(LogLevel::info, "interrupted step had not taken effect; running it", fields);
    }

    auto started = co_await journal(id, next.index, StepState::started, "");
    if (!started) co_return std::unexpected(started.error());
    ctx.started_at = clock_.now();
    ctx.progress.clear();
    log(LogLevel::info, "step started", fields);
    if (metrics_) metrics_->set_step_started(ctx.started_at);
    const auto t0 = std::chrono::steady_clock::now();
    auto outcome = co_await perform(ctx);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (metrics_) {
      metrics_->set_step_started(std::nullopt);
      // Labelled by kind and service (both bounded by the configuration), never by SHA or promotion.
      const std::string service = record.step.kind == StepKind::deploy ? record.step.service : "";
      metrics_->step_finished(core::to_string(record.step.kind), service, outcome ? "succeeded" : "failed", seconds);
      if (record.step.kind == StepKind::migrate) metrics_->migration_finished(outcome.has_value(), seconds);
    }

    if (record.step.kind == StepKind::record) {
      if (!outcome) co_return std::unexpected(outcome.error());  // the end was not recorded: resume retries it
      finished(PromotionState::succeeded, promotion.created_at);
      continue;
    }
    if (!outcome && outcome.error().code == ErrorCode::unavailable) {
      // Cannot tell whether the effect took: leave the step started; the next run reconciles it.
      log(LogLevel::warn, "step interrupted by an unavailable dependency; will reconcile",
          {{"promotion_id", id}, {"sha", promotion.sha}, {"step", record.step.name()}, {"error", outcome.error().message}});
      co_return std::unexpected(outcome.error());
    }
    if (!outcome && outcome.error().code == ErrorCode::aborted) {
      // Stopped part-way (between two machines of a rollout) for an operator's abort; failed, so the loop
      // ends the promotion as aborted (the request is on the promotion row by now).
      log(LogLevel::warn, "step stopped part-way for an abort",
          {{"promotion_id", id}, {"sha", promotion.sha}, {"step", record.step.name()}, {"detail", outcome.error().message}});
      auto j = co_await journal(id, next.index, StepState::failed, outcome.error().message);
      if (!j) co_return std::unexpected(j.error());
      continue;
    }
    if (outcome) {
      auto j = co_await journal(id, next.index, StepState::succeeded, *outcome);
      if (!j) co_return std::unexpected(j.error());
      log(LogLevel::info, "step succeeded", fields);
    } else {
      log(LogLevel::error, "step failed; the promotion stops here",
          {{"promotion_id", id}, {"sha", promotion.sha}, {"step", record.step.name()}, {"error", outcome.error().message}});
      auto j = co_await journal(id, next.index, StepState::failed, outcome.error().message);
      if (!j) co_return std::unexpected(j.error());
    }
  }
}

}  // namespace promoter::daemon
