#include "core/pull_approval.hpp"

#include <map>
#include <tuple>

namespace promoter::core {

std::optional<PullReview> approving_review(const PullEvidence& pull, const std::set<std::int64_t>& team_members) {
  std::map<std::int64_t, const PullReview*> latest;  // by user id: the decisive review that counts
  for (const auto& review : pull.reviews) {
    if (review.state == ReviewState::commented || review.state == ReviewState::pending) continue;
    const PullReview*& current = latest[review.user.id];
    if (!current || std::tie(current->submitted_at, current->id) < std::tie(review.submitted_at, review.id))
      current = &review;
  }
  std::optional<PullReview> earliest;
  for (const auto& [user, review] : latest) {
    if (review->state != ReviewState::approved || review->commit_id != pull.head_sha) continue;
    if (user == pull.author.id || !team_members.contains(user)) continue;
    if (!earliest || std::tie(review->submitted_at, review->id) < std::tie(earliest->submitted_at, earliest->id))
      earliest = *review;
  }
  return earliest;
}

}  // namespace promoter::core
