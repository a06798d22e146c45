#pragma once
// Gate evaluation: pure functions of a release, the policy and `now`, with reasons an operator can read.
#include <optional>
#include <string>

#include "core/policy.hpp"
#include "core/release.hpp"

namespace promoter::core {

struct GateStatus {
  bool ok = false;
  std::string reason;  // e.g. "soak: 12m40s of 30m"
};

struct GateReport {
  GateStatus soak;
  GateStatus smoke;
  GateStatus approval;
  std::optional<Timestamp> soak_deadline;  // when the soak completes if nothing breaks it
  bool all_ok() const { return soak.ok && smoke.ok && approval.ok; }
};

GateStatus soak_gate(const Release&, const Policy&, Timestamp now);
GateStatus smoke_gate(const Release&, const Policy&);
GateStatus approval_gate(const Release&, const Policy&);
// The approvals a release needs: the policy's count, raised by every approval rule naming a service the
// release deployed on staging.
int required_approvals(const Release&, const Policy&);
// "soak: ...; smoke: ...; approval: ...", as recorded with approvals, rejections and hotfixes.
std::string gate_facts(const GateReport&);
GateReport evaluate_gates(const Release&, const Policy&, Timestamp now);

}  // namespace promoter::core
