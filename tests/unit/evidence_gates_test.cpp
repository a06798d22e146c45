// The review, ci and ddl_rollback gates over GitHub evidence: each rule and the exact reason a person reads.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/ddl_scan.hpp"
#include "core/evidence_gates.hpp"
#include "core_fixtures.hpp"

namespace promoter::core {
namespace {

using namespace std::chrono_literals;
using testing::sha_of;
using testing::t0;

// The release (sha_of(100)) goes to production over sha_of(1).
const Sha production = sha_of(1);
const Sha release_sha = sha_of(100);

const GitHubUser alice{1, "alice"};  // author of the PRs
const GitHubUser bob{2, "bob"};      // team members
const GitHubUser carol{3, "carol"};
const GitHubUser dave{4, "dave"};
const GitHubUser mallory{9, "mallory"};  // not on the team

// Commit SHAs of the range and PR head SHAs, as distinct 40-hex strings: commit_sha(3) = "c000...003".
std::string commit_sha(int n) { return fmt::format("c{:039x}", n); }
std::string pr_head(int pr) { return fmt::format("e{:039x}", pr); }
std::string old_commit_of(int pr) { return fmt::format("d{:039x}", pr); }

PullReview review(std::int64_t id, GitHubUser user, ReviewState state, std::string commit, Duration after) {
  return PullReview{id, std::move(user), state, std::move(commit), t0() + after};
}

// A review of PR #12's head commit.
PullReview on_head(std::int64_t id, GitHubUser user, ReviewState state, Duration after) {
  return review(id, std::move(user), state, pr_head(12), after);
}

// A PR merged into main, by alice unless said otherwise, with its head commit as pr_head(number).
PullEvidence merged_pr(int number, std::vector<PullReview> reviews, GitHubUser author = alice) {
  PullEvidence pr;
  pr.number = number;
  pr.author = std::move(author);
  pr.url = fmt::format("https://github.com/acme/shop/pull/{}", number);
  pr.merged = true;
  pr.base_ref = "main";
  pr.head_sha = pr_head(number);
  pr.reviews = std::move(reviews);
  return pr;
}

PullEvidence approved_pr(int number) {
  return merged_pr(number, {review(number, bob, ReviewState::approved, pr_head(number), 1min)});
}

Evidence evidence_for(const std::optional<Sha>& base = production) {
  Evidence e;
  e.head = release_sha.str();
  if (base) e.base = base->str();
  e.team_members = {bob.id, carol.id, dave.id};
  e.observed_at = t0();
  return e;
}

// A range of one commit, brought in by PR #12 as given.
Evidence one_pr(PullEvidence pr) {
  Evidence e = evidence_for();
  e.commits = {{commit_sha(1), {pr.number}}};
  e.pulls[pr.number] = std::move(pr);
  return e;
}

Release with_evidence(std::optional<Evidence> e) {
  Release r(release_sha);
  r.author = "alice";
  r.evidence = std::move(e);
  return r;
}

Policy evidence_policy() {
  Policy p = testing::standard_policy();
  p.evidence.require_review = true;
  p.evidence.require_ci = true;
  p.evidence.require_ddl_rollback = true;
  p.evidence.required_checks = {"typecheck", "test", "audit-openapi"};
  p.evidence.migration_globs = {"db/migrations/**"};
  return p;
}

void mark_hotfix(Release& r) { r.hotfix = Hotfix{"olivia", t0(), "checkout down", "https://status.example/inc/7"}; }

TEST_CASE("review states read and print as GitHub spells them") {
  for (auto s : {ReviewState::approved, ReviewState::changes_requested, ReviewState::commented, ReviewState::dismissed,
                 ReviewState::pending}) {
    CAPTURE(to_string(s));
    CHECK(parse_review_state(to_string(s)) == s);
  }
  CHECK(to_string(ReviewState::changes_requested) == "CHANGES_REQUESTED");
  CHECK(parse_review_state("APPROVED") == ReviewState::approved);
  CHECK(parse_review_state("DISMISSED") == ReviewState::dismissed);
  CHECK_FALSE(parse_review_state("approved").has_value());
  CHECK_FALSE(parse_review_state("").has_value());
}

TEST_CASE("current_evidence is the release's evidence only for exactly production..release") {
  Release r = with_evidence(evidence_for());
  CHECK(current_evidence(r, production) == &*r.evidence);
  CHECK(current_evidence(r, sha_of(2)) == nullptr);     // production moved since
  CHECK(current_evidence(r, std::nullopt) == nullptr);  // gathered for a range, now there is no production
  r.evidence->head = sha_of(99).str();
  CHECK(current_evidence(r, production) == nullptr);  // another release's evidence
  Release first = with_evidence(evidence_for(std::nullopt));
  CHECK(current_evidence(first, std::nullopt) == &*first.evidence);  // the first release: the head alone
  CHECK(current_evidence(first, production) == nullptr);
  CHECK(current_evidence(with_evidence(std::nullopt), production) == nullptr);
}

TEST_CASE("review: the latest decisive review per user decides, on the head commit, by a team member, not the author") {
  struct Case {
    std::string name;
    std::vector<PullReview> reviews;
    bool ok;
    std::string reason;
    GitHubUser author = alice;
  };
  const std::string approved = "review: 1 commit through 1 PR approved";
  const Case cases[] = {
      {"a team member approves the head", {on_head(1, bob, ReviewState::approved, 1min)}, true, approved},
      {"no review at all",
       {},
       false,
       "review: PR #12 (by alice) has no approving review from a team member other than its author"},
      {"only comments",
       {on_head(1, bob, ReviewState::commented, 1min)},
       false,
       "review: PR #12 (by alice) has no approving review from a team member other than its author"},
      {"self-approval only",
       {on_head(1, alice, ReviewState::approved, 1min)},
       false,
       "review: PR #12: only its author approved"},
      {"self-approval and a stale approval",
       {on_head(1, alice, ReviewState::approved, 1min), review(2, bob, ReviewState::approved, old_commit_of(12), 2min)},
       false,
       "review: PR #12: bob's approval is for an older commit (d00000000000), not the merged head; PR #12: its "
       "author's own approval does not count"},
      {"an approval then a later dismissal by the same user",
       {on_head(1, bob, ReviewState::approved, 1min), on_head(2, bob, ReviewState::dismissed, 2min)},
       false,
       "review: PR #12: approval by bob was dismissed"},
      {"a single review whose state is DISMISSED (GitHub rewrites a dismissed approval)",
       {on_head(1, carol, ReviewState::dismissed, 1min)},
       false,
       "review: PR #12: carol's review was dismissed"},
      {"an approval of an older commit of the PR is stale",
       {review(1, bob, ReviewState::approved, old_commit_of(12), 1min)},
       false,
       "review: PR #12: bob's approval is for an older commit (d00000000000), not the merged head"},
      {"COMMENTED after APPROVED: still approved",
       {on_head(1, bob, ReviewState::approved, 1min), on_head(2, bob, ReviewState::commented, 2min)},
       true,
       approved},
      {"PENDING after APPROVED: still approved",
       {on_head(1, bob, ReviewState::approved, 1min), on_head(2, bob, ReviewState::pending, 2min)},
       true,
       approved},
      {"CHANGES_REQUESTED after APPROVED: not approved",
       {on_head(1, bob, ReviewState::approved, 1min), on_head(2, bob, ReviewState::changes_requested, 2min)},
       false,
       "review: PR #12: bob requested changes"},
      {"APPROVED after CHANGES_REQUESTED: approved",
       {on_head(1, bob, ReviewState::changes_requested, 1min), on_head(2, bob, ReviewState::approved, 2min)},
       true,
       approved},
      {"order is by submitted_at, not by the list nor the id",
       {on_head(5, bob, ReviewState::changes_requested, 3min), on_head(9, bob, ReviewState::approved, 2min)},
       false,
       "review: PR #12: bob requested changes"},
      {"at the same instant the higher id is later",
       {on_head(7, bob, ReviewState::approved, 1min), on_head(6, bob, ReviewState::changes_requested, 1min)},
       true,
       approved},
      {"at the same instant the higher id is later (the other way round)",
       {on_head(6, bob, ReviewState::approved, 1min), on_head(7, bob, ReviewState::changes_requested, 1min)},
       false,
       "review: PR #12: bob requested changes"},
      {"approver not on the team",
       {on_head(1, mallory, ReviewState::approved, 1min)},
       false,
       "review: PR #12: mallory is not on the reviewing team"},
      {"one other user's changes request does not undo a valid approval",
       {on_head(1, bob, ReviewState::approved, 1min), on_head(2, carol, ReviewState::changes_requested, 2min)},
       true,
       approved},
      {"a stale approval and a valid one",
       {review(1, bob, ReviewState::approved, old_commit_of(12), 1min), on_head(2, dave, ReviewState::approved, 2min)},
       true,
       approved},
      {"same login as the author, different id: another person",
       {on_head(1, GitHubUser{bob.id, "alice"}, ReviewState::approved, 1min)},
       true,
       approved},
      {"different login, same id as the author: the author",
       {on_head(1, GitHubUser{alice.id, "alice-renamed"}, ReviewState::approved, 1min)},
       false,
       "review: PR #12: only its author approved"},
      {"the author's id decides even when the author is a team member",
       {on_head(1, bob, ReviewState::approved, 1min)},
       false,
       "review: PR #12: only its author approved",
       GitHubUser{bob.id, "bob-old-login"}},
  };
  const Policy p = evidence_policy();
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const Release r = with_evidence(one_pr(merged_pr(12, c.reviews, c.author)));
    const GateStatus g = review_gate(r, p, production);
    CHECK(g.ok == c.ok);
    CHECK(g.reason == c.reason);
  }
}

TEST_CASE("review: a direct push, an unmerged PR and a PR into another branch are named") {
  const Policy p = evidence_policy();
  Evidence e = evidence_for();
  e.commits = {{commit_sha(1), {}}, {commit_sha(2), {5}}, {commit_sha(3), {6}}, {commit_sha(4), {7}}};
  e.pulls[5] = approved_pr(5);
  e.pulls[5].merged = false;
  e.pulls[6] = approved_pr(6);
  e.pulls[6].base_ref = "release/1.2";
  const GateStatus g = review_gate(with_evidence(e), p, production);
  CHECK_FALSE(g.ok);
  CHECK(g.reason ==
        "review: commit c00000000000 was pushed straight to main; PR #5 is not merged; PR #6 was merged into "
        "release/1.2, not main; commit c00000000000 names PR #7, which the evidence lacks");

  Policy trunk = p;
  trunk.evidence.main_branch = "trunk";
  Evidence pushed = evidence_for();
  pushed.commits = {{commit_sha(0xabc), {}}};
  CHECK(review_gate(with_evidence(pushed), trunk, production).reason ==
        "review: commit c00000000000 was pushed straight to trunk");
}

TEST_CASE("review: in a multi-commit range the reason names the PR that lacks review, not the approved ones") {
  const Policy p = evidence_policy();
  Evidence e = evidence_for();
  // PR #21 brings two commits; #22 lacks review and brings two (named once); #23 is approved; commit 5 came
  // through #22 and #24, so the approved #24 covers it.
  e.commits = {{commit_sha(1), {21}}, {commit_sha(2), {22}},     {commit_sha(3), {21}},
               {commit_sha(4), {23}}, {commit_sha(5), {22, 24}}, {commit_sha(6), {22}}};
  e.pulls[21] = approved_pr(21);
  e.pulls[22] = merged_pr(22, {}, GitHubUser{5, "erin"});
  e.pulls[23] = approved_pr(23);
  e.pulls[24] = approved_pr(24);
  const GateStatus g = review_gate(with_evidence(e), p, production);
  CHECK_FALSE(g.ok);
  CHECK(g.reason == "review: PR #22 (by erin) has no approving review from a team member other than its author");

  e.pulls[22] = approved_pr(22);
  const GateStatus all = review_gate(with_evidence(e), p, production);
  CHECK(all.ok);
  CHECK(all.reason == "review: 6 commits through 3 PRs approved");  // #21, #22, #23: commit 5 needed only #22
}

TEST_CASE("review: a long list of problems is capped at ten") {
  const Policy p = evidence_policy();
  Evidence e = evidence_for();
  for (int i = 1; i <= 12; ++i) e.commits.push_back({commit_sha(i), {}});
  const GateStatus g = review_gate(with_evidence(e), p, production);
  CHECK_FALSE(g.ok);
  CHECK(g.reason.starts_with("review: commit c00000000000 was pushed straight to main; "));
  CHECK(g.reason.ends_with("; … and 2 more"));
}

TEST_CASE("review: an empty range (the release is production's commit) passes") {
  Evidence e = evidence_for();
  const GateStatus g = review_gate(with_evidence(e), evidence_policy(), production);
  CHECK(g.ok);
  CHECK(g.reason == "review: no commits since production");
}

TEST_CASE("evidence gates wait for evidence that is missing or gathered for another range") {
  const Policy p = evidence_policy();
  const Release missing = with_evidence(std::nullopt);
  const Release stale = with_evidence(one_pr(approved_pr(12)));   // for the range from sha_of(1)
  const Sha moved = *Sha::parse(fmt::format("{:0<40}", "2ab4"));  // production moved since
  struct Case {
    std::string gate;
    GateStatus (*fn)(const Release&, const Policy&, const std::optional<Sha>&);
  };
  const Case gates[] = {{"review", review_gate}, {"ci", ci_gate}, {"ddl_rollback", ddl_rollback_gate}};
  for (const auto& c : gates) {
    CAPTURE(c.gate);
    const GateStatus none = c.fn(missing, p, production);
    CHECK_FALSE(none.ok);
    CHECK(none.reason == c.gate + ": waiting for GitHub evidence");
    const GateStatus other = c.fn(stale, p, moved);
    CHECK_FALSE(other.ok);
    CHECK(other.reason == c.gate + ": waiting for GitHub evidence for the range from production 2ab400000000");
    const GateStatus no_production = c.fn(stale, p, std::nullopt);
    CHECK_FALSE(no_production.ok);
    CHECK(no_production.reason == c.gate + ": waiting for GitHub evidence");
  }
}

TEST_CASE("evidence gates the policy does not enable hold, with or without evidence") {
  Policy p = evidence_policy();
  p.evidence.require_review = false;
  p.evidence.require_ci = false;
  p.evidence.require_ddl_rollback = false;
  for (const Release& r : {with_evidence(std::nullopt), with_evidence(evidence_for(sha_of(7)))}) {
    const GateStatus review = review_gate(r, p, production);
    const GateStatus ci = ci_gate(r, p, production);
    const GateStatus ddl = ddl_rollback_gate(r, p, production);
    CHECK(review.ok);
    CHECK(review.reason == "review: not required by policy");
    CHECK(ci.ok);
    CHECK(ci.reason == "ci: not required by policy");
    CHECK(ddl.ok);
    CHECK(ddl.reason == "ddl_rollback: not required by policy");
  }
}

TEST_CASE("a hotfix is exempt from review, but not from ci nor ddl_rollback") {
  const Policy p = evidence_policy();
  // A direct push with DDL and no rollback section, and no checks: every gate would fail.
  Evidence e = evidence_for();
  e.commits = {{commit_sha(1), {}}, {commit_sha(2), {8}}};
  e.pulls[8] = merged_pr(8, {});
  e.pulls[8].ddl.ddl_files = {"db/migrations/009.sql"};
  Release r = with_evidence(e);
  mark_hotfix(r);

  const GateStatus review = review_gate(r, p, production);
  CHECK(review.ok);
  CHECK(review.reason == "review: hotfix; the review is backfilled afterwards (obligation)");
  const GateStatus ci = ci_gate(r, p, production);
  CHECK_FALSE(ci.ok);
  CHECK(ci.reason == "ci: typecheck is missing; test is missing; audit-openapi is missing");
  const GateStatus ddl = ddl_rollback_gate(r, p, production);
  CHECK_FALSE(ddl.ok);
  CHECK(ddl.reason ==
        "ddl_rollback: PR #8 changes DDL in db/migrations/009.sql but has no '## Rollback' section with a code block");
  // Without evidence a hotfix still passes review and the others wait.
  Release bare = with_evidence(std::nullopt);
  mark_hotfix(bare);
  CHECK(review_gate(bare, p, production).ok);
  CHECK_FALSE(ci_gate(bare, p, production).ok);
  CHECK_FALSE(ddl_rollback_gate(bare, p, production).ok);
}

CheckEvidence check(std::string name, bool completed, std::string conclusion, Duration after = 1min,
                    std::string summary = "", CheckSource source = CheckSource::check_run) {
  return CheckEvidence{std::move(name), source, completed, std::move(conclusion), std::move(summary), t0() + after};
}

TEST_CASE("ci: every required check concluded success on the release SHA; missing and pending are named") {
  struct Case {
    std::string name;
    std::vector<CheckEvidence> checks;
    bool ok;
    std::string reason;
  };
  const CheckEvidence typecheck = check("typecheck", true, "success");
  const CheckEvidence test = check("test", true, "success");
  const CheckEvidence audit = check("audit-openapi", true, "success");
  const Case cases[] = {
      {"all succeeded", {typecheck, test, audit}, true, "ci: typecheck, test, audit-openapi succeeded"},
      {"a missing check", {test, audit}, false, "ci: typecheck is missing"},
      {"a pending check", {typecheck, check("test", false, ""), audit}, false, "ci: test is pending"},
      {"a failed check",
       {typecheck, test, check("audit-openapi", true, "failure")},
       false,
       "ci: audit-openapi concluded failure"},
      {"neutral is not success",
       {typecheck, test, check("audit-openapi", true, "neutral")},
       false,
       "ci: audit-openapi concluded neutral"},
      {"missing, pending and failed together",
       {check("test", false, ""), check("audit-openapi", true, "timed_out")},
       false,
       "ci: typecheck is missing; test is pending; audit-openapi concluded timed_out"},
      {"a legacy status satisfies a required check",
       {check("typecheck", true, "success", 1min, "", CheckSource::status), test, audit},
       true,
       "ci: typecheck, test, audit-openapi succeeded"},
      {"a failed legacy status fails it",
       {check("typecheck", true, "error", 1min, "", CheckSource::status), test, audit},
       false,
       "ci: typecheck concluded error"},
      {"the latest of a name decides: a rerun that succeeded",
       {check("typecheck", true, "failure", 1min), check("typecheck", true, "success", 2min), test, audit},
       true,
       "ci: typecheck, test, audit-openapi succeeded"},
      {"the latest of a name decides: a later failure, listed first",
       {check("typecheck", true, "failure", 3min), check("typecheck", true, "success", 2min), test, audit},
       false,
       "ci: typecheck concluded failure"},
      {"check runs and statuses share the name space",
       {check("typecheck", true, "success", 1min), check("typecheck", false, "", 2min, "", CheckSource::status), test,
        audit},
       false,
       "ci: typecheck is pending"},
      {"a check nobody requires does not matter",
       {typecheck, test, audit, check("lint", true, "failure")},
       true,
       "ci: typecheck, test, audit-openapi succeeded"},
  };
  const Policy p = evidence_policy();
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Evidence e = evidence_for();
    e.checks = c.checks;
    const GateStatus g = ci_gate(with_evidence(e), p, production);
    CHECK(g.ok == c.ok);
    CHECK(g.reason == c.reason);
  }
}

