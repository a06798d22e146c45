// PgStore against a real PostgreSQL (pg_virtualenv): schema migrations, decisions, journal, locks.
#include <utility>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <pqxx/pqxx>
#include <thread>

#include "adapters/pg_pool.hpp"
#include "adapters/pg_store.hpp"
#include "adapters/schema_migrations.hpp"
#include "core/decide.hpp"
#include "daemon/http/api.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace std::chrono_literals;

namespace {

const core::Sha sha_a = *core::Sha::parse("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");

core::Policy policy() {
  core::Policy p;
  p.soak = 10min;
  p.allow_short_soak = true;
  p.required_smoke_suites = {"e2e"};
  p.services = {"worker", "api", "www"};
  return p;
}

// Decides one event on `world`, commits it, applies it: what the release service does.
std::vector<ports::PromotionId> step(adapters::PgStore& store, core::World& world, const core::Event& e,
                                     core::Timestamp now) {
  auto d = core::decide(world, e, now);
  REQUIRE_MESSAGE(d.has_value(), (d ? "" : d.error().message));
  auto opened = store.commit(*d, core::make_plan(world.policy), "production", now);
  REQUIRE_MESSAGE(opened.has_value(), (opened ? "" : opened.error().message));
  ports::number_opened_promotions(d->changed, *opened);
  std::vector<ports::PromotionId> ids;
  for (const auto& [sha, id] : *opened) ids.push_back(id);
  core::apply(world, *d);
  return ids;
}

int count(const std::string& conninfo, const std::string& sql) {
  pqxx::connection c(conninfo);
  pqxx::nontransaction n(c);
  return n.exec1(sql)[0].as<int>();
}

}  // namespace

