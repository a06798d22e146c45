// Who may still approve a release, as the console lists it: the same author rule the approval is decided by.
#include <doctest/doctest.h>

#include "core/approver_standing.hpp"
#include "tests/unit/core_fixtures.hpp"

namespace promoter::core {

TEST_CASE("the author (by identity or git login, however spelt) may not approve; nor one who did already") {
  Release r(testing::sha_of(1));
  r.author = "alice-gh";
  r.approvals.push_back(Verdict{"carol", testing::t0(), "ok"});
  const std::vector<Approver> operators{
      {"alice", {"alice-gh"}}, {"bob", {}}, {"carol", {}}, {"Alice-GH", {}}, {"dave", {"ALICE-gh "}}};
  const auto standings = approver_standings(r, operators);
  REQUIRE(standings.size() == 5);
  CHECK(standings[0].identity == "alice");
  CHECK_FALSE(standings[0].may_approve);
  CHECK(standings[0].reason == "wrote this commit");
  CHECK(standings[1].may_approve);
  CHECK(standings[1].reason.empty());
  CHECK(standings[2].reason == "approved already");
  CHECK(standings[3].reason == "wrote this commit");  // the identity itself spelt like the author
  CHECK(standings[4].reason == "wrote this commit");  // a git login spelt differently
  CHECK(is_commit_author(r, "bob", {"alice-gh"}));
  CHECK_FALSE(is_commit_author(r, "bob", {"bob-gh"}));
}

TEST_CASE("nobody may approve a rejected release, or one whose author is not known yet") {
  Release r(testing::sha_of(2));
  r.author = " ";
  CHECK(approver_standings(r, {{"bob", {}}})[0].reason == "the commit author is not known yet");
  r.author = "alice-gh";
  r.rejection = Verdict{"carol", testing::t0(), "broken"};
  CHECK(approver_standings(r, {{"bob", {}}})[0].reason == "rejected by carol");
}

}  // namespace promoter::core
