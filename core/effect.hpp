#pragma once
// What core asks the daemon to do. Core never performs an effect itself.
#include <optional>
#include <string>
#include <variant>

#include "core/promotion_id.hpp"
#include "core/sha.hpp"
#include "core/time.hpp"

namespace promoter::core {

// Wake core at exactly this moment (the soak deadline) with SoakDeadlineReached.
struct ArmSoakTimer {
  Sha sha;
  Timestamp deadline;
};

// Every service of the release went live on staging (again): the daemon's smoke probes may run now;
// their results come back as SmokeResultReported.
struct RunSmokeChecks {
  Sha sha;
};

// Create a promotion of this release and run its plan (a rollback's plan, when a RollbackStarted fact opened
// it).
struct StartPromotion {
  Sha sha;
};

// Tell people (log, chat) something they may act on.
struct Notify {
  std::string kind;        // "release.ready_for_approval", "promotion.started", ...
  std::optional<Sha> sha;  // none for news about the environment (a line stop)
  std::string text;
};

// Wake core at this moment with FreezeBoundaryReached: a freeze window or the line stop begins or ends. The
// daemon keeps one such timer; a later effect replaces it.
struct ArmFreezeTimer {
  Timestamp at;
};

// Ask the running promotion to stop before its next step that changes production (a rollback waits for it):
// the same request as an operator's abort, audited as theirs.
struct AbortPromotion {
  PromotionId promotion_id;
  std::string by;
  std::string reason;
};

using Effect = std::variant<ArmSoakTimer, RunSmokeChecks, StartPromotion, Notify, ArmFreezeTimer, AbortPromotion>;

// One line of the audit trail, recorded in the same transaction as the event that caused it.
struct AuditNote {
  std::string actor;
  std::string action;  // "release.approved", "release.soak_reset", ...
  std::optional<Sha> sha;
  std::string detail;
};

}  // namespace promoter::core
