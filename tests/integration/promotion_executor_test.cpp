// The promotion executor on real PostgreSQL: a promotion interrupted after any journal write resumes
// in a new executor without repeating a succeeded step or skipping one; the environment lock holds.
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <set>

#include "adapters/pg_store.hpp"
#include "adapters/simulated_production.hpp"
#include "core/decide.hpp"
#include "core/gates.hpp"
#include "daemon/promotion_executor.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

class FixedClock final : public ports::Clock {
 public:
  core::Timestamp now() const override { return t; }
  core::Timestamp t{std::chrono::sys_days{std::chrono::year{2026} / 11 / 25}};
};

// A journal that crashes the executor at its n-th step write: either after the write reached the
// database, or instead of it. Everything else passes through.
class CrashingStore final : public ports::PromotionJournal {
 public:
  enum class Mode { after_write, instead_of_write };
  CrashingStore(ports::PromotionJournal& inner, int crash_at, Mode mode)
      : inner_(inner), crash_at_(crash_at), mode_(mode) {}

  core::Result<std::optional<ports::PromotionRecord>> promotion(ports::PromotionId id) override {
    return inner_.promotion(id);
  }
  core::Result<std::vector<ports::PromotionId>> running_promotions(const std::string& e) override {
    return inner_.running_promotions(e);
  }
  core::Result<std::unique_ptr<ports::EnvironmentLease>> lease_environment(const std::string& e) override {
    return inner_.lease_environment(e);
  }
  core::Result<ports::PromotionRecord> request_abort(ports::PromotionId id, const std::string& by,
                                                     const std::string& reason, core::Timestamp now) override {
    return inner_.request_abort(id, by, reason, now);
  }
  core::Result<void> journal_progress(ports::PromotionId id, int index, const std::string& p) override {
    return inner_.journal_progress(id, index, p);
  }
  core::Result<void> journal_step(ports::PromotionId id, int index, core::StepState to, const std::string& detail,
                                  core::Timestamp at) override {
    ++writes;
    if (writes == crash_at_ && mode_ == Mode::instead_of_write) return crash();
    auto r = inner_.journal_step(id, index, to, detail, at);
    if (writes == crash_at_) return crash();
    return r;
  }

  int writes = 0;
  bool crashed = false;

 private:
  core::Result<void> crash() {
    crashed = true;
    return core::fail(core::ErrorCode::unavailable, "simulated crash");
  }
  ports::PromotionJournal& inner_;
  int crash_at_;
  Mode mode_;
};

const core::Sha sha = *core::Sha::parse("1234567890123456789012345678901234567890");

// A step's side effect with something done first: what an operator does while the step runs.
using BeforeStep = std::function<void(const ports::StepContext&)>;
class HookedStep final : public ports::StepPerformer {
 public:
  HookedStep(ports::StepPerformer& inner, BeforeStep before) : inner_(inner), before_(std::move(before)) {}
  asio::awaitable<core::Result<std::string>> perform(const ports::StepContext& ctx) override {
    if (before_) before_(ctx);
    // As a rollout does between machines: stop part-way when an operator has asked.
    if (ctx.step.name() == stops_part_way && ctx.aborted_by)
      if (auto by = co_await ctx.aborted_by()) {
        auto noted = co_await ctx.note("machine m1 rolled");  // as a rollout notes each machine it leases
        REQUIRE(noted.has_value());
        co_return core::fail(core::ErrorCode::aborted, "stopped after 1 of 2 machines: aborted by " + *by);
      }
    co_return co_await inner_.perform(ctx);
  }
  std::string stops_part_way;  // the step that honours an abort part-way, like a Fly rollout
  asio::awaitable<core::Result<std::optional<std::string>>> find_done(const ports::StepContext& ctx) override {
    co_return co_await inner_.find_done(ctx);
  }

 private:
  ports::StepPerformer& inner_;
  BeforeStep before_;
};

// The release state as the daemon keeps it, with the store underneath: enough to create a promotion
// and to let an executor finish one.
struct Harness {
  explicit Harness(const std::string& db) : store(db) {
    REQUIRE(store.migrate());
    world.policy.soak = 0ms;
    world.policy.allow_short_soak = true;
    world.policy.require_smoke = true;
    world.policy.required_smoke_suites = {"e2e"};
    world.policy.services = {"worker", "api", "www"};
  }

