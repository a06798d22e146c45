// The promotion plan: step order from the policy, walking the journal, step transitions, idempotency keys.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "core/promotion_plan.hpp"
#include "core_fixtures.hpp"

namespace promoter::core {
namespace {

std::vector<std::string> names(const PromotionPlan& plan) {
  std::vector<std::string> out;
  for (const auto& s : plan.steps) out.push_back(s.name());
  return out;
}

TEST_CASE("make_plan orders preflight, migrate, one deploy per service in restart order, verify, record") {
  const Policy p = testing::standard_policy();  // services worker, api, www
  const PromotionPlan plan = make_plan(p);
  CHECK(names(plan) == std::vector<std::string>{"preflight", "migrate", "deploy:worker", "deploy:api", "deploy:www",
                                                "verify", "record"});
  for (std::size_t i = 0; i < plan.steps.size(); ++i) CHECK(plan.steps[i].index == static_cast<int>(i));
  CHECK(plan.steps[2].kind == StepKind::deploy);
  CHECK(plan.steps[2].service == "worker");
  CHECK(plan.steps[0].service.empty());
}

TEST_CASE("make_plan follows the configured restart order, not alphabetical order") {
  Policy p = testing::standard_policy();
  p.services = {"www", "worker", "api"};
  CHECK(names(make_plan(p)) == std::vector<std::string>{"preflight", "migrate", "deploy:www", "deploy:worker",
                                                        "deploy:api", "verify", "record"});
}

TEST_CASE("make_plan omits migrate and verify when the policy says so") {
  struct Case {
    bool migrations, verify;
    std::vector<std::string> expected;
  };
  const Case cases[] = {
      {true, true, {"preflight", "migrate", "deploy:api", "verify", "record"}},
      {false, true, {"preflight", "deploy:api", "verify", "record"}},
      {true, false, {"preflight", "migrate", "deploy:api", "record"}},
      {false, false, {"preflight", "deploy:api", "record"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.migrations);
    CAPTURE(c.verify);
    Policy p = testing::standard_policy();
    p.services = {"api"};
    p.run_migrations = c.migrations;
    p.verify_after_deploy = c.verify;
    const PromotionPlan plan = make_plan(p);
    CHECK(names(plan) == c.expected);
    for (std::size_t i = 0; i < plan.steps.size(); ++i) CHECK(plan.steps[i].index == static_cast<int>(i));
  }
}

TEST_CASE("next_step walks the journal: run the first planned step, reconcile a started one, stop at a failure") {
  using S = StepState;
  using K = NextStep::Kind;
  struct Case {
    const char* name;
    std::vector<S> journal;
    K kind;
    int index;
  };
  const Case cases[] = {
      {"fresh plan", {S::planned, S::planned, S::planned}, K::run, 0},
      {"first done", {S::succeeded, S::planned, S::planned}, K::run, 1},
      {"crash during step 1", {S::succeeded, S::started, S::planned}, K::reconcile, 1},
      {"crash during the last step", {S::succeeded, S::succeeded, S::started}, K::reconcile, 2},
      {"failed step stops", {S::succeeded, S::failed, S::planned}, K::stopped, 1},
      {"failed first step stops", {S::failed, S::planned}, K::stopped, 0},
      {"all succeeded", {S::succeeded, S::succeeded, S::succeeded}, K::done, -1},
      {"empty plan", {}, K::done, -1},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const NextStep n = next_step(c.journal);
    CHECK(n.kind == c.kind);
    CHECK(n.index == c.index);
  }
}

TEST_CASE("next_step never offers a step while an earlier one has not succeeded") {
  // Exhaustive over every journal of 4 steps.
  const StepState states[] = {StepState::planned, StepState::started, StepState::succeeded, StepState::failed};
  for (int code = 0; code < 256; ++code) {
    std::vector<StepState> j;
    for (int i = 0; i < 4; ++i) j.push_back(states[(code >> (2 * i)) & 3]);
    CAPTURE(code);
    const NextStep n = next_step(j);
    if (n.kind == NextStep::Kind::done) {
      for (auto s : j) CHECK(s == StepState::succeeded);
      continue;
    }
    REQUIRE(n.index >= 0);
    REQUIRE(n.index < 4);
    for (int i = 0; i < n.index; ++i) CHECK(j[i] == StepState::succeeded);
    CHECK(j[n.index] != StepState::succeeded);
    const NextStep::Kind expected = j[n.index] == StepState::planned   ? NextStep::Kind::run
                                    : j[n.index] == StepState::started ? NextStep::Kind::reconcile
                                                                       : NextStep::Kind::stopped;
    CHECK(n.kind == expected);
  }
}

TEST_CASE("check_step_transition allows planned->started->succeeded|failed and started->started only") {
  const StepState all[] = {StepState::planned, StepState::started, StepState::succeeded, StepState::failed};
  const std::set<std::pair<StepState, StepState>> allowed = {
      {StepState::planned, StepState::started},
      {StepState::started, StepState::started},
      {StepState::started, StepState::succeeded},
      {StepState::started, StepState::failed},
  };
  for (StepState from : all)
    for (StepState to : all) {
      CAPTURE(std::string(to_string(from)));
      CAPTURE(std::string(to_string(to)));
      auto r = check_step_transition(from, to);
      CHECK(r.has_value() == allowed.contains({from, to}));
      if (!r) {
        CHECK(r.error().code == ErrorCode::conflict);
        CHECK(r.error().message ==
              "a step cannot go from " + std::string(to_string(from)) + " to " + std::string(to_string(to)));
      }
    }
}

TEST_CASE("idempotency keys are distinct per step and per promotion, and stable") {
  Policy p = testing::standard_policy();
  const PromotionPlan plan = make_plan(p);
  std::set<std::string> keys;
  for (std::int64_t id : {1, 2, 12}) {
    for (const auto& step : plan.steps) {
      const std::string key = idempotency_key(PromotionId{id}, step);
      CHECK(key == idempotency_key(PromotionId{id}, step));
      CHECK(key.find(step.name()) != std::string::npos);
      keys.insert(key);
    }
  }
  CHECK(keys.size() == 3 * plan.steps.size());
  CHECK(idempotency_key(PromotionId{7}, plan.steps[2]) == "promotion-7-step-2-deploy:worker");
}

TEST_CASE("an abort stops a plan before preflight, migrate and deploy steps, never before verify or record") {
  CHECK(abort_stops_before(StepKind::preflight));
  CHECK(abort_stops_before(StepKind::migrate));
  CHECK(abort_stops_before(StepKind::deploy));
  CHECK_FALSE(abort_stops_before(StepKind::verify));
  CHECK_FALSE(abort_stops_before(StepKind::record));
}

TEST_CASE("production_changes names what a stopped plan changed, may have changed, and left alone") {
  const PromotionPlan plan = make_plan(testing::standard_policy());
  REQUIRE(plan.steps.size() == 7);  // preflight, migrate, worker, api, www, verify, record
  using S = StepState;
  const std::vector<S> mid{S::succeeded, S::succeeded, S::succeeded, S::started, S::planned, S::planned, S::planned};
  CHECK(production_changes(plan.steps, mid) ==
        "already changed: migrate, deploy:worker; may have changed in part: deploy:api; not touched: deploy:www");
  const std::vector<S> start(7, S::planned);
  CHECK(production_changes(plan.steps, start) ==
        "already changed: nothing; not touched: migrate, deploy:worker, deploy:api, deploy:www");
  const std::vector<S> failed{S::succeeded, S::failed, S::planned, S::planned, S::planned, S::planned, S::planned};
  CHECK(production_changes(plan.steps, failed) ==
        "already changed: nothing; not touched: deploy:worker, deploy:api, deploy:www");
}

TEST_CASE("step kinds and states round-trip through their names; unknown names are rejected") {
  for (StepKind k : {StepKind::preflight, StepKind::migrate, StepKind::deploy, StepKind::verify, StepKind::record})
    CHECK(parse_step_kind(to_string(k)) == k);
  for (StepState s : {StepState::planned, StepState::started, StepState::succeeded, StepState::failed})
    CHECK(parse_step_state(to_string(s)) == s);
  CHECK_FALSE(parse_step_kind("rollback").has_value());
  CHECK_FALSE(parse_step_kind("Deploy").has_value());
  CHECK_FALSE(parse_step_state("running").has_value());
  CHECK_FALSE(parse_step_state("").has_value());
}

}  // namespace
}  // namespace promoter::core
