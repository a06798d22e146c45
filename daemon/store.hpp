#pragma once
// What the daemon needs from durable storage. PgStore (adapters/) is the implementation; tests wrap it
// to inject crashes. Calls block: the daemon makes them from its blocking pool, never the I/O thread.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/decide.hpp"
#include "core/promotion_plan.hpp"

namespace promoter::daemon {

using core::Result;
using PromotionId = std::int64_t;

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
std::string_view to_string(PromotionState);

// An operator asked a running promotion to stop before its next step that could change production.
struct AbortRequest {
  std::string by;
  core::Timestamp at{};
  std::string reason;
};

struct PromotionRecord {
  PromotionId id = 0;
  std::string sha;
  std::string environment;
  PromotionState state = PromotionState::running;
  bool hotfix = false;
  core::Timestamp created_at{};
  std::optional<core::Timestamp> finished_at;
  std::optional<std::string> error;
  std::optional<AbortRequest> abort;
  std::vector<StepRecord> steps;  // empty in listings
};

struct AuditEntry {
  std::int64_t id = 0;
  core::Timestamp at{};
  std::string actor;
  std::string action;
  std::optional<std::string> sha;
  std::string detail;
  std::optional<std::int64_t> epoch{};  // the leadership epoch it was written under
};

struct ProductionRecord {
  std::string sha;
  std::optional<PromotionId> promotion_id;
  core::Timestamp promoted_at{};
};

// Held while one executor runs the promotions of an environment; released on destruction.
class EnvironmentLease {
 public:
  virtual ~EnvironmentLease() = default;
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies sql/ migrations not yet applied; safe to run from several processes at once.
  virtual Result<void> migrate() = 0;
  virtual Result<void> ping() = 0;

  // The World to decide on: the releases still at work (not terminal) and the environment's production
  // release, with their facts. What it costs grows with active work, not with history.
  virtual Result<core::World> load(const core::Policy&, const std::string& environment) = 0;
  // One release with its facts, whatever its state (history included); nullopt when unknown.
  virtual Result<std::optional<core::Release>> release(const core::Sha&) = 0;
  // Releases newest first (keyset paging: only those first seen before `before_seq`), optionally in one state.
  virtual Result<std::vector<core::Release>> releases(std::optional<core::ReleaseState>,
                                                      std::optional<std::int64_t> before_seq, int limit) = 0;
  // How many releases are in each state (states with none are left out).
  virtual Result<std::map<std::string, int>> release_counts() = 0;

  // One transaction: changed releases and their facts, audit notes, production changes, promotion rows
  // finished by the decision, and a new promotion (planned steps) for each StartPromotion effect.
  // Returns the new promotion ids in the order of the StartPromotion effects.
  // `before` is the World the decision was made on: only what differs from it is written.
  virtual Result<std::vector<PromotionId>> commit(const core::World& before, const core::Decision&,
                                                  const core::PromotionPlan&, const std::string& environment,
                                                  core::Timestamp now) = 0;

  virtual Result<void> append_audit(const core::AuditNote&, core::Timestamp now) = 0;
  // Newest first; keyset paging: only entries with an id below `before_id`.
  virtual Result<std::vector<AuditEntry>> audit(const std::optional<std::string>& sha, int limit,
                                                std::optional<std::int64_t> before_id) = 0;

  virtual Result<std::optional<PromotionRecord>> promotion(PromotionId) = 0;
  // Newest first, without steps; keyset paging: only promotions with an id below `before_id`.
  virtual Result<std::vector<PromotionRecord>> promotions(int limit, std::optional<std::int64_t> before_id) = 0;
  virtual Result<std::vector<PromotionId>> running_promotions(const std::string& environment) = 0;
  virtual Result<std::optional<ProductionRecord>> production(const std::string& environment) = 0;

  // Journal: moves one step to `to` (checked against its recorded state), stamping the time.
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

  // Hotfix obligations, oldest due first; only the open ones when `open_only`.
  virtual Result<std::vector<core::Obligation>> obligations(bool open_only) = 0;

  // Closes an open obligation with a link to its evidence, auditing who closed it. not_found for an
  // unknown id; failed_precondition when it is closed already (naming who closed it).
  virtual Result<core::Obligation> close_obligation(std::int64_t id, const std::string& by, const std::string& link,
                                                    core::Timestamp now) = 0;

  // Fails with ErrorCode::conflict when another holder (any process) has the environment.
  virtual Result<std::unique_ptr<EnvironmentLease>> lease_environment(const std::string& environment) = 0;
};

}  // namespace promoter::daemon