  std::vector<ports::PromotionId> submit(const core::Event& e) {
    auto d = core::decide(world, e, clock.now());
    REQUIRE_MESSAGE(d.has_value(), (d ? "" : d.error().message));
    auto opened = store.commit(*d, core::make_plan(world.policy), "production", clock.now());
    REQUIRE_MESSAGE(opened.has_value(), (opened ? "" : opened.error().message));
    ports::number_opened_promotions(d->changed, *opened);
    std::vector<ports::PromotionId> ids;
    for (const auto& [sha, id] : *opened) ids.push_back(id);
    core::apply(world, *d);
    return ids;
  }

  ports::PromotionId create_promotion() {
    for (const char* service : {"worker", "api", "www"})
      submit(core::StagingDeploymentObserved{sha, service, std::string("d-") + service, core::DeployStatus::success,
                                             "alice", std::nullopt, "ci"});
    submit(core::SmokeResultReported{sha, "e2e", true, "ci", ""});
    auto ids = submit(core::ApprovalGiven{sha, "bob", {}, "ship it"});
    REQUIRE(ids.size() == 1);
    return ids[0];
  }

  daemon::ExecutorHooks hooks() {
    daemon::ExecutorHooks h;
    h.preflight = [this](const core::Sha& s, ports::PromotionId) -> asio::awaitable<core::Result<std::string>> {
      const auto gates = core::evaluate_gates(*world.find(s), world.policy, clock.now());
      if (!gates.all_ok()) co_return core::fail(core::ErrorCode::failed_precondition, "gates do not hold");
      co_return std::string("gates hold");
    };
    h.finish = [this](core::PromotionFinished end) -> asio::awaitable<core::Result<void>> {
      ++finish_calls;
      if (fail_next_finish) {
        fail_next_finish = false;
        co_return core::fail(core::ErrorCode::unavailable, "simulated crash before the end was recorded");
      }
      submit(std::move(end));
      co_return core::Result<void>{};
    };
    return h;
  }

  // Runs one executor to its end (or its crash) on a fresh io_context.
  core::Result<ports::PromotionState> run(ports::PromotionJournal& via, ports::PromotionId id,
                                          adapters::SimulatedProduction& production, BeforeStep before = {},
                                          std::string stops_part_way = "") {
    asio::io_context io;
    asio::thread_pool pool(2);
    adapters::SimulatedStep simulated(production, io.get_executor());
    HookedStep step(simulated, std::move(before));
    step.stops_part_way = std::move(stops_part_way);
    daemon::StepPerformers performers{&step, {{"worker", &step}, {"api", &step}, {"www", &step}}, &step};
    daemon::PromotionExecutor executor(pool.get_executor(), via, clock, performers, hooks(), "production");
    std::optional<core::Result<ports::PromotionState>> result;
    asio::co_spawn(io, executor.run(id), [&](std::exception_ptr e, core::Result<ports::PromotionState> r) {
      REQUIRE_FALSE(e);
      result = std::move(r);
    });
    io.run();
    pool.join();
    REQUIRE(result.has_value());
    return *result;
  }

  FixedClock clock;
  adapters::PgStore store;
  core::World world;
  int finish_calls = 0;
  bool fail_next_finish = false;
};

adapters::SimulatedProduction memory_production(FixedClock& clock) {
  return adapters::SimulatedProduction({}, [&clock] { return clock.now(); });
}

// What the world saw, in order: each key once, migrations first, services in restart order.
void check_effects_exactly_once_in_order(const adapters::SimulatedProduction& production, ports::PromotionId id) {
  std::vector<std::string> steps;
  for (const auto& e : production.effects()) steps.push_back(e.step);
  const std::vector<std::string> expected{"migrate", "deploy:worker", "deploy:api", "deploy:www", "verify"};
  CHECK(steps == expected);
  std::set<std::string> keys;
  for (const auto& e : production.effects()) keys.insert(e.key);
  CHECK(keys.size() == production.effects().size());
  for (const auto& e : production.effects()) CHECK(e.key.starts_with(fmt::format("promotion-{}-", id)));
}

void check_all_steps_succeeded(adapters::PgStore& store, ports::PromotionId id) {
  auto p = store.promotion(id);
  REQUIRE(p.has_value());
  REQUIRE(p->has_value());
  CHECK((*p)->state == ports::PromotionState::succeeded);
  for (const auto& s : (*p)->steps) CHECK_MESSAGE(s.state == core::StepState::succeeded, s.step.name());
}

}  // namespace

