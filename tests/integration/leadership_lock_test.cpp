// PgLeadership and PgStore's fencing on a real PostgreSQL: one holder of the lock at a time, an epoch that
// rises at every takeover, and a deposed leader whose writes the database refuses.
#include <utility>

#include <doctest/doctest.h>
#include <atomic>
#include <pqxx/pqxx>
#include <thread>

#include "adapters/pg_leadership.hpp"
#include "adapters/pg_store.hpp"
#include "core/decide.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace std::chrono_literals;

namespace {

const core::Sha sha_a = *core::Sha::parse("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
const core::Timestamp t0 = *core::parse_timestamp("2026-12-01T10:00:00Z");

adapters::PgLeadership lock_for(const std::string& url, const std::string& instance) {
  return adapters::PgLeadership({url, "production", instance, "http://" + instance});
}

int count(const std::string& conninfo, const std::string& sql) {
  pqxx::connection c(conninfo);
  pqxx::nontransaction n(c);
  return n.exec1(sql)[0].as<int>();
}

core::Policy policy() {
  core::Policy p;
  p.soak = 10min;
  p.allow_short_soak = true;
  p.services = {"api"};
  return p;
}

}  // namespace

TEST_CASE("one instance holds the leadership; the epoch rises at each takeover and the old holder knows it lost") {
  const auto url = testing::fresh_database("promoter_leadership_basic");
  adapters::PgStore store(url);
  REQUIRE(store.migrate().has_value());
  auto a = lock_for(url, "a");
  auto b = lock_for(url, "b");

  auto got_a = a.try_acquire(t0);
  REQUIRE(got_a.has_value());
  REQUIRE(got_a->has_value());
  CHECK((*got_a)->epoch == 1);
  CHECK((*got_a)->holder == "a");
  CHECK((*got_a)->advertise_url == "http://a");

  auto got_b = b.try_acquire(t0);
  REQUIRE(got_b.has_value());
  CHECK_FALSE(got_b->has_value());
  auto seen = b.current();
  REQUIRE(seen.has_value());
  REQUIRE(seen->has_value());
  CHECK((*seen)->holder == "a");
  CHECK((*seen)->epoch == 1);
  CHECK(a.confirm(1));

  a.release();
  got_b = b.try_acquire(t0 + 1s);
  REQUIRE(got_b.has_value());
  REQUIRE(got_b->has_value());
  CHECK((*got_b)->epoch == 2);
  CHECK((*got_b)->holder == "b");
  CHECK_FALSE(a.confirm(1));
  CHECK(b.confirm(2));
}

TEST_CASE("terminating the leader's lock session frees the lock and the leader finds out at its next check") {
  const auto url = testing::fresh_database("promoter_leadership_terminate");
  adapters::PgStore store(url);
  REQUIRE(store.migrate().has_value());
  auto a = lock_for(url, "a");
  auto b = lock_for(url, "b");
  REQUIRE(a.try_acquire(t0).value().has_value());
  CHECK(count(url,
              "SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity WHERE application_name = "
              "'promoterd leader lock a'") == 1);
  CHECK_FALSE(a.confirm(1));
  auto got_b = b.try_acquire(t0);
  REQUIRE(got_b.has_value());
  REQUIRE(got_b->has_value());
  CHECK((*got_b)->epoch == 2);
}

TEST_CASE("two instances racing for the lock, 20 times: exactly one wins each round") {
  const auto url = testing::fresh_database("promoter_leadership_race");
  adapters::PgStore store(url);
  REQUIRE(store.migrate().has_value());
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    auto a = lock_for(url, "a");
    auto b = lock_for(url, "b");
    std::atomic<int> go{0};
    std::optional<ports::LeaderInfo> won_a, won_b;
    auto race = [&](adapters::PgLeadership& lock, std::optional<ports::LeaderInfo>& won) {
      ++go;
      while (go.load() < 2) std::this_thread::yield();
      auto r = lock.try_acquire(t0);
      REQUIRE(r.has_value());
      won = *r;
    };
    std::thread ta([&] { race(a, won_a); });
    std::thread tb([&] { race(b, won_b); });
    ta.join();
    tb.join();
    CHECK(int(won_a.has_value()) + int(won_b.has_value()) == 1);
    const auto& winner = won_a ? won_a : won_b;
    REQUIRE(winner.has_value());
    CHECK(winner->epoch == round + 1);
  }
}

