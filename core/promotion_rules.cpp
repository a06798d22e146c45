#include "core/promotion_rules.hpp"

#include <fmt/format.h>

#include <vector>

namespace promoter::core {

namespace {

std::vector<StepState> states_of(std::span<const JournalEntry> journal) {
  std::vector<StepState> states;
  states.reserve(journal.size());
  for (const auto& e : journal) states.push_back(e.state);
  return states;
}

FinishPromotion aborted(const PromotionPlan& plan, std::span<const StepState> states, const AbortRequest& request,
                        std::string where) {
  std::string detail = fmt::format("by {}: {}; stopped {}; {}", request.by, request.reason, where,
                                   production_changes(plan.steps, states));
  return FinishPromotion{PromotionOutcome::aborted, std::move(detail), std::move(where)};
}

}  // namespace

StepAction decide_step(const PromotionPlan& plan, std::span<const JournalEntry> journal,
                       const std::optional<AbortRequest>& abort) {
  std::vector<StepState> states = states_of(journal);
  const NextStep next = next_step(states);
  switch (next.kind) {
    case NextStep::Kind::done:
      return FinishPromotion{PromotionOutcome::succeeded, "", ""};
    case NextStep::Kind::reconcile:
      return ReconcileStep{next.index};
    case NextStep::Kind::run: {
      const PlanStep& step = plan.steps.at(static_cast<std::size_t>(next.index));
      if (abort && abort_stops_before(step.kind)) return aborted(plan, states, *abort, "before " + step.name());
      return PerformStep{next.index};
    }
    case NextStep::Kind::stopped:
      break;
  }
  // Stopped at a failed step. The journal and the abort request alone decide the outcome, so a crash between
  // the step's last write and the promotion's end cannot change it.
  const auto at = static_cast<std::size_t>(next.index);
  const PlanStep& step = plan.steps.at(at);
  const JournalEntry& entry = journal[at];
  if (abort && abort_stops_before(step.kind)) {
    // Stopped for the abort (part-way, or not run again after a restart), or failed once it was asked for:
    // either way what the operator asked for. A step that noted an effect may have done part of it.
    states[at] = entry.progress_noted ? StepState::started : StepState::planned;
    return aborted(plan, states, *abort, fmt::format("at {}: {}", step.name(), entry.detail));
  }
  // What production looks like now matters most to whoever picks this up: say what already changed.
  return FinishPromotion{
      PromotionOutcome::failed,
      fmt::format("step {} failed: {}; {}", step.name(), entry.detail, production_changes(plan.steps, states)), ""};
}

StepSettlement after_reconcile(const PlanStep& step, const std::optional<AbortRequest>& abort,
                               const Result<std::optional<std::string>>& found) {
  if (!found && found.error().code == ErrorCode::failed_precondition)
    return JournalStep{step.index, StepState::failed, found.error().message, StepVerdict::found_failed};
  if (!found) return SuspendRun{found.error(), SuspendReason::unclear};
  if (*found) return JournalStep{step.index, StepState::succeeded, **found, StepVerdict::found_done};
  if (abort && abort_stops_before(step.kind))
    // Failed, so the stopped plan ends as aborted from the journal, which a crash right after this write
    // cannot change.
    return JournalStep{
        step.index, StepState::failed,
        fmt::format("interrupted by a restart and not run again: the promotion was aborted by {}", abort->by),
        StepVerdict::not_run_for_abort};
  return PerformStep{step.index};
}

StepSettlement after_step_result(const PlanStep& step, const Result<std::string>& result) {
  if (step.kind == StepKind::record) {
    if (!result) return SuspendRun{result.error(), SuspendReason::not_recorded};
    return PromotionRecorded{};
  }
  if (result) return JournalStep{step.index, StepState::succeeded, *result, StepVerdict::succeeded};
  switch (result.error().code) {
    case ErrorCode::unavailable:
      return SuspendRun{result.error(), SuspendReason::unavailable};
    case ErrorCode::aborted:
      // Failed, so the next decide_step ends the promotion as aborted (the request is recorded by now).
      return JournalStep{step.index, StepState::failed, result.error().message, StepVerdict::stopped_for_abort};
    default:
      return JournalStep{step.index, StepState::failed, result.error().message, StepVerdict::failed};
  }
}

}  // namespace promoter::core