TEST_CASE("a promotion runs its steps in order and ends with the release in production") {
  Harness h(testing::fresh_database("promoter_executor_plain"));
  const auto id = h.create_promotion();
  auto production = memory_production(h.clock);
  auto r = h.run(h.store, id, production);
  REQUIRE(r.has_value());
  CHECK(*r == ports::PromotionState::succeeded);
  check_effects_exactly_once_in_order(production, id);
  check_all_steps_succeeded(h.store, id);
  CHECK(h.world.production == sha);
  CHECK(h.world.find(sha)->state == core::ReleaseState::promoted);
  auto prod = h.store.production("production");
  REQUIRE(prod.has_value());
  REQUIRE(prod->has_value());
  CHECK((*prod)->sha == sha.str());
}

TEST_CASE("a promotion interrupted after any journal write resumes without repeating or skipping a step") {
  // Every step with a side effect or a check (preflight, migrate, each deploy, verify) writes started and
  // then succeeded; record writes only started (its success is the promotion's end, in one transaction).
  // Counted from the plan the store journalled, so a new step is crashed around too.
  const int journal_writes = [] {
    Harness h(testing::fresh_database("promoter_executor_crash"));
    auto p = h.store.promotion(h.create_promotion());
    REQUIRE(p.has_value());
    REQUIRE(p->has_value());
    return 2 * static_cast<int>((*p)->steps.size()) - 1;
  }();
  REQUIRE(journal_writes > 1);
  for (auto mode : {CrashingStore::Mode::after_write, CrashingStore::Mode::instead_of_write}) {
    for (int crash_at = 1; crash_at <= journal_writes; ++crash_at) {
      CAPTURE(crash_at);
      CAPTURE(static_cast<int>(mode));
      Harness h(testing::fresh_database("promoter_executor_crash"));
      const auto id = h.create_promotion();
      auto production = memory_production(h.clock);  // the outside world survives the crash

      CrashingStore crashing(h.store, crash_at, mode);
      auto first = h.run(crashing, id, production);
      REQUIRE(crashing.crashed);
      REQUIRE_FALSE(first.has_value());

      // A new executor on the same database, as after a restart.
      auto second = h.run(h.store, id, production);
      REQUIRE_MESSAGE(second.has_value(), (second ? "" : second.error().message));
      CHECK(*second == ports::PromotionState::succeeded);
      check_effects_exactly_once_in_order(production, id);
      check_all_steps_succeeded(h.store, id);
    }
  }
}

TEST_CASE("a crash before the promotion's end was recorded is finished by the next executor") {
  Harness h(testing::fresh_database("promoter_executor_finish_crash"));
  const auto id = h.create_promotion();
  auto production = memory_production(h.clock);
  h.fail_next_finish = true;
  CHECK_FALSE(h.run(h.store, id, production).has_value());
  auto r = h.run(h.store, id, production);
  REQUIRE(r.has_value());
  CHECK(*r == ports::PromotionState::succeeded);
  CHECK(h.finish_calls == 2);
  check_effects_exactly_once_in_order(production, id);
  check_all_steps_succeeded(h.store, id);
}

TEST_CASE("a failed migration stops the promotion before any service is touched") {
  Harness h(testing::fresh_database("promoter_executor_migration_fails"));
  const auto id = h.create_promotion();
  auto production = memory_production(h.clock);
  production.set_fail_steps({"migrate"});
  auto r = h.run(h.store, id, production);
  REQUIRE(r.has_value());
  CHECK(*r == ports::PromotionState::failed);
  CHECK(production.effects().empty());
  auto p = h.store.promotion(id);
  REQUIRE(p.has_value());
  CHECK((*p)->steps[1].state == core::StepState::failed);
  CHECK((*p)->steps[1].detail.find("simulated failure of migrate") != std::string::npos);
  for (std::size_t i = 2; i < (*p)->steps.size(); ++i) CHECK((*p)->steps[i].state == core::StepState::planned);
  REQUIRE((*p)->error.has_value());
  CHECK((*p)->error->find("migrate") != std::string::npos);
  CHECK(h.world.find(sha)->state == core::ReleaseState::promotion_failed);
  CHECK_FALSE(h.world.production.has_value());
}

