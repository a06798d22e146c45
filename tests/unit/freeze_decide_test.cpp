// Freeze windows and stop-the-line in the state machine: what holds a ready release back, the timer at the next
// boundary, the line stop's own rules, and the hotfix override.
#include <doctest/doctest.h>

#include <string>

#include "core_fixtures.hpp"

namespace promoter::core {
namespace {

using namespace std::chrono_literals;
using namespace testing;

const Sha A = sha_of(0xa);
const Sha P = sha_of(0x9);  // production

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// A window from t0 + from to t0 + until (UTC).
FreezeWindow one_off(std::string name, Duration from, Duration until) {
  return FreezeWindow{std::move(name), "launch week", OneOffWindow{t0() + from, t0() + until}};
}

std::optional<Timestamp> freeze_timer(const Decision& dec) {
  auto timers = effects_of<ArmFreezeTimer>(dec);
  if (timers.empty()) return std::nullopt;
  return timers.back().at;
}

TEST_CASE("a release whose gates hold inside a freeze window waits, says why, and starts when the window ends") {
  Policy policy = standard_policy();
  policy.freezes = {one_off("launch", 10min, 2h)};
  Driver d(policy);
  make_ready(d, A);
  const Release& r = d.release(A);
  CHECK(r.state == ReleaseState::ready);
  CHECK(contains(r.state_reason,
                 "every gate holds; waiting for the end of the freeze: launch (launch week) until "
                 "2026-11-25T05:00:00.000Z"));
  CHECK(effects_of<StartPromotion>(d.last).empty());
  CHECK_FALSE(d.world.promoting.has_value());

  // After a restart the daemon arms the timer at the window's end.
  const Decision resumed = resume(d.world, d.clock.now);
  CHECK(freeze_timer(resumed) == t0() + 2h);
  CHECK(effects_of<StartPromotion>(resumed).empty());

  // A boundary reached early (clocks differ) starts nothing and arms the same end again.
  d.clock.now = t0() + 2h - 1s;
  const Decision& early = d.ok(FreezeBoundaryReached{});
  CHECK(effects_of<StartPromotion>(early).empty());
  CHECK(freeze_timer(early) == t0() + 2h);

  d.clock.now = t0() + 2h;  // the exact end: the range is [from, until)
  const Decision& ended = d.ok(FreezeBoundaryReached{});
  CHECK(effects_of<StartPromotion>(ended).size() == 1);
  CHECK(d.release(A).state == ReleaseState::promoting);
  CHECK_FALSE(freeze_timer(ended).has_value());  // nothing more in the calendar
}

TEST_CASE("a window that opens while nothing is ready arms a timer at its start and at its end") {
  Policy policy = standard_policy();
  policy.freezes = {one_off("launch", 3h, 5h)};
  Driver d(policy);
  CHECK(freeze_timer(resume(d.world, d.clock.now)) == t0() + 3h);
  d.clock.now = t0() + 3h;
  CHECK(freeze_timer(d.ok(FreezeBoundaryReached{})) == t0() + 5h);
}

TEST_CASE("stop the line: durable, held until lifted, needs a reason, and lifting starts the waiting release") {
  Driver d;
  d.clock.advance(5min);
  CHECK(d.refused(LineStopRequested{"carol", "  ", std::nullopt}).code == ErrorCode::invalid_argument);
  CHECK(d.refused(LineStopRequested{"carol", "db incident", d.clock.now}).code == ErrorCode::invalid_argument);
  CHECK(d.refused(LineStopLifted{"carol", "all clear"}).code == ErrorCode::failed_precondition);

  const Decision& stopped = d.ok(LineStopRequested{"carol", "db incident", std::nullopt});
  REQUIRE(d.world.line_stop.has_value());
  CHECK(d.world.line_stop->by == "carol");
  CHECK(d.world.line_stop->at == d.clock.now);
  const auto changed = facts_of<LineStopChanged>(stopped);
  REQUIRE(changed.size() == 1);
  CHECK(changed[0].stop == d.world.line_stop);
  CHECK(has_audit(stopped, "environment.frozen"));
  CHECK(effects_of<Notify>(stopped).size() == 1);
  CHECK_FALSE(freeze_timer(stopped).has_value());  // no end: nothing to wake up for

  make_ready(d, A);
  CHECK(d.release(A).state == ReleaseState::ready);
  CHECK(contains(d.release(A).state_reason, "freeze: stop-the-line (carol: db incident) until further notice"));
  CHECK_FALSE(d.world.promoting.has_value());
  // A restart (the World reloaded with the stop) starts nothing either.
  CHECK(effects_of<StartPromotion>(resume(d.world, d.clock.now)).empty());

  CHECK(d.refused(LineStopLifted{"carol", ""}).code == ErrorCode::invalid_argument);
  const Decision& lifted = d.ok(LineStopLifted{"dave", "replica caught up"});
  CHECK_FALSE(d.world.line_stop.has_value());
  const auto lift = facts_of<LineStopChanged>(lifted);
  REQUIRE(lift.size() == 1);
  CHECK_FALSE(lift[0].stop.has_value());
  CHECK(lift[0].by == "dave");
  CHECK(has_audit(lifted, "environment.unfrozen"));
  CHECK(effects_of<StartPromotion>(lifted).size() == 1);
}

TEST_CASE("a line stop with an end lifts itself at that moment") {
  Driver d;
  d.ok(LineStopRequested{"carol", "migration window", t0() + 1h});
  CHECK(freeze_timer(d.last) == t0() + 1h);
  make_ready(d, A);
  CHECK(effects_of<StartPromotion>(d.last).empty());
  d.clock.now = t0() + 1h;
  CHECK(effects_of<StartPromotion>(d.ok(FreezeBoundaryReached{})).size() == 1);
  // Past its end the stop holds nothing, and there is nothing left to lift.
  CHECK(d.refused(LineStopLifted{"carol", "done"}).code == ErrorCode::failed_precondition);
}

TEST_CASE("stopping the line leaves a running promotion alone and says so") {
  Driver d;
  make_ready(d, A);
  REQUIRE(d.release(A).state == ReleaseState::promoting);
  const Decision& stopped = d.ok(LineStopRequested{"carol", "pager storm", std::nullopt});
  CHECK(d.release(A).state == ReleaseState::promoting);
  CHECK(d.world.promoting == A);
  bool said = false;
  for (const auto& a : stopped.audit) said = said || contains(a.detail, "is not touched (abort it to stop it)");
  CHECK(said);
}

TEST_CASE("a hotfix inside a freeze needs the override, which is audited and notified when it starts") {
  Policy policy = standard_policy();
  policy.freezes = {one_off("launch", 0min, 24h)};
  Driver d(policy);
  d.world.production = P;
  for (const auto& s : d.world.policy.services) {
    auto e = deployment(A, s, DeployStatus::success);
    e.ancestors = {P};
    d.ok(e);
  }
  d.ok(smoke_result(A, "e2e", true));
  HotfixRequested hotfix{A, "bob", "checkout returns 500", "https://status.example.com/incidents/42"};
  const Error refused = d.refused(hotfix);
  CHECK(refused.code == ErrorCode::failed_precondition);
  CHECK(contains(refused.message, "production is frozen (freeze: launch"));
  CHECK(contains(refused.message, "--override-freeze"));

  hotfix.override_freeze = true;
  const Decision& dec = d.ok(hotfix);
  CHECK(d.release(A).hotfix->overrides_freeze);
  CHECK(facts_of<HotfixDeclared>(dec).at(0).hotfix.overrides_freeze);
  CHECK(effects_of<StartPromotion>(dec).size() == 1);
  CHECK(has_audit(dec, "promotion.freeze_overridden"));
  bool notified = false;
  for (const auto& n : effects_of<Notify>(dec)) notified = notified || n.kind == "promotion.freeze_overridden";
  CHECK(notified);
}

}  // namespace
}  // namespace promoter::core
