// The emergency path (procedure 5): business days, obligations, the hotfix event's checks, approval rules,
// and the ready-for-approval notification.
#include <doctest/doctest.h>

#include <string>

#include "core/business_days.hpp"
#include "core/obligation.hpp"
#include "core_fixtures.hpp"

namespace promoter::core {
namespace {

using namespace std::chrono_literals;
using namespace testing;
using std::chrono::sys_days;
using std::chrono::year;

const Sha A = sha_of(0xa);
const Sha B = sha_of(0xb);
const Sha P = sha_of(0x9);  // what runs in production

Timestamp at(int y, unsigned m, unsigned d, std::chrono::hours h) { return Timestamp{sys_days{year{y} / m / d}} + h; }

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// A with every service live (authored by alice), descending from P, which is production.
Driver live_release(Policy policy = standard_policy()) {
  Driver d(std::move(policy));
  d.world.production = P;
  for (const auto& s : d.world.policy.services) {
    auto e = deployment(A, s, DeployStatus::success);
    e.ancestors = {sha_of(0x8), P};
    d.ok(e);
  }
  return d;
}

HotfixRequested hotfix_of(const Sha& sha, std::string by = "bob") {
  return HotfixRequested{sha, std::move(by), "checkout returns 500", "https://status.example.com/incidents/42"};
}

TEST_CASE("business days skip weekends and holidays and keep the time of day") {
  const std::set<sys_days> none;
  // 2026-11-27 is a Friday.
  CHECK(add_business_days(at(2026, 11, 27, 15h), 2, none) == at(2026, 12, 1, 15h));   // Tuesday
  CHECK(add_business_days(at(2026, 11, 25, 9h), 2, none) == at(2026, 11, 27, 9h));    // Wednesday → Friday
  CHECK(add_business_days(at(2026, 11, 28, 10h), 2, none) == at(2026, 12, 1, 10h));   // Saturday → Tuesday
  CHECK(add_business_days(at(2026, 11, 29, 23h), 1, none) == at(2026, 11, 30, 23h));  // Sunday → Monday
  // A holiday on the Monday pushes a Friday request to Wednesday.
  const std::set<sys_days> holidays{sys_days{year{2026} / 11 / 30}};
  CHECK(add_business_days(at(2026, 11, 27, 15h), 2, holidays) == at(2026, 12, 2, 15h));
  CHECK_FALSE(is_business_day(sys_days{year{2026} / 11 / 30}, holidays));
  CHECK(is_business_day(sys_days{year{2026} / 12 / 1}, holidays));
}

TEST_CASE("a hotfix opens a review backfill due 2 business days later and an incident report due 24h later") {
  HotfixPolicy policy;
  const auto friday = at(2026, 11, 27, 15h);
  const auto obligations = hotfix_obligations(A, "bob", friday, policy);
  REQUIRE(obligations.size() == 2);
  CHECK(obligations[0].kind == ObligationKind::review_backfill);
  CHECK(obligations[0].due_at == at(2026, 12, 1, 15h));
  CHECK(obligations[1].kind == ObligationKind::incident_report);
  CHECK(obligations[1].due_at == friday + 24h);
  CHECK(obligations[1].open());
  CHECK_FALSE(obligations[1].overdue(friday + 24h));  // due at, not yet past
  CHECK(obligations[1].overdue(friday + 24h + 1ms));
  Obligation closed = obligations[1];
  closed.closed_at = friday + 1h;
  CHECK_FALSE(closed.overdue(friday + 48h));
  CHECK(parse_obligation_kind("incident_report") == ObligationKind::incident_report);
  CHECK_FALSE(parse_obligation_kind("postmortem").has_value());
}

TEST_CASE("a hotfix waives the soak, starts the promotion at once and opens its obligations") {
  Driver d = live_release();
  d.clock.advance(2min);
  d.ok(smoke_result(A, "e2e", true));
  REQUIRE(d.release(A).state == ReleaseState::soaking);
  const Decision& dec = d.ok(hotfix_of(A));
  const Release& r = d.release(A);
  CHECK(r.state == ReleaseState::promoting);
  REQUIRE(r.hotfix.has_value());
  CHECK(r.hotfix->by == "bob");
  CHECK(r.hotfix->incident_url == "https://status.example.com/incidents/42");
  CHECK(effects_of<StartPromotion>(dec).size() == 1);
  const auto opened = facts_of<ObligationOpened>(dec);
  REQUIRE(opened.size() == 2);
  CHECK(opened[1].obligation.due_at == d.clock.now + 24h);
  REQUIRE(facts_of<HotfixDeclared>(dec).size() == 1);
  CHECK(facts_of<PromotionOpened>(dec).size() == 1);
  REQUIRE(has_audit(dec, "hotfix.requested"));
  for (const auto& a : dec.audit)
    if (a.action == "hotfix.requested") {
      CHECK(contains(a.detail, "descends from production"));
      CHECK(contains(a.detail, "soak: 2m of 30m"));  // the gate facts at that moment
    }
  const GateReport gates = evaluate_gates(r, d.world.policy, d.clock.now);
  CHECK(gates.soak.ok);
  CHECK(contains(gates.soak.reason, "waived by the hotfix bob requested"));
  CHECK(gates.approval.ok);
  auto notices = effects_of<Notify>(dec);
  REQUIRE_FALSE(notices.empty());
  CHECK(contains(notices.back().text, "hotfix"));
  // A retried request is a no-op: no second set of obligations.
  CHECK(d.ok(hotfix_of(A)).facts.empty());
}

TEST_CASE("a hotfix is refused with a clear reason when ancestry, staging or smoke do not allow it") {
  SUBCASE("no ancestry reported") {
    Driver d(standard_policy());
    d.world.production = P;
    d.all_live(A);
    d.ok(smoke_result(A, "e2e", true));
    Error e = d.refused(hotfix_of(A));
    CHECK(e.code == ErrorCode::failed_precondition);
    CHECK(contains(e.message, "cannot establish that"));
    CHECK(contains(e.message, "no ancestry"));
  }
  SUBCASE("ancestry that does not include production") {
    Driver d(standard_policy());
    d.world.production = P;
    for (const auto& s : d.world.policy.services) {
      auto e = deployment(A, s, DeployStatus::success);
      e.ancestors = {sha_of(0x7)};
      d.ok(e);
    }
    d.ok(smoke_result(A, "e2e", true));
    Error e = d.refused(hotfix_of(A));
    CHECK(e.code == ErrorCode::failed_precondition);
    CHECK(contains(e.message, "does not descend from production"));
  }
  SUBCASE("not live on every service") {
    Driver d(standard_policy());
    d.ok(deployment(A, "api", DeployStatus::success));
    Error e = d.refused(hotfix_of(A));
    CHECK(e.code == ErrorCode::failed_precondition);
    CHECK(contains(e.message, "worker not deployed"));
  }
  SUBCASE("smoke still required by policy") {
    Driver d = live_release();
    Error e = d.refused(hotfix_of(A));
    CHECK(e.code == ErrorCode::failed_precondition);
    CHECK(contains(e.message, "hotfix.require_smoke"));
    CHECK(contains(e.message, "suite e2e has not reported"));
  }
  SUBCASE("smoke waived when the hotfix policy says so") {
    Policy p = standard_policy();
    p.hotfix.require_smoke = false;
    Driver d = live_release(p);
    d.ok(hotfix_of(A));
    CHECK(d.release(A).state == ReleaseState::promoting);
  }
  SUBCASE("missing reason or incident") {
    Driver d = live_release();
    d.ok(smoke_result(A, "e2e", true));
    auto no_reason = hotfix_of(A);
    no_reason.reason = "  ";
    CHECK(d.refused(no_reason).code == ErrorCode::invalid_argument);
    auto no_incident = hotfix_of(A);
    no_incident.incident_url.clear();
    CHECK(d.refused(no_incident).code == ErrorCode::invalid_argument);
  }
  SUBCASE("another promotion is running") {
    Driver d = live_release();
    d.ok(smoke_result(A, "e2e", true));
    d.world.promoting = B;
    Error e = d.refused(hotfix_of(A));
    CHECK(contains(e.message, "cannot run beside it"));
  }
  SUBCASE("a rejected release") {
    Driver d = live_release();
    d.ok(rejection(A, "carol"));
    CHECK(d.refused(hotfix_of(A)).code == ErrorCode::failed_precondition);
  }
}

TEST_CASE("an approval rule on a service set needs a second distinct operator; the author never counts") {
  Policy p = standard_policy();
  p.approval_rules.push_back(ApprovalRule{{"api"}, 2});
  Driver d(p);
  d.all_live(A);
  CHECK(required_approvals(d.release(A), p) == 2);
  d.ok(smoke_result(A, "e2e", true));
  d.clock.advance(30min);
  d.ok(SoakDeadlineReached{A});
  CHECK(d.refused(approval(A, "alice")).code == ErrorCode::forbidden);
  d.ok(approval(A, "bob"));
  CHECK(d.release(A).state == ReleaseState::soaking);
  CHECK(contains(d.release(A).state_reason, "1 of 2 approvals (by bob); another operator must approve"));
  d.ok(approval(A, "bob"));  // the same operator again does not count twice
  CHECK(d.release(A).approvals.size() == 1);
  d.ok(approval(A, "carol"));
  CHECK(d.release(A).state == ReleaseState::promoting);
  // Each approval keeps the gates as they stood when it was given.
  CHECK(contains(d.release(A).approvals[0].gate_facts, "soak: 30m of 30m complete"));
  CHECK(contains(d.release(A).approvals[1].gate_facts, "approval: 1 of 2"));

  Policy unrelated = standard_policy();
  unrelated.approval_rules.push_back(ApprovalRule{{"billing"}, 3});
  CHECK(required_approvals(d.release(A), unrelated) == 1);
}

TEST_CASE("release.ready_for_approval is announced once, when soak and smoke hold and only approval is missing") {
  Driver d;
  d.all_live(A);
  d.ok(smoke_result(A, "e2e", true));
  CHECK(effects_of<Notify>(d.last).empty());
  d.clock.advance(30min);
  d.ok(SoakDeadlineReached{A});
  auto notices = effects_of<Notify>(d.last);
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].kind == "release.ready_for_approval");
  CHECK(contains(notices[0].text, "waiting for 1 approval"));
  // A later fact that leaves only approval missing does not announce it again.
  d.ok(smoke_result(A, "e2e", true));
  CHECK(effects_of<Notify>(d.last).empty());
  const Timestamp announced = d.clock.now;
  CHECK(d.release(A).awaiting_approval_since == announced);
  // Keyed on the gates, not on the reason's wording: a reworded reason announces nothing.
  d.world.releases.at(A.str()).state_reason = "reworded for people";
  d.ok(smoke_result(A, "e2e", true));
  CHECK(effects_of<Notify>(d.last).empty());
  CHECK(d.release(A).awaiting_approval_since == announced);
  // A crash ends the wait; once soak and smoke hold again, the new wait is announced once.
  d.ok(deployment(A, "api", DeployStatus::crashed, "d-2"));
  CHECK_FALSE(d.release(A).awaiting_approval_since.has_value());
  d.ok(deployment(A, "api", DeployStatus::success, "d-3"));
  CHECK(effects_of<Notify>(d.last).empty());
  d.clock.advance(30min);
  d.ok(SoakDeadlineReached{A});
  auto again = effects_of<Notify>(d.last);
  REQUIRE(again.size() == 1);
  CHECK(again[0].kind == "release.ready_for_approval");
}

}  // namespace
}  // namespace promoter::core
