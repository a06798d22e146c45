// Gate evaluation with a fake clock: each rule and the exact reason an operator reads.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/capped_list.hpp"
#include "core_fixtures.hpp"

namespace promoter::core {
namespace {

using namespace std::chrono_literals;
using testing::Driver;
using testing::FakeClock;
using testing::sha_of;
using testing::standard_policy;

Release with_deployments(std::vector<std::pair<std::string, DeployStatus>> deps) {
  Release r(sha_of(1));
  r.author = "alice";
  for (auto& [service, status] : deps)
    r.deployments[service] = StagingDeployment{service, "dep-" + service, status, {}, {}};
  return r;
}

// A release live everywhere since `since`, soak running from then.
Release live_since(Timestamp since) {
  Release r = with_deployments(
      {{"worker", DeployStatus::success}, {"api", DeployStatus::success}, {"www", DeployStatus::sleeping}});
  r.live_at = since;
  r.soak_started_at = since;
  return r;
}

TEST_CASE("soak not started at 10,000 services: the reason counts them and names the first ten") {
  Policy p = standard_policy();
  p.services.clear();
  for (int i = 0; i < 10000; ++i) p.services.push_back(fmt::format("svc{:05}", i));
  Release r(sha_of(1));
  r.deployments["svc00000"] = StagingDeployment{"svc00000", "dep", DeployStatus::success, {}, {}};
  r.deployments["svc00001"] = StagingDeployment{"svc00001", "dep", DeployStatus::success, {}, {}};
  r.deployments["svc00002"] = StagingDeployment{"svc00002", "dep", DeployStatus::building, {}, {}};
  const GateStatus g = soak_gate(r, p, Timestamp{});
  CHECK_FALSE(g.ok);
  CHECK(g.reason ==
        "soak: not started (waiting for 9998 services: svc00002 is BUILDING, svc00003 not deployed, svc00004 not "
        "deployed, svc00005 not deployed, svc00006 not deployed, svc00007 not deployed, svc00008 not deployed, "
        "svc00009 not deployed, svc00010 not deployed, svc00011 not deployed, … and 9988 more)");
}

TEST_CASE("capped lists spell out up to the cap and count the rest") {
  CHECK(capped_list({}) == "");
  CHECK(capped_list({"a"}) == "a");
  CHECK(capped_list({"a", "b", "c"}, 3) == "a, b, c");
  CHECK(capped_list({"a", "b", "c", "d"}, 3) == "a, b, c, … and 1 more");
}

TEST_CASE("soak not started: the reason names each service that is not live and its status") {
  const Policy p = standard_policy();
  struct Case {
    std::vector<std::pair<std::string, DeployStatus>> deps;
    std::string reason;
  };
  const Case cases[] = {
      {{}, "soak: not started (worker not deployed, api not deployed, www not deployed)"},
      {{{"api", DeployStatus::building}}, "soak: not started (worker not deployed, api is BUILDING, www not deployed)"},
      {{{"worker", DeployStatus::success}, {"api", DeployStatus::crashed}, {"www", DeployStatus::deploying}},
       "soak: not started (api is CRASHED, www is DEPLOYING)"},
      {{{"worker", DeployStatus::failed}, {"api", DeployStatus::success}, {"www", DeployStatus::success}},
       "soak: not started (worker is FAILED)"},
      // every service healthy but the soak clock not yet running (not refreshed yet)
      {{{"worker", DeployStatus::success}, {"api", DeployStatus::success}, {"www", DeployStatus::success}},
       "soak: not started (waiting for staging)"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.reason);
    const GateStatus g = soak_gate(with_deployments(c.deps), p, testing::t0());
    CHECK_FALSE(g.ok);
    CHECK(g.reason == c.reason);
  }
}

TEST_CASE("soak reports elapsed time of the policy soak in whole seconds while it runs") {
  const Policy p = standard_policy();
  FakeClock clock;
  const Release r = live_since(clock.now);
  struct Case {
    Duration elapsed;
    std::string reason;
  };
  const Case cases[] = {
      {1s, "soak: 1s of 30m"},
      {1s + 999ms, "soak: 1s of 30m"},
      {12min + 40s, "soak: 12m40s of 30m"},
      {12min + 40s + 999ms, "soak: 12m40s of 30m"},
      {29min + 59s + 999ms, "soak: 29m59s of 30m"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.reason);
    const GateStatus g = soak_gate(r, p, clock.now + c.elapsed);
    CHECK_FALSE(g.ok);
    CHECK(g.reason == c.reason);
  }
}

TEST_CASE("soak completes at exactly the deadline, not a millisecond before") {
  const Policy p = standard_policy();
  FakeClock clock;
  const Release r = live_since(clock.now);
  clock.advance(30min - 1ms);
  CHECK_FALSE(soak_gate(r, p, clock.now).ok);
  clock.advance(1ms);
  const GateStatus g = soak_gate(r, p, clock.now);
  CHECK(g.ok);
  CHECK(g.reason == "soak: 30m of 30m complete");
  clock.advance(5h);
  CHECK(soak_gate(r, p, clock.now).ok);
}

TEST_CASE("soak reason counts resets by a crash") {
  const Policy p = standard_policy();
  FakeClock clock;
  Release r = live_since(clock.now);
  r.soak_resets = 1;
  CHECK(soak_gate(r, p, clock.now + 5min).reason == "soak: 5m of 30m (reset 1 time by a crash)");
  r.soak_resets = 3;
  CHECK(soak_gate(r, p, clock.now + 5min).reason == "soak: 5m of 30m (reset 3 times by a crash)");
}

TEST_CASE("a soak clock reading in the future shows no elapsed time rather than a negative one") {
  const Policy p = standard_policy();
  FakeClock clock;
  const Release r = live_since(clock.now + 1min);
  const GateStatus g = soak_gate(r, p, clock.now);
  CHECK_FALSE(g.ok);
  CHECK(g.reason.starts_with("soak: 0"));
  CHECK(g.reason.find('-') == std::string::npos);
  CHECK(g.reason.ends_with(" of 30m"));
}

TEST_CASE("evaluate_gates gives the soak deadline from the current soak start") {
  const Policy p = standard_policy();
  FakeClock clock;
  const Release running = live_since(clock.now);
  auto report = evaluate_gates(running, p, clock.now + 1min);
  REQUIRE(report.soak_deadline.has_value());
  CHECK(*report.soak_deadline == clock.now + 30min);

  const Release not_live = with_deployments({{"api", DeployStatus::building}});
  CHECK_FALSE(evaluate_gates(not_live, p, clock.now).soak_deadline.has_value());
}

TEST_CASE("smoke gate: missing, failed, reported before live, and passed") {
  const Policy p = standard_policy();  // requires suite "e2e"
  FakeClock clock;
  const Timestamp live = clock.now;
  struct Case {
    const char* name;
    std::optional<SmokeResult> e2e;
    bool live;
    bool ok;
    std::string reason;
  };
  const Case cases[] = {
      {"missing", std::nullopt, true, false, "smoke: suite e2e has not reported"},
      {"failed", SmokeResult{"e2e", false, "ci", live + 1min, ""}, true, false, "smoke: suite e2e failed"},
      {"before live", SmokeResult{"e2e", true, "ci", live - 1ms, ""}, true, false,
       "smoke: suite e2e reported before the release went live on staging"},
      {"release never live", SmokeResult{"e2e", true, "ci", live, ""}, false, false,
       "smoke: suite e2e reported before the release went live on staging"},
      {"passed at the live moment", SmokeResult{"e2e", true, "ci", live, ""}, true, true, "smoke: e2e passed"},
      {"passed after live", SmokeResult{"e2e", true, "ci", live + 3min, ""}, true, true, "smoke: e2e passed"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Release r = live_since(live);
    if (!c.live) {
      r.live_at.reset();
      r.soak_started_at.reset();
    }
    if (c.e2e) r.smoke["e2e"] = *c.e2e;
    const GateStatus g = smoke_gate(r, p);
    CHECK(g.ok == c.ok);
    CHECK(g.reason == c.reason);
  }
}

TEST_CASE("smoke gate needs every required suite and lists each one that is missing") {
  Policy p = standard_policy();
  p.required_smoke_suites = {"e2e", "checkout", "login"};
  FakeClock clock;
  Release r = live_since(clock.now);
  r.smoke["e2e"] = SmokeResult{"e2e", true, "ci", clock.now + 1min, ""};
  r.smoke["login"] = SmokeResult{"login", false, "ci", clock.now + 1min, ""};
  GateStatus g = smoke_gate(r, p);
  CHECK_FALSE(g.ok);
  CHECK(g.reason == "smoke: suite checkout has not reported; suite login failed");

  r.smoke["checkout"] = SmokeResult{"checkout", true, "ci", clock.now + 2min, ""};
  r.smoke["login"] = SmokeResult{"login", true, "ci", clock.now + 2min, ""};
  r.smoke["unrelated"] = SmokeResult{"unrelated", false, "ci", clock.now + 2min, ""};  // not required: ignored
  g = smoke_gate(r, p);
  CHECK(g.ok);
  CHECK(g.reason == "smoke: e2e, checkout, login passed");
}

TEST_CASE("smoke gate holds without results when the policy does not require smoke") {
  Policy p = standard_policy();
  p.require_smoke = false;
  const Release r = with_deployments({});
  const GateStatus g = smoke_gate(r, p);
  CHECK(g.ok);
  CHECK(g.reason == "smoke: not required by policy");
}

TEST_CASE("approval gate: none, by another operator, count against approvals_required, rejection blocks") {
  FakeClock clock;
  struct Case {
    const char* name;
    int required;
    std::vector<std::string> approvers;
    std::optional<Verdict> rejection;
    bool ok;
    std::string reason;
  };
  const Case cases[] = {
      {"none", 1, {}, std::nullopt, false, "approval: waiting for 1 approval by an operator other than the author"},
      {"none of two",
       2,
       {},
       std::nullopt,
       false,
       "approval: waiting for 2 approvals by distinct operators other than the author"},
      {"by another", 1, {"bob"}, std::nullopt, true, "approval: approved by bob"},
      {"one of two",
       2,
       {"bob"},
       std::nullopt,
       false,
       "approval: 1 of 2 approvals (by bob); another operator must approve"},
      {"two of two", 2, {"bob", "carol"}, std::nullopt, true, "approval: approved by bob, carol"},
      {"more than needed", 1, {"bob", "carol"}, std::nullopt, true, "approval: approved by bob, carol"},
      {"rejection blocks approvals",
       1,
       {"bob"},
       Verdict{"carol", clock.now, "breaks checkout"},
       false,
       "approval: rejected by carol: breaks checkout"},
      {"rejection alone", 1, {}, Verdict{"carol", clock.now, "no"}, false, "approval: rejected by carol: no"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Policy p = standard_policy();
    p.approvals_required = c.required;
    Release r = live_since(clock.now);
    for (const auto& by : c.approvers) r.approvals.push_back(Verdict{by, clock.now, "ok"});
    r.rejection = c.rejection;
    const GateStatus g = approval_gate(r, p);
    CHECK(g.ok == c.ok);
    CHECK(g.reason == c.reason);
  }
}

TEST_CASE("all gates hold only when soak, smoke and approval each hold") {
  const Policy p = standard_policy();
  FakeClock clock;
  Release r = live_since(clock.now);
  r.smoke["e2e"] = SmokeResult{"e2e", true, "ci", clock.now + 1min, ""};
  r.approvals.push_back(Verdict{"bob", clock.now, "ok"});
  CHECK_FALSE(evaluate_gates(r, p, clock.now + 29min).all_ok());
  CHECK(evaluate_gates(r, p, clock.now + 30min).all_ok());

  Release no_smoke = r;
  no_smoke.smoke.clear();
  CHECK_FALSE(evaluate_gates(no_smoke, p, clock.now + 30min).all_ok());

  Release no_approval = r;
  no_approval.approvals.clear();
  CHECK_FALSE(evaluate_gates(no_approval, p, clock.now + 30min).all_ok());

  Release rejected = r;
  rejected.rejection = Verdict{"carol", clock.now, "no"};
  CHECK_FALSE(evaluate_gates(rejected, p, clock.now + 30min).all_ok());
}

TEST_CASE("approval gate: a commit author no configured identity matches is named in the reason") {
  Policy p = standard_policy();
  p.known_identities = {"alice", "bob"};
  Release r = live_since(testing::t0());
  r.author = "mallory";
  const GateStatus g = approval_gate(r, p);
  CHECK_FALSE(g.ok);
  CHECK(g.reason ==
        "approval: waiting for 1 approval by an operator other than the author; the commit author mallory matches "
        "no configured identity or git_authors entry, so approvals cannot be checked against it: add it to the "
        "git_authors of its operator's token");
  r.author = " Alice";  // known, however spelled
  CHECK(approval_gate(r, p).reason == "approval: waiting for 1 approval by an operator other than the author");
  p.known_identities.clear();  // no tokens configured: nothing to compare with
  r.author = "mallory";
  CHECK(approval_gate(r, p).reason == "approval: waiting for 1 approval by an operator other than the author");
}

TEST_CASE("a soaking release's state_reason counts the soak as of now, not as of its last event") {
  const Sha A = sha_of(0xa);
  Driver d;
  d.all_live(A);  // the soak starts now; the stored reason says so
  const Timestamp live = d.clock.now;
  const std::string stored = d.release(A).state_reason;
  CHECK(stored.starts_with("waiting for soak: 0s of 30m;"));
  d.clock.now = live + 10s;
  CHECK(d.release(A).state_reason == stored);  // nothing happened: nothing was stored
  CHECK(state_reason_at(d.release(A), d.world.policy, d.clock.now) ==
        "waiting for soak: 10s of 30m; smoke: suite e2e has not reported; approval: waiting for 1 approval by an "
        "operator other than the author");
  CHECK(state_reason_at(d.release(A), d.world.policy, d.clock.now) ==
        "waiting for " + evaluate_gates(d.release(A), d.world.policy, d.clock.now).soak.reason +
            "; smoke: suite e2e has not reported; approval: waiting for 1 approval by an operator other than the "
            "author");
  // Other states' reasons do not depend on the time.
  Release rejected = d.release(A);
  rejected.state = ReleaseState::rejected;
  rejected.state_reason = "rejected by bob: breaks checkout";
  CHECK(state_reason_at(rejected, d.world.policy, d.clock.now) == "rejected by bob: breaks checkout");
}

}  // namespace
}  // namespace promoter::core
