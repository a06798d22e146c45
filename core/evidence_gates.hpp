#pragma once
// The gates fed by GitHub evidence: review, ci and ddl_rollback. Pure functions of a release (its
// Evidence), the policy and the production SHA the range must start after, each with a reason a person can
// act on ("review: commit 1a2b3c4d5e6f was pushed straight to main"). A gate the policy does not enable
// holds with "not required by policy".
#include <optional>

#include "core/gates.hpp"
#include "core/policy.hpp"
#include "core/release.hpp"
#include "core/sha.hpp"

namespace promoter::core {

// The release's evidence, if it covers exactly production..release; nullptr when it is missing or was
// gathered for another range (production moved since): the gates then wait for fresh evidence.
const Evidence* current_evidence(const Release&, const std::optional<Sha>& production);

// Where the range of `release` starts when its gates are shown: production for a release still gathering
// gates; for one past them (promoting, promoted, ...), the start of the range its evidence was read for, so
// the gates say what they judged, not that a later production made them stale.
std::optional<Sha> evidence_range_start(const Release&, const std::optional<Sha>& production);

// Every commit of the range reached the main branch through a merged PR with at least one approval, on the
// PR's last head commit, from a team member who is not the PR's author (by GitHub id). The latest review per
// user decides (COMMENTED and PENDING never change it). Hotfix releases are exempt: their obligation tracks
// the backfilled review.
GateStatus review_gate(const Release&, const Policy&, const std::optional<Sha>& production);
// Every required check concluded success on the release SHA, and the test check's pass rate meets the
// minimum. Missing and pending checks are named as such.
GateStatus ci_gate(const Release&, const Policy&, const std::optional<Sha>& production);
// Every PR of the range whose DDL finding names files carries a rollback section.
GateStatus ddl_rollback_gate(const Release&, const Policy&, const std::optional<Sha>& production);

}  // namespace promoter::core