TEST_CASE("a second executor cannot run a promotion of an environment another executor holds") {
  Harness h(testing::fresh_database("promoter_executor_lock"));
  const auto id = h.create_promotion();
  auto production = memory_production(h.clock);
  adapters::PgStore other(std::string("dbname=promoter_executor_lock"));
  auto held = other.lease_environment("production");  // as if another promoterd were running it
  REQUIRE(held.has_value());
  auto r = h.run(h.store, id, production);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == core::ErrorCode::conflict);
  CHECK(production.effects().empty());
  held->reset();
  auto again = h.run(h.store, id, production);
  REQUIRE(again.has_value());
  CHECK(*again == ports::PromotionState::succeeded);
}

// ---------------------------------------------------------------------------------------------------------
// Operator aborts

namespace {

std::vector<std::string> effect_steps(const adapters::SimulatedProduction& production) {
  std::vector<std::string> steps;
  for (const auto& e : production.effects()) steps.push_back(e.step);
  return steps;
}

ports::PromotionRecord reread(adapters::PgStore& store, ports::PromotionId id) {
  auto p = store.promotion(id);
  REQUIRE(p.has_value());
  REQUIRE(p->has_value());
  return **p;
}

std::map<std::string, core::StepState> step_states(const ports::PromotionRecord& p) {
  std::map<std::string, core::StepState> out;
  for (const auto& s : p.steps) out[s.step.name()] = s.state;
  return out;
}

// Asks for an abort as bob would, while the named step is about to take effect.
BeforeStep abort_during(Harness& h, ports::PromotionId id, std::string step_name,
                        std::optional<core::Result<ports::PromotionRecord>>& answer) {
  return [&h, id, step_name, &answer](const ports::StepContext& ctx) {
    if (ctx.step.name() == step_name) answer = h.store.request_abort(id, "bob", "wrong image tag", h.clock.now());
  };
}

}  // namespace

TEST_CASE("an abort requested before the first step ends the promotion with nothing touched") {
  Harness h(testing::fresh_database("promoter_executor_abort_first"));
  const auto id = h.create_promotion();
  auto requested = h.store.request_abort(id, "bob", "wrong image tag", h.clock.now());
  REQUIRE_MESSAGE(requested.has_value(), (requested ? "" : requested.error().message));
  REQUIRE(requested->abort.has_value());
  CHECK(requested->abort->by == "bob");
  CHECK(requested->state == ports::PromotionState::running);

  auto production = memory_production(h.clock);
  auto r = h.run(h.store, id, production);
  REQUIRE(r.has_value());
  CHECK(*r == ports::PromotionState::aborted);
  CHECK(production.effects().empty());
  const auto p = reread(h.store, id);
  CHECK(p.state == ports::PromotionState::aborted);
  for (const auto& s : p.steps) CHECK_MESSAGE(s.state == core::StepState::planned, s.step.name());
  REQUIRE(p.error.has_value());
  CHECK(*p.error == fmt::format("promotion {} aborted by bob: wrong image tag; stopped before preflight; already "
                                "changed: nothing; not touched: migrate, deploy:worker, deploy:api, deploy:www",
                                id));
  CHECK(h.world.find(sha)->state == core::ReleaseState::promotion_aborted);
  CHECK_FALSE(h.world.production.has_value());
  CHECK_FALSE(h.world.promoting.has_value());
}

