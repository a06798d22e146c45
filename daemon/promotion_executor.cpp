#include "daemon/promotion_executor.hpp"

#include <fmt/format.h>

#include "core/promotion_rules.hpp"
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

void PromotionExecutor::finished(const PromotionRecord& promotion, PromotionState outcome) {
  if (!metrics_) return;
  // A rollback has figures of its own: the promotion figures (and the alerts on them) stay promotions'.
  if (promotion.rollback) {
    metrics_->rollback_finished(to_string(outcome));
    return;
  }
  const core::Timestamp created_at = promotion.created_at;
  const auto now = clock_.now();
  metrics_->promotion_finished(to_string(outcome), std::chrono::duration<double>(now - created_at).count(), now);
}

namespace {

core::PromotionPlan plan_of(const PromotionRecord& promotion) {
  core::PromotionPlan plan;
  for (const auto& s : promotion.steps) plan.steps.push_back(s.step);
  return plan;
}

std::vector<core::JournalEntry> journal_of(const PromotionRecord& promotion) {
  std::vector<core::JournalEntry> journal;
  for (const auto& s : promotion.steps) journal.push_back(core::JournalEntry{s.state, s.detail, !s.progress.empty()});
  return journal;
}

PromotionState state_of(core::PromotionOutcome outcome) {
  switch (outcome) {
    case core::PromotionOutcome::succeeded:
      return PromotionState::succeeded;
    case core::PromotionOutcome::failed:
      return PromotionState::failed;
    case core::PromotionOutcome::aborted:
      return PromotionState::aborted;
  }
  return PromotionState::failed;
}

}  // namespace

boost::asio::awaitable<core::Result<void>> PromotionExecutor::finish(const PromotionRecord& promotion,
                                                                     const core::Sha& sha,
                                                                     const core::FinishPromotion& end) {
  if (end.outcome == core::PromotionOutcome::aborted && promotion.abort)
    log(LogLevel::warn, "promotion aborted by an operator",
        {{"promotion_id", promotion.id.value()},
         {"sha", promotion.sha},
         {"stopped", end.stopped},
         {"aborted_by", promotion.abort->by}});
  // The promotion failed at verify, so every service was deployed: what on_verify_failure = "rollback" acts on.
  bool verify_failed = false;
  for (const auto& s : promotion.steps)
    if (s.state == core::StepState::failed) verify_failed = s.step.kind == StepKind::verify;
  // Named, not built inside the co_await: g++ 12 destroys such a temporary twice (STYLE.md).
  core::PromotionFinished finished_event{sha, promotion.id, end.outcome, end.detail,
                                         end.outcome == core::PromotionOutcome::failed && verify_failed};
  auto r = co_await hooks_.finish(std::move(finished_event));
  if (!r) co_return std::unexpected(r.error());
  finished(promotion, state_of(end.outcome));
  co_return core::Result<void>{};
}

boost::asio::awaitable<core::Result<void>> PromotionExecutor::settle(const PromotionRecord& promotion,
                                                                     const StepRecord& record,
                                                                     const core::StepSettlement& settlement) {
  const nlohmann::json fields = {
      {"promotion_id", promotion.id.value()}, {"sha", promotion.sha}, {"step", record.step.name()}};
  auto with = [&fields](const char* key, const std::string& value) {
    nlohmann::json out = fields;
    out[key] = value;
    return out;
  };
  if (const auto* suspend = std::get_if<core::SuspendRun>(&settlement)) {
    switch (suspend->why) {
      case core::SuspendReason::unavailable:
        // Cannot tell whether the effect took: the step stays started; the next run reconciles it.
        log(LogLevel::warn, "step interrupted by an unavailable dependency; will reconcile",
            with("error", suspend->error.message));
        break;
      case core::SuspendReason::unclear:
        log(LogLevel::error, "cannot tell whether an interrupted step took effect; will retry",
            with("error", suspend->error.message));
        break;
      case core::SuspendReason::not_recorded:
        break;  // the end was not recorded: resume retries it
    }
    co_return std::unexpected(suspend->error);
  }
  if (std::holds_alternative<core::PromotionRecorded>(settlement)) {
    finished(promotion, PromotionState::succeeded);
    co_return core::Result<void>{};
  }
  const auto* j = std::get_if<core::JournalStep>(&settlement);
  if (!j)
    co_return fail(ErrorCode::internal, fmt::format("step {} was settled by running it again", record.step.name()));
  switch (j->why) {
    case core::StepVerdict::failed:
      log(LogLevel::error, "step failed; the promotion stops here", with("error", j->detail));
      break;
    case core::StepVerdict::stopped_for_abort:
      log(LogLevel::warn, "step stopped part-way for an abort", with("detail", j->detail));
      break;
    case core::StepVerdict::found_done:
      log(LogLevel::info, "interrupted step had taken effect; not repeating it", fields);
      break;
    case core::StepVerdict::found_failed:
      log(LogLevel::error, "interrupted step had taken effect and failed; the promotion stops here",
          with("error", j->detail));
      break;
    case core::StepVerdict::succeeded:
    case core::StepVerdict::not_run_for_abort:
      break;
  }
  auto written = co_await journal(promotion.id, j->index, j->to, j->detail);
  if (!written) co_return std::unexpected(written.error());
  if (j->why == core::StepVerdict::succeeded) log(LogLevel::info, "step succeeded", fields);
  co_return core::Result<void>{};
}