TEST_CASE("a fenced store writes under its epoch and refuses every write once another instance took over") {
  const auto url = testing::fresh_database("promoter_leadership_fence");
  adapters::PgStore store(url);
  REQUIRE(store.migrate().has_value());
  int stale_calls = 0;
  store.enable_fencing("production", [&] { ++stale_calls; });

  // No epoch: a standby writes nothing, not even the audit log.
  const core::AuditNote note{"alice", "test.note", std::nullopt, "hello"};
  auto refused = store.append_audit(note, t0);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == core::ErrorCode::not_leader);

  auto a = lock_for(url, "a");
  auto info = a.try_acquire(t0);
  REQUIRE(info.has_value());
  REQUIRE(info->has_value());
  store.set_epoch((*info)->epoch);
  REQUIRE(store.append_audit(note, t0).has_value());

  core::World world;
  world.policy = policy();
  core::Event seen = core::StagingDeploymentObserved{sha_a,      "api",        "dep-1", core::DeployStatus::building,
                                                     "alice-gh", std::nullopt, "ci",    {}};
  auto decision = core::decide(world, seen, t0);
  REQUIRE(decision.has_value());
  REQUIRE(store.commit(*decision, core::make_plan(world.policy), "production", t0).has_value());
  core::apply(world, *decision);

  // Another instance takes over (a's session died; the server freed the lock).
  a.release();
  auto b = lock_for(url, "b");
  REQUIRE(b.try_acquire(t0 + 1s).value().has_value());

  const int audit_before = count(url, "SELECT count(*)::int FROM audit_log");
  core::Event next = core::StagingDeploymentObserved{sha_a,      "api",        "dep-1", core::DeployStatus::success,
                                                     "alice-gh", std::nullopt, "ci",    {}};
  auto later = core::decide(world, next, t0 + 2s);
  REQUIRE(later.has_value());
  auto stale = store.commit(*later, core::make_plan(world.policy), "production", t0 + 2s);
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.error().code == core::ErrorCode::not_leader);
  CHECK(store.stale_epoch_refusals() == 1);
  CHECK(stale_calls == 1);
  CHECK(store.epoch() == 0);
  // Nothing after that is even tried: refused locally, not counted as stale again.
  auto after = store.append_audit(note, t0 + 3s);
  REQUIRE_FALSE(after.has_value());
  CHECK(after.error().code == core::ErrorCode::not_leader);
  CHECK(store.stale_epoch_refusals() == 1);
  CHECK(count(url, "SELECT count(*)::int FROM audit_log") == audit_before);
  CHECK(count(url, "SELECT count(*)::int FROM staging_deployments WHERE status = 'SUCCESS'") == 0);
  // Reads still work: a deposed leader can serve as a standby.
  CHECK(store.audit(std::nullopt, 10, std::nullopt).has_value());
}

TEST_CASE("keepalives are added to every form of database URL") {
  CHECK(adapters::with_keepalives("") ==
        "keepalives=1 keepalives_idle=2 keepalives_interval=1 keepalives_count=3 tcp_user_timeout=5000");
  CHECK(adapters::with_keepalives("dbname=x") ==
        "dbname=x keepalives=1 keepalives_idle=2 keepalives_interval=1 keepalives_count=3 tcp_user_timeout=5000");
  CHECK(adapters::with_keepalives("postgresql://u@h/db") ==
        "postgresql://u@h/db?keepalives=1&keepalives_idle=2&keepalives_interval=1&keepalives_count=3&"
        "tcp_user_timeout=5000");
  CHECK(adapters::with_keepalives("postgres://h/db?sslmode=require") ==
        "postgres://h/db?sslmode=require&keepalives=1&keepalives_idle=2&keepalives_interval=1&keepalives_count=3&"
        "tcp_user_timeout=5000");
}
