// Rollback in the state machine: the operator's rollback (at once, or after the running promotion stopped), the
// pin it leaves and resume, the automatic rollback on a failed verify and its links, and a restart in between.
#include <doctest/doctest.h>

#include <string>

#include "core/preflight.hpp"
#include "core_fixtures.hpp"

namespace promoter::core {
namespace {

using namespace std::chrono_literals;
using namespace testing;

const Sha A = sha_of(0xa);
const Sha B = sha_of(0xb);
const Sha C = sha_of(0xc);

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// Promotes `sha` through its whole course: ready, started (promotion `id`), succeeded.
void promote(Driver& d, const Sha& sha, std::int64_t id) {
  make_ready(d, sha);
  REQUIRE(d.release(sha).state == ReleaseState::promoting);
  record_promotion_id(d.world, sha, id);
  d.ok(PromotionFinished{sha, PromotionId{id}, PromotionOutcome::succeeded, "", false});
  REQUIRE(d.world.production == sha);
}

// What the daemon does after committing a RollbackStarted fact: the rollback learns its promotion id.
void number_rollback(World& w, std::int64_t id) {
  REQUIRE(w.rollback.has_value());
  w.rollback->promotion_id = PromotionId{id};
}

// The history the store would give: newest first.
std::vector<ProductionEntry> history(std::vector<std::pair<Sha, std::vector<std::string>>> newest_first) {
  std::vector<ProductionEntry> out;
  std::int64_t id = 100;
  for (auto& [sha, migrations] : newest_first)
    out.push_back(ProductionEntry{sha, PromotionId{id--}, t0(), std::move(migrations)});
  return out;
}

RollbackRequested rollback_to(std::optional<Sha> to, std::vector<ProductionEntry> h, bool accept = false) {
  return RollbackRequested{"carol", "checkout broke", std::move(to), accept, std::move(h), "db:migrate: nothing"};
}

TEST_CASE("an operator's rollback starts at once, ignores the freeze, restores production and pins it") {
  Driver d;
  promote(d, A, 7 - 1);
  promote(d, B, 7);
  // A freeze holds promotions back, never a rollback.
  d.world.policy.freezes = {FreezeWindow{"launch", "launch week", OneOffWindow{d.clock.now, d.clock.now + 1000h}}};

  CHECK(d.refused(RollbackRequested{"carol", " ", std::nullopt, false, history({{B, {}}, {A, {}}}), ""}).code ==
        ErrorCode::invalid_argument);
  const Decision& requested = d.ok(rollback_to(std::nullopt, history({{B, {}}, {A, {}}})));
  REQUIRE(d.world.rollback.has_value());
  CHECK(d.world.rollback->target == A);
  CHECK(d.world.rollback->trigger == RollbackTrigger::operator_request);
  CHECK_FALSE(d.world.rollback->after.has_value());
  CHECK(facts_of<RollbackOpened>(requested).size() == 1);
  const auto started = facts_of<RollbackStarted>(requested);
  REQUIRE(started.size() == 1);
  // Its own plan: no migrate, no tag; services in reverse restart order.
  std::vector<std::string> names;
  for (const auto& s : started[0].plan.steps) names.push_back(s.name());
  CHECK(names ==
        std::vector<std::string>{"preflight", "deploy:www", "deploy:api", "deploy:worker", "verify", "record"});
  CHECK(effects_of<StartPromotion>(requested).size() == 1);
  CHECK(effects_of<StartPromotion>(requested)[0].sha == A);
  CHECK(has_audit(requested, "rollback.requested"));

  number_rollback(d.world, 8);
  auto preflight = preflight_verdict(d.world, A, PromotionId{8}, d.clock.now);
  REQUIRE(preflight.has_value());
  CHECK(contains(*preflight, "rollback to"));
  CHECK_FALSE(preflight_verdict(d.world, A, PromotionId{9}, d.clock.now).has_value());

  // A second rollback while one runs is a conflict; resume before it ends is refused.
  CHECK(d.refused(rollback_to(std::nullopt, history({{B, {}}, {A, {}}}))).code == ErrorCode::conflict);
  CHECK(d.refused(ResumeRequested{"carol", "fixed"}).code == ErrorCode::failed_precondition);

  const Decision& ended = d.ok(PromotionFinished{A, PromotionId{8}, PromotionOutcome::succeeded, "", false});
  CHECK(d.world.production == A);
  CHECK_FALSE(d.world.rollback.has_value());
  REQUIRE(d.world.pin.has_value());
  CHECK(d.world.pin->by == "carol");
  CHECK(contains(d.world.pin->reason, "checkout broke"));
  CHECK(facts_of<ProductionSet>(ended).size() == 1);
  CHECK(facts_of<RollbackEnded>(ended).size() == 1);
  CHECK(facts_of<PinChanged>(ended).size() == 1);
  CHECK(has_audit(ended, "rollback.succeeded"));
}

TEST_CASE("the pin holds every ready release until an operator resumes, and shows in its reason") {
  Driver d;
  promote(d, A, 1);
  promote(d, B, 2);
  d.ok(rollback_to(std::nullopt, history({{B, {}}, {A, {}}})));
  number_rollback(d.world, 3);
  d.ok(PromotionFinished{A, PromotionId{3}, PromotionOutcome::succeeded, "", false});
  REQUIRE(d.world.pin.has_value());

  make_ready(d, C);
  CHECK(d.release(C).state == ReleaseState::ready);
  CHECK(effects_of<StartPromotion>(d.last).empty());
  CHECK(contains(d.release(C).state_reason, "environment pinned by carol at"));
  CHECK(contains(d.release(C).state_reason, "promotectl resume"));

  CHECK(d.refused(ResumeRequested{"carol", " "}).code == ErrorCode::invalid_argument);
  const Decision& resumed = d.ok(ResumeRequested{"dave", "checkout fixed in C"});
  CHECK_FALSE(d.world.pin.has_value());
  CHECK(has_audit(resumed, "environment.resumed"));
  REQUIRE(effects_of<StartPromotion>(resumed).size() == 1);
  CHECK(effects_of<StartPromotion>(resumed)[0].sha == C);
  CHECK(d.refused(ResumeRequested{"dave", "again"}).code == ErrorCode::failed_precondition);
}

TEST_CASE("a failed rollback pins too: production may run a mix") {
  Driver d;
  promote(d, A, 1);
  promote(d, B, 2);
  d.ok(rollback_to(A, history({{B, {}}, {A, {}}})));
  number_rollback(d.world, 3);
  const Decision& failed =
      d.ok(PromotionFinished{A, PromotionId{3}, PromotionOutcome::failed, "deploy:api failed", false});
  CHECK(d.world.production == B);
  REQUIRE(d.world.pin.has_value());
  CHECK(contains(d.world.pin->reason, "production may run a mix"));
  CHECK(has_audit(failed, "rollback.failed"));
  CHECK(facts_of<ProductionSet>(failed).empty());
}

TEST_CASE("a rollback during a promotion asks it to stop, waits, and runs when it has ended") {
  Driver d;
  promote(d, A, 1);
  make_ready(d, B);
  record_promotion_id(d.world, B, 2);
  REQUIRE(d.world.promoting == B);
  // The running promotion comes first in the history: the rollback goes to what ran before it.
  const Decision& requested = d.ok(rollback_to(std::nullopt, history({{B, {"0007_plans.sql"}}, {A, {}}}), true));
  REQUIRE(d.world.rollback.has_value());
  CHECK(d.world.rollback->target == A);
  CHECK(d.world.rollback->after == PromotionId{2});
  CHECK(d.world.rollback->migrations_since == std::vector<std::string>{"0007_plans.sql"});
  CHECK(facts_of<RollbackStarted>(requested).empty());
  const auto aborts = effects_of<AbortPromotion>(requested);
  REQUIRE(aborts.size() == 1);
  CHECK(aborts[0].promotion_id == PromotionId{2});
  CHECK(aborts[0].by == "carol");

  // A restart in between asks for the abort again (the first request may not have been made).
  const Decision again = resume(d.world, d.clock.now);
  CHECK(effects_of<AbortPromotion>(again).size() == 1);
  CHECK(effects_of<StartPromotion>(again).empty());

  const Decision& stopped =
      d.ok(PromotionFinished{B, PromotionId{2}, PromotionOutcome::aborted, "by carol before deploy:api", false});
  CHECK(d.release(B).state == ReleaseState::promotion_aborted);
  CHECK(facts_of<RollbackStarted>(stopped).size() == 1);
  REQUIRE(effects_of<StartPromotion>(stopped).size() == 1);
  CHECK(effects_of<StartPromotion>(stopped)[0].sha == A);
}

TEST_CASE("a rollback the daemon owed when it stopped starts on resume once no promotion runs") {
  Driver d;
  promote(d, A, 1);
  promote(d, B, 2);
  World w = d.world;
  w.rollback = Rollback{A, "carol", "checkout broke", RollbackTrigger::operator_request, t0(), PromotionId{3}};
  w.rollback->promotion_id.reset();
  const Decision resumed = resume(w, d.clock.now);
  CHECK(facts_of<RollbackStarted>(resumed).size() == 1);
  CHECK(effects_of<StartPromotion>(resumed).size() == 1);
}

TEST_CASE("the schema refusal names the migrations since the target, and --accept-schema records them") {
  Driver d;
  promote(d, A, 1);
  promote(d, B, 2);
  const auto h = history({{B, {"0008_quota.sql (PR #12 https://github.com/acme/app/pull/12)"}}, {A, {}}});
  const Error refused = d.refused(rollback_to(std::nullopt, h, false));
  CHECK(refused.code == ErrorCode::failed_precondition);
  CHECK(contains(refused.message, "0008_quota.sql (PR #12"));
  CHECK(contains(refused.message, "--accept-schema"));
  CHECK_FALSE(d.world.rollback.has_value());
  // A target that was never production is refused with the valid ones.
  const Error never = d.refused(RollbackRequested{"carol", "x", C, true, h, ""});
  CHECK(contains(never.message, "valid targets"));
  const Decision& accepted = d.ok(rollback_to(std::nullopt, h, true));
  CHECK(d.world.rollback->migrations_since.size() == 1);
  bool audited = false;
  for (const auto& a : accepted.audit)
    if (a.action == "rollback.requested")
      audited = contains(a.detail, "0008_quota.sql") && contains(a.detail, "--accept-schema");
  CHECK(audited);
}

TEST_CASE("a verify that fails after every deploy rolls back by itself under on_verify_failure = rollback") {
  Policy policy = standard_policy();
  policy.rollback_on_verify_failure = true;
  Driver d(policy);
  promote(d, A, 1);
  make_ready(d, B);
  record_promotion_id(d.world, B, 2);
  const Decision& failed =
      d.ok(PromotionFinished{B, PromotionId{2}, PromotionOutcome::failed, "verify: checkout 500", true});
  CHECK(d.release(B).state == ReleaseState::promotion_failed);
  REQUIRE(d.world.rollback.has_value());
  CHECK(d.world.rollback->target == A);
  CHECK(d.world.rollback->trigger == RollbackTrigger::verify_failure);
  CHECK(d.world.rollback->after == PromotionId{2});  // the failed promotion, linked
  CHECK(facts_of<RollbackStarted>(failed).size() == 1);
  CHECK(effects_of<StartPromotion>(failed).size() == 1);
  number_rollback(d.world, 3);
  d.ok(PromotionFinished{A, PromotionId{3}, PromotionOutcome::succeeded, "", false});
  CHECK(d.world.production == A);
  CHECK(d.world.pin.has_value());
}

TEST_CASE("without on_verify_failure = rollback, or when another step failed, nothing rolls back") {
  SUBCASE("stop (the default)") {
    Driver d;
    promote(d, A, 1);
    make_ready(d, B);
    record_promotion_id(d.world, B, 2);
    d.ok(PromotionFinished{B, PromotionId{2}, PromotionOutcome::failed, "verify: checkout 500", true});
    CHECK_FALSE(d.world.rollback.has_value());
    CHECK_FALSE(d.world.pin.has_value());
  }
  SUBCASE("a deploy failed (verify never ran)") {
    Policy policy = standard_policy();
    policy.rollback_on_verify_failure = true;
    Driver d(policy);
    promote(d, A, 1);
    make_ready(d, B);
    record_promotion_id(d.world, B, 2);
    d.ok(PromotionFinished{B, PromotionId{2}, PromotionOutcome::failed, "deploy:api failed", false});
    CHECK_FALSE(d.world.rollback.has_value());
  }
}

}  // namespace
}  // namespace promoter::core
