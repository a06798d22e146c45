#pragma once
// The promotion journal: what the executor needs to run a promotion's steps exactly once across crashes and
// leaders. Each step is marked started before its side effect and succeeded or failed after it. Calls block:
// make them from the blocking pool, never the I/O thread. Writes are fenced like every other write.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/abort_request.hpp"
#include "core/enum_names.hpp"
#include "core/error.hpp"
#include "core/promotion_id.hpp"
#include "core/promotion_plan.hpp"

namespace promoter::ports {

using core::PromotionId;
using core::Result;

struct StepRecord {
  core::PlanStep step;
  core::StepState state = core::StepState::planned;
  std::string idempotency_key;
  int attempts = 0;
  std::optional<core::Timestamp> started_at;
  std::optional<core::Timestamp> finished_at;
  std::string detail;
  std::string progress;  // noted by the side effect while it ran (see journal_progress)
};

enum class PromotionState { running, succeeded, failed, aborted };

// The text is what the promotions table stores and the API shows: one table for both directions. Inline: a
// port is headers only, so the adapters that implement it need nothing from daemon/.
inline constexpr core::EnumNames<PromotionState, 4> promotion_state_names{{{
    {PromotionState::running, "running"},
    {PromotionState::succeeded, "succeeded"},
    {PromotionState::failed, "failed"},
    {PromotionState::aborted, "aborted"},
}}};
inline std::string_view to_string(PromotionState s) { return promotion_state_names.name(s, "running"); }
inline std::optional<PromotionState> parse_promotion_state(std::string_view text) {
  return promotion_state_names.parse(text);
}

// An operator asked a running promotion to stop before its next step that could change production.
using AbortRequest = core::AbortRequest;

// What a rollback row carries beyond a promotion's: who asked, why, and what it cannot undo.
struct RollbackInfo {
  std::string requested_by;
  core::Timestamp requested_at{};
  std::string reason;
  std::string trigger;                        // "operator", "verify_failure"
  std::optional<PromotionId> after;           // the promotion it aborted or whose verify failed
  std::vector<std::string> migrations_since;  // they stay applied
  std::string schema_state;
};

struct PromotionRecord {
  PromotionId id;
  std::string sha;
  std::string environment;
  PromotionState state = PromotionState::running;
  bool hotfix = false;
  core::Timestamp created_at{};
  std::optional<core::Timestamp> finished_at;
  std::optional<std::string> error;
  std::optional<AbortRequest> abort;
  std::vector<StepRecord> steps;              // empty in listings
  std::optional<RollbackInfo> rollback;       // set when this row is a rollback (to `sha`)
  std::optional<PromotionId> rolled_back_by;  // the rollback that followed this promotion, once it started
};

// Held while one executor runs the promotions of an environment; released on destruction.
class EnvironmentLease {
 public:
  virtual ~EnvironmentLease() = default;
};

class PromotionJournal {
 public:
  virtual ~PromotionJournal() = default;

  // One promotion with its steps; nullopt when unknown.
  virtual Result<std::optional<PromotionRecord>> promotion(PromotionId) = 0;
  virtual Result<std::vector<PromotionId>> running_promotions(const std::string& environment) = 0;

  // Moves one step to `to` (checked against its recorded state), stamping the time.
  virtual Result<void> journal_step(PromotionId, int index, core::StepState to, const std::string& detail,
                                    core::Timestamp at) = 0;

  // Notes what a started step's side effect has done so far (e.g. "railway-deployment:<id>"), before it waits.
  virtual Result<void> journal_progress(PromotionId, int index, const std::string& progress) = 0;

  // Asks running promotion `id` to abort, auditing who asked and why; returns the promotion with its steps.
  // The first request stands: asking again returns it unchanged. not_found for an unknown id;
  // failed_precondition when the promotion has ended, or when every step that changes production is done
  // (only verify and record remain, which an abort does not stop).
  virtual Result<PromotionRecord> request_abort(PromotionId, const std::string& by, const std::string& reason,
                                                core::Timestamp now) = 0;

  // Fails with ErrorCode::conflict when another holder (any process) has the environment.
  virtual Result<std::unique_ptr<EnvironmentLease>> lease_environment(const std::string& environment) = 0;
};

}  // namespace promoter::ports
