#include "core/policy.hpp"

#include <algorithm>
#include <string_view>
#include <fmt/format.h>

namespace promoter::core {

namespace {

std::string_view trimmed(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

Result<void> check_evidence_policy(const EvidencePolicy& e) {
  if (e.require_ci && e.required_checks.empty())
    return fail(ErrorCode::invalid_argument,
                "policy.require_ci = true needs at least one name in policy.required_checks");
  if (e.min_test_pass_rate_bp) {
    if (*e.min_test_pass_rate_bp < 0 || *e.min_test_pass_rate_bp > 10000)
      return fail(ErrorCode::invalid_argument,
                  fmt::format("policy.min_test_pass_rate must be between 0% and 100% (got {} basis points)",
                              *e.min_test_pass_rate_bp));
    // The ci gate reads the pass rate from a required check only: anything else would be a minimum
    // nothing enforces.
    if (e.require_ci &&
        std::find(e.required_checks.begin(), e.required_checks.end(), e.test_check) == e.required_checks.end())
      return fail(ErrorCode::invalid_argument,
                  fmt::format("policy.min_test_pass_rate needs policy.test_check (\"{}\") among policy.required_checks",
                              e.test_check));
  }
  if (e.require_ddl_rollback) {
    if (e.migration_globs.empty())
      return fail(ErrorCode::invalid_argument,
                  "policy.require_ddl_rollback = true needs at least one glob in policy.migration_globs");
    if (trimmed(e.rollback_heading).empty())
      return fail(ErrorCode::invalid_argument,
                  "policy.require_ddl_rollback = true needs a non-empty policy.rollback_heading");
  }
  if (trimmed(e.main_branch).empty()) return fail(ErrorCode::invalid_argument, "policy.main_branch must not be empty");
  return {};
}

Result<void> check_env_policy(const EnvPolicy& e) {
  if (e.staging_window <= Duration::zero())
    return fail(ErrorCode::invalid_argument, "env.staging_window must be positive");
  if (e.clock_skew < Duration::zero()) return fail(ErrorCode::invalid_argument, "env.clock_skew must not be negative");
  for (const auto* names : {&e.production_only, &e.staging_only})
    for (const auto& n : *names)
      if (trimmed(n.name).empty())
        return fail(ErrorCode::invalid_argument, "env.production_only and env.staging_only names must not be empty");
  for (const auto& n : e.production_only)
    if (e.staging_only_name(n.name))
      return fail(ErrorCode::invalid_argument,
                  fmt::format("variable {} is listed in both env.production_only and env.staging_only; an environment "
                              "can have it by design, not both",
                              n.name));
  return {};
}

Result<void> check_flag_policy(const FlagPolicy& f) {
  if (f.require_flag && f.guarded_globs.empty())
    return fail(ErrorCode::invalid_argument,
                "flags.require_flag = true needs at least one glob in flags.guarded_globs");
  return {};
}

}  // namespace

Result<void> check_policy(const Policy& p) {
  if (p.soak < Duration::zero()) return fail(ErrorCode::invalid_argument, "policy.soak must not be negative");
  if (p.short_soak() && !p.allow_short_soak)
    return fail(ErrorCode::failed_precondition,
                fmt::format("policy.soak = \"{}\" is below the policy floor of {}; set allow_short_soak = true only "
                            "for demos and tests",
                            format_duration(p.soak), format_duration(soak_floor)));
  if (p.approvals_required < 1)
    return fail(ErrorCode::invalid_argument, "policy.approvals_required must be at least 1");
  for (const auto& rule : p.approval_rules) {
    if (rule.approvals_required < 1)
      return fail(ErrorCode::invalid_argument, "an approval rule's approvals_required must be at least 1");
    for (const auto& service : rule.services)
      if (std::find(p.services.begin(), p.services.end(), service) == p.services.end())
        return fail(ErrorCode::invalid_argument,
                    fmt::format("an approval rule names service '{}', which is not configured", service));
  }
  if (p.hotfix.review_backfill_business_days < 1)
    return fail(ErrorCode::invalid_argument, "hotfix.review_backfill_business_days must be at least 1");
  if (p.hotfix.incident_report_within <= Duration::zero())
    return fail(ErrorCode::invalid_argument, "hotfix.incident_report_within must be positive");
  if (p.services.empty()) return fail(ErrorCode::invalid_argument, "at least one [[services]] entry is needed");
  auto sorted = p.services;
  std::sort(sorted.begin(), sorted.end());
  if (auto dup = std::adjacent_find(sorted.begin(), sorted.end()); dup != sorted.end())
    return fail(ErrorCode::invalid_argument, fmt::format("service '{}' is configured twice", *dup));
  if (p.require_smoke && p.required_smoke_suites.empty())
    return fail(ErrorCode::invalid_argument,
                "policy.require_smoke = true needs at least one name in policy.required_smoke_suites");
  if (auto e = check_evidence_policy(p.evidence); !e) return e;
  if (auto e = check_env_policy(p.env); !e) return e;
  return check_flag_policy(p.flags);
}

}  // namespace promoter::core
