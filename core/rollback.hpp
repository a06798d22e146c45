#pragma once
// Rollback (issue 17): the way back to a release that was production before, as pure rules. Which releases
// are valid targets, what a rollback may not pretend (migrations do not run backwards), the rollback's own
// plan, and the pin that keeps the next release from undoing it. The daemon wires them; nothing here reads a
// clock or a database.
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/policy.hpp"
#include "core/promotion_id.hpp"
#include "core/promotion_plan.hpp"
#include "core/sha.hpp"
#include "core/time.hpp"

namespace promoter::core {

// One release that became production in this environment, with the migrations its promotion applied
// (the names the migrate step reported, in order; empty when none ran).
struct ProductionEntry {
  Sha sha;
  std::optional<PromotionId> promotion_id;
  Timestamp promoted_at{};
  std::vector<std::string> migrations;
};

// Where a rollback goes, and what it cannot undo: the migrations applied since the target first became
// production (a rollback to it in between undid none of them), oldest first.
struct RollbackTarget {
  Sha sha;
  Timestamp was_production_at{};
  std::vector<std::string> migrations_since;
};

// `history` newest first; its first entry is the current production release. Without `requested`, the
// release production had before the current one; with it, any release that was production here and is not
// now. Anything else is failed_precondition naming the valid targets.
Result<RollbackTarget> choose_rollback_target(const std::vector<ProductionEntry>& history,
                                              const std::optional<Sha>& requested);

// Migrations do not run backwards: a target older than a migration that ran needs the operator's
// `accept_schema`, and the refusal names the migrations in between and where their DDL rollback scripts live.
Result<void> check_rollback_schema(const RollbackTarget&, bool accept_schema);

// The services in the order a rollback deploys them: the policy's rollback_order, or restart order reversed.
std::vector<std::string> rollback_order(const Policy&);

// preflight, each service in rollback order, verify (when the policy verifies), record. No migration (it
// would run forwards) and no production tag (the target has one from its own promotion).
PromotionPlan make_rollback_plan(const Policy&);

// After a rollback, no promotion starts by itself until an operator resumes: otherwise the next release
// whose gates hold would undo the rollback at once.
struct Pin {
  std::string by;
  Timestamp at{};
  std::string reason;
  bool operator==(const Pin&) const = default;
};

// "environment pinned by carol at 2026-12-02T10:00:00.000Z: checkout broke; promotectl resume --reason ..."
std::string pin_reason(const Pin&);

}  // namespace promoter::core
