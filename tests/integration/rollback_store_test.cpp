// PgStore's rollbacks and pins against a real PostgreSQL: the production history a rollback request is decided on
// (migrations named from each promotion's migrate step, a running promotion first), the open rollback and the pin
// loading back after a restart, and the links between a promotion and the rollback that followed it.
#include <utility>

#include <doctest/doctest.h>

#include "adapters/pg_store.hpp"
#include "core/decide.hpp"
#include "core/rollback.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace std::chrono_literals;

namespace {

core::Sha sha_of(char c) { return *core::Sha::parse(std::string(40, c)); }

core::Policy policy() {
  core::Policy p;
  p.soak = 10min;
  p.allow_short_soak = true;
  p.services = {"worker", "api", "www"};
  return p;
}

const core::Timestamp t0 = core::Timestamp{std::chrono::sys_days{std::chrono::year{2026} / 12 / 2}} + 9h;

struct Fixture {
  std::string url = testing::fresh_database("promoter_rollback_store");
  adapters::PgStore store{url};
  core::PromotionPlan plan = core::make_plan(policy());

  Fixture() { REQUIRE(store.migrate().has_value()); }

  void commit(const core::Decision& d, core::Timestamp at, ports::OpenedPromotions* opened = nullptr) {
    auto r = store.commit(d, plan, "production", at);
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
    if (opened) *opened = *r;
  }

  // A release seen, then promoted by a promotion whose migrate step said `migrate_output`; `finish`: it ends and
  // becomes production.
  ports::PromotionId promote(const core::Sha& sha, std::int64_t seq, const std::string& migrate_output, bool finish,
                             core::Timestamp at) {
    core::Decision seen;
    seen.facts.emplace_back(core::ReleaseStateChanged{
        sha, true, seq, "alice", {}, at, at, at, 0, std::nullopt, core::ReleaseState::promoting, "promotion running"});
    seen.facts.emplace_back(core::PromotionOpened{sha});
    ports::OpenedPromotions opened;
    commit(seen, at, &opened);
    const ports::PromotionId id = opened.at(sha.str());
    for (int i = 0; i < 2; ++i) {  // preflight, migrate
      REQUIRE(store.journal_step(id, i, core::StepState::started, "", at));
      REQUIRE(store.journal_step(id, i, core::StepState::succeeded, i == 1 ? migrate_output : "ok", at + 1s));
    }
    if (finish) {
      core::Decision end;
      end.facts.emplace_back(core::PromotionEnded{sha, id, core::PromotionOutcome::succeeded, ""});
      end.facts.emplace_back(core::ProductionSet{sha, id});
      commit(end, at + 1min);
    }
    return id;
  }
};

}  // namespace

TEST_CASE("the production history names each promotion's migrations, newest first, a running promotion first") {
  Fixture f;
  const auto a = sha_of('a'), b = sha_of('b'), c = sha_of('c');
  f.promote(a, 1, "applied 001_widgets.sql\napplied 002_gizmos.sql\ndb:migrate: 2 migration(s) applied\n", true, t0);
  f.promote(b, 2, "db:migrate: nothing to apply", true, t0 + 1h);
  auto h = f.store.production_history("production");
  REQUIRE(h.has_value());
  REQUIRE(h->entries.size() == 2);
  CHECK(h->entries[0].sha == b);
  CHECK(h->entries[0].migrations.empty());
  CHECK(h->entries[1].sha == a);
  CHECK(h->entries[1].migrations == std::vector<std::string>{"001_widgets.sql", "002_gizmos.sql"});
  CHECK(h->schema_state == "db:migrate: nothing to apply");
  // Rolling back to a from b needs no schema acceptance; nothing ran since a.
  auto target = core::choose_rollback_target(h->entries, std::nullopt);
  REQUIRE(target.has_value());
  CHECK(target->sha == a);
  CHECK(target->migrations_since.empty());

  // d fails after its migrate step: it is no target, but its migration stays applied and counts with b, the
  // production it ran under.
  const auto d = sha_of('d');
  const ports::PromotionId failed =
      f.promote(d, 4, "applied 004_fail.sql\ndb:migrate: 1 migration(s) applied", false, t0 + 90min);
  core::Decision ended;
  ended.facts.emplace_back(core::PromotionEnded{d, failed, core::PromotionOutcome::failed, "deploy:api failed"});
  f.commit(ended, t0 + 100min);
  h = f.store.production_history("production");
  REQUIRE(h.has_value());
  REQUIRE(h->entries.size() == 2);
  CHECK(h->entries[0].sha == b);
  CHECK(h->entries[0].migrations == std::vector<std::string>{"004_fail.sql"});
  target = core::choose_rollback_target(h->entries, std::nullopt);
  REQUIRE(target.has_value());
  CHECK(target->migrations_since == std::vector<std::string>{"004_fail.sql"});

  f.promote(c, 3, "applied 003_quota.sql\ndb:migrate: 1 migration(s) applied", false, t0 + 2h);
  h = f.store.production_history("production");
  REQUIRE(h.has_value());
  REQUIRE(h->entries.size() == 3);
  CHECK(h->entries[0].sha == c);  // still running: it may have changed production in part
  // d's migration ran after b was production, as c's did: both count with c, the entry newer than d.
  CHECK(h->entries[0].migrations == std::vector<std::string>{"003_quota.sql", "004_fail.sql"});
  CHECK(h->entries[1].migrations.empty());
  CHECK(h->schema_state == "db:migrate: 1 migration(s) applied");
  // The rollback goes to what ran before c (b), and c's and d's migrations stay applied.
  target = core::choose_rollback_target(h->entries, std::nullopt);
  REQUIRE(target.has_value());
  CHECK(target->sha == b);
  CHECK(target->migrations_since == std::vector<std::string>{"003_quota.sql", "004_fail.sql"});
  // Back to a: everything since a, d's failed promotion included.
  target = core::choose_rollback_target(h->entries, a);
  REQUIRE(target.has_value());
  CHECK(target->migrations_since == std::vector<std::string>{"003_quota.sql", "004_fail.sql"});
  CHECK_FALSE(core::check_rollback_schema(*target, false).has_value());
}