TEST_CASE("an abort during a deploy lets that step finish and touches no later service") {
  Harness h(testing::fresh_database("promoter_executor_abort_mid"));
  const auto id = h.create_promotion();
  auto production = memory_production(h.clock);
  std::optional<core::Result<ports::PromotionRecord>> answer;
  auto r = h.run(h.store, id, production, abort_during(h, id, "deploy:worker", answer));
  REQUIRE(answer.has_value());
  REQUIRE_MESSAGE(answer->has_value(), (*answer ? "" : answer->error().message));
  REQUIRE(r.has_value());
  CHECK(*r == ports::PromotionState::aborted);
  CHECK(effect_steps(production) == std::vector<std::string>{"migrate", "deploy:worker"});
  const auto p = reread(h.store, id);
  const auto states = step_states(p);
  CHECK(states.at("deploy:worker") == core::StepState::succeeded);
  CHECK(states.at("deploy:api") == core::StepState::planned);
  CHECK(states.at("deploy:www") == core::StepState::planned);
  CHECK(states.at("verify") == core::StepState::planned);
  REQUIRE(p.error.has_value());
  CHECK(p.error->find("stopped before deploy:api; already changed: migrate, deploy:worker; not touched: deploy:api, "
                      "deploy:www") != std::string::npos);

  // The audit says who asked, once; asking again changes nothing, and an ended promotion refuses it.
  auto again = h.store.request_abort(id, "carol", "me too", h.clock.now());
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code == core::ErrorCode::failed_precondition);
  CHECK(again.error().message == fmt::format("promotion {} has ended (aborted); only a running promotion can be "
                                             "aborted",
                                             id));
  auto audit = h.store.audit(sha.str(), 100, std::nullopt);
  REQUIRE(audit.has_value());
  int requests = 0;
  for (const auto& e : *audit)
    if (e.action == "promotion.abort_requested") {
      ++requests;
      CHECK(e.actor == "bob");
      CHECK(e.detail == fmt::format("promotion {}: wrong image tag", id));
    }
  CHECK(requests == 1);
  CHECK(reread(h.store, id).abort->by == "bob");
}

TEST_CASE("a step that stops part-way for an abort ends the promotion aborted, also across a crash right after") {
  // Journal writes: preflight, migrate, deploy:worker started and succeeded (1-6), deploy:api started (7),
  // deploy:api failed for the abort (8). 0: no crash.
  for (int crash_at : {0, 8}) {
    CAPTURE(crash_at);
    Harness h(testing::fresh_database("promoter_executor_abort_partway"));
    const auto id = h.create_promotion();
    auto production = memory_production(h.clock);
    std::optional<core::Result<ports::PromotionRecord>> answer;
    CrashingStore crashing(h.store, crash_at, CrashingStore::Mode::after_write);
    auto r = h.run(crashing, id, production, abort_during(h, id, "deploy:api", answer), "deploy:api");
    REQUIRE(answer.has_value());
    REQUIRE(answer->has_value());
    if (crash_at) {
      REQUIRE(crashing.crashed);
      r = h.run(h.store, id, production);  // a restart: the journal alone says how it ended
    }
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
    CHECK(*r == ports::PromotionState::aborted);
    CHECK(effect_steps(production) == std::vector<std::string>{"migrate", "deploy:worker"});
    const auto p = reread(h.store, id);
    CHECK(p.state == ports::PromotionState::aborted);
    CHECK(p.steps[3].step.name() == "deploy:api");
    CHECK(p.steps[3].state == core::StepState::failed);
    CHECK(p.steps[3].detail == "stopped after 1 of 2 machines: aborted by bob");
    CHECK(p.steps[4].state == core::StepState::planned);
    REQUIRE(p.error.has_value());
    CHECK(*p.error == fmt::format("promotion {} aborted by bob: wrong image tag; stopped at deploy:api: stopped after "
                                  "1 of 2 machines: aborted by bob; already changed: migrate, deploy:worker; may have "
                                  "changed in part: deploy:api; not touched: deploy:www",
                                  id));
    CHECK(h.world.find(sha)->state == core::ReleaseState::promotion_aborted);
  }
}

TEST_CASE("a verify that fails after an abort came too late to stop the deploys is a failure, not an abort") {
  Harness h(testing::fresh_database("promoter_executor_abort_verify_fails"));
  const auto id = h.create_promotion();
  auto production = memory_production(h.clock);
  production.set_fail_steps({"verify"});
  std::optional<core::Result<ports::PromotionRecord>> answer;
  auto r = h.run(h.store, id, production, abort_during(h, id, "deploy:www", answer));
  REQUIRE(answer.has_value());
  REQUIRE(answer->has_value());
  REQUIRE(r.has_value());
  CHECK(*r == ports::PromotionState::failed);
  CHECK(h.world.find(sha)->state == core::ReleaseState::promotion_failed);
}

TEST_CASE("a second abort request keeps the first; an unknown promotion is not found") {
  Harness h(testing::fresh_database("promoter_executor_abort_twice"));
  const auto id = h.create_promotion();
  REQUIRE(h.store.request_abort(id, "bob", "first", h.clock.now()).has_value());
  auto second = h.store.request_abort(id, "carol", "second", h.clock.now());
  REQUIRE(second.has_value());
  CHECK(second->abort->by == "bob");
  CHECK(second->abort->reason == "first");
  auto unknown = h.store.request_abort(core::PromotionId{id.value() + 100}, "bob", "x", h.clock.now());
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().code == core::ErrorCode::not_found);
}

