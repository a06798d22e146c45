#pragma once
// The change-management policy as values: what a release must show before production.
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/config_drift.hpp"
#include "core/error.hpp"
#include "core/freeze.hpp"
#include "core/time.hpp"

namespace promoter::core {

// The written policy's minimum staging soak; only an explicit short-soak mode (demo, tests) goes below it.
inline constexpr Duration soak_floor = std::chrono::minutes{30};

// A stricter approval count for releases that touch any of `services` (separation of duties for the
// riskier apps): the release needs the largest count among the rules that apply and the global one.
struct ApprovalRule {
  std::vector<std::string> services;
  int approvals_required = 2;
};

// The emergency path (procedure 5): the soak is waived, smoke may still be required, and two
// obligations are opened when the hotfix is requested.
struct HotfixPolicy {
  bool require_smoke = true;
  int review_backfill_business_days = 2;
  Duration incident_report_within = std::chrono::hours{24};
  std::set<std::chrono::sys_days> holidays;  // not business days, besides Saturdays and Sundays (UTC)
};

// The gates fed by GitHub evidence (core/evidence.hpp). Each is off unless enabled; enabling one needs the
// [github] section that gathers its evidence.
struct EvidencePolicy {
  bool require_review = false;               // every commit of the range came through a PR a team member approved
  bool require_ci = false;                   // every required check concluded success on the release SHA
  bool require_ddl_rollback = false;         // every PR of the range that adds DDL has a rollback section
  std::vector<std::string> required_checks;  // check run names or status contexts
  std::string test_check = "test";           // the check whose "N passed, M failed" the pass rate reads
  // Minimum pass rate of test_check in basis points (9500 = 95%); nullopt: not enforced. Integer, so that
  // 94.9% and 95% never meet at a rounding edge.
  std::optional<int> min_test_pass_rate_bp;
  std::vector<std::string> migration_globs;  // "packages/db/migrations/**": where a PR's DDL lives
  std::string rollback_heading = "## Rollback";
  std::string main_branch = "main";  // a commit reached main through a PR merged into this branch

  bool any() const { return require_review || require_ci || require_ddl_rollback; }
};

// The flag gate: a PR that changes a guarded path (billing, quota, enterprise) ships behind a feature flag it names
// in its description ("Flag: <key>"), and production's flag table has that key.
struct FlagPolicy {
  bool require_flag = false;               // the flag gate (needs GitHub evidence and production's flags)
  std::vector<std::string> guarded_globs;  // billing, quota, enterprise paths ("apps/api/src/billing/**")
};

struct Policy {
  Duration soak = soak_floor;
  bool allow_short_soak = false;
  bool require_smoke = true;
  std::vector<std::string> required_smoke_suites;
  int approvals_required = 1;
  std::vector<ApprovalRule> approval_rules;
  HotfixPolicy hotfix;
  std::vector<std::string> services;  // in restart order: the promotion deploys them in this order
  // The order a rollback deploys them in; empty: restart order reversed (core/rollback.hpp).
  std::vector<std::string> rollback_order;
  bool run_migrations = true;
  bool verify_after_deploy = true;
  // on_verify_failure = "rollback": a verify that fails after every service deployed rolls production back to
  // the release before and pins the environment. false ("stop"): the promotion fails and production stays.
  bool rollback_on_verify_failure = false;
  bool tag_production = false;  // the plan tags the production SHA on GitHub after verify
  // normalise_identity() of every configured identity and git_authors entry, so the approval gate can
  // say when a commit author is nobody the separation-of-duties check knows. Empty: not configured.
  std::set<std::string> known_identities;
  EvidencePolicy evidence;
  EnvPolicy env;     // the env gate and the "staging first" rule for variable names (core/config_drift.hpp)
  FlagPolicy flags;  // the flag gate
  // Calendars in which no promotion starts ([[policy.freeze]]); a hotfix may override, a rollback ignores them.
  std::vector<FreezeWindow> freezes;

  bool short_soak() const { return soak < soak_floor; }
};

// Refuses a policy the written change-management policy does not allow.
Result<void> check_policy(const Policy&);

}  // namespace promoter::core