TEST_CASE("an open rollback and the pin load back; the failed promotion and its rollback link both ways") {
  Fixture f;
  const auto a = sha_of('a'), b = sha_of('b');
  f.promote(a, 1, "db:migrate: nothing to apply", true, t0);
  const ports::PromotionId failed = f.promote(b, 2, "db:migrate: nothing to apply", false, t0 + 1h);
  core::Decision ended;
  ended.facts.emplace_back(core::PromotionEnded{b, failed, core::PromotionOutcome::failed, "verify failed"});
  core::Rollback rb{a, "promoterd", "verify of b failed", core::RollbackTrigger::verify_failure, t0 + 2h, failed};
  rb.migrations_since = {"none"};
  rb.schema_state = "db:migrate: nothing to apply";
  ended.facts.emplace_back(core::RollbackOpened{rb});
  ended.facts.emplace_back(core::RollbackStarted{a, core::make_rollback_plan(policy())});
  ports::OpenedPromotions opened;
  f.commit(ended, t0 + 2h, &opened);
  REQUIRE(opened.contains(a.str()));
  const ports::PromotionId rollback_id = opened.at(a.str());

  // A restart finds the rollback it owes, with its promotion.
  auto world = f.store.load(policy(), "production");
  REQUIRE(world.has_value());
  REQUIRE(world->rollback.has_value());
  CHECK(world->rollback->target == a);
  CHECK(world->rollback->promotion_id == rollback_id);
  CHECK(world->rollback->after == failed);
  CHECK(world->rollback->trigger == core::RollbackTrigger::verify_failure);
  CHECK(world->rollback->migrations_since == std::vector<std::string>{"none"});
  CHECK_FALSE(world->pin.has_value());

  auto row = f.store.promotion(rollback_id);
  REQUIRE(row.has_value());
  REQUIRE(row->has_value());
  REQUIRE((*row)->rollback.has_value());
  CHECK((*row)->rollback->after == failed);
  CHECK((*row)->rollback->trigger == "verify_failure");
  CHECK((*row)->hotfix == false);
  std::vector<std::string> names;
  for (const auto& s : (*row)->steps) names.push_back(s.step.name());
  CHECK(names ==
        std::vector<std::string>{"preflight", "deploy:www", "deploy:api", "deploy:worker", "verify", "record"});
  auto original = f.store.promotion(failed);
  REQUIRE(original.has_value());
  REQUIRE(original->has_value());
  CHECK((*original)->rolled_back_by == rollback_id);
  CHECK_FALSE((*original)->rollback.has_value());

  // The rollback ends: production moves, the pin holds, the rollback is no longer owed.
  core::Decision done;
  done.facts.emplace_back(core::PromotionEnded{a, rollback_id, core::PromotionOutcome::succeeded, ""});
  done.facts.emplace_back(core::RollbackEnded{core::PromotionOutcome::succeeded});
  done.facts.emplace_back(core::ProductionSet{a, rollback_id});
  const core::Pin pin{"promoterd", t0 + 3h, "rolled back to a"};
  done.facts.emplace_back(core::PinChanged{pin, pin.by, pin.reason, pin.at});
  f.commit(done, t0 + 3h);
  world = f.store.load(policy(), "production");
  REQUIRE(world.has_value());
  CHECK_FALSE(world->rollback.has_value());
  CHECK(world->pin == pin);
  CHECK(world->production == a);
  auto read_pin = f.store.pin("production");
  REQUIRE(read_pin.has_value());
  CHECK(*read_pin == pin);

  // Resume: the newest row lifts it.
  core::Decision resumed;
  resumed.facts.emplace_back(core::PinChanged{std::nullopt, "carol", "fixed", t0 + 4h});
  f.commit(resumed, t0 + 4h);
  world = f.store.load(policy(), "production");
  REQUIRE(world.has_value());
  CHECK_FALSE(world->pin.has_value());
  // The history shows the rollback as the newest production entry.
  auto h = f.store.production_history("production");
  REQUIRE(h.has_value());
  REQUIRE(h->entries.size() == 2);
  CHECK(h->entries[0].sha == a);
  CHECK(h->entries[0].promotion_id == rollback_id);
}