TEST_CASE("schema migrations apply once and are recorded, however often they run") {
  const auto url = testing::fresh_database("promoter_store_idempotent");
  adapters::PgStore store(url);
  REQUIRE(store.migrate().has_value());
  REQUIRE(store.migrate().has_value());
  CHECK(count(url, "SELECT count(*) FROM schema_migrations") == static_cast<int>(adapters::schema_migrations().size()));
  CHECK(count(url, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'releases'") == 1);
}

TEST_CASE("schema migrations are safe from several processes at once") {
  const auto url = testing::fresh_database("promoter_store_concurrent");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 6; ++i)
    threads.emplace_back([&] {
      adapters::PgStore store(url);
      if (!store.migrate()) ++failures;
    });
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(count(url, "SELECT count(*) FROM schema_migrations") == static_cast<int>(adapters::schema_migrations().size()));
}

TEST_CASE("a committed release with its gate facts loads back the same") {
  const auto url = testing::fresh_database("promoter_store_roundtrip");
  adapters::PgStore store(url);
  REQUIRE(store.migrate());
  core::World world;
  world.policy = policy();
  const core::Timestamp t0{std::chrono::sys_days{std::chrono::year{2026} / 11 / 25}};
  for (const char* service : {"worker", "api", "www"})
    step(store, world,
         core::StagingDeploymentObserved{sha_a, service, std::string("d-") + service, core::DeployStatus::success,
                                         "alice", t0, "ci"},
         t0);
  step(store, world, core::SmokeResultReported{sha_a, "e2e", true, "ci", "green"}, t0 + 1min);
  step(store, world, core::ApprovalGiven{sha_a, "bob", {"bob-gh"}, "lgtm"}, t0 + 2min);

  auto loaded = store.load(policy(), "production");
  REQUIRE(loaded.has_value());
  const core::Release* r = loaded->find(sha_a);
  REQUIRE(r != nullptr);
  const core::Release& want = *world.find(sha_a);
  CHECK(r->state == want.state);
  CHECK(r->state == core::ReleaseState::soaking);
  CHECK(r->author == "alice");
  CHECK(r->soak_started_at == want.soak_started_at);
  CHECK(r->live_at == t0);
  REQUIRE(r->deployments.size() == 3);
  CHECK(r->deployments.at("api").deployment_id == "d-api");
  CHECK(r->deployments.at("api").status == core::DeployStatus::success);
  CHECK(r->deployments.at("api").created_at == t0);
  REQUIRE(r->smoke.count("e2e") == 1);
  CHECK(r->smoke.at("e2e").passed);
  CHECK(r->smoke.at("e2e").details == "green");
  REQUIRE(r->approvals.size() == 1);
  CHECK(r->approvals[0].by == "bob");
  CHECK(r->approvals[0].reason == "lgtm");
  CHECK(loaded->next_seq == world.next_seq);
  CHECK(loaded->active.count(sha_a.str()) == 1);

  auto audit = store.audit(sha_a.str(), 100, std::nullopt);
  REQUIRE(audit.has_value());
  bool approved = false;
  for (const auto& e : *audit) approved = approved || (e.action == "release.approved" && e.actor == "bob");
  CHECK(approved);
}

TEST_CASE("the store writes a decision's facts and nothing else; opened promotions come back by SHA") {
  const auto url = testing::fresh_database("promoter_store_facts");
  adapters::PgStore store(url);
  REQUIRE(store.migrate());
  const core::Timestamp t0{std::chrono::sys_days{std::chrono::year{2026} / 11 / 25}};
  const core::Sha sha_b = *core::Sha::parse("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  const auto plan = core::make_plan(policy());

  // A release the decision changed but stated no fact about is not written: the store does not diff releases.
  core::Decision silent;
  silent.changed.emplace_back(sha_a);
  REQUIRE(store.commit(silent, plan, "production", t0));
  CHECK(count(url, "SELECT count(*) FROM releases") == 0);

  core::Decision d;
  for (const core::Sha& sha : {sha_a, sha_b}) {
    core::ReleaseStateChanged row{sha,
                                  true,
                                  sha == sha_a ? 1 : 2,
                                  "alice",
                                  {},
                                  t0,
                                  t0,
                                  t0,
                                  0,
                                  std::nullopt,
                                  core::ReleaseState::promoting,
                                  "promotion to production running"};
    d.facts.emplace_back(row);
    d.facts.emplace_back(
        core::DeploymentObserved{sha, core::StagingDeployment{"api", "dep-" + std::string(sha.abbrev()),
                                                              core::DeployStatus::success, t0, std::nullopt}});
  }
  // Only b is promoted: the id must come back under b's SHA, whatever the order of the facts.
  d.facts.emplace_back(core::PromotionOpened{sha_b});
  auto opened = store.commit(d, plan, "production", t0);
  REQUIRE(opened.has_value());
  REQUIRE(opened->size() == 1);
  REQUIRE(opened->contains(sha_b.str()));
  const ports::PromotionId id = opened->at(sha_b.str());
  CHECK(count(url, fmt::format("SELECT count(*) FROM promotions WHERE id = {} AND sha = '{}'", id, sha_b.str())) == 1);
  CHECK(count(url, fmt::format("SELECT count(*) FROM promotion_steps WHERE promotion_id = {}", id)) ==
        static_cast<int>(plan.steps.size()));
  CHECK(count(url, "SELECT count(*) FROM staging_deployments") == 2);

  // The promotion ends with an outcome; production is set by its own fact.
  core::Decision end;
  end.facts.emplace_back(core::ReleaseStateChanged{sha_b,
                                                   false,
                                                   2,
                                                   "alice",
                                                   {},
                                                   t0,
                                                   t0,
                                                   t0,
                                                   0,
                                                   std::nullopt,
                                                   core::ReleaseState::promotion_aborted,
                                                   "promotion aborted by carol"});
  end.facts.emplace_back(core::PromotionEnded{sha_b, id, core::PromotionOutcome::aborted, "aborted by carol"});
  REQUIRE(store.commit(end, plan, "production", t0 + 1min));
  auto promotion = store.promotion(id);
  REQUIRE(promotion.has_value());
  REQUIRE(promotion->has_value());
  CHECK((*promotion)->state == ports::PromotionState::aborted);
  CHECK((*promotion)->error == "aborted by carol");
  CHECK(count(url, "SELECT count(*) FROM production_releases") == 0);
  auto b = store.release(sha_b);
  REQUIRE(b.has_value());
  REQUIRE(b->has_value());
  CHECK((*b)->state == core::ReleaseState::promotion_aborted);
  CHECK((*b)->promotion_id == id);

  core::Decision promoted;
  promoted.facts.emplace_back(core::ProductionSet{sha_a, std::nullopt});
  REQUIRE(store.commit(promoted, plan, "production", t0 + 2min));
  auto production = store.production("production");
  REQUIRE(production.has_value());
  REQUIRE(production->has_value());
  CHECK((*production)->sha == sha_a.str());
}

TEST_CASE("the World holds the releases at work and production; history is read a page at a time") {
  const auto url = testing::fresh_database("promoter_store_history");
  adapters::PgStore store(url);
  REQUIRE(store.migrate());
  core::World world;
  world.policy = policy();
  const core::Timestamp t0{std::chrono::sys_days{std::chrono::year{2026} / 11 / 25}};
  const core::Sha sha_b = *core::Sha::parse("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  const core::Sha sha_c = *core::Sha::parse("cccccccccccccccccccccccccccccccccccccccc");
  // a goes live, then b goes live and supersedes it; c is still building.
  for (const auto& sha : {sha_a, sha_b})
    for (const char* service : {"worker", "api", "www"})
      step(store, world,
           core::StagingDeploymentObserved{sha, service, std::string(sha.abbrev()) + service,
                                           core::DeployStatus::success, "alice", t0, "ci"},
           t0);
  step(store, world,
       core::StagingDeploymentObserved{sha_c, "api", "c-api", core::DeployStatus::building, "alice", t0, "ci"}, t0);
  REQUIRE(world.find(sha_a)->state == core::ReleaseState::superseded);

  auto loaded = store.load(policy(), "production");
  REQUIRE(loaded.has_value());
  CHECK(loaded->find(sha_a) == nullptr);
  REQUIRE(loaded->find(sha_b) != nullptr);
  REQUIRE(loaded->find(sha_c) != nullptr);
  CHECK(loaded->releases.size() == 2);
  CHECK(loaded->next_seq == 4);

  auto a = store.release(sha_a);
  REQUIRE(a.has_value());
  REQUIRE(a->has_value());
  CHECK((*a)->state == core::ReleaseState::superseded);
  CHECK((*a)->deployments.size() == 3);
  auto unknown = store.release(*core::Sha::parse("dddddddddddddddddddddddddddddddddddddddd"));
  REQUIRE(unknown.has_value());
  CHECK_FALSE(unknown->has_value());

  auto first = store.releases(std::nullopt, std::nullopt, 2);
  REQUIRE(first.has_value());
  REQUIRE(first->size() == 2);
  CHECK((*first)[0].sha == sha_c);
  CHECK((*first)[1].sha == sha_b);
  CHECK((*first)[1].deployments.size() == 3);
  auto second = store.releases(std::nullopt, (*first)[1].seq, 2);
  REQUIRE(second.has_value());
  REQUIRE(second->size() == 1);
  CHECK((*second)[0].sha == sha_a);
  auto superseded = store.releases(core::ReleaseState::superseded, std::nullopt, 10);
  REQUIRE(superseded.has_value());
  REQUIRE(superseded->size() == 1);
  CHECK((*superseded)[0].sha == sha_a);

  auto counts = store.release_counts();
  REQUIRE(counts.has_value());
  CHECK(*counts == std::map<std::string, int>{{"deploying", 1}, {"soaking", 1}, {"superseded", 1}});

  // Keyset paging of the audit log: the second page starts below the first page's last id.
  auto page1 = store.audit(std::nullopt, 3, std::nullopt);
  REQUIRE(page1.has_value());
  REQUIRE(page1->size() == 3);
  auto page2 = store.audit(std::nullopt, 3, page1->back().id);
  REQUIRE(page2.has_value());
  REQUIRE_FALSE(page2->empty());
  CHECK(page2->front().id < page1->back().id);
}

TEST_CASE("the audit log cannot be edited or deleted through SQL") {
  const auto url = testing::fresh_database("promoter_store_audit");
  adapters::PgStore store(url);
  REQUIRE(store.migrate());
  REQUIRE(store.append_audit(core::AuditNote{"alice", "test.note", std::nullopt, "kept"}, core::Timestamp{}));
  pqxx::connection c(url);
  {
    pqxx::work w(c);
    CHECK_THROWS_AS(w.exec("UPDATE audit_log SET detail = 'changed'"), pqxx::sql_error);
  }
  {
    pqxx::work w(c);
    CHECK_THROWS_AS(w.exec("DELETE FROM audit_log"), pqxx::sql_error);
  }
  CHECK(count(url, "SELECT count(*) FROM audit_log WHERE detail = 'kept'") == 1);
}

TEST_CASE("the database refuses a second running promotion in one environment") {
  const auto url = testing::fresh_database("promoter_store_one_running");
  adapters::PgStore store(url);
  REQUIRE(store.migrate());
  pqxx::connection c(url);
  pqxx::work w(c);
  w.exec(
      "INSERT INTO releases (sha, seq, first_seen_at, state) VALUES (repeat('a', 40), 1, now(), 'promoting'), "
      "(repeat('b', 40), 2, now(), 'promoting')");
  w.exec(
      "INSERT INTO promotions (sha, environment, state, created_at) VALUES (repeat('a', 40), 'production', "
      "'running', now())");
  CHECK_THROWS_AS(w.exec("INSERT INTO promotions (sha, environment, state, created_at) VALUES (repeat('b', 40), "
                         "'production', 'running', now())"),
                  pqxx::unique_violation);
}

TEST_CASE("an environment lease excludes every other holder until it is released") {
  const auto url = testing::fresh_database("promoter_store_lease");
  adapters::PgStore one(url), two(url);
  REQUIRE(one.migrate());
  auto first = one.lease_environment("production");
  REQUIRE(first.has_value());
  auto second = two.lease_environment("production");
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code == core::ErrorCode::conflict);
  CHECK(two.lease_environment("staging-2").has_value());  // other environments are independent
  first->reset();
  CHECK(two.lease_environment("production").has_value());
}

TEST_CASE("the journal refuses a step transition that skips or repeats a state") {
  const auto url = testing::fresh_database("promoter_store_journal");
  adapters::PgStore store(url);
  REQUIRE(store.migrate());
  core::World world;
  world.policy = policy();
  world.policy.soak = 0ms;
  world.policy.require_smoke = false;
  const core::Timestamp t0{};
  for (const char* service : {"worker", "api", "www"})
    step(store, world,
         core::StagingDeploymentObserved{sha_a, service, std::string("d-") + service, core::DeployStatus::success,
                                         "alice", std::nullopt, "ci"},
         t0);
  auto ids = step(store, world, core::ApprovalGiven{sha_a, "bob", {}, ""}, t0);
  REQUIRE(ids.size() == 1);
  const auto id = ids[0];
  auto bad = store.journal_step(id, 0, core::StepState::succeeded, "", t0);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == core::ErrorCode::conflict);
  REQUIRE(store.journal_step(id, 0, core::StepState::started, "", t0));
  REQUIRE(store.journal_step(id, 0, core::StepState::succeeded, "ok", t0 + 5ms));
  CHECK_FALSE(store.journal_step(id, 0, core::StepState::started, "", t0).has_value());
  auto p = store.promotion(id);
  REQUIRE(p.has_value());
  REQUIRE(p->has_value());
  CHECK((*p)->steps[0].state == core::StepState::succeeded);
  CHECK((*p)->steps[0].attempts == 1);
  CHECK((*p)->steps[0].detail == "ok");
  CHECK((*p)->steps[1].step.kind == core::StepKind::migrate);
  CHECK((*p)->steps[2].step.name() == "deploy:worker");
}

TEST_CASE("a unique violation answers 409 with a sentence for people; the constraint name only reaches the log") {
  const auto url = testing::fresh_database("promoter_store_unique_words");
  adapters::PgStore store(url);
  REQUIRE(store.migrate());
  {
    // Another writer took sequence number 1, which this world hands out next.
    pqxx::connection c(url);
    pqxx::work w(c);
    w.exec("INSERT INTO releases (sha, seq, first_seen_at, state) VALUES (repeat('b', 40), 1, now(), 'deploying')");
    w.commit();
  }
  core::World world;
  world.policy = policy();
  const auto now = core::Timestamp{std::chrono::sys_days{std::chrono::year{2026} / 11 / 25}};
  auto d = core::decide(world,
                        core::StagingDeploymentObserved{sha_a, "api", "dep-1", core::DeployStatus::building, "alice",
                                                        std::nullopt, "railway"},
                        now);
  REQUIRE(d.has_value());
  auto r = store.commit(*d, core::make_plan(world.policy), "production", now);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == core::ErrorCode::conflict);
  CHECK(r.error().message ==
        "recording a decision conflicts with what another request recorded at the same time; read the current state "
        "and retry if it still applies");
  CHECK(r.error().detail.find("releases_seq_key") != std::string::npos);
  const daemon::HttpResponse answer = daemon::error_response(r.error());
  CHECK(answer.status == 409);
  const auto body = nlohmann::json::parse(answer.body);
  CHECK(body["error"]["code"] == "conflict");
  CHECK(body["error"]["message"] == r.error().message);
  CHECK(answer.body.find("releases_seq_key") == std::string::npos);
  CHECK(answer.body.find("duplicate key") == std::string::npos);
}

