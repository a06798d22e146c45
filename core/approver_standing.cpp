#include "core/approver_standing.hpp"

#include <algorithm>

#include "core/identity.hpp"

namespace promoter::core {

bool is_commit_author(const Release& release, std::string_view identity, const std::vector<std::string>& git_authors) {
  return same_identity(release.author, identity) ||
         std::any_of(git_authors.begin(), git_authors.end(),
                     [&](const std::string& login) { return same_identity(release.author, login); });
}

std::vector<ApproverStanding> approver_standings(const Release& release, const std::vector<Approver>& approvers) {
  std::vector<ApproverStanding> out;
  out.reserve(approvers.size());
  const bool author_known = !normalise_identity(release.author).empty();
  for (const auto& a : approvers) {
    ApproverStanding s{a.identity, false, ""};
    if (release.rejection)
      s.reason = "rejected by " + release.rejection->by;
    else if (!author_known)
      s.reason = "the commit author is not known yet";
    else if (is_commit_author(release, a.identity, a.git_authors))
      s.reason = "wrote this commit";
    else if (std::any_of(release.approvals.begin(), release.approvals.end(),
                         [&](const Verdict& v) { return v.by == a.identity; }))
      s.reason = "approved already";
    else
      s.may_approve = true;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace promoter::core
