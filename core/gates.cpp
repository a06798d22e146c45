#include "core/gates.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "core/capped_list.hpp"
#include "core/config_gates.hpp"
#include "core/evidence_gates.hpp"
#include "core/identity.hpp"

namespace promoter::core {

namespace {
// Longest list a reason spells out in full.
constexpr std::size_t reason_list_cap = 10;
}  // namespace

GateStatus soak_gate(const Release& r, const Policy& p, Timestamp now) {
  if (r.hotfix) return {true, fmt::format("soak: waived by the hotfix {} requested", r.hotfix->by)};
  if (!r.soak_started_at) {
    std::vector<std::string> waiting;
    for (const auto& service : p.services) {
      auto it = r.deployments.find(service);
      if (it == r.deployments.end()) {
        waiting.push_back(fmt::format("{} not deployed", service));
      } else if (health_of(it->second.status) != Health::healthy) {
        waiting.push_back(fmt::format("{} is {}", service, to_string(it->second.status)));
      }
    }
    if (waiting.empty()) return {false, "soak: not started (waiting for staging)"};
    if (waiting.size() <= reason_list_cap) return {false, fmt::format("soak: not started ({})", capped_list(waiting))};
    return {false, fmt::format("soak: not started (waiting for {} services: {})", waiting.size(),
                               capped_list(waiting, reason_list_cap))};
  }
  const Duration elapsed = now - *r.soak_started_at;
  if (elapsed >= p.soak)
    return {true, fmt::format("soak: {} of {} complete", format_duration(p.soak), format_duration(p.soak))};
  const auto shown = std::chrono::duration_cast<std::chrono::seconds>(std::max(elapsed, Duration::zero()));
  return {false, fmt::format("soak: {} of {}{}", format_duration(shown), format_duration(p.soak),
                             r.soak_resets ? fmt::format(" (reset {} time{} by a crash)", r.soak_resets,
                                                         r.soak_resets == 1 ? "" : "s")
                                           : "")};
}

GateStatus smoke_gate(const Release& r, const Policy& p) {
  if (!p.require_smoke) return {true, "smoke: not required by policy"};
  if (r.hotfix && !p.hotfix.require_smoke) return {true, "smoke: not required for hotfixes by policy"};
  std::string missing;
  for (const auto& suite : p.required_smoke_suites) {
    auto it = r.smoke.find(suite);
    std::string why;
    if (it == r.smoke.end()) {
      why = fmt::format("suite {} has not reported", suite);
    } else if (!r.live_at || it->second.at < *r.live_at) {
      why = fmt::format("suite {} reported before the release went live on staging", suite);
    } else if (!it->second.passed) {
      why = fmt::format("suite {} failed", suite);
    }
    if (!why.empty()) missing += (missing.empty() ? "" : "; ") + why;
  }
  if (!missing.empty()) return {false, "smoke: " + missing};
  return {true, fmt::format("smoke: {} passed", fmt::join(p.required_smoke_suites, ", "))};
}

namespace {

// A commit author no token names cannot be matched to an operator, so nothing stops them approving
// their own release under their operator identity: the gate says so, for the reader to fix the config.
std::string unknown_author_note(const Release& r, const Policy& p) {
  if (p.known_identities.empty()) return "";
  const std::string author = normalise_identity(r.author);
  if (author.empty() || p.known_identities.contains(author)) return "";
  return fmt::format(
      "; the commit author {} matches no configured identity or git_authors entry, so approvals "
      "cannot be checked against it: add it to the git_authors of its operator's token",
      r.author);
}

GateStatus approval_gate_without_note(const Release& r, const Policy& p) {
  if (r.rejection) return {false, fmt::format("approval: rejected by {}: {}", r.rejection->by, r.rejection->reason)};
  if (r.hotfix)
    return {true, fmt::format("approval: hotfix requested by {}; the review is backfilled afterwards", r.hotfix->by)};
  const int have = static_cast<int>(r.approvals.size());
  const int needed = required_approvals(r, p);
  std::vector<std::string> who;
  for (const auto& a : r.approvals) who.push_back(a.by);
  if (have >= needed) return {true, fmt::format("approval: approved by {}", fmt::join(who, ", "))};
  if (have == 0)
    return {false, fmt::format("approval: waiting for {} approval{} by {} other than the author", needed,
                               needed == 1 ? "" : "s", needed == 1 ? "an operator" : "distinct operators")};
  return {false, fmt::format("approval: {} of {} approvals (by {}); another operator must approve", have, needed,
                             fmt::join(who, ", "))};
}

}  // namespace

GateStatus approval_gate(const Release& r, const Policy& p) {
  GateStatus status = approval_gate_without_note(r, p);
  status.reason += unknown_author_note(r, p);
  return status;
}

int required_approvals(const Release& r, const Policy& p) {
  int needed = p.approvals_required;
  for (const auto& rule : p.approval_rules)
    for (const auto& service : rule.services)
      if (r.deployments.contains(service)) needed = std::max(needed, rule.approvals_required);
  return needed;
}

std::string gate_facts(const GateReport& g) {
  std::vector<std::string> facts;
  for (const GateStatus* gate : g.all())
    if (gate->applies) facts.push_back(gate->reason);
  return fmt::format("{}", fmt::join(facts, "; "));
}

GateReport evaluate_gates(const Release& r, const Policy& p, Timestamp now, const std::optional<Sha>& production) {
  GateReport report;
  report.soak = soak_gate(r, p, now);
  report.smoke = smoke_gate(r, p);
  report.approval = approval_gate(r, p);
  report.review = review_gate(r, p, production);
  report.ci = ci_gate(r, p, production);
  report.ddl_rollback = ddl_rollback_gate(r, p, production);
  report.review.applies = p.evidence.require_review;
  report.ci.applies = p.evidence.require_ci;
  report.ddl_rollback.applies = p.evidence.require_ddl_rollback;
  report.env = env_gate(r, p);
  report.flag = flag_gate(r, p, production);
  report.env.applies = p.env.require_env;
  report.flag.applies = p.flags.require_flag;
  if (r.soak_started_at) report.soak_deadline = *r.soak_started_at + p.soak;
  return report;
}

std::string pending_gates_reason(const GateReport& g) {
  std::vector<std::string> pending;
  for (const GateStatus* gate : g.all())
    if (!gate->ok) pending.push_back(gate->reason);
  // Between the soak deadline and its timer every gate can hold while the state still says soaking.
  if (pending.empty()) return "every gate holds";
  return fmt::format("waiting for {}", fmt::join(pending, "; "));
}

std::string state_reason_at(const Release& r, const Policy& p, Timestamp now, const std::optional<Sha>& production) {
  if (r.state != ReleaseState::soaking) return r.state_reason;
  return pending_gates_reason(evaluate_gates(r, p, now, production));
}

}  // namespace promoter::core
