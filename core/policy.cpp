#include "core/policy.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace promoter::core {

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
  return {};
}

}  // namespace promoter::core
