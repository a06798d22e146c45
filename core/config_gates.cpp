#include "core/config_gates.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/capped_list.hpp"
#include "core/evidence_gates.hpp"

namespace promoter::core {

namespace {

// Longest list a reason spells out in full.
constexpr std::size_t reason_list_cap = 10;

}  // namespace

GateStatus env_gate(const Release& r, const Policy& p) {
  if (!p.env.require_env) return {true, "env: not required by policy"};
  if (!r.config) return {false, "env: waiting for the first observation of variable names"};
  std::vector<std::string> problems;
  std::size_t observable = 0;
  for (const auto& service : p.services) {  // restart order
    auto it = r.config->services.find(service);
    if (it == r.config->services.end()) continue;  // not observable: nothing to compare
    ++observable;
    const auto missing = missing_in_production(it->second, p.env);
    if (!missing.empty()) problems.push_back(fmt::format("{}: {}", service, capped_list(missing, reason_list_cap)));
  }
  if (!problems.empty())
    return {false,
            fmt::format("env: production lacks {} (staging has them)", capped_list(problems, reason_list_cap, "; "))};
  if (observable == 0) return {true, "env: no service's variables are observable"};
  return {true, fmt::format("env: production has every variable staging has ({} service{})", observable,
                            observable == 1 ? "" : "s")};
}

GateStatus flag_gate(const Release& r, const Policy& p, const std::optional<Sha>& production) {
  if (!p.flags.require_flag) return {true, "flag: not required by policy"};
  const Evidence* e = current_evidence(r, production);
  if (!e) return {false, "flag: waiting for GitHub evidence"};
  if (!r.config || !r.config->production_flags) return {false, "flag: waiting for production's feature flags"};
  const std::set<std::string>& production_flags = *r.config->production_flags;

  std::set<int> numbers;  // every PR of the range, once, in number order
  for (const auto& commit : e->commits)
    for (const int number : commit.pulls)
      if (e->pulls.contains(number)) numbers.insert(number);

  std::vector<std::string> problems;
  std::size_t guarded = 0;
  for (const int number : numbers) {
    const FlagFinding& finding = e->pulls.at(number).flags;
    if (finding.guarded_files.empty()) continue;
    ++guarded;
    if (finding.keys.empty()) {
      problems.push_back(
          fmt::format("PR #{} changes {} but names no flag (add a line \"Flag: <key>\" to its description)", number,
                      capped_list(finding.guarded_files, reason_list_cap)));
      continue;
    }
    const bool known = std::any_of(finding.keys.begin(), finding.keys.end(),
                                   [&](const std::string& key) { return production_flags.contains(key); });
    if (!known)
      problems.push_back(fmt::format("PR #{} names flag{} {}, which production's feature flag table lacks", number,
                                     finding.keys.size() == 1 ? "" : "s", capped_list(finding.keys, reason_list_cap)));
  }
  if (!problems.empty()) return {false, fmt::format("flag: {}", capped_list(problems, reason_list_cap, "; "))};
  if (guarded == 0) return {true, "flag: no PR in the range touches guarded paths"};
  return {true, "flag: every guarded change names a flag production has"};
}

}  // namespace promoter::core
