#pragma once
// Shared helpers for the core unit tests: a fake clock, SHAs, a policy and event builders.
#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "core/decide.hpp"
#include "core/gates.hpp"
#include "core/policy.hpp"
#include "core/time.hpp"

namespace promoter::core::testing {

using namespace std::chrono_literals;

// 40-hex SHA whose digits encode n: sha_of(1) = "000...001".
inline Sha sha_of(int n) { return *Sha::parse(fmt::format("{:040x}", n)); }

// A fixed instant the tests count from; time only moves when a test advances it.
inline Timestamp t0() { return Timestamp{std::chrono::sys_days{std::chrono::year{2026} / 11 / 25}} + 3h; }

struct FakeClock {
  Timestamp now = t0();
  Timestamp advance(Duration d) {
    now += d;
    return now;
  }
};

// Three services in restart order, 30m soak, one required smoke suite, one approval.
inline Policy standard_policy() {
  Policy p;
  p.services = {"worker", "api", "www"};
  p.required_smoke_suites = {"e2e"};
  return p;
}

inline StagingDeploymentObserved deployment(const Sha& sha, std::string service, DeployStatus status,
                                            std::string id = {}, std::string author = "alice") {
  StagingDeploymentObserved e{
      sha,      service,           id.empty() ? fmt::format("dep-{}-{}", sha.abbrev(), service) : id,
      status,   std::move(author), std::nullopt,
      "railway"};
  return e;
}

inline SmokeResultReported smoke_result(const Sha& sha, std::string suite, bool passed) {
  return SmokeResultReported{sha, std::move(suite), passed, "smoke-runner", passed ? "" : "2 checks failed"};
}

inline ApprovalGiven approval(const Sha& sha, std::string by, std::vector<std::string> git = {}) {
  return ApprovalGiven{sha, std::move(by), std::move(git), "looks good"};
}

inline RejectionGiven rejection(const Sha& sha, std::string by, std::string reason = "breaks checkout") {
  return RejectionGiven{sha, std::move(by), std::move(reason)};
}

template <class E>
std::vector<E> effects_of(const Decision& d) {
  std::vector<E> out;
  for (const auto& e : d.effects)
    if (auto* x = std::get_if<E>(&e)) out.push_back(*x);
  return out;
}

inline bool has_audit(const Decision& d, std::string_view action) {
  for (const auto& a : d.audit)
    if (a.action == action) return true;
  return false;
}

// World::active must hold exactly the non-terminal releases.
inline void check_active_in_step(const World& w) {
  std::set<std::string> expected;
  for (const auto& [sha, r] : w.releases)
    if (!is_terminal(r.state)) expected.insert(sha);
  CHECK(w.active == expected);
}

// What the daemon does after committing a StartPromotion: the release learns its promotion id.
inline void record_promotion_id(World& w, const Sha& sha, std::int64_t id) {
  Release r = *w.find(sha);
  r.promotion_id = PromotionId{id};
  w.put(std::move(r));
}

// Drives decide/apply against one World with a fake clock, failing the test on an unexpected refusal.
struct Driver {
  World world;
  FakeClock clock;
  Decision last;

  explicit Driver(Policy p = standard_policy()) { world.policy = std::move(p); }

  // Applies an event that must be accepted; returns its decision.
  const Decision& ok(const Event& e) {
    auto d = decide(world, e, clock.now);
    INFO("event ", event_name(e), " refused: ", d ? std::string{} : d.error().message);
    REQUIRE(d.has_value());
    apply(world, *d);
    check_active_in_step(world);
    last = std::move(*d);
    return last;
  }

  // Decides an event that must be refused; returns the error. The world is not touched.
  Error refused(const Event& e) {
    auto d = decide(world, e, clock.now);
    INFO("event ", event_name(e), " was accepted but should be refused");
    REQUIRE_FALSE(d.has_value());
    return d.error();
  }

  const Release& release(const Sha& sha) const {
    const Release* r = world.find(sha);
    REQUIRE(r != nullptr);
    return *r;
  }

  void all_live(const Sha& sha, DeployStatus status = DeployStatus::success) {
    for (const auto& s : world.policy.services) ok(deployment(sha, s, status));
  }
};

// Brings A (authored by alice) to "every gate holds" at the soak deadline: live at t, smoke passed at t+1m,
// approved by bob at t+2m, deadline timer fired at t+30m. Returns the soak start.
inline Timestamp make_ready(Driver& d, const Sha& sha) {
  d.all_live(sha);
  const Timestamp live = d.clock.now;
  d.clock.advance(1min);
  d.ok(smoke_result(sha, "e2e", true));
  d.clock.advance(1min);
  d.ok(approval(sha, "bob"));
  d.clock.now = live + 30min;
  d.ok(SoakDeadlineReached{sha});
  return live;
}

}  // namespace promoter::core::testing