TEST_CASE(
    "once every service is deployed an abort is refused, and one that came during the last deploy does not stop "
    "the promotion") {
  Harness h(testing::fresh_database("promoter_executor_abort_late"));
  const auto id = h.create_promotion();
  auto production = memory_production(h.clock);
  std::optional<core::Result<ports::PromotionRecord>> during_www, during_verify;
  auto r = h.run(h.store, id, production, [&](const ports::StepContext& ctx) {
    abort_during(h, id, "deploy:www", during_www)(ctx);
    abort_during(h, id, "verify", during_verify)(ctx);
  });
  REQUIRE(during_www.has_value());
  CHECK(during_www->has_value());  // accepted: deploy:www had not finished
  REQUIRE(during_verify.has_value());
  CHECK(during_verify->has_value());  // the first request stands and is returned again
  REQUIRE(r.has_value());
  // Production runs the release on every service by then: the record must say so.
  CHECK(*r == ports::PromotionState::succeeded);
  check_effects_exactly_once_in_order(production, id);
  CHECK(h.world.production == sha);

  // A promotion whose every deploy succeeded, with only verify left, refuses a fresh request.
  Harness late(testing::fresh_database("promoter_executor_abort_refused"));
  const auto late_id = late.create_promotion();
  auto late_production = memory_production(late.clock);
  std::optional<core::Result<ports::PromotionRecord>> refused;
  REQUIRE(late.run(late.store, late_id, late_production, abort_during(late, late_id, "verify", refused)).has_value());
  REQUIRE(refused.has_value());
  REQUIRE_FALSE(refused->has_value());
  CHECK(refused->error().code == core::ErrorCode::failed_precondition);
  CHECK(refused->error().message.find("has deployed every service") != std::string::npos);
  CHECK(reread(late.store, late_id).state == ports::PromotionState::succeeded);
}

TEST_CASE("an abort of a promotion a crash interrupted settles the interrupted step and never runs it again") {
  // Journal writes: preflight started (1), succeeded (2), migrate started (3), succeeded (4), deploy:worker
  // started (5), succeeded (6). Crash after write 5: worker's effect never happened. Crash instead of write 6:
  // it happened, but the journal still says started.
  struct Case {
    int crash_at;
    CrashingStore::Mode mode;
    std::vector<std::string> effects;
    core::StepState worker;
  };
  const Case cases[] = {
      {5, CrashingStore::Mode::after_write, {"migrate"}, core::StepState::failed},
      {6, CrashingStore::Mode::instead_of_write, {"migrate", "deploy:worker"}, core::StepState::succeeded},
  };
  for (const auto& c : cases) {
    CAPTURE(c.crash_at);
    Harness h(testing::fresh_database("promoter_executor_abort_crash"));
    const auto id = h.create_promotion();
    auto production = memory_production(h.clock);
    CrashingStore crashing(h.store, c.crash_at, c.mode);
    REQUIRE_FALSE(h.run(crashing, id, production).has_value());
    REQUIRE(crashing.crashed);
    REQUIRE(h.store.request_abort(id, "bob", "stop it", h.clock.now()).has_value());

    auto r = h.run(h.store, id, production);
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
    CHECK(*r == ports::PromotionState::aborted);
    CHECK(effect_steps(production) == c.effects);
    const auto p = reread(h.store, id);
    const auto states = step_states(p);
    CHECK(states.at("deploy:worker") == c.worker);
    CHECK(states.at("deploy:api") == core::StepState::planned);
    if (c.worker == core::StepState::failed) {
      CHECK(p.steps[2].detail == "interrupted by a restart and not run again: the promotion was aborted by bob");
      CHECK(p.error->find("stopped at deploy:worker: interrupted by a restart and not run again: the promotion was "
                          "aborted by bob; already changed: migrate; not touched: deploy:worker, deploy:api") !=
            std::string::npos);
    } else {
      CHECK(p.error->find("stopped before deploy:api; already changed: migrate, deploy:worker") != std::string::npos);
    }
  }
}