StepPerformer* PromotionExecutor::performer_for(const core::PlanStep& step) const {
  switch (step.kind) {
    case StepKind::migrate:
      return performers_.migrate;
    case StepKind::verify:
      return performers_.verify;
    case StepKind::tag:
      return performers_.tag;
    case StepKind::deploy: {
      auto it = performers_.deploy.find(step.service);
      return it == performers_.deploy.end() ? nullptr : it->second;
    }
    default:
      return nullptr;
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
    case StepKind::preflight:
      co_return co_await hooks_.preflight(ctx.sha, ctx.promotion_id);
    case StepKind::record: {
      // Ends the promotion; the store marks this step succeeded in the same transaction.
      core::PromotionFinished recorded{ctx.sha, ctx.promotion_id, core::PromotionOutcome::succeeded, "", false};
      auto r = co_await hooks_.finish(std::move(recorded));
      if (!r) co_return std::unexpected(r.error());
      co_return std::string("production release recorded");
    }
    default:
      break;
  }
  StepPerformer* p = performer_for(ctx.step);
  if (!p) co_return fail(ErrorCode::internal, fmt::format("no performer is configured for step {}", ctx.step.name()));
  co_return co_await p->perform(ctx);
}

boost::asio::awaitable<core::Result<std::optional<std::string>>> PromotionExecutor::find_done(const StepContext& ctx) {
  // Preflight has no side effect: it is simply checked again. Record is atomic with the promotion's end.
  if (ctx.step.kind == StepKind::preflight || ctx.step.kind == StepKind::record) co_return std::optional<std::string>();
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

    // Core decides; this loop only does the I/O it names, journals, and asks again.
    const core::PromotionPlan plan = plan_of(promotion);
    const std::vector<core::JournalEntry> entries = journal_of(promotion);
    const core::StepAction action = core::decide_step(plan, entries, promotion.abort);
    if (const auto* end = std::get_if<core::FinishPromotion>(&action)) {
      auto r = co_await finish(promotion, *sha, *end);
      if (!r) co_return std::unexpected(r.error());
      continue;
    }
    const auto* reconcile = std::get_if<core::ReconcileStep>(&action);
    const int index = reconcile ? reconcile->index : std::get<core::PerformStep>(action).index;

    const StepRecord& record = promotion.steps[static_cast<std::size_t>(index)];
    StepContext ctx{id, *sha, record.step, record.idempotency_key, record.started_at, record.progress, {}, {}};
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
    const nlohmann::json fields = {{"promotion_id", id.value()}, {"sha", promotion.sha}, {"step", record.step.name()}};

    if (reconcile) {
      auto done = co_await find_done(ctx);
      const core::StepSettlement settled = core::after_reconcile(record.step, promotion.abort, done);
      if (!std::holds_alternative<core::PerformStep>(settled)) {
        auto r = co_await settle(promotion, record, settled);
        if (!r) co_return std::unexpected(r.error());
        continue;
      }
      log(LogLevel::info, "interrupted step had not taken effect; running it", fields);
    }

    auto started = co_await journal(id, index, StepState::started, "");
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

    const core::StepSettlement settled = core::after_step_result(record.step, outcome);
    auto r = co_await settle(promotion, record, settled);
    if (!r) co_return std::unexpected(r.error());
  }
}

}  // namespace promoter::daemon
