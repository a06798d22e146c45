// The rules that walk a promotion: what comes next from the plan, the journal and an abort request; how a
// step's result and a reconcile's answer settle a step; the preflight re-check.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/decide.hpp"
#include "core/preflight.hpp"
#include "core/promotion_rules.hpp"
#include "core_fixtures.hpp"

namespace promoter::core {
namespace {

using S = StepState;
using namespace std::chrono_literals;

// preflight, migrate, deploy:worker, deploy:api, deploy:www, verify, record
PromotionPlan standard_plan() { return make_plan(testing::standard_policy()); }

std::vector<JournalEntry> journal(std::vector<S> states) {
  std::vector<JournalEntry> out;
  for (S s : states) out.push_back(JournalEntry{s, "", false});
  return out;
}

const AbortRequest alice_abort{"alice", testing::t0(), "wrong build"};

TEST_CASE("decide_step: each row of the rules") {
  const PromotionPlan plan = standard_plan();
  REQUIRE(plan.steps.size() == 7);
  struct Row {
    const char* name;
    std::vector<S> states;
    bool abort;
    std::variant<PerformStep, ReconcileStep, FinishPromotion> expected;
  };
  const std::vector<Row> rows = {
      {"a fresh plan performs preflight",
       {S::planned, S::planned, S::planned, S::planned, S::planned, S::planned, S::planned},
       false,
       PerformStep{0}},
      {"the first planned step after succeeded ones is performed",
       {S::succeeded, S::succeeded, S::succeeded, S::planned, S::planned, S::planned, S::planned},
       false,
       PerformStep{3}},
      {"every step succeeded: the promotion succeeded",
       {S::succeeded, S::succeeded, S::succeeded, S::succeeded, S::succeeded, S::succeeded, S::succeeded},
       false,
       FinishPromotion{PromotionOutcome::succeeded, "", ""}},
      {"crash resume: a step left started is reconciled",
       {S::succeeded, S::succeeded, S::started, S::planned, S::planned, S::planned, S::planned},
       false,
       ReconcileStep{2}},
      {"crash resume with an abort standing: reconciled first",
       {S::succeeded, S::succeeded, S::succeeded, S::started, S::planned, S::planned, S::planned},
       true,
       ReconcileStep{3}},
      {"crash resume of the record step: reconciled",
       {S::succeeded, S::succeeded, S::succeeded, S::succeeded, S::succeeded, S::succeeded, S::started},
       false,
       ReconcileStep{6}},
      {"abort before preflight",
       {S::planned, S::planned, S::planned, S::planned, S::planned, S::planned, S::planned},
       true,
       FinishPromotion{PromotionOutcome::aborted,
                       "by alice: wrong build; stopped before preflight; already changed: nothing; not touched: "
                       "migrate, deploy:worker, deploy:api, deploy:www",
                       "before preflight"}},
      {"abort before a deploy, after the migration",
       {S::succeeded, S::succeeded, S::succeeded, S::planned, S::planned, S::planned, S::planned},
       true,
       FinishPromotion{PromotionOutcome::aborted,
                       "by alice: wrong build; stopped before deploy:api; already changed: migrate, deploy:worker; "
                       "not touched: deploy:api, deploy:www",
                       "before deploy:api"}},
      {"abort not honoured once every production-changing step succeeded: verify runs",
       {S::succeeded, S::succeeded, S::succeeded, S::succeeded, S::succeeded, S::planned, S::planned},
       true,
       PerformStep{5}},
      {"abort not honoured before record",
       {S::succeeded, S::succeeded, S::succeeded, S::succeeded, S::succeeded, S::succeeded, S::planned},
       true,
       PerformStep{6}},
      {"a failed migration fails the promotion, nothing deployed",
       {S::succeeded, S::failed, S::planned, S::planned, S::planned, S::planned, S::planned},
       false,
       FinishPromotion{PromotionOutcome::failed,
                       "step migrate failed: boom; already changed: nothing; not touched: deploy:worker, deploy:api, "
                       "deploy:www",
                       ""}},
      {"a failed verify fails the promotion even when an abort stands",
       {S::succeeded, S::succeeded, S::succeeded, S::succeeded, S::succeeded, S::failed, S::planned},
       true,
       FinishPromotion{PromotionOutcome::failed,
                       "step verify failed: boom; already changed: migrate, deploy:worker, deploy:api, deploy:www; "
                       "not touched: nothing",
                       ""}},
      {"a deploy failed once an abort stands ends as aborted, at that step",
       {S::succeeded, S::succeeded, S::failed, S::planned, S::planned, S::planned, S::planned},
       true,
       FinishPromotion{PromotionOutcome::aborted,
                       "by alice: wrong build; stopped at deploy:worker: boom; already changed: migrate; not touched: "
                       "deploy:worker, deploy:api, deploy:www",
                       "at deploy:worker: boom"}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    std::vector<JournalEntry> entries = journal(row.states);
    for (auto& e : entries)
      if (e.state == S::failed) e.detail = "boom";
    const std::optional<AbortRequest> abort = row.abort ? std::optional(alice_abort) : std::nullopt;
    const StepAction got = decide_step(plan, entries, abort);
    REQUIRE(got.index() == row.expected.index());
    if (const auto* p = std::get_if<PerformStep>(&got)) CHECK(p->index == std::get<PerformStep>(row.expected).index);
    if (const auto* r = std::get_if<ReconcileStep>(&got))
      CHECK(r->index == std::get<ReconcileStep>(row.expected).index);
    if (const auto* f = std::get_if<FinishPromotion>(&got)) {
      const auto& e = std::get<FinishPromotion>(row.expected);
      CHECK(f->outcome == e.outcome);
      CHECK(f->detail == e.detail);
      CHECK(f->stopped == e.stopped);
    }
  }
}

TEST_CASE("decide_step: a deploy stopped part-way for an abort may have changed production in part") {
  const PromotionPlan plan = standard_plan();
  std::vector<JournalEntry> entries =
      journal({S::succeeded, S::succeeded, S::succeeded, S::failed, S::planned, S::planned, S::planned});
  entries[3].detail = "stopped after 1 of 3 machines";
  entries[3].progress_noted = true;
  const StepAction got = decide_step(plan, entries, alice_abort);
  const auto* f = std::get_if<FinishPromotion>(&got);
  REQUIRE(f != nullptr);
  CHECK(f->outcome == PromotionOutcome::aborted);
  CHECK(f->stopped == "at deploy:api: stopped after 1 of 3 machines");
  CHECK(f->detail ==
        "by alice: wrong build; stopped at deploy:api: stopped after 1 of 3 machines; already changed: migrate, "
        "deploy:worker; may have changed in part: deploy:api; not touched: deploy:www");
}

TEST_CASE("after_reconcile: found done, found failed, not done, not done under an abort, unclear") {
  const PromotionPlan plan = standard_plan();
  const PlanStep& deploy_api = plan.steps[3];
  const PlanStep& verify = plan.steps[5];
  using Found = Result<std::optional<std::string>>;

  SUBCASE("found done: journalled succeeded with the world's detail, not repeated") {
    const StepSettlement s = after_reconcile(deploy_api, std::nullopt, Found{std::optional<std::string>("dep-1 live")});
    const auto* j = std::get_if<JournalStep>(&s);
    REQUIRE(j != nullptr);
    CHECK(j->index == 3);
    CHECK(j->to == S::succeeded);
    CHECK(j->detail == "dep-1 live");
    CHECK(j->why == StepVerdict::found_done);
  }
  SUBCASE("found done under an abort: still succeeded, the effect happened") {
    const StepSettlement s = after_reconcile(deploy_api, alice_abort, Found{std::optional<std::string>("dep-1 live")});
    REQUIRE(std::holds_alternative<JournalStep>(s));
    CHECK(std::get<JournalStep>(s).to == S::succeeded);
  }
  SUBCASE("found taken effect and failed: journalled failed") {
    const StepSettlement s =
        after_reconcile(deploy_api, std::nullopt, Found{fail(ErrorCode::failed_precondition, "dep-1 crashed")});
    const auto* j = std::get_if<JournalStep>(&s);
    REQUIRE(j != nullptr);
    CHECK(j->to == S::failed);
    CHECK(j->detail == "dep-1 crashed");
    CHECK(j->why == StepVerdict::found_failed);
  }
  SUBCASE("not done: run it again") {
    const StepSettlement s = after_reconcile(deploy_api, std::nullopt, Found{std::optional<std::string>()});
    REQUIRE(std::holds_alternative<PerformStep>(s));
    CHECK(std::get<PerformStep>(s).index == 3);
  }
  SUBCASE("not done under an abort, before a production change: not run again, failed") {
    const StepSettlement s = after_reconcile(deploy_api, alice_abort, Found{std::optional<std::string>()});
    const auto* j = std::get_if<JournalStep>(&s);
    REQUIRE(j != nullptr);
    CHECK(j->to == S::failed);
    CHECK(j->why == StepVerdict::not_run_for_abort);
    CHECK(j->detail == "interrupted by a restart and not run again: the promotion was aborted by alice");
  }
  SUBCASE("not done under an abort, at verify: the abort does not stop it, run it again") {
    const StepSettlement s = after_reconcile(verify, alice_abort, Found{std::optional<std::string>()});
    REQUIRE(std::holds_alternative<PerformStep>(s));
    CHECK(std::get<PerformStep>(s).index == 5);
  }
  SUBCASE("unclear: this run stops, the step stays started") {
    const StepSettlement s =
        after_reconcile(deploy_api, alice_abort, Found{fail(ErrorCode::unavailable, "railway down")});
    const auto* u = std::get_if<SuspendRun>(&s);
    REQUIRE(u != nullptr);
    CHECK(u->why == SuspendReason::unclear);
    CHECK(u->error.code == ErrorCode::unavailable);
    CHECK(u->error.message == "railway down");
  }
}

TEST_CASE("after_step_result: success, failure, unavailable, stopped for an abort, the record step") {
  const PromotionPlan plan = standard_plan();
  const PlanStep& migrate = plan.steps[1];
  const PlanStep& record = plan.steps[6];
  using R = Result<std::string>;
  struct Row {
    const char* name;
    const PlanStep* step;
    R result;
    std::optional<S> journalled;  // nullopt: not journalled
    std::optional<StepVerdict> why;
  };
  const std::vector<Row> rows = {
      {"success is journalled succeeded", &migrate, R{"3 migrations applied"}, S::succeeded, StepVerdict::succeeded},
      {"a failure is journalled failed", &migrate, R{fail(ErrorCode::internal, "exit 1")}, S::failed,
       StepVerdict::failed},
      {"a refusal is a failure", &migrate, R{fail(ErrorCode::failed_precondition, "gates no longer hold")}, S::failed,
       StepVerdict::failed},
      {"stopped part-way for an abort is journalled failed", &migrate, R{fail(ErrorCode::aborted, "stopped")},
       S::failed, StepVerdict::stopped_for_abort},
      {"unavailable is not journalled: the step stays started", &migrate, R{fail(ErrorCode::unavailable, "down")},
       std::nullopt, std::nullopt},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    const StepSettlement s = after_step_result(*row.step, row.result);
    if (row.journalled) {
      const auto* j = std::get_if<JournalStep>(&s);
      REQUIRE(j != nullptr);
      CHECK(j->index == row.step->index);
      CHECK(j->to == *row.journalled);
      CHECK(j->why == *row.why);
      CHECK(j->detail == (row.result ? *row.result : row.result.error().message));
    } else {
      const auto* u = std::get_if<SuspendRun>(&s);
      REQUIRE(u != nullptr);
      CHECK(u->why == SuspendReason::unavailable);
    }
  }
  CHECK(std::holds_alternative<PromotionRecorded>(after_step_result(record, R{"production release recorded"})));
  const StepSettlement not_recorded = after_step_result(record, R{fail(ErrorCode::unavailable, "db down")});
  REQUIRE(std::holds_alternative<SuspendRun>(not_recorded));
  CHECK(std::get<SuspendRun>(not_recorded).why == SuspendReason::not_recorded);
}

// The executor's loop over an in-memory journal, with a crash at each point around an effect: each step's effect
// happens once, the outcome is what the rules say without crashes.
TEST_CASE("crash resume: walking the rules with a crash around any effect performs each step exactly once") {
  const PromotionPlan plan = standard_plan();
  for (int crash_at = -1; crash_at < 14; ++crash_at) {  // -1: no crash
    CAPTURE(crash_at);
    std::vector<JournalEntry> entries = journal(std::vector<S>(plan.steps.size(), S::planned));
    std::map<int, int> performed;
    std::optional<PromotionOutcome> ended;
    int chances = 0;
    auto crash_here = [&] { return chances++ == crash_at; };
    auto write = [&](int i, S to, std::string detail) {
      REQUIRE(check_step_transition(entries[static_cast<std::size_t>(i)].state, to).has_value());
      entries[static_cast<std::size_t>(i)].state = to;
      entries[static_cast<std::size_t>(i)].detail = std::move(detail);
    };
    for (int guard = 0; guard < 100 && !ended; ++guard) {
      const StepAction a = decide_step(plan, entries, std::nullopt);
      if (const auto* f = std::get_if<FinishPromotion>(&a)) {
        ended = f->outcome;
        break;
      }
      int i = -1;
      if (const auto* r = std::get_if<ReconcileStep>(&a)) {
        i = r->index;
        const bool done = performed[i] > 0;
        const StepSettlement s =
            after_reconcile(plan.steps[static_cast<std::size_t>(i)], std::nullopt,
                            done ? Result<std::optional<std::string>>(std::optional<std::string>("done"))
                                 : Result<std::optional<std::string>>(std::optional<std::string>()));
        if (const auto* j = std::get_if<JournalStep>(&s)) {
          write(j->index, j->to, j->detail);
          continue;
        }
        REQUIRE(std::holds_alternative<PerformStep>(s));
      } else {
        i = std::get<PerformStep>(a).index;
      }
      write(i, S::started, "");
      if (crash_here()) continue;  // died after journalling started, before the effect
      ++performed[i];
      // Died after the effect, before journalling it (the record step's effect is its journal write).
      if (plan.steps[static_cast<std::size_t>(i)].kind != StepKind::record && crash_here()) continue;
      const StepSettlement s = after_step_result(plan.steps[static_cast<std::size_t>(i)], Result<std::string>("ok"));
      if (std::holds_alternative<PromotionRecorded>(s)) {
        ended = PromotionOutcome::succeeded;  // the store marks the record step with the promotion's end
        break;
      }
      if (const auto* j = std::get_if<JournalStep>(&s)) write(j->index, j->to, j->detail);
    }
    REQUIRE(ended.has_value());
    CHECK(*ended == PromotionOutcome::succeeded);
    for (int i = 0; i < static_cast<int>(plan.steps.size()); ++i) CHECK(performed[i] == 1);
  }
}

TEST_CASE("preflight_verdict: the gates still hold, the release is no longer this promotion's, a gate broke") {
  testing::Driver d;
  const Sha A = testing::sha_of(0xa);
  d.all_live(A);
  const Timestamp live = d.clock.now;
  d.clock.advance(1min);
  d.ok(testing::smoke_result(A, "e2e", true));
  d.clock.advance(1min);
  d.ok(testing::approval(A, "bob"));
  d.clock.now = live + 30min;
  d.ok(SoakDeadlineReached{A});
  REQUIRE(d.release(A).state == ReleaseState::promoting);
  testing::record_promotion_id(d.world, A, 7);

  const auto ok = preflight_verdict(d.world, A, PromotionId{7}, d.clock.now);
  REQUIRE(ok.has_value());
  CHECK(ok->starts_with("gates hold: "));

  const auto other = preflight_verdict(d.world, A, PromotionId{8}, d.clock.now);
  REQUIRE_FALSE(other.has_value());
  CHECK(other.error().code == ErrorCode::failed_precondition);
  CHECK(other.error().message == fmt::format("release {} is no longer being promoted by promotion 8", A.abbrev()));

  const auto unknown = preflight_verdict(d.world, testing::sha_of(0xb), PromotionId{7}, d.clock.now);
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().code == ErrorCode::failed_precondition);

  // A crash on staging after the promotion started resets the soak: the re-check refuses.
  Release broken = d.release(A);
  broken.soak_started_at = d.clock.now;
  d.world.put(std::move(broken));
  const auto gates = preflight_verdict(d.world, A, PromotionId{7}, d.clock.now);
  REQUIRE_FALSE(gates.has_value());
  CHECK(gates.error().code == ErrorCode::failed_precondition);
  CHECK(gates.error().message.starts_with("gates no longer hold: "));
}

}  // namespace
}  // namespace promoter::core
