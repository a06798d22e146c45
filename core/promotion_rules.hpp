#pragma once
// The rules that walk a promotion: from its plan, its journal and an operator's abort request alone, what the
// executor does next, and how a step's result or a reconcile's answer settles the step. Pure: the executor
// interprets these decisions (performs, asks the world, journals) and asks again, so a crash between any two
// of its writes leaves a journal from which the same rules decide the same thing.
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "core/abort_request.hpp"
#include "core/error.hpp"
#include "core/promotion_outcome.hpp"
#include "core/promotion_plan.hpp"

namespace promoter::core {

// What the journal holds about one step.
struct JournalEntry {
  StepState state = StepState::planned;
  std::string detail;
  bool progress_noted = false;  // its side effect noted progress, so it may have done part of its work
};

// Journal `started`, then perform step `index`'s side effect and settle it with after_step_result.
struct PerformStep {
  int index = -1;
};
// Step `index` was left started by a crash: ask the world whether its effect happened (find_done), then
// settle it with after_reconcile.
struct ReconcileStep {
  int index = -1;
};
// End the promotion. `stopped` says where an abort stopped it ("before deploy:api"); empty otherwise.
struct FinishPromotion {
  PromotionOutcome outcome = PromotionOutcome::succeeded;
  std::string detail;
  std::string stopped;
};
using StepAction = std::variant<PerformStep, ReconcileStep, FinishPromotion>;

// `journal[i]` is step i of `plan`. An abort stops the plan before a step that could change production (and
// a step stopped or failed once an abort stands ends the promotion as aborted); it does not stop verify or
// record. A failed step ends it as failed, saying what production already has.
StepAction decide_step(const PromotionPlan& plan, std::span<const JournalEntry> journal,
                       const std::optional<AbortRequest>& abort);

// Why a step is journalled as it is, for the log.
enum class StepVerdict {
  succeeded,          // its side effect reported success
  failed,             // its side effect failed: the plan stops here
  stopped_for_abort,  // it stopped part-way for an operator's abort
  found_done,         // reconcile: its effect had happened, so it is not repeated
  found_failed,       // reconcile: its effect had happened and failed
  not_run_for_abort,  // reconcile: its effect had not happened, and an abort stands: it is not run again
};
struct JournalStep {
  int index = -1;
  StepState to = StepState::succeeded;
  std::string detail;
  StepVerdict why = StepVerdict::succeeded;
};

// Why the executor stops this run early; the promotion stays running and a later run resumes it.
enum class SuspendReason {
  unavailable,   // a dependency went away mid-step: the step stays started and is reconciled later
  unclear,       // reconcile: the world cannot tell whether the effect happened yet
  not_recorded,  // the record step could not end the promotion: resuming retries it
};
struct SuspendRun {
  Error error;
  SuspendReason why = SuspendReason::unavailable;
};

// The record step ended the promotion in the same write that marked it succeeded: nothing to journal.
struct PromotionRecorded {};

using StepSettlement = std::variant<JournalStep, PerformStep, SuspendRun, PromotionRecorded>;

// Settles a step left started, from find_done's answer: the effect's detail when it happened, nullopt when it
// did not (then it runs again, unless an abort stops it), failed_precondition when it happened and failed, any
// other error when the world cannot tell.
StepSettlement after_reconcile(const PlanStep& step, const std::optional<AbortRequest>& abort,
                               const Result<std::optional<std::string>>& found);

// Settles a performed step from its result: a detail line, or why it failed. `unavailable` means it cannot
// be told whether the effect took; `aborted` means it stopped part-way for an operator's abort.
StepSettlement after_step_result(const PlanStep& step, const Result<std::string>& result);

}  // namespace promoter::core
