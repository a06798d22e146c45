#pragma once
// Who may still approve a release, and why not: what the console shows next to its approval gate (and the
// rule the approval itself is decided by, so the two never disagree).
#include <string>
#include <string_view>
#include <vector>

#include "core/release.hpp"

namespace promoter::core {

// Whether `identity`, or one of the git logins it commits as, is the release's commit author: compared
// normalised, with confusable spellings counted as the same person (core/identity.hpp).
bool is_commit_author(const Release&, std::string_view identity, const std::vector<std::string>& git_authors);

struct Approver {
  std::string identity;
  std::vector<std::string> git_authors;
};

struct ApproverStanding {
  std::string identity;
  bool may_approve = false;
  std::string reason;  // why not, e.g. "wrote this commit"; empty when they may
};

// One standing per approver, in the order given.
std::vector<ApproverStanding> approver_standings(const Release&, const std::vector<Approver>&);

}  // namespace promoter::core
