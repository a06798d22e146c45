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
// "waiting for soak: 10s of 40s; approval: ...": the gates that do not hold yet, as a soaking release's reason.
std::string pending_gates_reason(const GateReport&);
// The release's state_reason as of `now`. A soaking release's reason counts time, so it is derived from
// the gates at `now` instead of read back as stored (which says how things were at the last event);
// every other state's reason is the stored one.
std::string state_reason_at(const Release&, const Policy&, Timestamp now);

}  // namespace promoter::core
