// How GitHub evidence moves releases: decide() records it, the gates read it for exactly the range
// production..release, and a promotion waits for it.
#include <doctest/doctest.h>

#include "core/evidence_gates.hpp"
#include "core/fact.hpp"
#include "core/preflight.hpp"
#include "core/promotion_plan.hpp"
#include "core/pull_approval.hpp"
#include "tests/unit/core_fixtures.hpp"

namespace promoter::core::testing {

namespace {

Policy ci_policy() {
  Policy p = standard_policy();
  p.evidence.require_ci = true;
  p.evidence.required_checks = {"typecheck", "test"};
  return p;
}

CheckEvidence check(std::string name, std::string conclusion = "success") {
  CheckEvidence c;
  c.name = std::move(name);
  c.completed = true;
  c.conclusion = std::move(conclusion);
  c.summary = "100 passed, 0 failed";
  c.at = t0();
  return c;
}

Evidence green(const Sha& head, std::optional<Sha> base, Timestamp at) {
  Evidence e;
  e.head = head.str();
  if (base) e.base = base->str();
  e.checks = {check("typecheck"), check("test")};
  e.observed_at = at;
  return e;
}

// Live everywhere, smoke passed, approved, soak complete: only the evidence gates can hold it back.
void everything_but_evidence(Driver& d, const Sha& sha) {
  d.all_live(sha);
  d.ok(smoke_result(sha, "e2e", true));
  d.ok(approval(sha, "bob"));
  d.clock.advance(30min);
  d.ok(SoakDeadlineReached{sha});
}

template <class F>
std::size_t count_facts(const Decision& d) {
  std::size_t n = 0;
  for (const auto& f : d.facts) n += std::holds_alternative<F>(f);
  return n;
}

}  // namespace

TEST_CASE("a release whose every other gate holds waits for its CI evidence, then promotes") {
  Driver d(ci_policy());
  const Sha a = sha_of(1);
  everything_but_evidence(d, a);
  CHECK(d.release(a).state == ReleaseState::soaking);
  CHECK(d.release(a).state_reason.find("ci: waiting for GitHub evidence") != std::string::npos);

  Evidence failing = green(a, std::nullopt, d.clock.now);
  failing.checks[1].conclusion = "failure";
  d.ok(EvidenceObserved{a, failing});
  CHECK(count_facts<EvidenceRecorded>(d.last) == 1);
  CHECK(d.release(a).state == ReleaseState::soaking);
  CHECK(has_audit(d.last, "release.evidence"));

  d.ok(EvidenceObserved{a, green(a, std::nullopt, d.clock.now)});
  CHECK(d.release(a).state == ReleaseState::promoting);
  CHECK(effects_of<StartPromotion>(d.last).size() == 1);
}

TEST_CASE("evidence gathered again with nothing new records nothing") {
  Driver d(ci_policy());
  const Sha a = sha_of(1);
  d.all_live(a);
  d.ok(EvidenceObserved{a, green(a, std::nullopt, d.clock.now)});
  CHECK(count_facts<EvidenceRecorded>(d.last) == 1);
  d.clock.advance(1min);
  d.ok(EvidenceObserved{a, green(a, std::nullopt, d.clock.now)});  // only observed_at differs
  CHECK(d.last.facts.empty());
  CHECK(d.last.audit.empty());
}

TEST_CASE("evidence for another range does not open the gates") {
  Driver d(ci_policy());
  const Sha a = sha_of(1), old_production = sha_of(9);
  d.world.production = old_production;
  everything_but_evidence(d, a);
  d.ok(EvidenceObserved{a, green(a, sha_of(8), d.clock.now)});  // gathered against another production
  CHECK(d.release(a).state == ReleaseState::soaking);
  CHECK(evaluate_gates(d.release(a), d.world.policy, d.clock.now, d.world.production).ci.reason.find("waiting") !=
        std::string::npos);
  d.ok(EvidenceObserved{a, green(a, old_production, d.clock.now)});
  CHECK(d.release(a).state == ReleaseState::promoting);
}

TEST_CASE("evidence naming another commit is refused") {
  Driver d(ci_policy());
  const Sha a = sha_of(1);
  d.all_live(a);
  const Error e = d.refused(EvidenceObserved{a, green(sha_of(2), std::nullopt, d.clock.now)});
  CHECK(e.code == ErrorCode::invalid_argument);
}

TEST_CASE("evidence for a release past its gates, or never seen, changes nothing") {
  Driver d(ci_policy());
  const Sha a = sha_of(1);
  d.all_live(a);
  d.ok(rejection(a, "bob"));
  d.ok(EvidenceObserved{a, green(a, std::nullopt, d.clock.now)});
  CHECK(d.last.facts.empty());
  d.ok(EvidenceObserved{sha_of(7), green(sha_of(7), std::nullopt, d.clock.now)});
  CHECK(d.last.facts.empty());
}

TEST_CASE("when production moves, the other releases wait for evidence of their new range") {
  Policy p = ci_policy();
  p.services = {"api"};
  Driver d(p);
  const Sha a = sha_of(1), b = sha_of(2);
  // a and b both live on different... one service: b replaces a on staging, so use a hotfix-free order:
  // a promotes first, while b (deployed after) is still gathering.
  everything_but_evidence(d, a);
  d.ok(EvidenceObserved{a, green(a, std::nullopt, d.clock.now)});
  REQUIRE(d.release(a).state == ReleaseState::promoting);
  record_promotion_id(d.world, a, 1);
  d.ok(deployment(b, "api", DeployStatus::success));
  d.ok(EvidenceObserved{b, green(b, std::nullopt, d.clock.now)});  // gathered while production was none
  d.ok(PromotionFinished{a, PromotionId{1}, PromotionOutcome::succeeded, ""});
  REQUIRE(d.world.production == a);
  const GateReport g = evaluate_gates(d.release(b), d.world.policy, d.clock.now, d.world.production);
  CHECK_FALSE(g.ci.ok);
  CHECK(g.ci.reason.find("waiting") != std::string::npos);
  CHECK(d.release(b).state_reason.find("ci: waiting") != std::string::npos);
}

TEST_CASE("preflight re-checks the evidence gates") {
  Driver d(ci_policy());
  const Sha a = sha_of(1);
  everything_but_evidence(d, a);
  d.ok(EvidenceObserved{a, green(a, std::nullopt, d.clock.now)});
  REQUIRE(d.release(a).state == ReleaseState::promoting);
  record_promotion_id(d.world, a, 1);
  CHECK(preflight_verdict(d.world, a, PromotionId{1}, d.clock.now).has_value());
  // The evidence read back differently (say a check was re-run and failed before the promotion started).
  Release r = d.release(a);
  r.evidence->checks[0].conclusion = "failure";
  d.world.put(r);
  auto verdict = preflight_verdict(d.world, a, PromotionId{1}, d.clock.now);
  REQUIRE_FALSE(verdict.has_value());
  CHECK(verdict.error().message.find("typecheck") != std::string::npos);
}

TEST_CASE("gate facts name only the gates the policy enables") {
  Driver plain;
  const Sha a = sha_of(1);
  plain.all_live(a);
  const std::string facts = gate_facts(evaluate_gates(plain.release(a), plain.world.policy, plain.clock.now));
  CHECK(facts.find("review") == std::string::npos);
  CHECK(facts.find("ci:") == std::string::npos);
  Driver ci(ci_policy());
  ci.all_live(a);
  CHECK(gate_facts(evaluate_gates(ci.release(a), ci.world.policy, ci.clock.now)).find("ci: ") != std::string::npos);
}

TEST_CASE("the plan tags production after verify and before record when the policy asks") {
  Policy p = standard_policy();
  CHECK(make_plan(p).steps.back().kind == StepKind::record);
  p.tag_production = true;
  const auto plan = make_plan(p);
  REQUIRE(plan.steps.size() >= 3);
  CHECK(plan.steps[plan.steps.size() - 3].kind == StepKind::verify);
  CHECK(plan.steps[plan.steps.size() - 2].kind == StepKind::tag);
  CHECK(plan.steps.back().kind == StepKind::record);
  CHECK_FALSE(abort_stops_before(StepKind::tag));  // production already runs the release by then
  CHECK(parse_step_kind("tag") == StepKind::tag);
}

TEST_CASE("a PR is reviewed by the earliest team approval on its head by someone other than its author") {
  PullEvidence pull;
  pull.number = 12;
  pull.author = {100, "alice"};
  pull.head_sha = std::string(40, 'b');
  auto review = [&](std::int64_t id, GitHubUser who, ReviewState state, std::string commit, Duration after) {
    return PullReview{id, std::move(who), state, std::move(commit), t0() + after};
  };
  const std::string head = pull.head_sha, old = std::string(40, 'a');
  const GitHubUser bob{200, "bob"}, carol{300, "carol"}, alice_renamed{100, "alice-new"};
  const std::set<std::int64_t> team{100, 200, 300};

  pull.reviews = {review(1, alice_renamed, ReviewState::approved, head, 1min)};
  CHECK_FALSE(approving_review(pull, team));  // the author, whatever the login says

  pull.reviews = {review(2, bob, ReviewState::approved, old, 1min)};
  CHECK_FALSE(approving_review(pull, team));  // stale: an older commit of the PR

  pull.reviews = {review(3, bob, ReviewState::approved, head, 1min),
                  review(4, bob, ReviewState::commented, head, 2min)};
  REQUIRE(approving_review(pull, team));
  CHECK(approving_review(pull, team)->id == 3);

  pull.reviews = {review(5, bob, ReviewState::approved, head, 1min),
                  review(6, bob, ReviewState::changes_requested, head, 2min)};
  CHECK_FALSE(approving_review(pull, team));

  pull.reviews = {review(7, bob, ReviewState::dismissed, head, 1min)};
  CHECK_FALSE(approving_review(pull, team));

  pull.reviews = {review(8, carol, ReviewState::approved, head, 1min)};
  CHECK_FALSE(approving_review(pull, {100, 200}));  // carol is not on the team
  CHECK(approving_review(pull, team)->user.id == 300);
}

}  // namespace promoter::core::testing

