#include "daemon/config/config_sections.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <set>

#include "core/identity.hpp"
#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

namespace {

// The gates fed by GitHub evidence; [github] (read later) checks that it is there to feed them.
void read_evidence_keys(const TomlReader& r, const toml::table& policy, core::EvidencePolicy& e) {
  if (auto v = r.boolean(policy, "require_review", "policy.require_review")) e.require_review = *v;
  if (auto v = r.boolean(policy, "require_ci", "policy.require_ci")) e.require_ci = *v;
  if (auto v = r.boolean(policy, "require_ddl_rollback", "policy.require_ddl_rollback")) e.require_ddl_rollback = *v;
  if (auto v = r.strings(policy, "required_checks", "policy.required_checks")) e.required_checks = *v;
  if (auto v = r.string(policy, "test_check", "policy.test_check")) e.test_check = *v;
  if (const toml::node* rate = policy.get("min_test_pass_rate")) {
    const auto value = rate->value<double>();  // an integer 1 reads as 1.0 too
    if (!value || !(*value >= 0.0 && *value <= 1.0))
      r.error(rate, "policy.min_test_pass_rate must be a number from 0 to 1 (0.95 = 95%)");
    const double bp = *value * 10000.0;
    // Basis points: 0.95 is 9500 exactly, and a finer rate would be rounded where nobody sees it.
    if (std::abs(bp - std::round(bp)) > 1e-6)
      r.error(rate, "policy.min_test_pass_rate has more precision than 0.01% (e.g. 0.9525 is the finest)");
    e.min_test_pass_rate_bp = static_cast<int>(std::lround(bp));
  }
  if (auto v = r.strings(policy, "migration_globs", "policy.migration_globs")) e.migration_globs = *v;
  if (auto v = r.string(policy, "rollback_heading", "policy.rollback_heading")) e.rollback_heading = *v;
  if (e.require_ci && e.required_checks.empty())
    r.error(policy.get("require_ci"), "policy.require_ci = true needs at least one name in policy.required_checks");
  if (e.require_ddl_rollback && e.migration_globs.empty())
    r.error(policy.get("require_ddl_rollback"),
            "policy.require_ddl_rollback = true needs at least one glob in policy.migration_globs");
  if (e.require_ddl_rollback && e.rollback_heading.find_first_not_of(" \t") == std::string::npos)
    r.error(policy.get("rollback_heading"), "policy.rollback_heading must not be empty");
}

}  // namespace

// [policy]: soak, smoke and approvals. Returns the table: its approval_rules are read once the services are known.
const toml::table& read_policy_section(const TomlReader& r, const toml::table& root, Config& c) {
  const auto* policy = r.table(root, "policy", "[policy]");
  if (!policy) r.error(nullptr, "[policy] is required (soak, require_smoke, required_smoke_suites)");
  r.only(*policy, "policy",
         {"soak", "allow_short_soak", "require_smoke", "required_smoke_suites", "approvals_required", "approval_rules",
          "require_review", "require_ci", "require_ddl_rollback", "required_checks", "test_check", "min_test_pass_rate",
          "migration_globs", "rollback_heading", "freeze", "on_verify_failure", "rollback_order"});
  if (auto v = r.string(*policy, "on_verify_failure", "policy.on_verify_failure")) {
    if (*v != "stop" && *v != "rollback")
      r.error(policy->get("on_verify_failure"),
              fmt::format("policy.on_verify_failure = \"{}\": use \"stop\" (the promotion fails; production stays) "
                          "or \"rollback\" (back to the release before, then pin)",
                          *v));
    c.policy.rollback_on_verify_failure = *v == "rollback";
  }
  if (auto v = r.duration(*policy, "soak", "policy.soak")) c.policy.soak = *v;
  if (auto v = r.boolean(*policy, "allow_short_soak", "policy.allow_short_soak")) c.policy.allow_short_soak = *v;
  if (auto v = r.boolean(*policy, "require_smoke", "policy.require_smoke")) c.policy.require_smoke = *v;
  if (auto v = r.strings(*policy, "required_smoke_suites", "policy.required_smoke_suites"))
    c.policy.required_smoke_suites = *v;
  if (auto v = r.integer(*policy, "approvals_required", "policy.approvals_required", 1, 10))
    c.policy.approvals_required = static_cast<int>(*v);
  read_evidence_keys(r, *policy, c.policy.evidence);
  if (c.policy.short_soak() && !c.policy.allow_short_soak)
    r.error(policy->get("soak"),
            fmt::format("policy.soak = \"{}\" is below the policy floor of {}; set "
                        "policy.allow_short_soak = true only for demos and tests",
                        core::format_duration(c.policy.soak), core::format_duration(core::soak_floor)));
  if (c.policy.require_smoke && c.policy.required_smoke_suites.empty())
    r.error(policy->get("require_smoke") ? policy->get("require_smoke") : policy,
            "policy.require_smoke = true needs at least one suite in policy.required_smoke_suites");
  return *policy;
}

