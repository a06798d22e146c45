#pragma once
// Rollback (issue 17): the way back to a release that was production before, as pure rules. Which releases
// are valid targets, what a rollback may not pretend (migrations do not run backwards), the rollback's own
// plan, and the pin that keeps the next release from undoing it. The daemon wires them; nothing here reads a
// clock or a database.
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/evidence.hpp"
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

// The migrations one promotion brought, by name: the DDL files of its pull requests as GitHub evidence shows them
// ("packages/db/migrations/0042_plans.sql (PR #17 https://...)", which is where its rollback script is), else the
// "applied <name>" lines of its migrate step's output. Empty when neither names one.
std::vector<std::string> applied_migrations(std::string_view migrate_output, const Evidence* evidence);

// The schema as a migrate step's output left it: its last non-empty line ("db:migrate: 2 migration(s) applied").
std::string schema_state_of(std::string_view migrate_output);

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

// What set a rollback off: an operator (promotectl rollback), or a promotion whose verify failed after every
// service deployed, under on_verify_failure = "rollback".
enum class RollbackTrigger { operator_request, verify_failure };
std::string_view to_string(RollbackTrigger);  // "operator", "verify_failure" (the metric's label, the API's text)
std::optional<RollbackTrigger> parse_rollback_trigger(std::string_view);

// A rollback the environment owes: requested, then (once no promotion runs) started as a journalled plan of
// its own, then ended. There is at most one at a time.
struct Rollback {
  Sha target;
  std::string by;
  std::string reason;
  RollbackTrigger trigger = RollbackTrigger::operator_request;
  Timestamp requested_at{};
  // The promotion it followed: the one it aborted (operator) or the one whose verify failed. The link is kept
  // both ways: that promotion shows this rollback as rolled_back_by.
  std::optional<PromotionId> after{};
  std::optional<PromotionId> promotion_id{};    // its own plan, once started
  std::vector<std::string> migrations_since{};  // accepted by the operator (or by the automatic path)
  std::string schema_state{};                   // what the schema was left at, as the last migrate step said
};

// The audit's and the notice's words for a rollback: "rollback to abc1234 by carol (operator): checkout broke".
std::string describe(const Rollback&);

// "environment pinned by carol at 2026-12-02T10:00:00.000Z: checkout broke; promotectl resume --reason ..."
std::string pin_reason(const Pin&);

}  // namespace promoter::core