TEST_CASE("ci: the test check's pass rate meets the minimum, computed in integers") {
  struct Case {
    std::string summary;
    std::string conclusion;
    bool ok;
    std::string reason;
  };
  const Case cases[] = {
      {"Tests: 950 passed, 50 failed, 1000 total", "success", true,
       "ci: typecheck, test (950 of 1000 passed), audit-openapi succeeded"},
      {"Tests: 1000 passed, 1000 total", "success", true,
       "ci: typecheck, test (1000 of 1000 passed), audit-openapi succeeded"},
      {"Tests: 949 passed, 51 failed, 1000 total", "success", false, "ci: test passed 949 of 1000 (94.9%), below 95%"},
      {"Tests: 9499 passed, 501 failed", "success", false,
       "ci: test passed 9499 of 10000 (94.9%), below 95%"},  // 94.99% never reads as 95%
      {"Tests: 900 passed, 100 failed", "success", false, "ci: test passed 900 of 1000 (90%), below 95%"},
      {"Tests: 0 passed, 0 failed", "success", false, "ci: test ran no tests"},
      {"All good", "success", false, "ci: test reported no pass count"},
      {"", "success", false, "ci: test reported no pass count"},
      {"Tests: 1000 passed", "failure", false, "ci: test concluded failure"},
  };
  Policy p = evidence_policy();
  p.evidence.min_test_pass_rate_bp = 9500;
  for (const auto& c : cases) {
    CAPTURE(c.summary);
    Evidence e = evidence_for();
    e.checks = {check("typecheck", true, "success"), check("test", true, c.conclusion, 1min, c.summary),
                check("audit-openapi", true, "success")};
    const GateStatus g = ci_gate(with_evidence(e), p, production);
    CHECK(g.ok == c.ok);
    CHECK(g.reason == c.reason);
  }

  SUBCASE("a minimum with a fraction of a percent reads as such") {
    p.evidence.min_test_pass_rate_bp = 9525;
    Evidence e = evidence_for();
    e.checks = {check("typecheck", true, "success"), check("test", true, "success", 1min, "952 passed, 48 failed"),
                check("audit-openapi", true, "success")};
    CHECK(ci_gate(with_evidence(e), p, production).reason == "ci: test passed 952 of 1000 (95.2%), below 95.25%");
    p.evidence.min_test_pass_rate_bp = 9550;
    CHECK(ci_gate(with_evidence(e), p, production).reason == "ci: test passed 952 of 1000 (95.2%), below 95.5%");
  }
  SUBCASE("without a minimum the summary is not read") {
    p.evidence.min_test_pass_rate_bp.reset();
    Evidence e = evidence_for();
    e.checks = {check("typecheck", true, "success"), check("test", true, "success", 1min, "no counts here"),
                check("audit-openapi", true, "success")};
    CHECK(ci_gate(with_evidence(e), p, production).reason == "ci: typecheck, test, audit-openapi succeeded");
  }
  SUBCASE("the minimum applies to the configured test check") {
    p.evidence.test_check = "audit-openapi";
    Evidence e = evidence_for();
    e.checks = {check("typecheck", true, "success"), check("test", true, "success", 1min, "1 passed, 99 failed"),
                check("audit-openapi", true, "success", 1min, "19 passed, 1 failed")};
    CHECK(ci_gate(with_evidence(e), p, production).reason ==
          "ci: typecheck, test, audit-openapi (19 of 20 passed) succeeded");
  }
}