TEST_CASE("an unreachable database answers 503 with a sentence for people; libpq's text only reaches the log") {
  // Port 1 on the loopback: nothing listens, so libpq fails at once with its own words.
  adapters::PgStore store("host=127.0.0.1 port=1 dbname=nothing connect_timeout=5");
  auto r = store.ping();
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == core::ErrorCode::unavailable);
  CHECK(r.error().message == "the database is unreachable (checking the database); retry later");
  CHECK(r.error().detail.find("127.0.0.1") != std::string::npos);
  const daemon::HttpResponse answer = daemon::error_response(r.error());
  CHECK(answer.status == 503);
  CHECK(nlohmann::json::parse(answer.body)["error"]["code"] == "unavailable");
  CHECK(answer.body.find("127.0.0.1") == std::string::npos);
  CHECK(answer.body.find("connection") == std::string::npos);
}

TEST_CASE("connection errors never carry the connection string's password") {
  CHECK(adapters::redact_connection_string("bad URI: \"postgres://u:S3cret@[::1\"", "postgres://u:S3cret@[::1") ==
        "bad URI: \"postgres://u:***@[::1\"");
  CHECK(adapters::redact_connection_string("password S3%25cret and S3%cret", "postgresql://me:S3%25cret@db/x") ==
        "password *** and ***");
  CHECK(adapters::redact_connection_string("conninfo: host=db password=hunter22 user=me",
                                           "host=db password=hunter22 user=me") ==
        "conninfo: host=db password=*** user=me");
  CHECK(adapters::redact_connection_string("x 'sp ace' y", "host=db password='sp ace'") == "x '***' y");
  CHECK(adapters::redact_connection_string("nothing secret", "dbname=promoter") == "nothing secret");
  adapters::PgPool pool("postgres://u:S3cretPassw0rd@[::1", 1);
  try {
    pool.connect_dedicated();
    FAIL("a malformed connection string connected");
  } catch (const std::exception& e) {
    const std::string what = e.what();
    CHECK(what.find("S3cretPassw0rd") == std::string::npos);
    CHECK(what.find("the database connection string is malformed") != std::string::npos);
    CHECK(what.find("postgres://u:***@[::1") != std::string::npos);
  }
}
