#pragma once
// Everything that can change a release, as plain values. The daemon records each before it acts on it.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/config_drift.hpp"
#include "core/deploy_status.hpp"
#include "core/evidence.hpp"
#include "core/promotion_id.hpp"
#include "core/promotion_outcome.hpp"
#include "core/rollback.hpp"
#include "core/sha.hpp"
#include "core/time.hpp"

namespace promoter::core {

struct StagingDeploymentObserved {
  Sha sha;
  std::string service;
  std::string deployment_id;
  DeployStatus status = DeployStatus::unknown;
  std::string author;                   // commit author from the deployment's metadata
  std::optional<Timestamp> created_at;  // when the deployment was created, if the source says
  std::string actor;                    // who told us: "railway", or the identity that posted it
  std::vector<Sha> ancestors{};         // commits this one descends from, if the source says
};

struct SmokeResultReported {
  Sha sha;
  std::string suite;
  bool passed = false;
  std::string reported_by;
  std::string details;
};

struct ApprovalGiven {
  Sha sha;
  std::string by;                           // operator identity
  std::vector<std::string> by_git_authors;  // the git logins that identity commits as
  std::string reason;
};

struct RejectionGiven {
  Sha sha;
  std::string by;
  std::string reason;
};

// An operator sends a release down the emergency path (procedure 5): soak waived, obligations opened.
struct HotfixRequested {
  Sha sha;
  std::string by;
  std::string reason;
  std::string incident_url;
  // The hotfix may start inside a freeze window or a line stop (`--override-freeze`): audited and notified.
  bool override_freeze = false;
};

struct SoakDeadlineReached {
  Sha sha;
};

struct PromotionFinished {
  Sha sha;
  PromotionId promotion_id;
  PromotionOutcome outcome = PromotionOutcome::failed;
  std::string detail;  // the failed step's error, or who aborted it and why
  // It failed at its verify step, after every service deployed: production runs the release and it is bad
  // (on_verify_failure = "rollback" rolls back then).
  bool verify_failed = false;
};

// GitHub evidence for the range production..sha, as the GitHub reconciler gathered it (on a webhook, on its
// interval, or when production moved). It replaces what the release held: evidence is re-read, never merged.
struct EvidenceObserved {
  Sha sha;
  Evidence evidence;
};

// The latest observation of variable names and production's feature flags, as the env and flag gates of the
// release read them (the config watcher sends one per gathering or promoting release). It replaces what the
// release held; it is not persisted.
struct ConfigObserved {
  Sha sha;
  ConfigView view;
};

// Stop the line: an operator freezes the environment now, until they lift it or `until`. A second stop
// replaces the first (a new reason or end).
struct LineStopRequested {
  std::string by;
  std::string reason;
  std::optional<Timestamp> until;
};

struct LineStopLifted {
  std::string by;
  std::string reason;
};

// An operator asks for a rollback (promotectl rollback). `history` is the environment's production history,
// newest first, as the store has it; when a promotion is running its release comes first (it may have changed
// production in part), with the migrations it ran. `to`: the requested target, else the one before.
struct RollbackRequested {
  std::string by;
  std::string reason;
  std::optional<Sha> to;
  bool accept_schema = false;
  std::vector<ProductionEntry> history;
  std::string schema_state;  // the schema as the last migrate step left it (recorded with the rollback)
};

// An operator lifts the pin a rollback left (promotectl resume).
struct ResumeRequested {
  std::string by;
  std::string reason;
};

// A freeze window or a line stop began or ended (the daemon's timer at next_freeze_change): a release whose
// gates hold may start now.
struct FreezeBoundaryReached {};

using Event =
    std::variant<StagingDeploymentObserved, SmokeResultReported, ApprovalGiven, RejectionGiven, SoakDeadlineReached,
                 PromotionFinished, HotfixRequested, EvidenceObserved, ConfigObserved, LineStopRequested,
                 LineStopLifted, FreezeBoundaryReached, RollbackRequested, ResumeRequested>;

std::string_view event_name(const Event&);
// The release an event is about; nullptr for an event about the environment (line stops, freeze boundaries).
const Sha* event_sha(const Event&);

}  // namespace promoter::core