PullEvidence with_ddl(int number, std::vector<std::string> files, bool rollback) {
  PullEvidence pr = approved_pr(number);
  pr.ddl = DdlFinding{std::move(files), rollback};
  return pr;
}

TEST_CASE("ddl_rollback: every PR of the range that changes DDL has a rollback section") {
  const Policy p = evidence_policy();
  SUBCASE("no DDL") {
    const GateStatus g = ddl_rollback_gate(with_evidence(one_pr(approved_pr(12))), p, production);
    CHECK(g.ok);
    CHECK(g.reason == "ddl_rollback: no PR of the range changes DDL");
  }
  SUBCASE("DDL with a rollback section") {
    const GateStatus g =
        ddl_rollback_gate(with_evidence(one_pr(with_ddl(12, {"db/migrations/002.sql"}, true))), p, production);
    CHECK(g.ok);
    CHECK(g.reason == "ddl_rollback: every PR that changes DDL has a rollback section (#12)");
  }
  SUBCASE("DDL without one") {
    const GateStatus g =
        ddl_rollback_gate(with_evidence(one_pr(with_ddl(7, {"db/migrations/002.sql"}, false))), p, production);
    CHECK_FALSE(g.ok);
    CHECK(g.reason ==
          "ddl_rollback: PR #7 changes DDL in db/migrations/002.sql but has no '## Rollback' section with a code "
          "block");
  }
  SUBCASE("a rollback section without DDL is fine, and a PR is named once, in number order") {
    Evidence e = evidence_for();
    e.commits = {
        {commit_sha(1), {9}}, {commit_sha(2), {7}}, {commit_sha(3), {9}}, {commit_sha(4), {3}}, {commit_sha(5), {5}}};
    e.pulls[9] = with_ddl(9, {"db/migrations/010.sql", "db/migrations/011.sql"}, false);
    e.pulls[7] = with_ddl(7, {"db/migrations/008.sql"}, false);
    e.pulls[3] = with_ddl(3, {}, true);
    e.pulls[5] = with_ddl(5, {"db/migrations/006.sql"}, true);
    Policy undo = p;
    undo.evidence.rollback_heading = " ## Undo ";
    const GateStatus g = ddl_rollback_gate(with_evidence(e), undo, production);
    CHECK_FALSE(g.ok);
    CHECK(g.reason ==
          "ddl_rollback: PR #7 changes DDL in db/migrations/008.sql but has no '## Undo' section with a code block; "
          "PR #9 changes DDL in db/migrations/010.sql, db/migrations/011.sql but has no '## Undo' section with a "
          "code block");
    e.pulls[7].ddl.rollback_section = true;
    e.pulls[9].ddl.rollback_section = true;
    const GateStatus ok = ddl_rollback_gate(with_evidence(e), undo, production);
    CHECK(ok.ok);
    CHECK(ok.reason == "ddl_rollback: every PR that changes DDL has a rollback section (#5, #7, #9)");
  }
}

TEST_CASE("ddl_rollback reads what scan_pull found in a PR's files and description") {
  const Policy p = evidence_policy();
  const std::vector<PullFilePatch> files = {
      {"db/migrations/002.sql", "added", "@@ -0,0 +1 @@\n+CREATE TABLE carts (id bigint);"}};
  PullEvidence pr = approved_pr(12);
  pr.ddl = scan_pull(p.evidence, files, "Adds carts.\r\n\r\n## Rollback\r\n```sql\r\nDROP TABLE carts;\r\n```\r\n");
  CHECK(ddl_rollback_gate(with_evidence(one_pr(pr)), p, production).ok);
  pr.ddl = scan_pull(p.evidence, files, "Adds carts.\n\n## Rollback\nRevert the PR.\n");
  CHECK_FALSE(ddl_rollback_gate(with_evidence(one_pr(pr)), p, production).ok);
}

}  // namespace
}  // namespace promoter::core
