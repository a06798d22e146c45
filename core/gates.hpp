#pragma once
// Gate evaluation: pure functions of a release, the policy and `now`, with reasons an operator can read.
#include <optional>
#include <string>
#include <vector>

#include "core/policy.hpp"
#include "core/release.hpp"
#include "core/sha.hpp"

namespace promoter::core {

struct GateStatus {
  bool ok = false;
  std::string reason;  // e.g. "soak: 12m40s of 30m"
  // False for a gate the policy does not enable (it holds): left out of the facts recorded with a verdict.
  bool applies = true;
};

struct GateReport {
  GateStatus soak;
  GateStatus smoke;
  GateStatus approval;
  // Fed by GitHub evidence (core/evidence_gates.hpp).
  GateStatus review;
  GateStatus ci;
  GateStatus ddl_rollback;
  // Fed by the configuration watcher (core/config_gates.hpp).
  GateStatus env;
  GateStatus flag;
  std::optional<Timestamp> soak_deadline;  // when the soak completes if nothing breaks it
  bool all_ok() const {
    return soak.ok && smoke.ok && approval.ok && review.ok && ci.ok && ddl_rollback.ok && env.ok && flag.ok;
  }
  // The gates in the order people read them: soak, smoke, approval, review, ci, ddl_rollback, env, flag.
  std::vector<const GateStatus*> all() const {
    return {&soak, &smoke, &approval, &review, &ci, &ddl_rollback, &env, &flag};
  }
};

GateStatus soak_gate(const Release&, const Policy&, Timestamp now);
GateStatus smoke_gate(const Release&, const Policy&);
GateStatus approval_gate(const Release&, const Policy&);
// The approvals a release needs: the policy's count, raised by every approval rule naming a service the
// release deployed on staging.
int required_approvals(const Release&, const Policy&);
// "soak: ...; smoke: ...; approval: ..." (and the evidence gates the policy enables), as recorded with approvals,
// rejections and hotfixes.
std::string gate_facts(const GateReport&);
// `production`: the release the promotion would replace; the evidence gates need GitHub evidence for exactly
// the range production..release.
GateReport evaluate_gates(const Release&, const Policy&, Timestamp now,
                          const std::optional<Sha>& production = std::nullopt);
// "waiting for soak: 10s of 40s; approval: ...": the gates that do not hold yet, as a soaking release's reason.
std::string pending_gates_reason(const GateReport&);
// The release's state_reason as of `now`. A soaking release's reason counts time, so it is derived from
// the gates at `now` instead of read back as stored (which says how things were at the last event);
// every other state's reason is the stored one.
std::string state_reason_at(const Release&, const Policy&, Timestamp now,
                            const std::optional<Sha>& production = std::nullopt);

}  // namespace promoter::core
