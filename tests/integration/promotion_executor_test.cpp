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

class FixedClock final : public daemon::Clock {
 public:
  core::Timestamp now() const override { return t; }
  core::Timestamp t{std::chrono::sys_days{std::chrono::year{2026} / 11 / 25}};
};

// A Store that crashes the executor at its n-th journal write: either after the write reached the
// database, or instead of it. Everything else passes through.
class CrashingStore final : public daemon::Store {
 public:
  enum class Mode { after_write, instead_of_write };
  CrashingStore(daemon::Store& inner, int crash_at, Mode mode) : inner_(inner), crash_at_(crash_at), mode_(mode) {}

  core::Result<void> migrate() override { return inner_.migrate(); }
  core::Result<void> ping() override { return inner_.ping(); }
  core::Result<core::World> load(const core::Policy& p, const std::string& e) override { return inner_.load(p, e); }
  core::Result<std::vector<daemon::PromotionId>> commit(const core::World& w, const core::Decision& d,
                                                        const core::PromotionPlan& p, const std::string& e,
                                                        core::Timestamp t) override {
    return inner_.commit(w, d, p, e, t);
  }
  core::Result<void> append_audit(const core::AuditNote& n, core::Timestamp t) override { return inner_.append_audit(n, t); }
  core::Result<std::vector<daemon::AuditEntry>> audit(const std::optional<std::string>& s, int l) override {
    return inner_.audit(s, l);
  }
  core::Result<std::optional<daemon::PromotionRecord>> promotion(daemon::PromotionId id) override {
    return inner_.promotion(id);
  }
  core::Result<std::vector<daemon::PromotionRecord>> promotions(int l) override { return inner_.promotions(l); }
  core::Result<std::vector<daemon::PromotionId>> running_promotions(const std::string& e) override {
    return inner_.running_promotions(e);
  }
  core::Result<std::optional<daemon::ProductionRecord>> production(const std::string& e) override {
    return inner_.production(e);
  }
  core::Result<std::unique_ptr<daemon::EnvironmentLease>> lease_environment(const std::string& e) override {
    return inner_.lease_environment(e);
  }
  core::Result<std::vector<core::Obligation>> obligations(bool open_only) override {
    return inner_.obligations(open_only);
  }
  core::Result<core::Obligation> close_obligation(std::int64_t id, const std::string& by, const std::string& link,
                                                  core::Timestamp now) override {
    return inner_.close_obligation(id, by, link, now);
  }
  core::Result<void> journal_progress(daemon::PromotionId id, int index, const std::string& p) override {
    return inner_.journal_progress(id, index, p);
  }
  core::Result<void> journal_step(daemon::PromotionId id, int index, core::StepState to, const std::string& detail,
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
  daemon::Store& inner_;
  int crash_at_;
  Mode mode_;
};

const core::Sha sha = *core::Sha::parse("1234567890123456789012345678901234567890");

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

  std::vector<daemon::PromotionId> submit(const core::Event& e) {
    auto d = core::decide(world, e, clock.now());
    REQUIRE_MESSAGE(d.has_value(), (d ? "" : d.error().message));
    auto ids = store.commit(world, *d, core::make_plan(world.policy), "production", clock.now());
    REQUIRE_MESSAGE(ids.has_value(), (ids ? "" : ids.error().message));
    std::size_t next = 0;
    for (const auto& effect : d->effects)
      if (const auto* s = std::get_if<core::StartPromotion>(&effect))
        for (auto& r : d->changed)
          if (r.sha == s->sha) r.promotion_id = (*ids)[next++];
    core::apply(world, *d);
    return *ids;
  }

  daemon::PromotionId create_promotion() {
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
    h.preflight = [this](const core::Sha& s, daemon::PromotionId) -> asio::awaitable<core::Result<std::string>> {
      const auto gates = core::evaluate_gates(*world.find(s), world.policy, clock.now());
      if (!gates.all_ok()) co_return core::fail(core::ErrorCode::failed_precondition, "gates do not hold");
      co_return std::string("gates hold");
    };
    h.finish = [this](const core::Sha& s, daemon::PromotionId id, bool ok,
                      std::string detail) -> asio::awaitable<core::Result<void>> {
      ++finish_calls;
      if (fail_next_finish) {
        fail_next_finish = false;
        co_return core::fail(core::ErrorCode::unavailable, "simulated crash before the end was recorded");
      }
      submit(core::PromotionFinished{s, id, ok, std::move(detail)});
      co_return core::Result<void>{};
    };
    return h;
  }

  // Runs one executor to its end (or its crash) on a fresh io_context.
  core::Result<daemon::PromotionState> run(daemon::Store& via, daemon::PromotionId id,
                                           adapters::SimulatedProduction& production) {
    asio::io_context io;
    asio::thread_pool pool(2);
    adapters::SimulatedStep step(production, io.get_executor());
    daemon::StepPerformers performers{&step, {{"worker", &step}, {"api", &step}, {"www", &step}}, &step};
    daemon::PromotionExecutor executor(pool.get_executor(), via, clock, performers, hooks(), "production");
    std::optional<core::Result<daemon::PromotionState>> result;
    asio::co_spawn(io, executor.run(id), [&](std::exception_ptr e, core::Result<daemon::PromotionState> r) {
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
void check_effects_exactly_once_in_order(const adapters::SimulatedProduction& production, daemon::PromotionId id) {
  std::vector<std::string> steps;
  for (const auto& e : production.effects()) steps.push_back(e.step);
  const std::vector<std::string> expected{"migrate", "deploy:worker", "deploy:api", "deploy:www", "verify"};
  CHECK(steps == expected);
  std::set<std::string> keys;
  for (const auto& e : production.effects()) keys.insert(e.key);
  CHECK(keys.size() == production.effects().size());
  for (const auto& e : production.effects()) CHECK(e.key.starts_with(fmt::format("promotion-{}-", id)));
}

void check_all_steps_succeeded(adapters::PgStore& store, daemon::PromotionId id) {
  auto p = store.promotion(id);
  REQUIRE(p.has_value());
  REQUIRE(p->has_value());
  CHECK((*p)->state == daemon::PromotionState::succeeded);
  for (const auto& s : (*p)->steps) CHECK_MESSAGE(s.state == core::StepState::succeeded, s.step.name());
}

}  // namespace

TEST_CASE("a promotion runs its steps in order and ends with the release in production") {
  Harness h(testing::fresh_database("promoter_executor_plain"));
  const auto id = h.create_promotion();
  auto production = memory_production(h.clock);
  auto r = h.run(h.store, id, production);
  REQUIRE(r.has_value());
  CHECK(*r == daemon::PromotionState::succeeded);
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
  // 6 steps with a side effect or check (preflight, migrate, 3 deploys, verify) write started and succeeded;
  // record writes started. 13 journal writes in all.
  for (auto mode : {CrashingStore::Mode::after_write, CrashingStore::Mode::instead_of_write}) {
    for (int crash_at = 1; crash_at <= 13; ++crash_at) {
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
      CHECK(*second == daemon::PromotionState::succeeded);
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
  CHECK(*r == daemon::PromotionState::succeeded);
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
  CHECK(*r == daemon::PromotionState::failed);
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
  CHECK(*again == daemon::PromotionState::succeeded);
}
