#pragma once
// What a decision changed, as facts the store writes one by one: it never compares whole releases to find
// out. Each fact names what it is about by key (a SHA, a promotion id), never by position.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/freeze.hpp"
#include "core/obligation.hpp"
#include "core/promotion_id.hpp"
#include "core/promotion_outcome.hpp"
#include "core/release.hpp"
#include "core/rollback.hpp"

namespace promoter::core {

// A release's own record: its state and reason, and the clocks and names its gates read. Emitted when any of
// them changed, and for a release seen for the first time (`discovered`: the store inserts it).
struct ReleaseStateChanged {
  Sha sha;
  bool discovered = false;
  std::int64_t seq = 0;
  std::string author;
  std::vector<std::string> ancestors;
  Timestamp first_seen_at{};
  std::optional<Timestamp> live_at;
  std::optional<Timestamp> soak_started_at;
  int soak_resets = 0;
  std::optional<Timestamp> awaiting_approval_since;
  ReleaseState state = ReleaseState::deploying;
  std::string state_reason;
};

// The current staging deployment of one service of a release (new, or a new status or creation time).
struct DeploymentObserved {
  Sha sha;
  StagingDeployment deployment;
};

// The latest result of one smoke suite.
struct SmokeRecorded {
  Sha sha;
  SmokeResult result;
};

struct ApprovalAdded {
  Sha sha;
  Verdict approval;
};

struct RejectionAdded {
  Sha sha;
  Verdict rejection;
};

struct HotfixDeclared {
  Sha sha;
  Hotfix hotfix;
};

// The store assigns its id.
struct ObligationOpened {
  Obligation obligation;
};

// A promotion of this release starts: the store creates it with the plan's steps and returns its id under
// this SHA.
struct PromotionOpened {
  Sha sha;
};

struct PromotionEnded {
  Sha sha;
  PromotionId promotion_id;
  PromotionOutcome outcome = PromotionOutcome::failed;
  std::string detail;  // why it failed or who aborted it; empty on success
};

// The environment's production release is now this one, put there by this promotion.
struct ProductionSet {
  Sha sha;
  std::optional<PromotionId> promotion_id;
};

// The release's GitHub evidence is now this (it replaces the previous one).
struct EvidenceRecorded {
  Sha sha;
  Evidence evidence;
};

// The configuration the release's env and flag gates now read (it replaces the previous view).
struct ConfigRecorded {
  Sha sha;
  ConfigView view;
};

// The environment's line stop is now `stop` (nullopt: lifted), by `by` for `reason` at `at`.
struct LineStopChanged {
  std::optional<LineStop> stop;
  std::string by;
  std::string reason;
  Timestamp at{};
};

// A rollback was requested (the store keeps it until it ends, so a restart still owes it).
struct RollbackOpened {
  Rollback rollback;
};

// The environment's open rollback starts: the store creates a promotion of `target` with `plan` (the rollback's
// own steps) and returns its id under the target's SHA.
struct RollbackStarted {
  Sha target;
  PromotionPlan plan;
};

// The environment's open rollback ended (its promotion row ends with a PromotionEnded fact).
struct RollbackEnded {
  PromotionOutcome outcome = PromotionOutcome::failed;
};

// The environment's pin is now `pin` (nullopt: resumed), by `by` for `reason` at `at`.
struct PinChanged {
  std::optional<Pin> pin;
  std::string by;
  std::string reason;
  Timestamp at{};
};

using Fact =
    std::variant<ReleaseStateChanged, DeploymentObserved, SmokeRecorded, ApprovalAdded, RejectionAdded, HotfixDeclared,
                 ObligationOpened, PromotionOpened, PromotionEnded, ProductionSet, EvidenceRecorded, ConfigRecorded,
                 LineStopChanged, RollbackOpened, RollbackStarted, RollbackEnded, PinChanged>;

}  // namespace promoter::core
