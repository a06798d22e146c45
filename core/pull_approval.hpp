#pragma once
// When a PR counts as reviewed under the policy: the rule the review gate applies to every PR of a range and
// the hotfix review backfill applies to the hotfix's PR.
#include <cstdint>
#include <optional>
#include <set>

#include "core/evidence.hpp"

namespace promoter::core {

// The approval that makes `pull` reviewed: a user's latest decisive review (APPROVED, CHANGES_REQUESTED or
// DISMISSED, ordered by submitted_at then id; COMMENTED and PENDING never change it) is APPROVED, on the PR's
// last head commit, by a member of the reviewing team who is not the PR's author (compared by GitHub id).
// The earliest such approval; nullopt when there is none.
std::optional<PullReview> approving_review(const PullEvidence& pull, const std::set<std::int64_t>& team_members);

}  // namespace promoter::core