namespace promoter::core::testing {

TEST_CASE("a release past its gates is shown against the range its evidence was read for") {
  Driver d(ci_policy());
  const Sha a = sha_of(1), b = sha_of(2);
  d.all_live(a);
  Release r = d.release(a);
  CHECK(evidence_range_start(r, b) == b);  // still gathering: the current production
  r.evidence = green(a, std::nullopt, d.clock.now);
  r.state = ReleaseState::promoted;
  CHECK_FALSE(evidence_range_start(r, a).has_value());  // it replaced nothing: its range had no start
  r.evidence->base = b.str();
  CHECK(evidence_range_start(r, a) == b);
}

}  // namespace promoter::core::testing

namespace promoter::core::testing {

TEST_CASE("GitHub's compare decides a hotfix's ancestry over what staging reported") {
  Driver d(ci_policy());
  const Sha production = sha_of(9), fix = sha_of(1), stray = sha_of(2);
  d.world.production = production;
  auto hotfix = [](const Sha& sha) {
    return HotfixRequested{sha, "bob", "checkout returns 500", "https://status.example.com/incidents/42"};
  };
  // No ancestry from staging at all: GitHub says it is ahead of production.
  d.all_live(fix);
  d.ok(smoke_result(fix, "e2e", true));
  Evidence ahead = green(fix, production, d.clock.now);
  ahead.relation = "ahead";
  d.ok(EvidenceObserved{fix, ahead});
  d.ok(hotfix(fix));
  REQUIRE(d.release(fix).hotfix.has_value());
  CHECK(has_audit(d.last, "hotfix.requested"));

  // Staging claims descent, GitHub says the branch diverged: refused, and the reason says GitHub's word.
  Driver e(ci_policy());
  e.world.production = production;
  StagingDeploymentObserved claimed = deployment(stray, "worker", DeployStatus::success);
  claimed.ancestors = {production};
  e.ok(claimed);
  for (const auto& s : {"api", "www"}) e.ok(deployment(stray, s, DeployStatus::success));
  e.ok(smoke_result(stray, "e2e", true));
  Evidence diverged = green(stray, production, e.clock.now);
  diverged.relation = "diverged";
  e.ok(EvidenceObserved{stray, diverged});
  const Error refused = e.refused(hotfix(stray));
  CHECK(refused.code == ErrorCode::failed_precondition);
  CHECK(refused.message.find("GitHub compares it as diverged") != std::string::npos);
}

}  // namespace promoter::core::testing