// [[policy.approval_rules]]: services = [...], approvals_required = N.
void read_approval_rules(const TomlReader& r, const toml::node& node, const std::set<std::string>& services,
                         core::Policy& p) {
  const toml::array* rules = node.as_array();
  if (!rules) r.error(&node, "policy.approval_rules must be an array of tables ([[policy.approval_rules]])");
  for (const auto& entry : *rules) {
    const toml::table* t = entry.as_table();
    if (!t) r.error(&entry, "each [[policy.approval_rules]] entry must be a table");
    r.only(*t, "policy.approval_rules", {"services", "approvals_required"});
    core::ApprovalRule rule;
    auto names = r.strings(*t, "services", "policy.approval_rules.services");
    if (!names || names->empty()) r.error(&entry, "policy.approval_rules.services must name at least one service");
    for (const auto& name : *names)
      if (!services.contains(name))
        r.error(t->get("services"), fmt::format("policy.approval_rules.services names '{}', which is not a "
                                                "configured service",
                                                name));
    rule.services = *names;
    auto required = r.integer(*t, "approvals_required", "policy.approval_rules.approvals_required", 1, 10);
    if (!required) r.error(&entry, "policy.approval_rules.approvals_required is required");
    rule.approvals_required = static_cast<int>(*required);
    p.approval_rules.push_back(std::move(rule));
  }
}

// policy.rollback_order: every service once, in the order a rollback deploys them (default: restart order reversed).
void read_rollback_order(const TomlReader& r, const toml::table& policy, const std::set<std::string>& services,
                         core::Policy& p) {
  auto order = r.strings(policy, "rollback_order", "policy.rollback_order");
  if (!order) return;
  const toml::node* at = policy.get("rollback_order");
  std::set<std::string> seen;
  for (const auto& name : *order) {
    if (!services.contains(name))
      r.error(at, fmt::format("policy.rollback_order names '{}', which is not a configured service", name));
    if (!seen.insert(name).second) r.error(at, fmt::format("policy.rollback_order names '{}' twice", name));
  }
  if (seen.size() != services.size())
    r.error(at, "policy.rollback_order must name every service once: a rollback deploys them all");
  p.rollback_order = *order;
}

// [hotfix]: the emergency path's smoke requirement and obligation due times.
void read_hotfix_table(const TomlReader& r, const toml::table& t, core::HotfixPolicy& h) {
  r.only(t, "hotfix", {"require_smoke", "review_backfill_business_days", "incident_report_within", "holidays"});
  if (auto v = r.boolean(t, "require_smoke", "hotfix.require_smoke")) h.require_smoke = *v;
  if (auto v = r.integer(t, "review_backfill_business_days", "hotfix.review_backfill_business_days", 1, 30))
    h.review_backfill_business_days = static_cast<int>(*v);
  if (auto v = r.duration(t, "incident_report_within", "hotfix.incident_report_within")) {
    if (*v < std::chrono::hours{1} || *v > std::chrono::days{30})
      r.error(t.get("incident_report_within"), "hotfix.incident_report_within must be between 1h and 30 days");
    h.incident_report_within = *v;
  }
  if (const toml::node* holidays = t.get("holidays")) {
    const toml::array* list = holidays->as_array();
    if (!list) r.error(holidays, "hotfix.holidays must be an array of dates like \"2026-12-25\"");
    for (const auto& day : *list) {
      const auto* text = day.as_string();
      unsigned y = 0, m = 0, d = 0;
      char tail = 0;
      const bool parsed =
          text && std::sscanf(text->get().c_str(), "%4u-%2u-%2u%c", &y, &m, &d, &tail) == 3 && text->get().size() == 10;
      const std::chrono::year_month_day ymd{std::chrono::year(static_cast<int>(y)), std::chrono::month(m),
                                            std::chrono::day(d)};
      if (!parsed || !ymd.ok())
        r.error(&day, "hotfix.holidays entries must be dates like \"2026-12-25\" (UTC calendar days)");
      h.holidays.insert(std::chrono::sys_days{ymd});
    }
  }
}

}  // namespace promoter::daemon
